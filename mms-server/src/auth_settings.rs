//! The `[auth]` section of the settings file: who may open which paths.
//!
//! ```toml
//! [auth]
//! users = "users.txt"           # written by `mms-server passwd users.txt NAME` (mode 0600)
//! schemes = ["ntlm", "basic"]   # offered, preferred first
//! realm = "mms-rs"              # the Basic realm
//! protect = ["private/**"]      # paths under the root that need identification
//! max_failures = 3              # wrong answers before E_ACCESSDENIED and close
//! allow_ntlm_v1 = false         # accept NTLMv1 responses (very old players only)
//! ```
//!
//! `protect` holds glob patterns over paths relative to the content root,
//! `/`-separated: `*` and `?` stay inside one path segment, `**` spans any
//! number of segments (`private/**` is everything under `private/`).
//! Matching is case-sensitive, like the file system served.

use std::path::{Component, Path, PathBuf};

use mms_proto::wire::text::AuthenPackage;
use serde::Deserialize;

use crate::config::SettingsError;

/// An authentication scheme the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// NTLM (`[MS-NLMP]`).
    Ntlm,
    /// Basic (RFC 2617).
    Basic,
}

impl Scheme {
    /// The [2.2.4.2] AuthenPackage naming it.
    pub fn package(self) -> AuthenPackage {
        match self {
            Scheme::Ntlm => AuthenPackage::Ntlm,
            Scheme::Basic => AuthenPackage::Basic,
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The users file ([`crate::users`]).
    pub users: PathBuf,
    /// Schemes offered, preferred first.
    #[serde(default = "default_schemes")]
    pub schemes: Vec<Scheme>,
    /// The Basic realm ([2.2.4.14]).
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Glob patterns of the protected paths.
    #[serde(default)]
    pub protect: Vec<String>,
    /// Wrong answers before the server ends the session with
    /// E_ACCESSDENIED.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Accept NTLMv1 responses.
    #[serde(default)]
    pub allow_ntlm_v1: bool,
}

fn default_schemes() -> Vec<Scheme> {
    vec![Scheme::Ntlm, Scheme::Basic]
}

fn default_realm() -> String {
    "mms-rs".into()
}

fn default_max_failures() -> u32 {
    3
}

impl AuthSettings {
    /// Checks the values (not the users file: [`crate::users::Users::load`]).
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.users.as_os_str().is_empty() {
            return Err(SettingsError::Invalid("[auth] users must name a file"));
        }
        if self.schemes.is_empty() {
            return Err(SettingsError::Invalid("[auth] schemes must not be empty"));
        }
        if self.schemes.len() == 2 && self.schemes[0] == self.schemes[1] {
            return Err(SettingsError::Invalid("[auth] schemes names one twice"));
        }
        if self.realm.len() > 128 || self.realm.chars().any(char::is_control) {
            return Err(SettingsError::Invalid(
                "[auth] realm must be at most 128 bytes without control characters",
            ));
        }
        if !(1..=100).contains(&self.max_failures) {
            return Err(SettingsError::Invalid(
                "[auth] max_failures must be 1..=100",
            ));
        }
        Protection::new(&self.protect)?;
        Ok(())
    }

    /// The compiled `protect` patterns.
    pub fn protection(&self) -> Result<Protection, SettingsError> {
        Protection::new(&self.protect)
    }
}

/// Compiled `protect` patterns.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    patterns: Vec<glob::Pattern>,
}

const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Protection {
    /// Compiles patterns; a leading `/` is ignored.
    pub fn new(patterns: &[String]) -> Result<Self, SettingsError> {
        let patterns = patterns
            .iter()
            .map(|p| glob::Pattern::new(p.trim_start_matches('/')))
            .collect::<Result<_, _>>()
            .map_err(|_| SettingsError::Invalid("[auth] protect holds an invalid glob pattern"))?;
        Ok(Self { patterns })
    }

    /// True when no path is protected.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when `rel`, a path relative to the content root, is protected.
    ///
    /// Give it the path the content root **resolved** (canonical, symlinks
    /// followed, made relative to the root), not the fileName from the
    /// wire: a public symlink to a private file, `a//b` or a differently
    /// spelled path must not slip past. Anything but plain segments
    /// (`..`, a root, a prefix) counts as protected.
    pub fn protects(&self, rel: &Path) -> bool {
        let mut s = String::new();
        for c in rel.components() {
            match c {
                Component::Normal(n) => {
                    if !s.is_empty() {
                        s.push('/');
                    }
                    s.push_str(&n.to_string_lossy());
                }
                Component::CurDir => {}
                _ => return !self.patterns.is_empty(),
            }
        }
        self.patterns.iter().any(|p| p.matches_with(&s, MATCH))
    }

    /// [`Self::protects`] for a resolved absolute path under `root`
    /// (both canonical); a path outside the root counts as protected.
    pub fn protects_resolved(&self, root: &Path, full: &Path) -> bool {
        match full.strip_prefix(root) {
            Ok(rel) => self.protects(rel),
            Err(_) => !self.patterns.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("auth_settings.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let s: Settings = toml::from_str(&example).unwrap();
        s.check().unwrap();
        let a = s.auth.unwrap();
        assert_eq!(a.users, PathBuf::from("users.txt"));
        assert_eq!(a.schemes, [Scheme::Ntlm, Scheme::Basic]);
        assert_eq!(
            (a.realm.as_str(), a.max_failures, a.allow_ntlm_v1),
            ("mms-rs", 3, false)
        );
        assert_eq!(a.schemes[0].package(), AuthenPackage::Ntlm);
    }

    #[test]
    fn defaults_and_errors() {
        let s: Settings = toml::from_str("[auth]\nusers = \"u.txt\"\n").unwrap();
        let a = s.auth.clone().unwrap();
        assert_eq!(a.schemes, [Scheme::Ntlm, Scheme::Basic]);
        assert!(a.protect.is_empty());
        s.check().unwrap();
        assert!(Settings::default().auth.is_none());
        for bad in [
            "[auth]\n",                                        // no users
            "[auth]\nusers = \"u\"\nschemes = [\"digest\"]\n", // unknown scheme
            "[auth]\nusers = \"u\"\nprotected = []\n",         // typo
        ] {
            assert!(toml::from_str::<Settings>(bad).is_err(), "{bad}");
        }
        for bad in [
            "[auth]\nusers = \"u\"\nschemes = []\n",
            "[auth]\nusers = \"u\"\nschemes = [\"basic\", \"basic\"]\n",
            "[auth]\nusers = \"u\"\nmax_failures = 0\n",
            "[auth]\nusers = \"u\"\nprotect = [\"a/***\"]\n",
            "[auth]\nusers = \"u\"\nrealm = \"a\\nb\"\n",
            "[auth]\nusers = \"\"\n",
        ] {
            let s: Settings = toml::from_str(bad).unwrap();
            assert!(s.check().is_err(), "{bad}");
        }
    }

    #[test]
    fn protect_globs() {
        let p =
            Protection::new(&["private/**".into(), "/vip/*.wmv".into(), "x?.asf".into()]).unwrap();
        for yes in [
            "private/a.wma",
            "private/deep/er/b.wmv",
            "vip/show.wmv",
            "x1.asf",
        ] {
            assert!(p.protects(Path::new(yes)), "{yes}");
        }
        for no in [
            "public/a.wma",
            "privateer/a.wma",
            "vip/sub/show.wmv",
            "vip/show.wma",
            "Private/a.wma",
            "x12.asf",
        ] {
            assert!(!p.protects(Path::new(no)), "{no}");
        }
        // Odd spellings: `//` and `.` collapse; `..` counts as protected.
        assert!(p.protects(Path::new("private//./a.wma")));
        assert!(p.protects(Path::new("public/../private/a.wma")));
        assert!(p.protects_resolved(Path::new("/srv"), Path::new("/srv/private/a.wma")));
        assert!(p.protects_resolved(Path::new("/srv"), Path::new("/etc/passwd")));
        assert!(!p.protects_resolved(Path::new("/srv"), Path::new("/srv/public/a.wma")));
        let none = Protection::default();
        assert!(none.is_empty() && !none.protects(Path::new("private/a.wma")));
    }
}
