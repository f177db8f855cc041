//! What differs on an arm64 kernel once its memory can be read: each CPU's
//! context (`preempt_count` lives in the running task's `thread_info`,
//! not in a per-CPU variable), its IRQ stack (the per-CPU `irq_stack_ptr`),
//! and whether frame 0's link register still holds its caller (kernel
//! functions keep frame records, x29/x30, so once a function has set up its
//! own, lr is whatever its last call left there).

use crate::memory::Memory;
use crate::model::InterruptLevel;
use crate::unwind::CodeInfo;

use super::btf::Btf;
use super::stacks::{CpuStacks, StackKind};

/// THREAD_SIZE (and IRQ_STACK_SIZE) without KASAN when BTF does not say.
const DEFAULT_THREAD_SIZE: u64 = 16 << 10;
/// Instructions of a function's start searched for its frame record setup.
const PROLOGUE_WINDOW: usize = 16;

/// The running task's `thread_info.preempt_count` (its low 32 bits, the
/// count; the high half is the need-resched flag) and the context it says.
pub fn cpu_context(memory: &dyn Memory, btf: &Btf, task: u64) -> Option<(u32, InterruptLevel)> {
    let offset = btf
        .struct_named("task_struct")
        .and_then(|t| btf.member(t, "thread_info.preempt_count"))?
        .offset;
    let count = memory.read_u32(task.checked_add(offset)?).ok()?;
    Some((count, super::context::level(count)))
}

/// The size of task (and IRQ) stacks: `union thread_union`.
pub fn thread_size(btf: &Btf) -> u64 {
    btf.struct_named("thread_union")
        .and_then(|u| btf.size_of(u))
        .filter(|&s| s.is_power_of_two() && s >= 4096)
        .unwrap_or(DEFAULT_THREAD_SIZE)
}

/// A CPU's IRQ stack from its per-CPU `irq_stack_ptr` (the stack's base;
/// IRQ_STACK_SIZE = THREAD_SIZE), `area` being its per-CPU area.
pub fn cpu_stacks(memory: &dyn Memory, btf: &Btf, area: Option<u64>) -> CpuStacks {
    let size = thread_size(btf);
    let irq = area
        .zip(btf.section_variable(".data..percpu", "irq_stack_ptr"))
        .and_then(|(area, (offset, _))| memory.read_u64(area.checked_add(offset)?).ok())
        .filter(|&base| base != 0)
        .map(|base| (base, base.saturating_add(size), StackKind::Irq));
    CpuStacks::from_ranges(irq.into_iter().collect(), size)
}

fn instruction(bytes: &[u8], index: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(index * 4..index * 4 + 4)?.try_into().ok()?,
    ))
}

/// `stp x29, x30, [sp, #imm]!` or `stp x29, x30, [sp, #imm]`.
fn saves_frame_record(insn: u32) -> bool {
    insn & 0xffc0_7fff == 0xa980_7bfd || insn & 0xffc0_7fff == 0xa900_7bfd
}

/// `mov x29, sp` or `add x29, sp, #imm`.
fn sets_frame_pointer(insn: u32) -> bool {
    insn & 0xffc0_03ff == 0x9100_03fd
}

/// `ldp x29, x30, [sp], #imm` or `ldp x29, x30, [sp, #imm]`.
fn restores_frame_record(insn: u32) -> bool {
    insn & 0xffc0_7fff == 0xa8c0_7bfd || insn & 0xffc0_7fff == 0xa940_7bfd
}

/// Whether the function starting at `start` had set up its own frame
/// record when the CPU was at `pc` (and not yet taken it down again), so
/// that x30 no longer holds its return address: its prologue (within the
/// first instructions, after nops, `bti` and `paciasp`) saves x29/x30 and
/// points x29 at them before `pc`, and no `ldp x29, x30` lies in the few
/// instructions before `pc` (an epilogue on its way to `ret`).
pub fn frame_record_in_place(code: &dyn CodeInfo, start: u64, pc: u64) -> bool {
    let Some(offset) = pc.checked_sub(start) else {
        return false;
    };
    let mut prologue = [0u8; PROLOGUE_WINDOW * 4];
    let n = code.read_code(start, &mut prologue);
    let prologue = &prologue[..n - n % 4];
    let mut saved = false;
    let mut frame_set_at = None;
    for i in 0..prologue.len() / 4 {
        let Some(insn) = instruction(prologue, i) else {
            break;
        };
        if saves_frame_record(insn) {
            saved = true;
        } else if saved && sets_frame_pointer(insn) {
            frame_set_at = Some(i as u64 * 4);
            break;
        }
    }
    let Some(set_at) = frame_set_at else {
        return false;
    };
    if offset <= set_at {
        return false;
    }
    // An epilogue: ldp x29, x30 then at most `add sp`, `autiasp` before ret.
    let back = offset.min(12);
    let mut tail = [0u8; 12];
    let got = code.read_code(pc - back, &mut tail[..back as usize]);
    !(0..got / 4).any(|i| instruction(&tail, i).is_some_and(restores_frame_record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unwind::UnwindTables;

    /// Code bytes at 0x1000.
    struct Code(Vec<u32>);

    impl CodeInfo for Code {
        fn unwind_tables(&self, _pc: u64) -> Option<UnwindTables<'_>> {
            None
        }
        fn is_code(&self, pc: u64) -> bool {
            (0x1000..0x1000 + 4 * self.0.len() as u64).contains(&pc)
        }
        fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
            let bytes: Vec<u8> = self.0.iter().flat_map(|i| i.to_le_bytes()).collect();
            let Some(off) = address
                .checked_sub(0x1000)
                .map(|o| o as usize)
                .filter(|&o| o <= bytes.len())
            else {
                return 0;
            };
            let n = buf.len().min(bytes.len().saturating_sub(off));
            buf[..n].copy_from_slice(&bytes[off..off + n]);
            n
        }
    }

    const NOP: u32 = 0xd503_201f;
    const PACIASP: u32 = 0xd503_233f;
    const AUTIASP: u32 = 0xd503_23bf;
    const RET: u32 = 0xd65f_03c0;

    #[test]
    fn the_frame_record_is_in_place_between_prologue_and_epilogue() {
        // arch_cpu_idle of Debian's 6.1 arm64 kernel.
        let idle = Code(vec![
            PACIASP,
            0xa9bf_7bfd, // stp x29, x30, [sp, #-16]!
            0x9100_03fd, // mov x29, sp
            0x97ff_fff8, // bl cpu_do_idle
            0xd280_1c00, // mov x0, #0xe0
            0xd503_43ff, // msr daifclr, #3
            0xa8c1_7bfd, // ldp x29, x30, [sp], #16
            AUTIASP,
            RET,
        ]);
        let at = |i: u64| frame_record_in_place(&idle, 0x1000, 0x1000 + 4 * i);
        // In the prologue lr is still the caller's.
        assert!(!at(0) && !at(1) && !at(2));
        // After `mov x29, sp`, up to the ldp itself.
        assert!(at(3) && at(4) && at(5) && at(6));
        // After the ldp: lr is the return address again.
        assert!(!at(7) && !at(8));
        // __crash_kexec: ftrace nops, paciasp, sub sp, mrs, add, stp, add x29.
        let crash = Code(vec![
            NOP,
            NOP,
            PACIASP,
            0xd106_43ff, // sub sp, sp, #0x190
            0xd538_4102, // mrs x2, sp_el0
            0x9115_4042, // add x2, x2, #0x550
            0xa916_7bfd, // stp x29, x30, [sp, #352]
            0x9105_83fd, // add x29, sp, #0x160
            0xa917_53f3, // stp x19, x20, [sp, #368]
            NOP,
        ]);
        assert!(!frame_record_in_place(&crash, 0x1000, 0x1000 + 4 * 7));
        assert!(frame_record_in_place(&crash, 0x1000, 0x1000 + 4 * 9));
        // A leaf (cpu_do_idle) never sets one up.
        let leaf = Code(vec![PACIASP, 0xd503_3f9f, 0xd503_207f, AUTIASP, RET]);
        assert!(!frame_record_in_place(&leaf, 0x1000, 0x1008));
        // A pc before the function start, or code that cannot be read.
        assert!(!frame_record_in_place(&idle, 0x1000, 0xffc));
        assert!(!frame_record_in_place(&idle, 0x9000, 0x9010));
    }
}
