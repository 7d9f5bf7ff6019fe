//! The application's requests on a session: stream selection, play (and
//! seek, stride, acceleration), the packets of a play, stop and close
//! ([3.1.4.2]–[3.1.4.8]), each run to the server's answer.

use std::time::Duration;

use futures_core::Stream;
use mms_proto::client::{ClientError, Play, Start, State};
use tokio::io::AsyncWriteExt;

use super::{Happened, Packet, Session};
use crate::Error;
use crate::choice::StreamChoice;

impl Session {
    /// Chooses streams: for the next play, or at once while streaming
    /// ([3.1.4.3]).
    pub fn select_streams(&mut self, choice: StreamChoice) -> Result<(), Error> {
        let set = self.choose(&choice)?;
        self.options.streams = choice;
        self.machine
            .select(set)
            .map_err(|e| Error::from_machine(e, &self.url.path))
    }

    /// Starts streaming (or, while streaming, seeks: stop → switch →
    /// play) and waits until the server confirms.
    pub async fn play(&mut self, mut play: Play) -> Result<(), Error> {
        if play.acceleration.is_none() && play.rate.is_none() {
            play.acceleration = self.accelerated();
        }
        let now = self.now();
        self.machine
            .play(now, &play)
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        self.ended = false;
        self.playing = Some(play);
        self.last_location = None;
        self.last_data = std::time::Instant::now();
        self.forget_play();
        // Over UDP the play's first packets may come before the report.
        let mut early = Vec::new();
        loop {
            match self.next().await? {
                Happened::Playing => {
                    for p in early.into_iter().rev() {
                        self.reorder.ready.push_front(p);
                    }
                    return Ok(());
                }
                Happened::Packet(p) if self.udp() => early.push(p),
                Happened::EndOfStream { stopped: true, .. } | Happened::Packet(_) => {}
                Happened::EndOfStream { ready: true, .. } => {
                    self.ended = true;
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    /// [`Options::acceleration`](crate::Options::acceleration) for this content: the whole of it (in
    /// ms, rounded up; a live stream's an hour) at that bit rate.
    fn accelerated(&self) -> Option<mms_proto::wire::Acceleration> {
        let bandwidth = self.options.acceleration?;
        let f = self.file();
        let ms = if f.duration > 0.0 && !f.is_broadcast() {
            (f.duration * 1000.0).ceil().min(u32::MAX as f64) as u32
        } else {
            3_600_000
        };
        Some(mms_proto::wire::Acceleration {
            bandwidth,
            duration: ms,
            link_bandwidth: Some(bandwidth),
        })
    }

    /// Whether the server is asked for acceleration ([`Options::acceleration`](crate::Options::acceleration)
    /// set and Server-Version ≥ 9, [3.1.4.2.1]).
    pub fn acceleration_asked(&self) -> bool {
        self.options.acceleration.is_some() && self.server_version().is_some_and(|v| v.major >= 9)
    }

    /// Plays from `start` to the end.
    pub async fn play_from(&mut self, start: Start) -> Result<(), Error> {
        self.play(Play {
            start,
            ..Play::default()
        })
        .await
    }

    /// Seeks: the same as [`Session::play_from`], also while streaming.
    pub async fn seek(&mut self, start: Start) -> Result<(), Error> {
        self.play_from(start).await
    }

    /// Fast forward (`rate` > 1) or rewind (`rate` < 0) from `start`
    /// ([3.1.4.2.2]); key frames only.
    pub async fn stride(&mut self, start: Start, rate: f64) -> Result<(), Error> {
        self.play(Play {
            start,
            rate: Some(rate),
            ..Play::default()
        })
        .await
    }

    /// The next packet of the play; `None` when it ended. Follows a
    /// server-side playlist into its next entry when the options say so
    /// ([`Session::entry`] and [`Session::header`] change).
    pub async fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        if self.ended {
            return Ok(None);
        }
        let unanswered = self.machine.udp_stats().unanswered;
        loop {
            // A fall-back's play may have ended at once (nothing was left).
            if self.ended {
                return Ok(None);
            }
            let happened = match self.next().await {
                Err(Error::UdpSilent) if self.can_fall_back() => {
                    self.fall_back().await?;
                    continue;
                }
                r => r?,
            };
            match happened {
                Happened::Packet(p) if self.skip_below.is_some_and(|s| p.location_id < s) => {}
                Happened::Packet(p) => {
                    self.note_key_frames(&p);
                    self.last_location = Some(p.location_id);
                    return Ok(Some(p));
                }
                // The play's last packets never came over UDP (the probes
                // at its end went unanswered): get them over TCP.
                Happened::EndOfStream { ready: true, .. }
                    if self.machine.udp_stats().unanswered > unanswered && self.can_fall_back() =>
                {
                    self.fall_back().await?;
                }
                Happened::EndOfStream { ready: true, .. } => {
                    self.ended = true;
                    return Ok(None);
                }
                // A playlist entry's header ([3.1.4.4]): the machine plays
                // on if it follows the playlist.
                Happened::HeaderDone if !self.options.follow_playlist => {
                    self.ended = true;
                    return Ok(None);
                }
                _ => {}
            }
        }
    }

    /// The packets of the play as a stream (ends with the play; boxed so
    /// it is `Unpin`).
    pub fn packets(&mut self) -> impl Stream<Item = Result<Packet, Error>> + Unpin + '_ {
        Box::pin(futures_util::stream::unfold(self, |s| async move {
            match s.next_packet().await {
                Ok(Some(p)) => Some((Ok(p), s)),
                Ok(None) => None,
                Err(e) => {
                    s.ended = true;
                    Some((Err(e), s))
                }
            }
        }))
    }

    /// Stops the play (StopPlaying + Logging) and waits for the server's
    /// ReportEndOfStream.
    pub async fn stop(&mut self) -> Result<(), Error> {
        if self.machine.state() != State::Streaming {
            self.ended = true;
            return Ok(());
        }
        self.machine
            .stop()
            .map_err(|e| Error::from_machine(e, &self.url.path))?;
        self.forget_play();
        loop {
            if let Happened::EndOfStream { ready: true, .. } = self.next().await? {
                self.ended = true;
                return Ok(());
            }
        }
    }

    /// Ends the session politely (stop, CloseFile) within a second, then
    /// closes the connection.
    pub async fn close(mut self) -> Result<(), Error> {
        let r = tokio::time::timeout(Duration::from_secs(1), async {
            self.machine
                .close()
                .map_err(|e| Error::from_machine(e, &self.url.path))?;
            while self.machine.state() != State::Closed {
                match self.next().await {
                    Ok(_) => {}
                    Err(Error::Protocol(ClientError::ConnectionClosed)) => break,
                    Err(e) => return Err(e),
                }
            }
            self.flush().await.map(drop)
        })
        .await;
        let _ = self.io.shutdown().await;
        r.unwrap_or(Ok(()))
    }
}
