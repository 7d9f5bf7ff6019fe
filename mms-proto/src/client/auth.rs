//! Answers to a LinkMacToViewerSecurityChallenge ([3.1.5.8]) and
//! credentials sent pre-emptively in OpenFile's tokenData ([3.1.5.6],
//! [2.2.4.21]), in Basic ([RFC2617]) or NTLM ([MS-NLMP]).
//!
//! The application holds the credentials and the randomness; the machine
//! builds every token: Basic's `base64(user:password)` and a NUL; NTLM's
//! NEGOTIATE for a challenge of only the two zero bytes, and the
//! AUTHENTICATE for a CHALLENGE, in the form the CHALLENGE came in
//! (NTLM_AUTH or bare, [3.2.5.7]). It remembers what it sent, so that a
//! challenge answering credentials already given says so
//! ([`super::Event::SecurityChallenge`]'s `refused`), and it ends a
//! session that keeps challenging ([`MAX_CHALLENGES`]).
//!
//! ```text
//! Event::SecurityChallenge { scheme, token, refused: false }
//!     -> answer_challenge(token, &Answer { credentials, client_challenge, timestamp })
//! Event::SecurityChallenge { refused: true, .. }   -> the credentials are wrong
//! ```
//!
//! [RFC2617]: https://www.rfc-editor.org/rfc/rfc2617
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

use heapless::Vec;

use super::config::MAX_TOKEN_LEN;
use super::output::Pending;
use super::{ClientError, ClientMachine, Phase};
use crate::auth::ntlm::{Initiator, message_type, message_type_of};
use crate::auth::token::{NtlmForm, NtlmToken};
use crate::auth::{Credentials, Secret, basic};
use crate::wire::text::AuthenPackage;

/// Challenges one session answers before it ends with
/// [`ClientError::TooManyChallenges`].
pub const MAX_CHALLENGES: u8 = 8;

/// What the application gives for one answer: the credentials, and the
/// randomness and time the machine does not have.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The user, domain and password (Basic needs the clear text).
    pub credentials: Credentials<'a>,
    /// 8 fresh random bytes: the NTLMv2 client challenge.
    pub client_challenge: [u8; 8],
    /// The client's clock as a FILETIME
    /// ([`crate::auth::ntlm::filetime_from_unix_micros`]), used when the
    /// server's CHALLENGE carries no timestamp.
    pub timestamp: u64,
}

/// Credentials sent in OpenFile before any challenge
/// ([`ClientMachine::preauthenticate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preauth {
    /// Basic credentials (the password travels in every OpenFile).
    Basic,
    /// An NTLM NEGOTIATE ([2.2.4.21]: bare, or in NTLM_AUTH when
    /// `wrapped`); the server answers with its CHALLENGE.
    NtlmNegotiate {
        /// In an NTLM_AUTH structure ([2.2.4.14.1]).
        wrapped: bool,
    },
}

/// The last credentials the machine sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Sent {
    #[default]
    Nothing,
    Basic,
    Negotiate,
    Authenticate,
}

/// The client's side of identification.
#[derive(Debug, Clone, Default)]
pub(super) struct ClientAuth {
    sent: Sent,
    /// NEGOTIATEs of this machine go in NTLM_AUTH ([`Preauth::NtlmNegotiate`]
    /// or [`ClientMachine::set_ntlm_wrapped`]).
    wrapped: bool,
    /// Challenges received.
    challenges: u8,
    /// OpenFile's tokenData.
    open_token: Vec<u8, MAX_TOKEN_LEN>,
}

impl ClientAuth {
    /// OpenFile's tokenData (empty: none).
    pub(super) fn open_token(&self) -> &[u8] {
        &self.open_token
    }

    /// A challenge arrived: whether it refuses what was sent
    /// (anything but a CHALLENGE after our NEGOTIATE), and whether there
    /// were too many.
    pub(super) fn on_challenge(&mut self, token: &[u8]) -> Result<bool, ClientError> {
        self.challenges = self.challenges.saturating_add(1);
        if self.challenges > MAX_CHALLENGES {
            return Err(ClientError::TooManyChallenges);
        }
        let ntlm_challenge = NtlmToken::parse(token)
            .is_ok_and(|t| message_type_of(t.message) == Some(message_type::CHALLENGE));
        Ok(match self.sent {
            Sent::Nothing => false,
            Sent::Negotiate => !ntlm_challenge,
            Sent::Basic | Sent::Authenticate => true,
        })
    }
}

impl ClientMachine {
    /// Sends credentials in OpenFile's tokenData ([3.1.5.6]): Basic (the
    /// server may answer the open at once) or an NTLM NEGOTIATE. Call it
    /// before OpenFile goes out (right after [`ClientMachine::new`]).
    pub fn preauthenticate(
        &mut self,
        how: Preauth,
        credentials: &Credentials<'_>,
    ) -> Result<(), ClientError> {
        if !matches!(
            self.phase,
            Phase::ConnectedEx | Phase::FunnelInfo | Phase::Funnel
        ) {
            return Err(ClientError::Misuse("preauthenticate after OpenFile"));
        }
        let a = &mut self.auth;
        a.open_token.clear();
        // Both tokens are shorter than MAX_TOKEN_LEN (checked below for Basic).
        let _ = a.open_token.resize(MAX_TOKEN_LEN, 0);
        let n = match how {
            Preauth::Basic => {
                let Secret::Password(p) = credentials.secret else {
                    return Err(ClientError::Misuse("Basic needs the clear-text password"));
                };
                a.sent = Sent::Basic;
                basic::emit_credentials(credentials.user, p, &mut a.open_token)
            }
            Preauth::NtlmNegotiate { wrapped } => {
                a.wrapped = wrapped;
                a.sent = Sent::Negotiate;
                let form = NtlmForm {
                    zero_prefix: false,
                    wrapped,
                };
                form.emit(&mut a.open_token, |b| Initiator::new("").negotiate(b))
            }
        };
        match n {
            Ok(n) => {
                a.open_token.truncate(n);
                Ok(())
            }
            Err(_) => {
                a.open_token.clear();
                a.sent = Sent::Nothing;
                Err(ClientError::TooLong("the credentials"))
            }
        }
    }

    /// The AuthenPackage of ReportConnectedEX ([2.2.4.2]): the scheme the
    /// server says it may challenge with; `None` before it arrived or
    /// when the server named none.
    pub fn authen_package(&self) -> Option<AuthenPackage> {
        self.setup.authen_package()
    }

    /// Whether this machine's NEGOTIATEs go in NTLM_AUTH ([2.2.4.14.1]);
    /// bare by default.
    pub fn set_ntlm_wrapped(&mut self, wrapped: bool) {
        self.auth.wrapped = wrapped;
    }

    /// Answers a [`super::Event::SecurityChallenge`] for the Auth-Scheme
    /// ([3.1.5.8]): `challenge` is the event's token. Basic: the
    /// credentials; NTLM: a NEGOTIATE for the two zero bytes, the
    /// AUTHENTICATE for a CHALLENGE (in the CHALLENGE's form).
    pub fn answer_challenge(
        &mut self,
        challenge: &[u8],
        answer: &Answer<'_>,
    ) -> Result<(), ClientError> {
        if self.phase != Phase::Challenged {
            return Err(ClientError::Misuse(
                "answer_challenge without a SecurityChallenge",
            ));
        }
        let creds = &answer.credentials;
        let wrapped = self.auth.wrapped;
        let (sent, r) = match self.setup.auth_scheme() {
            AuthenPackage::Basic => {
                let Secret::Password(p) = creds.secret else {
                    return Err(ClientError::Misuse("Basic needs the clear-text password"));
                };
                (
                    Sent::Basic,
                    self.setup
                        .set_response(|b| basic::emit_credentials(creds.user, p, b)),
                )
            }
            AuthenPackage::Ntlm => {
                let t = NtlmToken::parse(challenge)?;
                let i = Initiator::new("");
                if t.message.is_empty() {
                    let form = NtlmForm {
                        zero_prefix: true,
                        wrapped,
                    };
                    (
                        Sent::Negotiate,
                        self.setup
                            .set_response(|b| form.emit(b, |m| i.negotiate(m))),
                    )
                } else {
                    let form = t.form.for_security_message();
                    let r = self.setup.set_response(|b| {
                        form.emit(b, |m| {
                            i.authenticate(
                                t.message,
                                creds,
                                answer.client_challenge,
                                answer.timestamp,
                                m,
                            )
                        })
                    });
                    (Sent::Authenticate, r)
                }
            }
        };
        r?;
        self.auth.sent = sent;
        self.out.push(Pending::SecurityResponse)?;
        self.phase = Phase::Open;
        Ok(())
    }
}
