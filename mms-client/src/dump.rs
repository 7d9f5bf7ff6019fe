//! `mms dump`: a stream into a valid, seekable ASF file, finished
//! whatever ends it; `--resume` continues a partial one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use mms_client::{
    AsfWriter, Error, Finished, Options, Play, Resume, Session, Start, StopAt, StreamChoice,
};
use mms_proto::asf::PacketInfo;

use crate::Failure;
use crate::cli::{DumpArgs, MaxBitrate};

/// Connects, dumps, closes.
pub(crate) async fn run(args: DumpArgs, mut options: Options) -> Result<(), Failure> {
    let DumpArgs {
        url,
        output,
        start,
        start_packet,
        start_offset,
        rate,
        fast,
        duration,
        streams,
        max_bitrate,
        language,
        no_playlist,
        resume,
        quiet,
    } = args;
    options.streams = match (max_bitrate, language) {
        _ if !streams.is_empty() => StreamChoice::Only(streams),
        (Some(MaxBitrate::Auto), language) => StreamChoice::Measured { language },
        (Some(MaxBitrate::Fixed(n)), language) => StreamChoice::Best {
            max_bitrate: Some(n),
            language,
        },
        (None, Some(language)) => StreamChoice::Best {
            max_bitrate: None,
            language: Some(language),
        },
        (None, None) => StreamChoice::All,
    };
    options.follow_playlist = !no_playlist;
    options.acceleration = fast;
    let partial = if resume {
        if output.as_os_str() == "-" {
            return Err(Failure::Usage("--resume needs an output file, not `-`"));
        }
        Resume::open(&output).map_err(|e| Failure::Output(output.clone(), e))?
    } else {
        None
    };
    let mut session = mms_client::connect(&url, options).await?;
    let f = session.file();
    if partial.as_ref().is_some_and(|r| r.packets() > 0) && (f.is_broadcast() || !f.can_seek()) {
        let _ = session.close().await;
        return Err(Failure::Usage(
            "--resume: the server cannot seek in this stream (a broadcast?), so it cannot be continued",
        ));
    }
    let play = Play {
        start: match (&partial, start, start_packet, start_offset) {
            (Some(r), ..) => r.start(),
            (None, Some(ms), ..) => Start::Time(ms),
            (None, None, Some(n), _) => Start::Packet(n),
            (None, None, None, Some(bytes)) => Start::Offset(bytes),
            (None, None, None, None) => Start::Beginning,
        },
        stop: duration.map_or(StopAt::End, |d| StopAt::Relative(d as u32)),
        rate: rate.filter(|&r| r != 1.0),
        ..Play::default()
    };
    if let (Some(MaxBitrate::Auto), false) = (max_bitrate, quiet) {
        let _ = writeln!(
            io::stderr(),
            "mms: packet-pair bandwidth {}; streams chosen under it: {:?}",
            session
                .bandwidth()
                .map_or_else(|| "not measured".into(), |b| format!("{b} bit/s")),
            session.selected()
        );
    }
    if fast.is_some() && !session.acceleration_asked() {
        let _ = writeln!(
            io::stderr(),
            "mms: --fast not asked for: the server's version ({}) is older than 9 ([3.1.4.2.1])",
            session.server_version_text().unwrap_or("unknown")
        );
    }
    if play.rate.is_some() && !session.file().can_stride() {
        tracing::warn!("the server does not say it can stride this content; asking anyway");
    }
    let r = dump(&mut session, play, &output, duration, quiet, partial).await;
    let _ = session.close().await;
    r
}

/// Where entry `n` (0-based) of a playlist goes.
pub(crate) fn entry_path(base: &Path, n: u32) -> PathBuf {
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
    mut partial: Option<Resume>,
) -> Result<(), Failure> {
    let out_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| Failure::Output(p, e)
    };
    let mut path = entry_path(output, 0);
    let mut sink = Some(match &mut partial {
        Some(r) => {
            let w = r.writer(s.header()).map_err(out_err(&path))?;
            if !quiet {
                let _ = writeln!(
                    io::stderr(),
                    "mms: {} holds {} packets; resuming",
                    path.display(),
                    r.packets()
                );
            }
            Sink::File(w)
        }
        None => Sink::open(&path, s.header()).map_err(out_err(&path))?,
    });
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
    let mut pace = Pace::default();
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
            // Resuming: what the file holds already is checked, not
            // written again.
            if let Some(r) = partial.as_ref().filter(|_| entry == 0) {
                match r.take(&p) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => break End::Output(e),
                }
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
                pace.packet(info.send_time);
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
            "mms: over UDP: {} packets received, {} lost, {} recovered by resend, {} duplicates{}{}",
            u.received,
            u.lost,
            u.recovered,
            u.duplicates,
            // The play's last packets asked for and never answered: lost,
            // unless the server never sent them (streams not selected).
            if u.unanswered > 0 {
                format!("; {} at the end never came", u.unanswered)
            } else {
                String::new()
            },
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
    if s.acceleration_asked() && matches!(end, End::Done) && pace.real_time() {
        let _ = writeln!(
            io::stderr(),
            "mms: the server ignored --fast: {:.1} s of content came in {:.1} s",
            pace.content_s(),
            pace.wall_s()
        );
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

/// How fast the content came: Send Times against arrival, to tell when a
/// server ignored an acceleration asked for.
#[derive(Default)]
struct Pace {
    first: Option<(std::time::Instant, u32)>,
    last: Option<(std::time::Instant, u32)>,
}

impl Pace {
    fn packet(&mut self, send_time: u32) {
        let now = std::time::Instant::now();
        self.first.get_or_insert((now, send_time));
        self.last = Some((now, send_time));
    }
    fn content_s(&self) -> f64 {
        match (self.first, self.last) {
            (Some((_, a)), Some((_, b))) => f64::from(b.saturating_sub(a)) / 1000.0,
            _ => 0.0,
        }
    }
    fn wall_s(&self) -> f64 {
        match (self.first, self.last) {
            (Some((a, _)), Some((b, _))) => (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }
    /// A second or more of content that came at 0.7 of real time or
    /// slower: not accelerated.
    fn real_time(&self) -> bool {
        self.content_s() >= 1.0 && self.wall_s() >= 0.7 * self.content_s()
    }
}
