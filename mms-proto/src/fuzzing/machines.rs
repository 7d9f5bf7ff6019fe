//! The machine targets: `server` (a client's TCP stream and datagrams into
//! a server session) and `client` (a server's stream into a client
//! session), each driving its machine as its runtime would.

use crate::wire::*;

/// Target `server`: arbitrary bytes as a client's TCP stream and datagrams
/// into a server session with UDP delivery on (a unit starting 0xDD is a
/// datagram: a flag byte — bit 0: from a stranger — a 16-bit length, the
/// bytes); authentication is on (NTLM, and Basic for clients of 8 and
/// later; user `alice`, password `secret`): a path starting with `p` needs
/// identification, every other OpenRequest is accepted, header reads are
/// answered, time advances (a millisecond a byte, through waits of up to a
/// second, and to the next deadline on a unit `EF`). Nothing may panic, the run-loop contract kept
/// by [`crate::server::drain`] is never reported broken, everything sent
/// must frame and parse, no datagram goes anywhere but the TCP peer,
/// resent bytes never exceed the budget, and nothing of the content goes
/// out for a protected open before its credentials were granted.
///
/// A path starting with `l` is served live ([`crate::server::Media::live`]):
/// packets exist from `oldest` to below `made` (6 at the open), others are
/// [`crate::server::Fetch::Skip`] / [`crate::server::Fetch::Later`], and a
/// JoinLive is answered with `seek_to` some packets behind `made`. A unit
/// `EE ctl` is the source's doing: bits 0–1 make 0, 1, 3 or 8 packets,
/// bit 2 lets all but the newest go, bit 3 is `live_ready`, bit 4
/// `live_change` (a new header: the next entry is live again), bit 5
/// `end_of_content`, bits 6–7 how far behind `made` the next join starts
/// (0, 1, 4 or 32). Live, a read that waits is not asked again before
/// `live_ready`, nothing is paced (no [`crate::server::Drained::NotBefore`]),
/// and the live calls never fail; on other content they always do.
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
        streams: crate::asf::StreamSet::EMPTY.with(1).with(2),
        live: false,
    };
    let live_media = Media {
        attributes: crate::wire::FILE_ATTRIBUTE_MMS_BROADCAST
            | crate::wire::FILE_ATTRIBUTE_MMS_LIVE,
        duration_ms: 0,
        packet_count: 0,
        continues: false,
        live: true,
        ..media
    };
    /// Zeros for the header, [`fuzz_packet`] for packets (live: from a
    /// source that made `oldest..made`); keeps UDP copies; checks what goes
    /// out; always has room.
    struct Fuzz {
        zeros: [u8; 1000],
        packet: [u8; 1000],
        ring: ResendRing<[u8; 8 * 1024]>,
        now: Instant,
        /// The open being served is public, or was granted.
        allowed: bool,
        /// The content served is live.
        live: bool,
        made: u64,
        oldest: u64,
        /// Packet reads answered.
        reads: u64,
    }
    impl Driver for Fuzz {
        type Error = core::convert::Infallible;
        fn header(&mut self, _offset: u32, len: u32) -> Result<&[u8], Self::Error> {
            // len <= the packet size, 1000.
            Ok(&self.zeros[..len as usize])
        }
        fn packet(&mut self, number: u64) -> Result<Fetch<'_>, Self::Error> {
            self.reads += 1;
            if self.live && number < self.oldest {
                return Ok(Fetch::Skip(self.oldest));
            }
            if self.live && number >= self.made {
                return Ok(Fetch::Later);
            }
            self.packet = fuzz_packet(number, self.live);
            Ok(Fetch::Packet(&self.packet))
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
        live: false,
        made: 0,
        oldest: 0,
        reads: 0,
    };
    // How far behind the newest packet a join starts.
    let mut back = 0u64;
    let secret = crate::auth::NtHash::of_password("secret");
    let alice = move |u: &str| (u == "alice").then_some(secret);
    let mut draws = 0u64;
    // The budget at 80 kbit/s and 100%: max(10,000 B/s, 8 KiB/s), a
    // second's burst.
    let (rate, burst) = (10_000u64, 10_000u64);
    let mut rest = data;
    for _ in 0..64 {
        if let [0xEF, tail @ ..] = rest {
            // Time passes to the machine's next deadline.
            rest = tail;
            if let Some(t) = s.poll_timeout() {
                now = now.max(t);
                let _ = s.handle_timeout(now);
            }
        } else if let [0xEE, ctl, tail @ ..] = rest {
            // The live source's doing.
            rest = tail;
            driver.made += [0, 1, 3, 8][usize::from(ctl & 3)];
            if ctl & 4 != 0 {
                driver.oldest = driver.made.saturating_sub(1);
            }
            if ctl & 8 != 0 {
                s.live_ready();
            }
            back = [0, 1, 4, 32][usize::from(ctl >> 6)];
            for (bit, r) in [
                (0x10, ctl & 0x10 != 0 && s.live_change(now).is_ok()),
                (0x20, ctl & 0x20 != 0 && s.end_of_content(now).is_ok()),
            ] {
                if ctl & bit != 0 && driver.live {
                    // oracle assertion: failing here is the finding
                    assert!(r, "a live call failed on live content");
                }
            }
            if !driver.live {
                // oracle assertion: failing here is the finding
                assert!(
                    s.live_change(now).is_err() && s.live_wait(0).is_err(),
                    "a live call accepted on content that is not live"
                );
            }
        } else if let [0xDD, flags, l0, l1, tail @ ..] = rest {
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
                        let first = file_name.units().next();
                        let protected = first == Some(u16::from(b'p'));
                        driver.allowed = !protected;
                        if first == Some(u16::from(b'l')) {
                            if s.accept_open(live_media).is_ok() {
                                driver.live = true;
                                (driver.made, driver.oldest) = (6, 0);
                            }
                            continue;
                        }
                        if !protected {
                            if s.accept_open(media).is_ok() {
                                driver.live = false;
                            }
                            continue;
                        }
                        token
                    }
                    Event::JoinLive => {
                        let _ = s.seek_to(now, driver.made.saturating_sub(back));
                        continue;
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
                    if s.accept_open(media).is_ok() {
                        driver.live = false;
                    }
                }
            }
        }
        for _ in 0..16 {
            driver.now = now;
            let (waiting, reads) = (s.live_waiting(), driver.reads);
            let r = drain(&mut s, now, &mut driver, &mut out);
            if waiting {
                // oracle assertion: failing here is the finding (a busy loop)
                assert_eq!(driver.reads, reads, "a waiting read asked again");
            }
            // oracle assertion: failing here is the finding
            assert!(
                !(driver.live && matches!(r, Ok(Drained::NotBefore(_)))),
                "live content paced"
            );
            match r {
                Ok(Drained::NextEntry) if driver.live => {
                    // A new header from the source.
                    (driver.made, driver.oldest) = (6, 0);
                    s.next_entry(now, live_media)
                        .expect("next_entry answers NextEntry"); // oracle assertion: failing here is the finding
                }
                Ok(Drained::NextEntry) => {
                    entries += 1;
                    let next = Media {
                        continues: entries < 3,
                        ..media
                    };
                    s.next_entry(now, next)
                        .expect("next_entry answers NextEntry"); // oracle assertion: failing here is the finding
                }
                // Short waits (header pacing, the UDP end delay) pass; the
                // long timers (Idle-Timeout, KeepAlive, linger) only on an
                // `EF` unit, else every session would time out at once.
                Ok(Drained::Timeout(t)) if t <= now + Duration::from_secs(1) => {
                    now = t;
                    let _ = s.handle_timeout(now);
                }
                Ok(Drained::Timeout(_)) => break,
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
/// `server` target; odd packets start a key frame of stream 2. `live`:
/// every fourth (2, 6, …) carries the middle of an object of stream 1 (a
/// join there must not start it).
fn fuzz_packet(number: u64, live: bool) -> [u8; 1000] {
    let mut p = [0u8; 1000];
    let send = (number as u32).wrapping_mul(100);
    p[..6].copy_from_slice(&[0x82, 0, 0, 0x08, 0x5D, 100]);
    p[6..10].copy_from_slice(&send.to_le_bytes());
    p[12] = if number % 2 == 1 { 0x82 } else { 0x01 };
    p[13] = number as u8;
    p[18] = 8;
    p[19..23].copy_from_slice(&873u32.to_le_bytes());
    p[23..27].copy_from_slice(&send.wrapping_add(3000).to_le_bytes());
    if live && number % 4 == 2 {
        p[14..18].copy_from_slice(&100u32.to_le_bytes());
        p[19..23].copy_from_slice(&2000u32.to_le_bytes());
    }
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
