//! `mms dump --resume` (issue 15, deliver 2): a dump killed mid-stream
//! (SIGKILL: nothing patched, maybe half a packet at the end) or ended by
//! a dropped connection (finished: patched, indexed) is continued from
//! mms-server, whose plays start each stream at a key frame, and the file
//! becomes the whole dump byte for byte — header, packets and Simple
//! Index.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;
mod scripted;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scripted::Script;

fn mms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mms"))
}

fn long_file() -> Vec<u8> {
    std::fs::read(common::media_dir().join("long.wmv")).unwrap()
}

/// `mms dump -q URL -o out [extra]` to its end, within 30 s: exit code,
/// stderr.
fn dump(url: &str, out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let t = Instant::now();
    let mut child = mms()
        .args(["dump", "-q", url, "-o"])
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (status.code(), String::from_utf8_lossy(&out.stderr).into());
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("mms dump did not end within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole dump of long.wmv from mms-server: what a resumed one must be.
fn whole(url: &str, name: &str) -> Vec<u8> {
    let out = common::fresh_path(&format!("resume-whole-{name}.asf"));
    let (code, err) = dump(url, &out, &[]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::read(&out).unwrap()
}

/// Resumes `partial` from `url`; the result must equal `want` byte for
/// byte.
fn resume_gives(url: &str, partial: &Path, want: &[u8]) {
    let (code, err) = dump(url, partial, &["--resume"]);
    assert_eq!(code, Some(0), "{err}");
    let got = std::fs::read(partial).unwrap();
    assert_eq!(got.len(), want.len(), "file length");
    let (header, packets) = common::packets(want);
    let (got_header, got_packets) = common::packets(&got);
    assert_eq!(got_header, header, "header");
    assert_eq!(got_packets.len(), packets.len(), "packet count");
    for (i, (g, w)) in got_packets.iter().zip(&packets).enumerate() {
        assert_eq!(g, w, "packet {i}");
    }
    assert!(got == want, "the index differs");
}

/// SIGKILL leaves the source's header unpatched and whole 256 KiB chunks
/// of packets; a third of a packet of junk is added, as a write cut by a
/// crash leaves; then the same with the last packet torn in half and
/// zero-filled, so that it is packet-sized.
#[test]
fn a_killed_dump_resumes_into_the_whole_dump() {
    let dir = common::media_dir();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/long.wmv", server.addr);
    let want = whole(&url, "killed");
    let source = long_file();
    let addr = Script {
        pace: Duration::from_millis(15),
        ..Script::serving(source.clone())
    }
    .start();
    let partial = common::fresh_path("resume-killed.asf");
    let mut child = mms()
        .args(["dump", "-q", &format!("mms://{addr}/long.wmv"), "-o"])
        .arg(&partial)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Until one chunk is on the disk (at most 15 s), then SIGKILL.
    let (header, packets) = common::packets(&source);
    let t = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) <= header.len() as u64 {
        assert!(t.elapsed() < Duration::from_secs(15), "no packet written");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut cut = std::fs::read(&partial).unwrap();
    let held = (cut.len() - header.len()) / packets[0].len();
    assert!(held > 0 && held < packets.len(), "{held} packets");
    cut.extend_from_slice(&[0x82; 1000]);
    std::fs::write(&partial, &cut).unwrap();
    resume_gives(&url, &partial, &want);
    // A torn last packet that looks whole: its second half zeros (what a
    // file system can leave after a crash), then the junk.
    let p = packets[0].len();
    let mut torn = want[..header.len() + (held - 1) * p + p / 2].to_vec();
    torn.resize(header.len() + held * p, 0);
    torn.extend_from_slice(&[0x82; 1000]);
    std::fs::write(&partial, &torn).unwrap();
    resume_gives(&url, &partial, &want);
}

/// A dropped connection: the file is finished (patched, indexed); resumed,
/// the old index goes and the new one covers the whole file.
#[test]
fn a_finished_partial_dump_resumes_into_the_whole_dump() {
    let dir = common::media_dir();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/long.wmv", server.addr);
    let want = whole(&url, "dropped");
    let addr = Script {
        drop_after: Some(70),
        ..Script::serving(long_file())
    }
    .start();
    let partial = common::fresh_path("resume-dropped.asf");
    let (code, err) = dump(&format!("mms://{addr}/long.wmv"), &partial, &[]);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("wrote 70 packets"), "{err}");
    resume_gives(&url, &partial, &want);
    // Resuming a whole dump leaves it as it is (`--continue` is
    // `--resume`).
    let (code, err) = dump(&url, &partial, &["--continue"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::read(&partial).unwrap() == want, "changed");
}

/// No file yet: `--resume` is a plain dump.
#[test]
fn resume_without_a_file_dumps_afresh() {
    let server = common::serve_unpaced(&common::media_dir());
    let url = format!("mms://{}/long.wmv", server.addr);
    let want = whole(&url, "fresh");
    let out = common::fresh_path("resume-fresh.asf");
    let _ = std::fs::remove_file(&out);
    resume_gives(&url, &out, &want);
}

/// A part (`--start`) is not a beginning to go on from, nor is another
/// file's dump: refused (exit 1, the file kept as it was); `-o -` cannot
/// be resumed (exit 2).
#[test]
fn resume_refuses_what_it_cannot_continue() {
    let server = common::serve_unpaced(&common::media_dir());
    let url = format!("mms://{}/long.wmv", server.addr);
    let out = common::fresh_path("resume-part.asf");
    let (code, err) = dump(&url, &out, &["--start", "10"]);
    assert_eq!(code, Some(0), "{err}");
    let before = std::fs::read(&out).unwrap();
    let (code, err) = dump(&url, &out, &["--resume"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot be resumed"), "{err}");
    let after = std::fs::read(&out).unwrap();
    assert_eq!(after.len(), before.len(), "the refused file changed");
    // Another file's dump.
    let testdata = common::serve_unpaced(&common::testdata_dir());
    let other = format!("mms://{}/ff_av.wmv", testdata.addr);
    let (code, err) = dump(&other, &out, &["--resume"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a part of this stream"), "{err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        after,
        "the refused file changed"
    );
    let (code, err) = dump(&url, Path::new("-"), &["--resume"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--resume needs an output file"), "{err}");
}
