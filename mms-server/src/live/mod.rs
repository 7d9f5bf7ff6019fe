//! Live broadcast: publishing points (`[[live]]`), each fed by one source
//! and fanned out to every listener.

pub(crate) mod relay;
pub mod settings;
pub(crate) mod source;

pub use settings::{LiveSettings, SourceKind, Start};
