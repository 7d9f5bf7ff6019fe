//! A whole session ([4.3] general sequence) as both sides would receive it,
//! fed through the framer split at every byte boundary: the units and the
//! messages come out the same however the bytes arrive.

mod common;
use common::{F::*, connect, connect_funnel, data, message, packet, read_block, seed};
use mms_proto::wire::*;

/// An all-default CLIENT_LOG (its bytes are pinned by the golden tests).
fn default_log() -> Vec<u8> {
    let mut b = vec![0; CLIENT_LOG_LEN];
    ClientLogRepr::default().emit(&mut b).unwrap();
    b
}

/// What the server receives in [4.3] (steps 1, 3, 5, 7, 9, 11, 13, 15, 17, 18).
fn client_stream() -> Vec<u8> {
    let name = "NSPlayer/9.0.0.2980; {68c0a090-8797-11d2-a2b3-00a0c9b60551}; Host: 127.0.0.1";
    let msgs = [
        connect(name, MMS_DISABLE_PACKET_PAIR),
        message(0x0003_0018, &[U32(MMS_DISABLE_PACKET_PAIR)]),
        connect_funnel("\\\\127.0.0.1\\TCP\\1037"),
        message(
            0x0003_0005,
            &[U32(1), U32(0), U32(0), U32(0), Text("demo.wmv"), U16(0)],
        ),
        read_block(1, 2),
        message(
            0x0003_0033,
            &[
                U32(2),
                U16(0xFFFF),
                U16(1),
                U16(0),
                U16(0xFFFF),
                U16(2),
                U16(0),
            ],
        ),
        message(
            0x0003_0007,
            &[U32(1), U32(0), F64(0.0), U32(!0), U32(!0), U32(0), U32(3)],
        ),
        message(0x0003_0009, &[U32(1), U32(3)]),
        message(0x0003_0032, &[Raw(&default_log())]),
        message(0x0003_000D, &[U32(0), U32(1)]),
    ];
    msgs.iter()
        .enumerate()
        .flat_map(|(i, m)| packet(i as u16, 10 * i as u64, m))
        .collect()
}

/// What the client receives in [4.3] (steps 2, 4, 6, 8, 10, 12, 14, 16).
fn server_stream() -> Vec<u8> {
    let mut v = Vec::new();
    let mut seq = 0u16;
    let mut cmd = |v: &mut Vec<u8>, m: Vec<u8>| {
        v.extend(packet(seq, 0, &m));
        seq += 1;
    };
    cmd(
        &mut v,
        message(
            0x0004_0001,
            &[
                U32(0),
                U32(MMS_DISABLE_PACKET_PAIR),
                U32(0x0004_000B),
                U32(0x0003_001C),
                F64(1.0),
                U32(1),
                U32(1),
                U32(0x8000),
                U32(0x0098_9680),
                U32(11),
                U32(0),
                U32(0),
                U32(0),
                Text("9.1.1.3862"),
                U16(0),
            ],
        ),
    );
    cmd(
        &mut v,
        message(
            0x0004_0015,
            &[
                U32(0),
                U32(MMS_DISABLE_PACKET_PAIR),
                U32(8),
                U32(1),
                U32(0x1_0000),
                U32(77),
                U32(0),
                U32(1),
                U32(0),
                U32(0),
            ],
        ),
    );
    cmd(
        &mut v,
        message(
            0x0004_0002,
            &[U32(0), U32(0), U32(0), Text("Funnel Of The Gods"), U16(0)],
        ),
    );
    cmd(
        &mut v,
        message(
            0x0004_0006,
            &[
                U32(0),
                U32(1),
                U32(1),
                U32(0),
                U32(0),
                U32(0x0180_0000),
                F64(10.0),
                U32(10),
                Zeros(16),
                U32(1000),
                U64(3),
                U32(8000),
                U32(2500),
                Zeros(36),
            ],
        ),
    );
    cmd(&mut v, message(0x0004_0011, &[U32(0), U32(2), U32(0)]));
    // The ASF file header in three pieces: 0x04, 0x04, 0x0C ([3.2.5.8.1]).
    for (i, af) in [(0u32, 0x04u8), (1, 0x04), (2, 0x0C)] {
        v.extend(data(i, 2, af, &vec![0x30 + i as u8; 1000 - 8 * i as usize]));
    }
    cmd(&mut v, message(0x0004_0021, &[U32(0)]));
    cmd(
        &mut v,
        message(0x0004_0005, &[U32(0), U32(3), U32(1), U32(0), Zeros(12)]),
    );
    // Media: LocationId = packet number, AFFlags = sequence, incarnation 3.
    // One payload deliberately contains the sessionId bytes past offset 8.
    for i in 0..3u32 {
        let mut p = vec![0x82u8; 1000];
        p[0..4].copy_from_slice(&0xB00B_FACEu32.to_le_bytes());
        v.extend(data(i, 3, i as u8, &p));
    }
    // A Ping during play, then the end.
    cmd(&mut v, message(0x0004_001B, &[U32(0), U32(0)]));
    cmd(&mut v, message(0x0004_001E, &[U32(0), U32(3)]));
    v
}

/// Feeds `chunks` into a receive buffer the way a runtime does and returns
/// every unit, as `(kind, bytes)`.
fn receive<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<(Frame, Vec<u8>)> {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        let used = for_each_frame(&buf, &limits, |f, b| out.push((f, b.to_vec()))).unwrap();
        buf.drain(..used);
    }
    assert!(buf.is_empty(), "bytes left over");
    out
}

fn describe(units: &[(Frame, Vec<u8>)]) -> Vec<String> {
    units
        .iter()
        .map(|(f, b)| match f {
            Frame::Command(_) => {
                let (_, msgs) = parse_packet(b).unwrap();
                let ids: Vec<_> = msgs.map(|m| format!("{:?}", m.unwrap().id())).collect();
                ids.join("+")
            }
            Frame::Data(_) => {
                let r = DataPacketRepr::parse(&DataPacket::new_checked(&b[..]).unwrap()).unwrap();
                format!("{:?}", r.kind(Some(2)).unwrap())
            }
        })
        .collect()
}

fn check_every_split(stream: &[u8], expected_len: usize) {
    seed("framer", stream);
    let whole = receive([stream]);
    assert_eq!(whole.len(), expected_len);
    let names = describe(&whole);
    let mut splits = 0;
    for k in 0..=stream.len() {
        splits += 1;
        let (a, b) = stream.split_at(k);
        assert_eq!(receive([a, b]), whole, "split at {k}");
    }
    assert_eq!(splits, stream.len() + 1);
    assert!(stream.len() > 1500, "the session is {} bytes", stream.len());
    let bytewise = receive(stream.chunks(1));
    assert_eq!(bytewise, whole);
    assert_eq!(describe(&bytewise), names);
}

#[test]
fn server_side_receive_splits() {
    let s = client_stream();
    let whole = receive([&s[..]]);
    assert!(whole.iter().all(|(f, _)| matches!(f, Frame::Command(_))));
    assert_eq!(
        describe(&whole),
        [
            "Connect",
            "FunnelInfo",
            "ConnectFunnel",
            "OpenFile",
            "ReadBlock",
            "StreamSwitch",
            "StartPlaying",
            "StopPlaying",
            "Logging",
            "CloseFile"
        ]
        .map(String::from)
    );
    check_every_split(&s, 10);
}

#[test]
fn client_side_receive_splits() {
    let s = server_stream();
    let names = describe(&receive([&s[..]]));
    assert_eq!(names[0], "ReportConnectedEx");
    assert_eq!(names[5], "HeaderPiece { index: 0, last: false }");
    assert_eq!(names[7], "HeaderPiece { index: 2, last: true }");
    assert_eq!(names[10], "Media { packet_number: 0, sequence: 0 }");
    assert_eq!(names[14], "ReportEndOfStream");
    check_every_split(&s, 15);
}
