//! The MS-MMSP wire codec: section 2 of the spec, zero-copy.
//!
//! Model: smoltcp's `wire` module. Each structure has
//! * a **view** — `Name<T: AsRef<[u8]>>` with `new_checked` / `check_len`
//!   and a getter per fixed field (setters with `AsMut<[u8]>`), named after
//!   the spec's fields, and
//! * a **Repr** — `NameRepr<'a>`, every meaningful field as a value,
//!   borrowing text and byte arrays from the input, with `parse`,
//!   `buffer_len` and `emit` (which writes every byte of exactly
//!   `buffer_len()` bytes).
//!
//! Entry points:
//! * [`frame`] — how long the next unit of a TCP stream is, or `Partial`;
//! * [`parse_packet`] / [`TcpMessageHeaderRepr`] — the envelope and its
//!   messages; [`Message`] — one message, dispatched on its MID;
//! * [`DataPacketRepr`] — media, header pieces and packet-pair probes;
//! * [`RequestPacketListResendRepr`] — the UDP resend request;
//! * [`text`] — typed parsers for the ABNF'd strings.
//!
//! Parsing is tolerant of the deviations real clients make (see
//! `interop-notes.md`); `check_strict` reports them.

pub(crate) mod error;
pub(crate) mod field;
mod text_field;

mod client_log;
mod consts;
mod data;
mod frame;
mod hresult;
mod message;
mod ntlm;
mod resend;
mod tcp;
pub mod text;
mod to_client;
mod to_server;
mod utf16;

pub use client_log::*;
pub use consts::*;
pub use data::*;
pub use error::{Error, Result};
pub use frame::{Frame, Limits, Status, for_each_frame, frame};
pub use hresult::HResult;
pub use message::{MessageId, MessageRepr, PREFIX_LEN, pad8, peek};
pub use ntlm::*;
pub use resend::*;
pub use tcp::*;
pub use to_client::*;
pub use to_server::*;
pub use utf16::{Units, Utf16Str};

macro_rules! messages {
    ($( $(#[$m:meta])* $name:ident($repr:ty), )*) => {
        /// One message of [2.2.4], dispatched on its MID.
        #[derive(Debug, Clone, Copy, PartialEq)]
        #[allow(missing_docs)] // each variant is the message of the same name
        pub enum Message<'a> {
            $( $(#[$m])* $name($repr), )*
        }

        impl<'a> Message<'a> {
            /// Parses the message that starts `msg` and is exactly
            /// `chunkLen * 8` bytes long (trailing bytes are an error; use
            /// [`Messages`] to walk several).
            pub fn parse(msg: &'a [u8]) -> Result<Self> {
                let (mid, len) = peek(msg)?;
                if len != msg.len() {
                    return Err(Error::invalid("chunkLen", "does not match the message length"));
                }
                Ok(match MessageId::from_u32(mid)? {
                    $( MessageId::$name => Message::$name(<$repr>::parse(msg)?), )*
                })
            }

            /// The message's MID.
            pub fn id(&self) -> MessageId {
                match self { $( Message::$name(_) => MessageId::$name, )* }
            }

            /// Length on the wire (padded to 8 bytes).
            pub fn buffer_len(&self) -> usize {
                match self { $( Message::$name(r) => r.buffer_len(), )* }
            }

            /// Writes the message (chunkLen, MID, fields, zero padding);
            /// returns [`Self::buffer_len`].
            pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
                match self { $( Message::$name(r) => r.emit(buf), )* }
            }

            /// Reports values that parse but that the spec forbids.
            pub fn check_strict(&self) -> Result<()> {
                match self { $( Message::$name(r) => r.check_strict(), )* }
            }
        }

        $(
            impl<'a> From<$repr> for Message<'a> {
                fn from(r: $repr) -> Self {
                    Message::$name(r)
                }
            }
        )*
    };
}

messages! {
    Ping(PingRepr),
    ReportConnectedEx(ReportConnectedExRepr<'a>),
    ReportConnectedFunnel(ReportConnectedFunnelRepr<'a>),
    ReportDisconnectedFunnel(ReportDisconnectedFunnelRepr),
    ReportEndOfStream(ReportEndOfStreamRepr),
    ReportFunnelInfo(ReportFunnelInfoRepr<'a>),
    ReportOpenFile(ReportOpenFileRepr),
    ReportReadBlock(ReportReadBlockRepr),
    ReportRedirect(ReportRedirectRepr<'a>),
    ReportStartedPlaying(ReportStartedPlayingRepr),
    ReportStartStriding(ReportStartStridingRepr),
    ReportStreamChange(ReportStreamChangeRepr),
    ReportStreamSwitch(ReportStreamSwitchRepr),
    SecurityChallenge(SecurityChallengeRepr<'a>),
    CancelReadBlock(CancelReadBlockRepr),
    CloseFile(CloseFileRepr),
    Connect(ConnectRepr<'a>),
    ConnectFunnel(ConnectFunnelRepr<'a>),
    FunnelInfo(FunnelInfoRepr),
    Logging(LoggingRepr<'a>),
    OpenFile(OpenFileRepr<'a>),
    Pong(PongRepr),
    ReadBlock(ReadBlockRepr),
    SecurityResponse(SecurityResponseRepr<'a>),
    StartPlaying(StartPlayingRepr),
    StartStriding(StartStridingRepr),
    StopPlaying(StopPlayingRepr),
    StreamSwitch(StreamSwitchRepr<'a>),
}
