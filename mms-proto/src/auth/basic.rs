//! Basic authentication ([RFC2617] section 2) as MS-MMSP carries it.
//!
//! * The server's challenge, in SecurityChallenge's pToken ([2.2.4.14]):
//!   `realm="…"` then a NUL, in UTF-16LE. [`emit_challenge`] writes it;
//!   [`crate::wire::text::BasicChallenge`] parses it.
//! * The client's credentials, in OpenFile's tokenData ([2.2.4.21]) or
//!   SecurityResponse's pToken ([2.2.4.24]): the RFC's `basic-credentials`
//!   (base64 of `user:password`) "as a null-terminated ASCII string".
//!   [`BasicCredentials::parse`] accepts that form and the HTTP header form
//!   with a leading `Basic ` (any case); [`emit_credentials`] writes the
//!   spec's form, **without** `Basic `, as the spec words it.
//!
//! A server checks credentials against the user's [`NtHash`]: the
//! received password is hashed as NTLM would (MD4 of its UTF-16LE units;
//! the password's bytes are read as UTF-8 when they are valid UTF-8, as
//! ISO-8859-1 otherwise), so one stored hash serves both schemes.
//!
//! [RFC2617]: https://www.rfc-editor.org/rfc/rfc2617

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{NtHash, Rejection};
use crate::wire::error::room;
use crate::wire::{Error, Result};

/// The longest `user:password` (decoded) this module handles, in bytes.
pub const MAX_USER_PASS: usize = 512;

/// The longest base64 text for [`MAX_USER_PASS`] bytes.
pub const MAX_ENCODED: usize = MAX_USER_PASS.div_ceil(3) * 4;

/// Bytes [`emit_challenge`] writes for `realm`.
pub fn challenge_len(realm: &str) -> usize {
    let escapes = realm.chars().filter(|c| matches!(c, '"' | '\\')).count();
    // realm=" … " NUL, in UTF-16 code units.
    2 * ("realm=\"".len() + realm.encode_utf16().count() + escapes + 1 /* " */ + 1/* NUL */)
}

/// [2.2.4.14] Writes the Basic pToken `realm="<realm>"` and its NUL in
/// UTF-16LE (`"` and `\` escaped as RFC 2616's quoted-string says);
/// returns the bytes written. An empty realm gives `realm=""`, which the
/// spec says SHOULD be sent when no realm is configured.
pub fn emit_challenge(realm: &str, buf: &mut [u8]) -> Result<usize> {
    let n = challenge_len(realm);
    room(buf, n)?;
    let mut at = 0;
    let mut put = |u: u16| {
        buf[at..at + 2].copy_from_slice(&u.to_le_bytes());
        at += 2;
    };
    "realm=\"".encode_utf16().for_each(&mut put);
    for c in realm.chars() {
        if matches!(c, '"' | '\\') {
            put(u16::from(b'\\'));
        }
        let mut units = [0u16; 2];
        c.encode_utf16(&mut units).iter().for_each(|&u| put(u));
    }
    put(u16::from(b'"'));
    put(0);
    Ok(n)
}

/// Bytes [`emit_credentials`] writes.
pub fn credentials_len(user: &str, password: &str) -> usize {
    (user.len() + 1 + password.len()).div_ceil(3) * 4 + 1
}

/// [2.2.4.21] / [2.2.4.24] Writes `base64(user ":" password)` and a NUL
/// (ASCII): the spec's basic-credentials, without the `Basic ` prefix.
/// Fails on a user name holding `:` (RFC 2617 forbids it) or on more than
/// [`MAX_USER_PASS`] bytes.
pub fn emit_credentials(user: &str, password: &str, buf: &mut [u8]) -> Result<usize> {
    if user.contains(':') {
        return Err(Error::invalid("basic-credentials", "user name holds ':'"));
    }
    let plain = user.len() + 1 + password.len();
    if plain > MAX_USER_PASS {
        return Err(Error::TooLong {
            len: plain as u64,
            max: MAX_USER_PASS as u64,
        });
    }
    let n = credentials_len(user, password);
    room(buf, n)?;
    let mut scratch = [0u8; MAX_USER_PASS];
    scratch[..user.len()].copy_from_slice(user.as_bytes());
    scratch[user.len()] = b':';
    scratch[user.len() + 1..plain].copy_from_slice(password.as_bytes());
    let written = STANDARD
        .encode_slice(&scratch[..plain], &mut buf[..n - 1])
        .map_err(|_| Error::BufferTooSmall {
            needed: n,
            got: buf.len(),
        })?;
    debug_assert_eq!(written, n - 1);
    buf[n - 1] = 0;
    Ok(n)
}

/// Basic credentials as received: the base64 text, validated, without the
/// optional `Basic ` prefix and the NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicCredentials<'a> {
    /// The base64 text of `user:password`.
    pub encoded: &'a [u8],
    /// Whether the token began with `Basic ` (the HTTP header form).
    pub had_prefix: bool,
}

/// A decoded `user:password`, borrowing a caller's scratch buffer.
#[derive(Clone, Copy)]
pub struct UserPass<'b> {
    /// Bytes before the first `:`.
    pub user: &'b [u8],
    /// Bytes after it.
    pub password: &'b [u8],
}

impl core::fmt::Debug for UserPass<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UserPass")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl<'a> BasicCredentials<'a> {
    /// Parses tokenData / pToken holding Basic credentials: ASCII, ended by
    /// a NUL (a missing NUL is tolerated, extra trailing NULs too), with
    /// or without a leading `Basic ` (any case, then spaces).
    pub fn parse(token: &'a [u8]) -> Result<Self> {
        let mut end = token.len();
        while end > 0 && token[end - 1] == 0 {
            end -= 1;
        }
        let mut text = &token[..end];
        let had_prefix = text.len() >= 6 && text[..6].eq_ignore_ascii_case(b"basic ");
        if had_prefix {
            text = &text[6..];
            while let [b' ', rest @ ..] = text {
                text = rest;
            }
        }
        if text.is_empty() {
            return Err(Error::invalid("basic-credentials", "empty"));
        }
        if text.len() > MAX_ENCODED {
            return Err(Error::TooLong {
                len: text.len() as u64,
                max: MAX_ENCODED as u64,
            });
        }
        if !text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            return Err(Error::invalid("basic-credentials", "not base64"));
        }
        // Validate now so that `decode` only fails on a short buffer.
        let mut scratch = [0u8; MAX_USER_PASS + 3];
        let n = STANDARD
            .decode_slice(text, &mut scratch)
            .map_err(|_| Error::invalid("basic-credentials", "not base64"))?;
        if !scratch[..n].contains(&b':') {
            return Err(Error::invalid("basic-credentials", "no ':' in user-pass"));
        }
        Ok(Self {
            encoded: text,
            had_prefix,
        })
    }

    /// Decodes into `scratch` and splits at the first `:`.
    pub fn decode<'b>(&self, scratch: &'b mut [u8]) -> Result<UserPass<'b>> {
        let n = STANDARD
            .decode_slice(self.encoded, &mut *scratch)
            .map_err(|_| Error::BufferTooSmall {
                needed: self.encoded.len() / 4 * 3,
                got: scratch.len(),
            })?;
        let plain = &scratch[..n];
        let colon = plain
            .iter()
            .position(|&b| b == b':')
            .ok_or(Error::invalid("basic-credentials", "no ':' in user-pass"))?;
        Ok(UserPass {
            user: &plain[..colon],
            password: &plain[colon + 1..],
        })
    }

    /// Checks the credentials: `lookup` gets the user name (UTF-8) and
    /// returns that user's NT hash, or `None` for an unknown user. Returns
    /// the user name (in `scratch`) when the password's NT hash matches, in
    /// constant time; an unknown user costs the same hashing as a known
    /// one.
    pub fn verify<'b>(
        &self,
        scratch: &'b mut [u8; MAX_USER_PASS + 3],
        lookup: impl FnOnce(&str) -> Option<NtHash>,
    ) -> core::result::Result<&'b str, Rejection> {
        let up = self.decode(scratch)?;
        let user = core::str::from_utf8(up.user).ok();
        let stored = user.and_then(lookup);
        let given = password_nt_hash(up.password);
        let expect = stored.unwrap_or(NtHash([0; 16]));
        let ok = given.ct_eq(&expect) & stored.is_some();
        match (ok, user) {
            (true, Some(u)) => Ok(u),
            _ => Err(Rejection::BadCredentials),
        }
    }
}

/// The NT hash of a password received as bytes: UTF-8 when valid, else
/// ISO-8859-1 (each byte one code point).
pub fn password_nt_hash(password: &[u8]) -> NtHash {
    match core::str::from_utf8(password) {
        Ok(s) => NtHash::of_password(s),
        Err(_) => NtHash::of_units(password.iter().map(|&b| u16::from(b))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::text::BasicChallenge;

    fn utf16(s: &str) -> heapless::Vec<u8, 256> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn challenge_golden_and_parses() {
        let mut buf = [0xa5u8; 64];
        let n = emit_challenge("mms-rs", &mut buf).unwrap();
        assert_eq!(&buf[..n], &utf16("realm=\"mms-rs\"\0")[..]);
        assert_eq!(n, challenge_len("mms-rs"));
        let c = BasicChallenge::parse(&buf[..n]).unwrap();
        assert!(c.realm.unwrap().eq_str("mms-rs"));
        // Empty realm: realm="" (the spec's SHOULD).
        let n = emit_challenge("", &mut buf).unwrap();
        assert_eq!(&buf[..n], &utf16("realm=\"\"\0")[..]);
        // Quotes and backslashes are escaped and still parse.
        let n = emit_challenge("a\"b\\c", &mut buf).unwrap();
        assert_eq!(&buf[..n], &utf16("realm=\"a\\\"b\\\\c\"\0")[..]);
        assert!(BasicChallenge::parse(&buf[..n]).is_ok());
        assert!(emit_challenge("mms-rs", &mut buf[..10]).is_err());
    }

    /// RFC 2617 section 2's example: Aladdin / open sesame.
    #[test]
    fn credentials_golden_rfc2617() {
        let mut buf = [0xa5u8; 64];
        let n = emit_credentials("Aladdin", "open sesame", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"QWxhZGRpbjpvcGVuIHNlc2FtZQ==\0");
        assert_eq!(n, credentials_len("Aladdin", "open sesame"));
        for form in [
            &b"QWxhZGRpbjpvcGVuIHNlc2FtZQ==\0"[..],
            b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\0",
            b"basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        ] {
            let c = BasicCredentials::parse(form).unwrap();
            let mut s = [0u8; MAX_USER_PASS + 3];
            let up = c.decode(&mut s).unwrap();
            assert_eq!(up.user, b"Aladdin");
            assert_eq!(up.password, b"open sesame");
        }
        assert!(emit_credentials("a:b", "c", &mut buf).is_err());
    }

    #[test]
    fn rejects_bad_tokens() {
        for bad in [
            &b""[..],
            b"\0",
            b"Basic \0",
            b"not base64!\0",
            b"eHl6\0", /* "xyz": no colon */
            b"QQ=\0",
        ] {
            assert!(BasicCredentials::parse(bad).is_err(), "{bad:?}");
        }
        let long = [b'Q'; MAX_ENCODED + 4];
        assert!(BasicCredentials::parse(&long).is_err());
    }

    #[test]
    fn verify_against_nt_hash() {
        let alice = NtHash::of_password("sécret");
        let lookup = |u: &str| (u == "alice").then_some(alice);
        let mut tok = [0u8; 64];
        let mut s = [0u8; MAX_USER_PASS + 3];
        let n = emit_credentials("alice", "sécret", &mut tok).unwrap();
        let c = BasicCredentials::parse(&tok[..n]).unwrap();
        assert_eq!(c.verify(&mut s, lookup), Ok("alice"));
        let n = emit_credentials("alice", "wrong", &mut tok).unwrap();
        let c = BasicCredentials::parse(&tok[..n]).unwrap();
        assert_eq!(c.verify(&mut s, lookup), Err(Rejection::BadCredentials));
        let n = emit_credentials("bob", "sécret", &mut tok).unwrap();
        let c = BasicCredentials::parse(&tok[..n]).unwrap();
        assert_eq!(c.verify(&mut s, lookup), Err(Rejection::BadCredentials));
        // ISO-8859-1 bytes hash as their code points: "\xe9" is 'é'.
        assert!(password_nt_hash(b"s\xe9cret").ct_eq(&alice));
    }
}
