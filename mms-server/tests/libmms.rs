//! Real peer: libmms (Debian's libmms-dev) reads a stream from mms-server
//! through a small C program (`tests/peers/libmms_dump.c`, built here with
//! `cc … -lmms`); what mms_read() returns must hold the source's payloads
//! byte for byte. Missing tools fail with the hint `cargo xtask deps`.

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn libmms_reads_a_stream_byte_for_byte() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let exe = tmp.join("libmms_dump");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/libmms_dump.c");
    let (ok, log) = common::run_with_timeout(
        Command::new("cc")
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-lmms"),
        Duration::from_secs(60),
        "cc",
    );
    assert!(
        ok,
        "building the libmms reader failed (libmms-dev missing? run `cargo xtask deps`):\n{log}"
    );

    let (dir, server) = common::serve_media_unpaced();
    let out = common::fresh_path("libmms-out.asf");
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mms://{}/long.wmv", server.addr))
            .arg(&out),
        Duration::from_secs(60),
        "libmms_dump",
    );
    drop(server);
    assert!(ok, "the libmms reader failed:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join("long.wmv")).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}
