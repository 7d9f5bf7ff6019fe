//! [3.2.5.11] StartPlaying, [3.2.5.12] StartStriding, [3.2.5.14]
//! StopPlaying, the end of content ([3.2.4.1]) and of a playlist entry
//! ([3.2.4.2]): which packet goes next, pulled from the application
//! ([`Output::ReadPacket`]), filtered, padding-stripped and paced.

use super::{Data, Event, Media, Output, Phase, Reply, ServerError, ServerMachine};
use crate::asf::{PacketInfo, Padding, Rewritten, rewrite};
use crate::time::Instant;
use crate::wire::{
    DATA_HEADER_LEN, DataPacketRepr, Error, HResult, POSITION_UNSPECIFIED, StopAt,
    TCP_HDR_INCARNATION,
};

/// Whether a StartPlaying asks for a time ([2.2.4.25] position).
fn is_time_seek(position: f64) -> bool {
    position.is_finite() && position > 0.0 && position != POSITION_UNSPECIFIED
}

/// Where a StartPlaying or StartStriding asks to start ([2.2.4.25]).
#[derive(Debug, Clone, Copy)]
pub(super) struct StartRequest {
    pub(super) open_file_id: u32,
    pub(super) position: f64,
    pub(super) asf_offset: u32,
    pub(super) location_id: u32,
    pub(super) play_incarnation: u32,
}

/// The outstanding packet read.
#[derive(Debug, Clone, Copy, Default)]
struct PacketRead {
    /// [`Output::ReadPacket`] for `next_packet` was given and not yet
    /// answered with a packet that went out.
    pending: bool,
    /// The answer was [`Data::NotBefore`] this time: asked again then.
    due: Option<Instant>,
    /// The packet of a read that a stop or seek superseded: its late
    /// answer is dropped ([`Data::Cancelled`]), not a contract breach.
    cancelled: Option<u64>,
    /// Live: the source has not made the packet yet
    /// ([`super::Fetch::Later`]); asked again after
    /// [`ServerMachine::live_ready`].
    parked: bool,
}

/// The play in progress (or the last one).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Playback {
    /// The next packet to send.
    next_packet: u64,
    read: PacketRead,
    /// Sequence ([3.2.1]): of the next data packet (AFFlags = low byte).
    sequence: u32,
    /// [2.2.4.25] frameOffset of the play: where it stops.
    stop_at: StopAt,
    /// [3.2.5.12] The striding rate (−5..5, not 0), None when playing.
    stride: Option<f64>,
    /// Reverse striding sent packet 0: the end.
    stride_done: bool,
    /// The playIncarnation of the StartPlaying / StartStriding being
    /// served (or waiting for a seek answer).
    play_incarnation: u32,
    /// The entry's last packet went out and the next entry is awaited.
    awaiting_entry: bool,
}

/// The [`StartRequest`] of a StartPlayingRepr or StartStridingRepr (the
/// two share these fields, [2.2.4.25], [2.2.4.26]).
macro_rules! start_request {
    ($p:expr) => {
        $crate::server::play::StartRequest {
            open_file_id: $p.open_file_id,
            position: $p.position,
            asf_offset: $p.asf_offset,
            location_id: $p.location_id,
            play_incarnation: $p.play_incarnation,
        }
    };
}
pub(super) use start_request;

impl Playback {
    /// Sequence ([3.2.1]): of the next data packet; every one below it
    /// was sent.
    pub(super) fn sequence(&self) -> u32 {
        self.sequence
    }

    /// When an early packet is due again.
    pub(super) fn due(&self) -> Option<Instant> {
        self.read.due.filter(|_| self.read.pending)
    }

    fn reverse(&self) -> bool {
        self.stride.is_some_and(|r| r < 0.0)
    }

    /// Forgets the outstanding packet read, remembering it so its late
    /// answer can be told from a misuse.
    fn cancel_read(&mut self) {
        if self.read.pending {
            self.read.cancelled = Some(self.next_packet);
        }
        self.read.pending = false;
        self.read.due = None;
        self.read.parked = false;
    }

    /// Live: the outstanding read of `number` waits for the source.
    pub(super) fn park(&mut self, number: u64) -> bool {
        if !self.read.pending || number != self.next_packet {
            return false;
        }
        self.read = PacketRead {
            parked: true,
            ..PacketRead::default()
        };
        true
    }

    /// Whether the entry ended and the next is awaited.
    pub(super) fn awaiting_entry(&self) -> bool {
        self.awaiting_entry
    }

    /// Live: the entry ends here (a new header follows); the outstanding
    /// read is dropped.
    pub(super) fn end_entry(&mut self) {
        self.cancel_read();
        self.awaiting_entry = true;
    }

    /// Live: whether a read waits for the source.
    pub(super) fn parked(&self) -> bool {
        self.read.parked
    }

    /// Live: the source made packets; a parked read is asked again.
    pub(super) fn unpark(&mut self) {
        self.read.parked = false;
    }

    /// Live: the outstanding read of `number` is gone from the source's
    /// buffer; the play goes on at `to` (a later packet).
    pub(super) fn jump(&mut self, number: u64, to: u64) -> bool {
        if !self.read.pending || number != self.next_packet || to <= number {
            return false;
        }
        self.next_packet = to;
        self.read = PacketRead::default();
        true
    }
}

impl ServerMachine {
    /// StartPlaying ([3.2.5.11]) or StartStriding at `stride` ([3.2.5.12]):
    /// from READY it starts where asked; a StartPlaying while streaming is
    /// a seek (libmms), a StartStriding while streaming keeps the place.
    pub(super) fn on_start(
        &mut self,
        now: Instant,
        req: StartRequest,
        stop_at: StopAt,
        stride: Option<f64>,
        accel: Option<(u32, u32)>,
    ) -> Result<Option<Event<'static>>, ServerError> {
        if req.open_file_id != super::FILE_ID {
            return Err(ServerError::WrongOpenFileId(req.open_file_id));
        }
        // A held end of stream goes before this play's answer.
        self.release_end(now, true)?;
        let media = self.media_for("no media in READY")?;
        if media.live {
            return self.live_start(req, stop_at, stride);
        }
        if let Some(rate) = stride {
            if !(-5.0..=5.0).contains(&rate) || rate == 0.0 || rate.is_nan() {
                return Err(Error::invalid("rate", "outside -5..=5 or zero").into());
            }
            if !media.can_stride() {
                return Err(ServerError::Unsupported(
                    "StartStriding on content that cannot stride",
                ));
            }
        }
        self.play.stop_at = stop_at;
        self.play.stride = stride;
        self.pacer.accelerate(accel, media.bit_rate);
        if stride.is_some() && self.phase == Phase::Streaming {
            let from = self.play.next_packet;
            self.play.play_incarnation = req.play_incarnation;
            self.start_playing(now, from)?;
            return Ok(Some(Event::PlayStarted { from_packet: from }));
        }
        self.begin(now, req, &media)
    }

    /// Where a play starts ([2.2.4.25]): a valid locationId wins over
    /// position 0.0 (VLC seeks so), then asfOffset, then a time (the
    /// application maps it: [`Event::SeekRequest`]).
    fn begin(
        &mut self,
        now: Instant,
        req: StartRequest,
        media: &Media,
    ) -> Result<Option<Event<'static>>, ServerError> {
        self.play.play_incarnation = req.play_incarnation;
        let position = req.position;
        let start = if req.location_id != u32::MAX && req.location_id != 0 {
            u64::from(req.location_id)
        } else if req.asf_offset != u32::MAX && req.asf_offset != 0 {
            u64::from(req.asf_offset.saturating_sub(media.file_header_len) / media.packet_size)
        } else if is_time_seek(position) {
            self.phase = Phase::SeekPending;
            self.play.cancel_read();
            return Ok(Some(Event::SeekRequest {
                position_ms: (position * 1000.0) as u64,
            }));
        } else {
            0
        };
        self.start_playing(now, start)?;
        Ok(Some(Event::PlayStarted { from_packet: start }))
    }

    /// A StartPlaying or StartStriding on live content ([2.2.2]: a
    /// virtual file): a time seek or a stride is refused at once with
    /// E_NOTIMPL in ReportStartedPlaying / ReportStartStriding (the state
    /// stays as it was — no stall); any other play joins the broadcast
    /// where the application says ([`Event::JoinLive`], answered with
    /// [`ServerMachine::seek_to`]). locationId and asfOffset name no place
    /// in a broadcast and are ignored, as the spec has them ignored while
    /// STREAMING.
    fn live_start(
        &mut self,
        req: StartRequest,
        stop_at: StopAt,
        stride: Option<f64>,
    ) -> Result<Option<Event<'static>>, ServerError> {
        if stride.is_some() || is_time_seek(req.position) {
            self.out.push(Reply::Started {
                incarnation: req.play_incarnation,
                striding: stride.is_some(),
                hr: HResult::E_NOTIMPL,
            })?;
            return Ok(None);
        }
        self.play.play_incarnation = req.play_incarnation;
        self.play.stop_at = stop_at;
        self.play.stride = None;
        self.pacer.accelerate(None, 0);
        self.phase = Phase::SeekPending;
        self.play.cancel_read();
        Ok(Some(Event::JoinLive))
    }

    /// [3.2.5.11] READY → STREAMING from packet `start`.
    fn start_playing(&mut self, now: Instant, start: u64) -> Result<(), ServerError> {
        let media = self.media_for("play without media")?;
        if media.live {
            self.streams.start_live(self.config.strict, &media);
        } else {
            self.streams
                .start(self.config.strict, media.without_key_frames);
        }
        self.incarnation = self.play.play_incarnation;
        self.play.cancel_read();
        self.play.next_packet = start;
        self.play.awaiting_entry = false;
        self.play.stride_done = false;
        self.pacer.restart();
        self.timers.playing(now, self.config.keepalive);
        self.phase = Phase::Streaming;
        // Reverse striding from "the end" starts at the last packet.
        let count = media.packet_count;
        if self.play.reverse() && count > 0 && self.play.next_packet >= count {
            self.play.next_packet = count - 1;
        }
        self.out.push(Reply::Started {
            incarnation: self.play.play_incarnation,
            striding: self.play.stride.is_some(),
            hr: HResult::S_OK,
        })
    }

    /// [3.2.5.14] StopPlaying: READY, EndOfStream with its incarnation.
    pub(super) fn on_stop(&mut self, now: Instant, incarnation: u32) -> Result<(), ServerError> {
        self.release_end(now, true)?;
        self.phase = Phase::Ready;
        self.play.awaiting_entry = false;
        self.play.cancel_read();
        self.timers.start_idle(now, self.config.idle_timeout);
        self.out.push(Reply::EndOfStream {
            hr: HResult::S_OK,
            incarnation,
        })
    }

    /// The application's answer to [`Event::SeekRequest`]: play from packet
    /// `number`.
    pub fn seek_to(&mut self, now: Instant, number: u64) -> Result<(), ServerError> {
        if self.phase != Phase::SeekPending {
            return Err(ServerError::Misuse("seek_to without a SeekRequest"));
        }
        self.start_playing(now, number)
    }

    /// The content has no more packets (a live source ended, or a file's
    /// count was unknown): [3.2.4.1] ReportEndOfStream and READY.
    pub fn end_of_content(&mut self, now: Instant) -> Result<(), ServerError> {
        if self.phase != Phase::Streaming {
            return Ok(());
        }
        self.finish(now)
    }

    /// The application's answer to [`Output::NextEntry`]: the next
    /// playlist entry ([3.2.4.2]). Sends ReportStreamChange, then the
    /// entry's ASF file header with incarnation 0xFF, then waits in READY
    /// for the client's StreamSwitch and StartPlaying (interop-notes:
    /// libmms sends them and fails on Data packets it did not ask for;
    /// the spec would stream on at once).
    pub fn next_entry(&mut self, now: Instant, media: Media) -> Result<(), ServerError> {
        if !self.play.awaiting_entry || self.phase != Phase::Streaming {
            return Err(ServerError::Misuse("next_entry without NextEntry"));
        }
        if media.packet_size == 0 || media.file_header_len == 0 {
            return Err(ServerError::Misuse("next_entry with empty media"));
        }
        self.play.awaiting_entry = false;
        self.media = Some(media);
        self.out.push(Reply::StreamChange(media))?;
        self.incarnation = TCP_HDR_INCARNATION;
        self.streams.entry();
        self.play.cancel_read();
        self.play.next_packet = 0;
        self.pacer.restart();
        self.start_header(now);
        Ok(())
    }

    /// [3.2.4.1] The play is over: ReportEndOfStream, READY, linger.
    fn finish(&mut self, now: Instant) -> Result<(), ServerError> {
        self.play.awaiting_entry = false;
        self.play.stride_done = false;
        self.phase = Phase::Ready;
        self.play.cancel_read();
        self.timers.start_idle(now, self.config.idle_timeout);
        // Over UDP it waits for the last datagrams ([`super::Config::udp_end_delay`]).
        if self.hold_end(now, HResult::S_OK, self.incarnation) {
            return Ok(());
        }
        self.timers.linger(now, self.config.linger);
        self.out.push(Reply::EndOfStream {
            hr: HResult::S_OK,
            incarnation: self.incarnation,
        })
    }

    /// While streaming: the next read or the next entry; `None` when a
    /// read is outstanding, or when the end was reached (a
    /// ReportEndOfStream is then queued).
    pub(super) fn poll_play(&mut self, now: Instant) -> Result<Option<Output>, ServerError> {
        if self.play.read.parked {
            return Ok(None);
        }
        if self.play.read.pending {
            return Ok(match self.play.read.due {
                Some(t) if t <= now => {
                    // The early packet is due: asked for again.
                    self.play.read.due = None;
                    Some(Output::ReadPacket {
                        number: self.play.next_packet,
                    })
                }
                _ => None,
            });
        }
        if self.play.awaiting_entry {
            return Ok(Some(Output::NextEntry));
        }
        let media = self.media_for("streaming without media")?;
        let count = media.packet_count;
        if self.play.stride_done || (count > 0 && self.play.next_packet >= count) {
            if media.continues && !self.play.stride_done {
                // [3.2.4.1] hr 1: a ReportStreamChange follows.
                self.play.awaiting_entry = true;
                self.out.push(Reply::EndOfStream {
                    hr: HResult(1),
                    incarnation: self.incarnation,
                })?;
            } else {
                // [3.2.4.1] The last packet was sent.
                self.finish(now)?;
            }
            return Ok(None);
        }
        self.play.read.pending = true;
        Ok(Some(Output::ReadPacket {
            number: self.play.next_packet,
        }))
    }

    /// The answer to [`Output::ReadPacket`]: the packet's bytes as stored
    /// (packet size). Writes the Data packet into `buf` — payloads of
    /// unselected streams removed, padding stripped so zero-filling clients
    /// survive ([`Padding::Strip`]) — or says when it is due, or that
    /// nothing of it is selected.
    pub fn data_packet(
        &mut self,
        now: Instant,
        number: u64,
        bytes: &[u8],
        buf: &mut [u8],
    ) -> Result<Data, ServerError> {
        let media = self.media_for("data_packet without media")?;
        let matching = self.phase == Phase::Streaming
            && self.play.read.pending
            && number == self.play.next_packet;
        if !matching && self.play.read.cancelled == Some(number) {
            self.play.read.cancelled = None;
            return Ok(Data::Cancelled);
        }
        if !matching {
            return Err(ServerError::Misuse(
                "data_packet without a matching ReadPacket",
            ));
        }
        let info = PacketInfo::parse(bytes)?;
        let at = self.pacer.position(
            now,
            info.send_time,
            media.send_time_origin,
            self.play.reverse(),
        );
        // [2.2.4.25] frameOffset: the play ends at this content time.
        let past = match self.play.stop_at {
            StopAt::End => false,
            StopAt::Absolute(ms) => at.start_ms + at.elapsed_ms > u64::from(ms),
            StopAt::Relative(ms) => at.elapsed_ms > u64::from(ms),
        };
        if past {
            self.finish(now)?;
            // Consumed, not superseded: no late answer is expected.
            self.play.read.cancelled = None;
            return Ok(Data::Skipped);
        }
        // Live packets go when the source makes them: its clock paces.
        if self.config.paced && !media.live {
            let due = self.pacer.due(&at, self.play.stride.map_or(1.0, f64::abs));
            if due > now {
                self.play.read.due = Some(due);
                return Ok(Data::NotBefore(due));
            }
        }
        self.pacer.advance(&at);
        let sel =
            self.streams
                .for_packet(bytes, self.play.stride.is_some(), media.without_key_frames)?;
        if self.play.reverse() {
            // Reverse: decreasing LocationId down to packet 0.
            match self.play.next_packet.checked_sub(1) {
                Some(n) => self.play.next_packet = n,
                None => self.play.stride_done = true,
            }
        } else {
            self.play.next_packet += 1;
        }
        self.play.read = PacketRead::default();
        crate::wire::error::room(buf, DATA_HEADER_LEN)?;
        let (head, body) = buf.split_at_mut(DATA_HEADER_LEN);
        match rewrite(
            bytes,
            media.packet_size as usize,
            &sel,
            Padding::Strip,
            body,
        )? {
            Rewritten::Skip => Ok(Data::Skipped),
            Rewritten::Packet(n) => {
                DataPacketRepr::emit_header(
                    number as u32,
                    self.incarnation as u8,
                    self.play.sequence as u8,
                    n,
                    head,
                )?;
                self.play.sequence = self.play.sequence.wrapping_add(1);
                self.timers.touch_keepalive(now, self.config.keepalive);
                Ok(Data::Send(DATA_HEADER_LEN + n))
            }
        }
    }
}
