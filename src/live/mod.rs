//! Live processes (Linux): stop every thread with ptrace, read registers,
//! mappings and memory into the common model (`ckdump inspect --pid`), or
//! save them as an ELF core (`ckdump snapshot`), then let the process run
//! on.
//!
//! Registers are captured as the note descriptors an ELF core holds
//! (NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE) and decoded by the ELF core
//! reader's own code, so a live inspect and an inspect of its snapshot
//! cannot disagree about a register.

pub mod kernel;
pub mod memory;
pub mod procfs;
pub mod ptrace;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libc::pid_t;

use crate::error::{Error, ErrorKind, Result};
use crate::image::elf_core;
use crate::image::linux_modules::{self, FileMapping};
use crate::model::{
    Arch, AuxvEntry, Capture, FormatDetails, Image, ImageFormat, LinuxRegion, Os, Process,
    ProcessView, Producer, Protection, Region, RegionFile, Sharing, Target, Thread,
};
use memory::{LiveMemory, ReadableRange};
use procfs::{Mapping, ProcessInfo, TaskInfo};
use ptrace::{AttachError, Session};

/// Register-set note types for PTRACE_GETREGSET (include/uapi/linux/elf.h).
const NT_PRSTATUS: u32 = 1;
const NT_PRFPREG: u32 = 2;
#[cfg(target_arch = "x86_64")]
const NT_X86_XSTATE: u32 = 0x202;

/// The architecture ckdump itself runs on, which is the only one it can
/// trace, with the ELF machine and the size of its `elf_gregset_t`.
struct HostArch {
    arch: Arch,
    machine: u16,
    gregs_size: usize,
}

#[cfg(target_arch = "x86_64")]
const HOST: Option<HostArch> = Some(HostArch {
    arch: Arch::X86_64,
    machine: elf_core::writer::EM_X86_64,
    gregs_size: 27 * 8,
});
#[cfg(target_arch = "aarch64")]
const HOST: Option<HostArch> = Some(HostArch {
    arch: Arch::Aarch64,
    machine: elf_core::writer::EM_AARCH64,
    gregs_size: 34 * 8,
});
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOST: Option<HostArch> = None;

/// One stopped thread's state, as raw register sets.
#[derive(Debug, Clone)]
pub struct ThreadContext {
    pub tid: u64,
    pub task: TaskInfo,
    /// `elf_gregset_t` (user_regs_struct / user_pt_regs).
    pub gregs: Vec<u8>,
    /// FXSAVE area (x86_64) or user_fpsimd_state (aarch64).
    pub fpregs: Option<Vec<u8>>,
    /// XSAVE area in the standard format (x86_64).
    pub xstate: Option<Vec<u8>>,
}

/// A process with every thread stopped. Dropping it detaches and the
/// process runs on.
pub struct LiveProcess {
    session: Session,
    pub arch: Arch,
    machine: u16,
    pub info: ProcessInfo,
    /// Leader first.
    pub threads: Vec<ThreadContext>,
    pub mappings: Vec<Mapping>,
    pub auxv_raw: Vec<u8>,
    pub memory: Arc<LiveMemory>,
    /// Seconds since the epoch when the threads were stopped.
    pub stopped_at: u64,
}

/// The name errors about a pid carry in place of a file name.
pub fn pid_label(pid: u64) -> PathBuf {
    PathBuf::from(format!("pid {pid}"))
}

fn live_error(pid: u64, kind: ErrorKind) -> Error {
    Error::new(&pid_label(pid), kind)
}

/// Why PTRACE_SEIZE was refused, and what to do: one line.
fn refusal_reason(pid: pid_t) -> String {
    if let Some(tracer) = procfs::tracer_of(pid) {
        let name = procfs::comm(tracer)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        return format!(
            "the process is already traced by pid {tracer}{name}; a process has one tracer at a time, detach that debugger first"
        );
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let owner = procfs::status(pid).ok().map(|s| s.ruid);
    let yama = match procfs::ptrace_scope() {
        Some(0) => String::new(),
        Some(1) => "; /proc/sys/kernel/yama/ptrace_scope is 1 (only a parent may trace its children): set it to 0 (sysctl kernel.yama.ptrace_scope=0)".to_string(),
        Some(2) => "; /proc/sys/kernel/yama/ptrace_scope is 2 (only CAP_SYS_PTRACE may trace)".to_string(),
        Some(3) => "; /proc/sys/kernel/yama/ptrace_scope is 3 (ptrace is disabled until reboot)".to_string(),
        Some(n) => format!("; /proc/sys/kernel/yama/ptrace_scope is {n}"),
        None => String::new(),
    };
    let who = match owner {
        Some(o) if o != euid => {
            format!("the process belongs to uid {o} and ckdump runs as uid {euid}")
        }
        _ => "the kernel refused (the process may be setuid or not dumpable)".to_string(),
    };
    format!("{who}{yama}; run as root or with CAP_SYS_PTRACE (e.g. sudo ckdump ...)")
}

/// Stops every thread of `pid` and reads what the model needs.
pub fn attach(pid: u64) -> Result<LiveProcess> {
    let Some(host) = HOST else {
        return Err(live_error(
            pid,
            ErrorKind::Unsupported(
                "live processes can be read on x86_64 and aarch64 Linux only".into(),
            ),
        ));
    };
    let Ok(raw_pid) = pid_t::try_from(pid) else {
        return Err(live_error(pid, ErrorKind::NoSuchProcess));
    };
    if raw_pid <= 0 {
        return Err(live_error(pid, ErrorKind::NoSuchProcess));
    }
    // A thread id of a multi-threaded process means its whole process.
    let tgid = match procfs::status(raw_pid) {
        Ok(s) => s.tgid,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(live_error(pid, ErrorKind::NoSuchProcess));
        }
        Err(e) => return Err(live_error(pid, ErrorKind::Io(e))),
    };
    if tgid as u32 == std::process::id() {
        return Err(live_error(
            pid,
            ErrorKind::PtraceRefused("that is ckdump itself".into()),
        ));
    }
    // Read before stopping: afterwards the state would say "t" (traced).
    let info = match procfs::process_info(tgid) {
        Ok(i) => i,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(live_error(pid, ErrorKind::NoSuchProcess));
        }
        Err(e) => return Err(live_error(pid, ErrorKind::Io(e))),
    };
    let session = Session::stop_all(tgid).map_err(|e| match e {
        AttachError::NotPermitted { .. } => {
            live_error(pid, ErrorKind::PtraceRefused(refusal_reason(tgid)))
        }
        AttachError::NoSuchProcess => live_error(pid, ErrorKind::NoSuchProcess),
        AttachError::DidNotStop { tid } => live_error(
            pid,
            ErrorKind::Unsupported(format!(
                "thread {tid} did not stop within 5 s (uninterruptible sleep, state D?); try again"
            )),
        ),
        AttachError::Unstable { rounds } => live_error(
            pid,
            ErrorKind::Unsupported(format!(
                "new threads kept appearing after {rounds} rounds of stopping them; try again"
            )),
        ),
        AttachError::Io(e) => live_error(pid, ErrorKind::Io(e)),
    })?;
    let stopped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let mut threads = Vec::with_capacity(session.tracees.len());
    for t in &session.tracees {
        let mut gregs = vec![0u8; 1024];
        let n = match ptrace::get_regset(t.tid, NT_PRSTATUS, &mut gregs) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
            Err(e) => return Err(live_error(pid, ErrorKind::Io(e))),
        };
        if n != host.gregs_size {
            return Err(live_error(
                pid,
                ErrorKind::Unsupported(format!(
                    "thread {} has {n} bytes of registers, not {} ({}): 32-bit processes are not supported live",
                    t.tid,
                    host.gregs_size,
                    host.arch.name()
                )),
            ));
        }
        gregs.truncate(n);
        let mut fp = vec![0u8; 4096];
        let fpregs = ptrace::get_regset(t.tid, NT_PRFPREG, &mut fp)
            .ok()
            .map(|n| {
                fp.truncate(n);
                fp
            });
        #[cfg(target_arch = "x86_64")]
        let xstate = {
            // The XSAVE area is ~2.7 KiB with AVX-512, ~11 KiB with AMX.
            let mut x = vec![0u8; 64 * 1024];
            ptrace::get_regset(t.tid, NT_X86_XSTATE, &mut x)
                .ok()
                .filter(|&n| n >= 576)
                .map(|n| {
                    x.truncate(n);
                    x
                })
        };
        #[cfg(not(target_arch = "x86_64"))]
        let xstate = None;
        threads.push(ThreadContext {
            tid: t.tid as u64,
            task: procfs::task_info(tgid, t.tid),
            gregs,
            fpregs,
            xstate,
        });
    }
    let mappings = procfs::mappings(tgid).map_err(|e| live_error(pid, ErrorKind::Io(e)))?;
    let auxv_raw = procfs::auxv(tgid).unwrap_or_default();
    let ranges = mappings
        .iter()
        .map(|m| ReadableRange {
            start: m.start,
            end: m.end,
            readable: offers_bytes(m),
        })
        .collect();
    Ok(LiveProcess {
        memory: Arc::new(LiveMemory::new(tgid, ranges)),
        session,
        arch: host.arch,
        machine: host.machine,
        info,
        threads,
        mappings,
        auxv_raw,
        stopped_at,
    })
}

/// Whether a mapping's bytes are read at all: readable, and not a device,
/// PFN map or the kernel's vvar pages (reading those can have effects or
/// fail).
pub fn offers_bytes(m: &Mapping) -> bool {
    m.read && !m.io && !m.pfnmap && !m.name.starts_with("[vvar")
}

/// The 64-bit `struct elf_prstatus` for one thread: signal fields zero
/// (nothing was delivered; the process was only stopped), pending and
/// blocked signals, ids, times, registers, pr_fpvalid.
pub fn prstatus_desc(info: &ProcessInfo, t: &ThreadContext, leader: bool) -> Vec<u8> {
    let mut d = vec![0u8; 112];
    d[16..24].copy_from_slice(&t.task.sigpend.to_le_bytes());
    d[24..32].copy_from_slice(&t.task.sigblk.to_le_bytes());
    d[32..36].copy_from_slice(&(t.tid as u32).to_le_bytes());
    d[36..40].copy_from_slice(&(info.ppid as u32).to_le_bytes());
    d[40..44].copy_from_slice(&(info.pgrp as u32).to_le_bytes());
    d[44..48].copy_from_slice(&(info.session as u32).to_le_bytes());
    let (cu, cs) = if leader {
        (info.cutime_us, info.cstime_us)
    } else {
        (0, 0)
    };
    for (i, us) in [t.task.utime_us, t.task.stime_us, cu, cs]
        .iter()
        .enumerate()
    {
        let at = 48 + i * 16;
        d[at..at + 8].copy_from_slice(&(us / 1_000_000).to_le_bytes());
        d[at + 8..at + 16].copy_from_slice(&(us % 1_000_000).to_le_bytes());
    }
    d.extend_from_slice(&t.gregs);
    d.extend_from_slice(&u32::from(t.fpregs.is_some()).to_le_bytes());
    d.extend_from_slice(&[0; 4]);
    d
}

/// Auxiliary vector pairs from /proc/PID/auxv.
fn parse_auxv(raw: &[u8]) -> Vec<AuxvEntry> {
    raw.chunks_exact(16)
        .map(|p| AuxvEntry {
            key: u64::from_le_bytes(p[..8].try_into().unwrap_or([0; 8])),
            value: u64::from_le_bytes(p[8..].try_into().unwrap_or([0; 8])),
        })
        .take_while(|e| e.key != 0)
        .collect()
}

impl LiveProcess {
    pub fn pid(&self) -> u64 {
        self.info.pid as u64
    }

    /// Detaches now; the process runs on (also what dropping does).
    pub fn detach(self) {
        self.session.detach();
    }

    /// Threads that exited (or were zombies) while they were being stopped.
    pub fn vanished_threads(&self) -> &[pid_t] {
        &self.session.vanished
    }

    /// The file mappings, as NT_FILE would list them.
    pub fn file_mappings(&self) -> Vec<FileMapping> {
        self.mappings
            .iter()
            .filter(|m| m.is_file())
            .map(|m| FileMapping {
                start: m.start,
                end: m.end,
                file_offset: m.offset,
                path: m.name.clone(),
                executable: Some(m.execute),
            })
            .collect()
    }

    fn model_threads(&self) -> Vec<Thread> {
        self.threads
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let prstatus = prstatus_desc(&self.info, t, i == 0);
                let mut thread = elf_core::thread_from_notes(
                    self.arch,
                    &prstatus,
                    t.fpregs.as_deref(),
                    t.xstate.as_deref(),
                )?;
                thread.name = t.task.comm.clone();
                Some(thread)
            })
            .collect()
    }

    fn regions(&self) -> Vec<Region> {
        self.mappings
            .iter()
            .map(|m| {
                const MAP_SHARED: u32 = 0x1;
                const MAP_PRIVATE: u32 = 0x2;
                const MAP_ANONYMOUS: u32 = 0x20;
                const MAP_GROWSDOWN: u32 = 0x100;
                let mut flags = if m.shared { MAP_SHARED } else { MAP_PRIVATE };
                if !m.is_file() {
                    flags |= MAP_ANONYMOUS;
                }
                if m.growsdown {
                    flags |= MAP_GROWSDOWN;
                }
                Region {
                    start: m.start,
                    end: m.end,
                    protection: Protection {
                        read: m.read,
                        write: m.write,
                        execute: m.execute,
                    },
                    sharing: if m.shared {
                        Sharing::Shared
                    } else {
                        Sharing::Private
                    },
                    file: m.is_file().then(|| RegionFile {
                        path: m.name.clone(),
                        offset: m.offset,
                    }),
                    capture: if offers_bytes(m) {
                        Capture::Full
                    } else {
                        Capture::Absent
                    },
                    image_offset: None,
                    windows: None,
                    linux: Some(LinuxRegion {
                        mmap_flags: flags,
                        vma_status: None,
                        madvise: None,
                        kind: None,
                    }),
                }
            })
            .collect()
    }

    /// The common model of the stopped process. Memory is read from the
    /// process on demand, so the image is only valid while `self` lives.
    pub fn image(&self) -> Image {
        let auxv = parse_auxv(&self.auxv_raw);
        let mappings = self.file_mappings();
        let page_size = linux_modules::auxv_value(&auxv, linux_modules::AT_PAGESZ)
            .and_then(crate::model::plausible_page_size)
            .unwrap_or(crate::model::DEFAULT_PAGE_SIZE);
        let modules = linux_modules::discover_modules(
            &*self.memory,
            &mappings,
            &auxv,
            self.arch.pointer_size(),
            page_size,
        );
        let info = &self.info;
        let args = info
            .cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let process = Process {
            pid: Some(info.pid as u64),
            ppid: Some(info.ppid as u64),
            pgid: Some(info.pgrp as u64),
            sid: Some(info.session as u64),
            uid: Some(u64::from(info.uid)),
            gid: Some(u64::from(info.gid)),
            name: Some(info.comm.clone()),
            args: Some(args),
            state: Some(info.state),
            nice: Some(info.nice),
            executable: modules
                .iter()
                .find(|m| m.is_main)
                .map(|m| m.path.clone())
                .or_else(|| info.exe.clone()),
        };
        let regions = self.regions();
        Image {
            path: PathBuf::from(format!("/proc/{}", info.pid)),
            format: ImageFormat::LiveProcess,
            compression: None,
            size: regions.iter().map(Region::size).sum(),
            target: Target {
                os: Os::Linux,
                arch: self.arch,
                kernel: false,
                page_size,
                cpu_count: std::thread::available_parallelism()
                    .ok()
                    .map(|n| n.get() as u32),
                os_version: procfs::os_release(),
                cpu: None,
            },
            producer: Producer::Other("ptrace".into()),
            fault: None,
            timestamp: Some(self.stopped_at),
            details: FormatDetails::default(),
            findings: Vec::new(),
            process: ProcessView {
                facts: Some(process),
                threads: self.model_threads(),
                modules,
                regions,
                auxv,
                ..ProcessView::empty(self.memory.clone())
            },
            other_processes: Vec::new(),
        }
    }

    /// Writes an ELF core of the stopped process to `path`.
    pub fn snapshot(
        &self,
        path: &Path,
        progress: crate::progress::Progress,
    ) -> Result<snapshot::SnapshotSummary> {
        snapshot::write(self, path, progress)
    }

    pub(crate) fn machine(&self) -> u16 {
        self.machine
    }
}
