//! Reading an image's memory a chunk or a page at a time: lent by the image
//! without a copy when it can ([`Memory::lend`]: ELF cores, minidumps),
//! copied into a reused buffer otherwise. A lent chunk is released from the
//! resident set when the reader moves on, so streaming a mapped image leaves
//! about a chunk of it resident instead of the whole file.

use crate::memory::{Bytes, Memory};

/// The unit of comparison, whatever the images' own page size. It lives
/// here, at the bottom of diff's files, so pages and moves both take it
/// from below and no file of diff imports one that imports it back.
pub const PAGE_SIZE: u64 = 4096;

pub(super) struct ChunkReader {
    buf: Vec<u8>,
    lent: Option<Bytes>,
}

impl ChunkReader {
    /// A reader of chunks up to `max` bytes.
    pub fn new(max: usize) -> Self {
        ChunkReader {
            buf: vec![0u8; max],
            lent: None,
        }
    }

    /// The bytes of `[at, at + len)`, or None when any of them cannot be
    /// read. `len` is at most the reader's `max`.
    pub fn load(&mut self, memory: &dyn Memory, at: u64, len: usize) -> Option<&[u8]> {
        self.release();
        if let Some(bytes) = memory.lend(at, len as u64) {
            return Some(&**self.lent.insert(bytes));
        }
        let buf = self.buf.get_mut(..len)?;
        memory.read_exact(at, buf).ok()?;
        Some(buf)
    }

    /// Lets go of the last lent chunk's pages (the bytes stay readable).
    pub fn release(&mut self) {
        if let Some(bytes) = self.lent.take() {
            bytes.release_resident(0..bytes.len());
        }
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        self.release();
    }
}

/// Single pages of one image, read in mostly ascending order: a window of
/// up to `max` bytes (within the captured range that holds the page) is
/// lent from the page on, later pages inside it are served from it, and it
/// is released when the reader moves past it. One `madvise` per window, not
/// per page: a page fault maps its neighbours too, so releasing single
/// pages would leave most of what was touched resident.
pub(super) struct PageReader<'m> {
    memory: &'m dyn Memory,
    /// What the image holds, sorted and disjoint.
    ranges: &'m [(u64, u64)],
    max: u64,
    window: Option<(u64, Bytes)>,
    page: Vec<u8>,
}

impl<'m> PageReader<'m> {
    pub fn new(memory: &'m dyn Memory, ranges: &'m [(u64, u64)], max: u64) -> Self {
        PageReader {
            memory,
            ranges,
            max: max.max(PAGE_SIZE),
            window: None,
            page: vec![0u8; PAGE_SIZE as usize],
        }
    }

    /// The 4 KiB at `address`, or None when they cannot all be read.
    pub fn page(&mut self, address: u64) -> Option<&[u8]> {
        let len = PAGE_SIZE as usize;
        let inside = match &self.window {
            Some((start, bytes)) if address >= *start => {
                let at = address - start;
                (at.saturating_add(PAGE_SIZE) <= bytes.len() as u64).then_some(at as usize)
            }
            _ => None,
        };
        if let Some(at) = inside {
            return self.window.as_ref().and_then(|(_, b)| b.get(at..at + len));
        }
        self.release();
        let i = self.ranges.partition_point(|r| r.1 <= address);
        if let Some(&(lo, hi)) = self.ranges.get(i)
            && lo <= address
            && hi - address >= PAGE_SIZE
        {
            let n = (hi - address).min(self.max);
            // A window across two segments is not lent: the page alone may.
            let lent = self
                .memory
                .lend(address, n)
                .or_else(|| self.memory.lend(address, PAGE_SIZE));
            if let Some(bytes) = lent {
                let (_, bytes) = self.window.insert((address, bytes));
                return bytes.get(..len);
            }
        }
        self.memory.read_exact(address, &mut self.page).ok()?;
        Some(&self.page)
    }

    fn release(&mut self) {
        if let Some((_, bytes)) = self.window.take() {
            bytes.release_resident(0..bytes.len());
        }
    }
}

impl Drop for PageReader<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Segment, SegmentMemory};

    #[test]
    fn lends_one_segment_and_copies_across_two() {
        let data = Bytes::from_vec((0u8..=255).collect());
        let seg = |address, offset| Segment {
            address,
            size: 0x10,
            captured: 0x10,
            offset,
            bytes: data.clone(),
        };
        let mem = SegmentMemory::new(vec![seg(0x1000, 0), seg(0x1010, 0x80)]);
        let mut r = ChunkReader::new(0x20);
        assert_eq!(r.load(&mem, 0x1002, 3), Some(&[2u8, 3, 4][..]));
        assert!(r.lent.is_some());
        // Across the two segments: copied.
        assert_eq!(r.load(&mem, 0x100f, 2), Some(&[0x0f, 0x80][..]));
        assert!(r.lent.is_none());
        assert_eq!(r.load(&mem, 0x101f, 2), None);
        // Longer than the buffer and not lendable: refused, not a panic.
        assert_eq!(r.load(&mem, 0x100f, 0x21), None);
    }

    #[test]
    fn pages_come_from_one_window_until_it_is_left() {
        let data = Bytes::from_vec((0..0x6000u32).map(|i| (i / 4096) as u8 + 1).collect());
        let seg = |address, size, offset| Segment {
            address,
            size,
            captured: size,
            offset,
            bytes: data.clone(),
        };
        // 0x10000-0x13000 from file pages 0-2, 0x13000-0x16000 from 3-5.
        let mem = SegmentMemory::new(vec![seg(0x10000, 0x3000, 0), seg(0x13000, 0x3000, 0x3000)]);
        let ranges = [(0x10000, 0x16000)];
        let mut r = PageReader::new(&mem, &ranges, 0x2000);
        assert_eq!(r.page(0x10000).map(|p| (p[0], p.len())), Some((1, 4096)));
        assert_eq!(
            r.window.as_ref().map(|w| (w.0, w.1.len())),
            Some((0x10000, 0x2000))
        );
        assert_eq!(r.page(0x11000).map(|p| p[4095]), Some(2));
        assert_eq!(r.window.as_ref().map(|w| w.0), Some(0x10000));
        // The next window would cross into the second segment: the page
        // alone is lent.
        assert_eq!(r.page(0x12000).map(|p| p[0]), Some(3));
        assert_eq!(
            r.window.as_ref().map(|w| (w.0, w.1.len())),
            Some((0x12000, 0x1000))
        );
        assert_eq!(r.page(0x14000).map(|p| p[0]), Some(5));
        // Backwards, and outside what the image holds.
        assert_eq!(r.page(0x10000).map(|p| p[0]), Some(1));
        assert_eq!(r.page(0x16000), None);
        assert_eq!(r.page(0x15800), None);
    }
}
