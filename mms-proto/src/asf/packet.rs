//! ASF data packets (asf-facts §4–§5): error correction, payload parsing
//! information, single / multiple / compressed payloads, replicated data,
//! padding. Parsing never allocates and never panics; payloads come from an
//! iterator that validates as it goes.

use crate::wire::{Error, Result};

/// A variable-width field of the payload parsing information: where it is
/// and how wide (0 = absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VarField {
    /// Offset in the packet.
    pub offset: usize,
    /// Width in bytes: 0, 1, 2 or 4.
    pub width: usize,
}

/// Width of a 2-bit length-type code: 00 absent, 01 BYTE, 10 WORD, 11 DWORD.
pub const fn type_width(code: u8) -> usize {
    match code & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

/// The 2-bit length-type code for a width.
pub const fn width_code(width: usize) -> u8 {
    match width {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 3,
    }
}

fn read_var(b: &[u8], off: usize, width: usize, field: &'static str) -> Result<u32> {
    let f = b
        .get(off..off + width)
        .ok_or(Error::invalid(field, "past the end of the packet"))?;
    Ok(match width {
        0 => 0,
        1 => f[0] as u32,
        2 => u16::from_le_bytes([f[0], f[1]]) as u32,
        _ => u32::from_le_bytes([f[0], f[1], f[2], f[3]]),
    })
}

/// Writes `value` into a `width`-byte little-endian field.
pub(crate) fn write_var(b: &mut [u8], off: usize, width: usize, value: u32) {
    b[off..off + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

/// Length Type Flags bit: several payloads follow, each with a length.
pub const MULTIPLE_PAYLOADS: u8 = 0x01;

/// The parsed header of one data packet: the parsing information plus the
/// positions a rewriter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// Bytes of the error-correction part (0, or 1 + its data length).
    pub ec_len: usize,
    /// Length Type Flags.
    pub length_type_flags: u8,
    /// Property Flags.
    pub property_flags: u8,
    /// The Packet Length field.
    pub packet_length_field: VarField,
    /// The Sequence field.
    pub sequence_field: VarField,
    /// The Padding Length field.
    pub padding_length_field: VarField,
    /// Send Time, ms.
    pub send_time: u32,
    /// Duration, ms.
    pub duration: u16,
    /// Effective packet length L (the Packet Length value if present, else
    /// the bytes given).
    pub len: usize,
    /// Padding Length value.
    pub padding_len: usize,
    /// Where the payload area starts (the Payload Flags byte of a multiple
    /// payload packet, else the payload header).
    pub payload_start: usize,
    /// Where the payload area ends: L − Padding Length (or L in GStreamer's
    /// layout, see [`Self::parse`]).
    pub payload_end: usize,
}

impl PacketInfo {
    /// Parses the header of the packet in `b`. `b` is the packet as stored
    /// (P bytes) or as received (the transport length, padding possibly
    /// stripped); with a Packet Length field, L is its value and bytes after
    /// it are implicit padding.
    pub fn parse(b: &[u8]) -> Result<Self> {
        let first = *b.first().ok_or(Error::Truncated { needed: 1, got: 0 })?;
        let ec_len = if first & 0x80 != 0 {
            if first & 0x10 != 0 {
                return Err(Error::invalid(
                    "Error Correction Flags",
                    "opaque data present",
                ));
            }
            if first & 0x60 != 0 {
                return Err(Error::invalid(
                    "Error Correction Flags",
                    "unknown error correction length type",
                ));
            }
            1 + (first & 0x0F) as usize
        } else {
            0
        };
        let need = ec_len + 2;
        if b.len() < need {
            return Err(Error::Truncated {
                needed: need,
                got: b.len(),
            });
        }
        let ltf = b[ec_len];
        if ltf & 0x80 != 0 {
            return Err(Error::invalid("Length Type Flags", "bit 7 set"));
        }
        let pf = b[ec_len + 1];
        let mut off = ec_len + 2;
        let mut field = |code: u8| {
            let f = VarField {
                offset: off,
                width: type_width(code),
            };
            off += f.width;
            f
        };
        let packet_length_field = field(ltf >> 5);
        let sequence_field = field(ltf >> 1);
        let padding_length_field = field(ltf >> 3);
        let send_at = off;
        let payload_start = send_at + 6;
        if b.len() < payload_start {
            return Err(Error::Truncated {
                needed: payload_start,
                got: b.len(),
            });
        }
        let send_time = read_var(b, send_at, 4, "Send Time")?;
        let duration = read_var(b, send_at + 4, 2, "Duration")? as u16;
        let len = if packet_length_field.width > 0 {
            let l = read_var(
                b,
                packet_length_field.offset,
                packet_length_field.width,
                "Packet Length",
            )? as usize;
            if l > b.len() {
                return Err(Error::invalid("Packet Length", "longer than the packet"));
            }
            l
        } else {
            b.len()
        };
        let padding_len = read_var(
            b,
            padding_length_field.offset,
            padding_length_field.width,
            "Padding Length",
        )? as usize;
        let min = payload_start + if ltf & MULTIPLE_PAYLOADS != 0 { 1 } else { 0 };
        // GStreamer's asfmux writes Packet Length = the bytes used and
        // Padding Length = the bytes after them (L + padding = P), where
        // FFmpeg and the other muxers count padding inside L. Both layouts
        // are accepted: with L < P and L + padding = P the payloads end at L.
        let payload_end =
            if packet_length_field.width > 0 && len < b.len() && len + padding_len == b.len() {
                len
            } else {
                if len < min || len - min < padding_len {
                    return Err(Error::invalid(
                        "Padding Length",
                        "larger than the space after the header",
                    ));
                }
                len - padding_len
            };
        if payload_end < min {
            return Err(Error::invalid(
                "Packet Length",
                "shorter than the packet header",
            ));
        }
        Ok(Self {
            ec_len,
            length_type_flags: ltf,
            property_flags: pf,
            packet_length_field,
            sequence_field,
            padding_length_field,
            send_time,
            duration,
            len,
            padding_len,
            payload_start,
            payload_end,
        })
    }

    /// True when the packet carries several payloads (each with a length).
    pub fn multiple(&self) -> bool {
        self.length_type_flags & MULTIPLE_PAYLOADS != 0
    }

    /// The payloads of the packet `b` this header was parsed from.
    pub fn payloads<'a>(&self, b: &'a [u8]) -> Payloads<'a> {
        Payloads::new(*self, b)
    }
}

/// One payload (asf-facts §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// Stream number (bits 0–6 of the stream byte).
    pub stream: u8,
    /// Bit 7 of the stream byte: the payload belongs to a key frame.
    pub key_frame: bool,
    /// Media Object Number.
    pub media_object_number: u32,
    /// Offset Into Media Object (presentation time for compressed payloads).
    pub offset: u32,
    /// Replicated Data (length 1 = compressed payload).
    pub replicated_data: &'a [u8],
    /// Payload Data.
    pub data: &'a [u8],
    /// Offset in the packet where the payload (its header) starts.
    pub start: usize,
    /// Offset in the packet just past the payload's data.
    pub end: usize,
}

impl<'a> Payload<'a> {
    /// A compressed payload: several small media objects (§5.4).
    pub fn is_compressed(&self) -> bool {
        self.replicated_data.len() == 1
    }

    /// Media Object Size from the replicated data (§5.3).
    pub fn media_object_size(&self) -> Option<u32> {
        let r = self.replicated_data.get(0..4)?;
        Some(u32::from_le_bytes([r[0], r[1], r[2], r[3]]))
    }

    /// Presentation time, ms, preroll included (§5.3, §5.4).
    pub fn presentation_time(&self) -> Option<u32> {
        if self.is_compressed() {
            return Some(self.offset);
        }
        let r = self.replicated_data.get(4..8)?;
        Some(u32::from_le_bytes([r[0], r[1], r[2], r[3]]))
    }

    /// The sub-payloads of a compressed payload: each a whole media object.
    pub fn sub_payloads(&self) -> SubPayloads<'a> {
        SubPayloads {
            rest: if self.is_compressed() { self.data } else { &[] },
        }
    }
}

/// The sub-payloads of a compressed payload (§5.4).
#[derive(Debug, Clone)]
pub struct SubPayloads<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SubPayloads<'a> {
    type Item = Result<&'a [u8]>;
    fn next(&mut self) -> Option<Self::Item> {
        let (&n, rest) = self.rest.split_first()?;
        if n as usize > rest.len() {
            self.rest = &[];
            return Some(Err(Error::invalid(
                "Sub-Payload Length",
                "runs past the payload",
            )));
        }
        let (sub, rest) = rest.split_at(n as usize);
        self.rest = rest;
        Some(Ok(sub))
    }
}

/// Iterator over the payloads of a packet; validates as it goes and yields
/// an error (then stops) on the first inconsistency, including payloads
/// that do not end where the padding starts (zero bytes in between are
/// accepted: they are what a zero-filling receiver adds).
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    info: PacketInfo,
    b: &'a [u8],
    pos: usize,
    left: u8,
    length_width: usize,
    done: bool,
}

impl<'a> Payloads<'a> {
    fn new(info: PacketInfo, b: &'a [u8]) -> Self {
        let mut p = Self {
            info,
            b,
            pos: info.payload_start,
            left: 1,
            length_width: 0,
            done: false,
        };
        if info.multiple() {
            // PacketInfo::parse checked room for the flags byte.
            let flags = b[info.payload_start];
            p.left = flags & 0x3F;
            p.length_width = type_width(flags >> 6);
            p.pos += 1;
        }
        p
    }

    /// The number of payloads the packet declares.
    pub fn declared(&self) -> u8 {
        if self.info.multiple() {
            self.b.get(self.info.payload_start).map_or(0, |f| f & 0x3F)
        } else {
            1
        }
    }

    fn one(&mut self) -> Result<Payload<'a>> {
        let pf = self.info.property_flags;
        let end = self.info.payload_end;
        let b = &self.b[..end];
        let start = self.pos;
        let mut off = start;
        let mut take = |width: usize, field: &'static str| -> Result<u32> {
            let v = read_var(b, off, width, field)?;
            off += width;
            Ok(v)
        };
        let stream_byte = take(type_width(pf >> 6), "Stream Number")?;
        let mon = take(type_width(pf >> 4), "Media Object Number")?;
        let offset = take(type_width(pf >> 2), "Offset Into Media Object")?;
        let rep_len = take(type_width(pf), "Replicated Data Length")? as usize;
        if (2..8).contains(&rep_len) {
            return Err(Error::invalid("Replicated Data Length", "2..=7 is invalid"));
        }
        let rep = b.get(off..off + rep_len).ok_or(Error::invalid(
            "Replicated Data",
            "runs past the payload area",
        ))?;
        off += rep_len;
        let data_len = if self.info.multiple() {
            let n = read_var(b, off, self.length_width, "Payload Length")? as usize;
            off += self.length_width;
            n
        } else {
            end.checked_sub(off).ok_or(Error::invalid(
                "Payload",
                "header runs past the payload area",
            ))?
        };
        let data = b.get(off..off + data_len).ok_or(Error::invalid(
            "Payload Length",
            "runs past the payload area",
        ))?;
        off += data_len;
        let stream = (stream_byte & 0x7F) as u8;
        if stream == 0 {
            return Err(Error::invalid("Stream Number", "0 is invalid"));
        }
        self.pos = off;
        Ok(Payload {
            stream,
            key_frame: stream_byte & 0x80 != 0,
            media_object_number: mon,
            offset,
            replicated_data: rep,
            data,
            start,
            end: off,
        })
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Result<Payload<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.left == 0 {
            self.done = true;
            // Bytes between the last payload and the padding are an error,
            // unless all zero: a receiver that zero-filled a stripped packet
            // back to P (as VLC and FFmpeg do) leaves exactly that.
            let rest = self.b.get(self.pos..self.info.payload_end).unwrap_or(&[]);
            return (self.pos > self.info.payload_end || rest.iter().any(|&x| x != 0)).then_some(
                Err(Error::invalid(
                    "Payload Length",
                    "payloads do not end where the padding starts",
                )),
            );
        }
        let r = self.one();
        self.left -= 1;
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

/// Parses a packet and checks every payload; returns the header.
pub fn validate(b: &[u8]) -> Result<PacketInfo> {
    let info = PacketInfo::parse(b)?;
    for p in info.payloads(b) {
        let p = p?;
        for sub in p.sub_payloads() {
            sub?;
        }
    }
    Ok(info)
}
