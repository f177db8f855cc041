//! Signal frames whose sigreturn trampoline has no CFI (a vDSO without
//! .eh_frame, musl): the trampoline is recognised by its instructions and the
//! interrupted registers are read from the signal frame the kernel pushed.
//! Hand-written because no crate describes these kernel layouts.

use super::{CodeInfo, FoundBy, Step, mask, read_word};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

/// Which kernel signal frame sits on the stack at the trampoline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sigreturn {
    /// x86_64 `mov $15,%rax; syscall` (rt_sigreturn).
    X86_64Rt,
    /// i386 `pop %eax; mov $119,%eax; int $0x80` (sigreturn, struct sigframe).
    X86,
    /// i386 `mov $173,%eax; int $0x80` (rt_sigreturn, struct rt_sigframe).
    X86Rt,
    /// aarch64 `mov x8,#139; svc #0` (rt_sigreturn).
    Aarch64Rt,
}

const X86_64_RT_SIGRETURN: &[u8] = &[0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];
const X86_SIGRETURN: &[u8] = &[0x58, 0xb8, 0x77, 0x00, 0x00, 0x00, 0xcd, 0x80];
const X86_RT_SIGRETURN: &[u8] = &[0xb8, 0xad, 0x00, 0x00, 0x00, 0xcd, 0x80];
/// `d2801168 d4000001`, little-endian.
const AARCH64_RT_SIGRETURN: &[u8] = &[0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];

/// The trampoline starting at `pc`, if the code there is one.
pub(super) fn trampoline_at(arch: Arch, pc: u64, code: &dyn CodeInfo) -> Option<Sigreturn> {
    let mut bytes = [0u8; 9];
    let n = code.read_code(pc, &mut bytes).min(bytes.len());
    let bytes = &bytes[..n];
    match arch {
        Arch::X86_64 if bytes.starts_with(X86_64_RT_SIGRETURN) => Some(Sigreturn::X86_64Rt),
        Arch::X86 if bytes.starts_with(X86_SIGRETURN) => Some(Sigreturn::X86),
        Arch::X86 if bytes.starts_with(X86_RT_SIGRETURN) => Some(Sigreturn::X86Rt),
        Arch::Aarch64 if bytes.starts_with(AARCH64_RT_SIGRETURN) => Some(Sigreturn::Aarch64Rt),
        _ => None,
    }
}

/// x86_64: at the trampoline sp points at the ucontext (the handler's `ret`
/// popped `pretcode`); uc_mcontext follows uc_flags(8), uc_link(8),
/// uc_stack(24). Order of struct sigcontext_64 (asm/sigcontext.h).
const X86_64_MCONTEXT: u64 = 40;
const X86_64_SIGCONTEXT: &[u16] = &[
    8, 9, 10, 11, 12, 13, 14, 15, // r8..r15
    5, 4, 6, 3, 1, 0, 2, // rdi rsi rbp rbx rdx rax rcx
    7, 16, 49, // rsp rip eflags
];

/// i386 struct sigcontext_32 from `gs` on, one 32-bit slot each: gs fs es
/// ds edi esi ebp esp ebx edx ecx eax trapno err eip cs eflags.
const X86_SIGCONTEXT: &[Option<u16>] = &[
    Some(45),
    Some(44),
    Some(40),
    Some(43),
    Some(7),
    Some(6),
    Some(5),
    Some(4),
    Some(3),
    Some(2),
    Some(1),
    Some(0),
    None,
    None,
    Some(8),
    Some(41),
    Some(9),
];
/// i386 sigreturn: after `ret` sp points at `sig`, then struct sigcontext.
const X86_SIGFRAME_SIGCONTEXT: u64 = 4;
/// i386 rt_sigreturn: sig, pinfo, puc (4 each), siginfo (128), then the
/// ucontext whose uc_mcontext follows uc_flags, uc_link, uc_stack (20).
const X86_RT_SIGFRAME_SIGCONTEXT: u64 = 12 + 128 + 20;

/// aarch64: sp points at struct rt_sigframe: siginfo (128), then ucontext
/// with uc_mcontext at 176; sigcontext starts with fault_address, then
/// regs[31], sp, pc.
const AARCH64_SIGCONTEXT: u64 = 128 + 176;

/// The interrupted registers saved in the signal frame at the trampoline.
pub(super) fn restore(
    kind: Sigreturn,
    registers: &RegisterSet,
    memory: &dyn Memory,
) -> Option<Step> {
    let arch = registers.arch;
    let sp = registers.sp()?;
    let mut caller = RegisterSet::new(arch);
    match kind {
        Sigreturn::X86_64Rt => {
            let base = sp.checked_add(X86_64_MCONTEXT)?;
            for (slot, &number) in (0u64..).zip(X86_64_SIGCONTEXT) {
                caller.set(
                    number,
                    read_word(memory, arch, base.checked_add(slot * 8)?)?,
                );
            }
        }
        Sigreturn::X86 | Sigreturn::X86Rt => {
            let offset = if kind == Sigreturn::X86 {
                X86_SIGFRAME_SIGCONTEXT
            } else {
                X86_RT_SIGFRAME_SIGCONTEXT
            };
            let base = mask(arch, sp.checked_add(offset)?);
            for (slot, number) in (0u64..).zip(X86_SIGCONTEXT) {
                let value = read_word(memory, arch, mask(arch, base + slot * 4))?;
                if let Some(number) = number {
                    // Segment selectors are 16-bit slots padded to 32.
                    let value = if (40..=45).contains(number) {
                        value & 0xffff
                    } else {
                        value
                    };
                    caller.set(*number, value);
                }
            }
        }
        Sigreturn::Aarch64Rt => {
            let base = sp.checked_add(AARCH64_SIGCONTEXT + 8)?;
            // x0..x30, sp, pc: DWARF numbers 0..=32 in this order.
            for number in 0u16..=32 {
                let at = base.checked_add(u64::from(number) * 8)?;
                caller.set(number, read_word(memory, arch, at)?);
            }
        }
    }
    Some(Step {
        registers: caller,
        pc_is_exact: true,
        found_by: FoundBy::Context,
        sp_may_not_grow: true,
    })
}
