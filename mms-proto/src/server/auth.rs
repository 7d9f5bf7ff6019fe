//! Identification for protected content: [3.2.5.6] (credentials in
//! OpenFile's tokenData, or none → LinkMacToViewerSecurityChallenge) and
//! [3.2.5.7] (LinkViewerToMacSecurityResponse → the content, a new
//! challenge, or E_ACCESSDENIED).
//!
//! The application decides *whether* a path needs identification (its
//! policy) and knows the users; the machine decides everything else:
//! which scheme a challenge uses (the AuthenPackage of [2.2.4.2], and for
//! clients of version 8 and later the scheme they answered in), the
//! cookie tying each SecurityResponse to its challenge ([2.2.4.14],
//! [2.2.4.24]), the NTLM exchange and the form it travels in ([3.2.5.7]:
//! NTLM_AUTH exactly when the client used it), and the count of failures
//! that ends the session.
//!
//! ```text
//! Event::OpenRequest { token, .. } (a protected path) ─┐
//! Event::SecurityResponse { token }                   ─┴▶ authenticate_open(now, token, &authority)
//!     Authn::Granted(user)   → accept_open(media) (or reject_open)
//!     Authn::Challenged {..} → a SecurityChallenge is on its way; wait for the response
//!     Authn::Denied          → ReportOpenFile E_ACCESSDENIED is on its way; the session closes
//! ```
//!
//! Sequences: Basic — challenge `realm="…"`, response `base64(user:pass)`
//! (or sent pre-emptively in OpenFile). NTLM — a first challenge of only
//! the two zero bytes (the client starts with NEGOTIATE), the CHALLENGE
//! for its NEGOTIATE (a NEGOTIATE may also come pre-emptively in OpenFile),
//! then its AUTHENTICATE is verified; after a failure the exchange starts
//! over with the two zero bytes.

use heapless::{String, Vec};

use super::{Event, Phase, Reply, ServerError, ServerMachine};
use crate::auth::basic::{self, BasicCredentials, MAX_USER_PASS};
use crate::auth::ntlm::{Acceptor, AcceptorConfig, message_type, message_type_of};
use crate::auth::token::{NtlmForm, NtlmToken};
use crate::auth::{NtHash, Rejection};
use crate::wire::text::AuthenPackage;
use crate::wire::{HResult, SecurityResponseRepr};

/// Longest pToken of a SecurityChallenge the machine sends: an NTLM
/// CHALLENGE (≤ 512 bytes) in NTLM_AUTH with the zero prefix, or a Basic
/// realm of up to 128 characters.
pub const MAX_CHALLENGE_TOKEN: usize = 2 + 24 + crate::auth::ntlm::MAX_CHALLENGE;

/// Longest realm the machine sends, in bytes of UTF-8.
pub const MAX_REALM_LEN: usize = 128;

/// Longest user name [`Authn::Granted`] holds, in bytes of UTF-8.
pub const MAX_USER_LEN: usize = 256;

/// What the server offers ([`super::Config::auth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthOffer {
    /// AuthenPackage of ReportConnectedEX ([2.2.4.2]): the scheme every
    /// first challenge uses, and the only one for clients older than
    /// version 8 ([3.2.5.6]).
    pub package: AuthenPackage,
    /// The other scheme, also accepted from clients of version 8 and later
    /// when they answer in it (e.g. Basic credentials in OpenFile).
    pub second: Option<AuthenPackage>,
    /// Wrong answers in a session before ReportOpenFile E_ACCESSDENIED and
    /// the close (at least 1).
    pub max_failures: u32,
}

impl Default for AuthOffer {
    fn default() -> Self {
        Self {
            package: AuthenPackage::Ntlm,
            second: Some(AuthenPackage::Basic),
            max_failures: 3,
        }
    }
}

/// The application's users, by name.
pub trait UserStore {
    /// The NT hash of `user`'s password ([`NtHash`]), or `None` for an
    /// unknown user. Names as the client typed them.
    fn nt_hash(&self, user: &str) -> Option<NtHash>;
}

/// A closure from the user name to the NT hash is a [`UserStore`].
impl<F: Fn(&str) -> Option<NtHash>> UserStore for F {
    fn nt_hash(&self, user: &str) -> Option<NtHash> {
        self(user)
    }
}

/// What [`ServerMachine::authenticate_open`] needs from the application
/// for one call: the users, the names it gives, and the randomness and
/// time the machine does not have.
#[derive(Clone, Copy)]
pub struct Authority<'a> {
    /// Who may identify.
    pub users: &'a dyn UserStore,
    /// The Basic realm ([2.2.4.14]), at most [`MAX_REALM_LEN`] bytes.
    pub realm: &'a str,
    /// The names in the NTLM CHALLENGE, and whether NTLMv1 is accepted.
    pub ntlm: AcceptorConfig<'a>,
    /// 8 fresh random bytes: the NTLM server challenge, used when a
    /// CHALLENGE is sent.
    pub server_challenge: [u8; 8],
    /// The server's clock as a FILETIME
    /// ([`crate::auth::ntlm::filetime_from_unix_micros`]).
    pub timestamp: u64,
}

impl core::fmt::Debug for Authority<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Authority")
            .field("realm", &self.realm)
            .field("ntlm", &self.ntlm)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`ServerMachine::authenticate_open`].
// Returned once per answer, on the stack; there is no allocator to box into.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    /// The credentials are right: answer the open
    /// ([`ServerMachine::accept_open`]). The user as named by the client.
    Granted(String<MAX_USER_LEN>),
    /// A SecurityChallenge is queued; [`Event::SecurityResponse`] follows.
    Challenged {
        /// It follows wrong credentials (count it against the client).
        failed: bool,
    },
    /// Too many failures: ReportOpenFile with E_ACCESSDENIED is queued and
    /// the session closes.
    Denied,
}

/// The identification state of a session ([3.2.5.6], [3.2.5.7]).
#[derive(Debug, Clone, Default)]
pub(super) struct Auth {
    /// The scheme of the current open's exchange, once the client used one.
    scheme: Option<AuthenPackage>,
    /// The NTLM exchange: the NEGOTIATE and CHALLENGE the MIC covers.
    acceptor: Acceptor,
    /// A CHALLENGE was sent in this form; an AUTHENTICATE may follow.
    ntlm_form: Option<NtlmForm>,
    /// The cookie of the last challenge ([2.2.4.14]).
    cookie: u32,
    /// playIncarnation of the message that triggered the challenge.
    incarnation: u32,
    /// The SecurityResponse being decided echoed another cookie.
    stale: bool,
    /// Wrong answers in this session.
    failures: u32,
    /// Challenges sent in this session (bounds NTLM restarts too).
    challenges: u32,
    /// A challenge was sent for the current open: it is served only once
    /// granted.
    required: bool,
    /// The current open's credentials were accepted.
    granted: bool,
    /// pToken of the challenge to send.
    token: Vec<u8, MAX_CHALLENGE_TOKEN>,
}

impl Auth {
    /// A new OpenFile: a new exchange (the failures count on).
    pub(super) fn new_open(&mut self, incarnation: u32) {
        self.scheme = None;
        self.ntlm_form = None;
        self.stale = false;
        self.required = false;
        self.granted = false;
        self.incarnation = incarnation;
    }

    /// Whether the open may be served: no challenge, or granted.
    pub(super) fn may_serve(&self) -> bool {
        !self.required || self.granted
    }

    /// The SecurityChallenge to send.
    pub(super) fn challenge_repr(&self) -> crate::wire::SecurityChallengeRepr<'_> {
        crate::wire::SecurityChallengeRepr {
            play_incarnation: self.incarnation,
            cookie: self.cookie,
            token: &self.token,
        }
    }
}

/// What a token is, by its bytes.
fn scheme_of(token: &[u8]) -> AuthenPackage {
    if NtlmToken::parse(token).is_ok() {
        AuthenPackage::Ntlm
    } else {
        AuthenPackage::Basic
    }
}

struct Users<'a>(&'a dyn UserStore);

impl Users<'_> {
    fn ntlm(&self, user: &crate::auth::ntlm::NtlmStr<'_>) -> Option<NtHash> {
        let mut buf = [0u8; 4 * MAX_USER_LEN];
        self.0.nt_hash(user.to_str(&mut buf)?)
    }
}

impl ServerMachine {
    /// [3.2.5.7] SecurityResponse: checked against the challenge it
    /// answers (the cookie); the application answers with
    /// [`ServerMachine::authenticate_open`].
    pub(super) fn on_security_response<'p>(&mut self, r: &SecurityResponseRepr<'p>) -> Event<'p> {
        self.auth.stale = r.cookie != self.auth.cookie;
        self.auth.incarnation = r.play_incarnation;
        self.phase = Phase::OpenPending;
        Event::SecurityResponse { token: r.token }
    }

    /// Identifies the client for the open being decided, with `token`:
    /// the tokenData of [`Event::OpenRequest`] (empty when none came) or
    /// the pToken of [`Event::SecurityResponse`]. Call it for a path that
    /// needs identification; see [`Authn`] for what follows. A
    /// [`ServerError::Misuse`] when no open is being decided or the
    /// machine offers no authentication ([`super::Config::auth`]).
    pub fn authenticate_open(
        &mut self,
        _now: crate::time::Instant,
        token: &[u8],
        authority: &Authority<'_>,
    ) -> Result<Authn, ServerError> {
        if self.phase != Phase::OpenPending {
            return Err(ServerError::Misuse("authenticate_open without an open"));
        }
        let Some(offer) = self.config.auth else {
            return Err(ServerError::Misuse(
                "authenticate_open without Config::auth",
            ));
        };
        if authority.realm.len() > MAX_REALM_LEN {
            return Err(ServerError::Misuse("realm longer than 128 bytes"));
        }
        self.auth.required = true;
        if core::mem::take(&mut self.auth.stale) {
            // An answer to another challenge: nothing to check it against.
            return self.auth_failed(offer, authority);
        }
        if token.is_empty() {
            return self.challenge(offer, authority, false);
        }
        let scheme = scheme_of(token);
        if !self.offers(offer, scheme) {
            return self.auth_failed(offer, authority);
        }
        self.auth.scheme = Some(scheme);
        let users = Users(authority.users);
        let verdict = match scheme {
            AuthenPackage::Basic => {
                let mut scratch = [0u8; MAX_USER_PASS + 3];
                BasicCredentials::parse(token)
                    .map_err(Rejection::from)
                    .and_then(|c| c.verify(&mut scratch, |u| authority.users.nt_hash(u)))
                    .map(name)
            }
            AuthenPackage::Ntlm => {
                // scheme_of saw it parse.
                let Ok(t) = NtlmToken::parse(token) else {
                    return self.auth_failed(offer, authority);
                };
                match (message_type_of(t.message), self.auth.ntlm_form) {
                    // A NEGOTIATE, or the bare prefix (a client starting
                    // with nothing): the CHALLENGE.
                    (Some(message_type::NEGOTIATE), _) => {
                        return self.ntlm_challenge(offer, authority, t);
                    }
                    (None, _) if t.message.is_empty() => {
                        return self.ntlm_challenge(offer, authority, t);
                    }
                    (Some(message_type::AUTHENTICATE), Some(_)) => {
                        let mut buf = [0u8; 4 * MAX_USER_LEN];
                        self.auth
                            .acceptor
                            .verify(&authority.ntlm, t.message, |id| users.ntlm(&id.user))
                            .map(|v| name(v.identity.user.to_str(&mut buf).unwrap_or("")))
                    }
                    _ => Err(Rejection::BadCredentials),
                }
            }
        };
        match verdict {
            Ok(user) => {
                self.auth.granted = true;
                Ok(Authn::Granted(user))
            }
            Err(_) => self.auth_failed(offer, authority),
        }
    }

    /// Whether `scheme` may be used with this client ([3.2.5.6]: only the
    /// AuthenPackage for clients older than 8; unknown versions count as
    /// old).
    fn offers(&self, offer: AuthOffer, scheme: AuthenPackage) -> bool {
        let modern = self.setup.client_version.is_some_and(|v| v.major >= 8);
        scheme == offer.package || (modern && offer.second == Some(scheme))
    }

    /// A wrong answer: a new challenge, or the end after `max_failures`.
    fn auth_failed(
        &mut self,
        offer: AuthOffer,
        authority: &Authority<'_>,
    ) -> Result<Authn, ServerError> {
        self.auth.failures = self.auth.failures.saturating_add(1);
        if self.auth.failures >= offer.max_failures.max(1) {
            return self.deny();
        }
        self.challenge(offer, authority, true)
    }

    /// ReportOpenFile E_ACCESSDENIED and the close.
    fn deny(&mut self) -> Result<Authn, ServerError> {
        self.reject_open(HResult::E_ACCESSDENIED)?;
        Ok(Authn::Denied)
    }

    /// Too many challenges (NTLM restarts without failures count too).
    fn count_challenge(&mut self, offer: AuthOffer) -> bool {
        self.auth.challenges = self.auth.challenges.saturating_add(1);
        self.auth.challenges
            > offer
                .max_failures
                .max(1)
                .saturating_mul(2)
                .saturating_add(2)
    }

    /// A fresh challenge in the exchange's scheme (the AuthenPackage when
    /// the client used none): Basic's realm, or NTLM's two zero bytes.
    fn challenge(
        &mut self,
        offer: AuthOffer,
        authority: &Authority<'_>,
        failed: bool,
    ) -> Result<Authn, ServerError> {
        if self.count_challenge(offer) {
            return self.deny();
        }
        let scheme = self
            .auth
            .scheme
            .filter(|&s| self.offers(offer, s))
            .unwrap_or(offer.package);
        self.auth.ntlm_form = None;
        let t = &mut self.auth.token;
        t.clear();
        match scheme {
            AuthenPackage::Basic => {
                let n = basic::challenge_len(authority.realm);
                // n ≤ 2 · (7 + 2 · 128 + 2) < MAX_CHALLENGE_TOKEN.
                t.resize(n, 0)
                    .map_err(|()| ServerError::Misuse("realm too long"))?;
                basic::emit_challenge(authority.realm, t)?;
            }
            AuthenPackage::Ntlm => {
                // The capacity is far above 2.
                let _ = t.extend_from_slice(&[0, 0]);
            }
        }
        self.send_challenge()?;
        Ok(Authn::Challenged { failed })
    }

    /// The CHALLENGE for a NEGOTIATE (or for nothing), in the client's form.
    fn ntlm_challenge(
        &mut self,
        offer: AuthOffer,
        authority: &Authority<'_>,
        t: NtlmToken<'_>,
    ) -> Result<Authn, ServerError> {
        if self.count_challenge(offer) {
            return self.deny();
        }
        let form = t.form.for_security_message();
        let mut msg = [0u8; crate::auth::ntlm::MAX_CHALLENGE];
        let n = match self.auth.acceptor.challenge(
            &authority.ntlm,
            t.message,
            authority.server_challenge,
            authority.timestamp,
            &mut msg,
        ) {
            Ok(n) => n,
            // A NEGOTIATE that does not parse or is too long: a failure.
            Err(_) => {
                self.auth.challenges -= 1;
                return self.auth_failed(offer, authority);
            }
        };
        let tok = &mut self.auth.token;
        tok.clear();
        // overhead + n ≤ 26 + 512 = MAX_CHALLENGE_TOKEN.
        tok.resize(form.overhead() + n, 0)
            .map_err(|()| ServerError::Misuse("NTLM challenge too long"))?;
        form.emit_bytes(&msg[..n], tok)?;
        self.auth.ntlm_form = Some(form);
        self.send_challenge()?;
        Ok(Authn::Challenged { failed: false })
    }

    /// Queues the SecurityChallenge with a new cookie; waits for the
    /// response.
    fn send_challenge(&mut self) -> Result<(), ServerError> {
        // The cookie names the challenge: distinct per challenge of the
        // session, never 0 (a client that echoes nothing).
        self.auth.cookie =
            self.client_id.rotate_left(8) ^ self.auth.challenges.wrapping_mul(0x9E37);
        if self.auth.cookie == 0 {
            self.auth.cookie = 1;
        }
        self.phase = Phase::Challenged;
        self.out.push(Reply::SecurityChallenge)
    }
}

/// The user name of a granted identity, bounded.
fn name(user: &str) -> String<MAX_USER_LEN> {
    let mut s = String::new();
    for c in user.chars() {
        if s.push(c).is_err() {
            break;
        }
    }
    s
}
