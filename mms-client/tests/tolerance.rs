//! Tolerance, explicit (issue 15): a scripted server per fault seen in
//! the wild. By default the client takes what it can, counts each fault
//! in `Session::stats()` and says so at `mms -v`; `--strict` refuses it.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;
mod scripted;

use std::path::Path;
use std::process::{Command, Output};

use mms_client::{Options, Packet, Session, Start, StreamChoice, connect};
use mms_proto::asf::{HeaderSummary, PacketInfo, repad};
use mms_proto::wire::HResult;
use scripted::Script;

fn long_file() -> Vec<u8> {
    std::fs::read(common::media_dir().join("long.wmv")).unwrap()
}

fn mms(args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("30")
        .arg(env!("CARGO_BIN_EXE_mms"))
        .args(args)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(124), "mms did not end within 30 s");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn expect(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(says), "expected {says:?} in: {err}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The whole play through the library: packets and the play's stats.
fn play_all(addr: std::net::SocketAddr, options: Options) -> (Vec<Packet>, mms_client::Stats) {
    rt().block_on(async {
        let mut s: Session = connect(&format!("mmst://{addr}/long.wmv"), options)
            .await
            .unwrap();
        s.play_from(Start::Beginning).await.unwrap();
        let mut v = Vec::new();
        while let Some(p) = s.next_packet().await.unwrap() {
            v.push(p);
        }
        let stats = s.stats();
        let _ = s.close().await;
        (v, stats)
    })
}

/// `mms dump -v URL -o out ARGS`, Data over TCP (the scripted server
/// accepts UDP and sends over TCP: a fault of its own, tested apart).
fn dump(addr: std::net::SocketAddr, out: &Path, args: &[&str]) -> Output {
    let url = format!("mmst://{addr}/long.wmv");
    let mut a = vec!["dump", "-q", "-v", &url, "-o", out.to_str().unwrap()];
    a.extend_from_slice(args);
    mms(&a)
}

/// The server labels every play's media 4 (whatever StartPlaying said):
/// taken as the play's, every packet counted; refused when strict.
#[test]
fn media_of_another_incarnation_is_the_plays() {
    let source = long_file();
    let script = Script {
        incarnation: Some(4),
        ..Script::serving(source.clone())
    };
    let (packets, stats) = play_all(script.clone().start(), Options::default());
    let n = common::packets(&source).1.len();
    assert_eq!(packets.len(), n);
    assert_eq!(stats.foreign_incarnation as usize, n, "{stats:?}");
    let out = common::fresh_path("tolerate-incarnation.asf");
    let o = dump(script.clone().start(), &out, &[]);
    expect(&o, 0, "play incarnation it was not asked for");
    common::assert_same_payloads(&source, &std::fs::read(&out).unwrap());
    let o = dump(script.start(), &out, &["--strict"]);
    expect(&o, 7, "unknown play incarnation");
}

/// A refused open as a 48-byte ReportOpenFile (hr, playIncarnation, no
/// body): "no such file", exit 5 — not "malformed" (exit 7, strict).
#[test]
fn a_short_refusal_is_file_not_found() {
    let script = Script {
        short_refusal: Some(HResult::NS_E_FILE_NOT_FOUND),
        ..Script::serving(long_file())
    };
    let url = format!("mms://{}/long.wmv", script.clone().start());
    expect(&mms(&["probe", &url]), 5, "has no file \"long.wmv\"");
    let url = format!("mms://{}/long.wmv", script.start());
    expect(
        &mms(&["--strict", "probe", &url]),
        7,
        "malformed server message",
    );
}

/// ServerVersionInfo "0.9.75" is kept as text: `probe --json` prints it;
/// strict refuses it (the message's own strict check).
#[test]
fn a_server_version_of_any_shape_is_kept() {
    let script = Script {
        version: "0.9.75",
        ..Script::serving(long_file())
    };
    let url = format!("mms://{}/long.wmv", script.clone().start());
    let out = mms(&["probe", "--json", &url]);
    expect(&out, 0, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server_version"], "0.9.75");
    let url = format!("mms://{}/long.wmv", script.start());
    expect(&mms(&["--strict", "probe", &url]), 7, "invalid version");
}

/// The file's Simple Index sent as two more "packets" after the declared
/// count, and a packet that is no ASF packet: each dropped and counted,
/// nothing of them written, the session goes on to the end.
#[test]
fn data_past_the_count_or_not_asf_is_dropped() {
    let source = long_file();
    let (header, packets) = common::packets(&source);
    let h = HeaderSummary::parse(header).unwrap();
    let data_end = h.header_object_len() + 50 + packets.len() * h.packet_size as usize;
    let index = source[data_end..].to_vec();
    assert!(index.len() > 56, "the source has a Simple Index");
    let bad = 40;
    let script = Script {
        trailing: vec![index.clone(), index],
        corrupt: vec![bad],
        ..Script::serving(source.clone())
    };
    let (got, stats) = play_all(script.clone().start(), Options::default());
    assert_eq!((stats.past_count, stats.not_asf), (2, 1), "{stats:?}");
    assert_eq!(got.len(), packets.len() - 1);
    assert!(got.iter().all(|p| p.location_id as usize != bad));
    let out = common::fresh_path("tolerate-count.asf");
    let o = dump(script.clone().start(), &out, &[]);
    expect(&o, 0, "Data past the declared packet count: dropped");
    assert!(stderr(&o).contains("Data that is no ASF packet: dropped"));
    let file = std::fs::read(&out).unwrap();
    let (fh, written) = common::packets(&file);
    let written_h = HeaderSummary::parse(fh).unwrap();
    assert_eq!(written.len(), packets.len() - 1);
    assert_eq!(written_h.packet_count, written.len() as u64);
    let mut want = packets.clone();
    want.remove(bad);
    assert_eq!(written, want, "the packets, minus the bad one, as sent");
    let o = dump(script.start(), &out, &["--strict"]);
    expect(&o, 7, "invalid");
}

fn stream_payloads(packets: &[&[u8]], stream: u8) -> Vec<common::Payload> {
    common::packet_payloads(packets)
        .into_iter()
        .filter(|p| p.0 == stream)
        .collect()
}

/// A server that sends every stream whatever StreamSwitch said: the
/// client filters (`--streams 1` keeps the video only) and says so; a
/// server that obeys draws no such word.
#[test]
fn a_server_ignoring_the_selection_is_filtered() {
    let source = long_file();
    let (_, packets) = common::packets(&source);
    let script = Script {
        ignore_stream_switch: true,
        ..Script::serving(source.clone())
    };
    let options = Options {
        streams: StreamChoice::Only(vec![1]),
        ..Options::default()
    };
    let (_, stats) = play_all(script.clone().start(), options);
    assert!(stats.unselected > 0, "{stats:?}");
    let out = common::fresh_path("tolerate-streams.asf");
    let o = dump(script.clone().start(), &out, &["--streams", "1"]);
    expect(&o, 0, "ignores the stream selection");
    let file = std::fs::read(&out).unwrap();
    let written = common::packets(&file).1;
    assert_eq!(
        common::packet_payloads(&written),
        stream_payloads(&packets, 1),
        "only stream 1, all of it"
    );
    let o = dump(Script::serving(source).start(), &out, &["--streams", "1"]);
    expect(&o, 0, "");
    assert!(!stderr(&o).contains("ignores"), "{}", stderr(&o));
    let o = dump(script.start(), &out, &["--streams", "1", "--strict"]);
    expect(&o, 7, "of a stream not selected");
}

/// A server that ignores frameOffset (`--duration 3` streams all 20 s):
/// the client keeps what a server obeying it sends (Send Times up to 3 s
/// past the first), stops the play and says so.
#[test]
fn a_server_ignoring_the_stop_is_cut() {
    let source = long_file();
    let (header, packets) = common::packets(&source);
    let size = HeaderSummary::parse(header).unwrap().packet_size as usize;
    let send = |p: &[u8]| PacketInfo::parse(p).unwrap().send_time;
    let want: Vec<&[u8]> = packets
        .iter()
        .copied()
        .take_while(|p| send(p) - send(packets[0]) <= 3000)
        .collect();
    assert!(want.len() < packets.len() / 2);
    let script = Script {
        ignore_stop: true,
        ..Script::serving(source.clone())
    };
    let out = common::fresh_path("tolerate-stop.asf");
    let o = dump(script.clone().start(), &out, &["--duration", "3"]);
    expect(&o, 0, "ignores the stop position");
    let file = std::fs::read(&out).unwrap();
    let written = common::packets(&file).1;
    assert_eq!(written.len(), want.len());
    for (w, s) in written.iter().zip(&want) {
        let mut buf = vec![0; size];
        let n = repad(s, size, &mut buf).unwrap();
        assert_eq!(*w, &buf[..n]);
    }
    // The same cut from a server that obeys: no word of it.
    let o = dump(
        Script::serving(source.clone()).start(),
        &out,
        &["--duration", "3"],
    );
    expect(&o, 0, "");
    assert!(!stderr(&o).contains("ignores"), "{}", stderr(&o));
    assert_eq!(
        common::packets(&std::fs::read(&out).unwrap()).1.len(),
        want.len()
    );
    let o = dump(script.start(), &out, &["--duration", "3", "--strict"]);
    expect(&o, 7, "past the stop position");
}

/// The server accepts UDP in ReportConnectedFunnel and sends every Data
/// packet over TCP all the same: taken (counted, named at `-v`), the dump
/// whole; refused when strict.
#[test]
fn a_server_accepting_udp_and_sending_over_tcp_is_taken() {
    let source = long_file();
    let script = Script::serving(source.clone());
    let out = common::fresh_path("tolerate-udp-over-tcp.asf");
    let url = format!("mms://{}/long.wmv", script.clone().start());
    let o = mms(&["dump", "-q", "-v", &url, "-o", out.to_str().unwrap()]);
    expect(&o, 0, "accepted UDP and sends Data over TCP");
    common::assert_same_payloads(&source, &std::fs::read(&out).unwrap());
    let url = format!("mms://{}/long.wmv", script.start());
    let o = mms(&["dump", "-q", "--strict", &url, "-o", out.to_str().unwrap()]);
    expect(&o, 7, "over TCP although the server accepted UDP");
}
