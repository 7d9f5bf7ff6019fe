//! What the server counts, for the admin listener ([`crate::admin`]):
//! each event loop's own counters and gauges ([`LoopStats`]: relaxed
//! atomics on a cache line of their own, so the packet path pays one
//! uncontended add per packet and takes no lock), the policy's counters
//! (opens, refusals, redirects, reloads) in [`Metrics`], and the sessions
//! themselves as a snapshot the loops build only when the admin thread
//! asks for one ([`Metrics::sessions`]) — nobody looking costs one relaxed
//! load per loop turn.
//!
//! [`Metrics::render`] writes the Prometheus text exposition format
//! (version 0.0.4): `mms_` names, base units (bytes, seconds), `_total`
//! on counters.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration as StdDuration, SystemTime};

use mms_proto::machine::State;
use mms_proto::time::Instant;
use slab::Slab;

use crate::conn::Conn;
use crate::content::ContentError;

/// What one event loop reports of itself (relaxed atomics: a snapshot
/// for tests and metrics, not a synchronization). Aligned to its own
/// cache lines so loops do not share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct LoopStats {
    /// Sessions the loop holds.
    pub sessions: AtomicUsize,
    /// Entries in its timer heap (live and stale).
    pub timer_entries: AtomicUsize,
    /// Connections it has accepted since it started.
    pub accepted: AtomicUsize,
    /// Datagrams its UDP socket received (resend requests, or not).
    pub datagrams_in: AtomicUsize,
    /// Datagrams dropped before a session saw them: too long, naming no
    /// session, or a full mailbox.
    pub datagrams_dropped: AtomicUsize,
    /// Data packets its sessions sent over UDP (resends included).
    pub datagrams_out: AtomicUsize,
    /// Datagrams the socket would not take (its buffer was full): lost,
    /// as on the network.
    pub datagram_send_failures: AtomicUsize,
    /// Bytes its sessions handed to their TCP connections (every message
    /// and Data packet).
    pub tcp_bytes: AtomicU64,
    /// Bytes of the datagrams its sessions sent (Data, packet-pair,
    /// resends).
    pub udp_bytes: AtomicU64,
    /// ASF data packets sent over TCP (not the header's pieces).
    pub tcp_packets: AtomicU64,
    /// ASF data packets sent over UDP (resends not counted).
    pub udp_packets: AtomicU64,
    /// UDP Data packets sent again on a resend request ([3.2.5.13]).
    pub resent_packets: AtomicU64,
    /// Connections closed at accept: `max_sessions` reached.
    pub refused_limit: AtomicU64,
    /// Connections closed at accept: out of descriptors.
    pub refused_descriptors: AtomicU64,
    /// Time spent between a poll's return and the next poll, µs.
    pub busy_us: AtomicU64,
    /// Turns of the loop (polls returned).
    pub turns: AtomicU64,
    /// The last snapshot generation this loop answered ([`Metrics::sessions`]).
    answered: AtomicU64,
}

/// The spec's State of a session, as a label.
fn state_label(s: State) -> &'static str {
    match s {
        State::Init => "init",
        State::Ready => "ready",
        State::Streaming => "streaming",
        State::Closed => "closed",
    }
}

/// The states, in label order.
const STATES: [&str; 4] = ["init", "ready", "streaming", "closed"];

/// One session, as the status page and the gauges show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The path it opened (empty before OpenFile).
    pub path: String,
    /// The player's version from its Connect (`NSPlayer/…`), if any.
    pub player: Option<String>,
    /// `init`, `ready`, `streaming` or `closed` ([3.2.1] State).
    pub state: &'static str,
    /// `udp` when data goes over UDP, else `tcp`.
    pub transport: &'static str,
    /// The open content's bit rate, bits/s (0 before OpenFile).
    pub bit_rate: u32,
    /// How long it has been connected.
    pub connected: StdDuration,
    /// Bytes of data packets sent in the current play.
    pub play_bytes: u64,
}

impl SessionInfo {
    pub(crate) fn of(c: &Conn, now: Instant) -> Self {
        Self {
            peer: c.peer,
            path: c.answers.uri().to_string(),
            player: c.machine.client_version().map(|v| format!("NSPlayer/{v}")),
            state: state_label(c.machine.state()),
            transport: if c.machine.udp_destination().is_some() {
                "udp"
            } else {
                "tcp"
            },
            bit_rate: c.answers.content.as_ref().map_or(0, |m| m.media().bit_rate),
            connected: StdDuration::from_micros(now.0.saturating_sub(c.since.0)),
            play_bytes: c.answers.play.as_ref().map_or(0, |p| p.bytes_sent),
        }
    }
}

/// A live publishing point's figures (issue 13): registered by the point
/// when it exists, shown per point by `/metrics` and the status page.
#[derive(Debug)]
pub struct PointStats {
    /// The point's name (`mms://host/NAME`).
    pub name: String,
    /// Sessions playing it.
    pub listeners: AtomicUsize,
    /// Its source is connected and sending.
    pub source_up: AtomicBool,
    /// Times its source was (re)started.
    pub restarts: AtomicU64,
    /// Times a listener fell behind the point's buffer and skipped ahead.
    pub skips: AtomicU64,
    /// Data packets its source made.
    pub packets: AtomicU64,
    /// When it was created.
    pub created: SystemTime,
}

/// Refusals the policy counts, by reason.
#[derive(Debug, Default)]
struct Refusals {
    not_found: AtomicU64,
    forbidden: AtomicU64,
    invalid: AtomicU64,
}

/// Everything the admin listener reads: the loops' figures and the
/// policy's counters. One per server ([`crate::Server::metrics`]).
#[derive(Debug)]
pub struct Metrics {
    loops: Arc<[LoopStats]>,
    /// Each loop's last session snapshot, with the generation it answers.
    snapshots: Box<[Mutex<Vec<SessionInfo>>]>,
    /// The snapshot generation asked for.
    wanted: AtomicU64,
    started: SystemTime,
    max_sessions: usize,
    opens: AtomicU64,
    redirects: AtomicU64,
    refused: Refusals,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    last_reload_ok: AtomicBool,
    /// Unix seconds of the last successful (re)load.
    last_reload_at: AtomicU64,
    points: RwLock<Vec<Arc<PointStats>>>,
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Metrics {
    /// A registry over `loops`' figures.
    pub(crate) fn new(loops: Arc<[LoopStats]>, max_sessions: usize) -> Self {
        let started = SystemTime::now();
        Self {
            snapshots: loops.iter().map(|_| Mutex::default()).collect(),
            loops,
            wanted: AtomicU64::new(0),
            started,
            max_sessions,
            opens: AtomicU64::new(0),
            redirects: AtomicU64::new(0),
            refused: Refusals::default(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            last_reload_ok: AtomicBool::new(true),
            last_reload_at: AtomicU64::new(unix_secs(started)),
            points: RwLock::default(),
        }
    }

    /// Each loop's figures.
    pub fn loops(&self) -> &[LoopStats] {
        &self.loops
    }

    /// When the server started.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// The session limit in force.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// An OpenFile answered with content.
    pub(crate) fn opened(&self) {
        self.opens.fetch_add(1, Ordering::Relaxed);
    }

    /// An OpenFile answered with ReportRedirect.
    pub(crate) fn redirected(&self) {
        self.redirects.fetch_add(1, Ordering::Relaxed);
    }

    /// An OpenFile refused.
    pub(crate) fn open_refused(&self, why: &ContentError) {
        let c = match why {
            ContentError::NotFound => &self.refused.not_found,
            ContentError::Forbidden => &self.refused.forbidden,
            ContentError::Invalid(_) => &self.refused.invalid,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A reload was tried.
    pub(crate) fn reloaded(&self, ok: bool) {
        let c = if ok {
            self.last_reload_at
                .store(unix_secs(SystemTime::now()), Ordering::Relaxed);
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
        self.last_reload_ok.store(ok, Ordering::Relaxed);
    }

    /// Registers a publishing point's figures.
    pub fn add_point(&self, name: &str) -> Arc<PointStats> {
        let p = Arc::new(PointStats {
            name: name.to_string(),
            listeners: AtomicUsize::new(0),
            source_up: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
            skips: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            created: SystemTime::now(),
        });
        self.points
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(p.clone());
        p
    }

    /// The publishing points registered.
    pub fn points(&self) -> Vec<Arc<PointStats>> {
        self.points
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The end of loop `index`'s turn: its busy time, and a snapshot of
    /// its sessions when one was asked for since the last.
    pub(crate) fn end_turn(
        &self,
        index: usize,
        started: Instant,
        ended: Instant,
        conns: &Slab<Conn>,
    ) {
        let stats = &self.loops[index];
        stats.turns.fetch_add(1, Ordering::Relaxed);
        stats
            .busy_us
            .fetch_add(ended.0.saturating_sub(started.0), Ordering::Relaxed);
        let wanted = self.wanted.load(Ordering::Acquire);
        if stats.answered.load(Ordering::Relaxed) == wanted {
            return;
        }
        let list = conns
            .iter()
            .map(|(_, c)| SessionInfo::of(c, ended))
            .collect();
        *self.snapshots[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = list;
        stats.answered.store(wanted, Ordering::Release);
    }

    /// Every session of every loop: asks each loop for a snapshot and
    /// waits up to `wait` for the answers (a loop turns at least every
    /// 100 ms); a loop that did not answer in time gives its last one.
    pub fn sessions(&self, wait: StdDuration) -> Vec<SessionInfo> {
        let want = self.wanted.fetch_add(1, Ordering::AcqRel) + 1;
        let deadline = std::time::Instant::now() + wait;
        while self
            .loops
            .iter()
            .any(|l| l.answered.load(Ordering::Acquire) < want)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(StdDuration::from_millis(2));
        }
        self.snapshots
            .iter()
            .flat_map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    fn sum(&self, f: impl Fn(&LoopStats) -> u64) -> u64 {
        self.loops.iter().map(f).sum()
    }

    /// Bytes sent over TCP and UDP, all loops.
    pub fn bytes_sent(&self) -> u64 {
        self.sum(|l| l.tcp_bytes.load(Ordering::Relaxed) + l.udp_bytes.load(Ordering::Relaxed))
    }

    /// Connections and opens refused, all reasons.
    pub fn refused(&self) -> u64 {
        self.sum(|l| {
            l.refused_limit.load(Ordering::Relaxed) + l.refused_descriptors.load(Ordering::Relaxed)
        }) + self.refused.not_found.load(Ordering::Relaxed)
            + self.refused.forbidden.load(Ordering::Relaxed)
            + self.refused.invalid.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4) of everything, with
    /// the session gauges from `sessions`.
    pub fn render(&self, sessions: &[SessionInfo]) -> String {
        let mut out = Exposition::default();
        let r = Ordering::Relaxed;
        out.family(
            "mms_build_info",
            "gauge",
            "The running mms-server (always 1).",
        );
        out.sample(
            "mms_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );
        out.family(
            "mms_start_time_seconds",
            "gauge",
            "When the server started, Unix time.",
        );
        out.sample("mms_start_time_seconds", &[], unix_secs(self.started));

        out.family(
            "mms_sessions",
            "gauge",
            "Sessions by State ([3.2.1]) and data transport.",
        );
        for state in STATES {
            for transport in ["tcp", "udp"] {
                let n = sessions
                    .iter()
                    .filter(|s| s.state == state && s.transport == transport)
                    .count();
                out.sample(
                    "mms_sessions",
                    &[("state", state), ("transport", transport)],
                    n as u64,
                );
            }
        }
        out.family(
            "mms_sessions_limit",
            "gauge",
            "Sessions served at once at most (max_sessions).",
        );
        out.sample("mms_sessions_limit", &[], self.max_sessions as u64);

        out.family(
            "mms_connections_accepted_total",
            "counter",
            "TCP connections accepted.",
        );
        let accepted = self.sum(|l| l.accepted.load(r) as u64);
        out.sample("mms_connections_accepted_total", &[], accepted);
        out.family(
            "mms_opens_total",
            "counter",
            "OpenFile requests answered with content (handshakes that got to a file).",
        );
        out.sample("mms_opens_total", &[], self.opens.load(r));
        out.family(
            "mms_redirects_total",
            "counter",
            "OpenFile requests answered with ReportRedirect.",
        );
        out.sample("mms_redirects_total", &[], self.redirects.load(r));
        out.family(
            "mms_refused_total",
            "counter",
            "Connections closed at accept (limit: max_sessions; descriptors: the fd limit) \
             and OpenFile requests refused (not_found, forbidden, invalid), by reason.",
        );
        let refusals = [
            ("limit", self.sum(|l| l.refused_limit.load(r))),
            ("descriptors", self.sum(|l| l.refused_descriptors.load(r))),
            ("not_found", self.refused.not_found.load(r)),
            ("forbidden", self.refused.forbidden.load(r)),
            ("invalid", self.refused.invalid.load(r)),
        ];
        for (reason, n) in refusals {
            out.sample("mms_refused_total", &[("reason", reason)], n);
        }

        out.family(
            "mms_sent_bytes_total",
            "counter",
            "Bytes sent to clients, by transport (TCP: every message and Data packet; \
             UDP: every datagram).",
        );
        out.sample(
            "mms_sent_bytes_total",
            &[("transport", "tcp")],
            self.sum(|l| l.tcp_bytes.load(r)),
        );
        out.sample(
            "mms_sent_bytes_total",
            &[("transport", "udp")],
            self.sum(|l| l.udp_bytes.load(r)),
        );
        out.family(
            "mms_sent_packets_total",
            "counter",
            "ASF data packets sent, by transport (resends not counted).",
        );
        out.sample(
            "mms_sent_packets_total",
            &[("transport", "tcp")],
            self.sum(|l| l.tcp_packets.load(r)),
        );
        out.sample(
            "mms_sent_packets_total",
            &[("transport", "udp")],
            self.sum(|l| l.udp_packets.load(r)),
        );
        out.family(
            "mms_resent_packets_total",
            "counter",
            "UDP Data packets sent again on a resend request ([3.2.5.13]).",
        );
        out.sample(
            "mms_resent_packets_total",
            &[],
            self.sum(|l| l.resent_packets.load(r)),
        );
        for (name, help, f) in [
            (
                "mms_udp_datagrams_received_total",
                "Datagrams the UDP sockets received.",
                (|l: &LoopStats| l.datagrams_in.load(Ordering::Relaxed)) as fn(&LoopStats) -> usize,
            ),
            (
                "mms_udp_datagrams_dropped_total",
                "Datagrams dropped before a session saw them (malformed, no such session, full mailbox).",
                |l| l.datagrams_dropped.load(Ordering::Relaxed),
            ),
            (
                "mms_udp_send_failures_total",
                "Datagrams the socket would not take (its buffer was full).",
                |l| l.datagram_send_failures.load(Ordering::Relaxed),
            ),
        ] {
            out.family(name, "counter", help);
            out.sample(name, &[], self.sum(|l| f(l) as u64));
        }

        out.family(
            "mms_event_loop_busy_seconds_total",
            "counter",
            "Time each event loop spent working between polls.",
        );
        for (i, l) in self.loops.iter().enumerate() {
            let label = i.to_string();
            out.sample_f64(
                "mms_event_loop_busy_seconds_total",
                &[("loop", &label)],
                l.busy_us.load(r) as f64 / 1e6,
            );
        }
        for (name, kind, help, f) in [
            (
                "mms_event_loop_turns_total",
                "counter",
                "Polls each event loop returned from.",
                (|l: &LoopStats| l.turns.load(Ordering::Relaxed)) as fn(&LoopStats) -> u64,
            ),
            (
                "mms_event_loop_sessions",
                "gauge",
                "Sessions each event loop holds.",
                |l| l.sessions.load(Ordering::Relaxed) as u64,
            ),
            (
                "mms_event_loop_timer_entries",
                "gauge",
                "Entries in each event loop's timer heap.",
                |l| l.timer_entries.load(Ordering::Relaxed) as u64,
            ),
        ] {
            out.family(name, kind, help);
            for (i, l) in self.loops.iter().enumerate() {
                out.sample(name, &[("loop", &i.to_string())], f(l));
            }
        }

        let points = self.points();
        out.family(
            "mms_point_listeners",
            "gauge",
            "Sessions playing each publishing point.",
        );
        for p in &points {
            out.sample(
                "mms_point_listeners",
                &[("point", &p.name)],
                p.listeners.load(r) as u64,
            );
        }
        out.family(
            "mms_point_source_up",
            "gauge",
            "1 when a publishing point's source is connected and sending.",
        );
        for p in &points {
            out.sample(
                "mms_point_source_up",
                &[("point", &p.name)],
                u64::from(p.source_up.load(r)),
            );
        }
        out.family(
            "mms_point_restarts_total",
            "counter",
            "Times each publishing point's source was (re)started.",
        );
        for p in &points {
            out.sample(
                "mms_point_restarts_total",
                &[("point", &p.name)],
                p.restarts.load(r),
            );
        }
        out.family(
            "mms_point_skips_total",
            "counter",
            "Times a listener fell behind a point's buffer and skipped ahead.",
        );
        for p in &points {
            let n = p.skips.load(r);
            out.sample("mms_point_skips_total", &[("point", &p.name)], n);
        }
        out.family(
            "mms_point_packets_total",
            "counter",
            "Data packets each publishing point's source made.",
        );
        for p in &points {
            let n = p.packets.load(r);
            out.sample("mms_point_packets_total", &[("point", &p.name)], n);
        }

        out.family(
            "mms_config_reloads_total",
            "counter",
            "Settings reloads (SIGHUP, `mms-server reload`), by result.",
        );
        out.sample(
            "mms_config_reloads_total",
            &[("result", "success")],
            self.reloads_ok.load(r),
        );
        out.sample(
            "mms_config_reloads_total",
            &[("result", "failure")],
            self.reloads_failed.load(r),
        );
        out.family(
            "mms_config_last_reload_successful",
            "gauge",
            "1 when the last reload succeeded (or none was tried).",
        );
        out.sample(
            "mms_config_last_reload_successful",
            &[],
            u64::from(self.last_reload_ok.load(r)),
        );
        out.family(
            "mms_config_last_reload_success_timestamp_seconds",
            "gauge",
            "When the settings in force were read, Unix time.",
        );
        out.sample(
            "mms_config_last_reload_success_timestamp_seconds",
            &[],
            self.last_reload_at.load(r),
        );
        out.text
    }
}

/// The text format's writer.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // HELP text escapes `\` and newlines only.
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.text.push_str(name);
        if labels.is_empty() {
            return;
        }
        self.text.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            // Label values escape `\`, `"` and newlines.
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(self.text, "{k}=\"{v}\"");
        }
        self.text.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.text, " {value}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.labels(name, labels);
        let _ = writeln!(self.text, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_escapes_label_values_and_lists_every_family() {
        let loops: Arc<[LoopStats]> = (0..2).map(|_| LoopStats::default()).collect();
        let m = Metrics::new(loops, 10);
        m.loops()[1].tcp_bytes.fetch_add(5, Ordering::Relaxed);
        m.add_point("a\"b\\c\nd");
        let text = m.render(&[]);
        assert!(text.contains("mms_sent_bytes_total{transport=\"tcp\"} 5\n"));
        assert!(text.contains("mms_point_listeners{point=\"a\\\"b\\\\c\\nd\"} 0\n"));
        assert!(text.contains("mms_sessions{state=\"streaming\",transport=\"udp\"} 0\n"));
        assert!(text.contains("mms_event_loop_sessions{loop=\"1\"} 0\n"));
        // Every sample line follows its family's TYPE line.
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(typed.contains(name), "{line}");
            }
        }
    }
}
