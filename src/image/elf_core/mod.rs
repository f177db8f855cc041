//! ELF core files written by the Linux kernel, gdb's `generate-core-file`
//! and `gcore`: threads, registers, mappings, modules and memory.
//!
//! Anything past a readable ELF header and program header table is
//! reported as findings, never as an error: a core cut short by a full disk
//! still shows its threads.

pub(crate) mod notes;
pub(crate) mod thread_state;
pub mod writer;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{EM_386, EM_AARCH64, EM_X86_64, ET_CORE, Header};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE, ProgramHeader};

use crate::byte_reader::Fields;
use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, CappedFindings, Finding};
use crate::image::linux_modules::{self, AbsentRange, FileMapping};
use crate::image::{ImageBytes, OpenOptions};
use crate::memory::{Bytes, Segment, SegmentMemory};
use crate::model::{
    Arch, AuxvEntry, Capture, DEFAULT_PAGE_SIZE, Fault, FaultCode, FloatState, FormatDetails,
    Image, ImageFormat, InterruptLevel, NoteRecord, PointerAuthMasks, Process, ProcessView,
    Producer, Protection, Region, RegionFile, Sharing, Target, Thread, plausible_page_size,
};

use notes::*;
pub use notes::{CKDUMP_OWNER, CkdumpInfo, NT_CKDUMP_INFO, encode_ckdump_info, note_name};
use thread_state::*;

/// Opens the ELF core at `path` (compressed or not).
pub fn open_path(path: &Path, options: &OpenOptions) -> Result<Image> {
    crate::image::open(path, options)
}

/// How many per-item findings of one kind are listed before a summary.
const LISTED_FINDINGS: usize = 8;

/// The parsed container: header facts and program headers.
struct CoreLayout {
    arch: Arch,
    word: usize,
    phdrs: Vec<ProgramHeader>,
}

fn type_name(e_type: u16) -> String {
    match e_type {
        0 => "ET_NONE".into(),
        1 => "ET_REL (relocatable object)".into(),
        2 => "ET_EXEC (executable)".into(),
        3 => "ET_DYN (shared object or PIE executable)".into(),
        other => format!("{other:#x}"),
    }
}

fn malformed(path: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::new(
        path,
        ErrorKind::Malformed {
            offset,
            what: what.into(),
        },
    )
}

/// Reads the ELF header and program header table; errors only when there is
/// nothing usable at all.
fn read_layout(path: &Path, file: &[u8], findings: &mut Vec<Finding>) -> Result<CoreLayout> {
    const EI_CLASS: usize = 4;
    const EI_DATA: usize = 5;
    let class = file.get(EI_CLASS).copied();
    let header_size = match class {
        Some(1) => 52,
        Some(2) => 64,
        Some(other) => {
            return Err(malformed(
                path,
                EI_CLASS as u64,
                format!("ELF class {other} is neither 32- nor 64-bit"),
            ));
        }
        None => {
            return Err(malformed(
                path,
                0,
                format!("ELF header truncated: {} of at least 52 bytes", file.len()),
            ));
        }
    };
    if file.len() < header_size {
        return Err(malformed(
            path,
            0,
            format!(
                "ELF header truncated: {} of {header_size} bytes",
                file.len()
            ),
        ));
    }
    if file.get(EI_DATA) != Some(&1) {
        return Err(Error::new(
            path,
            ErrorKind::Unsupported(
                "big-endian ELF cores are not supported (only little-endian)".into(),
            ),
        ));
    }
    let header = goblin::elf::Elf::parse_header(file)
        .map_err(|e| malformed(path, 0, format!("bad ELF header: {e}")))?;
    if header.e_type != ET_CORE {
        return Err(Error::new(
            path,
            ErrorKind::NotACore {
                found: type_name(header.e_type),
            },
        ));
    }
    let arch = match (header.e_machine, class) {
        (EM_X86_64, Some(2)) => Arch::X86_64,
        (EM_386, Some(1)) => Arch::X86,
        (EM_AARCH64, Some(2)) => Arch::Aarch64,
        (m, _) => {
            return Err(Error::new(
                path,
                ErrorKind::Unsupported(format!(
                    "ELF core for machine {m} ({}-bit) is not supported; ckdump reads x86_64, i386 and aarch64 cores",
                    if class == Some(2) { 64 } else { 32 }
                )),
            ));
        }
    };
    let container = if class == Some(2) {
        Container::Big
    } else {
        Container::Little
    };
    let ctx = Ctx::new(container, Endian::Little);
    let entsize = ProgramHeader::size(ctx);
    if header.e_phentsize as usize != entsize {
        return Err(malformed(
            path,
            if class == Some(2) { 0x36 } else { 0x2a },
            format!("e_phentsize is {}, expected {entsize}", header.e_phentsize),
        ));
    }
    let phnum = program_header_count(file, &header, class == Some(2));
    let phoff = header.e_phoff;
    let file_len = file.len() as u64;
    if phnum == 0 {
        return Err(malformed(
            path,
            if class == Some(2) { 0x38 } else { 0x2c },
            "e_phnum is 0: the core has no program headers, so no notes and no memory",
        ));
    }
    // The table itself placed outside the file is a damaged e_phoff, not a
    // cut file: say so with the numbers.
    let table = format!("e_phoff {phoff:#x}, {phnum} entries of {entsize} bytes");
    if phoff >= file_len {
        return Err(malformed(
            path,
            phoff,
            format!(
                "the program header table ({table}) lies outside the file ({file_len} bytes): e_phoff is damaged"
            ),
        ));
    }
    let available = file_len.saturating_sub(phoff) / entsize as u64;
    let count = phnum.min(available);
    if count < phnum {
        findings.push(
            Finding::new(
                &finding::ELF_PHDR_BOUNDS,
                format!(
                    "program header table at {phoff:#x} holds {phnum} entries but the file ({} bytes) has room for {count}",
                    file.len()
                ),
            )
            .at_offset(phoff),
        );
    }
    if count == 0 {
        return Err(malformed(
            path,
            phoff,
            format!(
                "the program header table ({table}) runs past the end of the file ({file_len} bytes) before its first entry: the core is cut short there or e_phoff is damaged"
            ),
        ));
    }
    let phdrs = ProgramHeader::parse(file, phoff as usize, count as usize, ctx)
        .map_err(|e| malformed(path, phoff, format!("bad program header table: {e}")))?;
    Ok(CoreLayout {
        arch,
        word: arch.pointer_size() as usize,
        phdrs,
    })
}

/// e_phnum, or for PN_XNUM (0xffff, more than 65534 segments) sh_info of
/// section header 0, as the kernel writes for huge cores.
fn program_header_count(file: &[u8], header: &Header, is64: bool) -> u64 {
    const PN_XNUM: u16 = 0xffff;
    if header.e_phnum != PN_XNUM {
        return u64::from(header.e_phnum);
    }
    let sh_info_at = header.e_shoff.saturating_add(if is64 { 44 } else { 28 });
    file.u32_at_u64(sh_info_at)
        .map_or(u64::from(PN_XNUM), u64::from)
}

/// Notes of one thread: its NT_PRSTATUS and what follows until the next.
#[derive(Default)]
struct ThreadNotes {
    prstatus: Option<usize>,
    others: Vec<usize>,
}

fn parse_auxv(desc: &[u8], word: usize) -> Vec<AuxvEntry> {
    let mut out = Vec::new();
    for pair in desc.chunks_exact(2 * word) {
        let (Some(key), Some(value)) = (pair.word_at(0, word), pair.word_at(word, word)) else {
            break;
        };
        if key == 0 {
            break;
        }
        out.push(AuxvEntry { key, value });
    }
    out
}

/// Note types that describe the process, not a thread.
fn is_process_note(note: &RawNote) -> bool {
    matches!(
        (note.owner.as_str(), note.kind),
        ("CORE", NT_PRPSINFO)
            | ("CORE", NT_AUXV)
            | ("CORE", NT_FILE)
            | ("LINUX", NT_X86_XSAVE_LAYOUT)
            | ("GDB", _)
            | (CKDUMP_OWNER, _)
    )
}

/// NT_FPREGSET, NT_PRXFPREG or NT_X86_XSTATE: FPU / SSE / AVX state.
fn is_fpu_state(note: &RawNote) -> bool {
    is_core(note, NT_FPREGSET)
        || (note.owner == "LINUX" && matches!(note.kind, NT_PRXFPREG | NT_X86_XSTATE))
}

fn is_core(note: &RawNote, kind: u32) -> bool {
    note.owner == "CORE" && note.kind == kind
}

fn is_linux(note: &RawNote, kind: u32) -> bool {
    note.owner == "LINUX" && note.kind == kind
}

/// Which program wrote the core.
///
/// The kernel (fs/binfmt_elf.c `fill_note_info`) always starts the note
/// stream with the dumping thread's NT_PRSTATUS, followed by the single
/// NT_PRPSINFO, NT_SIGINFO, NT_AUXV and NT_FILE, and never writes "GDB"
/// notes. gdb (`linux_make_corefile_notes`) starts with NT_PRPSINFO, writes
/// an NT_SIGINFO after every thread's register notes, zeroes pr_ppid /
/// pr_pgrp / pr_sid in NT_PRSTATUS and usually appends an "GDB"
/// NT_GDB_TDESC note. Any of these gdb signs (first note not NT_PRSTATUS,
/// a GDB-owned note, or more than one NT_SIGINFO) means gdb.
///
/// gdb `generate-core-file` at a crash and `gcore` of a live process write
/// the same notes; they differ in the stop signal: at a crash gdb records
/// the fatal signal (pr_cursig and the first thread's si_signo, e.g. 11),
/// while a live process it attached to was only stopped, so pr_cursig is 0
/// and the siginfo, if any, says SIGSTOP.
fn detect_producer(
    notes: &[RawNote],
    statuses: &[PrStatus],
    first_siginfo: Option<&SigInfo>,
) -> Producer {
    let first_is_prstatus = notes.first().is_some_and(|n| is_core(n, NT_PRSTATUS));
    let has_gdb_note = notes.iter().any(|n| n.owner == "GDB");
    let siginfo_count = notes.iter().filter(|n| is_core(n, NT_SIGINFO)).count();
    let gdb = !first_is_prstatus || has_gdb_note || siginfo_count > 1;
    if !gdb {
        return if statuses.is_empty() {
            Producer::Unknown
        } else {
            Producer::LinuxKernel
        };
    }
    let cursig = statuses.first().map_or(0, |s| s.cursig);
    let signo = first_siginfo.map_or(cursig, |s| s.signo);
    let stopped_only = matches!(cursig, 0 | SIGSTOP) && matches!(signo, 0 | SIGSTOP);
    if stopped_only {
        Producer::Gcore
    } else {
        Producer::GdbGenerateCoreFile
    }
}

/// Builds the fault from the signalled thread's siginfo (the kernel and
/// gdb both put that thread first), or from the first thread with a
/// nonzero pr_cursig when the core has no NT_SIGINFO. A signal of 0 or
/// SIGSTOP is a debugger stop, not a fault: no fault is invented for it.
fn build_fault(threads: &[ThreadStatus]) -> Option<Fault> {
    let (status, info) = match threads.first() {
        Some((s, Some(info))) => (s, info.clone()),
        _ => {
            let s = &threads.iter().find(|(s, _)| s.cursig != 0)?.0;
            let info = SigInfo {
                signo: s.cursig,
                errno: 0,
                code: 0,
                address: None,
                sender_pid: None,
                sender_uid: None,
            };
            (s, info)
        }
    };
    if matches!(info.signo, 0 | SIGSTOP) {
        return None;
    }
    Some(Fault {
        code: FaultCode::Signal {
            signo: info.signo,
            code: info.code,
            errno: info.errno,
            sender_pid: info.sender_pid,
            sender_uid: info.sender_uid,
        },
        address: info.address,
        thread: Some(status.pid),
        parameters: Vec::new(),
        interrupt_level: Some(InterruptLevel::Process),
    })
}

fn describe_note(note: &RawNote, desc: &[u8], word: usize) -> Option<String> {
    let owner = note.owner.as_str();
    match (owner, note.kind) {
        ("LINUX", NT_ARM_TLS) => Some(format!("tpidr_el0={:#x}", desc.u64_at(0)?)),
        ("LINUX", NT_ARM_PAC_MASK) => Some(format!(
            "data_mask={:#x} insn_mask={:#x}",
            desc.u64_at(0)?,
            desc.u64_at(8)?
        )),
        ("LINUX", NT_ARM_TAGGED_ADDR_CTRL) => Some(format!("ctrl={:#x}", desc.u64_at(0)?)),
        ("LINUX", NT_ARM_PAC_ENABLED_KEYS) => Some(format!("keys={:#x}", desc.u64_at(0)?)),
        ("LINUX", NT_ARM_SYSTEM_CALL) => Some(format!("syscall={}", desc.i32_at(0)?)),
        ("LINUX", NT_X86_XSTATE) => Some(format!(
            "xstate_bv={:#x} xcomp_bv={:#x}",
            desc.u64_at(512)?,
            desc.u64_at(520)?
        )),
        ("LINUX", NT_X86_XSAVE_LAYOUT) => Some(
            parse_xsave_layout(desc)
                .iter()
                .map(|c| format!("{}@{}+{}", c.feature, c.offset, c.size))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("CORE", NT_FILE) => {
            let f = parse_file_note(desc, word)?;
            Some(format!(
                "{} files, page size {}",
                f.mappings.len(),
                f.page_size
            ))
        }
        ("CORE", NT_SIGINFO) => {
            let s = parse_siginfo(desc, word as u8)?;
            Some(format!(
                "signo={} code={} errno={}",
                s.signo, s.code, s.errno
            ))
        }
        _ => None,
    }
}

/// Parses the decompressed bytes of an ELF core into the common model.
pub(crate) fn parse(path: &Path, input: ImageBytes, options: &OpenOptions) -> Result<Image> {
    let ImageBytes {
        bytes,
        compression,
        mut findings,
    } = input;
    let file: &[u8] = &bytes;
    let file_len = file.len() as u64;
    let layout = read_layout(path, file, &mut findings)?;
    let arch = layout.arch;

    let raw_notes = read_notes(path, file, &layout, &mut findings)?;
    // A kernel dump is an ET_CORE too; its notes say so, or (when the notes
    // are damaged) its memory lies in the kernel's half of the address space.
    if crate::image::vmcore::is_kernel_dump(&raw_notes)
        || crate::image::vmcore::maps_kernel_memory(&layout.phdrs, layout.word)
    {
        return crate::image::vmcore::read_elf(
            path,
            bytes.clone(),
            compression,
            findings,
            arch,
            &layout.phdrs,
            &raw_notes,
        );
    }
    let ProcessNotes {
        mut process,
        auxv,
        file_note,
        xsave_layout,
        ckdump_info,
        pointer_auth,
        groups,
        details,
    } = read_process_notes(file, &raw_notes, &layout, &mut findings);
    let (mut threads, statuses) = read_threads(
        file,
        &raw_notes,
        &groups,
        arch,
        &xsave_layout,
        &mut findings,
    );
    check_thread_notes(&groups, &raw_notes, &threads, &mut findings);

    let plain_statuses: Vec<PrStatus> = statuses.iter().map(|(s, _)| s.clone()).collect();
    let first_siginfo = statuses.first().and_then(|(_, i)| i.as_ref());
    let producer = if ckdump_info.is_some() {
        Producer::Ckdump
    } else {
        detect_producer(&raw_notes, &plain_statuses, first_siginfo)
    };
    let fault = build_fault(&statuses);

    let page_size = linux_modules::auxv_value(&auxv, linux_modules::AT_PAGESZ)
        .and_then(plausible_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let mut mappings: Vec<FileMapping> = file_note.map(|f| f.mappings).unwrap_or_default();
    let (regions, segments) = read_regions_and_memory(&layout, &bytes, &mappings);
    for m in &mut mappings {
        m.executable = regions
            .iter()
            .find(|r| r.start < m.end && m.start < r.end)
            .map(|r| r.protection.execute);
    }
    let loads = load_segments(&layout);
    if loads.is_empty() {
        findings.push(Finding::new(
            &finding::ELF_NO_MEMORY,
            "the core has no PT_LOAD segment: no memory at all, so no stack, module or variable can be read; threads show their registers only",
        ));
    }
    check_segments(&loads, file_len, page_size, &mut findings);
    check_file_mappings(&mappings, &regions, &producer, &mut findings);

    let mut memory = SegmentMemory::new(segments);
    let modules =
        linux_modules::discover_modules(&memory, &mappings, &auxv, arch.pointer_size(), page_size);
    if options.use_host_files {
        let absent = absent_file_ranges(&mappings, &regions);
        linux_modules::add_host_file_fallbacks(
            &mut memory,
            &modules,
            &absent,
            options.sysroot.as_deref(),
        );
    }

    if let Some(p) = process.as_mut() {
        p.executable = modules
            .iter()
            .find(|m| m.is_main)
            .map(|m| m.path.clone())
            .or_else(|| mappings.first().map(|m| m.path.clone()))
            .or_else(|| {
                let at = linux_modules::auxv_value(&auxv, linux_modules::AT_EXECFN)?;
                linux_modules::string_at(&memory, at)
            });
    } else if let Some(first) = statuses.first() {
        // No NT_PRPSINFO: the thread-group leader's ids from NT_PRSTATUS.
        process = Some(Process {
            pid: Some(first.0.pid),
            ..Process::default()
        });
    }
    name_threads(&mut threads, process.as_ref(), ckdump_info.as_ref());
    let timestamp = ckdump_info.as_ref().and_then(|i| i.time);

    Ok(Image {
        path: path.to_path_buf(),
        format: ImageFormat::ElfCore,
        compression,
        size: file_len,
        target: Target {
            page_size,
            ..Target::linux_process(arch)
        },
        producer,
        fault,
        timestamp,
        details,
        findings,
        process: ProcessView {
            facts: process,
            threads,
            modules,
            regions,
            memory: Arc::new(memory),
            auxv,
            checkpoint: None,
            pointer_auth,
        },
        other_processes: Vec::new(),
    })
}

/// The notes of every PT_NOTE segment, in file order. A core without any
/// readable note has no threads and no process: an error.
fn read_notes(
    path: &Path,
    file: &[u8],
    layout: &CoreLayout,
    findings: &mut Vec<Finding>,
) -> Result<Vec<RawNote>> {
    let file_len = file.len() as u64;
    let mut raw_notes: Vec<RawNote> = Vec::new();
    let mut note_segments = 0usize;
    for (i, ph) in layout
        .phdrs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_type == PT_NOTE)
    {
        note_segments += 1;
        let end = ph.p_offset.saturating_add(ph.p_filesz);
        if end > file_len {
            findings.push(
                Finding::new(
                    &finding::ELF_NOTE_BOUNDS,
                    format!(
                        "PT_NOTE #{i} at {:#x} is {} bytes but the file ends at {file_len:#x}; {} bytes of notes are missing",
                        ph.p_offset,
                        ph.p_filesz,
                        end - file_len.max(ph.p_offset).min(end)
                    ),
                )
                .at_offset(ph.p_offset),
            );
        }
        if let Some(problem) = parse_notes(file, ph.p_offset, ph.p_filesz, &mut raw_notes) {
            // A cut file's last note is a bounds problem already reported.
            if end <= file_len {
                findings.push(
                    Finding::new(&finding::ELF_NOTE_MALFORMED, problem.message)
                        .at_offset(problem.offset),
                );
            }
        }
    }
    if raw_notes.is_empty() {
        return Err(malformed(
            path,
            layout.phdrs.first().map_or(0, |p| p.p_offset),
            if note_segments == 0 {
                "ELF core without a PT_NOTE segment (no threads or process information)".to_string()
            } else {
                "no readable notes in the PT_NOTE segment (the core is truncated or damaged)"
                    .to_string()
            },
        ));
    }
    Ok(raw_notes)
}

/// What the process-wide notes say, and the per-thread note groups.
struct ProcessNotes {
    /// From NT_PRPSINFO.
    process: Option<Process>,
    auxv: Vec<AuxvEntry>,
    file_note: Option<FileNote>,
    xsave_layout: Vec<XfeatComponent>,
    ckdump_info: Option<CkdumpInfo>,
    /// From the first usable NT_ARM_PAC_MASK (one per thread, all alike).
    pointer_auth: Option<PointerAuthMasks>,
    groups: Vec<ThreadNotes>,
    /// Every note listed (the auxv is filled in later).
    details: FormatDetails,
}

/// A finding about one note.
fn malformed_note(findings: &mut Vec<Finding>, note: &RawNote, what: String) {
    findings.push(
        Finding::new(
            &finding::ELF_NOTE_MALFORMED,
            format!(
                "{} at {:#x}: {what}",
                note_name(&note.owner, note.kind).unwrap_or("note"),
                note.offset
            ),
        )
        .at_offset(note.offset),
    );
}

/// Decodes the process-wide notes (NT_PRPSINFO, NT_AUXV, NT_FILE, the
/// XSAVE layout, ckdump's own) and groups the per-thread notes under the
/// NT_PRSTATUS that starts each thread.
fn read_process_notes(
    file: &[u8],
    raw_notes: &[RawNote],
    layout: &CoreLayout,
    findings: &mut Vec<Finding>,
) -> ProcessNotes {
    let (arch, word) = (layout.arch, layout.word);
    let mut out = ProcessNotes {
        process: None,
        auxv: Vec::new(),
        file_note: None,
        xsave_layout: Vec::new(),
        ckdump_info: None,
        pointer_auth: None,
        groups: Vec::new(),
        details: FormatDetails::default(),
    };
    let mut unknown: BTreeMap<(String, u32), (usize, u64)> = BTreeMap::new();
    for (idx, note) in raw_notes.iter().enumerate() {
        let desc = note.desc(file);
        let name = note_name(&note.owner, note.kind);
        out.details.notes.push(NoteRecord {
            owner: note.owner.clone(),
            kind: note.kind,
            name,
            size: note.desc_len as u64,
            offset: note.offset,
            description: describe_note(note, desc, word),
        });
        if name.is_none() {
            let e = unknown
                .entry((note.owner.clone(), note.kind))
                .or_insert((0, note.offset));
            e.0 += 1;
        }
        if is_core(note, NT_PRSTATUS) {
            out.groups.push(ThreadNotes {
                prstatus: Some(idx),
                others: Vec::new(),
            });
            continue;
        }
        if is_core(note, NT_PRPSINFO) {
            match parse_prpsinfo(desc, arch) {
                Some(p) if out.process.is_none() => out.process = Some(p),
                Some(_) => malformed_note(
                    findings,
                    note,
                    "a second NT_PRPSINFO; the first is used".into(),
                ),
                None => {
                    malformed_note(findings, note, format!("{} bytes is too short", desc.len()))
                }
            }
        } else if is_core(note, NT_AUXV) {
            if out.auxv.is_empty() {
                out.auxv = parse_auxv(desc, word);
            }
        } else if is_core(note, NT_FILE) {
            match parse_file_note(desc, word) {
                Some(f) => {
                    if f.missing > 0 {
                        malformed_note(
                            findings,
                            note,
                            format!(
                                "announces {} mappings but holds only {}",
                                f.missing + f.mappings.len() as u64,
                                f.mappings.len()
                            ),
                        );
                    }
                    if out.file_note.is_none() {
                        out.file_note = Some(f);
                    }
                }
                None => {
                    malformed_note(findings, note, format!("{} bytes is too short", desc.len()))
                }
            }
        } else if is_linux(note, NT_ARM_PAC_MASK) {
            match parse_pac_mask(desc) {
                Ok(m) if out.pointer_auth.is_none() => out.pointer_auth = Some(m),
                Ok(m) if out.pointer_auth != Some(m) => malformed_note(
                    findings,
                    note,
                    format!(
                        "data_mask {:#x} / insn_mask {:#x} differ from the first thread's; the first are used",
                        m.data, m.insn
                    ),
                ),
                Ok(_) => {}
                Err(why) => malformed_note(findings, note, why),
            }
        } else if is_linux(note, NT_X86_XSAVE_LAYOUT) {
            out.xsave_layout = parse_xsave_layout(desc);
        } else if note.owner == CKDUMP_OWNER && note.kind == NT_CKDUMP_INFO {
            out.ckdump_info
                .get_or_insert_with(|| parse_ckdump_info(desc));
        }
        if !is_process_note(note)
            && let Some(g) = out.groups.last_mut()
        {
            g.others.push(idx);
        }
    }
    for ((owner, kind), (count, offset)) in &unknown {
        findings.push(
            Finding::new(
                &finding::NOTE_UNKNOWN,
                format!("{count} note(s) of owner {owner:?} type {kind:#x} are not decoded"),
            )
            .at_offset(*offset),
        );
    }
    out
}

/// A thread's decoded NT_PRSTATUS and NT_SIGINFO.
type ThreadStatus = (PrStatus, Option<SigInfo>);

/// Decodes each thread's NT_PRSTATUS, NT_SIGINFO and register notes: the
/// model's threads, and their status notes for the fault and the producer.
fn read_threads(
    file: &[u8],
    raw_notes: &[RawNote],
    groups: &[ThreadNotes],
    arch: Arch,
    xsave_layout: &[XfeatComponent],
    findings: &mut Vec<Finding>,
) -> (Vec<Thread>, Vec<ThreadStatus>) {
    let mut threads = Vec::new();
    let mut statuses = Vec::new();
    let min_prstatus = prstatus_min_size(arch);
    for g in groups {
        let Some(note) = g.prstatus.and_then(|i| raw_notes.get(i)) else {
            continue;
        };
        let desc = note.desc(file);
        if desc.len() < min_prstatus {
            malformed_note(
                findings,
                note,
                format!(
                    "{} bytes, {} needed for {} registers",
                    desc.len(),
                    min_prstatus,
                    arch.name()
                ),
            );
        }
        let Some(status) = parse_prstatus(desc, arch) else {
            continue;
        };
        let group_notes: Vec<&RawNote> =
            g.others.iter().filter_map(|&i| raw_notes.get(i)).collect();
        let siginfo = group_notes
            .iter()
            .find(|n| is_core(n, NT_SIGINFO))
            .and_then(|n| parse_siginfo(n.desc(file), arch.pointer_size()));
        let float = float_state(&group_notes, file, arch, xsave_layout);
        threads.push(thread_of(&status, siginfo.as_ref(), float));
        statuses.push((status, siginfo));
    }
    (threads, statuses)
}

/// The PT_LOADs with their index in the program header table.
fn load_segments(layout: &CoreLayout) -> Vec<(usize, &ProgramHeader)> {
    layout
        .phdrs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_type == PT_LOAD)
        .collect()
}

/// One region and one memory segment per PT_LOAD; regions sorted by
/// address and named after the NT_FILE mapping that covers them.
fn read_regions_and_memory(
    layout: &CoreLayout,
    bytes: &Bytes,
    mappings: &[FileMapping],
) -> (Vec<Region>, Vec<Segment>) {
    let file_len = bytes.len() as u64;
    let loads = load_segments(layout);
    let mut regions = Vec::with_capacity(loads.len());
    let mut segments = Vec::with_capacity(loads.len());
    for (_, ph) in &loads {
        let in_file = file_len
            .saturating_sub(ph.p_offset)
            .min(ph.p_filesz)
            .min(ph.p_memsz);
        let capture = if in_file == 0 {
            Capture::Absent
        } else if in_file < ph.p_memsz {
            Capture::Partial { bytes: in_file }
        } else {
            Capture::Full
        };
        let start = ph.p_vaddr;
        let end = start.saturating_add(ph.p_memsz);
        let file_backing = mappings
            .iter()
            .find(|m| m.start <= start && start < m.end)
            .or_else(|| mappings.iter().find(|m| m.start < end && start < m.end))
            .map(|m| RegionFile {
                path: m.path.clone(),
                offset: m.file_offset.saturating_add(start.saturating_sub(m.start)),
            });
        regions.push(Region {
            start,
            end,
            protection: Protection {
                read: ph.p_flags & PF_R != 0,
                write: ph.p_flags & PF_W != 0,
                execute: ph.p_flags & PF_X != 0,
            },
            sharing: Sharing::Unknown,
            file: file_backing,
            capture,
            image_offset: (in_file > 0).then_some(ph.p_offset),
            windows: None,
            linux: None,
        });
        segments.push(Segment {
            address: start,
            size: ph.p_memsz,
            captured: ph.p_filesz,
            offset: ph.p_offset,
            bytes: bytes.clone(),
        });
    }
    regions.sort_by_key(|r| (r.start, r.end));
    (regions, segments)
}

/// ELF cores carry no thread names, but NT_PRPSINFO's fname is the
/// thread-group leader's comm, which is the main thread's name; ckdump's
/// snapshots record every thread's name in their own note.
fn name_threads(threads: &mut [Thread], process: Option<&Process>, ckdump: Option<&CkdumpInfo>) {
    if let Some(p) = process {
        let leader = threads.iter_mut().find(|t| Some(t.tid) == p.pid);
        if let (Some(t), Some(name)) = (leader, p.name.as_ref()) {
            t.name = Some(name.clone());
        }
    }
    if let Some(info) = ckdump {
        for (tid, name) in &info.thread_names {
            if let Some(t) = threads.iter_mut().find(|t| t.tid == *tid) {
                t.name = Some(name.clone());
            }
        }
    }
}

/// The model's thread from its decoded NT_PRSTATUS (and NT_SIGINFO).
fn thread_of(status: &PrStatus, siginfo: Option<&SigInfo>, float: Option<FloatState>) -> Thread {
    Thread {
        tid: status.pid,
        name: None,
        registers: status.registers.clone(),
        float,
        // gdb writes a NT_SIGINFO per thread (SIGSTOP for the threads it
        // stopped) while pr_cursig may be 0; the siginfo is the precise one.
        signal: siginfo
            .map(|i| i.signo)
            .filter(|s| *s != 0)
            .or(Some(status.cursig)),
        pending_signals: Some(status.sigpend),
        blocked_signals: Some(status.sighold),
        user_time_us: Some(status.utime_us),
        system_time_us: Some(status.stime_us),
    }
}

/// Decodes one thread from note descriptors exactly as a core's notes are
/// decoded: a live process's registers go through the same code as the
/// snapshot written of it, so both give the same thread.
pub(crate) fn thread_from_notes(
    arch: Arch,
    prstatus: &[u8],
    fpregset: Option<&[u8]>,
    xstate: Option<&[u8]>,
) -> Option<Thread> {
    let status = parse_prstatus(prstatus, arch)?;
    let find = |owner: &str, kind: u32| match (owner, kind) {
        ("CORE", NT_FPREGSET) => fpregset,
        ("LINUX", NT_X86_XSTATE) => xstate,
        _ => None,
    };
    let float = float_from(&find, arch, &[]);
    Some(thread_of(&status, None, float))
}

/// A thread's floating-point state from the richest note present.
fn float_state(
    group: &[&RawNote],
    file: &[u8],
    arch: Arch,
    layout: &[XfeatComponent],
) -> Option<FloatState> {
    let find = |owner: &str, kind: u32| {
        group
            .iter()
            .find(|n| n.owner == owner && n.kind == kind)
            .map(|n| n.desc(file))
    };
    float_from(&find, arch, layout)
}

fn float_from<'a>(
    find: &dyn Fn(&str, u32) -> Option<&'a [u8]>,
    arch: Arch,
    layout: &[XfeatComponent],
) -> Option<FloatState> {
    let mut state = FloatState::default();
    let filled = match arch {
        Arch::Aarch64 => find("CORE", NT_FPREGSET).is_some_and(|d| apply_fpsimd(&mut state, d)),
        Arch::X86_64 | Arch::X86 => {
            if let Some(x) = find("LINUX", NT_X86_XSTATE).filter(|d| d.len() >= 576) {
                apply_xsave(&mut state, x, arch, layout).is_some()
            } else if let Some(fx) = find("LINUX", NT_PRXFPREG) {
                apply_fxsave(&mut state, fx, arch)
            } else if let Some(fp) = find("CORE", NT_FPREGSET) {
                if arch == Arch::X86_64 {
                    apply_fxsave(&mut state, fp, arch)
                } else {
                    apply_fsave(&mut state, fp)
                }
            } else {
                false
            }
        }
        Arch::Arm => false,
    };
    filled.then_some(state)
}

/// Every thread has an NT_PRSTATUS with a unique tid and the same set of
/// per-thread notes as the first thread.
fn check_thread_notes(
    groups: &[ThreadNotes],
    notes: &[RawNote],
    threads: &[Thread],
    findings: &mut Vec<Finding>,
) {
    if groups.is_empty() {
        findings.push(Finding::new(
            &finding::THREAD_COUNT,
            "the core has no NT_PRSTATUS note: no thread registers",
        ));
        return;
    }
    let mut seen = HashSet::new();
    for t in threads {
        if !seen.insert(t.tid) {
            findings.push(Finding::new(
                &finding::THREAD_COUNT,
                format!("thread id {} has more than one NT_PRSTATUS", t.tid),
            ));
        }
    }
    // NT_SIGINFO is per-thread in gdb cores but only with the first thread
    // in kernel cores, so it is left out of the comparison; so are the FPU
    // notes, which kernels before 3.x wrote only for threads that had used
    // the FPU (a thread without them simply never did).
    let kinds = |g: &ThreadNotes| -> BTreeSet<(String, u32)> {
        g.others
            .iter()
            .filter_map(|&i| notes.get(i))
            .filter(|n| !is_core(n, NT_SIGINFO) && !is_fpu_state(n))
            .map(|n| (n.owner.clone(), n.kind))
            .collect()
    };
    let reference = kinds(&groups[0]);
    let mut mismatched = CappedFindings::new(LISTED_FINDINGS);
    for (i, g) in groups.iter().enumerate().skip(1) {
        let k = kinds(g);
        if k != reference {
            let name = |s: &BTreeSet<(String, u32)>| {
                s.iter()
                    .map(|(o, t)| {
                        note_name(o, *t).map_or_else(|| format!("{o}/{t:#x}"), str::to_string)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let offset = g
                .prstatus
                .and_then(|p| notes.get(p))
                .map_or(0, |n| n.offset);
            mismatched.push(
                &finding::THREAD_COUNT,
                Finding::new(
                    &finding::THREAD_COUNT,
                    format!(
                        "thread #{i} has notes [{}] but the first thread has [{}]",
                        name(&k),
                        name(&reference)
                    ),
                )
                .at_offset(offset),
            );
        }
    }
    findings.extend(mismatched.finish());
}

/// Truncated, absent, overlapping and unaligned PT_LOADs.
fn check_segments(
    loads: &[(usize, &ProgramHeader)],
    file_len: u64,
    page_size: u64,
    findings: &mut Vec<Finding>,
) {
    let mut truncated = 0usize;
    let mut lost_total: u64 = 0;
    let mut absent = 0usize;
    let mut absent_bytes: u64 = 0;
    for (i, ph) in loads {
        let want_end = ph.p_offset.saturating_add(ph.p_filesz);
        if want_end > file_len && ph.p_filesz > 0 {
            let have = file_len.saturating_sub(ph.p_offset).min(ph.p_filesz);
            let lost = ph.p_filesz - have;
            truncated += 1;
            lost_total = lost_total.saturating_add(lost);
            if truncated <= LISTED_FINDINGS {
                findings.push(
                    Finding::new(
                        &finding::ELF_SEGMENT_TRUNCATED,
                        format!(
                            "PT_LOAD #{i} at {:#x}: {lost} of {} bytes missing, file ends at {file_len:#x}",
                            ph.p_vaddr, ph.p_filesz
                        ),
                    )
                    .at_offset(ph.p_offset.min(file_len))
                    .at_address(ph.p_vaddr),
                );
            }
        }
        if ph.p_filesz < ph.p_memsz {
            absent += 1;
            absent_bytes = absent_bytes.saturating_add(ph.p_memsz - ph.p_filesz);
        }
    }
    if truncated > 1 {
        findings.push(Finding::new(
            &finding::ELF_SEGMENT_TRUNCATED,
            format!("{truncated} PT_LOADs reach past the end of the file ({file_len:#x}); {lost_total} bytes missing in total"),
        ).at_offset(file_len));
    }
    if absent > 0 {
        findings.push(Finding::new(
            &finding::ELF_SEGMENT_ABSENT,
            format!("{absent} of {} PT_LOADs were written without (all of) their bytes (p_filesz < p_memsz): {absent_bytes} bytes of mapped memory not captured", loads.len()),
        ));
    }
    // Overlaps in memory and in the file.
    let headers: Vec<&ProgramHeader> = loads.iter().map(|(_, p)| *p).collect();
    let in_memory = overlapping(&headers, |p| (p.p_vaddr, p.p_memsz));
    let in_file = overlapping(&headers, |p| (p.p_offset, p.p_filesz));
    // Memory overlaps first, then file ones, LISTED_FINDINGS in all.
    let mut overlaps = CappedFindings::new(LISTED_FINDINGS);
    for (a, b) in &in_memory {
        overlaps.push(
            &finding::ELF_SEGMENT_OVERLAP,
            Finding::new(
                &finding::ELF_SEGMENT_OVERLAP,
                format!(
                    "PT_LOADs at {:#x} (+{:#x}) and {:#x} overlap in memory",
                    a.p_vaddr, a.p_memsz, b.p_vaddr
                ),
            )
            .at_address(b.p_vaddr),
        );
    }
    for (a, b) in &in_file {
        overlaps.push(
            &finding::ELF_SEGMENT_OVERLAP,
            Finding::new(
                &finding::ELF_SEGMENT_OVERLAP,
                format!(
                    "PT_LOADs for {:#x} and {:#x} share file bytes at {:#x}",
                    a.p_vaddr, b.p_vaddr, b.p_offset
                ),
            )
            .at_offset(b.p_offset),
        );
    }
    findings.extend(overlaps.finish());
    let mask = page_size - 1;
    let unaligned: Vec<&ProgramHeader> = loads
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| {
            p.p_vaddr & mask != 0
                || p.p_memsz & mask != 0
                || (p.p_align > 1
                    && p.p_align.is_power_of_two()
                    && (p.p_vaddr ^ p.p_offset) & (p.p_align - 1) != 0)
        })
        .collect();
    if let Some(first) = unaligned.first() {
        findings.push(
            Finding::new(
                &finding::ELF_SEGMENT_UNALIGNED,
                format!(
                    "{} PT_LOAD(s) not aligned to the {page_size}-byte page, first at {:#x} (+{:#x}, file {:#x})",
                    unaligned.len(),
                    first.p_vaddr,
                    first.p_memsz,
                    first.p_offset
                ),
            )
            .at_address(first.p_vaddr)
            .at_offset(first.p_offset),
        );
    }
}

/// Neighbours, in order of start, whose [start, start + len) ranges
/// overlap; empty ranges are left out. `span` gives (start, len).
fn overlapping<'p>(
    headers: &[&'p ProgramHeader],
    span: impl Fn(&ProgramHeader) -> (u64, u64),
) -> Vec<(&'p ProgramHeader, &'p ProgramHeader)> {
    let mut sorted: Vec<&ProgramHeader> =
        headers.iter().copied().filter(|p| span(p).1 > 0).collect();
    sorted.sort_by_key(|p| span(p).0);
    sorted
        .windows(2)
        .filter(|w| {
            let ((a, len), (b, _)) = (span(w[0]), span(w[1]));
            a.saturating_add(len) > b
        })
        .map(|w| (w[0], w[1]))
        .collect()
}

/// Sorted, merged [start, end) ranges covered by regions.
fn covered_ranges(regions: &[Region]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for r in regions {
        match out.last_mut() {
            Some(last) if r.start <= last.1 => last.1 = last.1.max(r.end),
            _ => out.push((r.start, r.end)),
        }
    }
    out
}

/// Parts of `[start, end)` not covered by `covered` (sorted, merged).
fn uncovered_parts(covered: &[(u64, u64)], start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    let first = covered.partition_point(|c| c.1 <= start);
    for &(s, e) in covered.iter().skip(first) {
        if s >= end || at >= end {
            break;
        }
        if s > at {
            out.push((at, s));
        }
        at = at.max(e);
    }
    if at < end {
        out.push((at, end));
    }
    out
}

fn check_file_mappings(
    mappings: &[FileMapping],
    regions: &[Region],
    producer: &Producer,
    findings: &mut Vec<Finding>,
) {
    let covered = covered_ranges(regions);
    let outside: Vec<&FileMapping> = mappings
        .iter()
        .filter(|m| m.end < m.start || !uncovered_parts(&covered, m.start, m.end).is_empty())
        .collect();
    let Some(first) = outside.first() else { return };
    let listed: Vec<String> = outside
        .iter()
        .take(3)
        .map(|m| format!("{:#x}-{:#x} {}", m.start, m.end, m.path))
        .collect();
    // gdb leaves unmodified read-only file mappings out by design: the
    // files hold those bytes, so that is no inconsistency.
    if matches!(producer, Producer::GdbGenerateCoreFile | Producer::Gcore) {
        return;
    }
    let f = Finding::new(
        &finding::NT_FILE_CONSISTENT,
        format!(
            "{} of {} NT_FILE mappings are not (fully) inside PT_LOAD segments: {}{}",
            outside.len(),
            mappings.len(),
            listed.join(", "),
            if outside.len() > 3 { ", ..." } else { "" }
        ),
    )
    .at_address(first.start)
    .about_path(first.path.clone());
    findings.push(f);
}

/// File-backed ranges whose bytes the core does not hold: absent or
/// partial PT_LOADs, and NT_FILE ranges outside every PT_LOAD.
fn absent_file_ranges(mappings: &[FileMapping], regions: &[Region]) -> Vec<AbsentRange> {
    let mut out = Vec::new();
    let covered = covered_ranges(regions);
    for m in mappings {
        if m.end <= m.start {
            continue;
        }
        let in_holes = regions
            .iter()
            .any(|r| r.capture != Capture::Full && r.start < m.end && m.start < r.end);
        let outside = !uncovered_parts(&covered, m.start, m.end).is_empty();
        if in_holes || outside {
            out.push(AbsentRange {
                start: m.start,
                end: m.end,
                file_offset: m.file_offset,
                path: m.path.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The notes and bytes of a generated core, or None (after a notice, or
    /// a failure in CI) when ../shared lacks it. A core that is there but
    /// does not read fails the test.
    #[track_caller]
    fn core_notes(name: &str) -> Option<(Vec<u8>, Vec<RawNote>)> {
        let path = crate::test_support::shared_path(&format!("generated/linux-cores/{name}"))?;
        let file = std::fs::File::open(&path).unwrap();
        let bytes = zstd::stream::decode_all(file).unwrap();
        let mut findings = Vec::new();
        let layout = read_layout(&path, &bytes, &mut findings).unwrap();
        let mut notes = Vec::new();
        for ph in layout.phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
            assert!(parse_notes(&bytes, ph.p_offset, ph.p_filesz, &mut notes).is_none());
        }
        Some((bytes, notes))
    }

    /// One note as a little-endian writer lays it out.
    fn note_bytes(owner: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut name = owner.as_bytes().to_vec();
        name.push(0);
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&name);
        v.resize(v.len().next_multiple_of(4), 0);
        v.extend_from_slice(desc);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    fn pac_mask_desc(data: u64, insn: u64) -> Vec<u8> {
        let mut d = data.to_le_bytes().to_vec();
        d.extend_from_slice(&insn.to_le_bytes());
        d
    }

    #[test]
    fn pac_mask_notes_become_the_process_masks_that_drive_the_strip() {
        use crate::unwind::pointer_auth::strip_pointer_authentication;
        // What Linux writes for a task in a 52-bit address space:
        // GENMASK(54, 52), one note per thread.
        const MASK_52: u64 = 0x0070_0000_0000_0000;
        let prstatus = vec![0u8; 392];
        let mut stream = Vec::new();
        for pac in [
            pac_mask_desc(MASK_52, MASK_52),
            pac_mask_desc(MASK_52, MASK_52),
            // A thread disagreeing (48-bit masks), and a cut note.
            pac_mask_desc(0x007f_0000_0000_0000, 0x007f_0000_0000_0000),
            vec![0u8; 8],
        ] {
            stream.extend(note_bytes("CORE", NT_PRSTATUS, &prstatus));
            stream.extend(note_bytes("LINUX", NT_ARM_PAC_MASK, &pac));
        }
        let mut notes = Vec::new();
        assert!(parse_notes(&stream, 0, stream.len() as u64, &mut notes).is_none());
        let layout = CoreLayout {
            arch: Arch::Aarch64,
            word: 8,
            phdrs: Vec::new(),
        };
        let mut findings = Vec::new();
        let out = read_process_notes(&stream, &notes, &layout, &mut findings);
        let masks = out.pointer_auth.expect("masks read");
        assert_eq!(
            masks,
            PointerAuthMasks {
                data: MASK_52,
                insn: MASK_52
            }
        );
        assert_eq!(out.groups.len(), 4);
        let malformed: Vec<&str> = findings
            .iter()
            .filter(|f| f.code == finding::ELF_NOTE_MALFORMED.code)
            .map(|f| f.message.as_str())
            .collect();
        let at = |n: usize| notes[n].offset;
        assert_eq!(
            malformed,
            [
                format!(
                    "NT_ARM_PAC_MASK at {:#x}: data_mask 0x7f000000000000 / insn_mask 0x7f000000000000 differ from the first thread's; the first are used",
                    at(5)
                ),
                format!("NT_ARM_PAC_MASK at {:#x}: 8 bytes, 16 needed", at(7)),
            ]
        );

        // A return address signed in that space: bits 48..51 are address,
        // only 52..54 and the top byte hold the code.
        let signed = 0x3d5f_aaaa_0000_1234;
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, signed, Some(masks.insn)),
            0x000f_aaaa_0000_1234
        );
        // The 48-bit default would cut the address.
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, signed, None),
            0x0000_aaaa_0000_1234
        );
        // An upper-half (kernel) address keeps its sign: bits 52..63 set.
        assert_eq!(
            strip_pointer_authentication(Arch::Aarch64, 0x00b8_1000_1000_2000, Some(masks.insn)),
            0xfff8_1000_1000_2000
        );
    }

    #[test]
    fn kernel_xsave_components_are_located_through_the_layout_note() {
        let Some((bytes, notes)) = core_notes("core.kernel-sigsegv.zst") else {
            return;
        };
        let layout_note = notes
            .iter()
            .find(|n| is_linux(n, NT_X86_XSAVE_LAYOUT))
            .unwrap();
        let layout = parse_xsave_layout(layout_note.desc(&bytes));
        assert_eq!(
            layout[0],
            XfeatComponent {
                feature: 2,
                size: 256,
                offset: 576,
                flags: 0
            }
        );
        let xstate = notes.iter().find(|n| is_linux(n, NT_X86_XSTATE)).unwrap();
        assert_eq!(xstate.desc_len, 2432);
        let mut fp = FloatState::default();
        let summary = apply_xsave(&mut fp, xstate.desc(&bytes), Arch::X86_64, &layout).unwrap();
        assert_eq!(summary.xstate_bv, 0xa2);
        assert!(!summary.compacted);
        assert_eq!(summary.avx_offset, Some(576));
        assert_eq!(summary.cet_offset, None);
    }

    #[test]
    fn gdb_xsave_without_layout_uses_the_standard_avx_offset() {
        let Some((bytes, notes)) = core_notes("core.gdb-generate-core-file.zst") else {
            return;
        };
        assert!(!notes.iter().any(|n| is_linux(n, NT_X86_XSAVE_LAYOUT)));
        let xstate = notes.iter().find(|n| is_linux(n, NT_X86_XSTATE)).unwrap();
        let area = xstate.desc(&bytes);
        let mut fp = FloatState::default();
        let summary = apply_xsave(&mut fp, area, Arch::X86_64, &[]).unwrap();
        assert_eq!(summary.xstate_bv, 0xe7);
        assert_eq!(summary.avx_offset, Some(576));
        let mut ymm0_hi = String::from("0x");
        for b in area[576..592].iter().rev() {
            ymm0_hi.push_str(&format!("{b:02x}"));
        }
        assert_eq!(fp.vector_upper[0], ymm0_hi);
    }

    #[test]
    fn producer_heuristic() {
        let note = |owner: &str, kind| RawNote {
            owner: owner.into(),
            kind,
            offset: 0,
            desc_offset: 0,
            desc_len: 0,
        };
        let status = |cursig| PrStatus {
            signo: 0,
            cursig,
            sigpend: 0,
            sighold: 0,
            pid: 1,
            ppid: 0,
            pgrp: 0,
            sid: 0,
            utime_us: 0,
            stime_us: 0,
            registers: crate::model::RegisterSet::new(Arch::X86_64),
        };
        let kernel = [note("CORE", NT_PRSTATUS), note("CORE", NT_PRPSINFO)];
        assert_eq!(
            detect_producer(&kernel, &[status(11)], None),
            Producer::LinuxKernel
        );
        let gdb = [note("CORE", NT_PRPSINFO), note("CORE", NT_PRSTATUS)];
        assert_eq!(
            detect_producer(&gdb, &[status(11)], None),
            Producer::GdbGenerateCoreFile
        );
        assert_eq!(detect_producer(&gdb, &[status(0)], None), Producer::Gcore);
        let stop = SigInfo {
            signo: SIGSTOP,
            errno: 0,
            code: 0,
            address: None,
            sender_pid: None,
            sender_uid: None,
        };
        assert_eq!(
            detect_producer(&gdb, &[status(0)], Some(&stop)),
            Producer::Gcore
        );
        // A kernel-ordered stream with a GDB note is gdb's.
        let mixed = [note("CORE", NT_PRSTATUS), note("GDB", NT_GDB_TDESC)];
        assert_eq!(
            detect_producer(&mixed, &[status(5)], None),
            Producer::GdbGenerateCoreFile
        );
    }

    #[test]
    fn overlapping_loads_past_the_cap_are_summarised() {
        // Ten 8 KiB PT_LOADs at one address, each with its own file bytes:
        // nine overlapping pairs in memory, none in the file.
        let headers: Vec<ProgramHeader> = (0..10u64)
            .map(|i| ProgramHeader {
                p_type: PT_LOAD,
                p_vaddr: 0x40_0000,
                p_memsz: 0x2000,
                p_offset: 0x1000 + i * 0x2000,
                p_filesz: 0x2000,
                p_align: 0x1000,
                ..ProgramHeader::default()
            })
            .collect();
        let loads: Vec<(usize, &ProgramHeader)> = headers.iter().enumerate().collect();
        let mut findings = Vec::new();
        check_segments(&loads, 0x1000 + 10 * 0x2000, 0x1000, &mut findings);
        let overlaps: Vec<&str> = findings
            .iter()
            .filter(|f| f.code == finding::ELF_SEGMENT_OVERLAP.code)
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(overlaps.len(), LISTED_FINDINGS + 1, "{overlaps:?}");
        assert_eq!(
            overlaps[0],
            "PT_LOADs at 0x400000 (+0x2000) and 0x400000 overlap in memory"
        );
        assert_eq!(
            overlaps[LISTED_FINDINGS],
            "1 more findings of this check not listed"
        );
    }
}
