//! Crash analysis: from the common model to a plain-data [`InspectReport`].
//!
//! Symbolization, unwinding, fault decoding and disassembly happen here,
//! for every format alike; nothing in this module knows file formats.

pub mod disasm;
pub mod kernel;
pub mod mmap;
pub mod ntstatus;
pub mod region_name;
pub mod signals;
pub mod stacks;
pub mod windows;

use crate::model::{Capture, FaultCode, Image, InterruptLevel, ProcessView, Sharing, Thread};
use crate::progress::Progress;
use crate::report::{
    CrashSummary, FrameReport, Hex, INSPECT_SCHEMA, ImageSummary, InspectReport, ModuleReport,
    ProcessReport, RegionReport, RegisterValue, ThreadReport,
};
use crate::symbols::{SymbolCache, SymbolConfig, Symbolizer};
use crate::unwind::{self, WalkLimits};

/// What `inspect` should produce.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub symbols: SymbolConfig,
    /// Only this thread.
    pub thread: Option<u64>,
    /// Kernel dumps: unwind this task (by pid) as well.
    pub task: Option<i64>,
    /// Kernel dumps: unwind every task, not only running and crashing ones.
    pub all_tasks: bool,
    /// Kernel dumps: show the user process this pid belongs to (its
    /// threads' user stacks, modules, regions) as one more process.
    pub process: Option<i64>,
    /// Include the memory map.
    pub regions: bool,
    /// Instructions of context around the faulting one.
    pub disasm_context: usize,
    pub limits: Option<WalkLimits>,
    /// Keep the scanned frames below a stack's last trusted frame.
    pub scan_all: bool,
    pub progress: Option<Progress>,
}

/// The one-screen description of the file.
pub fn summarize(image: &Image) -> ImageSummary {
    let process = image.process.facts.as_ref();
    ImageSummary {
        path: image.path.display().to_string(),
        format: serde_json::to_value(image.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        format_name: image.format.name().to_string(),
        compression: image.compression.map(|c| c.name().to_string()),
        size: image.size,
        writer: image.producer.describe(),
        os: image.target.os.name().to_string(),
        os_version: image.target.os_version.clone(),
        arch: image.target.arch.name().to_string(),
        kernel: image.target.kernel,
        cpu: image.target.cpu.clone(),
        cpu_count: image.target.cpu_count,
        pid: process.and_then(|p| p.pid),
        ppid: process.and_then(|p| p.ppid),
        uid: process.and_then(|p| p.uid),
        gid: process.and_then(|p| p.gid),
        process_name: process.and_then(|p| p.name.clone()),
        args: process.and_then(|p| p.args.clone()),
        executable: process.and_then(|p| p.executable.clone()),
        timestamp: image.timestamp,
        thread_count: image.process.threads.len(),
        archive: image
            .details
            .container
            .as_ref()
            .and_then(|c| c.archive.clone()),
    }
}

/// Builds the full post-mortem report: the image's process, then every
/// other process of a saved tree, each unwound in its own address space.
pub fn inspect(image: &Image, options: &InspectOptions) -> InspectReport {
    let limits = options.limits.unwrap_or_default();
    let selected = |p: &ProcessView| {
        p.threads
            .iter()
            .filter(|t| options.thread.is_none_or(|tid| t.tid == tid))
            .count() as u64
    };
    let bar = options
        .progress
        .clone()
        .unwrap_or_default()
        .steps(image.processes().map(selected).sum(), "unwinding threads");

    // One cache for the tree: its processes share most modules.
    let cache = SymbolCache::default();
    let symbolizer = Symbolizer::with_cache(&image.process, &options.symbols, &cache);
    let crashing_tid = image.fault.as_ref().and_then(|f| f.thread);
    let mut threads = thread_reports(
        &image.process,
        crashing_tid,
        &symbolizer,
        options,
        &limits,
        &bar,
    );
    let mut crash = crash_summary(image, &symbolizer, options.disasm_context);
    let (kernel, mut kernel_findings, user_process) = match &image.details.kernel {
        Some(k) => {
            let (report, findings, user) =
                kernel::kernel_report(k, &image.process, &symbolizer, options);
            (Some(report), findings, user)
        }
        None => (None, Vec::new(), None),
    };
    // A kernel panic happened in the context its CPU was in.
    if let (Some(c), Some(k)) = (crash.as_mut(), kernel.as_ref())
        && c.interrupt_level.is_none()
        && let Some(cpu) = k.panic_cpu
    {
        c.interrupt_level = k
            .cpus
            .iter()
            .find(|x| x.index == cpu)
            .and_then(|x| x.context.clone());
    }
    let modules = module_reports(&image.process, &symbolizer);
    drop(symbolizer);
    add_symbol_notes(&mut threads, &modules);
    if image.details.kernel.is_none() {
        warn_of_unused_files(&options.symbols, &modules);
    }
    let mut other_processes: Vec<ProcessReport> = image
        .other_processes
        .iter()
        .map(|p| process_report(p, options, &limits, &bar, &cache))
        .collect();
    // A kernel dump's user process, asked for by pid.
    if let (Some(found), Some(k)) = (user_process, &image.details.kernel) {
        let (report, findings) =
            kernel::user_process_report(found, k, options, &limits, &bar, &cache);
        other_processes.extend(report);
        kernel_findings.extend(findings);
    }
    bar.finish_and_clear();

    InspectReport {
        schema: INSPECT_SCHEMA,
        image: summarize(image),
        crash,
        threads,
        modules,
        regions: options.regions.then(|| region_reports(&image.process)),
        notes: image.details.notes.clone(),
        auxv: image.process.auxv.clone(),
        streams: image.details.streams.clone(),
        annotations: annotations(&image.details.annotations),
        texts: image
            .details
            .texts
            .iter()
            .map(|(name, text)| crate::report::EmbeddedText {
                name: name.clone(),
                text: text.clone(),
            })
            .collect(),
        processes: image.details.processes.clone(),
        image_files: image.details.files.clone(),
        container: image.details.container.clone(),
        checkpoint: image.process.checkpoint.clone(),
        kernel,
        findings: image
            .findings
            .iter()
            .cloned()
            .chain(kernel_findings)
            .collect(),
        other_processes,
    }
}

/// Stacks of a process's threads (the `--thread` one only, if given),
/// crashing thread first, then the rest in image order.
fn thread_reports(
    process: &ProcessView,
    crashing_tid: Option<u64>,
    symbolizer: &Symbolizer<'_>,
    options: &InspectOptions,
    limits: &WalkLimits,
    bar: &crate::progress::Step,
) -> Vec<ThreadReport> {
    let mut order: Vec<&Thread> = process.threads.iter().collect();
    order.sort_by_key(|t| Some(t.tid) != crashing_tid);
    if let Some(tid) = options.thread {
        order.retain(|t| t.tid == tid);
    }
    order
        .iter()
        .map(|thread| {
            let report = thread_report(
                process,
                symbolizer,
                thread,
                crashing_tid,
                limits,
                options.scan_all,
            );
            bar.inc(1);
            report
        })
        .collect()
}

/// The modules in address order (as minidump-stackwalk, gdb's `info
/// sharedlibrary` and WinDbg's `lm` list them), whatever order the image
/// recorded them in.
fn module_reports(process: &ProcessView, symbolizer: &Symbolizer<'_>) -> Vec<ModuleReport> {
    let statuses = symbolizer.modules();
    let mut order: Vec<usize> = (0..process.modules.len()).collect();
    order.sort_by_key(|&i| process.modules[i].base);
    order
        .into_iter()
        .map(|i| (i, &process.modules[i]))
        .map(|(i, m)| {
            let status = statuses.iter().find(|s| s.module == i);
            ModuleReport {
                name: m.name.clone(),
                path: m.path.clone(),
                base: Hex(m.base),
                end: Hex(m.base.saturating_add(m.size)),
                size: m.size,
                build_id: m.build_id.clone(),
                main: m.is_main,
                symbols: status
                    .map(|s| s.kind)
                    .unwrap_or(crate::symbols::SymbolKind::None),
                binary: status.and_then(|s| s.binary.as_ref().map(|p| p.display().to_string())),
                debug_file: status
                    .and_then(|s| s.debug_file.as_ref().map(|p| p.display().to_string())),
                problem: status.and_then(|s| s.problem.clone()),
                hint: status.and_then(|s| s.hint.clone()),
                pe: m.pe.clone(),
            }
        })
        .collect()
}

/// Under the first stack each module without symbols is on, the line that
/// says where its symbols were looked for and what to pass.
fn add_symbol_notes(threads: &mut [ThreadReport], modules: &[ModuleReport]) {
    let mut told = std::collections::HashSet::new();
    for thread in threads {
        for frame in &thread.frames {
            let (Some(name), Some(offset)) = (&frame.module, frame.module_offset) else {
                continue;
            };
            let base = frame.pc.0.wrapping_sub(offset.0);
            let Some((index, hint)) = modules
                .iter()
                .enumerate()
                .find(|(_, m)| m.base.0 == base && &m.name == name)
                .and_then(|(i, m)| Some((i, m.hint.as_ref()?)))
            else {
                continue;
            };
            if told.insert(index) {
                thread.symbol_notes.push(hint.clone());
            }
        }
    }
}

/// A file named with `--symbols FILE` or `-e FILE` that no module of the
/// image took is said once: it is another build, or no symbol file.
fn warn_of_unused_files(config: &SymbolConfig, modules: &[ModuleReport]) {
    let used: std::collections::HashSet<&str> = modules
        .iter()
        .flat_map(|m| [m.binary.as_deref(), m.debug_file.as_deref()])
        .flatten()
        .collect();
    for file in config.dirs.iter().filter(|d| d.is_file()) {
        let name = file.display().to_string();
        if !used.contains(name.as_str()) {
            config.warn(format!(
                "--symbols {name}: no module of the image is this file's build \
                 (checked by build-id, PDB or .sym id, or PE timestamp and size); it is not used"
            ));
        }
    }
}

fn annotations(annotations: &[(String, String)]) -> Vec<crate::report::Annotation> {
    annotations
        .iter()
        .map(|(key, value)| crate::report::Annotation {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// One more process of a saved tree, with its own symbolizer (its modules
/// may sit at other addresses) over the tree's shared cache.
fn process_report(
    view: &ProcessView,
    options: &InspectOptions,
    limits: &WalkLimits,
    bar: &crate::progress::Step,
    cache: &SymbolCache,
) -> ProcessReport {
    let symbolizer = Symbolizer::with_cache(view, &options.symbols, cache);
    let process = view.facts.as_ref();
    let mut threads = thread_reports(view, None, &symbolizer, options, limits, bar);
    let modules = module_reports(view, &symbolizer);
    add_symbol_notes(&mut threads, &modules);
    ProcessReport {
        pid: process.and_then(|p| p.pid),
        ppid: process.and_then(|p| p.ppid),
        name: process.and_then(|p| p.name.clone()),
        state: process.and_then(|p| p.state),
        args: process.and_then(|p| p.args.clone()),
        executable: process.and_then(|p| p.executable.clone()),
        thread_count: view.threads.len(),
        // The fault belongs to the main process.
        threads,
        modules,
        regions: options.regions.then(|| region_reports(view)),
        open_files: view
            .checkpoint
            .as_ref()
            .map(|c| c.open_files.clone())
            .unwrap_or_default(),
        // A task's facts are typed (`task`); key/value annotations are the
        // image's.
        annotations: Vec::new(),
        task: view.checkpoint.as_ref().map(|c| c.task.clone()),
    }
}

fn thread_report(
    process: &ProcessView,
    symbolizer: &Symbolizer<'_>,
    thread: &Thread,
    crashing_tid: Option<u64>,
    limits: &WalkLimits,
    scan_all: bool,
) -> ThreadReport {
    let mut raw = unwind::walk(&thread.registers, &*process.memory, symbolizer, limits);
    let mut looked_up: Vec<_> = raw
        .iter()
        .map(|frame| {
            // A return address points after the call; look up the call itself.
            let adjust = if frame.pc_is_exact { 0 } else { 1 };
            let symbols = symbolizer.lookup(frame.pc.saturating_sub(adjust));
            // A return address at the very start of a function is a signal
            // trampoline (__restore_rt): the caller "called" nothing, so the
            // byte before belongs to no function. Look the pc itself up.
            if adjust == 1 && symbols.iter().all(|s| s.function.is_none()) {
                let exact = symbolizer.lookup(frame.pc);
                if exact.iter().any(|s| s.function.is_some()) {
                    return (exact, 0);
                }
            }
            (symbols, adjust)
        })
        .collect();
    let outermost = stacks::outermost_frame(&raw, |i| {
        looked_up
            .get(i)
            .and_then(|(symbols, _)| symbols.iter().rev().find_map(|s| s.function.as_deref()))
    });
    let mut keep = outermost.map_or(raw.len(), |i| i + 1);
    let mut dropped_scanned_frames = 0;
    if !scan_all {
        let trusted = stacks::trusted_len(&raw[..keep]);
        dropped_scanned_frames = keep - trusted;
        keep = trusted;
    }
    raw.truncate(keep);
    looked_up.truncate(keep);
    let mut frames = Vec::new();
    for (index, (frame, (symbols, adjust))) in raw.iter().zip(looked_up).enumerate() {
        let module = process.module_at(frame.pc);
        let base = FrameReport {
            index,
            pc: Hex(frame.pc),
            module: module.map(|m| m.name.clone()),
            module_offset: module.map(|m| Hex(frame.pc - m.base)),
            function: None,
            function_offset: None,
            file: None,
            line: None,
            column: None,
            inlined: false,
            found_by: frame.found_by,
            symbol_source: None,
            sp: frame.sp.map(Hex),
            stack: None,
            registers: register_values(&frame.registers),
        };
        if symbols.is_empty() {
            frames.push(base);
            continue;
        }
        for sym in symbols {
            frames.push(FrameReport {
                function: sym.function.clone(),
                function_offset: sym.function_offset.map(|o| Hex(o + adjust)),
                file: sym.file.clone(),
                line: sym.line,
                column: sym.column,
                inlined: sym.inlined,
                ..base.clone()
            });
        }
    }
    ThreadReport {
        tid: thread.tid,
        name: thread.name.clone(),
        crashed: Some(thread.tid) == crashing_tid,
        signal: thread.signal,
        frames,
        dropped_scanned_frames,
        symbol_notes: Vec::new(),
        registers: register_values(&thread.registers),
        float: thread.float.clone(),
    }
}

fn crash_summary(
    image: &Image,
    symbolizer: &Symbolizer<'_>,
    context: usize,
) -> Option<CrashSummary> {
    let fault = image.fault.as_ref()?;
    let thread = fault.thread.and_then(|t| image.process.thread(t));
    let pc = thread.and_then(|t| t.registers.pc());
    let arch = image.target.arch;

    let (kind, code, name, subcode, subcode_name, mut description, sender_pid, sender_uid) =
        match &fault.code {
            FaultCode::Signal {
                signo,
                code,
                sender_pid,
                sender_uid,
                ..
            } => {
                let (sub_name, sub_desc) = match signals::code_name(*signo, *code) {
                    Some((n, d)) => (Some(n.to_string()), Some(d)),
                    None => (None, None),
                };
                let mut desc = signals::signal_description(*signo).to_string();
                if let Some(d) = sub_desc {
                    desc = format!("{desc}: {d}");
                }
                (
                    "signal",
                    *signo as u64,
                    signals::signal_name(*signo),
                    Some(*code as i64),
                    sub_name,
                    desc,
                    *sender_pid,
                    *sender_uid,
                )
            }
            FaultCode::Exception { code, .. } => {
                let named = if image.target.os == crate::model::Os::MacOs {
                    ntstatus::mach_exception_name(*code)
                } else {
                    ntstatus::exception_name(*code)
                };
                let (name, mut desc) = match named {
                    Some((n, d)) => (n.to_string(), d.to_string()),
                    None => (
                        format!("{code:#010x}"),
                        "application-defined exception".to_string(),
                    ),
                };
                // STATUS_STACK_BUFFER_OVERRUN carries the FAST_FAIL_* code.
                let (sub, sub_name) = match (*code, fault.parameters.first()) {
                    (0xC000_0409, Some(p)) => (
                        Some(*p as i64),
                        ntstatus::fast_fail_name(*p).map(str::to_string),
                    ),
                    _ => (None, None),
                };
                if let (0xC000_0006, Some(status)) = (*code, fault.parameters.get(2)) {
                    desc.push_str(&format!(" (I/O status {status:#010x})"));
                }
                (
                    "exception",
                    *code as u64,
                    name,
                    sub,
                    sub_name,
                    desc,
                    None,
                    None,
                )
            }
            FaultCode::Bugcheck { code } => (
                "bugcheck",
                *code as u64,
                format!("{code:#x}"),
                None,
                None,
                "bugcheck".to_string(),
                None,
                None,
            ),
            FaultCode::Panic { message } => (
                "panic",
                0,
                "panic".to_string(),
                None,
                None,
                message.clone(),
                None,
                None,
            ),
        };

    // Read / write / execute: execute when the fault is at the pc itself,
    // else what the faulting instruction does with its memory operand.
    let is_memory_fault = matches!(
        fault.code,
        FaultCode::Signal { signo: 7 | 11, .. }
            | FaultCode::Exception {
                code: 0xC000_0005 | 0xC000_0006,
                ..
            }
    );
    // Windows says read / write / execute in parameter 0.
    let windows_access = match fault.code {
        FaultCode::Exception {
            code: 0xC000_0005 | 0xC000_0006,
            ..
        } => fault
            .parameters
            .first()
            .and_then(|p| ntstatus::access_kind(*p)),
        _ => None,
    };
    let mut access = match (fault.address, pc) {
        _ if !is_memory_fault => None,
        _ if windows_access.is_some() => windows_access.map(str::to_string),
        (Some(a), Some(p)) if a == p => Some("execute".to_string()),
        (_, Some(p)) => disasm::memory_access(arch, symbolizer, p).map(str::to_string),
        _ => None,
    };

    // Windows reports a non-canonical access as 0xffffffffffffffff; the
    // faulting instruction's operand says which address it really was.
    let mut fault_address = fault.address;
    if windows_access.is_some()
        && fault.address == Some(u64::MAX)
        && let (Some(pc), Some(t)) = (pc, thread)
        && let Some(real) = disasm::memory_operand_address(arch, symbolizer, pc, &t.registers)
    {
        fault_address = Some(real);
        // #GP does not tell read from write; the instruction does.
        access = disasm::memory_access(arch, symbolizer, pc).map(str::to_string);
    }
    if is_memory_fault && let Some(addr) = fault_address {
        use crate::memory::canonical::{X86_64Canonical, x86_64_canonical};
        let canonical = match arch {
            crate::model::Arch::X86_64 => x86_64_canonical(addr),
            _ => X86_64Canonical::Yes,
        };
        if canonical == X86_64Canonical::No {
            description.push_str(&format!(
                " — address {addr:#x} is non-canonical (a wild or poisoned pointer)"
            ));
        } else if canonical == X86_64Canonical::OnlyWith5LevelPaging {
            // Which paging mode the machine used is not recorded.
            description.push_str(&format!(
                " — address {addr:#x} is non-canonical with 4-level paging (48-bit \
                 addresses): a wild or poisoned pointer, unless the machine used \
                 5-level paging"
            ));
        } else if addr < 4096 {
            description.push_str(&format!(
                " — address {addr:#x} is in the first page: a null pointer dereference"
            ));
        } else if let Some(hint) = stack_overflow_hint(&image.process, thread, addr) {
            description.push_str(hint);
        }
    }

    let instructions = match pc {
        Some(pc) => {
            let start = symbolizer
                .lookup(pc)
                .last()
                .and_then(|f| f.function_offset.map(|o| pc - o));
            disasm::around(arch, symbolizer, pc, start, context)
        }
        None => Vec::new(),
    };

    Some(CrashSummary {
        kind: kind.to_string(),
        code,
        name,
        subcode,
        subcode_name,
        description,
        address: fault_address.map(Hex),
        access,
        thread: fault.thread,
        parameters: fault.parameters.iter().copied().map(Hex).collect(),
        sender_pid,
        sender_uid,
        interrupt_level: fault.interrupt_level.as_ref().map(level_name),
        instructions,
        reasons: crash_reasons(&image.details),
    })
}

/// The writer's own words on why the process crashed: a failed assertion
/// first, then Crashpad's exception annotations and the crash messages
/// of the modules' list annotations.
fn crash_reasons(details: &crate::model::FormatDetails) -> Vec<crate::report::Annotation> {
    let mut out: Vec<crate::report::Annotation> = details
        .assertion
        .iter()
        .map(|a| crate::report::Annotation {
            key: "assertion".into(),
            value: a.describe(),
        })
        .collect();
    for (key, value) in &details.annotations {
        // "module N: exceptionName", "module N list", or a process-wide key.
        let name = key.rsplit(": ").next().unwrap_or(key);
        let explains =
            matches!(name, "exceptionName" | "exceptionReason") || key.ends_with(" list");
        if explains && !value.trim().is_empty() {
            out.push(crate::report::Annotation {
                // Apple's "Application Specific Information".
                key: if key.ends_with(" list") {
                    "crash info".into()
                } else {
                    name.to_string()
                },
                value: value.clone(),
            });
        }
    }
    out
}

/// Registers as the report lists them, by name in display order.
fn register_values(registers: &crate::model::RegisterSet) -> Vec<RegisterValue> {
    registers
        .iter()
        .map(|(name, value)| RegisterValue {
            name: name.to_string(),
            value: Hex(value),
        })
        .collect()
}

/// "process", "softirq", "hardirq", "nmi" or "irql N".
fn level_name(level: &InterruptLevel) -> String {
    match level {
        InterruptLevel::Process => "process".to_string(),
        InterruptLevel::SoftIrq => "softirq".to_string(),
        InterruptLevel::HardIrq => "hardirq".to_string(),
        InterruptLevel::Nmi => "nmi".to_string(),
        InterruptLevel::Irql { level } => format!("irql {level}"),
    }
}

/// A fault just below the thread's stack pointer, in unmapped memory or a
/// guard page, is the signature of a stack overflow.
fn stack_overflow_hint(
    process: &ProcessView,
    thread: Option<&Thread>,
    addr: u64,
) -> Option<&'static str> {
    let sp = thread?.registers.sp()?;
    let near = addr <= sp.saturating_add(256) && sp.saturating_sub(addr) < 64 * 1024;
    let guard = process
        .region_at(addr)
        .is_none_or(|r| !r.protection.read && !r.protection.write);
    (near && guard)
        .then_some(" — the address is just below the stack pointer: likely a stack overflow")
}

fn region_reports(process: &ProcessView) -> Vec<RegionReport> {
    process
        .regions
        .iter()
        .map(|r| {
            let (capture, captured_bytes) = match r.capture {
                Capture::Full => ("full", r.size()),
                Capture::Absent => ("absent", 0),
                Capture::Partial { bytes } => ("partial", bytes),
            };
            RegionReport {
                start: Hex(r.start),
                end: Hex(r.end),
                size: r.size(),
                protection: r.protection.rwx(),
                sharing: match r.sharing {
                    Sharing::Private => "private",
                    Sharing::Shared => "shared",
                    Sharing::Unknown => "unknown",
                }
                .to_string(),
                file: r.file.as_ref().map(|f| f.path.clone()),
                file_offset: r.file.as_ref().map(|f| Hex(f.offset)),
                capture: capture.to_string(),
                captured_bytes,
                windows: r.windows.map(windows_region),
                linux: r.linux.map(|l| crate::report::LinuxRegionReport {
                    flags: mmap::mmap_flags(l.mmap_flags),
                    status: l.vma_status.map(mmap::vma_status),
                    madvise: l.madvise.map(Hex),
                    label: mmap::special_mapping(&l)
                        .filter(|_| r.file.is_none())
                        .map(str::to_string),
                }),
                pages: process.checkpoint.as_ref().and_then(|c| {
                    c.vmas
                        .iter()
                        .find(|v| v.start == r.start && v.end == r.end)
                        .map(|v| crate::report::RegionPages {
                            total: v.pages,
                            counts: v.counts,
                        })
                }),
            }
        })
        .collect()
}

fn windows_region(w: crate::model::WindowsRegion) -> crate::report::WindowsRegionReport {
    crate::report::WindowsRegionReport {
        allocation_base: Hex(w.allocation_base),
        allocation_protection: windows::page_protection(w.allocation_protection),
        state: windows::memory_state(w.state).to_string(),
        protection: windows::page_protection(w.protection),
        kind: windows::memory_kind(w.kind).to_string(),
    }
}
