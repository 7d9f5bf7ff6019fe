//! [`HeaderSummary`]: what ReportOpenFile ([2.2.4.7]) and stream selection
//! need from an ASF header, in one call.

use super::guid;
use super::header::*;
use crate::wire::field::Le;
use crate::wire::{Error, Result, Utf16Str};

/// Most streams a header may declare (stream numbers are 7 bits).
pub const MAX_STREAMS: usize = 127;
/// Most mutual-exclusion objects kept.
pub const MAX_EXCLUSIONS: usize = 8;
/// Most records (alternatives) per exclusion object.
pub const MAX_EXCLUSION_RECORDS: usize = 16;

/// One stream declared in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream Number, 1..=127.
    pub number: u8,
    /// Audio, video, command or other.
    pub kind: StreamKind,
    /// The Encrypted Content flag.
    pub encrypted: bool,
    /// Codec identification.
    pub codec: Codec,
    /// Bit rate, bit/s: Stream Bitrate Properties, else ESP Data Bitrate,
    /// else the audio format's average bytes/s × 8, else 0.
    pub bitrate: u32,
    /// Index into the Language List (from the ESP), if any.
    pub language_index: Option<u16>,
    /// Audio format, for audio streams.
    pub audio: Option<AudioFormat>,
    /// Video format, for video streams.
    pub video: Option<VideoFormat>,
}

/// What a mutual-exclusion object says is an alternative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclusionKind {
    /// Mutex Language: one stream per language.
    Language,
    /// Mutex Bitrate: one encoding per bit rate.
    Bitrate,
    /// Mutex Unknown.
    Unknown,
}

/// A mutual-exclusion group (§2.7, §8): exactly one record is played.
/// Bitrate / Advanced Mutual Exclusion give one stream per record; Group
/// Mutual Exclusion gives sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// Why the records exclude each other.
    pub kind: ExclusionKind,
    /// The alternatives.
    pub records: heapless::Vec<StreamSet, MAX_EXCLUSION_RECORDS>,
}

impl Exclusion {
    /// Every stream the group mentions.
    pub fn streams(&self) -> StreamSet {
        StreamSet(self.records.iter().fold(0, |a, r| a | r.0))
    }
}

/// The facts of an ASF header a server and a client act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSummary<'a> {
    /// The Header Object's bytes (its Object Size).
    pub header: &'a [u8],
    /// File ID.
    pub file_id: guid::Guid,
    /// File Size, bytes (0 when broadcast).
    pub file_size: u64,
    /// Data Packets Count (0 when broadcast).
    pub packet_count: u64,
    /// Play Duration, 100 ns, preroll included.
    pub play_duration: u64,
    /// Send Duration, 100 ns.
    pub send_duration: u64,
    /// Preroll, ms.
    pub preroll_ms: u64,
    /// File Properties flags ([`FLAG_BROADCAST`], [`FLAG_SEEKABLE`]).
    pub flags: u32,
    /// The fixed data packet size P.
    pub packet_size: u32,
    /// File Properties Maximum Bitrate, bit/s.
    pub max_bitrate: u32,
    /// The streams, in header order.
    pub streams: heapless::Vec<StreamInfo, MAX_STREAMS>,
    /// Mutual-exclusion groups.
    pub exclusions: heapless::Vec<Exclusion, MAX_EXCLUSIONS>,
    /// The Language List object, if any (see [`Self::language`]).
    pub language_list: Option<&'a [u8]>,
    /// A content-encryption (DRM) object is present.
    pub drm: bool,
}

impl<'a> HeaderSummary<'a> {
    /// Parses the Header Object at the start of `buf` (more bytes may
    /// follow: the Data Object prefix and packets are ignored).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let h = HeaderObject::check(buf)?;
        let header: &'a [u8] = h.into_inner();
        let mut fp = None;
        let mut s = Self {
            header,
            file_id: [0; 16],
            file_size: 0,
            packet_count: 0,
            play_duration: 0,
            send_duration: 0,
            preroll_ms: 0,
            flags: 0,
            packet_size: 0,
            max_bitrate: 0,
            streams: heapless::Vec::new(),
            exclusions: heapless::Vec::new(),
            language_list: None,
            drm: false,
        };
        let mut sbp: Option<&'a [u8]> = None;
        let mut esps: heapless::Vec<&'a [u8], MAX_STREAMS> = heapless::Vec::new();
        for obj in h.children() {
            let obj = obj?;
            match obj.guid {
                guid::FILE_PROPERTIES => {
                    if fp.is_some() {
                        return Err(Error::invalid("File Properties", "more than one"));
                    }
                    fp = Some(FileProperties::new_checked(obj.bytes)?);
                }
                guid::STREAM_PROPERTIES => s.add_stream(obj.bytes)?,
                guid::STREAM_BITRATE_PROPERTIES => sbp = Some(obj.bytes),
                guid::BITRATE_MUTUAL_EXCLUSION => s.add_exclusion(obj.bytes, false)?,
                guid::CONTENT_ENCRYPTION | guid::EXTENDED_CONTENT_ENCRYPTION => s.drm = true,
                guid::HEADER_EXTENSION => {
                    for child in HeaderExtension::new_checked(obj.bytes)?.children()? {
                        let child = child?;
                        match child.guid {
                            guid::EXTENDED_STREAM_PROPERTIES => {
                                let esp = ExtendedStreamProperties::new_checked(child.bytes)?;
                                if let Some(spo) = esp.embedded_stream_properties()? {
                                    s.add_stream(spo)?;
                                }
                                esps.push(child.bytes).map_err(|_| {
                                    Error::invalid("Extended Stream Properties", "more than 127")
                                })?;
                            }
                            guid::ADVANCED_MUTUAL_EXCLUSION => {
                                s.add_exclusion(child.bytes, false)?
                            }
                            guid::GROUP_MUTUAL_EXCLUSION => s.add_exclusion(child.bytes, true)?,
                            guid::LANGUAGE_LIST => {
                                let _validated = languages(child.bytes)?;
                                s.language_list = Some(child.bytes);
                            }
                            guid::ADVANCED_CONTENT_ENCRYPTION => s.drm = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let fp = fp.ok_or(Error::invalid("File Properties", "missing"))?;
        if fp.min_packet_size() != fp.max_packet_size() {
            return Err(Error::invalid(
                "Data Packet Size",
                "minimum differs from maximum",
            ));
        }
        if fp.max_packet_size() == 0 {
            return Err(Error::invalid("Data Packet Size", "0"));
        }
        s.file_id = fp.file_id();
        s.file_size = fp.file_size();
        s.packet_count = fp.data_packets_count();
        s.play_duration = fp.play_duration();
        s.send_duration = fp.send_duration();
        s.preroll_ms = fp.preroll();
        s.flags = fp.flags();
        s.packet_size = fp.max_packet_size();
        s.max_bitrate = fp.max_bitrate();
        if s.streams.is_empty() {
            return Err(Error::invalid("Stream Properties", "no stream declared"));
        }
        for esp in esps {
            let esp = ExtendedStreamProperties::new_checked(esp)?;
            let n = esp.stream_number();
            if let Some(st) = s.streams.iter_mut().find(|st| st.number as u16 == n) {
                st.language_index = Some(esp.language_index());
                if st.bitrate == 0 || sbp.is_none() {
                    st.bitrate = esp.data_bitrate();
                }
            }
        }
        if let Some(sbp) = sbp {
            for (n, rate) in stream_bitrates(sbp)? {
                if let Some(st) = s.streams.iter_mut().find(|st| st.number == n) {
                    st.bitrate = rate;
                }
            }
        }
        Ok(s)
    }

    fn add_stream(&mut self, obj: &'a [u8]) -> Result<()> {
        let spo = StreamProperties::check(obj)?;
        let number = spo.stream_number();
        if self.streams.iter().any(|s| s.number == number) {
            // An ESP-embedded SPO may repeat a top-level one; keep the first.
            return Ok(());
        }
        let kind = StreamKind::from_guid(&spo.stream_type());
        let tsd = spo.type_specific_data();
        let audio = if kind == StreamKind::Audio {
            AudioFormat::parse(tsd).ok()
        } else {
            None
        };
        let video = if kind == StreamKind::Video {
            VideoFormat::parse(tsd).ok()
        } else {
            None
        };
        let codec = match (audio, video) {
            (Some(a), _) => Codec::Audio(a.format_tag),
            (_, Some(v)) => Codec::Video(v.fourcc),
            _ => Codec::Unknown,
        };
        let bitrate = audio.map_or(0, |a| a.avg_bytes_per_sec.saturating_mul(8));
        let info = StreamInfo {
            number,
            kind,
            encrypted: spo.encrypted(),
            codec,
            bitrate,
            language_index: None,
            audio,
            video,
        };
        self.streams
            .push(info)
            .map_err(|_| Error::invalid("Stream Properties", "more than 127 streams"))
    }

    fn add_exclusion(&mut self, obj: &[u8], group: bool) -> Result<()> {
        crate::wire::error::need(obj, 42)?;
        let mut t = [0u8; 16];
        t.copy_from_slice(&obj[24..40]);
        let kind = match t {
            guid::MUTEX_LANGUAGE => ExclusionKind::Language,
            guid::MUTEX_BITRATE => ExclusionKind::Bitrate,
            _ => ExclusionKind::Unknown,
        };
        let mut records = heapless::Vec::new();
        let too_many = || Error::invalid("Mutual Exclusion", "more than 16 alternatives");
        if group {
            let n = <u16 as Le>::read(&obj[40..]) as usize;
            let mut off = 42;
            for _ in 0..n {
                let (set, next) = stream_list(obj, off)?;
                records.push(set).map_err(|_| too_many())?;
                off = next;
            }
        } else {
            let (set, _) = stream_list(obj, 40)?;
            for s in set.iter() {
                records
                    .push(StreamSet::EMPTY.with(s))
                    .map_err(|_| too_many())?;
            }
        }
        self.exclusions
            .push(Exclusion { kind, records })
            .map_err(|_| Error::invalid("Mutual Exclusion", "more than 8 objects"))
    }

    /// Length of the Header Object.
    pub fn header_object_len(&self) -> usize {
        self.header.len()
    }

    /// Length of the MMS "ASF file header": Header Object + 50-byte Data
    /// Object prefix ([2.2.2]); ReportOpenFile's fileHeaderSize.
    pub fn file_header_len(&self) -> usize {
        self.header.len() + DATA_OBJECT_PREFIX_LEN
    }

    /// Byte offset of packet `n` in the file.
    pub fn packet_offset(&self, n: u64) -> u64 {
        self.file_header_len() as u64 + n * self.packet_size as u64
    }

    /// The packet containing file offset `off`, if it lies in the data.
    pub fn packet_at_offset(&self, off: u64) -> Option<u64> {
        off.checked_sub(self.file_header_len() as u64)
            .map(|d| d / self.packet_size as u64)
    }

    /// The Broadcast flag (live, unfinished).
    pub fn is_broadcast(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }

    /// The Seekable flag.
    pub fn is_seekable(&self) -> bool {
        self.flags & FLAG_SEEKABLE != 0
    }

    /// Content duration in ms: Play Duration minus Preroll (0 if unknown).
    pub fn duration_ms(&self) -> u64 {
        (self.play_duration / 10_000).saturating_sub(self.preroll_ms)
    }

    /// The stream with this number.
    pub fn stream(&self, number: u8) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.number == number)
    }

    /// Every declared stream.
    pub fn all_streams(&self) -> StreamSet {
        let mut set = StreamSet::EMPTY;
        self.streams.iter().for_each(|s| set.insert(s.number));
        set
    }

    /// Sum of the streams' bit rates ([2.2.4.7] fileBitRate). When a
    /// stream declares none (a video without Stream Bitrate Properties),
    /// the sum undercounts: File Properties Maximum Bitrate is used then if
    /// it is larger — a 1.5 Mbit/s WMV whose video has no declared rate is
    /// not announced (and its header paced) at its audio's 128 kbit/s.
    pub fn total_bitrate(&self) -> u32 {
        let sum = self
            .streams
            .iter()
            .fold(0u32, |a, s| a.saturating_add(s.bitrate));
        if self.streams.iter().any(|s| s.bitrate == 0) {
            sum.max(self.max_bitrate)
        } else {
            sum
        }
    }

    /// Language `index` of the Language List (e.g. `en-us`).
    pub fn language(&self, index: u16) -> Option<Utf16Str<'a>> {
        languages(self.language_list?).ok()?.nth(index as usize)
    }
}
