//! Malformed input gives a clear error value, never a panic.

mod common;
use common::{F::*, build, message, packet, read_block};
use mms_proto::wire::*;

#[test]
fn truncation_at_every_length_is_an_error() {
    let msgs = [
        message(
            0x0004_0006,
            &[
                U32(0),
                U32(1),
                U32(1),
                U32(0),
                U32(0),
                U32(0),
                F64(1.0),
                U32(1),
                Zeros(16),
                U32(3200),
                U64(1),
                U32(1),
                U32(1),
                Zeros(36),
            ],
        ),
        message(
            0x0003_0001,
            &[
                U32(0),
                U32(0x0004_000B),
                U32(0x0003_001C),
                Text("NSPlayer/9.0"),
                U16(0),
            ],
        ),
        read_block(1, 2),
    ];
    for m in &msgs {
        for cut in 0..m.len() {
            assert!(Message::parse(&m[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Message::parse(m).is_ok());
    }
    assert!(matches!(
        Message::parse(&[1, 0, 0]),
        Err(Error::Truncated { needed: 8, got: 3 })
    ));
}

#[test]
fn wrong_session_id_and_seal() {
    let msg = message(0x0003_0018, &[U32(MMS_DISABLE_PACKET_PAIR)]);
    let good = packet(0, 0, &msg);
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(b"SMM ");
    assert_eq!(
        TcpMessageHeaderRepr::parse(&bad),
        Err(Error::invalid("seal", "not 0x20534D4D"))
    );
    assert_eq!(
        frame(&bad, &Limits::default()),
        Err(Error::invalid("seal", "not 0x20534D4D"))
    );
    let mut bad = good.clone();
    bad[4] ^= 1;
    assert_eq!(
        TcpMessageHeaderRepr::parse(&bad),
        Err(Error::invalid("sessionId", "not 0xB00BFACE"))
    );
    // Without the sessionId the framer sees a Data packet ([3.1.5.2]).
    assert!(matches!(
        frame(&bad, &Limits::default()),
        Ok(Status::Complete(Frame::Data(_))) | Ok(Status::Partial(_)) | Err(_)
    ));
}

#[test]
fn chunk_len_mismatch() {
    let msg = message(0x0003_0018, &[U32(MMS_DISABLE_PACKET_PAIR)]);
    // chunkLen says 3 chunks, the message has 2.
    let mut long = msg.clone();
    long[0] = 3;
    assert!(Message::parse(&long).is_err());
    let pkt = packet(0, 0, &long);
    let (_, mut it) = parse_packet(&pkt).unwrap();
    assert_eq!(
        it.next().unwrap(),
        Err(Error::invalid(
            "chunkLen",
            "message runs past messageLength"
        ))
    );
    assert!(it.next().is_none());
    // chunkLen 1 is shorter than chunkLen + MID.
    let mut short = msg.clone();
    short[0] = 0;
    assert_eq!(
        Message::parse(&short),
        Err(Error::invalid("chunkLen", "shorter than chunkLen and MID"))
    );
    // chunkLen smaller than the bytes handed to Message::parse.
    let mut two = msg.clone();
    two.extend_from_slice(&msg);
    assert_eq!(
        Message::parse(&two),
        Err(Error::invalid(
            "chunkLen",
            "does not match the message length"
        ))
    );
    // chunkCount that matches neither convention.
    let mut pkt = packet(0, 0, &msg);
    pkt[16] = 99;
    assert!(matches!(
        TcpMessageHeaderRepr::parse(&pkt),
        Err(Error::InvalidField {
            field: "chunkCount",
            ..
        })
    ));
}

#[test]
fn several_messages_in_one_packet_are_all_read() {
    let a = message(0x0003_001B, &[U32(0), U32(0)]);
    let b = message(0x0003_0009, &[U32(1), U32(4)]);
    let pkt = packet(3, 0, &[a, b].concat());
    let (_, it) = parse_packet(&pkt).unwrap();
    let ids: Vec<_> = it.map(|m| m.unwrap().id()).collect();
    assert_eq!(ids, [MessageId::Pong, MessageId::StopPlaying]);
}

#[test]
fn odd_utf16_length() {
    let r = build(&[
        U32(3),
        U32(0x0004_0022),
        U32(0),
        U16(1),
        U16(5),
        Raw(b"a\0b\0\0"),
        Zeros(3),
    ]);
    assert_eq!(
        Message::parse(&r),
        Err(Error::invalid("wszLocation", "odd UTF-16 length"))
    );
    // OpenFile with an odd token offset.
    let o = message(
        0x0003_0005,
        &[
            U32(1),
            U32(0),
            U32(5),
            U32(2),
            Text("ab"),
            U16(0),
            Raw(b"zz"),
        ],
    );
    assert!(matches!(
        Message::parse(&o),
        Err(Error::InvalidField { field: "token", .. })
    ));
}

#[test]
fn missing_nul() {
    // ReportConnectedEX whose ServerVersionInfo (cb = 3) has no terminator.
    let m = message(
        0x0004_0001,
        &[
            U32(0),
            U32(0),
            U32(0),
            U32(0),
            F64(1.0),
            U32(1),
            U32(1),
            U32(0),
            U32(0),
            U32(3),
            U32(0),
            U32(0),
            U32(0),
            Text("9.1"),
        ],
    );
    assert_eq!(
        Message::parse(&m),
        Err(Error::invalid(
            "ServerVersionInfo",
            "missing NUL terminator"
        ))
    );
    // OpenFile with tokenData but a fileName without its NUL.
    let o = message(
        0x0003_0005,
        &[U32(1), U32(0), U32(4), U32(2), Text("ab"), Raw(b"zz")],
    );
    assert_eq!(
        Message::parse(&o),
        Err(Error::invalid(
            "fileName",
            "missing NUL terminator before tokenData"
        ))
    );
    // Redirect whose last unit is not NUL.
    let r = message(0x0004_0022, &[U32(0), U16(1), U16(4), Text("ab")]);
    assert_eq!(
        Message::parse(&r),
        Err(Error::invalid("wszLocation", "missing NUL terminator"))
    );
    assert!(text::BasicChallenge::parse(&build(&[Text("realm=\"x\"")])).is_err());
}

#[test]
fn out_of_range_play_incarnation() {
    for mid_and_fields in [
        message(
            0x0003_0005,
            &[U32(0x1FF), U32(0), U32(0), U32(0), Text("a"), U16(0)],
        ),
        read_block(1, 0),
        message(
            0x0003_0007,
            &[
                U32(1),
                U32(0),
                F64(0.0),
                U32(!0),
                U32(!0),
                U32(0),
                U32(0xFF),
            ],
        ),
        message(
            0x0003_0028,
            &[
                U32(1),
                U32(0),
                F64(0.0),
                U32(!0),
                U32(!0),
                U32(0),
                U32(0x100),
                F64(2.0),
            ],
        ),
    ] {
        let m = Message::parse(&mid_and_fields).expect("tolerant parse accepts it");
        assert_eq!(
            m.check_strict(),
            Err(Error::invalid("playIncarnation", "outside 0x01..=0xFE")),
            "{:?}",
            m.id()
        );
    }
    let d = DataPacketRepr {
        location_id: 0,
        play_incarnation: 0,
        af_flags: 0,
        payload: &[],
    };
    assert!(d.check_strict().is_err());
    let s = StartStridingRepr {
        play_incarnation: 1,
        rate: 0.0,
        ..Default::default()
    };
    assert_eq!(
        Message::from(s).check_strict(),
        Err(Error::invalid("rate", "outside -5..=5 or zero"))
    );
}

#[test]
fn resend_entry_count_bounds() {
    let mut list = vec![U32(0xBEEF_F00D), U32(1), U16(1), U16(33)];
    list.extend((0..33).map(U32));
    assert_eq!(
        RequestPacketListResendRepr::parse(&build(&list)),
        Err(Error::invalid("wNumPackets", "outside 1..=32"))
    );
    assert!(
        RequestPacketListResendRepr::parse(&build(&[U32(0xBEEF_F00D), U32(1), U16(1), U16(0)]))
            .is_err()
    );
    assert!(
        RequestPacketListResendRepr::parse(&build(&[
            U32(0xDEAD_BEEF),
            U32(1),
            U16(1),
            U16(1),
            U32(5)
        ]))
        .is_err()
    );
    // Announces 2, carries 1.
    assert!(matches!(
        RequestPacketListResendRepr::parse(&build(&[
            U32(0xBEEF_F00D),
            U32(1),
            U16(1),
            U16(2),
            U32(5)
        ])),
        Err(Error::Truncated { .. })
    ));
    let mut v = heapless::Vec::<u32, 32>::new();
    assert!(
        RequestPacketListResendRepr {
            client_id: 1,
            source_id: 1,
            packets: v.clone()
        }
        .emit(&mut [0; 64])
        .is_err()
    );
    for i in 0..32 {
        v.push(i).unwrap();
    }
    assert!(
        v.push(32).is_err(),
        "the Repr cannot even hold a 33rd entry"
    );
}

#[test]
fn lengths_are_bounded_before_use() {
    // messageLength of ~4 GiB: an error, not an allocation.
    let mut hdr = packet(0, 0, &[]);
    hdr[8..12].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes());
    assert_eq!(
        frame(&hdr, &Limits::default()),
        Err(Error::TooLong {
            len: 16 + 0xFFFF_FFF8,
            max: 65536
        })
    );
    hdr[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert!(frame(&hdr, &Limits::default()).is_err());
    // A custom bound is honoured.
    let small = Limits {
        max_command_len: 32,
    };
    let pkt = packet(0, 0, &message(0x0003_001B, &[U32(0), U32(0)]));
    assert!(matches!(frame(&pkt, &small), Err(Error::TooLong { .. })));
    // Data packets: PacketSize below the header is an error.
    assert!(frame(&[0, 0, 0, 0, 1, 0, 7, 0], &Limits::default()).is_err());
    // cStreamEntries claiming 2^32-1 entries.
    let m = message(0x0003_0033, &[U32(u32::MAX)]);
    assert!(Message::parse(&m).is_err());
    // cbToken of 4 GiB.
    let m = message(0x0003_001A, &[U32(1), U32(1), U32(u32::MAX)]);
    assert!(matches!(Message::parse(&m), Err(Error::Truncated { .. })));
}

#[test]
fn unknown_mid_is_an_error_value() {
    let m = message(0x0003_0077, &[U32(0)]);
    assert_eq!(Message::parse(&m), Err(Error::UnknownMessage(0x0003_0077)));
    assert_eq!(
        Error::UnknownMessage(0x0003_0077).to_string(),
        "unknown message id 0x00030077"
    );
}
