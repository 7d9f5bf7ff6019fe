//! Real peer: libmms (Debian's libmms-dev) reads every test file from
//! mms-server through a small C program (`tests/peers/libmms_dump.c`, built
//! here with `cc … -lmms`); what mms_read() returns must hold the source's
//! payloads byte for byte. Missing tools fail with the hint `cargo xtask deps`.

mod common;
use std::process::Command;
use std::time::Duration;

fn read_with_libmms(name: &str) {
    let exe = common::c_peer("libmms_dump", &["-lmms"]);
    let dir = common::testdata_dir();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path(&format!("libmms-{name}"));
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mms://{}/{name}", server.addr))
            .arg(&out),
        Duration::from_secs(60),
        "libmms_dump",
    );
    drop(server);
    assert!(ok, "the libmms reader failed on {name}:\n{log}");
    common::assert_same_payloads(
        &std::fs::read(dir.join(name)).unwrap(),
        &std::fs::read(&out).unwrap(),
    );
}

every_test_file!(read_with_libmms);
