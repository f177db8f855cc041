//! The symbolizer through the library API, frame by frame against eu-stack:
//! for every pc eu-stack printed (pc for frame #0, pc - 1 for the others,
//! as it marks them), the inline chain, each function name and its
//! file:line:column must be eu-stack's.

mod common;

use std::path::{Path, PathBuf};

use ckdump::model::{Arch, ImageFormat, Module, ModuleSource, Os};
use ckdump::symbols::{SymbolConfig, SymbolFrame, SymbolKind, Symbolizer};
use ckdump::{Image, OpenOptions, open};
use common::*;

/// One eu-stack frame: adjusted pc, function name (None when eu-stack had
/// none), and its source location `(file, line, column)` when printed.
#[derive(Debug)]
struct EuFrame {
    pc: u64,
    function: Option<String>,
    location: Option<(String, u32, Option<u32>)>,
}

/// Parses `eu-stack -v` output into frames, per thread in order.
fn eu_frames(text: &str) -> Vec<Vec<EuFrame>> {
    let mut threads: Vec<Vec<EuFrame>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("TID ") {
            threads.push(Vec::new());
        } else if line.starts_with('#') {
            // "#3  0x00005574753b72d4 - 1 crash_here - crashme"
            let rest = line.split_once(' ').unwrap().1.trim_start();
            let (pc, rest) = rest.split_once(' ').unwrap();
            let mut pc = u64::from_str_radix(pc.trim_start_matches("0x"), 16).unwrap();
            let mut rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("- 1 ") {
                pc -= 1;
                rest = r;
            }
            // The module name follows the last " - " (C++ names hold none).
            let function = rest
                .rsplit_once(" - ")
                .map(|(f, _)| f.trim().to_string())
                .filter(|f| !f.is_empty());
            threads.last_mut().unwrap().push(EuFrame {
                pc,
                function,
                location: None,
            });
        } else if let Some(loc) = line.strip_prefix("    ") {
            // "    ../csu/libc-start.c:360:3" or "    …/clone3.S:81"
            let mut parts = loc.rsplitn(3, ':');
            let (a, b, c) = (parts.next(), parts.next(), parts.next());
            let location = match (a, b, c) {
                (Some(col), Some(line), Some(file)) if line.parse::<u32>().is_ok() => (
                    file.to_string(),
                    line.parse().unwrap(),
                    Some(col.parse().unwrap()),
                ),
                (Some(line), Some(file), rest) => {
                    let file = match rest {
                        Some(r) => format!("{r}:{file}"),
                        None => file.to_string(),
                    };
                    (file, line.parse().unwrap(), None)
                }
                _ => panic!("location {loc}"),
            };
            let frame = threads.last_mut().unwrap().last_mut().unwrap();
            frame.location = Some(location);
        }
    }
    threads
}

/// eu-stack prints the line table's own file name; addr2line joins the
/// compilation directory in front of relative names (`./csu/../csu/x.c`
/// for `../csu/x.c`), so the relative name must end the joined one.
fn same_file(got: &str, want: &str) -> bool {
    if want.starts_with('/') {
        return got == want;
    }
    got.ends_with(want.trim_start_matches("./"))
}

/// Checks every eu-stack frame of `reference` against the symbolizer.
fn check_against_eu_stack(image_path: &Path, reference: &Path, config: &SymbolConfig) {
    let image = open(image_path, &OpenOptions::default()).unwrap();
    check_image_against_eu_stack(&image, reference, config);
}

fn check_image_against_eu_stack(image: &Image, reference: &Path, config: &SymbolConfig) {
    let symbolizer = Symbolizer::new(&image.process, config);
    let text = std::fs::read_to_string(reference).unwrap();
    let threads = eu_frames(&text);
    assert!(!threads.is_empty(), "{}", reference.display());
    let mut checked = 0;
    for frames in &threads {
        let mut i = 0;
        while i < frames.len() {
            let pc = frames[i].pc;
            let got: Vec<SymbolFrame> = symbolizer.lookup(pc);
            let ctx = format!("{} frame at {pc:#x}: {got:?}", reference.display());
            if frames[i].function.is_none() {
                // eu-stack found no name (libstdc++ without symbols).
                assert!(
                    got.iter().all(|f| f.function.is_none()),
                    "{ctx}: eu-stack has no name"
                );
                i += 1;
                continue;
            }
            assert!(!got.is_empty(), "{ctx}: nothing found");
            for (k, g) in got.iter().enumerate() {
                let want = frames
                    .get(i + k)
                    .unwrap_or_else(|| panic!("{ctx}: longer inline chain than eu-stack"));
                assert_eq!(want.pc, pc, "{ctx}: inline chain length");
                assert_eq!(g.function, want.function, "{ctx}: frame {k}");
                assert_eq!(g.inlined, k + 1 < got.len(), "{ctx}: frame {k}");
                match &want.location {
                    Some((file, line, column)) => {
                        let gf = g.file.as_deref().unwrap_or("");
                        assert!(same_file(gf, file), "{ctx}: file {gf} vs {file}");
                        assert_eq!(g.line, Some(*line), "{ctx}: frame {k}");
                        assert_eq!(g.column, *column, "{ctx}: frame {k}");
                    }
                    None => assert_eq!(g.line, None, "{ctx}: eu-stack has no line"),
                }
                checked += 1;
            }
            i += got.len();
        }
    }
    assert!(
        checked > 3,
        "{}: only {checked} frames",
        reference.display()
    );
}

fn linux_cores() -> Option<PathBuf> {
    shared_path("generated/linux-cores")
}

#[test]
fn shared_cores_symbolize_like_eu_stack() {
    let Some(dir) = linux_cores() else { return };
    let config = SymbolConfig::from_dirs(vec![dir.join("libs"), dir.clone()], None);
    for core in [
        "core.kernel-sigsegv",
        "core.kernel-sigsegv-filter0x3f",
        "core.gdb-generate-core-file",
        "core.gcore-live",
    ] {
        check_against_eu_stack(
            &dir.join(format!("{core}.zst")),
            &dir.join(format!("reference/{core}.eu-stack.txt")),
            &config,
        );
    }
}

#[test]
fn shared_core_modules_report_their_files() {
    let Some(dir) = linux_cores() else { return };
    let config = SymbolConfig::from_dirs(vec![dir.join("libs"), dir.clone()], None);
    let image = open(
        &dir.join("core.kernel-sigsegv.zst"),
        &OpenOptions::default(),
    )
    .unwrap();
    let symbolizer = Symbolizer::new(&image.process, &config);
    let status = symbolizer.modules();
    let by_name = |name: &str| {
        let i = image
            .process
            .modules
            .iter()
            .position(|m| m.name == name)
            .unwrap();
        status[i].clone()
    };
    let crashme = by_name("crashme");
    assert_eq!(crashme.binary, Some(dir.join("crashme")));
    assert_eq!(crashme.kind, SymbolKind::Dwarf);
    let libc = by_name("libc.so.6");
    assert_eq!(libc.kind, SymbolKind::Dwarf);
    // The libc debug file by GNU build-id (readelf -n libs/libc.so.6).
    let id = image
        .process
        .modules
        .iter()
        .find(|m| m.name == "libc.so.6")
        .and_then(|m| m.build_id.clone())
        .unwrap();
    assert_eq!(
        libc.debug_file,
        Some(dir.join(format!("libs/.build-id/{}/{}.debug", &id[..2], &id[2..])))
    );
}

fn fixture(name: &str) -> PathBuf {
    root().join("testdata/cores").join(name)
}

/// `--sysroot testdata/sysroot`, symbols dirs `symbols` and `testdata/bin`.
fn fixture_config() -> SymbolConfig {
    SymbolConfig::from_dirs(
        vec![root().join("symbols"), root().join("testdata/bin")],
        Some(root().join("testdata/sysroot")),
    )
}

#[test]
fn fixtures_symbolize_like_eu_stack() {
    let config = fixture_config();
    for core in [
        "core.threads.kernel",
        "core.threads.gdb",
        "core.threads.gcore",
        "core.threads-m32.kernel",
        "core.threads-dwarf4.kernel",
        "core.threads-nocfi.kernel",
        "core.sighandler.kernel",
        "core.illegal.kernel",
        "core.nofp.kernel",
        "core.cxx_throw.kernel",
    ] {
        check_against_eu_stack(
            &fixture(&format!("{core}.zst")),
            &root().join(format!("testdata/reference/{core}.eu-stack.txt")),
            &config,
        );
    }
}

#[test]
fn inlined_crash_frame_in_threads_core() {
    let image = open(&fixture("core.threads.kernel.zst"), &OpenOptions::default()).unwrap();
    let symbolizer = Symbolizer::new(&image.process, &fixture_config());
    // The kernel writes the crashing thread first.
    let pc = image.process.threads[0].registers.pc().unwrap();
    let frames = symbolizer.lookup(pc);
    let summary: Vec<(Option<&str>, Option<u32>, bool)> = frames
        .iter()
        .map(|f| (f.function.as_deref(), f.line, f.inlined))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("read_value"), Some(73), true),
            (Some("crash_here"), Some(80), false)
        ]
    );
    assert_eq!(
        frames[1].file.as_deref(),
        Some("/usr/src/ckdump-testdata/threads.c")
    );
    // Offset from crash_here's DW_AT_low_pc, 0x1328 (`readelf -s`: the
    // symbol agrees); the PIE's first PT_LOAD is at 0, so base == bias.
    let base = image
        .process
        .modules
        .iter()
        .find(|m| m.is_main)
        .unwrap()
        .base;
    assert_eq!(frames[1].function_offset, Some(pc - base - 0x1328));
    assert_eq!(frames[0].function_offset, None);
}

#[test]
fn debuglink_only_debug_file_is_found() {
    let image = open(
        &fixture("core.cxx_throw.kernel.zst"),
        &OpenOptions::default(),
    )
    .unwrap();
    let symbolizer = Symbolizer::new(&image.process, &fixture_config());
    let main = image
        .process
        .modules
        .iter()
        .position(|m| m.is_main)
        .unwrap();
    let status = &symbolizer.modules()[main];
    // The sysroot holds the program at its path in the dump.
    assert_eq!(
        status.binary,
        Some(root().join("testdata/sysroot/tmp/ckdump-testdata/bin/cxx_throw"))
    );
    assert_eq!(
        status.debug_file,
        Some(root().join("symbols/debuglink/cxx_throw.debug"))
    );
    assert_eq!(status.kind, SymbolKind::Dwarf);
}

#[test]
fn dwarf_inside_the_binary() {
    let image = open(&fixture("core.illegal.kernel"), &OpenOptions::default()).unwrap();
    let symbolizer = Symbolizer::new(&image.process, &fixture_config());
    let main = image
        .process
        .modules
        .iter()
        .position(|m| m.is_main)
        .unwrap();
    let status = &symbolizer.modules()[main];
    assert_eq!(
        status.binary,
        Some(root().join("testdata/sysroot/tmp/ckdump-testdata/bin/illegal"))
    );
    assert_eq!(status.debug_file, None);
    assert_eq!(status.kind, SymbolKind::Dwarf);
}

#[test]
fn binary_with_another_build_id_is_rejected() {
    // A flat dir whose `libc.so.6` is really the `threads` program.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        root().join("testdata/bin/threads"),
        dir.path().join("libc.so.6"),
    )
    .unwrap();
    let mut config = SymbolConfig::from_dirs(vec![dir.path().to_path_buf()], None);
    config.use_host = false;
    let image = open(&fixture("core.illegal.kernel"), &OpenOptions::default()).unwrap();
    let libc = image
        .process
        .modules
        .iter()
        .position(|m| m.name == "libc.so.6")
        .unwrap();
    let status = &Symbolizer::new(&image.process, &config).modules()[libc];
    assert_eq!(status.binary, None);
    assert_eq!(status.kind, SymbolKind::None);
    assert_eq!(
        status.problem.as_deref(),
        Some(
            format!(
                "{}: build-id ef4ea17280cefee9d9850ed7430c51485a809748 differs from \
                 the dump's 93ac61ec5a8eb1396f9fbd350e3169a558528a40",
                dir.path().join("libc.so.6").display()
            )
            .as_str()
        )
    );
}

/// Link-time address of `name` in the libc shipped with the shared cores.
const LIBC_CLOCK_NANOSLEEP: u64 = 0xcf4e0;

#[test]
fn code_and_unwind_tables_come_from_the_binary() {
    let Some(dir) = linux_cores() else { return };
    let mut config = SymbolConfig::from_dirs(vec![dir.join("libs"), dir.clone()], None);
    config.use_host = false;
    // The default coredump_filter leaves libc's text out of the core; the
    // 0x3f filter keeps it: both must give the same bytes.
    // Without host files, so that the image itself does not fill the gap.
    let bare = OpenOptions {
        use_host_files: false,
        ..OpenOptions::default()
    };
    let plain = open(&dir.join("core.kernel-sigsegv.zst"), &bare).unwrap();
    let full = open(
        &dir.join("core.kernel-sigsegv-filter0x3f.zst"),
        &OpenOptions::default(),
    )
    .unwrap();
    let libc_base = |image: &ckdump::Image| {
        image
            .process
            .modules
            .iter()
            .find(|m| m.name == "libc.so.6")
            .map(|m| m.base)
            .unwrap()
    };
    // libc's first PT_LOAD has p_vaddr 0, so base == load bias.
    let pc = libc_base(&plain) + LIBC_CLOCK_NANOSLEEP;
    let mut in_core = [0u8; 32];
    assert_eq!(plain.process.memory.read_available(pc, &mut in_core), 0);

    let symbolizer = Symbolizer::new(&plain.process, &config);
    use ckdump::unwind::CodeInfo;
    let mut from_file = [0u8; 32];
    assert_eq!(symbolizer.read_code(pc, &mut from_file), 32);
    let mut want = [0u8; 32];
    let full_pc = libc_base(&full) + LIBC_CLOCK_NANOSLEEP;
    assert_eq!(full.process.memory.read_available(full_pc, &mut want), 32);
    assert_eq!(from_file, want);
    assert!(symbolizer.is_code(pc));
    // .rodata of libc is mapped but not executable.
    assert!(!symbolizer.is_code(libc_base(&plain) + 0x1a1b2c));

    // Section addresses from `readelf -S libs/libc.so.6`; the debug file's
    // .eh_frame is NOBITS and must not be used.
    let tables = symbolizer.unwind_tables(pc).unwrap();
    assert_eq!(tables.load_bias, libc_base(&plain));
    let eh = tables.eh_frame.unwrap();
    assert_eq!((eh.address, eh.data.len()), (0x1a8f40, 0x256d0));
    let hdr = tables.eh_frame_hdr.unwrap();
    assert_eq!((hdr.address, hdr.data.len()), (0x1a1b2c, 0x7414));
    let text = tables.text.unwrap();
    assert_eq!(text.address, 0x26380);
    assert_eq!(tables.got.unwrap().address, 0x1d2d60);
}

#[test]
fn vdso_symbols_come_from_the_dumps_memory() {
    let image = open(&fixture("core.threads.kernel.zst"), &OpenOptions::default()).unwrap();
    let index = image
        .process
        .modules
        .iter()
        .position(|m| m.sources.contains(&ckdump::model::ModuleSource::Vdso))
        .unwrap();
    let vdso = &image.process.modules[index];
    // Find `__vdso_clock_gettime` in the vDSO's own .dynsym with goblin.
    let mut elf_bytes = vec![0u8; vdso.size.min(1 << 20) as usize];
    let n = image
        .process
        .memory
        .read_available(vdso.base, &mut elf_bytes);
    elf_bytes.truncate(n);
    let elf = goblin::elf::Elf::parse(&elf_bytes).unwrap();
    let sym = elf
        .dynsyms
        .iter()
        .find(|s| elf.dynstrtab.get_at(s.st_name) == Some("__vdso_clock_gettime"))
        .unwrap();
    let symbolizer = Symbolizer::new(&image.process, &fixture_config());
    let frames = symbolizer.lookup(vdso.base + sym.st_value + 1);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].function.as_deref(), Some("__vdso_clock_gettime"));
    assert_eq!(frames[0].function_offset, Some(1));
    let status = &symbolizer.modules()[index];
    assert_eq!(status.kind, SymbolKind::SymbolTable);
    use ckdump::unwind::CodeInfo;
    assert!(symbolizer.unwind_tables(vdso.base + sym.st_value).is_some());
}

#[test]
fn debuglink_file_with_another_crc_is_rejected() {
    // The right debug file with one byte appended: same build-id, other CRC.
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("debuglink");
    std::fs::create_dir(&sub).unwrap();
    let mut bytes = std::fs::read(root().join("symbols/debuglink/cxx_throw.debug")).unwrap();
    bytes.push(0);
    std::fs::write(sub.join("cxx_throw.debug"), bytes).unwrap();
    let mut config = SymbolConfig::from_dirs(
        vec![dir.path().to_path_buf()],
        Some(root().join("testdata/sysroot")),
    );
    config.use_host = false;
    let image = open(
        &fixture("core.cxx_throw.kernel.zst"),
        &OpenOptions::default(),
    )
    .unwrap();
    let main = image
        .process
        .modules
        .iter()
        .position(|m| m.is_main)
        .unwrap();
    let status = &Symbolizer::new(&image.process, &config).modules()[main];
    assert_eq!(status.debug_file, None);
    // The stripped binary keeps .symtab.
    assert_eq!(status.kind, SymbolKind::SymbolTable);
    assert_eq!(
        status.problem.as_deref(),
        Some(
            format!(
                "{}: CRC differs from the binary's .gnu_debuglink",
                sub.join("cxx_throw.debug").display()
            )
            .as_str()
        )
    );
}

/// An image built by hand, without any reader: one module per file of the
/// NT_FILE table in `eu-readelf -n` output (base = lowest start, size up to
/// the highest end), no build-ids, no load bias (the symbolizer derives it
/// from the binary's first PT_LOAD), no memory.
fn image_from_nt_file(readelf_n: &Path) -> Image {
    let text = std::fs::read_to_string(readelf_n).unwrap();
    let mut modules: Vec<Module> = Vec::new();
    for line in text.lines() {
        // "      5574753b6000-5574753b7000 00000000 4096        /tmp/…/crashme"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, _offset, _size, path] = fields[..] else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        else {
            continue;
        };
        if !path.starts_with('/') {
            continue;
        }
        match modules.iter_mut().find(|m| m.path == path) {
            Some(m) => {
                let top = (m.base + m.size).max(end);
                m.base = m.base.min(start);
                m.size = top - m.base;
            }
            None => modules.push(Module {
                name: path.rsplit('/').next().unwrap().to_string(),
                path: path.to_string(),
                base: start,
                size: end - start,
                build_id: None,
                load_bias: None,
                sources: vec![ModuleSource::FileMappings],
                is_main: modules.is_empty(),
                pe: None,
            }),
        }
    }
    assert!(!modules.is_empty(), "{}: no NT_FILE", readelf_n.display());
    image_with_modules(
        readelf_n,
        ImageFormat::ElfCore,
        Os::Linux,
        Arch::X86_64,
        modules,
    )
}

#[test]
fn hand_built_image_symbolizes_like_eu_stack() {
    // The symbolizer needs only the model: modules from eu-readelf's
    // NT_FILE listing, no reader involved.
    let Some(dir) = linux_cores() else { return };
    let image = image_from_nt_file(&dir.join("reference/core.kernel-sigsegv.eu-readelf-n.txt"));
    assert_eq!(
        image
            .process
            .modules
            .iter()
            .map(|m| (m.name.as_str(), m.base, m.size))
            .collect::<Vec<_>>(),
        [
            ("crashme", 0x5574753b6000, 0x5000),
            ("libc.so.6", 0x7f4483b2e000, 0x1d5000),
            ("ld-linux-x86-64.so.2", 0x7f4483d25000, 0x35000),
        ]
    );
    let mut config = SymbolConfig::from_dirs(vec![dir.join("libs"), dir.clone()], None);
    config.use_host = false;
    check_image_against_eu_stack(
        &image,
        &dir.join("reference/core.kernel-sigsegv.eu-stack.txt"),
        &config,
    );
    let status = Symbolizer::new(&image.process, &config).modules();
    assert_eq!(
        status.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [SymbolKind::Dwarf; 3]
    );
    assert_eq!(status[0].binary, Some(dir.join("crashme")));
    assert_eq!(status[1].binary, Some(dir.join("libs/libc.so.6")));
}

/// Runs objcopy with `args`; false (with a notice) when it is not installed.
fn objcopy(args: &[&Path]) -> bool {
    match std::process::Command::new("objcopy").args(args).status() {
        Ok(status) => {
            assert!(status.success(), "objcopy {args:?}");
            true
        }
        Err(e) => {
            skip(&format!("objcopy unavailable ({e})"));
            false
        }
    }
}

#[test]
fn debug_file_split_by_objcopy_is_found_through_debuglink() {
    let Some(dir) = linux_cores() else { return };
    // crashme split the way distributions do: a stripped binary naming
    // `crashme.debug` and its CRC in .gnu_debuglink, no .build-id tree.
    let tmp = tempfile::tempdir().unwrap();
    let (binary, debug) = (tmp.path().join("crashme"), tmp.path().join("crashme.debug"));
    let original = dir.join("crashme");
    let keep_debug: &Path = "--only-keep-debug".as_ref();
    if !objcopy(&[keep_debug, &original, &debug]) {
        return;
    }
    let link = format!("--add-gnu-debuglink={}", debug.display());
    let strip: &Path = "--strip-debug".as_ref();
    assert!(objcopy(&[strip, link.as_ref(), &original, &binary]));

    let mut image = image_from_nt_file(&dir.join("reference/core.kernel-sigsegv.eu-readelf-n.txt"));
    image.process.modules.truncate(1);
    // `readelf -n crashme`: the binary, its stripped copy and the debug
    // file all carry this build-id.
    image.process.modules[0].build_id = Some("c0deeffdeb886f78e4e650db4ec68ffc3366fa6d".into());
    let mut config = SymbolConfig::from_dirs(vec![tmp.path().to_path_buf()], None);
    config.use_host = false;
    let symbolizer = Symbolizer::new(&image.process, &config);
    let status = &symbolizer.modules()[0];
    assert_eq!(status.binary.as_deref(), Some(binary.as_path()));
    assert_eq!(status.debug_file.as_deref(), Some(debug.as_path()));
    assert_eq!(status.kind, SymbolKind::Dwarf);
    assert_eq!(status.problem, None);

    // Frame #0 of the crashing thread (eu-stack): crash_here at 35:19.
    let frames = symbolizer.lookup(0x5574753b72a0);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].function.as_deref(), Some("crash_here"));
    assert_eq!(
        frames[0].file.as_deref(),
        Some("/tmp/probe-linux/crashme.c")
    );
    assert_eq!((frames[0].line, frames[0].column), (Some(35), Some(19)));
}
