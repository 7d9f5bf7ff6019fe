//! The relay source of a `[[live]]` point (`url = "mms://…"`): one
//! upstream session to another MMS server, whose header and data packets
//! feed the point's [`Sink`].
//!
//! The relay runs on its point's own thread, in a current-thread tokio
//! runtime it makes for the run, never on an event loop:
//!
//! * a slow or dead upstream (a connect that hangs, a server that stops
//!   sending) must never stall a loop that serves hundreds of listeners;
//!   here it stalls only its own thread, which still looks at
//!   [`Sink::should_stop`] every [`STOP_CHECK`];
//! * connecting, following redirects, answering a challenge, playing and
//!   reading packets are straight-line code in mms-client, not a state
//!   machine woven into the loop's readiness events;
//! * the client is [`mms_client`], the runtime that is tested against
//!   real servers (redirects, credentials in the URL, servers' faults
//!   tolerated and counted), not a second client written for the server.
//!
//! One call of [`run`] is one upstream session: it returns when the
//! upstream ends (`Ok`), fails (`Err`), or the sink says stop (`Ok`).
//! Reconnecting, with backoff, is the caller's.

use std::future::Future;
use std::time::Duration;

use mms_client::{Error, Options, Session, Start, StreamChoice, Transport};
use mms_proto::asf::HeaderSummary;

use super::source::Sink;

/// How often the relay looks at [`Sink::should_stop`] while it waits for
/// the upstream (connecting, playing, between packets), at the latest.
pub(crate) const STOP_CHECK: Duration = Duration::from_millis(50);

/// How long a stopped or ended relay gives the upstream session to close
/// politely (CloseFile) before it drops the connection.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

/// Pulls `url` (`mms://` and `mmst://` over TCP; `mmsu://` has its Data
/// over UDP) with one upstream session and feeds `sink` until the
/// upstream ends, fails, or `sink.should_stop()`.
///
/// It connects (following redirects, with the credentials of the URL if
/// any), selects every stream, plays from the live edge (the beginning,
/// for a file), and gives the sink the upstream's ASF file header as
/// received, then each data packet as received (padding stripped: the
/// sink pads). When the upstream moves to a new header (a server-side
/// playlist's next entry, a broadcast's stream change: ReportEndOfStream
/// hr 1, ReportStreamChange, the new header) the sink gets the new
/// header, then its packets.
///
/// `Ok` for a clean end of stream or a stop, `Err` (why) for a failure or
/// a header the sink refused. It returns within about [`STOP_CHECK`] +
/// 100 ms of `should_stop` turning true, whatever it is waiting for. It
/// never reconnects: its caller restarts it. Must not be called from
/// inside a tokio runtime (it makes its own).
pub(crate) fn run(point: &str, url: &str, sink: &mut dyn Sink) -> Result<(), String> {
    let shown = without_userinfo(url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the relay's runtime: {e}"))?;
    let began = std::time::Instant::now();
    let mut tally = Tally::default();
    let end = runtime.block_on(relay(point, url, &shown, sink, &mut tally));
    let secs = began.elapsed().as_secs_f64();
    let Tally {
        packets,
        bytes,
        headers,
        missing,
    } = tally;
    match &end {
        Ok(End::Ended) => tracing::info!(
            point,
            url = %shown,
            packets,
            bytes,
            headers,
            missing,
            secs,
            "relay: the upstream ended"
        ),
        Ok(End::Stopped) => tracing::info!(
            point,
            url = %shown,
            packets,
            bytes,
            headers,
            missing,
            secs,
            "relay stopped"
        ),
        Err(error) => tracing::warn!(
            point,
            url = %shown,
            packets,
            bytes,
            headers,
            missing,
            secs,
            %error,
            "relay failed"
        ),
    }
    end.map(drop)
}

/// Why a relay session ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The upstream's end of stream.
    Ended,
    /// The sink said stop.
    Stopped,
}

/// What one run passed on, for its last log line.
#[derive(Debug, Default)]
struct Tally {
    /// Data packets given to the sink.
    packets: u64,
    /// Their bytes, as received.
    bytes: u64,
    /// Headers given to the sink (1 + the upstream's header changes).
    headers: u32,
    /// Packets of an entry that never came (a gap in its LocationIds).
    missing: u64,
}

/// The session: connect, header, play, packets; then a polite close.
async fn relay(
    point: &str,
    url: &str,
    shown: &str,
    sink: &mut dyn Sink,
    tally: &mut Tally,
) -> Result<End, String> {
    let options = Options {
        // Every stream, so local listeners choose among all of them.
        streams: StreamChoice::All,
        // `mms://` over TCP: packets complete and in order, no UDP port
        // for a firewall to block. (`mmsu://` asks for UDP explicitly.)
        transport: Transport::Tcp,
        // A playlist's next entry (or a broadcast's stream change) is the
        // same run with a new header.
        follow_playlist: true,
        ..Options::default()
    };
    tracing::info!(point, url = %shown, "relay connecting");
    let Some(connected) = until_stopped(&*sink, mms_client::connect(url, options)).await else {
        return Ok(End::Stopped);
    };
    let mut session = connected.map_err(|e| format!("connecting: {e}"))?;
    let file = session.file();
    let (header_len, packet_size) = header_facts(session.header(), file.packet_size);
    tracing::info!(
        point,
        url = %shown,
        upstream = %session.url(),
        server = session.server_version_text().unwrap_or("?"),
        header_len,
        packet_size,
        broadcast = file.is_broadcast(),
        udp = session.udp(),
        streams = ?session.selected(),
        "relay connected"
    );
    let end = stream(point, shown, &mut session, sink, tally).await;
    // A clean end or a stop: say goodbye, briefly. A failed session is
    // dropped (its connection closed) as it is.
    if end.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, session.close()).await;
    }
    end
}

/// Header, play, packets, until the end, a failure or a stop.
async fn stream(
    point: &str,
    shown: &str,
    session: &mut Session,
    sink: &mut dyn Sink,
    tally: &mut Tally,
) -> Result<End, String> {
    sink.header(session.header())
        .map_err(|e| format!("the upstream's header: {e}"))?;
    tally.headers += 1;
    // From the live edge: a broadcast starts where it is now whatever the
    // position asked; a file from its beginning.
    match until_stopped(&*sink, session.play_from(Start::Beginning)).await {
        None => return Ok(End::Stopped),
        Some(r) => r.map_err(|e| format!("playing: {e}"))?,
    }
    let mut entry = session.entry();
    let mut next_location: Option<u32> = None;
    loop {
        // A fast upstream never makes the wait below wait: look here too.
        if sink.should_stop() {
            return Ok(End::Stopped);
        }
        let packet = match until_stopped(&*sink, session.next_packet()).await {
            None => return Ok(End::Stopped),
            Some(Ok(Some(p))) => p,
            Some(Ok(None)) => return Ok(End::Ended),
            Some(Err(e)) => return Err(receiving(e)),
        };
        if packet.entry != entry {
            // The session holds the new entry's header by the time its
            // first packet comes (TCP is in order; over UDP the client
            // orders packets by sequence).
            entry = packet.entry;
            next_location = None;
            let (header_len, packet_size) =
                header_facts(session.header(), session.file().packet_size);
            tracing::info!(
                point,
                url = %shown,
                entry,
                header_len,
                packet_size,
                "relay: the upstream's header changed"
            );
            sink.header(session.header())
                .map_err(|e| format!("the upstream's new header (entry {entry}): {e}"))?;
            tally.headers += 1;
        }
        if let Some(want) = next_location
            && packet.location_id > want
        {
            let gap = u64::from(packet.location_id - want);
            tally.missing += gap;
            tracing::debug!(
                point,
                url = %shown,
                from = want,
                packets = gap,
                "relay: packets missing"
            );
        }
        next_location = packet.location_id.checked_add(1);
        tally.packets += 1;
        tally.bytes += packet.data.len() as u64;
        sink.packet(&packet.data);
    }
}

/// A failure while packets come, told as a sentence.
fn receiving(e: Error) -> String {
    match e {
        Error::Protocol(mms_proto::client::ClientError::ConnectionClosed) => {
            "the upstream closed the connection mid-stream".to_string()
        }
        e => format!("receiving: {e}"),
    }
}

/// The header's length and its packet size (ReportOpenFile's when the
/// header does not parse; the sink says why it refuses it).
fn header_facts(header: &[u8], reported: u32) -> (usize, u32) {
    let size = HeaderSummary::parse(header).map_or(reported, |h| h.packet_size);
    (header.len(), size)
}

/// `work`, unless the sink says stop first (then `None`, and `work` is
/// dropped: mms-client's futures cancel when dropped). The sink is looked
/// at every [`STOP_CHECK`] while `work` waits.
async fn until_stopped<T>(sink: &dyn Sink, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        // The work first: when it is ready at once (a fast upstream) no
        // timer is set; the caller looks at the sink before each packet.
        biased;
        r = work => Some(r),
        () = stopped(sink) => None,
    }
}

/// Ready once the sink says stop.
async fn stopped(sink: &dyn Sink) {
    while !sink.should_stop() {
        tokio::time::sleep(STOP_CHECK).await;
    }
}

/// `url` for a log line: anything that may be `user:password@` replaced
/// by `…@`. Stricter than the client's parse (which ends the authority at
/// the first `/` or `?`): everything between `://` and the last `@` goes,
/// so a password holding a `/` is not shown either, at the price of part
/// of a path that holds an `@`.
fn without_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
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
            let server =
                crate::Server::bind("127.0.0.1:0".parse().unwrap(), root, options).unwrap();
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
}
