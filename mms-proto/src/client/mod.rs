//! [3.1] The client machine: one [`ClientMachine`] per TCP connection,
//! sans-IO.
//!
//! # Model
//!
//! The spec's State variable ([3.1.1]) is [`State`]: INIT, READY,
//! STREAMING, and CLOSED once the session is over. What the machine
//! waits for within a state is its [`Phase`]; an input the phase does not
//! expect is [`ClientError::Unexpected`] naming it
//! ([`Phase::waiting_for`]).
//!
//! ```text
//!  INIT       ConnectedEx ─▶ FunnelInfo ─▶ Funnel ─▶ Open ⇄ Challenged   (SecurityChallenge, respond)
//!                            (packet-pair) (UDP→TCP)  │
//!                                                     ▼ ReportOpenFile
//!                                                   Header
//!                                                     │ the last piece
//!  READY                                              ▼
//!                            ┌────────────────────▶ Ready ◀───────────────────────────────┐
//!                            │ end of stream, stop    │ play                              │ the entry's last piece
//!                            │                        ▼                                   │ (follow_playlist: plays on)
//!  STREAMING                 └─────────────────── Streaming ── ReportStreamChange ─▶ EntryHeader
//!  any phase ── error, redirect, CloseFile ─▶ Closed
//! ```
//!
//! The machine holds the phase, the [`Config`], the File-ID and content
//! numbers ([`FileInfo`]), and one sub-state per area of the spec; each
//! owns its [3.1.1] variables and the rules over them, in its own file:
//!
//! | file | owns | spec |
//! |---|---|---|
//! | `setup.rs` (`Setup`) | path, host-param, Server-Version, Auth-Scheme, Client-ID, FunnelInfo-Count, Packet-Pair-*, UDP-Selected, the challenge's cookie and answer | [3.1.4.1], [3.1.5.3]–[3.1.5.9] |
//! | `header.rs` (`HeaderRead`) | HeaderIncarnation, the read in progress and the cancelled one, piece order and length, the Header timer | [3.1.5.9.1], [3.1.5.12], [3.1.6.1] |
//! | `play.rs` (`Playback`) | PlayIncarnation(-For-Stop), Play-/Striding-/Stop-/Stream-Switch-Sent, Trick-Mode-Rate, the selection, current and superseded plays, playlist entries, [`Stats`] | [3.1.4.2]–[3.1.4.6], [3.1.5.14]–[3.1.5.19] |
//! | `auth.rs` (`ClientAuth`) | OpenFile's tokenData, what credentials were sent, the challenges received; Basic and NTLM answers | [3.1.5.6], [3.1.5.8] |
//! | `output.rs` (`Outbox`) | the queue of decided messages, TcpMessageHeader seq, CLIENT_LOG | [3.1.5.1], [2.2.1.1] |
//! | `event.rs`, `error.rs`, `config.rs` | what the application sees, why a session ends, the settings | |
//!
//! Places for what comes next, each a new sub-state in a new file: `udp`
//! (Data over UDP and resend requests, [3.1.4.7]; today a server that
//! accepts UDP ends the session with [`ClientError::Unsupported`] and a
//! datagram is ignored) and `live` (broadcasts).
//!
//! **Done.** Connect with `NSPlayer/…; {GUID}` (and the host-param through
//! a proxy) and the packet-pair request; the TCP packet-pair and its
//! bandwidth; ConnectFunnel over TCP, or UDP first with the fall-back to
//! TCP; OpenFile → redirect (both types) / challenge / ReportOpenFile;
//! the header by LocationId with AFFlags 0x04/0x08/0x0C and the Header
//! timer (CancelReadBlock, retry limit 4; it runs on TCP too, at least
//! [`Config::header_timeout`], so a server that never sends the header is
//! found); StreamSwitch with the complete selection before a play and the
//! changed entries while streaming (off as `(n, 0xFFFF, 2)`, on as
//! `(0xFFFF, n, 0)`); StartPlaying from a time, packet or byte offset with
//! a frameOffset stop and the acceleration fields for Server-Version ≥ 9;
//! StartStriding; media with LocationId and the 32-bit sequence; stop with
//! Logging; a play while streaming is stop → switch → play; the end of
//! stream by server version; Ping → Pong ([3.1.5.13]); CloseFile
//! ([3.1.4.8]). A failure HRESULT, a malformed or an unexpected message
//! end the session with a typed [`ClientError`].
//!
//! **Tolerated.** A superseded play's packets still in flight, and a
//! cancelled ReadBlock's pieces, are dropped (and counted,
//! [`Stats::stale`]); one ReportEndOfStream answering a StopPlaying that
//! crossed the server's own end is absorbed in READY. What servers in the
//! wild get wrong (`tolerate.rs`: media of another playIncarnation, a
//! refusal cut after its hr, a version of any shape, Data past the count
//! or not ASF, streams or time not asked for — the last two through
//! [`ClientMachine::trim`]) is accepted and counted in [`Stats`], or
//! refused with [`Config::strict`].
//!
//! **Playlists** ([3.1.5.19], [3.1.4.4]). ReportStreamChange
//! ([`Event::EntryChange`], counted by [`ClientMachine::entry`]) → the
//! entry's header ([`Event::HeaderPiece`]s) → READY. With
//! [`Config::follow_playlist`] (the default) the machine then plays on by
//! itself: at the next [`ClientMachine::poll_output`] it sends the
//! complete StreamSwitch and StartPlaying from the beginning. The
//! selection is taken then, not at the last piece, so an application
//! whose choice depends on the entry's header (bit rate, language) calls
//! [`ClientMachine::set_streams`] and [`ClientMachine::select`] when it
//! handles the last piece, as it does for the first header; one that does
//! nothing keeps its selection (limited to the streams it named). Without
//! `follow_playlist` the machine stays in READY and the application plays
//! or closes.
//!
//! # Run loop
//!
//! ```text
//! let mut c = ClientMachine::new(config, path, host_param)?;   // Connect queued
//! loop {
//!     match c.poll_output(now, &mut buf)? {          // buf: OUTPUT_BUF_LEN bytes
//!         Output::Transmit(Transmit::Tcp(n)) => write buf[..n] to the connection,
//!         Output::Transmit(Transmit::Udp { .. }) => unreachable for now,
//!         Output::Timeout(t) => { arm a timer for t; break }
//!         Output::Wait => break,
//!         Output::Close => { close the connection; break } }
//! }
//! // for each unit `wire::frame` cuts from the socket:
//! match c.handle_input(now, Input::tcp(frame, &buf))? { Some(Event::Packet { .. }) => …, … }
//! // when the timer fires: c.handle_timeout(now)?
//! // the application's requests: c.play(now, &Play { .. })?, c.select(set)?, c.stop()?, c.close()?
//! ```
//!
//! The machine owns no media bytes: header pieces and packets are handed
//! out as [`Event`]s borrowing the unit they came in. `now` goes to the
//! methods that can set a deadline or record a time, and to no other.

mod auth;
mod config;
mod error;
mod event;
mod header;
mod output;
mod play;
mod setup;
mod tolerate;
mod udp;

pub use auth::{Answer, MAX_CHALLENGES, Preauth};
pub use config::{Config, MAX_HOST_LEN, MAX_PATH_LEN, MAX_TOKEN_LEN};
pub use error::ClientError;
pub use event::{Event, FileInfo, Redirect};
pub use header::{HEADER_RETRY_LIMIT, UDP_HEADER_RETRY_LIMIT};
pub use output::{OUTPUT_BUF_LEN, Output};
pub use play::{Play, Start, Stats, frame_offset};
pub use tolerate::Trimmed;
pub use udp::{MAX_MISSING, UdpStats};

pub use crate::machine::{Input, State, Transmit, Unit};

use crate::time::Instant;
use crate::wire::text::{AuthenPackage, Version};
use crate::wire::*;

use header::HeaderRead;
use output::{Outbox, Pending};
use play::Playback;
use setup::Setup;

/// What the machine waits for: finer than [`State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// ReportConnectedEX ([3.1.5.3]).
    ConnectedEx,
    /// ReportFunnelInfo, the packet-pair's too ([3.1.5.4]).
    FunnelInfo,
    /// ReportConnectedFunnel or ReportDisconnectedFunnel ([3.1.5.5]).
    Funnel,
    /// The answer to OpenFile ([3.1.5.7]–[3.1.5.9]).
    Open,
    /// The application's answer to a SecurityChallenge ([3.1.5.8]).
    Challenged,
    /// The ASF header's pieces ([3.1.5.12]).
    Header,
    /// A request of the application (READY).
    Ready,
    /// Data packets, reports, ReportEndOfStream.
    Streaming,
    /// After ReportStreamChange: the next entry's header ([3.1.5.19]).
    EntryHeader,
    /// Nothing: the session is over.
    Closed,
}

impl Phase {
    /// What the phase waits for, in words (for errors and logs).
    pub const fn waiting_for(self) -> &'static str {
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

    /// The State variable in this phase.
    pub const fn state(self) -> State {
        match self {
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
}

/// [3.1] One client session on one TCP connection (see the module doc).
#[derive(Debug, Clone)]
pub struct ClientMachine {
    config: Config,
    phase: Phase,
    /// File-ID and the content's numbers (ReportOpenFile, or the entry's
    /// after a ReportStreamChange).
    file: Option<FileInfo>,
    setup: Setup,
    header: HeaderRead,
    play: Playback,
    udp: udp::UdpRecv,
    auth: auth::ClientAuth,
    out: Outbox,
}

impl ClientMachine {
    /// A session that will open `path` (the URL's path as the server knows
    /// it: percent-decoding is the caller's); `host_param` is set when the
    /// connection goes to a proxy ([3.1.4.1.1]). Connect is queued.
    pub fn new(config: Config, path: &str, host_param: Option<&str>) -> Result<Self, ClientError> {
        let mut c = ClientMachine {
            setup: Setup::new(&config, path, host_param)?,
            config,
            phase: Phase::ConnectedEx,
            file: None,
            header: HeaderRead::new(),
            play: Playback::new(),
            udp: udp::UdpRecv::default(),
            auth: auth::ClientAuth::default(),
            out: Outbox::default(),
        };
        c.out.push(Pending::Connect)?;
        Ok(c)
    }

    // ----- accessors ---------------------------------------------------

    /// The State variable.
    pub fn state(&self) -> State {
        self.phase.state()
    }
    /// What the machine waits for.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// Server-Version.
    pub fn server_version(&self) -> Option<Version> {
        self.setup.server_version()
    }
    /// Auth-Scheme.
    pub fn auth_scheme(&self) -> AuthenPackage {
        self.setup.auth_scheme()
    }
    /// Client-ID (nCubs of ReportFunnelInfo).
    pub fn client_id(&self) -> u32 {
        self.setup.client_id()
    }
    /// What ReportOpenFile said (or the entry's numbers after a
    /// ReportStreamChange).
    pub fn file(&self) -> Option<FileInfo> {
        self.file
    }
    /// The packet-pair bandwidth, bit/s.
    pub fn bandwidth(&self) -> Option<u64> {
        self.setup.bandwidth()
    }
    /// Trick-Mode-Rate: the current or last play is a stride
    /// ([3.1.4.4], [3.1.4.6] make it available to the higher layer).
    pub fn trick_mode(&self) -> bool {
        self.play.trick_mode()
    }
    /// Whether Data goes over UDP (UDP-Selected).
    pub fn udp_selected(&self) -> bool {
        self.setup.udp_selected()
    }
    /// The playlist entry being played or read (0 for the first).
    pub fn entry(&self) -> u32 {
        self.play.entry()
    }
    /// Statistics of the current or last play.
    pub fn stats(&self) -> Stats {
        self.play.stats()
    }
    /// The session's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- requests of the session ([3.1.4.8]) --------------------------

    /// Ends the session: stops a play first, then CloseFile and close
    /// ([3.1.4.8]).
    pub fn close(&mut self) -> Result<(), ClientError> {
        match self.phase {
            Phase::Closed => Ok(()),
            Phase::Streaming | Phase::EntryHeader | Phase::Ready => self.close_play(),
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

    /// Handles one unit of input. A TCP unit is what [`frame`] cut: a
    /// TcpMessageHeader packet or a Data packet ([3.1.5.2]). A UDP
    /// datagram is a Data packet when UDP is in place and it comes from
    /// [`Config::server_udp`]; anything else is counted and dropped
    /// ([`UdpStats::foreign`]): a datagram never ends the session. An `Err` ends
    /// the session; it is [`ClientError::Misuse`] only when the runtime let
    /// the output queue fill up without calling
    /// [`poll_output`](Self::poll_output).
    pub fn handle_input<'p>(
        &mut self,
        now: Instant,
        input: Input<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        if self.phase == Phase::Closed {
            return Ok(None);
        }
        let r = match input {
            Input::Tcp(Unit::Command(packet)) => self.handle_command(now, packet),
            Input::Tcp(Unit::Data(packet)) => self.handle_data(packet),
            Input::Udp { source, contents } => self.handle_datagram(now, source, contents),
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
            .ok_or(Error::invalid("TcpMessageHeader", "no message"))?
            .map_err(|e| self.short_report(packet, e))?;
        if self.config.strict {
            message.check_strict()?;
            if messages.next().is_some() {
                return Err(Error::invalid("TcpMessageHeader", "more than one message").into());
            }
        }
        self.on_message(now, message)
    }

    /// Which message each phase takes, and who handles it.
    fn on_message<'p>(
        &mut self,
        now: Instant,
        message: Message<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        use Message as M;
        use Phase as P;
        let id = message.id();
        match (self.phase, message) {
            // [3.1.5.13] Ping → Pong, in any phase.
            (_, M::Ping(_)) => {
                self.out.push(Pending::Pong)?;
                Ok(None)
            }
            (P::ConnectedEx, M::ReportConnectedEx(r)) => self.on_connected_ex(&r),
            (P::FunnelInfo, M::ReportFunnelInfo(r)) => self.on_funnel_info(now, &r),
            (P::Funnel, M::ReportDisconnectedFunnel(r)) => self.on_disconnected_funnel(&r),
            (P::Funnel, M::ReportConnectedFunnel(r)) => self.on_connected_funnel(&r),
            (P::Open, M::ReportRedirect(r)) => self.on_redirect(&r),
            (P::Open, M::SecurityChallenge(r)) => self.on_challenge(&r),
            (P::Open, M::ReportOpenFile(r)) => self.on_open_file(now, &r),
            // [3.1.5.10] on TCP the header pieces follow (in any order with
            // the report: tolerated).
            (P::Header | P::Ready, M::ReportReadBlock(r)) => {
                ClientError::check(id, r.hr)?;
                Ok(None)
            }
            (P::Ready | P::Streaming, M::ReportStreamSwitch(r))
                if self.play.stream_switch_sent() =>
            {
                self.on_stream_switch(&r)
            }
            (P::Ready, M::ReportStartedPlaying(r)) if self.play.play_sent() => {
                self.on_started(id, r.hr)
            }
            (P::Ready, M::ReportStartStriding(r)) if self.play.striding_sent() => {
                self.on_started(id, r.hr)
            }
            (P::Streaming, M::ReportEndOfStream(r)) => self.on_end_of_stream(now, &r),
            (P::Ready, M::ReportEndOfStream(r)) if self.play.stray_end_of_stream() => {
                self.on_stray_end_of_stream(&r)
            }
            (P::Streaming, M::ReportStreamChange(r)) if !self.play.stop_sent() => {
                self.on_stream_change(&r)
            }
            (phase, m) => Err(ClientError::Unexpected {
                message: m.id(),
                phase,
            }),
        }
    }

    /// A Data packet ([2.2.2]): a header piece while one is read, else
    /// media of a play.
    fn handle_data<'p>(&mut self, unit: &'p [u8]) -> Result<Option<Event<'p>>, ClientError> {
        let view = DataPacket::new_checked(unit)?;
        let d = DataPacketRepr::parse(&view)?;
        if self.config.strict {
            d.check_strict()?;
        }
        if self.udp.active {
            // [3.2.5.11.1] says UDP once Client-Port is set; some servers
            // accept UDP and go on over TCP (issue: servers in the wild).
            if self.config.strict {
                return Err(ClientError::UnexpectedData(
                    "over TCP although the server accepted UDP",
                ));
            }
            self.udp.stats.tcp_data += 1;
        }
        match self.phase {
            Phase::Header | Phase::EntryHeader => self.header_data(&d),
            _ => self.media_data(&d, None),
        }
    }
}
