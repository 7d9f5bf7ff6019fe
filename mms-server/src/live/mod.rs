//! Live broadcast: publishing points (`[[live]]`), each fed by one source
//! and fanned out to every listener.
//!
//! * [`settings`]: the `[[live]]` entries.
//! * `point`: a point's current run (its broadcast header and the ring of
//!   its packets), listeners, and the sink its source feeds.
//! * `ring`: packets stored once, read by every session of every loop.
//! * `command`, `file`, `relay`: the sources, each run on the point's own
//!   thread by `supervise` (restarted with backoff), never on a loop.
//! * `archive`: each run written as a seekable ASF file.
//!
//! The protocol side is the machine's ([`mms_proto::server::Media::live`]);
//! this module only stores packets and says where a listener starts.

pub(crate) mod archive;
pub(crate) mod command;
pub(crate) mod file;
pub(crate) mod point;
pub(crate) mod relay;
pub(crate) mod ring;
pub mod settings;
pub(crate) mod source;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

pub use settings::{LiveSettings, SourceKind, Start};

use crate::conn::Conn;
use crate::content::{ContentRoot, is_playlist};
use crate::metrics::Metrics;
use crate::udp::Mailbox;
use point::{Point, PointSink, Run};

/// Every publishing point, by name.
#[derive(Debug, Default)]
pub(crate) struct Points {
    by_name: HashMap<String, Arc<Point>>,
}

impl Points {
    /// The points of the settings, their figures registered.
    pub(crate) fn new(
        settings: &[LiveSettings],
        mailboxes: Arc<[Mailbox]>,
        metrics: &Metrics,
    ) -> Self {
        let by_name = settings
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let name = s.name.trim_start_matches('/').to_string();
                let stats = metrics.add_point(&name);
                let p = Point::new(i, s.clone(), mailboxes.clone(), stats);
                (name.to_ascii_lowercase(), Arc::new(p))
            })
            .collect();
        Self { by_name }
    }

    /// The point a client's path names (without the leading `/`, ASCII
    /// case ignored as Windows Media Services did).
    pub(crate) fn get(&self, path: &str) -> Option<&Arc<Point>> {
        if self.by_name.is_empty() {
            return None;
        }
        self.by_name
            .get(&path.trim_start_matches('/').to_ascii_lowercase())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Point>> {
        self.by_name.values()
    }
}

/// A session's hold on the point it opened: it counts as a listener
/// until dropped.
#[derive(Debug)]
pub(crate) struct LiveOpen {
    pub(crate) point: Arc<Point>,
    /// The run whose header the session has; `None` while the open waits
    /// for the source's first header.
    pub(crate) run: Option<Arc<Run>>,
    /// The end of `run` was told to the machine.
    pub(crate) ended: bool,
}

impl LiveOpen {
    pub(crate) fn new(point: Arc<Point>) -> Self {
        point.listener_opened();
        Self {
            point,
            run: None,
            ended: false,
        }
    }
}

impl Drop for LiveOpen {
    fn drop(&mut self) {
        self.point.listener_closed();
    }
}

/// The sessions of a loop parked on points, by wake-up slot.
pub(crate) type Parked = [Vec<usize>; point::WAKE_SLOTS];

/// A loop's wake-up from the points of `mask`: every session parked on
/// one is serviced again (its read is asked again; a change shows then).
pub(crate) fn wake(conns: &mut Slab<Conn>, parked: &mut Parked, mask: u64, ready: &mut Vec<usize>) {
    let slots = (0..point::WAKE_SLOTS).filter(|s| mask & (1 << s) != 0);
    for k in slots.flat_map(|s| std::mem::take(&mut parked[s])) {
        let Some(c) = conns.get_mut(k) else {
            continue;
        };
        c.listed = false;
        if c.parked {
            c.parked = false;
            c.machine.live_ready();
            ready.push(k);
        }
    }
}

/// The first wait before a failed source starts again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How often an idle supervisor looks at its flags.
const TICK: Duration = Duration::from_millis(100);

/// Runs a point's source until the server stops: started at once
/// (`always`) or with the first listener (`on-demand`), restarted with a
/// backoff doubling from 1 s to `restart_max_secs` after a failure (and
/// after 1 s when it ended cleanly: a channel goes on), stopped when
/// asked. Each start is a run of its own for listeners (their
/// ReportEndOfStream at its end), unless the source's header is the same.
pub(crate) fn supervise(point: &Point, root: &ContentRoot, stop: &AtomicBool) {
    let name = point.name().to_string();
    let source = match point.settings.source() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(point = %name, error = %e, "publishing point not started");
            point.set_running(false);
            return;
        }
    };
    let max = Duration::from_secs_f64(point.settings.restart_max_secs);
    let mut backoff = FIRST_BACKOFF;
    while !stop.load(Ordering::Relaxed) {
        if !point.always() && !point.take_wanted() {
            std::thread::sleep(TICK);
            continue;
        }
        point.set_running(true);
        point.stats.restarts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(point = %name, "source starting");
        let started = Instant::now();
        // A source that panics ends its run like one that fails (the
        // sink's Drop ends the run), and is restarted.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut sink = PointSink::new(point, stop);
            let r = match &source {
                SourceKind::Command(argv) => command::run(&name, argv, &mut sink),
                SourceKind::File { path, looped } => match entries(root, path) {
                    Ok(list) => file::run(&name, &list, *looped, &mut sink),
                    Err(e) => Err(e),
                },
                SourceKind::Url(url) => relay::run(&name, url, &mut sink),
            };
            sink.finish();
            r
        }))
        .unwrap_or_else(|_| Err("the source panicked".to_string()));
        let ended_file = matches!(source, SourceKind::File { looped: false, .. }) && result.is_ok();
        match &result {
            Ok(()) => tracing::info!(point = %name, "source ended"),
            Err(e) => tracing::warn!(point = %name, error = %e, "source failed"),
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if ended_file && point.always() {
            // A file played once: the point is over.
            tracing::info!(point = %name, "publishing point stopped: its file ended");
            break;
        }
        // A source that ran a while is not failing fast: start low again.
        if started.elapsed() > max || result.is_ok() {
            backoff = FIRST_BACKOFF;
        }
        if !point.always() && point.listeners() == 0 {
            // On demand, nobody listening: wait for the next listener (not
            // one that came and went during the run).
            point.clear_wanted();
            point.set_running(false);
            continue;
        }
        let until = Instant::now() + backoff;
        tracing::info!(point = %name, wait_secs = backoff.as_secs_f64(), "source restarts");
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(TICK);
        }
        if result.is_err() {
            backoff = (backoff * 2).min(max);
        }
    }
    point.set_running(false);
    point.end_run();
}

/// The files a `file = …` source plays: the file, or a playlist's
/// entries, inside the content root.
fn entries(root: &ContentRoot, path: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let name = path.to_string_lossy();
    if is_playlist(&name) {
        root.playlist(&name).map_err(|e| format!("{name}: {e}"))
    } else {
        root.resolve(&name)
            .map(|p| vec![p])
            .map_err(|e| format!("{name}: {e}"))
    }
}
