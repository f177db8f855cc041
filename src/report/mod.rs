//! Reports are plain data: analysis fills them, renderers print them, and
//! nothing here parses an image.
//!
//! Addresses are serialized as `"0x…"` strings because JSON numbers lose
//! precision above 2^53.

use serde::{Serialize, Serializer};

use crate::finding::{Finding, Severity};
use crate::model::{AuxvEntry, NoteRecord};
use crate::symbols::SymbolKind;
use crate::unwind::FoundBy;

/// Version of the JSON documents; bump on any incompatible change and
/// update `schema/*.schema.json`.
/// `ckdump-inspect/2`: registers are an object keyed by name (in /1 a list
/// of `{name, value}`).
pub const INSPECT_SCHEMA: &str = "ckdump-inspect/2";
pub const VERIFY_SCHEMA: &str = "ckdump-verify/1";

/// An address or other 64-bit value shown in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hex(pub u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::finding::serialize_hex_u64(&self.0, s)
    }
}

impl std::fmt::Display for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// What the file is.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSummary {
    pub path: String,
    /// Machine name of the format (`elf-core`).
    pub format: String,
    /// Human name of the format (`ELF core file`).
    pub format_name: String,
    pub compression: Option<String>,
    /// Size in bytes after decompression.
    pub size: u64,
    /// Which program wrote it, as far as can be told.
    pub writer: String,
    pub os: String,
    pub os_version: Option<String>,
    pub arch: String,
    pub kernel: bool,
    pub cpu: Option<String>,
    pub cpu_count: Option<u32>,
    pub pid: Option<u64>,
    pub ppid: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub process_name: Option<String>,
    pub args: Option<String>,
    pub executable: Option<String>,
    /// Seconds since the epoch when the state was saved.
    pub timestamp: Option<u64>,
    pub thread_count: usize,
    /// The archive the image was read from (container checkpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<crate::model::ArchiveInfo>,
}

/// One disassembled instruction.
#[derive(Debug, Clone, Serialize)]
pub struct Instruction {
    pub address: Hex,
    pub bytes: String,
    pub text: String,
    /// The instruction at the fault / pc.
    pub current: bool,
}

/// Why the image was taken, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct CrashSummary {
    /// "signal", "exception", "bugcheck" or "panic".
    pub kind: String,
    /// Signal number, exception code, bugcheck code.
    pub code: u64,
    /// `SIGSEGV`, `EXCEPTION_ACCESS_VIOLATION`.
    pub name: String,
    /// Sub-code number (si_code) and its name (`SEGV_MAPERR`).
    pub subcode: Option<i64>,
    pub subcode_name: Option<String>,
    /// One sentence for a person.
    pub description: String,
    pub address: Option<Hex>,
    /// "read", "write" or "execute" when the fault says.
    pub access: Option<String>,
    pub thread: Option<u64>,
    pub parameters: Vec<Hex>,
    pub sender_pid: Option<i64>,
    pub sender_uid: Option<u64>,
    /// "process", "softirq", "hardirq", "nmi" or "irql N".
    pub interrupt_level: Option<String>,
    /// The faulting instruction with context (`--disasm N` before/after).
    pub instructions: Vec<Instruction>,
    /// What the writer recorded of why, beside the exception: a failed
    /// assertion (`assertion`), Crashpad's exception name and reason and
    /// the crash messages system libraries leave (`abort() called`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Annotation>,
}

/// One stack frame, one line per inlined function.
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    /// Index of the physical frame this line belongs to.
    pub index: usize,
    pub pc: Hex,
    pub module: Option<String>,
    /// Offset of pc from the module base (what Breakpad tools print).
    pub module_offset: Option<Hex>,
    pub function: Option<String>,
    pub function_offset: Option<Hex>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// This line is a function inlined into the next line's function.
    pub inlined: bool,
    pub found_by: FoundBy,
    /// Kernel frames: what named the function (the dump's vmlinux, a
    /// System.map, or kallsyms in the dump); absent for user frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol_source: Option<crate::kernel::symbol_source::KernelSymbolSource>,
    /// Stack pointer of the physical frame.
    pub sp: Option<Hex>,
    /// Kernel frames: the stack the frame lies on ("task", "irq", "nmi",
    /// "double-fault", "debug", "machine-check"); a change between two
    /// frames is an interrupt or exception entry crossed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Registers known in the physical frame: all of them for frame 0, the
    /// ones the unwinder recovered (or carried over as callee-saved) for
    /// callers, as minidump-stackwalk lists them per frame.
    #[serde(serialize_with = "serialize_registers")]
    pub registers: Vec<RegisterValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisterValue {
    pub name: String,
    pub value: Hex,
}

/// Registers in JSON: an object keyed by name (`{"rip": "0x…", …}`) in the
/// order the architecture lists them. A name seen twice keeps its first
/// value, so the object never holds a duplicate key.
fn serialize_registers<S: Serializer>(
    registers: &[RegisterValue],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    let mut seen = std::collections::HashSet::new();
    for r in registers {
        if seen.insert(r.name.as_str()) {
            map.serialize_entry(&r.name, &r.value)?;
        }
    }
    map.end()
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadReport {
    pub tid: u64,
    pub name: Option<String>,
    /// The thread the fault belongs to.
    pub crashed: bool,
    /// Signal that stopped the thread, if recorded.
    pub signal: Option<i32>,
    /// Every frame of the walk, recursion included (the text report
    /// collapses repeated frames, JSON keeps each one).
    pub frames: Vec<FrameReport>,
    /// Frames found by stack scanning below the last frame that unwind
    /// information or the frame-pointer chain vouched for, left out of
    /// `frames` (`inspect --scan-all` keeps them).
    pub dropped_scanned_frames: usize,
    /// For each module on this stack without symbols (and not already
    /// named under an earlier stack): where they were looked for and what
    /// to pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbol_notes: Vec<String>,
    /// Integer registers at the time of the dump.
    #[serde(serialize_with = "serialize_registers")]
    pub registers: Vec<RegisterValue>,
    /// Floating-point / vector control state where saved.
    pub float: Option<crate::model::FloatState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    pub name: String,
    pub path: String,
    pub base: Hex,
    pub end: Hex,
    pub size: u64,
    pub build_id: Option<String>,
    pub main: bool,
    pub symbols: SymbolKind,
    /// The binary used for unwind tables / symbols.
    pub binary: Option<String>,
    pub debug_file: Option<String>,
    pub problem: Option<String>,
    /// With no symbols: where they were looked for and what to pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Windows / Breakpad identity (minidumps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pe: Option<crate::model::PeIdentity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionReport {
    pub start: Hex,
    pub end: Hex,
    pub size: u64,
    /// `r-x`-style.
    pub protection: String,
    /// "private", "shared" or "unknown".
    pub sharing: String,
    pub file: Option<String>,
    pub file_offset: Option<Hex>,
    /// "full", "absent" or "partial".
    pub capture: String,
    pub captured_bytes: u64,
    /// VirtualQueryEx-style attributes (minidumps with a MemoryInfoList).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsRegionReport>,
    /// mmap flags and CRIU VMA status (CRIU images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxRegionReport>,
    /// Where the region's pages are (checkpoints): how many the VMA spans
    /// and how many of them are in the image, the parent, lazy or lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<RegionPages>,
}

/// A checkpoint VMA's pages.
#[derive(Debug, Clone, Serialize)]
pub struct RegionPages {
    /// Pages the VMA spans.
    pub total: u64,
    #[serde(flatten)]
    pub counts: crate::model::PageCounts,
}

/// A Linux mapping's attributes, names decoded as `crit` spells them.
#[derive(Debug, Clone, Serialize)]
pub struct LinuxRegionReport {
    /// `MAP_PRIVATE | MAP_ANON`.
    pub flags: String,
    /// `VMA_AREA_REGULAR | VMA_ANON_PRIVATE` (CRIU).
    pub status: Option<String>,
    pub madvise: Option<Hex>,
    /// `[heap]`, `[stack]`, `[vdso]`, `[vvar]` for special anonymous mappings.
    pub label: Option<String>,
}

/// A region as Windows describes it, with names decoded.
#[derive(Debug, Clone, Serialize)]
pub struct WindowsRegionReport {
    pub allocation_base: Hex,
    /// `PAGE_READWRITE`-style names joined with ` | `.
    pub allocation_protection: String,
    /// `MEM_COMMIT`, `MEM_RESERVE` or `MEM_FREE`.
    pub state: String,
    pub protection: String,
    /// `MEM_IMAGE`, `MEM_MAPPED` or `MEM_PRIVATE`.
    pub kind: String,
}

/// The whole `inspect` result.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub schema: &'static str,
    pub image: ImageSummary,
    pub crash: Option<CrashSummary>,
    /// Crashing thread first, then the others in image order.
    pub threads: Vec<ThreadReport>,
    pub modules: Vec<ModuleReport>,
    /// Present with `--regions`.
    pub regions: Option<Vec<RegionReport>>,
    pub notes: Vec<NoteRecord>,
    pub auxv: Vec<AuxvEntry>,
    /// Container streams (minidumps), known or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<crate::model::StreamRecord>,
    /// Key/value annotations (Crashpad, Breakpad).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    /// Text the writer embedded (Linux /proc files, comments).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<EmbeddedText>,
    /// The saved process tree, root first (CRIU).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<crate::model::ProcessRecord>,
    /// The files of a multi-file image (a CRIU directory).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_files: Vec<crate::model::ImageFileRecord>,
    /// The container around the processes (container checkpoint archives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<crate::model::ContainerInfo>,
    /// What kind of checkpoint, its pages and files (CRIU images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<crate::model::CheckpointInfo>,
    /// What a kernel dump says of the kernel: release, VMCOREINFO, CPUs,
    /// the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelReport>,
    /// Structural problems met while reading (full list: `ckdump verify`).
    pub findings: Vec<Finding>,
    /// The other processes of a saved process tree (CRIU), each with its
    /// own stacks, modules and memory map, in process-tree order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_processes: Vec<ProcessReport>,
}

/// A kernel dump's own facts.
#[derive(Debug, Clone, Serialize)]
pub struct KernelReport {
    /// `elf`, `kdump-compressed` or `flattened`.
    pub format: crate::model::VmcoreFormat,
    pub release: Option<String>,
    /// vmlinux GNU build-id.
    pub build_id: Option<String>,
    /// KASLR displacement of the kernel text.
    pub kernel_offset: Option<Hex>,
    /// Seconds since the epoch when the kernel crashed.
    pub crash_time: Option<u64>,
    /// makedumpfile's dump level (excluded page classes), where recorded.
    pub dump_level: Option<u32>,
    pub incomplete: bool,
    /// The CPU that panicked.
    pub panic_cpu: Option<u32>,
    /// What each CPU's `prstatus_pid` is: the task running there
    /// (`tasks`) or QEMU's vCPU id (`vcpu-ids`).
    pub cpu_note_pids: crate::model::CpuNotePids,
    /// The oops / BUG / warning that led to the panic (headline, `Oops:`
    /// and `RIP:` lines as logged); empty for a direct panic.
    pub panic_cause: Vec<String>,
    pub cpus: Vec<CpuReport>,
    /// Loaded modules, from the kernel's `modules` list (most recent first,
    /// as lsmod shows them).
    pub modules: Vec<KernelModuleReport>,
    /// Why the module list is missing or may be incomplete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modules_problems: Vec<String>,
    /// Every task, leaders each followed by their threads, from the
    /// kernel's task list (types from its BTF); empty when it could not be
    /// read, with the reason in `tasks_problem`.
    pub tasks: Vec<TaskReport>,
    /// Why the task list is missing or may be incomplete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks_problems: Vec<String>,
    /// Where struct layouts came from: "btf" (the kernel's own, in the dump).
    pub types: Option<String>,
    /// Where the kernel's symbols came from.
    pub symbols: KernelSymbolsReport,
    /// The kernel log, oldest first (`inspect --log N` shows the last N).
    pub log: Vec<crate::model::LogRecord>,
    /// Every VMCOREINFO entry, in the kernel's order.
    pub vmcoreinfo: Vec<Annotation>,
    /// Why the kernel's log, symbols, tasks and stacks are not read (an
    /// architecture ckdump does not walk the page tables of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// One kernel task and, when unwound, its kernel stack.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// Address of its task_struct.
    pub address: Hex,
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub comm: String,
    /// ps's state letter (R S D I T t Z X P) and the raw `__state` word.
    pub state: char,
    pub state_bits: u32,
    pub kernel_thread: bool,
    /// The CPU it last ran on.
    pub cpu: Option<u32>,
    /// Its kernel stack's base, and the sp saved at its last switch.
    pub stack: Hex,
    pub saved_sp: Hex,
    /// Its address space (`mm`), 0 for kernel threads.
    pub mm: Hex,
    /// The CPU it was running on when the dump was taken (that CPU's
    /// `current_task`).
    pub running_on: Option<u32>,
    /// It printed the panic (the panicking CPU's task).
    pub panicked: bool,
    /// Unwound tasks only (running and panicking ones by default, all with
    /// `--all-tasks`, one with `--task PID`): innermost first; a running
    /// task from its CPU's registers, a sleeping one from its saved switch
    /// frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<FrameReport>>,
}

/// One loaded kernel module.
#[derive(Debug, Clone, Serialize)]
pub struct KernelModuleReport {
    pub name: String,
    /// Its struct module.
    pub address: Hex,
    /// Where its code lies.
    pub text_base: Hex,
    pub text_size: u64,
    /// Its whole core image (code and data), as lsmod's size.
    pub size: u64,
    /// Function symbols read from its own symbol table in memory.
    pub symbols: usize,
    /// Entries in its ORC tables (x86_64), when it has them.
    pub orc_entries: Option<u64>,
    /// Its GNU build-id, read from its notes in memory.
    pub build_id: Option<String>,
    /// The `.ko` its frames are named from (DWARF), when one was found
    /// with its build-id.
    pub debug_file: Option<String>,
}

/// The task a CPU was running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuTask {
    pub pid: i32,
    pub comm: String,
}

/// The source that names kernel frames first (frames it cannot name fall
/// back to the next: System.map, then kallsyms).
#[derive(Debug, Clone, Serialize)]
pub struct KernelSymbolsReport {
    /// `vmlinux`, `system_map` or `kallsyms`; None when nothing names
    /// kernel code.
    pub source: Option<crate::kernel::symbol_source::KernelSymbolSource>,
    /// The vmlinux or System.map used.
    pub file: Option<String>,
    /// In words, with how it was matched to the dump
    /// (`vmlinux: DWARF, matched build-id 3b43…`).
    pub description: String,
    /// Loaded modules' symbols in words: how many are named from their
    /// `.ko`, and where ckdump looked for the others'.
    pub modules: String,
}

/// One CPU's saved registers.
#[derive(Debug, Clone, Serialize)]
pub struct CpuReport {
    pub index: u32,
    /// The stack its saved sp lies on: "task", "irq" (hard and soft
    /// interrupts), or an exception stack ("nmi", "double-fault", …).
    pub stack: Option<String>,
    /// The task running there (the CPU's `current_task`).
    pub task: Option<CpuTask>,
    /// What it was doing, as its stack shows: "panicked", "stopped by the
    /// crash NMI" or "stopped by the panic's stop IPI" (with " while
    /// idle" when it had been running the idle task); None otherwise.
    pub state: Option<String>,
    /// The pid field of its register note: the task running there (kdump)
    /// or the vCPU number (QEMU).
    pub prstatus_pid: u64,
    /// What it was doing when the dump was taken, by its preempt_count:
    /// "process", "softirq", "hardirq" or "nmi" (a CPU stopped by the crash
    /// NMI is in "nmi").
    pub context: Option<String>,
    /// Its preempt_count (need-resched bit cleared), where it could be read.
    pub preempt_count: Option<u32>,
    /// The function its pc is in, as `name+0xoffset`, from the kernel's
    /// symbols (kallsyms in the dump); None when no symbol holds the pc.
    pub pc_symbol: Option<String>,
    /// Its kernel stack, innermost first, walked from the saved registers;
    /// empty when the kernel's text cannot be told from the dump.
    pub frames: Vec<FrameReport>,
    #[serde(serialize_with = "serialize_registers")]
    pub registers: Vec<RegisterValue>,
}

/// One more process of a saved tree: the same views as the image's own
/// process, read from that process's own address space.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    pub pid: Option<u64>,
    pub ppid: Option<u64>,
    pub name: Option<String>,
    /// `Z` for a zombie, `T` stopped, as the image records it.
    pub state: Option<char>,
    pub args: Option<String>,
    pub executable: Option<String>,
    pub thread_count: usize,
    /// In image order (only the `--thread` one when it is in this process).
    pub threads: Vec<ThreadReport>,
    pub modules: Vec<ModuleReport>,
    /// Present with `--regions`.
    pub regions: Option<Vec<RegionReport>>,
    /// Its descriptors (checkpoints).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open_files: Vec<crate::model::OpenFile>,
    /// What its images say beyond that as key/value pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    /// Its checkpoint facts (CRIU): task state, credentials, mm fields, signal actions…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::model::TaskFacts>,
}

/// One annotation.
#[derive(Debug, Clone, Serialize)]
pub struct Annotation {
    pub key: String,
    pub value: String,
}

/// A text block the writer embedded.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddedText {
    pub name: String,
    pub text: String,
}

/// How one registered check came out.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// "passed", "failed" or "not_applicable".
    pub status: &'static str,
    pub findings: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingCounts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

/// The whole `verify` result.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema: &'static str,
    pub path: String,
    /// None when the image could not be opened at all.
    pub image: Option<ImageSummary>,
    pub findings: Vec<Finding>,
    pub checks: Vec<CheckOutcome>,
    pub counts: FindingCounts,
}
