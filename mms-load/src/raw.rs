//! Loopback TCP without MMS: the baselines the server's numbers are read
//! against, and the connect/disconnect churn.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use mms_proto::wire::{ConnectRepr, Message, TcpMessageHeaderRepr, Utf16Str};

use crate::procfs;

/// Raw loopback TCP: `n` connections, each written with 64 KiB buffers by
/// its own thread for `secs`, readers discarding; (bytes read, seconds).
pub(crate) fn throughput(n: usize, secs: f64) -> Result<(u64, f64), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        clients.push(TcpStream::connect(addr).map_err(|e| e.to_string())?);
        servers.push(listener.accept().map_err(|e| e.to_string())?.0);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let total: u64 = std::thread::scope(|s| {
        for mut w in servers {
            let stop = stop.clone();
            s.spawn(move || {
                let buf = vec![0x5Au8; 64 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    if w.write_all(&buf).is_err() {
                        break;
                    }
                }
            });
        }
        let readers: Vec<_> = clients
            .into_iter()
            .map(|mut r| {
                s.spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut got = 0u64;
                    while Instant::now() < deadline {
                        match r.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => got += k as u64,
                        }
                    }
                    got
                })
            })
            .collect();
        let total = readers.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        stop.store(true, Ordering::Relaxed);
        total
    });
    Ok((total, start.elapsed().as_secs_f64()))
}

/// A writer thread writing `len`-byte buffers to a loopback connection
/// for `secs`, a reader thread discarding; (writes, the writer thread's
/// utime + stime in clock ticks).
pub(crate) fn write_cost(len: usize, secs: f64) -> Result<(u64, u64), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut w = TcpStream::connect(listener.local_addr().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut r = listener.accept().map_err(|e| e.to_string())?.0;
    let _ = w.set_nodelay(true);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        });
        let writer = s.spawn(move || -> Result<(u64, u64), String> {
            let buf = vec![0x5Au8; len];
            let before = procfs::cpu_ticks("/proc/thread-self/stat")?;
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            let mut writes = 0u64;
            while Instant::now() < deadline {
                for _ in 0..64 {
                    w.write_all(&buf).map_err(|e| e.to_string())?;
                    writes += 1;
                }
            }
            let after = procfs::cpu_ticks("/proc/thread-self/stat")?;
            drop(w);
            Ok((writes, after - before))
        });
        writer
            .join()
            .unwrap_or_else(|_| Err("the writer panicked".into()))
    })
}

/// `count` cycles of TCP connect, one Connect message, close, with up to
/// `in_flight` at once; (completed, failed, seconds).
pub(crate) fn cycles(
    addr: SocketAddr,
    count: u64,
    in_flight: usize,
) -> Result<(u64, u64, f64), String> {
    let connect = ConnectRepr::new(
        0,
        Utf16Str::Str("NSPlayer/9.0.0.2980; {3300AD50-2C39-46c0-AE0A-AC7A8E88EA3A}"),
    );
    let message = Message::Connect(connect);
    let mut packet = vec![0u8; TcpMessageHeaderRepr::packet_len(&message)];
    let n = TcpMessageHeaderRepr {
        seq: 0,
        time_sent: 0,
    }
    .emit_packet(&message, &mut packet)
    .map_err(|e| format!("emit: {e:?}"))?;
    packet.truncate(n);

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<mio::net::TcpStream>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let (mut started, mut done, mut failed, mut open) = (0u64, 0u64, 0u64, 0usize);
    let start = Instant::now();
    while done + failed < count {
        while open < in_flight && started < count {
            started += 1;
            let mut s = match mio::net::TcpStream::connect(addr) {
                Ok(s) => s,
                Err(_) => {
                    failed += 1;
                    continue;
                }
            };
            let idx = free.pop().unwrap_or_else(|| {
                slots.push(None);
                slots.len() - 1
            });
            if poll
                .registry()
                .register(&mut s, Token(idx), Interest::WRITABLE)
                .is_err()
            {
                failed += 1;
                free.push(idx);
                continue;
            }
            slots[idx] = Some(s);
            open += 1;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .or_else(|e| {
                if e.kind() == ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(e.to_string())
                }
            })?;
        for ev in events.iter() {
            let idx = ev.token().0;
            let Some(s) = slots.get_mut(idx).and_then(Option::as_mut) else {
                continue;
            };
            let ok = match s.take_error() {
                Ok(None) => match s.peer_addr() {
                    Ok(_) => s.write(&packet).is_ok_and(|k| k == packet.len()),
                    Err(e) if e.kind() == ErrorKind::NotConnected => continue,
                    Err(_) => false,
                },
                _ => false,
            };
            if let Some(mut s) = slots[idx].take() {
                let _ = poll.registry().deregister(&mut s);
            }
            free.push(idx);
            open -= 1;
            if ok {
                done += 1;
            } else {
                failed += 1;
            }
        }
    }
    Ok((done, failed, start.elapsed().as_secs_f64()))
}
