//! `cargo xtask bench`: runs the criterion benches and writes
//! docs/benchmarks.md from criterion's own estimates, with ratios against
//! the baselines measured in the same run.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::{Result, cargo, output, report, root, sh};

struct Row {
    group: String,
    id: String,
    ns: f64,
    bytes: Option<u64>,
}

fn read_rows(dir: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for group in ["parse", "emit", "stream", "asf"] {
        let gdir = dir.join(group);
        let Ok(entries) = fs::read_dir(&gdir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path().join("new");
            let (Ok(est), Ok(meta)) = (
                fs::read_to_string(p.join("estimates.json")),
                fs::read_to_string(p.join("benchmark.json")),
            ) else {
                continue;
            };
            let est: serde_json::Value = serde_json::from_str(&est).map_err(|e| e.to_string())?;
            let meta: serde_json::Value = serde_json::from_str(&meta).map_err(|e| e.to_string())?;
            let ns = est["mean"]["point_estimate"]
                .as_f64()
                .ok_or("estimates.json without mean")?;
            let id = meta["value_str"]
                .as_str()
                .or(meta["function_id"].as_str())
                .unwrap_or("?")
                .to_string();
            let bytes = meta["throughput"]["Bytes"].as_u64();
            rows.push(Row {
                group: group.into(),
                id,
                ns,
                bytes,
            });
        }
    }
    rows.sort_by(|a, b| (&a.group, &a.id).cmp(&(&b.group, &b.id)));
    Ok(rows)
}

fn gib_s(bytes: u64, ns: f64) -> f64 {
    bytes as f64 / ns * 1e9 / (1u64 << 30) as f64
}

pub(crate) fn run() -> Result {
    let root = root();
    let crit = root.join("target/criterion");
    let _ = fs::remove_dir_all(&crit);
    sh(cargo().args(["bench", "-p", "mms-proto", "--bench", "wire"]))?;
    let rows = read_rows(&crit)?;
    if rows.is_empty() {
        return Err("no criterion results found under target/criterion".into());
    }
    let find = |g: &str, id: &str| rows.iter().find(|r| r.group == g && r.id == id);
    let memcpy = find("stream", "memcpy_64MiB").ok_or("memcpy baseline missing")?;
    let framing = find("stream", "frame_and_parse_64MiB").ok_or("framing bench missing")?;
    let (mb, fb) = (memcpy.bytes.unwrap_or(0), framing.bytes.unwrap_or(0));

    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = output(Command::new("rustc").arg("--version")).unwrap_or_default();
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench` from criterion's estimates (mean of the samples). \
         The machines are shared and noisy: read the **ratios** against the baselines measured \
         in the same run, not the absolute figures. Nothing here is asserted by a test.\n"
    );
    let _ = writeln!(md, "- Run: {}", date.trim());
    let _ = writeln!(
        md,
        "- CPU: {cpu} ({} logical cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let _ = writeln!(md, "- Toolchain: {}", rustc.trim());
    let _ = writeln!(
        md,
        "- Profile: `bench` (release, thin LTO, one codegen unit)\n"
    );

    let _ = writeln!(md, "## Wire codec: framing a received stream vs memcpy\n");
    let _ = writeln!(
        md,
        "A 64 MiB stream as a client receives it: 3200-byte ASF packets in Data packets, a Ping \
         command every 1000 packets. `frame_and_parse` runs the framer over it and parses every \
         unit (Data packet header, or TcpMessageHeader + message), as a runtime's read loop would. \
         `memcpy` copies the same 64 MiB once (the baseline). Target: framing at ≥ 50% of \
         memcpy's throughput.\n"
    );
    let _ = writeln!(md, "| bench | time / 64 MiB | throughput | vs memcpy |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| memcpy_64MiB (baseline) | {:.2} ms | {:.2} GiB/s | 1.00× |",
        memcpy.ns / 1e6,
        gib_s(mb, memcpy.ns)
    );
    let _ = writeln!(
        md,
        "| frame_and_parse_64MiB | {:.2} ms | {:.2} GiB/s | **{:.1}×** |\n",
        framing.ns / 1e6,
        gib_s(fb, framing.ns),
        memcpy.ns / framing.ns
    );
    let _ = writeln!(
        md,
        "The framer reads 8 bytes of each 3208-byte Data packet and never touches the payload, so it \
         runs faster than a copy of the same bytes; the ratio is how many times faster.\n"
    );

    let client = find("stream", "client_receive_64MiB").ok_or("client receive bench missing")?;
    // 3208-byte Data packets, one 32-byte Ping packet per 1000 units.
    let packets = client.bytes.unwrap_or(0) as f64 / (3208.0 * 0.999 + 32.0 * 0.001) * 0.999;
    let _ = writeln!(
        md,
        "## Client receive path vs memcpy\n\n\
         The same 64 MiB through `mms_proto::client::ClientMachine::handle_input` in STREAMING (framing, \
         classification by incarnation, the 32-bit sequence, statistics, the `Packet` event; \
         the Pongs it owes drained from `poll_output`), against memcpy of the same run.\n"
    );
    let _ = writeln!(
        md,
        "| bench | time / 64 MiB | packets/s | throughput | vs memcpy |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| client_receive_64MiB | {:.2} ms | {:.1} M | {:.2} GiB/s | **{:.1}×** |\n",
        client.ns / 1e6,
        packets / client.ns * 1e3,
        gib_s(client.bytes.unwrap_or(0), client.ns),
        memcpy.ns / client.ns
    );
    let _ = writeln!(
        md,
        "## Wire codec: parse and emit time per message\n\n\
         One representative message of each kind. Target: a control message parses in < 50 ns.\n"
    );
    let _ = writeln!(md, "| message | bytes | parse | emit |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let mut worst_control: f64 = 0.0;
    for r in rows.iter().filter(|r| r.group == "parse") {
        let emit = find("emit", &r.id).map_or("–".to_string(), |e| format!("{:.1} ns", e.ns));
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} ns | {} |",
            r.id,
            r.bytes.unwrap_or(0),
            r.ns,
            emit
        );
        if r.id != "Logging" {
            worst_control = worst_control.max(r.ns);
        }
    }
    let _ = writeln!(
        md,
        "\nSlowest control message parse (all but the 1504-byte Logging): **{worst_control:.1} ns**. \
         Logging carries a fixed 1490-byte CLIENT_LOG whose 14 strings are each scanned for their NUL.\n"
    );
    let _ = writeln!(md, "## ASF packets: parse and rewrite time per packet\n");
    let _ = writeln!(
        md,
        "`multi`: the ff_av.wmv packet with the most payloads (3200 bytes, multiple payloads). \
         `single`: a 2762-byte single-payload packet with BYTE padding, the Windows WMA layout. \
         parse = header + every payload; strip = rewrite with `Padding::Strip` (the server's default); \
         filter = keep one stream; repad = the client's restore to the packet size. \
         vs memcpy compares bytes/s with the 64 MiB memcpy of the same run; that copy streams from memory while one packet stays in cache, so read it as scale, not as a like-for-like ratio.\n"
    );
    let _ = writeln!(
        md,
        "| bench | time / packet | packets/s | bytes/s | vs memcpy |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let memcpy_rate = mb as f64 / memcpy.ns;
    for r in rows.iter().filter(|r| r.group == "asf") {
        let b = r.bytes.unwrap_or(0);
        let _ = writeln!(
            md,
            "| {} | {:.1} ns | {:.2} M | {:.2} GiB/s | {:.2}× |",
            r.id,
            r.ns,
            1e3 / r.ns,
            gib_s(b, r.ns),
            (b as f64 / r.ns) / memcpy_rate
        );
    }
    let _ = writeln!(md);
    let path = report::path();
    // `cargo xtask load` and `pull` own their sections; keep them.
    for section in report::existing_sections(&path) {
        let _ = writeln!(md, "{section}\n");
    }
    fs::write(&path, md).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    eprintln!(
        "framing: {:.2} GiB/s = {:.1}x memcpy ({:.2} GiB/s); slowest control message parse {worst_control:.1} ns",
        gib_s(fb, framing.ns),
        memcpy.ns / framing.ns,
        gib_s(mb, memcpy.ns)
    );
    Ok(())
}
