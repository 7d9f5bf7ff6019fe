//! Plays: stream selection ([3.1.4.2], [3.1.4.3]), StartPlaying and
//! StartStriding ([3.1.4.2.1], [3.1.4.2.2]) and their reports
//! ([3.1.5.14]–[3.1.5.16]), media to the application ([3.1.5.17]), stop
//! and seek ([3.1.4.5], [3.1.4.6]), the end of stream ([3.1.5.18]),
//! playlist entries ([3.1.5.19], [3.1.4.4]) and the statistics of a play.

use crate::asf::StreamSet;
use crate::time::Instant;
use crate::wire::*;

use super::output::Pending;
use super::{ClientError, ClientMachine, Event, Phase};

/// Where a play starts ([2.2.4.25]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// The beginning of the content.
    Beginning,
    /// A time in milliseconds (the `position` field).
    Time(u64),
    /// An ASF data packet number (the `locationId` field).
    Packet(u32),
    /// A byte offset in the ASF file (the `asfOffset` field).
    Offset(u32),
}

impl Start {
    /// position, asfOffset and locationId of a start ([2.2.4.25]): the
    /// unused ones are 0xFFFFFFFF (position: [`POSITION_UNSPECIFIED`]).
    pub(super) fn fields(self) -> (f64, u32, u32) {
        match self {
            Start::Beginning => (0.0, u32::MAX, u32::MAX),
            Start::Time(ms) => (ms as f64 / 1000.0, u32::MAX, u32::MAX),
            Start::Packet(n) => (POSITION_UNSPECIFIED, u32::MAX, n),
            Start::Offset(o) => (POSITION_UNSPECIFIED, o, u32::MAX),
        }
    }
}

/// A request to stream ([3.1.4.2]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Play {
    /// Where to start.
    pub start: Start,
    /// Where to stop ([`StopAt`], sent as frameOffset).
    pub stop: StopAt,
    /// `Some(rate)`: StartStriding at this rate (−5..5, not 0: fast
    /// forward or rewind, Trick-Mode-Rate 1); `None`: StartPlaying.
    pub rate: Option<f64>,
    /// Fast start: sent when Server-Version ≥ 9 ([3.1.4.2.1]).
    pub acceleration: Option<Acceleration>,
}

impl Default for Play {
    fn default() -> Self {
        Self {
            start: Start::Beginning,
            stop: StopAt::End,
            rate: None,
            acceleration: None,
        }
    }
}

/// The frameOffset value of a stop ([2.2.4.25]).
pub const fn frame_offset(stop: StopAt) -> u32 {
    match stop {
        StopAt::End => 0,
        StopAt::Absolute(ms) => ms & 0x7FFF_FFFF,
        StopAt::Relative(ms) => 0x8000_0000 | (ms & 0x7FFF_FFFF),
    }
}

/// Statistics of the current (or last) play, as CLIENT_LOG reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Media Data packets received.
    pub packets: u32,
    /// Their payload bytes.
    pub bytes: u64,
    /// Data packets missing from the AFFlags sequence.
    pub lost: u32,
    /// Longest run of missing Data packets.
    pub lost_run: u32,
    /// Packets of a superseded play dropped (after a stop or seek).
    pub stale: u32,
    /// Tolerated: media labelled with a playIncarnation other than the
    /// play's (servers that label every play 4), accepted as the play's.
    pub foreign_incarnation: u32,
    /// Tolerated: Data past the declared packet count (e.g. the file's
    /// Simple Index sent as one more packet), dropped.
    pub past_count: u32,
    /// Tolerated: Data that does not parse as an ASF data packet, dropped.
    pub not_asf: u32,
    /// Tolerated: packets carrying streams the selection turned off (a
    /// server that ignores StreamSwitch), filtered by the client
    /// ([`ClientMachine::trim`]).
    pub unselected: u32,
    /// Tolerated: packets past the play's stop position (a server that
    /// ignores frameOffset), dropped; the client stops the play itself.
    pub past_stop: u32,
    /// When the play was asked for.
    pub started: Instant,
    /// Where it started, ms (0 when from a packet or offset).
    pub start_ms: u32,
}

/// The [3.1.1] "…-Sent" variables: which report is expected.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    /// Play-Sent: ReportStartedPlaying.
    play: bool,
    /// Striding-Sent: ReportStartStriding.
    striding: bool,
    /// Stop-Sent: ReportEndOfStream answering StopPlaying.
    stop: bool,
    /// Stream-Switch-Sent: ReportStreamSwitch.
    stream_switch: bool,
}

/// The stream selection: the streams of the header, the ones the
/// application chose, and the selection the server has.
#[derive(Debug, Clone, Copy, Default)]
struct Streams {
    /// The streams of the header (every one the application named).
    all: StreamSet,
    /// The streams the application selected.
    selected: StreamSet,
    /// The selection the server has (after the last StreamSwitch); `None`
    /// when it has to be sent complete.
    switched: Option<StreamSet>,
}

impl Streams {
    /// A header's streams, all selected, nothing sent yet.
    fn set_all(&mut self, all: StreamSet) {
        *self = Streams {
            all,
            selected: all,
            switched: None,
        };
    }

    /// Selects `on` (limited to the header's streams); returns the
    /// entries to turn on and off against what the server has, if any,
    /// which the server then has ([3.1.4.3]).
    fn select_changes(&mut self, on: StreamSet) -> Option<(StreamSet, StreamSet)> {
        let on = StreamSet(on.0 & self.all.0);
        let was = self.switched.unwrap_or(self.all);
        self.selected = on;
        let turn_on = StreamSet(on.0 & !was.0);
        let turn_off = StreamSet(was.0 & !on.0);
        if turn_on.is_empty() && turn_off.is_empty() {
            return None;
        }
        self.switched = Some(on);
        Some((turn_on, turn_off))
    }

    /// Before a play: the complete selection (on, off) if the server does
    /// not have it ([3.1.4.2]), which it then has.
    fn complete(&mut self) -> Option<(StreamSet, StreamSet)> {
        if self.switched == Some(self.selected) || self.all.is_empty() {
            return None;
        }
        self.switched = Some(self.selected);
        Some((self.selected, StreamSet(self.all.0 & !self.selected.0)))
    }
}

/// The plays of the session: PlayIncarnation, the stream selection, the
/// play in progress and the ones it superseded, statistics.
#[derive(Debug, Clone)]
pub(super) struct Playback {
    /// PlayIncarnation ([3.1.1]): the next one, 0x09..=0xFE (OpenFile
    /// takes one too).
    next_incarnation: u32,
    /// PlayIncarnation-For-Stop.
    stop_incarnation: u32,
    sent: Sent,
    /// Trick-Mode-Rate: the current or last play is a stride.
    trick_mode: bool,
    /// Its rate (1.0 for StartPlaying).
    rate: f64,
    /// The stream selection ([3.1.4.2], [3.1.4.3]).
    streams: Streams,
    /// The play whose Data packets are expected.
    current: Option<u32>,
    /// A superseded play whose packets may still arrive (dropped).
    stale: Option<u32>,
    /// A play asked for while streaming: sent once the stop is done.
    queued: Option<Play>,
    /// A followed playlist entry plays at the next poll_output, so the
    /// application's selection for the entry's header applies.
    entry_play_due: bool,
    /// The playlist entry (0 for the first).
    entry: u32,
    /// The 32-bit sequence of the last Data packet of this play.
    last_sequence: Option<u32>,
    stats: Stats,
    /// Close once the play is over ([3.1.4.8]).
    close_requested: bool,
    /// Where the current play stops (frameOffset), for a server that
    /// ignores it.
    pub(super) stop_at: StopAt,
    /// The Send Time of the current play's first packet (the origin of a
    /// relative stop).
    pub(super) first_send: Option<u32>,
    /// One more ReportEndOfStream may come (see on_end_of_stream).
    stray_end_of_stream: bool,
    /// A playlist entry ended (hr 1) and its ReportStreamChange has not
    /// come: the server is between entries and takes no StopPlaying.
    between_entries: bool,
}

impl Playback {
    pub(super) fn new() -> Self {
        Playback {
            next_incarnation: 9,
            stop_incarnation: 0,
            sent: Sent::default(),
            trick_mode: false,
            rate: 1.0,
            streams: Streams::default(),
            current: None,
            stale: None,
            queued: None,
            entry_play_due: false,
            entry: 0,
            last_sequence: None,
            stats: Stats::default(),
            close_requested: false,
            stop_at: StopAt::End,
            first_send: None,
            stray_end_of_stream: false,
            between_entries: false,
        }
    }

    /// The next PlayIncarnation, wrapping from 0xFE to 9.
    pub(super) fn next_incarnation(&mut self) -> u32 {
        let i = self.next_incarnation;
        self.next_incarnation = if i >= 0xFE { 9 } else { i + 1 };
        i
    }

    pub(super) fn stats(&self) -> Stats {
        self.stats
    }
    pub(super) fn trick_mode(&self) -> bool {
        self.trick_mode
    }
    pub(super) fn entry(&self) -> u32 {
        self.entry
    }
    pub(super) fn stop_sent(&self) -> bool {
        self.sent.stop
    }
    pub(super) fn stream_switch_sent(&self) -> bool {
        self.sent.stream_switch
    }
    pub(super) fn play_sent(&self) -> bool {
        self.sent.play
    }
    pub(super) fn striding_sent(&self) -> bool {
        self.sent.striding
    }
    pub(super) fn stray_end_of_stream(&self) -> bool {
        self.stray_end_of_stream
    }
    /// A play is current and not being stopped.
    pub(super) fn playing(&self) -> bool {
        self.current.is_some() && !self.sent.stop
    }
    /// The streams of the header and those selected.
    pub(super) fn selection(&self) -> (StreamSet, StreamSet) {
        (self.streams.all, self.streams.selected)
    }
    pub(super) fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// The current play is over or superseded: its late packets are
    /// dropped.
    fn supersede(&mut self) {
        self.stale = self.current.take().or(self.stale);
    }

    /// The current play strides backwards (LocationId decreasing).
    pub(super) fn reverse(&self) -> bool {
        self.rate < 0.0
    }

    /// Whether `incarnation` labels the current play's packets.
    pub(super) fn current_is(&self, incarnation: u8) -> bool {
        self.current.is_some_and(|c| c & 0xFF == incarnation as u32)
    }

    /// Counts and drops a Data packet of a superseded play; false for
    /// any other incarnation.
    pub(super) fn drop_if_stale(&mut self, incarnation: u8) -> bool {
        let stale = self.stale.is_some_and(|p| p & 0xFF == incarnation as u32);
        if stale {
            self.stats.stale += 1;
        }
        stale
    }

    /// The Data packet's 32-bit sequence from its AFFlags ([3.1.5.17]);
    /// a gap of less than 128 counts as lost packets.
    fn sequence(&mut self, af_flags: u8) -> u32 {
        let seq = match self.last_sequence {
            None => af_flags as u32,
            Some(prev) => {
                let s = extend_sequence(prev, af_flags);
                let gap = s.wrapping_sub(prev).wrapping_sub(1);
                if gap > 0 && gap < 0x80 {
                    self.stats.lost = self.stats.lost.saturating_add(gap);
                    self.stats.lost_run = self.stats.lost_run.max(gap);
                }
                s
            }
        };
        self.last_sequence = Some(seq);
        seq
    }
}

impl ClientMachine {
    /// The streams of the header (all of them); call once the header is in
    /// (at [`Event::HeaderPiece`] with `last`), before
    /// [`ClientMachine::select`]. Every stream is selected until then.
    pub fn set_streams(&mut self, all: StreamSet) {
        self.play.streams.set_all(all);
    }

    /// Selects streams: kept for the next play in READY (sent as the
    /// complete selection, [3.1.4.2]); while streaming, the changed entries
    /// are sent at once ([3.1.4.3]).
    pub fn select(&mut self, on: StreamSet) -> Result<(), ClientError> {
        let p = &mut self.play;
        match self.phase {
            Phase::Ready => {
                p.streams.selected = StreamSet(on.0 & p.streams.all.0);
                Ok(())
            }
            Phase::Streaming if !p.sent.stop => {
                if p.sent.stream_switch {
                    return Err(ClientError::Misuse("a StreamSwitch is outstanding"));
                }
                if let Some((on, off)) = p.streams.select_changes(on) {
                    self.out.push(Pending::StreamSwitch { on, off })?;
                    p.sent.stream_switch = true;
                }
                Ok(())
            }
            _ => Err(ClientError::Misuse("streams change in READY or STREAMING")),
        }
    }

    /// Starts streaming ([3.1.4.2]); while streaming, stops first and then
    /// starts at the new position ([3.1.4.6]).
    pub fn play(&mut self, now: Instant, play: &Play) -> Result<(), ClientError> {
        if let Some(rate) = play.rate
            && (!(-5.0..=5.0).contains(&rate) || rate == 0.0)
        {
            return Err(ClientError::Misuse("a stride rate is in -5..=5 and not 0"));
        }
        match self.phase {
            Phase::Ready => self.start(now, play),
            Phase::Streaming => {
                if !self.play.sent.stop {
                    self.stop()?;
                }
                self.play.queued = Some(*play);
                Ok(())
            }
            _ => Err(ClientError::Misuse("play needs the header (READY)")),
        }
    }

    /// READY: the complete selection if the server does not have it, then
    /// StartPlaying or StartStriding with the next PlayIncarnation.
    fn start(&mut self, now: Instant, play: &Play) -> Result<(), ClientError> {
        let p = &mut self.play;
        p.entry_play_due = false;
        if let Some((on, off)) = p.streams.complete() {
            // [3.1.4.2] the complete selection state.
            self.out.push(Pending::StreamSwitch { on, off })?;
            p.sent.stream_switch = true;
        }
        let incarnation = p.next_incarnation();
        p.trick_mode = play.rate.is_some();
        match play.rate {
            Some(rate) => {
                self.out
                    .push(Pending::StartStriding(*play, incarnation, rate))?;
                p.sent.striding = true;
                p.rate = rate;
            }
            None => {
                self.out.push(Pending::StartPlaying(*play, incarnation))?;
                p.sent.play = true;
                p.rate = 1.0;
            }
        }
        p.stop_incarnation = incarnation;
        p.stop_at = play.stop;
        p.first_send = None;
        p.supersede();
        p.current = Some(incarnation);
        self.udp.finished = None;
        self.udp.highest_location = None;
        self.udp.newest_location = None;
        p.last_sequence = None;
        p.stats = Stats {
            started: now,
            start_ms: match play.start {
                Start::Time(ms) => ms.min(u32::MAX as u64) as u32,
                _ => 0,
            },
            ..Stats::default()
        };
        Ok(())
    }

    /// Stops streaming: StopPlaying and Logging ([3.1.4.5]). The play is
    /// over at [`Event::EndOfStream`] with `stopped`.
    pub fn stop(&mut self) -> Result<(), ClientError> {
        if self.phase != Phase::Streaming {
            return Err(ClientError::Misuse("stop while STREAMING"));
        }
        if self.play.between_entries {
            // The server is between two entries ([3.2.4.2]) and takes no
            // StopPlaying; ask again once the next entry's header is in.
            return Err(ClientError::Misuse(
                "stop between playlist entries (after the next entry's header)",
            ));
        }
        let p = &mut self.play;
        if p.sent.stop {
            return Ok(());
        }
        self.out.push(Pending::StopPlaying(p.stop_incarnation))?;
        self.out.push(Pending::Logging(p.stats, p.rate))?;
        p.sent.stop = true;
        p.queued = None;
        Ok(())
    }

    /// [3.1.4.8] in READY: CloseFile now; while streaming: no queued
    /// play, CloseFile once the play is over (stopping it first) or the
    /// entry's header is in.
    pub(super) fn close_play(&mut self) -> Result<(), ClientError> {
        self.play.entry_play_due = false;
        if self.phase == Phase::Ready {
            return self.out.close_file();
        }
        self.play.queued = None;
        self.play.close_requested = true;
        // Between two entries the close waits for the next entry's header
        // (`header_done`): the server takes no StopPlaying then.
        if self.phase == Phase::Streaming && !self.play.sent.stop && !self.play.between_entries {
            self.stop()?;
        }
        Ok(())
    }

    /// [3.1.5.14] ReportStreamSwitch.
    pub(super) fn on_stream_switch(
        &mut self,
        r: &ReportStreamSwitchRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportStreamSwitch, r.hr)?;
        self.play.sent.stream_switch = false;
        Ok(Some(Event::StreamsSwitched))
    }

    /// [3.1.5.15] ReportStartedPlaying, [3.1.5.16] ReportStartStriding:
    /// STREAMING.
    pub(super) fn on_started(
        &mut self,
        message: MessageId,
        hr: HResult,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(message, hr)?;
        let p = &mut self.play;
        if message == MessageId::ReportStartStriding {
            p.sent.striding = false;
        } else {
            p.sent.play = false;
        }
        p.stray_end_of_stream = false;
        self.phase = Phase::Streaming;
        Ok(Some(Event::Playing))
    }

    /// [3.1.5.18] ReportEndOfStream while STREAMING: Logging unless it
    /// answers a stop; READY unless a playlist entry follows (by server
    /// version); then the close or the play asked for meanwhile.
    pub(super) fn on_end_of_stream(
        &mut self,
        now: Instant,
        r: &ReportEndOfStreamRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportEndOfStream, r.hr)?;
        let stopped = self.play.sent.stop;
        let mut ready = stopped;
        if !stopped {
            self.out
                .push(Pending::Logging(self.play.stats, self.play.rate))?;
            let broadcast = self.file.is_some_and(|f| f.is_broadcast());
            ready = if self.setup.server_v9() {
                r.hr.0 != 1
            } else {
                r.hr.0 != 0 || !broadcast
            };
        }
        let p = &mut self.play;
        p.between_entries = !ready;
        // A StopPlaying sent after the server's own end may be answered
        // once more.
        p.stray_end_of_stream = stopped;
        p.sent.stop = false;
        if ready {
            self.phase = Phase::Ready;
            // (Not when the server sent the play over TCP after all; but
            // when every packet of it was lost, none arrived either way.)
            let over_udp = self.udp.stats.received > 0 || self.udp.stats.tcp_data == 0;
            if !stopped && self.udp.active && over_udp {
                // Over UDP its missing packets may still come (resent),
                // its last ones too.
                self.udp.finished = p.current.map(|c| c as u8);
                let count = self.file.map_or(0, |f| f.packet_count);
                if p.rate == 1.0 && p.stop_at == crate::wire::StopAt::End && count > 0 {
                    let next = self.udp.highest_location.map_or(0, |l| u64::from(l) + 1);
                    self.udp
                        .probe_tail(now, count.saturating_sub(next).min(u32::MAX as u64) as u32);
                }
            }
            p.supersede();
            if p.close_requested {
                self.out.close_file()?;
            } else if let Some(queued) = p.queued.take() {
                self.start(now, &queued)?;
            }
        }
        Ok(Some(Event::EndOfStream {
            hr: r.hr,
            ready,
            stopped,
        }))
    }

    /// The server's answer to a StopPlaying that crossed its own end of
    /// stream (it answers a StopPlaying in READY too): the play is already
    /// over.
    pub(super) fn on_stray_end_of_stream(
        &mut self,
        r: &ReportEndOfStreamRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportEndOfStream, r.hr)?;
        self.play.stray_end_of_stream = false;
        Ok(None)
    }

    /// [3.1.5.19] ReportStreamChange: the next entry's numbers; its
    /// header follows on TCP.
    pub(super) fn on_stream_change(
        &mut self,
        r: &ReportStreamChangeRepr,
    ) -> Result<Option<Event<'static>>, ClientError> {
        ClientError::check(MessageId::ReportStreamChange, r.hr)?;
        if self.config.strict && r.tcp_hdr_incarnation != TCP_HDR_INCARNATION {
            return Err(Error::invalid("dwTcpHdrIncarnation", "must be 0xFF").into());
        }
        if r.header_size > self.config.max_header_len {
            return Err(Error::invalid("dwHeaderSize", "larger than the limit").into());
        }
        if let Some(f) = self.file.as_mut() {
            f.packet_size = r.packet_size;
            f.header_size = r.header_size;
            f.bit_rate = r.bit_rate;
            // ReportStreamChange does not say the entry's count.
            f.packet_count = 0;
        }
        self.play.supersede();
        self.play.between_entries = false;
        self.play.entry += 1;
        // The server selects everything for a new entry ([3.2.4.2]): the
        // next play sends the complete selection again.
        self.play.streams.switched = None;
        self.phase = Phase::EntryHeader;
        self.header.begin_entry();
        Ok(Some(Event::EntryChange {
            entry: self.play.entry,
            packet_size: r.packet_size,
            header_size: r.header_size,
            bit_rate: r.bit_rate,
        }))
    }

    /// The header's last piece: READY. A followed playlist entry
    /// ([`Config::follow_playlist`](super::Config::follow_playlist))
    /// plays on at the next poll_output ([3.1.4.4]).
    /// A close asked for while the entry's header came closes now.
    pub(super) fn header_done(&mut self) -> Result<(), ClientError> {
        let entry = self.phase == Phase::EntryHeader;
        self.phase = Phase::Ready;
        if entry && self.play.close_requested {
            return self.out.close_file();
        }
        self.play.entry_play_due = entry && self.config.follow_playlist;
        Ok(())
    }

    /// [3.1.4.4] for a followed entry: the complete StreamSwitch of the
    /// selection the application made for the entry's header (or kept),
    /// and StartPlaying from the beginning.
    pub(super) fn follow_entry(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.play.entry_play_due && self.phase == Phase::Ready {
            self.start(now, &Play::default())?;
        }
        Ok(())
    }

    /// [3.1.5.17] A Data packet while STREAMING or READY; `udp_sequence`:
    /// it came over UDP with this 32-bit sequence (and may have overtaken
    /// ReportStartedPlaying). Tolerated unless `strict` (`tolerate.rs`): a
    /// play's media labelled with another playIncarnation, Data past the
    /// declared packet count or not an ASF packet.
    pub(super) fn media_data<'p>(
        &mut self,
        d: &DataPacketRepr<'p>,
        udp_sequence: Option<u32>,
    ) -> Result<Option<Event<'p>>, ClientError> {
        let incarnation = d.play_incarnation;
        let current = self
            .play
            .current
            .is_some_and(|c| c & 0xFF == incarnation as u32);
        let streaming = self.phase == Phase::Streaming;
        let p = &self.play;
        // Over UDP a play's first packets may come before its report.
        let overtook = udp_sequence.is_some()
            && current
            && self.phase == Phase::Ready
            && (p.sent.play || p.sent.striding);
        // A superseded play's packets still in flight.
        if !current
            && matches!(self.phase, Phase::Streaming | Phase::Ready)
            && self.play.drop_if_stale(incarnation)
        {
            return Ok(None);
        }
        if overtook || (streaming && (current || self.foreign_incarnation(incarnation)?)) {
            if self.play.sent.stop {
                self.play.stats.stale += 1;
                return Ok(None);
            }
            let sequence = match udp_sequence {
                Some(s) => s,
                None => self.play.sequence(d.af_flags),
            };
            if !self.media_is_asf(d)? {
                return Ok(None);
            }
            let p = &mut self.play;
            p.stats.packets = p.stats.packets.saturating_add(1);
            p.stats.bytes = p.stats.bytes.saturating_add(d.payload.len() as u64);
            return Ok(Some(Event::Packet {
                location_id: d.location_id,
                sequence,
                data: d.payload,
            }));
        }
        let p = &self.play;
        Err(match self.phase {
            Phase::Ready if p.sent.stop || p.sent.play || p.sent.striding => {
                ClientError::UnexpectedData("before ReportStartedPlaying")
            }
            Phase::Streaming => ClientError::UnexpectedData("of an unknown play incarnation"),
            Phase::Ready => ClientError::UnexpectedData("while READY"),
            _ => ClientError::UnexpectedData("before the header was asked for"),
        })
    }
}
