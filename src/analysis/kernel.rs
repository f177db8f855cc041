//! Kernel dumps: each CPU's context, stack and symbols, read from what the
//! dump holds (VMCOREINFO, kallsyms, ORC, preempt_count); nothing here
//! knows which container the dump came in.

use super::{level_name, register_values};
use crate::kernel::symbol_source::{KernelSymbolSource, KernelSymbolSources};
use crate::report::{FrameReport, Hex};
use crate::symbols::SymbolFrame;
use crate::unwind::WalkLimits;

/// A kernel dump's facts as the report shows them, and the findings of
/// its symbol search (a vmlinux or System.map of another build refused).
/// `process` is the dump's view: the kernel's address space and its
/// `vmlinux` module, which `symbolizer` names frames from when it finds
/// the dump's vmlinux; else a System.map, else the dump's own kallsyms.
pub(super) fn kernel_report(
    k: &crate::model::KernelInfo,
    process: &crate::model::ProcessView,
    symbolizer: &crate::symbols::Symbolizer<'_>,
    options: &super::InspectOptions,
) -> (
    crate::report::KernelReport,
    Vec<crate::finding::Finding>,
    Option<Result<crate::kernel::user_process::UserProcess, String>>,
) {
    let memory = &*process.memory;
    let info = k.vmcoreinfo.as_ref();
    let sources = KernelSymbolSources::new(process, symbolizer, &options.symbols, info);
    // The kernel's symbol list (kallsyms, else a System.map, else the
    // vmlinux's): a dump without one simply has no pc symbols.
    let symbols = sources.table();
    // The kernel's own types (BTF, in its memory): struct layouts for the
    // task and module lists.
    let btf = symbols
        .map(|s| crate::kernel::btf::from_memory(memory, s))
        .unwrap_or_else(|| Err("no kernel symbols (kallsyms) to find BTF with".into()));
    // A kernel built without CONFIG_KALLSYMS_ALL (Debian's arm64 ones)
    // names no data: its BTF, init_task, modules list and per-CPU areas
    // are searched for in its memory instead.
    let btf = match (btf, info) {
        (Err(e), Some(v)) if symbols.is_some() => crate::kernel::data_search::find_btf(memory, v)
            .map(|found| found.btf)
            .map_err(|search| format!("{e}; {search}")),
        (btf, _) => btf,
    };
    // A running kernel has no register notes: its CPUs are those online.
    let cpu_count = k
        .cpus
        .iter()
        .map(|c| c.index + 1)
        .max()
        .unwrap_or(0)
        .max(k.online_cpus.unwrap_or(0));
    let found = match (&symbols, info, &btf) {
        (Some(s), Some(v), Ok(b)) => {
            crate::kernel::data_search::FoundData::find(memory, s, v, b, cpu_count)
        }
        _ => crate::kernel::data_search::FoundData::default(),
    };
    let arch = crate::kernel::arch::KernelArch::of(k.cpus.first().map(|c| c.registers.arch));
    let modules = match (&btf, &symbols) {
        (Ok(btf), Some(s)) => crate::kernel::modules::ModuleLayout::from_btf(btf)
            .map(|layout| match &found.modules {
                Some(Ok(Some(head))) => {
                    crate::kernel::modules::read_modules_from(memory, *head, &layout)
                }
                Some(Ok(None)) => crate::kernel::modules::ModuleList::default(),
                Some(Err(e)) => crate::kernel::modules::ModuleList {
                    modules: Vec::new(),
                    problems: vec![format!("the module list: {e}")],
                },
                None => crate::kernel::modules::read_modules(memory, s, &layout),
            })
            .unwrap_or_else(|e| crate::kernel::modules::ModuleList {
                modules: Vec::new(),
                problems: vec![e],
            }),
        _ => crate::kernel::modules::ModuleList::default(),
    };
    // Each module's .ko, matched by the build-id in memory.
    let module_debug = crate::kernel::module_debug::ModuleDebugFiles::find(
        &modules.modules,
        &options.symbols,
        info.and_then(|v| v.osrelease()),
    );
    // What is kernel code, and its ORC tables: once for every CPU.
    let code = symbols
        .zip(info)
        .and_then(|(s, v)| crate::kernel::code_info::KernelCodeInfo::new(s, memory, v))
        .map(|c| {
            c.with_modules(&modules.modules)
                .with_vmlinux_orc(sources.vmlinux_orc())
        });
    let names = symbols.map(|_| Names {
        sources: &sources,
        modules: &modules.modules,
        module_debug: &module_debug,
    });
    // Each CPU's interrupt and exception stacks, and its running task's
    // own stack: which stack each frame is on, and where a walk crossed
    // from one to another.
    let task_layout = btf
        .as_ref()
        .map_err(String::clone)
        .and_then(crate::kernel::tasks::TaskLayout::from_btf);
    // Without `__per_cpu_offset`, each CPU's running task is its run
    // queue's `curr`.
    let current = match (&found.per_cpu_areas, &btf) {
        (Some(Ok(areas)), Ok(b)) => crate::kernel::data_search::current_tasks(memory, b, areas),
        _ => symbols
            .as_ref()
            .map(|s| crate::kernel::tasks::current_tasks(memory, s, btf.as_ref().ok(), cpu_count))
            .unwrap_or_default(),
    };
    let cpu_data = |cpu: u32| crate::kernel::arch::CpuData {
        memory,
        symbols,
        btf: btf.as_ref().ok(),
        per_cpu_area: match &found.per_cpu_areas {
            Some(Ok(areas)) => areas.get(cpu as usize).copied().flatten(),
            _ => None,
        },
    };
    let cpu_stacks: Vec<(crate::kernel::stacks::CpuStacks, Option<u64>)> = k
        .cpus
        .iter()
        .map(|c| {
            let stacks = arch.cpu_stacks(&cpu_data(c.index), c.index);
            let task_stack = current
                .get(c.index as usize)
                .copied()
                .flatten()
                .zip(task_layout.as_ref().ok())
                .and_then(|(address, layout)| {
                    crate::kernel::tasks::read_task(memory, layout, address)
                })
                .map(|t| t.stack);
            (stacks, task_stack)
        })
        .collect();
    let cpu_frames: Vec<Vec<FrameReport>> = k
        .cpus
        .iter()
        .zip(&cpu_stacks)
        .map(|(c, (stacks, task_stack))| match (&names, &code) {
            (Some(n), Some(code)) => {
                let mut frames = nmi_handler_frames(&c.registers, stacks, memory, n, code);
                let below = frames.last().map_or(0, |f| f.index + 1);
                frames.extend(
                    kernel_frames(&c.registers, memory, n, code, false)
                        .into_iter()
                        .map(|f| FrameReport {
                            index: f.index + below,
                            ..f
                        }),
                );
                label_stacks(&mut frames, stacks, *task_stack);
                frames
            }
            _ => Vec::new(),
        })
        .collect();
    let tasks = task_reports(
        k,
        memory,
        names.as_ref().zip(code.as_ref()),
        symbols,
        (task_layout, &current, found.init_task.clone()),
        &cpu_frames,
        options,
    );
    // Each CPU's context by its preempt_count.
    let context = |cpu: u32| {
        let running = current.get(cpu as usize).copied().flatten();
        arch.cpu_context(&cpu_data(cpu), cpu, running)
    };
    let task_on = |cpu: u32| {
        tasks
            .tasks
            .iter()
            .find(|t| t.running_on == Some(cpu))
            .map(|t| crate::report::CpuTask {
                pid: t.pid,
                comm: t.comm.clone(),
            })
    };
    let panic_cpu = decide_panic_cpu(k, memory, symbols, &tasks.tasks);
    // `--process PID`: that one process's view, built from the task list.
    let user_process = options.process.map(|pid| {
        user_process(
            k,
            process,
            symbols,
            btf.as_ref().map_err(String::clone),
            &tasks.list,
            pid,
        )
    });
    let (source, file, mut description) = sources.describe();
    let mut tasks_problems = tasks.problems;
    if k.unsupported.is_some() {
        // Nothing was searched for: say so, not that the search failed.
        let arch = k.cpus.first().map_or("these", |c| c.registers.arch.name());
        description = format!("none: not read for {arch} kernels");
        tasks_problems = vec![format!("not read for {arch} kernels")];
    }
    let report = crate::report::KernelReport {
        format: k.format,
        release: info.and_then(|v| v.osrelease()).map(str::to_string),
        build_id: info.and_then(|v| v.build_id()).map(str::to_string),
        kernel_offset: info.and_then(|v| v.kernel_offset()).map(Hex),
        crash_time: info.and_then(|v| v.crash_time()),
        dump_level: k.dump_level,
        incomplete: k.incomplete,
        panic_cpu,
        cpu_note_pids: k.cpu_note_pids,
        panic_cause: k.panic_cause.clone(),
        cpus: k
            .cpus
            .iter()
            .zip(cpu_frames)
            .zip(&cpu_stacks)
            .map(|((c, frames), (stacks, task_stack))| {
                let (preempt_count, level) = context(c.index).unzip();
                let task = task_on(c.index);
                let state = cpu_state(
                    Some(c.index) == panic_cpu,
                    &frames,
                    task.as_ref().map(|t| t.pid),
                );
                crate::report::CpuReport {
                    index: c.index,
                    stack: c
                        .registers
                        .sp()
                        .and_then(|sp| stacks.kind_of(sp, *task_stack))
                        .map(|kind| kind.name().to_string()),
                    task,
                    state,
                    prstatus_pid: c.prstatus_pid,
                    context: level.as_ref().map(level_name),
                    preempt_count,
                    pc_symbol: names.as_ref().and_then(|n| n.pc_symbol(c.registers.pc()?)),
                    frames,
                    registers: register_values(&c.registers),
                }
            })
            .collect(),
        modules: modules
            .modules
            .iter()
            .enumerate()
            .map(|(i, m)| crate::report::KernelModuleReport {
                name: m.name.clone(),
                build_id: m.build_id.clone(),
                debug_file: module_debug
                    .get(i)
                    .filter(|d| d.problem().is_none())
                    .map(|d| d.path.display().to_string()),
                address: Hex(m.address),
                text_base: Hex(m.text_base),
                text_size: m.text_size,
                size: m.size,
                symbols: m.functions.len(),
                orc_entries: m.orc.map(|(count, ..)| count),
            })
            .collect(),
        modules_problems: modules.problems.clone(),
        tasks: tasks.tasks,
        tasks_problems,
        types: tasks.types,
        symbols: crate::report::KernelSymbolsReport {
            source,
            file: file.map(|f| f.display().to_string()),
            description,
            modules: module_debug.describe(&modules.modules),
        },
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
        unsupported: k.unsupported.clone(),
    };
    let mut findings = sources.findings;
    findings.extend(module_debug.findings);
    (report, findings, user_process)
}

/// The view of the process `pid` belongs to (x86_64, aarch64): its threads' user
/// registers, its VMAs and its memory through its own page tables.
fn user_process(
    k: &crate::model::KernelInfo,
    process: &crate::model::ProcessView,
    symbols: Option<&crate::kernel::kallsyms::KernelSymbols>,
    btf: Result<&crate::kernel::btf::Btf, String>,
    tasks: &[crate::model::KernelTask],
    pid: i64,
) -> Result<crate::kernel::user_process::UserProcess, String> {
    use crate::kernel::user_process::{KernelProcesses, UserLayout, UserPaging};
    let arch = crate::kernel::arch::KernelArch::of(k.cpus.first().map(|c| c.registers.arch));
    if let Some(why) = arch.user_processes_unsupported() {
        return Err(why.into());
    }
    let info = k
        .vmcoreinfo
        .as_ref()
        .ok_or("the dump has no VMCOREINFO to walk page tables with")?;
    let (model_arch, paging) = match arch {
        crate::kernel::arch::KernelArch::X86_64 => (
            crate::model::Arch::X86_64,
            UserPaging::X86_64(crate::kernel::x86_64_paging(info)?),
        ),
        crate::kernel::arch::KernelArch::Aarch64 => (
            crate::model::Arch::Aarch64,
            UserPaging::Aarch64 {
                paging: crate::kernel::aarch64_paging(info)?,
                phys_offset: crate::kernel::number_u64(info, "PHYS_OFFSET").ok_or(
                    "VMCOREINFO has no NUMBER(PHYS_OFFSET) to find the linear map's physical base",
                )?,
            },
        ),
    };
    let layout = UserLayout::from_btf(btf?, model_arch)?;
    if tasks.is_empty() {
        return Err("the task list could not be read".into());
    }
    KernelProcesses {
        kernel: process.memory.clone(),
        symbols,
        layout: &layout,
        paging,
    }
    .process(tasks, pid)
}

/// What a CPU was doing when the dump was taken, as its stack shows it:
/// the one that panicked; one that kdump's crash NMI parked
/// (`crash_nmi_callback`), or the panic's stop IPI (`stop_this_cpu`, when
/// no crash kernel ran) — and, for those, whether the task they stopped
/// was the idle task. None when the stack says none of these.
fn cpu_state(panicked: bool, frames: &[FrameReport], task_pid: Option<i32>) -> Option<String> {
    let on_stack = |name: &str| frames.iter().any(|f| f.function.as_deref() == Some(name));
    let stopped = if panicked {
        return Some("panicked".into());
    } else if on_stack("crash_nmi_callback") {
        "stopped by the crash NMI"
    } else if on_stack("stop_this_cpu") {
        "stopped by the panic's stop IPI"
    } else {
        return None;
    };
    Some(match task_pid {
        Some(0) => format!("{stopped} while idle"),
        _ => stopped.to_string(),
    })
}

/// The CPU that panicked: the kernel's own `panic_cpu` (which `panic()`
/// and `crash_kexec()` set to the CPU that got there first), else the CPU
/// running the task that printed the panic message, else what the reader
/// matched from the register notes' pids (kdump's, never QEMU's vCPU ids).
fn decide_panic_cpu(
    k: &crate::model::KernelInfo,
    memory: &dyn crate::memory::Memory,
    symbols: Option<&crate::kernel::kallsyms::KernelSymbols>,
    tasks: &[crate::report::TaskReport],
) -> Option<u32> {
    let cpu_count = k.cpus.iter().map(|c| c.index + 1).max()?;
    // atomic_t, PANIC_CPU_INVALID (-1) until someone panics.
    let from_kernel = symbols
        .and_then(|s| s.address_of("panic_cpu"))
        .and_then(|address| memory.read_u32(address).ok())
        .filter(|&cpu| cpu < cpu_count);
    let printed_by = match crate::kernel::printk::panic_record(&k.log)?.caller {
        Some(crate::model::LogCaller::Task(pid)) => tasks
            .iter()
            .find(|t| i64::from(t.pid) == i64::from(pid) && t.running_on.is_some())
            .and_then(|t| t.running_on),
        Some(crate::model::LogCaller::Cpu(cpu)) => Some(cpu).filter(|&c| c < cpu_count),
        None => None,
    };
    from_kernel.or(printed_by).or(k.panic_cpu)
}

/// One CPU's kernel stack, walked from its saved registers by the one
/// stack walker over kernel text as kallsyms describes it, each frame
/// named by the best symbol source (with source lines and inlined
/// functions when that is the vmlinux's DWARF). Callers come from the
/// kernel's own ORC tables where they have a rule, else from the walker's
/// validated scan, each labelled; without readable ORC tables rbp is
/// withheld from an ORC-built kernel, whose rbp is no frame pointer.
/// `first_is_return_address`: the walk starts from a return address found
/// on a stack, named by its call as every caller is.
fn kernel_frames(
    registers: &crate::model::RegisterSet,
    memory: &dyn crate::memory::Memory,
    names: &Names<'_>,
    code: &crate::kernel::code_info::KernelCodeInfo<'_>,
    first_is_return_address: bool,
) -> Vec<FrameReport> {
    // A kernel stack is 16 KiB: 2048 words bound one scan.
    let limits = WalkLimits {
        max_frames: 64,
        // A walk from a return address found on a stack stands or falls by
        // its unwind tables alone (see nmi_handler_frames): no scanning.
        max_scan_words: if first_is_return_address { 0 } else { 2048 },
    };
    let mut start = registers.clone();
    if !code.keeps_frame_pointers() {
        start.clear(crate::model::RegisterSet::fp_number(registers.arch));
    }
    let limits = if registers.arch == crate::model::Arch::Aarch64 {
        // Frame 0 set up its own frame record: lr is no longer its caller.
        if let Some(pc) = registers.pc()
            && let Some(offset) = names
                .frames(pc, true)
                .1
                .last()
                .and_then(|f| f.function_offset)
            && crate::kernel::arm64::frame_record_in_place(code, pc - offset, pc)
        {
            start.clear(30);
        }
        // arm64 kernel code keeps frame records, exception entries
        // included: past the last one there is nothing to find.
        WalkLimits {
            max_scan_words: 0,
            ..limits
        }
    } else {
        limits
    };
    let mut frames = crate::unwind::walk(&start, memory, code, &limits);
    // Frame 0 shows the CPU's registers as saved, rbp included.
    if let Some(first) = frames.first_mut() {
        first.registers = registers.clone();
    }
    let mut out = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        // A return address names its call: the byte before it is looked
        // up and the offset is the return address's own, as crash shows it.
        let exact = frame.pc_is_exact && !(index == 0 && first_is_return_address);
        let (module, symbols, source) = names.frames(frame.pc, exact);
        let base = FrameReport {
            index,
            pc: Hex(frame.pc),
            module: Some(module.to_string()),
            module_offset: None,
            function: None,
            function_offset: None,
            file: None,
            line: None,
            column: None,
            inlined: false,
            found_by: frame.found_by,
            symbol_source: source,
            sp: frame.sp.map(Hex),
            stack: None,
            registers: register_values(&frame.registers),
        };
        if symbols.is_empty() {
            out.push(base);
            continue;
        }
        // One line per function, innermost inlined first.
        out.extend(symbols.into_iter().map(|s| FrameReport {
            function: s.function,
            function_offset: s.function_offset.map(Hex),
            file: s.file,
            line: s.line,
            column: s.column,
            inlined: s.inlined,
            ..base.clone()
        }));
    }
    out
}

/// The NMI handler's own frames on a CPU that an NMI stopped (kdump's crash
/// NMI, which parks every other CPU): such a CPU's note holds the registers
/// the NMI interrupted, from the `pt_regs` its entry pushed, so the walk
/// from them starts below the handler. The handler's frames are on the
/// CPU's NMI stack: each kernel return address there is tried as the
/// innermost frame, lowest first, and the first whose ORC walk arrives at
/// exactly the saved pc and sp (through the entry's `pt_regs`) is the
/// handler's chain, as `crash` lists it above `<NMI exception stack>`.
/// Stale return addresses left by earlier NMIs never arrive there. Empty
/// when the saved sp is on the NMI stack itself, or nothing matches.
fn nmi_handler_frames(
    registers: &crate::model::RegisterSet,
    stacks: &crate::kernel::stacks::CpuStacks,
    memory: &dyn crate::memory::Memory,
    names: &Names<'_>,
    code: &crate::kernel::code_info::KernelCodeInfo<'_>,
) -> Vec<FrameReport> {
    use crate::kernel::stacks::StackKind;
    use crate::unwind::CodeInfo;
    let (Some(pc), Some(sp)) = (registers.pc(), registers.sp()) else {
        return Vec::new();
    };
    let Some(&(start, end, _)) = stacks
        .ranges()
        .iter()
        .find(|(_, _, kind)| *kind == StackKind::Nmi)
    else {
        return Vec::new();
    };
    // An x86_64 NMI stack is one page; a bigger range is not one.
    if (start..end).contains(&sp) || end <= start || end - start > 64 << 10 {
        return Vec::new();
    }
    let mut bytes = vec![0u8; (end - start) as usize];
    if memory.read_exact(start, &mut bytes).is_err() {
        return Vec::new();
    }
    let sp_number = crate::model::RegisterSet::sp_number(registers.arch);
    let pc_number = crate::model::RegisterSet::pc_number(registers.arch);
    // A handful of return addresses lie on a real NMI stack; a damaged one
    // full of text addresses costs at most this many walks. The handler's
    // frames sit just below the entry's pt_regs at the top: the candidates
    // nearest the top are kept, then tried lowest first.
    const MAX_CANDIDATES: usize = 64;
    let candidates: Vec<(usize, u64)> = bytes
        .chunks_exact(8)
        .enumerate()
        .filter_map(|(slot, word)| {
            let value = u64::from_le_bytes(word.try_into().unwrap_or_default());
            code.is_code(value).then_some((slot, value))
        })
        .collect();
    let nearest_top = &candidates[candidates.len().saturating_sub(MAX_CANDIDATES)..];
    for &(slot, value) in nearest_top {
        let mut start_regs = crate::model::RegisterSet::new(registers.arch);
        start_regs.set(pc_number, value);
        start_regs.set(sp_number, start + slot as u64 * 8 + 8);
        let frames = kernel_frames(&start_regs, memory, names, code, true);
        // The walk must arrive at the saved registers through ORC alone
        // (the NMI entry's pt_regs), every caller on the way from ORC.
        let Some(arrival) = frames
            .iter()
            .find(|f| f.pc.0 == pc && f.sp.map(|s| s.0) == Some(sp))
            .map(|f| f.index)
        else {
            continue;
        };
        let by_orc = frames
            .iter()
            .filter(|f| f.index > 0 && f.index <= arrival)
            .all(|f| f.found_by == crate::unwind::FoundBy::Orc);
        if arrival == 0 || !by_orc {
            continue;
        }
        // kdump parks the CPU inside crash_nmi_callback, halting forever:
        // whatever it called had returned, and the return addresses below
        // it are stale.
        let first = frames
            .iter()
            .find(|f| f.function.as_deref() == Some("crash_nmi_callback"))
            .map_or(0, |f| f.index);
        let mut handler: Vec<FrameReport> = frames
            .into_iter()
            .filter(|f| f.index >= first && f.index < arrival)
            .collect();
        for frame in &mut handler {
            // The first was found by looking through the NMI stack, and
            // carries no saved registers.
            if frame.index == first {
                frame.found_by = crate::unwind::FoundBy::Scan;
                frame.registers = Vec::new();
            }
            frame.index -= first;
        }
        return handler;
    }
    Vec::new()
}

/// The task list with the stacks `options` ask for.
struct Tasks {
    tasks: Vec<crate::report::TaskReport>,
    /// The tasks as the kernel keeps them, for process views.
    list: Vec<crate::model::KernelTask>,
    problems: Vec<String>,
    types: Option<String>,
}

/// The task layout, each CPU's running task and, where kallsyms does not
/// name it, the init_task searched for.
type TaskSources<'a> = (
    Result<crate::kernel::tasks::TaskLayout, String>,
    &'a [Option<u64>],
    Option<Result<u64, String>>,
);

/// Every task, from the kernel's task list with struct layouts from its
/// BTF. A task running on a CPU shares that CPU's stack; a sleeping one is
/// unwound from the frame its last context switch saved.
fn task_reports(
    k: &crate::model::KernelInfo,
    memory: &dyn crate::memory::Memory,
    unwinder: Option<(&Names<'_>, &crate::kernel::code_info::KernelCodeInfo<'_>)>,
    symbols: Option<&crate::kernel::kallsyms::KernelSymbols>,
    (layout, current, init_task): TaskSources<'_>,
    cpu_frames: &[Vec<FrameReport>],
    options: &super::InspectOptions,
) -> Tasks {
    use crate::kernel::tasks;
    let Some(symbols) = symbols else {
        return Tasks {
            tasks: Vec::new(),
            list: Vec::new(),
            problems: vec!["no kernel symbols (kallsyms) to find the task list with".into()],
            types: None,
        };
    };
    let layout = match layout {
        Ok(l) => l,
        Err(e) => {
            return Tasks {
                tasks: Vec::new(),
                list: Vec::new(),
                problems: vec![format!("struct layouts unknown: {e}")],
                types: None,
            };
        }
    };
    let list = match init_task.map(|t| t.map(|t| tasks::read_tasks_from(memory, t, &layout))) {
        Some(list) => list,
        None => tasks::read_tasks(memory, symbols, &layout),
    };
    let list = match list {
        Ok(l) => l,
        Err(e) => {
            return Tasks {
                tasks: Vec::new(),
                list: Vec::new(),
                problems: vec![e],
                types: Some("btf".into()),
            };
        }
    };
    // Secondary CPUs' idle tasks (swapper/N) are on no list: add each
    // CPU's current task the list did not reach.
    let mut list = list;
    for address in current.iter().flatten() {
        if !list.tasks.iter().any(|t| t.address == *address)
            && let Some(task) = tasks::read_task(memory, &layout, *address)
        {
            list.tasks.push(task);
        }
    }
    let running_on = |address: u64| {
        current
            .iter()
            .position(|&c| c == Some(address))
            .map(|cpu| cpu as u32)
    };
    let all = list.tasks.clone();
    let reports = list
        .tasks
        .into_iter()
        .map(|task| {
            let cpu = running_on(task.address);
            let panicked = cpu.is_some() && cpu == k.panic_cpu;
            let wanted = options.all_tasks
                || options.task == Some(i64::from(task.pid))
                || (options.task.is_none() && cpu.is_some());
            let frames = wanted.then(|| match cpu {
                Some(cpu) => k
                    .cpus
                    .iter()
                    .position(|c| c.index == cpu)
                    .and_then(|i| cpu_frames.get(i).cloned())
                    .unwrap_or_default(),
                None => match (tasks::switch_registers(memory, &layout, &task), unwinder) {
                    (Some(registers), Some((names, code))) => {
                        let mut frames = kernel_frames(&registers, memory, names, code, false);
                        let stacks = crate::kernel::stacks::CpuStacks::default();
                        label_stacks(&mut frames, &stacks, Some(task.stack));
                        frames
                    }
                    _ => Vec::new(),
                },
            });
            crate::report::TaskReport {
                address: Hex(task.address),
                pid: task.pid,
                tgid: task.tgid,
                ppid: task.ppid,
                comm: task.comm,
                state: task.state,
                state_bits: task.state_bits,
                kernel_thread: task.kernel_thread,
                cpu: task.cpu,
                stack: Hex(task.stack),
                saved_sp: Hex(task.saved_sp),
                mm: Hex(task.mm),
                running_on: cpu,
                panicked,
                frames,
            }
        })
        .collect();
    Tasks {
        tasks: reports,
        list: all,
        problems: list.problems,
        types: Some("btf".into()),
    }
}

/// Names for kernel addresses: each loaded module's from its .ko's DWARF
/// when found, else its own symbols; the core kernel's from its best
/// symbol source.
struct Names<'a> {
    sources: &'a KernelSymbolSources<'a>,
    modules: &'a [crate::kernel::modules::KernelModule],
    module_debug: &'a crate::kernel::module_debug::ModuleDebugFiles,
}

impl Names<'_> {
    /// The module ("vmlinux" for the core kernel) and the frames naming
    /// `pc` (a return address when not `pc_is_exact`: its call is looked
    /// up, the offset is the return address's), innermost inlined first,
    /// with what named them.
    fn frames(
        &self,
        pc: u64,
        pc_is_exact: bool,
    ) -> (&str, Vec<SymbolFrame>, Option<KernelSymbolSource>) {
        let adjust = u64::from(!pc_is_exact);
        let at = pc.saturating_sub(adjust);
        if let Some((index, module)) = self
            .modules
            .iter()
            .enumerate()
            .find(|(_, m)| m.contains(at))
        {
            if let Some(mut frames) = self.module_debug.frames(index, module, at) {
                for f in &mut frames {
                    f.function_offset = f.function_offset.map(|o| o + adjust);
                }
                return (
                    module.name.as_str(),
                    frames,
                    Some(KernelSymbolSource::ModuleKo),
                );
            }
            // Without its .ko a module's symbols are its own kallsyms.
            let frames: Vec<SymbolFrame> = module
                .lookup(at)
                .map(|(name, offset)| SymbolFrame {
                    function: Some(name.to_string()),
                    function_offset: Some(offset + adjust),
                    ..SymbolFrame::default()
                })
                .into_iter()
                .collect();
            let source = (!frames.is_empty()).then_some(KernelSymbolSource::Kallsyms);
            return (module.name.as_str(), frames, source);
        }
        let (frames, source) = self.sources.frames(pc, pc_is_exact);
        ("vmlinux", frames, source)
    }

    /// `function+0xoffset` (`[module]` after a module's) of the function
    /// holding `pc`; the bare function in a split-off part.
    fn pc_symbol(&self, pc: u64) -> Option<String> {
        let (module, frames, _) = self.frames(pc, true);
        let outer = frames.last()?;
        let name = outer.function.as_deref()?;
        let offset = outer
            .function_offset
            .map(|o| format!("+{o:#x}"))
            .unwrap_or_default();
        Some(match module {
            "vmlinux" => format!("{name}{offset}"),
            module => format!("{name}{offset} [{module}]"),
        })
    }
}

/// Names the stack each frame's sp lies on (task, irq, nmi, …).
fn label_stacks(
    frames: &mut [FrameReport],
    stacks: &crate::kernel::stacks::CpuStacks,
    task_stack: Option<u64>,
) {
    for frame in frames {
        frame.stack = frame
            .sp
            .and_then(|sp| stacks.kind_of(sp.0, task_stack))
            .map(|kind| kind.name().to_string());
    }
}

/// The report of a kernel dump's user process (`--process PID`), as any
/// other process's, with what could not be read as findings.
pub(super) fn user_process_report(
    found: Result<crate::kernel::user_process::UserProcess, String>,
    k: &crate::model::KernelInfo,
    options: &super::InspectOptions,
    limits: &WalkLimits,
    bar: &crate::progress::Step,
    cache: &crate::symbols::SymbolCache,
) -> (
    Option<crate::report::ProcessReport>,
    Vec<crate::finding::Finding>,
) {
    use crate::finding::{self, Finding};
    let pid = options.process.unwrap_or_default();
    let user = match found {
        Ok(user) => user,
        Err(why) => {
            let finding = Finding::new(
                &finding::KERNEL_MEMORY_READABLE,
                format!("process {pid} cannot be shown: {why}"),
            );
            return (None, vec![finding]);
        }
    };
    let mut findings: Vec<Finding> = user
        .problems
        .iter()
        .map(|p| {
            Finding::new(
                &finding::KERNEL_MEMORY_READABLE,
                format!("process {}: {p}", user.tgid),
            )
        })
        .collect();
    if let Some(level) = k.dump_level.filter(|l| l & 8 != 0) {
        findings.push(Finding::new(
            &finding::DUMP_LEVEL_EXCLUDED,
            format!(
                "dump level {level} excluded user pages: process {}'s stacks, heap and data are \
                 not in the dump, so its threads show their user registers but no callers; its \
                 mappings and page tables are there",
                user.tgid
            ),
        ));
    }
    let mut report = super::process_report(&user.view, options, limits, bar, cache);
    report.annotations = [
        ("mm", user.mm),
        ("pgd", user.pgd),
        ("pgd_physical", user.pgd_physical),
    ]
    .iter()
    .map(|(key, value)| crate::report::Annotation {
        key: (*key).to_string(),
        value: format!("{value:#x}"),
    })
    .collect();
    (Some(report), findings)
}
