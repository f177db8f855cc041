//! Address spaces: reading a saved process's memory by virtual address.
//!
//! Absent bytes are an explicit answer ([`MemoryError::NotCaptured`], and
//! for kernel dumps [`MemoryError::Absent`] with the [`Absence`] that says
//! why), never zeros pretending to be data.

pub mod canonical;
mod holes;
pub mod page_tables;
pub mod page_tables_aarch64;
mod ranges;

pub use holes::Extent;
pub use ranges::RangeIndex;

use holes::HoleMap;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The bytes of an image or a module file: an mmap where possible, owned
/// bytes when they had to be decompressed or synthesized. A `Bytes` may be
/// a window on a larger source ([`Bytes::slice`]): a tar member is a window
/// on the archive's map, sharing it without a copy.
#[derive(Clone)]
pub struct Bytes {
    source: Arc<ByteSource>,
    start: usize,
    len: usize,
}

enum ByteSource {
    /// A file mapping, with the file's holes when it is sparse.
    Mapped(memmap2::Mmap, Option<HoleMap>),
    Owned(Vec<u8>),
}

impl Bytes {
    pub fn from_mmap(map: memmap2::Mmap) -> Self {
        Self::mapped(map, None)
    }
    fn mapped(map: memmap2::Mmap, holes: Option<HoleMap>) -> Self {
        let len = map.len();
        Bytes {
            source: Arc::new(ByteSource::Mapped(map, holes)),
            start: 0,
            len,
        }
    }
    pub fn from_vec(v: Vec<u8>) -> Self {
        let len = v.len();
        Bytes {
            source: Arc::new(ByteSource::Owned(v)),
            start: 0,
            len,
        }
    }
    /// The bytes `range` of these, sharing the same source (no copy); None
    /// when the range does not lie inside.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<Bytes> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        Some(Bytes {
            source: Arc::clone(&self.source),
            start: self.start + range.start,
            len: range.end - range.start,
        })
    }
    /// Whether the bytes are a file mapping (not a heap copy).
    pub fn is_mapped(&self) -> bool {
        matches!(&*self.source, ByteSource::Mapped(..))
    }
    /// Whether `self` and `other` are windows on the same mapped or owned
    /// buffer (tests use it to prove a read was zero-copy).
    pub fn shares_source_with(&self, other: &Bytes) -> bool {
        Arc::ptr_eq(&self.source, &other.source)
    }
    /// Lets the process stop holding the pages of `range` (relative to
    /// these bytes) when they are a file mapping: a reader that streams a
    /// large file once (hashing) calls it behind its cursor, so its resident
    /// set stays bounded instead of growing to the file size. The bytes stay
    /// readable and unchanged: the next access faults them in again from the
    /// page cache. Owned bytes, and ranges outside, are left alone.
    pub fn release_resident(&self, range: std::ops::Range<usize>) {
        if range.start >= range.end || range.end > self.len {
            return;
        }
        #[cfg(unix)]
        if let ByteSource::Mapped(map, _) = &*self.source {
            // SAFETY: `map` is a read-only file mapping (map_file), never
            // written through, so it holds no private copies: MADV_DONTNEED
            // only drops page-table entries, and every later read sees the
            // file's bytes exactly as before. The range lies inside the map
            // (checked above; `start + len` never exceeds it).
            let _ = unsafe {
                map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.start + range.start,
                    range.end - range.start,
                )
            };
        }
    }
    /// Maps a file read-only. Empty files become an empty owned buffer
    /// because a zero-length mmap is an error on Linux.
    pub fn map_file(file: &std::fs::File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(Bytes::from_vec(Vec::new()));
        }
        // SAFETY: the map is read-only; a file truncated under us can raise
        // SIGBUS, which is the accepted trade-off of every mmap-based reader.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Bytes::mapped(map, HoleMap::of(file, len)))
    }
    /// Whether [`Bytes::extent`] can answer anything but data: a mapping
    /// of a sparse file whose holes can be asked for.
    pub fn may_have_holes(&self) -> bool {
        matches!(&*self.source, ByteSource::Mapped(_, Some(_)))
    }
    /// What the bytes from `at` on (relative to these) are, at most `max`
    /// of them and never past the end: a [`Extent::Hole`] only where the
    /// mapped file is sparse and its file system says so; [`Extent::Data`]
    /// for owned bytes, fully stored files, and when nothing can tell.
    pub fn extent(&self, at: usize, max: u64) -> Extent {
        let max = max.min(self.len.saturating_sub(at) as u64);
        match &*self.source {
            ByteSource::Mapped(_, Some(holes)) if max > 0 => {
                holes.extent((self.start + at) as u64, max)
            }
            _ => Extent::Data(max),
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &*self.source {
            ByteSource::Mapped(m, _) => m,
            ByteSource::Owned(v) => v,
        };
        // start + len never exceed the source: `slice` checks every window.
        &all[self.start..self.start + self.len]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

/// Why a read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryError {
    /// No mapping covers the address.
    Unmapped { address: u64 },
    /// A mapping covers the address but its bytes are not in the image.
    NotCaptured { address: u64 },
    /// Kernel dumps: the kernel's page tables do not map the address (the
    /// entry at `level` has its present bit clear).
    NotPresent { address: u64, level: PageTableLevel },
    /// Kernel dumps: the entry at `level` on the way to the address is no
    /// valid entry (an impossible physical address, a large page where
    /// there can be none): a damaged page table.
    BadPageTable {
        address: u64,
        level: PageTableLevel,
        entry: u64,
    },
    /// Kernel dumps: the page table of `level` that maps the address, at
    /// physical `table`, is absent from the dump for `reason`.
    TableAbsent {
        address: u64,
        level: PageTableLevel,
        table: u64,
        reason: Absence,
    },
    /// The address's bytes live at `physical` (the same as `address` when
    /// physical memory is read directly), which the dump does not hold for
    /// `reason`.
    Absent {
        address: u64,
        physical: u64,
        reason: Absence,
    },
}

impl MemoryError {
    /// The address whose read failed.
    pub fn address(&self) -> u64 {
        match *self {
            MemoryError::Unmapped { address }
            | MemoryError::NotCaptured { address }
            | MemoryError::NotPresent { address, .. }
            | MemoryError::BadPageTable { address, .. }
            | MemoryError::TableAbsent { address, .. }
            | MemoryError::Absent { address, .. } => address,
        }
    }

    /// Why the dump lacks the bytes (or the table that locates them),
    /// where it can say.
    pub fn absence(&self) -> Option<Absence> {
        match *self {
            MemoryError::TableAbsent { reason, .. } | MemoryError::Absent { reason, .. } => {
                Some(reason)
            }
            _ => None,
        }
    }
}

/// A level of the kernel's page tables, by the kernel's own names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageTableLevel {
    /// The top table (PML4, or PML5 under 5-level paging).
    Pgd,
    /// The PML4 under 5-level paging.
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl PageTableLevel {
    /// The table of `level` (1 = PTE … 5) in a walk of `levels` (4 or 5).
    pub fn of(level: u8, levels: u8) -> PageTableLevel {
        match level {
            1 => PageTableLevel::Pte,
            2 => PageTableLevel::Pmd,
            3 => PageTableLevel::Pud,
            4 if levels >= 5 => PageTableLevel::P4d,
            _ => PageTableLevel::Pgd,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PageTableLevel::Pgd => "PGD",
            PageTableLevel::P4d => "P4D",
            PageTableLevel::Pud => "PUD",
            PageTableLevel::Pmd => "PMD",
            PageTableLevel::Pte => "PTE",
        }
    }
}

impl fmt::Display for PageTableLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a kernel dump does not hold a physical page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// The machine had no RAM there (a hole in physical memory, or past
    /// its end).
    NotRam,
    /// RAM the dump left out on purpose: makedumpfile's dump level (which
    /// class of page — zero, cache, user, free — is not recorded), or an
    /// ELF vmcore's segment that maps more than it holds (`None`: the
    /// level is not recorded).
    Excluded { dump_level: Option<u32> },
    /// The dump file ends before the page: it was cut short.
    Truncated,
    /// The writer stopped before writing the page (makedumpfile's
    /// incomplete flag).
    Incomplete,
    /// The page's bytes are in the file but do not decompress to a page.
    Corrupt,
    /// The record that locates the page (a page descriptor) is damaged.
    BadDescriptor,
    /// The index of which pages the dump holds (its bitmaps) is missing
    /// or damaged, so no page can be located.
    Unindexed,
    /// A part of a `--split` dump that was not given holds the page.
    OtherPart,
    /// The dump does not hold it and cannot say why.
    NotInDump,
}

/// makedumpfile's dump-level bits and the page classes they exclude.
const DUMP_LEVEL_CLASSES: [(u32, &str); 5] = [
    (1, "zero"),
    (2, "cache"),
    (4, "private cache"),
    (8, "user"),
    (16, "free"),
];

impl fmt::Display for Absence {
    /// A predicate for a subject ("physical 0x1000 …").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Absence::NotRam => f.write_str("is not RAM: the machine had no memory there"),
            Absence::Excluded {
                dump_level: Some(level),
            } => {
                let classes: Vec<&str> = DUMP_LEVEL_CLASSES
                    .iter()
                    .filter(|(bit, _)| level & bit != 0)
                    .map(|(_, name)| *name)
                    .collect();
                match classes.as_slice() {
                    [] => write!(f, "was left out of the dump (dump level {level})"),
                    [one] => write!(f, "was excluded by dump level {level} (a {one} page)"),
                    [rest @ .., last] => write!(
                        f,
                        "was excluded by dump level {level} (a {} or {last} page; the dump does \
                         not record which)",
                        rest.join(", ")
                    ),
                }
            }
            Absence::Excluded { dump_level: None } => f.write_str(
                "was left out of the dump by its writer (its segment maps more than it holds; \
                 the dump level is not recorded)",
            ),
            Absence::Truncated => f.write_str("is lost: the dump file ends before its page"),
            Absence::Incomplete => f.write_str(
                "is lost: the dump is incomplete (its writer stopped before writing this page)",
            ),
            Absence::Corrupt => {
                f.write_str("is damaged: its page in the file does not decompress to one page")
            }
            Absence::BadDescriptor => {
                f.write_str("cannot be read: the page descriptor that locates it is damaged")
            }
            Absence::Unindexed => {
                f.write_str("cannot be located: the dump's page bitmaps are missing or damaged")
            }
            Absence::OtherPart => {
                f.write_str("is in a part of the --split dump that was not given")
            }
            Absence::NotInDump => f.write_str("is not in the dump"),
        }
    }
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemoryError::Unmapped { address } => write!(f, "{address:#x} is not mapped"),
            MemoryError::NotCaptured { address } => {
                write!(
                    f,
                    "{address:#x} is mapped but its bytes are not in the image"
                )
            }
            MemoryError::NotPresent { address, level } => write!(
                f,
                "{address:#x} is not mapped: its {level} entry in the kernel's page tables is not present"
            ),
            MemoryError::BadPageTable {
                address,
                level,
                entry,
            } => write!(
                f,
                "{address:#x} cannot be translated: its {level} entry {entry:#x} is not a valid \
                 entry (a damaged page table)"
            ),
            MemoryError::TableAbsent {
                address,
                level,
                table,
                reason,
            } => write!(
                f,
                "{address:#x} cannot be translated: the {level} page that maps it (physical \
                 {table:#x}) {reason}"
            ),
            MemoryError::Absent {
                address,
                physical,
                reason,
            } if address == physical => write!(f, "physical {physical:#x} {reason}"),
            MemoryError::Absent {
                address,
                physical,
                reason,
            } => write!(f, "{address:#x} (physical {physical:#x}) {reason}"),
        }
    }
}

impl std::error::Error for MemoryError {}

/// `len` bytes of an address space from `address` on, held by a file of
/// the image itself at `offset` (CRIU: a pagemap entry's pages in
/// `pages-N.img`). Lets a damaged byte range of that file be named in
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// The file's name inside the image (`pages-1.img`).
    pub file: String,
    pub offset: u64,
    pub address: u64,
    pub len: u64,
}

/// A saved address space.
pub trait Memory: Send + Sync {
    /// Copies bytes starting at `address` into `buf`; returns how many bytes
    /// were copied contiguously (at least 1 on success, at most `buf.len()`).
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError>;

    /// The parts of `[start, end)` whose bytes the image itself holds (not
    /// an original file standing in for them), sorted and disjoint; None
    /// when this address space cannot tell without reading. `diff` walks
    /// these instead of probing every page of a huge sparse mapping.
    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        let _ = (start, end);
        None
    }

    /// The image's own bytes of `[address, address + len)` as a window on
    /// the buffer that holds them (no copy), when one buffer holds them all
    /// and `read` would return exactly these bytes; None otherwise, and the
    /// caller copies them with `read`. A reader that streams a whole image
    /// (`diff`) uses it to skip the copy and to release what it has read
    /// ([`Bytes::release_resident`]).
    fn lend(&self, address: u64, len: u64) -> Option<Bytes> {
        let _ = (address, len);
        None
    }

    /// What the bytes from `address` on (up to `end`) are without reading
    /// them: [`Extent::Hole`] when `read` would return that many zeros
    /// that the image file stores as a hole, [`Extent::Data`] when they
    /// must be read to be known (or cannot be read: `read` says so). The
    /// extent is never empty when `address < end`. `diff` counts holes
    /// instead of reading them.
    fn extent(&self, address: u64, end: u64) -> Extent {
        Extent::Data(end.saturating_sub(address))
    }

    /// Where files of a multi-file image hold this address space's bytes,
    /// sorted by file and offset; empty when the format keeps memory in
    /// no such file (or cannot tell).
    fn stored_runs(&self) -> Vec<StoredRun> {
        Vec::new()
    }

    /// Reads every page this address space says it holds and reports the
    /// ones that cannot be read (damaged records, pages that do not
    /// decompress) — verify's full pass over a compressed dump. The
    /// default has nothing to add to what the reader found while opening:
    /// plain file bytes are either in the file or not. `progress` hears
    /// (pages checked, pages to check) as the pass goes.
    fn check_pages(&self, progress: &dyn Fn(u64, u64)) -> Vec<PageCheck> {
        let _ = progress;
        Vec::new()
    }
}

/// What a full pass over an address space's pages found unreadable, one
/// entry per kind of failure, counted with the first few PFNs: verify
/// turns it into findings (memory knows nothing of findings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCheck {
    pub kind: PageCheckKind,
    /// How many pages failed this way.
    pub count: u64,
    /// The first few of them.
    pub pfns: Vec<u64>,
    /// Why the first one failed.
    pub first_reason: String,
    pub page_size: u64,
    /// The file of a multi-file dump that holds them.
    pub file: Option<String>,
}

/// How a page failed a full pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCheckKind {
    /// Its record (descriptor) locates no readable data.
    Damaged,
    /// Its data does not decompress to a page.
    Corrupt,
}

/// Sorts `ranges` and joins the ones that touch or overlap.
pub fn merge_ranges(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|r| r.0 < r.1);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => out.push(r),
        }
    }
    out
}

impl dyn Memory + '_ {
    /// Fills `buf` completely or fails at the first byte that cannot be read.
    pub fn read_exact(&self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = address.wrapping_add(done as u64);
            let n = self.read(at, &mut buf[done..])?;
            if n == 0 {
                return Err(MemoryError::NotCaptured { address: at });
            }
            done += n;
        }
        Ok(())
    }

    pub fn read_u32(&self, address: u64) -> Result<u32, MemoryError> {
        let mut b = [0u8; 4];
        self.read_exact(address, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn read_u64(&self, address: u64) -> Result<u64, MemoryError> {
        let mut b = [0u8; 8];
        self.read_exact(address, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads a little-endian pointer of `size` (4 or 8) bytes.
    pub fn read_pointer(&self, address: u64, size: u8) -> Result<u64, MemoryError> {
        if size == 4 {
            self.read_u32(address).map(u64::from)
        } else {
            self.read_u64(address)
        }
    }

    /// Reads as many bytes as are readable from `address`, up to `buf.len()`.
    pub fn read_available(&self, address: u64, buf: &mut [u8]) -> usize {
        let mut done = 0usize;
        while done < buf.len() {
            match self.read(address.wrapping_add(done as u64), &mut buf[done..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        done
    }
}

/// A range of virtual addresses whose first `captured` bytes sit at
/// `offset` in some byte source.
#[derive(Debug, Clone)]
pub struct Segment {
    pub address: u64,
    /// Size of the mapping in memory.
    pub size: u64,
    /// How many of its bytes are present, starting at `offset`.
    pub captured: u64,
    pub offset: u64,
    pub bytes: Bytes,
}

impl Segment {
    fn end(&self) -> u64 {
        self.address.saturating_add(self.size)
    }
}

/// Segments sorted by start address, with a [`RangeIndex`] over them.
#[derive(Debug, Default)]
struct SegmentIndex {
    segments: Vec<Segment>,
    index: RangeIndex,
}

impl SegmentIndex {
    fn new(mut segments: Vec<Segment>) -> Self {
        segments.sort_by_key(|s| s.address);
        let index = RangeIndex::new(segments.iter().map(|s| (s.address, s.end())));
        SegmentIndex { segments, index }
    }

    /// Adds a segment after those starting at or before it.
    fn insert(&mut self, segment: Segment) {
        let at = self
            .segments
            .partition_point(|s| s.address <= segment.address);
        self.segments.insert(at, segment);
        self.index = RangeIndex::new(self.segments.iter().map(|s| (s.address, s.end())));
    }

    /// Of the segments containing `address`, the one that starts last (for
    /// equal starts, the one given last): nested ranges resolve to the
    /// innermost.
    fn find(&self, address: u64) -> Option<&Segment> {
        self.segments.get(self.index.find(address)?)
    }
}

/// Memory made of segments of image bytes (PT_LOADs, memory descriptors),
/// with optional fallback segments that supply bytes the image left out
/// (for example file-backed text read from the original, identity-checked,
/// file).
#[derive(Debug, Default)]
pub struct SegmentMemory {
    segments: SegmentIndex,
    fallbacks: SegmentIndex,
}

impl SegmentMemory {
    /// Builds the address space. Segments are sorted; when several contain
    /// an address, reading there starts in the one that starts last.
    pub fn new(mut segments: Vec<Segment>) -> Self {
        segments.retain(|s| s.size > 0);
        for s in &mut segments {
            // Never trust a captured length past the end of the source.
            let avail = (s.bytes.len() as u64).saturating_sub(s.offset);
            s.captured = s.captured.min(avail).min(s.size);
        }
        SegmentMemory {
            segments: SegmentIndex::new(segments),
            fallbacks: SegmentIndex::default(),
        }
    }

    /// Adds a source for bytes the primary segments mark as not captured.
    pub fn add_fallback(&mut self, mut segment: Segment) {
        let avail = (segment.bytes.len() as u64).saturating_sub(segment.offset);
        segment.captured = segment.captured.min(avail).min(segment.size);
        self.fallbacks.insert(segment);
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments.segments
    }

    fn copy_from(seg: &Segment, address: u64, buf: &mut [u8]) -> Option<usize> {
        let rel = address - seg.address;
        if rel >= seg.captured {
            return None;
        }
        let n = (seg.captured - rel).min(buf.len() as u64) as usize;
        let start = (seg.offset + rel) as usize;
        let src = seg.bytes.get(start..start + n)?;
        buf[..n].copy_from_slice(src);
        Some(n)
    }
}

impl Memory for SegmentMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let primary = self.segments.find(address);
        if let Some(seg) = primary
            && let Some(n) = Self::copy_from(seg, address, buf)
        {
            return Ok(n);
        }
        if let Some(fb) = self.fallbacks.find(address)
            && let Some(n) = Self::copy_from(fb, address, buf)
        {
            // Do not run past the end of the primary segment's mapping.
            let limit = primary
                .map(|p| p.end() - address)
                .unwrap_or(u64::MAX)
                .min(n as u64) as usize;
            return Ok(limit.max(1));
        }
        if primary.is_some() {
            Err(MemoryError::NotCaptured { address })
        } else {
            Err(MemoryError::Unmapped { address })
        }
    }

    fn lend(&self, address: u64, len: u64) -> Option<Bytes> {
        // The segment `read` would copy from, and only when it holds all of
        // the range: anything else (a fallback file, a second segment) is
        // left to `read`.
        let seg = self.segments.find(address)?;
        let rel = address - seg.address;
        if len == 0 || rel.checked_add(len)? > seg.captured {
            return None;
        }
        let start = usize::try_from(seg.offset.checked_add(rel)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        seg.bytes.slice(start..end)
    }

    fn extent(&self, address: u64, end: u64) -> Extent {
        let all = Extent::Data(end.saturating_sub(address));
        if address >= end {
            return all;
        }
        // The segment `read` copies from, up to where it stops holding the
        // bytes or a later-starting segment may take over.
        let Some(seg) = self.segments.find(address) else {
            return all;
        };
        let rel = address - seg.address;
        // A fully stored source is data throughout: one answer to the end,
        // so a caller's chunks do not follow segment boundaries.
        if rel >= seg.captured || !seg.bytes.may_have_holes() {
            return all;
        }
        let next = self
            .segments
            .segments
            .partition_point(|s| s.address <= address);
        let next_start = self
            .segments
            .segments
            .get(next)
            .map_or(u64::MAX, |s| s.address);
        let limit = end
            .min(seg.address.saturating_add(seg.captured))
            .min(next_start);
        let Some(at) = seg
            .offset
            .checked_add(rel)
            .and_then(|o| usize::try_from(o).ok())
        else {
            return all;
        };
        match seg.bytes.extent(at, limit - address) {
            Extent::Data(0) | Extent::Hole(0) => all,
            extent => extent,
        }
    }

    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        // Only the primary segments: fallbacks are original files, not
        // bytes of the image.
        let ranges = self
            .segments()
            .iter()
            .map(|s| {
                let captured_end = s.address.saturating_add(s.captured);
                (s.address.max(start), captured_end.min(end))
            })
            .collect();
        Some(merge_ranges(ranges))
    }
}

/// Memory with nothing in it (images that carry no memory).
pub struct NoMemory;

impl Memory for NoMemory {
    fn read(&self, address: u64, _buf: &mut [u8]) -> Result<usize, MemoryError> {
        Err(MemoryError::Unmapped { address })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rss of the mapping that starts at `addr`, from /proc/self/smaps (KiB).
    #[cfg(target_os = "linux")]
    fn mapping_rss_kib(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines();
        while let Some(line) = lines.next() {
            let start = line.split('-').next().unwrap();
            if usize::from_str_radix(start, 16).ok() != Some(addr) {
                continue;
            }
            for l in lines.by_ref() {
                if let Some(v) = l.strip_prefix("Rss:") {
                    return v.trim().trim_end_matches("kB").trim().parse().unwrap();
                }
            }
        }
        panic!("no mapping at {addr:#x} in /proc/self/smaps");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn released_pages_leave_the_resident_set_not_the_bytes() {
        use std::io::Write;
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let bytes = Bytes::map_file(&f).unwrap();
        let addr = bytes.as_ptr() as usize;
        // Read every page: all 4 MiB are resident in this mapping.
        assert_eq!(&bytes[..], &data[..]);
        assert_eq!(mapping_rss_kib(addr), 4096);
        // A window of the map releases its range (the kernel may drop a
        // whole huge mapping around it, never the far end of the map).
        let window = bytes.slice(1 << 20..2 << 20).unwrap();
        window.release_resident(0..1 << 20);
        let rss = mapping_rss_kib(addr);
        assert!((2048..=3072).contains(&rss), "rss {rss} KiB");
        bytes.release_resident(0..bytes.len());
        assert_eq!(mapping_rss_kib(addr), 0);
        // Out-of-range and empty ranges are ignored.
        bytes.release_resident(0..bytes.len() + 1);
        window.release_resident(5..5);
        // The bytes read the same afterwards.
        assert_eq!(&bytes[..], &data[..]);
        assert_eq!(&window[..], &data[1 << 20..2 << 20]);
        // Owned bytes are left alone.
        let owned = Bytes::from_vec(data.clone());
        owned.release_resident(0..owned.len());
        assert_eq!(&owned[..], &data[..]);
    }

    /// A file of `len` bytes, all a hole but 4 KiB of 0x77 at each of
    /// `data` (multiples of 4096, where every file system stores a block).
    #[cfg(target_os = "linux")]
    fn sparse_file(len: u64, data: &[u64]) -> std::fs::File {
        use std::os::unix::fs::FileExt;
        let f = tempfile::tempfile().unwrap();
        f.set_len(len).unwrap();
        for &at in data {
            f.write_all_at(&[0x77; 4096], at).unwrap();
        }
        f
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn holes_of_a_sparse_file_are_told_without_reading() {
        const MIB: u64 = 1 << 20;
        let f = sparse_file(64 * MIB, &[MIB, 32 * MIB]);
        let bytes = Bytes::map_file(&f).unwrap();
        // Where the file system cannot tell (no SEEK_DATA, or no /proc to
        // reopen the file through), all is data
        // and the rest of this test does not apply.
        if bytes.extent(0, u64::MAX) == Extent::Data(64 * MIB) {
            eprintln!("no SEEK_HOLE here: holes are read");
            return;
        }
        assert!(bytes.may_have_holes());
        assert_eq!(bytes.extent(0, u64::MAX), Extent::Hole(MIB));
        assert_eq!(bytes.extent(100, 50), Extent::Hole(50));
        let Extent::Data(n) = bytes.extent(MIB as usize, u64::MAX) else {
            panic!("the written block is data");
        };
        assert!((4096..MIB).contains(&n), "{n}");
        // The last hole runs to the end of the file, never past it.
        let tail = 40 * MIB;
        assert_eq!(
            bytes.extent(tail as usize, u64::MAX),
            Extent::Hole(24 * MIB)
        );
        assert_eq!(bytes.extent(64 * MIB as usize, 9), Extent::Data(0));
        // A window answers in its own offsets.
        let window = bytes.slice(MIB as usize - 4096..2 * MIB as usize).unwrap();
        assert_eq!(window.extent(0, u64::MAX), Extent::Hole(4096));
        assert!(matches!(window.extent(4096, u64::MAX), Extent::Data(_)));

        // Through segments: a segment holding the file from 0x1000 on,
        // and a nested one from 0x10_0000 whose bytes are the data block.
        let mem = SegmentMemory::new(vec![
            seg(0x1_0000_0000, 64 * MIB, 64 * MIB - 0x1000, 0x1000, &bytes),
            seg(0x1_0100_0000, 0x2000, 0x1000, MIB, &bytes),
        ]);
        let base = 0x1_0000_0000u64;
        assert_eq!(mem.extent(base, u64::MAX), Extent::Hole(MIB - 0x1000));
        // Up to where the nested segment takes over, not the file's hole.
        assert_eq!(
            mem.extent(base + 0x80_0000, u64::MAX),
            Extent::Hole(0x80_0000)
        );
        assert!(matches!(
            mem.extent(0x1_0100_0000, u64::MAX),
            Extent::Data(_)
        ));
        // Past the nested segment's captured bytes: read (and fall back).
        assert_eq!(mem.extent(0x1_0100_1000, 0x1_0100_1010), Extent::Data(0x10));
        // The outer segment's captured end bounds its last hole.
        assert_eq!(
            mem.extent(base + 48 * MIB, u64::MAX),
            Extent::Hole(16 * MIB - 0x1000)
        );
        assert_eq!(mem.extent(base + 10, base + 10), Extent::Data(0));
        assert_eq!(mem.extent(0x10, 0x20), Extent::Data(0x10));
        let mut buf = [1u8; 16];
        (&mem as &dyn Memory)
            .read_exact(base + 0x80_0000, &mut buf)
            .unwrap();
        assert_eq!(buf, [0; 16]);
    }

    #[test]
    fn fully_stored_and_owned_bytes_are_all_data() {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0u8; 1 << 20]).unwrap();
        let mapped = Bytes::map_file(&f).unwrap();
        assert_eq!(mapped.extent(0, u64::MAX), Extent::Data(1 << 20));
        let owned = Bytes::from_vec(vec![0u8; 100]);
        assert_eq!(owned.extent(10, 1000), Extent::Data(90));
        assert_eq!(NoMemory.extent(5, 10), Extent::Data(5));
        assert!(!mapped.may_have_holes() && !owned.may_have_holes());
        // One answer to the end, whatever the segments.
        let mem = SegmentMemory::new(vec![
            seg(0x1000, 0x10, 0x10, 0, &mapped),
            seg(0x1010, 0x10, 0x10, 0x100, &mapped),
        ]);
        assert_eq!(mem.extent(0x1004, 0x9000), Extent::Data(0x7ffc));
    }

    fn seg(address: u64, size: u64, captured: u64, offset: u64, bytes: &Bytes) -> Segment {
        Segment {
            address,
            size,
            captured,
            offset,
            bytes: bytes.clone(),
        }
    }

    #[test]
    fn reads_across_segments_and_reports_holes() {
        let data = Bytes::from_vec((0u8..=255).collect());
        let mem = SegmentMemory::new(vec![
            seg(0x1000, 0x10, 0x10, 0, &data),
            seg(0x1010, 0x10, 0x8, 0x40, &data),
        ]);
        let mem: &dyn Memory = &mem;
        let mut buf = [0u8; 0x18];
        mem.read_exact(0x1000, &mut buf).unwrap();
        assert_eq!(buf[0x0f], 0x0f);
        assert_eq!(buf[0x10], 0x40);
        assert_eq!(buf[0x17], 0x47);
        assert_eq!(
            mem.read_u64(0x1018),
            Err(MemoryError::NotCaptured { address: 0x1018 })
        );
        assert_eq!(
            mem.read_u32(0x2000),
            Err(MemoryError::Unmapped { address: 0x2000 })
        );
    }

    #[test]
    fn captured_length_is_clamped_to_the_source() {
        let data = Bytes::from_vec(vec![7u8; 16]);
        // Claims 4096 captured bytes at offset 8 of a 16-byte file.
        let mem = SegmentMemory::new(vec![seg(0x5000, 0x1000, 0x1000, 8, &data)]);
        let mem: &dyn Memory = &mem;
        let mut buf = [0u8; 32];
        assert_eq!(mem.read_available(0x5000, &mut buf), 8);
        assert!(mem.read_u64(0x5008).is_err());
    }

    #[test]
    fn absent_bytes_say_why_in_words() {
        let excluded = |level| Absence::Excluded {
            dump_level: Some(level),
        };
        assert_eq!(
            excluded(8).to_string(),
            "was excluded by dump level 8 (a user page)"
        );
        assert_eq!(
            excluded(17).to_string(),
            "was excluded by dump level 17 (a zero or free page; the dump does not record which)"
        );
        assert_eq!(
            excluded(0).to_string(),
            "was left out of the dump (dump level 0)"
        );
        let e = MemoryError::Absent {
            address: 0x5000,
            physical: 0x5000,
            reason: Absence::Truncated,
        };
        assert_eq!(
            e.to_string(),
            "physical 0x5000 is lost: the dump file ends before its page"
        );
        assert_eq!(
            (e.address(), e.absence()),
            (0x5000, Some(Absence::Truncated))
        );
        let e = MemoryError::NotPresent {
            address: 0x7000,
            level: PageTableLevel::Pmd,
        };
        assert_eq!((e.address(), e.absence()), (0x7000, None));
    }

    #[test]
    fn slices_share_the_source_and_are_bounded() {
        let data = Bytes::from_vec((0u8..100).collect());
        let mid = data.slice(10..20).unwrap();
        assert_eq!(&mid[..], &(10u8..20).collect::<Vec<_>>()[..]);
        let inner = mid.slice(2..5).unwrap();
        assert_eq!(&inner[..], &[12, 13, 14]);
        assert!(inner.shares_source_with(&data));
        assert!(mid.slice(5..11).is_none());
        assert!(data.slice(100..100).unwrap().is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = data.slice(5..4);
        assert!(backwards.is_none());
    }

    #[test]
    fn lent_bytes_are_what_read_copies() {
        let data = Bytes::from_vec((0u8..=255).collect());
        let file = Bytes::from_vec(vec![9u8; 64]);
        let mut mem = SegmentMemory::new(vec![
            seg(0x1000, 0x10, 0x10, 0, &data),
            seg(0x1010, 0x20, 0x8, 0x40, &data),
        ]);
        mem.add_fallback(seg(0x1010, 0x20, 0x20, 0, &file));
        let lent = mem.lend(0x1004, 8).unwrap();
        assert_eq!(&lent[..], &[4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(lent.shares_source_with(&data));
        // The captured part of the second segment, at its own offset.
        assert_eq!(
            &mem.lend(0x1012, 6).unwrap()[..],
            &[0x42, 0x43, 0x44, 0x45, 0x46, 0x47]
        );
        // Across two segments, into the fallback's bytes, empty, unmapped:
        // not lent (read copies what it can).
        assert!(mem.lend(0x100c, 8).is_none());
        assert!(mem.lend(0x1014, 8).is_none());
        assert!(mem.lend(0x1000, 0).is_none());
        assert!(mem.lend(0x9000, 1).is_none());
        assert!(mem.lend(0x1000, u64::MAX).is_none());
        assert!(NoMemory.lend(0x1000, 1).is_none());
    }

    #[test]
    fn fallback_fills_absent_bytes() {
        let core = Bytes::from_vec(vec![1u8; 4]);
        let file = Bytes::from_vec(vec![9u8; 64]);
        let mut mem = SegmentMemory::new(vec![seg(0x1000, 0x20, 4, 0, &core)]);
        mem.add_fallback(seg(0x1000, 0x20, 0x20, 0, &file));
        let mem: &dyn Memory = &mem;
        let mut buf = [0u8; 8];
        mem.read_exact(0x1000, &mut buf).unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 9, 9, 9, 9]);
    }

    #[test]
    fn an_address_covered_behind_nine_overlapping_segments_is_mapped() {
        let data = Bytes::from_vec((0u8..=255).cycle().take(0x2000).collect());
        // One PT_LOAD spanning the rest, and nine small ones starting inside
        // it, all before the address read.
        let mut segments = vec![seg(0x10_0000, 0x2000, 0x2000, 0, &data)];
        for i in 0..9u64 {
            segments.push(seg(0x10_0100 + i * 0x100, 0x10, 0x10, 0x40, &data));
        }
        let mem = SegmentMemory::new(segments);
        let mem: &dyn Memory = &mem;
        assert_eq!(
            mem.read_u32(0x10_1800),
            Ok(u32::from_le_bytes([0, 1, 2, 3]))
        );
        // Inside a nested segment, its own bytes win.
        assert_eq!(mem.read_u32(0x10_0300), Ok(0x4342_4140));
        assert_eq!(mem.read_u32(0x10_0310), Ok(0x1312_1110));
        assert_eq!(
            mem.read_u32(0x10_2000),
            Err(MemoryError::Unmapped { address: 0x10_2000 })
        );
        assert_eq!(
            mem.read_u32(0xf_ffff),
            Err(MemoryError::Unmapped { address: 0xf_ffff })
        );
    }

    #[test]
    fn overlapping_segments_resolve_like_a_linear_search() {
        // Compare with the plain definition (last-starting containing
        // segment, ties to the one given last) on a deterministic mix of
        // nested, chained, equal-start and disjoint segments.
        let data = Bytes::from_vec((0u8..=255).collect());
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut segments = Vec::new();
        for _ in 0..300 {
            let address = next() % 0x4000;
            let size = 1 + next() % 0x800;
            let offset = next() % 0x100;
            segments.push(seg(address, size, size, offset, &data));
        }
        let mem = SegmentMemory::new(segments.clone());
        segments.sort_by_key(|s| s.address);
        for address in (0..0x4900).step_by(7) {
            let expected = segments
                .iter()
                .rposition(|s| s.address <= address && address < s.end());
            let found = mem
                .segments
                .find(address)
                .map(|f| (f.address, f.size, f.offset));
            assert_eq!(
                found,
                expected.map(|i| (segments[i].address, segments[i].size, segments[i].offset)),
                "{address:#x}"
            );
        }
    }
}
