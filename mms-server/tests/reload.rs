//! Reload (issue 16) on the `mms-server` binary: `mms-server reload`
//! (SIGHUP through the pid file) changes a redirect while a paced 20 s session
//! keeps streaming — it then gets every payload of its file byte for byte
//! — a bad settings file keeps the redirect in force and shows on
//! `/metrics`, and the access log moved away by a rotation is reopened,
//! new lines going to a new file with its directives.

mod common;
#[path = "common/binary.rs"]
mod server_binary;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::client::ScriptedClient;
use mms_proto::wire::{HResult, Message};
use server_binary::{Binary, free_port};

/// Where `path` is redirected now, per a fresh session.
fn redirect_of(addr: SocketAddr, path: &str) -> Option<String> {
    let mut c = ScriptedClient::connect(addr).unwrap();
    let _ = c.open(path);
    c.log.iter().find_map(|u| match u.message() {
        Some(Message::ReportRedirect(r)) => Some(r.location.to_string_lossy().to_string()),
        _ => None,
    })
}

fn metrics(admin: SocketAddr) -> String {
    let mut s = TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn reload(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mms-server"))
        .arg("reload")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reload_changes_a_redirect_while_a_session_streams_and_a_bad_file_changes_nothing() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reload");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    let config = tmp.join("server.toml");
    let pid = tmp.join("mms-server.pid");
    let log = tmp.join("access.log");
    // A paced 20 s file: the reloads below happen well within its play.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let settings = |redirect: &str| {
        format!(
            "listen = \"{addr}\"\nroot = \"{}\"\nthreads = 2\npid_file = \"{}\"\n\
             access_log = \"{}\"\nlinger_secs = 0.5\n\n[admin]\nlisten = \"{admin}\"\n\n\
             [redirects]\n\"old.wmv\" = \"{redirect}\"\n",
            demo.display(),
            pid.display(),
            log.display()
        )
    };
    std::fs::write(&config, settings("mms://127.0.0.1/first.wmv")).unwrap();
    let mut server = Binary::start(
        &["--config", config.to_str().unwrap()],
        &tmp.join("server.log"),
    );
    server.wait_listening(addr);
    eventually("the pid file", || pid.exists());

    // A paced play, read to its end on its own thread.
    let mut c = ScriptedClient::connect(addr).unwrap();
    let open = c.open("demo.wmv").unwrap();
    assert!(matches!(open.message(), Some(Message::ReportOpenFile(r)) if r.hr == HResult::S_OK));
    c.read_header(1).unwrap();
    c.select(&[1, 2], &[]).unwrap();
    c.play_from(0, 2).unwrap();
    let play = std::thread::spawn(move || {
        let r = c.until_end();
        drop(c); // the play is logged when the connection ends
        r
    });
    assert_eq!(
        redirect_of(addr, "old.wmv").as_deref(),
        Some("mms://127.0.0.1/first.wmv")
    );

    // logrotate's move, then the reload: redirect replaced, log reopened.
    std::fs::rename(&log, tmp.join("access.log.1")).unwrap();
    std::fs::write(&config, settings("mms://127.0.0.1/second.wmv")).unwrap();
    let (ok, said) = reload(&["--config", config.to_str().unwrap()]);
    assert!(ok, "{said}");
    eventually("the new redirect", || {
        redirect_of(addr, "old.wmv").as_deref() == Some("mms://127.0.0.1/second.wmv")
    });
    assert!(log.exists(), "the access log was reopened at its path");

    // A broken file: nothing changes, the failure shows.
    std::fs::write(&config, "threads = \"many\"\n").unwrap();
    let (ok, said) = reload(&["--pid-file", pid.to_str().unwrap()]);
    assert!(ok, "{said}");
    eventually("the failed reload on /metrics", || {
        metrics(admin).contains("mms_config_last_reload_successful 0\n")
    });
    let m = metrics(admin);
    assert!(
        m.contains("mms_config_reloads_total{result=\"success\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("mms_config_reloads_total{result=\"failure\"} 1\n"),
        "{m}"
    );
    assert_eq!(
        redirect_of(addr, "old.wmv").as_deref(),
        Some("mms://127.0.0.1/second.wmv"),
        "the old settings stay in force"
    );
    assert!(
        !play.is_finished(),
        "the reloads are meant to happen while the session streams"
    );

    // The session played on through both reloads: every payload, in order.
    let (packets, hr) = play.join().unwrap().unwrap();
    assert_eq!(hr, HResult::S_OK);
    let file = std::fs::read(demo.join("demo.wmv")).unwrap();
    let got: Vec<&[u8]> = packets.iter().map(|(_, p)| p.as_slice()).collect();
    assert_eq!(
        common::packet_payloads(&got),
        common::payloads(&file),
        "byte for byte"
    );
    assert!(
        m.contains("mms_sessions{state=\"streaming\",transport=\"tcp\"} 1\n"),
        "{m}"
    );

    // Its line went to the reopened log, which starts with the directives.
    eventually("the play's line in the new log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("/demo.wmv"))
    });
    let new_log = std::fs::read_to_string(&log).unwrap();
    assert!(new_log.starts_with("#Software: mms-server"), "{new_log}");
    let old_log = std::fs::read_to_string(tmp.join("access.log.1")).unwrap();
    assert!(!old_log.contains("/demo.wmv"), "{old_log}");

    let (ok, said) = reload(&[]);
    // (Each step above is bounded; the play itself takes its 20 s.)
    assert!(!ok && said.contains("no pid file"), "{said}");
    assert!(server.terminate().success(), "SIGTERM: a clean exit");
    assert!(!pid.exists(), "the pid file is removed at exit");
}
