//! Wireshark's MMS dissector (Debian's tshark) decodes whole captured
//! sessions with no malformed packet and no MSMMS expert warning: FFmpeg
//! pulling a file from mms-server over TCP, and VLC pulling one over UDP
//! (`mmsu://`: commands on TCP, the header and data as datagrams, decoded
//! with `-d udp.port==N,msmms`), with a RequestPacketListResend datagram
//! sent to the server's UDP port as well. Capturing needs root, as CI has.
//! A missing tshark fails with the hint `cargo xtask deps`.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mms_proto::server::Config;

/// Captures loopback traffic matching `filter` while `session` runs;
/// returns the capture file.
fn capture(name: &str, filter: &str, session: impl FnOnce()) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let cap = tmp.join(format!("{name}.pcapng"));
    let log = tmp.join(format!("{name}-capture.log"));
    let _ = std::fs::remove_file(&cap);
    let mut capture = Command::new("tshark")
        .args(["-i", "lo", "-f", filter, "-w"])
        .arg(&cap)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("tshark is needed for this test ({e}): run `cargo xtask deps`"));
    // Wait until it captures (bounded).
    let start = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Capturing on")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "tshark did not start capturing"
        );
        assert!(
            capture.try_wait().unwrap().is_none(),
            "tshark exited: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    session();
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &capture.id().to_string()])
        .status();
    let start = Instant::now();
    while capture.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = capture.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cap
}

/// Decodes `cap` with `decode_as` (`-d` rules) and checks it: at least
/// `frames` MSMMS frames (of which `udp_frames` over UDP), nothing
/// malformed, no MSMMS expert info.
fn check(cap: &Path, decode_as: &[String], frames: usize, udp_frames: usize) {
    let decode = |extra: &[&str]| {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(cap);
        for d in decode_as {
            c.args(["-d", d]);
        }
        let o = c.args(extra).output().expect("tshark runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let summary = decode(&[]);
    let mms_frames = summary.lines().filter(|l| l.contains("MSMMS")).count();
    assert!(
        mms_frames >= frames,
        "only {mms_frames} MSMMS frames decoded:\n{summary}"
    );
    let over_udp = decode(&["-Y", "udp && msmms"]).lines().count();
    assert!(
        over_udp >= udp_frames,
        "only {over_udp} MSMMS datagrams decoded:\n{summary}"
    );
    assert!(
        !summary.to_lowercase().contains("malformed"),
        "malformed packets:\n{summary}"
    );
    let expert = decode(&["-q", "-z", "expert"]);
    let mms_expert: Vec<&str> = expert.lines().filter(|l| l.contains("MSMMS")).collect();
    assert!(mms_expert.is_empty(), "MSMMS expert info:\n{expert}");
}

#[test]
fn tshark_decodes_a_whole_session_cleanly() {
    let (_dir, server) = common::serve_media_unpaced();
    let port = server.addr.port();
    let cap = capture("session", &format!("tcp port {port}"), || {
        let out = common::fresh_path("tshark-ffmpeg.asf");
        let (ok, ff) = common::ffmpeg_pull(server.addr, "long.wmv", &out);
        assert!(ok, "ffmpeg failed:\n{ff}");
    });
    drop(server);
    check(&cap, &[format!("tcp.port=={port},msmms")], 10, 0);
}

#[test]
fn tshark_decodes_a_udp_session_cleanly() {
    let dir = common::testdata_dir();
    let server = common::serve(
        &dir,
        Config {
            udp: true,
            linger: Some(mms_proto::time::Duration::from_secs(1)),
            ..Config::default()
        },
    );
    let port = server.addr.port();
    // VLC receives on UDP 7000 whatever it is told (interop-notes).
    let filter = format!("tcp port {port} or udp port {port} or udp port 7000");
    let _port = common::vlc_udp_port_lock();
    let cap = capture("udp-session", &filter, || {
        let home = common::vlc_dir("vlc-tshark");
        let out = home.join("dump-udp.asf");
        let _ = std::fs::remove_file(&out);
        let url = format!("mmsu://{}/ff_av.wmv", server.addr);
        let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
        cmd.arg(&out).arg("vlc://quit");
        let (ok, log) = common::run_with_timeout(&mut cmd, Duration::from_secs(60), "cvlc");
        assert!(ok, "vlc failed:\n{log}");
        // A resend request as a client sends one (refused: no session has
        // this dwClientId), for the dissector's resend decoder.
        let r = mms_proto::wire::RequestPacketListResendRepr {
            client_id: 7,
            source_id: 1,
            packets: (3..6).collect(),
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut b).unwrap();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        u.send_to(&b, server.addr).unwrap();
    });
    drop(server);
    // The header and ff_av.wmv's 11 packets came as datagrams.
    check(
        &cap,
        &[
            format!("tcp.port=={port},msmms"),
            format!("udp.port=={port},msmms"),
            "udp.port==7000,msmms".to_string(),
        ],
        20,
        12,
    );
}
