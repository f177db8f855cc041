//! Hostile input made from the real kdump-compressed dump (Debian 6.1,
//! zlib, dump level 31): copies cut short, a page descriptor pointing past
//! the end, a page that inflates past a page, zeroed bitmaps, an unfinished
//! write, a page table that points back to the top. Each is a finding or a
//! one-line error that names the pages lost and why, and `ckdump inspect`
//! still reports the panic wherever the pages it needs survive. Reads of
//! absent memory say why: excluded by the dump level, lost to the cut, a
//! damaged descriptor, a page table not present.
//!
//! Layout facts of this file (vmcore_kdump.rs checks its header): 4 KiB
//! blocks; header, 2 sub-header blocks, 6 bitmap blocks (1st bitmap at
//! 0x3000, 2nd at 0x6000), then the 17554 page descriptors at 0x9000.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ckdump::memory::{Absence, Memory, MemoryError, PageTableLevel};

const KDUMP: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const PAGE: usize = 4096;
const BITMAP_1_AT: usize = 0x3000;
const BITMAP_2_AT: usize = 0x6000;
const BITMAP_LEN: usize = 0x3000;
const DESCRIPTORS_AT: usize = 0x9000;
const FILE_LEN: usize = 0xf4_27a5;

/// CPU 1 panicked running pid 1 (init); its saved sp, and where crash's
/// `vtop` finds it: PMD page 0x11a6000 (entry 0) names PTE page 0x11a7000,
/// whose entry 0x13 names the stack page 0x11db000.
const CPU1_SP: u64 = 0xff73_5d20_0001_39a0;
const CPU1_STACK_PFN: u64 = 0x11db;
const CPU1_PTE_PFN: u64 = 0x11a7;
const CPU1_PMD_PFN: u64 = 0x11a6;
/// The top table, init_top_pgt (kernel_log.rs derives it).
const PGD_PHYSICAL: u64 = 0x9a1_0000;
/// The direct map's base (drgn: page_offset_base).
const PAGE_OFFSET_BASE: u64 = 0xff16_8023_4000_0000;
const PANIC: &str = "  Kernel panic - not syncing: sysrq triggered crash";

fn original() -> Option<Vec<u8>> {
    let path = common::shared_path(KDUMP)?;
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len(), FILE_LEN);
    Some(bytes)
}

/// A damaged copy, in a directory of its own that lives as long as it.
struct Damaged {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write_damaged(name: &str, bytes: &[u8]) -> Damaged {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    Damaged { _dir: dir, path }
}

/// Whether the 2nd bitmap marks `pfn` dumped.
fn dumped(v: &[u8], pfn: u64) -> bool {
    let byte = v[BITMAP_2_AT + (pfn / 8) as usize];
    byte >> (pfn % 8) & 1 == 1
}

/// File offset of the descriptor of `pfn` (one per dumped PFN, in order).
fn descriptor_at(v: &[u8], pfn: u64) -> usize {
    assert!(dumped(v, pfn), "{pfn:#x} is not dumped");
    let index = (0..pfn).filter(|&p| dumped(v, p)).count();
    DESCRIPTORS_AT + 24 * index
}

/// The page of `pfn` as the file stores it (zlib or raw).
fn stored_page(v: &[u8], pfn: u64) -> Vec<u8> {
    let at = descriptor_at(v, pfn);
    let offset = u64::from_le_bytes(v[at..at + 8].try_into().unwrap()) as usize;
    let size = u32::from_le_bytes(v[at + 8..at + 12].try_into().unwrap()) as usize;
    let flags = u32::from_le_bytes(v[at + 12..at + 16].try_into().unwrap());
    let data = &v[offset..offset + size];
    match flags {
        0 => data.to_vec(),
        1 => {
            let mut page = Vec::new();
            flate2::read::ZlibDecoder::new(data)
                .read_to_end(&mut page)
                .unwrap();
            page
        }
        other => panic!("flags {other:#x}"),
    }
}

/// Points the descriptor of `pfn` at `data` (zlib-compressed) appended to
/// the file.
fn replace_page(v: &mut Vec<u8>, pfn: u64, data: &[u8]) {
    let at = descriptor_at(v, pfn);
    let offset = v.len() as u64;
    v[at..at + 8].copy_from_slice(&offset.to_le_bytes());
    v[at + 8..at + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
    v[at + 12..at + 16].copy_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(data);
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

/// `ckdump verify --format json`: the exit code and every finding as
/// (code, message).
fn verify(path: &Path) -> (Option<i32>, Vec<(String, String)>) {
    let out = common::ckdump(&["verify", common::p(path), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out.status.code(), findings)
}

/// The messages of `code` among `findings`.
fn messages<'a>(findings: &'a [(String, String)], code: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|(c, _)| c == code)
        .map(|(_, m)| m.as_str())
        .collect()
}

fn codes(findings: &[(String, String)]) -> Vec<&str> {
    findings.iter().map(|(c, _)| c.as_str()).collect()
}

/// `ckdump inspect` as text; it must succeed.
fn inspect(path: &Path) -> String {
    let out = common::ckdump(&["inspect", common::p(path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The frame lines printed under CPU `n`'s line.
fn cpu_frames(text: &str, n: u32) -> Vec<&str> {
    let head = format!("  CPU {n:<3} ");
    text.lines()
        .skip_while(|l| !l.starts_with(&head))
        .skip(1)
        .take_while(|l| l.starts_with("      #"))
        .collect()
}

fn open_memory(path: &Path) -> std::sync::Arc<dyn Memory> {
    common::open(path).process.memory
}

const CPU1_UNREADABLE: &str = "CPU 1's stack cannot be read at its saved sp 0xff735d20000139a0, \
                               so its backtrace stops at its registers: ";

#[test]
fn a_copy_cut_short_names_the_pfns_it_lost() {
    let Some(v) = original() else { return };
    // Inside the header: nothing to read, one line.
    let cut = write_damaged("cut-300", &v[..300]);
    let out = common::ckdump(&["inspect", common::p(&cut.path)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "ckdump: {}: kdump-compressed header cut short: 300 of 464 bytes at offset 0x0\n",
            cut.path.display()
        )
    );
    assert!(out.stdout.is_empty());

    let page_tables_lost = "the kernel's page tables cannot be read: root page table at \
                            physical 0x9a10000 is not in the dump: it is lost: the dump file \
                            ends before its page";
    // (cut at, the E7004 message, whether the pages the panic needs
    // survive).
    let cases: [(usize, &str, bool); 4] = [
        (
            DESCRIPTORS_AT + 24 * 1000 + 7,
            "the file ends at 0xedc7 bytes, before the pages it describes (the descriptor table \
             at 0x9000 itself ends after 1000 of its 17554 descriptors): 17554 of its 17554 \
             dumped pages, PFN 0x1 to 0x17fc8, are lost to the cut",
            false,
        ),
        (
            FILE_LEN / 2,
            "the file ends at 0x7a13d2 bytes, before the pages it describes: 8561 of its 17554 \
             dumped pages, PFN 0x874f to 0x17fc8, are lost to the cut",
            false,
        ),
        (
            FILE_LEN * 97 / 100,
            "the file ends at 0xecd489 bytes, before the pages it describes: 1355 of its 17554 \
             dumped pages, PFN 0x16d4d to 0x17fc8, are lost to the cut",
            true,
        ),
        (
            FILE_LEN - 1,
            "the file ends at 0xf427a4 bytes, before the pages it describes: 1 of its 17554 \
             dumped pages, PFN 0x17fc8, is lost to the cut",
            true,
        ),
    ];
    for (len, message, panic_survives) in cases {
        let cut = write_damaged(&format!("cut-{len}"), &v[..len]);
        let (exit, findings) = verify(&cut.path);
        assert_eq!(exit, Some(1), "{len}");
        assert_eq!(messages(&findings, "CKD-E7004"), [message], "{len}");
        let text = inspect(&cut.path);
        assert!(text.contains(message), "{len}: {text}");
        if panic_survives {
            assert_eq!(codes(&findings), ["CKD-E7004", "CKD-N7011"], "{len}");
            assert!(text.lines().any(|l| l == PANIC), "{len}: {text}");
            assert_eq!(cpu_frames(&text, 1).len(), 10, "{len}: {text}");
        } else {
            assert_eq!(
                codes(&findings),
                ["CKD-E7004", "CKD-W7009", "CKD-N7011"],
                "{len}"
            );
            assert_eq!(messages(&findings, "CKD-W7009"), [page_tables_lost]);
            assert!(text.contains("No panic message found"), "{len}: {text}");
        }
    }

    // Half the file: the page tables are lost with it, so the image's
    // memory is physical; a page past the cut reads as lost, one before
    // it reads.
    let cut = write_damaged("half", &v[..FILE_LEN / 2]);
    let memory = open_memory(&cut.path);
    let lost = 0x17fc8 * PAGE as u64;
    let e = memory.read_u64(lost).unwrap_err();
    assert_eq!(
        e,
        MemoryError::Absent {
            address: lost,
            physical: lost,
            reason: Absence::Truncated
        }
    );
    assert_eq!(
        e.to_string(),
        "physical 0x17fc8000 is lost: the dump file ends before its page"
    );
    assert!(memory.read_u64(PGD_PHYSICAL).is_err());
    assert!(memory.read_u64(0x1000).is_ok());
}

#[test]
fn a_descriptor_pointing_past_the_end_is_named_and_the_stack_says_why() {
    let Some(mut v) = original() else { return };
    // One bit of the PTE page's descriptor flipped: its offset now lies
    // 1 TiB past the end.
    let at = descriptor_at(&v, CPU1_PTE_PFN);
    v[at + 5] ^= 1;
    let damaged = write_damaged("flipped", &v);
    let (exit, findings) = verify(&damaged.path);
    assert_eq!(exit, Some(1));
    // Found while opening, then by verify's pass over every page.
    assert_eq!(codes(&findings), ["CKD-W7009", "CKD-N7011", "CKD-E7004"]);
    let why = "0xff735d20000139a0 cannot be translated: the PTE page that maps it (physical \
               0x11a7000) cannot be read: the page descriptor that locates it is damaged";
    assert_eq!(
        messages(&findings, "CKD-W7009"),
        [format!("{CPU1_UNREADABLE}{why}")]
    );
    assert_eq!(
        messages(&findings, "CKD-E7004"),
        [
            "1 page(s) unreadable, PFN 0x11a7; first: page data at 0x100000aa4ad (0x304 bytes) \
          lies past the end of the file (0xf427a5 bytes)"
        ]
    );
    // The log survives: the panic is reported, and CPU 1's stack stops at
    // its registers with the reason among the findings.
    let text = inspect(&damaged.path);
    assert!(text.lines().any(|l| l == PANIC), "{text}");
    assert_eq!(
        cpu_frames(&text, 1),
        ["      #0  0xffffffffa696475a  vmlinux!__crash_kexec+0x11a  [context]"]
    );
    assert!(
        text.lines().any(|l| l
            == format!("  warning CKD-W7009 kernel-memory-readable  {CPU1_UNREADABLE}{why} (address 0xff735d20000139a0)")),
        "{text}"
    );
    let memory = open_memory(&damaged.path);
    assert_eq!(
        memory.read_u64(CPU1_SP),
        Err(MemoryError::TableAbsent {
            address: CPU1_SP,
            level: PageTableLevel::Pte,
            table: CPU1_PTE_PFN * PAGE as u64,
            reason: Absence::BadDescriptor
        })
    );
}

#[test]
fn pages_that_do_not_decompress_are_counted_and_listed() {
    let Some(mut v) = original() else { return };
    // CPU 1's stack page inflates to 1 MiB (from 1 KiB of zlib data): the
    // reader stops one byte past a page.
    let bomb = zlib(&vec![0x41; 1 << 20]);
    assert!(bomb.len() < PAGE);
    replace_page(&mut v, CPU1_STACK_PFN, &bomb);
    let damaged = write_damaged("bomb", &v);
    let (exit, findings) = verify(&damaged.path);
    assert_eq!(exit, Some(1));
    assert_eq!(codes(&findings), ["CKD-W7009", "CKD-N7011", "CKD-E7005"]);
    let why = "0xff735d20000139a0 (physical 0x11db9a0) is damaged: its page in the file does not \
               decompress to one page";
    assert_eq!(
        messages(&findings, "CKD-W7009"),
        [format!("{CPU1_UNREADABLE}{why}")]
    );
    assert_eq!(
        messages(&findings, "CKD-E7005"),
        [
            "1 page(s) unreadable, PFN 0x11db; first: decompresses to more than 0x1000 bytes (a page)"
        ]
    );
    let text = inspect(&damaged.path);
    assert!(text.lines().any(|l| l == PANIC), "{text}");
    assert_eq!(cpu_frames(&text, 1).len(), 1, "{text}");
    assert_eq!(
        open_memory(&damaged.path).read_u64(CPU1_SP),
        Err(MemoryError::Absent {
            address: CPU1_SP,
            physical: 0x11d_b9a0,
            reason: Absence::Corrupt
        })
    );

    // Ten pages that inflate to half a page each: all counted, the first
    // eight listed.
    let Some(mut v) = original() else { return };
    let half = zlib(&[0u8; PAGE / 2]);
    let pfns: Vec<u64> = (0x11b0..).filter(|&p| dumped(&v, p)).take(10).collect();
    assert_eq!(pfns, (0x11b0..0x11ba).collect::<Vec<_>>());
    for &pfn in &pfns {
        replace_page(&mut v, pfn, &half);
    }
    let damaged = write_damaged("halves", &v);
    let (_, findings) = verify(&damaged.path);
    assert_eq!(
        messages(&findings, "CKD-E7005"),
        [
            "10 page(s) unreadable, PFN 0x11b0, 0x11b1, 0x11b2, 0x11b3, 0x11b4, 0x11b5, 0x11b6, \
          0x11b7 and 2 more; first: decompresses to 0x800 bytes, less than a page of 0x1000"
        ]
    );
}

#[test]
fn zeroed_bitmaps_are_findings() {
    let Some(v) = original() else { return };
    // No page marked dumped: the descriptor table no longer fits the
    // page data behind it, and no page can be located.
    let mut zeroed = v.clone();
    zeroed[BITMAP_2_AT..BITMAP_2_AT + BITMAP_LEN].fill(0);
    let damaged = write_damaged("no-dumped-bitmap", &zeroed);
    let (exit, findings) = verify(&damaged.path);
    assert_eq!(exit, Some(1));
    assert_eq!(codes(&findings), ["CKD-E7003", "CKD-W7009", "CKD-N7011"]);
    assert_eq!(
        messages(&findings, "CKD-E7003"),
        [
            "the 2nd bitmap marks 0 pages dumped, so the page data would start at 0x9000, but the \
          first page descriptor points at 0x6fdb0: the bitmaps are damaged and no page can be \
          located"
        ]
    );
    assert_eq!(
        messages(&findings, "CKD-W7009"),
        [
            "the kernel's page tables cannot be read: root page table at physical 0x9a10000 is not \
          in the dump: it cannot be located: the dump's page bitmaps are missing or damaged"
        ]
    );
    assert!(inspect(&damaged.path).contains("No panic message found"));

    // No page marked RAM: every dumped page still reads.
    let mut zeroed = v;
    zeroed[BITMAP_1_AT..BITMAP_1_AT + BITMAP_LEN].fill(0);
    let damaged = write_damaged("no-ram-bitmap", &zeroed);
    let (_, findings) = verify(&damaged.path);
    assert_eq!(codes(&findings), ["CKD-E7003", "CKD-N7011"]);
    assert_eq!(
        messages(&findings, "CKD-E7003"),
        ["17554 PFNs are marked dumped in the 2nd bitmap but are not RAM in the 1st"]
    );
    let text = inspect(&damaged.path);
    assert!(text.lines().any(|l| l == PANIC), "{text}");
    assert_eq!(cpu_frames(&text, 1).len(), 10, "{text}");
}

#[test]
fn an_unfinished_write_names_the_pages_never_written() {
    let Some(mut v) = original() else { return };
    // makedumpfile ran out of room: incomplete flag, the last 100
    // descriptors never written, the file ending after the page before.
    v[424] |= 0x8;
    let last = DESCRIPTORS_AT + 24 * 17_554;
    v[last - 24 * 100..last].fill(0);
    let kept = last - 24 * 101;
    let end = u64::from_le_bytes(v[kept..kept + 8].try_into().unwrap()) as usize
        + u32::from_le_bytes(v[kept + 8..kept + 12].try_into().unwrap()) as usize;
    v.truncate(end);
    let damaged = write_damaged("incomplete", &v);
    let (exit, findings) = verify(&damaged.path);
    assert_eq!(exit, Some(1));
    assert_eq!(codes(&findings), ["CKD-E7006", "CKD-N7011"]);
    assert_eq!(
        messages(&findings, "CKD-E7006"),
        [
            "the header's status carries the incomplete flag: makedumpfile stopped before writing \
          every page; 100 of its 17554 dumped pages, PFN 0x17f65 to 0x17fc8, are lost: never \
          written"
        ]
    );
    let text = inspect(&damaged.path);
    assert!(text.lines().any(|l| l == PANIC), "{text}");
    assert!(text.contains("dump     kdump-compressed, dump level 31"));
    assert!(text.contains("INCOMPLETE (the writer stopped early)"));
    // A page never written, read through the direct map.
    let address = PAGE_OFFSET_BASE + 0x17fc8 * PAGE as u64;
    let e = open_memory(&damaged.path).read_u64(address).unwrap_err();
    assert_eq!(
        e,
        MemoryError::Absent {
            address,
            physical: 0x17fc_8000,
            reason: Absence::Incomplete
        }
    );
    assert_eq!(
        e.to_string(),
        "0xff16802357fc8000 (physical 0x17fc8000) is lost: the dump is incomplete (its writer \
         stopped before writing this page)"
    );
}

/// Walks x86_64 5-level tables from `top` (physical) for `address`,
/// reading them through the direct map of `memory`; the physical address.
fn walk_by_hand(memory: &dyn Memory, top: u64, address: u64) -> u64 {
    let mut table = top;
    for level in (1..=5u32).rev() {
        let index = (address >> (12 + 9 * (level - 1))) & 0x1ff;
        let entry = memory
            .read_u64(PAGE_OFFSET_BASE + table + index * 8)
            .unwrap();
        assert_eq!(entry & 1, 1, "level {level} not present");
        assert!(
            level > 3 || level == 1 || entry & 0x80 == 0,
            "no large page"
        );
        table = entry & 0x000f_ffff_ffff_f000;
    }
    table + (address & 0xfff)
}

#[test]
fn a_user_page_reads_as_excluded_by_dump_level_31() {
    let Some(path) = common::shared_path(KDUMP) else {
        return;
    };
    let memory = open_memory(&path);
    // init (pid 1, task 0xff168023411ec180 as drgn lists it) entered the
    // kernel by a system call: its user sp is in the pt_regs at the top
    // of its 16 KiB stack (0xff735d2000010000); pt_regs.sp is at +152.
    let user_sp = memory.read_u64(0xff73_5d20_0001_4000 - 168 + 152).unwrap();
    assert_eq!(user_sp, 0x7fff_7f60_3b58);
    // The kernel's own tables have no user half.
    let e = memory.read_u64(user_sp).unwrap_err();
    assert_eq!(
        e,
        MemoryError::NotPresent {
            address: user_sp,
            level: PageTableLevel::Pgd
        }
    );
    assert_eq!(
        e.to_string(),
        "0x7fff7f603b58 is not mapped: its PGD entry in the kernel's page tables is not present"
    );
    // init's own tables: task_struct.mm at +2272, mm_struct.pgd at +72
    // (pahole on this kernel); the page tables themselves are kernel
    // pages, dumped.
    let mm = memory.read_u64(0xff16_8023_411e_c180 + 2272).unwrap();
    assert_eq!(mm, 0xff16_8023_425c_6400);
    let pgd = memory.read_u64(mm + 72).unwrap();
    let physical = walk_by_hand(&*memory, pgd - PAGE_OFFSET_BASE, user_sp);
    // drgn's follow_phys(mm, 0x7fff7f603b58).
    assert_eq!(physical, 0x99a_4b58);
    // The user stack page is anonymous memory: dump level 31 left it out.
    let direct = PAGE_OFFSET_BASE + physical;
    let e = memory.read_u64(direct).unwrap_err();
    assert_eq!(
        e,
        MemoryError::Absent {
            address: direct,
            physical,
            reason: Absence::Excluded {
                dump_level: Some(31)
            }
        }
    );
    assert_eq!(
        e.to_string(),
        "0xff168023499a4b58 (physical 0x99a4b58) was excluded by dump level 31 (a zero, cache, \
         private cache, user or free page; the dump does not record which)"
    );
}

#[test]
fn a_page_table_pointing_back_to_the_top_ends_the_walk() {
    let Some(mut v) = original() else { return };
    // Every entry of the PMD page that maps CPU 1's stack names the top
    // table (init_top_pgt) as if it were a PTE page.
    let mut pmd = stored_page(&v, CPU1_PMD_PFN);
    assert_eq!(
        u64::from_le_bytes(pmd[..8].try_into().unwrap()),
        (CPU1_PTE_PFN * PAGE as u64) | 0x67
    );
    for entry in pmd.chunks_mut(8) {
        entry.copy_from_slice(&(PGD_PHYSICAL | 0x67).to_le_bytes());
    }
    replace_page(&mut v, CPU1_PMD_PFN, &zlib(&pmd));
    let damaged = write_damaged("loop", &v);
    // The walk reads the top table as the PTE page and stops there: the
    // user-half entry it lands on is not present.
    let memory = open_memory(&damaged.path);
    let e = memory.read_u64(CPU1_SP).unwrap_err();
    assert_eq!(
        e,
        MemoryError::NotPresent {
            address: CPU1_SP,
            level: PageTableLevel::Pte
        }
    );
    let (exit, findings) = verify(&damaged.path);
    // A warning only: the file itself is sound.
    assert_eq!(exit, Some(0));
    assert_eq!(codes(&findings), ["CKD-W7009", "CKD-N7011"]);
    assert_eq!(
        messages(&findings, "CKD-W7009"),
        [format!("{CPU1_UNREADABLE}{e}")]
    );
    let text = inspect(&damaged.path);
    assert!(text.lines().any(|l| l == PANIC), "{text}");
    // Every other address the PMD covers walks as far and no further.
    let mut buf = vec![0u8; 1 << 20];
    assert_eq!(memory.read_available(CPU1_SP & !0x1f_ffff, &mut buf), 0);
}
