//! # mms-server
//!
//! The server of mms-rs: [`mms_proto::server::ServerMachine`]s driven by
//! mio event loops (one per core, all accepting from one socket; the
//! sockets, slab, timers and buffers), the answers to the machines'
//! events in their own module (content from a directory
//! ([`content::ContentRoot`]), the redirect table, playlists, the access
//! log), settings from defaults, a TOML file and flags
//! ([`config::Settings`]), and a W3C access log ([`access_log`]).
//!
//! **Status:** TCP and UDP data delivery of files (plain and MMSH-chunked
//! ASF), Basic and NTLM for protected paths ([`auth_policy`]), live
//! publishing points fed by a command, a looped file or another MMS
//! server, fanned out to every listener ([`live`]). The runtime only moves
//! bytes, reads files and keeps time; every protocol decision is the
//! machine's.

pub mod access_log;
pub mod admin;
mod answers;
pub mod auth_policy;
pub mod auth_settings;
pub mod config;
mod conn;
pub mod content;
mod event_loop;
pub mod live;
pub mod metrics;
pub mod reload;
mod sockets;
mod udp;
pub mod users;

pub use event_loop::{Options, Server};
pub use metrics::LoopStats;
pub use sockets::{FD_RESERVE, fd_limit, sessions_for_fd_limit};
