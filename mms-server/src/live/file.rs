//! A `file` source: files of the content root (a file, or a playlist's
//! entries) played in real time as a channel, each packet released when
//! its ASF Send Time is due.
//!
//! The clock: the first packet is released at once (t0), every later one
//! at t0 + the sum of the Send Time steps between consecutive packets,
//! across entries and loops. A step backwards (the next entry, or the
//! same one again, starts near 0) or forwards by more than 60 s (a
//! timestamp jump inside a file) counts as 0, so a new entry follows the
//! last packet of the one before without a pause or a burst. A source that
//! falls more than 5 s behind (the machine stalled) starts its clock again
//! from now instead of catching up in a burst.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mms_proto::asf::PacketInfo;

use super::source::Sink;
use crate::content::ContentRoot;

/// A Send Time step longer than this is a discontinuity (counts as 0), ms.
const MAX_STEP_MS: u32 = 60_000;
/// The longest sleep between looks at [`Sink::should_stop`].
const STEP: Duration = Duration::from_millis(100);
/// Further behind than this, the clock starts again from now.
const MAX_BEHIND: Duration = Duration::from_secs(5);

/// Plays `entries` (files already resolved inside the content root) in
/// real time as a channel: for each entry, [`Sink::header`] with its
/// header, then its packets, each released when due by its Send Time (see
/// the module's clock). At the end of the list: starts over if `looped`,
/// else returns `Ok`. Sleeps in steps of at most 100 ms and returns `Ok`
/// as soon as [`Sink::should_stop`] says so.
///
/// An entry that cannot be opened is logged and skipped; `Err` if none of
/// them can be, if a whole pass has no packet, or if the sink refuses a
/// header.
pub(crate) fn run(
    point: &str,
    entries: &[PathBuf],
    looped: bool,
    sink: &mut dyn Sink,
) -> Result<(), String> {
    play(point, entries, looped, sink, &mut RealClock(Instant::now()))
}

/// Time for the pacing: the real clock, or a test's.
trait Clock {
    /// Time since some fixed origin.
    fn now(&self) -> Duration;
    /// Waits `d` (at most [`STEP`]).
    fn sleep(&mut self, d: Duration);
}

/// The monotonic clock, from its creation.
struct RealClock(Instant);

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// When packets are due.
#[derive(Debug)]
struct Pace {
    /// When the next packet is due (the last one's due time, then its
    /// step added).
    due: Duration,
    /// The last packet's Send Time.
    last: Option<u32>,
}

impl Pace {
    fn new(now: Duration) -> Self {
        Self {
            due: now,
            last: None,
        }
    }

    /// When a packet of Send Time `send` (`None`: unreadable, no step) is
    /// due.
    fn due(&mut self, point: &str, send: Option<u32>, now: Duration) -> Duration {
        if let Some(send) = send {
            let step = match self.last {
                Some(last) if send >= last && send - last <= MAX_STEP_MS => send - last,
                _ => 0,
            };
            self.due += Duration::from_millis(u64::from(step));
            self.last = Some(send);
        }
        if now > self.due + MAX_BEHIND {
            tracing::warn!(
                point,
                behind_ms = (now - self.due).as_millis() as u64,
                "file source fell behind; its clock starts again"
            );
            self.due = now;
        }
        self.due
    }
}

/// How a wait ended.
#[derive(PartialEq)]
enum Wait {
    Due,
    Stop,
}

/// Sleeps until `due` in steps of at most [`STEP`], looking at
/// `should_stop` before each (and once when nothing is left to wait).
fn wait_until(due: Duration, clock: &mut dyn Clock, sink: &dyn Sink) -> Wait {
    loop {
        if sink.should_stop() {
            return Wait::Stop;
        }
        let now = clock.now();
        if now >= due {
            return Wait::Due;
        }
        clock.sleep((due - now).min(STEP));
    }
}

/// [`run`] on a given clock.
fn play(
    point: &str,
    entries: &[PathBuf],
    looped: bool,
    sink: &mut dyn Sink,
    clock: &mut dyn Clock,
) -> Result<(), String> {
    // The entries are resolved already: `open_path` takes them as they
    // are and only parses them (once per file version, cached here across
    // loops); the root is not looked at.
    let root = ContentRoot::new(Path::new("/")).map_err(|e| format!("content: {e}"))?;
    let mut pace = Pace::new(clock.now());
    let mut packet = Vec::new();
    loop {
        let (mut opened, mut played) = (0usize, 0u64);
        for path in entries {
            if sink.should_stop() {
                return Ok(());
            }
            let content = match root.open_path(path.clone()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(point, file = %path.display(), error = %e, "entry skipped");
                    continue;
                }
            };
            opened += 1;
            let count = content.media().packet_count;
            tracing::info!(point, file = %path.display(), packets = count, "playing");
            sink.header(content.header())?;
            for n in 0..count {
                if let Err(e) = content.read_packet(n, &mut packet) {
                    tracing::warn!(point, file = %path.display(), packet = n, error = %e,
                        "unreadable packet; the rest of the entry is skipped");
                    break;
                }
                let send = PacketInfo::parse(&packet).ok().map(|i| i.send_time);
                let due = pace.due(point, send, clock.now());
                if wait_until(due, clock, sink) == Wait::Stop {
                    return Ok(());
                }
                sink.packet(&packet);
                played += 1;
            }
        }
        if opened == 0 {
            return Err(format!("none of {} entries could be opened", entries.len()));
        }
        if played == 0 {
            return Err("no packets to play".into());
        }
        if !looped {
            tracing::info!(point, "file source ended");
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// A clock that moves only when slept on.
    struct FakeClock(Rc<Cell<Duration>>);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            self.0.get()
        }
        fn sleep(&mut self, d: Duration) {
            assert!(d <= STEP && !d.is_zero(), "a sleep of {d:?}");
            self.0.set(self.0.get() + d);
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Event {
        Header(Vec<u8>),
        /// Its release time (ms) and bytes.
        Packet(u64, Vec<u8>),
    }

    /// Collects events, stamped with the clock; asks to stop after
    /// `stop_after` events or at `stop_at` (real time).
    struct TestSink {
        clock: Rc<Cell<Duration>>,
        real: Instant,
        events: Vec<Event>,
        stop_after: usize,
        stop_at: Option<Duration>,
        stop_asked: Cell<Option<Instant>>,
    }

    impl TestSink {
        fn new(clock: &Rc<Cell<Duration>>) -> Self {
            Self {
                clock: clock.clone(),
                real: Instant::now(),
                events: Vec::new(),
                stop_after: usize::MAX,
                stop_at: None,
                stop_asked: Cell::new(None),
            }
        }
        fn times(&self) -> Vec<u64> {
            self.events
                .iter()
                .filter_map(|e| match e {
                    Event::Packet(t, _) => Some(*t),
                    Event::Header(_) => None,
                })
                .collect()
        }
    }

    impl Sink for TestSink {
        fn header(&mut self, header: &[u8]) -> Result<(), String> {
            self.events.push(Event::Header(header.to_vec()));
            Ok(())
        }
        fn packet(&mut self, packet: &[u8]) {
            let t = self.clock.get().as_millis() as u64;
            self.events.push(Event::Packet(t, packet.to_vec()));
        }
        fn should_stop(&self) -> bool {
            let stop = self.events.len() >= self.stop_after
                || self.stop_at.is_some_and(|t| self.real.elapsed() >= t);
            if stop && self.stop_asked.get().is_none() {
                self.stop_asked.set(Some(Instant::now()));
            }
            stop
        }
    }

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name)
            .canonicalize()
            .unwrap()
    }

    /// What a file plays: its header, then its packets (no times).
    fn expected(name: &str) -> Vec<Event> {
        let root = ContentRoot::new(&testdata("")).unwrap();
        let c = root.open(name).unwrap();
        let mut events = vec![Event::Header(c.header().to_vec())];
        for n in 0..c.media().packet_count {
            let mut p = Vec::new();
            c.read_packet(n, &mut p).unwrap();
            events.push(Event::Packet(0, p));
        }
        events
    }

    fn untimed(events: &[Event]) -> Vec<Event> {
        events
            .iter()
            .map(|e| match e {
                Event::Packet(_, p) => Event::Packet(0, p.clone()),
                h => h.clone(),
            })
            .collect()
    }

    fn play_fake(
        entries: &[&str],
        looped: bool,
        stop_after: usize,
    ) -> (TestSink, Result<(), String>) {
        let clock = Rc::new(Cell::new(Duration::from_secs(1000)));
        let mut sink = TestSink::new(&clock);
        sink.stop_after = stop_after;
        let entries: Vec<PathBuf> = entries.iter().map(|e| testdata("").join(e)).collect();
        let r = play("test", &entries, looped, &mut sink, &mut FakeClock(clock));
        (sink, r)
    }

    #[test]
    fn entries_play_in_order_released_by_send_time() {
        // ff_audio.wma is plain, ff_live.asf MMSH-chunked.
        let (sink, r) = play_fake(&["ff_audio.wma", "ff_live.asf"], false, usize::MAX);
        r.unwrap();
        let mut want = expected("ff_audio.wma");
        want.extend(expected("ff_live.asf"));
        assert_eq!(untimed(&sink.events), want);
        let t: Vec<u64> = sink.times().iter().map(|t| t - 1_000_000).collect();
        // ff_audio.wma's Send Times, then ff_live.asf's (0, 46, 446, …)
        // from where the first ended: its step back to 0 counts as 0.
        assert_eq!(&t[..5], [0, 696, 1393, 2089, 2786]);
        assert_eq!(&t[5..9], [2786, 2786 + 46, 2786 + 446, 2786 + 789]);
        assert_eq!(t[15], 2786 + 2647);
    }

    #[test]
    fn a_loop_starts_over_without_a_pause_or_a_burst() {
        let one = expected("ff_audio.wma").len() + expected("gst_audio.wma").len();
        let (sink, r) = play_fake(&["ff_audio.wma", "gst_audio.wma"], true, 2 * one + 1);
        r.unwrap();
        let events = untimed(&sink.events);
        assert_eq!(events.len(), 2 * one + 1);
        assert_eq!(events[..one], events[one..2 * one], "played again");
        assert_eq!(events[2 * one], events[0], "and again");
        let t: Vec<u64> = sink.times().iter().map(|t| t - 1_000_000).collect();
        // ff_audio.wma 0..2786, gst_audio.wma 0, 1068, 2182 after it, then
        // ff_audio.wma again from there.
        assert_eq!(&t[..8], [0, 696, 1393, 2089, 2786, 2786, 3854, 4968]);
        assert_eq!(&t[8..13], [4968, 5664, 6361, 7057, 7754]);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_send_time_jump_counts_as_zero() {
        // gst_av.wmv: 0, 1068, 2182, then 3600000100 and 3600002800.
        let (sink, r) = play_fake(&["gst_av.wmv"], false, usize::MAX);
        r.unwrap();
        let t: Vec<u64> = sink.times().iter().map(|t| t - 1_000_000).collect();
        assert_eq!(t, [0, 1068, 2182, 2182, 4882]);
    }

    #[test]
    fn entries_that_cannot_be_opened_are_skipped() {
        let (sink, r) = play_fake(
            &["missing.wmv", "gst_audio.wma", "README.md"],
            false,
            usize::MAX,
        );
        r.unwrap();
        assert_eq!(untimed(&sink.events), expected("gst_audio.wma"));
        let (sink, r) = play_fake(&["missing.wmv", "README.md"], true, usize::MAX);
        assert!(r.unwrap_err().contains("could be opened"));
        assert!(sink.events.is_empty());
    }

    #[test]
    fn a_slice_plays_in_real_time_and_stops_when_told() {
        // gst_audio.wma: Send Times 0 to 2182 ms.
        let entries = [testdata("gst_audio.wma")];
        let mut sink = TestSink::new(&Rc::new(Cell::new(Duration::ZERO)));
        let t0 = Instant::now();
        run("test", &entries, false, &mut sink).unwrap();
        let took = t0.elapsed();
        assert!(
            (Duration::from_millis(1091)..Duration::from_millis(3273)).contains(&took),
            "{took:?} for 2182 ms"
        );
        assert_eq!(untimed(&sink.events), expected("gst_audio.wma"));
        // Looped, told to stop 300 ms in: it does within 100 ms or so.
        let mut sink = TestSink::new(&Rc::new(Cell::new(Duration::ZERO)));
        sink.stop_at = Some(Duration::from_millis(300));
        run("test", &entries, true, &mut sink).unwrap();
        let late = sink.stop_asked.get().unwrap().elapsed();
        assert!(late < Duration::from_millis(500), "{late:?}");
    }
}
