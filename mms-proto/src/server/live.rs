//! Live (broadcast) content ([2.2.2], [3.2.5.11.1]): a virtual ASF file
//! whose LocationId keeps counting, made by a source while listeners
//! play it. The application marks the content [`Media::live`]; then
//!
//! * a StartPlaying joins ([`Event::JoinLive`](super::Event::JoinLive),
//!   answered with [`ServerMachine::seek_to`]); a time seek or a stride
//!   is refused with E_NOTIMPL at once;
//! * every selected stream starts cleanly wherever the play begins (video
//!   at a key frame, audio at a media object's start);
//! * packets go when the source makes them (no Send Time pacing: the
//!   source's clock paces); a packet not made yet is
//!   [`Fetch::Later`](super::Fetch::Later) — the read waits until
//!   [`ServerMachine::live_ready`];
//! * a listener behind the buffer skips ahead
//!   ([`Fetch::Skip`](super::Fetch::Skip)), starting cleanly again;
//! * a new header from the source is a playlist-style change
//!   ([`ServerMachine::live_change`]: ReportEndOfStream hr 1, then
//!   ReportStreamChange and the header, [3.2.4.2]); the source's end is
//!   [`ServerMachine::end_of_content`] ([3.2.4.1]).

use super::{Media, Phase, Reply, ServerError, ServerMachine};
use crate::asf::StreamSet;
use crate::time::Instant;
use crate::wire::HResult;

impl ServerMachine {
    /// The streams the client selected for the play that is starting or
    /// going on (every stream of the header when it selected all, or sent
    /// no StreamSwitch). For a join, the application picks a packet where
    /// each of these can start cleanly.
    pub fn selected_streams(&self) -> StreamSet {
        self.media
            .map_or(StreamSet::EMPTY, |m| self.streams.selected(&m))
    }

    /// What a clean start of the play needs, by stream: (the selected
    /// streams that start at a key frame, those that start at a media
    /// object's first byte) — the rule of `Streams::start_live`. A runtime
    /// picks join and skip points where each of them has such a start
    /// ([`crate::asf::CleanStarts`]).
    pub fn clean_start_needs(&self) -> (StreamSet, StreamSet) {
        let Some(m) = self.media else {
            return (StreamSet::EMPTY, StreamSet::EMPTY);
        };
        let selected = self.streams.selected(&m);
        let key_less = m.without_key_frames;
        (
            StreamSet(selected.0 & !key_less.0),
            StreamSet(selected.0 & key_less.0),
        )
    }

    /// Live: whether the play waits for the source to make its next
    /// packet. The runtime calls [`Self::live_ready`] when it has.
    pub fn live_waiting(&self) -> bool {
        self.phase == Phase::Streaming && self.play.parked()
    }

    /// Live: the source made packets; a waiting play asks again
    /// ([`super::Output::ReadPacket`]). Harmless when nothing waits.
    pub fn live_ready(&mut self) {
        self.play.unpark();
    }

    /// The [`Fetch::Later`](super::Fetch::Later) answer to the read of
    /// `number` (what [`super::drain`] calls).
    pub fn live_wait(&mut self, number: u64) -> Result<(), ServerError> {
        if !self.media.is_some_and(|m| m.live) || !self.play.park(number) {
            return Err(ServerError::Misuse(
                "Fetch::Later without a matching ReadPacket on live content",
            ));
        }
        Ok(())
    }

    /// The [`Fetch::Skip`](super::Fetch::Skip) answer to the read of
    /// `number`: the play goes on at `to`, every selected stream starting
    /// cleanly again (what [`super::drain`] calls).
    pub fn live_skip(&mut self, now: Instant, number: u64, to: u64) -> Result<(), ServerError> {
        let _ = now;
        let media = self.live_media()?;
        if !self.play.jump(number, to) {
            return Err(ServerError::Misuse(
                "Fetch::Skip without a matching ReadPacket, or not ahead",
            ));
        }
        self.streams.start_live(self.config.strict, &media);
        Ok(())
    }

    /// Live: the source's header changed (it restarted with other
    /// streams). A streaming play ends with ReportEndOfStream hr 1 and the
    /// machine asks for the new content ([`super::Output::NextEntry`] →
    /// [`Self::next_entry`] with the new [`Media`]): ReportStreamChange,
    /// the new header, then the client's StartPlaying joins again — the
    /// path of server-side playlists ([3.2.4.2]). `Ok(false)`: the
    /// session is not streaming (it opened the old header and has not
    /// played, or is between plays): it cannot be told, and the runtime
    /// should close it.
    pub fn live_change(&mut self, now: Instant) -> Result<bool, ServerError> {
        let _ = now;
        self.live_media()?;
        if self.phase != Phase::Streaming || self.play.awaiting_entry() {
            return Ok(self.play.awaiting_entry() && self.phase == Phase::Streaming);
        }
        self.play.end_entry();
        self.out.push(Reply::EndOfStream {
            hr: HResult(1),
            incarnation: self.incarnation,
        })?;
        Ok(true)
    }

    fn live_media(&self) -> Result<Media, ServerError> {
        self.media.filter(|m| m.live).ok_or(ServerError::Misuse(
            "a live call on content that is not live",
        ))
    }
}
