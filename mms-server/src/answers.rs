//! The runtime's answers to what the machine asks the application
//! ([`Event`]s and [`Drained::NextEntry`](mms_proto::server::Drained)):
//! which content a path names (the content root, the redirect table,
//! server-side playlists), where a time seek lands, and the access log.
//! No sockets and no event loop here: this is the server's policy, where
//! authentication is decided ([`crate::auth_policy`]: which opens need
//! identification; the machine runs the exchange) and live publishing
//! points will be too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use mms_proto::server::{Authn, Event, Media, ServerError, ServerMachine};
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
    /// An open waiting for identification: what it resolved to, and the
    /// path as the client sent it.
    pending: Option<(Result<Content, ContentError>, String)>,
    /// Who the client identified as for the open content.
    user: Option<String>,
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
            pending: None,
            user: None,
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
            Event::OpenRequest { file_name, token } => {
                let name = file_name.to_string_lossy();
                self.open(now, machine, &name, token, site)
            }
            Event::SecurityResponse { token } => self.identify(now, machine, token, site),
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

    /// [3.2.5.6] OpenFile: redirect, open (a file or a playlist), or
    /// refuse; a protected path is served only once the client identified
    /// (`token` is OpenFile's tokenData).
    fn open(
        &mut self,
        now: Instant,
        machine: &mut ServerMachine,
        name: &str,
        token: &[u8],
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        self.end_play(machine, site, None);
        self.pending = None;
        self.user = None;
        if let Some(url) = site.options.redirects.get(name.trim_start_matches('/')) {
            tracing::info!(peer = %self.peer, file = %name, %url, "redirect");
            return machine.redirect_open(url, false);
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
        if let Some(policy) = site.options.auth.as_deref() {
            let mut resolved: Vec<&std::path::Path> =
                self.playlist.iter().map(|p| p.as_path()).collect();
            let list = is_playlist(name)
                .then(|| site.root.resolve(name).ok())
                .flatten();
            resolved.extend(list.as_deref());
            if let Ok(c) = &opened {
                resolved.push(&c.path);
            }
            if policy.protects(name, site.root.path(), &resolved) {
                self.pending = Some((opened, name.to_string()));
                return self.identify(now, machine, token, site);
            }
        }
        self.serve(machine, name, opened)
    }

    /// [3.2.5.6], [3.2.5.7] Credentials for the pending open, to the
    /// machine; served once it grants them.
    fn identify(
        &mut self,
        now: Instant,
        machine: &mut ServerMachine,
        token: &[u8],
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        let (Some(policy), Some((_, name))) = (site.options.auth.as_deref(), &self.pending) else {
            tracing::debug!(peer = %self.peer, "credentials for no protected open");
            return machine.reject_open(HResult::E_ACCESSDENIED);
        };
        let ip = self.peer.ip();
        if policy.blocked(ip) {
            tracing::warn!(peer = %self.peer, file = %name, "open refused: too many failed logins from this address");
            self.pending = None;
            return machine.reject_open(HResult::E_ACCESSDENIED);
        }
        let Some(authority) = policy.authority() else {
            tracing::error!("no randomness from the OS: protected open refused");
            self.pending = None;
            return machine.reject_open(HResult::E_FAIL);
        };
        match machine.authenticate_open(now, token, &authority)? {
            Authn::Granted(user) => {
                let Some((opened, name)) = self.pending.take() else {
                    return Ok(());
                };
                tracing::info!(peer = %self.peer, file = %name, user = %user, "identified");
                self.user = Some(user.as_str().to_string());
                self.serve(machine, &name, opened)
            }
            Authn::Challenged { failed } => {
                if failed {
                    policy.failed(ip);
                    tracing::info!(peer = %self.peer, file = %name, "wrong credentials: challenged again");
                } else {
                    tracing::debug!(peer = %self.peer, file = %name, "challenged");
                }
                Ok(())
            }
            Authn::Denied => {
                policy.failed(ip);
                tracing::warn!(peer = %self.peer, file = %name, "access denied: too many wrong credentials");
                self.pending = None;
                Ok(())
            }
        }
    }

    /// Serves what an open resolved to, or refuses it.
    fn serve(
        &mut self,
        machine: &mut ServerMachine,
        name: &str,
        opened: Result<Content, ContentError>,
    ) -> Result<(), ServerError> {
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
                machine.accept_open(media)
            }
            Err(err) => {
                tracing::info!(peer = %self.peer, file = %name, %err, "open refused");
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
            user: self.user.clone(),
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
