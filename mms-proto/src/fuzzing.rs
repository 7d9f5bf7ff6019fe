//! Fuzz oracles: one function per fuzz target, so each target in `mms-fuzz`
//! is one line and saved crashes replay as ordinary tests (feature
//! `oracles`). Every oracle asserts more than "no panic": whatever parses
//! must emit, and what it emits must parse and emit to the same bytes.
//!
//! Not part of the stable API.

use core::fmt::Write as _;

use crate::wire::*;

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
