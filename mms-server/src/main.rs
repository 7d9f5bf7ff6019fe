//! `mms-server`: serves a directory of ASF files over MMS (TCP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mms_server::access_log::AccessLog;
use mms_server::auth_policy::AuthPolicy;
use mms_server::config::Settings;
use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

#[derive(Parser)]
#[command(
    version,
    about = "Serve a folder of .asf/.wma/.wmv files over MMS (mms://, mmst://)",
    after_help = "Flags override the config file; the file's keys are documented in \
                  mms-server/src/config.rs and docs/server.md.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Folder to serve (default: the bundled demo folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:1755].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML settings file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Send data as fast as the client reads (downloads, benchmarks).
    #[arg(long)]
    unpaced: bool,
    /// Seconds to keep a connection open after the end of a stream [default: 3].
    #[arg(long)]
    linger: Option<f64>,
    /// Event loops (threads); 0 = one per core [default: 0].
    #[arg(long)]
    threads: Option<usize>,
    /// Append a W3C access log line per play to this file (`-`: stdout).
    #[arg(long)]
    access_log: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Set a user's password in a users file (`[auth] users`), created
    /// mode 0600 if missing. The password is read from the terminal
    /// without echo, or as one line from standard input; only its NT hash
    /// is stored.
    Passwd {
        /// The users file.
        file: PathBuf,
        /// The user name.
        name: String,
    },
}

/// `mms-server passwd FILE NAME`.
#[allow(clippy::print_stderr)] // a command's answer to the operator, not a log line
fn passwd(file: &std::path::Path, name: &str) -> ExitCode {
    use std::io::IsTerminal;
    if let Err(why) = mms_server::users::check_name(name) {
        eprintln!("mms-server passwd: bad user name: {why}");
        return ExitCode::from(2);
    }
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("password for {name}: "))
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| {
            let end = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(end);
            line
        })
    };
    let password = match password {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mms-server passwd: cannot read the password: {e}");
            return ExitCode::FAILURE;
        }
    };
    match mms_server::users::passwd(file, name, &password) {
        Ok(()) => {
            eprintln!("mms-server passwd: {} updated for {name}", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mms-server passwd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: Cli) -> Result<Settings, String> {
    let mut s = match &cli.config {
        Some(path) => Settings::from_file(path).map_err(|e| e.to_string())?,
        None => Settings::default(),
    };
    if let Some(root) = cli.root {
        s.root = Some(root);
    }
    if let Some(listen) = cli.listen {
        s.listen = listen;
    }
    if cli.unpaced {
        s.paced = false;
    }
    if let Some(linger) = cli.linger {
        s.linger_secs = linger;
    }
    if let Some(threads) = cli.threads {
        s.threads = threads;
    }
    if let Some(log) = cli.access_log {
        s.access_log = Some(log);
    }
    s.check().map_err(|e| e.to_string())?;
    Ok(s)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(Command::Passwd { file, name }) = &cli.command {
        return passwd(file, name);
    }
    let s = match settings(cli) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("bad settings: {e}");
            return ExitCode::from(2);
        }
    };
    let auth = match &s.auth {
        // The users file is checked now (mode 0600, every line), so a bad
        // one stops the start.
        Some(auth) => match mms_server::users::Users::load(&auth.users)
            .map_err(|e| e.to_string())
            .and_then(|users| {
                tracing::info!(users = users.len(), protect = ?auth.protect, "users file read");
                AuthPolicy::new(auth, users).map_err(|e| e.to_string())
            }) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let root = s
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo"));
    let root = match ContentRoot::new(&root) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(root = %root.display(), error = %e, "cannot serve this folder");
            return ExitCode::FAILURE;
        }
    };
    let access_log = match &s.access_log {
        Some(path) => match AccessLog::open(path) {
            Ok(l) => Some(Arc::new(l)),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot open the access log");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let options = Options {
        access_log,
        auth,
        ..s.options()
    };
    let loops = options.loops;
    let server = match Server::bind(s.listen, root.clone(), options) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(listen = %s.listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().map_or(s.listen, |a| a);
    tracing::info!(root = %root.path().display(), %addr, loops, paced = s.paced, "serving");
    let fd_limit = mms_server::fd_limit();
    let allowed = mms_server::sessions_for_fd_limit();
    if s.max_sessions > allowed {
        tracing::warn!(
            max_sessions = s.max_sessions,
            fd_limit,
            allowed,
            "max_sessions is more than the descriptor limit allows (raise it with `ulimit -n`); connections past it are refused"
        );
    } else {
        tracing::info!(
            max_sessions = s.max_sessions,
            fd_limit,
            "sessions at most (by default what the descriptor limit allows, one descriptor each)"
        );
    }
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let port = if addr.port() == 1755 {
        String::new()
    } else {
        format!(":{}", addr.port())
    };
    tracing::info!(
        "try: vlc mmst://{host}{port}/demo.wmv   or   ffmpeg -i mmst://{host}{port}/demo.wmv -c copy -f asf out.asf"
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            tracing::warn!(error = %e, "cannot handle signals; stop with SIGKILL");
        }
    }
    match server.run(&stop) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server stopped");
            ExitCode::FAILURE
        }
    }
}
