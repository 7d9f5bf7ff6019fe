//! The mio event loop: accept, read and frame, hand packets to the session
//! machine, answer its content requests, write with backpressure, keep one
//! deadline per session.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use mms_proto::server::{Config, Data, Event, Output, Session};
use mms_proto::time::Instant;
use mms_proto::wire::{Frame, HResult, Limits, Status, frame};
use slab::Slab;

use crate::content::{Content, ContentError, ContentRoot};

const LISTENER: Token = Token(usize::MAX);
/// Bytes of unsent output a session may queue before it stops producing
/// (a slow client stalls only itself).
const MAX_QUEUED: usize = 1 << 20;
/// Bytes of unparsed input a session may hold.
const MAX_INPUT: usize = 128 * 1024;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The session machine's settings.
    pub session: Config,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    session: Session,
    input: Vec<u8>,
    output: VecDeque<u8>,
    content: Option<Content>,
    /// A packet the machine said is not due yet: (number, bytes, when).
    held: Option<(u64, Vec<u8>, Instant)>,
    deadline: Option<Instant>,
    closing: bool,
}

/// A running server.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Conn>,
    root: ContentRoot,
    options: Options,
    epoch: std::time::Instant,
    next_client_id: u32,
}

impl Server {
    /// Binds `addr` and serves `root`.
    pub fn bind(addr: SocketAddr, root: ContentRoot, options: Options) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        // Client-IDs SHOULD be random ([3.2.3]); the clock's low bits are enough here.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        Ok(Self {
            poll,
            listener,
            conns: Slab::new(),
            root,
            options,
            epoch: std::time::Instant::now(),
            next_client_id: seed | 1,
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_micros() as u64)
    }

    /// Runs until `stop` returns true (checked at least every 100 ms).
    pub fn run(&mut self, mut stop: impl FnMut() -> bool) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        while !stop() {
            let now = self.now();
            let next = self.conns.iter().filter_map(|(_, c)| c.deadline).min();
            let timeout = next.map_or(StdDuration::from_millis(100), |t| {
                StdDuration::from_micros((t - now).0).min(StdDuration::from_millis(100))
            });
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            }
            let now = self.now();
            for ev in events.iter() {
                if ev.token() == LISTENER {
                    self.accept()?;
                } else if let Some(c) = self.conns.get_mut(ev.token().0) {
                    if ev.is_readable() && !c.closing {
                        c.read(now, &self.root);
                    }
                }
            }
            let now = self.now();
            let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
            for k in keys {
                let c = &mut self.conns[k];
                if c.deadline.is_some_and(|d| d <= now) {
                    c.deadline = None;
                    c.session.handle_timeout(now);
                }
                c.drive(now);
                c.flush();
                if c.closing && c.output.is_empty() {
                    let mut c = self.conns.remove(k);
                    let _ = self.poll.registry().deregister(&mut c.stream);
                    tracing::info!(peer = %c.peer, "session closed");
                    continue;
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
        }
        Ok(())
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((mut stream, peer)) => {
                    let entry = self.conns.vacant_entry();
                    let token = Token(entry.key());
                    self.poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE)?;
                    self.next_client_id = self
                        .next_client_id
                        .wrapping_mul(1_103_515_245)
                        .wrapping_add(12_345);
                    tracing::info!(%peer, "connection");
                    entry.insert(Conn {
                        stream,
                        peer,
                        session: Session::new(self.options.session, self.next_client_id),
                        input: Vec::new(),
                        output: VecDeque::new(),
                        content: None,
                        held: None,
                        deadline: None,
                        closing: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Conn {
    fn read(&mut self, now: Instant, root: &ContentRoot) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closing = true;
                    break;
                }
                Ok(n) => {
                    if self.input.len() + n > MAX_INPUT {
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
                    self.handle(now, &packet, root);
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

    fn handle(&mut self, now: Instant, packet: &[u8], root: &ContentRoot) {
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
                    let r = match root.open(&name) {
                        Ok(c) => {
                            let media = c.media();
                            tracing::info!(peer = %self.peer, file = %name, packets = media.packet_count, "open");
                            self.content = Some(c);
                            self.session.accept_open(now, media)
                        }
                        Err(err) => {
                            tracing::info!(peer = %self.peer, file = %name, ?err, "open refused");
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
                    if let Err(e) = self.session.seek_to(now, packet) {
                        return self.fail(&e.to_string());
                    }
                }
                Event::PlayStarted { from_packet } => {
                    tracing::debug!(peer = %self.peer, from_packet, "play")
                }
                Event::Logging(_) => tracing::debug!(peer = %self.peer, "client log"),
                Event::CloseRequested => tracing::debug!(peer = %self.peer, "CloseFile"),
            }
        }
    }

    /// Runs the machine until it waits, queueing its output.
    fn drive(&mut self, now: Instant) {
        let mut buf = vec![0u8; 70 * 1024];
        let mut packet = Vec::new();
        if let Some((n, bytes, t)) = self.held.take() {
            if t > now {
                self.held = Some((n, bytes, t));
                self.deadline = Some(t);
                return;
            }
            if !self.offer(now, n, &bytes, &mut buf) {
                return;
            }
        }
        while self.output.len() < MAX_QUEUED {
            match self.session.poll_output(now, &mut buf) {
                Output::Send(n) => self.output.extend(&buf[..n]),
                Output::ReadHeader { offset, len } => {
                    let Some(c) = &self.content else {
                        return self.fail("header without content");
                    };
                    let bytes = c.header()[offset as usize..(offset + len) as usize].to_vec();
                    match self.session.header_piece(now, &bytes, &mut buf) {
                        Ok(n) => self.output.extend(&buf[..n]),
                        Err(e) => return self.fail(&e.to_string()),
                    }
                }
                Output::ReadPacket { number } => {
                    let Some(c) = &self.content else {
                        return self.fail("packet without content");
                    };
                    if let Err(e) = c.read_packet(number, &mut packet) {
                        return self.fail(&e.to_string());
                    }
                    let bytes = std::mem::take(&mut packet);
                    if !self.offer(now, number, &bytes, &mut buf) {
                        return;
                    }
                }
                Output::Timeout(t) => {
                    self.deadline = Some(t);
                    return;
                }
                Output::Wait => {
                    self.deadline = None;
                    return;
                }
                Output::Close => {
                    self.closing = true;
                    return;
                }
            }
        }
    }

    /// Offers packet `n` to the machine; false when it is held for later.
    fn offer(&mut self, now: Instant, n: u64, bytes: &[u8], buf: &mut [u8]) -> bool {
        match self.session.data_packet(now, n, bytes, buf) {
            Ok(Data::Send(len)) => self.output.extend(&buf[..len]),
            Ok(Data::Skipped) => {}
            Ok(Data::NotBefore(t)) => {
                self.held = Some((n, bytes.to_vec(), t));
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
