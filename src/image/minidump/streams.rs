//! Stream names, structural checks, and the text / annotation streams.

use minidump::{
    Minidump, MinidumpAssertion, MinidumpBreakpadInfo, MinidumpCrashpadInfo,
    MinidumpHandleDataStream, MinidumpMiscInfo, MinidumpThreadInfoList, MinidumpUnloadedModuleList,
};

use crate::byte_reader::{ByteReader, Fields};
use crate::finding::{self, Finding};
use crate::model::{
    Arch, Fault, FormatDetails, Module, Process, Producer, Region, StreamRecord, Thread,
};

/// Declares [`StreamType`] with each type's number, named as the format
/// names it (minidumpapiset.h, Breakpad's, Crashpad's and Mozilla's
/// extensions).
macro_rules! stream_types {
    ($($name:ident = $value:literal,)*) => {
        /// The stream types ckdump knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum StreamType {
            $($name = $value,)*
        }

        impl StreamType {
            /// The type a directory entry's number stands for.
            pub fn from_raw(kind: u32) -> Option<Self> {
                match kind {
                    $($value => Some(StreamType::$name),)*
                    _ => None,
                }
            }
            /// The format's name for the type.
            pub fn name(self) -> &'static str {
                match self {
                    $(StreamType::$name => stringify!($name),)*
                }
            }
            /// The type's number in the directory.
            pub fn raw(self) -> u32 {
                self as u32
            }
        }
    };
}

stream_types! {
    UnusedStream = 0,
    ThreadListStream = 3,
    ModuleListStream = 4,
    MemoryListStream = 5,
    ExceptionStream = 6,
    SystemInfoStream = 7,
    ThreadExListStream = 8,
    Memory64ListStream = 9,
    CommentStreamA = 10,
    CommentStreamW = 11,
    HandleDataStream = 12,
    FunctionTableStream = 13,
    UnloadedModuleListStream = 14,
    MiscInfoStream = 15,
    MemoryInfoListStream = 16,
    ThreadInfoListStream = 17,
    HandleOperationListStream = 18,
    TokenStream = 19,
    JavaScriptDataStream = 20,
    SystemMemoryInfoStream = 21,
    ProcessVmCountersStream = 22,
    IptTraceStream = 23,
    ThreadNamesStream = 24,
    BreakpadInfoStream = 0x4767_0001,
    AssertionInfoStream = 0x4767_0002,
    LinuxCpuInfo = 0x4767_0003,
    LinuxProcStatus = 0x4767_0004,
    LinuxLsbRelease = 0x4767_0005,
    LinuxCmdLine = 0x4767_0006,
    LinuxEnviron = 0x4767_0007,
    LinuxAuxv = 0x4767_0008,
    LinuxMaps = 0x4767_0009,
    LinuxDsoDebug = 0x4767_000A,
    CrashpadInfoStream = 0x4350_0001,
    MozMacosCrashInfoStream = 0x4d7a_0001,
    MozMacosBootargsStream = 0x4d7a_0002,
    MozLinuxLimits = 0x4d7a_0003,
    MozSoftErrors = 0x4d7a_0004,
}

/// The format's name of a stream type number, None when unknown.
pub fn stream_name(kind: u32) -> Option<&'static str> {
    StreamType::from_raw(kind).map(StreamType::name)
}

/// The stream directory as the file lists it. The header's count is
/// bounded by what fits in the file.
pub fn directory(data: &[u8]) -> Vec<StreamRecord> {
    let count = data.u32_at(8).unwrap_or(0) as usize;
    let Some(rva) = data.u32_at(12).map(|r| r as usize) else {
        return Vec::new();
    };
    let fits = data.len().saturating_sub(rva) / 12;
    (0..count.min(fits))
        .filter_map(|i| {
            let o = rva.checked_add(i * 12)?;
            let kind = data.u32_at(o)?;
            Some(StreamRecord {
                kind,
                name: stream_name(kind),
                size: u64::from(data.u32_at(o + 4)?),
                offset: u64::from(data.u32_at(o + 8)?),
            })
        })
        .collect()
}

/// The streams a process dump cannot do without: a finding for each that
/// the directory does not list.
pub fn check_required(streams: &[StreamRecord], out: &mut Vec<Finding>) {
    use StreamType as S;
    let has = |k: StreamType| streams.iter().any(|s| s.kind == k.raw());
    let mut missing = |message: &str| {
        out.push(Finding::new(&finding::MDMP_STREAM_MISSING, message));
    };
    if !has(S::ThreadListStream) && !has(S::ThreadExListStream) {
        missing(
            "the dump has neither a ThreadListStream nor a ThreadExListStream: no thread and no registers",
        );
    }
    if !has(S::ModuleListStream) {
        missing(
            "the dump has no ModuleListStream: no module is known, so no frame can be symbolized",
        );
    }
    if !has(S::SystemInfoStream) {
        missing(
            "the dump has no SystemInfoStream: its OS and CPU are unknown, so no thread context can be decoded",
        );
    }
    if !has(S::MemoryListStream) && !has(S::Memory64ListStream) {
        missing(
            "the dump has neither a MemoryListStream nor a Memory64ListStream: no stack memory, so no thread unwinds past its registers",
        );
    }
}

/// Streams that may appear only once.
const SINGLE: &[StreamType] = &[
    StreamType::ThreadListStream,
    StreamType::ModuleListStream,
    StreamType::MemoryListStream,
    StreamType::ExceptionStream,
    StreamType::SystemInfoStream,
    StreamType::Memory64ListStream,
    StreamType::UnloadedModuleListStream,
    StreamType::MiscInfoStream,
    StreamType::MemoryInfoListStream,
    StreamType::ThreadInfoListStream,
    StreamType::ThreadNamesStream,
];

/// Every stream inside the file, no two overlapping, single-instance
/// streams once.
pub fn check_directory(streams: &[StreamRecord], file_len: u64, out: &mut Vec<Finding>) {
    for s in streams {
        if s.offset.saturating_add(s.size) > file_len {
            out.push(
                Finding::new(
                    &finding::MDMP_STREAM_BOUNDS,
                    format!(
                        "{} ({:#x}) at {:#x}, {} bytes, runs past the end of the file ({file_len} bytes)",
                        s.name.unwrap_or("stream"),
                        s.kind,
                        s.offset,
                        s.size
                    ),
                )
                .at_offset(s.offset),
            );
        }
    }
    let mut sorted: Vec<&StreamRecord> = streams
        .iter()
        .filter(|s| s.size > 0 && s.kind != 0)
        .collect();
    sorted.sort_by_key(|s| s.offset);
    for pair in sorted.windows(2) {
        if pair[1].offset < pair[0].offset.saturating_add(pair[0].size) {
            out.push(
                Finding::new(
                    &finding::MDMP_STREAM_OVERLAP,
                    format!(
                        "{} at {:#x} overlaps {} at {:#x}",
                        pair[1].name.unwrap_or("stream"),
                        pair[1].offset,
                        pair[0].name.unwrap_or("stream"),
                        pair[0].offset
                    ),
                )
                .at_offset(pair[1].offset),
            );
        }
    }
    for kind in SINGLE {
        let n = streams.iter().filter(|s| s.kind == kind.raw()).count();
        if n > 1 {
            out.push(Finding::new(
                &finding::MDMP_STREAM_DUPLICATE,
                format!("{} appears {n} times; only the last is read", kind.name()),
            ));
        }
    }
}

/// One captured memory range: its address and size in the process, where
/// its bytes start in the file, and how many of them the file holds.
#[derive(Debug, Clone, Copy)]
pub struct Captured {
    pub address: u64,
    pub size: u64,
    pub rva: u64,
    pub in_file: u64,
}

/// The memory descriptors of MemoryListStream and Memory64ListStream, read
/// here rather than through the crate because the crate drops a whole
/// Memory64List when one range runs past the file's end, and a truncated
/// full dump should keep every byte it still has.
pub fn memory_descriptors(
    data: &[u8],
    streams: &[StreamRecord],
    out: &mut Vec<Finding>,
) -> Vec<Captured> {
    let file_len = data.len() as u64;
    let body = |kind: StreamType| -> Option<&[u8]> {
        // The last copy, as the crate reads for every other stream.
        let s = streams.iter().rev().find(|s| s.kind == kind.raw())?;
        let start = usize::try_from(s.offset).ok()?;
        let end = usize::try_from(s.offset.saturating_add(s.size).min(file_len)).ok()?;
        data.get(start..end)
    };
    // A header count larger than the descriptors the stream holds is a
    // finding; only the descriptors that fit are read.
    let mut check_count = |kind: StreamType, count: u64, fits: usize, len: usize| {
        if count > fits as u64 {
            out.push(Finding::new(
                &finding::MDMP_MEMORY_LIST_COUNT,
                format!(
                    "{} claims {count} memory ranges but its {len} bytes hold {fits}; the rest are not read",
                    kind.name()
                ),
            ));
        }
    };
    let mut found = Vec::new();
    if let Some(b) = body(StreamType::MemoryListStream) {
        // MINIDUMP_MEMORY_LIST: u32 count, then 16-byte descriptors
        // {u64 start, u32 data size, u32 rva}.
        let mut list = ByteReader::little(b);
        let count = list.u32().unwrap_or(0);
        let fits = list.remaining() / 16;
        check_count(
            StreamType::MemoryListStream,
            u64::from(count),
            fits,
            b.len(),
        );
        for _ in 0..fits.min(count as usize) {
            let (Ok(address), Ok(size), Ok(rva)) = (list.u64(), list.u32(), list.u32()) else {
                break;
            };
            found.push((address, u64::from(size), u64::from(rva)));
        }
    }
    if let Some(b) = body(StreamType::Memory64ListStream) {
        // MINIDUMP_MEMORY64_LIST: u64 count, u64 base rva, then 16-byte
        // descriptors {u64 start, u64 size}; the bytes follow one another.
        let mut list = ByteReader::little(b);
        let count = list.u64().unwrap_or(0);
        let mut rva = list.u64().unwrap_or(0);
        let fits = list.remaining() / 16;
        check_count(StreamType::Memory64ListStream, count, fits, b.len());
        for _ in 0..count.min(fits as u64) {
            let (Ok(address), Ok(size)) = (list.u64(), list.u64()) else {
                break;
            };
            found.push((address, size, rva));
            rva = rva.saturating_add(size);
        }
    }
    let mut result = Vec::with_capacity(found.len());
    let mut cut = 0usize;
    let mut first_cut = None;
    for (address, size, rva) in found {
        let in_file = file_len.saturating_sub(rva).min(size);
        if in_file < size {
            cut += 1;
            first_cut.get_or_insert((address, size, rva));
        }
        result.push(Captured {
            address,
            size,
            rva,
            in_file,
        });
    }
    if let Some((address, size, rva)) = first_cut {
        out.push(
            Finding::new(
                &finding::MDMP_MEMORY_BOUNDS,
                format!(
                    "{cut} memory range(s) run past the end of the file ({file_len} bytes), the first {address:#x}+{size:#x} at file offset {rva:#x}"
                ),
            )
            .at_address(address),
        );
    }
    result
}

/// A stream the directory lists that could not be parsed.
pub fn unreadable(kind: StreamType, error: &dyn std::fmt::Display, out: &mut Vec<Finding>) {
    out.push(Finding::new(
        &finding::MDMP_STREAM_UNREADABLE,
        format!(
            "{} ({:#x}) cannot be read: {error}",
            kind.name(),
            kind.raw()
        ),
    ));
}

/// A thread's stack descriptor: non-empty and inside the file.
pub fn check_stack(tid: u64, size: u32, rva: u32, file_len: u64, out: &mut Vec<Finding>) {
    let problem = if size == 0 {
        "has no stack memory".to_string()
    } else if u64::from(rva).saturating_add(u64::from(size)) > file_len {
        format!("stack ({size} bytes at file offset {rva:#x}) runs past the end of the file")
    } else {
        return;
    };
    out.push(Finding::new(
        &finding::MDMP_THREAD_STACK,
        format!("thread {tid} {problem}"),
    ));
}

/// Size of the CONTEXT record each CPU needs (minidumpapiset.h / Breakpad).
pub fn context_size(arch: Arch) -> u32 {
    match arch {
        Arch::X86 => 716,
        Arch::X86_64 => 1232,
        Arch::Aarch64 => 912,
        Arch::Arm => 368,
    }
}

/// Memory descriptors must not overlap one another. The same range twice
/// with the same bytes is tolerated: wine's dbghelp writes the code around
/// the pc once per thread, so threads parked at one pc repeat it.
pub fn check_memory(data: &[u8], captured: &[Captured], out: &mut Vec<Finding>) {
    let bytes_of = |c: &Captured| {
        let start = usize::try_from(c.rva).ok()?;
        let len = usize::try_from(c.in_file).ok()?;
        data.get(start..start.checked_add(len)?)
    };
    let mut sorted: Vec<&Captured> = captured.iter().filter(|c| c.size > 0).collect();
    sorted.sort_by_key(|c| (c.address, c.size));
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.address >= a.address.saturating_add(a.size) {
            continue;
        }
        if a.address == b.address && a.size == b.size && bytes_of(a) == bytes_of(b) {
            continue;
        }
        out.push(
            Finding::new(
                &finding::MDMP_MEMORY_OVERLAP,
                format!(
                    "memory range {:#x}+{:#x} overlaps {:#x}+{:#x}",
                    b.address, b.size, a.address, a.size
                ),
            )
            .at_address(b.address),
        );
    }
}

/// Threads have a context; the exception's thread is among them.
pub fn check_threads(
    threads: &[Thread],
    context_sizes: &[(u64, u32)],
    fault: Option<&Fault>,
    arch: Arch,
    out: &mut Vec<Finding>,
) {
    let need = context_size(arch);
    for (tid, size) in context_sizes {
        // XSTATE contexts (CONTEXT_EX) are larger; only a short one is wrong.
        if *size != 0 && *size < need {
            out.push(Finding::new(
                &finding::MDMP_THREAD_CONTEXT,
                format!(
                    "thread {tid}: its {size}-byte CPU context is shorter than the {need} bytes a {} context needs",
                    arch.name()
                ),
            ));
        }
    }
    for t in threads {
        if t.registers.pc().is_none() {
            out.push(Finding::new(
                &finding::MDMP_THREAD_CONTEXT,
                format!("thread {} has no usable CPU context", t.tid),
            ));
        }
    }
    if let Some(tid) = fault.and_then(|f| f.thread)
        && !threads.iter().any(|t| t.tid == tid)
        && !threads.is_empty()
    {
        // FAULT_THREAD (model check) reports it; nothing extra here.
    }
}

/// A module that points at a CodeView record the parser could not read.
pub fn check_codeview(
    name: &str,
    base: u64,
    record_size: u32,
    parsed: bool,
    out: &mut Vec<Finding>,
) {
    if record_size > 0 && !parsed {
        out.push(
            Finding::new(
                &finding::MDMP_CODEVIEW,
                format!("{name} at {base:#x}: its {record_size}-byte CodeView record is not RSDS, NB10 or an ELF build-id"),
            )
            .at_address(base),
        );
    }
}

/// Module address ranges are disjoint.
pub fn check_modules(modules: &[Module], out: &mut Vec<Finding>) {
    let mut sorted: Vec<&Module> = modules.iter().collect();
    sorted.sort_by_key(|m| m.base);
    for pair in sorted.windows(2) {
        if pair[1].base < pair[0].base.saturating_add(pair[0].size) {
            out.push(
                Finding::new(
                    &finding::MDMP_MODULE_OVERLAP,
                    format!(
                        "{} at {:#x} overlaps {} at {:#x}",
                        pair[1].name, pair[1].base, pair[0].name, pair[0].base
                    ),
                )
                .at_address(pair[1].base),
            );
        }
    }
}

/// Captured memory should lie in committed regions.
pub fn check_memory_in_committed(
    captured: &[(u64, u64)],
    regions: &[Region],
    out: &mut Vec<Finding>,
) {
    for (base, size) in captured {
        let committed = regions
            .iter()
            .any(|r| r.contains(*base) && r.windows.is_some_and(|w| w.state == 0x1000));
        if !committed && *size > 0 {
            out.push(
                Finding::new(
                    &finding::MDMP_MEMORY_UNCOMMITTED,
                    format!("captured memory at {base:#x} ({size} bytes) lies outside every committed region"),
                )
                .at_address(*base),
            );
        }
    }
}

/// Who wrote the dump, as far as the streams tell. The header names no
/// writer, so this is a heuristic over the extension streams:
/// - Crashpad writes its info stream (CrashpadInfoStream);
/// - minidump-writer (Rust) writes Mozilla's streams (MozLinuxLimits) and, on Linux, ThreadNames / MemoryInfoList / HandleData
///   next to the Linux /proc streams, which Breakpad's Linux writer never does;
/// - Breakpad writes BreakpadInfo (Windows, macOS) or the Linux streams;
/// - a Windows dump with none of these comes from dbghelp's
///   MiniDumpWriteDump (WER, procdump, debuggers and wine all use it).
pub fn producer(streams: &[StreamRecord], windows: bool) -> Producer {
    use StreamType as S;
    let has = |k: StreamType| streams.iter().any(|s| s.kind == k.raw());
    let linux_streams = (S::LinuxCpuInfo.raw()..=S::LinuxDsoDebug.raw())
        .any(|k| streams.iter().any(|s| s.kind == k));
    if has(S::CrashpadInfoStream) {
        Producer::Other("Crashpad".into())
    } else if has(S::MozLinuxLimits)
        || (linux_streams
            && (has(S::ThreadNamesStream)
                || has(S::MemoryInfoListStream)
                || has(S::HandleDataStream)))
    {
        Producer::Other("minidump-writer".into())
    } else if has(S::BreakpadInfoStream) || linux_streams {
        Producer::Other("Breakpad".into())
    } else if windows {
        Producer::Other("Windows MiniDumpWriteDump".into())
    } else {
        Producer::Unknown
    }
}

fn text_of(raw: &[u8], max: usize) -> String {
    let cut = &raw[..raw.len().min(max)];
    String::from_utf8_lossy(cut)
        .replace('\0', " ")
        .trim_end()
        .to_string()
}

/// Comments, Linux /proc streams, Breakpad info and Crashpad annotations.
pub fn collect_texts(
    dump: &Minidump<&[u8]>,
    details: &mut FormatDetails,
    process: &mut Process,
    max: usize,
) {
    for (kind, name) in [
        (StreamType::CommentStreamA, "comment"),
        (StreamType::LinuxCpuInfo, "/proc/cpuinfo"),
        (StreamType::LinuxProcStatus, "/proc/PID/status"),
        (StreamType::LinuxLsbRelease, "/etc/lsb-release"),
        (StreamType::LinuxCmdLine, "/proc/PID/cmdline"),
        (StreamType::LinuxEnviron, "/proc/PID/environ"),
        (StreamType::LinuxMaps, "/proc/PID/maps"),
    ] {
        if let Ok(raw) = dump.get_raw_stream(kind.raw()) {
            let text = text_of(raw, max);
            if kind == StreamType::LinuxCmdLine {
                process.args = Some(text.clone());
            }
            details.texts.push((name.to_string(), text));
        }
    }
    if let Ok(raw) = dump.get_raw_stream(StreamType::CommentStreamW.raw()) {
        // UTF-16LE comment.
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .take(max / 2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        details.texts.push((
            "comment".into(),
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string(),
        ));
    }
    if let Ok(list) = dump.get_stream::<MinidumpUnloadedModuleList>() {
        let lines: Vec<String> = list
            .iter()
            .take(1024)
            .map(|m| {
                format!(
                    "{:#x}-{:#x} {}",
                    m.raw.base_of_image,
                    m.raw
                        .base_of_image
                        .saturating_add(u64::from(m.raw.size_of_image)),
                    m.name
                )
            })
            .collect();
        if !lines.is_empty() {
            details
                .texts
                .push(("unloaded modules".into(), lines.join("\n")));
        }
    }
    if let Ok(handles) = dump.get_stream::<MinidumpHandleDataStream>() {
        details.texts.push((
            "handles".into(),
            format!("{} open handles recorded", handles.handles.len()),
        ));
    }
    if let Ok(misc) = dump.get_stream::<MinidumpMiscInfo>() {
        let mut parts = Vec::new();
        if let Some(t) = misc.raw.process_create_time() {
            parts.push(format!("created {t} (seconds since 1970)"));
        }
        if let Some(t) = misc.raw.process_user_time() {
            parts.push(format!("user time {t} s"));
        }
        if let Some(t) = misc.raw.process_kernel_time() {
            parts.push(format!("kernel time {t} s"));
        }
        if !parts.is_empty() {
            details
                .texts
                .push(("process times".into(), parts.join(", ")));
        }
    }
    if let Ok(list) = dump.get_stream::<MinidumpThreadInfoList>() {
        details.texts.push((
            "thread info".into(),
            format!("{} thread info entries", list.thread_infos.len()),
        ));
    }
    if let Ok(raw) = dump.get_raw_stream(StreamType::LinuxDsoDebug.raw()) {
        // MDRawDebug: version, map count, r_map, r_brk, r_ldbase, dynamic.
        if let (Some(version), Some(count)) = (raw.u32_at(0), raw.u32_at(4)) {
            details.texts.push((
                "DSO debug".into(),
                format!("r_debug version {version}, {count} link-map entries"),
            ));
        }
    }
    if let Ok(info) = dump.get_stream::<MinidumpBreakpadInfo>() {
        let mut parts = Vec::new();
        if let Some(t) = info.dump_thread_id {
            parts.push(format!("dump thread {t:#x}"));
        }
        if let Some(t) = info.requesting_thread_id {
            parts.push(format!("requesting thread {t:#x}"));
        }
        if !parts.is_empty() {
            details
                .texts
                .push(("Breakpad info".into(), parts.join(", ")));
        }
    }
    if let Ok(a) = dump.get_stream::<MinidumpAssertion>() {
        let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        let assertion = crate::model::Assertion {
            expression: nonempty(a.expression()),
            function: nonempty(a.function()),
            file: nonempty(a.file()),
            line: Some(a.raw.line).filter(|&l| l != 0),
        };
        if assertion != crate::model::Assertion::default() {
            details.assertion = Some(assertion);
        }
    }
    if let Ok(info) = dump.get_stream::<MinidumpCrashpadInfo>() {
        for (k, v) in &info.simple_annotations {
            details.annotations.push((k.clone(), v.clone()));
        }
        for m in &info.module_list {
            for (k, v) in &m.simple_annotations {
                details
                    .annotations
                    .push((format!("module {}: {k}", m.module_index), v.clone()));
            }
            for v in &m.list_annotations {
                details
                    .annotations
                    .push((format!("module {} list", m.module_index), v.clone()));
            }
            for (k, v) in &m.annotation_objects {
                let value = match v {
                    minidump::MinidumpAnnotation::String(s) => s.clone(),
                    minidump::MinidumpAnnotation::UserDefined(a)
                    | minidump::MinidumpAnnotation::Unsupported(a) => {
                        format!("(a value of the writer's own type {:#06x})", a.ty)
                    }
                    _ => "(an invalid annotation)".to_string(),
                };
                details
                    .annotations
                    .push((format!("module {}: {k}", m.module_index), value));
            }
        }
    }
}
