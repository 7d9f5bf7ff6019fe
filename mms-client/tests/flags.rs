//! `mms` does what the library does (issue 15, deliver 4): a test per
//! flag against mms-server or the scripted server — what `probe` shows
//! (attributes, the auth scheme named, whether UDP is offered),
//! `--rate`, `--start-offset` / `--start-packet`, `--fast`, `--proxy`,
//! `--max-bitrate auto` and N, `--language`, `--no-playlist`,
//! `--udp-port`, `-vv`. (`--resume` / `--continue`: tests/resume.rs;
//! `--strict`, `-v`: tolerance.rs; `--timeout`: cli.rs; `--transport`:
//! udp.rs; `--start`, `--duration`, `--json`, `-o -`: e2e.rs.)

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;
mod scripted;

use std::path::Path;
use std::process::{Command, Output};

use mms_proto::server::Config;
use scripted::Script;

fn mms(args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_mms"))
        .args(args)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(124), "mms {args:?} ran 60 s");
    out
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    format!("{}{err}", String::from_utf8_lossy(&out.stdout))
}

fn probe_json(url: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["probe", "--json", url];
    args.extend_from_slice(extra);
    let out = mms(&args);
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn long_file() -> Vec<u8> {
    std::fs::read(common::media_dir().join("long.wmv")).unwrap()
}

/// mms-server with UDP on offers it, without declines it ([3.2.5.5]);
/// mmst:// does not ask. Attributes come with their names.
#[test]
fn probe_says_whether_udp_is_offered() {
    let dir = common::testdata_dir();
    let udp = common::serve(
        &dir,
        Config {
            udp: true,
            paced: false,
            ..Config::default()
        },
    );
    let v = probe_json(&format!("mms://{}/ff_av.wmv", udp.addr), &[]);
    assert_eq!(v["udp"], "offered", "{v}");
    let names: Vec<&str> = v["attribute_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"seekable"), "{names:?}");
    let v = probe_json(&format!("mmst://{}/ff_av.wmv", udp.addr), &[]);
    assert_eq!(v["udp"], "not asked", "{v}");
    let tcp = common::serve_unpaced(&dir);
    let v = probe_json(&format!("mms://{}/ff_av.wmv", tcp.addr), &[]);
    assert_eq!(v["udp"], "declined", "{v}");
    assert!(v["auth"].is_null(), "{v}");
    let text = ok(&mms(&["probe", &format!("mms://{}/ff_av.wmv", tcp.addr)]));
    assert!(
        text.contains("UDP          declined by the server"),
        "{text}"
    );
    assert!(text.contains("Attributes   seekable"), "{text}");
}

/// The scheme of ReportConnectedEX's AuthenPackage is shown; a server
/// that declines UDP by ReportDisconnectedFunnel is "declined".
#[test]
fn probe_shows_the_auth_scheme_named() {
    for (scheme, shown) in [("BASIC", "BASIC"), ("NTLM", "NTLM")] {
        let addr = Script {
            authen_package: Some(scheme),
            refuse_udp: true,
            ..Script::serving(long_file())
        }
        .start();
        let v = probe_json(&format!("mms://{addr}/long.wmv"), &[]);
        assert_eq!(v["auth"], shown, "{v}");
        assert_eq!(v["udp"], "declined", "{v}");
    }
    let addr = Script {
        authen_package: Some("NTLM"),
        ..Script::serving(long_file())
    }
    .start();
    let text = ok(&mms(&["probe", &format!("mmst://{addr}/long.wmv")]));
    assert!(text.contains("Auth         NTLM"), "{text}");
}

fn dump_to(url: &str, name: &str, extra: &[&str]) -> (Vec<u8>, String) {
    let out = common::fresh_path(name);
    let mut args = vec!["dump", "-q", url, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let log = ok(&mms(&args));
    (std::fs::read(&out).unwrap(), log)
}

/// `--rate 5`: StartStriding; the file holds key frames only, fewer than
/// the source's payloads. `--rate -5 --start 15`: a rewind, its packets'
/// Send Times run backwards from 15 s.
#[test]
fn rate_strides_forward_to_key_frames_and_back() {
    use mms_proto::asf::PacketInfo;
    let server = common::serve_unpaced(&common::media_dir());
    let url = format!("mms://{}/long.wmv", server.addr);
    let (got, _) = dump_to(&url, "rate-5.asf", &["--rate", "5"]);
    let payloads = common::payloads(&got);
    let source = common::payloads(&long_file());
    assert!(!payloads.is_empty(), "no payload");
    assert!(
        payloads.iter().all(|p| p.1),
        "a payload of no key frame at rate 5"
    );
    assert!(
        payloads.len() * 2 < source.len(),
        "{} of {} payloads",
        payloads.len(),
        source.len()
    );
    let video: std::collections::BTreeSet<u32> =
        payloads.iter().filter(|p| p.0 == 1).map(|p| p.2).collect();
    assert!(
        video.len() >= 15,
        "{} video key frames of 20 s",
        video.len()
    );
    let (got, _) = dump_to(&url, "rate-minus-5.asf", &["--rate", "-5", "--start", "15"]);
    let (_, packets) = common::packets(&got);
    let times: Vec<u32> = packets
        .iter()
        .map(|p| PacketInfo::parse(p).unwrap().send_time)
        .collect();
    assert!(times.len() > 5, "{times:?}");
    assert!(times[0] >= 13_000 && times[0] <= 16_000, "{times:?}");
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]) && times[0] > *times.last().unwrap(),
        "not backwards: {times:?}"
    );
    assert!(common::payloads(&got).iter().all(|p| p.1));
    // Out of range: refused by the command (exit 2).
    let out = mms(&["dump", &url, "-o", "/dev/null", "--rate", "6"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--start-offset BYTES` (asfOffset): the play starts at the packet that
/// holds the byte, the same file as `--start-packet` of that packet.
#[test]
fn start_offset_starts_at_the_packet_holding_the_byte() {
    let server = common::serve_unpaced(&common::media_dir());
    let url = format!("mms://{}/long.wmv", server.addr);
    let source = long_file();
    let (header, packets) = common::packets(&source);
    let offset = header.len() + 40 * packets[0].len() + 100;
    let (by_offset, _) = dump_to(
        &url,
        "start-offset.asf",
        &["--start-offset", &offset.to_string()],
    );
    let (by_packet, _) = dump_to(&url, "start-packet-40.asf", &["--start-packet", "40"]);
    let (whole, _) = dump_to(&url, "start-offset-whole.asf", &[]);
    assert!(
        by_offset == by_packet,
        "--start-offset is not --start-packet 40"
    );
    let n = common::packets(&by_offset).1.len();
    assert!(n < packets.len() - 30 && n > 0, "{n} packets");
    assert!(by_offset != whole);
}

/// `--fast`: a paced mms-server sends the 20 s file far faster than real
/// time when StartPlaying asks ([2.2.4.25] dwAccelBandwidth /
/// dwAccelDuration), every payload intact and no complaint.
#[test]
fn fast_gets_the_whole_content_accelerated() {
    let server = common::serve(&common::media_dir(), Config::default());
    let url = format!("mms://{}/long.wmv", server.addr);
    let t = std::time::Instant::now();
    let (got, log) = dump_to(&url, "fast.asf", &["--fast"]);
    let took = t.elapsed();
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    assert!(!log.contains("ignored"), "{log}");
    common::assert_same_payloads(&long_file(), &got);
}

/// A server that paces at real time whatever it is asked is reported; a
/// version 8 server is not asked at all ([3.1.4.2.1]), and that is said.
#[test]
fn fast_says_when_the_server_ignores_it_or_is_not_asked() {
    use std::sync::{Arc, Mutex};
    let file = std::fs::read(common::testdata_dir().join("ff_av.wmv")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = Script {
        // 11 packets over 3 s of Send Times: real time.
        pace: std::time::Duration::from_millis(300),
        log: Some(seen.clone()),
        ..Script::serving(file.clone())
    }
    .start();
    let (_, log) = dump_to(
        &format!("mms://{addr}/ff_av.wmv"),
        "fast-ignored.asf",
        &["--fast=20M"],
    );
    assert!(log.contains("the server ignored --fast"), "{log}");
    let start = seen
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.starts_with("StartPlaying"))
        .cloned()
        .unwrap();
    assert!(
        // The whole content: ReportOpenFile's 3.046 s.
        start.contains("bandwidth: 20000000") && start.contains("duration: 3046"),
        "{start}"
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = Script {
        version: "8.0.0.0",
        log: Some(seen.clone()),
        ..Script::serving(file)
    }
    .start();
    let (_, log) = dump_to(
        &format!("mms://{addr}/ff_av.wmv"),
        "fast-v8.asf",
        &["--fast"],
    );
    assert!(log.contains("--fast not asked for"), "{log}");
    let seen = seen.lock().unwrap();
    let start = seen.iter().find(|m| m.starts_with("StartPlaying")).unwrap();
    assert!(start.contains("acceleration: None"), "{start}");
}

/// The first command a scripted server got whose Debug form starts with
/// `name`.
fn sent(log: &std::sync::Mutex<Vec<String>>, name: &str) -> String {
    log.lock()
        .unwrap()
        .iter()
        .find(|m| m.starts_with(name))
        .cloned()
        .unwrap_or_else(|| panic!("no {name}"))
}

/// `--proxy HOST:PORT`: the connection goes to the proxy, with the
/// server's name in Connect's host-param ([3.1.4.1.1]); a RedirectType 2
/// ([3.1.5.7]) sends the client through the proxy it names.
#[test]
fn proxy_carries_the_server_name_and_type_2_redirects_set_it() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Script {
        log: Some(seen.clone()),
        ..Script::serving(long_file())
    }
    .start();
    let (got, _) = dump_to(
        "mms://origin.invalid:8099/long.wmv",
        "proxy.asf",
        &["--proxy", &proxy.to_string()],
    );
    common::assert_same_payloads(&long_file(), &got);
    let connect = sent(&seen, "Connect");
    assert!(connect.contains("Host: origin.invalid:8099"), "{connect}");
    // A server that sends the client to a proxy.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Script {
        log: Some(seen.clone()),
        ..Script::serving(long_file())
    }
    .start();
    let front = Script {
        redirect_to_proxy: Some(proxy),
        ..Script::serving(long_file())
    }
    .start();
    let (got, _) = dump_to(
        &format!("mms://{front}/long.wmv"),
        "proxy-redirect.asf",
        &[],
    );
    common::assert_same_payloads(&long_file(), &got);
    let connect = sent(&seen, "Connect");
    assert!(connect.contains(&format!("Host: {front}")), "{connect}");
    assert!(sent(&seen, "OpenFile").contains("long.wmv"));
}

/// A file of two audio streams, 64 and 32 kbit/s, no exclusion object: one
/// bit-rate group (as VLC reads it).
fn two_rates() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("two-rates");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mbr.wma");
    if !file.exists() {
        let tmp = dir.join(format!("mbr.{}.tmp", std::process::id()));
        let (made, log) = common::run_with_timeout(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
                .args(["-i", "sine=frequency=440:duration=4:sample_rate=44100"])
                .args(["-map", "0:a", "-map", "0:a", "-c:a", "wmav2"])
                .args(["-b:a:0", "64k", "-b:a:1", "32k", "-fflags", "+bitexact"])
                .args(["-f", "asf"])
                .arg(&tmp),
            std::time::Duration::from_secs(60),
            "ffmpeg",
        );
        assert!(made, "making the two-rate file failed: {log}");
        std::fs::rename(&tmp, &file).unwrap();
    }
    dir
}

/// `--max-bitrate auto`: the TCP packet-pair is asked for (mmst://) and
/// the stream that fits the measured bandwidth is taken — the 32 kbit/s
/// one behind a scripted server whose pair says ~45 kbit/s, the 64 kbit/s
/// one from mms-server on loopback (Gbit/s), each stream's payloads
/// whole.
#[test]
fn max_bitrate_auto_fits_the_measured_bandwidth() {
    let dir = two_rates();
    let source = std::fs::read(dir.join("mbr.wma")).unwrap();
    let addr = Script {
        pair_gap: Some(std::time::Duration::from_millis(100)),
        ..Script::serving(source.clone())
    }
    .start();
    let out = common::fresh_path("mbr-slow.asf");
    let log = ok(&mms(&[
        "dump",
        &format!("mmst://{addr}/mbr.wma"),
        "--max-bitrate",
        "auto",
        "-o",
        out.to_str().unwrap(),
    ]));
    let got = std::fs::read(&out).unwrap();
    assert_eq!(streams_of(&got), [2], "{log}");
    assert_eq!(only(&source, 2), common::payloads(&got), "payloads");
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path("mbr-fast.asf");
    let text = ok(&mms(&[
        "dump",
        &format!("mmst://{}/mbr.wma", server.addr),
        "--max-bitrate",
        "auto",
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(text.contains("packet-pair bandwidth"), "{text}");
    assert!(!text.contains("not measured"), "{text}");
    let got = std::fs::read(&out).unwrap();
    assert_eq!(streams_of(&got), [1], "{text}");
    assert_eq!(only(&source, 1), common::payloads(&got), "payloads");
}

/// The stream numbers a file's payloads carry.
fn streams_of(file: &[u8]) -> Vec<u8> {
    let set: std::collections::BTreeSet<u8> = common::payloads(file).iter().map(|p| p.0).collect();
    set.into_iter().collect()
}

/// The payloads of one stream of a file.
fn only(file: &[u8], stream: u8) -> Vec<common::Payload> {
    let mut all = common::payloads(file);
    all.retain(|p| p.0 == stream);
    all
}

/// `--max-bitrate N` and `--language` from the command: the 32 kbit/s
/// stream under 40k; French of ff_lang.wmv's two audio languages.
#[test]
fn max_bitrate_and_language_choose_streams() {
    let dir = two_rates();
    let source = std::fs::read(dir.join("mbr.wma")).unwrap();
    let server = common::serve_unpaced(&dir);
    let (got, _) = dump_to(
        &format!("mms://{}/mbr.wma", server.addr),
        "mbr-40k.asf",
        &["--max-bitrate", "40k"],
    );
    assert_eq!(streams_of(&got), [2]);
    assert_eq!(only(&source, 2), common::payloads(&got));
    let server = common::serve_unpaced(&common::testdata_dir());
    let (got, _) = dump_to(
        &format!("mms://{}/ff_lang.wmv", server.addr),
        "lang-fr.asf",
        &["--language", "fr"],
    );
    // ff_lang.wmv: video 1, English 2, French 3.
    assert_eq!(streams_of(&got), [1, 3]);
}

/// `--no-playlist`: a server-side playlist's first entry only.
#[test]
fn no_playlist_stops_after_the_first_entry() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flags-playlist-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["ff_av.wmv", "ff_audio.wma"] {
        std::fs::copy(common::testdata_dir().join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("show.m3u"), "ff_av.wmv\nff_audio.wma\n").unwrap();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path("no-playlist.asf");
    let second = out.with_file_name("no-playlist.2.asf");
    let _ = std::fs::remove_file(&second);
    ok(&mms(&[
        "dump",
        "-q",
        &format!("mms://{}/show.m3u", server.addr),
        "--no-playlist",
        "-o",
        out.to_str().unwrap(),
    ]));
    let got = std::fs::read(&out).unwrap();
    common::assert_same_payloads(&std::fs::read(dir.join("ff_av.wmv")).unwrap(), &got);
    assert!(!second.exists(), "the second entry was dumped");
}

/// `--udp-port P` (with `--transport udp`): ConnectFunnel names that
/// port for the server's datagrams ([2.2.4.18] funnelName
/// `\\ip\UDP\port`).
#[test]
fn udp_port_is_the_port_asked_for() {
    use std::sync::{Arc, Mutex};
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = Script {
        log: Some(seen.clone()),
        ..Script::serving(long_file())
    }
    .start();
    ok(&mms(&[
        "--transport",
        "udp",
        "--udp-port",
        &port.to_string(),
        "probe",
        &format!("mms://{addr}/long.wmv"),
    ]));
    let funnel = sent(&seen, "ConnectFunnel");
    assert!(funnel.contains(&format!("UDP\\\\{port}")), "{funnel}");
}

/// `-vv`: debug logs.
#[test]
fn vv_logs_at_debug() {
    let addr = Script::serving(long_file()).start();
    let out = mms(&["-vv", "probe", &format!("mmst://{addr}/long.wmv")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("DEBUG"), "{err}");
    let addr = Script::serving(long_file()).start();
    let out = mms(&["probe", &format!("mmst://{addr}/long.wmv")]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("DEBUG"));
}
