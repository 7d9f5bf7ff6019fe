//! Setting the session up, up to the header read: Connect
//! ([3.1.4.1.1]), ReportConnectedEX ([3.1.5.3]), FunnelInfo and the TCP
//! packet-pair ([3.1.5.4]), ConnectFunnel and its fall-back to TCP
//! ([3.1.5.5], [3.1.5.6]), OpenFile and its answers: ReportRedirect
//! ([3.1.5.7]), SecurityChallenge ([3.1.5.8]), ReportOpenFile ([3.1.5.9]).

use core::fmt::Write as _;

use heapless::{String, Vec};

use crate::time::Instant;
use crate::wire::text::{AuthenPackage, Version};
use crate::wire::*;

use super::config::{MAX_HOST_LEN, MAX_PATH_LEN, MAX_TOKEN_LEN};
use super::output::Pending;
use super::{ClientError, ClientMachine, Config, Event, FileInfo, Phase, Redirect};

/// What the setup learns and keeps: the [3.1.1] variables of the
/// connection (Server-Version, Auth-Scheme, Client-ID, FunnelInfo-Count,
/// Packet-Pair-Packets-Expected, UDP-Selected) and what the application
/// gave for OpenFile and SecurityResponse.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    /// Server-URL's path, sent in OpenFile.
    path: String<MAX_PATH_LEN>,
    /// host-param, when connecting through a proxy ([3.1.4.1.1]).
    host: Option<String<MAX_HOST_LEN>>,
    /// Server-Version ([3.1.5.3]).
    server_version: Option<Version>,
    /// ServerVersionInfo as sent (whatever its shape, up to 64 chars).
    server_version_text: Option<String<64>>,
    /// Auth-Scheme ([3.1.5.3], [3.1.5.8]).
    auth_scheme: AuthenPackage,
    /// AuthenPackage as ReportConnectedEX named it (None: empty).
    authen_package: Option<AuthenPackage>,
    /// Client-ID: nCubs of ReportFunnelInfo.
    client_id: u32,
    /// FunnelInfo-Count: ReportFunnelInfo messages received.
    funnel_info_count: u8,
    /// Packet-Pair-Packets-Expected.
    packet_pair_expected: u8,
    /// When the first packet-pair ReportFunnelInfo arrived.
    packet_pair_arrival: Option<Instant>,
    /// The packet-pair bandwidth, bit/s.
    bandwidth: Option<u64>,
    /// UDP-Selected: Data is asked for over UDP.
    udp_selected: bool,
    /// The PlayIncarnation OpenFile took (SecurityResponse repeats it).
    open_incarnation: u32,
    /// The SecurityChallenge's playIncarnation and cookie (echoed,
    /// [2.2.4.24]), and the answer.
    challenge_incarnation: u32,
    cookie: u32,
    token: Vec<u8, MAX_TOKEN_LEN>,
}

impl Setup {
    pub(super) fn new(
        config: &Config,
        path: &str,
        host_param: Option<&str>,
    ) -> Result<Self, ClientError> {
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
        Ok(Setup {
            path: p,
            host,
            server_version: None,
            server_version_text: None,
            auth_scheme: AuthenPackage::Ntlm,
            authen_package: None,
            client_id: 0,
            funnel_info_count: 0,
            packet_pair_expected: if config.packet_pair { 2 } else { 0 },
            packet_pair_arrival: None,
            bandwidth: None,
            udp_selected: config.udp_port.is_some(),
            open_incarnation: 9,
            challenge_incarnation: 0,
            cookie: 0,
            token: Vec::new(),
        })
    }

    pub(super) fn path(&self) -> &str {
        &self.path
    }
    pub(super) fn server_version(&self) -> Option<Version> {
        self.server_version
    }
    pub(super) fn server_version_text(&self) -> Option<&str> {
        self.server_version_text.as_deref()
    }
    /// Server-Version ≥ 9: acceleration fields ([3.1.4.2.1]), the v9 end
    /// of stream ([3.1.5.18]) and challenge ([3.1.5.8]) rules.
    pub(super) fn server_v9(&self) -> bool {
        self.server_version.is_some_and(|v| v.major >= 9)
    }
    pub(super) fn auth_scheme(&self) -> AuthenPackage {
        self.auth_scheme
    }
    pub(super) fn authen_package(&self) -> Option<AuthenPackage> {
        self.authen_package
    }
    pub(super) fn client_id(&self) -> u32 {
        self.client_id
    }
    pub(super) fn bandwidth(&self) -> Option<u64> {
        self.bandwidth
    }
    pub(super) fn udp_selected(&self) -> bool {
        self.udp_selected
    }

    /// [3.1.6.1] rule 2: a Header timer expiry expects two packet-pair
    /// packets again, if any were expected.
    /// A bandwidth measured by the UDP packet-pair.
    pub(super) fn set_bandwidth(&mut self, bw: Option<u64>) {
        self.bandwidth = bw;
    }

    pub(super) fn rearm_packet_pair(&mut self) {
        if self.packet_pair_expected > 0 {
            self.packet_pair_expected = 2;
        }
    }

    /// playIncarnation of Connect: whether to ask for the packet-pair.
    pub(super) fn connect_packet_pair(&self) -> u32 {
        if self.packet_pair_expected > 0 {
            MMS_USE_PACKET_PAIR
        } else {
            MMS_DISABLE_PACKET_PAIR
        }
    }

    /// [2.2.4.17] subscriberName: `NSPlayer/version; {GUID}` and the
    /// host-param through a proxy.
    pub(super) fn subscriber_name(
        &self,
        config: &Config,
        text: &mut String<512>,
    ) -> Result<(), ClientError> {
        let v = config.player_version;
        write!(text, "NSPlayer/{v}; {{{}}}", config.guid)
            .map_err(|_| ClientError::TooLong("subscriberName"))?;
        if let Some(h) = &self.host {
            write!(text, "; Host: {h}").map_err(|_| ClientError::TooLong("the host"))?;
        }
        Ok(())
    }

    /// Writes the SecurityResponse's pToken with `emit` (which returns
    /// its length).
    pub(super) fn set_response(
        &mut self,
        emit: impl FnOnce(&mut [u8]) -> crate::wire::Result<usize>,
    ) -> Result<(), ClientError> {
        self.token.clear();
        // resize to the capacity cannot fail.
        let _ = self.token.resize(MAX_TOKEN_LEN, 0);
        match emit(&mut self.token) {
            Ok(n) => {
                self.token.truncate(n);
                Ok(())
            }
            Err(e) => {
                self.token.clear();
                Err(match e {
                    Error::BufferTooSmall { .. } | Error::TooLong { .. } => {
                        ClientError::TooLong("the security token")
                    }
                    e => ClientError::Malformed(e),
                })
            }
        }
    }

    /// [2.2.4.24] the answer to the challenge, echoing its playIncarnation
    /// and cookie.
    pub(super) fn security_response(&self) -> SecurityResponseRepr<'_> {
        SecurityResponseRepr {
            play_incarnation: self.challenge_incarnation,
            cookie: self.cookie,
            token: &self.token,
        }
    }
}

impl ClientMachine {
    /// [3.1.5.3] ReportConnectedEX: Server-Version, Auth-Scheme, and
    /// FunnelInfo with the packet-pair request if the server agreed.
    pub(super) fn on_connected_ex(
        &mut self,
        r: &ReportConnectedExRepr<'_>,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportConnectedEx, r.hr)?;
        let s = &mut self.setup;
        s.server_version = r.server_version_info.and_then(|v| Version::parse(&v).ok());
        s.server_version_text = r.server_version_info.map(super::tolerate::text);
        if let Some(a) = r.authen_package.filter(|a| !a.is_empty()) {
            s.auth_scheme = match AuthenPackage::parse(&a) {
                Ok(scheme) => {
                    s.authen_package = Some(scheme);
                    scheme
                }
                Err(e) if self.config.strict => return Err(e.into()),
                Err(_) => s.auth_scheme,
            };
        }
        let pair = s.packet_pair_expected > 0 && r.play_incarnation == MMS_USE_PACKET_PAIR;
        if !pair {
            s.packet_pair_expected = 0;
        }
        // [4.4.1] Over UDP the pair comes as two datagrams after ReadBlock.
        self.out
            .push(Pending::FunnelInfo(match (pair, s.udp_selected) {
                (true, false) => MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
                (true, true) => MMS_PACKET_PAIR_UDP_HIGH_ENTROPY,
                (false, _) => MMS_DISABLE_PACKET_PAIR,
            }))?;
        self.phase = Phase::FunnelInfo;
        Ok(Some(Event::Connected {
            server_version: self.setup.server_version,
        }))
    }

    /// [3.1.5.4] ReportFunnelInfo: Client-ID; with the TCP packet-pair the
    /// first two measure the link, the third is the answer.
    pub(super) fn on_funnel_info(
        &mut self,
        now: Instant,
        r: &ReportFunnelInfoRepr<'_>,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportFunnelInfo, r.hr)?;
        let s = &mut self.setup;
        if s.funnel_info_count == 3 {
            return Err(ClientError::Unexpected {
                message: MessageId::ReportFunnelInfo,
                phase: self.phase,
            });
        }
        s.funnel_info_count += 1;
        s.client_id = r.n_cubs;
        let pair =
            r.play_incarnation == MMS_PACKET_PAIR_TCP_HIGH_ENTROPY && s.packet_pair_expected > 0;
        if pair && s.funnel_info_count == 1 {
            s.packet_pair_arrival = Some(now);
            return Ok(None);
        }
        if pair && s.funnel_info_count == 2 {
            let bits = (TCP_HEADER_LEN + r.buffer_len()) as u64 * 8;
            let dt = s.packet_pair_arrival.map_or(0, |t| (now - t).0);
            s.bandwidth = (dt > 0).then(|| bits.saturating_mul(1_000_000) / dt);
            return Ok(Some(Event::Bandwidth(s.bandwidth)));
        }
        self.out.push(Pending::ConnectFunnel {
            udp: s.udp_selected,
        })?;
        self.phase = Phase::Funnel;
        Ok(None)
    }

    /// [3.1.5.5] ReportDisconnectedFunnel: fall back from UDP to TCP once.
    pub(super) fn on_disconnected_funnel(
        &mut self,
        r: &ReportDisconnectedFunnelRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        if !self.setup.udp_selected {
            return Err(ClientError::Server {
                message: MessageId::ReportDisconnectedFunnel,
                hr: if r.hr.is_failure() {
                    r.hr
                } else {
                    HResult(0x8000_4005)
                },
            });
        }
        self.setup.udp_selected = false;
        self.out.push(Pending::ConnectFunnel { udp: false })?;
        Ok(Some(Event::FellBackToTcp))
    }

    /// [3.1.5.6] ReportConnectedFunnel: OpenFile; with UDP-Selected, Data
    /// comes over UDP from now on (which needs [`super::Config::server_udp`]).
    pub(super) fn on_connected_funnel(
        &mut self,
        r: &ReportConnectedFunnelRepr<'_>,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportConnectedFunnel, r.hr)?;
        if self.setup.udp_selected {
            if self.config.server_udp.is_none() {
                return Err(ClientError::Misuse(
                    "UDP asked for without the server's UDP address (Config::server_udp)",
                ));
            }
            self.udp.active = true;
        }
        let incarnation = self.play.next_incarnation();
        self.setup.open_incarnation = incarnation;
        self.out.push(Pending::OpenFile { incarnation })?;
        self.phase = Phase::Open;
        Ok(None)
    }

    /// [3.1.5.7] ReportRedirect: the session is over.
    pub(super) fn on_redirect<'p>(
        &mut self,
        r: &ReportRedirectRepr<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        ClientError::check(MessageId::ReportRedirect, r.hr)?;
        let target = Redirect::parse(r.redirect_type, &r.location)?;
        self.phase = Phase::Closed;
        Ok(Some(Event::Redirect(target)))
    }

    /// [3.1.5.8] SecurityChallenge: the Auth-Scheme it implies; the token
    /// goes to the application, which answers with
    /// [`ClientMachine::answer_challenge`] (or [`ClientMachine::respond`]
    /// with a token of its own).
    pub(super) fn on_challenge<'p>(
        &mut self,
        r: &SecurityChallengeRepr<'p>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        let s = &mut self.setup;
        let zero = r.token.len() >= 2 && r.token[0] == 0 && r.token[1] == 0;
        if s.server_v9() {
            s.auth_scheme = if zero {
                AuthenPackage::Ntlm
            } else {
                AuthenPackage::Basic
            };
        } else if !zero && !r.token.is_empty() {
            s.auth_scheme = AuthenPackage::Basic;
        }
        s.cookie = r.cookie;
        s.challenge_incarnation = r.play_incarnation;
        let scheme = s.auth_scheme;
        let refused = self.auth.on_challenge(r.token)?;
        self.phase = Phase::Challenged;
        Ok(Some(Event::SecurityChallenge {
            scheme,
            token: r.token,
            refused,
        }))
    }

    /// [3.1.5.9] ReportOpenFile: File-ID and the numbers of the content;
    /// the header read starts.
    pub(super) fn on_open_file(
        &mut self,
        now: Instant,
        r: &ReportOpenFileRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportOpenFile, r.hr)?;
        let info = FileInfo::new(r);
        if info.header_size > self.config.max_header_len {
            return Err(Error::invalid("fileHeaderSize", "larger than the limit").into());
        }
        self.file = Some(info);
        self.read_block(now)?;
        Ok(Some(Event::Opened(info)))
    }

    /// Answers a [`Event::SecurityChallenge`] with authentication data
    /// for the Auth-Scheme ([3.1.5.8]).
    pub fn respond(&mut self, token: &[u8]) -> Result<(), ClientError> {
        if self.phase != Phase::Challenged {
            return Err(ClientError::Misuse("respond without a SecurityChallenge"));
        }
        let s = &mut self.setup;
        s.token.clear();
        s.token
            .extend_from_slice(token)
            .map_err(|_| ClientError::TooLong("the security token"))?;
        self.out.push(Pending::SecurityResponse)?;
        self.phase = Phase::Open;
        Ok(())
    }
}
