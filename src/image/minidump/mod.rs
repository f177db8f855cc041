//! Minidumps (MDMP): Windows Error Reporting / MiniDumpWriteDump, Breakpad,
//! Crashpad and minidump-writer dumps, read into the common model.
//!
//! The `minidump` crate parses the structures (it is the well-kept parser
//! rust-minidump's tools use); this module only maps them onto the model and
//! keeps the file's bytes zero-copy for memory reads. [`read`] takes the
//! streams one function each, in the order their facts depend on one
//! another: system info (OS and CPU), memory, threads, the exception,
//! modules, then the regions that name modules.

mod context;
mod streams;

use std::path::Path;
use std::sync::Arc;

use minidump::format::MINIDUMP_LOCATION_DESCRIPTOR;
use minidump::{
    Minidump, MinidumpContext, MinidumpException, MinidumpLinuxMaps, MinidumpMemoryInfoList,
    MinidumpMiscInfo, MinidumpModuleList, MinidumpStream, MinidumpSystemInfo,
    MinidumpThreadInfoList, MinidumpThreadList, MinidumpThreadNames, Module,
};

use crate::byte_reader::Fields;
use crate::error::{Error, ErrorKind, Result};
use crate::finding::Finding;
use crate::memory::{Bytes, Segment, SegmentMemory};
use crate::model::{
    Arch, AuxvEntry, Capture, Compression, Fault, FaultCode, FormatDetails, Image, ImageFormat,
    Module as ImageModule, ModuleSource, Os, PeIdentity, Process, ProcessView, Protection, Region,
    RegionFile, RegisterSet, Sharing, StreamRecord, Target, Thread, WindowsRegion,
};
use context::{add_xstate, registers_of};
use streams::{Captured, StreamType};

/// Largest text stream kept for display (Linux /proc files, comments).
const MAX_TEXT: usize = 64 * 1024;

/// The fields of a thread the model needs, from a ThreadList or a
/// ThreadExList entry.
struct RawThread {
    id: u32,
    stack_size: u32,
    stack_rva: u32,
    context: MINIDUMP_LOCATION_DESCRIPTOR,
}

/// The bytes a location descriptor names, when they lie inside the file.
fn location_bytes<'d>(data: &'d [u8], location: &MINIDUMP_LOCATION_DESCRIPTOR) -> Option<&'d [u8]> {
    let start = usize::try_from(location.rva).ok()?;
    let len = usize::try_from(location.data_size).ok()?;
    data.bytes_at(start, len)
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
        .and_then(|(o, n)| data.bytes_at(o, n))
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
                context: MINIDUMP_LOCATION_DESCRIPTOR {
                    data_size: e.u32_at(40)?,
                    rva: e.u32_at(44)?,
                },
            })
        })
        .collect()
}

/// One minidump being read: its bytes, the crate's view of it, the stream
/// directory as the file lists it, and the findings so far.
struct Reader<'d> {
    bytes: &'d Bytes,
    data: &'d [u8],
    dump: &'d Minidump<'d, &'d [u8]>,
    directory: Vec<StreamRecord>,
    findings: Vec<Finding>,
}

/// What SystemInfoStream and MiscInfoStream say about the machine.
struct Machine {
    system: Option<MinidumpSystemInfo>,
    misc: Option<MinidumpMiscInfo>,
    os: Os,
    arch: Arch,
}

/// MemoryListStream and Memory64ListStream: every captured range.
struct CapturedMemory {
    /// (address, bytes in the file) of every range that holds bytes.
    captured: Vec<(u64, u64)>,
    /// The same as sorted, disjoint [start, end) ranges.
    merged: Vec<(u64, u64)>,
    memory: SegmentMemory,
}

impl<'d> Reader<'d> {
    fn lists(&self, kind: StreamType) -> bool {
        self.directory.iter().any(|s| s.kind == kind.raw())
    }

    /// A stream through the crate; a stream the directory lists but the
    /// crate cannot parse is a finding. A missing one is simply None.
    fn stream<S: MinidumpStream<'d>>(&mut self, kind: StreamType) -> Option<S> {
        match self.dump.get_stream::<S>() {
            Ok(s) => Some(s),
            Err(e) => {
                if self.lists(kind) {
                    streams::unreadable(kind, &e, &mut self.findings);
                }
                None
            }
        }
    }

    /// SystemInfoStream (OS, CPU) and MiscInfoStream (pid, XSTATE layout).
    fn machine(&mut self) -> Machine {
        let system: Option<MinidumpSystemInfo> = self.stream(StreamType::SystemInfoStream);
        let misc: Option<MinidumpMiscInfo> = self.stream(StreamType::MiscInfoStream);
        let (os, arch) = match &system {
            Some(s) => (os_of(s), arch_of(s)),
            None => (Os::Unknown, None),
        };
        Machine {
            system,
            misc,
            os,
            arch: arch.unwrap_or(Arch::X86_64),
        }
    }

    /// MemoryListStream and Memory64ListStream, zero-copy over the file.
    fn memory(&mut self) -> CapturedMemory {
        let descriptors: Vec<Captured> =
            streams::memory_descriptors(self.data, &self.directory, &mut self.findings);
        let captured: Vec<(u64, u64)> = descriptors
            .iter()
            .filter(|d| d.in_file > 0)
            .map(|d| (d.address, d.in_file))
            .collect();
        let merged = merged_ranges(&captured);
        let segments = descriptors
            .iter()
            .map(|d| Segment {
                address: d.address,
                size: d.size,
                captured: d.in_file,
                offset: d.rva,
                bytes: self.bytes.clone(),
            })
            .collect();
        streams::check_memory(self.data, &descriptors, &mut self.findings);
        CapturedMemory {
            captured,
            merged,
            memory: SegmentMemory::new(segments),
        }
    }

    /// ThreadListStream, or ThreadExListStream without it; names from
    /// ThreadNamesStream and times from ThreadInfoListStream. Returns the
    /// threads and each one's context size.
    fn threads(&mut self, machine: &Machine) -> (Vec<Thread>, Vec<(u64, u32)>) {
        let names: Option<MinidumpThreadNames> = self.dump.get_stream().ok();
        let infos: Option<MinidumpThreadInfoList> = self.dump.get_stream().ok();
        let list: Option<MinidumpThreadList> = self.stream(StreamType::ThreadListStream);
        let raw_threads: Vec<RawThread> = match &list {
            Some(list) => list
                .threads
                .iter()
                .map(|t| RawThread {
                    id: t.raw.thread_id,
                    stack_size: t.raw.stack.memory.data_size,
                    stack_rva: t.raw.stack.memory.rva,
                    context: t.raw.thread_context,
                })
                .collect(),
            // Threads with a backing store, which the crate does not read,
            // give the same fields.
            None => self
                .directory
                .iter()
                .find(|s| s.kind == StreamType::ThreadExListStream.raw())
                .map(|s| thread_ex_list(self.data, s.offset, s.size))
                .unwrap_or_default(),
        };
        let mut threads = Vec::new();
        let mut context_sizes = Vec::new();
        // Without SystemInfo the CPU, so the context layout, is unknown.
        let Some(system) = &machine.system else {
            return (threads, context_sizes);
        };
        let arch = machine.arch;
        let file_len = self.data.len() as u64;
        for t in &raw_threads {
            let tid = u64::from(t.id);
            streams::check_stack(tid, t.stack_size, t.stack_rva, file_len, &mut self.findings);
            context_sizes.push((tid, t.context.data_size));
            // ThreadInfoList times are FILETIME durations (100 ns units).
            let info = infos
                .as_ref()
                .and_then(|l| l.thread_infos.iter().find(|i| i.raw.thread_id == t.id));
            let context = location_bytes(self.data, &t.context).and_then(|b| {
                MinidumpContext::read(b, minidump::Endian::Little, system, machine.misc.as_ref())
                    .ok()
            });
            let (registers, mut float) = match &context {
                Some(c) => registers_of(c, arch),
                None => (RegisterSet::new(arch), None),
            };
            if arch == Arch::X86_64 {
                add_xstate(self.data, &t.context, machine.misc.as_ref(), &mut float);
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
        (threads, context_sizes)
    }

    /// ExceptionStream: the fault, and the crashing thread's registers at
    /// the crash (its own context), which replace the thread's.
    fn exception(
        &mut self,
        machine: &Machine,
        threads: &mut [Thread],
        details: &mut FormatDetails,
    ) -> Option<Fault> {
        let exc: MinidumpException = self.stream(StreamType::ExceptionStream)?;
        let (os, arch) = (machine.os, machine.arch);
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
            (true, 0xC000_0005 | 0xC000_0006, Some(a)) => *a,
            _ => rec.exception_address,
        };
        // 32-bit writers sign-extend addresses into the 64-bit fields.
        let address = if arch.pointer_size() == 4 {
            address & 0xffff_ffff
        } else {
            address
        };
        if let Some(system) = &machine.system
            && let Some(c) = exc.context(system, machine.misc.as_ref())
        {
            let (regs, mut float) = registers_of(&c, arch);
            if arch == Arch::X86_64 {
                add_xstate(
                    self.data,
                    &exc.raw.thread_context,
                    machine.misc.as_ref(),
                    &mut float,
                );
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
        if !exception_like && rec.exception_code == 0xFFFF_FFFF {
            details.texts.push((
                "exception".into(),
                "dump requested while the process was running (no crash)".into(),
            ));
            return None;
        }
        Some(Fault {
            code,
            address: Some(address),
            thread: Some(tid),
            parameters,
            interrupt_level: None,
        })
    }

    /// ModuleListStream.
    fn modules(&mut self, os: Os) -> Vec<ImageModule> {
        let mut modules = Vec::new();
        let Some(list) = self.stream::<MinidumpModuleList>(StreamType::ModuleListStream) else {
            return modules;
        };
        let is_windows = matches!(os, Os::Windows);
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
                &mut self.findings,
            );
            let build_id = match &m.codeview_info {
                Some(minidump::CodeView::Elf(elf)) => Some(crate::symbols::hex(&elf.build_id)),
                _ => None,
            };
            let code_id = if is_windows {
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
                load_bias: is_windows.then(|| m.base_address()),
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
        streams::check_modules(&modules, &mut self.findings);
        modules
    }

    /// MemoryInfoListStream: Windows regions (or minidump-writer's copy of
    /// the Linux maps without file names). Also checks that captured memory
    /// lies in committed regions.
    fn memory_info_regions(
        &mut self,
        modules: &[ImageModule],
        memory: &CapturedMemory,
    ) -> Vec<Region> {
        const MEM_PRIVATE: u32 = 0x2_0000;
        const MEM_MAPPED: u32 = 0x4_0000;
        const MEM_IMAGE: u32 = 0x100_0000;
        let Ok(infos) = self.dump.get_stream::<MinidumpMemoryInfoList>() else {
            return Vec::new();
        };
        let mut regions = Vec::new();
        for info in infos.iter() {
            let raw = &info.raw;
            let start = raw.base_address;
            let end = start.saturating_add(raw.region_size);
            let file = modules
                .iter()
                .find(|m| m.contains(start) && raw._type == MEM_IMAGE)
                .map(|m| RegionFile {
                    path: m.path.clone(),
                    offset: start - m.base,
                });
            regions.push(Region {
                start,
                end,
                protection: page_protection(raw.protection),
                sharing: match raw._type {
                    MEM_PRIVATE => Sharing::Private,
                    MEM_MAPPED | MEM_IMAGE => Sharing::Shared,
                    _ => Sharing::Unknown,
                },
                file,
                capture: capture_of(&memory.merged, start, end),
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
        streams::check_memory_in_committed(&memory.captured, &regions, &mut self.findings);
        regions
    }

    /// LinuxMaps (Breakpad's copy of /proc/PID/maps): regions with files
    /// and offsets.
    fn linux_maps_regions(&self, memory: &CapturedMemory) -> Vec<Region> {
        use procfs_core::process::{MMPermissions, MMapPath};
        let Ok(maps) = self.dump.get_stream::<MinidumpLinuxMaps>() else {
            return Vec::new();
        };
        let mut regions = Vec::new();
        for info in maps.iter() {
            let map = &info.map;
            let (start, end) = map.address;
            if end <= start {
                continue;
            }
            let named = |path: &str| {
                Some(RegionFile {
                    path: path.into(),
                    offset: 0,
                })
            };
            let file = match &map.pathname {
                MMapPath::Path(p) => Some(RegionFile {
                    path: p.display().to_string(),
                    offset: map.offset,
                }),
                MMapPath::Vdso => named("[vdso]"),
                MMapPath::Stack => named("[stack]"),
                MMapPath::Heap => named("[heap]"),
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
                capture: capture_of(&memory.merged, start, end),
                image_offset: None,
                windows: None,
                linux: None,
            });
        }
        regions
    }

    /// The process: MiscInfo's pid, LinuxProcStatus's ids and name,
    /// LinuxCmdLine, LinuxAuxv, the main module; the text streams go to
    /// `details`.
    fn process(
        &self,
        machine: &Machine,
        modules: &[ImageModule],
        details: &mut FormatDetails,
    ) -> (Process, Vec<AuxvEntry>) {
        let mut process = Process {
            pid: machine
                .misc
                .as_ref()
                .and_then(|m| m.raw.process_id())
                .map(|p| u64::from(*p)),
            ..Default::default()
        };
        streams::collect_texts(self.dump, details, &mut process, MAX_TEXT);
        if let Some(m) = modules.first() {
            process.executable = Some(m.path.clone());
            process.name = Some(m.name.clone());
        }
        linux_status(&details.texts, &mut process);
        let auxv = match self.dump.get_raw_stream(StreamType::LinuxAuxv.raw()) {
            Ok(raw) => auxv_of(raw, machine.arch),
            Err(_) => Vec::new(),
        };
        (process, auxv)
    }
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
    // The directory in file order, duplicates included (the crate keeps
    // one stream per type, in no particular order).
    let directory = streams::directory(data);
    let mut findings = Vec::new();
    streams::check_directory(&directory, data.len() as u64, &mut findings);
    streams::check_required(&directory, &mut findings);
    let mut reader = Reader {
        bytes: &bytes,
        data,
        dump: &dump,
        directory,
        findings,
    };
    let mut details = FormatDetails::default();

    let machine = reader.machine();
    let memory = reader.memory();
    let (mut threads, context_sizes) = reader.threads(&machine);
    let fault = reader.exception(&machine, &mut threads, &mut details);
    streams::check_threads(
        &threads,
        &context_sizes,
        fault.as_ref(),
        machine.arch,
        &mut reader.findings,
    );
    let modules = reader.modules(machine.os);

    // Regions: /proc/PID/maps (Linux) when present, as it names files and
    // offsets; else the MemoryInfoList. Without either the dump does not
    // describe its address space; captured ranges alone say nothing about
    // protection, so no regions are invented (checks that need them skip).
    let info_regions = reader.memory_info_regions(&modules, &memory);
    let mut regions = reader.linux_maps_regions(&memory);
    if regions.is_empty() {
        regions = info_regions;
    }
    regions.sort_by_key(|r| r.start);

    let (process, auxv) = reader.process(&machine, &modules, &mut details);
    let producer = streams::producer(&reader.directory, matches!(machine.os, Os::Windows));
    let system = machine.system.as_ref();
    let target = Target {
        os: machine.os,
        arch: machine.arch,
        kernel: false,
        // Minidumps record no page size; every Windows architecture uses
        // 4 KiB pages.
        page_size: crate::model::DEFAULT_PAGE_SIZE,
        cpu_count: system.map(|s| u32::from(s.raw.number_of_processors)),
        os_version: system.map(os_version),
        cpu: system.map(cpu_description),
    };
    let timestamp = Some(u64::from(reader.dump.header.time_date_stamp));
    let Reader {
        directory,
        findings,
        ..
    } = reader;
    details.streams = directory;
    Ok(Image {
        path: path.to_path_buf(),
        format: ImageFormat::Minidump,
        compression,
        size: data.len() as u64,
        target,
        producer,
        fault,
        timestamp,
        details,
        findings,
        process: ProcessView {
            facts: Some(process),
            threads,
            modules,
            regions,
            auxv,
            ..ProcessView::empty(Arc::new(memory.memory))
        },
        other_processes: Vec::new(),
    })
}

/// The neutral protection of a Windows `PAGE_*` value: guard and no-access
/// pages are not accessible, whatever other bits they carry.
fn page_protection(page: u32) -> Protection {
    const PAGE_NOACCESS: u32 = 0x01;
    const PAGE_READONLY: u32 = 0x02;
    const PAGE_READWRITE: u32 = 0x04;
    const PAGE_WRITECOPY: u32 = 0x08;
    const PAGE_EXECUTE: u32 = 0x10;
    const PAGE_EXECUTE_READ: u32 = 0x20;
    const PAGE_EXECUTE_READWRITE: u32 = 0x40;
    const PAGE_EXECUTE_WRITECOPY: u32 = 0x80;
    const PAGE_GUARD: u32 = 0x100;
    let none = Protection {
        read: false,
        write: false,
        execute: false,
    };
    if page & (PAGE_GUARD | PAGE_NOACCESS) != 0 {
        return none;
    }
    let (read, write, execute) = match page & 0xff {
        PAGE_READONLY => (true, false, false),
        PAGE_READWRITE | PAGE_WRITECOPY => (true, true, false),
        PAGE_EXECUTE => (false, false, true),
        PAGE_EXECUTE_READ => (true, false, true),
        PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY => (true, true, true),
        _ => return none,
    };
    Protection {
        read,
        write,
        execute,
    }
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

/// The captured ranges as sorted, disjoint [start, end) pairs: ranges
/// that overlap (a writer repeating a range, or a damaged list) count once.
fn merged_ranges(captured: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = captured
        .iter()
        .map(|(address, len)| (*address, address.saturating_add(*len)))
        .filter(|(start, end)| end > start)
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// How much of [start, end) the merged captured ranges hold.
fn capture_of(merged: &[(u64, u64)], start: u64, end: u64) -> Capture {
    let first = merged.partition_point(|r| r.1 <= start);
    let bytes: u64 = merged[first..]
        .iter()
        .take_while(|r| r.0 < end)
        .map(|r| r.1.min(end) - r.0.max(start))
        .sum();
    if bytes == 0 {
        Capture::Absent
    } else if bytes >= end - start {
        Capture::Full
    } else {
        Capture::Partial { bytes }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_protection_maps_page_bits_to_rights() {
        let rwx = |p: u32| page_protection(p).rwx();
        assert_eq!(rwx(0x02), "r--");
        assert_eq!(rwx(0x04), "rw-");
        assert_eq!(rwx(0x08), "rw-");
        assert_eq!(rwx(0x10), "--x");
        assert_eq!(rwx(0x20), "r-x");
        assert_eq!(rwx(0x40), "rwx");
        assert_eq!(rwx(0x80), "rwx");
        // Guard and no-access pages are not accessible, whatever else is set.
        assert_eq!(rwx(0x104), "---");
        assert_eq!(rwx(0x01), "---");
        // PAGE_NOCACHE / PAGE_WRITECOMBINE modifiers keep the rights.
        assert_eq!(rwx(0x204), "rw-");
        assert_eq!(rwx(0x420), "r-x");
        assert_eq!(rwx(0), "---");
    }

    #[test]
    fn overlapping_captured_ranges_count_once() {
        // Two descriptors for the first half of a region: half captured.
        let merged = merged_ranges(&[(0x1000, 0x800), (0x1000, 0x800)]);
        assert_eq!(merged, [(0x1000, 0x1800)]);
        assert_eq!(
            capture_of(&merged, 0x1000, 0x2000),
            Capture::Partial { bytes: 0x800 }
        );
        // Overlapping and adjacent ranges, one running past the region.
        let merged = merged_ranges(&[(0x1800, 0x1000), (0x1000, 0x900), (0x3000, 0x100)]);
        assert_eq!(merged, [(0x1000, 0x2800), (0x3000, 0x3100)]);
        assert_eq!(capture_of(&merged, 0x1000, 0x2000), Capture::Full);
        assert_eq!(
            capture_of(&merged, 0x2000, 0x4000),
            Capture::Partial { bytes: 0x900 }
        );
        assert_eq!(capture_of(&merged, 0x4000, 0x5000), Capture::Absent);
        // A range reaching the top of the address space.
        let merged = merged_ranges(&[(u64::MAX - 0xff, 0x1000)]);
        assert_eq!(
            capture_of(&merged, u64::MAX - 0x1ff, u64::MAX),
            Capture::Partial { bytes: 0xff }
        );
    }

    #[test]
    fn stream_types_are_named_as_the_format_names_them() {
        assert_eq!(StreamType::ThreadListStream.raw(), 3);
        assert_eq!(StreamType::Memory64ListStream.raw(), 9);
        assert_eq!(StreamType::MemoryInfoListStream.raw(), 16);
        assert_eq!(
            StreamType::from_raw(0x4767_0008),
            Some(StreamType::LinuxAuxv)
        );
        assert_eq!(streams::stream_name(7), Some("SystemInfoStream"));
        assert_eq!(
            streams::stream_name(0x4350_0001),
            Some("CrashpadInfoStream")
        );
        assert_eq!(streams::stream_name(2), None);
    }
}
