//! A scripted MMS server for the client's tests: one connection on a
//! loopback port, blocking, built from mms-proto's wire Reprs. It serves
//! one ASF file just well enough ([4.3]'s sequence over TCP) and
//! misbehaves in the one way a test asks for ([`Script`]), as servers in
//! the wild do (issue 15).

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use mms_proto::asf::{HeaderSummary, Padding, Rewritten, Selection, StreamSet, rewrite};
use mms_proto::wire::{
    DataPacketRepr, FILE_ATTRIBUTE_MMS_CANSEEK, Frame, HResult, Limits, MMS_DISABLE_PACKET_PAIR,
    MMS_PACKET_PAIR_TCP_HIGH_ENTROPY, MMS_USE_PACKET_PAIR, Message, ReportConnectedExRepr,
    ReportConnectedFunnelRepr, ReportEndOfStreamRepr, ReportFunnelInfoRepr, ReportOpenFileRepr,
    ReportReadBlockRepr, ReportStartedPlayingRepr, ReportStreamSwitchRepr, Status, StopAt,
    TcpMessageHeaderRepr, Utf16Str, frame, parse_packet,
};

/// How the server behaves. `Script::serving(file)` is a correct server.
#[derive(Clone)]
pub struct Script {
    /// The ASF file served (header, Data Object, packets, maybe an index).
    pub file: Vec<u8>,
    /// ServerVersionInfo of ReportConnectedEX.
    pub version: &'static str,
    /// Answer OpenFile with a 48-byte ReportOpenFile: this hr and no body.
    pub short_refusal: Option<HResult>,
    /// Label media Data with this playIncarnation, whatever StartPlaying
    /// said.
    pub incarnation: Option<u8>,
    /// Close the connection after this many media packets.
    pub drop_after: Option<usize>,
    /// ... with a reset (SO_LINGER 0) rather than a FIN.
    pub reset: bool,
    /// After this many media packets, send a message the client does not
    /// expect then (a ReportConnectedFunnel).
    pub bogus_after: Option<usize>,
    /// Units sent as media Data after the file's packets, before the end
    /// of stream (the numbers follow the last packet's).
    pub trailing: Vec<Vec<u8>>,
    /// Send every stream whatever StreamSwitch asked.
    pub ignore_stream_switch: bool,
    /// Stream to the end whatever frameOffset asked.
    pub ignore_stop: bool,
    /// Wait this long between media packets.
    pub pace: Duration,
    /// Send these packets (by number) as bytes that are no ASF packet.
    pub corrupt: Vec<usize>,
    /// AuthenPackage of ReportConnectedEX (`BASIC`, `NTLM`).
    pub authen_package: Option<&'static str>,
    /// Decline Data over UDP: a ConnectFunnel naming UDP is answered
    /// with ReportDisconnectedFunnel ([3.2.5.5]).
    pub refuse_udp: bool,
    /// What the client sent, for the test to look at: each command's
    /// message name and, for Connect, the subscriberName; for OpenFile,
    /// the file name; for StartPlaying, its fields.
    pub log: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
    /// Answer OpenFile with a RedirectType 2 (through this proxy).
    pub redirect_to_proxy: Option<SocketAddr>,
    /// Agree to the TCP packet-pair ([4.4.2]) and send its two measuring
    /// ReportFunnelInfo this far apart: the client measures about
    /// 4.5 kbit over this gap.
    pub pair_gap: Option<Duration>,
}

impl Script {
    pub fn serving(file: Vec<u8>) -> Self {
        Script {
            file,
            version: "9.1.1.3862",
            short_refusal: None,
            incarnation: None,
            drop_after: None,
            reset: false,
            bogus_after: None,
            trailing: Vec::new(),
            ignore_stream_switch: false,
            ignore_stop: false,
            pace: Duration::ZERO,
            corrupt: Vec::new(),
            authen_package: None,
            refuse_udp: false,
            log: None,
            redirect_to_proxy: None,
            pair_gap: None,
        }
    }

    /// Serves one connection on a loopback port, in a thread; the address.
    pub fn start(self) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let _ = Conn::new(s, self).run();
        });
        addr
    }
}

/// The file's header (Header Object + Data Object prefix) and packets.
pub fn split(file: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let h = HeaderSummary::parse(file).unwrap();
    let start = h.header_object_len() + mms_proto::asf::DATA_OBJECT_PREFIX_LEN;
    let p = h.packet_size as usize;
    let n = if h.packet_count > 0 {
        h.packet_count as usize
    } else {
        (file.len() - start) / p
    };
    let packets = file[start..start + n * p].chunks(p).collect();
    (&file[..start], packets)
}

struct Conn {
    s: TcpStream,
    script: Script,
    input: Vec<u8>,
    selected: Option<StreamSet>,
    seq: u8,
    sent: usize,
}

impl Conn {
    fn new(s: TcpStream, script: Script) -> Self {
        Conn {
            s,
            script,
            input: Vec::new(),
            selected: None,
            seq: 0,
            sent: 0,
        }
    }

    fn send(&mut self, m: &Message<'_>) -> std::io::Result<()> {
        let mut out = vec![0; TcpMessageHeaderRepr::packet_len(m)];
        let n = TcpMessageHeaderRepr {
            seq: 0,
            time_sent: 0,
        }
        .emit_packet(m, &mut out)
        .unwrap();
        self.s.write_all(&out[..n])
    }

    fn send_data(&mut self, location_id: u32, incarnation: u8, af: u8, payload: &[u8]) {
        let d = DataPacketRepr {
            location_id,
            play_incarnation: incarnation,
            af_flags: af,
            payload,
        };
        let mut out = vec![0; d.buffer_len()];
        d.emit(&mut out).unwrap();
        let _ = self.s.write_all(&out);
    }

    /// The next command from the client: its bytes (None at the end).
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 4096];
        loop {
            match frame(&self.input, &Limits::default()) {
                Ok(Status::Complete(Frame::Command(n))) => {
                    return Some(self.input.drain(..n).collect());
                }
                Ok(Status::Complete(Frame::Data(n))) => {
                    self.input.drain(..n);
                }
                Ok(Status::Partial(_)) => match self.s.read(&mut chunk) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                },
                Err(_) => return None,
            }
        }
    }

    fn run(mut self) -> std::io::Result<()> {
        let file = self.script.file.clone();
        let (header, packets) = split(&file);
        let h = HeaderSummary::parse(header).unwrap();
        while let Some(unit) = self.recv() {
            let (_, mut ms) = parse_packet(&unit).unwrap();
            let m = ms.next().unwrap().unwrap();
            if let Some(log) = &self.script.log {
                log.lock().unwrap().push(format!("{m:?}"));
            }
            match m {
                Message::Connect(c) => self.send(
                    &ReportConnectedExRepr {
                        authen_package: self.script.authen_package.map(Utf16Str::Str),
                        ..ReportConnectedExRepr::new(
                            if self.script.pair_gap.is_some()
                                && c.play_incarnation == MMS_USE_PACKET_PAIR
                            {
                                MMS_USE_PACKET_PAIR
                            } else {
                                MMS_DISABLE_PACKET_PAIR
                            },
                            Utf16Str::Str(self.script.version),
                        )
                    }
                    .into(),
                )?,
                Message::FunnelInfo(f) => {
                    if let Some(gap) = self.script.pair_gap
                        && f.play_incarnation == MMS_PACKET_PAIR_TCP_HIGH_ENTROPY
                    {
                        let filler = [0x5Au8; 480];
                        for i in 0..2 {
                            if i == 1 {
                                std::thread::sleep(gap);
                            }
                            self.send(
                                &ReportFunnelInfoRepr {
                                    play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
                                    packet_pair: &filler,
                                    ..ReportFunnelInfoRepr::new(7)
                                }
                                .into(),
                            )?;
                        }
                    }
                    self.send(&ReportFunnelInfoRepr::new(7).into())?
                }
                Message::ConnectFunnel(c)
                    if self.script.refuse_udp
                        && c.funnel_name
                            .to_string_lossy()
                            .to_ascii_uppercase()
                            .contains("UDP") =>
                {
                    self.send(
                        &mms_proto::wire::ReportDisconnectedFunnelRepr {
                            hr: HResult::E_NOTIMPL,
                            play_incarnation: 0,
                        }
                        .into(),
                    )?
                }
                Message::ConnectFunnel(_) => {
                    self.send(&ReportConnectedFunnelRepr::default().into())?
                }
                Message::OpenFile(o) if self.script.redirect_to_proxy.is_some() => {
                    let proxy = self.script.redirect_to_proxy.unwrap();
                    let to = format!("mms://{proxy}");
                    self.send(
                        &mms_proto::wire::ReportRedirectRepr {
                            hr: HResult::S_OK,
                            redirect_type: 2,
                            location: Utf16Str::Str(&to),
                        }
                        .into(),
                    )?;
                    let _ = o;
                    return Ok(());
                }
                Message::OpenFile(o) => {
                    if let Some(hr) = self.script.short_refusal {
                        self.send_short_report_open_file(hr, o.play_incarnation)?;
                        return Ok(());
                    }
                    let r = ReportOpenFileRepr {
                        hr: HResult::S_OK,
                        play_incarnation: o.play_incarnation,
                        open_file_id: 1,
                        file_attributes: FILE_ATTRIBUTE_MMS_CANSEEK,
                        file_duration: h.duration_ms() as f64 / 1000.0,
                        file_blocks: h.duration_ms().div_ceil(1000) as u32,
                        file_packet_size: h.packet_size,
                        file_packet_count: packets.len() as u64,
                        file_bit_rate: h.total_bitrate(),
                        file_header_size: header.len() as u32,
                        ..ReportOpenFileRepr::default()
                    };
                    self.send(&r.into())?;
                }
                Message::ReadBlock(r) => {
                    self.send(
                        &ReportReadBlockRepr {
                            hr: HResult::S_OK,
                            play_incarnation: r.play_incarnation,
                            play_sequence: 0,
                        }
                        .into(),
                    )?;
                    let pieces: Vec<&[u8]> = header.chunks(h.packet_size as usize).collect();
                    for (i, piece) in pieces.iter().enumerate() {
                        let af = if i + 1 == pieces.len() { 0x0C } else { 0x04 };
                        self.send_data(i as u32, r.play_incarnation as u8, af, piece);
                    }
                }
                Message::StreamSwitch(sw) => {
                    let mut set = self.selected.unwrap_or(h.all_streams());
                    for e in sw.entries.iter() {
                        if e.dst_stream_number == 0xFFFF {
                            set.remove(e.src_stream_number as u8);
                        } else {
                            set.insert(e.dst_stream_number as u8);
                        }
                    }
                    self.selected = Some(set);
                    self.send(&ReportStreamSwitchRepr { hr: HResult::S_OK }.into())?;
                }
                Message::StartPlaying(p) => {
                    self.send(
                        &ReportStartedPlayingRepr {
                            hr: HResult::S_OK,
                            play_incarnation: p.play_incarnation,
                            tiger_file_id: 1,
                            unused1: 0,
                        }
                        .into(),
                    )?;
                    let start = if p.location_id != u32::MAX && p.location_id != 0 {
                        p.location_id as usize
                    } else {
                        0
                    };
                    let incarnation = self.script.incarnation.unwrap_or(p.play_incarnation as u8);
                    let stop = if self.script.ignore_stop {
                        StopAt::End
                    } else {
                        p.stop_at()
                    };
                    if !self.play(
                        &packets[start.min(packets.len())..],
                        start,
                        incarnation,
                        stop,
                        &h,
                    ) {
                        return Ok(());
                    }
                    self.send(
                        &ReportEndOfStreamRepr {
                            hr: HResult::S_OK,
                            play_incarnation: p.play_incarnation,
                        }
                        .into(),
                    )?;
                }
                Message::StopPlaying(s) => self.send(
                    &ReportEndOfStreamRepr {
                        hr: HResult::S_OK,
                        play_incarnation: s.play_incarnation,
                    }
                    .into(),
                )?,
                Message::CloseFile(_) => return Ok(()),
                _ => {}
            }
        }
        Ok(())
    }

    /// [2.2.4.7] cut after hr and playIncarnation: 16 bytes of message.
    fn send_short_report_open_file(
        &mut self,
        hr: HResult,
        incarnation: u32,
    ) -> std::io::Result<()> {
        let full = ReportOpenFileRepr {
            hr,
            play_incarnation: incarnation,
            ..ReportOpenFileRepr::default()
        };
        let m: Message<'_> = full.into();
        let mut out = vec![0; TcpMessageHeaderRepr::packet_len(&m)];
        TcpMessageHeaderRepr {
            seq: 0,
            time_sent: 0,
        }
        .emit_packet(&m, &mut out)
        .unwrap();
        // TcpMessageHeader 32 bytes (chunkCount at 16 counts 8-byte units
        // after the first 16) + chunkLen, MID, hr, playIncarnation.
        let len = 48usize;
        out.truncate(len);
        out[8..12].copy_from_slice(&((len - 16) as u32).to_le_bytes());
        out[16..20].copy_from_slice(&(((len - 16) / 8) as u32).to_le_bytes());
        out[32..36].copy_from_slice(&(((len - 32) / 8) as u32).to_le_bytes());
        self.s.write_all(&out)
    }

    /// Streams `packets` (numbered from `first`); false if the script
    /// ended the connection.
    fn play(
        &mut self,
        packets: &[&[u8]],
        first: usize,
        incarnation: u8,
        stop: StopAt,
        h: &HeaderSummary<'_>,
    ) -> bool {
        let size = h.packet_size as usize;
        let mut buf = vec![0; size + 2];
        let mut t0 = None;
        let sel = if self.script.ignore_stream_switch {
            Selection::EVERYTHING
        } else {
            Selection::streams(self.selected.unwrap_or(h.all_streams()))
        };
        let trailing = self.script.trailing.clone();
        let units = packets
            .iter()
            .map(|p| (*p, true))
            .chain(trailing.iter().map(|t| (&t[..], false)));
        for (i, (packet, real)) in units.enumerate() {
            if Some(self.sent) == self.script.drop_after {
                if self.script.reset {
                    let _ = socket2::SockRef::from(&self.s).set_linger(Some(Duration::ZERO));
                }
                return false;
            }
            if Some(self.sent) == self.script.bogus_after {
                let _ = self.send(&ReportConnectedFunnelRepr::default().into());
            }
            let junk = [0x90u8; 64];
            let payload = if real && self.script.corrupt.contains(&(first + i)) {
                &junk[..]
            } else if real {
                let send = mms_proto::asf::PacketInfo::parse(packet).unwrap().send_time;
                let t0 = *t0.get_or_insert(send);
                let past = match stop {
                    StopAt::End => false,
                    StopAt::Absolute(ms) => send > ms,
                    StopAt::Relative(ms) => send - t0 > ms,
                };
                if past {
                    break;
                }
                match rewrite(packet, size, &sel, Padding::Strip, &mut buf).unwrap() {
                    Rewritten::Packet(n) => &buf[..n],
                    Rewritten::Skip => continue,
                }
            } else {
                packet
            };
            let payload = payload.to_vec();
            let af = self.seq;
            self.seq = self.seq.wrapping_add(1);
            self.send_data((first + i) as u32, incarnation, af, &payload);
            self.sent += 1;
            if !self.script.pace.is_zero() {
                std::thread::sleep(self.script.pace);
            }
        }
        true
    }
}
