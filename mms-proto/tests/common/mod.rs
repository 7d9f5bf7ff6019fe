//! Helpers shared by the integration tests: building spec bytes field by
//! field (independently of the codec under test).

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod msgs;

use mms_proto::wire::{Message, MessageRepr};

/// One field of a golden byte string.
#[derive(Clone, Copy)]
pub enum F<'a> {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F64(f64),
    /// UTF-16LE text, no terminator.
    Text(&'a str),
    /// Raw bytes.
    Raw(&'a [u8]),
    /// `n` zero bytes.
    Zeros(usize),
}

/// Concatenates fields little-endian, as [2.2] requires.
pub fn build(fields: &[F<'_>]) -> Vec<u8> {
    let mut v = Vec::new();
    for f in fields {
        match *f {
            F::U8(x) => v.push(x),
            F::U16(x) => v.extend_from_slice(&x.to_le_bytes()),
            F::U32(x) => v.extend_from_slice(&x.to_le_bytes()),
            F::U64(x) => v.extend_from_slice(&x.to_le_bytes()),
            F::F64(x) => v.extend_from_slice(&x.to_le_bytes()),
            F::Text(s) => s
                .encode_utf16()
                .for_each(|u| v.extend_from_slice(&u.to_le_bytes())),
            F::Raw(b) => v.extend_from_slice(b),
            F::Zeros(n) => v.extend(std::iter::repeat_n(0, n)),
        }
    }
    v
}

/// A message: chunkLen computed from the fields, MID, the fields, zero
/// padding to 8 bytes.
pub fn message(mid: u32, fields: &[F<'_>]) -> Vec<u8> {
    let body = build(fields);
    let len = (8 + body.len()).div_ceil(8) * 8;
    let mut v = build(&[F::U32((len / 8) as u32), F::U32(mid)]);
    v.extend_from_slice(&body);
    v.resize(len, 0);
    v
}

/// [2.2.4.17] LinkViewerToMacConnect with the revisions the spec prescribes.
pub fn connect(subscriber_name: &str, play_incarnation: u32) -> Vec<u8> {
    message(
        0x0003_0001,
        &[
            F::U32(play_incarnation),
            F::U32(0x0004_000B), // MacToViewerProtocolRevision
            F::U32(0x0003_001C), // ViewerToMacProtocolRevision
            F::Text(subscriber_name),
            F::U16(0),
        ],
    )
}

/// [2.2.4.18] LinkViewerToMacConnectFunnel as FFmpeg sends it.
pub fn connect_funnel(funnel_name: &str) -> Vec<u8> {
    message(
        0x0003_0002,
        &[
            F::U32(0),           // playIncarnation
            F::U32(!0),          // maxBlockBytes
            F::U32(0),           // maxFunnelBytes
            F::U32(0x0098_9680), // maxBitRate
            F::U32(2),           // funnelMode
            F::Text(funnel_name),
            F::U16(0),
        ],
    )
}

/// [2.2.4.23] LinkViewerToMacReadBlock with the field values the spec
/// prescribes (FFmpeg's, but for `length`).
pub fn read_block(open_file_id: u32, play_incarnation: u32) -> Vec<u8> {
    message(
        0x0003_0015,
        &[
            F::U32(open_file_id),
            F::U32(0),      // fileBlockId
            F::U32(0),      // offset
            F::U32(0x8000), // length
            F::U32(!0),     // flags
            F::U32(0),      // padding
            F::F64(0.0),    // tEarliest
            F::F64(3600.0), // tDeadline
            F::U32(play_incarnation),
            F::U32(0), // playSequence
        ],
    )
}

/// A TcpMessageHeader packet around `msgs`, chunkCount as real clients send
/// it ((total - 16) / 8).
pub fn packet(seq: u16, time_sent: u64, msgs: &[u8]) -> Vec<u8> {
    let ml = (16 + msgs.len()) as u32;
    let mut v = build(&[
        F::U8(1),
        F::U8(0),
        F::U8(0),
        F::U8(0),
        F::U32(0xB00B_FACE),
        F::U32(ml),
        F::U32(0x2053_4D4D),
        F::U32(ml / 8),
        F::U16(seq),
        F::U16(0),
        F::U64(time_sent),
    ]);
    v.extend_from_slice(msgs);
    v
}

/// A Data packet.
pub fn data(location_id: u32, incarnation: u8, af_flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = build(&[
        F::U32(location_id),
        F::U8(incarnation),
        F::U8(af_flags),
        F::U16((8 + payload.len()) as u16),
    ]);
    v.extend_from_slice(payload);
    v
}

/// Saves `bytes` as a fuzz seed for `target` when `MMS_FUZZ_SEEDS` names a
/// directory (`cargo xtask fuzz` sets it), so the fuzz corpora start from
/// the golden vectors.
pub fn seed(target: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("MMS_FUZZ_SEEDS") {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        let dir = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{:016x}", h.finish())), bytes).unwrap();
    }
}

/// UTF-16LE bytes of `s`, for seeding the text parsers.
pub fn utf16(s: &str) -> Vec<u8> {
    build(&[F::Text(s)])
}

/// Checks a Repr against its golden bytes both ways: parsing the bytes
/// yields the Repr, and emitting the Repr into a buffer pre-filled with
/// 0xA5 yields exactly the bytes and touches nothing after them.
pub fn golden<'a, R>(bytes: &'a [u8], repr: R)
where
    R: MessageRepr<'a> + Into<Message<'a>> + PartialEq + std::fmt::Debug + Copy,
{
    seed("message", bytes);
    seed("framer", &packet(0, 0, bytes));
    let parsed = R::parse(bytes).unwrap_or_else(|e| panic!("parse {:?}: {e}", R::ID));
    assert_eq!(parsed, repr, "parse of {:?}", R::ID);
    assert_eq!(
        Message::parse(bytes).unwrap(),
        repr.into(),
        "Message::parse of {:?}",
        R::ID
    );
    assert_eq!(repr.buffer_len(), bytes.len(), "buffer_len of {:?}", R::ID);
    let mut buf = vec![0xA5u8; bytes.len() + 16];
    let n = repr.emit(&mut buf).unwrap();
    assert_eq!(n, bytes.len());
    assert_eq!(&buf[..n], bytes, "emit of {:?}", R::ID);
    assert!(
        buf[n..].iter().all(|&b| b == 0xA5),
        "emit of {:?} wrote past its length",
        R::ID
    );
}

/// The server machine's [`mms_proto::server::Driver`] over an ASF file in
/// memory, as a runtime would be: header and packets read from the file,
/// each unit sent collected in order.
pub struct FileDriver<'f> {
    file: &'f [u8],
    packet_size: usize,
    header_len: usize,
    /// What the machine sent, in order.
    pub sent: Vec<(
        mms_proto::machine::Transmit,
        Vec<u8>,
        mms_proto::server::Sent,
    )>,
    /// Where UDP copies are kept for resends, and the time.
    ring: Option<(
        &'f mut mms_proto::server::ResendRing<Vec<u8>>,
        mms_proto::time::Instant,
    )>,
}

impl<'f> FileDriver<'f> {
    pub fn new(file: &'f [u8]) -> Self {
        let h = mms_proto::asf::HeaderSummary::parse(file).expect("a valid ASF file");
        Self {
            file,
            packet_size: h.packet_size as usize,
            header_len: h.file_header_len(),
            sent: Vec::new(),
            ring: None,
        }
    }

    /// Keeps the UDP Data packets sent in `ring` (at `now`) and answers
    /// resend requests from it.
    pub fn with_ring(
        mut self,
        ring: &'f mut mms_proto::server::ResendRing<Vec<u8>>,
        now: mms_proto::time::Instant,
    ) -> Self {
        self.ring = Some((ring, now));
        self
    }

    /// Packet `n` of the file.
    pub fn packet(&self, n: u64) -> &'f [u8] {
        let start = self.header_len + n as usize * self.packet_size;
        &self.file[start..start + self.packet_size]
    }
}

impl mms_proto::server::Driver for FileDriver<'_> {
    type Error = std::convert::Infallible;

    fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], Self::Error> {
        Ok(&self.file[offset as usize..(offset + len) as usize])
    }

    fn packet(&mut self, number: u64) -> Result<mms_proto::server::Fetch<'_>, Self::Error> {
        Ok(mms_proto::server::Fetch::Packet(FileDriver::packet(
            self, number,
        )))
    }

    fn resend(&mut self, sequence: u32) -> Option<&[u8]> {
        let (ring, now) = self.ring.as_ref()?;
        ring.get(sequence, *now)
    }

    fn transmit(
        &mut self,
        to: mms_proto::machine::Transmit,
        bytes: &[u8],
        what: mms_proto::server::Sent,
    ) {
        if let (
            mms_proto::machine::Transmit::Udp { .. },
            mms_proto::server::Sent::Packet { sequence, .. },
            Some((ring, now)),
        ) = (to, what, self.ring.as_mut())
        {
            ring.store(sequence, *now, bytes);
        }
        self.sent.push((to, bytes.to_vec(), what));
    }

    fn has_room(&self) -> bool {
        true
    }
}

/// The one message of a TcpMessageHeader packet the server sent, checked
/// (well-formed, exact, alone in its packet: interop-notes).
pub fn sent_message(bytes: Vec<u8>) -> Message<'static> {
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let (_, mut it) =
        mms_proto::wire::parse_packet(bytes).expect("the server sends well-formed packets");
    let m = it.next().unwrap().unwrap();
    assert!(
        it.next().is_none(),
        "one message per TcpMessageHeader (interop-notes)"
    );
    m.check_strict().expect("exact in what it sends");
    m
}

/// (stream, key frame, media object, offset, bytes) of each payload.
pub type Payloads = Vec<(u8, bool, u32, u32, Vec<u8>)>;

/// The payloads of an ASF data packet, validated.
pub fn payload_list(packet: &[u8]) -> Payloads {
    let info = mms_proto::asf::validate(packet).unwrap();
    info.payloads(packet)
        .map(|p| p.unwrap())
        .map(|p| {
            (
                p.stream,
                p.key_frame,
                p.media_object_number,
                p.offset,
                p.data.to_vec(),
            )
        })
        .collect()
}

/// An ASF data packet of `len` bytes (at least 27), written field by field
/// (asf-facts §12): `82 00 00`, no length fields, property flags 0x5D,
/// Send Time 0, Duration 0, then one payload of stream 1 (key frame),
/// object 0, offset 0, 8 bytes of replicated data (object size, PT
/// 3100 ms) and `len - 26` bytes of 0x07.
pub fn asf_packet(len: usize) -> Vec<u8> {
    let data = len - 26;
    build(&[
        F::Raw(&[0x82, 0, 0]),
        F::U8(0x00), // length type flags: single payload, no fields
        F::U8(0x5D), // property flags
        F::U32(0),   // Send Time
        F::U16(0),   // Duration
        F::U8(0x81), // stream 1, key frame
        F::U8(0),    // Media Object Number
        F::U32(0),   // Offset Into Media Object
        F::U8(8),    // Replicated Data Length
        F::U32(data as u32),
        F::U32(3100),
        F::Raw(&vec![7; data]),
    ])
}
