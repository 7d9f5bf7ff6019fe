//! mms-client against mms-server through real loopback sockets: the `mms`
//! command's dumps compared payload by payload with the source files and
//! decoded by FFmpeg, `mms probe` against ffprobe, and the library's seek,
//! selection, playlist, redirect and stop/restart paths.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mms_client::{Options, Packet, Session, Start, StreamChoice, connect};
use mms_proto::asf::{HeaderSummary, StreamKind, repad};
use mms_proto::server::Config;

fn mms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mms"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `mms dump` of `name` from a server on `testdata/`.
fn dump_testdata(name: &str) -> Vec<u8> {
    let server = common::serve_unpaced(&common::testdata_dir());
    let out = common::fresh_path(&format!("mms-dump-{name}"));
    let (ok, log) = common::run_with_timeout(
        mms()
            .args(["dump", "-q"])
            .arg(format!("mms://{}/{name}", server.addr))
            .arg("-o")
            .arg(&out),
        Duration::from_secs(30),
        "mms",
    );
    assert!(ok, "mms dump failed: {log}");
    std::fs::read(&out).unwrap()
}

/// FFmpeg decodes `file` without a word ("-v error" prints nothing).
fn ffmpeg_decodes_silently(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap_or_else(|e| panic!("ffmpeg is needed ({e}): run `cargo xtask deps`"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffmpeg on {}: {err}",
        file.display()
    );
}

/// Every test file: `mms dump` writes the source's payloads byte for byte
/// and a file FFmpeg decodes cleanly, with counts patched.
fn dump_is_exact(name: &str) {
    let got = dump_testdata(name);
    let want = std::fs::read(common::testdata_dir().join(name)).unwrap();
    common::assert_same_payloads(&want, &got);
    let (header, packets) = common::packets(&got);
    let h = HeaderSummary::parse(header).unwrap();
    assert_eq!(
        h.packet_count,
        packets.len() as u64,
        "File Properties count"
    );
    assert_eq!(h.file_size, got.len() as u64, "File Properties size");
    assert!(h.is_seekable() && !h.is_broadcast(), "flags {:#x}", h.flags);
    assert!(packets.iter().all(|p| p.len() == h.packet_size as usize));
    let path = common::fresh_path(&format!("mms-dump-check-{name}"));
    std::fs::write(&path, &got).unwrap();
    ffmpeg_decodes_silently(&path);
}

mod dump {
    crate::every_test_file!(super::dump_is_exact);
}

/// ffprobe's view of `mmst://addr/name`: (max stream duration, [(type,
/// codec, language)]).
fn ffprobe(url: &str) -> (f64, Vec<(String, String, String)>) {
    let out = Command::new("timeout")
        .args([
            "20",
            "ffprobe",
            "-v",
            "error",
            "-probesize",
            "32",
            "-analyzeduration",
            "0",
        ])
        .args([
            "-show_entries",
            "stream=codec_type,codec_name,duration:stream_tags=language",
        ])
        .args(["-of", "csv=p=0:nk=1", url])
        .output()
        .unwrap_or_else(|e| panic!("ffprobe is needed ({e}): run `cargo xtask deps`"));
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut duration = 0f64;
    let mut streams = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split(',').collect();
        assert!(f.len() >= 3, "ffprobe line {line:?}");
        duration = duration.max(f[2].parse().unwrap_or(0.0));
        streams.push((
            f[1].to_string(),
            f[0].to_string(),
            f.get(3).unwrap_or(&"").to_string(),
        ));
    }
    (duration, streams)
}

/// `mms probe` agrees with ffprobe (through FFmpeg's own mmst client, from
/// the same server) on the duration and the stream list.
fn probe_matches_ffprobe(name: &str) {
    let server = common::serve_unpaced(&common::testdata_dir());
    let out = mms()
        .args(["probe", "--json"])
        .arg(format!("mms://{}/{name}", server.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (duration, streams) = ffprobe(&format!("mmst://{}/{name}", server.addr));
    let ours = v["duration"].as_f64().unwrap();
    assert!(
        (ours - duration).abs() < 0.0015,
        "duration {ours} vs ffprobe {duration}"
    );
    let ours: Vec<(String, String, String)> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let codec = match s["codec"].as_str().unwrap() {
                "WMA2" => "wmav2",
                "WMV2" => "wmv2",
                "MP43" => "msmpeg4v3",
                other => other,
            };
            let lang = s["language"].as_str().unwrap_or("");
            (
                s["kind"].as_str().unwrap().to_string(),
                codec.to_string(),
                lang.to_string(),
            )
        })
        .collect();
    assert_eq!(ours.len(), streams.len(), "{ours:?} vs ffprobe {streams:?}");
    for (o, f) in ours.iter().zip(&streams) {
        assert_eq!(
            (&o.0, &o.1),
            (&f.0, &f.1),
            "{ours:?} vs ffprobe {streams:?}"
        );
        // RFC 1766 `en` vs ISO 639-2 `eng`.
        assert_eq!(o.2.get(..2), f.2.get(..2), "language of {o:?} vs {f:?}");
    }
}

mod probe {
    crate::every_test_file!(super::probe_matches_ffprobe);
}

/// A play from packet `start` of `source` (to the end) delivered exactly
/// what the server must send: each stream from its first key frame on
/// (streams without key-frame flags, audio, from their first payload),
/// payload by payload, in order, with LocationIds ascending.
fn assert_plays_from(source: &[u8], start: u32, got: &[Packet]) {
    let (header, packets) = common::packets(source);
    let size = HeaderSummary::parse(header).unwrap().packet_size as usize;
    assert!(!got.is_empty(), "no packets");
    assert!(
        got[0].location_id >= start,
        "started at {} before {start}",
        got[0].location_id
    );
    assert!(
        got.windows(2).all(|w| w[0].location_id < w[1].location_id),
        "LocationIds"
    );
    let all = common::packet_payloads(&packets);
    let keyed: std::collections::BTreeSet<u8> = all.iter().filter(|p| p.1).map(|p| p.0).collect();
    let mut started = std::collections::BTreeSet::new();
    let want: Vec<_> = common::packet_payloads(&packets[start as usize..])
        .into_iter()
        .filter(|p| {
            if !keyed.contains(&p.0) || (p.1 && p.3 == 0) {
                started.insert(p.0);
            }
            started.contains(&p.0)
        })
        .collect();
    let mut received = Vec::new();
    for p in got {
        let mut buf = vec![0; size];
        let n = repad(&p.data, size, &mut buf).unwrap();
        received.extend(common::packet_payloads(&[&buf[..n]]));
    }
    assert_eq!(
        received.len(),
        want.len(),
        "payload count from packet {start}"
    );
    for (i, (g, w)) in received.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "payload {i} from packet {start}");
    }
}

/// Every packet of `source`, in order.
fn assert_whole(source: &[u8], got: &[Packet]) {
    let ids: Vec<u32> = got.iter().map(|p| p.location_id).collect();
    assert_eq!(ids, (0..ids.len() as u32).collect::<Vec<_>>());
    assert_eq!(ids.len(), common::packets(source).1.len());
    assert_plays_from(source, 0, got);
}

async fn collect(s: &mut Session) -> Vec<Packet> {
    let mut v = Vec::new();
    while let Some(p) = s.next_packet().await.unwrap() {
        v.push(p);
    }
    v
}

fn long_source() -> (std::path::PathBuf, Vec<u8>) {
    let dir = common::media_dir();
    let bytes = std::fs::read(dir.join("long.wmv")).unwrap();
    (dir, bytes)
}

#[test]
fn seeks_by_time_and_by_packet_and_while_streaming() {
    let (dir, source) = long_source();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/long.wmv", server.addr);
    rt().block_on(async {
        let mut s = connect(&url, Options::default()).await.unwrap();
        let total = s.file().packet_count as u32;
        assert!(total > 50);
        // By packet.
        s.play_from(Start::Packet(total / 2)).await.unwrap();
        let got = collect(&mut s).await;
        assert_eq!(got.last().unwrap().location_id, total - 1);
        assert_plays_from(&source, total / 2, &got);
        // By time: 10 s of 20 land in the middle, at a packet the Simple
        // Index names.
        s.play_from(Start::Time(10_000)).await.unwrap();
        let got = collect(&mut s).await;
        let first = got[0].location_id;
        assert!(
            first > total / 4 && first < total * 3 / 4,
            "time seek went to {first}"
        );
        assert_eq!(got.last().unwrap().location_id, total - 1);
        assert_plays_from(&source, first, &got);
        // While streaming: stop → play at a packet.
        s.play_from(Start::Beginning).await.unwrap();
        let a = s.next_packet().await.unwrap().unwrap();
        assert_eq!(a.location_id, 0);
        s.seek(Start::Packet(total - 5)).await.unwrap();
        let got = collect(&mut s).await;
        assert_plays_from(&source, total - 5, &got);
        s.close().await.unwrap();
    });
}

#[test]
fn stop_then_restart_gives_the_whole_file() {
    let (dir, source) = long_source();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/long.wmv", server.addr);
    rt().block_on(async {
        let mut s = connect(&url, Options::default()).await.unwrap();
        s.play_from(Start::Beginning).await.unwrap();
        for _ in 0..10 {
            s.next_packet().await.unwrap().unwrap();
        }
        s.stop().await.unwrap();
        assert!(
            s.next_packet().await.unwrap().is_none(),
            "packets after stop"
        );
        let stats = s.stats();
        assert!(stats.packets >= 10 && stats.lost == 0, "{stats:?}");
        s.play_from(Start::Beginning).await.unwrap();
        let got = collect(&mut s).await;
        assert_whole(&source, &got);
        s.close().await.unwrap();
    });
}

#[test]
fn selects_one_of_two_audio_languages() {
    let server = common::serve_unpaced(&common::testdata_dir());
    let source = std::fs::read(common::testdata_dir().join("ff_lang.wmv")).unwrap();
    for (lang, want_stream) in [("fr", 3u8), ("en", 2)] {
        let url = format!("mms://{}/ff_lang.wmv", server.addr);
        let got = rt().block_on(async {
            let options = Options {
                streams: StreamChoice::Best {
                    max_bitrate: None,
                    language: Some(lang.into()),
                },
                ..Options::default()
            };
            let mut s = connect(&url, options).await.unwrap();
            let h = s.summary().unwrap();
            assert_eq!(h.stream(want_stream).unwrap().kind, StreamKind::Audio);
            s.play_from(Start::Beginning).await.unwrap();
            collect(&mut s).await
        });
        // Re-pad into a file and compare: one audio language, all video.
        let (header, _) = common::packets(&source);
        let size = HeaderSummary::parse(header).unwrap().packet_size as usize;
        let mut file = header.to_vec();
        for p in &got {
            let mut buf = vec![0; size];
            let n = repad(&p.data, size, &mut buf).unwrap();
            file.extend_from_slice(&buf[..n]);
        }
        let chosen = common::assert_same_payloads(&source, &file);
        assert!(
            chosen.contains(want_stream) && chosen.contains(1),
            "{lang}: {chosen:?}"
        );
        assert!(!chosen.contains(5 - want_stream), "{lang}: both languages");
    }
}

#[test]
fn dump_crosses_a_server_side_playlist() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-playlist-root");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = ("ff_av.wmv", "ff_audio.wma");
    for f in [a, b] {
        std::fs::copy(common::testdata_dir().join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("show.m3u"), format!("{a}\n{b}\n")).unwrap();
    let server = common::serve_unpaced(&dir);
    let out = common::fresh_path("client-playlist.asf");
    let second = out.with_file_name("client-playlist.2.asf");
    let _ = std::fs::remove_file(&second);
    let (ok, log) = common::run_with_timeout(
        mms()
            .args(["dump", "-q"])
            .arg(format!("mms://{}/show.m3u", server.addr))
            .arg("-o")
            .arg(&out),
        Duration::from_secs(30),
        "mms",
    );
    assert!(ok, "{log}");
    for (file, src) in [(&out, a), (&second, b)] {
        let got = std::fs::read(file).unwrap();
        common::assert_same_payloads(&std::fs::read(dir.join(src)).unwrap(), &got);
        ffmpeg_decodes_silently(file);
    }
}

#[test]
fn follows_a_redirect() {
    let target = common::serve_unpaced(&common::testdata_dir());
    let mut redirects = BTreeMap::new();
    redirects.insert(
        "old/clip.wmv".to_string(),
        format!("mms://{}/ff_av.wmv", target.addr),
    );
    let front = common::serve_with(
        &common::testdata_dir(),
        mms_server::Options {
            redirects: Arc::new(redirects),
            ..mms_server::Options::new(Config {
                paced: false,
                ..Config::default()
            })
        },
    );
    let url = format!("mms://{}/old/clip.wmv", front.addr);
    rt().block_on(async {
        let mut s = connect(&url, Options::default()).await.unwrap();
        assert_eq!(s.url().port, target.addr.port(), "{}", s.url());
        s.play_from(Start::Beginning).await.unwrap();
        let got = collect(&mut s).await;
        assert_whole(
            &std::fs::read(common::testdata_dir().join("ff_av.wmv")).unwrap(),
            &got,
        );
        // A redirect loop ends at the limit.
        let options = Options {
            max_redirects: 0,
            ..Options::default()
        };
        let e = connect(&url, options).await.unwrap_err();
        assert_eq!(e.exit_code(), 7, "{e}");
    });
}

#[test]
fn packets_come_as_a_stream() {
    use futures_util::StreamExt;
    let server = common::serve_unpaced(&common::testdata_dir());
    let url = format!("mms://{}/ff_msmpeg4.asf", server.addr);
    rt().block_on(async {
        let mut s = connect(&url, Options::default()).await.unwrap();
        s.play_from(Start::Beginning).await.unwrap();
        let n = s.packets().filter_map(|p| async { p.ok() }).count().await;
        assert_eq!(n as u64, s.file().packet_count);
    });
}

/// `--start` and `--duration`: a valid file of that part, FFmpeg-clean;
/// and `-o -` streams the same bytes to stdout.
#[test]
fn dump_a_part_and_to_stdout() {
    use mms_proto::asf::PacketInfo;
    let (dir, _) = long_source();
    let server = common::serve_unpaced(&dir);
    let url = format!("mms://{}/long.wmv", server.addr);
    let out = common::fresh_path("part.asf");
    let (ok, log) = common::run_with_timeout(
        mms()
            .args(["dump", "-q", &url, "--start", "10", "--duration", "3", "-o"])
            .arg(&out),
        Duration::from_secs(30),
        "mms",
    );
    assert!(ok, "{log}");
    let got = std::fs::read(&out).unwrap();
    let (header, packets) = common::packets(&got);
    let h = HeaderSummary::parse(header).unwrap();
    assert_eq!(h.packet_count, packets.len() as u64);
    let times: Vec<u32> = packets
        .iter()
        .map(|p| PacketInfo::parse(p).unwrap().send_time)
        .collect();
    let (first, last) = (times[0], *times.last().unwrap());
    // The server starts at the index entry at or before 10 s (key frames
    // every second) and stops 3 s of content later.
    assert!((8_500..=10_100).contains(&first), "starts at {first} ms");
    assert!(
        last >= first + 2_500 && last <= first + 4_500,
        "{first}..{last} ms"
    );
    ffmpeg_decodes_silently(&out);
    // To stdout: the same packets (the header's counts stay unpatched).
    let piped = mms()
        .args([
            "dump",
            "-q",
            &url,
            "--start",
            "10",
            "--duration",
            "3",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let (_, piped_packets) = common::packets(&piped.stdout);
    assert_eq!(piped_packets, packets);
}

/// IPv6: a server on [::1], the client by an IPv6 literal URL.
#[test]
fn works_over_ipv6_loopback() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let root = mms_server::content::ContentRoot::new(&common::testdata_dir()).unwrap();
    let options = mms_server::Options::new(Config {
        paced: false,
        ..Config::default()
    });
    let server = mms_server::Server::bind("[::1]:0".parse().unwrap(), root, options)
        .expect("IPv6 loopback ([::1]) is needed for this test");
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let t = std::thread::spawn(move || server.run(&flag));
    let url = format!("mms://[::1]:{}/ff_av.wmv", addr.port());
    rt().block_on(async {
        let mut s = connect(&url, Options::default()).await.unwrap();
        s.play_from(Start::Beginning).await.unwrap();
        let got = collect(&mut s).await;
        assert_whole(
            &std::fs::read(common::testdata_dir().join("ff_av.wmv")).unwrap(),
            &got,
        );
        s.close().await.unwrap();
    });
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap().unwrap();
}
