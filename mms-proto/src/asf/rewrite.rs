//! The packet rewriter (asf-facts §6): drops payloads of streams the client
//! did not select ([3.2.5.10]), keeps only key-frame payloads of thinned
//! streams, and removes or restores padding — into a caller buffer, never
//! allocating.
//!
//! # Padding strategy
//!
//! [2.2.2] says padding SHOULD be removed and Padding Length set to 0. Real
//! clients (VLC, FFmpeg, MPlayer, libmms) zero-fill a received packet back
//! to the file's packet size without fixing its fields; for a
//! single-payload packet the zeros then become payload data
//! (`interop-notes.md`, asf-facts §6.1). So:
//!
//! * [`Padding::Strip`] (what a server sends to unknown clients): in a
//!   *multiple-payload* packet only Padding Length becomes 0 — each payload
//!   has its own length, so trailing zeros are harmless; in a
//!   *single-payload* packet the padding is removed **and a Packet Length
//!   field is written** (inserted as a WORD if absent, the Padding Length
//!   field dropped), so a zero-filled packet reads its tail as implicit
//!   padding. The header grows by at most 2 bytes; all four clients were
//!   observed to accept this.
//! * [`Padding::StripMsWmsp`]: only Padding Length → 0, the letter of
//!   [2.2.2]; for receivers that use the transport length (ours).
//! * [`Padding::Keep`]: fixed-size output of exactly the file's packet size
//!   with Padding Length (widened if needed) covering the rest — what a file
//!   needs. [`repad`] is this applied to a received packet.

use super::header::StreamSet;
use super::packet::{MULTIPLE_PAYLOADS, PacketInfo, Payload, VarField, width_code, write_var};
use crate::wire::error::room;
use crate::wire::{Error, Result};

/// What to do with padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Output exactly the packet size, padding fields fixed.
    Keep,
    /// Remove padding so that zero-filling receivers still parse it (see
    /// the module docs).
    Strip,
    /// Remove padding and zero Padding Length, nothing else ([2.2.2]).
    StripMsWmsp,
}

/// Which payloads to keep, by stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Streams whose payloads are all kept (thinning level 0).
    pub all: StreamSet,
    /// Streams of which only key-frame payloads are kept (thinning level 1).
    /// Audio payloads carry no key-frame flag (asf-facts §5.2): put audio
    /// streams in `all`.
    pub key_only: StreamSet,
    /// Streams that must start at a key frame ([3.2.5.10]: newly selected
    /// streams): their payloads before the first key-frame start (key bit,
    /// offset 0) in the packet are dropped, those from it on follow `all` /
    /// `key_only`.
    pub from_key_frame: StreamSet,
    /// Streams that must start at a media object's first byte (a live
    /// join: audio carries no key-frame flag, but must not start in the
    /// middle of an object): their payloads before the first one at
    /// offset 0 in the packet are dropped.
    pub from_object_start: StreamSet,
}

impl Selection {
    /// Keep every payload of `streams`.
    pub const fn streams(streams: StreamSet) -> Self {
        Self {
            all: streams,
            key_only: StreamSet::EMPTY,
            from_key_frame: StreamSet::EMPTY,
            from_object_start: StreamSet::EMPTY,
        }
    }

    /// Keep everything (streams 1..=127).
    pub const EVERYTHING: Selection = Selection {
        all: StreamSet(!1),
        key_only: StreamSet::EMPTY,
        from_key_frame: StreamSet::EMPTY,
        from_object_start: StreamSet::EMPTY,
    };

    /// True if the payload is kept, walking a packet's payloads in order;
    /// `started` records the `from_key_frame` streams whose key frame has
    /// begun (start each packet with an empty set).
    pub fn keeps_in_order(&self, p: &Payload<'_>, started: &mut StreamSet) -> bool {
        if self.from_key_frame.contains(p.stream) && !started.contains(p.stream) {
            if !(p.key_frame && (p.offset == 0 || p.is_compressed())) {
                return false;
            }
            started.insert(p.stream);
        } else if self.from_object_start.contains(p.stream) && !started.contains(p.stream) {
            if !(p.offset == 0 || p.is_compressed()) {
                return false;
            }
            started.insert(p.stream);
        }
        self.keeps(p)
    }

    /// True if the payload is kept, ignoring `from_key_frame` (see
    /// [`Self::keeps_in_order`]).
    pub fn keeps(&self, p: &Payload<'_>) -> bool {
        self.all.contains(p.stream) || (p.key_frame && self.key_only.contains(p.stream))
    }
}

/// The outcome of a rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewritten {
    /// The new packet is the first `n` bytes of the output buffer.
    Packet(usize),
    /// No payload is left: skip the packet (its LocationId is not sent).
    Skip,
}

/// Rewrites `packet` (as stored: `packet_size` bytes; or as received) into
/// `out`, keeping the payloads `sel` selects and handling padding as
/// `padding` says. `out` must hold `packet_size` bytes for
/// [`Padding::Keep`], else the input length + 2.
pub fn rewrite(
    packet: &[u8],
    packet_size: usize,
    sel: &Selection,
    padding: Padding,
    out: &mut [u8],
) -> Result<Rewritten> {
    let info = PacketInfo::parse(packet)?;
    let (mut total, mut kept, mut kept_bytes) = (0u32, 0u32, 0usize);
    let mut started = StreamSet::EMPTY;
    for p in info.payloads(packet) {
        let p = p?;
        total += 1;
        if sel.keeps_in_order(&p, &mut started) {
            kept += 1;
            kept_bytes += p.end - p.start;
        }
    }
    if kept == 0 {
        return Ok(Rewritten::Skip);
    }
    let all_kept = kept == total;
    let multiple = info.multiple();
    // The payload area as it will be written.
    let body_len = if all_kept {
        info.payload_end - info.payload_start
    } else {
        1 + kept_bytes
    };

    let fixed = info.ec_len + 2 + info.sequence_field.width + 4 /* Send Time */ + 2 /* Duration */;
    let orig_pl = info.packet_length_field.width;
    let orig_pad = info.padding_length_field.width;
    let (pl_width, pad_width, pad_value) = match padding {
        Padding::Keep => {
            // A Packet Length field, if there is one, must hold P.
            let pl = if orig_pl == 0 {
                0
            } else {
                orig_pl.max(fit(packet_size))
            };
            let mut w = orig_pad;
            loop {
                let used = fixed + pl + w + body_len;
                let pad = packet_size.checked_sub(used).ok_or(Error::invalid(
                    "Padding Length",
                    "packet does not fit the packet size",
                ))?;
                let need = if pad == 0 { 0 } else { fit(pad) };
                if need <= w {
                    break (pl, w, pad);
                }
                w = need;
            }
        }
        Padding::StripMsWmsp => (orig_pl, orig_pad, 0),
        Padding::Strip if multiple => (orig_pl, orig_pad, 0),
        Padding::Strip => {
            let unchanged = all_kept && info.padding_len == 0 && info.len == packet.len();
            if unchanged || orig_pl > 0 {
                (orig_pl, orig_pad, 0)
            } else {
                let len = fixed + 2 + body_len;
                (if len > 0xFFFF { 4 } else { 2 }, 0, 0)
            }
        }
    };
    let header_len = fixed + pl_width + pad_width;
    let content = header_len + body_len;
    let total_len = content + pad_value;
    room(out, total_len)?;
    let out = &mut out[..total_len];

    // Error correction, flags, fields.
    out[..info.ec_len].copy_from_slice(&packet[..info.ec_len]);
    let ltf = (info.length_type_flags & 0x07)
        | (width_code(pad_width) << 3)
        | (width_code(pl_width) << 5);
    out[info.ec_len] = ltf;
    out[info.ec_len + 1] = info.property_flags;
    let mut off = info.ec_len + 2;
    let pl = VarField {
        offset: off,
        width: pl_width,
    };
    off += pl_width;
    let seq = info.sequence_field;
    out[off..off + seq.width].copy_from_slice(&packet[seq.offset..seq.offset + seq.width]);
    off += seq.width;
    let pad = VarField {
        offset: off,
        width: pad_width,
    };
    off += pad_width;
    out[off..off + 6].copy_from_slice(&packet[info.payload_start - 6..info.payload_start]);
    off += 6;
    debug_assert_eq!(off, header_len);
    let pl_value = if padding == Padding::Keep {
        packet_size
    } else {
        content
    };
    let pl_value =
        u32::try_from(pl_value).map_err(|_| Error::invalid("Packet Length", "too large"))?;
    write_var(out, pl.offset, pl.width, pl_value);
    write_var(out, pad.offset, pad.width, pad_value as u32);

    // Payloads.
    if all_kept {
        out[off..off + body_len].copy_from_slice(&packet[info.payload_start..info.payload_end]);
    } else {
        debug_assert!(multiple, "a single payload is either kept or not");
        // Payload Flags with the new count; the length-type bits stay.
        out[off] = (packet[info.payload_start] & 0xC0) | kept as u8;
        off += 1;
        let mut started = StreamSet::EMPTY;
        for p in info.payloads(packet).flatten() {
            if sel.keeps_in_order(&p, &mut started) {
                let n = p.end - p.start;
                out[off..off + n].copy_from_slice(&packet[p.start..p.end]);
                off += n;
            }
        }
    }
    out[content..].fill(0);
    if info.length_type_flags & MULTIPLE_PAYLOADS == 0 && !all_kept {
        return Err(Error::invalid("Payload", "single payload partly kept"));
    }
    Ok(Rewritten::Packet(total_len))
}

/// The narrowest field width (1, 2 or 4 bytes) that holds `v`.
const fn fit(v: usize) -> usize {
    if v <= 0xFF {
        1
    } else if v <= 0xFFFF {
        2
    } else {
        4
    }
}

/// The client side: restores a received packet (padding stripped in any of
/// the ways above) to exactly `packet_size` bytes with its Padding Length
/// (and Packet Length, if present) fixed, so it can be written to a file.
pub fn repad(received: &[u8], packet_size: usize, out: &mut [u8]) -> Result<usize> {
    match rewrite(
        received,
        packet_size,
        &Selection::EVERYTHING,
        Padding::Keep,
        out,
    )? {
        Rewritten::Packet(n) => Ok(n),
        // EVERYTHING keeps every valid payload and a packet has at least one.
        Rewritten::Skip => Err(Error::invalid("Payload", "packet holds no payload")),
    }
}
