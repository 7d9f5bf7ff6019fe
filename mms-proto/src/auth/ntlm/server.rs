//! The server side of NTLM: [`Acceptor`].

use hmac::Mac;

use super::av::{AvPairs, AvWriter, av_flags, av_id};
use super::crypto::{TEMP_FIXED_LEN, mic_mac, ntlmv1_response, ntowfv2, rc4k, session_base_key_v2};
use super::flags::*;
use super::msg::{
    AuthenticateMessage, ChallengeMessage, ChallengeRepr, NegotiateMessage, NtlmStr, Version,
};
use crate::auth::{NtHash, Rejection};
use crate::wire::{Error, Result};

/// The longest NEGOTIATE an [`Acceptor`] keeps (for the MIC).
pub const MAX_NEGOTIATE: usize = 256;
/// The longest CHALLENGE an [`Acceptor`] writes and keeps.
pub const MAX_CHALLENGE: usize = 512;

/// Flags a server may grant (everything else the client asks is dropped).
const GRANTABLE: u32 = NEGOTIATE_UNICODE
    | NEGOTIATE_OEM
    | REQUEST_TARGET
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56;

/// What the server says about itself in its CHALLENGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptorConfig<'c> {
    /// TargetName and MsvAvNbComputerName: the server's NetBIOS-style name.
    pub computer_name: &'c str,
    /// MsvAvNbDomainName: the domain of the accounts (what NTLMv2 clients
    /// use when they send no domain of their own varies; users are looked
    /// up by name and by the domain the AUTHENTICATE names).
    pub domain_name: &'c str,
    /// Accept NTLMv1 responses (24-byte NtChallengeResponse) — for very old
    /// players only: NTLMv1 is weak. Off by default.
    pub allow_ntlm_v1: bool,
}

impl Default for AcceptorConfig<'_> {
    fn default() -> Self {
        Self {
            computer_name: "MMS-RS",
            domain_name: "MMS-RS",
            allow_ntlm_v1: false,
        }
    }
}

/// Who the AUTHENTICATE says it is (the lookup's key).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Identity<'a> {
    /// UserName.
    pub user: NtlmStr<'a>,
    /// DomainName (may be empty).
    pub domain: NtlmStr<'a>,
    /// Workstation (may be empty).
    pub workstation: NtlmStr<'a>,
}

/// Which response the client proved itself with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseVersion {
    /// NTLMv2 ([MS-NLMP] 3.3.2).
    V2,
    /// NTLMv1 ([MS-NLMP] 3.3.1), accepted only with `allow_ntlm_v1`.
    V1,
}

/// A successful check.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    /// The authenticated user.
    pub identity: Identity<'a>,
    /// NTLMv2 or NTLMv1.
    pub response: ResponseVersion,
    /// Whether a MIC was present and checked.
    pub mic_checked: bool,
}

/// The server side of one NTLM exchange: keeps the NEGOTIATE received and
/// the CHALLENGE sent (the MIC covers both), bounded, no allocation.
///
/// ```text
/// let mut a = Acceptor::new();
/// let n = a.challenge(&config, negotiate, random8, filetime_now, &mut out)?;  // send out[..n]
/// let ok = a.verify(&config, authenticate, |id| users.nt_hash(id))?;
/// ```
#[derive(Clone)]
pub struct Acceptor {
    negotiate: heapless::Vec<u8, MAX_NEGOTIATE>,
    challenge: heapless::Vec<u8, MAX_CHALLENGE>,
}

impl Default for Acceptor {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Acceptor")
            .field("challenged", &!self.challenge.is_empty())
            .finish()
    }
}

impl Acceptor {
    /// A fresh exchange.
    pub const fn new() -> Self {
        Self {
            negotiate: heapless::Vec::new(),
            challenge: heapless::Vec::new(),
        }
    }

    /// The CHALLENGE this acceptor sent (empty before [`Self::challenge`]).
    pub fn challenge_message(&self) -> &[u8] {
        &self.challenge
    }

    /// Answers a NEGOTIATE ([MS-NLMP] 3.2.5.1.1): writes the CHALLENGE into
    /// `out` and returns its length. `server_challenge` must be 8 fresh
    /// random bytes; `timestamp` is the server's FILETIME (see
    /// [`super::filetime_from_unix_micros`]), sent as MsvAvTimestamp so
    /// that NTLMv2 clients add a MIC. `negotiate` may be empty (a client
    /// that starts with nothing): the flags are then the server's own.
    pub fn challenge(
        &mut self,
        config: &AcceptorConfig<'_>,
        negotiate: &[u8],
        server_challenge: [u8; 8],
        timestamp: u64,
        out: &mut [u8],
    ) -> Result<usize> {
        let asked = if negotiate.is_empty() {
            NEGOTIATE_UNICODE | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_VERSION
        } else {
            NegotiateMessage::parse(negotiate)?.flags
        };
        if negotiate.len() > MAX_NEGOTIATE {
            return Err(Error::TooLong {
                len: negotiate.len() as u64,
                max: MAX_NEGOTIATE as u64,
            });
        }
        let mut flags = (asked & GRANTABLE)
            | REQUEST_TARGET
            | NEGOTIATE_NTLM
            | NEGOTIATE_ALWAYS_SIGN
            | NEGOTIATE_TARGET_INFO
            | TARGET_TYPE_SERVER;
        // [MS-NLMP] 3.2.5.1.1: UNICODE when asked, else OEM; not both.
        if flags & NEGOTIATE_UNICODE != 0 {
            flags &= !NEGOTIATE_OEM;
        } else {
            flags |= NEGOTIATE_OEM;
        }
        let mut ti = [0u8; MAX_CHALLENGE];
        let mut w = AvWriter::new(&mut ti);
        w.push_str(av_id::NB_DOMAIN_NAME, config.domain_name)?;
        w.push_str(av_id::NB_COMPUTER_NAME, config.computer_name)?;
        w.push(av_id::TIMESTAMP, &timestamp.to_le_bytes())?;
        let ti_len = w.finish()?;
        let repr = ChallengeRepr {
            target_name: NtlmStr::for_flags(config.computer_name, flags),
            flags,
            server_challenge,
            target_info: &ti[..ti_len],
            version: Some(Version::MMS_RS),
        };
        if repr.buffer_len() > MAX_CHALLENGE {
            return Err(Error::TooLong {
                len: repr.buffer_len() as u64,
                max: MAX_CHALLENGE as u64,
            });
        }
        let n = repr.emit(out)?;
        self.negotiate.clear();
        self.challenge.clear();
        // Both fit: their lengths were bounded above.
        let _ = self.negotiate.extend_from_slice(negotiate);
        let _ = self.challenge.extend_from_slice(&out[..n]);
        Ok(n)
    }

    /// Checks an AUTHENTICATE against the CHALLENGE sent
    /// ([MS-NLMP] 3.2.5.1.2). `lookup` maps the claimed identity to the
    /// user's NT hash (`None`: unknown user). Proofs and MICs are compared
    /// in constant time, and an unknown user costs the same work as a
    /// wrong password.
    pub fn verify<'a>(
        &self,
        config: &AcceptorConfig<'_>,
        authenticate: &'a [u8],
        lookup: impl FnOnce(&Identity<'a>) -> Option<NtHash>,
    ) -> core::result::Result<Verified<'a>, Rejection> {
        if self.challenge.is_empty() {
            return Err(Rejection::Malformed(Error::invalid(
                "AUTHENTICATE_MESSAGE",
                "no CHALLENGE was sent",
            )));
        }
        verify(
            &self.negotiate,
            &self.challenge,
            authenticate,
            config.allow_ntlm_v1,
            lookup,
        )
    }
}

/// [`Acceptor::verify`] over explicit messages: the NEGOTIATE received
/// (empty for none), the CHALLENGE sent and the AUTHENTICATE received.
pub fn verify<'a>(
    negotiate: &[u8],
    challenge: &[u8],
    authenticate: &'a [u8],
    allow_ntlm_v1: bool,
    lookup: impl FnOnce(&Identity<'a>) -> Option<NtHash>,
) -> core::result::Result<Verified<'a>, Rejection> {
    let ch = ChallengeMessage::parse(challenge)?;
    let auth = AuthenticateMessage::parse(authenticate)?;
    if auth.user.is_empty() {
        return Err(Rejection::Anonymous);
    }
    let identity = Identity {
        user: auth.user,
        domain: auth.domain,
        workstation: auth.workstation,
    };
    let nt = auth.nt_response;
    let sc = &ch.server_challenge;
    if nt.len() > 24 {
        if nt.len() < 16 + TEMP_FIXED_LEN || nt[16] != 1 {
            return Err(Rejection::Malformed(Error::invalid(
                "NTLMv2_RESPONSE",
                "not an NTLMv2 client challenge",
            )));
        }
        let temp = &nt[16..];
        let pairs = AvPairs::parse(&temp[TEMP_FIXED_LEN..])?;
        let stored = lookup(&identity);
        let hash = stored.unwrap_or(NtHash([0; 16]));
        let key = ntowfv2(&hash, auth.user.units(), auth.domain.units());
        let proof_ok = super::crypto::nt_proof_mac(&key, sc, temp)
            .verify_slice(&nt[..16])
            .is_ok();
        if !(proof_ok & stored.is_some()) {
            return Err(Rejection::BadCredentials);
        }
        let mut proof = [0u8; 16];
        proof.copy_from_slice(&nt[..16]);
        let kek = session_base_key_v2(&key, &proof);
        let mic_present = pairs.flags().unwrap_or(0) & av_flags::MIC_PRESENT != 0;
        if mic_present {
            let Some(mic) = auth.mic else {
                return Err(Rejection::BadMic);
            };
            let exported = exported_session_key(&auth, &kek);
            if mic_mac(&exported, negotiate, challenge, authenticate)
                .verify_slice(&mic)
                .is_err()
            {
                return Err(Rejection::BadMic);
            }
        }
        Ok(Verified {
            identity,
            response: ResponseVersion::V2,
            mic_checked: mic_present,
        })
    } else if nt.len() == 24 {
        if !allow_ntlm_v1 {
            return Err(Rejection::NtlmV1NotAllowed);
        }
        let stored = lookup(&identity);
        let hash = stored.unwrap_or(NtHash([0; 16]));
        let ess = auth.flags & NEGOTIATE_EXTENDED_SESSIONSECURITY != 0;
        let mut cc = [0u8; 8];
        if ess {
            let Some(c) = auth.lm_response.get(..8) else {
                return Err(Rejection::BadCredentials);
            };
            cc.copy_from_slice(c);
        }
        let expect = ntlmv1_response(&hash, sc, ess.then_some(&cc));
        let ok = ctutils::CtEq::ct_eq(&expect[..], nt).to_bool();
        if ok & stored.is_some() {
            Ok(Verified {
                identity,
                response: ResponseVersion::V1,
                mic_checked: false,
            })
        } else {
            Err(Rejection::BadCredentials)
        }
    } else if allow_ntlm_v1 {
        // LM-only responses need the LM hash, which is never stored.
        Err(Rejection::BadCredentials)
    } else {
        Err(Rejection::NtlmV1NotAllowed)
    }
}

/// ExportedSessionKey ([MS-NLMP] 3.2.5.1.2): the KeyExchangeKey, or under
/// NTLMSSP_NEGOTIATE_KEY_EXCH the RC4 decryption of
/// EncryptedRandomSessionKey with it.
fn exported_session_key(auth: &AuthenticateMessage<'_>, kek: &[u8; 16]) -> [u8; 16] {
    match <&[u8; 16]>::try_from(auth.encrypted_random_session_key) {
        Ok(enc) if auth.flags & NEGOTIATE_KEY_EXCH != 0 => rc4k(kek, enc),
        _ => *kek,
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
