//! `[[live]]` publishing points in the settings file.
//!
//! ```toml
//! [[live]]
//! name = "radio"               # clients open mms://host/radio
//! command = ["ffmpeg", "-re", "-f", "lavfi", "-i", "sine=f=440", "-c:a", "wmav2", "-b:a", "64k", "-f", "asf", "-"]
//! start = "always"             # or "on-demand": with the first listener
//! idle_stop_secs = 30          # on-demand: stop this long after the last listener leaves
//! buffer_secs = 10             # packets kept for joiners and slow listeners
//! restart_max_secs = 30        # a source that dies is restarted, backing off to this
//! archive = "/srv/archive"     # one seekable ASF file per run, written here
//!
//! [[live]]
//! name = "channel1"
//! file = "shows/evening.wmv"   # in the content root; a .m3u or .asx plays its entries
//! loop = true                  # start over at the end (else the point stops)
//!
//! [[live]]
//! name = "relay"
//! url = "mms://origin.example.org/radio"   # pull from another MMS server
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::SettingsError;

/// When a point's source runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// From the server's start, listeners or not.
    #[default]
    Always,
    /// With the first listener; stopped `idle_stop_secs` after the last
    /// one leaves.
    OnDemand,
}

/// One publishing point: a name clients open and exactly one source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSettings {
    /// The path clients open (`mms://host/NAME`), without a leading `/`.
    pub name: String,
    /// A program writing ASF (plain, or `-f asf_stream`) on its standard
    /// output; its standard error goes to the log.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A file (or `.m3u`/`.asx` playlist) in the content root, played in
    /// real time by its Send Times.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// `file`: start over at its end (else the point stops there).
    #[serde(default = "yes", rename = "loop")]
    pub looped: bool,
    /// Another MMS server's point or file (`mms://`, `mmst://`), pulled
    /// by one upstream session for every local listener.
    #[serde(default)]
    pub url: Option<String>,
    /// When the source runs.
    #[serde(default)]
    pub start: Start,
    /// `on-demand`: how long the source goes on after the last listener
    /// left, s.
    #[serde(default = "idle_stop")]
    pub idle_stop_secs: f64,
    /// Content time the point keeps (for joiners to start at a key frame,
    /// and for listeners that fall behind), s.
    #[serde(default = "buffer")]
    pub buffer_secs: f64,
    /// The longest wait before a dead source is started again, s (the
    /// wait starts at 1 s and doubles).
    #[serde(default = "restart_max")]
    pub restart_max_secs: f64,
    /// A folder where each run of the point is written as a seekable ASF
    /// file.
    #[serde(default)]
    pub archive: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn idle_stop() -> f64 {
    30.0
}
fn buffer() -> f64 {
    10.0
}
fn restart_max() -> f64 {
    30.0
}

/// Where a point's ASF comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// A program's standard output.
    Command(Vec<String>),
    /// A file or playlist of the content root, paced by Send Time.
    File {
        /// As written in the settings (relative to the content root).
        path: PathBuf,
        /// Start over at the end.
        looped: bool,
    },
    /// Another MMS server.
    Url(String),
}

impl LiveSettings {
    /// The one source named.
    pub fn source(&self) -> Result<SourceKind, SettingsError> {
        match (&self.command, &self.file, &self.url) {
            (Some(c), None, None) if !c.is_empty() => Ok(SourceKind::Command(c.clone())),
            (None, Some(f), None) => Ok(SourceKind::File {
                path: f.clone(),
                looped: self.looped,
            }),
            (None, None, Some(u)) => Ok(SourceKind::Url(u.clone())),
            _ => Err(SettingsError::Invalid(
                "a [[live]] point needs exactly one of command (not empty), file, url",
            )),
        }
    }

    /// Checks names and ranges.
    pub fn check(&self) -> Result<(), SettingsError> {
        self.source()?;
        let name = self.name.trim_start_matches('/');
        if name.is_empty() || name.len() > 255 || name.contains("..") || name.contains('\\') {
            return Err(SettingsError::Invalid(
                "a [[live]] name must be 1..=255 bytes without `..` or `\\`",
            ));
        }
        if !(1.0..=600.0).contains(&self.buffer_secs) {
            return Err(SettingsError::Invalid("live buffer_secs must be 1..=600"));
        }
        if !(0.0..=86_400.0).contains(&self.idle_stop_secs) {
            return Err(SettingsError::Invalid(
                "live idle_stop_secs must be 0..=86400",
            ));
        }
        if !(1.0..=3600.0).contains(&self.restart_max_secs) {
            return Err(SettingsError::Invalid(
                "live restart_max_secs must be 1..=3600",
            ));
        }
        Ok(())
    }
}

/// Checks a list of points: each valid, no name twice.
pub fn check_all(points: &[LiveSettings]) -> Result<(), SettingsError> {
    let mut names = std::collections::BTreeSet::new();
    for p in points {
        p.check()?;
        if !names.insert(p.name.trim_start_matches('/').to_ascii_lowercase()) {
            return Err(SettingsError::Invalid("two [[live]] points have one name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        live: Vec<LiveSettings>,
    }

    #[test]
    fn the_documented_example_parses() {
        let example: String = include_str!("settings.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let doc: Doc = toml::from_str(&example).unwrap();
        check_all(&doc.live).unwrap();
        assert!(matches!(doc.live[0].source(), Ok(SourceKind::Command(_))));
        assert_eq!(doc.live[0].archive, Some(PathBuf::from("/srv/archive")));
        assert!(matches!(
            doc.live[1].source(),
            Ok(SourceKind::File { looped: true, .. })
        ));
        assert_eq!(doc.live[1].start, Start::Always);
        assert!(matches!(doc.live[2].source(), Ok(SourceKind::Url(_))));
    }

    #[test]
    fn a_point_needs_one_source_and_a_unique_name() {
        let two: Doc =
            toml::from_str("[[live]]\nname = \"a\"\nfile = \"x.wmv\"\nurl = \"mms://h/a\"\n")
                .unwrap();
        assert!(check_all(&two.live).is_err());
        let none: Doc = toml::from_str("[[live]]\nname = \"a\"\n").unwrap();
        assert!(check_all(&none.live).is_err());
        let twice: Doc = toml::from_str(
            "[[live]]\nname = \"a\"\nfile = \"x.wmv\"\n[[live]]\nname = \"A\"\nfile = \"y.wmv\"\n",
        )
        .unwrap();
        assert!(check_all(&twice.live).is_err());
        assert!(toml::from_str::<Doc>("[[live]]\nname = \"a\"\nfiel = \"x\"\n").is_err());
    }
}
