//! What each CPU was doing when the dump was taken — process context,
//! softirq, hardirq or NMI — from its `preempt_count`, a per-CPU variable
//! the kernel keeps exactly for this (x86_64: `__preempt_count`, or
//! `pcpu_hot.preempt_count` in 6.2–6.14; see [`super::percpu`]).

use crate::memory::Memory;
use crate::model::InterruptLevel;

use super::btf::Btf;
use super::kallsyms::KernelSymbols;
use super::percpu::{PREEMPT_COUNT, hot_address};

/// preempt_count's fields (include/linux/preempt.h): bits 8–15 softirq
/// (bit 8 set while serving one; the rest count bh-disabled sections),
/// 16–19 hardirq nesting, 20–23 NMI nesting. x86_64 keeps
/// PREEMPT_NEED_RESCHED inverted in bit 31.
const SOFTIRQ_OFFSET: u32 = 1 << 8;
const HARDIRQ_MASK: u32 = 0xf << 16;
const NMI_MASK: u32 = 0xf << 20;
const NEED_RESCHED: u32 = 1 << 31;

/// One CPU's preempt_count (without the need-resched bit) and the context
/// it says the CPU was in; None when the per-CPU variables cannot be read
/// (an architecture or kernel without them, pages not in the dump). `btf`
/// locates preempt_count inside `pcpu_hot` (6.2–6.14).
pub fn cpu_context(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    btf: Option<&Btf>,
    cpu: u32,
) -> Option<(u32, InterruptLevel)> {
    let at = hot_address(memory, symbols, btf, PREEMPT_COUNT, cpu)?;
    let mut count = [0u8; 4];
    memory.read_exact(at, &mut count).ok()?;
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
