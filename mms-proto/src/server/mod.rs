//! [3.2] The server machine: one per TCP connection, sans-IO.
//!
//! # Model
//!
//! A [`ServerMachine`] holds the abstract data model of [3.2.1] and what it
//! needs to serve one client: never the media bytes (they are pulled from
//! the application, [`Output::ReadHeader`] / [`Output::ReadPacket`]), no
//! clock (`now` is passed in), no randomness (the Client-ID and anything
//! random come from the runtime). Its state is split by spec area; each
//! part owns its fields and the rules for them:
//!
//! | part (file) | owns | spec |
//! |---|---|---|
//! | [`ServerMachine`] (`mod.rs`) | the phase, Client-ID, Incarnation, the media; input dispatch | [3.2.1], [3.2.5.1] |
//! | `Setup` (`setup.rs`) | Client-Version, Client-Port, the open being decided, the redirect | [3.2.5.3]–[3.2.5.6] |
//! | `HeaderSend` (`header.rs`) | the header transfer and its pacing | [3.2.5.8], [3.2.5.8.1], [3.2.5.9] |
//! | `Streams` (`streams.rs`) | the selection, key-frame starts, replaced streams | [3.2.5.10] |
//! | `Playback` (`play.rs`) | the next packet, the outstanding read, Sequence, the stop, striding, playlist entries | [3.2.5.11], [3.2.5.12], [3.2.5.14], [3.2.4.1], [3.2.4.2] |
//! | `Pacer` (`pacing.rs`) | the play's content clock, fast start | [3.2.5.11.1], [2.2.4.25] |
//! | `Timers` (`timers.rs`) | Idle-Timeout, KeepAlive, the linger | [3.2.2], [3.2.6] |
//! | `Replies` (`output.rs`) | the reply queue, TcpMessageHeader seq and timeSent | [3.2.5.2] |
//! | [`drain`] (`drive.rs`) | the one loop that answers the machine's content requests | — |
//!
//! | `Auth` (`auth.rs`) | the challenge sent and its cookie, the NTLM exchange and its form, the failures | [3.2.5.6], [3.2.5.7] |
//! | `Udp` (`udp.rs`) | the UDP destination, the UDP packet-pair, resend requests and their budget, the held end of stream | [3.2.5.5], [3.2.5.13], [4.4.1] |
//! | [`ResendRing`] (`resend.rs`) | the runtime's copies of what it sent over UDP, by sequence | [3.2.5.13] |
//!
//! | live (`live.rs`, over `Playback` and `Streams`) | broadcast content: the join, reads that wait for the source, skips, a new header, the end | [2.2.2], [3.2.5.11.1], [3.2.4.1] |
//!
//! # Phases
//!
//! The spec's State ([`State`]: INIT, READY, STREAMING) split where the
//! machine waits for different things ([`Phase`]):
//!
//! ```text
//! AwaitConnect -Connect-> Init -OpenFile-> OpenPending -accept_open-> Opened
//!   Init: FunnelInfo, ConnectFunnel          OpenPending -reject/redirect-> Closed
//!   OpenPending -authenticate_open: challenge-> Challenged -SecurityResponse-> OpenPending
//! Opened -ReadBlock-> SendingHeader -last piece-> Ready
//!   SendingHeader -CancelReadBlock-> Opened
//! Ready -StartPlaying/StartStriding-> Streaming (or SeekPending -seek_to-> Streaming)
//! Streaming, SeekPending, Ready -StopPlaying-> Ready;  Streaming -end of content-> Ready
//! Streaming -entry ends, next_entry-> SendingHeader (playlists, [3.2.4.2])
//! any -CloseFile / Idle-Timeout / linger-> Closed
//! ```
//!
//! # Run loop
//!
//! ```text
//! let events = machine.handle_input(now, Input::tcp(frame, &buf))?;   // -> the application
//! machine.handle_timeout(now)?                        // when the deadline passed
//! loop { match machine.poll_output(now, &mut buf)? {
//!     Output::Transmit(Transmit::Tcp(n)) => write buf[..n],
//!     Output::ReadHeader { offset, len } => read them, then
//!         n = machine.header_piece(now, &bytes, &mut buf)?; write buf[..n],
//!     Output::ReadPacket { number } => read packet `number`, then
//!         match machine.data_packet(now, number, &bytes, &mut buf)? {
//!             Data::Send(n) => write buf[..n],
//!             Data::NotBefore(t) => nothing until t: ReadPacket comes again then,
//!             Data::Skipped | Data::Cancelled => {} },
//!     Output::NextEntry => open the next playlist entry: next_entry(now, media)?,
//!     Output::Timeout(t) => arm a timer for t; break,
//!     Output::Wait => break,
//!     Output::Close => close the connection; break } }
//! ```
//!
//! [`drain`] is that loop, over a [`Driver`] that reads content and takes
//! the bytes: the runtime, the simulations and the fuzz oracle all use it.
//! The machine decides everything; the runtime reads files and moves bytes.
//!
//! # Tolerance
//!
//! interop-notes' list (a new StartPlaying while streaming is a seek, a
//! valid locationId wins over position 0.0, no Ping before StartPlaying,
//! openFileId 1, a linger after EndOfStream) are transitions; the
//! [`Config::strict`] setting also applies every `check_strict()`.

mod auth;
mod config;
mod drive;
mod error;
mod event;
mod header;
mod live;
mod output;
mod pacing;
mod play;
mod resend;
mod setup;
mod streams;
mod timers;
mod udp;

pub use auth::{
    AuthOffer, Authn, Authority, MAX_CHALLENGE_TOKEN, MAX_REALM_LEN, MAX_USER_LEN, UserStore,
};
pub use config::{Config, Media};
pub use drive::{Drained, DriveError, Driver, Sent, drain};
pub use error::ServerError;
pub use event::{Data, Event, Events, Fetch, MAX_EVENTS, Output};
pub use resend::ResendRing;
pub use setup::MAX_REDIRECT_LEN;
pub use udp::{RESEND_QUEUE, UDP_PAIR_LOCATION, UDP_PAIR_PAYLOAD, UdpStats};

pub use crate::machine::{Input, State, Transmit, Unit};
use crate::time::Instant;
use crate::wire::text::Version;
use crate::wire::{Message, TcpMessageHeaderRepr, parse_packet};
use output::{Replies, Reply};

/// The File-ID the server gives (interop-notes: VLC accepts only 1 or 2).
const FILE_ID: u32 = 1;

/// What the machine is waiting for: [`State`], split finer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Before Connect.
    AwaitConnect,
    /// INIT: connected; FunnelInfo, ConnectFunnel or OpenFile expected.
    Init,
    /// INIT: OpenFile received, waiting for the application's answer.
    OpenPending,
    /// INIT: a SecurityChallenge was sent ([3.2.5.6], [3.2.5.7]);
    /// SecurityResponse expected.
    Challenged,
    /// INIT: ReportOpenFile sent; ReadBlock expected.
    Opened,
    /// Sending the ASF file header ([3.2.5.8.1]).
    SendingHeader,
    /// READY: the header was sent.
    Ready,
    /// READY: StartPlaying asked for a time; waiting for
    /// [`ServerMachine::seek_to`].
    SeekPending,
    /// STREAMING: sending data packets.
    Streaming,
    /// The session is over.
    Closed,
}

impl Phase {
    /// The spec's State of this phase.
    pub const fn state(self) -> State {
        match self {
            Phase::AwaitConnect
            | Phase::Init
            | Phase::OpenPending
            | Phase::Challenged
            | Phase::Opened
            | Phase::SendingHeader => State::Init,
            Phase::Ready | Phase::SeekPending => State::Ready,
            Phase::Streaming => State::Streaming,
            Phase::Closed => State::Closed,
        }
    }

    /// What the machine waits for in this phase (for messages).
    pub const fn waiting_for(self) -> &'static str {
        match self {
            Phase::AwaitConnect => "Connect",
            Phase::Init => "FunnelInfo, ConnectFunnel or OpenFile",
            Phase::OpenPending => "the application's answer to OpenFile",
            Phase::Challenged => "SecurityResponse (or another OpenFile)",
            Phase::Opened => "ReadBlock",
            Phase::SendingHeader => "the end of the header (CancelReadBlock)",
            Phase::Ready => "a request (READY)",
            Phase::SeekPending => "the application's answer to a time seek",
            Phase::Streaming => "StopPlaying, StreamSwitch or a new play (STREAMING)",
            Phase::Closed => "nothing (closed)",
        }
    }
}

/// One server session ([3.2]).
#[derive(Debug, Clone)]
pub struct ServerMachine {
    config: Config,
    phase: Phase,
    /// Client-ID ([3.2.1]): the nCubs of ReportFunnelInfo.
    client_id: u32,
    /// Incarnation ([3.2.1]): of the latest ReadBlock, then of the play;
    /// labels header pieces and data packets.
    incarnation: u32,
    /// The content accepted with [`ServerMachine::accept_open`] (or the
    /// current playlist entry's).
    media: Option<Media>,
    setup: setup::Setup,
    header: header::HeaderSend,
    streams: streams::Streams,
    play: play::Playback,
    pacer: pacing::Pacer,
    timers: timers::Timers,
    udp: udp::Udp,
    auth: auth::Auth,
    out: Replies,
}

impl ServerMachine {
    /// A new session; `client_id` SHOULD be random and MUST differ between
    /// concurrent sessions ([3.2.3]).
    pub fn new(config: Config, client_id: u32) -> Self {
        Self {
            config,
            phase: Phase::AwaitConnect,
            client_id,
            incarnation: 0,
            media: None,
            setup: setup::Setup::default(),
            header: header::HeaderSend::default(),
            streams: streams::Streams::default(),
            play: play::Playback::default(),
            pacer: pacing::Pacer::default(),
            timers: timers::Timers::default(),
            udp: udp::Udp::default(),
            auth: auth::Auth::default(),
            out: Replies::default(),
        }
    }

    /// What the machine waits for.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The spec's State variable.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// Client-Version: what the client's subscriberName said, if it parsed.
    pub fn client_version(&self) -> Option<Version> {
        self.setup.client_version
    }

    /// Client-Port: the UDP port the client asked for (0 = TCP).
    pub fn client_port(&self) -> u16 {
        self.setup.client_port
    }

    /// The session's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one unit of input and returns the events for the
    /// application, borrowing from it. A TcpMessageHeader packet's messages
    /// are handled in order ([3.2.5.1]); a Data packet from the client is
    /// an error; a datagram is a resend request ([3.2.5.13]), checked and
    /// counted, never an end of the session.
    pub fn handle_input<'p>(
        &mut self,
        now: Instant,
        input: Input<'p>,
    ) -> Result<Events<'p>, ServerError> {
        let mut events = Events::new();
        if self.phase == Phase::Closed {
            return Ok(events);
        }
        self.timers.arm_setup(now, self.config.setup_timeout);
        let packet = match input {
            Input::Tcp(Unit::Command(p)) => p,
            Input::Tcp(Unit::Data(_)) => {
                return Err(ServerError::UnexpectedData(
                    "from the client (Data packets only flow to it)",
                ));
            }
            Input::Udp { source, contents } => {
                self.on_datagram(now, source, contents);
                return Ok(events);
            }
        };
        if self.config.strict {
            TcpMessageHeaderRepr::check_strict(packet)?;
        }
        let (_, messages) = parse_packet(packet)?;
        // [3.2.5.1] Receiving stops KeepAlive; sending starts it again.
        self.timers.touch_keepalive(now, self.config.keepalive);
        // A held ReportEndOfStream goes before the answer to anything new.
        self.release_end(now, true)?;
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
        use Phase as P;
        match (self.phase, m) {
            // [3.2.5.16] Pong: the client is alive; nothing to answer.
            (_, Message::Pong(_)) => Ok(None),
            // [3.2.5.17] CloseFile: the session ends.
            (_, Message::CloseFile(_)) => {
                self.close();
                Ok(Some(Event::CloseRequested))
            }
            // [3.2.5.15] Logging, once a file is open.
            (
                P::Opened | P::SendingHeader | P::Ready | P::SeekPending | P::Streaming,
                Message::Logging(l),
            ) => Ok(Some(Event::Logging(l))),
            (P::AwaitConnect, Message::Connect(c)) => self.on_connect(now, &c).map(|()| None),
            (P::Init, Message::FunnelInfo(f)) => self.on_funnel_info(&f).map(|()| None),
            (P::Init, Message::ConnectFunnel(f)) => self.on_connect_funnel(&f).map(|()| None),
            (P::Init | P::Challenged | P::Opened | P::Ready, Message::OpenFile(o)) => {
                Ok(Some(self.on_open_file(&o)))
            }
            // [3.2.5.8] ReadBlock: ReportReadBlock, then the header.
            (P::Opened | P::Ready, Message::ReadBlock(r)) => {
                if r.open_file_id != FILE_ID {
                    return Err(ServerError::WrongOpenFileId(r.open_file_id));
                }
                self.incarnation = r.play_incarnation;
                self.start_udp_pair();
                self.out.push(Reply::ReadBlock {
                    incarnation: r.play_incarnation,
                })?;
                self.start_header(now);
                Ok(None)
            }
            // [3.2.5.9] CancelReadBlock: drop the rest of the header.
            (P::SendingHeader, Message::CancelReadBlock(_)) => {
                self.cancel_header();
                Ok(None)
            }
            (P::Opened | P::Ready, Message::CancelReadBlock(_)) => Ok(None),
            // [3.2.5.10] StreamSwitch: the new selection; the reply.
            (P::Opened | P::Ready | P::SeekPending | P::Streaming, Message::StreamSwitch(sw)) => {
                let key_less = self
                    .media
                    .map_or(Default::default(), |m| m.without_key_frames);
                self.streams
                    .switch(&sw, self.phase == P::Streaming, key_less);
                self.out.push(Reply::StreamSwitch)?;
                Ok(None)
            }
            (P::Ready | P::Streaming, Message::StartPlaying(p)) => {
                let accel = p.acceleration.map(|a| (a.bandwidth, a.duration));
                self.on_start(now, play::start_request!(p), p.stop_at(), None, accel)
            }
            (P::Ready | P::Streaming, Message::StartStriding(p)) => {
                let end = crate::wire::StopAt::End;
                self.on_start(now, play::start_request!(p), end, Some(p.rate), None)
            }
            (P::Streaming | P::SeekPending | P::Ready, Message::StopPlaying(p)) => {
                self.on_stop(now, p.play_incarnation).map(|()| None)
            }
            // [3.2.5.7] SecurityResponse: only to a challenge.
            (P::Challenged, Message::SecurityResponse(r)) => {
                Ok(Some(self.on_security_response(&r)))
            }
            (phase, m) => Err(ServerError::Unexpected {
                message: m.id(),
                phase,
            }),
        }
    }
}
