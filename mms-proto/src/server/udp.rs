//! Data over UDP ([3.2.5.5], [3.2.5.8.1], [3.2.5.11.1]): Client-Port and
//! the destination, the UDP packet-pair of [4.4.1], [3.2.5.13]
//! RequestPacketListResend with its checks and its budget, and the
//! ReportEndOfStream held back until the last datagram had time to arrive.
//!
//! The destination is always the TCP peer's address with Client-Port:
//! never an address named in funnelName or taken from a datagram, so the
//! server sends to no one but the host that opened the TCP session (no
//! reflector). Resent bytes are paid for from a token bucket filled at a
//! multiple of the content bit rate ([`super::Config::resend_budget_percent`]),
//! so no number of requests makes the server send more than that (no
//! amplifier). The copies themselves are kept by the runtime (a
//! [`super::ResendRing`]): the machine decides what is resent, the runtime
//! only stores what it sent.

use core::net::{IpAddr, SocketAddr};

use heapless::Deque;

use super::{Output, Reply, ServerError, ServerMachine};
use crate::machine::Transmit;
use crate::time::{Duration, Instant};
use crate::wire::{
    AF_PACKET_PAIR, DATA_HEADER_LEN, DataPacketRepr, HResult, PACKET_PAIR_INCARNATION,
    RequestPacketListResendRepr,
};

/// Sequences asked for and not yet answered that the machine holds; more
/// are dropped (counted in [`UdpStats::dropped`]).
pub const RESEND_QUEUE: usize = 64;
/// LocationId of the first UDP packet-pair datagram ([4.4.1]).
pub const UDP_PAIR_LOCATION: u32 = 0xF0F0_F000;
/// Payload of a UDP packet-pair datagram ([4.4.1]).
pub const UDP_PAIR_PAYLOAD: usize = 1472;
/// The least resend rate, bytes/s, whatever the content's bit rate says
/// (content without a declared rate can still recover a loss).
const MIN_RESEND_RATE: u64 = 8 * 1024;
/// The least resend rate in datagrams a second (of the largest the
/// content has).
const MIN_RESENDS_PER_SEC: u64 = 4;

/// What the session did with datagrams and resend requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// RequestPacketListResend datagrams that passed every check.
    pub requests: u64,
    /// Data packets sent again.
    pub resent: u64,
    /// Bytes sent again.
    pub resent_bytes: u64,
    /// Asked-for packets no longer held (or never sent).
    pub not_held: u64,
    /// Asked-for packets dropped: the queue was full.
    pub dropped: u64,
    /// Datagrams refused: from another address, wrong dwClientId or
    /// wSourceId, malformed, or with no UDP delivery in place.
    pub refused: u64,
}

/// The resend budget: a token bucket of bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Budget {
    /// Bytes that may be sent now.
    tokens: u64,
    /// Most tokens held (one second's worth, at least one datagram).
    capacity: u64,
    /// Bytes per second.
    rate: u64,
    /// Up to when the tokens were counted.
    counted: Instant,
}

impl Budget {
    fn new(now: Instant, rate: u64, max_datagram: u64) -> Self {
        let capacity = rate.max(max_datagram);
        Self {
            tokens: capacity,
            capacity,
            rate,
            counted: now,
        }
    }

    /// The rate and the burst of the content being played (a playlist
    /// entry may change them).
    fn set(&mut self, rate: u64, max_datagram: u64) {
        self.rate = rate;
        self.capacity = rate.max(max_datagram);
        self.tokens = self.tokens.min(self.capacity);
    }

    fn refill(&mut self, now: Instant) {
        if self.rate == 0 || now <= self.counted {
            return;
        }
        let elapsed = (now - self.counted).0;
        let add = elapsed.saturating_mul(self.rate) / 1_000_000;
        if add == 0 {
            return;
        }
        // Advance only by the time the whole bytes took: no fraction lost.
        self.counted = self.counted + Duration(add.saturating_mul(1_000_000) / self.rate);
        self.tokens = self.tokens.saturating_add(add).min(self.capacity);
        if self.tokens == self.capacity {
            self.counted = now;
        }
    }

    /// When `need` tokens will be there.
    fn ready_at(&self, need: u64) -> Instant {
        let short = need.saturating_sub(self.tokens);
        self.counted + Duration(short.saturating_mul(1_000_000).div_ceil(self.rate.max(1)))
    }
}

/// The session's UDP delivery.
#[derive(Debug, Clone, Default)]
pub(super) struct Udp {
    /// The TCP peer's address (Data over UDP goes there, nowhere else).
    pub(super) peer: Option<IpAddr>,
    /// Where Data packets go: the peer with Client-Port; `None`: TCP.
    destination: Option<SocketAddr>,
    /// UDP-Packet-Pair ([3.2.1]): FunnelInfo asked for the UDP pair.
    pub(super) pair_asked: bool,
    /// Packet-pair datagrams still to send before the header.
    pair_left: u8,
    /// Sequences asked for, in order.
    wanted: Deque<u32, RESEND_QUEUE>,
    budget: Budget,
    /// ReportEndOfStream (hr, incarnation) held until this time.
    end: Option<(Instant, HResult, u32)>,
    pub(super) stats: UdpStats,
}

impl Udp {
    /// Where Data packets go (`None`: over TCP).
    pub(super) fn destination(&self) -> Option<SocketAddr> {
        self.destination
    }

    /// [3.2.5.5] Client-Port: Data goes over UDP to the peer at `port`;
    /// false when the peer is unknown (no UDP then).
    pub(super) fn select(&mut self, port: u16) -> bool {
        match (self.peer, port) {
            (Some(ip), p) if p != 0 => {
                self.destination = Some(SocketAddr::new(ip, p));
                true
            }
            _ => false,
        }
    }

    /// Data goes over TCP (a later TCP ConnectFunnel).
    pub(super) fn deselect(&mut self) {
        self.destination = None;
        self.pair_asked = false;
    }

    /// The earliest time something is due: the held end of stream, or the
    /// budget for a waiting resend.
    pub(super) fn deadline(&self, max_datagram: u64) -> Option<Instant> {
        let resend = (!self.wanted.is_empty()).then(|| self.budget.ready_at(max_datagram));
        [self.end.map(|(t, ..)| t), resend]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The canonical form of an address (an IPv4-mapped IPv6 address is the
/// IPv4 one), for comparing a datagram's source with the TCP peer.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl ServerMachine {
    /// The TCP peer's address: Data over UDP is sent to it (with the port
    /// ConnectFunnel names) and resend requests are taken only from it.
    /// Without it, a UDP ConnectFunnel is declined.
    pub fn with_peer(mut self, peer: IpAddr) -> Self {
        self.udp.peer = Some(canonical(peer));
        self
    }

    /// Where Data packets go: `Some` once a UDP funnel was accepted.
    pub fn udp_destination(&self) -> Option<SocketAddr> {
        self.udp.destination()
    }

    /// Sequence ([3.2.1]): of the next Data packet carrying an ASF data
    /// packet; every one below it was sent.
    pub fn next_sequence(&self) -> u32 {
        self.play.sequence()
    }

    /// The session's datagram counters.
    pub fn udp_stats(&self) -> UdpStats {
        self.udp.stats
    }

    /// How a Data packet of `len` bytes the machine wrote goes out
    /// ([3.2.5.8.1], [3.2.5.11.1]): to the UDP destination when Client-Port
    /// is set, else on the TCP connection.
    pub fn data_route(&self, len: usize) -> Transmit {
        match self.udp.destination() {
            Some(destination) => Transmit::Udp { destination, len },
            None => Transmit::Tcp(len),
        }
    }

    /// The largest Data packet of this content (the budget's unit).
    fn max_datagram(&self) -> u64 {
        self.media
            .map_or(64 * 1024, |m| u64::from(m.packet_size))
            .saturating_add(DATA_HEADER_LEN as u64)
    }

    /// [3.2.5.13] A datagram from `source`: a RequestPacketListResend is
    /// checked (the peer's address, dwClientId = Client-ID, wSourceId =
    /// File-ID's low 16 bits) and its packets queued for resending. Any
    /// other datagram is refused and counted: a datagram never ends the
    /// TCP session.
    pub(super) fn on_datagram(&mut self, now: Instant, source: SocketAddr, contents: &[u8]) {
        let from_peer = self.udp.peer == Some(canonical(source.ip()));
        let request = RequestPacketListResendRepr::parse(contents)
            .ok()
            .filter(|r| r.client_id == self.client_id && r.source_id == super::FILE_ID as u16);
        // Before any content is open nothing was sent: nothing to resend.
        let (true, Some(request), Some(_), Some(media)) =
            (from_peer, request, self.udp.destination, self.media)
        else {
            self.udp.stats.refused += 1;
            return;
        };
        self.udp.stats.requests += 1;
        let rate = (u64::from(media.bit_rate) / 8)
            .saturating_mul(u64::from(self.config.resend_budget_percent))
            / 100;
        // At least four of the content's largest datagrams a second: low
        // rate content in large packets still recovers a loss in time.
        let rate = rate
            .max(MIN_RESEND_RATE)
            .max(MIN_RESENDS_PER_SEC * self.max_datagram());
        if self.udp.budget.capacity == 0 {
            self.udp.budget = Budget::new(now, rate, self.max_datagram());
        } else {
            self.udp.budget.set(rate, self.max_datagram());
        }
        for &s in &request.packets {
            if s >= self.play.sequence() {
                // Never sent: nothing to resend.
                self.udp.stats.not_held += 1;
            } else if self.udp.wanted.iter().any(|&w| w == s) {
                // Already queued.
            } else if self.udp.wanted.push_back(s).is_err() {
                self.udp.stats.dropped += 1;
            }
        }
    }

    /// The next resend, if one is queued and the budget allows it.
    pub(super) fn poll_resend(&mut self, now: Instant) -> Option<Output> {
        if self.udp.wanted.is_empty() {
            return None;
        }
        self.udp.budget.refill(now);
        if self.udp.budget.tokens < self.max_datagram() {
            return None;
        }
        let sequence = self.udp.wanted.pop_front()?;
        Some(Output::Resend { sequence })
    }

    /// The answer to [`Output::Resend`]: the Data packet as it was sent
    /// (`None`: no longer held). Copies it into `buf` unmodified
    /// ([3.2.5.13]) and pays for it; the datagram to send, if any.
    pub fn resend_packet(
        &mut self,
        sequence: u32,
        held: Option<&[u8]>,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, ServerError> {
        let (Some(bytes), Some(destination)) = (held, self.udp.destination) else {
            self.udp.stats.not_held += 1;
            return Ok(None);
        };
        // A copy must be a Data packet of this session: the runtime's store
        // keys them by sequence; anything else is its mistake.
        let expected = (sequence & 0xFF) as u8;
        if bytes.len() < DATA_HEADER_LEN || bytes[5] != expected {
            return Err(ServerError::Misuse(
                "resend_packet with other than the packet of that sequence",
            ));
        }
        let dst = buf
            .get_mut(..bytes.len())
            .ok_or(ServerError::Misuse("resend_packet buffer too small"))?;
        dst.copy_from_slice(bytes);
        let len = bytes.len() as u64;
        self.udp.budget.tokens = self.udp.budget.tokens.saturating_sub(len);
        self.udp.stats.resent += 1;
        self.udp.stats.resent_bytes += len;
        Ok(Some(Transmit::Udp {
            destination,
            len: bytes.len(),
        }))
    }

    /// [4.4.1] After ReadBlock: the two packet-pair datagrams go first.
    pub(super) fn start_udp_pair(&mut self) {
        if self.udp.pair_asked && self.udp.destination.is_some() {
            self.udp.pair_left = 2;
        }
    }

    /// [4.4.1] The next packet-pair datagram: LocationId 0xF0F0F000 then
    /// 0xF0F0F001, playIncarnation 0xFF, AFFlags 0x10, 1,472 bytes of
    /// high-entropy filler.
    pub(super) fn poll_udp_pair(&mut self, buf: &mut [u8]) -> Result<Option<Output>, ServerError> {
        let Some(destination) = self.udp.destination.filter(|_| self.udp.pair_left > 0) else {
            return Ok(None);
        };
        let index = 2 - u32::from(self.udp.pair_left);
        self.udp.pair_left -= 1;
        let mut filler = [0u8; UDP_PAIR_PAYLOAD];
        // [4.4.1] The second is identical to the first but for LocationId.
        super::output::packet_pair_filler(self.client_id, 16, &mut filler);
        let len = DataPacketRepr {
            location_id: UDP_PAIR_LOCATION + index,
            play_incarnation: PACKET_PAIR_INCARNATION,
            af_flags: AF_PACKET_PAIR,
            payload: &filler,
        }
        .emit(buf)?;
        Ok(Some(Output::Transmit(Transmit::Udp { destination, len })))
    }

    /// [3.2.4.1] The end of a play over UDP: ReportEndOfStream is held
    /// [`super::Config::udp_end_delay`] so the last datagrams arrive first
    /// (VLC ends its session on it at once); `false` over TCP.
    pub(super) fn hold_end(&mut self, now: Instant, hr: HResult, incarnation: u32) -> bool {
        if self.udp.destination.is_none() || self.config.udp_end_delay.0 == 0 {
            return false;
        }
        let at = now + self.config.udp_end_delay;
        self.udp.end = Some((at, hr, incarnation));
        // The client may still ask for the last packets: the linger lasts
        // at least as long as their copies are kept.
        let window = self.config.resend_window;
        let linger = self.config.linger.map(|l| l.max(window));
        self.timers.linger(at, linger);
        true
    }

    /// Queues the held ReportEndOfStream when it is due, or at once
    /// (`force`: a new request comes, and its answer must follow it).
    pub(super) fn release_end(&mut self, now: Instant, force: bool) -> Result<(), ServerError> {
        match self.udp.end {
            Some((at, hr, incarnation)) if (force || at <= now) && !self.out.full() => {
                self.udp.end = None;
                self.out.push(Reply::EndOfStream { hr, incarnation })
            }
            _ => Ok(()),
        }
    }

    /// The earliest UDP deadline.
    pub(super) fn udp_deadline(&self) -> Option<Instant> {
        self.udp.deadline(self.max_datagram())
    }
}
