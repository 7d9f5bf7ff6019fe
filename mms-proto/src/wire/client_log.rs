//! [2.2.1] Data structures used for logging: CLIENT_LOG and
//! CLIENT_LOG_INFO, carried by LinkViewerToMacLogging.
//!
//! Strings are fixed-width ANSI fields: NUL-terminated inside their width,
//! and an empty string is sent as `-` ([2.2.1]). A Repr holds the text
//! without terminator and with `-` mapped to the empty string, so emitting
//! an empty string writes `-`.

use super::error::room;
use super::field::view;
use super::{Error, Result};

/// Size of CLIENT_LOG ([2.2.1.1]).
pub const CLIENT_LOG_LEN: usize = 1490;
/// Size of CLIENT_LOG_INFO ([2.2.1.2]).
pub const CLIENT_LOG_INFO_LEN: usize = 1142;
/// Offset of CLIENT_LOG_INFO inside CLIENT_LOG.
const INFO: usize = 4;

/// Reads a fixed-width ANSI string field at `off` of `width` bytes.
fn ansi<'a>(b: &'a [u8], off: usize, width: usize, field: &'static str) -> Result<&'a [u8]> {
    let raw = &b[off..off + width];
    let end = raw
        .iter()
        .position(|&c| c == 0)
        .ok_or(Error::invalid(field, "missing NUL terminator"))?;
    let text = &raw[..end];
    Ok(if text == b"-" { &raw[..0] } else { text })
}

/// Writes a fixed-width ANSI string field (the buffer is zeroed first).
fn put_ansi(
    b: &mut [u8],
    off: usize,
    width: usize,
    text: &[u8],
    field: &'static str,
) -> Result<()> {
    let text: &[u8] = if text.is_empty() { b"-" } else { text };
    if text.len() >= width {
        return Err(Error::invalid(
            field,
            "string does not fit its field with the NUL",
        ));
    }
    if text.contains(&0) {
        return Err(Error::invalid(field, "string contains NUL"));
    }
    b[off..off + text.len()].copy_from_slice(text);
    b[off + text.len()..off + width].fill(0);
    Ok(())
}

/// Declares the string fields of a log structure once: `(name, offset,
/// width, spec name)`, generating parse and emit of all of them.
macro_rules! ansi_fields {
    ($repr:ident { $( $(#[$m:meta])* $name:ident @ $off:expr, $width:expr, $spec:literal; )* }) => {
        /// The ANSI string fields, in wire order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $repr<'a> {
            $( $(#[$m])* pub $name: &'a [u8], )*
        }
        impl<'a> $repr<'a> {
            fn parse(b: &'a [u8], base: usize) -> Result<Self> {
                Ok(Self { $( $name: ansi(b, base + $off, $width, $spec)?, )* })
            }
            fn emit(&self, b: &mut [u8], base: usize) -> Result<()> {
                $( put_ansi(b, base + $off, $width, self.$name, $spec)?; )*
                Ok(())
            }
        }
    };
}

ansi_fields!(ClientLogInfoStrings {
    /// szURL: the content's URL.
    url @ 4, 260, "szURL";
    /// szChannelURL: the .nsc file the URL came from.
    channel_url @ 264, 260, "szChannelURL";
    /// szUserAgent: the embedded browser's User-Agent.
    user_agent @ 524, 64, "szUserAgent";
    /// szHostingWebPage: the page embedding the player.
    hosting_web_page @ 588, 260, "szHostingWebPage";
    /// szLang: client system language, e.g. `en-US`.
    lang @ 856, 16, "szLang";
    /// szUniquePID: a unique player id (a GUID is recommended).
    unique_pid @ 872, 40, "szUniquePID";
    /// szHostExe: executable hosting the player.
    host_exe @ 912, 32, "szHostExe";
    /// szAudioCodec: audio codec in use.
    audio_codec @ 968, 64, "szAudioCodec";
    /// szVideoCodec: video codec in use.
    video_codec @ 1032, 64, "szVideoCodec";
});

ansi_fields!(ClientLogStrings {
    /// szComputerDNS: SHOULD be `-`.
    computer_dns @ 1154, 260, "szComputerDNS";
    /// szOS: operating system name and version.
    os @ 1414, 16, "szOS";
    /// szCPU: CPU brand and model.
    cpu @ 1438, 16, "szCPU";
    /// szProto: MUST be `mms`.
    proto @ 1454, 8, "szProto";
    /// szTransport: `UDP` or `TCP`.
    transport @ 1462, 8, "szTransport";
});

view! {
    /// [2.2.1.2] CLIENT_LOG_INFO: the numeric fields (strings are in
    /// [`ClientLogInfoStrings`]).
    pub struct ClientLogInfo, fixed_len = CLIENT_LOG_INFO_LEN;
    /// cbSize: MUST be 1142.
    cb_size / set_cb_size: u32 = 0;
    /// qwClientVersion: player version, four 16-bit parts, major first.
    client_version / set_client_version: u64 = 848;
    /// qwHostExeVer: version of szHostExe.
    host_exe_version / set_host_exe_version: u64 = 944;
    /// msFileDuration: content duration in ms (0 for live).
    file_duration_ms / set_file_duration_ms: u32 = 952;
    /// qwFileSize: content size in bytes (0 for live).
    file_size / set_file_size: u64 = 956;
    /// dwAvgBandwidthBps: average received bit rate.
    avg_bandwidth_bps / set_avg_bandwidth_bps: u32 = 964;
    /// msStartTime: where playback began, ms.
    start_time_ms / set_start_time_ms: u32 = 1096;
    /// msPlayed: how much was played, ms.
    played_ms / set_played_ms: u32 = 1100;
    /// rate: playback rate; 1 for normal.
    rate / set_rate: i16 = 1104;
    /// dwBufferingCount: times the client buffered.
    buffering_count / set_buffering_count: u32 = 1106;
    /// msBufferingTime: time spent buffering, ms.
    buffering_time_ms / set_buffering_time_ms: u32 = 1110;
    /// qwBytesReceived: payload bytes of Data packets received.
    bytes_received / set_bytes_received: u64 = 1114;
    /// dwPacketsReceived: Data packets received.
    packets_received / set_packets_received: u32 = 1122;
    /// dwPacketsLostClient: Data packets never received.
    packets_lost_client / set_packets_lost_client: u32 = 1126;
    /// dwPacketsRecoveredECC: MUST be 0.
    packets_recovered_ecc / set_packets_recovered_ecc: u32 = 1130;
    /// dwMinReceptionQuality: 0..=100 percent.
    min_reception_quality / set_min_reception_quality: u32 = 1134;
    /// hr: MUST be 0.
    hr / set_hr: u32 = 1138;
}

view! {
    /// [2.2.1.1] CLIENT_LOG: the numeric fields (the embedded
    /// CLIENT_LOG_INFO starts at byte 4; strings are in
    /// [`ClientLogStrings`]).
    pub struct ClientLog, fixed_len = CLIENT_LOG_LEN;
    /// cbSize: MUST be 1490.
    cb_size / set_cb_size: u32 = 0;
    /// dwSourceId: the openFileId.
    source_id / set_source_id: u32 = 1146;
    /// dwIPAddress: SHOULD be 0xFFFFFFFF.
    ip_address / set_ip_address: u32 = 1150;
    /// qwOSVersion: OS version, four 16-bit parts, major first.
    os_version / set_os_version: u64 = 1430;
    /// dwPacketsLostNet: Data packets lost in the network.
    packets_lost_net / set_packets_lost_net: u32 = 1470;
    /// dwPacketsLostContNet: the longest run of missing Data packets.
    packets_lost_cont_net / set_packets_lost_cont_net: u32 = 1474;
    /// dwResendRequests: Data packets the client asked to be resent.
    resend_requests / set_resend_requests: u32 = 1478;
    /// dwPacketsRecoveredResent: packets recovered by resending.
    packets_recovered_resent / set_packets_recovered_resent: u32 = 1482;
    /// dwPacketsResent: resent packets received.
    packets_resent / set_packets_resent: u32 = 1486;
}

/// [2.2.1.2] CLIENT_LOG_INFO, owned representation (`cbSize` is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // each field is documented on the view accessor of the same name
pub struct ClientLogInfoRepr<'a> {
    pub strings: ClientLogInfoStrings<'a>,
    pub client_version: u64,
    pub host_exe_version: u64,
    pub file_duration_ms: u32,
    pub file_size: u64,
    pub avg_bandwidth_bps: u32,
    pub start_time_ms: u32,
    pub played_ms: u32,
    pub rate: i16,
    pub buffering_count: u32,
    pub buffering_time_ms: u32,
    pub bytes_received: u64,
    pub packets_received: u32,
    pub packets_lost_client: u32,
    pub packets_recovered_ecc: u32,
    pub min_reception_quality: u32,
    pub hr: u32,
}

/// [2.2.1.1] CLIENT_LOG, owned representation (`cbSize` is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)] // each field is documented on the view accessor of the same name
pub struct ClientLogRepr<'a> {
    pub info: ClientLogInfoRepr<'a>,
    pub strings: ClientLogStrings<'a>,
    pub source_id: u32,
    pub ip_address: u32,
    pub os_version: u64,
    pub packets_lost_net: u32,
    pub packets_lost_cont_net: u32,
    pub resend_requests: u32,
    pub packets_recovered_resent: u32,
    pub packets_resent: u32,
}

impl<'a> ClientLogRepr<'a> {
    /// Parses a CLIENT_LOG from exactly [`CLIENT_LOG_LEN`] or more bytes.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let log = ClientLog::new_checked(b)?;
        let info = ClientLogInfo::new_checked(&b[INFO..INFO + CLIENT_LOG_INFO_LEN])?;
        Ok(Self {
            info: ClientLogInfoRepr {
                strings: ClientLogInfoStrings::parse(b, INFO)?,
                client_version: info.client_version(),
                host_exe_version: info.host_exe_version(),
                file_duration_ms: info.file_duration_ms(),
                file_size: info.file_size(),
                avg_bandwidth_bps: info.avg_bandwidth_bps(),
                start_time_ms: info.start_time_ms(),
                played_ms: info.played_ms(),
                rate: info.rate(),
                buffering_count: info.buffering_count(),
                buffering_time_ms: info.buffering_time_ms(),
                bytes_received: info.bytes_received(),
                packets_received: info.packets_received(),
                packets_lost_client: info.packets_lost_client(),
                packets_recovered_ecc: info.packets_recovered_ecc(),
                min_reception_quality: info.min_reception_quality(),
                hr: info.hr(),
            },
            strings: ClientLogStrings::parse(b, 0)?,
            source_id: log.source_id(),
            ip_address: log.ip_address(),
            os_version: log.os_version(),
            packets_lost_net: log.packets_lost_net(),
            packets_lost_cont_net: log.packets_lost_cont_net(),
            resend_requests: log.resend_requests(),
            packets_recovered_resent: log.packets_recovered_resent(),
            packets_resent: log.packets_resent(),
        })
    }

    /// Writes all [`CLIENT_LOG_LEN`] bytes into `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        room(b, CLIENT_LOG_LEN)?;
        let b = &mut b[..CLIENT_LOG_LEN];
        b.fill(0);
        self.info.strings.emit(b, INFO)?;
        self.strings.emit(b, 0)?;
        {
            let mut info = ClientLogInfo::new_checked(&mut b[INFO..INFO + CLIENT_LOG_INFO_LEN])?;
            let i = &self.info;
            info.set_cb_size(CLIENT_LOG_INFO_LEN as u32);
            info.set_client_version(i.client_version);
            info.set_host_exe_version(i.host_exe_version);
            info.set_file_duration_ms(i.file_duration_ms);
            info.set_file_size(i.file_size);
            info.set_avg_bandwidth_bps(i.avg_bandwidth_bps);
            info.set_start_time_ms(i.start_time_ms);
            info.set_played_ms(i.played_ms);
            info.set_rate(i.rate);
            info.set_buffering_count(i.buffering_count);
            info.set_buffering_time_ms(i.buffering_time_ms);
            info.set_bytes_received(i.bytes_received);
            info.set_packets_received(i.packets_received);
            info.set_packets_lost_client(i.packets_lost_client);
            info.set_packets_recovered_ecc(i.packets_recovered_ecc);
            info.set_min_reception_quality(i.min_reception_quality);
            info.set_hr(i.hr);
        }
        let mut log = ClientLog::new_checked(b)?;
        log.set_cb_size(CLIENT_LOG_LEN as u32);
        log.set_source_id(self.source_id);
        log.set_ip_address(self.ip_address);
        log.set_os_version(self.os_version);
        log.set_packets_lost_net(self.packets_lost_net);
        log.set_packets_lost_cont_net(self.packets_lost_cont_net);
        log.set_resend_requests(self.resend_requests);
        log.set_packets_recovered_resent(self.packets_recovered_resent);
        log.set_packets_resent(self.packets_resent);
        Ok(CLIENT_LOG_LEN)
    }
}
