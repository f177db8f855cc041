//! The kdump-compressed and flattened readers on the real Debian 6.1 guest
//! dump in ../shared/generated/vmcores, checked against the ELF form of the
//! same dump (makedumpfile -E) and against files makedumpfile derives.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ckdump::image::vmcore::flattened::{self, FlattenedFile};
use ckdump::image::vmcore::kdump_compressed::{self, DumpFile, KdumpCompressed};
use ckdump::memory::{Bytes, Memory, MemoryError};

const KDUMP: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const ELF_ZST: &str = "generated/vmcores/vmcore-kdump-makedumpfile-E-d31.elf.zst";
const PAGE: u64 = 4096;

fn map(path: &Path) -> Bytes {
    Bytes::map_file(&std::fs::File::open(path).unwrap()).unwrap()
}

fn kdump_bytes() -> Option<Bytes> {
    Some(map(&common::shared_path(KDUMP)?))
}

fn parse(bytes: Bytes) -> KdumpCompressed {
    KdumpCompressed::parse(Arc::new(bytes)).unwrap()
}

fn codes(findings: &[ckdump::finding::Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

/// A file derived once per test run under the target's temp directory
/// (written to a temporary name, then renamed, so parallel tests agree).
fn derived(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if !path.exists() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        make(&tmp);
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// The ELF form of the dump, decompressed.
fn elf_path() -> Option<PathBuf> {
    let zst = common::shared_path(ELF_ZST)?;
    Some(derived("vmcore-kdump-E-d31.elf", |out| {
        let mut input = std::fs::File::open(&zst).unwrap();
        let mut output = std::fs::File::create(out).unwrap();
        zstd::stream::copy_decode(&mut input, &mut output).unwrap();
    }))
}

/// The ELF vmcore's physical memory: (paddr, file offset, filesz) per PT_LOAD.
struct ElfPhys {
    bytes: Bytes,
    loads: Vec<(u64, u64, u64)>,
}

impl ElfPhys {
    fn open(path: &Path) -> ElfPhys {
        let bytes = map(path);
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        let loads = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
            .map(|p| (p.p_paddr, p.p_offset, p.p_filesz))
            .collect();
        ElfPhys { bytes, loads }
    }
    fn page(&self, pfn: u64) -> Option<&[u8]> {
        let pa = pfn * PAGE;
        let (paddr, off, _) = self
            .loads
            .iter()
            .find(|(a, _, sz)| *a <= pa && pa + PAGE <= a + sz)?;
        let at = (off + (pa - paddr)) as usize;
        Some(&self.bytes[at..at + PAGE as usize])
    }
}

fn read_page(mem: &dyn Memory, pfn: u64) -> Result<Vec<u8>, MemoryError> {
    let mut page = vec![0u8; PAGE as usize];
    let mut done = 0;
    while done < page.len() {
        done += mem.read(pfn * PAGE + done as u64, &mut page[done..])?;
    }
    Ok(page)
}

/// Compares `dump` with the ELF vmcore page by page: every page both hold
/// is equal, and a page only one holds is all zeros (makedumpfile -E leaves
/// zero pages out of the ELF; the kdump file marks them dumped and points
/// them at its one shared zero page). Returns (pages equal, zero pages the
/// ELF lacks, nonzero ELF pages the dump lacks).
fn compare_with_elf(dump: &KdumpCompressed, elf: &ElfPhys) -> (u64, u64, u64) {
    let (mut equal, mut zero_only, mut elf_only) = (0, 0, 0);
    for pfn in 0..dump.max_mapnr() {
        let theirs = elf.page(pfn);
        if !dump.is_dumped(pfn) {
            if theirs.is_some_and(|t| t.iter().any(|&b| b != 0)) {
                elf_only += 1;
            }
            continue;
        }
        let ours = read_page(dump, pfn).unwrap_or_else(|e| panic!("pfn {pfn:#x}: {e}"));
        match theirs {
            Some(t) => {
                assert!(t == ours, "pfn {pfn:#x} differs from the ELF vmcore");
                equal += 1;
            }
            None => {
                assert!(
                    ours.iter().all(|&b| b == 0),
                    "pfn {pfn:#x} is only in the kdump file"
                );
                zero_only += 1;
            }
        }
    }
    assert!(dump.page_failures().is_empty());
    (equal, zero_only, elf_only)
}

/// VMCOREINFO's value of `key`.
fn vmcoreinfo_value(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{key} missing from VMCOREINFO"))
        .to_string()
}

/// The notes of type `n_type` named CORE in an ELF note blob.
fn count_notes(blob: &[u8], n_type: u32) -> usize {
    let u32_at = |o: usize| u32::from_le_bytes(blob[o..o + 4].try_into().unwrap());
    let (mut at, mut n) = (0, 0);
    while at + 12 <= blob.len() {
        let (namesz, descsz, ty) = (u32_at(at) as usize, u32_at(at + 4) as usize, u32_at(at + 8));
        let name = &blob[at + 12..at + 12 + namesz];
        if ty == n_type && name.starts_with(b"CORE\0") {
            n += 1;
        }
        at += 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
    }
    n
}

#[test]
fn header_and_sub_header_of_the_real_dump() {
    let Some(bytes) = kdump_bytes() else { return };
    assert!(kdump_compressed::is_kdump_compressed(&bytes[..16]));
    assert!(!flattened::is_flattened(&bytes[..64]));
    let dump = parse(bytes);
    assert_eq!(codes(dump.findings()), Vec::<&str>::new());
    let h = dump.header();
    assert_eq!(h.signature, "KDUMP");
    assert_eq!(h.layout, kdump_compressed::Layout::Bits64);
    assert_eq!(h.header_version, 6);
    assert_eq!(h.block_size, 4096);
    assert_eq!(h.sub_hdr_size, 2);
    assert_eq!(h.bitmap_blocks, 6);
    assert_eq!(h.max_mapnr_32, 98249);
    assert_eq!(h.nr_cpus, 2);
    assert_eq!(h.current_cpu, 0);
    assert_eq!(h.status, kdump_compressed::status::COMPRESSED_ZLIB);
    assert_eq!(h.compression(), Some("zlib"));
    assert!(!h.is_incomplete());
    assert_eq!(h.sysname, "Linux");
    assert_eq!(h.nodename, "(none)");
    assert_eq!(h.release, "6.1.0-56-cloud-amd64");
    assert_eq!(
        h.version,
        "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    );
    assert_eq!(h.machine, "x86_64");
    assert_eq!(h.domainname, "(none)");
    // crash: DATE: Mon Nov 23 00:27:44 UTC 2026
    assert_eq!((h.timestamp_sec, h.timestamp_usec), (1_795_393_664, 0));

    let s = dump.sub_header().unwrap();
    assert_eq!(s.phys_base, 0xffff_ffff_e180_0000);
    assert_eq!(s.dump_level, 31);
    assert_eq!(s.split, Some(false));
    assert_eq!(s.vmcoreinfo, Some((4936, 3285)));
    assert_eq!(s.notes, Some((4200, 4024)));
    assert_eq!(s.eraseinfo, Some((0, 0)));
    assert_eq!(s.max_mapnr_64, Some(98249));
    assert_eq!(dump.max_mapnr(), 98249);
    assert_eq!(dump.eraseinfo(), None);

    let info = String::from_utf8(dump.vmcoreinfo().unwrap()).unwrap();
    assert!(info.contains("OSRELEASE=6.1.0-56-cloud-amd64\n"));
    assert!(info.contains("BUILD-ID=3b43fad5034874490492495d552c0af6a5fab235\n"));
    assert_eq!(vmcoreinfo_value(&info, "NUMBER(phys_base)"), "-511705088");
    let notes = dump.notes().unwrap();
    assert_eq!(notes.len(), 4024);
    assert_eq!(count_notes(&notes, 1), 2, "one NT_PRSTATUS per CPU");
    // A dump header facts, not page contents, say nothing is damaged.
    assert_eq!(codes(&dump.check_descriptors()), Vec::<&str>::new());
}

#[test]
fn pages_equal_the_elf_form_of_the_same_dump() {
    let Some(bytes) = kdump_bytes() else { return };
    let Some(elf) = elf_path() else { return };
    let elf = ElfPhys::open(&elf);
    let dump = parse(bytes);
    assert_eq!(dump.ram_pages(), 57_191);
    let dumped = dump.dumped_pages();
    assert_eq!(dumped, 17_554);
    // makedumpfile -E leaves out only runs of 256 or more excluded pages:
    // shorter runs keep their bytes in the ELF (79 pages here).
    assert_eq!(compare_with_elf(&dump, &elf), (16_715, 839, 79));

    // The page holding init_uts_ns: a kernel-text address translated with
    // phys_base holds the utsname the header copied.
    let info = String::from_utf8(dump.vmcoreinfo().unwrap()).unwrap();
    let uts = u64::from_str_radix(&vmcoreinfo_value(&info, "SYMBOL(init_uts_ns)"), 16).unwrap();
    let phys_base: i64 = vmcoreinfo_value(&info, "NUMBER(phys_base)")
        .parse()
        .unwrap();
    let pa = uts
        .wrapping_sub(0xffff_ffff_8000_0000)
        .wrapping_add(phys_base as u64);
    assert_eq!(pa, 0x9bf_9b60);
    let page = read_page(&dump, pa / PAGE).unwrap();
    assert_eq!(Some(&page[..]), elf.page(pa / PAGE));
    // 6.1's struct uts_namespace starts with its new_utsname: sysname at
    // +0, release at +2 * 65.
    let within = (pa % PAGE) as usize;
    assert_eq!(&page[within..within + 6], b"Linux\0");
    assert_eq!(
        &page[within + 130..within + 130 + 21],
        b"6.1.0-56-cloud-amd64\0"
    );
    let mut short = [0u8; 6];
    assert_eq!(dump.read(pa, &mut short), Ok(6));
    assert_eq!(&short, b"Linux\0");

    // Excluded, a hole, and past max_mapnr.
    let excluded = (0..dump.max_mapnr())
        .find(|&p| dump.is_ram(p) && !dump.is_dumped(p))
        .unwrap();
    assert_eq!(
        read_page(&dump, excluded),
        Err(MemoryError::NotCaptured {
            address: excluded * PAGE
        })
    );
    let beyond = dump.max_mapnr() * PAGE;
    assert_eq!(
        dump.read(beyond, &mut short),
        Err(MemoryError::Unmapped { address: beyond })
    );
    let ranges = dump.captured_ranges(0, beyond).unwrap();
    assert_eq!(
        ranges.iter().map(|(a, b)| (b - a) / PAGE).sum::<u64>(),
        dumped
    );
}
