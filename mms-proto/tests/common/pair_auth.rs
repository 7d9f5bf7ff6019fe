//! Identification in the simulation pair: the server's application
//! protects what it serves with a users table, the client's answers
//! challenges with a list of passwords, one per refusal.

use std::collections::HashMap;

use mms_proto::auth::ntlm::AcceptorConfig;
use mms_proto::auth::{Credentials, NtHash, Secret};
use mms_proto::client::{Answer, ClientError, ClientMachine};
use mms_proto::server::{Authn, Authority, ServerError, ServerMachine};

/// The server application's users and what it saw.
#[derive(Default)]
pub struct ServerAuth {
    pub users: HashMap<String, NtHash>,
    pub realm: String,
    /// Every outcome, in order.
    pub outcomes: Vec<Authn>,
    /// Counts the server challenges drawn (each a fresh value).
    draws: u64,
}

impl ServerAuth {
    /// A server whose only user is `user` with `password`.
    pub fn with_user(user: &str, password: &str) -> Self {
        let mut users = HashMap::new();
        users.insert(user.to_ascii_lowercase(), NtHash::of_password(password));
        Self {
            users,
            realm: "pair".into(),
            ..Self::default()
        }
    }

    /// Identifies the client with `token`; true when the open may be
    /// served now.
    pub fn check(
        &mut self,
        m: &mut ServerMachine,
        now: mms_proto::time::Instant,
        token: &[u8],
    ) -> Result<bool, ServerError> {
        self.draws += 1;
        let users = |u: &str| self.users.get(&u.to_ascii_lowercase()).copied();
        let authority = Authority {
            users: &users,
            realm: &self.realm,
            ntlm: AcceptorConfig::default(),
            server_challenge: self.draws.to_le_bytes(),
            timestamp: mms_proto::auth::ntlm::filetime_from_unix_micros(now.0),
        };
        let a = m.authenticate_open(now, token, &authority)?;
        let granted = matches!(a, Authn::Granted(_));
        self.outcomes.push(a);
        Ok(granted)
    }
}

/// The client application's credentials: passwords tried in order, the
/// next after each refusal; when none is left it gives up.
#[derive(Default)]
pub struct ClientAuth {
    pub user: String,
    pub passwords: Vec<String>,
    /// Which password is in use.
    pub at: usize,
    /// Challenges seen: (refused, pToken).
    pub challenges: Vec<(bool, Vec<u8>)>,
    /// It gave up: every password was refused.
    pub gave_up: bool,
}

impl ClientAuth {
    pub fn new(user: &str, passwords: &[&str]) -> Self {
        Self {
            user: user.into(),
            passwords: passwords.iter().map(|p| p.to_string()).collect(),
            ..Self::default()
        }
    }

    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            user: &self.user,
            domain: "",
            secret: Secret::Password(&self.passwords[self.at.min(self.passwords.len() - 1)]),
        }
    }

    /// Answers a challenge (false: gave up).
    pub fn answer(
        &mut self,
        m: &mut ClientMachine,
        token: &[u8],
        refused: bool,
    ) -> Result<bool, ClientError> {
        self.challenges.push((refused, token.to_vec()));
        if refused {
            self.at += 1;
            if self.at >= self.passwords.len() {
                self.gave_up = true;
                return Ok(false);
            }
        }
        let n = self.challenges.len() as u64;
        let answer = Answer {
            credentials: self.credentials(),
            client_challenge: (n * 0x0101_0101).to_le_bytes(),
            timestamp: 0,
        };
        m.answer_challenge(token, &answer)?;
        Ok(true)
    }
}
