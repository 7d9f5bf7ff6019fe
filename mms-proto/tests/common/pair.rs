//! A client↔server simulation pair (the model is quinn's `tests/util.rs`
//! `Pair`): both machines in memory, joined by a simulated link, on a
//! virtual clock that jumps to the earliest thing that happens next — a
//! machine's deadline or the arrival of something in flight.
//!
//! * TCP is a byte stream per direction: in order, delayed by `latency`,
//!   serialized at `rate` bit/s when one is set (so the TCP packet-pair
//!   measures it); each side frames what arrived with `wire::frame`.
//! * UDP datagrams go through `fate`, a hook that may drop, duplicate or
//!   delay (reorder) each one.
//! * The server's application serves ASF files from memory (a playlist of
//!   them when there are several) and maps time seeks; the client's
//!   records what it receives and names the streams of each header.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::VecDeque;
use std::net::SocketAddr;

use mms_proto::asf::{HeaderSummary, StreamSet};
use mms_proto::client::{self, ClientError, ClientMachine, Event as ClientEvent, Play};
use mms_proto::machine::{Input, Transmit};
use mms_proto::server::{self, Drained, Event as ServerEvent, Media, ServerMachine};
use mms_proto::time::{Duration, Instant};
use mms_proto::wire::{Limits, Status, frame};

use crate::common::FileDriver;

/// Identification at both ends (off unless a test sets `auth`).
#[path = "pair_auth.rs"]
pub mod auth;

/// What the link does with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Deliver it after the latency.
    Deliver,
    /// Lose it.
    Drop,
    /// Deliver it twice.
    Duplicate,
    /// Deliver it this much later than the latency (reordering it behind
    /// later ones).
    Delay(Duration),
}

/// A datagram on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// The addresses of the two ends.
pub const CLIENT_ADDR: &str = "10.0.0.2:7000";
pub const SERVER_ADDR: &str = "10.0.0.1:1755";

/// One direction of the simulated link.
#[derive(Default)]
struct Link {
    /// TCP bytes in flight, by arrival time (in order).
    tcp: VecDeque<(Instant, Vec<u8>)>,
    /// Datagrams in flight, by arrival time (any order).
    udp: Vec<(Instant, Datagram)>,
    /// When the sender's last byte leaves (serialization at `rate`).
    free_at: Instant,
}

impl Link {
    /// Moves the TCP bytes that arrived by `now` into `inbox`.
    fn arrived(&mut self, now: Instant, inbox: &mut Vec<u8>) {
        while self.tcp.front().is_some_and(|(t, _)| *t <= now) {
            let (_, b) = self.tcp.pop_front().unwrap();
            inbox.extend_from_slice(&b);
        }
    }
}

/// What the client received, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Got {
    /// A piece of an ASF file header.
    HeaderPiece {
        data: Vec<u8>,
        first: bool,
        last: bool,
    },
    /// A data packet.
    Packet { location_id: u32, data: Vec<u8> },
    /// ReportEndOfStream.
    EndOfStream { ready: bool, stopped: bool },
    /// The next playlist entry follows.
    EntryChange,
    /// STREAMING.
    Playing,
    /// The packet-pair measurement.
    Bandwidth(Option<u64>),
    /// Any other event, as text.
    Other(String),
}

/// The client end: the machine and what its application saw.
pub struct ClientEnd {
    pub m: ClientMachine,
    inbox: Vec<u8>,
    pub deadline: Option<Instant>,
    pub got: Vec<Got>,
    pub error: Option<ClientError>,
    pub closed: bool,
    /// Answers challenges (none: challenges are only recorded).
    pub auth: Option<auth::ClientAuth>,
}

/// The server end: the machine and its application's content.
pub struct ServerEnd {
    pub m: ServerMachine,
    inbox: Vec<u8>,
    pub deadline: Option<Instant>,
    /// The files served: one, or the entries of a playlist.
    pub entries: Vec<Vec<u8>>,
    /// The entry playing.
    pub entry: usize,
    pub events: Vec<String>,
    pub error: Option<String>,
    pub closed: bool,
    /// The copies of UDP Data packets, for resend requests.
    pub ring: server::ResendRing<Vec<u8>>,
    /// Protects what it serves (none: every open is served).
    pub auth: Option<auth::ServerAuth>,
}

/// Both machines, the link and the clock.
pub struct Pair {
    pub now: Instant,
    /// One-way delay.
    pub latency: Duration,
    /// Link rate in bit/s for TCP bytes (`None`: infinitely fast).
    pub rate: Option<u64>,
    /// What happens to each datagram.
    pub fate: Box<dyn FnMut(&Datagram) -> Fate>,
    pub client: ClientEnd,
    pub server: ServerEnd,
    to_client: Link,
    to_server: Link,
    /// Datagrams delivered, per destination (client, server).
    pub delivered: (usize, usize),
    /// What each end was sent, in the fuzz targets' input forms (the
    /// `server` target's datagrams as 0xDD units, the `client` target's
    /// behind its knobs byte): written as seeds when the pair drops.
    seeds: (Vec<u8>, Vec<u8>),
}

impl Drop for Pair {
    fn drop(&mut self) {
        crate::common::seed("server", &self.seeds.1);
        // Knobs: UDP asked for (the server's datagrams are Data units).
        let udp = self.client.m.udp_active();
        let mut c = vec![if udp { 2 } else { 0 }];
        c.extend_from_slice(&self.seeds.0);
        crate::common::seed("client", &c);
    }
}

fn media_of(file: &[u8], continues: bool) -> Media {
    Media {
        continues,
        ..Media::from_summary(&HeaderSummary::parse(file).expect("a valid ASF file"))
    }
}

/// The streams of a header.
pub fn streams_of(header: &[u8]) -> StreamSet {
    HeaderSummary::parse(header)
        .expect("the header received parses")
        .streams
        .iter()
        .fold(StreamSet::EMPTY, |s, st| s.with(st.number))
}

impl Pair {
    /// A pair where the client opens `path` on a server that serves
    /// `entries` (one file, or a playlist of several).
    pub fn new(
        entries: Vec<Vec<u8>>,
        server: server::Config,
        client: client::Config,
        latency: Duration,
    ) -> Self {
        assert!(!entries.is_empty());
        Pair {
            now: Instant(1_000_000),
            latency,
            rate: None,
            fate: Box::new(|_| Fate::Deliver),
            client: ClientEnd {
                m: ClientMachine::new(client, "clip.wmv", None).unwrap(),
                inbox: Vec::new(),
                deadline: None,
                got: Vec::new(),
                error: None,
                closed: false,
                auth: None,
            },
            server: ServerEnd {
                // 4,096 copies of the largest packet served.
                ring: {
                    let size = entries
                        .iter()
                        .map(|f| HeaderSummary::parse(f).map_or(0, |h| h.packet_size))
                        .max()
                        .unwrap_or(0);
                    let slot = size as usize + 8 + 14;
                    server::ResendRing::new(vec![0; 4096 * slot], size, server.resend_window)
                        .unwrap()
                },
                m: ServerMachine::new(server, 0x5EED_0001)
                    .with_peer(CLIENT_ADDR.parse::<SocketAddr>().unwrap().ip()),
                inbox: Vec::new(),
                deadline: None,
                entries,
                entry: 0,
                events: Vec::new(),
                error: None,
                closed: false,
                auth: None,
            },
            to_client: Link::default(),
            to_server: Link::default(),
            delivered: (0, 0),
            seeds: (Vec::new(), Vec::new()),
        }
    }

    /// The file of the entry the server plays.
    pub fn file(&self, entry: usize) -> &[u8] {
        &self.server.entries[entry]
    }

    fn send_tcp(link: &mut Link, now: Instant, latency: Duration, rate: Option<u64>, b: &[u8]) {
        let start = now.max(link.free_at);
        let done = match rate {
            Some(r) => start + Duration((b.len() as u64 * 8).saturating_mul(1_000_000) / r),
            None => start,
        };
        link.free_at = done;
        link.tcp.push_back((done + latency, b.to_vec()));
    }

    fn send_udp(&mut self, to_client: bool, d: Datagram) {
        if to_client {
            self.seeds.0.extend_from_slice(&d.contents);
        } else if let Ok(len) = u16::try_from(d.contents.len()) {
            self.seeds.1.extend_from_slice(&[0xDD, 0]);
            self.seeds.1.extend_from_slice(&len.to_le_bytes());
            self.seeds.1.extend_from_slice(&d.contents);
        }
        let link = if to_client {
            &mut self.to_client
        } else {
            &mut self.to_server
        };
        // Datagrams share the link's rate with the TCP bytes.
        let start = self.now.max(link.free_at);
        let done = match self.rate {
            Some(r) => {
                let bits = (d.contents.len() as u64 + 28) * 8;
                start + Duration(bits.saturating_mul(1_000_000) / r)
            }
            None => start,
        };
        link.free_at = done;
        let at = done + self.latency;
        match (self.fate)(&d) {
            Fate::Deliver => link.udp.push((at, d)),
            Fate::Drop => {}
            Fate::Duplicate => {
                link.udp.push((at, d.clone()));
                link.udp.push((at, d));
            }
            Fate::Delay(extra) => link.udp.push((at + extra, d)),
        }
    }

    /// Sends a datagram from one end to the other (as its machine would).
    pub fn inject_datagram(&mut self, to_client: bool, contents: Vec<u8>) {
        let (c, s) = (CLIENT_ADDR.parse().unwrap(), SERVER_ADDR.parse().unwrap());
        let source = if to_client { s } else { c };
        self.inject_datagram_from(source, to_client, contents);
    }

    /// Sends a datagram that claims to come from `source` to one end.
    pub fn inject_datagram_from(&mut self, source: SocketAddr, to_client: bool, contents: Vec<u8>) {
        let (c, s) = (CLIENT_ADDR.parse().unwrap(), SERVER_ADDR.parse().unwrap());
        let destination = if to_client { c } else { s };
        self.send_udp(
            to_client,
            Datagram {
                source,
                destination,
                contents,
            },
        );
    }

    /// Lets both machines say everything they have to say now.
    fn flush(&mut self) {
        let mut buf = vec![0u8; 70 * 1024];
        // The client.
        if !self.client.closed {
            for _ in 0..1000 {
                match self.client.m.poll_output(self.now, &mut buf) {
                    Ok(client::Output::Transmit(Transmit::Tcp(n))) => {
                        self.seeds.1.extend_from_slice(&buf[..n]);
                        Self::send_tcp(
                            &mut self.to_server,
                            self.now,
                            self.latency,
                            self.rate,
                            &buf[..n],
                        );
                    }
                    Ok(client::Output::Transmit(Transmit::Udp { destination, len })) => {
                        let d = Datagram {
                            source: CLIENT_ADDR.parse().unwrap(),
                            destination,
                            contents: buf[..len].to_vec(),
                        };
                        self.send_udp(false, d);
                    }
                    Ok(client::Output::Timeout(t)) => {
                        self.client.deadline = Some(t);
                        break;
                    }
                    Ok(client::Output::Wait) => {
                        self.client.deadline = None;
                        break;
                    }
                    Ok(client::Output::Close) => {
                        self.client.closed = true;
                        break;
                    }
                    Err(e) => {
                        self.client.error = Some(e);
                        self.client.closed = true;
                        break;
                    }
                }
            }
        }
        // The server, through the one drain loop.
        if !self.server.closed {
            for _ in 0..1000 {
                let mut driver = FileDriver::new(&self.server.entries[self.server.entry])
                    .with_ring(&mut self.server.ring, self.now);
                let why = server::drain(&mut self.server.m, self.now, &mut driver, &mut buf);
                let sent = std::mem::take(&mut driver.sent);
                for (to, bytes, _what) in sent {
                    match to {
                        Transmit::Tcp(_) => {
                            self.seeds.0.extend_from_slice(&bytes);
                            Self::send_tcp(
                                &mut self.to_client,
                                self.now,
                                self.latency,
                                self.rate,
                                &bytes,
                            )
                        }
                        Transmit::Udp { destination, .. } => {
                            let d = Datagram {
                                source: SERVER_ADDR.parse().unwrap(),
                                destination,
                                contents: bytes,
                            };
                            self.send_udp(true, d);
                        }
                    }
                }
                match why {
                    Ok(Drained::NotBefore(t) | Drained::Timeout(t)) => {
                        self.server.deadline = Some(t);
                        break;
                    }
                    Ok(Drained::Wait) => {
                        self.server.deadline = None;
                        break;
                    }
                    Ok(Drained::Close) => {
                        self.server.closed = true;
                        break;
                    }
                    Ok(Drained::Full) => {}
                    Ok(Drained::NextEntry) => {
                        let next = self.server.entry + 1;
                        let r = if next < self.server.entries.len() {
                            self.server.entry = next;
                            let more = next + 1 < self.server.entries.len();
                            let media = media_of(&self.server.entries[next], more);
                            self.server.m.next_entry(self.now, media)
                        } else {
                            self.server.m.end_of_content(self.now)
                        };
                        if let Err(e) = r {
                            self.server.error = Some(e.to_string());
                            self.server.closed = true;
                            break;
                        }
                    }
                    Err(e) => {
                        self.server.error = Some(e.to_string());
                        self.server.closed = true;
                        break;
                    }
                }
            }
        }
    }

    /// Delivers what has arrived by now to each side's machine.
    fn deliver(&mut self) {
        self.to_server.arrived(self.now, &mut self.server.inbox);
        self.to_client.arrived(self.now, &mut self.client.inbox);
        self.server_input();
        self.client_input();
        for to_client in [true, false] {
            let link = if to_client {
                &mut self.to_client
            } else {
                &mut self.to_server
            };
            let now = self.now;
            let mut arrived: Vec<(Instant, Datagram)> = Vec::new();
            link.udp.retain(|(t, d)| {
                if *t <= now {
                    arrived.push((*t, d.clone()));
                    false
                } else {
                    true
                }
            });
            arrived.sort_by_key(|(t, _)| *t);
            for (_, d) in arrived {
                let input = Input::Udp {
                    source: d.source,
                    contents: &d.contents,
                };
                if to_client {
                    self.delivered.0 += 1;
                    match client_event(&mut self.client.m, &mut None, now, input) {
                        Ok(Some(got)) => self.client.got(got),
                        Ok(None) => {}
                        Err(e) => {
                            self.client.error = Some(e);
                            self.client.closed = true;
                        }
                    }
                } else {
                    self.delivered.1 += 1;
                    if let Err(e) = self.server.m.handle_input(now, input) {
                        self.server.error = Some(e.to_string());
                        self.server.closed = true;
                    }
                }
            }
        }
    }

    fn server_input(&mut self) {
        let mut used = 0;
        while !self.server.closed {
            let f = match frame(&self.server.inbox[used..], &Limits::default()) {
                Ok(Status::Complete(f)) => f,
                Ok(Status::Partial(_)) => break,
                Err(e) => {
                    self.server.error = Some(e.to_string());
                    self.server.closed = true;
                    break;
                }
            };
            let unit = self.server.inbox[used..used + f.len()].to_vec();
            used += f.len();
            let now = self.now;
            let events = match self.server.m.handle_input(now, Input::tcp(f, &unit)) {
                Ok(e) => e,
                Err(e) => {
                    self.server.error = Some(e.to_string());
                    self.server.closed = true;
                    break;
                }
            };
            for e in events {
                self.server.events.push(format!("{e:?}"));
                let r = match e {
                    ServerEvent::OpenRequest { token, .. }
                    | ServerEvent::SecurityResponse { token } => {
                        let s = &mut self.server;
                        let granted = match &mut s.auth {
                            Some(a) => a.check(&mut s.m, now, token),
                            None => Ok(true),
                        };
                        let more = s.entries.len() > 1;
                        s.entry = 0;
                        let media = media_of(&s.entries[0], more);
                        granted.and_then(|g| if g { s.m.accept_open(media) } else { Ok(()) })
                    }
                    ServerEvent::SeekRequest { position_ms } => {
                        let file = &self.server.entries[self.server.entry];
                        let packet = packet_for_time(file, position_ms);
                        self.server.m.seek_to(now, packet)
                    }
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    self.server.error = Some(e.to_string());
                    self.server.closed = true;
                }
            }
        }
        self.server.inbox.drain(..used);
    }

    fn client_input(&mut self) {
        let mut used = 0;
        while !self.client.closed {
            let f = match frame(&self.client.inbox[used..], &Limits::default()) {
                Ok(Status::Complete(f)) => f,
                Ok(Status::Partial(_)) => break,
                Err(e) => panic!("the server sent something that does not frame: {e}"),
            };
            let unit = self.client.inbox[used..used + f.len()].to_vec();
            used += f.len();
            let now = self.now;
            let c = &mut self.client;
            match client_event(&mut c.m, &mut c.auth, now, Input::tcp(f, &unit)) {
                Ok(Some(got)) => self.client.got(got),
                Ok(None) => {}
                Err(e) => {
                    self.client.error = Some(e);
                    self.client.closed = true;
                }
            }
        }
        self.client.inbox.drain(..used);
    }

    /// The earliest thing that happens next.
    fn next_time(&self) -> Option<Instant> {
        let links = [&self.to_client, &self.to_server];
        let tcp = links.iter().filter_map(|l| l.tcp.front().map(|(t, _)| *t));
        let udp = links.iter().flat_map(|l| l.udp.iter().map(|(t, _)| *t));
        let deadlines = [
            self.client.deadline.filter(|_| !self.client.closed),
            self.server.deadline.filter(|_| !self.server.closed),
        ];
        tcp.chain(udp).chain(deadlines.into_iter().flatten()).min()
    }

    /// One step: both machines speak, the clock jumps to the next event,
    /// what arrived is delivered and expired timers fire. False when
    /// nothing will ever happen again.
    pub fn step(&mut self) -> bool {
        self.flush();
        let Some(t) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(t);
        self.deliver();
        let now = self.now;
        if self.client.deadline.is_some_and(|d| d <= now) && !self.client.closed {
            self.client.deadline = None;
            if let Err(e) = self.client.m.handle_timeout(now) {
                self.client.error = Some(e);
                self.client.closed = true;
            }
        }
        if self.server.deadline.is_some_and(|d| d <= now) && !self.server.closed {
            self.server.deadline = None;
            if let Err(e) = self.server.m.handle_timeout(now) {
                self.server.error = Some(e.to_string());
                self.server.closed = true;
            }
        }
        true
    }

    /// Steps until `done` holds (at most `max` steps); panics otherwise, or
    /// when either end fails.
    pub fn run_until(&mut self, max: usize, mut done: impl FnMut(&Pair) -> bool) {
        for _ in 0..max {
            self.flush();
            if done(self) {
                return;
            }
            assert!(
                self.client.error.is_none(),
                "client: {:?}",
                self.client.error
            );
            assert!(
                self.server.error.is_none(),
                "server: {:?}",
                self.server.error
            );
            if !self.step() {
                break;
            }
        }
        assert!(done(self), "not reached in {max} steps (at {:?})", self.now);
    }

    /// Runs until the client is READY (the header is in).
    pub fn ready(&mut self) {
        self.run_until(10_000, |p| p.client.m.state() == client::State::Ready);
    }

    /// Asks the client to play and runs until the play's end of stream.
    pub fn play_to_end(&mut self, play: Play) {
        self.client.m.play(self.now, &play).unwrap();
        let ends = self.client.ends();
        self.run_until(1_000_000, |p| p.client.ends() > ends);
    }
}

impl ClientEnd {
    /// Records what the application got; after a header's last piece it
    /// names the header's streams.
    fn got(&mut self, got: Got) {
        let last = matches!(got, Got::HeaderPiece { last: true, .. });
        self.got.push(got);
        if last {
            let header = self.header(self.headers());
            self.m.set_streams(streams_of(&header));
        }
    }

    /// How many ASF headers arrived whole.
    pub fn headers(&self) -> usize {
        self.got
            .iter()
            .filter(|g| matches!(g, Got::HeaderPiece { last: true, .. }))
            .count()
    }

    /// Header number `n` (1-based) as reassembled from its pieces.
    pub fn header(&self, n: usize) -> Vec<u8> {
        let mut k = 0;
        let mut out = Vec::new();
        for g in &self.got {
            if let Got::HeaderPiece { data, first, last } = g {
                if *first {
                    k += 1;
                    out.clear();
                }
                out.extend_from_slice(data);
                if *last && k == n {
                    return out;
                }
            }
        }
        out
    }

    /// ReportEndOfStreams received.
    pub fn ends(&self) -> usize {
        self.got
            .iter()
            .filter(|g| matches!(g, Got::EndOfStream { .. }))
            .count()
    }

    /// The data packets received since the `n`-th Playing (0-based), up to
    /// the next EndOfStream.
    pub fn play_packets(&self, n: usize) -> Vec<(u32, Vec<u8>)> {
        let mut k = 0;
        let mut inside = false;
        let mut out = Vec::new();
        for g in &self.got {
            match g {
                Got::Playing => {
                    inside = k == n;
                    k += 1;
                }
                Got::EndOfStream { .. } => inside = false,
                Got::Packet { location_id, data } if inside => {
                    out.push((*location_id, data.clone()))
                }
                _ => {}
            }
        }
        out
    }
}

/// The packet a time seek lands on: the last one sent at or before `ms`
/// after the first packet's Send Time.
fn packet_for_time(file: &[u8], ms: u64) -> u64 {
    let d = FileDriver::new(file);
    let h = HeaderSummary::parse(file).unwrap();
    let first = mms_proto::asf::PacketInfo::parse(d.packet(0))
        .unwrap()
        .send_time;
    (0..h.packet_count)
        .take_while(|&n| {
            let t = mms_proto::asf::PacketInfo::parse(d.packet(n))
                .unwrap()
                .send_time;
            u64::from(t.wrapping_sub(first)) <= ms
        })
        .last()
        .unwrap_or(0)
}

/// The client machine's input, and the event made owned.
fn client_event(
    m: &mut ClientMachine,
    auth: &mut Option<auth::ClientAuth>,
    now: Instant,
    input: Input<'_>,
) -> Result<Option<Got>, ClientError> {
    let e = m.handle_input(now, input)?;
    if let (Some(ClientEvent::SecurityChallenge { token, refused, .. }), Some(a)) =
        (e, auth.as_mut())
        && !a.answer(m, token, refused)?
    {
        // Gave up: CloseFile, as a player would.
        let _ = m.close();
    }
    Ok(e.map(|e| match e {
        ClientEvent::HeaderPiece { data, first, last } => Got::HeaderPiece {
            data: data.to_vec(),
            first,
            last,
        },
        ClientEvent::Packet {
            location_id, data, ..
        } => Got::Packet {
            location_id,
            data: data.to_vec(),
        },
        ClientEvent::EndOfStream { ready, stopped, .. } => Got::EndOfStream { ready, stopped },
        ClientEvent::EntryChange { .. } => Got::EntryChange,
        ClientEvent::Playing => Got::Playing,
        ClientEvent::Bandwidth(b) => Got::Bandwidth(b),
        other => Got::Other(format!("{other:?}")),
    }))
}
