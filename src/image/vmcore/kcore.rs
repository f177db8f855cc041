//! `/proc/kcore`: the running kernel as an ELF core (ET_CORE). Its PT_LOADs
//! sit at kernel *virtual* addresses — the kernel image, the direct map of
//! each RAM range, vmalloc and module space, vmemmap — and a VMCOREINFO
//! note (Linux 4.19+) describes the kernel as for a crash dump. No page
//! table is walked: every read goes to the segment holding the address.
//!
//! The kernel builds kcore's bytes on each read, so the file cannot be
//! mapped: memory is read with pread, in page-sized chunks through a small
//! cache (a report reads the same task and stack pages many times), larger
//! reads straight into the caller's buffer. Nothing crashed: kcore's
//! NT_PRSTATUS is an empty one, so there are no CPU registers and no panic.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{EM_AARCH64, EM_X86_64, ET_CORE};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE, ProgramHeader};

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, Finding};
use crate::image::elf_core::notes::parse_notes;
use crate::memory::{Memory, MemoryError, RangeIndex};
use crate::model::{
    Arch, DEFAULT_PAGE_SIZE, FormatDetails, Image, ImageFormat, KernelInfo, Os, ProcessView,
    Producer, Target, VmcoreFormat, Vmcoreinfo, plausible_page_size,
};

/// Reads of at most this many bytes inside one aligned chunk go through
/// the cache.
const CHUNK: u64 = 4096;
/// Chunks kept (4 MiB): a report's task structs, stacks and per-CPU data.
const CACHE_CHUNKS: usize = 1024;
/// One uncached read copies at most this much (the caller's buffer bounds
/// it anyway; this keeps a single pread of the kernel short).
const MAX_DIRECT_READ: usize = 16 << 20;
/// kcore has one PT_LOAD per RAM range and a few more; far fewer than this.
const MAX_SEGMENTS: u64 = 1 << 16;
/// The notes are a few KiB (VMCOREINFO is at most a page).
const MAX_NOTES_SIZE: u64 = 1 << 20;
/// The size of an ELF64 header, and of one ELF64 program header.
const EHDR64_SIZE: usize = 64;
const PHDR64_SIZE: usize = 56;
/// kcore's p_paddr for a segment with no physical address (vmalloc,
/// modules, vmemmap).
const NO_PHYSICAL: u64 = u64::MAX;

/// One PT_LOAD of kcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KcoreSegment {
    /// Its kernel virtual address (p_vaddr).
    pub address: u64,
    pub size: u64,
    /// How many of its bytes the file offers (p_filesz).
    pub captured: u64,
    /// Where in the file its bytes are (p_offset).
    pub offset: u64,
    /// p_paddr, for the direct map and the kernel image.
    pub physical: Option<u64>,
}

impl KcoreSegment {
    fn end(&self) -> u64 {
        self.address.saturating_add(self.size)
    }
}

/// Bytes of one segment from `start` on, at most one chunk.
struct Chunk {
    start: u64,
    bytes: Vec<u8>,
}

/// A bounded cache of chunks, oldest dropped first.
#[derive(Default)]
struct ChunkCache {
    /// By (segment, chunk-aligned address).
    chunks: HashMap<(usize, u64), Arc<Chunk>>,
    order: VecDeque<(usize, u64)>,
}

/// The kernel's virtual address space as kcore offers it.
pub struct KcoreMemory {
    file: File,
    /// Sorted by address.
    segments: Vec<KcoreSegment>,
    index: RangeIndex,
    cache: Mutex<ChunkCache>,
}

impl std::fmt::Debug for KcoreMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcoreMemory")
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl KcoreMemory {
    pub fn new(file: File, mut segments: Vec<KcoreSegment>) -> Self {
        segments.sort_by_key(|s| s.address);
        let index = RangeIndex::new(segments.iter().map(|s| (s.address, s.end())));
        KcoreMemory {
            file,
            segments,
            index,
            cache: Mutex::new(ChunkCache::default()),
        }
    }

    pub fn segments(&self) -> &[KcoreSegment] {
        &self.segments
    }

    /// Reads as much of `buf` as the file gives from `address` (inside
    /// `segment`'s captured bytes) on: short reads are retried, an error or
    /// the end stops it.
    fn pread(&self, segment: &KcoreSegment, address: u64, buf: &mut [u8]) -> usize {
        let Some(mut offset) = segment
            .offset
            .checked_add(address.saturating_sub(segment.address))
        else {
            return 0;
        };
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset) {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    offset = offset.saturating_add(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        done
    }

    /// The cached chunk of segment `i` that holds `address`, read now if
    /// it is not cached.
    fn chunk(&self, i: usize, address: u64) -> Option<Arc<Chunk>> {
        let segment = self.segments.get(i)?;
        let aligned = address & !(CHUNK - 1);
        let key = (i, aligned);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(chunk) = cache.chunks.get(&key) {
            return Some(chunk.clone());
        }
        let start = aligned.max(segment.address);
        let end = aligned
            .saturating_add(CHUNK)
            .min(segment.address.saturating_add(segment.captured));
        if end <= start {
            return None;
        }
        let mut bytes = vec![0u8; (end - start) as usize];
        let n = self.pread(segment, start, &mut bytes);
        bytes.truncate(n);
        let chunk = Arc::new(Chunk { start, bytes });
        if cache.order.len() >= CACHE_CHUNKS
            && let Some(old) = cache.order.pop_front()
        {
            cache.chunks.remove(&old);
        }
        cache.order.push_back(key);
        cache.chunks.insert(key, chunk.clone());
        Some(chunk)
    }
}

impl Memory for KcoreMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> std::result::Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let i = self
            .index
            .find(address)
            .ok_or(MemoryError::Unmapped { address })?;
        let segment = &self.segments[i];
        let captured_end = segment.address.saturating_add(segment.captured);
        if address >= captured_end {
            return Err(MemoryError::NotCaptured { address });
        }
        let want = (captured_end - address).min(buf.len() as u64) as usize;
        let aligned = address & !(CHUNK - 1);
        let n = if address.saturating_add(want as u64) <= aligned.saturating_add(CHUNK) {
            let chunk = self
                .chunk(i, address)
                .ok_or(MemoryError::NotCaptured { address })?;
            let from = (address - chunk.start) as usize;
            let n = want.min(chunk.bytes.len().saturating_sub(from));
            if n > 0 {
                buf[..n].copy_from_slice(&chunk.bytes[from..from + n]);
            }
            n
        } else {
            let n = want.min(MAX_DIRECT_READ);
            self.pread(segment, address, &mut buf[..n])
        };
        if n == 0 {
            return Err(MemoryError::NotCaptured { address });
        }
        Ok(n)
    }
}

/// What kcore's headers say: the machine, the segments, VMCOREINFO.
#[derive(Debug)]
pub struct KcoreLayout {
    pub arch: Arch,
    pub segments: Vec<KcoreSegment>,
    pub vmcoreinfo: Option<Vmcoreinfo>,
}

fn malformed(path: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::new(
        path,
        ErrorKind::Malformed {
            offset,
            what: what.into(),
        },
    )
}

/// Reads exactly `len` bytes at `offset`, or says which were missing.
fn read_exact_at(path: &Path, file: &File, offset: u64, len: usize, what: &str) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut bytes[done..], offset.saturating_add(done as u64)) {
            Ok(0) => {
                return Err(Error::new(
                    path,
                    ErrorKind::Truncated {
                        what: what.into(),
                        offset,
                        needed: len as u64,
                        available: done as u64,
                    },
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::new(path, ErrorKind::Io(e))),
        }
    }
    Ok(bytes)
}

/// Parses kcore's ELF header, program headers and notes (read with pread).
pub fn read_layout(path: &Path, file: &File) -> Result<KcoreLayout> {
    let head = read_exact_at(path, file, 0, EHDR64_SIZE, "ELF header")?;
    if !head.starts_with(b"\x7fELF") {
        return Err(malformed(path, 0, "no ELF magic: not a kcore"));
    }
    if head[4] != 2 || head[5] != 1 {
        return Err(malformed(
            path,
            4,
            "not a 64-bit little-endian ELF: ckdump reads x86_64 and aarch64 kcore",
        ));
    }
    let header = goblin::elf::Elf::parse_header(&head)
        .map_err(|e| malformed(path, 0, format!("bad ELF header: {e}")))?;
    if header.e_type != ET_CORE {
        return Err(malformed(path, 0x10, "not an ELF core (ET_CORE)"));
    }
    let arch = match header.e_machine {
        EM_X86_64 => Arch::X86_64,
        EM_AARCH64 => Arch::Aarch64,
        m => {
            return Err(Error::new(
                path,
                ErrorKind::Unsupported(format!(
                    "kcore of ELF machine {m}; ckdump reads x86_64 and aarch64"
                )),
            ));
        }
    };
    if usize::from(header.e_phentsize) != PHDR64_SIZE {
        return Err(malformed(
            path,
            0x36,
            format!(
                "e_phentsize is {}, expected {PHDR64_SIZE}",
                header.e_phentsize
            ),
        ));
    }
    // PN_XNUM: the count is sh_info of section header 0.
    let phnum = if header.e_phnum == 0xffff {
        let at = header.e_shoff.saturating_add(44);
        let word = read_exact_at(path, file, at, 4, "section header 0 (e_phnum is PN_XNUM)")?;
        u64::from(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
    } else {
        u64::from(header.e_phnum)
    };
    if phnum == 0 || phnum > MAX_SEGMENTS {
        return Err(malformed(
            path,
            0x38,
            format!("{phnum} program headers (expected 1 to {MAX_SEGMENTS})"),
        ));
    }
    let table = read_exact_at(
        path,
        file,
        header.e_phoff,
        phnum as usize * PHDR64_SIZE,
        "program header table",
    )?;
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(&table, 0, phnum as usize, ctx).map_err(|e| {
        malformed(
            path,
            header.e_phoff,
            format!("bad program header table: {e}"),
        )
    })?;
    let mut vmcoreinfo = None;
    for note in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        if note.p_filesz > MAX_NOTES_SIZE {
            return Err(malformed(
                path,
                note.p_offset,
                format!(
                    "a PT_NOTE of {} bytes (more than {MAX_NOTES_SIZE})",
                    note.p_filesz
                ),
            ));
        }
        let blob = read_exact_at(path, file, note.p_offset, note.p_filesz as usize, "notes")?;
        let mut notes = Vec::new();
        // Damage after the VMCOREINFO note does not matter.
        let _ = parse_notes(&blob, 0, blob.len() as u64, &mut notes);
        if vmcoreinfo.is_none() {
            vmcoreinfo = notes
                .iter()
                .find(|n| n.owner == "VMCOREINFO")
                .map(|n| Vmcoreinfo::parse(n.desc(&blob)));
        }
    }
    let segments: Vec<KcoreSegment> = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        .map(|p| KcoreSegment {
            address: p.p_vaddr,
            size: p.p_memsz,
            captured: p.p_filesz.min(p.p_memsz),
            offset: p.p_offset,
            physical: (p.p_paddr != NO_PHYSICAL).then_some(p.p_paddr),
        })
        .collect();
    if segments.is_empty() {
        return Err(malformed(
            path,
            header.e_phoff,
            "no PT_LOAD: kcore offers no memory",
        ));
    }
    Ok(KcoreLayout {
        arch,
        segments,
        vmcoreinfo,
    })
}

/// What the host says of the running kernel beside kcore.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveFacts {
    /// CPUs online (/sys/devices/system/cpu/online).
    pub online_cpus: Option<u32>,
    /// When it was read (seconds since 1970).
    pub read_at: Option<u64>,
}

/// The image of the running kernel from an open kcore: its virtual
/// memory, VMCOREINFO, its log; no CPU registers, no crash.
pub fn read(path: &Path, file: File, facts: LiveFacts) -> Result<Image> {
    let KcoreLayout {
        arch,
        segments,
        vmcoreinfo,
    } = read_layout(path, &file)?;
    let mut findings = Vec::new();
    super::check_vmcoreinfo(vmcoreinfo.as_ref(), &mut findings);
    let memory = KcoreMemory::new(file, segments);
    // RAM: the segments with a physical address but the kernel image's.
    let text = vmcoreinfo.as_ref().and_then(|v| v.symbol("_stext"));
    let ram: u64 = memory
        .segments()
        .iter()
        .filter(|s| s.physical.is_some())
        .filter(|s| text.is_none_or(|t| !(s.address..s.end()).contains(&t)))
        .map(|s| s.size)
        .fold(0, u64::saturating_add);
    let log = match &vmcoreinfo {
        Some(info) => crate::kernel::printk::read_log(&memory, info).unwrap_or_else(|why| {
            findings.push(Finding::new(
                &finding::KERNEL_MEMORY_READABLE,
                format!("the kernel log cannot be read: {why}"),
            ));
            Vec::new()
        }),
        None => Vec::new(),
    };
    let page_size = vmcoreinfo
        .as_ref()
        .and_then(Vmcoreinfo::page_size)
        .and_then(plausible_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    Ok(Image {
        path: path.to_path_buf(),
        format: ImageFormat::Vmcore,
        compression: None,
        size: ram,
        target: Target {
            os: Os::Linux,
            arch,
            kernel: true,
            page_size,
            cpu_count: facts.online_cpus,
            os_version: vmcoreinfo
                .as_ref()
                .and_then(|v| v.osrelease())
                .map(str::to_string),
            cpu: None,
        },
        producer: Producer::Other("the running kernel (/proc/kcore)".into()),
        fault: None,
        timestamp: facts.read_at,
        details: FormatDetails {
            kernel: Some(KernelInfo {
                format: VmcoreFormat::LiveKcore,
                vmcoreinfo,
                cpus: Vec::new(),
                cpu_note_pids: Default::default(),
                dump_level: None,
                incomplete: false,
                log,
                panic_cpu: None,
                panic_cause: Vec::new(),
                split_parts: Vec::new(),
                online_cpus: facts.online_cpus,
                unsupported: None,
            }),
            ..FormatDetails::default()
        },
        findings,
        process: ProcessView::empty(Arc::new(memory)),
        other_processes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: u64 = 0xffff_ffff_8100_0000;
    const DIRECT: u64 = 0xffff_8880_0000_0000;

    fn note(owner: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        let name = format!("{owner}\0");
        n.extend_from_slice(&(name.len() as u32).to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(name.as_bytes());
        n.resize(n.len().next_multiple_of(4), 0);
        n.extend_from_slice(desc);
        n.resize(n.len().next_multiple_of(4), 0);
        n
    }

    /// A small kcore-shaped file: a VMCOREINFO note, the kernel text
    /// (3 pages of a counting pattern) and one RAM range (2 pages) at
    /// their virtual addresses, bytes at offsets apart from the headers.
    fn kcore_file(vmcoreinfo: &str) -> tempfile::NamedTempFile {
        let notes = note("VMCOREINFO", 0, vmcoreinfo.as_bytes());
        let loads: [(u64, u64, u64, u64); 2] = [
            (TEXT, 0x0100_0000, 3 * 4096, 0x10000),
            (DIRECT, 0, 2 * 4096, 0x20000),
        ];
        let phnum = 1 + loads.len();
        let notes_at = (EHDR64_SIZE + phnum * PHDR64_SIZE) as u64;
        let mut file = vec![0u8; 0x22000];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = 2;
        file[5] = 1;
        file[6] = 1;
        file[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        file[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        file[52..54].copy_from_slice(&64u16.to_le_bytes());
        file[54..56].copy_from_slice(&(PHDR64_SIZE as u16).to_le_bytes());
        file[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut phdr = |i: usize, kind: u32, offset: u64, vaddr: u64, paddr: u64, size: u64| {
            let at = EHDR64_SIZE + i * PHDR64_SIZE;
            let p = &mut file[at..at + PHDR64_SIZE];
            p[0..4].copy_from_slice(&kind.to_le_bytes());
            p[4..8].copy_from_slice(&7u32.to_le_bytes());
            p[8..16].copy_from_slice(&offset.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[24..32].copy_from_slice(&paddr.to_le_bytes());
            p[32..40].copy_from_slice(&size.to_le_bytes());
            p[40..48].copy_from_slice(&size.to_le_bytes());
        };
        phdr(0, PT_NOTE, notes_at, 0, 0, notes.len() as u64);
        for (i, &(vaddr, paddr, size, offset)) in loads.iter().enumerate() {
            phdr(1 + i, PT_LOAD, offset, vaddr, paddr, size);
        }
        file[notes_at as usize..notes_at as usize + notes.len()].copy_from_slice(&notes);
        for (i, b) in file[0x10000..0x13000].iter_mut().enumerate() {
            *b = (i / 4096 * 16 + i % 4096 % 13) as u8;
        }
        for (i, b) in file[0x20000..0x22000].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let mut out = tempfile::NamedTempFile::new().unwrap();
        out.write_all(&file).unwrap();
        out
    }

    fn open(f: &tempfile::NamedTempFile, facts: LiveFacts) -> Image {
        read(f.path(), File::open(f.path()).unwrap(), facts).unwrap()
    }

    #[test]
    fn reads_memory_by_virtual_address_through_the_segments() {
        let f =
            kcore_file("OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(_stext)=ffffffff81000000\n");
        let image = open(
            &f,
            LiveFacts {
                online_cpus: Some(2),
                read_at: Some(1_700_000_000),
            },
        );
        let memory = &*image.process.memory;
        // Inside one chunk (cached), across chunks (direct), at the end.
        let mut b = [0u8; 4];
        assert_eq!(memory.read(TEXT + 4096 + 13, &mut b), Ok(4));
        assert_eq!(b, [16, 17, 18, 19]);
        let mut big = vec![0u8; 8192];
        assert_eq!(memory.read(TEXT + 100, &mut big), Ok(8192));
        assert_eq!(big[4096 - 100], 16);
        let mut tail = [0u8; 16];
        assert_eq!(memory.read(TEXT + 3 * 4096 - 8, &mut tail), Ok(8));
        assert_eq!(
            memory.read_u64(DIRECT + 251).unwrap(),
            0x0706_0504_0302_0100
        );
        // Between segments and past them: not mapped.
        assert_eq!(
            memory.read(DIRECT + 2 * 4096, &mut b),
            Err(MemoryError::Unmapped {
                address: DIRECT + 2 * 4096
            })
        );
        assert_eq!(
            memory.read(0x1000, &mut b),
            Err(MemoryError::Unmapped { address: 0x1000 })
        );
        // The model: a running kernel, RAM without the kernel image.
        let k = image.details.kernel.as_ref().unwrap();
        assert_eq!(k.format, VmcoreFormat::LiveKcore);
        assert_eq!(k.online_cpus, Some(2));
        assert!(k.cpus.is_empty() && k.panic_cpu.is_none() && image.fault.is_none());
        assert_eq!(image.size, 2 * 4096);
        assert_eq!(image.target.cpu_count, Some(2));
        assert_eq!(image.target.os_version.as_deref(), Some("6.1.0-test"));
        assert_eq!(image.timestamp, Some(1_700_000_000));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let f = kcore_file("OSRELEASE=x\n");
        let layout = read_layout(f.path(), &File::open(f.path()).unwrap()).unwrap();
        let memory = KcoreMemory::new(File::open(f.path()).unwrap(), layout.segments);
        let mut b = [0u8; 1];
        for round in 0..3 {
            for page in 0..3 {
                memory.read(TEXT + page * 4096 + round, &mut b).unwrap();
                assert_eq!(b[0], (page * 16 + round) as u8);
            }
        }
        let cache = memory.cache.lock().unwrap();
        assert_eq!(cache.chunks.len(), 3);
        assert!(cache.order.len() <= CACHE_CHUNKS);
    }

    #[test]
    fn damaged_headers_are_one_line_errors() {
        let f = kcore_file("OSRELEASE=x\n");
        let mut bytes = std::fs::read(f.path()).unwrap();
        // e_phnum 0.
        bytes[56..58].copy_from_slice(&0u16.to_le_bytes());
        let mut g = tempfile::NamedTempFile::new().unwrap();
        g.write_all(&bytes).unwrap();
        let e = read_layout(g.path(), &File::open(g.path()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("0 program headers (expected 1 to 65536) at offset 0x38"),
            "{e}"
        );
        // A program header table past the end of the file.
        bytes[56..58].copy_from_slice(&3u16.to_le_bytes());
        bytes[32..40].copy_from_slice(&0x100000u64.to_le_bytes());
        let mut g = tempfile::NamedTempFile::new().unwrap();
        g.write_all(&bytes).unwrap();
        let e = read_layout(g.path(), &File::open(g.path()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "program header table: needs 168 bytes at offset 0x100000, but only 0 are there"
            ),
            "{e}"
        );
        // Not an ELF file.
        let mut g = tempfile::NamedTempFile::new().unwrap();
        g.write_all(&[0u8; 128]).unwrap();
        let e = read_layout(g.path(), &File::open(g.path()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("no ELF magic: not a kcore at offset 0x0"),
            "{e}"
        );
    }
}
