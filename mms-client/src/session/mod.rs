//! The tokio binding of [`mms_proto::client`]: it moves bytes between a
//! `TcpStream` and the machine and keeps the machine's one timer. Every
//! protocol decision is the machine's.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mms_proto::asf::{HeaderSummary, StreamSet};
use mms_proto::client::{
    ClientError, ClientMachine, Event, FileInfo, Input, OUTPUT_BUF_LEN, Output, Play, Redirect,
    State, Stats, Transmit,
};
use mms_proto::time::Instant;
use mms_proto::wire::text::{Guid, Version};
use mms_proto::wire::{Limits, Status, frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::choice::{StreamChoice, StreamDesc, choose, describe};
use crate::udp::{Reorder, Transport};
use crate::url::unbracket;
use crate::{Error, MmsUrl};

mod connect;
mod requests;

pub use connect::connect;
use connect::connect_following;
mod udp;

/// Settings of [`connect`].
#[derive(Debug, Clone)]
pub struct Options {
    /// From the TCP connect to the ASF header (READY), redirects included.
    pub connect_timeout: Duration,
    /// Longest silence of the server while the client waits for it.
    pub read_timeout: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: u8,
    /// Ask for the TCP packet-pair bandwidth probe.
    pub packet_pair: bool,
    /// Connect through this MMS proxy (`host`, `port`).
    pub proxy: Option<(String, u16)>,
    /// Which streams to ask for (again for each playlist entry).
    pub streams: StreamChoice,
    /// Go on into the next entry of a server-side playlist (the
    /// machine's [`Config::follow_playlist`](mms_proto::client::Config::follow_playlist)).
    pub follow_playlist: bool,
    /// The client GUID ([3.1.4.1.1]); random per session when `None`.
    pub guid: Option<Guid>,
    /// Largest ASF header accepted, bytes.
    pub max_header_len: u32,
    /// How Data packets travel for an `mms://` URL (`mmsu://` is UDP,
    /// `mmst://` TCP, whatever this says).
    pub transport: Transport,
    /// The local UDP port for Data over UDP; 0 or `None`: any free one.
    pub udp_port: Option<u16>,
    /// Refuse what servers in the wild send against the spec (the
    /// machine's [`Config::strict`](mms_proto::client::Config::strict)) instead of tolerating and counting it
    /// in [`Stats`] (see [`Session::stats`]).
    pub strict: bool,
    /// Ask every play to come accelerated: the whole content at this many
    /// bit/s (StartPlaying's dwAccelBandwidth and dwLinkBandwidth, with
    /// dwAccelDuration the content's duration, [2.2.4.25]) — a download
    /// faster than real time. Sent to servers of version 9 or later only
    /// ([3.1.4.2.1]); a server may ignore it. A [`Play`] that names its
    /// own [`Play::acceleration`] keeps it.
    pub acceleration: Option<u32>,
    /// Credentials for protected streams; `None`: the URL's
    /// `user:password@`, if any (used only on the URL's host).
    pub login: Option<crate::Login>,
    /// Which schemes the credentials may travel in.
    pub auth: crate::AuthMode,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_redirects: 5,
            packet_pair: false,
            proxy: None,
            streams: StreamChoice::All,
            follow_playlist: true,
            guid: None,
            max_header_len: 16 << 20,
            transport: Transport::Auto,
            udp_port: None,
            strict: false,
            acceleration: None,
            login: None,
            auth: crate::AuthMode::Auto,
        }
    }
}

/// An ASF data packet received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// LocationId: its number in the content.
    pub location_id: u32,
    /// The 32-bit Data packet sequence.
    pub sequence: u32,
    /// Which playlist entry it belongs to (0 for the first).
    pub entry: u32,
    /// The packet as sent (padding stripped: [`mms_proto::asf::repad`]
    /// restores the fixed size).
    pub data: Bytes,
}

enum Setup {
    Ready,
    Redirect(Hop),
}

/// Where a redirect sends the next connection, owned.
#[derive(Debug)]
enum Hop {
    Url(MmsUrl),
    Proxy(Option<(String, u16)>),
}

/// What the machine said, owned.
#[derive(Debug)]
enum Happened {
    Packet(Packet),
    /// A header is in and the stream choice applied to it.
    HeaderDone,
    Playing,
    EndOfStream {
        ready: bool,
        stopped: bool,
    },
    Redirect(Hop),
    Nothing,
}

/// An open MMS session: the header is in; play, seek, stride, select,
/// read packets, stop, close. Dropping it closes the connection.
#[derive(Debug)]
pub struct Session {
    io: TcpStream,
    machine: ClientMachine,
    epoch: std::time::Instant,
    input: BytesMut,
    out: Vec<u8>,
    url: MmsUrl,
    options: Options,
    header: Bytes,
    building: Vec<u8>,
    /// The play ended (READY) and no packets are coming.
    ended: bool,
    /// Data over UDP arrives here (when asked for).
    udp: Option<UdpSocket>,
    /// Data packets received, over UDP or TCP (a server may accept UDP and
    /// send over TCP): none means the UDP path is blocked.
    datagrams: u64,
    /// Packets over UDP put back in sequence order.
    reorder: Reorder,
    /// An end of stream held while lost packets are still asked for.
    held_end: Option<Happened>,
    /// What datagrams made happen (a header completed over UDP), for
    /// `next` to return.
    happened: VecDeque<Happened>,
    /// The server closed TCP while an end of stream was held: nothing more
    /// will be resent.
    tcp_closed: bool,
    /// Where [`ClientMachine::trim`] rewrites a packet.
    trimmed: Vec<u8>,
    /// A session before this one asked for UDP and no datagram came.
    udp_blocked: bool,
    /// When Data last arrived (or the session began).
    last_data: std::time::Instant,
    /// The play asked for last, and the last packet handed out of it: a
    /// fall-back to TCP goes on from there.
    playing: Option<Play>,
    last_location: Option<u32>,
    /// Per video stream, the packet where its latest key frame began: a
    /// fall-back starts there (the server starts video at a key frame) and
    /// drops what was handed out already.
    key_starts: std::collections::BTreeMap<u8, u32>,
    /// Packets below this were handed out already (after a fall-back).
    skip_below: Option<u32>,
    /// The UDP figures of the session this one replaced by falling back.
    replaced_udp: Option<mms_proto::client::UdpStats>,
    /// Where a datagram is received.
    datagram_buf: Vec<u8>,
}

impl Session {
    fn new(io: TcpStream, machine: ClientMachine, url: MmsUrl, options: Options) -> Self {
        Self {
            io,
            machine,
            epoch: std::time::Instant::now(),
            input: BytesMut::with_capacity(128 * 1024),
            out: vec![0; OUTPUT_BUF_LEN],
            url,
            options,
            header: Bytes::new(),
            building: Vec::new(),
            ended: true,
            udp: None,
            datagrams: 0,
            reorder: Reorder::default(),
            held_end: None,
            happened: VecDeque::new(),
            tcp_closed: false,
            trimmed: Vec::new(),
            udp_blocked: false,
            last_data: std::time::Instant::now(),
            playing: None,
            last_location: None,
            key_starts: Default::default(),
            skip_below: None,
            replaced_udp: None,
            datagram_buf: vec![0; 65_536],
        }
    }

    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed().as_micros() as u64)
    }

    fn machine_error(&self, e: ClientError) -> Error {
        Error::from_machine(e, &self.url.path)
    }

    /// Writes what the machine has to send; returns its timer.
    async fn flush(&mut self) -> Result<Option<Instant>, Error> {
        loop {
            let now = self.now();
            match self.machine.poll_output(now, &mut self.out) {
                Ok(Output::Transmit(Transmit::Udp { destination, len })) => {
                    // A lost request is asked again by the machine.
                    if let Some(u) = &self.udp {
                        let _ = u.send_to(&self.out[..len], destination).await;
                    }
                }
                Ok(Output::Transmit(t)) => self.io.write_all(&self.out[..t.len()]).await?,
                Ok(Output::Timeout(t)) => return Ok(Some(t)),
                Ok(Output::Wait) => return Ok(None),
                Ok(Output::Close) => {
                    let _ = self.io.shutdown().await;
                    return Ok(None);
                }
                Err(e) => return Err(self.machine_error(e)),
            }
        }
    }

    /// Runs the machine until it has something to say. Over UDP, packets
    /// come out in sequence order, and an end of stream only once nothing
    /// lost is still asked for.
    async fn next(&mut self) -> Result<Happened, Error> {
        let limits = Limits::default();
        loop {
            if let Some(h) = self.happened.pop_front() {
                return Ok(h);
            }
            if let Some(p) = self.reorder.ready.pop_front() {
                return Ok(Happened::Packet(p));
            }
            if self.held_end.is_some() && (self.machine.udp_missing() == 0 || self.tcp_closed) {
                self.reorder.release(self.machine.udp_settled(), true);
                if let Some(p) = self.reorder.ready.pop_front() {
                    return Ok(Happened::Packet(p));
                }
                if let Some(h) = self.held_end.take() {
                    return Ok(h);
                }
            }
            let timer = self.flush().await?;
            // Sending may have given up the last missing packets.
            if self.held_end.is_some() && (self.machine.udp_missing() == 0 || self.tcp_closed) {
                continue;
            }
            if self.machine.state() == State::Closed && self.input.is_empty() {
                return Err(Error::Protocol(ClientError::ConnectionClosed));
            }
            let f = match frame(&self.input, &limits) {
                Ok(Status::Complete(f)) => Some(f),
                Ok(Status::Partial(_)) => None,
                Err(e) => {
                    let e = ClientError::Malformed(e);
                    return Err(self.machine_error(e));
                }
            };
            if let Some(f) = f {
                if matches!(f, mms_proto::wire::Frame::Data(_)) {
                    self.datagrams += 1;
                    self.last_data = std::time::Instant::now();
                }
                let unit = self.input.split_to(f.len()).freeze();
                let now = self.now();
                let before = self.machine.stats();
                let udp_before = self.machine.udp_stats();
                let ev = self
                    .machine
                    .handle_input(now, Input::tcp(f, &unit))
                    .map_err(|e| Error::from_machine(e, &self.url.path))?;
                let happened = match ev {
                    None => Happened::Nothing,
                    Some(ev) => self.own(&unit, ev)?,
                };
                crate::tolerance::note(&before, &self.machine.stats());
                crate::tolerance::note_udp(&udp_before, &self.machine.udp_stats());
                // Data over TCP is in order: only datagrams are sorted.
                let happened = match happened {
                    p @ Happened::Packet(_) => p,
                    h => self.sort(h),
                };
                match happened {
                    Happened::Nothing => continue,
                    h => return Ok(h),
                }
            }
            self.read_more(timer).await?;
        }
    }

    fn own(&mut self, unit: &Bytes, ev: Event<'_>) -> Result<Happened, Error> {
        Ok(match ev {
            Event::Packet {
                location_id,
                sequence,
                data,
            } => match crate::tolerance::trim(&mut self.machine, data, &mut self.trimmed)
                .map_err(|e| Error::from_machine(e, &self.url.path))?
            {
                None => Happened::Nothing,
                Some(kept) => Happened::Packet(Packet {
                    location_id,
                    sequence,
                    entry: self.machine.entry(),
                    data: kept.map_or_else(|| unit.slice_ref(data), Bytes::copy_from_slice),
                }),
            },
            Event::HeaderPiece { data, first, last } => {
                if first {
                    self.building.clear();
                }
                self.building.extend_from_slice(data);
                if last {
                    self.header = Bytes::from(std::mem::take(&mut self.building));
                    // The header's streams and the choice over them,
                    // before the machine plays a followed playlist entry
                    // (an entry not followed ends the stream: no choice).
                    if self.machine.entry() == 0 || self.options.follow_playlist {
                        let all = self.summary()?.all_streams();
                        self.machine.set_streams(all);
                        self.apply_choice()?;
                    }
                    Happened::HeaderDone
                } else {
                    Happened::Nothing
                }
            }
            Event::Playing => Happened::Playing,
            Event::EndOfStream { ready, stopped, .. } => Happened::EndOfStream { ready, stopped },
            Event::Redirect(Redirect::Url {
                scheme,
                host,
                port,
                path,
            }) => Happened::Redirect(Hop::Url(MmsUrl::from_parts(
                scheme,
                &host.to_string_lossy(),
                port,
                &path.to_string_lossy(),
            )?)),
            Event::Redirect(Redirect::Proxy(proxy)) => {
                Happened::Redirect(Hop::Proxy(proxy.map(|(host, port)| {
                    (unbracket(&host.to_string_lossy()).to_string(), port)
                })))
            }
            Event::SecurityChallenge {
                scheme,
                token,
                refused,
            } => {
                let login = self.options.login.as_ref();
                crate::auth::answer(
                    &mut self.machine,
                    login,
                    self.options.auth,
                    scheme,
                    token,
                    refused,
                )?;
                Happened::Nothing
            }
            Event::Connected { .. }
            | Event::Bandwidth(_)
            | Event::FellBackToTcp
            | Event::Opened(_)
            | Event::EntryChange { .. }
            | Event::StreamsSwitched => Happened::Nothing,
            // Events the machine learns later need nothing of the session.
            _ => Happened::Nothing,
        })
    }

    async fn read_more(&mut self, timer: Option<Instant>) -> Result<(), Error> {
        let read_limit = self.options.read_timeout;
        let mut wait = match timer {
            Some(t) => Duration::from_micros(t.0.saturating_sub(self.now().0)).min(read_limit),
            None => read_limit,
        };
        // Data over UDP in place and never a datagram: a firewall or NAT
        // in the way, or a server that accepts UDP and sends over TCP.
        // Mid-play: Data stopped coming (a NAT mapping expired, a firewall
        // changed).
        let limit = self.quiet_limit();
        let silent = self.udp()
            && self.held_end.is_none()
            && (self.datagrams == 0 || self.machine.state() == State::Streaming);
        if silent {
            // (Not declared before reading: datagrams may be waiting in
            // the socket while the application was busy; a zero wait still
            // reads once.)
            wait = wait.min(limit.saturating_sub(self.last_data.elapsed()));
        }
        self.input.reserve(64 * 1024);
        let read = async {
            match &self.udp {
                Some(u) => {
                    let d = &mut self.datagram_buf;
                    tokio::select! {
                        r = self.io.read_buf(&mut self.input) => Ok(r),
                        // A copy of what came: a packet held for reordering
                        // keeps its own bytes, not the 64 KiB buffer.
                        r = u.recv_from(d) => Err(r.map(|(n, from)| {
                            (from, Bytes::copy_from_slice(&d[..n]))
                        })),
                    }
                }
                None => Ok(self.io.read_buf(&mut self.input).await),
            }
        };
        let r = match tokio::time::timeout(wait, read).await {
            Ok(Err(Ok((from, d)))) => return self.datagram(from, d),
            // A UDP error (an ICMP report of an earlier send) says nothing
            // of the session.
            Ok(Err(Err(_))) => return Ok(()),
            Ok(Ok(r)) => Ok(r),
            Err(e) => Err(e),
        };
        match r {
            // The server closed after the end of stream: what is still
            // missing will not come; the held end goes out.
            Ok(Ok(0)) if self.held_end.is_some() => {
                self.tcp_closed = true;
                Ok(())
            }
            Ok(Ok(0)) => {
                let e = self.machine.connection_closed();
                Err(Error::Protocol(e))
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::Io(e)),
            Err(_) if silent && self.last_data.elapsed() >= limit => Err(Error::UdpSilent),
            Err(_) if timer.is_some_and(|t| self.now() >= t) => {
                let now = self.now();
                self.machine
                    .handle_timeout(now)
                    .map_err(|e| Error::from_machine(e, &self.url.path))
            }
            Err(_) => Err(Error::Timeout {
                waiting_for: "the server",
                seconds: read_limit.as_secs_f64(),
            }),
        }
    }

    async fn setup(&mut self) -> Result<Setup, Error> {
        loop {
            let next = match self.next().await {
                // The Header timer gave up with not one datagram in: the
                // UDP path is blocked, not the server broken.
                Err(Error::Protocol(ClientError::HeaderTimeout))
                    if self.udp() && self.datagrams == 0 =>
                {
                    return Err(Error::UdpSilent);
                }
                r => r?,
            };
            match next {
                Happened::HeaderDone => return Ok(Setup::Ready),
                Happened::Redirect(r) => return Ok(Setup::Redirect(r)),
                _ => {}
            }
        }
    }

    /// Applies `options.streams` to the current header.
    fn apply_choice(&mut self) -> Result<(), Error> {
        let set = self.choose(&self.options.streams.clone())?;
        self.machine
            .select(set)
            .map_err(|e| Error::from_machine(e, &self.url.path))
    }

    fn choose(&self, choice: &StreamChoice) -> Result<StreamSet, Error> {
        choose(&self.summary()?, choice, self.bandwidth())
    }

    // ----- what the session knows ---------------------------------------

    /// The ASF file header (Header Object and the Data Object's first 50
    /// bytes) of the current playlist entry.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The header, parsed.
    pub fn summary(&self) -> Result<HeaderSummary<'_>, Error> {
        HeaderSummary::parse(&self.header).map_err(Error::Header)
    }

    /// What ReportOpenFile said.
    pub fn file(&self) -> FileInfo {
        self.machine.file().unwrap_or_default()
    }

    /// The server's version (ServerVersionInfo), when it parses.
    pub fn server_version(&self) -> Option<Version> {
        self.machine.server_version()
    }

    /// The scheme the server said it may challenge with (AuthenPackage,
    /// [2.2.4.2]); `None`: it named none.
    pub fn auth_offered(&self) -> Option<mms_proto::wire::text::AuthenPackage> {
        self.machine.authen_package()
    }

    /// ServerVersionInfo as the server sent it, whatever its shape
    /// (`"0.9.75"` is kept here though [`Session::server_version`] is
    /// `None`).
    pub fn server_version_text(&self) -> Option<&str> {
        self.machine.server_version_text()
    }

    /// The URL finally opened (after redirects).
    pub fn url(&self) -> &MmsUrl {
        &self.url
    }

    /// The playlist entry being played (0 for the first).
    pub fn entry(&self) -> u32 {
        self.machine.entry()
    }

    /// Statistics of the current or last play, with the count of each
    /// fault of the server tolerated ([`Options::strict`] refuses them).
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// The stream numbers asked for in the next or current play (those
    /// of [`Options::streams`] applied to the header).
    pub fn selected(&self) -> Vec<u8> {
        self.choose(&self.options.streams.clone())
            .map(|set| (1..=127).filter(|&n| set.contains(n)).collect())
            .unwrap_or_default()
    }

    /// The packet-pair bandwidth, if measured.
    pub fn bandwidth(&self) -> Option<u64> {
        self.machine.bandwidth()
    }

    /// The streams of the header.
    pub fn streams(&self) -> Result<Vec<StreamDesc>, Error> {
        Ok(describe(&self.summary()?))
    }
}
