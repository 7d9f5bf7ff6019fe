//! What the machine tells the application: [`Event`]s borrowing the unit
//! they came in, the typed [`Redirect`] target and the [`FileInfo`] of
//! ReportOpenFile.

use crate::wire::text::{AuthenPackage, RedirectLocation, Scheme, Version};
use crate::wire::{
    Error, FILE_ATTRIBUTE_MMS_BROADCAST, FILE_ATTRIBUTE_MMS_CANSEEK, FILE_ATTRIBUTE_MMS_CANSTRIDE,
    HResult, REDIRECT_PROXY, REDIRECT_URL, ReportOpenFileRepr, Utf16Str,
};

/// What the application must see or decide; borrows the unit handled.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Event<'p> {
    /// ReportConnectedEX arrived ([3.1.5.3]).
    Connected {
        /// Server-Version (None if the server sent none or junk).
        server_version: Option<Version>,
    },
    /// The TCP packet-pair measured the link ([3.1.5.4]): bit/s, `None`
    /// when the two messages arrived in the same microsecond.
    Bandwidth(Option<u64>),
    /// The server refused UDP; the machine asked for TCP instead
    /// ([3.1.5.5]).
    FellBackToTcp,
    /// ReportRedirect ([3.1.5.7]): the session is over; connect again
    /// where the [`Redirect`] says.
    Redirect(Redirect<'p>),
    /// SecurityChallenge ([3.1.5.8]): answer with
    /// [`ClientMachine::answer_challenge`](super::ClientMachine::answer_challenge)
    /// (or [`ClientMachine::respond`](super::ClientMachine::respond)) or
    /// give up.
    SecurityChallenge {
        /// The Auth-Scheme it implies.
        scheme: AuthenPackage,
        /// pToken (a Basic realm or an NTLM message).
        token: &'p [u8],
        /// It follows credentials this machine sent (pre-emptively or in
        /// an answer), so the server refused them: wrong credentials,
        /// unless other ones are tried.
        refused: bool,
    },
    /// ReportOpenFile ([3.1.5.9]); the header follows.
    Opened(FileInfo),
    /// A piece of the ASF file header, in order ([3.1.5.12]). The first
    /// piece of a header has `first`; the machine is READY after `last`
    /// (the application names the header's streams then:
    /// [`ClientMachine::set_streams`](super::ClientMachine::set_streams)).
    HeaderPiece {
        /// Bytes of the header.
        data: &'p [u8],
        /// The first piece of this header.
        first: bool,
        /// The last piece.
        last: bool,
    },
    /// ReportStreamSwitch ([3.1.5.14]).
    StreamsSwitched,
    /// ReportStartedPlaying / ReportStartStriding: STREAMING.
    Playing,
    /// An ASF data packet ([3.1.5.17]), padding stripped as sent.
    Packet {
        /// LocationId: the packet's number in the content.
        location_id: u32,
        /// The 32-bit Data packet sequence (AFFlags extended).
        sequence: u32,
        /// The ASF data packet.
        data: &'p [u8],
    },
    /// ReportEndOfStream ([3.1.5.18]).
    EndOfStream {
        /// hr: 0 the end, 1 a playlist entry ended (another follows).
        hr: HResult,
        /// The play is over (State is READY); `false`: a playlist's next
        /// entry follows ([`Event::EntryChange`]).
        ready: bool,
        /// It answered this machine's StopPlaying.
        stopped: bool,
    },
    /// ReportStreamChange ([3.1.5.19]): the next playlist entry's header
    /// follows.
    EntryChange {
        /// The entry's number in the session (1 for the second entry).
        entry: u32,
        /// The entry's packet size.
        packet_size: u32,
        /// Its header size.
        header_size: u32,
        /// Its bit rate.
        bit_rate: u32,
    },
}

/// Where a ReportRedirect sends the client ([3.1.5.7]), as parts the
/// runtime connects to directly. Texts borrow the message; an IPv6 host
/// keeps its brackets, as in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect<'p> {
    /// RedirectType 1: open this URL instead (same GUID, [3.1.4.1.1]).
    Url {
        /// The URL's scheme.
        scheme: Scheme,
        /// Host name or address.
        host: Utf16Str<'p>,
        /// Port (1755 when the URL has none).
        port: u16,
        /// The path with its query, from the `/` on, percent-encoded as
        /// in the URL; may be empty.
        path: Utf16Str<'p>,
    },
    /// RedirectType 2: connect to the same URL through this proxy (host,
    /// port); `None`: without a proxy from now on.
    Proxy(Option<(Utf16Str<'p>, u16)>),
}

impl<'p> Redirect<'p> {
    /// The target of a RedirectType and a wszLocation; an empty URL
    /// redirect or another type is malformed.
    pub(super) fn parse(redirect_type: u16, location: &Utf16Str<'p>) -> Result<Self, Error> {
        let location = RedirectLocation::parse(location)?;
        match (redirect_type, location) {
            (REDIRECT_URL, RedirectLocation::Empty) => {
                Err(Error::invalid("wszLocation", "empty URL redirect"))
            }
            (
                REDIRECT_URL,
                RedirectLocation::Url {
                    scheme,
                    host,
                    port,
                    path,
                },
            ) => Ok(Redirect::Url {
                scheme,
                host,
                port,
                path,
            }),
            (REDIRECT_PROXY, RedirectLocation::Empty) => Ok(Redirect::Proxy(None)),
            (REDIRECT_PROXY, RedirectLocation::Url { host, port, .. }) => {
                Ok(Redirect::Proxy(Some((host, port))))
            }
            _ => Err(Error::invalid("RedirectType", "neither 1 nor 2")),
        }
    }
}

/// What ReportOpenFile said of the content ([2.2.4.7]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FileInfo {
    /// openFileId (File-ID).
    pub open_file_id: u32,
    /// fileAttributes (`FILE_ATTRIBUTE_MMS_*`).
    pub attributes: u32,
    /// Duration in seconds (0 for live).
    pub duration: f64,
    /// ASF data packet size.
    pub packet_size: u32,
    /// ASF data packets (0 if unknown).
    pub packet_count: u64,
    /// Bit rate, bit/s.
    pub bit_rate: u32,
    /// ASF file header size, bytes.
    pub header_size: u32,
}

impl FileInfo {
    /// The numbers of a ReportOpenFile (a duration that is no finite
    /// number of seconds ≥ 0 is 0).
    pub(super) fn new(r: &ReportOpenFileRepr) -> Self {
        FileInfo {
            open_file_id: r.open_file_id,
            attributes: r.file_attributes,
            duration: if r.file_duration.is_finite() {
                r.file_duration.max(0.0)
            } else {
                0.0
            },
            packet_size: r.file_packet_size,
            packet_count: r.file_packet_count,
            bit_rate: r.file_bit_rate,
            header_size: r.file_header_size,
        }
    }

    /// The content is a broadcast (live): no seeking, no counts.
    pub fn is_broadcast(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_BROADCAST != 0
    }
    /// The server can seek in it.
    pub fn can_seek(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_CANSEEK != 0
    }
    /// The server can stride it.
    pub fn can_stride(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_MMS_CANSTRIDE != 0
    }
}
