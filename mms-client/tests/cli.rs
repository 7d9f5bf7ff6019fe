//! The `mms` command's failures: a clear message and the documented exit
//! code for each (unreachable host, a host that accepts and never answers,
//! a missing file, authentication, a malformed server, a bad URL).

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mms_proto::wire::{
    Frame, HResult, Limits, Message, MessageId, ReportConnectedExRepr, ReportConnectedFunnelRepr,
    ReportFunnelInfoRepr, SecurityChallengeRepr, Status, TcpMessageHeaderRepr, Utf16Str, frame,
    parse_packet,
};

fn mms(args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mms"))
        .args(args)
        .output()
        .unwrap();
    (out, t.elapsed())
}

fn expect_exit(out: &Output, code: i32, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(says), "expected {says:?} in: {err}");
}

#[test]
fn unreachable_host_exits_3() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, _) = mms(&["probe", &format!("mms://127.0.0.1:{port}/x.wmv")]);
    expect_exit(&out, 3, "cannot reach 127.0.0.1");
}

/// A host that accepts TCP and never answers: the command fails within its
/// connect timeout (libmms waits for minutes).
#[test]
fn silent_host_fails_within_the_connect_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(s);
    });
    let out_path = common::fresh_path("silent.asf");
    let (out, took) = mms(&[
        "--timeout",
        "1.5",
        "dump",
        &format!("mms://{addr}/x.wmv"),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    expect_exit(&out, 4, "timed out after 1.5 s");
    assert!(took < Duration::from_millis(3000), "took {took:?}");
    hold.join().unwrap();
}

#[test]
fn missing_file_exits_5() {
    let server = common::serve_unpaced(&common::testdata_dir());
    let (out, _) = mms(&["probe", &format!("mms://{}/no/such.wmv", server.addr)]);
    expect_exit(&out, 5, "has no file \"no/such.wmv\"");
}

#[test]
fn bad_url_exits_2() {
    let (out, _) = mms(&["probe", "http://example.org/x"]);
    expect_exit(&out, 2, "bad URL");
}

/// A scripted server: answers each client message with what `answer`
/// returns (None: say nothing).
fn scripted(answer: fn(MessageId) -> Option<Message<'static>>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match frame(&buf, &Limits::default()) {
                Ok(Status::Complete(Frame::Command(n))) => {
                    let id = parse_packet(&buf[..n])
                        .unwrap()
                        .1
                        .next()
                        .unwrap()
                        .unwrap()
                        .id();
                    buf.drain(..n);
                    if let Some(m) = answer(id) {
                        send(&mut s, &m);
                    }
                }
                Ok(Status::Partial(_)) => match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                _ => return,
            }
        }
    });
    addr
}

fn send(s: &mut TcpStream, m: &Message<'_>) {
    let mut out = vec![0; TcpMessageHeaderRepr::packet_len(m)];
    let n = TcpMessageHeaderRepr {
        seq: 0,
        time_sent: 0,
    }
    .emit_packet(m, &mut out)
    .unwrap();
    let _ = s.write_all(&out[..n]);
}

fn setup(id: MessageId) -> Option<Message<'static>> {
    match id {
        MessageId::Connect => {
            Some(ReportConnectedExRepr::new(0xF0F0_F0EF, Utf16Str::Str("9.1.1.3862")).into())
        }
        MessageId::FunnelInfo => Some(ReportFunnelInfoRepr::new(7).into()),
        MessageId::ConnectFunnel => Some(ReportConnectedFunnelRepr::default().into()),
        _ => None,
    }
}

#[test]
fn authentication_required_exits_6() {
    let addr = scripted(|id| match id {
        MessageId::OpenFile => Some(
            SecurityChallengeRepr {
                play_incarnation: 9,
                cookie: 1,
                token: b"r\0e\0a\0l\0m\0=\0\"\0x\0\"\0\0\0",
            }
            .into(),
        ),
        other => setup(other),
    });
    let (out, _) = mms(&["probe", &format!("mms://{addr}/secret.wmv")]);
    expect_exit(&out, 6, "authentication required");
}

#[test]
fn a_broken_server_exits_7() {
    // A ReportConnectedFunnel answering the OpenFile.
    let addr = scripted(|id| match id {
        MessageId::OpenFile => Some(ReportConnectedFunnelRepr::default().into()),
        other => setup(other),
    });
    let (out, _) = mms(&["probe", &format!("mms://{addr}/x.wmv")]);
    expect_exit(&out, 7, "unexpected LinkMacToViewerReportConnectedFunnel");
}

#[test]
fn a_refusal_exits_8() {
    let addr = scripted(|id| match id {
        MessageId::ConnectFunnel => Some(
            mms_proto::wire::ReportDisconnectedFunnelRepr {
                hr: HResult::NS_E_TOO_MANY_SESS,
                play_incarnation: 0,
            }
            .into(),
        ),
        other => setup(other),
    });
    let (out, _) = mms(&["probe", &format!("mms://{addr}/x.wmv")]);
    expect_exit(&out, 8, "the server refused");
}
