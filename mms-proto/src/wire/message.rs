//! [2.2.4] Message Types: the common `chunkLen` / `MID` prefix, the
//! [`MessageId`] of all 28 messages, the [`MessageRepr`] trait every message
//! implements, and the [`Message`] enum that dispatches on the MID.
//!
//! Parsing is *tolerant*: it rejects only what makes a message meaningless
//! (truncation, inconsistent lengths, odd UTF-16, a missing terminator the
//! layout depends on). Values the spec constrains but real clients get wrong
//! (`interop-notes.md`: out-of-range `playIncarnation`, `flags` 0, ...) parse
//! fine; [`Message::check_strict`] reports them for a peer that wants the
//! letter of the spec.

use super::error::{need, room};
use super::field::{put_u32, u32_at};
use super::{Error, Result};

/// Size of the `chunkLen` + `MID` prefix every message starts with.
pub const PREFIX_LEN: usize = 4 /* chunkLen */ + 4 /* MID */;

/// Rounds `n` up to the 8-byte chunk size of [2.2.4].
#[inline]
pub const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

macro_rules! message_ids {
    ($( $(#[$m:meta])* $name:ident = $val:literal, $spec:literal, $sec:literal; )*) => {
        /// [2.2.4] The Message ID (`MID`) of every message type.
        ///
        /// The high 16 bits give the direction: `0x0004` server to client
        /// ("Mac to Viewer"), `0x0003` client to server.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum MessageId {
            $( $(#[$m])* $name = $val, )*
        }

        impl MessageId {
            /// Every message id, in spec order.
            pub const ALL: [MessageId; 28] = [$(MessageId::$name,)*];

            /// Maps a `MID` value; unknown values are an error value.
            pub const fn from_u32(v: u32) -> Result<Self> {
                match v {
                    $( $val => Ok(MessageId::$name), )*
                    other => Err(Error::UnknownMessage(other)),
                }
            }

            /// The spec's full name, e.g. `LinkViewerToMacConnect`.
            pub const fn spec_name(self) -> &'static str {
                match self { $( MessageId::$name => $spec, )* }
            }

            /// The spec section that defines the message, e.g. `2.2.4.17`.
            pub const fn section(self) -> &'static str {
                match self { $( MessageId::$name => $sec, )* }
            }
        }
    };
}

message_ids! {
    /// LinkMacToViewerPing.
    Ping = 0x0004_001B, "LinkMacToViewerPing", "2.2.4.1";
    /// LinkMacToViewerReportConnectedEX.
    ReportConnectedEx = 0x0004_0001, "LinkMacToViewerReportConnectedEX", "2.2.4.2";
    /// LinkMacToViewerReportConnectedFunnel.
    ReportConnectedFunnel = 0x0004_0002, "LinkMacToViewerReportConnectedFunnel", "2.2.4.3";
    /// LinkMacToViewerReportDisconnectedFunnel.
    ReportDisconnectedFunnel = 0x0004_0003, "LinkMacToViewerReportDisconnectedFunnel", "2.2.4.4";
    /// LinkMacToViewerReportEndOfStream.
    ReportEndOfStream = 0x0004_001E, "LinkMacToViewerReportEndOfStream", "2.2.4.5";
    /// LinkMacToViewerReportFunnelInfo.
    ReportFunnelInfo = 0x0004_0015, "LinkMacToViewerReportFunnelInfo", "2.2.4.6";
    /// LinkMacToViewerReportOpenFile.
    ReportOpenFile = 0x0004_0006, "LinkMacToViewerReportOpenFile", "2.2.4.7";
    /// LinkMacToViewerReportReadBlock.
    ReportReadBlock = 0x0004_0011, "LinkMacToViewerReportReadBlock", "2.2.4.8";
    /// LinkMacToViewerReportRedirect.
    ReportRedirect = 0x0004_0022, "LinkMacToViewerReportRedirect", "2.2.4.9";
    /// LinkMacToViewerReportStartedPlaying.
    ReportStartedPlaying = 0x0004_0005, "LinkMacToViewerReportStartedPlaying", "2.2.4.10";
    /// LinkMacToViewerReportStartStriding.
    ReportStartStriding = 0x0004_000A, "LinkMacToViewerReportStartStriding", "2.2.4.11";
    /// LinkMacToViewerReportStreamChange.
    ReportStreamChange = 0x0004_0020, "LinkMacToViewerReportStreamChange", "2.2.4.12";
    /// LinkMacToViewerReportStreamSwitch.
    ReportStreamSwitch = 0x0004_0021, "LinkMacToViewerReportStreamSwitch", "2.2.4.13";
    /// LinkMacToViewerSecurityChallenge.
    SecurityChallenge = 0x0004_001A, "LinkMacToViewerSecurityChallenge", "2.2.4.14";
    /// LinkViewerToMacCancelReadBlock.
    CancelReadBlock = 0x0003_0025, "LinkViewerToMacCancelReadBlock", "2.2.4.15";
    /// LinkViewerToMacCloseFile.
    CloseFile = 0x0003_000D, "LinkViewerToMacCloseFile", "2.2.4.16";
    /// LinkViewerToMacConnect.
    Connect = 0x0003_0001, "LinkViewerToMacConnect", "2.2.4.17";
    /// LinkViewerToMacConnectFunnel.
    ConnectFunnel = 0x0003_0002, "LinkViewerToMacConnectFunnel", "2.2.4.18";
    /// LinkViewerToMacFunnelInfo.
    FunnelInfo = 0x0003_0018, "LinkViewerToMacFunnelInfo", "2.2.4.19";
    /// LinkViewerToMacLogging.
    Logging = 0x0003_0032, "LinkViewerToMacLogging", "2.2.4.20";
    /// LinkViewerToMacOpenFile.
    OpenFile = 0x0003_0005, "LinkViewerToMacOpenFile", "2.2.4.21";
    /// LinkViewerToMacPong.
    Pong = 0x0003_001B, "LinkViewerToMacPong", "2.2.4.22";
    /// LinkViewerToMacReadBlock.
    ReadBlock = 0x0003_0015, "LinkViewerToMacReadBlock", "2.2.4.23";
    /// LinkViewerToMacSecurityResponse.
    SecurityResponse = 0x0003_001A, "LinkViewerToMacSecurityResponse", "2.2.4.24";
    /// LinkViewerToMacStartPlaying.
    StartPlaying = 0x0003_0007, "LinkViewerToMacStartPlaying", "2.2.4.25";
    /// LinkViewerToMacStartStriding.
    StartStriding = 0x0003_0028, "LinkViewerToMacStartStriding", "2.2.4.26";
    /// LinkViewerToMacStopPlaying.
    StopPlaying = 0x0003_0009, "LinkViewerToMacStopPlaying", "2.2.4.27";
    /// LinkViewerToMacStreamSwitch.
    StreamSwitch = 0x0003_0033, "LinkViewerToMacStreamSwitch", "2.2.4.28";
}

impl MessageId {
    /// True for messages the server sends ("LinkMacToViewer…").
    pub const fn is_to_client(self) -> bool {
        (self as u32) >> 16 == 0x0004
    }
}

impl TryFrom<u32> for MessageId {
    type Error = Error;
    fn try_from(v: u32) -> Result<Self> {
        MessageId::from_u32(v)
    }
}

/// A message's owned-or-borrowed representation: parse from wire bytes,
/// emit into a caller buffer.
pub trait MessageRepr<'a>: Sized {
    /// The message's `MID`.
    const ID: MessageId;

    /// Parses one message. `msg` is exactly `chunkLen * 8` bytes starting at
    /// `chunkLen` (as [`Message::parse`](super::Message::parse) slices it).
    fn parse(msg: &'a [u8]) -> Result<Self>;

    /// Length of the message without trailing padding, counting
    /// `chunkLen` and `MID`.
    fn unpadded_len(&self) -> usize;

    /// Writes the fields after `MID` into `buf`, which is the whole message
    /// (`buffer_len()` bytes), already zeroed and with `chunkLen` / `MID`
    /// written.
    fn emit_fields(&self, buf: &mut [u8]) -> Result<()>;

    /// Reports values that parse but that the spec forbids.
    fn check_strict(&self) -> Result<()> {
        Ok(())
    }

    /// Length on the wire: padded to a multiple of 8 ([2.2.4]).
    fn buffer_len(&self) -> usize {
        pad8(self.unpadded_len())
    }

    /// Writes exactly `buffer_len()` bytes into `buf` (every byte: padding
    /// and unused fields are zero) and returns that length.
    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        room(buf, len)?;
        let chunks =
            u32::try_from(len / 8).map_err(|_| Error::invalid("chunkLen", "message too long"))?;
        let out = &mut buf[..len];
        out.fill(0);
        put_u32(out, 0, chunks);
        put_u32(out, 4, Self::ID as u32);
        self.emit_fields(out)?;
        Ok(len)
    }
}

/// Generates a view and a Repr for a message made of fixed fields only.
/// Every listed field is a Repr field; unlisted bytes (`unused` arrays) are
/// written as zeros.
macro_rules! fixed_message {
    (
        $(#[$meta:meta])*
        $view:ident / $repr:ident = $id:ident, len = $len:expr;
        $( $(#[$fmeta:meta])* $get:ident / $set:ident : $ty:ty = $off:expr; )*
    ) => {
        $crate::wire::field::view! {
            $(#[$meta])*
            pub struct $view, fixed_len = $len;
            /// chunkLen: length of the message in 8-byte chunks.
            chunk_len / set_chunk_len: u32 = 0;
            /// MID: the message identifier.
            mid / set_mid: u32 = 4;
            $( $(#[$fmeta])* $get / $set : $ty = $off; )*
        }

        $(#[$meta])*
        ///
        /// The owned representation: every field but `chunkLen`, `MID` and
        /// padding.
        #[derive(Debug, Clone, Copy, PartialEq, Default)]
        pub struct $repr {
            $( $(#[$fmeta])* pub $get: $ty, )*
        }

        impl<'a> $crate::wire::message::MessageRepr<'a> for $repr {
            const ID: $crate::wire::message::MessageId = $crate::wire::message::MessageId::$id;

            fn parse(msg: &'a [u8]) -> $crate::wire::Result<Self> {
                let _view = $view::new_checked(msg)?;
                Ok(Self { $( $get: _view.$get(), )* })
            }

            fn unpadded_len(&self) -> usize {
                $len
            }

            fn emit_fields(&self, buf: &mut [u8]) -> $crate::wire::Result<()> {
                let mut _view = $view::new_checked(buf)?;
                $( _view.$set(self.$get); )*
                Ok(())
            }

            fn check_strict(&self) -> $crate::wire::Result<()> {
                self.strict()
            }
        }
    };
}
pub(crate) use fixed_message;

/// Reads the `chunkLen` / `MID` prefix of the message at the start of `buf`
/// and returns `(MID, message length in bytes)`, with the length checked
/// against `buf`.
pub fn peek(buf: &[u8]) -> Result<(u32, usize)> {
    need(buf, PREFIX_LEN)?;
    let chunks = u32_at(buf, 0) as u64;
    let len = chunks * 8;
    if len < PREFIX_LEN as u64 {
        return Err(Error::invalid("chunkLen", "shorter than chunkLen and MID"));
    }
    if len > buf.len() as u64 {
        return Err(Error::Truncated {
            needed: len.min(usize::MAX as u64) as usize,
            got: buf.len(),
        });
    }
    Ok((u32_at(buf, 4), len as usize))
}
