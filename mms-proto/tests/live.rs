//! Simulation tests of the server machine serving live (broadcast)
//! content ([2.2.2], [3.2.5.11.1], [3.2.4.1], [3.2.4.2]), driven through
//! `server::drain` by a source that is a real file's packets made one run
//! at a time: only packets below `made` exist ([`Fetch::Later`] beyond),
//! those below `oldest` are gone ([`Fetch::Skip`]), and the header is the
//! file's, made a broadcast's with `asf::make_live_header`.

mod common;
use common::msgs::{
    FFMPEG, connect, connect_funnel, open_file, read_block, start_playing, start_striding,
    stop_playing, stream_switch,
};
use common::{Payloads, packet, payload_list, seed, sent_message};
use mms_proto::asf::{HeaderSummary, StreamSet, make_live_header};
use mms_proto::machine::{Input, Transmit, Unit};
use mms_proto::server::*;
use mms_proto::time::Instant;
use mms_proto::wire::*;

/// ff_av.wmv: video (stream 1, key frames starting in packets 0, 3 and 7)
/// and audio (stream 2), 11 packets of 3200 bytes.
const AV: &str = "ff_av.wmv";
/// gst_audio.wma: audio only (stream 1), 3 packets of 4800 bytes; packets 1
/// and 2 begin with the tail of an object started in the packet before.
const AUDIO: &str = "gst_audio.wma";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A live source over a file: its header made a broadcast's, its packets
/// made up to `made`, held from `oldest`.
struct Source {
    header: Vec<u8>,
    packets: Vec<Vec<u8>>,
    made: u64,
    oldest: u64,
    /// Every packet number asked for, in order.
    reads: Vec<u64>,
    /// What the machine sent, in order.
    sent: Vec<(Transmit, Vec<u8>, Sent)>,
}

impl Source {
    fn new(name: &str) -> Self {
        let file = read(name);
        let h = HeaderSummary::parse(&file).unwrap();
        let (len, size) = (h.file_header_len(), h.packet_size as usize);
        let mut header = file[..len].to_vec();
        make_live_header(&mut header).unwrap();
        let packets = (0..h.packet_count as usize)
            .map(|n| file[len + n * size..][..size].to_vec())
            .collect();
        Source {
            header,
            packets,
            made: 0,
            oldest: 0,
            reads: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn media(&self) -> Media {
        Media::live(&HeaderSummary::parse(&self.header).unwrap())
    }
}

impl Driver for Source {
    type Error = std::convert::Infallible;

    fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], Self::Error> {
        Ok(&self.header[offset as usize..(offset + len) as usize])
    }

    fn packet(&mut self, number: u64) -> Result<Fetch<'_>, Self::Error> {
        self.reads.push(number);
        Ok(if number < self.oldest {
            Fetch::Skip(self.oldest)
        } else if number >= self.made {
            Fetch::Later
        } else {
            Fetch::Packet(&self.packets[number as usize])
        })
    }

    fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent) {
        self.sent.push((to, bytes.to_vec(), what));
    }

    fn has_room(&self) -> bool {
        true
    }
}

/// A media Data packet as the client got it.
#[derive(Debug)]
struct Got {
    location_id: u32,
    incarnation: u8,
    payloads: Payloads,
}

/// What one drain sent.
#[derive(Debug)]
struct Drawn {
    msgs: Vec<Message<'static>>,
    header: Vec<Vec<u8>>,
    packets: Vec<Got>,
    why: Drained,
}

impl Drawn {
    fn location_ids(&self) -> Vec<u32> {
        self.packets.iter().map(|p| p.location_id).collect()
    }
}

struct Live {
    s: ServerMachine,
    src: Source,
    now: Instant,
    seq: u16,
    /// Everything the client sent (a fuzz seed for `server`: the path
    /// starts with `l`, which the oracle serves live).
    input: Vec<u8>,
}

impl Live {
    fn new(name: &str) -> Self {
        Live {
            // Paced, as mms-server runs: live packets must go anyway.
            s: ServerMachine::new(Config::default(), 0x11FE_0001),
            src: Source::new(name),
            now: Instant(5_000_000),
            seq: 0,
            input: Vec::new(),
        }
    }

    /// Sends one client message; returns the events, as their Debug.
    fn send(&mut self, msg: Vec<u8>) -> Vec<String> {
        self.try_send(msg).unwrap()
    }

    fn try_send(&mut self, msg: Vec<u8>) -> Result<Vec<String>, ServerError> {
        let p = packet(self.seq, 0, &msg);
        self.seq += 1;
        self.input.extend_from_slice(&p);
        seed("server", &self.input);
        let ev = self
            .s
            .handle_input(self.now, Input::Tcp(Unit::Command(&p)))?;
        Ok(ev.iter().map(|e| format!("{e:?}")).collect())
    }

    /// One drain at `now` (the clock does not move: live packets are not
    /// paced).
    fn drain(&mut self) -> Drawn {
        let mut buf = vec![0u8; 64 * 1024];
        let why = drain(&mut self.s, self.now, &mut self.src, &mut buf).unwrap();
        assert!(
            !matches!(why, Drained::NotBefore(_)),
            "live packets go when they exist, never at their Send Time"
        );
        let mut d = Drawn {
            msgs: Vec::new(),
            header: Vec::new(),
            packets: Vec::new(),
            why,
        };
        for (to, bytes, what) in self.src.sent.drain(..) {
            assert!(matches!(to, Transmit::Tcp(_)));
            match what {
                Sent::Message => d.msgs.push(sent_message(bytes)),
                Sent::HeaderPiece => d.header.push(bytes),
                Sent::Packet { number, .. } => {
                    let v = DataPacket::new_checked(&bytes[..]).unwrap();
                    let r = DataPacketRepr::parse(&v).unwrap();
                    assert_eq!(u64::from(r.location_id), number);
                    d.packets.push(Got {
                        location_id: r.location_id,
                        incarnation: r.play_incarnation,
                        payloads: payload_list(r.payload),
                    });
                }
                other => panic!("{other:?} on a TCP session"),
            }
        }
        d
    }

    /// Connect, ConnectFunnel, OpenFile (accepted as live), ReadBlock, the
    /// header: READY. Returns what ReadBlock brought.
    fn ready(name: &str) -> (Self, Drawn) {
        let mut l = Live::new(name);
        l.send(connect(FFMPEG, 0));
        l.send(connect_funnel("\\\\1.2.3.4\\TCP\\1"));
        assert!(l.send(open_file("live/channel", 1))[0].starts_with("OpenRequest"));
        let media = l.src.media();
        l.s.accept_open(media).unwrap();
        l.send(read_block(1, 2));
        let d = l.drain();
        assert_eq!(l.s.phase(), Phase::Ready);
        (l, d)
    }

    /// StartPlaying from "the start" as FFmpeg sends it: a join.
    fn join(&mut self, incarnation: u32) {
        let ev = self.send(start_playing(0.0, !0, incarnation));
        assert_eq!(ev, ["JoinLive"]);
        assert_eq!(self.s.phase(), Phase::SeekPending);
    }
}

fn video_and_audio() -> Vec<u8> {
    stream_switch(&[(0xFFFF, 1, 0), (0xFFFF, 2, 0)])
}

/// The messages of a drain, but for the Data it sent.
fn started(msgs: &[Message<'_>]) -> Vec<(HResult, u32)> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::ReportStartedPlaying(r) => Some((r.hr, r.play_incarnation)),
            _ => None,
        })
        .collect()
}

/// Checks every stream of `streams` starts cleanly in `packets`: its first
/// payload sent is at offset 0 of its object, and a key frame for those in
/// `video`. Returns the LocationId where each starts.
fn starts_cleanly(packets: &[Got], streams: StreamSet, video: StreamSet) -> Vec<(u8, u32)> {
    let mut seen = StreamSet::EMPTY;
    let mut starts = Vec::new();
    for p in packets {
        for &(stream, key, object, offset, _) in &p.payloads {
            assert!(streams.contains(stream), "stream {stream} not selected");
            if seen.contains(stream) {
                continue;
            }
            seen.insert(stream);
            starts.push((stream, p.location_id));
            assert_eq!(
                offset, 0,
                "stream {stream} starts mid-object ({object} at {offset}) in {}",
                p.location_id
            );
            if video.contains(stream) {
                assert!(key, "video stream {stream} starts without a key frame");
            }
        }
    }
    assert_eq!(seen, streams, "every selected stream started: {packets:?}");
    starts
}

fn set(streams: &[u8]) -> StreamSet {
    streams.iter().fold(StreamSet::EMPTY, |s, &n| s.with(n))
}

#[test]
fn report_open_file_of_live_media_is_a_broadcast() {
    // [2.2.4.7]: a broadcast has BROADCAST | LIVE, no duration or count, and
    // can neither seek nor stride — though the file it is made from can.
    let file = read(AV);
    let as_file = HeaderSummary::parse(&file).unwrap();
    assert!(as_file.is_seekable() && as_file.packet_count == 11);
    let (l, d) = Live::ready(AV);
    // Accepted, then ReadBlock: ReportOpenFile went out in the same drain.
    let open = d
        .msgs
        .iter()
        .find_map(|m| match m {
            Message::ReportOpenFile(o) => Some(*o),
            _ => None,
        })
        .expect("ReportOpenFile");
    let a = open.file_attributes;
    assert_eq!(open.hr, HResult::S_OK);
    assert_eq!(
        a & (FILE_ATTRIBUTE_MMS_BROADCAST | FILE_ATTRIBUTE_MMS_LIVE),
        FILE_ATTRIBUTE_MMS_BROADCAST | FILE_ATTRIBUTE_MMS_LIVE,
        "{a:#x}"
    );
    assert_eq!(
        a & (FILE_ATTRIBUTE_MMS_CANSEEK | FILE_ATTRIBUTE_MMS_CANSTRIDE),
        0,
        "{a:#x}"
    );
    assert_eq!(open.file_duration, 0.0);
    assert_eq!(open.file_packet_count, 0);
    assert_eq!(open.file_packet_size, 3200);
    assert_eq!(open.file_header_size as usize, l.src.header.len());
    // The header sent is the broadcast's, whole.
    let header: Vec<u8> = d
        .header
        .iter()
        .flat_map(|b| {
            let v = DataPacket::new_checked(&b[..]).unwrap();
            DataPacketRepr::parse(&v).unwrap().payload.to_vec()
        })
        .collect();
    assert_eq!(header, l.src.header);
    let h = HeaderSummary::parse(&header).unwrap();
    assert!(h.is_broadcast() && !h.is_seekable() && h.packet_count == 0);
}

#[test]
fn a_join_starts_at_the_packet_given_and_every_stream_cleanly() {
    // Joining at 4: packet 4 begins with the tail of the key frame started
    // in 3 (key flag, offset 1028) and a delta frame; the video starts at
    // the key frame of 7, the audio at once (its objects start at 0).
    let (mut l, _) = Live::ready(AV);
    l.src.made = 11;
    l.send(video_and_audio());
    l.join(3);
    assert_eq!(l.s.selected_streams(), set(&[1, 2]));
    l.s.seek_to(l.now, 4).unwrap();
    let d = l.drain();
    assert_eq!(started(&d.msgs), [(HResult::S_OK, 3)]);
    assert_eq!(
        d.location_ids(),
        [4, 5, 6, 7, 8, 9, 10],
        "the virtual file counts on"
    );
    assert!(d.packets.iter().all(|p| p.incarnation == 3));
    assert_eq!(
        starts_cleanly(&d.packets, set(&[1, 2]), set(&[1])),
        [(2, 4), (1, 7)]
    );
    // Everything of stream 1 before the key frame of 7 was dropped, and
    // nothing from it on.
    let video_objects: Vec<u32> = d
        .packets
        .iter()
        .flat_map(|p| p.payloads.iter().filter(|q| q.0 == 1).map(|q| q.2))
        .collect();
    assert_eq!(video_objects[0], 21);
    assert_eq!(
        video_objects.len(),
        1 + 3 + 4 + 3,
        "7: 21; 8: 21..23; 9: 24..27; 10: 28..30"
    );
    // Then the read of 11 waits for the source.
    assert_eq!(l.src.reads.last(), Some(&11));
    assert!(matches!(d.why, Drained::Wait | Drained::Timeout(_)));
    assert!(l.s.live_waiting());
}

#[test]
fn with_video_alone_selected_packets_left_empty_are_not_sent() {
    // LocationIds have gaps only where nothing selected was left: 4..6
    // hold no key frame start of stream 1.
    let (mut l, _) = Live::ready(AV);
    l.src.made = 11;
    l.send(stream_switch(&[(0xFFFF, 1, 0)]));
    l.join(1);
    assert_eq!(l.s.selected_streams(), set(&[1]));
    l.s.seek_to(l.now, 4).unwrap();
    let d = l.drain();
    assert_eq!(d.location_ids(), [7, 8, 9, 10]);
    starts_cleanly(&d.packets, set(&[1]), set(&[1]));
    assert_eq!(l.src.reads, [4, 5, 6, 7, 8, 9, 10, 11]);
}

#[test]
fn audio_alone_does_not_start_mid_object() {
    // gst_audio.wma's packet 1 begins with the end of object 23: a join
    // there drops it and starts at object 24; packet 2's first payload (the
    // end of an object begun in 1, which went out) is kept.
    let (mut l, _) = Live::ready(AUDIO);
    l.src.made = 3;
    let all = payload_list(&l.src.packets[1]);
    assert_ne!(all[0].3, 0, "packet 1 begins mid-object");
    let tail = payload_list(&l.src.packets[2]);
    assert_ne!(tail[0].3, 0, "packet 2 too");
    l.send(stream_switch(&[(0xFFFF, 1, 0)]));
    l.join(2);
    l.s.seek_to(l.now, 1).unwrap();
    let d = l.drain();
    assert_eq!(d.location_ids(), [1, 2]);
    starts_cleanly(&d.packets, set(&[1]), StreamSet::EMPTY);
    assert_eq!(d.packets[0].payloads.len(), all.len() - 1);
    assert_eq!(d.packets[0].payloads[0].2, all[1].2);
    assert_eq!(d.packets[1].payloads.len(), tail.len(), "then all of it");
    assert!(l.s.live_waiting());
}

#[test]
fn a_packet_not_made_yet_waits_then_goes_at_once_without_pacing() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 2;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    let d = l.drain();
    assert_eq!(d.location_ids(), [0, 1]);
    assert!(matches!(d.why, Drained::Wait | Drained::Timeout(_)));
    assert!(l.s.live_waiting());
    assert_eq!(l.src.reads, [0, 1, 2]);
    // Waiting: nothing is sent, nothing asked again, however often driven —
    // even once the packets exist, until the runtime says so.
    for made in [2, 11] {
        l.src.made = made;
        let d = l.drain();
        assert!(d.packets.is_empty() && d.msgs.is_empty() && d.header.is_empty());
        assert!(l.s.live_waiting());
        assert_eq!(l.src.reads, [0, 1, 2]);
    }
    // The source made them: they all go now, though their Send Times run
    // 2.6 s past the play's start and the clock has not moved.
    l.s.live_ready();
    assert!(!l.s.live_waiting());
    let d = l.drain();
    assert_eq!(d.location_ids(), (2..11).collect::<Vec<_>>());
    let last = &l.src.packets[10];
    assert!(mms_proto::asf::PacketInfo::parse(last).unwrap().send_time > 2_000);
    assert!(l.s.live_waiting(), "and waits for 11");
    // live_ready with nothing new: asked once more, waits again.
    l.s.live_ready();
    let d = l.drain();
    assert!(d.packets.is_empty());
    assert_eq!(l.src.reads.iter().filter(|&&n| n == 11).count(), 2);
    assert!(l.s.live_waiting());
}

#[test]
fn a_listener_behind_the_buffer_skips_ahead_and_starts_cleanly_again() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 2;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    assert_eq!(l.drain().location_ids(), [0, 1]);
    // While it waited the source went on and let 2..4 go.
    l.src.made = 11;
    l.src.oldest = 5;
    l.s.live_ready();
    let d = l.drain();
    assert_eq!(&l.src.reads[3..5], [2, 5], "2 is gone: the play jumps to 5");
    assert_eq!(d.location_ids(), [5, 6, 7, 8, 9, 10]);
    // 5 and 6 hold delta frames (objects 13..20) whose key frame was not
    // sent: video starts again at 7's key frame; audio at once.
    assert_eq!(
        starts_cleanly(&d.packets, set(&[1, 2]), set(&[1])),
        [(2, 5), (1, 7)]
    );
    assert!(started(&d.msgs).is_empty(), "the same play goes on");
}

#[test]
fn a_join_behind_the_buffer_skips_to_its_oldest_packet() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 11;
    l.src.oldest = 3;
    l.send(stream_switch(&[(0xFFFF, 1, 0)]));
    l.join(3);
    l.s.seek_to(l.now, 1).unwrap();
    let d = l.drain();
    assert_eq!(&l.src.reads[..2], [1, 3]);
    // 3 ends with the start of key frame 11.
    assert_eq!(d.location_ids(), [3, 4, 5, 6, 7, 8, 9, 10]);
    starts_cleanly(&d.packets, set(&[1]), set(&[1]));
}

#[test]
fn a_time_seek_or_a_stride_is_refused_at_once_and_changes_nothing() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 3;
    l.send(video_and_audio());
    // READY: refused, still READY.
    assert!(l.send(start_playing(5.0, !0, 3)).is_empty());
    let d = l.drain();
    assert_eq!(started(&d.msgs), [(HResult::E_NOTIMPL, 3)]);
    assert_eq!(HResult::E_NOTIMPL, HResult(0x8000_4001));
    assert!(d.packets.is_empty());
    assert_eq!(l.s.phase(), Phase::Ready);
    assert!(l.send(start_striding(!0, 2.0, 4)).is_empty());
    let d = l.drain();
    let strides: Vec<_> = d
        .msgs
        .iter()
        .filter_map(|m| match m {
            Message::ReportStartStriding(r) => Some((r.hr, r.play_incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(strides, [(HResult::E_NOTIMPL, 4)]);
    assert!(d.packets.is_empty());
    assert_eq!(l.s.phase(), Phase::Ready);
    // No stall: a plain StartPlaying joins.
    l.join(5);
    l.s.seek_to(l.now, 0).unwrap();
    let d = l.drain();
    assert_eq!(started(&d.msgs), [(HResult::S_OK, 5)]);
    assert_eq!(d.location_ids(), [0, 1, 2]);
    assert!(l.s.live_waiting());
    // STREAMING, waiting for the source: refused again, and the play goes
    // on as it was (same incarnation, same wait).
    assert!(l.send(start_playing(5.0, !0, 6)).is_empty());
    assert!(l.send(start_striding(!0, -1.0, 7)).is_empty());
    let d = l.drain();
    assert_eq!(started(&d.msgs), [(HResult::E_NOTIMPL, 6)]);
    assert_eq!(d.msgs.len(), 2, "{:?}", d.msgs);
    assert!(d.packets.is_empty());
    assert_eq!(l.s.phase(), Phase::Streaming);
    assert!(l.s.live_waiting());
    l.src.made = 5;
    l.s.live_ready();
    let d = l.drain();
    assert_eq!(d.location_ids(), [3, 4]);
    assert!(d.packets.iter().all(|p| p.incarnation == 5));
}

#[test]
fn a_new_header_ends_the_play_and_changes_entries_like_a_playlist() {
    let (mut l, _) = Live::ready(AV);
    // Not playing yet: the session cannot be told.
    assert_eq!(l.s.live_change(l.now), Ok(false));
    assert_eq!(l.s.phase(), Phase::Ready);
    l.src.made = 3;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    assert_eq!(l.drain().location_ids(), [0, 1, 2]);
    assert!(l.s.live_waiting());
    // The source restarted with other streams (audio only).
    assert_eq!(l.s.live_change(l.now), Ok(true));
    assert!(!l.s.live_waiting());
    let d = l.drain();
    let ends: Vec<_> = d
        .msgs
        .iter()
        .filter_map(|m| match m {
            Message::ReportEndOfStream(e) => Some((e.hr, e.play_incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [(HResult(1), 3)], "a ReportStreamChange follows");
    assert!(d.packets.is_empty());
    assert_eq!(d.why, Drained::NextEntry);
    // Asked again (not twice told).
    assert_eq!(l.s.live_change(l.now), Ok(true));
    assert!(l.drain().msgs.is_empty());
    l.src = Source::new(AUDIO);
    l.src.made = 3;
    let media = l.src.media();
    l.s.next_entry(l.now, media).unwrap();
    let d = l.drain();
    let Some(Message::ReportStreamChange(c)) = d.msgs.first() else {
        panic!("{:?}", d.msgs)
    };
    assert_eq!(
        (c.tcp_hdr_incarnation, c.header_size, c.packet_size),
        (0xFF, l.src.header.len() as u32, 4800)
    );
    let header: Vec<u8> = d
        .header
        .iter()
        .flat_map(|b| {
            let v = DataPacket::new_checked(&b[..]).unwrap();
            let r = DataPacketRepr::parse(&v).unwrap();
            assert_eq!(r.play_incarnation, 0xFF);
            r.payload.to_vec()
        })
        .collect();
    assert_eq!(header, l.src.header, "the new header's pieces");
    assert!(d.packets.is_empty());
    assert_eq!(l.s.phase(), Phase::Ready, "waits for the client");
    assert_eq!(
        l.s.selected_streams(),
        set(&[1]),
        "the new header's streams"
    );
    // The client selects the new streams and plays: it joins again.
    l.send(stream_switch(&[(0xFFFF, 1, 0)]));
    l.join(4);
    l.s.seek_to(l.now, 1).unwrap();
    let d = l.drain();
    assert_eq!(started(&d.msgs), [(HResult::S_OK, 4)]);
    assert_eq!(d.location_ids(), [1, 2]);
    starts_cleanly(&d.packets, set(&[1]), StreamSet::EMPTY);
    assert!(d.packets.iter().all(|p| p.incarnation == 4));
    // Between plays (stopped): Ok(false) again.
    l.send(stop_playing(4));
    l.drain();
    assert_eq!(l.s.live_change(l.now), Ok(false));
}

#[test]
fn the_end_of_the_source_ends_the_stream() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 2;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    assert_eq!(l.drain().location_ids(), [0, 1]);
    l.s.end_of_content(l.now).unwrap();
    let d = l.drain();
    let ends: Vec<_> = d
        .msgs
        .iter()
        .filter_map(|m| match m {
            Message::ReportEndOfStream(e) => Some((e.hr, e.play_incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(ends, [(HResult::S_OK, 3)]);
    assert_eq!(l.s.phase(), Phase::Ready);
    assert!(!l.s.live_waiting());
    // Nothing more is read.
    l.src.made = 11;
    l.s.live_ready();
    assert!(l.drain().packets.is_empty());
    assert_eq!(l.src.reads, [0, 1, 2]);
}

#[test]
fn live_calls_out_of_place_are_errors_not_panics() {
    // On a file.
    let file = read(AV);
    let mut s = ServerMachine::new(Config::default(), 9);
    let now = Instant(1_000);
    let p = |seq, m: Vec<u8>| packet(seq, 0, &m);
    for (i, m) in [
        connect(FFMPEG, 0),
        connect_funnel("\\\\1.2.3.4\\TCP\\1"),
        open_file("file.wmv", 1),
    ]
    .into_iter()
    .enumerate()
    {
        s.handle_input(now, Input::Tcp(Unit::Command(&p(i as u16, m))))
            .unwrap();
    }
    s.accept_open(Media::from_summary(&HeaderSummary::parse(&file).unwrap()))
        .unwrap();
    assert!(matches!(s.live_wait(0), Err(ServerError::Misuse(_))));
    assert!(matches!(
        s.live_skip(now, 0, 5),
        Err(ServerError::Misuse(_))
    ));
    assert!(matches!(s.live_change(now), Err(ServerError::Misuse(_))));
    s.live_ready(); // harmless
    assert!(!s.live_waiting());

    // On live content, without a matching read.
    let (mut l, _) = Live::ready(AV);
    let now = l.now;
    assert!(matches!(l.s.live_wait(0), Err(ServerError::Misuse(_))));
    assert!(matches!(
        l.s.live_skip(now, 0, 3),
        Err(ServerError::Misuse(_))
    ));
    l.send(video_and_audio());
    l.join(3);
    // SeekPending: no read yet.
    assert!(l.s.live_wait(0).is_err());
    l.s.seek_to(now, 2).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    // The replies, then the read of 2.
    let read = loop {
        match l.s.poll_output(now, &mut buf).unwrap() {
            Output::Transmit(_) => continue,
            other => break other,
        }
    };
    assert_eq!(read, Output::ReadPacket { number: 2 });
    assert!(l.s.live_wait(3).is_err(), "another packet");
    assert!(l.s.live_skip(now, 3, 5).is_err(), "another packet");
    assert!(l.s.live_skip(now, 2, 2).is_err(), "not ahead");
    assert!(l.s.live_skip(now, 2, 1).is_err(), "behind");
    // The read is still the one outstanding: answered properly, it works.
    l.s.live_wait(2).unwrap();
    assert!(l.s.live_waiting());
    assert!(l.s.live_wait(2).is_err(), "answered once");
    assert!(l.s.live_skip(now, 2, 4).is_err(), "no read outstanding");
    l.src.made = 11;
    l.s.live_ready();
    assert_eq!(l.drain().location_ids(), (2..11).collect::<Vec<_>>());

    // A driver that skips backwards: the drain fails, it does not panic.
    let (mut l, _) = Live::ready(AV);
    l.src.made = 11;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    struct Backwards<'a>(&'a mut Source);
    impl Driver for Backwards<'_> {
        type Error = std::convert::Infallible;
        fn header(&mut self, offset: u32, len: u32) -> Result<&[u8], Self::Error> {
            self.0.header(offset, len)
        }
        fn packet(&mut self, number: u64) -> Result<Fetch<'_>, Self::Error> {
            Ok(if number == 4 {
                Fetch::Skip(2)
            } else {
                self.0.packet(number)?
            })
        }
        fn transmit(&mut self, to: Transmit, bytes: &[u8], what: Sent) {
            self.0.transmit(to, bytes, what);
        }
        fn has_room(&self) -> bool {
            true
        }
    }
    let r = drain(&mut l.s, l.now, &mut Backwards(&mut l.src), &mut buf);
    assert!(
        matches!(r, Err(DriveError::Machine(ServerError::Misuse(_)))),
        "{r:?}"
    );
}

#[test]
fn a_stop_while_waiting_forgets_the_wait() {
    let (mut l, _) = Live::ready(AV);
    l.src.made = 1;
    l.send(video_and_audio());
    l.join(3);
    l.s.seek_to(l.now, 0).unwrap();
    assert_eq!(l.drain().location_ids(), [0]);
    assert!(l.s.live_waiting());
    l.send(stop_playing(3));
    assert!(!l.s.live_waiting());
    let d = l.drain();
    assert!(
        d.msgs
            .iter()
            .any(|m| matches!(m, Message::ReportEndOfStream(e) if e.hr == HResult::S_OK))
    );
    // A new join reads where it is told, at once.
    l.src.made = 11;
    l.join(4);
    l.s.seek_to(l.now, 7).unwrap();
    let d = l.drain();
    assert_eq!(d.location_ids(), [7, 8, 9, 10]);
    starts_cleanly(&d.packets, set(&[1, 2]), set(&[1]));
}

#[test]
fn what_a_clean_start_needs_follows_the_selection() {
    let (mut l, _) = Live::ready(AV);
    let summary = mms_proto::asf::HeaderSummary::parse(&l.src.header).unwrap();
    let video = summary
        .streams
        .iter()
        .find(|s| s.kind == mms_proto::asf::StreamKind::Video)
        .map(|s| s.number)
        .unwrap();
    let audio = 3 - video;
    // No StreamSwitch yet: every stream, video by key frame, audio by object.
    assert_eq!(l.s.clean_start_needs(), (set(&[video]), set(&[audio])));
    l.send(stream_switch(&[(0xFFFF, u16::from(audio), 0)]));
    assert_eq!(l.s.clean_start_needs(), (StreamSet::EMPTY, set(&[audio])));
}
