//! Real peer: VLC (Debian's vlc-bin) dumps every test file from mms-server
//! over `mmst://` (`--demux dump`); the dump must hold the source's payloads
//! byte for byte. VLC refuses to run as root, so it runs as `nobody`
//! (interop-notes.md). A missing cvlc fails with the hint `cargo xtask deps`.

mod common;
use std::time::Duration;

fn dump_with_vlc(name: &str) {
    let dir = common::testdata_dir();
    let server = common::serve_unpaced(&dir);
    let home = common::vlc_dir("vlc-out");
    let out = home.join(format!("dump-{name}"));
    let _ = std::fs::remove_file(&out);
    let url = format!("mmst://{}/{name}", server.addr);
    let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
    cmd.arg(&out).arg("vlc://quit");
    let (ok, log) = common::run_with_timeout(&mut cmd, Duration::from_secs(60), "cvlc");
    drop(server);
    assert!(ok, "vlc did not finish cleanly on {name}:\n{log}");
    let dump = std::fs::read(&out).unwrap_or_else(|e| panic!("vlc wrote no dump ({e}):\n{log}"));
    common::assert_same_payloads(&std::fs::read(dir.join(name)).unwrap(), &dump);
}

every_test_file!(dump_with_vlc);
