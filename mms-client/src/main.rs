//! `mms`: look at (`probe`) and download (`dump`) `mms://` streams.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mms_client::{Error, Options, Transport};

mod cli;
mod dump;
mod probe;

use cli::{AuthArg, Cli, Command, TransportArg};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                match cli.verbose {
                    0 => "warn",
                    1 => "info",
                    _ => "debug",
                }
                .into()
            }),
        )
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}"), 1),
    };
    let timeout = Duration::from_secs_f64(cli.timeout.clamp(0.1, 3600.0));
    let transport = match cli.transport {
        TransportArg::Auto => Transport::Auto,
        TransportArg::Udp => Transport::Udp,
        TransportArg::Tcp => Transport::Tcp,
    };
    let login = match cli.user.map(mms_client::login_for_user).transpose() {
        Ok(l) => l,
        Err(e) => return fail(&e.to_string(), e.exit_code()),
    };
    let options = Options {
        login,
        auth: match cli.auth {
            AuthArg::Auto => mms_client::AuthMode::Auto,
            AuthArg::Ntlm => mms_client::AuthMode::Ntlm,
            AuthArg::Basic => mms_client::AuthMode::Basic,
        },
        connect_timeout: timeout,
        read_timeout: timeout.max(Duration::from_secs(5)),
        transport,
        udp_port: cli.udp_port,
        strict: cli.strict,
        proxy: cli.proxy,
        ..Options::default()
    };
    match rt.block_on(run(cli.command, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Mms(e)) => fail(&e.to_string(), e.exit_code()),
        Err(Failure::Output(path, e)) => fail(&format!("{}: {e}", path.display()), 1),
        Err(Failure::Usage(msg)) => fail(msg, 2),
        Err(Failure::Interrupted(n)) => ExitCode::from(128 + n as u8),
    }
}

fn fail(msg: &str, code: i32) -> ExitCode {
    let _ = writeln!(io::stderr(), "mms: {msg}");
    ExitCode::from(code as u8)
}

pub(crate) enum Failure {
    Mms(Error),
    Output(PathBuf, io::Error),
    /// Arguments that do not go together (exit 2).
    Usage(&'static str),
    /// Ended by this signal; the output was finished.
    Interrupted(i32),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Mms(e)
    }
}

async fn run(command: Command, options: Options) -> Result<(), Failure> {
    match command {
        Command::Probe(args) => probe::run(args, options).await,
        Command::Dump(args) => dump::run(args, options).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn playlist_entries_get_numbered_names() {
        assert_eq!(
            dump::entry_path(Path::new("a/b.asf"), 0),
            Path::new("a/b.asf")
        );
        assert_eq!(
            dump::entry_path(Path::new("a/b.asf"), 1),
            Path::new("a/b.2.asf")
        );
        assert_eq!(dump::entry_path(Path::new("b"), 2), Path::new("b.3.asf"));
    }
}
