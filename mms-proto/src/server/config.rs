//! The session's settings, and what the application tells the machine of
//! the content it serves.

use crate::asf::{HeaderSummary, StreamKind, StreamSet};
use crate::time::Duration;
use crate::wire::{
    FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK, FILE_ATTRIBUTE_MMS_CANSTRIDE,
    FILE_ATTRIBUTE_MMS_LIVE,
};

/// Settings of a server session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// ServerVersionInfo sent in ReportConnectedEX ([2.2.4.2]).
    pub server_version: &'static str,
    /// Idle-Timeout ([3.2.2]): 3600 s by default, at least 10 s.
    pub idle_timeout: Duration,
    /// KeepAlive ([3.2.2]): 30 s by default, at least 10 s. Pings are sent
    /// only once playing (VLC and libmms fail on a Ping during setup).
    pub keepalive: Duration,
    /// How long the connection stays open after ReportEndOfStream without a
    /// CloseFile (MPlayer exits only when TCP closes; FFmpeg blocks or
    /// busy-loops if it is closed at once). `None`: until the Idle-Timeout.
    pub linger: Option<Duration>,
    /// Pace data packets by their Send Time ([3.2.5.11.1]); off sends as
    /// fast as the client reads (downloads, benchmarks).
    pub paced: bool,
    /// Close a session that has not got as far as ReportOpenFile this long
    /// after the machine first ran (a socket that sends nothing, or half a
    /// message, would otherwise hold its slot until the Idle-Timeout, or
    /// forever before Connect). `None`: no such limit (the spec has none;
    /// mms-server sets 30 s).
    pub setup_timeout: Option<Duration>,
    /// Accept a UDP funnel ([3.2.5.5]): the runtime has a UDP socket on
    /// the TCP port's number and gave the machine the peer's address
    /// ([`super::ServerMachine::with_peer`]). Off: UDP is declined with
    /// ReportDisconnectedFunnel.
    pub udp: bool,
    /// Resent bytes per second a session may send, as a percentage of the
    /// content bit rate (at least 8 KiB/s; a burst of one second's worth):
    /// the bound on what resend requests can make the server send
    /// ([3.2.5.13]).
    pub resend_budget_percent: u32,
    /// How long the runtime keeps copies of what it sent over UDP
    /// ([`super::ResendRing`]); a request for an older packet is not
    /// answered.
    pub resend_window: Duration,
    /// How long ReportEndOfStream waits after the last UDP datagram of a
    /// play, so the datagrams arrive (and can be asked for again) first:
    /// VLC ends its session on it at once (interop-notes). Over UDP the
    /// linger after it lasts at least [`Config::resend_window`], so a
    /// client can still ask for the last packets.
    pub udp_end_delay: Duration,
    /// Refuse what the spec forbids even where real clients do it
    /// (`check_strict` on every message, a missing StreamSwitch selects
    /// nothing, an unreadable funnelName or subscriberName is refused).
    pub strict: bool,
    /// Authentication offered ([2.2.4.2] AuthenPackage; [3.2.5.6],
    /// [3.2.5.7]): `None`, no path can be protected and no challenge is
    /// sent.
    pub auth: Option<super::AuthOffer>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_version: "9.1.1.3862",
            idle_timeout: Duration::from_secs(3600),
            keepalive: Duration::from_secs(30),
            linger: Some(Duration::from_secs(3)),
            paced: true,
            setup_timeout: None,
            udp: false,
            resend_budget_percent: 100,
            resend_window: Duration::from_secs(5),
            udp_end_delay: Duration::from_secs(1),
            strict: false,
            auth: None,
        }
    }
}

/// What the application knows of the content it accepts to serve: the
/// numbers ReportOpenFile needs ([2.2.4.7]) and the header's length.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Media {
    /// fileAttributes.
    pub attributes: u32,
    /// Duration in ms (0 when unknown, e.g. live).
    pub duration_ms: u64,
    /// The ASF data packet size.
    pub packet_size: u32,
    /// ASF data packets in the content (0 if unknown).
    pub packet_count: u64,
    /// Sum of the streams' bit rates, bit/s.
    pub bit_rate: u32,
    /// Size of the ASF file header (Header Object + 50).
    pub file_header_len: u32,
    /// Streams whose payloads carry no key-frame flag (audio: every object
    /// is a cleanpoint, asf-facts §5.2). They start anywhere and are never
    /// thinned.
    pub without_key_frames: StreamSet,
    /// Another server-side playlist entry follows this one ([3.2.4.2]):
    /// at its end the machine sends ReportEndOfStream with hr 1 and asks
    /// for the next entry ([`super::Output::NextEntry`]).
    pub continues: bool,
    /// Send Time of the first data packet, ms: where content time 0 is
    /// for an absolute frameOffset stop ([2.2.4.25]). Muxers do not all
    /// start at 0 (GStreamer's do not).
    pub send_time_origin: u32,
    /// The streams the header declares (a live join waits for each
    /// selected one to start cleanly).
    pub streams: StreamSet,
    /// Live (broadcast) content ([`Media::live`]): a play joins where the
    /// application says ([`super::Event::JoinLive`]), packets come when the
    /// source makes them ([`super::Fetch::Later`]), seek and stride are
    /// refused.
    pub live: bool,
}

impl Media {
    /// The numbers of a parsed header, as a file. A file with the ASF
    /// Broadcast flag (one an encoder wrote to a pipe) is still a file: it
    /// is not announced as live; its counts are unknown (0), and the
    /// application counts its packets.
    pub fn from_summary(s: &HeaderSummary<'_>) -> Self {
        let attributes = if s.is_seekable() {
            FILE_ATTRIBUTE_MMS_CANSEEK | FILE_ATTRIBUTE_MMS_CANSTRIDE
        } else {
            0
        };
        Self {
            attributes,
            duration_ms: if s.is_broadcast() { 0 } else { s.duration_ms() },
            packet_size: s.packet_size,
            packet_count: if s.is_broadcast() { 0 } else { s.packet_count },
            bit_rate: s.total_bitrate(),
            file_header_len: s.file_header_len() as u32,
            without_key_frames: s
                .streams
                .iter()
                .filter(|st| st.kind != StreamKind::Video)
                .fold(StreamSet::EMPTY, |a, st| a.with(st.number)),
            continues: false,
            send_time_origin: 0,
            streams: s
                .streams
                .iter()
                .fold(StreamSet::EMPTY, |a, st| a.with(st.number)),
            live: false,
        }
    }

    /// The numbers of a live source's header ([2.2.4.7]): BROADCAST and
    /// LIVE, duration 0, packet count 0, neither seek nor stride.
    pub fn live(s: &HeaderSummary<'_>) -> Self {
        Self {
            attributes: FILE_ATTRIBUTE_MMS_BROADCAST | FILE_ATTRIBUTE_MMS_LIVE,
            duration_ms: 0,
            packet_count: 0,
            live: true,
            ..Self::from_summary(s)
        }
    }

    /// Whether the content can be strided ([3.2.5.12]).
    pub(super) fn can_stride(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_CANSTRIDE != 0
    }
}
