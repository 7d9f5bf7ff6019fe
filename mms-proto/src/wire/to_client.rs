//! The messages a server sends: `LinkMacToViewer…` of [2.2.4.1] to
//! [2.2.4.14].

use super::consts::*;
use super::error::need;
use super::field::view;
use super::message::{MessageRepr, fixed_message};
use super::text_field::{counted_text, counted_units, put_text_nul, tail_text};
use super::{Error, HResult, Result, Utf16Str};

fixed_message! {
    /// [2.2.4.1] LinkMacToViewerPing: the server checks that the client is
    /// still there.
    Ping / PingRepr = Ping, len = 16;
    /// dwParam1: SHOULD be 0, MUST be ignored (FFmpeg fails on non-zero).
    dw_param1 / set_dw_param1: u32 = 8;
    /// dwParam2: SHOULD be 0, MUST be ignored.
    dw_param2 / set_dw_param2: u32 = 12;
}
impl PingRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.4] LinkMacToViewerReportDisconnectedFunnel: the answer to a
    /// ConnectFunnel that failed.
    ReportDisconnectedFunnel / ReportDisconnectedFunnelRepr = ReportDisconnectedFunnel, len = 16;
    /// hr: why the ConnectFunnel failed.
    hr / set_hr: HResult = 8;
    /// playIncarnation: SHOULD be 0, MUST be ignored.
    play_incarnation / set_play_incarnation: u32 = 12;
}
impl ReportDisconnectedFunnelRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.5] LinkMacToViewerReportEndOfStream: the end of the current
    /// playlist entry, or the answer to StopPlaying.
    ReportEndOfStream / ReportEndOfStreamRepr = ReportEndOfStream, len = 16;
    /// hr: 0 = end reached or stop done; 1 = a ReportStreamChange follows.
    hr / set_hr: HResult = 8;
    /// playIncarnation: echoes StopPlaying's, else the latest
    /// StartPlaying / StartStriding's.
    play_incarnation / set_play_incarnation: u32 = 12;
}
impl ReportEndOfStreamRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.7] LinkMacToViewerReportOpenFile: what the server knows of
    /// the content the client opened.
    ReportOpenFile / ReportOpenFileRepr = ReportOpenFile, len = 116;
    /// hr: the result of the OpenFile (or SecurityResponse).
    hr / set_hr: HResult = 8;
    /// playIncarnation: echoes the triggering message's.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// openFileId: the id the client echoes in later messages.
    open_file_id / set_open_file_id: u32 = 16;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 20;
    /// fileName: MUST be 0.
    file_name / set_file_name: u32 = 24;
    /// fileAttributes: `FILE_ATTRIBUTE_MMS_*` flags.
    file_attributes / set_file_attributes: u32 = 28;
    /// fileDuration: seconds, 0 when unknown (live).
    file_duration / set_file_duration: f64 = 32;
    /// fileBlocks: the duration in whole seconds, rounded up.
    file_blocks / set_file_blocks: u32 = 40;
    // unused1: 16 zero bytes at 44.
    /// filePacketSize: the largest ASF data packet the server sends.
    file_packet_size / set_file_packet_size: u32 = 60;
    /// filePacketCount: ASF data packets in the content, 0 if unknown.
    file_packet_count / set_file_packet_count: u64 = 64;
    /// fileBitRate: sum of the streams' maximum bit rates, bit/s.
    file_bit_rate / set_file_bit_rate: u32 = 72;
    /// fileHeaderSize: size of the ASF file header in bytes.
    file_header_size / set_file_header_size: u32 = 76;
    // unused2: 36 zero bytes at 80.
}
impl ReportOpenFileRepr {
    fn strict(&self) -> Result<()> {
        if self.file_name != 0 {
            return Err(Error::invalid("fileName", "must be 0"));
        }
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.8] LinkMacToViewerReportReadBlock: the answer to ReadBlock;
    /// the ASF file header follows in Data packets.
    ReportReadBlock / ReportReadBlockRepr = ReportReadBlock, len = 20;
    /// hr: the result of the ReadBlock.
    hr / set_hr: HResult = 8;
    /// playIncarnation: echoes the ReadBlock's.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// playSequence: MUST be 0.
    play_sequence / set_play_sequence: u32 = 16;
}
impl ReportReadBlockRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.10] LinkMacToViewerReportStartedPlaying: the answer to
    /// StartPlaying; Data packets follow.
    ReportStartedPlaying / ReportStartedPlayingRepr = ReportStartedPlaying, len = 36;
    /// hr: the result of the StartPlaying.
    hr / set_hr: HResult = 8;
    /// playIncarnation: echoes the StartPlaying's.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// tigerFileId: SHOULD be the openFileId; MUST be ignored.
    tiger_file_id / set_tiger_file_id: u32 = 16;
    /// unused1: 0 or 0x40000000; MUST be ignored.
    unused1 / set_unused1: u32 = 20;
    // unused2: 12 zero bytes at 24.
}
impl ReportStartedPlayingRepr {
    fn strict(&self) -> Result<()> {
        if self.unused1 != 0 && self.unused1 != 0x4000_0000 {
            return Err(Error::invalid("unused1", "must be 0 or 0x40000000"));
        }
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.11] LinkMacToViewerReportStartStriding: the answer to
    /// StartStriding.
    ReportStartStriding / ReportStartStridingRepr = ReportStartStriding, len = 20;
    /// hr: the result of the StartStriding.
    hr / set_hr: HResult = 8;
    /// playIncarnation: echoes the StartStriding's.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// spare: MUST be 0.
    spare / set_spare: u32 = 16;
}
impl ReportStartStridingRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.12] LinkMacToViewerReportStreamChange: the next server-side
    /// playlist entry starts; a new ASF file header follows.
    ReportStreamChange / ReportStreamChangeRepr = ReportStreamChange, len = 32;
    /// hr: MUST be 0.
    hr / set_hr: HResult = 8;
    /// dwTcpHdrIncarnation: MUST be 0xFF.
    tcp_hdr_incarnation / set_tcp_hdr_incarnation: u32 = 12;
    /// cbPacketSize: the largest ASF data packet of the new entry.
    packet_size / set_packet_size: u32 = 16;
    /// cbHeaderSize: size of the new entry's ASF file header.
    header_size / set_header_size: u32 = 20;
    /// dwBitRate: sum of the new entry's streams' maximum bit rates.
    bit_rate / set_bit_rate: u32 = 24;
    /// dwStreamId: SHOULD be 0, MUST be ignored.
    stream_id / set_stream_id: u32 = 28;
}
impl ReportStreamChangeRepr {
    fn strict(&self) -> Result<()> {
        if self.tcp_hdr_incarnation != TCP_HDR_INCARNATION {
            return Err(Error::invalid("dwTcpHdrIncarnation", "must be 0xFF"));
        }
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.13] LinkMacToViewerReportStreamSwitch: the answer to
    /// StreamSwitch.
    ReportStreamSwitch / ReportStreamSwitchRepr = ReportStreamSwitch, len = 12;
    /// hr: the result of the StreamSwitch.
    hr / set_hr: HResult = 8;
}
impl ReportStreamSwitchRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

view! {
    /// [2.2.4.2] LinkMacToViewerReportConnectedEX: the answer to Connect.
    pub struct ReportConnectedEx, fixed_len = 64;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// hr: the result of the Connect.
    hr / set_hr: HResult = 8;
    /// playIncarnation: whether the server can do packet-pair.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// MacToViewerProtocolRevision: MUST be 0x0004000B.
    mac_to_viewer_protocol_revision / set_mac_to_viewer_protocol_revision: u32 = 16;
    /// ViewerToMacProtocolRevision: MUST be 0x0003001C.
    viewer_to_mac_protocol_revision / set_viewer_to_mac_protocol_revision: u32 = 20;
    /// blockGroupPlayTime: MUST be 1.0.
    block_group_play_time / set_block_group_play_time: f64 = 24;
    /// blockGroupBlocks: MUST be 1.
    block_group_blocks / set_block_group_blocks: u32 = 32;
    /// nMaxOpenFiles: MUST be 1.
    n_max_open_files / set_n_max_open_files: u32 = 36;
    /// nBlockMaxBytes: MUST be 0x8000.
    n_block_max_bytes / set_n_block_max_bytes: u32 = 40;
    /// maxBitRate: MUST be 0x00989680.
    max_bit_rate / set_max_bit_rate: u32 = 44;
    /// cbServerVersionInfo: units of ServerVersionInfo with its NUL.
    cb_server_version_info / set_cb_server_version_info: u32 = 48;
    /// cbVersionInfo: units of VersionInfo with its NUL (0 = absent).
    cb_version_info / set_cb_version_info: u32 = 52;
    /// cbVersionUrl: units of VersionUrl with its NUL (0 = absent).
    cb_version_url / set_cb_version_url: u32 = 56;
    /// cbAuthenPackage: units of AuthenPackage with its NUL (0 = absent).
    cb_authen_package / set_cb_authen_package: u32 = 60;
}

/// [2.2.4.2] LinkMacToViewerReportConnectedEX, owned representation.
///
/// Each string is `None` when its `cb*` field is 0 and `Some` (possibly
/// empty) otherwise; the terminator is not part of the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportConnectedExRepr<'a> {
    /// hr: the result of the Connect.
    pub hr: HResult,
    /// playIncarnation: MMS_DISABLE_PACKET_PAIR or MMS_USE_PACKET_PAIR.
    pub play_incarnation: u32,
    /// MacToViewerProtocolRevision.
    pub mac_to_viewer_protocol_revision: u32,
    /// ViewerToMacProtocolRevision.
    pub viewer_to_mac_protocol_revision: u32,
    /// blockGroupPlayTime.
    pub block_group_play_time: f64,
    /// blockGroupBlocks.
    pub block_group_blocks: u32,
    /// nMaxOpenFiles.
    pub n_max_open_files: u32,
    /// nBlockMaxBytes.
    pub n_block_max_bytes: u32,
    /// maxBitRate.
    pub max_bit_rate: u32,
    /// ServerVersionInfo, e.g. `9.1.1.3862` (see [`crate::wire::text::Version`]).
    pub server_version_info: Option<Utf16Str<'a>>,
    /// VersionInfo: a client version to upgrade to.
    pub version_info: Option<Utf16Str<'a>>,
    /// VersionUrl: where to download that upgrade.
    pub version_url: Option<Utf16Str<'a>>,
    /// AuthenPackage: `BASIC` or `NTLM` when the server may challenge.
    pub authen_package: Option<Utf16Str<'a>>,
}

impl<'a> ReportConnectedExRepr<'a> {
    /// A successful answer with the constant fields set as [2.2.4.2]
    /// requires.
    pub fn new(play_incarnation: u32, server_version_info: Utf16Str<'a>) -> Self {
        Self {
            hr: HResult::S_OK,
            play_incarnation,
            mac_to_viewer_protocol_revision: MAC_TO_VIEWER_PROTOCOL_REVISION,
            viewer_to_mac_protocol_revision: VIEWER_TO_MAC_PROTOCOL_REVISION,
            block_group_play_time: 1.0,
            block_group_blocks: 1,
            n_max_open_files: 1,
            n_block_max_bytes: 0x8000,
            max_bit_rate: 0x0098_9680,
            server_version_info: Some(server_version_info),
            version_info: None,
            version_url: None,
            authen_package: None,
        }
    }

    fn strings(&self) -> [&Option<Utf16Str<'a>>; 4] {
        [
            &self.server_version_info,
            &self.version_info,
            &self.version_url,
            &self.authen_package,
        ]
    }
}

impl<'a> MessageRepr<'a> for ReportConnectedExRepr<'a> {
    const ID: super::MessageId = super::MessageId::ReportConnectedEx;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = ReportConnectedEx::new_checked(msg)?;
        let mut off = ReportConnectedEx::<&[u8]>::FIXED_LEN;
        let mut next = |cb: u32, field| -> Result<Option<Utf16Str<'a>>> {
            let (text, used) = counted_text(&msg[off..], cb, field)?;
            off += used;
            Ok(text)
        };
        let server_version_info = next(v.cb_server_version_info(), "ServerVersionInfo")?;
        let version_info = next(v.cb_version_info(), "VersionInfo")?;
        let version_url = next(v.cb_version_url(), "VersionUrl")?;
        let authen_package = next(v.cb_authen_package(), "AuthenPackage")?;
        Ok(Self {
            hr: v.hr(),
            play_incarnation: v.play_incarnation(),
            mac_to_viewer_protocol_revision: v.mac_to_viewer_protocol_revision(),
            viewer_to_mac_protocol_revision: v.viewer_to_mac_protocol_revision(),
            block_group_play_time: v.block_group_play_time(),
            block_group_blocks: v.block_group_blocks(),
            n_max_open_files: v.n_max_open_files(),
            n_block_max_bytes: v.n_block_max_bytes(),
            max_bit_rate: v.max_bit_rate(),
            server_version_info,
            version_info,
            version_url,
            authen_package,
        })
    }

    fn unpadded_len(&self) -> usize {
        let text: usize = self
            .strings()
            .iter()
            .map(|s| s.map_or(0, |t| t.byte_len() + 2))
            .sum();
        ReportConnectedEx::<&[u8]>::FIXED_LEN + text
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = ReportConnectedEx::new_checked(&mut *buf)?;
        v.set_hr(self.hr);
        v.set_play_incarnation(self.play_incarnation);
        v.set_mac_to_viewer_protocol_revision(self.mac_to_viewer_protocol_revision);
        v.set_viewer_to_mac_protocol_revision(self.viewer_to_mac_protocol_revision);
        v.set_block_group_play_time(self.block_group_play_time);
        v.set_block_group_blocks(self.block_group_blocks);
        v.set_n_max_open_files(self.n_max_open_files);
        v.set_n_block_max_bytes(self.n_block_max_bytes);
        v.set_max_bit_rate(self.max_bit_rate);
        v.set_cb_server_version_info(counted_units(
            &self.server_version_info,
            "cbServerVersionInfo",
        )?);
        v.set_cb_version_info(counted_units(&self.version_info, "cbVersionInfo")?);
        v.set_cb_version_url(counted_units(&self.version_url, "cbVersionUrl")?);
        v.set_cb_authen_package(counted_units(&self.authen_package, "cbAuthenPackage")?);
        let mut off = ReportConnectedEx::<&[u8]>::FIXED_LEN;
        for text in self.strings().into_iter().flatten() {
            off += put_text_nul(buf, off, text)?;
        }
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        match self.play_incarnation {
            MMS_DISABLE_PACKET_PAIR | MMS_USE_PACKET_PAIR => {}
            _ => return Err(Error::invalid("playIncarnation", "not a packet-pair value")),
        }
        if self.mac_to_viewer_protocol_revision != MAC_TO_VIEWER_PROTOCOL_REVISION {
            return Err(Error::invalid(
                "MacToViewerProtocolRevision",
                "must be 0x0004000B",
            ));
        }
        if self.viewer_to_mac_protocol_revision != VIEWER_TO_MAC_PROTOCOL_REVISION {
            return Err(Error::invalid(
                "ViewerToMacProtocolRevision",
                "must be 0x0003001C",
            ));
        }
        if let Some(s) = &self.server_version_info {
            super::text::Version::parse(s)?;
        }
        if let Some(s) = &self.authen_package {
            if !s.is_empty() {
                super::text::AuthenPackage::parse(s)?;
            }
        }
        Ok(())
    }
}

view! {
    /// [2.2.4.3] LinkMacToViewerReportConnectedFunnel: the answer to a
    /// ConnectFunnel that succeeded.
    pub struct ReportConnectedFunnel, fixed_len = 20;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// hr: MUST be 0.
    hr / set_hr: HResult = 8;
    /// playIncarnation: SHOULD be 0, MUST be ignored.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// packetPayloadSize: SHOULD be 0, MUST be ignored.
    packet_payload_size / set_packet_payload_size: u32 = 16;
}

/// [2.2.4.3] LinkMacToViewerReportConnectedFunnel, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportConnectedFunnelRepr<'a> {
    /// hr: MUST be 0.
    pub hr: HResult,
    /// playIncarnation.
    pub play_incarnation: u32,
    /// packetPayloadSize.
    pub packet_payload_size: u32,
    /// funnelName: MUST be "Funnel Of The Gods" (terminator not included).
    pub funnel_name: Utf16Str<'a>,
}

impl Default for ReportConnectedFunnelRepr<'_> {
    fn default() -> Self {
        Self {
            hr: HResult::S_OK,
            play_incarnation: 0,
            packet_payload_size: 0,
            funnel_name: Utf16Str::Str(FUNNEL_OF_THE_GODS),
        }
    }
}

impl<'a> MessageRepr<'a> for ReportConnectedFunnelRepr<'a> {
    const ID: super::MessageId = super::MessageId::ReportConnectedFunnel;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = ReportConnectedFunnel::new_checked(msg)?;
        Ok(Self {
            hr: v.hr(),
            play_incarnation: v.play_incarnation(),
            packet_payload_size: v.packet_payload_size(),
            funnel_name: tail_text(msg, 20, "funnelName")?,
        })
    }

    fn unpadded_len(&self) -> usize {
        20 + self.funnel_name.byte_len() + 2
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = ReportConnectedFunnel::new_checked(&mut *buf)?;
        v.set_hr(self.hr);
        v.set_play_incarnation(self.play_incarnation);
        v.set_packet_payload_size(self.packet_payload_size);
        put_text_nul(buf, 20, &self.funnel_name)?;
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        if self.hr != HResult::S_OK {
            return Err(Error::invalid("hr", "must be 0"));
        }
        Ok(())
    }
}

view! {
    /// [2.2.4.6] LinkMacToViewerReportFunnelInfo: assigns the client its id
    /// (`nCubs`) and, with packet-pair over TCP, carries the pair's bytes.
    pub struct ReportFunnelInfo, fixed_len = 48;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// hr: the result of the FunnelInfo.
    hr / set_hr: HResult = 8;
    /// playIncarnation: the packet-pair mode.
    play_incarnation / set_play_incarnation: u32 = 12;
    /// transportMask: MUST be 8.
    transport_mask / set_transport_mask: u32 = 16;
    /// nBlockFragments: MUST be 1.
    n_block_fragments / set_n_block_fragments: u32 = 20;
    /// fragmentBytes: MUST be 0x10000.
    fragment_bytes / set_fragment_bytes: u32 = 24;
    /// nCubs: the client id used in RequestPacketListResend.
    n_cubs / set_n_cubs: u32 = 28;
    /// failedCubs: MUST be 0.
    failed_cubs / set_failed_cubs: u32 = 32;
    /// nDisks: MUST be 1.
    n_disks / set_n_disks: u32 = 36;
    /// decluster: MUST be 0.
    decluster / set_decluster: u32 = 40;
    /// cubddDatagramSize: MUST be 0.
    cubdd_datagram_size / set_cubdd_datagram_size: u32 = 44;
}

/// [2.2.4.6] LinkMacToViewerReportFunnelInfo, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFunnelInfoRepr<'a> {
    /// hr.
    pub hr: HResult,
    /// playIncarnation: the packet-pair mode.
    pub play_incarnation: u32,
    /// transportMask.
    pub transport_mask: u32,
    /// nBlockFragments.
    pub n_block_fragments: u32,
    /// fragmentBytes.
    pub fragment_bytes: u32,
    /// nCubs: the client id.
    pub n_cubs: u32,
    /// failedCubs.
    pub failed_cubs: u32,
    /// nDisks.
    pub n_disks: u32,
    /// decluster.
    pub decluster: u32,
    /// cubddDatagramSize.
    pub cubdd_datagram_size: u32,
    /// Packet-pair packet: the random bytes after the fixed fields (480 on
    /// the first two, 1016 on the third of [4.4.2]); empty otherwise. Its
    /// length must be a multiple of 8 (the message is chunked).
    pub packet_pair: &'a [u8],
}

impl ReportFunnelInfoRepr<'_> {
    /// A successful answer assigning `client_id`, no packet-pair data.
    pub fn new(client_id: u32) -> Self {
        Self {
            hr: HResult::S_OK,
            play_incarnation: MMS_DISABLE_PACKET_PAIR,
            transport_mask: 8,
            n_block_fragments: 1,
            fragment_bytes: 0x1_0000,
            n_cubs: client_id,
            failed_cubs: 0,
            n_disks: 1,
            decluster: 0,
            cubdd_datagram_size: 0,
            packet_pair: &[],
        }
    }
}

impl<'a> MessageRepr<'a> for ReportFunnelInfoRepr<'a> {
    const ID: super::MessageId = super::MessageId::ReportFunnelInfo;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = ReportFunnelInfo::new_checked(msg)?;
        Ok(Self {
            hr: v.hr(),
            play_incarnation: v.play_incarnation(),
            transport_mask: v.transport_mask(),
            n_block_fragments: v.n_block_fragments(),
            fragment_bytes: v.fragment_bytes(),
            n_cubs: v.n_cubs(),
            failed_cubs: v.failed_cubs(),
            n_disks: v.n_disks(),
            decluster: v.decluster(),
            cubdd_datagram_size: v.cubdd_datagram_size(),
            packet_pair: &msg[48..],
        })
    }

    fn unpadded_len(&self) -> usize {
        48 + self.packet_pair.len()
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        if self.packet_pair.len() % 8 != 0 {
            return Err(Error::invalid(
                "Packet-pair packet",
                "length not a multiple of 8",
            ));
        }
        let mut v = ReportFunnelInfo::new_checked(&mut *buf)?;
        v.set_hr(self.hr);
        v.set_play_incarnation(self.play_incarnation);
        v.set_transport_mask(self.transport_mask);
        v.set_n_block_fragments(self.n_block_fragments);
        v.set_fragment_bytes(self.fragment_bytes);
        v.set_n_cubs(self.n_cubs);
        v.set_failed_cubs(self.failed_cubs);
        v.set_n_disks(self.n_disks);
        v.set_decluster(self.decluster);
        v.set_cubdd_datagram_size(self.cubdd_datagram_size);
        buf[48..48 + self.packet_pair.len()].copy_from_slice(self.packet_pair);
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        super::consts::check_packet_pair_value(self.play_incarnation)?;
        let pair_allowed = matches!(
            self.play_incarnation,
            MMS_USE_PACKET_PAIR | MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
        );
        if !self.packet_pair.is_empty() && !pair_allowed {
            return Err(Error::invalid(
                "Packet-pair packet",
                "present without a TCP packet-pair mode",
            ));
        }
        if self.transport_mask != 8 {
            return Err(Error::invalid("transportMask", "must be 8"));
        }
        Ok(())
    }
}

view! {
    /// [2.2.4.9] LinkMacToViewerReportRedirect: sends the client elsewhere.
    pub struct ReportRedirect, fixed_len = 16;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// hr.
    hr / set_hr: HResult = 8;
    /// RedirectType: 1 = another URL, 2 = another proxy.
    redirect_type / set_redirect_type: u16 = 12;
    /// cbLocation: bytes of wszLocation including its NUL.
    cb_location / set_cb_location: u16 = 14;
}

/// [2.2.4.9] LinkMacToViewerReportRedirect, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRedirectRepr<'a> {
    /// hr.
    pub hr: HResult,
    /// RedirectType: [`REDIRECT_URL`] or [`REDIRECT_PROXY`].
    pub redirect_type: u16,
    /// wszLocation without its terminator: a URL, or empty ("no proxy").
    /// Parse it with [`crate::wire::text::RedirectLocation`].
    pub location: Utf16Str<'a>,
}

impl<'a> MessageRepr<'a> for ReportRedirectRepr<'a> {
    const ID: super::MessageId = super::MessageId::ReportRedirect;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = ReportRedirect::new_checked(msg)?;
        let cb = v.cb_location() as usize;
        if cb < 2 {
            return Err(Error::invalid(
                "cbLocation",
                "no room for the NUL terminator",
            ));
        }
        need(msg, 16 + cb)?;
        let bytes = &msg[16..16 + cb];
        let text = Utf16Str::from_wire(bytes, "wszLocation")?;
        if bytes[cb - 2] != 0 || bytes[cb - 1] != 0 {
            return Err(Error::invalid("wszLocation", "missing NUL terminator"));
        }
        Ok(Self {
            hr: v.hr(),
            redirect_type: v.redirect_type(),
            location: text.slice_units(0, cb / 2 - 1),
        })
    }

    fn unpadded_len(&self) -> usize {
        16 + self.location.byte_len() + 2
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let cb = u16::try_from(self.location.byte_len() + 2)
            .map_err(|_| Error::invalid("cbLocation", "location longer than 65535 bytes"))?;
        let mut v = ReportRedirect::new_checked(&mut *buf)?;
        v.set_hr(self.hr);
        v.set_redirect_type(self.redirect_type);
        v.set_cb_location(cb);
        put_text_nul(buf, 16, &self.location)?;
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        if self.redirect_type != REDIRECT_URL && self.redirect_type != REDIRECT_PROXY {
            return Err(Error::invalid("RedirectType", "must be 1 or 2"));
        }
        super::text::RedirectLocation::parse(&self.location)?;
        Ok(())
    }
}
