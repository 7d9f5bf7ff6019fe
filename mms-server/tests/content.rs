//! Paths from the wire resolve strictly inside the content root
//! (DESIGN.md §7): no `..`, absolute paths, `\`, NUL, drive letters, or
//! symlinks out of the root.

mod common;
use mms_server::content::{ContentError, ContentRoot};

#[test]
fn paths_stay_inside_the_root() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("content-root");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("root/sub")).unwrap();
    std::fs::write(base.join("secret.asf"), b"outside").unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/demo/demo.wmv"),
        base.join("root/sub/a.wmv"),
    )
    .unwrap();
    std::os::unix::fs::symlink(base.join("secret.asf"), base.join("root/escape.asf")).unwrap();
    std::os::unix::fs::symlink(base.join("root/sub/a.wmv"), base.join("root/inside.wmv")).unwrap();
    let root = ContentRoot::new(&base.join("root")).unwrap();

    assert!(root.open("sub/a.wmv").is_ok());
    assert!(
        root.open("/sub/a.wmv").is_ok(),
        "the URL path's leading slash is not an absolute path"
    );
    assert!(
        root.open("inside.wmv").is_ok(),
        "a symlink that stays inside is fine"
    );
    for bad in [
        "../secret.asf",
        "sub/../../secret.asf",
        "escape.asf",
        "sub\\a.wmv",
        "C:/x.asf",
        "a\0.wmv",
        "//etc/passwd",
        "",
    ] {
        let r = root.open(bad);
        assert!(
            matches!(
                r,
                Err(ContentError::Forbidden) | Err(ContentError::NotFound)
            ),
            "{bad:?} -> {r:?}"
        );
    }
    assert!(matches!(
        root.open("escape.asf"),
        Err(ContentError::Forbidden)
    ));
    assert!(matches!(
        root.open("missing.wmv"),
        Err(ContentError::NotFound)
    ));
    std::fs::write(base.join("root/junk.asf"), b"not asf at all").unwrap();
    assert!(matches!(
        root.open("junk.asf"),
        Err(ContentError::Invalid(_))
    ));
}

#[test]
fn time_seeks_land_on_video_key_frames() {
    let root = ContentRoot::new(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/demo"
    )))
    .unwrap();
    let c = root.open("demo.wmv").unwrap();
    assert_eq!(c.packet_for_time(0), 0);
    let mut last = 0;
    for s in [2u64, 5, 10, 15, 19] {
        let n = c.packet_for_time(s * 1000);
        assert!(
            n >= last && n < c.media().packet_count,
            "{s} s -> packet {n}"
        );
        let mut p = Vec::new();
        c.read_packet(n, &mut p).unwrap();
        assert!(
            mms_proto::asf::starts_key_frame(&p, 1).unwrap(),
            "{s} s -> packet {n} starts no key frame"
        );
        last = n;
    }
    assert!(last > 0);
}

#[test]
fn the_peer_tests_cover_every_test_file() {
    let mut files: Vec<String> = std::fs::read_dir(common::testdata_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    files.sort();
    assert_eq!(
        files,
        common::TEST_FILES,
        "update common::TEST_FILES and every_test_file!"
    );
}

#[test]
fn chunked_files_serve_the_same_packets_as_plain_ones() {
    // ff_live.asf is `ffmpeg -f asf_stream` output: $H/$D chunks.
    let dir = common::testdata_dir();
    let file = std::fs::read(dir.join("ff_live.asf")).unwrap();
    assert_eq!(&file[..2], b"$H");
    let (header, packets) = common::packets(&file);
    let root = ContentRoot::new(&dir).unwrap();
    let c = root.open("ff_live.asf").unwrap();
    assert_eq!(c.header(), header);
    assert_eq!(c.media().packet_count, packets.len() as u64);
    let mut buf = Vec::new();
    for (n, p) in packets.iter().enumerate() {
        c.read_packet(n as u64, &mut buf).unwrap();
        assert_eq!(&buf[..p.len()], *p, "packet {n}");
        assert!(
            buf[p.len()..].iter().all(|&b| b == 0),
            "packet {n}'s zero fill"
        );
    }
    assert!(c.read_packet(packets.len() as u64, &mut buf).is_err());
}

#[test]
fn parsed_headers_are_cached_until_the_file_changes() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("content-cache");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let dir = common::testdata_dir();
    std::fs::copy(dir.join("ff_audio.wma"), base.join("x.asf")).unwrap();
    let root = ContentRoot::new(&base).unwrap();
    let a = root.open("x.asf").unwrap();
    let b = root.open("x.asf").unwrap();
    assert!(
        std::ptr::eq(a.header(), b.header()),
        "the second open reuses the parse"
    );
    // A different file under the same name is parsed again.
    std::fs::copy(dir.join("ff_av.wmv"), base.join("x.asf")).unwrap();
    let c = root.open("x.asf").unwrap();
    assert_ne!(a.header(), c.header());
    assert_eq!(
        c.header(),
        common::packets(&std::fs::read(dir.join("ff_av.wmv")).unwrap()).0
    );
}

#[test]
fn a_file_opened_by_many_sessions_costs_one_descriptor() {
    // issue 14, fault 2: every session held its own descriptor on the
    // media file, so 100 listeners of one file took 100 of the process's
    // descriptors.
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let root = ContentRoot::new(&common::testdata_dir()).unwrap();
    let first = root.open("ff_av.wmv").unwrap();
    let before = fds();
    let many: Vec<_> = (0..100).map(|_| root.open("ff_av.wmv").unwrap()).collect();
    // Tests of this binary run in parallel threads: allow a few others.
    assert!(
        fds() < before + 10,
        "{} descriptors for 100 opens",
        fds() - before
    );
    // They all read the same packets.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    first.read_packet(3, &mut a).unwrap();
    many[99].read_packet(3, &mut b).unwrap();
    assert_eq!(a, b);
}
