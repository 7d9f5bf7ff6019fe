//! Real peer: MPlayer (Debian's package) dumps every test file from
//! mms-server (`-dumpstream`). MPlayer exits only when the server closes
//! TCP, which the session does after its linger; and its dump loses the
//! stream's last bytes, less than its 2 KiB stream buffer (an MPlayer bug,
//! interop-notes.md; 0–1664 bytes here, by packet size). So: the dump is at
//! most that short, and every payload of the packets it holds whole is
//! there, byte for byte. A missing mplayer fails with the hint
//! `cargo xtask deps`.

mod common;
use std::process::Command;
use std::time::Duration;

/// MPlayer's dump ends short of the stream by less than this.
const MPLAYER_TAIL_LOSS: usize = 2048;

fn dump_with_mplayer(name: &str) {
    let dir = common::testdata_dir();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path(&format!("mplayer-{name}"));
    let (ok, log) = common::run_with_timeout(
        Command::new("mplayer")
            .args([
                "-really-quiet",
                "-noconsolecontrols",
                "-dumpstream",
                "-dumpfile",
            ])
            .arg(&out)
            .arg(format!("mmst://{}/{name}", server.addr)),
        Duration::from_secs(60),
        "mplayer",
    );
    drop(server);
    assert!(ok, "mplayer did not finish cleanly on {name}:\n{log}");
    let source = std::fs::read(dir.join(name)).unwrap();
    let dump = std::fs::read(&out).unwrap();
    let (header, packets) = common::packets(&source);
    let packet_size = packets[0].len();
    let total = header.len() + packets.len() * packet_size;
    assert!(
        dump.len() + MPLAYER_TAIL_LOSS > total,
        "the dump lacks more than MPlayer's known tail loss: {} of {total} bytes",
        dump.len()
    );
    let whole = (dump.len() - header.len()) / packet_size;
    // The source's payloads in the packets the dump holds whole, against
    // the dump's.
    let want = common::packet_payloads(&packets[..whole]);
    let got = common::payloads(&dump);
    assert!(
        got.len() >= want.len(),
        "{} payloads in the dump, {} expected in its whole packets",
        got.len(),
        want.len()
    );
    assert_eq!(&got[..want.len()], &want[..]);
}

every_test_file!(dump_with_mplayer);
