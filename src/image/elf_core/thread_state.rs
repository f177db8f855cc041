//! Decoding the per-thread and per-process notes: NT_PRSTATUS, NT_PRPSINFO,
//! NT_SIGINFO and the floating-point / vector register notes.
//!
//! Layouts are the kernel's `struct elf_prstatus` / `elf_prpsinfo` /
//! `siginfo_t` (include/uapi/linux/elfcore.h, asm-generic/siginfo.h) for a
//! 64-bit or 32-bit ABI, and the FXSAVE / XSAVE areas of the Intel SDM.

use crate::byte_reader::Fields;
use crate::model::{Arch, FloatState, Process, RegisterSet};

/// What NT_PRSTATUS holds for one thread.
#[derive(Debug, Clone)]
#[allow(dead_code)] // ppid/pgrp/sid/signo are decoded for completeness and tests
pub struct PrStatus {
    pub signo: i32,
    pub cursig: i32,
    pub sigpend: u64,
    pub sighold: u64,
    pub pid: u64,
    pub ppid: u64,
    pub pgrp: u64,
    pub sid: u64,
    pub utime_us: u64,
    pub stime_us: u64,
    pub registers: RegisterSet,
}

/// General-purpose register names in `user_regs_struct` order.
const X86_64_GPRS: &[&str] = &[
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];
const X86_GPRS: &[&str] = &[
    "ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs", "gs", "orig_eax", "eip",
    "cs", "eflags", "esp", "ss",
];
/// aarch64 `user_pt_regs`: x0..x30, sp, pc, pstate (x29/x30 shown as fp/lr).
const AARCH64_GPRS: &[&str] = &[
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "fp", "lr", "sp", "pc", "pstate",
];

fn gpr_names(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => X86_64_GPRS,
        Arch::X86 => X86_GPRS,
        Arch::Aarch64 => AARCH64_GPRS,
        Arch::Arm => &[],
    }
}

/// Bytes NT_PRSTATUS must have for `arch` to hold every register.
pub fn prstatus_min_size(arch: Arch) -> usize {
    let word = arch.pointer_size() as usize;
    prstatus_reg_offset(word) + gpr_names(arch).len() * word
}

fn prstatus_reg_offset(word: usize) -> usize {
    // siginfo (12) + cursig (2+2) + sigpend + sighold + 4 pids + 4 timevals.
    if word == 8 { 112 } else { 72 }
}

/// Decodes NT_PRSTATUS; None when it is too short for the fixed fields.
/// Registers that do not fit a short descriptor are left unset.
pub fn parse_prstatus(desc: &[u8], arch: Arch) -> Option<PrStatus> {
    let word = arch.pointer_size() as usize;
    let reg_at = prstatus_reg_offset(word);
    if desc.len() < reg_at {
        return None;
    }
    let tv = |at: usize| -> u64 {
        let sec = desc.word_at(at, word).unwrap_or(0);
        let usec = desc.word_at(at + word, word).unwrap_or(0);
        sec.saturating_mul(1_000_000).saturating_add(usec)
    };
    let pid_at = 16 + 2 * word;
    let time_at = pid_at + 16;
    let mut registers = RegisterSet::new(arch);
    for (i, name) in gpr_names(arch).iter().enumerate() {
        if let Some(v) = desc.word_at(reg_at + i * word, word) {
            registers.set_named(name, v);
        }
    }
    Some(PrStatus {
        signo: desc.i32_at(0)?,
        cursig: i32::from(desc.u16_at(12)? as i16),
        sigpend: desc.word_at(16, word)?,
        sighold: desc.word_at(16 + word, word)?,
        pid: u64::from(desc.u32_at(pid_at)?),
        ppid: u64::from(desc.u32_at(pid_at + 4)?),
        pgrp: u64::from(desc.u32_at(pid_at + 8)?),
        sid: u64::from(desc.u32_at(pid_at + 12)?),
        utime_us: tv(time_at),
        stime_us: tv(time_at + 2 * word),
        registers,
    })
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Decodes NT_PRPSINFO. i386 keeps the old 16-bit uid/gid and a 32-bit
/// pr_flag (124 bytes); 64-bit ABIs use 32-bit ids (136 bytes).
pub fn parse_prpsinfo(desc: &[u8], arch: Arch) -> Option<Process> {
    let (ids_at, uid, gid) = if arch.pointer_size() == 8 {
        (24, u64::from(desc.u32_at(16)?), u64::from(desc.u32_at(20)?))
    } else if arch == Arch::X86 {
        (12, u64::from(desc.u16_at(8)?), u64::from(desc.u16_at(10)?))
    } else {
        // 32-bit arm: 16-bit ids as well, but pr_flag is 4 bytes too.
        (12, u64::from(desc.u16_at(8)?), u64::from(desc.u16_at(10)?))
    };
    let fname_at = ids_at + 16;
    let fname = desc.bytes_at(fname_at, 16)?;
    // pr_psargs is 80 bytes; a short note keeps what it has.
    let psargs = desc.get(fname_at + 16..).unwrap_or(&[]);
    let psargs = &psargs[..psargs.len().min(80)];
    let sname = *desc.get(1)?;
    let args = c_string(psargs);
    Some(Process {
        pid: Some(u64::from(desc.u32_at(ids_at)?)),
        ppid: Some(u64::from(desc.u32_at(ids_at + 4)?)),
        pgid: Some(u64::from(desc.u32_at(ids_at + 8)?)),
        sid: Some(u64::from(desc.u32_at(ids_at + 12)?)),
        uid: Some(uid),
        gid: Some(gid),
        name: Some(c_string(fname)),
        // The kernel pads psargs with a trailing space.
        args: Some(args.trim_end().to_string()),
        state: (sname.is_ascii_graphic()).then_some(sname as char),
        nice: Some(i64::from(*desc.get(3)? as i8)),
        executable: None,
    })
}

/// Decoded `siginfo_t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub address: Option<u64>,
    pub sender_pid: Option<i64>,
    pub sender_uid: Option<u64>,
}

const SIGILL: i32 = 4;
const SIGTRAP: i32 = 5;
const SIGBUS: i32 = 7;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;
pub const SIGSTOP: i32 = 19;
const SI_USER: i32 = 0;
const SI_QUEUE: i32 = -1;
const SI_TKILL: i32 = -6;

/// Decodes NT_SIGINFO: si_signo, si_errno, si_code, then the union at 16
/// (64-bit, 8-aligned) or 12 (32-bit).
pub fn parse_siginfo(desc: &[u8], pointer_size: u8) -> Option<SigInfo> {
    let word = pointer_size as usize;
    let union_at = if word == 8 { 16 } else { 12 };
    let signo = desc.i32_at(0)?;
    let errno = desc.i32_at(4)?;
    let code = desc.i32_at(8)?;
    let mut info = SigInfo {
        signo,
        errno,
        code,
        address: None,
        sender_pid: None,
        sender_uid: None,
    };
    if matches!(code, SI_USER | SI_QUEUE | SI_TKILL) {
        info.sender_pid = desc.i32_at(union_at).map(i64::from);
        info.sender_uid = desc.u32_at(union_at + 4).map(u64::from);
    } else if code > 0 && matches!(signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) {
        info.address = desc.word_at(union_at, word);
    }
    Some(info)
}

/// A little-endian register value as `0x…`, most significant byte first.
fn hex128(bytes: &[u8]) -> String {
    let msb_first: Vec<u8> = bytes.iter().rev().copied().collect();
    format!("0x{}", crate::byte_reader::hex(&msb_first))
}

fn vectors(area: &[u8], at: usize, count: usize) -> Vec<String> {
    (0..count)
        .map_while(|i| {
            let start = i.checked_mul(16)?.checked_add(at)?;
            area.bytes_at(start, 16).map(hex128)
        })
        .collect()
}

/// Fills `state` from an FXSAVE area (x86_64 NT_FPREGSET, i386
/// NT_PRXFPREG, or the first 512 bytes of XSAVE). In the 32-bit form fip
/// and fdp are 32-bit with a selector beside them.
pub fn apply_fxsave(state: &mut FloatState, area: &[u8], arch: Arch) -> bool {
    if area.len() < 160 {
        return false;
    }
    state.fcw = area.u16_at(0);
    state.fsw = area.u16_at(2);
    state.ftw = area.get(4).map(|&b| u16::from(b));
    state.fop = area.u16_at(6);
    if arch == Arch::X86_64 {
        state.fip = area.u64_at(8);
        state.fdp = area.u64_at(16);
    } else {
        state.fip = area.u32_at(8).map(u64::from);
        state.fdp = area.u32_at(16).map(u64::from);
    }
    state.mxcsr = area.u32_at(24);
    state.mxcsr_mask = area.u32_at(28);
    let xmm_count = if arch == Arch::X86_64 { 16 } else { 8 };
    state.vector = vectors(area, 160, xmm_count);
    true
}

/// Fills `state` from i386 NT_FPREGSET (`user_i387_struct`, FSAVE layout:
/// cwd, swd, twd, fip, fcs, foo, fos, 8 × 10-byte st). Used only when
/// there is no FXSAVE-format note; its tag word is the full 16-bit form.
pub fn apply_fsave(state: &mut FloatState, area: &[u8]) -> bool {
    if area.len() < 28 {
        return false;
    }
    state.fcw = area.u32_at(0).map(|v| v as u16);
    state.fsw = area.u32_at(4).map(|v| v as u16);
    state.ftw = area.u32_at(8).map(|v| v as u16);
    state.fip = area.u32_at(12).map(u64::from);
    state.fdp = area.u32_at(20).map(u64::from);
    true
}

/// aarch64 NT_FPREGSET (`user_fpsimd_state`): 32 × 128-bit V, fpsr, fpcr.
pub fn apply_fpsimd(state: &mut FloatState, area: &[u8]) -> bool {
    if area.len() < 520 {
        return false;
    }
    state.vector = vectors(area, 0, 32);
    state.fpsr = area.u32_at(512);
    state.fpcr = area.u32_at(516);
    true
}

/// One entry of NT_X86_XSAVE_LAYOUT (`struct x86_xfeat_component`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XfeatComponent {
    pub feature: u32,
    pub size: u32,
    pub offset: u32,
    pub flags: u32,
}

pub fn parse_xsave_layout(desc: &[u8]) -> Vec<XfeatComponent> {
    desc.chunks_exact(16)
        .take(64)
        .filter_map(|c| {
            Some(XfeatComponent {
                feature: c.u32_at(0)?,
                size: c.u32_at(4)?,
                offset: c.u32_at(8)?,
                flags: c.u32_at(12)?,
            })
        })
        .collect()
}

const XFEATURE_AVX: u32 = 2;
const XFEATURE_CET_USER: u32 = 11;
/// AVX's offset in the standard (non-compacted) format is architectural.
const AVX_STANDARD_OFFSET: u32 = 576;
const XCOMP_BV_COMPACTED: u64 = 1 << 63;

/// What the XSAVE header says and where the components were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XsaveSummary {
    pub xstate_bv: u64,
    pub xcomp_bv: u64,
    pub compacted: bool,
    /// Offset of the AVX (YMM_Hi128) component used, if located.
    pub avx_offset: Option<u32>,
    pub cet_offset: Option<u32>,
}

/// Fills `state` from NT_X86_XSTATE. Component offsets come from
/// NT_X86_XSAVE_LAYOUT when the kernel wrote one; without it only AVX in
/// the standard format is located (its offset is fixed), because other
/// offsets depend on the CPU (CPUID leaf 0xD) and, when compacted, on which
/// features were enabled.
pub fn apply_xsave(
    state: &mut FloatState,
    area: &[u8],
    arch: Arch,
    layout: &[XfeatComponent],
) -> Option<XsaveSummary> {
    apply_fxsave(state, area, arch);
    let xstate_bv = area.u64_at(512)?;
    let xcomp_bv = area.u64_at(520)?;
    let compacted = xcomp_bv & XCOMP_BV_COMPACTED != 0;
    state.xsave_features = Some(xstate_bv);
    let locate = |feature: u32, size: u32| -> Option<u32> {
        if let Some(c) = layout.iter().find(|c| c.feature == feature) {
            return (c.size >= size).then_some(c.offset);
        }
        (!compacted && feature == XFEATURE_AVX).then_some(AVX_STANDARD_OFFSET)
    };
    let ymm_count = if arch == Arch::X86_64 { 16 } else { 8 };
    let avx_offset = locate(XFEATURE_AVX, ymm_count as u32 * 16);
    if let Some(at) = avx_offset {
        let at = at as usize;
        if xstate_bv & (1 << XFEATURE_AVX) != 0 {
            state.vector_upper = vectors(area, at, ymm_count);
        } else if area.len() >= at + ymm_count * 16 {
            // XSTATE_BV bit clear: the component is in its initial state,
            // which for AVX means the upper halves are zero.
            state.vector_upper = vec![hex128(&[0; 16]); ymm_count];
        }
    }
    let cet_offset = locate(XFEATURE_CET_USER, 16);
    if let Some(at) = cet_offset {
        // struct cet_user_state { u64 user_cet; u64 user_ssp; }
        if xstate_bv & (1 << XFEATURE_CET_USER) != 0 {
            state.shadow_stack_pointer = area.u64_at(at as usize + 8);
        }
    }
    Some(XsaveSummary {
        xstate_bv,
        xcomp_bv,
        compacted,
        avx_offset,
        cet_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_union_by_code() {
        let mut d = vec![0u8; 128];
        d[0..4].copy_from_slice(&11i32.to_le_bytes());
        d[8..12].copy_from_slice(&1i32.to_le_bytes());
        d[16..24].copy_from_slice(&0x10u64.to_le_bytes());
        let s = parse_siginfo(&d, 8).unwrap();
        assert_eq!(s.address, Some(0x10));
        assert_eq!(s.sender_pid, None);
        d[8..12].copy_from_slice(&(-6i32).to_le_bytes());
        d[16..20].copy_from_slice(&77i32.to_le_bytes());
        d[20..24].copy_from_slice(&1000u32.to_le_bytes());
        let s = parse_siginfo(&d, 8).unwrap();
        assert_eq!(
            (s.sender_pid, s.sender_uid, s.address),
            (Some(77), Some(1000), None)
        );
        assert!(parse_siginfo(&d[..8], 8).is_none());
    }

    #[test]
    fn xsave_compacted_uses_the_layout_only() {
        let mut area = vec![0u8; 1200];
        area[512..520].copy_from_slice(&((1u64 << 2) | (1 << 11) | 3).to_le_bytes());
        area[520..528].copy_from_slice(&(XCOMP_BV_COMPACTED | (1 << 2) | (1 << 11)).to_le_bytes());
        area[700] = 0xab; // ymm0 upper, first byte, at the layout's offset
        area[1000 + 8..1000 + 16].copy_from_slice(&0x7fff_1234u64.to_le_bytes());
        let mut st = FloatState::default();
        let none = apply_xsave(&mut st, &area, Arch::X86_64, &[]).unwrap();
        assert!(none.compacted);
        assert_eq!(none.avx_offset, None);
        assert!(st.vector_upper.is_empty());
        let layout = [
            XfeatComponent {
                feature: 2,
                size: 256,
                offset: 700,
                flags: 0,
            },
            XfeatComponent {
                feature: 11,
                size: 16,
                offset: 1000,
                flags: 0,
            },
        ];
        let mut st = FloatState::default();
        let s = apply_xsave(&mut st, &area, Arch::X86_64, &layout).unwrap();
        assert_eq!(s.avx_offset, Some(700));
        assert_eq!(st.vector_upper.len(), 16);
        assert_eq!(st.vector_upper[0], "0x000000000000000000000000000000ab");
        assert_eq!(st.shadow_stack_pointer, Some(0x7fff_1234));
    }
}
