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
