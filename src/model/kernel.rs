//! What a kernel dump holds beyond processes: the kernel's own description
//! of itself (VMCOREINFO), its CPUs, how the dump was made, and its log.

use serde::Serialize;

use super::RegisterSet;

/// The kernel's VMCOREINFO note: `KEY=value` lines the kernel writes for
/// dump tools (OSRELEASE, PAGESIZE, SYMBOL(name), OFFSET(type.member),
/// SIZE(type), LENGTH(name), NUMBER(name), KERNELOFFSET, CRASHTIME…), kept
/// in order; the accessors decode the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Vmcoreinfo {
    pub entries: Vec<(String, String)>,
}

impl Vmcoreinfo {
    /// Parses the note's text; lines without `=` are ignored. At most
    /// `MAX_ENTRIES` lines are kept (the kernel writes a few hundred).
    pub fn parse(text: &[u8]) -> Vmcoreinfo {
        const MAX_ENTRIES: usize = 4096;
        let text = String::from_utf8_lossy(text);
        let entries = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .take(MAX_ENTRIES)
            .collect();
        Vmcoreinfo { entries }
    }

    /// The raw value of `key` (the first, if repeated).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn hex(&self, key: &str) -> Option<u64> {
        u64::from_str_radix(self.get(key)?.trim_start_matches("0x"), 16).ok()
    }

    fn decimal(&self, key: &str) -> Option<i64> {
        self.get(key)?.parse().ok()
    }

    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    /// The vmlinux GNU build-id, lower-case hex.
    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID")
    }

    pub fn page_size(&self) -> Option<u64> {
        self.decimal("PAGESIZE").and_then(|v| u64::try_from(v).ok())
    }

    /// KASLR displacement of the kernel text (hex).
    pub fn kernel_offset(&self) -> Option<u64> {
        self.hex("KERNELOFFSET")
    }

    /// Seconds since the epoch when the kernel crashed.
    pub fn crash_time(&self) -> Option<u64> {
        self.decimal("CRASHTIME")
            .and_then(|v| u64::try_from(v).ok())
    }

    /// `SYMBOL(name)`: a kernel virtual address (hex).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.hex(&format!("SYMBOL({name})"))
    }

    /// `OFFSET(type.member)` in bytes (decimal).
    pub fn offset(&self, member: &str) -> Option<u64> {
        self.decimal(&format!("OFFSET({member})"))
            .and_then(|v| u64::try_from(v).ok())
    }

    /// `SIZE(type)` in bytes (decimal).
    pub fn size(&self, name: &str) -> Option<u64> {
        self.decimal(&format!("SIZE({name})"))
            .and_then(|v| u64::try_from(v).ok())
    }

    /// `LENGTH(name)` (decimal).
    pub fn length(&self, name: &str) -> Option<u64> {
        self.decimal(&format!("LENGTH({name})"))
            .and_then(|v| u64::try_from(v).ok())
    }

    /// `NUMBER(name)`, signed (decimal; phys_base is written as a negative
    /// number when the kernel sits below its link address).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.decimal(&format!("NUMBER({name})"))
    }
}

/// Which container a kernel dump came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmcoreFormat {
    /// ELF with physical PT_LOADs: /proc/vmcore, `makedumpfile -E`, QEMU
    /// `dump-guest-memory`.
    Elf,
    /// makedumpfile's kdump-compressed (`KDUMP   `) or old `DISKDUMP` file.
    KdumpCompressed,
    /// makedumpfile's flattened stream (`-F`) of a kdump-compressed file.
    Flattened,
    /// The running kernel, read through `/proc/kcore` (an ELF core whose
    /// PT_LOADs are at kernel virtual addresses): nothing crashed, and no
    /// CPU's registers are saved.
    LiveKcore,
}

/// One CPU as the dump saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    /// Index in the dump's register notes (the CPU number for kdump).
    pub index: u32,
    /// The pid field of its NT_PRSTATUS: the task running there (kdump),
    /// or the vCPU's index + 1 (QEMU); see [`KernelInfo::cpu_note_pids`].
    pub prstatus_pid: u64,
    pub registers: RegisterSet,
}

/// What the pid field of each CPU's NT_PRSTATUS holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuNotePids {
    /// The task that was running on the CPU (kdump's crash_notes).
    #[default]
    Tasks,
    /// QEMU's vCPU number (`dump-guest-memory` writes the vCPU's index + 1):
    /// it names no task.
    VcpuIds,
}

/// One record of the kernel log (printk ring buffer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    pub seq: u64,
    /// Nanoseconds since boot.
    pub timestamp_ns: u64,
    /// Syslog level 0 (emerg) … 7 (debug).
    pub level: u8,
    pub facility: u8,
    /// `T<pid>` or `C<cpu>` as the kernel's caller id encodes it; None when
    /// the kernel did not record it.
    pub caller: Option<LogCaller>,
    pub text: String,
}

/// Who printed a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum LogCaller {
    Task(u32),
    Cpu(u32),
}

/// What a kernel dump holds beyond processes.
#[derive(Debug, Clone, Serialize)]
pub struct KernelInfo {
    pub format: VmcoreFormat,
    pub vmcoreinfo: Option<Vmcoreinfo>,
    pub cpus: Vec<Cpu>,
    /// What the CPUs' `prstatus_pid` fields mean.
    pub cpu_note_pids: CpuNotePids,
    /// makedumpfile's dump level (bit mask of excluded page classes: 1 zero,
    /// 2 cache, 4 cache private, 8 user, 16 free), where recorded.
    pub dump_level: Option<u32>,
    /// The writer marked the dump incomplete (makedumpfile ran out of
    /// space or was interrupted).
    pub incomplete: bool,
    /// The kernel log, oldest first, where it could be read.
    pub log: Vec<LogRecord>,
    /// The CPU that panicked, as far as the reader can tell: the one whose
    /// register note names the task that printed the panic message (never
    /// for QEMU's notes, whose pids are vCPU ids). The analysis, which can
    /// read the kernel's own `panic_cpu` and each CPU's running task,
    /// decides.
    pub panic_cpu: Option<u32>,
    /// The oops / BUG / warning that led to the panic, as the log printed
    /// its headline, `Oops:` and `RIP:` lines; empty for a direct panic.
    pub panic_cause: Vec<String>,
    /// The files of a makedumpfile `--split` dump this image reads its
    /// memory from, in PFN order; empty for a dump in one file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split_parts: Vec<SplitPart>,
    /// CPUs online, for a running kernel (no register notes to count them
    /// by); None for dumps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    /// Why the kernel's virtual memory is not read (an architecture whose
    /// page tables ckdump does not walk): the log, symbols, tasks and
    /// stacks are then absent for that reason, not for a fault of the dump.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// One file of a makedumpfile `--split` dump and the page frames it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitPart {
    pub path: std::path::PathBuf,
    /// Its `[start_pfn, end_pfn)` as its sub-header records it.
    pub start_pfn: u64,
    pub end_pfn: u64,
}

/// One kernel task (a thread: the kernel schedules threads, and a process
/// is a thread group sharing `tgid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelTask {
    /// Address of its task_struct.
    pub address: u64,
    pub pid: i32,
    pub tgid: i32,
    /// The pid of its real parent (0 for the boot idle task).
    pub ppid: i32,
    pub comm: String,
    /// ps's state letter: R running, S sleeping, D uninterruptible, I idle,
    /// T stopped, t traced, Z zombie, X dead, P parked.
    pub state: char,
    /// The raw `__state` word.
    pub state_bits: u32,
    /// A kernel thread (no user address space).
    pub kernel_thread: bool,
    /// The CPU it last ran on.
    pub cpu: Option<u32>,
    /// It was on a CPU when the dump was taken.
    pub on_cpu: bool,
    /// Its kernel stack's base.
    pub stack: u64,
    /// The stack pointer saved at its last context switch.
    pub saved_sp: u64,
    /// Its `mm` (address space), 0 for kernel threads.
    pub mm: u64,
}
