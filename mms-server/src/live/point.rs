//! One publishing point: its current run (the source's header as a
//! broadcast's, and the ring of its packets), its listeners, and the
//! [`Sink`] its source feeds. Sessions on every event loop read the same
//! packets ([`Point::fetch`]); the source's thread writes them and wakes
//! the loops whose sessions wait ([`Point::park`]). A slow listener never
//! slows the source: the ring drops old packets whoever still wants them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use mms_proto::asf::{CleanStarts, HeaderSummary, StreamSet, make_live_header, same_streams};
use mms_proto::server::Media;

use super::ring::{Held, Ring};
use super::settings::{LiveSettings, Start};
use super::source::Sink;
use crate::metrics::PointStats;
use crate::udp::Mailbox;

/// The largest ASF file header a source may send.
pub(crate) const MAX_HEADER: usize = 1 << 20;
/// The largest packet size a source may declare.
pub(crate) const MAX_PACKET: u32 = 64 * 1024;
/// Wake-up slots per loop (a bit each in [`Mailbox::live`]).
pub(crate) const WAKE_SLOTS: usize = 64;
/// The smallest (no real muxer writes packets this small; tiny ones would
/// make the ring's bookkeeping outweigh its packets).
pub(crate) const MIN_PACKET: u32 = 64;

/// One run of a point: what listeners who opened it are sent.
#[derive(Debug)]
pub(crate) struct Run {
    /// 1, 2, …: a new header is a new run.
    pub(crate) id: u64,
    /// The header sent: the source's, made a broadcast's
    /// ([`make_live_header`]).
    pub(crate) header: Box<[u8]>,
    /// What ReportOpenFile says of it ([`Media::live`]).
    pub(crate) media: Media,
}

#[derive(Debug, Default)]
struct State {
    run: Option<Arc<Run>>,
    ring: Ring,
}

/// Where a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Broadcasting this run.
    Live(u64),
    /// Its source is starting (or restarting): no header yet.
    Starting,
    /// Stopped (a file played to its end, an on-demand point with no
    /// listener, the server stopping).
    Stopped,
}

/// A publishing point.
#[derive(Debug)]
pub(crate) struct Point {
    pub(crate) settings: LiveSettings,
    /// Its bit in the loops' wake-up masks (points beyond 64 share).
    slot: usize,
    state: RwLock<State>,
    /// The current run's id (0: none), read without the lock.
    run_id: AtomicU64,
    /// The source thread runs (or waits to restart).
    running: AtomicBool,
    /// A listener asked for the point (on demand: start the source).
    wanted: AtomicBool,
    /// Per loop: a session of that loop waits for this point's packets.
    waiting: Box<[AtomicBool]>,
    mailboxes: Arc<[Mailbox]>,
    pub(crate) stats: Arc<PointStats>,
    /// Packets a source sent that were not ASF data packets (dropped).
    pub(crate) bad_packets: AtomicU64,
    runs: AtomicU64,
}

impl Point {
    pub(crate) fn new(
        index: usize,
        settings: LiveSettings,
        mailboxes: Arc<[Mailbox]>,
        stats: Arc<PointStats>,
    ) -> Self {
        let always = settings.start == Start::Always;
        Self {
            slot: index % WAKE_SLOTS,
            waiting: mailboxes.iter().map(|_| AtomicBool::new(false)).collect(),
            settings,
            state: RwLock::default(),
            run_id: AtomicU64::new(0),
            // An `always` point is starting from the moment it exists (its
            // supervisor may not have run yet when the first open comes).
            running: AtomicBool::new(always),
            wanted: AtomicBool::new(false),
            mailboxes,
            stats,
            bad_packets: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        }
    }

    /// Its wake-up slot: sessions parked on it are listed there, and its
    /// packets wake only them.
    pub(crate) fn slot(&self) -> usize {
        self.slot
    }

    /// The name clients open.
    pub(crate) fn name(&self) -> &str {
        self.settings.name.trim_start_matches('/')
    }

    /// Where the point is.
    pub(crate) fn status(&self) -> Status {
        match self.run_id.load(Ordering::Acquire) {
            0 if self.running.load(Ordering::Acquire) => Status::Starting,
            0 => Status::Stopped,
            id => Status::Live(id),
        }
    }

    /// The current run.
    pub(crate) fn current(&self) -> Option<Arc<Run>> {
        self.read().run.clone()
    }

    /// A listener opens the point: an on-demand source starts.
    pub(crate) fn listener_opened(&self) {
        self.stats.listeners.fetch_add(1, Ordering::Relaxed);
        self.wanted.store(true, Ordering::Release);
    }

    /// A listener left.
    pub(crate) fn listener_closed(&self) {
        self.stats.listeners.fetch_sub(1, Ordering::Relaxed);
    }

    /// Listeners now.
    pub(crate) fn listeners(&self) -> usize {
        self.stats.listeners.load(Ordering::Relaxed)
    }

    /// Whether an on-demand point should start (a listener came since it
    /// stopped). Clears the request.
    pub(crate) fn take_wanted(&self) -> bool {
        self.wanted.swap(false, Ordering::AcqRel) || self.listeners() > 0
    }

    /// Whether the point's source runs from the start.
    pub(crate) fn always(&self) -> bool {
        self.settings.start == Start::Always
    }

    /// Forgets listeners that came and went (an on-demand point idles).
    pub(crate) fn clear_wanted(&self) {
        self.wanted.store(false, Ordering::Release);
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Release);
    }

    /// Packet `n` of run `run` for a listener needing `needs` to start
    /// cleanly ([`Run::needs`]); a listener of an older run gets
    /// [`Held::Later`] (the change reaches it through [`Self::status`]).
    pub(crate) fn fetch(&self, run: u64, n: u64, needs: (StreamSet, StreamSet)) -> Held {
        let s = self.read();
        if s.run.as_ref().map(|r| r.id) != Some(run) {
            return Held::Later;
        }
        let held = s.ring.get(n, needs.0, needs.1);
        if matches!(held, Held::Skip(_)) {
            self.stats.skips.fetch_add(1, Ordering::Relaxed);
        }
        held
    }

    /// Where a listener of run `run` joins ([`Ring::join`]).
    pub(crate) fn join(&self, run: u64, needs: (StreamSet, StreamSet)) -> Option<u64> {
        let s = self.read();
        (s.run.as_ref().map(|r| r.id) == Some(run)).then(|| s.ring.join(needs.0, needs.1))
    }

    /// Whether packet `n` of run `run` is there (or the run is over).
    pub(crate) fn has(&self, run: u64, n: u64) -> bool {
        let s = self.read();
        s.run.as_ref().map(|r| r.id) != Some(run) || s.ring.next() > n
    }

    /// A session of loop `index` waits for the next packet: that loop is
    /// woken when it comes.
    pub(crate) fn park(&self, index: usize) {
        if let Some(w) = self.waiting.get(index) {
            w.store(true, Ordering::Release);
        }
    }

    /// Wakes the loops with waiting sessions (`all`: every loop, for a
    /// change every session must see).
    fn notify(&self, all: bool) {
        for (w, m) in self.waiting.iter().zip(self.mailboxes.iter()) {
            if w.swap(false, Ordering::AcqRel) || all {
                m.live.fetch_or(1 << self.slot, Ordering::AcqRel);
                if let Some(waker) = m.waker.get() {
                    let _ = waker.wake();
                }
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A run starts with `header` (already a broadcast's); `same` keeps
    /// the current run (and its numbering) when only identity fields
    /// differ.
    fn start_run(&self, header: Box<[u8]>, media: Media) -> bool {
        let mut s = self.write();
        if let Some(r) = &s.run
            && same_streams(&r.header, &header)
        {
            return false;
        }
        let id = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        s.run = Some(Arc::new(Run { id, header, media }));
        s.ring = Ring::default();
        self.run_id.store(id, Ordering::Release);
        drop(s);
        self.notify(true);
        true
    }

    fn push(&self, bytes: Arc<[u8]>, starts: CleanStarts, keep: Duration) {
        self.write().ring.push(bytes, starts, Instant::now(), keep);
        self.notify(false);
    }

    /// The run is over (the source ended): listeners get ReportEndOfStream.
    pub(crate) fn end_run(&self) {
        let mut s = self.write();
        s.run = None;
        s.ring = Ring::default();
        self.run_id.store(0, Ordering::Release);
        drop(s);
        self.stats.source_up.store(false, Ordering::Relaxed);
        self.notify(true);
    }
}

/// The sink a point's source feeds, for one start of the source.
pub(crate) struct PointSink<'a> {
    point: &'a Point,
    stop: &'a AtomicBool,
    keep: Duration,
    packet_size: usize,
    /// On demand: since when the point has had no listener.
    alone_since: Cell<Option<Instant>>,
    archive: Option<super::archive::Archive>,
}

impl<'a> PointSink<'a> {
    pub(crate) fn new(point: &'a Point, stop: &'a AtomicBool) -> Self {
        Self {
            point,
            stop,
            keep: Duration::from_secs_f64(point.settings.buffer_secs),
            packet_size: 0,
            alone_since: Cell::new(None),
            archive: None,
        }
    }

    /// The source stopped: the run ends, and its archive is finished
    /// (what dropping the sink does, however the source ended).
    pub(crate) fn finish(self) {}

    fn close_archive(&mut self) {
        if let Some(a) = self.archive.take() {
            match a.finish() {
                Ok(path) => {
                    tracing::info!(point = self.point.name(), file = %path.display(), "archive written")
                }
                Err(e) => {
                    tracing::warn!(point = self.point.name(), error = %e, "archive not finished")
                }
            }
        }
    }
}

/// However the source ended (returned, or panicked and unwound): the run
/// ends — listeners get ReportEndOfStream — and its archive is finished.
impl Drop for PointSink<'_> {
    fn drop(&mut self) {
        self.close_archive();
        self.point.end_run();
    }
}

impl Sink for PointSink<'_> {
    fn header(&mut self, header: &[u8]) -> Result<(), String> {
        if header.len() > MAX_HEADER {
            return Err(format!(
                "header of {} bytes (at most {MAX_HEADER})",
                header.len()
            ));
        }
        let summary = HeaderSummary::parse(header).map_err(|e| format!("not ASF: {e}"))?;
        if !(MIN_PACKET..=MAX_PACKET).contains(&summary.packet_size) {
            return Err(format!(
                "packet size {} ({MIN_PACKET}..={MAX_PACKET})",
                summary.packet_size
            ));
        }
        let mut live = header[..summary.file_header_len().min(header.len())].to_vec();
        make_live_header(&mut live).map_err(|e| format!("header: {e}"))?;
        let media = Media::live(&summary);
        self.packet_size = summary.packet_size as usize;
        let new = self.point.start_run(live.into_boxed_slice(), media);
        self.point.stats.source_up.store(true, Ordering::Relaxed);
        if new {
            tracing::info!(
                point = self.point.name(),
                streams = summary.streams.len(),
                packet_size = summary.packet_size,
                bit_rate = summary.total_bitrate(),
                "source header: a new run"
            );
            self.close_archive();
            if let Some(dir) = &self.point.settings.archive {
                match super::archive::Archive::create(dir, self.point.name(), header) {
                    Ok(a) => self.archive = Some(a),
                    Err(e) => {
                        tracing::warn!(point = self.point.name(), dir = %dir.display(), error = %e, "archive not started")
                    }
                }
            }
        }
        Ok(())
    }

    fn packet(&mut self, packet: &[u8]) {
        let p = self.packet_size;
        if p == 0 || packet.len() > p {
            self.point.bad_packets.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // One allocation: the packet, zero-padded to the packet size.
        let pad = std::iter::repeat_n(0u8, p - packet.len());
        let bytes: Arc<[u8]> = packet.iter().copied().chain(pad).collect();
        let Ok(starts) = CleanStarts::of(&bytes) else {
            self.point.bad_packets.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if let Some(a) = self.archive.as_mut()
            && let Err(e) = a.packet(&bytes)
        {
            // A packet the writer cannot read is left out; any other error
            // is the disk's: the archive of this run ends there (valid).
            if e.kind() != std::io::ErrorKind::InvalidData {
                tracing::warn!(point = self.point.name(), error = %e, "archive stopped");
                self.close_archive();
            }
        }
        self.point.stats.packets.fetch_add(1, Ordering::Relaxed);
        self.point.push(bytes, starts, self.keep);
    }

    fn should_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.point.always() || self.point.listeners() > 0 {
            self.alone_since.set(None);
            return false;
        }
        let since = self.alone_since.get().unwrap_or_else(Instant::now);
        self.alone_since.set(Some(since));
        since.elapsed().as_secs_f64() >= self.point.settings.idle_stop_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = include_bytes!("../../../testdata/ff_av.wmv");

    fn a_point() -> Point {
        let settings: LiveSettings =
            toml::from_str("name = \"p\"\nfile = \"x.wmv\"\nstart = \"on-demand\"\n").unwrap();
        let metrics = crate::metrics::Metrics::new(Arc::from(Vec::new()), 10);
        let mailboxes: Arc<[Mailbox]> = (0..1).map(|_| Mailbox::default()).collect();
        Point::new(0, settings, mailboxes, metrics.add_point("p"))
    }

    fn header() -> Vec<u8> {
        let s = HeaderSummary::parse(FILE).unwrap();
        FILE[..s.file_header_len()].to_vec()
    }

    fn packets() -> impl Iterator<Item = &'static [u8]> {
        let s = HeaderSummary::parse(FILE).unwrap();
        FILE[s.file_header_len()..]
            .chunks_exact(s.packet_size as usize)
            .take(s.packet_count as usize)
    }

    #[test]
    fn a_run_lasts_while_its_source_sends_the_same_streams() {
        let p = a_point();
        let stop = AtomicBool::new(false);
        let mut sink = PointSink::new(&p, &stop);
        sink.header(&header()).unwrap();
        let first = p.current().unwrap().id;
        for pk in packets().take(3) {
            sink.packet(pk);
        }
        // The same header with another File ID (an encoder starting over).
        let mut again = header();
        let at = again.len() - 50 + 24;
        again[at] ^= 0xFF;
        sink.header(&again).unwrap();
        assert_eq!(p.current().unwrap().id, first);
        assert_eq!(p.stats.packets.load(Ordering::Relaxed), 3);
        // Another header is another run, numbered from 0.
        let other = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/ff_audio.wma"
        ))
        .unwrap();
        let s = HeaderSummary::parse(&other).unwrap();
        sink.header(&other[..s.file_header_len()]).unwrap();
        let second = p.current().unwrap();
        assert_ne!(second.id, first);
        assert!(second.media.live);
        assert_eq!(
            p.join(second.id, (StreamSet::EMPTY, StreamSet::EMPTY)),
            Some(0)
        );
        // The source ends, however: the run ends.
        drop(sink);
        assert_eq!(p.current().map(|r| r.id), None);
        assert_eq!(p.status(), Status::Stopped);
    }

    #[test]
    fn what_a_source_sends_is_bounded() {
        let p = a_point();
        let stop = AtomicBool::new(false);
        let mut sink = PointSink::new(&p, &stop);
        assert!(sink.header(b"not ASF at all").is_err());
        // A packet before any header, and one longer than the packet size.
        sink.packet(&[0u8; 100]);
        sink.header(&header()).unwrap();
        let p_size = HeaderSummary::parse(FILE).unwrap().packet_size as usize;
        sink.packet(&vec![0x82; p_size + 1]);
        // Garbage of the right size.
        sink.packet(&vec![0xFF; p_size]);
        assert_eq!(p.stats.packets.load(Ordering::Relaxed), 0);
        assert_eq!(p.bad_packets.load(Ordering::Relaxed), 3);
        // A packet given shorter than the packet size (a relay's, padding
        // stripped on the wire) is zero-padded.
        let first = packets().next().unwrap();
        let used = first.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        sink.packet(&first[..used]);
        let run = p.current().unwrap().id;
        match p.fetch(run, 0, (StreamSet::EMPTY, StreamSet::EMPTY)) {
            Held::Packet(b) => assert_eq!(b.len(), p_size),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_always_point_is_starting_before_its_supervisor_runs() {
        // An open in the first instant waits for the header, not a refusal.
        let settings: LiveSettings = toml::from_str("name = \"a\"\nfile = \"x.wmv\"\n").unwrap();
        let metrics = crate::metrics::Metrics::new(Arc::from(Vec::new()), 10);
        let mailboxes: Arc<[Mailbox]> = (0..1).map(|_| Mailbox::default()).collect();
        let p = Point::new(0, settings, mailboxes, metrics.add_point("a"));
        assert_eq!(p.status(), Status::Starting);
        assert_eq!(
            a_point().status(),
            Status::Stopped,
            "on demand: off until a listener"
        );
    }

    #[test]
    fn an_on_demand_point_forgets_listeners_that_came_and_went() {
        let p = a_point();
        assert!(!p.take_wanted());
        p.listener_opened();
        assert!(p.take_wanted());
        p.listener_opened();
        p.listener_closed();
        p.listener_closed();
        // The supervisor idles the point: nobody is waiting.
        p.clear_wanted();
        assert!(!p.take_wanted());
        assert_eq!(p.listeners(), 0);
    }
}
