//! Real peer: FFmpeg (Debian's package) pulls a file from mms-server over
//! `mmst://`; what it writes must hold the source's payloads byte for byte.
//! A missing ffmpeg fails with the hint `cargo xtask deps`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mms_proto::asf::{AsfReader, AsfUnit, PacketInfo};
use mms_proto::server::Config;
use mms_proto::wire::Status;
use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

type Payload = (u8, bool, u32, u32, Vec<u8>);

/// Every payload of an ASF file, in order.
fn payloads(file: &[u8]) -> Vec<Payload> {
    let mut r = AsfReader::default();
    let (mut off, mut out) = (0, Vec::new());
    while let Ok(Status::Complete(u)) = r.next(&file[off..]) {
        match u {
            AsfUnit::Header { len, .. } => off += len,
            AsfUnit::Packet { len, start, .. } => {
                let p = &file[off + start..off + len];
                let info = PacketInfo::parse(p).unwrap();
                for pl in info.payloads(p) {
                    let pl = pl.unwrap();
                    out.push((
                        pl.stream,
                        pl.key_frame,
                        pl.media_object_number,
                        pl.offset,
                        pl.data.to_vec(),
                    ));
                }
                off += len;
            }
            AsfUnit::End => break,
        }
    }
    out
}

fn run_with_timeout(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let log = std::env::temp_dir().join(format!("mms-ffmpeg-{}.log", std::process::id()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("ffmpeg is needed for this test ({e}): run `cargo xtask deps`"));
    let start = Instant::now();
    let ok = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    text.truncate(4000);
    (ok, text)
}

fn media_dir() -> PathBuf {
    // A 20 s file: FFmpeg's stream probing reads ~5 s, so a 3 s file would
    // be over before it starts copying (and FFmpeg then retries forever).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("served");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("long.wmv");
    if !file.exists() {
        let (ok, log) = run_with_timeout(
            Command::new("ffmpeg")
                .args([
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=160x120:rate=15:duration=20",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:duration=20:sample_rate=22050",
                    "-c:v",
                    "wmv2",
                    "-b:v",
                    "200k",
                    "-g",
                    "15",
                    "-c:a",
                    "wmav2",
                    "-b:a",
                    "32k",
                    "-fflags",
                    "+bitexact",
                    "-f",
                    "asf",
                ])
                .arg(&file),
            Duration::from_secs(60),
        );
        assert!(ok, "making the test file failed: {log}");
    }
    dir
}

#[test]
fn ffmpeg_pulls_a_file_over_mmst_byte_for_byte() {
    let dir = media_dir();
    let root = ContentRoot::new(&dir).unwrap();
    let options = Options {
        session: Config {
            paced: false,
            ..Config::default()
        },
    };
    let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::spawn(move || server.run(|| stop2.load(Ordering::Relaxed)));

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ffmpeg-out.asf");
    let _ = std::fs::remove_file(&out);
    let (ok, log) = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-y", "-i"])
            .arg(format!("mmst://{addr}/long.wmv"))
            .args(["-c", "copy", "-f", "asf"])
            .arg(&out),
        Duration::from_secs(60),
    );
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap().unwrap();
    assert!(ok, "ffmpeg did not finish cleanly:\n{log}");
    assert!(log.trim().is_empty(), "ffmpeg printed errors:\n{log}");
    let want = payloads(&std::fs::read(dir.join("long.wmv")).unwrap());
    let got = payloads(&std::fs::read(&out).unwrap());
    assert!(want.len() > 100);
    assert_eq!(got.len(), want.len(), "payload count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "payload {i} differs");
    }
}
