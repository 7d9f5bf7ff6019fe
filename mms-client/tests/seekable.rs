//! Seekable output (issue 15): `mms dump` writes a Simple Index per video
//! stream after the Data Object — the one FFmpeg writes for the same
//! packets — so FFmpeg seeks in the file by it and mms-server time-seeks
//! in it; audio-only dumps get none (as FFmpeg's audio files), and still
//! seek.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mms_client::{Options, Start, connect};
use mms_proto::asf::{DataObject, HeaderSummary, Objects, SimpleIndex, guid};

/// `mms dump` of `dir/name` from an unpaced mms-server into `out`.
fn dump(dir: &Path, name: &str, out: &Path) {
    let server = common::serve_unpaced(dir);
    let (ok, log) = common::run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_mms"))
            .args(["dump", "-q"])
            .arg(format!("mms://{}/{name}", server.addr))
            .arg("-o")
            .arg(out),
        Duration::from_secs(30),
        "mms",
    );
    assert!(ok, "mms dump failed: {log}");
}

/// The Simple Index objects after the Data Object.
fn simple_indexes(file: &[u8]) -> Vec<Vec<u8>> {
    let h = HeaderSummary::parse(file).unwrap();
    let at = h.header_object_len();
    let d = DataObject::new_checked(&file[at..]).unwrap();
    Objects::new(&file[at + d.size() as usize..])
        .map(|o| o.unwrap())
        .filter(|o| o.guid == guid::SIMPLE_INDEX)
        .map(|o| o.bytes.to_vec())
        .collect()
}

fn numbers(index: &[u8]) -> Vec<u32> {
    let i = SimpleIndex::check(index).unwrap();
    (0..i.entries_count())
        .map(|n| i.entry(n).unwrap().0)
        .collect()
}

/// A dump of the 20 s WMV (tests run in parallel: one file each).
fn dumped_long(name: &str) -> (PathBuf, Vec<u8>) {
    let out = common::fresh_path(&format!("seekable-{name}.asf"));
    dump(&common::media_dir(), "long.wmv", &out);
    let bytes = std::fs::read(&out).unwrap();
    (out, bytes)
}

/// The dump's index names the same packets as FFmpeg's index of the
/// source (the dump holds the source's packets), and the file ends with
/// it: File Size counts it.
#[test]
fn a_dump_has_the_index_ffmpeg_writes() {
    let (_, got) = dumped_long("index");
    let source = std::fs::read(common::media_dir().join("long.wmv")).unwrap();
    let (ours, theirs) = (simple_indexes(&got), simple_indexes(&source));
    assert_eq!(ours.len(), 1, "one video stream, one index");
    assert_eq!(theirs.len(), 1);
    assert_eq!(numbers(&ours[0]), numbers(&theirs[0]));
    let i = SimpleIndex::check(&ours[0][..]).unwrap();
    assert_eq!(i.interval(), 10_000_000);
    let h = HeaderSummary::parse(&got).unwrap();
    assert_eq!(i.file_id(), h.file_id);
    assert_eq!(h.file_size, got.len() as u64);
}

fn ffmpeg(args: &[&str], file: &Path, tail: &[&str]) -> (bool, String) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin"])
        .args(args)
        .arg("-i")
        .arg(file)
        .args(tail)
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed ({e}): run `cargo xtask deps`"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ffmpeg -ss 12` reads the dump's Simple Index (its debug log lists the
/// entries) and decodes from 12 s on: without an error, and far fewer of
/// the 300 video frames than from the start.
#[test]
fn ffmpeg_seeks_in_a_dump_by_its_index() {
    let (file, _) = dumped_long("ffmpeg");
    let (ok, err) = ffmpeg(&["-v", "error", "-ss", "12"], &file, &["-f", "null", "-"]);
    assert!(ok && err.trim().is_empty(), "ffmpeg -ss 12: {err}");
    let (ok, log) = ffmpeg(
        &["-v", "debug", "-ss", "12"],
        &file,
        &["-map", "0:v", "-f", "framecrc", "-"],
    );
    assert!(ok, "{log}");
    assert!(log.contains("pktnum:"), "FFmpeg did not read an index");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-ss", "12", "-i"])
        .arg(&file)
        .args(["-map", "0:v", "-f", "framecrc", "-"])
        .output()
        .unwrap();
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert!(
        (100..=150).contains(&frames),
        "{frames} frames after -ss 12"
    );
}

/// mms-server serves the dump with time seeks by its index: a play from
/// 10 s starts at the packet the index names for 10 s + preroll.
#[test]
fn mms_server_time_seeks_in_a_dump() {
    let (file, bytes) = dumped_long("server");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seekable-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&file, dir.join("dumped.asf")).unwrap();
    let h = HeaderSummary::parse(&bytes).unwrap();
    let index = simple_indexes(&bytes).remove(0);
    let want = SimpleIndex::check(&index[..])
        .unwrap()
        .lookup(10_000 + h.preroll_ms)
        .unwrap();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/dumped.asf", server.addr);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut s = connect(&url, Options::default()).await.unwrap();
            assert!(s.file().can_seek());
            s.play_from(Start::Time(10_000)).await.unwrap();
            let first = s.next_packet().await.unwrap().unwrap();
            assert_eq!(first.location_id, want, "the index names packet {want}");
            s.close().await.unwrap();
        });
}

/// Audio only: no index (FFmpeg writes none for audio; every audio payload
/// is a cleanpoint), and FFmpeg seeks in it by Send Time all the same.
#[test]
fn an_audio_dump_has_no_index_and_still_seeks() {
    let out = common::fresh_path("seekable-audio.wma");
    dump(&common::testdata_dir(), "ff_audio.wma", &out);
    let bytes = std::fs::read(&out).unwrap();
    assert!(simple_indexes(&bytes).is_empty());
    let (ok, err) = ffmpeg(&["-v", "error", "-ss", "1"], &out, &["-f", "null", "-"]);
    assert!(ok && err.trim().is_empty(), "ffmpeg -ss 1: {err}");
}
