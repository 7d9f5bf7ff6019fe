//! Data over UDP at the client ([3.1.4.7], [3.1.5.6], [3.1.5.9.1],
//! [3.1.5.17]): datagrams only from the server's address; the 32-bit
//! sequence rebuilt from AFFlags for the whole session; gaps asked for in
//! RequestPacketListResend (at most 32 numbers each) after a short wait for
//! reordering, again while still missing, given up after a deadline;
//! duplicates dropped and counted; the UDP packet-pair measured.
//!
//! The machine hands every new packet out at once ([`Event::Packet`] with
//! its sequence); it holds no payloads. What the application needs to put
//! them back in order is [`ClientMachine::udp_settled`]: every sequence
//! below it has arrived (handed out, or of a superseded play) or was given
//! up, so a reorder buffer releases what it holds up to there, in sequence
//! order, and counts the holes as lost.

use core::net::SocketAddr;

use heapless::Deque;

use super::{ClientError, ClientMachine, Event, Phase};
use crate::machine::Transmit;
use crate::time::{Duration, Instant};
use crate::wire::{
    DataKind, DataPacket, DataPacketRepr, MAX_RESEND_PACKETS, RequestPacketListResendRepr,
};

/// Sequences the machine tracks as missing; a gap wider than this is lost
/// at once (a bound on memory, far beyond any loss a stream survives).
pub const MAX_MISSING: usize = 512;

/// What happened to the datagrams of the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Media Data packets received over UDP (each sequence once).
    pub received: u64,
    /// Sequences found missing.
    pub missing: u64,
    /// Missing packets that came after a resend request.
    pub recovered: u64,
    /// Missing packets that came before any request (reordered).
    pub reordered: u64,
    /// Missing packets given up (lost).
    pub lost: u64,
    /// Packets that came again (a duplicate, a resend after the original)
    /// or after they were given up: dropped.
    pub duplicates: u64,
    /// RequestPacketListResend datagrams sent.
    pub requests: u64,
    /// Datagrams from another address than the server's, or unreadable:
    /// dropped.
    pub foreign: u64,
    /// Data packets that came over TCP although the server accepted UDP
    /// (taken, unless [`super::Config::strict`]).
    pub tcp_data: u64,
    /// Header pieces of a read that was cancelled or is over (a late or
    /// delayed copy): dropped.
    pub stale_header: u64,
    /// End-of-play probes given up: the play's last packets may not have
    /// come (or were never sent: not counted lost). mms-client gets the
    /// rest over TCP then.
    pub unanswered: u64,
}

/// A sequence not yet arrived.
#[derive(Debug, Clone, Copy)]
struct Missing {
    sequence: u32,
    /// When it was found missing.
    since: Instant,
    /// When it is asked for (again).
    ask_at: Instant,
    /// Requests that named it.
    asks: u8,
    /// Asked for at the end of a play in case the last packets were lost
    /// (nothing says how many were sent): not counted missing or lost.
    probe: bool,
}

/// The UDP side of a session.
#[derive(Debug, Clone, Default)]
pub(super) struct UdpRecv {
    /// The server accepted UDP (ReportConnectedFunnel).
    pub(super) active: bool,
    /// The next sequence never seen (the highest seen + 1).
    next: u32,
    missing: Deque<Missing, MAX_MISSING>,
    /// The play incarnation of a play that ended while packets were
    /// missing: its packets still come (resent) and are handed out.
    pub(super) finished: Option<u8>,
    /// The UDP packet-pair: the first datagram's arrival.
    pair_first: Option<Instant>,
    /// The highest LocationId of the current play (a forward one).
    pub(super) highest_location: Option<u32>,
    /// The LocationId of the current play's newest packet in sequence
    /// order (reset at each play).
    pub(super) newest_location: Option<u32>,
    pub(super) stats: UdpStats,
}

/// How a media datagram's sequence relates to what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Not seen before.
    New(u32),
    /// Seen before, or given up: drop it.
    Drop,
}

impl UdpRecv {
    /// The lowest sequence not settled.
    fn settled(&self) -> u32 {
        self.missing.front().map_or(self.next, |m| m.sequence)
    }

    /// Records the media datagram whose AFFlags is `low` ([3.1.4.7]: the
    /// client keeps track of the wraps). `place`: its LocationId and the
    /// play's direction, when it is the current play's — what settles the
    /// 8 bits' ambiguity: a packet behind the newest one's LocationId is a
    /// late one (a resend, a reordered packet) whatever the 8 bits say, and
    /// a packet ahead is at most as many sequences ahead as LocationIds
    /// (each packet sent has its own). Without it, the sequence nearest
    /// the next expected is taken.
    fn arrive(
        &mut self,
        now: Instant,
        low: u8,
        place: Option<(u32, bool)>,
        delay: Duration,
    ) -> Arrival {
        let from_next = low.wrapping_sub(self.next as u8);
        let (behind, delta) = match (place, self.newest_location) {
            (Some((loc, forward)), Some(newest)) if loc != newest => {
                let ahead = if forward { loc > newest } else { loc < newest };
                let span = loc.abs_diff(newest);
                // The most sequences ahead its LocationId allows.
                let k = span.saturating_sub(1).saturating_sub(u32::from(from_next)) / 256;
                (!ahead, i64::from(from_next) + 256 * i64::from(k))
            }
            // The newest packet again.
            (Some(_), Some(_)) => {
                self.stats.duplicates += 1;
                return Arrival::Drop;
            }
            _ => {
                let d = i64::from(from_next as i8);
                (d < 0, d)
            }
        };
        if behind {
            // The oldest missing sequence with these 8 bits, else a copy.
            let Some(i) = self.missing.iter().position(|m| m.sequence as u8 == low) else {
                self.stats.duplicates += 1;
                return Arrival::Drop;
            };
            let m = remove_at(&mut self.missing, i);
            return Arrival::New(self.recovered(m));
        }
        if let Some((loc, _)) = place {
            self.newest_location = Some(loc);
        }
        let delta = delta.clamp(0, i64::from(u32::MAX)) as u32;
        let seq = self.next.wrapping_add(delta);
        {
            // A gap wider than the bound is lost at once, without a loop
            // over it.
            let gap = delta.min(MAX_MISSING as u32);
            self.stats.lost += u64::from(delta - gap);
            for s in delta - gap..delta {
                let sequence = self.next.wrapping_add(s);
                if self.missing.iter().any(|m| m.sequence == sequence) {
                    // A tail probe already asks for it.
                    continue;
                }
                let m = Missing {
                    sequence,
                    since: now,
                    ask_at: now + delay,
                    asks: 0,
                    probe: false,
                };
                self.stats.missing += 1;
                if self.missing.push_back(m).is_err() {
                    self.stats.lost += 1;
                }
            }
            self.next = seq.wrapping_add(1);
        }
        let Some(i) = self.missing.iter().position(|m| m.sequence == seq) else {
            self.stats.received += 1;
            return Arrival::New(seq);
        };
        // A tail probe answered.
        let m = remove_at(&mut self.missing, i);
        Arrival::New(self.recovered(m))
    }

    /// A missing sequence arrived: counted by how.
    fn recovered(&mut self, m: Missing) -> u32 {
        if m.probe {
            self.stats.missing += 1;
            self.stats.recovered += 1;
        } else if m.asks > 0 {
            self.stats.recovered += 1;
        } else {
            self.stats.reordered += 1;
        }
        self.stats.received += 1;
        m.sequence
    }

    /// Gives up what has been missing `give_up` long.
    fn expire(&mut self, now: Instant, give_up: Duration) {
        let mut kept: Deque<Missing, MAX_MISSING> = Deque::new();
        while let Some(m) = self.missing.pop_front() {
            if now - m.since < give_up {
                // As many as were taken out: room for each.
                let _ = kept.push_back(m);
            } else if m.probe {
                self.stats.unanswered += 1;
            } else {
                self.stats.lost += 1;
            }
        }
        self.missing = kept;
    }

    /// [3.1.5.18] A forward play ended: up to `left` packets of its end may
    /// have been lost unseen (no later packet shows the gap), so the next
    /// sequences are asked for — the server resends those it sent and
    /// ignores the others.
    pub(super) fn probe_tail(&mut self, now: Instant, left: u32) {
        let room = (MAX_MISSING - self.missing.len()) as u32;
        for s in 0..left.min(room) {
            let m = Missing {
                sequence: self.next.wrapping_add(s),
                since: now,
                ask_at: now,
                asks: 0,
                probe: true,
            };
            if self.missing.push_back(m).is_err() {
                break;
            }
        }
    }

    /// When something is to be done: the earliest request or give-up.
    fn deadline(&self, give_up: Duration) -> Option<Instant> {
        self.missing
            .iter()
            .map(|m| m.ask_at.min(m.since + give_up))
            .min()
    }
}

/// Removes the `i`th entry of a deque, keeping the order.
fn remove_at<T: Copy, const N: usize>(d: &mut Deque<T, N>, i: usize) -> T {
    let mut rest: Deque<T, N> = Deque::new();
    for _ in 0..i {
        if let Some(x) = d.pop_front() {
            // Moved from `d`, which holds at most N: room for each.
            let _ = rest.push_back(x);
        }
    }
    let found = d.pop_front();
    while let Some(x) = d.pop_front() {
        let _ = rest.push_back(x);
    }
    *d = rest;
    // `i` came from `position`, so the entry exists.
    found.unwrap_or_else(|| unreachable!("remove_at past the end"))
}

impl ClientMachine {
    /// Every sequence below this has been handed out, was a superseded
    /// play's, or was given up: a reorder buffer may release what it
    /// holds below it. (TCP: the next sequence.)
    pub fn udp_settled(&self) -> u32 {
        self.udp.settled()
    }

    /// Sequences still missing and hoped for, the end-of-play probes
    /// included (0 when nothing is awaited): an application that wants
    /// every packet goes on reading after the end of stream until this is
    /// 0 (it is within [`super::Config::resend_deadline`]).
    pub fn udp_missing(&self) -> usize {
        self.udp.missing.len()
    }

    /// The session's UDP counters.
    pub fn udp_stats(&self) -> UdpStats {
        self.udp.stats
    }

    /// Whether Data over UDP is in place (the server accepted it).
    pub fn udp_active(&self) -> bool {
        self.udp.active
    }

    /// [3.1.5.9.1] A datagram: from the server's address only, a Data
    /// packet, then the packet-pair, a header piece or media.
    pub(super) fn handle_datagram<'p>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        contents: &'p [u8],
    ) -> Result<Option<Event<'p>>, ClientError> {
        let parsed = DataPacket::new_checked(contents)
            .ok()
            .and_then(|v| DataPacketRepr::parse(&v).ok());
        let from_server = self.config.server_udp == Some(source);
        let (true, true, Some(d)) = (self.udp.active, from_server, parsed) else {
            self.udp.stats.foreign += 1;
            return Ok(None);
        };
        let header = match self.phase {
            Phase::Header | Phase::EntryHeader => Some((self.header.reading() & 0xFF) as u8),
            _ => None,
        };
        match d.kind(header) {
            Ok(DataKind::PacketPair { second }) => Ok(self.on_udp_pair(now, second)),
            Ok(DataKind::HeaderPiece { .. }) => self.udp_header_data(&d),
            // A header piece of a read that is over (a HeaderIncarnation a
            // ReadBlock used, or an entry's 0xFF; this client's plays are
            // 9..=0xFE): not media, and its AFFlags is no sequence. (A
            // server labelling media with such a number while no play has
            // it is tolerated as before, over TCP.)
            Ok(DataKind::Media { .. })
                if self.header.was_read(d.play_incarnation)
                    && !self.play.current_is(d.play_incarnation) =>
            {
                self.udp.stats.stale_header += 1;
                Ok(None)
            }
            Ok(DataKind::Media { sequence, .. }) => {
                let delay = self.config.resend_delay;
                let place = self
                    .play
                    .current_is(d.play_incarnation)
                    .then(|| (d.location_id, !self.play.reverse()));
                match self.udp.arrive(now, sequence, place, delay) {
                    Arrival::New(seq) => self.udp_media(&d, seq),
                    Arrival::Drop => Ok(None),
                }
            }
            Err(_) => {
                self.udp.stats.foreign += 1;
                Ok(None)
            }
        }
    }

    /// [3.1.5.11] The UDP packet-pair ([4.4.1]): the bandwidth from the
    /// two 1,480-byte datagrams' arrival times.
    fn on_udp_pair(&mut self, now: Instant, second: bool) -> Option<Event<'static>> {
        if !second {
            self.udp.pair_first = Some(now);
            return None;
        }
        let first = self.udp.pair_first.take()?;
        let bits = (crate::server::UDP_PAIR_PAYLOAD + crate::wire::DATA_HEADER_LEN) as u64 * 8;
        let dt = (now - first).0;
        let bw = (dt > 0).then(|| bits.saturating_mul(1_000_000) / dt);
        self.setup.set_bandwidth(bw);
        Some(Event::Bandwidth(bw))
    }

    /// A header piece over UDP: as on TCP, but a piece out of order (one
    /// was lost) drops this read; the Header timer asks again
    /// ([3.1.6.1]).
    fn udp_header_data<'p>(
        &mut self,
        d: &DataPacketRepr<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        match self.header_data(d) {
            // The read goes on; its missing piece makes the Header timer
            // expire, and the header is read again.
            Err(ClientError::UnexpectedData(_)) => Ok(None),
            r => r,
        }
    }

    /// A media datagram not seen before: handed out as on TCP when it is
    /// the current play's, or the late packet of a play that ended;
    /// another play's is dropped (it settles its sequence).
    fn udp_media<'p>(
        &mut self,
        d: &DataPacketRepr<'p>,
        sequence: u32,
    ) -> Result<Option<Event<'p>>, ClientError> {
        if self.play.current_is(d.play_incarnation) {
            let h = &mut self.udp.highest_location;
            *h = Some(h.map_or(d.location_id, |l| l.max(d.location_id)));
        }
        if self.udp.finished == Some(d.play_incarnation) {
            return Ok(Some(Event::Packet {
                location_id: d.location_id,
                sequence,
                data: d.payload,
            }));
        }
        match self.media_data(d, Some(sequence)) {
            // Over UDP a datagram of an unknown play, or one that overtook
            // ReportStartedPlaying, ends nothing.
            Err(ClientError::UnexpectedData(_)) => {
                self.udp.stats.foreign += 1;
                Ok(None)
            }
            r => r,
        }
    }

    /// [3.1.4.7] The next RequestPacketListResend, if sequences are due to
    /// be asked for: up to 32, to the server's UDP port (or the proxy's).
    /// Gives up what has been missing [`super::Config::resend_deadline`].
    pub(super) fn poll_resend(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !self.udp.active || self.udp.missing.is_empty() {
            return None;
        }
        self.udp.expire(now, self.config.resend_deadline);
        let destination = self.config.server_udp?;
        let mut request = RequestPacketListResendRepr {
            client_id: self.setup.client_id(),
            source_id: self.file.map_or(1, |f| f.open_file_id) as u16,
            packets: heapless::Vec::new(),
        };
        let again = self.config.resend_interval;
        for m in self.udp.missing.iter_mut() {
            if request.packets.len() == MAX_RESEND_PACKETS {
                break;
            }
            if m.ask_at <= now {
                // Fewer than 32 pushed so far: room for it.
                let _ = request.packets.push(m.sequence);
                m.ask_at = now + again;
                m.asks = m.asks.saturating_add(1);
            }
        }
        if request.packets.is_empty() {
            return None;
        }
        let len = request.emit(buf).ok()?;
        self.udp.stats.requests += 1;
        Some(Transmit::Udp { destination, len })
    }

    /// When the UDP side needs the machine again.
    pub(super) fn udp_deadline(&self) -> Option<Instant> {
        if !self.udp.active {
            return None;
        }
        self.udp.deadline(self.config.resend_deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv() -> UdpRecv {
        UdpRecv {
            active: true,
            ..UdpRecv::default()
        }
    }

    #[test]
    fn sequences_across_wraps_with_gaps_and_duplicates() {
        let mut u = recv();
        let d = Duration::from_millis(20);
        let t = Instant(0);
        for s in 0..300u32 {
            if s % 7 == 3 {
                continue;
            }
            assert_eq!(u.arrive(t, s as u8, None, d), Arrival::New(s));
        }
        // 300 / 7 gaps, each missing.
        assert_eq!(u.missing.len(), 43);
        assert_eq!(u.settled(), 3);
        // Past the wraps: 297 is still missing (297 % 7 == 3).
        assert_eq!(u.arrive(t, 297u32 as u8, None, d), Arrival::New(297));
        assert_eq!(u.arrive(t, 297u32 as u8, None, d), Arrival::Drop);
        assert_eq!(u.arrive(t, 299u32 as u8, None, d), Arrival::Drop);
        assert_eq!(u.stats.duplicates, 2);
        // AFFlags 3, far behind: the oldest missing sequence with those 8
        // bits (3, a very late resend), not 259 (long received).
        assert_eq!(u.arrive(t, 3, None, d), Arrival::New(3));
        u.expire(Instant(5_000_000), Duration::from_secs(2));
        assert_eq!(u.missing.len(), 0);
        assert_eq!(u.settled(), 300);
        assert_eq!(u.stats.reordered, 2);
        assert_eq!(u.stats.lost, 41);
        // A probe past the end: an arrival is recovered, the rest not lost.
        u.probe_tail(Instant(5_000_000), 3);
        assert_eq!(
            u.arrive(Instant(5_000_000), 301u32 as u8, None, d),
            Arrival::New(301)
        );
        assert_eq!(u.missing.len(), 2);
        u.expire(Instant(9_000_000), Duration::from_secs(2));
        assert_eq!((u.stats.lost, u.stats.recovered), (41, 1));
    }
}
