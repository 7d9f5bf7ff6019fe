//! `cargo xtask pull`: the release `mms dump` against FFmpeg's
//! `ffmpeg -i mmst://… -c copy`, both pulling the same file from the
//! release `mms-server` (unpaced) on loopback in the same run, alternating;
//! written into the "Client pull" section of docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::PULL;
use crate::{Result, cargo, output, root, sh};

/// A 2-minute, ~2 Mbit/s WMV made once with FFmpeg.
fn big_file(dir: &Path) -> Result<PathBuf> {
    let file = dir.join("pull.wmv");
    if file.exists() {
        return Ok(file);
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    eprintln!("pull: making a 120 s test file with FFmpeg…");
    sh(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=120",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=120:sample_rate=44100",
        ])
        .args([
            "-c:v", "wmv2", "-b:v", "2M", "-c:a", "wmav2", "-b:a", "128k",
        ])
        .args(["-f", "asf"])
        .arg(&file))?;
    Ok(file)
}

/// Runs `cmd` to completion; seconds taken.
fn timed(cmd: &mut Command, what: &str) -> Result<f64> {
    let t = Instant::now();
    let st = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{what}: {e} (run `cargo xtask deps`)"))?;
    if !st.success() {
        return Err(format!("{what} failed: {st}"));
    }
    Ok(t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn run(rounds: usize) -> Result {
    sh(cargo().args(["build", "--release", "-p", "mms-server", "-p", "mms-client"]))?;
    let dir = root().join("target/xtask-pull");
    let file = big_file(&dir)?;
    let size = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Command::new(root().join("target/release/mms-server"))
        .args(["--listen", &addr, "--unpaced", "--linger", "0", "--root"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = server.kill();
            return Err("mms-server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = |scheme: &str| format!("{scheme}://{addr}/pull.wmv");
    let (ours_out, ffmpeg_out) = (dir.join("out-mms.asf"), dir.join("out-ffmpeg.asf"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let r = (|| -> Result {
        for i in 0..rounds {
            eprintln!("pull: round {} of {rounds}", i + 1);
            ours.push(timed(
                Command::new(root().join("target/release/mms"))
                    .args(["dump", "-q", &url("mms"), "-o"])
                    .arg(&ours_out),
                "mms dump",
            )?);
            theirs.push(timed(
                Command::new("ffmpeg")
                    .args(["-nostdin", "-v", "error", "-y", "-i", &url("mmst")])
                    .args(["-c", "copy", "-f", "asf"])
                    .arg(&ffmpeg_out),
                "ffmpeg",
            )?);
        }
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    r?;
    let (m, f) = (median(ours), median(theirs));
    let got = std::fs::metadata(&ours_out)
        .map_err(|e| e.to_string())?
        .len();
    let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let mbit = |s: f64| size as f64 * 8.0 / s / 1e6;
    let mut md = String::new();
    let _ = writeln!(md, "{}", PULL.start);
    let _ = writeln!(md, "## Client pull: mms dump vs ffmpeg -c copy\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask pull`: the release `mms dump` and `ffmpeg -i mmst://… -c copy -f \
         asf` each pull the same {:.1} MB, 120 s WMV from the release `mms-server --unpaced` on \
         loopback, alternating, {rounds} rounds each; median wall time per pull, process start \
         included. Run {}. Read the ratio.\n",
        size as f64 / 1e6,
        date.trim()
    );
    let _ = writeln!(md, "| client | median time | rate |");
    let _ = writeln!(md, "|---|---:|---:|");
    let _ = writeln!(
        md,
        "| `ffmpeg -c copy` (baseline) | {:.3} s | {:.0} Mbit/s |",
        f,
        mbit(f)
    );
    let _ = writeln!(md, "| `mms dump` | {:.3} s | {:.0} Mbit/s |", m, mbit(m));
    let _ = writeln!(md, "| mms dump vs FFmpeg | **{:.2}× faster** |  |", f / m);
    let _ = writeln!(
        md,
        "\n`mms dump` wrote {got} bytes (the source without its index objects, counts patched); \
         FFmpeg remuxes (it rebuilds packets and writes its own index), `mms dump` re-pads the \
         packets it receives as they are."
    );
    let _ = write!(md, "{}", PULL.end);
    PULL.write(&md)?;
    eprintln!("pull: mms dump {m:.3} s, ffmpeg {f:.3} s: {:.2}x", f / m);
    Ok(())
}
