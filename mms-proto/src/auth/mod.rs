//! Authentication schemes: Basic ([RFC2617]) and NTLM ([MS-NLMP]), as
//! MS-MMSP carries them in OpenFile's tokenData ([2.2.4.21]),
//! SecurityChallenge's and SecurityResponse's pToken ([2.2.4.14],
//! [2.2.4.24]) and the NTLM_AUTH wrapper ([2.2.4.14.1]).
//!
//! Like the rest of the crate this module does no I/O, reads no clock,
//! draws no random numbers and never allocates: the server challenge, the
//! client nonce and the timestamp are the caller's, and every message is
//! written into a caller buffer. Every parser is bounded and panic-free on
//! any input (fuzzed by `mms-fuzz`'s `ntlm_*` and `basic_credentials`
//! targets).
//!
//! * [`basic`] — `realm="…"` challenges and `base64(user:password)`
//!   credentials, checked against the stored NT hash.
//! * [`ntlm`] — NEGOTIATE / CHALLENGE / AUTHENTICATE with NTLMv2 (NTLMv1
//!   only when [`ntlm::AcceptorConfig::allow_ntlm_v1`] says so): the
//!   server's [`ntlm::Acceptor`] and the client's [`ntlm::Initiator`].
//! * [`token`] — which of the MMS forms an NTLM token came in (the two
//!   leading zero bytes, NTLM_AUTH or bare), so the answer uses the same.
//!
//! Secrets are never printed: [`NtHash`]'s `Debug` shows no bytes, and no
//! error names a user, a password or a token byte. Comparisons of hashes
//! and proofs are constant-time.
//!
//! [RFC2617]: https://www.rfc-editor.org/rfc/rfc2617
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

pub mod basic;
pub mod ntlm;
pub mod token;

use core::fmt;

use ctutils::CtEq;
use md4::{Digest, Md4};

/// The NT hash of a password: NTOWFv1 of [MS-NLMP] 3.3.1, MD4 of the
/// password's UTF-16LE code units. It is what a users file stores: NTLM
/// needs nothing else, and Basic is checked by hashing the received
/// password the same way. It is password-equivalent for NTLM.
#[derive(Clone, Copy)]
pub struct NtHash(pub [u8; 16]);

impl NtHash {
    /// NTOWFv1(`password`) ([MS-NLMP] 3.3.1).
    pub fn of_password(password: &str) -> Self {
        Self::of_units(password.encode_utf16())
    }

    /// NTOWFv1 over UTF-16 code units.
    pub fn of_units(units: impl Iterator<Item = u16>) -> Self {
        let mut h = Md4::new();
        for u in units {
            h.update(u.to_le_bytes());
        }
        Self(h.finalize().into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &NtHash) -> bool {
        self.0.ct_eq(&other.0).to_bool()
    }
}

impl fmt::Debug for NtHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NtHash(..)")
    }
}

/// A password as the caller holds it: the clear text (a client typing it)
/// or its [`NtHash`] (a users file).
#[derive(Clone, Copy)]
pub enum Secret<'a> {
    /// The clear-text password.
    Password(&'a str),
    /// NTOWFv1 of the password.
    NtHash(NtHash),
}

impl Secret<'_> {
    /// The NT hash of this secret.
    pub fn nt_hash(&self) -> NtHash {
        match *self {
            Secret::Password(p) => NtHash::of_password(p),
            Secret::NtHash(h) => h,
        }
    }
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A user's credentials on the client side.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The user name (without a domain).
    pub user: &'a str,
    /// The NTLM domain; empty for none. Basic ignores it.
    pub domain: &'a str,
    /// The password or its NT hash. Basic needs the clear text.
    pub secret: Secret<'a>,
}

/// Why credentials were refused. Deliberately says nothing about which
/// part was wrong beyond the kind, and nothing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The token does not parse (its [`crate::wire::Error`] says where).
    Malformed(crate::wire::Error),
    /// The user is unknown or the proof does not match (the two are not
    /// told apart, and take the same work).
    BadCredentials,
    /// An NTLMv1 (or LM-only) response while NTLMv1 is not allowed.
    NtlmV1NotAllowed,
    /// The MIC of the AUTHENTICATE message does not match.
    BadMic,
    /// An AUTHENTICATE without a user name (anonymous), which is refused.
    Anonymous,
}

impl From<crate::wire::Error> for Rejection {
    fn from(e: crate::wire::Error) -> Self {
        Rejection::Malformed(e)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(e) => write!(f, "malformed credentials: {e}"),
            Rejection::BadCredentials => f.write_str("wrong user name or password"),
            Rejection::NtlmV1NotAllowed => f.write_str("NTLMv1 response refused"),
            Rejection::BadMic => f.write_str("NTLM message integrity check failed"),
            Rejection::Anonymous => f.write_str("anonymous NTLM refused"),
        }
    }
}

impl core::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MS-NLMP] 4.2.2.1.2: NTOWFv1("Password").
    #[test]
    fn nt_hash_of_password() {
        assert_eq!(
            NtHash::of_password("Password").0,
            [
                0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca, 0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f,
                0xd8, 0x52
            ]
        );
        assert!(NtHash::of_password("x").ct_eq(&NtHash::of_password("x")));
        assert!(!NtHash::of_password("x").ct_eq(&NtHash::of_password("y")));
        assert_eq!(alloc_free_debug(&NtHash::of_password("x")), "NtHash(..)");
    }

    fn alloc_free_debug(h: &NtHash) -> heapless::String<32> {
        use core::fmt::Write;
        let mut s = heapless::String::new();
        write!(s, "{h:?}").unwrap();
        s
    }
}
