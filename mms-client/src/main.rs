//! `mms`: look at (`probe`) and download (`dump`) `mms://` streams.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use mms_client::{
    AsfWriter, Error, Finished, Options, Play, Session, Start, StopAt, StreamChoice, Transport,
};
use mms_proto::asf::PacketInfo;
use mms_proto::wire::{
    FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK, FILE_ATTRIBUTE_MMS_CANSTRIDE,
    FILE_ATTRIBUTE_MMS_LIVE, FILE_ATTRIBUTE_MMS_PLAYLIST,
};

#[derive(Parser)]
#[command(
    version,
    about = "Probe and download mms:// (MS-MMSP) streams",
    after_help = "Exit codes: 0 done; 1 output file error (e.g. a full disk); 2 bad arguments \
                  or URL; 3 host unreachable; 4 timeout; 5 file not found on the server; 6 \
                  authentication required or failed; 7 malformed or broken server; 8 other server \
                  refusal; 9 connection lost (the server closed or reset it); 130 interrupted \
                  by Ctrl-C, 143 by SIGTERM.\nWhatever ends a dump, the file written so far is \
                  finished as a valid ASF file: its header counts, sizes and durations are \
                  those of the packets it holds (after a full disk, the whole packets that \
                  fit). With `-o -` nothing can be patched: the header keeps the source's \
                  counts.\nLogs: RUST_LOG=mms_client=debug."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Seconds to connect and receive the header (also the limit for a
    /// silent server).
    #[arg(long, global = true, default_value_t = 10.0)]
    timeout: f64,
    /// How Data packets travel for mms:// URLs: `auto` (UDP, then TCP if
    /// no datagram comes in 6 s), `udp` or `tcp`. mmsu:// is UDP and
    /// mmst:// TCP whatever this says.
    #[arg(long, global = true, value_enum, default_value_t = TransportArg::Auto)]
    transport: TransportArg,
    /// Local UDP port for Data over UDP (default: any free port).
    #[arg(long, global = true)]
    udp_port: Option<u16>,
    /// Say more: `-v` what the client tolerated of the server (or logs at
    /// info), `-vv` debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Refuse what servers send against the spec (a play incarnation not
    /// asked for, a short refusal, a malformed version, Data past the
    /// packet count or not ASF, streams or time not asked for) instead of
    /// tolerating it.
    #[arg(long, global = true)]
    strict: bool,
    /// User name for a protected stream (`DOMAIN\\user` for an NTLM
    /// domain); the password comes from MMS_PASSWORD, else it is asked on
    /// the terminal. `mms://user:password@host/…` works too.
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
    /// Which scheme credentials may use: `auto` (what the server asks
    /// for), `ntlm`, or `basic` (sent with the open, base64 in the clear).
    #[arg(long, global = true, value_enum, default_value_t = AuthArg::Auto)]
    auth: AuthArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuthArg {
    Auto,
    Ntlm,
    Basic,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TransportArg {
    Auto,
    Udp,
    Tcp,
}

#[derive(Subcommand)]
enum Command {
    /// Print what the server says about a stream: version, attributes,
    /// duration, bit rate, packets and streams.
    Probe {
        /// The stream, `mms://host[:port]/path`.
        url: String,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a stream into a valid, seekable ASF file.
    Dump {
        /// The stream, `mms://host[:port]/path`.
        url: String,
        /// Output file (`-`: standard output, e.g. `| ffplay -`; a pipe
        /// keeps the source header's counts, as nothing can be patched).
        /// Further playlist entries go to NAME.2.asf, NAME.3.asf, …
        #[arg(short, long)]
        output: PathBuf,
        /// Start at this time (seconds, or `[h:]m:s`).
        #[arg(long, value_parser = parse_time)]
        start: Option<u64>,
        /// Start at this ASF packet number instead.
        #[arg(long, conflicts_with = "start")]
        start_packet: Option<u32>,
        /// Stop after this much content (seconds, or `[h:]m:s`).
        #[arg(long, value_parser = parse_time)]
        duration: Option<u64>,
        /// Stream numbers to keep (comma-separated); default: all.
        #[arg(long, value_delimiter = ',')]
        streams: Vec<u8>,
        /// Pick one stream per bit-rate/language group, best under this
        /// many bit/s (suffixes k, M).
        #[arg(long, value_parser = parse_rate, conflicts_with = "streams")]
        max_bitrate: Option<u32>,
        /// Preferred language for language groups (e.g. `en`, `fr`).
        #[arg(long, conflicts_with = "streams")]
        language: Option<String>,
        /// Stop at the end of the first playlist entry.
        #[arg(long)]
        no_playlist: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
}

/// `12`, `12.5`, `1:02`, `1:02:03.5` → milliseconds.
fn parse_time(s: &str) -> Result<u64, String> {
    let mut ms = 0f64;
    for part in s.split(':') {
        let v: f64 = part
            .parse()
            .map_err(|_| format!("{s:?} is not a time (seconds or [h:]m:s)"))?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("{s:?} is not a time"));
        }
        ms = ms * 60.0 + v * 1000.0;
    }
    if s.split(':').count() > 3 {
        return Err(format!("{s:?}: at most h:m:s"));
    }
    Ok(ms.round() as u64)
}

/// `500000`, `500k`, `1.5M` → bit/s.
fn parse_rate(s: &str) -> Result<u32, String> {
    let (num, mul) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1e3),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a bit rate"))?;
    let v = v * mul;
    if !(1.0..=u32::MAX as f64).contains(&v) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v as u32)
}

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
        ..Options::default()
    };
    match rt.block_on(run(cli.command, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Mms(e)) => fail(&e.to_string(), e.exit_code()),
        Err(Failure::Output(path, e)) => fail(&format!("{}: {e}", path.display()), 1),
        Err(Failure::Interrupted(n)) => ExitCode::from(128 + n as u8),
    }
}

fn fail(msg: &str, code: i32) -> ExitCode {
    let _ = writeln!(io::stderr(), "mms: {msg}");
    ExitCode::from(code as u8)
}

enum Failure {
    Mms(Error),
    Output(PathBuf, io::Error),
    /// Ended by this signal; the output was finished.
    Interrupted(i32),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Mms(e)
    }
}

async fn run(command: Command, mut options: Options) -> Result<(), Failure> {
    match command {
        Command::Probe { url, json } => {
            let session = mms_client::connect(&url, options).await?;
            let r = probe(&session, json);
            let _ = session.close().await;
            r.map_err(|e| Failure::Output("stdout".into(), e))
        }
        Command::Dump {
            url,
            output,
            start,
            start_packet,
            duration,
            streams,
            max_bitrate,
            language,
            no_playlist,
            quiet,
        } => {
            options.streams = if !streams.is_empty() {
                StreamChoice::Only(streams)
            } else if max_bitrate.is_some() || language.is_some() {
                StreamChoice::Best {
                    max_bitrate,
                    language,
                }
            } else {
                StreamChoice::All
            };
            options.follow_playlist = !no_playlist;
            let mut session = mms_client::connect(&url, options).await?;
            let play = Play {
                start: match (start, start_packet) {
                    (Some(ms), _) => Start::Time(ms),
                    (None, Some(n)) => Start::Packet(n),
                    (None, None) => Start::Beginning,
                },
                stop: duration.map_or(StopAt::End, |d| StopAt::Relative(d as u32)),
                ..Play::default()
            };
            let r = dump(&mut session, play, &output, duration, quiet).await;
            let _ = session.close().await;
            r
        }
    }
}

fn attributes(a: u32) -> String {
    let names = [
        (FILE_ATTRIBUTE_MMS_CANSEEK, "seekable"),
        (FILE_ATTRIBUTE_MMS_CANSTRIDE, "stridable"),
        (FILE_ATTRIBUTE_MMS_BROADCAST, "broadcast"),
        (FILE_ATTRIBUTE_MMS_LIVE, "live"),
        (FILE_ATTRIBUTE_MMS_PLAYLIST, "playlist"),
    ];
    let list: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| a & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    format!(
        "{} (0x{a:08X})",
        if list.is_empty() {
            "-".into()
        } else {
            list.join(", ")
        }
    )
}

fn probe(s: &Session, json: bool) -> io::Result<()> {
    let f = s.file();
    let streams = s.streams().map_err(io::Error::other)?;
    // As sent, whatever its shape ("0.9.75" too).
    let version = s.server_version_text().unwrap_or("-").to_string();
    let mut out = io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "url": s.url().to_string(),
            "server_version": version,
            "attributes": f.attributes,
            "broadcast": f.is_broadcast(),
            "seekable": f.can_seek(),
            "duration": f.duration,
            "bit_rate": f.bit_rate,
            "packet_size": f.packet_size,
            "packet_count": f.packet_count,
            "header_size": s.header().len(),
            "auth": s.auth_offered().map(|a| a.as_str()),
            "streams": streams,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(io::Error::other)?
        )?;
        return Ok(());
    }
    writeln!(out, "URL          {}", s.url())?;
    writeln!(out, "Server       {version}")?;
    let auth = s.auth_offered().map_or("none", |a| a.as_str());
    writeln!(out, "Auth         {auth}")?;
    writeln!(out, "Attributes   {}", attributes(f.attributes))?;
    writeln!(out, "Duration     {:.3} s", f.duration)?;
    writeln!(out, "Bit rate     {} bit/s", f.bit_rate)?;
    writeln!(out, "Packet size  {} bytes", f.packet_size)?;
    writeln!(out, "Packets      {}", f.packet_count)?;
    writeln!(out, "Header       {} bytes", s.header().len())?;
    writeln!(out, "Streams      {}", streams.len())?;
    writeln!(out, "  #  type      codec         bit rate  language")?;
    for st in &streams {
        writeln!(
            out,
            "  {:<2} {:<9} {:<12} {:>9}  {}",
            st.number,
            st.kind,
            st.codec,
            st.bit_rate,
            st.language.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

/// Where entry `n` (0-based) of a playlist goes.
fn entry_path(base: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .map_or_else(Default::default, |s| s.to_string_lossy().into_owned());
    let ext = base
        .extension()
        .map_or_else(|| "asf".to_string(), |e| e.to_string_lossy().into_owned());
    base.with_file_name(format!("{stem}.{}.{ext}", n + 1))
}

enum Sink {
    File(AsfWriter<std::fs::File>),
    Stdout(AsfWriter<io::Stdout>),
}

impl Sink {
    fn open(path: &Path, header: &[u8]) -> io::Result<Self> {
        if path.as_os_str() == "-" {
            Ok(Sink::Stdout(AsfWriter::new(io::stdout(), header)?))
        } else {
            Ok(Sink::File(AsfWriter::new(
                std::fs::File::create(path)?,
                header,
            )?))
        }
    }
    fn write_packet(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::File(w) => w.write_packet(data),
            Sink::Stdout(w) => w.write_packet(data),
        }
    }
    fn bytes(&self) -> u64 {
        match self {
            Sink::File(w) => w.bytes(),
            Sink::Stdout(w) => w.bytes(),
        }
    }
    fn finish(self) -> io::Result<Finished> {
        match self {
            Sink::File(w) => w.finish().map(|f| f.0),
            Sink::Stdout(w) => w.finish().map(|f| f.0),
        }
    }
}

/// What ended a dump.
enum End {
    /// The end of the stream (or of the part asked for).
    Done,
    /// A signal (its number): Ctrl-C, SIGTERM.
    Signal(i32),
    /// The session failed.
    Mms(Error),
    /// The output failed (a full disk).
    Output(io::Error),
}

/// The next SIGINT (Ctrl-C) or SIGTERM: its number.
async fn signalled() -> i32 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => 2,
                _ = term.recv() => 15,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    2
}

async fn dump(
    s: &mut Session,
    play: Play,
    output: &Path,
    duration: Option<u64>,
    quiet: bool,
) -> Result<(), Failure> {
    let out_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Failure::Output(p, e)
    };
    let mut path = entry_path(output, 0);
    let mut sink = Some(Sink::open(&path, s.header()).map_err(out_err(&path))?);
    let total_ms = match duration {
        Some(d) => d,
        None => {
            let start = match play.start {
                Start::Time(ms) => ms,
                _ => 0,
            };
            ((s.file().duration * 1000.0) as u64).saturating_sub(start)
        }
    };
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(total_ms.max(1));
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {prefix}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    };
    let mut entry = s.entry();
    let mut first_send: Option<u32> = None;
    let mut unwritable = 0u32;
    let began = std::time::Instant::now();
    let mut signal = std::pin::pin!(signalled());
    let end = 'dump: {
        if let Err(e) = s.play(play).await {
            break 'dump End::Mms(e);
        }
        loop {
            let next = tokio::select! {
                p = s.next_packet() => p,
                n = &mut signal => break End::Signal(n),
            };
            let p = match next {
                Ok(Some(p)) => p,
                Ok(None) => break End::Done,
                Err(e) => break End::Mms(e),
            };
            if p.entry != entry {
                // A server-side playlist's next entry: its own file.
                if let Some(done) = sink.take() {
                    if let Err(e) = done.finish() {
                        break End::Output(e);
                    }
                }
                entry = p.entry;
                path = if output.as_os_str() == "-" {
                    output.to_path_buf()
                } else {
                    entry_path(output, entry)
                };
                match Sink::open(&path, s.header()) {
                    Ok(next) => sink = Some(next),
                    Err(e) => break End::Output(e),
                }
                first_send = None;
            }
            let Some(out) = sink.as_mut() else {
                break End::Done;
            };
            match out.write_packet(&p.data) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    // Not an ASF packet of this file: the server's fault,
                    // not the output's.
                    unwritable += 1;
                    tracing::warn!(location_id = p.location_id, error = %e, "packet dropped");
                    continue;
                }
                Err(e) => break End::Output(e),
            }
            if let Ok(info) = PacketInfo::parse(&p.data) {
                let t0 = *first_send.get_or_insert(info.send_time);
                let pos = info.send_time.saturating_sub(t0) as u64;
                bar.set_position(pos.min(total_ms));
                bar.set_message(format!("{} / {}", clock(pos), clock(total_ms)));
            }
            let bytes = out.bytes();
            let secs = began.elapsed().as_secs_f64().max(1e-3);
            bar.set_prefix(format!(
                "{} {}/s",
                HumanBytes(bytes),
                HumanBytes((bytes as f64 / secs) as u64)
            ));
        }
    };
    bar.finish_and_clear();
    // The file first, whatever ended the dump; the network after.
    let finished = sink.map(Sink::finish).transpose();
    let stats = s.stats();
    tracing::info!(
        lost = stats.lost,
        bytes = stats.bytes,
        unwritable,
        foreign_incarnation = stats.foreign_incarnation,
        past_count = stats.past_count,
        not_asf = stats.not_asf,
        unselected = stats.unselected,
        past_stop = stats.past_stop,
        "dump finished"
    );
    let why = match &end {
        End::Done => "",
        End::Signal(_) => " (interrupted)",
        End::Mms(_) => " (the session failed)",
        End::Output(_) => " (the output failed)",
    };
    let to_file = output.as_os_str() != "-";
    if (s.udp() || s.fell_back_to_tcp()) && !quiet {
        let u = s.udp_stats();
        let _ = writeln!(
            io::stderr(),
            "mms: over UDP: {} packets received, {} lost, {} recovered by resend, {} duplicates{}",
            u.received,
            u.lost,
            u.recovered,
            u.duplicates,
            if s.fell_back_to_tcp() {
                "; the rest over TCP (UDP went quiet)"
            } else {
                ""
            }
        );
    }
    match &finished {
        Ok(Some(f)) if to_file && (!quiet || !matches!(end, End::Done)) => {
            let lost = if f.lost > 0 {
                format!("; {} more did not fit", f.lost)
            } else {
                String::new()
            };
            let _ = writeln!(
                io::stderr(),
                "mms: wrote {} packets to {}{why}{lost}",
                f.packets,
                path.display(),
            );
        }
        _ => {}
    }
    if let End::Signal(_) = end {
        let _ = tokio::time::timeout(Duration::from_secs(1), s.stop()).await;
    }
    match end {
        End::Done => finished.map(drop).map_err(out_err(&path)),
        End::Signal(n) => Err(Failure::Interrupted(n)),
        End::Mms(e) => Err(Failure::Mms(e)),
        End::Output(e) => Err(Failure::Output(path, e)),
    }
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_rates() {
        assert_eq!(parse_time("12.5"), Ok(12_500));
        assert_eq!(parse_time("1:02"), Ok(62_000));
        assert_eq!(parse_time("1:00:01.5"), Ok(3_601_500));
        assert!(
            parse_time("x").is_err() && parse_time("-1").is_err() && parse_time("1:2:3:4").is_err()
        );
        assert_eq!(parse_rate("500k"), Ok(500_000));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert!(parse_rate("0").is_err() && parse_rate("k").is_err());
    }

    #[test]
    fn playlist_entries_get_numbered_names() {
        assert_eq!(entry_path(Path::new("a/b.asf"), 0), Path::new("a/b.asf"));
        assert_eq!(entry_path(Path::new("a/b.asf"), 1), Path::new("a/b.2.asf"));
        assert_eq!(entry_path(Path::new("b"), 2), Path::new("b.3.asf"));
    }
}
