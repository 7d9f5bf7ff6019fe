//! Fuzz oracles of [`crate::auth`]: the NTLM messages in their MMS forms,
//! the CHALLENGE as a client answers it, the AUTHENTICATE as a server
//! checks it, and Basic credentials.

use crate::auth::basic::{self, BasicCredentials, MAX_USER_PASS};
use crate::auth::ntlm::av::AvPairs;
use crate::auth::ntlm::{
    Acceptor, AcceptorConfig, AuthenticateMessage, AuthenticateRepr, ChallengeMessage,
    ChallengeRepr, Initiator, NegotiateMessage, NegotiateRepr, message_type, message_type_of,
    verify_authenticate,
};
use crate::auth::token::{NtlmForm, NtlmToken};
use crate::auth::{Credentials, NtHash, Secret};

/// Room for a re-emitted NTLM message (their lengths are u16-bounded per
/// field, so a parse of `data` re-emits within `data.len()` plus headers).
const OUT: usize = 8 * 1024;

/// Target `ntlm_token`: an MMS pToken / tokenData holding an NTLM message
/// in any form ([2.2.4.14.1]); whatever parses re-emits in the same form,
/// and every message type re-emits to what parses back to it.
pub fn ntlm_token(data: &[u8]) {
    let Ok(t) = NtlmToken::parse(data) else {
        return;
    };
    if data.len() + 64 > OUT {
        return;
    }
    let mut out = [0u8; OUT];
    let n = t.form.emit_bytes(t.message, &mut out).expect("room"); // oracle assertion: failing here is the finding
    let back = NtlmToken::parse(&out[..n]).expect("an emitted token parses"); // oracle assertion: failing here is the finding
    assert_eq!(back, t);
    let _ = NtlmForm::emit(t.form.for_security_message(), &mut out, |_| Ok(0));
    match message_type_of(t.message) {
        Some(message_type::NEGOTIATE) => negotiate(t.message),
        Some(message_type::CHALLENGE) => challenge(t.message),
        Some(message_type::AUTHENTICATE) => authenticate(t.message),
        _ => {}
    }
}

fn negotiate(msg: &[u8]) {
    let Ok(m) = NegotiateMessage::parse(msg) else {
        return;
    };
    let repr = NegotiateRepr {
        flags: m.flags,
        domain: m.domain,
        workstation: m.workstation,
        version: m.version,
    };
    let mut out = [0u8; OUT];
    let Ok(n) = repr.emit(&mut out) else {
        return;
    };
    let back = NegotiateMessage::parse(&out[..n]).expect("an emitted NEGOTIATE parses"); // oracle assertion: failing here is the finding
    assert_eq!(
        (back.flags, back.domain, back.workstation),
        (m.flags, m.domain, m.workstation)
    );
    // A server answers it.
    let mut acc = Acceptor::new();
    let _ = acc.challenge(&AcceptorConfig::default(), msg, [3; 8], 1, &mut out);
}

/// Target `ntlm_challenge`: a CHALLENGE as a client gets it. What parses
/// re-emits to the same fields; and when our Initiator answers it, the
/// answer passes our verifier with the same password and fails with
/// another.
pub fn ntlm_challenge(data: &[u8]) {
    challenge(data);
}

fn challenge(msg: &[u8]) {
    let Ok(c) = ChallengeMessage::parse(msg) else {
        return;
    };
    let _ = c.target_info.iter().count();
    let repr = ChallengeRepr {
        target_name: c.target_name,
        flags: c.flags,
        server_challenge: c.server_challenge,
        target_info: c.target_info_bytes,
        version: c.version,
    };
    let mut out = [0u8; OUT];
    if let Ok(n) = repr.emit(&mut out) {
        let back = ChallengeMessage::parse(&out[..n]).expect("an emitted CHALLENGE parses"); // oracle assertion: failing here is the finding
        assert_eq!(back.target_name, c.target_name);
        assert_eq!(back.server_challenge, c.server_challenge);
        assert_eq!(back.target_info_bytes, c.target_info_bytes);
    }
    let client = Initiator::new("FUZZ");
    let creds = Credentials {
        user: "alice",
        domain: "",
        secret: Secret::Password("secret"),
    };
    let Ok(n) = client.authenticate(msg, &creds, [5; 8], 7, &mut out) else {
        return;
    };
    let mut neg = [0u8; 64];
    let nl = client.negotiate(&mut neg).expect("room"); // oracle assertion: failing here is the finding
    let right = |_: &_| Some(NtHash::of_password("secret"));
    let wrong = |_: &_| Some(NtHash::of_password("Secret"));
    assert!(
        verify_authenticate(&neg[..nl], msg, &out[..n], false, right).is_ok(),
        "our AUTHENTICATE passes our verifier"
    );
    assert!(verify_authenticate(&neg[..nl], msg, &out[..n], false, wrong).is_err());
}

/// Target `ntlm_authenticate`: an AUTHENTICATE as a server gets it, after
/// the [MS-NLMP] 4.2.4.3 CHALLENGE. What parses re-emits; the verifier
/// (with NTLMv1 on and off) never panics and never accepts an unknown
/// user.
pub fn ntlm_authenticate(data: &[u8]) {
    authenticate(data);
}

/// [MS-NLMP] 4.2.4.3's CHALLENGE_MESSAGE.
const SPEC_CHALLENGE: [u8; 104] = [
    0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0c, 0x00,
    0x38, 0x00, 0x00, 0x00, 0x33, 0x82, 0x8a, 0xe2, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x24, 0x00, 0x44, 0x00, 0x00, 0x00,
    0x06, 0x00, 0x70, 0x17, 0x00, 0x00, 0x00, 0x0f, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00,
    0x65, 0x00, 0x72, 0x00, 0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00,
    0x69, 0x00, 0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00,
    0x65, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn authenticate(msg: &[u8]) {
    if let Ok(a) = AuthenticateMessage::parse(msg) {
        if a.nt_response.len() > 16 {
            let _ = AvPairs::parse(&a.nt_response[16..]);
        }
        let repr = AuthenticateRepr {
            lm_response: a.lm_response,
            nt_response: a.nt_response,
            domain: a.domain,
            user: a.user,
            workstation: a.workstation,
            encrypted_random_session_key: a.encrypted_random_session_key,
            flags: a.flags,
            version: a.version,
            mic: a.mic.is_some(),
        };
        let mut out = [0u8; OUT];
        if let Ok(n) = repr.emit(&mut out) {
            let back =
                AuthenticateMessage::parse(&out[..n]).expect("an emitted AUTHENTICATE parses"); // oracle assertion: failing here is the finding
            assert_eq!(
                (back.lm_response, back.nt_response, back.user, back.domain),
                (a.lm_response, a.nt_response, a.user, a.domain)
            );
            assert_eq!(back.mic.is_some(), a.mic.is_some());
        }
    }
    for v1 in [false, true] {
        let _ = verify_authenticate(&[], &SPEC_CHALLENGE, msg, v1, |_| {
            Some(NtHash::of_password("Password"))
        });
        assert!(verify_authenticate(&[], &SPEC_CHALLENGE, msg, v1, |_| None).is_err());
    }
}

/// Target `basic_credentials`: Basic tokenData / pToken. What parses
/// decodes, verifies without panicking, and re-emits (in the spec's form)
/// to what parses to the same user and password.
pub fn basic_credentials(data: &[u8]) {
    let Ok(c) = BasicCredentials::parse(data) else {
        return;
    };
    let mut s = [0u8; MAX_USER_PASS + 3];
    let up = c.decode(&mut s).expect("a parsed token decodes"); // oracle assertion: failing here is the finding
    if let (Ok(user), Ok(pass)) = (
        core::str::from_utf8(up.user),
        core::str::from_utf8(up.password),
    ) {
        let mut out = [0u8; basic::MAX_ENCODED + 1];
        if let Ok(n) = basic::emit_credentials(user, pass, &mut out) {
            let again = BasicCredentials::parse(&out[..n]).expect("emitted credentials parse"); // oracle assertion: failing here is the finding
            let mut s2 = [0u8; MAX_USER_PASS + 3];
            let up2 = again.decode(&mut s2).expect("decode"); // oracle assertion: failing here is the finding
            assert_eq!((up2.user, up2.password), (up.user, up.password));
        }
    }
    let mut s3 = [0u8; MAX_USER_PASS + 3];
    let _ = c.verify(&mut s3, |_| Some(NtHash::of_password("secret")));
    let mut s4 = [0u8; MAX_USER_PASS + 3];
    assert!(c.verify(&mut s4, |_| None).is_err());
}
