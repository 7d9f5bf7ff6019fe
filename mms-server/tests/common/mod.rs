//! Harness for the real-peer tests: a server on a loopback port in a
//! thread, a client process with a hard time limit, payload comparison.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
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

pub type Payload = (u8, bool, u32, u32, Vec<u8>);

/// Every payload of an ASF file, in order.
pub fn payloads(file: &[u8]) -> Vec<Payload> {
    let mut r = AsfReader::default();
    let (mut off, mut out) = (0, Vec::new());
    while let Ok(Status::Complete(u)) = r.next(&file[off..]) {
        match u {
            AsfUnit::Header { len, .. } => off += len,
            AsfUnit::Packet { len, start, .. } => {
                let p = &file[off + start..off + len];
                let info = PacketInfo::parse(p)
                    .unwrap_or_else(|e| panic!("a packet the client wrote does not parse: {e}"));
                for pl in info.payloads(p) {
                    match pl {
                        Ok(pl) => out.push((
                            pl.stream,
                            pl.key_frame,
                            pl.media_object_number,
                            pl.offset,
                            pl.data.to_vec(),
                        )),
                        // After the declared payloads: filler a client wrote when
                        // re-padding (MPlayer reuses its buffer, so it is not
                        // zeros). Demuxers read by count; so does this.
                        Err(mms_proto::wire::Error::InvalidField {
                            reason: "payloads do not end where the padding starts",
                            ..
                        }) => {}
                        Err(e) => panic!("a payload the client wrote does not parse: {e}"),
                    }
                }
                off += len;
            }
            AsfUnit::End => break,
        }
    }
    out
}

/// Asserts that `got` holds exactly the payloads of `want`.
pub fn assert_same_payloads(want: &[u8], got: &[u8]) {
    let (want, got) = (payloads(want), payloads(got));
    assert!(want.len() > 100);
    assert_eq!(got.len(), want.len(), "payload count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "payload {i} differs");
    }
}

/// Runs a client; false when it fails or outlives `limit` (then killed).
/// Returns what it printed on stderr (truncated).
pub fn run_with_timeout(cmd: &mut Command, limit: Duration, tool: &str) -> (bool, String) {
    let log = std::env::temp_dir().join(format!("mms-peer-{tool}-{}.log", std::process::id()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} is needed for this test ({e}): run `cargo xtask deps`"));
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

/// A folder with a 20 s WMV (`long.wmv`): FFmpeg's stream probing reads
/// ~5 s, so a 3 s file would be over before it starts copying.
pub fn media_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("served");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("long.wmv");
    if !file.exists() {
        let tmp = dir.join(format!("long.{}.tmp", std::process::id()));
        let (ok, log) = run_with_timeout(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y"])
                .args([
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc=size=160x120:rate=15:duration=20",
                ])
                .args([
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:duration=20:sample_rate=22050",
                ])
                .args([
                    "-c:v", "wmv2", "-b:v", "200k", "-g", "15", "-c:a", "wmav2", "-b:a", "32k",
                ])
                .args(["-fflags", "+bitexact", "-f", "asf"])
                .arg(&tmp),
            Duration::from_secs(60),
            "ffmpeg",
        );
        assert!(ok, "making the test file failed: {log}");
        // Tests run in parallel: publish the file whole.
        std::fs::rename(&tmp, &file).unwrap();
    }
    dir
}

/// A server on 127.0.0.1 (port chosen by the OS) serving `dir`; stops when
/// dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

pub fn serve(dir: &Path, config: Config) -> Running {
    let root = ContentRoot::new(dir).unwrap();
    let mut server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        root,
        Options { session: config },
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || server.run(|| flag.load(Ordering::Relaxed)));
    Running {
        addr,
        stop,
        thread: Some(thread),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let r = t.join().expect("server thread");
            if !std::thread::panicking() {
                r.expect("server loop");
            }
        }
    }
}

/// The 20 s media folder served unpaced (the real-peer tests compare data,
/// not timing).
pub fn serve_media_unpaced() -> (PathBuf, Running) {
    let dir = media_dir();
    let server = serve(
        &dir,
        Config {
            paced: false,
            ..Config::default()
        },
    );
    (dir, server)
}

/// A path under the test scratch folder, with no file left from a
/// previous run.
pub fn fresh_path(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// FFmpeg pulls `long.wmv` from `addr` with `-c copy` into `out`.
pub fn ffmpeg_pull(addr: SocketAddr, out: &Path) -> (bool, String) {
    run_with_timeout(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-y", "-i"])
            .arg(format!("mmst://{addr}/long.wmv"))
            .args(["-c", "copy", "-f", "asf"])
            .arg(out),
        Duration::from_secs(60),
        "ffmpeg",
    )
}
