//! The mio event loops: one per thread, each with its own listening socket
//! on the shared port (SO_REUSEPORT). Each loop owns its sessions (a
//! slab of [`crate::conn`] connections), one timer heap and the scratch
//! buffers its sessions take turns with; it accepts (refusing cleanly at
//! the descriptor limit), services connections with I/O or an expired
//! timer, and keeps backpressure: a session whose queue is full —
//! `max_queued` bytes, plus at most one unit — stops producing until the
//! socket drains, so a slow client stalls only itself. Each loop also has
//! a UDP socket on the same port for Data over UDP and resend requests
//! ([`crate::udp`]). What to answer the
//! machine's events is [`crate::answers`]'s: this file only moves bytes
//! and keeps time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, SystemTime};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use mms_proto::machine::Input;
use mms_proto::server::{Config, ServerMachine};
use mms_proto::time::Instant;
use mms_proto::wire::Limits;
use slab::Slab;

use crate::access_log::AccessLog;
use crate::answers::{Answers, Site};
use crate::conn::{Conn, Scratch};
use crate::content::ContentRoot;
use crate::metrics::{LoopStats, Metrics};
use crate::reload::Live;
use crate::sockets::{listener, out_of_descriptors, sessions_for_fd_limit};
use crate::udp::{self, Datagram, Mailbox};

const LISTENER: Token = Token(usize::MAX);
const UDP: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// How soon a loop that ran out of descriptors tries to accept again.
const ACCEPT_RETRY: StdDuration = StdDuration::from_millis(20);
/// How often a loop looks at the stop flag, at the latest.
const STOP_CHECK: StdDuration = StdDuration::from_millis(100);

/// The runtime's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The session machine's settings.
    pub session: Config,
    /// Event loops (threads), at least 1.
    pub loops: usize,
    /// Connections served at once; more are closed at accept. By default
    /// what the descriptor limit allows ([`sessions_for_fd_limit`]).
    pub max_sessions: usize,
    /// Bytes of unsent output a session may queue.
    pub max_queued: usize,
    /// Bytes of unparsed input a session may hold.
    pub max_input: usize,
    /// Bounds applied while framing input (the longest command).
    pub limits: Limits,
    /// Where finished plays are logged.
    pub access_log: Option<Arc<AccessLog>>,
    /// Paths (without the leading `/`) whose clients are redirected to a
    /// URL, at start: a reload replaces them ([`Server::live`]).
    pub redirects: Arc<std::collections::BTreeMap<String, String>>,
    /// `[auth]`: protected paths and their users (`None`: everything is
    /// public). The session's [`Config::auth`] must offer its schemes.
    pub auth: Option<Arc<crate::auth_policy::AuthPolicy>>,
    /// Publishing points, each with its source ([`crate::live`]).
    pub live: Vec<crate::live::LiveSettings>,
}

impl Options {
    /// One loop, default limits, no access log.
    pub fn new(session: Config) -> Self {
        Self {
            session,
            loops: 1,
            max_sessions: sessions_for_fd_limit(),
            max_queued: 1 << 20,
            max_input: 128 * 1024,
            limits: Limits::default(),
            access_log: None,
            redirects: Arc::default(),
            auth: None,
            live: Vec::new(),
        }
    }
}

/// What every loop shares.
#[derive(Debug)]
pub(crate) struct Shared {
    root: ContentRoot,
    pub(crate) options: Options,
    epoch: std::time::Instant,
    sessions: AtomicUsize,
    next_client_id: AtomicU32,
    /// One per loop, in loop order.
    loop_stats: Arc<[LoopStats]>,
    /// Resend requests passed between loops, and publishing points'
    /// wake-ups, one mailbox per loop.
    mailboxes: Arc<[Mailbox]>,
    /// The publishing points ([`crate::live`]).
    points: crate::live::Points,
    /// The random key Client-IDs are hashed with.
    id_keys: std::collections::hash_map::RandomState,
    /// What the admin listener reads.
    pub(crate) metrics: Arc<Metrics>,
    /// The settings a reload changes.
    live: Arc<Live>,
}

impl Shared {
    pub(crate) fn site(&self) -> Site<'_> {
        Site {
            root: &self.root,
            options: &self.options,
            metrics: &self.metrics,
            live: &self.live,
            points: &self.points,
        }
    }

    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_micros() as u64)
    }

    /// A fresh Client-ID ([3.2.3]: SHOULD be random): a count hashed with
    /// the process's randomly keyed SipHash, so one session's id says
    /// nothing of another's (a resend request must name its session's).
    fn client_id(&self) -> u32 {
        use std::hash::BuildHasher;
        let n = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        self.id_keys.hash_one(n) as u32
    }
}

/// A bound server, not yet running.
pub struct Server {
    /// One listening socket per loop, all on the same address.
    listeners: Vec<std::net::TcpListener>,
    /// One UDP socket per loop on the same port, when UDP is on.
    udp_sockets: Vec<std::net::UdpSocket>,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `addr` and serves `root`.
    pub fn bind(addr: SocketAddr, root: ContentRoot, options: Options) -> io::Result<Self> {
        let loops = options.loops.max(1);
        let first = listener(addr)?;
        // Port 0 chose a port: the other loops bind that one.
        let bound = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..loops {
            listeners.push(listener(bound)?);
        }
        // [3.2.5.11] Resend requests come to the UDP port with the TCP
        // port's number.
        let udp_sockets = if options.session.udp {
            (0..loops)
                .map(|_| udp::socket(bound))
                .collect::<io::Result<_>>()
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "UDP port {} (set udp = false to serve TCP only): {e}",
                            bound.port()
                        ),
                    )
                })?
        } else {
            Vec::new()
        };
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        let loop_stats: Arc<[LoopStats]> = (0..loops).map(|_| LoopStats::default()).collect();
        let mailboxes: Arc<[Mailbox]> = (0..loops).map(|_| Mailbox::default()).collect();
        let metrics = Arc::new(Metrics::new(loop_stats.clone(), options.max_sessions));
        let points = crate::live::Points::new(&options.live, mailboxes.clone(), &metrics);
        Ok(Self {
            listeners,
            udp_sockets,
            shared: Arc::new(Shared {
                root,
                epoch: std::time::Instant::now(),
                sessions: AtomicUsize::new(0),
                next_client_id: AtomicU32::new(seed),
                metrics,
                points,
                live: Arc::new(Live::new(options.redirects.as_ref().clone())),
                options,
                loop_stats,
                mailboxes,
                id_keys: std::collections::hash_map::RandomState::new(),
            }),
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners[0].local_addr()
    }

    /// Each loop's own figures, live while the server runs.
    pub fn loop_stats(&self) -> Arc<[LoopStats]> {
        self.shared.loop_stats.clone()
    }

    /// The counters and session snapshots the admin listener reads.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The settings a reload changes ([`crate::reload`]).
    pub fn live(&self) -> Arc<Live> {
        self.shared.live.clone()
    }

    /// Runs the loops until `stop` is set (seen within 100 ms), then closes
    /// every session and returns. The first loop's error, if any.
    pub fn run(&self, stop: &AtomicBool) -> io::Result<()> {
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .listeners
                .iter()
                .enumerate()
                .map(|(i, listener)| {
                    let listener = listener.try_clone();
                    let udp = self.udp_sockets.get(i).map(|u| u.try_clone());
                    let shared = &self.shared;
                    std::thread::Builder::new()
                        .name(format!("mms-loop-{i}"))
                        .spawn_scoped(s, move || {
                            let listener = TcpListener::from_std(listener?);
                            let udp = udp.transpose()?.map(UdpSocket::from_std);
                            EventLoop::new(i, listener, udp, shared.clone())?.run(stop)
                        })
                })
                .collect::<io::Result<_>>()?;
            // Each point's source on a thread of its own: a source that
            // blocks (a pipe, an upstream server) never stalls a loop.
            for point in self.shared.points.iter() {
                let root = &self.shared.root;
                let spawned = std::thread::Builder::new()
                    .name(format!("mms-live-{}", point.name()))
                    .spawn_scoped(s, move || crate::live::supervise(point, root, stop));
                if let Err(e) = spawned {
                    // The loops stop too: the server fails rather than run
                    // without its point.
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
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
    /// Which loop (its index in `Shared::loop_stats`).
    index: usize,
    /// A descriptor held back for the moment the process runs out: freed,
    /// it lets accept take a waiting connection to close it at once (a
    /// clean refusal instead of a client left hanging), then taken again.
    spare: Option<std::fs::File>,
    /// Accept again on the next turn: connections may wait that the
    /// edge-triggered listener will not report again.
    accept_pending: bool,
    poll: Poll,
    listener: TcpListener,
    /// Data over UDP goes out here; resend requests come in.
    udp: Option<UdpSocket>,
    /// Client-ID → slab key, for resend requests.
    clients: HashMap<u32, usize>,
    conns: Slab<Conn>,
    /// (deadline, slab key); stale entries are skipped when popped.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    shared: Arc<Shared>,
    /// Buffers the sessions of this loop take turns with.
    scratch: Scratch,
    /// Sessions waiting for a publishing point's packets (or header).
    parked: crate::live::Parked,
}

impl EventLoop {
    fn new(
        index: usize,
        mut listener: TcpListener,
        mut udp: Option<UdpSocket>,
        shared: Arc<Shared>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        if let Some(u) = udp.as_mut() {
            poll.registry().register(u, UDP, Interest::READABLE)?;
        }
        // Other loops' resend requests, and publishing points' packets.
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let _ = shared.mailboxes[index].waker.set(waker);
        Ok(Self {
            index,
            spare: std::fs::File::open("/dev/null").ok(),
            accept_pending: false,
            poll,
            listener,
            udp,
            clients: HashMap::new(),
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            shared,
            scratch: Scratch {
                // A message or a Data packet (≤ 64 KiB packet + 8).
                out: vec![0u8; 70 * 1024],
                packet: Vec::new(),
            },
            parked: std::array::from_fn(|_| Vec::new()),
        })
    }

    fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut ready: Vec<usize> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let now = self.shared.now();
            let mut timeout = self.timers.peek().map_or(STOP_CHECK, |Reverse((t, _))| {
                StdDuration::from_micros(t.0.saturating_sub(now.0)).min(STOP_CHECK)
            });
            if self.accept_pending {
                // Out of descriptors a moment ago: look again soon.
                timeout = timeout.min(ACCEPT_RETRY);
            }
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            }
            let now = self.shared.now();
            ready.clear();
            if self.accept_pending {
                self.accept(now)?;
            }
            for ev in events.iter() {
                if ev.token() == LISTENER {
                    self.accept(now)?;
                } else if ev.token() == UDP {
                    self.receive_datagrams(now, &mut ready);
                } else if ev.token() == WAKER {
                    for d in self.shared.mailboxes[self.index].take() {
                        self.deliver(now, d, &mut ready);
                    }
                    let mask = self.shared.mailboxes[self.index]
                        .live
                        .swap(0, Ordering::AcqRel);
                    if mask != 0 {
                        crate::live::wake(&mut self.conns, &mut self.parked, mask, &mut ready);
                    }
                    // A turn that stopped reading early woke itself.
                    self.receive_datagrams(now, &mut ready);
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
                        if let Err(e) = c.machine.handle_timeout(now) {
                            c.fail(&e.to_string());
                        }
                        ready.push(k);
                    }
                }
            }
            ready.sort_unstable();
            ready.dedup();
            for &k in &ready {
                self.service(k, now);
            }
            let stats = &self.shared.loop_stats[self.index];
            stats.sessions.store(self.conns.len(), Ordering::Relaxed);
            stats
                .timer_entries
                .store(self.timers.len(), Ordering::Relaxed);
            let metrics = &self.shared.metrics;
            metrics.end_turn(self.index, now, self.shared.now(), &self.conns);
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
            // A closing session (its client left, or it failed) produces
            // nothing more; what it queued is still written.
            if !c.closing {
                let stats = &self.shared.loop_stats[self.index];
                more = c.drive(
                    now,
                    &self.shared,
                    &mut self.scratch,
                    self.udp.as_ref(),
                    (self.index, stats),
                );
            }
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
        if let Some(slot) = c.parked_slot().filter(|_| c.parked && !c.listed) {
            c.listed = true;
            self.parked[slot].push(k);
        }
        // A changed deadline gets a heap entry; the old one goes stale.
        if let Some(t) = c.deadline.filter(|&t| before != Some(t)) {
            self.timers.push(Reverse((t, k)));
        }
        // Writable interest while output waits; a reregister (a syscall)
        // only when that changes, not on every turn.
        let writable = !c.output.is_empty();
        if writable != c.writable {
            c.writable = writable;
            let interest = if writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(k), interest);
        }
        self.compact_timers();
    }

    fn remove(&mut self, k: usize, why: &str) {
        let mut c = self.conns.remove(k);
        self.clients.remove(&c.client_id);
        let _ = self.poll.registry().deregister(&mut c.stream);
        c.answers.end_play(&c.machine, self.shared.site(), None);
        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
        tracing::info!(peer = %c.peer, why, "session closed");
        self.compact_timers();
    }

    /// Drops the heap's stale entries (of closed sessions, and deadlines
    /// that changed) once they outnumber the live ones: without it every
    /// connect/disconnect left an entry until its Idle-Timeout (an hour).
    /// Amortized O(1) per entry pushed.
    fn compact_timers(&mut self) {
        if self.timers.len() <= 2 * self.conns.len() + 64 {
            return;
        }
        let live: Vec<_> = self
            .conns
            .iter()
            .filter_map(|(k, c)| c.deadline.map(|t| Reverse((t, k))))
            .collect();
        self.timers = BinaryHeap::from(live);
    }

    /// A Client-ID that this loop owns ([`udp::owner`]) and no session of
    /// it has ([3.2.3]: different for concurrent sessions).
    fn fresh_client_id(&self) -> u32 {
        let loops = self.shared.loop_stats.len();
        loop {
            let id = udp::client_id_of(self.shared.client_id(), loops, self.index);
            if !self.clients.contains_key(&id) {
                return id;
            }
        }
    }

    /// Reads what the UDP socket holds (a bounded number per turn) and
    /// passes each request to the loop that holds its session.
    fn receive_datagrams(&mut self, now: Instant, ready: &mut Vec<usize>) {
        let mut buf = [0u8; 2048];
        let shared = self.shared.clone();
        let stats = &shared.loop_stats[self.index];
        for _ in 0..udp::READS_PER_TURN {
            let Some(sock) = self.udp.as_ref() else {
                return;
            };
            let (n, source) = match sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock: all read. Other errors (an ICMP report of an
                // earlier send) say nothing about this socket's future.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
            let Some(d) = Datagram::new(source, &buf[..n]) else {
                stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let loops = self.shared.loop_stats.len();
            match d.client_id().map(|id| udp::owner(id, loops)) {
                Some(i) if i == self.index => self.deliver(now, d, ready),
                Some(i) => {
                    if !self.shared.mailboxes[i].post(d) {
                        stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    stats.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // More may wait: the edge-triggered socket will not say so again.
        let _ = self.shared.mailboxes[self.index]
            .waker
            .get()
            .map(mio::Waker::wake);
    }

    /// Hands a request to the session its dwClientId names, if this loop
    /// has it; the machine checks the rest ([3.2.5.13]).
    fn deliver(&mut self, now: Instant, d: Datagram, ready: &mut Vec<usize>) {
        let key = d.client_id().and_then(|id| self.clients.get(&id).copied());
        let Some(c) = key.and_then(|k| self.conns.get_mut(k)) else {
            self.shared.loop_stats[self.index]
                .datagrams_dropped
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let input = Input::Udp {
            source: d.source,
            contents: d.bytes(),
        };
        if c.machine.handle_input(now, input).is_ok() {
            ready.extend(key);
        }
    }

    fn accept(&mut self, now: Instant) -> io::Result<()> {
        if self.spare.is_none() {
            // Lost while out of descriptors: take it back when one is free.
            self.spare = std::fs::File::open("/dev/null").ok();
        }
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let max = self.shared.options.max_sessions;
                    if self.shared.sessions.fetch_add(1, Ordering::Relaxed) >= max {
                        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
                        let stats = &self.shared.loop_stats[self.index];
                        stats.refused_limit.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%peer, max, "too many sessions: connection refused");
                        continue;
                    }
                    self.shared.loop_stats[self.index]
                        .accepted
                        .fetch_add(1, Ordering::Relaxed);
                    let client_id = self.fresh_client_id();
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    self.poll
                        .registry()
                        .register(&mut stream, Token(key), Interest::READABLE)?;
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr().unwrap_or(peer);
                    tracing::info!(%peer, "connection");
                    self.clients.insert(client_id, key);
                    let machine = ServerMachine::new(self.shared.options.session, client_id)
                        .with_peer(peer.ip());
                    entry.insert(Conn {
                        stream,
                        peer,
                        client_id,
                        ring: None,
                        machine,
                        answers: Answers::new(peer, local),
                        input: Vec::new(),
                        output: VecDeque::new(),
                        deadline: None,
                        closing: false,
                        writable: false,
                        since: now,
                        parked: false,
                        listed: false,
                        waited: None,
                    });
                    // The Idle-Timeout runs from the start.
                    self.service(key, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if out_of_descriptors(&e) => {
                    // Free the spare, take the waiting connection and close
                    // it, take the spare back; the next one the same way.
                    // (At the limit Linux says EMFILE before it looks at
                    // the queue, so an empty queue shows only now.)
                    if self.spare.take().is_some() {
                        let taken = self.listener.accept();
                        self.spare = match taken {
                            Ok((stream, peer)) => {
                                drop(stream);
                                let stats = &self.shared.loop_stats[self.index];
                                stats.refused_descriptors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%peer, "out of descriptors: connection refused");
                                std::fs::File::open("/dev/null").ok()
                            }
                            Err(e) => {
                                let spare = std::fs::File::open("/dev/null").ok();
                                if e.kind() == io::ErrorKind::WouldBlock && spare.is_some() {
                                    self.spare = spare;
                                    self.accept_pending = false;
                                    return Ok(());
                                }
                                spare
                            }
                        };
                        if self.spare.is_some() {
                            continue;
                        }
                    }
                    // Another thread took the descriptor: again next turn.
                    tracing::warn!(error = %e, "accept failed; retrying");
                    self.accept_pending = true;
                    return Ok(());
                }
                // Anything else: log, try again next turn.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    self.accept_pending = true;
                    return Ok(());
                }
            }
        }
    }
}
