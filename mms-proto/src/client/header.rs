//! The ASF file header read: ReadBlock with HeaderIncarnation
//! ([3.1.5.9.1]), the pieces in LocationId order ([3.1.5.12]) and the
//! Header timer with CancelReadBlock ([3.1.2], [3.1.6.1]). A playlist
//! entry's header ([3.1.5.19]) is the same read at incarnation 0xFF,
//! without ReadBlock and without the timer.

use crate::time::{Duration, Instant};
use crate::wire::{DataKind, DataPacketRepr, Error, TCP_HDR_INCARNATION};

use super::output::Pending;
use super::{ClientError, ClientMachine, Event, FileInfo, Phase};

/// [3.1.6.1] retry limit of the Header timer.
pub const HEADER_RETRY_LIMIT: u8 = 4;
/// The retry limit over UDP: the spec's SHOULD is 4, but a lost datagram
/// is what the timer recovers there, and under 20% loss a header read five
/// times is still lost once in ~3,000 sessions (a deliberate deviation).
pub const UDP_HEADER_RETRY_LIMIT: u8 = 8;

/// The header being read and its Header timer.
#[derive(Debug, Clone)]
pub(super) struct HeaderRead {
    /// HeaderIncarnation ([3.1.1]): the next ReadBlock's, 1..=8.
    next_incarnation: u32,
    /// The incarnation of the read in progress (0xFF for a playlist
    /// entry's header).
    reading: u32,
    /// A cancelled read whose pieces may still arrive ([3.1.6.1]).
    cancelled: Option<u32>,
    /// LocationId of the next piece.
    next_piece: u32,
    /// Bytes of the header so far.
    bytes: u64,
    /// When the Header timer expires.
    deadline: Option<Instant>,
    /// How often it expired for this header.
    expiries: u8,
    /// The HeaderIncarnations ReadBlock used (bit n: incarnation n), and
    /// bit 0 for a playlist entry's 0xFF: what a late header piece over UDP
    /// is told apart by.
    used: u16,
}

/// A Data packet that arrived while a header is read.
pub(super) enum Piece<'p> {
    /// The next piece of the header.
    Header {
        data: &'p [u8],
        first: bool,
        last: bool,
    },
    /// A piece of a cancelled read: dropped.
    Cancelled,
    /// Media of this play incarnation (not the header's).
    Media(u8),
}

impl HeaderRead {
    pub(super) fn new() -> Self {
        HeaderRead {
            next_incarnation: 1,
            reading: 0,
            cancelled: None,
            next_piece: 0,
            bytes: 0,
            deadline: None,
            expiries: 0,
            used: 0,
        }
    }

    /// Whether a header read used `incarnation` (a piece of it may still
    /// come late over UDP).
    pub(super) fn was_read(&self, incarnation: u8) -> bool {
        let bit = if incarnation == 0xFF {
            0
        } else {
            u32::from(incarnation)
        };
        bit < 16 && self.used & (1 << bit) != 0
    }

    /// [3.1.5.9.1] A new read: its HeaderIncarnation, and the Header
    /// timer at 1 s plus the header's transfer time at the file bit rate,
    /// at least `floor`, within 1..=30 s.
    fn begin(&mut self, now: Instant, f: FileInfo, floor: Duration) -> u32 {
        let incarnation = self.next_incarnation;
        self.next_incarnation = if incarnation >= 8 { 1 } else { incarnation + 1 };
        self.used |= 1 << incarnation;
        self.reading = incarnation;
        self.next_piece = 0;
        self.bytes = 0;
        let transfer_us = if f.bit_rate > 0 {
            (f.header_size as u64 * 8).saturating_mul(1_000_000) / f.bit_rate as u64
        } else {
            0
        };
        let period = Duration(
            (1_000_000 + transfer_us)
                .max(floor.0)
                .clamp(1_000_000, 30_000_000),
        );
        self.deadline = Some(now + period);
        incarnation
    }

    /// [3.1.5.19] A playlist entry's header follows on TCP, unasked.
    pub(super) fn begin_entry(&mut self) {
        self.used |= 1;
        self.reading = TCP_HDR_INCARNATION;
        self.next_piece = 0;
        self.bytes = 0;
    }

    /// The incarnation of the read in progress.
    pub(super) fn reading(&self) -> u32 {
        self.reading
    }

    /// When the Header timer expires, if it runs.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// [3.1.6.1] The timer expired: the read to cancel, or the end.
    fn expire(&mut self, limit: u8) -> Result<u32, ClientError> {
        self.expiries += 1;
        if self.expiries > limit {
            return Err(ClientError::HeaderTimeout);
        }
        self.cancelled = Some(self.reading);
        Ok(self.reading)
    }

    /// Classifies a Data packet of the read ([3.1.5.12]): pieces in
    /// LocationId order (the first carries AFFlags 0x04 or 0x0C), at most
    /// `max_len` bytes, `want` bytes in all when `strict` (0: unknown).
    fn piece<'p>(
        &mut self,
        d: &DataPacketRepr<'p>,
        max_len: u32,
        want: u32,
        strict: bool,
    ) -> Result<Piece<'p>, ClientError> {
        match d.kind(Some((self.reading & 0xFF) as u8))? {
            DataKind::PacketPair { .. } => Err(ClientError::UnexpectedData(
                "a UDP packet-pair probe on TCP",
            )),
            DataKind::Media { .. }
                if self
                    .cancelled
                    .is_some_and(|c| c & 0xFF == d.play_incarnation as u32) =>
            {
                Ok(Piece::Cancelled)
            }
            DataKind::Media { .. } => Ok(Piece::Media(d.play_incarnation)),
            DataKind::HeaderPiece { index, last } => {
                if index != self.next_piece {
                    return Err(ClientError::UnexpectedData("header piece out of order"));
                }
                self.next_piece += 1;
                self.bytes += d.payload.len() as u64;
                if self.bytes > max_len as u64 {
                    return Err(Error::invalid("header", "longer than the limit").into());
                }
                if last {
                    if strict && want != 0 && want as u64 != self.bytes {
                        return Err(Error::invalid("header", "not fileHeaderSize long").into());
                    }
                    self.deadline = None;
                    self.expiries = 0;
                    self.cancelled = None;
                }
                Ok(Piece::Header {
                    data: d.payload,
                    first: index == 0,
                    last,
                })
            }
        }
    }
}

impl ClientMachine {
    /// The Header timer ([3.1.6.1]): CancelReadBlock and ReadBlock again,
    /// at most [`HEADER_RETRY_LIMIT`] times; then the session ends with
    /// [`ClientError::HeaderTimeout`]. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError> {
        let Some(deadline) = self.header.deadline() else {
            return Ok(());
        };
        if now < deadline || self.phase != Phase::Header {
            return Ok(());
        }
        let limit = if self.udp.active {
            UDP_HEADER_RETRY_LIMIT
        } else {
            HEADER_RETRY_LIMIT
        };
        let incarnation = self.header.expire(limit).inspect_err(|_| {
            self.phase = Phase::Closed;
        })?;
        self.out.push(Pending::CancelReadBlock { incarnation })?;
        self.setup.rearm_packet_pair();
        self.read_block(now)
    }

    /// [3.1.5.9.1] ReadBlock with the next HeaderIncarnation, and the
    /// Header timer.
    /// Over UDP the period is the spec's, 1 s plus the transfer time (a
    /// lost datagram is read again soon); on TCP at least
    /// [`super::Config::header_timeout`].
    pub(super) fn read_block(&mut self, now: Instant) -> Result<(), ClientError> {
        let f = self.file.unwrap_or_default();
        let floor = if self.udp.active {
            Duration::from_secs(1)
        } else {
            self.config.header_timeout
        };
        let incarnation = self.header.begin(now, f, floor);
        self.out.push(Pending::ReadBlock { incarnation })?;
        self.phase = Phase::Header;
        Ok(())
    }

    /// A Data packet while the header (or a playlist entry's) is read.
    pub(super) fn header_data<'p>(
        &mut self,
        d: &DataPacketRepr<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        let want = self.file.map_or(0, |f| f.header_size);
        let c = &self.config;
        match self.header.piece(d, c.max_header_len, want, c.strict)? {
            Piece::Cancelled => Ok(None),
            Piece::Media(incarnation) if self.play.drop_if_stale(incarnation) => Ok(None),
            Piece::Media(_) => Err(ClientError::UnexpectedData(
                "not a piece of the header asked for (wrong incarnation)",
            )),
            Piece::Header { data, first, last } => {
                if last {
                    self.header_done()?;
                }
                Ok(Some(Event::HeaderPiece { data, first, last }))
            }
        }
    }
}
