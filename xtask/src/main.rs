//! `cargo xtask`: the project's build and check tasks.
//!
//! * `ci` — everything CI checks, in order (deps, fmt, clippy, test, no-std,
//!   the mms-proto dependency check, cargo package of the three
//!   publishable crates, docs, fuzz smoke), cargo with
//!   `--locked`; fails if a step fails or the fuzz smoke cannot run
//!   (`--fuzz-seconds 0` skips it, and says so).
//! * `deps` — installs the toolchain pieces (the no-std target, nightly,
//!   cargo-fuzz), system packages and Python packages (pyspnego,
//!   prometheus-client, through `python3 -m pip`) the tasks and tests need (idempotent).
//! * `no-std` — builds mms-proto for `thumbv7em-none-eabihf` (bare metal, no
//!   alloc) with default features off.
//! * `fuzz` — runs every fuzz target (or those named) for a while, seeded
//!   from the golden vectors and the protocol tests, and reports executions.
//! * `bench` — runs the criterion benches and writes `docs/benchmarks.md`,
//!   keeping the sections `load` and `pull` own.
//! * `load` — the release server under concurrent sessions vs raw loopback
//!   TCP, into the "Server load" section of `docs/benchmarks.md`.
//! * `pull` — the release `mms dump` vs `ffmpeg -c copy` pulling the same
//!   file from the release server, into the "Client pull" section of
//!   `docs/benchmarks.md`.
//! * `dist` — man pages and shell completions of `mms`, from its clap
//!   definitions, into `target/dist/`.
//! * `media` — generates the ASF test media with FFmpeg and GStreamer into
//!   `target/media/` (`--update-testdata` copies the committed subset into
//!   `testdata/`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod dist;
mod fuzz;
mod load;
mod media;
mod pull;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::{Parser, Subcommand};

/// The bare-metal target mms-proto must build for.
pub(crate) const NO_STD_TARGET: &str = "thumbv7em-none-eabihf";

#[derive(Parser)]
#[command(about = "mms-rs build and check tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run every CI check (installs what it needs first).
    Ci {
        /// Seconds per target for the fuzz smoke (0 skips it).
        #[arg(long, default_value_t = 4)]
        fuzz_seconds: u64,
    },
    /// Install toolchain targets, nightly + cargo-fuzz, system and Python packages.
    Deps,
    /// Build mms-proto for thumbv7em-none-eabihf with default features off.
    NoStd,
    /// Run the fuzz targets (needs nightly and cargo-fuzz: `cargo xtask deps`).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only these targets (default: all).
        targets: Vec<String>,
    },
    /// Run the criterion benches and write docs/benchmarks.md.
    Bench,
    /// `mms dump` vs `ffmpeg -c copy` pulling the same file from the release
    /// server (docs/benchmarks.md).
    Pull {
        /// Pulls per client.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Load the release server on loopback with the `mms-load` generator
    /// (paced lateness, CPU and RSS per session, handshakes/s, Mbit/s vs
    /// raw TCP).
    Load(load::Options),
    /// Man pages and shell completions of `mms`, from its clap
    /// definitions, into target/dist.
    Dist,
    /// Generate the ASF test media with FFmpeg and GStreamer into target/media.
    Media {
        /// Also copy the committed subset into testdata/.
        #[arg(long)]
        update_testdata: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Ci { fuzz_seconds } => ci(fuzz_seconds),
        Task::Deps => deps(),
        Task::NoStd => no_std(false),
        Task::Fuzz { seconds, targets } => fuzz::run(seconds, &targets, None, false).map(|_| ()),
        Task::Bench => bench::run(),
        Task::Load(options) => load::run(options),
        Task::Pull { rounds } => pull::run(rounds.max(1)),
        Task::Media { update_testdata } => media::run(update_testdata),
        Task::Dist => dist::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, inheriting stdio.
pub(crate) fn sh(cmd: &mut Command) -> Result {
    eprintln!("$ {}", show(cmd));
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("{}: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Runs a command and returns its stdout.
pub(crate) fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .current_dir(root())
        .output()
        .map_err(|e| format!("{}: {e}", show(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            show(cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// True when a nightly toolchain is installed.
pub(crate) fn have_nightly() -> bool {
    output(Command::new("rustup").args(["toolchain", "list"]))
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("nightly")))
}

/// True when `cargo fuzz` runs.
pub(crate) fn have_cargo_fuzz() -> bool {
    output(cargo().args(["fuzz", "--version"])).is_ok()
}

/// System packages the test suite needs, each with the command that shows
/// it is there when it was installed some other way (`None` for libraries:
/// only the package database knows those).
const APT_PACKAGES: &[(&str, Option<&str>)] = &[
    // ASF decoding checks (`ffmpeg -v error -i out.asf -f null -`) and `cargo xtask media`.
    ("ffmpeg", Some("ffmpeg")),
    // GStreamer's asfmux, the second muxer of `cargo xtask media`.
    ("gstreamer1.0-tools", Some("gst-launch-1.0")),
    ("gstreamer1.0-plugins-base", None),
    ("gstreamer1.0-plugins-bad", None),
    ("gstreamer1.0-libav", None),
    // VLC, a real MMS client for the server's interop tests.
    ("vlc-bin", Some("cvlc")),
    ("vlc-plugin-base", None),
    // libmms, read by a small C program the interop test builds.
    ("libmms-dev", None),
    // libavformat, for a small C program reading through FFmpeg's own MMS protocol.
    ("libavformat-dev", None),
    // MPlayer, the fourth real client.
    ("mplayer", Some("mplayer")),
    // Wireshark's MMS dissector checks what the server sends.
    ("tshark", Some("tshark")),
    // Network namespaces (`ip netns`) and kernel packet loss (nftables'
    // `numgen random`) for the UDP delivery tests: this kernel has no netem.
    ("iproute2", Some("ip")),
    ("nftables", Some("nft")),
    // Headless Chromium renders the admin status page of a live session
    // (mms-server/tests/admin.rs: its DOM and a screenshot; as root it
    // runs with --no-sandbox). About 140 MB, a minute to install.
    ("chromium", Some("chromium")),
    // A font for it (a recommendation of chromium's, not installed here).
    ("fonts-dejavu-core", None),
    // python3 and pip for the Python packages of PIP_PACKAGES.
    ("python3", Some("python3")),
    ("python3-pip", None),
];

/// Python packages the tests use, as pip requirements, each with the module
/// whose import shows it is there. They go to the `python3` on PATH, the
/// one the tests run.
const PIP_PACKAGES: &[(&str, &str)] = &[
    // An independent NTLM implementation: mms-proto/tests/ntlm_interop.rs
    // checks our Acceptor against its client and our Initiator against
    // its server.
    ("pyspnego~=0.12", "spnego"),
    // A real Prometheus text-format parser: mms-server/tests/admin.rs reads
    // /metrics with it and checks the values against a known session.
    ("prometheus-client~=0.21", "prometheus_client"),
];

/// True when `python3 -c "import MODULE"` succeeds.
pub(crate) fn have_python_module(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn pip_deps() -> Result {
    for (requirement, module) in PIP_PACKAGES {
        if have_python_module(module) {
            continue;
        }
        // Debian's own python3 refuses user installs into the system
        // (PEP 668, "externally-managed-environment"): then say we mean it.
        // A pyenv or venv python3 takes the plain form.
        let plain = sh(Command::new("python3").args(["-m", "pip", "install", requirement]));
        if plain.is_err() {
            sh(Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "--break-system-packages",
                requirement,
            ]))?;
        }
        if !have_python_module(module) {
            return Err(format!(
                "pip installed {requirement} but `python3 -c 'import {module}'` still fails"
            ));
        }
    }
    Ok(())
}

fn deps() -> Result {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|l| l.trim() == NO_STD_TARGET) {
        sh(Command::new("rustup").args(["target", "add", NO_STD_TARGET]))?;
    }
    if !have_nightly() {
        // CI's fuzz smoke and `cargo xtask fuzz` need it: no nightly is a failure.
        sh(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))
        .map_err(|e| {
            format!(
                "could not install the nightly toolchain, which the fuzz smoke of \
                 `cargo xtask ci` and `cargo xtask fuzz` need: {e}"
            )
        })?;
    }
    if !have_cargo_fuzz() {
        sh(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    // tshark's package asks whether non-root users may capture: no.
    let _ = Command::new("sh").args(["-c", "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections"]).status();
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(package, probe)| {
            let installed = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", package])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ok installed"));
            let on_path = probe.is_some_and(|p| {
                Command::new("which")
                    .arg(p)
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            !installed && !on_path
        })
        .map(|(p, _)| *p)
        .collect();
    if !missing.is_empty() {
        sh(Command::new("apt-get").arg("update"))?;
        sh(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    pip_deps()?;
    eprintln!("xtask deps: ok");
    Ok(())
}

/// Adds `--locked` when `locked`: CI's cargo runs must use Cargo.lock as
/// committed and fail if it is out of date, not rewrite it.
pub(crate) fn lock(cmd: &mut Command, locked: bool) -> &mut Command {
    if locked {
        cmd.arg("--locked");
    }
    cmd
}

/// `locked`: pass `--locked` (CI).
fn no_std(locked: bool) -> Result {
    sh(lock(
        cargo().args([
            "build",
            "-p",
            "mms-proto",
            "--no-default-features",
            "--target",
            NO_STD_TARGET,
        ]),
        locked,
    ))
}

/// Crates mms-proto may depend on (normal dependencies, any features).
/// Anything else — a runtime, an allocator-needing crate — fails CI.
const PROTO_DEP_ALLOWLIST: &[&str] = &[
    "mms-proto",
    "heapless",
    "hash32",
    "byteorder",
    "stable_deref_trait",
    // auth: RustCrypto's MD4 / MD5 / HMAC / DES / RC4 and what they share
    // (all no_std, no allocation), ctutils for constant-time equality.
    "md4",
    "md-5",
    "hmac",
    "des",
    "rc4",
    "digest",
    "cipher",
    "block-buffer",
    "crypto-common",
    "hybrid-array",
    "inout",
    "typenum",
    "ctutils",
    "cmov",
    "cfg-if",
    // auth: Basic credentials (default features off: no alloc).
    "base64",
    // auth: the NTLM message parsers (default features off), and its memchr.
    "nom",
    "memchr",
];

fn dep_check() -> Result {
    let tree = output(cargo().args([
        "tree",
        "--locked",
        "-p",
        "mms-proto",
        "-e",
        "normal",
        "--all-features",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]))?;
    let mut bad = Vec::new();
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if !name.is_empty() && !PROTO_DEP_ALLOWLIST.contains(&name) {
            bad.push(name.to_string());
        }
    }
    if bad.is_empty() {
        eprintln!("dependency check: mms-proto depends only on {PROTO_DEP_ALLOWLIST:?}");
        Ok(())
    } else {
        bad.sort();
        bad.dedup();
        Err(format!(
            "mms-proto pulls crates outside its allowlist: {bad:?} (it must stay runtime-free)"
        ))
    }
}

fn ci(fuzz_seconds: u64) -> Result {
    let start = Instant::now();
    let mut steps: Vec<(&str, Result)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result| {
        eprintln!("\n=== ci: {name} ===");
        let r = f();
        if let Err(e) = &r {
            eprintln!("=== ci: {name} FAILED: {e}");
        }
        steps.push((name, r));
    };
    step("deps", &mut deps);
    step("fmt", &mut || sh(cargo().args(["fmt", "--all", "--check"])));
    step("clippy", &mut || {
        sh(cargo().args([
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    step("test", &mut || {
        sh(cargo().args(["test", "--locked", "--workspace"]))
    });
    step("no-std", &mut || no_std(true));
    step("dependency check", &mut dep_check);
    // The publishable crates package and build from their .crate files
    // (cargo resolves mms-proto for the others from the packages it just
    // made, so no --no-verify is needed); offline, from the crates the
    // steps above fetched. In a target directory of its own, whose copies
    // of our crates are cleaned first: cargo takes a registry crate of the
    // same name and version for unchanged, so a second run would verify
    // against the first run's mms-proto. The same goes for the sources
    // cargo extracts from the packages into CARGO_HOME (by the package
    // directory's path, not its content): those are removed first too.
    step("package", &mut || {
        let dir = "target/package-verify";
        forget_extracted_packages();
        sh(cargo()
            .args(["clean", "--offline", "--target-dir", dir])
            .args(["-p", "mms-proto", "-p", "mms-client", "-p", "mms-server"]))?;
        sh(cargo().args([
            "package",
            "--locked",
            "--offline",
            "--allow-dirty",
            "--target-dir",
            dir,
            "-p",
            "mms-proto",
            "-p",
            "mms-client",
            "-p",
            "mms-server",
        ]))
    });
    step("docs", &mut || {
        sh(cargo()
            .args(["doc", "--locked", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    });
    let mut skipped: Vec<&str> = Vec::new();
    if fuzz_seconds == 0 {
        // An explicit choice, so not a failure; but said, not silent.
        eprintln!("\n=== ci: fuzz smoke SKIPPED (--fuzz-seconds 0): no fuzz target was run ===");
        skipped.push("fuzz smoke");
    } else {
        step("fuzz smoke", &mut || {
            if !have_nightly() || !have_cargo_fuzz() {
                return Err(
                    "fuzz smoke: no nightly toolchain or cargo-fuzz: run `cargo xtask deps`".into(),
                );
            }
            // A fixed seed: CI's smoke is reproducible; campaigns explore.
            fuzz::run(fuzz_seconds, &[], Some(1), true).map(|_| ())
        });
    }
    let failed: Vec<_> = steps
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(n, _)| *n)
        .collect();
    eprintln!("\n=== ci summary ({:.0?}) ===", start.elapsed());
    for (n, r) in &steps {
        eprintln!("  {:<18} {}", n, if r.is_ok() { "ok" } else { "FAILED" });
    }
    for n in &skipped {
        eprintln!("  {n:<18} SKIPPED");
    }
    println!(
        "ci: {} passed, {} failed, {} skipped",
        steps.len() - failed.len(),
        failed.len(),
        skipped.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed steps: {failed:?}"))
    }
}

/// Removes the copies of our crates that `cargo package` extracted into
/// `$CARGO_HOME/registry/src` on an earlier run: cargo keeps an extracted
/// crate whose directory exists, so a clone at the same path would verify
/// against the previous run's sources.
fn forget_extracted_packages() {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(src) else {
        return;
    };
    for reg in registries.flatten() {
        let Ok(crates) = std::fs::read_dir(reg.path()) else {
            continue;
        };
        for c in crates.flatten() {
            let name = c.file_name().to_string_lossy().into_owned();
            let ours = ["mms-proto-", "mms-client-", "mms-server-"]
                .iter()
                .any(|p| name.starts_with(p));
            if ours {
                let _ = std::fs::remove_dir_all(c.path());
            }
        }
    }
}
