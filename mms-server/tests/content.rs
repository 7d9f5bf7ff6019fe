//! Paths from the wire resolve strictly inside the content root
//! (DESIGN.md §7): no `..`, absolute paths, `\`, NUL, drive letters, or
//! symlinks out of the root.

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
        assert!(n >= last && n < c.media.packet_count, "{s} s -> packet {n}");
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
