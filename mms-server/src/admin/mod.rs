//! The admin HTTP listener, off by default: `/metrics` (Prometheus text
//! format, [`crate::metrics`]), `/` (a status page that refreshes itself)
//! and `/NAME.asx`, `/NAME.nsc` (announcement files that make a browser
//! hand `mms://host/NAME` to the user's player). It runs on a thread of
//! its own (tiny_http's, plus one that answers), reading counters the
//! event loops keep with relaxed atomics: nothing it does waits on, or
//! delays, a stream.
//!
//! ```toml
//! [admin]
//! listen = "127.0.0.1:8080"         # loopback unless allow_remote
//! allow_remote = false              # true: any address, and a token is required
//! token = "a-long-random-string"    # then /metrics and / need `Authorization: Bearer TOKEN`
//! public_name = "media.example.org" # host of the announced mms:// URLs when a request has no Host
//! refresh_secs = 5                  # the status page's refresh interval
//! ```
//!
//! A token, when set, is asked for on every address (loopback too) for
//! `/metrics` and `/`; announcements never need it (a browser following a
//! link cannot send it, and they tell no more than the MMS port does).
//! The token is never logged.

mod announce;
mod page;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde::Deserialize;
use tiny_http::{Header, Method, Request, Response};

use crate::config::SettingsError;
use crate::content::ContentRoot;
use crate::metrics::Metrics;

/// A bearer token: compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token of this text.
    pub fn new(text: &str) -> Self {
        Self(text.to_string())
    }

    /// True when `given` is this token; the time taken does not depend on
    /// where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        let want = self.0.as_bytes();
        want.len() == given.len() && want.iter().zip(given).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// `[admin]`: the HTTP listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Address and port; a loopback address unless `allow_remote`.
    pub listen: SocketAddr,
    /// Listen on a non-loopback address (needs a `token`).
    #[serde(default)]
    pub allow_remote: bool,
    /// Bearer token `/metrics` and `/` ask for, if set.
    #[serde(default)]
    pub token: Option<Token>,
    /// Host of the announced `mms://` URLs when a request names none.
    #[serde(default)]
    pub public_name: Option<String>,
    /// The status page's refresh interval, s.
    #[serde(default = "default_refresh")]
    pub refresh_secs: u32,
}

fn default_refresh() -> u32 {
    5
}

impl AdminSettings {
    /// Off-loopback needs `allow_remote` and a token; a token is 16 to 256
    /// visible ASCII characters; `public_name` is a host name or address.
    pub fn check(&self) -> Result<(), SettingsError> {
        let remote_ok = self.allow_remote && self.token.is_some();
        if !(self.listen.ip().is_loopback() || remote_ok) {
            return Err(SettingsError::Invalid(
                "[admin] listen is not a loopback address: that needs allow_remote = true and a token",
            ));
        }
        if let Some(t) = &self.token {
            if !(16..=256).contains(&t.0.len()) || !t.0.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(SettingsError::Invalid(
                    "[admin] token must be 16 to 256 visible ASCII characters",
                ));
            }
        }
        if let Some(name) = &self.public_name {
            if announce::host(name).is_none() {
                return Err(SettingsError::Invalid(
                    "[admin] public_name must be a host name or an IP address",
                ));
            }
        }
        if !(1..=3600).contains(&self.refresh_secs) {
            return Err(SettingsError::Invalid(
                "[admin] refresh_secs must be 1..=3600",
            ));
        }
        Ok(())
    }
}

/// What the listener shows: the server's figures and content.
#[derive(Debug, Clone)]
pub struct Site {
    /// The server's counters and session snapshots.
    pub metrics: Arc<Metrics>,
    /// The folder served (announcements resolve in it).
    pub root: ContentRoot,
    /// The MMS listening address (its port goes into announced URLs).
    pub mms: SocketAddr,
}

/// The running listener; stops when dropped.
pub struct Admin {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long a request waits for the loops' session snapshots.
const SNAPSHOT_WAIT: StdDuration = StdDuration::from_millis(300);

impl Admin {
    /// Listens on `settings.listen` and answers on a thread of its own.
    pub fn start(settings: &AdminSettings, site: Site) -> std::io::Result<Self> {
        let http = tiny_http::Server::http(settings.listen).map_err(|e| {
            std::io::Error::other(format!("admin listener {}: {e}", settings.listen))
        })?;
        let addr = http.server_addr().to_ip().unwrap_or(settings.listen);
        let http = Arc::new(http);
        let server = http.clone();
        let settings = settings.clone();
        let thread = std::thread::Builder::new()
            .name("mms-admin".into())
            .spawn(move || {
                // `recv` returns an error once the server is unblocked.
                while let Ok(request) = server.recv() {
                    answer(request, &settings, &site);
                }
            })?;
        tracing::info!(%addr, "admin listener: /metrics, /, /NAME.asx");
        Ok(Self {
            http,
            addr,
            thread: Some(thread),
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Admin({})", self.addr)
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A header from static text or checked text (`None`: not a valid header).
fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// A response with its type and the headers every answer carries.
fn respond(
    request: Request,
    status: u16,
    content_type: &str,
    body: String,
    extra: &[(&str, &str)],
) {
    let mut r = Response::from_string(body).with_status_code(status);
    let common = [
        ("Content-Type", content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ];
    for (name, value) in common.iter().chain(extra) {
        if let Some(h) = header(name, value) {
            r.add_header(h);
        }
    }
    if let Err(e) = request.respond(r) {
        tracing::debug!(error = %e, "admin: the answer was not taken");
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// True when the request carries the token (or none is asked for).
fn authorized(request: &Request, token: Option<&Token>) -> bool {
    let Some(token) = token else {
        return true;
    };
    request.headers().iter().any(|h| {
        if !h.field.equiv("Authorization") {
            return false;
        }
        let v = h.value.as_bytes();
        v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") && token.matches(&v[7..])
    })
}

fn answer(request: Request, settings: &AdminSettings, site: &Site) {
    if !matches!(request.method(), Method::Get | Method::Head) {
        return respond(
            request,
            405,
            TEXT,
            "GET or HEAD only\n".into(),
            &[("Allow", "GET, HEAD")],
        );
    }
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    tracing::debug!(peer = ?request.remote_addr(), path, "admin request");
    match path {
        "/" | "/metrics" if !authorized(&request, settings.token.as_ref()) => respond(
            request,
            401,
            TEXT,
            "a bearer token is needed\n".into(),
            &[("WWW-Authenticate", "Bearer realm=\"mms-server\"")],
        ),
        "/metrics" => {
            let sessions = site.metrics.sessions(SNAPSHOT_WAIT);
            let body = site.metrics.render(&sessions);
            respond(
                request,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
                &[],
            )
        }
        "/" => {
            let sessions = site.metrics.sessions(SNAPSHOT_WAIT);
            let refresh = page::refresh_from_query(query).unwrap_or(settings.refresh_secs);
            let body = page::status(site, &sessions, refresh);
            respond(
                request,
                200,
                "text/html; charset=utf-8",
                body,
                &[(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                )],
            )
        }
        _ => {
            let host = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Host"))
                .map(|h| h.value.as_str().to_string());
            match announce::answer(path, host.as_deref(), settings.public_name.as_deref(), site) {
                Ok(asx) => respond(request, 200, "video/x-ms-asf", asx, &[]),
                Err((status, why)) => respond(request, status, TEXT, format!("{why}\n"), &[]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Result<AdminSettings, String> {
        let s: AdminSettings = toml::from_str(toml).map_err(|e| e.to_string())?;
        s.check().map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn the_documented_example_parses_and_remote_needs_a_token() {
        let doc = include_str!("mod.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(2) // the fence and `[admin]`
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let s = settings(&example).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(format!("{:?}", s.token), "Some(Token(<redacted>))");
        assert!(settings("listen = \"0.0.0.0:8080\"").is_err());
        assert!(settings("listen = \"0.0.0.0:8080\"\nallow_remote = true").is_err());
        assert!(settings("listen = \"0.0.0.0:8080\"\ntoken = \"0123456789abcdef\"").is_err());
        settings("listen = \"0.0.0.0:8080\"\nallow_remote = true\ntoken = \"0123456789abcdef\"")
            .unwrap();
        settings("listen = \"[::1]:8080\"").unwrap();
        assert!(settings("listen = \"127.0.0.1:8080\"\ntoken = \"short\"").is_err());
        assert!(settings("listen = \"127.0.0.1:8080\"\npublic_name = \"a b\"").is_err());
        assert!(settings("listen = \"127.0.0.1:8080\"\nport = 1").is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        let t = Token::new("0123456789abcdef");
        assert!(t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b"0123456789abcdeF"));
        assert!(!t.matches(b"0123456789abcde"));
        assert!(!t.matches(b""));
    }
}
