//! The address space of a CRIU dump: pagemap entries name runs of pages
//! whose bytes sit one after another in pages-N.img.
//!
//! Reads are served straight from the mapped pages file. Pages the dump
//! left elsewhere (a parent snapshot, a lazy-pages server) or a cut pages
//! file are "not captured"; addresses outside every VMA are "unmapped".
//! Unmodified file-backed pages are never dumped by CRIU, so an optional
//! set of fallback segments (original files, identity-checked by the
//! caller) can supply them.

use super::image_file::ImageFile;
use super::proto::PagemapHead;
use crate::memory::{Bytes, Memory, MemoryError, SegmentMemory, StoredRun};
use crate::model::PageCounts;

/// pagemap_entry.flags bits.
pub const PE_PARENT: u32 = 1 << 0;
pub const PE_LAZY: u32 = 1 << 1;
pub const PE_PRESENT: u32 = 1 << 2;

/// Where a run of pages' bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSource {
    /// In the pages file at this offset.
    Image { offset: u64 },
    /// In the parent snapshot (pre-dump / incremental dumps).
    Parent,
    /// Left for lazy restore, not written to the directory.
    Lazy,
    /// The pagemap places them past the end of the pages file.
    Missing,
}

/// `[start, end)` of virtual memory and where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    pub start: u64,
    pub end: u64,
    pub source: PageSource,
}

/// A dumped address space.
#[derive(Debug)]
pub struct PagemapMemory {
    /// Sorted by start and disjoint (the reader drops overlapping entries).
    runs: Vec<PageRun>,
    pages: Bytes,
    /// Sorted, disjoint VMA ranges: inside one but outside every run is
    /// "not captured".
    vmas: Vec<(u64, u64)>,
    /// Bytes of original files for file-backed pages CRIU did not dump.
    pub files: SegmentMemory,
    /// The parent snapshot's address space, for pages marked in-parent.
    pub parent: Option<Box<PagemapMemory>>,
    /// The name of the pages file (`pages-1.img`), when the pagemap names it.
    pub pages_file: Option<String>,
}

/// The pages file a pagemap image's head entry names (`pages_id` 1:
/// `pages-1.img`).
pub fn pages_file_of(pagemap: &ImageFile) -> Option<String> {
    let head = pagemap.decode::<PagemapHead>(0).ok()?;
    Some(format!("pages-{}.img", head.pages_id?))
}

impl PagemapMemory {
    pub fn new(mut runs: Vec<PageRun>, pages: Bytes, mut vmas: Vec<(u64, u64)>) -> Self {
        runs.sort_by_key(|r| r.start);
        vmas.sort_unstable();
        PagemapMemory {
            runs,
            pages,
            vmas,
            files: SegmentMemory::default(),
            parent: None,
            pages_file: None,
        }
    }

    pub fn runs(&self) -> &[PageRun] {
        &self.runs
    }

    /// Bytes of `[start, end)` that the pages file (or, for in-parent
    /// pages, a parent snapshot that is present) holds.
    pub fn captured_bytes(&self, start: u64, end: u64) -> u64 {
        let first = self.runs.partition_point(|r| r.end <= start);
        self.runs[first..]
            .iter()
            .take_while(|r| r.start < end)
            .map(|r| {
                let (s, e) = (r.start.max(start), r.end.min(end));
                match r.source {
                    PageSource::Image { .. } => e.saturating_sub(s),
                    // Only what the parent really holds.
                    PageSource::Parent => {
                        self.parent.as_ref().map_or(0, |p| p.captured_bytes(s, e))
                    }
                    PageSource::Lazy | PageSource::Missing => 0,
                }
            })
            .sum()
    }

    /// Pages of `[start, end)` the pagemap lists, by where their bytes are.
    pub fn page_counts(&self, start: u64, end: u64, page_size: u64) -> PageCounts {
        let mut c = PageCounts::default();
        let first = self.runs.partition_point(|r| r.end <= start);
        for r in self.runs[first..].iter().take_while(|r| r.start < end) {
            let (s, e) = (r.start.max(start), r.end.min(end));
            let pages = e.saturating_sub(s) / page_size;
            match r.source {
                PageSource::Image { .. } => c.in_image += pages,
                PageSource::Parent => {
                    let held = self
                        .parent
                        .as_ref()
                        .map_or(0, |p| p.captured_bytes(s, e) / page_size);
                    c.in_parent += held;
                    c.missing += pages - held.min(pages);
                }
                PageSource::Lazy => c.lazy += pages,
                PageSource::Missing => c.missing += pages,
            }
        }
        c
    }

    fn vma_end(&self, address: u64) -> Option<u64> {
        let i = self.vmas.partition_point(|v| v.1 <= address);
        self.vmas.get(i).filter(|v| v.0 <= address).map(|v| v.1)
    }
}

impl Memory for PagemapMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let i = self.runs.partition_point(|r| r.end <= address);
        let run = self.runs.get(i).filter(|r| r.start <= address);
        if let Some(run) = run {
            // Dumped pages are the truth for their addresses; an original
            // file must never stand in for a page the process modified.
            if let PageSource::Image { offset } = run.source {
                let rel = address - run.start;
                let n = (run.end - address).min(buf.len() as u64) as usize;
                let src = usize::try_from(offset.saturating_add(rel))
                    .ok()
                    .and_then(|at| self.pages.get(at..at.checked_add(n)?));
                if let Some(src) = src {
                    buf[..n].copy_from_slice(src);
                    return Ok(n);
                }
            }
            if run.source == PageSource::Parent
                && let Some(parent) = &self.parent
            {
                let n = (run.end - address).min(buf.len() as u64) as usize;
                return parent.read(address, &mut buf[..n]);
            }
            return Err(MemoryError::NotCaptured { address });
        }
        let Some(vma_end) = self.vma_end(address) else {
            return Err(MemoryError::Unmapped { address });
        };
        // Not dumped: an original file may hold the bytes, up to the next
        // dumped page or the end of the mapping.
        let next = self.runs.get(i).map_or(u64::MAX, |r| r.start);
        let limit = (next.min(vma_end) - address).min(buf.len() as u64) as usize;
        match self.files.read(address, &mut buf[..limit]) {
            Ok(n) if n > 0 => Ok(n.min(limit)),
            _ => Err(MemoryError::NotCaptured { address }),
        }
    }

    fn lend(&self, address: u64, len: u64) -> Option<Bytes> {
        // Only a range one run holds whole: its window of the pages file,
        // or the parent's for in-parent pages. Anything else (a fallback
        // file, two runs) is left to `read`.
        let i = self.runs.partition_point(|r| r.end <= address);
        let run = self.runs.get(i).filter(|r| r.start <= address)?;
        if len == 0 || address.checked_add(len)? > run.end {
            return None;
        }
        match run.source {
            PageSource::Image { offset } => {
                let start = usize::try_from(offset.checked_add(address - run.start)?).ok()?;
                let end = start.checked_add(usize::try_from(len).ok()?)?;
                self.pages.slice(start..end)
            }
            PageSource::Parent => self.parent.as_ref()?.lend(address, len),
            PageSource::Lazy | PageSource::Missing => None,
        }
    }

    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        let first = self.runs.partition_point(|r| r.end <= start);
        let mut out = Vec::new();
        for run in self.runs[first..].iter().take_while(|r| r.start < end) {
            let (lo, hi) = (run.start.max(start), run.end.min(end));
            match run.source {
                PageSource::Image { offset } => {
                    // A cut pages file holds only the run's first bytes.
                    let held = (self.pages.len() as u64).saturating_sub(offset);
                    out.push((lo, hi.min(run.start.saturating_add(held))));
                }
                PageSource::Parent => {
                    if let Some(parent) = &self.parent {
                        out.extend(parent.captured_ranges(lo, hi)?);
                    }
                }
                PageSource::Lazy | PageSource::Missing => {}
            }
        }
        Some(crate::memory::merge_ranges(out))
    }

    /// The runs in this snapshot's own pages file (pages in a parent
    /// snapshot are that snapshot's file's, sealed with it).
    fn stored_runs(&self) -> Vec<StoredRun> {
        let Some(file) = &self.pages_file else {
            return Vec::new();
        };
        let held = self.pages.len() as u64;
        self.runs
            .iter()
            .filter_map(|r| match r.source {
                PageSource::Image { offset } if offset < held => Some(StoredRun {
                    file: file.clone(),
                    offset,
                    address: r.start,
                    len: (r.end - r.start).min(held - offset),
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Segment;

    #[test]
    fn runs_vmas_and_fallbacks() {
        let pages = Bytes::from_vec((0..8192u32).map(|i| (i / 4096) as u8 + 1).collect());
        let runs = vec![
            PageRun {
                start: 0x10000,
                end: 0x11000,
                source: PageSource::Image { offset: 4096 },
            },
            PageRun {
                start: 0x12000,
                end: 0x13000,
                source: PageSource::Parent,
            },
        ];
        let mut mem = PagemapMemory::new(runs, pages, vec![(0x10000, 0x14000)]);
        assert_eq!(mem.captured_bytes(0x10000, 0x14000), 0x1000);
        let file = Bytes::from_vec(vec![9u8; 0x4000]);
        mem.files.add_fallback(Segment {
            address: 0x10000,
            size: 0x4000,
            captured: 0x4000,
            offset: 0,
            bytes: file,
        });
        let m: &dyn Memory = &mem;
        assert_eq!(m.read_u32(0x10ffc).unwrap(), 0x0202_0202);
        // A page in the parent is not captured even with a file behind it.
        assert_eq!(
            m.read_u32(0x12000),
            Err(MemoryError::NotCaptured { address: 0x12000 })
        );
        // Not dumped: the file supplies it, but never past the next run.
        let mut buf = [0u8; 0x2000];
        assert_eq!(m.read(0x11000, &mut buf), Ok(0x1000));
        assert_eq!(buf[0], 9);
        assert_eq!(
            m.read_u32(0x20000),
            Err(MemoryError::Unmapped { address: 0x20000 })
        );
        // Lent windows: only what one dumped run holds, never a fallback
        // file's bytes or a parent page without a parent.
        let lent = m.lend(0x10800, 0x800).unwrap();
        assert_eq!(lent.len(), 0x800);
        assert!(lent.iter().all(|&b| b == 2));
        assert!(m.lend(0x10800, 0x1000).is_none());
        assert!(m.lend(0x11000, 0x100).is_none());
        assert!(m.lend(0x12000, 0x100).is_none());
        assert!(m.lend(0x10000, 0).is_none());
        assert!(m.lend(u64::MAX - 1, 4).is_none());
    }
}
