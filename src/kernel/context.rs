//! What each CPU was doing when the dump was taken — process context,
//! softirq, hardirq or NMI — from its `preempt_count`, a per-CPU variable
//! the kernel keeps exactly for this (x86_64: `__preempt_count`; its
//! address is the variable's per-CPU offset plus `__per_cpu_offset[cpu]`).

use crate::memory::Memory;
use crate::model::InterruptLevel;

use super::kallsyms::KernelSymbols;

/// preempt_count's fields (include/linux/preempt.h): bits 8–15 softirq
/// (bit 8 set while serving one; the rest count bh-disabled sections),
/// 16–19 hardirq nesting, 20–23 NMI nesting. x86_64 keeps
/// PREEMPT_NEED_RESCHED inverted in bit 31.
const SOFTIRQ_OFFSET: u32 = 1 << 8;
const HARDIRQ_MASK: u32 = 0xf << 16;
const NMI_MASK: u32 = 0xf << 20;
const NEED_RESCHED: u32 = 1 << 31;

/// Most CPUs a `__per_cpu_offset` index is trusted for.
const MAX_CPUS: u32 = 1 << 13;

/// One CPU's preempt_count (without the need-resched bit) and the context
/// it says the CPU was in; None when the per-CPU variables cannot be read
/// (an architecture or kernel without them, pages not in the dump).
pub fn cpu_context(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    cpu: u32,
) -> Option<(u32, InterruptLevel)> {
    if cpu >= MAX_CPUS {
        return None;
    }
    let offsets = symbols.address_of("__per_cpu_offset")?;
    let variable = symbols.address_of("__preempt_count")?;
    let mut word = [0u8; 8];
    memory
        .read_exact(offsets.checked_add(u64::from(cpu) * 8)?, &mut word)
        .ok()?;
    let base = u64::from_le_bytes(word);
    let mut count = [0u8; 4];
    memory
        .read_exact(base.wrapping_add(variable), &mut count)
        .ok()?;
    let count = u32::from_le_bytes(count) & !NEED_RESCHED;
    Some((count, level(count)))
}

/// The context a preempt_count says: the innermost one wins.
pub fn level(count: u32) -> InterruptLevel {
    if count & NMI_MASK != 0 {
        InterruptLevel::Nmi
    } else if count & HARDIRQ_MASK != 0 {
        InterruptLevel::HardIrq
    } else if count & SOFTIRQ_OFFSET != 0 {
        InterruptLevel::SoftIrq
    } else {
        InterruptLevel::Process
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_context_wins() {
        assert_eq!(level(0), InterruptLevel::Process);
        // Preemption and bh disabled (a spinlock_bh) is still process context.
        assert_eq!(level(0x201), InterruptLevel::Process);
        assert_eq!(level(0x100), InterruptLevel::SoftIrq);
        assert_eq!(level(0x1_0100), InterruptLevel::HardIrq);
        assert_eq!(level(0x11_0000), InterruptLevel::Nmi);
    }
}
