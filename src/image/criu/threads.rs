//! Thread state from core-TID.img: registers under the DWARF numbering
//! every reader uses, floating-point state, and the per-thread facts.

use super::proto::{
    CoreEntry, MARCH_AARCH64, MARCH_X86_64, UserAarch64FpsimdContextEntry, UserAarch64RegsEntry,
    UserX86FpregsEntry, UserX86RegsEntry, X86_MODE_COMPAT,
};
use crate::model::{Arch, FloatState, RegisterSet};

/// The architecture a core entry describes, if ckdump reads it.
pub fn arch_of(core: &CoreEntry) -> Result<Arch, String> {
    match core.mtype {
        Some(MARCH_X86_64) => {
            let compat = core
                .thread_info
                .as_ref()
                .and_then(|t| t.gpregs.as_ref())
                .and_then(|g| g.mode)
                == Some(X86_MODE_COMPAT);
            Ok(if compat { Arch::X86 } else { Arch::X86_64 })
        }
        Some(MARCH_AARCH64) => Ok(Arch::Aarch64),
        Some(other) => Err(format!(
            "machine type {other} ({}) is not supported; ckdump reads x86_64 and aarch64 CRIU images",
            march_name(other)
        )),
        None => Err("the core entry has no machine type".into()),
    }
}

fn march_name(m: i32) -> &'static str {
    match m {
        1 => "X86_64",
        2 => "ARM",
        3 => "AARCH64",
        4 => "PPC64",
        5 => "S390",
        6 => "MIPS",
        7 => "LOONGARCH64",
        8 => "RISCV64",
        _ => "unknown",
    }
}

/// Registers of a core entry for `arch`, or why there are none.
pub fn registers(core: &CoreEntry, arch: Arch) -> Result<RegisterSet, String> {
    match arch {
        Arch::X86_64 | Arch::X86 => {
            let g = core
                .thread_info
                .as_ref()
                .and_then(|t| t.gpregs.as_ref())
                .ok_or("no x86 thread_info.gpregs")?;
            x86_registers(g, arch)
        }
        Arch::Aarch64 => {
            let g = core
                .ti_aarch64
                .as_ref()
                .and_then(|t| t.gpregs.as_ref())
                .ok_or("no ti_aarch64.gpregs")?;
            aarch64_registers(g)
        }
        Arch::Arm => Err("32-bit ARM images are not supported".into()),
    }
}

fn x86_registers(g: &UserX86RegsEntry, arch: Arch) -> Result<RegisterSet, String> {
    let (Some(ip), Some(sp)) = (g.ip, g.sp) else {
        return Err("gpregs lack ip or sp".into());
    };
    let mut r = RegisterSet::new(arch);
    let values: [(&str, u64); 27] = [
        ("ax", g.ax),
        ("bx", g.bx),
        ("cx", g.cx),
        ("dx", g.dx),
        ("si", g.si),
        ("di", g.di),
        ("bp", g.bp),
        ("sp", sp),
        ("r8", g.r8),
        ("r9", g.r9),
        ("r10", g.r10),
        ("r11", g.r11),
        ("r12", g.r12),
        ("r13", g.r13),
        ("r14", g.r14),
        ("r15", g.r15),
        ("ip", ip),
        ("flags", g.flags),
        ("cs", g.cs),
        ("ss", g.ss),
        ("ds", g.ds),
        ("es", g.es),
        ("fs", g.fs),
        ("gs", g.gs),
        ("fs_base", g.fs_base),
        ("gs_base", g.gs_base),
        ("orig_ax", g.orig_ax),
    ];
    for (short, value) in values {
        let name = x86_name(short, arch);
        if arch == Arch::X86 {
            // A compat task's registers are the low halves of the 64-bit set;
            // the 32-bit table has no r8-r15 or fs/gs bases.
            r.set_named(&name, value & 0xffff_ffff);
        } else {
            r.set_named(&name, value);
        }
    }
    Ok(r)
}

/// `ax` → `rax` / `eax`, `flags` → `rflags` / `eflags`, `orig_ax` →
/// `orig_rax` / `orig_eax`; segment names stay.
fn x86_name(short: &str, arch: Arch) -> String {
    let prefix = if arch == Arch::X86_64 { "r" } else { "e" };
    match short {
        "ax" | "bx" | "cx" | "dx" | "si" | "di" | "bp" | "sp" | "ip" | "flags" => {
            format!("{prefix}{short}")
        }
        "orig_ax" => format!("orig_{prefix}ax"),
        other => other.to_string(),
    }
}

fn aarch64_registers(g: &UserAarch64RegsEntry) -> Result<RegisterSet, String> {
    let (Some(sp), Some(pc)) = (g.sp, g.pc) else {
        return Err("gpregs lack sp or pc".into());
    };
    if g.regs.len() < 31 {
        return Err(format!("gpregs hold {} of 31 x registers", g.regs.len()));
    }
    let mut r = RegisterSet::new(Arch::Aarch64);
    // DWARF numbers x0..x30 as 0..30, sp 31, pc 32.
    for (n, v) in g.regs.iter().take(31).enumerate() {
        r.set(n as u16, *v);
    }
    r.set(31, sp);
    r.set(32, pc);
    r.set_named("pstate", g.pstate);
    Ok(r)
}

/// Four little-endian words as a 128-bit hex value, like the ELF reader.
fn hex_words(words: &[u32]) -> String {
    let msb_first: Vec<u8> = words.iter().rev().flat_map(|w| w.to_be_bytes()).collect();
    format!("0x{}", crate::byte_reader::hex(&msb_first))
}

/// The floating-point state of a core entry, if it has one.
pub fn float_state(core: &CoreEntry, arch: Arch) -> Option<FloatState> {
    match arch {
        Arch::X86_64 | Arch::X86 => core
            .thread_info
            .as_ref()
            .and_then(|t| t.fpregs.as_ref())
            .map(|f| x86_float(f, arch)),
        Arch::Aarch64 => core
            .ti_aarch64
            .as_ref()
            .and_then(|t| t.fpsimd.as_ref())
            .map(aarch64_float),
        Arch::Arm => None,
    }
}

fn x86_float(f: &UserX86FpregsEntry, arch: Arch) -> FloatState {
    let count = if arch == Arch::X86_64 { 16 } else { 8 };
    let vectors = |words: &[u32]| -> Vec<String> {
        words.chunks_exact(4).take(count).map(hex_words).collect()
    };
    let mut s = FloatState {
        fcw: Some(f.cwd as u16),
        fsw: Some(f.swd as u16),
        // The abridged (FXSAVE) tag byte, as the kernel saves it.
        ftw: Some(f.twd as u16),
        fop: Some(f.fop as u16),
        fip: Some(f.rip),
        fdp: Some(f.rdp),
        mxcsr: Some(f.mxcsr),
        mxcsr_mask: Some(f.mxcsr_mask),
        vector: vectors(&f.xmm_space),
        ..FloatState::default()
    };
    if let Some(x) = &f.xsave {
        s.xsave_features = Some(x.xstate_bv);
        s.vector_upper = vectors(&x.ymmh_space);
        s.shadow_stack_pointer = x.cet.as_ref().map(|c| c.ssp);
    }
    s
}

fn aarch64_float(f: &UserAarch64FpsimdContextEntry) -> FloatState {
    let vector = f
        .vregs
        .chunks_exact(2)
        .take(32)
        .map(|v| format!("0x{:016x}{:016x}", v[1], v[0]))
        .collect();
    FloatState {
        vector,
        fpsr: Some(f.fpsr),
        fpcr: Some(f.fpcr),
        ..FloatState::default()
    }
}

/// Bit mask of the signals queued in raw `siginfo_t`s (si_signo first).
pub fn signal_mask(siginfos: &[Vec<u8>]) -> u64 {
    siginfos
        .iter()
        .filter_map(|s| s.get(..4).and_then(|b| b.try_into().ok()))
        .map(i32::from_le_bytes)
        .filter(|n| (1..=64).contains(n))
        .fold(0u64, |m, n| m | 1u64 << (n - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::criu::proto::ThreadInfoX86;

    #[test]
    fn x86_names_follow_the_register_table() {
        let g = UserX86RegsEntry {
            ax: 1,
            ip: Some(0x401000),
            sp: Some(0x7ffc0000),
            flags: 0x246,
            orig_ax: 0xe6,
            ..Default::default()
        };
        let r = x86_registers(&g, Arch::X86_64).unwrap();
        assert_eq!(r.get_named("rax"), Some(1));
        assert_eq!(r.pc(), Some(0x401000));
        assert_eq!(r.sp(), Some(0x7ffc0000));
        assert_eq!(r.get_named("rflags"), Some(0x246));
        assert_eq!(r.get_named("orig_rax"), Some(0xe6));
        assert_eq!(r.len(), 27);

        let r = x86_registers(&g, Arch::X86).unwrap();
        assert_eq!(r.get_named("eip"), Some(0x401000));
        assert_eq!(r.get_named("orig_eax"), Some(0xe6));

        let core = CoreEntry {
            mtype: Some(MARCH_X86_64),
            thread_info: Some(ThreadInfoX86 {
                gpregs: Some(UserX86RegsEntry {
                    mode: Some(X86_MODE_COMPAT),
                    ..g
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(arch_of(&core), Ok(Arch::X86));
        assert!(arch_of(&CoreEntry::default()).is_err());
    }

    #[test]
    fn pending_signal_mask() {
        let si = |n: i32| {
            let mut v = n.to_le_bytes().to_vec();
            v.resize(128, 0);
            v
        };
        assert_eq!(signal_mask(&[si(10), si(2), vec![1]]), (1 << 9) | (1 << 1));
    }
}
