//! docs/benchmarks.md: where it is, and the marked sections that
//! `cargo xtask load` and `cargo xtask pull` own in it.
//!
//! `cargo xtask bench` rewrites the whole file and keeps the marked
//! sections; `load` and `pull` replace only their own. The writers depend
//! on this module (and on main.rs helpers), never on each other.

use std::path::{Path, PathBuf};

use crate::{Result, root};

/// A section of docs/benchmarks.md between two HTML comment markers.
pub(crate) struct Section {
    /// The line that opens the section.
    pub(crate) start: &'static str,
    /// The line that closes the section.
    pub(crate) end: &'static str,
}

/// `cargo xtask load`'s section.
pub(crate) const LOAD: Section = Section {
    start: "<!-- load:start -->",
    end: "<!-- load:end -->",
};

/// `cargo xtask load`'s live section (`--only live` rewrites just it).
pub(crate) const LIVE: Section = Section {
    start: "<!-- live:start -->",
    end: "<!-- live:end -->",
};

/// `cargo xtask pull`'s section.
pub(crate) const PULL: Section = Section {
    start: "<!-- pull:start -->",
    end: "<!-- pull:end -->",
};

/// Measurements taken by hand (instruction counts and the like), with
/// how to take them again: written by people, kept by every task.
pub(crate) const MANUAL: Section = Section {
    start: "<!-- manual:start -->",
    end: "<!-- manual:end -->",
};

/// The sections other tasks (or people) own, kept when `cargo xtask
/// bench` rewrites the rest, in the order they are written back.
const OWNED: &[&Section] = &[&LOAD, &LIVE, &PULL, &MANUAL];

/// docs/benchmarks.md.
pub(crate) fn path() -> PathBuf {
    root().join("docs/benchmarks.md")
}

impl Section {
    /// Replaces (or appends) this section of docs/benchmarks.md with
    /// `section`, which includes the markers.
    pub(crate) fn write(&self, section: &str) -> Result {
        let (start, end) = (self.start, self.end);
        let path = path();
        let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\n".into());
        let new = match (old.find(start), old.find(end)) {
            (Some(a), Some(b)) if a < b => {
                format!("{}{section}{}", &old[..a], &old[b + end.len()..])
            }
            _ => format!("{}\n\n{section}\n", old.trim_end()),
        };
        std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The sections other tasks own in an existing docs/benchmarks.md (the
/// load and pull sections), markers included, to keep them when
/// `cargo xtask bench` rewrites the rest.
pub(crate) fn existing_sections(path: &Path) -> Vec<String> {
    let Ok(old) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    OWNED
        .iter()
        .filter_map(|Section { start, end }| {
            let (a, b) = (old.find(start)?, old.find(end)?);
            (a < b).then(|| old[a..b + end.len()].to_string())
        })
        .collect()
}
