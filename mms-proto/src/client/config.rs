//! The settings of a client session, and the bounds of what it holds.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::time::Duration;
use crate::wire::text::{Guid, Version};

/// Longest path (UTF-8 bytes) the machine sends in OpenFile.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest host-param (`host:port`).
pub const MAX_HOST_LEN: usize = 255;
/// Longest SecurityResponse or OpenFile token the machine holds (an NTLM
/// AUTHENTICATE for a CHALLENGE with up to 1 KiB of target information).
pub const MAX_TOKEN_LEN: usize = 2048;

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
    /// Go on into the next entry of a server-side playlist ([3.1.4.4]):
    /// after the entry's header the machine sends the complete
    /// StreamSwitch and StartPlaying from the beginning by itself. Off:
    /// it waits in READY for the application's selection and play.
    pub follow_playlist: bool,
    /// The server's UDP address ([3.1.4.7]: the URL's host and port, or
    /// the proxy's): resend requests go there, and datagrams from any
    /// other address are dropped. Needed for Data over UDP.
    pub server_udp: Option<SocketAddr>,
    /// How long a missing UDP packet is waited for (reordering) before it
    /// is first asked for again.
    pub resend_delay: Duration,
    /// How long after a resend request a packet still missing is asked
    /// for again.
    pub resend_interval: Duration,
    /// How long a missing packet is asked for before it is given up (keep
    /// it below the server's window: mms-server keeps 5 s).
    pub resend_deadline: Duration,
    /// Refuse what the spec forbids even where servers do it: besides the
    /// messages' own strict checks, each fault the machine otherwise
    /// tolerates and counts in [`Stats`](super::Stats) (`tolerate.rs`).
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
            follow_playlist: true,
            server_udp: None,
            resend_delay: Duration::from_millis(20),
            resend_interval: Duration::from_millis(150),
            resend_deadline: Duration::from_secs(3),
            strict: false,
        }
    }
}
