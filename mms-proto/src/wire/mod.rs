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
mod playing;
mod resend;
mod security;
mod tcp;
pub mod text;
mod to_client;
mod to_server;
mod utf16;

pub use client_log::{
    CLIENT_LOG_INFO_LEN, CLIENT_LOG_LEN, ClientLog, ClientLogInfo, ClientLogInfoRepr,
    ClientLogInfoStrings, ClientLogRepr, ClientLogStrings,
};
pub use consts::{
    FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK, FILE_ATTRIBUTE_MMS_CANSTRIDE,
    FILE_ATTRIBUTE_MMS_LIVE, FILE_ATTRIBUTE_MMS_PLAYLIST, FUNNEL_OF_THE_GODS,
    MAC_TO_VIEWER_PROTOCOL_REVISION, MMS_DISABLE_PACKET_PAIR, MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
    MMS_PACKET_PAIR_UDP_HIGH_ENTROPY, MMS_USE_PACKET_PAIR, NO_STREAM, POSITION_UNSPECIFIED,
    REDIRECT_PROXY, REDIRECT_URL, TCP_HDR_INCARNATION, VIEWER_TO_MAC_PROTOCOL_REVISION,
};
pub use data::{
    AF_HEADER_LAST, AF_HEADER_MORE, AF_PACKET_PAIR, DATA_HEADER_LEN, DataKind, DataPacket,
    DataPacketRepr, MAX_DATA_PAYLOAD, PACKET_PAIR_FIRST, PACKET_PAIR_INCARNATION,
    PACKET_PAIR_SECOND, extend_sequence,
};
pub use error::{Error, Result};
pub use frame::{Frame, Limits, Status, for_each_frame, frame};
pub use hresult::HResult;
pub use message::{MessageId, MessageRepr, PREFIX_LEN, pad8, peek};
pub use ntlm::{NtlmAuth, NtlmAuthRepr};
pub use playing::{
    Acceleration, StartPlaying, StartPlayingRepr, StartStriding, StartStridingRepr, StopAt,
    StopPlaying, StopPlayingRepr, StreamSwitch, StreamSwitchEntries, StreamSwitchEntry,
    StreamSwitchRepr,
};
pub use resend::{
    MAX_RESEND_PACKETS, RESEND_SIGNATURE, RequestPacketListResend, RequestPacketListResendRepr,
};
pub use security::{SecurityChallenge, SecurityChallengeRepr, SecurityResponseRepr};
pub use tcp::{
    Messages, SEAL, SESSION_ID, TCP_HEADER_LEN, TCP_LENGTH_PREFIX, TcpMessageHeader,
    TcpMessageHeaderRepr, parse_packet,
};
pub use to_client::{
    Ping, PingRepr, ReportConnectedEx, ReportConnectedExRepr, ReportConnectedFunnel,
    ReportConnectedFunnelRepr, ReportDisconnectedFunnel, ReportDisconnectedFunnelRepr,
    ReportEndOfStream, ReportEndOfStreamRepr, ReportFunnelInfo, ReportFunnelInfoRepr,
    ReportOpenFile, ReportOpenFileRepr, ReportReadBlock, ReportReadBlockRepr, ReportRedirect,
    ReportRedirectRepr, ReportStartStriding, ReportStartStridingRepr, ReportStartedPlaying,
    ReportStartedPlayingRepr, ReportStreamChange, ReportStreamChangeRepr, ReportStreamSwitch,
    ReportStreamSwitchRepr,
};
pub use to_server::{
    CancelReadBlock, CancelReadBlockRepr, CloseFile, CloseFileRepr, Connect, ConnectFunnel,
    ConnectFunnelRepr, ConnectRepr, FunnelInfo, FunnelInfoRepr, Logging, LoggingRepr, OpenFile,
    OpenFileRepr, Pong, PongRepr, ReadBlock, ReadBlockRepr,
};
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
