//! One connection of an event loop: reading and framing its input,
//! handing units to its machine and events to the policy
//! ([`crate::answers`]), driving the machine with
//! [`mms_proto::server::drain`] over the session's content, and writing
//! its output queue. The loop itself (sockets, slab, timers) is
//! [`crate::event_loop`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mms_proto::machine::{Input, Transmit};
use mms_proto::server::{Drained, Driver, Sent, ServerMachine, drain};
use mms_proto::time::Instant;
use mms_proto::wire::{Status, frame};

use crate::access_log::Play;
use crate::answers::{Answers, Site};
use crate::content::Content;
use crate::event_loop::Shared;

/// Room for one output of the machine, and one packet read from a file.
pub(crate) struct Scratch {
    pub(crate) out: Vec<u8>,
    pub(crate) packet: Vec<u8>,
}

/// One client connection: its socket, its machine, the policy's side
/// of it, and its buffers.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) machine: ServerMachine,
    /// The policy's side of the session: content, playlist, access log.
    pub(crate) answers: Answers,
    pub(crate) input: Vec<u8>,
    pub(crate) output: VecDeque<u8>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) closing: bool,
    /// Registered for writable readiness too (output was left unsent).
    pub(crate) writable: bool,
}

impl Conn {
    /// Reads what arrived and hands every whole unit to the machine.
    pub(crate) fn read(&mut self, now: Instant, shared: &Shared) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closing = true;
                    break;
                }
                Ok(n) => {
                    if self.input.len() + n > shared.options.max_input {
                        tracing::warn!(peer = %self.peer, "input bound exceeded");
                        self.closing = true;
                        break;
                    }
                    self.input.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closing = true;
                    break;
                }
            }
        }
        let mut used = 0;
        // Units are handed to the machine where they lie in `input`.
        let Conn {
            input,
            machine,
            answers,
            peer,
            closing,
            ..
        } = self;
        while !*closing {
            match frame(&input[used..], &shared.options.limits) {
                Ok(Status::Complete(f)) => {
                    let unit = Input::tcp(f, &input[used..]);
                    used += f.len();
                    *closing = !handle(machine, answers, *peer, now, unit, shared.site());
                }
                Err(e) => {
                    tracing::warn!(peer = %peer, error = %e, "malformed input");
                    *closing = true;
                }
                Ok(Status::Partial(_)) => break,
            }
        }
        input.drain(..used);
    }
}

/// Hands one unit to the machine and its events to the policy; false when
/// the session ends.
fn handle(
    machine: &mut ServerMachine,
    answers: &mut Answers,
    peer: SocketAddr,
    now: Instant,
    input: Input<'_>,
    site: Site<'_>,
) -> bool {
    let events = match machine.handle_input(now, input) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "session ended");
            return false;
        }
    };
    for e in events {
        if let Err(e) = answers.event(now, machine, e, site) {
            tracing::warn!(peer = %peer, error = %e, "session failed");
            return false;
        }
    }
    true
}

impl Conn {
    /// Runs the machine until it waits, queueing its output; true when it
    /// stopped only because `max_queued` bytes are queued.
    pub(crate) fn drive(&mut self, now: Instant, shared: &Shared, scratch: &mut Scratch) -> bool {
        loop {
            let mut io = Io {
                content: self.answers.content.as_ref(),
                packet: &mut scratch.packet,
                output: &mut self.output,
                max_queued: shared.options.max_queued,
                play: self.answers.play.as_mut(),
            };
            match drain(&mut self.machine, now, &mut io, &mut scratch.out) {
                Ok(Drained::Full) => return true,
                Ok(Drained::NotBefore(t) | Drained::Timeout(t)) => {
                    self.deadline = Some(t);
                    return false;
                }
                Ok(Drained::Wait) => {
                    self.deadline = None;
                    return false;
                }
                Ok(Drained::Close) => {
                    self.closing = true;
                    return false;
                }
                Ok(Drained::NextEntry) => {
                    let r = self
                        .answers
                        .next_entry(now, &mut self.machine, shared.site());
                    if let Err(e) = r {
                        self.fail(&e.to_string());
                        return false;
                    }
                }
                Err(e) => {
                    self.fail(&e.to_string());
                    return false;
                }
            }
        }
    }

    pub(crate) fn fail(&mut self, why: &str) {
        tracing::warn!(peer = %self.peer, why, "session failed");
        self.closing = true;
    }

    /// Writes what is queued, as far as the socket takes it.
    pub(crate) fn flush(&mut self) {
        while !self.output.is_empty() {
            let (a, _) = self.output.as_slices();
            match self.stream.write(a) {
                Ok(0) => {
                    self.closing = true;
                    self.output.clear();
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closing = true;
                    self.output.clear();
                }
            }
        }
    }
}

/// The machine's [`Driver`] for one drain: content from the session's
/// file into the loop's packet buffer (an early packet is read again when
/// it is due, never copied aside), output into the session's queue.
struct Io<'a> {
    content: Option<&'a Content>,
    packet: &'a mut Vec<u8>,
    output: &'a mut VecDeque<u8>,
    max_queued: usize,
    play: Option<&'a mut Play>,
}

impl Driver for Io<'_> {
    type Error = io::Error;

    fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], io::Error> {
        let c = self
            .content
            .ok_or_else(|| io::Error::other("header without content"))?;
        // The machine asks only inside the header it was given.
        c.header()
            .get(offset as usize..(offset as usize).saturating_add(len as usize))
            .ok_or_else(|| io::Error::other("header read out of range"))
    }

    fn packet(&mut self, number: u64) -> Result<&[u8], io::Error> {
        let c = self
            .content
            .ok_or_else(|| io::Error::other("packet without content"))?;
        c.read_packet(number, self.packet)?;
        Ok(self.packet)
    }

    fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent) {
        // Only TCP until UDP delivery lands: the machine sends nothing else.
        debug_assert!(matches!(to, Transmit::Tcp(_)));
        self.output.extend(bytes);
        if let (Sent::Packet { .. }, Some(p)) = (what, self.play.as_deref_mut()) {
            p.bytes_sent += bytes.len() as u64;
            p.packets_sent += 1;
        }
    }

    fn has_room(&self) -> bool {
        self.output.len() < self.max_queued
    }
}
