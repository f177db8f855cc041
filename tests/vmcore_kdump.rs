//! The kdump-compressed and flattened readers on the real Debian 6.1 guest
//! dump in ../shared/generated/vmcores, checked against the ELF form of the
//! same dump (makedumpfile -E) and against files makedumpfile derives.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ckdump::image::vmcore::flattened::{self, FlattenedFile};
use ckdump::image::vmcore::kdump_compressed::{self, DumpFile, KdumpCompressed};
use ckdump::memory::{Absence, Bytes, Memory, MemoryError};

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
        // Tests run on several threads of one process: each makes its own
        // temporary file, and the first rename wins.
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
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

    // Excluded, a hole, and past max_mapnr: absent, and why.
    let excluded = (0..dump.max_mapnr())
        .find(|&p| dump.is_ram(p) && !dump.is_dumped(p))
        .unwrap();
    assert_eq!(excluded, 0x120);
    assert_eq!(
        read_page(&dump, excluded),
        Err(MemoryError::Absent {
            address: 0x12_0000,
            physical: 0x12_0000,
            reason: Absence::Excluded {
                dump_level: Some(31)
            }
        })
    );
    let hole = (0..dump.max_mapnr()).find(|&p| !dump.is_ram(p)).unwrap();
    assert_eq!(hole, 0);
    assert_eq!(
        read_page(&dump, hole).unwrap_err().to_string(),
        "physical 0x0 is not RAM: the machine had no memory there"
    );
    let beyond = dump.max_mapnr() * PAGE;
    assert_eq!(
        dump.read(beyond, &mut short),
        Err(MemoryError::Absent {
            address: beyond,
            physical: beyond,
            reason: Absence::NotRam
        })
    );
    let ranges = dump.captured_ranges(0, beyond).unwrap();
    assert_eq!(
        ranges.iter().map(|(a, b)| (b - a) / PAGE).sum::<u64>(),
        dumped
    );
}

/// Runs makedumpfile with `args`, its stdout into `stdout` when given.
fn makedumpfile(tool: &Path, args: &[&str], stdin: Option<&Path>, stdout: Option<&Path>) {
    let mut cmd = Command::new(tool);
    cmd.args(args);
    if let Some(i) = stdin {
        cmd.stdin(std::fs::File::open(i).unwrap());
    }
    if let Some(o) = stdout {
        cmd.stdout(std::fs::File::create(o).unwrap());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "makedumpfile {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ELF form, makedumpfile and the ELF's path, or None after a skip.
fn elf_and_tool() -> Option<(PathBuf, PathBuf)> {
    let elf = elf_path()?;
    let tool = common::require_tool("makedumpfile")?;
    Some((elf, tool))
}

#[test]
fn flattened_stream_reads_like_the_file_it_carries() {
    let Some((elf, tool)) = elf_and_tool() else {
        return;
    };
    let flat = derived("vmcore-d31.flat", |out| {
        makedumpfile(
            &tool,
            &["-F", "-c", "-d", "31", common::p(&elf)],
            None,
            Some(out),
        )
    });
    // The file `makedumpfile -R` rebuilds from the stream.
    let rebuilt = derived("vmcore-d31.rebuilt", |out| {
        makedumpfile(&tool, &["-R", common::p(out)], Some(&flat), None)
    });
    let stream = map(&flat);
    assert!(flattened::is_flattened(&stream[..64]));
    assert!(!kdump_compressed::is_kdump_compressed(&stream[..64]));
    let file = FlattenedFile::parse(stream).unwrap();
    assert_eq!(codes(file.findings()), Vec::<&str>::new());
    let rebuilt = map(&rebuilt);
    assert_eq!(file.size(), rebuilt.len() as u64);
    assert!(file.records() > 0);
    // Byte for byte, in odd-sized reads that straddle record boundaries.
    let mut at = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while at < file.size() {
        let n = file.read_at(at, &mut buf[..(1 << 20) - 3]).unwrap();
        assert!(n > 0);
        assert!(
            buf[..n] == rebuilt[at as usize..at as usize + n],
            "bytes at {at:#x} differ from makedumpfile -R's file"
        );
        at += n as u64;
    }
    assert_eq!(file.read_at(file.size(), &mut buf).unwrap(), 0);

    let file: Arc<dyn DumpFile> = Arc::new(file);
    let dump = KdumpCompressed::parse(file).unwrap();
    assert_eq!(codes(dump.findings()), Vec::<&str>::new());
    assert_eq!(dump.header().release, "6.1.0-56-cloud-amd64");
    assert_eq!(dump.sub_header().unwrap().dump_level, 31);
    // From the ELF form makedumpfile dumps no zero page and excludes the
    // same 79 short-run pages the ELF keeps.
    assert_eq!(dump.dumped_pages(), 16_715);
    let elf_phys = ElfPhys::open(&elf);
    assert_eq!(compare_with_elf(&dump, &elf_phys), (16_715, 0, 79));

    // `ckdump inspect` on the stream itself, detected by content: the same
    // panic, CPUs and log as the ELF form it was made from.
    let a = common::inspect_json(&elf, &[]);
    let b = common::inspect_json(&flat, &[]);
    assert_eq!(b["kernel"]["format"], "flattened");
    for key in ["release", "panic_cpu", "cpus", "log"] {
        assert_eq!(a["kernel"][key], b["kernel"][key], "{key}");
    }
    assert_eq!(a["crash"], b["crash"]);
}

/// A long stream is indexed at open by its first and last records only,
/// the rest found as reads need them: read that way (forced here on the
/// 487-record stream by a 16-record prefix), every byte is still the
/// byte of the file `makedumpfile -R` rebuilds, in reads scattered over
/// the file as a dump's readers make them, and without walking every
/// record.
#[test]
fn flattened_stream_found_as_read_matches_the_rebuilt_file() {
    let Some((elf, tool)) = elf_and_tool() else {
        return;
    };
    let flat = derived("vmcore-d31.flat", |out| {
        makedumpfile(
            &tool,
            &["-F", "-c", "-d", "31", common::p(&elf)],
            None,
            Some(out),
        )
    });
    let rebuilt = derived("vmcore-d31.rebuilt", |out| {
        makedumpfile(&tool, &["-R", common::p(out)], Some(&flat), None)
    });
    let rebuilt = map(&rebuilt);
    let whole = FlattenedFile::parse(map(&flat)).unwrap();
    assert!(whole.indexed_whole());
    assert_eq!(whole.records(), 487);

    let file = FlattenedFile::parse_with_prefix(map(&flat), 16).unwrap();
    assert!(!file.indexed_whole(), "the stream has the writers' shape");
    assert_eq!(codes(file.findings()), Vec::<&str>::new());
    assert_eq!(file.size(), rebuilt.len() as u64);
    // Opened: the 16 first records and the last few, not all 487.
    let at_open = file.records();
    assert!((16..40).contains(&at_open), "{at_open} records at open");
    // Page-sized reads at offsets spread over the page data (the file's
    // second half; a read in a gap between sequences proves nothing until
    // every record around it was walked), out of order (a multiplicative
    // walk through 4096-byte slots), then odd-sized ones straddling
    // records over the whole file.
    let half = rebuilt.len() as u64 / 2;
    let slots = half / 4096 - 1;
    let mut buf = vec![0u8; 4096];
    for i in 0..30u64 {
        let at = half + (i * 7919 % slots) * 4096 + (i % 3) * 1000;
        let n = file.read_at(at, &mut buf).unwrap();
        assert!(
            buf[..n] == rebuilt[at as usize..at as usize + n],
            "bytes at {at:#x} differ from makedumpfile -R's file"
        );
    }
    let found = file.records();
    assert_eq!(file.walked_whole_because(), None);
    assert!(found < 300, "{found} records walked for 30 reads");
    assert!(!file.indexed_whole());
    let mut at = 0u64;
    let mut buf = vec![0u8; 100_003];
    while at < file.size() {
        let n = file.read_at(at, &mut buf).unwrap();
        assert!(n > 0);
        assert!(
            buf[..n] == rebuilt[at as usize..at as usize + n],
            "bytes at {at:#x} differ from makedumpfile -R's file"
        );
        at += n as u64;
    }
    assert!(!file.indexed_whole(), "read whole in fast mode");

    // The dump on top of it: no finding, every page as the ELF has it.
    let file = FlattenedFile::parse_with_prefix(map(&flat), 16).unwrap();
    let file: Arc<dyn DumpFile> = Arc::new(file);
    let dump = KdumpCompressed::parse(file).unwrap();
    assert_eq!(codes(dump.findings()), Vec::<&str>::new());
    assert_eq!(dump.dumped_pages(), 16_715);
    let elf_phys = ElfPhys::open(&elf);
    assert_eq!(compare_with_elf(&dump, &elf_phys), (16_715, 0, 79));

    // Cut short, it has no end marker: indexed whole, with the finding.
    let bytes = std::fs::read(&flat).unwrap();
    let cut = Bytes::from_vec(bytes[..bytes.len() * 3 / 5].to_vec());
    let file = FlattenedFile::parse_with_prefix(cut, 16).unwrap();
    assert!(file.indexed_whole());
    assert_eq!(codes(file.findings()), ["CKD-E7007"]);
}

#[test]
fn lzo_pages_derived_from_the_elf_form() {
    let Some((elf, tool)) = elf_and_tool() else {
        return;
    };
    let lzo = derived("vmcore-d31.lzo.kdump", |out| {
        makedumpfile(
            &tool,
            &["-l", "-d", "31", common::p(&elf), common::p(out)],
            None,
            None,
        )
    });
    let dump = parse(map(&lzo));
    assert_eq!(codes(dump.findings()), Vec::<&str>::new());
    assert_eq!(dump.header().compression(), Some("lzo"));
    assert_eq!(dump.dumped_pages(), 16_715);
    let elf = ElfPhys::open(&elf);
    assert_eq!(compare_with_elf(&dump, &elf), (16_715, 0, 79));
}

// --- Hostile input, built from the real file ---

const BITMAPS_AT: usize = 3 * 4096;
const DESCRIPTORS_AT: usize = 9 * 4096;

fn real_file() -> Option<Vec<u8>> {
    Some(kdump_bytes()?.to_vec())
}

fn parse_vec(v: Vec<u8>) -> Result<KdumpCompressed, String> {
    KdumpCompressed::parse(Arc::new(Bytes::from_vec(v)))
}

/// The PFN of init_uts_ns's page and its descriptor's index.
const UTS_PFN: u64 = 0x9bf9b60 / PAGE;

fn descriptor_index(dump: &KdumpCompressed, pfn: u64) -> usize {
    (0..pfn).filter(|&p| dump.is_dumped(p)).count()
}

#[test]
fn truncated_files_are_findings_or_one_error() {
    let Some(v) = real_file() else { return };
    let full = parse_vec(v.clone()).unwrap();

    // Inside the header: nothing can be located.
    let e = parse_vec(v[..300].to_vec()).unwrap_err();
    assert!(e.contains("cut short"), "{e}");
    // Inside the bitmaps: every page is unknown, none a hole.
    let dump = parse_vec(v[..BITMAPS_AT + 0x2000].to_vec()).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7003"]);
    assert_eq!(
        read_page(&dump, UTS_PFN),
        Err(MemoryError::Absent {
            address: UTS_PFN * PAGE,
            physical: UTS_PFN * PAGE,
            reason: Absence::Unindexed
        })
    );
    // Inside the descriptor table: the page data after the table is gone
    // with it, every page but those sharing the zero page too.
    let cut = DESCRIPTORS_AT + 24 * 1000 + 7;
    let dump = parse_vec(v[..cut].to_vec()).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7004"]);
    assert_eq!(
        dump.findings()[0].message,
        "the file ends at 0xedc7 bytes, before the pages it describes (the descriptor table at \
         0x9000 itself ends after 1000 of its 17554 descriptors): 17554 of its 17554 dumped \
         pages, PFN 0x1 to 0x17fc8, are lost to the cut"
    );
    assert!(matches!(
        read_page(&dump, UTS_PFN),
        Err(MemoryError::Absent {
            reason: Absence::Truncated,
            ..
        })
    ));
    // Inside the pages: the descriptors say which pages are past the end.
    let dump = parse_vec(v[..v.len() / 2].to_vec()).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7004"]);
    let checked = dump.check_descriptors();
    assert_eq!(codes(&checked), ["CKD-E7004"]);
    assert!(checked[0].message.contains("past the end of the file"));
    let lost = (0..dump.max_mapnr())
        .rev()
        .find(|&p| dump.is_dumped(p))
        .unwrap();
    assert!(read_page(&dump, lost).is_err());
    assert_eq!(codes(&dump.page_findings()), ["CKD-E7004"]);
    // A page before the cut still reads.
    let early = (0..dump.max_mapnr()).find(|&p| dump.is_dumped(p)).unwrap();
    assert!(read_page(&dump, early).is_ok());
    assert_eq!(read_page(&dump, early), read_page(&full, early));
    assert!(read_page(&full, UTS_PFN).is_ok());
}

#[test]
fn bitmap_past_the_end_is_a_finding() {
    let Some(mut v) = real_file() else { return };
    v[436..440].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let dump = parse_vec(v).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7003"]);
    assert_eq!(dump.dumped_pages(), 0);
    assert!(read_page(&dump, UTS_PFN).is_err());
    assert_eq!(codes(&dump.check_descriptors()), Vec::<&str>::new());
}

#[test]
fn descriptor_past_the_end_is_a_finding() {
    let Some(mut v) = real_file() else { return };
    let index = descriptor_index(&parse_vec(v.clone()).unwrap(), UTS_PFN);
    let at = DESCRIPTORS_AT + 24 * index;
    let len = v.len() as u64;
    v[at..at + 8].copy_from_slice(&(len + 100).to_le_bytes());
    let dump = parse_vec(v).unwrap();
    assert_eq!(codes(dump.findings()), Vec::<&str>::new());
    assert_eq!(
        read_page(&dump, UTS_PFN),
        Err(MemoryError::Absent {
            address: UTS_PFN * PAGE,
            physical: UTS_PFN * PAGE,
            reason: Absence::BadDescriptor
        })
    );
    let page = dump.page_findings();
    assert_eq!(codes(&page), ["CKD-E7004"]);
    assert_eq!(page[0].location.address, Some(UTS_PFN * PAGE));
    assert!(
        page[0]
            .message
            .starts_with("1 page(s) unreadable, PFN 0x9bf9;")
    );
    let checked = dump.check_descriptors();
    assert_eq!(codes(&checked), ["CKD-E7004"]);
    assert!(
        checked[0]
            .message
            .starts_with("1 page(s) unreadable, PFN 0x9bf9;")
    );
    // Its neighbours still read.
    assert!(read_page(&dump, UTS_PFN + 1).is_ok());
}

#[test]
fn page_inflating_past_a_page_is_a_finding() {
    use std::io::Write;
    let Some(mut v) = real_file() else { return };
    let index = descriptor_index(&parse_vec(v.clone()).unwrap(), UTS_PFN);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&[0x41; 2 * PAGE as usize]).unwrap();
    let bomb = z.finish().unwrap();
    let at = DESCRIPTORS_AT + 24 * index;
    let offset = v.len() as u64;
    v[at..at + 8].copy_from_slice(&offset.to_le_bytes());
    v[at + 8..at + 12].copy_from_slice(&(bomb.len() as u32).to_le_bytes());
    v[at + 12..at + 16].copy_from_slice(&kdump_compressed::page_flags::ZLIB.to_le_bytes());
    v.extend_from_slice(&bomb);
    let dump = parse_vec(v).unwrap();
    assert_eq!(codes(&dump.check_descriptors()), Vec::<&str>::new());
    assert!(matches!(
        read_page(&dump, UTS_PFN),
        Err(MemoryError::Absent {
            reason: Absence::Corrupt,
            ..
        })
    ));
    let page = dump.page_findings();
    assert_eq!(codes(&page), ["CKD-E7005"]);
    assert!(
        page[0]
            .message
            .contains("decompresses to more than 0x1000 bytes"),
        "{}",
        page[0].message
    );
}

#[test]
fn incomplete_dump_loses_the_unwritten_pages() {
    let Some(mut v) = real_file() else { return };
    let index = descriptor_index(&parse_vec(v.clone()).unwrap(), UTS_PFN);
    v[424] |= kdump_compressed::status::INCOMPLETE as u8;
    let at = DESCRIPTORS_AT + 24 * index;
    v[at..at + 24].fill(0);
    let dump = parse_vec(v).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7006"]);
    assert!(read_page(&dump, UTS_PFN).is_err());
    let page = dump.page_findings();
    assert_eq!(codes(&page), ["CKD-E7004"]);
    assert!(
        page[0].message.contains("incomplete dump"),
        "{}",
        page[0].message
    );
}

#[test]
fn split_parts_hold_their_own_pfn_range() {
    let Some((elf, tool)) = elf_and_tool() else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (one, two) = (dir.join("vmcore.1"), dir.join("vmcore.2"));
    let args = [
        "--split",
        "-c",
        "-d",
        "31",
        common::p(&elf),
        common::p(&one),
        common::p(&two),
    ];
    makedumpfile(&tool, &args, None, None);
    let (one, two) = (parse(map(&one)), parse(map(&two)));
    let _ = std::fs::remove_dir_all(&dir);
    // makedumpfile 1.7.2 puts every dumped page of this small dump in the
    // first part; both carry the whole bitmaps.
    let s1 = one.sub_header().unwrap();
    assert_eq!(
        (s1.split, s1.start_pfn, s1.end_pfn),
        (Some(true), Some(0), Some(98_249))
    );
    let s2 = two.sub_header().unwrap();
    assert_eq!(
        (s2.split, s2.start_pfn, s2.end_pfn),
        (Some(true), Some(98_249), Some(98_249))
    );
    assert_eq!((one.dumped_pages(), two.dumped_pages()), (16_715, 0));
    assert_eq!(codes(two.findings()), Vec::<&str>::new());
    let elf = ElfPhys::open(&elf);
    assert_eq!(compare_with_elf(&one, &elf), (16_715, 0, 79));
    assert_eq!(
        read_page(&two, UTS_PFN),
        Err(MemoryError::Absent {
            address: UTS_PFN * PAGE,
            physical: UTS_PFN * PAGE,
            reason: Absence::OtherPart
        })
    );
    assert_eq!(two.captured_ranges(0, u64::MAX), Some(vec![]));
}

#[test]
fn truncated_flattened_stream_is_a_finding() {
    let Some((elf, tool)) = elf_and_tool() else {
        return;
    };
    let flat = derived("vmcore-d31.flat", |out| {
        makedumpfile(
            &tool,
            &["-F", "-c", "-d", "31", common::p(&elf)],
            None,
            Some(out),
        )
    });
    let whole = std::fs::read(&flat).unwrap();
    let cut = Bytes::from_vec(whole[..whole.len() * 3 / 5].to_vec());
    let file = FlattenedFile::parse(cut).unwrap();
    assert_eq!(codes(file.findings()), ["CKD-E7007"]);
    assert!(file.findings()[0].message.contains("cut short"));
    let dump = KdumpCompressed::parse(Arc::new(file)).unwrap();
    assert_eq!(codes(dump.findings()), ["CKD-E7004"]);
    assert_eq!(codes(&dump.check_descriptors()), ["CKD-E7004"]);
    let last = (0..dump.max_mapnr())
        .rev()
        .find(|&p| dump.is_dumped(p))
        .unwrap();
    assert!(matches!(
        read_page(&dump, last),
        Err(MemoryError::Absent {
            reason: Absence::Truncated,
            ..
        })
    ));
    // A flattened header alone carries an empty file.
    let header_only = Bytes::from_vec(whole[..4096].to_vec());
    let file = FlattenedFile::parse(header_only).unwrap();
    assert_eq!(file.size(), 0);
    assert!(KdumpCompressed::parse(Arc::new(file)).is_err());
}

/// Verify's full pass reports how far it got: every dumped page once, in
/// rising counts that end at the dump's 17,554 pages.
#[test]
fn the_full_page_pass_reports_its_progress_to_the_last_page() {
    let Some(bytes) = kdump_bytes() else { return };
    let dump = parse(bytes);
    let reports = std::cell::RefCell::new(Vec::new());
    let found = dump.check_pages(&|done, total| reports.borrow_mut().push((done, total)));
    assert!(found.is_empty(), "{found:?}");
    let reports = reports.into_inner();
    assert!(reports.len() > 10, "{reports:?}");
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 == w[1].1)
    );
    assert_eq!(reports.last(), Some(&(17_554, 17_554)));
    assert_eq!(dump.pages_to_check(), dump.dumped_pages());
}
