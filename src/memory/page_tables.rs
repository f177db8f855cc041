//! Kernel virtual addresses through the kernel's own page tables: an
//! address space over a dump's physical memory.
//!
//! x86_64 only for now: 4- and 5-level paging with 9 index bits a level,
//! 2 MiB and 1 GiB pages, and the SME encryption bit masked out of every
//! entry. The root table is `init_top_pgt` (alias `swapper_pg_dir`), whose
//! physical address comes from the kernel-text mapping, which needs no
//! tables: `virt - START_KERNEL_MAP + phys_base`.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::{Absence, Memory, MemoryError, PageTableLevel};

/// Where x86_64 maps the kernel image (`__START_KERNEL_map`).
pub const X86_64_START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// How far the kernel-text mapping reaches when VMCOREINFO does not say
/// (`KERNEL_IMAGE_SIZE` with KASLR: 1 GiB).
const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 1 << 30;

const PAGE_SIZE: u64 = 4096;
const ENTRY_PRESENT: u64 = 1;
/// PS: the entry maps a page (1 GiB at level 3, 2 MiB at level 2).
const ENTRY_LARGE: u64 = 1 << 7;
/// Bits 12–51 of an entry: the next table's or the page's physical address.
const ENTRY_ADDRESS: u64 = 0x000f_ffff_ffff_f000;
/// Translations remembered (direct-mapped by virtual page number).
const CACHE_SLOTS: usize = 64;

/// Why a kernel virtual address has no physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslateError {
    /// Not a canonical address for the paging depth in use.
    NonCanonical { address: u64 },
    /// The entry at `level` (5 = PML5 … 1 = PTE) has its present bit clear.
    NotPresent { address: u64, level: u8, entry: u64 },
    /// The entry at `level` names a physical address the machine cannot
    /// have (beyond MAX_PHYSMEM_BITS) or sets the large-page bit where
    /// x86_64 has no large pages: a damaged table.
    BadEntry { address: u64, level: u8, entry: u64 },
    /// The table of `level` at `table` (physical) is not in the dump, for
    /// `reason`.
    TableNotInDump {
        address: u64,
        level: u8,
        table: u64,
        reason: Absence,
    },
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TranslateError::NonCanonical { address } => {
                write!(f, "{address:#x} is not a canonical address")
            }
            TranslateError::NotPresent {
                address,
                level,
                entry,
            } => write!(
                f,
                "{address:#x} is not mapped: level-{level} entry {entry:#x} is not present"
            ),
            TranslateError::BadEntry {
                address,
                level,
                entry,
            } => write!(
                f,
                "{address:#x}: level-{level} entry {entry:#x} is not a valid x86_64 entry"
            ),
            TranslateError::TableNotInDump {
                address,
                level,
                table,
                reason,
            } => write!(
                f,
                "{address:#x}: its level-{level} page table at physical {table:#x} {reason}"
            ),
        }
    }
}

impl std::error::Error for TranslateError {}

/// Where a virtual address lives: its physical address and how many bytes
/// from there on stay in the same page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    pub physical: u64,
    /// Bytes from `physical` to the end of its page (4 KiB, 2 MiB or 1 GiB).
    pub remaining_in_page: u64,
}

/// What an x86_64 kernel's paging needs to be walked: the root table, the
/// kernel-text mapping's displacement and the paging mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct X86_64Paging {
    /// Kernel virtual address of the top-level table (`init_top_pgt`).
    pub root_table: u64,
    /// Physical address of the kernel's link address less
    /// `__START_KERNEL_map`'s physical start (negative when loaded lower).
    pub phys_base: i64,
    /// 4 or 5.
    pub levels: u8,
    /// Memory-encryption bits to clear from every entry (SME C-bit).
    pub sme_mask: u64,
    /// Physical addresses have at most this many bits (32–52).
    pub max_physmem_bits: u32,
    /// How far the kernel-text mapping reaches.
    pub kernel_image_size: u64,
}

impl X86_64Paging {
    /// 4-level paging, no SME, 52 physical bits, a 1 GiB kernel image.
    pub fn new(root_table: u64, phys_base: i64) -> Self {
        X86_64Paging {
            root_table,
            phys_base,
            levels: 4,
            sme_mask: 0,
            max_physmem_bits: 52,
            kernel_image_size: DEFAULT_KERNEL_IMAGE_SIZE,
        }
    }
}

#[derive(Clone, Copy)]
struct CachedPage {
    /// Virtual base of the page.
    virtual_base: u64,
    physical_base: u64,
    size: u64,
}

/// The last translations of a page-table walker (x86_64 or aarch64): a
/// read of a kernel structure translates the same few pages over and over.
/// Direct-mapped by the base page (`page_shift`) of the address asked for.
pub(super) struct TranslationCache {
    page_shift: u32,
    slots: Mutex<[Option<CachedPage>; CACHE_SLOTS]>,
}

impl TranslationCache {
    pub(super) fn new(page_shift: u32) -> Self {
        TranslationCache {
            page_shift,
            slots: Mutex::new([None; CACHE_SLOTS]),
        }
    }

    fn slot(&self, address: u64) -> usize {
        ((address >> self.page_shift) as usize) % CACHE_SLOTS
    }

    pub(super) fn get(&self, address: u64) -> Option<Translation> {
        let slots = self.slots.lock().ok()?;
        // A slot is shared by many pages: a hit needs the address inside.
        let page = slots[self.slot(address)]?;
        let within = address.wrapping_sub(page.virtual_base);
        (within < page.size).then(|| Translation {
            physical: page.physical_base + within,
            remaining_in_page: page.size - within,
        })
    }

    /// The translation of `address` inside a mapping of `size` bytes (a
    /// power of two) at physical `frame`, remembered under the base page
    /// of `address` (the one asked for, even inside a large page): the
    /// next read nearby hits.
    pub(super) fn map(&self, address: u64, frame: u64, size: u64) -> Translation {
        let base = frame & !(size - 1);
        let within = address & (size - 1);
        if let Ok(mut slots) = self.slots.lock() {
            slots[self.slot(address)] = Some(CachedPage {
                virtual_base: address & !(size - 1),
                physical_base: base,
                size,
            });
        }
        Translation {
            physical: base + within,
            remaining_in_page: size - within,
        }
    }
}

/// A kernel's virtual address space: reads translate through its page
/// tables into the physical memory of a dump.
pub struct KernelMemory {
    physical: Arc<dyn Memory>,
    /// Physical address of the top-level table.
    root: u64,
    /// 4 or 5.
    levels: u8,
    /// Memory-encryption bit(s) to clear from every entry.
    sme_mask: u64,
    /// Physical addresses at or above this are impossible.
    physical_limit: u64,
    phys_base: i64,
    kernel_image_size: u64,
    cache: TranslationCache,
}

impl fmt::Debug for KernelMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelMemory")
            .field("root", &format_args!("{:#x}", self.root))
            .field("levels", &self.levels)
            .field("sme_mask", &format_args!("{:#x}", self.sme_mask))
            .field("phys_base", &self.phys_base)
            .finish()
    }
}

impl KernelMemory {
    /// The x86_64 kernel address space that `paging` describes (see
    /// `kernel::x86_64_memory` for one built from VMCOREINFO).
    pub fn x86_64(
        physical: Arc<dyn Memory>,
        paging: &X86_64Paging,
    ) -> Result<KernelMemory, String> {
        let root_symbol = paging.root_table;
        let phys_base = paging.phys_base;
        let levels = match paging.levels {
            4 | 5 => paging.levels,
            other => return Err(format!("x86_64 has no {other}-level paging")),
        };
        let sme_mask = paging.sme_mask;
        // 52 bits is the architectural maximum whatever the kernel says.
        let physmem_bits = paging.max_physmem_bits.clamp(32, 52);
        let kernel_image_size = paging.kernel_image_size.clamp(1, 1 << 31);
        let mut memory = KernelMemory {
            physical,
            root: 0,
            levels,
            sme_mask,
            physical_limit: 1u64 << physmem_bits,
            phys_base,
            kernel_image_size,
            cache: TranslationCache::new(12),
        };
        let root = memory.kernel_text_physical(root_symbol).ok_or_else(|| {
            format!("root page table {root_symbol:#x} is not in the kernel-text mapping")
        })?;
        if root % PAGE_SIZE != 0 || root >= memory.physical_limit {
            return Err(format!(
                "root page table at physical {root:#x} is not a page inside physical memory"
            ));
        }
        let mut probe = [0u8; 8];
        if let Err(e) = memory.physical.read(root, &mut probe) {
            let why = e.absence().unwrap_or(Absence::NotInDump);
            return Err(format!(
                "root page table at physical {root:#x} is not in the dump: it {why}"
            ));
        }
        memory.root = root;
        Ok(memory)
    }

    /// Another address space under the same paging: the tables rooted at
    /// physical `root` (a process's `mm->pgd`), read from `physical`.
    pub fn x86_64_with_root(
        physical: Arc<dyn Memory>,
        root: u64,
        paging: &X86_64Paging,
    ) -> Result<KernelMemory, String> {
        let levels = match paging.levels {
            4 | 5 => paging.levels,
            other => return Err(format!("x86_64 has no {other}-level paging")),
        };
        let physical_limit = 1u64 << paging.max_physmem_bits.clamp(32, 52);
        if !root.is_multiple_of(PAGE_SIZE) || root >= physical_limit {
            return Err(format!(
                "page table at physical {root:#x} is not a page inside physical memory"
            ));
        }
        Ok(KernelMemory {
            physical,
            root,
            levels,
            sme_mask: paging.sme_mask,
            physical_limit,
            phys_base: paging.phys_base,
            kernel_image_size: paging.kernel_image_size.clamp(1, 1 << 31),
            cache: TranslationCache::new(12),
        })
    }

    /// The physical address of a kernel-image address (text, data, bss),
    /// which the kernel maps at a fixed offset from `phys_base`; None
    /// outside that mapping.
    pub fn kernel_text_physical(&self, address: u64) -> Option<u64> {
        let offset = address.checked_sub(X86_64_START_KERNEL_MAP)?;
        if offset >= self.kernel_image_size {
            return None;
        }
        let physical = (offset as i128) + (self.phys_base as i128);
        u64::try_from(physical)
            .ok()
            .filter(|&p| p < self.physical_limit)
    }

    /// Physical address of the top-level page table.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Paging depth: 4 or 5.
    pub fn levels(&self) -> u8 {
        self.levels
    }

    /// The physical memory under this address space.
    pub fn physical(&self) -> &Arc<dyn Memory> {
        &self.physical
    }

    /// Walks the page tables for `address`: at most `levels` reads.
    pub fn translate(&self, address: u64) -> Result<Translation, TranslateError> {
        if let Some(hit) = self.cache.get(address) {
            return Ok(hit);
        }
        let va_bits = 12 + 9 * u32::from(self.levels);
        // Canonical: the bits above the top index bit copy it.
        let high = (address as i64) >> (va_bits - 1);
        if high != 0 && high != -1 {
            return Err(TranslateError::NonCanonical { address });
        }
        let mut table = self.root;
        for level in (1..=self.levels).rev() {
            let shift = 12 + 9 * u32::from(level - 1);
            let index = (address >> shift) & 0x1ff;
            let entry_address = table + index * 8;
            let mut raw = [0u8; 8];
            let physical: &dyn Memory = &*self.physical;
            physical.read_exact(entry_address, &mut raw).map_err(|e| {
                TranslateError::TableNotInDump {
                    address,
                    level,
                    table,
                    reason: e.absence().unwrap_or(Absence::NotInDump),
                }
            })?;
            let entry = u64::from_le_bytes(raw) & !self.sme_mask;
            if entry & ENTRY_PRESENT == 0 {
                return Err(TranslateError::NotPresent {
                    address,
                    level,
                    entry,
                });
            }
            let next = entry & ENTRY_ADDRESS;
            if next >= self.physical_limit {
                return Err(TranslateError::BadEntry {
                    address,
                    level,
                    entry,
                });
            }
            let is_page = level == 1 || entry & ENTRY_LARGE != 0;
            if is_page {
                if level > 3 {
                    // No large pages above the PUD.
                    return Err(TranslateError::BadEntry {
                        address,
                        level,
                        entry,
                    });
                }
                return Ok(self.cache.map(address, next, 1u64 << shift));
            }
            table = next;
        }
        // The loop returns at level 1 at the latest.
        Err(TranslateError::BadEntry {
            address,
            level: 1,
            entry: 0,
        })
    }

    /// What a failed walk means to a reader of `address`, with the
    /// tables named as the kernel names them.
    pub fn memory_error(&self, e: TranslateError) -> MemoryError {
        let named = |level| PageTableLevel::of(level, self.levels);
        match e {
            TranslateError::NonCanonical { address } => MemoryError::Unmapped { address },
            TranslateError::NotPresent { address, level, .. } => MemoryError::NotPresent {
                address,
                level: named(level),
            },
            TranslateError::BadEntry {
                address,
                level,
                entry,
            } => MemoryError::BadPageTable {
                address,
                level: named(level),
                entry,
            },
            TranslateError::TableNotInDump {
                address,
                level,
                table,
                reason,
            } => MemoryError::TableAbsent {
                address,
                level: named(level),
                table,
                reason,
            },
        }
    }
}

impl Memory for KernelMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let t = self.translate(address).map_err(|e| self.memory_error(e))?;
        // Never past the page: the next page may live anywhere.
        let n = (buf.len() as u64).min(t.remaining_in_page) as usize;
        match self.physical.read(t.physical, &mut buf[..n]) {
            Ok(read) => Ok(read),
            // The tables map it; the dump did not keep (or never had) the
            // physical page, and says why where it can.
            Err(e) => Err(match e.absence() {
                Some(reason) => MemoryError::Absent {
                    address,
                    physical: t.physical,
                    reason,
                },
                None => MemoryError::NotCaptured { address },
            }),
        }
    }

    fn check_pages(&self, progress: &dyn Fn(u64, u64)) -> Vec<super::PageCheck> {
        self.physical.check_pages(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Bytes, Segment, SegmentMemory};

    const SME: u64 = 1 << 47;
    const ROOT: u64 = 0x1000;

    fn index(address: u64, level: u8) -> u64 {
        (address >> (12 + 9 * u32::from(level - 1))) & 0x1ff
    }

    /// 64 KiB of physical memory at 0 (tables and 4 KiB pages), plus the
    /// first bytes of a 2 MiB page at 2 MiB and of a 1 GiB page at 1 GiB.
    struct Physical {
        low: Vec<u8>,
        mid: Vec<u8>,
        high: Vec<u8>,
    }

    impl Physical {
        fn new() -> Self {
            Physical {
                low: vec![0; 0x10000],
                mid: vec![0xbb; 0x1000],
                high: vec![0xcc; 0x1000],
            }
        }
        fn entry(&mut self, table: u64, index: u64, value: u64) {
            let at = (table + index * 8) as usize;
            self.low[at..at + 8].copy_from_slice(&(value | SME).to_le_bytes());
        }
        fn memory(self) -> Arc<dyn Memory> {
            let seg = |address, size, data: Vec<u8>| Segment {
                address,
                size,
                captured: data.len() as u64,
                offset: 0,
                bytes: Bytes::from_vec(data),
            };
            Arc::new(SegmentMemory::new(vec![
                seg(0, 0x10000, self.low),
                seg(0x20_0000, 0x20_0000, self.mid),
                seg(0x4000_0000, 0x4000_0000, self.high),
            ]))
        }
    }

    fn info(levels: u8) -> X86_64Paging {
        X86_64Paging {
            levels,
            sme_mask: SME,
            max_physmem_bits: 46,
            ..X86_64Paging::new(0xffff_ffff_8000_1000, 0)
        }
    }

    const SMALL: u64 = 0xffff_8880_0000_3000;
    const LARGE: u64 = 0xffff_8880_0060_0000;
    const HUGE: u64 = 0xffff_8881_0000_0000;

    /// 4-level tables mapping SMALL (two 4 KiB pages, 0x5000 then 0x7000),
    /// LARGE (2 MiB at 2 MiB) and HUGE (1 GiB at 1 GiB).
    fn four_level() -> Physical {
        let mut p = Physical::new();
        p.entry(ROOT, index(SMALL, 4), 0x2000 | 3);
        p.entry(0x2000, index(SMALL, 3), 0x3000 | 3);
        p.entry(0x3000, index(SMALL, 2), 0x4000 | 3);
        p.entry(0x4000, index(SMALL, 1), 0x5000 | 3);
        p.entry(0x4000, index(SMALL, 1) + 1, 0x7000 | 3);
        p.entry(0x3000, index(LARGE, 2), 0x20_0000 | ENTRY_LARGE | 3);
        p.entry(0x2000, index(HUGE, 3), 0x4000_0000 | ENTRY_LARGE | 3);
        p.low[0x5ffc..0x6000].copy_from_slice(&[1, 2, 3, 4]);
        p.low[0x7000..0x7004].copy_from_slice(&[5, 6, 7, 8]);
        p
    }

    #[test]
    fn four_level_walk_with_large_pages_and_the_sme_bit() {
        let kernel = KernelMemory::x86_64(four_level().memory(), &info(4)).unwrap();
        assert_eq!((kernel.root(), kernel.levels()), (ROOT, 4));
        assert_eq!(
            kernel.translate(SMALL + 0x10),
            Ok(Translation {
                physical: 0x5010,
                remaining_in_page: 0xff0
            })
        );
        assert_eq!(
            kernel.translate(LARGE + 0x1234).unwrap().physical,
            0x20_1234
        );
        assert_eq!(
            kernel.translate(HUGE + 0x10).unwrap().remaining_in_page,
            (1 << 30) - 0x10
        );
        let memory: &dyn Memory = &kernel;
        // A read across the 4 KiB boundary is split: the pages are apart.
        let mut buf = [0u8; 8];
        memory.read_exact(SMALL + 0xffc, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(kernel.read(SMALL + 0xffc, &mut buf), Ok(4));
        assert_eq!(memory.read_u32(LARGE), Ok(0xbbbb_bbbb));
        assert_eq!(memory.read_u32(HUGE + 0xffc), Ok(0xcccc_cccc));
        // The large pages' uncaptured rest, and an unmapped neighbour.
        assert_eq!(
            memory.read_u32(LARGE + 0x1000),
            Err(MemoryError::NotCaptured {
                address: LARGE + 0x1000
            })
        );
        assert_eq!(
            kernel.translate(SMALL + 0x2000),
            Err(TranslateError::NotPresent {
                address: SMALL + 0x2000,
                level: 1,
                entry: 0
            })
        );
        assert_eq!(
            memory.read_u32(SMALL + 0x2000),
            Err(MemoryError::NotPresent {
                address: SMALL + 0x2000,
                level: PageTableLevel::Pte
            })
        );
        assert_eq!(
            memory.read_u32(SMALL + 0x2000).unwrap_err().to_string(),
            "0xffff888000005000 is not mapped: its PTE entry in the kernel's page tables is not present"
        );
        // Cached translations answer the same.
        for _ in 0..2 {
            assert_eq!(
                kernel.translate(LARGE + 0x5000).unwrap().physical,
                0x20_5000
            );
        }
        // Kernel text maps without tables.
        assert_eq!(
            kernel.kernel_text_physical(0xffff_ffff_8000_2000),
            Some(0x2000)
        );
        assert_eq!(kernel.kernel_text_physical(SMALL), None);
        // Non-canonical under 48-bit addressing.
        assert_eq!(
            kernel.translate(0x0000_8000_0000_0000),
            Err(TranslateError::NonCanonical {
                address: 0x0000_8000_0000_0000
            })
        );
    }

    #[test]
    fn damaged_entries_are_errors_that_say_why() {
        let mut p = four_level();
        // Beyond MAX_PHYSMEM_BITS (46).
        p.entry(0x4000, 10, (1 << 50) | 3);
        // A table that is not in the dump.
        p.entry(0x3000, 20, 0x8000_0000 | 3);
        // A large page at the top level, where x86_64 has none.
        p.entry(ROOT, 300, 0x20_0000 | ENTRY_LARGE | 3);
        let kernel = KernelMemory::x86_64(p.memory(), &info(4)).unwrap();
        let base = SMALL & !0x1f_ffff;
        let bad = base + 10 * 0x1000;
        assert!(matches!(
            kernel.translate(bad),
            Err(TranslateError::BadEntry { level: 1, .. })
        ));
        assert_eq!(
            (&kernel as &dyn Memory).read_u64(bad),
            Err(MemoryError::BadPageTable {
                address: bad,
                level: PageTableLevel::Pte,
                entry: (1 << 50) | 3
            })
        );
        let absent = (SMALL & !0x3fff_ffff) + 20 * 0x20_0000;
        assert_eq!(
            kernel.translate(absent),
            Err(TranslateError::TableNotInDump {
                address: absent,
                level: 1,
                table: 0x8000_0000,
                reason: Absence::NotInDump
            })
        );
        assert_eq!(
            (&kernel as &dyn Memory).read_u64(absent),
            Err(MemoryError::TableAbsent {
                address: absent,
                level: PageTableLevel::Pte,
                table: 0x8000_0000,
                reason: Absence::NotInDump
            })
        );
        let top = 0xffff_0000_0000_0000 | (300 << 39);
        assert!(matches!(
            kernel.translate(top),
            Err(TranslateError::BadEntry { level: 4, .. })
        ));
    }

    #[test]
    fn tables_that_point_to_themselves_end_after_one_walk() {
        for levels in [4, 5] {
            let mut p = Physical::new();
            for i in 0..512 {
                p.entry(ROOT, i, ROOT | 3);
            }
            let kernel = KernelMemory::x86_64(p.memory(), &info(levels)).unwrap();
            // Every level names the root again; the walk stops at the last
            // level and lands in the root page itself.
            for address in [0u64, 0xffff_8880_1234_5678, 0x7fff_ffff_f000] {
                let t = kernel.translate(address).unwrap();
                assert_eq!(t.physical, ROOT + (address & 0xfff));
            }
            let mut buf = vec![0u8; 0x3000];
            assert_eq!(
                (&kernel as &dyn Memory).read_available(0x10_0000, &mut buf),
                0x3000
            );
        }
    }

    /// Physical memory that says why it lacks some pages, as a kernel
    /// dump's does.
    struct WithReasons {
        inner: Arc<dyn Memory>,
        absent: Vec<(u64, Absence)>,
    }

    impl Memory for WithReasons {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            match self
                .absent
                .iter()
                .find(|(page, _)| address & !0xfff == *page)
            {
                Some(&(_, reason)) => Err(MemoryError::Absent {
                    address,
                    physical: address,
                    reason,
                }),
                None => self.inner.read(address, buf),
            }
        }
    }

    #[test]
    fn absent_tables_and_pages_say_why() {
        let physical = Arc::new(WithReasons {
            inner: four_level().memory(),
            absent: vec![
                (
                    0x4000,
                    Absence::Excluded {
                        dump_level: Some(31),
                    },
                ),
                (0x7000, Absence::Corrupt),
            ],
        });
        assert_eq!(PageTableLevel::of(4, 5), PageTableLevel::P4d);
        assert_eq!(PageTableLevel::of(4, 4), PageTableLevel::Pgd);
        let kernel = KernelMemory::x86_64(physical, &info(4)).unwrap();
        let memory: &dyn Memory = &kernel;
        // The PTE page (0x4000) is excluded: the walk says which table,
        // where, and why.
        let e = memory.read_u64(SMALL).unwrap_err();
        assert_eq!(
            e,
            MemoryError::TableAbsent {
                address: SMALL,
                level: PageTableLevel::Pte,
                table: 0x4000,
                reason: Absence::Excluded {
                    dump_level: Some(31)
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "0xffff888000003000 cannot be translated: the PTE page that maps it (physical 0x4000) \
             was excluded by dump level 31 (a zero, cache, private cache, user or free page; the \
             dump does not record which)"
        );
        assert_eq!(
            e.absence(),
            Some(Absence::Excluded {
                dump_level: Some(31)
            })
        );
        // A data page the dump could not decompress, its tables all there.
        let physical = Arc::new(WithReasons {
            inner: four_level().memory(),
            absent: vec![(0x7000, Absence::Corrupt)],
        });
        let kernel = KernelMemory::x86_64(physical, &info(4)).unwrap();
        let address = SMALL + 0x1000;
        let e = (&kernel as &dyn Memory).read_u32(address).unwrap_err();
        assert_eq!(
            e,
            MemoryError::Absent {
                address,
                physical: 0x7000,
                reason: Absence::Corrupt
            }
        );
        assert_eq!(
            e.to_string(),
            "0xffff888000004000 (physical 0x7000) is damaged: its page in the file does not \
             decompress to one page"
        );
    }

    #[test]
    fn a_pmd_pointing_back_to_the_pgd_ends_after_one_walk() {
        for levels in [4, 5] {
            let mut p = Physical::new();
            // Down to a PMD at 0x3000 whose every entry names the top
            // table again (5-level: one more table on the way).
            let mut table = ROOT;
            let mut next = 0x2000;
            for _ in 0..levels - 2 {
                for i in 0..512 {
                    p.entry(table, i, next | 3);
                }
                table = next;
                next += 0x1000;
            }
            for i in 0..512 {
                p.entry(table, i, ROOT | 3);
            }
            let kernel = KernelMemory::x86_64(p.memory(), &info(levels)).unwrap();
            // The PTE level reads the top table as a PTE page: its entry
            // names the next table, which is taken as the data page. No
            // more than `levels` reads, whatever the address.
            for address in [0xffff_8880_1234_5678u64, 0x7fff_ffff_f000] {
                let t = kernel.translate(address).unwrap();
                assert_eq!(t.physical, 0x2000 + (address & 0xfff), "{levels}");
            }
            let mut buf = vec![0u8; 0x3000];
            assert_eq!(
                (&kernel as &dyn Memory).read_available(0x10_0000, &mut buf),
                0x3000
            );
        }
    }

    #[test]
    fn a_root_outside_memory_is_refused() {
        let memory = four_level().memory();
        let paging = |root, phys_base| X86_64Paging::new(root, phys_base);
        let far = paging(0xffff_ffff_8000_1000, 1 << 40);
        let e = KernelMemory::x86_64(Arc::clone(&memory), &far).unwrap_err();
        assert!(e.contains("not in the dump"), "{e}");
        for refused in [
            paging(0xffff_ffff_8000_1000, -8192),
            paging(0xffff_ffff_8000_1008, 0),
            paging(0xffff_8880_0000_1000, 0),
            paging(0xffff_ffff_8000_1000, i64::MIN),
            X86_64Paging {
                levels: 7,
                ..paging(0xffff_ffff_8000_1000, 0)
            },
        ] {
            assert!(KernelMemory::x86_64(Arc::clone(&memory), &refused).is_err());
        }
    }
}
