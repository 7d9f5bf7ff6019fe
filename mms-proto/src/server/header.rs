//! [3.2.5.8] ReadBlock → ReportReadBlock and the ASF file header, pulled
//! from the application piece by piece ([`super::Output::ReadHeader`]) and
//! paced at the content bit rate ([3.2.5.8.1]); [3.2.5.9]
//! CancelReadBlock.

use super::{Media, Phase, ServerError, ServerMachine};
use crate::time::{Duration, Instant};
use crate::wire::{AF_HEADER_LAST, AF_HEADER_MORE, DataPacketRepr};

/// The header transfer in progress.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HeaderSend {
    /// Bytes sent so far.
    sent: u32,
    /// When the transfer started (its pacing origin).
    started: Instant,
    /// A [`super::Output::ReadHeader`] is outstanding.
    read_pending: bool,
}

impl HeaderSend {
    /// A transfer starts at `now`.
    pub(super) fn start(now: Instant) -> Self {
        Self {
            sent: 0,
            started: now,
            read_pending: false,
        }
    }

    /// The next read, when nothing is outstanding: (offset, len).
    fn next_read(&self, media: &Media) -> Option<(u32, u32)> {
        let left = media.file_header_len.saturating_sub(self.sent);
        (!self.read_pending && left > 0).then(|| (self.sent, left.min(media.packet_size)))
    }

    /// When the next piece is due: the bytes sent at the content bit rate
    /// ([3.2.5.8.1]).
    fn due(&self, bit_rate: u32) -> Instant {
        if bit_rate == 0 {
            return self.started;
        }
        self.started
            + Duration(u64::from(self.sent).saturating_mul(8_000_000) / u64::from(bit_rate))
    }
}

impl ServerMachine {
    /// [3.2.5.8] ReadBlock: ReportReadBlock, then the header.
    pub(super) fn start_header(&mut self, now: Instant) {
        self.phase = Phase::SendingHeader;
        self.header = HeaderSend::start(now);
    }

    /// [3.2.5.9] CancelReadBlock: the rest of the header is dropped.
    pub(super) fn cancel_header(&mut self) {
        self.phase = Phase::Opened;
        self.header.read_pending = false;
    }

    /// While sending the header: the next read, or when it is due.
    pub(super) fn poll_header(&mut self, now: Instant) -> Option<super::Output> {
        let media = self.media?;
        let (offset, len) = self.header.next_read(&media)?;
        let due = self.header.due(media.bit_rate);
        if due > now {
            return Some(super::Output::Timeout(due));
        }
        self.header.read_pending = true;
        Some(super::Output::ReadHeader { offset, len })
    }

    /// The answer to [`super::Output::ReadHeader`]: writes the Data packet
    /// carrying `bytes` into `buf` and returns its length ([3.2.5.8.1]).
    pub fn header_piece(
        &mut self,
        now: Instant,
        bytes: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, ServerError> {
        let media = self.media_for("header_piece before accept_open")?;
        if self.phase != Phase::SendingHeader || !self.header.read_pending {
            return Err(ServerError::Misuse("header_piece without ReadHeader"));
        }
        let left = media.file_header_len - self.header.sent;
        let want = left.min(media.packet_size) as usize;
        if bytes.len() != want {
            return Err(ServerError::Misuse(
                "header_piece with other than the bytes asked for",
            ));
        }
        let last = want as u32 == left;
        let d = DataPacketRepr {
            location_id: self.header.sent / media.packet_size,
            // interop-notes: every piece carries the ReadBlock's playIncarnation.
            play_incarnation: self.incarnation as u8,
            af_flags: if last { AF_HEADER_LAST } else { AF_HEADER_MORE },
            payload: bytes,
        };
        let n = d.emit(buf)?;
        self.header.sent += want as u32;
        self.header.read_pending = false;
        if last {
            // [3.2.5.8.1] After the last piece, INIT becomes READY. After a
            // playlist entry's header [3.2.4.2] says TCP streams on from
            // the entry's start; libmms (the one open client that follows
            // playlists) answers the header with StreamSwitch and
            // StartPlaying and fails on a Data packet before its
            // ReportStreamSwitch. So both headers end in READY.
            self.phase = Phase::Ready;
            self.timers.start_idle(now, self.config.idle_timeout);
        }
        Ok(n)
    }

    /// The media, or the misuse `why` when none was accepted.
    pub(super) fn media_for(&self, why: &'static str) -> Result<Media, ServerError> {
        self.media.ok_or(ServerError::Misuse(why))
    }
}
