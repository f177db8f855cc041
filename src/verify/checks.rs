//! Checks on the common model. They know nothing of file formats: threads,
//! regions, modules and memory are all they look at, so every format gets
//! them for free.

use std::collections::HashSet;
use std::path::PathBuf;

use super::host_files::file_build_id;
use crate::model::{Arch, Fault, Image, ProcessView, Region};
use crate::verify::{self, CappedFindings, Check, Finding};

/// Options for the model checks.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Where the crashed machine's files are; the host's `/` when None.
    pub sysroot: Option<PathBuf>,
    /// When given, modules with code on a stack must have symbols there.
    pub symbols: Option<crate::symbols::SymbolConfig>,
    /// Where a checkpoint would be restored (`verify --root`). Its page
    /// checks run on every checkpoint; with a root, the restore checks of
    /// files (which supersede the mapped-file checks) and the CPU too.
    pub restore: crate::verify::restore::RestoreTarget,
    /// Where the full page pass of a kernel dump reports how far it got.
    pub progress: crate::progress::Progress,
}

/// At most this many findings per check; a corrupt image with 100 000
/// overlapping regions gets a summary line instead of 100 000 lines.
const MAX_FINDINGS_PER_CHECK: usize = 32;

/// Page size used to round host file sizes: mappings cover whole pages.
const PAGE_SIZE: u64 = 4096;

/// Runs every model check on `image`, and on each other process of a
/// saved tree (their findings name the process).
pub fn run(image: &Image, options: &CheckOptions) -> Vec<Finding> {
    let mut out = CappedFindings::new(MAX_FINDINGS_PER_CHECK);
    let arch = image.target.arch;
    // A kernel dump's checks are its reader's — with its full pass over
    // every page it holds, which only verify pays for — and with --symbols
    // its symbol files'; the process checks (threads, mappings, files) are
    // for user processes.
    if image.target.kernel {
        // The bar starts with the first report, which carries the total.
        let step: std::cell::OnceCell<crate::progress::Step> = std::cell::OnceCell::new();
        let progress = |done: u64, total: u64| {
            let step = step.get_or_init(|| {
                options
                    .progress
                    .steps(total, "verify: reading every page of the dump")
            });
            step.inc(done.saturating_sub(step.position()));
        };
        let checked = image.process.memory.check_pages(&progress);
        if let Some(step) = step.get() {
            step.finish_and_clear();
        }
        let mut findings: Vec<Finding> = checked
            .iter()
            .map(crate::image::vmcore::kdump_compressed::page_check_finding)
            .collect();
        if let Some(config) = &options.symbols {
            let info = image
                .details
                .kernel
                .as_ref()
                .and_then(|k| k.vmcoreinfo.as_ref());
            findings.extend(crate::kernel::symbol_source::check_symbol_files(
                &image.process,
                info,
                config,
            ));
        }
        return findings;
    }
    process_checks(
        &image.process,
        image.fault.as_ref(),
        arch,
        options,
        &mut out,
    );
    for f in crate::verify::restore::run(image, &options.restore) {
        let check = verify::check_by_code(f.code).unwrap_or(&verify::RESTORE_FILE_MISSING);
        out.push(check, f);
    }
    for other in &image.other_processes {
        let mut own = CappedFindings::new(MAX_FINDINGS_PER_CHECK);
        // The fault belongs to the main process.
        process_checks(other, None, arch, options, &mut own);
        for f in crate::verify::restore::run_process(other) {
            let check = verify::check_by_code(f.code).unwrap_or(&verify::RESTORE_FILE_MISSING);
            own.push(check, f);
        }
        let pid = other.pid();
        let who = pid.map_or("another process".to_string(), |p| format!("process {p}"));
        // One the root already has (a forked child maps the same files) is
        // not repeated.
        let root_has: HashSet<(&str, String)> = out
            .listed()
            .iter()
            .map(|f| (f.code, f.message.clone()))
            .collect();
        out.absorb(own, |mut f| {
            if root_has.contains(&(f.code, f.message.clone())) {
                return None;
            }
            f.message = format!("{who}: {}", f.message);
            Some(f)
        });
    }
    out.finish()
}

/// The checks of one process: threads, regions, mapped files, symbols.
fn process_checks(
    process: &ProcessView,
    fault: Option<&Fault>,
    arch: Arch,
    options: &CheckOptions,
    out: &mut CappedFindings,
) {
    threads(process, fault, arch, out);
    regions(process, out);
    let restoring = options.restore.root.is_some() && process.checkpoint.is_some();
    if !restoring {
        mapped_files(process, options, out);
    }
    if let Some(config) = &options.symbols {
        symbols(process, config, out);
    }
}

/// Modules that have a pc on some thread's stack but no symbols.
fn symbols(process: &ProcessView, config: &crate::symbols::SymbolConfig, out: &mut CappedFindings) {
    let symbolizer = crate::symbols::Symbolizer::new(process, config);
    let limits = crate::unwind::WalkLimits::default();
    let mut on_stack = vec![false; process.modules.len()];
    for t in &process.threads {
        for f in crate::unwind::walk(&t.registers, &*process.memory, &symbolizer, &limits) {
            if let Some(i) = process.modules.iter().position(|m| m.contains(f.pc)) {
                on_stack[i] = true;
            }
        }
    }
    for status in symbolizer.modules() {
        let Some(m) = process.modules.get(status.module) else {
            continue;
        };
        if on_stack[status.module] && status.kind == crate::symbols::SymbolKind::None {
            let why = status
                .problem
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            out.push(
                &verify::SYMBOLS_MISSING,
                Finding::new(
                    &verify::SYMBOLS_MISSING,
                    format!("no symbols found for {}{why}", m.path),
                )
                .about_path(&m.path),
            );
        }
    }
}

/// `r-x region 0x1000-0x2000 of /usr/lib/libc.so.6` or `rw- anonymous region …`.
fn describe_region(r: &Region) -> String {
    match &r.file {
        Some(f) => format!(
            "{} region {:#x}-{:#x} of {}",
            r.protection.rwx(),
            r.start,
            r.end,
            f.path
        ),
        None => format!(
            "{} anonymous region {:#x}-{:#x}",
            r.protection.rwx(),
            r.start,
            r.end
        ),
    }
}

fn threads(process: &ProcessView, fault: Option<&Fault>, arch: Arch, out: &mut CappedFindings) {
    // A zombie's or dead task's threads are gone; it is still a process.
    let exited = process
        .facts
        .as_ref()
        .is_some_and(|p| matches!(p.state, Some('Z' | 'X')));
    if process.threads.is_empty() && !exited {
        out.push(
            &verify::NO_THREADS,
            Finding::new(&verify::NO_THREADS, "the image holds no threads"),
        );
    }
    if let Some(tid) = fault.and_then(|f| f.thread)
        && process.thread(tid).is_none()
    {
        out.push(
            &verify::FAULT_THREAD,
            Finding::new(
                &verify::FAULT_THREAD,
                format!("the fault record names thread {tid}, which is not in the image"),
            ),
        );
    }
    // An image that records no mappings (a minidump without a
    // MemoryInfoList) cannot say whether sp and pc lie in the right kind of
    // memory; judging them against nothing would only produce noise.
    if process.regions.is_empty() {
        return;
    }
    let memory = &*process.memory;
    let pointer_size = arch.pointer_size();
    for t in &process.threads {
        if let Some(sp) = t.registers.sp() {
            // (problem, whether it is bytes the image lacks)
            let problem = match process.region_at(sp) {
                None => Some(("is not in any mapping".to_string(), false)),
                Some(r) if !(r.protection.write && r.protection.read) => {
                    Some((format!("lies in {}", describe_region(r)), false))
                }
                Some(r) if memory.read_pointer(sp, pointer_size).is_err() => Some((
                    format!(
                        "lies in {}, but its page is not in the image",
                        describe_region(r)
                    ),
                    true,
                )),
                Some(_) => None,
            };
            if let Some((p, lost)) = problem {
                let mut f = Finding::new(
                    &verify::THREAD_SP,
                    format!("thread {}: sp {sp:#x} {p}", t.tid),
                )
                .at_address(sp);
                if lost {
                    f = f.from_lost_bytes();
                }
                out.push(&verify::THREAD_SP, f);
            }
        }
        if let Some(pc) = t.registers.pc() {
            let problem = match process.region_at(pc) {
                // gdb's cores leave unmodified file-backed text out of the
                // program headers; the module's file mapping stands in, and
                // its protection is unknown here.
                None if process.module_at(pc).is_some() => None,
                None => Some("is not in any mapping".to_string()),
                Some(r) if !r.protection.execute => Some(format!(
                    "lies in {}, which is not executable",
                    describe_region(r)
                )),
                Some(_) => None,
            };
            if let Some(p) = problem {
                // A jump to a bad address is the crash itself, not damage:
                // the fault then names the pc it could not fetch from.
                let check =
                    if fault.is_some_and(|f| f.thread == Some(t.tid) && f.address == Some(pc)) {
                        &verify::FAULT_PC
                    } else {
                        &verify::THREAD_PC
                    };
                let f =
                    Finding::new(check, format!("thread {}: pc {pc:#x} {p}", t.tid)).at_address(pc);
                out.push(check, f);
            }
        }
    }
}

fn regions(process: &ProcessView, out: &mut CappedFindings) {
    for r in process.regions.iter().filter(|r| r.end < r.start) {
        out.push(
            &verify::REGIONS_OVERLAP,
            Finding::new(
                &verify::REGIONS_OVERLAP,
                format!("region {:#x}-{:#x} ends before it starts", r.start, r.end),
            )
            .at_address(r.start),
        );
    }
    for pair in process.regions.windows(2) {
        let [a, b] = pair else { continue };
        let message = if b.start < a.start {
            format!(
                "regions are not sorted: {:#x}-{:#x} follows {:#x}-{:#x}",
                b.start, b.end, a.start, a.end
            )
        } else if b.start < a.end {
            format!(
                "region {:#x}-{:#x} overlaps {:#x}-{:#x}",
                a.start, a.end, b.start, b.end
            )
        } else {
            continue;
        };
        out.push(
            &verify::REGIONS_OVERLAP,
            Finding::new(&verify::REGIONS_OVERLAP, message).at_address(b.start),
        );
    }
}

/// Paths that name no file on disk: `[vdso]`, `[stack]`, `/dev/zero`,
/// shared memory (`/SYSV0000…`), memfds, hugetlb and aio mappings.
fn is_pseudo(path: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "/dev/",
        "/memfd:",
        "/SYSV",
        "/anon_hugepage",
        "/dmabuf:",
        "/[",
        "/proc/",
    ];
    !path.starts_with('/') || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Where the dump's `path` is on this host.
fn host_path(options: &CheckOptions, path: &str) -> PathBuf {
    match &options.sysroot {
        Some(root) => crate::symbols::locate::under_root(root, path),
        None => PathBuf::from(path),
    }
}

fn mapped_files(process: &ProcessView, options: &CheckOptions, out: &mut CappedFindings) {
    // Modules first (they carry build-ids), then any other mapped file, each
    // path once.
    let mut seen = HashSet::new();
    let files = process
        .modules
        .iter()
        .map(|m| (m.path.as_str(), m.build_id.as_deref()))
        .chain(
            process
                .regions
                .iter()
                .filter_map(|r| r.file.as_ref())
                .map(|f| (f.path.as_str(), None)),
        )
        .filter(|(path, _)| seen.insert(*path));
    for (path, build_id) in files {
        if let Some(deleted) = path.strip_suffix(" (deleted)") {
            if !is_pseudo(deleted) {
                out.push(
                    &verify::MAPPED_FILE_MISSING,
                    Finding::new(
                        &verify::MAPPED_FILE_MISSING,
                        format!("{deleted} was deleted before the dump was taken"),
                    )
                    .about_path(deleted),
                );
            }
            continue;
        }
        if is_pseudo(path) {
            continue;
        }
        let host = host_path(options, path);
        let where_ = match &options.sysroot {
            Some(root) => format!("under the sysroot {}", root.display()),
            None => "on this host".to_string(),
        };
        let size = match std::fs::metadata(&host) {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => {
                out.push(
                    &verify::MAPPED_FILE_MISSING,
                    Finding::new(
                        &verify::MAPPED_FILE_MISSING,
                        format!("{path} is not a regular file {where_}"),
                    )
                    .about_path(path),
                );
                continue;
            }
            Err(_) => {
                out.push(
                    &verify::MAPPED_FILE_MISSING,
                    Finding::new(
                        &verify::MAPPED_FILE_MISSING,
                        format!("{path} is not {where_}"),
                    )
                    .about_path(path),
                );
                continue;
            }
        };
        if let (Some(want), Some(have)) = (build_id, file_build_id(&host))
            && !want.eq_ignore_ascii_case(&have)
        {
            // The crashed machine's own file (--sysroot) must match; this
            // host's only says whether its symbols can be trusted.
            let check = match options.sysroot {
                Some(_) => &verify::MAPPED_FILE_BUILD_ID,
                None => &verify::HOST_FILE_BUILD_ID,
            };
            let message = match options.sysroot {
                Some(_) => format!(
                    "{} has build-id {have}, the dump recorded {want}",
                    host.display()
                ),
                None => format!(
                    "this host's {} has build-id {have}, the process mapped one with {want}: \
                     symbols read from it may be wrong",
                    host.display()
                ),
            };
            out.push(check, Finding::new(check, message).about_path(path));
            // The wrong file: its size says nothing more.
            continue;
        }
        let check = match options.sysroot {
            Some(_) => &verify::MAPPED_FILE_SIZE,
            None => &verify::HOST_FILE_SIZE,
        };
        check_file_size(process, path, size, check, out);
    }
}

/// Every mapping of `path` must lie inside the host file, rounded up to a
/// page (the kernel maps the last partial page whole).
fn check_file_size(
    process: &ProcessView,
    path: &str,
    size: u64,
    check: &'static Check,
    out: &mut CappedFindings,
) {
    let page_end = size.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE);
    for r in &process.regions {
        let Some(file) = r.file.as_ref().filter(|f| f.path == path) else {
            continue;
        };
        // An inaccessible mapping is the loader's reservation of the gap
        // between segments; it may run past the file's end harmlessly.
        let p = r.protection;
        if !(p.read || p.write || p.execute) {
            continue;
        }
        let end = file.offset.saturating_add(r.size());
        if end > page_end {
            out.push(
                check,
                Finding::new(
                    check,
                    format!(
                        "{path}: mapping {:#x}-{:#x} covers file offsets {:#x}-{end:#x}, but the file here has {size} bytes",
                        r.start, r.end, file.offset
                    ),
                )
                .at_address(r.start)
                .about_path(path),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::verify::Severity;

    use crate::memory::{Bytes, Memory, NoMemory, Segment, SegmentMemory};
    use crate::model::*;

    const LIBC_PATH: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    const LIBC_BUILD_ID: &str = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";

    fn image(modules: Vec<Module>, regions: Vec<Region>, threads: Vec<Thread>) -> Image {
        Image {
            path: "test.core".into(),
            format: ImageFormat::ElfCore,
            compression: None,
            size: 0,
            target: Target::linux_process(Arch::X86_64),
            producer: Producer::LinuxKernel,
            fault: None,
            timestamp: None,
            details: FormatDetails::default(),
            findings: Vec::new(),
            process: ProcessView {
                threads,
                modules,
                regions,
                ..ProcessView::empty(Arc::new(NoMemory))
            },
            other_processes: Vec::new(),
        }
    }

    fn module(path: &str, build_id: Option<&str>) -> Module {
        Module {
            name: path.rsplit('/').next().unwrap_or(path).into(),
            path: path.into(),
            base: 0x7000_0000,
            size: 0x1000,
            build_id: build_id.map(String::from),
            load_bias: None,
            sources: vec![ModuleSource::FileMappings],
            is_main: false,
            pe: None,
        }
    }

    fn region(start: u64, end: u64, rwx: &str) -> Region {
        let b = rwx.as_bytes();
        Region {
            start,
            end,
            protection: Protection {
                read: b.first() == Some(&b'r'),
                write: b.get(1) == Some(&b'w'),
                execute: b.get(2) == Some(&b'x'),
            },
            sharing: Sharing::Private,
            file: None,
            capture: Capture::Full,
            image_offset: None,
            windows: None,
            linux: None,
        }
    }

    fn file_region(start: u64, end: u64, rwx: &str, path: &str, offset: u64) -> Region {
        Region {
            file: Some(RegionFile {
                path: path.into(),
                offset,
            }),
            ..region(start, end, rwx)
        }
    }

    fn thread(tid: u64, sp: u64, pc: u64) -> Thread {
        let mut registers = RegisterSet::new(Arch::X86_64);
        registers.set_named("rsp", sp);
        registers.set_named("rip", pc);
        Thread {
            tid,
            name: None,
            registers,
            float: None,
            signal: None,
            pending_signals: None,
            blocked_signals: None,
            user_time_us: None,
            system_time_us: None,
        }
    }

    fn segv(thread: u64, address: u64) -> Fault {
        Fault {
            code: FaultCode::Signal {
                signo: 11,
                code: 1,
                errno: 0,
                sender_pid: None,
                sender_uid: None,
            },
            address: Some(address),
            thread: Some(thread),
            parameters: vec![],
            interrupt_level: None,
        }
    }

    /// Memory holding `len` zero bytes at `address`.
    fn memory_at(address: u64, len: u64) -> Arc<dyn Memory> {
        Arc::new(SegmentMemory::new(vec![Segment {
            address,
            size: len,
            captured: len,
            offset: 0,
            bytes: Bytes::from_vec(vec![0; len as usize]),
        }]))
    }

    fn summary(findings: &[Finding]) -> Vec<(&'static str, Severity, &str)> {
        findings
            .iter()
            .map(|f| (f.code, f.severity, f.message.as_str()))
            .collect()
    }

    /// A sysroot with nothing in it: no mapped-file checks can pass or
    /// fail against the host's own files.
    fn empty_root() -> (tempfile::TempDir, CheckOptions) {
        let root = tempfile::tempdir().unwrap();
        let opts = CheckOptions {
            sysroot: Some(root.path().to_path_buf()),
            symbols: None,
            ..Default::default()
        };
        (root, opts)
    }

    #[test]
    fn no_threads_and_a_missing_fault_thread() {
        let mut img = image(vec![], vec![], vec![]);
        img.fault = Some(segv(5, 0x10));
        assert_eq!(
            summary(&run(&img, &CheckOptions::default())),
            [
                ("CKD-E2003", Severity::Error, "the image holds no threads"),
                (
                    "CKD-E2004",
                    Severity::Error,
                    "the fault record names thread 5, which is not in the image"
                ),
            ]
        );
    }

    #[test]
    fn stack_pointer_must_be_in_present_writable_memory() {
        let regions = vec![
            file_region(0x1000, 0x3000, "r-x", "/usr/lib/libc.so.6", 0),
            region(0x10000, 0x12000, "rw-"),
            region(0x20000, 0x22000, "rw-"),
        ];
        let threads = vec![
            // In code.
            thread(11147, 0x1ff8, 0x1000),
            // Nowhere.
            thread(11148, 0x8000, 0x1000),
            // Writable, but the page was not saved.
            thread(11149, 0x20ff0, 0x1000),
            // Fine.
            thread(11150, 0x11ff0, 0x1000),
        ];
        let mut img = image(vec![], regions, threads);
        img.process.memory = memory_at(0x10000, 0x2000);
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code == "CKD-E2001")
            .collect();
        assert_eq!(
            summary(&f),
            [
                (
                    "CKD-E2001",
                    Severity::Error,
                    "thread 11147: sp 0x1ff8 lies in r-x region 0x1000-0x3000 of /usr/lib/libc.so.6"
                ),
                (
                    "CKD-E2001",
                    Severity::Error,
                    "thread 11148: sp 0x8000 is not in any mapping"
                ),
                (
                    "CKD-E2001",
                    Severity::Error,
                    "thread 11149: sp 0x20ff0 lies in rw- anonymous region 0x20000-0x22000, but its page is not in the image"
                ),
            ]
        );
        assert_eq!(f[0].location.address, Some(0x1ff8));
    }

    #[test]
    fn program_counter_must_be_executable_unless_it_is_the_fault() {
        let regions = vec![
            region(0x1000, 0x2000, "r-x"),
            region(0x10000, 0x12000, "rw-"),
        ];
        let threads = vec![
            thread(1, 0x11000, 0x10010),
            thread(2, 0x11000, 0x0),
            thread(3, 0x11000, 0x50),
            thread(4, 0x11000, 0x1010),
        ];
        // A module whose text has no region (gdb cores): not judged.
        let mut libc = module(LIBC_PATH, None);
        libc.base = 0x7000_0000;
        libc.size = 0x1000;
        let mut threads = threads;
        threads.push(thread(5, 0x11000, 0x7000_0010));
        let mut img = image(vec![libc], regions, threads);
        img.process.memory = memory_at(0x10000, 0x2000);
        // Thread 2 jumped to 0: the fault names that very pc.
        img.fault = Some(segv(2, 0x0));
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code == "CKD-E2002" || f.code == "CKD-W2006")
            .collect();
        assert_eq!(
            summary(&f),
            [
                (
                    "CKD-E2002",
                    Severity::Error,
                    "thread 1: pc 0x10010 lies in rw- anonymous region 0x10000-0x12000, which is not executable"
                ),
                (
                    "CKD-W2006",
                    Severity::Warning,
                    "thread 2: pc 0x0 is not in any mapping"
                ),
                (
                    "CKD-E2002",
                    Severity::Error,
                    "thread 3: pc 0x50 is not in any mapping"
                ),
            ]
        );
        // The faulting thread with a different fault address stays an error.
        img.fault = Some(segv(2, 0x8));
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code == "CKD-E2002")
            .collect();
        assert_eq!(f[1].severity, Severity::Error);
    }

    #[test]
    fn regions_must_be_sorted_and_disjoint() {
        let img = image(
            vec![],
            vec![
                region(0x1000, 0x3000, "r--"),
                region(0x2000, 0x4000, "r--"),
                region(0x8000, 0x9000, "r--"),
                region(0x6000, 0x7000, "r--"),
                region(0xb000, 0xa000, "r--"),
            ],
            vec![thread(1, 0x8000, 0x1000)],
        );
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code == "CKD-E2005")
            .collect();
        assert_eq!(
            summary(&f),
            [
                (
                    "CKD-E2005",
                    Severity::Error,
                    "region 0xb000-0xa000 ends before it starts"
                ),
                (
                    "CKD-E2005",
                    Severity::Error,
                    "region 0x1000-0x3000 overlaps 0x2000-0x4000"
                ),
                (
                    "CKD-E2005",
                    Severity::Error,
                    "regions are not sorted: 0x6000-0x7000 follows 0x8000-0x9000"
                ),
            ]
        );
        assert_eq!(f[1].location.address, Some(0x2000));
    }

    #[test]
    fn findings_per_check_are_capped() {
        // 100 regions all starting at 0: 99 overlaps.
        let regions = (0..100).map(|_| region(0, 0x1000, "rw-")).collect();
        let img = image(vec![], regions, vec![thread(1, 0x10, 0x10)]);
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code == "CKD-E2005")
            .collect();
        assert_eq!(f.len(), MAX_FINDINGS_PER_CHECK + 1);
        assert_eq!(
            f.last().map(|f| f.message.as_str()),
            Some("67 more findings of this check not listed")
        );
    }

    #[test]
    fn pseudo_and_deleted_files() {
        let (_root, opts) = empty_root();
        let modules = vec![
            module("[vdso]", None),
            module("/dev/zero", None),
            module("/memfd:jit (deleted)", None),
            module("/SYSV00000000 (deleted)", None),
            module("/opt/app/bin/server (deleted)", None),
        ];
        let regions = vec![file_region(0x1000, 0x2000, "r--", "/[aio] (deleted)", 0)];
        let img = image(modules, regions, vec![thread(1, 0x10, 0x10)]);
        let f: Vec<_> = run(&img, &opts)
            .into_iter()
            .filter(|f| f.code.ends_with("3001"))
            .collect();
        assert_eq!(
            summary(&f),
            [(
                "CKD-W3001",
                Severity::Warning,
                "/opt/app/bin/server was deleted before the dump was taken"
            )]
        );
        assert_eq!(f[0].location.path.as_deref(), Some("/opt/app/bin/server"));
    }

    #[test]
    fn missing_files_name_the_path() {
        let (root, opts) = empty_root();
        // A mapped data file that is no module is checked too.
        let regions = vec![file_region(
            0x1000,
            0x2000,
            "r--",
            "/usr/lib/locale/locale-archive",
            0,
        )];
        let img = image(
            vec![module(LIBC_PATH, Some(LIBC_BUILD_ID))],
            regions,
            vec![thread(1, 0x10, 0x10)],
        );
        let f: Vec<_> = run(&img, &opts)
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        let under = format!("under the sysroot {}", root.path().display());
        assert_eq!(
            summary(&f),
            [
                (
                    "CKD-W3001",
                    Severity::Warning,
                    format!("{LIBC_PATH} is not {under}").as_str()
                ),
                (
                    "CKD-W3001",
                    Severity::Warning,
                    format!("/usr/lib/locale/locale-archive is not {under}").as_str()
                ),
            ]
        );
    }

    #[test]
    fn mapping_past_the_end_of_the_host_file() {
        let (root, opts) = empty_root();
        let dir = root.path().join("opt/app");
        std::fs::create_dir_all(&dir).unwrap();
        // 5000 bytes: two pages once rounded up.
        std::fs::write(dir.join("data.bin"), vec![0u8; 5000]).unwrap();
        let path = "/opt/app/data.bin";
        let regions = vec![
            file_region(0x10000, 0x12000, "r--", path, 0),
            file_region(0x12000, 0x13000, "r--", path, 0x1000),
            // The loader's reservation of a gap may run past the end.
            file_region(0x13000, 0x20000, "---", path, 0x2000),
            file_region(0x20000, 0x21000, "rw-", path, 0x3000),
        ];
        let img = image(vec![], regions, vec![thread(1, 0x10, 0x10)]);
        let f: Vec<_> = run(&img, &opts)
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        assert_eq!(
            summary(&f),
            [(
                "CKD-E3003",
                Severity::Error,
                "/opt/app/data.bin: mapping 0x20000-0x21000 covers file offsets 0x3000-0x4000, but the file here has 5000 bytes"
            )]
        );
        assert_eq!(f[0].location.address, Some(0x20000));
    }

    #[test]
    fn mapped_file_identity_against_a_sysroot() {
        let Some(shared) = crate::test_support::shared_path("generated/linux-cores/libs/libc.so.6")
        else {
            return;
        };
        let (root, opts) = empty_root();
        let dir = root.path().join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&shared, dir.join("libc.so.6")).unwrap();
        // The core's libc mappings (eu-readelf -n of core.kernel-sigsegv):
        // the last one ends at offset 0x1d5000 of a 1926232-byte file.
        let regions = vec![
            file_region(0x7f44_83b2_e000, 0x7f44_83b5_4000, "r--", LIBC_PATH, 0),
            file_region(
                0x7f44_83d0_1000,
                0x7f44_83d0_3000,
                "rw-",
                LIBC_PATH,
                0x1d_3000,
            ),
        ];
        let good = image(
            vec![module(LIBC_PATH, Some(LIBC_BUILD_ID))],
            regions.clone(),
            vec![thread(1, 0x10, 0x10)],
        );
        let f: Vec<_> = run(&good, &opts)
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        assert_eq!(summary(&f), []);

        let wrong = "00112233445566778899aabbccddeeff00112233";
        let bad = image(
            vec![module(LIBC_PATH, Some(wrong))],
            regions,
            vec![thread(1, 0x10, 0x10)],
        );
        let f: Vec<_> = run(&bad, &opts)
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        let message = format!(
            "{} has build-id {LIBC_BUILD_ID}, the dump recorded {wrong}",
            dir.join("libc.so.6").display()
        );
        assert_eq!(
            summary(&f),
            [("CKD-E3002", Severity::Error, message.as_str())]
        );
        assert_eq!(f[0].location.path.as_deref(), Some(LIBC_PATH));
    }

    /// Without --sysroot the files compared are this host's, which is
    /// rarely the crashed machine: a different build is a warning that
    /// the symbols may be wrong, never a restore-blocking error.
    #[test]
    fn a_different_file_on_this_host_is_a_warning() {
        let host = std::path::Path::new("/bin/sh");
        let have = file_build_id(host).expect("Debian's /bin/sh carries a GNU build-id");
        let wrong = "00112233445566778899aabbccddeeff00112233";
        let img = image(
            vec![module("/bin/sh", Some(wrong))],
            vec![file_region(0x7000_0000, 0x7000_1000, "r-x", "/bin/sh", 0)],
            vec![thread(1, 0x10, 0x10)],
        );
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        let message = format!(
            "this host's /bin/sh has build-id {have}, the process mapped one with {wrong}: symbols read from it may be wrong"
        );
        assert_eq!(
            summary(&f),
            [("CKD-W3004", Severity::Warning, message.as_str())]
        );

        // A mapping past the end of this host's copy: a warning too.
        let size = std::fs::metadata(host).unwrap().len();
        let past = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let img = image(
            vec![module("/bin/sh", None)],
            vec![file_region(
                0x7000_0000,
                0x7000_1000,
                "r--",
                "/bin/sh",
                past,
            )],
            vec![thread(1, 0x10, 0x10)],
        );
        let f: Vec<_> = run(&img, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.code.contains('3'))
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].code, f[0].severity), ("CKD-W3005", Severity::Warning));
    }
}
