//! Sockets and descriptors: the listening socket every loop binds
//! (SO_REUSEPORT), and how many sessions the descriptor limit allows.

use std::io;
use std::net::SocketAddr;

/// Descriptors a running server needs besides one per session: the
/// listening sockets and pollers of the loops, the content cache's open
/// files (256 at most), the access log, a spare per loop, stdio.
pub const FD_RESERVE: u64 = 320;

/// The process's soft limit on open descriptors (Linux: /proc/self/limits),
/// if it can be read.
pub fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The most sessions the descriptor limit allows (one descriptor each,
/// [`FD_RESERVE`] kept back), or 10,000 when the limit is unknown.
pub fn sessions_for_fd_limit() -> usize {
    fd_limit().map_or(10_000, |n| n.saturating_sub(FD_RESERVE).max(1) as usize)
}

/// True for the errors of a process (or system) out of descriptors.
pub(crate) fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE, ENFILE.
    matches!(e.raw_os_error(), Some(24 | 23))
}

/// The listen backlog asked for; the kernel caps it at
/// `net.core.somaxconn` (4096 on current Linux; docs/server.md says how
/// to raise it).
const LISTEN_BACKLOG: i32 = 4096;

/// A non-blocking listening socket on `addr` that other sockets of this
/// process may bind too (SO_REUSEPORT: the kernel spreads new connections
/// over them).
pub(crate) fn listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
