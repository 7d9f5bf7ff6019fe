//! Named constant values of section 2.

/// `playIncarnation` of Connect / ReportConnectedEX / FunnelInfo /
/// ReportFunnelInfo: packet-pair bandwidth estimation disabled
/// (MMS_DISABLE_PACKET_PAIR, [2.2.4.2], [2.2.4.17], [2.2.4.19]).
pub const MMS_DISABLE_PACKET_PAIR: u32 = 0xF0F0_F0EF;
/// MMS_USE_PACKET_PAIR ([2.2.4.2], [2.2.4.6], [2.2.4.17], [2.2.4.19]).
pub const MMS_USE_PACKET_PAIR: u32 = 0xF0F0_F0F0;
/// MMS_PACKET_PAIR_TCP_HIGH_ENTROPY ([2.2.4.6], [2.2.4.19]).
pub const MMS_PACKET_PAIR_TCP_HIGH_ENTROPY: u32 = 0xF0F0_F0F1;
/// MMS_PACKET_PAIR_UDP_HIGH_ENTROPY ([2.2.4.6], [2.2.4.19]).
pub const MMS_PACKET_PAIR_UDP_HIGH_ENTROPY: u32 = 0xF0F0_F901;

/// MacToViewerProtocolRevision ([2.2.4.2], [2.2.4.17]).
pub const MAC_TO_VIEWER_PROTOCOL_REVISION: u32 = 0x0004_000B;
/// ViewerToMacProtocolRevision ([2.2.4.2], [2.2.4.17]).
pub const VIEWER_TO_MAC_PROTOCOL_REVISION: u32 = 0x0003_001C;

/// [2.2.4.7] fileAttributes: the server can fast-forward and rewind.
pub const FILE_ATTRIBUTE_MMS_CANSTRIDE: u32 = 0x0080_0000;
/// [2.2.4.7] fileAttributes: the server can seek.
pub const FILE_ATTRIBUTE_MMS_CANSEEK: u32 = 0x0100_0000;
/// [2.2.4.7] fileAttributes: a broadcast stream.
pub const FILE_ATTRIBUTE_MMS_BROADCAST: u32 = 0x0200_0000;
/// [2.2.4.7] fileAttributes: a live stream.
pub const FILE_ATTRIBUTE_MMS_LIVE: u32 = 0x0400_0000;
/// [2.2.4.7] fileAttributes: part of a server-side playlist.
pub const FILE_ATTRIBUTE_MMS_PLAYLIST: u32 = 0x4000_0000;

/// [2.2.4.3] funnelName the server sends.
pub const FUNNEL_OF_THE_GODS: &str = "Funnel Of The Gods";

/// [2.2.4.12] dwTcpHdrIncarnation.
pub const TCP_HDR_INCARNATION: u32 = 0x0000_00FF;

/// [2.2.4.9] RedirectType: redirect to a different URL.
pub const REDIRECT_URL: u16 = 0x0001;
/// [2.2.4.9] RedirectType: use a different proxy server (or none).
pub const REDIRECT_PROXY: u16 = 0x0002;

/// [2.2.4.25] position value meaning "use asfOffset or locationId" (DBL_MAX).
pub const POSITION_UNSPECIFIED: f64 = f64::MAX;

/// [2.2.4.28.1] A stream number meaning "no stream".
pub const NO_STREAM: u16 = 0xFFFF;

/// Returns an error unless `v` lies in 0x01..=0xFE, the range [2.2.4.21],
/// [2.2.4.23], [2.2.4.25] and [2.2.4.26] require of `playIncarnation`.
pub(crate) fn check_incarnation(v: u32) -> super::Result<()> {
    if (1..=0xFE).contains(&v) {
        Ok(())
    } else {
        Err(super::Error::invalid(
            "playIncarnation",
            "outside 0x01..=0xFE",
        ))
    }
}

/// Returns an error unless `v` is one of the four packet-pair values.
pub(crate) fn check_packet_pair_value(v: u32) -> super::Result<()> {
    match v {
        MMS_DISABLE_PACKET_PAIR
        | MMS_USE_PACKET_PAIR
        | MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
        | MMS_PACKET_PAIR_UDP_HIGH_ENTROPY => Ok(()),
        _ => Err(super::Error::invalid(
            "playIncarnation",
            "not a packet-pair value",
        )),
    }
}
