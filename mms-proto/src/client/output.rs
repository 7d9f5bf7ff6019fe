//! What the machine sends: the queue of decided messages ([`Outbox`]),
//! [`ClientMachine::poll_output`] which serializes them ([3.1.5.1]: one
//! message per TcpMessageHeader packet), and the CLIENT_LOG of a play
//! ([2.2.1.1], sent in Logging, [3.1.4.5]).

use core::fmt::Write as _;

use heapless::{Deque, String};

use crate::asf::StreamSet;
use crate::machine::Transmit;
use crate::time::Instant;
use crate::wire::*;

use super::play::{Play, Stats, frame_offset};
use super::{ClientError, ClientMachine, Phase};

/// StartPlaying and StartStriding share every field but their last
/// ([2.2.4.25], [2.2.4.26]): one place fills them.
macro_rules! start_message {
    ($repr:ident, $file_id:expr, $play:expr, $incarnation:expr, $last:ident: $value:expr) => {{
        let (position, asf_offset, location_id) = $play.start.fields();
        $repr {
            open_file_id: $file_id,
            padding: 0,
            position,
            asf_offset,
            location_id,
            frame_offset: frame_offset($play.stop),
            play_incarnation: $incarnation,
            $last: $value,
        }
    }};
}

/// Size of the buffer [`ClientMachine::poll_output`] needs for any message.
pub const OUTPUT_BUF_LEN: usize = 4096;

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send the first bytes of the buffer: a message on the TCP
    /// connection, or a RequestPacketListResend datagram ([3.1.4.7]).
    Transmit(Transmit),
    /// Nothing to send; call [`ClientMachine::handle_timeout`] at this
    /// time unless input comes first.
    Timeout(Instant),
    /// Nothing to send and no timer: wait for input.
    Wait,
    /// Close the connection (after a redirect, CloseFile or an error).
    Close,
}

/// A message to send, decided but not yet serialized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pending {
    Connect,
    FunnelInfo(u32),
    ConnectFunnel {
        udp: bool,
    },
    OpenFile {
        incarnation: u32,
    },
    SecurityResponse,
    ReadBlock {
        incarnation: u32,
    },
    CancelReadBlock {
        incarnation: u32,
    },
    /// The complete selection or the entries that changed.
    StreamSwitch {
        on: StreamSet,
        off: StreamSet,
    },
    StartPlaying(Play, u32),
    StartStriding(Play, u32, f64),
    StopPlaying(u32),
    /// The play's statistics and rate, as they were when it ended (a
    /// followed playlist entry may start the next play before this is
    /// sent).
    Logging(Stats, f64),
    Pong,
    CloseFile,
}

/// The messages decided and not yet sent, in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Outbox {
    pending: Deque<Pending, 8>,
    /// The session is over once the queue is sent (CloseFile).
    close_after_send: bool,
    /// TcpMessageHeader seq of the next message ([2.2.3]).
    seq: u16,
}

impl Outbox {
    /// Queues `p`; a full queue refuses the request that made it.
    pub(super) fn push(&mut self, p: Pending) -> Result<(), ClientError> {
        self.pending
            .push_back(p)
            .map_err(|_| ClientError::Misuse("too many requests queued"))
    }

    /// Queues CloseFile ([3.1.4.8]): the connection closes after it.
    pub(super) fn close_file(&mut self) -> Result<(), ClientError> {
        self.push(Pending::CloseFile)?;
        self.close_after_send = true;
        Ok(())
    }
}

impl ClientMachine {
    /// The next thing to do: a message serialized into `buf` (at least
    /// [`OUTPUT_BUF_LEN`] bytes), a timer, waiting, or closing.
    pub fn poll_output(&mut self, now: Instant, buf: &mut [u8]) -> Result<Output, ClientError> {
        self.follow_entry(now)?;
        if let Some(p) = self.out.pending.pop_front() {
            let n = self.emit(now, p, buf)?;
            if self.out.pending.is_empty() && self.out.close_after_send {
                self.phase = Phase::Closed;
            }
            return Ok(Output::Transmit(Transmit::Tcp(n)));
        }
        if self.phase == Phase::Closed {
            return Ok(Output::Close);
        }
        // [3.1.4.7] Lost UDP packets asked for again.
        if let Some(t) = self.poll_resend(now, buf) {
            return Ok(Output::Transmit(t));
        }
        let header = self
            .header
            .deadline()
            .filter(|_| self.phase == Phase::Header);
        Ok(
            match [header, self.udp_deadline()].into_iter().flatten().min() {
                Some(t) => Output::Timeout(t),
                None => Output::Wait,
            },
        )
    }

    fn emit(&mut self, now: Instant, p: Pending, buf: &mut [u8]) -> Result<usize, ClientError> {
        let file_id = self.file.map_or(1, |f| f.open_file_id);
        let mut text: String<512> = String::new();
        let mut entries = [StreamSwitchEntry::default(); 128];
        let log;
        let message: Message<'_> = match p {
            Pending::Connect => {
                self.setup.subscriber_name(&self.config, &mut text)?;
                ConnectRepr::new(self.setup.connect_packet_pair(), Utf16Str::Str(&text)).into()
            }
            Pending::FunnelInfo(v) => FunnelInfoRepr {
                play_incarnation: v,
            }
            .into(),
            Pending::ConnectFunnel { udp } => {
                let (proto, port) = match (udp, self.config.udp_port) {
                    (true, Some(p)) => ("UDP", p),
                    _ => ("TCP", self.config.local_port),
                };
                write!(text, "\\\\{}\\{proto}\\{port}", self.config.local_addr)
                    .map_err(|_| ClientError::TooLong("funnelName"))?;
                ConnectFunnelRepr {
                    play_incarnation: 0,
                    max_block_bytes: 0xFFFF_FFFF,
                    max_funnel_bytes: 0,
                    max_bit_rate: self.config.max_bit_rate,
                    funnel_mode: 2,
                    funnel_name: Utf16Str::Str(&text),
                }
                .into()
            }
            Pending::OpenFile { incarnation } => OpenFileRepr {
                play_incarnation: incarnation,
                spare: 0,
                file_name: Utf16Str::Str(self.setup.path()),
                token_data: self.auth.open_token(),
            }
            .into(),
            Pending::SecurityResponse => self.setup.security_response().into(),
            Pending::ReadBlock { incarnation } => ReadBlockRepr::new(file_id, incarnation).into(),
            Pending::CancelReadBlock { incarnation } => CancelReadBlockRepr {
                play_incarnation: incarnation,
            }
            .into(),
            Pending::StreamSwitch { on, off } => {
                // [2.2.4.28] on: (0xFFFF, n, 0); off: (n, 0xFFFF, 2) as
                // [3.1.4.2] words it ("wDstStreamNumber 0xFFFF").
                let switched = on.iter().map(|n| (NO_STREAM, n as u16, 0));
                let off = off.iter().map(|n| (n as u16, NO_STREAM, 2));
                let mut k = 0;
                // `on` and `off` are disjoint sets of 1..=127: k <= 127.
                for ((src, dst, thinning), e) in switched.chain(off).zip(entries.iter_mut()) {
                    *e = StreamSwitchEntry {
                        src_stream_number: src,
                        dst_stream_number: dst,
                        thinning_level: thinning,
                    };
                    k += 1;
                }
                StreamSwitchRepr {
                    entries: StreamSwitchEntries::Slice(&entries[..k]),
                }
                .into()
            }
            Pending::StartPlaying(play, incarnation) => start_message!(
                StartPlayingRepr,
                file_id,
                play,
                incarnation,
                acceleration: play.acceleration.filter(|_| self.setup.server_v9())
            )
            .into(),
            Pending::StartStriding(play, incarnation, rate) => {
                start_message!(StartStridingRepr, file_id, play, incarnation, rate: rate).into()
            }
            Pending::StopPlaying(incarnation) => StopPlayingRepr {
                open_file_id: file_id,
                play_incarnation: incarnation,
            }
            .into(),
            Pending::Logging(stats, rate) => {
                log = self.client_log(now, &stats, rate, &mut text);
                LoggingRepr::Log(&log).into()
            }
            Pending::Pong => PongRepr {
                dw_param1: 0,
                dw_param2: 0,
            }
            .into(),
            Pending::CloseFile => CloseFileRepr {
                play_incarnation: 1,
                open_file_id: file_id,
            }
            .into(),
        };
        let n = TcpMessageHeaderRepr {
            seq: self.out.seq,
            time_sent: 0,
        }
        .emit_packet(&message, buf)?;
        self.out.seq = self.out.seq.wrapping_add(1);
        Ok(n)
    }

    /// [2.2.1.1] CLIENT_LOG of a play with these statistics at `rate`;
    /// `text` holds its strings.
    fn client_log<'t>(
        &self,
        now: Instant,
        s: &Stats,
        rate: f64,
        text: &'t mut String<512>,
    ) -> ClientLogRepr<'t> {
        let f = self.file.unwrap_or_default();
        let played = now - s.started;
        let played_ms = (played.0 / 1000).min(u32::MAX as u64) as u32;
        let v = self.config.player_version;
        let (b1, b2) = v.build.unwrap_or((0, 0));
        // The GUID, then the path (cut at 259 bytes on a char boundary).
        let _ = write!(text, "{{{}}}", self.config.guid);
        let guid_end = text.len();
        let path = self.setup.path();
        let mut cut = path.len().min(259);
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        // text has 512 bytes: 38 of GUID + at most 259 of path fit.
        let _ = text.push_str(&path[..cut]);
        let (guid, path) = text.split_at(guid_end);
        let file_size = f.header_size as u64 + f.packet_count * f.packet_size as u64;
        ClientLogRepr {
            info: ClientLogInfoRepr {
                strings: ClientLogInfoStrings {
                    url: path.as_bytes(),
                    unique_pid: guid.as_bytes(),
                    host_exe: b"mms-rs",
                    ..Default::default()
                },
                client_version: (v.major as u64) << 48
                    | (v.minor as u64) << 32
                    | (b1 as u64) << 16
                    | b2 as u64,
                file_duration_ms: (f.duration * 1000.0) as u32,
                file_size: if f.is_broadcast() { 0 } else { file_size },
                avg_bandwidth_bps: s
                    .bytes
                    .saturating_mul(8_000_000)
                    .checked_div(played.0)
                    .map_or(0, |b| b.min(u32::MAX as u64) as u32),
                start_time_ms: s.start_ms,
                played_ms,
                rate: rate as i16,
                bytes_received: s.bytes,
                packets_received: s.packets,
                packets_lost_client: if self.udp.active {
                    self.udp.stats.lost.min(u32::MAX as u64) as u32
                } else {
                    s.lost
                },
                min_reception_quality: if s.packets + s.lost == 0 {
                    100
                } else {
                    (s.packets as u64 * 100 / (s.packets as u64 + s.lost as u64)) as u32
                },
                ..Default::default()
            },
            strings: ClientLogStrings {
                proto: b"mms",
                transport: if self.setup.udp_selected() {
                    b"UDP"
                } else {
                    b"TCP"
                },
                ..Default::default()
            },
            source_id: f.open_file_id,
            ip_address: 0xFFFF_FFFF,
            // Over UDP the session's counts ([3.1.4.7]): found missing,
            // asked for, recovered by a resend.
            packets_lost_net: if self.udp.active {
                self.udp.stats.missing.min(u32::MAX as u64) as u32
            } else {
                s.lost
            },
            packets_lost_cont_net: s.lost_run,
            resend_requests: self.udp.stats.requests.min(u32::MAX as u64) as u32,
            packets_recovered_resent: self.udp.stats.recovered.min(u32::MAX as u64) as u32,
            ..Default::default()
        }
    }
}
