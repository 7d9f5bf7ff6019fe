//! NTLM against an independent implementation: Python's pyspnego (PyPI,
//! installed by `cargo xtask deps`). Its client's tokens must pass our
//! `Acceptor`, and our `Initiator`'s must pass its server. A missing
//! python3 or pyspnego is a failure that says `cargo xtask deps`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use mms_proto::auth::ntlm::{Acceptor, AcceptorConfig, Initiator, MAX_CHALLENGE};
use mms_proto::auth::{Credentials, NtHash, Rejection, Secret};

/// pyspnego's client: prints NEGOTIATE, reads CHALLENGE, prints
/// AUTHENTICATE (hex lines).
const CLIENT: &str = r#"
import sys, spnego
c = spnego.client(sys.argv[1], sys.argv[2], hostname="mms-rs", protocol="ntlm")
print(c.step().hex(), flush=True)
ch = bytes.fromhex(sys.stdin.readline().strip())
print(c.step(ch).hex(), flush=True)
"#;

/// pyspnego's server: reads NEGOTIATE, prints CHALLENGE, reads
/// AUTHENTICATE, prints `OK <user>` or `FAIL <exception>`. Its users come
/// from the file NTLM_USER_FILE names (`DOMAIN:USER:PASSWORD` lines).
const SERVER: &str = r#"
import sys, spnego
s = spnego.server(protocol="ntlm")
neg = bytes.fromhex(sys.stdin.readline().strip())
print(s.step(neg).hex(), flush=True)
auth = bytes.fromhex(sys.stdin.readline().strip())
try:
    s.step(auth)
    print("OK", s.complete, s.client_principal, flush=True)
except Exception as e:
    print("FAIL", type(e).__name__, flush=True)
"#;

struct Py {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Py {
    fn start(script: &str, args: &[&str], env: &[(&str, &str)]) -> Py {
        let probe = Command::new("python3")
            .args(["-c", "import spnego"])
            .output();
        match probe {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "python3 cannot import spnego (pyspnego): run `cargo xtask deps`\n{}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("no python3 ({e}): run `cargo xtask deps`"),
        }
        let mut cmd = Command::new("python3");
        cmd.arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Py {
            child,
            stdin,
            stdout,
        }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("python3 answers");
        assert!(!s.is_empty(), "python3 ended early (see its stderr)");
        s.trim().to_string()
    }

    fn bytes(&mut self) -> Vec<u8> {
        unhex(&self.line())
    }

    fn send(&mut self, b: &[u8]) {
        writeln!(self.stdin, "{}", hex(b)).unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "not hex: {s}");
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn filetime_now() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    mms_proto::auth::ntlm::filetime_from_unix_micros(d.as_micros() as u64)
}

/// Runs pyspnego's client for `user`/`password` against our Acceptor,
/// whose only user is alice with "secret".
fn their_client_our_server(user: &str, password: &str) -> Result<bool, Rejection> {
    let mut py = Py::start(CLIENT, &[user, password], &[]);
    let negotiate = py.bytes();
    let config = AcceptorConfig::default();
    let mut acceptor = Acceptor::new();
    let mut ch = [0u8; MAX_CHALLENGE];
    let n = acceptor
        .challenge(
            &config,
            &negotiate,
            *b"\x13\x57\x9b\xdf\x02\x46\x8a\xce",
            filetime_now(),
            &mut ch,
        )
        .expect("our CHALLENGE for pyspnego's NEGOTIATE");
    py.send(&ch[..n]);
    let auth = py.bytes();
    acceptor
        .verify(&config, &auth, |id| {
            id.user
                .eq_str("alice")
                .then(|| NtHash::of_password("secret"))
        })
        .map(|v| {
            assert!(v.identity.user.eq_str(user));
            v.mic_checked
        })
}

#[test]
fn pyspnego_client_passes_our_acceptor() {
    // pyspnego answers our MsvAvTimestamp with a MIC, and takes the
    // KEY_EXCH we grant: the MIC is checked under the exchanged key.
    assert_eq!(their_client_our_server("alice", "secret"), Ok(true));
}

#[test]
fn pyspnego_client_with_wrong_password_is_refused() {
    assert_eq!(
        their_client_our_server("alice", "Secret"),
        Err(Rejection::BadCredentials)
    );
    assert_eq!(
        their_client_our_server("mallory", "secret"),
        Err(Rejection::BadCredentials)
    );
}

/// Runs our Initiator for `password` against pyspnego's server, whose
/// only user is alice with "secret"; returns its verdict line.
fn our_client_their_server(password: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mms-ntlm-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join(format!("users-{password}.txt"));
    std::fs::write(&users, ":alice:secret\n").unwrap();
    let mut py = Py::start(SERVER, &[], &[("NTLM_USER_FILE", users.to_str().unwrap())]);
    let client = Initiator::new("PLAYER");
    let mut buf = [0u8; 2048];
    let n = client.negotiate(&mut buf).unwrap();
    py.send(&buf[..n]);
    let challenge = py.bytes();
    let creds = Credentials {
        user: "alice",
        domain: "",
        secret: Secret::Password(password),
    };
    let n = client
        .authenticate(
            &challenge,
            &creds,
            *b"\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18",
            filetime_now(),
            &mut buf,
        )
        .expect("our AUTHENTICATE for pyspnego's CHALLENGE");
    py.send(&buf[..n]);
    let verdict = py.line();
    let _ = std::fs::remove_file(&users);
    verdict
}

#[test]
fn our_initiator_passes_pyspnego_server() {
    let verdict = our_client_their_server("secret");
    assert!(verdict.starts_with("OK True"), "{verdict}");
    assert!(verdict.contains("alice"), "{verdict}");
}

#[test]
fn our_initiator_with_wrong_password_fails_pyspnego_server() {
    let verdict = our_client_their_server("wrong");
    assert_eq!(verdict, "FAIL InvalidTokenError");
}
