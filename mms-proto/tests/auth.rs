//! `mms_proto::auth`: proptest round trips of the NTLM messages, AV_PAIR
//! lists, the MMS token forms and Basic credentials; the exchange between
//! our Initiator and Acceptor for arbitrary names, passwords, nonces and
//! forms; parsers never panic on arbitrary bytes. Seeds the fuzz targets
//! (`MMS_FUZZ_SEEDS`).

mod common;

use mms_proto::auth::basic::{self, BasicCredentials, MAX_USER_PASS};
use mms_proto::auth::ntlm::av::{AvPairs, AvWriter};
use mms_proto::auth::ntlm::*;
use mms_proto::auth::token::{NtlmForm, NtlmToken};
use mms_proto::auth::{Credentials, NtHash, Rejection, Secret};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn version() -> impl Strategy<Value = Option<Version>> {
    proptest::option::of(
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>()).prop_map(
            |(major, minor, build, revision)| Version {
                major,
                minor,
                build,
                revision,
            },
        ),
    )
}

fn form() -> impl Strategy<Value = NtlmForm> {
    (any::<bool>(), any::<bool>()).prop_map(|(zero_prefix, wrapped)| NtlmForm {
        zero_prefix,
        wrapped,
    })
}

fn av_list(pairs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + pairs.iter().map(|p| 4 + p.1.len()).sum::<usize>()];
    let mut w = AvWriter::new(&mut buf);
    for (id, v) in pairs {
        w.push(*id, v).unwrap();
    }
    let n = w.finish().unwrap();
    buf.truncate(n);
    buf
}

fn av_pairs() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    prop::collection::vec((1u16..=10, bytes(40)), 0..6)
}

proptest! {
    #[test]
    fn negotiate_round_trips(flags in any::<u32>(), d in bytes(40), w in bytes(40), v in version()) {
        let repr = NegotiateRepr { flags, domain: &d, workstation: &w, version: v };
        let mut buf = vec![0xa5u8; repr.buffer_len() + 4];
        let n = repr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, repr.buffer_len());
        prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));
        let m = NegotiateMessage::parse(&buf[..n]).unwrap();
        prop_assert_eq!((m.flags, m.domain, m.workstation), (flags, &d[..], &w[..]));
        let want_v = if flags & flags::NEGOTIATE_VERSION != 0 { v.or(Some(Version { major: 0, minor: 0, build: 0, revision: 0 })) } else { None };
        prop_assert_eq!(m.version, want_v);
    }

    #[test]
    fn challenge_round_trips(flags in any::<u32>(), name in "[a-zA-Z0-9é-]{0,15}", sc in any::<[u8; 8]>(),
                             pairs in av_pairs(), v in version()) {
        let ti = av_list(&pairs);
        let flags = flags & !flags::NEGOTIATE_OEM | flags::NEGOTIATE_UNICODE;
        let repr = ChallengeRepr { target_name: NtlmStr::for_flags(&name, flags), flags, server_challenge: sc, target_info: &ti, version: v };
        let mut buf = vec![0xa5u8; repr.buffer_len()];
        let n = repr.emit(&mut buf).unwrap();
        let c = ChallengeMessage::parse(&buf[..n]).unwrap();
        prop_assert!(c.target_name.eq_str(&name));
        prop_assert_eq!(c.server_challenge, sc);
        prop_assert_eq!(c.target_info_bytes, &ti[..]);
        let got: Vec<(u16, Vec<u8>)> = c.target_info.iter().map(|p| (p.id, p.value.to_vec())).collect();
        prop_assert_eq!(got, pairs);
        common::seed("ntlm_challenge", &buf[..n]);
    }

    #[test]
    fn authenticate_round_trips(flags in any::<u32>(), lm in bytes(30), nt in bytes(120), user in "[a-zA-Z]{0,12}",
                                domain in "[A-Z]{0,12}", ws in "[A-Z0-9]{0,12}", key in bytes(17), v in version(), mic in any::<bool>()) {
        let repr = AuthenticateRepr {
            lm_response: &lm, nt_response: &nt,
            domain: NtlmStr::for_flags(&domain, flags), user: NtlmStr::for_flags(&user, flags),
            workstation: NtlmStr::for_flags(&ws, flags), encrypted_random_session_key: &key,
            flags, version: v, mic,
        };
        let mut buf = vec![0xa5u8; repr.buffer_len()];
        let n = repr.emit(&mut buf).unwrap();
        let a = AuthenticateMessage::parse(&buf[..n]).unwrap();
        prop_assert_eq!((a.lm_response, a.nt_response, a.encrypted_random_session_key, a.flags), (&lm[..], &nt[..], &key[..], flags));
        prop_assert!(a.user.eq_str(&user) && a.domain.eq_str(&domain) && a.workstation.eq_str(&ws));
        // A MIC is found where one was left room for, or where the payload
        // starts late anyway (all fields empty).
        if mic { prop_assert_eq!(a.mic, Some([0; 16])); }
        common::seed("ntlm_authenticate", &buf[..n]);
    }

    #[test]
    fn tokens_round_trip(f in form(), body in bytes(60)) {
        let mut msg = b"NTLMSSP\0".to_vec();
        msg.extend_from_slice(&body);
        let mut buf = vec![0u8; msg.len() + 26];
        let n = f.emit_bytes(&msg, &mut buf).unwrap();
        let t = NtlmToken::parse(&buf[..n]).unwrap();
        prop_assert_eq!(t.form, f);
        prop_assert_eq!(t.message, &msg[..]);
    }

    #[test]
    fn basic_round_trips(user in "[^:\u{0}]{0,40}", pass in "\\PC{0,40}", prefix in any::<bool>()) {
        let mut buf = vec![0u8; basic::credentials_len(&user, &pass) + 6];
        let mut at = 0;
        if prefix { buf[..6].copy_from_slice(b"Basic "); at = 6; }
        let n = basic::emit_credentials(&user, &pass, &mut buf[at..]).unwrap();
        let c = BasicCredentials::parse(&buf[..at + n]).unwrap();
        prop_assert_eq!(c.had_prefix, prefix);
        let mut s = [0u8; MAX_USER_PASS + 3];
        let up = c.decode(&mut s).unwrap();
        prop_assert_eq!((up.user, up.password), (user.as_bytes(), pass.as_bytes()));
        let hash = NtHash::of_password(&pass);
        let mut s = [0u8; MAX_USER_PASS + 3];
        prop_assert_eq!(c.verify(&mut s, |u| (u == user).then_some(hash)), Ok(user.as_str()));
        common::seed("basic_credentials", &buf[..at + n]);
    }

    /// The whole exchange, each message in an arbitrary MMS form.
    #[test]
    fn initiator_meets_acceptor(user in "[a-zA-Z0-9]{1,16}", pass in "\\PC{0,20}", other in "\\PC{0,20}",
                                sc in any::<[u8; 8]>(), cc in any::<[u8; 8]>(), ts in any::<u64>(),
                                f in form(), with_ts in any::<bool>()) {
        let config = AcceptorConfig::default();
        let client = Initiator::new("PLAYER");
        let mut neg = [0u8; 64];
        let nl = client.negotiate(&mut neg).unwrap();
        let mut tok = [0u8; 2048];
        let tl = f.emit_bytes(&neg[..nl], &mut tok).unwrap();
        common::seed("ntlm_token", &tok[..tl]);
        let got = NtlmToken::parse(&tok[..tl]).unwrap();
        prop_assert_eq!(got.form, f);
        let mut acc = Acceptor::new();
        let mut ch = [0u8; MAX_CHALLENGE];
        let cl = acc.challenge(&config, got.message, sc, ts, &mut ch).unwrap();
        // Without the server timestamp (hand-built CHALLENGE), no MIC.
        let ch_bytes: Vec<u8> = if with_ts { ch[..cl].to_vec() } else {
            let c = ChallengeMessage::parse(&ch[..cl]).unwrap();
            let ti = av_list(&[(1, b"S\0".to_vec())]);
            let r = ChallengeRepr { target_name: c.target_name, flags: c.flags, server_challenge: sc, target_info: &ti, version: c.version };
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut b).unwrap();
            b
        };
        let creds = Credentials { user: &user, domain: "", secret: Secret::Password(&pass) };
        let mut out = [0u8; 2048];
        let n = client.authenticate(&ch_bytes, &creds, cc, ts, &mut out).unwrap();
        common::seed("ntlm_challenge", &ch_bytes);
        common::seed("ntlm_authenticate", &out[..n]);
        let (right, wrong) = (NtHash::of_password(&pass), NtHash::of_password(&other));
        let v = verify_authenticate(&neg[..nl], &ch_bytes, &out[..n], false, |id| id.user.eq_str(&user).then_some(right)).unwrap();
        prop_assert_eq!(v.mic_checked, with_ts);
        if other != pass {
            prop_assert_eq!(
                verify_authenticate(&neg[..nl], &ch_bytes, &out[..n], false, |id| id.user.eq_str(&user).then_some(wrong)).unwrap_err(),
                Rejection::BadCredentials
            );
        }
    }

    #[test]
    fn parsers_never_panic(data in bytes(300)) {
        let _ = NegotiateMessage::parse(&data);
        let _ = ChallengeMessage::parse(&data);
        let _ = AuthenticateMessage::parse(&data);
        let _ = AvPairs::parse(&data);
        let _ = NtlmToken::parse(&data);
        let _ = BasicCredentials::parse(&data);
        mms_proto::fuzzing::ntlm_token(&data);
        mms_proto::fuzzing::ntlm_challenge(&data);
        mms_proto::fuzzing::ntlm_authenticate(&data);
        mms_proto::fuzzing::basic_credentials(&data);
    }

    /// Signed prefixes make the parsers go deeper than random bytes do.
    #[test]
    fn signed_garbage_never_panics(ty in 1u8..=3, data in bytes(200)) {
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend_from_slice(&[ty, 0, 0, 0]);
        m.extend_from_slice(&data);
        mms_proto::fuzzing::ntlm_token(&m);
    }
}

/// Seeds of the published and hand-made shapes, and the Basic challenge.
#[test]
fn seeds_and_basic_challenge() {
    let mut buf = [0u8; 128];
    let n = basic::emit_challenge("mms-rs", &mut buf).unwrap();
    common::seed("basic_challenge", &buf[..n]);
    let n = basic::emit_credentials("alice", "secret", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"YWxpY2U6c2VjcmV0\0");
    common::seed("basic_credentials", &buf[..n]);
    common::seed("basic_credentials", b"Basic YWxpY2U6c2VjcmV0\0");
    let n = NtlmForm::SECURITY_WRAPPED
        .emit_bytes(&[], &mut buf)
        .unwrap();
    common::seed("ntlm_token", &buf[..n]);
    common::seed("ntlm_token", &[0, 0]);
}
