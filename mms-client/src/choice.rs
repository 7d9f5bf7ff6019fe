//! Which streams a session receives ([`StreamChoice`], applied to each
//! header) and how they are described ([`StreamDesc`]).

use mms_proto::asf::{HeaderSummary, Preferences, StreamSet, select_streams};

use crate::Error;

/// Which streams to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChoice {
    /// Every stream of the header.
    All,
    /// These stream numbers (others off).
    Only(Vec<u8>),
    /// One stream per mutual-exclusion group: the best that fits
    /// `max_bitrate` (all of them fit when `None`), preferring `language`.
    Best {
        /// Bandwidth to fit, bit/s.
        max_bitrate: Option<u32>,
        /// Preferred language (`en`, `fr-CA`, …).
        language: Option<String>,
    },
    /// As [`StreamChoice::Best`], under the bandwidth the packet-pair
    /// measures ([3.1.5.4], [4.4.1]; asked for whatever
    /// [`Options::packet_pair`](crate::Options::packet_pair) says): all
    /// fit when none is measured.
    Measured {
        /// Preferred language.
        language: Option<String>,
    },
}

/// One stream of the header, for display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamDesc {
    /// Stream number.
    pub number: u8,
    /// `audio`, `video`, `command`, … .
    pub kind: String,
    /// Codec: a WAVEFORMATEX tag name or a FOURCC.
    pub codec: String,
    /// Bit rate, bit/s.
    pub bit_rate: u32,
    /// Language, if the header names one.
    pub language: Option<String>,
}

/// The streams `choice` names in the header `h`; `bandwidth` is the
/// packet-pair's, for [`StreamChoice::Measured`].
pub(crate) fn choose(
    h: &HeaderSummary<'_>,
    choice: &StreamChoice,
    bandwidth: Option<u64>,
) -> Result<StreamSet, Error> {
    Ok(match choice {
        StreamChoice::All => h.all_streams(),
        StreamChoice::Only(list) => {
            let mut s = StreamSet::EMPTY;
            for &n in list {
                if !h.all_streams().contains(n) {
                    return Err(Error::Misuse("no such stream in the header"));
                }
                s.insert(n);
            }
            s
        }
        StreamChoice::Measured { language } => select_streams(
            h,
            &Preferences {
                max_bitrate: bandwidth.map(|b| b.min(u32::MAX as u64) as u32),
                language: language.as_deref(),
            },
        ),
        StreamChoice::Best {
            max_bitrate,
            language,
        } => select_streams(
            h,
            &Preferences {
                max_bitrate: *max_bitrate,
                language: language.as_deref(),
            },
        ),
    })
}

/// Every stream of the header, for display.
pub(crate) fn describe(h: &HeaderSummary<'_>) -> Vec<StreamDesc> {
    h.streams
        .iter()
        .map(|s| StreamDesc {
            number: s.number,
            kind: format!("{:?}", s.kind).to_lowercase(),
            codec: codec_name(s.codec),
            bit_rate: s.bitrate,
            language: s
                .language_index
                .and_then(|i| h.language(i))
                .map(|l| l.to_string_lossy()),
        })
        .collect()
}

fn codec_name(c: mms_proto::asf::Codec) -> String {
    use mms_proto::asf::Codec;
    match c {
        Codec::Audio(0x0161) => "WMA2".into(),
        Codec::Audio(0x0160) => "WMA1".into(),
        Codec::Audio(0x0162) => "WMA Pro".into(),
        Codec::Audio(0x0163) => "WMA Lossless".into(),
        Codec::Audio(0x000A) => "WMA Voice".into(),
        Codec::Audio(0x0055) => "MP3".into(),
        Codec::Audio(0x0001) => "PCM".into(),
        Codec::Audio(t) => format!("audio 0x{t:04X}"),
        Codec::Video(f) => String::from_utf8_lossy(&f).into_owned(),
        Codec::Unknown => "-".into(),
    }
}
