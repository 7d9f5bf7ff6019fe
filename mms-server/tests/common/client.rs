//! A scripted, blocking MMS client over a real socket, built from
//! mms-proto's wire Reprs: it sends exactly the messages a test asks for
//! and hands back what the server sent. Used by the server's tests (the
//! access log, striding, playlists, stop rules) and by `cargo xtask load`
//! (which includes this file). It makes no protocol decisions of its own
//! beyond the setup sequence of [4.3].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mms_proto::wire::{
    ConnectFunnelRepr, ConnectRepr, DataPacket, DataPacketRepr, Frame, FunnelInfoRepr, HResult,
    Limits, Message, MessageId, OpenFileRepr, ReadBlockRepr, StartPlayingRepr, Status,
    StreamSwitchEntries, StreamSwitchEntry, StreamSwitchRepr, TcpMessageHeaderRepr, Utf16Str,
    frame, parse_packet,
};

pub const SUBSCRIBER: &str =
    "NSPlayer/9.0.0.2980; {3300AD50-2C39-46C0-AE0A-60ABC2E07A11}; Host: 127.0.0.1";

/// One unit from the server.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A TcpMessageHeader packet (one message): its bytes.
    Command(Vec<u8>),
    /// A Data packet: LocationId, incarnation, AFFlags, payload.
    Data {
        location_id: u32,
        incarnation: u8,
        af_flags: u8,
        payload: Vec<u8>,
    },
}

impl Incoming {
    /// The message of a Command packet.
    pub fn message(&self) -> Option<Message<'_>> {
        match self {
            Incoming::Command(b) => parse_packet(b).ok()?.1.next()?.ok(),
            Incoming::Data { .. } => None,
        }
    }

    /// The message id of a Command packet.
    pub fn id(&self) -> Option<MessageId> {
        self.message().map(|m| m.id())
    }
}

/// A media Data packet: its LocationId and payload.
pub type Received = (u32, Vec<u8>);

pub struct ScriptedClient {
    stream: TcpStream,
    /// Received bytes: `input[used..end]` is not yet consumed.
    input: Vec<u8>,
    used: usize,
    end: usize,
    seq: u16,
    /// Keep every unit received in `log` (off for load runs).
    pub keep_log: bool,
    /// Every unit received, in order (when `keep_log`).
    pub log: Vec<Incoming>,
}

impl ScriptedClient {
    /// Connects and runs Connect → FunnelInfo → ConnectFunnel (TCP).
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        stream.set_nodelay(true)?;
        let mut c = ScriptedClient {
            stream,
            // Room for the largest unit (a 64 KiB message) and more.
            input: vec![0; 256 * 1024],
            used: 0,
            end: 0,
            seq: 0,
            keep_log: true,
            log: Vec::new(),
        };
        c.send(&Message::Connect(ConnectRepr::new(
            0xF0F0_F0EF,
            Utf16Str::Str(SUBSCRIBER),
        )))?;
        c.expect(MessageId::ReportConnectedEx)?;
        c.send(&Message::FunnelInfo(FunnelInfoRepr {
            play_incarnation: 0xF0F0_F0EF,
        }))?;
        c.expect(MessageId::ReportFunnelInfo)?;
        c.send(&Message::ConnectFunnel(ConnectFunnelRepr {
            play_incarnation: 0,
            max_block_bytes: !0,
            max_funnel_bytes: 0,
            max_bit_rate: 0x0098_9680,
            funnel_mode: 2,
            funnel_name: Utf16Str::Str("\\\\127.0.0.1\\TCP\\1755"),
        }))?;
        c.expect(MessageId::ReportConnectedFunnel)?;
        Ok(c)
    }

    /// Sends one message in its own TcpMessageHeader packet.
    pub fn send(&mut self, m: &Message<'_>) -> io::Result<()> {
        let mut buf = vec![0u8; TcpMessageHeaderRepr::packet_len(m)];
        let n = TcpMessageHeaderRepr {
            seq: self.seq,
            time_sent: 0,
        }
        .emit_packet(m, &mut buf)
        .map_err(io::Error::other)?;
        self.seq = self.seq.wrapping_add(1);
        self.stream.write_all(&buf[..n])
    }

    /// The next unit from the server (None when it closed the connection).
    pub fn recv(&mut self) -> io::Result<Option<Incoming>> {
        loop {
            let rest = &self.input[self.used..self.end];
            let unit = match frame(rest, &Limits::default()).map_err(io::Error::other)? {
                Status::Complete(Frame::Command(n)) => {
                    self.used += n;
                    Incoming::Command(rest[..n].to_vec())
                }
                Status::Complete(Frame::Data(n)) => {
                    let view = DataPacket::new_checked(&rest[..n]).map_err(io::Error::other)?;
                    let d = DataPacketRepr::parse(&view).map_err(io::Error::other)?;
                    let unit = Incoming::Data {
                        location_id: d.location_id,
                        incarnation: d.play_incarnation,
                        af_flags: d.af_flags,
                        payload: d.payload.to_vec(),
                    };
                    self.used += n;
                    unit
                }
                Status::Partial(_) => {
                    // Move the unconsumed tail to the front, then read more.
                    self.input.copy_within(self.used..self.end, 0);
                    self.end -= self.used;
                    self.used = 0;
                    match self.stream.read(&mut self.input[self.end..])? {
                        0 => return Ok(None),
                        n => self.end += n,
                    }
                    continue;
                }
            };
            if self.keep_log {
                self.log.push(unit.clone());
            }
            return Ok(Some(unit));
        }
    }

    /// Receives until a message with `id` arrives (Pings are answered by
    /// nobody: tests that care send Pong themselves). Fails on close.
    pub fn expect(&mut self, id: MessageId) -> io::Result<Incoming> {
        for _ in 0..1_000_000 {
            match self.recv()? {
                Some(u) if u.id() == Some(id) => return Ok(u),
                Some(_) => {}
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("closed before {id:?}"),
                    ));
                }
            }
        }
        Err(io::Error::other("too many units"))
    }

    /// OpenFile → the ReportOpenFile (or whatever answered).
    pub fn open(&mut self, path: &str) -> io::Result<Incoming> {
        self.send(&Message::OpenFile(OpenFileRepr {
            play_incarnation: 1,
            spare: 0,
            file_name: Utf16Str::Str(path),
            token_data: &[],
        }))?;
        loop {
            let u = self.recv()?.ok_or_else(|| io::Error::other("closed"))?;
            if matches!(u.id(), Some(MessageId::ReportOpenFile)) {
                return Ok(u);
            }
        }
    }

    /// ReadBlock → the ASF file header, reassembled from its Data packets.
    pub fn read_header(&mut self, incarnation: u32) -> io::Result<Vec<u8>> {
        self.send(&Message::ReadBlock(ReadBlockRepr::new(1, incarnation)))?;
        let mut header = Vec::new();
        loop {
            match self.recv()?.ok_or_else(|| io::Error::other("closed"))? {
                Incoming::Data {
                    af_flags, payload, ..
                } => {
                    header.extend_from_slice(&payload);
                    if af_flags & 0x08 != 0 {
                        return Ok(header);
                    }
                }
                Incoming::Command(_) => {}
            }
        }
    }

    /// StreamSwitch turning the streams `on` on and `off` off →
    /// ReportStreamSwitch.
    pub fn select(&mut self, on: &[u16], off: &[u16]) -> io::Result<()> {
        // thinningLevel 0: every frame; 2: none (the stream is off).
        let entry = |s: u16, thinning_level| StreamSwitchEntry {
            src_stream_number: 0xFFFF,
            dst_stream_number: s,
            thinning_level,
        };
        let entries: Vec<StreamSwitchEntry> = on
            .iter()
            .map(|&s| entry(s, 0))
            .chain(off.iter().map(|&s| entry(s, 2)))
            .collect();
        self.send(&Message::StreamSwitch(StreamSwitchRepr {
            entries: StreamSwitchEntries::Slice(&entries),
        }))?;
        self.expect(MessageId::ReportStreamSwitch).map(drop)
    }

    /// StartPlaying from packet `location_id` with `incarnation`.
    pub fn play_from(&mut self, location_id: u32, incarnation: u32) -> io::Result<()> {
        self.send(&Message::StartPlaying(StartPlayingRepr {
            open_file_id: 1,
            padding: 0,
            position: f64::MAX,
            asf_offset: 0xFFFF_FFFF,
            location_id,
            frame_offset: 0xFFFF_FFFF,
            play_incarnation: incarnation,
            acceleration: None,
        }))
    }

    /// Receives until ReportEndOfStream: the media Data packets' payloads
    /// and LocationIds, and the end's hr.
    pub fn until_end(&mut self) -> io::Result<(Vec<Received>, HResult)> {
        let mut packets = Vec::new();
        loop {
            match self
                .recv()?
                .ok_or_else(|| io::Error::other("closed before the end"))?
            {
                Incoming::Data {
                    location_id,
                    payload,
                    ..
                } => packets.push((location_id, payload)),
                u @ Incoming::Command(_) => {
                    if let Some(Message::ReportEndOfStream(e)) = u.message() {
                        return Ok((packets, e.hr));
                    }
                }
            }
        }
    }

    /// The raw socket (to shut it down, or to set timeouts).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}
