//! [3.2.2] The server's timers — Idle-Timeout and KeepAlive — and the
//! linger after ReportEndOfStream, as deadlines; [3.2.6] their events.

use super::{Phase, ServerError, ServerMachine};
use crate::time::{Duration, Instant};

/// The session's deadlines (`None`: not running).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timers {
    /// Idle-Timeout ([3.2.2]): runs outside STREAMING and the header
    /// transfer; ends the session ([3.2.6.2]).
    idle: Option<Instant>,
    /// KeepAlive ([3.2.2]): armed once playing; a Ping when it fires
    /// ([3.2.6.1]).
    keepalive: Option<Instant>,
    /// Close at this time unless the client closes first (after
    /// ReportEndOfStream; interop-notes).
    linger: Option<Instant>,
    /// The setup limit ([`super::Config::setup_timeout`]).
    setup: SetupTimer,
}

/// The setup limit's life: armed when the machine first sees the time,
/// over once ReportOpenFile goes out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum SetupTimer {
    #[default]
    Unarmed,
    Until(Instant),
    Done,
}

impl Timers {
    /// [3.2.2]: starting a running timer has no effect.
    pub(super) fn start_idle(&mut self, now: Instant, period: Duration) {
        if self.idle.is_none() {
            self.idle = Some(now + period);
        }
    }

    /// A play starts: Idle-Timeout and linger stop, KeepAlive runs.
    pub(super) fn playing(&mut self, now: Instant, keepalive: Duration) {
        self.idle = None;
        self.linger = None;
        self.keepalive = Some(now + keepalive);
    }

    /// [3.2.5.1], [3.2.5.2] Receiving or sending restarts KeepAlive (once
    /// it runs).
    pub(super) fn touch_keepalive(&mut self, now: Instant, period: Duration) {
        if self.keepalive.is_some() {
            self.keepalive = Some(now + period);
        }
    }

    /// ReportEndOfStream went out: close after `linger` unless the client
    /// does first.
    pub(super) fn linger(&mut self, now: Instant, linger: Option<Duration>) {
        self.linger = linger.map(|l| now + l);
    }

    /// Starts the setup limit the first time the machine sees `now`.
    pub(super) fn arm_setup(&mut self, now: Instant, limit: Option<Duration>) {
        if self.setup == SetupTimer::Unarmed {
            self.setup = limit.map_or(SetupTimer::Done, |l| SetupTimer::Until(now + l));
        }
    }

    /// Setup is over (ReportOpenFile): the limit no longer applies.
    pub(super) fn setup_done(&mut self) {
        self.setup = SetupTimer::Done;
    }

    fn setup_deadline(&self) -> Option<Instant> {
        match self.setup {
            SetupTimer::Until(t) => Some(t),
            SetupTimer::Unarmed | SetupTimer::Done => None,
        }
    }

    /// The earliest deadline; the Idle-Timeout does not count while
    /// `busy` (streaming or sending the header).
    pub(super) fn next(&self, busy: bool) -> Option<Instant> {
        let idle = self.idle.filter(|_| !busy);
        [idle, self.keepalive, self.linger, self.setup_deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}

impl ServerMachine {
    /// Timers: Idle-Timeout, the linger and the setup limit end the
    /// session ([3.2.6.2]);
    /// KeepAlive sends a Ping ([3.2.6.1]). Never fails today; the result
    /// is the same convention as the client machine's.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ServerError> {
        let passed = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        if passed(self.timers.idle)
            || passed(self.timers.linger)
            || passed(self.timers.setup_deadline())
        {
            self.timers.idle = None;
            self.timers.linger = None;
            self.timers.setup = SetupTimer::Done;
            self.close();
        }
        if passed(self.timers.keepalive) && !self.out.closing() {
            self.timers.keepalive = Some(now + self.config.keepalive);
            // A full reply queue already says the client is not reading.
            self.out.ping();
        }
        Ok(())
    }

    /// The session is over: Close once the queued replies are out.
    pub(super) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.out.close();
    }
}
