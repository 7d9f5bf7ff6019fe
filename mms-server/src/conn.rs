//! One connection of an event loop: reading and framing its input,
//! handing units to its machine and events to the policy
//! ([`crate::answers`]), driving the machine with
//! [`mms_proto::server::drain`] over the session's content, and writing
//! its output queue. The loop itself (sockets, slab, timers) is
//! [`crate::event_loop`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use std::sync::atomic::Ordering;

use mio::net::{TcpStream, UdpSocket};
use mms_proto::machine::{Input, Transmit};
use mms_proto::server::{Drained, Driver, Fetch, ResendRing, Sent, ServerMachine, drain};
use mms_proto::time::Instant;
use mms_proto::wire::{Status, frame};

use crate::access_log::Play;
use crate::answers::{Answers, Site};
use crate::content::Content;
use crate::event_loop::Shared;
use crate::live::ring::Held;
use crate::metrics::LoopStats;

/// The most a session's resend copies may take (a high-rate file's
/// window is cut to this).
const MAX_RING_BYTES: usize = 8 << 20;

/// Room for one output of the machine, and one packet read from a file.
pub(crate) struct Scratch {
    pub(crate) out: Vec<u8>,
    pub(crate) packet: Vec<u8>,
}

/// One client connection: its socket, its machine, the policy's side
/// of it, and its buffers.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    /// The machine's Client-ID (resend requests name it).
    pub(crate) client_id: u32,
    /// Copies of the Data packets sent over UDP, made at the first one.
    pub(crate) ring: Option<ResendRing<Box<[u8]>>>,
    pub(crate) machine: ServerMachine,
    /// The policy's side of the session: content, playlist, access log.
    pub(crate) answers: Answers,
    pub(crate) input: Vec<u8>,
    pub(crate) output: VecDeque<u8>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) closing: bool,
    /// Registered for writable readiness too (output was left unsent).
    pub(crate) writable: bool,
    /// When it was accepted.
    pub(crate) since: Instant,
    /// Waits for its publishing point's next packet (or first header):
    /// the loop's wake-up services it again ([`crate::live::wake`]).
    pub(crate) parked: bool,
    /// In the loop's list of parked sessions (once, however often it
    /// parks before a wake-up).
    pub(crate) listed: bool,
    /// The live packet its play waits for (kept across drives, so a park
    /// in a later drive re-checks it too).
    pub(crate) waited: Option<u64>,
}

impl Conn {
    /// Reads what arrived and hands every whole unit to the machine.
    pub(crate) fn read(&mut self, now: Instant, shared: &Shared) {
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
        // Units are handed to the machine where they lie in `input`.
        let Conn {
            input,
            machine,
            answers,
            peer,
            closing,
            ..
        } = self;
        while !*closing {
            match frame(&input[used..], &shared.options.limits) {
                Ok(Status::Complete(f)) => {
                    let unit = Input::tcp(f, &input[used..]);
                    used += f.len();
                    *closing = !handle(machine, answers, *peer, now, unit, shared.site());
                }
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "malformed input");
                    *closing = true;
                }
                Ok(Status::Partial(_)) => break,
            }
        }
        input.drain(..used);
    }
}

/// Hands one unit to the machine and its events to the policy; false when
/// the session ends.
fn handle(
    machine: &mut ServerMachine,
    answers: &mut Answers,
    peer: SocketAddr,
    now: Instant,
    input: Input<'_>,
    site: Site<'_>,
) -> bool {
    let events = match machine.handle_input(now, input) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "session ended");
            return false;
        }
    };
    for e in events {
        if let Err(e) = answers.event(now, machine, e, site) {
            tracing::warn!(peer = %peer, error = %e, "session failed");
            return false;
        }
    }
    true
}

impl Conn {
    /// Runs the machine until it waits, queueing its output; true when it
    /// stopped only because `max_queued` bytes are queued.
    pub(crate) fn drive(
        &mut self,
        now: Instant,
        shared: &Shared,
        scratch: &mut Scratch,
        udp: Option<&UdpSocket>,
        (index, stats): (usize, &LoopStats),
    ) -> bool {
        self.parked = false;
        // A live session re-checked once after it parks: a packet may have
        // come between its read and the park.
        let mut rechecked = false;
        loop {
            if let Err(e) = self.answers.live_check(now, &mut self.machine) {
                self.fail(&e.to_string());
                return false;
            }
            let live = self.answers.live.as_ref().and_then(|l| {
                let run = l.run.as_deref()?;
                Some(LiveRead {
                    point: &l.point,
                    run,
                    needs: self.machine.clean_start_needs(),
                })
            });
            let media = match (&self.answers.content, &live) {
                (Some(c), _) => Some(c.media()),
                (None, Some(l)) => Some(l.run.media),
                (None, None) => None,
            };
            let mut io = Io {
                stream: &mut self.stream,
                content: self.answers.content.as_ref(),
                live,
                held: None,
                waited: None,
                media,
                packet: &mut scratch.packet,
                output: &mut self.output,
                max_queued: shared.options.max_queued,
                play: self.answers.play.as_mut(),
                udp,
                ring: &mut self.ring,
                window: shared.options.session.resend_window,
                now,
                stats,
            };
            let drained = drain(&mut self.machine, now, &mut io, &mut scratch.out);
            if io.waited.is_some() {
                self.waited = io.waited;
            }
            let waited = self.waited;
            if let (Ok(Drained::Wait | Drained::Timeout(_)), Some(l)) =
                (&drained, &self.answers.live)
            {
                let opening = l.run.is_none();
                if opening || self.machine.live_waiting() {
                    l.point.park(index);
                    let id = l.run.as_ref().map_or(0, |r| r.id);
                    let arrived = waited.is_some_and(|n| l.point.has(id, n));
                    if arrived && !rechecked {
                        rechecked = true;
                        self.machine.live_ready();
                        continue;
                    }
                    self.parked = true;
                }
            }
            match drained {
                Ok(Drained::Full) => return true,
                Ok(Drained::NotBefore(t) | Drained::Timeout(t)) => {
                    self.deadline = Some(t);
                    return false;
                }
                Ok(Drained::Wait) => {
                    self.deadline = None;
                    return false;
                }
                Ok(Drained::Close) => {
                    self.closing = true;
                    return false;
                }
                Ok(Drained::NextEntry) => {
                    let r = self
                        .answers
                        .next_entry(now, &mut self.machine, shared.site());
                    if let Err(e) = r {
                        self.fail(&e.to_string());
                        return false;
                    }
                }
                Err(e) => {
                    self.fail(&e.to_string());
                    return false;
                }
            }
        }
    }

    /// The wake-up slot of the point this session plays.
    pub(crate) fn parked_slot(&self) -> Option<usize> {
        self.answers.live.as_ref().map(|l| l.point.slot())
    }

    pub(crate) fn fail(&mut self, why: &str) {
        tracing::warn!(peer = %self.peer, why, "session failed");
        self.closing = true;
    }

    /// Writes what is queued, as far as the socket takes it.
    pub(crate) fn flush(&mut self) {
        if write_queued(&mut self.stream, &mut self.output).is_err() {
            self.closing = true;
            self.output.clear();
        }
    }
}

/// Writes `output` to `stream` until it is empty or the socket is full;
/// `Err` when the connection is gone.
fn write_queued(stream: &mut TcpStream, output: &mut VecDeque<u8>) -> io::Result<()> {
    while !output.is_empty() {
        let (a, _) = output.as_slices();
        match stream.write(a) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The machine's [`Driver`] for one drain: content from the session's
/// file into the loop's packet buffer (an early packet is read again when
/// it is due, never copied aside), messages (and TCP data) into the
/// session's queue, UDP data straight to the loop's socket (a copy kept
/// in the session's ring).
struct Io<'a> {
    stream: &'a mut TcpStream,
    content: Option<&'a Content>,
    /// A live session's point and run.
    live: Option<LiveRead<'a>>,
    /// The live packet handed to the machine (shared, not copied).
    held: Option<std::sync::Arc<[u8]>>,
    /// The live packet the machine waits for.
    waited: Option<u64>,
    /// The numbers of what is served (the UDP copies are sized by them).
    media: Option<mms_proto::server::Media>,
    packet: &'a mut Vec<u8>,
    output: &'a mut VecDeque<u8>,
    max_queued: usize,
    play: Option<&'a mut Play>,
    udp: Option<&'a UdpSocket>,
    ring: &'a mut Option<ResendRing<Box<[u8]>>>,
    window: mms_proto::time::Duration,
    now: Instant,
    stats: &'a LoopStats,
}

/// What a live session reads.
struct LiveRead<'a> {
    point: &'a crate::live::point::Point,
    run: &'a crate::live::point::Run,
    /// The streams that need a key frame / an object start to begin.
    needs: (mms_proto::asf::StreamSet, mms_proto::asf::StreamSet),
}

impl Io<'_> {
    /// Keeps the copy of a UDP Data packet (the ring made at the first,
    /// sized for the content's rate and the window).
    fn keep(&mut self, sequence: u32, bytes: &[u8]) {
        // A playlist entry with larger packets needs larger slots.
        if self.ring.as_ref().is_some_and(|r| !r.fits(bytes.len())) {
            *self.ring = None;
        }
        if self.ring.is_none()
            && let Some(m) = self.media
        {
            let len = ResendRing::<Box<[u8]>>::bytes_for(
                self.window,
                m.bit_rate,
                m.packet_size,
                MAX_RING_BYTES,
            );
            *self.ring = ResendRing::new(
                vec![0u8; len].into_boxed_slice(),
                m.packet_size,
                self.window,
            );
        }
        if let Some(r) = self.ring.as_mut() {
            r.store(sequence, self.now, bytes);
        }
    }
}

impl Driver for Io<'_> {
    type Error = io::Error;

    fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], io::Error> {
        let header = match (self.content, &self.live) {
            (Some(c), _) => c.header(),
            (None, Some(l)) => &l.run.header,
            (None, None) => return Err(io::Error::other("header without content")),
        };
        // The machine asks only inside the header it was given.
        header
            .get(offset as usize..(offset as usize).saturating_add(len as usize))
            .ok_or_else(|| io::Error::other("header read out of range"))
    }

    fn packet(&mut self, number: u64) -> Result<Fetch<'_>, io::Error> {
        if let Some(l) = &self.live {
            return Ok(match l.point.fetch(l.run.id, number, l.needs) {
                Held::Packet(p) => Fetch::Packet(self.held.insert(p)),
                Held::Later => {
                    self.waited = Some(number);
                    Fetch::Later
                }
                Held::Skip(to) => {
                    tracing::info!(
                        point = l.point.name(),
                        from = number,
                        to,
                        "listener behind the buffer: skipped ahead"
                    );
                    Fetch::Skip(to)
                }
            });
        }
        let c = self
            .content
            .ok_or_else(|| io::Error::other("packet without content"))?;
        c.read_packet(number, self.packet)?;
        Ok(Fetch::Packet(self.packet))
    }

    fn resend(&mut self, sequence: u32) -> Option<&[u8]> {
        self.ring.as_ref()?.get(sequence, self.now)
    }

    fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent) {
        match to {
            Transmit::Tcp(_) => {
                self.output.extend(bytes);
                let n = bytes.len() as u64;
                self.stats.tcp_bytes.fetch_add(n, Ordering::Relaxed);
                if let Sent::Packet { .. } = what {
                    self.stats.tcp_packets.fetch_add(1, Ordering::Relaxed);
                }
            }
            Transmit::Udp { destination, .. } => {
                if let Sent::Packet { sequence, .. } = what {
                    self.keep(sequence, bytes);
                }
                // Messages decided before this datagram go first (VLC
                // reads ReportReadBlock before the header's datagrams, or
                // misses the next reply); what the socket does not take
                // stays queued, and a failed write shows at the next flush.
                let _ = write_queued(self.stream, self.output);
                // The machine names only its TCP peer's address; a full
                // socket buffer loses the datagram as the network would.
                let sent = self.udp.map(|u| u.send_to(bytes, destination));
                if matches!(sent, Some(Ok(_))) {
                    self.stats.datagrams_out.fetch_add(1, Ordering::Relaxed);
                    let n = bytes.len() as u64;
                    self.stats.udp_bytes.fetch_add(n, Ordering::Relaxed);
                    let count = match what {
                        Sent::Packet { .. } => Some(&self.stats.udp_packets),
                        Sent::Resend { .. } => Some(&self.stats.resent_packets),
                        _ => None,
                    };
                    if let Some(c) = count {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    self.stats
                        .datagram_send_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let (Sent::Packet { .. }, Some(p)) = (what, self.play.as_deref_mut()) {
            p.bytes_sent += bytes.len() as u64;
            p.packets_sent += 1;
        }
    }

    fn has_room(&self) -> bool {
        self.output.len() < self.max_queued
    }
}
