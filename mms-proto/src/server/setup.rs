//! Setting up a session: [3.2.5.3] Connect → ReportConnectedEX,
//! [3.2.5.4] FunnelInfo → ReportFunnelInfo (with the TCP packet-pair),
//! [3.2.5.5] ConnectFunnel, [3.2.5.6] OpenFile → the application's answer
//! (accept, redirect, reject).

use super::{Event, Media, Phase, Reply, ServerError, ServerMachine};
use crate::wire::text::{ClientToken, FunnelName, FunnelProto, Subscriber, Version};
use crate::wire::{
    ConnectFunnelRepr, ConnectRepr, FunnelInfoRepr, HResult, MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
    MMS_PACKET_PAIR_UDP_HIGH_ENTROPY, MMS_USE_PACKET_PAIR, OpenFileRepr, REDIRECT_PROXY,
    REDIRECT_URL,
};

/// Longest redirect location the machine holds.
pub const MAX_REDIRECT_LEN: usize = 512;

/// What setup learned of the client, and the open being decided.
#[derive(Debug, Clone, Default)]
pub(super) struct Setup {
    /// Client-Version ([3.2.1]): the product version of subscriberName.
    pub(super) client_version: Option<Version>,
    /// Client-Port ([3.2.1]): 0 = TCP delivery.
    pub(super) client_port: u16,
    /// The playIncarnation of the OpenFile being decided.
    open_incarnation: u32,
    /// Where [`ServerMachine::redirect_open`] sends the client.
    pub(super) redirect: heapless::String<MAX_REDIRECT_LEN>,
}

impl ServerMachine {
    /// [3.2.5.3] Connect: initialize, answer ConnectedEX (TCP packet-pair
    /// is supported).
    pub(super) fn on_connect(
        &mut self,
        now: crate::time::Instant,
        c: &ConnectRepr<'_>,
    ) -> Result<(), ServerError> {
        self.setup.client_version = match Subscriber::parse(&c.subscriber_name) {
            Ok(s) => match s.client {
                ClientToken::NsPlayer(v) => Some(v),
                ClientToken::Spoon => None,
            },
            Err(e) if self.config.strict => return Err(e.into()),
            Err(_) => None,
        };
        self.phase = Phase::Init;
        self.timers.start_idle(now, self.config.idle_timeout);
        self.out.push(Reply::ConnectedEx {
            packet_pair: c.play_incarnation == MMS_USE_PACKET_PAIR,
        })
    }

    /// [3.2.5.4] FunnelInfo: give the Client-ID; with the TCP packet-pair
    /// asked for, three ReportFunnelInfo of 512, 512 and 1056 bytes with
    /// random filler; with the UDP packet-pair ([4.4.1]) one
    /// ReportFunnelInfo with 0xF0F0F901, and the two datagrams follow the
    /// ReadBlock. (FFmpeg's 0x00F0F0F0 is no packet-pair value,
    /// interop-notes.)
    pub(super) fn on_funnel_info(&mut self, f: &FunnelInfoRepr) -> Result<(), ServerError> {
        if f.play_incarnation == MMS_PACKET_PAIR_UDP_HIGH_ENTROPY && self.config.udp {
            self.udp.pair_asked = true;
            return self.out.push(Reply::FunnelInfo {
                pair: None,
                udp_pair: true,
            });
        }
        if matches!(
            f.play_incarnation,
            MMS_USE_PACKET_PAIR | MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
        ) {
            for (i, total) in [(0, 512), (1, 512), (2, 1056)] {
                self.out.push(Reply::FunnelInfo {
                    pair: Some((total, i)),
                    udp_pair: false,
                })?;
            }
            Ok(())
        } else {
            self.out.push(Reply::FunnelInfo {
                pair: None,
                udp_pair: false,
            })
        }
    }

    /// [3.2.5.5] ConnectFunnel: TCP is accepted; UDP sets Client-Port
    /// when [`super::Config::udp`] is on and the peer is known (the IP in
    /// funnelName is ignored: Data goes to the TCP peer), else it is
    /// declined and the client may ask for TCP next.
    pub(super) fn on_connect_funnel(
        &mut self,
        f: &ConnectFunnelRepr<'_>,
    ) -> Result<(), ServerError> {
        let reply = match FunnelName::parse(&f.funnel_name) {
            Ok(FunnelName {
                proto: FunnelProto::Tcp,
                ..
            }) => {
                // Over TCP from now on, whatever an earlier funnel said.
                self.udp.deselect();
                self.setup.client_port = 0;
                Reply::ConnectedFunnel
            }
            Ok(FunnelName {
                proto: FunnelProto::Udp,
                port,
                ..
            }) => {
                if self.config.udp && self.udp.select(port) {
                    self.setup.client_port = port;
                    Reply::ConnectedFunnel
                } else {
                    Reply::DisconnectedFunnel(HResult::E_NOTIMPL)
                }
            }
            Err(_) if self.config.strict => Reply::DisconnectedFunnel(HResult::E_INVALIDARG),
            // Tolerant: an unreadable funnelName means TCP (the IP is
            // ignored anyway).
            Err(_) => Reply::ConnectedFunnel,
        };
        self.out.push(reply)
    }

    /// [3.2.5.6] OpenFile: the application decides. A client may open
    /// again after an error or to change content.
    pub(super) fn on_open_file<'p>(&mut self, o: &OpenFileRepr<'p>) -> Event<'p> {
        self.setup.open_incarnation = o.play_incarnation;
        self.auth.new_open(o.play_incarnation);
        self.phase = Phase::OpenPending;
        Event::OpenRequest {
            file_name: o.file_name,
            token: o.token_data,
        }
    }

    fn deciding(&self, why: &'static str) -> Result<(), ServerError> {
        if self.phase == Phase::OpenPending {
            Ok(())
        } else {
            Err(ServerError::Misuse(why))
        }
    }

    /// The application's answer to [`Event::OpenRequest`]: serve `media`.
    pub fn accept_open(&mut self, media: Media) -> Result<(), ServerError> {
        self.deciding("accept_open without an OpenRequest")?;
        if !self.auth.may_serve() {
            return Err(ServerError::Misuse(
                "accept_open after a challenge without Authn::Granted",
            ));
        }
        if media.packet_size == 0 || media.file_header_len == 0 {
            return Err(ServerError::Misuse("media without packet size or header"));
        }
        self.media = Some(media);
        self.phase = Phase::Opened;
        self.timers.setup_done();
        self.out.push(Reply::OpenFile {
            hr: HResult::S_OK,
            incarnation: self.setup.open_incarnation,
            media: Some(media),
        })
    }

    /// The application's other answer to [`Event::OpenRequest`]: send the
    /// client elsewhere ([3.2.5.6], [2.2.4.9]) — `proxy` false: another
    /// URL; true: another proxy (empty: none). The session then closes.
    pub fn redirect_open(&mut self, location: &str, proxy: bool) -> Result<(), ServerError> {
        self.deciding("redirect_open without an OpenRequest")?;
        self.setup.redirect.clear();
        self.setup
            .redirect
            .push_str(location)
            .map_err(|()| ServerError::Misuse("redirect location longer than 512 bytes"))?;
        self.close();
        self.out.push(Reply::Redirect {
            redirect_type: if proxy { REDIRECT_PROXY } else { REDIRECT_URL },
        })
    }

    /// The application's answer to [`Event::OpenRequest`]: refuse with
    /// `hr` (e.g. [`HResult::NS_E_FILE_NOT_FOUND`]). The session then ends:
    /// FFmpeg and libmms abort on the error but VLC and MPlayer ignore it
    /// (interop-notes), so the connection is closed after the reply.
    pub fn reject_open(&mut self, hr: HResult) -> Result<(), ServerError> {
        self.deciding("reject_open without an OpenRequest")?;
        self.close();
        self.out.push(Reply::OpenFile {
            hr,
            incarnation: self.setup.open_incarnation,
            media: None,
        })
    }
}
