//! Real peer: VLC (Debian's vlc-bin) dumps every test file from mms-server
//! over `mmst://` and over `mmsu://` (Data over UDP, paced: unpaced UDP
//! overflows VLC's socket buffer, interop-notes) with `--demux dump`; the
//! dump must hold the source's payloads byte for byte. VLC refuses to run as root, so it runs as `nobody`
//! (interop-notes.md). A missing cvlc fails with the hint `cargo xtask deps`.

mod common;
use std::time::Duration as StdDuration;

use mms_proto::server::Config;
use mms_proto::time::Duration;

fn dump_with_vlc(name: &str) {
    dump_over(name, "mmst");
}

fn dump_over(name: &str, scheme: &str) {
    let dir = common::testdata_dir();
    let server = if scheme == "mmsu" {
        common::serve(
            &dir,
            Config {
                udp: true,
                linger: Some(Duration::from_secs(1)),
                ..Config::default()
            },
        )
    } else {
        common::serve_unpaced(&dir)
    };
    let home = common::vlc_dir("vlc-out");
    let out = home.join(format!("dump-{scheme}-{name}"));
    let _ = std::fs::remove_file(&out);
    let url = format!("{scheme}://{}/{name}", server.addr);
    let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
    cmd.arg(&out).arg("vlc://quit");
    let (ok, log) = common::run_with_timeout(&mut cmd, StdDuration::from_secs(60), "cvlc");
    drop(server);
    assert!(ok, "vlc did not finish cleanly on {name}:\n{log}");
    let dump = std::fs::read(&out).unwrap_or_else(|e| panic!("vlc wrote no dump ({e}):\n{log}"));
    common::assert_same_payloads(&std::fs::read(dir.join(name)).unwrap(), &dump);
}

every_test_file!(dump_with_vlc);

mod udp {
    use crate::every_test_file;

    fn dump_with_vlc_over_udp(name: &str) {
        // VLC binds UDP port 7000 whatever it is told: one at a time.
        let _port = crate::common::vlc_udp_port_lock();
        super::dump_over(name, "mmsu");
    }
    every_test_file!(dump_with_vlc_over_udp);
}
