//! A user process inside a kernel dump, as a process view of its own: its
//! threads' user registers, its address space through its own page tables
//! (`mm->pgd`), its VMAs as regions and its mapped ELF files as modules —
//! so the process analysis (unwinder, symbolizer) shows its user stacks
//! exactly as it would a core file's, never knowing where the view came from.
//!
//! Facts (x86_64, Linux 6.1; layouts from the kernel's BTF):
//! - A task's user registers are the `struct pt_regs` at the top of its
//!   kernel stack (`task_pt_regs`): `task->stack + THREAD_SIZE -
//!   sizeof(pt_regs)`, x86_64 leaving no padding above them
//!   (TOP_OF_KERNEL_STACK_PADDING is 0 there). THREAD_SIZE is the size of
//!   `union thread_union` where BTF has it, else 16 KiB (32 KiB with KASAN):
//!   the one whose `cs` and `ss` hold user-mode selectors (RPL 3) is taken.
//!   `thread.fsbase` / `thread.gsbase` are the user's FS and GS bases.
//! - `mm->pgd` is a direct-map address: the physical root of the process's
//!   tables is it less `page_offset_base` (the direct map's base, a kernel
//!   variable under KASLR). Physical memory is read back through the same
//!   direct map, so a page the dump left out says why (its dump level).
//! - VMAs: `mm->mm_mt`, a maple tree of `vm_area_struct` pointers (6.1+),
//!   or the `mm->mmap` / `vm_next` list of older kernels. `vm_flags`:
//!   VM_READ 0x1, VM_WRITE 0x2, VM_EXEC 0x4, VM_SHARED 0x8, VM_MAYSHARE
//!   0x80, VM_GROWSDOWN 0x100. A special mapping (`[vdso]`, `[vvar]`) has
//!   `vm_ops == &special_mapping_vmops` and its `struct vm_special_mapping`
//!   (whose first member is its name) in `vm_private_data`.
//! - `mm->saved_auxv` is the process's auxiliary vector; `arg_start` to
//!   `arg_end` its command line in its own memory; `exe_file` its program.
//!
//!
//! aarch64 (Linux 6.1, confirmed against drgn on Debian's cloud-arm64):
//! - `task_pt_regs` is likewise the `struct pt_regs` at the top of the task
//!   stack, no padding above it; its `user_pt_regs` part is `regs[31]`
//!   (x0–x30), `sp`, `pc`, `pstate`. A task stopped in user mode has
//!   pstate's mode bits (M[3:0]) 0, EL0t. THREAD_SIZE is 16 KiB (32 KiB
//!   with KASAN, 64 KiB with 64 KiB pages).
//! - `mm->pgd` is a linear-map address: physical = address − PAGE_OFFSET +
//!   PHYS_OFFSET, PAGE_OFFSET being −2^VA_BITS and PHYS_OFFSET VMCOREINFO's
//!   `NUMBER(PHYS_OFFSET)`. The user tables (TTBR0) have the kernel's
//!   granule and shape; user addresses end at 2^(64 − T1SZ).
//! - Return addresses in x30 and on the stack may carry a pointer
//!   authentication code above the user VA size; the view carries the
//!   mask (bits VA size to 54, as NT_ARM_PAC_MASK reports them) so the
//!   unwinder strips it.
//!
//! Nothing is built for a process until it is asked for: a dump with ten
//! thousand tasks costs ten thousand task reads, not ten thousand images.

use std::collections::HashSet;
use std::sync::Arc;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::Header;
use goblin::elf::program_header::{PT_LOAD, PT_NOTE, ProgramHeader};

use crate::memory::page_tables::{KernelMemory, TranslateError, Translation, X86_64Paging};
use crate::memory::page_tables_aarch64::{
    Aarch64KernelMemory, Aarch64Paging, Aarch64TranslateError,
};
use crate::memory::{Absence, Memory, MemoryError};
use crate::model::{
    Arch, AuxvEntry, Capture, KernelTask, LinuxMappingKind, LinuxRegion, Module, ModuleSource,
    PointerAuthMasks, Process, ProcessView, Protection, Region, RegionFile, RegisterSet, Sharing,
    Thread,
};

use super::btf::Btf;
use super::dentry_path::{DentryLayout, path_of};
use super::kallsyms::KernelSymbols;
use super::maple_tree::{self, MapleLayout};

const VM_READ: u64 = 0x1;
const VM_WRITE: u64 = 0x2;
const VM_EXEC: u64 = 0x4;
const VM_SHARED: u64 = 0x8;
const VM_MAYSHARE: u64 = 0x80;
const VM_GROWSDOWN: u64 = 0x100;

/// x86_64's direct-map base without KASLR's memory randomization, for
/// 4- and 5-level paging.
const PAGE_OFFSET_4_LEVEL: u64 = 0xffff_8880_0000_0000;
const PAGE_OFFSET_5_LEVEL: u64 = 0xff11_0000_0000_0000;
/// Task stack sizes tried when BTF does not have `union thread_union`.
const THREAD_SIZES: [u64; 2] = [16 << 10, 32 << 10];
const AARCH64_THREAD_SIZES: [u64; 3] = [16 << 10, 32 << 10, 64 << 10];
/// pstate's mode bits: 0 is EL0t, user mode.
const AARCH64_PSTATE_MODE: u64 = 0xf;
/// The kernel's default vm.max_map_count is 65530.
const MAX_VMAS: usize = 1 << 18;
/// Pages whose presence in the dump is checked, per process.
const MAX_PROBED_PAGES: u64 = 1 << 18;
const MAX_ARGS: usize = 4096;
const MAX_AUXV: usize = 64;
const PAGE_SIZE: u64 = 4096;

/// Where the kernel keeps what a process view is built from, from BTF.
#[derive(Debug, Clone)]
pub struct UserLayout {
    /// THREAD_SIZE candidates, the BTF's own first.
    thread_sizes: Vec<u64>,
    pt_regs_size: u64,
    /// (register name, offset in pt_regs).
    pt_regs: Vec<(&'static str, u64)>,
    /// What says the pt_regs were saved from user mode.
    user_mode: UserMode,
    /// `task->thread.fsbase` / `gsbase` (x86_64).
    fsbase: Option<u64>,
    gsbase: Option<u64>,
    mm: MmLayout,
    vma: VmaLayout,
    /// `file.f_path`.
    file_path: u64,
    dentry: DentryLayout,
    maple: Option<MapleLayout>,
}

/// How a task's saved registers say they are user mode's.
#[derive(Debug, Clone, Copy)]
enum UserMode {
    /// x86_64: `cs` and `ss` (offsets in pt_regs) hold RPL-3 selectors.
    Selectors { cs: u64, ss: u64 },
    /// aarch64: `pstate` (offset in pt_regs) has mode EL0t.
    Pstate { pstate: u64 },
}

impl UserMode {
    fn arch(self) -> Arch {
        match self {
            UserMode::Selectors { .. } => Arch::X86_64,
            UserMode::Pstate { .. } => Arch::Aarch64,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct MmLayout {
    pgd: u64,
    mm_mt: Option<u64>,
    mmap: Option<u64>,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    exe_file: Option<u64>,
    saved_auxv: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct VmaLayout {
    start: u64,
    end: u64,
    flags: u64,
    pgoff: u64,
    file: u64,
    ops: u64,
    private_data: u64,
    next: Option<u64>,
    /// `vm_operations_struct.name`.
    ops_name: Option<u64>,
}

impl UserLayout {
    /// The layouts of this kernel (x86_64 or aarch64, as `arch` says);
    /// errors name what BTF lacks.
    pub fn from_btf(btf: &Btf, arch: Arch) -> Result<UserLayout, String> {
        let find = |s: &str| {
            btf.struct_named(s)
                .ok_or_else(|| format!("BTF has no struct {s}"))
        };
        let need = |s: u32, m: &str, what: &str| {
            btf.member(s, m)
                .map(|m| m.offset)
                .ok_or_else(|| format!("BTF struct {what} has no {m}"))
        };
        let regs = find("pt_regs")?;
        let (pt_regs, user_mode, default_sizes) = match arch {
            Arch::X86_64 => {
                let pt_regs = x86_64_pt_regs(btf, regs)?;
                let user_mode = UserMode::Selectors {
                    cs: need(regs, "cs", "pt_regs")?,
                    ss: need(regs, "ss", "pt_regs")?,
                };
                (pt_regs, user_mode, &THREAD_SIZES[..])
            }
            Arch::Aarch64 => {
                let pt_regs = aarch64_pt_regs(btf, regs)?;
                let user_mode = UserMode::Pstate {
                    pstate: need(regs, "pstate", "pt_regs")?,
                };
                (pt_regs, user_mode, &AARCH64_THREAD_SIZES[..])
            }
            other => return Err(format!("user processes of {other:?} kernels are not read")),
        };
        let task = find("task_struct")?;
        let mm = find("mm_struct")?;
        let vma = find("vm_area_struct")?;
        let file = find("file")?;
        let mut thread_sizes = Vec::new();
        if let Some(size) = btf
            .struct_named("thread_union")
            .and_then(|u| btf.size_of(u))
        {
            thread_sizes.push(size);
        }
        for &size in default_sizes {
            if !thread_sizes.contains(&size) {
                thread_sizes.push(size);
            }
        }
        let opt = |s: u32, m: &str| btf.member(s, m).map(|m| m.offset);
        let saved_auxv = btf.member(mm, "saved_auxv").and_then(|m| {
            let (_, count) = btf.array(m.type_id)?;
            Some((m.offset, u64::from(count)))
        });
        Ok(UserLayout {
            thread_sizes,
            pt_regs_size: btf.size_of(regs).ok_or("BTF: no size of pt_regs")?,
            pt_regs,
            user_mode,
            fsbase: opt(task, "thread.fsbase"),
            gsbase: opt(task, "thread.gsbase"),
            mm: MmLayout {
                pgd: need(mm, "pgd", "mm_struct")?,
                mm_mt: opt(mm, "mm_mt"),
                mmap: opt(mm, "mmap"),
                start_brk: need(mm, "start_brk", "mm_struct")?,
                brk: need(mm, "brk", "mm_struct")?,
                start_stack: need(mm, "start_stack", "mm_struct")?,
                arg_start: need(mm, "arg_start", "mm_struct")?,
                arg_end: need(mm, "arg_end", "mm_struct")?,
                exe_file: opt(mm, "exe_file"),
                saved_auxv,
            },
            vma: VmaLayout {
                start: need(vma, "vm_start", "vm_area_struct")?,
                end: need(vma, "vm_end", "vm_area_struct")?,
                flags: need(vma, "vm_flags", "vm_area_struct")?,
                pgoff: need(vma, "vm_pgoff", "vm_area_struct")?,
                file: need(vma, "vm_file", "vm_area_struct")?,
                ops: need(vma, "vm_ops", "vm_area_struct")?,
                private_data: need(vma, "vm_private_data", "vm_area_struct")?,
                next: opt(vma, "vm_next"),
                ops_name: btf
                    .struct_named("vm_operations_struct")
                    .and_then(|ops| opt(ops, "name")),
            },
            file_path: need(file, "f_path", "file")?,
            dentry: DentryLayout::from_btf(btf)?,
            maple: MapleLayout::from_btf(btf).ok(),
        })
    }
}

/// x86_64's pt_regs: (register name in the model, offset).
fn x86_64_pt_regs(btf: &Btf, regs: u32) -> Result<Vec<(&'static str, u64)>, String> {
    // pt_regs member, and the register's name in the model.
    let names: [(&str, &'static str); 21] = [
        ("ax", "rax"),
        ("bx", "rbx"),
        ("cx", "rcx"),
        ("dx", "rdx"),
        ("si", "rsi"),
        ("di", "rdi"),
        ("bp", "rbp"),
        ("sp", "rsp"),
        ("r8", "r8"),
        ("r9", "r9"),
        ("r10", "r10"),
        ("r11", "r11"),
        ("r12", "r12"),
        ("r13", "r13"),
        ("r14", "r14"),
        ("r15", "r15"),
        ("ip", "rip"),
        ("flags", "rflags"),
        ("cs", "cs"),
        ("ss", "ss"),
        ("orig_ax", "orig_rax"),
    ];
    let mut pt_regs = Vec::with_capacity(names.len());
    for (member, name) in names {
        let offset = btf
            .member(regs, member)
            .ok_or_else(|| format!("BTF struct pt_regs has no {member}"))?
            .offset;
        pt_regs.push((name, offset));
    }
    Ok(pt_regs)
}

/// aarch64's pt_regs (its `user_pt_regs` part): x0–x30 from `regs[31]`,
/// then sp, pc and pstate, under the model's names.
fn aarch64_pt_regs(btf: &Btf, regs: u32) -> Result<Vec<(&'static str, u64)>, String> {
    const X: [&str; 31] = [
        "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
        "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",
        "x27", "x28", "fp", "lr",
    ];
    let member = |m: &str| {
        btf.member(regs, m)
            .ok_or_else(|| format!("BTF struct pt_regs has no {m}"))
    };
    let array = member("regs")?;
    match btf.array(array.type_id) {
        Some((_, count)) if count as usize >= X.len() => {}
        _ => return Err("BTF pt_regs.regs is not an array of 31 registers".into()),
    }
    let mut pt_regs: Vec<(&'static str, u64)> = X
        .iter()
        .zip(0u64..)
        .map(|(&name, i)| (name, array.offset + 8 * i))
        .collect();
    for name in ["sp", "pc", "pstate"] {
        pt_regs.push((name, member(name)?.offset));
    }
    Ok(pt_regs)
}

/// One VMA as the kernel keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vma {
    pub address: u64,
    pub start: u64,
    pub end: u64,
    /// The raw `vm_flags`.
    pub flags: u64,
    /// `vm_pgoff`: the file offset in pages (for anonymous memory, the
    /// start's page number).
    pub pgoff: u64,
    /// The backing file's full path.
    pub file: Option<String>,
    /// A special mapping's name (`[vdso]`, `[vvar]`).
    pub special: Option<String>,
}

impl Vma {
    pub fn protection(&self) -> Protection {
        Protection {
            read: self.flags & VM_READ != 0,
            write: self.flags & VM_WRITE != 0,
            execute: self.flags & VM_EXEC != 0,
        }
    }

    pub fn shared(&self) -> bool {
        self.flags & (VM_SHARED | VM_MAYSHARE) != 0
    }
}

/// What every process view of one kernel is built from.
pub struct KernelProcesses<'a> {
    /// The kernel's address space.
    pub kernel: Arc<dyn Memory>,
    pub symbols: Option<&'a KernelSymbols>,
    pub layout: &'a UserLayout,
    pub paging: UserPaging,
}

/// The kernel's paging, which user tables share, and where its map of
/// all physical memory is.
#[derive(Debug, Clone, Copy)]
pub enum UserPaging {
    X86_64(X86_64Paging),
    /// With VMCOREINFO's `NUMBER(PHYS_OFFSET)`: the physical address the
    /// linear map starts from.
    Aarch64 {
        paging: Aarch64Paging,
        phys_offset: u64,
    },
}

impl UserPaging {
    fn arch(&self) -> Arch {
        match self {
            UserPaging::X86_64(_) => Arch::X86_64,
            UserPaging::Aarch64 { .. } => Arch::Aarch64,
        }
    }

    /// The first address above the user half.
    fn user_limit(&self) -> u64 {
        match self {
            UserPaging::X86_64(p) => 1u64 << (12 + 9 * u32::from(p.levels) - 1),
            UserPaging::Aarch64 { paging, .. } => 1u64 << paging.va_bits_actual.min(63),
        }
    }
}

/// A process's page tables, of either architecture.
enum UserTables {
    X86_64(KernelMemory),
    Aarch64(Aarch64KernelMemory),
}

impl UserTables {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        match self {
            UserTables::X86_64(t) => t.read(address, buf),
            UserTables::Aarch64(t) => t.read(address, buf),
        }
    }

    /// Where `address` is in physical memory; else how many bytes from it
    /// the tables cannot map (all that a missing entry would map).
    fn translate_or_skip(&self, address: u64) -> Result<Translation, u64> {
        let span_rest = |span: u64| span - (address & (span - 1));
        match self {
            UserTables::X86_64(t) => match t.translate(address) {
                Ok(t) => Ok(t),
                Err(TranslateError::NotPresent { level, .. })
                | Err(TranslateError::TableNotInDump {
                    level: level @ 1..=4,
                    ..
                }) => Err(span_rest(1u64 << (12 + 9 * u32::from(level - 1)).min(63))),
                Err(_) => Err(span_rest(PAGE_SIZE)),
            },
            UserTables::Aarch64(t) => match t.translate(address) {
                Ok(t) => Ok(t),
                Err(Aarch64TranslateError::NotPresent { level, .. })
                | Err(Aarch64TranslateError::TableNotInDump { level, .. }) => {
                    Err(span_rest(t.entry_span(level)))
                }
                Err(_) => Err(span_rest(t.page_size())),
            },
        }
    }
}

/// A process view, with the kernel facts it was built from and what could
/// not be read.
pub struct UserProcess {
    pub view: ProcessView,
    pub tgid: i32,
    pub mm: u64,
    /// `mm->pgd` (a direct-map address) and its physical address.
    pub pgd: u64,
    pub pgd_physical: u64,
    pub vmas: Vec<Vma>,
    /// What was left out, and why.
    pub problems: Vec<String>,
}

impl KernelProcesses<'_> {
    /// The process that `pid` (any of its threads) belongs to, from the
    /// kernel's task list.
    pub fn process(&self, tasks: &[KernelTask], pid: i64) -> Result<UserProcess, String> {
        let asked = tasks
            .iter()
            .find(|t| i64::from(t.pid) == pid)
            .ok_or_else(|| format!("no task has pid {pid}"))?;
        let tgid = asked.tgid;
        let mut threads: Vec<&KernelTask> = tasks.iter().filter(|t| t.tgid == tgid).collect();
        threads.sort_by_key(|t| (t.pid != tgid, t.pid));
        // A leader that exited keeps its threads' mm in them.
        let mm = threads
            .iter()
            .map(|t| t.mm)
            .find(|&mm| mm != 0)
            .ok_or_else(|| {
                format!(
                    "pid {pid} ({}) is a kernel thread: it has no user address space",
                    asked.comm
                )
            })?;
        let leader = threads.first().copied().unwrap_or(asked);
        let kernel = &*self.kernel;
        let mut problems = Vec::new();
        let layout = self.layout;
        let read = |at: u64, what: &str| {
            kernel
                .read_u64(at)
                .map_err(|e| format!("{what} at {at:#x} cannot be read: {e}"))
        };
        let pgd = read(mm.wrapping_add(layout.mm.pgd), "mm->pgd")?;
        let (page_offset, phys_offset) = self.direct_map();
        let pgd_physical = pgd
            .checked_sub(page_offset)
            .and_then(|offset| offset.checked_add(phys_offset))
            .ok_or_else(|| {
                format!("mm->pgd {pgd:#x} is not in the direct map at {page_offset:#x}")
            })?;
        let physical: Arc<dyn Memory> = Arc::new(DirectMapPhysical {
            kernel: Arc::clone(&self.kernel),
            page_offset,
            phys_offset,
        });
        let tables = match &self.paging {
            UserPaging::X86_64(paging) => UserTables::X86_64(KernelMemory::x86_64_with_root(
                Arc::clone(&physical),
                pgd_physical,
                paging,
            )?),
            UserPaging::Aarch64 { paging, .. } => UserTables::Aarch64(
                Aarch64KernelMemory::with_user_root(Arc::clone(&physical), pgd_physical, paging)?,
            ),
        };
        let vmas = self.vmas(mm, &mut problems);
        let user_limit = self.paging.user_limit();
        let memory = Arc::new(UserMemory {
            tables,
            vmas: vmas.iter().map(|v| (v.start, v.end)).collect(),
            user_limit,
        });
        let mm_word = |offset: u64| kernel.read_u64(mm.wrapping_add(offset)).unwrap_or(0);
        let brk = (mm_word(layout.mm.start_brk), mm_word(layout.mm.brk));
        let start_stack = mm_word(layout.mm.start_stack);
        let regions = self.regions(&memory, &physical, &vmas, brk, start_stack, &mut problems);
        let auxv = self.auxv(mm);
        let executable = layout.mm.exe_file.and_then(|offset| {
            let file = kernel.read_u64(mm.wrapping_add(offset)).ok()?;
            (file != 0).then(|| {
                path_of(kernel, &layout.dentry, file.wrapping_add(layout.file_path))
                    .map_err(|e| problems.push(format!("the executable's path: {e}")))
                    .ok()
            })?
        });
        let args = command_line(
            &*memory,
            mm_word(layout.mm.arg_start),
            mm_word(layout.mm.arg_end),
        );
        let mut view_threads = Vec::new();
        for task in &threads {
            match self.user_registers(task) {
                Ok(registers) => view_threads.push(Thread {
                    tid: u64::try_from(task.pid).unwrap_or(0),
                    name: Some(task.comm.clone()),
                    registers,
                    float: None,
                    signal: None,
                    pending_signals: None,
                    blocked_signals: None,
                    user_time_us: None,
                    system_time_us: None,
                }),
                Err(e) => problems.push(format!("thread {} ({}): {e}", task.pid, task.comm)),
            }
        }
        let modules = modules(&*memory, &vmas, &auxv, executable.as_deref());
        let view = ProcessView {
            facts: Some(Process {
                pid: u64::try_from(tgid).ok(),
                ppid: u64::try_from(leader.ppid).ok(),
                name: Some(leader.comm.clone()),
                args,
                state: Some(leader.state),
                executable,
                ..Process::default()
            }),
            threads: view_threads,
            modules,
            regions,
            auxv,
            // Return addresses signed above the user VA size.
            pointer_auth: (self.paging.arch() == Arch::Aarch64).then(|| {
                let mask =
                    crate::unwind::pointer_auth::pac_mask_for_va_bits(user_limit.trailing_zeros());
                PointerAuthMasks {
                    data: mask,
                    insn: mask,
                }
            }),
            ..ProcessView::empty(memory)
        };
        Ok(UserProcess {
            view,
            tgid,
            mm,
            pgd,
            pgd_physical,
            vmas,
            problems,
        })
    }

    /// The direct (linear) map's base and the physical address it maps
    /// there. x86_64: `page_offset_base` (KASLR), else the fixed base of
    /// the paging depth in use, from physical 0. aarch64: −2^VA_BITS, from
    /// PHYS_OFFSET.
    fn direct_map(&self) -> (u64, u64) {
        match &self.paging {
            UserPaging::X86_64(paging) => (
                self.symbols
                    .and_then(|s| s.address_of("page_offset_base"))
                    .and_then(|at| self.kernel.read_u64(at).ok())
                    .filter(|&base| base >> 63 == 1)
                    .unwrap_or(if paging.levels == 5 {
                        PAGE_OFFSET_5_LEVEL
                    } else {
                        PAGE_OFFSET_4_LEVEL
                    }),
                0,
            ),
            UserPaging::Aarch64 {
                paging,
                phys_offset,
            } => (u64::MAX << paging.va_bits.min(63), *phys_offset),
        }
    }

    /// The user registers of `task`: the pt_regs at the top of its kernel
    /// stack (the first THREAD_SIZE whose pt_regs are user mode's), with
    /// its FS and GS bases on x86_64.
    pub fn user_registers(&self, task: &KernelTask) -> Result<RegisterSet, String> {
        let layout = self.layout;
        let kernel = &*self.kernel;
        if task.stack == 0 {
            return Err("no kernel stack (the task has exited)".into());
        }
        if layout.user_mode.arch() != self.paging.arch() {
            return Err("the pt_regs layout is not this kernel's architecture".into());
        }
        let mut last_error = String::new();
        for &size in &layout.thread_sizes {
            let Some(regs) = task
                .stack
                .checked_add(size)
                .and_then(|top| top.checked_sub(layout.pt_regs_size))
            else {
                continue;
            };
            let word = |offset| kernel.read_u64(regs.wrapping_add(offset));
            let user_mode = match layout.user_mode {
                UserMode::Selectors { cs, ss } => match (word(cs), word(ss)) {
                    (Ok(cs), Ok(ss)) if cs & 3 == 3 && ss & 3 == 3 => Ok(()),
                    (Ok(cs), Ok(ss)) => Err(format!(
                        "the pt_regs at {regs:#x} (THREAD_SIZE {size:#x}) hold no user-mode \
                         selectors (cs {cs:#x}, ss {ss:#x})"
                    )),
                    (Err(e), _) | (_, Err(e)) => {
                        Err(format!("its pt_regs at {regs:#x} cannot be read: {e}"))
                    }
                },
                UserMode::Pstate { pstate } => match word(pstate) {
                    Ok(pstate) if pstate & AARCH64_PSTATE_MODE == 0 => Ok(()),
                    Ok(pstate) => Err(format!(
                        "the pt_regs at {regs:#x} (THREAD_SIZE {size:#x}) are not user mode's \
                         (pstate {pstate:#x}, not EL0t)"
                    )),
                    Err(e) => Err(format!("its pt_regs at {regs:#x} cannot be read: {e}")),
                },
            };
            if let Err(e) = user_mode {
                last_error = e;
                continue;
            }
            let mut registers = RegisterSet::new(layout.user_mode.arch());
            for &(name, offset) in &layout.pt_regs {
                let value = kernel
                    .read_u64(regs.wrapping_add(offset))
                    .map_err(|e| format!("its pt_regs at {regs:#x}: {e}"))?;
                registers.set_named(name, value);
            }
            for (name, offset) in [("fs_base", layout.fsbase), ("gs_base", layout.gsbase)] {
                if let Some(value) =
                    offset.and_then(|o| kernel.read_u64(task.address.wrapping_add(o)).ok())
                {
                    registers.set_named(name, value);
                }
            }
            return Ok(registers);
        }
        Err(last_error)
    }

    /// The VMAs of `mm` in address order: its maple tree, or the `mmap`
    /// list of a kernel before 6.1.
    pub fn vmas(&self, mm: u64, problems: &mut Vec<String>) -> Vec<Vma> {
        let layout = self.layout;
        let kernel = &*self.kernel;
        let addresses: Vec<u64> = match (layout.mm.mm_mt, &layout.maple, layout.mm.mmap) {
            (Some(tree), Some(maple), _) => {
                let found = maple_tree::walk(kernel, maple, mm.wrapping_add(tree), MAX_VMAS);
                problems.extend(found.problems.into_iter().map(|p| format!("VMAs: {p}")));
                found.entries.iter().map(|e| e.value).collect()
            }
            (_, _, Some(head)) => vma_list(kernel, mm.wrapping_add(head), layout, problems),
            _ => {
                problems.push("VMAs: BTF describes neither mm->mm_mt nor mm->mmap".into());
                Vec::new()
            }
        };
        let special_ops: Vec<u64> = self
            .symbols
            .map(|s| {
                ["special_mapping_vmops", "legacy_special_mapping_vmops"]
                    .iter()
                    .filter_map(|n| s.address_of(n))
                    .collect()
            })
            .unwrap_or_default();
        // Without data symbols (no CONFIG_KALLSYMS_ALL, as Debian's arm64
        // kernels), the ops are known by their `name` method.
        let special_name_method = self
            .symbols
            .and_then(|s| s.address_of("special_mapping_name"));
        let special = SpecialOps {
            tables: special_ops,
            name_method: special_name_method.zip(self.layout.vma.ops_name),
        };
        let mut vmas: Vec<Vma> = Vec::new();
        for address in addresses {
            match self.read_vma(address, &special) {
                Ok(vma) => {
                    // The tree is in address order; anything else is damage.
                    if vmas.last().is_some_and(|last| vma.start < last.end) || vma.start >= vma.end
                    {
                        problems.push(format!(
                            "VMA at {address:#x} ({:#x}-{:#x}) overlaps or is empty: left out",
                            vma.start, vma.end
                        ));
                        continue;
                    }
                    vmas.push(vma);
                }
                Err(e) => problems.push(format!("VMA at {address:#x}: {e}")),
            }
        }
        vmas
    }

    fn read_vma(&self, address: u64, special_ops: &SpecialOps) -> Result<Vma, String> {
        let l = &self.layout.vma;
        let kernel = &*self.kernel;
        let word = |offset: u64| {
            kernel
                .read_u64(address.wrapping_add(offset))
                .map_err(|e| format!("cannot be read: {e}"))
        };
        let file_ptr = word(l.file)?;
        let file = match file_ptr {
            0 => None,
            f => Some(
                path_of(
                    kernel,
                    &self.layout.dentry,
                    f.wrapping_add(self.layout.file_path),
                )
                .unwrap_or_else(|e| format!("(path unreadable: {e})")),
            ),
        };
        let ops = word(l.ops)?;
        let special = (file.is_none() && ops != 0 && special_ops.are(kernel, ops))
            .then(|| {
                let mapping = word(l.private_data).ok()?;
                let name = kernel.read_u64(mapping).ok()?;
                read_c_string(kernel, name, 64)
            })
            .flatten();
        Ok(Vma {
            address,
            start: word(l.start)?,
            end: word(l.end)?,
            flags: word(l.flags)?,
            pgoff: word(l.pgoff)?,
            file,
            special,
        })
    }

    fn auxv(&self, mm: u64) -> Vec<AuxvEntry> {
        let Some((offset, count)) = self.layout.mm.saved_auxv else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in (0..count.min(2 * MAX_AUXV as u64)).step_by(2) {
            let at = mm.wrapping_add(offset).wrapping_add(i * 8);
            let (Ok(key), Ok(value)) = (
                self.kernel.read_u64(at),
                self.kernel.read_u64(at.wrapping_add(8)),
            ) else {
                break;
            };
            if key == 0 {
                break;
            }
            out.push(AuxvEntry { key, value });
        }
        out
    }

    /// The VMAs as regions, each with how much of it the dump holds: pages
    /// that are mapped (the page tables say present) and whose physical
    /// page the dump kept.
    fn regions(
        &self,
        memory: &UserMemory,
        physical: &Arc<dyn Memory>,
        vmas: &[Vma],
        (start_brk, brk): (u64, u64),
        start_stack: u64,
        problems: &mut Vec<String>,
    ) -> Vec<Region> {
        let mut budget = MAX_PROBED_PAGES;
        let mut counted_all = true;
        let regions = vmas
            .iter()
            .map(|vma| {
                let captured = captured_bytes(&memory.tables, &**physical, vma, &mut budget);
                counted_all &= captured.is_some();
                let captured = captured.unwrap_or(0);
                let size = vma.end - vma.start;
                let kind = match (&vma.file, vma.special.as_deref()) {
                    (_, Some("[vdso]")) => LinuxMappingKind::Vdso,
                    (_, Some("[vvar]")) => LinuxMappingKind::Vvar,
                    (None, _) if vma.start <= start_stack && start_stack < vma.end => {
                        LinuxMappingKind::Stack
                    }
                    (None, _) if vma.start < brk.max(start_brk + 1) && start_brk < vma.end => {
                        LinuxMappingKind::Heap
                    }
                    (Some(_), _) if vma.shared() => LinuxMappingKind::FileShared,
                    (Some(_), _) => LinuxMappingKind::FilePrivate,
                    (None, _) if vma.shared() => LinuxMappingKind::AnonShared,
                    (None, _) => LinuxMappingKind::AnonPrivate,
                };
                // mmap's flags as the mapping implies them.
                let mut mmap_flags = if vma.shared() { 0x1 } else { 0x2 };
                if vma.file.is_none() {
                    mmap_flags |= 0x20;
                }
                if vma.flags & VM_GROWSDOWN != 0 {
                    mmap_flags |= 0x100;
                }
                Region {
                    start: vma.start,
                    end: vma.end,
                    protection: vma.protection(),
                    sharing: if vma.shared() {
                        Sharing::Shared
                    } else {
                        Sharing::Private
                    },
                    file: vma.file.as_ref().map(|path| RegionFile {
                        path: path.clone(),
                        offset: vma.pgoff.saturating_mul(PAGE_SIZE),
                    }),
                    capture: match captured {
                        0 => Capture::Absent,
                        c if c >= size => Capture::Full,
                        c => Capture::Partial { bytes: c },
                    },
                    image_offset: None,
                    windows: None,
                    linux: Some(LinuxRegion {
                        mmap_flags,
                        vma_status: None,
                        madvise: None,
                        kind: Some(kind),
                    }),
                }
            })
            .collect();
        if !counted_all {
            problems.push(format!(
                "more than {MAX_PROBED_PAGES} mapped pages: the regions past them are shown as \
                 absent without looking"
            ));
        }
        regions
    }
}

/// How a special mapping's `vm_ops` are known: by their address
/// (`special_mapping_vmops`), or by their `name` method
/// (`special_mapping_name`, at its offset in `vm_operations_struct`).
struct SpecialOps {
    tables: Vec<u64>,
    name_method: Option<(u64, u64)>,
}

impl SpecialOps {
    fn are(&self, kernel: &dyn Memory, ops: u64) -> bool {
        self.tables.contains(&ops)
            || self.name_method.is_some_and(|(method, offset)| {
                kernel.read_u64(ops.wrapping_add(offset)).ok() == Some(method)
            })
    }
}

/// The bytes of `vma` whose page is mapped and in the dump; None once the
/// budget of pages to check runs out. A table entry that is not present
/// skips all it would map.
fn captured_bytes(
    tables: &UserTables,
    physical: &dyn Memory,
    vma: &Vma,
    budget: &mut u64,
) -> Option<u64> {
    let mut captured = 0u64;
    let mut address = vma.start;
    while address < vma.end {
        let step = match tables.translate_or_skip(address) {
            Ok(t) => {
                if *budget == 0 {
                    return None;
                }
                *budget -= 1;
                let page = t.remaining_in_page.min(vma.end - address);
                if physical.read(t.physical, &mut [0u8; 1]).is_ok() {
                    captured += page;
                }
                page
            }
            // Nothing below a missing entry: skip what it would map.
            Err(skip) => skip,
        };
        address = address.saturating_add(step.max(1));
    }
    Some(captured)
}

/// The `vm_next` list of a kernel before 6.1, from `mm->mmap`.
fn vma_list(
    kernel: &dyn Memory,
    head: u64,
    layout: &UserLayout,
    problems: &mut Vec<String>,
) -> Vec<u64> {
    let Some(next) = layout.vma.next else {
        problems.push("VMAs: BTF has no vm_area_struct.vm_next".into());
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut vma = kernel.read_u64(head).unwrap_or(0);
    while vma != 0 {
        if !seen.insert(vma) || out.len() >= MAX_VMAS {
            problems.push(format!(
                "VMAs: the list loops or runs past {MAX_VMAS} at {vma:#x}"
            ));
            break;
        }
        out.push(vma);
        match kernel.read_u64(vma.wrapping_add(next)) {
            Ok(n) => vma = n,
            Err(e) => {
                problems.push(format!("VMAs: the link of {vma:#x} cannot be read: {e}"));
                break;
            }
        }
    }
    out
}

/// A NUL-terminated string of at most `max` bytes.
fn read_c_string(memory: &dyn Memory, address: u64, max: usize) -> Option<String> {
    let mut buf = vec![0u8; max];
    let n = memory.read_available(address, &mut buf);
    let end = buf[..n].iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The command line between `arg_start` and `arg_end` in the process's
/// memory, its NULs as spaces; None when it is not in the dump.
fn command_line(memory: &dyn Memory, start: u64, end: u64) -> Option<String> {
    let len = usize::try_from(end.checked_sub(start)?).ok()?.min(MAX_ARGS);
    if len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    memory.read_exact(start, &mut buf).ok()?;
    let text: Vec<u8> = buf.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
    Some(String::from_utf8_lossy(&text).trim_end().to_string())
}

/// The process's ELF files as modules: per file, from its lowest mapping
/// (file offset 0), with the build-id and load bias from its ELF header in
/// memory where the dump holds that page; a file whose header page is not
/// in the dump but that is mapped executable is still a module (the
/// symbolizer reads its headers from the file). Special mappings named
/// `[vdso]` are the vDSO. The main one holds AT_ENTRY, or is the
/// executable.
fn modules(
    memory: &dyn Memory,
    vmas: &[Vma],
    auxv: &[AuxvEntry],
    executable: Option<&str>,
) -> Vec<Module> {
    const AT_ENTRY: u64 = 9;
    let mut paths: Vec<&str> = Vec::new();
    for vma in vmas {
        if let Some(f) = vma.file.as_deref()
            && !paths.contains(&f)
        {
            paths.push(f);
        }
    }
    let mut modules = Vec::new();
    for path in paths {
        let maps: Vec<&Vma> = vmas
            .iter()
            .filter(|v| v.file.as_deref() == Some(path))
            .collect();
        let Some(lowest) = maps.first() else {
            continue;
        };
        if lowest.pgoff != 0 {
            continue;
        }
        let base = lowest.start;
        let end = maps.iter().map(|m| m.end).max().unwrap_or(base);
        let identity = elf_identity(memory, base);
        if identity.is_none() && !maps.iter().any(|m| m.flags & VM_EXEC != 0) {
            continue;
        }
        let (build_id, min_vaddr) = identity.unwrap_or_default();
        modules.push(Module {
            name: path.rsplit('/').next().unwrap_or(path).to_string(),
            path: path.to_string(),
            base,
            size: end - base,
            build_id,
            load_bias: min_vaddr.map(|v| base.wrapping_sub(v)),
            sources: if identity_read(memory, base) {
                vec![ModuleSource::FileMappings, ModuleSource::MemoryHeader]
            } else {
                vec![ModuleSource::FileMappings]
            },
            is_main: false,
            pe: None,
        });
    }
    for vma in vmas
        .iter()
        .filter(|v| v.special.as_deref() == Some("[vdso]"))
    {
        let (build_id, min_vaddr) = elf_identity(memory, vma.start).unwrap_or_default();
        modules.push(Module {
            name: "[vdso]".into(),
            path: "[vdso]".into(),
            base: vma.start,
            size: vma.end - vma.start,
            build_id,
            load_bias: min_vaddr.map(|v| vma.start.wrapping_sub(v)),
            sources: vec![ModuleSource::Vdso],
            is_main: false,
            pe: None,
        });
    }
    let entry = auxv.iter().find(|e| e.key == AT_ENTRY).map(|e| e.value);
    let main = modules
        .iter()
        .position(|m| entry.is_some_and(|e| m.contains(e)))
        .or_else(|| {
            modules
                .iter()
                .position(|m| Some(m.path.as_str()) == executable)
        });
    if let Some(i) = main {
        modules[i].is_main = true;
    }
    modules.sort_by_key(|m| m.base);
    modules
}

fn identity_read(memory: &dyn Memory, base: u64) -> bool {
    let mut magic = [0u8; 4];
    memory.read_exact(base, &mut magic).is_ok() && magic == *b"\x7fELF"
}

/// The build-id and lowest PT_LOAD address (page-aligned) of the ELF image
/// whose header is at `base`; None when the header is not readable.
fn elf_identity(memory: &dyn Memory, base: u64) -> Option<(Option<String>, Option<u64>)> {
    const MAX_PHDRS: usize = 256;
    const MAX_NOTES: u64 = 64 << 10;
    let mut ehdr = [0u8; 64];
    memory.read_exact(base, &mut ehdr).ok()?;
    if ehdr[..4] != *b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        return None;
    }
    let header: Header = goblin::elf::Elf::parse_header(&ehdr).ok()?;
    let ctx = Ctx::new(Container::Big, Endian::Little);
    if usize::from(header.e_phentsize) != ProgramHeader::size(ctx) {
        return None;
    }
    let count = usize::from(header.e_phnum).min(MAX_PHDRS);
    let mut table = vec![0u8; count * ProgramHeader::size(ctx)];
    memory
        .read_exact(base.checked_add(header.e_phoff)?, &mut table)
        .ok()?;
    let phdrs = ProgramHeader::parse(&table, 0, count, ctx).ok()?;
    let min_vaddr = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .map(|p| p.p_vaddr & !(PAGE_SIZE - 1))
        .min();
    let bias = min_vaddr.map(|v| base.wrapping_sub(v))?;
    let build_id = phdrs.iter().filter(|p| p.p_type == PT_NOTE).find_map(|p| {
        let mut notes = vec![0u8; p.p_filesz.min(MAX_NOTES) as usize];
        memory
            .read_exact(bias.wrapping_add(p.p_vaddr), &mut notes)
            .ok()?;
        gnu_build_id(&notes, p.p_align.max(4))
    });
    Some((build_id, min_vaddr))
}

/// The GNU build-id note among `notes`, lower-case hex.
fn gnu_build_id(notes: &[u8], align: u64) -> Option<String> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let align = usize::try_from(align.min(8)).ok()?;
    let up = |v: usize| v.checked_add(align - 1).map(|v| v / align * align);
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            notes.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let mut at = 0usize;
    while at.checked_add(12)? <= notes.len() {
        let namesz = u32_at(at)? as usize;
        let descsz = u32_at(at + 4)? as usize;
        let kind = u32_at(at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(up(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if kind == NT_GNU_BUILD_ID && notes.get(name_at..name_at + namesz)? == b"GNU\0" {
            return Some(desc.iter().map(|b| format!("{b:02x}")).collect());
        }
        at = desc_at.checked_add(up(descsz)?)?;
    }
    None
}

/// Physical memory read through the kernel's direct map: physical `p` is
/// kernel-virtual `page_offset + (p - phys_offset)`. A page the dump left
/// out keeps its reason.
struct DirectMapPhysical {
    kernel: Arc<dyn Memory>,
    page_offset: u64,
    phys_offset: u64,
}

impl Memory for DirectMapPhysical {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        let Some(virt) = address
            .checked_sub(self.phys_offset)
            .and_then(|offset| self.page_offset.checked_add(offset))
        else {
            return Err(MemoryError::Absent {
                address,
                physical: address,
                reason: Absence::NotRam,
            });
        };
        self.kernel
            .read(virt, buf)
            .map_err(|e| MemoryError::Absent {
                address,
                physical: address,
                // The direct map covers all RAM: what it does not map is not RAM.
                reason: e.absence().unwrap_or(Absence::NotRam),
            })
    }
}

/// A process's address space: its VMAs, through its page tables. An
/// address outside every VMA is not mapped, whatever the tables hold.
struct UserMemory {
    tables: UserTables,
    /// Sorted, disjoint.
    vmas: Vec<(u64, u64)>,
    /// The first kernel address (the lower half ends below it).
    user_limit: u64,
}

impl Memory for UserMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        let i = self.vmas.partition_point(|&(_, end)| end <= address);
        let Some(&(start, end)) = self.vmas.get(i).filter(|(s, _)| *s <= address) else {
            return Err(MemoryError::Unmapped { address });
        };
        if address >= self.user_limit || start >= end {
            return Err(MemoryError::Unmapped { address });
        }
        let n = (buf.len() as u64).min(end - address) as usize;
        self.tables.read(address, &mut buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_notes_and_hostile_ones() {
        let mut note = Vec::new();
        for w in [4u32, 4, 3] {
            note.extend_from_slice(&w.to_le_bytes());
        }
        note.extend_from_slice(b"GNU\0");
        note.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(gnu_build_id(&note, 4).as_deref(), Some("deadbeef"));
        // Another note first, then the build-id.
        let mut two = Vec::new();
        for w in [4u32, 8, 1] {
            two.extend_from_slice(&w.to_le_bytes());
        }
        two.extend_from_slice(b"GNU\0");
        two.extend_from_slice(&[0; 8]);
        two.extend_from_slice(&note);
        assert_eq!(gnu_build_id(&two, 4).as_deref(), Some("deadbeef"));
        // Sizes past the end, and a huge name size.
        let mut bad = note.clone();
        bad[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(gnu_build_id(&bad, 4), None);
        bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gnu_build_id(&bad, 4), None);
        assert_eq!(gnu_build_id(&[], 4), None);
    }

    #[test]
    fn user_memory_refuses_addresses_outside_its_vmas() {
        use crate::kernel::maple_tree::tests::Pages;
        let physical: Arc<dyn Memory> = Arc::new(Pages::default());
        let tables =
            KernelMemory::x86_64_with_root(Arc::clone(&physical), 0x1000, &X86_64Paging::new(0, 0))
                .unwrap();
        let memory = UserMemory {
            tables: UserTables::X86_64(tables),
            vmas: vec![(0x40_0000, 0x40_1000)],
            user_limit: 1 << 47,
        };
        let mut b = [0u8; 8];
        assert_eq!(
            memory.read(0x3f_f000, &mut b),
            Err(MemoryError::Unmapped { address: 0x3f_f000 })
        );
        assert_eq!(
            memory.read(0x40_1000, &mut b),
            Err(MemoryError::Unmapped { address: 0x40_1000 })
        );
        // Inside a VMA the tables answer (here: the root is not in memory).
        assert!(matches!(
            memory.read(0x40_0ff8, &mut b),
            Err(MemoryError::TableAbsent { .. })
        ));
        // A root that is not a page is refused.
        assert!(
            KernelMemory::x86_64_with_root(physical, 0x1001, &X86_64Paging::new(0, 0)).is_err()
        );
    }

    /// Kernel memory whose direct map holds one page at physical 0x5000 and
    /// says the page at 0x6000 was excluded by dump level 23.
    struct DirectMap;

    const OFFSET: u64 = PAGE_OFFSET_4_LEVEL;

    impl Memory for DirectMap {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            match address.wrapping_sub(OFFSET) & !0xfff {
                0x5000 => {
                    buf.fill(0xab);
                    Ok(buf.len().min(0x1000 - (address & 0xfff) as usize))
                }
                0x6000 => Err(MemoryError::Absent {
                    address,
                    physical: address - OFFSET,
                    reason: Absence::Excluded {
                        dump_level: Some(23),
                    },
                }),
                _ => Err(MemoryError::NotPresent {
                    address,
                    level: crate::memory::PageTableLevel::Pmd,
                }),
            }
        }
    }

    #[test]
    fn physical_pages_read_through_the_direct_map_keep_why_they_are_absent() {
        let physical = DirectMapPhysical {
            kernel: Arc::new(DirectMap),
            page_offset: OFFSET,
            phys_offset: 0,
        };
        let mut b = [0u8; 4];
        assert_eq!(physical.read(0x5ffe, &mut b), Ok(2));
        assert_eq!(
            physical.read(0x6010, &mut b),
            Err(MemoryError::Absent {
                address: 0x6010,
                physical: 0x6010,
                reason: Absence::Excluded {
                    dump_level: Some(23)
                }
            })
        );
        // What the direct map does not map is no RAM.
        assert_eq!(
            physical.read(0x9000, &mut b).unwrap_err().absence(),
            Some(Absence::NotRam)
        );
        assert_eq!(
            physical.read(u64::MAX, &mut b).unwrap_err().absence(),
            Some(Absence::NotRam)
        );
    }

    /// A layout with VMA members at 0, 8, … and `vm_next` at `next`.
    fn bare_layout(next: u64) -> UserLayout {
        UserLayout {
            thread_sizes: vec![],
            pt_regs_size: 0,
            pt_regs: vec![],
            user_mode: UserMode::Pstate { pstate: 0 },
            fsbase: None,
            gsbase: None,
            mm: MmLayout {
                pgd: 0,
                mm_mt: None,
                mmap: Some(0),
                start_brk: 0,
                brk: 0,
                start_stack: 0,
                arg_start: 0,
                arg_end: 0,
                exe_file: None,
                saved_auxv: None,
            },
            vma: VmaLayout {
                start: 0,
                end: 8,
                flags: 24,
                pgoff: 32,
                file: 40,
                ops: 48,
                private_data: 56,
                next: Some(next),
                ops_name: None,
            },
            file_path: 0,
            dentry: DentryLayout {
                parent: 0,
                name_len: 0,
                name: 0,
                path_mnt: 0,
                path_dentry: 0,
                mnt_root: 0,
                mount: None,
            },
            maple: None,
        }
    }

    #[test]
    fn a_vma_list_that_loops_stops_with_a_problem() {
        use crate::kernel::maple_tree::tests::Pages;
        let mut p = Pages::default();
        // mm->mmap at 0x1000 -> 0x2000 -> 0x3000 -> 0x2000 (vm_next at 16).
        p.put_u64(0x1000, 0x2000);
        p.put_u64(0x2010, 0x3000);
        p.put_u64(0x3010, 0x2000);
        let mut layout_problems = Vec::new();
        let next = 16;
        let layout = bare_layout(next);
        assert_eq!(
            vma_list(&p, 0x1000, &layout, &mut layout_problems),
            [0x2000, 0x3000]
        );
        assert!(layout_problems[0].contains("loops"), "{layout_problems:?}");
        // An unreadable link ends the list there.
        p.put_u64(0x3010, 0x7777_0000);
        let mut problems = Vec::new();
        assert_eq!(
            vma_list(&p, 0x1000, &layout, &mut problems),
            [0x2000, 0x3000, 0x7777_0000]
        );
        assert!(problems[0].contains("cannot be read"), "{problems:?}");
    }

    #[test]
    fn command_lines_read_with_their_nuls_as_spaces() {
        use crate::kernel::maple_tree::tests::Pages;
        let mut p = Pages::default();
        p.put(0x7000, b"/bin/ckdump-threads\0process\0");
        assert_eq!(
            command_line(&p, 0x7000, 0x7000 + 28).as_deref(),
            Some("/bin/ckdump-threads process")
        );
        assert_eq!(command_line(&p, 0x7000, 0x6000), None);
        assert_eq!(command_line(&p, 0x9000, 0x9010), None);
    }

    #[test]
    fn aarch64_pt_regs_are_taken_only_when_pstate_says_el0t() {
        use crate::kernel::maple_tree::tests::Pages;
        use crate::memory::page_tables_aarch64::Aarch64Paging;
        let mut layout = bare_layout(16);
        layout.thread_sizes = vec![0x4000, 0x8000];
        layout.pt_regs_size = 0x150;
        layout.pt_regs = vec![("sp", 0xf8), ("pc", 0x100), ("pstate", 0x108)];
        layout.user_mode = UserMode::Pstate { pstate: 0x108 };
        let mut p = Pages::default();
        // THREAD_SIZE 16 KiB: an EL1h pstate (a kernel thread's frame);
        // 32 KiB: EL0t with the user's sp and pc.
        let stack = 0x10_0000u64;
        let regs16 = stack + 0x4000 - 0x150;
        let regs32 = stack + 0x8000 - 0x150;
        p.put_u64(regs16 + 0x108, 0x3c5);
        p.put_u64(regs32 + 0xf8, 0xffff_e477_fd90);
        p.put_u64(regs32 + 0x100, 0x42_2ca0);
        p.put_u64(regs32 + 0x108, 0x8000_1000);
        let kernel: Arc<dyn Memory> = Arc::new(p);
        let processes = KernelProcesses {
            kernel,
            symbols: None,
            layout: &layout,
            paging: UserPaging::Aarch64 {
                paging: Aarch64Paging::new(0, 0),
                phys_offset: 0x4000_0000,
            },
        };
        let task = KernelTask {
            address: 0x9000,
            pid: 104,
            tgid: 102,
            ppid: 1,
            comm: "ckw-worker-0".into(),
            state: 'S',
            state_bits: 1,
            kernel_thread: false,
            cpu: None,
            on_cpu: false,
            stack,
            saved_sp: 0,
            mm: 0x5000,
        };
        let registers = processes.user_registers(&task).unwrap();
        assert_eq!(registers.arch, Arch::Aarch64);
        assert_eq!(registers.get_named("pc"), Some(0x42_2ca0));
        assert_eq!(registers.get_named("sp"), Some(0xffff_e477_fd90));
        // Only the EL1h frame: refused, saying why.
        let only16 = UserLayout {
            thread_sizes: vec![0x4000],
            ..layout.clone()
        };
        let e = KernelProcesses {
            layout: &only16,
            ..processes
        }
        .user_registers(&task)
        .unwrap_err();
        assert!(e.contains("pstate 0x3c5, not EL0t"), "{e}");
    }

    #[test]
    fn the_aarch64_linear_map_starts_at_phys_offset() {
        let physical = DirectMapPhysical {
            kernel: Arc::new(DirectMap),
            page_offset: OFFSET,
            phys_offset: 0x4000_0000,
        };
        let mut b = [0u8; 4];
        assert_eq!(physical.read(0x4000_5ffe, &mut b), Ok(2));
        assert_eq!(
            physical.read(0x4000_6010, &mut b).unwrap_err().absence(),
            Some(Absence::Excluded {
                dump_level: Some(23)
            })
        );
        // Below PHYS_OFFSET there is no RAM.
        assert_eq!(
            physical.read(0x5000, &mut b).unwrap_err().absence(),
            Some(Absence::NotRam)
        );
    }
}
