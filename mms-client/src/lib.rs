//! # mms-client
//!
//! The async client of mms-rs: it will bind `mms_proto`'s sans-IO client
//! machine to tokio and provide the `mms` command. This crate is a
//! placeholder until the client issue lands; the protocol codec it will
//! drive is [`mms_proto::wire`].

pub use mms_proto::wire;
