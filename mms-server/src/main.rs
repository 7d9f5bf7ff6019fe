//! `mms-server`: serves a directory of ASF files over MMS (TCP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mms_proto::server::Config;
use mms_proto::time::Duration;
use mms_server::content::ContentRoot;
use mms_server::{Options, Server};

#[derive(Parser)]
#[command(
    version,
    about = "Serve a folder of .asf/.wma/.wmv files over MMS (mms://, mmst://)"
)]
struct Cli {
    /// Folder to serve (default: the bundled demo folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:1755")]
    listen: SocketAddr,
    /// Send data as fast as the client reads (downloads, benchmarks).
    #[arg(long)]
    unpaced: bool,
    /// Seconds to keep a connection open after the end of a stream.
    #[arg(long, default_value_t = 3)]
    linger: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let root = cli
        .root
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo"));
    let root = match ContentRoot::new(&root) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(root = %root.display(), error = %e, "cannot serve this folder");
            return ExitCode::FAILURE;
        }
    };
    let options = Options {
        session: Config {
            paced: !cli.unpaced,
            linger: Some(Duration::from_secs(cli.linger)),
            ..Config::default()
        },
    };
    let mut server = match Server::bind(cli.listen, root.clone(), options) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(listen = %cli.listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().map_or(cli.listen, |a| a);
    tracing::info!(root = %root.path().display(), %addr, "serving");
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
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            tracing::warn!(error = %e, "cannot handle signals; stop with SIGKILL");
        }
    }
    match server.run(|| stop.load(std::sync::atomic::Ordering::Relaxed)) {
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
