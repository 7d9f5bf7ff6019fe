//! Announcements: `/NAME.asx` and `/NAME.nsc` answer an ASX 3.0 metafile
//! (`video/x-ms-asf`) whose `<ref href>` is `mms://HOST/NAME`, for every
//! servable file under the root (`.asf`, `.wma`, `.wmv`, and `.m3u`
//! playlists), NAME resolved by the content root's rules (never outside
//! it), and for every live publishing point (`[[live]]`). A browser hands the file to the user's player, which opens the URL.
//!
//! `.nsc` (a Windows Media station file) describes a multicast stream,
//! which mms-server does not send; the same ASX answers under that name,
//! so links written for Windows Media Services' stations still reach the
//! unicast stream.

use std::fmt::Write as _;

use super::Site;
use crate::content::{ContentError, is_playlist};

/// The metafile for request path `path` (`/NAME.asx`), or the status and
/// why not.
pub(super) fn answer(
    path: &str,
    host_header: Option<&str>,
    public_name: Option<&str>,
    site: &Site,
) -> Result<String, (u16, &'static str)> {
    const NOT_FOUND: (u16, &str) = (404, "no such page or file");
    let lower = path.to_ascii_lowercase();
    if !(path.starts_with('/') && path.len() > 5)
        || !(lower.ends_with(".asx") || lower.ends_with(".nsc"))
    {
        return Err(NOT_FOUND);
    }
    let name = percent_decode(&path[1..path.len() - 4]).ok_or((400, "bad percent-encoding"))?;
    // A publishing point's name, as it is configured (ASCII case ignored).
    let point = site
        .metrics
        .points()
        .into_iter()
        .find(|p| p.name.eq_ignore_ascii_case(&name));
    let name = match point {
        Some(p) => p.name.clone(),
        None if !servable(&name) => return Err(NOT_FOUND),
        None => {
            match site.root.resolve(&name) {
                Ok(full) if full.is_file() => {}
                Ok(_) | Err(ContentError::NotFound | ContentError::Invalid(_)) => {
                    return Err(NOT_FOUND);
                }
                Err(ContentError::Forbidden) => return Err((403, "outside the content root")),
            }
            name
        }
    };
    let host = host_header
        .and_then(host)
        .or_else(|| public_name.and_then(host))
        .ok_or((400, "no Host header and no public_name"))?;
    let port = match site.mms.port() {
        1755 => String::new(),
        p => format!(":{p}"),
    };
    Ok(asx(
        &name,
        &format!("mms://{host}{port}/{}", percent_encode(&name)),
    ))
}

/// True for the names MMS serves: ASF files and playlists.
pub(super) fn servable(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".asf", ".wma", ".wmv"].iter().any(|e| lower.ends_with(e)) || is_playlist(&lower)
}

/// An ASX 3.0 metafile playing `url`, titled `title`.
pub(super) fn asx(title: &str, url: &str) -> String {
    let (t, u) = (xml_escape(title), xml_escape(url));
    format!(
        "<asx version=\"3.0\">\r\n  <title>{t}</title>\r\n  <entry>\r\n    <title>{t}</title>\r\n    <ref href=\"{u}\"/>\r\n  </entry>\r\n</asx>\r\n"
    )
}

/// Text for XML content and attribute values.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no place in XML 1.0 text.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The host of a Host header or a configured name, without its port:
/// letters, digits, `-` and `.`, or a bracketed IPv6 address. `None` for
/// anything else (nothing a client sends reaches the metafile unchecked).
pub(super) fn host(value: &str) -> Option<String> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return (port_ok && !inner.is_empty() && inner.parse::<std::net::Ipv6Addr>().is_ok())
            .then(|| format!("[{inner}]"));
    }
    let name = match value.split_once(':') {
        Some((n, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => n,
        Some(_) => return None,
        None => value,
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then(|| name.to_ascii_lowercase())
}

/// `%XX`-decodes a URL path into UTF-8; `None` for a broken escape or
/// bytes that are not UTF-8. (What the result may name is the content
/// root's to decide: a decoded `..`, `\` or NUL is refused there.)
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `%XX`-encodes a path for a URL: all but unreserved characters and `/`.
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses_and_lose_their_port() {
        assert_eq!(
            host("Media.Example.org:8080").as_deref(),
            Some("media.example.org")
        );
        assert_eq!(host("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("[::1]:8080").as_deref(), Some("[::1]"));
        for bad in [
            "",
            "a b",
            "a\"b",
            "x:y",
            "[::1",
            "[nothost]",
            "a/b",
            "<x>",
            "h:",
        ] {
            assert_eq!(host(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_coding_round_trips_and_refuses_broken_escapes() {
        assert_eq!(
            percent_decode("a%20b/%C3%A9.wmv").as_deref(),
            Some("a b/é.wmv")
        );
        assert_eq!(percent_decode("%2e%2e/x").as_deref(), Some("../x"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_encode("a b/é&.wmv"), "a%20b/%C3%A9%26.wmv");
    }

    #[test]
    fn the_metafile_escapes_what_it_quotes() {
        let x = asx("a&b\"<c>", "mms://h/a%26b");
        assert!(x.contains("<title>a&amp;b&quot;&lt;c&gt;</title>"));
        assert!(x.contains("<ref href=\"mms://h/a%26b\"/>"));
    }
}
