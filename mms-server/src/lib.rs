//! # mms-server
//!
//! The server of mms-rs: [`mms_proto::server::Session`] machines driven by
//! mio event loops (one per core, all accepting from one socket), content
//! from a directory ([`content::ContentRoot`]), settings from defaults, a
//! TOML file and flags ([`config::Settings`]), and a W3C access log
//! ([`access_log`]).
//!
//! **Status:** TCP data delivery of files (plain and MMSH-chunked ASF);
//! no UDP, live sources or authentication yet. The runtime only moves
//! bytes, reads files and keeps time; every protocol decision is the
//! machine's.

pub mod access_log;
pub mod config;
pub mod content;
mod event_loop;

pub use event_loop::{Options, Server};
