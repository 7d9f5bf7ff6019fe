//! # mms-client
//!
//! The async client of mms-rs: [`mms_proto::client`]'s sans-IO machine
//! bound to tokio, and the `mms` command (`probe`, `dump`).
//!
//! ```no_run
//! # async fn run() -> Result<(), mms_client::Error> {
//! use futures_util::StreamExt;
//! use mms_client::{Options, Start};
//!
//! let mut session = mms_client::connect("mms://127.0.0.1/demo.wmv", Options::default()).await?;
//! println!("{} streams, {:.1} s", session.streams()?.len(), session.file().duration);
//! session.play_from(Start::Time(5_000)).await?;
//! let mut packets = session.packets();
//! while let Some(p) = packets.next().await {
//!     let p = p?;
//!     println!("packet {} ({} bytes)", p.location_id, p.data.len());
//! }
//! # Ok(()) }
//! ```
//!
//! [`connect`] gives a [`Session`]: the client's connection, READY with
//! the header in. The machine ([`mms_proto::client::ClientMachine`]) makes
//! every protocol decision, following a server-side playlist included
//! ([`Options::follow_playlist`]); this crate connects (with a timeout,
//! following the machine's typed redirects), moves bytes, keeps the one
//! timer, chooses streams per header ([`StreamChoice`]) and turns the
//! machine's events into owned values. Dropping a session or a pending
//! future cancels it.
//!
//! Data comes over UDP when the URL is `mmsu://`, or `mms://` with
//! [`Transport::Auto`] (the default: UDP, then TCP if no datagram comes
//! within [`Transport::FALLBACK_AFTER`] or the server declines), over the
//! TCP connection with `mmst://` or [`Transport::Tcp`]. Over UDP, lost
//! packets are asked for again ([3.1.4.7]) and packets are handed out in
//! sequence order; [`Session::udp_stats`] says what was lost and
//! recovered. A firewall must let the server's datagrams reach the local
//! UDP port ([`Options::udp_port`], ephemeral by default).

mod asf_file;
mod error;
mod resume;
mod session;
mod tolerance;
mod udp;
mod url;

pub use asf_file::{AsfWriter, Finished, Output, patch_header};
pub use error::Error;
pub use mms_proto::client::{FileInfo, Play, Start, Stats, UdpStats};
pub use mms_proto::wire::StopAt;
pub use resume::Resume;
pub use session::{Options, Packet, Session, StreamChoice, StreamDesc, connect};
pub use udp::Transport;
pub use url::{DEFAULT_PORT, MmsUrl};
