//! Unwinding through saved frame-pointer chains: x86_64 rbp, i386 ebp and
//! aarch64 x29 frame records all store (caller fp, return address) at fp.

use super::pointer_auth::strip_pointer_authentication;
use super::{CodeInfo, FoundBy, Step, preserved_registers, read_word, word_size};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

/// aarch64 link register (x30).
const AARCH64_LR: u16 = 30;

/// The caller found through the frame pointer of `registers`, unchecked
/// beyond the chain's own shape (the walker checks pc and sp).
pub(super) fn step(
    registers: &RegisterSet,
    is_first: bool,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<Step> {
    let arch = registers.arch;
    if arch == Arch::Arm {
        return None;
    }
    let sp = registers.sp()?;
    let word = word_size(arch);
    let pc_number = RegisterSet::pc_number(arch);
    let fp_number = RegisterSet::fp_number(arch);

    if arch == Arch::Aarch64
        && is_first
        && let Some(step) = aarch64_leaf_step(registers, memory, code)
    {
        return Some(step);
    }

    let fp = registers.fp()?;
    // The frame record lives in this frame, so at or above sp, and aligned.
    if fp < sp || !fp.is_multiple_of(word) {
        return None;
    }
    let caller_fp = read_word(memory, arch, fp)?;
    let return_address = read_word(memory, arch, fp.checked_add(word)?)?;
    let caller_sp = fp.checked_add(2 * word)?;
    let mut caller = preserved_registers(registers);
    caller.set(fp_number, caller_fp);
    caller.set(RegisterSet::sp_number(arch), caller_sp);
    caller.set(
        pc_number,
        strip_pointer_authentication(arch, return_address, code.pointer_auth_mask()),
    );
    Some(Step::returned_to(caller, FoundBy::FramePointer))
}

/// Frame 0 on aarch64 may be a leaf that never saved lr: its caller is lr,
/// unless lr is exactly what the current frame record holds (the function
/// saved it, so the record chain already leads there).
fn aarch64_leaf_step(
    registers: &RegisterSet,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<Step> {
    let arch = registers.arch;
    let lr =
        strip_pointer_authentication(arch, registers.get(AARCH64_LR)?, code.pointer_auth_mask());
    if lr == 0 || !code.is_code(lr) {
        return None;
    }
    let recorded = registers
        .fp()
        .and_then(|fp| read_word(memory, arch, fp.checked_add(8)?))
        .map(|v| strip_pointer_authentication(arch, v, code.pointer_auth_mask()));
    if recorded == Some(lr) {
        return None;
    }
    let mut caller = preserved_registers(registers);
    caller.set(RegisterSet::pc_number(arch), lr);
    Some(Step {
        registers: caller,
        pc_is_exact: false,
        found_by: FoundBy::FramePointer,
        // A leaf without a frame leaves sp where the caller had it.
        sp_may_not_grow: true,
    })
}
