//! Kernel structures read out of a kernel dump's memory, guided by
//! VMCOREINFO (and later by BTF or DWARF types).

pub mod btf;
pub mod code_info;
pub mod context;
pub mod kallsyms;
pub mod modules;
pub mod orc;
pub mod percpu;
pub mod printk;
pub mod printk_legacy;
pub mod stacks;
pub mod symbol_source;
pub mod system_map;
pub mod tasks;
pub mod vmlinux;

use std::sync::Arc;

use crate::memory::Memory;
use crate::memory::page_tables::{KernelMemory, X86_64Paging};
use crate::model::Vmcoreinfo;

/// The x86_64 kernel address space over a dump's `physical` memory, as
/// VMCOREINFO describes it: root table `SYMBOL(init_top_pgt)` (or
/// `swapper_pg_dir`), `NUMBER(phys_base)`, 5-level paging when
/// `NUMBER(pgtable_l5_enabled)=1`, `NUMBER(sme_mask)`.
pub fn x86_64_memory(physical: Arc<dyn Memory>, info: &Vmcoreinfo) -> Result<KernelMemory, String> {
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
    KernelMemory::x86_64(physical, &paging)
}
