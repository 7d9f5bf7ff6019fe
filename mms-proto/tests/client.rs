//! Simulation tests of the client machine ([3.1]) against scripted server
//! messages, with the clock stepped by hand: each state of [4.1] (INIT,
//! READY, STREAMING and back), and broken peers. Every server byte stream
//! is also a seed for the `client` fuzz target.

mod common;
use common::seed;
use mms_proto::asf::StreamSet;
use mms_proto::client::*;
use mms_proto::time::{Duration, Instant};
use mms_proto::wire::text::{AuthenPackage, Guid};
use mms_proto::wire::*;

/// A media Data payload of `len` bytes that is a valid ASF data packet
/// (the machine drops Data that is not one): one payload of stream 1.
fn media(len: usize) -> Vec<u8> {
    common::asf_packet(len)
}

const GUID: Guid = Guid {
    data1: 0x3300_AD50,
    data2: 0x2C39,
    data3: 0x46C0,
    data4: [0xAE, 0x0A, 0x60, 0xAB, 0xC2, 0xE0, 0x7A, 0x11],
};

struct Sim {
    c: ClientMachine,
    now: Instant,
    /// Everything the server sent (the fuzz seed).
    stream: Vec<u8>,
}

/// A message the client sent: its id and packet bytes.
struct Sent(Vec<u8>);

impl Sent {
    fn message(&self) -> Message<'_> {
        parse_packet(&self.0).unwrap().1.next().unwrap().unwrap()
    }
    fn id(&self) -> MessageId {
        self.message().id()
    }
    /// (src, dst) of each entry of a StreamSwitch.
    fn switch_entries(&self) -> Vec<(u16, u16)> {
        let Message::StreamSwitch(sw) = self.message() else {
            panic!("not a StreamSwitch: {:?}", self.id())
        };
        sw.entries
            .iter()
            .map(|e| (e.src_stream_number, e.dst_stream_number))
            .collect()
    }
}

impl Sim {
    fn new(config: Config) -> Self {
        Sim {
            c: ClientMachine::new(config, "dir/clip.wmv", None).unwrap(),
            now: Instant(5_000_000),
            stream: Vec::new(),
        }
    }

    /// The application drives playlists itself (the machine following
    /// one is `the_machine_follows_a_playlist`).
    fn config() -> Config {
        Config {
            guid: GUID,
            follow_playlist: false,
            ..Config::default()
        }
    }

    /// Drains the client's output.
    fn sent(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        let mut buf = [0u8; OUTPUT_BUF_LEN];
        for _ in 0..32 {
            match self.c.poll_output(self.now, &mut buf).unwrap() {
                Output::Transmit(Transmit::Tcp(n)) => {
                    // Each message in its own TcpMessageHeader ([3.1.5.1]).
                    let (_, mut m) = parse_packet(&buf[..n]).unwrap();
                    assert!(m.next().unwrap().is_ok() && m.next().is_none());
                    out.push(Sent(buf[..n].to_vec()));
                }
                _ => return out,
            }
        }
        panic!("the client does not stop sending");
    }

    fn ids(&mut self) -> Vec<MessageId> {
        self.sent().iter().map(Sent::id).collect()
    }

    fn unit(&mut self, bytes: Vec<u8>) -> Result<Option<String>, ClientError> {
        self.stream.extend_from_slice(&bytes);
        seed("client", &self.stream);
        // As a runtime cuts it: the framer tells commands from Data.
        let f = match frame(&bytes, &Limits::default()) {
            Ok(Status::Complete(f)) => f,
            Ok(Status::Partial(_)) => panic!("a whole unit"),
            Err(e) => return Err(ClientError::Malformed(e)),
        };
        self.c
            .handle_input(self.now, Input::tcp(f, &bytes))
            .map(|e| e.map(|e| format!("{e:?}")))
    }

    fn msg<'a>(&mut self, m: impl Into<Message<'a>>) -> Result<Option<String>, ClientError> {
        let m = m.into();
        let mut buf = vec![0; TcpMessageHeaderRepr::packet_len(&m)];
        let n = TcpMessageHeaderRepr {
            seq: 0,
            time_sent: 0,
        }
        .emit_packet(&m, &mut buf)
        .unwrap();
        buf.truncate(n);
        self.unit(buf)
    }

    fn data(
        &mut self,
        loc: u32,
        inc: u8,
        af: u8,
        payload: &[u8],
    ) -> Result<Option<String>, ClientError> {
        let d = DataPacketRepr {
            location_id: loc,
            play_incarnation: inc,
            af_flags: af,
            payload,
        };
        let mut buf = vec![0; d.buffer_len()];
        d.emit(&mut buf).unwrap();
        self.unit(buf)
    }

    /// Connect … ReportConnectedFunnel with a server of `version`; the
    /// OpenFile sent is dropped.
    fn funneled(&mut self, version: &str) {
        self.sent();
        self.msg(ReportConnectedExRepr::new(
            MMS_DISABLE_PACKET_PAIR,
            Utf16Str::Str(version),
        ))
        .unwrap();
        self.sent();
        self.msg(ReportFunnelInfoRepr::new(5)).unwrap();
        self.sent();
        self.msg(ReportConnectedFunnelRepr::default()).unwrap();
        self.sent();
    }

    /// Connect … ReportOpenFile with a v`major` server; returns the sent
    /// ReadBlock.
    fn open(&mut self, major: u8) -> Sent {
        assert_eq!(self.ids(), [MessageId::Connect]);
        let version = format!("{major}.1.1.3862");
        self.msg(ReportConnectedExRepr::new(
            MMS_DISABLE_PACKET_PAIR,
            Utf16Str::Str(&version),
        ))
        .unwrap();
        assert_eq!(self.ids(), [MessageId::FunnelInfo]);
        self.msg(ReportFunnelInfoRepr::new(0x1234)).unwrap();
        assert_eq!(self.c.client_id(), 0x1234);
        assert_eq!(self.ids(), [MessageId::ConnectFunnel]);
        self.msg(ReportConnectedFunnelRepr::default()).unwrap();
        let open = self.sent();
        let Message::OpenFile(o) = open[0].message() else {
            panic!()
        };
        assert_eq!(
            (o.play_incarnation, o.file_name.chars().collect::<String>()),
            (9, "dir/clip.wmv".into())
        );
        let ev = self
            .msg(opened(HResult::S_OK, FILE_ATTRIBUTE_MMS_CANSEEK))
            .unwrap()
            .unwrap();
        assert!(ev.starts_with("Opened"), "{ev}");
        assert_eq!(self.c.state(), State::Init);
        let mut s = self.sent();
        assert_eq!(s.len(), 1);
        s.remove(0)
    }

    /// Through the header (two pieces) to READY with streams 1..=3.
    fn ready(&mut self, major: u8) {
        let rb = self.open(major);
        let Message::ReadBlock(r) = rb.message() else {
            panic!()
        };
        assert_eq!(r.play_incarnation, 1, "HeaderIncarnation starts at 1");
        self.msg(ReportReadBlockRepr {
            hr: HResult::S_OK,
            play_incarnation: 1,
            play_sequence: 0,
        })
        .unwrap();
        let ev = self.data(0, 1, 0x04, &[1; 600]).unwrap().unwrap();
        assert!(ev.contains("first: true, last: false"), "{ev}");
        assert_eq!(self.c.state(), State::Init);
        let ev = self.data(1, 1, 0x08, &[2; 400]).unwrap().unwrap();
        assert!(ev.contains("first: false, last: true"), "{ev}");
        assert_eq!(self.c.state(), State::Ready);
        self.c.set_streams(StreamSet::EMPTY.with(1).with(2).with(3));
    }

    /// READY → STREAMING with `play`; returns what the client sent.
    fn play(&mut self, play: Play) -> Vec<Sent> {
        self.c.play(self.now, &play).unwrap();
        let sent = self.sent();
        let last = sent.last().unwrap().message();
        let inc = match last {
            Message::StartPlaying(p) => p.play_incarnation,
            Message::StartStriding(p) => p.play_incarnation,
            m => panic!("{m:?}"),
        };
        if sent.len() > 1 {
            assert_eq!(sent[0].id(), MessageId::StreamSwitch);
            assert_eq!(
                self.msg(ReportStreamSwitchRepr { hr: HResult::S_OK })
                    .unwrap()
                    .unwrap(),
                "StreamsSwitched"
            );
        }
        let ev = match last {
            Message::StartPlaying(_) => self.msg(started(inc)),
            _ => self.msg(ReportStartStridingRepr {
                hr: HResult::S_OK,
                play_incarnation: inc,
                spare: 0,
            }),
        };
        assert_eq!(ev.unwrap().unwrap(), "Playing");
        assert_eq!(self.c.state(), State::Streaming);
        sent
    }
}

fn opened(hr: HResult, attributes: u32) -> ReportOpenFileRepr {
    ReportOpenFileRepr {
        hr,
        play_incarnation: 9,
        open_file_id: 1,
        padding: 0,
        file_name: 0,
        file_attributes: attributes,
        file_duration: 3.0,
        file_blocks: 3,
        file_packet_size: 1000,
        file_packet_count: 30,
        file_bit_rate: 80_000,
        file_header_size: 1000,
    }
}

fn started(inc: u32) -> ReportStartedPlayingRepr {
    ReportStartedPlayingRepr {
        hr: HResult::S_OK,
        play_incarnation: inc,
        tiger_file_id: 1,
        unused1: 0,
    }
}

/// ReportStreamChange to an entry of 1500-byte packets at 64 kbit/s.
fn entry_change(header_size: u32) -> ReportStreamChangeRepr {
    ReportStreamChangeRepr {
        hr: HResult::S_OK,
        tcp_hdr_incarnation: TCP_HDR_INCARNATION,
        packet_size: 1500,
        header_size,
        bit_rate: 64_000,
        stream_id: 0,
    }
}

fn eos(hr: u32, inc: u32) -> ReportEndOfStreamRepr {
    ReportEndOfStreamRepr {
        hr: HResult(hr),
        play_incarnation: inc,
    }
}

#[test]
fn connect_names_the_player_and_one_guid() {
    let mut sim = Sim::new(Sim::config());
    let sent = sim.sent();
    let Message::Connect(c) = sent[0].message() else {
        panic!()
    };
    assert_eq!(c.play_incarnation, MMS_DISABLE_PACKET_PAIR);
    assert_eq!(
        c.subscriber_name.chars().collect::<String>(),
        "NSPlayer/9.0.0.3802; {3300AD50-2C39-46C0-AE0A-60ABC2E07A11}"
    );
    // Through a proxy: the host-param names the server.
    let mut c = ClientMachine::new(Sim::config(), "x", Some("media.example:1755")).unwrap();
    let mut buf = [0; OUTPUT_BUF_LEN];
    let Output::Transmit(Transmit::Tcp(n)) = c.poll_output(Instant(0), &mut buf).unwrap() else {
        panic!()
    };
    let (_, mut m) = parse_packet(&buf[..n]).unwrap();
    let Message::Connect(c) = m.next().unwrap().unwrap() else {
        panic!()
    };
    assert!(
        c.subscriber_name
            .chars()
            .collect::<String>()
            .ends_with("; Host: media.example:1755")
    );
}

#[test]
fn init_to_ready_to_streaming_to_ready() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    // READY: choose streams 1 and 3, play from a time with a stop.
    sim.c.select(StreamSet::EMPTY.with(1).with(3)).unwrap();
    let sent = sim.play(Play {
        start: Start::Time(1500),
        stop: StopAt::Relative(1000),
        acceleration: Some(Acceleration {
            bandwidth: 500_000,
            duration: 2000,
            link_bandwidth: Some(1_000_000),
        }),
        ..Play::default()
    });
    let Message::StreamSwitch(sw) = sent[0].message() else {
        panic!()
    };
    let entries: Vec<_> = sw
        .entries
        .iter()
        .map(|e| (e.src_stream_number, e.dst_stream_number, e.thinning_level))
        .collect();
    // [3.1.4.2] the complete selection: every stream on or off.
    assert_eq!(entries, [(0xFFFF, 1, 0), (0xFFFF, 3, 0), (2, 0xFFFF, 2)]);
    let Message::StartPlaying(p) = sent[1].message() else {
        panic!()
    };
    assert_eq!(
        (p.position, p.location_id, p.asf_offset),
        (1.5, u32::MAX, u32::MAX)
    );
    assert_eq!(p.frame_offset, 0x8000_0000 | 1000);
    assert_eq!(p.play_incarnation, 10, "OpenFile took 9");
    assert!(
        p.acceleration.is_some(),
        "Server-Version 9 gets the accel fields"
    );
    // STREAMING: packets with AFFlags wrapping, one lost.
    let mut seqs = Vec::new();
    for (loc, af) in [(15u32, 0xFEu8), (16, 0xFF), (17, 0x00), (19, 0x02)] {
        let ev = sim.data(loc, 10, af, &media(100)).unwrap().unwrap();
        seqs.push(ev);
    }
    assert!(
        seqs[3].contains("location_id: 19, sequence: 258"),
        "{}",
        seqs[3]
    );
    let st = sim.c.stats();
    assert_eq!((st.packets, st.bytes, st.lost, st.lost_run), (4, 400, 1, 1));
    // Ping → Pong at any time.
    sim.msg(PingRepr {
        dw_param1: 0,
        dw_param2: 0,
    })
    .unwrap();
    assert_eq!(sim.ids(), [MessageId::Pong]);
    // Stop: StopPlaying with the play's incarnation, then Logging.
    sim.now = sim.now + Duration::from_secs(2);
    sim.c.stop().unwrap();
    let sent = sim.sent();
    let Message::StopPlaying(s) = sent[0].message() else {
        panic!()
    };
    assert_eq!(s.play_incarnation, 10);
    let Message::Logging(l) = sent[1].message() else {
        panic!()
    };
    let log = l.log().unwrap();
    assert_eq!(
        (
            log.info.packets_received,
            log.info.bytes_received,
            log.info.packets_lost_client
        ),
        (4, 400, 1)
    );
    assert_eq!(
        (log.info.played_ms, log.info.start_time_ms, log.source_id),
        (2000, 1500, 1)
    );
    assert_eq!(log.strings.transport, b"TCP");
    // A packet in flight is dropped; the EndOfStream ends the play.
    assert_eq!(sim.data(20, 10, 3, &media(100)).unwrap(), None);
    let ev = sim.msg(eos(0, 10)).unwrap().unwrap();
    assert!(ev.contains("ready: true, stopped: true"), "{ev}");
    assert_eq!(sim.c.state(), State::Ready);
    // READY → CloseFile and close ([3.1.4.8]).
    sim.c.close().unwrap();
    assert_eq!(sim.ids(), [MessageId::CloseFile]);
    assert_eq!(sim.c.state(), State::Closed);
}

#[test]
fn packet_pair_gives_the_bandwidth() {
    let mut sim = Sim::new(Config {
        packet_pair: true,
        ..Sim::config()
    });
    let sent = sim.sent();
    let Message::Connect(c) = sent[0].message() else {
        panic!()
    };
    assert_eq!(c.play_incarnation, MMS_USE_PACKET_PAIR);
    sim.msg(ReportConnectedExRepr::new(
        MMS_USE_PACKET_PAIR,
        Utf16Str::Str("9.1.1.3862"),
    ))
    .unwrap();
    let sent = sim.sent();
    let Message::FunnelInfo(f) = sent[0].message() else {
        panic!()
    };
    assert_eq!(f.play_incarnation, MMS_PACKET_PAIR_TCP_HIGH_ENTROPY);
    let filler = [0x5Au8; 512 - 16 - 48];
    let pair = ReportFunnelInfoRepr {
        play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
        packet_pair: &filler,
        ..ReportFunnelInfoRepr::new(5)
    };
    assert_eq!(sim.msg(pair).unwrap(), None);
    assert!(sim.sent().is_empty());
    sim.now = sim.now + Duration(4096);
    let bits = TcpMessageHeaderRepr::packet_len(&pair.into()) as u64 * 8;
    let want = format!("Bandwidth(Some({}))", bits * 1_000_000 / 4096);
    assert_eq!(sim.msg(pair).unwrap().unwrap(), want);
    assert!(sim.sent().is_empty());
    sim.msg(ReportFunnelInfoRepr::new(5)).unwrap();
    assert_eq!(sim.ids(), [MessageId::ConnectFunnel]);
    assert_eq!(sim.c.bandwidth(), Some(bits * 1_000_000 / 4096));
}

#[test]
fn udp_refused_falls_back_to_tcp() {
    let mut sim = Sim::new(Config {
        udp_port: Some(7000),
        ..Sim::config()
    });
    sim.sent();
    sim.msg(ReportConnectedExRepr::new(
        MMS_DISABLE_PACKET_PAIR,
        Utf16Str::Str("9.1.1.3862"),
    ))
    .unwrap();
    sim.sent();
    sim.msg(ReportFunnelInfoRepr::new(5)).unwrap();
    let sent = sim.sent();
    let Message::ConnectFunnel(f) = sent[0].message() else {
        panic!()
    };
    assert_eq!(
        f.funnel_name.chars().collect::<String>(),
        "\\\\127.0.0.1\\UDP\\7000"
    );
    let ev = sim.msg(ReportDisconnectedFunnelRepr {
        hr: HResult::E_FAIL,
        play_incarnation: 0,
    });
    assert_eq!(ev.unwrap().unwrap(), "FellBackToTcp");
    let sent = sim.sent();
    let Message::ConnectFunnel(f) = sent[0].message() else {
        panic!()
    };
    assert_eq!(
        f.funnel_name.chars().collect::<String>(),
        "\\\\127.0.0.1\\TCP\\1037"
    );
    sim.msg(ReportConnectedFunnelRepr::default()).unwrap();
    assert!(!sim.c.udp_selected());
    assert_eq!(sim.ids(), [MessageId::OpenFile]);
}

#[test]
fn redirects_of_both_types_end_the_session() {
    for (t, loc, want) in [
        (
            REDIRECT_URL,
            "mms://other.example:1756/x.wmv",
            "Mms, host: \"other.example\", port: 1756",
        ),
        (REDIRECT_PROXY, "", "Proxy(None)"),
    ] {
        let mut sim = Sim::new(Sim::config());
        sim.funneled("9.1.1.3862");
        let ev = sim
            .msg(ReportRedirectRepr {
                hr: HResult::S_OK,
                redirect_type: t,
                location: Utf16Str::Str(loc),
            })
            .unwrap()
            .unwrap();
        assert!(ev.contains(want), "{ev}");
        assert_eq!(sim.c.state(), State::Closed);
        let mut buf = [0; OUTPUT_BUF_LEN];
        assert_eq!(sim.c.poll_output(sim.now, &mut buf).unwrap(), Output::Close);
    }
}

#[test]
fn a_security_challenge_goes_to_the_application() {
    let mut sim = Sim::new(Sim::config());
    sim.funneled("9.1.1.3862");
    let token = b"r\0e\0a\0l\0m\0=\0\"\0x\0\"\0\0\0";
    let ev = sim
        .msg(SecurityChallengeRepr {
            play_incarnation: 9,
            cookie: 77,
            token,
        })
        .unwrap()
        .unwrap();
    assert!(ev.starts_with("SecurityChallenge { scheme: Basic"), "{ev}");
    assert_eq!(sim.c.auth_scheme(), AuthenPackage::Basic);
    sim.c.respond(b"Basic Ym9iOnB3").unwrap();
    let sent = sim.sent();
    let Message::SecurityResponse(r) = sent[0].message() else {
        panic!()
    };
    assert_eq!((r.cookie, r.token), (77, &b"Basic Ym9iOnB3"[..]));
    sim.msg(opened(HResult::S_OK, 0)).unwrap();
    assert_eq!(sim.ids(), [MessageId::ReadBlock]);
}

#[test]
fn the_header_timer_cancels_and_retries_four_times() {
    let mut sim = Sim::new(Sim::config());
    sim.open(9);
    let mut buf = [0; OUTPUT_BUF_LEN];
    for retry in 1..=4u32 {
        let Output::Timeout(t) = sim.c.poll_output(sim.now, &mut buf).unwrap() else {
            panic!()
        };
        // 1 s + 1000 bytes at 80 kbit/s = 1.1 s, but at least 5 s.
        assert_eq!(t, sim.now + Duration::from_secs(5));
        sim.now = t;
        sim.c.handle_timeout(sim.now).unwrap();
        let sent = sim.sent();
        let Message::CancelReadBlock(c) = sent[0].message() else {
            panic!()
        };
        let Message::ReadBlock(r) = sent[1].message() else {
            panic!()
        };
        assert_eq!((c.play_incarnation, r.play_incarnation), (retry, retry + 1));
    }
    // A cancelled read's piece is dropped; the fifth expiry is the end.
    assert_eq!(sim.data(0, 4, 0x04, &[1; 10]).unwrap(), None);
    sim.now = sim.now + Duration::from_secs(5);
    assert_eq!(
        sim.c.handle_timeout(sim.now),
        Err(ClientError::HeaderTimeout)
    );
    assert_eq!(sim.c.state(), State::Closed);
}

#[test]
fn a_seek_while_streaming_is_stop_then_play() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    sim.play(Play::default());
    sim.data(0, 10, 0, &media(50)).unwrap().unwrap();
    sim.c
        .play(
            sim.now,
            &Play {
                start: Start::Packet(20),
                ..Play::default()
            },
        )
        .unwrap();
    assert_eq!(sim.ids(), [MessageId::StopPlaying, MessageId::Logging]);
    // Old packets in flight are dropped, the stop's EndOfStream starts the
    // new play at once.
    assert_eq!(sim.data(1, 10, 1, &media(50)).unwrap(), None);
    sim.msg(eos(0, 10)).unwrap();
    let sent = sim.sent();
    let Message::StartPlaying(p) = sent[0].message() else {
        panic!()
    };
    assert_eq!(
        (p.location_id, p.position, p.play_incarnation),
        (20, f64::MAX, 11)
    );
    sim.msg(started(11)).unwrap();
    assert_eq!(
        sim.data(2, 10, 2, &media(50)).unwrap(),
        None,
        "the old play's packet"
    );
    let ev = sim.data(20, 11, 0, &media(50)).unwrap().unwrap();
    assert!(ev.contains("location_id: 20"));
}

#[test]
fn streams_change_while_streaming() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    sim.play(Play::default());
    sim.c.select(StreamSet::EMPTY.with(1).with(3)).unwrap();
    let sent = sim.sent();
    // [3.1.4.3] only the affected streams.
    assert_eq!(sent[0].switch_entries(), [(2, 0xFFFF)]);
    assert_eq!(
        sim.c.select(StreamSet::EMPTY.with(1)),
        Err(ClientError::Misuse("a StreamSwitch is outstanding"))
    );
    sim.data(0, 10, 0, &media(50)).unwrap().unwrap();
    assert_eq!(
        sim.msg(ReportStreamSwitchRepr { hr: HResult::S_OK })
            .unwrap()
            .unwrap(),
        "StreamsSwitched"
    );
}

#[test]
fn striding_sends_start_striding() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    let sent = sim.play(Play {
        rate: Some(-2.0),
        start: Start::Packet(29),
        ..Play::default()
    });
    let Message::StartStriding(s) = sent.last().unwrap().message() else {
        panic!()
    };
    assert_eq!((s.rate, s.location_id), (-2.0, 29));
    assert!(sim.c.trick_mode());
    assert_eq!(
        sim.c.play(
            sim.now,
            &Play {
                rate: Some(9.0),
                ..Play::default()
            }
        ),
        Err(ClientError::Misuse("a stride rate is in -5..=5 and not 0"))
    );
}

/// [3.1.5.18] The end of stream by server version, and a playlist's next
/// entry ([3.1.5.19], [3.1.4.4]).
#[test]
fn end_of_stream_by_server_version_and_playlists() {
    // Version 9: hr 1 is a playlist entry's end; Logging, STREAMING.
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    sim.play(Play::default());
    let ev = sim.msg(eos(1, 10)).unwrap().unwrap();
    assert!(ev.contains("ready: false, stopped: false"), "{ev}");
    assert_eq!(sim.ids(), [MessageId::Logging]);
    assert_eq!(sim.c.state(), State::Streaming);
    let ev = sim.msg(entry_change(700)).unwrap().unwrap();
    assert!(ev.starts_with("EntryChange"), "{ev}");
    // The entry's header at incarnation 0xFF, then READY for the choice.
    sim.data(0, 0xFF, 0x0C, &[3; 700]).unwrap().unwrap();
    assert_eq!(sim.c.state(), State::Ready);
    assert_eq!(sim.c.file().unwrap().packet_size, 1500);
    sim.c.set_streams(StreamSet::EMPTY.with(1));
    sim.play(Play::default());
    // hr 0 from a v9 server: the end.
    let ev = sim.msg(eos(0, 11)).unwrap().unwrap();
    assert!(ev.contains("ready: true"), "{ev}");

    // Version 8: hr 0 on a file that is no broadcast ends it too; hr 0 on
    // a broadcast does not.
    for (attributes, ready) in [
        (FILE_ATTRIBUTE_MMS_CANSEEK, true),
        (FILE_ATTRIBUTE_MMS_BROADCAST, false),
    ] {
        let mut sim = Sim::new(Sim::config());
        sim.funneled("8.0.0.1");
        sim.msg(opened(HResult::S_OK, attributes)).unwrap();
        sim.sent();
        sim.data(0, 1, 0x0C, &[1; 1000]).unwrap();
        sim.c.set_streams(StreamSet::EMPTY.with(1));
        let sent = sim.play(Play {
            acceleration: Some(Acceleration::default()),
            ..Play::default()
        });
        let Message::StartPlaying(p) = sent.last().unwrap().message() else {
            panic!()
        };
        assert_eq!(p.acceleration, None, "no accel fields for a v8 server");
        let ev = sim.msg(eos(0, 10)).unwrap().unwrap();
        assert!(ev.contains(&format!("ready: {ready}")), "{ev}");
    }
}

// ----- broken peers --------------------------------------------------------

fn fails(r: Result<Option<String>, ClientError>, want: &str) {
    let e = r.expect_err("a broken peer is an error");
    assert!(format!("{e:?}").contains(want), "{e:?}");
}

#[test]
fn a_header_piece_of_the_wrong_incarnation_is_an_error() {
    let mut sim = Sim::new(Sim::config());
    sim.open(9);
    fails(sim.data(0, 7, 0x04, &[1; 10]), "wrong incarnation");
    assert_eq!(sim.c.state(), State::Closed);
}

#[test]
fn data_before_the_header_is_an_error() {
    let mut sim = Sim::new(Sim::config());
    sim.sent();
    sim.msg(ReportConnectedExRepr::new(
        MMS_DISABLE_PACKET_PAIR,
        Utf16Str::Str("9.1.1.3862"),
    ))
    .unwrap();
    fails(
        sim.data(0, 1, 0x04, &[1; 10]),
        "before the header was asked for",
    );
}

#[test]
fn stream_change_in_ready_is_an_error() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    // 0x20: LinkMacToViewerReportStreamChange, only valid while streaming.
    fails(
        sim.msg(ReportStreamChangeRepr {
            hr: HResult::S_OK,
            tcp_hdr_incarnation: 0xFF,
            ..Default::default()
        }),
        "ReportStreamChange",
    );
}

#[test]
fn data_in_ready_and_pieces_out_of_order_are_errors() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    fails(sim.data(0, 10, 0, &[1; 10]), "while READY");
    let mut sim = Sim::new(Sim::config());
    sim.open(9);
    sim.data(0, 1, 0x04, &[1; 10]).unwrap();
    fails(sim.data(2, 1, 0x08, &[1; 10]), "out of order");
    // Media of another incarnation: refused when strict (tolerated
    // otherwise: tests/tolerance.rs).
    let mut sim = Sim::new(Config {
        strict: true,
        ..Sim::config()
    });
    sim.ready(9);
    sim.play(Play::default());
    fails(sim.data(0, 0x33, 0, &media(50)), "unknown play incarnation");
}

#[test]
fn failure_hresults_and_malformed_messages_end_the_session() {
    let mut sim = Sim::new(Sim::config());
    sim.funneled("9.1.1.3862");
    fails(
        sim.msg(opened(HResult::NS_E_FILE_NOT_FOUND, 0)),
        "ReportOpenFile",
    );
    // Malformed: a TcpMessageHeader whose message is cut.
    let mut sim = Sim::new(Sim::config());
    let m: Message<'_> = ReportConnectedExRepr::new(1, Utf16Str::Str("9.1")).into();
    let mut buf = vec![0; TcpMessageHeaderRepr::packet_len(&m)];
    TcpMessageHeaderRepr {
        seq: 0,
        time_sent: 0,
    }
    .emit_packet(&m, &mut buf)
    .unwrap();
    buf[32] = 0xFF; // chunkLen of the message
    fails(sim.unit(buf), "Malformed");
    // A fourth ReportFunnelInfo.
    let mut sim = Sim::new(Config {
        packet_pair: true,
        ..Sim::config()
    });
    sim.msg(ReportConnectedExRepr::new(
        MMS_USE_PACKET_PAIR,
        Utf16Str::Str("9.1.1.3862"),
    ))
    .unwrap();
    let pair = ReportFunnelInfoRepr {
        play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
        ..ReportFunnelInfoRepr::new(5)
    };
    sim.msg(pair).unwrap();
    sim.msg(pair).unwrap();
    sim.msg(pair).unwrap();
    fails(sim.msg(pair), "ReportFunnelInfo");
}

#[test]
fn requests_in_the_wrong_state_are_refused_without_ending_the_session() {
    let mut sim = Sim::new(Sim::config());
    assert!(matches!(
        sim.c.play(sim.now, &Play::default()),
        Err(ClientError::Misuse(_))
    ));
    assert!(matches!(sim.c.stop(), Err(ClientError::Misuse(_))));
    assert!(matches!(sim.c.respond(b"x"), Err(ClientError::Misuse(_))));
    assert_eq!(sim.c.state(), State::Init);
    assert!(ClientMachine::new(Sim::config(), &"x".repeat(MAX_PATH_LEN + 1), None).is_err());
}

/// [3.1.4.4] With `follow_playlist` the machine plays the next entry by
/// itself, with the selection the application made for the entry's
/// header.
#[test]
fn the_machine_follows_a_playlist() {
    let mut sim = Sim::new(Config {
        follow_playlist: true,
        ..Sim::config()
    });
    sim.ready(9);
    sim.play(Play::default());
    sim.msg(eos(1, 10)).unwrap().unwrap();
    assert_eq!(sim.ids(), [MessageId::Logging]);
    let ev = sim.msg(entry_change(700)).unwrap().unwrap();
    assert!(ev.starts_with("EntryChange { entry: 1"), "{ev}");
    assert_eq!(sim.c.entry(), 1);
    sim.data(0, 0xFF, 0x0C, &[3; 700]).unwrap().unwrap();
    assert_eq!(sim.c.state(), State::Ready);
    // The application names the entry's streams as it handles the last
    // piece; the machine's play takes them.
    sim.c.set_streams(StreamSet::EMPTY.with(1).with(2));
    sim.c.select(StreamSet::EMPTY.with(2)).unwrap();
    let sent = sim.sent();
    assert_eq!(sent[0].switch_entries(), [(0xFFFF, 2), (1, 0xFFFF)]);
    let Message::StartPlaying(p) = sent[1].message() else {
        panic!()
    };
    assert_eq!((p.position, p.play_incarnation), (0.0, 11));
    sim.msg(ReportStreamSwitchRepr { hr: HResult::S_OK })
        .unwrap();
    sim.msg(started(11)).unwrap();
    assert_eq!(sim.c.state(), State::Streaming);
    let ev = sim.data(0, 11, 0, &media(50)).unwrap().unwrap();
    assert!(ev.contains("location_id: 0"), "{ev}");
    // A close while the next entry's header comes takes effect after it.
    sim.msg(eos(1, 11)).unwrap();
    sim.msg(entry_change(10)).unwrap();
    sim.sent();
    sim.c.close().unwrap();
    sim.data(0, 0xFF, 0x0C, &[3; 10]).unwrap().unwrap();
    assert_eq!(sim.ids(), [MessageId::CloseFile]);
    assert_eq!(sim.c.state(), State::Closed);
}

/// An application that does nothing at an entry's header keeps its
/// selection, and the machine sends it complete again (the server selected
/// everything for the entry, [3.2.4.2]); the Logging of the ended entry
/// reports that entry's packets even when the next play starts before it
/// is sent.
#[test]
fn a_followed_entry_resends_the_selection_and_logs_the_entry_that_ended() {
    let mut sim = Sim::new(Config {
        follow_playlist: true,
        ..Sim::config()
    });
    sim.ready(9);
    sim.c.select(StreamSet::EMPTY.with(1)).unwrap();
    sim.play(Play::default());
    for n in 0..3u8 {
        sim.data(u32::from(n), 10, n, &media(40)).unwrap().unwrap();
    }
    // Everything up to the entry's last piece arrives before the runtime
    // polls again.
    sim.msg(eos(1, 10)).unwrap().unwrap();
    sim.msg(entry_change(700)).unwrap().unwrap();
    sim.data(0, 0xFF, 0x0C, &[3; 700]).unwrap().unwrap();
    let sent = sim.sent();
    let ids: Vec<MessageId> = sent.iter().map(Sent::id).collect();
    assert_eq!(
        ids,
        [
            MessageId::Logging,
            MessageId::StreamSwitch,
            MessageId::StartPlaying
        ]
    );
    let Message::Logging(l) = sent[0].message() else {
        panic!()
    };
    let log = l.log().unwrap();
    assert_eq!(log.info.packets_received, 3, "the entry that ended");
    assert_eq!(log.info.bytes_received, 120);
    assert_eq!(
        sent[1].switch_entries(),
        [(0xFFFF, 1), (2, 0xFFFF), (3, 0xFFFF)]
    );
}

/// Between two playlist entries (ReportEndOfStream hr 1, before
/// ReportStreamChange) the server takes no StopPlaying: a close waits for
/// the next entry's header, a stop is refused without ending the session.
#[test]
fn a_close_between_playlist_entries_waits_for_the_next_header() {
    let mut sim = Sim::new(Config {
        follow_playlist: true,
        ..Sim::config()
    });
    sim.ready(9);
    sim.play(Play::default());
    sim.msg(eos(1, 10)).unwrap().unwrap();
    assert_eq!(sim.ids(), [MessageId::Logging]);
    assert!(matches!(sim.c.stop(), Err(ClientError::Misuse(_))));
    sim.c.close().unwrap();
    assert!(
        sim.ids().is_empty(),
        "no StopPlaying to a server between entries"
    );
    sim.msg(entry_change(10)).unwrap().unwrap();
    sim.data(0, 0xFF, 0x0C, &[3; 10]).unwrap().unwrap();
    assert_eq!(sim.ids(), [MessageId::CloseFile]);
    assert_eq!(sim.c.state(), State::Closed);
}

#[test]
fn a_stray_udp_datagram_changes_nothing() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    sim.play(Play::default());
    let udp = Input::Udp {
        source: "127.0.0.1:1755".parse().unwrap(),
        contents: &[0; 40],
    };
    assert_eq!(sim.c.handle_input(sim.now, udp), Ok(None));
    assert_eq!(sim.c.phase(), Phase::Streaming);
    assert!(sim.data(0, 10, 0, &media(50)).unwrap().is_some());
}

#[test]
fn an_unexpected_message_names_what_the_phase_waits_for() {
    let mut sim = Sim::new(Sim::config());
    sim.ready(9);
    let e = sim
        .msg(ReportStartedPlayingRepr::default())
        .expect_err("no play was asked for");
    assert_eq!(
        e,
        ClientError::Unexpected {
            message: MessageId::ReportStartedPlaying,
            phase: Phase::Ready,
        }
    );
    assert_eq!(
        e.to_string(),
        "unexpected LinkMacToViewerReportStartedPlaying while waiting for a request (READY)"
    );
    let _: &dyn core::error::Error = &e;
}
