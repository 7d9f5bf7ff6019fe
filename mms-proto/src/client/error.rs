//! Why a session ended, or why a request was refused.

use crate::wire::{Error, HResult, MessageId};

use super::Phase;

/// Why a session ended, or why a request was refused. An error from
/// [`handle_input`](super::ClientMachine::handle_input),
/// [`handle_timeout`](super::ClientMachine::handle_timeout) or
/// [`poll_output`](super::ClientMachine::poll_output) ends the session;
/// [`ClientError::Misuse`] from a request method only refuses that request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A message or packet did not parse ([3.1.5.2]).
    Malformed(Error),
    /// The server answered with a failure HRESULT.
    Server {
        /// The message that carried it.
        message: MessageId,
        /// Its hr.
        hr: HResult,
    },
    /// A message that the current phase does not allow.
    Unexpected {
        /// The message.
        message: MessageId,
        /// What the machine was waiting for ([`Phase::waiting_for`]).
        phase: Phase,
    },
    /// A Data packet the current state does not allow.
    UnexpectedData(&'static str),
    /// The Header timer expired more than
    /// [`HEADER_RETRY_LIMIT`](super::HEADER_RETRY_LIMIT) times
    /// ([3.1.6.1]).
    HeaderTimeout,
    /// The server closed the connection ([3.1]).
    ConnectionClosed,
    /// The request does not fit the current state (not fatal).
    Misuse(&'static str),
    /// The server asked for something the machine does not do.
    Unsupported(&'static str),
    /// A path, host or token longer than the machine holds.
    TooLong(&'static str),
    /// The server challenged more than
    /// [`MAX_CHALLENGES`](super::MAX_CHALLENGES) times ([3.1.5.8]).
    TooManyChallenges,
}

impl ClientError {
    /// `Err(Server)` when `hr` of `message` is a failure.
    pub(super) fn check(message: MessageId, hr: HResult) -> Result<(), Self> {
        if hr.is_failure() {
            Err(ClientError::Server { message, hr })
        } else {
            Ok(())
        }
    }
}

impl From<Error> for ClientError {
    fn from(e: Error) -> Self {
        ClientError::Malformed(e)
    }
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Malformed(e) => write!(f, "malformed server message: {e}"),
            ClientError::Server { message, hr } => {
                write!(f, "the server answered {} with {hr}", message.spec_name())
            }
            ClientError::Unexpected { message, phase } => write!(
                f,
                "unexpected {} while waiting for {}",
                message.spec_name(),
                phase.waiting_for()
            ),
            ClientError::UnexpectedData(why) => write!(f, "unexpected data packet: {why}"),
            ClientError::HeaderTimeout => f.write_str("the ASF header did not arrive"),
            ClientError::ConnectionClosed => f.write_str("the server closed the connection"),
            ClientError::Misuse(why) => write!(f, "request refused: {why}"),
            ClientError::Unsupported(what) => write!(f, "not supported: {what}"),
            ClientError::TooLong(what) => write!(f, "{what} is too long"),
            ClientError::TooManyChallenges => {
                f.write_str("the server keeps asking for credentials")
            }
        }
    }
}

impl core::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ClientError::Malformed(e) => Some(e),
            _ => None,
        }
    }
}
