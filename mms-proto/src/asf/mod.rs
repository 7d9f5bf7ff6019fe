//! ASF (Advanced Systems Format) for MMS: zero-copy views over the header
//! and data packets, the packet rewriter a server needs (padding, stream
//! filtering, thinning) and the re-padding a client needs, seeking, stream
//! selection and an incremental reader for live streams.
//!
//! Facts come from `asf-facts.md` (checked against real files) and the
//! spec's ASF rules ([2.2.2], [3.2.5.8.1], [3.2.5.10], [3.2.5.11.1]).
//! Everything here is `no_std` and allocation-free; errors are
//! [`crate::wire::Error`].

mod broadcast;
pub mod guid;
mod header;
mod index;
mod live;
mod object;
mod packet;
mod rewrite;
mod seek;
mod select;
mod summary;

pub use broadcast::{CleanStarts, make_live_header, same_streams, starts_object};
pub use header::{
    AudioFormat, Codec, DATA_OBJECT_PREFIX_LEN, DataObject, ExtendedStreamProperties,
    FLAG_BROADCAST, FLAG_SEEKABLE, FileProperties, HeaderExtension, HeaderObject, Index,
    SimpleIndex, StreamKind, StreamProperties, StreamSet, VideoFormat, languages, stream_bitrates,
};
pub use index::{
    DEFAULT_INDEX_INTERVAL, SIMPLE_INDEX_ENTRY_LEN, SIMPLE_INDEX_HEADER_LEN, SimpleIndexBuilder,
    SimpleIndexEntry, emit_simple_index_header, index_interval,
};
pub use live::{AsfReader, AsfUnit};
pub use object::{OBJECT_HEADER_LEN, Object, ObjectHeader, Objects};
pub use packet::{
    MULTIPLE_PAYLOADS, PacketInfo, Payload, Payloads, SubPayloads, VarField, type_width, validate,
    width_code,
};
pub use rewrite::{Padding, Rewritten, Selection, repad, rewrite};
pub use seek::{
    Direction, MemoryPackets, PacketSource, key_frame_from, packet_for_time, send_time,
    starts_key_frame,
};
pub use select::{Preferences, select_streams};
pub use summary::{
    Exclusion, ExclusionKind, HeaderSummary, MAX_EXCLUSION_RECORDS, MAX_EXCLUSIONS, MAX_STREAMS,
    StreamInfo,
};
