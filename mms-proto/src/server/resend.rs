//! The copies a [`super::ServerMachine`] may be asked to resend
//! ([3.2.5.13]): what the runtime sent over UDP, kept by sequence for a
//! time window in storage the runtime gives (a `Vec<u8>`, a static
//! buffer), so the machine stays free of allocation and of media bytes.
//!
//! Fixed slots, one per sequence modulo the slot count: a lookup is one
//! index, storing never moves bytes, and the oldest copy is overwritten
//! when the ring is full. A slot holds the sequence (4 bytes), the
//! length (2), the time it was sent (8) and the Data packet.

use crate::time::{Duration, Instant};
use crate::wire::DATA_HEADER_LEN;

/// Bytes of a slot's own fields (sequence, length, time sent).
const SLOT_HEAD: usize = 4 + 2 + 8;

/// Sent Data packets, by sequence, for [`ResendRing::window`].
#[derive(Debug, Clone)]
pub struct ResendRing<B> {
    store: B,
    /// Bytes per slot: [`SLOT_HEAD`] + the largest Data packet.
    slot: usize,
    /// How long a copy is kept.
    window: Duration,
    /// Copies stored (for the first use of each slot).
    stored: u64,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> ResendRing<B> {
    /// A ring over `store` for Data packets of up to `packet_size` ASF
    /// bytes, each kept for `window`. Holds `store.len() / (packet_size +
    /// 22)` copies ([`ResendRing::bytes_for`] sizes a store); `None` when
    /// not even one fits.
    pub fn new(store: B, packet_size: u32, window: Duration) -> Option<Self> {
        let slot = SLOT_HEAD + DATA_HEADER_LEN + packet_size as usize;
        (store.as_ref().len() >= slot).then_some(Self {
            store,
            slot,
            window,
            stored: 0,
        })
    }

    /// Bytes of store that hold `window` of content at `bit_rate` bit/s in
    /// packets of `packet_size` (at least 16 copies), at most `cap`.
    pub fn bytes_for(window: Duration, bit_rate: u32, packet_size: u32, cap: usize) -> usize {
        let slot = SLOT_HEAD + DATA_HEADER_LEN + packet_size as usize;
        let per_sec = (u64::from(bit_rate) / 8).div_ceil(u64::from(packet_size.max(1)));
        let copies = (per_sec.saturating_mul(window.0).div_ceil(1_000_000) + 2).max(16);
        (copies as usize).saturating_mul(slot).min(cap.max(slot))
    }

    fn slots(&self) -> usize {
        self.store.as_ref().len() / self.slot
    }

    /// Whether a Data packet of `len` bytes fits a slot.
    pub fn fits(&self, len: usize) -> bool {
        len <= self.slot - SLOT_HEAD
    }

    /// How long a copy is kept.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Keeps the Data packet `bytes` sent at `now` as `sequence`; a packet
    /// longer than a slot is not kept.
    pub fn store(&mut self, sequence: u32, now: Instant, bytes: &[u8]) {
        if bytes.len() > self.slot - SLOT_HEAD {
            return;
        }
        let at = (sequence as usize % self.slots()) * self.slot;
        let s = &mut self.store.as_mut()[at..at + self.slot];
        s[..4].copy_from_slice(&sequence.to_le_bytes());
        s[4..6].copy_from_slice(&(bytes.len() as u16).to_le_bytes());
        s[6..14].copy_from_slice(&now.0.to_le_bytes());
        s[SLOT_HEAD..SLOT_HEAD + bytes.len()].copy_from_slice(bytes);
        self.stored += 1;
    }

    /// The copy of `sequence`, if it is held and younger than the window.
    pub fn get(&self, sequence: u32, now: Instant) -> Option<&[u8]> {
        if self.stored == 0 {
            return None;
        }
        let at = (sequence as usize % self.slots()) * self.slot;
        let s = &self.store.as_ref()[at..at + self.slot];
        let seq = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let len = u16::from_le_bytes([s[4], s[5]]) as usize;
        let mut t = [0u8; 8];
        t.copy_from_slice(&s[6..14]);
        let sent = Instant(u64::from_le_bytes(t));
        // A slot never written has length 0.
        (seq == sequence && len > 0 && now - sent <= self.window)
            .then(|| &s[SLOT_HEAD..SLOT_HEAD + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_by_sequence_within_the_window() {
        let mut r = ResendRing::new([0u8; 4 * (SLOT_HEAD + 8 + 100)], 100, Duration(1000)).unwrap();
        assert_eq!(r.get(0, Instant(0)), None);
        for s in 0..6u32 {
            r.store(s, Instant(u64::from(s) * 100), &[s as u8; 20]);
        }
        // Four slots: 0 and 1 were overwritten by 4 and 5.
        assert_eq!(r.get(0, Instant(600)), None);
        assert_eq!(r.get(1, Instant(600)), None);
        assert_eq!(r.get(2, Instant(600)), Some(&[2u8; 20][..]));
        assert_eq!(r.get(5, Instant(600)), Some(&[5u8; 20][..]));
        // Copy 2 was sent at 200: gone after 1200.
        assert_eq!(r.get(2, Instant(1201)), None);
        // Too long for a slot: not kept.
        r.store(9, Instant(700), &[1u8; 200]);
        assert_eq!(r.get(9, Instant(700)), None);
    }

    #[test]
    fn sizes_a_store_for_the_window() {
        // 1 Mbit/s in 1,000-byte packets: 125 a second, 5 s = 625 (+2).
        let n = ResendRing::<[u8; 0]>::bytes_for(Duration::from_secs(5), 1_000_000, 1000, 1 << 30);
        assert_eq!(n, 627 * (SLOT_HEAD + 8 + 1000));
        assert_eq!(
            ResendRing::<[u8; 0]>::bytes_for(Duration::from_secs(5), 1_000_000, 1000, 5000),
            5000
        );
    }
}
