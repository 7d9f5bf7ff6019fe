//! The mio event loops: one per thread, all accepting from one listening
//! socket. Each loop owns its sessions (a slab) and one timer heap; it
//! reads and frames input, hands packets to the session machine, answers
//! the machine's content requests, and writes with backpressure (a session
//! whose queue is full stops producing until the socket drains, so a slow
//! client stalls only itself).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use mms_proto::server::{Config, Data, Event, Output, Session};
use mms_proto::time::Instant;
use mms_proto::wire::{FILE_ATTRIBUTE_MMS_PLAYLIST, Frame, HResult, Limits, Status, frame};
use slab::Slab;

use crate::access_log::{AccessLog, Play};
use crate::content::{Content, ContentError, ContentRoot};

const LISTENER: Token = Token(usize::MAX);
/// How often a loop looks at the stop flag, at the latest.
const STOP_CHECK: StdDuration = StdDuration::from_millis(100);

/// The runtime's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The session machine's settings.
    pub session: Config,
    /// Event loops (threads), at least 1.
    pub loops: usize,
    /// Connections served at once; more are closed at accept.
    pub max_sessions: usize,
    /// Bytes of unsent output a session may queue.
    pub max_queued: usize,
    /// Bytes of unparsed input a session may hold.
    pub max_input: usize,
    /// Where finished plays are logged.
    pub access_log: Option<Arc<AccessLog>>,
    /// Paths (without the leading `/`) whose clients are redirected to a URL.
    pub redirects: Arc<std::collections::BTreeMap<String, String>>,
}

impl Options {
    /// One loop, default limits, no access log.
    pub fn new(session: Config) -> Self {
        Self {
            session,
            loops: 1,
            max_sessions: 10_000,
            max_queued: 1 << 20,
            max_input: 128 * 1024,
            access_log: None,
            redirects: Arc::default(),
        }
    }
}

/// What every loop shares.
#[derive(Debug)]
struct Shared {
    root: ContentRoot,
    options: Options,
    epoch: std::time::Instant,
    sessions: AtomicUsize,
    next_client_id: AtomicU32,
}

impl Shared {
    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_micros() as u64)
    }

    /// A fresh Client-ID: a Weyl sequence from a clock seed, so ids are
    /// distinct for 2^32 sessions and not guessable from a count alone
    /// ([3.2.3] says SHOULD be random).
    fn client_id(&self) -> u32 {
        self.next_client_id
            .fetch_add(0x9E37_79B9, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9)
    }
}

/// A bound server, not yet running.
pub struct Server {
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `addr` and serves `root`.
    pub fn bind(addr: SocketAddr, root: ContentRoot, options: Options) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                root,
                options,
                epoch: std::time::Instant::now(),
                sessions: AtomicUsize::new(0),
                next_client_id: AtomicU32::new(seed),
            }),
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs the loops until `stop` is set (seen within 100 ms), then closes
    /// every session and returns. The first loop's error, if any.
    pub fn run(&self, stop: &AtomicBool) -> io::Result<()> {
        let loops = self.shared.options.loops.max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..loops)
                .map(|i| {
                    let listener = self.listener.try_clone();
                    let shared = &self.shared;
                    std::thread::Builder::new()
                        .name(format!("mms-loop-{i}"))
                        .spawn_scoped(s, move || {
                            let listener = TcpListener::from_std(listener?);
                            EventLoop::new(listener, shared.clone())?.run(stop)
                        })
                })
                .collect::<io::Result<_>>()?;
            let mut first = Ok(());
            for h in handles {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("an event loop panicked")));
                if first.is_ok() {
                    first = r;
                }
                // One loop failing stops the others.
                stop.store(true, Ordering::Relaxed);
            }
            first
        })
    }
}

/// One loop: its sessions and its timers.
struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Conn>,
    /// (deadline, slab key); stale entries are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    shared: Arc<Shared>,
    /// Buffers the sessions of this loop take turns with.
    scratch: Scratch,
}

/// Room for one output of the machine, and one packet read from a file.
struct Scratch {
    out: Vec<u8>,
    packet: Vec<u8>,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    session: Session,
    input: Vec<u8>,
    output: VecDeque<u8>,
    content: Option<Content>,
    /// The path of the open file, as the client sent it.
    uri: String,
    /// Server-side playlist entries still to play ([3.2.4.2]).
    playlist: VecDeque<std::path::PathBuf>,
    /// A packet the machine said is not due yet: (number, bytes).
    held: Option<(u64, Vec<u8>)>,
    deadline: Option<Instant>,
    /// Where the last seek went, ms (the next play starts there).
    seek_ms: u64,
    /// The play in progress, for the access log.
    play: Option<Play>,
    closing: bool,
}

impl EventLoop {
    fn new(mut listener: TcpListener, shared: Arc<Shared>) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Self {
            poll,
            listener,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            shared,
            scratch: Scratch {
                // A message or a Data packet (≤ 64 KiB packet + 8).
                out: vec![0u8; 70 * 1024],
                packet: Vec::new(),
            },
        })
    }

    fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut ready: Vec<usize> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let now = self.shared.now();
            let timeout = self.timers.peek().map_or(STOP_CHECK, |Reverse((t, _))| {
                StdDuration::from_micros(t.0.saturating_sub(now.0)).min(STOP_CHECK)
            });
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            }
            let now = self.shared.now();
            ready.clear();
            for ev in events.iter() {
                if ev.token() == LISTENER {
                    self.accept(now)?;
                } else if let Some(c) = self.conns.get_mut(ev.token().0) {
                    if ev.is_readable() && !c.closing {
                        c.read(now, &self.shared);
                    }
                    ready.push(ev.token().0);
                }
            }
            // Expired timers.
            while let Some(&Reverse((t, k))) = self.timers.peek() {
                if t > now {
                    break;
                }
                self.timers.pop();
                if let Some(c) = self.conns.get_mut(k) {
                    if c.deadline == Some(t) {
                        c.deadline = None;
                        c.session.handle_timeout(now);
                        ready.push(k);
                    }
                }
            }
            ready.sort_unstable();
            ready.dedup();
            for &k in &ready {
                self.service(k, now);
            }
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.remove(k, "server stopping");
        }
        Ok(())
    }

    /// Lets session `k` produce and write; closes it when it is done.
    fn service(&mut self, k: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let before = c.deadline;
        // Produce and write in turns: a turn stops at `max_queued`; when the
        // socket took all of it, the session has more to say at once (a
        // few turns here, then the next loop iteration, so one fast
        // client cannot starve the others).
        let mut more = false;
        for _ in 0..4 {
            more = c.drive(now, &self.shared, &mut self.scratch);
            c.flush();
            if !more || !c.output.is_empty() || c.closing {
                break;
            }
        }
        if more && c.output.is_empty() && !c.closing {
            // Serviced again on the next iteration (the poll then does not
            // block: this timer is due).
            self.timers.push(Reverse((now, k)));
            c.deadline = Some(now);
        }
        if c.closing && c.output.is_empty() {
            self.remove(k, "closed");
            return;
        }
        // A changed deadline gets a heap entry; the old one goes stale.
        if let Some(t) = c.deadline.filter(|&t| before != Some(t)) {
            self.timers.push(Reverse((t, k)));
        }
        let interest = if c.output.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let _ = self
            .poll
            .registry()
            .reregister(&mut c.stream, Token(k), interest);
    }

    fn remove(&mut self, k: usize, why: &str) {
        let mut c = self.conns.remove(k);
        let _ = self.poll.registry().deregister(&mut c.stream);
        c.end_play(&self.shared, None);
        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
        tracing::info!(peer = %c.peer, why, "session closed");
    }

    fn accept(&mut self, now: Instant) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let max = self.shared.options.max_sessions;
                    if self.shared.sessions.fetch_add(1, Ordering::Relaxed) >= max {
                        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
                        tracing::warn!(%peer, max, "too many sessions: connection refused");
                        continue;
                    }
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    self.poll
                        .registry()
                        .register(&mut stream, Token(key), Interest::READABLE)?;
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or(peer);
                    tracing::info!(%peer, "connection");
                    let session =
                        Session::new(self.shared.options.session, self.shared.client_id());
                    entry.insert(Conn {
                        stream,
                        peer,
                        local,
                        session,
                        input: Vec::new(),
                        output: VecDeque::new(),
                        content: None,
                        uri: String::new(),
                        playlist: VecDeque::new(),
                        held: None,
                        deadline: None,
                        seek_ms: 0,
                        play: None,
                        closing: false,
                    });
                    // The Idle-Timeout runs from the start.
                    self.service(key, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of descriptors and the like: log, keep serving.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return Ok(());
                }
            }
        }
    }
}

impl Conn {
    fn read(&mut self, now: Instant, shared: &Shared) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closing = true;
                    break;
                }
                Ok(n) => {
                    if self.input.len() + n > shared.options.max_input {
                        tracing::warn!(peer = %self.peer, "input bound exceeded");
                        self.closing = true;
                        break;
                    }
                    self.input.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closing = true;
                    break;
                }
            }
        }
        let mut used = 0;
        while !self.closing {
            match frame(&self.input[used..], &Limits::default()) {
                Ok(Status::Complete(Frame::Command(n))) => {
                    let packet = self.input[used..used + n].to_vec();
                    used += n;
                    self.handle(now, &packet, shared);
                }
                Ok(Status::Complete(Frame::Data(_))) | Err(_) => {
                    tracing::warn!(peer = %self.peer, "malformed input");
                    self.closing = true;
                }
                Ok(Status::Partial(_)) => break,
            }
        }
        self.input.drain(..used);
    }

    fn handle(&mut self, now: Instant, packet: &[u8], shared: &Shared) {
        let events = match self.session.handle_tcp(now, packet) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "session ended");
                self.closing = true;
                return;
            }
        };
        for e in events {
            match e {
                Event::OpenRequest { file_name, .. } => {
                    let name = file_name.to_string_lossy();
                    self.end_play(shared, None);
                    if let Some(url) = shared.options.redirects.get(name.trim_start_matches('/')) {
                        tracing::info!(peer = %self.peer, file = %name, %url, "redirect");
                        if let Err(e) = self.session.redirect_open(now, url, false) {
                            self.fail(&e.to_string());
                        }
                        continue;
                    }
                    let opened = if crate::content::is_playlist(&name) {
                        shared.root.playlist(&name).and_then(|entries| {
                            self.playlist = entries.into();
                            self.next_content(shared)
                        })
                    } else {
                        self.playlist.clear();
                        shared.root.open(&name)
                    };
                    let r = match opened {
                        Ok(c) => {
                            let media = if crate::content::is_playlist(&name) {
                                self.entry_media(&c)
                            } else {
                                c.media()
                            };
                            tracing::info!(peer = %self.peer, file = %name, packets = media.packet_count, "open");
                            self.content = Some(c);
                            self.uri = format!("/{}", name.trim_start_matches('/'));
                            self.session.accept_open(now, media)
                        }
                        Err(err) => {
                            tracing::info!(peer = %self.peer, file = %name, %err, "open refused");
                            let hr = match err {
                                ContentError::Forbidden => HResult::E_ACCESSDENIED,
                                ContentError::NotFound => HResult::NS_E_FILE_NOT_FOUND,
                                ContentError::Invalid(_) => HResult::E_FAIL,
                            };
                            self.session.reject_open(now, hr)
                        }
                    };
                    if let Err(e) = r {
                        tracing::warn!(peer = %self.peer, error = %e, "open answer");
                        self.closing = true;
                    }
                }
                Event::SeekRequest { position_ms } => {
                    let packet = self
                        .content
                        .as_ref()
                        .map_or(0, |c| c.packet_for_time(position_ms));
                    tracing::debug!(peer = %self.peer, position_ms, packet, "seek");
                    self.seek_ms = position_ms;
                    if let Err(e) = self.session.seek_to(now, packet) {
                        return self.fail(&e.to_string());
                    }
                }
                Event::PlayStarted { from_packet } => {
                    tracing::debug!(peer = %self.peer, from_packet, "play");
                    self.end_play(shared, None);
                    self.start_play();
                }
                Event::Logging(l) => {
                    tracing::debug!(peer = %self.peer, "client log");
                    match l.log() {
                        Ok(log) => self.end_play(shared, Some(&log)),
                        Err(e) => {
                            tracing::debug!(peer = %self.peer, error = %e, "unreadable client log")
                        }
                    }
                }
                Event::CloseRequested => tracing::debug!(peer = %self.peer, "CloseFile"),
            }
        }
    }

    /// Opens the next playable playlist entry (skipping broken ones).
    fn next_content(&mut self, shared: &Shared) -> Result<Content, ContentError> {
        let mut last = ContentError::NotFound;
        while let Some(path) = self.playlist.pop_front() {
            match shared.root.open_path(path.clone()) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(peer = %self.peer, entry = %path.display(), %e, "playlist entry skipped");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// What the machine needs of a playlist entry: marked a playlist, and
    /// continuing when more entries wait.
    fn entry_media(&self, c: &Content) -> mms_proto::server::Media {
        let mut media = c.media();
        media.attributes |= FILE_ATTRIBUTE_MMS_PLAYLIST;
        media.continues = !self.playlist.is_empty();
        media
    }

    /// [3.2.4.2] The entry ended: the next one, or the end.
    fn next_entry(&mut self, now: Instant, shared: &Shared) {
        self.end_play(shared, None);
        let r = match self.next_content(shared) {
            Ok(c) => {
                let media = self.entry_media(&c);
                tracing::info!(peer = %self.peer, entry = %c.path.display(), "next playlist entry");
                self.content = Some(c);
                self.start_play();
                self.session.next_entry(now, media)
            }
            Err(_) => self.session.end_of_content(now),
        };
        if let Err(e) = r {
            self.fail(&e.to_string());
        }
    }

    fn start_play(&mut self) {
        let Some(c) = &self.content else { return };
        let media = c.media();
        self.play = Some(Play {
            client: self.peer.ip(),
            server: self.local.ip(),
            uri_stem: self.uri.clone(),
            start_ms: std::mem::take(&mut self.seek_ms),
            started: SystemTime::now(),
            file_duration_ms: media.duration_ms,
            file_size: c.file_len(),
            player_version: self.session.client_version().map(|v| v.to_string()),
            bytes_sent: 0,
            packets_sent: 0,
        });
    }

    /// Logs the play in progress, if any (a client log without one is
    /// logged against what the connection last opened).
    fn end_play(&mut self, shared: &Shared, log: Option<&mms_proto::wire::ClientLogRepr<'_>>) {
        let play = self.play.take();
        let Some(access_log) = &shared.options.access_log else {
            return;
        };
        match (play, log) {
            (Some(p), log) => access_log.record(&p, log, SystemTime::now()),
            (None, Some(log)) if self.content.is_some() => {
                self.start_play();
                if let Some(p) = self.play.take() {
                    access_log.record(&p, Some(log), SystemTime::now());
                }
            }
            (None, _) => {}
        }
    }

    /// Runs the machine until it waits, queueing its output; true when it
    /// stopped only because `max_queued` bytes are queued.
    fn drive(&mut self, now: Instant, shared: &Shared, scratch: &mut Scratch) -> bool {
        let Scratch { out: buf, packet } = scratch;
        // A held packet is offered again on every turn: the machine says
        // whether it is due, still early, or cancelled by a stop or seek.
        if let Some((n, bytes)) = self.held.take() {
            if !self.offer(now, n, &bytes, buf) {
                return false;
            }
        }
        while self.output.len() < shared.options.max_queued {
            match self.session.poll_output(now, buf) {
                Output::Send(n) => self.output.extend(&buf[..n]),
                Output::ReadHeader { offset, len } => {
                    let Some(c) = &self.content else {
                        return self.failed("header without content");
                    };
                    // The machine asks only inside the header it was given.
                    let Some(bytes) = c.header().get(offset as usize..(offset + len) as usize)
                    else {
                        return self.failed("header read out of range");
                    };
                    match self.session.header_piece(now, bytes, buf) {
                        Ok(n) => self.output.extend(&buf[..n]),
                        Err(e) => return self.failed(&e.to_string()),
                    }
                }
                Output::ReadPacket { number } => {
                    let Some(c) = &self.content else {
                        return self.failed("packet without content");
                    };
                    if let Err(e) = c.read_packet(number, packet) {
                        return self.failed(&e.to_string());
                    }
                    if !self.offer(now, number, packet, buf) {
                        return false;
                    }
                }
                Output::NextEntry => self.next_entry(now, shared),
                Output::Timeout(t) => {
                    self.deadline = Some(t);
                    return false;
                }
                Output::Wait => {
                    self.deadline = None;
                    return false;
                }
                Output::Close => {
                    self.closing = true;
                    return false;
                }
            }
        }
        true
    }

    /// Offers packet `n` to the machine; false when it is held for later.
    fn offer(&mut self, now: Instant, n: u64, bytes: &[u8], buf: &mut [u8]) -> bool {
        match self.session.data_packet(now, n, bytes, buf) {
            Ok(Data::Send(len)) => {
                self.output.extend(&buf[..len]);
                if let Some(p) = &mut self.play {
                    p.bytes_sent += len as u64;
                    p.packets_sent += 1;
                }
            }
            Ok(Data::Skipped | Data::Cancelled) => {}
            Ok(Data::NotBefore(t)) => {
                self.held = Some((n, bytes.to_vec()));
                self.deadline = Some(t);
                return false;
            }
            Err(e) => {
                self.fail(&e.to_string());
                return false;
            }
        }
        true
    }

    fn failed(&mut self, why: &str) -> bool {
        self.fail(why);
        false
    }

    fn fail(&mut self, why: &str) {
        tracing::warn!(peer = %self.peer, why, "session failed");
        self.closing = true;
    }

    fn flush(&mut self) {
        while !self.output.is_empty() {
            let (a, _) = self.output.as_slices();
            match self.stream.write(a) {
                Ok(0) => {
                    self.closing = true;
                    self.output.clear();
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closing = true;
                    self.output.clear();
                }
            }
        }
    }
}
