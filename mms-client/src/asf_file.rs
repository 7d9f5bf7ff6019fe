//! Writing what a session receives as a valid ASF file: the header as
//! sent, packets restored to the fixed packet size, and — when the output
//! can seek — the File Properties and Data Object counts patched to what
//! was written (asf-facts §2, §3).

use std::io::{self, Seek, SeekFrom, Write};

use mms_proto::asf::{
    DATA_OBJECT_PREFIX_LEN, DataObject, FLAG_BROADCAST, FLAG_SEEKABLE, FileProperties,
    HeaderObject, PacketInfo, guid, repad,
};

/// Where a dump goes: a file (patched at the end) or a pipe (as is).
pub trait Output: Write {
    /// Seeks to `pos` if the output can; `Ok(false)` if it cannot.
    fn rewind_to(&mut self, pos: u64) -> io::Result<bool>;
}

impl Output for std::fs::File {
    fn rewind_to(&mut self, pos: u64) -> io::Result<bool> {
        self.seek(SeekFrom::Start(pos)).map(|_| true)
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
}

/// An ASF file being written.
pub struct AsfWriter<W: Output> {
    out: io::BufWriter<W>,
    header: Vec<u8>,
    packet_size: usize,
    packets: u64,
    buf: Vec<u8>,
    first_send: Option<u32>,
    last_end: u32,
}

impl<W: Output> AsfWriter<W> {
    /// Starts a file with `header` (the MMS "ASF file header": Header
    /// Object plus the Data Object's 50-byte prefix).
    pub fn new(out: W, header: &[u8]) -> io::Result<Self> {
        let summary = mms_proto::asf::HeaderSummary::parse(header)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let packet_size = summary.packet_size as usize;
        if header.len() < summary.header_object_len() + DATA_OBJECT_PREFIX_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the header lacks the Data Object prefix",
            ));
        }
        let mut out = io::BufWriter::with_capacity(256 * 1024, out);
        out.write_all(header)?;
        Ok(Self {
            out,
            header: header.to_vec(),
            packet_size,
            packets: 0,
            buf: vec![0; packet_size.max(1)],
            first_send: None,
            last_end: 0,
        })
    }

    /// Appends one received packet, re-padded to the packet size.
    pub fn write_packet(&mut self, data: &[u8]) -> io::Result<()> {
        let n = repad(data, self.packet_size, &mut self.buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if let Ok(info) = PacketInfo::parse(&self.buf[..n]) {
            self.first_send.get_or_insert(info.send_time);
            self.last_end = self
                .last_end
                .max(info.send_time.saturating_add(info.duration as u32));
        }
        self.out.write_all(&self.buf[..n])?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.header.len() as u64 + self.packets * self.packet_size as u64
    }

    /// Finishes the file: on a seekable output the header's counts become
    /// those of the packets written (a live dump becomes a seekable file).
    /// Returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        patch_header(
            &mut self.header,
            self.packets,
            self.first_send.map(|f| self.last_end.saturating_sub(f)),
        )?;
        self.out.flush()?;
        let end = self.bytes();
        let mut out = self.out.into_inner().map_err(|e| e.into_error())?;
        if out.rewind_to(0)? {
            out.write_all(&self.header)?;
            out.rewind_to(end)?;
            out.flush()?;
        }
        Ok(out)
    }
}

/// Sets the File Properties Object's File Size and Data Packets Count,
/// clears Broadcast and sets Seekable (and, for a broadcast, the durations
/// from the packets' Send Times: `span_ms`), and the Data Object's size and
/// Total Data Packets, for `packets` packets.
pub fn patch_header(header: &mut [u8], packets: u64, span_ms: Option<u32>) -> io::Result<()> {
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
    fp.set_file_size(header_len + packets * p);
    fp.set_data_packets_count(packets);
    let flags = fp.flags();
    if flags & FLAG_BROADCAST != 0 {
        if let Some(span) = span_ms {
            // 100-ns units; Play Duration includes the preroll.
            let send = span as u64 * 10_000;
            fp.set_send_duration(send);
            fp.set_play_duration(send + fp.preroll() * 10_000);
        }
    }
    fp.set_flags((flags & !FLAG_BROADCAST) | FLAG_SEEKABLE);
    let mut d = DataObject::new_checked(&mut header[data_at..]).map_err(invalid)?;
    d.set_size(DATA_OBJECT_PREFIX_LEN as u64 + packets * p);
    d.set_total_data_packets(packets);
    Ok(())
}
