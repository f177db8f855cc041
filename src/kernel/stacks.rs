//! Which kernel stack an address lies on (x86_64): a task's own stack, the
//! CPU's hard-IRQ stack (where softirqs run too), or one of its exception
//! stacks in the cpu_entry_area (NMI, #DF, #DB, #MC, #VC). The stack a
//! CPU's saved SP is on says what it was doing, and a walk that moves
//! from one to another has crossed an interrupt or exception entry.
//!
//! Sizes and member offsets come from the kernel's BTF (`struct irq_stack`,
//! `struct cea_exception_stacks`, `union thread_union`); the per-CPU
//! pointers (`hardirq_stack_ptr`, `cea_exception_stacks`) from kallsyms
//! (`hardirq_stack_ptr` is a member of `pcpu_hot` in 6.2–6.14).

use crate::memory::Memory;

use super::btf::Btf;
use super::kallsyms::KernelSymbols;
use super::percpu;

/// The x86_64 defaults when BTF does not say: 16 KiB task and IRQ stacks.
const DEFAULT_THREAD_SIZE: u64 = 16 << 10;
const DEFAULT_IRQ_STACK_SIZE: u64 = 16 << 10;

/// A kind of kernel stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    Task,
    Irq,
    Nmi,
    DoubleFault,
    Debug,
    MachineCheck,
    /// SEV's #VC stacks.
    VmmCommunication,
}

impl StackKind {
    /// The report's name for it.
    pub fn name(self) -> &'static str {
        match self {
            StackKind::Task => "task",
            StackKind::Irq => "irq",
            StackKind::Nmi => "nmi",
            StackKind::DoubleFault => "double-fault",
            StackKind::Debug => "debug",
            StackKind::MachineCheck => "machine-check",
            StackKind::VmmCommunication => "vmm-communication",
        }
    }
}

/// The stacks of one CPU (and the size of task stacks, for any task).
#[derive(Debug, Clone)]
pub struct CpuStacks {
    ranges: Vec<(u64, u64, StackKind)>,
    thread_size: u64,
}

/// No interrupt stacks known; task stacks of the default size.
impl Default for CpuStacks {
    fn default() -> Self {
        CpuStacks {
            ranges: Vec::new(),
            thread_size: DEFAULT_THREAD_SIZE,
        }
    }
}

impl CpuStacks {
    /// The interrupt and exception stacks known, as (start, end, kind).
    pub fn ranges(&self) -> &[(u64, u64, StackKind)] {
        &self.ranges
    }

    /// Stacks found some other way (aarch64: each CPU's IRQ stack from its
    /// per-CPU area), with task stacks of `thread_size` bytes.
    pub fn from_ranges(ranges: Vec<(u64, u64, StackKind)>, thread_size: u64) -> CpuStacks {
        CpuStacks {
            ranges,
            thread_size,
        }
    }

    /// CPU `cpu`'s IRQ and exception stacks, read from its per-CPU
    /// pointers; empty where they cannot be read.
    pub fn read(
        memory: &dyn Memory,
        symbols: &KernelSymbols,
        btf: Option<&Btf>,
        cpu: u32,
    ) -> CpuStacks {
        let size_of = |name: &str| btf.and_then(|b| b.size_of(b.struct_named(name)?));
        let mut stacks = CpuStacks {
            ranges: Vec::new(),
            thread_size: size_of("thread_union").unwrap_or(DEFAULT_THREAD_SIZE),
        };
        let Some(base) = percpu::cpu_base(memory, symbols, cpu) else {
            return stacks;
        };
        let per_cpu = |name: &str| {
            let variable = symbols.address_of(name)?;
            memory
                .read_u64(base.wrapping_add(variable))
                .ok()
                .filter(|&p| p != 0)
        };
        // hardirq_stack_ptr points at the stack's top word (top − 8).
        let hardirq_stack_ptr = percpu::hot_offset(symbols, btf, percpu::HARDIRQ_STACK_PTR)
            .and_then(|at| memory.read_u64(base.wrapping_add(at)).ok())
            .filter(|&p| p != 0);
        if let Some(top) = hardirq_stack_ptr.and_then(|p| p.checked_add(8)) {
            let size = size_of("irq_stack").unwrap_or(DEFAULT_IRQ_STACK_SIZE);
            stacks
                .ranges
                .push((top.saturating_sub(size), top, StackKind::Irq));
        }
        if let (Some(area), Some(btf)) = (per_cpu("cea_exception_stacks"), btf)
            && let Some(layout) = btf.struct_named("cea_exception_stacks")
        {
            for (member, kind) in [
                ("NMI_stack", StackKind::Nmi),
                ("DF_stack", StackKind::DoubleFault),
                ("DB_stack", StackKind::Debug),
                ("MCE_stack", StackKind::MachineCheck),
                ("MC_stack", StackKind::MachineCheck),
                ("VC_stack", StackKind::VmmCommunication),
                ("VC2_stack", StackKind::VmmCommunication),
            ] {
                let Some(m) = btf.member(layout, member) else {
                    continue;
                };
                if let (Some(start), Some(size)) =
                    (area.checked_add(m.offset), btf.size_of(m.type_id))
                {
                    stacks
                        .ranges
                        .push((start, start.saturating_add(size), kind));
                }
            }
        }
        stacks
    }

    /// The stack `sp` lies on: one of this CPU's interrupt stacks, else
    /// the given task's own stack (base `task_stack`), else unknown.
    pub fn kind_of(&self, sp: u64, task_stack: Option<u64>) -> Option<StackKind> {
        if let Some(&(_, _, kind)) = self.ranges.iter().find(|(s, e, _)| (*s..*e).contains(&sp)) {
            return Some(kind);
        }
        let base = task_stack.filter(|&b| b != 0)?;
        (base..base.saturating_add(self.thread_size))
            .contains(&sp)
            .then_some(StackKind::Task)
    }
}
