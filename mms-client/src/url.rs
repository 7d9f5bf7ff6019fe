//! `mms://` URLs: what the client connects to and which path it opens.

use std::fmt;

use mms_proto::wire::text::Scheme;

use crate::Error;

/// The default MMS port ([MS-MMSP] 2.1).
pub const DEFAULT_PORT: u16 = 1755;

/// A parsed `mms://`, `mmst://` (TCP data) or `mmsu://` (UDP data) URL.
///
/// Credentials (`user:password@`) are kept apart and never shown by
/// `Display`, so a URL can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct MmsUrl {
    /// `mms`, `mmst` or `mmsu`.
    pub scheme: String,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (1755 when the URL has none).
    pub port: u16,
    /// The path as OpenFile sends it: percent-decoded, without the
    /// leading `/`, query included (as real players send it).
    pub path: String,
    /// `user:password` from the URL, if any (for authentication).
    pub credentials: Option<(String, String)>,
}

impl MmsUrl {
    /// Parses a URL. Accepts `mms`, `mmst` and `mmsu` (case-insensitive).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Url(format!("{why}: {}", redact(url)));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "mms" | "mmst" | "mmsu") {
            return Err(bad("not an mms://, mmst:// or mmsu:// URL"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (credentials, hostport) = match authority.rsplit_once('@') {
            Some((user, hp)) => {
                let (u, p) = user.split_once(':').unwrap_or((user, ""));
                (Some((percent_decode(u)?, percent_decode(p)?)), hp)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after the IPv6 address")),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("bad port"))?,
        };
        let path = percent_decode(path.strip_prefix('/').unwrap_or(path))?;
        Ok(Self {
            scheme,
            host,
            port,
            path,
            credentials,
        })
    }

    /// The URL of a redirect's parts ([3.1.5.7]), taken as they are: no
    /// text assembled and parsed again. `host` may keep an IPv6 literal's
    /// brackets; `raw_path` is the path with its query as the URL has it,
    /// from its `/` on, percent-encoded (it is decoded like
    /// [`MmsUrl::parse`]'s). No credentials.
    pub fn from_parts(
        scheme: Scheme,
        host: &str,
        port: u16,
        raw_path: &str,
    ) -> Result<Self, Error> {
        let host = unbracket(host);
        if host.is_empty() || port == 0 {
            return Err(Error::Url(format!(
                "no host or port 0 in a redirect to {host}:{port}"
            )));
        }
        Ok(Self {
            scheme: match scheme {
                Scheme::Mms => "mms",
                Scheme::Mmsu => "mmsu",
                Scheme::Mmst => "mmst",
            }
            .to_string(),
            host: host.to_string(),
            port,
            path: percent_decode(raw_path.strip_prefix('/').unwrap_or(raw_path))?,
            credentials: None,
        })
    }

    /// `host:port` as the host-param of Connect has it (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for MmsUrl {
    /// The URL without credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/{}", self.scheme, self.host_port(), self.path)
    }
}

impl fmt::Debug for MmsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MmsUrl({self})")
    }
}

/// A host without the brackets of an IPv6 literal.
pub(crate) fn unbracket(h: &str) -> &str {
    h.trim_start_matches('[').trim_end_matches(']')
}

/// The URL with any `user:password@` replaced, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// `%XX` decoding (UTF-8 result); a stray `%` is an error.
fn percent_decode(s: &str) -> Result<String, Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::Url(format!("bad %-escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::Url(format!("path is not UTF-8 after %-decoding: {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_paths() {
        let u = MmsUrl::parse("mms://example.org/dir/a%20b.wmv").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.org", 1755, "dir/a b.wmv")
        );
        let u = MmsUrl::parse("MMST://[::1]:8080/x.asf?x=1").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.path.as_str()),
            ("mmst", "::1", 8080, "x.asf?x=1")
        );
        assert_eq!(u.to_string(), "mmst://[::1]:8080/x.asf?x=1");
        let u = MmsUrl::parse("mms://bob:s%40cret@10.0.0.1:99/").unwrap();
        assert_eq!(u.credentials, Some(("bob".into(), "s@cret".into())));
        assert!(!u.to_string().contains("cret"));
    }

    #[test]
    fn builds_from_a_redirects_parts() {
        let u = MmsUrl::from_parts(Scheme::Mmst, "[::1]", 8080, "/a%20b.wmv?x=1").unwrap();
        assert_eq!(u, MmsUrl::parse("mmst://[::1]:8080/a%20b.wmv?x=1").unwrap());
        let u = MmsUrl::from_parts(Scheme::Mms, "h", 1755, "").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("h", ""));
        assert!(MmsUrl::from_parts(Scheme::Mms, "h", 1755, "/%zz").is_err());
        assert!(MmsUrl::from_parts(Scheme::Mms, "", 1755, "/").is_err());
    }

    #[test]
    fn rejects_junk() {
        for bad in [
            "http://x/y",
            "mms://",
            "mms://h:0/",
            "mms://h:99999/",
            "mms://[::1/x",
            "mms://h/%zz",
            "x",
        ] {
            assert!(MmsUrl::parse(bad).is_err(), "{bad}");
        }
        let e = MmsUrl::parse("ftp://u:pw@h/").unwrap_err().to_string();
        assert!(!e.contains("pw"), "{e}");
    }
}
