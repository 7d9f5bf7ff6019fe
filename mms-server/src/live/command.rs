//! A `command` source: a program writing ASF (plain, or `-f asf_stream`)
//! on its standard output, its standard error going to the log.
//!
//! One thread — the point's own — does everything: `poll(2)` on the
//! child's stdout and stderr with a 100 ms timeout, the framing with
//! [`AsfReader`], the log lines, [`Sink::should_stop`] and the kill. Helper
//! threads reading the pipes were the alternative; they were not taken
//! because a thread blocked in `read(2)` cannot be cancelled: if a
//! grandchild holds the pipe open after the program is gone, such a
//! thread (and its buffer) would outlive the run. With `poll` nothing
//! outlives [`run`], and the memory used is the read buffer (at most
//! [`MAX_HEADER`] + 64 KiB), one stderr line (4 KiB) and nothing else.
//!
//! The program runs in a process group of its own, which is what is
//! signalled: a `sh -c '… | …'` wrapper's children are stopped with it,
//! and whatever of the group is left when the program has exited is
//! killed before the program is reaped (while its pid cannot be reused),
//! so a run leaves neither a zombie nor an orphan. (A grandchild that
//! leaves the group with `setsid` escapes; nothing short of a cgroup
//! would catch it.)

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mms_proto::asf::{AsfReader, AsfUnit, HeaderSummary};
use mms_proto::wire::Status;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};

use super::source::Sink;

/// The longest ASF header taken (with its `$H` chunk header).
const MAX_HEADER: usize = 1 << 20;
/// Bytes read from stdout at a time.
const READ_SIZE: usize = 64 * 1024;
/// The read buffer's bound: the longest unit the reader may ask for (a
/// header, or a 64 KiB `$D` chunk) and one read more.
const MAX_BUFFER: usize = MAX_HEADER + READ_SIZE;
/// A stderr line longer than this is cut.
const MAX_LINE: usize = 4096;
/// How long a wait for the child's output lasts before
/// [`Sink::should_stop`] is looked at again.
const STEP: Duration = Duration::from_millis(100);
/// After SIGTERM, the time the program has before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// After its output ended, the time the program has to exit by itself
/// before it is stopped.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Runs `argv` (argv\[0\] looked up in `PATH`), reads ASF (plain or
/// `-f asf_stream`) from its stdout with [`AsfReader`], and feeds `sink`:
/// [`Sink::header`] once the header is read, [`Sink::packet`] per data
/// packet. Its stderr goes to the log line by line (`point` = `point`;
/// a line longer than 4 KiB is cut; `\r`-terminated progress lines, as
/// FFmpeg's statistics, at debug level).
///
/// Returns when the program exits or its output ends: `Ok` if it exited
/// with status 0 after an ASF header, else `Err` ("exited with status N",
/// "killed by signal N", "not ASF: …"); when the sink refuses the header
/// (its `Err`); or, with `Ok`, when [`Sink::should_stop`] says so (looked
/// at every 100 ms at least). Whenever it returns, the program has been
/// stopped (SIGTERM to its process group, SIGKILL 2 s later) and reaped.
///
/// After the data ends (an index object, a `$E` chunk), the rest of the
/// output is read and dropped until the program exits.
pub(crate) fn run(point: &str, argv: &[String], sink: &mut dyn Sink) -> Result<(), String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "an empty command".to_string())?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let mut proc = Proc::new(child);
    tracing::info!(point, pid = proc.child.id(), command = ?argv, "source command started");
    let outcome = pump(point, &mut proc, sink);
    let result = match outcome {
        Outcome::Stopped => {
            proc.stop(point);
            Ok(())
        }
        Outcome::Failed(why) => {
            proc.stop(point);
            Err(why)
        }
        Outcome::OutputEnded { header } => {
            let deadline = Instant::now() + EXIT_GRACE;
            while !proc.exited() && Instant::now() < deadline && !sink.should_stop() {
                if proc.poll(point, Duration::from_millis(20), None).is_err() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            match proc.stop(point) {
                s if !s.success() => Err(describe(s)),
                _ if !header => Err("not ASF: the output ended before an ASF header".into()),
                _ => Ok(()),
            }
        }
    };
    match &result {
        Ok(()) => tracing::info!(point, "source command ended"),
        Err(why) => tracing::warn!(point, %why, "source command failed"),
    }
    result
}

/// How the reading ended.
enum Outcome {
    /// The sink said stop.
    Stopped,
    /// The output is over (end of file, or the program exited and nothing
    /// more comes); `header`: an ASF header was read.
    OutputEnded { header: bool },
    /// Not ASF, or the sink refused the header.
    Failed(String),
}

/// Reads the program's stdout into `sink` until it ends, fails, or the
/// sink says stop.
fn pump(point: &str, proc: &mut Proc, sink: &mut dyn Sink) -> Outcome {
    let mut reader = AsfReader::new(MAX_HEADER);
    let mut buf = vec![0u8; READ_SIZE];
    // buf[used..filled] is read and not yet framed.
    let (mut used, mut filled) = (0usize, 0usize);
    let mut need = 0usize;
    let mut header = false;
    let mut data_over = false;
    loop {
        if sink.should_stop() {
            return Outcome::Stopped;
        }
        if used > 0 {
            buf.copy_within(used..filled, 0);
            filled -= used;
            used = 0;
        }
        if need > MAX_BUFFER - READ_SIZE {
            return Outcome::Failed(format!("not ASF: a unit of {need} bytes"));
        }
        // The reader asked for `need` > `filled` bytes: there is room.
        let size = need.max(READ_SIZE);
        if buf.len() < size {
            buf.resize(size, 0);
        }
        // Whether the program had exited before this poll: then a quiet
        // pipe means nothing more comes (a grandchild holds it open).
        let exited = proc.exited();
        let n = match proc.poll(point, STEP, Some(&mut buf[filled..])) {
            Ok(Some(0)) => return Outcome::OutputEnded { header },
            Ok(Some(n)) => n,
            Ok(None) if exited => return Outcome::OutputEnded { header },
            Ok(None) => continue,
            Err(e) => return Outcome::Failed(format!("reading the output: {e}")),
        };
        if data_over {
            continue;
        }
        filled += n;
        loop {
            match reader.next(&buf[used..filled]) {
                Err(e) => return Outcome::Failed(format!("not ASF: {e}")),
                Ok(Status::Partial(n)) => {
                    need = n;
                    break;
                }
                Ok(Status::Complete(AsfUnit::Header { len, start, .. })) => {
                    let content = &buf[used + start..used + len];
                    // The reader parsed it already; a `$H` chunk may hold
                    // more than the file header.
                    let end = match HeaderSummary::parse(content) {
                        Ok(s) => s.file_header_len().min(content.len()),
                        Err(e) => return Outcome::Failed(format!("not ASF: {e}")),
                    };
                    if let Err(why) = sink.header(&content[..end]) {
                        return Outcome::Failed(why);
                    }
                    tracing::debug!(point, bytes = end, "source header");
                    header = true;
                    used += len;
                }
                Ok(Status::Complete(AsfUnit::Packet { len, start, .. })) => {
                    sink.packet(&buf[used + start..used + len]);
                    used += len;
                }
                Ok(Status::Complete(AsfUnit::End)) => {
                    tracing::debug!(point, "source data ended; the rest is dropped");
                    data_over = true;
                    used = 0;
                    filled = 0;
                    need = 0;
                    break;
                }
            }
        }
    }
}

/// "exited with status N" / "killed by signal N".
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => format!("ended: {status}"),
    }
}

/// The running program, its pipes and its stderr line.
struct Proc {
    child: Child,
    /// Its process group (its own pid).
    group: Option<Pid>,
    out: Option<ChildStdout>,
    err: Option<ChildStderr>,
    line: Line,
    reaped: Option<ExitStatus>,
}

impl Proc {
    fn new(mut child: Child) -> Self {
        Self {
            group: Some(Pid::from_child(&child)),
            out: child.stdout.take(),
            err: child.stderr.take(),
            line: Line::default(),
            reaped: None,
            child,
        }
    }

    /// Waits up to `timeout` for output; reads stderr into the log, and
    /// stdout (when `dst` is given) into `dst`: `Some(n)` bytes read
    /// (0 at its end), `None` if nothing came.
    fn poll(
        &mut self,
        point: &str,
        timeout: Duration,
        dst: Option<&mut [u8]>,
    ) -> io::Result<Option<usize>> {
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            let out_at = match (&self.out, &dst) {
                (Some(out), Some(_)) => {
                    fds.push(PollFd::new(out, PollFlags::IN));
                    Some(0)
                }
                _ => None,
            };
            let err_at = self.err.as_ref().map(|err| {
                fds.push(PollFd::new(err, PollFlags::IN));
                fds.len() - 1
            });
            if fds.is_empty() {
                std::thread::sleep(timeout);
                return Ok(None);
            }
            let ts = Timespec {
                tv_sec: timeout.as_secs() as _,
                tv_nsec: timeout.subsec_nanos() as _,
            };
            match poll(&mut fds, Some(&ts)) {
                Ok(_) => {}
                Err(Errno::INTR) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            // IN, HUP or ERR: a read will not block.
            let ready = |at: Option<usize>| at.is_some_and(|i| !fds[i].revents().is_empty());
            (ready(out_at), ready(err_at))
        };
        if err_ready {
            self.read_err(point);
        }
        match (out_ready, dst, &mut self.out) {
            (true, Some(dst), Some(out)) => match out.read(dst) {
                Ok(0) => {
                    self.out = None;
                    Ok(Some(0))
                }
                Ok(n) => Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
                Err(e) => Err(e),
            },
            _ => Ok(None),
        }
    }

    /// Reads what stderr holds (it was ready) into the log.
    fn read_err(&mut self, point: &str) {
        let Some(err) = &mut self.err else { return };
        let mut chunk = [0u8; 4096];
        match err.read(&mut chunk) {
            Ok(0) => {
                self.err = None;
                self.line.flush(point);
            }
            Ok(n) => self.line.push(point, &chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(point, error = %e, "reading the source's stderr");
                self.err = None;
            }
        }
    }

    /// Whether the program has exited (it stays a zombie until reaped, so
    /// its pid, the group's id, cannot be taken by another process).
    fn exited(&self) -> bool {
        if self.reaped.is_some() {
            return true;
        }
        let Some(pid) = self.group else { return true };
        let how = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        match waitid(WaitId::Pid(pid), how) {
            Ok(status) => status.is_some(),
            // ECHILD: not ours to wait for any more (cannot happen before
            // it is reaped); nothing to wait for.
            Err(_) => true,
        }
    }

    /// Stops the program (if it has not exited: SIGTERM to its group,
    /// SIGKILL after [`TERM_GRACE`]), kills what is left of its group and
    /// reaps it. Its stdout is closed first: a program blocked writing it
    /// gets EPIPE instead of waiting for a reader.
    fn stop(&mut self, point: &str) -> ExitStatus {
        if let Some(status) = self.reaped {
            return status;
        }
        self.out = None;
        if !self.exited() {
            if let Some(group) = self.group {
                let _ = kill_process_group(group, Signal::TERM);
            }
            let deadline = Instant::now() + TERM_GRACE;
            while !self.exited() && Instant::now() < deadline {
                // Stderr is still read: a program blocked writing it could
                // not act on SIGTERM.
                if self.poll(point, Duration::from_millis(20), None).is_err() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if !self.exited() {
                tracing::warn!(point, "source command ignored SIGTERM for 2 s: SIGKILL");
            }
        }
        let status = self.reap();
        // The group is gone: read what it left on stderr (at most 1 MiB;
        // a process that escaped the group may still be writing), then
        // close it.
        for _ in 0..256 {
            if !self.err_pending() {
                break;
            }
            self.read_err(point);
        }
        self.err = None;
        self.line.flush(point);
        status
    }

    /// Whether stderr has bytes (or its end) to read now.
    fn err_pending(&self) -> bool {
        let Some(err) = &self.err else { return false };
        let mut fds = [PollFd::new(err, PollFlags::IN)];
        matches!(poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })), Ok(n) if n > 0)
    }

    /// SIGKILL to the whole group (the program, if still running, and any
    /// process it left), then waits for the program.
    fn reap(&mut self) -> ExitStatus {
        if let Some(status) = self.reaped {
            return status;
        }
        if let Some(group) = self.group.take() {
            // ESRCH: the group is empty but for the program's zombie.
            let _ = kill_process_group(group, Signal::KILL);
        }
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(e) => {
                // Only ECHILD (reaped elsewhere) is possible: reported as
                // status 255, a failure.
                tracing::warn!(error = %e, "waiting for the source command");
                ExitStatus::from_raw(0xff00)
            }
        };
        self.reaped = Some(status);
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // `run` always stops and reaps; this is for a panic in the sink.
        if self.reaped.is_none() {
            self.reap();
        }
    }
}

/// One stderr line being collected, at most [`MAX_LINE`] bytes.
#[derive(Default)]
struct Line {
    bytes: Vec<u8>,
    cut: bool,
}

impl Line {
    /// Adds stderr bytes; logs each line they end.
    fn push(&mut self, point: &str, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            let end = chunk.iter().position(|&b| b == b'\n' || b == b'\r');
            let body = &chunk[..end.unwrap_or(chunk.len())];
            let room = MAX_LINE - self.bytes.len();
            if body.len() > room {
                self.cut = true;
            }
            self.bytes.extend_from_slice(&body[..body.len().min(room)]);
            match end {
                Some(i) => {
                    self.emit(point, chunk[i] == b'\r');
                    chunk = &chunk[i + 1..];
                }
                None => break,
            }
        }
    }

    /// Logs the line collected (a last one without its newline).
    fn flush(&mut self, point: &str) {
        self.emit(point, false);
    }

    fn emit(&mut self, point: &str, progress: bool) {
        if self.bytes.is_empty() && !self.cut {
            return;
        }
        let text = String::from_utf8_lossy(&self.bytes);
        let text = text.trim_end();
        let cut = if self.cut { " […cut at 4 KiB]" } else { "" };
        if progress {
            tracing::debug!(point, "{text}{cut}");
        } else {
            tracing::info!(point, "{text}{cut}");
        }
        self.bytes.clear();
        self.cut = false;
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
