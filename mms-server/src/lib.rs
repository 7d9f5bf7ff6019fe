//! # mms-server
//!
//! The server of mms-rs: it will bind `mms_proto`'s sans-IO server machine
//! to mio event loops and provide the `mms-server` binary. This crate is a
//! placeholder until the server issue lands; the protocol codec it will
//! drive is [`mms_proto::wire`].

pub use mms_proto::wire;
