//! The client's play-control messages ([2.2.4.25]–[2.2.4.28]):
//! StartPlaying (with its stop and fast-start fields), StartStriding,
//! StopPlaying and StreamSwitch.

use super::consts::*;
use super::error::need;
use super::field::view;
use super::message::{MessageRepr, fixed_message};
use super::{Error, Result};

fixed_message! {
    /// [2.2.4.26] LinkViewerToMacStartStriding: play at a trick-mode rate.
    StartStriding / StartStridingRepr = StartStriding, len = 48;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 12;
    /// position: seconds, or DBL_MAX to use asfOffset / locationId.
    position / set_position: f64 = 16;
    /// asfOffset: a byte offset into the ASF file, or 0 / 0xFFFFFFFF.
    asf_offset / set_asf_offset: u32 = 24;
    /// locationId: an ASF data packet number, or 0 / 0xFFFFFFFF.
    location_id / set_location_id: u32 = 28;
    /// frameOffset: SHOULD be 0, MUST be ignored.
    frame_offset / set_frame_offset: u32 = 32;
    /// playIncarnation: 0x01..=0xFE.
    play_incarnation / set_play_incarnation: u32 = 36;
    /// rate: −5..=5, not 0.
    rate / set_rate: f64 = 40;
}
impl StartStridingRepr {
    fn strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)?;
        if !(-5.0..=5.0).contains(&self.rate) || self.rate == 0.0 {
            return Err(Error::invalid("rate", "outside -5..=5 or zero"));
        }
        Ok(())
    }
}

fixed_message! {
    /// [2.2.4.27] LinkViewerToMacStopPlaying: stop sending Data packets.
    StopPlaying / StopPlayingRepr = StopPlaying, len = 16;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// playIncarnation: the latest StartPlaying / StartStriding's (VLC
    /// sends 0x001FFFFF).
    play_incarnation / set_play_incarnation: u32 = 12;
}
impl StopPlayingRepr {
    fn strict(&self) -> Result<()> {
        Ok(())
    }
}

view! {
    /// [2.2.4.25] LinkViewerToMacStartPlaying: stream from a position.
    pub struct StartPlaying, fixed_len = 40;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// openFileId: from ReportOpenFile.
    open_file_id / set_open_file_id: u32 = 8;
    /// padding: SHOULD be 0, MUST be ignored.
    padding / set_padding: u32 = 12;
    /// position: seconds, or DBL_MAX to use asfOffset / locationId.
    position / set_position: f64 = 16;
    /// asfOffset: a byte offset into the ASF file, or 0 / 0xFFFFFFFF.
    asf_offset / set_asf_offset: u32 = 24;
    /// locationId: an ASF data packet number, or 0 / 0xFFFFFFFF.
    location_id / set_location_id: u32 = 28;
    /// frameOffset: where to stop (see [`StopAt`]).
    frame_offset / set_frame_offset: u32 = 32;
    /// playIncarnation: 0x01..=0xFE.
    play_incarnation / set_play_incarnation: u32 = 36;
}

/// [2.2.4.25] The optional fast-start fields of StartPlaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Acceleration {
    /// dwAccelBandwidth: bit/s to send the first `duration` at.
    pub bandwidth: u32,
    /// dwAccelDuration: milliseconds of content to send at `bandwidth`.
    pub duration: u32,
    /// dwLinkBandwidth: the client's link, bit/s (only with the other two).
    pub link_bandwidth: Option<u32>,
}

/// [2.2.4.25] frameOffset decoded: where the server stops streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopAt {
    /// 0: stream to the end.
    #[default]
    End,
    /// Stop at this many milliseconds from the start of the content.
    Absolute(u32),
    /// Stop this many milliseconds after the requested start position.
    Relative(u32),
}

impl StopAt {
    /// Decodes a frameOffset value.
    pub const fn from_frame_offset(v: u32) -> Self {
        if v == 0 {
            StopAt::End
        } else if v & 0x8000_0000 != 0 {
            StopAt::Relative(v & 0x7FFF_FFFF)
        } else {
            StopAt::Absolute(v)
        }
    }
}

/// [2.2.4.25] LinkViewerToMacStartPlaying, owned representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartPlayingRepr {
    /// openFileId.
    pub open_file_id: u32,
    /// padding.
    pub padding: u32,
    /// position: seconds, or [`POSITION_UNSPECIFIED`].
    pub position: f64,
    /// asfOffset.
    pub asf_offset: u32,
    /// locationId.
    pub location_id: u32,
    /// frameOffset (see [`StopAt::from_frame_offset`]).
    pub frame_offset: u32,
    /// playIncarnation.
    pub play_incarnation: u32,
    /// The optional acceleration fields (present when the message is 48 or
    /// 56 bytes long).
    pub acceleration: Option<Acceleration>,
}

impl StartPlayingRepr {
    /// Where the client asked the server to stop.
    pub fn stop_at(&self) -> StopAt {
        StopAt::from_frame_offset(self.frame_offset)
    }
}

impl<'a> MessageRepr<'a> for StartPlayingRepr {
    const ID: super::MessageId = super::MessageId::StartPlaying;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = StartPlaying::new_checked(msg)?;
        let word = |off: usize| super::field::u32_at(msg, off);
        // The optional fields are told apart by the message's length; the
        // chunk padding is the minimum [2.2.4] allows.
        let acceleration = if msg.len() >= 48 {
            Some(Acceleration {
                bandwidth: word(40),
                duration: word(44),
                link_bandwidth: (msg.len() >= 52).then(|| word(48)),
            })
        } else {
            None
        };
        Ok(Self {
            open_file_id: v.open_file_id(),
            padding: v.padding(),
            position: v.position(),
            asf_offset: v.asf_offset(),
            location_id: v.location_id(),
            frame_offset: v.frame_offset(),
            play_incarnation: v.play_incarnation(),
            acceleration,
        })
    }

    fn unpadded_len(&self) -> usize {
        match self.acceleration {
            None => 40,
            Some(Acceleration {
                link_bandwidth: None,
                ..
            }) => 48,
            Some(Acceleration {
                link_bandwidth: Some(_),
                ..
            }) => 52,
        }
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let mut v = StartPlaying::new_checked(&mut *buf)?;
        v.set_open_file_id(self.open_file_id);
        v.set_padding(self.padding);
        v.set_position(self.position);
        v.set_asf_offset(self.asf_offset);
        v.set_location_id(self.location_id);
        v.set_frame_offset(self.frame_offset);
        v.set_play_incarnation(self.play_incarnation);
        if let Some(a) = self.acceleration {
            need(buf, 48)?;
            super::field::put_u32(buf, 40, a.bandwidth);
            super::field::put_u32(buf, 44, a.duration);
            if let Some(link) = a.link_bandwidth {
                need(buf, 52)?;
                super::field::put_u32(buf, 48, link);
            }
        }
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        check_incarnation(self.play_incarnation)
    }
}

/// [2.2.4.28.1] STREAM_SWITCH_ENTRY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamSwitchEntry {
    /// wSrcStreamNumber: the stream to replace, or [`NO_STREAM`].
    pub src_stream_number: u16,
    /// wDstStreamNumber: the stream to send instead, or [`NO_STREAM`].
    pub dst_stream_number: u16,
    /// wThinningLevel: 0 all, 1 key frames only, 2 nothing.
    pub thinning_level: u16,
}

impl StreamSwitchEntry {
    /// Bytes per entry on the wire.
    pub const LEN: usize = 6;

    fn read(b: &[u8]) -> Self {
        // `b` is a 6-byte chunk from `chunks_exact(6)`.
        Self {
            src_stream_number: u16::from_le_bytes([b[0], b[1]]),
            dst_stream_number: u16::from_le_bytes([b[2], b[3]]),
            thinning_level: u16::from_le_bytes([b[4], b[5]]),
        }
    }

    fn write(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.src_stream_number.to_le_bytes());
        b[2..4].copy_from_slice(&self.dst_stream_number.to_le_bytes());
        b[4..6].copy_from_slice(&self.thinning_level.to_le_bytes());
    }
}

/// The aStreamEntries array: borrowed wire bytes, or a slice to emit.
#[derive(Debug, Clone, Copy)]
pub enum StreamSwitchEntries<'a> {
    /// Entries as received (length a multiple of 6).
    Wire(&'a [u8]),
    /// Entries to emit.
    Slice(&'a [StreamSwitchEntry]),
}

impl<'a> StreamSwitchEntries<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            StreamSwitchEntries::Wire(b) => b.len() / StreamSwitchEntry::LEN,
            StreamSwitchEntries::Slice(s) => s.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = StreamSwitchEntry> + 'a {
        let (wire, slice): (&'a [u8], &'a [StreamSwitchEntry]) = match *self {
            StreamSwitchEntries::Wire(b) => (b, &[]),
            StreamSwitchEntries::Slice(s) => (&[], s),
        };
        wire.chunks_exact(StreamSwitchEntry::LEN)
            .map(StreamSwitchEntry::read)
            .chain(slice.iter().copied())
    }
}

impl PartialEq for StreamSwitchEntries<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for StreamSwitchEntries<'_> {}

view! {
    /// [2.2.4.28] LinkViewerToMacStreamSwitch: select, thin or replace
    /// streams.
    pub struct StreamSwitch, fixed_len = 12;
    /// chunkLen.
    chunk_len / set_chunk_len: u32 = 0;
    /// MID.
    mid / set_mid: u32 = 4;
    /// cStreamEntries: number of entries.
    c_stream_entries / set_c_stream_entries: u32 = 8;
}

/// [2.2.4.28] LinkViewerToMacStreamSwitch, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSwitchRepr<'a> {
    /// aStreamEntries.
    pub entries: StreamSwitchEntries<'a>,
}

impl<'a> MessageRepr<'a> for StreamSwitchRepr<'a> {
    const ID: super::MessageId = super::MessageId::StreamSwitch;

    fn parse(msg: &'a [u8]) -> Result<Self> {
        let v = StreamSwitch::new_checked(msg)?;
        let len = v.c_stream_entries() as u64 * StreamSwitchEntry::LEN as u64;
        if 12 + len > msg.len() as u64 {
            return Err(Error::invalid(
                "cStreamEntries",
                "more entries than the message holds",
            ));
        }
        Ok(Self {
            entries: StreamSwitchEntries::Wire(&msg[12..12 + len as usize]),
        })
    }

    fn unpadded_len(&self) -> usize {
        12 + self.entries.len() * StreamSwitchEntry::LEN
    }

    fn emit_fields(&self, buf: &mut [u8]) -> Result<()> {
        let n = u32::try_from(self.entries.len())
            .map_err(|_| Error::invalid("cStreamEntries", "too many"))?;
        let mut v = StreamSwitch::new_checked(&mut *buf)?;
        v.set_c_stream_entries(n);
        need(buf, self.unpadded_len())?;
        for (entry, dst) in self
            .entries
            .iter()
            .zip(buf[12..].chunks_exact_mut(StreamSwitchEntry::LEN))
        {
            entry.write(dst);
        }
        Ok(())
    }

    fn check_strict(&self) -> Result<()> {
        if self
            .entries
            .iter()
            .any(|e| e.thinning_level > 2 && e.src_stream_number != NO_STREAM)
        {
            return Err(Error::invalid("wThinningLevel", "must be 0, 1 or 2"));
        }
        Ok(())
    }
}
