//! # mms-proto
//!
//! The protocol core of mms-rs: a zero-copy codec for every structure of the
//! Microsoft Media Server protocol ([MS-MMSP] section 2), ASF reading and
//! rewriting, and the sans-IO client and server machines.
//!
//! * **No I/O, no clock.** Callers hand in bytes and time; this crate never
//!   reads a socket or a clock.
//! * **`no_std`, no allocator.** Every parse path borrows from the input
//!   buffer. The `alloc` feature only adds conversions to owned strings. The
//!   crate builds for `thumbv7em-none-eabihf` with default features off.
//! * **Panic policy.** Network input never panics and never allocates.
//!   Every view's accessors are safe to call once its `check_len` succeeded;
//!   every `Repr::parse` validates lengths before it reads. Indexing that
//!   cannot fail carries a comment saying why; the fuzz targets in `mms-fuzz`
//!   enforce it.
//!
//! Start with [`wire::frame`] to split a TCP byte stream into units, then
//! [`wire::TcpMessageHeader`] / [`wire::Message`] for commands and
//! [`wire::DataPacket`] for media. [`asf`] reads and rewrites the ASF
//! content those Data packets carry. [`client`] and [`server`] are the two
//! ends of [3.1] and [3.2] as sans-IO machines; [`machine`] is the input
//! and transmit shape they share. [`auth`] holds the Basic and NTLM
//! schemes both machines' authentication uses.
//!
//! [MS-MMSP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-mmsp/
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod asf;
pub mod auth;
pub mod client;
pub mod machine;
pub mod server;
pub mod time;
pub mod wire;

#[cfg(any(fuzzing, feature = "oracles"))]
pub mod fuzzing;
