//! Real peer: FFmpeg (Debian's package) pulls a file from mms-server over
//! `mmst://`; what it writes must hold the source's payloads byte for byte.
//! A missing ffmpeg fails with the hint `cargo xtask deps`.

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mms_proto::server::Config;

#[test]
fn ffmpeg_pulls_a_file_over_mmst_byte_for_byte() {
    let dir = common::media_dir();
    let server = common::serve(
        &dir,
        Config {
            paced: false,
            ..Config::default()
        },
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ffmpeg-out.asf");
    let _ = std::fs::remove_file(&out);
    let (ok, log) = common::run_with_timeout(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-y", "-i"])
            .arg(format!("mmst://{}/long.wmv", server.addr))
            .args(["-c", "copy", "-f", "asf"])
            .arg(&out),
        Duration::from_secs(60),
        "ffmpeg",
    );
    drop(server);
    assert!(ok, "ffmpeg did not finish cleanly:\n{log}");
    assert!(log.trim().is_empty(), "ffmpeg printed errors:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join("long.wmv")).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}
