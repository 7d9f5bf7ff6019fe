//! What the machine tells the application: events (borrowing the input),
//! outputs (what to do next) and the answer to a packet read.

use crate::machine::Transmit;
use crate::time::Instant;
use crate::wire::{LoggingRepr, Utf16Str};

/// Most events one TcpMessageHeader packet yields.
pub const MAX_EVENTS: usize = 4;

/// The events of one input, in order.
pub type Events<'p> = heapless::Vec<Event<'p>, MAX_EVENTS>;

/// What the application must see or decide, borrowing the input packet.
/// Its `Debug` shows a token's length, never its bytes (credentials must
/// not reach a log).
#[derive(Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Event<'p> {
    /// [3.2.5.6] The client asks for this path: answer with
    /// [`super::ServerMachine::accept_open`],
    /// [`super::ServerMachine::redirect_open`] or
    /// [`super::ServerMachine::reject_open`].
    OpenRequest {
        /// fileName: the URL path, not percent-encoded.
        file_name: Utf16Str<'p>,
        /// tokenData: credentials, empty when none were sent. For a path
        /// that needs identification hand it to
        /// [`super::ServerMachine::authenticate_open`].
        token: &'p [u8],
    },
    /// [3.2.5.7] The client answered a SecurityChallenge: identify it
    /// with [`super::ServerMachine::authenticate_open`] (or refuse the
    /// open with [`super::ServerMachine::reject_open`]).
    SecurityResponse {
        /// pToken: the credentials or the NTLM message.
        token: &'p [u8],
    },
    /// [3.2.5.11] The client asks to play from `position_ms` (content time);
    /// map it to a packet (e.g. [`crate::asf::packet_for_time`]) and answer
    /// with [`super::ServerMachine::seek_to`].
    SeekRequest {
        /// Content time, ms.
        position_ms: u64,
    },
    /// [3.2.5.11] on live content ([`super::Media::live`]): the client
    /// joins the broadcast. Answer with [`super::ServerMachine::seek_to`]
    /// at the packet to start from — the newest where each stream of
    /// [`super::ServerMachine::selected_streams`] can start cleanly (the
    /// machine drops what comes before each stream's key frame or object
    /// start, so any packet is safe; a good one only shortens the wait).
    JoinLive,
    /// Playing started ([3.2.5.11]); data packets follow from this number.
    PlayStarted {
        /// The first packet sent.
        from_packet: u64,
    },
    /// [3.2.5.15] The client's statistics (for the access log).
    Logging(LoggingRepr<'p>),
    /// [3.2.5.17] The client is finishing; the session closes.
    CloseRequested,
}

impl core::fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Event::OpenRequest { file_name, token } => f
                .debug_struct("OpenRequest")
                .field("file_name", file_name)
                .field("token_len", &token.len())
                .finish(),
            Event::SecurityResponse { token } => f
                .debug_struct("SecurityResponse")
                .field("token_len", &token.len())
                .finish(),
            Event::SeekRequest { position_ms } => f
                .debug_struct("SeekRequest")
                .field("position_ms", position_ms)
                .finish(),
            Event::PlayStarted { from_packet } => f
                .debug_struct("PlayStarted")
                .field("from_packet", from_packet)
                .finish(),
            Event::JoinLive => f.write_str("JoinLive"),
            Event::Logging(l) => f.debug_tuple("Logging").field(l).finish(),
            Event::CloseRequested => f.write_str("CloseRequested"),
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send the bytes written at the start of the buffer.
    Transmit(Transmit),
    /// Read `len` bytes of the ASF file header at `offset` and hand them to
    /// [`super::ServerMachine::header_piece`].
    ReadHeader {
        /// Offset into the ASF file header.
        offset: u32,
        /// Bytes to read.
        len: u32,
    },
    /// Read ASF data packet `number` and hand it to
    /// [`super::ServerMachine::data_packet`]. Asked again for the same
    /// number when an answer was [`Data::NotBefore`] and that time came.
    ReadPacket {
        /// The packet number (LocationId).
        number: u64,
    },
    /// [3.2.5.13] The client asked for the Data packet of `sequence` again:
    /// hand the copy the runtime kept of it ([`super::ResendRing`]), or
    /// `None`, to [`super::ServerMachine::resend_packet`].
    Resend {
        /// The 32-bit sequence of the Data packet.
        sequence: u32,
    },
    /// The playlist entry ended and [`super::Media::continues`] said another
    /// follows: open it and call [`super::ServerMachine::next_entry`] (or
    /// [`super::ServerMachine::end_of_content`] if it cannot be opened).
    NextEntry,
    /// Nothing before this time: call [`super::ServerMachine::handle_timeout`]
    /// and poll again then.
    Timeout(Instant),
    /// Nothing until input arrives.
    Wait,
    /// Close the connection.
    Close,
}

/// What a [`super::Driver`] has of the packet asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch<'a> {
    /// The packet as stored (the packet size).
    Packet(&'a [u8]),
    /// Live: the source has not made it yet. The read waits
    /// ([`super::ServerMachine::live_waiting`]) until the runtime calls
    /// [`super::ServerMachine::live_ready`].
    Later,
    /// Live: it is no longer held (the listener fell behind the buffer);
    /// the play goes on at this later packet, every stream starting
    /// cleanly again ([`super::ServerMachine::live_skip`]).
    Skip(u64),
}

/// The answer of [`super::ServerMachine::data_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Send the first `n` bytes of the buffer.
    Send(usize),
    /// Not due yet: [`super::ServerMachine::poll_output`] asks for the same
    /// packet again at this time (or offer the same bytes again then).
    NotBefore(Instant),
    /// Nothing of it is selected: it is not sent ([3.2.5.11.1]).
    Skipped,
    /// The read was superseded while the packet waited (a StopPlaying or a
    /// seek came in between): drop the bytes and poll again.
    Cancelled,
}
