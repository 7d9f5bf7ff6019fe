//! Nothing lost (issue 15): whatever ends a `mms dump` — a dropped or
//! reset connection, a protocol error, Ctrl-C, SIGTERM, a stopped server,
//! a full disk — the file written so far is a valid ASF file whose header
//! counts are its packets, FFmpeg reads it without a word, and the exit
//! code says what happened.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;
mod scripted;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mms_proto::asf::{DataObject, HeaderSummary};
use scripted::Script;

fn mms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mms"))
}

fn long_file() -> Vec<u8> {
    std::fs::read(common::media_dir().join("long.wmv")).unwrap()
}

/// Runs `mms dump -q URL -o out` to its end (at most 30 s): exit code and
/// stderr.
fn dump(url: &str, out: &Path) -> (Option<i32>, String) {
    let mut child = spawn_dump(url, out);
    wait(&mut child)
}

fn spawn_dump(url: &str, out: &Path) -> Child {
    mms()
        .args(["dump", "-q", url, "-o"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(child: &mut Child) -> (Option<i32>, String) {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("mms dump did not end within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The file is finished: counts, sizes and durations are those of the
/// packets it holds, and FFmpeg decodes it silently. Its packet count.
pub fn assert_finished(file: &Path) -> u64 {
    let got = std::fs::read(file).unwrap();
    let (header, packets) = common::packets(&got);
    let h = HeaderSummary::parse(header).unwrap();
    let d = DataObject::new_checked(&header[h.header_object_len()..]).unwrap();
    let n = packets.len() as u64;
    let p = h.packet_size as u64;
    assert_eq!(h.packet_count, n, "File Properties' Data Packets Count");
    assert_eq!(
        d.total_data_packets(),
        n,
        "Data Object's Total Data Packets"
    );
    assert_eq!(d.size(), 50 + n * p, "Data Object size");
    assert!(h.file_size >= header.len() as u64 + n * p, "File Size");
    assert_eq!(h.file_size, got.len() as u64, "File Size");
    assert!(h.is_seekable() && !h.is_broadcast(), "flags {:#x}", h.flags);
    if n > 0 {
        let last = mms_proto::asf::PacketInfo::parse(packets[packets.len() - 1]).unwrap();
        let first = mms_proto::asf::PacketInfo::parse(packets[0]).unwrap();
        let span = (last.send_time + last.duration as u32 - first.send_time) as u64;
        assert_eq!(h.send_duration, span * 10_000, "Send Duration");
        assert_eq!(
            h.play_duration,
            (span + h.preroll_ms) * 10_000,
            "Play Duration"
        );
    }
    ffmpeg_reads_silently(file);
    n
}

fn ffmpeg_reads_silently(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed ({e}): run `cargo xtask deps`"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffmpeg on {}: {err}",
        file.display()
    );
}

#[test]
fn a_dropped_connection_finishes_the_file_and_exits_9() {
    let addr = Script {
        drop_after: Some(60),
        ..Script::serving(long_file())
    }
    .start();
    let out = common::fresh_path("lost-dropped.asf");
    let (code, err) = dump(&format!("mms://{addr}/long.wmv"), &out);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("wrote 60 packets"), "{err}");
    assert_eq!(assert_finished(&out), 60);
}

#[test]
fn a_reset_connection_finishes_the_file_and_exits_9() {
    let addr = Script {
        drop_after: Some(45),
        reset: true,
        ..Script::serving(long_file())
    }
    .start();
    let out = common::fresh_path("lost-reset.asf");
    let (code, err) = dump(&format!("mms://{addr}/long.wmv"), &out);
    assert_eq!(code, Some(9), "{err}");
    // A reset discards what the client had not read yet.
    let n = assert_finished(&out);
    assert!(n > 0 && n <= 45, "{n} packets");
}

#[test]
fn a_protocol_error_finishes_the_file_and_exits_7() {
    let addr = Script {
        bogus_after: Some(33),
        ..Script::serving(long_file())
    }
    .start();
    let out = common::fresh_path("lost-protocol.asf");
    let (code, err) = dump(&format!("mms://{addr}/long.wmv"), &out);
    assert_eq!(code, Some(7), "{err}");
    assert!(
        err.contains("unexpected LinkMacToViewerReportConnectedFunnel"),
        "{err}"
    );
    assert_eq!(assert_finished(&out), 33);
}

/// A paced server stopped under a running dump (its connections close).
#[test]
fn a_stopped_server_finishes_the_file_and_exits_9() {
    let dir = common::media_dir();
    let server = common::serve(&dir, mms_proto::server::Config::default());
    let out = common::fresh_path("lost-server.asf");
    let mut child = spawn_dump(&format!("mms://{}/long.wmv", server.addr), &out);
    std::thread::sleep(Duration::from_millis(2500));
    drop(server);
    let (code, err) = wait(&mut child);
    assert_eq!(code, Some(9), "{err}");
    let n = assert_finished(&out);
    let all = common::packets(&long_file()).1.len() as u64;
    assert!(n > 0 && n < all, "{n} of {all} packets");
}

fn signal_ends_dump(signal: &str, want: i32) {
    let addr = Script {
        pace: Duration::from_millis(30),
        ..Script::serving(long_file())
    }
    .start();
    let out = common::fresh_path(&format!("lost-{signal}.asf"));
    let mut child = spawn_dump(&format!("mms://{addr}/long.wmv"), &out);
    std::thread::sleep(Duration::from_millis(1200));
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal}");
    let (code, err) = wait(&mut child);
    assert_eq!(code, Some(want), "{err}");
    assert!(err.contains("(interrupted)"), "{err}");
    assert!(assert_finished(&out) > 20);
}

#[test]
fn ctrl_c_finishes_the_file_and_exits_130() {
    signal_ends_dump("INT", 130);
}

#[test]
fn sigterm_finishes_the_file_and_exits_143() {
    signal_ends_dump("TERM", 143);
}

/// A disk with no room at all: exit 1 with the system's words.
#[test]
fn a_full_disk_exits_1() {
    let addr = Script::serving(long_file()).start();
    let (code, err) = dump(&format!("mms://{addr}/long.wmv"), Path::new("/dev/full"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/dev/full: No space left on device"), "{err}");
}
