//! Reloading settings while the server runs: SIGHUP (or `mms-server
//! reload`, which sends SIGHUP to the process its pid file names) re-reads
//! the settings file and the flags, as at start, and puts in force what can
//! change at run time; SIGUSR1 only reopens the access log (for log
//! rotation).
//!
//! What a reload changes: the `[redirects]` table (for the next OpenFile;
//! sessions already playing keep playing), and the access log is reopened
//! at its path (so a rotated file is let go). Every other setting (the
//! listening address, the root, the limits, the session timers, `[admin]`,
//! `[auth]`) is read and checked, and a changed one is logged as taking
//! effect at the next start. A file that does not read or does not check
//! leaves every setting in force and logs why; `mms_config_last_reload_successful`
//! says so on `/metrics`.
//!
//! The settings a reload changes are in [`Live`], read by the sessions at
//! each OpenFile (a read lock for the moment of one lookup, never on the
//! packet path).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::access_log::AccessLog;
use crate::config::Settings;
use crate::metrics::Metrics;

/// The settings a reload changes, shared by every loop.
#[derive(Debug, Default)]
pub struct Live {
    redirects: RwLock<Arc<BTreeMap<String, String>>>,
}

impl Live {
    /// In force at start: `redirects`.
    pub fn new(redirects: BTreeMap<String, String>) -> Self {
        Self {
            redirects: RwLock::new(Arc::new(redirects)),
        }
    }

    /// Where `path` (without its leading `/`) is redirected, if it is.
    pub fn redirect(&self, path: &str) -> Option<String> {
        self.redirects().get(path).cloned()
    }

    /// The redirect table in force.
    pub fn redirects(&self) -> Arc<BTreeMap<String, String>> {
        self.redirects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `redirects` in force for the next OpenFile.
    pub fn set_redirects(&self, redirects: BTreeMap<String, String>) {
        *self.redirects.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(redirects);
    }
}

/// How settings are read again (the file, then the flags over it).
pub type Read = Box<dyn Fn() -> Result<Settings, String> + Send>;

/// Re-reads settings and puts the run-time ones in force.
pub struct Reloader {
    read: Read,
    running: Settings,
    live: Arc<Live>,
    access_log: Option<Arc<AccessLog>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reloader")
    }
}

/// Settings read again whose change needs a restart, by name.
fn restart_only(running: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! fields {
        ($($f:ident),* $(,)?) => {
            $( if running.$f != new.$f { changed.push(stringify!($f)); } )*
        };
    }
    fields!(
        listen,
        root,
        threads,
        paced,
        access_log,
        max_sessions,
        keepalive_secs,
        idle_timeout_secs,
        setup_timeout_secs,
        linger_secs,
        strict,
        max_queued_bytes,
        max_input_bytes,
        max_command_bytes,
        udp,
        resend_window_secs,
        resend_budget_percent,
        udp_end_delay_secs,
        pid_file,
        admin,
        auth,
    );
    let rest = Settings {
        redirects: running.redirects.clone(),
        ..new.clone()
    };
    if changed.is_empty() && rest != *running {
        changed.push("(another setting)");
    }
    changed
}

impl Reloader {
    /// A reloader of the server whose settings are `running`, its
    /// run-time part in `live`, its access log `access_log`.
    pub fn new(
        read: Read,
        running: Settings,
        live: Arc<Live>,
        access_log: Option<Arc<AccessLog>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            read,
            running,
            live,
            access_log,
            metrics,
        }
    }

    /// Reads the settings again. On success the redirects are replaced
    /// and the access log reopened; the answer names the changed settings
    /// that wait for a restart. On failure nothing changes and the error
    /// says why (both are logged).
    pub fn reload(&mut self) -> Result<Vec<&'static str>, String> {
        let new = match (self.read)() {
            Ok(s) => s,
            Err(e) => {
                self.metrics.reloaded(false);
                tracing::error!(error = %e, "reload failed: the settings in force are kept");
                return Err(e);
            }
        };
        self.reopen_logs();
        if new.redirects != self.running.redirects {
            tracing::info!(redirects = new.redirects.len(), "redirects replaced");
            self.live.set_redirects(new.redirects.clone());
        }
        let restart = restart_only(&self.running, &new);
        for setting in &restart {
            tracing::warn!(
                setting,
                "changed in the settings; takes effect at the next start"
            );
        }
        // What runs: the new redirects, the old rest (so a setting still
        // waiting for a restart is named again at the next reload).
        self.running.redirects = new.redirects;
        self.metrics.reloaded(true);
        tracing::info!("settings reloaded");
        Ok(restart)
    }

    /// Reopens the access log at its path (after a rotation).
    pub fn reopen_logs(&self) {
        if let Some(log) = &self.access_log {
            match log.reopen() {
                Ok(()) => tracing::info!("access log reopened"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reopen the access log; still writing the old one")
                }
            }
        }
    }

    /// Handles SIGHUP (reload) and SIGUSR1 (reopen the access log) on a
    /// thread of its own for the rest of the process's life.
    pub fn on_signals(mut self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGUSR1};
        let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGUSR1])?;
        std::thread::Builder::new()
            .name("mms-reload".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGHUP {
                        tracing::info!("SIGHUP: reloading the settings");
                        let _ = self.reload();
                    } else {
                        self.reopen_logs();
                    }
                }
            })?;
        Ok(())
    }
}

/// The pid file of a running server, removed when dropped.
#[derive(Debug)]
pub struct PidFile(PathBuf);

impl PidFile {
    /// Writes this process's id to `path` (through a temporary file in
    /// the same folder, so a reader never sees half a number).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
        std::fs::rename(&tmp, path)?;
        Ok(Self(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `mms-server reload`: sends SIGHUP to the mms-server whose id is in
/// `pid_file`, after checking that the process is an mms-server (a stale
/// pid file may name another program now).
pub fn signal_running(pid_file: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("cannot read {}: {e}", pid_file.display()))?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{} holds no process id", pid_file.display()))?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_err(|_| {
        format!(
            "no process {pid} (from {}): is the server running?",
            pid_file.display()
        )
    })?;
    if comm.trim() != "mms-server" {
        return Err(format!(
            "process {pid} (from {}) is {}, not mms-server: a stale pid file?",
            pid_file.display(),
            comm.trim()
        ));
    }
    let p = rustix::process::Pid::from_raw(pid).ok_or("a pid of 0 or less")?;
    rustix::process::kill_process(p, rustix::process::Signal::HUP)
        .map_err(|e| format!("cannot signal process {pid}: {e}"))?;
    Ok(pid as u32)
}

/// What runs beside the event loops for the operator: the admin
/// listener and the pid file (both end when this is dropped), and the
/// reload thread.
#[derive(Debug)]
pub struct Operated {
    /// The admin listener, when `[admin]` is set.
    pub admin: Option<crate::admin::Admin>,
    /// The pid file, when `pid_file` is set.
    pub pid_file: Option<PidFile>,
}

/// Starts what `settings` asks for beside `server`: the pid file, the
/// admin listener, and reloading on SIGHUP / SIGUSR1 with `read`.
pub fn operate(
    settings: &Settings,
    server: &crate::Server,
    root: &crate::content::ContentRoot,
    access_log: Option<Arc<AccessLog>>,
    read: Read,
) -> Result<Operated, String> {
    let pid_file = match &settings.pid_file {
        Some(p) => Some(
            PidFile::create(p)
                .map_err(|e| format!("cannot write the pid file {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let mms = server.local_addr().map_err(|e| e.to_string())?;
    let admin = match &settings.admin {
        Some(a) => {
            let site = crate::admin::Site {
                metrics: server.metrics(),
                root: root.clone(),
                mms,
            };
            Some(crate::admin::Admin::start(a, site).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let reloader = Reloader::new(
        read,
        settings.clone(),
        server.live(),
        access_log,
        server.metrics(),
    );
    if let Err(e) = reloader.on_signals() {
        tracing::warn!(error = %e, "cannot handle SIGHUP/SIGUSR1: no reload");
    }
    Ok(Operated { admin, pid_file })
}

/// `mms-server reload [--pid-file FILE] [--config FILE]`.
#[allow(clippy::print_stderr)] // a command's answer to the operator
pub fn command(pid_file: Option<&Path>, config: Option<&Path>) -> std::process::ExitCode {
    use std::process::ExitCode;
    let from_config = match (pid_file, config) {
        (Some(_), _) => None,
        (None, Some(c)) => match Settings::from_file(c) {
            Ok(s) => s.pid_file,
            Err(e) => {
                eprintln!("mms-server reload: {e}");
                return ExitCode::from(2);
            }
        },
        (None, None) => None,
    };
    let Some(path) = pid_file.map(Path::to_path_buf).or(from_config) else {
        eprintln!(
            "mms-server reload: no pid file: give --pid-file FILE, or --config FILE with pid_file set              (under systemd: systemctl reload mms-server)"
        );
        return ExitCode::from(2);
    };
    match signal_running(&path) {
        Ok(pid) => {
            eprintln!(
                "mms-server reload: SIGHUP sent to {pid}; its log says whether the settings were taken"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mms-server reload: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LoopStats;
    use std::sync::Mutex;

    fn settings(toml: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(toml).map_err(|e| e.to_string())?;
        s.check().map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn a_reload_replaces_the_redirects_and_a_bad_file_keeps_them() {
        let file = Arc::new(Mutex::new(String::from(
            "[redirects]\n\"a\" = \"mms://x/1\"\n",
        )));
        let source = file.clone();
        let read: Read = Box::new(move || settings(&source.lock().unwrap()));
        let first = read().unwrap();
        let live = Arc::new(Live::new(first.redirects.clone()));
        let loops: Arc<[LoopStats]> = (0..1).map(|_| LoopStats::default()).collect();
        let metrics = Arc::new(Metrics::new(loops, 1));
        let mut r = Reloader::new(read, first, live.clone(), None, metrics.clone());
        assert_eq!(live.redirect("a").as_deref(), Some("mms://x/1"));

        *file.lock().unwrap() = "[redirects]\n\"a\" = \"mms://x/2\"\n".into();
        assert_eq!(r.reload(), Ok(vec![]));
        assert_eq!(live.redirect("a").as_deref(), Some("mms://x/2"));

        *file.lock().unwrap() = "threads = \"many\"\n[redirects]\n\"a\" = \"mms://x/3\"\n".into();
        assert!(r.reload().is_err());
        assert_eq!(live.redirect("a").as_deref(), Some("mms://x/2"), "kept");

        *file.lock().unwrap() = "threads = 3\n".into();
        assert_eq!(r.reload(), Ok(vec!["threads"]));
        assert_eq!(live.redirect("a"), None);
        let text = metrics.render(&[]);
        assert!(text.contains("mms_config_reloads_total{result=\"success\"} 2\n"));
        assert!(text.contains("mms_config_reloads_total{result=\"failure\"} 1\n"));
        assert!(text.contains("mms_config_last_reload_successful 1\n"));
    }

    #[test]
    fn the_shipped_settings_file_parses() {
        let s = settings(include_str!("../../dist/server.toml")).unwrap();
        assert_eq!(
            s.pid_file,
            Some(PathBuf::from("/run/mms-server/mms-server.pid"))
        );
        assert!(s.admin.is_some());
        // The commented [[live]] example parses once uncommented.
        let shipped = include_str!("../../dist/server.toml");
        let (head, example) = shipped.split_once("# [[live]]").unwrap();
        let example: String = example
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = settings(&format!("{head}[[live]]{example}")).unwrap();
        assert_eq!(s.live.len(), 1);
        assert!(matches!(
            s.live[0].source(),
            Ok(crate::live::SourceKind::Command(_))
        ));
    }

    #[test]
    fn reload_refuses_a_pid_file_naming_another_program() {
        let dir = std::env::temp_dir().join(format!("mms-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid = dir.join("pid");
        let guard = PidFile::create(&pid).unwrap();
        // This test binary is not mms-server: nothing is signalled.
        let e = signal_running(&pid).unwrap_err();
        assert!(e.contains("not mms-server"), "{e}");
        drop(guard);
        assert!(!pid.exists(), "removed when dropped");
        assert!(signal_running(&pid).unwrap_err().contains("cannot read"));
    }
}
