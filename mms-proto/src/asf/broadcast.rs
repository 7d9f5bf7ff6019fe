//! What a live point needs of ASF (asf-facts §9): the header it sends
//! listeners (a broadcast: Broadcast flag, no lengths), and where in a
//! packet each stream can start cleanly (the join and skip points).

use super::guid;
use super::header::{
    DATA_OBJECT_PREFIX_LEN, DataObject, FLAG_BROADCAST, FLAG_SEEKABLE, FileProperties,
    HeaderObject, StreamSet,
};
use super::packet::PacketInfo;
use crate::wire::{Error, Result};

/// Turns a source's ASF file header (Header Object + the 50-byte Data
/// Object prefix) into a broadcast's, in place: the Broadcast flag set and
/// Seekable cleared, File Size, Data Packets Count and Send Duration 0,
/// Play Duration the preroll alone (a duration of 0), the Data Object's
/// size 50 and its Total Data Packets 0 — what an encoder writing live
/// declares (asf-facts §9), whatever the source (a file looped as a
/// channel, a relay) said.
pub fn make_live_header(header: &mut [u8]) -> Result<()> {
    let (fp_at, data_at) = offsets(header)?;
    let data = &mut header[data_at..];
    let mut d = DataObject::new_checked(data)?;
    d.set_size(DATA_OBJECT_PREFIX_LEN as u64);
    d.set_total_data_packets(0);
    let mut fp = FileProperties::new_checked(&mut header[fp_at..])?;
    fp.set_file_size(0);
    fp.set_data_packets_count(0);
    fp.set_send_duration(0);
    let preroll = fp.preroll();
    fp.set_play_duration(preroll.saturating_mul(10_000));
    let flags = fp.flags();
    fp.set_flags((flags | FLAG_BROADCAST) & !FLAG_SEEKABLE);
    Ok(())
}

/// Where the File Properties Object and the Data Object prefix start in
/// an ASF file header (both checked to be whole).
fn offsets(header: &[u8]) -> Result<(usize, usize)> {
    let h = HeaderObject::check(header)?;
    let base = header.as_ptr() as usize;
    let mut fp_at = None;
    for obj in h.children() {
        let obj = obj?;
        if obj.guid == guid::FILE_PROPERTIES {
            fp_at = Some(obj.bytes.as_ptr() as usize - base);
        }
    }
    let fp_at = fp_at.ok_or(Error::invalid("header", "no File Properties Object"))?;
    let data_at = h.into_inner().len();
    FileProperties::new_checked(&header[fp_at..])?;
    let data = header
        .get(data_at..)
        .filter(|d| d.len() >= DATA_OBJECT_PREFIX_LEN)
        .ok_or(Error::invalid("header", "no Data Object prefix"))?;
    if DataObject::new_checked(data)?.guid() != guid::DATA {
        return Err(Error::invalid(
            "header",
            "no Data Object after the Header Object",
        ));
    }
    Ok((fp_at, data_at))
}

/// True when two ASF file headers differ at most in their File IDs and
/// Creation Date: the same streams, as an encoder that starts over writes
/// them — a live point goes on with the same run.
pub fn same_streams(a: &[u8], b: &[u8]) -> bool {
    let (Ok(x), Ok(y)) = (offsets(a), offsets(b)) else {
        return false;
    };
    if a.len() != b.len() || x != y {
        return false;
    }
    let (fp, data) = x;
    // File ID and Creation Date of the File Properties, the Data Object's
    // File ID ([`FileProperties`], [`DataObject`] offsets 24, 48, 24).
    let identity = [fp + 24..fp + 40, fp + 48..fp + 56, data + 24..data + 40];
    a.iter()
        .zip(b)
        .enumerate()
        .all(|(i, (p, q))| p == q || identity.iter().any(|r| r.contains(&i)))
}

/// Where streams start cleanly in one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanStarts {
    /// Streams with a key frame starting here (key-frame flag, offset 0).
    pub key_frames: StreamSet,
    /// Streams with a media object starting here (offset 0), key frame or
    /// not.
    pub objects: StreamSet,
    /// Streams with any payload here.
    pub present: StreamSet,
}

impl CleanStarts {
    /// Reads the payloads of `packet` (as stored).
    pub fn of(packet: &[u8]) -> Result<Self> {
        let info = PacketInfo::parse(packet)?;
        let mut c = Self::default();
        for p in info.payloads(packet) {
            let p = p?;
            c.present.insert(p.stream);
            if p.offset == 0 || p.is_compressed() {
                c.objects.insert(p.stream);
                if p.key_frame {
                    c.key_frames.insert(p.stream);
                }
            }
        }
        Ok(c)
    }
}

/// True when a media object of `stream` starts in `packet` (offset 0).
pub fn starts_object(packet: &[u8], stream: u8) -> Result<bool> {
    Ok(CleanStarts::of(packet)?.objects.contains(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asf::HeaderSummary;

    const FILE: &[u8] = include_bytes!("../../../testdata/ff_av.wmv");

    #[test]
    fn a_file_header_becomes_a_broadcast() {
        let s = HeaderSummary::parse(FILE).unwrap();
        let mut h = FILE[..s.file_header_len()].to_vec();
        make_live_header(&mut h).unwrap();
        let live = HeaderSummary::parse(&h).unwrap();
        assert!(live.is_broadcast());
        assert!(!live.is_seekable());
        assert_eq!(live.packet_count, 0);
        assert_eq!(live.duration_ms(), 0);
        assert_eq!(live.packet_size, s.packet_size);
        assert_eq!(live.streams.len(), s.streams.len());
        assert_eq!(h.len(), s.file_header_len());
        // Twice is the same.
        let once = h.clone();
        make_live_header(&mut h).unwrap();
        assert_eq!(h, once);
    }

    #[test]
    fn headers_with_the_same_streams_are_told_from_others() {
        let s = HeaderSummary::parse(FILE).unwrap();
        let h = &FILE[..s.file_header_len()];
        let mut again = h.to_vec();
        let data_at = again.len() - DATA_OBJECT_PREFIX_LEN;
        again[data_at + 24] ^= 0xFF;
        assert!(same_streams(h, &again), "another File ID");
        let mut other = h.to_vec();
        other[data_at - 1] ^= 0xFF;
        assert!(!same_streams(h, &other), "another byte of the header");
        assert!(!same_streams(h, &h[..h.len() - 1]));
        assert!(!same_streams(b"", b""));
    }

    #[test]
    fn broken_headers_are_errors_not_panics() {
        let s = HeaderSummary::parse(FILE).unwrap();
        for cut in [0, 10, 30, s.file_header_len() - 1] {
            let mut h = FILE[..cut].to_vec();
            assert!(make_live_header(&mut h).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn clean_starts_of_the_first_packet() {
        let s = HeaderSummary::parse(FILE).unwrap();
        let p = &FILE[s.file_header_len()..][..s.packet_size as usize];
        let c = CleanStarts::of(p).unwrap();
        assert!(!c.objects.is_empty());
        // A key frame start is an object start.
        assert_eq!(c.key_frames.0 & !c.objects.0, 0);
        for st in c.objects.iter() {
            assert!(starts_object(p, st).unwrap());
        }
    }
}
