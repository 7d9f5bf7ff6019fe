//! Golden bytes for every structure of section 2, written from the spec's
//! field tables (one `F::…` per field, in the spec's order), checked both
//! ways: parse(bytes) == repr and emit(repr) == bytes.

mod common;
use common::{F::*, build, golden, message, read_block, seed, utf16};
use mms_proto::wire::*;

#[test]
fn ping_2_2_4_1() {
    let b = message(0x0004_001B, &[U32(0x1111_1111), U32(0x2222_2222)]);
    assert_eq!(b.len(), 16);
    golden(
        &b,
        PingRepr {
            dw_param1: 0x1111_1111,
            dw_param2: 0x2222_2222,
        },
    );
}

#[test]
fn report_connected_ex_2_2_4_2() {
    let b = message(
        0x0004_0001,
        &[
            U32(0),           // hr
            U32(0xF0F0_F0EF), // playIncarnation
            U32(0x0004_000B), // MacToViewerProtocolRevision
            U32(0x0003_001C), // ViewerToMacProtocolRevision
            F64(1.0),         // blockGroupPlayTime
            U32(1),           // blockGroupBlocks
            U32(1),           // nMaxOpenFiles
            U32(0x8000),      // nBlockMaxBytes
            U32(0x0098_9680), // maxBitRate
            U32(11),          // cbServerVersionInfo: "9.1.1.3862" + NUL
            U32(0),           // cbVersionInfo
            U32(0),           // cbVersionUrl
            U32(6),           // cbAuthenPackage: "BASIC" + NUL
            Text("9.1.1.3862"),
            U16(0),
            Text("BASIC"),
            U16(0),
        ],
    );
    let mut r = ReportConnectedExRepr::new(MMS_DISABLE_PACKET_PAIR, "9.1.1.3862".into());
    r.authen_package = Some("BASIC".into());
    golden(&b, r);
    seed("version", &utf16("9.1.1.3862"));
    seed("authen_package", &utf16("NTLM"));
    let v = text::Version::parse(&r.server_version_info.unwrap()).unwrap();
    assert_eq!(
        v,
        text::Version {
            major: 9,
            minor: 1,
            build: Some((1, 3862))
        }
    );
    assert_eq!(
        text::AuthenPackage::parse(&r.authen_package.unwrap()).unwrap(),
        text::AuthenPackage::Basic
    );

    // An empty-but-present string (cb = 1) differs from an absent one (cb = 0).
    let b = message(
        0x0004_0001,
        &[
            U32(0x8000_4005),
            U32(0xF0F0_F0F0),
            U32(1),
            U32(2),
            F64(2.5),
            U32(3),
            U32(4),
            U32(5),
            U32(6),
        ]
        .into_iter()
        .chain([
            U32(1),
            U32(4),
            U32(1),
            U32(0),
            U16(0),
            Text("4.1"),
            U16(0),
            U16(0),
        ])
        .collect::<Vec<_>>(),
    );
    golden(
        &b,
        ReportConnectedExRepr {
            hr: HResult::E_FAIL,
            play_incarnation: MMS_USE_PACKET_PAIR,
            mac_to_viewer_protocol_revision: 1,
            viewer_to_mac_protocol_revision: 2,
            block_group_play_time: 2.5,
            block_group_blocks: 3,
            n_max_open_files: 4,
            n_block_max_bytes: 5,
            max_bit_rate: 6,
            server_version_info: Some("".into()),
            version_info: Some("4.1".into()),
            version_url: Some("".into()),
            authen_package: None,
        },
    );
}

#[test]
fn report_connected_funnel_2_2_4_3() {
    let b = message(
        0x0004_0002,
        &[U32(0), U32(7), U32(9), Text("Funnel Of The Gods"), U16(0)],
    );
    golden(
        &b,
        ReportConnectedFunnelRepr {
            play_incarnation: 7,
            packet_payload_size: 9,
            ..ReportConnectedFunnelRepr::default()
        },
    );
}

#[test]
fn report_disconnected_funnel_2_2_4_4() {
    let b = message(0x0004_0003, &[U32(0x8007_0057), U32(3)]);
    golden(
        &b,
        ReportDisconnectedFunnelRepr {
            hr: HResult::E_INVALIDARG,
            play_incarnation: 3,
        },
    );
}

#[test]
fn report_end_of_stream_2_2_4_5() {
    let b = message(0x0004_001E, &[U32(1), U32(0x04)]);
    golden(
        &b,
        ReportEndOfStreamRepr {
            hr: HResult::S_FALSE,
            play_incarnation: 4,
        },
    );
}

#[test]
fn report_funnel_info_2_2_4_6() {
    let fixed = |inc| {
        [
            U32(0),
            U32(inc),
            U32(8),
            U32(1),
            U32(0x1_0000),
            U32(0xC0FF_EE01),
            U32(0),
            U32(1),
            U32(0),
            U32(0),
        ]
    };
    let b = message(0x0004_0015, &fixed(MMS_DISABLE_PACKET_PAIR));
    assert_eq!(b.len(), 48);
    golden(&b, ReportFunnelInfoRepr::new(0xC0FF_EE01));

    // [4.4.2]: 480 random bytes after the fields in a TCP packet-pair message.
    let pair: Vec<u8> = (0..480u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut f = fixed(MMS_PACKET_PAIR_TCP_HIGH_ENTROPY).to_vec();
    f.push(Raw(&pair));
    let b = message(0x0004_0015, &f);
    assert_eq!(b.len(), 48 + 480);
    golden(
        &b,
        ReportFunnelInfoRepr {
            play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
            packet_pair: &pair,
            ..ReportFunnelInfoRepr::new(0xC0FF_EE01)
        },
    );
}

#[test]
fn report_open_file_2_2_4_7() {
    let b = message(
        0x0004_0006,
        &[
            U32(0),             // hr
            U32(0x05),          // playIncarnation
            U32(1),             // openFileId
            U32(0),             // padding
            U32(0),             // fileName
            U32(0x0180_0000),   // fileAttributes: CANSEEK | CANSTRIDE
            F64(30.5),          // fileDuration
            U32(31),            // fileBlocks
            Zeros(16),          // unused1
            U32(3200),          // filePacketSize
            U64(0x1_0000_0123), // filePacketCount
            U32(128_000),       // fileBitRate
            U32(5_678),         // fileHeaderSize
            Zeros(36),          // unused2
        ],
    );
    assert_eq!(b.len(), 120);
    golden(
        &b,
        ReportOpenFileRepr {
            hr: HResult::S_OK,
            play_incarnation: 5,
            open_file_id: 1,
            padding: 0,
            file_name: 0,
            file_attributes: FILE_ATTRIBUTE_MMS_CANSEEK | FILE_ATTRIBUTE_MMS_CANSTRIDE,
            file_duration: 30.5,
            file_blocks: 31,
            file_packet_size: 3200,
            file_packet_count: 0x1_0000_0123,
            file_bit_rate: 128_000,
            file_header_size: 5_678,
        },
    );
}

#[test]
fn report_read_block_2_2_4_8() {
    let b = message(0x0004_0011, &[U32(0), U32(2), U32(0)]);
    assert_eq!(b.len(), 24);
    golden(
        &b,
        ReportReadBlockRepr {
            hr: HResult::S_OK,
            play_incarnation: 2,
            play_sequence: 0,
        },
    );
}

#[test]
fn report_redirect_2_2_4_9() {
    let url = "mmst://example.test:8080/live/a.asf";
    let b = message(
        0x0004_0022,
        &[
            U32(0),
            U16(1),
            U16((url.len() as u16 + 1) * 2),
            Text(url),
            U16(0),
        ],
    );
    let r = ReportRedirectRepr {
        hr: HResult::S_OK,
        redirect_type: REDIRECT_URL,
        location: url.into(),
    };
    golden(&b, r);
    seed("redirect_location", &utf16(url));
    seed("redirect_location", &utf16("mms://[::1]/a?b=c"));
    match text::RedirectLocation::parse(&r.location).unwrap() {
        text::RedirectLocation::Url {
            scheme,
            host,
            port,
            path,
        } => {
            assert_eq!(scheme, text::Scheme::Mmst);
            assert!(host.eq_str("example.test"));
            assert_eq!(port, 8080);
            assert!(path.eq_str("/live/a.asf"));
        }
        other => panic!("{other:?}"),
    }
    // Proxy redirect to "no proxy": the empty string.
    let b = message(0x0004_0022, &[U32(0), U16(2), U16(2), U16(0)]);
    golden(
        &b,
        ReportRedirectRepr {
            hr: HResult::S_OK,
            redirect_type: REDIRECT_PROXY,
            location: "".into(),
        },
    );
}

#[test]
fn report_started_playing_2_2_4_10() {
    let b = message(
        0x0004_0005,
        &[U32(0), U32(4), U32(1), U32(0x4000_0000), Zeros(12)],
    );
    assert_eq!(b.len(), 40);
    golden(
        &b,
        ReportStartedPlayingRepr {
            hr: HResult::S_OK,
            play_incarnation: 4,
            tiger_file_id: 1,
            unused1: 0x4000_0000,
        },
    );
}

#[test]
fn report_start_striding_2_2_4_11() {
    let b = message(0x0004_000A, &[U32(0), U32(9), U32(0)]);
    golden(
        &b,
        ReportStartStridingRepr {
            hr: HResult::S_OK,
            play_incarnation: 9,
            spare: 0,
        },
    );
}

#[test]
fn report_stream_change_2_2_4_12() {
    let b = message(
        0x0004_0020,
        &[U32(0), U32(0xFF), U32(3200), U32(5000), U32(64_000), U32(0)],
    );
    assert_eq!(b.len(), 32);
    golden(
        &b,
        ReportStreamChangeRepr {
            hr: HResult::S_OK,
            tcp_hdr_incarnation: 0xFF,
            packet_size: 3200,
            header_size: 5000,
            bit_rate: 64_000,
            stream_id: 0,
        },
    );
}

#[test]
fn report_stream_switch_2_2_4_13() {
    let b = message(0x0004_0021, &[U32(0)]);
    assert_eq!(b.len(), 16);
    golden(&b, ReportStreamSwitchRepr { hr: HResult::S_OK });
}

#[test]
fn security_challenge_2_2_4_14() {
    let token = build(&[Text("realm=\"media\""), U16(0)]);
    let b = message(
        0x0004_001A,
        &[U32(6), U32(0xABCD), U32(token.len() as u32), Raw(&token)],
    );
    let r = SecurityChallengeRepr {
        play_incarnation: 6,
        cookie: 0xABCD,
        token: &token,
    };
    golden(&b, r);
    seed("basic_challenge", &token);
    let c = text::BasicChallenge::parse(r.token).unwrap();
    assert!(c.realm.unwrap().eq_str("media"));
    // An unspecified realm SHOULD still be sent as realm="".
    let t = build(&[Text("realm=\"\""), U16(0)]);
    assert!(
        text::BasicChallenge::parse(&t)
            .unwrap()
            .realm
            .unwrap()
            .is_empty()
    );
    assert_eq!(text::BasicChallenge::parse(&[0, 0]).unwrap().realm, None);
}

#[test]
fn ntlm_auth_2_2_4_14_1() {
    let ntlm = b"NTLMSSP\0\x02\0\0\0";
    let b = build(&[
        U32(0),
        U32(1),
        U32(0),
        U32(ntlm.len() as u32),
        U32(2),
        U32(0),
        Raw(ntlm),
    ]);
    seed("basic_challenge", &b);
    let r = NtlmAuthRepr::parse(&b).unwrap();
    assert_eq!(r.token, ntlm);
    let mut out = vec![0xA5; b.len()];
    assert_eq!(r.emit(&mut out).unwrap(), b.len());
    assert_eq!(out, b);
}

#[test]
fn cancel_read_block_2_2_4_15() {
    let b = message(0x0003_0025, &[U32(2)]);
    assert_eq!(b.len(), 16);
    golden(
        &b,
        CancelReadBlockRepr {
            play_incarnation: 2,
        },
    );
}

#[test]
fn close_file_2_2_4_16() {
    let b = message(0x0003_000D, &[U32(0), U32(1)]);
    golden(
        &b,
        CloseFileRepr {
            play_incarnation: 0,
            open_file_id: 1,
        },
    );
}

#[test]
fn connect_2_2_4_17_worked_example() {
    // The spec's example subscriberName.
    let name = "NSPlayer/4.1.0.3928; {68c0a090-8797-11d2-a2b3-00a0c9b60551}";
    let b = message(
        0x0003_0001,
        &[
            U32(0xF0F0_F0EF),
            U32(0x0004_000B),
            U32(0x0003_001C),
            Text(name),
            U16(0),
        ],
    );
    let r = ConnectRepr::new(MMS_DISABLE_PACKET_PAIR, name.into());
    golden(&b, r);
    let s = text::Subscriber::parse(&r.subscriber_name).unwrap();
    assert_eq!(
        s.client,
        text::ClientToken::NsPlayer(text::Version {
            major: 4,
            minor: 1,
            build: Some((0, 3928))
        })
    );
    let g = s.guid.unwrap();
    assert_eq!((g.data1, g.data2, g.data3), (0x68c0_a090, 0x8797, 0x11d2));
    assert_eq!(g.data4, [0xa2, 0xb3, 0x00, 0xa0, 0xc9, 0xb6, 0x05, 0x51]);
    assert_eq!(s.host_param, None);
    s.check_strict().unwrap();
    assert_eq!(
        s.to_string(),
        "NSPlayer/4.1.0.3928; {68C0A090-8797-11D2-A2B3-00A0C9B60551}"
    );
}

#[test]
fn connect_as_real_clients_send_it() {
    // FFmpeg (libavformat/mmst.c): fixed GUID, Host param, playIncarnation 0.
    let ffmpeg = "NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1";
    let b = message(
        0x0003_0001,
        &[
            U32(0),
            U32(0x0004_000B),
            U32(0x0003_001C),
            Text(ffmpeg),
            U16(0),
        ],
    );
    let r = ConnectRepr::new(0, ffmpeg.into());
    golden(&b, r);
    let s = text::Subscriber::parse(&r.subscriber_name).unwrap();
    let h = s.host_param.unwrap();
    assert!(h.host.eq_str("127.0.0.1"));
    assert_eq!(h.port, None);
    // Connect playIncarnation 0 parses; strict mode names it.
    assert!(Message::parse(&b).unwrap().check_strict().is_err());

    // VLC: 0x-prefixed GUID groups.
    let vlc =
        "NSPlayer/7.0.0.1956; {0xbabac001-0xbf47-0x6da8-0x7ff88996babc775f}; Host: 127.0.0.1:1755";
    let s = text::Subscriber::parse(&vlc.into()).unwrap();
    assert_eq!(s.guid_form, text::GuidForm::HexPrefixed);
    assert_eq!(s.guid.unwrap().data1, 0xbabac001);
    assert_eq!(s.guid.unwrap().data4, 0x7ff88996babc775fu64.to_be_bytes());
    assert_eq!(s.host_param.unwrap().port, Some(1755));
    assert!(s.check_strict().is_err());

    // Proxy form: host-param, then HOST: and VIA: elements after NULs.
    seed("subscriber", &utf16(vlc));
    let proxied = "NSPlayer/9.0.0.2980; {68c0a090-8797-11d2-a2b3-00a0c9b60551}; Host: media.test:1755\0HOST: media.test:1755\0VIA: WMServer/9.1, proxy2";
    seed("subscriber", &utf16(proxied));
    let s = text::Subscriber::parse(&proxied.into()).unwrap();
    assert!(s.host_string.unwrap().host.eq_str("media.test"));
    assert!(s.via.unwrap().eq_str("WMServer/9.1, proxy2"));
    assert_eq!(s.to_string().to_uppercase(), proxied.to_uppercase());

    // Old xine / MPlayer builds prefix \x1c\x03.
    let s = text::Subscriber::parse(
        &"\u{1c}\u{3}NSPlayer/7.0.0.1956; {68c0a090-8797-11d2-a2b3-00a0c9b60551}".into(),
    )
    .unwrap();
    assert!(s.legacy_prefix);
    assert_eq!(
        text::Subscriber::parse(&"Spooooon!".into()).unwrap().client,
        text::ClientToken::Spoon
    );
    assert!(text::Subscriber::parse(&"Mozilla/5.0".into()).is_err());
}

#[test]
fn connect_funnel_2_2_4_18() {
    let name = "\\\\192.168.0.129\\TCP\\1037";
    let b = message(
        0x0003_0002,
        &[
            U32(0),
            U32(0xFFFF_FFFF),
            U32(0),
            U32(0x0098_9680),
            U32(2),
            Text(name),
            U16(0),
        ],
    );
    let r = ConnectFunnelRepr::new(name.into());
    golden(&b, r);
    seed("funnel_name", &utf16(name));
    seed("funnel_name", &utf16("\\\\fe80::1\\UDP\\7000\u{0}0"));
    let f = text::FunnelName::parse(&r.funnel_name).unwrap();
    assert_eq!(f.addr, std::net::IpAddr::from([192, 168, 0, 129]));
    assert_eq!(
        (f.proto, f.port, f.trailing),
        (text::FunnelProto::Tcp, 1037, false)
    );

    // VLC appends a NUL and a "0": kept in the Repr, tolerated by the parser.
    let vlc = message(
        0x0003_0002,
        &[
            U32(0),
            U32(0xFFFF_FFFF),
            U32(0),
            U32(0x0098_9680),
            U32(2),
            Text("\\\\10.0.0.5\\UDP\\7000"),
            U16(0),
            Text("0"),
            U16(0),
        ],
    );
    let m = ConnectFunnelRepr::parse(&vlc).unwrap();
    let f = text::FunnelName::parse(&m.funnel_name).unwrap();
    assert_eq!(
        (f.proto, f.port, f.trailing),
        (text::FunnelProto::Udp, 7000, true)
    );
    assert!(Message::parse(&vlc).unwrap().check_strict().is_err());

    let v6 = text::FunnelName::parse(&"\\\\::1\\tcp\\65535".into()).unwrap();
    assert_eq!(
        v6.addr,
        std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
    );
    for bad in [
        "\\\\1.2.3.4\\TCP\\0",
        "\\\\1.2.3.4\\TCP\\65536",
        "\\\\1.2.3\\TCP\\80",
        "\\\\1.2.3.4\\SCTP\\80",
        "1.2.3.4\\TCP\\80",
    ] {
        assert!(text::FunnelName::parse(&bad.into()).is_err(), "{bad}");
    }
}

#[test]
fn funnel_info_2_2_4_19() {
    let b = message(0x0003_0018, &[U32(0xF0F0_F0F1)]);
    assert_eq!(b.len(), 16);
    golden(
        &b,
        FunnelInfoRepr {
            play_incarnation: MMS_PACKET_PAIR_TCP_HIGH_ENTROPY,
        },
    );
    // FFmpeg puts 0x0004000b in what is padding here; padding is ignored.
    let ffmpeg = message(0x0003_0018, &[U32(0x00F0_F0F0), U32(0x0004_000B)]);
    assert_eq!(
        FunnelInfoRepr::parse(&ffmpeg).unwrap().play_incarnation,
        0x00F0_F0F0
    );
}

fn sample_log() -> (Vec<u8>, ClientLogRepr<'static>) {
    let ansi = |s: &str, w: usize| {
        let mut v = s.as_bytes().to_vec();
        v.resize(w, 0);
        v
    };
    let info = build(&[
        U32(1142),
        Raw(&ansi("mms://127.0.0.1/demo.wmv", 260)),
        Raw(&ansi("-", 260)),
        Raw(&ansi("NSPlayer/9.0", 64)),
        Raw(&ansi("-", 260)),
        U64(0x0009_0000_0000_0B84), // qwClientVersion 9.0.0.2948
        Raw(&ansi("en-US", 16)),
        Raw(&ansi("{3300AD50-2C39-46c0-AE0A-000000000001}", 40)),
        Raw(&ansi("mms.exe", 32)),
        U64(0x0001_0002_0003_0004),
        U32(30_500),
        U64(1_234_567),
        U32(256_000),
        Raw(&ansi("WMA2", 64)),
        Raw(&ansi("WMV2", 64)),
        U32(0),
        U32(30_000),
        U16(1),
        U32(2),
        U32(1500),
        U64(1_200_000),
        U32(380),
        U32(3),
        U32(0),
        U32(99),
        U32(0),
    ]);
    assert_eq!(info.len(), CLIENT_LOG_INFO_LEN);
    let log = build(&[
        U32(1490),
        Raw(&info),
        U32(1),
        U32(0xFFFF_FFFF),
        Raw(&ansi("-", 260)),
        Raw(&ansi("Linux", 16)),
        U64(0x0006_0001_0000_0000),
        Raw(&ansi("x86_64", 16)),
        Raw(&ansi("mms", 8)),
        Raw(&ansi("TCP", 8)),
        U32(4),
        U32(2),
        U32(5),
        U32(3),
        U32(3),
    ]);
    assert_eq!(log.len(), CLIENT_LOG_LEN);
    let repr = ClientLogRepr {
        info: ClientLogInfoRepr {
            strings: ClientLogInfoStrings {
                url: b"mms://127.0.0.1/demo.wmv",
                channel_url: b"",
                user_agent: b"NSPlayer/9.0",
                hosting_web_page: b"",
                lang: b"en-US",
                unique_pid: b"{3300AD50-2C39-46c0-AE0A-000000000001}",
                host_exe: b"mms.exe",
                audio_codec: b"WMA2",
                video_codec: b"WMV2",
            },
            client_version: 0x0009_0000_0000_0B84,
            host_exe_version: 0x0001_0002_0003_0004,
            file_duration_ms: 30_500,
            file_size: 1_234_567,
            avg_bandwidth_bps: 256_000,
            start_time_ms: 0,
            played_ms: 30_000,
            rate: 1,
            buffering_count: 2,
            buffering_time_ms: 1500,
            bytes_received: 1_200_000,
            packets_received: 380,
            packets_lost_client: 3,
            packets_recovered_ecc: 0,
            min_reception_quality: 99,
            hr: 0,
        },
        strings: ClientLogStrings {
            computer_dns: b"",
            os: b"Linux",
            cpu: b"x86_64",
            proto: b"mms",
            transport: b"TCP",
        },
        source_id: 1,
        ip_address: 0xFFFF_FFFF,
        os_version: 0x0006_0001_0000_0000,
        packets_lost_net: 4,
        packets_lost_cont_net: 2,
        resend_requests: 5,
        packets_recovered_resent: 3,
        packets_resent: 3,
    };
    (log, repr)
}

#[test]
fn logging_2_2_4_20_and_client_log_2_2_1() {
    let (log, repr) = sample_log();
    seed("client_log", &log);
    assert_eq!(ClientLogRepr::parse(&log).unwrap(), repr);
    let b = message(0x0003_0032, &[Raw(&log)]);
    assert_eq!(b.len(), 1504);
    golden(&b, LoggingRepr::Log(&repr));
}

#[test]
fn client_log_string_errors() {
    let (mut log, repr) = sample_log();
    // szProto (offset 1454, 8 bytes) without a NUL inside its width.
    log[1454..1462].copy_from_slice(b"mmsmmsmm");
    assert_eq!(
        ClientLogRepr::parse(&log),
        Err(Error::invalid("szProto", "missing NUL terminator"))
    );
    let mut long = repr;
    long.strings.proto = b"12345678";
    assert!(long.emit(&mut [0u8; CLIENT_LOG_LEN]).is_err());
}

#[test]
fn open_file_2_2_4_21() {
    let b = message(
        0x0003_0005,
        &[
            U32(1),
            U32(0xFFFF_FFFF),
            U32(0),
            U32(0),
            Text("demo/a b.wmv"),
            U16(0),
        ],
    );
    golden(
        &b,
        OpenFileRepr {
            play_incarnation: 1,
            spare: 0xFFFF_FFFF,
            file_name: "demo/a b.wmv".into(),
            token_data: &[],
        },
    );

    // The spec's example: fileName "abc.asf" with tokenData => token = 0x10.
    let cred = b"user:pass\0";
    let b = message(
        0x0003_0005,
        &[
            U32(3),
            U32(0),
            U32(0x10),
            U32(cred.len() as u32),
            Text("abc.asf"),
            U16(0),
            Raw(cred),
        ],
    );
    golden(
        &b,
        OpenFileRepr {
            play_incarnation: 3,
            spare: 0,
            file_name: "abc.asf".into(),
            token_data: cred,
        },
    );
}

#[test]
fn pong_2_2_4_22() {
    let b = message(0x0003_001B, &[U32(1), U32(0x0100_FFFF)]);
    golden(
        &b,
        PongRepr {
            dw_param1: 1,
            dw_param2: 0x0100_FFFF,
        },
    );
}

#[test]
fn read_block_2_2_4_23() {
    let b = read_block(1, 2);
    assert_eq!(b.len(), 56);
    golden(&b, ReadBlockRepr::new(1, 2));
    // FFmpeg's bytes for tDeadline: 0x40AC2000_00000000 is 3600.0.
    assert_eq!(&b[40..48], &[0, 0, 0, 0, 0, 0x20, 0xAC, 0x40]);
}

#[test]
fn security_response_2_2_4_24() {
    let cred = b"dXNlcjpwYXNz\0";
    let b = message(
        0x0003_001A,
        &[U32(6), U32(0xABCD), U32(cred.len() as u32), Raw(cred)],
    );
    golden(
        &b,
        SecurityResponseRepr {
            play_incarnation: 6,
            cookie: 0xABCD,
            token: cred,
        },
    );
}

#[test]
fn start_playing_2_2_4_25() {
    let base = [
        U32(1),
        U32(0x0001_FFFF),
        F64(12.25),
        U32(0xFFFF_FFFF),
        U32(0xFFFF_FFFF),
        U32(0x00FF_FFFF),
        U32(4),
    ];
    let r = StartPlayingRepr {
        open_file_id: 1,
        padding: 0x0001_FFFF,
        position: 12.25,
        asf_offset: 0xFFFF_FFFF,
        location_id: 0xFFFF_FFFF,
        frame_offset: 0x00FF_FFFF,
        play_incarnation: 4,
        acceleration: None,
    };
    let b = message(0x0003_0007, &base);
    assert_eq!(b.len(), 40);
    golden(&b, r);

    let mut f = base.to_vec();
    f.extend([U32(1_000_000), U32(5_000)]);
    let b = message(0x0003_0007, &f);
    assert_eq!(b.len(), 48);
    let accel = Acceleration {
        bandwidth: 1_000_000,
        duration: 5_000,
        link_bandwidth: None,
    };
    golden(
        &b,
        StartPlayingRepr {
            acceleration: Some(accel),
            ..r
        },
    );

    f.push(U32(10_000_000));
    let b = message(0x0003_0007, &f);
    assert_eq!(b.len(), 56);
    golden(
        &b,
        StartPlayingRepr {
            acceleration: Some(Acceleration {
                link_bandwidth: Some(10_000_000),
                ..accel
            }),
            ..r
        },
    );

    assert_eq!(StopAt::from_frame_offset(0), StopAt::End);
    assert_eq!(StopAt::from_frame_offset(5000), StopAt::Absolute(5000));
    assert_eq!(
        StopAt::from_frame_offset(0x8000_1388),
        StopAt::Relative(5000)
    );
}

#[test]
fn start_striding_2_2_4_26() {
    let b = message(
        0x0003_0028,
        &[
            U32(1),
            U32(0),
            F64(f64::MAX),
            U32(0),
            U32(77),
            U32(0),
            U32(5),
            F64(-2.0),
        ],
    );
    assert_eq!(b.len(), 48);
    golden(
        &b,
        StartStridingRepr {
            open_file_id: 1,
            padding: 0,
            position: POSITION_UNSPECIFIED,
            asf_offset: 0,
            location_id: 77,
            frame_offset: 0,
            play_incarnation: 5,
            rate: -2.0,
        },
    );
}

#[test]
fn stop_playing_2_2_4_27() {
    let b = message(0x0003_0009, &[U32(1), U32(0x001F_FFFF)]);
    golden(
        &b,
        StopPlayingRepr {
            open_file_id: 1,
            play_incarnation: 0x001F_FFFF,
        },
    );
}

#[test]
fn stream_switch_2_2_4_28() {
    let b = message(
        0x0003_0033,
        &[
            U32(3),
            U16(0xFFFF),
            U16(1),
            U16(0),
            U16(0xFFFF),
            U16(2),
            U16(2),
            U16(3),
            U16(4),
            U16(1),
        ],
    );
    assert_eq!(b.len(), 32);
    let entries = [
        StreamSwitchEntry {
            src_stream_number: 0xFFFF,
            dst_stream_number: 1,
            thinning_level: 0,
        },
        StreamSwitchEntry {
            src_stream_number: 0xFFFF,
            dst_stream_number: 2,
            thinning_level: 2,
        },
        StreamSwitchEntry {
            src_stream_number: 3,
            dst_stream_number: 4,
            thinning_level: 1,
        },
    ];
    golden(
        &b,
        StreamSwitchRepr {
            entries: StreamSwitchEntries::Slice(&entries),
        },
    );
}

#[test]
fn tcp_message_header_2_2_3() {
    let msg = message(0x0003_0018, &[U32(MMS_DISABLE_PACKET_PAIR)]);
    let pkt = common::packet(7, 0x0102_0304_0506_0708, &msg);
    let (hdr, area) = TcpMessageHeaderRepr::parse(&pkt).unwrap();
    assert_eq!(
        hdr,
        TcpMessageHeaderRepr {
            seq: 7,
            time_sent: 0x0102_0304_0506_0708
        }
    );
    assert_eq!(area, &msg[..]);
    let m: Message<'_> = FunnelInfoRepr {
        play_incarnation: MMS_DISABLE_PACKET_PAIR,
    }
    .into();
    let mut buf = vec![0xA5; pkt.len() + 8];
    assert_eq!(hdr.emit_packet(&m, &mut buf).unwrap(), pkt.len());
    assert_eq!(&buf[..pkt.len()], &pkt[..]);
    assert!(buf[pkt.len()..].iter().all(|&b| b == 0xA5));
    TcpMessageHeaderRepr::check_strict(&pkt).unwrap();

    // The spec's chunkCount convention (total / 8) is accepted too.
    let mut spec = pkt.clone();
    let total = spec.len() as u32;
    spec[16..20].copy_from_slice(&(total / 8).to_le_bytes());
    assert!(TcpMessageHeaderRepr::parse(&spec).is_ok());
}

#[test]
fn data_packet_2_2_2() {
    let payload = [0x82u8, 0, 0, 0x11, 0x5D, 9, 9, 9];
    let b = common::data(42, 4, 0x2A, &payload);
    seed("data_packet", &b);
    seed("framer", &b);
    let v = DataPacket::new_checked(&b[..]).unwrap();
    let r = DataPacketRepr::parse(&v).unwrap();
    assert_eq!(
        r,
        DataPacketRepr {
            location_id: 42,
            play_incarnation: 4,
            af_flags: 0x2A,
            payload: &payload
        }
    );
    let mut buf = vec![0xA5; b.len() + 4];
    assert_eq!(r.emit(&mut buf).unwrap(), b.len());
    assert_eq!(&buf[..b.len()], &b[..]);
    assert_eq!(buf[b.len()], 0xA5);
    assert_eq!(
        r.kind(Some(2)).unwrap(),
        DataKind::Media {
            packet_number: 42,
            sequence: 0x2A
        }
    );

    // ASF header pieces: 0x04 on all but the last, 0x0C on the last.
    let h = DataPacketRepr {
        location_id: 0,
        play_incarnation: 2,
        af_flags: AF_HEADER_MORE,
        payload: &payload,
    };
    assert_eq!(
        h.kind(Some(2)).unwrap(),
        DataKind::HeaderPiece {
            index: 0,
            last: false
        }
    );
    let h = DataPacketRepr {
        location_id: 1,
        af_flags: AF_HEADER_LAST,
        ..h
    };
    assert_eq!(
        h.kind(Some(2)).unwrap(),
        DataKind::HeaderPiece {
            index: 1,
            last: true
        }
    );

    // Packet-pair ([4.4.1]): incarnation 0xFF, AFFlags 0x10, LocationId F0F0F000/1.
    let pp = DataPacketRepr {
        location_id: PACKET_PAIR_SECOND,
        play_incarnation: 0xFF,
        af_flags: 0x10,
        payload: &[0; 16],
    };
    assert_eq!(
        pp.kind(None).unwrap(),
        DataKind::PacketPair { second: true }
    );
    let pp = DataPacketRepr {
        location_id: 5,
        ..pp
    };
    assert!(pp.kind(None).is_err());

    assert_eq!(extend_sequence(0x0000_01FE, 0x03), 0x0000_0203);
    assert_eq!(extend_sequence(0xFFFF_FFFF, 0x00), 0x0000_0000);
    assert_eq!(extend_sequence(7, 7), 7);
}

#[test]
fn request_packet_list_resend_2_2_5() {
    let b = build(&[
        U32(0xBEEF_F00D),
        U32(0xC0FF_EE01),
        U16(1),
        U16(3),
        U32(10),
        U32(11),
        U32(0x1_0000),
    ]);
    seed("resend", &b);
    let r = RequestPacketListResendRepr::parse(&b).unwrap();
    assert_eq!((r.client_id, r.source_id), (0xC0FF_EE01, 1));
    assert_eq!(&r.packets[..], &[10, 11, 0x1_0000]);
    let mut buf = vec![0xA5; b.len() + 4];
    assert_eq!(r.emit(&mut buf).unwrap(), b.len());
    assert_eq!(&buf[..b.len()], &b[..]);
    assert_eq!(buf[b.len()], 0xA5);
}

#[test]
fn message_ids_are_the_spec_values() {
    assert_eq!(MessageId::ALL.len(), 28);
    for id in MessageId::ALL {
        assert_eq!(MessageId::from_u32(id as u32), Ok(id));
        let dir = (id as u32) >> 16;
        assert!(dir == 3 || dir == 4, "{id:?}");
        assert_eq!(
            id.is_to_client(),
            id.spec_name().starts_with("LinkMacToViewer")
        );
        assert!(id.section().starts_with("2.2.4."));
    }
    assert_eq!(
        MessageId::from_u32(0x0003_0099),
        Err(Error::UnknownMessage(0x0003_0099))
    );
}
