//! AV_PAIR lists ([MS-NLMP] 2.2.2.1): the CHALLENGE's TargetInfo and the
//! AvPairs of an NTLMv2 response, `AvId (u16) AvLen (u16) Value` repeated
//! up to MsvAvEOL.

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::le_u16;

use crate::wire::error::room;
use crate::wire::{Error, Result};

/// AvId values ([MS-NLMP] 2.2.2.1).
pub mod av_id {
    /// MsvAvEOL: the end of the list.
    pub const EOL: u16 = 0;
    /// MsvAvNbComputerName: the server's NetBIOS computer name (UTF-16).
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// MsvAvNbDomainName: the server's NetBIOS domain name (UTF-16).
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// MsvAvDnsComputerName (UTF-16).
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// MsvAvDnsDomainName (UTF-16).
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// MsvAvDnsTreeName (UTF-16).
    pub const DNS_TREE_NAME: u16 = 5;
    /// MsvAvFlags: a u32 of [`super::av_flags`].
    pub const FLAGS: u16 = 6;
    /// MsvAvTimestamp: a FILETIME (u64).
    pub const TIMESTAMP: u16 = 7;
    /// MsvAvSingleHost.
    pub const SINGLE_HOST: u16 = 8;
    /// MsvAvTargetName: the SPN the client aims at (UTF-16).
    pub const TARGET_NAME: u16 = 9;
    /// MsvAvChannelBindings: an MD5 of the channel bindings.
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// MsvAvFlags bits ([MS-NLMP] 2.2.2.1).
pub mod av_flags {
    /// The account authentication is constrained.
    pub const CONSTRAINED: u32 = 0x1;
    /// The AUTHENTICATE message carries a MIC.
    pub const MIC_PRESENT: u32 = 0x2;
    /// The client's SPN comes from an untrusted source.
    pub const UNTRUSTED_SPN: u32 = 0x4;
}

/// One AV_PAIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvPair<'a> {
    /// AvId.
    pub id: u16,
    /// Value (AvLen bytes).
    pub value: &'a [u8],
}

/// A validated AV_PAIR list, borrowing the message. Every pair fits; the
/// list ends at MsvAvEOL, or (tolerated) exactly at the end of the field.
/// Bytes after the EOL (the NTLMv2 response's trailing zeros) are not part
/// of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AvPairs<'a> {
    /// The pairs without the EOL pair.
    pairs: &'a [u8],
}

type PResult<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

fn av_pair(i: &[u8]) -> PResult<'_, AvPair<'_>> {
    let (i, (id, len)) = (le_u16, le_u16).parse(i)?;
    let (i, value) = take(len).parse(i)?;
    Ok((i, AvPair { id, value }))
}

impl<'a> AvPairs<'a> {
    /// Validates a list.
    pub fn parse(field: &'a [u8]) -> Result<Self> {
        let mut rest = field;
        while !rest.is_empty() {
            let (next, pair) =
                av_pair(rest).map_err(|_| Error::invalid("AV_PAIR", "pair runs past the field"))?;
            if pair.id == av_id::EOL {
                let used = field.len() - rest.len();
                return Ok(Self {
                    pairs: &field[..used],
                });
            }
            rest = next;
        }
        Ok(Self { pairs: field })
    }

    /// The pairs, without the EOL, in order.
    pub fn iter(&self) -> impl Iterator<Item = AvPair<'a>> + 'a {
        let mut rest = self.pairs;
        core::iter::from_fn(move || {
            // Cannot fail after `parse`; an error just ends the walk.
            let (next, pair) = av_pair(rest).ok()?;
            rest = next;
            Some(pair)
        })
    }

    /// The first value with `id`.
    pub fn get(&self, id: u16) -> Option<&'a [u8]> {
        self.iter().find(|p| p.id == id).map(|p| p.value)
    }

    /// MsvAvTimestamp, when present and 8 bytes long.
    pub fn timestamp(&self) -> Option<u64> {
        let v: [u8; 8] = self.get(av_id::TIMESTAMP)?.try_into().ok()?;
        Some(u64::from_le_bytes(v))
    }

    /// MsvAvFlags, when present and 4 bytes long.
    pub fn flags(&self) -> Option<u32> {
        let v: [u8; 4] = self.get(av_id::FLAGS)?.try_into().ok()?;
        Some(u32::from_le_bytes(v))
    }

    /// The pairs' bytes without the EOL.
    pub fn pairs_bytes(&self) -> &'a [u8] {
        self.pairs
    }

    /// Bytes of the list as emitted with its EOL.
    pub fn wire_len(&self) -> usize {
        self.pairs.len() + 4
    }
}

/// Writes an AV_PAIR list into a caller buffer.
pub struct AvWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> AvWriter<'b> {
    /// Starts a list at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    fn head(&mut self, id: u16, len: usize) -> Result<usize> {
        let len16 = u16::try_from(len).map_err(|_| Error::invalid("AvLen", "value too long"))?;
        room(&self.buf[self.len..], 4 + len)?;
        let at = self.len;
        self.buf[at..at + 2].copy_from_slice(&id.to_le_bytes());
        self.buf[at + 2..at + 4].copy_from_slice(&len16.to_le_bytes());
        self.len += 4 + len;
        Ok(at + 4)
    }

    /// Appends a pair.
    pub fn push(&mut self, id: u16, value: &[u8]) -> Result<()> {
        let at = self.head(id, value.len())?;
        self.buf[at..at + value.len()].copy_from_slice(value);
        Ok(())
    }

    /// Appends a pair whose value is `text` in UTF-16LE.
    pub fn push_str(&mut self, id: u16, text: &str) -> Result<()> {
        let n = 2 * text.encode_utf16().count();
        let at = self.head(id, n)?;
        for (k, u) in text.encode_utf16().enumerate() {
            self.buf[at + 2 * k..at + 2 * k + 2].copy_from_slice(&u.to_le_bytes());
        }
        Ok(())
    }

    /// Appends MsvAvEOL and returns the list's length.
    pub fn finish(mut self) -> Result<usize> {
        self.head(av_id::EOL, 0)?;
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::auth::ntlm::tests_data::SPEC_TARGET_INFO;

    #[test]
    fn spec_target_info() {
        let l = AvPairs::parse(&SPEC_TARGET_INFO).unwrap();
        let ids: heapless::Vec<u16, 4> = l.iter().map(|p| p.id).collect();
        assert_eq!(&ids[..], &[av_id::NB_DOMAIN_NAME, av_id::NB_COMPUTER_NAME]);
        assert_eq!(l.wire_len(), SPEC_TARGET_INFO.len());
        assert_eq!(l.timestamp(), None);
        let mut buf = [0xa5u8; 64];
        let mut w = AvWriter::new(&mut buf);
        w.push_str(av_id::NB_DOMAIN_NAME, "Domain").unwrap();
        w.push_str(av_id::NB_COMPUTER_NAME, "Server").unwrap();
        let n = w.finish().unwrap();
        assert_eq!(&buf[..n], &SPEC_TARGET_INFO);
    }

    #[test]
    fn bounded() {
        assert!(AvPairs::parse(&[1, 0, 9, 0, 0]).is_err());
        assert!(AvPairs::parse(&[1, 0]).is_err());
        // No EOL, ends at the field's end: tolerated.
        assert_eq!(AvPairs::parse(&[7, 0, 0, 0]).unwrap().iter().count(), 1);
        // Bytes after EOL are not pairs.
        let l = AvPairs::parse(&[0, 0, 0, 0, 0xff, 0xff]).unwrap();
        assert_eq!(l.iter().count(), 0);
        let mut small = [0u8; 3];
        assert!(AvWriter::new(&mut small).finish().is_err());
    }
}
