//! Connecting: TCP (and the UDP socket for Data over UDP), a machine per
//! connection, setup to the header, redirects followed, the TCP fall-back
//! when UDP is silent — all under one connect timeout.

use std::hash::{BuildHasher, Hasher};

use mms_proto::client::{ClientMachine, Config};
use mms_proto::wire::text::Guid;
use tokio::net::{TcpStream, UdpSocket};

use super::{Hop, Options, Session, Setup};
use crate::choice::StreamChoice;
use crate::udp::Transport;
use crate::{Error, MmsUrl};

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

pub(super) async fn connect_following(
    mut url: MmsUrl,
    mut options: Options,
) -> Result<Session, Error> {
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
