//! Harness for the real-peer tests: a server on a loopback port in a
//! thread, a client process with a hard time limit, payload comparison.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod auth;
pub mod client;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mms_proto::asf::{AsfReader, AsfUnit, HeaderSummary, PacketInfo, StreamSet};
use mms_proto::server::Config;
use mms_proto::wire::Status;
use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

pub type Payload = (u8, bool, u32, u32, Vec<u8>);

/// The ASF file header and every data packet of an ASF file (plain or
/// MMSH-chunked).
pub fn packets(file: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let mut r = AsfReader::default();
    let (mut off, mut header, mut out) = (0, &file[..0], Vec::new());
    while let Ok(Status::Complete(u)) = r.next(&file[off..]) {
        match u {
            AsfUnit::Header { len, start, .. } => {
                header = &file[off + start..off + len];
                off += len;
            }
            AsfUnit::Packet { len, start, .. } => {
                out.push(&file[off + start..off + len]);
                off += len;
            }
            AsfUnit::End => break,
        }
    }
    (header, out)
}

/// Every payload of some packets, in order.
pub fn packet_payloads(packets: &[&[u8]]) -> Vec<Payload> {
    let mut out = Vec::new();
    for p in packets {
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
    }
    out
}

/// Every payload of an ASF file, in order.
pub fn payloads(file: &[u8]) -> Vec<Payload> {
    packet_payloads(&packets(file).1)
}

/// Asserts that `got` holds exactly the payloads of `want`: all of them,
/// or, where the file has streams a client may choose between (two audio
/// languages in `ff_lang.wmv`, Group Mutual Exclusion), all payloads of the
/// streams the client chose. Returns the streams received.
pub fn assert_same_payloads(want: &[u8], got: &[u8]) -> StreamSet {
    let header = HeaderSummary::parse(packets(want).0).expect("the source's header");
    let (mut want, got) = (payloads(want), payloads(got));
    assert!(
        want.len() > 10,
        "too few payloads to compare: {}",
        want.len()
    );
    let streams = |p: &[Payload]| p.iter().fold(StreamSet::EMPTY, |s, p| s.with(p.0));
    let (all, chosen) = (streams(&want), streams(&got));
    if chosen != all {
        // Of each mutual-exclusion group exactly one record; every stream
        // outside the groups.
        let mut grouped = StreamSet::EMPTY;
        for g in &header.exclusions {
            let picked: Vec<_> = g.records.iter().filter(|r| r.0 & chosen.0 == r.0).collect();
            assert!(
                picked.len() == 1 && g.streams().0 & chosen.0 == picked[0].0,
                "the client received streams {chosen:?} of {all:?}: not one choice of {:?}",
                g.records
            );
            grouped = StreamSet(grouped.0 | g.streams().0);
        }
        assert_eq!(
            chosen.0 & !grouped.0,
            all.0 & !grouped.0,
            "the client received streams {chosen:?} of {all:?}"
        );
        want.retain(|p| chosen.contains(p.0));
    }
    assert_eq!(got.len(), want.len(), "payload count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "payload {i} differs");
    }
    chosen
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
    /// Each loop's figures (sessions, timer entries, accepted).
    pub stats: Arc<[mms_server::LoopStats]>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

pub fn serve(dir: &Path, config: Config) -> Running {
    serve_with(dir, Options::new(config))
}

pub fn serve_with(dir: &Path, options: Options) -> Running {
    let root = ContentRoot::new(dir).unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
    let addr = server.local_addr().unwrap();
    let stats = server.loop_stats();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || server.run(&flag));
    Running {
        addr,
        stats,
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
    let server = serve_unpaced(&dir);
    (dir, server)
}

/// `dir` served unpaced, with a 1 s linger after the end of a stream (so
/// clients that wait for the server to close are not held long).
pub fn serve_unpaced(dir: &Path) -> Running {
    serve(
        dir,
        Config {
            paced: false,
            linger: Some(mms_proto::time::Duration::from_secs(1)),
            ..Config::default()
        },
    )
}

/// The committed test files (`testdata/`); `content.rs` checks this list
/// against the folder.
pub const TEST_FILES: [&str; 9] = [
    "ff_audio.wma",
    "ff_av.wmv",
    "ff_big_packets.asf",
    "ff_lang.wmv",
    "ff_live.asf",
    "ff_msmpeg4.asf",
    "ff_small_packets.asf",
    "gst_audio.wma",
    "gst_av.wmv",
];

/// The repository's `testdata/` folder.
pub fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// One `#[test]` per test file, each calling `$check(file_name)`.
#[macro_export]
macro_rules! every_test_file {
    ($check:path) => {
        #[test]
        fn ff_audio_wma() {
            $check("ff_audio.wma")
        }
        #[test]
        fn ff_av_wmv() {
            $check("ff_av.wmv")
        }
        #[test]
        fn ff_big_packets_asf() {
            $check("ff_big_packets.asf")
        }
        #[test]
        fn ff_lang_wmv() {
            $check("ff_lang.wmv")
        }
        #[test]
        fn ff_live_asf() {
            $check("ff_live.asf")
        }
        #[test]
        fn ff_msmpeg4_asf() {
            $check("ff_msmpeg4.asf")
        }
        #[test]
        fn ff_small_packets_asf() {
            $check("ff_small_packets.asf")
        }
        #[test]
        fn gst_audio_wma() {
            $check("gst_audio.wma")
        }
        #[test]
        fn gst_av_wmv() {
            $check("gst_av.wmv")
        }
    };
}

/// Builds `tests/peers/<name>.c` with `cc … <libs>` once per test binary;
/// the executable's path. A missing compiler or library fails with the
/// hint `cargo xtask deps`.
pub fn c_peer(name: &str, libs: &[&str]) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, exe)) = built.iter().find(|(n, _)| n == name) {
        return exe.clone();
    }
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/peers/{name}.c"));
    let (ok, log) = run_with_timeout(
        Command::new("cc")
            .args(["-Wall", "-O1"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .args(libs),
        Duration::from_secs(60),
        "cc",
    );
    assert!(
        ok,
        "building {name} failed (a -dev package missing? run `cargo xtask deps`):\n{log}"
    );
    built.push((name.to_string(), exe.clone()));
    exe
}

/// A path under the test scratch folder, with no file left from a
/// previous run.
pub fn fresh_path(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// FFmpeg pulls `name` from `addr` with `-c copy` into `out`.
pub fn ffmpeg_pull(addr: SocketAddr, name: &str, out: &Path) -> (bool, String) {
    run_with_timeout(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-y", "-i"])
            .arg(format!("mmst://{addr}/{name}"))
            .args(["-c", "copy", "-f", "asf"])
            .arg(out),
        Duration::from_secs(60),
        "ffmpeg",
    )
}

/// Holds UDP port 7000 for one `mmsu://` VLC at a time — VLC binds it
/// whatever it is told (interop-notes) — across test threads and test
/// processes (two suites run on one machine): an exclusive lock on a file
/// in the system's temporary folder, released when the file drops.
pub fn vlc_udp_port_lock() -> nix::fcntl::Flock<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("mms-rs-vlc-udp-7000.lock"))
        .unwrap();
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("flock: {e}"))
}

/// A folder under the test scratch space that `nobody` may write to (VLC
/// refuses to run as root, interop-notes.md, so it runs as `nobody`).
pub fn vlc_dir(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// `cvlc` as `nobody` with HOME in `home`, no audio or video output, then
/// `args`.
pub fn cvlc(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "cvlc",
        "-I",
        "dummy",
        "--aout",
        "dummy",
        "--vout",
        "dummy",
    ])
    .args(args)
    .env("HOME", home);
    cmd
}
