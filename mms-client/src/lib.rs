//! # mms-client
//!
//! The async client of mms-rs: [`mms_proto::client`]'s sans-IO machine
//! bound to tokio, and the `mms` command (`probe`, `dump`). The examples
//! below run as they are under `cargo test --doc`, against an mms-server
//! started in the test (hidden lines; `url` is `mms://127.0.0.1:PORT/…`).
//!
//! ## Dump a stream to a file
//!
//! [`AsfWriter`] re-pads each packet and, at [`AsfWriter::finish`],
//! patches the header's counts and writes a Simple Index: a valid,
//! seekable ASF file whatever ended the play.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
//! # let root = mms_server::content::ContentRoot::new(&dir).unwrap();
//! # let config = mms_proto::server::Config { paced: false, ..Default::default() };
//! # let server = mms_server::Server::bind(
//! #     "127.0.0.1:0".parse().unwrap(), root, mms_server::Options::new(config)).unwrap();
//! # let addr = server.local_addr().unwrap();
//! # std::thread::spawn(move || server.run(&std::sync::atomic::AtomicBool::new(false)));
//! # let url = format!("mms://{addr}/ff_av.wmv");
//! use mms_client::{AsfWriter, Options, Start};
//!
//! let mut session = mms_client::connect(&url, Options::default()).await?;
//! let path = std::env::temp_dir().join("mms-client-doc.asf");
//! let mut file = AsfWriter::new(std::fs::File::create(&path)?, session.header())?;
//! session.play_from(Start::Beginning).await?;
//! while let Some(packet) = session.next_packet().await? {
//!     file.write_packet(&packet.data)?;
//! }
//! let (finished, _) = file.finish()?;
//! assert_eq!(finished.packets, session.file().packet_count);
//! assert!(finished.indexes > 0); // a video stream: an index
//! session.close().await?;
//! # Ok(()) }
//! ```
//!
//! A partial file is continued with [`Resume`] (`mms dump --resume`).
//!
//! ## Read packets as a `Stream`
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mms_client::Error> {
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
//! # let root = mms_server::content::ContentRoot::new(&dir).unwrap();
//! # let config = mms_proto::server::Config { paced: false, ..Default::default() };
//! # let server = mms_server::Server::bind(
//! #     "127.0.0.1:0".parse().unwrap(), root, mms_server::Options::new(config)).unwrap();
//! # let addr = server.local_addr().unwrap();
//! # std::thread::spawn(move || server.run(&std::sync::atomic::AtomicBool::new(false)));
//! # let url = format!("mms://{addr}/ff_av.wmv");
//! use futures_util::StreamExt;
//! use mms_client::{Options, Start};
//!
//! let mut session = mms_client::connect(&url, Options::default()).await?;
//! session.play_from(Start::Time(1_000)).await?;
//! let mut packets = session.packets();
//! let mut n = 0;
//! while let Some(p) = packets.next().await {
//!     let p = p?; // p.location_id, p.data: the ASF packet as sent
//!     assert!(!p.data.is_empty());
//!     n += 1;
//! }
//! drop(packets);
//! assert!(n > 0 && session.stats().packets == n);
//! # Ok(()) }
//! ```
//!
//! ## Probe: what the server says
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mms_client::Error> {
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
//! # let root = mms_server::content::ContentRoot::new(&dir).unwrap();
//! # let config = mms_proto::server::Config { paced: false, ..Default::default() };
//! # let server = mms_server::Server::bind(
//! #     "127.0.0.1:0".parse().unwrap(), root, mms_server::Options::new(config)).unwrap();
//! # let addr = server.local_addr().unwrap();
//! # std::thread::spawn(move || server.run(&std::sync::atomic::AtomicBool::new(false)));
//! # let url = format!("mms://{addr}/ff_av.wmv");
//! use std::time::Duration;
//! use mms_client::{Options, Transport};
//!
//! let options = Options {
//!     connect_timeout: Duration::from_secs(5),
//!     transport: Transport::Auto, // UDP if the server offers it, else TCP
//!     strict: false,              // tolerate (and count) servers' faults
//!     ..Options::default()
//! };
//! let session = mms_client::connect(&url, options).await?;
//! let f = session.file();
//! println!("{} {:.1} s, {} bit/s, seekable {}", session.url(), f.duration, f.bit_rate, f.can_seek());
//! println!("server {:?}, auth {:?}, UDP offered {:?}",
//!     session.server_version_text(), session.auth_offered(), session.udp_offered());
//! for s in session.streams()? {
//!     println!("  #{} {} {} {} bit/s", s.number, s.kind, s.codec, s.bit_rate);
//! }
//! assert_eq!(session.streams()?.len(), 2);
//! assert_eq!(session.udp_offered(), Some(false)); // this server declines UDP
//! session.close().await?;
//! # Ok(()) }
//! ```
//!
//! Other [`Options`]: [`Options::proxy`] (an MMS proxy; a RedirectType 2
//! sets it too), [`Options::acceleration`] (the whole content faster than
//! real time), [`Options::streams`] ([`StreamChoice::Measured`]: the
//! streams that fit the packet-pair bandwidth), [`Options::strict`].
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
//! within [`Transport::FALLBACK_AFTER`] or the server declines; when the
//! datagrams stop mid-play the session reconnects over TCP and goes on
//! from the latest video key frame, dropping what it had), over the
//! TCP connection with `mmst://` or [`Transport::Tcp`]. Over UDP, lost
//! packets are asked for again ([3.1.4.7]) and packets are handed out in
//! sequence order; [`Session::udp_stats`] says what was lost and
//! recovered. A firewall must let the server's datagrams reach the local
//! UDP port ([`Options::udp_port`], ephemeral by default).
//!
//! Protected streams: credentials from the URL (`mms://user:password@host/…`,
//! percent-decoded) or [`Options::login`] answer the server's Basic or NTLM
//! challenge ([`AuthMode`], [`Options::auth`]); a refusal is
//! [`Error::AuthFailed`], a challenge without credentials
//! [`Error::AuthRequired`].

mod asf_file;
mod auth;
mod choice;
mod error;
mod resume;
mod session;
mod tolerance;
mod udp;
mod url;

pub use asf_file::{AsfWriter, Finished, Output, patch_header};
pub use auth::{AuthMode, Login, login_for_user};
pub use choice::{StreamChoice, StreamDesc};
pub use error::Error;
pub use mms_proto::client::{FileInfo, Play, Start, Stats, UdpStats};
pub use mms_proto::wire::StopAt;
pub use resume::Resume;
pub use session::{Options, Packet, Session, connect};
pub use udp::Transport;
pub use url::{DEFAULT_PORT, MmsUrl};
