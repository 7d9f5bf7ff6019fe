//! The load generator of `cargo xtask load` (run it through that task).
//!
//! One thread, one mio event loop, each session a sans-IO
//! `mms_proto::client::ClientMachine`; the baselines (raw loopback TCP, a
//! bare loopback write) and the connect/disconnect churn. Each mode prints
//! one line of `key=value` pairs on stdout for xtask.
//!
//! ```text
//! mms-load paced ADDR PATH SESSIONS SECONDS IN_FLIGHT SERVER_PID
//! mms-load live ADDR POINT SESSIONS SECONDS IN_FLIGHT SERVER_PID
//! mms-load handshakes ADDR PATH IN_FLIGHT SECONDS
//! mms-load unpaced ADDR PATH SESSIONS SECONDS
//! mms-load raw CONNECTIONS SECONDS
//! mms-load write-cost LEN SECONDS
//! mms-load cycles ADDR COUNT IN_FLIGHT SERVER_PID
//! ```
//!
//! Paced lateness of a packet: (arrival − the play's first arrival) −
//! (its Send Time − the first packet's Send Time), 0 when early.
//!
//! Live (listeners of one publishing point): the same lateness, on time
//! when at most 1 s; and each listener's packets against the packets the
//! point made from the one it joined at to the newest any listener had at
//! the stop (LocationIds: the point's packet numbers).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod engine;
mod procfs;
mod raw;
mod stats;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use engine::{Clock, Mode};

type Result<T> = std::result::Result<T, String>;

/// Lateness bound of the "on time" share, µs.
const ON_TIME_US: u32 = 50_000;
/// Live: the lateness bound of the "on time" share, µs.
const LIVE_ON_TIME_US: u32 = 1_000_000;

/// The load generator of `cargo xtask load` (run it through that task).
#[derive(clap::Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    mode: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// SESSIONS paced plays of PATH, all playing together for SECONDS.
    Paced {
        addr: SocketAddr,
        path: String,
        sessions: usize,
        seconds: f64,
        /// Sessions in their handshake at once.
        in_flight: usize,
        /// The server's pid (for its CPU and RSS).
        server_pid: u32,
    },
    /// SESSIONS listeners of the live point POINT, all listening together
    /// for SECONDS.
    Live {
        addr: SocketAddr,
        point: String,
        sessions: usize,
        seconds: f64,
        /// Sessions in their handshake at once.
        in_flight: usize,
        /// The server's pid (for its CPU and RSS).
        server_pid: u32,
    },
    /// Connect … header, close, for SECONDS, IN_FLIGHT at once.
    Handshakes {
        addr: SocketAddr,
        path: String,
        in_flight: usize,
        seconds: f64,
    },
    /// SESSIONS unpaced plays of PATH, again and again for SECONDS.
    Unpaced {
        addr: SocketAddr,
        path: String,
        sessions: usize,
        seconds: f64,
    },
    /// Raw loopback TCP over CONNECTIONS connections (the baseline).
    Raw { connections: usize, seconds: f64 },
    /// The CPU cost of one bare loopback write of LEN bytes.
    WriteCost { len: usize, seconds: f64 },
    /// COUNT connect / Connect / close cycles, IN_FLIGHT at once.
    Cycles {
        addr: SocketAddr,
        count: u64,
        in_flight: usize,
        server_pid: u32,
    },
}

fn paced(
    addr: SocketAddr,
    path: &str,
    (sessions, secs, live): (usize, f64, bool),
    in_flight: usize,
    pid: u32,
) -> Result<String> {
    let server_stat = format!("/proc/{pid}/stat");
    let clock = Clock::new();
    let rss_idle = procfs::rss_kib(pid)?;
    let t0 = clock.now();
    // (µs, server ticks, own ticks, server RSS) when every session plays
    // and at the stop.
    let mut marks: Vec<(u64, u64, u64, u64)> = Vec::new();
    let mut hook = |_all_playing: bool| {
        marks.push((
            clock.now(),
            procfs::cpu_ticks(&server_stat).unwrap_or(0),
            procfs::cpu_ticks("/proc/self/stat").unwrap_or(0),
            procfs::rss_kib(pid).unwrap_or(0),
        ));
    };
    let mode = if live {
        Mode::Live { sessions, secs }
    } else {
        Mode::Paced { sessions, secs }
    };
    let mut totals = engine::run(mode, addr, path, in_flight, &clock, &mut hook)?;
    let [(ta, sa, ga, rss_full), (tb, sb, gb, _)] = marks[..] else {
        return Err(format!(
            "the paced sessions never all played ({} failed: {})",
            totals.failed,
            totals.first_error.unwrap_or_default()
        ));
    };
    let s = stats::summarize(
        &mut totals.lateness,
        if live { LIVE_ON_TIME_US } else { ON_TIME_US },
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "sessions={sessions} completed={} failed={} ended_early={} packets={} window_packets={} \
         samples={} p50_us={} p99_us={} p999_us={} max_us={} on_time_ppm={} \
         ramp_secs={:.3} window_secs={:.3} server_ticks={} gen_ticks={} clk_tck={} \
         rss_idle_kib={rss_idle} rss_full_kib={rss_full}",
        totals.completed,
        totals.failed,
        totals.ended_early,
        totals.packets,
        totals.window_packets,
        s.count,
        s.p50,
        s.p99,
        s.p999,
        s.max,
        s.within_ppm,
        (ta - t0) as f64 / 1e6,
        (tb - ta) as f64 / 1e6,
        sb - sa,
        gb - ga,
        procfs::clock_ticks(),
    );
    if live {
        let _ = write!(out, " {}", listeners(&totals.listeners));
    }
    if let Some(e) = totals.first_error {
        eprintln!("mms-load: paced: first error: {e}");
    }
    Ok(out)
}

/// The listeners' packets against the point's: `held` listeners at the
/// stop, `edge` the newest LocationId any had, each expected to have every
/// packet from its first to `edge`.
fn listeners(all: &[engine::Listener]) -> String {
    let edge = all.iter().map(|l| l.last).max().unwrap_or(0);
    let (mut got, mut want, mut worst, mut below_90) = (0u64, 0u64, 1_000_000u64, 0u64);
    let mut min_received = u64::MAX;
    for l in all {
        let expected = u64::from(edge.saturating_sub(l.first)) + 1;
        let ppm = (l.received.min(expected) * 1_000_000 / expected.max(1)).min(1_000_000);
        if l.received == 0 {
            worst = 0;
        }
        worst = worst.min(ppm);
        if ppm < 900_000 {
            below_90 += 1;
        }
        got += l.received.min(expected);
        want += expected;
        min_received = min_received.min(l.received);
    }
    format!(
        "held={} edge={edge} received={got} expected={want} received_ppm={} worst_ppm={worst} \
         below_90={below_90} min_received={}",
        all.len(),
        (got * 1_000_000).checked_div(want).unwrap_or(0),
        if all.is_empty() { 0 } else { min_received },
    )
}

fn repeated(addr: SocketAddr, path: &str, n: usize, secs: f64, handshakes: bool) -> Result<String> {
    let clock = Clock::new();
    let (mode, in_flight) = if handshakes {
        (Mode::Handshakes { secs }, n)
    } else {
        (Mode::Unpaced { sessions: n, secs }, n)
    };
    let t = engine::run(mode, addr, path, in_flight, &clock, &mut |_| {})?;
    if let Some(e) = &t.first_error {
        eprintln!("mms-load: first error: {e}");
    }
    Ok(format!(
        "count={} bytes={} failed={} secs={}",
        t.completed,
        t.bytes,
        t.failed,
        t.elapsed_us as f64 / 1e6
    ))
}

fn run(cmd: Cmd) -> Result<String> {
    match cmd {
        Cmd::Paced {
            addr,
            path,
            sessions,
            seconds,
            in_flight,
            server_pid,
        } => paced(
            addr,
            &path,
            (sessions, seconds, false),
            in_flight,
            server_pid,
        ),
        Cmd::Live {
            addr,
            point,
            sessions,
            seconds,
            in_flight,
            server_pid,
        } => paced(
            addr,
            &point,
            (sessions, seconds, true),
            in_flight,
            server_pid,
        ),
        Cmd::Handshakes {
            addr,
            path,
            in_flight,
            seconds,
        } => repeated(addr, &path, in_flight, seconds, true),
        Cmd::Unpaced {
            addr,
            path,
            sessions,
            seconds,
        } => repeated(addr, &path, sessions, seconds, false),
        Cmd::Raw {
            connections,
            seconds,
        } => {
            let (bytes, secs) = raw::throughput(connections, seconds)?;
            Ok(format!("bytes={bytes} secs={secs}"))
        }
        Cmd::WriteCost { len, seconds } => {
            let (writes, ticks) = raw::write_cost(len, seconds)?;
            Ok(format!(
                "writes={writes} ticks={ticks} clk_tck={}",
                procfs::clock_ticks()
            ))
        }
        Cmd::Cycles {
            addr,
            count,
            in_flight,
            server_pid,
        } => {
            let before = procfs::rss_kib(server_pid)?;
            let (done, failed, secs) = raw::cycles(addr, count, in_flight.max(1))?;
            // Let the server see the last closes.
            std::thread::sleep(std::time::Duration::from_secs(1));
            let after = procfs::rss_kib(server_pid)?;
            Ok(format!(
                "count={done} failed={failed} secs={secs} rss_before_kib={before} rss_after_kib={after}"
            ))
        }
    }
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    match run(cli.mode) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mms-load: {e}");
            ExitCode::FAILURE
        }
    }
}
