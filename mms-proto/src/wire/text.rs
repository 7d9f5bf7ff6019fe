//! Typed parsers for the strings section 2 gives an ABNF for:
//! subscriberName ([2.2.4.17]), funnelName ([2.2.4.18]),
//! ServerVersionInfo / VersionInfo ([2.2.4.2]), AuthenPackage ([2.2.4.2]),
//! the redirect location ([2.2.4.9]) and the Basic challenge token
//! ([2.2.4.14]).
//!
//! **Why no `nom`:** these strings are UTF-16LE on the wire and the results
//! borrow sub-slices of it ([`Utf16Str`]). nom's combinators work over
//! `&[u8]` / `&str` input; using them here would mean either decoding into
//! a buffer first (a copy, and results that cannot borrow the message) or
//! implementing nom's input traits for a UTF-16 type — more code than the
//! grammar itself. A small cursor over code units keeps each grammar a
//! dozen readable lines and parses without copying; the fuzz targets cover
//! every parser.
//!
//! Parsers are tolerant of what real clients send (`interop-notes.md`:
//! VLC's `0x`-prefixed GUID, the old xine `\x1c\x03` prefix, bytes after
//! funnelName) and record it in the result; `check_strict` turns it into an
//! error.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use super::utf16::Units;
use super::{Error, Result, Utf16Str};

/// A cursor over the code units of a [`Utf16Str`].
#[derive(Clone)]
struct Cursor<'a> {
    text: Utf16Str<'a>,
    units: Units<'a>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &Utf16Str<'a>) -> Self {
        Self {
            text: *text,
            units: text.units(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u16> {
        self.units.clone().next()
    }

    fn bump(&mut self) -> Option<u16> {
        let u = self.units.next()?;
        self.pos += 1;
        Some(u)
    }

    fn at_end(&self) -> bool {
        self.peek().is_none()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c as u16) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Matches an ASCII literal; `ci` compares ASCII case-insensitively.
    fn lit(&mut self, s: &str, ci: bool) -> bool {
        let save = self.clone();
        for b in s.bytes() {
            let ok = match self.bump() {
                Some(u) if u < 0x80 => {
                    if ci {
                        (u as u8).eq_ignore_ascii_case(&b)
                    } else {
                        u as u8 == b
                    }
                }
                _ => false,
            };
            if !ok {
                *self = save;
                return false;
            }
        }
        true
    }

    /// 1..=max decimal digits.
    fn digits(&mut self, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek() {
                Some(u) if (b'0' as u16..=b'9' as u16).contains(&u) => {
                    self.bump();
                    v = v * 10 + (u - b'0' as u16) as u32;
                    n += 1;
                }
                _ => break,
            }
        }
        (n > 0).then_some(v)
    }

    /// `min..=max` hex digits.
    fn hex(&mut self, min: usize, max: usize) -> Option<u64> {
        let mut v: u64 = 0;
        let mut n = 0;
        while n < max {
            let d = match self
                .peek()
                .and_then(|u| char::from_u32(u as u32))
                .and_then(|c| c.to_digit(16))
            {
                Some(d) => d,
                None => break,
            };
            self.bump();
            v = (v << 4) | d as u64;
            n += 1;
        }
        (n >= min).then_some(v)
    }

    /// Consumes units while `f` holds and returns them.
    fn take_while(&mut self, f: impl Fn(u16) -> bool) -> Utf16Str<'a> {
        let start = self.pos;
        while let Some(u) = self.peek() {
            if !f(u) {
                break;
            }
            self.bump();
        }
        self.text.slice_units(start, self.pos)
    }

    fn rest(&self) -> Utf16Str<'a> {
        self.text.slice_units(self.pos, usize::MAX)
    }
}

/// A visible (non-space, non-control) ASCII character.
fn is_visible_ascii(u: u16) -> bool {
    (0x21..0x7F).contains(&u)
}

/// [2.2.4.2] / [2.2.4.17] A product version: `major "." minor ["." a "." b]`
/// (1–2 digits each for major and minor, 1–4 for the optional parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// The optional two further parts (build numbers).
    pub build: Option<(u16, u16)>,
}

impl Version {
    /// Parses ServerVersionInfo or VersionInfo (the whole string).
    pub fn parse(text: &Utf16Str<'_>) -> Result<Self> {
        let mut c = Cursor::new(text);
        let v = Self::parse_at(&mut c).ok_or(Error::invalid("version", "not major.minor[.x.y]"))?;
        if !c.at_end() {
            return Err(Error::invalid("version", "trailing characters"));
        }
        Ok(v)
    }

    fn parse_at(c: &mut Cursor<'_>) -> Option<Self> {
        let major = c.digits(2)? as u8;
        if !c.eat(b'.') {
            return None;
        }
        let minor = c.digits(2)? as u8;
        let save = c.clone();
        let build = if c.eat(b'.') {
            match (c.digits(4), c.eat(b'.'), c.digits(4)) {
                (Some(a), true, Some(b)) => Some((a as u16, b as u16)),
                _ => {
                    *c = save;
                    None
                }
            }
        } else {
            None
        };
        Some(Self {
            major,
            minor,
            build,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some((a, b)) = self.build {
            write!(f, ".{a}.{b}")?;
        }
        Ok(())
    }
}

/// A client GUID (`{8-4-4-4-12}` hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid {
    /// First group (8 hex digits).
    pub data1: u32,
    /// Second group (4 hex digits).
    pub data2: u16,
    /// Third group (4 hex digits).
    pub data3: u16,
    /// Last two groups (4 + 12 hex digits), in text order.
    pub data4: [u8; 8],
}

/// How a GUID was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuidForm {
    /// The ABNF's `8HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 12HEXDIG`.
    #[default]
    Standard,
    /// VLC's `0x`-prefixed groups with the last 8 bytes as one number
    /// (`{0xbabac001-0xbf47-0x6da8-0x7ff88996babc775f}`).
    HexPrefixed,
}

impl Guid {
    /// Parses the text between the braces.
    fn parse_at(c: &mut Cursor<'_>) -> Option<(Self, GuidForm)> {
        let save = c.clone();
        if let Some(g) = Self::standard(c) {
            return Some((g, GuidForm::Standard));
        }
        *c = save;
        let data1 = (c.lit("0x", true).then_some(())?, c.hex(1, 8)?).1 as u32;
        let data2 = (c.lit("-0x", true).then_some(())?, c.hex(1, 4)?).1 as u16;
        let data3 = (c.lit("-0x", true).then_some(())?, c.hex(1, 4)?).1 as u16;
        let data4 = (c.lit("-0x", true).then_some(())?, c.hex(1, 16)?)
            .1
            .to_be_bytes();
        Some((
            Guid {
                data1,
                data2,
                data3,
                data4,
            },
            GuidForm::HexPrefixed,
        ))
    }

    fn standard(c: &mut Cursor<'_>) -> Option<Self> {
        let data1 = c.hex(8, 8)? as u32;
        let data2 = (c.eat(b'-').then_some(())?, c.hex(4, 4)?).1 as u16;
        let data3 = (c.eat(b'-').then_some(())?, c.hex(4, 4)?).1 as u16;
        let hi = (c.eat(b'-').then_some(())?, c.hex(4, 4)?).1;
        let lo = (c.eat(b'-').then_some(())?, c.hex(12, 12)?).1;
        Some(Guid {
            data1,
            data2,
            data3,
            data4: ((hi << 48) | lo).to_be_bytes(),
        })
    }
}

impl fmt::Display for Guid {
    /// Uppercase standard form, without braces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `host [":" port]` ([2.2.4.17] host-info).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostInfo<'a> {
    /// Host name or address (an IPv6 literal keeps its brackets).
    pub host: Utf16Str<'a>,
    /// Port, when given.
    pub port: Option<u16>,
}

impl<'a> HostInfo<'a> {
    fn parse_at(c: &mut Cursor<'a>) -> Option<Self> {
        // RFC 3986 hosts are ASCII: an IP-literal in brackets, or a run of
        // visible characters up to the port, path or the next element.
        let host = if c.peek() == Some(b'[' as u16) {
            let start = c.pos;
            c.take_while(|u| is_visible_ascii(u) && u != b']' as u16);
            if !c.eat(b']') {
                return None;
            }
            c.text.slice_units(start, c.pos)
        } else {
            c.take_while(|u| is_visible_ascii(u) && !matches!(u, 0x2F | 0x3A | 0x3B | 0x3F | 0x40))
        };
        if host.is_empty() {
            return None;
        }
        let port = if c.eat(b':') {
            Some(u16::try_from(c.digits(5)?).ok()?)
        } else {
            None
        };
        Some(Self { host, port })
    }
}

impl fmt::Display for HostInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// [2.2.4.17] client-token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientToken {
    /// `Spooooon!` (the ABNF) or `Spoooon!` (the spec's table).
    Spoon,
    /// `NSPlayer/major.minor[.a.b]`.
    NsPlayer(Version),
}

/// [2.2.4.17] subscriberName, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber<'a> {
    /// The product and version.
    pub client: ClientToken,
    /// The client GUID (`; {…}`), which NSPlayer tokens carry.
    pub guid: Option<Guid>,
    /// How the GUID was written.
    pub guid_form: GuidForm,
    /// host-param (`; Host: h[:p]`), required when sent through a proxy.
    pub host_param: Option<HostInfo<'a>>,
    /// host-string (`HOST: h[:p]` after the first NUL).
    pub host_string: Option<HostInfo<'a>>,
    /// via-string's via-info (`VIA: …`), as text.
    pub via: Option<Utf16Str<'a>>,
    /// The string started with the two units `\x1c\x03` of old xine and
    /// MPlayer builds.
    pub legacy_prefix: bool,
}

impl<'a> Subscriber<'a> {
    /// Parses a subscriberName (the Repr's text: inner NULs kept, final
    /// terminator removed).
    pub fn parse(text: &Utf16Str<'a>) -> Result<Self> {
        Self::parse_inner(text).ok_or(Error::invalid(
            "subscriberName",
            "does not match the ABNF of 2.2.4.17",
        ))
    }

    fn parse_inner(text: &Utf16Str<'a>) -> Option<Self> {
        let mut c = Cursor::new(text);
        let legacy_prefix = {
            let save = c.clone();
            if c.bump() == Some(0x1c) && c.bump() == Some(0x03) {
                true
            } else {
                c = save;
                false
            }
        };
        let client = if c.lit("Spooooon!", false) || c.lit("Spoooon!", false) {
            ClientToken::Spoon
        } else if c.lit("NSPlayer/", true) {
            ClientToken::NsPlayer(Version::parse_at(&mut c)?)
        } else {
            return None;
        };
        let (mut guid, mut guid_form) = (None, GuidForm::Standard);
        if c.lit("; {", false) {
            let (g, form) = Guid::parse_at(&mut c)?;
            if !c.eat(b'}') {
                return None;
            }
            guid = Some(g);
            guid_form = form;
        }
        let host_param = if c.lit("; Host: ", true) {
            Some(HostInfo::parse_at(&mut c)?)
        } else {
            None
        };
        let (mut host_string, mut via) = (None, None);
        while !c.at_end() {
            if !c.eat(0) {
                return None;
            }
            if c.at_end() {
                break;
            }
            if host_string.is_none() && via.is_none() && c.lit("HOST: ", true) {
                host_string = Some(HostInfo::parse_at(&mut c)?);
            } else if via.is_none() && c.lit("VIA: ", true) {
                // via-info is RFC 2616 tokens, '/', ',' and spaces: ASCII.
                let v = c.take_while(|u| u != 0);
                if v.is_empty() || !v.units().all(|u| u == 0x20 || is_visible_ascii(u)) {
                    return None;
                }
                via = Some(v);
            } else {
                return None;
            }
        }
        Some(Self {
            client,
            guid,
            guid_form,
            host_param,
            host_string,
            via,
            legacy_prefix,
        })
    }

    /// Reports deviations from the ABNF that [`Self::parse`] tolerates.
    pub fn check_strict(&self) -> Result<()> {
        if self.legacy_prefix {
            return Err(Error::invalid("subscriberName", "legacy \\x1c\\x03 prefix"));
        }
        if let ClientToken::NsPlayer(_) = self.client {
            if self.guid.is_none() {
                return Err(Error::invalid(
                    "subscriberName",
                    "NSPlayer token without client-guid",
                ));
            }
            if self.guid_form != GuidForm::Standard {
                return Err(Error::invalid(
                    "subscriberName",
                    "client-guid not in 8-4-4-4-12 form",
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Subscriber<'_> {
    /// Writes the subscriberName as the ABNF has it, inner NULs included
    /// (the final terminator is added by the message's emit).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.client {
            ClientToken::Spoon => f.write_str("Spooooon!")?,
            ClientToken::NsPlayer(v) => write!(f, "NSPlayer/{v}")?,
        }
        if let Some(g) = self.guid {
            write!(f, "; {{{g}}}")?;
        }
        if let Some(h) = self.host_param {
            write!(f, "; Host: {h}")?;
        }
        if let Some(h) = self.host_string {
            write!(f, "\0HOST: {h}")?;
        }
        if let Some(v) = self.via {
            write!(f, "\0VIA: {v}")?;
        }
        Ok(())
    }
}

/// [2.2.4.18] proto of funnelName.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelProto {
    /// Data packets over the TCP connection.
    Tcp,
    /// Data packets over UDP to the given port.
    Udp,
}

/// [2.2.4.18] funnelName: `\\ip-addr\proto\port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelName {
    /// The client's address as it claims it (servers use the TCP peer's).
    pub addr: IpAddr,
    /// TCP or UDP.
    pub proto: FunnelProto,
    /// 1..=65535.
    pub port: u16,
    /// Characters followed the port (VLC appends a NUL and a `0`).
    pub trailing: bool,
}

impl FunnelName {
    /// Parses a funnelName.
    pub fn parse(text: &Utf16Str<'_>) -> Result<Self> {
        Self::parse_inner(text).ok_or(Error::invalid("funnelName", "not \\\\ip\\TCP|UDP\\port"))
    }

    fn parse_inner(text: &Utf16Str<'_>) -> Option<Self> {
        let mut c = Cursor::new(text);
        if !c.lit("\\\\", false) {
            return None;
        }
        let ip = c.take_while(|u| u != b'\\' as u16);
        let mut buf = [0u8; 64];
        let ip = ip.to_ascii(&mut buf)?;
        let addr = if ip.contains(':') {
            IpAddr::V6(Ipv6Addr::from_str(ip).ok()?)
        } else {
            IpAddr::V4(Ipv4Addr::from_str(ip).ok()?)
        };
        if !c.eat(b'\\') {
            return None;
        }
        let proto = if c.lit("TCP", true) {
            FunnelProto::Tcp
        } else if c.lit("UDP", true) {
            FunnelProto::Udp
        } else {
            return None;
        };
        if !c.eat(b'\\') {
            return None;
        }
        let port = c.digits(5)?;
        if !(1..=65535).contains(&port) {
            return None;
        }
        Some(Self {
            addr,
            proto,
            port: port as u16,
            trailing: !c.at_end(),
        })
    }
}

/// [2.2.4.2] AuthenPackage: the authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenPackage {
    /// `BASIC` (RFC 2617).
    Basic,
    /// `NTLM` ([MS-NLMP]).
    Ntlm,
}

impl AuthenPackage {
    /// Parses the scheme (ABNF strings are case-insensitive).
    pub fn parse(text: &Utf16Str<'_>) -> Result<Self> {
        if text.eq_ignore_ascii_case("BASIC") {
            Ok(AuthenPackage::Basic)
        } else if text.eq_ignore_ascii_case("NTLM") {
            Ok(AuthenPackage::Ntlm)
        } else {
            Err(Error::invalid("AuthenPackage", "neither BASIC nor NTLM"))
        }
    }

    /// The scheme as the server sends it.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthenPackage::Basic => "BASIC",
            AuthenPackage::Ntlm => "NTLM",
        }
    }
}

/// [2.2.4.9] URL schemes a redirect may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `mms`: the client picks the transport.
    Mms,
    /// `mmsu`: Data packets over UDP.
    Mmsu,
    /// `mmst`: Data packets over TCP.
    Mmst,
}

/// The default MMS port ([2.1]).
pub const DEFAULT_PORT: u16 = 1755;

/// [2.2.4.9] wszLocation, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectLocation<'a> {
    /// The empty string: stop using a proxy (RedirectType 2 only).
    Empty,
    /// An `mms` / `mmsu` / `mmst` URL.
    Url {
        /// The scheme.
        scheme: Scheme,
        /// Host (IPv6 literals keep their brackets).
        host: Utf16Str<'a>,
        /// Port; 1755 when the URL has none.
        port: u16,
        /// Path (with query), from the `/` on; may be empty.
        path: Utf16Str<'a>,
    },
}

impl<'a> RedirectLocation<'a> {
    /// Parses a redirect location.
    pub fn parse(text: &Utf16Str<'a>) -> Result<Self> {
        if text.is_empty() {
            return Ok(RedirectLocation::Empty);
        }
        Self::parse_url(text).ok_or(Error::invalid(
            "wszLocation",
            "not an mms, mmsu or mmst URL",
        ))
    }

    fn parse_url(text: &Utf16Str<'a>) -> Option<Self> {
        let mut c = Cursor::new(text);
        // Longest scheme first.
        let scheme = if c.lit("mmsu://", true) {
            Scheme::Mmsu
        } else if c.lit("mmst://", true) {
            Scheme::Mmst
        } else if c.lit("mms://", true) {
            Scheme::Mms
        } else {
            return None;
        };
        // Skip userinfo if present: an '@' before the authority ends at
        // '/', '?' or '#' (RFC 3986 §3.2).
        let save = c.clone();
        c.take_while(|u| !matches!(u, 0x40 | 0x2F | 0x3F | 0x23));
        if !c.eat(b'@') {
            c = save;
        }
        let h = HostInfo::parse_at(&mut c)?;
        match c.peek() {
            None | Some(0x2F) | Some(0x3F) => {}
            Some(_) => return None,
        }
        Some(RedirectLocation::Url {
            scheme,
            host: h.host,
            port: h.port.unwrap_or(DEFAULT_PORT),
            path: c.rest(),
        })
    }
}

/// [2.2.4.14] The Basic challenge token: `[realm="…"]` then NUL, in UTF-16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicChallenge<'a> {
    /// The realm's quoted-string content (escapes left as sent); `None`
    /// when the token holds only the terminator.
    pub realm: Option<Utf16Str<'a>>,
}

impl<'a> BasicChallenge<'a> {
    /// Parses a SecurityChallenge pToken for Basic authentication.
    pub fn parse(token: &'a [u8]) -> Result<Self> {
        let text = Utf16Str::from_wire(token, "pToken")?;
        let n = text.len_units();
        if n == 0 || text.units().last() != Some(0) {
            return Err(Error::invalid("pToken", "missing NUL terminator"));
        }
        let body = text.slice_units(0, n - 1);
        if body.is_empty() {
            return Ok(Self { realm: None });
        }
        let mut c = Cursor::new(&body);
        let bad = Error::invalid("pToken", "not realm=\"...\"");
        if !c.lit("realm=", true) || !c.eat(b'"') {
            return Err(bad);
        }
        let start = c.pos;
        loop {
            match c.bump() {
                None => return Err(bad),
                Some(0x22) => break,
                Some(0x5C) => {
                    c.bump().ok_or(bad)?;
                }
                Some(_) => {}
            }
        }
        let realm = body.slice_units(start, c.pos - 1);
        if !c.at_end() {
            return Err(bad);
        }
        Ok(Self { realm: Some(realm) })
    }
}
