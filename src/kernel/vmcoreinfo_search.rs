//! A kernel's VMCOREINFO found in its own memory, for a dump that does not
//! carry it as a note (QEMU's `dump-guest-memory` when the guest never
//! handed it over through `qemu_fw_cfg`). Since Linux 4.15 the kernel keeps
//! the note it would give a crash kernel in a zeroed, page-aligned buffer
//! of its own (`vmcoreinfo_note`, from `alloc_pages_exact`): an ELF note
//! header with the name "VMCOREINFO" at the start of a page. Only page
//! starts are looked at, so the search reads 24 bytes a page.

use crate::memory::Memory;
use crate::model::Vmcoreinfo;

/// The kernel writes at most a page of VMCOREINFO text.
const MAX_TEXT: u32 = 4096;
/// Elf64_Nhdr (namesz, descsz, type), then "VMCOREINFO\0" padded to 12.
const HEADER: usize = 12 + 12;

/// Where it was found, and what it says.
#[derive(Debug, Clone)]
pub struct FoundVmcoreinfo {
    pub physical: u64,
    pub vmcoreinfo: Vmcoreinfo,
}

/// Looks at the start of every `page_size` page of `ranges` (physical
/// address ranges the dump holds) for the kernel's VMCOREINFO note; the
/// first whose text names the release, the page size and the kernel's
/// page tables is taken. Reads at most 24 bytes a page plus one page per
/// candidate.
pub fn find_in_memory(
    memory: &dyn Memory,
    ranges: &[(u64, u64)],
    page_size: u64,
) -> Option<FoundVmcoreinfo> {
    let mut header = [0u8; HEADER];
    for &(start, end) in ranges {
        let mut page = start.div_ceil(page_size).checked_mul(page_size)?;
        while page.checked_add(HEADER as u64).is_some_and(|e| e <= end) {
            if memory.read_exact(page, &mut header).is_ok()
                && let Some(found) = note_at(memory, page, &header)
            {
                return Some(found);
            }
            page = page.checked_add(page_size)?;
        }
    }
    None
}

fn note_at(memory: &dyn Memory, page: u64, header: &[u8; HEADER]) -> Option<FoundVmcoreinfo> {
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap_or_default());
    let (namesz, descsz, kind) = (word(0), word(4), word(8));
    if namesz != 11 || kind != 0 || &header[12..23] != b"VMCOREINFO\0" {
        return None;
    }
    if descsz == 0 || descsz > MAX_TEXT {
        return None;
    }
    let mut text = vec![0u8; descsz as usize];
    memory.read_exact(page + HEADER as u64, &mut text).ok()?;
    // The text stops at its first NUL (the buffer is zeroed past it).
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let vmcoreinfo = Vmcoreinfo::parse(&text[..end]);
    let usable = vmcoreinfo.osrelease().is_some()
        && vmcoreinfo.page_size().is_some()
        && (vmcoreinfo.symbol("init_top_pgt").is_some()
            || vmcoreinfo.symbol("swapper_pg_dir").is_some());
    usable.then_some(FoundVmcoreinfo {
        physical: page,
        vmcoreinfo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Segment, SegmentMemory};

    fn note(text: &str) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&11u32.to_le_bytes());
        n.extend_from_slice(&(text.len() as u32).to_le_bytes());
        n.extend_from_slice(&0u32.to_le_bytes());
        n.extend_from_slice(b"VMCOREINFO\0\0");
        n.extend_from_slice(text.as_bytes());
        n
    }

    fn memory_with(pages: &[(usize, Vec<u8>)]) -> SegmentMemory {
        let mut bytes = vec![0u8; 16 * 4096];
        for (page, content) in pages {
            bytes[page * 4096..page * 4096 + content.len()].copy_from_slice(content);
        }
        let size = bytes.len() as u64;
        SegmentMemory::new(vec![Segment {
            address: 0x10_0000,
            size,
            captured: size,
            offset: 0,
            bytes: crate::memory::Bytes::from_vec(bytes),
        }])
    }

    const GOOD: &str = "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff82a10000\n";

    #[test]
    fn the_first_usable_note_at_a_page_start_is_taken() {
        let memory = memory_with(&[
            // Not at a page start: never looked at.
            (2, [vec![0u8; 8], note(GOOD)].concat()),
            // At a page start, but its text names no page tables.
            (5, note("OSRELEASE=6.1.0\nPAGESIZE=4096\n")),
            (9, note(GOOD)),
            (
                12,
                note("OSRELEASE=other\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=1\n"),
            ),
        ]);
        let found = find_in_memory(&memory, &[(0x10_0000, 0x11_0000)], 4096).unwrap();
        assert_eq!(found.physical, 0x10_0000 + 9 * 4096);
        assert_eq!(found.vmcoreinfo.osrelease(), Some("6.1.0"));
    }

    #[test]
    fn damaged_headers_and_sizes_are_passed_over() {
        let mut huge = note(GOOD);
        huge[4..8].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut wrong_type = note(GOOD);
        wrong_type[8] = 1;
        // A note cut by the end of the range.
        let memory = memory_with(&[(1, huge), (3, wrong_type), (15, note(GOOD))]);
        assert!(find_in_memory(&memory, &[(0x10_0000, 0x10_f010)], 4096).is_none());
        assert!(find_in_memory(&memory, &[], 4096).is_none());
        // A range ending at u64::MAX does not overflow.
        assert!(find_in_memory(&memory, &[(u64::MAX - 4096, u64::MAX)], 4096).is_none());
    }
}
