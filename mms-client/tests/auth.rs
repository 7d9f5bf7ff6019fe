//! Protected paths end to end: the `mms` command against mms-server with
//! `[auth]` (issue 12's "done when"): `mms dump
//! mms://alice:secret@127.0.0.1:PORT/private/x.wma` gets the file byte for
//! byte with NTLM, with `--auth basic`, with `--user` and MMS_PASSWORD; a
//! wrong password exits 6 "authentication failed" with nothing written;
//! none exits 6 "authentication required"; `probe` names the scheme
//! offered; the access log names the user; no password, hash or token
//! reaches the server's log at trace level, the client's, or the access
//! log.

#[path = "../../mms-server/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use mms_proto::server::Config;
use mms_server::Options;
use mms_server::access_log::AccessLog;
use mms_server::auth_policy::{AuthPolicy, offer};
use mms_server::config::Settings;
use mms_server::users::{Users, passwd};

const SOURCE: &str = "ff_audio.wma";

/// Everything the in-process server logs, at trace level.
static SERVER_LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn server_log() -> Arc<Mutex<Vec<u8>>> {
    SERVER_LOG
        .get_or_init(|| {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let writer = buf.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || Capture(writer.clone()))
                .init();
            buf
        })
        .clone()
}

/// A root with `public/x.wma` and `private/x.wma` (both the source), and
/// a users file with alice / secret.
fn site(tag: &str) -> (PathBuf, PathBuf) {
    let root = common::fresh_path(&format!("auth-root-{tag}"));
    let _ = std::fs::remove_dir_all(&root);
    let src = common::testdata_dir().join(SOURCE);
    for d in ["public", "private"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
        std::fs::copy(&src, root.join(d).join("x.wma")).unwrap();
    }
    let users = common::fresh_path(&format!("auth-users-{tag}.txt"));
    passwd(&users, "alice", "secret").unwrap();
    (root, users)
}

/// mms-server with `[auth]` of `schemes`, protecting `private/**`.
fn serve(tag: &str, schemes: &str, access_log: Option<&Path>) -> common::Running {
    let _ = server_log();
    let (root, users) = site(tag);
    let toml = format!(
        "paced = false\n[auth]\nusers = {:?}\nschemes = {schemes}\nprotect = [\"private/**\"]\n",
        users.display().to_string()
    );
    let file = common::fresh_path(&format!("auth-{tag}.toml"));
    std::fs::write(&file, toml).unwrap();
    let settings = Settings::from_file(&file).unwrap();
    settings.check().unwrap();
    let auth = settings.auth.as_ref().unwrap();
    let policy = AuthPolicy::new(auth, Users::load(&users).unwrap()).unwrap();
    let config = Config {
        paced: false,
        linger: Some(mms_proto::time::Duration::from_secs(1)),
        auth: Some(offer(auth)),
        ..Config::default()
    };
    common::serve_with(
        &root,
        Options {
            auth: Some(Arc::new(policy)),
            access_log: access_log.map(|p| Arc::new(AccessLog::open(p).unwrap())),
            ..Options::new(config)
        },
    )
}

/// Runs `mms` at trace level; its stderr is checked for secrets.
fn mms(args: &[&str], password_env: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mms"));
    c.args(args).env("RUST_LOG", "trace");
    match password_env {
        Some(p) => c.env("MMS_PASSWORD", p),
        None => c.env_remove("MMS_PASSWORD"),
    };
    let out = c.output().unwrap();
    assert_no_secret(&out.stderr, "the client's log");
    out
}

/// The secret in every form it could leak in: clear, base64 of
/// `alice:secret` (Basic), its NT hash in hex.
fn assert_no_secret(text: &[u8], what: &str) {
    let text = String::from_utf8_lossy(text);
    let hash: String = mms_proto::auth::NtHash::of_password("secret")
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for s in ["secret", "YWxpY2U6c2VjcmV0", &hash] {
        assert!(!text.contains(s), "{what} holds {s:?}");
    }
}

fn dump(
    addr: std::net::SocketAddr,
    url_auth: &str,
    path: &str,
    extra: &[&str],
) -> (Output, PathBuf) {
    let out = common::fresh_path(&format!("auth-{}.asf", std::process::id() ^ rand_tag()));
    let url = format!("mms://{url_auth}{addr}/{path}");
    let mut args = extra.to_vec();
    args.extend(["dump", "--quiet", &url, "-o", out.to_str().unwrap()]);
    (mms(&args, None), out)
}

fn rand_tag() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed) << 20
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "mms failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The private dump equals the public one byte for byte, and holds the
/// source's payloads.
fn same_as_public(addr: std::net::SocketAddr, got: &Path) {
    let (o, public) = dump(addr, "", "public/x.wma", &[]);
    ok(&o);
    let got = std::fs::read(got).unwrap();
    assert_eq!(got, std::fs::read(public).unwrap(), "private dump differs");
    let src = std::fs::read(common::testdata_dir().join(SOURCE)).unwrap();
    common::assert_same_payloads(&src, &got);
}

#[test]
fn ntlm_from_the_url_gets_the_file() {
    let server = serve("ntlm", "[\"ntlm\", \"basic\"]", None);
    let (o, got) = dump(server.addr, "alice:secret@", "private/x.wma", &[]);
    ok(&o);
    same_as_public(server.addr, &got);
    // Percent-decoded credentials, `--auth ntlm`.
    let (o, _) = dump(
        server.addr,
        "alic%65:s%65cret@",
        "private/x.wma",
        &["--auth", "ntlm"],
    );
    ok(&o);
}

#[test]
fn basic_gets_the_file() {
    let server = serve("basic", "[\"ntlm\", \"basic\"]", None);
    let (o, got) = dump(
        server.addr,
        "alice:secret@",
        "private/x.wma",
        &["--auth", "basic"],
    );
    ok(&o);
    same_as_public(server.addr, &got);
    // A Basic-only server challenges in Basic; auto answers it.
    let server = serve("basic-only", "[\"basic\"]", None);
    let (o, got) = dump(server.addr, "alice:secret@", "private/x.wma", &[]);
    ok(&o);
    same_as_public(server.addr, &got);
    // --auth ntlm refuses to send the password in Basic.
    let (o, got) = dump(
        server.addr,
        "alice:secret@",
        "private/x.wma",
        &["--auth", "ntlm"],
    );
    assert_eq!(o.status.code(), Some(6));
    assert!(!got.exists() || std::fs::metadata(&got).unwrap().len() == 0);
}

#[test]
fn user_flag_with_mms_password() {
    let server = serve("user", "[\"ntlm\"]", None);
    let out = common::fresh_path("auth-user-flag.asf");
    let url = format!("mms://{}/private/x.wma", server.addr);
    let o = mms(
        &[
            "--user",
            "alice",
            "dump",
            "--quiet",
            &url,
            "-o",
            out.to_str().unwrap(),
        ],
        Some("secret"),
    );
    ok(&o);
    same_as_public(server.addr, &out);
}

/// Wrong password: exit 6, "authentication failed", not a byte written;
/// no credentials: exit 6, "authentication required"; both schemes.
#[test]
fn wrong_or_no_password_exits_6_with_nothing() {
    let server = serve("wrong", "[\"ntlm\", \"basic\"]", None);
    for extra in [&[][..], &["--auth", "basic"]] {
        let (o, got) = dump(server.addr, "alice:guess@", "private/x.wma", extra);
        assert_eq!(o.status.code(), Some(6), "{extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("authentication failed"), "{err}");
        assert!(
            !got.exists() || std::fs::metadata(&got).unwrap().len() == 0,
            "{extra:?}"
        );
    }
    let (o, got) = dump(server.addr, "", "private/x.wma", &[]);
    assert_eq!(o.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&o.stderr).contains("authentication required"));
    assert!(!got.exists() || std::fs::metadata(&got).unwrap().len() == 0);
    // A missing file under a protected path asks for credentials too.
    let (o, _) = dump(server.addr, "", "private/none.wma", &[]);
    assert_eq!(o.status.code(), Some(6));
    // Public paths need nothing.
    let (o, _) = dump(server.addr, "", "public/x.wma", &[]);
    ok(&o);
}

/// `probe` names the scheme; the access log names alice; no log (server
/// at trace, client at trace, access log) holds the password, its hash or
/// the Basic token.
#[test]
fn probe_access_log_and_no_leaks() {
    let log = common::fresh_path("auth-access.log");
    let server = serve("logs", "[\"ntlm\", \"basic\"]", Some(&log));
    let url = format!("mms://{}/public/x.wma", server.addr);
    let o = mms(&["probe", &url], None);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Auth         NTLM"));
    for extra in [&[][..], &["--auth", "basic"]] {
        let (o, _) = dump(server.addr, "alice:secret@", "private/x.wma", extra);
        ok(&o);
        let (o, _) = dump(server.addr, "alice:guess@", "private/x.wma", extra);
        assert_eq!(o.status.code(), Some(6));
    }
    drop(server);
    let access = std::fs::read_to_string(&log).unwrap();
    assert_no_secret(access.as_bytes(), "the access log");
    let lines: Vec<&str> = access
        .lines()
        .filter(|l| l.contains("/private/x.wma"))
        .collect();
    assert_eq!(lines.len(), 2, "{access}");
    assert!(
        lines.iter().all(|l| l.trim_end().ends_with(" alice")),
        "{access}"
    );
    let server_log = server_log().lock().unwrap().clone();
    assert!(!server_log.is_empty());
    assert_no_secret(&server_log, "the server's log");
}
