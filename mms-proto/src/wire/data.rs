//! [2.2.2] Data: the packet that carries the ASF file header, ASF data
//! packets and packet-pair probes, over TCP or UDP.

use super::error::{need, room};
use super::field::view;
use super::{Error, Result};

/// Length of the Data packet header (LocationId, playIncarnation, AFFlags,
/// PacketSize).
pub const DATA_HEADER_LEN: usize = 4 /* LocationId */ + 1 /* playIncarnation */ + 1 /* AFFlags */ + 2 /* PacketSize */;
/// Largest payload a Data packet can carry (PacketSize is 16 bits).
pub const MAX_DATA_PAYLOAD: usize = u16::MAX as usize - DATA_HEADER_LEN;

/// AFFlags of an ASF file header piece that is followed by more ([2.2.2]).
pub const AF_HEADER_MORE: u8 = 0x04;
/// AFFlags of the last ASF file header piece ([2.2.2]).
pub const AF_HEADER_LAST: u8 = 0x0C;
/// AFFlags of a packet-pair packet ([2.2.2]).
pub const AF_PACKET_PAIR: u8 = 0x10;
/// playIncarnation of a packet-pair packet ([2.2.2]).
pub const PACKET_PAIR_INCARNATION: u8 = 0xFF;
/// LocationId of the first packet-pair packet ([2.2.2]).
pub const PACKET_PAIR_FIRST: u32 = 0xF0F0_F000;
/// LocationId of the second packet-pair packet ([2.2.2]).
pub const PACKET_PAIR_SECOND: u32 = 0xF0F0_F001;

view! {
    /// [2.2.2] Data packet.
    pub struct DataPacket, fixed_len = DATA_HEADER_LEN;
    /// LocationId: header piece index, ASF data packet number, or a
    /// packet-pair value.
    location_id / set_location_id: u32 = 0;
    /// playIncarnation: low 8 bits of the triggering message's
    /// playIncarnation; 0xFF for packet-pair; 0 is reserved.
    play_incarnation / set_play_incarnation: u8 = 4;
    /// AFFlags: a sequence number for ASF data packets, header piece flags,
    /// or 0x10 for packet-pair.
    af_flags / set_af_flags: u8 = 5;
    /// PacketSize: total size of the Data packet, header included.
    packet_size / set_packet_size: u16 = 6;
}

impl<T: AsRef<[u8]>> DataPacket<T> {
    /// Checks the header fits and that PacketSize is at least the header and
    /// at most the buffer.
    pub fn check(&self) -> Result<()> {
        self.check_len()?;
        let size = self.packet_size() as usize;
        if size < DATA_HEADER_LEN {
            return Err(Error::invalid(
                "PacketSize",
                "smaller than the Data packet header",
            ));
        }
        need(self.as_bytes(), size)
    }

    /// The payload (after [`Self::check`]: exactly PacketSize − 8 bytes).
    pub fn payload(&self) -> &[u8] {
        let b = self.as_bytes();
        let end = (self.packet_size() as usize).clamp(DATA_HEADER_LEN, b.len());
        &b[DATA_HEADER_LEN..end]
    }
}

/// What a Data packet carries, as far as its own fields tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A packet-pair probe; `second` for LocationId 0xF0F0F001.
    PacketPair {
        /// True for the second packet of the pair.
        second: bool,
    },
    /// A piece of the ASF file header (its playIncarnation matched the
    /// ReadBlock's); `index` is the LocationId.
    HeaderPiece {
        /// LocationId: 0 for the first piece.
        index: u32,
        /// True for the last piece (AFFlags 0x0C; 0x08 is accepted too).
        last: bool,
    },
    /// An ASF data packet; `packet_number` is the LocationId and `sequence`
    /// the low 8 bits of the Data packet sequence (AFFlags).
    Media {
        /// The ASF data packet number.
        packet_number: u32,
        /// AFFlags: low 8 bits of the 32-bit sequence.
        sequence: u8,
    },
}

/// [2.2.2] Data packet, owned representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPacketRepr<'a> {
    /// LocationId.
    pub location_id: u32,
    /// playIncarnation.
    pub play_incarnation: u8,
    /// AFFlags.
    pub af_flags: u8,
    /// Payload (PacketSize is derived from its length).
    pub payload: &'a [u8],
}

impl<'a> DataPacketRepr<'a> {
    /// Parses a Data packet; trailing bytes beyond PacketSize are not part
    /// of it.
    pub fn parse(packet: &DataPacket<&'a [u8]>) -> Result<Self> {
        packet.check()?;
        let b: &'a [u8] = packet.into_inner();
        let size = u16::from_le_bytes([b[6], b[7]]) as usize;
        Ok(Self {
            location_id: packet.location_id(),
            play_incarnation: packet.play_incarnation(),
            af_flags: packet.af_flags(),
            payload: &b[DATA_HEADER_LEN..size],
        })
    }

    /// Total length on the wire.
    pub fn buffer_len(&self) -> usize {
        DATA_HEADER_LEN + self.payload.len()
    }

    /// Writes the header and the payload; returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        room(buf, len)?;
        Self::emit_header(
            self.location_id,
            self.play_incarnation,
            self.af_flags,
            self.payload.len(),
            buf,
        )?;
        buf[DATA_HEADER_LEN..len].copy_from_slice(self.payload);
        Ok(len)
    }

    /// Writes only the 8-byte header for a payload of `payload_len` bytes
    /// the caller has placed (or will place) after it — the server's
    /// zero-copy path.
    pub fn emit_header(
        location_id: u32,
        play_incarnation: u8,
        af_flags: u8,
        payload_len: usize,
        buf: &mut [u8],
    ) -> Result<()> {
        let size = u16::try_from(DATA_HEADER_LEN + payload_len)
            .map_err(|_| Error::invalid("PacketSize", "payload longer than 65527 bytes"))?;
        room(buf, DATA_HEADER_LEN)?;
        let mut v = DataPacket::new_unchecked(&mut buf[..DATA_HEADER_LEN]);
        v.set_location_id(location_id);
        v.set_play_incarnation(play_incarnation);
        v.set_af_flags(af_flags);
        v.set_packet_size(size);
        Ok(())
    }

    /// Classifies the packet given the playIncarnation of the outstanding
    /// ReadBlock (header pieces carry it, [3.2.5.8.1]); everything else that
    /// is not a packet-pair probe is an ASF data packet.
    pub fn kind(&self, header_incarnation: Option<u8>) -> Result<DataKind> {
        if self.play_incarnation == PACKET_PAIR_INCARNATION && self.af_flags == AF_PACKET_PAIR {
            return match self.location_id {
                PACKET_PAIR_FIRST => Ok(DataKind::PacketPair { second: false }),
                PACKET_PAIR_SECOND => Ok(DataKind::PacketPair { second: true }),
                _ => Err(Error::invalid("LocationId", "not a packet-pair value")),
            };
        }
        if Some(self.play_incarnation) == header_incarnation {
            let last = match self.af_flags {
                AF_HEADER_LAST | 0x08 => true,
                AF_HEADER_MORE | 0x00 => false,
                _ => return Err(Error::invalid("AFFlags", "not a header piece flag")),
            };
            return Ok(DataKind::HeaderPiece {
                index: self.location_id,
                last,
            });
        }
        Ok(DataKind::Media {
            packet_number: self.location_id,
            sequence: self.af_flags,
        })
    }

    /// Reports values that parse but that [2.2.2] forbids.
    pub fn check_strict(&self) -> Result<()> {
        if self.play_incarnation == 0 {
            return Err(Error::invalid("playIncarnation", "0 is reserved"));
        }
        Ok(())
    }
}

/// Extends the 8-bit AFFlags sequence to 32 bits ([3.1.5.17]): the value
/// nearest after `previous` whose low byte is `low`.
pub const fn extend_sequence(previous: u32, low: u8) -> u32 {
    let delta = low.wrapping_sub(previous as u8);
    previous.wrapping_add(delta as u32)
}
