//! A point's packets, each stored once for every listener: a bounded ring
//! of shared buffers (`Arc<[u8]>`, handed to sessions by reference count,
//! never copied per listener), numbered as a virtual file ([2.2.2]), with
//! where each stream can start cleanly (the join and skip points).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mms_proto::asf::{CleanStarts, StreamSet};

/// The most bytes one point's ring holds, whatever its duration says
/// (each packet counted with its slot's overhead).
pub(crate) const MAX_RING_BYTES: usize = 64 << 20;
/// What a slot costs besides its packet's bytes (the slot, the `Arc`'s
/// counts), so tiny packets cannot take many times the bound.
const SLOT_OVERHEAD: usize = 96;

/// One packet as the source made it (the packet size), and its starts.
#[derive(Debug)]
struct Slot {
    bytes: Arc<[u8]>,
    starts: CleanStarts,
    at: Instant,
}

/// The packets of one run, from `first` to `first + slots.len()`.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    slots: VecDeque<Slot>,
    /// The number of `slots[0]`.
    first: u64,
    bytes: usize,
}

/// What a ring has of a packet.
#[derive(Debug)]
pub(crate) enum Held {
    /// Here it is.
    Packet(Arc<[u8]>),
    /// Not made yet.
    Later,
    /// Dropped from the ring: go on from this packet.
    Skip(u64),
}

impl Ring {
    /// The number the next packet gets.
    pub(crate) fn next(&self) -> u64 {
        self.first + self.slots.len() as u64
    }

    /// Packets held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Appends a packet, then drops what is older than `keep` before it
    /// (or over [`MAX_RING_BYTES`]); the packet's number.
    pub(crate) fn push(
        &mut self,
        bytes: Arc<[u8]>,
        starts: CleanStarts,
        at: Instant,
        keep: Duration,
    ) -> u64 {
        let n = self.next();
        self.bytes += bytes.len() + SLOT_OVERHEAD;
        self.slots.push_back(Slot { bytes, starts, at });
        while let Some(old) = self.slots.front() {
            let stale = at.saturating_duration_since(old.at) > keep;
            if !(stale || self.bytes > MAX_RING_BYTES) || self.slots.len() == 1 {
                break;
            }
            self.bytes -= old.bytes.len() + SLOT_OVERHEAD;
            self.slots.pop_front();
            self.first += 1;
        }
        n
    }

    /// Packet `n`, or when it comes, or where a listener that lost it goes
    /// on (`need`: the streams it plays that need a key frame; `objects`:
    /// those that need an object start).
    pub(crate) fn get(&self, n: u64, need: StreamSet, objects: StreamSet) -> Held {
        if n >= self.next() {
            return Held::Later;
        }
        match n.checked_sub(self.first) {
            Some(i) => match self.slots.get(i as usize) {
                Some(s) => Held::Packet(s.bytes.clone()),
                None => Held::Later,
            },
            None => Held::Skip(self.join(need, objects).max(self.first).max(n + 1)),
        }
    }

    /// Where a listener starts: the newest packet from which each stream
    /// of `need` has a key frame and each of `objects` an object start
    /// (so it starts as close to the live edge as a clean start allows);
    /// the next packet to come when the ring holds no such place (the
    /// machine then waits for the streams' first clean starts). Streams
    /// with no payload in the ring (a silent script stream) are not waited
    /// for.
    pub(crate) fn join(&self, need: StreamSet, objects: StreamSet) -> u64 {
        let present = self.slots.iter().fold(0, |a, s| a | s.starts.present.0);
        let need = StreamSet(need.0 & present);
        let objects = StreamSet(objects.0 & present);
        let mut seen_keys = StreamSet::EMPTY;
        let mut seen_objects = StreamSet::EMPTY;
        if need.is_empty() && objects.is_empty() {
            return self.next();
        }
        for (i, s) in self.slots.iter().enumerate().rev() {
            seen_keys.0 |= s.starts.key_frames.0 & need.0;
            seen_objects.0 |= s.starts.objects.0 & objects.0;
            if seen_keys == need && seen_objects == objects {
                return self.first + i as u64;
            }
        }
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(keys: &[u8], objects: &[u8]) -> CleanStarts {
        let mut c = CleanStarts::default();
        for &k in keys {
            c.key_frames.insert(k);
            c.objects.insert(k);
        }
        for &o in objects {
            c.objects.insert(o);
        }
        c.present = StreamSet(c.objects.0 | (1 << 1) | (1 << 2));
        c
    }

    fn set(s: &[u8]) -> StreamSet {
        s.iter().fold(StreamSet::EMPTY, |a, &x| a.with(x))
    }

    #[test]
    fn joins_at_the_newest_clean_start_of_every_stream() {
        let t0 = Instant::now();
        let mut r = Ring::default();
        let keep = Duration::from_secs(10);
        // 0: key 1 + audio 2; 1: audio; 2: nothing; 3: key 1; 4: audio 2; 5: nothing.
        let plan: [(&[u8], &[u8]); 6] = [
            (&[1], &[2]),
            (&[], &[2]),
            (&[], &[]),
            (&[1], &[]),
            (&[], &[2]),
            (&[], &[]),
        ];
        for (i, (k, o)) in plan.iter().enumerate() {
            let at = t0 + Duration::from_millis(i as u64);
            r.push(vec![i as u8; 4].into(), starts(k, o), at, keep);
        }
        assert_eq!(r.join(set(&[1]), set(&[2])), 3);
        assert_eq!(r.join(set(&[1]), StreamSet::EMPTY), 3);
        assert_eq!(r.join(StreamSet::EMPTY, set(&[2])), 4);
        // A stream held without a key frame: the live edge.
        assert_eq!(r.join(set(&[2]), StreamSet::EMPTY), 6);
        // A stream with no payload held is not waited for.
        assert_eq!(r.join(set(&[1, 7]), StreamSet::EMPTY), 3);
        assert!(matches!(r.get(6, set(&[1]), set(&[2])), Held::Later));
        assert!(matches!(r.get(2, set(&[1]), set(&[2])), Held::Packet(p) if p[0] == 2));
    }

    #[test]
    fn old_packets_go_and_a_late_listener_skips_ahead() {
        let t0 = Instant::now();
        let mut r = Ring::default();
        let keep = Duration::from_secs(1);
        for i in 0..100u64 {
            let k: &[u8] = if i % 10 == 0 { &[1] } else { &[] };
            r.push(
                vec![0u8; 8].into(),
                starts(k, &[]),
                t0 + Duration::from_millis(i * 50),
                keep,
            );
        }
        // 1 s at 50 ms a packet: 21 packets kept (the newest and 1 s before it).
        assert_eq!(r.len(), 21);
        assert_eq!(r.next(), 100);
        // Packet 10 is gone: on at the newest key frame (90).
        assert!(matches!(
            r.get(10, set(&[1]), StreamSet::EMPTY),
            Held::Skip(90)
        ));
    }

    #[test]
    fn the_byte_bound_holds_whatever_the_duration() {
        let t0 = Instant::now();
        let mut r = Ring::default();
        let big = MAX_RING_BYTES / 4 + 1;
        for _ in 0..10 {
            r.push(
                vec![0u8; big].into(),
                CleanStarts::default(),
                t0,
                Duration::from_secs(600),
            );
        }
        assert!(r.bytes <= MAX_RING_BYTES);
        assert_eq!(r.len(), 3);
    }
}
