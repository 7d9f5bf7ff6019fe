//! `cargo xtask fuzz`: seed every target from the golden vectors, run each
//! for a while, report executions, keep crashes.

use std::fs;
use std::process::Command;

use crate::{Result, cargo, have_cargo_fuzz, have_nightly, lock, output, root, sh};

/// Every fuzz target in mms-fuzz (one per oracle in `mms_proto::fuzzing`).
pub(crate) const TARGETS: &[&str] = &[
    "message",
    "framer",
    "data_packet",
    "resend",
    "client_log",
    "subscriber",
    "funnel_name",
    "version",
    "authen_package",
    "redirect_location",
    "basic_challenge",
    "asf_header",
    "asf_packet",
    "asf_rewrite",
    "server",
    "client",
    "ntlm_token",
    "ntlm_challenge",
    "ntlm_authenticate",
    "basic_credentials",
];

/// Runs the targets; returns `(target, executions)`. With `seed`, libFuzzer
/// starts from that seed (CI's smoke is then the same run every time);
/// without, every campaign explores anew. With `locked` (CI), Cargo.lock
/// and mms-fuzz/Cargo.lock must be up to date: the seed tests run with
/// `--locked`, and since `cargo fuzz build` has no `--locked` (nor passes
/// one through to cargo), mms-fuzz's lock file is checked with
/// `cargo metadata --locked` before it builds.
pub(crate) fn run(
    seconds: u64,
    only: &[String],
    seed: Option<u32>,
    locked: bool,
) -> Result<Vec<(String, u64)>> {
    if !have_nightly() || !have_cargo_fuzz() {
        return Err(
            "fuzzing needs a nightly toolchain and cargo-fuzz: run `cargo xtask deps`".into(),
        );
    }
    let targets: Vec<&str> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        for t in only {
            if !TARGETS.contains(&t.as_str()) {
                return Err(format!("unknown fuzz target {t}; targets: {TARGETS:?}"));
            }
        }
        only.iter().map(String::as_str).collect()
    };
    let root = root();
    let seeds = root.join("target/fuzz-seeds");
    let _ = fs::remove_dir_all(&seeds);
    // The golden, session, ASF, server and client tests write their inputs
    // as seeds.
    sh(lock(cargo().args(["test"]), locked)
        .args([
            "-q",
            "-p",
            "mms-proto",
            "--test",
            "golden",
            "--test",
            "session",
            "--test",
            "asf",
            "--test",
            "server",
            "--test",
            "client",
            "--test",
            "auth",
            "--test",
            "pair",
        ])
        .env("MMS_FUZZ_SEEDS", &seeds))?;
    if locked {
        eprintln!("$ cargo +nightly metadata --locked --manifest-path mms-fuzz/Cargo.toml");
        output(Command::new("cargo").args([
            "+nightly",
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
            "mms-fuzz/Cargo.toml",
        ]))
        .map_err(|e| format!("mms-fuzz/Cargo.lock is not up to date: {e}"))?;
    }
    sh(Command::new("cargo").args(["+nightly", "fuzz", "build", "-O", "--fuzz-dir", "mms-fuzz"]))?;

    let mut results = Vec::new();
    for t in targets {
        let corpus = root.join("mms-fuzz/corpus").join(t);
        let artifacts = root.join("mms-fuzz/artifacts").join(t);
        let seed_dir = seeds.join(t);
        let regressions = root.join("mms-fuzz/regressions").join(t);
        // Git keeps no empty directories: a target without saved inputs
        // has no regressions/<target>/ in a fresh clone.
        for d in [&corpus, &artifacts, &seed_dir, &regressions] {
            fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        eprintln!("\n--- fuzz {t} for {seconds} s ---");
        let out = Command::new("cargo")
            .current_dir(&root)
            .args(["+nightly", "fuzz", "run", "-O", "--fuzz-dir", "mms-fuzz", t])
            .arg(&corpus)
            .arg(&seed_dir)
            .arg(&regressions)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .args(seed.map(|s| format!("-seed={s}")))
            .output()
            .map_err(|e| format!("cargo fuzz run {t}: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let execs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            let crashes = fs::read_dir(&artifacts).map(|d| d.count()).unwrap_or(0);
            if crashes == 0 {
                return Err(format!(
                    "fuzz target {t}: libFuzzer stopped without saving an input (see its output above)"
                ));
            }
            return Err(format!(
                "fuzz target {t} found a failure after {execs} executions; the input is in {} — \
                 copy it into mms-fuzz/regressions/{t}/ and fix the bug",
                artifacts.display()
            ));
        }
        eprintln!("fuzz {t}: {execs} executions, no failure");
        results.push((t.to_string(), execs));
    }
    eprintln!("\nfuzz summary ({seconds} s per target):");
    for (t, n) in &results {
        eprintln!("  {t:<18} {n:>12} executions");
    }
    Ok(results)
}
