use super::*;
use crate::auth::ntlm::av::av_id;
use crate::auth::ntlm::tests_data::*;

/// [MS-NLMP] 4.2.4.3: the CHALLENGE's fields, and the same bytes emitted
/// from them (golden: target name then target info, as the spec lays out).
#[test]
fn spec_challenge_both_ways() {
    let b = unhex(SPEC_CHALLENGE_V2);
    let c = ChallengeMessage::parse(&b).unwrap();
    assert_eq!(c.flags, 0xe28a_8233);
    assert_eq!(c.server_challenge, SERVER_CHALLENGE);
    assert!(c.target_name.eq_str("Server"));
    assert_eq!(c.target_info_bytes, &SPEC_TARGET_INFO[..]);
    assert_eq!(
        c.version,
        Some(Version {
            major: 6,
            minor: 0,
            build: 6000,
            revision: 15
        })
    );
    let repr = ChallengeRepr {
        target_name: NtlmStr::for_flags("Server", c.flags),
        flags: c.flags,
        server_challenge: c.server_challenge,
        target_info: c.target_info_bytes,
        version: c.version,
    };
    let mut out = [0xa5u8; 128];
    let n = repr.emit(&mut out).unwrap();
    assert_eq!(n, repr.buffer_len());
    assert_eq!(&out[..n], &b[..]);
}

/// [MS-NLMP] 4.2.4.4: the AUTHENTICATE's fields.
#[test]
fn spec_authenticate_fields() {
    let b = unhex(SPEC_AUTHENTICATE_V2);
    let a = AuthenticateMessage::parse(&b).unwrap();
    assert_eq!(a.flags, 0xe288_8235);
    assert!(a.domain.eq_str("Domain"));
    assert!(a.user.eq_str("User"));
    assert!(a.workstation.eq_str("COMPUTER"));
    assert_eq!(a.lm_response.len(), 24);
    assert_eq!(a.nt_response.len(), 84);
    assert_eq!(&a.nt_response[..4], &[0x68, 0xcd, 0x0a, 0xb8]);
    assert_eq!(
        a.encrypted_random_session_key,
        &unhex("c5dad2544fc9799094ce1ce90bc9d03e")[..]
    );
    assert_eq!(
        a.version,
        Some(Version {
            major: 5,
            minor: 1,
            build: 2600,
            revision: 15
        })
    );
    // The payload starts at 72: no room for a MIC.
    assert_eq!(a.mic, None);
    // Re-emitted (our payload order differs from the spec's), the fields
    // come back.
    let repr = AuthenticateRepr {
        lm_response: a.lm_response,
        nt_response: a.nt_response,
        domain: a.domain,
        user: a.user,
        workstation: a.workstation,
        encrypted_random_session_key: a.encrypted_random_session_key,
        flags: a.flags,
        version: a.version,
        mic: true,
    };
    let mut out = [0xa5u8; 300];
    let n = repr.emit(&mut out).unwrap();
    assert_eq!(n, b.len() + 16);
    let back = AuthenticateMessage::parse(&out[..n]).unwrap();
    assert_eq!(back.mic, Some([0; 16]));
    assert_eq!(
        (back.lm_response, back.nt_response, back.user, back.domain),
        (a.lm_response, a.nt_response, a.user, a.domain)
    );
}

#[test]
fn negotiate_forms() {
    // 16 bytes: signature, type, flags only (old clients).
    let short = unhex("4e544c4d5353500001000000 07820000");
    let n = NegotiateMessage::parse(&short).unwrap();
    assert_eq!((n.flags, n.domain, n.version), (0x8207, &[][..], None));
    let repr = NegotiateRepr {
        flags: 0x0000_b207 | crate::auth::ntlm::flags::NEGOTIATE_VERSION,
        domain: b"DOM",
        workstation: b"WS",
        version: Some(Version::MMS_RS),
    };
    let mut out = [0xa5u8; 64];
    let len = repr.emit(&mut out).unwrap();
    let back = NegotiateMessage::parse(&out[..len]).unwrap();
    assert_eq!(
        (back.flags, back.domain, back.workstation, back.version),
        (repr.flags, &b"DOM"[..], &b"WS"[..], repr.version)
    );
}

#[test]
fn offsets_are_checked() {
    let mut b = unhex(SPEC_AUTHENTICATE_V2);
    // UserName's BufferOffset past the end.
    b[40..44].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(AuthenticateMessage::parse(&b).is_err());
    let mut c = unhex(SPEC_CHALLENGE_V2);
    // TargetInfo's Len past the end.
    c[40..42].copy_from_slice(&0x0100u16.to_le_bytes());
    assert!(ChallengeMessage::parse(&c).is_err());
    // Odd UTF-16 user name.
    let mut d = unhex(SPEC_AUTHENTICATE_V2);
    d[36] = 7;
    assert!(AuthenticateMessage::parse(&d).is_err());
    // Wrong type, wrong signature, truncated.
    let e = unhex(SPEC_CHALLENGE_V2);
    assert!(AuthenticateMessage::parse(&e).is_err());
    assert!(ChallengeMessage::parse(b"NTLMSSQ\0\x02\0\0\0").is_err());
    assert!(ChallengeMessage::parse(&e[..20]).is_err());
    for n in 0..e.len() {
        let _ = ChallengeMessage::parse(&e[..n]);
    }
}

#[test]
fn target_info_pairs() {
    let b = unhex(SPEC_CHALLENGE_V2);
    let c = ChallengeMessage::parse(&b).unwrap();
    let name = c.target_info.get(av_id::NB_COMPUTER_NAME).unwrap();
    assert_eq!(name, &b"S\0e\0r\0v\0e\0r\0"[..]);
}
