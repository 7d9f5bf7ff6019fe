//! Seeking (asf-facts §7): time → packet through the Simple Index when
//! there is one, else a binary search over packet Send Times; packet number
//! ↔ byte offset (on [`super::HeaderSummary`]); finding the key frame a
//! newly selected stream starts at ([3.2.5.10]) and walking key frames
//! backwards for negative striding ([3.2.5.12]).

use super::header::SimpleIndex;
use super::packet::PacketInfo;
use crate::wire::Result;

/// Where packets come from: a file, a cache, a live buffer. The source
/// copies packet `n` (of the fixed packet size) into `buf` and returns its
/// length.
pub trait PacketSource {
    /// Number of whole packets available.
    fn packet_count(&self) -> u64;
    /// Copies packet `n` into `buf`; returns the bytes written.
    fn read_packet(&mut self, n: u64, buf: &mut [u8]) -> Result<usize>;
}

/// Packets held in memory: the bytes after the Data Object prefix.
#[derive(Debug, Clone, Copy)]
pub struct MemoryPackets<'a> {
    /// The packet bytes.
    pub data: &'a [u8],
    /// The packet size P.
    pub packet_size: usize,
}

impl<'a> MemoryPackets<'a> {
    /// Packet `n` as a slice.
    pub fn packet(&self, n: u64) -> Option<&'a [u8]> {
        let start = (n as usize).checked_mul(self.packet_size)?;
        self.data.get(start..start.checked_add(self.packet_size)?)
    }
}

impl PacketSource for MemoryPackets<'_> {
    fn packet_count(&self) -> u64 {
        self.data.len().checked_div(self.packet_size).unwrap_or(0) as u64
    }

    fn read_packet(&mut self, n: u64, buf: &mut [u8]) -> Result<usize> {
        let p = self.packet(n).ok_or(crate::wire::Error::invalid(
            "packet number",
            "past the last packet",
        ))?;
        crate::wire::error::room(buf, p.len())?;
        buf[..p.len()].copy_from_slice(p);
        Ok(p.len())
    }
}

/// The Send Time of packet `n`.
pub fn send_time(src: &mut impl PacketSource, n: u64, buf: &mut [u8]) -> Result<u32> {
    let len = src.read_packet(n, buf)?;
    Ok(PacketInfo::parse(&buf[..len])?.send_time)
}

/// The packet to start at for content time `t_ms` (0 = start of content,
/// preroll not included).
///
/// With a Simple Index (and a non-zero interval) its entry for
/// `t + preroll` is used (§7.1). Otherwise a binary search finds the last
/// packet whose Send Time ≤ `t` — i.e. presentation time minus preroll
/// minus a one-preroll margin, since payloads are sent up to about a
/// preroll ahead (§7.3). Callers then move to a key frame with
/// [`key_frame_from`].
pub fn packet_for_time(
    src: &mut impl PacketSource,
    index: Option<&SimpleIndex<&[u8]>>,
    preroll_ms: u64,
    t_ms: u64,
    buf: &mut [u8],
) -> Result<u64> {
    let count = src.packet_count();
    if count == 0 {
        return Ok(0);
    }
    if let Some(p) = index.and_then(|i| i.lookup(t_ms.saturating_add(preroll_ms))) {
        return Ok((p as u64).min(count - 1));
    }
    let target = t_ms.min(u32::MAX as u64) as u32;
    // Invariant: send_time(lo) <= target or lo == 0; send_time(hi) > target or hi == count.
    let (mut lo, mut hi) = (0u64, count);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if send_time(src, mid, buf)? <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Direction of a key-frame scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards higher packet numbers.
    Forward,
    /// Towards lower packet numbers (negative striding).
    Backward,
}

/// True if packet `p` holds the start of a key frame of `stream`: a payload
/// with the key bit set at offset 0 (asf-facts §5.2).
pub fn starts_key_frame(packet: &[u8], stream: u8) -> Result<bool> {
    let info = PacketInfo::parse(packet)?;
    for p in info.payloads(packet) {
        let p = p?;
        if p.stream == stream && p.key_frame && (p.offset == 0 || p.is_compressed()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The first packet at or after (`Forward`) / at or before (`Backward`)
/// `from` that starts a key frame of `stream`, looking at no more than
/// `limit` packets. `None` if there is none in range.
pub fn key_frame_from(
    src: &mut impl PacketSource,
    from: u64,
    stream: u8,
    dir: Direction,
    limit: u64,
    buf: &mut [u8],
) -> Result<Option<u64>> {
    let count = src.packet_count();
    let mut n = from.min(count.saturating_sub(1));
    for _ in 0..limit.min(count) {
        let len = src.read_packet(n, buf)?;
        if starts_key_frame(&buf[..len], stream)? {
            return Ok(Some(n));
        }
        n = match dir {
            Direction::Forward if n + 1 < count => n + 1,
            Direction::Backward if n > 0 => n - 1,
            _ => return Ok(None),
        };
    }
    Ok(None)
}
