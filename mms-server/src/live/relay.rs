//! The relay source of a `[[live]]` point (`url = "mms://…"`): one
//! upstream session to another MMS server, whose header and data packets
//! feed the point's [`Sink`].
//!
//! The relay runs on its point's own thread, in a current-thread tokio
//! runtime it makes for the run, never on an event loop:
//!
//! * a slow or dead upstream (a connect that hangs, a server that stops
//!   sending) must never stall a loop that serves hundreds of listeners;
//!   here it stalls only its own thread, which still looks at
//!   [`Sink::should_stop`] every [`STOP_CHECK`];
//! * connecting, following redirects, answering a challenge, playing and
//!   reading packets are straight-line code in mms-client, not a state
//!   machine woven into the loop's readiness events;
//! * the client is [`mms_client`], the runtime that is tested against
//!   real servers (redirects, credentials in the URL, servers' faults
//!   tolerated and counted), not a second client written for the server.
//!
//! One call of [`run`] is one upstream session: it returns when the
//! upstream ends (`Ok`), fails (`Err`), or the sink says stop (`Ok`).
//! Reconnecting, with backoff, is the caller's.

use std::future::Future;
use std::time::Duration;

use mms_client::{Error, Options, Session, Start, StreamChoice, Transport};
use mms_proto::asf::HeaderSummary;

use super::source::Sink;

/// How often the relay looks at [`Sink::should_stop`] while it waits for
/// the upstream (connecting, playing, between packets), at the latest.
pub(crate) const STOP_CHECK: Duration = Duration::from_millis(50);

/// How long a stopped or ended relay gives the upstream session to close
/// politely (CloseFile) before it drops the connection.
const CLOSE_WAIT: Duration = Duration::from_millis(100);

/// Pulls `url` (`mms://` and `mmst://` over TCP; `mmsu://` has its Data
/// over UDP) with one upstream session and feeds `sink` until the
/// upstream ends, fails, or `sink.should_stop()`.
///
/// It connects (following redirects, with the credentials of the URL if
/// any), selects every stream, plays from the live edge (the beginning,
/// for a file), and gives the sink the upstream's ASF file header as
/// received, then each data packet as received (padding stripped: the
/// sink pads). When the upstream moves to a new header (a server-side
/// playlist's next entry, a broadcast's stream change: ReportEndOfStream
/// hr 1, ReportStreamChange, the new header) the sink gets the new
/// header, then its packets.
///
/// `Ok` for a clean end of stream or a stop, `Err` (why) for a failure or
/// a header the sink refused. It returns within about [`STOP_CHECK`] +
/// 100 ms of `should_stop` turning true, whatever it is waiting for. It
/// never reconnects: its caller restarts it. Must not be called from
/// inside a tokio runtime (it makes its own).
pub(crate) fn run(point: &str, url: &str, sink: &mut dyn Sink) -> Result<(), String> {
    let shown = without_userinfo(url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the relay's runtime: {e}"))?;
    let began = std::time::Instant::now();
    let mut tally = Tally::default();
    let end = runtime.block_on(relay(point, url, &shown, sink, &mut tally));
    let secs = began.elapsed().as_secs_f64();
    let Tally {
        packets,
        bytes,
        headers,
        missing,
    } = tally;
    match &end {
        Ok(how) => {
            let how = match how {
                End::Ended => "relay: the upstream ended",
                End::Stopped => "relay stopped",
            };
            tracing::info!(point, url = %shown, packets, bytes, headers, missing, secs, "{how}");
        }
        Err(error) => tracing::warn!(
            point,
            url = %shown,
            packets,
            bytes,
            headers,
            missing,
            secs,
            %error,
            "relay failed"
        ),
    }
    end.map(drop)
}

/// Why a relay session ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The upstream's end of stream.
    Ended,
    /// The sink said stop.
    Stopped,
}

/// What one run passed on, for its last log line.
#[derive(Debug, Default)]
struct Tally {
    /// Data packets given to the sink.
    packets: u64,
    /// Their bytes, as received.
    bytes: u64,
    /// Headers given to the sink (1 + the upstream's header changes).
    headers: u32,
    /// Packets of an entry that never came (a gap in its LocationIds).
    missing: u64,
}

/// The session: connect, header, play, packets; then a polite close.
async fn relay(
    point: &str,
    url: &str,
    shown: &str,
    sink: &mut dyn Sink,
    tally: &mut Tally,
) -> Result<End, String> {
    let options = Options {
        // Every stream, so local listeners choose among all of them.
        streams: StreamChoice::All,
        // `mms://` over TCP: packets complete and in order, no UDP port
        // for a firewall to block. (`mmsu://` asks for UDP explicitly.)
        transport: Transport::Tcp,
        // A playlist's next entry (or a broadcast's stream change) is the
        // same run with a new header.
        follow_playlist: true,
        ..Options::default()
    };
    tracing::info!(point, url = %shown, "relay connecting");
    let Some(connected) = until_stopped(&*sink, mms_client::connect(url, options)).await else {
        return Ok(End::Stopped);
    };
    let mut session = connected.map_err(|e| format!("connecting: {e}"))?;
    let file = session.file();
    let (header_len, packet_size) = header_facts(session.header(), file.packet_size);
    tracing::info!(
        point,
        url = %shown,
        upstream = %session.url(),
        server = session.server_version_text().unwrap_or("?"),
        header_len,
        packet_size,
        broadcast = file.is_broadcast(),
        udp = session.udp(),
        streams = ?session.selected(),
        "relay connected"
    );
    let end = stream(point, shown, &mut session, sink, tally).await;
    // A clean end or a stop: say goodbye, briefly. A failed session is
    // dropped (its connection closed) as it is.
    if end.is_ok() {
        let _ = tokio::time::timeout(CLOSE_WAIT, session.close()).await;
    }
    end
}

/// Header, play, packets, until the end, a failure or a stop.
async fn stream(
    point: &str,
    shown: &str,
    session: &mut Session,
    sink: &mut dyn Sink,
    tally: &mut Tally,
) -> Result<End, String> {
    sink.header(session.header())
        .map_err(|e| format!("the upstream's header: {e}"))?;
    tally.headers += 1;
    // From the live edge: a broadcast starts where it is now whatever the
    // position asked; a file from its beginning.
    match until_stopped(&*sink, session.play_from(Start::Beginning)).await {
        None => return Ok(End::Stopped),
        Some(r) => r.map_err(|e| format!("playing: {e}"))?,
    }
    let mut entry = session.entry();
    let mut next_location: Option<u32> = None;
    loop {
        // A fast upstream never makes the wait below wait: look here too.
        if sink.should_stop() {
            return Ok(End::Stopped);
        }
        let packet = match until_stopped(&*sink, session.next_packet()).await {
            None => return Ok(End::Stopped),
            Some(Ok(Some(p))) => p,
            Some(Ok(None)) => return Ok(End::Ended),
            Some(Err(e)) => return Err(receiving(e)),
        };
        if packet.entry != entry {
            // The session holds the new entry's header by the time its
            // first packet comes (TCP is in order; over UDP the client
            // orders packets by sequence).
            entry = packet.entry;
            next_location = None;
            let (header_len, packet_size) =
                header_facts(session.header(), session.file().packet_size);
            tracing::info!(
                point,
                url = %shown,
                entry,
                header_len,
                packet_size,
                "relay: the upstream's header changed"
            );
            sink.header(session.header())
                .map_err(|e| format!("the upstream's new header (entry {entry}): {e}"))?;
            tally.headers += 1;
        }
        if let Some(want) = next_location
            && packet.location_id > want
        {
            let gap = u64::from(packet.location_id - want);
            tally.missing += gap;
            tracing::debug!(
                point,
                url = %shown,
                from = want,
                packets = gap,
                "relay: packets missing"
            );
        }
        next_location = packet.location_id.checked_add(1);
        tally.packets += 1;
        tally.bytes += packet.data.len() as u64;
        sink.packet(&packet.data);
    }
}

/// A failure while packets come, told as a sentence.
fn receiving(e: Error) -> String {
    match e {
        Error::Protocol(mms_proto::client::ClientError::ConnectionClosed) => {
            "the upstream closed the connection mid-stream".to_string()
        }
        e => format!("receiving: {e}"),
    }
}

/// The header's length and its packet size (ReportOpenFile's when the
/// header does not parse; the sink says why it refuses it).
fn header_facts(header: &[u8], reported: u32) -> (usize, u32) {
    let size = HeaderSummary::parse(header).map_or(reported, |h| h.packet_size);
    (header.len(), size)
}

/// `work`, unless the sink says stop first (then `None`, and `work` is
/// dropped: mms-client's futures cancel when dropped). The sink is looked
/// at every [`STOP_CHECK`] while `work` waits.
async fn until_stopped<T>(sink: &dyn Sink, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        // The work first: when it is ready at once (a fast upstream) no
        // timer is set; the caller looks at the sink before each packet.
        biased;
        r = work => Some(r),
        () = stopped(sink) => None,
    }
}

/// Ready once the sink says stop.
async fn stopped(sink: &dyn Sink) {
    while !sink.should_stop() {
        tokio::time::sleep(STOP_CHECK).await;
    }
}

/// `url` for a log line: anything that may be `user:password@` replaced
/// by `…@`. Stricter than the client's parse (which ends the authority at
/// the first `/` or `?`): everything between `://` and the last `@` goes,
/// so a password holding a `/` is not shown either, at the price of part
/// of a path that holds an `@`.
fn without_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
