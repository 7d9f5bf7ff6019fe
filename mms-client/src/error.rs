//! What can go wrong, told apart the way a user needs it (and the `mms`
//! command's exit codes).

use std::{fmt, io};

use mms_proto::client::ClientError;
use mms_proto::wire::{HResult, MessageId};

/// An error of the client.
#[derive(Debug)]
pub enum Error {
    /// The URL does not parse.
    Url(String),
    /// The host could not be reached (name resolution or TCP connect).
    Unreachable {
        /// `host:port` tried.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// The server did not answer in time.
    Timeout {
        /// What was waited for.
        waiting_for: &'static str,
        /// How long, seconds.
        seconds: f64,
    },
    /// The connection failed while in use.
    Io(io::Error),
    /// The server does not have the file ([2.2.4.7] hr).
    NotFound {
        /// The path asked for.
        path: String,
        /// The server's hr.
        hr: HResult,
    },
    /// The server wants credentials ([3.1.5.8]) and none were given.
    AuthRequired,
    /// The server refused the credentials given (a wrong user name or
    /// password, or too many attempts).
    AuthFailed,
    /// The server asks for a scheme `--auth` does not allow.
    AuthScheme {
        /// The scheme the server's challenge asks for.
        asked: &'static str,
        /// What the client was told to use.
        allowed: &'static str,
    },
    /// The server answered a request with a failure HRESULT.
    Server {
        /// The message that carried it.
        message: MessageId,
        /// Its hr.
        hr: HResult,
    },
    /// The server broke the protocol (malformed or unexpected input), or
    /// closed the connection unexpectedly.
    Protocol(ClientError),
    /// The ASF header did not parse.
    Header(mms_proto::wire::Error),
    /// More redirects than allowed.
    TooManyRedirects(u8),
    /// Data over UDP was agreed but no datagram arrived (a firewall or
    /// NAT in the way); [`crate::Transport::Auto`] then uses TCP.
    UdpSilent,
    /// A request that does not fit the session's state.
    Misuse(&'static str),
}

impl Error {
    /// The `mms` command's exit code for this error (documented in
    /// `mms --help`): a connection the server closed or reset is 9
    /// ("connection lost"), whatever the phase.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Url(_) | Error::Misuse(_) => 2,
            Error::Unreachable { .. } => 3,
            Error::Timeout { .. } | Error::UdpSilent => 4,
            Error::NotFound { .. } => 5,
            Error::AuthRequired | Error::AuthFailed | Error::AuthScheme { .. } => 6,
            Error::Protocol(ClientError::ConnectionClosed) | Error::Io(_) => 9,
            Error::Protocol(_) | Error::Header(_) | Error::TooManyRedirects(_) => 7,
            Error::Server { .. } => 8,
        }
    }

    pub(crate) fn from_machine(e: ClientError, path: &str) -> Self {
        match e {
            ClientError::Server {
                message: MessageId::ReportOpenFile,
                hr,
            } if matches!(hr, HResult::NS_E_FILE_NOT_FOUND | HResult::E_FILE_NOT_FOUND)
                || hr.0 & 0xFFFF == 2 =>
            {
                Error::NotFound {
                    path: path.to_string(),
                    hr,
                }
            }
            ClientError::Server {
                hr: HResult::E_ACCESSDENIED,
                ..
            } => Error::AuthRequired,
            ClientError::Server { message, hr } => Error::Server { message, hr },
            ClientError::Misuse(m) => Error::Misuse(m),
            ClientError::TooManyChallenges => Error::AuthFailed,
            other => Error::Protocol(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(why) => write!(f, "bad URL: {why}"),
            Error::Unreachable { target, source } => {
                write!(f, "cannot reach {target}: {source}")
            }
            Error::Timeout {
                waiting_for,
                seconds,
            } => write!(
                f,
                "timed out after {seconds:.1} s waiting for {waiting_for}"
            ),
            Error::Io(e) => write!(f, "connection failed: {e}"),
            Error::NotFound { path, hr } => {
                write!(f, "the server has no file {path:?} ({hr})")
            }
            Error::AuthRequired => f.write_str(
                "authentication required: the server asks for a user name and password \
                 (give them as mms://user:password@host/... or with --user)",
            ),
            Error::AuthFailed => {
                f.write_str("authentication failed: the server refused the user name or password")
            }
            Error::AuthScheme { asked, allowed } => write!(
                f,
                "authentication required: the server asks for {asked}, but --auth {allowed} was given"
            ),
            Error::Server { message, hr } => {
                write!(f, "the server refused ({hr} in {})", message.spec_name())
            }
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Header(e) => write!(f, "the ASF header is malformed: {e}"),
            Error::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            Error::UdpSilent => f.write_str(
                "no UDP datagram arrived from the server (a firewall or NAT in the way? \
                 try --transport tcp)",
            ),
            Error::Misuse(why) => write!(f, "request refused: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unreachable { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
