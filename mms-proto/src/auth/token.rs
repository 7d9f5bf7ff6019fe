//! The forms an NTLM message travels in inside an MMS token.
//!
//! [2.2.4.14] / [2.2.4.24]: "the first two bytes of the pToken field MUST
//! be 0x00. The subsequent bytes of pToken are either an NTLM_AUTH
//! structure ([2.2.4.14.1]) or an NTLM … token". [2.2.4.21] says the same
//! of OpenFile's tokenData without the two zero bytes. [3.2.5.7]: the
//! server's challenge carries NTLM_AUTH exactly when the client's response
//! did. [`NtlmToken::parse`] accepts all four combinations and says which
//! it saw ([`NtlmForm`]); [`NtlmForm::emit`] writes a message in a form,
//! so a reply can mirror the peer's.

use super::ntlm::SIGNATURE;
use crate::wire::error::room;
use crate::wire::{Error, NtlmAuthRepr, Result};

/// Bytes of the NTLM_AUTH header before NTLMToken ([2.2.4.14.1]).
pub const NTLM_AUTH_HEADER_LEN: usize = 24;

/// How an NTLM message was (or is to be) carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtlmForm {
    /// The two leading 0x00 bytes of pToken ([2.2.4.14], [2.2.4.24]).
    pub zero_prefix: bool,
    /// Inside an NTLM_AUTH structure ([2.2.4.14.1]) rather than bare.
    pub wrapped: bool,
}

impl NtlmForm {
    /// SecurityChallenge / SecurityResponse, bare: `00 00` + message.
    pub const SECURITY_BARE: Self = Self {
        zero_prefix: true,
        wrapped: false,
    };
    /// SecurityChallenge / SecurityResponse, wrapped: `00 00` + NTLM_AUTH.
    pub const SECURITY_WRAPPED: Self = Self {
        zero_prefix: true,
        wrapped: true,
    };
    /// OpenFile tokenData, bare.
    pub const OPEN_FILE_BARE: Self = Self {
        zero_prefix: false,
        wrapped: false,
    };

    /// Bytes this form adds before the message.
    pub const fn overhead(self) -> usize {
        (if self.zero_prefix { 2 } else { 0 })
            + if self.wrapped {
                NTLM_AUTH_HEADER_LEN
            } else {
                0
            }
    }

    /// The same wrapping with the zero prefix a SecurityChallenge /
    /// SecurityResponse needs (a reply to an OpenFile's token is sent in
    /// a SecurityChallenge).
    pub const fn for_security_message(self) -> Self {
        Self {
            zero_prefix: true,
            wrapped: self.wrapped,
        }
    }

    /// Writes the form's prefix into `buf`, lets `message` write the NTLM
    /// message after it (it gets the rest of `buf` and returns its length),
    /// then fills in NTLMTokenSize. Returns the token's total length.
    pub fn emit(
        self,
        buf: &mut [u8],
        message: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        let head = self.overhead();
        room(buf, head)?;
        let n = message(&mut buf[head..])?;
        let mut at = 0;
        if self.zero_prefix {
            buf[..2].fill(0);
            at = 2;
        }
        if self.wrapped {
            let size = u32::try_from(n).map_err(|_| Error::invalid("NTLMTokenSize", "too long"))?;
            let h = &mut buf[at..at + NTLM_AUTH_HEADER_LEN];
            h.fill(0);
            h[4..8].copy_from_slice(&1u32.to_le_bytes()); // One
            h[12..16].copy_from_slice(&size.to_le_bytes()); // NTLMTokenSize
            h[16..20].copy_from_slice(&2u32.to_le_bytes()); // Two
        }
        Ok(head + n)
    }

    /// Writes the form with `message` copied in.
    pub fn emit_bytes(self, message: &[u8], buf: &mut [u8]) -> Result<usize> {
        self.emit(buf, |b| {
            room(b, message.len())?;
            b[..message.len()].copy_from_slice(message);
            Ok(message.len())
        })
    }
}

/// An NTLM message found in an MMS token, and the form it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtlmToken<'a> {
    /// How it was carried.
    pub form: NtlmForm,
    /// The NTLM message (`NTLMSSP\0…`), or empty when the token held only
    /// the prefix (a server asking for NTLM before any message).
    pub message: &'a [u8],
}

impl<'a> NtlmToken<'a> {
    /// Finds the NTLM message in a pToken or tokenData. Tries, in order:
    /// a bare message, `00 00` + bare, `00 00` + NTLM_AUTH, NTLM_AUTH (the
    /// layouts cannot be confused: NTLM_AUTH's One field sits where the
    /// other reading has zeros). `00 00` alone, or `00 00` + NTLM_AUTH of
    /// an empty token, is an empty message.
    pub fn parse(token: &'a [u8]) -> Result<Self> {
        let signed = |b: &[u8]| b.starts_with(SIGNATURE);
        if signed(token) {
            return Ok(Self {
                form: NtlmForm::OPEN_FILE_BARE,
                message: token,
            });
        }
        let prefixed = token.len() >= 2 && token[..2] == [0, 0];
        if prefixed {
            let rest = &token[2..];
            if rest.is_empty() {
                return Ok(Self {
                    form: NtlmForm::SECURITY_BARE,
                    message: rest,
                });
            }
            if signed(rest) {
                return Ok(Self {
                    form: NtlmForm::SECURITY_BARE,
                    message: rest,
                });
            }
            if let Ok(a) = NtlmAuthRepr::parse(rest) {
                return Self::check_inner(NtlmForm::SECURITY_WRAPPED, a.token);
            }
        }
        if let Ok(a) = NtlmAuthRepr::parse(token) {
            return Self::check_inner(
                NtlmForm {
                    zero_prefix: false,
                    wrapped: true,
                },
                a.token,
            );
        }
        Err(Error::invalid(
            "pToken",
            "neither an NTLM message nor NTLM_AUTH",
        ))
    }

    fn check_inner(form: NtlmForm, message: &'a [u8]) -> Result<Self> {
        if message.is_empty() || message.starts_with(SIGNATURE) {
            Ok(Self { form, message })
        } else {
            Err(Error::invalid("NTLMToken", "no NTLMSSP signature"))
        }
    }
}

/// True when a SecurityChallenge pToken asks for NTLM: its first two bytes
/// are 0x00 ([3.1.5.8] for servers of major version 9 and later).
pub fn challenge_is_ntlm(token: &[u8]) -> bool {
    token.len() >= 2 && token[..2] == [0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"NTLMSSP\0\x01\0\0\0rest";

    #[test]
    fn every_form_round_trips() {
        for form in [
            NtlmForm::SECURITY_BARE,
            NtlmForm::SECURITY_WRAPPED,
            NtlmForm::OPEN_FILE_BARE,
            NtlmForm {
                zero_prefix: false,
                wrapped: true,
            },
        ] {
            let mut buf = [0xa5u8; 64];
            let n = form.emit_bytes(MSG, &mut buf).unwrap();
            assert_eq!(n, form.overhead() + MSG.len());
            let t = NtlmToken::parse(&buf[..n]).unwrap();
            assert_eq!(t.form, form);
            assert_eq!(t.message, MSG);
        }
    }

    /// [2.2.4.14.1] field by field: 00 00, Zero, One, Reserved1,
    /// NTLMTokenSize, Two, Reserved2, NTLMToken.
    #[test]
    fn wrapped_golden() {
        let mut buf = [0xa5u8; 64];
        let n = NtlmForm::SECURITY_WRAPPED
            .emit_bytes(b"NTLMSSP\0", &mut buf)
            .unwrap();
        let mut want = [0u8; 34];
        want[6] = 1; // One
        want[14] = 8; // NTLMTokenSize
        want[18] = 2; // Two
        want[26..].copy_from_slice(b"NTLMSSP\0");
        assert_eq!(&buf[..n], &want);
    }

    #[test]
    fn prefix_only_and_garbage() {
        assert_eq!(
            NtlmToken::parse(&[0, 0]).unwrap(),
            NtlmToken {
                form: NtlmForm::SECURITY_BARE,
                message: &[]
            }
        );
        assert!(NtlmToken::parse(b"").is_err());
        assert!(NtlmToken::parse(b"\0\0junk").is_err());
        assert!(NtlmToken::parse(b"realm").is_err());
        assert!(challenge_is_ntlm(&[0, 0, 1]));
        assert!(!challenge_is_ntlm(b"r\0e\0"));
    }
}
