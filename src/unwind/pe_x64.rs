//! Windows x64 unwinding from a PE image's .pdata / .xdata: RUNTIME_FUNCTION
//! entries point at UNWIND_INFO records whose UNWIND_CODEs describe the
//! prolog; undoing them (or emulating an epilog the pc sits in) gives the
//! caller's registers. Layouts follow Microsoft's "x64 exception handling"
//! documentation. Hand-written because no maintained crate unwinds a
//! register context from these tables over arbitrary memory.

use super::{CodeInfo, FoundBy, RuntimeFunction, Step, read_word};
use crate::byte_reader::Fields;
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

/// DWARF numbers (the numbering of [`RegisterSet`]) of Windows x64 register
/// numbers 0..16 as used in unwind codes: rax, rcx, rdx, rbx, rsp, rbp, rsi,
/// rdi, r8..r15.
const DWARF_OF_WINDOWS: [u16; 16] = [0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15];

/// Windows numbers of the registers a Windows x64 callee preserves: rbx,
/// rsp, rbp, rsi, rdi, r12-r15.
const NONVOLATILE: [usize; 9] = [3, 4, 5, 6, 7, 12, 13, 14, 15];

const RSP: usize = 4;
const RIP_DWARF: u16 = 16;

const UNW_FLAG_CHAININFO: u8 = 4;

const UWOP_PUSH_NONVOL: u8 = 0;
const UWOP_ALLOC_LARGE: u8 = 1;
const UWOP_ALLOC_SMALL: u8 = 2;
const UWOP_SET_FPREG: u8 = 3;
const UWOP_SAVE_NONVOL: u8 = 4;
const UWOP_SAVE_NONVOL_FAR: u8 = 5;
/// Version 2: describes epilog locations; version 1: an obsolete XMM save.
/// Either way two slots that do not affect the unwind.
const UWOP_EPILOG: u8 = 6;
/// Obsolete (version 1 UWOP_SAVE_XMM_FAR): three slots, skipped.
const UWOP_SPARE: u8 = 7;
const UWOP_SAVE_XMM128: u8 = 8;
const UWOP_SAVE_XMM128_FAR: u8 = 9;
const UWOP_PUSH_MACHFRAME: u8 = 10;

/// How many chained UNWIND_INFO records one step follows.
const MAX_CHAIN: usize = 32;
/// Longest epilog looked at: lea/add, up to 16 pops, a jump.
const EPILOG_BYTES: usize = 64;

/// A parsed UNWIND_INFO header with its code slots.
struct UnwindInfo {
    size_of_prolog: u8,
    frame_register: usize,
    /// Already scaled by 16.
    frame_offset: u64,
    /// Raw 2-byte slots: (offset in prolog, op | info << 4).
    slots: Vec<(u8, u8)>,
    /// The chained RUNTIME_FUNCTION, when CHAININFO is set.
    chained: Option<RuntimeFunction>,
}

/// Register values in Windows numbering while undoing a frame.
struct Context {
    regs: [Option<u64>; 16],
    rip: Option<u64>,
    /// Set by a machine frame, whose rip is the interrupted instruction.
    pc_is_exact: bool,
}

impl Context {
    fn from_registers(registers: &RegisterSet) -> Self {
        let mut regs = [None; 16];
        for (slot, &dwarf) in regs.iter_mut().zip(DWARF_OF_WINDOWS.iter()) {
            *slot = registers.get(dwarf);
        }
        Context {
            regs,
            rip: registers.get(RIP_DWARF),
            pc_is_exact: false,
        }
    }

    fn get(&self, windows: usize) -> Option<u64> {
        self.regs.get(windows).copied().flatten()
    }

    fn set(&mut self, windows: usize, value: u64) {
        if let Some(slot) = self.regs.get_mut(windows) {
            *slot = Some(value);
        }
    }

    fn rsp(&self) -> Option<u64> {
        self.get(RSP)
    }

    /// Pops one word into register `windows`.
    fn pop(&mut self, memory: &dyn Memory, windows: usize) -> Option<()> {
        let rsp = self.rsp()?;
        let value = read_word(memory, Arch::X86_64, rsp)?;
        self.set(RSP, rsp.checked_add(8)?);
        self.set(windows, value);
        Some(())
    }

    /// Returns to the caller: rip from the stack, then `extra` bytes of
    /// arguments released (`ret imm16`).
    fn ret(&mut self, memory: &dyn Memory, extra: u64) -> Option<()> {
        let rsp = self.rsp()?;
        self.rip = Some(read_word(memory, Arch::X86_64, rsp)?);
        self.set(RSP, rsp.checked_add(8)?.checked_add(extra)?);
        Some(())
    }

    /// The caller's register set: non-volatile registers and rip.
    fn into_step(self) -> Option<Step> {
        let mut caller = RegisterSet::new(Arch::X86_64);
        for &windows in &NONVOLATILE {
            if let (Some(value), Some(&dwarf)) = (self.get(windows), DWARF_OF_WINDOWS.get(windows))
            {
                caller.set(dwarf, value);
            }
        }
        caller.set(RIP_DWARF, self.rip?);
        Some(Step {
            registers: caller,
            pc_is_exact: self.pc_is_exact,
            found_by: FoundBy::Cfi,
            // An interrupt's machine frame may hold a different stack.
            sp_may_not_grow: self.pc_is_exact,
        })
    }
}

/// One caller frame from the PE unwind tables covering the frame's pc, or
/// from the leaf rule when the pc is in a PE module but no RUNTIME_FUNCTION
/// covers it. `None` when they do not apply or are unreadable.
pub(super) fn step(
    registers: &RegisterSet,
    pc_is_exact: bool,
    is_first: bool,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<Step> {
    if registers.arch != Arch::X86_64 {
        return None;
    }
    let pc = registers.pc()?;
    // A return address may lie just past its function's last byte (a call
    // to a no-return function), so look the entry up at the call.
    let lookup = if pc_is_exact { pc } else { pc.checked_sub(1)? };
    let mut context = Context::from_registers(registers);
    match code.runtime_function(lookup) {
        Some(function) => {
            unwind_function(&mut context, pc, &function, memory, code)?;
        }
        None => {
            // A leaf function has no entry and leaves rsp at its return
            // address; only sure while the pc is where execution stopped.
            if !(code.has_runtime_functions(lookup) && (is_first || pc_is_exact)) {
                return None;
            }
            context.ret(memory, 0)?;
        }
    }
    context.into_step()
}

/// Undoes the frame of the function described by `function` at `pc`.
fn unwind_function(
    context: &mut Context,
    pc: u64,
    function: &RuntimeFunction,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<()> {
    let begin = function.image_base.checked_add(u64::from(function.begin))?;
    let end = function.image_base.checked_add(u64::from(function.end))?;
    let pc_offset = pc.checked_sub(begin)?;
    let primary = read_unwind_info(code, function.image_base, function.unwind_info)?;

    let in_prolog = pc_offset < u64::from(primary.size_of_prolog);
    // Epilogs follow the prolog; past the function's end lies another one.
    if !in_prolog
        && pc < end
        && unwind_epilog(context, pc, begin, end, &primary, memory, code).is_some()
    {
        return Some(());
    }

    let mut info = primary;
    // Only the pc's own function may be inside its prolog; chained parents
    // are always in their body.
    let mut limit = in_prolog.then_some(pc_offset);
    let mut links = 0;
    loop {
        let frame_base = frame_base(context, &info, limit)?;
        apply_codes(context, &info, limit, frame_base, memory)?;
        if context.pc_is_exact {
            // A machine frame restored rip and rsp itself.
            return Some(());
        }
        let Some(chained) = info.chained.take() else {
            break;
        };
        links += 1;
        if links > MAX_CHAIN {
            return None;
        }
        info = read_unwind_info(code, function.image_base, chained.unwind_info)?;
        limit = None;
    }
    context.ret(memory, 0)
}

/// The establisher frame that save offsets of `info` count from: the base
/// of the fixed allocation, which is fp - offset once the frame register is
/// set up, else the current rsp. `limit` is the pc's offset while in the
/// prolog.
fn frame_base(context: &Context, info: &UnwindInfo, limit: Option<u64>) -> Option<u64> {
    let fp_established = info.frame_register != 0
        && match limit {
            None => true,
            Some(limit) => codes(&info.slots)
                .any(|(offset, op, _, _)| op == UWOP_SET_FPREG && u64::from(offset) <= limit),
        };
    if fp_established {
        context
            .get(info.frame_register)?
            .checked_sub(info.frame_offset)
    } else {
        context.rsp()
    }
}

/// Iterates the unwind codes of `slots`: (prolog offset, op, op info, the
/// following slots the code uses). Stops at a code whose slots run past the
/// array or at an unknown op (yielded with empty extra slots so that the
/// caller can reject it).
fn codes(slots: &[(u8, u8)]) -> impl Iterator<Item = (u8, u8, u8, &[(u8, u8)])> {
    let mut index = 0usize;
    std::iter::from_fn(move || {
        let &(offset, byte) = slots.get(index)?;
        let op = byte & 0x0f;
        let info = byte >> 4;
        let count = match op {
            UWOP_ALLOC_LARGE if info == 0 => 2,
            UWOP_ALLOC_LARGE => 3,
            UWOP_SAVE_NONVOL | UWOP_EPILOG | UWOP_SAVE_XMM128 => 2,
            UWOP_SAVE_NONVOL_FAR | UWOP_SPARE | UWOP_SAVE_XMM128_FAR => 3,
            _ => 1,
        };
        let extra = slots.get(index + 1..index + count)?;
        index += count;
        Some((offset, op, info, extra))
    })
}

/// A 16-bit operand from one slot.
fn slot16(slot: (u8, u8)) -> u64 {
    u64::from(u16::from_le_bytes([slot.0, slot.1]))
}

/// A 32-bit operand from two slots.
fn slot32(extra: &[(u8, u8)]) -> Option<u64> {
    let lo = slot16(*extra.first()?);
    let hi = slot16(*extra.get(1)?);
    Some(lo | hi << 16)
}

/// Applies the codes of `info` in array order (the reverse of execution),
/// skipping those whose prolog offset lies beyond `limit`.
fn apply_codes(
    context: &mut Context,
    info: &UnwindInfo,
    limit: Option<u64>,
    frame_base: u64,
    memory: &dyn Memory,
) -> Option<()> {
    let mut consumed = 0usize;
    for (offset, op, op_info, extra) in codes(&info.slots) {
        consumed += 1 + extra.len();
        if limit.is_some_and(|limit| u64::from(offset) > limit) {
            // Still validate the op so a corrupt record is rejected.
            if op > UWOP_PUSH_MACHFRAME || (op == UWOP_ALLOC_LARGE && op_info > 1) {
                return None;
            }
            continue;
        }
        let reg = usize::from(op_info);
        match op {
            UWOP_PUSH_NONVOL => context.pop(memory, reg)?,
            UWOP_ALLOC_LARGE => {
                let size = match op_info {
                    0 => slot16(*extra.first()?).checked_mul(8)?,
                    1 => slot32(extra)?,
                    _ => return None,
                };
                context.set(RSP, context.rsp()?.checked_add(size)?);
            }
            UWOP_ALLOC_SMALL => {
                let size = (u64::from(op_info) + 1) * 8;
                context.set(RSP, context.rsp()?.checked_add(size)?);
            }
            UWOP_SET_FPREG => {
                if info.frame_register == 0 {
                    return None;
                }
                let fp = context.get(info.frame_register)?;
                context.set(RSP, fp.checked_sub(info.frame_offset)?);
            }
            UWOP_SAVE_NONVOL | UWOP_SAVE_NONVOL_FAR => {
                let displacement = if op == UWOP_SAVE_NONVOL {
                    slot16(*extra.first()?).checked_mul(8)?
                } else {
                    slot32(extra)?
                };
                let at = frame_base.checked_add(displacement)?;
                let value = read_word(memory, Arch::X86_64, at)?;
                context.set(reg, value);
            }
            UWOP_EPILOG | UWOP_SPARE | UWOP_SAVE_XMM128 | UWOP_SAVE_XMM128_FAR => {}
            UWOP_PUSH_MACHFRAME => {
                // Interrupt frame: [error code], rip, cs, eflags, rsp, ss.
                let mut at = context.rsp()?;
                match op_info {
                    0 => {}
                    1 => at = at.checked_add(8)?,
                    _ => return None,
                }
                let rip = read_word(memory, Arch::X86_64, at)?;
                let rsp = read_word(memory, Arch::X86_64, at.checked_add(24)?)?;
                context.rip = Some(rip);
                context.set(RSP, rsp);
                context.pc_is_exact = true;
                return Some(());
            }
            _ => return None,
        }
    }
    // Codes that run past the array mean a corrupt record.
    (consumed == info.slots.len()).then_some(())
}

/// Reads the UNWIND_INFO at `image_base + rva`; `None` when unreadable or
/// not version 1 or 2.
fn read_unwind_info(code: &dyn CodeInfo, image_base: u64, rva: u32) -> Option<UnwindInfo> {
    let address = image_base.checked_add(u64::from(rva))?;
    let mut header = [0u8; 4];
    if code.read_code(address, &mut header) != header.len() {
        return None;
    }
    let version = header[0] & 0x07;
    let flags = header[0] >> 3;
    if !(1..=2).contains(&version) {
        return None;
    }
    let count = usize::from(header[2]);
    // The code array is padded to an even count before chained data.
    let padded = (count + 1) & !1;
    let chained = flags & UNW_FLAG_CHAININFO != 0;
    let length = padded * 2 + if chained { 12 } else { 0 };
    let mut body = vec![0u8; length];
    if code.read_code(address.checked_add(4)?, &mut body) != length {
        return None;
    }
    let slots = body
        .chunks_exact(2)
        .take(count)
        .map(|pair| (pair[0], pair[1]))
        .collect();
    let chained = if chained {
        let entry = body.get(padded * 2..padded * 2 + 12)?;
        Some(RuntimeFunction {
            image_base,
            begin: entry.u32_at(0)?,
            end: entry.u32_at(4)?,
            unwind_info: entry.u32_at(8)?,
        })
    } else {
        None
    };
    Some(UnwindInfo {
        size_of_prolog: header[1],
        frame_register: usize::from(header[3] & 0x0f),
        frame_offset: u64::from(header[3] >> 4) * 16,
        slots,
        chained,
    })
}

/// One decoded epilog instruction.
enum EpilogOp {
    /// add rsp, imm.
    AddRsp(u64),
    /// lea rsp, [reg + disp] (Windows register number).
    LeaRsp(usize, i64),
    /// pop reg (Windows register number).
    Pop(usize),
    /// ret [imm16], or a tail jump leaving the return address at rsp.
    Return(u64),
}

/// Recognises the x64 ABI epilog form at `pc` (`add rsp, N` or
/// `lea rsp, [fp + N]`, then pops of non-volatile registers, then `ret` or
/// a jump out of the function) and, when the pc is in one, emulates the rest
/// of it. Epilogs carry no unwind codes, hence the decoding.
fn unwind_epilog(
    context: &mut Context,
    pc: u64,
    begin: u64,
    end: u64,
    info: &UnwindInfo,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<()> {
    let mut bytes = [0u8; EPILOG_BYTES];
    let available = code.read_code(pc, &mut bytes);
    let bytes = bytes.get(..available)?;
    let ops = decode_epilog(bytes, pc, begin, end, info.frame_register)?;
    for op in ops {
        match op {
            EpilogOp::AddRsp(n) => context.set(RSP, context.rsp()?.checked_add(n)?),
            EpilogOp::LeaRsp(reg, disp) => {
                context.set(RSP, context.get(reg)?.checked_add_signed(disp)?)
            }
            EpilogOp::Pop(reg) => context.pop(memory, reg)?,
            EpilogOp::Return(extra) => context.ret(memory, extra)?,
        }
    }
    Some(())
}

/// Decodes an epilog at the start of `bytes`; `None` when it is not one.
fn decode_epilog(
    bytes: &[u8],
    pc: u64,
    begin: u64,
    end: u64,
    frame_register: usize,
) -> Option<Vec<EpilogOp>> {
    let byte = |i: usize| bytes.get(i).copied();
    let mut ops = Vec::new();
    let mut i = 0usize;
    // Optional stack release.
    match (byte(0), byte(1), byte(2)) {
        (Some(0x48), Some(0x83), Some(0xc4)) => {
            let imm = byte(3)? as i8;
            ops.push(EpilogOp::AddRsp(u64::try_from(imm).ok()?));
            i = 4;
        }
        (Some(0x48), Some(0x81), Some(0xc4)) => {
            let imm = i32::from_le_bytes(bytes.get(3..7)?.try_into().ok()?);
            ops.push(EpilogOp::AddRsp(u64::try_from(imm).ok()?));
            i = 7;
        }
        (Some(rex @ (0x48 | 0x49)), Some(0x8d), Some(modrm)) if frame_register != 0 => {
            // lea rsp, [base + disp8/disp32]: ModRM reg field is rsp (4).
            let mode = modrm >> 6;
            let mut at = 3;
            if (modrm >> 3) & 7 != 4 || !(mode == 1 || mode == 2) {
                return None;
            }
            let rm = usize::from(modrm & 7);
            if rm == 4 {
                // A SIB byte with base only (rsp / r12, no index).
                if byte(3)? != 0x24 {
                    return None;
                }
                at = 4;
            }
            let base = rm | if rex & 1 != 0 { 8 } else { 0 };
            if base != frame_register {
                return None;
            }
            let disp = if mode == 1 {
                i64::from(byte(at)? as i8)
            } else {
                i64::from(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
            };
            ops.push(EpilogOp::LeaRsp(base, disp));
            i = at + if mode == 1 { 1 } else { 4 };
        }
        _ => {}
    }
    // Pops, then the terminating return or jump.
    loop {
        let b = byte(i)?;
        match b {
            0x58..=0x5f if b != 0x5c => {
                ops.push(EpilogOp::Pop(usize::from(b - 0x58)));
                i += 1;
            }
            0x41 if matches!(byte(i + 1)?, 0x58..=0x5f) => {
                ops.push(EpilogOp::Pop(usize::from(byte(i + 1)? - 0x58) + 8));
                i += 2;
            }
            0xc3 => break,
            0xf3 if byte(i + 1)? == 0xc3 => break,
            0xc2 => {
                let n = u16::from_le_bytes([byte(i + 1)?, byte(i + 2)?]);
                ops.push(EpilogOp::Return(u64::from(n)));
                return Some(ops);
            }
            0xe9 | 0xeb => {
                // A tail call only when it leaves the function.
                let (rel, length) = if b == 0xe9 {
                    let rel = i32::from_le_bytes(bytes.get(i + 1..i + 5)?.try_into().ok()?);
                    (i64::from(rel), 5)
                } else {
                    (i64::from(byte(i + 1)? as i8), 2)
                };
                let next = pc.checked_add(u64::try_from(i + length).ok()?)?;
                let target = next.checked_add_signed(rel)?;
                if (begin..end).contains(&target) {
                    return None;
                }
                break;
            }
            // jmp [rip + disp32], optionally with REX.W.
            0xff if byte(i + 1)? == 0x25 => break,
            0x48 if byte(i + 1)? == 0xff && byte(i + 2)? == 0x25 => break,
            _ => return None,
        }
    }
    ops.push(EpilogOp::Return(0));
    Some(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_common_epilogs() {
        // add rsp, 0x50; pop rbx; pop rdi; pop rsi; ret
        let bytes = [0x48, 0x83, 0xc4, 0x50, 0x5b, 0x5f, 0x5e, 0xc3];
        let ops = decode_epilog(&bytes, 0x1000, 0x900, 0x1100, 0).unwrap();
        assert_eq!(ops.len(), 5);
        // pop r14; ret
        let ops = decode_epilog(&[0x41, 0x5e, 0xc3], 0x1000, 0x900, 0x1100, 0).unwrap();
        assert!(matches!(ops[0], EpilogOp::Pop(14)));
        // lea rsp, [rbp + 0x10]; pop rbp; ret
        let bytes = [0x48, 0x8d, 0x65, 0x10, 0x5d, 0xc3];
        let ops = decode_epilog(&bytes, 0x1000, 0x900, 0x1100, 5).unwrap();
        assert!(matches!(ops[0], EpilogOp::LeaRsp(5, 0x10)));
        // lea without a frame register is not an epilog.
        assert!(decode_epilog(&bytes, 0x1000, 0x900, 0x1100, 0).is_none());
        // A jump inside the function is not an epilog; one outside is.
        let jump = [0xeb, 0x10];
        assert!(decode_epilog(&jump, 0x1000, 0x900, 0x1100, 0).is_none());
        assert!(decode_epilog(&jump, 0x10f0, 0x900, 0x1100, 0).is_some());
        // Ordinary code is not an epilog.
        assert!(decode_epilog(&[0x48, 0x89, 0xc1, 0xc3], 0x1000, 0x900, 0x1100, 0).is_none());
        assert!(decode_epilog(&[], 0x1000, 0x900, 0x1100, 0).is_none());
    }

    #[test]
    fn code_iteration_counts_slots() {
        // alloc large (2 slots), save nonvol far (3), push (1)
        let slots = [(9, 0x01), (1, 0), (5, 0x35), (0, 0), (0, 0), (1, 0x50)];
        let ops: Vec<u8> = codes(&slots).map(|c| c.1).collect();
        assert_eq!(
            ops,
            vec![UWOP_ALLOC_LARGE, UWOP_SAVE_NONVOL_FAR, UWOP_PUSH_NONVOL]
        );
        // A truncated multi-slot code ends the iteration early.
        assert_eq!(codes(&[(9, 0x11), (0, 0)]).count(), 0);
    }
}
