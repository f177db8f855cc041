//! Last resort: scan the stack for a word that is a return address, that is
//! an address in code right after a call instruction. Hand-written decoding
//! because only the few call encodings matter and capstone would be slower.

use super::{CodeInfo, FoundBy, Step, preserved_registers, read_word, word_size};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};
use crate::unwind::WalkLimits;

/// The first plausible return address at or above sp.
pub(super) fn step(
    registers: &RegisterSet,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
    limits: &WalkLimits,
) -> Option<Step> {
    let arch = registers.arch;
    if arch == Arch::Arm {
        return None;
    }
    let sp = registers.sp()?;
    let word = word_size(arch);
    for index in 0..limits.max_scan_words as u64 {
        let at = sp.checked_add(index.checked_mul(word)?)?;
        // The end of readable stack ends the scan.
        let value = read_word(memory, arch, at)?;
        // When the code before the candidate cannot be read (a minidump
        // without module memory, a binary not at hand) the module's range is
        // all there is to go on, as minidump-stackwalk does; the frame is
        // labelled as scanned either way.
        // The call itself must lie in code too, and in a function when the
        // module has symbols: a function's or module's first byte is no
        // return address.
        let plausible = match follows_call(arch, value, code) {
            Some(call) => call,
            None => value
                .checked_sub(1)
                .is_some_and(|end| code.is_code(end) && code.in_function(end) != Some(false)),
        };
        if value != 0 && code.is_code(value) && plausible {
            let mut caller = preserved_registers(registers);
            caller.set(RegisterSet::pc_number(arch), value);
            caller.set(RegisterSet::sp_number(arch), at.checked_add(word)?);
            return Some(Step::returned_to(caller, FoundBy::Scan));
        }
    }
    None
}

/// Whether the instruction just before `address` is a call; `None` when
/// the code bytes there cannot be read.
pub(super) fn follows_call(arch: Arch, address: u64, code: &dyn CodeInfo) -> Option<bool> {
    match arch {
        Arch::X86_64 | Arch::X86 => x86_follows_call(arch, address, code),
        Arch::Aarch64 => {
            let at = address.checked_sub(4)?;
            let mut bytes = [0u8; 4];
            if code.read_code(at, &mut bytes) < 4 {
                return None;
            }
            let instruction = u32::from_le_bytes(bytes);
            // BL imm26, or BLR Xn.
            Some(
                instruction & 0xfc00_0000 == 0x9400_0000
                    || instruction & 0xffff_fc1f == 0xd63f_0000,
            )
        }
        Arch::Arm => Some(false),
    }
}

fn x86_follows_call(arch: Arch, address: u64, code: &dyn CodeInfo) -> Option<bool> {
    let start = address.checked_sub(8)?;
    let mut bytes = [0u8; 8];
    if code.read_code(start, &mut bytes) < bytes.len() {
        return None;
    }
    // `e8 rel32`: a direct call; its target must be code too.
    if bytes[3] == 0xe8 {
        let rel = i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let target = address.wrapping_add(i64::from(rel) as u64);
        let target = if arch == Arch::X86 {
            target & 0xffff_ffff
        } else {
            target
        };
        if code.is_code(target) {
            return Some(true);
        }
    }
    // `syscall`: wine's syscall dispatcher saves the address after it on
    // the thread's stack, and a Linux signal frame holds it as the
    // interrupted pc; either way the caller resumes there.
    if bytes[6..] == [0x0f, 0x05] && arch == Arch::X86_64 {
        return Some(true);
    }
    // `ff /2`: an indirect call of 2 to 7 bytes ending at `address`.
    Some((2..=7usize).any(|length| {
        let opcode = 8 - length;
        bytes[opcode] == 0xff
            && bytes
                .get(opcode + 1)
                .is_some_and(|&modrm| (modrm >> 3) & 7 == 2)
            && indirect_call_length(&bytes[opcode..]) == Some(length)
    }))
}

/// Length of an `ff /2` instruction starting at `instruction[0]`, from its
/// ModRM, SIB and displacement sizes.
fn indirect_call_length(instruction: &[u8]) -> Option<usize> {
    let modrm = *instruction.get(1)?;
    let mode = modrm >> 6;
    let rm = modrm & 7;
    if mode == 3 {
        return Some(2);
    }
    let mut length = 2;
    let has_sib = rm == 4;
    if has_sib {
        length += 1;
    }
    length += match mode {
        0 if rm == 5 => 4,
        0 if has_sib && instruction.get(2)? & 7 == 5 => 4,
        0 => 0,
        1 => 1,
        _ => 4,
    };
    Some(length)
}
