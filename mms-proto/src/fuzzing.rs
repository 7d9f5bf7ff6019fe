//! Fuzz oracles: one function per fuzz target, so each target in `mms-fuzz`
//! is one line and saved crashes replay as ordinary tests (feature
//! `oracles`). Every oracle asserts more than "no panic": whatever parses
//! must emit, and what it emits must parse and emit to the same bytes.
//!
//! Not part of the stable API.

use core::fmt::Write as _;

use crate::wire::*;

mod auth;
mod machines;

pub use auth::{basic_credentials, ntlm_authenticate, ntlm_challenge, ntlm_token};
pub use machines::{client, server};

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
            from_object_start: StreamSet(((pick as u128 >> 5) & 1) << 1),
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
