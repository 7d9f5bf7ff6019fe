//! [3.2.5.11.1] Pacing: the play's content clock, which maps each data
//! packet's ASF Send Time to the wall-clock time it is due, with striding
//! ([3.2.5.12]) and fast start ([2.2.4.25] dwAccelBandwidth /
//! dwAccelDuration). The header's pacing ([3.2.5.8.1]) is in `header`.

use crate::time::{Duration, Instant};

/// A Send Time step larger than this (or backwards) is a discontinuity,
/// not elapsed time: GStreamer writes jumps of days between packets, and
/// the 32-bit ms clock wraps (asf-facts §6.3).
pub(super) const MAX_SEND_TIME_STEP_MS: u32 = 60_000;

/// A play's content clock: when its first packet was due, the last packet's
/// Send Time, the content time since the first, and where the first is in
/// the content.
#[derive(Debug, Clone, Copy)]
struct PlayClock {
    t0: Instant,
    last_send: u32,
    elapsed_ms: u64,
    start_ms: u64,
}

/// Where a packet is on the play's clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Position {
    /// Content time since the play's first packet, ms.
    pub(super) elapsed_ms: u64,
    /// Content time of the play's first packet, ms.
    pub(super) start_ms: u64,
    send_time: u32,
}

/// The pacer of one play.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Pacer {
    /// Set by the play's first packet.
    clock: Option<PlayClock>,
    /// Fast start: the first `.1` ms of content go `.0` times faster than
    /// real time (dwAccelBandwidth / the content bit rate).
    accel: Option<(f64, u64)>,
}

impl Pacer {
    /// A new play (or entry) starts its clock at its first packet.
    pub(super) fn restart(&mut self) {
        self.clock = None;
    }

    /// Fast start for the next play: `bandwidth` bit/s for `duration` ms
    /// of content of bit rate `rate` ([2.2.4.25]); only when faster.
    pub(super) fn accelerate(&mut self, accel: Option<(u32, u32)>, rate: u32) {
        self.accel = accel
            .filter(|&(bandwidth, duration)| rate > 0 && bandwidth > rate && duration > 0)
            .map(|(bandwidth, duration)| {
                (f64::from(bandwidth) / f64::from(rate), u64::from(duration))
            });
    }

    /// Where a packet sent at `send_time` is on the clock (the first packet
    /// of a play starts it at `now`); `origin` is the content's first Send
    /// Time, `reverse` walks backwards (reverse striding).
    pub(super) fn position(
        &mut self,
        now: Instant,
        send_time: u32,
        origin: u32,
        reverse: bool,
    ) -> Position {
        let clock = *self.clock.get_or_insert(PlayClock {
            t0: now,
            last_send: send_time,
            elapsed_ms: 0,
            start_ms: match send_time.wrapping_sub(origin) {
                ms if ms <= MAX_SEND_TIME_STEP_MS => u64::from(ms),
                _ => 0,
            },
        });
        let d = if reverse {
            clock.last_send.wrapping_sub(send_time)
        } else {
            send_time.wrapping_sub(clock.last_send)
        };
        // 0 across a discontinuity.
        let step = if d > MAX_SEND_TIME_STEP_MS {
            0
        } else {
            u64::from(d)
        };
        Position {
            elapsed_ms: clock.elapsed_ms + step,
            start_ms: clock.start_ms,
            send_time,
        }
    }

    /// When a packet at `p` is due: striding divides content time by
    /// `rate`; fast start divides its first part by the acceleration.
    pub(super) fn due(&self, p: &Position, rate: f64) -> Instant {
        let elapsed = p.elapsed_ms;
        let wall_ms = match self.accel {
            Some((factor, span)) if elapsed <= span => elapsed as f64 / factor,
            Some((factor, span)) => span as f64 / factor + (elapsed - span) as f64,
            None => elapsed as f64 / rate,
        };
        let t0 = self.clock.map_or(Instant(0), |c| c.t0);
        t0 + Duration::from_millis(wall_ms as u64)
    }

    /// The packet at `p` goes out: the clock moves to it.
    pub(super) fn advance(&mut self, p: &Position) {
        if let Some(c) = &mut self.clock {
            c.last_send = p.send_time;
            c.elapsed_ms = p.elapsed_ms;
        }
    }
}
