//! Fuzz oracles: one function per fuzz target, so each target in `mms-fuzz`
//! is one line and saved crashes replay as ordinary tests (feature
//! `oracles`). Every oracle asserts more than "no panic": whatever parses
//! must emit, and what it emits must parse and emit to the same bytes.
//!
//! Not part of the stable API.

use core::fmt::Write as _;

use crate::wire::*;

mod auth;
pub use auth::{basic_credentials, ntlm_authenticate, ntlm_challenge, ntlm_token};

/// Room for what the oracles emit: a framed command is bounded by
/// [`Limits::default`]; a message taken whole from fuzz input may be longer.
const OUT: usize = 128 * 1024;

fn with_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    // A static buffer would need unsafe or a lock; the stack is enough for
    // 128 KiB with the default fuzzing stack size.
    let mut buf = [0u8; OUT];
    f(&mut buf)
}

/// Re-emits a parsed message and checks the emission is canonical: it
/// parses, and emits to the same bytes again.
fn check_message(m: &Message<'_>) {
    let _ = m.check_strict();
    let len = m.buffer_len();
    if len > OUT / 2 {
        return;
    }
    with_buf(|buf| {
        let (a, b) = buf.split_at_mut(OUT / 2);
        let n = m.emit(a).expect("a parsed message emits"); // oracle assertion: failing here is the finding
        assert_eq!(n, len, "emit wrote buffer_len bytes");
        let again = Message::parse(&a[..n]).expect("an emitted message parses"); // oracle assertion: failing here is the finding
        assert_eq!(again.id(), m.id());
        let n2 = again.emit(b).expect("re-emit"); // oracle assertion: failing here is the finding
        assert_eq!(&a[..n], &b[..n2], "emission is canonical");
    });
}

/// Target `message`: one message of [2.2.4].
pub fn message(data: &[u8]) {
    if let Ok(m) = Message::parse(data) {
        check_message(&m);
    }
}

/// Target `framer`: a received TCP byte stream, split into units, each
/// parsed as a runtime would.
pub fn framer(data: &[u8]) {
    let limits = Limits::default();
    let _ = for_each_frame(data, &limits, |f, unit| match f {
        Frame::Command(n) => {
            assert_eq!(unit.len(), n);
            let _ = TcpMessageHeaderRepr::check_strict(unit);
            if let Ok((hdr, msgs)) = parse_packet(unit) {
                for m in msgs.flatten() {
                    check_message(&m);
                    with_buf(|buf| {
                        let n = hdr.emit_packet(&m, buf).expect("emit packet"); // oracle assertion: failing here is the finding
                        assert_eq!(
                            frame(
                                &buf[..n],
                                &Limits {
                                    max_command_len: OUT
                                }
                            ),
                            Ok(Status::Complete(Frame::Command(n)))
                        );
                    });
                }
            }
        }
        Frame::Data(n) => {
            assert_eq!(unit.len(), n);
            data_packet(unit);
        }
    });
}

/// Target `data_packet`: one Data packet of [2.2.2].
pub fn data_packet(data: &[u8]) {
    let Ok(view) = DataPacket::new_checked(data) else {
        return;
    };
    let _ = view.payload();
    if let Ok(r) = DataPacketRepr::parse(&view) {
        let _ = r.kind(Some(data.first().copied().unwrap_or(0)));
        let _ = r.kind(None);
        let _ = r.check_strict();
        with_buf(|buf| {
            let n = r.emit(buf).expect("emit"); // oracle assertion: failing here is the finding
            assert_eq!(&buf[..n], &data[..n]);
        });
    }
}

/// Target `resend`: a RequestPacketListResend datagram of [2.2.5].
pub fn resend(data: &[u8]) {
    if let Ok(r) = RequestPacketListResendRepr::parse(data) {
        with_buf(|buf| {
            let n = r.emit(buf).expect("emit"); // oracle assertion: failing here is the finding
            assert_eq!(&buf[..n], &data[..n]);
            assert_eq!(
                RequestPacketListResendRepr::parse(&buf[..n]).as_ref(),
                Ok(&r)
            );
        });
    }
}

/// Target `client_log`: a CLIENT_LOG of [2.2.1.1].
pub fn client_log(data: &[u8]) {
    if let Ok(r) = ClientLogRepr::parse(data) {
        with_buf(|buf| {
            let n = r.emit(buf).expect("emit"); // oracle assertion: failing here is the finding
            assert_eq!(ClientLogRepr::parse(&buf[..n]).as_ref(), Ok(&r));
        });
    }
}

/// Fuzz input as UTF-16 text (an odd trailing byte is dropped).
fn text(data: &[u8]) -> Utf16Str<'_> {
    Utf16Str::Wire(&data[..data.len() & !1])
}

type Rendered = heapless::String<4096>;

/// Target `subscriber`: subscriberName of [2.2.4.17]. What parses renders
/// (Display) to a string that parses to the same fields.
pub fn subscriber(data: &[u8]) {
    let t = text(data);
    let Ok(s) = text::Subscriber::parse(&t) else {
        return;
    };
    let _ = s.check_strict();
    let mut out = Rendered::new();
    if write!(out, "{s}").is_ok() {
        let again =
            text::Subscriber::parse(&Utf16Str::Str(&out)).expect("rendered subscriberName parses"); // oracle assertion: failing here is the finding
        assert_eq!(again.client, s.client);
        assert_eq!(again.guid, s.guid);
        assert_eq!(
            again.host_param.map(|h| h.port),
            s.host_param.map(|h| h.port)
        );
        assert_eq!(again.via, s.via);
    }
}

/// Target `funnel_name`: funnelName of [2.2.4.18].
pub fn funnel_name(data: &[u8]) {
    if let Ok(f) = text::FunnelName::parse(&text(data)) {
        assert!(f.port >= 1);
        let mut out = Rendered::new();
        let proto = if f.proto == text::FunnelProto::Tcp {
            "TCP"
        } else {
            "UDP"
        };
        write!(out, "\\\\{}\\{proto}\\{}", f.addr, f.port).expect("fits"); // oracle assertion: failing here is the finding
        let again =
            text::FunnelName::parse(&Utf16Str::Str(&out)).expect("rendered funnelName parses"); // oracle assertion: failing here is the finding
        assert_eq!(
            (again.addr, again.proto, again.port),
            (f.addr, f.proto, f.port)
        );
    }
}

/// Target `version`: ServerVersionInfo / VersionInfo of [2.2.4.2].
pub fn version(data: &[u8]) {
    if let Ok(v) = text::Version::parse(&text(data)) {
        let mut out = Rendered::new();
        write!(out, "{v}").expect("fits"); // oracle assertion: failing here is the finding
        assert_eq!(text::Version::parse(&Utf16Str::Str(&out)), Ok(v));
    }
}

/// Target `authen_package`: AuthenPackage of [2.2.4.2].
pub fn authen_package(data: &[u8]) {
    if let Ok(a) = text::AuthenPackage::parse(&text(data)) {
        assert_eq!(
            text::AuthenPackage::parse(&Utf16Str::Str(a.as_str())),
            Ok(a)
        );
    }
}

/// Target `redirect_location`: wszLocation of [2.2.4.9].
pub fn redirect_location(data: &[u8]) {
    if let Ok(text::RedirectLocation::Url {
        scheme,
        host,
        port,
        path,
    }) = text::RedirectLocation::parse(&text(data))
    {
        let s = match scheme {
            text::Scheme::Mms => "mms",
            text::Scheme::Mmsu => "mmsu",
            text::Scheme::Mmst => "mmst",
        };
        let mut out = Rendered::new();
        if write!(out, "{s}://{host}:{port}{path}").is_ok() {
            match text::RedirectLocation::parse(&Utf16Str::Str(&out)) {
                Ok(text::RedirectLocation::Url {
                    scheme: s2,
                    port: p2,
                    ..
                }) => assert_eq!((s2, p2), (scheme, port)),
                other => panic!("rendered location does not parse: {other:?}"), // oracle assertion: failing here is the finding
            }
        }
    }
}

/// Target `basic_challenge`: the Basic pToken of [2.2.4.14], and NTLM_AUTH
/// of [2.2.4.14.1] on the same bytes.
pub fn basic_challenge(data: &[u8]) {
    if let Ok(c) = text::BasicChallenge::parse(data) {
        assert!(c.realm.is_none_or(|r| r.len_units() * 2 <= data.len()));
    }
    if let Ok(n) = NtlmAuthRepr::parse(data) {
        with_buf(|buf| {
            let len = n.emit(buf).expect("emit"); // oracle assertion: failing here is the finding
            assert_eq!(NtlmAuthRepr::parse(&buf[..len]), Ok(n));
        });
    }
}

/// Target `asf_header`: an ASF header (and whatever follows) through
/// [`crate::asf::HeaderSummary`], stream selection and the incremental
/// reader.
pub fn asf_header(data: &[u8]) {
    use crate::asf::*;
    if let Ok(s) = HeaderSummary::parse(data) {
        assert!(s.packet_size > 0 && !s.streams.is_empty());
        assert_eq!(s.file_header_len(), s.header.len() + DATA_OBJECT_PREFIX_LEN);
        let all = s.all_streams();
        for lang in [None, Some("en"), Some("fr-FR")] {
            for max in [None, Some(0), Some(64_000), Some(u32::MAX)] {
                let chosen = select_streams(
                    &s,
                    &Preferences {
                        max_bitrate: max,
                        language: lang,
                    },
                );
                assert_eq!(chosen.0 & !all.0, 0, "selection names undeclared streams");
            }
        }
        for st in &s.streams {
            let _ = st.language_index.map(|i| s.language(i));
        }
        let _ = (
            s.duration_ms(),
            s.total_bitrate(),
            s.packet_at_offset(u64::MAX),
            s.packet_offset(u32::MAX as u64),
        );
    }
    let mut r = AsfReader::new(64 * 1024);
    let mut off = 0;
    while let Ok(crate::wire::Status::Complete(u)) = r.next(&data[off..]) {
        let (len, start) = match u {
            AsfUnit::Header { len, start, .. } | AsfUnit::Packet { len, start, .. } => (len, start),
            AsfUnit::End => break,
        };
        assert!(
            start <= len && len <= data.len() - off && len > 0,
            "unit outside the buffer"
        );
        off += len;
    }
}

/// Target `asf_packet`: one data packet through the parser, payloads and
/// sub-payloads.
pub fn asf_packet(data: &[u8]) {
    use crate::asf::*;
    let Ok(info) = PacketInfo::parse(data) else {
        return;
    };
    assert!(info.payload_start <= info.payload_end && info.payload_end <= data.len());
    for p in info.payloads(data).flatten() {
        assert!(info.payload_start <= p.start && p.start < p.end && p.end <= info.payload_end);
        let _ = (p.media_object_size(), p.presentation_time());
        for sub in p.sub_payloads().flatten() {
            assert!(sub.len() <= p.data.len());
        }
    }
    for s in [1u8, 2, 127] {
        let _ = starts_key_frame(data, s);
    }
}

/// True if the payloads of `b` are those of `a` that `sel` keeps, field for
/// field (their positions may differ).
fn same_payloads(a: &[u8], sel: &crate::asf::Selection, b: &[u8]) -> bool {
    use crate::asf::*;
    let (Ok(ia), Ok(ib)) = (PacketInfo::parse(a), PacketInfo::parse(b)) else {
        return false;
    };
    let mut started = crate::asf::StreamSet::EMPTY;
    let mut want = ia.payloads(a).filter(move |p| {
        p.as_ref()
            .map_or(true, |p| sel.keeps_in_order(p, &mut started))
    });
    let mut got = ib.payloads(b);
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(Ok(x)), Some(Ok(y))) => {
                let same = (
                    x.stream,
                    x.key_frame,
                    x.media_object_number,
                    x.offset,
                    x.replicated_data,
                    x.data,
                ) == (
                    y.stream,
                    y.key_frame,
                    y.media_object_number,
                    y.offset,
                    y.replicated_data,
                    y.data,
                );
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Largest packet the rewrite oracle tries.
const MAX_PACKET: usize = 8 * 1024;

/// Target `asf_rewrite`: the first byte picks a selection, the rest is a
/// packet of that size. Whatever the rewriter outputs must hold exactly the
/// selected payloads — as sent, after a client zero-fills it to the packet
/// size (for [`crate::asf::Padding::Strip`]), and after [`crate::asf::repad`].
pub fn asf_rewrite(data: &[u8]) {
    use crate::asf::*;
    let Some((&pick, packet)) = data.split_first() else {
        return;
    };
    let p_size = packet.len();
    // libFuzzer's default inputs are at most 4 KiB; bounding the packet
    // keeps the three scratch buffers small.
    if p_size > MAX_PACKET || validate(packet).is_err() {
        return;
    }
    let mask = StreamSet(((pick as u128) & 0x0F) << 1);
    let sel = if pick & 0x80 != 0 {
        Selection::EVERYTHING
    } else {
        Selection {
            all: mask,
            key_only: StreamSet(((pick as u128 >> 4) & 0x07) << 5),
            from_key_frame: StreamSet(((pick as u128 >> 6) & 1) << 2),
        }
    };
    let mut out = [0u8; MAX_PACKET + 8];
    let mut filled = [0u8; MAX_PACKET];
    let mut back = [0u8; MAX_PACKET];
    for strategy in [Padding::Keep, Padding::Strip, Padding::StripMsWmsp] {
        let n = match rewrite(packet, p_size, &sel, strategy, &mut out) {
            Ok(Rewritten::Packet(n)) => n,
            Ok(Rewritten::Skip) => {
                let info = PacketInfo::parse(packet).expect("validated"); // validate() succeeded above
                assert!(
                    {
                        let mut started = StreamSet::EMPTY;
                        info.payloads(packet)
                            .flatten()
                            .all(|p| !sel.keeps_in_order(&p, &mut started))
                    },
                    "skipped a packet with kept payloads"
                );
                continue;
            }
            // Only a fixed-size output can fail to fit (widened padding field).
            Err(_) if strategy == Padding::Keep => continue,
            Err(e) => panic!("{strategy:?} failed on a valid packet: {e}"), // oracle assertion: failing here is the finding
        };
        let r = &out[..n];
        assert!(
            same_payloads(packet, &sel, r),
            "{strategy:?} changed the payloads"
        );
        if strategy == Padding::Keep {
            assert_eq!(n, p_size);
        }
        if strategy == Padding::Strip && n <= p_size {
            filled[..n].copy_from_slice(r);
            filled[n..p_size].fill(0);
            assert!(
                same_payloads(packet, &sel, &filled[..p_size]),
                "a zero-filling client sees other payloads"
            );
        }
        if let Ok(m) = repad(r, p_size, &mut back) {
            assert_eq!(m, p_size);
            assert!(
                same_payloads(packet, &sel, &back[..m]),
                "repad changed the payloads"
            );
        }
    }
}

/// Target `server`: arbitrary bytes as a client's TCP stream and datagrams
/// into a server session with UDP delivery on (a unit starting 0xDD is a
/// datagram: a flag byte — bit 0: from a stranger — a 16-bit length, the
/// bytes); authentication is on (NTLM, and Basic for clients of 8 and
/// later; user `alice`, password `secret`): a path starting with `p` needs
/// identification, every other OpenRequest is accepted, header reads are
/// answered, time advances. Nothing may panic, the run-loop contract kept
/// by [`crate::server::drain`] is never reported broken, everything sent
/// must frame and parse, no datagram goes anywhere but the TCP peer,
/// resent bytes never exceed the budget, and nothing of the content goes
/// out for a protected open before its credentials were granted.
pub fn server(data: &[u8]) {
    use crate::machine::{Input, Transmit};
    use crate::server::*;
    use crate::time::{Duration, Instant};
    let media = Media {
        attributes: 0,
        duration_ms: 3000,
        packet_size: 1000,
        packet_count: 10,
        bit_rate: 80_000,
        file_header_len: 2500,
        without_key_frames: crate::asf::StreamSet::EMPTY.with(1),
        // A three-entry playlist: hr 1, ReportStreamChange, headers again.
        continues: true,
        send_time_origin: 0,
    };
    /// Zeros for the header, [`fuzz_packet`] for packets; keeps UDP copies;
    /// checks what goes out; always has room.
    struct Fuzz {
        zeros: [u8; 1000],
        packet: [u8; 1000],
        ring: ResendRing<[u8; 8 * 1024]>,
        now: Instant,
        /// The open being served is public, or was granted.
        allowed: bool,
    }
    impl Driver for Fuzz {
        type Error = core::convert::Infallible;
        fn header(&mut self, _offset: u32, len: u32) -> Result<&[u8], Self::Error> {
            // len <= the packet size, 1000.
            Ok(&self.zeros[..len as usize])
        }
        fn packet(&mut self, number: u64) -> Result<&[u8], Self::Error> {
            self.packet = fuzz_packet(number);
            Ok(&self.packet)
        }
        fn resend(&mut self, sequence: u32) -> Option<&[u8]> {
            self.ring.get(sequence, self.now)
        }
        fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent) {
            // oracle assertion: failing here is the finding (content unprotected)
            assert!(
                self.allowed || matches!(what, Sent::Message | Sent::PacketPair),
                "content sent for a protected open before a grant"
            );
            if let Transmit::Udp { destination, .. } = to {
                // oracle assertion: failing here is the finding (a reflector)
                assert_eq!(destination.ip(), PEER, "a datagram to other than the peer");
                assert!(!matches!(what, Sent::Message), "a message over UDP");
            }
            if let (Transmit::Udp { .. }, Sent::Packet { sequence, .. }) = (to, what) {
                self.ring.store(sequence, self.now, bytes);
            }
            match what {
                Sent::Message => {
                    let (_, mut msgs) =
                        parse_packet(bytes).expect("the server sends well-formed packets"); // oracle assertion: failing here is the finding
                    assert!(msgs.next().is_some_and(|m| m.is_ok()));
                }
                Sent::HeaderPiece => {
                    assert!(DataPacket::new_checked(bytes).is_ok_and(|d| d.check().is_ok()));
                }
                Sent::Packet { .. } | Sent::Resend { .. } => {
                    let d = DataPacket::new_checked(bytes).expect("a Data packet"); // oracle assertion: failing here is the finding
                    assert!(d.check().is_ok() && crate::asf::validate(d.payload()).is_ok());
                }
                Sent::PacketPair => {
                    let d = DataPacket::new_checked(bytes).expect("a Data packet"); // oracle assertion: failing here is the finding
                    assert!(d.check().is_ok() && d.payload().len() == UDP_PAIR_PAYLOAD);
                }
            }
        }
        fn has_room(&self) -> bool {
            true
        }
    }
    const PEER: core::net::IpAddr = core::net::IpAddr::V4(core::net::Ipv4Addr::LOCALHOST);
    let stranger = core::net::SocketAddr::new(
        core::net::IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 1)),
        7000,
    );
    let mut entries = 1;
    let mut s = ServerMachine::new(
        Config {
            idle_timeout: Duration::from_secs(10),
            udp: true,
            auth: Some(AuthOffer::default()),
            ..Config::default()
        },
        7,
    )
    .with_peer(PEER);
    let mut now = Instant(0);
    let mut out = [0u8; 4096];
    let mut driver = Fuzz {
        zeros: [0; 1000],
        packet: [0; 1000],
        // 8 KiB holds several 1,022-byte slots.
        ring: ResendRing::new([0; 8 * 1024], 1000, Duration::from_secs(5))
            .expect("8 KiB holds a slot"), // oracle assertion: a constant size
        now,
        allowed: true,
    };
    let secret = crate::auth::NtHash::of_password("secret");
    let alice = move |u: &str| (u == "alice").then_some(secret);
    let mut draws = 0u64;
    // The budget at 80 kbit/s and 100%: max(10,000 B/s, 8 KiB/s), a
    // second's burst.
    let (rate, burst) = (10_000u64, 10_000u64);
    let mut rest = data;
    for _ in 0..64 {
        if let [0xDD, flags, l0, l1, tail @ ..] = rest {
            let len = (u16::from_le_bytes([*l0, *l1]) as usize).min(tail.len());
            let (datagram, tail) = tail.split_at(len);
            rest = tail;
            let source = if flags & 1 == 1 {
                stranger
            } else {
                core::net::SocketAddr::new(PEER, 7000)
            };
            now = now + Duration::from_millis(u64::from(*flags >> 1));
            let input = Input::Udp {
                source,
                contents: datagram,
            };
            assert!(
                s.handle_input(now, input).is_ok_and(|e| e.is_empty()),
                "a datagram ended the session or made an event"
            );
        } else {
            let Ok(Status::Complete(f)) = frame(rest, &Limits::default()) else {
                break;
            };
            let (unit, tail) = rest.split_at(f.len());
            rest = tail;
            now = now + Duration::from_millis(unit.len() as u64);
            let r = s.handle_input(now, Input::tcp(f, unit));
            let Ok(events) = r else { return };
            for e in events {
                let token = match e {
                    Event::OpenRequest { file_name, token } => {
                        let protected = file_name.units().next() == Some(u16::from(b'p'));
                        driver.allowed = !protected;
                        if !protected {
                            let _ = s.accept_open(media);
                            continue;
                        }
                        token
                    }
                    Event::SecurityResponse { token } => token,
                    _ => continue,
                };
                draws += 1;
                let authority = Authority {
                    users: &alice,
                    realm: "fuzz",
                    ntlm: crate::auth::ntlm::AcceptorConfig::default(),
                    server_challenge: draws.to_le_bytes(),
                    timestamp: 0,
                };
                if let Ok(Authn::Granted(_)) = s.authenticate_open(now, token, &authority) {
                    driver.allowed = true;
                    let _ = s.accept_open(media);
                }
            }
        }
        for _ in 0..16 {
            driver.now = now;
            match drain(&mut s, now, &mut driver, &mut out) {
                Ok(Drained::NextEntry) => {
                    entries += 1;
                    let next = Media {
                        continues: entries < 3,
                        ..media
                    };
                    s.next_entry(now, next)
                        .expect("next_entry answers NextEntry"); // oracle assertion: failing here is the finding
                }
                Ok(Drained::Timeout(t)) => {
                    now = t;
                    let _ = s.handle_timeout(now);
                }
                // Paced: asked again once time has moved on (with the
                // next message), a stop or seek may come in between.
                Ok(Drained::NotBefore(_) | Drained::Wait | Drained::Close | Drained::Full) => {
                    break;
                }
                // Well-formed content answered as asked: the machine has
                // no reason to fail (the old oracle's "answering
                // ReadHeader works", for packets too).
                Err(e) => panic!("drain failed on valid content: {e}"), // oracle assertion: failing here is the finding
            }
        }
        let spent = s.udp_stats().resent_bytes;
        // oracle assertion: failing here is the finding (an amplifier)
        assert!(
            spent <= burst + rate * now.0 / 1_000_000,
            "resent {spent} bytes by {now:?}: over the budget"
        );
    }
}

/// A valid 1000-byte single-payload packet with BYTE padding for the
/// `server` target; odd packets start a key frame of stream 2.
fn fuzz_packet(number: u64) -> [u8; 1000] {
    let mut p = [0u8; 1000];
    let send = (number as u32).wrapping_mul(100);
    p[..6].copy_from_slice(&[0x82, 0, 0, 0x08, 0x5D, 100]);
    p[6..10].copy_from_slice(&send.to_le_bytes());
    p[12] = if number % 2 == 1 { 0x82 } else { 0x01 };
    p[13] = number as u8;
    p[18] = 8;
    p[19..23].copy_from_slice(&873u32.to_le_bytes());
    p[23..27].copy_from_slice(&send.wrapping_add(3000).to_le_bytes());
    p
}

/// Target `client`: arbitrary bytes as a server's TCP stream into a client
/// session, some units as the server's datagrams (with UDP asked for) and
/// some as a stranger's. The application reacts as one would: it names the
/// streams after a header, plays, seeks, changes streams, stops, answers a
/// challenge, and time advances to the Header timer and the resend
/// deadlines. Nothing may panic, everything sent on TCP must be one
/// well-formed client message per packet, every datagram a
/// RequestPacketListResend to the server, a stranger's datagram changes
/// nothing, and handed-out data must lie inside the unit it came in.
pub fn client(data: &[u8]) {
    use crate::asf::StreamSet;
    use crate::client::*;
    use crate::time::{Duration, Instant};
    use core::net::{Ipv4Addr, SocketAddr};
    let Some((&knobs, mut rest)) = data.split_first() else {
        return;
    };
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, 1755));
    let config = Config {
        packet_pair: knobs & 1 != 0,
        udp_port: (knobs & 2 != 0).then_some(7000),
        server_udp: Some(server),
        strict: knobs & 4 != 0,
        max_header_len: 64 * 1024,
        follow_playlist: knobs & 0x40 == 0,
        ..Config::default()
    };
    let Ok(mut c) = ClientMachine::new(config, "a/b.wmv", (knobs & 8 != 0).then_some("h:1755"))
    else {
        return;
    };
    let mut now = Instant(0);
    let mut out = [0u8; OUTPUT_BUF_LEN];
    let mut trimmed = [0u8; 16 * 1024];
    for step in 0..96u32 {
        for _ in 0..16 {
            match c.poll_output(now, &mut out) {
                Ok(Output::Transmit(Transmit::Udp { destination, len })) => {
                    assert_eq!(destination, server, "resend requests go to the server");
                    let r = crate::wire::RequestPacketListResendRepr::parse(&out[..len])
                        .expect("a well-formed RequestPacketListResend"); // oracle assertion: failing here is the finding
                    assert_eq!(r.client_id, c.client_id());
                }
                Ok(Output::Transmit(t)) => {
                    let (_, mut msgs) = parse_packet(&out[..t.len()])
                        .expect("the client sends well-formed packets"); // oracle assertion: failing here is the finding
                    let m = msgs.next().expect("one message").expect("that parses"); // oracle assertion: failing here is the finding
                    assert!(!m.id().is_to_client() && msgs.next().is_none());
                }
                Ok(Output::Timeout(t)) => {
                    if step % 7 == 6 {
                        now = t;
                        let _ = c.handle_timeout(now);
                    }
                    break;
                }
                Ok(Output::Wait | Output::Close) => break,
                Err(_) => return,
            }
        }
        let Ok(Status::Complete(f)) = frame(rest, &Limits::default()) else {
            return;
        };
        let (unit, tail) = rest.split_at(f.len());
        rest = tail;
        now = now + Duration::from_millis(1 + unit.len() as u64);
        let range = unit.as_ptr_range();
        let inside = |d: &[u8]| {
            d.is_empty() || (range.contains(&d.as_ptr()) && d.as_ptr_range().end <= range.end)
        };
        if step % 13 == 12 {
            // A stranger's datagram changes nothing.
            let source = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 9), 1755));
            let udp = Input::Udp {
                source,
                contents: unit,
            };
            let phase = c.phase();
            let stats = c.udp_stats();
            assert!(matches!(c.handle_input(now, udp), Ok(None)));
            assert_eq!(c.phase(), phase);
            if c.state() != State::Closed {
                assert_eq!(c.udp_stats().foreign, stats.foreign + 1);
            }
        }
        // A Data unit as the server's datagram when UDP is in place.
        let input = if c.udp_active() && step % 3 != 0 && matches!(f, crate::wire::Frame::Data(_)) {
            Input::Udp {
                source: server,
                contents: unit,
            }
        } else {
            Input::tcp(f, unit)
        };
        match c.handle_input(now, input) {
            Ok(Some(Event::HeaderPiece { data, last, .. })) => {
                assert!(inside(data));
                if last {
                    let all = StreamSet(u128::from(knobs) << 1 | 0b110);
                    c.set_streams(all);
                    let _ = c.select(StreamSet(all.0 & !(u128::from(step) << 2)));
                    let rate = (knobs & 0x10 != 0).then_some(2.0);
                    let _ = c.play(
                        now,
                        &Play {
                            rate,
                            ..Play::default()
                        },
                    );
                }
            }
            Ok(Some(Event::Packet {
                data, location_id, ..
            })) => {
                assert!(inside(data));
                // What the runtime keeps of it: a rewritten packet parses.
                if let Ok(Trimmed::Rewritten(n)) = c.trim(data, &mut trimmed) {
                    assert!(crate::asf::PacketInfo::parse(&trimmed[..n]).is_ok()); // oracle assertion: failing here is the finding
                }
                match location_id % 11 {
                    3 => {
                        let _ = c.play(
                            now,
                            &Play {
                                start: Start::Packet(5),
                                ..Play::default()
                            },
                        );
                    }
                    5 => {
                        let _ = c.select(StreamSet(0b10));
                    }
                    7 => {
                        let _ = c.stop();
                    }
                    9 => {
                        let _ = c.close();
                    }
                    _ => {}
                }
            }
            Ok(Some(Event::SecurityChallenge { token, .. })) => {
                assert!(inside(token));
                // The machine's own answer (Basic credentials, or NTLM over
                // whatever CHALLENGE came), else a raw token.
                let answer = Answer {
                    credentials: crate::auth::Credentials {
                        user: "x",
                        domain: "",
                        secret: crate::auth::Secret::Password("y"),
                    },
                    client_challenge: [7; 8],
                    timestamp: 0,
                };
                if c.answer_challenge(token, &answer).is_err() {
                    let _ = c.respond(b"Basic eDp5");
                }
            }
            Ok(Some(Event::EndOfStream { ready: true, .. })) if knobs & 0x20 != 0 => {
                let _ = c.play(now, &Play::default());
            }
            Ok(_) => {}
            Err(_) => {
                assert_eq!(c.state(), State::Closed, "an error ends the session"); // oracle assertion: failing here is the finding
                return;
            }
        }
    }
}
