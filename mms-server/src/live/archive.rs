//! `archive = "DIR"`: each run of a publishing point written to a file of
//! its own, as Windows Media Services' archive plug-in did — a valid,
//! seekable ASF file that the server can serve later like any other.
//!
//! The writing is mms-client's [`AsfWriter`] (what `mms dump` writes
//! with): packets re-padded to the packet size, and at the end the File
//! Properties and Data Object counts, sizes and durations patched to what
//! the file holds, the Broadcast flag cleared and Seekable set
//! (asf-facts §2.2, §3, §9), and a Simple Index per video stream appended
//! (§7.1). An audio-only run gets no index, as FFmpeg writes none: audio
//! payloads are all cleanpoints and the file seeks by a search over Send
//! Times (what [`crate::content::Content::packet_for_time`] does without
//! one).
//!
//! A full disk does not lose the run: [`Archive::packet`] returns the
//! error (the point stops archiving that run and goes on streaming) and
//! [`Archive::finish`] cuts the file to the whole packets on disk and
//! patches the header for them. An archive dropped unfinished is finished
//! then.

// Until the point writes its runs here (the live integration): remove
// this then, so dead code shows again.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mms_client::{AsfWriter, Finished};
use mms_proto::asf::{DATA_OBJECT_PREFIX_LEN, HeaderSummary};

/// Longest point name kept in a file name (bytes, after the unsafe
/// characters are replaced): with the time and a suffix it stays well
/// under the 255 bytes a file name may have.
const MAX_NAME: usize = 200;

/// Names tried for one run (`NAME.asf`, `NAME-1.asf`, …) before giving up.
const MAX_TRIES: u32 = 1000;

/// One run of a point being written to `DIR/{point}-{UTC time}.asf`.
pub(crate) struct Archive {
    /// `None` once finished.
    writer: Option<AsfWriter<File>>,
    path: PathBuf,
}

impl Archive {
    /// A new file `DIR/{point}-{UTC yyyymmddThhmmssZ}.asf` (see
    /// [`archive_name`]) for a run starting with `header` (the source's
    /// ASF file header: Header Object and the 50-byte Data Object prefix;
    /// a live one, with the Broadcast flag and zero counts). `DIR` is
    /// created if missing; an existing file is never overwritten (a name
    /// taken gets `-1`, `-2`, …).
    pub(crate) fn create(dir: &Path, point: &str, header: &[u8]) -> io::Result<Archive> {
        Self::create_at(dir, point, header, SystemTime::now())
    }

    /// [`Archive::create`] for a run that started at `started`.
    fn create_at(
        dir: &Path,
        point: &str,
        header: &[u8],
        started: SystemTime,
    ) -> io::Result<Archive> {
        // Checked before a file exists: a header that is not ASF leaves
        // nothing behind.
        let summary = HeaderSummary::parse(header)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let header_len = summary.header_object_len() + DATA_OBJECT_PREFIX_LEN;
        let header = header.get(..header_len).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the header lacks the Data Object prefix",
            )
        })?;
        std::fs::create_dir_all(dir)?;
        let (file, path) = create_new(dir, &archive_name(point, started))?;
        match AsfWriter::new(file, header) {
            Ok(writer) => {
                tracing::info!(point, path = %path.display(), "archiving the run");
                Ok(Archive {
                    writer: Some(writer),
                    path,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// The file being written.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one data packet as the source gave it: the packet size, or
    /// fewer bytes (zero-padded to the packet size, its Padding Length
    /// fixed). An [`io::ErrorKind::InvalidData`] error (a packet that does
    /// not parse) leaves the archive as it was and it may go on; any other
    /// error is the disk's, and the archive takes no more packets — stop
    /// archiving the run and [`finish`](Archive::finish) it.
    pub(crate) fn packet(&mut self, packet: &[u8]) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.write_packet(packet),
            None => Err(io::Error::other("the archive is finished")),
        }
    }

    /// Ends the run: the header patched to the packets the file holds
    /// (File Size, Data Packets Count, Play and Send Duration from the
    /// packets' Send Times and the preroll, Data Object size and Total
    /// Data Packets; Broadcast cleared, Seekable set) and the Simple Index
    /// appended. After a failed write the file is cut to the whole packets
    /// that reached it first. Returns the file's path.
    pub(crate) fn finish(mut self) -> io::Result<PathBuf> {
        match self.writer.take() {
            Some(w) => close(w, &self.path)?,
            None => return Err(io::Error::other("the archive is finished")),
        };
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Archive {
    /// An archive left unfinished (its point's thread ended some other
    /// way) is finished here, so the file is still seekable.
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            if let Err(e) = close(w, &self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "archive not finished");
            }
        }
    }
}

/// Finishes `w` (the file at `path`) and flushes it to the disk.
fn close(w: AsfWriter<File>, path: &Path) -> io::Result<Finished> {
    let (done, file) = w.finish()?;
    file.sync_all()?;
    if done.lost > 0 {
        tracing::warn!(
            path = %path.display(),
            packets = done.packets,
            lost = done.lost,
            "archive finished without the packets a failed write lost"
        );
    } else {
        tracing::info!(
            path = %path.display(),
            packets = done.packets,
            indexes = done.indexes,
            "archive finished"
        );
    }
    Ok(done)
}

/// Creates `dir/name`, or the first of `name-1`, `name-2`, … (before the
/// `.asf`) not taken; never opens an existing file.
fn create_new(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let stem = name.strip_suffix(".asf").unwrap_or(name);
    for n in 0..MAX_TRIES {
        let path = match n {
            0 => dir.join(name),
            n => dir.join(format!("{stem}-{n}.asf")),
        };
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_TRIES} archive names taken for {name}"),
    ))
}

/// The file name of a run of `point` started at `started`:
/// `{point}-{UTC yyyymmddThhmmssZ}.asf`. Characters other than ASCII
/// letters, digits, `-`, `_` and `.` (a `/` of a nested point's name
/// too) become `_`, as does a leading `.`; the name is cut to 200 bytes.
pub(crate) fn archive_name(point: &str, started: SystemTime) -> String {
    let mut name: String = point
        .trim_start_matches('/')
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(MAX_NAME)
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    // RFC 3339 in UTC (`2023-11-14T22:13:20Z`), in its basic form.
    let time: String = humantime::format_rfc3339_seconds(started)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{name}-{time}.asf")
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, UNIX_EPOCH};

    use mms_proto::asf::{
        DataObject, FLAG_BROADCAST, FileProperties, HeaderObject, Objects, PacketInfo, Padding,
        Rewritten, Selection, guid, repad, rewrite,
    };
    use mms_proto::wire::{FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK};

    use super::*;
    use crate::content::ContentRoot;

    /// An empty folder of this test's own.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mms-archive-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn testdata() -> ContentRoot {
        ContentRoot::new(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata"
        )))
        .unwrap()
    }

    /// `header` as a live source sends it (asf-facts §9, FFmpeg's values):
    /// Broadcast set (Seekable clear), File Size and counts 0, Play
    /// Duration the preroll only, Send Duration 0, Data Object size 50.
    fn live_header(header: &[u8]) -> Vec<u8> {
        let mut live = header.to_vec();
        let (fp_at, data_at) = {
            let h = HeaderObject::check(header).unwrap();
            let fp = h
                .children()
                .map(Result::unwrap)
                .find(|o| o.guid == guid::FILE_PROPERTIES)
                .unwrap();
            (
                fp.bytes.as_ptr() as usize - header.as_ptr() as usize,
                h.into_inner().len(),
            )
        };
        let mut fp = FileProperties::new_checked(&mut live[fp_at..]).unwrap();
        fp.set_flags(FLAG_BROADCAST);
        fp.set_file_size(0);
        fp.set_data_packets_count(0);
        fp.set_play_duration(fp.preroll() * 10_000);
        fp.set_send_duration(0);
        let mut d = DataObject::new_checked(&mut live[data_at..]).unwrap();
        d.set_size(DATA_OBJECT_PREFIX_LEN as u64);
        d.set_total_data_packets(0);
        live
    }

    /// Packet `n` of a source with its padding removed, as a server sends
    /// it to a client that reads the transport length ([2.2.2]).
    fn stripped(packet: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; packet.len()];
        let n = match rewrite(
            packet,
            packet.len(),
            &Selection::EVERYTHING,
            Padding::StripMsWmsp,
            &mut out,
        )
        .unwrap()
        {
            Rewritten::Packet(n) => n,
            Rewritten::Skip => unreachable!("every payload is kept"),
        };
        out.truncate(n);
        out
    }

    /// `ffmpeg -v error -i FILE -f null -`: what it printed, if anything,
    /// or its failure.
    fn ffmpeg_decode(file: &Path) -> Result<(), String> {
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(file)
            .args(["-f", "null", "-"])
            .output()
            .unwrap_or_else(|e| {
                panic!("ffmpeg is needed for this test ({e}): run `cargo xtask deps`")
            });
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        match (out.status.success(), said.trim().is_empty()) {
            (true, true) => Ok(()),
            _ => Err(format!("{}: {said}", out.status)),
        }
    }

    /// One run of `name` (made live) through an archive, some packets
    /// without their padding; the file must serve as a seekable file of
    /// the packets fed, decode cleanly and last as long.
    fn archive_run(name: &str) {
        let src = testdata().open(name).unwrap();
        let media = src.media();
        let p = media.packet_size as usize;
        let header = live_header(src.header());
        let mut fed = Vec::new();
        let mut buf = Vec::new();
        for n in 0..media.packet_count {
            src.read_packet(n, &mut buf).unwrap();
            fed.push(buf.clone());
        }
        assert!(fed.len() > 3, "{name}: a few packets at least");

        let dir = scratch(&format!("run-{name}"));
        let mut a = Archive::create(&dir, "live/radio", &header).unwrap();
        // Of the packets with padding, every other one is fed without it:
        // the file holds it re-padded (as the source had it, but for a
        // Packet Length that GStreamer sets to the packet without its
        // padding and the re-padding to the packet size).
        let (mut padded, mut short) = (0, 0);
        for packet in &mut fed {
            let s = stripped(packet);
            if s.len() < p {
                padded += 1;
                if padded % 2 == 1 {
                    short += 1;
                    a.packet(&s).unwrap();
                    let mut whole = vec![0u8; p];
                    assert_eq!(repad(&s, p, &mut whole).unwrap(), p);
                    if name.starts_with("ff_") {
                        assert_eq!(whole, *packet, "{name}: re-padded as it was");
                    }
                    *packet = whole;
                    continue;
                }
            }
            a.packet(packet).unwrap();
        }
        assert!(short > 0, "{name}: some packets were fed short");
        let path = a.finish().unwrap();
        assert_eq!(path.parent(), Some(dir.as_path()));
        let file_name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            file_name.starts_with("live_radio-") && file_name.ends_with("Z.asf"),
            "{file_name}"
        );

        // Served as a finished, seekable file of the packets fed.
        let root = ContentRoot::new(&dir).unwrap();
        let got = root.open_path(path.canonicalize().unwrap()).unwrap();
        let m = got.media();
        assert_ne!(m.attributes & FILE_ATTRIBUTE_MMS_CANSEEK, 0, "{name}");
        assert_eq!(m.attributes & FILE_ATTRIBUTE_MMS_BROADCAST, 0, "{name}");
        assert_eq!(m.packet_count, fed.len() as u64, "{name}");
        for (n, packet) in fed.iter().enumerate() {
            got.read_packet(n as u64, &mut buf).unwrap();
            assert!(buf == *packet, "{name}: packet {n} differs");
        }
        let bytes = std::fs::read(&path).unwrap();
        let s = HeaderSummary::parse(&bytes).unwrap();
        assert!(s.is_seekable() && !s.is_broadcast(), "{name}");
        assert_eq!(s.packet_count, fed.len() as u64, "{name}");
        assert_eq!(s.file_size, bytes.len() as u64, "{name}");
        let data = DataObject::new_checked(&bytes[s.header_object_len()..]).unwrap();
        assert_eq!(data.total_data_packets(), fed.len() as u64, "{name}");
        assert_eq!(
            data.size(),
            (DATA_OBJECT_PREFIX_LEN + fed.len() * p) as u64,
            "{name}"
        );
        // Send Duration is the span of the packets' Send Times.
        let first = PacketInfo::parse(&fed[0]).unwrap().send_time;
        let end = fed
            .iter()
            .map(|p| {
                let i = PacketInfo::parse(p).unwrap();
                i.send_time + u32::from(i.duration)
            })
            .max()
            .unwrap();
        assert_eq!(s.send_duration, u64::from(end - first) * 10_000, "{name}");
        // That is as long as the source, to a frame or so (its duration
        // counts the last frame's presentation), where its Send Times are
        // sane: GStreamer's asfmux (gst_av.wmv) jumps from 2.2 s to 1000
        // hours at packet 3, and the archive says what they say.
        let (want, have) = (src.media().duration_ms, m.duration_ms);
        if name == "ff_live.asf" {
            assert!(have > 2000, "{name}: {have} ms");
        } else if name != "gst_av.wmv" {
            assert!(want.abs_diff(have) < 150, "{name}: {have} ms for {want} ms");
        }
        assert_eq!(
            s.send_duration / 10_000 + s.preroll_ms,
            s.play_duration / 10_000
        );

        // A Simple Index after the data for a file with video, and seeks.
        let tail = &bytes[s.file_header_len() + fed.len() * p..];
        let indexes = Objects::new(tail)
            .map(Result::unwrap)
            .filter(|o| o.guid == guid::SIMPLE_INDEX)
            .count();
        let video = s
            .streams
            .iter()
            .filter(|st| st.kind == mms_proto::asf::StreamKind::Video)
            .count();
        assert_eq!(indexes, video, "{name}: one Simple Index per video stream");
        // The last key frame (video) or packet (audio) is found.
        assert!(got.packet_for_time(have) > 0, "{name}: seeks");

        ffmpeg_decode(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_ffmpeg_live_pipe_run_becomes_a_seekable_file() {
        archive_run("ff_live.asf");
    }

    #[test]
    fn a_video_run_becomes_a_seekable_indexed_file() {
        archive_run("ff_av.wmv");
        archive_run("gst_av.wmv");
    }

    #[test]
    fn an_audio_run_becomes_a_seekable_file() {
        archive_run("ff_audio.wma");
    }

    #[test]
    fn short_packets_are_padded_to_the_packet_size() {
        let src = testdata().open("ff_small_packets.asf").unwrap();
        let p = src.media().packet_size as usize;
        // Every packet that had padding is fed without it.
        let mut packet = Vec::new();
        let mut fed = Vec::new();
        for n in 0..src.media().packet_count {
            src.read_packet(n, &mut packet).unwrap();
            fed.push((stripped(&packet), packet.clone()));
        }
        let short = fed.iter().filter(|(s, _)| s.len() < p).count();
        assert!(short > 3, "the file has packets with padding");
        let dir = scratch("short");
        let mut a = Archive::create(&dir, "short", &live_header(src.header())).unwrap();
        for (s, _) in &fed {
            a.packet(s).unwrap();
        }
        let path = a.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let start = src.header().len();
        let held: Vec<&[u8]> = bytes[start..start + fed.len() * p].chunks(p).collect();
        for (i, (s, whole)) in fed.iter().enumerate() {
            assert_eq!(
                held[i],
                whole.as_slice(),
                "packet {i} ({} bytes fed)",
                s.len()
            );
        }
        ffmpeg_decode(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_name_taken_gets_a_number() {
        let src = testdata().open("ff_av.wmv").unwrap();
        let header = live_header(src.header());
        let dir = scratch("taken").join("nested");
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let names: Vec<String> = (0..3)
            .map(|_| {
                let a = Archive::create_at(&dir, "radio", &header, at).unwrap();
                let path = a.finish().unwrap();
                path.file_name().unwrap().to_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "radio-20231114T221320Z.asf",
                "radio-20231114T221320Z-1.asf",
                "radio-20231114T221320Z-2.asf"
            ]
        );
        // A run of no packets is a valid (empty) file too.
        let first = std::fs::read(dir.join(&names[0])).unwrap();
        let empty = HeaderSummary::parse(&first).unwrap();
        assert_eq!((empty.packet_count, empty.is_broadcast()), (0, false));
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn names_are_safe_and_utc() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(archive_name("radio", at), "radio-20231114T221320Z.asf");
        assert_eq!(
            archive_name("/shows/evening news?", at),
            "shows_evening_news_-20231114T221320Z.asf"
        );
        assert_eq!(archive_name(".hidden", at), "_.hidden-20231114T221320Z.asf");
        assert_eq!(archive_name("é", at), "_-20231114T221320Z.asf");
        let long = archive_name(&"x".repeat(255), at);
        assert_eq!(long.len(), MAX_NAME + "-20231114T221320Z.asf".len());
    }

    #[test]
    fn an_unfinished_archive_is_finished_when_dropped() {
        let src = testdata().open("ff_av.wmv").unwrap();
        let dir = scratch("dropped");
        let mut a = Archive::create(&dir, "radio", &live_header(src.header())).unwrap();
        let mut packet = Vec::new();
        for n in 0..10 {
            src.read_packet(n, &mut packet).unwrap();
            a.packet(&packet).unwrap();
        }
        let path = a.path().to_path_buf();
        drop(a);
        let bytes = std::fs::read(&path).unwrap();
        let s = HeaderSummary::parse(&bytes).unwrap();
        assert_eq!((s.packet_count, s.is_seekable()), (10, true));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_header_that_is_not_asf_leaves_no_file() {
        let dir = scratch("not-asf");
        assert!(Archive::create(&dir, "radio", b"not asf at all").is_err());
        assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none());
    }
}
