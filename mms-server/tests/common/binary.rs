//! The `mms-server` binary as a user runs it, and raw connections to it
//! (only for the test files of this crate that run the binary: other
//! crates include `common/mod.rs` and have no `CARGO_BIN_EXE_mms-server`).

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `mms-server` binary, killed when dropped.
pub struct Binary(pub Child);

impl Binary {
    /// Starts it with `args`, its log to `log`.
    pub fn start(args: &[&str], log: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_mms-server"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Binary(child)
    }

    /// Waits (bounded) until it accepts connections.
    pub fn wait_listening(&mut self, addr: SocketAddr) {
        let start = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(self.0.try_wait().unwrap().is_none(), "the server exited");
            assert!(start.elapsed() < Duration::from_secs(20), "not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Connect message in its TcpMessageHeader packet.
pub fn connect_packet() -> Vec<u8> {
    use mms_proto::wire::*;
    let m = Message::from(ConnectRepr::new(
        MMS_DISABLE_PACKET_PAIR,
        Utf16Str::Str("NSPlayer/9.0.0.3802; {3300AD50-2C39-46C0-AE0A-60ABC2E07A11}"),
    ));
    let mut p = vec![0u8; TcpMessageHeaderRepr::packet_len(&m)];
    let n = TcpMessageHeaderRepr {
        seq: 0,
        time_sent: 0,
    }
    .emit_packet(&m, &mut p)
    .unwrap();
    p.truncate(n);
    p
}

/// What became of a connection that sent Connect: answered, refused
/// (closed or reset), or left hanging.
pub fn fate_of(mut c: TcpStream, connect: &[u8]) -> &'static str {
    use std::io::{Read, Write};
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if c.write_all(connect).is_err() {
        return "refused";
    }
    let mut b = [0u8; 64];
    match c.read(&mut b) {
        Ok(0) => "refused",
        Ok(_) => "answered",
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            "hanging"
        }
        Err(_) => "refused",
    }
}
