//! Data over UDP end to end: `mms dump mmsu://…` from mms-server inside a
//! network namespace this test makes, with 5% and then 20% of UDP
//! datagrams (both ways: data and resend requests) dropped by the kernel
//! (nftables `numgen random`). Each file dumped over UDP must be byte-
//! identical to the same file dumped over TCP, and the closing line must
//! say nothing was lost. With UDP blocked, `--transport auto` still gets
//! the file (over TCP) and `--transport udp` says why it cannot.
//!
//! A flood of spoofed resend requests (another source address, unknown
//! dwClientIds, 1,000 a second) during a UDP dump makes the server send
//! nothing beyond the dump's own datagrams.
//!
//! Needs root for `ip netns` (CI runs as root) and `ip`/`nft` (`cargo
//! xtask deps`); without them the tests fail saying so.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;
#[path = "../../mms-server/tests/common/netns.rs"]
mod netns;

use std::process::Output;

use mms_proto::server::Config;
use mms_proto::time::Duration;
use mms_server::Options;
use netns::Netns;

/// `mms ARGS…` inside `ns`, killed after 60 s.
fn mms_in(ns: &Netns, args: &[&str]) -> Output {
    ns.exec("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_mms"))
        .args(args)
        .output()
        .expect("ip netns exec (run `cargo xtask deps`)")
}

/// Four event loops: a resend request lands on any loop's socket and must
/// reach the loop that holds its session.
fn serve(ns: &Netns) -> netns::InNetns {
    let options = Options {
        loops: 4,
        ..Options::new(Config {
            udp: true,
            linger: Some(Duration::from_secs(1)),
            ..Config::default()
        })
    };
    ns.serve(&common::testdata_dir(), options)
}

/// `mms dump URL -o out` inside `ns`, killed after `secs`, its stderr
/// piped.
fn spawn_dump_in(ns: &Netns, url: &str, out: &std::path::Path, secs: u32) -> std::process::Child {
    ns.exec("timeout")
        .arg(secs.to_string())
        .arg(env!("CARGO_BIN_EXE_mms"))
        .args(["dump", url, "-o", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ip netns exec (run `cargo xtask deps`)")
}

/// The TCP dump of `name` from an unpaced server on the host's loopback:
/// the reference.
fn tcp_dump(name: &str, tag: &str) -> Vec<u8> {
    tcp_dump_of(&common::testdata_dir(), name, tag)
}

/// [`tcp_dump`] of a file of `dir`.
fn tcp_dump_of(dir: &std::path::Path, name: &str, tag: &str) -> Vec<u8> {
    let server = common::serve_unpaced(dir);
    let out = common::fresh_path(&format!("udp-{tag}-tcp-{name}"));
    let url = format!("mmst://{}/{name}", server.addr);
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_mms"))
        .args(["dump", &url, "-q", "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    std::fs::read(out).unwrap()
}

/// The closing line's numbers: (received, lost, recovered).
fn udp_line(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("over UDP:"))
        .unwrap_or_else(|| panic!("no UDP line in: {stderr}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1], n[2])
}

fn dumps_under_loss(percent: u32) {
    let ns = Netns::new(&format!("loss{percent}"));
    ns.nft_input(&format!(
        "meta l4proto udp numgen random mod 100 < {percent} drop"
    ));
    let server = serve(&ns);
    // Every test file at once, each its own `mms` (paced: ~4 s in all).
    let runs: Vec<_> = common::TEST_FILES
        .iter()
        .map(|name| {
            let out = common::fresh_path(&format!("udp-{percent}-{name}"));
            let url = format!("mmsu://{}/{name}", server.addr);
            let child = spawn_dump_in(&ns, &url, &out, 60);
            (name, out, child)
        })
        .collect();
    let mut recovered = 0;
    for (name, out, child) in runs {
        let r = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{name} at {percent}%: {err}");
        let (received, lost, rec) = udp_line(&err);
        assert_eq!(lost, 0, "{name} at {percent}%: {err}");
        assert!(!err.contains("never came"), "{name} at {percent}%: {err}");
        assert!(received > 0, "{name} at {percent}%: {err}");
        recovered += rec;
        let got = std::fs::read(&out).unwrap();
        let want = tcp_dump(name, &percent.to_string());
        assert!(
            got == want,
            "{name} at {percent}% loss: the UDP dump differs from the TCP dump ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
    // About 90 media packets: at 20% (each with a 0.8^90 chance of no
    // loss at all) some must have been lost and recovered. At 5% a run
    // may lose none.
    assert!(
        percent < 20 || recovered > 0,
        "{percent}% loss and nothing was recovered: was anything dropped?"
    );
}

#[test]
fn udp_dumps_are_byte_identical_under_5_percent_loss() {
    dumps_under_loss(5);
}

#[test]
fn udp_dumps_are_byte_identical_under_20_percent_loss() {
    dumps_under_loss(20);
}

#[test]
fn auto_falls_back_to_tcp_when_udp_is_blocked() {
    let ns = Netns::new("blocked");
    ns.nft_input("meta l4proto udp drop");
    let server = serve(&ns);
    let name = "ff_av.wmv";
    let want = tcp_dump(name, "blocked");
    let out = common::fresh_path("udp-blocked-auto.asf");
    let url = format!("mms://{}/{name}", server.addr);
    let r = mms_in(&ns, &["dump", &url, "-q", "-o", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert!(
        std::fs::read(&out).unwrap() == want,
        "the auto dump differs"
    );
    // UDP only: a clear failure, exit 4.
    let r = mms_in(
        &ns,
        &[
            "--transport",
            "udp",
            "dump",
            &url,
            "-q",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(4), "{err}");
    assert!(err.contains("no UDP datagram"), "{err}");
}

#[test]
fn spoofed_resend_requests_make_the_server_send_nothing() {
    use mms_proto::wire::RequestPacketListResendRepr;
    let options = Options {
        loops: 2,
        ..Options::new(Config {
            udp: true,
            linger: Some(Duration::from_secs(1)),
            ..Config::default()
        })
    };
    let server = common::serve_with(&common::testdata_dir(), options);
    let out = common::fresh_path("udp-spoofed.asf");
    let url = format!("mmsu://{}/ff_lang.wmv", server.addr);
    let dump = std::process::Command::new(env!("CARGO_BIN_EXE_mms"))
        .args(["dump", &url, "-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // From 127.0.0.2 (the session's peer is 127.0.0.1), with made-up
    // dwClientIds, and from 127.0.0.1 with made-up ones: 2,000 in 2 s.
    let liar = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let local = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0u32;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(2) {
        for k in 0..10u32 {
            let r = RequestPacketListResendRepr {
                client_id: 0x9E37_79B9u32.wrapping_mul(sent + k + 1),
                source_id: 1,
                packets: (0..32).collect(),
            };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut b).unwrap();
            let from = if k % 2 == 0 { &liar } else { &local };
            let _ = from.send_to(&b, server.addr);
        }
        sent += 10;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let r = dump.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    let (received, lost, _) = udp_line(&err);
    assert_eq!(lost, 0);
    let stats = &server.stats;
    let total = |f: fn(&mms_server::LoopStats) -> usize| stats.iter().map(f).sum::<usize>();
    use std::sync::atomic::Ordering::Relaxed;
    let out = total(|s| s.datagrams_out.load(Relaxed));
    let dropped = total(|s| s.datagrams_dropped.load(Relaxed));
    // The dump's packets and its header's pieces (ff_lang.wmv's header
    // fits in a few), nothing for the flood.
    assert!(
        out as u64 <= received + 4,
        "{out} datagrams sent for a dump of {received} packets while spoofed requests came"
    );
    assert!(dropped as u32 >= sent / 2, "{dropped} of {sent} dropped");
}

/// UDP stops mid-play (a rule added while the dump runs): `--transport
/// auto` goes on over TCP from the packet after the last one it had, and
/// the file is whole.
#[test]
fn auto_goes_on_over_tcp_when_udp_stops_mid_play() {
    let ns = Netns::new("midplay");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mms-server/demo");
    let options = Options::new(Config {
        udp: true,
        linger: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    let server = ns.serve(&demo, options);
    let want = tcp_dump_of(&demo, "demo.wmv", "midplay");
    let out = common::fresh_path("udp-midplay.asf");
    let url = format!("mms://{}/demo.wmv", server.addr);
    let dump = spawn_dump_in(&ns, &url, &out, 90);
    std::thread::sleep(std::time::Duration::from_secs(4));
    ns.nft_input("meta l4proto udp drop");
    let r = dump.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{err}");
    assert!(err.contains("the rest over TCP"), "{err}");
    let (received, _, _) = udp_line(&err);
    assert!(received > 0, "{err}");
    assert!(
        std::fs::read(&out).unwrap() == want,
        "the dump that fell back differs from a TCP dump: {err}"
    );
}
