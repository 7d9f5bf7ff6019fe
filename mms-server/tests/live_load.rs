//! 1,000 listeners on one publishing point, on loopback, all keeping up:
//! scripted clients (one mio loop in the test thread, each listener a
//! sans-IO `ClientMachine`) join a point fed by a 128 kbit/s WMA played in
//! real time (a looped `file` source),
//! listen together for a window, and each must have received at least 90 %
//! of the packets the point made from its join to the stop, with none
//! disconnected, refused or ended. Bounded: at most 100 opening at once, 30
//! s for all to play, a fixed window, and one deadline over everything.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use mms_proto::asf::{HeaderSummary, PacketInfo};
use mms_proto::client::{
    ClientMachine, Config, Event, Input, OUTPUT_BUF_LEN, Output, Phase, Play, Transmit,
};
use mms_proto::wire::{Limits, Status, frame};
use mms_server::Options;
use mms_server::live::LiveSettings;

/// Listeners.
const LISTENERS: usize = 1000;
/// Listeners in their handshake at once.
const IN_FLIGHT: usize = 100;
/// How long all of them may take to be playing.
const SETUP_LIMIT: Duration = Duration::from_secs(30);
/// How long they all listen together.
const WINDOW: Duration = Duration::from_secs(10);
/// The share of the point's packets every listener must have.
const MIN_SHARE: f64 = 0.90;
/// The point's name.
const NAME: &str = "loadtest";
/// The source file, made once with FFmpeg: 60 s of 128 kbit/s WMA.
const SOURCE: &str = "live-load-128k.wma";

/// A folder holding [`SOURCE`].
fn source_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_load");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(SOURCE);
    if !file.exists() {
        let tmp = dir.join(format!("{SOURCE}.{}.tmp", std::process::id()));
        let (ok, log) = common::run_with_timeout(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
                .args(["-i", "sine=frequency=440:duration=60"])
                .args(["-c:a", "wmav2", "-b:a", "128k", "-f", "asf"])
                .arg(&tmp),
            Duration::from_secs(60),
            "ffmpeg",
        );
        assert!(ok, "making the source file failed: {log}");
        std::fs::rename(&tmp, &file).unwrap();
    }
    dir
}

/// The point: the file as a looped `file` source (the server reads it in
/// real time by its Send Times).
fn point() -> LiveSettings {
    let mut t = toml::map::Map::new();
    t.insert("name".into(), NAME.into());
    t.insert("file".into(), SOURCE.into());
    t.insert("loop".into(), true.into());
    t.insert("restart_max_secs".into(), 1.0.into());
    toml::Value::Table(t).try_into().expect("a [[live]] entry")
}

/// Soft open-files limit raised to what 2 × LISTENERS sockets (both ends
/// are in this process) and the rest need, within the hard limit.
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let want = (2 * LISTENERS + 500) as u64;
    let l = getrlimit(Resource::Nofile);
    if l.current.is_some_and(|c| c >= want) || l.current.is_none() {
        return;
    }
    let new = l.maximum.map_or(want, |m| m.min(want));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(new),
            maximum: l.maximum,
        },
    )
    .expect("setrlimit NOFILE");
    assert!(
        new >= want,
        "the hard open-files limit ({new}) is below the {want} this test needs"
    );
}

/// One listener.
struct Listener {
    stream: TcpStream,
    machine: ClientMachine,
    connected: bool,
    playing: bool,
    header: Vec<u8>,
    out: Vec<u8>,
    pending: Vec<u8>,
    timer: Option<u64>,
    /// Why it is over before the stop (refused, reset, ended, an error).
    lost: Option<String>,
    received: u64,
    /// LocationIds (the point's packet numbers) of the first and last.
    first: Option<u32>,
    last: u32,
    /// Arrival (µs) and Send Time (ms) of its first and last packets.
    first_at: Option<(u64, u32)>,
    last_at: (u64, u32),
}

struct Clients {
    poll: Poll,
    all: Vec<Listener>,
    scratch: Vec<u8>,
    outbuf: Vec<u8>,
    epoch: Instant,
}

impl Clients {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn open(&mut self, addr: SocketAddr) {
        let idx = self.all.len();
        let mut stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.set_nodelay(true);
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(idx),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register");
        let machine = ClientMachine::new(Config::default(), NAME, None).expect("machine");
        self.all.push(Listener {
            stream,
            machine,
            connected: false,
            playing: false,
            header: Vec::new(),
            out: Vec::new(),
            pending: Vec::new(),
            timer: None,
            lost: None,
            received: 0,
            first: None,
            last: 0,
            first_at: None,
            last_at: (0, 0),
        });
    }

    /// Reads, feeds and writes listener `idx`.
    fn service(&mut self, idx: usize, writable: bool) {
        let now = self.now();
        let Clients {
            all,
            scratch,
            outbuf,
            ..
        } = self;
        let l = &mut all[idx];
        if l.lost.is_some() {
            return;
        }
        if let Err(e) = step(l, now, writable, scratch, outbuf) {
            l.lost = Some(e);
            let _ = self.poll.registry().deregister(&mut l.stream);
        }
    }

    fn playing(&self) -> usize {
        self.all
            .iter()
            .filter(|l| l.playing && l.lost.is_none())
            .count()
    }

    fn in_setup(&self) -> usize {
        self.all
            .iter()
            .filter(|l| !l.playing && l.lost.is_none())
            .count()
    }

    /// One turn of the loop: ready sockets, then due timers.
    fn turn(&mut self, events: &mut Events) {
        match self.poll.poll(events, Some(Duration::from_millis(20))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("poll: {e}"),
        }
        let ready: Vec<(usize, bool)> = events
            .iter()
            .map(|e| (e.token().0, e.is_writable()))
            .collect();
        for (idx, writable) in ready {
            self.service(idx, writable);
        }
        let now = self.now();
        for idx in 0..self.all.len() {
            let l = &mut self.all[idx];
            if l.lost.is_none() && l.timer.is_some_and(|t| t <= now) {
                l.timer = None;
                if let Err(e) = l.machine.handle_timeout(mms_proto::time::Instant(now)) {
                    l.lost = Some(format!("timeout: {e:?}"));
                    continue;
                }
                self.service(idx, false);
            }
        }
    }
}

/// Reads what the socket has, feeds whole units to the machine, and sends
/// what it has to say. `Err`: the listener is lost.
fn step(
    l: &mut Listener,
    now: u64,
    writable: bool,
    scratch: &mut [u8],
    outbuf: &mut [u8],
) -> Result<(), String> {
    if writable && !l.connected {
        if let Ok(Some(e)) | Err(e) = l.stream.take_error() {
            return Err(format!("connect: {e}"));
        }
        match l.stream.peer_addr() {
            Ok(_) => l.connected = true,
            Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err(format!("connect: {e}")),
        }
    }
    if !l.connected {
        return Ok(());
    }
    // Bounded: a socket that always has more is read again on its next
    // readiness event.
    for _ in 0..64 {
        let n = match l.stream.read(scratch) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        l.pending.extend_from_slice(&scratch[..n]);
        let data = std::mem::take(&mut l.pending);
        let used = feed(l, &data, now)?;
        l.pending = data[used..].to_vec();
    }
    loop {
        match l
            .machine
            .poll_output(mms_proto::time::Instant(now), outbuf)
            .map_err(|e| format!("{e:?}"))?
        {
            Output::Transmit(Transmit::Tcp(n)) => l.out.extend_from_slice(&outbuf[..n]),
            Output::Transmit(_) => return Err("a UDP transmit".into()),
            Output::Timeout(t) => {
                l.timer = Some(t.0);
                break;
            }
            Output::Wait => break,
            Output::Close => return Err("the machine closed the session".into()),
        }
    }
    while !l.out.is_empty() {
        match l.stream.write(&l.out) {
            Ok(n) => {
                l.out.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    Ok(())
}

/// Feeds every whole unit of `data`; the bytes used.
fn feed(l: &mut Listener, data: &[u8], now: u64) -> Result<usize, String> {
    let limits = Limits::default();
    let mut used = 0;
    let at = mms_proto::time::Instant(now);
    while used < data.len() {
        let rest = &data[used..];
        let f = match frame(rest, &limits).map_err(|e| format!("frame: {e:?}"))? {
            Status::Complete(f) => f,
            Status::Partial(_) => break,
        };
        used += f.len();
        match l
            .machine
            .handle_input(at, Input::tcp(f, rest))
            .map_err(|e| format!("{e:?}"))?
        {
            Some(Event::HeaderPiece { data, last, .. }) => {
                l.header.extend_from_slice(data);
                if last {
                    let set = HeaderSummary::parse(&l.header)
                        .map_err(|e| format!("header: {e:?}"))?
                        .all_streams();
                    l.header = Vec::new();
                    l.machine.set_streams(set);
                    l.machine
                        .play(at, &Play::default())
                        .map_err(|e| format!("play: {e:?}"))?;
                }
            }
            Some(Event::Playing) => l.playing = true,
            Some(Event::Packet {
                location_id, data, ..
            }) => {
                let send = PacketInfo::parse(data)
                    .map_err(|e| format!("packet: {e:?}"))?
                    .send_time;
                l.received += 1;
                l.first.get_or_insert(location_id);
                l.last = location_id;
                l.first_at.get_or_insert((now, send));
                l.last_at = (now, send);
            }
            Some(Event::EndOfStream { .. }) => return Err("ReportEndOfStream".into()),
            _ => {}
        }
    }
    if l.machine.phase() == Phase::Closed {
        return Err("the machine closed".into());
    }
    Ok(used)
}

#[test]
fn a_thousand_listeners_on_one_point_all_keep_up() {
    let started = Instant::now();
    raise_fd_limit();
    let dir = source_dir();
    let mut options = Options::new(mms_proto::server::Config {
        linger: Some(mms_proto::time::Duration::from_secs(1)),
        ..Default::default()
    });
    options.loops = 2;
    options.max_sessions = LISTENERS + 100;
    options.live = vec![point()];
    let server = common::serve_with(&dir, options);
    // The point plays a while first: listeners join mid-run, each with a
    // burst from the ring.
    std::thread::sleep(Duration::from_secs(2));

    let mut c = Clients {
        poll: Poll::new().unwrap(),
        all: Vec::with_capacity(LISTENERS),
        scratch: vec![0; 64 * 1024],
        outbuf: vec![0; OUTPUT_BUF_LEN],
        epoch: Instant::now(),
    };
    let mut events = Events::with_capacity(1024);

    // Everyone joins (at most IN_FLIGHT in their handshake at once).
    let setup_until = Instant::now() + SETUP_LIMIT;
    while c.playing() < LISTENERS {
        assert!(
            Instant::now() < setup_until,
            "{} of {LISTENERS} listeners playing after {SETUP_LIMIT:?} ({} opened); first lost: {:?}",
            c.playing(),
            c.all.len(),
            c.all.iter().find_map(|l| l.lost.clone())
        );
        while c.all.len() < LISTENERS && c.in_setup() < IN_FLIGHT {
            c.open(server.addr);
        }
        c.turn(&mut events);
        if let Some((i, why)) = c
            .all
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.lost.clone().map(|w| (i, w)))
        {
            panic!("listener {i} lost while joining: {why}");
        }
    }

    // All listen together.
    let until = Instant::now() + WINDOW;
    while Instant::now() < until {
        c.turn(&mut events);
    }
    let stop = c.now();

    let lost: Vec<_> = c
        .all
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.lost.as_ref().map(|w| (i, w.clone())))
        .collect();
    assert!(
        lost.is_empty(),
        "{} listeners lost, first: {:?}",
        lost.len(),
        lost.first()
    );
    // The point's newest packet any listener had at the stop.
    let edge = c.all.iter().map(|l| l.last).max().unwrap();
    let mut shares: Vec<(f64, usize)> = Vec::new();
    for (i, l) in c.all.iter().enumerate() {
        let first = l
            .first
            .unwrap_or_else(|| panic!("listener {i} got no packet"));
        let made = u64::from(edge - first) + 1;
        shares.push((l.received as f64 / made as f64, i));
        // Not stalled: its last packet came within the last 2 s, and its
        // content time went on with the clock.
        let (t_last, s_last) = l.last_at;
        let (t_first, s_first) = l.first_at.unwrap();
        assert!(
            stop - t_last < 2_000_000,
            "listener {i}: nothing for {} ms before the stop",
            (stop - t_last) / 1000
        );
        let wall_ms = (t_last - t_first) / 1000;
        let content_ms = u64::from(s_last.wrapping_sub(s_first));
        assert!(
            content_ms * 10 >= wall_ms * 8,
            "listener {i}: {content_ms} ms of content in {wall_ms} ms"
        );
    }
    shares.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (worst, who) = shares[0];
    let l = &c.all[who];
    assert!(
        worst >= MIN_SHARE,
        "listener {who} received {:.1} % of the point's packets since its join ({} of {})",
        worst * 100.0,
        l.received,
        u64::from(edge - l.first.unwrap()) + 1
    );
    drop(c);
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
