//! The three NTLM messages ([MS-NLMP] 2.2.1.1 NEGOTIATE_MESSAGE, 2.2.1.2
//! CHALLENGE_MESSAGE, 2.2.1.3 AUTHENTICATE_MESSAGE).
//!
//! Each has a parsed form (`…Message<'a>`, borrowing the input: fixed
//! fields read with `nom`, each payload field's `Len / MaxLen /
//! BufferOffset` checked against the message before it is sliced) and an
//! emitting form (`…Repr<'a>`, `buffer_len` / `emit` into a caller buffer,
//! payload in field order right after the fixed part). Parsers tolerate
//! what old peers send: a NEGOTIATE of 16 or 32 bytes, a CHALLENGE
//! without TargetInfo, Version or MIC absent where the payload starts
//! early; they never read outside the message.

use core::fmt;

use nom::Parser;
use nom::bytes::complete::{tag, take};
use nom::number::complete::{le_u16, le_u32, u8 as byte};

use super::av::AvPairs;
use super::flags::*;
use super::message_type;
use crate::wire::error::room;
use crate::wire::{Error, Result, Units, Utf16Str};

/// The Signature of every NTLM message: `NTLMSSP\0`.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

type PResult<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// The VERSION structure ([MS-NLMP] 2.2.2.10), for debugging only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent (15 for NTLMSSP_REVISION_W2K3).
    pub revision: u8,
}

impl Version {
    /// What mms-rs sends: 10.0, build 0, revision 15.
    pub const MMS_RS: Version = Version {
        major: 10,
        minor: 0,
        build: 0,
        revision: 15,
    };

    fn parse(i: &[u8]) -> PResult<'_, Self> {
        let (i, (major, minor, build, _reserved, revision)) =
            (byte, byte, le_u16, take(3usize), byte).parse(i)?;
        Ok((
            i,
            Version {
                major,
                minor,
                build,
                revision,
            },
        ))
    }

    fn write(&self, b: &mut [u8]) {
        b[0] = self.major;
        b[1] = self.minor;
        b[2..4].copy_from_slice(&self.build.to_le_bytes());
        b[4..7].fill(0);
        b[7] = self.revision;
    }
}

/// A string of an NTLM message: UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE is
/// in force, else OEM bytes (read here as ISO-8859-1).
#[derive(Clone, Copy)]
pub enum NtlmStr<'a> {
    /// UTF-16LE.
    Unicode(Utf16Str<'a>),
    /// OEM code page bytes.
    Oem(&'a [u8]),
}

impl<'a> NtlmStr<'a> {
    /// The empty string.
    pub const EMPTY: NtlmStr<'static> = NtlmStr::Oem(&[]);

    fn from_wire(b: &'a [u8], unicode: bool, field: &'static str) -> Result<Self> {
        Ok(if unicode {
            NtlmStr::Unicode(Utf16Str::from_wire(b, field)?)
        } else {
            NtlmStr::Oem(b)
        })
    }

    /// A Rust string to emit, in the encoding `flags` choose.
    pub fn for_flags(s: &'a str, flags: u32) -> Self {
        if flags & NEGOTIATE_UNICODE != 0 {
            NtlmStr::Unicode(Utf16Str::Str(s))
        } else {
            NtlmStr::Oem(s.as_bytes())
        }
    }

    /// The UTF-16 code units (OEM bytes map one to one).
    pub fn units(&self) -> NtlmUnits<'a> {
        match self {
            NtlmStr::Unicode(u) => NtlmUnits::Unicode(u.units()),
            NtlmStr::Oem(b) => NtlmUnits::Oem(b.iter()),
        }
    }

    /// Decoded characters (unpaired surrogates become U+FFFD).
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        char::decode_utf16(self.units()).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Bytes on the wire.
    pub fn byte_len(&self) -> usize {
        match self {
            NtlmStr::Unicode(u) => u.byte_len(),
            NtlmStr::Oem(b) => b.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.byte_len() == 0
    }

    /// True if the text equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        self.chars().eq(s.chars())
    }

    /// The text as UTF-8 in `buf`, or `None` if it does not fit.
    pub fn to_str<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let mut n = 0;
        for c in self.chars() {
            let l = c.len_utf8();
            if n + l > buf.len() {
                return None;
            }
            c.encode_utf8(&mut buf[n..n + l]);
            n += l;
        }
        core::str::from_utf8(&buf[..n]).ok()
    }

    fn write_to(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            NtlmStr::Unicode(u) => u.write_to(buf),
            NtlmStr::Oem(b) => {
                room(buf, b.len())?;
                buf[..b.len()].copy_from_slice(b);
                Ok(b.len())
            }
        }
    }
}

impl fmt::Display for NtlmStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chars().try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

impl fmt::Debug for NtlmStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", DebugText(self))
    }
}

struct DebugText<'s, 'a>(&'s NtlmStr<'a>);
impl fmt::Debug for DebugText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        fmt::Display::fmt(self.0, f)?;
        f.write_str("\"")
    }
}

impl PartialEq for NtlmStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.units().eq(other.units())
    }
}

/// Code units of an [`NtlmStr`].
#[derive(Clone)]
pub enum NtlmUnits<'a> {
    /// UTF-16 text.
    Unicode(Units<'a>),
    /// OEM bytes.
    Oem(core::slice::Iter<'a, u8>),
}

impl Iterator for NtlmUnits<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        match self {
            NtlmUnits::Unicode(u) => u.next(),
            NtlmUnits::Oem(b) => b.next().map(|&b| u16::from(b)),
        }
    }
}

/// `Len, MaxLen, BufferOffset` of a payload field.
#[derive(Debug, Clone, Copy)]
struct FieldRef {
    len: u16,
    offset: u32,
}

fn field_ref(i: &[u8]) -> PResult<'_, FieldRef> {
    let (i, (len, _max_len, offset)) = (le_u16, le_u16, le_u32).parse(i)?;
    Ok((i, FieldRef { len, offset }))
}

/// `Signature, MessageType` with the expected type.
fn header(i: &[u8], ty: u32) -> PResult<'_, ()> {
    let (i, (_, t)) = (tag(&SIGNATURE[..]), le_u32).parse(i)?;
    if t != ty {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Tag,
        )));
    }
    Ok((i, ()))
}

fn nom_err(field: &'static str) -> impl Fn(nom::Err<nom::error::Error<&[u8]>>) -> Error {
    move |e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) if e.code == nom::error::ErrorKind::Tag => {
            Error::invalid(field, "not an NTLM message of this type")
        }
        _ => Error::invalid(field, "truncated"),
    }
}

/// The bytes a field points at, checked against the message.
fn resolve<'a>(msg: &'a [u8], f: FieldRef, field: &'static str) -> Result<&'a [u8]> {
    if f.len == 0 {
        return Ok(&[]);
    }
    let start = f.offset as usize;
    let end = start + usize::from(f.len);
    msg.get(start..end)
        .ok_or(Error::invalid(field, "runs past the message"))
}

/// The smallest BufferOffset of a non-empty field: where the payload
/// starts, so what fixed part (Version, MIC) precedes it.
fn payload_start(msg_len: usize, fields: &[FieldRef]) -> usize {
    fields
        .iter()
        .filter(|f| f.len != 0)
        .map(|f| f.offset as usize)
        .min()
        .unwrap_or(msg_len)
}

/// Payload writer: appends fields after the fixed part and records their
/// `Len, MaxLen, BufferOffset`.
struct Payload<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Payload<'_> {
    /// Writes `data` via `write` and its field descriptor at `desc`.
    fn field(&mut self, desc: usize, n: usize, write: impl FnOnce(&mut [u8])) -> Result<()> {
        let len = u16::try_from(n).map_err(|_| Error::invalid("Len", "field too long"))?;
        let off = u32::try_from(self.at).map_err(|_| Error::invalid("BufferOffset", "too big"))?;
        write(&mut self.buf[self.at..self.at + n]);
        self.buf[desc..desc + 2].copy_from_slice(&len.to_le_bytes());
        self.buf[desc + 2..desc + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[desc + 4..desc + 8].copy_from_slice(&off.to_le_bytes());
        self.at += n;
        Ok(())
    }

    fn bytes(&mut self, desc: usize, data: &[u8]) -> Result<()> {
        self.field(desc, data.len(), |b| b.copy_from_slice(data))
    }

    fn text(&mut self, desc: usize, s: &NtlmStr<'_>) -> Result<()> {
        self.field(desc, s.byte_len(), |b| {
            // `b` is exactly `byte_len` long, so this cannot fail.
            let _ = s.write_to(b);
        })
    }
}

fn start(buf: &mut [u8], len: usize, ty: u32, fixed: usize) -> Result<Payload<'_>> {
    room(buf, len)?;
    let buf = &mut buf[..len];
    buf[..fixed].fill(0);
    buf[..8].copy_from_slice(SIGNATURE);
    buf[8..12].copy_from_slice(&ty.to_le_bytes());
    Ok(Payload { buf, at: fixed })
}

// ---------------------------------------------------------------- NEGOTIATE

/// [MS-NLMP] 2.2.1.1 NEGOTIATE_MESSAGE, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegotiateMessage<'a> {
    /// NegotiateFlags.
    pub flags: u32,
    /// DomainName (OEM), when supplied.
    pub domain: &'a [u8],
    /// Workstation (OEM), when supplied.
    pub workstation: &'a [u8],
    /// Version, when NTLMSSP_NEGOTIATE_VERSION is set and present.
    pub version: Option<Version>,
}

impl<'a> NegotiateMessage<'a> {
    /// Parses a NEGOTIATE_MESSAGE (16 bytes at least: older clients stop
    /// after NegotiateFlags or after the two fields).
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let f = "NEGOTIATE_MESSAGE";
        let (i, ()) = header(msg, message_type::NEGOTIATE).map_err(nom_err(f))?;
        let (i, flags) = le_u32(i).map_err(nom_err(f))?;
        let Ok((i, (d, w))) = (field_ref, field_ref).parse(i) else {
            return Ok(Self {
                flags,
                domain: &[],
                workstation: &[],
                version: None,
            });
        };
        let version = if flags & NEGOTIATE_VERSION != 0 && payload_start(msg.len(), &[d, w]) >= 40 {
            Version::parse(i).ok().map(|(_, v)| v)
        } else {
            None
        };
        Ok(Self {
            flags,
            domain: resolve(msg, d, "DomainNameFields")?,
            workstation: resolve(msg, w, "WorkstationFields")?,
            version,
        })
    }
}

/// [MS-NLMP] 2.2.1.1 NEGOTIATE_MESSAGE, to emit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegotiateRepr<'a> {
    /// NegotiateFlags.
    pub flags: u32,
    /// DomainName (OEM); empty for none.
    pub domain: &'a [u8],
    /// Workstation (OEM); empty for none.
    pub workstation: &'a [u8],
    /// Version (written when `flags` has NTLMSSP_NEGOTIATE_VERSION; zeros
    /// when that flag is set and this is `None`).
    pub version: Option<Version>,
}

impl NegotiateRepr<'_> {
    fn fixed(&self) -> usize {
        if self.flags & NEGOTIATE_VERSION != 0 {
            40
        } else {
            32
        }
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.fixed() + self.domain.len() + self.workstation.len()
    }

    /// Writes the message; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let fixed = self.fixed();
        let mut p = start(buf, n, message_type::NEGOTIATE, fixed)?;
        p.buf[12..16].copy_from_slice(&self.flags.to_le_bytes());
        if fixed == 40 {
            if let Some(v) = self.version {
                v.write(&mut p.buf[32..40]);
            }
        }
        p.bytes(16, self.domain)?;
        p.bytes(24, self.workstation)?;
        Ok(n)
    }
}

// ---------------------------------------------------------------- CHALLENGE

/// [MS-NLMP] 2.2.1.2 CHALLENGE_MESSAGE, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChallengeMessage<'a> {
    /// TargetName (in the encoding the flags choose).
    pub target_name: NtlmStr<'a>,
    /// NegotiateFlags.
    pub flags: u32,
    /// ServerChallenge.
    pub server_challenge: [u8; 8],
    /// TargetInfo (empty when absent).
    pub target_info: AvPairs<'a>,
    /// TargetInfo's bytes as sent (they go into the NTLMv2 response).
    pub target_info_bytes: &'a [u8],
    /// Version, when NTLMSSP_NEGOTIATE_VERSION is set and present.
    pub version: Option<Version>,
}

impl<'a> ChallengeMessage<'a> {
    /// Parses a CHALLENGE_MESSAGE (32 bytes at least).
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let f = "CHALLENGE_MESSAGE";
        let (i, ()) = header(msg, message_type::CHALLENGE).map_err(nom_err(f))?;
        let (i, (tn, flags, sc)) = (field_ref, le_u32, take(8usize))
            .parse(i)
            .map_err(nom_err(f))?;
        let mut server_challenge = [0u8; 8];
        server_challenge.copy_from_slice(sc);
        let unicode = flags & NEGOTIATE_UNICODE != 0;
        let (ti, version) = match (take(8usize), field_ref).parse(i) {
            Ok((i, (_reserved, ti))) => {
                let v = if flags & NEGOTIATE_VERSION != 0
                    && payload_start(msg.len(), &[tn, ti]) >= 56
                {
                    Version::parse(i).ok().map(|(_, v)| v)
                } else {
                    None
                };
                (Some(ti), v)
            }
            Err(_) => (None, None),
        };
        let target_info_bytes = match ti {
            Some(ti) => resolve(msg, ti, "TargetInfoFields")?,
            None => &[],
        };
        Ok(Self {
            target_name: NtlmStr::from_wire(
                resolve(msg, tn, "TargetNameFields")?,
                unicode,
                "TargetName",
            )?,
            flags,
            server_challenge,
            target_info: AvPairs::parse(target_info_bytes)?,
            target_info_bytes,
            version,
        })
    }
}

/// [MS-NLMP] 2.2.1.2 CHALLENGE_MESSAGE, to emit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChallengeRepr<'a> {
    /// TargetName.
    pub target_name: NtlmStr<'a>,
    /// NegotiateFlags.
    pub flags: u32,
    /// ServerChallenge: 8 random bytes from the caller.
    pub server_challenge: [u8; 8],
    /// TargetInfo: an AV_PAIR list with its EOL (see
    /// [`super::av::AvWriter`]).
    pub target_info: &'a [u8],
    /// Version (written when `flags` has NTLMSSP_NEGOTIATE_VERSION).
    pub version: Option<Version>,
}

impl ChallengeRepr<'_> {
    fn fixed(&self) -> usize {
        if self.flags & NEGOTIATE_VERSION != 0 {
            56
        } else {
            48
        }
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.fixed() + self.target_name.byte_len() + self.target_info.len()
    }

    /// Writes the message; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let fixed = self.fixed();
        let mut p = start(buf, n, message_type::CHALLENGE, fixed)?;
        p.buf[20..24].copy_from_slice(&self.flags.to_le_bytes());
        p.buf[24..32].copy_from_slice(&self.server_challenge);
        if fixed == 56 {
            if let Some(v) = self.version {
                v.write(&mut p.buf[48..56]);
            }
        }
        p.text(12, &self.target_name)?;
        p.bytes(40, self.target_info)?;
        Ok(n)
    }
}

// ------------------------------------------------------------- AUTHENTICATE

/// Offset of the MIC in an AUTHENTICATE_MESSAGE that has one.
pub const MIC_OFFSET: usize = 72;

/// [MS-NLMP] 2.2.1.3 AUTHENTICATE_MESSAGE, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuthenticateMessage<'a> {
    /// LmChallengeResponse.
    pub lm_response: &'a [u8],
    /// NtChallengeResponse.
    pub nt_response: &'a [u8],
    /// DomainName.
    pub domain: NtlmStr<'a>,
    /// UserName.
    pub user: NtlmStr<'a>,
    /// Workstation.
    pub workstation: NtlmStr<'a>,
    /// EncryptedRandomSessionKey (empty when absent).
    pub encrypted_random_session_key: &'a [u8],
    /// NegotiateFlags.
    pub flags: u32,
    /// Version, when present.
    pub version: Option<Version>,
    /// MIC, when the payload leaves room for it (at [`MIC_OFFSET`]).
    pub mic: Option<[u8; 16]>,
    /// The whole message (the MIC is computed over it).
    pub raw: &'a [u8],
}

impl<'a> AuthenticateMessage<'a> {
    /// Parses an AUTHENTICATE_MESSAGE (64 bytes at least).
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let f = "AUTHENTICATE_MESSAGE";
        let (i, ()) = header(msg, message_type::AUTHENTICATE).map_err(nom_err(f))?;
        let (i, (lm, nt, dom, user, ws, key, flags)) = (
            field_ref, field_ref, field_ref, field_ref, field_ref, field_ref, le_u32,
        )
            .parse(i)
            .map_err(nom_err(f))?;
        let start = payload_start(msg.len(), &[lm, nt, dom, user, ws, key]);
        let version = if flags & NEGOTIATE_VERSION != 0 && start >= 72 {
            Version::parse(i).ok().map(|(_, v)| v)
        } else {
            None
        };
        let mic = if start >= MIC_OFFSET + 16 {
            msg.get(MIC_OFFSET..MIC_OFFSET + 16)
                .and_then(|m| m.try_into().ok())
        } else {
            None
        };
        let unicode = flags & NEGOTIATE_UNICODE != 0;
        let text = |r, field| NtlmStr::from_wire(resolve(msg, r, field)?, unicode, field);
        Ok(Self {
            lm_response: resolve(msg, lm, "LmChallengeResponseFields")?,
            nt_response: resolve(msg, nt, "NtChallengeResponseFields")?,
            domain: text(dom, "DomainNameFields")?,
            user: text(user, "UserNameFields")?,
            workstation: text(ws, "WorkstationFields")?,
            encrypted_random_session_key: resolve(msg, key, "EncryptedRandomSessionKeyFields")?,
            flags,
            version,
            mic,
            raw: msg,
        })
    }
}

/// [MS-NLMP] 2.2.1.3 AUTHENTICATE_MESSAGE, to emit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuthenticateRepr<'a> {
    /// LmChallengeResponse.
    pub lm_response: &'a [u8],
    /// NtChallengeResponse.
    pub nt_response: &'a [u8],
    /// DomainName.
    pub domain: NtlmStr<'a>,
    /// UserName.
    pub user: NtlmStr<'a>,
    /// Workstation.
    pub workstation: NtlmStr<'a>,
    /// EncryptedRandomSessionKey; empty for none.
    pub encrypted_random_session_key: &'a [u8],
    /// NegotiateFlags.
    pub flags: u32,
    /// Version (the field is written, zero when `None`, when `flags` has
    /// NTLMSSP_NEGOTIATE_VERSION or `mic` is set).
    pub version: Option<Version>,
    /// Leave room for a MIC at [`MIC_OFFSET`] (written as zeros; the caller
    /// computes it over the emitted message and writes it there).
    pub mic: bool,
}

impl AuthenticateRepr<'_> {
    fn fixed(&self) -> usize {
        if self.mic {
            MIC_OFFSET + 16
        } else if self.flags & NEGOTIATE_VERSION != 0 {
            72
        } else {
            64
        }
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.fixed()
            + self.lm_response.len()
            + self.nt_response.len()
            + self.domain.byte_len()
            + self.user.byte_len()
            + self.workstation.byte_len()
            + self.encrypted_random_session_key.len()
    }

    /// Writes the message (MIC zero); returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let fixed = self.fixed();
        let mut p = start(buf, n, message_type::AUTHENTICATE, fixed)?;
        p.buf[60..64].copy_from_slice(&self.flags.to_le_bytes());
        if fixed >= 72 {
            if let Some(v) = self.version {
                v.write(&mut p.buf[64..72]);
            }
        }
        p.bytes(12, self.lm_response)?;
        p.bytes(20, self.nt_response)?;
        p.text(28, &self.domain)?;
        p.text(36, &self.user)?;
        p.text(44, &self.workstation)?;
        p.bytes(52, self.encrypted_random_session_key)?;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "msg_tests.rs"]
mod tests;
