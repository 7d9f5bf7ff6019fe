//! Data over UDP for the session: which transport a URL and the options
//! ask for, and the reorder buffer that hands packets to the application
//! in sequence order. What is missing, asked for again or given up is the
//! machine's decision ([`mms_proto::client::ClientMachine::udp_settled`]);
//! the buffer only holds what arrived early.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::session::Packet;

/// How Data packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// UDP first; TCP when no datagram comes ([`Transport::FALLBACK_AFTER`])
    /// or the server declines UDP. What players do.
    #[default]
    Auto,
    /// Over UDP only ([3.1.5.5]); a server that declines UDP still gets a
    /// TCP funnel (the spec's fall-back), but a silent UDP path is an error.
    Udp,
    /// Over the TCP connection.
    Tcp,
}

impl Transport {
    /// How long `Auto` waits for the first datagram before it reconnects
    /// over TCP (after the TCP connect): long enough for the header's
    /// datagrams to be asked for five times (the Header timer runs every
    /// 1 s plus the header's transfer time over UDP), so even 20% loss
    /// does not make a working UDP path look blocked.
    pub const FALLBACK_AFTER: Duration = Duration::from_secs(6);

    /// The transport of a URL's scheme: `mmsu` UDP, `mmst` TCP, `mms` as
    /// `default` says.
    pub fn of_scheme(scheme: &str, default: Transport) -> Transport {
        match scheme {
            "mmsu" => Transport::Udp,
            "mmst" => Transport::Tcp,
            _ => default,
        }
    }
}

/// `a` comes before `b` in the 32-bit sequence space (RFC 1982 style).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Packets that arrived ahead of a missing one, by sequence.
#[derive(Debug, Default)]
pub(crate) struct Reorder {
    held: BTreeMap<u32, Packet>,
    /// The next sequence to hand out.
    next: u32,
    /// In order, ready for the application.
    pub(crate) ready: VecDeque<Packet>,
    /// Sequences skipped (lost, or a superseded play's).
    pub(crate) skipped: u64,
}

impl Reorder {
    /// Drops what is held or ready (a new play starts; the sequence goes
    /// on).
    pub(crate) fn forget(&mut self) {
        self.held.clear();
        self.ready.clear();
    }

    /// Takes a packet the machine handed out.
    pub(crate) fn push(&mut self, p: Packet) {
        if before(p.sequence, self.next) {
            // Behind what was handed out (the machine settled it): late.
            return;
        }
        self.held.insert(p.sequence, p);
    }

    /// Moves what can go out to `ready`: every held packet in order, up
    /// to a hole the machine still hopes to fill (`settled`: every sequence
    /// below it is in or given up). `all`: the play is over, hand out
    /// everything.
    pub(crate) fn release(&mut self, settled: u32, all: bool) {
        while let Some((&first, _)) = self.held.first_key_value() {
            if first == self.next {
                if let Some(p) = self.held.remove(&first) {
                    self.ready.push_back(p);
                }
                self.next = first.wrapping_add(1);
            } else if all || before(self.next, settled) {
                // A hole that will not be filled: skip to what is next.
                let to = if all || before(first, settled) {
                    first
                } else {
                    settled
                };
                self.skipped += u64::from(to.wrapping_sub(self.next));
                self.next = to;
            } else {
                return;
            }
        }
        if before(self.next, settled) {
            self.next = settled;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn p(sequence: u32) -> Packet {
        Packet {
            location_id: sequence,
            sequence,
            entry: 0,
            data: Bytes::new(),
        }
    }

    fn out(r: &mut Reorder) -> Vec<u32> {
        r.ready.drain(..).map(|p| p.sequence).collect()
    }

    #[test]
    fn holds_until_the_hole_fills_or_is_given_up() {
        let mut r = Reorder::default();
        r.push(p(0));
        r.push(p(2));
        r.release(1, false);
        assert_eq!(out(&mut r), [0]);
        r.push(p(1));
        r.release(3, false);
        assert_eq!(out(&mut r), [1, 2]);
        // 3 missing, 4 and 5 here; 3 given up: settled passes it.
        r.push(p(5));
        r.push(p(4));
        r.release(3, false);
        assert!(out(&mut r).is_empty());
        r.release(6, false);
        assert_eq!(out(&mut r), [4, 5]);
        assert_eq!(r.skipped, 1);
        // The end hands out everything.
        r.push(p(9));
        r.release(7, true);
        assert_eq!(out(&mut r), [9]);
        assert_eq!(r.skipped, 4);
    }
}
