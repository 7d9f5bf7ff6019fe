//! The runtime's answers to what the machine asks the application
//! ([`Event`]s and [`Drained::NextEntry`](mms_proto::server::Drained)):
//! which content a path names (the content root, the redirect table,
//! server-side playlists), where a time seek lands, and the access log.
//! No sockets and no event loop here: this is the server's policy, where
//! authentication is decided ([`crate::auth_policy`]: which opens need
//! identification; the machine runs the exchange) and where a listener of
//! a live publishing point joins ([`crate::live`]).

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
    pub(crate) metrics: &'a crate::metrics::Metrics,
    pub(crate) live: &'a crate::reload::Live,
    pub(crate) points: &'a crate::live::Points,
}

/// What an open resolved to.
#[derive(Debug)]
enum Opened {
    File(Result<Content, ContentError>),
    Live(std::sync::Arc<crate::live::point::Point>),
}

/// One session's side of the policy: what it opened and is playing.
#[derive(Debug)]
pub(crate) struct Answers {
    peer: SocketAddr,
    local: SocketAddr,
    /// The open file (or playlist entry).
    pub(crate) content: Option<Content>,
    /// The open publishing point.
    pub(crate) live: Option<crate::live::LiveOpen>,
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
    pending: Option<(Opened, String)>,
    /// Who the client identified as for the open content.
    user: Option<String>,
}

impl Answers {
    pub(crate) fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Self {
            peer,
            local,
            content: None,
            live: None,
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
                machine.seek_to(now, packet)?;
                // The play the seek answered starts now (for the access log).
                self.end_play(machine, site, None);
                self.start_play(machine);
                Ok(())
            }
            Event::JoinLive => {
                self.join(now, machine)?;
                self.end_play(machine, site, None);
                self.start_play(machine);
                Ok(())
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
        self.live = None;
        if let Some(url) = site.live.redirect(name.trim_start_matches('/')) {
            tracing::info!(peer = %self.peer, file = %name, %url, "redirect");
            site.metrics.redirected();
            return machine.redirect_open(&url, false);
        }
        if let Some(point) = site.points.get(name) {
            self.playlist.clear();
            let opened = Opened::Live(point.clone());
            if let Some(policy) = site.options.auth.as_deref()
                && policy.protects(name, site.root.path(), &[])
            {
                self.pending = Some((opened, name.to_string()));
                return self.identify(now, machine, token, site);
            }
            return self.serve(machine, name, opened, site);
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
                self.pending = Some((Opened::File(opened), name.to_string()));
                return self.identify(now, machine, token, site);
            }
        }
        self.serve(machine, name, Opened::File(opened), site)
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
                self.serve(machine, &name, opened, site)
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
        opened: Opened,
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        let opened = match opened {
            Opened::File(f) => f,
            Opened::Live(point) => return self.serve_live(machine, name, point, site),
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

    /// Serves a publishing point: at once when it broadcasts, else when
    /// its source's first header comes ([`Self::live_check`]); refused
    /// when it has stopped for good.
    fn serve_live(
        &mut self,
        machine: &mut ServerMachine,
        name: &str,
        point: std::sync::Arc<crate::live::point::Point>,
        site: Site<'_>,
    ) -> Result<(), ServerError> {
        use crate::live::point::Status;
        self.content = None;
        self.uri = format!("/{}", name.trim_start_matches('/'));
        if point.status() == Status::Stopped && point.always() {
            tracing::info!(peer = %self.peer, point = point.name(), "open refused: not broadcasting");
            site.metrics.open_refused(&ContentError::NotFound);
            return machine.reject_open(HResult::NS_E_FILE_NOT_FOUND);
        }
        site.metrics.opened();
        self.live = Some(crate::live::LiveOpen::new(point));
        self.live_check(Instant(0), machine)
    }

    /// A live session's view of its point, before each drive: the open
    /// is answered once the point has a header; a new run is the
    /// playlist-style change (or closes a session not playing); the end
    /// of the run ends the play. `Err` ends the session.
    pub(crate) fn live_check(
        &mut self,
        now: Instant,
        machine: &mut ServerMachine,
    ) -> Result<(), ServerError> {
        use crate::live::point::Status;
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        let status = live.point.status();
        match (&live.run, status) {
            (None, Status::Live(_)) => {
                let Some(run) = live.point.current() else {
                    return Ok(());
                };
                tracing::info!(peer = %self.peer, point = live.point.name(), run = run.id, "open");
                let media = run.media;
                live.run = Some(run);
                machine.accept_open(media)
            }
            (None, Status::Stopped) if live.point.always() => {
                tracing::info!(peer = %self.peer, point = live.point.name(), "open refused: the point stopped");
                self.live = None;
                machine.reject_open(HResult::NS_E_FILE_NOT_FOUND)
            }
            // [3.2.4.2] hr 1, then ReportStreamChange and the new header. A
            // session not playing (between plays, or still reading a
            // header) learns of it at its next join.
            (Some(run), Status::Live(id)) if id != run.id => {
                machine.live_change(now)?;
                Ok(())
            }
            (Some(_), Status::Starting | Status::Stopped) if !live.ended => {
                live.ended = true;
                tracing::info!(peer = %self.peer, point = live.point.name(), "the point's run ended");
                machine.end_of_content(now)
            }
            _ => Ok(()),
        }
    }

    /// [3.2.5.11] A live play joins: at the newest packet where every
    /// selected stream starts cleanly; a run that is over ends at once.
    fn join(&mut self, now: Instant, machine: &mut ServerMachine) -> Result<(), ServerError> {
        let Some(live) = self.live.as_ref() else {
            return Err(ServerError::Misuse("a live join without a point"));
        };
        let Some(run) = live.run.as_ref() else {
            return Err(ServerError::Misuse("a live join before the header"));
        };
        let needs = machine.clean_start_needs();
        match live.point.join(run.id, needs) {
            Some(at) => {
                tracing::debug!(peer = %self.peer, point = live.point.name(), packet = at, "join");
                machine.seek_to(now, at)
            }
            // The run changed since this session's header: the play
            // starts with the change (hr 1, ReportStreamChange, the new
            // header), then the client joins again.
            None if live.point.current().is_some() => {
                machine.seek_to(now, 0)?;
                machine.live_change(now).map(drop)
            }
            // The point is off the air: the play ends at once.
            None => {
                machine.seek_to(now, 0)?;
                machine.end_of_content(now)
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
        if let Some(live) = self.live.as_mut() {
            // A live point's new run.
            let Some(run) = live.point.current() else {
                return machine.end_of_content(now);
            };
            tracing::info!(peer = %self.peer, point = live.point.name(), run = run.id, "the point's header changed");
            let media = run.media;
            live.run = Some(run);
            live.ended = false;
            self.start_play(machine);
            return machine.next_entry(now, media);
        }
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
        let (duration, size) = match (&self.content, &self.live) {
            (Some(c), _) => (c.media().duration_ms, c.file_len()),
            (None, Some(_)) => (0, 0),
            (None, None) => return None,
        };
        Some(Play {
            client: self.peer.ip(),
            server: self.local.ip(),
            uri_stem: self.uri.clone(),
            start_ms: std::mem::take(&mut self.seek_ms),
            started: SystemTime::now(),
            file_duration_ms: duration,
            file_size: size,
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
