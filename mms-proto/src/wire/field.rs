//! Little-endian field access ([2.2]: every integer is little-endian) and the
//! macro that generates fixed-layout views.

/// A fixed-size little-endian field type.
pub(crate) trait Le: Sized + Copy {
    /// Reads from the first `SIZE` bytes of `b`; `b.len() >= SIZE` is the
    /// caller's promise (every view checks its length first).
    fn read(b: &[u8]) -> Self;
    /// Writes into the first `SIZE` bytes of `b` (same promise).
    fn write(b: &mut [u8], v: Self);
}

macro_rules! le_int {
    ($($ty:ty),*) => {$(
        impl Le for $ty {
            #[inline(always)]
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$ty>()];
                // Panics only if `b` is shorter than the field, which every
                // caller rules out with a length check first.
                a.copy_from_slice(&b[..core::mem::size_of::<$ty>()]);
                <$ty>::from_le_bytes(a)
            }
            #[inline(always)]
            fn write(b: &mut [u8], v: Self) {
                // Same promise as `read`.
                b[..core::mem::size_of::<$ty>()].copy_from_slice(&v.to_le_bytes());
            }
        }
    )*};
}
le_int!(u8, u16, u32, u64, i16, f64);

impl Le for [u8; 16] {
    #[inline(always)]
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        // Same promise as the integer fields: the view checked the length.
        a.copy_from_slice(&b[..16]);
        a
    }
    #[inline(always)]
    fn write(b: &mut [u8], v: Self) {
        b[..16].copy_from_slice(&v);
    }
}

/// Reads a little-endian `u32` at `off`; the caller has checked the length.
#[inline(always)]
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    <u32 as Le>::read(&b[off..])
}

/// Writes a little-endian `u32` at `off`; the caller has checked the length.
#[inline(always)]
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    <u32 as Le>::write(&mut b[off..], v)
}

/// Generates a smoltcp-style view: a newtype over `T: AsRef<[u8]>` with
/// `new_unchecked` / `new_checked` / `check_len` / `into_inner`, a getter per
/// fixed field (needs `AsRef<[u8]>`) and a setter (needs `AsMut<[u8]>`).
/// Offsets are written out next to each field, as the spec's field tables
/// give them; the golden tests pin every one.
macro_rules! view {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, fixed_len = $len:expr;
        $( $(#[$fmeta:meta])* $get:ident / $set:ident : $ty:ty = $off:expr; )*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Length of the fixed-size part of the structure, in bytes.
            pub const FIXED_LEN: usize = $len;

            /// Wraps a buffer without checking its length; accessors may
            /// panic unless [`Self::check_len`] succeeds.
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps a buffer after checking that every fixed field fits.
            pub fn new_checked(buffer: T) -> $crate::wire::Result<Self> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Checks that every fixed field fits; after this no accessor panics.
            pub fn check_len(&self) -> $crate::wire::Result<()> {
                $crate::wire::error::need(self.buffer.as_ref(), $len)
            }

            /// Returns the wrapped buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// The whole wrapped buffer.
            pub fn as_bytes(&self) -> &[u8] {
                self.buffer.as_ref()
            }

            $(
                $(#[$fmeta])*
                #[inline]
                pub fn $get(&self) -> $ty {
                    <$ty as $crate::wire::field::Le>::read(&self.buffer.as_ref()[$off..])
                }
            )*
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            $(
                #[doc = concat!("Sets the field that [`Self::", stringify!($get), "`] reads.")]
                #[inline]
                pub fn $set(&mut self, value: $ty) {
                    <$ty as $crate::wire::field::Le>::write(&mut self.buffer.as_mut()[$off..], value)
                }
            )*
        }
    };
}
pub(crate) use view;
