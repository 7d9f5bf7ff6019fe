//! HRESULT values ([MS-ERREF] 2.1), as MMS messages carry them in `hr`.

use core::fmt;

/// A 32-bit HRESULT. Bit 31 set means failure. Vendor codes set the C bit
/// (0x20000000, [1.8]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct HResult(pub u32);

macro_rules! hresults {
    ($( $(#[$m:meta])* $name:ident = $val:literal; )*) => {
        impl HResult {
            $( $(#[$m])* pub const $name: HResult = HResult($val); )*

            /// The symbolic name of a known code.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }
    };
}

hresults! {
    /// Success ([2.2.4.5]: end of entry reached, or StopPlaying done).
    S_OK = 0x0000_0000;
    /// Success, "false" ([2.2.4.5]: end of entry; a ReportStreamChange follows).
    S_FALSE = 0x0000_0001;
    /// Unspecified failure.
    E_FAIL = 0x8000_4005;
    /// Catastrophic / unexpected failure.
    E_UNEXPECTED = 0x8000_FFFF;
    /// Not implemented.
    E_NOTIMPL = 0x8000_4001;
    /// Access denied.
    E_ACCESSDENIED = 0x8007_0005;
    /// Out of memory.
    E_OUTOFMEMORY = 0x8007_000E;
    /// An argument is invalid.
    E_INVALIDARG = 0x8007_0057;
    /// The system cannot find the file specified (HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)).
    E_FILE_NOT_FOUND = 0x8007_0002;
    /// The network is busy (Windows Media, nserror.h).
    NS_E_NET_BUSY = 0xC00D_000E;
    /// Too many sessions on the server (nserror.h).
    NS_E_TOO_MANY_SESS = 0xC00D_000F;
    /// No timely response (nserror.h).
    NS_E_TIMEOUT = 0xC00D_0013;
    /// The file was not found (nserror.h).
    NS_E_FILE_NOT_FOUND = 0xC00D_001A;
    /// The connection was lost (nserror.h).
    NS_E_NET_READ = 0xC00D_0029;
    /// No more data in the stream (nserror.h).
    NS_E_NOTHING_TO_DO = 0xC00D_0034;
}

impl HResult {
    /// True when bit 31 (severity) is clear.
    pub const fn is_success(self) -> bool {
        self.0 & 0x8000_0000 == 0
    }
    /// True when bit 31 (severity) is set.
    pub const fn is_failure(self) -> bool {
        !self.is_success()
    }
}

impl fmt::Debug for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({:#010x})", self.0),
            None => write!(f, "HResult({:#010x})", self.0),
        }
    }
}

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl super::field::Le for HResult {
    #[inline(always)]
    fn read(b: &[u8]) -> Self {
        HResult(<u32 as super::field::Le>::read(b))
    }
    #[inline(always)]
    fn write(b: &mut [u8], v: Self) {
        <u32 as super::field::Le>::write(b, v.0)
    }
}
