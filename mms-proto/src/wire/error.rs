//! Errors of the wire layer.

use core::fmt;

/// A wire-layer error: what was wrong with the bytes, named after the spec.
///
/// Small and `Copy` so it can travel through the machines without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the structure did.
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes that were there.
        got: usize,
    },
    /// A field holds a value the spec does not allow (or that contradicts
    /// another field).
    InvalidField {
        /// The field's name as the spec spells it (`chunkLen`, `seal`, ...).
        field: &'static str,
        /// What is wrong with it, lowercase, no trailing period.
        reason: &'static str,
    },
    /// A message identifier that [2.2.4] does not define.
    UnknownMessage(u32),
    /// A length field announces more than the configured bound allows.
    TooLong {
        /// Announced length in bytes.
        len: u64,
        /// The bound in force.
        max: u64,
    },
    /// The caller's output buffer cannot hold what is to be emitted.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidField`].
    pub const fn invalid(field: &'static str, reason: &'static str) -> Self {
        Error::InvalidField { field, reason }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { needed, got } => {
                write!(f, "truncated: needed {needed} bytes, got {got}")
            }
            Error::InvalidField { field, reason } => write!(f, "invalid {field}: {reason}"),
            Error::UnknownMessage(mid) => write!(f, "unknown message id {mid:#010x}"),
            Error::TooLong { len, max } => write!(f, "length {len} exceeds the bound of {max}"),
            Error::BufferTooSmall { needed, got } => {
                write!(
                    f,
                    "output buffer too small: needed {needed} bytes, got {got}"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

/// Result of wire-layer operations.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Returns `Truncated` unless `buf` holds at least `needed` bytes.
#[inline]
pub(crate) fn need(buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        Err(Error::Truncated {
            needed,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Returns `BufferTooSmall` unless `buf` holds at least `needed` bytes.
#[inline]
pub(crate) fn room(buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        Err(Error::BufferTooSmall {
            needed,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}
