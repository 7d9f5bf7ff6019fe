//! [2.2.5] RequestPacketListResend: the client's UDP request for lost Data
//! packets.

use super::error::room;
use super::field::view;
use super::{Error, Result};

/// [2.2.5] Signature.
pub const RESEND_SIGNATURE: u32 = 0xBEEF_F00D;
/// [2.2.5] The most packets one request may name.
pub const MAX_RESEND_PACKETS: usize = 32;

view! {
    /// [2.2.5] RequestPacketListResend.
    pub struct RequestPacketListResend, fixed_len = 12;
    /// Signature: MUST be 0xBEEFF00D.
    signature / set_signature: u32 = 0;
    /// dwClientId: the nCubs of ReportFunnelInfo.
    client_id / set_client_id: u32 = 4;
    /// wSourceId: low 16 bits of the openFileId.
    source_id / set_source_id: u16 = 8;
    /// wNumPackets: 1..=32.
    num_packets / set_num_packets: u16 = 10;
}

/// [2.2.5] RequestPacketListResend, owned representation (no allocation:
/// at most 32 entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPacketListResendRepr {
    /// dwClientId.
    pub client_id: u32,
    /// wSourceId.
    pub source_id: u16,
    /// dwBeginPacketList: 32-bit sequence numbers to resend.
    pub packets: heapless::Vec<u32, MAX_RESEND_PACKETS>,
}

impl RequestPacketListResendRepr {
    /// Parses one datagram. Bytes after the list are ignored.
    pub fn parse(datagram: &[u8]) -> Result<Self> {
        let v = RequestPacketListResend::new_checked(datagram)?;
        if v.signature() != RESEND_SIGNATURE {
            return Err(Error::invalid("Signature", "not 0xBEEFF00D"));
        }
        let n = v.num_packets() as usize;
        if !(1..=MAX_RESEND_PACKETS).contains(&n) {
            return Err(Error::invalid("wNumPackets", "outside 1..=32"));
        }
        super::error::need(datagram, 12 + 4 * n)?;
        let mut packets = heapless::Vec::new();
        for c in datagram[12..12 + 4 * n].chunks_exact(4) {
            // At most 32 pushes into a vector of capacity 32 (n checked above).
            let _ = packets.push(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        }
        Ok(Self {
            client_id: v.client_id(),
            source_id: v.source_id(),
            packets,
        })
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        12 + 4 * self.packets.len()
    }

    /// Writes the datagram; fails for an empty list.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.packets.is_empty() {
            return Err(Error::invalid("wNumPackets", "outside 1..=32"));
        }
        let len = self.buffer_len();
        room(buf, len)?;
        let mut v = RequestPacketListResend::new_unchecked(&mut buf[..len]);
        v.set_signature(RESEND_SIGNATURE);
        v.set_client_id(self.client_id);
        v.set_source_id(self.source_id);
        v.set_num_packets(self.packets.len() as u16);
        for (p, dst) in self.packets.iter().zip(buf[12..len].chunks_exact_mut(4)) {
            dst.copy_from_slice(&p.to_le_bytes());
        }
        Ok(len)
    }
}
