//! [2.2.4.14.1] NTLM_AUTH: the wrapper some NTLM tokens travel in, inside
//! SecurityChallenge / SecurityResponse / OpenFile tokens (after two zero
//! bytes).

use super::error::room;
use super::field::view;
use super::{Error, Result};

view! {
    /// [2.2.4.14.1] NTLM_AUTH structure.
    pub struct NtlmAuth, fixed_len = 24;
    /// Zero: MUST be 0.
    zero / set_zero: u32 = 0;
    /// One: MUST be 1.
    one / set_one: u32 = 4;
    /// Reserved1: ignored.
    reserved1 / set_reserved1: u32 = 8;
    /// NTLMTokenSize: bytes of NTLMToken.
    ntlm_token_size / set_ntlm_token_size: u32 = 12;
    /// Two: MUST be 2.
    two / set_two: u32 = 16;
    /// Reserved2: ignored.
    reserved2 / set_reserved2: u32 = 20;
}

/// [2.2.4.14.1] NTLM_AUTH, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtlmAuthRepr<'a> {
    /// NTLMToken: the NTLM challenge or response token ([MS-NLMP]).
    pub token: &'a [u8],
}

impl<'a> NtlmAuthRepr<'a> {
    /// Parses an NTLM_AUTH structure.
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        let v = NtlmAuth::new_checked(b)?;
        if v.zero() != 0 || v.one() != 1 || v.two() != 2 {
            return Err(Error::invalid(
                "NTLM_AUTH",
                "Zero/One/Two fields are not 0/1/2",
            ));
        }
        let n = v.ntlm_token_size() as u64;
        if 24 + n > b.len() as u64 {
            return Err(Error::invalid(
                "NTLMTokenSize",
                "token runs past the structure",
            ));
        }
        Ok(Self {
            token: &b[24..24 + n as usize],
        })
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        24 + self.token.len()
    }

    /// Writes the structure (reserved fields zero).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        room(buf, len)?;
        let size = u32::try_from(self.token.len())
            .map_err(|_| Error::invalid("NTLMTokenSize", "too long"))?;
        let mut v = NtlmAuth::new_unchecked(&mut buf[..len]);
        v.set_zero(0);
        v.set_one(1);
        v.set_reserved1(0);
        v.set_ntlm_token_size(size);
        v.set_two(2);
        v.set_reserved2(0);
        buf[24..len].copy_from_slice(self.token);
        Ok(len)
    }
}
