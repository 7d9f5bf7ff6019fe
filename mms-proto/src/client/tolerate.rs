//! Tolerance, explicit: what servers in the wild send that the spec does
//! not allow, accepted and counted in [`Stats`](super::Stats) — or, with
//! [`Config::strict`](super::Config::strict), refused as the error it is.
//! The same discipline as the server machine's.
//!
//! | fault | tolerated as | counted in | strict |
//! |---|---|---|---|
//! | media labelled with a playIncarnation other than the StartPlaying's ([2.2.2], [3.1.5.17]; a server that labels every play 4) | the play's, when no earlier play is in flight | `foreign_incarnation` | unexpected data |
//! | a report cut short after a failure hr (a 48-byte ReportOpenFile refusing the open, [2.2.4.7]) | that failure | — | malformed |
//! | a ServerVersionInfo that is not `major.minor[.x.y]` ("0.9.75", [2.2.4.2]) | kept as text ([`ClientMachine::server_version_text`]), no Server-Version | — | malformed (the message's `check_strict`) |
//! | Data past the declared filePacketCount (the file's Simple Index sent as one more packet) | dropped | `past_count` | unexpected data |
//! | Data that does not parse as an ASF data packet | dropped | `not_asf` | malformed |
//! | payloads of streams StreamSwitch turned off ([3.1.4.3]; a server that ignores it) | filtered out by [`ClientMachine::trim`] | `unselected` | unexpected data |
//! | packets past the frameOffset stop ([2.2.4.25]; a server that ignores it) | dropped, and the machine stops the play | `past_stop` | unexpected data |

use crate::asf::{PacketInfo, Padding, Rewritten, Selection, rewrite, validate};
use crate::wire::{DataPacketRepr, Error, HResult, MessageId, StopAt, TCP_HEADER_LEN};

use super::{ClientError, ClientMachine, Phase};

/// A wire text as a bounded string (what does not fit or decode is
/// dropped or replaced).
pub(super) fn text<const N: usize>(t: crate::wire::Utf16Str<'_>) -> heapless::String<N> {
    let mut s = heapless::String::new();
    for c in t.chars() {
        if s.push(c).is_err() {
            break;
        }
    }
    s
}

impl ClientMachine {
    /// ServerVersionInfo as the server sent it, whatever its shape
    /// (Server-Version, [`ClientMachine::server_version`], is set only
    /// when it parses).
    pub fn server_version_text(&self) -> Option<&str> {
        self.setup.server_version_text()
    }
}

/// What [`ClientMachine::trim`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trimmed {
    /// Use the packet as received.
    Keep,
    /// Use the first `n` bytes of the buffer instead (the packet at the
    /// file's packet size, payloads of unselected streams removed).
    Rewritten(usize),
    /// Nothing of it is wanted: drop it.
    Drop,
}

/// Reports whose message starts with hr after chunkLen and MID.
const HR_FIRST: [MessageId; 10] = [
    MessageId::ReportConnectedEx,
    MessageId::ReportConnectedFunnel,
    MessageId::ReportDisconnectedFunnel,
    MessageId::ReportFunnelInfo,
    MessageId::ReportOpenFile,
    MessageId::ReportReadBlock,
    MessageId::ReportRedirect,
    MessageId::ReportStartedPlaying,
    MessageId::ReportStartStriding,
    MessageId::ReportStreamSwitch,
];

impl ClientMachine {
    /// A command that did not parse: a report cut short after a failure
    /// hr is that failure (servers refuse an open with a 48-byte
    /// ReportOpenFile: TcpMessageHeader, chunkLen, MID, hr and
    /// playIncarnation); anything else stays malformed.
    pub(super) fn short_report(&self, packet: &[u8], e: Error) -> ClientError {
        const MID_AT: usize = TCP_HEADER_LEN + 4 /* chunkLen */;
        const HR_AT: usize = MID_AT + 4 /* MID */;
        if self.config.strict || !matches!(e, Error::Truncated { .. }) {
            return e.into();
        }
        let word = |at: usize| {
            packet
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        match (word(MID_AT).map(MessageId::from_u32), word(HR_AT)) {
            (Some(Ok(id)), Some(hr)) if HR_FIRST.contains(&id) && HResult(hr).is_failure() => {
                ClientError::Server {
                    message: id,
                    hr: HResult(hr),
                }
            }
            _ => e.into(),
        }
    }

    /// Media of an incarnation that is neither the play's nor a superseded
    /// play's: the play's, when one is current and no stop is in flight
    /// (counted); refused when `strict`.
    pub(super) fn foreign_incarnation(&mut self, _incarnation: u8) -> Result<bool, ClientError> {
        if self.config.strict || !self.play.playing() {
            return Ok(false);
        }
        self.play.stats_mut().foreign_incarnation += 1;
        Ok(true)
    }

    /// The play's media: false (dropped, counted) past the declared packet
    /// count or when it is no ASF data packet; an error when `strict`.
    pub(super) fn media_is_asf(&mut self, d: &DataPacketRepr<'_>) -> Result<bool, ClientError> {
        let declared = self
            .file
            .filter(|f| !f.is_broadcast())
            .map_or(0, |f| f.packet_count);
        if declared > 0 && d.location_id as u64 >= declared {
            if self.config.strict {
                return Err(ClientError::UnexpectedData(
                    "past the declared packet count",
                ));
            }
            self.play.stats_mut().past_count += 1;
            return Ok(false);
        }
        if let Err(e) = validate(d.payload) {
            if self.config.strict {
                return Err(e.into());
            }
            self.play.stats_mut().not_asf += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// What the application keeps of a media packet (of an
    /// [`Event::Packet`](super::Event::Packet)) when the server ignores
    /// the play's stop position or the stream selection: a packet past
    /// the stop is dropped and the machine stops the play (StopPlaying);
    /// payloads of streams turned off are removed into `buf` (which must
    /// hold the file's packet size), the packet dropped if none is left.
    /// Each is counted; with `strict` each is an error. A correct server's
    /// packets are kept as they are (the stop rule is the server's: Send
    /// Time from the play's first packet, [2.2.4.25]).
    pub fn trim(&mut self, packet: &[u8], buf: &mut [u8]) -> Result<Trimmed, ClientError> {
        let Ok(info) = PacketInfo::parse(packet) else {
            return Ok(Trimmed::Keep);
        };
        let strict = self.config.strict;
        let trick = self.play.trick_mode();
        let p = &mut self.play;
        let t0 = *p.first_send.get_or_insert(info.send_time);
        let past = match p.stop_at {
            _ if trick => false,
            StopAt::End => false,
            StopAt::Absolute(ms) => info.send_time > ms,
            StopAt::Relative(ms) => info.send_time.wrapping_sub(t0) > ms,
        };
        if past {
            if strict {
                return Err(ClientError::UnexpectedData("past the stop position"));
            }
            p.stats_mut().past_stop += 1;
            if self.phase == Phase::Streaming && p.playing() {
                // Between playlist entries the stop waits (Misuse): the
                // packets are dropped meanwhile.
                let _ = self.stop();
            }
            return Ok(Trimmed::Drop);
        }
        let p = &mut self.play;
        let (all, on) = p.selection();
        if on == all || all.is_empty() {
            return Ok(Trimmed::Keep);
        }
        let off = info
            .payloads(packet)
            .any(|pl| pl.is_ok_and(|pl| !on.contains(pl.stream)));
        if !off {
            return Ok(Trimmed::Keep);
        }
        // While a StreamSwitch is outstanding the server may still send a
        // stream just turned off: filtered, not counted.
        if !p.stream_switch_sent() {
            if strict {
                return Err(ClientError::UnexpectedData("of a stream not selected"));
            }
            p.stats_mut().unselected += 1;
        }
        let size = self
            .file
            .map_or(0, |f| f.packet_size as usize)
            .max(packet.len());
        Ok(
            match rewrite(packet, size, &Selection::streams(on), Padding::Keep, buf)? {
                Rewritten::Packet(n) => Trimmed::Rewritten(n),
                Rewritten::Skip => Trimmed::Drop,
            },
        )
    }
}
