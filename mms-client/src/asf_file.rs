//! Writing what a session receives as a valid ASF file: the header as
//! sent, packets restored to the fixed packet size, and — when the output
//! can seek — the File Properties and Data Object counts, sizes and
//! durations patched to what the file holds (asf-facts §2, §3).
//!
//! A file gets a Simple Index Object per video stream after its Data
//! Object (built with [`SimpleIndexBuilder`] as packets are written, at
//! the interval the header's Index Parameters name, else 1 s), so players
//! seek in it by index. Audio-only files get none, as FFmpeg writes none:
//! audio payloads are all cleanpoints and packets have a fixed size, so
//! readers (WMP, FFmpeg, mms-server) seek by a binary search over Send
//! Times. A pipe gets no index (its header cannot say where the data
//! ends).
//!
//! Nothing is lost: [`AsfWriter::finish`] finishes the file whatever ended
//! the dump. After a failed write (a full disk) it cuts the file to the
//! whole packets that reached it and patches the header for those: the
//! header is rewritten in place, which needs no new space.

use std::io::{self, Seek, SeekFrom, Write};

use mms_proto::asf::{
    DATA_OBJECT_PREFIX_LEN, DEFAULT_INDEX_INTERVAL, DataObject, FLAG_BROADCAST, FLAG_SEEKABLE,
    FileProperties, HeaderObject, PacketInfo, SIMPLE_INDEX_ENTRY_LEN, SIMPLE_INDEX_HEADER_LEN,
    SimpleIndexBuilder, SimpleIndexEntry, StreamKind, emit_simple_index_header, guid,
    index_interval, repad,
};

/// Where a dump goes: a file (patched at the end) or a pipe (as is).
pub trait Output: Write {
    /// Seeks to `pos` if the output can; `Ok(false)` if it cannot.
    fn rewind_to(&mut self, pos: u64) -> io::Result<bool>;

    /// The bytes the output holds, if it can tell (a file: its length).
    fn stored_len(&mut self) -> io::Result<Option<u64>> {
        Ok(None)
    }

    /// Cuts the output to `len` bytes, if it can (a file: `set_len`).
    fn truncate_to(&mut self, _len: u64) -> io::Result<()> {
        Ok(())
    }
}

impl Output for std::fs::File {
    fn rewind_to(&mut self, pos: u64) -> io::Result<bool> {
        self.seek(SeekFrom::Start(pos)).map(|_| true)
    }
    fn stored_len(&mut self) -> io::Result<Option<u64>> {
        self.metadata().map(|m| Some(m.len()))
    }
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

impl Output for io::Stdout {
    fn rewind_to(&mut self, _pos: u64) -> io::Result<bool> {
        Ok(false)
    }
}

impl Output for io::Cursor<Vec<u8>> {
    fn rewind_to(&mut self, pos: u64) -> io::Result<bool> {
        self.seek(SeekFrom::Start(pos)).map(|_| true)
    }
    fn stored_len(&mut self) -> io::Result<Option<u64>> {
        Ok(Some(self.get_ref().len() as u64))
    }
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.get_mut().truncate(len as usize);
        Ok(())
    }
}

/// Bytes of whole packets gathered before one write to the output.
const WRITE_CHUNK: usize = 256 * 1024;

/// Most Simple Index entries kept per stream (48 days at 1 s; 24 MB):
/// presentation times past that are a server's nonsense, and the file
/// gets no index rather than unbounded memory.
const MAX_INDEX_ENTRIES: usize = 1 << 22;

/// One video stream's index being built.
struct StreamIndex {
    builder: SimpleIndexBuilder,
    entries: Vec<SimpleIndexEntry>,
    /// Too many entries: no index for this stream.
    overflow: bool,
}

impl StreamIndex {
    fn push(&mut self, number: u32, packet: &[u8]) {
        let (entries, overflow) = (&mut self.entries, &mut self.overflow);
        let _ = self.builder.push(number, packet, |e| {
            if entries.len() < MAX_INDEX_ENTRIES {
                entries.push(e);
            } else {
                *overflow = true;
            }
        });
    }
}

/// What [`AsfWriter::finish`] left in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Finished {
    /// Data packets in the file (its header says so when it was patched).
    pub packets: u64,
    /// Packets accepted by [`AsfWriter::write_packet`] that did not reach
    /// the output (a failed write: the disk was full).
    pub lost: u64,
    /// The header was patched (a seekable output).
    pub patched: bool,
    /// Simple Index Objects written after the Data Object (one per video
    /// stream that had a key frame).
    pub indexes: usize,
}

/// An ASF file being written.
pub struct AsfWriter<W: Output> {
    out: W,
    header: Vec<u8>,
    packet_size: usize,
    /// The source's Data Packets Count and Broadcast flag: when the file
    /// holds exactly those packets its durations stay the source's.
    source_packets: u64,
    source_broadcast: bool,
    /// Packets accepted.
    packets: u64,
    /// Whole packets waiting for one write.
    pending: Vec<u8>,
    scratch: Vec<u8>,
    first_send: Option<u32>,
    /// Per packet accepted from packet `ends_from` on: the latest end
    /// (Send Time + Duration) so far. Only the packets not yet known to be
    /// on the output (and the last one that is) are kept, so a long run (a
    /// live archive) does not grow it.
    ends: Vec<u32>,
    ends_from: u64,
    /// A write failed: the output holds an unknown part of `pending`.
    failed: bool,
    file_id: guid::Guid,
    /// The video streams' indexes, by stream number.
    indexes: Vec<StreamIndex>,
}

impl<W: Output> AsfWriter<W> {
    /// Starts a file with `header` (the MMS "ASF file header": Header
    /// Object plus the Data Object's 50-byte prefix).
    pub fn new(mut out: W, header: &[u8]) -> io::Result<Self> {
        let w = Self::without_header(out_placeholder(), header)?;
        out.write_all(header)?;
        Ok(w.with_output(out))
    }

    /// A writer for `header` whose header is not written (yet).
    fn without_header<V: Output>(out: V, header: &[u8]) -> io::Result<AsfWriter<V>> {
        let summary = mms_proto::asf::HeaderSummary::parse(header)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let packet_size = summary.packet_size as usize;
        if header.len() < summary.header_object_len() + DATA_OBJECT_PREFIX_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the header lacks the Data Object prefix",
            ));
        }
        let interval = index_interval(header)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_INDEX_INTERVAL);
        let mut indexes: Vec<StreamIndex> = summary
            .streams
            .iter()
            .filter(|s| s.kind == StreamKind::Video)
            .map(|s| StreamIndex {
                builder: SimpleIndexBuilder::new(s.number, interval),
                entries: Vec::new(),
                overflow: false,
            })
            .collect();
        indexes.sort_by_key(|i| i.builder.stream());
        Ok(AsfWriter {
            file_id: summary.file_id,
            indexes,
            out,
            header: header.to_vec(),
            packet_size,
            source_packets: summary.packet_count,
            source_broadcast: summary.is_broadcast(),
            packets: 0,
            pending: Vec::with_capacity(WRITE_CHUNK + packet_size),
            scratch: vec![0; packet_size.max(1)],
            first_send: None,
            ends: Vec::new(),
            ends_from: 0,
            failed: false,
        })
    }

    fn with_output<V: Output>(self, out: V) -> AsfWriter<V> {
        AsfWriter {
            out,
            header: self.header,
            packet_size: self.packet_size,
            source_packets: self.source_packets,
            source_broadcast: self.source_broadcast,
            packets: self.packets,
            pending: self.pending,
            scratch: self.scratch,
            first_send: self.first_send,
            ends: self.ends,
            ends_from: self.ends_from,
            failed: self.failed,
            file_id: self.file_id,
            indexes: self.indexes,
        }
    }

    /// Continues a file that `out` holds (a partial dump): `header` is the
    /// source's, as the server sends it now, and `packets` whole packets
    /// the file holds after its header, read from `existing` (counted,
    /// indexed and kept, not written again). The output is cut after them
    /// — a cut packet or an old index goes — and the next packet is
    /// appended there; [`AsfWriter::finish`] writes `header` over the
    /// file's and patches it. `header` must be as long as the file's (the
    /// same source).
    pub fn continuing(
        mut out: W,
        header: &[u8],
        packets: u64,
        mut existing: impl io::Read,
    ) -> io::Result<Self> {
        let mut w = Self::without_header(out_placeholder(), header)?;
        let mut packet = vec![0u8; w.packet_size];
        for _ in 0..packets {
            existing.read_exact(&mut packet)?;
            w.account(&packet)?;
        }
        w.settle();
        let end = header.len() as u64 + w.packets * w.packet_size as u64;
        out.truncate_to(end)?;
        if !out.rewind_to(end)? {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a pipe cannot be continued",
            ));
        }
        Ok(w.with_output(out))
    }

    /// Counts and indexes one packet (re-padded into `scratch`): its size.
    fn account(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = repad(data, self.packet_size, &mut self.scratch)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let mut end = self.ends.last().copied().unwrap_or(0);
        if let Ok(info) = PacketInfo::parse(&self.scratch[..n]) {
            self.first_send.get_or_insert(info.send_time);
            end = end.max(info.send_time.saturating_add(info.duration as u32));
        }
        self.ends.push(end);
        let number = self.packets.min(u32::MAX as u64) as u32;
        for index in &mut self.indexes {
            index.push(number, &self.scratch[..n]);
        }
        self.packets += 1;
        Ok(n)
    }

    /// Appends one received packet, re-padded to the packet size. A packet
    /// that does not re-pad is refused with [`io::ErrorKind::InvalidData`]
    /// and nothing is written; any other error is the output's, and the
    /// writer takes no more packets (finish it).
    pub fn write_packet(&mut self, data: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("an earlier write failed"));
        }
        let n = self.account(data)?;
        self.pending.extend_from_slice(&self.scratch[..n]);
        if self.pending.len() >= WRITE_CHUNK {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if let Err(e) = self.out.write_all(&self.pending) {
            self.failed = true;
            return Err(e);
        }
        self.pending.clear();
        self.settle();
        Ok(())
    }

    /// Every packet accepted is on the output: of their ends only the
    /// last one is still needed (a later failed write cuts the file back
    /// to at least there).
    fn settle(&mut self) {
        let done = self.ends.len().saturating_sub(1);
        self.ends.drain(..done);
        self.ends_from += done as u64;
    }

    /// Packets accepted so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far (counting the packets not yet flushed).
    pub fn bytes(&self) -> u64 {
        self.header.len() as u64 + self.packets * self.packet_size as u64
    }

    /// Finishes the file, whatever ended the dump: writes what is pending
    /// and, on a seekable output, patches the header to the packets the
    /// file holds — after a failed write first cutting it to the whole
    /// packets that reached it. A live source becomes a seekable file.
    /// Returns what the file holds, and the output.
    pub fn finish(mut self) -> io::Result<(Finished, W)> {
        if !self.failed {
            let _ = self.write_pending();
        }
        let header_len = self.header.len() as u64;
        let p = self.packet_size as u64;
        let mut packets = self.packets;
        if self.failed {
            // What reached the output: whole packets only.
            let held = match self.out.stored_len()? {
                Some(len) => len.saturating_sub(header_len) / p.max(1),
                None => packets - self.pending.len() as u64 / p.max(1),
            };
            packets = packets.min(held);
            self.out.truncate_to(header_len + packets * p)?;
        }
        let data_end = header_len + packets * p;
        // The index, on a file whose packets all arrived.
        let mut trailing = 0u64;
        let mut indexes = 0;
        if !self.failed && self.out.stored_len()?.is_some() {
            let (bytes, n) = self.index_objects();
            if !bytes.is_empty() {
                match self.out.write_all(&bytes) {
                    Ok(()) => {
                        trailing = bytes.len() as u64;
                        indexes = n;
                    }
                    Err(_) => self.out.truncate_to(data_end)?,
                }
            }
        }
        let _ = self.out.flush();
        let lost = self.packets - packets;
        let whole = packets == self.source_packets && !self.source_broadcast;
        let span = match (self.first_send, packets) {
            (Some(first), 1..) if !whole => {
                let last = (packets - 1).saturating_sub(self.ends_from) as usize;
                let end = self.ends.get(last).or(self.ends.last()).copied();
                end.map(|e| e.saturating_sub(first))
            }
            _ => None,
        };
        patch_header(&mut self.header, packets, span, trailing)?;
        let mut patched = false;
        if self.out.rewind_to(0)? {
            self.out.write_all(&self.header)?;
            self.out.rewind_to(data_end + trailing)?;
            self.out.flush()?;
            patched = true;
        }
        let done = Finished {
            packets,
            lost,
            patched,
            indexes,
        };
        Ok((done, self.out))
    }
}

impl<W: Output> AsfWriter<W> {
    /// The Simple Index Objects of the video streams that had a key
    /// frame, in stream-number order (asf-facts §7.1), and their number.
    fn index_objects(&mut self) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut n = 0;
        for index in &mut self.indexes {
            let entries = &mut index.entries;
            let overflow = &mut index.overflow;
            index.builder.finish(|e| {
                if entries.len() < MAX_INDEX_ENTRIES {
                    entries.push(e);
                } else {
                    *overflow = true;
                }
            });
            if index.overflow || !index.builder.has_key_frame() {
                continue;
            }
            let at = out.len();
            let len = SIMPLE_INDEX_HEADER_LEN + index.entries.len() * SIMPLE_INDEX_ENTRY_LEN;
            out.resize(at + len, 0);
            let b = &mut out[at..];
            // The buffer is sized for the header and every entry.
            let mut off = emit_simple_index_header(
                b,
                &self.file_id,
                index.builder.interval(),
                index.builder.max_packet_count() as u32,
                index.entries.len() as u32,
            )
            .unwrap_or(0);
            for e in &index.entries {
                off += e.emit(&mut b[off..]).unwrap_or(0);
            }
            n += 1;
        }
        (out, n)
    }
}

/// The output of a writer being built (before it has its real one).
fn out_placeholder() -> io::Cursor<Vec<u8>> {
    io::Cursor::new(Vec::new())
}

/// Sets the File Properties Object's File Size and Data Packets Count,
/// clears Broadcast and sets Seekable, and the Data Object's size and
/// Total Data Packets, for `packets` packets followed by `trailing` bytes
/// (index objects); with `span_ms` (the Send Times the file covers, when
/// it does not hold the whole source) also Send Duration and Play Duration
/// (that plus the preroll).
pub fn patch_header(
    header: &mut [u8],
    packets: u64,
    span_ms: Option<u32>,
    trailing: u64,
) -> io::Result<()> {
    let invalid =
        |e: mms_proto::wire::Error| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let (fp_at, data_at) = {
        let h = HeaderObject::check(header).map_err(invalid)?;
        let base = header.as_ptr() as usize;
        let mut fp_at = None;
        for obj in h.children() {
            let obj = obj.map_err(invalid)?;
            if obj.guid == guid::FILE_PROPERTIES {
                fp_at = Some(obj.bytes.as_ptr() as usize - base);
            }
        }
        let data_at = h.into_inner().len();
        (
            fp_at
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no File Properties"))?,
            data_at,
        )
    };
    let header_len = header.len() as u64;
    let mut fp = FileProperties::new_checked(&mut header[fp_at..]).map_err(invalid)?;
    let p = fp.max_packet_size() as u64;
    fp.set_file_size(header_len + packets * p + trailing);
    fp.set_data_packets_count(packets);
    if let Some(span) = span_ms {
        // 100-ns units; Play Duration includes the preroll.
        let send = span as u64 * 10_000;
        fp.set_send_duration(send);
        fp.set_play_duration(send + fp.preroll() * 10_000);
    }
    let flags = fp.flags();
    fp.set_flags((flags & !FLAG_BROADCAST) | FLAG_SEEKABLE);
    let mut d = DataObject::new_checked(&mut header[data_at..]).map_err(invalid)?;
    d.set_size(DATA_OBJECT_PREFIX_LEN as u64 + packets * p);
    d.set_total_data_packets(packets);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file on a disk that is full after `room` bytes: a write past it
    /// stores what fits and fails.
    struct FullDisk {
        file: io::Cursor<Vec<u8>>,
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let at = self.file.position() as usize;
            let fits = self.room.saturating_sub(at).min(buf.len());
            if fits == 0 && !buf.is_empty() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.file.write(&buf[..fits])
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Output for FullDisk {
        fn rewind_to(&mut self, pos: u64) -> io::Result<bool> {
            self.file.rewind_to(pos)
        }
        fn stored_len(&mut self) -> io::Result<Option<u64>> {
            self.file.stored_len()
        }
        fn truncate_to(&mut self, len: u64) -> io::Result<()> {
            self.file.truncate_to(len)
        }
    }

    fn source() -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/ff_av.wmv");
        std::fs::read(path).unwrap()
    }

    /// The source's header and packets (plain file, fixed size).
    fn split(file: &[u8]) -> (&[u8], Vec<&[u8]>) {
        let h = mms_proto::asf::HeaderSummary::parse(file).unwrap();
        let start = h.header_object_len() + DATA_OBJECT_PREFIX_LEN;
        let p = h.packet_size as usize;
        let packets = file[start..start + h.packet_count as usize * p]
            .chunks(p)
            .collect();
        (&file[..start], packets)
    }

    fn counts(file: &[u8]) -> (u64, u64, u64, u64) {
        let h = mms_proto::asf::HeaderSummary::parse(file).unwrap();
        let d = DataObject::new_checked(&file[h.header_object_len()..]).unwrap();
        (
            h.packet_count,
            h.file_size,
            d.total_data_packets(),
            d.size(),
        )
    }

    #[test]
    fn a_whole_file_keeps_the_source_durations() {
        let src = source();
        let (header, packets) = split(&src);
        let mut w = AsfWriter::new(io::Cursor::new(Vec::new()), header).unwrap();
        for p in &packets {
            w.write_packet(p).unwrap();
        }
        let (done, out) = w.finish().unwrap();
        assert_eq!(done.packets, packets.len() as u64);
        let got = out.into_inner();
        let (a, b) = (
            mms_proto::asf::HeaderSummary::parse(&src).unwrap(),
            mms_proto::asf::HeaderSummary::parse(&got).unwrap(),
        );
        assert_eq!(
            (a.play_duration, a.send_duration),
            (b.play_duration, b.send_duration)
        );
        let (n, _, dn, ds) = counts(&src);
        assert_eq!(counts(&got), (n, got.len() as u64, dn, ds));
    }

    /// The disk fills in the middle of a packet: the file is cut to the
    /// whole packets it holds and its header says so, durations included.
    #[test]
    fn a_full_disk_leaves_a_finished_file() {
        let src = source();
        let (header, packets) = split(&src);
        let p = packets[0].len();
        let room = header.len() + 5 * p + p / 2;
        let disk = FullDisk {
            file: io::Cursor::new(Vec::new()),
            room,
        };
        let mut w = AsfWriter::new(disk, header).unwrap();
        // The writes may fail here or only when finish writes the rest.
        for pk in &packets {
            if let Err(e) = w.write_packet(pk) {
                assert_eq!(e.kind(), io::ErrorKind::StorageFull);
                break;
            }
        }
        let accepted = w.packets();
        assert!(accepted > 5);
        let (done, disk) = w.finish().unwrap();
        assert_eq!((done.packets, done.lost), (5, accepted - 5));
        assert!(done.patched);
        let got = disk.file.into_inner();
        let p = p as u64;
        assert_eq!(got.len() as u64, header.len() as u64 + 5 * p);
        assert_eq!(counts(&got), (5, got.len() as u64, 5, 50 + 5 * p), "counts");
        assert_eq!(&got[header.len()..], &src[header.len()..got.len()]);
        let end = {
            let i = PacketInfo::parse(packets[4]).unwrap();
            i.send_time + i.duration as u32
        };
        let s = mms_proto::asf::HeaderSummary::parse(&got).unwrap();
        assert_eq!(s.send_duration, end as u64 * 10_000);
        assert_eq!(s.play_duration, (end as u64 + s.preroll_ms) * 10_000);
    }

    /// The disk fills after some chunks were written whole: the writer
    /// kept only the ends of the packets not yet on the disk, and the
    /// durations are still those of the packets the file holds.
    #[test]
    fn a_full_disk_after_whole_chunks_keeps_the_durations() {
        let src = source();
        let (header, packets) = split(&src);
        let p = packets[0].len();
        // The source over and over: more than two chunks.
        let fed: Vec<&[u8]> = packets
            .iter()
            .copied()
            .cycle()
            .take(3 * WRITE_CHUNK / p)
            .collect();
        let held = WRITE_CHUNK / p + 7;
        let disk = FullDisk {
            file: io::Cursor::new(Vec::new()),
            room: header.len() + held * p + p / 2,
        };
        let mut w = AsfWriter::new(disk, header).unwrap();
        let mut accepted = 0;
        for pk in &fed {
            if w.write_packet(pk).is_err() {
                break;
            }
            accepted += 1;
            // A chunk written whole leaves one end behind.
            assert!(w.ends.len() <= WRITE_CHUNK / p + 2, "{}", w.ends.len());
        }
        assert!(accepted > held);
        let (done, disk) = w.finish().unwrap();
        assert_eq!(done.packets, held as u64);
        let span = fed[..held]
            .iter()
            .map(|pk| {
                let i = PacketInfo::parse(pk).unwrap();
                i.send_time + u32::from(i.duration)
            })
            .max()
            .unwrap()
            - PacketInfo::parse(fed[0]).unwrap().send_time;
        let got = disk.file.into_inner();
        let s = mms_proto::asf::HeaderSummary::parse(&got).unwrap();
        assert_eq!(s.packet_count, held as u64);
        assert_eq!(s.send_duration, u64::from(span) * 10_000);
    }
}
