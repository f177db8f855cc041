//! Windows x86 frame data: PDB FrameData / FPO records, or the STACK WIN
//! records a Breakpad `.sym` copies from them.
//!
//! 32-bit Windows code is often built without frame pointers, and x86 PE
//! files have no unwind tables; the PDB says, per code range, how big the
//! function's locals, saved registers and parameters are and (for
//! FrameData) gives a postfix program that recovers the caller's registers
//! from `.raSearch`, the address of the return address.

use std::collections::HashMap;

use super::postfix::evaluate_win_program;
use super::{CodeInfo, FoundBy, Step, preserved_registers};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

/// The registers a frame program may read or assign.
const PROGRAM_REGISTERS: [&str; 6] = ["eip", "esp", "ebp", "ebx", "esi", "edi"];

/// How many words past the computed return-address slot to look when the
/// slot does not hold a code address: sizes in the records are off by a
/// word or two when the function is still in its prolog or has aligned its
/// stack.
const RETURN_ADDRESS_SLACK_WORDS: u64 = 3;

/// Program for an FPO record without one, for a function that keeps `ebp`
/// for its own use and saved the caller's among its saved registers, just
/// below them: eip from the return-address slot, ebp from the saved area.
const FPO_WITH_BASE_POINTER: &str = "$eip .raSearchStart ^ = $ebp $esp .cbCalleeParams + .cbSavedRegs + 8 - ^ = \
     $esp .raSearchStart 4 + =";

/// Program for an FPO record of a function that leaves `ebp` alone.
const FPO_WITHOUT_BASE_POINTER: &str = "$eip .raSearchStart ^ = $esp .raSearchStart 4 + =";

/// The caller of the x86 frame `registers`, from the frame data covering
/// its pc. `callee` is the frame this one called (absent for frame 0):
/// its parameters still lie on the stack between this frame's sp and its
/// locals when the callee is stdcall-free cdecl.
pub(super) fn step(
    registers: &RegisterSet,
    pc_is_exact: bool,
    callee: Option<&RegisterSet>,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<Step> {
    if registers.arch != Arch::X86 {
        return None;
    }
    let pc = registers.pc()?;
    let lookup = if pc_is_exact { pc } else { pc.checked_sub(1)? };
    let info = code.win_frame_info(lookup)?;
    let callee_params = callee
        .and_then(|c| c.pc())
        .and_then(|c_pc| code.win_frame_info(c_pc.saturating_sub(1)))
        .map_or(0, |c| c.parameter_size);

    let mut values: HashMap<String, u64> = HashMap::new();
    for name in PROGRAM_REGISTERS {
        if let Some(v) = registers.get_named(name) {
            values.insert(format!("${name}"), v);
        }
    }
    let sp = registers.sp()?;
    let read = |addr: u64| memory.read_pointer(addr, 4).ok();

    let mut ra_search = sp
        .checked_add(u64::from(callee_params))?
        .checked_add(u64::from(info.local_size))?
        .checked_add(u64::from(info.saved_register_size))?
        & 0xffff_ffff;
    // The slot the sizes point at should hold a return address; when it
    // does not, the next few words are tried before giving up on exactness.
    if let Some(found) = (0..=RETURN_ADDRESS_SLACK_WORDS)
        .map(|i| ra_search + 4 * i)
        .find(|&a| read(a).is_some_and(|w| code.is_code(w)))
    {
        ra_search = found;
    }
    values.insert(".cbCalleeParams".into(), u64::from(callee_params));
    values.insert(".cbSavedRegs".into(), u64::from(info.saved_register_size));
    values.insert(".cbLocals".into(), u64::from(info.local_size));
    values.insert(".cbParams".into(), u64::from(info.parameter_size));
    values.insert(".raSearchStart".into(), ra_search);
    values.insert(".raSearch".into(), ra_search);

    let program = match (&info.program, info.allocates_base_pointer) {
        (Some(p), _) => p.as_str(),
        (None, true) => FPO_WITH_BASE_POINTER,
        (None, false) => FPO_WITHOUT_BASE_POINTER,
    };
    // Programs never read the callee's eip; removing it makes "the program
    // assigned the caller's" checkable (a recursive caller may return to
    // the very same address). sp growth is checked by the walker.
    values.remove("$eip");
    evaluate_win_program(program, &mut values, &read)?;
    // Callee-saved registers the program does not mention keep their values.
    let eip = *values.get("$eip")?;
    let esp = *values.get("$esp")?;
    let mut caller = preserved_registers(registers);
    for name in ["ebp", "ebx", "esi", "edi"] {
        if let Some(&v) = values.get(&format!("${name}")) {
            caller.set_named(name, v & 0xffff_ffff);
        }
    }
    caller.set(RegisterSet::sp_number(Arch::X86), esp & 0xffff_ffff);
    caller.set(RegisterSet::pc_number(Arch::X86), eip & 0xffff_ffff);
    Some(Step::returned_to(caller, FoundBy::Cfi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fpo_programs_parse() {
        // The fallback programs are valid postfix: run them on a toy stack.
        let stack: HashMap<u64, u64> = [(0x1000u64, 0x401234u64), (0x0ff8, 0x2000)].into();
        let read = |a: u64| stack.get(&a).copied();
        let mut v: HashMap<String, u64> = [
            ("$esp".to_string(), 0xff0u64),
            ("$ebp".to_string(), 0x5555),
            (".cbCalleeParams".to_string(), 0),
            (".cbSavedRegs".to_string(), 0x10),
            (".raSearchStart".to_string(), 0x1000),
        ]
        .into();
        evaluate_win_program(FPO_WITH_BASE_POINTER, &mut v, &read).unwrap();
        assert_eq!(
            (v["$eip"], v["$esp"], v["$ebp"]),
            (0x401234, 0x1004, 0x2000)
        );
        let mut v: HashMap<String, u64> = [
            ("$esp".to_string(), 0xff0u64),
            (".raSearchStart".to_string(), 0x1000),
        ]
        .into();
        evaluate_win_program(FPO_WITHOUT_BASE_POINTER, &mut v, &read).unwrap();
        assert_eq!((v["$eip"], v["$esp"]), (0x401234, 0x1004));
    }
}
