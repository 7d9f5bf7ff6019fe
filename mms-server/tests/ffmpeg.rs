//! Real peer: FFmpeg (Debian's packages) against mms-server over `mmst://`.
//!
//! * Every test file through FFmpeg's own MMS protocol (libavformat's
//!   mmst.c, read through avio by `tests/peers/ffmpeg_mmst_dump.c`): what it
//!   returns must hold the source's payloads byte for byte.
//! * The `ffmpeg -i mmst://… -c copy` command on a 20 s file (the CLI probes
//!   ~5 s of stream before copying, so the 3 s test files would end during
//!   its probe; interop-notes.md): exits 0, prints nothing, same payloads.
//!
//! A missing ffmpeg or libavformat-dev fails with the hint `cargo xtask deps`.

mod common;
use std::process::Command;
use std::time::Duration;

fn pull_through_libavformat(name: &str) {
    let exe = common::c_peer("ffmpeg_mmst_dump", &["-lavformat", "-lavutil"]);
    let dir = common::testdata_dir();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path(&format!("ffmpeg-{name}"));
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mmst://{}/{name}", server.addr))
            .arg(&out),
        Duration::from_secs(60),
        "ffmpeg_mmst_dump",
    );
    drop(server);
    assert!(ok, "FFmpeg's mmst protocol failed on {name}:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join(name)).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}

every_test_file!(pull_through_libavformat);

#[test]
fn ffmpeg_command_copies_a_stream_byte_for_byte() {
    let (dir, server) = common::serve_media_unpaced();
    let out = common::fresh_path("ffmpeg-out.asf");
    let (ok, log) = common::ffmpeg_pull(server.addr, "long.wmv", &out);
    drop(server);
    assert!(ok, "ffmpeg did not finish cleanly:\n{log}");
    assert!(log.trim().is_empty(), "ffmpeg printed errors:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join("long.wmv")).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}
