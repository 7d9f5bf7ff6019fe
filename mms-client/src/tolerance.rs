//! The session's side of the machine's tolerance
//! ([`mms_proto::client::ClientMachine::trim`]): the buffer a trimmed
//! packet is rewritten into, and one log line (info, `mms -v`) the first
//! time each fault of the server is tolerated in a play.

use mms_proto::client::{ClientError, ClientMachine, Stats, Trimmed, UdpStats};

/// The packet to hand out: `Some(None)` as received, `Some(Some(bytes))`
/// rewritten, `None` dropped.
pub(crate) fn trim<'b>(
    m: &mut ClientMachine,
    data: &[u8],
    buf: &'b mut Vec<u8>,
) -> Result<Option<Option<&'b [u8]>>, ClientError> {
    let size = m.file().map_or(0, |f| f.packet_size as usize);
    let want = size.max(data.len()) + 2;
    if buf.len() < want {
        buf.resize(want, 0);
    }
    Ok(match m.trim(data, buf)? {
        Trimmed::Keep => Some(None),
        Trimmed::Rewritten(n) => Some(Some(&buf[..n])),
        Trimmed::Drop => None,
    })
}

/// Logs, once, a server that accepted UDP and sends Data over TCP.
pub(crate) fn note_udp(before: &UdpStats, after: &UdpStats) {
    if before.tcp_data == 0 && after.tcp_data > 0 {
        tracing::info!("the server accepted UDP and sends Data over TCP: taken");
    }
}

/// Logs each kind of tolerated fault when its count leaves 0.
pub(crate) fn note(before: &Stats, after: &Stats) {
    let first = |b: u32, a: u32| b == 0 && a > 0;
    if first(before.foreign_incarnation, after.foreign_incarnation) {
        tracing::info!(
            "the server labels media with a play incarnation it was not asked for: taken as the play's"
        );
    }
    if first(before.past_count, after.past_count) {
        tracing::info!("the server sends Data past the declared packet count: dropped");
    }
    if first(before.not_asf, after.not_asf) {
        tracing::info!("the server sends Data that is no ASF packet: dropped");
    }
    if first(before.unselected, after.unselected) {
        tracing::info!(
            "the server ignores the stream selection: the client filters the streams itself"
        );
    }
    if first(before.past_stop, after.past_stop) {
        tracing::info!("the server ignores the stop position: the client cuts and stops the play");
    }
}
