//! aarch64 kernel virtual addresses through the kernel's own translation
//! tables: the upper (TTBR1) half of the address space over a dump's
//! physical memory.
//!
//! Facts (Arm ARM, VMSAv8-64 translation; Linux arch/arm64): a granule of
//! 4, 16 or 64 KiB; each table is one granule of 8-byte descriptors, so a
//! level resolves `granule_shift - 3` address bits, and the top level takes
//! what is left of the VA size (39 to 52 bits). Descriptor bit 0 = valid;
//! above the last level bit 1 = table (else a block), at the last level
//! bit 1 = page (clear is reserved). Blocks exist at level 1 and 2 with a
//! 4 KiB granule, at level 2 with 16 and 64 KiB (one level higher again
//! with 52-bit physical addresses). The output address is bits 47..shift;
//! with 52-bit physical addresses its bits 51..48 sit in descriptor bits
//! 15..12 (64 KiB granule, FEAT_LPA) or bits 51..50 in bits 9..8 (4 and
//! 16 KiB, FEAT_LPA2).
//!
//! The root is `swapper_pg_dir`, whose physical address is its kernel-image
//! address less `kimage_voffset` (the image needs no tables to be found).
//! A user address space (TTBR0, the lower half: bits above the VA size
//! clear) has tables of the same shape rooted at its `mm->pgd`; the
//! hardware requires a root aligned to the size of its top-level table.
//! Linux sizes that table for its configured VA_BITS; with 52-bit VAs on a
//! CPU that has only 48 (`TCR_EL1.T1SZ` = 16) the hardware walks the top of
//! the same table, which indexing with the configured size reaches too.

use std::fmt;
use std::sync::Arc;

use super::page_tables::{Translation, TranslationCache};
use super::{Memory, MemoryError};

const VALID: u64 = 1;
/// Above the last level: a table (else a block). At the last level: a page.
const TABLE_OR_PAGE: u64 = 1 << 1;

/// Why a kernel virtual address has no physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aarch64TranslateError {
    /// Not an upper-half address of the VA size in use: TTBR1 does not
    /// translate it.
    NotKernelAddress { address: u64 },
    /// Not a lower-half address of the VA size in use: a user address
    /// space (TTBR0) does not translate it.
    NotUserAddress { address: u64 },
    /// The descriptor at `level` (Arm numbering: 3 is the last level, the
    /// first is 0, 1 or 2, or −1 with 5 levels) is invalid (bit 0 clear).
    NotPresent { address: u64, level: i8, entry: u64 },
    /// The descriptor at `level` is a block where the granule has none, a
    /// reserved last-level descriptor, or names an address beyond the
    /// physical address size: a damaged table.
    BadEntry { address: u64, level: i8, entry: u64 },
    /// The table of `level` at `table` (physical) is not in the dump.
    TableNotInDump { address: u64, level: i8, table: u64 },
}

impl fmt::Display for Aarch64TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Aarch64TranslateError::NotKernelAddress { address } => {
                write!(f, "{address:#x} is not a kernel (TTBR1) address")
            }
            Aarch64TranslateError::NotUserAddress { address } => {
                write!(f, "{address:#x} is not a user (TTBR0) address")
            }
            Aarch64TranslateError::NotPresent {
                address,
                level,
                entry,
            } => write!(
                f,
                "{address:#x} is not mapped: level-{level} descriptor {entry:#x} is invalid"
            ),
            Aarch64TranslateError::BadEntry {
                address,
                level,
                entry,
            } => write!(
                f,
                "{address:#x}: level-{level} descriptor {entry:#x} is not a valid aarch64 descriptor"
            ),
            Aarch64TranslateError::TableNotInDump {
                address,
                level,
                table,
            } => write!(
                f,
                "{address:#x}: its level-{level} table at physical {table:#x} is not in the dump"
            ),
        }
    }
}

impl std::error::Error for Aarch64TranslateError {}

impl From<Aarch64TranslateError> for MemoryError {
    fn from(e: Aarch64TranslateError) -> MemoryError {
        match e {
            Aarch64TranslateError::NotKernelAddress { address }
            | Aarch64TranslateError::NotUserAddress { address }
            | Aarch64TranslateError::NotPresent { address, .. }
            | Aarch64TranslateError::BadEntry { address, .. } => MemoryError::Unmapped { address },
            Aarch64TranslateError::TableNotInDump { address, .. } => {
                MemoryError::NotCaptured { address }
            }
        }
    }
}

/// What an aarch64 kernel's translation needs: where its root table is,
/// the granule and the address sizes (VMCOREINFO: `SYMBOL(swapper_pg_dir)`,
/// `NUMBER(kimage_voffset)`, `PAGESIZE`, `NUMBER(VA_BITS)`,
/// `NUMBER(TCR_EL1_T1SZ)`, `NUMBER(MAX_PHYSMEM_BITS)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aarch64Paging {
    /// Kernel-image virtual address of the root table (`swapper_pg_dir`).
    pub root_table: u64,
    /// Kernel-image virtual address minus physical address.
    pub kimage_voffset: u64,
    /// The granule: 4096, 16384 or 65536.
    pub page_size: u64,
    /// The configured VA size (CONFIG_ARM64_VA_BITS), which shapes the
    /// tables: 36 to 52.
    pub va_bits: u32,
    /// The VA size in effect (64 − TCR_EL1.T1SZ), at most `va_bits`.
    pub va_bits_actual: u32,
    /// Physical address bits: 52 selects the descriptor layout that carries
    /// address bits 48–51.
    pub pa_bits: u32,
}

impl Aarch64Paging {
    /// 4 KiB pages, 48-bit virtual and physical addresses.
    pub fn new(root_table: u64, kimage_voffset: u64) -> Self {
        Aarch64Paging {
            root_table,
            kimage_voffset,
            page_size: 4096,
            va_bits: 48,
            va_bits_actual: 48,
            pa_bits: 48,
        }
    }
}

/// An aarch64 kernel's virtual address space (TTBR1), or a process's
/// (TTBR0): reads translate through its tables into the physical memory of
/// a dump.
pub struct Aarch64KernelMemory {
    physical: Arc<dyn Memory>,
    /// Physical address of the root table.
    root: u64,
    /// log2 of the granule: 12, 14 or 16.
    granule_shift: u32,
    /// Table levels: 2 to 5.
    levels: u8,
    /// Address bits the configured tables resolve.
    va_bits: u32,
    va_bits_actual: u32,
    pa_bits: u32,
    kimage_voffset: u64,
    /// The lower (TTBR0, user) half rather than the upper (TTBR1) one.
    lower_half: bool,
    cache: TranslationCache,
}

impl fmt::Debug for Aarch64KernelMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aarch64KernelMemory")
            .field("root", &format_args!("{:#x}", self.root))
            .field("page_size", &(1u64 << self.granule_shift))
            .field("levels", &self.levels)
            .field("va_bits", &self.va_bits)
            .field("va_bits_actual", &self.va_bits_actual)
            .field("pa_bits", &self.pa_bits)
            .field("lower_half", &self.lower_half)
            .finish()
    }
}

impl Aarch64KernelMemory {
    /// The address space `paging` describes; an error says which value is
    /// impossible or that the root table is not in the dump.
    pub fn new(
        physical: Arc<dyn Memory>,
        paging: &Aarch64Paging,
    ) -> Result<Aarch64KernelMemory, String> {
        let root = paging.root_table.wrapping_sub(paging.kimage_voffset);
        let memory = Self::shaped(physical, paging, root, false)?;
        if !root.is_multiple_of(8) || root >= memory.physical_limit() {
            return Err(format!(
                "root table {:#x} less kimage_voffset {:#x} is {root:#x}, not an address in physical memory",
                paging.root_table, paging.kimage_voffset
            ));
        }
        let mut probe = [0u8; 8];
        if memory.physical.read(root, &mut probe).is_err() {
            return Err(format!(
                "root table at physical {root:#x} is not in the dump"
            ));
        }
        Ok(memory)
    }

    /// A process's address space (TTBR0) whose root table is at physical
    /// `root` (its `mm->pgd`), with the granule and VA sizes of `paging`
    /// (the kernel's: user and kernel tables have one shape). The root
    /// must be aligned to its table's size, as the hardware requires; it
    /// need not be in the dump (reads then say its table is not).
    pub fn with_user_root(
        physical: Arc<dyn Memory>,
        root: u64,
        paging: &Aarch64Paging,
    ) -> Result<Aarch64KernelMemory, String> {
        let memory = Self::shaped(physical, paging, root, true)?;
        let top_table_size = 8u64 << memory.top_index_bits();
        if !root.is_multiple_of(top_table_size) || root >= memory.physical_limit() {
            return Err(format!(
                "user page table at physical {root:#x} is not a {top_table_size}-byte aligned \
                 table inside physical memory"
            ));
        }
        Ok(memory)
    }

    /// The translation `paging` shapes, rooted at physical `root`.
    fn shaped(
        physical: Arc<dyn Memory>,
        paging: &Aarch64Paging,
        root: u64,
        lower_half: bool,
    ) -> Result<Aarch64KernelMemory, String> {
        let granule_shift = match paging.page_size {
            4096 => 12,
            16384 => 14,
            65536 => 16,
            other => return Err(format!("aarch64 has no {other}-byte translation granule")),
        };
        if !(36..=52).contains(&paging.va_bits) {
            return Err(format!("VA_BITS={} is not 36 to 52", paging.va_bits));
        }
        if !(36..=paging.va_bits).contains(&paging.va_bits_actual) {
            return Err(format!(
                "the VA size in effect ({} bits) is not 36 to VA_BITS={}",
                paging.va_bits_actual, paging.va_bits
            ));
        }
        let pa_bits = paging.pa_bits.clamp(32, 52);
        let per_level = granule_shift - 3;
        let levels = (paging.va_bits - granule_shift).div_ceil(per_level);
        Ok(Aarch64KernelMemory {
            physical,
            root,
            granule_shift,
            levels: levels as u8,
            va_bits: paging.va_bits,
            va_bits_actual: paging.va_bits_actual,
            pa_bits,
            kimage_voffset: paging.kimage_voffset,
            lower_half,
            cache: TranslationCache::new(granule_shift),
        })
    }

    /// Address bits the top-level table resolves.
    fn top_index_bits(&self) -> u32 {
        let per_level = self.granule_shift - 3;
        self.va_bits - self.granule_shift - (u32::from(self.levels) - 1) * per_level
    }

    /// The span of memory one descriptor at Arm `level` maps.
    pub fn entry_span(&self, level: i8) -> u64 {
        let below = u32::try_from(3 - i32::from(level)).unwrap_or(0);
        1u64 << (self.granule_shift + below * (self.granule_shift - 3)).min(63)
    }

    fn physical_limit(&self) -> u64 {
        1u64 << self.pa_bits
    }

    /// Physical address of the root table.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Table levels: 2 to 5.
    pub fn levels(&self) -> u8 {
        self.levels
    }

    /// The granule in bytes.
    pub fn page_size(&self) -> u64 {
        1 << self.granule_shift
    }

    /// The physical memory under this address space.
    pub fn physical(&self) -> &Arc<dyn Memory> {
        &self.physical
    }

    /// The physical address of a kernel-image address (text, data, bss),
    /// which sits `kimage_voffset` above it; no check that the address is
    /// inside the image.
    pub fn kernel_image_physical(&self, address: u64) -> u64 {
        address.wrapping_sub(self.kimage_voffset)
    }

    /// The physical address a descriptor names: bits 47..granule, plus
    /// bits 51..48 where 52-bit physical addresses put them.
    fn output_address(&self, entry: u64) -> u64 {
        let low = entry & (((1u64 << 48) - 1) & !((1u64 << self.granule_shift) - 1));
        if self.pa_bits < 52 {
            low
        } else if self.granule_shift == 16 {
            // FEAT_LPA: bits 51..48 in descriptor bits 15..12.
            low | (((entry >> 12) & 0xf) << 48)
        } else {
            // FEAT_LPA2: bits 49..48 are plain address bits, 51..50 in 9..8.
            (entry & (((1u64 << 50) - 1) & !((1u64 << self.granule_shift) - 1)))
                | (((entry >> 8) & 0x3) << 50)
        }
    }

    /// Whether a block descriptor may stand at Arm `level`.
    fn block_allowed(&self, level: i8) -> bool {
        let lowest_block_level = match self.granule_shift {
            12 => 1,
            _ => 2,
        };
        let highest = if self.pa_bits >= 52 {
            lowest_block_level - 1
        } else {
            lowest_block_level
        };
        (highest..=2).contains(&level)
    }

    /// Walks the tables for `address`: at most `levels` reads.
    pub fn translate(&self, address: u64) -> Result<Translation, Aarch64TranslateError> {
        if let Some(hit) = self.cache.get(address) {
            return Ok(hit);
        }
        // TTBR1 translates addresses whose bits above the VA size are ones,
        // TTBR0 those whose bits above it are zeros.
        if self.lower_half {
            if address >> self.va_bits_actual != 0 {
                return Err(Aarch64TranslateError::NotUserAddress { address });
            }
        } else if address >> self.va_bits_actual != u64::MAX >> self.va_bits_actual {
            return Err(Aarch64TranslateError::NotKernelAddress { address });
        }
        let per_level = self.granule_shift - 3;
        let levels = u32::from(self.levels);
        let top_bits = self.top_index_bits();
        let mut table = self.root;
        for remaining in (0..levels).rev() {
            let level = 3 - remaining as i8;
            let shift = self.granule_shift + remaining * per_level;
            let index_bits = if remaining == levels - 1 {
                top_bits
            } else {
                per_level
            };
            let index = (address >> shift) & ((1u64 << index_bits) - 1);
            let mut raw = [0u8; 8];
            let physical: &dyn Memory = &*self.physical;
            physical
                .read_exact(table + index * 8, &mut raw)
                .map_err(|_| Aarch64TranslateError::TableNotInDump {
                    address,
                    level,
                    table,
                })?;
            let entry = u64::from_le_bytes(raw);
            if entry & VALID == 0 {
                return Err(Aarch64TranslateError::NotPresent {
                    address,
                    level,
                    entry,
                });
            }
            let next = self.output_address(entry);
            let bad = Aarch64TranslateError::BadEntry {
                address,
                level,
                entry,
            };
            if next >= self.physical_limit() {
                return Err(bad);
            }
            let is_last = remaining == 0;
            let is_mapping = if is_last {
                if entry & TABLE_OR_PAGE == 0 {
                    // Reserved at the last level.
                    return Err(bad);
                }
                true
            } else {
                entry & TABLE_OR_PAGE == 0
            };
            if is_mapping {
                if !is_last && !self.block_allowed(level) {
                    return Err(bad);
                }
                return Ok(self.cache.map(address, next, 1u64 << shift));
            }
            table = next;
        }
        // The loop returns at the last level at the latest.
        Err(Aarch64TranslateError::BadEntry {
            address,
            level: 3,
            entry: 0,
        })
    }
}

impl Memory for Aarch64KernelMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let t = self.translate(address)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Bytes, Segment, SegmentMemory};

    /// Physical memory for synthetic tables: `low` at 0 (tables and small
    /// pages) and the first bytes of blocks elsewhere, each segment as
    /// large as it claims.
    struct Physical {
        low: Vec<u8>,
        blocks: Vec<(u64, u64, u8)>,
    }

    impl Physical {
        fn new(size: usize) -> Self {
            Physical {
                low: vec![0; size],
                blocks: Vec::new(),
            }
        }
        fn entry(&mut self, table: u64, index: u64, value: u64) {
            let at = (table + index * 8) as usize;
            self.low[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        /// A block of `size` bytes at `base` whose first page reads `fill`.
        fn block(&mut self, base: u64, size: u64, fill: u8) {
            self.blocks.push((base, size, fill));
        }
        fn memory(self) -> Arc<dyn Memory> {
            let seg = |address, size, data: Vec<u8>| Segment {
                address,
                size,
                captured: data.len() as u64,
                offset: 0,
                bytes: Bytes::from_vec(data),
            };
            let mut segments = vec![seg(0, self.low.len() as u64, self.low)];
            for (base, size, fill) in self.blocks {
                segments.push(seg(base, size, vec![fill; 0x1000]));
            }
            Arc::new(SegmentMemory::new(segments))
        }
    }

    /// A table descriptor (valid, table).
    fn table(address: u64) -> u64 {
        address | 0b11
    }
    /// A block descriptor (valid, not a table) with the access flag.
    fn block(address: u64) -> u64 {
        address | (1 << 10) | 0b01
    }
    /// A last-level page descriptor.
    fn page(address: u64) -> u64 {
        address | (1 << 10) | 0b11
    }

    /// The index of `address` at Arm `level` for a granule and VA size.
    fn index(address: u64, level: i8, granule_shift: u32, va_bits: u32) -> u64 {
        let per_level = granule_shift - 3;
        let remaining = (3 - level) as u32;
        let shift = granule_shift + remaining * per_level;
        let bits = (va_bits - shift).min(per_level);
        (address >> shift) & ((1 << bits) - 1)
    }

    const VOFFSET: u64 = 0xffff_8000_0000_0000;

    fn paging(page_size: u64, va_bits: u32, root: u64) -> Aarch64Paging {
        Aarch64Paging {
            page_size,
            va_bits,
            va_bits_actual: va_bits,
            ..Aarch64Paging::new(VOFFSET + root, VOFFSET)
        }
    }

    fn kernel(p: Physical, paging: &Aarch64Paging) -> Aarch64KernelMemory {
        Aarch64KernelMemory::new(p.memory(), paging).unwrap()
    }

    #[test]
    fn four_kib_granule_48_bit_four_levels_with_1g_and_2m_blocks() {
        let (g, va) = (12, 48);
        let small = 0xffff_0000_0012_3000u64;
        let mid = 0xffff_0000_4060_0000u64; // 2 MiB block
        let huge = 0xffff_0001_8000_0000u64; // 1 GiB block
        let mut p = Physical::new(0x10000);
        p.entry(0x1000, index(small, 0, g, va), table(0x2000));
        p.entry(0x2000, index(small, 1, g, va), table(0x3000));
        p.entry(0x3000, index(small, 2, g, va), table(0x4000));
        p.entry(0x4000, index(small, 3, g, va), page(0x8000));
        p.entry(0x4000, index(small, 3, g, va) + 1, page(0x6000));
        p.entry(0x2000, index(mid, 1, g, va), table(0x5000));
        p.entry(0x5000, index(mid, 2, g, va), block(0x20_0000));
        p.entry(0x2000, index(huge, 1, g, va), block(0x4000_0000));
        p.low[0x8ffc..0x9000].copy_from_slice(&[1, 2, 3, 4]);
        p.low[0x6000..0x6004].copy_from_slice(&[5, 6, 7, 8]);
        p.block(0x20_0000, 0x20_0000, 0xbb);
        p.block(0x4000_0000, 0x4000_0000, 0xcc);
        let k = kernel(p, &paging(4096, va, 0x1000));
        assert_eq!((k.root(), k.levels(), k.page_size()), (0x1000, 4, 4096));
        assert_eq!(
            k.translate(small + 0x10),
            Ok(Translation {
                physical: 0x8010,
                remaining_in_page: 0xff0
            })
        );
        assert_eq!(k.translate(mid + 0x1234).unwrap().physical, 0x20_1234);
        assert_eq!(
            k.translate(mid + 0x1234).unwrap().remaining_in_page,
            0x20_0000 - 0x1234
        );
        assert_eq!(
            k.translate(huge + 0x10).unwrap().remaining_in_page,
            (1 << 30) - 0x10
        );
        let memory: &dyn Memory = &k;
        let mut buf = [0u8; 8];
        memory.read_exact(small + 0xffc, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(k.read(small + 0xffc, &mut buf), Ok(4));
        assert_eq!(memory.read_u32(mid), Ok(0xbbbb_bbbb));
        assert_eq!(memory.read_u32(huge + 0xffc), Ok(0xcccc_cccc));
        assert_eq!(
            memory.read_u32(mid + 0x1000),
            Err(MemoryError::NotCaptured {
                address: mid + 0x1000
            })
        );
        assert_eq!(
            k.translate(small + 0x2000),
            Err(Aarch64TranslateError::NotPresent {
                address: small + 0x2000,
                level: 3,
                entry: 0
            })
        );
        // User (TTBR0) addresses and addresses below the 48-bit kernel half.
        for address in [0x0000_ffff_f000_0000u64, 0xfffe_ffff_ffff_f000] {
            assert_eq!(
                k.translate(address),
                Err(Aarch64TranslateError::NotKernelAddress { address })
            );
        }
        // Cached translations answer the same.
        for _ in 0..2 {
            assert_eq!(k.translate(mid + 0x5000).unwrap().physical, 0x20_5000);
        }
        assert_eq!(k.kernel_image_physical(VOFFSET + 0x1234), 0x1234);
    }

    /// Physical memory that says one page was excluded by dump level 31.
    struct Excluding {
        inner: Arc<dyn Memory>,
        excluded: u64,
    }

    impl Memory for Excluding {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            if address & !0xfff == self.excluded {
                return Err(MemoryError::Absent {
                    address,
                    physical: address,
                    reason: crate::memory::Absence::Excluded {
                        dump_level: Some(31),
                    },
                });
            }
            self.inner.read(address, buf)
        }
    }

    #[test]
    fn a_user_root_translates_the_lower_half_only() {
        let (g, va) = (12, 48);
        let stack = 0x0000_ffff_e477_f000u64;
        let text = 0x0000_0000_0040_0000u64;
        let mut p = Physical::new(0x10000);
        // A user pgd at 0x1000, and the same shape as the kernel's.
        p.entry(0x1000, index(stack, 0, g, va), table(0x2000));
        p.entry(0x2000, index(stack, 1, g, va), table(0x3000));
        p.entry(0x3000, index(stack, 2, g, va), table(0x4000));
        p.entry(0x4000, index(stack, 3, g, va), page(0x8000));
        p.entry(0x1000, index(text, 0, g, va), table(0x5000));
        p.entry(0x5000, index(text, 1, g, va), table(0x6000));
        p.entry(0x6000, index(text, 2, g, va), table(0x7000));
        p.entry(0x7000, index(text, 3, g, va), page(0x9000));
        p.low[0x8ff8..0x9000].copy_from_slice(&0x1122_3344u64.to_le_bytes());
        let physical: Arc<dyn Memory> = Arc::new(Excluding {
            inner: p.memory(),
            excluded: 0x9000,
        });
        let shape = paging(4096, va, 0xdead_0000);
        let user =
            Aarch64KernelMemory::with_user_root(Arc::clone(&physical), 0x1000, &shape).unwrap();
        assert_eq!((user.root(), user.levels()), (0x1000, 4));
        assert_eq!(user.translate(stack + 0xff8).unwrap().physical, 0x8ff8);
        assert_eq!(
            (&user as &dyn Memory).read_u64(stack + 0xff8),
            Ok(0x1122_3344)
        );
        // An excluded page says so, with the dump level.
        assert_eq!(
            (&user as &dyn Memory).read_u64(text),
            Err(MemoryError::Absent {
                address: text,
                physical: 0x9000,
                reason: crate::memory::Absence::Excluded {
                    dump_level: Some(31)
                }
            })
        );
        // The upper half, and an address past the VA size, are not its own.
        for address in [0xffff_0000_0012_3000u64, 1 << 48] {
            assert_eq!(
                user.translate(address),
                Err(Aarch64TranslateError::NotUserAddress { address })
            );
        }
        // Nothing mapped there: the level-0 descriptor is invalid.
        assert!(matches!(
            user.translate(0x10_0000_0000),
            Err(Aarch64TranslateError::NotPresent { level: 1, .. })
        ));
        assert_eq!(user.entry_span(0), 1 << 39);
        assert_eq!(user.entry_span(3), 4096);
        // A root that is no table start, or past physical memory, is refused.
        for root in [0x1008, 1 << 48] {
            assert!(
                Aarch64KernelMemory::with_user_root(Arc::clone(&physical), root, &shape).is_err()
            );
        }
        // A root outside the dump is an error at the first read, not here.
        let absent = Aarch64KernelMemory::with_user_root(physical, 0x20_0000, &shape).unwrap();
        assert!(matches!(
            absent.translate(stack),
            Err(Aarch64TranslateError::TableNotInDump { level: 0, .. })
        ));
    }

    #[test]
    fn four_kib_granule_39_bit_three_levels() {
        let (g, va) = (12, 39);
        let address = 0xffff_ffc0_1234_5000u64;
        let mut p = Physical::new(0x10000);
        p.entry(0x1000, index(address, 1, g, va), table(0x2000));
        p.entry(0x2000, index(address, 2, g, va), table(0x3000));
        p.entry(0x3000, index(address, 3, g, va), page(0x7000));
        let k = kernel(p, &paging(4096, va, 0x1000));
        assert_eq!(k.levels(), 3);
        assert_eq!(k.translate(address + 8).unwrap().physical, 0x7008);
        // 0xffff_ff80_… is below the 39-bit kernel half.
        assert!(matches!(
            k.translate(0xffff_ff7f_ffff_f000),
            Err(Aarch64TranslateError::NotKernelAddress { .. })
        ));
    }

    #[test]
    fn sixteen_kib_granule_three_and_four_levels_with_32m_blocks() {
        let g = 14;
        // 47-bit: 3 levels (11 + 11 + 11 bits over 14). 48-bit: a level 0
        // table of two entries on top.
        for (va, levels, root) in [(47, 3, 0x4000u64), (48, 4, 0x4000)] {
            let small = !((1u64 << va) - 1) | 0x0000_0012_3456_c000;
            let blocked = !((1u64 << va) - 1) | 0x0000_0040_0200_0000;
            let mut p = Physical::new(0x4_0000);
            let mut next_table = 0x8000u64;
            let mut walk_to_level2 = |p: &mut Physical, address: u64| -> u64 {
                let mut t = root;
                for level in (4 - levels as i8)..2 {
                    let existing = u64::from_le_bytes(
                        p.low[(t + index(address, level, g, va) * 8) as usize..][..8]
                            .try_into()
                            .unwrap(),
                    );
                    let n = if existing & 1 != 0 {
                        existing & !0x3fff
                    } else {
                        let n = next_table;
                        next_table += 0x4000;
                        p.entry(t, index(address, level, g, va), table(n));
                        n
                    };
                    t = n;
                }
                t
            };
            let l2 = walk_to_level2(&mut p, small);
            p.entry(l2, index(small, 2, g, va), table(0x2_0000));
            p.entry(0x2_0000, index(small, 3, g, va), page(0x3_c000));
            let l2b = walk_to_level2(&mut p, blocked);
            p.entry(l2b, index(blocked, 2, g, va), block(0x400_0000));
            p.block(0x400_0000, 0x200_0000, 0xdd);
            let k = kernel(p, &paging(16384, va, root));
            assert_eq!((k.levels(), k.page_size()), (levels, 16384), "{va}");
            assert_eq!(
                k.translate(small + 0x123),
                Ok(Translation {
                    physical: 0x3_c123,
                    remaining_in_page: 0x4000 - 0x123
                }),
                "{va}"
            );
            let t = k.translate(blocked + 0x10_0000).unwrap();
            assert_eq!(
                (t.physical, t.remaining_in_page),
                (0x410_0000, 0x1f0_0000),
                "{va}"
            );
            assert_eq!((&k as &dyn Memory).read_u32(blocked), Ok(0xdddd_dddd));
        }
    }

    #[test]
    fn sixty_four_kib_granule_two_and_three_levels_with_512m_blocks() {
        let g = 16;
        // 42-bit: 2 levels (13 + 13 over 16); 48-bit: 3 levels (6 + 13 + 13).
        for (va, levels) in [(42, 2u8), (48, 3)] {
            let small = !((1u64 << va) - 1) | 0x0000_0001_2345_0000;
            let blocked = !((1u64 << va) - 1) | (1 << (va - 2));
            let mut p = Physical::new(0x8_0000);
            let root = 0x1_0000u64;
            let l2 = if levels == 3 {
                p.entry(root, index(small, 1, g, va), table(0x2_0000));
                p.entry(root, index(blocked, 1, g, va), table(0x5_0000));
                0x2_0000
            } else {
                root
            };
            let l2b = if levels == 3 { 0x5_0000 } else { root };
            p.entry(l2, index(small, 2, g, va), table(0x3_0000));
            p.entry(0x3_0000, index(small, 3, g, va), page(0x4_0000));
            p.entry(l2b, index(blocked, 2, g, va), block(0x2000_0000));
            p.block(0x2000_0000, 0x2000_0000, 0xee);
            p.low[0x4_fff0] = 0x5a;
            let k = kernel(p, &paging(65536, va, root));
            assert_eq!((k.levels(), k.page_size()), (levels, 65536), "{va}");
            assert_eq!(
                k.translate(small + 0xfff0),
                Ok(Translation {
                    physical: 0x4_fff0,
                    remaining_in_page: 0x10
                }),
                "{va}"
            );
            assert_eq!((&k as &dyn Memory).read_u32(small + 0xfff0), Ok(0x5a));
            let t = k.translate(blocked + 0x1234_5678).unwrap();
            assert_eq!(t.physical, 0x3234_5678, "{va}");
            assert_eq!((&k as &dyn Memory).read_u32(blocked), Ok(0xeeee_eeee));
        }
    }

    #[test]
    fn fifty_two_bit_addresses_take_their_high_bits_from_the_descriptor() {
        // 64 KiB granule, 52-bit VA (10-bit top level) with 52-bit PA
        // (FEAT_LPA): a page at physical 0x000f_0000_0004_0000 is written as
        // 0x4_0000 with 0xf in descriptor bits 15..12.
        let (g, va) = (16, 52);
        let address = 0xfff0_0000_1234_0000u64;
        let high_page = 0x000f_0000_0004_0000u64;
        let mut p = Physical::new(0x4_0000);
        let root = 0x1_0000;
        p.entry(root, index(address, 1, g, va), table(0x2_0000));
        p.entry(0x2_0000, index(address, 2, g, va), table(0x3_0000));
        p.entry(
            0x3_0000,
            index(address, 3, g, va),
            page(0x4_0000 | (0xf << 12)),
        );
        p.block(high_page, 0x1_0000, 0x77);
        let mut config = paging(65536, va, root);
        config.pa_bits = 52;
        let k = kernel(p, &config);
        assert_eq!(k.translate(address + 4).unwrap().physical, high_page + 4);
        assert_eq!((&k as &dyn Memory).read_u32(address), Ok(0x7777_7777));
        // The same tables on a CPU with 48-bit VAs (T1SZ = 16): the
        // 52-bit address is no kernel address, a 48-bit one walks the top
        // of the root table.
        let mut p = Physical::new(0x4_0000);
        let narrow = 0xffff_8000_0001_0000u64;
        p.entry(root, index(narrow, 1, g, va), table(0x2_0000));
        p.entry(0x2_0000, index(narrow, 2, g, va), table(0x3_0000));
        p.entry(0x3_0000, index(narrow, 3, g, va), page(0x3_0000));
        let mut config = paging(65536, va, root);
        config.va_bits_actual = 48;
        let k = kernel(p, &config);
        assert_eq!(index(narrow, 1, g, va), 0x3e0);
        assert_eq!(k.translate(narrow).unwrap().physical, 0x3_0000);
        assert_eq!(
            k.translate(address),
            Err(Aarch64TranslateError::NotKernelAddress { address })
        );
        // FEAT_LPA2 (4 KiB granule): bits 51..50 in descriptor bits 9..8.
        let k = Aarch64KernelMemory {
            pa_bits: 52,
            ..kernel(Physical::new(0x2000), &paging(4096, 48, 0x1000))
        };
        assert_eq!(
            k.output_address(0x0003_0000_1234_5000 | (0b10 << 8) | 0b11),
            0x000b_0000_1234_5000
        );
    }

    #[test]
    fn damaged_descriptors_are_errors_that_say_why() {
        let (g, va) = (12, 48);
        let base = 0xffff_0000_0000_0000u64;
        let mut p = Physical::new(0x10000);
        p.entry(0x1000, 0, table(0x2000));
        p.entry(0x2000, 0, table(0x3000));
        p.entry(0x3000, 0, table(0x4000));
        // A reserved last-level descriptor (bit 1 clear).
        p.entry(0x4000, 1, block(0x5000));
        // A table outside the dump.
        p.entry(0x3000, 1, table(0xffff_f000_0000));
        // A block at level 0, which a 4 KiB granule has not (48-bit PA).
        p.entry(0x1000, 1, block(0x80_0000_0000));
        let k = kernel(p, &paging(4096, va, 0x1000));
        let reserved = base + 0x1000;
        assert_eq!(
            k.translate(reserved),
            Err(Aarch64TranslateError::BadEntry {
                address: reserved,
                level: 3,
                entry: block(0x5000)
            })
        );
        assert_eq!(
            (&k as &dyn Memory).read_u64(reserved),
            Err(MemoryError::Unmapped { address: reserved })
        );
        let absent = base + 0x20_0000;
        assert_eq!(
            k.translate(absent),
            Err(Aarch64TranslateError::TableNotInDump {
                address: absent,
                level: 3,
                table: 0xffff_f000_0000
            })
        );
        assert_eq!(
            (&k as &dyn Memory).read_u64(absent),
            Err(MemoryError::NotCaptured { address: absent })
        );
        let top = base | (1 << 39);
        assert_eq!(index(top, 0, g, va), 1);
        assert!(matches!(
            k.translate(top),
            Err(Aarch64TranslateError::BadEntry { level: 0, .. })
        ));
    }

    #[test]
    fn tables_that_point_to_themselves_end_after_one_walk() {
        for (page_size, va) in [(4096u64, 48u32), (16384, 47), (65536, 52)] {
            let mut p = Physical::new(0x2_0000);
            let root = 0x1_0000u64;
            for i in 0..(page_size / 8) {
                p.entry(root, i, table(root));
            }
            let k = kernel(p, &paging(page_size, va, root));
            for address in [
                !0u64 << va,
                0xffff_ffff_ffff_f008,
                (!0u64 << va) | 0x1234_5678,
            ] {
                let t = k.translate(address).unwrap();
                assert_eq!(t.physical, root + (address & (page_size - 1)));
            }
            let mut buf = vec![0u8; 3 * page_size as usize];
            assert_eq!(
                (&k as &dyn Memory).read_available(!0u64 << va, &mut buf),
                buf.len()
            );
        }
    }

    #[test]
    fn impossible_configurations_are_refused() {
        let memory = Physical::new(0x4000).memory();
        let good = paging(4096, 48, 0x1000);
        assert!(Aarch64KernelMemory::new(Arc::clone(&memory), &good).is_ok());
        for bad in [
            Aarch64Paging {
                page_size: 8192,
                ..good
            },
            Aarch64Paging {
                va_bits: 64,
                ..good
            },
            Aarch64Paging {
                va_bits_actual: 52,
                ..good
            },
            // Root not 8-aligned, root outside the dump, root beyond PA.
            paging(4096, 48, 0x1004),
            paging(4096, 48, 0x10_0000),
            Aarch64Paging {
                kimage_voffset: 0,
                ..good
            },
        ] {
            let e = Aarch64KernelMemory::new(Arc::clone(&memory), &bad).unwrap_err();
            assert!(!e.is_empty());
        }
    }
}
