//! Disassembly of the faulting instruction and its neighbours (capstone).

use capstone::arch::{self, BuildsCapstone, BuildsCapstoneSyntax, DetailsArchInsn};
use capstone::{Capstone, Insn};

use crate::model::Arch;
use crate::report::{Hex, Instruction};
use crate::unwind::CodeInfo;

/// Longest x86 instruction; the most bytes any supported arch needs.
const MAX_INSN: usize = 15;
/// How far back we are willing to decode from a function start.
const MAX_FUNCTION_PREFIX: u64 = 16 * 1024;

fn engine(arch: Arch, detail: bool) -> Option<Capstone> {
    let cs = match arch {
        Arch::X86_64 => Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode64)
            .syntax(arch::x86::ArchSyntax::Intel)
            .detail(detail)
            .build(),
        Arch::X86 => Capstone::new()
            .x86()
            .mode(arch::x86::ArchMode::Mode32)
            .syntax(arch::x86::ArchSyntax::Intel)
            .detail(detail)
            .build(),
        Arch::Aarch64 => Capstone::new()
            .arm64()
            .mode(arch::arm64::ArchMode::Arm)
            .detail(detail)
            .build(),
        Arch::Arm => Capstone::new()
            .arm()
            .mode(arch::arm::ArchMode::Arm)
            .detail(detail)
            .build(),
    };
    cs.ok()
}

fn to_instruction(insn: &Insn, current: u64) -> Instruction {
    let bytes = insn
        .bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let text = match (insn.mnemonic(), insn.op_str()) {
        (Some(m), Some(o)) if !o.is_empty() => format!("{m} {o}"),
        (Some(m), _) => m.to_string(),
        _ => "(bad)".to_string(),
    };
    Instruction {
        address: Hex(insn.address()),
        bytes,
        text,
        current: insn.address() == current,
    }
}

/// Disassembles the instruction at `pc` with up to `context` instructions
/// before and after it. Instructions before `pc` are decoded from
/// `function_start` when known (x86 cannot be decoded backwards reliably),
/// else from the nearest earlier offset whose decoding lands exactly on `pc`.
pub fn around(
    arch: Arch,
    code: &dyn CodeInfo,
    pc: u64,
    function_start: Option<u64>,
    context: usize,
) -> Vec<Instruction> {
    let Some(cs) = engine(arch, false) else {
        return Vec::new();
    };
    let fixed = matches!(arch, Arch::Aarch64 | Arch::Arm);
    let mut before: Vec<Instruction> = Vec::new();
    if context > 0 {
        let starts: Vec<u64> = if fixed {
            vec![pc.saturating_sub(4 * context as u64)]
        } else {
            let mut s = Vec::new();
            if let Some(f) = function_start.filter(|f| *f <= pc && pc - *f <= MAX_FUNCTION_PREFIX) {
                s.push(f);
            }
            // Fallback: try offsets from far to near; the first decoding
            // that lands on pc wins (x86 decodings resynchronize quickly).
            let reach = (MAX_INSN * context.max(1)) as u64;
            s.extend((1..=reach).rev().map(|d| pc.saturating_sub(d)));
            s
        };
        for start in starts {
            if start >= pc {
                continue;
            }
            let len = (pc - start) as usize;
            let mut buf = vec![0u8; len];
            if code.read_code(start, &mut buf) != len {
                continue;
            }
            let Ok(insns) = cs.disasm_all(&buf, start) else {
                continue;
            };
            let decoded: Vec<&Insn> = insns.iter().collect();
            let lands = decoded
                .last()
                .is_some_and(|i| i.address() + i.len() as u64 == pc);
            if lands {
                let skip = decoded.len().saturating_sub(context);
                before = decoded[skip..]
                    .iter()
                    .map(|i| to_instruction(i, pc))
                    .collect();
                break;
            }
        }
    }
    let mut after = Vec::new();
    let want = context + 1;
    let mut buf = vec![0u8; MAX_INSN * want];
    let n = code.read_code(pc, &mut buf);
    buf.truncate(n);
    if let Ok(insns) = cs.disasm_count(&buf, pc, want) {
        after = insns.iter().map(|i| to_instruction(i, pc)).collect();
    }
    before.extend(after);
    before
}

/// Whether the instruction at `pc` reads or writes memory through its
/// memory operand: "read", "write" or None when it has none / is unknown.
pub fn memory_access(arch: Arch, code: &dyn CodeInfo, pc: u64) -> Option<&'static str> {
    with_x86_detail(arch, code, pc, |_, _, x86| {
        let mut access = None;
        for op in x86.operands() {
            if let arch::x86::X86OperandType::Mem(_) = op.op_type {
                match op.access {
                    Some(capstone::AccessType::WriteOnly)
                    | Some(capstone::AccessType::ReadWrite) => {
                        return Some("write");
                    }
                    Some(capstone::AccessType::ReadOnly) => access = Some("read"),
                    None => {}
                }
            }
        }
        access
    })
}

/// The address the memory operand of the instruction at `pc` refers to,
/// computed from the thread's registers (base + index × scale + disp).
/// Windows reports 0xffffffffffffffff for a non-canonical access; this
/// recovers the address the program really used.
pub fn memory_operand_address(
    arch: Arch,
    code: &dyn CodeInfo,
    pc: u64,
    registers: &crate::model::RegisterSet,
) -> Option<u64> {
    if arch != Arch::X86_64 {
        return None;
    }
    with_x86_detail(arch, code, pc, |cs, insn, x86| {
        let value = |reg: capstone::RegId| -> Option<u64> {
            if reg.0 == 0 {
                return Some(0);
            }
            let name = cs.reg_name(reg)?;
            match name.as_str() {
                // rip-relative operands count from the next instruction.
                "rip" => Some(pc + insn.len() as u64),
                n => registers.get_named(n),
            }
        };
        x86.operands().find_map(|op| match op.op_type {
            arch::x86::X86OperandType::Mem(mem) => {
                let base = value(mem.base())?;
                let index = value(mem.index())?;
                Some(
                    base.wrapping_add(index.wrapping_mul(mem.scale() as u64))
                        .wrapping_add(mem.disp() as u64),
                )
            }
            _ => None,
        })
    })
}

/// Decodes the one x86 instruction at `pc` with operand details and hands
/// it to `f`.
fn with_x86_detail<T>(
    arch: Arch,
    code: &dyn CodeInfo,
    pc: u64,
    f: impl FnOnce(&Capstone, &Insn, &arch::x86::X86InsnDetail) -> Option<T>,
) -> Option<T> {
    if !matches!(arch, Arch::X86_64 | Arch::X86) {
        return None;
    }
    let cs = engine(arch, true)?;
    let mut buf = [0u8; MAX_INSN];
    let n = code.read_code(pc, &mut buf);
    let insns = cs.disasm_count(&buf[..n], pc, 1).ok()?;
    let insn = insns.iter().next()?;
    let detail = cs.insn_detail(insn).ok()?;
    let arch_detail = detail.arch_detail();
    let x86 = arch_detail.x86()?;
    f(&cs, insn, x86)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unwind::UnwindTables;

    struct Bytes(u64, Vec<u8>);
    impl CodeInfo for Bytes {
        fn unwind_tables(&self, _pc: u64) -> Option<UnwindTables<'_>> {
            None
        }
        fn is_code(&self, _pc: u64) -> bool {
            true
        }
        fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
            let Some(off) = address.checked_sub(self.0) else {
                return 0;
            };
            let off = off as usize;
            if off >= self.1.len() {
                return 0;
            }
            let n = buf.len().min(self.1.len() - off);
            buf[..n].copy_from_slice(&self.1[off..off + n]);
            n
        }
    }

    #[test]
    fn decodes_around_pc_and_finds_write_access() {
        // push rbp; mov rbp,rsp; mov dword ptr [rax], 5; mov eax, [rax]; ret
        let code = Bytes(
            0x1000,
            vec![
                0x55, 0x48, 0x89, 0xe5, 0xc7, 0x00, 0x05, 0x00, 0x00, 0x00, 0x8b, 0x00, 0xc3,
            ],
        );
        let insns = around(Arch::X86_64, &code, 0x1004, Some(0x1000), 2);
        let texts: Vec<_> = insns.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "push rbp",
                "mov rbp, rsp",
                "mov dword ptr [rax], 5",
                "mov eax, dword ptr [rax]",
                "ret"
            ]
        );
        assert!(insns[2].current);
        assert_eq!(memory_access(Arch::X86_64, &code, 0x1004), Some("write"));
        assert_eq!(memory_access(Arch::X86_64, &code, 0x100a), Some("read"));
        // Without a function start the fallback still lands on pc.
        let insns = around(Arch::X86_64, &code, 0x100a, None, 1);
        assert_eq!(insns[0].text, "mov dword ptr [rax], 5");
        assert!(insns[1].current);
    }
}
