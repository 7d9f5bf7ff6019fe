//! Views over the Header Object and its children (asf-facts §2), the Data
//! Object's 50-byte prefix (§3) and the index objects (§7).

use super::guid::{self, Guid};
use super::object::Objects;
use crate::wire::error::need;
use crate::wire::field::{Le, view};
use crate::wire::{Error, Result, Utf16Str};

fn u16_at(b: &[u8], off: usize) -> u16 {
    <u16 as Le>::read(&b[off..])
}

view! {
    /// §2.1 Header Object (fixed part 30 bytes).
    pub struct HeaderObject, fixed_len = 30;
    /// Object ID: the Header Object GUID.
    guid / set_guid: Guid = 0;
    /// Object Size = 30 + the children = file offset of the Data Object.
    size / set_size: u64 = 16;
    /// Number of Header Objects: a hint (FFmpeg writes it too small).
    object_count / set_object_count: u32 = 24;
    /// Reserved1: 0x01.
    reserved1 / set_reserved1: u8 = 28;
    /// Reserved2: 0x02.
    reserved2 / set_reserved2: u8 = 29;
}

impl<'a> HeaderObject<&'a [u8]> {
    /// Checks the GUID and that Object Size fits the buffer; returns the
    /// Header Object's bytes (exactly Object Size).
    pub fn check(buf: &'a [u8]) -> Result<Self> {
        let v = Self::new_checked(buf)?;
        if v.guid() != guid::HEADER {
            return Err(Error::invalid("Header Object", "wrong GUID"));
        }
        let size = v.size();
        if size < 30 {
            return Err(Error::invalid("Header Object Size", "smaller than 30"));
        }
        if size > buf.len() as u64 {
            return Err(Error::Truncated {
                needed: size.min(usize::MAX as u64) as usize,
                got: buf.len(),
            });
        }
        Ok(Self::new_unchecked(&buf[..size as usize]))
    }

    /// The child objects, walked by size.
    pub fn children(&self) -> Objects<'a> {
        let b: &'a [u8] = self.into_inner();
        Objects::new(&b[30.min(b.len())..])
    }
}

view! {
    /// §2.2 File Properties Object (104 bytes).
    pub struct FileProperties, fixed_len = 104;
    /// File ID.
    file_id / set_file_id: Guid = 24;
    /// File Size in bytes (0 when broadcast).
    file_size / set_file_size: u64 = 40;
    /// Creation Date, 100 ns since 1601.
    creation_date / set_creation_date: u64 = 48;
    /// Data Packets Count (0 when broadcast).
    data_packets_count / set_data_packets_count: u64 = 56;
    /// Play Duration, 100 ns, preroll included.
    play_duration / set_play_duration: u64 = 64;
    /// Send Duration, 100 ns.
    send_duration / set_send_duration: u64 = 72;
    /// Preroll, ms.
    preroll / set_preroll: u64 = 80;
    /// Flags: 0x1 Broadcast, 0x2 Seekable.
    flags / set_flags: u32 = 88;
    /// Minimum Data Packet Size (= maximum = P).
    min_packet_size / set_min_packet_size: u32 = 92;
    /// Maximum Data Packet Size (= P).
    max_packet_size / set_max_packet_size: u32 = 96;
    /// Maximum Bitrate, bit/s.
    max_bitrate / set_max_bitrate: u32 = 100;
}

/// File Properties flag: the file is being written live.
pub const FLAG_BROADCAST: u32 = 0x1;
/// File Properties flag: the file is seekable.
pub const FLAG_SEEKABLE: u32 = 0x2;

view! {
    /// §2.3 Stream Properties Object (fixed part 78 bytes).
    pub struct StreamProperties, fixed_len = 78;
    /// Stream Type GUID (audio, video, command, …).
    stream_type / set_stream_type: Guid = 24;
    /// Error Correction Type GUID.
    error_correction_type / set_error_correction_type: Guid = 40;
    /// Time Offset, 100 ns.
    time_offset / set_time_offset: u64 = 56;
    /// Type-Specific Data Length.
    type_specific_len / set_type_specific_len: u32 = 64;
    /// Error Correction Data Length.
    error_correction_len / set_error_correction_len: u32 = 68;
    /// Flags: bits 0–6 stream number, bit 15 encrypted.
    flags / set_flags: u16 = 72;
    /// Reserved.
    reserved / set_reserved: u32 = 74;
}

impl<'a> StreamProperties<&'a [u8]> {
    /// Checks that the variable parts fit the object.
    pub fn check(obj: &'a [u8]) -> Result<Self> {
        let v = Self::new_checked(obj)?;
        let end = 78 + v.type_specific_len() as u64 + v.error_correction_len() as u64;
        if end > obj.len() as u64 {
            return Err(Error::invalid(
                "Stream Properties",
                "type-specific and error-correction data run past the object",
            ));
        }
        if v.stream_number() == 0 {
            return Err(Error::invalid("Stream Number", "0 is invalid"));
        }
        Ok(v)
    }

    /// Stream Number (1..=127).
    pub fn stream_number(&self) -> u8 {
        (self.flags() & 0x7F) as u8
    }

    /// The Encrypted Content flag (unreliable as a DRM test, §2.3).
    pub fn encrypted(&self) -> bool {
        self.flags() & 0x8000 != 0
    }

    /// Type-Specific Data (WAVEFORMATEX for audio, §2.3).
    pub fn type_specific_data(&self) -> &'a [u8] {
        let b: &'a [u8] = self.into_inner();
        let n = (self.type_specific_len() as usize).min(b.len() - 78);
        &b[78..78 + n]
    }
}

/// The kind of a stream, from its Stream Type GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Audio Media.
    Audio,
    /// Video Media.
    Video,
    /// Command Media (script commands).
    Command,
    /// JFIF, degradable JPEG, file transfer, binary or unknown.
    Other,
}

impl StreamKind {
    /// Classifies a Stream Type GUID.
    pub fn from_guid(g: &Guid) -> Self {
        match *g {
            guid::AUDIO_MEDIA => StreamKind::Audio,
            guid::VIDEO_MEDIA => StreamKind::Video,
            guid::COMMAND_MEDIA => StreamKind::Command,
            _ => StreamKind::Other,
        }
    }
}

/// What identifies a stream's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// WAVEFORMATEX Format Tag (0x0161 WMA v2, 0x0162 Pro, 0x0163 Lossless, …).
    Audio(u16),
    /// BITMAPINFOHEADER compression FOURCC (`WMV2`, `WMV3`, `MP43`, …).
    Video([u8; 4]),
    /// Not known.
    Unknown,
}

/// Audio: WAVEFORMATEX fields of interest (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AudioFormat {
    /// Format Tag.
    pub format_tag: u16,
    /// Channels.
    pub channels: u16,
    /// Samples per second.
    pub samples_per_sec: u32,
    /// Average bytes per second.
    pub avg_bytes_per_sec: u32,
    /// Block Align (one WMA superframe).
    pub block_align: u16,
}

impl AudioFormat {
    /// Parses the first 14 bytes of a WAVEFORMATEX.
    pub fn parse(b: &[u8]) -> Result<Self> {
        need(b, 14)?;
        Ok(Self {
            format_tag: u16_at(b, 0),
            channels: u16_at(b, 2),
            samples_per_sec: <u32 as Le>::read(&b[4..]),
            avg_bytes_per_sec: <u32 as Le>::read(&b[8..]),
            block_align: u16_at(b, 12),
        })
    }
}

/// Video: image size and FOURCC (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoFormat {
    /// Encoded Image Width.
    pub width: u32,
    /// Encoded Image Height.
    pub height: u32,
    /// BITMAPINFOHEADER compression.
    pub fourcc: [u8; 4],
}

impl VideoFormat {
    /// Parses video type-specific data (11 bytes + BITMAPINFOHEADER).
    pub fn parse(b: &[u8]) -> Result<Self> {
        need(b, 11 + 20)?;
        let mut fourcc = [0u8; 4];
        fourcc.copy_from_slice(&b[11 + 16..11 + 20]);
        Ok(Self {
            width: <u32 as Le>::read(b),
            height: <u32 as Le>::read(&b[4..]),
            fourcc,
        })
    }
}

view! {
    /// §2.4 Header Extension Object (fixed part 46 bytes).
    pub struct HeaderExtension, fixed_len = 46;
    /// Reserved Field 1 (Reserved 1 GUID).
    reserved1 / set_reserved1: Guid = 24;
    /// Reserved Field 2 (6).
    reserved2 / set_reserved2: u16 = 40;
    /// Header Extension Data Size.
    data_size / set_data_size: u32 = 42;
}

impl<'a> HeaderExtension<&'a [u8]> {
    /// The child objects, walked by size within Header Extension Data Size.
    pub fn children(&self) -> Result<Objects<'a>> {
        let b: &'a [u8] = self.into_inner();
        let end = 46 + self.data_size() as u64;
        if end > b.len() as u64 {
            return Err(Error::invalid(
                "Header Extension Data Size",
                "runs past the object",
            ));
        }
        Ok(Objects::new(&b[46..end as usize]))
    }
}

view! {
    /// §2.5 Extended Stream Properties Object (fixed part 88 bytes).
    pub struct ExtendedStreamProperties, fixed_len = 88;
    /// Start Time, ms.
    start_time / set_start_time: u64 = 24;
    /// End Time, ms.
    end_time / set_end_time: u64 = 32;
    /// Data Bitrate, bit/s (leaky-bucket average).
    data_bitrate / set_data_bitrate: u32 = 40;
    /// Buffer Size, ms.
    buffer_size / set_buffer_size: u32 = 44;
    /// Initial Buffer Fullness, ms.
    initial_buffer_fullness / set_initial_buffer_fullness: u32 = 48;
    /// Alternate Data Bitrate (peak), bit/s.
    alternate_data_bitrate / set_alternate_data_bitrate: u32 = 52;
    /// Alternate Buffer Size.
    alternate_buffer_size / set_alternate_buffer_size: u32 = 56;
    /// Alternate Initial Buffer Fullness.
    alternate_initial_buffer_fullness / set_alternate_initial_buffer_fullness: u32 = 60;
    /// Maximum Object Size, bytes (0 = unknown).
    max_object_size / set_max_object_size: u32 = 64;
    /// Flags: 0x1 reliable, 0x2 seekable, 0x4 no cleanpoints, 0x8 resend live cleanpoints.
    flags / set_flags: u32 = 68;
    /// Stream Number.
    stream_number / set_stream_number: u16 = 72;
    /// Stream Language ID Index (into the Language List).
    language_index / set_language_index: u16 = 74;
    /// Average Time Per Frame, 100 ns.
    avg_time_per_frame / set_avg_time_per_frame: u64 = 76;
    /// Stream Name Count.
    stream_name_count / set_stream_name_count: u16 = 84;
    /// Payload Extension System Count.
    payload_extension_count / set_payload_extension_count: u16 = 86;
}

impl<'a> ExtendedStreamProperties<&'a [u8]> {
    /// The Stream Properties Object embedded after the names and payload
    /// extension systems, if bytes remain for one.
    pub fn embedded_stream_properties(&self) -> Result<Option<&'a [u8]>> {
        let b: &'a [u8] = self.into_inner();
        let mut off = 88usize;
        for _ in 0..self.stream_name_count() {
            need(b, off + 4)?;
            off += 4 + u16_at(b, off + 2) as usize;
        }
        for _ in 0..self.payload_extension_count() {
            need(b, off + 22)?;
            off += 22 + <u32 as Le>::read(&b[off + 18..]) as usize;
        }
        need(b, off)?;
        let rest = &b[off..];
        if rest.len() < 24 {
            return Ok(None);
        }
        let obj = Objects::new(rest).next().transpose()?;
        Ok(obj
            .filter(|o| o.guid == guid::STREAM_PROPERTIES)
            .map(|o| o.bytes))
    }
}

/// A bitmask of stream numbers 1..=127 (bit n = stream n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamSet(pub u128);

impl StreamSet {
    /// The empty set.
    pub const EMPTY: StreamSet = StreamSet(0);

    /// True if `stream` is in the set.
    pub const fn contains(self, stream: u8) -> bool {
        stream < 128 && self.0 & (1 << stream) != 0
    }

    /// Adds `stream` (numbers above 127 are ignored).
    pub fn insert(&mut self, stream: u8) {
        if stream < 128 {
            self.0 |= 1 << stream;
        }
    }

    /// Removes `stream`.
    pub fn remove(&mut self, stream: u8) {
        if stream < 128 {
            self.0 &= !(1 << stream);
        }
    }

    /// The set with `stream` added.
    pub fn with(mut self, stream: u8) -> Self {
        self.insert(stream);
        self
    }

    /// Number of streams in the set.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// True when empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The stream numbers, ascending (one step per member: the set is
    /// walked on every packet sent).
    pub fn iter(self) -> impl Iterator<Item = u8> {
        // Bit 0 is no stream number.
        let mut bits = self.0 & !1;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let s = bits.trailing_zeros() as u8;
            bits &= bits - 1;
            Some(s)
        })
    }
}

/// Reads a `count WORD` + `count × WORD stream number` list at `off`.
pub(crate) fn stream_list(b: &[u8], off: usize) -> Result<(StreamSet, usize)> {
    need(b, off + 2)?;
    let n = u16_at(b, off) as usize;
    need(b, off + 2 + 2 * n)?;
    let mut set = StreamSet::EMPTY;
    for i in 0..n {
        let s = u16_at(b, off + 2 + 2 * i);
        if s == 0 || s > 127 {
            return Err(Error::invalid("Stream Numbers", "outside 1..=127"));
        }
        set.insert(s as u8);
    }
    Ok((set, off + 2 + 2 * n))
}

/// Stream Bitrate Properties records (§2.6): `(stream, average bit/s)`.
pub fn stream_bitrates(obj: &[u8]) -> Result<impl Iterator<Item = (u8, u32)> + '_> {
    need(obj, 26)?;
    let n = u16_at(obj, 24) as usize;
    need(obj, 26 + 6 * n)?;
    Ok(obj[26..26 + 6 * n]
        .chunks_exact(6)
        .map(|r| ((u16_at(r, 0) & 0x7F) as u8, <u32 as Le>::read(&r[2..]))))
}

/// Language List records (§2.7): the RFC 1766 language ids in order.
pub fn languages(obj: &[u8]) -> Result<impl Iterator<Item = Utf16Str<'_>> + '_> {
    need(obj, 26)?;
    let n = u16_at(obj, 24) as usize;
    // Validate the whole list once so the iterator cannot fail.
    let mut off = 26;
    for _ in 0..n {
        need(obj, off + 1)?;
        let len = obj[off] as usize;
        need(obj, off + 1 + len)?;
        Utf16Str::from_wire(&obj[off + 1..off + 1 + len], "Language ID")?;
        off += 1 + len;
    }
    let mut off = 26;
    Ok((0..n).map(move |_| {
        let len = obj[off] as usize;
        let s = Utf16Str::Wire(&obj[off + 1..off + 1 + len]).trim_trailing_nuls();
        off += 1 + len;
        s
    }))
}

view! {
    /// §3 The Data Object's fixed 50-byte prefix (the last part of the MMS
    /// "ASF file header").
    pub struct DataObject, fixed_len = DATA_OBJECT_PREFIX_LEN;
    /// Object ID: the Data Object GUID.
    guid / set_guid: Guid = 0;
    /// Object Size (50 + N × P; 0 or 50 when live).
    size / set_size: u64 = 16;
    /// File ID.
    file_id / set_file_id: Guid = 24;
    /// Total Data Packets (0 when live).
    total_data_packets / set_total_data_packets: u64 = 40;
    /// Reserved: 0x0101.
    reserved / set_reserved: u16 = 48;
}

/// Length of the Data Object prefix that precedes the packets.
pub const DATA_OBJECT_PREFIX_LEN: usize = 50;

view! {
    /// §7.1 Simple Index Object (fixed part 56 bytes).
    pub struct SimpleIndex, fixed_len = 56;
    /// File ID.
    file_id / set_file_id: Guid = 24;
    /// Index Entry Time Interval, 100 ns (may be 0 in audio files).
    interval / set_interval: u64 = 40;
    /// Maximum Packet Count.
    max_packet_count / set_max_packet_count: u32 = 48;
    /// Index Entries Count.
    entries_count / set_entries_count: u32 = 52;
}

impl<'a> SimpleIndex<&'a [u8]> {
    /// Checks that every entry fits.
    pub fn check(obj: &'a [u8]) -> Result<Self> {
        let v = Self::new_checked(obj)?;
        if 56 + 6 * v.entries_count() as u64 > obj.len() as u64 {
            return Err(Error::invalid(
                "Index Entries Count",
                "entries run past the object",
            ));
        }
        Ok(v)
    }

    /// Entry `i`: `(packet number, packet count)`.
    pub fn entry(&self, i: u32) -> Option<(u32, u16)> {
        if i >= self.entries_count() {
            return None;
        }
        let b: &'a [u8] = self.into_inner();
        let off = 56 + 6 * i as usize;
        let e = b.get(off..off + 6)?;
        Some((<u32 as Le>::read(e), u16_at(e, 4)))
    }

    /// The packet to start at for presentation time `t_ms` (preroll
    /// included, §7.1): the entry at `t / interval`, clamped.
    pub fn lookup(&self, t_ms: u64) -> Option<u32> {
        let interval = self.interval();
        let n = self.entries_count();
        if interval == 0 || n == 0 {
            return None;
        }
        let i = (t_ms.saturating_mul(10_000) / interval).min(n as u64 - 1) as u32;
        self.entry(i).map(|(p, _)| p)
    }
}

view! {
    /// §7.2 Index Object (fixed part 34 bytes).
    pub struct Index, fixed_len = 34;
    /// Index Entry Time Interval, ms.
    interval / set_interval: u32 = 24;
    /// Index Specifiers Count.
    specifiers_count / set_specifiers_count: u16 = 28;
    /// Index Blocks Count.
    blocks_count / set_blocks_count: u32 = 30;
}

impl<'a> Index<&'a [u8]> {
    /// The byte offset, relative to the first data packet, of the entry
    /// for time `t_ms` of specifier 0 in the first block that covers it.
    pub fn lookup(&self, t_ms: u64) -> Result<Option<u64>> {
        let b: &'a [u8] = self.into_inner();
        let interval = self.interval() as u64;
        let s = self.specifiers_count() as usize;
        if interval == 0 || s == 0 {
            return Ok(None);
        }
        let mut want = t_ms / interval;
        let mut off = 34 + 4 * s;
        for _ in 0..self.blocks_count() {
            need(b, off + 4 + 8 * s)?;
            let entries = <u32 as Le>::read(&b[off..]) as u64;
            let position = <u64 as Le>::read(&b[off + 4..]);
            let first = off + 4 + 8 * s;
            let len = entries
                .checked_mul(4 * s as u64)
                .ok_or(Error::invalid("Index Entry Count", "too large"))?;
            if first as u64 + len > b.len() as u64 {
                return Err(Error::invalid(
                    "Index Entry Count",
                    "entries run past the object",
                ));
            }
            if entries > 0 && want >= entries {
                want -= entries;
                off = first + len as usize;
                continue;
            }
            if entries == 0 {
                return Ok(None);
            }
            let e = <u32 as Le>::read(&b[first + (want as usize) * 4 * s..]);
            return Ok((e != u32::MAX).then(|| position + e as u64));
        }
        Ok(None)
    }
}
