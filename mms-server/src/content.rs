//! Content from a directory: paths from the wire resolve strictly inside
//! the root (DESIGN.md §7), ASF headers and indexes are parsed once and
//! cached (until the file changes), packets are read with positioned reads.
//!
//! Two file layouts are served: plain ASF (packets back to back after the
//! header) and MMSH-chunked ASF (`$H`/`$D` chunks, what `ffmpeg -f
//! asf_stream` or a saved HTTP stream holds), whose packets are found once
//! by walking the chunks.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mms_proto::asf::{
    AsfReader, AsfUnit, HeaderSummary, Objects, PacketSource, SimpleIndex, guid, packet_for_time,
};
use mms_proto::server::Media;
use mms_proto::wire::Status;

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

impl std::fmt::Display for ContentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forbidden => f.write_str("outside the content root"),
            Self::NotFound => f.write_str("no such file"),
            Self::Invalid(why) => write!(f, "not servable ASF: {why}"),
        }
    }
}

/// Entries a playlist may hold.
pub const MAX_PLAYLIST_ENTRIES: usize = 1000;

/// True for a server-side playlist's name (`.m3u`, `.m3u8`).
pub fn is_playlist(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".m3u") || lower.ends_with(".m3u8")
}

/// Headers are small; this bounds what a hostile file can make us read.
const MAX_HEADER: u64 = 1 << 20;
/// Parsed files kept in the cache (the oldest entry goes first).
const CACHE_ENTRIES: usize = 256;

/// A directory of `.asf/.wma/.wmv` files (and playlists).
#[derive(Debug, Clone)]
pub struct ContentRoot {
    root: PathBuf,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<PathBuf, (Stamp, Arc<Parsed>)>,
    order: std::collections::VecDeque<PathBuf>,
}

/// What identifies a file's version: length and modification time.
type Stamp = (u64, Option<SystemTime>);

/// Where a file's packets are.
#[derive(Debug)]
enum Layout {
    /// Back to back after the header.
    Plain { data_start: u64 },
    /// One per `$D` chunk: (offset, length) of each packet's bytes.
    Chunked { packets: Vec<(u64, u32)> },
}

/// What is parsed once per file version, and the one open file it was
/// parsed from: every session of this version reads its packets through
/// it with `pread` (no seek position is shared), so a thousand listeners
/// of one file cost one descriptor, not a thousand.
#[derive(Debug)]
struct Parsed {
    file: File,
    /// The file's length.
    len: u64,
    header: Vec<u8>,
    media: Media,
    preroll_ms: u64,
    simple_index: Option<Vec<u8>>,
    layout: Layout,
}

impl ContentRoot {
    /// Serves `root` (canonicalized).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            cache: Arc::default(),
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

    /// Opens `name`: resolves it and parses its ASF header (or takes it
    /// from the cache).
    pub fn open(&self, name: &str) -> Result<Content, ContentError> {
        self.open_path(self.resolve(name)?)
    }

    /// The entries of the playlist `name` ([`is_playlist`]): a UTF-8 text
    /// file, one media path per line, relative to the playlist's folder;
    /// blank lines and lines starting with `#` are skipped. Every entry
    /// resolves inside the root by the same rules as a path from the wire;
    /// entries that do not are skipped (and logged). No nested playlists,
    /// no URLs, at most [`MAX_PLAYLIST_ENTRIES`].
    pub fn playlist(&self, name: &str) -> Result<Vec<PathBuf>, ContentError> {
        let path = self.resolve(name)?;
        let meta = std::fs::metadata(&path).map_err(|_| ContentError::NotFound)?;
        if meta.len() > MAX_HEADER {
            return Err(invalid("playlist larger than 1 MiB"));
        }
        let text = std::fs::read_to_string(&path).map_err(invalid)?;
        let base = path
            .parent()
            .and_then(|p| p.strip_prefix(&self.root).ok())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut entries = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if entries.len() == MAX_PLAYLIST_ENTRIES {
                return Err(invalid("more than 1000 playlist entries"));
            }
            let rel = base.join(line);
            match rel.to_str().map(|r| self.resolve(r)) {
                Some(Ok(p)) if !is_playlist(line) => entries.push(p),
                _ => tracing::warn!(playlist = name, entry = line, "playlist entry skipped"),
            }
        }
        if entries.is_empty() {
            return Err(invalid("a playlist without a servable entry"));
        }
        Ok(entries)
    }

    /// Opens a resolved path (a playlist entry).
    pub fn open_path(&self, path: PathBuf) -> Result<Content, ContentError> {
        // The version is looked up without opening the file: a cached one
        // is served through the descriptor it was parsed from.
        let meta = std::fs::metadata(&path).map_err(|_| ContentError::NotFound)?;
        if !meta.is_file() {
            return Err(ContentError::NotFound);
        }
        let stamp = (meta.len(), meta.modified().ok());
        let cached = {
            // A poisoned lock only means another thread panicked mid-insert;
            // the map itself is still consistent.
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .entries
                .get(&path)
                .filter(|(s, _)| *s == stamp)
                .map(|(_, p)| p.clone())
        };
        let parsed = match cached {
            Some(p) => p,
            None => {
                let file = File::open(&path).map_err(|_| ContentError::NotFound)?;
                let p = Arc::new(parse_file(file, meta.len())?);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache
                    .entries
                    .insert(path.clone(), (stamp, p.clone()))
                    .is_none()
                {
                    cache.order.push_back(path.clone());
                }
                while cache.order.len() > CACHE_ENTRIES {
                    if let Some(old) = cache.order.pop_front() {
                        cache.entries.remove(&old);
                    }
                }
                p
            }
        };
        Ok(Content { parsed, path })
    }
}

fn invalid(e: impl std::fmt::Display) -> ContentError {
    ContentError::Invalid(e.to_string())
}

/// Parses a file and notes its first packet's Send Time (content time 0
/// for a frameOffset stop).
fn parse_file(file: File, len: u64) -> Result<Parsed, ContentError> {
    let mut parsed = parse(file, len)?;
    let mut first = vec![0u8; parsed.media.packet_size as usize];
    if parsed.media.packet_count > 0 && read_at(&parsed.file, &parsed.layout, 0, &mut first).is_ok()
    {
        if let Ok(info) = mms_proto::asf::PacketInfo::parse(&first) {
            parsed.media.send_time_origin = info.send_time;
        }
    }
    Ok(parsed)
}

/// Reads packet `n` into `dst` (the packet size long); a chunk that
/// carried the packet without its padding is zero-filled, as an MMSH
/// client does.
fn read_at(file: &File, layout: &Layout, n: u64, dst: &mut [u8]) -> std::io::Result<()> {
    match layout {
        Layout::Plain { data_start } => file.read_exact_at(dst, data_start + n * dst.len() as u64),
        Layout::Chunked { packets } => {
            let &(at, len) = usize::try_from(n)
                .ok()
                .and_then(|i| packets.get(i))
                .ok_or_else(|| std::io::Error::other("no such packet"))?;
            let (data, fill) = dst.split_at_mut(len as usize);
            fill.fill(0);
            file.read_exact_at(data, at)
        }
    }
}

/// Parses a file's header, finds its packets and its Simple Index.
fn parse(file: File, len: u64) -> Result<Parsed, ContentError> {
    let mut head = vec![0u8; len.min(MAX_HEADER) as usize];
    file.read_exact_at(&mut head, 0).map_err(invalid)?;
    if head.first() == Some(&b'$') {
        return parse_chunked(file, len, head);
    }
    let summary = HeaderSummary::parse(&head).map_err(invalid)?;
    let header_len = summary.file_header_len();
    if head.len() < header_len {
        return Err(invalid("header longer than the file"));
    }
    let preroll_ms = summary.preroll_ms;
    let mut media = Media::from_summary(&summary);
    // Count what the file holds (a growing or truncated file).
    let available = (len.saturating_sub(header_len as u64)) / u64::from(summary.packet_size);
    if media.packet_count == 0 || media.packet_count > available {
        media.packet_count = available;
    }
    head.truncate(header_len);
    // The Simple Index sits after the data (asf-facts §7.1); read at most
    // 1 MiB of what follows to find it.
    let data_end = header_len as u64 + media.packet_count * u64::from(media.packet_size);
    let mut tail = vec![0u8; len.saturating_sub(data_end).min(MAX_HEADER) as usize];
    let simple_index = if !tail.is_empty() && file.read_exact_at(&mut tail, data_end).is_ok() {
        find_simple_index(&tail)
    } else {
        None
    };
    Ok(Parsed {
        file,
        len,
        header: head,
        media,
        preroll_ms,
        simple_index,
        layout: Layout::Plain {
            data_start: header_len as u64,
        },
    })
}

fn find_simple_index(bytes: &[u8]) -> Option<Vec<u8>> {
    Objects::new(bytes)
        .map_while(Result::ok)
        .find(|o| o.guid == guid::SIMPLE_INDEX && SimpleIndex::check(o.bytes).is_ok())
        .map(|o| o.bytes.to_vec())
}

/// An MMSH-chunked file: the `$H` chunk's header, then one packet per `$D`
/// chunk, walked with [`AsfReader`] through a window of the file.
fn parse_chunked(file: File, len: u64, head: Vec<u8>) -> Result<Parsed, ContentError> {
    let mut reader = AsfReader::new(MAX_HEADER as usize);
    let mut window = head;
    let mut window_at = 0u64;
    let mut used = 0usize;
    let mut header = None;
    let mut packets = Vec::new();
    let mut tail_at = None;
    loop {
        match reader.next(&window[used..]).map_err(invalid)? {
            Status::Complete(AsfUnit::Header { len: n, start, .. }) => {
                header = Some(window[used + start..used + n].to_vec());
                used += n;
            }
            Status::Complete(AsfUnit::Packet { len: n, start, .. }) => {
                let at = window_at + (used + start) as u64;
                // A chunk is at most 64 KiB, so its length fits.
                packets.push((at, (n - start) as u32));
                used += n;
            }
            Status::Complete(AsfUnit::End) => {
                tail_at = Some(window_at + used as u64);
                break;
            }
            Status::Partial(_) => {
                let at = window_at + used as u64;
                if at >= len {
                    break;
                }
                // Slide the window: the next 1 MiB from the unit's start.
                let mut next = vec![0u8; (len - at).min(MAX_HEADER) as usize];
                file.read_exact_at(&mut next, at).map_err(invalid)?;
                if next.len() <= window.len() - used {
                    // No more bytes than before: a truncated last chunk.
                    break;
                }
                window = next;
                window_at = at;
                used = 0;
            }
        }
    }
    let header = header.ok_or_else(|| invalid("no $H chunk"))?;
    let summary = HeaderSummary::parse(&header).map_err(invalid)?;
    let mut media = Media::from_summary(&summary);
    media.packet_count = packets.len() as u64;
    if packets.iter().any(|&(_, n)| n > summary.packet_size) {
        return Err(invalid("a $D chunk larger than the packet size"));
    }
    let simple_index = tail_at.and_then(|at| {
        let mut tail = vec![0u8; len.saturating_sub(at).min(MAX_HEADER) as usize];
        file.read_exact_at(&mut tail, at).ok()?;
        // After the data: `$E` chunks, or the index objects inside chunks.
        (0..tail.len().min(64)).find_map(|skip| find_simple_index(&tail[skip..]))
    });
    Ok(Parsed {
        file,
        len,
        preroll_ms: summary.preroll_ms,
        header: header[..summary.file_header_len().min(header.len())].to_vec(),
        media,
        simple_index,
        layout: Layout::Chunked { packets },
    })
}

/// An opened file.
#[derive(Debug)]
pub struct Content {
    parsed: Arc<Parsed>,
    /// Where it is.
    pub path: PathBuf,
}

/// The file's packets as an [`asf::PacketSource`](PacketSource).
struct FilePackets<'a>(&'a Content);

impl PacketSource for FilePackets<'_> {
    fn packet_count(&self) -> u64 {
        self.0.parsed.media.packet_count
    }
    fn read_packet(&mut self, n: u64, buf: &mut [u8]) -> mms_proto::wire::Result<usize> {
        let p = self.0.parsed.media.packet_size as usize;
        let got = buf.len();
        let dst = buf
            .get_mut(..p)
            .ok_or(mms_proto::wire::Error::BufferTooSmall { needed: p, got })?;
        self.0
            .read_into(n, dst)
            .map_err(|_| mms_proto::wire::Error::invalid("packet", "unreadable"))?;
        Ok(p)
    }
}

impl Content {
    /// The ASF file header (Header Object + 50-byte Data Object prefix).
    pub fn header(&self) -> &[u8] {
        &self.parsed.header
    }

    /// What ReportOpenFile needs (and the first packet's Send Time).
    pub fn media(&self) -> Media {
        self.parsed.media
    }

    /// The file's length in bytes (for the access log).
    pub fn file_len(&self) -> u64 {
        self.parsed.len
    }

    /// The packet to start at for content time `ms` ([3.2.5.11]): through
    /// the Simple Index, else a search over the packets' Send Times.
    pub fn packet_for_time(&self, ms: u64) -> u64 {
        let index = self
            .parsed
            .simple_index
            .as_deref()
            .and_then(|b| SimpleIndex::check(b).ok());
        let mut buf = vec![0u8; self.parsed.media.packet_size as usize];
        packet_for_time(
            &mut FilePackets(self),
            index.as_ref(),
            self.parsed.preroll_ms,
            ms,
            &mut buf,
        )
        .unwrap_or(0)
    }

    /// Reads packet `n` into `buf` (resized to the packet size).
    pub fn read_packet(&self, n: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.resize(self.parsed.media.packet_size as usize, 0);
        self.read_into(n, buf)
    }

    /// Reads packet `n` into `dst` (the packet size long).
    fn read_into(&self, n: u64, dst: &mut [u8]) -> std::io::Result<()> {
        read_at(&self.parsed.file, &self.parsed.layout, n, dst)
    }
}
