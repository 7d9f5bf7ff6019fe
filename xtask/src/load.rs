//! `cargo xtask load`: the release `mms-server` binary under load on
//! loopback, next to raw loopback TCP measured in the same run, written
//! into the "Server load" section of docs/benchmarks.md.
//!
//! * Handshakes: N clients each loop Connect → FunnelInfo → ConnectFunnel
//!   → OpenFile → the ASF header (ReadBlock) → close; sessions per second.
//! * Streaming: N clients each loop a whole unpaced play of the demo file
//!   (every stream selected); the aggregate payload rate in Mbit/s.
//! * Baseline: N loopback TCP connections, a writer thread per connection
//!   sending 64 KiB buffers, readers discarding; the aggregate Mbit/s.
//!
//! The clients are the scripted client of the server's tests
//! (mms-server/tests/common/client.rs), one thread each, in the release
//! example `mms-server/examples/load.rs`; client and server share the
//! machine, as do the baseline's two ends.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::LOAD;
use crate::{Result, cargo, output, root, sh};

/// The demo file every streaming client plays (see the example).
const FILE: &str = "demo.wmv";

/// Runs the release load example; its `key=value` numbers.
fn measure(args: &[String]) -> Result<(u64, f64)> {
    let exe = root().join("target/release/examples/load");
    let line = output(Command::new(&exe).args(args))?;
    let get = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .ok_or_else(|| format!("load example printed no {key}: {line}"))
    };
    let n = get(if line.starts_with("count") {
        "count"
    } else {
        "bytes"
    })?
    .parse::<u64>()
    .map_err(|e| e.to_string())?;
    let secs = get("secs")?.parse::<f64>().map_err(|e| e.to_string())?;
    Ok((n, secs))
}

struct ServerProcess(Child);

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

fn start_server(loops: usize) -> Result<(ServerProcess, SocketAddr)> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let exe = root().join("target/release/mms-server");
    let child = Command::new(&exe)
        .args(["--listen", &addr.to_string(), "--unpaced", "--linger", "0"])
        .args(["--threads", &loops.to_string()])
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
    Ok((server, addr))
}

fn mbit(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs / 1e6
}

pub(crate) fn run(sessions: usize, seconds: f64) -> Result {
    sh(cargo().args([
        "build",
        "--release",
        "-p",
        "mms-server",
        "--bin",
        "mms-server",
        "--example",
        "load",
    ]))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (server, addr) = start_server(cores)?;
    let (n, s) = (sessions.to_string(), seconds.to_string());
    eprintln!("load: {sessions} clients × {seconds} s of handshakes…");
    let (handshakes, hs_secs) =
        measure(&["handshakes".into(), addr.to_string(), n.clone(), s.clone()])?;
    eprintln!("load: {sessions} clients × {seconds} s of unpaced plays…");
    let (bytes, st_secs) = measure(&["stream".into(), addr.to_string(), n.clone(), s.clone()])?;
    drop(server);
    eprintln!("load: raw loopback TCP, {sessions} connections × {seconds} s…");
    let (raw, raw_secs) = measure(&["raw".into(), n, s])?;

    let rate = handshakes as f64 / hs_secs;
    let (mms, tcp) = (mbit(bytes, st_secs), mbit(raw, raw_secs));
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "{}", LOAD.start);
    let _ = writeln!(
        md,
        "## Server load: handshakes/s and streaming vs raw loopback TCP\n"
    );
    let _ = writeln!(
        md,
        "Written by `cargo xtask load`: the release `mms-server` (`--unpaced --threads {cores}`) \
         on loopback, {sessions} concurrent scripted clients (one thread each, on the same \
         machine), {seconds} s per measurement; raw loopback TCP with the same number of \
         connections measured right after. Run {} on {cores} logical cores. Read the ratio.\n",
        date.trim()
    );
    let _ = writeln!(md, "| measurement | result |");
    let _ = writeln!(md, "|---|---:|");
    let _ = writeln!(
        md,
        "| full handshakes (Connect … OpenFile, header read, close) | {rate:.0} sessions/s ({handshakes} in {hs_secs:.1} s) |"
    );
    let _ = writeln!(
        md,
        "| {sessions} unpaced plays of `{FILE}`, aggregate payload | {mms:.0} Mbit/s |"
    );
    let _ = writeln!(
        md,
        "| raw loopback TCP, {sessions} connections (baseline) | {tcp:.0} Mbit/s |"
    );
    let _ = writeln!(md, "| streaming vs raw TCP | **{:.2}×** |", mms / tcp);
    let _ = writeln!(
        md,
        "\nWhat the ratio holds: clients and server share the cores; every play includes its \
         handshake; each 3200-byte ASF packet is read from the file, filtered and re-padded by \
         the server and framed and parsed by the client, where the baseline moves 64 KiB writes \
         between two threads that do nothing else."
    );
    let _ = write!(md, "{}", LOAD.end);
    LOAD.write(&md)?;
    eprintln!(
        "load: {rate:.0} handshakes/s; {mms:.0} Mbit/s streaming vs {tcp:.0} Mbit/s raw TCP ({:.2}×)",
        mms / tcp
    );
    Ok(())
}
