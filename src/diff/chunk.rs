//! Reading an image's memory a chunk at a time: lent by the image without a
//! copy when it can ([`Memory::lend`]: ELF cores, minidumps), copied into a
//! reused buffer otherwise. A lent chunk is released from the resident set
//! when the next one is loaded, so streaming a mapped image leaves at most a
//! chunk of it resident instead of the whole file.

use crate::memory::{Bytes, Memory};

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
}
