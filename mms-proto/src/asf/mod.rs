//! ASF (Advanced Systems Format) for MMS: zero-copy views over the header
//! and data packets, the packet rewriter a server needs (padding, stream
//! filtering, thinning) and the re-padding a client needs, seeking, stream
//! selection and an incremental reader for live streams.
//!
//! Facts come from `asf-facts.md` (checked against real files) and the
//! spec's ASF rules ([2.2.2], [3.2.5.8.1], [3.2.5.10], [3.2.5.11.1]).
//! Everything here is `no_std` and allocation-free; errors are
//! [`crate::wire::Error`].

pub mod guid;
mod header;
mod live;
mod object;
mod packet;
mod rewrite;
mod seek;
mod select;
mod summary;

pub use header::*;
pub use live::*;
pub use object::*;
pub use packet::*;
pub use rewrite::*;
pub use seek::*;
pub use select::*;
pub use summary::*;
