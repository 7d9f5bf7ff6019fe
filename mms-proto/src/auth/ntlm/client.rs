//! The client side of NTLM: [`Initiator`].

use hmac::Mac;

use super::av::{AvWriter, av_flags, av_id};
use super::crypto::{
    TEMP_FIXED_LEN, lmv2_response, mic_mac, nt_proof_str, ntowfv2, session_base_key_v2, write_temp,
};
use super::flags::*;
use super::msg::{AuthenticateRepr, ChallengeMessage, MIC_OFFSET, NegotiateRepr, NtlmStr, Version};
use crate::auth::Credentials;
use crate::wire::{Error, Result};

/// The NegotiateFlags an [`Initiator`] asks for: Unicode (or OEM), the
/// target, NTLM with extended session security, TargetInfo, Version,
/// 128/56-bit. Not SIGN, SEAL or KEY_EXCH: MMS protects nothing after the
/// exchange, so the session key stays the SessionBaseKey.
pub const NEGOTIATE_FLAGS: u32 = NEGOTIATE_UNICODE
    | NEGOTIATE_OEM
    | REQUEST_TARGET
    | NEGOTIATE_NTLM
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_56;

/// The longest CHALLENGE TargetInfo an [`Initiator`] answers (bytes).
pub const MAX_TARGET_INFO: usize = 1024;

/// Room for the AV pairs the client adds (MsvAvFlags) and the response's
/// fixed parts.
const NT_RESPONSE_MAX: usize = 16 + TEMP_FIXED_LEN + MAX_TARGET_INFO + 8 + 4;

/// The client side of one NTLM exchange. Its NEGOTIATE is always the same
/// bytes (so nothing needs keeping for the MIC), and its AUTHENTICATE is a
/// pure function of the CHALLENGE, the credentials and the caller's
/// client challenge and timestamp.
///
/// ```text
/// let i = Initiator::new("WORKSTATION");
/// let n = i.negotiate(&mut out)?;                                   // send
/// let n = i.authenticate(challenge, &creds, random8, filetime_now, &mut out)?; // send
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Initiator<'w> {
    /// Workstation name sent in the AUTHENTICATE (may be empty).
    pub workstation: &'w str,
    /// NegotiateFlags of the NEGOTIATE.
    pub flags: u32,
}

impl<'w> Initiator<'w> {
    /// An initiator asking for [`NEGOTIATE_FLAGS`].
    pub const fn new(workstation: &'w str) -> Self {
        Self {
            workstation,
            flags: NEGOTIATE_FLAGS,
        }
    }

    fn negotiate_repr(&self) -> NegotiateRepr<'static> {
        NegotiateRepr {
            flags: self.flags,
            domain: &[],
            workstation: &[],
            version: Some(Version::MMS_RS),
        }
    }

    /// Writes the NEGOTIATE ([MS-NLMP] 3.1.5.1.1); returns its length.
    pub fn negotiate(&self, out: &mut [u8]) -> Result<usize> {
        self.negotiate_repr().emit(out)
    }

    /// Answers a CHALLENGE ([MS-NLMP] 3.1.5.1.2) with an NTLMv2
    /// AUTHENTICATE written into `out`; returns its length.
    ///
    /// `client_challenge` must be 8 fresh random bytes; `timestamp` is the
    /// client's FILETIME, used only when the CHALLENGE carries no
    /// MsvAvTimestamp. When it does, the response carries a MIC (with
    /// MsvAvFlags' MIC bit) and a zero LmChallengeResponse, as the spec
    /// says. Fails when the server granted neither Unicode nor OEM, or on
    /// non-ASCII text for an OEM-only server.
    pub fn authenticate(
        &self,
        challenge: &[u8],
        creds: &Credentials<'_>,
        client_challenge: [u8; 8],
        timestamp: u64,
        out: &mut [u8],
    ) -> Result<usize> {
        let ch = ChallengeMessage::parse(challenge)?;
        if ch.target_info_bytes.len() > MAX_TARGET_INFO {
            return Err(Error::TooLong {
                len: ch.target_info_bytes.len() as u64,
                max: MAX_TARGET_INFO as u64,
            });
        }
        // The flags both sides want ([MS-NLMP] 3.1.5.1.2), one encoding.
        let mut flags = ch.flags & self.flags;
        if flags & NEGOTIATE_UNICODE != 0 {
            flags &= !NEGOTIATE_OEM;
        } else if flags & NEGOTIATE_OEM == 0 {
            return Err(Error::invalid(
                "NegotiateFlags",
                "neither Unicode nor OEM granted",
            ));
        } else if !(creds.user.is_ascii() && creds.domain.is_ascii() && self.workstation.is_ascii())
        {
            return Err(Error::invalid(
                "NegotiateFlags",
                "OEM strings must be ASCII",
            ));
        }
        let server_ts = ch.target_info.timestamp();
        let with_mic = server_ts.is_some();
        let ts = server_ts.unwrap_or(timestamp);

        // The response's AV pairs: the server's, with MsvAvFlags' MIC bit
        // when a MIC is sent ([MS-NLMP] 3.1.5.1.2).
        let mut nt = [0u8; NT_RESPONSE_MAX];
        let mut pairs = [0u8; MAX_TARGET_INFO + 8 + 4];
        let mut w = AvWriter::new(&mut pairs);
        let mut had_flags = false;
        for p in ch.target_info.iter() {
            if p.id == av_id::FLAGS {
                // The MIC bit says whether this message has a MIC: set it
                // exactly then, whatever the server's pairs said.
                let old = <[u8; 4]>::try_from(p.value).map_or(0, u32::from_le_bytes);
                let new = if with_mic {
                    old | av_flags::MIC_PRESENT
                } else {
                    old & !av_flags::MIC_PRESENT
                };
                w.push(av_id::FLAGS, &new.to_le_bytes())?;
                had_flags = true;
            } else {
                w.push(p.id, p.value)?;
            }
        }
        if with_mic && !had_flags {
            w.push(av_id::FLAGS, &av_flags::MIC_PRESENT.to_le_bytes())?;
        }
        let pairs_len = w.finish()?;

        let key = ntowfv2(
            &creds.secret.nt_hash(),
            creds.user.encode_utf16(),
            creds.domain.encode_utf16(),
        );
        let temp_len = write_temp(&mut nt[16..], ts, &client_challenge, &pairs[..pairs_len])
            .ok_or(Error::invalid("TargetInfo", "too long"))?;
        let proof = nt_proof_str(&key, &ch.server_challenge, &nt[16..16 + temp_len]);
        nt[..16].copy_from_slice(&proof);
        let lm = if with_mic {
            [0u8; 24]
        } else {
            lmv2_response(&key, &ch.server_challenge, &client_challenge)
        };
        let repr = AuthenticateRepr {
            lm_response: &lm,
            nt_response: &nt[..16 + temp_len],
            domain: NtlmStr::for_flags(creds.domain, flags),
            user: NtlmStr::for_flags(creds.user, flags),
            workstation: NtlmStr::for_flags(self.workstation, flags),
            encrypted_random_session_key: &[],
            flags,
            version: Some(Version::MMS_RS),
            mic: with_mic,
        };
        let n = repr.emit(out)?;
        if with_mic {
            // No KEY_EXCH: ExportedSessionKey is the KeyExchangeKey, which
            // for NTLMv2 is the SessionBaseKey.
            let exported = session_base_key_v2(&key, &proof);
            let mut neg = [0u8; 40];
            let nl = self.negotiate(&mut neg)?;
            let mic = mic_mac(&exported, &neg[..nl], challenge, &out[..n])
                .finalize()
                .into_bytes();
            out[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlm::msg::AuthenticateMessage;
    use crate::auth::ntlm::tests_data::*;
    use crate::auth::{NtHash, Secret};

    fn spec_creds() -> Credentials<'static> {
        Credentials {
            user: "User",
            domain: "Domain",
            secret: Secret::Password("Password"),
        }
    }

    /// Against [MS-NLMP] 4.2.4.3's CHALLENGE (no timestamp) with time 0,
    /// the AUTHENTICATE carries 4.2.4.2.1's LMv2 response and 4.2.4.2.2's
    /// NTLMv2 response byte for byte.
    #[test]
    fn spec_challenge_gives_spec_responses() {
        let ch = unhex(SPEC_CHALLENGE_V2);
        let spec_auth = unhex(SPEC_AUTHENTICATE_V2);
        let spec = AuthenticateMessage::parse(&spec_auth).unwrap();
        let mut out = [0u8; 512];
        let n = Initiator::new("COMPUTER")
            .authenticate(&ch, &spec_creds(), CLIENT_CHALLENGE, 0, &mut out)
            .unwrap();
        let a = AuthenticateMessage::parse(&out[..n]).unwrap();
        assert_eq!(a.lm_response, spec.lm_response);
        assert_eq!(a.nt_response, spec.nt_response);
        assert!(a.user.eq_str("User") && a.domain.eq_str("Domain"));
        assert!(a.workstation.eq_str("COMPUTER"));
        assert_eq!(a.mic, None);
        // And the verifier accepts it.
        let v = super::super::server::verify(&[], &ch, &out[..n], false, |id| {
            id.user
                .eq_str("User")
                .then(|| NtHash::of_password("Password"))
        })
        .unwrap();
        assert!(!v.mic_checked);
    }

    #[test]
    fn negotiate_golden() {
        let mut out = [0xa5u8; 48];
        let n = Initiator::new("").negotiate(&mut out).unwrap();
        let want = unhex(
            "4e544c4d5353500001000000 078288a2 0000000028000000 0000000028000000 0a0000000000000f",
        );
        assert_eq!(&out[..n], &want[..]);
        assert_eq!(NEGOTIATE_FLAGS, 0xa288_8207);
    }
}
