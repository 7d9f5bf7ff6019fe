//! Wire codec and client receive-path benchmarks. Results and the memcpy baseline measured by this
//! same binary go to docs/benchmarks.md via `cargo xtask bench`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mms_proto::time::Instant;
use mms_proto::wire::*;

/// One representative message of each kind, as a server or client sends it.
fn messages(
    log: &'static ClientLogRepr<'static>,
    entries: &'static [StreamSwitchEntry],
) -> Vec<Message<'static>> {
    let mut cex = ReportConnectedExRepr::new(MMS_DISABLE_PACKET_PAIR, "9.1.1.3862".into());
    cex.authen_package = Some("NTLM".into());
    vec![
        PingRepr::default().into(),
        cex.into(),
        ReportConnectedFunnelRepr::default().into(),
        ReportDisconnectedFunnelRepr {
            hr: HResult::E_FAIL,
            play_incarnation: 0,
        }
        .into(),
        ReportEndOfStreamRepr {
            hr: HResult::S_OK,
            play_incarnation: 4,
        }
        .into(),
        ReportFunnelInfoRepr::new(77).into(),
        ReportOpenFileRepr {
            open_file_id: 1,
            file_attributes: FILE_ATTRIBUTE_MMS_CANSEEK,
            file_duration: 30.0,
            file_blocks: 30,
            file_packet_size: 3200,
            file_packet_count: 1000,
            file_bit_rate: 128_000,
            file_header_size: 5000,
            ..Default::default()
        }
        .into(),
        ReportReadBlockRepr {
            play_incarnation: 2,
            ..Default::default()
        }
        .into(),
        ReportRedirectRepr {
            hr: HResult::S_OK,
            redirect_type: REDIRECT_URL,
            location: "mmst://example.test/a.asf".into(),
        }
        .into(),
        ReportStartedPlayingRepr {
            play_incarnation: 4,
            tiger_file_id: 1,
            ..Default::default()
        }
        .into(),
        ReportStartStridingRepr {
            play_incarnation: 5,
            ..Default::default()
        }
        .into(),
        ReportStreamChangeRepr {
            tcp_hdr_incarnation: 0xFF,
            packet_size: 3200,
            header_size: 5000,
            bit_rate: 1,
            ..Default::default()
        }
        .into(),
        ReportStreamSwitchRepr::default().into(),
        SecurityChallengeRepr {
            play_incarnation: 1,
            cookie: 1,
            token: b"r\0e\0a\0l\0m\0=\0\"\0\"\0\0\0",
        }
        .into(),
        CancelReadBlockRepr {
            play_incarnation: 2,
        }
        .into(),
        CloseFileRepr {
            play_incarnation: 0,
            open_file_id: 1,
        }
        .into(),
        ConnectRepr::new(
            0,
            "NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1".into(),
        )
        .into(),
        ConnectFunnelRepr::new("\\\\192.168.0.129\\TCP\\1037".into()).into(),
        FunnelInfoRepr {
            play_incarnation: MMS_DISABLE_PACKET_PAIR,
        }
        .into(),
        LoggingRepr::Log(log).into(),
        OpenFileRepr {
            play_incarnation: 1,
            spare: 0,
            file_name: "media/demo.wmv".into(),
            token_data: &[],
        }
        .into(),
        PongRepr::default().into(),
        ReadBlockRepr::new(1, 2).into(),
        SecurityResponseRepr {
            play_incarnation: 1,
            cookie: 1,
            token: b"dXNlcjpwYXNz\0",
        }
        .into(),
        StartPlayingRepr {
            open_file_id: 1,
            padding: 0,
            position: 0.0,
            asf_offset: !0,
            location_id: !0,
            frame_offset: 0x00FF_FFFF,
            play_incarnation: 4,
            acceleration: None,
        }
        .into(),
        StartStridingRepr {
            open_file_id: 1,
            position: 10.0,
            play_incarnation: 5,
            rate: 2.0,
            ..Default::default()
        }
        .into(),
        StopPlayingRepr {
            open_file_id: 1,
            play_incarnation: 4,
        }
        .into(),
        StreamSwitchRepr {
            entries: StreamSwitchEntries::Slice(entries),
        }
        .into(),
    ]
}

fn bench_messages(c: &mut Criterion) {
    let log = ClientLogRepr {
        strings: ClientLogStrings {
            proto: b"mms",
            transport: b"TCP",
            ..Default::default()
        },
        ..Default::default()
    };
    let log: &'static ClientLogRepr<'static> = Box::leak(Box::new(log));
    let entries: &'static [StreamSwitchEntry] = Box::leak(Box::new([
        StreamSwitchEntry {
            src_stream_number: 0xFFFF,
            dst_stream_number: 1,
            thinning_level: 0,
        },
        StreamSwitchEntry {
            src_stream_number: 0xFFFF,
            dst_stream_number: 2,
            thinning_level: 0,
        },
    ]));
    let msgs = messages(log, entries);
    assert_eq!(msgs.len(), 28);
    let mut parse = c.benchmark_group("parse");
    parse
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    for m in &msgs {
        let mut bytes = vec![0u8; m.buffer_len()];
        m.emit(&mut bytes).unwrap();
        parse.throughput(Throughput::Bytes(bytes.len() as u64));
        parse.bench_with_input(
            BenchmarkId::from_parameter(format!("{:?}", m.id())),
            &bytes,
            |b, bytes| b.iter(|| Message::parse(black_box(bytes)).unwrap()),
        );
    }
    parse.finish();
    let mut emit = c.benchmark_group("emit");
    emit.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    for m in &msgs {
        let mut buf = vec![0u8; m.buffer_len()];
        emit.throughput(Throughput::Bytes(buf.len() as u64));
        emit.bench_with_input(
            BenchmarkId::from_parameter(format!("{:?}", m.id())),
            m,
            |b, m| b.iter(|| black_box(m).emit(black_box(&mut buf)).unwrap()),
        );
    }
    emit.finish();
}

/// A realistic received stream: 3200-byte ASF packets in Data packets, a
/// Ping every 1000 packets, 64 MiB in all.
fn stream() -> Vec<u8> {
    const TOTAL: usize = 64 << 20;
    let payload = vec![0x82u8; 3200];
    let ping: Message<'_> = PingRepr::default().into();
    let mut v = Vec::with_capacity(TOTAL + 4096);
    let mut n = 0u32;
    while v.len() < TOTAL {
        let start = v.len();
        if n % 1000 == 999 {
            v.resize(start + TcpMessageHeaderRepr::packet_len(&ping), 0);
            TcpMessageHeaderRepr {
                seq: n as u16,
                time_sent: 0,
            }
            .emit_packet(&ping, &mut v[start..])
            .unwrap();
        } else {
            let d = DataPacketRepr {
                location_id: n,
                play_incarnation: 10,
                af_flags: n as u8,
                payload: &payload,
            };
            v.resize(start + d.buffer_len(), 0);
            d.emit(&mut v[start..]).unwrap();
        }
        n += 1;
    }
    v
}

fn bench_stream(c: &mut Criterion) {
    let s = stream();
    let mut g = c.benchmark_group("stream");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("frame_and_parse_64MiB", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            let limits = Limits::default();
            for_each_frame(black_box(&s), &limits, |f, unit| match f {
                Frame::Data(_) => {
                    let d = DataPacketRepr::parse(&DataPacket::new_unchecked(unit)).unwrap();
                    acc = acc.wrapping_add(d.location_id as u64 + d.payload.len() as u64);
                }
                Frame::Command(_) => {
                    let (_, mut m) = parse_packet(unit).unwrap();
                    acc = acc.wrapping_add(m.next().unwrap().unwrap().buffer_len() as u64);
                }
            })
            .unwrap();
            acc
        })
    });
    // The client machine's receive path over the same stream (play
    // incarnation 10): framing, classification, sequence tracking, events,
    // and the Pongs it owes.
    let client = streaming_client();
    g.bench_function("client_receive_64MiB", |b| {
        let mut out = [0u8; mms_proto::client::OUTPUT_BUF_LEN];
        b.iter(|| {
            let mut c = client.clone();
            let mut acc = 0u64;
            let limits = Limits::default();
            for_each_frame(black_box(&s), &limits, |f, unit| {
                let input = mms_proto::client::Input::tcp(f, unit);
                if let Some(mms_proto::client::Event::Packet {
                    location_id, data, ..
                }) = c.handle_input(Instant(1), input).unwrap()
                {
                    acc = acc.wrapping_add(location_id as u64 + data.len() as u64);
                } else {
                    while let Ok(mms_proto::client::Output::Transmit(t)) =
                        c.poll_output(Instant(1), &mut out)
                    {
                        acc = acc.wrapping_add(t.len() as u64);
                    }
                }
            })
            .unwrap();
            acc
        })
    });
    let mut dst = vec![0u8; s.len()];
    g.bench_function("memcpy_64MiB", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&s));
            black_box(&dst);
        })
    });
    g.finish();
}

/// A client machine set up and streaming play incarnation 10 (the bench
/// stream's): the server's answers scripted, as in tests/client.rs.
fn streaming_client() -> mms_proto::client::ClientMachine {
    use mms_proto::client::*;
    let mut c = ClientMachine::new(Config::default(), "bench.wmv", None).unwrap();
    let mut out = [0u8; OUTPUT_BUF_LEN];
    let unit = |c: &mut ClientMachine, m: Message<'_>| {
        let mut out = [0u8; OUTPUT_BUF_LEN];
        let mut buf = vec![0; TcpMessageHeaderRepr::packet_len(&m)];
        TcpMessageHeaderRepr {
            seq: 0,
            time_sent: 0,
        }
        .emit_packet(&m, &mut buf)
        .unwrap();
        c.handle_input(Instant(0), Input::Tcp(Unit::Command(&buf)))
            .unwrap();
        while let Ok(Output::Transmit(_)) = c.poll_output(Instant(0), &mut out) {}
    };
    unit(
        &mut c,
        ReportConnectedExRepr::new(MMS_DISABLE_PACKET_PAIR, Utf16Str::Str("9.1.1.3862")).into(),
    );
    unit(&mut c, ReportFunnelInfoRepr::new(1).into());
    unit(&mut c, ReportConnectedFunnelRepr::default().into());
    unit(
        &mut c,
        ReportOpenFileRepr {
            open_file_id: 1,
            file_header_size: 100,
            ..Default::default()
        }
        .into(),
    );
    let header = DataPacketRepr {
        location_id: 0,
        play_incarnation: 1,
        af_flags: 0x0C,
        payload: &[0; 100],
    };
    let mut buf = vec![0; header.buffer_len()];
    header.emit(&mut buf).unwrap();
    c.handle_input(Instant(0), Input::Tcp(Unit::Data(&buf)))
        .unwrap();
    // OpenFile took PlayIncarnation 9; this play is 10, as in the stream.
    c.play(Instant(0), &Play::default()).unwrap();
    while let Ok(Output::Transmit(_)) = c.poll_output(Instant(0), &mut out) {}
    unit(
        &mut c,
        ReportStartedPlayingRepr {
            play_incarnation: 10,
            ..Default::default()
        }
        .into(),
    );
    assert_eq!(c.state(), State::Streaming);
    c
}

/// ASF packets: a real multiple-payload packet from the test set, and a
/// single-payload packet with BYTE padding in the Windows WMA layout
/// (asf-facts §12).
fn bench_asf(c: &mut Criterion) {
    use mms_proto::asf::*;
    let file: &[u8] = include_bytes!("../../testdata/ff_av.wmv");
    let h = HeaderSummary::parse(file).unwrap();
    let p_size = h.packet_size as usize;
    let start = h.file_header_len();
    let (multi, info) = (0..h.packet_count as usize)
        .map(|k| &file[start + k * p_size..start + (k + 1) * p_size])
        .map(|p| (p, PacketInfo::parse(p).unwrap()))
        .max_by_key(|(p, i)| i.payloads(p).count())
        .unwrap();
    assert!(info.multiple());
    let mut single = vec![
        0x82, 0, 0, 0x08, 0x5D, 4, 0, 0, 0, 0, 100, 0, 1, 7, 0, 0, 0, 0, 8,
    ];
    single.extend_from_slice(&2731u32.to_le_bytes());
    single.extend_from_slice(&3100u32.to_le_bytes());
    single.resize(27 + 2731, 0x5A);
    single.resize(27 + 2731 + 4, 0);
    let mut g = c.benchmark_group("asf");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut out = vec![0u8; 64 * 1024];
    for (name, p) in [("multi", multi), ("single", &single[..])] {
        let ps = p.len();
        g.throughput(Throughput::Bytes(ps as u64));
        g.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| {
                let p = black_box(p);
                let info = PacketInfo::parse(p).unwrap();
                info.payloads(p)
                    .map(|x| x.unwrap().data.len())
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("strip_{name}"), |b| {
            b.iter(|| {
                rewrite(
                    black_box(p),
                    ps,
                    &Selection::EVERYTHING,
                    Padding::Strip,
                    &mut out,
                )
                .unwrap()
            })
        });
        let first = PacketInfo::parse(p)
            .unwrap()
            .payloads(p)
            .next()
            .unwrap()
            .unwrap()
            .stream;
        let one = Selection::streams(StreamSet::EMPTY.with(first));
        g.bench_function(format!("filter_{name}"), |b| {
            b.iter(|| rewrite(black_box(p), ps, &one, Padding::Strip, &mut out).unwrap())
        });
        let Rewritten::Packet(n) =
            rewrite(p, ps, &Selection::EVERYTHING, Padding::Strip, &mut out).unwrap()
        else {
            unreachable!()
        };
        let sent = out[..n].to_vec();
        let mut back = vec![0u8; ps];
        g.bench_function(format!("repad_{name}"), |b| {
            b.iter(|| repad(black_box(&sent), ps, &mut back).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_messages, bench_stream, bench_asf);
criterion_main!(benches);
