//! The one-thread event loop: many [`ClientMachine`] sessions over mio
//! sockets, each driven as mms-proto's client run loop says.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use mms_proto::asf::{HeaderSummary, PacketInfo, StreamSet};
use mms_proto::client::{
    ClientMachine, Config, Event, Input, OUTPUT_BUF_LEN, Output, Play, Transmit,
};
use mms_proto::time::Instant;
use mms_proto::wire::{Limits, Status, frame};

/// What every session of a run does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    /// `sessions` sessions open once (at most `in_flight` in their
    /// handshake at a time), play, and all stop `secs` after the last one
    /// started playing (or at the file's end).
    Paced { sessions: usize, secs: f64 },
    /// `in_flight` sessions at a time: Connect … the header, close; each
    /// is replaced as it ends, for `secs`.
    Handshakes { secs: f64 },
    /// `sessions` sessions at a time, each a whole play of the file;
    /// each is replaced as it ends, for `secs`.
    Unpaced { sessions: usize, secs: f64 },
    /// As `Paced`, on a live publishing point: no packet count, no end
    /// (ReportEndOfStream or the server closing before the stop is a
    /// listener lost); what each listener received is kept
    /// ([`Totals::listeners`]).
    Live { sessions: usize, secs: f64 },
}

impl Mode {
    /// Paced or live: every session opened once and played until the stop.
    fn held(self) -> Option<(usize, f64)> {
        match self {
            Self::Paced { sessions, secs } | Self::Live { sessions, secs } => {
                Some((sessions, secs))
            }
            _ => None,
        }
    }
}

/// What one live listener received, taken at the stop.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listener {
    /// Packets received.
    pub(crate) received: u64,
    /// LocationId (the point's packet number) of the first and the last.
    pub(crate) first: u32,
    pub(crate) last: u32,
}

/// The run's clock: µs since the generator started.
pub(crate) struct Clock(std::time::Instant);

impl Clock {
    pub(crate) fn new() -> Self {
        Self(std::time::Instant::now())
    }
    pub(crate) fn now(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }
}

/// What a run counted.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Sessions that ended as planned (handshakes, whole plays, paced
    /// plays closed cleanly).
    pub(crate) completed: u64,
    /// Sessions that ended with an error (refused, reset, protocol).
    pub(crate) failed: u64,
    /// The first error seen, for the log.
    pub(crate) first_error: Option<String>,
    /// Media packets received (in a play, before its stop was asked).
    pub(crate) packets: u64,
    /// Their payload bytes.
    pub(crate) bytes: u64,
    /// Paced: lateness of every packet, µs.
    pub(crate) lateness: Vec<u32>,
    /// Paced: packets received between every session playing and the stop.
    pub(crate) window_packets: u64,
    /// Paced: sessions whose file ended before the stop (a ramp longer
    /// than the file leaves fewer than all playing in the window).
    pub(crate) ended_early: u64,
    /// µs from start to the end of the run (all sessions closed).
    pub(crate) elapsed_us: u64,
    /// Live: every listener still playing at the stop.
    pub(crate) listeners: Vec<Listener>,
}

/// Called once, when every paced session plays (`true`) and at the stop
/// (`false`): where the caller takes its /proc snapshots.
pub(crate) type Hook<'a> = &'a mut dyn FnMut(bool);

struct Session {
    id: u64,
    stream: TcpStream,
    machine: ClientMachine,
    connected: bool,
    playing: bool,
    stopping: bool,
    out: Vec<u8>,
    pending: Vec<u8>,
    header: Vec<u8>,
    /// Arrival of the play's first packet, µs, and its Send Time, ms.
    first: Option<(u64, u32)>,
    timer: Option<u64>,
    /// Live: what it received so far (no first LocationId: nothing yet).
    heard: Listener,
    first_location: Option<u32>,
}

/// What a session tells the loop after an event.
enum Step {
    Go,
    /// Over: `Ok` as planned, `Err` with why.
    Done(Result<(), String>),
}

struct Run {
    mode: Mode,
    addr: SocketAddr,
    path: String,
    in_flight: usize,
    poll: Poll,
    slots: Vec<Option<Session>>,
    free: Vec<usize>,
    next_id: u64,
    timers: BinaryHeap<Reverse<(u64, usize, u64)>>,
    /// Sessions opened in this run.
    opened: usize,
    /// Sessions open now, and those of them not yet playing.
    open: usize,
    in_setup: usize,
    streams: Option<StreamSet>,
    /// Paced: when every session plays, and when they all stop (µs).
    all_playing: Option<u64>,
    stop_at: Option<u64>,
    stopped: bool,
    deadline: Option<u64>,
    totals: Totals,
    scratch: Vec<u8>,
    outbuf: Vec<u8>,
}

fn now_instant(us: u64) -> Instant {
    Instant(us)
}

/// Runs `mode` against `addr`, opening `path`.
pub(crate) fn run(
    mode: Mode,
    addr: SocketAddr,
    path: &str,
    in_flight: usize,
    clock: &Clock,
    hook: Hook<'_>,
) -> Result<Totals, String> {
    let start = clock.now();
    let deadline = match mode {
        Mode::Paced { .. } | Mode::Live { .. } => None,
        Mode::Handshakes { secs } | Mode::Unpaced { secs, .. } => Some(start + (secs * 1e6) as u64),
    };
    let mut r = Run {
        mode,
        addr,
        path: path.to_string(),
        in_flight: in_flight.max(1),
        poll: Poll::new().map_err(|e| format!("poll: {e}"))?,
        slots: Vec::new(),
        free: Vec::new(),
        next_id: 0,
        timers: BinaryHeap::new(),
        opened: 0,
        open: 0,
        in_setup: 0,
        streams: None,
        all_playing: None,
        stop_at: None,
        stopped: false,
        deadline,
        totals: Totals::default(),
        scratch: vec![0; 256 * 1024],
        outbuf: vec![0; OUTPUT_BUF_LEN],
    };
    let mut events = Events::with_capacity(4096);
    let mut drain_until: Option<u64> = None;
    loop {
        let now = clock.now();
        r.open_more(now);
        // Paced: the moment every session plays, and the stop.
        if let Some((sessions, secs)) = r.mode.held() {
            if r.all_playing.is_none() && r.opened == sessions && r.in_setup == 0 {
                r.all_playing = Some(now);
                r.stop_at = Some(now + (secs * 1e6) as u64);
                hook(true);
            }
            if !r.stopped && r.stop_at.is_some_and(|t| now >= t) {
                hook(false);
                r.stop_all(now);
            }
        } else if !r.stopped && r.deadline.is_some_and(|t| now >= t) {
            r.stop_all(now);
        }
        if r.stopped {
            if r.open == 0 {
                break;
            }
            // Sessions that do not finish closing in 5 s are dropped.
            let limit = *drain_until.get_or_insert(now + 5_000_000);
            if now >= limit {
                break;
            }
        }
        let mut wait = 50_000u64;
        if let Some(Reverse((t, _, _))) = r.timers.peek() {
            wait = wait.min(t.saturating_sub(now));
        }
        r.poll
            .poll(&mut events, Some(Duration::from_micros(wait)))
            .or_else(|e| {
                if e.kind() == ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(format!("poll: {e}"))
                }
            })?;
        for ev in events.iter() {
            let idx = ev.token().0;
            let now = clock.now();
            r.on_ready(idx, now, ev.is_writable());
        }
        let now = clock.now();
        while let Some(&Reverse((t, idx, id))) = r.timers.peek() {
            if t > now {
                break;
            }
            r.timers.pop();
            r.on_timer(idx, id, t, now);
        }
    }
    r.totals.elapsed_us = clock.now() - start;
    Ok(r.totals)
}

impl Run {
    fn open_more(&mut self, now: u64) {
        if self.stopped {
            return;
        }
        loop {
            let want = match self.mode {
                Mode::Paced { sessions, .. } | Mode::Live { sessions, .. } => {
                    self.opened < sessions && self.in_setup < self.in_flight
                }
                Mode::Handshakes { .. } => self.open < self.in_flight,
                Mode::Unpaced { sessions, .. } => {
                    self.open < sessions && self.in_setup < self.in_flight
                }
            };
            if !want {
                return;
            }
            if let Err(e) = self.open_one(now) {
                self.fail(e);
                // Do not spin on a refusing address.
                return;
            }
        }
    }

    fn open_one(&mut self, _now: u64) -> Result<(), String> {
        self.opened += 1;
        let mut stream = TcpStream::connect(self.addr).map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let machine = ClientMachine::new(Config::default(), &self.path, None)
            .map_err(|e| format!("machine: {e:?}"))?;
        let idx = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(idx),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("register: {e}"))?;
        self.next_id += 1;
        self.slots[idx] = Some(Session {
            id: self.next_id,
            stream,
            machine,
            connected: false,
            playing: false,
            stopping: false,
            out: Vec::new(),
            pending: Vec::new(),
            header: Vec::new(),
            first: None,
            timer: None,
            heard: Listener::default(),
            first_location: None,
        });
        self.open += 1;
        self.in_setup += 1;
        Ok(())
    }

    fn fail(&mut self, e: String) {
        self.totals.failed += 1;
        if self.totals.first_error.is_none() {
            self.totals.first_error = Some(e);
        }
    }

    fn stop_all(&mut self, now: u64) {
        self.stopped = true;
        for idx in 0..self.slots.len() {
            let step = match self.slots[idx].as_mut() {
                Some(s) => {
                    if matches!(self.mode, Mode::Live { .. }) && s.playing && !s.stopping {
                        self.totals.listeners.push(s.heard);
                    }
                    s.stopping = true;
                    match s.machine.close() {
                        Ok(()) => Step::Go,
                        Err(e) => Step::Done(Err(format!("close: {e:?}"))),
                    }
                }
                None => continue,
            };
            let step = match step {
                Step::Go => self.after(idx, now),
                done => done,
            };
            self.finish(idx, step);
        }
    }

    fn on_timer(&mut self, idx: usize, id: u64, t: u64, now: u64) {
        let step = match self.slots.get_mut(idx).and_then(Option::as_mut) {
            Some(s) if s.id == id && s.timer == Some(t) => {
                s.timer = None;
                match s.machine.handle_timeout(now_instant(now)) {
                    Ok(()) => Step::Go,
                    Err(e) => Step::Done(Err(format!("timeout: {e:?}"))),
                }
            }
            _ => return,
        };
        let step = match step {
            Step::Go => self.after(idx, now),
            done => done,
        };
        self.finish(idx, step);
    }

    fn on_ready(&mut self, idx: usize, now: u64, writable: bool) {
        let step = self.read(idx, now, writable);
        let step = match step {
            Step::Go => self.after(idx, now),
            done => done,
        };
        self.finish(idx, step);
    }

    /// Removes a session that is over and counts it.
    fn finish(&mut self, idx: usize, step: Step) {
        let Step::Done(result) = step else { return };
        let Some(mut s) = self.slots.get_mut(idx).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut s.stream);
        self.free.push(idx);
        self.open -= 1;
        if !s.playing {
            self.in_setup -= 1;
        }
        match result {
            Ok(()) => self.totals.completed += 1,
            Err(e) => self.fail(e),
        }
    }

    /// Reads what the socket has and feeds the machine.
    fn read(&mut self, idx: usize, now: u64, writable: bool) -> Step {
        let Some(s) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
            return Step::Go;
        };
        if writable && !s.connected {
            match s.stream.take_error() {
                Ok(Some(e)) | Err(e) => return Step::Done(Err(format!("connect: {e}"))),
                Ok(None) => {}
            }
            match s.stream.peer_addr() {
                Ok(_) => s.connected = true,
                Err(e) if e.kind() == ErrorKind::NotConnected => return Step::Go,
                Err(e) => return Step::Done(Err(format!("connect: {e}"))),
            }
        }
        if !s.connected {
            return Step::Go;
        }
        loop {
            let n = match s.stream.read(&mut self.scratch) {
                Ok(0) => {
                    // The server closed: as planned only once we closed.
                    let over = s.machine.phase() == mms_proto::client::Phase::Closed;
                    let _ = s.machine.connection_closed();
                    return Step::Done(if over || s.stopping {
                        Ok(())
                    } else {
                        Err("the server closed the connection".into())
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Go,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Step::Done(if s.stopping {
                        Ok(())
                    } else {
                        Err(format!("read: {e}"))
                    });
                }
            };
            let ctx = Ctx {
                mode: self.mode,
                now,
                streams: &mut self.streams,
                totals: &mut self.totals,
                window: self.all_playing.is_some() && !self.stopped,
                became_playing: false,
            };
            let mut ctx = ctx;
            let r = if s.pending.is_empty() {
                let data = &self.scratch[..n];
                feed(s, data, &mut ctx).map(|used| s.pending.extend_from_slice(&data[used..]))
            } else {
                s.pending.extend_from_slice(&self.scratch[..n]);
                let p = std::mem::take(&mut s.pending);
                let r = feed(s, &p, &mut ctx);
                let mut p = p;
                if let Ok(used) = r {
                    p.drain(..used);
                }
                s.pending = p;
                r.map(|_| ())
            };
            if ctx.became_playing {
                self.in_setup -= 1;
            }
            if let Err(e) = r {
                return Step::Done(Err(e));
            }
            if n < self.scratch.len() {
                // Most likely drained; the next read would block.
                return Step::Go;
            }
        }
    }

    /// Polls the machine's output: writes, timers, close.
    fn after(&mut self, idx: usize, now: u64) -> Step {
        let Some(s) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
            return Step::Go;
        };
        let mut close = false;
        loop {
            match s.machine.poll_output(now_instant(now), &mut self.outbuf) {
                Ok(Output::Transmit(Transmit::Tcp(n))) => {
                    s.out.extend_from_slice(&self.outbuf[..n])
                }
                Ok(Output::Transmit(_)) => return Step::Done(Err("a UDP transmit".into())),
                Ok(Output::Timeout(t)) => {
                    if s.timer != Some(t.0) {
                        s.timer = Some(t.0);
                        self.timers.push(Reverse((t.0, idx, s.id)));
                    }
                    break;
                }
                Ok(Output::Wait) => break,
                Ok(Output::Close) => {
                    close = true;
                    break;
                }
                Err(e) => return Step::Done(Err(format!("{e:?}"))),
            }
        }
        if s.connected {
            while !s.out.is_empty() {
                match s.stream.write(&s.out) {
                    Ok(n) => {
                        s.out.drain(..n);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Step::Done(if close || s.stopping {
                            Ok(())
                        } else {
                            Err(format!("write: {e}"))
                        });
                    }
                }
            }
        }
        if close {
            let planned = s.stopping || self.mode.held().is_none();
            return Step::Done(if planned {
                Ok(())
            } else {
                Err("the machine closed the session".into())
            });
        }
        Step::Go
    }
}

/// What [`feed`] needs of the run besides the session.
struct Ctx<'a> {
    mode: Mode,
    now: u64,
    streams: &'a mut Option<StreamSet>,
    totals: &'a mut Totals,
    window: bool,
    became_playing: bool,
}

/// Feeds every whole unit of `data` to the session's machine; the bytes
/// used.
fn feed(s: &mut Session, data: &[u8], ctx: &mut Ctx<'_>) -> Result<usize, String> {
    let limits = Limits::default();
    let mut used = 0;
    let now = now_instant(ctx.now);
    while used < data.len() {
        let rest = &data[used..];
        let f = match frame(rest, &limits).map_err(|e| format!("frame: {e:?}"))? {
            Status::Complete(f) => f,
            Status::Partial(_) => break,
        };
        used += f.len();
        let event = s
            .machine
            .handle_input(now, Input::tcp(f, rest))
            .map_err(|e| format!("{e:?}"))?;
        match event {
            Some(Event::HeaderPiece { data, last, .. }) => {
                if ctx.streams.is_none() {
                    s.header.extend_from_slice(data);
                }
                if last {
                    if matches!(ctx.mode, Mode::Handshakes { .. }) {
                        s.machine.close().map_err(|e| format!("close: {e:?}"))?;
                        continue;
                    }
                    let set = match *ctx.streams {
                        Some(set) => set,
                        None => {
                            let h = HeaderSummary::parse(&s.header)
                                .map_err(|e| format!("header: {e:?}"))?;
                            let set = h.all_streams();
                            *ctx.streams = Some(set);
                            set
                        }
                    };
                    s.header = Vec::new();
                    s.machine.set_streams(set);
                    s.machine
                        .play(now, &Play::default())
                        .map_err(|e| format!("play: {e:?}"))?;
                }
            }
            Some(Event::Playing) if !s.playing => {
                s.playing = true;
                ctx.became_playing = true;
            }
            Some(Event::Packet {
                data, location_id, ..
            }) => {
                if s.stopping {
                    continue;
                }
                ctx.totals.packets += 1;
                ctx.totals.bytes += data.len() as u64;
                if let Mode::Live { .. } = ctx.mode {
                    s.heard.received += 1;
                    s.heard.first = *s.first_location.get_or_insert(location_id);
                    s.heard.last = location_id;
                }
                if ctx.mode.held().is_some() {
                    if ctx.window {
                        ctx.totals.window_packets += 1;
                    }
                    let send = PacketInfo::parse(data)
                        .map_err(|e| format!("packet: {e:?}"))?
                        .send_time;
                    let (t0, s0) = *s.first.get_or_insert((ctx.now, send));
                    let arrived = ctx.now - t0;
                    let due = u64::from(send.wrapping_sub(s0)) * 1000;
                    ctx.totals
                        .lateness
                        .push(arrived.saturating_sub(due).min(u64::from(u32::MAX)) as u32);
                }
            }
            Some(Event::EndOfStream { ready: true, .. }) if !s.stopping => {
                s.stopping = true;
                ctx.totals.ended_early += 1;
                s.machine.close().map_err(|e| format!("close: {e:?}"))?;
            }
            _ => {}
        }
    }
    Ok(used)
}
