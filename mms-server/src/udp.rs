//! The runtime's UDP side ([3.2.5.11], [3.2.5.13]): each event loop has a
//! UDP socket on the TCP port's number (SO_REUSEPORT, like its listener)
//! that sends its sessions' Data packets and receives resend requests.
//! The kernel hands a datagram to any of the loops' sockets, so a request
//! names its session by dwClientId, and a Client-ID says which loop holds
//! the session (`id % loops`): a request that arrived elsewhere is passed
//! to that loop's [`Mailbox`] and the loop woken. What a request may
//! cause is the machine's decision (its checks, its budget); this file
//! only moves datagrams.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use mms_proto::wire::MAX_RESEND_PACKETS;

/// The longest RequestPacketListResend ([2.2.5]): longer datagrams are
/// dropped unread.
pub(crate) const MAX_REQUEST: usize = 12 + 4 * MAX_RESEND_PACKETS;
/// Datagrams a mailbox holds; more are dropped (a flood costs a bounded
/// queue, never memory).
const MAILBOX_LEN: usize = 1024;
/// Datagrams a loop reads in one turn before it services its sessions.
pub(crate) const READS_PER_TURN: usize = 256;

/// A resend request as received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Datagram {
    pub(crate) source: SocketAddr,
    len: usize,
    bytes: [u8; MAX_REQUEST],
}

impl Datagram {
    /// A copy of `bytes` (at most [`MAX_REQUEST`]) from `source`.
    pub(crate) fn new(source: SocketAddr, bytes: &[u8]) -> Option<Self> {
        let mut d = Datagram {
            source,
            len: bytes.len(),
            bytes: [0; MAX_REQUEST],
        };
        d.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(d)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// dwClientId, if the datagram is long enough to name one.
    pub(crate) fn client_id(&self) -> Option<u32> {
        let b = self.bytes().get(4..8)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Requests passed to one loop by the others.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    queue: Mutex<VecDeque<Datagram>>,
    /// Set by the loop when it starts.
    pub(crate) waker: OnceLock<mio::Waker>,
    /// The publishing points that made packets, or changed, for this
    /// loop's sessions: bit `slot` ([`crate::live::point::Point::slot`]).
    pub(crate) live: std::sync::atomic::AtomicU64,
}

impl Mailbox {
    /// Queues `d` and wakes the loop; false when the mailbox is full (or
    /// its loop is not running), and `d` is dropped.
    pub(crate) fn post(&self, d: Datagram) -> bool {
        let Some(waker) = self.waker.get() else {
            return false;
        };
        {
            let Ok(mut q) = self.queue.lock() else {
                return false;
            };
            if q.len() >= MAILBOX_LEN {
                return false;
            }
            q.push_back(d);
        }
        let _ = waker.wake();
        true
    }

    /// Everything queued so far.
    pub(crate) fn take(&self) -> VecDeque<Datagram> {
        self.queue
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

/// Which loop holds the session of `client_id`.
pub(crate) fn owner(client_id: u32, loops: usize) -> usize {
    client_id as usize % loops.max(1)
}

/// `raw` (a fresh, unguessable number) made a Client-ID of loop `index`:
/// the nearest number below it that [`owner`] maps to `index`.
pub(crate) fn client_id_of(raw: u32, loops: usize, index: usize) -> u32 {
    let loops = loops.max(1) as u64;
    let id = u64::from(raw) / loops * loops + index as u64;
    let id = if id > u64::from(u32::MAX) {
        id - loops
    } else {
        id
    };
    id as u32
}

/// A non-blocking UDP socket on `addr` that the other loops bind too.
pub(crate) fn socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // SO_REUSEPORT only (it is tied to this user; SO_REUSEADDR on UDP is
    // not, and would let another user's socket take resend requests).
    socket.set_reuse_port(true)?;
    // Room for a paced burst of many sessions' packets.
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_names_its_loop() {
        for loops in 1..9 {
            for index in 0..loops {
                for raw in [0, 1, 7, 0x9E37_79B9, u32::MAX - 1, u32::MAX] {
                    let id = client_id_of(raw, loops, index);
                    assert_eq!(owner(id, loops), index, "{raw} {loops} {index}");
                    assert!(raw.abs_diff(id) < 2 * loops as u32);
                }
            }
        }
    }

    #[test]
    fn datagrams_longer_than_a_request_are_not_copied() {
        let a = SocketAddr::from(([127, 0, 0, 1], 7000));
        assert!(Datagram::new(a, &[0; MAX_REQUEST + 1]).is_none());
        let d = Datagram::new(a, &[0x0D, 0xF0, 0xEF, 0xBE, 1, 2, 3, 4]).unwrap();
        assert_eq!(d.client_id(), Some(0x0403_0201));
        assert_eq!(Datagram::new(a, &[1, 2]).unwrap().client_id(), None);
    }
}
