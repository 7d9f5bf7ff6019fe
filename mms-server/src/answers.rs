//! The runtime's answers to what the machine asks the application
//! ([`Event`]s and [`Drained::NextEntry`](mms_proto::server::Drained)):
//! which content a path names (the content root, the redirect table,
//! server-side playlists), where a time seek lands, and the access log.
//! No sockets and no event loop here: this is the server's policy, where
//! authentication and live publishing points will be decided too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use mms_proto::server::{Event, Media, ServerError, ServerMachine};
use mms_proto::time::Instant;
use mms_proto::wire::{ClientLogRepr, FILE_ATTRIBUTE_MMS_PLAYLIST, HResult};

use crate::access_log::Play;
use crate::content::{Content, ContentError, ContentRoot, is_playlist};
use crate::event_loop::Options;

/// What every session's answers consult.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub(crate) root: &'a ContentRoot,
    pub(crate) options: &'a Options,
    pub(crate) metrics: &'a crate::metrics::Metrics,
    pub(crate) live: &'a crate::reload::Live,
}

/// One session's side of the policy: what it opened and is playing.
#[derive(Debug)]
pub(crate) struct Answers {
    peer: SocketAddr,
    local: SocketAddr,
    /// The open file (or playlist entry).
    pub(crate) content: Option<Content>,
    /// The path of the open file, as the client sent it.
    uri: String,
    /// Server-side playlist entries still to play ([3.2.4.2]).
    playlist: VecDeque<PathBuf>,
    /// Where the last seek went, ms (the next play starts there).
    seek_ms: u64,
    /// The play in progress, for the access log.
    pub(crate) play: Option<Play>,
}

impl Answers {
    pub(crate) fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Self {
            peer,
            local,
            content: None,
            uri: String::new(),
            playlist: VecDeque::new(),
            seek_ms: 0,
            play: None,
        }
    }

    /// Answers one event of the machine. An `Err` ends the session.
    pub(crate) fn event(
        &mut self,
        now: Instant,
        machine: &mut ServerMachine,
        event: Event<'_>,
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        match event {
            Event::OpenRequest { file_name, .. } => {
                let name = file_name.to_string_lossy();
                self.open(machine, &name, site)
            }
            Event::SeekRequest { position_ms } => {
                let packet = self
                    .content
                    .as_ref()
                    .map_or(0, |c| c.packet_for_time(position_ms));
                tracing::debug!(peer = %self.peer, position_ms, packet, "seek");
                self.seek_ms = position_ms;
                machine.seek_to(now, packet)
            }
            Event::PlayStarted { from_packet } => {
                tracing::debug!(peer = %self.peer, from_packet, "play");
                self.end_play(machine, site, None);
                self.start_play(machine);
                Ok(())
            }
            Event::Logging(l) => {
                tracing::debug!(peer = %self.peer, "client log");
                match l.log() {
                    Ok(log) => self.end_play(machine, site, Some(&log)),
                    Err(e) => {
                        tracing::debug!(peer = %self.peer, error = %e, "unreadable client log")
                    }
                }
                Ok(())
            }
            Event::CloseRequested => {
                tracing::debug!(peer = %self.peer, "CloseFile");
                Ok(())
            }
            // Events the machine learns later are seen in the log, not lost.
            other => {
                tracing::debug!(peer = %self.peer, event = ?other, "event");
                Ok(())
            }
        }
    }

    /// [3.2.5.6] OpenFile: redirect, open (a file or a playlist), or refuse.
    fn open(
        &mut self,
        machine: &mut ServerMachine,
        name: &str,
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        self.end_play(machine, site, None);
        if let Some(url) = site.live.redirect(name.trim_start_matches('/')) {
            tracing::info!(peer = %self.peer, file = %name, %url, "redirect");
            site.metrics.redirected();
            return machine.redirect_open(&url, false);
        }
        let opened = if is_playlist(name) {
            site.root.playlist(name).and_then(|entries| {
                self.playlist = entries.into();
                self.next_content(site)
            })
        } else {
            self.playlist.clear();
            site.root.open(name)
        };
        match opened {
            Ok(c) => {
                let media = if is_playlist(name) {
                    self.entry_media(&c)
                } else {
                    c.media()
                };
                tracing::info!(peer = %self.peer, file = %name, packets = media.packet_count, "open");
                self.content = Some(c);
                self.uri = format!("/{}", name.trim_start_matches('/'));
                site.metrics.opened();
                machine.accept_open(media)
            }
            Err(err) => {
                tracing::info!(peer = %self.peer, file = %name, %err, "open refused");
                site.metrics.open_refused(&err);
                machine.reject_open(match err {
                    ContentError::Forbidden => HResult::E_ACCESSDENIED,
                    ContentError::NotFound => HResult::NS_E_FILE_NOT_FOUND,
                    ContentError::Invalid(_) => HResult::E_FAIL,
                })
            }
        }
    }

    /// Opens the next playable playlist entry (skipping broken ones).
    fn next_content(&mut self, site: Site<'_>) -> Result<Content, ContentError> {
        let mut last = ContentError::NotFound;
        while let Some(path) = self.playlist.pop_front() {
            match site.root.open_path(path.clone()) {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(peer = %self.peer, entry = %path.display(), %e, "playlist entry skipped");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// What the machine needs of a playlist entry: marked a playlist, and
    /// continuing when more entries wait.
    fn entry_media(&self, c: &Content) -> Media {
        let mut media = c.media();
        media.attributes |= FILE_ATTRIBUTE_MMS_PLAYLIST;
        media.continues = !self.playlist.is_empty();
        media
    }

    /// [3.2.4.2] The entry ended: the next one, or the end.
    pub(crate) fn next_entry(
        &mut self,
        now: Instant,
        machine: &mut ServerMachine,
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        self.end_play(machine, site, None);
        match self.next_content(site) {
            Ok(c) => {
                let media = self.entry_media(&c);
                tracing::info!(peer = %self.peer, entry = %c.path.display(), "next playlist entry");
                self.content = Some(c);
                self.start_play(machine);
                machine.next_entry(now, media)
            }
            Err(_) => machine.end_of_content(now),
        }
    }

    /// The path opened, as the client sent it (with a leading `/`).
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    fn start_play(&mut self, machine: &ServerMachine) {
        self.play = self.new_play(machine);
    }

    /// A play record of what the connection opened, starting now.
    fn new_play(&mut self, machine: &ServerMachine) -> Option<Play> {
        let c = self.content.as_ref()?;
        Some(Play {
            client: self.peer.ip(),
            server: self.local.ip(),
            uri_stem: self.uri.clone(),
            start_ms: std::mem::take(&mut self.seek_ms),
            started: SystemTime::now(),
            file_duration_ms: c.media().duration_ms,
            file_size: c.file_len(),
            player_version: machine.client_version().map(|v| v.to_string()),
            bytes_sent: 0,
            packets_sent: 0,
            udp: machine.udp_destination().is_some(),
        })
    }

    /// Logs the play in progress, if any (a client log without one is
    /// logged against what the connection last opened).
    pub(crate) fn end_play(
        &mut self,
        machine: &ServerMachine,
        site: Site<'_>,
        log: Option<&ClientLogRepr<'_>>,
    ) {
        let play = self.play.take();
        let Some(access_log) = &site.options.access_log else {
            return;
        };
        let play = match (play, log) {
            (Some(p), _) => p,
            (None, Some(_)) => match self.new_play(machine) {
                Some(p) => p,
                None => return,
            },
            (None, None) => return,
        };
        access_log.record(&play, log, SystemTime::now());
    }
}
