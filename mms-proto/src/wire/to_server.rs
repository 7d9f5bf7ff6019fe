//! The messages a client sends: `LinkViewerToMac…` of [2.2.4.15] to
//! [2.2.4.28].

use super::client_log::{CLIENT_LOG_LEN, ClientLogRepr};
use super::consts::*;
use super::error::need;
use super::field::view;
use super::message::{MessageRepr, fixed_message};
use super::text_field::{put_text_nul, tail_text};
use super::to_client::{emit_token_message, parse_token_message};
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

fixed_message! {
    /// [2.2.4.26] LinkViewerToMacStartStriding: play at a trick-mode rate.
    StartStriding / StartStridingRepr = StartStriding, len = 48;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 12;
    /// position: seconds, or DBL_MAX to use asfOffset / locationId.
    position / set_position: f64 = 16;
    /// asfOffset: a byte offset into the ASF file, or 0 / 0xFFFFFFFF.
    asf_offset / set_asf_offset: u32 = 24;
    /// locationId: an ASF data packet number, or 0 / 0xFFFFFFFF.
    location_id / set_location_id: u32 = 28;
    /// frameOffset: SHOULD be 0, MUST be ignored.
    frame_offset / set_frame_offset: u32 = 32;
    /// playIncarnation: 0x01..=0xFE.
    play_incarnation / set_play_incarnation: u32 = 36;
    /// rate: −5..=5, not 0.
    rate / set_rate: f64 = 40;
}
impl StartStridingRepr {
    fn strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)?;
        if !(-5.0..=5.0).contains(&self.rate) || self.rate == 0.0 {
            return Err(Error::invalid("rate", "outside -5..=5 or zero"));
        }
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.27] LinkViewerToMacStopPlaying: stop sending Data packets.
    StopPlaying / StopPlayingRepr = StopPlaying, len = 16;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// playIncarnation: the latest StartPlaying / StartStriding's (VLC
    /// sends 0x001FFFFF).
    play_incarnation / set_play_incarnation: u32 = 12;
}
impl StopPlayingRepr {
    fn strict(&self) -> Result<()> {
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

/// [2.2.4.24] LinkViewerToMacSecurityResponse: the client's credentials.
/// (Same layout as [`super::SecurityChallenge`], whose view serves both.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityResponseRepr<'a> {
    /// playIncarnation: the challenge's.
    pub play_incarnation: u32,
    /// cookie: the challenge's.
    pub cookie: u32,
    /// pToken: Basic `user:password` as NUL-terminated ASCII, or for NTLM
    /// two zero bytes then an NTLM_AUTH structure or response token.
    pub token: &'a [u8],
}

impl<'a> MessageRepr<'a> for SecurityResponseRepr<'a> {
    const ID: super::MessageId = super::MessageId::SecurityResponse;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let (play_incarnation, cookie, token) = parse_token_message(msg)?;
        Ok(Self {
            play_incarnation,
            cookie,
            token,
        })
    }

    fn unpadded_len(&self) -> usize {
        20 + self.token.len()
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        emit_token_message(buf, self.play_incarnation, self.cookie, self.token)
    }
}

view! {
    /// [2.2.4.25] LinkViewerToMacStartPlaying: stream from a position.
    pub struct StartPlaying, fixed_len = 40;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 12;
    /// position: seconds, or DBL_MAX to use asfOffset / locationId.
    position / set_position: f64 = 16;
    /// asfOffset: a byte offset into the ASF file, or 0 / 0xFFFFFFFF.
    asf_offset / set_asf_offset: u32 = 24;
    /// locationId: an ASF data packet number, or 0 / 0xFFFFFFFF.
    location_id / set_location_id: u32 = 28;
    /// frameOffset: where to stop (see [`StopAt`]).
    frame_offset / set_frame_offset: u32 = 32;
    /// playIncarnation: 0x01..=0xFE.
    play_incarnation / set_play_incarnation: u32 = 36;
}

/// [2.2.4.25] The optional fast-start fields of StartPlaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acceleration {
    /// dwAccelBandwidth: bit/s to send the first `duration` at.
    pub bandwidth: u32,
    /// dwAccelDuration: milliseconds of content to send at `bandwidth`.
    pub duration: u32,
    /// dwLinkBandwidth: the client's link, bit/s (only with the other two).
    pub link_bandwidth: Option<u32>,
}

/// [2.2.4.25] frameOffset decoded: where the server stops streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopAt {
    /// 0: stream to the end.
    #[default]
    End,
    /// Stop at this many milliseconds from the start of the content.
    Absolute(u32),
    /// Stop this many milliseconds after the requested start position.
    Relative(u32),
}

impl StopAt {
    /// Decodes a frameOffset value.
    pub const fn from_frame_offset(v: u32) -> Self {
        if v == 0 {
            StopAt::End
        } else if v & 0x8000_0000 != 0 {
            StopAt::Relative(v & 0x7FFF_FFFF)
        } else {
            StopAt::Absolute(v)
        }
    }
}

/// [2.2.4.25] LinkViewerToMacStartPlaying, owned representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartPlayingRepr {
    /// openFileId.
    pub open_file_id: u32,
    /// padding.
    pub padding: u32,
    /// position: seconds, or [`POSITION_UNSPECIFIED`].
    pub position: f64,
    /// asfOffset.
    pub asf_offset: u32,
    /// locationId.
    pub location_id: u32,
    /// frameOffset (see [`StopAt::from_frame_offset`]).
    pub frame_offset: u32,
    /// playIncarnation.
    pub play_incarnation: u32,
    /// The optional acceleration fields (present when the message is 48 or
    /// 56 bytes long).
    pub acceleration: Option<Acceleration>,
}

impl StartPlayingRepr {
    /// Where the client asked the server to stop.
    pub fn stop_at(&self) -> StopAt {
        StopAt::from_frame_offset(self.frame_offset)
    }
}

impl<'a> MessageRepr<'a> for StartPlayingRepr {
    const ID: super::MessageId = super::MessageId::StartPlaying;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = StartPlaying::new_checked(msg)?;
        let word = |off: usize| super::field::u32_at(msg, off);
        // The optional fields are told apart by the message's length; the
        // chunk padding is the minimum [2.2.4] allows.
        let acceleration = if msg.len() >= 48 {
            Some(Acceleration {
                bandwidth: word(40),
                duration: word(44),
                link_bandwidth: (msg.len() >= 52).then(|| word(48)),
            })
        } else {
            None
        };
        Ok(Self {
            open_file_id: v.open_file_id(),
            padding: v.padding(),
            position: v.position(),
            asf_offset: v.asf_offset(),
            location_id: v.location_id(),
            frame_offset: v.frame_offset(),
            play_incarnation: v.play_incarnation(),
            acceleration,
        })
    }

    fn unpadded_len(&self) -> usize {
        match self.acceleration {
            None => 40,
            Some(Acceleration {
                link_bandwidth: None,
                ..
            }) => 48,
            Some(Acceleration {
                link_bandwidth: Some(_),
                ..
            }) => 52,
        }
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = StartPlaying::new_checked(&mut *buf)?;
        v.set_open_file_id(self.open_file_id);
        v.set_padding(self.padding);
        v.set_position(self.position);
        v.set_asf_offset(self.asf_offset);
        v.set_location_id(self.location_id);
        v.set_frame_offset(self.frame_offset);
        v.set_play_incarnation(self.play_incarnation);
        if let Some(a) = self.acceleration {
            need(buf, 48)?;
            super::field::put_u32(buf, 40, a.bandwidth);
            super::field::put_u32(buf, 44, a.duration);
            if let Some(link) = a.link_bandwidth {
                need(buf, 52)?;
                super::field::put_u32(buf, 48, link);
            }
        }
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)
    }
}

/// [2.2.4.28.1] STREAM_SWITCH_ENTRY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamSwitchEntry {
    /// wSrcStreamNumber: the stream to replace, or [`NO_STREAM`].
    pub src_stream_number: u16,
    /// wDstStreamNumber: the stream to send instead, or [`NO_STREAM`].
    pub dst_stream_number: u16,
    /// wThinningLevel: 0 all, 1 key frames only, 2 nothing.
    pub thinning_level: u16,
}

impl StreamSwitchEntry {
    /// Bytes per entry on the wire.
    pub const LEN: usize = 6;

    fn read(b: &[u8]) -> Self {
        // `b` is a 6-byte chunk from `chunks_exact(6)`.
        Self {
            src_stream_number: u16::from_le_bytes([b[0], b[1]]),
            dst_stream_number: u16::from_le_bytes([b[2], b[3]]),
            thinning_level: u16::from_le_bytes([b[4], b[5]]),
        }
    }

    fn write(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.src_stream_number.to_le_bytes());
        b[2..4].copy_from_slice(&self.dst_stream_number.to_le_bytes());
        b[4..6].copy_from_slice(&self.thinning_level.to_le_bytes());
    }
}

/// The aStreamEntries array: borrowed wire bytes, or a slice to emit.
#[derive(Debug, Clone, Copy)]
pub enum StreamSwitchEntries<'a> {
    /// Entries as received (length a multiple of 6).
    Wire(&'a [u8]),
    /// Entries to emit.
    Slice(&'a [StreamSwitchEntry]),
}

impl<'a> StreamSwitchEntries<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            StreamSwitchEntries::Wire(b) => b.len() / StreamSwitchEntry::LEN,
            StreamSwitchEntries::Slice(s) => s.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = StreamSwitchEntry> + 'a {
        let (wire, slice): (&'a [u8], &'a [StreamSwitchEntry]) = match *self {
            StreamSwitchEntries::Wire(b) => (b, &[]),
            StreamSwitchEntries::Slice(s) => (&[], s),
        };
        wire.chunks_exact(StreamSwitchEntry::LEN)
            .map(StreamSwitchEntry::read)
            .chain(slice.iter().copied())
    }
}

impl PartialEq for StreamSwitchEntries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for StreamSwitchEntries<'_> {}

view! {
    /// [2.2.4.28] LinkViewerToMacStreamSwitch: select, thin or replace
    /// streams.
    pub struct StreamSwitch, fixed_len = 12;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// cStreamEntries: number of entries.
    c_stream_entries / set_c_stream_entries: u32 = 8;
}

/// [2.2.4.28] LinkViewerToMacStreamSwitch, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSwitchRepr<'a> {
    /// aStreamEntries.
    pub entries: StreamSwitchEntries<'a>,
}

impl<'a> MessageRepr<'a> for StreamSwitchRepr<'a> {
    const ID: super::MessageId = super::MessageId::StreamSwitch;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = StreamSwitch::new_checked(msg)?;
        let len = v.c_stream_entries() as u64 * StreamSwitchEntry::LEN as u64;
        if 12 + len > msg.len() as u64 {
            return Err(Error::invalid(
                "cStreamEntries",
                "more entries than the message holds",
            ));
        }
        Ok(Self {
            entries: StreamSwitchEntries::Wire(&msg[12..12 + len as usize]),
        })
    }

    fn unpadded_len(&self) -> usize {
        12 + self.entries.len() * StreamSwitchEntry::LEN
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let n = u32::try_from(self.entries.len())
            .map_err(|_| Error::invalid("cStreamEntries", "too many"))?;
        let mut v = StreamSwitch::new_checked(&mut *buf)?;
        v.set_c_stream_entries(n);
        need(buf, self.unpadded_len())?;
        for (entry, dst) in self
            .entries
            .iter()
            .zip(buf[12..].chunks_exact_mut(StreamSwitchEntry::LEN))
        {
            entry.write(dst);
        }
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        if self
            .entries
            .iter()
            .any(|e| e.thinning_level > 2 && e.src_stream_number != NO_STREAM)
        {
            return Err(Error::invalid("wThinningLevel", "must be 0, 1 or 2"));
        }
        Ok(())
    }
}
