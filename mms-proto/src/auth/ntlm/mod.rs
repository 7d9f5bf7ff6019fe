//! NTLM ([MS-NLMP]) as MS-MMSP uses it: a connection-oriented exchange of
//! NEGOTIATE → CHALLENGE → AUTHENTICATE ([MS-NLMP] 1.3.1.1), checked with
//! NTLMv2 ([MS-NLMP] 3.3.2). Nothing is signed or sealed afterwards, so the
//! session keys only serve the MIC.
//!
//! * [`msg`] — the three messages: parsers (with `nom`) and serializers
//!   into caller buffers; [`av`] — AV_PAIR lists ([MS-NLMP] 2.2.2.1).
//! * [`crypto`] — NTOWFv2, the NTLMv2 response, NTProofStr, the session
//!   base key, the MIC, and NTLMv1's DESL.
//! * [`Acceptor`] — the server side: answers a NEGOTIATE with a CHALLENGE
//!   (the server challenge and the timestamp are the caller's) and checks
//!   the AUTHENTICATE against a lookup of the user's [`NtHash`].
//! * [`Initiator`] — the client side: a NEGOTIATE, then the AUTHENTICATE
//!   for a CHALLENGE (the client challenge and the timestamp are the
//!   caller's).
//!
//! In MMS the messages travel inside the forms of [`crate::auth::token`].
//!
//! [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/

pub mod av;
mod client;
pub mod crypto;
pub mod msg;
mod server;

pub use client::{Initiator, MAX_TARGET_INFO, NEGOTIATE_FLAGS};
pub use msg::{
    AuthenticateMessage, AuthenticateRepr, ChallengeMessage, ChallengeRepr, NegotiateMessage,
    NegotiateRepr, NtlmStr, SIGNATURE, Version,
};
pub use server::{
    Acceptor, AcceptorConfig, Identity, MAX_CHALLENGE, MAX_NEGOTIATE, ResponseVersion, Verified,
    verify as verify_authenticate,
};

#[allow(unused_imports)] // doc links
use super::NtHash;

/// NegotiateFlags bits ([MS-NLMP] 2.2.2.5), named as the spec names them.
pub mod flags {
    /// A: NTLMSSP_NEGOTIATE_UNICODE — strings are UTF-16LE.
    pub const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
    /// B: NTLM_NEGOTIATE_OEM — strings are in the OEM code page.
    pub const NEGOTIATE_OEM: u32 = 0x0000_0002;
    /// C: NTLMSSP_REQUEST_TARGET — the CHALLENGE carries TargetName.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// D: NTLMSSP_NEGOTIATE_SIGN.
    pub const NEGOTIATE_SIGN: u32 = 0x0000_0010;
    /// E: NTLMSSP_NEGOTIATE_SEAL.
    pub const NEGOTIATE_SEAL: u32 = 0x0000_0020;
    /// F: NTLMSSP_NEGOTIATE_DATAGRAM.
    pub const NEGOTIATE_DATAGRAM: u32 = 0x0000_0040;
    /// G: NTLMSSP_NEGOTIATE_LM_KEY.
    pub const NEGOTIATE_LM_KEY: u32 = 0x0000_0080;
    /// H: NTLMSSP_NEGOTIATE_NTLM.
    pub const NEGOTIATE_NTLM: u32 = 0x0000_0200;
    /// J: anonymous connection.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// K: NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED.
    pub const OEM_DOMAIN_SUPPLIED: u32 = 0x0000_1000;
    /// L: NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED.
    pub const OEM_WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
    /// M: NTLMSSP_NEGOTIATE_ALWAYS_SIGN.
    pub const NEGOTIATE_ALWAYS_SIGN: u32 = 0x0000_8000;
    /// N: NTLMSSP_TARGET_TYPE_DOMAIN.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// O: NTLMSSP_TARGET_TYPE_SERVER.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// P: NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY.
    pub const NEGOTIATE_EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// Q: NTLMSSP_NEGOTIATE_IDENTIFY.
    pub const NEGOTIATE_IDENTIFY: u32 = 0x0010_0000;
    /// R: NTLMSSP_REQUEST_NON_NT_SESSION_KEY.
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// S: NTLMSSP_NEGOTIATE_TARGET_INFO — the CHALLENGE carries TargetInfo.
    pub const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
    /// T: NTLMSSP_NEGOTIATE_VERSION — the Version field is present.
    pub const NEGOTIATE_VERSION: u32 = 0x0200_0000;
    /// U: NTLMSSP_NEGOTIATE_128.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// V: NTLMSSP_NEGOTIATE_KEY_EXCH — EncryptedRandomSessionKey is used.
    pub const NEGOTIATE_KEY_EXCH: u32 = 0x4000_0000;
    /// W: NTLMSSP_NEGOTIATE_56.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// MessageType values ([MS-NLMP] 2.2.1).
pub mod message_type {
    /// NtLmNegotiate.
    pub const NEGOTIATE: u32 = 1;
    /// NtLmChallenge.
    pub const CHALLENGE: u32 = 2;
    /// NtLmAuthenticate.
    pub const AUTHENTICATE: u32 = 3;
}

/// The MessageType of an NTLM message, or `None` when `message` does not
/// start with the signature and a type.
pub fn message_type_of(message: &[u8]) -> Option<u32> {
    if message.len() >= 12 && message.starts_with(SIGNATURE) {
        Some(u32::from_le_bytes([
            message[8],
            message[9],
            message[10],
            message[11],
        ]))
    } else {
        None
    }
}

/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET_SECS: u64 = 11_644_473_600;

/// The FILETIME ([MS-DTYP] 2.3.3; 100 ns units since 1601) of a Unix time
/// given in microseconds: the form of MsvAvTimestamp and of the NTLMv2
/// response's TimeStamp. A helper for callers, who own the clock.
pub const fn filetime_from_unix_micros(unix_micros: u64) -> u64 {
    (unix_micros + FILETIME_UNIX_OFFSET_SECS * 1_000_000).saturating_mul(10)
}

/// [MS-NLMP] section 4.2's published values, shared by the unit tests.
#[cfg(test)]
pub(crate) mod tests_data {
    /// [MS-NLMP] 4.2.1: ServerChallenge.
    pub(crate) const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    /// [MS-NLMP] 4.2.1: ClientChallenge.
    pub(crate) const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    /// [MS-NLMP] 4.2.4.3's TargetInfo: MsvAvNbDomainName "Domain",
    /// MsvAvNbComputerName "Server", MsvAvEOL.
    pub(crate) const SPEC_TARGET_INFO: [u8; 36] = [
        0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00, 0x6e,
        0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00, 0x65, 0x00,
        0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// [MS-NLMP] 4.2.4.3 CHALLENGE_MESSAGE (NTLMv2 example).
    pub(crate) const SPEC_CHALLENGE_V2: &str = "4e544c4d53535000020000000c000c003800000033828ae2\
        0123456789abcdef00000000000000002400240044000000060070170000000f5300650072007600\
        6500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";

    /// [MS-NLMP] 4.2.4.4 AUTHENTICATE_MESSAGE (NTLMv2 example: user
    /// "User", domain "Domain", workstation "COMPUTER", KEY_EXCH with
    /// RandomSessionKey 55…55, no MIC).
    pub(crate) const SPEC_AUTHENTICATE_V2: &str = "4e544c4d5353500003000000180018006c000000\
        54005400840000000c000c0048000000080008005400000010001000\
        5c00000010001000d8000000358288e20501280a0000000f44006f006d006100\
        69006e00550073006500720043004f004d005000550054004500520086c35097\
        ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927b\
        ebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000\
        02000c0044006f006d00610069006e0001000c00530065007200760065007200\
        0000000000000000c5dad2544fc9799094ce1ce90bc9d03e";

    /// Decodes hex (whitespace skipped) for the tests.
    pub(crate) fn unhex(s: &str) -> heapless::Vec<u8, 1024> {
        let digits: heapless::Vec<u8, 2048> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime() {
        // The davenport NTLM write-up's example: 2003-06-17 10:00 UTC is
        // 127003176000000000 (0x0090d336b734c301 little-endian).
        assert_eq!(
            filetime_from_unix_micros(1_055_844_000 * 1_000_000),
            127_003_176_000_000_000
        );
        assert_eq!(
            127_003_176_000_000_000u64.to_le_bytes(),
            [0x00, 0x90, 0xd3, 0x36, 0xb7, 0x34, 0xc3, 0x01]
        );
    }

    #[test]
    fn message_types() {
        assert_eq!(message_type_of(b"NTLMSSP\0\x02\0\0\0"), Some(2));
        assert_eq!(message_type_of(b"NTLMSSP\0\x02\0\0"), None);
        assert_eq!(message_type_of(b"XTLMSSP\0\x02\0\0\0"), None);
    }
}
