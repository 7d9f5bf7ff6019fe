//! Wireshark's MMS dissector (Debian's tshark) decodes a whole captured
//! session — FFmpeg pulling a file from mms-server on loopback — with no
//! malformed packet and no MSMMS expert warning. Capturing needs root, as
//! CI has. A missing tshark fails with the hint `cargo xtask deps`.

mod common;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn tshark_decodes_a_whole_session_cleanly() {
    let (_dir, server) = common::serve_media_unpaced();
    let port = server.addr.port();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let cap = tmp.join("session.pcapng");
    let log = tmp.join("tshark-capture.log");
    let _ = std::fs::remove_file(&cap);
    let mut capture = Command::new("tshark")
        .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
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
    let out = common::fresh_path("tshark-ffmpeg.asf");
    let (ok, ff) = common::ffmpeg_pull(server.addr, "long.wmv", &out);
    assert!(ok, "ffmpeg failed:\n{ff}");
    std::thread::sleep(Duration::from_millis(500));
    drop(server);
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

    let decode = |extra: &[&str]| {
        let o = Command::new("tshark")
            .arg("-r")
            .arg(&cap)
            .args(["-d", &format!("tcp.port=={port},msmms")])
            .args(extra)
            .output()
            .expect("tshark runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let summary = decode(&[]);
    let mms_frames = summary.lines().filter(|l| l.contains("MSMMS")).count();
    assert!(
        mms_frames >= 10,
        "only {mms_frames} MSMMS frames decoded:\n{summary}"
    );
    assert!(
        !summary.to_lowercase().contains("malformed"),
        "malformed packets:\n{summary}"
    );
    let expert = decode(&["-q", "-z", "expert"]);
    let mms_expert: Vec<&str> = expert.lines().filter(|l| l.contains("MSMMS")).collect();
    assert!(mms_expert.is_empty(), "MSMMS expert info:\n{expert}");
}
