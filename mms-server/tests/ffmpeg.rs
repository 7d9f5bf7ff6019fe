//! Real peer: FFmpeg (Debian's package) pulls a file from mms-server over
//! `mmst://`; what it writes must hold the source's payloads byte for byte.
//! A missing ffmpeg fails with the hint `cargo xtask deps`.

mod common;

#[test]
fn ffmpeg_pulls_a_file_over_mmst_byte_for_byte() {
    let (dir, server) = common::serve_media_unpaced();
    let out = common::fresh_path("ffmpeg-out.asf");
    let (ok, log) = common::ffmpeg_pull(server.addr, &out);
    drop(server);
    assert!(ok, "ffmpeg did not finish cleanly:\n{log}");
    assert!(log.trim().is_empty(), "ffmpeg printed errors:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join("long.wmv")).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}
