//! Tests of [`super`] (relay.rs).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mms_proto::asf::{AsfReader, AsfUnit, PacketInfo};
use mms_proto::server::Config;
use mms_proto::wire::Status;

use super::*;
use crate::content::ContentRoot;

/// What a relay gave its sink.
#[derive(Debug, Default)]
struct Got {
    headers: Vec<Vec<u8>>,
    /// Each packet with the number of headers before it.
    packets: Vec<(usize, Vec<u8>)>,
}

/// A sink that keeps everything, stops when told (from another
/// thread), and can refuse headers.
#[derive(Clone, Default)]
struct Collect {
    got: Arc<Mutex<Got>>,
    stop: Arc<AtomicBool>,
    /// Times should_stop was asked.
    asked: Arc<AtomicUsize>,
    refuse_headers: bool,
}

impl Sink for Collect {
    fn header(&mut self, header: &[u8]) -> Result<(), String> {
        if self.refuse_headers {
            return Err("not wanted".into());
        }
        self.got.lock().unwrap().headers.push(header.to_vec());
        Ok(())
    }
    fn packet(&mut self, packet: &[u8]) {
        let mut got = self.got.lock().unwrap();
        let n = got.headers.len();
        got.packets.push((n, packet.to_vec()));
    }
    fn should_stop(&self) -> bool {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.stop.load(Ordering::Relaxed)
    }
}

/// A server on 127.0.0.1 in a thread, stopped when dropped.
struct Upstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Upstream {
    fn serve(dir: &Path, paced: bool) -> Self {
        let config = Config {
            paced,
            ..Config::default()
        };
        Self::serve_with(dir, crate::Options::new(config))
    }

    fn serve_with(dir: &Path, options: crate::Options) -> Self {
        let root = ContentRoot::new(dir).unwrap();
        let server = crate::Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
        let addr = server.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = Some(std::thread::spawn(move || server.run(&flag)));
        Self { addr, stop, thread }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let r = t.join().expect("the server's thread");
            if !std::thread::panicking() {
                r.expect("the server");
            }
        }
    }
}

/// A packet's payloads (stream, key frame, media object, offset,
/// data): what the tests compare.
fn payloads(packet: &[u8]) -> Vec<(u8, bool, u32, u32, Vec<u8>)> {
    let info = PacketInfo::parse(packet).expect("an ASF packet");
    info.payloads(packet)
        .map(|p| {
            let p = p.expect("a payload");
            (
                p.stream,
                p.key_frame,
                p.media_object_number,
                p.offset,
                p.data.to_vec(),
            )
        })
        .collect()
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// A fresh folder holding these test files and a playlist of them
/// (`show.m3u`, the files in this order, `times` over).
fn playlist_root(tag: &str, files: &[&str], times: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mms-relay-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files {
        std::fs::copy(testdata().join(f), dir.join(f)).unwrap();
    }
    let list: String = (0..times)
        .flat_map(|_| files.iter().map(|f| format!("{f}\n")))
        .collect();
    std::fs::write(dir.join("show.m3u"), list).unwrap();
    dir
}

/// A file's ASF header and data packets, as stored.
fn file_units(name: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let file = std::fs::read(testdata().join(name)).unwrap();
    let mut r = AsfReader::default();
    let (mut off, mut header, mut packets) = (0, Vec::new(), Vec::new());
    while let Ok(Status::Complete(u)) = r.next(&file[off..]) {
        match u {
            AsfUnit::Header { len, start, .. } => {
                header = file[off + start..off + len].to_vec();
                off += len;
            }
            AsfUnit::Packet { len, start, .. } => {
                packets.push(file[off + start..off + len].to_vec());
                off += len;
            }
            AsfUnit::End => break,
        }
    }
    assert!(!header.is_empty() && packets.len() > 2, "{name}");
    (header, packets)
}

/// Asserts the packets received are the file's, payload for payload
/// (the server strips padding: bytes differ, payloads do not), each
/// one shorter than or as long as the packet size.
fn assert_same_packets(name: &str, got: &[&[u8]]) {
    let (header, want) = file_units(name);
    let size = HeaderSummary::parse(&header).unwrap().packet_size as usize;
    assert_eq!(got.len(), want.len(), "{name}: packet count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(g.len() <= size, "{name}: packet {i} longer than P");
        let send = |p: &[u8]| PacketInfo::parse(p).unwrap().send_time;
        assert_eq!(send(g), send(w), "{name}: packet {i}'s send time");
        assert_eq!(payloads(g), payloads(w), "{name}: packet {i}'s payloads");
    }
}

/// Runs the relay on a thread; its result comes on the channel.
fn spawn_relay(url: String, sink: &Collect) -> std::sync::mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut sink = sink.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run("test", &url, &mut sink));
    });
    rx
}

/// Waits (up to 10 s) until `ready` holds of what the sink got.
fn wait_for(sink: &Collect, ready: impl Fn(&Got) -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ready(&sink.got.lock().unwrap()) {
        assert!(Instant::now() < until, "the relay gave too little in 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn relays_a_file_header_and_packets_as_the_upstream_has_them() {
    let upstream = Upstream::serve(&testdata(), false);
    for name in ["ff_av.wmv", "ff_small_packets.asf", "gst_av.wmv"] {
        let mut sink = Collect::default();
        let r = run(
            "test",
            &format!("mms://{}/{name}", upstream.addr),
            &mut sink,
        );
        assert_eq!(r, Ok(()), "{name}");
        let got = sink.got.lock().unwrap();
        assert_eq!(got.headers.len(), 1, "{name}");
        assert_eq!(got.headers[0], file_units(name).0, "{name}: header");
        assert!(got.packets.iter().all(|(h, _)| *h == 1));
        let packets: Vec<&[u8]> = got.packets.iter().map(|(_, p)| &p[..]).collect();
        assert_same_packets(name, &packets);
    }
}

#[test]
fn mmst_is_relayed_too() {
    let upstream = Upstream::serve(&testdata(), false);
    let mut sink = Collect::default();
    let url = format!("mmst://{}/ff_audio.wma", upstream.addr);
    assert_eq!(run("test", &url, &mut sink), Ok(()));
    let got = sink.got.lock().unwrap();
    assert_eq!(got.headers, [file_units("ff_audio.wma").0]);
    let packets: Vec<&[u8]> = got.packets.iter().map(|(_, p)| &p[..]).collect();
    assert_same_packets("ff_audio.wma", &packets);
}

#[test]
fn mmsu_is_relayed_over_udp() {
    let upstream = Upstream::serve_with(
        &testdata(),
        crate::Options::new(Config {
            paced: false,
            udp: true,
            ..Config::default()
        }),
    );
    let mut sink = Collect::default();
    let url = format!("mmsu://{}/ff_av.wmv", upstream.addr);
    assert_eq!(run("test", &url, &mut sink), Ok(()));
    let got = sink.got.lock().unwrap();
    assert_eq!(got.headers, [file_units("ff_av.wmv").0]);
    let packets: Vec<&[u8]> = got.packets.iter().map(|(_, p)| &p[..]).collect();
    assert_same_packets("ff_av.wmv", &packets);
}

#[test]
fn a_new_header_upstream_is_a_new_header_downstream() {
    let (a, b) = ("ff_av.wmv", "ff_audio.wma");
    let dir = playlist_root("change", &[a, b], 1);
    let upstream = Upstream::serve(&dir, false);
    let mut sink = Collect::default();
    let r = run(
        "test",
        &format!("mms://{}/show.m3u", upstream.addr),
        &mut sink,
    );
    assert_eq!(r, Ok(()));
    let got = sink.got.lock().unwrap();
    assert_eq!(got.headers, [file_units(a).0, file_units(b).0]);
    for (n, name) in [(1, a), (2, b)] {
        let packets: Vec<&[u8]> = got
            .packets
            .iter()
            .filter(|(h, _)| *h == n)
            .map(|(_, p)| &p[..])
            .collect();
        assert_same_packets(name, &packets);
    }
    assert!(
        got.packets.windows(2).all(|w| w[0].0 <= w[1].0),
        "packets of the two entries interleaved"
    );
    drop(got);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn should_stop_ends_a_paced_relay_at_once() {
    // Twenty plays of the file, paced: the upstream is far from its
    // end when the stop comes.
    let dir = playlist_root("stop", &["ff_av.wmv"], 20);
    let upstream = Upstream::serve(&dir, true);
    let sink = Collect::default();
    let done = spawn_relay(format!("mms://{}/show.m3u", upstream.addr), &sink);
    wait_for(&sink, |g| g.packets.len() >= 3);
    sink.stop.store(true, Ordering::Relaxed);
    let asked = Instant::now();
    let r = done.recv_timeout(Duration::from_secs(5));
    let took = asked.elapsed();
    assert_eq!(r, Ok(Ok(())));
    assert!(took < Duration::from_millis(500), "took {took:?}");
    let got = sink.got.lock().unwrap();
    let whole = 20 * file_units("ff_av.wmv").1.len();
    assert!(
        got.packets.len() < whole / 2,
        "{} of {whole} packets: the upstream was not paced",
        got.packets.len()
    );
    drop(got);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn should_stop_ends_a_relay_waiting_for_a_silent_upstream() {
    // A server that accepts and never says a word: the relay waits
    // for its answer to Connect (for 10 s, the connect timeout).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || silent.accept().map(|(c, _)| c));
    let sink = Collect::default();
    let done = spawn_relay(format!("mms://{addr}/radio"), &sink);
    // It is waiting: it asks the sink over and over, and gives nothing.
    let until = Instant::now() + Duration::from_secs(5);
    while sink.asked.load(Ordering::Relaxed) < 3 {
        assert!(
            Instant::now() < until,
            "the relay does not look at the sink"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(done.try_recv().is_err(), "the relay returned on its own");
    sink.stop.store(true, Ordering::Relaxed);
    let asked = Instant::now();
    let r = done.recv_timeout(Duration::from_secs(5));
    assert!(asked.elapsed() < Duration::from_millis(500));
    assert_eq!(r, Ok(Ok(())));
    assert!(sink.got.lock().unwrap().headers.is_empty());
    let _connection = held.join().unwrap();
}

#[test]
fn failures_are_errors_with_a_reason() {
    let upstream = Upstream::serve(&testdata(), false);
    let mut sink = Collect::default();
    let missing = run(
        "test",
        &format!("mms://{}/no-such.wmv", upstream.addr),
        &mut sink,
    );
    assert!(missing.as_ref().is_err_and(|e| e.starts_with("connecting")));
    // A port nobody listens on (bound, then closed).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let refused = run("test", &format!("mms://127.0.0.1:{port}/x"), &mut sink);
    assert!(refused.is_err());
    let not_mms = run("test", "http://example.org/x", &mut sink);
    assert!(not_mms.is_err());
    // A header the sink refuses stops the relay.
    let mut refusing = Collect {
        refuse_headers: true,
        ..Collect::default()
    };
    let url = format!("mms://{}/ff_av.wmv", upstream.addr);
    let r = run("test", &url, &mut refusing);
    assert_eq!(r, Err("the upstream's header: not wanted".to_string()));
    assert!(refusing.got.lock().unwrap().packets.is_empty());
    assert!(sink.got.lock().unwrap().headers.is_empty());
}

/// A log writer the test reads back.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn relays_a_protected_upstream_without_logging_its_password() {
    let auth: crate::auth_settings::AuthSettings =
        toml::from_str("users = \"unused\"\nprotect = [\"ff_av.wmv\"]\n").unwrap();
    let mut users = crate::users::Users::default();
    users.set("alice", "s3cret-pw").unwrap();
    let policy = crate::auth_policy::AuthPolicy::new(&auth, users).unwrap();
    let upstream = Upstream::serve_with(
        &testdata(),
        crate::Options {
            auth: Some(Arc::new(policy)),
            ..crate::Options::new(Config {
                paced: false,
                auth: Some(crate::auth_policy::offer(&auth)),
                ..Config::default()
            })
        },
    );
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let url = |user: &str| format!("mms://{user}@{}/ff_av.wmv", upstream.addr);
    // With one subscriber registered, tracing computes a log line's
    // interest from the subscriber of the thread that reaches it first
    // (tracing-core's "just one" shortcut): another test's relay
    // thread, with none, would turn the line off for this one too. A
    // second subscriber, alive for the test, makes every thread ask
    // both.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let (with, without, wrong) = tracing::subscriber::with_default(subscriber, || {
        let mut sink = Collect::default();
        let with = run("test", &url("alice:s3cret-pw"), &mut sink);
        let got = sink.got.lock().unwrap();
        assert_eq!(got.headers, [file_units("ff_av.wmv").0]);
        let packets: Vec<&[u8]> = got.packets.iter().map(|(_, p)| &p[..]).collect();
        assert_same_packets("ff_av.wmv", &packets);
        let without = run(
            "test",
            &format!("mms://{}/ff_av.wmv", upstream.addr),
            &mut Collect::default(),
        );
        let wrong = run("test", &url("alice:s3cret-pX"), &mut Collect::default());
        (with, without, wrong)
    });
    assert_eq!(with, Ok(()));
    assert!(without.is_err() && wrong.is_err(), "{without:?} {wrong:?}");
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("relay connected"), "{text}");
    assert!(text.contains("relay failed"), "{text}");
    assert!(!text.contains("s3cret"), "the password in the log:\n{text}");
    assert!(!text.contains("alice:"), "the userinfo in the log:\n{text}");
}

#[test]
fn credentials_are_left_out_of_logged_urls() {
    assert_eq!(
        without_userinfo("mms://alice:s3cret@origin.example.org:1755/radio"),
        "mms://…@origin.example.org:1755/radio"
    );
    assert_eq!(without_userinfo("mmst://bob@h/x"), "mmst://…@h/x");
    // A password holding `/` or `?` is hidden as well.
    assert_eq!(without_userinfo("mms://carol:a/b?c@h/x"), "mms://…@h/x");
    assert_eq!(
        without_userinfo("mms://origin.example.org/radio"),
        "mms://origin.example.org/radio"
    );
    assert_eq!(without_userinfo("not a url @ all"), "not a url @ all");
}
