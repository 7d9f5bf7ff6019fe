//! The runtime around the machine: several event loops, the session
//! limit, the W3C access log, settings. Driven by a scripted client over
//! real loopback sockets (tests/common/client.rs).

mod common;
use std::io::Read;
use std::sync::{Arc, Mutex};

use common::client::ScriptedClient;
use mms_proto::server::Config;
use mms_proto::wire::{
    ClientLogInfoRepr, ClientLogInfoStrings, ClientLogRepr, ClientLogStrings, HResult, LoggingRepr,
    Message, MessageId, StopPlayingRepr,
};
use mms_server::Options;
use mms_server::access_log::{AccessLog, FIELDS};

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let i = FIELDS.iter().position(|f| *f == name).unwrap();
    line.split(' ').nth(i).unwrap()
}

/// Opens `name`, reads its header, turns every stream on, plays it to the
/// end; the Data packets received.
fn play_whole(c: &mut ScriptedClient, name: &str, streams: &[u16]) -> Vec<(u32, Vec<u8>)> {
    let open = c.open(name).unwrap();
    let Some(Message::ReportOpenFile(r)) = open.message() else {
        panic!("no ReportOpenFile: {open:?}")
    };
    assert_eq!(r.hr, HResult::S_OK);
    c.read_header(1).unwrap();
    c.select(streams, &[]).unwrap();
    c.play_from(0, 2).unwrap();
    let (packets, hr) = c.until_end().unwrap();
    assert_eq!(hr, HResult::S_OK);
    packets
}

#[test]
fn a_play_reported_by_the_client_is_logged_with_its_statistics() {
    let lines = Lines::default();
    let mut options = Options::new(Config {
        paced: false,
        ..Config::default()
    });
    options.access_log = Some(Arc::new(AccessLog::to_writer(Box::new(lines.clone()))));
    let server = common::serve_with(&common::testdata_dir(), options);

    let mut c = ScriptedClient::connect(server.addr).unwrap();
    let packets = play_whole(&mut c, "ff_av.wmv", &[1, 2]);
    assert_eq!(packets.len(), 11);
    let log = ClientLogRepr {
        info: ClientLogInfoRepr {
            strings: ClientLogInfoStrings {
                unique_pid: b"{3300AD50-2C39-46C0-AE0A-60ABC2E07A11}",
                user_agent: b"scripted test",
                ..Default::default()
            },
            client_version: 0x0009_0000_0000_0B9C,
            bytes_received: 35_000,
            packets_received: 11,
            rate: 1,
            ..Default::default()
        },
        strings: ClientLogStrings {
            proto: b"mms",
            transport: b"TCP",
            ..Default::default()
        },
        ip_address: 0xFFFF_FFFF,
        ..Default::default()
    };
    c.send(&Message::Logging(LoggingRepr::Log(&log))).unwrap();
    // A second play on the same connection, stopped by the client and
    // never reported: logged from the server's side when the connection
    // ends.
    c.play_from(5, 3).unwrap();
    c.send(&Message::StopPlaying(StopPlayingRepr {
        open_file_id: 1,
        play_incarnation: 4,
    }))
    .unwrap();
    c.expect(MessageId::ReportEndOfStream).unwrap();
    drop(c);
    // The server notices the close within its loop's next turn.
    let start = std::time::Instant::now();
    while lines.text().lines().count() < 2 && start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(server);
    let text = lines.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        assert_eq!(l.split(' ').count(), FIELDS.len(), "{l}");
        assert_eq!(field(l, "c-ip"), "127.0.0.1");
        assert_eq!(field(l, "cs-uri-stem"), "/ff_av.wmv");
        assert_eq!(field(l, "c-status"), "200");
        assert_eq!(field(l, "filesize"), "36013");
        assert_eq!(field(l, "filelength"), "3");
    }
    let (reported, server_only) = (lines[0], lines[1]);
    assert_eq!(field(reported, "cs(User-Agent)"), "scripted%20test");
    assert_eq!(field(reported, "c-playerversion"), "9.0.0.2972");
    assert_eq!(field(reported, "c-bytes"), "35000");
    assert_eq!(field(reported, "s-pkts-sent"), "11");
    assert_eq!(field(server_only, "c-bytes"), "-");
    assert_eq!(field(server_only, "c-playerversion"), "9.0.0.2980");
}

#[test]
fn several_loops_serve_concurrent_sessions_and_the_limit_holds() {
    let mut options = Options::new(Config {
        paced: false,
        ..Config::default()
    });
    options.loops = 4;
    options.max_sessions = 12;
    let server = common::serve_with(&common::testdata_dir(), options);
    let want = common::packets(
        &std::fs::read(common::testdata_dir().join("ff_small_packets.asf")).unwrap(),
    )
    .1
    .len();
    // 12 sessions at once, each on its own thread.
    let mut clients: Vec<ScriptedClient> = (0..12)
        .map(|_| ScriptedClient::connect(server.addr).unwrap())
        .collect();
    // The 13th is refused: closed without a word.
    let mut extra = std::net::TcpStream::connect(server.addr).unwrap();
    extra
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert_eq!(extra.read(&mut b).unwrap_or(0), 0, "over the limit: closed");
    let handles: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            std::thread::spawn(move || play_whole(&mut c, "ff_small_packets.asf", &[1, 2]).len())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

#[test]
fn a_redirected_path_gets_report_redirect_and_the_connection_closes() {
    let mut options = Options::new(Config::default());
    options.redirects = Arc::new(
        [(
            "old/show.wmv".to_string(),
            "mms://127.0.0.1/demo.wmv".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    let server = common::serve_with(&common::testdata_dir(), options);
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    let answer = c.open("/old/show.wmv").unwrap_err();
    assert_eq!(answer.to_string(), "closed", "no ReportOpenFile");
    let redirect = c
        .log
        .iter()
        .find_map(|u| match u.message() {
            Some(Message::ReportRedirect(r)) => {
                Some((r.redirect_type, r.location.to_string_lossy().to_string()))
            }
            _ => None,
        })
        .expect("a ReportRedirect");
    assert_eq!(redirect, (1, "mms://127.0.0.1/demo.wmv".to_string()));
    assert!(c.recv().unwrap().is_none(), "then the server closes");
}

/// A play longer than the output queue: a turn stops at `max_queued`, the
/// socket takes it all, and the session must go on by itself (it stalled
/// once the file outgrew the socket buffers and the queue: found by `mms
/// dump` of a 11 MB file).
#[test]
fn a_play_larger_than_the_output_queue_goes_on() {
    let server = common::serve_with(
        &common::testdata_dir(),
        Options {
            max_queued: 4096,
            ..Options::new(Config {
                paced: false,
                ..Config::default()
            })
        },
    );
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    let packets = play_whole(&mut c, "ff_lang.wmv", &[1, 2, 3]);
    let file = std::fs::read(common::testdata_dir().join("ff_lang.wmv")).unwrap();
    assert_eq!(packets.len(), common::packets(&file).1.len());
}

/// Waits (bounded) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn connect_disconnect_churn_leaves_no_timer_entries_behind() {
    // issue 14, fault 4: every closed session left its Idle-Timeout entry
    // (an hour away) in the loop's timer heap; 100,000 cycles grew it by
    // 100,000 entries.
    let mut options = Options::new(Config::default());
    options.loops = 1;
    let server = common::serve_with(&common::testdata_dir(), options);
    let stats = &server.stats[0];
    // Each cycle sends Connect (which starts the Idle-Timeout), then leaves.
    let connect = mms_proto::wire::Message::from(mms_proto::wire::ConnectRepr::new(
        mms_proto::wire::MMS_DISABLE_PACKET_PAIR,
        mms_proto::wire::Utf16Str::Str(
            "NSPlayer/9.0.0.3802; {3300AD50-2C39-46C0-AE0A-60ABC2E07A11}",
        ),
    ));
    let mut packet = vec![0u8; mms_proto::wire::TcpMessageHeaderRepr::packet_len(&connect)];
    let n = mms_proto::wire::TcpMessageHeaderRepr {
        seq: 0,
        time_sent: 0,
    }
    .emit_packet(&connect, &mut packet)
    .unwrap();
    const CYCLES: usize = 100_000;
    for _ in 0..CYCLES {
        use std::io::Write as _;
        let mut c = std::net::TcpStream::connect(server.addr).unwrap();
        c.write_all(&packet[..n]).unwrap();
    }
    eventually("every cycle accepted and closed", || {
        stats.accepted.load(std::sync::atomic::Ordering::Relaxed) == CYCLES
            && stats.sessions.load(std::sync::atomic::Ordering::Relaxed) == 0
    });
    let entries = stats
        .timer_entries
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        entries <= 64,
        "{entries} timer entries after {CYCLES} cycles"
    );
}

#[test]
fn connections_arriving_together_are_spread_over_the_loops() {
    // issue 14, faults 3 and 5: connections that arrived together all went
    // to the loop that woke first (it accepted until WouldBlock), and the
    // backlog of 128 overflowed. 1,000 connections wait in the backlog
    // before the loops start; with a listening socket per loop
    // (SO_REUSEPORT) the kernel has already spread them.
    let mut options = Options::new(Config::default());
    options.loops = 2;
    let root = mms_server::content::ContentRoot::new(&common::testdata_dir()).unwrap();
    let server = mms_server::Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
    let addr = server.local_addr().unwrap();
    let stats = server.loop_stats();
    let clients: Vec<_> = (0..1000)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || server.run(&flag));
    let load = |i: usize| stats[i].sessions.load(std::sync::atomic::Ordering::Relaxed);
    eventually("every connection has a session", || {
        load(0) + load(1) == 1000
    });
    let (a, b) = (load(0), load(1));
    // Hashed over two sockets: 500 each ± a few dozen.
    assert!(a.min(b) >= 350, "loop sessions {a} and {b}");
    drop(clients);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    thread.join().unwrap().unwrap();
}
