//! Real peer: MPlayer (Debian's package) dumps a stream from mms-server
//! (`-dumpstream`). MPlayer exits only when the server closes TCP, which the
//! session does after its linger; and its dump loses the tail of the last
//! packet (an MPlayer bug, interop-notes.md). So: every payload before the
//! last packet must be there, byte for byte. A missing mplayer fails with
//! the hint `cargo xtask deps`.

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mms_proto::asf::HeaderSummary;
use mms_proto::server::Config;
use mms_proto::time::Duration as MmsDuration;

#[test]
fn mplayer_dumps_a_stream_over_mmst_byte_for_byte() {
    let dir = common::media_dir();
    let config = Config {
        paced: false,
        linger: Some(MmsDuration::from_secs(1)),
        ..Config::default()
    };
    let server = common::serve(&dir, config);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mplayer-out.asf");
    let _ = std::fs::remove_file(&out);
    let (ok, log) = common::run_with_timeout(
        Command::new("mplayer")
            .args([
                "-really-quiet",
                "-noconsolecontrols",
                "-dumpstream",
                "-dumpfile",
            ])
            .arg(&out)
            .arg(format!("mmst://{}/long.wmv", server.addr)),
        Duration::from_secs(60),
        "mplayer",
    );
    drop(server);
    assert!(ok, "mplayer did not finish cleanly:\n{log}");
    let source = std::fs::read(dir.join("long.wmv")).unwrap();
    let dump = std::fs::read(&out).unwrap();
    let h = HeaderSummary::parse(&source).unwrap();
    let all_but_last = h.file_header_len() + (h.packet_count as usize - 1) * h.packet_size as usize;
    assert!(
        dump.len() >= all_but_last,
        "the dump lacks more than the last packet: {} < {all_but_last}",
        dump.len()
    );
    // The source's payloads up to the last packet, against the dump's.
    let want = common::payloads(&source);
    let got = common::payloads(&dump);
    let last = common::payloads(&source[..all_but_last]).len();
    assert!(
        got.len() >= last,
        "{} payloads in the dump, {last} expected before the last packet",
        got.len()
    );
    assert_eq!(&got[..last], &want[..last]);
}
