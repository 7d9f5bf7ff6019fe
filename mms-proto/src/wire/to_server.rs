//! The messages a client sends: `LinkViewerToMac…` of [2.2.4.15] to
//! [2.2.4.28].

use super::client_log::{CLIENT_LOG_LEN, ClientLogRepr};
use super::consts::*;
use super::error::need;
use super::field::view;
use super::message::{MessageRepr, fixed_message};
use super::text_field::{put_text_nul, tail_text};

use super::{Error, Result, Utf16Str};

fixed_message! {
    /// [2.2.4.15] LinkViewerToMacCancelReadBlock: cancel the header transfer
    /// a ReadBlock asked for.
    CancelReadBlock / CancelReadBlockRepr = CancelReadBlock, len = 12;
    /// playIncarnation: the ReadBlock's.
    play_incarnation / set_play_incarnation: u32 = 8;
}
impl CancelReadBlockRepr {
    fn strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)
    }
}

fixed_message! {
    /// [2.2.4.16] LinkViewerToMacCloseFile: the client is finishing.
    CloseFile / CloseFileRepr = CloseFile, len = 16;
    /// playIncarnation: SHOULD be 0, MUST be ignored.
    play_incarnation / set_play_incarnation: u32 = 8;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 12;
}
impl CloseFileRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.19] LinkViewerToMacFunnelInfo: asks for a client id (and
    /// optionally a packet-pair experiment).
    FunnelInfo / FunnelInfoRepr = FunnelInfo, len = 12;
    /// playIncarnation: the packet-pair mode requested.
    play_incarnation / set_play_incarnation: u32 = 8;
}
impl FunnelInfoRepr {
    fn strict(&self) -> Result<()> {
        check_packet_pair_value(self.play_incarnation)
    }
}

fixed_message! {
    /// [2.2.4.22] LinkViewerToMacPong: the answer to Ping.
    Pong / PongRepr = Pong, len = 16;
    /// dwParam1: SHOULD be 0, MUST be ignored.
    dw_param1 / set_dw_param1: u32 = 8;
    /// dwParam2: SHOULD be 0, MUST be ignored.
    dw_param2 / set_dw_param2: u32 = 12;
}
impl PongRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.23] LinkViewerToMacReadBlock: asks for the ASF file header.
    ReadBlock / ReadBlockRepr = ReadBlock, len = 56;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// fileBlockId: MUST be 0.
    file_block_id / set_file_block_id: u32 = 12;
    /// offset: MUST be 0.
    offset / set_offset: u32 = 16;
    /// length: SHOULD be 0x8000.
    length / set_length: u32 = 20;
    /// flags: MUST be 0xFFFFFFFF (MPlayer sends 0).
    flags / set_flags: u32 = 24;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 28;
    /// tEarliest: MUST be 0.0.
    t_earliest / set_t_earliest: f64 = 32;
    /// tDeadline: MUST be 3600.0.
    t_deadline / set_t_deadline: f64 = 40;
    /// playIncarnation: 0x01..=0xFE; the header's Data packets carry it.
    play_incarnation / set_play_incarnation: u32 = 48;
    /// playSequence: MUST be 0.
    play_sequence / set_play_sequence: u32 = 52;
}
impl ReadBlockRepr {
    /// A ReadBlock with the field values [2.2.4.23] prescribes.
    pub fn new(open_file_id: u32, play_incarnation: u32) -> Self {
        Self {
            open_file_id,
            length: 0x8000,
            flags: 0xFFFF_FFFF,
            t_deadline: 3600.0,
            play_incarnation,
            ..Self::default()
        }
    }
    fn strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)?;
        if self.flags != 0xFFFF_FFFF {
            return Err(Error::invalid("flags", "must be 0xFFFFFFFF"));
        }
        Ok(())
    }
}

view! {
    /// [2.2.4.17] LinkViewerToMacConnect: the client's first message.
    pub struct Connect, fixed_len = 20;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// playIncarnation: packet-pair requested or not.
    play_incarnation / set_play_incarnation: u32 = 8;
    /// MacToViewerProtocolRevision: MUST be 0x0004000B.
    mac_to_viewer_protocol_revision / set_mac_to_viewer_protocol_revision: u32 = 12;
    /// ViewerToMacProtocolRevision: MUST be 0x0003001C.
    viewer_to_mac_protocol_revision / set_viewer_to_mac_protocol_revision: u32 = 16;
}

/// [2.2.4.17] LinkViewerToMacConnect, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRepr<'a> {
    /// playIncarnation: MMS_DISABLE_PACKET_PAIR or MMS_USE_PACKET_PAIR.
    pub play_incarnation: u32,
    /// MacToViewerProtocolRevision.
    pub mac_to_viewer_protocol_revision: u32,
    /// ViewerToMacProtocolRevision.
    pub viewer_to_mac_protocol_revision: u32,
    /// subscriberName without its final terminator; it may contain inner
    /// NULs (before `HOST:` / `VIA:` elements). Parse it with
    /// [`crate::wire::text::Subscriber`].
    pub subscriber_name: Utf16Str<'a>,
}

impl<'a> ConnectRepr<'a> {
    /// A Connect with the revisions [2.2.4.17] prescribes.
    pub fn new(play_incarnation: u32, subscriber_name: Utf16Str<'a>) -> Self {
        Self {
            play_incarnation,
            mac_to_viewer_protocol_revision: MAC_TO_VIEWER_PROTOCOL_REVISION,
            viewer_to_mac_protocol_revision: VIEWER_TO_MAC_PROTOCOL_REVISION,
            subscriber_name,
        }
    }
}

impl<'a> MessageRepr<'a> for ConnectRepr<'a> {
    const ID: super::MessageId = super::MessageId::Connect;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = Connect::new_checked(msg)?;
        Ok(Self {
            play_incarnation: v.play_incarnation(),
            mac_to_viewer_protocol_revision: v.mac_to_viewer_protocol_revision(),
            viewer_to_mac_protocol_revision: v.viewer_to_mac_protocol_revision(),
            subscriber_name: tail_text(msg, 20, "subscriberName")?,
        })
    }

    fn unpadded_len(&self) -> usize {
        20 + self.subscriber_name.byte_len() + 2
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = Connect::new_checked(&mut *buf)?;
        v.set_play_incarnation(self.play_incarnation);
        v.set_mac_to_viewer_protocol_revision(self.mac_to_viewer_protocol_revision);
        v.set_viewer_to_mac_protocol_revision(self.viewer_to_mac_protocol_revision);
        put_text_nul(buf, 20, &self.subscriber_name)?;
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        match self.play_incarnation {
            MMS_DISABLE_PACKET_PAIR | MMS_USE_PACKET_PAIR => {}
            _ => return Err(Error::invalid("playIncarnation", "not a packet-pair value")),
        }
        super::text::Subscriber::parse(&self.subscriber_name)?.check_strict()
    }
}

view! {
    /// [2.2.4.18] LinkViewerToMacConnectFunnel: choose TCP or UDP delivery.
    pub struct ConnectFunnel, fixed_len = 28;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// playIncarnation: SHOULD be 0, MUST be ignored.
    play_incarnation / set_play_incarnation: u32 = 8;
    /// maxBlockBytes: SHOULD be 0xFFFFFFFF.
    max_block_bytes / set_max_block_bytes: u32 = 12;
    /// maxFunnelBytes: SHOULD be 0.
    max_funnel_bytes / set_max_funnel_bytes: u32 = 16;
    /// maxBitRate: SHOULD be 0x00989680.
    max_bit_rate / set_max_bit_rate: u32 = 20;
    /// funnelMode: MUST be 2.
    funnel_mode / set_funnel_mode: u32 = 24;
}

/// [2.2.4.18] LinkViewerToMacConnectFunnel, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectFunnelRepr<'a> {
    /// playIncarnation.
    pub play_incarnation: u32,
    /// maxBlockBytes.
    pub max_block_bytes: u32,
    /// maxFunnelBytes.
    pub max_funnel_bytes: u32,
    /// maxBitRate.
    pub max_bit_rate: u32,
    /// funnelMode.
    pub funnel_mode: u32,
    /// funnelName without trailing NULs (`\\ip\TCP\port`; VLC appends a NUL
    /// and a `0`, which stay here). Parse with [`crate::wire::text::FunnelName`].
    pub funnel_name: Utf16Str<'a>,
}

impl<'a> ConnectFunnelRepr<'a> {
    /// A ConnectFunnel with the values [2.2.4.18] recommends.
    pub fn new(funnel_name: Utf16Str<'a>) -> Self {
        Self {
            play_incarnation: 0,
            max_block_bytes: 0xFFFF_FFFF,
            max_funnel_bytes: 0,
            max_bit_rate: 0x0098_9680,
            funnel_mode: 2,
            funnel_name,
        }
    }
}

impl<'a> MessageRepr<'a> for ConnectFunnelRepr<'a> {
    const ID: super::MessageId = super::MessageId::ConnectFunnel;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = ConnectFunnel::new_checked(msg)?;
        Ok(Self {
            play_incarnation: v.play_incarnation(),
            max_block_bytes: v.max_block_bytes(),
            max_funnel_bytes: v.max_funnel_bytes(),
            max_bit_rate: v.max_bit_rate(),
            funnel_mode: v.funnel_mode(),
            funnel_name: tail_text(msg, 28, "funnelName")?,
        })
    }

    fn unpadded_len(&self) -> usize {
        28 + self.funnel_name.byte_len() + 2
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = ConnectFunnel::new_checked(&mut *buf)?;
        v.set_play_incarnation(self.play_incarnation);
        v.set_max_block_bytes(self.max_block_bytes);
        v.set_max_funnel_bytes(self.max_funnel_bytes);
        v.set_max_bit_rate(self.max_bit_rate);
        v.set_funnel_mode(self.funnel_mode);
        put_text_nul(buf, 28, &self.funnel_name)?;
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        if self.funnel_mode != 2 {
            return Err(Error::invalid("funnelMode", "must be 2"));
        }
        let f = super::text::FunnelName::parse(&self.funnel_name)?;
        if f.trailing {
            return Err(Error::invalid(
                "funnelName",
                "trailing characters after the port",
            ));
        }
        Ok(())
    }
}

view! {
    /// [2.2.4.20] LinkViewerToMacLogging: the client's statistics when a
    /// stream stops. The CLIENT_LOG view is [`crate::wire::ClientLog`].
    pub struct Logging, fixed_len = 8 + CLIENT_LOG_LEN;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
}

/// [2.2.4.20] LinkViewerToMacLogging, owned representation.
///
/// The CLIENT_LOG is large (1490 bytes, 14 strings); to keep [`Message`]
/// small the Repr borrows it: as received (validated when the message was
/// parsed) or as a [`ClientLogRepr`] to emit. [`Self::log`] gives the
/// parsed structure either way.
///
/// [`Message`]: super::Message
#[derive(Debug, Clone, Copy)]
pub enum LoggingRepr<'a> {
    /// The CLIENT_LOG bytes of a received message (already validated).
    Wire(&'a [u8]),
    /// A CLIENT_LOG to emit.
    Log(&'a ClientLogRepr<'a>),
}

impl<'a> LoggingRepr<'a> {
    /// The CLIENT_LOG structure.
    pub fn log(&self) -> Result<ClientLogRepr<'a>> {
        match *self {
            LoggingRepr::Wire(b) => ClientLogRepr::parse(b),
            LoggingRepr::Log(r) => Ok(*r),
        }
    }
}

impl PartialEq for LoggingRepr<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.log(), other.log()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl<'a> MessageRepr<'a> for LoggingRepr<'a> {
    const ID: super::MessageId = super::MessageId::Logging;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        Logging::new_checked(msg)?;
        let log = &msg[8..8 + CLIENT_LOG_LEN];
        ClientLogRepr::parse(log)?;
        Ok(LoggingRepr::Wire(log))
    }

    fn unpadded_len(&self) -> usize {
        8 + CLIENT_LOG_LEN
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        need(buf, 8 + CLIENT_LOG_LEN)?;
        let out = &mut buf[8..8 + CLIENT_LOG_LEN];
        // Re-emitted field by field either way, so bytes after a string's
        // NUL are written as zeros like every other unused byte.
        self.log()?.emit(out)?;
        Ok(())
    }
}

view! {
    /// [2.2.4.21] LinkViewerToMacOpenFile: names the content to stream.
    pub struct OpenFile, fixed_len = 24;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// playIncarnation: 0x01..=0xFE (MPlayer sends 0).
    play_incarnation / set_play_incarnation: u32 = 8;
    /// spare: SHOULD be 0, MUST be ignored.
    spare / set_spare: u32 = 12;
    /// token: offset of tokenData from the start of fileName, or 0.
    token / set_token: u32 = 16;
    /// cbtoken: bytes of tokenData.
    cbtoken / set_cbtoken: u32 = 20;
}

/// [2.2.4.21] LinkViewerToMacOpenFile, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileRepr<'a> {
    /// playIncarnation.
    pub play_incarnation: u32,
    /// spare.
    pub spare: u32,
    /// fileName without its terminator: the URL path, no percent-encoding.
    pub file_name: Utf16Str<'a>,
    /// tokenData: authentication data, empty when absent.
    pub token_data: &'a [u8],
}

impl<'a> MessageRepr<'a> for OpenFileRepr<'a> {
    const ID: super::MessageId = super::MessageId::OpenFile;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = OpenFile::new_checked(msg)?;
        let rest = &msg[24..];
        let cb = v.cbtoken() as u64;
        let (file_name, token_data) = if cb == 0 {
            (tail_text(msg, 24, "fileName")?, &rest[..0])
        } else {
            // tokenData follows a NUL-terminated fileName at byte offset `token`.
            let at = v.token() as u64;
            if at < 2 || at % 2 != 0 {
                return Err(Error::invalid(
                    "token",
                    "not an offset past a NUL-terminated fileName",
                ));
            }
            if at + cb > rest.len() as u64 {
                return Err(Error::Truncated {
                    needed: (24 + at + cb).min(usize::MAX as u64) as usize,
                    got: msg.len(),
                });
            }
            let (at, cb) = (at as usize, cb as usize);
            if rest[at - 2] != 0 || rest[at - 1] != 0 {
                return Err(Error::invalid(
                    "fileName",
                    "missing NUL terminator before tokenData",
                ));
            }
            let name = Utf16Str::from_wire(&rest[..at - 2], "fileName")?;
            (name, &rest[at..at + cb])
        };
        Ok(Self {
            play_incarnation: v.play_incarnation(),
            spare: v.spare(),
            file_name,
            token_data,
        })
    }

    fn unpadded_len(&self) -> usize {
        24 + self.file_name.byte_len() + 2 + self.token_data.len()
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let name_len = self.file_name.byte_len() + 2;
        let (token, cb) = if self.token_data.is_empty() {
            (0, 0)
        } else {
            let cb = u32::try_from(self.token_data.len())
                .map_err(|_| Error::invalid("cbtoken", "too long"))?;
            let at = u32::try_from(name_len)
                .map_err(|_| Error::invalid("token", "fileName too long"))?;
            (at, cb)
        };
        let mut v = OpenFile::new_checked(&mut *buf)?;
        v.set_play_incarnation(self.play_incarnation);
        v.set_spare(self.spare);
        v.set_token(token);
        v.set_cbtoken(cb);
        put_text_nul(buf, 24, &self.file_name)?;
        let at = 24 + name_len;
        buf[at..at + self.token_data.len()].copy_from_slice(self.token_data);
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)
    }
}
