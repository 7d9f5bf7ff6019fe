//! Client messages as real clients send them, built from their Reprs
//! (the simulations of the server machine: tests/server.rs, tests/live.rs).

use mms_proto::wire::*;

/// FFmpeg's subscriberName.
pub const FFMPEG: &str =
    "NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1";

/// A client message's bytes, built from its Repr.
pub fn msg<'a>(m: impl Into<Message<'a>>) -> Vec<u8> {
    let m = m.into();
    let mut buf = vec![0u8; m.buffer_len()];
    m.emit(&mut buf).unwrap();
    buf
}

/// [2.2.4.17] Connect with `subscriber_name`.
pub fn connect(subscriber_name: &str, play_incarnation: u32) -> Vec<u8> {
    msg(ConnectRepr::new(
        play_incarnation,
        Utf16Str::Str(subscriber_name),
    ))
}

/// [2.2.4.18] ConnectFunnel as FFmpeg sends it.
pub fn connect_funnel(funnel_name: &str) -> Vec<u8> {
    msg(ConnectFunnelRepr {
        play_incarnation: 0,
        max_block_bytes: !0,
        max_funnel_bytes: 0,
        max_bit_rate: 0x0098_9680,
        funnel_mode: 2,
        funnel_name: Utf16Str::Str(funnel_name),
    })
}

/// [2.2.4.23] ReadBlock with the values the spec prescribes.
pub fn read_block(open_file_id: u32, play_incarnation: u32) -> Vec<u8> {
    msg(ReadBlockRepr::new(open_file_id, play_incarnation))
}

pub fn funnel_info() -> Vec<u8> {
    // FFmpeg's: playIncarnation 0x00F0F0F0 and 0x0004000B in the padding.
    let mut m = msg(FunnelInfoRepr {
        play_incarnation: 0x00F0_F0F0,
    });
    m[12..16].copy_from_slice(&0x0004_000Bu32.to_le_bytes());
    m
}

pub fn open_file(name: &str, incarnation: u32) -> Vec<u8> {
    msg(OpenFileRepr {
        play_incarnation: incarnation,
        spare: !0,
        file_name: Utf16Str::Str(name),
        token_data: &[],
    })
}

pub fn close_file() -> Vec<u8> {
    msg(CloseFileRepr {
        play_incarnation: 1,
        open_file_id: 1,
    })
}

/// [2.2.4.27] StopPlaying of `incarnation` (VLC sends 0x001FFFFF).
pub fn stop_playing(incarnation: u32) -> Vec<u8> {
    msg(StopPlayingRepr {
        open_file_id: 1,
        play_incarnation: incarnation,
    })
}

pub fn stream_switch(entries: &[(u16, u16, u16)]) -> Vec<u8> {
    let entries: Vec<StreamSwitchEntry> = entries
        .iter()
        .map(|&(src, dst, thinning)| StreamSwitchEntry {
            src_stream_number: src,
            dst_stream_number: dst,
            thinning_level: thinning,
        })
        .collect();
    msg(StreamSwitchRepr {
        entries: StreamSwitchEntries::Slice(&entries),
    })
}

/// StartPlaying as FFmpeg / VLC / libmms send it, stopping at
/// `frame_offset` (libmms's 0x00FFFFFF: the end).
pub fn start_playing_until(location_id: u32, frame_offset: u32, incarnation: u32) -> Vec<u8> {
    start_playing_at(0.0, location_id, frame_offset, incarnation, None)
}

pub fn start_playing(position: f64, location_id: u32, incarnation: u32) -> Vec<u8> {
    start_playing_at(position, location_id, 0x00FF_FFFF, incarnation, None)
}

pub fn start_playing_at(
    position: f64,
    location_id: u32,
    frame_offset: u32,
    incarnation: u32,
    acceleration: Option<Acceleration>,
) -> Vec<u8> {
    msg(StartPlayingRepr {
        open_file_id: 1,
        padding: 0x0001_FFFF,
        position,
        asf_offset: !0,
        location_id,
        frame_offset,
        play_incarnation: incarnation,
        acceleration,
    })
}

pub fn start_striding(location_id: u32, rate: f64, incarnation: u32) -> Vec<u8> {
    msg(StartStridingRepr {
        open_file_id: 1,
        padding: 0,
        position: 0.0,
        asf_offset: !0,
        location_id,
        frame_offset: 0,
        play_incarnation: incarnation,
        rate,
    })
}
