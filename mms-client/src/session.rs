//! The tokio binding of [`mms_proto::client`]: it moves bytes between a
//! `TcpStream` and the machine and keeps the machine's one timer. Every
//! protocol decision is the machine's.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use mms_proto::asf::{HeaderSummary, StreamSet};
use mms_proto::client::{
    ClientError, ClientMachine, Config, Event, FileInfo, Input, OUTPUT_BUF_LEN, Output, Play,
    Redirect, Start, State, Stats, Transmit,
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
    /// machine's [`Config::follow_playlist`]).
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
    /// machine's [`Config::strict`]) instead of tolerating and counting it
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

/// Connects, sets up and reads the ASF header, following redirects, all
/// within `options.connect_timeout`: the [`Session`] is READY. Dropping
/// the future cancels.
pub async fn connect(url: &str, options: Options) -> Result<Session, Error> {
    let url = MmsUrl::parse(url)?;
    let limit = options.connect_timeout;
    match tokio::time::timeout(limit, connect_following(url, options)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            waiting_for: "the server to set up the session",
            seconds: limit.as_secs_f64(),
        }),
    }
}

async fn connect_following(mut url: MmsUrl, mut options: Options) -> Result<Session, Error> {
    let guid = options.guid.unwrap_or_else(random_guid);
    options.guid = Some(guid);
    if options.login.is_none() {
        options.login = crate::auth::login_of_url(&url.credentials);
    }
    // Credentials go only to the host they were given for.
    let login_host = url.host.clone();
    let mut redirects = 0u8;
    let mut tcp_only = false;
    loop {
        let transport = Transport::of_scheme(&url.scheme, options.transport);
        let want_udp = transport != Transport::Tcp && !tcp_only;
        let target = options
            .proxy
            .clone()
            .unwrap_or((url.host.clone(), url.port));
        tracing::debug!(%url, ?target, "connecting");
        let io = TcpStream::connect((target.0.as_str(), target.1))
            .await
            .map_err(|source| Error::Unreachable {
                target: if target.0.contains(':') {
                    format!("[{}]:{}", target.0, target.1)
                } else {
                    format!("{}:{}", target.0, target.1)
                },
                source,
            })?;
        io.set_nodelay(true)?;
        let local = io.local_addr()?;
        // [3.1.4.7] The server's datagrams come from (and resend requests
        // go to) the address the TCP connection reached: the server's, or
        // the proxy's.
        let peer = io.peer_addr()?;
        let udp = if want_udp {
            let port = options.udp_port.unwrap_or(0);
            Some(
                UdpSocket::bind((local.ip(), port))
                    .await
                    .map_err(|source| Error::Unreachable {
                        target: format!("local UDP port {port}"),
                        source,
                    })?,
            )
        } else {
            None
        };
        let udp_port = match &udp {
            Some(u) => Some(u.local_addr()?.port()),
            None => None,
        };
        let config = Config {
            guid,
            packet_pair: options.packet_pair
                || matches!(options.streams, StreamChoice::Measured { .. }),
            local_addr: local.ip(),
            local_port: local.port(),
            max_header_len: options.max_header_len,
            follow_playlist: options.follow_playlist,
            udp_port,
            server_udp: udp.is_some().then_some(peer),
            strict: options.strict,
            ..Config::default()
        };
        let host_param = options.proxy.is_some().then(|| url.host_port());
        let mut m = ClientMachine::new(config, &url.path, host_param.as_deref())
            .map_err(|e| Error::from_machine(e, &url.path))?;
        let mut options_here = options.clone();
        if url.host != login_host {
            options_here.login = None;
        }
        crate::auth::prepare(&mut m, options_here.login.as_ref(), options.auth)?;
        let mut s = Session::new(io, m, url.clone(), options_here);
        s.udp = udp;
        s.udp_blocked = tcp_only;
        let setup = s.setup().await;
        let setup = setup.map_err(|e| crate::auth::refine(e, s.options.login.as_ref()));
        if let Err(Error::UdpSilent) = setup
            && transport == Transport::Auto
        {
            tracing::info!(%url, "no UDP datagram came: reconnecting over TCP");
            tcp_only = true;
            continue;
        }
        match setup? {
            Setup::Ready => return Ok(s),
            Setup::Redirect(next) => {
                redirects += 1;
                if redirects > options.max_redirects {
                    return Err(Error::TooManyRedirects(options.max_redirects));
                }
                match next {
                    Hop::Url(u) => url = u,
                    Hop::Proxy(p) => options.proxy = p,
                }
                tracing::info!(%url, proxy = ?options.proxy, "redirected");
            }
        }
    }
}

/// A client GUID from the standard library's randomly keyed hasher (no
/// RNG dependency for 16 bytes that need only be unique).
fn random_guid() -> Guid {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = h.finish();
    h.write_u32(std::process::id());
    let b = h.finish();
    Guid {
        data1: (a >> 32) as u32,
        data2: (a >> 16) as u16,
        // Version 4 (random) GUID.
        data3: (a as u16 & 0x0FFF) | 0x4000,
        data4: ((b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000).to_be_bytes(),
    }
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

    /// Whether Data comes over UDP in this session.
    pub fn udp(&self) -> bool {
        self.udp.is_some() && self.machine.udp_active()
    }

    /// Whether the server offered Data over UDP: `None` if it was not
    /// asked (`mmst://`, [`Transport::Tcp`]); `Some(false)` if it declined
    /// ([3.1.5.5]), or accepted and no datagram came through (then this
    /// session is the TCP one [`Transport::Auto`] fell back to).
    pub fn udp_offered(&self) -> Option<bool> {
        if self.udp_blocked {
            return Some(false);
        }
        self.udp.as_ref().map(|_| self.machine.udp_active())
    }

    /// A session before this one had UDP accepted and no datagram came
    /// (a firewall or NAT in the way): it fell back to TCP.
    pub fn udp_blocked(&self) -> bool {
        self.udp_blocked
    }

    /// What happened to the session's datagrams (all zero over TCP; after
    /// a fall-back, those of the UDP part).
    pub fn udp_stats(&self) -> mms_proto::client::UdpStats {
        self.replaced_udp
            .unwrap_or_else(|| self.machine.udp_stats())
    }

    /// The play went on over TCP after its datagrams stopped coming
    /// ([`Transport::Auto`]).
    pub fn fell_back_to_tcp(&self) -> bool {
        self.replaced_udp.is_some()
    }

    /// How long Data may not come while streaming over UDP before the path
    /// counts as blocked: [`Transport::FALLBACK_AFTER`], or three packet
    /// times of a low-rate stream.
    fn quiet_limit(&self) -> Duration {
        let f = self.file();
        let packet = if f.bit_rate > 0 {
            Duration::from_secs_f64(f64::from(f.packet_size) * 8.0 / f64::from(f.bit_rate))
        } else {
            Duration::ZERO
        };
        Transport::FALLBACK_AFTER.max(packet * 3)
    }

    /// A new play or a stop: what the old play left in the reorder buffer,
    /// and its held end of stream, are not the next play's.
    fn forget_play(&mut self) {
        self.reorder.forget();
        self.held_end = None;
        self.key_starts.clear();
    }

    /// Notes where video key frames begin in a packet handed out (only
    /// over UDP, where a fall-back may need it).
    fn note_key_frames(&mut self, p: &Packet) {
        if !self.udp() {
            return;
        }
        let Ok(info) = mms_proto::asf::PacketInfo::parse(&p.data) else {
            return;
        };
        for pl in info.payloads(&p.data).flatten() {
            if pl.key_frame && pl.offset == 0 && !pl.is_compressed() {
                self.key_starts.insert(pl.stream, p.location_id);
            }
        }
    }

    /// A fall-back to TCP is possible: `mms://` with [`Transport::Auto`],
    /// over UDP, a play in progress, not inside a playlist.
    fn can_fall_back(&self) -> bool {
        self.options.transport == Transport::Auto
            && Transport::of_scheme(&self.url.scheme, Transport::Auto) == Transport::Auto
            && self.udp()
            && self.playing.is_some_and(|p| p.rate.is_none())
            && self.machine.entry() == 0
    }

    /// The UDP path went quiet, or the play's last packets never came:
    /// reconnects over TCP and goes on from the packet after the last one
    /// handed out. The session is replaced.
    async fn fall_back(&mut self) -> Result<(), Error> {
        let Some(play) = self.playing else {
            return Err(Error::UdpSilent);
        };
        // From the latest key frame of every video stream (or the play's
        // start if one has none yet), what was handed out dropped.
        let videos = self.summary().map_or(StreamSet::EMPTY, |h| {
            h.streams
                .iter()
                .filter(|s| s.kind == mms_proto::asf::StreamKind::Video)
                .fold(StreamSet::EMPTY, |a, s| a.with(s.number))
        });
        let start = match self.last_location {
            None => play.start,
            Some(l) => {
                let keys: Option<Vec<u32>> = videos
                    .iter()
                    .map(|v| self.key_starts.get(&v).copied())
                    .collect();
                match keys {
                    Some(k) => Start::Packet(k.into_iter().min().unwrap_or(l + 1).min(l + 1)),
                    None => play.start,
                }
            }
        };
        tracing::info!(url = %self.url, ?start, "UDP went quiet: going on over TCP");
        let mut options = self.options.clone();
        options.transport = Transport::Tcp;
        let mut fresh = Box::pin(connect_following(self.url.clone(), options)).await?;
        fresh.play(Play { start, ..play }).await?;
        fresh.options.transport = self.options.transport;
        fresh.last_location = self.last_location;
        fresh.skip_below = self.last_location.map(|l| l + 1);
        fresh.replaced_udp = Some(self.udp_stats());
        drop(std::mem::replace(self, fresh));
        Ok(())
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

    /// Over UDP: packets into the reorder buffer, an end of stream held
    /// while the machine still asks for lost packets.
    fn sort(&mut self, h: Happened) -> Happened {
        if !self.udp() {
            return h;
        }
        match h {
            Happened::Packet(p) => {
                self.reorder.push(p);
                self.reorder.release(self.machine.udp_settled(), false);
                Happened::Nothing
            }
            end @ Happened::EndOfStream { ready: true, .. } => {
                self.held_end = Some(end);
                Happened::Nothing
            }
            h => h,
        }
    }

    /// A datagram from the UDP socket, to the machine.
    fn datagram(&mut self, source: std::net::SocketAddr, bytes: Bytes) -> Result<(), Error> {
        let foreign = self.machine.udp_stats().foreign;
        let now = self.now();
        let ev = self
            .machine
            .handle_input(
                now,
                Input::Udp {
                    source,
                    contents: &bytes,
                },
            )
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        // Only what the machine took shows the path works (a stranger's
        // datagram does not).
        if self.machine.udp_stats().foreign == foreign {
            self.datagrams += 1;
            self.last_data = std::time::Instant::now();
        }
        let happened = match ev {
            None => Happened::Nothing,
            Some(ev) => self.own(&bytes, ev)?,
        };
        match self.sort(happened) {
            Happened::Nothing => {}
            // A header completed over UDP (or the like): for `next`.
            h => self.happened.push_back(h),
        }
        // A resend may have settled what held packets back.
        self.reorder.release(self.machine.udp_settled(), false);
        Ok(())
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

    // ----- requests -----------------------------------------------------

    /// Chooses streams: for the next play, or at once while streaming
    /// ([3.1.4.3]).
    pub fn select_streams(&mut self, choice: StreamChoice) -> Result<(), Error> {
        let set = self.choose(&choice)?;
        self.options.streams = choice;
        self.machine
            .select(set)
            .map_err(|e| Error::from_machine(e, &self.url.path))
    }

    /// Starts streaming (or, while streaming, seeks: stop → switch →
    /// play) and waits until the server confirms.
    pub async fn play(&mut self, mut play: Play) -> Result<(), Error> {
        if play.acceleration.is_none() && play.rate.is_none() {
            play.acceleration = self.accelerated();
        }
        let now = self.now();
        self.machine
            .play(now, &play)
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        self.ended = false;
        self.playing = Some(play);
        self.last_location = None;
        self.last_data = std::time::Instant::now();
        self.forget_play();
        // Over UDP the play's first packets may come before the report.
        let mut early = Vec::new();
        loop {
            match self.next().await? {
                Happened::Playing => {
                    for p in early.into_iter().rev() {
                        self.reorder.ready.push_front(p);
                    }
                    return Ok(());
                }
                Happened::Packet(p) if self.udp() => early.push(p),
                Happened::EndOfStream { stopped: true, .. } | Happened::Packet(_) => {}
                Happened::EndOfStream { ready: true, .. } => {
                    self.ended = true;
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    /// [`Options::acceleration`] for this content: the whole of it (in
    /// ms, rounded up; a live stream's an hour) at that bit rate.
    fn accelerated(&self) -> Option<mms_proto::wire::Acceleration> {
        let bandwidth = self.options.acceleration?;
        let f = self.file();
        let ms = if f.duration > 0.0 && !f.is_broadcast() {
            (f.duration * 1000.0).ceil().min(u32::MAX as f64) as u32
        } else {
            3_600_000
        };
        Some(mms_proto::wire::Acceleration {
            bandwidth,
            duration: ms,
            link_bandwidth: Some(bandwidth),
        })
    }

    /// Whether the server is asked for acceleration ([`Options::acceleration`]
    /// set and Server-Version ≥ 9, [3.1.4.2.1]).
    pub fn acceleration_asked(&self) -> bool {
        self.options.acceleration.is_some() && self.server_version().is_some_and(|v| v.major >= 9)
    }

    /// Plays from `start` to the end.
    pub async fn play_from(&mut self, start: Start) -> Result<(), Error> {
        self.play(Play {
            start,
            ..Play::default()
        })
        .await
    }

    /// Seeks: the same as [`Session::play_from`], also while streaming.
    pub async fn seek(&mut self, start: Start) -> Result<(), Error> {
        self.play_from(start).await
    }

    /// Fast forward (`rate` > 1) or rewind (`rate` < 0) from `start`
    /// ([3.1.4.2.2]); key frames only.
    pub async fn stride(&mut self, start: Start, rate: f64) -> Result<(), Error> {
        self.play(Play {
            start,
            rate: Some(rate),
            ..Play::default()
        })
        .await
    }

    /// The next packet of the play; `None` when it ended. Follows a
    /// server-side playlist into its next entry when the options say so
    /// ([`Session::entry`] and [`Session::header`] change).
    pub async fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        if self.ended {
            return Ok(None);
        }
        let unanswered = self.machine.udp_stats().unanswered;
        loop {
            // A fall-back's play may have ended at once (nothing was left).
            if self.ended {
                return Ok(None);
            }
            let happened = match self.next().await {
                Err(Error::UdpSilent) if self.can_fall_back() => {
                    self.fall_back().await?;
                    continue;
                }
                r => r?,
            };
            match happened {
                Happened::Packet(p) if self.skip_below.is_some_and(|s| p.location_id < s) => {}
                Happened::Packet(p) => {
                    self.note_key_frames(&p);
                    self.last_location = Some(p.location_id);
                    return Ok(Some(p));
                }
                // The play's last packets never came over UDP (the probes
                // at its end went unanswered): get them over TCP.
                Happened::EndOfStream { ready: true, .. }
                    if self.machine.udp_stats().unanswered > unanswered && self.can_fall_back() =>
                {
                    self.fall_back().await?;
                }
                Happened::EndOfStream { ready: true, .. } => {
                    self.ended = true;
                    return Ok(None);
                }
                // A playlist entry's header ([3.1.4.4]): the machine plays
                // on if it follows the playlist.
                Happened::HeaderDone if !self.options.follow_playlist => {
                    self.ended = true;
                    return Ok(None);
                }
                _ => {}
            }
        }
    }

    /// The packets of the play as a stream (ends with the play; boxed so
    /// it is `Unpin`).
    pub fn packets(&mut self) -> impl Stream<Item = Result<Packet, Error>> + Unpin + '_ {
        Box::pin(futures_util::stream::unfold(self, |s| async move {
            match s.next_packet().await {
                Ok(Some(p)) => Some((Ok(p), s)),
                Ok(None) => None,
                Err(e) => {
                    s.ended = true;
                    Some((Err(e), s))
                }
            }
        }))
    }

    /// Stops the play (StopPlaying + Logging) and waits for the server's
    /// ReportEndOfStream.
    pub async fn stop(&mut self) -> Result<(), Error> {
        if self.machine.state() != State::Streaming {
            self.ended = true;
            return Ok(());
        }
        self.machine
            .stop()
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        self.forget_play();
        loop {
            if let Happened::EndOfStream { ready: true, .. } = self.next().await? {
                self.ended = true;
                return Ok(());
            }
        }
    }

    /// Ends the session politely (stop, CloseFile) within a second, then
    /// closes the connection.
    pub async fn close(mut self) -> Result<(), Error> {
        let r = tokio::time::timeout(Duration::from_secs(1), async {
            self.machine
                .close()
                .map_err(|e| Error::from_machine(e, &self.url.path))?;
            while self.machine.state() != State::Closed {
                match self.next().await {
                    Ok(_) => {}
                    Err(Error::Protocol(ClientError::ConnectionClosed)) => break,
                    Err(e) => return Err(e),
                }
            }
            self.flush().await.map(drop)
        })
        .await;
        let _ = self.io.shutdown().await;
        r.unwrap_or(Ok(()))
    }
}
