//! The load generator of `cargo xtask load` (run it through that task):
//! scripted MMS clients, one thread each, against a running server, and
//! raw loopback TCP as the baseline. Built with `--release` so the clients
//! cost as little as they can; prints `key=value` lines for xtask.
//!
//! ```text
//! load handshakes ADDR SESSIONS SECONDS   -> count=… secs=…
//! load stream ADDR SESSIONS SECONDS       -> bytes=… secs=…
//! load raw SESSIONS SECONDS               -> bytes=… secs=…
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

#[path = "../tests/common/client.rs"]
#[allow(dead_code, unreachable_pub)]
mod client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client::ScriptedClient;

type Result<T> = std::result::Result<T, String>;

/// The demo file every client plays.
const FILE: &str = "demo.wmv";

/// Runs `work` on `n` threads until `secs` pass; each call returns a count.
/// The sum, and the time until every thread finished its last call.
fn on_threads(
    n: usize,
    secs: f64,
    work: impl Fn() -> std::result::Result<u64, String> + Sync,
) -> Result<(u64, f64)> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let totals: Vec<std::result::Result<u64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut total = 0;
                    while Instant::now() < deadline {
                        total += work()?;
                    }
                    Ok(total)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a load thread panicked".into()))
            })
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut sum = 0;
    for t in totals {
        sum += t?;
    }
    Ok((sum, elapsed))
}

fn handshake(addr: SocketAddr) -> std::result::Result<u64, String> {
    let mut c = ScriptedClient::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.keep_log = false;
    c.open(FILE).map_err(|e| format!("open: {e}"))?;
    c.read_header(1).map_err(|e| format!("header: {e}"))?;
    Ok(1)
}

fn stream(addr: SocketAddr, streams: &[u16]) -> std::result::Result<u64, String> {
    let mut c = ScriptedClient::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.keep_log = false;
    c.open(FILE).map_err(|e| format!("open: {e}"))?;
    c.read_header(1).map_err(|e| format!("header: {e}"))?;
    c.select(streams, &[]).map_err(|e| format!("select: {e}"))?;
    c.play_from(0, 2).map_err(|e| format!("play: {e}"))?;
    let (packets, _) = c.until_end().map_err(|e| format!("play: {e}"))?;
    Ok(packets.iter().map(|(_, p)| p.len() as u64).sum())
}

/// Raw loopback TCP: `n` connections, each written with 64 KiB buffers for
/// `secs`; the bytes read.
fn raw_tcp(n: usize, secs: f64) -> Result<(u64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        clients.push(TcpStream::connect(addr).map_err(|e| e.to_string())?);
        servers.push(listener.accept().map_err(|e| e.to_string())?.0);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let total: u64 = std::thread::scope(|s| {
        for mut w in servers {
            let stop = stop.clone();
            s.spawn(move || {
                let buf = vec![0x5Au8; 64 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    if w.write_all(&buf).is_err() {
                        break;
                    }
                }
            });
        }
        let readers: Vec<_> = clients
            .into_iter()
            .map(|mut r| {
                s.spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut got = 0u64;
                    while Instant::now() < deadline {
                        match r.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => got += k as u64,
                        }
                    }
                    got
                })
            })
            .collect();
        let total = readers.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        stop.store(true, Ordering::Relaxed);
        total
    });
    Ok((total, start.elapsed().as_secs_f64()))
}

/// Every stream of the demo file, read from its header.
fn demo_streams(addr: SocketAddr) -> Result<Vec<u16>> {
    let mut c = ScriptedClient::connect(addr).map_err(|e| e.to_string())?;
    c.open(FILE).map_err(|e| e.to_string())?;
    let header = c.read_header(1).map_err(|e| e.to_string())?;
    let summary =
        mms_proto::asf::HeaderSummary::parse(&header).map_err(|e| format!("demo header: {e}"))?;
    Ok(summary
        .streams
        .iter()
        .map(|s| u16::from(s.number))
        .collect())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Result<f64> {
        args.get(i)
            .ok_or("missing argument")?
            .parse::<f64>()
            .map_err(|e| e.to_string())
    };
    let addr = |i: usize| -> Result<SocketAddr> {
        args.get(i)
            .ok_or("missing address")?
            .parse()
            .map_err(|e: std::net::AddrParseError| e.to_string())
    };
    let r = (|| -> Result<String> {
        match args.first().map(String::as_str) {
            Some("handshakes") => {
                let a = addr(1)?;
                let (n, secs) = on_threads(num(2)? as usize, num(3)?, || handshake(a))?;
                Ok(format!("count={n} secs={secs}"))
            }
            Some("stream") => {
                let a = addr(1)?;
                let streams = demo_streams(a)?;
                let (n, secs) = on_threads(num(2)? as usize, num(3)?, || stream(a, &streams))?;
                Ok(format!("bytes={n} secs={secs}"))
            }
            Some("raw") => {
                let (n, secs) = raw_tcp(num(1)? as usize, num(2)?)?;
                Ok(format!("bytes={n} secs={secs}"))
            }
            _ => Err(
                "usage: load handshakes|stream ADDR SESSIONS SECONDS | load raw SESSIONS SECONDS"
                    .into(),
            ),
        }
    })();
    match r {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
