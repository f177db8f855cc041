//! makedumpfile's kdump-compressed format (`KDUMP   `, and the older
//! `DISKDUMP`) read as a physical address space.
//!
//! Layout (all little-endian, block = the header's block_size, the page
//! size): block 0 the header, then `sub_hdr_size` blocks of kdump
//! sub-header, then `bitmap_blocks` blocks of two equal bitmaps (1st: the
//! PFN is RAM, 2nd: the page was dumped; LSB first), then one 24-byte page
//! descriptor per set bit of the 2nd bitmap in PFN order, then the pages.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::finding::{Finding, registry};
use crate::memory::{Absence, Bytes, Memory, MemoryError, PageCheck, PageCheckKind};

/// A dump file readable at any offset: a plain (mapped) file, or the file
/// a flattened stream carries.
pub trait DumpFile: Send + Sync {
    /// The file's size. (Named `size`, not `len`: on [`Bytes`] a trait
    /// `len` would shadow the slice's `len` wherever the trait is in scope.)
    fn size(&self) -> u64;
    /// How many bytes the input really holds: what a reader may allocate
    /// for (a flattened stream may carry a large file made mostly of gaps).
    fn stored_bytes(&self) -> u64 {
        self.size()
    }
    /// Copies bytes from `offset` into `buf`; returns how many (fewer only
    /// at the end of the file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Whether the input lost bytes of the file it carries (a flattened
    /// stream cut short): pages it describes may be missing.
    fn cut_short(&self) -> bool {
        false
    }
    /// Whether the input holds all of `[offset, offset + len)` (a
    /// flattened stream may leave gaps that read as zeros).
    fn holds(&self, offset: u64, len: u64) -> bool {
        offset
            .checked_add(len)
            .is_some_and(|end| end <= self.size())
    }
}

impl DumpFile for Bytes {
    fn size(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let all: &[u8] = self;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= all.len() {
            return Ok(0);
        }
        let n = buf.len().min(all.len() - start);
        buf[..n].copy_from_slice(&all[start..start + n]);
        Ok(n)
    }
}

/// `len` bytes at `offset`, or None when they are not all in the file or
/// more than the input holds.
fn read_exact_at(src: &dyn DumpFile, offset: u64, len: u64) -> Option<Vec<u8>> {
    let end = offset.checked_add(len)?;
    if end > src.size() || len > src.stored_bytes() {
        return None;
    }
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    let mut done = 0usize;
    while done < buf.len() {
        let n = src.read_at(offset + done as u64, &mut buf[done..]).ok()?;
        if n == 0 {
            return None;
        }
        done += n;
    }
    Some(buf)
}

/// Whether `first_bytes` start a kdump-compressed file.
pub fn is_kdump_compressed(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(SIGNATURE_KDUMP) || first_bytes.starts_with(SIGNATURE_DISKDUMP)
}

const SIGNATURE_KDUMP: &[u8; 8] = b"KDUMP   ";
const SIGNATURE_DISKDUMP: &[u8; 8] = b"DISKDUMP";

/// Status bits of the header.
pub mod status {
    pub const COMPRESSED_ZLIB: u32 = 0x1;
    pub const COMPRESSED_LZO: u32 = 0x2;
    pub const COMPRESSED_SNAPPY: u32 = 0x4;
    /// The writer stopped early: trailing descriptors are zero.
    pub const INCOMPLETE: u32 = 0x8;
    pub const EXCLUDED_VMEMMAP: u32 = 0x10;
    pub const COMPRESSED_ZSTD: u32 = 0x20;
}

/// Compression flags of a page descriptor.
pub mod page_flags {
    pub const ZLIB: u32 = 0x1;
    pub const LZO: u32 = 0x2;
    pub const SNAPPY: u32 = 0x4;
    pub const ZSTD: u32 = 0x20;
}

const PAGE_DESC_SIZE: u64 = 24;
/// The sub-header regions (VMCOREINFO, notes, eraseinfo) are a few KiB;
/// anything past this is damage, never a reason to allocate.
const MAX_REGION: u64 = 64 << 20;
/// Decompressed pages kept (1 MiB): a page-table walk reads the same few
/// pages, and BTF and kallsyms are read in passes over a few hundred.
const CACHE_PAGES: usize = 256;
/// Failed pages listed by PFN in a finding (all are counted).
const LISTED_FAILURES: usize = 8;
/// Descriptors read at once by a pass over the table (96 KiB).
const DESCRIPTOR_CHUNK: u64 = 4096;
/// Descriptors at the end of the table looked at for a file cut inside
/// its page data.
const TAIL_DESCRIPTORS: u64 = 64;

/// Which C data model wrote the header (`long` and `struct timeval` width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Bits64,
    /// i386 (8-byte integers 4-aligned).
    Bits32I386,
    /// Other 32-bit machines (8-byte integers 8-aligned: arm, ppc, mips).
    Bits32,
}

/// Offsets of the header fields after the utsname, per layout.
struct HeaderOffsets {
    timeval: usize,
    /// Width of tv_sec / tv_usec.
    long: usize,
    status: usize,
}

impl Layout {
    fn header(self) -> HeaderOffsets {
        match self {
            // utsname ends at 12 + 6 * 65 = 402; timeval aligned to 8.
            Layout::Bits64 => HeaderOffsets {
                timeval: 408,
                long: 8,
                status: 424,
            },
            // ...aligned to 4, two 4-byte longs.
            Layout::Bits32I386 | Layout::Bits32 => HeaderOffsets {
                timeval: 404,
                long: 4,
                status: 412,
            },
        }
    }
}

/// The disk_dump_header (block 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdumpHeader {
    /// `KDUMP` or `DISKDUMP` (trailing blanks removed).
    pub signature: String,
    pub layout: Layout,
    pub header_version: i32,
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
    /// Dump time: seconds and microseconds since the epoch.
    pub timestamp_sec: i64,
    pub timestamp_usec: i64,
    /// [`status`] bits.
    pub status: u32,
    pub block_size: u32,
    /// Blocks of sub-header after block 0.
    pub sub_hdr_size: u32,
    /// Blocks of both bitmaps together.
    pub bitmap_blocks: u32,
    /// The 32-bit max_mapnr (obsolete from header version 6).
    pub max_mapnr_32: u32,
    pub total_ram_blocks: u32,
    pub device_blocks: u32,
    pub written_blocks: u32,
    pub current_cpu: u32,
    pub nr_cpus: u32,
}

impl KdumpHeader {
    /// makedumpfile stopped before writing every page (disk full).
    pub fn is_incomplete(&self) -> bool {
        self.status & status::INCOMPLETE != 0
    }
    /// The compression the status names: "zlib", "lzo", "snappy", "zstd",
    /// or None (pages stored raw, or the old format's status).
    pub fn compression(&self) -> Option<&'static str> {
        [
            (status::COMPRESSED_ZLIB, "zlib"),
            (status::COMPRESSED_LZO, "lzo"),
            (status::COMPRESSED_SNAPPY, "snappy"),
            (status::COMPRESSED_ZSTD, "zstd"),
        ]
        .into_iter()
        .find(|(bit, _)| self.status & bit != 0)
        .map(|(_, name)| name)
    }
}

/// The kdump_sub_header (block 1); each field is there from the header
/// version named beside it, None before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KdumpSubHeader {
    /// v1.
    pub phys_base: u64,
    /// v1: makedumpfile's -d level (which page classes were excluded).
    pub dump_level: i32,
    /// v2: the file is one part of a `--split` set holding `[start_pfn, end_pfn)`.
    pub split: Option<bool>,
    pub start_pfn: Option<u64>,
    pub end_pfn: Option<u64>,
    /// v3: (offset, size) of the VMCOREINFO text.
    pub vmcoreinfo: Option<(u64, u64)>,
    /// v4: (offset, size) of the ELF notes (NT_PRSTATUS per CPU, VMCOREINFO).
    pub notes: Option<(u64, u64)>,
    /// v5: (offset, size) of the eraseinfo lines.
    pub eraseinfo: Option<(u64, u64)>,
    /// v6: the 64-bit max_mapnr (and start/end PFN above from their 64-bit fields).
    pub max_mapnr_64: Option<u64>,
}

/// Where each sub-header field is, as (offset, width).
struct SubOffsets {
    phys_base: (usize, usize),
    start_pfn: (usize, usize),
    end_pfn: (usize, usize),
    off_vmcoreinfo: usize,
    size_vmcoreinfo: (usize, usize),
    off_note: usize,
    size_note: (usize, usize),
    off_eraseinfo: usize,
    size_eraseinfo: (usize, usize),
    start_pfn_64: usize,
    end_pfn_64: usize,
    max_mapnr_64: usize,
    /// Bytes the v6 sub-header spans.
    len: usize,
}

impl Layout {
    fn sub_header(self) -> SubOffsets {
        match self {
            Layout::Bits64 => SubOffsets {
                phys_base: (0, 8),
                start_pfn: (16, 8),
                end_pfn: (24, 8),
                off_vmcoreinfo: 32,
                size_vmcoreinfo: (40, 8),
                off_note: 48,
                size_note: (56, 8),
                off_eraseinfo: 64,
                size_eraseinfo: (72, 8),
                start_pfn_64: 80,
                end_pfn_64: 88,
                max_mapnr_64: 96,
                len: 104,
            },
            Layout::Bits32I386 => SubOffsets {
                phys_base: (0, 4),
                start_pfn: (12, 4),
                end_pfn: (16, 4),
                off_vmcoreinfo: 20,
                size_vmcoreinfo: (28, 4),
                off_note: 32,
                size_note: (40, 4),
                off_eraseinfo: 44,
                size_eraseinfo: (52, 4),
                start_pfn_64: 56,
                end_pfn_64: 64,
                max_mapnr_64: 72,
                len: 80,
            },
            Layout::Bits32 => SubOffsets {
                phys_base: (0, 4),
                start_pfn: (12, 4),
                end_pfn: (16, 4),
                off_vmcoreinfo: 24,
                size_vmcoreinfo: (32, 4),
                off_note: 40,
                size_note: (48, 4),
                off_eraseinfo: 56,
                size_eraseinfo: (64, 4),
                start_pfn_64: 72,
                end_pfn_64: 80,
                max_mapnr_64: 88,
                len: 96,
            },
        }
    }
}

fn le(b: &[u8], off: usize, width: usize) -> u64 {
    let mut a = [0u8; 8];
    // Callers read inside buffers sized for the layout.
    a[..width].copy_from_slice(&b[off..off + width]);
    u64::from_le_bytes(a)
}

fn le_i64(b: &[u8], off: usize, width: usize) -> i64 {
    let v = le(b, off, width);
    if width == 4 {
        v as u32 as i32 as i64
    } else {
        v as i64
    }
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// 32-bit machines as utsname.machine names them.
fn machine_is_32bit(machine: &str) -> Option<Layout> {
    match machine {
        "i386" | "i486" | "i586" | "i686" => Some(Layout::Bits32I386),
        "ppc" | "mips" | "s390" | "sparc" | "sh" => Some(Layout::Bits32),
        m if m.starts_with("arm") && m != "arm64" => Some(Layout::Bits32),
        _ => None,
    }
}

fn plausible_block_size(b: u32) -> bool {
    b.is_power_of_two() && (512..=1 << 20).contains(&b)
}

/// Bytes of block 0 the header needs (64-bit layout with nr_cpus).
const HEADER_LEN: usize = 464;

impl KdumpHeader {
    fn parse(b: &[u8]) -> Result<KdumpHeader, String> {
        if b.len() < HEADER_LEN {
            return Err(format!(
                "kdump-compressed header cut short: {} of {HEADER_LEN} bytes",
                b.len()
            ));
        }
        let signature = if b.starts_with(SIGNATURE_KDUMP) {
            "KDUMP"
        } else if b.starts_with(SIGNATURE_DISKDUMP) {
            "DISKDUMP"
        } else {
            return Err("not a kdump-compressed file (no KDUMP or DISKDUMP signature)".into());
        };
        let uts = |i: usize| c_string(&b[12 + 65 * i..12 + 65 * (i + 1)]);
        let machine = uts(4);
        let block_at = |l: Layout| le(b, l.header().status + 4, 4) as u32;
        // The machine decides; a block size that makes sense only in the
        // other layout overrides it (a damaged or unknown machine name).
        let mut layout = machine_is_32bit(&machine).unwrap_or(Layout::Bits64);
        if !plausible_block_size(block_at(layout)) {
            let other = if layout == Layout::Bits64 {
                Layout::Bits32
            } else {
                Layout::Bits64
            };
            if plausible_block_size(block_at(other)) {
                layout = other;
            }
        }
        let o = layout.header();
        let u32_at = |i: usize| le(b, o.status + 4 * i, 4) as u32;
        Ok(KdumpHeader {
            signature: signature.into(),
            layout,
            header_version: le(b, 8, 4) as u32 as i32,
            sysname: uts(0),
            nodename: uts(1),
            release: uts(2),
            version: uts(3),
            machine,
            domainname: uts(5),
            timestamp_sec: le_i64(b, o.timeval, o.long),
            timestamp_usec: le_i64(b, o.timeval + o.long, o.long),
            status: u32_at(0),
            block_size: u32_at(1),
            sub_hdr_size: u32_at(2),
            bitmap_blocks: u32_at(3),
            max_mapnr_32: u32_at(4),
            total_ram_blocks: u32_at(5),
            device_blocks: u32_at(6),
            written_blocks: u32_at(7),
            current_cpu: u32_at(8),
            nr_cpus: u32_at(9),
        })
    }
}

impl KdumpSubHeader {
    fn parse(b: &[u8], layout: Layout, version: i32) -> KdumpSubHeader {
        let o = layout.sub_header();
        let f = |(off, w): (usize, usize)| le(b, off, w);
        let mut s = KdumpSubHeader {
            phys_base: f(o.phys_base),
            dump_level: le(b, o.phys_base.1, 4) as u32 as i32,
            ..KdumpSubHeader::default()
        };
        if version >= 2 {
            s.split = Some(le(b, o.phys_base.1 + 4, 4) != 0);
            s.start_pfn = Some(f(o.start_pfn));
            s.end_pfn = Some(f(o.end_pfn));
        }
        if version >= 3 {
            s.vmcoreinfo = Some((le(b, o.off_vmcoreinfo, 8), f(o.size_vmcoreinfo)));
        }
        if version >= 4 {
            s.notes = Some((le(b, o.off_note, 8), f(o.size_note)));
        }
        if version >= 5 {
            s.eraseinfo = Some((le(b, o.off_eraseinfo, 8), f(o.size_eraseinfo)));
        }
        if version >= 6 {
            s.start_pfn = Some(le(b, o.start_pfn_64, 8));
            s.end_pfn = Some(le(b, o.end_pfn_64, 8));
            s.max_mapnr_64 = Some(le(b, o.max_mapnr_64, 8));
        }
        s
    }
}

/// A bitmap of PFNs with a rank index (set bits before each 512-PFN block).
struct Bitmap {
    words: Vec<u64>,
    /// Set bits before word `8 * i`.
    rank: Vec<u64>,
}

impl Bitmap {
    /// From LSB-first bytes, keeping only the first `bits` bits.
    fn new(bytes: &[u8], bits: u64) -> Bitmap {
        let mut words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect();
        let full = (bits / 64) as usize;
        if full < words.len() {
            if !bits.is_multiple_of(64) {
                words[full] &= (1u64 << (bits % 64)) - 1;
                words.truncate(full + 1);
            } else {
                words.truncate(full);
            }
        }
        let mut rank = Vec::with_capacity(words.len() / 8 + 1);
        let mut total = 0u64;
        for chunk in words.chunks(8) {
            rank.push(total);
            total += chunk.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        }
        rank.push(total);
        Bitmap { words, rank }
    }

    fn empty() -> Bitmap {
        Bitmap {
            words: Vec::new(),
            rank: vec![0],
        }
    }

    fn get(&self, bit: u64) -> bool {
        usize::try_from(bit / 64)
            .ok()
            .and_then(|i| self.words.get(i))
            .is_some_and(|w| w >> (bit % 64) & 1 == 1)
    }

    /// Set bits before `bit`.
    fn rank(&self, bit: u64) -> u64 {
        let word = bit / 64;
        if word >= self.words.len() as u64 {
            return self.count();
        }
        let word = word as usize;
        let block = word / 8;
        let mut r = self.rank[block];
        for w in &self.words[block * 8..word] {
            r += u64::from(w.count_ones());
        }
        let mask = (1u64 << (bit % 64)) - 1;
        r + u64::from((self.words[word] & mask).count_ones())
    }

    fn count(&self) -> u64 {
        self.rank.last().copied().unwrap_or(0)
    }
}

/// Why one page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFailure {
    pub pfn: u64,
    /// Which check: [`registry::KDUMP_DESCRIPTORS`] (bad descriptor, page
    /// outside the file, lost to an incomplete dump) or
    /// [`registry::KDUMP_PAGE_DECOMPRESS`].
    pub code: &'static str,
    pub reason: String,
    /// What a reader of the page is told.
    pub absence: Absence,
}

/// One page descriptor: where the page's bytes are and how they are
/// compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Descriptor {
    offset: u64,
    size: u64,
    flags: u32,
}

impl Descriptor {
    fn parse(b: &[u8]) -> Descriptor {
        Descriptor {
            offset: le(b, 0, 8),
            size: le(b, 8, 4),
            flags: le(b, 12, 4) as u32,
        }
    }
}

/// Counts failed pages of one check, listing the first few PFNs and the
/// first reason; bounded whatever the number of pages.
struct FailureTally {
    kind: PageCheckKind,
    count: u64,
    listed: Vec<u64>,
    first_reason: Option<String>,
}

impl FailureTally {
    fn new(kind: PageCheckKind) -> FailureTally {
        FailureTally {
            kind,
            count: 0,
            listed: Vec::new(),
            first_reason: None,
        }
    }

    fn add(&mut self, pfn: u64, reason: &str) {
        self.count += 1;
        if self.listed.len() < LISTED_FAILURES {
            self.listed.push(pfn);
        }
        if self.first_reason.is_none() {
            self.first_reason = Some(reason.to_string());
        }
    }

    fn page_check(self, page_size: u64) -> Option<PageCheck> {
        (self.count > 0).then(|| PageCheck {
            kind: self.kind,
            count: self.count,
            pfns: self.listed,
            first_reason: self.first_reason.unwrap_or_default(),
            page_size,
            file: None,
        })
    }

    fn finding(self, page_size: u64) -> Option<Finding> {
        self.page_check(page_size).map(|c| page_check_finding(&c))
    }
}

/// The finding for pages a pass found unreadable: how many, the first
/// PFNs, the first reason, and the file when the dump has several.
pub fn page_check_finding(c: &PageCheck) -> Finding {
    let check = match c.kind {
        PageCheckKind::Damaged => &registry::KDUMP_DESCRIPTORS,
        PageCheckKind::Corrupt => &registry::KDUMP_PAGE_DECOMPRESS,
    };
    let listed: Vec<String> = c.pfns.iter().map(|p| format!("{p:#x}")).collect();
    let more = c.count.saturating_sub(c.pfns.len() as u64);
    let finding = Finding::new(
        check,
        format!(
            "{} page(s) unreadable, PFN {}{}; first: {}",
            c.count,
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            c.first_reason
        ),
    )
    .at_address(
        c.pfns
            .first()
            .copied()
            .unwrap_or(0)
            .saturating_mul(c.page_size),
    );
    match &c.file {
        Some(file) => finding.about_path(file.clone()),
        None => finding,
    }
}

/// Dumped pages lost to a cut or an unfinished write: how many, and the
/// lowest and highest PFN.
#[derive(Default)]
struct LostPages {
    count: u64,
    range: Option<(u64, u64)>,
}

impl LostPages {
    fn add(&mut self, pfn: u64) {
        self.count += 1;
        self.range = Some(match self.range {
            Some((a, b)) => (a.min(pfn), b.max(pfn)),
            None => (pfn, pfn),
        });
    }

    /// "N of its M dumped pages, PFN a to b, are" (or "PFN a, is").
    fn describe(&self, dumped: u64) -> String {
        let pfns = match self.range {
            Some((a, b)) if a == b => format!("PFN {a:#x}"),
            Some((a, b)) => format!("PFN {a:#x} to {b:#x}"),
            None => "none".into(),
        };
        let verb = if self.count == 1 { "is" } else { "are" };
        format!(
            "{} of its {dumped} dumped pages, {pfns}, {verb}",
            self.count
        )
    }
}

/// A kdump-compressed dump: its header facts and its physical memory
/// ([`Memory`] with physical addresses).
pub struct KdumpCompressed {
    source: Arc<dyn DumpFile>,
    header: KdumpHeader,
    sub_header: Option<KdumpSubHeader>,
    max_mapnr: u64,
    ram: Bitmap,
    dumped: Bitmap,
    /// File offset of the first page descriptor.
    descriptors_at: u64,
    /// Descriptors the file holds (the table may be cut short).
    descriptors_in_file: u64,
    /// Rank of the first PFN this file holds (a split part's start_pfn).
    first_rank: u64,
    pfn_range: (u64, u64),
    /// The bitmaps were read: without them no PFN is known to be a hole.
    bitmaps_read: bool,
    /// makedumpfile's -d level, when the sub-header records it.
    dump_level: Option<u32>,
    /// The file ends before pages it describes (a cut copy, a descriptor
    /// table running past the end, a flattened stream cut short).
    cut: bool,
    findings: Vec<Finding>,
    cache: Mutex<VecDeque<(u64, Arc<[u8]>)>>,
    failures: Mutex<BTreeMap<u64, PageFailure>>,
}

impl std::fmt::Debug for KdumpCompressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KdumpCompressed")
            .field("header", &self.header)
            .field("sub_header", &self.sub_header)
            .field("max_mapnr", &self.max_mapnr)
            .finish_non_exhaustive()
    }
}

impl KdumpCompressed {
    /// Reads the header, sub-header and bitmaps of `source`. Errors when
    /// nothing can be located (not this format, header cut short, a block
    /// size that is no page size); every other problem is a finding and
    /// leaves what it concerns unreadable.
    pub fn parse(source: Arc<dyn DumpFile>) -> Result<KdumpCompressed, String> {
        let head_len = source.size().min(HEADER_LEN as u64);
        let head = read_exact_at(&*source, 0, head_len)
            .ok_or_else(|| "kdump-compressed header unreadable".to_string())?;
        let header = KdumpHeader::parse(&head)?;
        let bs = u64::from(header.block_size);
        if !plausible_block_size(header.block_size) {
            return Err(format!(
                "kdump-compressed header: block size {} is not a page size",
                header.block_size
            ));
        }
        let mut findings = Vec::new();
        let header_problem = |m: String| Finding::new(&registry::KDUMP_HEADER, m).at_offset(0);
        let kdump = header.signature == "KDUMP";
        if kdump && !(1..=6).contains(&header.header_version) {
            findings.push(header_problem(format!(
                "header version {} is not 1-6; the sub-header is read as version {}",
                header.header_version,
                header.header_version.clamp(0, 6)
            )));
        }
        let version = header.header_version.clamp(0, 6);
        let sub_header = if kdump && version >= 1 {
            let o = header.layout.sub_header();
            let avail = u64::from(header.sub_hdr_size).saturating_mul(bs);
            match read_exact_at(&*source, bs, o.len as u64) {
                Some(b) if avail >= o.len as u64 => {
                    Some(KdumpSubHeader::parse(&b, header.layout, version))
                }
                _ => {
                    findings.push(header_problem(format!(
                        "the sub-header ({} blocks at {bs:#x}) does not hold its {} bytes inside the file",
                        header.sub_hdr_size, o.len
                    )));
                    None
                }
            }
        } else {
            None
        };
        let max_mapnr = sub_header
            .as_ref()
            .and_then(|s| s.max_mapnr_64)
            .unwrap_or(u64::from(header.max_mapnr_32));

        let mut me = KdumpCompressed {
            source,
            header,
            sub_header,
            max_mapnr,
            ram: Bitmap::empty(),
            dumped: Bitmap::empty(),
            descriptors_at: 0,
            descriptors_in_file: 0,
            first_rank: 0,
            pfn_range: (0, max_mapnr),
            bitmaps_read: false,
            dump_level: None,
            cut: false,
            findings,
            cache: Mutex::new(VecDeque::new()),
            failures: Mutex::new(BTreeMap::new()),
        };
        me.dump_level = me
            .sub_header
            .as_ref()
            .and_then(|s| u32::try_from(s.dump_level).ok());
        me.check_regions();
        me.read_bitmaps();
        if me.bitmaps_read {
            me.check_table_start();
        }
        me.report_losses();
        Ok(me)
    }

    /// The page data starts right after the descriptor table (with the
    /// shared zero page, or the first page): a first descriptor pointing
    /// elsewhere means the 2nd bitmap, which sizes the table, is damaged,
    /// and no descriptor can be matched to its PFN.
    fn check_table_start(&mut self) {
        // Excluding vmemmap rewrites the 2nd bitmap after the table was
        // sized: the rule does not hold there.
        if self.header.status & status::EXCLUDED_VMEMMAP != 0 {
            return;
        }
        let table_end = self.data_start();
        let Some(first) = read_exact_at(&*self.source, self.descriptors_at, PAGE_DESC_SIZE)
            .map(|b| Descriptor::parse(&b))
        else {
            return;
        };
        let bs = self.page_size();
        let plausible = first.size > 0 && first.size <= bs && first.offset > self.descriptors_at;
        // An unwritten descriptor (incomplete dump, flattened gap) says
        // nothing about the table.
        if !plausible {
            return;
        }
        if (table_end..=table_end.saturating_add(bs)).contains(&first.offset) {
            return;
        }
        let wanted = self.dumped.count();
        self.findings.push(
            Finding::new(
                &registry::KDUMP_BITMAPS,
                format!(
                    "the 2nd bitmap marks {wanted} pages dumped, so the page data would start at \
                     {table_end:#x}, but the first page descriptor points at {:#x}: the bitmaps \
                     are damaged and no page can be located",
                    first.offset
                ),
            )
            .at_offset(self.descriptors_at),
        );
        self.bitmaps_read = false;
        self.ram = Bitmap::empty();
        self.dumped = Bitmap::empty();
        self.first_rank = 0;
        self.descriptors_in_file = 0;
    }

    /// Where the page data may start: after a descriptor table sized for
    /// every dumped page (a split part writes its own descriptors first
    /// but leaves room for the whole dump's).
    fn data_start(&self) -> u64 {
        self.descriptors_at
            .saturating_add(self.dumped.count().saturating_mul(PAGE_DESC_SIZE))
    }

    /// Finds out whether the file ends before pages it describes, and
    /// which pages a cut or an unfinished write lost: findings that name
    /// the PFNs. Reads the whole descriptor table only when the file is
    /// cut or flagged incomplete; a sound file costs a few descriptors.
    fn report_losses(&mut self) {
        let incomplete = self.header.is_incomplete();
        let status_at = self.header.layout.header().status as u64;
        if !self.bitmaps_read {
            if incomplete {
                self.findings.push(
                    Finding::new(
                        &registry::KDUMP_INCOMPLETE,
                        "the header's status carries the incomplete flag: makedumpfile stopped \
                         before writing every page (which pages are lost cannot be told without \
                         the bitmaps)",
                    )
                    .at_offset(status_at),
                );
            }
            return;
        }
        let len = self.source.size();
        let wanted = self.dumped_pages();
        let fit = self.descriptors_in_file;
        let table_cut = fit < wanted;
        let tail_past_end = (fit.saturating_sub(TAIL_DESCRIPTORS)..fit).any(|i| {
            self.descriptor(i)
                .is_some_and(|d| d.offset != 0 && !self.source.holds(d.offset, d.size))
        });
        self.cut = table_cut || tail_past_end || self.source.cut_short();
        if !self.cut && !incomplete {
            return;
        }
        let mut lost = LostPages::default();
        self.for_each_descriptor(|pfn, d| {
            if let Err((Absence::Truncated | Absence::Incomplete, _)) = self.locate(d) {
                lost.add(pfn);
            }
        });
        if incomplete {
            let what = if lost.count > 0 {
                format!("{} lost: never written", lost.describe(wanted))
            } else {
                "yet every dumped page's descriptor and data are in the file".into()
            };
            self.findings.push(
                Finding::new(
                    &registry::KDUMP_INCOMPLETE,
                    format!(
                        "the header's status carries the incomplete flag: makedumpfile stopped \
                         before writing every page; {what}"
                    ),
                )
                .at_offset(status_at),
            );
        } else if lost.count > 0 {
            let table = if table_cut {
                format!(
                    " (the descriptor table at {:#x} itself ends after {fit} of its {wanted} \
                     descriptors)",
                    self.descriptors_at
                )
            } else {
                String::new()
            };
            self.findings.push(
                Finding::new(
                    &registry::KDUMP_DESCRIPTORS,
                    format!(
                        "the file ends at {len:#x} bytes, before the pages it describes{table}: \
                         {} lost to the cut",
                        lost.describe(wanted)
                    ),
                )
                .at_offset(len),
            );
        }
    }

    /// Calls `each(pfn, descriptor)` for every PFN whose page this file
    /// holds, in PFN order, reading the table in chunks; None for a
    /// descriptor the file does not reach. Bounded by the bitmap's size.
    fn for_each_descriptor(&self, mut each: impl FnMut(u64, Option<Descriptor>)) {
        let (start, end) = self.pfn_range;
        let mut chunk: Vec<u8> = Vec::new();
        let mut chunk_first = 0u64;
        let mut index = 0u64;
        let mut pfn = start;
        while pfn < end {
            let Some(&word) = usize::try_from(pfn / 64)
                .ok()
                .and_then(|i| self.dumped.words.get(i))
            else {
                break;
            };
            let word = word >> (pfn % 64);
            if word == 0 {
                pfn = (pfn / 64 + 1) * 64;
                continue;
            }
            pfn += u64::from(word.trailing_zeros());
            if pfn >= end {
                break;
            }
            let descriptor = if index < self.descriptors_in_file {
                let held = chunk.len() as u64 / PAGE_DESC_SIZE;
                if index < chunk_first || index >= chunk_first + held {
                    chunk_first = index;
                    let n = DESCRIPTOR_CHUNK.min(self.descriptors_in_file - index);
                    chunk = read_exact_at(
                        &*self.source,
                        self.descriptors_at + index * PAGE_DESC_SIZE,
                        n * PAGE_DESC_SIZE,
                    )
                    .unwrap_or_default();
                }
                let at = ((index - chunk_first) * PAGE_DESC_SIZE) as usize;
                chunk
                    .get(at..at + PAGE_DESC_SIZE as usize)
                    .map(Descriptor::parse)
            } else {
                None
            };
            each(pfn, descriptor);
            index += 1;
            pfn += 1;
        }
    }

    fn check_regions(&mut self) {
        let Some(s) = self.sub_header.clone() else {
            return;
        };
        let len = self.source.size();
        for (name, region) in [
            ("VMCOREINFO", s.vmcoreinfo),
            ("ELF notes", s.notes),
            ("eraseinfo", s.eraseinfo),
        ] {
            let Some((off, size)) = region else { continue };
            if size == 0 {
                continue;
            }
            let inside = off.checked_add(size).is_some_and(|e| e <= len);
            if !inside || size > MAX_REGION {
                self.findings.push(
                    Finding::new(
                        &registry::KDUMP_SUBHEADER_REGIONS,
                        format!(
                            "{name} at {off:#x}, {size:#x} bytes, does not lie inside the file \
                             ({len:#x} bytes) or is implausibly large"
                        ),
                    )
                    .at_offset(off),
                );
            }
        }
        if s.split == Some(true) {
            let (a, b) = (s.start_pfn.unwrap_or(0), s.end_pfn.unwrap_or(0));
            if a > b || b > self.max_mapnr {
                self.findings.push(Finding::new(
                    &registry::KDUMP_SUBHEADER_REGIONS,
                    format!(
                        "split part's PFN range [{a:#x}, {b:#x}) is not inside [0, max_mapnr {:#x})",
                        self.max_mapnr
                    ),
                ));
            } else {
                self.pfn_range = (a, b);
            }
        }
    }

    fn read_bitmaps(&mut self) {
        let bs = u64::from(self.header.block_size);
        let sub = u64::from(self.header.sub_hdr_size);
        let blocks = u64::from(self.header.bitmap_blocks);
        let at = (1 + sub) * bs;
        let total = blocks * bs;
        let half = total / 2;
        let problem = |m: String| Finding::new(&registry::KDUMP_BITMAPS, m).at_offset(at);
        let (Some(b1), Some(b2)) = (
            read_exact_at(&*self.source, at, half),
            read_exact_at(&*self.source, at + half, half),
        ) else {
            self.findings.push(problem(format!(
                "the bitmaps ({blocks} blocks at {at:#x}) run past the end of the file \
                 ({:#x} bytes); no page can be located",
                self.source.size()
            )));
            return;
        };
        if blocks % 2 != 0 || half.saturating_mul(8) < self.max_mapnr {
            self.findings.push(problem(format!(
                "{blocks} bitmap blocks cover {:#x} PFNs per bitmap, not max_mapnr {:#x}; \
                 PFNs past them read as unmapped",
                half.saturating_mul(8),
                self.max_mapnr
            )));
            self.max_mapnr = self.max_mapnr.min(half.saturating_mul(8));
            self.pfn_range.1 = self.pfn_range.1.min(self.max_mapnr);
        }
        self.bitmaps_read = true;
        self.ram = Bitmap::new(&b1, self.max_mapnr);
        self.dumped = Bitmap::new(&b2, self.max_mapnr);
        let not_ram = self
            .ram
            .words
            .iter()
            .zip(&self.dumped.words)
            .map(|(r, d)| u64::from((d & !r).count_ones()))
            .sum::<u64>();
        if not_ram > 0 {
            self.findings.push(problem(format!(
                "{not_ram} PFNs are marked dumped in the 2nd bitmap but are not RAM in the 1st"
            )));
        }
        self.descriptors_at = at + total;
        self.first_rank = self.dumped.rank(self.pfn_range.0);
        let wanted = self.dumped.rank(self.pfn_range.1) - self.first_rank;
        let fit = self.source.size().saturating_sub(self.descriptors_at) / PAGE_DESC_SIZE;
        // A descriptor table cut short is reported with the pages it loses
        // (report_losses).
        self.descriptors_in_file = wanted.min(fit);
    }

    pub fn header(&self) -> &KdumpHeader {
        &self.header
    }
    /// None for the old DISKDUMP format or a damaged sub-header.
    pub fn sub_header(&self) -> Option<&KdumpSubHeader> {
        self.sub_header.as_ref()
    }
    /// PFNs the dump describes (pages past it are unmapped).
    pub fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }
    pub fn page_size(&self) -> u64 {
        u64::from(self.header.block_size)
    }
    /// Structural problems found while parsing.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
    /// PFNs marked RAM in the 1st bitmap.
    pub fn ram_pages(&self) -> u64 {
        self.ram.count()
    }
    /// PFNs whose page this file holds (the 2nd bitmap, within a split
    /// part's range).
    pub fn dumped_pages(&self) -> u64 {
        self.dumped.rank(self.pfn_range.1) - self.first_rank
    }
    pub fn is_ram(&self, pfn: u64) -> bool {
        self.ram.get(pfn)
    }
    /// Whether the page of `pfn` is in this file.
    pub fn is_dumped(&self, pfn: u64) -> bool {
        pfn >= self.pfn_range.0 && pfn < self.pfn_range.1 && self.dumped.get(pfn)
    }

    /// The PFNs `[start, end)` whose pages this file holds: a split
    /// part's range, else every PFN below max_mapnr.
    pub fn pfn_range(&self) -> (u64, u64) {
        self.pfn_range
    }
    /// Whether the file is one part of a `--split` set (the sub-header's
    /// split flag, header version 2 on).
    pub fn is_split_part(&self) -> bool {
        self.sub_header.as_ref().and_then(|s| s.split) == Some(true)
    }
    /// PFNs in `[start, end)` the 2nd bitmap marks dumped, whichever part
    /// of a split set holds their pages.
    /// The pages a full pass over this file (or part) reads.
    pub fn pages_to_check(&self) -> u64 {
        self.dumped_in(self.pfn_range.0, self.pfn_range.1)
    }

    pub fn dumped_in(&self, start: u64, end: u64) -> u64 {
        self.dumped
            .rank(end)
            .saturating_sub(self.dumped.rank(start))
    }
    /// Whether the bitmaps lie inside the file and were read.
    pub fn bitmaps_read(&self) -> bool {
        self.bitmaps_read
    }
    /// Whether both bitmaps were read and equal `other`'s: every part of
    /// one split set carries the bitmaps of the whole dump.
    pub fn same_bitmaps(&self, other: &KdumpCompressed) -> bool {
        self.bitmaps_read
            && other.bitmaps_read
            && self.ram.words == other.ram.words
            && self.dumped.words == other.dumped.words
    }

    fn region(&self, region: Option<(u64, u64)>) -> Option<Vec<u8>> {
        let (off, size) = region?;
        if size == 0 || size > MAX_REGION {
            return None;
        }
        read_exact_at(&*self.source, off, size)
    }
    /// The VMCOREINFO text (header version 3+).
    pub fn vmcoreinfo(&self) -> Option<Vec<u8>> {
        self.region(self.sub_header.as_ref()?.vmcoreinfo)
    }
    /// The raw ELF note blob (header version 4+): one NT_PRSTATUS per CPU
    /// and the VMCOREINFO note.
    pub fn notes(&self) -> Option<Vec<u8>> {
        self.region(self.sub_header.as_ref()?.notes)
    }
    /// The eraseinfo lines (header version 5+, when makedumpfile erased data).
    pub fn eraseinfo(&self) -> Option<Vec<u8>> {
        self.region(self.sub_header.as_ref()?.eraseinfo)
    }

    /// The descriptor `index`, when the file holds it.
    fn descriptor(&self, index: u64) -> Option<Descriptor> {
        if index >= self.descriptors_in_file {
            return None;
        }
        let b = read_exact_at(
            &*self.source,
            self.descriptors_at + index * PAGE_DESC_SIZE,
            PAGE_DESC_SIZE,
        )?;
        Some(Descriptor::parse(&b))
    }

    /// Where a page's bytes are, or why they cannot be had: its
    /// descriptor (None: past the end of the table the file holds) must
    /// name a page of sane size and compression inside the page data.
    fn locate(&self, descriptor: Option<Descriptor>) -> Result<Descriptor, (Absence, String)> {
        let incomplete = self.header.is_incomplete();
        // What an unwritten or unreachable page is lost to.
        let lost = if incomplete {
            Absence::Incomplete
        } else if self.cut {
            Absence::Truncated
        } else {
            Absence::BadDescriptor
        };
        let len = self.source.size();
        let Some(d) = descriptor else {
            return Err((
                lost,
                format!("its descriptor lies past the end of the file ({len:#x} bytes)"),
            ));
        };
        let bs = self.page_size();
        if d.offset == 0 && (incomplete || self.cut) {
            let why = if incomplete {
                "incomplete dump"
            } else {
                "the file was cut short"
            };
            return Err((
                lost,
                format!("lost: its descriptor was never written ({why})"),
            ));
        }
        let known = page_flags::ZLIB | page_flags::LZO | page_flags::SNAPPY | page_flags::ZSTD;
        if d.flags & !known != 0 || (d.flags & known).count_ones() > 1 {
            return Err((
                Absence::BadDescriptor,
                format!(
                    "descriptor flags {:#x} name no single known compression",
                    d.flags
                ),
            ));
        }
        if d.size == 0 || d.size > bs || (d.flags == 0 && d.size != bs) {
            return Err((
                Absence::BadDescriptor,
                format!(
                    "descriptor size {:#x} does not fit a {bs:#x}-byte page",
                    d.size
                ),
            ));
        }
        let data_start = self.data_start();
        if d.offset < data_start {
            return Err((
                Absence::BadDescriptor,
                format!(
                    "page data at {:#x} lies before the page data, which starts at {data_start:#x}",
                    d.offset
                ),
            ));
        }
        if !self.source.holds(d.offset, d.size) {
            return Err((
                lost,
                format!(
                    "page data at {:#x} ({:#x} bytes) lies past the end of the file ({len:#x} bytes)",
                    d.offset, d.size
                ),
            ));
        }
        Ok(d)
    }

    /// The decompressed page of `pfn` (which must be dumped here).
    fn load_page(&self, pfn: u64) -> Result<Arc<[u8]>, PageFailure> {
        let index = self.dumped.rank(pfn) - self.first_rank;
        let d = self
            .locate(self.descriptor(index))
            .map_err(|(absence, reason)| PageFailure {
                pfn,
                code: registry::KDUMP_DESCRIPTORS.code,
                reason,
                absence,
            })?;
        self.decompressed(d)
            .map_err(|(absence, reason)| PageFailure {
                pfn,
                code: if absence == Absence::Corrupt {
                    registry::KDUMP_PAGE_DECOMPRESS.code
                } else {
                    registry::KDUMP_DESCRIPTORS.code
                },
                reason,
                absence,
            })
    }

    /// The page a sound descriptor locates.
    fn decompressed(&self, d: Descriptor) -> Result<Arc<[u8]>, (Absence, String)> {
        let Some(data) = read_exact_at(&*self.source, d.offset, d.size) else {
            return Err((
                Absence::Truncated,
                format!("page data at {:#x} unreadable", d.offset),
            ));
        };
        let bs = self.page_size() as usize;
        let page = decompress(&data, d.flags, bs).map_err(|e| (Absence::Corrupt, e))?;
        Ok(page.into())
    }

    fn page(&self, pfn: u64) -> Result<Arc<[u8]>, PageFailure> {
        if let Ok(mut cache) = self.cache.lock()
            && let Some(i) = cache.iter().position(|(p, _)| *p == pfn)
        {
            let hit = cache.remove(i);
            if let Some(hit) = hit {
                let page = Arc::clone(&hit.1);
                cache.push_front(hit);
                return Ok(page);
            }
        }
        let page = self.load_page(pfn)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.push_front((pfn, Arc::clone(&page)));
            cache.truncate(CACHE_PAGES);
        }
        Ok(page)
    }

    /// Pages that failed to read so far, by PFN.
    pub fn page_failures(&self) -> Vec<PageFailure> {
        self.failures
            .lock()
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The failed page reads so far as findings: one per check, with the
    /// count and the first PFNs.
    pub fn page_findings(&self) -> Vec<Finding> {
        summarize(&self.page_failures(), self.page_size())
    }

    /// Checks every page descriptor's shape without decompressing (reads
    /// 24 bytes per dumped page), pages lost to a cut included.
    pub fn check_descriptors(&self) -> Vec<Finding> {
        let mut bad = FailureTally::new(PageCheckKind::Damaged);
        self.for_each_descriptor(|pfn, d| {
            if d.is_some()
                && let Err((_, reason)) = self.locate(d)
            {
                bad.add(pfn, &reason);
            }
        });
        bad.finding(self.page_size()).into_iter().collect()
    }

    /// Verify's full pass: every dumped page located and decompressed.
    /// Pages lost to a cut or an unfinished write are left out (the
    /// findings made while opening name them); damaged descriptors and
    /// pages that do not decompress are counted, the first PFNs listed.
    /// One page in memory at a time.
    /// `progress` hears how many pages have been checked, now and then.
    pub fn check_all_pages(&self, progress: &dyn Fn(u64)) -> Vec<PageCheck> {
        // Reported every this many pages (4 MiB of 4 KiB pages).
        const REPORT_EVERY: u64 = 1024;
        let mut bad = FailureTally::new(PageCheckKind::Damaged);
        let mut corrupt = FailureTally::new(PageCheckKind::Corrupt);
        let mut done = 0u64;
        self.for_each_descriptor(|pfn, d| {
            match self.locate(d) {
                Err((Absence::Truncated | Absence::Incomplete, _)) => {}
                Err((_, reason)) => bad.add(pfn, &reason),
                Ok(d) => match self.decompressed(d) {
                    Ok(_) => {}
                    Err((Absence::Corrupt, reason)) => corrupt.add(pfn, &reason),
                    Err((_, reason)) => bad.add(pfn, &reason),
                },
            }
            done += 1;
            if done.is_multiple_of(REPORT_EVERY) {
                progress(done);
            }
        });
        progress(done);
        let bs = self.page_size();
        bad.page_check(bs)
            .into_iter()
            .chain(corrupt.page_check(bs))
            .collect()
    }
}

fn summarize(failures: &[PageFailure], page_size: u64) -> Vec<Finding> {
    let mut tallies = [
        FailureTally::new(PageCheckKind::Damaged),
        FailureTally::new(PageCheckKind::Corrupt),
    ];
    for f in failures {
        let kind = if f.code == registry::KDUMP_DESCRIPTORS.code {
            PageCheckKind::Damaged
        } else {
            PageCheckKind::Corrupt
        };
        if let Some(t) = tallies.iter_mut().find(|t| t.kind == kind) {
            t.add(f.pfn, &f.reason);
        }
    }
    tallies
        .into_iter()
        .filter_map(|t| t.finding(page_size))
        .collect()
}

thread_local! {
    /// One zlib inflater per thread, reset for each page: a new one per
    /// page set up its 32 KiB window (and a read buffer) every time.
    static INFLATER: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(true));
}

/// Decompresses one page stored with descriptor `flags`; anything but
/// exactly `page` bytes is an error.
fn decompress(data: &[u8], flags: u32, page: usize) -> Result<Vec<u8>, String> {
    let out = match flags {
        0 => data.to_vec(),
        page_flags::ZLIB => INFLATER.with(|inflater| {
            let mut inflater = inflater.borrow_mut();
            inflater.reset(true);
            // One byte more than a page shows a page that inflates too far,
            // without inflating any further.
            let mut out = Vec::with_capacity(page + 1);
            let status = inflater
                .decompress_vec(data, &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| format!("zlib: {e}"))?;
            if status != flate2::Status::StreamEnd && out.len() <= page {
                return Err(format!(
                    "zlib: the stream stops after {:#x} bytes, before its end",
                    out.len()
                ));
            }
            Ok(out)
        })?,
        page_flags::ZSTD => zstd::bulk::decompress(data, page).map_err(|e| format!("zstd: {e}"))?,
        page_flags::SNAPPY => {
            let n = snap::raw::decompress_len(data).map_err(|e| format!("snappy: {e}"))?;
            if n != page {
                return Err(format!("snappy: decompresses to {n:#x} bytes, not a page"));
            }
            let mut out = vec![0u8; page];
            snap::raw::Decoder::new()
                .decompress(data, &mut out)
                .map_err(|e| format!("snappy: {e}"))?;
            out
        }
        page_flags::LZO => {
            // LZO1X output is bounded by 255 bytes per input byte; the
            // input is at most a page.
            lzokay_native::decompress_all(data, Some(page)).map_err(|e| format!("lzo: {e}"))?
        }
        other => return Err(format!("unknown compression flags {other:#x}")),
    };
    if out.len() > page {
        return Err(format!(
            "decompresses to more than {page:#x} bytes (a page)"
        ));
    }
    if out.len() < page {
        return Err(format!(
            "decompresses to {:#x} bytes, less than a page of {page:#x}",
            out.len()
        ));
    }
    Ok(out)
}

impl Memory for KdumpCompressed {
    /// Physical addresses. Every page the dump does not hold is absent
    /// with its reason: no RAM (a hole, past max_mapnr), excluded by the
    /// dump level, held by another part of a split set, or a page that
    /// fails to read (lost to a cut or an unfinished write, a damaged
    /// descriptor, bytes that do not decompress); with unreadable bitmaps
    /// no page can be located.
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        let bs = self.page_size();
        let pfn = address / bs;
        let absent = |reason| MemoryError::Absent {
            address,
            physical: address,
            reason,
        };
        if pfn >= self.max_mapnr {
            return Err(absent(Absence::NotRam));
        }
        if !self.bitmaps_read {
            return Err(absent(Absence::Unindexed));
        }
        if !self.is_dumped(pfn) {
            return Err(absent(if self.dumped.get(pfn) {
                // Dumped, in another part's PFN range.
                Absence::OtherPart
            } else if self.ram.get(pfn) {
                Absence::Excluded {
                    dump_level: self.dump_level,
                }
            } else {
                Absence::NotRam
            }));
        }
        let page = match self.page(pfn) {
            Ok(p) => p,
            Err(failure) => {
                let reason = failure.absence;
                if let Ok(mut f) = self.failures.lock() {
                    f.entry(pfn).or_insert(failure);
                }
                return Err(absent(reason));
            }
        };
        let within = (address % bs) as usize;
        let n = buf.len().min(page.len() - within);
        buf[..n].copy_from_slice(&page[within..within + n]);
        Ok(n)
    }

    fn check_pages(&self, progress: &dyn Fn(u64, u64)) -> Vec<PageCheck> {
        let total = self.pages_to_check();
        self.check_all_pages(&|done| progress(done, total))
    }

    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        let bs = self.page_size();
        let mut out: Vec<(u64, u64)> = Vec::new();
        let first = start / bs;
        let last = end.div_ceil(bs).min(self.pfn_range.1);
        let mut pfn = first.max(self.pfn_range.0);
        // Bounded by the bitmap's size: whole empty words are skipped.
        while pfn < last {
            let Some(&word) = self.dumped.words.get((pfn / 64) as usize) else {
                break;
            };
            let word = word >> (pfn % 64);
            if word == 0 {
                pfn = (pfn / 64 + 1) * 64;
                continue;
            }
            pfn += u64::from(word.trailing_zeros());
            if pfn >= last {
                break;
            }
            let (a, b) = ((pfn * bs).max(start), ((pfn + 1) * bs).min(end));
            match out.last_mut() {
                Some(l) if l.1 == a => l.1 = b,
                _ => out.push((a, b)),
            }
            pfn += 1;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn zlib_pages_inflate_to_exactly_a_page_one_inflater_after_another() {
        let page: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let stream = zlib(&page);
        // The same thread's inflater, reset between pages.
        for _ in 0..3 {
            assert_eq!(decompress(&stream, page_flags::ZLIB, 4096).unwrap(), page);
        }
        // Cut before its checksum: no end marker, never a page.
        let cut = &stream[..stream.len() - 4];
        let e = decompress(cut, page_flags::ZLIB, 4096).unwrap_err();
        assert!(e.contains("before its end"), "{e}");
        // Two pages' worth: more than a page, inflated one byte too far only.
        let e = decompress(
            &zlib(&[page.clone(), page.clone()].concat()),
            page_flags::ZLIB,
            4096,
        )
        .unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let e = decompress(&zlib(&page[..100]), page_flags::ZLIB, 4096).unwrap_err();
        assert!(e.contains("less than a page"), "{e}");
        let e = decompress(b"not zlib at all", page_flags::ZLIB, 4096).unwrap_err();
        assert!(e.starts_with("zlib:"), "{e}");
        // The inflater is fine after a failure.
        assert_eq!(decompress(&stream, page_flags::ZLIB, 4096).unwrap(), page);
    }

    #[test]
    fn bitmap_rank_counts_bits_before() {
        let mut bytes = vec![0u8; 200];
        for bit in [0u64, 3, 64, 511, 512, 513, 1000, 1599] {
            bytes[(bit / 8) as usize] |= 1 << (bit % 8);
        }
        let b = Bitmap::new(&bytes, 1600);
        assert_eq!(b.count(), 8);
        assert_eq!(b.rank(0), 0);
        assert_eq!(b.rank(1), 1);
        assert_eq!(b.rank(64), 2);
        assert_eq!(b.rank(65), 3);
        assert_eq!(b.rank(512), 4);
        assert_eq!(b.rank(1000), 6);
        assert_eq!(b.rank(1599), 7);
        assert_eq!(b.rank(5000), 8);
        assert!(b.get(513) && !b.get(514) && !b.get(1 << 40));
        // Bits past the limit are dropped.
        assert_eq!(Bitmap::new(&bytes, 1000).count(), 6);
    }

    #[test]
    fn decompress_refuses_anything_but_a_page() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[7u8; 8192]).unwrap();
        let big = z.finish().unwrap();
        assert!(decompress(&big, page_flags::ZLIB, 4096).is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[7u8; 4096]).unwrap();
        assert_eq!(
            decompress(&z.finish().unwrap(), page_flags::ZLIB, 4096).unwrap(),
            vec![7u8; 4096]
        );
        let s = snap::raw::Encoder::new()
            .compress_vec(&[9u8; 4096])
            .unwrap();
        assert_eq!(
            decompress(&s, page_flags::SNAPPY, 4096).unwrap(),
            vec![9u8; 4096]
        );
        let s = snap::raw::Encoder::new()
            .compress_vec(&[9u8; 4097])
            .unwrap();
        assert!(decompress(&s, page_flags::SNAPPY, 4096).is_err());
        let zs = zstd::bulk::compress(&[5u8; 4096], 3).unwrap();
        assert_eq!(
            decompress(&zs, page_flags::ZSTD, 4096).unwrap(),
            vec![5u8; 4096]
        );
        let zs = zstd::bulk::compress(&[5u8; 5000], 3).unwrap();
        assert!(decompress(&zs, page_flags::ZSTD, 4096).is_err());
        assert!(decompress(b"garbage", page_flags::LZO, 4096).is_err());
        assert!(decompress(&[0u8; 4095], 0, 4096).is_err());
    }
}
