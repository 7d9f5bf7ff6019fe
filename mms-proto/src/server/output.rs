//! The server's replies: decided as small values, queued (bounded), and
//! serialized into the caller's buffer by `poll_output`, one message per
//! TcpMessageHeader packet ([3.2.5.2], interop-notes), with the
//! TcpMessageHeader's seq and timeSent.

use heapless::Deque;

use super::{FILE_ID, Media, Output, Phase, ServerError, ServerMachine};
use crate::machine::Transmit;
use crate::time::Instant;
use crate::wire::*;

/// Fixed part of ReportFunnelInfo (chunkLen … cubddDatagramSize).
const REPORT_FUNNEL_INFO_FIXED: usize = 48;
/// The largest packet-pair filler: a 1056-byte third message.
const PACKET_PAIR_MAX: usize = 1056 - TCP_HEADER_LEN - REPORT_FUNNEL_INFO_FIXED;

/// A reply waiting to be serialized: small values, no borrowed data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Reply {
    ConnectedEx {
        packet_pair: bool,
    },
    /// ReportFunnelInfo; with the TCP packet-pair, the TcpMessageHeader
    /// packet's total size (512, 512, 1056) and which of the three it is;
    /// `udp_pair`: playIncarnation 0xF0F0F901 ([4.4.1]).
    FunnelInfo {
        pair: Option<(usize, u32)>,
        udp_pair: bool,
    },
    ConnectedFunnel,
    DisconnectedFunnel(HResult),
    OpenFile {
        hr: HResult,
        incarnation: u32,
        media: Option<Media>,
    },
    ReadBlock {
        incarnation: u32,
    },
    StreamSwitch,
    /// ReportStartedPlaying, or ReportStartStriding when `striding`; a
    /// failure `hr` refuses the play (a seek or stride on live content).
    Started {
        incarnation: u32,
        striding: bool,
        hr: HResult,
    },
    EndOfStream {
        hr: HResult,
        incarnation: u32,
    },
    StreamChange(Media),
    Redirect {
        redirect_type: u16,
    },
    /// [2.2.4.14] the challenge the auth part holds.
    SecurityChallenge,
    Ping,
}

/// The reply queue and the TcpMessageHeader numbering.
#[derive(Debug, Clone, Default)]
pub(super) struct Replies {
    queue: Deque<Reply, 4>,
    /// TcpMessageHeader seq of the next packet sent.
    seq: u16,
    /// When the first TcpMessageHeader packet was sent (timeSent's origin).
    first_sent: Option<Instant>,
    /// Close once the queue is drained.
    close: bool,
}

impl Replies {
    pub(super) fn push(&mut self, r: Reply) -> Result<(), ServerError> {
        self.queue
            .push_back(r)
            .map_err(|_| ServerError::Misuse("replies not drained with poll_output"))
    }

    /// A Ping, unless the queue is full (the client is not reading).
    pub(super) fn ping(&mut self) {
        let _ = self.queue.push_back(Reply::Ping);
    }

    pub(super) fn close(&mut self) {
        self.close = true;
    }

    pub(super) fn closing(&self) -> bool {
        self.close
    }

    /// No room for another reply.
    pub(super) fn full(&self) -> bool {
        self.queue.is_full()
    }
}

impl ServerMachine {
    /// The next thing to do; writes into `buf` for [`Output::Transmit`].
    /// `buf` must hold a TcpMessageHeader packet (≥ 1,100 bytes; a Data
    /// packet needs the packet size + 8). An error ends the session.
    pub fn poll_output(&mut self, now: Instant, buf: &mut [u8]) -> Result<Output, ServerError> {
        self.timers.arm_setup(now, self.config.setup_timeout);
        // [4.4.1] The UDP packet-pair goes before ReportReadBlock.
        if let Some(o) = self.poll_udp_pair(buf)? {
            return Ok(o);
        }
        self.release_end(now, false)?;
        if let Some(r) = self.out.queue.pop_front() {
            let n = self.emit_reply(now, r, buf)?;
            return Ok(Output::Transmit(Transmit::Tcp(n)));
        }
        if self.out.close {
            return Ok(Output::Close);
        }
        // [3.2.5.13] Resends go before new packets.
        if let Some(o) = self.poll_resend(now) {
            return Ok(o);
        }
        if self.phase == Phase::SendingHeader
            && let Some(o) = self.poll_header(now)
        {
            return Ok(o);
        }
        if self.phase == Phase::Streaming {
            if let Some(o) = self.poll_play(now)? {
                return Ok(o);
            }
            if !self.out.queue.is_empty() {
                // The play ended and queued its ReportEndOfStream.
                return self.poll_output(now, buf);
            }
        }
        Ok(match self.poll_timeout() {
            Some(t) => Output::Timeout(t),
            None => Output::Wait,
        })
    }

    /// The earliest deadline: a timer of [3.2.2], the linger, or the due
    /// time of a packet that was early.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let busy = matches!(self.phase, Phase::Streaming | Phase::SendingHeader);
        [self.timers.next(busy), self.play.due(), self.udp_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn emit_reply(&mut self, now: Instant, r: Reply, buf: &mut [u8]) -> Result<usize, ServerError> {
        let version = Utf16Str::Str(self.config.server_version);
        let mut filler = [0u8; PACKET_PAIR_MAX];
        let msg: Message<'_> = match r {
            Reply::ConnectedEx { packet_pair } => {
                let pi = if packet_pair {
                    MMS_USE_PACKET_PAIR
                } else {
                    MMS_DISABLE_PACKET_PAIR
                };
                ReportConnectedExRepr {
                    // [2.2.4.2], [3.2.5.3]: named when a challenge may come.
                    authen_package: self.config.auth.map(|a| Utf16Str::Str(a.package.as_str())),
                    ..ReportConnectedExRepr::new(pi, version)
                }
                .into()
            }
            Reply::FunnelInfo {
                pair: None,
                udp_pair: false,
            } => ReportFunnelInfoRepr::new(self.client_id).into(),
            Reply::FunnelInfo {
                pair: None,
                udp_pair: true,
            } => ReportFunnelInfoRepr {
                play_incarnation: MMS_PACKET_PAIR_UDP_HIGH_ENTROPY,
                ..ReportFunnelInfoRepr::new(self.client_id)
            }
            .into(),
            Reply::FunnelInfo {
                pair: Some((total, index)),
                ..
            } => {
                let len = total - TCP_HEADER_LEN - REPORT_FUNNEL_INFO_FIXED;
                packet_pair_filler(self.client_id, index, &mut filler[..len]);
                ReportFunnelInfoRepr {
                    play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
                    packet_pair: &filler[..len],
                    ..ReportFunnelInfoRepr::new(self.client_id)
                }
                .into()
            }
            Reply::ConnectedFunnel => ReportConnectedFunnelRepr::default().into(),
            Reply::DisconnectedFunnel(hr) => ReportDisconnectedFunnelRepr {
                hr,
                play_incarnation: 0,
            }
            .into(),
            Reply::ReadBlock { incarnation } => ReportReadBlockRepr {
                hr: HResult::S_OK,
                play_incarnation: incarnation,
                play_sequence: 0,
            }
            .into(),
            Reply::StreamSwitch => ReportStreamSwitchRepr { hr: HResult::S_OK }.into(),
            Reply::Started {
                incarnation,
                striding: false,
                hr,
            } => ReportStartedPlayingRepr {
                hr,
                play_incarnation: incarnation,
                tiger_file_id: FILE_ID,
                unused1: 0,
            }
            .into(),
            Reply::Started {
                incarnation,
                striding: true,
                hr,
            } => ReportStartStridingRepr {
                hr,
                play_incarnation: incarnation,
                spare: 0,
            }
            .into(),
            Reply::EndOfStream { hr, incarnation } => ReportEndOfStreamRepr {
                hr,
                play_incarnation: incarnation,
            }
            .into(),
            // dwParam1 must be 0: FFmpeg treats non-zero at offset 40 as an error.
            Reply::Redirect { redirect_type } => ReportRedirectRepr {
                hr: HResult::S_OK,
                redirect_type,
                location: Utf16Str::Str(&self.setup.redirect),
            }
            .into(),
            Reply::StreamChange(m) => ReportStreamChangeRepr {
                hr: HResult::S_OK,
                tcp_hdr_incarnation: TCP_HDR_INCARNATION,
                packet_size: m.packet_size,
                header_size: m.file_header_len,
                bit_rate: m.bit_rate,
                stream_id: 0,
            }
            .into(),
            Reply::SecurityChallenge => self.auth.challenge_repr().into(),
            Reply::Ping => PingRepr {
                dw_param1: 0,
                dw_param2: 0,
            }
            .into(),
            Reply::OpenFile {
                hr,
                incarnation,
                media,
            } => report_open_file(hr, incarnation, &media.unwrap_or_default()).into(),
        };
        let first = *self.out.first_sent.get_or_insert(now);
        let hdr = TcpMessageHeaderRepr {
            seq: self.out.seq,
            time_sent: (now - first).0 / 1000,
        };
        let n = hdr.emit_packet(&msg, buf)?;
        self.out.seq = self.out.seq.wrapping_add(1);
        // [3.2.5.2] Sending starts KeepAlive (once playing).
        self.timers.touch_keepalive(now, self.config.keepalive);
        Ok(n)
    }
}

/// [2.2.4.7] ReportOpenFile of `m`.
fn report_open_file(hr: HResult, incarnation: u32, m: &Media) -> ReportOpenFileRepr {
    ReportOpenFileRepr {
        hr,
        play_incarnation: incarnation,
        open_file_id: FILE_ID,
        padding: 0,
        file_name: 0,
        file_attributes: m.attributes,
        file_duration: m.duration_ms as f64 / 1000.0,
        // [2.2.4.7] whole seconds, rounded up.
        file_blocks: m.duration_ms.div_ceil(1000).min(u32::MAX as u64) as u32,
        file_packet_size: m.packet_size,
        file_packet_count: m.packet_count,
        file_bit_rate: m.bit_rate,
        file_header_size: m.file_header_len,
    }
}

/// The packet-pair filler ([3.2.5.4]): high-entropy bytes so that no link
/// compresses them away. No RNG in a sans-IO core: a xorshift64* stream
/// seeded from the Client-ID and the message index is as incompressible as
/// the spec needs.
pub(super) fn packet_pair_filler(client_id: u32, index: u32, out: &mut [u8]) {
    let mut x = (u64::from(client_id) << 32 | u64::from(index)) ^ 0x9E37_79B9_7F4A_7C15;
    for chunk in out.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}
