//! The one loop that answers the machine's content requests: poll, read
//! what it asks for from a [`Driver`], hand the bytes back, pass what it
//! writes on — until it waits. The runtime (mms-server's event loop), the
//! simulations and the fuzz oracle all drive the machine with it, so the
//! run-loop contract is kept in one place.

use super::{Data, Fetch, Output, ServerError, ServerMachine};
use crate::machine::Transmit;
use crate::time::Instant;

/// What a transmitted unit is (for the runtime's counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// A TcpMessageHeader packet.
    Message,
    /// A Data packet carrying a piece of the ASF file header.
    HeaderPiece,
    /// A Data packet carrying ASF data packet `number`.
    Packet {
        /// Its LocationId.
        number: u64,
        /// Its 32-bit sequence ([3.2.5.11.1]): the key a runtime keeps a
        /// UDP copy under ([`super::ResendRing`]).
        sequence: u32,
    },
    /// A UDP packet-pair datagram ([4.4.1]).
    PacketPair,
    /// A copy of the Data packet of `sequence`, sent again ([3.2.5.13]).
    Resend {
        /// Its sequence.
        sequence: u32,
    },
}

/// The runtime's side of a machine: where content comes from and where
/// output goes.
pub trait Driver {
    /// Why content could not be read.
    type Error;

    /// `len` bytes of the ASF file header at `offset`.
    fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], Self::Error>;

    /// ASF data packet `number` as stored (the packet size) — or, for
    /// live content, that it is not made yet or no longer held
    /// ([`Fetch`]). The same number may be asked for again when the first
    /// answer was early: a source that keeps its last packet answers
    /// without reading again.
    fn packet(&mut self, number: u64) -> Result<Fetch<'_>, Self::Error>;

    /// The copy kept of the Data packet of `sequence` as it was sent over
    /// UDP ([3.2.5.13]), if it is still held (a [`super::ResendRing`]). A
    /// driver that keeps none (TCP delivery only) answers `None`: the
    /// machine then counts the request as not held.
    fn resend(&mut self, sequence: u32) -> Option<&[u8]> {
        let _ = sequence;
        None
    }

    /// Takes `bytes` to send as `to` says. The machine's state has moved
    /// on: the bytes must be sent (or the session closed).
    fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent);

    /// Whether the runtime can take another unit now. Asked before each
    /// one is produced; `false` ends the drain with [`Drained::Full`], so
    /// a client that does not read holds at most one unit beyond the
    /// runtime's bound.
    fn has_room(&self) -> bool;
}

/// Why [`drain`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// A data packet is not due yet (pacing): nothing is to be done before
    /// this time — the earlier of the packet's due time and the machine's
    /// timers ([`ServerMachine::poll_timeout`]) — unless input comes.
    NotBefore(Instant),
    /// Call [`ServerMachine::handle_timeout`] at this time unless input
    /// comes first.
    Timeout(Instant),
    /// Nothing until input arrives.
    Wait,
    /// A playlist entry ended: answer with
    /// [`ServerMachine::next_entry`] or [`ServerMachine::end_of_content`],
    /// then drain again.
    NextEntry,
    /// [`Driver::has_room`] said no; drain again when there is room.
    Full,
    /// Close the connection.
    Close,
}

/// Why [`drain`] failed: the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveError<E> {
    /// The machine ended the session.
    Machine(ServerError),
    /// The driver could not read the content asked for.
    Content(E),
}

impl<E> From<ServerError> for DriveError<E> {
    fn from(e: ServerError) -> Self {
        DriveError::Machine(e)
    }
}

impl<E: core::fmt::Display> core::fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriveError::Machine(e) => e.fmt(f),
            DriveError::Content(e) => write!(f, "content: {e}"),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for DriveError<E> {}

/// Runs `machine` until it waits (or the driver has no room): serializes
/// its replies, answers its header and packet reads from `driver`, and
/// hands every unit to [`Driver::transmit`]. `buf` must hold a Data packet (packet size + 8)
/// and a TcpMessageHeader packet.
pub fn drain<D: Driver>(
    machine: &mut ServerMachine,
    now: Instant,
    driver: &mut D,
    buf: &mut [u8],
) -> Result<Drained, DriveError<D::Error>> {
    loop {
        if !driver.has_room() {
            return Ok(Drained::Full);
        }
        // Header pieces and packets go where the funnel says
        // (`data_route`); messages always on TCP.
        let (to, what) = match machine.poll_output(now, buf)? {
            Output::Transmit(t @ Transmit::Udp { .. }) => (t, Sent::PacketPair),
            Output::Transmit(t) => (t, Sent::Message),
            Output::ReadHeader { offset, len } => {
                let bytes = driver.header(offset, len).map_err(DriveError::Content)?;
                let n = machine.header_piece(now, bytes, buf)?;
                (machine.data_route(n), Sent::HeaderPiece)
            }
            Output::Resend { sequence } => {
                let held = driver.resend(sequence);
                match machine.resend_packet(sequence, held, buf)? {
                    Some(t) => (t, Sent::Resend { sequence }),
                    None => continue,
                }
            }
            Output::ReadPacket { number } => {
                let bytes = match driver.packet(number).map_err(DriveError::Content)? {
                    Fetch::Packet(bytes) => bytes,
                    Fetch::Later => {
                        machine.live_wait(number)?;
                        continue;
                    }
                    Fetch::Skip(to) => {
                        machine.live_skip(now, number, to)?;
                        continue;
                    }
                };
                match machine.data_packet(now, number, bytes, buf)? {
                    Data::Send(n) => {
                        let sequence = machine.next_sequence().wrapping_sub(1);
                        (machine.data_route(n), Sent::Packet { number, sequence })
                    }
                    Data::NotBefore(due) => {
                        let t = machine.poll_timeout().map_or(due, |t| t.min(due));
                        return Ok(Drained::NotBefore(t));
                    }
                    Data::Skipped | Data::Cancelled => continue,
                }
            }
            Output::NextEntry => return Ok(Drained::NextEntry),
            Output::Timeout(t) => return Ok(Drained::Timeout(t)),
            Output::Wait => return Ok(Drained::Wait),
            Output::Close => return Ok(Drained::Close),
        };
        driver.transmit(to, &buf[..to.len()], what);
    }
}
