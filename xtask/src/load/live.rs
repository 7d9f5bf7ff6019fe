//! `cargo xtask load`'s live part: N listeners of one `[[live]]`
//! publishing point, the release server's CPU and RSS for them, next to the
//! bare loopback write measured in the same run; its own section of
//! docs/benchmarks.md (`--only live` rewrites just that).
//!
//! The point is fed the paced 128 kbit/s WMA ([`PACED`], 300 s) as a looped
//! `file` source (or FFmpeg copying it in real time, `--live-source
//! command`). The generator (`mms-load live`) opens `mms://…/NAME` N
//! times, at most 256 in their handshake at once, and all N listen for S
//! seconds together.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::{FD_MARGIN, Options, PACED, WRITE_LEN, generator, output, paced_file, start_server};
use crate::Result;
use crate::report::LIVE;

/// The point's name (`mms://127.0.0.1:PORT/NAME`).
const NAME: &str = "loadlive";
/// The point's buffer, s: the idle RSS is read once it is full.
const BUFFER_SECS: f64 = 5.0;

/// What feeds the point.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Feed {
    /// `file = PACED`, `loop = true`: the server reads it by Send Time.
    File,
    /// `command = ffmpeg -re -stream_loop -1 -i PACED -c copy -f asf -`.
    Command,
}

/// One run's numbers.
struct Live {
    listeners: usize,
    held: f64,
    failed: f64,
    ended: f64,
    ramp: f64,
    on_time: f64,
    p50: f64,
    p99: f64,
    max: f64,
    samples: f64,
    received_share: f64,
    worst_share: f64,
    below_90: f64,
    min_received: f64,
    expected_mean: f64,
    cpu_per_packet_us: f64,
    rss_per_listener_kib: f64,
    rss_idle_kib: f64,
    rss_full_kib: f64,
    generator_share: f64,
}

/// The `[[live]]` entry of the server's settings.
fn point_settings(feed: Feed, file: &std::path::Path) -> String {
    let source = match feed {
        Feed::File => format!("file = \"{PACED}\"\nloop = true\n"),
        Feed::Command => format!(
            "command = [\"ffmpeg\", \"-hide_banner\", \"-nostdin\", \"-loglevel\", \"error\", \
             \"-re\", \"-stream_loop\", \"-1\", \"-i\", \"{}\", \"-c\", \"copy\", \"-f\", \
             \"asf\", \"-\"]\n",
            file.display()
        ),
    };
    format!(
        "\n[[live]]\nname = \"{NAME}\"\n{source}start = \"always\"\nbuffer_secs = {BUFFER_SECS}\n"
    )
}

fn live_run(listeners: usize, seconds: f64, feed: Feed) -> Result<Live> {
    let file = paced_file()?;
    let dir = file.parent().ok_or("target/ has no parent")?;
    let (server, addr) = start_server(
        Some(dir),
        true,
        listeners + 100,
        &point_settings(feed, &file),
    )?;
    // The point runs and its ring is full before the idle RSS is read.
    std::thread::sleep(Duration::from_secs_f64(BUFFER_SECS + 1.5));
    eprintln!("load: {listeners} live listeners × {seconds} s…");
    let l = generator(&[
        "live".into(),
        addr.to_string(),
        NAME.into(),
        listeners.to_string(),
        seconds.to_string(),
        "256".into(),
        server.pid().to_string(),
    ])?;
    drop(server);
    let tick_us = 1e6 / l.get("clk_tck")?;
    let window = l.get("window_secs")?;
    let (idle, full) = (l.get("rss_idle_kib")?, l.get("rss_full_kib")?);
    let held = l.get("held")?;
    Ok(Live {
        listeners,
        held,
        failed: l.get("failed")?,
        ended: l.get("ended_early")?,
        ramp: l.get("ramp_secs")?,
        on_time: l.get("on_time_ppm")? / 1e4,
        p50: l.get("p50_us")? / 1e3,
        p99: l.get("p99_us")? / 1e3,
        max: l.get("max_us")? / 1e3,
        samples: l.get("samples")?,
        received_share: l.get("received_ppm")? / 1e4,
        worst_share: l.get("worst_ppm")? / 1e4,
        below_90: l.get("below_90")?,
        min_received: l.get("min_received")?,
        expected_mean: l.get("expected")? / held.max(1.0),
        cpu_per_packet_us: l.get("server_ticks")? * tick_us / l.get("window_packets")?.max(1.0),
        rss_per_listener_kib: (full - idle) / listeners as f64,
        rss_idle_kib: idle,
        rss_full_kib: full,
        generator_share: l.get("gen_ticks")? * tick_us / 1e6 / window.max(1e-9),
    })
}

/// Runs every `--live` count and writes the live section.
pub(crate) fn run(o: &Options, write_us: f64, loadavg: &str, own_fds: usize) -> Result {
    let seconds = o.live_seconds;
    let mut runs = Vec::new();
    for &n in &o.live {
        if n + FD_MARGIN > own_fds {
            return Err(format!(
                "{n} listeners need more than the {own_fds} open files allowed (ulimit -n)"
            ));
        }
        runs.push(live_run(n, seconds, o.live_source)?);
    }
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let commit = output(Command::new("git").args(["rev-parse", "--short", "HEAD"]))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let feed = match o.live_source {
        Feed::File => {
            format!("a looped `file = \"{PACED}\"` source (the server reads it by Send Time)")
        }
        Feed::Command => format!(
            "a `command` source: FFmpeg copying `{PACED}` in real time (`-re -stream_loop -1 -c copy -f asf -`, \
             its CPU not counted as the server's but taken from the same 2 cores)"
        ),
    };
    let mut md = String::new();
    let _ = writeln!(md, "{}", LIVE.start);
    let _ = writeln!(md, "## Live: listeners on one point\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask load` (`--only live` for this part alone), run {} at commit \
         {commit} on {cores} logical cores (shared, noisy: read the ratios; 1-minute load \
         average {loadavg} before the run). The release `mms-server --threads 2 --linger 0` with \
         one `[[live]]` point `{NAME}` (`start = \"always\"`, `buffer_secs = {BUFFER_SECS}`) fed \
         by the 128 kbit/s WMA of the paced rows above through {feed}; the release `mms-load \
         live`: N listeners of `mms://127.0.0.1:PORT/{NAME}` on one mio thread (at most 256 in \
         their handshake at once), all listening together for {seconds} s. **Held**: listeners \
         still playing at the stop (none refused, reset, closed by the server or ended). **On \
         time**: a packet arriving at most 1 s after it is due on its listener's own clock, \
         t_first + (Send Time − the first packet's Send Time); the join's burst from the ring \
         is early, not late; every packet of the run counted (ramp included). **Received**: \
         each listener's packets against those the point made from the one it joined at to the \
         newest any listener had at the stop (LocationIds, the point's packet numbers): a skip \
         ahead or a loss is a shortfall, and so is a packet still in flight at the stop. Server \
         CPU is utime+stime of /proc/PID/stat while all N listen, per packet delivered then, \
         next to a bare {WRITE_LEN}-byte loopback `write` measured in the same run; RSS per \
         listener is (VmRSS with N listening − VmRSS with the point running, its ring full, no \
         listener) / N.\n",
        date.trim()
    );
    let _ = writeln!(md, "| measurement | result | baseline | ratio |");
    let _ = writeln!(md, "|---|---|---|---:|");
    for r in &runs {
        let n = r.listeners;
        let _ = writeln!(
            md,
            "| live, {n} listeners: held | **{:.0} / {n}** ({:.0} failed, {:.0} ended by the \
             server; ramp {:.1} s) | | |",
            r.held, r.failed, r.ended, r.ramp
        );
        let _ = writeln!(
            md,
            "| live, {n} listeners: on time (≤ 1 s late) | **{:.2} %** of {:.0} packets (late by \
             p50 {:.1} ms · p99 {:.1} ms · max {:.1} ms) | | |",
            r.on_time, r.samples, r.p50, r.p99, r.max
        );
        let _ = writeln!(
            md,
            "| live, {n} listeners: packets received vs made | **{:.2} %** overall; worst \
             listener {:.2} %, {:.0} below 90 %, fewest {:.0} | {:.1} made per listener | |",
            r.received_share, r.worst_share, r.below_90, r.min_received, r.expected_mean
        );
        let _ = writeln!(
            md,
            "| live, {n} listeners: server CPU per delivered packet | {:.2} µs | bare \
             {WRITE_LEN}-byte write {write_us:.2} µs | **{:.1}×** |",
            r.cpu_per_packet_us,
            r.cpu_per_packet_us / write_us
        );
        let _ = writeln!(
            md,
            "| live, {n} listeners: server RSS per listener · generator CPU | {:.1} KiB ({:.1} → \
             {:.1} MiB) · {:.0} % of a core | | |",
            r.rss_per_listener_kib,
            r.rss_idle_kib / 1024.0,
            r.rss_full_kib / 1024.0,
            r.generator_share * 100.0
        );
    }
    let _ = writeln!(
        md,
        "\nWhat the ratios hold: the generator and the server share the cores; a live packet's \
         server CPU includes the source's thread reading and pacing the file (once for all \
         listeners), the ring lookup and the loops' wake-ups, where the bare write is one \
         `write` call. Lateness includes the generator's own delay in reading."
    );
    let _ = write!(md, "{}", LIVE.end);
    LIVE.write(&md)?;
    eprintln!("{md}");
    Ok(())
}
