//! Content from a directory: paths from the wire resolve strictly inside
//! the root (DESIGN.md §7), ASF headers are parsed once per open, packets
//! are read with positioned reads.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use mms_proto::asf::{HeaderSummary, Objects, PacketSource, SimpleIndex, guid, packet_for_time};
use mms_proto::server::Media;

/// Why content could not be opened.
#[derive(Debug)]
pub enum ContentError {
    /// The path leaves the root, or is not a plain relative path.
    Forbidden,
    /// No such file.
    NotFound,
    /// The file is not ASF we can serve.
    Invalid(String),
}

/// A directory of `.asf/.wma/.wmv` files.
#[derive(Debug, Clone)]
pub struct ContentRoot {
    root: PathBuf,
}

impl ContentRoot {
    /// Serves `root` (canonicalized).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
        })
    }

    /// The directory served.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Resolves a fileName from the wire inside the root: relative, no
    /// `..`, no `\`, no NUL, no drive letter, and no symlink out of the
    /// root.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, ContentError> {
        let name = name.trim_start_matches('/');
        if name.is_empty() || name.contains(['\\', '\0']) || name.contains(':') {
            return Err(ContentError::Forbidden);
        }
        let rel = Path::new(name);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(ContentError::Forbidden);
        }
        let full = self
            .root
            .join(rel)
            .canonicalize()
            .map_err(|_| ContentError::NotFound)?;
        if !full.starts_with(&self.root) {
            return Err(ContentError::Forbidden);
        }
        Ok(full)
    }

    /// Opens `name`: resolves it and parses its ASF header.
    pub fn open(&self, name: &str) -> Result<Content, ContentError> {
        let path = self.resolve(name)?;
        let file = File::open(&path).map_err(|_| ContentError::NotFound)?;
        let len = file
            .metadata()
            .map_err(|e| ContentError::Invalid(e.to_string()))?
            .len();
        // Headers are small; 1 MiB bounds what a hostile file can make us read.
        let mut head = vec![0u8; len.min(1 << 20) as usize];
        file.read_exact_at(&mut head, 0)
            .map_err(|e| ContentError::Invalid(e.to_string()))?;
        let summary =
            HeaderSummary::parse(&head).map_err(|e| ContentError::Invalid(e.to_string()))?;
        let header_len = summary.file_header_len();
        if head.len() < header_len {
            return Err(ContentError::Invalid("header longer than the file".into()));
        }
        let preroll_ms = summary.preroll_ms;
        let mut media = Media::from_summary(&summary);
        // Count what the file holds (a growing or truncated file).
        let available = (len.saturating_sub(header_len as u64)) / summary.packet_size as u64;
        if media.packet_count == 0 || media.packet_count > available {
            media.packet_count = available;
        }
        head.truncate(header_len);
        // The Simple Index sits after the data (asf-facts §7.1); read at most
        // 1 MiB of what follows to find it.
        let data_end = header_len as u64 + media.packet_count * media.packet_size as u64;
        let mut tail = vec![0u8; len.saturating_sub(data_end).min(1 << 20) as usize];
        let simple_index = if !tail.is_empty() && file.read_exact_at(&mut tail, data_end).is_ok() {
            Objects::new(&tail)
                .map_while(Result::ok)
                .find(|o| o.guid == guid::SIMPLE_INDEX && SimpleIndex::check(o.bytes).is_ok())
                .map(|o| o.bytes.to_vec())
        } else {
            None
        };
        Ok(Content {
            file,
            header: head,
            media,
            path,
            preroll_ms,
            simple_index,
        })
    }
}

/// An opened file.
#[derive(Debug)]
pub struct Content {
    file: File,
    /// The ASF file header (Header Object + 50-byte Data Object prefix).
    pub header: Vec<u8>,
    /// What ReportOpenFile needs.
    pub media: Media,
    /// Where it is.
    pub path: PathBuf,
    /// File Properties Preroll, ms.
    preroll_ms: u64,
    /// The Simple Index object, if the file has one.
    simple_index: Option<Vec<u8>>,
}

/// The file's packets as an [`asf::PacketSource`](PacketSource).
struct FilePackets<'a>(&'a Content);

impl PacketSource for FilePackets<'_> {
    fn packet_count(&self) -> u64 {
        self.0.media.packet_count
    }
    fn read_packet(&mut self, n: u64, buf: &mut [u8]) -> mms_proto::wire::Result<usize> {
        let p = self.0.media.packet_size as usize;
        let got = buf.len();
        let dst = buf
            .get_mut(..p)
            .ok_or(mms_proto::wire::Error::BufferTooSmall { needed: p, got })?;
        self.0
            .file
            .read_exact_at(dst, self.0.header.len() as u64 + n * p as u64)
            .map_err(|_| mms_proto::wire::Error::invalid("packet", "unreadable"))?;
        Ok(p)
    }
}

impl Content {
    /// The packet to start at for content time `ms` ([3.2.5.11]): through
    /// the Simple Index, else a search over the packets' Send Times.
    pub fn packet_for_time(&self, ms: u64) -> u64 {
        let index = self
            .simple_index
            .as_deref()
            .and_then(|b| SimpleIndex::check(b).ok());
        let mut buf = vec![0u8; self.media.packet_size as usize];
        packet_for_time(
            &mut FilePackets(self),
            index.as_ref(),
            self.preroll_ms,
            ms,
            &mut buf,
        )
        .unwrap_or(0)
    }

    /// Reads packet `n` into `buf` (resized to the packet size).
    pub fn read_packet(&self, n: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
        let p = self.media.packet_size as usize;
        buf.resize(p, 0);
        self.file
            .read_exact_at(buf, self.header.len() as u64 + n * p as u64)
    }
}
