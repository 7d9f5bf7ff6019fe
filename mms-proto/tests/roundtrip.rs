//! proptest: parse(emit(r)) == r for every Repr, with arbitrary field
//! values, arbitrary UTF-16 (unpaired surrogates, inner NULs) and arbitrary
//! byte tokens. Each message also goes through a TcpMessageHeader packet
//! and the framer.

use mms_proto::wire::*;
use proptest::prelude::*;

fn f64v() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN never equals itself", |f| !f.is_nan())
}

/// UTF-16 code units whose last unit is not NUL (a trailing NUL is the
/// terminator and padding, so it cannot be part of a text).
fn units(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u16>(), 0..max).prop_map(|mut v| {
        while v.last() == Some(&0) {
            v.pop();
        }
        v.iter().flat_map(|u| u.to_le_bytes()).collect()
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// ANSI strings for CLIENT_LOG fields: no NUL, not "-" (which means empty).
fn ansi(width: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..width).prop_filter("'-' is the empty string", |v| v != b"-")
}

fn check(m: Message<'_>) -> Result<(), TestCaseError> {
    let len = m.buffer_len();
    prop_assert_eq!(len % 8, 0);
    let mut buf = vec![0xA5u8; len + 8];
    prop_assert_eq!(m.emit(&mut buf).unwrap(), len);
    prop_assert!(buf[len..].iter().all(|&b| b == 0xA5));
    let parsed = Message::parse(&buf[..len]).unwrap();
    prop_assert_eq!(parsed, m);

    // The same message in a TcpMessageHeader packet, through the framer.
    let hdr = TcpMessageHeaderRepr {
        seq: 9,
        time_sent: 1234,
    };
    let mut pkt = vec![0u8; TcpMessageHeaderRepr::packet_len(&m)];
    let n = hdr.emit_packet(&m, &mut pkt).unwrap();
    prop_assert_eq!(
        frame(
            &pkt,
            &Limits {
                max_command_len: usize::MAX
            }
        )
        .unwrap(),
        Status::Complete(Frame::Command(n))
    );
    let (h, mut msgs) = parse_packet(&pkt).unwrap();
    prop_assert_eq!(h, hdr);
    prop_assert_eq!(msgs.next().unwrap().unwrap(), m);
    prop_assert!(msgs.next().is_none());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fixed_server_messages(a: u32, b: u32, c: u32, d: u32, e: u32, f in f64v(), g: u64, h: u32) {
        check(PingRepr { dw_param1: a, dw_param2: b }.into())?;
        check(ReportDisconnectedFunnelRepr { hr: HResult(a), play_incarnation: b }.into())?;
        check(ReportEndOfStreamRepr { hr: HResult(a), play_incarnation: b }.into())?;
        check(ReportOpenFileRepr {
            hr: HResult(a), play_incarnation: b, open_file_id: c, padding: d, file_name: e,
            file_attributes: h, file_duration: f, file_blocks: a ^ b, file_packet_size: c ^ d,
            file_packet_count: g, file_bit_rate: e ^ h, file_header_size: a ^ h,
        }.into())?;
        check(ReportReadBlockRepr { hr: HResult(a), play_incarnation: b, play_sequence: c }.into())?;
        check(ReportStartedPlayingRepr { hr: HResult(a), play_incarnation: b, tiger_file_id: c, unused1: d }.into())?;
        check(ReportStartStridingRepr { hr: HResult(a), play_incarnation: b, spare: c }.into())?;
        check(ReportStreamChangeRepr { hr: HResult(a), tcp_hdr_incarnation: b, packet_size: c, header_size: d, bit_rate: e, stream_id: h }.into())?;
        check(ReportStreamSwitchRepr { hr: HResult(a) }.into())?;
    }

    #[test]
    fn fixed_client_messages(a: u32, b: u32, c: u32, d: u32, e: u32, f in f64v(), g in f64v(), h: u32) {
        check(CancelReadBlockRepr { play_incarnation: a }.into())?;
        check(CloseFileRepr { play_incarnation: a, open_file_id: b }.into())?;
        check(FunnelInfoRepr { play_incarnation: a }.into())?;
        check(PongRepr { dw_param1: a, dw_param2: b }.into())?;
        check(ReadBlockRepr {
            open_file_id: a, file_block_id: b, offset: c, length: d, flags: e, padding: h,
            t_earliest: f, t_deadline: g, play_incarnation: a ^ b, play_sequence: c ^ d,
        }.into())?;
        check(StartStridingRepr {
            open_file_id: a, padding: b, position: f, asf_offset: c, location_id: d,
            frame_offset: e, play_incarnation: h, rate: g,
        }.into())?;
        check(StopPlayingRepr { open_file_id: a, play_incarnation: b }.into())?;
    }

    #[test]
    fn report_connected_ex(
        fields: (u32, u32, u32, u32, u32, u32, u32, u32, u32),
        t in f64v(),
        s in prop::array::uniform4(prop::option::of(units(24))),
    ) {
        let text = |i: usize| s[i].as_deref().map(Utf16Str::Wire);
        check(ReportConnectedExRepr {
            hr: HResult(fields.0),
            play_incarnation: fields.1,
            mac_to_viewer_protocol_revision: fields.2,
            viewer_to_mac_protocol_revision: fields.3,
            block_group_play_time: t,
            block_group_blocks: fields.4,
            n_max_open_files: fields.5,
            n_block_max_bytes: fields.6,
            max_bit_rate: fields.7,
            server_version_info: text(0),
            version_info: text(1),
            version_url: text(2),
            authen_package: text(3).or(s[0].as_ref().map(|_| Utf16Str::Str("NTLM"))),
        }.into())?;
    }

    #[test]
    fn text_messages(a: u32, b: u32, c: u32, d: u32, e: u32, t in units(64), s in "[^\u{0}]{0,20}[^\u{0}]") {
        let w = Utf16Str::Wire(&t);
        for name in [w, Utf16Str::Str(&s)] {
            check(ReportConnectedFunnelRepr { hr: HResult(a), play_incarnation: b, packet_payload_size: c, funnel_name: name }.into())?;
            check(ConnectRepr { play_incarnation: a, mac_to_viewer_protocol_revision: b, viewer_to_mac_protocol_revision: c, subscriber_name: name }.into())?;
            check(ConnectFunnelRepr { play_incarnation: a, max_block_bytes: b, max_funnel_bytes: c, max_bit_rate: d, funnel_mode: e, funnel_name: name }.into())?;
            check(ReportRedirectRepr { hr: HResult(a), redirect_type: b as u16, location: name }.into())?;
        }
    }

    #[test]
    fn token_messages(a: u32, b: u32, t in bytes(300), name in units(64)) {
        check(SecurityChallengeRepr { play_incarnation: a, cookie: b, token: &t }.into())?;
        check(SecurityResponseRepr { play_incarnation: a, cookie: b, token: &t }.into())?;
        check(OpenFileRepr { play_incarnation: a, spare: b, file_name: Utf16Str::Wire(&name), token_data: &t }.into())?;
        let n = NtlmAuthRepr { token: &t };
        let mut buf = vec![0; n.buffer_len()];
        n.emit(&mut buf).unwrap();
        prop_assert_eq!(NtlmAuthRepr::parse(&buf).unwrap(), n);
    }

    #[test]
    fn report_funnel_info(f: [u32; 10], pair in prop::collection::vec(any::<[u8; 8]>(), 0..140)) {
        let pair: Vec<u8> = pair.concat();
        check(ReportFunnelInfoRepr {
            hr: HResult(f[0]), play_incarnation: f[1], transport_mask: f[2], n_block_fragments: f[3],
            fragment_bytes: f[4], n_cubs: f[5], failed_cubs: f[6], n_disks: f[7], decluster: f[8],
            cubdd_datagram_size: f[9], packet_pair: &pair,
        }.into())?;
    }

    #[test]
    fn start_playing(f: [u32; 6], pos in f64v(), accel in prop::option::of((any::<u32>(), any::<u32>(), prop::option::of(any::<u32>())))) {
        check(StartPlayingRepr {
            open_file_id: f[0], padding: f[1], position: pos, asf_offset: f[2], location_id: f[3],
            frame_offset: f[4], play_incarnation: f[5],
            acceleration: accel.map(|(bandwidth, duration, link_bandwidth)| Acceleration { bandwidth, duration, link_bandwidth }),
        }.into())?;
    }

    #[test]
    fn stream_switch(e in prop::collection::vec(any::<(u16, u16, u16)>(), 0..64)) {
        let entries: Vec<_> = e.iter().map(|&(s, d, t)| StreamSwitchEntry { src_stream_number: s, dst_stream_number: d, thinning_level: t }).collect();
        check(StreamSwitchRepr { entries: StreamSwitchEntries::Slice(&entries) }.into())?;
    }

    #[test]
    fn logging(
        s1 in prop::array::uniform4(ansi(40)),
        s2 in prop::array::uniform4(ansi(16)),
        n: [u32; 16],
        q: [u64; 5],
        rate: i16,
    ) {
        let log = ClientLogRepr {
            info: ClientLogInfoRepr {
                strings: ClientLogInfoStrings {
                    url: &s1[0], channel_url: &s1[1], user_agent: &s1[2], hosting_web_page: &s1[3],
                    lang: &s2[0][..s2[0].len().min(15)], unique_pid: &s1[0][..s1[0].len().min(39)],
                    host_exe: &s1[1][..s1[1].len().min(31)], audio_codec: &s1[2], video_codec: &s1[3],
                },
                client_version: q[0], host_exe_version: q[1], file_duration_ms: n[0], file_size: q[2],
                avg_bandwidth_bps: n[1], start_time_ms: n[2], played_ms: n[3], rate,
                buffering_count: n[4], buffering_time_ms: n[5], bytes_received: q[3],
                packets_received: n[6], packets_lost_client: n[7], packets_recovered_ecc: n[8],
                min_reception_quality: n[9], hr: n[10],
            },
            strings: ClientLogStrings {
                computer_dns: &s1[0], os: &s2[1][..s2[1].len().min(15)], cpu: &s2[2][..s2[2].len().min(15)],
                proto: &s2[3][..s2[3].len().min(7)], transport: &s2[0][..s2[0].len().min(7)],
            },
            source_id: n[11], ip_address: n[12], os_version: q[4], packets_lost_net: n[13],
            packets_lost_cont_net: n[14], resend_requests: n[15], packets_recovered_resent: n[0] ^ 1,
            packets_resent: n[1] ^ 1,
        };
        // Truncated slices can end in "-", which means empty; skip those.
        let all = [log.strings.os, log.strings.cpu, log.strings.proto, log.strings.transport,
                   log.info.strings.lang, log.info.strings.unique_pid, log.info.strings.host_exe];
        prop_assume!(all.iter().all(|s| *s != b"-"));
        check(LoggingRepr::Log(&log).into())?;
    }

    #[test]
    fn data_packet(loc: u32, inc: u8, af: u8, payload in bytes(2000)) {
        let r = DataPacketRepr { location_id: loc, play_incarnation: inc, af_flags: af, payload: &payload };
        let mut buf = vec![0u8; r.buffer_len()];
        prop_assert_eq!(r.emit(&mut buf).unwrap(), buf.len());
        let framed = frame(&buf, &Limits::default()).unwrap();
        // A Data packet whose bytes 4..8 spell the sessionId frames as a command
        // ([3.1.5.2]); servers never send one (playIncarnation 0xCE, AFFlags 0xFA
        // and PacketSize 0xB00B at once).
        if buf[4..8] != 0xB00B_FACEu32.to_le_bytes() {
            prop_assert_eq!(framed, Status::Complete(Frame::Data(buf.len())));
        }
        prop_assert_eq!(DataPacketRepr::parse(&DataPacket::new_checked(&buf[..]).unwrap()).unwrap(), r);
    }

    #[test]
    fn resend(client: u32, source: u16, list in prop::collection::vec(any::<u32>(), 1..=32)) {
        let r = RequestPacketListResendRepr { client_id: client, source_id: source, packets: list.iter().copied().collect() };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        prop_assert_eq!(RequestPacketListResendRepr::parse(&buf).unwrap(), r);
    }

    #[test]
    fn version_text(major in 0u8..100, minor in 0u8..100, build in prop::option::of((0u16..10000, 0u16..10000))) {
        let v = text::Version { major, minor, build };
        let s = v.to_string();
        prop_assert_eq!(text::Version::parse(&Utf16Str::Str(&s)).unwrap(), v);
    }

    #[test]
    fn subscriber_text(
        major in 0u8..100, minor in 0u8..100, g: (u32, u16, u16, [u8; 8]),
        host in "[a-z0-9.-]{1,20}", port in prop::option::of(any::<u16>()), via in prop::option::of("[A-Za-z0-9/ ,.]{1,20}"),
    ) {
        let guid = text::Guid { data1: g.0, data2: g.1, data3: g.2, data4: g.3 };
        let h = text::HostInfo { host: Utf16Str::Str(&host), port };
        let s = text::Subscriber {
            client: text::ClientToken::NsPlayer(text::Version { major, minor, build: None }),
            guid: Some(guid), guid_form: text::GuidForm::Standard, host_param: Some(h),
            host_string: Some(h), via: via.as_deref().map(Utf16Str::Str), legacy_prefix: false,
        };
        let rendered = s.to_string();
        prop_assert_eq!(text::Subscriber::parse(&Utf16Str::Str(&rendered)).unwrap(), s);
    }

    #[test]
    fn funnel_name_text(ip: std::net::IpAddr, udp: bool, port in 1u16..) {
        let proto = if udp { "UDP" } else { "TCP" };
        let s = format!("\\\\{ip}\\{proto}\\{port}");
        let f = text::FunnelName::parse(&Utf16Str::Str(&s)).unwrap();
        prop_assert_eq!((f.addr, f.port, f.trailing), (ip, port, false));
    }
}

proptest! {
    /// `StreamSet::iter` yields exactly the members 1..=127, ascending.
    #[test]
    fn stream_set_iter_yields_its_members(bits in any::<u128>()) {
        let set = mms_proto::asf::StreamSet(bits);
        let want: Vec<u8> = (1u8..128).filter(|&s| set.contains(s)).collect();
        prop_assert_eq!(set.iter().collect::<Vec<_>>(), want);
    }
}
