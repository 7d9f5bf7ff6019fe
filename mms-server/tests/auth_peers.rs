//! Real peers with `[auth]` configured: the public paths of a server that
//! protects `private/**` (and names NTLM in every ReportConnectedEX) keep
//! working for FFmpeg (its own mmst protocol), VLC, MPlayer and libmms —
//! one test file each, every payload compared with the source as in their
//! own test files. None of them can answer a challenge (interop-notes),
//! so the AuthenPackage alone must not disturb them.
//!
//! A missing tool fails with the hint `cargo xtask deps`.

mod common;
use std::process::Command;
use std::time::Duration as StdDuration;

fn serve_with_auth(tag: &str) -> common::Running {
    common::auth::serve_with_auth(tag, &["private/**"])
}

fn source(name: &str) -> Vec<u8> {
    std::fs::read(common::testdata_dir().join(name)).unwrap()
}

#[test]
fn ffmpeg_mmst_reads_a_public_path() {
    let name = "ff_av.wmv";
    let exe = common::c_peer("ffmpeg_mmst_dump", &["-lavformat", "-lavutil"]);
    let server = serve_with_auth("ffmpeg");
    let out = common::fresh_path("auth-ffmpeg.asf");
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mmst://{}/{name}", server.addr))
            .arg(&out),
        StdDuration::from_secs(60),
        "ffmpeg_mmst_dump",
    );
    drop(server);
    assert!(ok, "FFmpeg's mmst protocol failed:\n{log}");
    common::assert_same_payloads(&source(name), &std::fs::read(&out).unwrap());
}

#[test]
fn vlc_reads_a_public_path() {
    let name = "gst_av.wmv";
    let server = serve_with_auth("vlc");
    let home = common::vlc_dir("vlc-auth-out");
    let out = home.join(format!("dump-auth-{name}"));
    let _ = std::fs::remove_file(&out);
    let url = format!("mmst://{}/{name}", server.addr);
    let mut cmd = common::cvlc(&home, &[&url, "--demux", "dump", "--demuxdump-file"]);
    cmd.arg(&out).arg("vlc://quit");
    let (ok, log) = common::run_with_timeout(&mut cmd, StdDuration::from_secs(60), "cvlc");
    drop(server);
    assert!(ok, "vlc did not finish cleanly:\n{log}");
    let dump = std::fs::read(&out).unwrap_or_else(|e| panic!("vlc wrote no dump ({e}):\n{log}"));
    common::assert_same_payloads(&source(name), &dump);
}

#[test]
fn libmms_reads_a_public_path() {
    let name = "ff_lang.wmv";
    let exe = common::c_peer("libmms_dump", &["-lmms"]);
    let server = serve_with_auth("libmms");
    let out = common::fresh_path("auth-libmms.asf");
    let (ok, log) = common::run_with_timeout(
        Command::new(&exe)
            .arg(format!("mms://{}/{name}", server.addr))
            .arg(&out),
        StdDuration::from_secs(60),
        "libmms_dump",
    );
    drop(server);
    assert!(ok, "the libmms reader failed:\n{log}");
    common::assert_same_payloads(&source(name), &std::fs::read(&out).unwrap());
}

/// MPlayer drops the last < 2 KiB of a stream (its known bug, mplayer.rs):
/// the whole packets it wrote are compared.
#[test]
fn mplayer_reads_a_public_path() {
    let name = "ff_audio.wma";
    let server = serve_with_auth("mplayer");
    let out = common::fresh_path("auth-mplayer.asf");
    let (ok, log) = common::run_with_timeout(
        Command::new("mplayer")
            .args([
                "-really-quiet",
                "-noconsolecontrols",
                "-dumpstream",
                "-dumpfile",
            ])
            .arg(&out)
            .arg(format!("mmst://{}/{name}", server.addr)),
        StdDuration::from_secs(60),
        "mplayer",
    );
    drop(server);
    assert!(ok, "mplayer did not finish cleanly:\n{log}");
    let src = source(name);
    let dump = std::fs::read(&out).unwrap();
    let (header, packets) = common::packets(&src);
    let whole = (dump.len() - header.len()) / packets[0].len();
    assert!(
        whole + 2 >= packets.len(),
        "{whole} of {} packets",
        packets.len()
    );
    let want = common::packet_payloads(&packets[..whole]);
    let got = common::payloads(&dump);
    assert_eq!(&got[..want.len()], &want[..]);
}
