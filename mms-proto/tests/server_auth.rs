//! The server machine's identification rules, message by message
//! ([2.2.4.2], [3.2.5.6], [3.2.5.7]): AuthenPackage, the cookie, the
//! guard on accept_open, SecurityResponse where none was asked for.

mod common;

use common::{connect, packet};
use mms_proto::auth::NtHash;
use mms_proto::auth::basic::emit_credentials;
use mms_proto::auth::ntlm::AcceptorConfig;
use mms_proto::machine::{Input, Unit};
use mms_proto::server::{
    AuthOffer, Authn, Authority, Config, Event, Media, Output, Phase, ServerError, ServerMachine,
};
use mms_proto::time::Instant;
use mms_proto::wire::text::AuthenPackage;
use mms_proto::wire::{HResult, Message, MessageId, OpenFileRepr, SecurityResponseRepr, Utf16Str};

const WMP: &str = "NSPlayer/9.0.0.3802; {7E667F5D-A661-495E-A512-F55686DDA178}";

fn msg<'a>(m: impl Into<Message<'a>>) -> Vec<u8> {
    let m = m.into();
    let mut buf = vec![0u8; m.buffer_len()];
    m.emit(&mut buf).unwrap();
    buf
}

fn open_file(token: &[u8]) -> Vec<u8> {
    msg(OpenFileRepr {
        play_incarnation: 3,
        spare: 0,
        file_name: Utf16Str::Str("private/a.wma"), // protected in the oracle: `p…`
        token_data: token,
    })
}

fn response(cookie: u32, token: &[u8]) -> Vec<u8> {
    msg(SecurityResponseRepr {
        play_incarnation: 3,
        cookie,
        token,
    })
}

struct Sim {
    s: ServerMachine,
    seq: u16,
    users: fn(&str) -> Option<NtHash>,
}

fn alice(u: &str) -> Option<NtHash> {
    (u == "alice").then(|| NtHash::of_password("secret"))
}

impl Sim {
    fn new(package: AuthenPackage) -> Self {
        let config = Config {
            auth: Some(AuthOffer {
                package,
                second: None,
                max_failures: 2,
            }),
            ..Config::default()
        };
        Sim {
            s: ServerMachine::new(config, 7),
            seq: 0,
            users: alice,
        }
    }

    /// Sends a message; the one event's token (owned) if it has one.
    fn send(&mut self, m: Vec<u8>) -> Result<Option<Vec<u8>>, ServerError> {
        let p = packet(self.seq, 0, &m);
        self.seq += 1;
        let ev = self
            .s
            .handle_input(Instant(1), Input::Tcp(Unit::Command(&p)))?;
        Ok(ev.iter().find_map(|e| match e {
            Event::OpenRequest { token, .. } | Event::SecurityResponse { token } => {
                Some(token.to_vec())
            }
            _ => None,
        }))
    }

    fn authenticate(&mut self, token: &[u8]) -> Result<Authn, ServerError> {
        let authority = Authority {
            users: &self.users,
            realm: "r",
            ntlm: AcceptorConfig::default(),
            server_challenge: [1; 8],
            timestamp: 0,
        };
        self.s.authenticate_open(Instant(1), token, &authority)
    }

    /// The messages queued, parsed (owned by leaking: a test).
    fn sent(&mut self) -> Vec<Message<'static>> {
        let mut out = Vec::new();
        loop {
            let mut buf = vec![0u8; 2048];
            match self.s.poll_output(Instant(1), &mut buf).unwrap() {
                Output::Transmit(t) => {
                    buf.truncate(t.len());
                    out.push(common::sent_message(buf));
                }
                _ => return out,
            }
        }
    }
}

/// ReportConnectedEX names the AuthenPackage only when auth is offered.
#[test]
fn authen_package_in_connected_ex() {
    for (auth, want) in [
        (Some(AuthenPackage::Ntlm), Some("NTLM")),
        (Some(AuthenPackage::Basic), Some("BASIC")),
        (None, None),
    ] {
        let mut sim = Sim::new(auth.unwrap_or(AuthenPackage::Basic));
        if auth.is_none() {
            sim.s = ServerMachine::new(Config::default(), 7);
        }
        sim.send(connect(WMP, 0)).unwrap();
        let Message::ReportConnectedEx(r) = &sim.sent()[0] else {
            panic!("no ReportConnectedEX");
        };
        assert_eq!(
            r.authen_package.map(|a| a.to_string_lossy()),
            want.map(String::from)
        );
    }
}

/// The cookie ties the response to its challenge: a response echoing
/// another counts as a failure; the challenge echoes playIncarnation.
#[test]
fn cookie_and_incarnation() {
    let mut sim = Sim::new(AuthenPackage::Basic);
    sim.send(connect(WMP, 0)).unwrap();
    sim.sent();
    let t = sim.send(open_file(b"")).unwrap().unwrap();
    assert_eq!(
        sim.authenticate(&t).unwrap(),
        Authn::Challenged { failed: false }
    );
    let Message::SecurityChallenge(c) = sim.sent().remove(0) else {
        panic!("no challenge");
    };
    assert_eq!(c.play_incarnation, 3);
    assert_eq!(sim.s.phase(), Phase::Challenged);
    // Right credentials, wrong cookie: refused, a new challenge (new cookie).
    let mut creds = [0u8; 64];
    let n = emit_credentials("alice", "secret", &mut creds).unwrap();
    let t = sim
        .send(response(c.cookie ^ 1, &creds[..n]))
        .unwrap()
        .unwrap();
    assert_eq!(
        sim.authenticate(&t).unwrap(),
        Authn::Challenged { failed: true }
    );
    let Message::SecurityChallenge(c2) = sim.sent().remove(0) else {
        panic!("no challenge");
    };
    assert_ne!(c2.cookie, c.cookie);
    // The right cookie now: granted.
    let t = sim.send(response(c2.cookie, &creds[..n])).unwrap().unwrap();
    assert_eq!(
        sim.authenticate(&t).unwrap(),
        Authn::Granted("alice".try_into().unwrap())
    );
}

/// accept_open is refused after a challenge until the credentials are
/// granted; reject_open stays possible.
#[test]
fn no_serving_without_grant() {
    let media = Media {
        packet_size: 100,
        file_header_len: 100,
        ..Media::default()
    };
    let mut sim = Sim::new(AuthenPackage::Ntlm);
    sim.send(connect(WMP, 0)).unwrap();
    let t = sim.send(open_file(b"")).unwrap().unwrap();
    sim.authenticate(&t).unwrap();
    sim.sent();
    let t = sim.send(response(0, b"\0\0junk")).unwrap().unwrap();
    assert!(matches!(
        sim.s.accept_open(media),
        Err(ServerError::Misuse(_))
    ));
    // Junk counts as a failure; the second is the last (max_failures 2).
    assert_eq!(
        sim.authenticate(&t).unwrap(),
        Authn::Challenged { failed: true }
    );
    let Message::SecurityChallenge(c) = sim.sent().remove(0) else {
        panic!("no challenge");
    };
    assert_eq!(c.token, &[0, 0]);
    let t = sim.send(response(c.cookie, b"QQ==\0")).unwrap().unwrap();
    assert_eq!(sim.authenticate(&t).unwrap(), Authn::Denied);
    let sent = sim.sent();
    let Message::ReportOpenFile(r) = &sent[0] else {
        panic!("no ReportOpenFile");
    };
    assert_eq!(r.hr, HResult::E_ACCESSDENIED);
    assert_eq!(sim.s.phase(), Phase::Closed);
}

/// SecurityResponse without a challenge is unexpected; authenticate_open
/// without Config::auth is a misuse.
#[test]
fn response_without_challenge() {
    let mut sim = Sim::new(AuthenPackage::Basic);
    sim.send(connect(WMP, 0)).unwrap();
    assert!(matches!(
        sim.send(response(0, b"x")),
        Err(ServerError::Unexpected {
            message: MessageId::SecurityResponse,
            ..
        })
    ));
    let mut sim = Sim::new(AuthenPackage::Basic);
    sim.s = ServerMachine::new(Config::default(), 7);
    sim.send(connect(WMP, 0)).unwrap();
    sim.send(open_file(b"QQ==")).unwrap();
    assert!(matches!(sim.authenticate(b""), Err(ServerError::Misuse(_))));
}

/// The `server` fuzz oracle with auth on, over whole sessions: granted
/// Basic (content flows), wrong Basic then ReadBlock (the oracle asserts
/// that nothing of the content goes out), NTLM's first steps. Each is
/// also a fuzz seed.
#[test]
fn fuzz_oracle_with_auth() {
    let mut creds = [0u8; 64];
    let n = emit_credentials("alice", "secret", &mut creds).unwrap();
    let wrong = {
        let mut w = [0u8; 64];
        let n = emit_credentials("alice", "guess", &mut w).unwrap();
        w[..n].to_vec()
    };
    let negotiate = {
        let mut b = [0u8; 64];
        let n = mms_proto::auth::ntlm::Initiator::new("")
            .negotiate(&mut b)
            .unwrap();
        b[..n].to_vec()
    };
    let sessions: [Vec<Vec<u8>>; 3] = [
        vec![open_file(&creds[..n]), common::read_block(1, 4)],
        vec![
            open_file(b""),
            response(0, &wrong),
            common::read_block(1, 4),
            response(0, &wrong),
            response(0, &wrong),
        ],
        vec![
            open_file(&negotiate),
            response(0, b"\0\0"),
            common::read_block(1, 4),
        ],
    ];
    for msgs in sessions {
        let mut bytes = packet(0, 0, &connect(WMP, 0));
        for (i, m) in msgs.iter().enumerate() {
            bytes.extend(packet(i as u16 + 1, 0, m));
        }
        common::seed("server", &bytes);
        mms_proto::fuzzing::server(&bytes);
    }
}
