//! TCP framing ([3.1.5.2], [3.2.5.1]): splitting a received byte stream into
//! TcpMessageHeader packets and Data packets, before anything is parsed.
//!
//! A unit whose bytes 4..8 are the sessionId `0xB00BFACE` is a
//! TcpMessageHeader packet ([3.1.5.2]: the client MUST treat it so);
//! anything else is a Data packet. Lengths come from messageLength
//! (`16 + messageLength` bytes in all) or PacketSize, and are checked
//! against [`Limits`] before a runtime reserves a byte for them.

use super::data::DATA_HEADER_LEN;
use super::field::u32_at;
use super::tcp::{SEAL, SESSION_ID, checked_total};
use super::{Error, Result};

/// Bounds applied while framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest TcpMessageHeader packet accepted, in bytes (default 64 KiB).
    /// Data packets are bounded by their 16-bit PacketSize.
    pub max_command_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_command_len: 64 * 1024,
        }
    }
}

/// The next unit in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A TcpMessageHeader packet of this many bytes.
    Command(usize),
    /// A Data packet of this many bytes.
    Data(usize),
}

impl Frame {
    /// The unit's length in bytes.
    pub const fn len(self) -> usize {
        match self {
            Frame::Command(n) | Frame::Data(n) => n,
        }
    }

    /// Always false: a unit is never empty. (For clippy's `len` rule.)
    pub const fn is_empty(self) -> bool {
        false
    }
}

/// Whether enough bytes have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The unit is complete at the start of the buffer.
    Complete(T),
    /// More bytes are needed: at least this many in total.
    Partial(usize),
}

/// Looks at the start of `buf` and says what the next unit is and how long
/// it is, or how many bytes are needed before that can be said.
pub fn frame(buf: &[u8], limits: &Limits) -> Result<Status<Frame>> {
    if buf.len() < 8 {
        return Ok(Status::Partial(8));
    }
    if u32_at(buf, 4) == SESSION_ID {
        if buf.len() < 16 {
            return Ok(Status::Partial(16));
        }
        if u32_at(buf, 12) != SEAL {
            return Err(Error::invalid("seal", "not 0x20534D4D"));
        }
        let total = checked_total(u32_at(buf, 8))?;
        if total > limits.max_command_len {
            return Err(Error::TooLong {
                len: total as u64,
                max: limits.max_command_len as u64,
            });
        }
        return Ok(if buf.len() >= total {
            Status::Complete(Frame::Command(total))
        } else {
            Status::Partial(total)
        });
    }
    let size = u16::from_le_bytes([buf[6], buf[7]]) as usize;
    if size < DATA_HEADER_LEN {
        return Err(Error::invalid(
            "PacketSize",
            "smaller than the Data packet header",
        ));
    }
    Ok(if buf.len() >= size {
        Status::Complete(Frame::Data(size))
    } else {
        Status::Partial(size)
    })
}

/// Splits `buf` into whole units, as a runtime's read loop would; stops at
/// the first partial unit and returns how many bytes were consumed. For
/// tests, benches and fuzzing; `f` sees each unit.
pub fn for_each_frame(
    buf: &[u8],
    limits: &Limits,
    mut f: impl FnMut(Frame, &[u8]),
) -> Result<usize> {
    let mut off = 0;
    loop {
        match frame(&buf[off..], limits)? {
            Status::Complete(fr) => {
                let n = fr.len();
                f(fr, &buf[off..off + n]);
                off += n;
            }
            Status::Partial(_) => return Ok(off),
        }
    }
}
