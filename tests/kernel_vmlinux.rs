//! Kernel frames named from the best symbol source for a real kdump
//! (Debian 6.1.0-56-cloud-amd64, `makedumpfile -c -d 31`, a sysrq crash by
//! `init`): its vmlinux with DWARF (matched by VMCOREINFO's BUILD-ID),
//! checked against what drgn printed for the same dump
//! (reference/drgn-vmcore-kdump.c-d31.txt); its System.map; and refusals
//! of a vmlinux and a System.map of another build.
//!
//! The vmlinux is 590 MB and is never committed: it comes from a cache
//! (`CKDUMP_VMLINUX_CACHE`, else `target/kernel-debug/`), filled when
//! absent from Debian's `linux-image-6.1.0-56-cloud-amd64-dbg` package
//! (`.ci/run` fills it before the tests run).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::kernel::symbol_source::KernelSymbolSource;
use ckdump::memory::{Memory, MemoryError};
use ckdump::report::{CpuReport, InspectReport};
use ckdump::symbols::SymbolConfig;
use ckdump::unwind::FoundBy;
use common::{ckdump, p, shared_path};

const VMCORE: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const SYSTEM_MAP: &str = "generated/vmcores/kernel/System.map-6.1.0-56-cloud-amd64";
const DRGN: &str = "generated/vmcores/reference/drgn-vmcore-kdump.c-d31.txt";
const RELEASE: &str = "6.1.0-56-cloud-amd64";
const BUILD_ID: &str = "3b43fad5034874490492495d552c0af6a5fab235";

/// The cache the vmlinux is kept in.
fn cache_dir() -> PathBuf {
    match std::env::var_os("CKDUMP_VMLINUX_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => common::root().join("target/kernel-debug"),
    }
}

/// The debug vmlinux of the dump's kernel, fetched into the cache on first
/// use (one test at a time); None after `common::skip` when it cannot be.
fn vmlinux() -> Option<PathBuf> {
    static FETCH: Mutex<()> = Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let rel = format!("usr/lib/debug/boot/vmlinux-{RELEASE}");
    let cache = cache_dir();
    let path = cache.join(&rel);
    if path.is_file() {
        return Some(path);
    }
    for tool in ["apt-get", "dpkg-deb", "tar"] {
        common::require_tool(tool)?;
    }
    let package = format!("linux-image-{RELEASE}-dbg");
    if fetch(&cache, &package, &rel).is_some() && path.is_file() {
        return Some(path);
    }
    common::skip(&format!(
        "the debug vmlinux is not in {} and `apt-get download {package}` could not fetch it",
        cache.display()
    ));
    None
}

/// Downloads `package` into `cache` and extracts `rel` from it (tar stops
/// after it: the package's other 2 GB are modules' debug files), into a
/// scratch directory first so that an interrupted run leaves no half file.
fn fetch(cache: &Path, package: &str, rel: &str) -> Option<()> {
    std::fs::create_dir_all(cache).ok()?;
    let scratch = tempfile::tempdir_in(cache).ok()?;
    let downloaded = std::process::Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(scratch.path())
        .status()
        .ok()?;
    if !downloaded.success() {
        return None;
    }
    let deb = std::fs::read_dir(scratch.path())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))?;
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' 2>/dev/null | tar -x --occurrence=1 -C '{}' './{rel}'",
        deb.display(),
        scratch.path().display()
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .ok()?;
    let target = cache.join(rel);
    std::fs::create_dir_all(target.parent()?).ok()?;
    std::fs::rename(scratch.path().join(rel), target).ok()
}

fn open_vmcore() -> Option<ckdump::Image> {
    Some(common::open(&shared_path(VMCORE)?))
}

/// Symbols from exactly these files and directories.
fn only(paths: &[&Path]) -> InspectOptions {
    InspectOptions {
        symbols: SymbolConfig {
            use_host: false,
            ..SymbolConfig::from_dirs(paths.iter().map(|p| p.to_path_buf()).collect(), None)
        },
        ..InspectOptions::default()
    }
}

/// The dump's report with only kallsyms, and with the vmlinux: made once
/// for the tests that read them (a debug build takes seconds for each).
fn from_kallsyms() -> Option<&'static InspectReport> {
    static REPORT: OnceLock<InspectReport> = OnceLock::new();
    let image = open_vmcore()?;
    Some(REPORT.get_or_init(|| inspect(&image, &only(&[]))))
}

fn from_vmlinux() -> Option<&'static InspectReport> {
    static REPORT: OnceLock<InspectReport> = OnceLock::new();
    let (image, vmlinux) = (open_vmcore()?, vmlinux()?);
    Some(REPORT.get_or_init(|| inspect(&image, &only(&[&vmlinux]))))
}

fn kernel(report: &InspectReport) -> &ckdump::report::KernelReport {
    report.kernel.as_ref().unwrap()
}

/// (function, offset, file, line, column, inlined) of each line of a
/// CPU's stack.
type Line = (
    String,
    Option<u64>,
    Option<String>,
    Option<u32>,
    Option<u32>,
    bool,
);

fn lines(cpu: &CpuReport) -> Vec<Line> {
    cpu.frames
        .iter()
        .map(|f| {
            (
                f.function.clone().unwrap(),
                f.function_offset.map(|o| o.0),
                f.file.clone(),
                f.line,
                f.column,
                f.inlined,
            )
        })
        .collect()
}

fn line(
    function: &str,
    offset: Option<u64>,
    at: Option<(&str, u32, Option<u32>)>,
    inlined: bool,
) -> Line {
    (
        function.to_string(),
        offset,
        at.map(|a| a.0.to_string()),
        at.map(|a| a.1),
        at.and_then(|a| a.2),
        inlined,
    )
}

/// drgn's `#N function (file:line:column)` lines after the line
/// starting with `heading`.
fn drgn_lines(text: &str, heading: &str) -> Vec<(String, String)> {
    text.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .take_while(|l| l.starts_with('#'))
        .map(|l| {
            let rest = l.split_once(' ').unwrap().1.trim_start();
            match rest.split_once(" (") {
                Some((function, at)) => {
                    (function.to_string(), at.trim_end_matches(')').to_string())
                }
                None => (rest.to_string(), String::new()),
            }
        })
        .collect()
}

fn drgn_frames() -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(shared_path(DRGN)?).unwrap();
    Some(drgn_lines(&text, "--- crashed thread stack"))
}

/// A frame line as drgn prints its location: `file:line:column`.
fn location(f: &ckdump::report::FrameReport) -> String {
    match (&f.file, f.line, f.column) {
        (Some(file), Some(line), Some(c)) => format!("{file}:{line}:{c}"),
        (Some(file), Some(line), None) => format!("{file}:{line}"),
        _ => String::new(),
    }
}

#[test]
fn our_own_dumps_crashed_stacks_have_drgns_lines() {
    let Some(vmlinux) = vmlinux() else {
        return;
    };
    let dir = common::root().join("testdata/kernel");
    // The same kernel build, each boot at another KASLR offset.
    for (dump, offset, lines) in [
        ("process", 0x10c0_0000, 15),
        ("softirq", 0x3a60_0000, 27),
        ("hardirq", 0x2b80_0000, 26),
        ("oops", 0x2e00_0000, 11),
    ] {
        let image = common::open(&dir.join(format!("dumps/{dump}.kdump")));
        let report = inspect(&image, &only(&[&vmlinux]));
        let k = kernel(&report);
        assert_eq!(k.kernel_offset.map(|o| o.0), Some(offset), "{dump}");
        assert_eq!(
            k.symbols.source,
            Some(KernelSymbolSource::Vmlinux),
            "{dump}"
        );
        let cpu = k
            .cpus
            .iter()
            .find(|c| Some(c.index) == k.panic_cpu)
            .unwrap();
        let text = std::fs::read_to_string(dir.join(format!("reference/{dump}/drgn.txt"))).unwrap();
        let drgn = drgn_lines(&text, "--- crashed thread: drgn's own stack_trace() text");
        // drgn goes on into user space (`#N 0x43c17f`) where a syscall
        // entered; the kernel stack ends there.
        assert_eq!(cpu.frames.len(), lines, "{dump}");
        assert!(
            drgn.len() == lines || drgn[lines].0.starts_with("0x"),
            "{dump}: {drgn:?}"
        );
        for (f, (function, at)) in cpu.frames.iter().zip(&drgn) {
            let ours = f.function.as_deref().unwrap();
            match f.symbol_source {
                // Module frames: kallsyms names (drgn had the module's
                // debug file too).
                Some(KernelSymbolSource::Kallsyms) => {
                    assert_ne!(f.module.as_deref(), Some("vmlinux"), "{dump} {ours}");
                    assert_eq!(ours, function, "{dump}");
                }
                // Assembly: drgn names the sized symbol around the pc
                // (`secondary_startup_64+0xe9/0xe9`), kallsyms and we the
                // nearest label; the line is the same.
                _ if function.contains('+') => assert_eq!(&location(f), at, "{dump} {ours}"),
                _ => assert_eq!(
                    (ours, location(f)),
                    (function.as_str(), at.clone()),
                    "{dump}"
                ),
            }
        }
    }
    // The text report: source lines beside names, and a module's frame
    // says it was named by kallsyms.
    let hardirq = dir.join("dumps/hardirq.kdump");
    let out = ckdump(&[
        "inspect",
        p(&hardirq),
        "--symbols",
        p(&vmlinux),
        "--no-host-symbols",
        "--log",
        "0",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for want in [
        "      #2  0xffffffffc052a0c0  ckdump_panic!ckdump_hardirq_leaf+0x20                                           [orc] (named by kallsyms)",
        "      #5  0xffffffffac945efd  vmlinux!__run_hrtimer                         kernel/time/hrtimer.c:1751:12     (inlined)",
        "          0xffffffffac945efd  vmlinux!__hrtimer_run_queues+0x10d            kernel/time/hrtimer.c:1815:4      [orc]",
    ] {
        assert!(lines.contains(&want), "{want}\n{text}");
    }
}

#[test]
fn the_crashed_cpu_gets_functions_files_lines_and_inline_frames_as_drgn_shows_them() {
    let (Some(report), Some(vmlinux)) = (from_vmlinux(), vmlinux()) else {
        return;
    };
    let k = kernel(report);
    assert_eq!(k.symbols.source, Some(KernelSymbolSource::Vmlinux));
    assert_eq!(k.symbols.file.as_deref(), Some(p(&vmlinux)));
    assert_eq!(
        k.symbols.description,
        format!("vmlinux: DWARF, matched build-id {BUILD_ID}")
    );
    let cpu = &k.cpus[1];
    assert_eq!(cpu.pc_symbol.as_deref(), Some("__crash_kexec+0x11a"));
    let entry = "/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S";
    assert_eq!(
        lines(cpu),
        [
            line(
                "crash_setup_regs",
                None,
                Some(("arch/x86/include/asm/kexec.h", 115, Some(15))),
                true
            ),
            line(
                "__crash_kexec",
                Some(0x11a),
                Some(("kernel/kexec_core.c", 974, Some(4))),
                false
            ),
            line(
                "panic",
                Some(0x13d),
                Some(("kernel/panic.c", 358, Some(3))),
                false
            ),
            line(
                "sysrq_handle_crash",
                Some(0x16),
                Some(("drivers/tty/sysrq.c", 155, Some(2))),
                false
            ),
            // In the split-off __handle_sysrq.cold: no offset from the
            // function's entry is worth showing.
            line(
                "__handle_sysrq",
                None,
                Some(("drivers/tty/sysrq.c", 603, Some(4))),
                false
            ),
            line(
                "write_sysrq_trigger",
                Some(0x24),
                Some(("drivers/tty/sysrq.c", 1164, Some(3))),
                false
            ),
            line(
                "pde_write",
                None,
                Some(("fs/proc/inode.c", 340, Some(10))),
                true
            ),
            line(
                "proc_reg_write",
                Some(0x56),
                Some(("fs/proc/inode.c", 352, Some(8))),
                false
            ),
            line(
                "vfs_write",
                Some(0xc7),
                Some(("fs/read_write.c", 582, Some(9))),
                false
            ),
            line(
                "ksys_write",
                Some(0x6b),
                Some(("fs/read_write.c", 637, Some(9))),
                false
            ),
            line(
                "do_syscall_x64",
                None,
                Some(("arch/x86/entry/common.c", 46, Some(14))),
                true
            ),
            line(
                "do_syscall_64",
                Some(0x5d),
                Some(("arch/x86/entry/common.c", 76, Some(7))),
                false
            ),
            // drgn names the sized symbol around it (entry_SYSCALL_64+0xa6);
            // the nearest label is the kallsyms name, as dmesg printed it.
            line(
                "entry_SYSCALL_64_after_hwframe",
                Some(0x6e),
                Some((entry, 121, None)),
                false
            ),
        ]
    );
    // Every line named by the vmlinux, the walk itself as without it.
    assert!(
        cpu.frames
            .iter()
            .all(|f| f.symbol_source == Some(KernelSymbolSource::Vmlinux)
                && f.module.as_deref() == Some("vmlinux"))
    );
    let pcs: Vec<(usize, u64, FoundBy)> = cpu
        .frames
        .iter()
        .filter(|f| !f.inlined)
        .map(|f| (f.index, f.pc.0, f.found_by))
        .collect();
    assert_eq!(
        pcs[..3],
        [
            (0, 0xffff_ffff_a696_475a, FoundBy::Context),
            (1, 0xffff_ffff_a71c_d06e, FoundBy::Scan),
            (2, 0xffff_ffff_a6ea_8a06, FoundBy::Orc),
        ]
    );
    assert_eq!(pcs.len(), 10);

    // And drgn's own lines, read from its output: the same functions and
    // locations (drgn stops at the syscall entry one frame later).
    let Some(drgn) = drgn_frames() else {
        return;
    };
    let ours: Vec<(String, String)> = lines(cpu)
        .iter()
        .map(|(function, _, file, line, column, _)| {
            let at = match column {
                Some(c) => format!("{}:{}:{c}", file.as_deref().unwrap(), line.unwrap()),
                None => format!("{}:{}", file.as_deref().unwrap(), line.unwrap()),
            };
            (function.clone(), at)
        })
        .collect();
    assert_eq!(ours[..12], drgn[..12]);
    assert_eq!(
        drgn[12],
        (
            "entry_SYSCALL_64+0xa6/0x1ab".to_string(),
            format!("{entry}:121")
        )
    );
    assert_eq!(ours[12].1, drgn[12].1);
}

#[test]
fn the_idle_cpu_unwinds_into_init_text_with_lines() {
    let Some(report) = from_vmlinux() else {
        return;
    };
    let cpu = &kernel(report).cpus[0];
    let physical: Vec<(&str, Option<String>)> = cpu
        .frames
        .iter()
        .filter(|f| !f.inlined)
        .map(|f| {
            (
                f.function.as_deref().unwrap(),
                f.file
                    .as_ref()
                    .map(|file| format!("{file}:{}", f.line.unwrap())),
            )
        })
        .collect();
    // The NMI handler on the NMI stack first (lines as `addr2line -i` gives
    // them for each return address - 1; the entry code has no DWARF
    // function, so the symbol table names it), then the halt it interrupted.
    assert_eq!(
        physical,
        [
            (
                "crash_nmi_callback",
                Some("arch/x86/kernel/reboot.c:867".into())
            ),
            ("default_do_nmi", Some("arch/x86/kernel/nmi.c:379".into())),
            ("exc_nmi", Some("arch/x86/kernel/nmi.c:555".into())),
            (
                "asm_exc_nmi",
                Some(
                    "/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S:1443".into()
                )
            ),
            (
                "native_safe_halt",
                Some("arch/x86/include/asm/irqflags.h:52".into())
            ),
            (
                "amd_e400_idle",
                Some("arch/x86/kernel/process.c:826".into())
            ),
            ("default_idle_call", Some("kernel/sched/idle.c:109".into())),
            ("do_idle", Some("kernel/sched/idle.c:323".into())),
            ("cpu_startup_entry", Some("kernel/sched/idle.c:422".into())),
            ("rest_init", Some("init/main.c:706".into())),
            ("arch_call_rest_init", Some("init/main.c:865".into())),
            // .init.text, freed after boot but still described by DWARF.
            ("start_kernel", Some("init/main.c:1113".into())),
            (
                "secondary_startup_64_no_verify",
                Some("/build/reproducible-path/linux-6.1.192/arch/x86/kernel/head_64.S:358".into())
            ),
        ]
    );
    let inlined: Vec<&str> = cpu
        .frames
        .iter()
        .filter(|f| f.inlined)
        .map(|f| f.function.as_deref().unwrap())
        .collect();
    assert_eq!(
        inlined,
        [
            "halt",
            "nmi_handle",
            "arch_safe_halt",
            "default_idle",
            "cpuidle_idle_call"
        ]
    );
}

#[test]
fn the_json_report_names_each_frames_source_and_fits_the_schema() {
    let (Some(vmcore), Some(vmlinux)) = (shared_path(VMCORE), vmlinux()) else {
        return;
    };
    let json = common::inspect_json(&vmcore, &["--symbols", p(&vmlinux), "--no-host-symbols"]);
    common::assert_valid(
        &common::schema("inspect.schema.json"),
        &json,
        "inspect --format json",
    );
    let k = &json["kernel"];
    assert_eq!(k["symbols"]["source"], "vmlinux");
    assert_eq!(k["symbols"]["file"], p(&vmlinux));
    for cpu in k["cpus"].as_array().unwrap() {
        for frame in cpu["frames"].as_array().unwrap() {
            assert_eq!(frame["symbol_source"], "vmlinux", "{frame}");
        }
    }
    // The kernel as the image's one module, found by its build-id.
    let modules = json["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 1);
    let m = &modules[0];
    assert_eq!(m["name"], "vmlinux");
    assert_eq!(m["path"], format!("vmlinux-{RELEASE}"));
    assert_eq!(m["build_id"], BUILD_ID);
    assert_eq!(
        (m["base"].as_str(), m["end"].as_str()),
        (Some("0xffffffffa6800000"), Some("0xffffffffc0000000"))
    );
    assert_eq!(m["symbols"], "dwarf");
    assert_eq!(m["binary"], p(&vmlinux));
    // User-space frames carry no source field.
    let core = common::root().join("testdata/cores/core.threads.kernel.zst");
    let user = common::inspect_json(&core, &["--no-host-symbols"]);
    let frame = &user["threads"][0]["frames"][0];
    assert!(frame.get("symbol_source").is_none(), "{frame}");
}

#[test]
fn a_build_id_tree_and_the_debug_location_find_the_vmlinux() {
    let (Some(image), Some(vmlinux)) = (open_vmcore(), vmlinux()) else {
        return;
    };
    // DIR/.build-id/3b/43fad5….debug, as debug packages lay them out.
    let store = tempfile::tempdir().unwrap();
    let link = store
        .path()
        .join(format!(".build-id/3b/{}.debug", &BUILD_ID[2..]));
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&vmlinux, &link).unwrap();
    let report = inspect(&image, &only(&[store.path()]));
    assert_eq!(kernel(&report).symbols.file.as_deref(), Some(p(&link)));
    // SYSROOT/usr/lib/debug/boot/vmlinux-RELEASE.
    let root = tempfile::tempdir().unwrap();
    let boot = root
        .path()
        .join(format!("usr/lib/debug/boot/vmlinux-{RELEASE}"));
    std::fs::create_dir_all(boot.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&vmlinux, &boot).unwrap();
    let options = InspectOptions {
        symbols: SymbolConfig {
            use_host: false,
            ..SymbolConfig::from_dirs(Vec::new(), Some(root.path().to_path_buf()))
        },
        ..InspectOptions::default()
    };
    let report = inspect(&image, &options);
    assert_eq!(kernel(&report).symbols.file.as_deref(), Some(p(&boot)));
    assert_eq!(
        kernel(&report).symbols.source,
        Some(KernelSymbolSource::Vmlinux)
    );
}

/// (function, offset) of every frame of every CPU, and what named them.
fn names(report: &InspectReport) -> Vec<(String, u64, Option<KernelSymbolSource>)> {
    kernel(report)
        .cpus
        .iter()
        .flat_map(|c| &c.frames)
        .map(|f| {
            (
                f.function.clone().unwrap(),
                f.function_offset.unwrap().0,
                f.symbol_source,
            )
        })
        .collect()
}

#[test]
fn a_system_map_names_frames_as_kallsyms_does() {
    let (Some(image), Some(map)) = (open_vmcore(), shared_path(SYSTEM_MAP)) else {
        return;
    };
    let Some(from_kallsyms) = from_kallsyms() else {
        return;
    };
    assert_eq!(
        kernel(from_kallsyms).symbols.source,
        Some(KernelSymbolSource::Kallsyms)
    );
    let from_map = inspect(&image, &only(&[&map]));
    let k = kernel(&from_map);
    assert_eq!(k.symbols.source, Some(KernelSymbolSource::SystemMap));
    assert_eq!(k.symbols.file.as_deref(), Some(p(&map)));
    // Its 525 symbols compared: VMCOREINFO's SYMBOL()s in the image and a
    // sample of kallsyms.
    assert_eq!(
        k.symbols.description,
        "System.map: names only, 525 symbols agree with the dump"
    );
    let (by_map, by_kallsyms) = (names(&from_map), names(from_kallsyms));
    // CPU 0's NMI handler (4) and idle loop (9), then CPU 1's 10.
    assert_eq!(by_map.len(), 23);
    assert_eq!(by_map.len(), by_kallsyms.len());
    for (m, s) in by_map.iter().zip(&by_kallsyms) {
        assert_eq!((&m.0, m.1), (&s.0, s.1));
        assert_eq!(
            (m.2, s.2),
            (
                Some(KernelSymbolSource::SystemMap),
                Some(KernelSymbolSource::Kallsyms)
            )
        );
    }
    assert_eq!(by_map[16].0, "__handle_sysrq.cold");
    assert!(
        from_map
            .findings
            .iter()
            .all(|f| !f.code.starts_with("CKD-W702"))
    );
}

#[test]
fn a_system_map_of_another_build_is_refused() {
    let (Some(image), Some(map)) = (open_vmcore(), shared_path(SYSTEM_MAP)) else {
        return;
    };
    // The same names 2 MiB further on: a kernel laid out differently.
    let text = std::fs::read_to_string(&map).unwrap();
    let moved: String = text
        .lines()
        .map(|l| {
            let (address, rest) = l.split_once(' ').unwrap();
            let address = u64::from_str_radix(address, 16).unwrap();
            let address = if address >= 0xffff_ffff_8000_0000 {
                address + 0x20_0000
            } else {
                address
            };
            format!("{address:016x} {rest}\n")
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join(format!("System.map-{RELEASE}"));
    std::fs::write(&wrong, moved).unwrap();
    // Found in a symbols directory by its release.
    let report = inspect(&image, &only(&[dir.path()]));
    assert_eq!(
        kernel(&report).symbols.source,
        Some(KernelSymbolSource::Kallsyms)
    );
    let refused: Vec<&ckdump::finding::Finding> = report
        .findings
        .iter()
        .filter(|f| f.code == "CKD-W7021")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].message,
        format!(
            "System.map {} refused: init_uts_ns is at 0xffffffffa85f9b60 by the map (relocated by \
             KERNELOFFSET) but at 0xffffffffa83f9b60 by the dump's VMCOREINFO",
            wrong.display()
        )
    );
    assert_eq!(names(&report), names(from_kallsyms().unwrap()));

    let out = ckdump(&[
        "verify",
        p(&shared_path(VMCORE).unwrap()),
        "--symbols",
        p(&wrong),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning CKD-W7021 system-map-matches  System.map"),
        "{text}"
    );
}

/// A copy of the vmlinux's notes alone (objcopy), its build-id's last byte
/// changed: a small ELF that claims to be another build of the kernel.
fn vmlinux_of_another_build(vmlinux: &Path, dir: &Path) -> Option<(PathBuf, String)> {
    let objcopy = common::require_tool("objcopy")?;
    let out = dir.join(format!("vmlinux-{RELEASE}"));
    let status = std::process::Command::new(objcopy)
        .args(["--strip-all", "-j", ".notes", p(vmlinux), p(&out)])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut bytes = std::fs::read(&out).unwrap();
    let id: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&BUILD_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let at = bytes.windows(20).position(|w| w == id).unwrap();
    bytes[at + 19] ^= 0xff;
    std::fs::write(&out, bytes).unwrap();
    let other = format!("{}{:02x}", &BUILD_ID[..38], 0x35 ^ 0xff);
    Some((out, other))
}

#[test]
fn a_vmlinux_of_another_build_is_refused_once_and_kallsyms_names_the_frames() {
    let (Some(image), Some(vmlinux)) = (open_vmcore(), vmlinux()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((wrong, other)) = vmlinux_of_another_build(&vmlinux, dir.path()) else {
        return;
    };
    let message = format!(
        "vmlinux {} refused: build-id {other} differs from the dump's {BUILD_ID}",
        wrong.display()
    );
    // Given as a file, and found in a directory by its release: the same
    // file, refused once.
    let report = inspect(&image, &only(&[&wrong, dir.path()]));
    let refused: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "CKD-W7020")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(refused, [message.as_str()]);
    assert_eq!(
        kernel(&report).symbols.source,
        Some(KernelSymbolSource::Kallsyms)
    );
    assert_eq!(names(&report), names(from_kallsyms().unwrap()));
    assert_eq!(report.modules[0].symbols, ckdump::symbols::SymbolKind::None);

    // Beside the right one, the wrong one is still refused and the right
    // one used.
    let report = inspect(&image, &only(&[&wrong, &vmlinux]));
    assert_eq!(
        kernel(&report).symbols.source,
        Some(KernelSymbolSource::Vmlinux)
    );
    assert_eq!(
        report
            .findings
            .iter()
            .filter(|f| f.code == "CKD-W7020")
            .count(),
        1
    );

    // The text report says it once; verify reports it.
    let vmcore = shared_path(VMCORE).unwrap();
    let out = ckdump(&[
        "inspect",
        p(&vmcore),
        "--symbols",
        p(&wrong),
        "--no-host-symbols",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("CKD-W7020").count(), 1, "{text}");
    assert!(
        text.contains("  symbols  kallsyms in the dump: names only"),
        "{text}"
    );
    let out = ckdump(&[
        "verify",
        p(&vmcore),
        "--symbols",
        p(&wrong),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "CKD-W7020")
        .collect();
    assert_eq!(found.len(), 1, "{json}");
    assert_eq!(found[0]["message"], message);
    // And with the right one, verify has nothing to say about symbols.
    let out = ckdump(&[
        "verify",
        p(&vmcore),
        "--symbols",
        p(&vmlinux),
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["code"].as_str().unwrap().starts_with("CKD-W702")),
        "{json}"
    );
}

/// The dump's memory with some ranges read as not captured.
struct Without {
    memory: Arc<dyn Memory>,
    hidden: Vec<(u64, u64)>,
}

impl Memory for Without {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if self.hidden.iter().any(|&(s, e)| (s..e).contains(&address)) {
            return Err(MemoryError::NotCaptured { address });
        }
        let next = self
            .hidden
            .iter()
            .filter(|&&(s, _)| s > address)
            .map(|&(s, _)| s - address)
            .min()
            .unwrap_or(u64::MAX);
        let n = buf.len().min(usize::try_from(next).unwrap_or(usize::MAX));
        self.memory.read(address, &mut buf[..n])
    }
}

/// (index, pc, found_by) of each physical frame of a CPU.
fn walk(report: &InspectReport, cpu: usize) -> Vec<(usize, u64, FoundBy)> {
    kernel(report).cpus[cpu]
        .frames
        .iter()
        .filter(|f| !f.inlined)
        .map(|f| (f.index, f.pc.0, f.found_by))
        .collect()
}

#[test]
fn orc_tables_come_from_the_vmlinux_when_the_dump_lacks_them() {
    let (Some(mut image), Some(vmlinux)) = (open_vmcore(), vmlinux()) else {
        return;
    };
    let whole = from_kallsyms().unwrap();
    // __start_orc_unwind_ip .. __stop_orc_unwind (kallsyms, relocated).
    let tables = (0xffff_ffff_a845_d5c0, 0xffff_ffff_a87e_0e90);
    image.process.memory = Arc::new(Without {
        memory: image.process.memory.clone(),
        hidden: vec![tables],
    });
    let without_orc = inspect(&image, &only(&[]));
    let with_vmlinux = inspect(&image, &only(&[&vmlinux]));
    for cpu in [0, 1] {
        assert_eq!(walk(&with_vmlinux, cpu), walk(whole, cpu), "CPU {cpu}");
        assert_ne!(walk(&without_orc, cpu), walk(whole, cpu), "CPU {cpu}");
    }
    // CPU 0: the NMI handler's first frame found on the NMI stack, the
    // interrupted context from the saved registers, the rest by ORC.
    let by: Vec<FoundBy> = walk(&with_vmlinux, 0).iter().map(|f| f.2).collect();
    assert_eq!(by[0], FoundBy::Scan);
    assert_eq!(by[4], FoundBy::Context);
    assert!(
        by.iter()
            .enumerate()
            .all(|(i, b)| i == 0 || i == 4 || *b == FoundBy::Orc),
        "{by:?}"
    );
}

#[test]
fn a_dump_without_kallsyms_walks_with_the_vmlinuxs_own_tables() {
    let (Some(mut image), Some(vmlinux)) = (open_vmcore(), vmlinux()) else {
        return;
    };
    let whole = from_vmlinux().unwrap();
    // As a kernel before 6.0 writes it: no kallsyms in VMCOREINFO.
    let info = image
        .details
        .kernel
        .as_mut()
        .unwrap()
        .vmcoreinfo
        .as_mut()
        .unwrap();
    info.entries.retain(|(key, _)| !key.contains("kallsyms"));
    let bare = inspect(&image, &only(&[]));
    assert_eq!(kernel(&bare).symbols.source, None);
    assert!(kernel(&bare).cpus.iter().all(|c| c.frames.is_empty()));
    let report = inspect(&image, &only(&[&vmlinux]));
    for cpu in [0, 1] {
        assert_eq!(walk(&report, cpu), walk(whole, cpu), "CPU {cpu}");
        // preempt_count is a per-CPU variable the vmlinux's table places.
        let (a, b) = (&kernel(&report).cpus[cpu], &kernel(whole).cpus[cpu]);
        assert_eq!((&a.context, a.preempt_count), (&b.context, b.preempt_count));
    }
    assert_eq!(kernel(&report).cpus[1].preempt_count, Some(1));
}
