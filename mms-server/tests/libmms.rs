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

/// libmms follows a server-side playlist (interop-notes: the only open
/// client that does): ReportEndOfStream hr 1, ReportStreamChange, the new
/// header; it then selects streams and starts the entry again with its own
/// incarnation. What mms_read() returns: each entry's header and then its
/// packets, payloads byte for byte.
#[test]
fn libmms_follows_a_server_side_playlist() {
    let exe = common::c_peer("libmms_dump", &["-lmms"]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("playlist-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("media")).unwrap();
    let (a, b) = ("ff_av.wmv", "ff_msmpeg4.asf");
    for f in [a, b] {
        std::fs::copy(common::testdata_dir().join(f), dir.join("media").join(f)).unwrap();
    }
    std::fs::write(
        dir.join("media/show.m3u"),
        format!("# two entries\n{a}\n\nmissing.wmv\n{b}\n"),
    )
    .unwrap();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path("libmms-playlist.asf");
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mms://{}/media/show.m3u", server.addr))
            .arg(&out),
        Duration::from_secs(60),
        "libmms_dump",
    );
    drop(server);
    assert!(ok, "the libmms reader failed on the playlist:\n{log}");
    let got = std::fs::read(&out).unwrap();
    let first = std::fs::read(dir.join("media").join(a)).unwrap();
    let second = std::fs::read(dir.join("media").join(b)).unwrap();
    let (h1, p1) = common::packets(&first);
    let (h2, p2) = common::packets(&second);
    let mut at = 0;
    for (header, packets) in [(h1, &p1), (h2, &p2)] {
        assert!(
            got.len() >= at + header.len(),
            "{} bytes: cut short",
            got.len()
        );
        assert_eq!(&got[at..at + header.len()], header, "an entry's header");
        at += header.len();
        let mut received = Vec::new();
        for p in packets {
            assert!(got.len() >= at + p.len(), "{} bytes: cut short", got.len());
            received.push(&got[at..at + p.len()]);
            at += p.len();
        }
        assert_eq!(
            common::packet_payloads(&received),
            common::packet_payloads(packets)
        );
    }
    assert_eq!(at, got.len(), "bytes after the second entry");
}
