//! Kernel dumps: each CPU's context, stack and symbols, read from what the
//! dump holds (VMCOREINFO, kallsyms, ORC, preempt_count); nothing here
//! knows which container the dump came in.

use super::{level_name, register_values};
use crate::report::{FrameReport, Hex};
use crate::unwind::WalkLimits;

/// A kernel dump's facts as the report shows them; `memory` is the
/// kernel's address space, where its own symbol table (kallsyms) names
/// each CPU's pc when there is nothing else to name it with.
pub(super) fn kernel_report(
    k: &crate::model::KernelInfo,
    memory: &dyn crate::memory::Memory,
) -> crate::report::KernelReport {
    let info = k.vmcoreinfo.as_ref();
    // A dump without usable tables simply has no pc symbols.
    let symbols =
        info.and_then(|v| crate::kernel::kallsyms::KernelSymbols::from_memory(memory, v).ok());
    // Each CPU's context by its preempt_count (a per-CPU variable named by
    // kallsyms).
    let context = |cpu: u32| crate::kernel::context::cpu_context(memory, symbols.as_ref()?, cpu);
    // What is kernel code, and its ORC tables: once for every CPU.
    let code = symbols
        .as_ref()
        .zip(info)
        .and_then(|(s, v)| crate::kernel::code_info::KernelCodeInfo::new(s, memory, v));
    crate::report::KernelReport {
        format: k.format,
        release: info.and_then(|v| v.osrelease()).map(str::to_string),
        build_id: info.and_then(|v| v.build_id()).map(str::to_string),
        kernel_offset: info.and_then(|v| v.kernel_offset()).map(Hex),
        crash_time: info.and_then(|v| v.crash_time()),
        dump_level: k.dump_level,
        incomplete: k.incomplete,
        panic_cpu: k.panic_cpu,
        cpus: k
            .cpus
            .iter()
            .map(|c| {
                let (preempt_count, level) = context(c.index).unzip();
                crate::report::CpuReport {
                    index: c.index,
                    prstatus_pid: c.prstatus_pid,
                    context: level.as_ref().map(level_name),
                    preempt_count,
                    pc_symbol: symbols.as_ref().and_then(|s| {
                        let pc = c.registers.pc()?;
                        let (name, offset) = s.lookup(pc)?;
                        Some(format!("{name}+{offset:#x}"))
                    }),
                    frames: match (&symbols, &code) {
                        (Some(s), Some(code)) => kernel_frames(&c.registers, memory, s, code),
                        _ => Vec::new(),
                    },
                    registers: register_values(&c.registers),
                }
            })
            .collect(),
        log: k.log.clone(),
        vmcoreinfo: info
            .map(|v| {
                v.entries
                    .iter()
                    .map(|(key, value)| crate::report::Annotation {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// One CPU's kernel stack, walked from its saved registers by the one
/// stack walker over kernel text as kallsyms describes it, each frame
/// named `vmlinux` with its kallsyms function. Callers come from the
/// kernel's own ORC tables where they have a rule, else from the walker's
/// validated scan, each labelled; without readable ORC tables rbp is
/// withheld from an ORC-built kernel, whose rbp is no frame pointer.
fn kernel_frames(
    registers: &crate::model::RegisterSet,
    memory: &dyn crate::memory::Memory,
    symbols: &crate::kernel::kallsyms::KernelSymbols,
    code: &crate::kernel::code_info::KernelCodeInfo<'_>,
) -> Vec<FrameReport> {
    // A kernel stack is 16 KiB: 2048 words bound one scan.
    let limits = WalkLimits {
        max_frames: 64,
        max_scan_words: 2048,
    };
    let mut start = registers.clone();
    if !code.keeps_frame_pointers() {
        start.clear(crate::model::RegisterSet::fp_number(registers.arch));
    }
    let mut frames = crate::unwind::walk(&start, memory, code, &limits);
    // Frame 0 shows the CPU's registers as saved, rbp included.
    if let Some(first) = frames.first_mut() {
        first.registers = registers.clone();
    }
    frames
        .iter()
        .enumerate()
        .map(|(index, frame)| {
            // A return address names its call: look up the byte before it
            // and report the offset of the return address itself, as crash does.
            let adjust = u64::from(!frame.pc_is_exact);
            let symbol = symbols.lookup(frame.pc.saturating_sub(adjust));
            FrameReport {
                index,
                pc: Hex(frame.pc),
                module: Some("vmlinux".to_string()),
                module_offset: None,
                function: symbol.map(|(name, _)| name.to_string()),
                function_offset: symbol.map(|(_, offset)| Hex(offset + adjust)),
                file: None,
                line: None,
                column: None,
                inlined: false,
                found_by: frame.found_by,
                sp: frame.sp.map(Hex),
                registers: register_values(&frame.registers),
            }
        })
        .collect()
}

