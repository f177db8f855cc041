//! Kernel virtual memory and the printk log of a real kdump (Debian 6.1,
//! 5-level paging, KASLR), read with nothing but the dump: physical memory
//! from the ELF vmcore's PT_LOADs, page tables and log from VMCOREINFO.

mod common;

use std::io::Write;
use std::sync::{Arc, OnceLock};

use ckdump::kernel::printk::{panic_message, read_log};
use ckdump::memory::page_tables::KernelMemory;
use ckdump::memory::{Bytes, Memory, MemoryError, Segment, SegmentMemory};
use ckdump::model::Vmcoreinfo;

const VMCORE: &str = "generated/vmcores/vmcore-kdump-makedumpfile-E-d31.elf.zst";

struct Dump {
    physical: Arc<dyn Memory>,
    info: Vmcoreinfo,
    /// Kernel virtual address and physical address of each PT_LOAD.
    loads: Vec<(u64, u64)>,
}

/// The decompressed dump, read once for all tests (100 MB).
fn dump() -> Option<&'static Dump> {
    static DUMP: OnceLock<Dump> = OnceLock::new();
    let path = common::shared_path(VMCORE)?;
    Some(DUMP.get_or_init(|| {
        let mut file = tempfile::tempfile().unwrap();
        let compressed = std::fs::File::open(&path).unwrap();
        zstd::stream::copy_decode(compressed, &mut file).unwrap();
        file.flush().unwrap();
        let bytes = Bytes::map_file(&file).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        let mut segments = Vec::new();
        let mut loads = Vec::new();
        for ph in &elf.program_headers {
            if ph.p_type != goblin::elf::program_header::PT_LOAD {
                continue;
            }
            loads.push((ph.p_vaddr, ph.p_paddr));
            // p_filesz < p_memsz: the rest of the range was not captured.
            segments.push(Segment {
                address: ph.p_paddr,
                size: ph.p_memsz,
                captured: ph.p_filesz,
                offset: ph.p_offset,
                bytes: bytes.clone(),
            });
        }
        let mut info = None;
        for note in elf.iter_note_headers(&bytes).unwrap() {
            let note = note.unwrap();
            if note.name == "VMCOREINFO" {
                info = Some(Vmcoreinfo::parse(note.desc));
            }
        }
        Dump {
            physical: Arc::new(SegmentMemory::new(segments)),
            info: info.expect("VMCOREINFO note"),
            loads,
        }
    }))
}

fn kernel_memory(dump: &Dump) -> KernelMemory {
    ckdump::kernel::x86_64_memory(Arc::clone(&dump.physical), &dump.info).unwrap()
}

fn c_string(memory: &dyn Memory, address: u64, max: usize) -> String {
    let mut buf = vec![0u8; max];
    memory.read_exact(address, &mut buf).unwrap();
    let end = buf.iter().position(|&b| b == 0).unwrap_or(max);
    String::from_utf8(buf[..end].to_vec()).unwrap()
}

#[test]
fn kernel_addresses_translate_through_five_level_tables() {
    let Some(dump) = dump() else { return };
    assert_eq!(dump.info.number("pgtable_l5_enabled"), Some(1));
    assert_eq!(dump.info.kernel_offset(), Some(0x2580_0000));
    assert_eq!(dump.info.number("phys_base"), Some(-0x1e80_0000));
    let kernel = kernel_memory(dump);
    assert_eq!(kernel.levels(), 5);
    // Without VMCOREINFO's keys there is no address space.
    let mut no_root = dump.info.clone();
    no_root
        .entries
        .retain(|(k, _)| k != "SYMBOL(init_top_pgt)" && k != "SYMBOL(swapper_pg_dir)");
    assert!(ckdump::kernel::x86_64_memory(Arc::clone(&dump.physical), &no_root).is_err());
    // init_top_pgt = 0xffffffffa8210000: 0x28210000 into the kernel map,
    // less 0x1e800000.
    assert_eq!(kernel.root(), 0x9a1_0000);
    let memory: &dyn Memory = &kernel;

    // struct new_utsname: six 65-byte fields (sysname, nodename, release…).
    let uts =
        dump.info.symbol("init_uts_ns").unwrap() + dump.info.offset("uts_namespace.name").unwrap();
    assert_eq!(c_string(memory, uts, 65), "Linux");
    assert_eq!(c_string(memory, uts + 65, 65), "(none)");
    assert_eq!(c_string(memory, uts + 2 * 65, 65), "6.1.0-56-cloud-amd64");
    assert_eq!(c_string(memory, uts + 4 * 65, 65), "x86_64");
    // The walk agrees with the text mapping.
    let t = kernel.translate(uts).unwrap();
    assert_eq!(Some(t.physical), kernel.kernel_text_physical(uts));

    // The direct map (page_offset_base 0xff16802340000000, read off the
    // PT_LOADs: vaddr - paddr) is reached only through the tables.
    let page_offset = dump
        .loads
        .iter()
        .find(|(v, _)| *v < 0xffff_ffff_8000_0000)
        .map(|(v, p)| v - p)
        .unwrap();
    assert_eq!(page_offset, 0xff16_8023_4000_0000);
    assert_eq!(kernel.kernel_text_physical(page_offset + 0x100_0000), None);
    let phys_uts = t.physical;
    let direct = page_offset + phys_uts;
    assert_eq!(kernel.translate(direct).unwrap().physical, phys_uts);
    assert_eq!(
        c_string(memory, direct + 2 * 65, 65),
        "6.1.0-56-cloud-amd64"
    );
    // A read across a page boundary of the direct map equals the physical
    // bytes on both sides.
    let boundary = page_offset + 0x100_0000 + 0x1000 - 4;
    let mut virt = [0u8; 8];
    let mut phys = [0u8; 8];
    memory.read_exact(boundary, &mut virt).unwrap();
    dump.physical
        .as_ref()
        .read_exact(0x100_0000 + 0x1000 - 4, &mut phys)
        .unwrap();
    assert_eq!(virt, phys);
    // The direct map uses large pages: a read runs to the large page's end.
    let large = kernel.translate(page_offset + 0x100_0000).unwrap();
    assert_eq!(large.remaining_in_page, 0x20_0000);

    // Physical RAM the dump left out (PT_LOAD 0x100000 has no file bytes)
    // is mapped but not captured; a hole in the address space is not
    // present in the tables, at the level that says so.
    assert_eq!(
        memory.read_u64(page_offset + 0x20_0000),
        Err(MemoryError::NotCaptured {
            address: page_offset + 0x20_0000
        })
    );
    assert_eq!(
        memory.read_u64(0xffff_ffff_0000_0000),
        Err(MemoryError::NotPresent {
            address: 0xffff_ffff_0000_0000,
            level: ckdump::memory::PageTableLevel::Pud
        })
    );
    // Not canonical under 57-bit addressing.
    assert!(matches!(
        memory.read_u64(0x0100_0000_0000_0000),
        Err(MemoryError::Unmapped { .. })
    ));
}

fn dmesg_line(r: &ckdump::model::LogRecord) -> String {
    format!(
        "[{:5}.{:06}] {}",
        r.timestamp_ns / 1_000_000_000,
        r.timestamp_ns % 1_000_000_000 / 1000,
        r.text
    )
}

#[test]
fn printk_ring_reads_like_dmesg() {
    let Some(dump) = dump() else { return };
    let kernel = kernel_memory(dump);
    let log = read_log(&kernel, &dump.info).unwrap();

    assert_eq!(panic_message(&log), Some("sysrq triggered crash"));
    let first = &log[0];
    assert_eq!(
        dmesg_line(first),
        "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) \
         (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) \
         #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    );
    assert_eq!(first.seq, 0);
    assert_eq!(first.level, 5);
    assert_eq!(first.facility, 0);
    assert_eq!(first.caller, Some(ckdump::model::LogCaller::Task(0)));
    // Oldest first, no gaps.
    for (i, r) in log.iter().enumerate() {
        assert_eq!(r.seq, i as u64);
    }
    assert_eq!(log.len(), RECORDS);

    // drgn's "last 12 printk records" of this dump.
    let reference = std::fs::read_to_string(
        common::shared_path("generated/vmcores/reference/drgn-vmcore-kdump.E-d31.elf.txt").unwrap(),
    )
    .unwrap();
    let expected: Vec<&str> = reference
        .lines()
        .skip_while(|l| *l != "--- last 12 printk records")
        .skip(1)
        .take(12)
        .collect();
    assert_eq!(expected.len(), 12);
    assert_eq!(
        expected[9],
        "[   11.134715] R10: 00000000000001b6 R11: 0000000000000202 R12: 0000000000000002"
    );
    let ours: Vec<String> = log[log.len() - 12..].iter().map(dmesg_line).collect();
    assert_eq!(ours, expected);
}

/// Records in the ring of this dump.
const RECORDS: usize = 421;
