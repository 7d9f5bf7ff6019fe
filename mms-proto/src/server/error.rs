//! Why a server session ended, or why the application's call was refused.

use super::Phase;
use crate::wire::{Error, MessageId};

/// Why a session ended (from `handle_input`, `handle_timeout`,
/// `poll_output`, `header_piece`, `data_packet`), or why an answer of the
/// application was refused ([`ServerError::Misuse`], not fatal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// The bytes were malformed.
    Malformed(Error),
    /// A message the current phase does not allow ([3.2.5]).
    Unexpected {
        /// What arrived.
        message: MessageId,
        /// What the machine was doing.
        phase: Phase,
    },
    /// A Data packet where none may come (they only flow to the client).
    UnexpectedData(&'static str),
    /// openFileId is not the File-ID the server gave ([3.2.5.8]).
    WrongOpenFileId(u32),
    /// A feature this server does not implement, or the content does not
    /// allow.
    Unsupported(&'static str),
    /// The caller broke the run-loop contract (e.g. bytes nobody asked for).
    Misuse(&'static str),
}

impl From<Error> for ServerError {
    fn from(e: Error) -> Self {
        ServerError::Malformed(e)
    }
}

impl core::fmt::Display for ServerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServerError::Malformed(e) => write!(f, "malformed input: {e}"),
            ServerError::Unexpected { message, phase } => write!(
                f,
                "unexpected {} while waiting for {}",
                message.spec_name(),
                phase.waiting_for()
            ),
            ServerError::UnexpectedData(why) => write!(f, "unexpected data packet: {why}"),
            ServerError::WrongOpenFileId(id) => write!(f, "openFileId {id} was never given out"),
            ServerError::Unsupported(what) => write!(f, "not supported: {what}"),
            ServerError::Misuse(what) => write!(f, "run-loop contract broken: {what}"),
        }
    }
}

impl core::error::Error for ServerError {}
