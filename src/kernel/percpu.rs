//! x86_64 per-CPU variables, including the "hot" ones the kernel kept in
//! one cache line from 6.2 to 6.14 (`struct pcpu_hot`: current_task,
//! preempt_count, hardirq_stack_ptr, …) and as variables of their own
//! before and after (`current_task`, `__preempt_count`,
//! `hardirq_stack_ptr`). A per-CPU variable of CPU n lives at its kallsyms
//! address (an offset into the per-CPU area) plus `__per_cpu_offset[n]`.

use crate::memory::Memory;

use super::btf::Btf;
use super::kallsyms::KernelSymbols;

/// Most CPUs a `__per_cpu_offset` index is trusted for.
pub const MAX_CPUS: u32 = 1 << 13;

/// A hot per-CPU variable: its own symbol's name and its member in
/// `struct pcpu_hot`.
#[derive(Debug, Clone, Copy)]
pub struct HotVariable {
    pub symbol: &'static str,
    pub member: &'static str,
}

pub const CURRENT_TASK: HotVariable = HotVariable {
    symbol: "current_task",
    member: "current_task",
};
pub const PREEMPT_COUNT: HotVariable = HotVariable {
    symbol: "__preempt_count",
    member: "preempt_count",
};
pub const HARDIRQ_STACK_PTR: HotVariable = HotVariable {
    symbol: "hardirq_stack_ptr",
    member: "hardirq_stack_ptr",
};

/// CPU `cpu`'s per-CPU base, `__per_cpu_offset[cpu]`.
pub fn cpu_base(memory: &dyn Memory, symbols: &KernelSymbols, cpu: u32) -> Option<u64> {
    if cpu >= MAX_CPUS {
        return None;
    }
    let offsets = symbols.address_of("__per_cpu_offset")?;
    memory
        .read_u64(offsets.checked_add(u64::from(cpu) * 8)?)
        .ok()
}

/// The per-CPU offset of a hot variable: its own symbol, else its member
/// of `pcpu_hot` (the offset from BTF); None when neither is known.
pub fn hot_offset(
    symbols: &KernelSymbols,
    btf: Option<&Btf>,
    variable: HotVariable,
) -> Option<u64> {
    if let Some(at) = symbols.address_of(variable.symbol) {
        return Some(at);
    }
    let hot = symbols.address_of("pcpu_hot")?;
    let btf = btf?;
    let member = btf.member(btf.struct_named("pcpu_hot")?, variable.member)?;
    hot.checked_add(member.offset)
}

/// CPU `cpu`'s copy of a hot variable: its address.
pub fn hot_address(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    btf: Option<&Btf>,
    variable: HotVariable,
    cpu: u32,
) -> Option<u64> {
    let offset = hot_offset(symbols, btf, variable)?;
    Some(cpu_base(memory, symbols, cpu)?.wrapping_add(offset))
}
