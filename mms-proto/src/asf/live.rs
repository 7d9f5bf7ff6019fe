//! Reading ASF incrementally (asf-facts §9): the header and then whole
//! packets as the bytes arrive, for live streams and for files read piece by
//! piece. Like [`crate::wire::frame`], it only says how long the next unit
//! is and where its content lies; the caller owns the buffer.
//!
//! Two framings are accepted:
//! * plain ASF (a file, or `ffmpeg … -f asf pipe:`: Broadcast flag, packet
//!   count 0), ending at an index object, at a `$E` chunk (FFmpeg ends its
//!   pipe output with one) or after the declared packets. A Broadcast
//!   header's counts are ignored: FFmpeg's live output declares a Data
//!   Object of 50 bytes and 0 packets, and the packets follow anyway;
//! * MMSH chunks, as `ffmpeg … -f asf_stream -` writes them ([MS-WMSP]
//!   framing): `$H` then `$D` chunks, each a 4-byte basic header (`$`, type,
//!   length) and an 8-byte data header, then the ASF bytes; `$E` ends it.

use super::guid;
use super::header::{DATA_OBJECT_PREFIX_LEN, DataObject, HeaderObject};
use super::summary::HeaderSummary;
use crate::wire::field::Le;
use crate::wire::{Error, Result, Status};

/// The next unit of an ASF byte stream. `len` bytes are consumed; the ASF
/// content is `buf[start..len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsfUnit {
    /// The ASF file header (Header Object + Data Object prefix): parse it
    /// with [`HeaderSummary::parse`].
    Header {
        /// Bytes of the unit.
        len: usize,
        /// Where the header starts in the unit (12 in a `$H` chunk, else 0).
        start: usize,
        /// The data packet size P.
        packet_size: usize,
    },
    /// One data packet (P bytes, or fewer if a chunk carried it stripped).
    Packet {
        /// Bytes of the unit.
        len: usize,
        /// Where the packet starts in the unit.
        start: usize,
        /// Its number (the MMS LocationId).
        number: u64,
    },
    /// The data is over: an index object or `$E` follows, or the declared
    /// packet count is reached.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Packets {
        packet_size: usize,
        next: u64,
        count: Option<u64>,
        chunked: bool,
    },
    Done,
}

/// An incremental ASF reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsfReader {
    state: State,
    max_header_len: usize,
}

impl Default for AsfReader {
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

/// Length of an MMSH chunk's basic header plus its data header.
const CHUNK_HEADER: usize = 4 + 8;

/// `Some((type, total length))` for an MMSH chunk at the start of `buf`.
fn chunk(buf: &[u8]) -> Option<(u8, usize)> {
    (buf.len() >= 4 && buf[0] == b'$').then(|| (buf[1], 4 + <u16 as Le>::read(&buf[2..]) as usize))
}

impl AsfReader {
    /// A reader refusing headers longer than `max_header_len` bytes.
    pub fn new(max_header_len: usize) -> Self {
        Self {
            state: State::Header,
            max_header_len,
        }
    }

    /// Looks at `buf` (the bytes not yet consumed) and says what the next
    /// unit is, or how many bytes are needed.
    pub fn next(&mut self, buf: &[u8]) -> Result<Status<AsfUnit>> {
        match self.state {
            State::Header => self.header(buf),
            State::Packets {
                packet_size,
                next,
                count,
                chunked,
            } => {
                if count.is_some_and(|c| next >= c) {
                    self.state = State::Done;
                    return Ok(Status::Complete(AsfUnit::End));
                }
                let (start, len) = if chunked {
                    if buf.len() < 4 {
                        return Ok(Status::Partial(4));
                    }
                    match chunk(buf) {
                        Some((b'D', len)) => {
                            if len < CHUNK_HEADER || len - CHUNK_HEADER > packet_size {
                                return Err(Error::invalid(
                                    "$D chunk",
                                    "length does not fit a packet",
                                ));
                            }
                            (CHUNK_HEADER, len)
                        }
                        Some((b'E', _)) => {
                            self.state = State::Done;
                            return Ok(Status::Complete(AsfUnit::End));
                        }
                        Some(_) if is_top_level_object(buf) => return self.end(),
                        Some((t, _)) => {
                            return Err(Error::invalid(
                                "MMSH chunk",
                                if t == b'H' {
                                    "a second header"
                                } else {
                                    "unknown type"
                                },
                            ));
                        }
                        None if buf.len() < 16 => return Ok(Status::Partial(16)),
                        None if is_top_level_object(buf) => return self.end(),
                        None => return Err(Error::invalid("MMSH chunk", "expected '$'")),
                    }
                } else {
                    if buf.len() >= 16 && is_top_level_object(buf) {
                        return self.end();
                    }
                    if is_end_chunk(buf) {
                        // FFmpeg's plain pipe output ends with an MMSH `$E`
                        // chunk (asf-facts §9); no packet starts this way
                        // (its Packet Length would be 8, shorter than the
                        // packet's own parsing information).
                        return self.end();
                    }
                    (0, packet_size)
                };
                if buf.len() < len {
                    return Ok(Status::Partial(len));
                }
                self.state = State::Packets {
                    packet_size,
                    next: next + 1,
                    count,
                    chunked,
                };
                Ok(Status::Complete(AsfUnit::Packet {
                    len,
                    start,
                    number: next,
                }))
            }
            State::Done => Ok(Status::Complete(AsfUnit::End)),
        }
    }

    fn end(&mut self) -> Result<Status<AsfUnit>> {
        self.state = State::Done;
        Ok(Status::Complete(AsfUnit::End))
    }

    fn header(&mut self, buf: &[u8]) -> Result<Status<AsfUnit>> {
        if buf.len() < 4 {
            return Ok(Status::Partial(4));
        }
        let (start, chunk_end) = match chunk(buf) {
            Some((b'H', len)) => (CHUNK_HEADER, Some(len)),
            Some(_) => {
                return Err(Error::invalid(
                    "MMSH chunk",
                    "stream does not start with $H",
                ));
            }
            None => (0, None),
        };
        if buf.len() < start + 30 {
            return Ok(Status::Partial(start + 30));
        }
        let h = HeaderObject::new_checked(&buf[start..])?;
        if h.guid() != guid::HEADER {
            return Err(Error::invalid("Header Object", "wrong GUID"));
        }
        let total = h
            .size()
            .saturating_add(DATA_OBJECT_PREFIX_LEN as u64)
            .saturating_add(start as u64);
        if total > self.max_header_len as u64 {
            return Err(Error::TooLong {
                len: total,
                max: self.max_header_len as u64,
            });
        }
        let content_end = total as usize;
        let len = match chunk_end {
            Some(l) if l < content_end => {
                return Err(Error::invalid("$H chunk", "shorter than the ASF header"));
            }
            Some(l) => l,
            None => content_end,
        };
        if buf.len() < len {
            return Ok(Status::Partial(len));
        }
        let content = &buf[start..content_end];
        let summary = HeaderSummary::parse(content)?;
        let d = DataObject::new_checked(&content[summary.header_object_len()..])?;
        if d.guid() != guid::DATA {
            return Err(Error::invalid(
                "Data Object",
                "wrong GUID after the Header Object",
            ));
        }
        let packet_size = summary.packet_size as usize;
        let count =
            (!summary.is_broadcast() && d.total_data_packets() > 0).then(|| d.total_data_packets());
        self.state = State::Packets {
            packet_size,
            next: 0,
            count,
            chunked: chunk_end.is_some(),
        };
        Ok(Status::Complete(AsfUnit::Header {
            len,
            start,
            packet_size,
        }))
    }
}

/// An MMSH `$E` end chunk (length 8: its data header only) at the start of
/// `buf`.
fn is_end_chunk(buf: &[u8]) -> bool {
    chunk(buf) == Some((b'E', CHUNK_HEADER))
}

fn is_top_level_object(g: &[u8]) -> bool {
    g.len() >= 16
        && [
            guid::SIMPLE_INDEX,
            guid::INDEX,
            guid::MEDIA_OBJECT_INDEX,
            guid::TIMECODE_INDEX,
        ]
        .iter()
        .any(|x| x[..] == g[..16])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::asf::Objects;
    use crate::asf::header::FLAG_BROADCAST;

    /// A plain file of the test data (not Broadcast, its packets counted).
    const FILE: &[u8] = include_bytes!("../../../testdata/ff_audio.wma");

    /// Every unit of `bytes`, fed in one piece: (kind, len), kind 0 for the
    /// end, 1 for the header, 2 for a packet.
    fn units(bytes: &[u8]) -> Vec<(u8, usize)> {
        let mut r = AsfReader::default();
        let mut at = 0;
        let mut got = Vec::new();
        loop {
            match r.next(&bytes[at..]).unwrap() {
                Status::Complete(AsfUnit::End) => {
                    got.push((0, 0));
                    return got;
                }
                Status::Complete(AsfUnit::Header { len, .. }) => {
                    got.push((1, len));
                    at += len;
                }
                Status::Complete(AsfUnit::Packet { len, .. }) => {
                    got.push((2, len));
                    at += len;
                }
                Status::Partial(_) => return got,
            }
        }
    }

    /// `FILE` as `ffmpeg -f asf -` writes it to a pipe (interop-notes,
    /// "FFmpeg as a live encoder"): Broadcast, File Properties' packet
    /// count 0, a Data Object of 50 bytes and 0 packets, then the packets
    /// anyway, then `extra`.
    fn as_ffmpeg_pipe(extra: &[u8]) -> (Vec<u8>, u64) {
        let s = HeaderSummary::parse(FILE).unwrap();
        let (h, end) = (s.header_object_len(), s.file_header_len());
        let packets = (FILE.len() - end) as u64 / u64::from(s.packet_size);
        let data = end + packets as usize * s.packet_size as usize;
        let mut out = FILE[..data].to_vec();
        // The File Properties Object: Data Packets Count at 56, Flags at 88.
        let mut at = 30;
        for o in Objects::new(&FILE[30..h]) {
            let o = o.unwrap();
            if o.guid == guid::FILE_PROPERTIES {
                out[at + 56..at + 64].fill(0);
                out[at + 88] |= FLAG_BROADCAST as u8;
            }
            at += o.bytes.len();
        }
        // The Data Object: size 50 at 16, Total Data Packets 0 at 40.
        out[h + 16..h + 24].copy_from_slice(&50u64.to_le_bytes());
        out[h + 40..h + 48].fill(0);
        out.extend_from_slice(extra);
        (out, packets)
    }

    #[test]
    fn a_broadcast_header_takes_packets_past_its_declared_count() {
        let (stream, packets) = as_ffmpeg_pipe(&[]);
        assert!(packets > 1);
        let got = units(&stream);
        assert_eq!(got[0].0, 1);
        assert_eq!(
            got.iter().filter(|u| u.0 == 2).count() as u64,
            packets,
            "every packet after a Data Object declaring none"
        );
        // Open-ended: no end until the stream says so.
        assert_ne!(got.last().map(|u| u.0), Some(0));
    }

    #[test]
    fn ffmpegs_pipe_output_ends_at_its_end_chunk() {
        let end = [b'$', b'E', 8, 0, 0, 0, 0, 0, 0, 0, 8, 0];
        let (stream, packets) = as_ffmpeg_pipe(&end);
        let got = units(&stream);
        assert_eq!(got.iter().filter(|u| u.0 == 2).count() as u64, packets);
        assert_eq!(got.last(), Some(&(0, 0)));
        // Four bytes of it are enough.
        let mut r = AsfReader::default();
        let hl = HeaderSummary::parse(FILE).unwrap().file_header_len();
        assert!(matches!(
            r.next(&stream[..hl]),
            Ok(Status::Complete(AsfUnit::Header { .. }))
        ));
        let tail = &stream[stream.len() - end.len()..];
        assert_eq!(r.next(&tail[..4]), Ok(Status::Complete(AsfUnit::End)));
    }

    #[test]
    fn a_counted_file_ends_after_its_declared_packets() {
        let got = units(FILE);
        let s = HeaderSummary::parse(FILE).unwrap();
        let declared = (FILE.len() - s.file_header_len()) / s.packet_size as usize;
        assert_eq!(got.iter().filter(|u| u.0 == 2).count(), declared);
        assert_eq!(got.last(), Some(&(0, 0)));
    }
}
