//! Linux kernel crash dumps (vmcores): the ELF form (/proc/vmcore,
//! `makedumpfile -E`, QEMU `dump-guest-memory`), read as a physical address
//! space with the kernel's VMCOREINFO and each CPU's registers.
//!
//! An ELF vmcore is an ET_CORE like a process core; it is told apart by
//! what its notes hold (a VMCOREINFO note, or QEMU's per-CPU notes), never
//! by its name.

pub mod flattened;
#[cfg(unix)]
pub mod kcore;
pub mod kdump_compressed;
pub mod split;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use goblin::elf::program_header::{PT_LOAD, ProgramHeader};

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, Finding};
use crate::image::elf_core::notes::{RawNote, parse_notes};
use crate::image::elf_core::thread_state::parse_prstatus;
use crate::memory::{Absence, Bytes, Memory, MemoryError, Segment, SegmentMemory};
use crate::model::{
    Arch, Compression, Cpu, CpuNotePids, DEFAULT_PAGE_SIZE, Fault, FaultCode, FormatDetails, Image,
    ImageFormat, KernelInfo, LogCaller, Os, ProcessView, Producer, SplitPart, Target, VmcoreFormat,
    Vmcoreinfo, plausible_page_size,
};

/// NT_PRSTATUS, the note type of each CPU's registers in a vmcore.
const NT_PRSTATUS: u32 = 1;

/// Whether notes of an ET_CORE make it a kernel dump: the kernel writes a
/// VMCOREINFO note; QEMU's dump-guest-memory writes per-CPU "QEMU" notes
/// (and VMCOREINFO when the guest exported it).
pub(crate) fn is_kernel_dump(notes: &[RawNote]) -> bool {
    notes
        .iter()
        .any(|n| n.owner == "VMCOREINFO" || n.owner == "QEMU")
}

/// Whether a 64-bit core's PT_LOADs map kernel memory: a process core
/// maps user addresses only, but for the vsyscall page the kernel adds to
/// every x86_64 process core (0xffffffffff600000).
pub(crate) fn maps_kernel_memory(phdrs: &[ProgramHeader], word: usize) -> bool {
    const VSYSCALL_PAGE: u64 = 0xffff_ffff_ff60_0000;
    word == 8
        && phdrs.iter().any(|p| {
            p.p_type == PT_LOAD && p.p_vaddr >= 0xffff_8000_0000_0000 && p.p_vaddr != VSYSCALL_PAGE
        })
}

/// The physical memory a cut took from the PT_LOADs: the bytes lost and
/// the lowest and highest page frame (of `page_size`) they touch.
struct CutMemory {
    segments: usize,
    bytes: u64,
    pages: u64,
    pfns: Option<(u64, u64)>,
}

/// What the PT_LOADs lose to a file of `file_len` bytes; None when the
/// file holds every byte they name.
fn cut_memory(phdrs: &[ProgramHeader], file_len: u64, page_size: u64) -> Option<CutMemory> {
    let mut cut = CutMemory {
        segments: 0,
        bytes: 0,
        pages: 0,
        pfns: None,
    };
    for p in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        let held = file_len.saturating_sub(p.p_offset).min(p.p_filesz);
        if held >= p.p_filesz {
            continue;
        }
        let from = p.p_paddr.saturating_add(held);
        let to = p.p_paddr.saturating_add(p.p_filesz);
        let (first, last) = (from / page_size, (to - 1) / page_size);
        cut.segments += 1;
        cut.bytes = cut.bytes.saturating_add(to - from);
        cut.pages = cut.pages.saturating_add(last - first + 1);
        cut.pfns = Some(match cut.pfns {
            Some((a, b)) => (a.min(first), b.max(last)),
            None => (first, last),
        });
    }
    (cut.segments > 0).then_some(cut)
}

impl CutMemory {
    /// "N bytes of physical memory, PFN a to b (P pages)".
    fn describe(&self) -> String {
        let (a, b) = self.pfns.unwrap_or_default();
        format!(
            "{} bytes of physical memory, PFN {a:#x} to {b:#x} ({} pages)",
            self.bytes, self.pages
        )
    }
}

/// The PT_LOADs whose bytes the file does not hold in full: memory lost to
/// a cut (a copy interrupted, a full disk while saving the dump).
fn truncated_segments(phdrs: &[ProgramHeader], file_len: u64, page_size: u64) -> Option<Finding> {
    let cut = cut_memory(phdrs, file_len, page_size)?;
    Some(
        Finding::new(
            &finding::ELF_SEGMENT_TRUNCATED,
            format!(
                "{} PT_LOAD(s) reach past the end of the file ({file_len} bytes): {} are lost \
                 to the cut",
                cut.segments,
                cut.describe()
            ),
        )
        .at_offset(file_len),
    )
}

/// makedumpfile's mark of an ELF vmcore it could not finish (e_flags).
const ELF_DUMP_INCOMPLETE: u32 = 1;

/// The ELF header's e_flags (at 48 in ELF64, 36 in ELF32).
fn elf_flags(file: &[u8]) -> u32 {
    let at = if file.get(4) == Some(&1) { 36 } else { 48 };
    file.get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// An ELF vmcore's physical memory: the PT_LOADs' bytes, and for what they
/// lack, why — outside every PT_LOAD there was no RAM; past p_filesz the
/// writer left the pages out (its dump level, which an ELF vmcore does not
/// record); within p_filesz but past the end of the file they were lost
/// to a cut, or never written when the dump is flagged incomplete.
struct ElfPhysical {
    segments: SegmentMemory,
    /// Each PT_LOAD's (p_paddr, p_paddr + p_filesz as its header says),
    /// sorted by start.
    loads: Vec<(u64, u64)>,
    incomplete: bool,
}

impl ElfPhysical {
    fn new(bytes: &Bytes, phdrs: &[ProgramHeader], incomplete: bool) -> ElfPhysical {
        let mut loads: Vec<(u64, u64)> = phdrs
            .iter()
            .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
            .map(|p| {
                let filesz = p.p_filesz.min(p.p_memsz);
                (p.p_paddr, p.p_paddr.saturating_add(filesz))
            })
            .collect();
        loads.sort_unstable();
        ElfPhysical {
            segments: physical_memory(bytes, phdrs),
            loads,
            incomplete,
        }
    }

    /// Why a PT_LOAD that maps `address` does not hold it.
    fn why_not_captured(&self, address: u64) -> Absence {
        // PT_LOADs of a vmcore do not overlap: the last one starting at or
        // before the address is the one that maps it.
        let i = self.loads.partition_point(|&(start, _)| start <= address);
        let in_file_part = i
            .checked_sub(1)
            .and_then(|i| self.loads.get(i))
            .is_some_and(|&(_, file_end)| address < file_end);
        match (in_file_part, self.incomplete) {
            (true, true) => Absence::Incomplete,
            (true, false) => Absence::Truncated,
            (false, _) => Absence::Excluded { dump_level: None },
        }
    }
}

impl Memory for ElfPhysical {
    fn read(&self, address: u64, buf: &mut [u8]) -> std::result::Result<usize, MemoryError> {
        self.segments.read(address, buf).map_err(|e| {
            let reason = match e {
                MemoryError::Unmapped { .. } => Absence::NotRam,
                _ => self.why_not_captured(address),
            };
            MemoryError::Absent {
                address,
                physical: address,
                reason,
            }
        })
    }

    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        self.segments.captured_ranges(start, end)
    }

    fn lend(&self, address: u64, len: u64) -> Option<Bytes> {
        self.segments.lend(address, len)
    }

    fn extent(&self, address: u64, end: u64) -> crate::memory::Extent {
        self.segments.extent(address, end)
    }
}

/// What the CPU notes' pids are: QEMU's `dump-guest-memory` (which adds
/// notes of its own, owner "QEMU") writes each vCPU's id there.
pub(crate) fn cpu_note_pids(notes: &[RawNote]) -> CpuNotePids {
    match notes.iter().any(|n| n.owner == "QEMU") {
        true => CpuNotePids::VcpuIds,
        false => CpuNotePids::Tasks,
    }
}

/// The CPUs of a note stream: one per NT_PRSTATUS, in order.
pub(crate) fn cpus_from_notes(file: &[u8], notes: &[RawNote], arch: Arch) -> Vec<Cpu> {
    notes
        .iter()
        .filter(|n| n.owner == "CORE" && n.kind == NT_PRSTATUS)
        .filter_map(|n| parse_prstatus(n.desc(file), arch))
        .enumerate()
        .map(|(i, status)| Cpu {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            prstatus_pid: status.pid,
            registers: status.registers,
        })
        .collect()
}

/// The physical address space of an ELF vmcore: every PT_LOAD at its
/// p_paddr; bytes past p_filesz are not in the dump (excluded or never
/// written).
fn physical_memory(bytes: &Bytes, phdrs: &[ProgramHeader]) -> SegmentMemory {
    let segments = phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0)
        .map(|p| Segment {
            address: p.p_paddr,
            size: p.p_memsz,
            captured: p.p_filesz.min(p.p_memsz),
            offset: p.p_offset,
            bytes: bytes.clone(),
        })
        .collect();
    SegmentMemory::new(segments)
}

/// What every vmcore reader hands to [`kernel_image`].
struct KernelDump {
    format: VmcoreFormat,
    compression: Option<Compression>,
    size: u64,
    findings: Vec<Finding>,
    arch: Arch,
    physical: Arc<dyn Memory>,
    vmcoreinfo: Option<Vmcoreinfo>,
    cpus: Vec<Cpu>,
    cpu_note_pids: CpuNotePids,
    producer: Producer,
    dump_level: Option<u32>,
    /// Pages of RAM the machine had and pages the dump holds, where the
    /// dump counts them (makedumpfile's bitmaps).
    page_counts: Option<PageCounts>,
    incomplete: bool,
    /// When the writer says the dump was taken (seconds since 1970), for
    /// a dump whose VMCOREINFO has no CRASHTIME.
    written_at: Option<u64>,
    split_parts: Vec<SplitPart>,
}

/// The image of a kernel dump, whatever its container: the kernel's
/// virtual address space through its own page tables, the log read from
/// it, the panic and the CPU that panicked. Without VMCOREINFO (or on an
/// architecture whose tables ckdump does not walk yet) the report still has
/// the CPUs and the physical memory.
fn kernel_image(path: &Path, dump: KernelDump) -> Image {
    let KernelDump {
        format,
        compression,
        size,
        mut findings,
        arch,
        physical,
        vmcoreinfo,
        cpus,
        cpu_note_pids,
        producer,
        dump_level,
        page_counts,
        incomplete,
        written_at,
        split_parts,
    } = dump;
    // No note: the kernel's own copy, from its memory.
    let vmcoreinfo = vmcoreinfo.or_else(|| {
        let ranges = physical.captured_ranges(0, u64::MAX)?;
        let found = crate::kernel::vmcoreinfo_search::find_in_memory(
            &*physical,
            &ranges,
            DEFAULT_PAGE_SIZE,
        )?;
        findings.push(
            Finding::new(
                &finding::VMCOREINFO_NOTE,
                format!(
                    "the dump has no VMCOREINFO note; the kernel's own copy was found in its memory \
                     at physical {:#x} and used",
                    found.physical
                ),
            )
            .at_address(found.physical),
        );
        Some(found.vmcoreinfo)
    });
    check_vmcoreinfo(vmcoreinfo.as_ref(), &mut findings);
    // The architectures whose page tables are not walked: their dumps are
    // read and verified by physical address only.
    let unsupported = matches!(arch, Arch::X86 | Arch::Arm).then(|| {
        format!(
            "ckdump reads the virtual memory of x86_64 and aarch64 kernels only: for this {} \
             kernel it shows the dump's header, VMCOREINFO and CPU registers and checks its \
             pages, but reads no log, symbols, tasks or stacks",
            arch.name()
        )
    });
    let kernel_memory = match vmcoreinfo
        .as_ref()
        .and_then(|info| crate::kernel::kernel_memory(physical.clone(), info, arch))
    {
        Some(Ok(memory)) => Some(memory),
        Some(Err(why)) => {
            findings.push(Finding::new(
                &finding::KERNEL_MEMORY_READABLE,
                format!("the kernel's page tables cannot be read: {why}"),
            ));
            None
        }
        None => None,
    };
    if let Some(memory) = &kernel_memory {
        findings.extend(unreadable_cpu_stacks(&**memory, &cpus));
    }
    let log = match (&kernel_memory, &vmcoreinfo) {
        (Some(memory), Some(info)) => match if crate::kernel::printk_legacy::present(info) {
            // Kernels before 5.10 keep the log in one byte buffer.
            crate::kernel::printk_legacy::read_log(&**memory, info)
        } else {
            crate::kernel::printk::read_log(&**memory, info)
        } {
            Ok(log) => log,
            Err(why) => {
                findings.push(Finding::new(
                    &finding::KERNEL_MEMORY_READABLE,
                    format!("the kernel log cannot be read: {why}"),
                ));
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    let panic = crate::kernel::printk::panic_record(&log);
    // QEMU's note pids are vCPU ids, not tasks: the analysis finds the CPU
    // from the kernel's own variables instead.
    let note_pids_name_tasks = cpu_note_pids == CpuNotePids::Tasks;
    let panic_cpu = panic.and_then(|r| match r.caller {
        Some(LogCaller::Task(_)) if !note_pids_name_tasks => None,
        Some(LogCaller::Task(pid)) => cpus
            .iter()
            .find(|c| c.prstatus_pid == u64::from(pid))
            .map(|c| c.index),
        Some(LogCaller::Cpu(cpu)) => Some(cpu),
        None => None,
    });
    if let Some(pid) = panic.and_then(|r| match r.caller {
        Some(LogCaller::Task(pid)) => Some(pid),
        _ => None,
    }) && panic_cpu.is_none()
        && note_pids_name_tasks
    {
        findings.push(Finding::new(
            &finding::CPU_REGISTERS_PRESENT,
            format!(
                "task {pid} printed the panic, but no CPU's register note names it: the panicking CPU's registers are missing"
            ),
        ));
    }
    if let Some(level) = dump_level.filter(|l| l & 0x1f != 0) {
        findings.push(Finding::new(
            &finding::DUMP_LEVEL_EXCLUDED,
            excluded_in_words(level, page_counts),
        ));
    }
    let fault = panic
        .and_then(|_| crate::kernel::printk::panic_message(&log))
        .map(|message| Fault {
            code: FaultCode::Panic {
                message: message.to_string(),
            },
            address: None,
            thread: None,
            parameters: Vec::new(),
            interrupt_level: None,
        });
    let memory: Arc<dyn Memory> = match kernel_memory {
        Some(k) => k,
        None => physical,
    };
    let page_size = vmcoreinfo
        .as_ref()
        .and_then(Vmcoreinfo::page_size)
        .and_then(plausible_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let target = Target {
        os: Os::Linux,
        arch,
        kernel: true,
        page_size,
        cpu_count: u32::try_from(cpus.len()).ok().filter(|&n| n > 0),
        os_version: vmcoreinfo
            .as_ref()
            .and_then(|v| v.osrelease())
            .map(str::to_string),
        cpu: None,
    };
    // The kernel itself, for the symbolizer to find its vmlinux.
    let modules = match (&vmcoreinfo, arch) {
        (Some(info), Arch::X86_64) => crate::kernel::vmlinux::kernel_image_module(info)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let timestamp = vmcoreinfo
        .as_ref()
        .and_then(Vmcoreinfo::crash_time)
        .or(written_at);
    Image {
        path: path.to_path_buf(),
        format: ImageFormat::Vmcore,
        compression,
        size,
        target,
        producer,
        fault,
        timestamp,
        details: FormatDetails {
            kernel: Some(KernelInfo {
                format,
                vmcoreinfo,
                cpus,
                cpu_note_pids,
                dump_level,
                incomplete,
                panic_cause: crate::kernel::printk::panic_cause(&log),
                log,
                panic_cpu,
                split_parts,
                online_cpus: None,
                unsupported,
            }),
            ..FormatDetails::default()
        },
        findings,
        process: ProcessView {
            modules,
            ..ProcessView::empty(memory)
        },
        other_processes: Vec::new(),
    }
}

/// The CPUs whose stack cannot be read at their saved stack pointer (a
/// kernel address), with why: their backtraces stop at the registers.
fn unreadable_cpu_stacks(memory: &dyn Memory, cpus: &[Cpu]) -> Vec<Finding> {
    cpus.iter()
        .filter_map(|cpu| {
            let sp = cpu.registers.sp()?;
            // A vCPU in user mode (QEMU dumps) has a user sp (the lower
            // half), which the kernel's own tables do not map.
            if sp >> 63 == 0 {
                return None;
            }
            let e = memory.read_u64(sp).err()?;
            Some(
                Finding::new(
                    &finding::KERNEL_MEMORY_READABLE,
                    format!(
                        "CPU {}'s stack cannot be read at its saved sp {sp:#x}, so its backtrace \
                         stops at its registers: {e}",
                        cpu.index
                    ),
                )
                .at_address(sp),
            )
        })
        .collect()
}

/// How many pages of RAM the machine had and how many the dump holds.
#[derive(Debug, Clone, Copy)]
struct PageCounts {
    ram: u64,
    dumped: u64,
}

/// What a dump level leaves out, how much, and what that costs a reader.
fn excluded_in_words(level: u32, counts: Option<PageCounts>) -> String {
    const CLASSES: &[(u32, &str, &str)] = &[
        (1, "zero pages", "they read as absent, not as zeros"),
        (2, "page cache", "file contents cached in memory are gone"),
        (
            4,
            "private page cache",
            "file data held by processes is gone",
        ),
        (
            8,
            "user pages",
            "user-space stacks and memory of tasks cannot be shown",
        ),
        (
            16,
            "free pages",
            "freed memory, evidence of a use after free, is gone",
        ),
    ];
    let parts: Vec<String> = CLASSES
        .iter()
        .filter(|(bit, _, _)| level & bit != 0)
        .map(|(_, what, cost)| format!("{what} ({cost})"))
        .collect();
    let how_much = match counts {
        Some(c) if c.ram > 0 => {
            let left_out = c.ram.saturating_sub(c.dumped);
            format!(
                " {left_out} of the machine's {} pages of RAM ({}%; which class each page was \
                 is not recorded):",
                c.ram,
                left_out.saturating_mul(100) / c.ram
            )
        }
        _ => String::new(),
    };
    format!("dump level {level} excluded{how_much} {}", parts.join("; "))
}

/// VMCOREINFO missing, or without what reading the kernel needs.
fn check_vmcoreinfo(info: Option<&Vmcoreinfo>, findings: &mut Vec<Finding>) {
    let Some(info) = info else {
        findings.push(Finding::new(
            &finding::VMCOREINFO_PRESENT,
            "the dump has no VMCOREINFO: the kernel release, its memory and its log cannot be read from the dump alone",
        ));
        return;
    };
    let mut missing = Vec::new();
    if info.osrelease().is_none() {
        missing.push("OSRELEASE");
    }
    if info.page_size().is_none() {
        missing.push("PAGESIZE");
    }
    if info.symbol("init_top_pgt").is_none() && info.symbol("swapper_pg_dir").is_none() {
        missing.push("SYMBOL(init_top_pgt)");
    }
    if !missing.is_empty() {
        findings.push(Finding::new(
            &finding::VMCOREINFO_PRESENT,
            format!("VMCOREINFO lacks {}", missing.join(", ")),
        ));
    }
}

/// Reads an ELF vmcore whose header, program headers and notes the ELF
/// core reader has already parsed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_elf(
    path: &Path,
    bytes: Bytes,
    compression: Option<Compression>,
    findings: Vec<Finding>,
    arch: Arch,
    phdrs: &[ProgramHeader],
    notes: &[RawNote],
) -> Result<Image> {
    let file: &[u8] = &bytes;
    let vmcoreinfo = notes
        .iter()
        .find(|n| n.owner == "VMCOREINFO")
        .map(|n| Vmcoreinfo::parse(n.desc(file)));
    let qemu = notes.iter().any(|n| n.owner == "QEMU");
    let mut findings = findings;
    let page_size = vmcoreinfo
        .as_ref()
        .and_then(Vmcoreinfo::page_size)
        .and_then(plausible_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let file_len = file.len() as u64;
    findings.extend(truncated_segments(phdrs, file_len, page_size));
    let incomplete = elf_flags(file) & ELF_DUMP_INCOMPLETE != 0;
    if incomplete {
        let what = match cut_memory(phdrs, file_len, page_size) {
            Some(cut) => format!("{} were never written", cut.describe()),
            None => "yet the file holds every byte its PT_LOADs name".into(),
        };
        findings.push(
            Finding::new(
                &finding::KDUMP_INCOMPLETE,
                format!(
                    "the ELF header's e_flags carry makedumpfile's incomplete flag: the writer \
                     stopped before writing every page; {what}"
                ),
            )
            .at_offset(if file.get(4) == Some(&1) { 36 } else { 48 }),
        );
    }
    let producer = if qemu {
        Producer::Other("QEMU dump-guest-memory".into())
    } else {
        Producer::Other("Linux kdump (ELF vmcore)".into())
    };
    Ok(kernel_image(
        path,
        KernelDump {
            format: VmcoreFormat::Elf,
            compression,
            size: file.len() as u64,
            findings,
            arch,
            physical: Arc::new(ElfPhysical::new(&bytes, phdrs, incomplete)),
            cpus: cpus_from_notes(file, notes, arch),
            cpu_note_pids: cpu_note_pids(notes),
            vmcoreinfo,
            producer,
            dump_level: None,
            page_counts: None,
            incomplete,
            written_at: None,
            split_parts: Vec::new(),
        },
    ))
}

/// Whether the first bytes of a (decompressed) file are a makedumpfile
/// kdump-compressed or flattened dump.
pub(crate) fn is_makedumpfile(first_bytes: &[u8]) -> bool {
    kdump_compressed::is_kdump_compressed(first_bytes) || first_bytes.starts_with(b"makedump")
}

/// One makedumpfile file, parsed: a whole dump, or one part of a
/// `--split` set.
pub(crate) struct MakedumpfileFile {
    pub path: PathBuf,
    /// Its (decompressed) size.
    pub size: u64,
    pub compression: Option<Compression>,
    pub format: VmcoreFormat,
    /// What unwrapping and parsing it found.
    pub findings: Vec<Finding>,
    pub dump: kdump_compressed::KdumpCompressed,
}

impl MakedumpfileFile {
    /// Parses a kdump-compressed file (`KDUMP   `, `DISKDUMP`), or
    /// makedumpfile's flattened stream of one, read in place through an
    /// index of its records.
    pub(crate) fn parse(
        path: &Path,
        bytes: Bytes,
        compression: Option<Compression>,
        mut findings: Vec<Finding>,
        thorough: bool,
    ) -> Result<MakedumpfileFile> {
        let size = bytes.len() as u64;
        let unreadable = |why: String| {
            Error::new(
                path,
                ErrorKind::Malformed {
                    offset: 0,
                    what: why,
                },
            )
        };
        let (source, format): (Arc<dyn kdump_compressed::DumpFile>, VmcoreFormat) =
            if flattened::is_flattened(&bytes) {
                // verify indexes every record now; inspect as reads need.
                let flat = match thorough {
                    true => flattened::FlattenedFile::parse_exact(bytes),
                    false => flattened::FlattenedFile::parse(bytes),
                }
                .map_err(unreadable)?;
                findings.extend(flat.findings().iter().cloned());
                (Arc::new(flat), VmcoreFormat::Flattened)
            } else {
                (Arc::new(bytes), VmcoreFormat::KdumpCompressed)
            };
        let dump = kdump_compressed::KdumpCompressed::parse(source).map_err(unreadable)?;
        findings.extend(dump.findings().iter().cloned());
        Ok(MakedumpfileFile {
            path: path.to_path_buf(),
            size,
            compression,
            format,
            findings,
            dump,
        })
    }
}

/// Reads a kdump-compressed dump or a flattened stream of one; a part of a
/// `--split` set given alone reads as a set of one (what it holds, and a
/// finding naming what the rest of the set holds).
pub(crate) fn read_makedumpfile(
    path: &Path,
    bytes: Bytes,
    compression: Option<Compression>,
    findings: Vec<Finding>,
    thorough: bool,
) -> Result<Image> {
    let file = MakedumpfileFile::parse(path, bytes, compression, findings, thorough)?;
    if file.dump.is_split_part() {
        return split::read_set(vec![file]);
    }
    let MakedumpfileFile {
        path,
        size,
        compression,
        format,
        findings,
        dump,
    } = file;
    let dump = Arc::new(dump);
    makedumpfile_image(MakedumpfileImage {
        path: &path,
        first: &dump,
        physical: dump.clone(),
        format,
        compression,
        size,
        findings,
        split_parts: Vec::new(),
        writer_note: None,
    })
}

/// What [`makedumpfile_image`] builds an image from.
pub(crate) struct MakedumpfileImage<'a> {
    pub path: &'a Path,
    /// The file whose header, VMCOREINFO and notes describe the dump (the
    /// one file, or the first part of a split set).
    pub first: &'a kdump_compressed::KdumpCompressed,
    pub physical: Arc<dyn Memory>,
    pub format: VmcoreFormat,
    pub compression: Option<Compression>,
    pub size: u64,
    pub findings: Vec<Finding>,
    pub split_parts: Vec<SplitPart>,
    /// Added to the writer's name (how a split set was written).
    pub writer_note: Option<String>,
}

/// The kernel image of a makedumpfile dump.
pub(crate) fn makedumpfile_image(m: MakedumpfileImage<'_>) -> Result<Image> {
    let MakedumpfileImage {
        path,
        first: dump,
        physical,
        format,
        compression,
        size,
        mut findings,
        split_parts,
        writer_note,
    } = m;
    let header = dump.header();
    let arch = match header.machine.as_str() {
        "x86_64" => Arch::X86_64,
        "aarch64" | "arm64" => Arch::Aarch64,
        "i386" | "i486" | "i586" | "i686" => Arch::X86,
        "arm" | "armv7l" => Arch::Arm,
        other => {
            return Err(Error::new(
                path,
                ErrorKind::Unsupported(format!(
                    "kernel dump of a {other:?} machine; ckdump reads x86_64, i386, aarch64 and arm"
                )),
            ));
        }
    };
    let vmcoreinfo = dump.vmcoreinfo().map(|v| Vmcoreinfo::parse(&v));
    let (cpus, cpu_note_pids) = dump
        .notes()
        .map(|blob| {
            let mut notes = Vec::new();
            // A damaged note blob yields the CPUs before the damage.
            let _ = parse_notes(&blob, 0, blob.len() as u64, &mut notes);
            (cpus_from_notes(&blob, &notes, arch), cpu_note_pids(&notes))
        })
        .unwrap_or_default();
    let online = u64::from(header.nr_cpus);
    if online > 0 && (cpus.len() as u64) < online {
        findings.push(Finding::new(
            &finding::CPU_REGISTERS_PRESENT,
            format!(
                "the header says {online} CPUs were online, the notes hold registers for {}",
                cpus.len()
            ),
        ));
    }
    // The whole dump's counts: every part of a split set carries its
    // bitmaps.
    let page_counts = dump.bitmaps_read().then(|| PageCounts {
        ram: dump.ram_pages(),
        dumped: dump.dumped_in(0, dump.max_mapnr()),
    });
    // QEMU records dump level 1 yet keeps every zero page (all pointing at
    // one stored zero page): when every page of RAM is there, its level
    // excluded nothing and would wrongly say zero pages read as absent.
    let dump_level = dump
        .sub_header()
        .and_then(|s| u32::try_from(s.dump_level).ok())
        .filter(|_| {
            !(cpu_note_pids == CpuNotePids::VcpuIds
                && page_counts.is_some_and(|c| c.dumped >= c.ram))
        });
    let incomplete = header.is_incomplete();
    // QEMU's kdump files leave the time at 0: unknown, not 1970.
    let written_at = u64::try_from(header.timestamp_sec).ok().filter(|&t| t != 0);
    // QEMU's dump-guest-memory writes the same format (with its own
    // per-CPU notes, which name vCPUs where kdump's name tasks).
    let writer = match cpu_note_pids {
        CpuNotePids::VcpuIds => "QEMU dump-guest-memory",
        CpuNotePids::Tasks => "makedumpfile",
    };
    let producer = Producer::Other(format!(
        "{writer} ({}, header version {}){}",
        header.signature.trim(),
        header.header_version,
        writer_note.map(|n| format!(", {n}")).unwrap_or_default()
    ));
    Ok(kernel_image(
        path,
        KernelDump {
            format,
            compression,
            size,
            findings,
            arch,
            physical,
            vmcoreinfo,
            cpus,
            cpu_note_pids,
            producer,
            dump_level,
            page_counts,
            incomplete,
            written_at,
            split_parts,
        },
    ))
}
