//! Real peer: VLC (Debian's vlc-bin) dumps every test file from mms-server
//! over `mmst://` (`--demux dump`); the dump must hold the source's payloads
//! byte for byte. VLC refuses to run as root, so it runs as `nobody`
//! (interop-notes.md). A missing cvlc fails with the hint `cargo xtask deps`.

mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A folder `nobody` may write to.
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vlc-out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// `cvlc` as `nobody`, no audio or video output, with `args`.
pub fn cvlc(args: &[&str]) -> Command {
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
    .args(args)
    .env("HOME", out_dir());
    cmd
}

fn dump_with_vlc(name: &str) {
    let dir = common::testdata_dir();
    let server = common::serve_unpaced(&dir);
    let out = out_dir().join(format!("dump-{name}"));
    let _ = std::fs::remove_file(&out);
    let url = format!("mmst://{}/{name}", server.addr);
    let mut cmd = cvlc(&[&url, "--demux", "dump", "--demuxdump-file"]);
    cmd.arg(&out).arg("vlc://quit");
    let (ok, log) = common::run_with_timeout(&mut cmd, Duration::from_secs(60), "cvlc");
    drop(server);
    assert!(ok, "vlc did not finish cleanly on {name}:\n{log}");
    let dump = std::fs::read(&out).unwrap_or_else(|e| panic!("vlc wrote no dump ({e}):\n{log}"));
    common::assert_same_payloads(&std::fs::read(dir.join(name)).unwrap(), &dump);
}

every_test_file!(dump_with_vlc);
