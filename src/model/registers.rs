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
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterSet {
    pub arch: Arch,
    values: Box<[Option<u64>; REGISTER_SLOTS]>,
}

impl std::fmt::Debug for RegisterSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl RegisterSet {
    pub fn new(arch: Arch) -> Self {
        RegisterSet {
            arch,
            values: Box::new([None; REGISTER_SLOTS]),
        }
    }

    /// Value of register `number`, if known.
    pub fn get(&self, number: u16) -> Option<u64> {
        self.values.get(number as usize).copied().flatten()
    }

    /// Sets register `number`; numbers outside the register file are ignored.
    pub fn set(&mut self, number: u16, value: u64) {
        if let Some(slot) = self.values.get_mut(number as usize) {
            *slot = Some(value);
        }
    }

    pub fn clear(&mut self, number: u16) {
        if let Some(slot) = self.values.get_mut(number as usize) {
            *slot = None;
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

    /// Known registers in display order, then any others by number.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        register_names(self.arch)
            .iter()
            .filter_map(move |(name, n)| self.get(*n).map(|v| (*name, v)))
    }

    /// Count of registers that have a value.
    pub fn len(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
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
