//! `mms-server passwd FILE NAME` and the start-up checks of `[auth]`, run
//! as the binary: the password comes from standard input and never reaches
//! the file or the output; a users file others may read stops the start,
//! a 0600 one is read and the server serves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mms-server"))
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mms-passwd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn passwd(file: &Path, name: &str, stdin: &str) -> Output {
    let mut child = bin()
        .args(["passwd", file.to_str().unwrap(), name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused name ends the process before it reads: a closed pipe then.
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn all_output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn passwd_stores_the_nt_hash_only() {
    let d = dir("store");
    let users = d.join("users.txt");
    let o = passwd(&users, "alice", "correct horse\n");
    assert!(o.status.success(), "{}", all_output(&o));
    assert!(!all_output(&o).contains("correct horse"));
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(!text.contains("correct horse"));
    let hash = mms_proto::auth::NtHash::of_password("correct horse");
    let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.contains(&format!("alice:{hex}\n")), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&users).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Bad names and empty passwords are refused.
    assert!(!passwd(&users, "a:b", "x\n").status.success());
    assert!(!passwd(&users, "bob", "\n").status.success());
}

#[cfg(unix)]
#[test]
fn the_server_checks_the_users_file_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let d = dir("start");
    let users = d.join("users.txt");
    assert!(passwd(&users, "alice", "secret\n").status.success());
    let config = d.join("mms.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[auth]\nusers = \"{}\"\nprotect = [\"private/**\"]\n",
            users.display()
        ),
    )
    .unwrap();
    let run = || {
        bin()
            .args(["--config", config.to_str().unwrap()])
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // World-readable: refused, and the log says how to fix it.
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run();
    let out = all_output(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("chmod 600"), "{out}");
    // 0600: read, and the server serves (until SIGTERM).
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = d.join("server.log");
    let mut child = bin()
        .args(["--config", config.to_str().unwrap()])
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&log).unwrap().contains("serving") {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        assert!(start.elapsed().as_secs() < 20, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(out.contains("users file read"), "{out}");
    // No hash reaches the log, even at trace.
    let hash = mms_proto::auth::NtHash::of_password("secret");
    let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!out.contains(&hex) && !out.contains("secret"), "{out}");
}
