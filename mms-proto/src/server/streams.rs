//! [3.2.5.10] Stream selection: StreamSwitch entries (select, thin to key
//! frames, unselect, replace), new streams starting at a key frame, a
//! replaced stream going on until its replacement's first key frame, and
//! what striding ([3.2.5.12]) keeps of a packet.

use crate::asf::{Selection, StreamSet, starts_key_frame, starts_object};
use crate::wire::{Error, NO_STREAM, StreamSwitchRepr};

/// What the client selected, and the streams in transition.
#[derive(Debug, Clone, Default)]
pub(super) struct Streams {
    /// The streams selected and how ([3.2.5.10]).
    pub(super) selection: Selection,
    /// Selected streams that have not yet reached a key frame.
    awaiting_key_frame: StreamSet,
    /// Live: selected streams without key frames that have not yet
    /// reached the start of a media object.
    awaiting_object: StreamSet,
    /// Whether a StreamSwitch was received ([3.2.5.11]: else none is
    /// selected).
    switched: bool,
    /// Replaced streams still sent until their replacement's first key
    /// frame: (old, new).
    replacing: heapless::Vec<(u8, u8), 8>,
}

impl Streams {
    /// [3.2.5.10] Applies STREAM_SWITCH_ENTRYs: select (thinning 0 / 1),
    /// unselect (2), or replace `src` by `dst`. Newly selected streams
    /// start at a key frame; while `streaming`, a replaced stream goes on
    /// until its replacement's first key frame. `key_less`: streams
    /// without key-frame flags.
    pub(super) fn switch(
        &mut self,
        sw: &StreamSwitchRepr<'_>,
        streaming: bool,
        key_less: StreamSet,
    ) {
        if !self.switched {
            self.switched = true;
            self.selection = Selection::default();
        }
        for e in sw.entries.iter() {
            let replaced = (e.src_stream_number != NO_STREAM
                && e.src_stream_number < 128
                && e.src_stream_number != e.dst_stream_number)
                .then_some(e.src_stream_number as u8);
            let continues = replaced.filter(|&src| {
                streaming
                    && self.is_selected(src)
                    && (1..128).contains(&e.dst_stream_number)
                    && e.thinning_level < 2
                    && !key_less.contains(e.dst_stream_number as u8)
                    && !self.replacing.is_full()
            });
            if let Some(src) = continues {
                // Dropped when the new stream's first key frame goes out.
                let _ = self.replacing.push((src, e.dst_stream_number as u8));
            } else if e.src_stream_number != NO_STREAM && e.src_stream_number < 128 {
                unselect(&mut self.selection, e.src_stream_number as u8);
            }
            if e.dst_stream_number == NO_STREAM
                || e.dst_stream_number == 0
                || e.dst_stream_number > 127
            {
                continue;
            }
            let dst = e.dst_stream_number as u8;
            let was = self.is_selected(dst);
            unselect(&mut self.selection, dst);
            match e.thinning_level {
                0 => self.selection.all.insert(dst),
                // Audio has no key-frame flags: every object is a cleanpoint.
                1 if key_less.contains(dst) => self.selection.all.insert(dst),
                1 => self.selection.key_only.insert(dst),
                _ => {}
            }
            if self.is_selected(dst) && !was && !key_less.contains(dst) {
                self.awaiting_key_frame.insert(dst);
            }
        }
    }

    fn is_selected(&self, s: u8) -> bool {
        self.selection.all.contains(s) || self.selection.key_only.contains(s)
    }

    /// A play starts: without a StreamSwitch, everything (or, `strict`,
    /// nothing: [3.2.5.11]); video starts at a key frame, after a seek too.
    pub(super) fn start(&mut self, strict: bool, key_less: StreamSet) {
        if !self.switched {
            // Every open client sends a StreamSwitch; tolerate its absence
            // by playing all.
            self.selection = if strict {
                Selection::default()
            } else {
                Selection::EVERYTHING
            };
        }
        let selected = StreamSet(self.selection.all.0 | self.selection.key_only.0);
        self.awaiting_key_frame = if self.selection == Selection::EVERYTHING {
            StreamSet::EMPTY
        } else {
            StreamSet(selected.0 & !key_less.0)
        };
        self.awaiting_object = StreamSet::EMPTY;
        self.replacing.clear();
    }

    /// A live play joins (or skips ahead): every selected stream starts
    /// cleanly — video at a key frame, the others at the start of a media
    /// object — wherever in the broadcast the play begins.
    pub(super) fn start_live(&mut self, strict: bool, media: &super::Media) {
        self.start(strict, media.without_key_frames);
        // After `start`: everything, or (strict, no StreamSwitch) nothing.
        let selected = if self.selection == Selection::EVERYTHING {
            media.streams
        } else {
            StreamSet((self.selection.all.0 | self.selection.key_only.0) & media.streams.0)
        };
        let key_less = media.without_key_frames;
        self.awaiting_key_frame = StreamSet(selected.0 & !key_less.0);
        self.awaiting_object = StreamSet(selected.0 & key_less.0);
    }

    /// The streams selected for the play (all the header's streams when
    /// everything is), of `media`.
    pub(super) fn selected(&self, media: &super::Media) -> StreamSet {
        if self.selection == Selection::EVERYTHING || !self.switched {
            media.streams
        } else {
            StreamSet((self.selection.all.0 | self.selection.key_only.0) & media.streams.0)
        }
    }

    /// A playlist entry's header goes out ([3.2.4.2]): everything, until
    /// the client's StreamSwitch.
    pub(super) fn entry(&mut self) {
        self.selection = Selection::EVERYTHING;
        self.awaiting_key_frame = StreamSet::EMPTY;
        self.awaiting_object = StreamSet::EMPTY;
    }

    /// What of `packet` is sent: the selection, streams still waiting for a
    /// key frame starting at it (the stream one replaces stops there), and
    /// while `striding` key frames only (streams without them off).
    pub(super) fn for_packet(
        &mut self,
        packet: &[u8],
        striding: bool,
        key_less: StreamSet,
    ) -> Result<Selection, Error> {
        let mut sel = self.selection;
        sel.from_key_frame = self.awaiting_key_frame;
        sel.from_object_start = self.awaiting_object;
        for s in self.awaiting_object.iter() {
            if starts_object(packet, s)? {
                self.awaiting_object.remove(s);
            }
        }
        if striding {
            let selected = StreamSet(sel.all.0 | sel.key_only.0);
            sel.key_only = StreamSet(selected.0 & !key_less.0);
            sel.all = StreamSet::EMPTY;
            sel.from_key_frame = StreamSet::EMPTY;
        }
        for s in self.awaiting_key_frame.iter() {
            if starts_key_frame(packet, s)? {
                self.awaiting_key_frame.remove(s);
                for &(old, _) in self.replacing.iter().filter(|&&(_, new)| new == s) {
                    unselect(&mut self.selection, old);
                    unselect(&mut sel, old);
                }
                self.replacing.retain(|&(_, new)| new != s);
            }
        }
        Ok(sel)
    }
}

fn unselect(sel: &mut Selection, s: u8) {
    sel.all.remove(s);
    sel.key_only.remove(s);
}
