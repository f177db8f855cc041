//! Kernel structures read out of a kernel dump's memory, guided by
//! VMCOREINFO (and later by BTF or DWARF types).

pub mod arch;
pub mod arm64;
pub mod btf;
pub mod code_info;
pub mod context;
pub mod data_search;
pub mod dentry_path;
pub mod kallsyms;
pub mod maple_tree;
pub mod module_debug;
pub mod modules;
pub mod orc;
pub mod percpu;
pub mod printk;
pub mod printk_legacy;
pub mod stacks;
pub mod symbol_source;
pub mod system_map;
pub mod tasks;
pub mod user_process;
pub mod vmcoreinfo_search;
pub mod vmlinux;

use std::sync::Arc;

use crate::memory::Memory;
use crate::memory::page_tables::{KernelMemory, X86_64Paging};
use crate::memory::page_tables_aarch64::{Aarch64KernelMemory, Aarch64Paging};
use crate::model::{Arch, Vmcoreinfo};

/// The kernel's virtual address space over a dump's `physical` memory,
/// for the architectures whose tables ckdump walks (x86_64, aarch64);
/// None for the others.
pub fn kernel_memory(
    physical: Arc<dyn Memory>,
    info: &Vmcoreinfo,
    arch: Arch,
) -> Option<Result<Arc<dyn Memory>, String>> {
    match arch {
        Arch::X86_64 => Some(x86_64_memory(physical, info).map(|m| Arc::new(m) as Arc<dyn Memory>)),
        Arch::Aarch64 => {
            Some(aarch64_memory(physical, info).map(|m| Arc::new(m) as Arc<dyn Memory>))
        }
        Arch::X86 | Arch::Arm => None,
    }
}

/// A VMCOREINFO `NUMBER(name)` that arm64 writes in hex (`0x…`), or a
/// decimal one; negative decimals wrap (two's complement).
pub(crate) fn number_u64(info: &Vmcoreinfo, name: &str) -> Option<u64> {
    let value = info.get(&format!("NUMBER({name})"))?;
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse::<i64>().ok().map(|v| v as u64),
    }
}

/// The aarch64 kernel address space (TTBR1) over a dump's `physical`
/// memory, as VMCOREINFO describes it: root table `SYMBOL(swapper_pg_dir)`
/// at its image address less `NUMBER(kimage_voffset)`, the granule from
/// `PAGESIZE`, the tables' VA size from `NUMBER(VA_BITS)`, the VA size in
/// effect from `NUMBER(TCR_EL1_T1SZ)` (64 − T1SZ) and 52-bit descriptors
/// when `NUMBER(MAX_PHYSMEM_BITS)` is 52.
pub fn aarch64_memory(
    physical: Arc<dyn Memory>,
    info: &Vmcoreinfo,
) -> Result<Aarch64KernelMemory, String> {
    Aarch64KernelMemory::new(physical, &aarch64_paging(info)?)
}

/// The aarch64 paging VMCOREINFO describes (see [`aarch64_memory`]).
pub fn aarch64_paging(info: &Vmcoreinfo) -> Result<Aarch64Paging, String> {
    let root_table = info
        .symbol("swapper_pg_dir")
        .ok_or("VMCOREINFO names no root page table (swapper_pg_dir)")?;
    let kimage_voffset =
        number_u64(info, "kimage_voffset").ok_or("VMCOREINFO has no NUMBER(kimage_voffset)")?;
    let mut paging = Aarch64Paging::new(root_table, kimage_voffset);
    if let Some(size) = info.page_size() {
        paging.page_size = size;
    }
    if let Some(bits) = number_u64(info, "VA_BITS") {
        paging.va_bits = u32::try_from(bits).map_err(|_| format!("NUMBER(VA_BITS)={bits}"))?;
    }
    paging.va_bits_actual = match number_u64(info, "TCR_EL1_T1SZ") {
        Some(t1sz @ 12..=28) => 64 - t1sz as u32,
        Some(other) => return Err(format!("NUMBER(TCR_EL1_T1SZ)={other} is not 12 to 28")),
        None => paging.va_bits,
    };
    if let Some(bits) = number_u64(info, "MAX_PHYSMEM_BITS") {
        paging.pa_bits = u32::try_from(bits.min(64)).unwrap_or(48);
    }
    Ok(paging)
}

/// The x86_64 kernel address space over a dump's `physical` memory, as
/// VMCOREINFO describes it: root table `SYMBOL(init_top_pgt)` (or
/// `swapper_pg_dir`), `NUMBER(phys_base)`, 5-level paging when
/// `NUMBER(pgtable_l5_enabled)=1`, `NUMBER(sme_mask)`.
pub fn x86_64_memory(physical: Arc<dyn Memory>, info: &Vmcoreinfo) -> Result<KernelMemory, String> {
    KernelMemory::x86_64(physical, &x86_64_paging(info)?)
}

/// The x86_64 paging VMCOREINFO describes (see [`x86_64_memory`]).
pub fn x86_64_paging(info: &Vmcoreinfo) -> Result<X86_64Paging, String> {
    let root_table = info
        .symbol("init_top_pgt")
        .or_else(|| info.symbol("swapper_pg_dir"))
        .ok_or("VMCOREINFO names no root page table (init_top_pgt or swapper_pg_dir)")?;
    let phys_base = info
        .number("phys_base")
        .ok_or("VMCOREINFO has no NUMBER(phys_base)")?;
    let mut paging = X86_64Paging::new(root_table, phys_base);
    paging.levels = match info.number("pgtable_l5_enabled") {
        Some(1) => 5,
        Some(0) | None => 4,
        Some(other) => {
            return Err(format!("NUMBER(pgtable_l5_enabled)={other} is not 0 or 1"));
        }
    };
    paging.sme_mask = info.number("sme_mask").unwrap_or(0) as u64;
    if let Some(bits) = info
        .number("MAX_PHYSMEM_BITS")
        .and_then(|b| u32::try_from(b).ok())
    {
        paging.max_physmem_bits = bits;
    }
    if let Some(size) = info
        .number("KERNEL_IMAGE_SIZE")
        .and_then(|s| u64::try_from(s).ok())
        .filter(|&s| s > 0)
    {
        paging.kernel_image_size = size;
    }
    Ok(paging)
}
