//! The x86_64 kernel's ORC unwind tables, read from the dump's memory.
//!
//! kallsyms locates two parallel arrays: `__start_orc_unwind_ip` holds one
//! s32 per entry, relative to its own address, giving the first instruction
//! an entry covers (sorted); `__start_orc_unwind` holds the 6-byte entries:
//! s16 sp_offset, s16 bp_offset, then a u16 of bitfields whose layout
//! changed twice (facts of the kernel's `arch/x86/include/asm/orc_types.h`):
//!
//! | version | kernels | bits 0–3 | 4–7 | type | then |
//! |---|---|---|---|---|---|
//! | 1 | 4.14–6.2 | sp_reg | bp_reg | 8–9: CALL 0, REGS 1, REGS_PARTIAL 2 | end 10 |
//! | 2 | 6.3 | sp_reg | bp_reg | 8–9 as in 1 | signal 10, end 11 |
//! | 3 | 6.4+ | sp_reg | bp_reg | 8–10: UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4 | signal 11 |
//!
//! Versions 1 and 2 say "no rule" with sp_reg UNDEFINED, "end of stack"
//! with sp_reg UNDEFINED and the end bit. "signal" says the caller's pc is
//! where it was interrupted, not a return address (version 1: implied by
//! the REGS types). From 6.4 (and 6.3.10) an `orc_header` of 20 bytes (a
//! hash of orc_types.h) names the layout.

use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};
use crate::unwind::OrcStep;

use super::kallsyms::KernelSymbols;

/// More entries than any kernel has (6.1 has about 300 000); bounds the
/// table a corrupt kallsyms could describe.
const MAX_ENTRIES: u64 = 1 << 24;
const ENTRY_SIZE: u64 = 6;

// ORC register numbers (v1–v3).
const REG_UNDEFINED: u8 = 0;
const REG_PREV_SP: u8 = 1;
const REG_DX: u8 = 2;
const REG_DI: u8 = 3;
const REG_BP: u8 = 4;
const REG_SP: u8 = 5;
const REG_R10: u8 = 6;
const REG_R13: u8 = 7;
const REG_BP_INDIRECT: u8 = 8;
const REG_SP_INDIRECT: u8 = 9;

// DWARF register numbers of x86_64, as RegisterSet keeps them.
const DX: u16 = 1;
const DI: u16 = 5;
const BP: u16 = 6;
const SP: u16 = 7;
const R10: u16 = 10;
const R13: u16 = 13;
const IP: u16 = 16;

/// `struct pt_regs` of x86_64: (DWARF register, byte offset), then the
/// offsets of ip, cs and sp, and its size.
const PT_REGS: &[(u16, u64)] = &[
    (15, 0),
    (14, 8),
    (13, 16),
    (12, 24),
    (6, 32),
    (3, 40),
    (11, 48),
    (10, 56),
    (9, 64),
    (8, 72),
    (0, 80),
    (2, 88),
    (1, 96),
    (4, 104),
    (5, 112),
];
const PT_REGS_IP: u64 = 128;
const PT_REGS_CS: u64 = 136;
const PT_REGS_SP: u64 = 152;

/// The `orc_header` hashes of the known layouts (the kernel's
/// `scripts/orc_hash.sh` over orc_types.h): 6.4+, then 6.3.10+.
const HEADER_V3: [u8; 20] = [
    0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9, 0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25,
    0xea, 0xb3, 0xfe, 0x24,
];
const HEADER_V2: [u8; 20] = [
    0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0, 0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca,
    0x98, 0x5c, 0x2c, 0x51,
];

/// Which layout a kernel's ORC entries have (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcVersion {
    /// 4.14–6.2.
    V1,
    /// 6.3.
    V2,
    /// 6.4+.
    V3,
}

impl OrcVersion {
    /// The layout a kernel release (`OSRELEASE`, "6.12.113+deb12-…") has.
    pub fn from_release(release: &str) -> Option<OrcVersion> {
        let mut numbers = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().ok());
        let major = numbers.next()??;
        let minor = numbers.next()??;
        Some(match (major, minor) {
            (0..=5, _) | (6, 0..=2) => OrcVersion::V1,
            (6, 3) => OrcVersion::V2,
            _ => OrcVersion::V3,
        })
    }

    /// The layout an `orc_header` names; None for a hash of a layout not
    /// known here (a later kernel's).
    pub fn from_header(header: &[u8; 20]) -> Option<OrcVersion> {
        match *header {
            HEADER_V3 => Some(OrcVersion::V3),
            HEADER_V2 => Some(OrcVersion::V2),
            _ => None,
        }
    }
}

/// The layout of a kernel's ORC entries: what its `orc_header` names when
/// kallsyms has one (None for a hash not known here: the tables are then
/// not trusted), else what its release has.
pub fn kernel_orc_version(
    symbols: &KernelSymbols,
    memory: &dyn Memory,
    release: Option<&str>,
) -> Option<OrcVersion> {
    if let Some(at) = symbols.address_of("orc_header") {
        let mut hash = [0u8; 20];
        if memory.read_exact(at, &mut hash).is_ok() {
            return OrcVersion::from_header(&hash);
        }
    }
    OrcVersion::from_release(release?)
}

/// What an entry says the frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcKind {
    /// No rule here (a hole in the tables, or code ORC cannot describe).
    Undefined,
    /// The entry code or a kernel thread's start: the stack ends here.
    EndOfStack,
    /// A normal function frame: the return address sits below the CFA.
    Call,
    /// A full `struct pt_regs` at the CFA.
    Regs,
    /// Only the hardware's iret frame at the CFA.
    RegsPartial,
}

/// One decoded ORC entry, the same whatever its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrcEntry {
    pub sp_offset: i16,
    pub bp_offset: i16,
    pub sp_reg: u8,
    pub bp_reg: u8,
    pub kind: OrcKind,
    /// The caller's pc is exact (an interrupted one), not a return address.
    pub signal: bool,
}

impl OrcEntry {
    /// Decodes an entry of layout `version`.
    pub fn parse(version: OrcVersion, bytes: [u8; 6]) -> Self {
        let flags = u16::from_le_bytes([bytes[4], bytes[5]]);
        let sp_reg = (flags & 0xf) as u8;
        let old_kind = |end_bit: u16| match (sp_reg, (flags >> 8) & 0x3) {
            (REG_UNDEFINED, _) if flags & end_bit != 0 => OrcKind::EndOfStack,
            (REG_UNDEFINED, _) | (_, 3) => OrcKind::Undefined,
            (_, 0) => OrcKind::Call,
            (_, 1) => OrcKind::Regs,
            _ => OrcKind::RegsPartial,
        };
        let (kind, signal) = match version {
            OrcVersion::V1 => (old_kind(1 << 10), flags & 0x300 != 0),
            OrcVersion::V2 => (old_kind(1 << 11), flags & (1 << 10) != 0),
            OrcVersion::V3 => (
                match (flags >> 8) & 0x7 {
                    1 => OrcKind::EndOfStack,
                    2 => OrcKind::Call,
                    3 => OrcKind::Regs,
                    4 => OrcKind::RegsPartial,
                    _ => OrcKind::Undefined,
                },
                flags & (1 << 11) != 0,
            ),
        };
        OrcEntry {
            sp_offset: i16::from_le_bytes([bytes[0], bytes[1]]),
            bp_offset: i16::from_le_bytes([bytes[2], bytes[3]]),
            sp_reg,
            bp_reg: ((flags >> 4) & 0xf) as u8,
            kind,
            signal,
        }
    }
}

/// The ORC tables of a kernel in a dump.
#[derive(Debug, Clone, Copy)]
pub struct OrcTables {
    ip_table: u64,
    entries: u64,
    count: u64,
    version: OrcVersion,
}

impl OrcTables {
    /// From the kallsyms addresses of `__start_orc_unwind_ip`,
    /// `__stop_orc_unwind_ip` and `__start_orc_unwind`, entries of layout
    /// `version`; None when they are out of order or describe an
    /// impossible table.
    pub fn new(ip_start: u64, ip_stop: u64, orc_start: u64, version: OrcVersion) -> Option<Self> {
        let bytes = ip_stop.checked_sub(ip_start)?;
        if bytes == 0 || !bytes.is_multiple_of(4) {
            return None;
        }
        let count = bytes / 4;
        (count <= MAX_ENTRIES).then_some(OrcTables {
            ip_table: ip_start,
            entries: orc_start,
            count,
            version,
        })
    }

    /// The address entry `index` starts at.
    fn ip_at(&self, memory: &dyn Memory, index: u64) -> Option<u64> {
        let at = self.ip_table.checked_add(index.checked_mul(4)?)?;
        let relative = memory.read_u32(at).ok()? as i32;
        Some(at.wrapping_add(relative as i64 as u64))
    }

    /// The entry covering `pc`: the last whose start is at or before it,
    /// found by a binary search of at most log2(count) + 1 reads.
    pub fn lookup(&self, memory: &dyn Memory, pc: u64) -> Option<OrcEntry> {
        let (mut low, mut high) = (0u64, self.count);
        // Invariant: entries before `low` start at or before pc; entries
        // from `high` on start after it.
        while low < high {
            let middle = low + (high - low) / 2;
            if self.ip_at(memory, middle)? <= pc {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let index = low.checked_sub(1)?;
        let at = self.entries.checked_add(index.checked_mul(ENTRY_SIZE)?)?;
        let mut bytes = [0u8; 6];
        memory.read_exact(at, &mut bytes).ok()?;
        Some(OrcEntry::parse(self.version, bytes))
    }

    /// The caller of the frame at `registers` (x86_64), as the kernel's
    /// own ORC unwinder finds it.
    pub fn step(&self, registers: &RegisterSet, pc_is_exact: bool, memory: &dyn Memory) -> OrcStep {
        if registers.arch != Arch::X86_64 {
            return OrcStep::Unknown;
        }
        let (Some(pc), Some(sp)) = (registers.pc(), registers.sp()) else {
            return OrcStep::Unknown;
        };
        let lookup_pc = if pc_is_exact { pc } else { pc.wrapping_sub(1) };
        let Some(orc) = self.lookup(memory, lookup_pc) else {
            return OrcStep::Unknown;
        };
        step_with(&orc, registers, memory, sp).unwrap_or(OrcStep::Unknown)
    }
}

fn read_word(memory: &dyn Memory, address: u64) -> Option<u64> {
    memory.read_u64(address).ok()
}

fn offset(base: u64, by: i16) -> u64 {
    base.wrapping_add(by as i64 as u64)
}

/// Applies one ORC entry; None when a register it needs is unknown or a
/// stack word cannot be read.
fn step_with(
    orc: &OrcEntry,
    registers: &RegisterSet,
    memory: &dyn Memory,
    sp: u64,
) -> Option<OrcStep> {
    match orc.kind {
        OrcKind::Undefined => return None,
        OrcKind::EndOfStack => return Some(OrcStep::EndOfStack),
        OrcKind::Call | OrcKind::Regs | OrcKind::RegsPartial => {}
    }
    let reg = |n: u16| registers.get(n);
    // The caller's stack pointer: the CFA of this frame.
    let cfa = match orc.sp_reg {
        REG_SP => offset(sp, orc.sp_offset),
        REG_BP => offset(reg(BP)?, orc.sp_offset),
        REG_SP_INDIRECT => offset(read_word(memory, sp)?, orc.sp_offset),
        REG_BP_INDIRECT => read_word(memory, offset(reg(BP)?, orc.sp_offset))?,
        REG_R10 => reg(R10)?,
        REG_R13 => reg(R13)?,
        REG_DI => reg(DI)?,
        REG_DX => reg(DX)?,
        _ => return None,
    };
    let mut caller;
    match orc.kind {
        OrcKind::Call => {
            caller = RegisterSet::new(Arch::X86_64);
            // Callee-saved registers ORC does not describe stay as they are.
            for n in [3u16, 12, 13, 14, 15] {
                if let Some(v) = reg(n) {
                    caller.set(n, v);
                }
            }
            if let Some(bp) = reg(BP) {
                caller.set(BP, bp);
            }
            caller.set(IP, read_word(memory, cfa.checked_sub(8)?)?);
            caller.set(SP, cfa);
        }
        OrcKind::Regs => {
            // A full pt_regs at the CFA: the interrupted context. Its cs
            // says whether that was user mode, where the kernel stack ends.
            if read_word(memory, cfa.checked_add(PT_REGS_CS)?)? & 3 != 0 {
                return Some(OrcStep::EndOfStack);
            }
            caller = RegisterSet::new(Arch::X86_64);
            for &(n, at) in PT_REGS {
                caller.set(n, read_word(memory, cfa.checked_add(at)?)?);
            }
            caller.set(IP, read_word(memory, cfa.checked_add(PT_REGS_IP)?)?);
            caller.set(SP, read_word(memory, cfa.checked_add(PT_REGS_SP)?)?);
        }
        OrcKind::RegsPartial => {
            // Only the hardware's iret frame (ip, cs, flags, sp, ss) at
            // the CFA.
            let frame = cfa;
            if read_word(memory, frame.checked_add(8)?)? & 3 != 0 {
                return Some(OrcStep::EndOfStack);
            }
            caller = RegisterSet::new(Arch::X86_64);
            for n in [3u16, 12, 13, 14, 15] {
                if let Some(v) = reg(n) {
                    caller.set(n, v);
                }
            }
            if let Some(bp) = reg(BP) {
                caller.set(BP, bp);
            }
            caller.set(IP, read_word(memory, frame)?);
            caller.set(SP, read_word(memory, frame.checked_add(24)?)?);
        }
        OrcKind::Undefined | OrcKind::EndOfStack => return None,
    }
    // Where this frame saved its caller's rbp.
    match orc.bp_reg {
        REG_UNDEFINED => {}
        REG_PREV_SP => caller.set(BP, read_word(memory, offset(cfa, orc.bp_offset))?),
        REG_BP => {
            let saved = read_word(memory, offset(reg(BP)?, orc.bp_offset))?;
            caller.set(BP, saved);
        }
        _ => return None,
    }
    Some(OrcStep::Caller {
        registers: caller,
        // An interrupted pc (signal frame) is looked up as it is, a return
        // address by the call before it.
        pc_is_exact: orc.signal,
        // The CFA was read from memory: the code switched stacks here
        // (call_on_irqstack saves the previous sp on top of the IRQ stack).
        switched_stack: matches!(orc.sp_reg, REG_SP_INDIRECT | REG_BP_INDIRECT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_entry_decodes_its_bitfields() {
        // sp_offset 16, bp_offset -16, sp_reg SP, bp_reg PREV_SP, CALL.
        let flags: u16 = 5 | (1 << 4);
        let mut bytes = [0u8; 6];
        bytes[0..2].copy_from_slice(&16i16.to_le_bytes());
        bytes[2..4].copy_from_slice(&(-16i16).to_le_bytes());
        bytes[4..6].copy_from_slice(&flags.to_le_bytes());
        assert_eq!(
            OrcEntry::parse(OrcVersion::V1, bytes),
            OrcEntry {
                sp_offset: 16,
                bp_offset: -16,
                sp_reg: REG_SP,
                bp_reg: REG_PREV_SP,
                kind: OrcKind::Call,
                signal: false,
            }
        );
        let end = OrcEntry::parse(OrcVersion::V1, [0, 0, 0, 0, 0, 0x04]);
        assert_eq!(end.kind, OrcKind::EndOfStack);
        let hole = OrcEntry::parse(OrcVersion::V1, [0; 6]);
        assert_eq!(hole.kind, OrcKind::Undefined);
        // REGS implies a signal frame in version 1.
        let regs = OrcEntry::parse(OrcVersion::V1, [0, 0, 0, 0, 5, 0x01]);
        assert_eq!((regs.kind, regs.signal), (OrcKind::Regs, true));
    }

    #[test]
    fn versions_2_and_3_move_the_end_bit_and_widen_the_type() {
        // 6.3: bit 10 is signal, bit 11 end.
        let v2 = |hi: u8| OrcEntry::parse(OrcVersion::V2, [0, 0, 0, 0, 5, hi]);
        assert_eq!((v2(0x05).kind, v2(0x05).signal), (OrcKind::Regs, true));
        assert_eq!(v2(0x00).kind, OrcKind::Call);
        let end = OrcEntry::parse(OrcVersion::V2, [0, 0, 0, 0, 0, 0x08]);
        assert_eq!(end.kind, OrcKind::EndOfStack);
        // The v1 end bit is v2's signal: sp_reg undefined stays a hole.
        let hole = OrcEntry::parse(OrcVersion::V2, [0, 0, 0, 0, 0, 0x04]);
        assert_eq!(hole.kind, OrcKind::Undefined);
        // 6.4+: a 3-bit type, signal at bit 11.
        let v3 = |lo: u8, hi: u8| OrcEntry::parse(OrcVersion::V3, [0, 0, 0, 0, lo, hi]);
        assert_eq!(v3(0x15, 0x02).kind, OrcKind::Call);
        assert!(!v3(0x15, 0x02).signal);
        assert_eq!(
            (v3(5, 0x0b).kind, v3(5, 0x0b).signal),
            (OrcKind::Regs, true)
        );
        assert_eq!(v3(5, 0x0c).kind, OrcKind::RegsPartial);
        assert_eq!(v3(0, 0x01).kind, OrcKind::EndOfStack);
        assert_eq!(v3(0, 0x00).kind, OrcKind::Undefined);
        assert_eq!(v3(5, 0x07).kind, OrcKind::Undefined);
    }

    #[test]
    fn the_layout_comes_from_the_release_or_the_header() {
        let of = OrcVersion::from_release;
        assert_eq!(of("6.1.0-56-cloud-amd64"), Some(OrcVersion::V1));
        assert_eq!(of("5.10.0"), Some(OrcVersion::V1));
        assert_eq!(of("6.3.7"), Some(OrcVersion::V2));
        assert_eq!(of("6.4.0-rc1"), Some(OrcVersion::V3));
        assert_eq!(of("6.12.113+deb12-cloud-amd64"), Some(OrcVersion::V3));
        assert_eq!(of("garbage"), None);
        assert_eq!(OrcVersion::from_header(&HEADER_V3), Some(OrcVersion::V3));
        assert_eq!(OrcVersion::from_header(&HEADER_V2), Some(OrcVersion::V2));
        assert_eq!(OrcVersion::from_header(&[0; 20]), None);
    }

    #[test]
    fn impossible_tables_are_refused() {
        assert!(OrcTables::new(0x1000, 0x1000, 0x2000, OrcVersion::V1).is_none());
        assert!(OrcTables::new(0x1000, 0x0ff0, 0x2000, OrcVersion::V1).is_none());
        assert!(OrcTables::new(0x1000, 0x1003, 0x2000, OrcVersion::V1).is_none());
        assert!(OrcTables::new(0, !3, 0x2000, OrcVersion::V1).is_none());
    }

    /// Bytes at one base address; reads past the end fail.
    struct Flat {
        base: u64,
        bytes: Vec<u8>,
    }

    impl Memory for Flat {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, crate::memory::MemoryError> {
            let start = address
                .checked_sub(self.base)
                .and_then(|o| usize::try_from(o).ok())
                .filter(|&o| o < self.bytes.len())
                .ok_or(crate::memory::MemoryError::NotCaptured { address })?;
            let n = buf.len().min(self.bytes.len() - start);
            buf[..n].copy_from_slice(&self.bytes[start..start + n]);
            Ok(n)
        }
    }

    fn entry(sp_offset: i16, bp_offset: i16, sp_reg: u16, bp_reg: u16, kind: u16) -> [u8; 6] {
        let flags = sp_reg | (bp_reg << 4) | (kind << 8);
        let mut bytes = [0u8; 6];
        bytes[0..2].copy_from_slice(&sp_offset.to_le_bytes());
        bytes[2..4].copy_from_slice(&bp_offset.to_le_bytes());
        bytes[4..6].copy_from_slice(&flags.to_le_bytes());
        bytes
    }

    /// Three entries starting at 0x1000, 0x1010 and 0x1020 (ip table at
    /// 0x100, entries at 0x200), and a stack at 0x8000.
    fn image() -> Flat {
        let mut bytes = vec![0u8; 0x9000];
        for (i, start) in [0x1000u64, 0x1010, 0x1020].iter().enumerate() {
            let at = 0x100 + 4 * i as u64;
            let relative = (*start as i64 - at as i64) as i32;
            bytes[at as usize..at as usize + 4].copy_from_slice(&relative.to_le_bytes());
        }
        // CALL with sp + 8; CALL through rbp saving rbp at CFA - 16; REGS.
        let entries = [
            entry(8, 0, 5, 0, 0),
            entry(16, -16, 4, 1, 0),
            entry(0, 0, 5, 0, 1),
        ];
        for (i, e) in entries.iter().enumerate() {
            bytes[0x200 + 6 * i..0x200 + 6 * i + 6].copy_from_slice(e);
        }
        // Return address 0x1015 at 0x8000 (CFA 0x8008 - 8).
        bytes[0x8000..0x8008].copy_from_slice(&0x1015u64.to_le_bytes());
        Flat { base: 0, bytes }
    }

    #[test]
    fn lookup_finds_the_last_entry_at_or_before_pc() {
        let memory = image();
        let orc = OrcTables::new(0x100, 0x10c, 0x200, OrcVersion::V1).unwrap();
        assert_eq!(orc.lookup(&memory, 0xfff), None);
        assert_eq!(orc.lookup(&memory, 0x1000).unwrap().sp_offset, 8);
        assert_eq!(orc.lookup(&memory, 0x100f).unwrap().sp_offset, 8);
        assert_eq!(orc.lookup(&memory, 0x1010).unwrap().sp_reg, REG_BP);
        assert_eq!(orc.lookup(&memory, 0x9999).unwrap().kind, OrcKind::Regs);
        // A table running past memory finds nothing rather than guessing.
        let past = OrcTables::new(0x100, 0x100 + 4 * 0x10000, 0x200, OrcVersion::V1).unwrap();
        assert_eq!(past.lookup(&memory, 0x1000), None);
    }

    #[test]
    fn a_call_entry_returns_to_the_word_below_the_cfa() {
        let memory = image();
        let orc = OrcTables::new(0x100, 0x10c, 0x200, OrcVersion::V1).unwrap();
        let mut registers = RegisterSet::new(Arch::X86_64);
        registers.set(IP, 0x1004);
        registers.set(SP, 0x8000);
        registers.set(BP, 0x7777);
        let OrcStep::Caller {
            registers: caller,
            pc_is_exact,
            ..
        } = orc.step(&registers, true, &memory)
        else {
            panic!("no caller");
        };
        assert!(!pc_is_exact);
        assert_eq!(
            (caller.pc(), caller.sp(), caller.get(BP)),
            (Some(0x1015), Some(0x8008), Some(0x7777))
        );
        // Through rbp: unknown rbp gives no rule.
        registers.set(IP, 0x1015);
        registers.clear(BP);
        assert!(matches!(
            orc.step(&registers, false, &memory),
            OrcStep::Unknown
        ));
    }
}
