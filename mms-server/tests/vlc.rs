//! Real peer: VLC (Debian's vlc-bin) dumps a stream from mms-server over
//! `mmst://` (`--demux dump`); the dump must hold the source's payloads
//! byte for byte. VLC refuses to run as root, so it runs as `nobody`
//! (interop-notes.md). A missing cvlc fails with the hint `cargo xtask deps`.

mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn vlc_dumps_a_stream_over_mmst_byte_for_byte() {
    let (dir, server) = common::serve_media_unpaced();
    // A folder `nobody` may write to.
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vlc-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = out_dir.join("dump.asf");
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "cvlc",
        "-I",
        "dummy",
        "--aout",
        "dummy",
        "--vout",
        "dummy",
    ])
    .arg(format!("mmst://{}/long.wmv", server.addr))
    .args(["--demux", "dump", "--demuxdump-file"])
    .arg(&out)
    .arg("vlc://quit")
    .env("HOME", &out_dir);
    let (ok, log) = common::run_with_timeout(&mut cmd, Duration::from_secs(60), "cvlc");
    drop(server);
    assert!(ok, "vlc did not finish cleanly:\n{log}");
    let dump = std::fs::read(&out).unwrap_or_else(|e| panic!("vlc wrote no dump ({e}):\n{log}"));
    common::assert_same_payloads(&std::fs::read(dir.join("long.wmv")).unwrap(), &dump);
}
