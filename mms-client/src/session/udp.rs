//! The session's Data over UDP: what a datagram does, the reorder buffer
//! and the held end of stream, and the fall-back to TCP when the datagrams
//! stop (issue 11). The rules are the machine's
//! ([`mms_proto::client::ClientMachine::udp_settled`] and its counters);
//! this part moves datagrams and reconnects.

use std::time::Duration;

use bytes::Bytes;
use mms_proto::asf::StreamSet;
use mms_proto::client::{Input, Play, Start};

use super::{Happened, Packet, Session, connect_following};
use crate::Error;
use crate::udp::Transport;

impl Session {
    /// Whether Data comes over UDP in this session.
    pub fn udp(&self) -> bool {
        self.udp.is_some() && self.machine.udp_active()
    }

    /// Whether the server offered Data over UDP: `None` if it was not
    /// asked (`mmst://`, [`Transport::Tcp`]); `Some(false)` if it declined
    /// ([3.1.5.5]), or accepted and no datagram came through (then this
    /// session is the TCP one [`Transport::Auto`] fell back to).
    pub fn udp_offered(&self) -> Option<bool> {
        if self.udp_blocked {
            return Some(false);
        }
        self.udp.as_ref().map(|_| self.machine.udp_active())
    }

    /// A session before this one had UDP accepted and no datagram came
    /// (a firewall or NAT in the way): it fell back to TCP.
    pub fn udp_blocked(&self) -> bool {
        self.udp_blocked
    }

    /// What happened to the session's datagrams (all zero over TCP; after
    /// a fall-back, those of the UDP part).
    pub fn udp_stats(&self) -> mms_proto::client::UdpStats {
        self.replaced_udp
            .unwrap_or_else(|| self.machine.udp_stats())
    }

    /// The play went on over TCP after its datagrams stopped coming
    /// ([`Transport::Auto`]).
    pub fn fell_back_to_tcp(&self) -> bool {
        self.replaced_udp.is_some()
    }

    /// How long Data may not come while streaming over UDP before the path
    /// counts as blocked: [`Transport::FALLBACK_AFTER`], or three packet
    /// times of a low-rate stream.
    pub(super) fn quiet_limit(&self) -> Duration {
        let f = self.file();
        let packet = if f.bit_rate > 0 {
            Duration::from_secs_f64(f64::from(f.packet_size) * 8.0 / f64::from(f.bit_rate))
        } else {
            Duration::ZERO
        };
        Transport::FALLBACK_AFTER.max(packet * 3)
    }

    /// A new play or a stop: what the old play left in the reorder buffer,
    /// and its held end of stream, are not the next play's.
    pub(super) fn forget_play(&mut self) {
        self.reorder.forget();
        self.held_end = None;
        self.key_starts.clear();
    }

    /// Notes where video key frames begin in a packet handed out (only
    /// over UDP, where a fall-back may need it).
    pub(super) fn note_key_frames(&mut self, p: &Packet) {
        if !self.udp() {
            return;
        }
        for v in self.video_streams().iter() {
            if mms_proto::asf::starts_key_frame(&p.data, v).unwrap_or(false) {
                self.key_starts.insert(v, p.location_id);
            }
        }
    }

    /// The header's video streams (those a server starts at a key frame).
    fn video_streams(&self) -> StreamSet {
        self.summary().map_or(StreamSet::EMPTY, |h| {
            h.streams
                .iter()
                .filter(|s| s.kind == mms_proto::asf::StreamKind::Video)
                .fold(StreamSet::EMPTY, |a, s| a.with(s.number))
        })
    }

    /// A fall-back to TCP is possible: `mms://` with [`Transport::Auto`],
    /// over UDP, a play in progress, not inside a playlist.
    pub(super) fn can_fall_back(&self) -> bool {
        self.options.transport == Transport::Auto
            && Transport::of_scheme(&self.url.scheme, Transport::Auto) == Transport::Auto
            && self.udp()
            && self.playing.is_some_and(|p| p.rate.is_none())
            && self.machine.entry() == 0
    }

    /// The UDP path went quiet, or the play's last packets never came:
    /// reconnects over TCP and goes on from the packet after the last one
    /// handed out. The session is replaced.
    pub(super) async fn fall_back(&mut self) -> Result<(), Error> {
        let Some(play) = self.playing else {
            return Err(Error::UdpSilent);
        };
        // From the latest key frame of every video stream (or the play's
        // start if one has none yet), what was handed out dropped.
        let videos = self.video_streams();
        let start = match self.last_location {
            None => play.start,
            Some(l) => {
                let keys: Option<Vec<u32>> = videos
                    .iter()
                    .map(|v| self.key_starts.get(&v).copied())
                    .collect();
                match keys {
                    Some(k) => Start::Packet(k.into_iter().min().unwrap_or(l + 1).min(l + 1)),
                    None => play.start,
                }
            }
        };
        tracing::info!(url = %self.url, ?start, "UDP went quiet: going on over TCP");
        let mut options = self.options.clone();
        options.transport = Transport::Tcp;
        let mut fresh = Box::pin(connect_following(self.url.clone(), options)).await?;
        fresh.play(Play { start, ..play }).await?;
        fresh.options.transport = self.options.transport;
        fresh.last_location = self.last_location;
        fresh.skip_below = self.last_location.map(|l| l + 1);
        fresh.replaced_udp = Some(self.udp_stats());
        drop(std::mem::replace(self, fresh));
        Ok(())
    }

    /// Over UDP: packets into the reorder buffer, an end of stream held
    /// while the machine still asks for lost packets.
    pub(super) fn sort(&mut self, h: Happened) -> Happened {
        if !self.udp() {
            return h;
        }
        match h {
            Happened::Packet(p) => {
                self.reorder.push(p);
                self.reorder.release(self.machine.udp_settled(), false);
                Happened::Nothing
            }
            end @ Happened::EndOfStream { ready: true, .. } => {
                self.held_end = Some(end);
                Happened::Nothing
            }
            h => h,
        }
    }

    /// A datagram from the UDP socket, to the machine.
    pub(super) fn datagram(
        &mut self,
        source: std::net::SocketAddr,
        bytes: Bytes,
    ) -> Result<(), Error> {
        let foreign = self.machine.udp_stats().foreign;
        let now = self.now();
        let ev = self
            .machine
            .handle_input(
                now,
                Input::Udp {
                    source,
                    contents: &bytes,
                },
            )
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        // Only what the machine took shows the path works (a stranger's
        // datagram does not).
        if self.machine.udp_stats().foreign == foreign {
            self.datagrams += 1;
            self.last_data = std::time::Instant::now();
        }
        let happened = match ev {
            None => Happened::Nothing,
            Some(ev) => self.own(&bytes, ev)?,
        };
        match self.sort(happened) {
            Happened::Nothing => {}
            // A header completed over UDP (or the like): for `next`.
            h => self.happened.push_back(h),
        }
        // A resend may have settled what held packets back.
        self.reorder.release(self.machine.udp_settled(), false);
        Ok(())
    }
}
