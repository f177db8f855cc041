//! The common model every format reader fills.
//!
//! A reader turns bytes into an [`Image`]; everything after that (symbols,
//! unwinding, fault decoding, verification, rendering) works on the model
//! alone and never asks which file format it came from.

mod checkpoint;
mod container;
mod kernel;
mod registers;
mod time;

pub use checkpoint::{
    CheckpointInfo, CheckpointKind, MmFacts, OpenFile, PageCounts, PagesElsewhere, ReferencedFile,
    SignalAction, TaskCredentials, TaskFacts, TaskIds, TaskState, ThreadXstate, VmaPages,
    task_state_name,
};
pub use container::{
    ArchiveInfo, ContainerInfo, ContainerInterface, ContainerMount, DumpStatistics,
    seconds_precision,
};
pub use kernel::{
    Cpu, CpuNotePids, KernelInfo, KernelTask, LogCaller, LogRecord, SplitPart, VmcoreFormat,
    Vmcoreinfo,
};
pub use registers::{FloatState, RegisterSet, register_names};
pub use time::UtcTime;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::finding::Finding;
use crate::memory::Memory;

/// CPU architecture of the saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    X86,
    Aarch64,
    Arm,
}

impl Arch {
    pub fn pointer_size(self) -> u8 {
        match self {
            Arch::X86_64 | Arch::Aarch64 => 8,
            Arch::X86 | Arch::Arm => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X86 => "i386",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
        }
    }
}

/// Operating system the state was saved from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Os {
    Linux,
    Windows,
    MacOs,
    Unknown,
}

impl Os {
    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "Linux",
            Os::Windows => "Windows",
            Os::MacOs => "macOS",
            Os::Unknown => "unknown",
        }
    }
}

/// The page size when an image records none: 4 KiB, the smallest page of
/// every architecture ckdump reads.
pub const DEFAULT_PAGE_SIZE: u64 = 4096;

/// A page size an image claims, if it is one a machine can have (a power
/// of two from 1 KiB to 1 GiB); hostile values are ignored.
pub fn plausible_page_size(size: u64) -> Option<u64> {
    (size.is_power_of_two() && (1 << 10..=1 << 30).contains(&size)).then_some(size)
}

/// What machine the image describes.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub os: Os,
    pub arch: Arch,
    /// Kernel (vmcore, bugcheck dump) rather than one user process.
    pub kernel: bool,
    /// Bytes per page, as the image records it (AT_PAGESZ, the dump
    /// header) or the architecture's usual size; set by each reader.
    pub page_size: u64,
    pub cpu_count: Option<u32>,
    /// Free-form OS version / release where the image records one.
    pub os_version: Option<String>,
    /// CPU description (vendor, family, model) where recorded.
    pub cpu: Option<String>,
}

impl Target {
    /// One Linux user process on `arch`, as core files and checkpoints
    /// describe it (they record no CPU count, OS release or CPU model).
    pub fn linux_process(arch: Arch) -> Target {
        Target {
            os: Os::Linux,
            arch,
            kernel: false,
            page_size: DEFAULT_PAGE_SIZE,
            cpu_count: None,
            os_version: None,
            cpu: None,
        }
    }
}

/// The container format of an image, as detected by magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFormat {
    ElfCore,
    Minidump,
    Vmcore,
    CriuImages,
    ContainerCheckpoint,
    LiveProcess,
}

impl ImageFormat {
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::ElfCore => "ELF core file",
            ImageFormat::Minidump => "minidump",
            ImageFormat::Vmcore => "Linux kernel vmcore",
            ImageFormat::CriuImages => "CRIU image directory",
            ImageFormat::ContainerCheckpoint => "container checkpoint archive",
            ImageFormat::LiveProcess => "live process",
        }
    }
}

/// A compression wrapper the image was stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Zstd,
    Xz,
    Bzip2,
    Gzip,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Gzip => "gzip",
        }
    }
}

/// Which program wrote the image, as far as the image lets us tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Producer {
    /// The Linux kernel's core dumper (core_pattern / systemd-coredump).
    LinuxKernel,
    /// gdb's `generate-core-file` on a stopped (usually crashed) inferior.
    GdbGenerateCoreFile,
    /// gdb's `gcore` on a live process.
    Gcore,
    /// ckdump's own `snapshot` command.
    Ckdump,
    /// Some other writer, named.
    Other(String),
    Unknown,
}

impl Producer {
    pub fn describe(&self) -> String {
        match self {
            Producer::LinuxKernel => "Linux kernel".into(),
            Producer::GdbGenerateCoreFile => "gdb generate-core-file".into(),
            Producer::Gcore => "gdb gcore (live process)".into(),
            Producer::Ckdump => "ckdump snapshot".into(),
            Producer::Other(s) => s.clone(),
            Producer::Unknown => "unknown".into(),
        }
    }
}

/// The process the image was taken of (user-space images).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Process {
    pub pid: Option<u64>,
    pub ppid: Option<u64>,
    pub pgid: Option<u64>,
    pub sid: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    /// Short command name (comm / fname).
    pub name: Option<String>,
    /// Command line as recorded (psargs is truncated to 80 bytes by the kernel).
    pub args: Option<String>,
    /// Scheduler state letter (R, S, D, T, Z...).
    pub state: Option<char>,
    pub nice: Option<i64>,
    /// Executable path when known (e.g. from AT_EXECFN or the first NT_FILE entry).
    pub executable: Option<String>,
}

/// One thread of execution with its saved registers.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub tid: u64,
    pub name: Option<String>,
    pub registers: RegisterSet,
    pub float: Option<FloatState>,
    /// The signal that stopped this thread (NT_PRSTATUS pr_cursig), if any.
    pub signal: Option<i32>,
    pub pending_signals: Option<u64>,
    pub blocked_signals: Option<u64>,
    /// User / system CPU time in microseconds where recorded.
    pub user_time_us: Option<u64>,
    pub system_time_us: Option<u64>,
}

/// How a module was discovered in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleSource {
    /// NT_FILE (Linux core) or another file-mapping table.
    FileMappings,
    /// ELF header + build-id note found in the image's memory.
    MemoryHeader,
    /// The dynamic linker's r_debug / link_map list.
    LinkMap,
    /// A module list stream (minidump).
    ModuleList,
    /// The vDSO from AT_SYSINFO_EHDR.
    Vdso,
    /// A kernel dump's own kernel image, placed by VMCOREINFO (`_stext`,
    /// KERNELOFFSET, BUILD-ID); see [`Module::kernel_image`].
    KernelImage,
}

/// A loaded executable or shared object.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    /// File name shown in frames (`libc.so.6`).
    pub name: String,
    /// Full path as recorded in the image.
    pub path: String,
    /// Lowest address of the module's mappings.
    pub base: u64,
    pub size: u64,
    /// GNU build-id (lower-case hex) or PDB/Breakpad debug id.
    pub build_id: Option<String>,
    /// Load bias: runtime address minus link-time address.
    pub load_bias: Option<u64>,
    pub sources: Vec<ModuleSource>,
    /// The main executable of the process.
    pub is_main: bool,
    /// Windows/Breakpad identity (minidumps); None for ELF modules.
    pub pe: Option<PeIdentity>,
}

/// How Windows tools and symbol stores identify a module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeIdentity {
    /// `TIMESTAMPSIZE` as symbol stores key binaries (e.g. `45D35F6C2d000`).
    pub code_id: Option<String>,
    /// PDB file name from the CodeView record (`test_app.pdb`).
    pub debug_file: Option<String>,
    /// GUID + age, upper-case hex, as symbol stores key PDBs.
    pub debug_id: Option<String>,
    /// File version from VS_FIXEDFILEINFO (`5.1.2600.2622`).
    pub version: Option<String>,
    pub timestamp: Option<u32>,
}

impl Module {
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.size
    }

    /// The kernel of a kernel dump as a module named `vmlinux`, its path
    /// `vmlinux-RELEASE` (the name distributions give its debug copy):
    /// `[base, base + size)` at runtime addresses, link-time addresses
    /// displaced by `kernel_offset` (KASLR; when unknown, the symbolizer
    /// takes `base` for the vmlinux's first loaded page).
    pub fn kernel_image(
        release: Option<&str>,
        build_id: Option<&str>,
        base: u64,
        size: u64,
        kernel_offset: Option<u64>,
    ) -> Module {
        Module {
            name: "vmlinux".to_string(),
            path: match release {
                Some(r) => format!("vmlinux-{r}"),
                None => "vmlinux".to_string(),
            },
            base,
            size,
            build_id: build_id.map(str::to_string),
            load_bias: kernel_offset,
            sources: vec![ModuleSource::KernelImage],
            is_main: true,
            pe: None,
        }
    }

    /// The kernel release of a module made by [`Module::kernel_image`].
    pub fn kernel_release(&self) -> Option<&str> {
        if !self.sources.contains(&ModuleSource::KernelImage) {
            return None;
        }
        self.path.strip_prefix("vmlinux-").filter(|r| !r.is_empty())
    }
}

/// Page protection of a region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Protection {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Protection {
    /// `r-x`-style text.
    pub fn rwx(self) -> String {
        format!(
            "{}{}{}",
            if self.read { 'r' } else { '-' },
            if self.write { 'w' } else { '-' },
            if self.execute { 'x' } else { '-' }
        )
    }
}

/// Whether a mapping is private (copy-on-write) or shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    Private,
    Shared,
    Unknown,
}

/// How much of a region's bytes the image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Capture {
    /// Every byte is in the image.
    Full,
    /// None of the bytes are in the image (filtered out or never written).
    Absent,
    /// Only `bytes` of the region are in the image.
    Partial { bytes: u64 },
}

/// A file that backs a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionFile {
    pub path: String,
    pub offset: u64,
}

/// One contiguous virtual memory mapping.
#[derive(Debug, Clone, Serialize)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub protection: Protection,
    pub sharing: Sharing,
    pub file: Option<RegionFile>,
    pub capture: Capture,
    /// Where the captured bytes start inside the image file, if they are there.
    pub image_offset: Option<u64>,
    /// VirtualQueryEx-style attributes (minidump MemoryInfoList).
    pub windows: Option<WindowsRegion>,
    /// mmap flags and the like, where the image records them (CRIU VMAs).
    pub linux: Option<LinuxRegion>,
}

/// A Linux mapping's attributes beyond its protection: raw values (named
/// for display: mmap flags by analysis::mmap, CRIU's VMA status by
/// render_checkpoint) and what the mapping is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LinuxRegion {
    /// `mmap` flags: MAP_SHARED 0x1, MAP_PRIVATE 0x2, MAP_ANONYMOUS 0x20,
    /// MAP_GROWSDOWN 0x100…
    pub mmap_flags: u32,
    /// CRIU's VMA status bits (VMA_AREA_REGULAR 0x1, VMA_FILE_PRIVATE
    /// 0x40, VMA_ANON_PRIVATE 0x200…) when the image is a CRIU dump.
    pub vma_status: Option<u32>,
    /// madvise() advice bits as a bitmap of MADV_* numbers.
    pub madvise: Option<u64>,
    /// What the mapping is, when the image says (a CRIU dump's VMA status
    /// does); None when it does not.
    pub kind: Option<LinuxMappingKind>,
}

/// What a Linux mapping is, as far as the image records it; the first of
/// these that applies (a heap is also anonymous private memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinuxMappingKind {
    Vdso,
    Vvar,
    Vsyscall,
    Heap,
    Stack,
    /// Shadow stack (CET).
    ShadowStack,
    Guard,
    AioRing,
    SysvIpc,
    Socket,
    Memfd,
    Uprobes,
    FileShared,
    FilePrivate,
    AnonShared,
    AnonPrivate,
    /// None of the above (a status with no known kind bit).
    Other,
}

/// A region as Windows describes it (MEMORY_BASIC_INFORMATION), raw values;
/// names are decoded by analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WindowsRegion {
    pub allocation_base: u64,
    pub allocation_protection: u32,
    /// MEM_COMMIT 0x1000, MEM_RESERVE 0x2000, MEM_FREE 0x10000.
    pub state: u32,
    /// PAGE_* flags.
    pub protection: u32,
    /// MEM_PRIVATE 0x20000, MEM_MAPPED 0x40000, MEM_IMAGE 0x1000000.
    pub kind: u32,
}

impl Region {
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// The raw, OS-specific description of why the image was taken.
/// Names and meanings are decoded by `analysis`, not by readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultCode {
    /// A POSIX signal with its siginfo.
    Signal {
        signo: i32,
        code: i32,
        errno: i32,
        /// Sender pid/uid for SI_USER / SI_TKILL / SI_QUEUE.
        sender_pid: Option<i64>,
        sender_uid: Option<u64>,
    },
    /// A Windows exception record.
    Exception { code: u32, flags: u32 },
    /// A Windows bugcheck.
    Bugcheck { code: u32 },
    /// A kernel panic with its message.
    Panic { message: String },
}

/// Interrupt level the fault happened at, where the image can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InterruptLevel {
    /// Ordinary thread context (user space, or kernel process context).
    Process,
    SoftIrq,
    HardIrq,
    Nmi,
    /// Windows IRQL.
    Irql {
        level: u8,
    },
}

/// Why the image was taken: signal, exception, bugcheck or panic.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub code: FaultCode,
    /// The address the fault concerns (si_addr, exception address parameter).
    pub address: Option<u64>,
    /// The thread that faulted.
    pub thread: Option<u64>,
    /// Extra parameters (exception information, bugcheck parameters).
    pub parameters: Vec<u64>,
    pub interrupt_level: Option<InterruptLevel>,
}

/// One ELF note (or similar record) as found, known or not.
#[derive(Debug, Clone, Serialize)]
pub struct NoteRecord {
    pub owner: String,
    pub kind: u32,
    /// Symbolic name (`NT_PRSTATUS`) or None for unknown types.
    pub name: Option<&'static str>,
    pub size: u64,
    pub offset: u64,
    /// Decoded content for small notes worth showing (`tpidr=0x...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An auxiliary vector entry.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AuxvEntry {
    pub key: u64,
    pub value: u64,
}

/// One task of a saved process tree (CRIU's pstree).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessRecord {
    pub pid: u64,
    pub ppid: u64,
    pub pgid: u64,
    pub sid: u64,
    /// comm of the thread-group leader.
    pub name: Option<String>,
    /// As the writer recorded it (`alive`, `stopped`, `zombie`, `dead`).
    pub state: Option<String>,
    pub exit_code: Option<u32>,
    pub threads: Vec<u64>,
}

/// One file of a multi-file image (a CRIU image directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageFileRecord {
    pub name: String,
    pub size: u64,
    /// The per-file magic number, None for raw data files.
    pub magic: Option<u32>,
    /// Symbolic name of the magic (`CORE`, `PAGEMAP`), None if unknown.
    pub kind: Option<&'static str>,
    /// Entries in the file, None where they are not counted (raw data,
    /// entries with payloads).
    pub entries: Option<u64>,
}

/// What has no common home yet: per-format records kept for display.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormatDetails {
    pub notes: Vec<NoteRecord>,
    /// Minidump streams (or similar containers) with type, size and offset.
    pub streams: Vec<StreamRecord>,
    /// Key/value annotations (Crashpad, Breakpad), in file order.
    pub annotations: Vec<(String, String)>,
    /// The failed assertion the writer recorded (a minidump's
    /// AssertionInfoStream: the CRT's invalid-parameter or assert handler).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<Assertion>,
    /// Text the writer embedded (Linux /proc files in Breakpad dumps,
    /// comments), by name.
    pub texts: Vec<(String, String)>,
    /// The whole saved process tree, root first (CRIU), as pstree lists it
    /// (zombies and tasks past the read limit included); the processes
    /// read are [`Image::processes`].
    pub processes: Vec<ProcessRecord>,
    /// The files a multi-file image is made of.
    pub files: Vec<ImageFileRecord>,
    /// The container around the processes (container checkpoint archives).
    pub container: Option<ContainerInfo>,
    /// What a kernel dump holds beyond processes: VMCOREINFO, CPUs, the log.
    pub kernel: Option<KernelInfo>,
}

/// A failed assertion as the C runtime reported it; any part may be
/// missing (release CRTs pass no expression, function or file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Assertion {
    pub expression: Option<String>,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl Assertion {
    /// `format != nullptr in common_vfprintf at …\output.cpp:32`, as far
    /// as the parts are known.
    pub fn describe(&self) -> String {
        let mut s = match &self.expression {
            Some(e) => e.clone(),
            None => "(no expression recorded)".to_string(),
        };
        if let Some(f) = &self.function {
            s.push_str(&format!(" in {f}"));
        }
        match (&self.file, self.line) {
            (Some(file), Some(line)) => s.push_str(&format!(" at {file}:{line}")),
            (Some(file), None) => s.push_str(&format!(" at {file}")),
            _ => {}
        }
        s
    }
}

/// One stream of a container format, known or not.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRecord {
    pub kind: u32,
    /// Symbolic name (`ThreadListStream`) or None for unknown types.
    pub name: Option<&'static str>,
    pub size: u64,
    pub offset: u64,
}

/// One process of an image: what the image records about it, and
/// everything a walk over its address space needs. Every consumer that
/// looks at threads, modules or memory iterates [`Image::processes`].
#[derive(Clone)]
pub struct ProcessView {
    /// Its pid, name, command line… where the image records them.
    pub facts: Option<Process>,
    pub threads: Vec<Thread>,
    pub modules: Vec<Module>,
    /// Sorted by start address, by every reader.
    pub regions: Vec<Region>,
    /// Its own address space.
    pub memory: Arc<dyn Memory>,
    /// Its auxiliary vector, where the image records one.
    pub auxv: Vec<AuxvEntry>,
    /// What a checkpoint says of this process (its VMAs with their pages,
    /// descriptors, heap); for the tree's root also the tree-wide facts
    /// (image files, referenced files, page totals, parent snapshot).
    pub checkpoint: Option<CheckpointInfo>,
    /// aarch64: which pointer bits hold an authentication code, where the
    /// image records it (all threads of a process share one address-space
    /// layout, so one value per process).
    pub pointer_auth: Option<PointerAuthMasks>,
}

/// aarch64 pointer authentication: the bits of a signed pointer that hold
/// its code, as the kernel reports them (Linux: NT_ARM_PAC_MASK). They
/// follow from the virtual-address size, so they differ between 48- and
/// 52-bit address spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointerAuthMasks {
    /// For data pointers.
    pub data: u64,
    /// For instruction pointers (return addresses).
    pub insn: u64,
}

impl ProcessView {
    /// A process with no threads, modules, regions or memory yet.
    pub fn empty(memory: Arc<dyn Memory>) -> Self {
        ProcessView {
            facts: None,
            threads: Vec::new(),
            modules: Vec::new(),
            regions: Vec::new(),
            memory,
            auxv: Vec::new(),
            checkpoint: None,
            pointer_auth: None,
        }
    }

    pub fn pid(&self) -> Option<u64> {
        self.facts.as_ref().and_then(|p| p.pid)
    }

    pub fn thread(&self, tid: u64) -> Option<&Thread> {
        self.threads.iter().find(|t| t.tid == tid)
    }

    pub fn region_at(&self, addr: u64) -> Option<&Region> {
        // Regions are kept sorted by start address by every reader.
        let i = self.regions.partition_point(|r| r.end <= addr);
        self.regions.get(i).filter(|r| r.contains(addr))
    }

    pub fn module_at(&self, addr: u64) -> Option<&Module> {
        self.modules.iter().find(|m| m.contains(addr))
    }
}

/// An opened saved state: what the file is, why it was taken, and its
/// processes, each a view of its own.
pub struct Image {
    pub path: PathBuf,
    pub format: ImageFormat,
    pub compression: Option<Compression>,
    /// Size of the (decompressed) image in bytes.
    pub size: u64,
    pub target: Target,
    pub producer: Producer,
    pub fault: Option<Fault>,
    /// Seconds since the epoch when the state was saved, if recorded.
    pub timestamp: Option<u64>,
    /// What the format records beyond the processes (notes, streams, the
    /// tree's process list, image files, the container).
    pub details: FormatDetails,
    /// Structural problems the reader met while parsing (for every
    /// process: a saved tree is read, and reports, as one image).
    pub findings: Vec<Finding>,
    /// The process the image was taken of (a core's, a minidump's), or the
    /// root of a saved process tree (CRIU).
    pub process: ProcessView,
    /// The other processes of a saved tree, in process-tree order. Empty
    /// for one-process images.
    pub other_processes: Vec<ProcessView>,
}

impl Image {
    /// Every process, the main one first.
    pub fn processes(&self) -> impl Iterator<Item = &ProcessView> {
        std::iter::once(&self.process).chain(self.other_processes.iter())
    }

    /// The thread the fault belongs to, in the main process.
    pub fn crashing_thread(&self) -> Option<&Thread> {
        self.fault
            .as_ref()
            .and_then(|f| f.thread)
            .and_then(|tid| self.process.thread(tid))
    }
}
