//! [3.2] The server machine: one per TCP connection, sans-IO.
//!
//! **Status.** Implemented: initialization and Client-ID ([3.2.3]);
//! Connect → ReportConnectedEX ([3.2.5.3]); FunnelInfo → ReportFunnelInfo
//! ([3.2.5.4], with the three-message TCP packet-pair); ConnectFunnel → ReportConnectedFunnel
//! for TCP, ReportDisconnectedFunnel for UDP until UDP delivery lands
//! ([3.2.5.5]); OpenFile → [`Event::OpenRequest`], answered with
//! [`Session::accept_open`] / [`Session::reject_open`] → ReportOpenFile
//! ([3.2.5.6]); ReadBlock → ReportReadBlock and the ASF file header pulled
//! from the application and paced at the content bit rate ([3.2.5.8],
//! [3.2.5.8.1]); CancelReadBlock ([3.2.5.9]); StreamSwitch with thinning
//! and new streams starting at a key frame ([3.2.5.10]); StartPlaying from
//! a packet, a byte offset or a time (mapped by the application,
//! [`Event::SeekRequest`]), data packets pulled, filtered, padding-stripped
//! and paced by their Send Time ([3.2.5.11], [3.2.5.11.1]); a new
//! StartPlaying while streaming is a seek (libmms); StopPlaying and end of
//! content → ReportEndOfStream ([3.2.5.14], [3.2.4.1]); Logging
//! ([3.2.5.15]); Pong ([3.2.5.16]); CloseFile ([3.2.5.17]); KeepAlive Ping
//! once playing, Idle-Timeout, and a linger after EndOfStream ([3.2.2],
//! interop-notes); StartStriding at rates −5..5, key frames only, reverse
//! with decreasing LocationId ([3.2.5.12]); the frameOffset stop
//! ([2.2.4.25], against Send Times); server-side playlists ([3.2.4.2]).
//! A replaced stream goes on until its replacement's first key frame
//! ([3.2.5.10]); fast start from StartPlaying's acceleration fields;
//! redirects ([`Session::redirect_open`]). Not yet: UDP packet-pair,
//! UDP delivery and authentication ([`ServerError::Unsupported`]
//! for the messages).
//!
//! # Run loop
//!
//! ```text
//! session.handle_tcp(now, &packet)?      // one framed TcpMessageHeader packet -> events
//! session.handle_timeout(now)            // when the deadline of Output::Timeout passed
//! loop { match session.poll_output(now, &mut buf) {
//!     Output::Send(n) => write buf[..n],
//!     Output::ReadHeader { offset, len } => read them, then
//!         n = session.header_piece(now, &bytes, &mut buf)?; write buf[..n],
//!     Output::ReadPacket { number } => read packet `number`, then
//!         match session.data_packet(now, number, &bytes, &mut buf)? {
//!             Data::Send(n) => write buf[..n],
//!             Data::NotBefore(t) => keep the bytes, offer them again at t
//!                 (handling input and timers meanwhile),
//!             Data::Skipped | Data::Cancelled => {} },
//!     Output::Timeout(t) => arm a timer for t; break,
//!     Output::Wait => break,
//!     Output::Close => close the connection; break } }
//! ```
//!
//! The machine decides everything; the runtime reads files and moves bytes.

use heapless::Deque;

use crate::asf::{
    HeaderSummary, PacketInfo, Padding, Rewritten, Selection, StreamKind, StreamSet, rewrite,
};
use crate::time::{Duration, Instant};
use crate::wire::text::{FunnelName, FunnelProto, Subscriber, Version};
use crate::wire::*;

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
    /// Refuse what the spec forbids even where real clients do it
    /// (`check_strict` on every message).
    pub strict: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_version: "9.1.1.3862",
            idle_timeout: Duration::from_secs(3600),
            keepalive: Duration::from_secs(30),
            linger: Some(Duration::from_secs(3)),
            paced: true,
            strict: false,
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
    /// for the next entry ([`Output::NextEntry`]).
    pub continues: bool,
    /// Send Time of the first data packet, ms: where content time 0 is
    /// for an absolute frameOffset stop ([2.2.4.25]). Muxers do not all
    /// start at 0 (GStreamer's do not).
    pub send_time_origin: u32,
}

impl Media {
    /// The numbers of a parsed header.
    pub fn from_summary(s: &HeaderSummary<'_>) -> Self {
        let attributes = if s.is_broadcast() {
            FILE_ATTRIBUTE_MMS_BROADCAST | FILE_ATTRIBUTE_MMS_LIVE
        } else if s.is_seekable() {
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
        }
    }
}

/// What the application must see or decide, borrowing the input packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'p> {
    /// [3.2.5.6] The client asks for this path: answer with
    /// [`Session::accept_open`] or [`Session::reject_open`].
    OpenRequest {
        /// fileName: the URL path, not percent-encoded.
        file_name: Utf16Str<'p>,
        /// tokenData: credentials, empty when none were sent.
        token: &'p [u8],
    },
    /// [3.2.5.11] The client asks to play from `position_ms` (content time);
    /// map it to a packet (e.g. [`crate::asf::packet_for_time`]) and answer
    /// with [`Session::seek_to`].
    SeekRequest {
        /// Content time, ms.
        position_ms: u64,
    },
    /// Playing started ([3.2.5.11]); data packets follow from this number.
    PlayStarted {
        /// The first packet sent.
        from_packet: u64,
    },
    /// [3.2.5.15] The client's statistics (for the access log).
    Logging(LoggingRepr<'p>),
    /// [3.2.5.17] The client is finishing; the session closes.
    CloseRequested,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send the first `n` bytes of the buffer.
    Send(usize),
    /// Read `len` bytes of the ASF file header at `offset` and hand them to
    /// [`Session::header_piece`].
    ReadHeader {
        /// Offset into the ASF file header.
        offset: u32,
        /// Bytes to read.
        len: u32,
    },
    /// Read ASF data packet `number` and hand it to [`Session::data_packet`].
    ReadPacket {
        /// The packet number (LocationId).
        number: u64,
    },
    /// The playlist entry ended and [`Media::continues`] said another
    /// follows: open it and call [`Session::next_entry`] (or
    /// [`Session::end_of_content`] if it cannot be opened).
    NextEntry,
    /// Nothing before this time: call [`Session::handle_timeout`] then.
    Timeout(Instant),
    /// Nothing until input arrives.
    Wait,
    /// Close the connection.
    Close,
}

/// The answer of [`Session::data_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Send the first `n` bytes of the buffer.
    Send(usize),
    /// Not due yet: offer the same packet again at this time.
    NotBefore(Instant),
    /// Nothing of it is selected: it is not sent ([3.2.5.11.1]).
    Skipped,
    /// The read was superseded while the packet waited (a StopPlaying or a
    /// seek came in between): drop the bytes and poll again.
    Cancelled,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// The bytes were malformed.
    Wire(Error),
    /// A message the current state does not allow ([3.2.5]).
    Unexpected {
        /// What arrived.
        message: MessageId,
        /// In which state.
        state: State,
    },
    /// openFileId is not the File-ID the server gave ([3.2.5.8]).
    WrongOpenFileId(u32),
    /// A feature this server does not implement yet.
    Unsupported(MessageId),
    /// A Data packet arrived from the client (they only flow to it).
    DataFromClient,
    /// The caller broke the run-loop contract (e.g. bytes nobody asked for).
    Misuse(&'static str),
}

impl From<Error> for ServerError {
    fn from(e: Error) -> Self {
        ServerError::Wire(e)
    }
}

impl core::fmt::Display for ServerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServerError::Wire(e) => write!(f, "malformed input: {e}"),
            ServerError::Unexpected { message, state } => {
                write!(f, "{} not allowed in state {state:?}", message.spec_name())
            }
            ServerError::WrongOpenFileId(id) => write!(f, "openFileId {id} was never given out"),
            ServerError::Unsupported(m) => write!(f, "{} is not supported yet", m.spec_name()),
            ServerError::DataFromClient => f.write_str("a Data packet arrived from the client"),
            ServerError::Misuse(what) => write!(f, "run-loop contract broken: {what}"),
        }
    }
}

impl core::error::Error for ServerError {}

/// The session state: the spec's INIT / READY / STREAMING ([3.2.1]), split
/// where the machine waits for different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before Connect.
    AwaitConnect,
    /// INIT: connected; FunnelInfo, ConnectFunnel or OpenFile expected.
    Init,
    /// INIT: OpenFile received, waiting for the application's answer.
    OpenPending,
    /// INIT: ReportOpenFile sent; ReadBlock expected.
    Opened,
    /// Sending the ASF file header ([3.2.5.8.1]).
    SendingHeader,
    /// READY: the header was sent.
    Ready,
    /// READY: StartPlaying asked for a time; waiting for [`Session::seek_to`].
    SeekPending,
    /// STREAMING: sending data packets.
    Streaming,
    /// The session is over.
    Closed,
}

/// The File-ID the server gives (interop-notes: VLC accepts only 1 or 2).
const FILE_ID: u32 = 1;

/// A reply waiting to be serialized: small values, no borrowed data.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reply {
    ConnectedEx {
        packet_pair: bool,
    },
    /// ReportFunnelInfo; with packet-pair, the TcpMessageHeader packet's
    /// total size (512, 512, 1056) and which of the three it is.
    FunnelInfo {
        pair: Option<(usize, u32)>,
    },
    ConnectedFunnel,
    DisconnectedFunnel(HResult),
    OpenFile {
        hr: HResult,
        incarnation: u32,
        media: Option<Media>,
    },
    ReadBlock {
        incarnation: u32,
    },
    StreamSwitch,
    StartedPlaying {
        incarnation: u32,
    },
    StartStriding {
        incarnation: u32,
    },
    EndOfStream {
        hr: HResult,
        incarnation: u32,
    },
    StreamChange(Media),
    Redirect {
        redirect_type: u16,
    },
    Ping,
}

/// A Send Time step larger than this (or backwards) is a discontinuity,
/// not elapsed time: GStreamer writes jumps of days between packets, and
/// the 32-bit ms clock wraps (asf-facts §6.3).
const MAX_SEND_TIME_STEP_MS: u32 = 60_000;

/// A play's content clock: when its first packet was due, the last packet's
/// Send Time, the content time since the first, and where the first is in
/// the content.
#[derive(Debug, Clone, Copy)]
struct PlayClock {
    t0: Instant,
    last_send: u32,
    elapsed_ms: u64,
    start_ms: u64,
}

impl PlayClock {
    /// Content time from the last packet to one sent at `send` (reverse
    /// striding walks backwards); 0 across a discontinuity.
    fn step(&self, send: u32, reverse: bool) -> u64 {
        let d = if reverse {
            self.last_send.wrapping_sub(send)
        } else {
            send.wrapping_sub(self.last_send)
        };
        if d > MAX_SEND_TIME_STEP_MS {
            0
        } else {
            u64::from(d)
        }
    }
}

/// Fixed part of ReportFunnelInfo (chunkLen … cubddDatagramSize).
const REPORT_FUNNEL_INFO_FIXED: usize = 48;
/// The largest packet-pair filler: a 1056-byte third message.
const PACKET_PAIR_MAX: usize = 1056 - TCP_HEADER_LEN - REPORT_FUNNEL_INFO_FIXED;

/// One server session ([3.2]).
#[derive(Debug, Clone)]
pub struct Session {
    config: Config,
    state: State,
    /// Client-ID ([3.2.1]): the nCubs of ReportFunnelInfo.
    client_id: u32,
    /// Client-Version ([3.2.1]): the product version of subscriberName.
    client_version: Option<Version>,
    /// Client-Port ([3.2.1]): 0 = TCP delivery.
    client_port: u16,
    /// Incarnation ([3.2.1]): of the latest ReadBlock.
    incarnation: u32,
    /// The playIncarnation of the OpenFile being decided.
    open_incarnation: u32,
    media: Option<Media>,
    /// Header transfer: bytes sent so far, when it started, whether a read
    /// is outstanding.
    header_sent: u32,
    header_started: Instant,
    header_read_pending: bool,
    /// The entry's last packet went out and the next entry is awaited.
    awaiting_entry: bool,
    /// Idle-Timeout deadline ([3.2.2]), when running.
    idle_deadline: Option<Instant>,
    /// KeepAlive deadline ([3.2.2]), armed once playing.
    keepalive_deadline: Option<Instant>,
    /// Close at this time unless the client closes first (after EndOfStream).
    linger_deadline: Option<Instant>,
    /// The streams selected and how ([3.2.5.10]).
    selection: Selection,
    /// Selected streams that have not yet reached a key frame.
    awaiting_key_frame: StreamSet,
    /// Whether a StreamSwitch was received ([3.2.5.11]: else none is selected).
    switched: bool,
    /// The next packet to send, and the one a read is outstanding for.
    next_packet: u64,
    packet_read_pending: bool,
    /// The packet of a read that a stop or seek superseded: its late
    /// answer is dropped ([`Data::Cancelled`]), not a contract breach.
    cancelled_read: Option<u64>,
    /// Sequence ([3.2.1]): of the next data packet (AFFlags = low byte).
    sequence: u32,
    /// The play's content clock (pacing and the frameOffset stop); set by
    /// its first packet.
    clock: Option<PlayClock>,
    /// [2.2.4.25] frameOffset of the play: where it stops.
    stop_at: StopAt,
    /// [2.2.4.25] Fast start: the first `1` ms of content go `0` times
    /// faster than real time (dwAccelBandwidth / the content bit rate).
    accel: Option<(f64, u64)>,
    /// Replaced streams still sent until their replacement's first key
    /// frame: (old, new) ([3.2.5.10]).
    replacing: heapless::Vec<(u8, u8), 8>,
    /// Where [`Session::redirect_open`] sends the client.
    redirect: heapless::String<512>,
    /// [3.2.5.12] The striding rate (−5..5, not 0), None when playing.
    stride: Option<f64>,
    /// Reverse striding sent packet 0: the end.
    stride_done: bool,
    /// The StartPlaying waiting for a seek answer: its incarnation.
    play_incarnation: u32,
    /// TcpMessageHeader seq of the next packet sent.
    seq: u16,
    /// When the first TcpMessageHeader packet was sent (timeSent's origin).
    first_sent: Option<Instant>,
    replies: Deque<Reply, 4>,
    close: bool,
}

impl Session {
    /// A new session; `client_id` SHOULD be random and MUST differ between
    /// concurrent sessions ([3.2.3]).
    pub fn new(config: Config, client_id: u32) -> Self {
        Self {
            config,
            state: State::AwaitConnect,
            client_id,
            client_version: None,
            client_port: 0,
            incarnation: 0,
            open_incarnation: 0,
            media: None,
            header_sent: 0,
            header_started: Instant(0),
            header_read_pending: false,
            awaiting_entry: false,
            idle_deadline: None,
            keepalive_deadline: None,
            linger_deadline: None,
            selection: Selection::default(),
            awaiting_key_frame: StreamSet::EMPTY,
            switched: false,
            next_packet: 0,
            packet_read_pending: false,
            cancelled_read: None,
            sequence: 0,
            clock: None,
            replacing: heapless::Vec::new(),
            redirect: heapless::String::new(),
            stop_at: StopAt::End,
            accel: None,
            stride: None,
            stride_done: false,
            play_incarnation: 0,
            seq: 0,
            first_sent: None,
            replies: Deque::new(),
            close: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Client-Version: what the client's subscriberName said, if it parsed.
    pub fn client_version(&self) -> Option<Version> {
        self.client_version
    }

    /// Client-Port: the UDP port the client asked for (0 = TCP).
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    fn reply(&mut self, r: Reply) -> Result<(), ServerError> {
        self.replies
            .push_back(r)
            .map_err(|_| ServerError::Misuse("replies not drained with poll_output"))
    }

    fn unexpected(&self, m: &Message<'_>) -> ServerError {
        ServerError::Unexpected {
            message: m.id(),
            state: self.state,
        }
    }

    fn start_idle(&mut self, now: Instant) {
        // [3.2.2]: starting a running timer has no effect.
        if self.idle_deadline.is_none() {
            self.idle_deadline = Some(now + self.config.idle_timeout);
        }
    }

    /// Handles one TcpMessageHeader packet (as [`frame`] delimits it) and
    /// returns the events for the application, borrowing from `packet`.
    pub fn handle_tcp<'p>(
        &mut self,
        now: Instant,
        packet: &'p [u8],
    ) -> Result<heapless::Vec<Event<'p>, 4>, ServerError> {
        let mut events = heapless::Vec::new();
        if self.state == State::Closed {
            return Ok(events);
        }
        if u32::from_le_bytes([
            packet.get(4).copied().unwrap_or(0),
            packet.get(5).copied().unwrap_or(0),
            packet.get(6).copied().unwrap_or(0),
            packet.get(7).copied().unwrap_or(0),
        ]) != SESSION_ID
        {
            return Err(ServerError::DataFromClient);
        }
        if self.config.strict {
            TcpMessageHeaderRepr::check_strict(packet)?;
        }
        let (_, messages) = parse_packet(packet)?;
        // [3.2.5.1] Receiving stops KeepAlive; sending starts it again.
        self.arm_keepalive(now);
        // [3.2.5.1] Each message in the packet is processed.
        for m in messages {
            let m = m?;
            if self.config.strict {
                m.check_strict()?;
            }
            if let Some(e) = self.handle_message(now, m)? {
                events
                    .push(e)
                    .map_err(|_| ServerError::Misuse("more than 4 events in one packet"))?;
            }
        }
        Ok(events)
    }

    fn handle_message<'p>(
        &mut self,
        now: Instant,
        m: Message<'p>,
    ) -> Result<Option<Event<'p>>, ServerError> {
        match (self.state, m) {
            // [3.2.5.16] Pong: the client is alive; nothing to answer.
            (_, Message::Pong(_)) => Ok(None),
            // [3.2.5.17] CloseFile: the session ends.
            (_, Message::CloseFile(_)) => {
                self.state = State::Closed;
                self.close = true;
                Ok(Some(Event::CloseRequested))
            }
            // [3.2.5.15] Logging, once a file is open.
            (
                State::Opened
                | State::SendingHeader
                | State::Ready
                | State::SeekPending
                | State::Streaming,
                Message::Logging(l),
            ) => Ok(Some(Event::Logging(l))),
            // [3.2.5.3] Connect: initialize, answer ConnectedEX.
            (State::AwaitConnect, Message::Connect(c)) => {
                self.client_version = match Subscriber::parse(&c.subscriber_name) {
                    Ok(s) => match s.client {
                        text::ClientToken::NsPlayer(v) => Some(v),
                        text::ClientToken::Spoon => None,
                    },
                    Err(e) if self.config.strict => return Err(e.into()),
                    Err(_) => None,
                };
                self.state = State::Init;
                self.start_idle(now);
                // [3.2.5.3] TCP packet-pair is supported.
                self.reply(Reply::ConnectedEx {
                    packet_pair: c.play_incarnation == MMS_USE_PACKET_PAIR,
                })?;
                Ok(None)
            }
            // [3.2.5.4] FunnelInfo: give the Client-ID; with the TCP
            // packet-pair asked for, three ReportFunnelInfo of 512, 512 and
            // 1056 bytes with random filler. (FFmpeg's 0x00F0F0F0 is no
            // packet-pair value, interop-notes; UDP packet-pair is not
            // offered: UDP delivery is not implemented.)
            (State::Init, Message::FunnelInfo(f)) => {
                if matches!(
                    f.play_incarnation,
                    MMS_USE_PACKET_PAIR | MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
                ) {
                    for (i, total) in [(0, 512), (1, 512), (2, 1056)] {
                        self.reply(Reply::FunnelInfo {
                            pair: Some((total, i)),
                        })?;
                    }
                } else {
                    self.reply(Reply::FunnelInfo { pair: None })?;
                }
                Ok(None)
            }
            // [3.2.5.5] ConnectFunnel: TCP is accepted; UDP is not yet.
            (State::Init, Message::ConnectFunnel(f)) => {
                match FunnelName::parse(&f.funnel_name) {
                    Ok(FunnelName {
                        proto: FunnelProto::Tcp,
                        ..
                    }) => self.reply(Reply::ConnectedFunnel)?,
                    Ok(FunnelName {
                        proto: FunnelProto::Udp,
                        ..
                    }) => {
                        // UDP delivery is not implemented: the client is told so.
                        self.reply(Reply::DisconnectedFunnel(HResult::E_NOTIMPL))?
                    }
                    Err(_) if self.config.strict => {
                        self.reply(Reply::DisconnectedFunnel(HResult::E_INVALIDARG))?
                    }
                    // Tolerant: an unreadable funnelName means TCP (the IP is ignored anyway).
                    Err(_) => self.reply(Reply::ConnectedFunnel)?,
                }
                Ok(None)
            }
            // [3.2.5.6] OpenFile: the application decides. A client may
            // open again after an error or to change content.
            (State::Init | State::Opened | State::Ready, Message::OpenFile(o)) => {
                self.open_incarnation = o.play_incarnation;
                self.state = State::OpenPending;
                Ok(Some(Event::OpenRequest {
                    file_name: o.file_name,
                    token: o.token_data,
                }))
            }
            // [3.2.5.8] ReadBlock: ReportReadBlock, then the header.
            (State::Opened | State::Ready, Message::ReadBlock(r)) => {
                if r.open_file_id != FILE_ID {
                    return Err(ServerError::WrongOpenFileId(r.open_file_id));
                }
                self.incarnation = r.play_incarnation;
                self.reply(Reply::ReadBlock {
                    incarnation: r.play_incarnation,
                })?;
                self.state = State::SendingHeader;
                self.header_sent = 0;
                self.header_started = now;
                self.header_read_pending = false;
                Ok(None)
            }
            // [3.2.5.9] CancelReadBlock: drop the rest of the header.
            (State::SendingHeader, Message::CancelReadBlock(_)) => {
                self.state = State::Opened;
                self.header_read_pending = false;
                Ok(None)
            }
            (State::Opened | State::Ready, Message::CancelReadBlock(_)) => Ok(None),
            // [3.2.5.10] StreamSwitch: the new selection; the reply.
            (
                State::Opened | State::Ready | State::SeekPending | State::Streaming,
                Message::StreamSwitch(sw),
            ) => {
                self.switch_streams(&sw);
                self.reply(Reply::StreamSwitch)?;
                Ok(None)
            }
            // [3.2.5.11] StartPlaying; while streaming it is a seek (libmms
            // sends a new StartPlaying with a new incarnation to seek).
            (State::Ready | State::Streaming, Message::StartPlaying(p)) => {
                if p.open_file_id != FILE_ID {
                    return Err(ServerError::WrongOpenFileId(p.open_file_id));
                }
                self.stop_at = p.stop_at();
                self.stride = None;
                let rate = self.media.map_or(0, |m| m.bit_rate);
                self.accel = p
                    .acceleration
                    .filter(|a| rate > 0 && a.bandwidth > rate && a.duration > 0)
                    .map(|a| {
                        (
                            f64::from(a.bandwidth) / f64::from(rate),
                            u64::from(a.duration),
                        )
                    });
                self.begin(
                    now,
                    p.position,
                    p.asf_offset,
                    p.location_id,
                    p.play_incarnation,
                )
            }
            // [3.2.5.12] StartStriding: key frames at `rate`; from READY it
            // seeks like StartPlaying, while streaming it keeps the place.
            (State::Ready | State::Streaming, Message::StartStriding(p)) => {
                if p.open_file_id != FILE_ID {
                    return Err(ServerError::WrongOpenFileId(p.open_file_id));
                }
                if !(-5.0..=5.0).contains(&p.rate) || p.rate == 0.0 || p.rate.is_nan() {
                    return Err(ServerError::Wire(Error::invalid(
                        "rate",
                        "outside -5..=5 or zero",
                    )));
                }
                let media = self.media.ok_or(ServerError::Misuse("no media in READY"))?;
                if media.attributes & FILE_ATTRIBUTE_MMS_CANSTRIDE == 0 {
                    return Err(ServerError::Unsupported(MessageId::StartStriding));
                }
                self.stop_at = StopAt::End;
                self.accel = None;
                self.stride = Some(p.rate);
                if self.state == State::Streaming {
                    let from = self.next_packet;
                    self.play_incarnation = p.play_incarnation;
                    self.start_playing(now, from)?;
                    return Ok(Some(Event::PlayStarted { from_packet: from }));
                }
                self.begin(
                    now,
                    p.position,
                    p.asf_offset,
                    p.location_id,
                    p.play_incarnation,
                )
            }
            // [3.2.5.14] StopPlaying: READY, EndOfStream with its incarnation.
            (State::Streaming | State::SeekPending | State::Ready, Message::StopPlaying(p)) => {
                self.state = State::Ready;
                self.awaiting_entry = false;
                self.cancel_read();
                self.start_idle(now);
                self.reply(Reply::EndOfStream {
                    hr: HResult::S_OK,
                    incarnation: p.play_incarnation,
                })?;
                Ok(None)
            }
            (_, m @ Message::SecurityResponse(_))
                if matches!(self.state, State::Ready | State::Opened | State::Streaming) =>
            {
                Err(ServerError::Unsupported(m.id()))
            }
            (_, m) => Err(self.unexpected(&m)),
        }
    }

    fn arm_keepalive(&mut self, now: Instant) {
        if self.keepalive_deadline.is_some() {
            self.keepalive_deadline = Some(now + self.config.keepalive);
        }
    }

    /// [3.2.5.10] Applies STREAM_SWITCH_ENTRYs: select (thinning 0 / 1),
    /// unselect (2), or replace `src` by `dst`. Newly selected streams
    /// start at a key frame.
    fn switch_streams(&mut self, sw: &StreamSwitchRepr<'_>) {
        if !self.switched {
            self.switched = true;
            self.selection = Selection::default();
        }
        let key_less = self
            .media
            .map_or(StreamSet::EMPTY, |m| m.without_key_frames);
        for e in sw.entries.iter() {
            // [3.2.5.10] While streaming, a stream replaced by another that
            // must start at a key frame goes on until that key frame.
            let replaced = (e.src_stream_number != NO_STREAM
                && e.src_stream_number < 128
                && e.src_stream_number != e.dst_stream_number)
                .then_some(e.src_stream_number as u8);
            let continues = replaced.filter(|&src| {
                self.state == State::Streaming
                    && (self.selection.all.contains(src) || self.selection.key_only.contains(src))
                    && (1..128).contains(&e.dst_stream_number)
                    && e.thinning_level < 2
                    && !key_less.contains(e.dst_stream_number as u8)
                    && !self.replacing.is_full()
            });
            if let Some(src) = continues {
                // Dropped when the new stream's first key frame goes out.
                let _ = self.replacing.push((src, e.dst_stream_number as u8));
            } else if e.src_stream_number != NO_STREAM && e.src_stream_number < 128 {
                let src = e.src_stream_number as u8;
                self.selection.all.remove(src);
                self.selection.key_only.remove(src);
            }
            if e.dst_stream_number == NO_STREAM
                || e.dst_stream_number == 0
                || e.dst_stream_number > 127
            {
                continue;
            }
            let dst = e.dst_stream_number as u8;
            let was = self.selection.all.contains(dst) || self.selection.key_only.contains(dst);
            self.selection.all.remove(dst);
            self.selection.key_only.remove(dst);
            match e.thinning_level {
                0 => self.selection.all.insert(dst),
                // Audio has no key-frame flags: every object is a cleanpoint.
                1 if key_less.contains(dst) => self.selection.all.insert(dst),
                1 => self.selection.key_only.insert(dst),
                _ => {}
            }
            let selected =
                self.selection.all.contains(dst) || self.selection.key_only.contains(dst);
            if selected && !was && !key_less.contains(dst) {
                self.awaiting_key_frame.insert(dst);
            }
        }
    }

    /// [3.2.5.11] READY → STREAMING from packet `start`.
    fn start_playing(&mut self, now: Instant, start: u64) -> Result<(), ServerError> {
        let media = self
            .media
            .ok_or(ServerError::Misuse("play without media"))?;
        if !self.switched {
            // [3.2.5.11]: without a StreamSwitch nothing is selected; every
            // open client sends one, so tolerate its absence by playing all.
            self.selection = if self.config.strict {
                Selection::default()
            } else {
                Selection::EVERYTHING
            };
        }
        // Video starts at a key frame, after a seek too.
        let selected = StreamSet(self.selection.all.0 | self.selection.key_only.0);
        self.awaiting_key_frame = if self.selection == Selection::EVERYTHING {
            StreamSet::EMPTY
        } else {
            StreamSet(selected.0 & !media.without_key_frames.0)
        };
        self.incarnation = self.play_incarnation;
        self.cancel_read();
        self.next_packet = start;
        self.clock = None;
        self.replacing.clear();
        self.idle_deadline = None;
        self.linger_deadline = None;
        self.keepalive_deadline = Some(now + self.config.keepalive);
        self.awaiting_entry = false;
        self.stride_done = false;
        self.state = State::Streaming;
        if self.stride.is_some() {
            // Reverse striding from "the end" starts at the last packet.
            let count = self.media.map_or(0, |m| m.packet_count);
            if self.stride.is_some_and(|r| r < 0.0) && count > 0 && self.next_packet >= count {
                self.next_packet = count - 1;
            }
            return self.reply(Reply::StartStriding {
                incarnation: self.play_incarnation,
            });
        }
        self.reply(Reply::StartedPlaying {
            incarnation: self.play_incarnation,
        })
    }

    /// Where a StartPlaying or StartStriding starts ([2.2.4.25]): a valid
    /// locationId wins over position 0.0 (VLC seeks so), then asfOffset,
    /// then a time (the application maps it: [`Event::SeekRequest`]).
    fn begin(
        &mut self,
        now: Instant,
        position: f64,
        asf_offset: u32,
        location_id: u32,
        incarnation: u32,
    ) -> Result<Option<Event<'static>>, ServerError> {
        let media = self.media.ok_or(ServerError::Misuse("no media in READY"))?;
        self.play_incarnation = incarnation;
        let start = if location_id != u32::MAX && location_id != 0 {
            location_id as u64
        } else if asf_offset != u32::MAX && asf_offset != 0 {
            (asf_offset.saturating_sub(media.file_header_len) / media.packet_size) as u64
        } else if position.is_finite() && position > 0.0 && position != POSITION_UNSPECIFIED {
            self.state = State::SeekPending;
            self.cancel_read();
            return Ok(Some(Event::SeekRequest {
                position_ms: (position * 1000.0) as u64,
            }));
        } else {
            0
        };
        self.start_playing(now, start)?;
        Ok(Some(Event::PlayStarted { from_packet: start }))
    }

    /// The application's answer to [`Event::SeekRequest`]: play from packet
    /// `number`.
    pub fn seek_to(&mut self, now: Instant, number: u64) -> Result<(), ServerError> {
        if self.state != State::SeekPending {
            return Err(ServerError::Misuse("seek_to without a SeekRequest"));
        }
        self.start_playing(now, number)
    }

    /// The content has no more packets (a live source ended, or a file's
    /// count was unknown): [3.2.4.1] ReportEndOfStream and READY.
    pub fn end_of_content(&mut self, now: Instant) -> Result<(), ServerError> {
        if self.state != State::Streaming {
            return Ok(());
        }
        self.finish(now)
    }

    /// The application's answer to [`Output::NextEntry`]: the next
    /// playlist entry ([3.2.4.2]). Sends ReportStreamChange, then the
    /// entry's ASF file header with incarnation 0xFF, then waits in READY
    /// for the client's StreamSwitch and StartPlaying (interop-notes:
    /// libmms sends them and fails on Data packets it did not ask for;
    /// the spec would stream on at once).
    pub fn next_entry(&mut self, now: Instant, media: Media) -> Result<(), ServerError> {
        if !self.awaiting_entry || self.state != State::Streaming {
            return Err(ServerError::Misuse("next_entry without NextEntry"));
        }
        if media.packet_size == 0 || media.file_header_len == 0 {
            return Err(ServerError::Misuse("next_entry with empty media"));
        }
        self.awaiting_entry = false;
        self.media = Some(media);
        self.reply(Reply::StreamChange(media))?;
        self.incarnation = TCP_HDR_INCARNATION;
        self.selection = Selection::EVERYTHING;
        self.awaiting_key_frame = StreamSet::EMPTY;
        self.cancel_read();
        self.next_packet = 0;
        self.clock = None;
        self.state = State::SendingHeader;
        self.header_sent = 0;
        self.header_started = now;
        self.header_read_pending = false;
        Ok(())
    }

    fn finish(&mut self, now: Instant) -> Result<(), ServerError> {
        self.awaiting_entry = false;
        self.stride_done = false;
        self.state = State::Ready;
        self.cancel_read();
        self.start_idle(now);
        self.linger_deadline = self.config.linger.map(|l| now + l);
        self.reply(Reply::EndOfStream {
            hr: HResult::S_OK,
            incarnation: self.incarnation,
        })
    }

    /// The answer to [`Output::ReadPacket`]: the packet's bytes as stored
    /// (packet size). Writes the Data packet into `buf` — payloads of
    /// unselected streams removed, padding stripped so zero-filling clients
    /// survive ([`Padding::Strip`]) — or says when it is due, or that
    /// nothing of it is selected.
    pub fn data_packet(
        &mut self,
        now: Instant,
        number: u64,
        bytes: &[u8],
        buf: &mut [u8],
    ) -> Result<Data, ServerError> {
        let media = self
            .media
            .ok_or(ServerError::Misuse("data_packet without media"))?;
        let matching = self.state == State::Streaming
            && self.packet_read_pending
            && number == self.next_packet;
        if !matching && self.cancelled_read == Some(number) {
            self.cancelled_read = None;
            return Ok(Data::Cancelled);
        }
        if !matching {
            return Err(ServerError::Misuse(
                "data_packet without a matching ReadPacket",
            ));
        }
        let info = PacketInfo::parse(bytes)?;
        // Content time of this packet on the play's clock.
        let reverse = self.stride.is_some_and(|r| r < 0.0);
        let clock = *self.clock.get_or_insert(PlayClock {
            t0: now,
            last_send: info.send_time,
            elapsed_ms: 0,
            start_ms: match info.send_time.wrapping_sub(media.send_time_origin) {
                ms if ms <= MAX_SEND_TIME_STEP_MS => u64::from(ms),
                _ => 0,
            },
        });
        let elapsed = clock.elapsed_ms + clock.step(info.send_time, reverse);
        // [2.2.4.25] frameOffset: the play ends at this content time.
        let past = match self.stop_at {
            StopAt::End => false,
            StopAt::Absolute(ms) => clock.start_ms + elapsed > u64::from(ms),
            StopAt::Relative(ms) => elapsed > u64::from(ms),
        };
        if past {
            self.finish(now)?;
            // Consumed, not superseded: no late answer is expected.
            self.cancelled_read = None;
            return Ok(Data::Skipped);
        }
        if self.config.paced {
            // Striding divides content time by the rate; fast start
            // divides its first part by the acceleration.
            let rate = self.stride.map_or(1.0, f64::abs);
            let wall_ms = match self.accel {
                Some((factor, span)) if elapsed <= span => elapsed as f64 / factor,
                Some((factor, span)) => span as f64 / factor + (elapsed - span) as f64,
                None => elapsed as f64 / rate,
            };
            let due = clock.t0 + Duration::from_millis(wall_ms as u64);
            if due > now {
                return Ok(Data::NotBefore(due));
            }
        }
        self.clock = Some(PlayClock {
            last_send: info.send_time,
            elapsed_ms: elapsed,
            ..clock
        });
        // Streams still waiting for their first key frame start at it.
        let mut sel = self.selection;
        sel.from_key_frame = self.awaiting_key_frame;
        if self.stride.is_some() {
            // [3.2.5.12] Striding sends key frames only: video streams
            // thinned to key frames, streams without key frames off.
            let selected = StreamSet(sel.all.0 | sel.key_only.0);
            sel.key_only = StreamSet(selected.0 & !media.without_key_frames.0);
            sel.all = StreamSet::EMPTY;
            sel.from_key_frame = StreamSet::EMPTY;
        }
        for s in self.awaiting_key_frame.iter() {
            if crate::asf::starts_key_frame(bytes, s)? {
                self.awaiting_key_frame.remove(s);
                // The stream it replaces stops here.
                for &(old, _) in self.replacing.iter().filter(|&&(_, new)| new == s) {
                    self.selection.all.remove(old);
                    self.selection.key_only.remove(old);
                    sel.all.remove(old);
                    sel.key_only.remove(old);
                }
                self.replacing.retain(|&(_, new)| new != s);
            }
        }
        if self.stride.is_some_and(|r| r < 0.0) {
            // Reverse: decreasing LocationId down to packet 0.
            match self.next_packet.checked_sub(1) {
                Some(n) => self.next_packet = n,
                None => self.stride_done = true,
            }
        } else {
            self.next_packet += 1;
        }
        self.packet_read_pending = false;
        self.cancelled_read = None;
        crate::wire::error::room(buf, DATA_HEADER_LEN)?;
        let (head, body) = buf.split_at_mut(DATA_HEADER_LEN);
        match rewrite(
            bytes,
            media.packet_size as usize,
            &sel,
            Padding::Strip,
            body,
        )? {
            Rewritten::Skip => Ok(Data::Skipped),
            Rewritten::Packet(n) => {
                DataPacketRepr::emit_header(
                    number as u32,
                    self.incarnation as u8,
                    self.sequence as u8,
                    n,
                    head,
                )?;
                self.sequence = self.sequence.wrapping_add(1);
                self.arm_keepalive(now);
                Ok(Data::Send(DATA_HEADER_LEN + n))
            }
        }
    }

    /// Forgets the outstanding packet read, remembering it so its late
    /// answer can be told from a misuse.
    fn cancel_read(&mut self) {
        if self.packet_read_pending {
            self.cancelled_read = Some(self.next_packet);
        }
        self.packet_read_pending = false;
    }

    /// The application's answer to [`Event::OpenRequest`]: serve `media`.
    pub fn accept_open(&mut self, _now: Instant, media: Media) -> Result<(), ServerError> {
        if self.state != State::OpenPending {
            return Err(ServerError::Misuse("accept_open without an OpenRequest"));
        }
        if media.packet_size == 0 || media.file_header_len == 0 {
            return Err(ServerError::Misuse("media without packet size or header"));
        }
        self.media = Some(media);
        self.state = State::Opened;
        self.reply(Reply::OpenFile {
            hr: HResult::S_OK,
            incarnation: self.open_incarnation,
            media: Some(media),
        })
    }

    /// The application's other answer to [`Event::OpenRequest`]: send the
    /// client elsewhere ([3.2.5.6], [2.2.4.9]) — `proxy` false: another
    /// URL; true: another proxy (empty: none). The session then closes.
    pub fn redirect_open(
        &mut self,
        _now: Instant,
        location: &str,
        proxy: bool,
    ) -> Result<(), ServerError> {
        if self.state != State::OpenPending {
            return Err(ServerError::Misuse("redirect_open without an OpenRequest"));
        }
        self.redirect.clear();
        self.redirect
            .push_str(location)
            .map_err(|()| ServerError::Misuse("redirect location longer than 512 bytes"))?;
        self.state = State::Closed;
        self.close = true;
        self.reply(Reply::Redirect {
            redirect_type: if proxy { REDIRECT_PROXY } else { REDIRECT_URL },
        })
    }

    /// The application's answer to [`Event::OpenRequest`]: refuse with
    /// `hr` (e.g. [`HResult::NS_E_FILE_NOT_FOUND`]). The session then ends:
    /// FFmpeg and libmms abort on the error but VLC and MPlayer ignore it
    /// (interop-notes), so the connection is closed after the reply.
    pub fn reject_open(&mut self, _now: Instant, hr: HResult) -> Result<(), ServerError> {
        if self.state != State::OpenPending {
            return Err(ServerError::Misuse("reject_open without an OpenRequest"));
        }
        self.state = State::Closed;
        self.close = true;
        self.reply(Reply::OpenFile {
            hr,
            incarnation: self.open_incarnation,
            media: None,
        })
    }

    /// Timers: Idle-Timeout and the linger end the session ([3.2.6.2]);
    /// KeepAlive sends a Ping ([3.2.6.1]).
    pub fn handle_timeout(&mut self, now: Instant) {
        let passed = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        if passed(self.idle_deadline) || passed(self.linger_deadline) {
            self.idle_deadline = None;
            self.linger_deadline = None;
            self.state = State::Closed;
            self.close = true;
        }
        if passed(self.keepalive_deadline) && !self.close {
            self.keepalive_deadline = Some(now + self.config.keepalive);
            // A full reply queue already says the client is not reading.
            let _ = self.replies.push_back(Reply::Ping);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let idle = self
            .idle_deadline
            .filter(|_| !matches!(self.state, State::Streaming | State::SendingHeader));
        [idle, self.keepalive_deadline, self.linger_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time in µs to send `bytes` at the content bit rate ([3.2.5.8.1]).
    fn header_due(&self) -> Instant {
        let rate = self.media.map_or(0, |m| m.bit_rate) as u64;
        if rate == 0 {
            return self.header_started;
        }
        self.header_started + Duration((self.header_sent as u64).saturating_mul(8_000_000) / rate)
    }

    /// The next thing to do; writes into `buf` for [`Output::Send`]. `buf`
    /// must hold a TcpMessageHeader packet (≥ 256 bytes).
    pub fn poll_output(&mut self, now: Instant, buf: &mut [u8]) -> Output {
        if let Some(r) = self.replies.pop_front() {
            return match self.emit_reply(now, r, buf) {
                Ok(n) => Output::Send(n),
                // Replies are small fixed messages; a buffer that cannot hold
                // one is the caller's mistake, and closing is the safe answer.
                Err(_) => Output::Close,
            };
        }
        if self.close {
            return Output::Close;
        }
        if self.state == State::SendingHeader && !self.header_read_pending {
            let (Some(media), due) = (self.media, self.header_due()) else {
                return Output::Close;
            };
            if due > now {
                return Output::Timeout(due);
            }
            let left = media.file_header_len - self.header_sent;
            self.header_read_pending = true;
            return Output::ReadHeader {
                offset: self.header_sent,
                len: left.min(media.packet_size),
            };
        }
        if self.state == State::Streaming && !self.packet_read_pending {
            let count = self.media.map_or(0, |m| m.packet_count);
            if self.awaiting_entry {
                return Output::NextEntry;
            }
            if self.stride_done || (count > 0 && self.next_packet >= count) {
                if self.media.is_some_and(|m| m.continues) && !self.stride_done {
                    // [3.2.4.1] hr 1: a ReportStreamChange follows.
                    self.awaiting_entry = true;
                    let end = Reply::EndOfStream {
                        hr: HResult(1),
                        incarnation: self.incarnation,
                    };
                    if self.reply(end).is_err() {
                        return Output::Close;
                    }
                    return self.poll_output(now, buf);
                }
                // [3.2.4.1] The last packet was sent.
                return match self.finish(now) {
                    Ok(()) => self.poll_output(now, buf),
                    Err(_) => Output::Close,
                };
            }
            self.packet_read_pending = true;
            return Output::ReadPacket {
                number: self.next_packet,
            };
        }
        match self.next_deadline() {
            Some(t) => Output::Timeout(t),
            None => Output::Wait,
        }
    }

    /// The answer to [`Output::ReadHeader`]: writes the Data packet carrying
    /// `bytes` into `buf` and returns its length ([3.2.5.8.1]).
    pub fn header_piece(
        &mut self,
        now: Instant,
        bytes: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, ServerError> {
        let media = self
            .media
            .ok_or(ServerError::Misuse("header_piece before accept_open"))?;
        if self.state != State::SendingHeader || !self.header_read_pending {
            return Err(ServerError::Misuse("header_piece without ReadHeader"));
        }
        let left = media.file_header_len - self.header_sent;
        let want = left.min(media.packet_size) as usize;
        if bytes.len() != want {
            return Err(ServerError::Misuse(
                "header_piece with other than the bytes asked for",
            ));
        }
        let last = want as u32 == left;
        let index = self.header_sent / media.packet_size;
        let d = DataPacketRepr {
            location_id: index,
            // interop-notes: every piece carries the ReadBlock's playIncarnation.
            play_incarnation: self.incarnation as u8,
            af_flags: if last { AF_HEADER_LAST } else { AF_HEADER_MORE },
            payload: bytes,
        };
        let n = d.emit(buf)?;
        self.header_sent += want as u32;
        self.header_read_pending = false;
        if last {
            // After a playlist entry's header [3.2.4.2] says TCP streams
            // on from the entry's start; libmms (the one open client that
            // follows playlists) answers the header with StreamSwitch and
            // StartPlaying and fails on a Data packet before its
            // ReportStreamSwitch. So both headers end in READY.
            // [3.2.5.8.1] After the last piece, INIT becomes READY.
            self.state = State::Ready;
            self.start_idle(now);
        }
        Ok(n)
    }

    fn emit_reply(&mut self, now: Instant, r: Reply, buf: &mut [u8]) -> Result<usize, Error> {
        let version = Utf16Str::Str(self.config.server_version);
        let mut filler = [0u8; PACKET_PAIR_MAX];
        let msg: Message<'_> = match r {
            Reply::ConnectedEx { packet_pair } => {
                let pi = if packet_pair {
                    MMS_USE_PACKET_PAIR
                } else {
                    MMS_DISABLE_PACKET_PAIR
                };
                ReportConnectedExRepr::new(pi, version).into()
            }
            Reply::FunnelInfo { pair: None } => ReportFunnelInfoRepr::new(self.client_id).into(),
            Reply::FunnelInfo {
                pair: Some((total, index)),
            } => {
                // The packet-pair filler: high-entropy bytes so that no
                // link compresses them away. No RNG in a sans-IO core: a
                // xorshift64* stream seeded from the Client-ID and the
                // message index is as incompressible as the spec needs.
                let len = total - TCP_HEADER_LEN - REPORT_FUNNEL_INFO_FIXED;
                let mut x =
                    (u64::from(self.client_id) << 32 | u64::from(index)) ^ 0x9E37_79B9_7F4A_7C15;
                for chunk in filler[..len].chunks_mut(8) {
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
                ReportFunnelInfoRepr {
                    play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
                    packet_pair: &filler[..len],
                    ..ReportFunnelInfoRepr::new(self.client_id)
                }
                .into()
            }
            Reply::ConnectedFunnel => ReportConnectedFunnelRepr::default().into(),
            Reply::DisconnectedFunnel(hr) => ReportDisconnectedFunnelRepr {
                hr,
                play_incarnation: 0,
            }
            .into(),
            Reply::ReadBlock { incarnation } => ReportReadBlockRepr {
                hr: HResult::S_OK,
                play_incarnation: incarnation,
                play_sequence: 0,
            }
            .into(),
            Reply::StreamSwitch => ReportStreamSwitchRepr { hr: HResult::S_OK }.into(),
            Reply::StartedPlaying { incarnation } => ReportStartedPlayingRepr {
                hr: HResult::S_OK,
                play_incarnation: incarnation,
                tiger_file_id: FILE_ID,
                unused1: 0,
            }
            .into(),
            Reply::EndOfStream { hr, incarnation } => ReportEndOfStreamRepr {
                hr,
                play_incarnation: incarnation,
            }
            .into(),
            // dwParam1 must be 0: FFmpeg treats non-zero at offset 40 as an error.
            Reply::Redirect { redirect_type } => ReportRedirectRepr {
                hr: HResult::S_OK,
                redirect_type,
                location: Utf16Str::Str(&self.redirect),
            }
            .into(),
            Reply::StartStriding { incarnation } => ReportStartStridingRepr {
                hr: HResult::S_OK,
                play_incarnation: incarnation,
                spare: 0,
            }
            .into(),
            Reply::StreamChange(m) => ReportStreamChangeRepr {
                hr: HResult::S_OK,
                tcp_hdr_incarnation: TCP_HDR_INCARNATION,
                packet_size: m.packet_size,
                header_size: m.file_header_len,
                bit_rate: m.bit_rate,
                stream_id: 0,
            }
            .into(),
            Reply::Ping => PingRepr {
                dw_param1: 0,
                dw_param2: 0,
            }
            .into(),
            Reply::OpenFile {
                hr,
                incarnation,
                media,
            } => {
                let m = media.unwrap_or_default();
                ReportOpenFileRepr {
                    hr,
                    play_incarnation: incarnation,
                    open_file_id: FILE_ID,
                    padding: 0,
                    file_name: 0,
                    file_attributes: m.attributes,
                    file_duration: m.duration_ms as f64 / 1000.0,
                    // [2.2.4.7] whole seconds, rounded up.
                    file_blocks: m.duration_ms.div_ceil(1000).min(u32::MAX as u64) as u32,
                    file_packet_size: m.packet_size,
                    file_packet_count: m.packet_count,
                    file_bit_rate: m.bit_rate,
                    file_header_size: m.file_header_len,
                }
                .into()
            }
        };
        let first = *self.first_sent.get_or_insert(now);
        let hdr = TcpMessageHeaderRepr {
            seq: self.seq,
            time_sent: (now - first).0 / 1000,
        };
        let n = hdr.emit_packet(&msg, buf)?;
        self.seq = self.seq.wrapping_add(1);
        // [3.2.5.2] Sending starts KeepAlive (once playing).
        self.arm_keepalive(now);
        Ok(n)
    }
}
