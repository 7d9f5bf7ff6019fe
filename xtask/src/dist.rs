//! `cargo xtask dist`: what a package of `mms` ships besides the binary —
//! man pages (`mms.1`, `mms-probe.1`, `mms-dump.1`) and shell completions
//! (bash, zsh, fish, elvish, PowerShell) — generated from the command's own
//! clap definitions (mms-client/src/cli.rs, included here as it is, so
//! they cannot drift from the binary) into `target/dist/`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

#[path = "../../mms-client/src/cli.rs"]
#[allow(dead_code)]
mod cli;

/// Writes the man pages into `out/man` and the completions into
/// `out/completions`; returns the files written.
pub(crate) fn write(out: &Path) -> crate::Result<Vec<PathBuf>> {
    let man = out.join("man");
    let completions = out.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let mut cmd = cli::Cli::command();
    cmd.build();
    clap_mangen::generate_to(cmd.clone(), &man)
        .map_err(|e| format!("man pages into {}: {e}", man.display()))?;
    // clap's `help` subcommand gets pages too: `mms help dump` is
    // `mms dump --help`, and mms-dump.1 says it.
    for e in std::fs::read_dir(&man).map_err(|e| format!("{}: {e}", man.display()))? {
        let path = e.map_err(|e| e.to_string())?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("mms-help"))
        {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let mut written: Vec<PathBuf> = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let path = clap_complete::generate_to(shell, &mut cmd, "mms", &completions)
            .map_err(|e| format!("{shell} completions: {e}"))?;
        written.push(path);
    }
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)
        .map_err(|e| format!("{}: {e}", man.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    pages.sort();
    pages.extend(written);
    Ok(pages)
}

/// `cargo xtask dist`.
pub(crate) fn run() -> crate::Result {
    let out = crate::root().join("target/dist");
    for f in write(&out)? {
        println!("{}", f.display());
    }
    println!(
        "install: man pages from {0}/man into e.g. /usr/local/share/man/man1, \
         completions from {0}/completions; the binary with `cargo install --path mms-client`",
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page and completion is written, and names the flags the
    /// command has.
    #[test]
    fn writes_man_pages_and_completions_of_every_flag() {
        let out = std::env::temp_dir().join(format!("mms-dist-{}", std::process::id()));
        let files = write(&out).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "mms.1",
            "mms-dump.1",
            "mms-probe.1",
            "mms.bash",
            "_mms",
            "mms.fish",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.starts_with("mms-help")),
            "{names:?}"
        );
        let dump = std::fs::read_to_string(out.join("man/mms-dump.1")).unwrap();
        assert!(
            dump.contains("mms dump URL \\-o archive.asf \\-\\-resume"),
            "no examples"
        );
        let bash = std::fs::read_to_string(out.join("completions/mms.bash")).unwrap();
        for flag in [
            "resume",
            "start\\-offset",
            "rate",
            "fast",
            "max\\-bitrate",
            "proxy",
        ] {
            assert!(
                dump.contains(&format!("\\-\\-{flag}")),
                "--{flag} not in mms-dump.1"
            );
            let plain = flag.replace('\\', "");
            assert!(
                bash.contains(&format!("--{plain}")),
                "--{plain} not in mms.bash"
            );
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}
