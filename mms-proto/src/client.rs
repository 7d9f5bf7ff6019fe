//! [3.1] The client machine: one per TCP connection, sans-IO.
//!
//! **Status.** Data delivery over TCP. Implemented: Connect with
//! `NSPlayer/…; {GUID}` (and the host-param through a proxy) and the
//! packet-pair request ([3.1.4.1.1]); ReportConnectedEX (Server-Version,
//! Auth-Scheme, [3.1.5.3]); FunnelInfo and the three-message TCP packet-pair
//! with the bandwidth it yields ([3.1.5.4]); ConnectFunnel over TCP, or UDP
//! first with the fall-back to TCP on ReportDisconnectedFunnel ([3.1.5.5];
//! a server that accepts UDP is [`ClientError::Unsupported`]: Data over UDP
//! is not implemented); OpenFile → ReportRedirect ([3.1.5.7], both types) /
//! SecurityChallenge (the token goes to the application, which answers with
//! [`Client::respond`], [3.1.5.8]) / ReportOpenFile ([3.1.5.9]); ReadBlock
//! with HeaderIncarnation ([3.1.5.9.1]); the header reassembled by
//! LocationId with AFFlags 0x04/0x08/0x0C ([3.1.5.12]); the Header timer
//! with CancelReadBlock and a retry limit of 4 ([3.1.6.1]); StreamSwitch with
//! the complete selection before a play ([3.1.4.2]) and the changed entries
//! while streaming ([3.1.4.3]); StartPlaying from a time, a packet or a byte
//! offset with a frameOffset stop and the acceleration fields when
//! Server-Version ≥ 9 ([3.1.4.2.1]); StartStriding ([3.1.4.2.2]); media to
//! the application with LocationId and the 32-bit sequence rebuilt from
//! AFFlags ([3.1.5.17]); StopPlaying + Logging with this play's statistics
//! ([3.1.4.5]); a play while streaming is stop → switch → play
//! ([3.1.4.6]); the end of stream by server version ([3.1.5.18]);
//! playlists: ReportStreamChange → the entry's header → READY for the
//! application's selection and play ([3.1.5.19], [3.1.4.4]); Ping → Pong
//! ([3.1.5.13]); CloseFile ([3.1.4.8]). A failure HRESULT, a malformed or
//! unexpected message end the session with a typed [`ClientError`]
//! ([3.1]).
//!
//! # Run loop
//!
//! ```text
//! let mut c = Client::new(config, path, now)?;
//! loop {
//!     match c.poll_output(now, &mut buf)? {          // buf: OUTPUT_BUF_LEN bytes
//!         Output::Send(n) => write buf[..n],
//!         Output::Timeout(t) => { arm a timer for t; break }
//!         Output::Wait => break,
//!         Output::Close => close the connection }
//! }
//! // for each unit `wire::frame` cuts from the socket:
//! match c.handle(now, &unit)? { Some(Event::Packet { .. }) => …, … }
//! // when the timer fires: c.handle_timeout(now)?
//! // the application's requests: c.play(now, &Play { .. })?, c.stop()?, …
//! ```
//!
//! The machine owns no media bytes: header pieces and packets are handed
//! out as [`Event`]s borrowing the unit they came in.

use core::fmt::Write as _;
use core::net::{IpAddr, Ipv4Addr};

use heapless::{Deque, String, Vec};

use crate::asf::StreamSet;
use crate::time::{Duration, Instant};
use crate::wire::text::{AuthenPackage, Guid, RedirectLocation, Version};
use crate::wire::*;

/// Size of the buffer [`Client::poll_output`] needs for any message.
pub const OUTPUT_BUF_LEN: usize = 4096;
/// Longest path (UTF-8 bytes) the machine sends in OpenFile.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest host-param (`host:port`).
pub const MAX_HOST_LEN: usize = 255;
/// Longest SecurityResponse token the machine holds.
pub const MAX_TOKEN_LEN: usize = 1024;
/// [3.1.6.1] retry limit of the Header timer.
pub const HEADER_RETRY_LIMIT: u8 = 4;

/// Settings of a client session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Version in `NSPlayer/…` ([2.2.4.17]); 9.x makes servers send the
    /// features of version 9 (players identify as 9.0.0.xxxx).
    pub player_version: Version,
    /// client-guid: the same for every connection of a streaming session,
    /// redirects included ([3.1.4.1.1]). The machine has no randomness:
    /// the application picks it.
    pub guid: Guid,
    /// Ask for the TCP packet-pair bandwidth probe
    /// (Packet-Pair-Packets-Expected, [3.1.3]).
    pub packet_pair: bool,
    /// Ask for Data over UDP to this port first (UDP-Selected and
    /// UDP-Receive-Port); on ReportDisconnectedFunnel the machine falls back
    /// to TCP ([3.1.5.5]).
    pub udp_port: Option<u16>,
    /// The local address and port named in funnelName ([2.2.4.18]; servers
    /// use the TCP peer's address).
    pub local_addr: IpAddr,
    /// The local TCP port named in funnelName.
    pub local_port: u16,
    /// maxBitRate of ConnectFunnel, bit/s.
    pub max_bit_rate: u32,
    /// Least Header timer period; the period is this or 1 s plus the
    /// header's transfer time at the file bit rate, at most 30 s
    /// ([3.1.2], [3.1.5.9.1]).
    pub header_timeout: Duration,
    /// Largest ASF file header accepted, bytes (a bound on what the
    /// application must buffer).
    pub max_header_len: u32,
    /// Refuse what the spec forbids even where servers do it.
    pub strict: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            player_version: Version {
                major: 9,
                minor: 0,
                build: Some((0, 3802)),
            },
            guid: Guid::default(),
            packet_pair: false,
            udp_port: None,
            local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 1037,
            max_bit_rate: 10_000_000,
            header_timeout: Duration::from_secs(5),
            max_header_len: 16 << 20,
            strict: false,
        }
    }
}

/// The spec's State variable ([3.1.1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Setting up: connect, funnel, open, header.
    Init,
    /// The header is in; a play can start.
    Ready,
    /// Data packets flow (or a playlist entry's header is coming).
    Streaming,
    /// The session ended (an error, a redirect or CloseFile).
    Closed,
}

/// What the machine waits for (finer than [`State`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ConnectedEx,
    FunnelInfo,
    Funnel,
    Open,
    Challenged,
    Header,
    Ready,
    Streaming,
    /// After ReportStreamChange: the next entry's header ([3.1.5.19]).
    EntryHeader,
    Closed,
}

/// Where a play starts ([2.2.4.25]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// The beginning of the content.
    Beginning,
    /// A time in milliseconds (the `position` field).
    Time(u64),
    /// An ASF data packet number (the `locationId` field).
    Packet(u32),
    /// A byte offset in the ASF file (the `asfOffset` field).
    Offset(u32),
}

/// A request to stream ([3.1.4.2]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Play {
    /// Where to start.
    pub start: Start,
    /// Where to stop ([`StopAt`], sent as frameOffset).
    pub stop: StopAt,
    /// `Some(rate)`: StartStriding at this rate (−5..5, not 0: fast
    /// forward or rewind, Trick-Mode-Rate 1); `None`: StartPlaying.
    pub rate: Option<f64>,
    /// Fast start: sent when Server-Version ≥ 9 ([3.1.4.2.1]).
    pub acceleration: Option<Acceleration>,
}

impl Default for Play {
    fn default() -> Self {
        Self {
            start: Start::Beginning,
            stop: StopAt::End,
            rate: None,
            acceleration: None,
        }
    }
}

/// The frameOffset value of a stop ([2.2.4.25]).
pub const fn frame_offset(stop: StopAt) -> u32 {
    match stop {
        StopAt::End => 0,
        StopAt::Absolute(ms) => ms & 0x7FFF_FFFF,
        StopAt::Relative(ms) => 0x8000_0000 | (ms & 0x7FFF_FFFF),
    }
}

/// What ReportOpenFile said of the content ([2.2.4.7]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FileInfo {
    /// openFileId (File-ID).
    pub open_file_id: u32,
    /// fileAttributes (`FILE_ATTRIBUTE_MMS_*`).
    pub attributes: u32,
    /// Duration in seconds (0 for live).
    pub duration: f64,
    /// ASF data packet size.
    pub packet_size: u32,
    /// ASF data packets (0 if unknown).
    pub packet_count: u64,
    /// Bit rate, bit/s.
    pub bit_rate: u32,
    /// ASF file header size, bytes.
    pub header_size: u32,
}

impl FileInfo {
    /// The content is a broadcast (live): no seeking, no counts.
    pub fn is_broadcast(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_BROADCAST != 0
    }
    /// The server can seek in it.
    pub fn can_seek(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_CANSEEK != 0
    }
    /// The server can stride it.
    pub fn can_stride(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_CANSTRIDE != 0
    }
}

/// Statistics of the current (or last) play, as CLIENT_LOG reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Media Data packets received.
    pub packets: u32,
    /// Their payload bytes.
    pub bytes: u64,
    /// Data packets missing from the AFFlags sequence.
    pub lost: u32,
    /// Longest run of missing Data packets.
    pub lost_run: u32,
    /// Packets of a superseded play dropped (after a stop or seek).
    pub stale: u32,
    /// When the play was asked for.
    pub started: Instant,
    /// Where it started, ms (0 when from a packet or offset).
    pub start_ms: u32,
}

/// What the application must see or decide; borrows the unit handled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'p> {
    /// ReportConnectedEX arrived ([3.1.5.3]).
    Connected {
        /// Server-Version (None if the server sent none or junk).
        server_version: Option<Version>,
    },
    /// The TCP packet-pair measured the link ([3.1.5.4]): bit/s, `None`
    /// when the two messages arrived in the same microsecond.
    Bandwidth(Option<u64>),
    /// The server refused UDP; the machine asked for TCP instead
    /// ([3.1.5.5]).
    FellBackToTcp,
    /// ReportRedirect ([3.1.5.7]): the session is over; connect again to
    /// `location` (type [`REDIRECT_URL`]) or through the proxy it names
    /// (type [`REDIRECT_PROXY`], empty: no proxy any more).
    Redirect {
        /// RedirectType.
        redirect_type: u16,
        /// wszLocation, parsed.
        location: RedirectLocation<'p>,
    },
    /// SecurityChallenge ([3.1.5.8]): answer with [`Client::respond`] or
    /// give up.
    SecurityChallenge {
        /// The Auth-Scheme it implies.
        scheme: AuthenPackage,
        /// pToken (a Basic realm or an NTLM message).
        token: &'p [u8],
    },
    /// ReportOpenFile ([3.1.5.9]); the header follows.
    Opened(FileInfo),
    /// A piece of the ASF file header, in order ([3.1.5.12]). The first
    /// piece of a header has `first`; the machine is READY after `last`.
    HeaderPiece {
        /// Bytes of the header.
        data: &'p [u8],
        /// The first piece of this header.
        first: bool,
        /// The last piece.
        last: bool,
    },
    /// ReportStreamSwitch ([3.1.5.14]).
    StreamsSwitched,
    /// ReportStartedPlaying / ReportStartStriding: STREAMING.
    Playing,
    /// An ASF data packet ([3.1.5.17]), padding stripped as sent.
    Packet {
        /// LocationId: the packet's number in the content.
        location_id: u32,
        /// The 32-bit Data packet sequence (AFFlags extended).
        sequence: u32,
        /// The ASF data packet.
        data: &'p [u8],
    },
    /// ReportEndOfStream ([3.1.5.18]).
    EndOfStream {
        /// hr: 0 the end, 1 a playlist entry ended (another follows).
        hr: HResult,
        /// The play is over (State is READY); `false`: a playlist's next
        /// entry follows ([`Event::EntryChange`]).
        ready: bool,
        /// It answered this machine's StopPlaying.
        stopped: bool,
    },
    /// ReportStreamChange ([3.1.5.19]): the next playlist entry's header
    /// follows.
    EntryChange {
        /// The entry's packet size.
        packet_size: u32,
        /// Its header size.
        header_size: u32,
        /// Its bit rate.
        bit_rate: u32,
    },
}

/// Why a session ended, or why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientError {
    /// A message or packet did not parse ([3.1.5.2]).
    Malformed(Error),
    /// The server answered with a failure HRESULT.
    Server {
        /// The message that carried it.
        message: MessageId,
        /// Its hr.
        hr: HResult,
    },
    /// A message that the current state does not allow.
    Unexpected {
        /// The message.
        message: MessageId,
        /// What the machine was waiting for.
        waiting_for: &'static str,
    },
    /// A Data packet the current state does not allow.
    UnexpectedData(&'static str),
    /// The Header timer expired more than [`HEADER_RETRY_LIMIT`] times
    /// ([3.1.6.1]).
    HeaderTimeout,
    /// The server closed the connection ([3.1]).
    ConnectionClosed,
    /// The request does not fit the current state (not fatal).
    Misuse(&'static str),
    /// The server asked for something the machine does not do.
    Unsupported(&'static str),
    /// A path, host or token longer than the machine holds.
    TooLong(&'static str),
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        ClientError::Malformed(e)
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Malformed(e) => write!(f, "malformed server message: {e}"),
            ClientError::Server { message, hr } => {
                write!(f, "the server answered {} with {hr}", message.spec_name())
            }
            ClientError::Unexpected {
                message,
                waiting_for,
            } => write!(
                f,
                "unexpected {} while waiting for {waiting_for}",
                message.spec_name()
            ),
            ClientError::UnexpectedData(why) => write!(f, "unexpected data packet: {why}"),
            ClientError::HeaderTimeout => f.write_str("the ASF header did not arrive"),
            ClientError::ConnectionClosed => f.write_str("the server closed the connection"),
            ClientError::Misuse(why) => write!(f, "request refused: {why}"),
            ClientError::Unsupported(what) => write!(f, "not supported: {what}"),
            ClientError::TooLong(what) => write!(f, "{what} is too long"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClientError {}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Write `buf[..n]` to the connection.
    Send(usize),
    /// Nothing to send; call [`Client::handle_timeout`] at this time
    /// unless input comes first.
    Timeout(Instant),
    /// Nothing to send and no timer: wait for input.
    Wait,
    /// Close the connection (after a redirect, CloseFile or an error).
    Close,
}

/// A message to send, decided but not yet serialized.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pending {
    Connect,
    FunnelInfo(u32),
    ConnectFunnel {
        udp: bool,
    },
    OpenFile {
        incarnation: u32,
    },
    SecurityResponse,
    ReadBlock {
        incarnation: u32,
    },
    CancelReadBlock {
        incarnation: u32,
    },
    /// The complete selection (`full`) or the entries that changed.
    StreamSwitch {
        on: StreamSet,
        off: StreamSet,
    },
    StartPlaying(Play, u32),
    StartStriding(Play, u32, f64),
    StopPlaying(u32),
    Logging,
    Pong,
    CloseFile,
}

/// [3.1] One client session on one TCP connection.
#[derive(Debug, Clone)]
pub struct Client {
    config: Config,
    phase: Phase,
    /// Server-URL's path, sent in OpenFile.
    path: String<MAX_PATH_LEN>,
    /// host-param, when connecting through a proxy.
    host: Option<String<MAX_HOST_LEN>>,
    token: Vec<u8, MAX_TOKEN_LEN>,
    cookie: u32,
    pending: Deque<Pending, 8>,
    close_after_send: bool,
    // [3.1.1] abstract data model.
    auth_scheme: AuthenPackage,
    client_id: u32,
    file: Option<FileInfo>,
    funnel_info_count: u8,
    header_incarnation: u32,
    /// Next PlayIncarnation (0x09..=0xFE) — OpenFile, StartPlaying.
    play_incarnation: u32,
    packet_pair_arrival: Option<Instant>,
    packet_pair_expected: u8,
    bandwidth: Option<u64>,
    play_sent: bool,
    play_incarnation_for_stop: u32,
    server_version: Option<Version>,
    stop_sent: bool,
    stream_switch_sent: bool,
    striding_sent: bool,
    trick_mode: bool,
    udp_selected: bool,
    // The header being received.
    reading_header: u32,
    cancelled_header: Option<u32>,
    header_next: u32,
    header_bytes: u64,
    header_deadline: Option<Instant>,
    header_expiries: u8,
    // The play.
    streams: StreamSet,
    selected: StreamSet,
    /// The selection the server has (after the last StreamSwitch).
    switched: Option<StreamSet>,
    current_play: Option<u32>,
    stale_play: Option<u32>,
    /// A play asked for while streaming: sent once the stop is done.
    queued_play: Option<Play>,
    last_sequence: Option<u32>,
    stats: Stats,
    rate: f64,
    close_requested: bool,
    /// TcpMessageHeader seq of the next message.
    out_seq: u16,
    /// One more ReportEndOfStream may come (see on_message).
    stray_end_of_stream: bool,
}

impl Client {
    /// A session that will open `path` (the URL's path as the server knows
    /// it: percent-decoding is the caller's); `host_param` is set when the
    /// connection goes to a proxy ([3.1.4.1.1]). Connect is queued.
    pub fn new(config: Config, path: &str, host_param: Option<&str>) -> Result<Self, ClientError> {
        let mut p = String::new();
        p.push_str(path)
            .map_err(|_| ClientError::TooLong("the path"))?;
        let host = match host_param {
            None => None,
            Some(h) => {
                let mut s = String::new();
                s.push_str(h)
                    .map_err(|_| ClientError::TooLong("the host"))?;
                Some(s)
            }
        };
        let mut c = Client {
            config,
            phase: Phase::ConnectedEx,
            path: p,
            host,
            token: Vec::new(),
            cookie: 0,
            pending: Deque::new(),
            close_after_send: false,
            auth_scheme: AuthenPackage::Ntlm,
            client_id: 0,
            file: None,
            funnel_info_count: 0,
            header_incarnation: 1,
            play_incarnation: 9,
            packet_pair_arrival: None,
            packet_pair_expected: if config.packet_pair { 2 } else { 0 },
            bandwidth: None,
            play_sent: false,
            play_incarnation_for_stop: 0,
            server_version: None,
            stop_sent: false,
            stream_switch_sent: false,
            striding_sent: false,
            trick_mode: false,
            udp_selected: config.udp_port.is_some(),
            reading_header: 0,
            cancelled_header: None,
            header_next: 0,
            header_bytes: 0,
            header_deadline: None,
            header_expiries: 0,
            streams: StreamSet::EMPTY,
            selected: StreamSet::EMPTY,
            switched: None,
            current_play: None,
            stale_play: None,
            queued_play: None,
            last_sequence: None,
            stats: Stats::default(),
            rate: 1.0,
            close_requested: false,
            out_seq: 0,
            stray_end_of_stream: false,
        };
        c.push(Pending::Connect)?;
        Ok(c)
    }

    // ----- accessors ---------------------------------------------------

    /// The State variable.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::ConnectedEx
            | Phase::FunnelInfo
            | Phase::Funnel
            | Phase::Open
            | Phase::Challenged
            | Phase::Header => State::Init,
            Phase::Ready => State::Ready,
            Phase::Streaming | Phase::EntryHeader => State::Streaming,
            Phase::Closed => State::Closed,
        }
    }
    /// Server-Version.
    pub fn server_version(&self) -> Option<Version> {
        self.server_version
    }
    /// Auth-Scheme.
    pub fn auth_scheme(&self) -> AuthenPackage {
        self.auth_scheme
    }
    /// Client-ID (nCubs of ReportFunnelInfo).
    pub fn client_id(&self) -> u32 {
        self.client_id
    }
    /// What ReportOpenFile said (or the entry's numbers after a
    /// ReportStreamChange).
    pub fn file(&self) -> Option<FileInfo> {
        self.file
    }
    /// The packet-pair bandwidth, bit/s.
    pub fn bandwidth(&self) -> Option<u64> {
        self.bandwidth
    }
    /// Trick-Mode-Rate: the current or last play is a stride
    /// ([3.1.4.4], [3.1.4.6] make it available to the higher layer).
    pub fn trick_mode(&self) -> bool {
        self.trick_mode
    }
    /// Whether Data goes over UDP (UDP-Selected).
    pub fn udp_selected(&self) -> bool {
        self.udp_selected
    }
    /// Statistics of the current or last play.
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// The session's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- higher-layer requests ([3.1.4]) -----------------------------

    /// The streams of the header (all of them); call once the header is in,
    /// before [`Client::select`]. Every stream is selected until then.
    pub fn set_streams(&mut self, all: StreamSet) {
        self.streams = all;
        self.selected = all;
        self.switched = None;
    }

    /// Selects streams: kept for the next play in READY (sent as the
    /// complete selection, [3.1.4.2]); while streaming, the changed entries
    /// are sent at once ([3.1.4.3]).
    pub fn select(&mut self, on: StreamSet) -> Result<(), ClientError> {
        let on = StreamSet(on.0 & self.streams.0);
        match self.phase {
            Phase::Ready => {
                self.selected = on;
                Ok(())
            }
            Phase::Streaming if !self.stop_sent => {
                if self.stream_switch_sent {
                    return Err(ClientError::Misuse("a StreamSwitch is outstanding"));
                }
                let was = self.switched.unwrap_or(self.streams);
                let turn_on = StreamSet(on.0 & !was.0);
                let turn_off = StreamSet(was.0 & !on.0);
                self.selected = on;
                if turn_on.is_empty() && turn_off.is_empty() {
                    return Ok(());
                }
                self.push(Pending::StreamSwitch {
                    on: turn_on,
                    off: turn_off,
                })?;
                self.switched = Some(on);
                self.stream_switch_sent = true;
                Ok(())
            }
            _ => Err(ClientError::Misuse("streams change in READY or STREAMING")),
        }
    }

    /// Starts streaming ([3.1.4.2]); while streaming, stops first and then
    /// starts at the new position ([3.1.4.6]).
    pub fn play(&mut self, now: Instant, play: &Play) -> Result<(), ClientError> {
        if let Some(rate) = play.rate
            && (!(-5.0..=5.0).contains(&rate) || rate == 0.0)
        {
            return Err(ClientError::Misuse("a stride rate is in -5..=5 and not 0"));
        }
        match self.phase {
            Phase::Ready => self.start(now, play),
            Phase::Streaming => {
                if !self.stop_sent {
                    self.stop(now)?;
                }
                self.queued_play = Some(*play);
                Ok(())
            }
            _ => Err(ClientError::Misuse("play needs the header (READY)")),
        }
    }

    fn start(&mut self, now: Instant, play: &Play) -> Result<(), ClientError> {
        if self.switched != Some(self.selected) && !self.streams.is_empty() {
            // [3.1.4.2] the complete selection state.
            self.push(Pending::StreamSwitch {
                on: self.selected,
                off: StreamSet(self.streams.0 & !self.selected.0),
            })?;
            self.switched = Some(self.selected);
            self.stream_switch_sent = true;
        }
        let incarnation = self.next_play_incarnation();
        self.trick_mode = play.rate.is_some();
        match play.rate {
            Some(rate) => {
                self.push(Pending::StartStriding(*play, incarnation, rate))?;
                self.striding_sent = true;
                self.rate = rate;
            }
            None => {
                self.push(Pending::StartPlaying(*play, incarnation))?;
                self.play_sent = true;
                self.rate = 1.0;
            }
        }
        self.play_incarnation_for_stop = incarnation;
        self.stale_play = self.current_play.or(self.stale_play);
        self.current_play = Some(incarnation);
        self.last_sequence = None;
        self.stats = Stats {
            started: now,
            start_ms: match play.start {
                Start::Time(ms) => ms.min(u32::MAX as u64) as u32,
                _ => 0,
            },
            ..Stats::default()
        };
        Ok(())
    }

    /// Stops streaming: StopPlaying and Logging ([3.1.4.5]). The play is
    /// over at [`Event::EndOfStream`] with `stopped`.
    pub fn stop(&mut self, _now: Instant) -> Result<(), ClientError> {
        if self.phase != Phase::Streaming {
            return Err(ClientError::Misuse("stop while STREAMING"));
        }
        if self.stop_sent {
            return Ok(());
        }
        self.push(Pending::StopPlaying(self.play_incarnation_for_stop))?;
        self.push(Pending::Logging)?;
        self.stop_sent = true;
        self.queued_play = None;
        Ok(())
    }

    /// Answers a [`Event::SecurityChallenge`] with authentication data
    /// for the Auth-Scheme ([3.1.5.8]).
    pub fn respond(&mut self, token: &[u8]) -> Result<(), ClientError> {
        if self.phase != Phase::Challenged {
            return Err(ClientError::Misuse("respond without a SecurityChallenge"));
        }
        self.token.clear();
        self.token
            .extend_from_slice(token)
            .map_err(|_| ClientError::TooLong("the security token"))?;
        self.push(Pending::SecurityResponse)?;
        self.phase = Phase::Open;
        Ok(())
    }

    /// Ends the session: stops a play first, then CloseFile and close
    /// ([3.1.4.8]).
    pub fn close(&mut self, now: Instant) -> Result<(), ClientError> {
        match self.phase {
            Phase::Closed => Ok(()),
            Phase::Streaming | Phase::EntryHeader => {
                self.queued_play = None;
                self.close_requested = true;
                if self.phase == Phase::Streaming && !self.stop_sent {
                    self.stop(now)?;
                }
                Ok(())
            }
            Phase::Ready => {
                self.push(Pending::CloseFile)?;
                self.close_after_send = true;
                Ok(())
            }
            _ => {
                // Nothing open yet: just close.
                self.phase = Phase::Closed;
                Ok(())
            }
        }
    }

    /// The connection closed under the machine: the session is over.
    pub fn connection_closed(&mut self) -> ClientError {
        self.phase = Phase::Closed;
        ClientError::ConnectionClosed
    }

    // ----- input -------------------------------------------------------

    /// Handles one unit cut by [`frame`]: a TcpMessageHeader packet or a
    /// Data packet, told apart by sessionId ([3.1.5.2]). An `Err` ends
    /// the session (except [`ClientError::Misuse`], never returned here).
    pub fn handle<'p>(
        &mut self,
        now: Instant,
        unit: &'p [u8],
    ) -> Result<Option<Event<'p>>, ClientError> {
        if self.phase == Phase::Closed {
            return Ok(None);
        }
        let is_command = unit.len() >= 8 && unit[4..8] == SESSION_ID.to_le_bytes();
        let r = if is_command {
            self.handle_command(now, unit)
        } else {
            self.handle_data(now, unit)
        };
        if r.is_err() {
            self.phase = Phase::Closed;
        }
        r
    }

    fn handle_command<'p>(
        &mut self,
        now: Instant,
        packet: &'p [u8],
    ) -> Result<Option<Event<'p>>, ClientError> {
        if self.config.strict {
            TcpMessageHeaderRepr::check_strict(packet)?;
        }
        let (_, mut messages) = parse_packet(packet)?;
        let message = messages
            .next()
            .ok_or(Error::invalid("TcpMessageHeader", "no message"))??;
        if self.config.strict {
            message.check_strict()?;
            if messages.next().is_some() {
                return Err(Error::invalid("TcpMessageHeader", "more than one message").into());
            }
        }
        self.on_message(now, message)
    }

    fn on_message<'p>(
        &mut self,
        now: Instant,
        message: Message<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        use Message as M;
        let id = message.id();
        let fail = |hr: HResult| -> Result<(), ClientError> {
            if hr.is_failure() {
                Err(ClientError::Server { message: id, hr })
            } else {
                Ok(())
            }
        };
        match (self.phase, message) {
            // [3.1.5.13] Ping → Pong, in any state.
            (_, M::Ping(_)) => {
                self.push(Pending::Pong)?;
                Ok(None)
            }
            // [3.1.5.3]
            (Phase::ConnectedEx, M::ReportConnectedEx(r)) => {
                fail(r.hr)?;
                self.server_version = r.server_version_info.and_then(|v| Version::parse(&v).ok());
                if let Some(a) = r.authen_package.filter(|a| !a.is_empty()) {
                    self.auth_scheme = match AuthenPackage::parse(&a) {
                        Ok(s) => s,
                        Err(e) if self.config.strict => return Err(e.into()),
                        Err(_) => self.auth_scheme,
                    };
                }
                let pair = self.packet_pair_expected > 0
                    && r.play_incarnation == MMS_USE_PACKET_PAIR
                    && !self.udp_selected;
                if !pair {
                    self.packet_pair_expected = 0;
                }
                self.push(Pending::FunnelInfo(if pair {
                    MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
                } else {
                    MMS_DISABLE_PACKET_PAIR
                }))?;
                self.phase = Phase::FunnelInfo;
                Ok(Some(Event::Connected {
                    server_version: self.server_version,
                }))
            }
            // [3.1.5.4]
            (Phase::FunnelInfo, M::ReportFunnelInfo(r)) => {
                fail(r.hr)?;
                if self.funnel_info_count == 3 {
                    return Err(ClientError::Unexpected {
                        message: id,
                        waiting_for: "ConnectFunnel after three ReportFunnelInfo",
                    });
                }
                self.funnel_info_count += 1;
                self.client_id = r.n_cubs;
                let pair = r.play_incarnation == MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
                    && self.packet_pair_expected > 0;
                if pair && self.funnel_info_count == 1 {
                    self.packet_pair_arrival = Some(now);
                    return Ok(None);
                }
                if pair && self.funnel_info_count == 2 {
                    let bits = (TCP_HEADER_LEN + r.buffer_len()) as u64 * 8;
                    let dt = self.packet_pair_arrival.map_or(0, |t| (now - t).0);
                    self.bandwidth = (dt > 0).then(|| bits.saturating_mul(1_000_000) / dt);
                    return Ok(Some(Event::Bandwidth(self.bandwidth)));
                }
                self.push(Pending::ConnectFunnel {
                    udp: self.udp_selected,
                })?;
                self.phase = Phase::Funnel;
                Ok(None)
            }
            // [3.1.5.5] fall back to the other transport once.
            (Phase::Funnel, M::ReportDisconnectedFunnel(r)) => {
                if !self.udp_selected {
                    return Err(ClientError::Server {
                        message: id,
                        hr: if r.hr.is_failure() {
                            r.hr
                        } else {
                            HResult(0x8000_4005)
                        },
                    });
                }
                self.udp_selected = false;
                self.push(Pending::ConnectFunnel { udp: false })?;
                Ok(Some(Event::FellBackToTcp))
            }
            // [3.1.5.6]
            (Phase::Funnel, M::ReportConnectedFunnel(r)) => {
                fail(r.hr)?;
                if self.udp_selected {
                    return Err(ClientError::Unsupported("Data packets over UDP"));
                }
                let incarnation = self.next_play_incarnation();
                self.push(Pending::OpenFile { incarnation })?;
                self.phase = Phase::Open;
                Ok(None)
            }
            // [3.1.5.7]
            (Phase::Open, M::ReportRedirect(r)) => {
                fail(r.hr)?;
                let location = RedirectLocation::parse(&r.location)?;
                if r.redirect_type != REDIRECT_URL && r.redirect_type != REDIRECT_PROXY {
                    return Err(Error::invalid("RedirectType", "neither 1 nor 2").into());
                }
                if r.redirect_type == REDIRECT_URL && location == RedirectLocation::Empty {
                    return Err(Error::invalid("wszLocation", "empty URL redirect").into());
                }
                self.phase = Phase::Closed;
                Ok(Some(Event::Redirect {
                    redirect_type: r.redirect_type,
                    location,
                }))
            }
            // [3.1.5.8]
            (Phase::Open, M::SecurityChallenge(r)) => {
                let zero = r.token.len() >= 2 && r.token[0] == 0 && r.token[1] == 0;
                let v9 = self.server_version.is_some_and(|v| v.major >= 9);
                if v9 {
                    self.auth_scheme = if zero {
                        AuthenPackage::Ntlm
                    } else {
                        AuthenPackage::Basic
                    };
                } else if !zero && !r.token.is_empty() {
                    self.auth_scheme = AuthenPackage::Basic;
                }
                self.cookie = r.cookie;
                self.phase = Phase::Challenged;
                Ok(Some(Event::SecurityChallenge {
                    scheme: self.auth_scheme,
                    token: r.token,
                }))
            }
            // [3.1.5.9]
            (Phase::Open, M::ReportOpenFile(r)) => {
                fail(r.hr)?;
                let info = FileInfo {
                    open_file_id: r.open_file_id,
                    attributes: r.file_attributes,
                    duration: if r.file_duration.is_finite() {
                        r.file_duration.max(0.0)
                    } else {
                        0.0
                    },
                    packet_size: r.file_packet_size,
                    packet_count: r.file_packet_count,
                    bit_rate: r.file_bit_rate,
                    header_size: r.file_header_size,
                };
                if info.header_size > self.config.max_header_len {
                    return Err(Error::invalid("fileHeaderSize", "larger than the limit").into());
                }
                self.file = Some(info);
                self.read_block(now)?;
                Ok(Some(Event::Opened(info)))
            }
            // [3.1.5.10] on TCP the header pieces follow (in any order with
            // the report: tolerated).
            (Phase::Header | Phase::Ready, M::ReportReadBlock(r)) => {
                fail(r.hr)?;
                Ok(None)
            }
            // [3.1.5.14]
            (Phase::Ready | Phase::Streaming, M::ReportStreamSwitch(r))
                if self.stream_switch_sent =>
            {
                fail(r.hr)?;
                self.stream_switch_sent = false;
                Ok(Some(Event::StreamsSwitched))
            }
            // [3.1.5.15]
            (Phase::Ready, M::ReportStartedPlaying(r)) if self.play_sent => {
                fail(r.hr)?;
                self.play_sent = false;
                self.phase = Phase::Streaming;
                self.stray_end_of_stream = false;
                Ok(Some(Event::Playing))
            }
            // [3.1.5.16]
            (Phase::Ready, M::ReportStartStriding(r)) if self.striding_sent => {
                fail(r.hr)?;
                self.striding_sent = false;
                self.phase = Phase::Streaming;
                self.stray_end_of_stream = false;
                Ok(Some(Event::Playing))
            }
            // [3.1.5.18]
            (Phase::Streaming, M::ReportEndOfStream(r)) => {
                fail(r.hr)?;
                let stopped = self.stop_sent;
                let mut ready = stopped;
                if !stopped {
                    self.push(Pending::Logging)?;
                    let v9 = self.server_version.is_some_and(|v| v.major >= 9);
                    let broadcast = self.file.is_some_and(|f| f.is_broadcast());
                    ready = if v9 {
                        r.hr.0 != 1
                    } else {
                        r.hr.0 != 0 || !broadcast
                    };
                }
                // A StopPlaying sent after the server's own end may be
                // answered once more.
                self.stray_end_of_stream = stopped;
                self.stop_sent = false;
                if ready {
                    self.phase = Phase::Ready;
                    self.stale_play = self.current_play.take().or(self.stale_play);
                    if self.close_requested {
                        self.push(Pending::CloseFile)?;
                        self.close_after_send = true;
                    } else if let Some(p) = self.queued_play.take() {
                        self.start(now, &p)?;
                    }
                }
                Ok(Some(Event::EndOfStream {
                    hr: r.hr,
                    ready,
                    stopped,
                }))
            }
            // The server's answer to a StopPlaying that crossed its own
            // end of stream (it answers a StopPlaying in READY too): the
            // play is already over.
            (Phase::Ready, M::ReportEndOfStream(r)) if self.stray_end_of_stream => {
                fail(r.hr)?;
                self.stray_end_of_stream = false;
                Ok(None)
            }
            // [3.1.5.19]
            (Phase::Streaming, M::ReportStreamChange(r)) if !self.stop_sent => {
                fail(r.hr)?;
                if self.config.strict && r.tcp_hdr_incarnation != TCP_HDR_INCARNATION {
                    return Err(Error::invalid("dwTcpHdrIncarnation", "must be 0xFF").into());
                }
                if r.header_size > self.config.max_header_len {
                    return Err(Error::invalid("dwHeaderSize", "larger than the limit").into());
                }
                if let Some(f) = self.file.as_mut() {
                    f.packet_size = r.packet_size;
                    f.header_size = r.header_size;
                    f.bit_rate = r.bit_rate;
                }
                self.stale_play = self.current_play.take().or(self.stale_play);
                self.phase = Phase::EntryHeader;
                self.reading_header = TCP_HDR_INCARNATION;
                self.header_next = 0;
                self.header_bytes = 0;
                Ok(Some(Event::EntryChange {
                    packet_size: r.packet_size,
                    header_size: r.header_size,
                    bit_rate: r.bit_rate,
                }))
            }
            (phase, m) => Err(ClientError::Unexpected {
                message: m.id(),
                waiting_for: phase.waiting_for(),
            }),
        }
    }

    fn handle_data<'p>(
        &mut self,
        now: Instant,
        unit: &'p [u8],
    ) -> Result<Option<Event<'p>>, ClientError> {
        let view = DataPacket::new_checked(unit)?;
        let d = DataPacketRepr::parse(&view)?;
        if self.config.strict {
            d.check_strict()?;
        }
        match self.phase {
            Phase::Header | Phase::EntryHeader => self.header_piece(now, &d),
            Phase::Streaming
                if Some(d.play_incarnation as u32) == self.current_play.map(|p| p & 0xFF) =>
            {
                if self.stop_sent {
                    self.stats.stale += 1;
                    return Ok(None);
                }
                let seq = match self.last_sequence {
                    None => d.af_flags as u32,
                    Some(prev) => {
                        let s = extend_sequence(prev, d.af_flags);
                        let gap = s.wrapping_sub(prev).wrapping_sub(1);
                        if gap > 0 && gap < 0x80 {
                            self.stats.lost = self.stats.lost.saturating_add(gap);
                            self.stats.lost_run = self.stats.lost_run.max(gap);
                        }
                        s
                    }
                };
                self.last_sequence = Some(seq);
                self.stats.packets = self.stats.packets.saturating_add(1);
                self.stats.bytes = self.stats.bytes.saturating_add(d.payload.len() as u64);
                Ok(Some(Event::Packet {
                    location_id: d.location_id,
                    sequence: seq,
                    data: d.payload,
                }))
            }
            // A superseded play's packets still in flight.
            Phase::Streaming | Phase::Ready
                if self
                    .stale_play
                    .is_some_and(|p| p & 0xFF == d.play_incarnation as u32) =>
            {
                self.stats.stale += 1;
                Ok(None)
            }
            Phase::Ready if self.stop_sent || self.play_sent || self.striding_sent => {
                Err(ClientError::UnexpectedData("before ReportStartedPlaying"))
            }
            Phase::Streaming => Err(ClientError::UnexpectedData(
                "of an unknown play incarnation",
            )),
            Phase::Ready => Err(ClientError::UnexpectedData("while READY")),
            _ => Err(ClientError::UnexpectedData(
                "before the header was asked for",
            )),
        }
    }

    fn header_piece<'p>(
        &mut self,
        _now: Instant,
        d: &DataPacketRepr<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        let expected = (self.reading_header & 0xFF) as u8;
        let kind = d.kind(Some(expected))?;
        match kind {
            DataKind::PacketPair { .. } => Err(ClientError::UnexpectedData(
                "a UDP packet-pair probe on TCP",
            )),
            DataKind::Media { .. }
                if self
                    .cancelled_header
                    .is_some_and(|c| c & 0xFF == d.play_incarnation as u32) =>
            {
                // A cancelled ReadBlock's piece ([3.1.6.1]).
                Ok(None)
            }
            DataKind::Media { .. }
                if self
                    .stale_play
                    .is_some_and(|p| p & 0xFF == d.play_incarnation as u32) =>
            {
                self.stats.stale += 1;
                Ok(None)
            }
            DataKind::Media { .. } => Err(ClientError::UnexpectedData(
                "not a piece of the header asked for (wrong incarnation)",
            )),
            DataKind::HeaderPiece { index, last } => {
                // [3.1.5.12] pieces in LocationId order; the first carries
                // AFFlags 0x04 or 0x0C.
                if index != self.header_next {
                    return Err(ClientError::UnexpectedData("header piece out of order"));
                }
                let first = index == 0;
                self.header_next += 1;
                self.header_bytes += d.payload.len() as u64;
                if self.header_bytes > self.config.max_header_len as u64 {
                    return Err(Error::invalid("header", "longer than the limit").into());
                }
                if last {
                    let want = self.file.map_or(0, |f| f.header_size) as u64;
                    if self.config.strict && want != 0 && want != self.header_bytes {
                        return Err(Error::invalid("header", "not fileHeaderSize long").into());
                    }
                    self.phase = Phase::Ready;
                    self.header_deadline = None;
                    self.header_expiries = 0;
                    self.cancelled_header = None;
                }
                Ok(Some(Event::HeaderPiece {
                    data: d.payload,
                    first,
                    last,
                }))
            }
        }
    }

    /// The Header timer ([3.1.6.1]): CancelReadBlock and ReadBlock again,
    /// at most [`HEADER_RETRY_LIMIT`] times.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientError> {
        let Some(deadline) = self.header_deadline else {
            return Ok(());
        };
        if now < deadline || self.phase != Phase::Header {
            return Ok(());
        }
        self.header_expiries += 1;
        if self.header_expiries > HEADER_RETRY_LIMIT {
            self.phase = Phase::Closed;
            return Err(ClientError::HeaderTimeout);
        }
        self.push(Pending::CancelReadBlock {
            incarnation: self.reading_header,
        })?;
        self.cancelled_header = Some(self.reading_header);
        if self.packet_pair_expected > 0 {
            self.packet_pair_expected = 2;
        }
        self.read_block(now)
    }

    /// [3.1.5.9.1] ReadBlock with the next HeaderIncarnation, and the
    /// Header timer.
    fn read_block(&mut self, now: Instant) -> Result<(), ClientError> {
        let incarnation = self.header_incarnation;
        self.header_incarnation = if incarnation >= 8 { 1 } else { incarnation + 1 };
        self.push(Pending::ReadBlock { incarnation })?;
        self.reading_header = incarnation;
        self.header_next = 0;
        self.header_bytes = 0;
        self.phase = Phase::Header;
        let f = self.file.unwrap_or_default();
        let transfer_us = if f.bit_rate > 0 {
            (f.header_size as u64 * 8).saturating_mul(1_000_000) / f.bit_rate as u64
        } else {
            0
        };
        let period = Duration(
            (1_000_000 + transfer_us)
                .max(self.config.header_timeout.0)
                .clamp(1_000_000, 30_000_000),
        );
        self.header_deadline = Some(now + period);
        Ok(())
    }

    fn next_play_incarnation(&mut self) -> u32 {
        let i = self.play_incarnation;
        self.play_incarnation = if i >= 0xFE { 9 } else { i + 1 };
        i
    }

    fn push(&mut self, p: Pending) -> Result<(), ClientError> {
        self.pending
            .push_back(p)
            .map_err(|_| ClientError::Misuse("too many requests queued"))
    }

    // ----- output ------------------------------------------------------

    /// The next thing to do: a message serialized into `buf` (at least
    /// [`OUTPUT_BUF_LEN`] bytes), a timer, waiting, or closing.
    pub fn poll_output(&mut self, now: Instant, buf: &mut [u8]) -> Result<Output, ClientError> {
        if let Some(p) = self.pending.pop_front() {
            let n = self.emit(now, p, buf)?;
            if self.pending.is_empty() && self.close_after_send {
                self.phase = Phase::Closed;
            }
            return Ok(Output::Send(n));
        }
        if self.phase == Phase::Closed {
            return Ok(Output::Close);
        }
        Ok(match self.header_deadline {
            Some(t) if self.phase == Phase::Header => Output::Timeout(t),
            _ => Output::Wait,
        })
    }

    fn emit(&mut self, now: Instant, p: Pending, buf: &mut [u8]) -> Result<usize, ClientError> {
        let file_id = self.file.map_or(1, |f| f.open_file_id);
        let mut text: String<512> = String::new();
        let mut entries = [StreamSwitchEntry::default(); 128];
        let log;
        let message: Message<'_> = match p {
            Pending::Connect => {
                let v = self.config.player_version;
                write!(text, "NSPlayer/{v}; {{{}}}", self.config.guid)
                    .map_err(|_| ClientError::TooLong("subscriberName"))?;
                if let Some(h) = &self.host {
                    write!(text, "; Host: {h}").map_err(|_| ClientError::TooLong("the host"))?;
                }
                ConnectRepr::new(
                    if self.packet_pair_expected > 0 {
                        MMS_USE_PACKET_PAIR
                    } else {
                        MMS_DISABLE_PACKET_PAIR
                    },
                    Utf16Str::Str(&text),
                )
                .into()
            }
            Pending::FunnelInfo(v) => FunnelInfoRepr {
                play_incarnation: v,
            }
            .into(),
            Pending::ConnectFunnel { udp } => {
                let (proto, port) = match (udp, self.config.udp_port) {
                    (true, Some(p)) => ("UDP", p),
                    _ => ("TCP", self.config.local_port),
                };
                write!(text, "\\\\{}\\{proto}\\{port}", self.config.local_addr)
                    .map_err(|_| ClientError::TooLong("funnelName"))?;
                ConnectFunnelRepr {
                    play_incarnation: 0,
                    max_block_bytes: 0xFFFF_FFFF,
                    max_funnel_bytes: 0,
                    max_bit_rate: self.config.max_bit_rate,
                    funnel_mode: 2,
                    funnel_name: Utf16Str::Str(&text),
                }
                .into()
            }
            Pending::OpenFile { incarnation } => OpenFileRepr {
                play_incarnation: incarnation,
                spare: 0,
                file_name: Utf16Str::Str(&self.path),
                token_data: &[],
            }
            .into(),
            Pending::SecurityResponse => SecurityResponseRepr {
                play_incarnation: self.play_incarnation.wrapping_sub(1).max(9),
                cookie: self.cookie,
                token: &self.token,
            }
            .into(),
            Pending::ReadBlock { incarnation } => ReadBlockRepr::new(file_id, incarnation).into(),
            Pending::CancelReadBlock { incarnation } => CancelReadBlockRepr {
                play_incarnation: incarnation,
            }
            .into(),
            Pending::StreamSwitch { on, off } => {
                // [2.2.4.28] on: (0xFFFF, n, 0); off: (n, 0xFFFF, 2) as
                // [3.1.4.2] words it ("wDstStreamNumber 0xFFFF").
                let mut k = 0;
                for n in on.iter() {
                    entries[k] = StreamSwitchEntry {
                        src_stream_number: NO_STREAM,
                        dst_stream_number: n as u16,
                        thinning_level: 0,
                    };
                    k += 1;
                }
                for n in off.iter() {
                    entries[k] = StreamSwitchEntry {
                        src_stream_number: n as u16,
                        dst_stream_number: NO_STREAM,
                        thinning_level: 2,
                    };
                    k += 1;
                }
                // `on` and `off` are disjoint sets of 1..=127: k <= 127.
                StreamSwitchRepr {
                    entries: StreamSwitchEntries::Slice(&entries[..k]),
                }
                .into()
            }
            Pending::StartPlaying(play, incarnation) => {
                let (position, asf_offset, location_id) = start_fields(play.start);
                let v9 = self.server_version.is_some_and(|v| v.major >= 9);
                StartPlayingRepr {
                    open_file_id: file_id,
                    padding: 0,
                    position,
                    asf_offset,
                    location_id,
                    frame_offset: frame_offset(play.stop),
                    play_incarnation: incarnation,
                    acceleration: play.acceleration.filter(|_| v9),
                }
                .into()
            }
            Pending::StartStriding(play, incarnation, rate) => {
                let (position, asf_offset, location_id) = start_fields(play.start);
                StartStridingRepr {
                    open_file_id: file_id,
                    padding: 0,
                    position,
                    asf_offset,
                    location_id,
                    frame_offset: frame_offset(play.stop),
                    play_incarnation: incarnation,
                    rate,
                }
                .into()
            }
            Pending::StopPlaying(incarnation) => StopPlayingRepr {
                open_file_id: file_id,
                play_incarnation: incarnation,
            }
            .into(),
            Pending::Logging => {
                log = self.client_log(now, &mut text)?;
                LoggingRepr::Log(&log).into()
            }
            Pending::Pong => PongRepr {
                dw_param1: 0,
                dw_param2: 0,
            }
            .into(),
            Pending::CloseFile => CloseFileRepr {
                play_incarnation: 1,
                open_file_id: file_id,
            }
            .into(),
        };
        let n = TcpMessageHeaderRepr {
            seq: self.out_seq,
            time_sent: 0,
        }
        .emit_packet(&message, buf)?;
        self.out_seq = self.out_seq.wrapping_add(1);
        Ok(n)
    }

    /// [2.2.1.1] CLIENT_LOG of the current play; `text` holds its strings.
    fn client_log<'t>(
        &self,
        now: Instant,
        text: &'t mut String<512>,
    ) -> Result<ClientLogRepr<'t>, ClientError> {
        let s = self.stats;
        let f = self.file.unwrap_or_default();
        let played = now - s.started;
        let played_ms = (played.0 / 1000).min(u32::MAX as u64) as u32;
        let v = self.config.player_version;
        let (b1, b2) = v.build.unwrap_or((0, 0));
        // The GUID, then the path (cut at 259 bytes on a char boundary).
        let _ = write!(text, "{{{}}}", self.config.guid);
        let guid_end = text.len();
        let mut cut = self.path.len().min(259);
        while !self.path.is_char_boundary(cut) {
            cut -= 1;
        }
        // text has 512 bytes: 38 of GUID + at most 259 of path fit.
        let _ = text.push_str(&self.path[..cut]);
        let (guid, path) = text.split_at(guid_end);
        let file_size = f.header_size as u64 + f.packet_count * f.packet_size as u64;
        Ok(ClientLogRepr {
            info: ClientLogInfoRepr {
                strings: ClientLogInfoStrings {
                    url: path.as_bytes(),
                    unique_pid: guid.as_bytes(),
                    host_exe: b"mms-rs",
                    ..Default::default()
                },
                client_version: (v.major as u64) << 48
                    | (v.minor as u64) << 32
                    | (b1 as u64) << 16
                    | b2 as u64,
                file_duration_ms: (f.duration * 1000.0) as u32,
                file_size: if f.is_broadcast() { 0 } else { file_size },
                avg_bandwidth_bps: s
                    .bytes
                    .saturating_mul(8_000_000)
                    .checked_div(played.0)
                    .map_or(0, |b| b.min(u32::MAX as u64) as u32),
                start_time_ms: s.start_ms,
                played_ms,
                rate: self.rate as i16,
                bytes_received: s.bytes,
                packets_received: s.packets,
                packets_lost_client: s.lost,
                min_reception_quality: if s.packets + s.lost == 0 {
                    100
                } else {
                    (s.packets as u64 * 100 / (s.packets as u64 + s.lost as u64)) as u32
                },
                ..Default::default()
            },
            strings: ClientLogStrings {
                proto: b"mms",
                transport: if self.udp_selected { b"UDP" } else { b"TCP" },
                ..Default::default()
            },
            source_id: f.open_file_id,
            ip_address: 0xFFFF_FFFF,
            packets_lost_net: s.lost,
            packets_lost_cont_net: s.lost_run,
            ..Default::default()
        })
    }
}

/// position, asfOffset and locationId of a start ([2.2.4.25]): the unused
/// ones are 0xFFFFFFFF (position: [`POSITION_UNSPECIFIED`]).
fn start_fields(start: Start) -> (f64, u32, u32) {
    match start {
        Start::Beginning => (0.0, u32::MAX, u32::MAX),
        Start::Time(ms) => (ms as f64 / 1000.0, u32::MAX, u32::MAX),
        Start::Packet(n) => (POSITION_UNSPECIFIED, u32::MAX, n),
        Start::Offset(o) => (POSITION_UNSPECIFIED, o, u32::MAX),
    }
}

impl Phase {
    fn waiting_for(self) -> &'static str {
        match self {
            Phase::ConnectedEx => "ReportConnectedEX",
            Phase::FunnelInfo => "ReportFunnelInfo",
            Phase::Funnel => "ReportConnectedFunnel",
            Phase::Open => "ReportOpenFile, ReportRedirect or SecurityChallenge",
            Phase::Challenged => "the application's SecurityResponse",
            Phase::Header => "the ASF header",
            Phase::Ready => "a request (READY)",
            Phase::Streaming => "Data packets or ReportEndOfStream",
            Phase::EntryHeader => "the playlist entry's header",
            Phase::Closed => "nothing (closed)",
        }
    }
}
