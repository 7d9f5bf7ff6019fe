//! ASF objects (asf-facts §2): a 24-byte header (GUID, size) and a walker
//! over sibling objects that goes by Object Size, never by a declared count.

use super::guid::Guid;
use crate::wire::field::view;
use crate::wire::{Error, Result};

/// Size of an object header.
pub const OBJECT_HEADER_LEN: usize = 16 /* Object ID */ + 8 /* Object Size */;

view! {
    /// The 24-byte header every ASF object starts with.
    pub struct ObjectHeader, fixed_len = OBJECT_HEADER_LEN;
    /// Object ID.
    guid / set_guid: Guid = 0;
    /// Object Size: the whole object, header included.
    size / set_size: u64 = 16;
}

/// One object found by [`Objects`]: its GUID and all its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    /// Object ID.
    pub guid: Guid,
    /// The whole object, header included (exactly Object Size bytes).
    pub bytes: &'a [u8],
}

/// Walks sibling objects in a region by their Object Size. Yields an error
/// (then stops) for a size below 24 or past the region.
#[derive(Debug, Clone)]
pub struct Objects<'a> {
    rest: &'a [u8],
}

impl<'a> Objects<'a> {
    /// Walks the objects that fill `region`.
    pub fn new(region: &'a [u8]) -> Self {
        Self { rest: region }
    }
}

impl<'a> Iterator for Objects<'a> {
    type Item = Result<Object<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = (|| {
            let h = ObjectHeader::new_checked(self.rest)?;
            let size = h.size();
            if size < OBJECT_HEADER_LEN as u64 {
                return Err(Error::invalid(
                    "Object Size",
                    "smaller than the object header",
                ));
            }
            if size > self.rest.len() as u64 {
                return Err(Error::invalid("Object Size", "runs past its parent"));
            }
            let (bytes, rest) = self.rest.split_at(size as usize);
            self.rest = rest;
            Ok(Object {
                guid: h.guid(),
                bytes,
            })
        })();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}
