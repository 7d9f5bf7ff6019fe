use super::*;
use crate::auth::ntlm::Initiator;
use crate::auth::ntlm::crypto::ntlmv1_response;
use crate::auth::ntlm::msg::{AuthenticateRepr, MIC_OFFSET};
use crate::auth::ntlm::tests_data::*;
use crate::auth::{Credentials, Secret};

fn password(id: &Identity<'_>) -> Option<NtHash> {
    id.user
        .eq_str("User")
        .then(|| NtHash::of_password("Password"))
}

/// [MS-NLMP] 4.2.4.4's AUTHENTICATE passes against 4.2.4.3's CHALLENGE
/// with NTOWFv1("Password"); any other password does not.
#[test]
fn spec_authenticate_verifies() {
    let ch = unhex(SPEC_CHALLENGE_V2);
    let auth = unhex(SPEC_AUTHENTICATE_V2);
    let v = verify(&[], &ch, &auth, false, password).unwrap();
    assert!(v.identity.user.eq_str("User"));
    assert_eq!(v.response, ResponseVersion::V2);
    assert_eq!(
        verify(&[], &ch, &auth, false, |_| Some(NtHash::of_password(
            "password"
        )))
        .unwrap_err(),
        Rejection::BadCredentials
    );
    assert_eq!(
        verify(&[], &ch, &auth, false, |_| None).unwrap_err(),
        Rejection::BadCredentials
    );
    // Another server challenge: the proof no longer matches.
    let mut other = ch.clone();
    other[24] ^= 1;
    assert_eq!(
        verify(&[], &other, &auth, false, password).unwrap_err(),
        Rejection::BadCredentials
    );
}

fn exchange(user: &str, pass: &str) -> (Acceptor, heapless::Vec<u8, 1024>) {
    let config = AcceptorConfig::default();
    let client = Initiator::new("PLAYER");
    let mut neg = [0u8; 64];
    let nl = client.negotiate(&mut neg).unwrap();
    let mut acc = Acceptor::new();
    let mut ch = [0u8; MAX_CHALLENGE];
    let cl = acc
        .challenge(
            &config,
            &neg[..nl],
            [7; 8],
            133_000_000_000_000_000,
            &mut ch,
        )
        .unwrap();
    assert_eq!(acc.challenge_message(), &ch[..cl]);
    let creds = Credentials {
        user,
        domain: "",
        secret: Secret::Password(pass),
    };
    let mut out = [0u8; 1024];
    let n = client
        .authenticate(&ch[..cl], &creds, [9; 8], 0, &mut out)
        .unwrap();
    (acc, heapless::Vec::from_slice(&out[..n]).unwrap())
}

fn alice(id: &Identity<'_>) -> Option<NtHash> {
    id.user
        .eq_str("alice")
        .then(|| NtHash::of_password("secret"))
}

#[test]
fn initiator_and_acceptor_agree_with_mic() {
    let config = AcceptorConfig::default();
    let (acc, auth) = exchange("alice", "secret");
    let a = AuthenticateMessage::parse(&auth).unwrap();
    assert!(a.mic.is_some_and(|m| m != [0; 16]));
    assert_eq!(a.lm_response, &[0u8; 24][..]);
    let v = acc.verify(&config, &auth, alice).unwrap();
    assert!(v.mic_checked && v.identity.user.eq_str("alice"));
    // User names compare without case in NTOWFv2.
    let (acc, auth) = exchange("ALICE", "secret");
    assert!(
        acc.verify(&config, &auth, |_| Some(NtHash::of_password("secret")))
            .is_ok()
    );
    // Wrong password, unknown user.
    let (acc, auth) = exchange("alice", "Secret");
    assert_eq!(
        acc.verify(&config, &auth, alice).unwrap_err(),
        Rejection::BadCredentials
    );
    let (acc, auth) = exchange("bob", "secret");
    assert_eq!(
        acc.verify(&config, &auth, alice).unwrap_err(),
        Rejection::BadCredentials
    );
}

#[test]
fn mic_covers_the_message() {
    let config = AcceptorConfig::default();
    let (acc, auth) = exchange("alice", "secret");
    let mut bad = auth.clone();
    bad[MIC_OFFSET] ^= 1;
    assert_eq!(
        acc.verify(&config, &bad, alice).unwrap_err(),
        Rejection::BadMic
    );
    // A flag flipped outside the proof (NegotiateFlags): the MIC catches it.
    let mut bad = auth.clone();
    bad[62] ^= 0x01; // NTLMSSP_TARGET_TYPE_DOMAIN (0x00010000)
    assert_eq!(
        acc.verify(&config, &bad, alice).unwrap_err(),
        Rejection::BadMic
    );
    // A MIC-present response cut down to no MIC room cannot pass.
    assert!(acc.verify(&config, &auth[..60], alice).is_err());
    // Verifying before a challenge was sent.
    assert!(matches!(
        Acceptor::new().verify(&config, &auth, alice),
        Err(Rejection::Malformed(_))
    ));
}

fn v1_authenticate(nt: &[u8; 24], lm: &[u8; 24], ess: bool, out: &mut [u8]) -> usize {
    let flags = NEGOTIATE_UNICODE
        | NEGOTIATE_NTLM
        | if ess {
            NEGOTIATE_EXTENDED_SESSIONSECURITY
        } else {
            0
        };
    AuthenticateRepr {
        lm_response: lm,
        nt_response: nt,
        domain: NtlmStr::for_flags("", flags),
        user: NtlmStr::for_flags("User", flags),
        workstation: NtlmStr::for_flags("", flags),
        encrypted_random_session_key: &[],
        flags,
        version: None,
        mic: false,
    }
    .emit(out)
    .unwrap()
}

/// NTLMv1 ([MS-NLMP] 4.2.2.2.1, 4.2.3.2.2 values) only with the option.
#[test]
fn ntlm_v1_only_when_allowed() {
    let ch = unhex(SPEC_CHALLENGE_V2);
    let nt_hash = NtHash::of_password("Password");
    let mut out = [0u8; 256];
    let plain = ntlmv1_response(&nt_hash, &SERVER_CHALLENGE, None);
    let n = v1_authenticate(&plain, &[0; 24], false, &mut out);
    assert_eq!(
        verify(&[], &ch, &out[..n], false, password).unwrap_err(),
        Rejection::NtlmV1NotAllowed
    );
    let v = verify(&[], &ch, &out[..n], true, password).unwrap();
    assert_eq!(v.response, ResponseVersion::V1);
    assert_eq!(
        verify(&[], &ch, &out[..n], true, |_| Some(NtHash::of_password(
            "x"
        )))
        .unwrap_err(),
        Rejection::BadCredentials
    );
    // With extended session security: the client challenge rides in the
    // LM response's first 8 bytes.
    let mut lm = [0u8; 24];
    lm[..8].copy_from_slice(&CLIENT_CHALLENGE);
    let ess = ntlmv1_response(&nt_hash, &SERVER_CHALLENGE, Some(&CLIENT_CHALLENGE));
    let n = v1_authenticate(&ess, &lm, true, &mut out);
    assert!(verify(&[], &ch, &out[..n], true, password).is_ok());
}

#[test]
fn anonymous_and_garbage() {
    let ch = unhex(SPEC_CHALLENGE_V2);
    let mut out = [0u8; 256];
    let n = AuthenticateRepr {
        lm_response: &[0],
        nt_response: &[],
        domain: NtlmStr::EMPTY,
        user: NtlmStr::EMPTY,
        workstation: NtlmStr::EMPTY,
        encrypted_random_session_key: &[],
        flags: 0,
        version: None,
        mic: false,
    }
    .emit(&mut out)
    .unwrap();
    assert_eq!(
        verify(&[], &ch, &out[..n], true, password).unwrap_err(),
        Rejection::Anonymous
    );
    assert!(matches!(
        verify(&[], &ch, b"NTLMSSP\0\x03\0\0\0", true, password),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn challenge_golden_fields() {
    let mut acc = Acceptor::new();
    let mut out = [0u8; MAX_CHALLENGE];
    let n = acc
        .challenge(
            &AcceptorConfig::default(),
            &[],
            [1, 2, 3, 4, 5, 6, 7, 8],
            42,
            &mut out,
        )
        .unwrap();
    let c = ChallengeMessage::parse(&out[..n]).unwrap();
    assert_eq!(c.server_challenge, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(c.target_name.eq_str("MMS-RS"));
    assert_eq!(c.target_info.timestamp(), Some(42));
    assert_eq!(c.flags & NEGOTIATE_OEM, 0);
    assert_ne!(c.flags & NEGOTIATE_UNICODE, 0);
    // A NEGOTIATE that is not one is refused.
    assert!(
        acc.challenge(&AcceptorConfig::default(), b"junk", [0; 8], 0, &mut out)
            .is_err()
    );
}
