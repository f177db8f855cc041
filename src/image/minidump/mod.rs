//! Minidumps (MDMP): Windows Error Reporting / MiniDumpWriteDump, Breakpad,
//! Crashpad and minidump-writer dumps, read into the common model.
//!
//! The `minidump` crate parses the structures (it is the well-kept parser
//! rust-minidump's tools use); this module only maps them onto the model and
//! keeps the file's bytes zero-copy for memory reads.

mod streams;

use std::path::Path;
use std::sync::Arc;

use minidump::{
    Minidump, MinidumpException, MinidumpLinuxMaps, MinidumpMemoryInfoList, MinidumpMiscInfo,
    MinidumpModuleList, MinidumpSystemInfo, MinidumpThreadInfoList, MinidumpThreadList,
    MinidumpThreadNames, Module,
};
use minidump::{MinidumpContext, MinidumpRawContext};

use crate::byte_reader::Fields;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::{Bytes, Segment, SegmentMemory};
use crate::model::{
    Arch, AuxvEntry, Capture, Compression, Fault, FaultCode, FloatState, FormatDetails, Image,
    ImageFormat, Module as ImageModule, ModuleSource, Os, PeIdentity, Process, Protection, Region,
    RegionFile, RegisterSet, Sharing, Target, Thread, WindowsRegion,
};

/// Largest text stream kept for display (Linux /proc files, comments).
const MAX_TEXT: usize = 64 * 1024;

/// The fields of a thread the model needs, from a ThreadList or a
/// ThreadExList entry.
struct RawThread {
    id: u32,
    stack_size: u32,
    stack_rva: u32,
    context: minidump::format::MINIDUMP_LOCATION_DESCRIPTOR,
}

/// The bytes a location descriptor names, when they lie inside the file.
fn location_bytes<'d>(
    data: &'d [u8],
    location: &minidump::format::MINIDUMP_LOCATION_DESCRIPTOR,
) -> Option<&'d [u8]> {
    let start = usize::try_from(location.rva).ok()?;
    let len = usize::try_from(location.data_size).ok()?;
    data.get(start..start.checked_add(len)?)
}

/// MINIDUMP_THREAD_EX entries: MINIDUMP_THREAD (id, suspend count,
/// priority class, priority, TEB, stack descriptor, context location: 48
/// bytes) followed by the backing-store descriptor (16 bytes). Entries past
/// the stream's end are dropped.
fn thread_ex_list(data: &[u8], offset: u64, size: u64) -> Vec<RawThread> {
    const ENTRY: usize = 64;
    let Some(stream) = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(o, n)| data.get(o..o.checked_add(n)?))
    else {
        return Vec::new();
    };
    let Some(count) = stream.u32_at(0) else {
        return Vec::new();
    };
    stream
        .get(4..)
        .unwrap_or_default()
        .chunks_exact(ENTRY)
        .take(count as usize)
        .filter_map(|e| {
            Some(RawThread {
                id: e.u32_at(0)?,
                stack_size: e.u32_at(32)?,
                stack_rva: e.u32_at(36)?,
                context: minidump::format::MINIDUMP_LOCATION_DESCRIPTOR {
                    data_size: e.u32_at(40)?,
                    rva: e.u32_at(44)?,
                },
            })
        })
        .collect()
}

/// Reads a minidump from its (decompressed, mapped) bytes.
pub fn read(path: &Path, bytes: Bytes, compression: Option<Compression>) -> Result<Image> {
    let data: &[u8] = &bytes;
    let dump = Minidump::read(data).map_err(|e| {
        Error::new(
            path,
            ErrorKind::Malformed {
                offset: 0,
                what: format!("minidump header: {e}"),
            },
        )
    })?;
    let mut details = FormatDetails::default();
    let mut findings = Vec::new();

    // The directory in file order, duplicates included (the crate keeps
    // one stream per type, in no particular order).
    details.streams = streams::directory(data);
    streams::check_directory(&details.streams, data.len() as u64, &mut findings);

    let listed: Vec<u32> = details.streams.iter().map(|s| s.kind).collect();
    let has_stream = |kind: u32| listed.contains(&kind);
    let unreadable = |kind: u32, e: &minidump::Error, findings: &mut Vec<_>| {
        if has_stream(kind) {
            streams::unreadable(kind, e, findings);
        }
    };
    let system: Option<MinidumpSystemInfo> = match dump.get_stream() {
        Ok(s) => Some(s),
        Err(e) => {
            unreadable(7, &e, &mut findings);
            None
        }
    };
    let misc: Option<MinidumpMiscInfo> = match dump.get_stream() {
        Ok(m) => Some(m),
        Err(e) => {
            unreadable(15, &e, &mut findings);
            None
        }
    };
    let (os, arch) = match &system {
        Some(s) => (os_of(s), arch_of(s)),
        None => (Os::Unknown, None),
    };
    let arch = arch.unwrap_or(Arch::X86_64);

    // Memory: every captured range, zero-copy over the file.
    let descriptors = streams::memory_descriptors(data, &details.streams, &mut findings);
    let captured: Vec<(u64, u64)> = descriptors
        .iter()
        .filter(|d| d.in_file > 0)
        .map(|d| (d.address, d.in_file))
        .collect();
    let segments: Vec<Segment> = descriptors
        .iter()
        .map(|d| Segment {
            address: d.address,
            size: d.size,
            captured: d.in_file,
            offset: d.rva,
            bytes: bytes.clone(),
        })
        .collect();
    streams::check_memory(data, &descriptors, &mut findings);
    let memory = SegmentMemory::new(segments);

    // Threads.
    let names: Option<MinidumpThreadNames> = dump.get_stream().ok();
    let infos: Option<MinidumpThreadInfoList> = dump.get_stream().ok();
    let mut threads = Vec::new();
    let mut context_sizes = Vec::new();
    let thread_list = dump.get_stream::<MinidumpThreadList>();
    if let Err(e) = &thread_list
        && has_stream(3)
    {
        streams::unreadable(3, e, &mut findings);
    }
    let raw_threads: Vec<RawThread> = match &thread_list {
        Ok(list) => list
            .threads
            .iter()
            .map(|t| RawThread {
                id: t.raw.thread_id,
                stack_size: t.raw.stack.memory.data_size,
                stack_rva: t.raw.stack.memory.rva,
                context: t.raw.thread_context,
            })
            .collect(),
        // Without a ThreadList, a ThreadExList (threads with a backing
        // store, which the crate does not read) gives the same fields.
        Err(_) => details
            .streams
            .iter()
            .find(|s| s.kind == 8)
            .map(|s| thread_ex_list(data, s.offset, s.size))
            .unwrap_or_default(),
    };
    if let Some(sys) = &system {
        for t in &raw_threads {
            let tid = u64::from(t.id);
            streams::check_stack(
                tid,
                t.stack_size,
                t.stack_rva,
                data.len() as u64,
                &mut findings,
            );
            context_sizes.push((tid, t.context.data_size));
            // ThreadInfoList times are FILETIME durations (100 ns units).
            let info = infos
                .as_ref()
                .and_then(|l| l.thread_infos.iter().find(|i| i.raw.thread_id == t.id));
            let context = location_bytes(data, &t.context).and_then(|b| {
                MinidumpContext::read(b, minidump::Endian::Little, sys, misc.as_ref()).ok()
            });
            let (registers, mut float) = match &context {
                Some(c) => registers_of(c, arch),
                None => (RegisterSet::new(arch), None),
            };
            if arch == Arch::X86_64 {
                add_xstate(data, &t.context, misc.as_ref(), &mut float);
            }
            threads.push(Thread {
                tid,
                name: names
                    .as_ref()
                    .and_then(|n| n.get_name(t.id))
                    .map(|n| n.into_owned()),
                registers,
                float,
                signal: None,
                pending_signals: None,
                blocked_signals: None,
                user_time_us: info.map(|i| i.raw.user_time / 10),
                system_time_us: info.map(|i| i.raw.kernel_time / 10),
            });
        }
    }

    // The exception, with its own context (the registers at the crash).
    let mut fault = None;
    let exception = dump.get_stream::<MinidumpException>();
    if let Err(e) = &exception {
        unreadable(6, e, &mut findings);
    }
    if let Ok(exc) = exception {
        let rec = &exc.raw.exception_record;
        let tid = u64::from(exc.raw.thread_id);
        let count = (rec.number_parameters as usize).min(rec.exception_information.len());
        let parameters: Vec<u64> = rec.exception_information[..count].to_vec();
        let is_windows = matches!(os, Os::Windows);
        // Mach exceptions (macOS / iOS) are exception codes too, not signals.
        let exception_like = is_windows || matches!(os, Os::MacOs);
        let code = if exception_like {
            FaultCode::Exception {
                code: rec.exception_code,
                flags: rec.exception_flags,
            }
        } else {
            // Breakpad and Crashpad store the signal number as the code and
            // si_code in the flags.
            FaultCode::Signal {
                signo: rec.exception_code as i32,
                code: rec.exception_flags as i32,
                errno: 0,
                sender_pid: None,
                sender_uid: None,
            }
        };
        let address = match (is_windows, rec.exception_code, parameters.get(1)) {
            (true, 0xC000_0005 | 0xC000_0006, Some(a)) => Some(*a),
            _ => Some(rec.exception_address),
        };
        // 32-bit writers sign-extend addresses into the 64-bit fields.
        let address = address.map(|a| {
            if arch.pointer_size() == 4 {
                a & 0xffff_ffff
            } else {
                a
            }
        });
        if let Some(sys) = &system
            && let Some(c) = exc.context(sys, misc.as_ref())
        {
            let (regs, mut float) = registers_of(&c, arch);
            if arch == Arch::X86_64 {
                add_xstate(data, &exc.raw.thread_context, misc.as_ref(), &mut float);
            }
            if let Some(t) = threads.iter_mut().find(|t| t.tid == tid)
                && !regs.is_empty()
            {
                t.registers = regs;
                if float.is_some() {
                    t.float = float;
                }
            }
        }
        if rec.exception_record != 0 {
            details.texts.push((
                "nested exception".into(),
                format!(
                    "the exception record chains to another at {:#x}",
                    rec.exception_record
                ),
            ));
        }
        // Breakpad's "dump requested" (no crash): code 0xFFFFFFFF on Linux.
        let requested = !exception_like && rec.exception_code == 0xFFFF_FFFF;
        if requested {
            details.texts.push((
                "exception".into(),
                "dump requested while the process was running (no crash)".into(),
            ));
        } else {
            fault = Some(Fault {
                code,
                address,
                thread: Some(tid),
                parameters,
                interrupt_level: None,
            });
        }
    }
    streams::check_threads(
        &threads,
        &context_sizes,
        fault.as_ref(),
        arch,
        &mut findings,
    );

    // Modules.
    let mut modules = Vec::new();
    let module_list = dump.get_stream::<MinidumpModuleList>();
    if let Err(e) = &module_list {
        unreadable(4, e, &mut findings);
    }
    if let Ok(list) = module_list {
        for (i, m) in list.iter().enumerate() {
            let path = m.code_file().into_owned();
            let name = path.rsplit(['/', '\\']).next().unwrap_or(&path).to_string();
            let parsed = matches!(
                &m.codeview_info,
                Some(
                    minidump::CodeView::Pdb70(_)
                        | minidump::CodeView::Pdb20(_)
                        | minidump::CodeView::Elf(_)
                )
            );
            streams::check_codeview(
                &name,
                m.base_address(),
                m.raw.cv_record.data_size,
                parsed,
                &mut findings,
            );
            let build_id = match &m.codeview_info {
                Some(minidump::CodeView::Elf(elf)) => Some(crate::symbols::hex(&elf.build_id)),
                _ => None,
            };
            let is_windows_module = matches!(os, Os::Windows);
            let code_id = if is_windows_module {
                Some(format!(
                    "{:08X}{:x}",
                    m.raw.time_date_stamp, m.raw.size_of_image
                ))
            } else {
                m.code_identifier().map(|c| c.to_string())
            };
            modules.push(ImageModule {
                name,
                path,
                base: m.base_address(),
                size: m.size(),
                build_id,
                load_bias: if is_windows_module {
                    Some(m.base_address())
                } else {
                    None
                },
                sources: vec![ModuleSource::ModuleList],
                is_main: i == 0,
                pe: Some(PeIdentity {
                    code_id,
                    debug_file: m
                        .debug_file()
                        .map(|d| d.rsplit(['/', '\\']).next().unwrap_or(&d).to_string()),
                    debug_id: m.debug_identifier().map(|d| d.breakpad().to_string()),
                    version: m.version().map(|v| v.into_owned()),
                    timestamp: Some(m.raw.time_date_stamp),
                }),
            });
        }
    }
    streams::check_modules(&modules, &mut findings);

    // Regions: /proc/PID/maps (Linux) when present, as it names files and
    // offsets; else MemoryInfoList (Windows, or minidump-writer's copy of
    // the maps without file names). The committed-memory check uses the
    // MemoryInfoList either way.
    let mut info_regions = Vec::new();
    if let Ok(infos) = dump.get_stream::<MinidumpMemoryInfoList>() {
        for info in infos.iter() {
            let raw = &info.raw;
            let (read, write, execute) = crate::analysis::windows::rights(raw.protection);
            let start = raw.base_address;
            let end = start.saturating_add(raw.region_size);
            let file = modules
                .iter()
                .find(|m| m.contains(start) && raw._type == 0x100_0000)
                .map(|m| RegionFile {
                    path: m.path.clone(),
                    offset: start - m.base,
                });
            info_regions.push(Region {
                start,
                end,
                protection: Protection {
                    read,
                    write,
                    execute,
                },
                sharing: match raw._type {
                    0x20000 => Sharing::Private,
                    0x40000 | 0x100_0000 => Sharing::Shared,
                    _ => Sharing::Unknown,
                },
                file,
                capture: capture_of(&captured, start, end),
                image_offset: None,
                windows: Some(WindowsRegion {
                    allocation_base: raw.allocation_base,
                    allocation_protection: raw.allocation_protection,
                    state: raw.state,
                    protection: raw.protection,
                    kind: raw._type,
                }),
                linux: None,
            });
        }
        streams::check_memory_in_committed(&captured, &info_regions, &mut findings);
    }
    let mut regions = Vec::new();
    if let Ok(maps) = dump.get_stream::<MinidumpLinuxMaps>() {
        use procfs_core::process::{MMPermissions, MMapPath};
        for info in maps.iter() {
            let map = &info.map;
            let (start, end) = map.address;
            if end <= start {
                continue;
            }
            let file = match &map.pathname {
                MMapPath::Path(p) => Some(RegionFile {
                    path: p.display().to_string(),
                    offset: map.offset,
                }),
                MMapPath::Vdso => Some(RegionFile {
                    path: "[vdso]".into(),
                    offset: 0,
                }),
                MMapPath::Stack => Some(RegionFile {
                    path: "[stack]".into(),
                    offset: 0,
                }),
                MMapPath::Heap => Some(RegionFile {
                    path: "[heap]".into(),
                    offset: 0,
                }),
                _ => None,
            };
            regions.push(Region {
                start,
                end,
                protection: Protection {
                    read: map.perms.contains(MMPermissions::READ),
                    write: map.perms.contains(MMPermissions::WRITE),
                    execute: map.perms.contains(MMPermissions::EXECUTE),
                },
                sharing: if map.perms.contains(MMPermissions::SHARED) {
                    Sharing::Shared
                } else {
                    Sharing::Private
                },
                file,
                capture: capture_of(&captured, start, end),
                image_offset: None,
                windows: None,
                linux: None,
            });
        }
    }
    if regions.is_empty() {
        regions = info_regions;
    }
    // Without a MemoryInfoList or maps stream the dump does not describe
    // its address space; captured ranges alone say nothing about
    // protection, so no regions are invented (checks that need them skip).
    regions.sort_by_key(|r| r.start);

    // Process and producer.
    let mut process = Process {
        pid: misc
            .as_ref()
            .and_then(|m| m.raw.process_id())
            .map(|p| u64::from(*p)),
        ..Default::default()
    };
    let producer = streams::producer(&details.streams, matches!(os, Os::Windows));
    streams::collect_texts(&dump, &mut details, &mut process, MAX_TEXT);
    if let Some(m) = modules.first() {
        process.executable = Some(m.path.clone());
        process.name = Some(m.name.clone());
    }
    linux_status(&details.texts, &mut process);
    let auxv = dump
        .get_raw_stream(0x4767_0008)
        .ok()
        .map(|raw| auxv_of(raw, arch));
    if let Some(a) = auxv {
        details.auxv = a;
    }

    let target = Target {
        os,
        arch,
        kernel: false,
        cpu_count: system
            .as_ref()
            .map(|s| u32::from(s.raw.number_of_processors)),
        os_version: system.as_ref().map(os_version),
        cpu: system.as_ref().map(cpu_description),
    };
    Ok(Image {
        path: path.to_path_buf(),
        format: ImageFormat::Minidump,
        compression,
        size: data.len() as u64,
        target,
        producer,
        process: Some(process),
        threads,
        modules,
        regions,
        fault,
        timestamp: Some(u64::from(dump.header.time_date_stamp)),
        memory: Arc::new(memory),
        details,
        findings,
        other_processes: Vec::new(),
    })
}

fn os_of(s: &MinidumpSystemInfo) -> Os {
    use minidump::system_info::Os as M;
    match s.os {
        M::Windows => Os::Windows,
        M::Linux | M::Android => Os::Linux,
        M::MacOs | M::Ios => Os::MacOs,
        _ => Os::Unknown,
    }
}

fn arch_of(s: &MinidumpSystemInfo) -> Option<Arch> {
    use minidump::system_info::Cpu as C;
    Some(match s.cpu {
        C::X86 => Arch::X86,
        C::X86_64 => Arch::X86_64,
        C::Arm64 => Arch::Aarch64,
        C::Arm => Arch::Arm,
        _ => return None,
    })
}

/// `5.1.2600 Service Pack 2`, `10.0.22000 282` as minidump-stackwalk prints.
fn os_version(s: &MinidumpSystemInfo) -> String {
    let base = format!(
        "{}.{}.{}",
        s.raw.major_version, s.raw.minor_version, s.raw.build_number
    );
    match s.csd_version() {
        Some(csd) if !csd.is_empty() => format!("{base} {csd}"),
        _ => base,
    }
}

/// `GenuineIntel family 6 model 13 stepping 8`.
fn cpu_description(s: &MinidumpSystemInfo) -> String {
    let level = s.raw.processor_level;
    let rev = s.raw.processor_revision;
    match arch_of(s) {
        Some(Arch::X86 | Arch::X86_64) => match s.cpu_info() {
            // The crate already spells out family/model/stepping for x86.
            Some(info) if info.contains("family") => info.into_owned(),
            vendor => {
                let vendor = vendor.map(|v| format!("{v} ")).unwrap_or_default();
                format!(
                    "{vendor}family {level} model {} stepping {}",
                    rev >> 8,
                    rev & 0xff
                )
            }
        },
        _ => s.cpu_info().map(|c| c.into_owned()).unwrap_or_default(),
    }
}

fn capture_of(captured: &[(u64, u64)], start: u64, end: u64) -> Capture {
    let mut bytes = 0u64;
    for (b, size) in captured {
        let lo = (*b).max(start);
        let hi = b.saturating_add(*size).min(end);
        if hi > lo {
            bytes += hi - lo;
        }
    }
    if bytes == 0 {
        Capture::Absent
    } else if bytes >= end - start {
        Capture::Full
    } else {
        Capture::Partial { bytes }
    }
}

fn registers_of(c: &MinidumpContext, arch: Arch) -> (RegisterSet, Option<FloatState>) {
    let mut r = RegisterSet::new(arch);
    let mut float = None;
    match &c.raw {
        MinidumpRawContext::Amd64(x) => {
            for (name, v) in [
                ("rax", x.rax),
                ("rbx", x.rbx),
                ("rcx", x.rcx),
                ("rdx", x.rdx),
                ("rsi", x.rsi),
                ("rdi", x.rdi),
                ("rbp", x.rbp),
                ("rsp", x.rsp),
                ("r8", x.r8),
                ("r9", x.r9),
                ("r10", x.r10),
                ("r11", x.r11),
                ("r12", x.r12),
                ("r13", x.r13),
                ("r14", x.r14),
                ("r15", x.r15),
                ("rip", x.rip),
                ("rflags", u64::from(x.eflags)),
                ("cs", u64::from(x.cs)),
                ("ss", u64::from(x.ss)),
                ("ds", u64::from(x.ds)),
                ("es", u64::from(x.es)),
                ("fs", u64::from(x.fs)),
                ("gs", u64::from(x.gs)),
            ] {
                r.set_named(name, v);
            }
            float = Some(amd64_float(&x.float_save, x.mx_csr));
        }
        MinidumpRawContext::X86(x) => {
            for (name, v) in [
                ("eax", x.eax),
                ("ebx", x.ebx),
                ("ecx", x.ecx),
                ("edx", x.edx),
                ("esi", x.esi),
                ("edi", x.edi),
                ("ebp", x.ebp),
                ("esp", x.esp),
                ("eip", x.eip),
                ("eflags", x.eflags),
                ("cs", x.cs),
                ("ss", x.ss),
                ("ds", x.ds),
                ("es", x.es),
                ("fs", x.fs),
                ("gs", x.gs),
            ] {
                r.set_named(name, u64::from(v));
            }
            float = Some(FloatState {
                fcw: Some(x.float_save.control_word as u16),
                fsw: Some(x.float_save.status_word as u16),
                ftw: Some(x.float_save.tag_word as u16),
                ..Default::default()
            });
        }
        MinidumpRawContext::Arm64(x) => {
            for (i, v) in x.iregs.iter().enumerate() {
                r.set(i as u16, *v);
            }
            r.set_named("sp", x.sp);
            r.set_named("pc", x.pc);
            r.set_named("pstate", u64::from(x.cpsr));
            float = Some(FloatState {
                fpsr: Some(x.fpsr),
                fpcr: Some(x.fpcr),
                ..Default::default()
            });
        }
        MinidumpRawContext::OldArm64(x) => {
            for (i, v) in x.iregs.iter().enumerate() {
                r.set(i as u16, *v);
            }
            r.set_named("sp", x.sp);
            r.set_named("pc", x.pc);
            r.set_named("pstate", u64::from(x.cpsr));
        }
        MinidumpRawContext::Arm(x) => {
            for (i, v) in x.iregs.iter().enumerate() {
                r.set(i as u16, u64::from(*v));
            }
            r.set_named("cpsr", u64::from(x.cpsr));
        }
        _ => {}
    }
    (r, float)
}

/// The x87/SSE fields of the 512-byte FXSAVE image (XMM_SAVE_AREA32) the
/// crate leaves as raw bytes.
fn amd64_float(save: &[u8; 512], mx_csr: u32) -> FloatState {
    let save: &[u8] = save;
    // XMM0-15 from offset 160, 16 bytes each, printed as one 128-bit value.
    let vector = save
        .get(160..416)
        .unwrap_or_default()
        .chunks_exact(16)
        .map(|v| {
            let (lo, hi) = (v.u64_at(0).unwrap_or(0), v.u64_at(8).unwrap_or(0));
            format!("{hi:016x}{lo:016x}")
        })
        .collect();
    FloatState {
        fcw: save.u16_at(0),
        fsw: save.u16_at(2),
        ftw: save.u8_at(4).map(u16::from),
        fop: save.u16_at(6),
        fip: save.u32_at(8).map(u64::from),
        fdp: save.u32_at(16).map(u64::from),
        // The CONTEXT's own MxCsr is the authoritative copy.
        mxcsr: Some(mx_csr),
        mxcsr_mask: save.u32_at(28),
        vector,
        ..Default::default()
    }
}

/// XSTATE_BV and the CET shadow-stack pointer of an AMD64 context saved
/// with XSTATE. The CONTEXT is followed by a CONTEXT_EX (three chunks of
/// {i32 offset, u32 length}, relative to the CONTEXT_EX: all, legacy,
/// xstate); the xstate chunk starts at the XSAVE header, and the MiscInfo's
/// feature offsets count from the start of the (absent) 512-byte legacy
/// area before it. XSTATE_CET_U (feature 11) holds {U_CET, PL3_SSP}.
fn add_xstate(
    data: &[u8],
    location: &minidump::format::MINIDUMP_LOCATION_DESCRIPTOR,
    misc: Option<&MinidumpMiscInfo>,
    float: &mut Option<FloatState>,
) {
    const CONTEXT_AMD64_SIZE: u64 = 1232;
    const XSTATE_CET_U: usize = 11;
    let start = u64::from(location.rva);
    let end = start.saturating_add(u64::from(location.data_size));
    let ex = start.saturating_add(CONTEXT_AMD64_SIZE);
    // The u64 at `at`, only inside the context's own location.
    let u64_in_context = |at: u64| -> Option<u64> {
        if at < start || at.saturating_add(8) > end {
            return None;
        }
        data.u64_at(usize::try_from(at).ok()?)
    };
    let Some(chunk) = ex.checked_add(16).and_then(u64_in_context) else {
        return;
    };
    // The chunk's first field is the i32 offset (the low half of the u64).
    let Ok(offset) = u64::try_from(chunk as u32 as i32) else {
        return;
    };
    let header = ex.saturating_add(offset);
    let Some(mask) = u64_in_context(header) else {
        return;
    };
    let state = float.get_or_insert_with(FloatState::default);
    state.xsave_features = Some(mask);
    if mask & (1 << XSTATE_CET_U) == 0 {
        return;
    }
    let Some(feature) = misc
        .and_then(|m| m.raw.xstate_data())
        .and_then(|x| x.features.get(XSTATE_CET_U).copied())
    else {
        return;
    };
    if feature.size < 16 {
        return;
    }
    let ssp_at = header
        .checked_add(u64::from(feature.offset))
        .and_then(|at| at.checked_sub(512))
        .and_then(|at| at.checked_add(8));
    if let Some(ssp) = ssp_at.and_then(u64_in_context) {
        state.shadow_stack_pointer = Some(ssp);
    }
}

fn auxv_of(raw: &[u8], arch: Arch) -> Vec<AuxvEntry> {
    let width = arch.pointer_size() as usize;
    raw.chunks_exact(width * 2)
        .take(1024)
        .map_while(|pair| {
            Some(AuxvEntry {
                key: pair.word_at(0, width)?,
                value: pair.word_at(width, width)?,
            })
        })
        .take_while(|e| e.key != 0)
        .collect()
}

/// pid, ppid, uid, gid, name and state from the LinuxProcStatus text
/// (`Key:\tvalue` lines of /proc/PID/status).
fn linux_status(texts: &[(String, String)], process: &mut Process) {
    let Some((_, status)) = texts.iter().find(|(n, _)| n == "/proc/PID/status") else {
        return;
    };
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    // Uid / Gid list real, effective, saved, fs: the first is the real id.
    let number = |key: &str| field(key)?.split_whitespace().next()?.parse().ok();
    process.pid = process.pid.or_else(|| number("Pid"));
    process.ppid = process.ppid.or_else(|| number("PPid"));
    process.uid = process.uid.or_else(|| number("Uid"));
    process.gid = process.gid.or_else(|| number("Gid"));
    if let Some(name) = field("Name").filter(|n| !n.is_empty()) {
        process.name = Some(name.to_string());
    }
    process.state = field("State").and_then(|s| s.chars().next());
}
