//! Helpers shared by the messages that carry UTF-16 text.

use super::error::{need, room};
use super::{Error, Result, Utf16Str};

/// Text that runs to the end of the message: strips the terminator and the
/// zero padding after it.
pub(crate) fn tail_text<'a>(
    msg: &'a [u8],
    off: usize,
    field: &'static str,
) -> Result<Utf16Str<'a>> {
    need(msg, off)?;
    Ok(Utf16Str::from_wire(&msg[off..], field)?.trim_trailing_nuls())
}

/// Writes `text` and its NUL terminator at `off`; returns the bytes written.
/// `buf` is zeroed beforehand, so the terminator only needs room.
pub(crate) fn put_text_nul(buf: &mut [u8], off: usize, text: &Utf16Str<'_>) -> Result<usize> {
    let n = text.byte_len() + 2;
    room(buf, off + n)?;
    text.write_to(&mut buf[off..])?;
    buf[off + n - 2] = 0;
    buf[off + n - 1] = 0;
    Ok(n)
}

/// A string whose size is given in code units *including* its terminator
/// (ReportConnectedEX's `cb*` fields): 0 means the field is absent, 1 means
/// an empty string. Returns the text and the bytes consumed.
pub(crate) fn counted_text<'a>(
    bytes: &'a [u8],
    units_with_nul: u32,
    field: &'static str,
) -> Result<(Option<Utf16Str<'a>>, usize)> {
    if units_with_nul == 0 {
        return Ok((None, 0));
    }
    let len = units_with_nul as u64 * 2;
    if len > bytes.len() as u64 {
        return Err(Error::Truncated {
            needed: len.min(usize::MAX as u64) as usize,
            got: bytes.len(),
        });
    }
    let len = len as usize;
    if bytes[len - 2] != 0 || bytes[len - 1] != 0 {
        return Err(Error::invalid(field, "missing NUL terminator"));
    }
    Ok((Some(Utf16Str::Wire(&bytes[..len - 2])), len))
}

/// The `cb*` value for an optional string: units including the terminator.
pub(crate) fn counted_units(text: &Option<Utf16Str<'_>>, field: &'static str) -> Result<u32> {
    match text {
        None => Ok(0),
        Some(t) => {
            u32::try_from(t.len_units() + 1).map_err(|_| Error::invalid(field, "text too long"))
        }
    }
}
