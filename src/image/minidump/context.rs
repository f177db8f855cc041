//! Thread CPU contexts: the register file, the x87/SSE state of the
//! FXSAVE image and the XSTATE features (CET shadow stack) that follow an
//! AMD64 CONTEXT.

use minidump::{MinidumpContext, MinidumpMiscInfo, MinidumpRawContext};

use crate::byte_reader::Fields;
use crate::model::{Arch, FloatState, RegisterSet};

/// The model's registers, and the float state, of a parsed CONTEXT.
pub(super) fn registers_of(c: &MinidumpContext, arch: Arch) -> (RegisterSet, Option<FloatState>) {
    let mut r = RegisterSet::new(arch);
    let mut float = None;
    match &c.raw {
        MinidumpRawContext::Amd64(x) => {
            for (name, v) in [
                ("rax", x.rax),
                ("rbx", x.rbx),
                ("rcx", x.rcx),
                ("rdx", x.rdx),
                ("rsi", x.rsi),
                ("rdi", x.rdi),
                ("rbp", x.rbp),
                ("rsp", x.rsp),
                ("r8", x.r8),
                ("r9", x.r9),
                ("r10", x.r10),
                ("r11", x.r11),
                ("r12", x.r12),
                ("r13", x.r13),
                ("r14", x.r14),
                ("r15", x.r15),
                ("rip", x.rip),
                ("rflags", u64::from(x.eflags)),
                ("cs", u64::from(x.cs)),
                ("ss", u64::from(x.ss)),
                ("ds", u64::from(x.ds)),
                ("es", u64::from(x.es)),
                ("fs", u64::from(x.fs)),
                ("gs", u64::from(x.gs)),
            ] {
                r.set_named(name, v);
            }
            float = Some(amd64_float(&x.float_save, x.mx_csr));
        }
        MinidumpRawContext::X86(x) => {
            for (name, v) in [
                ("eax", x.eax),
                ("ebx", x.ebx),
                ("ecx", x.ecx),
                ("edx", x.edx),
                ("esi", x.esi),
                ("edi", x.edi),
                ("ebp", x.ebp),
                ("esp", x.esp),
                ("eip", x.eip),
                ("eflags", x.eflags),
                ("cs", x.cs),
                ("ss", x.ss),
                ("ds", x.ds),
                ("es", x.es),
                ("fs", x.fs),
                ("gs", x.gs),
            ] {
                r.set_named(name, u64::from(v));
            }
            float = Some(FloatState {
                fcw: Some(x.float_save.control_word as u16),
                fsw: Some(x.float_save.status_word as u16),
                ftw: Some(x.float_save.tag_word as u16),
                ..Default::default()
            });
        }
        MinidumpRawContext::Arm64(x) => {
            set_arm64(&mut r, &x.iregs, x.sp, x.pc, x.cpsr);
            float = Some(FloatState {
                fpsr: Some(x.fpsr),
                fpcr: Some(x.fpcr),
                ..Default::default()
            });
        }
        MinidumpRawContext::OldArm64(x) => set_arm64(&mut r, &x.iregs, x.sp, x.pc, x.cpsr),
        MinidumpRawContext::Arm(x) => {
            for (i, v) in x.iregs.iter().enumerate() {
                r.set(i as u16, u64::from(*v));
            }
            r.set_named("cpsr", u64::from(x.cpsr));
        }
        _ => {}
    }
    (r, float)
}

/// x0-x28, fp and lr by number, then sp, pc and pstate: the same in both
/// of the crate's AArch64 context layouts.
fn set_arm64(r: &mut RegisterSet, iregs: &[u64], sp: u64, pc: u64, cpsr: u32) {
    for (i, v) in (0u16..).zip(iregs) {
        r.set(i, *v);
    }
    r.set_named("sp", sp);
    r.set_named("pc", pc);
    r.set_named("pstate", u64::from(cpsr));
}

/// The x87/SSE fields of the 512-byte FXSAVE image (XMM_SAVE_AREA32) the
/// crate leaves as raw bytes.
fn amd64_float(save: &[u8; 512], mx_csr: u32) -> FloatState {
    let save: &[u8] = save;
    // XMM0-15 from offset 160, 16 bytes each, printed as one 128-bit value.
    let vector = save
        .get(160..416)
        .unwrap_or_default()
        .chunks_exact(16)
        .map(|v| {
            let (lo, hi) = (v.u64_at(0).unwrap_or(0), v.u64_at(8).unwrap_or(0));
            format!("{hi:016x}{lo:016x}")
        })
        .collect();
    FloatState {
        fcw: save.u16_at(0),
        fsw: save.u16_at(2),
        ftw: save.u8_at(4).map(u16::from),
        fop: save.u16_at(6),
        fip: save.u32_at(8).map(u64::from),
        fdp: save.u32_at(16).map(u64::from),
        // The CONTEXT's own MxCsr is the authoritative copy.
        mxcsr: Some(mx_csr),
        mxcsr_mask: save.u32_at(28),
        vector,
        ..Default::default()
    }
}

/// XSTATE_BV and the CET shadow-stack pointer of an AMD64 context saved
/// with XSTATE. The CONTEXT is followed by a CONTEXT_EX (three chunks of
/// {i32 offset, u32 length}, relative to the CONTEXT_EX: all, legacy,
/// xstate); the xstate chunk starts at the XSAVE header, and the MiscInfo's
/// feature offsets count from the start of the (absent) 512-byte legacy
/// area before it. XSTATE_CET_U (feature 11) holds {U_CET, PL3_SSP}.
pub(super) fn add_xstate(
    data: &[u8],
    location: &minidump::format::MINIDUMP_LOCATION_DESCRIPTOR,
    misc: Option<&MinidumpMiscInfo>,
    float: &mut Option<FloatState>,
) {
    const CONTEXT_AMD64_SIZE: u64 = 1232;
    const XSTATE_CET_U: usize = 11;
    let start = u64::from(location.rva);
    let end = start.saturating_add(u64::from(location.data_size));
    let ex = start.saturating_add(CONTEXT_AMD64_SIZE);
    // The u64 at `at`, only inside the context's own location.
    let u64_in_context = |at: u64| -> Option<u64> {
        if at < start || at.saturating_add(8) > end {
            return None;
        }
        data.u64_at(usize::try_from(at).ok()?)
    };
    let Some(chunk) = ex.checked_add(16).and_then(u64_in_context) else {
        return;
    };
    // The chunk's first field is the i32 offset (the low half of the u64).
    let Ok(offset) = u64::try_from(chunk as u32 as i32) else {
        return;
    };
    let header = ex.saturating_add(offset);
    let Some(mask) = u64_in_context(header) else {
        return;
    };
    let state = float.get_or_insert_with(FloatState::default);
    state.xsave_features = Some(mask);
    if mask & (1 << XSTATE_CET_U) == 0 {
        return;
    }
    let Some(feature) = misc
        .and_then(|m| m.raw.xstate_data())
        .and_then(|x| x.features.get(XSTATE_CET_U).copied())
    else {
        return;
    };
    if feature.size < 16 {
        return;
    }
    let ssp_at = header
        .checked_add(u64::from(feature.offset))
        .and_then(|at| at.checked_sub(512))
        .and_then(|at| at.checked_add(8));
    if let Some(ssp) = ssp_at.and_then(u64_in_context) {
        state.shadow_stack_pointer = Some(ssp);
    }
}
