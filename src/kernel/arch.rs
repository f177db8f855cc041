//! What differs between the kernel architectures ckdump reads, in one
//! place: where a CPU's interrupt and exception stacks are, where its
//! preempt_count (its interrupt context) is kept, and whether user
//! processes can be read. Everything else about a kernel dump is the same
//! code for both.

use crate::memory::Memory;
use crate::model::{Arch, InterruptLevel};

use super::btf::Btf;
use super::kallsyms::KernelSymbols;
use super::stacks::CpuStacks;

/// A kernel's architecture, as its CPUs' registers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelArch {
    X86_64,
    Aarch64,
}

/// What the per-CPU readers need: the dump's memory, its symbols, its BTF
/// when it could be read, and the CPU's per-CPU area when it was found by
/// searching memory (a kernel without CONFIG_KALLSYMS_ALL).
pub struct CpuData<'a> {
    pub memory: &'a dyn Memory,
    pub symbols: Option<&'a KernelSymbols>,
    pub btf: Option<&'a Btf>,
    pub per_cpu_area: Option<u64>,
}

impl KernelArch {
    /// The architecture of a dump's CPUs; x86_64 when there are none (a
    /// running kernel read through /proc/kcore on this x86_64 host, or a
    /// dump without register notes).
    pub fn of(arch: Option<Arch>) -> KernelArch {
        match arch {
            Some(Arch::Aarch64) => KernelArch::Aarch64,
            _ => KernelArch::X86_64,
        }
    }

    /// CPU `cpu`'s interrupt and exception stacks (and the task stack
    /// size): x86_64 finds them through `hardirq_stack_ptr` / `pcpu_hot`
    /// and `cea_exception_stacks`, aarch64 through `irq_stack_ptr` in its
    /// per-CPU area.
    pub fn cpu_stacks(self, data: &CpuData<'_>, cpu: u32) -> CpuStacks {
        match self {
            KernelArch::Aarch64 => match data.btf {
                Some(btf) => super::arm64::cpu_stacks(data.memory, btf, data.per_cpu_area),
                None => CpuStacks::default(),
            },
            KernelArch::X86_64 => data
                .symbols
                .map(|s| CpuStacks::read(data.memory, s, data.btf, cpu))
                .unwrap_or_default(),
        }
    }

    /// CPU `cpu`'s preempt_count and the context it means: a per-CPU
    /// variable on x86_64, the running task's thread_info on aarch64.
    pub fn cpu_context(
        self,
        data: &CpuData<'_>,
        cpu: u32,
        running_task: Option<u64>,
    ) -> Option<(u32, InterruptLevel)> {
        match self {
            KernelArch::Aarch64 => super::arm64::cpu_context(data.memory, data.btf?, running_task?),
            KernelArch::X86_64 => {
                super::context::cpu_context(data.memory, data.symbols?, data.btf, cpu)
            }
        }
    }

    /// Why user processes cannot be read from this kernel's dumps, if so:
    /// both architectures' are read (pt_regs, the process's own tables).
    pub fn user_processes_unsupported(self) -> Option<&'static str> {
        match self {
            KernelArch::X86_64 | KernelArch::Aarch64 => None,
        }
    }
}
