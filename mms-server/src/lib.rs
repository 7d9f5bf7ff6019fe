//! # mms-server
//!
//! The server of mms-rs: [`mms_proto::server::Session`] machines driven by a
//! mio event loop, content from a directory ([`content::ContentRoot`]).
//!
//! **Status:** one event loop, TCP data delivery, files (no playlists,
//! live sources, UDP or authentication yet). The runtime only moves bytes,
//! reads files and keeps time; every protocol decision is the machine's.

pub mod content;
mod event_loop;

pub use event_loop::{Options, Server};
