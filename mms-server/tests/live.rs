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
    let ff = format!(
        "exec ffmpeg -hide_banner -nostdin -loglevel error -re \
         -f lavfi -i sine=frequency=440:sample_rate=22050:duration={secs} \
         -f lavfi -i testsrc=size=160x120:rate=10:duration={secs} \
         -c:a wmav2 -b:a 64k -c:v wmv2 -b:v 128k -g 10 -f asf -"
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
    let mut options = Options::new(mms_proto::server::Config {
        linger: Some(mms_proto::time::Duration::from_secs(1)),
        ..Default::default()
    });
    options.loops = 2;
    options.live = points;
    common::serve_with(&common::testdata_dir(), options)
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
}

/// Plays `url` with mms-client for up to `secs` (or its end).
fn listen(url: &str, secs: f64) -> Heard {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let options = ClientOptions {
            streams: StreamChoice::All,
            transport: Transport::Tcp,
            follow_playlist: true,
            ..ClientOptions::default()
        };
        let mut s = mms_client::connect(url, options)
            .await
            .unwrap_or_else(|e| panic!("mms-client cannot open {url}: {e}"));
        let mut heard = Heard {
            header: s.header().to_vec(),
            headers: 1,
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
        heard
    })
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
    let ours = std::thread::spawn({
        let url = url.clone();
        move || listen(&url, secs as f64)
    });
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
