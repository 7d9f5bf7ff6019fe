//! The users file of `[auth] users = "…"`, written by
//! `mms-server passwd FILE NAME`.
//!
//! One user per line, `NAME:NTHASH` — NTHASH is 32 hex digits of the
//! user's NT hash (MD4 of the UTF-16LE password, [MS-NLMP] 3.3.1).
//! Blank lines and lines starting with `#` are ignored. No plain password
//! is ever stored; the NT hash alone serves both schemes: NTLM needs
//! exactly it, and Basic is checked by hashing the password the client
//! sent the same way ([`mms_proto::auth::basic`]). A salted hash for
//! Basic would add nothing, since the NT hash NTLM needs is
//! **password-equivalent** (it is all a client needs to pass NTLM): the
//! file must be readable by the server's user only. [`Users::load`]
//! refuses a file that any group or other user may read or write (mode
//! `0600` is right), and `passwd` writes it `0600`.
//!
//! User names are matched without regard to case (as NTLM does); the NTLM
//! domain a client sends is not part of the match. Names are 1 to 64
//! characters, without `:`, whitespace or control characters.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use mms_proto::auth::NtHash;
use mms_proto::auth::ntlm::Identity;

/// The longest user name, in characters.
pub const MAX_NAME: usize = 64;

/// Why a users file was refused. Messages name the file and the line, never
/// its contents (a line holds a hash).
#[derive(Debug)]
pub enum UsersError {
    /// Reading or writing failed.
    Io(PathBuf, std::io::Error),
    /// The file's mode lets others than its owner read or write it.
    Mode(PathBuf, u32),
    /// A line is not `NAME:NTHASH`.
    Line(PathBuf, usize, &'static str),
    /// A name given to `passwd` is not a valid user name.
    Name(&'static str),
    /// An empty password.
    EmptyPassword,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Mode(p, m) => write!(
                f,
                "{}: mode {m:04o} lets other users read or change it; it holds password-equivalent \
                 NT hashes: chmod 600 it",
                p.display()
            ),
            Self::Line(p, n, why) => write!(f, "{} line {n}: {why}", p.display()),
            Self::Name(why) => write!(f, "bad user name: {why}"),
            Self::EmptyPassword => f.write_str("the password is empty"),
        }
    }
}

impl std::error::Error for UsersError {}

/// The users of a users file.
#[derive(Clone, Default)]
pub struct Users {
    /// Lower-cased name → (name as written, NT hash).
    by_name: BTreeMap<String, (String, NtHash)>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.by_name.len())
            .finish()
    }
}

/// Checks a user name (see the module doc).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.chars().count() > MAX_NAME {
        return Err("longer than 64 characters");
    }
    if name
        .chars()
        .any(|c| c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err("holds ':', whitespace or a control character");
    }
    Ok(())
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

fn parse_hash(hex: &str) -> Option<NtHash> {
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut h = [0u8; 16];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(NtHash(h))
}

impl Users {
    /// Reads and checks a users file: its mode first (on Unix: no group or
    /// other permission bits), then every line.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        check_mode(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| UsersError::Io(path.into(), e))?;
        Self::parse(&text).map_err(|(n, why)| UsersError::Line(path.into(), n, why))
    }

    /// Parses the text of a users file; an error gives the line number.
    pub fn parse(text: &str) -> Result<Users, (usize, &'static str)> {
        let mut users = Users::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, hash) = line.rsplit_once(':').ok_or((i + 1, "not NAME:NTHASH"))?;
            check_name(name).map_err(|why| (i + 1, why))?;
            let hash = parse_hash(hash).ok_or((i + 1, "the NT hash is not 32 hex digits"))?;
            if users
                .by_name
                .insert(key(name), (name.to_string(), hash))
                .is_some()
            {
                return Err((i + 1, "a user named twice (names ignore case)"));
            }
        }
        Ok(users)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The NT hash of `name` (case-insensitive), for Basic
    /// ([`mms_proto::auth::basic::BasicCredentials::verify`]).
    pub fn nt_hash(&self, name: &str) -> Option<NtHash> {
        self.by_name.get(&key(name)).map(|(_, h)| *h)
    }

    /// The NT hash of the user an NTLM AUTHENTICATE names, for
    /// [`mms_proto::auth::ntlm::Acceptor::verify`].
    pub fn ntlm_lookup(&self, id: &Identity<'_>) -> Option<NtHash> {
        let mut buf = [0u8; 4 * MAX_NAME];
        self.nt_hash(id.user.to_str(&mut buf)?)
    }

    /// Sets `name`'s password (adds the user if new).
    pub fn set(&mut self, name: &str, password: &str) -> Result<(), UsersError> {
        check_name(name).map_err(UsersError::Name)?;
        if password.is_empty() {
            return Err(UsersError::EmptyPassword);
        }
        self.by_name
            .insert(key(name), (name.to_string(), NtHash::of_password(password)));
        Ok(())
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from(
            "# mms-server users: NAME:NTHASH (written by `mms-server passwd`).\n\
             # The NT hashes are password-equivalent: keep this file mode 0600.\n",
        );
        for (name, hash) in self.by_name.values() {
            s.push_str(name);
            s.push(':');
            for b in hash.0 {
                s.push_str(&format!("{b:02x}"));
            }
            s.push('\n');
        }
        s
    }
}

/// Refuses a file that group or others may read or write.
pub fn check_mode(path: &Path) -> Result<(), UsersError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| UsersError::Io(path.into(), e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(UsersError::Mode(path.into(), mode));
        }
    }
    Ok(())
}

/// `mms-server passwd FILE NAME`: sets NAME's password in FILE (created
/// `0600` if missing; an existing file must pass [`check_mode`]). The file
/// is replaced atomically (a `0600` temporary file beside it, renamed).
pub fn passwd(path: &Path, name: &str, password: &str) -> Result<(), UsersError> {
    let mut users = if path.exists() {
        Users::load(path)?
    } else {
        Users::default()
    };
    users.set(name, password)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .ok_or_else(|| UsersError::Io(path.into(), std::io::ErrorKind::InvalidInput.into()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.to_string_lossy(),
        std::process::id()
    ));
    let io = |e| UsersError::Io(tmp.clone(), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    let written = f
        .write_all(users.to_text().as_bytes())
        .and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        UsersError::Io(path.into(), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "mms-users-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn passwd_writes_0600_and_load_reads_it() {
        let path = dir().join("users.txt");
        let _ = std::fs::remove_file(&path);
        passwd(&path, "alice", "secret").unwrap();
        passwd(&path, "Bob", "hunter2").unwrap();
        passwd(&path, "ALICE", "changed").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("secret") && !text.contains("hunter2") && !text.contains("changed"));
        let users = Users::load(&path).unwrap();
        assert_eq!(users.len(), 2);
        assert!(
            users
                .nt_hash("bob")
                .unwrap()
                .ct_eq(&NtHash::of_password("hunter2"))
        );
        // Re-setting a name (in any case) replaces that user's entry.
        assert!(
            users
                .nt_hash("Alice")
                .unwrap()
                .ct_eq(&NtHash::of_password("changed"))
        );
        assert!(users.nt_hash("carol").is_none());
        // [MS-NLMP] 4.2.2.1.2's NT hash of "Password", in the file's form.
        let u = Users::parse("User:a4f49c406510bdcab6824ee7c30fd852\n").unwrap();
        assert!(
            u.nt_hash("user")
                .unwrap()
                .ct_eq(&NtHash::of_password("Password"))
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_group_or_world_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = dir().join("open.txt");
        std::fs::write(&path, "alice:a4f49c406510bdcab6824ee7c30fd852\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = Users::load(&path).unwrap_err();
            assert!(matches!(e, UsersError::Mode(_, m) if m == mode), "{e}");
            assert!(e.to_string().contains("chmod 600"));
            assert!(passwd(&path, "bob", "x").is_err());
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Users::load(&path).unwrap().len(), 1);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_lines_say_where_not_what() {
        let secret_line = "alice:a4f49c406510bdcab6824ee7c30fd85";
        assert_eq!(
            Users::parse(&format!("# c\n\n{secret_line}\n")).err(),
            Some((3, "the NT hash is not 32 hex digits"))
        );
        assert!(Users::parse("nohash\n").is_err());
        assert!(Users::parse(":a4f49c406510bdcab6824ee7c30fd852\n").is_err());
        assert!(Users::parse("a b:a4f49c406510bdcab6824ee7c30fd852\n").is_err());
        let dup = "a:a4f49c406510bdcab6824ee7c30fd852\nA:a4f49c406510bdcab6824ee7c30fd852\n";
        assert_eq!(
            Users::parse(dup).err(),
            Some((2, "a user named twice (names ignore case)"))
        );
        let e = UsersError::Line("u.txt".into(), 3, "x").to_string();
        assert!(!e.contains("a4f4"));
        assert!(Users::default().set("a:b", "x").is_err());
        assert!(Users::default().set("a", "").is_err());
        assert_eq!(format!("{:?}", Users::parse(secret_line).ok()), "None");
    }
}
