//! The authentication messages ([2.2.4.14] SecurityChallenge, [2.2.4.24]
//! SecurityResponse): one layout, `playIncarnation, cookie, cbToken,
//! pToken`, in both directions.

use super::field::{u32_at, view};
use super::message::MessageRepr;
use super::{Error, Result};

view! {
    /// [2.2.4.14] LinkMacToViewerSecurityChallenge: the server asks for
    /// credentials.
    pub struct SecurityChallenge, fixed_len = 20;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// playIncarnation: echoes the OpenFile / SecurityResponse's.
    play_incarnation / set_play_incarnation: u32 = 8;
    /// cookie: echoed by the client's SecurityResponse.
    cookie / set_cookie: u32 = 12;
    /// cbToken: bytes of pToken.
    cb_token / set_cb_token: u32 = 16;
}

/// [2.2.4.14] LinkMacToViewerSecurityChallenge, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityChallengeRepr<'a> {
    /// playIncarnation.
    pub play_incarnation: u32,
    /// cookie.
    pub cookie: u32,
    /// pToken: a Basic `realm="…"` in UTF-16 with its NUL, or for NTLM two
    /// zero bytes then an NTLM_AUTH structure or an NTLM challenge
    /// (see [`crate::wire::text::BasicChallenge`], [`crate::wire::NtlmAuth`]).
    pub token: &'a [u8],
}

/// Parses the `playIncarnation, cookie, cbToken, pToken` layout shared by
/// SecurityChallenge and SecurityResponse.
pub(crate) fn parse_token_message(msg: &[u8]) -> Result<(u32, u32, &[u8])> {
    let v = SecurityChallenge::new_checked(msg)?;
    let cb = v.cb_token() as u64;
    if 20 + cb > msg.len() as u64 {
        return Err(Error::Truncated {
            needed: (20 + cb).min(usize::MAX as u64) as usize,
            got: msg.len(),
        });
    }
    Ok((u32_at(msg, 8), u32_at(msg, 12), &msg[20..20 + cb as usize]))
}

/// Emits the shared token layout (see [`parse_token_message`]).
pub(crate) fn emit_token_message(
    buf: &mut [u8],
    incarnation: u32,
    cookie: u32,
    token: &[u8],
) -> Result<()> {
    let cb = u32::try_from(token.len()).map_err(|_| Error::invalid("cbToken", "token too long"))?;
    let mut v = SecurityChallenge::new_checked(&mut *buf)?;
    v.set_play_incarnation(incarnation);
    v.set_cookie(cookie);
    v.set_cb_token(cb);
    buf[20..20 + token.len()].copy_from_slice(token);
    Ok(())
}

impl<'a> MessageRepr<'a> for SecurityChallengeRepr<'a> {
    const ID: super::MessageId = super::MessageId::SecurityChallenge;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let (play_incarnation, cookie, token) = parse_token_message(msg)?;
        Ok(Self {
            play_incarnation,
            cookie,
            token,
        })
    }

    fn unpadded_len(&self) -> usize {
        20 + self.token.len()
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        emit_token_message(buf, self.play_incarnation, self.cookie, self.token)
    }
}

/// [2.2.4.24] LinkViewerToMacSecurityResponse: the client's credentials.
/// (Same layout as [`super::SecurityChallenge`], whose view serves both.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityResponseRepr<'a> {
    /// playIncarnation: the challenge's.
    pub play_incarnation: u32,
    /// cookie: the challenge's.
    pub cookie: u32,
    /// pToken: Basic `user:password` as NUL-terminated ASCII, or for NTLM
    /// two zero bytes then an NTLM_AUTH structure or response token.
    pub token: &'a [u8],
}

impl<'a> MessageRepr<'a> for SecurityResponseRepr<'a> {
    const ID: super::MessageId = super::MessageId::SecurityResponse;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let (play_incarnation, cookie, token) = parse_token_message(msg)?;
        Ok(Self {
            play_incarnation,
            cookie,
            token,
        })
    }

    fn unpadded_len(&self) -> usize {
        20 + self.token.len()
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        emit_token_message(buf, self.play_incarnation, self.cookie, self.token)
    }
}
