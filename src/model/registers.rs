//! Register sets, keyed by DWARF register number so the unwinder can use
//! them directly. Registers without a DWARF number (orig_rax, aarch64 pstate)
//! get numbers from [`PRIVATE_BASE`] upwards.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::Arch;

/// First register number used for registers DWARF does not number.
pub const PRIVATE_BASE: u16 = 200;
/// Size of the register file; every number used below is smaller.
const REGISTER_SLOTS: usize = 256;

/// (name, DWARF number) in the order a person expects to read them.
const X86_64: &[(&str, u16)] = &[
    ("rax", 0),
    ("rbx", 3),
    ("rcx", 2),
    ("rdx", 1),
    ("rsi", 4),
    ("rdi", 5),
    ("rbp", 6),
    ("rsp", 7),
    ("r8", 8),
    ("r9", 9),
    ("r10", 10),
    ("r11", 11),
    ("r12", 12),
    ("r13", 13),
    ("r14", 14),
    ("r15", 15),
    ("rip", 16),
    ("rflags", 49),
    ("cs", 51),
    ("ss", 52),
    ("ds", 53),
    ("es", 50),
    ("fs", 54),
    ("gs", 55),
    ("fs_base", 58),
    ("gs_base", 59),
    ("orig_rax", PRIVATE_BASE),
];

const X86: &[(&str, u16)] = &[
    ("eax", 0),
    ("ebx", 3),
    ("ecx", 1),
    ("edx", 2),
    ("esi", 6),
    ("edi", 7),
    ("ebp", 5),
    ("esp", 4),
    ("eip", 8),
    ("eflags", 9),
    ("cs", 41),
    ("ss", 42),
    ("ds", 43),
    ("es", 40),
    ("fs", 44),
    ("gs", 45),
    ("orig_eax", PRIVATE_BASE),
];

const AARCH64: &[(&str, u16)] = &[
    ("x0", 0),
    ("x1", 1),
    ("x2", 2),
    ("x3", 3),
    ("x4", 4),
    ("x5", 5),
    ("x6", 6),
    ("x7", 7),
    ("x8", 8),
    ("x9", 9),
    ("x10", 10),
    ("x11", 11),
    ("x12", 12),
    ("x13", 13),
    ("x14", 14),
    ("x15", 15),
    ("x16", 16),
    ("x17", 17),
    ("x18", 18),
    ("x19", 19),
    ("x20", 20),
    ("x21", 21),
    ("x22", 22),
    ("x23", 23),
    ("x24", 24),
    ("x25", 25),
    ("x26", 26),
    ("x27", 27),
    ("x28", 28),
    ("fp", 29),
    ("lr", 30),
    ("sp", 31),
    ("pc", 32),
    ("pstate", PRIVATE_BASE + 1),
];

const ARM: &[(&str, u16)] = &[
    ("r0", 0),
    ("r1", 1),
    ("r2", 2),
    ("r3", 3),
    ("r4", 4),
    ("r5", 5),
    ("r6", 6),
    ("r7", 7),
    ("r8", 8),
    ("r9", 9),
    ("r10", 10),
    ("fp", 11),
    ("ip", 12),
    ("sp", 13),
    ("lr", 14),
    ("pc", 15),
    ("cpsr", PRIVATE_BASE + 2),
];

/// The display table for an architecture: (name, register number).
pub fn register_names(arch: Arch) -> &'static [(&'static str, u16)] {
    match arch {
        Arch::X86_64 => X86_64,
        Arch::X86 => X86,
        Arch::Aarch64 => AARCH64,
        Arch::Arm => ARM,
    }
}

/// A thread's integer registers. Missing values are `None`, never zero.
///
/// Sparse: a bitmap of which numbers hold a value and the values in
/// ascending register-number order. A thread has a few dozen registers out
/// of 256 possible numbers, and the unwinder clones a set per frame, so
/// this keeps a set at 32 bytes plus 8 per register instead of 4 KiB.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterSet {
    pub arch: Arch,
    /// Bit `n` set: register `n` has a value.
    present: [u64; PRESENT_WORDS],
    /// One value per set bit of `present`, lowest register number first.
    values: Vec<u64>,
}

const PRESENT_WORDS: usize = REGISTER_SLOTS / 64;

impl std::fmt::Debug for RegisterSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl RegisterSet {
    pub fn new(arch: Arch) -> Self {
        RegisterSet {
            arch,
            present: [0; PRESENT_WORDS],
            values: Vec::new(),
        }
    }

    /// (word, bit mask) of register `number`; None outside the register file.
    fn bit(number: u16) -> Option<(usize, u64)> {
        let n = usize::from(number);
        (n < REGISTER_SLOTS).then(|| (n / 64, 1u64 << (n % 64)))
    }

    /// Index in `values` that register `number` has, or would have.
    fn rank(&self, word: usize, bit: u64) -> usize {
        let before: u32 = self.present[..word].iter().map(|w| w.count_ones()).sum();
        let below = (self.present[word] & (bit - 1)).count_ones();
        (before + below) as usize
    }

    /// Value of register `number`, if known.
    pub fn get(&self, number: u16) -> Option<u64> {
        let (word, bit) = Self::bit(number)?;
        if self.present[word] & bit == 0 {
            return None;
        }
        self.values.get(self.rank(word, bit)).copied()
    }

    /// Sets register `number`; numbers outside the register file are ignored.
    pub fn set(&mut self, number: u16, value: u64) {
        let Some((word, bit)) = Self::bit(number) else {
            return;
        };
        let index = self.rank(word, bit);
        if self.present[word] & bit != 0 {
            self.values[index] = value;
        } else {
            self.present[word] |= bit;
            self.values.insert(index, value);
        }
    }

    pub fn clear(&mut self, number: u16) {
        let Some((word, bit)) = Self::bit(number) else {
            return;
        };
        if self.present[word] & bit != 0 {
            let index = self.rank(word, bit);
            self.present[word] &= !bit;
            self.values.remove(index);
        }
    }

    /// Sets a register by its display name (`rip`, `x29`); false if unknown.
    pub fn set_named(&mut self, name: &str, value: u64) -> bool {
        match self.number_of(name) {
            Some(n) => {
                self.set(n, value);
                true
            }
            None => false,
        }
    }

    pub fn get_named(&self, name: &str) -> Option<u64> {
        self.number_of(name).and_then(|n| self.get(n))
    }

    pub fn number_of(&self, name: &str) -> Option<u16> {
        register_names(self.arch)
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, num)| *num)
    }

    /// DWARF number of the program counter / return-address column.
    pub fn pc_number(arch: Arch) -> u16 {
        match arch {
            Arch::X86_64 => 16,
            Arch::X86 => 8,
            Arch::Aarch64 => 32,
            Arch::Arm => 15,
        }
    }

    pub fn sp_number(arch: Arch) -> u16 {
        match arch {
            Arch::X86_64 => 7,
            Arch::X86 => 4,
            Arch::Aarch64 => 31,
            Arch::Arm => 13,
        }
    }

    /// Frame pointer: rbp, ebp, x29, r11.
    pub fn fp_number(arch: Arch) -> u16 {
        match arch {
            Arch::X86_64 => 6,
            Arch::X86 => 5,
            Arch::Aarch64 => 29,
            Arch::Arm => 11,
        }
    }

    pub fn pc(&self) -> Option<u64> {
        self.get(Self::pc_number(self.arch))
    }
    pub fn sp(&self) -> Option<u64> {
        self.get(Self::sp_number(self.arch))
    }
    pub fn fp(&self) -> Option<u64> {
        self.get(Self::fp_number(self.arch))
    }

    /// Registers of the display table that have a value, in display order;
    /// numbers outside the table (set by CFI for vector registers, say) are
    /// reachable through [`get`](Self::get) only.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        register_names(self.arch)
            .iter()
            .filter_map(move |(name, n)| self.get(*n).map(|v| (*name, v)))
    }

    /// Count of registers that have a value.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for RegisterSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &format!("{value:#x}"))?;
        }
        map.end()
    }
}

/// x87 / SSE / AVX (or NEON) state as saved, with the fields people inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FloatState {
    /// x87 control word (fctrl).
    pub fcw: Option<u16>,
    /// x87 status word (fstat).
    pub fsw: Option<u16>,
    /// x87 tag word as stored (abridged 8-bit form in FXSAVE).
    pub ftw: Option<u16>,
    pub fop: Option<u16>,
    /// Last x87 instruction pointer offset (fioff).
    pub fip: Option<u64>,
    /// Last x87 data pointer offset (fooff).
    pub fdp: Option<u64>,
    pub mxcsr: Option<u32>,
    pub mxcsr_mask: Option<u32>,
    /// XMM / NEON V registers, low 128 bits each, as hex strings.
    pub vector: Vec<String>,
    /// Upper 128 bits of YMM registers when the XSAVE area holds AVX state.
    pub vector_upper: Vec<String>,
    /// XSTATE_BV: which XSAVE components were saved.
    pub xsave_features: Option<u64>,
    /// aarch64 fpsr / fpcr.
    pub fpsr: Option<u32>,
    pub fpcr: Option<u32>,
    /// CET shadow-stack pointer, if saved.
    pub shadow_stack_pointer: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_follows_the_display_table_not_the_numbers() {
        let mut regs = RegisterSet::new(Arch::X86_64);
        // Set in an order unlike both the numbers and the display table.
        for (number, value) in [
            (16, 0x40_1000),
            (7, 0x7ff0),
            (3, 0x33),
            (0, 0x11),
            (49, 0x246),
        ] {
            regs.set(number, value);
        }
        regs.set(PRIVATE_BASE, 0x3c);
        let seen: Vec<(&str, u64)> = regs.iter().collect();
        assert_eq!(
            seen,
            [
                ("rax", 0x11),
                ("rbx", 0x33),
                ("rsp", 0x7ff0),
                ("rip", 0x40_1000),
                ("rflags", 0x246),
                ("orig_rax", 0x3c),
            ]
        );
        assert_eq!(regs.len(), 6);
        // Overwriting keeps one value; clearing removes it.
        regs.set(3, 0x34);
        regs.clear(7);
        regs.clear(7);
        assert_eq!(regs.get(3), Some(0x34));
        assert_eq!(regs.sp(), None);
        assert_eq!(regs.len(), 5);
    }

    #[test]
    fn high_register_numbers() {
        let mut regs = RegisterSet::new(Arch::Aarch64);
        // v31 is DWARF 95; 255 is the last number the file holds.
        regs.set(255, 0xffff);
        regs.set(95, 0x9595);
        regs.set(64, 0x6464);
        regs.set(0, 1);
        regs.set(256, 0xdead);
        regs.set(u16::MAX, 0xdead);
        assert_eq!(regs.get(255), Some(0xffff));
        assert_eq!(regs.get(95), Some(0x9595));
        assert_eq!(regs.get(64), Some(0x6464));
        assert_eq!(regs.get(63), None);
        assert_eq!(regs.get(256), None);
        assert_eq!(regs.get(u16::MAX), None);
        assert_eq!(regs.len(), 4);
        // Only x0 is in the display table.
        assert_eq!(regs.iter().collect::<Vec<_>>(), [("x0", 1)]);
        // Equality does not depend on the order values were set in.
        let mut other = RegisterSet::new(Arch::Aarch64);
        for (n, v) in [(0, 1), (64, 0x6464), (255, 0xffff), (95, 0x9595)] {
            other.set(n, v);
        }
        assert_eq!(regs, other);
        regs.clear(255);
        assert_ne!(regs, other);
    }

    #[test]
    fn a_set_is_small() {
        let mut regs = RegisterSet::new(Arch::X86_64);
        for (_, n) in register_names(Arch::X86_64) {
            regs.set(*n, u64::from(*n));
        }
        let heap = regs.values.capacity() * std::mem::size_of::<u64>();
        assert!(std::mem::size_of::<RegisterSet>() + heap < 512);
    }
}
