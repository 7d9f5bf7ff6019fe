//! What a protected file's wire carries ([3.2.5.6], [3.2.5.7]), seen by a
//! scripted client on the raw TCP stream: wrong credentials, a client
//! that sends ReadBlock without waiting, and running out of attempts get
//! not one Data packet — nothing of the file's header or data; right
//! credentials get the header (the control).

mod common;

use common::client::{Incoming, ScriptedClient};
use mms_proto::auth::basic::emit_credentials;
use mms_proto::wire::{
    HResult, Message, MessageId, OpenFileRepr, ReadBlockRepr, SecurityResponseRepr, Utf16Str,
};

const FILE: &str = "ff_av.wmv";

fn basic(password: &str) -> Vec<u8> {
    let mut b = [0u8; 64];
    let n = emit_credentials("alice", password, &mut b).unwrap();
    b[..n].to_vec()
}

fn open(c: &mut ScriptedClient, token: &[u8]) {
    c.send(&Message::OpenFile(OpenFileRepr {
        play_incarnation: 1,
        spare: 0,
        file_name: Utf16Str::Str(FILE),
        token_data: token,
    }))
    .unwrap();
}

/// Everything until the server closes.
fn rest(c: &mut ScriptedClient) -> Vec<Incoming> {
    let mut all = Vec::new();
    while let Ok(Some(u)) = c.recv() {
        all.push(u);
    }
    all
}

fn no_data(units: &[Incoming]) {
    assert!(
        units.iter().all(|u| matches!(u, Incoming::Command(_))),
        "a Data packet reached a client that did not identify"
    );
}

#[test]
fn wrong_credentials_and_an_early_read_block_get_nothing() {
    let server = common::auth::serve_with_auth("wire-early", &[FILE]);
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    open(&mut c, &basic("guess"));
    let ch = c.expect(MessageId::SecurityChallenge).unwrap();
    let Some(Message::SecurityChallenge(ch)) = ch.message() else {
        unreachable!()
    };
    // A Basic challenge: the client used Basic (NSPlayer/9 may, [3.2.5.6]).
    assert_ne!(&ch.token[..2], &[0, 0]);
    // ReadBlock without the credentials: the session ends, nothing sent.
    c.send(&Message::ReadBlock(ReadBlockRepr::new(1, 2)))
        .unwrap();
    no_data(&rest(&mut c));
}

#[test]
fn running_out_of_attempts_gets_access_denied_and_nothing() {
    let server = common::auth::serve_with_auth("wire-denied", &[FILE]);
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    open(&mut c, &basic("guess"));
    let mut seen = Vec::new();
    let mut denied = false;
    for _ in 0..3 {
        let u = c.recv().unwrap().unwrap();
        seen.push(u.clone());
        match u.message() {
            Some(Message::SecurityChallenge(ch)) => {
                let token = basic("guess");
                c.send(&Message::SecurityResponse(SecurityResponseRepr {
                    play_incarnation: ch.play_incarnation,
                    cookie: ch.cookie,
                    token: &token,
                }))
                .unwrap();
            }
            Some(Message::ReportOpenFile(r)) => {
                assert_eq!(r.hr, HResult::E_ACCESSDENIED);
                denied = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(denied, "no E_ACCESSDENIED after max_failures (3)");
    seen.extend(rest(&mut c));
    no_data(&seen);
}

#[test]
fn right_credentials_get_the_header() {
    let server = common::auth::serve_with_auth("wire-right", &[FILE]);
    let mut c = ScriptedClient::connect(server.addr).unwrap();
    open(&mut c, &basic("secret"));
    let r = c.expect(MessageId::ReportOpenFile).unwrap();
    let Some(Message::ReportOpenFile(r)) = r.message() else {
        unreachable!()
    };
    assert_eq!(r.hr, HResult::S_OK);
    let header = c.read_header(2).unwrap();
    let file = std::fs::read(common::testdata_dir().join(FILE)).unwrap();
    assert_eq!(header, common::packets(&file).0);
}
