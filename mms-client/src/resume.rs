//! Continuing a partial dump (issue 15, `mms dump --resume`): the file's
//! header and whole packets are read back, the server is asked for the
//! rest by packet number ([2.2.4.25] locationId), and what comes is
//! appended, the header and index re-patched by [`AsfWriter::finish`].
//!
//! A dump from the beginning of all streams holds packet `i` of the
//! source as its packet `i` (re-padded as every dump re-pads it), so the
//! next packet wanted is the file's packet count `n`. The server starts
//! each keyed stream of a play at its first key frame (asf-facts §5.2;
//! mms-server's [3.2.5.10] rule), so asking for packet `n` itself could
//! lose the tail of a frame that began before `n`. The play starts instead
//! at the earliest packet holding the last key-frame start, before `n`, of
//! each stream the file has key frames of; packets before `n` are
//! compared with the file's (the last [`OVERLAP_CHECKED`]) and dropped.
//! The file then grows into exactly what a whole dump writes.
//!
//! An unfinished file (killed: its header still has the source's count)
//! loses its last packet-sized piece, which a cut write may have left torn
//! and padded, and the count stops at the first piece that is no whole
//! packet; a resumed file must be the same source as the server's (its
//! header equal but for what a dump patches).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use mms_proto::asf::{
    DATA_OBJECT_PREFIX_LEN, DataObject, HeaderSummary, PacketInfo, guid, repad, starts_key_frame,
};

use crate::{AsfWriter, Packet, Start, patch_header};

/// Packets before the resume point compared with the file's, at most.
pub(crate) const OVERLAP_CHECKED: usize = 64;

/// A partial dump read back: what it holds and where the play resumes.
#[derive(Debug)]
pub struct Resume {
    file: File,
    header_len: usize,
    packet_size: usize,
    file_id: guid::Guid,
    /// Whole packets of the file.
    packets: u64,
    /// Where the play starts (≤ `packets`).
    from: u32,
    /// Where the last stream starts again in the resumed play: packets
    /// after it come as the file has them.
    last_key: u64,
    /// The file's last packets (number, bytes), to compare with what the
    /// server sends again.
    tail: VecDeque<(u64, Vec<u8>)>,
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Resume {
    /// Reads the partial dump at `path`: `None` when there is none (no
    /// file, or an empty one): then a dump starts afresh.
    pub fn open(path: &Path) -> io::Result<Option<Self>> {
        let mut file = match File::options().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(None);
        }
        // The Header Object's size is at offset 16.
        let mut head = [0u8; 30];
        file.read_exact(&mut head)
            .map_err(|_| invalid("not an ASF file (too short)"))?;
        if head[..16] != guid::HEADER {
            return Err(invalid("not an ASF file"));
        }
        let object_len = u64::from_le_bytes(head[16..24].try_into().unwrap_or_default());
        let header_len = object_len.saturating_add(DATA_OBJECT_PREFIX_LEN as u64);
        if header_len > len.min(16 << 20) {
            return Err(invalid("the file's ASF header is cut"));
        }
        let mut header = vec![0u8; header_len as usize];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut header)?;
        let h = HeaderSummary::parse(&header).map_err(invalid)?;
        let p = h.packet_size as usize;
        if p == 0 {
            return Err(invalid("the file's packet size is 0"));
        }
        let physical = (len - header_len) / p as u64;
        // A finished dump says how many packets it holds (an index may
        // follow them); a killed one still has the source's count.
        let declared = DataObject::new_checked(&header[h.header_object_len()..])
            .map(|d| d.total_data_packets())
            .unwrap_or(0);
        // An unfinished file ends where a write was cut: its last
        // packet-sized piece may be a torn packet the system padded (with
        // zeros, or whatever followed), which can look whole. It goes, and
        // is asked for again.
        let bound = if declared > 0 && declared <= physical {
            declared
        } else {
            physical.saturating_sub(1)
        };
        let keyed: Vec<u8> = h.streams.iter().map(|s| s.number).collect();
        let mut last_key: Vec<Option<u64>> = vec![None; keyed.len()];
        let mut tail = VecDeque::with_capacity(OVERLAP_CHECKED);
        let mut reader = io::BufReader::with_capacity(1 << 20, &mut file);
        let mut packet = vec![0u8; p];
        let mut scratch = vec![0u8; p];
        let mut packets = 0;
        while packets < bound {
            reader.read_exact(&mut packet)?;
            // An index object, or bytes that are no whole packet (its
            // payloads do not parse, or its padding is not zeros): the end.
            if packet[..16] == guid::SIMPLE_INDEX
                || PacketInfo::parse(&packet).is_err()
                || repad(&packet, p, &mut scratch).is_err()
            {
                break;
            }
            for (i, &s) in keyed.iter().enumerate() {
                if starts_key_frame(&packet, s).unwrap_or(false) {
                    last_key[i] = Some(packets);
                }
            }
            if tail.len() == OVERLAP_CHECKED {
                tail.pop_front();
            }
            tail.push_back((packets, packet.clone()));
            packets += 1;
        }
        drop(reader);
        let from = last_key.iter().flatten().copied().min().unwrap_or(0);
        // Where each stream starts again in that play (its first key frame
        // from `from` on; its last before `n` when that is older than the
        // tail): packets past all of them come whole.
        let latest = keyed
            .iter()
            .zip(&last_key)
            .filter_map(|(&s, last)| {
                let last = (*last)?;
                let first = tail
                    .iter()
                    .filter(|(i, _)| *i >= from)
                    .find(|(_, pk)| starts_key_frame(pk, s).unwrap_or(false))
                    .map_or(last, |(i, _)| *i);
                Some(first.min(last))
            })
            .max()
            .unwrap_or(0);
        let from = if packets == 0 {
            0
        } else {
            from.min(packets - 1)
        };
        Ok(Some(Resume {
            file,
            header_len: header_len as usize,
            packet_size: p,
            file_id: h.file_id,
            packets,
            from: u32::try_from(from).map_err(|_| invalid("too many packets"))?,
            last_key: latest,
            tail,
        }))
    }

    /// Whole packets the file holds: the next one wanted is this number.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Where to ask the server to start ([`Start::Packet`]).
    pub fn start(&self) -> Start {
        Start::Packet(self.from)
    }

    /// The writer that appends to the file, for the source whose header
    /// the server sent (`header`); refused when it is not the file's
    /// source (File ID, packet size or header length differ).
    pub fn writer(&mut self, header: &[u8]) -> io::Result<AsfWriter<File>> {
        let h = HeaderSummary::parse(header).map_err(invalid)?;
        if h.file_id != self.file_id
            || h.packet_size as usize != self.packet_size
            || header.len() != self.header_len
            || !self.same_header(header)?
        {
            return Err(invalid(
                "the file is not a part of this stream (another File ID, packet size or header)",
            ));
        }
        let mut existing = io::BufReader::with_capacity(1 << 20, self.file.try_clone()?);
        existing.seek(SeekFrom::Start(self.header_len as u64))?;
        AsfWriter::continuing(self.file.try_clone()?, header, self.packets, existing)
    }

    /// The file's header is `header` but for what a dump patches (counts,
    /// sizes, durations, flags): muxers give files of one setup the same
    /// File ID (FFmpeg's bit-exact mode: zeros), so the ID alone does not
    /// tell two sources apart.
    fn same_header(&mut self, header: &[u8]) -> io::Result<bool> {
        let mut ours = vec![0u8; self.header_len];
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_exact(&mut ours)?;
        let mut theirs = header.to_vec();
        for h in [&mut ours, &mut theirs] {
            patch_header(h, 0, Some(0), 0)?;
        }
        Ok(ours == theirs)
    }

    /// A packet the server sent: `Ok(true)` to write it, `Ok(false)` if
    /// the file holds it already. A packet of the file's last ones that
    /// differs from the file's is an error: the file was not dumped from
    /// the beginning of all streams of this source.
    pub fn take(&self, p: &Packet) -> io::Result<bool> {
        let n = u64::from(p.location_id);
        if n >= self.packets {
            return Ok(true);
        }
        if let Some((_, ours)) = self.tail.iter().find(|(i, _)| *i == n) {
            let mut theirs = vec![0u8; self.packet_size];
            let len = repad(&p.data, self.packet_size, &mut theirs).map_err(invalid)?;
            // Before every stream's first key frame the server leaves its
            // payloads out: only packets past the last key frames the
            // file had must be the same.
            if n > self.last_key && theirs[..len] != ours[..] {
                return Err(invalid(format!(
                    "packet {n} is not the file's: it was not dumped from the beginning of all \
                     streams (--start, --streams…) and cannot be resumed"
                )));
            }
        }
        Ok(false)
    }
}
