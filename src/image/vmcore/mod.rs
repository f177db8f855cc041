//! Linux kernel crash dumps (vmcores): the ELF form (/proc/vmcore,
//! `makedumpfile -E`, QEMU `dump-guest-memory`), read as a physical address
//! space with the kernel's VMCOREINFO and each CPU's registers.
//!
//! An ELF vmcore is an ET_CORE like a process core; it is told apart by
//! what its notes hold (a VMCOREINFO note, or QEMU's per-CPU notes), never
//! by its name.

use std::path::Path;
use std::sync::Arc;

use goblin::elf::program_header::{PT_LOAD, ProgramHeader};

use crate::error::Result;
use crate::finding::Finding;
use crate::image::elf_core::notes::RawNote;
use crate::image::elf_core::thread_state::parse_prstatus;
use crate::memory::{Bytes, Segment, SegmentMemory};
use crate::model::{
    Arch, Compression, Cpu, DEFAULT_PAGE_SIZE, Fault, FaultCode, FormatDetails, Image, ImageFormat,
    KernelInfo, LogCaller, LogRecord, Os, ProcessView, Producer, Target, VmcoreFormat, Vmcoreinfo,
    plausible_page_size,
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

/// The log record that says why the kernel went down: the last
/// "Kernel panic - not syncing" record, as `panic_message` reads it.
fn panic_record(log: &[LogRecord]) -> Option<&LogRecord> {
    let message = crate::kernel::printk::panic_message(log)?;
    log.iter().rev().find(|r| r.text.contains(message))
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
    let cpus = cpus_from_notes(file, notes, arch);
    let qemu = notes.iter().any(|n| n.owner == "QEMU");
    let physical: Arc<dyn crate::memory::Memory> = Arc::new(physical_memory(&bytes, phdrs));
    // The kernel's virtual address space through its own page tables, and
    // the log read from it; without them the report still has the CPUs.
    let kernel_memory = match (&vmcoreinfo, arch) {
        (Some(info), Arch::X86_64) => crate::kernel::x86_64_memory(physical.clone(), info).ok(),
        _ => None,
    };
    let log = match (&kernel_memory, &vmcoreinfo) {
        (Some(memory), Some(info)) => {
            crate::kernel::printk::read_log(memory, info).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let panic = panic_record(&log);
    let panic_cpu = panic.and_then(|r| match r.caller {
        Some(LogCaller::Task(pid)) => cpus
            .iter()
            .find(|c| c.prstatus_pid == u64::from(pid))
            .map(|c| c.index),
        Some(LogCaller::Cpu(cpu)) => Some(cpu),
        None => None,
    });
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
    let memory: Arc<dyn crate::memory::Memory> = match kernel_memory {
        Some(k) => Arc::new(k),
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
    let producer = if qemu {
        Producer::Other("QEMU dump-guest-memory".into())
    } else {
        Producer::Other("Linux kdump (ELF vmcore)".into())
    };
    let timestamp = vmcoreinfo.as_ref().and_then(Vmcoreinfo::crash_time);
    Ok(Image {
        path: path.to_path_buf(),
        format: ImageFormat::Vmcore,
        compression,
        size: file.len() as u64,
        target,
        producer,
        fault,
        timestamp,
        details: FormatDetails {
            kernel: Some(KernelInfo {
                format: VmcoreFormat::Elf,
                vmcoreinfo,
                cpus,
                dump_level: None,
                incomplete: false,
                log,
                panic_cpu,
            }),
            ..FormatDetails::default()
        },
        findings,
        process: ProcessView::empty(memory),
        other_processes: Vec::new(),
    })
}
