//! Settings: defaults, a TOML file (`--config FILE`), and command-line
//! flags over both. Every field of the file is optional; an unknown key is
//! an error (a typo should not pass silently).
//!
//! ```toml
//! listen = "0.0.0.0:1755"      # address and port
//! root = "/srv/media"          # folder served (default: the bundled demo)
//! threads = 0                  # event loops; 0 = one per core
//! paced = true                 # false: as fast as the client reads
//! access_log = "access.log"    # W3C log file; "-" = standard output
//! max_sessions = 19680         # connections beyond this are refused (default: the fd limit − 320)
//! keepalive_secs = 30          # Ping interval while playing ([3.2.2], [3.2.6.1])
//! idle_timeout_secs = 3600     # Idle-Timeout ([3.2.2], [3.2.6.2])
//! setup_timeout_secs = 30      # a client not at OpenFile by then is closed; 0 = no limit
//! linger_secs = 3.0            # kept open after EndOfStream (interop-notes)
//! strict = false               # true: refuse what real clients get wrong
//! max_queued_bytes = 1048576   # unsent output per session (backpressure)
//! max_input_bytes = 131072     # unparsed input per session
//! max_command_bytes = 65536    # longest command a client may send
//! udp = true                   # Data over UDP when a client asks (UDP port = the TCP port)
//! resend_window_secs = 5.0     # how long sent UDP packets are kept for resend requests
//! resend_budget_percent = 100  # resent bytes/s per session, % of the content bit rate
//! udp_end_delay_secs = 1.0     # EndOfStream waits this long after the last UDP packet
//! pid_file = "/run/mms-server/mms-server.pid"  # for `mms-server reload`; default: none
//!
//! [redirects]                  # path → where the client is sent ([2.2.4.9])
//! "old/show.wmv" = "mms://media.example.org/show.wmv"
//! ```
//!
//! The `[auth]` section (users file, schemes, protected paths) is
//! described in [`crate::auth_settings`]; `[admin]` (the HTTP listener for
//! metrics, status and announcements) in [`crate::admin`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mms_proto::server::Config;

use crate::Options;
use mms_proto::time::Duration;
use serde::Deserialize;

/// Everything the server can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Folder to serve; `None`: the bundled demo folder.
    pub root: Option<PathBuf>,
    /// Event loops (threads); 0 = one per core.
    pub threads: usize,
    /// Pace data at the content's bit rate ([3.2.5.8.1]).
    pub paced: bool,
    /// W3C access log file (`-`: standard output); `None`: no log.
    pub access_log: Option<PathBuf>,
    /// Connections served at once; more are refused.
    pub max_sessions: usize,
    /// KeepAlive Ping interval, s.
    pub keepalive_secs: u64,
    /// Idle-Timeout, s.
    pub idle_timeout_secs: u64,
    /// A session that has not got to ReportOpenFile this long after it
    /// connected is closed, s (0: no limit).
    pub setup_timeout_secs: u64,
    /// How long a connection stays open after EndOfStream, s.
    pub linger_secs: f64,
    /// Refuse what the spec forbids even where real clients do it.
    pub strict: bool,
    /// Unsent output a session may queue before it stops producing.
    pub max_queued_bytes: usize,
    /// Unparsed input a session may hold before it is closed.
    pub max_input_bytes: usize,
    /// The longest TcpMessageHeader packet a client may send (framing
    /// refuses longer ones before buffering them).
    pub max_command_bytes: usize,
    /// Send Data over UDP when a client asks for it ([3.2.5.5]), from a
    /// UDP socket on the TCP port's number.
    pub udp: bool,
    /// How long copies of UDP Data packets are kept for resend requests, s.
    pub resend_window_secs: f64,
    /// Resent bytes per second a session may send, as a percentage of the
    /// content bit rate ([3.2.5.13]; the bound that keeps the server from
    /// being an amplifier).
    pub resend_budget_percent: u32,
    /// How long EndOfStream waits after a play's last UDP packet, s.
    pub udp_end_delay_secs: f64,
    /// Paths (as clients send them, without the leading `/`) answered with
    /// ReportRedirect to the URL given.
    pub redirects: std::collections::BTreeMap<String, String>,
    /// `[auth]`: users, schemes and protected paths; `None`: no
    /// authentication.
    pub auth: Option<crate::auth_settings::AuthSettings>,
    /// Where the server writes its process id (for `mms-server reload`).
    pub pid_file: Option<PathBuf>,
    /// `[admin]`: the HTTP listener; `None`: off.
    pub admin: Option<crate::admin::AdminSettings>,
    /// `[[live]]`: publishing points ([`crate::live::settings`]).
    pub live: Vec<crate::live::LiveSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        let c = Config::default();
        let o = Options::new(c);
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 1755)),
            root: None,
            threads: 0,
            paced: c.paced,
            access_log: None,
            max_sessions: o.max_sessions,
            keepalive_secs: c.keepalive.0 / 1_000_000,
            idle_timeout_secs: c.idle_timeout.0 / 1_000_000,
            setup_timeout_secs: 30,
            linger_secs: c.linger.map_or(0.0, |d| d.0 as f64 / 1e6),
            strict: c.strict,
            max_queued_bytes: o.max_queued,
            max_input_bytes: o.max_input,
            max_command_bytes: o.limits.max_command_len,
            udp: true,
            resend_window_secs: c.resend_window.0 as f64 / 1e6,
            resend_budget_percent: c.resend_budget_percent,
            udp_end_delay_secs: c.udp_end_delay.0 as f64 / 1e6,
            redirects: Default::default(),
            auth: None,
            pid_file: None,
            admin: None,
            live: Vec::new(),
        }
    }
}

/// Why settings could not be read.
#[derive(Debug)]
pub enum SettingsError {
    /// The file could not be read.
    Io(PathBuf, std::io::Error),
    /// The file is not valid TOML for [`Settings`].
    Toml(PathBuf, toml::de::Error),
    /// A value is out of range.
    Invalid(&'static str),
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            Self::Toml(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Io(path.into(), e))?;
        let s: Settings = toml::from_str(&text).map_err(|e| SettingsError::Toml(path.into(), e))?;
        s.check()?;
        Ok(s)
    }

    /// Checks ranges.
    pub fn check(&self) -> Result<(), SettingsError> {
        if !(0.0..=3600.0).contains(&self.linger_secs) {
            return Err(SettingsError::Invalid("linger_secs must be 0..=3600"));
        }
        if self.keepalive_secs == 0 || self.idle_timeout_secs == 0 {
            return Err(SettingsError::Invalid(
                "keepalive_secs and idle_timeout_secs must be > 0",
            ));
        }
        if self.max_sessions == 0 {
            return Err(SettingsError::Invalid("max_sessions must be > 0"));
        }
        if self.max_queued_bytes < 128 * 1024 || self.max_input_bytes < 64 * 1024 {
            return Err(SettingsError::Invalid(
                "max_queued_bytes must be ≥ 131072 and max_input_bytes ≥ 65536 (a packet and a message)",
            ));
        }
        // A Logging message with its CLIENT_LOG is 1,504 bytes, a
        // TcpMessageHeader packet with one 1,520: 4 KiB leaves room for
        // every message a client sends.
        if !(4096..=self.max_input_bytes).contains(&self.max_command_bytes) {
            return Err(SettingsError::Invalid(
                "max_command_bytes must be ≥ 4096 and ≤ max_input_bytes",
            ));
        }
        if !(0.5..=60.0).contains(&self.resend_window_secs) {
            return Err(SettingsError::Invalid(
                "resend_window_secs must be 0.5..=60",
            ));
        }
        if !(1..=1000).contains(&self.resend_budget_percent) {
            return Err(SettingsError::Invalid(
                "resend_budget_percent must be 1..=1000",
            ));
        }
        if !(0.0..=10.0).contains(&self.udp_end_delay_secs) {
            return Err(SettingsError::Invalid("udp_end_delay_secs must be 0..=10"));
        }
        if self.redirects.values().any(|url| url.len() >= 512) {
            return Err(SettingsError::Invalid(
                "a redirect URL must be shorter than 512 bytes",
            ));
        }
        if let Some(auth) = &self.auth {
            auth.check()?;
        }
        if let Some(admin) = &self.admin {
            admin.check()?;
        }
        crate::live::settings::check_all(&self.live)?;
        Ok(())
    }

    /// The session machine's settings.
    pub fn session(&self) -> Config {
        Config {
            keepalive: Duration::from_secs(self.keepalive_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            setup_timeout: (self.setup_timeout_secs > 0)
                .then(|| Duration::from_secs(self.setup_timeout_secs)),
            linger: (self.linger_secs > 0.0).then_some(Duration((self.linger_secs * 1e6) as u64)),
            paced: self.paced,
            strict: self.strict,
            udp: self.udp,
            resend_window: Duration((self.resend_window_secs * 1e6) as u64),
            resend_budget_percent: self.resend_budget_percent,
            udp_end_delay: Duration((self.udp_end_delay_secs * 1e6) as u64),
            auth: self.auth.as_ref().map(crate::auth_policy::offer),
            ..Config::default()
        }
    }

    /// The runtime's options (no access log and no users: the caller
    /// opens the log and reads the users file).
    pub fn options(&self) -> Options {
        Options {
            session: self.session(),
            loops: self.loops(),
            max_sessions: self.max_sessions,
            max_queued: self.max_queued_bytes,
            max_input: self.max_input_bytes,
            limits: mms_proto::wire::Limits {
                max_command_len: self.max_command_bytes,
            },
            access_log: None,
            redirects: std::sync::Arc::new(self.redirects.clone()),
            auth: None,
            live: self.live.clone(),
        }
    }

    /// Event loops to run: `threads`, or one per core.
    pub fn loops(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let s: Settings = toml::from_str(&example).unwrap();
        s.check().unwrap();
        assert_eq!(s.root, Some(PathBuf::from("/srv/media")));
        assert_eq!(s.access_log, Some(PathBuf::from("access.log")));
        assert_eq!(s.session().linger, Some(Duration::from_secs(3)));
        assert_eq!(
            s.redirects.get("old/show.wmv").map(String::as_str),
            Some("mms://media.example.org/show.wmv")
        );
        // The example shows the defaults (but for root, the log, the pid
        // file and the redirect).
        assert_eq!(
            Settings {
                root: None,
                access_log: None,
                redirects: Default::default(),
                pid_file: None,
                ..s
            },
            Settings::default()
        );
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(toml::from_str::<Settings>("pacde = false").is_err());
        assert!(toml::from_str::<Settings>("threads = -1").is_err());
        let s: Settings = toml::from_str("linger_secs = -1.0").unwrap();
        assert!(s.check().is_err());
        let s: Settings = toml::from_str("linger_secs = 0.0").unwrap();
        assert_eq!(s.session().linger, None);
    }
}
