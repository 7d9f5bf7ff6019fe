//! UTF-16LE text kept in wire form ([2.2.4]: "Unicode characters").
//!
//! Parsing never decodes into an owned string: a [`Utf16Str`] borrows the
//! message bytes. For building messages a `Utf16Str` can also borrow a Rust
//! `&str`, which is encoded while emitting. Both forms compare equal when
//! they hold the same code units.

use core::fmt;

use super::{Error, Result};

/// A borrowed UTF-16 string, either still in little-endian wire form or a
/// Rust string to be encoded on emit. Lengths are counted in UTF-16 code
/// units, as the spec counts them.
#[derive(Clone, Copy)]
pub enum Utf16Str<'a> {
    /// Little-endian code units as received (even length, no terminator).
    Wire(&'a [u8]),
    /// A Rust string, encoded as UTF-16 when emitted.
    Str(&'a str),
}

impl<'a> Utf16Str<'a> {
    /// The empty string.
    pub const EMPTY: Utf16Str<'static> = Utf16Str::Wire(&[]);

    /// Wraps little-endian wire bytes; fails on an odd length.
    pub fn from_wire(bytes: &'a [u8], field: &'static str) -> Result<Self> {
        if bytes.len() % 2 != 0 {
            return Err(Error::invalid(field, "odd UTF-16 length"));
        }
        Ok(Utf16Str::Wire(bytes))
    }

    /// The code units, in order.
    pub fn units(&self) -> Units<'a> {
        match *self {
            Utf16Str::Wire(b) => Units::Wire(b.chunks_exact(2)),
            Utf16Str::Str(s) => Units::Str(s.encode_utf16()),
        }
    }

    /// Length in UTF-16 code units (no terminator).
    pub fn len_units(&self) -> usize {
        match *self {
            Utf16Str::Wire(b) => b.len() / 2,
            Utf16Str::Str(s) => s.encode_utf16().count(),
        }
    }

    /// Length in bytes on the wire (no terminator).
    pub fn byte_len(&self) -> usize {
        self.len_units() * 2
    }

    /// True when there are no code units.
    pub fn is_empty(&self) -> bool {
        match *self {
            Utf16Str::Wire(b) => b.is_empty(),
            Utf16Str::Str(s) => s.is_empty(),
        }
    }

    /// Decoded characters; unpaired surrogates become U+FFFD.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        char::decode_utf16(self.units()).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Writes the code units little-endian into `buf`, returning the bytes
    /// written. `buf` must hold [`Self::byte_len`] bytes.
    pub fn write_to(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.byte_len();
        super::error::room(buf, n)?;
        match *self {
            Utf16Str::Wire(b) => buf[..n].copy_from_slice(b),
            Utf16Str::Str(s) => {
                for (dst, u) in buf[..n].chunks_exact_mut(2).zip(s.encode_utf16()) {
                    dst.copy_from_slice(&u.to_le_bytes());
                }
            }
        }
        Ok(n)
    }

    /// True if the text equals `s` exactly.
    pub fn eq_str(&self, s: &str) -> bool {
        self.units().eq(s.encode_utf16())
    }

    /// True if the text equals the ASCII string `s`, ignoring ASCII case
    /// (ABNF quoted strings are case-insensitive, RFC 4234 §2.3).
    pub fn eq_ignore_ascii_case(&self, s: &str) -> bool {
        let lower = |u: u16| {
            if (b'A' as u16..=b'Z' as u16).contains(&u) {
                u + 32
            } else {
                u
            }
        };
        self.units().map(lower).eq(s.encode_utf16().map(lower))
    }

    /// The index of the first NUL unit, if any.
    pub fn find_nul(&self) -> Option<usize> {
        self.units().position(|u| u == 0)
    }

    /// Sub-string by code-unit range. For the `Str` form the range must fall
    /// on character boundaries (it always does for the ASCII text the
    /// parsers slice); otherwise the result is empty.
    pub fn slice_units(&self, start: usize, end: usize) -> Utf16Str<'a> {
        match *self {
            Utf16Str::Wire(b) => {
                let end = end.min(b.len() / 2);
                let start = start.min(end);
                Utf16Str::Wire(&b[start * 2..end * 2])
            }
            Utf16Str::Str(s) => {
                let total = s.encode_utf16().count();
                let end = end.min(total);
                let start = start.min(end);
                let (mut units, mut bstart, mut bend) = (0usize, None, None);
                for (i, c) in s.char_indices() {
                    if units == start {
                        bstart = Some(i);
                    }
                    if units == end {
                        bend = Some(i);
                    }
                    units += c.len_utf16();
                }
                if units == start {
                    bstart = Some(s.len());
                }
                if units == end {
                    bend = Some(s.len());
                }
                match (bstart, bend) {
                    (Some(a), Some(b)) if a <= b => Utf16Str::Str(&s[a..b]),
                    _ => Utf16Str::EMPTY,
                }
            }
        }
    }

    /// Strips trailing NUL units (terminator and message padding).
    pub fn trim_trailing_nuls(&self) -> Utf16Str<'a> {
        match *self {
            Utf16Str::Wire(b) => {
                let mut n = b.len() / 2;
                while n > 0 && b[2 * n - 2] == 0 && b[2 * n - 1] == 0 {
                    n -= 1;
                }
                Utf16Str::Wire(&b[..2 * n])
            }
            Utf16Str::Str(s) => Utf16Str::Str(s.trim_end_matches('\0')),
        }
    }

    /// Copies the text as ASCII into `buf` (for handing to `core` parsers
    /// such as `Ipv6Addr::from_str`). Fails if a unit is not ASCII or the
    /// text does not fit.
    pub fn to_ascii<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let mut n = 0;
        for u in self.units() {
            if u >= 0x80 || n >= buf.len() {
                return None;
            }
            buf[n] = u as u8;
            n += 1;
        }
        core::str::from_utf8(&buf[..n]).ok()
    }

    /// Decodes into an owned `String` (lossy for unpaired surrogates).
    #[cfg(feature = "alloc")]
    pub fn to_string_lossy(&self) -> alloc::string::String {
        self.chars().collect()
    }
}

impl<'a> From<&'a str> for Utf16Str<'a> {
    fn from(s: &'a str) -> Self {
        Utf16Str::Str(s)
    }
}

impl PartialEq for Utf16Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.units().eq(other.units())
    }
}
impl Eq for Utf16Str<'_> {}

impl fmt::Debug for Utf16Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.chars() {
            for e in c.escape_debug() {
                fmt::Write::write_char(f, e)?;
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for Utf16Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// Iterator over the code units of a [`Utf16Str`].
#[derive(Clone)]
pub enum Units<'a> {
    /// Wire form.
    Wire(core::slice::ChunksExact<'a, u8>),
    /// Rust string form.
    Str(core::str::EncodeUtf16<'a>),
}

impl Iterator for Units<'_> {
    type Item = u16;
    #[inline]
    fn next(&mut self) -> Option<u16> {
        match self {
            // `chunks_exact(2)` yields two-byte chunks only.
            Units::Wire(c) => c.next().map(|p| u16::from_le_bytes([p[0], p[1]])),
            Units::Str(e) => e.next(),
        }
    }
}
