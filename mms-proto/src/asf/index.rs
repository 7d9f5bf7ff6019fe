//! Building a Simple Index Object (asf-facts §7.1) from the packets of a
//! file as they are written, for one video stream: entry `i` covers the
//! time `i × interval` on the presentation clock (preroll included) and
//! names the packet holding the start of the latest key frame presented at
//! or before it (entries before the first key frame name the first), with
//! the number of packets that key frame spans.
//!
//! No allocation: the builder keeps one key frame and streams each entry
//! to the caller once it is final — when the next key frame starts, or at
//! [`SimpleIndexBuilder::finish`]. Entries come in order, one per index,
//! so a caller appends them to its own storage (or writes them out) and
//! then writes the object with [`emit_simple_index_header`].

use super::guid::{self, Guid};
use super::header::{HeaderExtension, HeaderObject};
use super::packet::PacketInfo;
use crate::wire::error::room;
use crate::wire::{Error, Result};

/// The interval of an index written by FFmpeg and Windows Media tools:
/// 1 s, in 100-ns units (asf-facts §7.1).
pub const DEFAULT_INDEX_INTERVAL: u64 = 10_000_000;

/// Bytes of the Simple Index Object before its entries.
pub const SIMPLE_INDEX_HEADER_LEN: usize =
    16 /* GUID */ + 8 /* Object Size */ + 16 /* File ID */ + 8 /* Index Entry Time Interval */
    + 4 /* Maximum Packet Count */ + 4 /* Index Entries Count */;

/// Bytes of one entry: Packet Number DWORD, Packet Count WORD.
pub const SIMPLE_INDEX_ENTRY_LEN: usize = 6;

/// One Simple Index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimpleIndexEntry {
    /// The packet holding the start of the key frame.
    pub packet_number: u32,
    /// How many packets the key frame spans.
    pub packet_count: u16,
}

impl SimpleIndexEntry {
    /// Writes the entry's 6 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room(buf, SIMPLE_INDEX_ENTRY_LEN)?;
        buf[..4].copy_from_slice(&self.packet_number.to_le_bytes());
        buf[4..6].copy_from_slice(&self.packet_count.to_le_bytes());
        Ok(SIMPLE_INDEX_ENTRY_LEN)
    }
}

/// The key frame entries currently name.
#[derive(Debug, Clone, Copy)]
struct Key {
    first: u32,
    last: u32,
    object: u32,
}

/// Builds the Simple Index of one video stream, packet by packet.
#[derive(Debug, Clone)]
pub struct SimpleIndexBuilder {
    stream: u8,
    /// Index Entry Time Interval, ms (≥ 1).
    interval_ms: u64,
    /// The next entry to give out.
    next: u32,
    key: Option<Key>,
    /// The latest presentation time seen in the file (every stream), ms.
    end_pt: u32,
    max_count: u16,
}

impl SimpleIndexBuilder {
    /// A builder for `stream` with an interval in 100-ns units (0: the
    /// default of 1 s; less than 1 ms counts as 1 ms).
    pub fn new(stream: u8, interval: u64) -> Self {
        let interval = if interval == 0 {
            DEFAULT_INDEX_INTERVAL
        } else {
            interval
        };
        Self {
            stream,
            interval_ms: (interval / 10_000).max(1),
            next: 0,
            key: None,
            end_pt: 0,
            max_count: 0,
        }
    }

    /// The stream indexed.
    pub fn stream(&self) -> u8 {
        self.stream
    }

    /// Index Entry Time Interval, 100-ns units.
    pub fn interval(&self) -> u64 {
        self.interval_ms * 10_000
    }

    /// Maximum Packet Count so far.
    pub fn max_packet_count(&self) -> u16 {
        self.max_count
    }

    /// Entries given out so far.
    pub fn entries(&self) -> u32 {
        self.next
    }

    /// True once a key frame of the stream was seen (else the file has
    /// nothing to index for it).
    pub fn has_key_frame(&self) -> bool {
        self.key.is_some()
    }

    /// Takes packet `number` of the file (in order); gives `emit` the
    /// entries that became final.
    pub fn push(
        &mut self,
        number: u32,
        packet: &[u8],
        mut emit: impl FnMut(SimpleIndexEntry),
    ) -> Result<()> {
        let info = PacketInfo::parse(packet)?;
        for p in info.payloads(packet) {
            let p = p?;
            let Some(pt) = p.presentation_time() else {
                continue;
            };
            self.end_pt = self.end_pt.max(pt);
            if p.stream != self.stream {
                continue;
            }
            if p.key_frame && (p.offset == 0 || p.is_compressed()) {
                if let Some(k) = self.key {
                    // Entries before the new key frame's time are final.
                    self.emit_until(k, |t| t < pt as u64, &mut emit);
                }
                self.key = Some(Key {
                    first: number,
                    last: number,
                    object: p.media_object_number,
                });
            } else if let Some(k) = self.key.as_mut()
                && p.key_frame
                && p.media_object_number == k.object
            {
                k.last = number;
            }
        }
        Ok(())
    }

    /// The last entries: through the first entry time at or after the
    /// latest presentation time of any stream in the file (as FFmpeg's
    /// indexes end); the number of entries in all. Nothing if the stream
    /// had no key frame.
    pub fn finish(&mut self, mut emit: impl FnMut(SimpleIndexEntry)) -> u32 {
        if let Some(k) = self.key {
            let end = (self.end_pt as u64).div_ceil(self.interval_ms) * self.interval_ms;
            self.emit_until(k, |t| t <= end, &mut emit);
        }
        self.next
    }

    fn emit_until(
        &mut self,
        k: Key,
        before: impl Fn(u64) -> bool,
        emit: &mut impl FnMut(SimpleIndexEntry),
    ) {
        let e = SimpleIndexEntry {
            packet_number: k.first,
            packet_count: (k.last - k.first + 1).min(u16::MAX as u32) as u16,
        };
        while before(self.next as u64 * self.interval_ms) {
            self.max_count = self.max_count.max(e.packet_count);
            emit(e);
            self.next += 1;
        }
    }
}

/// Writes the 56 bytes before the entries of a Simple Index Object of
/// `entries` entries.
pub fn emit_simple_index_header(
    buf: &mut [u8],
    file_id: &Guid,
    interval: u64,
    max_packet_count: u32,
    entries: u32,
) -> Result<usize> {
    room(buf, SIMPLE_INDEX_HEADER_LEN)?;
    let size = SIMPLE_INDEX_HEADER_LEN as u64 + entries as u64 * SIMPLE_INDEX_ENTRY_LEN as u64;
    buf[..16].copy_from_slice(&guid::SIMPLE_INDEX);
    buf[16..24].copy_from_slice(&size.to_le_bytes());
    buf[24..40].copy_from_slice(file_id);
    buf[40..48].copy_from_slice(&interval.to_le_bytes());
    buf[48..52].copy_from_slice(&max_packet_count.to_le_bytes());
    buf[52..56].copy_from_slice(&entries.to_le_bytes());
    Ok(SIMPLE_INDEX_HEADER_LEN)
}

/// The index interval the header announces: the Index Parameters Object
/// of the Header Extension (Index Entry Time Interval, ms), in 100-ns
/// units; `None` without one (or with 0).
pub fn index_interval(header: &[u8]) -> Result<Option<u64>> {
    let h = HeaderObject::check(header)?;
    for obj in h.children() {
        let obj = obj?;
        if obj.guid != guid::HEADER_EXTENSION {
            continue;
        }
        for child in HeaderExtension::new_checked(obj.bytes)?.children()? {
            let child = child?;
            if child.guid == guid::INDEX_PARAMETERS {
                let b = child.bytes.get(24..28).ok_or(Error::invalid(
                    "Index Parameters",
                    "shorter than its interval",
                ))?;
                let ms = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                return Ok((ms > 0).then_some(ms as u64 * 10_000));
            }
        }
    }
    Ok(None)
}
