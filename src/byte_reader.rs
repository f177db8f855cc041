//! Checked reads of fixed-size integers from file bytes.
//!
//! Every reader of a binary format needs "the u32 at offset N, or nothing
//! if the file is too short". Two shapes cover every use:
//! - [`Fields`]: offset-based reads on any byte slice (`bytes.u32_at(8)`),
//!   little-endian, answering `None` past the end;
//! - [`ByteReader`]: a cursor with an [`Endian`] that walks a structure
//!   field after field and answers a typed [`OutOfBounds`] error saying
//!   where the read fell off.
//!
//! Neither panics, and no offset arithmetic wraps: an offset near
//! `usize::MAX` is out of bounds, not a read at its wrapped value.
//!
//! Written here rather than taken from `scroll` (which goblin uses): the
//! whole job is `<[u8]>::get` plus `from_le_bytes`, while `scroll`'s
//! generic context API would tie every reader's signatures to one of the
//! two `scroll` versions Cargo.lock already carries (goblin's and the
//! minidump crate's), and its errors do not say which field ran out.
//! This module depends on nothing but `std`, so any module may use it; it
//! also holds the one bytes-to-hex conversion (build ids, digests, magic
//! bytes in messages), for the same reason.

use std::fmt;

/// Byte order of the integers in a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// A read that does not fit the bytes: `wanted` bytes at `offset` of a
/// buffer `len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfBounds {
    pub offset: usize,
    pub wanted: usize,
    pub len: usize,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes at offset {:#x} run past the end of {} bytes",
            self.wanted, self.offset, self.len
        )
    }
}

impl std::error::Error for OutOfBounds {}

/// `wanted` bytes at `offset`, checked without overflow.
fn slice_at(data: &[u8], offset: usize, wanted: usize) -> Result<&[u8], OutOfBounds> {
    offset
        .checked_add(wanted)
        .and_then(|end| data.get(offset..end))
        .ok_or(OutOfBounds {
            offset,
            wanted,
            len: data.len(),
        })
}

/// The `N` bytes at `offset` as an array.
fn array_at<const N: usize>(data: &[u8], offset: usize) -> Result<[u8; N], OutOfBounds> {
    let bytes = slice_at(data, offset, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

/// Little-endian field reads by offset that answer `None` past the end.
/// Implemented for `[u8]`, so it works on slices, `Vec<u8>` and
/// [`crate::memory::Bytes`] alike.
pub trait Fields {
    /// `len` bytes at `offset`.
    fn bytes_at(&self, offset: usize, len: usize) -> Option<&[u8]>;
    fn u8_at(&self, offset: usize) -> Option<u8>;
    fn u16_at(&self, offset: usize) -> Option<u16>;
    fn u32_at(&self, offset: usize) -> Option<u32>;
    fn u64_at(&self, offset: usize) -> Option<u64>;
    fn i32_at(&self, offset: usize) -> Option<i32> {
        self.u32_at(offset).map(|v| v as i32)
    }
    /// A target pointer widened to u64: 4 bytes when `size` is 4, else 8.
    fn word_at(&self, offset: usize, size: usize) -> Option<u64> {
        if size == 4 {
            self.u32_at(offset).map(u64::from)
        } else {
            self.u64_at(offset)
        }
    }
    /// The u32 at a file-derived u64 offset (minidump RVAs, ELF offsets).
    fn u32_at_u64(&self, offset: u64) -> Option<u32> {
        self.u32_at(usize::try_from(offset).ok()?)
    }
}

impl Fields for [u8] {
    fn bytes_at(&self, offset: usize, len: usize) -> Option<&[u8]> {
        slice_at(self, offset, len).ok()
    }
    fn u8_at(&self, offset: usize) -> Option<u8> {
        self.get(offset).copied()
    }
    fn u16_at(&self, offset: usize) -> Option<u16> {
        array_at(self, offset).ok().map(u16::from_le_bytes)
    }
    fn u32_at(&self, offset: usize) -> Option<u32> {
        array_at(self, offset).ok().map(u32::from_le_bytes)
    }
    fn u64_at(&self, offset: usize) -> Option<u64> {
        array_at(self, offset).ok().map(u64::from_le_bytes)
    }
}

/// A cursor over bytes in one byte order. Reads advance the cursor only
/// when they succeed.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    data: &'a [u8],
    position: usize,
    endian: Endian,
}

macro_rules! int_reads {
    ($($read:ident, $at:ident, $ty:ty;)*) => {$(
        #[doc = concat!("The ", stringify!($ty), " at the cursor; advances past it.")]
        pub fn $read(&mut self) -> Result<$ty, OutOfBounds> {
            let value = self.$at(self.position)?;
            self.position += std::mem::size_of::<$ty>();
            Ok(value)
        }
        #[doc = concat!("The ", stringify!($ty), " at `offset` from the start; the cursor stays.")]
        pub fn $at(&self, offset: usize) -> Result<$ty, OutOfBounds> {
            let bytes = array_at(self.data, offset)?;
            Ok(match self.endian {
                Endian::Little => <$ty>::from_le_bytes(bytes),
                Endian::Big => <$ty>::from_be_bytes(bytes),
            })
        }
    )*};
}

impl<'a> ByteReader<'a> {
    pub fn new(data: &'a [u8], endian: Endian) -> Self {
        ByteReader {
            data,
            position: 0,
            endian,
        }
    }
    pub fn little(data: &'a [u8]) -> Self {
        Self::new(data, Endian::Little)
    }
    pub fn big(data: &'a [u8]) -> Self {
        Self::new(data, Endian::Big)
    }
    pub fn endian(&self) -> Endian {
        self.endian
    }
    /// Offset of the cursor from the start.
    pub fn position(&self) -> usize {
        self.position
    }
    /// Bytes left after the cursor.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.position)
    }
    /// Moves the cursor to `offset` (at most the end).
    pub fn seek(&mut self, offset: usize) -> Result<(), OutOfBounds> {
        slice_at(self.data, offset, 0)?;
        self.position = offset;
        Ok(())
    }
    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), OutOfBounds> {
        self.bytes(len).map(|_| ())
    }
    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], OutOfBounds> {
        let out = slice_at(self.data, self.position, len)?;
        self.position += len;
        Ok(out)
    }
    /// `len` bytes at `offset` from the start; the cursor stays.
    pub fn bytes_at(&self, offset: usize, len: usize) -> Result<&'a [u8], OutOfBounds> {
        slice_at(self.data, offset, len)
    }

    int_reads! {
        u8, u8_at, u8;
        u16, u16_at, u16;
        u32, u32_at, u32;
        u64, u64_at, u64;
        i32, i32_at, i32;
        i64, i64_at, i64;
    }

    /// A target pointer widened to u64: 4 bytes when `size` is 4, else 8.
    pub fn word(&mut self, size: usize) -> Result<u64, OutOfBounds> {
        if size == 4 {
            self.u32().map(u64::from)
        } else {
            self.u64()
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of a byte string, two digits per byte, no separator
/// (`7f454c46`): build ids, digests.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(HEX_DIGITS[usize::from(b >> 4)] as char);
        s.push(HEX_DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Lower-case hex of a byte string with a space between bytes
/// (`7f 45 4c 46`): raw bytes quoted in a message.
pub fn hex_spaced(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(3));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(HEX_DIGITS[usize::from(b >> 4)] as char);
        s.push(HEX_DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: [u8; 10] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a];

    #[test]
    fn offset_reads_are_little_endian() {
        let d: &[u8] = &DATA;
        assert_eq!(d.u8_at(9), Some(0x0a));
        assert_eq!(d.u16_at(0), Some(0x0201));
        assert_eq!(d.u32_at(1), Some(0x0504_0302));
        assert_eq!(d.u64_at(2), Some(0x0a09_0807_0605_0403));
        assert_eq!(d.i32_at(6), Some(0x0a09_0807));
        assert_eq!(d.word_at(0, 4), Some(0x0403_0201));
        assert_eq!(d.word_at(0, 8), Some(0x0807_0605_0403_0201));
        assert_eq!(d.bytes_at(8, 2), Some(&DATA[8..]));
        assert_eq!(d.u32_at_u64(6), Some(0x0a09_0807));
    }

    #[test]
    fn offset_reads_past_the_end_or_overflowing_answer_none() {
        let d: &[u8] = &DATA;
        assert_eq!(d.u8_at(10), None);
        assert_eq!(d.u16_at(9), None);
        assert_eq!(d.u32_at(7), None);
        assert_eq!(d.u64_at(3), None);
        assert_eq!(d.bytes_at(8, 3), None);
        // offset + size overflows usize: out of bounds, no panic, no wrap.
        assert_eq!(d.u32_at(usize::MAX), None);
        assert_eq!(d.u64_at(usize::MAX - 3), None);
        assert_eq!(d.bytes_at(1, usize::MAX), None);
        assert_eq!(d.u32_at_u64(u64::MAX), None);
        let empty: &[u8] = &[];
        assert_eq!(empty.u16_at(0), None);
    }

    #[test]
    fn cursor_reads_in_either_byte_order() {
        let mut le = ByteReader::little(&DATA);
        assert_eq!(le.u16(), Ok(0x0201));
        assert_eq!(le.u32(), Ok(0x0605_0403));
        assert_eq!(le.position(), 6);
        assert_eq!(le.remaining(), 4);
        let mut be = ByteReader::big(&DATA);
        assert_eq!(be.u16(), Ok(0x0102));
        assert_eq!(be.u32(), Ok(0x0304_0506));
        assert_eq!(be.u32_at(0), Ok(0x0102_0304));
        assert_eq!(be.u64_at(2), Ok(0x0304_0506_0708_090a));
        assert_eq!(be.endian(), Endian::Big);
        let mut w = ByteReader::little(&DATA);
        assert_eq!(w.word(4), Ok(0x0403_0201));
        assert_eq!(
            w.word(8),
            Err(OutOfBounds {
                offset: 4,
                wanted: 8,
                len: 10
            })
        );
        assert_eq!(w.bytes(2), Ok(&DATA[4..6]));
        assert_eq!(w.i64_at(2), Ok(0x0a09_0807_0605_0403));
    }

    #[test]
    fn a_failed_cursor_read_says_where_and_does_not_move() {
        let mut r = ByteReader::little(&DATA);
        r.skip(8).unwrap();
        let e = r.u32().unwrap_err();
        assert_eq!(
            e,
            OutOfBounds {
                offset: 8,
                wanted: 4,
                len: 10
            }
        );
        assert_eq!(
            e.to_string(),
            "4 bytes at offset 0x8 run past the end of 10 bytes"
        );
        assert_eq!(r.position(), 8);
        assert_eq!(r.u16(), Ok(0x0a09));
        assert_eq!(r.remaining(), 0);
        assert!(r.u8().is_err());
    }

    #[test]
    fn cursor_offsets_near_usize_max_are_errors() {
        let mut r = ByteReader::little(&DATA);
        assert!(r.seek(usize::MAX).is_err());
        assert!(r.seek(11).is_err());
        assert!(r.seek(10).is_ok());
        assert_eq!(r.remaining(), 0);
        r.seek(2).unwrap();
        assert!(r.skip(usize::MAX).is_err());
        assert_eq!(r.position(), 2);
        assert!(r.u64_at(usize::MAX - 7).is_err());
        assert!(r.bytes_at(usize::MAX, 1).is_err());
        assert!(r.bytes(usize::MAX - 1).is_err());
    }

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(hex(&[0x7f, 0x45, 0x4c, 0x46, 0x00, 0xab]), "7f454c4600ab");
        assert_eq!(hex(&[]), "");
        assert_eq!(hex_spaced(&[0x7f, 0x45, 0x0a]), "7f 45 0a");
        assert_eq!(hex_spaced(&[]), "");
    }
}
