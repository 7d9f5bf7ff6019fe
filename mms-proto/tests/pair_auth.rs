//! Identification between the two machines ([3.2.5.6], [3.2.5.7],
//! [3.1.5.8]): every sequence of Basic and NTLM over the simulation pair
//! (`common/pair.rs`, `common/pair_auth.rs`), each ending in the whole
//! header and file, or in E_ACCESSDENIED with nothing of the file.

mod common;
#[path = "common/pair.rs"]
mod pair;

use mms_proto::auth::token::NtlmToken;
use mms_proto::auth::{Credentials, Secret};
use mms_proto::client::{self, ClientError, Play, Preauth};
use mms_proto::server::{self, AuthOffer, Authn};
use mms_proto::time::Duration;
use mms_proto::wire::text::{AuthenPackage, Version};
use mms_proto::wire::{HResult, MessageId};
use pair::auth::{ClientAuth, ServerAuth};
use pair::{Got, Pair};

fn file() -> Vec<u8> {
    std::fs::read(format!(
        "{}/../testdata/ff_audio.wma",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn offer(package: AuthenPackage, second: Option<AuthenPackage>) -> AuthOffer {
    AuthOffer {
        package,
        second,
        max_failures: 3,
    }
}

/// A pair whose server protects the file with alice / secret and whose
/// client tries `passwords` in turn.
fn pair(offer: AuthOffer, client: client::Config, passwords: &[&str]) -> Pair {
    let server = server::Config {
        auth: Some(offer),
        ..server::Config::default()
    };
    let mut p = Pair::new(vec![file()], server, client, Duration::from_millis(20));
    p.server.auth = Some(ServerAuth::with_user("alice", "secret"));
    p.client.auth = Some(ClientAuth::new("alice", passwords));
    p
}

fn outcomes(p: &Pair) -> Vec<Authn> {
    p.server.auth.as_ref().unwrap().outcomes.clone()
}

fn challenges(p: &Pair) -> Vec<(bool, Vec<u8>)> {
    p.client.auth.as_ref().unwrap().challenges.clone()
}

fn granted() -> Authn {
    Authn::Granted("alice".try_into().unwrap())
}

const FIRST: Authn = Authn::Challenged { failed: false };
const AGAIN: Authn = Authn::Challenged { failed: true };

/// Plays the whole file and checks the header and the packet count.
fn plays_the_file(p: &mut Pair) {
    p.ready();
    let f = file();
    let h = mms_proto::asf::HeaderSummary::parse(&f).unwrap();
    assert_eq!(p.client.header(1), &f[..h.file_header_len()]);
    p.play_to_end(Play::default());
    assert_eq!(p.client.play_packets(0).len() as u64, h.packet_count);
}

#[test]
fn basic_challenge_then_the_file() {
    let mut p = pair(
        offer(AuthenPackage::Basic, None),
        client::Config::default(),
        &["secret"],
    );
    plays_the_file(&mut p);
    assert_eq!(outcomes(&p), [FIRST, granted()]);
    let c = challenges(&p);
    assert_eq!(c.len(), 1);
    // [2.2.4.14] realm="pair" and a NUL, in UTF-16LE.
    let want: Vec<u8> = "realm=\"pair\"\0"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(c[0], (false, want));
    assert_eq!(p.client.m.authen_package(), Some(AuthenPackage::Basic));
}

/// NTLM, bare: `00 00`, NEGOTIATE → CHALLENGE (bare), AUTHENTICATE.
#[test]
fn ntlm_bare() {
    let mut p = pair(
        offer(AuthenPackage::Ntlm, Some(AuthenPackage::Basic)),
        client::Config::default(),
        &["secret"],
    );
    plays_the_file(&mut p);
    assert_eq!(outcomes(&p), [FIRST, FIRST, granted()]);
    let c = challenges(&p);
    assert_eq!(c[0], (false, vec![0, 0]));
    let t = NtlmToken::parse(&c[1].1).unwrap();
    assert!(t.form.zero_prefix && !t.form.wrapped);
    assert!(t.message.starts_with(b"NTLMSSP\0\x02\0\0\0"));
    assert_eq!(p.client.m.authen_package(), Some(AuthenPackage::Ntlm));
}

/// NTLM in NTLM_AUTH: the server's CHALLENGE comes wrapped too ([3.2.5.7]).
#[test]
fn ntlm_wrapped() {
    let mut p = pair(
        offer(AuthenPackage::Ntlm, None),
        client::Config::default(),
        &["secret"],
    );
    p.client.m.set_ntlm_wrapped(true);
    plays_the_file(&mut p);
    assert_eq!(outcomes(&p), [FIRST, FIRST, granted()]);
    let c = challenges(&p);
    let t = NtlmToken::parse(&c[1].1).unwrap();
    assert!(t.form.zero_prefix && t.form.wrapped);
}

/// Basic credentials in OpenFile: served at once, no challenge; and an
/// NTLM NEGOTIATE in OpenFile: one challenge (the CHALLENGE).
#[test]
fn pre_emptive() {
    let creds = Credentials {
        user: "alice",
        domain: "",
        secret: Secret::Password("secret"),
    };
    let mut p = pair(
        offer(AuthenPackage::Ntlm, Some(AuthenPackage::Basic)),
        client::Config::default(),
        &["secret"],
    );
    p.client.m.preauthenticate(Preauth::Basic, &creds).unwrap();
    plays_the_file(&mut p);
    assert_eq!(outcomes(&p), [granted()]);
    assert!(challenges(&p).is_empty());

    for wrapped in [false, true] {
        let mut p = pair(
            offer(AuthenPackage::Ntlm, None),
            client::Config::default(),
            &["secret"],
        );
        p.client
            .m
            .preauthenticate(Preauth::NtlmNegotiate { wrapped }, &creds)
            .unwrap();
        plays_the_file(&mut p);
        assert_eq!(outcomes(&p), [FIRST, granted()]);
        let c = challenges(&p);
        assert_eq!(c.len(), 1);
        let t = NtlmToken::parse(&c[0].1).unwrap();
        assert_eq!(t.form.wrapped, wrapped);
    }
}

/// A wrong password gets a new challenge (the client sees it refused),
/// then the right one the file.
#[test]
fn wrong_then_right() {
    let mut p = pair(
        offer(AuthenPackage::Basic, None),
        client::Config::default(),
        &["wrong", "secret"],
    );
    plays_the_file(&mut p);
    assert_eq!(outcomes(&p), [FIRST, AGAIN, granted()]);
    let refused: Vec<bool> = challenges(&p).iter().map(|c| c.0).collect();
    assert_eq!(refused, [false, true]);

    let mut p = pair(
        offer(AuthenPackage::Ntlm, None),
        client::Config::default(),
        &["wrong", "secret"],
    );
    plays_the_file(&mut p);
    // 00 00, CHALLENGE, (wrong AUTHENTICATE) 00 00, CHALLENGE, granted.
    assert_eq!(outcomes(&p), [FIRST, FIRST, AGAIN, FIRST, granted()]);
    let refused: Vec<bool> = challenges(&p).iter().map(|c| c.0).collect();
    assert_eq!(refused, [false, false, true, false]);
}

/// max_failures wrong answers: ReportOpenFile E_ACCESSDENIED, the
/// session closed, and nothing of the file reached the client.
#[test]
fn too_many_failures() {
    for package in [AuthenPackage::Basic, AuthenPackage::Ntlm] {
        let mut p = pair(
            offer(package, None),
            client::Config::default(),
            &["a", "b", "c", "d"],
        );
        p.run_until(10_000, |p| p.client.closed);
        let o = outcomes(&p);
        assert_eq!(o.last(), Some(&Authn::Denied), "{package:?}");
        assert_eq!(o.iter().filter(|a| **a == AGAIN).count(), 2);
        assert_eq!(
            p.client.error,
            Some(ClientError::Server {
                message: MessageId::ReportOpenFile,
                hr: HResult::E_ACCESSDENIED
            })
        );
        assert!(
            p.client.got.iter().all(|g| matches!(g, Got::Other(_))),
            "{:?}",
            p.client.got
        );
        p.run_until(100, |p| p.server.closed);
    }
}

/// A client that gives up (no other password) closes; nothing served.
#[test]
fn giving_up() {
    let mut p = pair(
        offer(AuthenPackage::Basic, None),
        client::Config::default(),
        &["wrong"],
    );
    p.run_until(10_000, |p| p.client.closed);
    assert!(p.client.auth.as_ref().unwrap().gave_up);
    assert_eq!(outcomes(&p), [FIRST, AGAIN]);
    assert_eq!(p.client.headers(), 0);
}

/// [3.2.5.6]: a client older than 8 is challenged in the AuthenPackage
/// only — its pre-emptive Basic does not count where NTLM is the package;
/// a client of 8 or later may use the second scheme.
#[test]
fn client_version_rule() {
    let creds = Credentials {
        user: "alice",
        domain: "",
        secret: Secret::Password("secret"),
    };
    let old = client::Config {
        player_version: Version {
            major: 7,
            minor: 0,
            build: Some((0, 1956)),
        },
        ..client::Config::default()
    };
    let mut p = pair(
        offer(AuthenPackage::Ntlm, Some(AuthenPackage::Basic)),
        old,
        &["secret", "secret"],
    );
    p.client.m.preauthenticate(Preauth::Basic, &creds).unwrap();
    plays_the_file(&mut p);
    // Basic refused (a failure), then NTLM: 00 00, CHALLENGE, granted.
    assert_eq!(outcomes(&p), [AGAIN, FIRST, granted()]);
    assert_eq!(challenges(&p)[0], (true, vec![0, 0]));
}
