//! The NTLM computations of [MS-NLMP] 3.3 and 3.4.4.2, over RustCrypto's
//! MD4 / MD5 / HMAC / DES / RC4. No allocation: strings are fed to the
//! hashes code unit by code unit.

use des::Des;
use des::cipher::{BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::{Rc4, StreamCipher};

use crate::auth::NtHash;

type HmacMd5 = Hmac<Md5>;

/// The NTLMv2 response's fixed part before its AV pairs: RespType,
/// HiRespType, Reserved1, Reserved2, TimeStamp, ChallengeFromClient,
/// Reserved3 ([MS-NLMP] 2.2.2.7).
pub const TEMP_FIXED_LEN: usize = 1 + 1 + 2 + 4 + 8 + 8 + 4;

fn hmac_md5(key: &[u8]) -> HmacMd5 {
    // HMAC takes keys of any length.
    <HmacMd5 as hmac::KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// Upper-cases one UTF-16 code unit as Windows does for NTOWFv2's user
/// name: a one-to-one mapping; units whose upper case is not a single BMP
/// character (and surrogates) stay as they are.
fn upper_unit(u: u16) -> u16 {
    let Some(c) = char::from_u32(u32::from(u)) else {
        return u;
    };
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(x), None) => u16::try_from(u32::from(x)).unwrap_or(u),
        _ => u,
    }
}

/// NTOWFv2 ([MS-NLMP] 3.3.2): `HMAC_MD5(NTOWFv1(password),
/// UNICODE(Uppercase(user) ‖ domain))` — ResponseKeyNT and ResponseKeyLM.
pub fn ntowfv2(
    nt: &NtHash,
    user: impl Iterator<Item = u16>,
    domain: impl Iterator<Item = u16>,
) -> [u8; 16] {
    let mut m = hmac_md5(&nt.0);
    for u in user {
        m.update(&upper_unit(u).to_le_bytes());
    }
    for u in domain {
        m.update(&u.to_le_bytes());
    }
    m.finalize().into_bytes().into()
}

/// Writes `temp` of [MS-NLMP] 3.3.2 — the NTLMv2_CLIENT_CHALLENGE:
/// `01 01 Z(6) TimeStamp ChallengeFromClient Z(4) AvPairs Z(4)` — into
/// `buf`; `av_pairs` is the list with its EOL. Returns its length, or
/// `None` when `buf` is too small.
pub fn write_temp(
    buf: &mut [u8],
    timestamp: u64,
    client_challenge: &[u8; 8],
    av_pairs: &[u8],
) -> Option<usize> {
    let n = TEMP_FIXED_LEN + av_pairs.len() + 4;
    let b = buf.get_mut(..n)?;
    b.fill(0);
    b[0] = 1;
    b[1] = 1;
    b[8..16].copy_from_slice(&timestamp.to_le_bytes());
    b[16..24].copy_from_slice(client_challenge);
    b[28..28 + av_pairs.len()].copy_from_slice(av_pairs);
    Some(n)
}

/// NTProofStr ([MS-NLMP] 3.3.2): `HMAC_MD5(ResponseKeyNT, ServerChallenge
/// ‖ temp)`, as a MAC so that it can also be verified in constant time.
pub fn nt_proof_mac(key: &[u8; 16], server_challenge: &[u8; 8], temp: &[u8]) -> HmacMd5 {
    let mut m = hmac_md5(key);
    m.update(server_challenge);
    m.update(temp);
    m
}

/// NTProofStr ([MS-NLMP] 3.3.2).
pub fn nt_proof_str(key: &[u8; 16], server_challenge: &[u8; 8], temp: &[u8]) -> [u8; 16] {
    nt_proof_mac(key, server_challenge, temp)
        .finalize()
        .into_bytes()
        .into()
}

/// The LMv2 response ([MS-NLMP] 3.3.2): `HMAC_MD5(ResponseKeyLM,
/// ServerChallenge ‖ ClientChallenge) ‖ ClientChallenge`.
pub fn lmv2_response(
    key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> [u8; 24] {
    let mut m = hmac_md5(key);
    m.update(server_challenge);
    m.update(client_challenge);
    let mut out = [0u8; 24];
    out[..16].copy_from_slice(&m.finalize().into_bytes());
    out[16..].copy_from_slice(client_challenge);
    out
}

/// SessionBaseKey of NTLMv2 ([MS-NLMP] 3.3.2): `HMAC_MD5(ResponseKeyNT,
/// NTProofStr)`; it is also the KeyExchangeKey ([MS-NLMP] 3.4.5.1).
pub fn session_base_key_v2(key: &[u8; 16], nt_proof_str: &[u8; 16]) -> [u8; 16] {
    let mut m = hmac_md5(key);
    m.update(nt_proof_str);
    m.finalize().into_bytes().into()
}

/// RC4K ([MS-NLMP] 6): one RC4 pass of 16 bytes, as used for
/// EncryptedRandomSessionKey under NTLMSSP_NEGOTIATE_KEY_EXCH (the same
/// call encrypts and decrypts).
pub fn rc4k(key: &[u8; 16], data: &[u8; 16]) -> [u8; 16] {
    let mut out = *data;
    // RC4 takes keys of 1 to 256 bytes; 16 is in range.
    let mut c = <Rc4 as rc4::KeyInit>::new_from_slice(key).expect("RC4 accepts a 16-byte key");
    c.apply_keystream(&mut out);
    out
}

/// The MIC ([MS-NLMP] 3.1.5.1.2): `HMAC_MD5(ExportedSessionKey,
/// NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE)` with the AUTHENTICATE's MIC
/// field taken as zeros. `authenticate` must be at least
/// `MIC_OFFSET + 16` bytes long.
pub fn mic_mac(
    exported_session_key: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    authenticate: &[u8],
) -> HmacMd5 {
    use super::msg::MIC_OFFSET;
    let mut m = hmac_md5(exported_session_key);
    m.update(negotiate);
    m.update(challenge);
    let (head, rest) = authenticate.split_at(MIC_OFFSET.min(authenticate.len()));
    m.update(head);
    m.update(&[0u8; 16][..rest.len().min(16)]);
    m.update(rest.get(16..).unwrap_or(&[]));
    m
}

/// DESL ([MS-NLMP] 6): the 16-byte key padded to 21 bytes, split into three
/// 7-byte DES keys, each encrypting `data`; 24 bytes out.
pub fn desl(key: &[u8; 16], data: &[u8; 8]) -> [u8; 24] {
    let mut k21 = [0u8; 21];
    k21[..16].copy_from_slice(key);
    let mut out = [0u8; 24];
    for (i, chunk) in k21.chunks_exact(7).enumerate() {
        let des = Des::new(&expand_des_key(chunk).into());
        let mut block = (*data).into();
        des.encrypt_block(&mut block);
        out[i * 8..i * 8 + 8].copy_from_slice(&block);
    }
    out
}

/// Spreads 56 key bits over 8 bytes, the low bit of each (DES parity) 0.
fn expand_des_key(k: &[u8]) -> [u8; 8] {
    let bits = k.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    core::array::from_fn(|i| (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1)
}

/// The NTLMv1 NtChallengeResponse ([MS-NLMP] 3.3.1): `DESL(NTOWFv1,
/// ServerChallenge)`, or with NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
/// `DESL(NTOWFv1, MD5(ServerChallenge ‖ ClientChallenge)[0..8])`.
pub fn ntlmv1_response(
    nt: &NtHash,
    server_challenge: &[u8; 8],
    ess_client_challenge: Option<&[u8; 8]>,
) -> [u8; 24] {
    match ess_client_challenge {
        None => desl(&nt.0, server_challenge),
        Some(cc) => {
            let mut h = Md5::new();
            h.update(server_challenge);
            h.update(cc);
            let d = h.finalize();
            let mut c = [0u8; 8];
            c.copy_from_slice(&d[..8]);
            desl(&nt.0, &c)
        }
    }
}

/// SessionBaseKey of NTLMv1 ([MS-NLMP] 3.3.1): `MD4(NTOWFv1)`.
pub fn session_base_key_v1(nt: &NtHash) -> [u8; 16] {
    let mut h = Md4::new();
    h.update(nt.0);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ntlm::tests_data::SPEC_TARGET_INFO;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        core::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
    }

    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    fn spec_key() -> [u8; 16] {
        let nt = NtHash::of_password("Password");
        ntowfv2(&nt, "User".encode_utf16(), "Domain".encode_utf16())
    }

    /// [MS-NLMP] 4.2.4.1.1 NTOWFv2 / LMOWFv2.
    #[test]
    fn spec_ntowfv2() {
        assert_eq!(spec_key(), hex::<16>("0c868a403bfd7a93a3001ef22ef02e3f"));
        // The user name is upper-cased; the domain is not.
        let nt = NtHash::of_password("Password");
        assert_eq!(
            ntowfv2(&nt, "uSeR".encode_utf16(), "Domain".encode_utf16()),
            spec_key()
        );
        assert_ne!(
            ntowfv2(&nt, "User".encode_utf16(), "DOMAIN".encode_utf16()),
            spec_key()
        );
    }

    /// [MS-NLMP] 4.2.4.1.3 temp, 4.2.4.2.2 NTProofStr, 4.2.4.1.2
    /// SessionBaseKey, 4.2.4.2.1 LMv2 response, 4.2.4.1.3 (with 4.2.1's
    /// RandomSessionKey 55…55) EncryptedSessionKey.
    #[test]
    fn spec_ntlmv2_values() {
        let mut temp = [0u8; 128];
        let n = write_temp(&mut temp, 0, &CLIENT_CHALLENGE, &SPEC_TARGET_INFO).unwrap();
        let mut want = [0u8; 68];
        want[..2].copy_from_slice(&[1, 1]);
        want[16..24].copy_from_slice(&CLIENT_CHALLENGE);
        want[28..64].copy_from_slice(&SPEC_TARGET_INFO);
        assert_eq!(&temp[..n], &want[..]);
        let key = spec_key();
        let proof = nt_proof_str(&key, &SERVER_CHALLENGE, &temp[..n]);
        assert_eq!(proof, hex::<16>("68cd0ab851e51c96aabc927bebef6a1c"));
        assert!(
            nt_proof_mac(&key, &SERVER_CHALLENGE, &temp[..n])
                .verify_slice(&proof)
                .is_ok()
        );
        let sbk = session_base_key_v2(&key, &proof);
        assert_eq!(sbk, hex::<16>("8de40ccadbc14a82f15cb0ad0de95ca3"));
        assert_eq!(
            lmv2_response(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE),
            hex::<24>("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            rc4k(&sbk, &[0x55; 16]),
            hex::<16>("c5dad2544fc9799094ce1ce90bc9d03e")
        );
        assert_eq!(rc4k(&sbk, &rc4k(&sbk, &[0x55; 16])), [0x55; 16]);
    }

    /// [MS-NLMP] 4.2.2.1.2 NTOWFv1, 4.2.2.2.1 the NTLMv1 response and
    /// 4.2.2.1.4 its SessionBaseKey; 4.2.3.2.2 the NTLMv1 response with
    /// extended session security.
    #[test]
    fn spec_ntlmv1_values() {
        let nt = NtHash::of_password("Password");
        assert_eq!(
            ntlmv1_response(&nt, &SERVER_CHALLENGE, None),
            hex::<24>("67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
        );
        assert_eq!(
            session_base_key_v1(&nt),
            hex::<16>("d87262b0cde4b1cb7499becccdf10784")
        );
        assert_eq!(
            ntlmv1_response(&nt, &SERVER_CHALLENGE, Some(&CLIENT_CHALLENGE)),
            hex::<24>("7537f803ae367128ca458204bde7caf81e97ed2683267232")
        );
    }

    #[test]
    fn upper_case_units() {
        assert_eq!(upper_unit(u16::from(b'a')), u16::from(b'A'));
        assert_eq!(upper_unit(0x00e9), 0x00c9); // é → É
        assert_eq!(upper_unit(0x00df), 0x00df); // ß → "SS": kept
        assert_eq!(upper_unit(0xd800), 0xd800); // a lone surrogate
    }

    #[test]
    fn temp_needs_room() {
        let mut small = [0u8; 10];
        assert_eq!(write_temp(&mut small, 0, &CLIENT_CHALLENGE, &[]), None);
    }
}
