//! What the two machines ([`crate::client`], [`crate::server`]) share: the
//! shape of their input and of what they ask the runtime to transmit.
//!
//! Both are driven the same way (the model is str0m's `Input` /
//! `Output::Transmit` and quinn-proto's `poll_transmit`):
//!
//! ```text
//! machine.handle_input(now, Input::Tcp(unit))?      // a unit wire::frame cut
//! machine.handle_input(now, Input::Udp { source, contents })?
//! machine.handle_timeout(now)?                        // the deadline passed
//! loop { match machine.poll_output(now, &mut buf)? {
//!     Output::Transmit(Transmit::Tcp(n)) => write buf[..n] to the connection,
//!     Output::Transmit(Transmit::Udp { destination, len }) => send buf[..len] to destination,
//!     Output::Timeout(t) => arm one timer for t; break,
//!     Output::Wait => break,
//!     Output::Close => close the connection; break,
//!     … (the server's content requests) } }
//! ```
//!
//! Conventions both machines keep:
//! * `now` is passed to every method that can change a deadline or record
//!   a time, and to no other;
//! * `handle_input` returns the events for the application, borrowing the
//!   input; `handle_timeout` returns `Result<(), Error>`; `poll_output`
//!   returns `Result<Output, Error>`;
//! * errors are `#[non_exhaustive]` enums implementing
//!   [`core::error::Error`], with the same variant names for the same
//!   causes (`Malformed`, `Unexpected`, `UnexpectedData`, `Unsupported`,
//!   `Misuse`). An error from `handle_input`, `handle_timeout` or
//!   `poll_output` ends the session; `Misuse` from a request method only
//!   refuses that request.

use core::net::SocketAddr;

use crate::wire::Frame;

/// The spec's State variable, the same at both ends ([3.1.1], [3.2.1]).
/// Each machine's `Phase` says, finer, what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INIT: setting up (connect, funnel, open, the header).
    Init,
    /// READY: the header is through; a play can start.
    Ready,
    /// STREAMING: data packets flow (or a playlist entry's header).
    Streaming,
    /// The session is over (an error, a redirect, CloseFile, a timeout).
    Closed,
}

/// One unit of input for a machine, borrowing the runtime's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'p> {
    /// A unit of the TCP stream, as [`crate::wire::frame`] delimited it.
    Tcp(Unit<'p>),
    /// A UDP datagram and the address it came from.
    Udp {
        /// The datagram's source address.
        source: SocketAddr,
        /// The datagram.
        contents: &'p [u8],
    },
}

/// A unit of a TCP stream, told apart by [`crate::wire::frame`]
/// (sessionId at offset 4, [3.1.5.2]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'p> {
    /// A TcpMessageHeader packet ([2.2.3]).
    Command(&'p [u8]),
    /// A Data packet ([2.2.2]).
    Data(&'p [u8]),
}

impl<'p> Unit<'p> {
    /// The unit `frame` found at the start of `buf` (cut to its length;
    /// a `buf` shorter than the frame is passed whole, and the machine
    /// reports it truncated).
    pub fn new(frame: Frame, buf: &'p [u8]) -> Self {
        let bytes = buf.get(..frame.len()).unwrap_or(buf);
        match frame {
            Frame::Command(_) => Unit::Command(bytes),
            Frame::Data(_) => Unit::Data(bytes),
        }
    }

    /// The unit's bytes.
    pub fn bytes(self) -> &'p [u8] {
        match self {
            Unit::Command(b) | Unit::Data(b) => b,
        }
    }
}

impl<'p> Input<'p> {
    /// [`Input::Tcp`] of the unit `frame` found at the start of `buf`.
    pub fn tcp(frame: Frame, buf: &'p [u8]) -> Self {
        Input::Tcp(Unit::new(frame, buf))
    }
}

/// Bytes the machine wrote into the caller's buffer, and where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// Write the first `n` bytes to the TCP connection.
    Tcp(usize),
    /// Send the first `len` bytes as one UDP datagram to `destination`.
    Udp {
        /// Where the datagram goes.
        destination: SocketAddr,
        /// Its length.
        len: usize,
    },
}

impl Transmit {
    /// How many bytes of the buffer to send.
    pub const fn len(self) -> usize {
        match self {
            Transmit::Tcp(n) | Transmit::Udp { len: n, .. } => n,
        }
    }

    /// True when nothing is to be sent (never, from a machine).
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}
