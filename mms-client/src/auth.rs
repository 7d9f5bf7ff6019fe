//! Credentials for protected streams: where they come from (the URL's
//! `user:password@`, or `--user` with `MMS_PASSWORD` or a prompt), which
//! scheme may carry them ([`AuthMode`]), and the answers to a server's
//! challenges, built by the machine
//! ([`mms_proto::client::ClientMachine::answer_challenge`]). The password
//! is never printed: [`Login`]'s `Debug` hides it and no error names it.

use std::fmt;

use mms_proto::auth::ntlm::filetime_from_unix_micros;
use mms_proto::auth::{Credentials, Secret};
use mms_proto::client::{Answer, ClientMachine, Preauth};
use mms_proto::wire::text::AuthenPackage;

use crate::Error;

/// Which scheme the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// What the server's challenge asks for ([3.1.5.8]: by its pToken
    /// and the server's version).
    #[default]
    Auto,
    /// NTLM only (the password never leaves the client).
    Ntlm,
    /// Basic only, sent with OpenFile before any challenge ([3.1.5.6]),
    /// so a server that prefers NTLM may take it from a client of 8 or
    /// later. The password travels base64-encoded, in the clear.
    Basic,
}

/// A user's credentials for a session.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name; `DOMAIN\user` names an NTLM domain.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Login {
    fn credentials(&self) -> Credentials<'_> {
        let (domain, user) = self.user.split_once('\\').unwrap_or(("", &self.user));
        Credentials {
            user,
            domain,
            secret: Secret::Password(&self.password),
        }
    }
}

/// Before OpenFile: with `--auth basic`, the credentials go with it.
pub(crate) fn prepare(
    m: &mut ClientMachine,
    login: Option<&Login>,
    mode: AuthMode,
) -> Result<(), Error> {
    match login {
        Some(l) if mode == AuthMode::Basic => m
            .preauthenticate(Preauth::Basic, &l.credentials())
            .map_err(|_| Error::Misuse("the user name and password are too long for Basic")),
        _ => Ok(()),
    }
}

/// Answers a SecurityChallenge ([3.1.5.8]), or says why not: no
/// credentials (authentication required), credentials already refused
/// (authentication failed), or a scheme the user did not allow.
pub(crate) fn answer(
    m: &mut ClientMachine,
    login: Option<&Login>,
    mode: AuthMode,
    scheme: AuthenPackage,
    token: &[u8],
    refused: bool,
) -> Result<(), Error> {
    let Some(login) = login else {
        return Err(Error::AuthRequired);
    };
    if refused {
        return Err(Error::AuthFailed);
    }
    match (mode, scheme) {
        (AuthMode::Ntlm, AuthenPackage::Basic) => {
            return Err(Error::AuthScheme {
                asked: "Basic",
                allowed: "ntlm",
            });
        }
        (AuthMode::Basic, AuthenPackage::Ntlm) => {
            return Err(Error::AuthScheme {
                asked: "NTLM",
                allowed: "basic",
            });
        }
        _ => {}
    }
    tracing::debug!(?scheme, user = %login.user, "answering the server's challenge");
    let mut client_challenge = [0u8; 8];
    getrandom::fill(&mut client_challenge)
        .map_err(|_| Error::Misuse("no randomness from the OS for NTLM"))?;
    let unix_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let answer = Answer {
        credentials: login.credentials(),
        client_challenge,
        timestamp: filetime_from_unix_micros(unix_micros),
    };
    m.answer_challenge(token, &answer)
        .map_err(|e| Error::from_machine(e, ""))
}

/// A refusal of the open with E_ACCESSDENIED means failed credentials
/// when some were given.
pub(crate) fn refine(e: Error, login: Option<&Login>) -> Error {
    match e {
        Error::AuthRequired if login.is_some() => Error::AuthFailed,
        e => e,
    }
}

/// The login of `mms --user NAME`: the password from `MMS_PASSWORD`,
/// else asked on the terminal without echo.
pub fn login_for_user(user: String) -> Result<Login, Error> {
    let password = match std::env::var("MMS_PASSWORD") {
        Ok(p) => p,
        Err(_) => rpassword::prompt_password(format!("password for {user}: "))
            .map_err(|_| Error::Misuse("no password: set MMS_PASSWORD or run on a terminal"))?,
    };
    Ok(Login { user, password })
}

/// The login of a URL's `user:password@` (none without a user name).
pub(crate) fn login_of_url(credentials: &Option<(String, String)>) -> Option<Login> {
    match credentials {
        Some((u, p)) if !u.is_empty() => Some(Login {
            user: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_their_debug() {
        let url = Some(("alice".to_string(), "secret".to_string()));
        let l = login_of_url(&url).unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("alice", "secret"));
        assert!(!format!("{l:?}").contains("secret"));
        assert_eq!(login_of_url(&None), None);
        assert_eq!(login_of_url(&Some((String::new(), "x".into()))), None);
        let d = Login {
            user: "CORP\\bob".into(),
            ..l
        };
        let c = d.credentials();
        assert_eq!((c.domain, c.user), ("CORP", "bob"));
    }
}
