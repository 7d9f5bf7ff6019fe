//! `cargo xtask load`: the release `mms-server` binary under real sessions
//! on loopback, driven by the release load generator `mms-load` (one
//! thread, one mio loop, each session a sans-IO `ClientMachine`), next to
//! loopback TCP baselines measured in the same run; one table into the
//! load section of docs/benchmarks.md.
//!
//! * Paced: N sessions of a 128 kbit/s WMA (made once with FFmpeg into
//!   target/), all playing for S s together; per-packet lateness against
//!   the ASF Send Times, the server's CPU per packet (vs a bare 3,208-byte
//!   loopback write), its RSS per session, the generator's CPU share. N
//!   runs up to "max": what both processes' open-files limits allow.
//! * Handshakes: Connect … the header, close, K in flight, for S s.
//! * Unpaced: sessions playing the demo WMV as fast as they read, vs raw
//!   loopback TCP with as many connections, measured right after.
//! * Churn: the server's RSS before and after many TCP connect / Connect
//!   / close cycles.
//! * Live ([`live`], its own section): N listeners of one `[[live]]`
//!   point fed by the paced file, vs the same run's bare write
//!   (`--only live` runs just that).

mod live;

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::LOAD;
use crate::{Result, cargo, output, root, sh};

/// The unpaced sessions' file (the server's bundled demo folder).
const DEMO: &str = "demo.wmv";
/// The paced sessions' file, made in target/ by FFmpeg.
const PACED: &str = "load-128k-300s.wma";
/// The size of the bare loopback write the server's cost is read against
/// (a 3,200-byte ASF packet and its 8-byte Data header).
const WRITE_LEN: usize = 3208;
/// File descriptors left to each process beyond one per session.
const FD_MARGIN: usize = 200;

/// `cargo xtask load`'s flags.
#[derive(clap::Args, Debug)]
pub(crate) struct Options {
    /// Paced session counts, comma-separated; `max`: as many as the
    /// open-files limits allow.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,max")]
    sessions: Vec<String>,
    /// Seconds of each measurement (paced plays, handshakes, unpaced, raw).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Handshakes in flight.
    #[arg(long, default_value_t = 16)]
    handshakes_in_flight: usize,
    /// Concurrent unpaced sessions (and raw TCP connections).
    #[arg(long, default_value_t = 16)]
    unpaced_sessions: usize,
    /// Connect/disconnect cycles of the churn measurement (0: skip it).
    #[arg(long, default_value_t = 200_000)]
    cycles: u64,
    /// Listener counts of the live measurement, comma-separated (empty:
    /// skip it).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    live: Vec<usize>,
    /// Seconds the live listeners all play together.
    #[arg(long, default_value_t = 20.0)]
    live_seconds: f64,
    /// What feeds the live point: the paced file as a looped `file`
    /// source, or FFmpeg copying it (`-re -stream_loop -1`) as a `command`.
    #[arg(long, value_enum, default_value_t = live::Feed::File)]
    live_source: live::Feed,
    /// Run only this part (and the baselines it is read against).
    #[arg(long, value_enum, default_value_t = Only::All)]
    only: Only,
}

/// `--only`: the parts of `cargo xtask load`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Only {
    /// Everything: both sections of docs/benchmarks.md.
    All,
    /// The live listeners (the "Live" section only).
    Live,
}

struct ServerProcess(Child);

impl ServerProcess {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// The release server, two event loops, no linger, `max_sessions` (and
/// `extra` settings) from a config file in target/.
fn start_server(
    root_dir: Option<&Path>,
    paced: bool,
    max_sessions: usize,
    extra: &str,
) -> Result<(ServerProcess, SocketAddr)> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let config = root().join("target/load-server.toml");
    std::fs::write(&config, format!("max_sessions = {max_sessions}\n{extra}"))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let exe = root().join("target/release/mms-server");
    let mut cmd = Command::new(&exe);
    cmd.args(["--listen", &addr.to_string(), "--linger", "0"])
        .args(["--threads", "2"])
        .arg("--config")
        .arg(&config);
    if let Some(dir) = root_dir {
        cmd.arg("--root").arg(dir);
    }
    if !paced {
        cmd.arg("--unpaced");
    }
    let child = cmd
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let server = ServerProcess(child);
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err("mms-server did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the probe connection's session go before anything is measured.
    std::thread::sleep(Duration::from_millis(200));
    Ok((server, addr))
}

/// One line of `key=value` pairs from the generator.
struct Line(String);

impl Line {
    fn get(&self, key: &str) -> Result<f64> {
        self.0
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| format!("mms-load printed no {key}: {}", self.0))?
            .parse::<f64>()
            .map_err(|e| format!("{key}: {e}"))
    }
}

/// Runs the release generator (its stderr shown); its line.
fn generator(args: &[String]) -> Result<Line> {
    let exe = root().join("target/release/mms-load");
    let line = output(Command::new(&exe).args(args).stderr(Stdio::inherit()))?;
    Ok(Line(line.trim().to_string()))
}

/// The soft "Max open files" of a /proc/…/limits file.
fn open_files_limit(limits: &str) -> Result<usize> {
    let text = std::fs::read_to_string(limits).map_err(|e| format!("{limits}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{limits}: no Max open files"))
}

/// The 128 kbit/s test file, made once: 300 s, longer than the ramp of the
/// largest run (about a minute for 19,800 sessions) plus the measurement.
fn paced_file() -> Result<PathBuf> {
    let path = root().join("target").join(PACED);
    if !path.exists() {
        sh(Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-f", "lavfi"])
            .args(["-i", "sine=frequency=440:duration=300"])
            .args(["-c:a", "wmav2", "-b:a", "128k", "-f", "asf"])
            .arg(&path))
        .map_err(|e| format!("{e} (is FFmpeg installed? `cargo xtask deps`)"))?;
    }
    Ok(path)
}

/// A paced run's numbers.
struct Paced {
    label: String,
    sessions: usize,
    failed: f64,
    ended_early: f64,
    packets: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    on_time: f64,
    ramp: f64,
    cpu_per_packet_us: f64,
    rss_per_session_kib: f64,
    rss_idle_kib: f64,
    rss_full_kib: f64,
    generator_share: f64,
}

fn paced_run(label: &str, sessions: usize, seconds: f64) -> Result<Paced> {
    let file = paced_file()?;
    let dir = file.parent().ok_or("target/ has no parent")?;
    let (server, addr) = start_server(Some(dir), true, sessions + 100, "")?;
    eprintln!("load: {sessions} paced sessions × {seconds} s…");
    let l = generator(&[
        "paced".into(),
        addr.to_string(),
        PACED.into(),
        sessions.to_string(),
        seconds.to_string(),
        "256".into(),
        server.pid().to_string(),
    ])?;
    drop(server);
    let tick_us = 1e6 / l.get("clk_tck")?;
    let window = l.get("window_secs")?;
    let (idle, full) = (l.get("rss_idle_kib")?, l.get("rss_full_kib")?);
    Ok(Paced {
        label: label.to_string(),
        sessions,
        failed: l.get("failed")?,
        ended_early: l.get("ended_early")?,
        packets: l.get("packets")?,
        p50: l.get("p50_us")? / 1e3,
        p99: l.get("p99_us")? / 1e3,
        p999: l.get("p999_us")? / 1e3,
        max: l.get("max_us")? / 1e3,
        on_time: l.get("on_time_ppm")? / 1e4,
        ramp: l.get("ramp_secs")?,
        cpu_per_packet_us: l.get("server_ticks")? * tick_us / l.get("window_packets")?.max(1.0),
        rss_per_session_kib: (full - idle) / sessions as f64,
        rss_idle_kib: idle,
        rss_full_kib: full,
        generator_share: l.get("gen_ticks")? * tick_us / 1e6 / window.max(1e-9),
    })
}

/// The CPU time of one bare {WRITE_LEN}-byte loopback write, µs.
fn write_cost() -> Result<f64> {
    eprintln!("load: bare {WRITE_LEN}-byte loopback writes…");
    let w = generator(&["write-cost".into(), WRITE_LEN.to_string(), "2".into()])?;
    Ok(w.get("ticks")? * 1e6 / w.get("clk_tck")? / w.get("writes")?.max(1.0))
}

fn mbit(bytes: f64, secs: f64) -> f64 {
    bytes * 8.0 / secs / 1e6
}

pub(crate) fn run(o: Options) -> Result {
    sh(cargo().args(["build", "--release", "-p", "mms-load", "-p", "mms-server"]))?;
    let seconds = o.seconds;
    // How busy the shared machine was before the run started.
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let own = open_files_limit("/proc/self/limits")?;

    // A: the bare write the server's cost per packet is read against.
    let write_us = write_cost()?;
    if o.only == Only::Live {
        return live::run(&o, write_us, &loadavg, own);
    }

    // A–C: paced sessions.
    let mut paced = Vec::new();
    for s in &o.sessions {
        let (label, n) = if s == "max" {
            // The server's limit, read from a running one (same binary,
            // same shell limits).
            let (server, _) = start_server(None, true, 100, "")?;
            let theirs = open_files_limit(&format!("/proc/{}/limits", server.pid()))?;
            drop(server);
            let n = own.min(theirs).saturating_sub(FD_MARGIN);
            (
                format!("max ({n}: open files {own} / {theirs} − {FD_MARGIN})"),
                n,
            )
        } else {
            let n: usize = s
                .parse()
                .map_err(|e| format!("--sessions {s}: {e} (a number or `max`)"))?;
            (n.to_string(), n)
        };
        if n + FD_MARGIN > own {
            return Err(format!(
                "{n} sessions need more than the {own} open files allowed (ulimit -n)"
            ));
        }
        paced.push(paced_run(&label, n, seconds)?);
    }

    // A: handshakes.
    let (server, addr) = start_server(None, true, 1000, "")?;
    eprintln!(
        "load: handshakes, {} in flight × {seconds} s…",
        o.handshakes_in_flight
    );
    let h = generator(&[
        "handshakes".into(),
        addr.to_string(),
        DEMO.into(),
        o.handshakes_in_flight.to_string(),
        seconds.to_string(),
    ])?;
    drop(server);
    let (handshakes, hs_secs, hs_failed) = (h.get("count")?, h.get("secs")?, h.get("failed")?);

    // A: unpaced vs raw TCP.
    let (server, addr) = start_server(None, false, 1000, "")?;
    eprintln!(
        "load: {} unpaced sessions × {seconds} s…",
        o.unpaced_sessions
    );
    let u = generator(&[
        "unpaced".into(),
        addr.to_string(),
        DEMO.into(),
        o.unpaced_sessions.to_string(),
        seconds.to_string(),
    ])?;
    drop(server);
    eprintln!(
        "load: raw loopback TCP, {} connections × {seconds} s…",
        o.unpaced_sessions
    );
    let r = generator(&[
        "raw".into(),
        o.unpaced_sessions.to_string(),
        seconds.to_string(),
    ])?;
    let (mms, tcp) = (
        mbit(u.get("bytes")?, u.get("secs")?),
        mbit(r.get("bytes")?, r.get("secs")?),
    );

    // C: churn.
    let churn = if o.cycles > 0 {
        let (server, addr) = start_server(None, true, 1000, "")?;
        eprintln!("load: {} connect/Connect/close cycles…", o.cycles);
        let c = generator(&[
            "cycles".into(),
            addr.to_string(),
            o.cycles.to_string(),
            "256".into(),
            server.pid().to_string(),
        ])?;
        drop(server);
        Some((
            c.get("count")?,
            c.get("failed")?,
            c.get("secs")?,
            c.get("rss_before_kib")?,
            c.get("rss_after_kib")?,
        ))
    } else {
        None
    };

    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut md = String::new();
    let _ = writeln!(md, "{}", LOAD.start);
    let _ = writeln!(
        md,
        "## Server load: paced sessions, handshakes, streaming vs raw loopback TCP\n"
    );
    let _ = writeln!(
        md,
        "Written by `cargo xtask load`, run {} on {cores} logical cores (shared, noisy: read the \
         ratios; 1-minute load average {loadavg} before the run). The release `mms-server --threads 2 --linger 0` (a fresh one per measurement, \
         `max_sessions` from a config file) on loopback; the release generator `mms-load`: one \
         thread, one mio loop, every session a sans-IO `ClientMachine` (Connect … header, all \
         streams, StartPlaying). **Paced**: N sessions of a 128 kbit/s WMA (FFmpeg, 300 s sine), \
         at most 256 in their handshake at once, all playing together for {seconds} s; a \
         packet's lateness is (arrival − the play's first arrival) − (its Send Time − the \
         first packet's), 0 when early, every packet counted (ramp included). Server CPU is \
         utime+stime of /proc/PID/stat while all N play, per packet received then, next to a \
         bare {WRITE_LEN}-byte loopback `write` (one writer thread, a reader discarding, the \
         writer's /proc/thread-self/stat); RSS per session is (VmRSS with N playing − VmRSS \
         idle) / N; the generator's CPU is its utime+stime over the same window. **max** is \
         the most sessions both processes' open-files limits allow, less {FD_MARGIN}.\n",
        date.trim()
    );
    let _ = writeln!(md, "| measurement | result | baseline | ratio |");
    let _ = writeln!(md, "|---|---|---|---:|");
    for p in &paced {
        let early = if p.ended_early > 0.0 {
            format!(
                "; the file (300 s) ended for {:.0} before the stop: the ramp outlasted it",
                p.ended_early
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "| paced, {} sessions: lateness | p50 {:.1} ms · p99 {:.1} ms · p99.9 {:.1} ms · max \
             {:.1} ms; **{:.2} % ≤ 50 ms** ({:.0} packets, {:.0} sessions failed, ramp {:.1} s{early}) | | |",
            p.label, p.p50, p.p99, p.p999, p.max, p.on_time, p.packets, p.failed, p.ramp
        );
        let _ = writeln!(
            md,
            "| paced, {} sessions: server CPU per packet | {:.2} µs | bare {WRITE_LEN}-byte write \
             {write_us:.2} µs | **{:.1}×** |",
            p.sessions,
            p.cpu_per_packet_us,
            p.cpu_per_packet_us / write_us
        );
        let _ = writeln!(
            md,
            "| paced, {} sessions: server RSS per session · generator CPU | {:.1} KiB ({:.1} → \
             {:.1} MiB) · {:.0} % of a core | | |",
            p.sessions,
            p.rss_per_session_kib,
            p.rss_idle_kib / 1024.0,
            p.rss_full_kib / 1024.0,
            p.generator_share * 100.0
        );
    }
    let _ = writeln!(
        md,
        "| handshakes (Connect … header, close), {} in flight | {:.0} /s ({handshakes:.0} in \
         {hs_secs:.1} s, {hs_failed:.0} failed) | | |",
        o.handshakes_in_flight,
        handshakes / hs_secs
    );
    let _ = writeln!(
        md,
        "| {} unpaced plays of `{DEMO}` (`--unpaced`), aggregate payload | {mms:.0} Mbit/s | raw \
         loopback TCP, {} connections, 64 KiB writes: {tcp:.0} Mbit/s | **{:.2}×** |",
        o.unpaced_sessions,
        o.unpaced_sessions,
        mms / tcp
    );
    if let Some((count, failed, secs, before, after)) = churn {
        let _ = writeln!(
            md,
            "| server RSS after {count:.0} TCP connect / Connect / close cycles (256 in flight, \
             {:.0} /s, {failed:.0} failed) | {:.1} MiB | before: {:.1} MiB | {:.2}× |",
            count / secs,
            after / 1024.0,
            before / 1024.0,
            after / before
        );
    }
    let _ = writeln!(
        md,
        "\nWhat the ratios hold: the generator and the server share the cores (the generator's \
         share is in the table); a paced packet's server CPU includes reading it from the file, \
         the pacing timers and the event loop's wake-ups, where the bare write is one `write` \
         call; every unpaced play includes its handshake, and each ASF packet is filtered and \
         re-padded by the server and framed and parsed by the client, where the raw baseline \
         moves 64 KiB writes between two threads that do nothing else. Lateness includes the \
         generator's own delay in reading."
    );
    let _ = write!(md, "{}", LOAD.end);
    LOAD.write(&md)?;
    eprintln!("{md}");
    if o.live.is_empty() {
        return Ok(());
    }
    // The live part gets a bare write measured next to it.
    let write_us = write_cost()?;
    live::run(&o, write_us, &loadavg, own)
}
