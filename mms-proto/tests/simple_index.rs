//! The Simple Index builder against the indexes FFmpeg wrote into
//! `testdata/`: for every indexed file, the entries built from its packets
//! name the file's packets, entry for entry, and are as many.

#![allow(clippy::print_stderr)]

use std::path::Path;

use mms_proto::asf::*;

/// Each file of `testdata/` that is not a broadcast: (name, bytes).
fn files() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "asf" || e == "wma" || e == "wmv")
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(v.len() >= 9, "run `cargo xtask media --update-testdata`");
    v
}

/// A file's header, packets and Simple Index objects.
type Split<'a> = (HeaderSummary<'a>, Vec<&'a [u8]>, Vec<&'a [u8]>);

/// The file's packets and its Simple Index objects (in file order); None
/// for an MMSH-chunked file (the live one).
fn split(bytes: &[u8]) -> Option<Split<'_>> {
    let h = HeaderSummary::parse(bytes).ok()?;
    let data_at = h.header_object_len();
    let d = DataObject::new_checked(&bytes[data_at..]).unwrap();
    let p = h.packet_size as usize;
    let start = data_at + DATA_OBJECT_PREFIX_LEN;
    let packets = bytes[start..start + h.packet_count as usize * p]
        .chunks(p)
        .collect();
    let tail = &bytes[data_at + d.size() as usize..];
    let indexes = Objects::new(tail)
        .filter_map(|o| o.ok())
        .filter(|o| o.guid == guid::SIMPLE_INDEX)
        .map(|o| o.bytes)
        .collect();
    Some((h, packets, indexes))
}

fn build(stream: u8, interval: u64, packets: &[&[u8]]) -> (Vec<SimpleIndexEntry>, u16) {
    let mut b = SimpleIndexBuilder::new(stream, interval);
    let mut v = Vec::new();
    for (n, p) in packets.iter().enumerate() {
        b.push(n as u32, p, |e| v.push(e)).unwrap();
    }
    let count = b.finish(|e| v.push(e));
    assert_eq!(count as usize, v.len());
    (v, b.max_packet_count())
}

#[test]
fn built_indexes_are_the_files_own() {
    let mut checked = 0;
    for (name, bytes) in files() {
        // GStreamer's asfmux indexes by its own clock (its video here is
        // stamped 3600 s after its audio, with 396 entries for 8 s of
        // packets): only FFmpeg's files follow the facts sheet's rule.
        if !name.starts_with("ff_") {
            continue;
        }
        let Some((h, packets, indexes)) = split(&bytes) else {
            continue;
        };
        if h.is_broadcast() {
            continue;
        }
        let video: Vec<u8> = h
            .streams
            .iter()
            .filter(|s| s.kind == StreamKind::Video)
            .map(|s| s.number)
            .collect();
        if video.is_empty() {
            assert!(indexes.is_empty(), "{name}: an index without video");
            continue;
        }
        assert!(!indexes.is_empty(), "{name}: no Simple Index");
        for (stream, obj) in video.iter().zip(&indexes) {
            let idx = SimpleIndex::check(obj).unwrap();
            let want: Vec<SimpleIndexEntry> = (0..idx.entries_count())
                .map(|i| {
                    let (packet_number, packet_count) = idx.entry(i).unwrap();
                    SimpleIndexEntry {
                        packet_number,
                        packet_count,
                    }
                })
                .collect();
            let (got, max) = build(*stream, idx.interval(), &packets);
            eprintln!("{name}: stream {stream}, {} entries", want.len());
            let numbers =
                |v: &[SimpleIndexEntry]| v.iter().map(|e| e.packet_number).collect::<Vec<_>>();
            assert_eq!(numbers(&got), numbers(&want), "{name}: packet numbers");
            // Packet Count is the key frame's span; FFmpeg writes one less
            // (the packets before the one it is filling), 0 for a key frame
            // within one packet. Readers use the numbers only.
            let counts = |v: &[SimpleIndexEntry], less: u16| {
                v.iter().map(|e| e.packet_count - less).collect::<Vec<_>>()
            };
            assert_eq!(counts(&got, 1), counts(&want, 0), "{name}: packet counts");
            assert_eq!(
                max as u32 - 1,
                idx.max_packet_count(),
                "{name}: maximum count"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} indexes compared");
}

#[test]
fn the_object_header_and_entries_parse_back() {
    let entries = [
        SimpleIndexEntry {
            packet_number: 0,
            packet_count: 2,
        },
        SimpleIndexEntry {
            packet_number: 7,
            packet_count: 1,
        },
    ];
    let id = [7u8; 16];
    let mut buf = vec![0xA5; SIMPLE_INDEX_HEADER_LEN + 2 * SIMPLE_INDEX_ENTRY_LEN];
    let mut n = emit_simple_index_header(&mut buf, &id, DEFAULT_INDEX_INTERVAL, 2, 2).unwrap();
    for e in &entries {
        n += e.emit(&mut buf[n..]).unwrap();
    }
    assert_eq!(n, buf.len());
    let idx = SimpleIndex::check(&buf[..]).unwrap();
    assert_eq!(idx.file_id(), id);
    assert_eq!(idx.interval(), DEFAULT_INDEX_INTERVAL);
    assert_eq!((idx.max_packet_count(), idx.entries_count()), (2, 2));
    assert_eq!(idx.entry(1), Some((7, 1)));
    assert_eq!(idx.lookup(1500), Some(7));
    let obj = Objects::new(&buf).next().unwrap().unwrap();
    assert_eq!((obj.guid, obj.bytes.len()), (guid::SIMPLE_INDEX, buf.len()));
}
