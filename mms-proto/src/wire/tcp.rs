//! [2.2.3] TcpMessageHeader: the envelope of every message sent over TCP.

use super::Message;
use super::error::{need, room};
use super::field::view;
use super::message::{PREFIX_LEN, peek};
use super::{Error, Result};

/// [2.2.3] sessionId: MUST be 2953575118 (0xB00BFACE).
pub const SESSION_ID: u32 = 0xB00B_FACE;
/// [2.2.3] seal: MUST be 0x20534D4D (`"MMS "`).
pub const SEAL: u32 = 0x2053_4D4D;
/// Length of the TcpMessageHeader before the first message.
pub const TCP_HEADER_LEN: usize = 4 /* rep, version, versionMinor, padding */
    + 4 /* sessionId */ + 4 /* messageLength */ + 4 /* seal */ + 4 /* chunkCount */
    + 2 /* seq */ + 2 /* MBZ */ + 8 /* timeSent */;
/// Bytes before the part `messageLength` counts (rep … messageLength).
pub const TCP_LENGTH_PREFIX: usize = 16;

view! {
    /// [2.2.3] TcpMessageHeader packet.
    pub struct TcpMessageHeader, fixed_len = TCP_HEADER_LEN;
    /// rep: MUST be 1.
    rep / set_rep: u8 = 0;
    /// version: MUST be 0.
    version / set_version: u8 = 1;
    /// versionMinor: MUST be 0.
    version_minor / set_version_minor: u8 = 2;
    /// padding: SHOULD be 0, SHOULD be ignored.
    padding / set_padding: u8 = 3;
    /// sessionId: MUST be 0xB00BFACE.
    session_id / set_session_id: u32 = 4;
    /// messageLength: bytes of the message field plus 16.
    message_length / set_message_length: u32 = 8;
    /// seal: MUST be 0x20534D4D.
    seal / set_seal: u32 = 12;
    /// chunkCount: the packet's size in 8-byte units. The spec says the
    /// total size; every real client sends (total − 16) / 8.
    chunk_count / set_chunk_count: u32 = 16;
    /// seq: increments by 1 per packet sent, from 0.
    seq / set_seq: u16 = 20;
    /// MBZ: MUST be 0.
    mbz / set_mbz: u16 = 22;
    /// timeSent: ms since the first packet; receivers SHOULD ignore it.
    time_sent / set_time_sent: u64 = 24;
}

impl<T: AsRef<[u8]>> TcpMessageHeader<T> {
    /// The messages area (after [`TcpMessageHeaderRepr::parse`] succeeded).
    pub fn messages(&self) -> &[u8] {
        let b = self.as_bytes();
        let end =
            (TCP_LENGTH_PREFIX as u64 + self.message_length() as u64).min(b.len() as u64) as usize;
        &b[TCP_HEADER_LEN.min(end)..end]
    }
}

/// [2.2.3] TcpMessageHeader, owned representation (lengths are derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpMessageHeaderRepr {
    /// seq.
    pub seq: u16,
    /// timeSent, ms.
    pub time_sent: u64,
}

impl TcpMessageHeaderRepr {
    /// Parses the header of one whole TcpMessageHeader packet (as framed by
    /// [`super::frame`]) and returns it with the messages area.
    pub fn parse(packet: &[u8]) -> Result<(Self, &[u8])> {
        let v = TcpMessageHeader::new_checked(packet)?;
        if v.session_id() != SESSION_ID {
            return Err(Error::invalid("sessionId", "not 0xB00BFACE"));
        }
        if v.seal() != SEAL {
            return Err(Error::invalid("seal", "not 0x20534D4D"));
        }
        let total = checked_total(v.message_length())?;
        need(packet, total)?;
        let chunks = v.chunk_count() as usize;
        if chunks != total / 8 && chunks != (total - TCP_LENGTH_PREFIX) / 8 {
            return Err(Error::invalid(
                "chunkCount",
                "matches neither total/8 nor (total-16)/8",
            ));
        }
        Ok((
            Self {
                seq: v.seq(),
                time_sent: v.time_sent(),
            },
            &packet[TCP_HEADER_LEN..total],
        ))
    }

    /// Reports header values that parse but that [2.2.3] forbids.
    pub fn check_strict(packet: &[u8]) -> Result<()> {
        let v = TcpMessageHeader::new_checked(packet)?;
        if v.rep() != 1 || v.version() != 0 || v.version_minor() != 0 {
            return Err(Error::invalid(
                "rep",
                "rep/version/versionMinor must be 1/0/0",
            ));
        }
        if v.mbz() != 0 {
            return Err(Error::invalid("MBZ", "must be 0"));
        }
        Ok(())
    }

    /// Writes the 32-byte header for a messages area of `messages_len`
    /// bytes (a multiple of 8). chunkCount is emitted as (total − 16) / 8,
    /// what real clients send and read.
    pub fn emit(&self, messages_len: usize, buf: &mut [u8]) -> Result<()> {
        if messages_len % 8 != 0 {
            return Err(Error::invalid(
                "messageLength",
                "messages not a multiple of 8 bytes",
            ));
        }
        let ml = u32::try_from(messages_len + TCP_HEADER_LEN - TCP_LENGTH_PREFIX)
            .map_err(|_| Error::invalid("messageLength", "too long"))?;
        room(buf, TCP_HEADER_LEN)?;
        let mut v = TcpMessageHeader::new_unchecked(&mut buf[..TCP_HEADER_LEN]);
        v.set_rep(1);
        v.set_version(0);
        v.set_version_minor(0);
        v.set_padding(0);
        v.set_session_id(SESSION_ID);
        v.set_message_length(ml);
        v.set_seal(SEAL);
        v.set_chunk_count(ml / 8);
        v.set_seq(self.seq);
        v.set_mbz(0);
        v.set_time_sent(self.time_sent);
        Ok(())
    }

    /// Total length of a packet carrying `message`.
    pub fn packet_len(message: &Message<'_>) -> usize {
        TCP_HEADER_LEN + message.buffer_len()
    }

    /// Writes a whole TcpMessageHeader packet carrying exactly one message
    /// ([3.1.5.1], [3.2.5.2]: messages are never combined) and returns its
    /// length.
    pub fn emit_packet(&self, message: &Message<'_>, buf: &mut [u8]) -> Result<usize> {
        let total = Self::packet_len(message);
        room(buf, total)?;
        let n = message.emit(&mut buf[TCP_HEADER_LEN..total])?;
        self.emit(n, buf)?;
        Ok(TCP_HEADER_LEN + n)
    }
}

/// Validates messageLength and returns the packet's total length.
pub(crate) fn checked_total(message_length: u32) -> Result<usize> {
    let ml = message_length as usize;
    if ml < TCP_HEADER_LEN - TCP_LENGTH_PREFIX {
        return Err(Error::invalid("messageLength", "shorter than the header"));
    }
    if ml % 8 != 0 {
        return Err(Error::invalid("messageLength", "not a multiple of 8"));
    }
    Ok(TCP_LENGTH_PREFIX + ml)
}

/// Iterator over the messages of a messages area. Yields an error (and
/// then stops) when a message's chunkLen does not fit what is left.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    /// Iterates over `area`, the messages of one TcpMessageHeader packet.
    pub fn new(area: &'a [u8]) -> Self {
        Self { rest: area }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = match peek(self.rest) {
            Ok((_, len)) => {
                let (msg, rest) = self.rest.split_at(len);
                self.rest = rest;
                Message::parse(msg)
            }
            Err(Error::Truncated { .. }) if self.rest.len() >= PREFIX_LEN => Err(Error::invalid(
                "chunkLen",
                "message runs past messageLength",
            )),
            Err(Error::Truncated { .. }) => Err(Error::invalid(
                "chunkLen",
                "messageLength leaves a partial message",
            )),
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// Parses a whole TcpMessageHeader packet: the header and an iterator over
/// its messages.
pub fn parse_packet(packet: &[u8]) -> Result<(TcpMessageHeaderRepr, Messages<'_>)> {
    let (hdr, area) = TcpMessageHeaderRepr::parse(packet)?;
    Ok((hdr, Messages::new(area)))
}
