//! Live publishing points end to end: a point fed by FFmpeg (lavfi sine
//! and testsrc → wmav2/wmv2 ASF on its stdout) played by FFmpeg, VLC,
//! MPlayer, libmms and mms-client at once; late joiners; a stalled
//! listener; the source killed; relays; the archive. Every dump is
//! compared payload for payload with the archive of the run (what the
//! source made), and decoded by FFmpeg.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mms_client::{Options as ClientOptions, Start, StreamChoice, Transport};
use mms_proto::asf::{HeaderSummary, PacketInfo, StreamKind};
use mms_server::Options;
use mms_server::live::LiveSettings;

/// FFmpeg as a live encoder: `secs` of sine and a test picture, a key
/// frame every second, ASF on stdout, paced at real time.
fn encoder(secs: u32, pidfile: Option<&Path>) -> Vec<String> {
    encoder_of(
        &format!("testsrc=size=160x120:rate=10:duration={secs}"),
        128,
        secs,
        pidfile,
    )
}

/// The same with noise for a picture (incompressible: ~2 Mbit/s), for a
/// listener's buffers to fill fast.
fn noisy_encoder(secs: u32) -> Vec<String> {
    let noise = format!("nullsrc=s=160x120:r=10:d={secs},geq=lum='random(1)*255':cb=128:cr=128");
    encoder_of(&noise, 2000, secs, None)
}

fn encoder_of(video: &str, kbps: u32, secs: u32, pidfile: Option<&Path>) -> Vec<String> {
    let ff = format!(
        "exec ffmpeg -hide_banner -nostdin -loglevel error -re \
         -f lavfi -i sine=frequency=440:sample_rate=22050:duration={secs} \
         -f lavfi -i \"{video}\" \
         -c:a wmav2 -b:a 64k -c:v wmv2 -b:v {kbps}k -g 10 -f asf -"
    );
    let script = match pidfile {
        Some(p) => format!("echo $$ > {}; {ff}", p.display()),
        None => ff,
    };
    vec!["sh".into(), "-c".into(), script]
}

fn point(name: &str, source: &str, value: toml::Value) -> LiveSettings {
    let mut t = toml::map::Map::new();
    t.insert("name".into(), name.into());
    t.insert(source.into(), value);
    t.insert("restart_max_secs".into(), 1.0.into());
    toml::Value::Table(t).try_into().expect("a [[live]] entry")
}

fn with_archive(mut p: LiveSettings, dir: &Path) -> LiveSettings {
    p.archive = Some(dir.to_path_buf());
    p
}

fn serve_points(points: Vec<LiveSettings>) -> common::Running {
    serve_points_from(&common::testdata_dir(), points)
}

fn serve_points_from(root: &Path, points: Vec<LiveSettings>) -> common::Running {
    let mut options = Options::new(mms_proto::server::Config {
        linger: Some(mms_proto::time::Duration::from_secs(1)),
        ..Default::default()
    });
    options.loops = 2;
    options.live = points;
    common::serve_with(root, options)
}

/// What one mms-client listener received.
#[derive(Debug, Default)]
struct Heard {
    header: Vec<u8>,
    /// (LocationId, entry, data as received, arrival).
    packets: Vec<(u32, u32, Vec<u8>, Instant)>,
    /// The stream ended (ReportEndOfStream), not the listening time.
    ended: bool,
    /// Headers seen (a stream change adds one).
    headers: usize,
    /// The data came over UDP.
    udp: bool,
    /// The streams of each header seen, in order.
    stream_counts: Vec<usize>,
}

fn stream_count(header: &[u8]) -> usize {
    HeaderSummary::parse(header).map_or(0, |s| s.streams.len())
}

/// Plays `url` with mms-client over TCP for up to `secs` (or its end).
fn listen(url: &str, secs: f64) -> Heard {
    listen_over(url, secs, Transport::Tcp)
}

/// Plays `url` with mms-client for up to `secs` (or its end).
fn listen_over(url: &str, secs: f64, transport: Transport) -> Heard {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let options = ClientOptions {
            streams: StreamChoice::All,
            transport,
            follow_playlist: true,
            ..ClientOptions::default()
        };
        let mut s = mms_client::connect(url, options)
            .await
            .unwrap_or_else(|e| panic!("mms-client cannot open {url}: {e}"));
        let mut heard = Heard {
            header: s.header().to_vec(),
            headers: 1,
            stream_counts: vec![stream_count(s.header())],
            ..Heard::default()
        };
        s.play_from(Start::Beginning).await.expect("play");
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut entry = s.entry();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, s.next_packet()).await {
                Err(_) => break,
                Ok(Ok(Some(p))) => {
                    if p.entry != entry {
                        entry = p.entry;
                        heard.headers += 1;
                        heard.header = s.header().to_vec();
                        heard.stream_counts.push(stream_count(s.header()));
                    }
                    heard
                        .packets
                        .push((p.location_id, p.entry, p.data.to_vec(), Instant::now()));
                }
                Ok(Ok(None)) => {
                    heard.ended = true;
                    break;
                }
                Ok(Err(e)) => panic!("mms-client on {url}: {e}"),
            }
        }
        heard.udp = s.udp() && !s.fell_back_to_tcp();
        heard
    })
}

/// [`listen`] on a thread of its own.
fn listen_meanwhile(url: &str, secs: f64) -> std::thread::JoinHandle<Heard> {
    let url = url.to_string();
    std::thread::spawn(move || listen(&url, secs))
}

impl Heard {
    /// The dump an ASF writer would make: the header, then each packet
    /// zero-filled to the packet size (what every client does).
    fn dump(&self) -> Vec<u8> {
        let p = HeaderSummary::parse(&self.header).unwrap().packet_size as usize;
        let mut out = self.header.clone();
        for (_, _, d, _) in &self.packets {
            out.extend_from_slice(d);
            out.resize(out.len() + p - d.len(), 0);
        }
        out
    }
}

/// A client run for `secs` and then stopped (SIGTERM): what it wrote.
fn run_for(mut cmd: Command, secs: u64, out: &Path, tool: &str) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} cannot run ({e}): run `cargo xtask deps`"));
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    std::fs::read(out).unwrap_or_else(|e| panic!("{tool} wrote nothing ({e})"))
}

/// `dump` cut to its header and whole packets (a stopped client may have
/// written half of its last one).
fn whole_packets(dump: &[u8]) -> Vec<u8> {
    let (header, packets) = common::packets(dump);
    let mut out = header.to_vec();
    let p = HeaderSummary::parse(header).map_or(0, |s| s.packet_size as usize);
    for pk in packets.iter().filter(|pk| pk.len() == p) {
        out.extend_from_slice(pk);
    }
    out
}

/// FFmpeg decodes `dump` with no error.
fn assert_decodes(dump: &[u8], who: &str) {
    let path = common::fresh_path(&format!("live-decode-{who}.asf"));
    std::fs::write(&path, dump).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg: run `cargo xtask deps`");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "FFmpeg does not decode {who}'s dump cleanly:\n{err}"
    );
}

/// The payloads of `got` are a run of `want`'s (of the streams `got`
/// has), from where `got` starts: the listener received exactly what the
/// source made, from its join on. Returns how many matched.
fn assert_run_of(want: &[u8], got: &[u8], who: &str) -> usize {
    let got = common::payloads(got);
    assert!(got.len() > 20, "{who} received only {} payloads", got.len());
    let streams: Vec<u8> = {
        let mut s: Vec<u8> = got.iter().map(|p| p.0).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let want: Vec<_> = common::payloads(want)
        .into_iter()
        .filter(|p| streams.contains(&p.0))
        .collect();
    let start = want
        .iter()
        .position(|p| *p == got[0])
        .unwrap_or_else(|| panic!("{who}'s first payload is not one the source made"));
    let n = got.len().min(want.len() - start);
    for i in 0..n {
        assert_eq!(
            got[i],
            want[start + i],
            "{who}: payload {i} after its join differs"
        );
    }
    assert!(
        n + 2 >= got.len(),
        "{who} received payloads past the archive's end"
    );
    n
}

/// The first video payload of `dump` starts a key frame, and no payload
/// of any stream continues an object begun before the join.
fn assert_clean_start(dump: &[u8], who: &str) {
    let (header, packets) = common::packets(dump);
    let s = HeaderSummary::parse(header).unwrap();
    let video: Vec<u8> = s
        .streams
        .iter()
        .filter(|st| st.kind == StreamKind::Video)
        .map(|st| st.number)
        .collect();
    let mut seen = mms_proto::asf::StreamSet::EMPTY;
    for p in &packets {
        let info = PacketInfo::parse(p).unwrap();
        for pl in info.payloads(p).flatten() {
            if !seen.contains(pl.stream) {
                assert_eq!(
                    pl.offset, 0,
                    "{who}: stream {} starts mid-object",
                    pl.stream
                );
                if video.contains(&pl.stream) {
                    assert!(
                        pl.key_frame,
                        "{who}: video starts at a frame that is not a key frame"
                    );
                }
                seen.insert(pl.stream);
            }
        }
    }
    assert!(!seen.is_empty(), "{who}: no payload");
}

/// The newest `.asf` file of `dir` (the archive of a run), once written.
fn archive_of(dir: &Path) -> Vec<u8> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|e| e == "asf"));
        files.sort();
        if let Some(f) = files.last() {
            let bytes = std::fs::read(f).unwrap();
            // Finished: the header says how many packets (not 0, as live).
            if HeaderSummary::parse(&bytes).is_ok_and(|s| s.packet_count > 0) {
                return bytes;
            }
        }
        assert!(
            Instant::now() < until,
            "no finished archive in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits until `url` plays (the encoder started and sent its header).
fn wait_on_air(url: &str) {
    let heard = listen(url, 1.0);
    assert!(
        !heard.packets.is_empty(),
        "{url}: no packets in its first second"
    );
}

#[test]
fn five_clients_play_a_point_fed_by_ffmpeg() {
    let archive = scratch("live-five-archive");
    let server = serve_points(vec![with_archive(
        point("live/av", "command", encoder(60, None).into()),
        &archive,
    )]);
    let addr = server.addr;
    let url = format!("mms://{addr}/live/av");
    wait_on_air(&url);
    let dir = scratch("live-five");
    let secs = 8;
    let clients: Vec<(&str, Command, PathBuf)> = vec![
        (
            "ffmpeg",
            {
                let exe = common::c_peer("ffmpeg_mmst_dump", &["-lavformat", "-lavutil"]);
                let mut c = Command::new(exe);
                c.arg(format!("mmst://{addr}/live/av"))
                    .arg(dir.join("ffmpeg.asf"));
                c
            },
            dir.join("ffmpeg.asf"),
        ),
        (
            "vlc",
            {
                let home = common::vlc_dir("live-five-vlc");
                let out = home.join("vlc.asf");
                let _ = std::fs::remove_file(&out);
                let mut c = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
                c.arg(&out);
                c
            },
            common::vlc_dir("live-five-vlc").join("vlc.asf"),
        ),
        (
            "mplayer",
            {
                let mut c = Command::new("mplayer");
                c.args([
                    "-really-quiet",
                    "-noconsolecontrols",
                    "-dumpstream",
                    "-dumpfile",
                ])
                .arg(dir.join("mplayer.asf"))
                .arg(format!("mmst://{addr}/live/av"));
                c
            },
            dir.join("mplayer.asf"),
        ),
        (
            "libmms",
            {
                let exe = common::c_peer("libmms_dump", &["-lmms"]);
                let mut c = Command::new(exe);
                c.arg(format!("mms://{addr}/live/av"))
                    .arg(dir.join("libmms.asf"));
                c
            },
            dir.join("libmms.asf"),
        ),
    ];
    let ours = listen_meanwhile(&url, secs as f64);
    let peers: Vec<_> = clients
        .into_iter()
        .map(|(who, cmd, out)| {
            std::thread::spawn(move || (who, whole_packets(&run_for(cmd, secs, &out, who))))
        })
        .collect();
    let mut dumps: Vec<(&str, Vec<u8>)> = peers.into_iter().map(|t| t.join().unwrap()).collect();
    let heard = ours.join().unwrap();
    dumps.push(("mms-client", heard.dump()));
    drop(server);
    let source = archive_of(&archive);
    assert_decodes(&source, "the archive");
    for (who, dump) in &dumps {
        let n = assert_run_of(&source, dump, who);
        assert!(n > 50, "{who}: only {n} payloads in {secs} s");
        assert_clean_start(dump, who);
        assert_decodes(dump, who);
        let live = HeaderSummary::parse(common::packets(dump).0).unwrap();
        assert!(
            live.is_broadcast(),
            "{who}: the header is not a broadcast's"
        );
    }
}

#[test]
fn late_joiners_receive_the_same_packets_from_their_join_and_start_clean() {
    let server = serve_points(vec![point("late", "command", encoder(60, None).into())]);
    let url = format!("mms://{}/late", server.addr);
    wait_on_air(&url);
    let early = listen_meanwhile(&url, 9.0);
    std::thread::sleep(Duration::from_millis(3500));
    let late = listen(&url, 4.0);
    let early = early.join().unwrap();
    let first = late.packets[0].0;
    let at = early
        .packets
        .iter()
        .position(|p| p.0 == first)
        .expect("the late joiner's first packet was sent to the early listener too");
    assert!(at > 10, "the late joiner started where the early one did");
    let shared = late.packets.len().min(early.packets.len() - at);
    assert!(shared > 20, "only {shared} packets in common");
    for (k, (l, e)) in late.packets.iter().zip(&early.packets[at..]).enumerate() {
        assert_eq!(
            (l.0, &l.2),
            (e.0, &e.2),
            "packet {k} after the late join differs"
        );
    }
    assert_eq!(late.header, early.header);
    assert_clean_start(&late.dump(), "the late joiner");
    assert_decodes(&late.dump(), "the late joiner");
}

#[test]
fn killing_the_source_ends_every_listener() {
    let pidfile = common::fresh_path("live-kill.pid");
    let server = serve_points(vec![point(
        "kill",
        "command",
        encoder(120, Some(&pidfile)).into(),
    )]);
    let url = format!("mms://{}/kill", server.addr);
    wait_on_air(&url);
    let listeners: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || listen(&url, 30.0))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    for l in listeners {
        let heard = l.join().unwrap();
        assert!(heard.ended, "a listener was not told the point ended");
        assert!(!heard.packets.is_empty());
        let last = heard.packets.last().unwrap().3;
        assert!(
            last.saturating_duration_since(killed) < Duration::from_secs(3),
            "packets kept coming after the source was killed"
        );
    }
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "the end took too long"
    );
}

/// The sessions a server holds now.
fn sessions(server: &common::Running) -> usize {
    server
        .stats
        .iter()
        .map(|s| s.sessions.load(std::sync::atomic::Ordering::Relaxed))
        .sum()
}

#[test]
fn a_relay_chain_feeds_vlc_and_mms_client_with_one_upstream_session() {
    let archive = scratch("live-relay-archive");
    let a = serve_points(vec![with_archive(
        point("origin", "command", encoder(60, None).into()),
        &archive,
    )]);
    wait_on_air(&format!("mms://{}/origin", a.addr));
    let b = serve_points(vec![point(
        "edge",
        "url",
        format!("mms://{}/origin", a.addr).into(),
    )]);
    let c = serve_points(vec![point(
        "edge2",
        "url",
        format!("mmst://{}/edge", b.addr).into(),
    )]);
    let on_b = format!("mms://{}/edge", b.addr);
    let on_c = format!("mms://{}/edge2", c.addr);
    wait_on_air(&on_c);
    let secs = 7;
    let vlc = std::thread::spawn({
        let url = on_b.clone();
        move || {
            let home = common::vlc_dir("live-relay-vlc");
            let out = home.join("vlc.asf");
            let _ = std::fs::remove_file(&out);
            let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
            cmd.arg(&out);
            whole_packets(&run_for(cmd, secs, &out, "vlc"))
        }
    });
    let ours: Vec<_> = [&on_b, &on_b, &on_b, &on_c, &on_c]
        .into_iter()
        .map(|u| {
            let u = u.clone();
            std::thread::spawn(move || listen(&u, secs as f64))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    // A holds B's relay only; B holds its listeners and C's relay.
    assert_eq!(sessions(&a), 1, "the origin holds one session per edge");
    assert_eq!(
        sessions(&b),
        5,
        "the edge: VLC, three mms-client, the next relay"
    );
    let heard: Vec<Heard> = ours.into_iter().map(|t| t.join().unwrap()).collect();
    let vlc = vlc.join().unwrap();
    drop((c, b, a));
    let source = archive_of(&archive);
    assert_run_of(&source, &vlc, "VLC through the relay");
    assert_decodes(&vlc, "VLC through the relay");
    for (i, h) in heard.iter().enumerate() {
        let who = format!("mms-client {i} through the relay");
        assert!(assert_run_of(&source, &h.dump(), &who) > 50);
        assert_clean_start(&h.dump(), &who);
    }
}

#[test]
fn an_on_demand_point_starts_with_its_first_listener_and_stops_after_the_last() {
    let pidfile = common::fresh_path("live-demand.pid");
    let mut p = point("demand", "command", encoder(120, Some(&pidfile)).into());
    p.start = mms_server::live::Start::OnDemand;
    p.idle_stop_secs = 1.0;
    let server = serve_points(vec![p]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!pidfile.exists(), "the source started without a listener");
    let url = format!("mms://{}/demand", server.addr);
    let heard = listen(&url, 4.0);
    assert!(
        heard.packets.len() > 10,
        "the first listener got no broadcast"
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    let until = Instant::now() + Duration::from_secs(8);
    while proc.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!proc.exists(), "the source still runs with no listener");
    // And again with the next one.
    let _ = std::fs::remove_file(&pidfile);
    let again = listen(&url, 3.0);
    assert!(again.packets.len() > 10, "the point did not start again");
    drop(server);
}

#[test]
fn a_stalled_listener_does_not_slow_the_others_and_skips_ahead() {
    let mut p = point("stall", "command", noisy_encoder(60).into());
    p.buffer_secs = 2.0;
    let mut options = Options::new(mms_proto::server::Config::default());
    options.max_queued = 128 * 1024;
    options.live = vec![p];
    let server = common::serve_with(&common::testdata_dir(), options);
    let url = format!("mms://{}/stall", server.addr);
    wait_on_air(&url);
    let mut stalled = common::client::ScriptedClient::connect(server.addr).unwrap();
    stalled.keep_log = false;
    stalled.open("stall").unwrap();
    let header = stalled.read_header(1).unwrap();
    stalled.select(&[1, 2], &[]).unwrap();
    stalled.play_from(!0, 9).unwrap();
    // It reads nothing while another listens.
    let heard = listen(&url, 8.0);
    let span = heard.packets.last().unwrap().3 - heard.packets[0].3;
    assert!(
        span > Duration::from_secs(6),
        "the listener was not fed throughout"
    );
    for w in heard.packets.windows(2) {
        assert!(
            w[1].3 - w[0].3 < Duration::from_millis(1500),
            "a gap while the other stalled"
        );
        assert_eq!(w[1].0, w[0].0 + 1, "the listener skipped packets");
    }
    // Longer than the socket buffers hold (loopback lets the kernel keep
    // megabytes of a session that does not read).
    std::thread::sleep(Duration::from_secs(10));
    // The stalled one reads again: what its buffers held, then a jump to
    // a clean start near the live edge.
    let video = HeaderSummary::parse(&header)
        .unwrap()
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::Video)
        .map(|s| s.number)
        .unwrap();
    let mut ids: Vec<(u32, Vec<u8>)> = Vec::new();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        match stalled.recv().unwrap() {
            Some(common::client::Incoming::Data {
                location_id,
                payload,
                ..
            }) => ids.push((location_id, payload)),
            Some(_) => {}
            None => break,
        }
    }
    let jump = ids
        .windows(2)
        .position(|w| w[1].0 > w[0].0 + 1)
        .unwrap_or_else(|| {
            panic!(
                "the stalled listener did not skip ahead: {} packets, {:?}..{:?}, the other heard {:?}..{:?}",
                ids.len(),
                ids.first().map(|p| p.0),
                ids.last().map(|p| p.0),
                heard.packets.first().map(|p| p.0),
                heard.packets.last().map(|p| p.0)
            )
        });
    let after = &ids[jump + 1].1;
    let info = PacketInfo::parse(after).unwrap();
    let first_video = info.payloads(after).flatten().find(|p| p.stream == video);
    if let Some(v) = first_video {
        assert!(
            v.key_frame && v.offset == 0,
            "the skip did not land on a key frame"
        );
    }
    assert!(
        ids[jump + 1..].windows(2).all(|w| w[1].0 > w[0].0),
        "LocationIds went backwards after the skip"
    );
    drop(stalled);
}

#[test]
fn a_live_point_plays_over_udp() {
    let archive = scratch("live-udp-archive");
    let mut options = Options::new(mms_proto::server::Config {
        udp: true,
        ..Default::default()
    });
    options.live = vec![with_archive(
        point("udp", "command", encoder(60, None).into()),
        &archive,
    )];
    let server = common::serve_with(&common::testdata_dir(), options);
    let url = format!("mms://{}/udp", server.addr);
    wait_on_air(&url);
    let heard = listen_over(&format!("mmsu://{}/udp", server.addr), 6.0, Transport::Udp);
    drop(server);
    assert!(heard.udp, "the data did not come over UDP");
    let source = archive_of(&archive);
    let dump = heard.dump();
    assert!(assert_run_of(&source, &dump, "mms-client over UDP") > 50);
    assert_clean_start(&dump, "mms-client over UDP");
    assert_decodes(&dump, "mms-client over UDP");
}

#[test]
fn a_looped_playlist_is_a_channel_whose_header_changes_reach_listeners() {
    let root = scratch("live-channel");
    for f in ["ff_audio.wma", "ff_av.wmv"] {
        std::fs::copy(common::testdata_dir().join(f), root.join(f)).unwrap();
    }
    std::fs::write(root.join("channel.m3u"), "ff_audio.wma\nff_av.wmv\n").unwrap();
    let mut p = point("channel", "file", "channel.m3u".into());
    p.looped = true;
    let server = serve_points_from(&root, vec![p]);
    let url = format!("mms://{}/channel", server.addr);
    // Two entries of about 3 s and 20 s: within 12 s a listener joining
    // in the first sees the change to the second.
    let heard = listen(&url, 12.0);
    assert!(heard.headers >= 2, "no header change reached the listener");
    assert!(HeaderSummary::parse(&heard.header).unwrap().is_broadcast());
    let counts = &heard.stream_counts;
    assert!(
        counts.windows(2).all(|w| w[0] != w[1]) && counts.contains(&1) && counts.contains(&2),
        "the listener did not follow the channel's entries: streams per header {counts:?}"
    );
    assert!(
        heard
            .packets
            .windows(2)
            .all(|w| w[1].1 != w[0].1 || w[1].0 > w[0].0),
        "LocationIds went backwards within an entry"
    );
    let libmms = {
        let exe = common::c_peer("libmms_dump", &["-lmms"]);
        let out = root.join("libmms.asf");
        let mut c = Command::new(exe);
        c.arg(&url).arg(&out);
        whole_packets(&run_for(c, 6, &out, "libmms"))
    };
    assert!(
        common::packets(&libmms).1.len() > 10,
        "libmms got no channel: {} bytes, {} packets",
        libmms.len(),
        common::packets(&libmms).1.len()
    );
    drop(server);
}

#[test]
fn a_relay_reconnects_when_its_origin_comes_back() {
    let pidfile = common::fresh_path("live-reconnect.pid");
    let a = serve_points(vec![point(
        "origin",
        "command",
        encoder(120, Some(&pidfile)).into(),
    )]);
    wait_on_air(&format!("mms://{}/origin", a.addr));
    let b = serve_points(vec![point(
        "edge",
        "url",
        format!("mms://{}/origin", a.addr).into(),
    )]);
    let on_b = format!("mms://{}/edge", b.addr);
    wait_on_air(&on_b);
    let listener = listen_meanwhile(&on_b, 30.0);
    std::thread::sleep(Duration::from_secs(2));
    // The origin's encoder dies: the origin's run ends, then the edge's.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    let heard = listener.join().unwrap();
    assert!(
        heard.ended,
        "the edge's listener was not told the run ended"
    );
    // Both restart (1 s backoffs): the edge is on the air again.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let again = listen(&on_b, 2.0);
        if again.packets.len() > 5 {
            assert!(!again.ended);
            break;
        }
        assert!(Instant::now() < until, "the relay did not come back");
    }
    assert_eq!(sessions(&a), 1, "the origin holds one session for the edge");
}
