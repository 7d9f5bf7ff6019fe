//! Tests of [`super`] (command.rs).
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::*;
use crate::content::ContentRoot;

/// Collects what a source gives; asks to stop at `stop_at`, or once
/// `stop_after_packets` packets came.
#[derive(Default)]
struct TestSink {
    headers: Vec<Vec<u8>>,
    packets: Vec<Vec<u8>>,
    stop_at: Option<Instant>,
    stop_after_packets: Option<usize>,
    stop_asked: std::cell::Cell<Option<Instant>>,
}

impl Sink for TestSink {
    fn header(&mut self, header: &[u8]) -> Result<(), String> {
        let s = HeaderSummary::parse(header).map_err(|e| format!("not ASF: {e}"))?;
        if s.packet_size == 0 || s.packet_size > 65536 {
            return Err(format!("packet size {}", s.packet_size));
        }
        self.headers.push(header.to_vec());
        Ok(())
    }
    fn packet(&mut self, packet: &[u8]) {
        self.packets.push(packet.to_vec());
    }
    fn should_stop(&self) -> bool {
        let stop = self.stop_at.is_some_and(|t| Instant::now() >= t)
            || self
                .stop_after_packets
                .is_some_and(|n| self.packets.len() >= n);
        if stop && self.stop_asked.get().is_none() {
            self.stop_asked.set(Some(Instant::now()));
        }
        stop
    }
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn need_ffmpeg() {
    if Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        panic!("these tests need ffmpeg: run `cargo xtask deps`");
    }
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mms-live-cmd-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SINE: [&str; 13] = [
    "ffmpeg",
    "-nostdin",
    "-hide_banner",
    "-f",
    "lavfi",
    "-i",
    "sine=f=440:d=2",
    "-c:a",
    "wmav2",
    "-b:a",
    "64k",
    "-f",
    "asf",
];

#[test]
fn ffmpeg_plain_and_chunked_give_the_header_and_the_packets_it_wrote() {
    need_ffmpeg();
    // The reference: the same command into a file, read as content.
    let dir = tmp_dir("ref");
    let file = dir.join("ref.asf");
    let mut reference = argv(&SINE);
    reference.extend(["-y".into(), file.to_str().unwrap().into()]);
    let st = Command::new("ffmpeg")
        .args(&reference[1..])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let content = ContentRoot::new(&dir).unwrap().open("ref.asf").unwrap();
    let media = content.media();
    assert!(media.packet_count > 1);
    let mut want = Vec::new();
    for n in 0..media.packet_count {
        let mut p = Vec::new();
        content.read_packet(n, &mut p).unwrap();
        want.push(p);
    }
    let want_summary = HeaderSummary::parse(content.header()).unwrap();

    for format in ["asf", "asf_stream"] {
        let mut cmd = argv(&SINE);
        *cmd.last_mut().unwrap() = format.into();
        cmd.push("-".into());
        let mut sink = TestSink::default();
        run("test", &cmd, &mut sink).unwrap();
        assert_eq!(sink.headers.len(), 1, "{format}");
        let s = HeaderSummary::parse(&sink.headers[0]).unwrap();
        assert!(s.is_broadcast(), "{format}: a pipe is live");
        assert_eq!(s.packet_size, want_summary.packet_size, "{format}");
        assert_eq!(sink.headers[0].len(), s.file_header_len(), "{format}");
        // Chunks may carry packets without their padding.
        let got: Vec<Vec<u8>> = sink
            .packets
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.resize(s.packet_size as usize, 0);
                p
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{format}: packet count");
        assert!(got == want, "{format}: the packets FFmpeg wrote");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn what_is_not_asf_or_fails_is_an_error() {
    let mut sink = TestSink::default();
    let e = run("test", &argv(&["echo", "hello"]), &mut sink).unwrap_err();
    assert!(e.starts_with("not ASF"), "{e}");
    let e = run(
        "test",
        &argv(&["sh", "-c", "head -c 100000 /dev/zero"]),
        &mut sink,
    )
    .unwrap_err();
    assert!(e.starts_with("not ASF"), "{e}");
    let e = run("test", &argv(&["sh", "-c", "exit 3"]), &mut sink).unwrap_err();
    assert_eq!(e, "exited with status 3");
    let e = run("test", &argv(&["/nonexistent/program"]), &mut sink).unwrap_err();
    assert!(e.starts_with("cannot start"), "{e}");
    assert!(run("test", &[], &mut sink).is_err());
    assert!(sink.headers.is_empty() && sink.packets.is_empty());
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

#[test]
fn a_file_written_out_is_a_source_too() {
    let path = testdata("ff_audio.wma");
    let mut sink = TestSink::default();
    run("test", &argv(&["cat", path.to_str().unwrap()]), &mut sink).unwrap();
    let content = ContentRoot::new(path.parent().unwrap())
        .unwrap()
        .open("ff_audio.wma")
        .unwrap();
    assert_eq!(sink.headers, [content.header().to_vec()]);
    assert_eq!(sink.packets.len() as u64, content.media().packet_count);
}

#[test]
fn a_refused_header_is_the_error() {
    // ff_audio.wma with 70000-byte packets declared (File Properties'
    // Minimum and Maximum Data Packet Size).
    let mut bytes = std::fs::read(testdata("ff_audio.wma")).unwrap();
    let fp = bytes
        .windows(16)
        .position(|w| w == mms_proto::asf::guid::FILE_PROPERTIES)
        .unwrap();
    for at in [fp + 92, fp + 96] {
        bytes[at..at + 4].copy_from_slice(&70000u32.to_le_bytes());
    }
    let dir = tmp_dir("refused");
    let path = dir.join("big.asf");
    std::fs::write(&path, bytes).unwrap();
    let mut sink = TestSink::default();
    let e = run("test", &argv(&["cat", path.to_str().unwrap()]), &mut sink).unwrap_err();
    assert_eq!(e, "packet size 70000");
    let _ = std::fs::remove_dir_all(dir);
}

/// A log writer into a shared buffer.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn stderr_lines_reach_the_log_and_long_ones_are_cut() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let script = "echo first line >&2; printf 'progress\\r' >&2; \
                  head -c 100000 /dev/zero | tr '\\0' x >&2; echo >&2; \
                  printf 'no newline' >&2";
    let mut sink = TestSink::default();
    let r = tracing::subscriber::with_default(subscriber, || {
        run("logtest", &argv(&["sh", "-c", script]), &mut sink)
    });
    assert!(r.is_err(), "nothing on stdout: not ASF");
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    let line = |needle: &str| {
        // The stderr lines, not the one naming the command.
        text.lines()
            .find(|l| l.contains(needle) && !l.contains("command="))
            .unwrap_or_else(|| panic!("no {needle:?} in the log:\n{text}"))
            .to_string()
    };
    assert!(line("first line").contains("INFO"));
    assert!(line("first line").contains("logtest"));
    assert!(line("progress").contains("DEBUG"), "{text}");
    let long = line("xxxxxxxx");
    assert!(long.contains("cut at 4 KiB"));
    assert!(long.len() < MAX_LINE + 200, "{} bytes", long.len());
    line("no newline");
}

/// Whether `pid` is still a live process 1 s from now (absent or a
/// zombie is not): a process sent SIGKILL by `run` (not its child, so
/// not waited for) takes a moment to die.
fn alive(pid: u32) -> bool {
    let live = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    while live() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    live()
}

/// Runs `script` (which writes pids to the file `$1`) until the sink
/// says stop 300 ms in; gives how long `run` took after the stop was
/// asked, and the pids.
fn stop_script(name: &str, script: &str) -> (Duration, Vec<u32>) {
    let dir = tmp_dir(name);
    let pids = dir.join("pids");
    let _ = std::fs::remove_file(&pids);
    let mut sink = TestSink {
        stop_at: Some(Instant::now() + Duration::from_millis(300)),
        ..TestSink::default()
    };
    let cmd = argv(&["sh", "-c", script, "sh", pids.to_str().unwrap()]);
    run("test", &cmd, &mut sink).unwrap();
    let took = sink.stop_asked.get().unwrap().elapsed();
    let pids = std::fs::read_to_string(&pids)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let _ = std::fs::remove_dir_all(dir);
    (took, pids)
}

#[test]
fn should_stop_ends_a_silent_program_at_once_and_leaves_nothing() {
    let (took, pids) = stop_script("sleep", "echo $$ > \"$1\"; exec sleep 30");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(!alive(pids[0]), "the child is gone");
}

#[test]
fn a_program_ignoring_sigterm_is_killed_and_so_is_what_it_started() {
    // The shell and its background child both ignore SIGTERM.
    let (took, pids) = stop_script("term", "trap '' TERM; sleep 30 & echo $$ $! > \"$1\"; wait");
    assert!(took >= TERM_GRACE, "{took:?}");
    assert!(took < TERM_GRACE + Duration::from_secs(1), "{took:?}");
    assert!(pids.iter().all(|&p| !alive(p)), "{pids:?} are gone");
    // A grandchild that outlives its parent's SIGTERM is no orphan.
    let (took, pids) = stop_script(
        "orphan",
        "(trap '' TERM; exec sleep 30) & echo $! > \"$1\"; wait",
    );
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(!alive(pids[0]), "the grandchild is gone");
}

#[test]
fn should_stop_ends_a_running_ffmpeg() {
    need_ffmpeg();
    let mut cmd = argv(&SINE);
    cmd[6] = "sine=f=440".into(); // endless
    cmd.insert(1, "-re".into());
    cmd.push("-".into());
    let mut sink = TestSink {
        stop_after_packets: Some(1),
        ..TestSink::default()
    };
    run("test", &cmd, &mut sink).unwrap();
    assert_eq!(sink.headers.len(), 1);
    let took = sink.stop_asked.get().unwrap().elapsed();
    assert!(took < Duration::from_millis(500), "{took:?}");
}
