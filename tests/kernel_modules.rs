//! Loaded kernel modules named from their `.ko` debug files, on our own
//! kernel dumps (testdata/kernel: Debian 6.1 and 6.12 guests whose module
//! `ckdump_panic` panicked in process, softirq, hardirq context and with
//! an oops), with NO vmlinux: the kernel's own frames come from kallsyms,
//! the module's from its .ko given with --symbols.
//!
//! The oracle is drgn 0.3.0 with the vmlinux and the .ko
//! (testdata/kernel/reference/*/drgn-ko.txt, made by
//! reference/drgn-ko-probe.py; the command is in its header): the module's
//! build-id and section addresses as drgn read them from the dump, the
//! crashed thread's module frames with file:line:column, and
//! `source_location` of every byte of the module's `.text` and `.exit.text`
//! with its inline chain. Hostile .ko files (another build, truncated,
//! relocations out of range) are refused or survived, never trusted.

mod common;

use std::path::{Path, PathBuf};

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::kernel::kallsyms::KernelSymbols;
use ckdump::kernel::module_debug::{KoMatch, ModuleDebugFiles};
use ckdump::kernel::modules::{KernelModule, ModuleLayout, ModuleSection, read_modules};
use ckdump::kernel::symbol_source::KernelSymbolSource;
use ckdump::report::{FrameReport, KernelReport};
use ckdump::symbols::SymbolConfig;
use ckdump::symbols::relocatable::RelocatableObject;

/// (scenario, its .ko) for every dump of our module.
const SCENARIOS: [(&str, &str); 5] = [
    ("process", "ckdump_panic.ko"),
    ("softirq", "ckdump_panic.ko"),
    ("hardirq", "ckdump_panic.ko"),
    ("oops", "ckdump_panic.ko"),
    ("hardirq-6.12", "ckdump_panic-6.12.ko"),
];

fn dump(scenario: &str) -> PathBuf {
    common::root().join(format!("testdata/kernel/dumps/{scenario}.kdump"))
}

fn ko(name: &str) -> PathBuf {
    common::root().join("testdata/kernel/dumps").join(name)
}

/// A symbol search over exactly `paths`, nothing from the host.
fn only(paths: &[&Path]) -> SymbolConfig {
    SymbolConfig {
        use_host: false,
        ..SymbolConfig::from_dirs(paths.iter().map(|p| p.to_path_buf()).collect(), None)
    }
}

/// One drgn-ko.txt, parsed.
struct DrgnKo {
    build_id: String,
    sections: Vec<(String, u64)>,
    /// The crashed thread's module frames: pc, then `name file:line:col`
    /// with ` (inline)` for an inlined one.
    frames: Vec<(u64, String)>,
    /// The code sections swept: name, address, size.
    code: Vec<(String, u64, u64)>,
    /// `source_location` runs: [start, end) and the answer ("-" for none).
    runs: Vec<(u64, u64, String)>,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn drgn_ko(scenario: &str) -> DrgnKo {
    let path = common::root().join(format!("testdata/kernel/reference/{scenario}/drgn-ko.txt"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = DrgnKo {
        build_id: String::new(),
        sections: Vec::new(),
        frames: Vec::new(),
        code: Vec::new(),
        runs: Vec::new(),
    };
    let mut part = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("--- ") {
            part = if name.starts_with("crashed thread") {
                "frames"
            } else {
                "runs"
            };
            continue;
        }
        if let Some(id) = line.strip_prefix("build-id ") {
            out.build_id = id.to_string();
        } else if let Some(rest) = line.strip_prefix("section ") {
            if part.is_empty() {
                let (name, address) = rest.split_once(' ').unwrap();
                out.sections.push((name.to_string(), hex(address.trim())));
            } else {
                // `section NAME ADDRESS size SIZE`
                let words: Vec<&str> = rest.split(' ').collect();
                out.code
                    .push((words[0].to_string(), hex(words[1]), hex(words[3])));
            }
        } else if part == "frames" && line.starts_with('#') {
            let mut words = line.splitn(3, ' ').filter(|w| !w.is_empty());
            let _index = words.next();
            let rest: Vec<&str> = line[line.find("0x").unwrap()..].splitn(2, ' ').collect();
            out.frames.push((hex(rest[0]), rest[1].to_string()));
        } else if part == "runs" && line.starts_with("0x") {
            let mut words = line.splitn(3, ' ');
            let start = hex(words.next().unwrap());
            let end = hex(words.next().unwrap());
            out.runs
                .push((start, end, words.next().unwrap().to_string()));
        }
    }
    assert!(!out.build_id.is_empty() && !out.runs.is_empty() && !out.frames.is_empty());
    assert!(!out.code.is_empty());
    out
}

/// A frame as drgn-ko.txt writes it: `name file:line:column`, an unknown
/// file `?` and an unknown line or column 0.
fn drgn_words(
    function: Option<&str>,
    file: Option<&str>,
    line: Option<u32>,
    column: Option<u32>,
) -> String {
    format!(
        "{} {}:{}:{}",
        function.unwrap_or("?"),
        file.unwrap_or("?"),
        line.unwrap_or(0),
        column.unwrap_or(0)
    )
}

/// The dump's module list read with the library (no vmlinux: kallsyms and
/// BTF from the dump).
fn modules(scenario: &str) -> Vec<KernelModule> {
    let image = common::open(&dump(scenario));
    let memory = &*image.process.memory;
    let info = image
        .details
        .kernel
        .as_ref()
        .unwrap()
        .vmcoreinfo
        .as_ref()
        .unwrap();
    let symbols = KernelSymbols::from_memory(memory, info).unwrap();
    let btf = ckdump::kernel::btf::from_memory(memory, &symbols).unwrap();
    let layout = ModuleLayout::from_btf(&btf).unwrap();
    let list = read_modules(memory, &symbols, &layout);
    assert!(list.problems.is_empty(), "{:?}", list.problems);
    list.modules
}

fn report(scenario: &str, symbols: SymbolConfig) -> (KernelReport, Vec<ckdump::verify::Finding>) {
    let image = ckdump::open(&dump(scenario), &common::no_host_files()).unwrap();
    let options = InspectOptions {
        symbols,
        ..InspectOptions::default()
    };
    let r = inspect(&image, &options);
    (r.kernel.unwrap(), r.findings)
}

/// The panicking CPU's frames in the module.
fn module_frames(k: &KernelReport) -> Vec<&FrameReport> {
    let cpu = k
        .cpus
        .iter()
        .find(|c| Some(c.index) == k.panic_cpu)
        .unwrap();
    cpu.frames
        .iter()
        .filter(|f| f.module.as_deref() == Some("ckdump_panic"))
        .collect()
}

#[test]
fn build_ids_and_section_addresses_are_read_from_memory_as_drgn_reads_them() {
    for (scenario, ko_name) in SCENARIOS {
        let drgn = drgn_ko(scenario);
        let modules = modules(scenario);
        assert_eq!(modules.len(), 1, "{scenario}");
        let m = &modules[0];
        assert_eq!(m.name, "ckdump_panic");
        assert_eq!(
            m.build_id.as_deref(),
            Some(drgn.build_id.as_str()),
            "{scenario}"
        );
        // The .ko each dump's module was loaded from carries that build-id.
        let object = RelocatableObject::open(&ko(ko_name)).unwrap();
        assert_eq!(object.build_id, m.build_id, "{scenario}");
        assert_eq!(object.module_name.as_deref(), Some("ckdump_panic"));
        // Every section drgn placed, at the same address, and no other.
        let mut ours: Vec<(String, u64)> = m
            .sections
            .iter()
            .map(|ModuleSection { name, address }| (name.clone(), *address))
            .collect();
        let mut theirs = drgn.sections.clone();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{scenario}");
    }
}

#[test]
fn crashed_module_frames_get_functions_lines_and_inline_frames_from_the_ko() {
    for (scenario, ko_name) in SCENARIOS {
        let drgn = drgn_ko(scenario);
        let (k, findings) = report(scenario, only(&[&ko(ko_name)]));
        assert!(
            findings.iter().all(|f| !f.code.starts_with("CKD-W702")),
            "{scenario}: {findings:?}"
        );
        // The kernel's own frames: kallsyms (there is no vmlinux).
        assert_eq!(
            k.symbols.source,
            Some(KernelSymbolSource::Kallsyms),
            "{scenario}"
        );
        assert_eq!(k.symbols.modules, "1 of 1 named from their .ko (DWARF)");
        let ours: Vec<(u64, String)> = module_frames(&k)
            .iter()
            .map(|f| {
                assert_eq!(
                    f.symbol_source,
                    Some(KernelSymbolSource::ModuleKo),
                    "{scenario}"
                );
                let words = drgn_words(f.function.as_deref(), f.file.as_deref(), f.line, f.column);
                let inline = if f.inlined { " (inline)" } else { "" };
                (f.pc.0, format!("{words}{inline}"))
            })
            .collect();
        assert_eq!(ours, drgn.frames, "{scenario}");
        // Offsets stay as kallsyms counts them (the return address's).
        let first = module_frames(&k)[0];
        let expected_offset = match scenario {
            "oops" => 0xf,
            _ => 0x20,
        };
        assert_eq!(
            first.function_offset.map(|o| o.0),
            Some(expected_offset),
            "{scenario}"
        );
        let m = &k.modules[0];
        assert_eq!(m.build_id.as_deref(), Some(drgn.build_id.as_str()));
        assert_eq!(m.debug_file.as_deref(), Some(ko(ko_name).to_str().unwrap()));
    }
}

#[test]
fn every_address_of_the_module_code_is_named_as_drgn_names_it() {
    for (scenario, ko_name) in SCENARIOS {
        let drgn = drgn_ko(scenario);
        let modules = modules(scenario);
        let found = ModuleDebugFiles::find(&modules, &only(&[&ko(ko_name)]), None);
        assert!(found.findings.is_empty());
        let debug = found.get(0).unwrap();
        assert_eq!(debug.matched, KoMatch::BuildId);
        let mut checked = 0;
        let mut inlined = 0;
        let mut prefixes = 0;
        let exit_text = drgn
            .code
            .iter()
            .find(|s| s.0 == ".exit.text")
            .map(|s| s.1..s.1 + s.2)
            .unwrap();
        for (start, end, answer) in &drgn.runs {
            for address in *start..*end {
                let frames = found.frames(0, &modules[0], address).unwrap_or_default();
                let ours = if frames.is_empty() {
                    "-".to_string()
                } else {
                    frames
                        .iter()
                        .map(|f| {
                            drgn_words(f.function.as_deref(), f.file.as_deref(), f.line, f.column)
                        })
                        .collect::<Vec<_>>()
                        .join(" | ")
                };
                // drgn names no symbol in .exit.text of 6.12, not even the
                // 16-byte `__pfx_ckdump_exit` padding before ckdump_exit
                // (it does in .text): ckdump names it from the module's
                // kallsyms, as /proc/kallsyms lists it, without a line.
                if answer == "-" && ours.starts_with("__pfx_") {
                    let (start, _, name) = modules[0].function_at(address).unwrap();
                    assert_eq!(ours, format!("{name} ?:0:0"));
                    assert!(address - start < 16 && exit_text.contains(&address));
                    prefixes += 1;
                    continue;
                }
                assert_eq!(&ours, answer, "{scenario} at {address:#x}");
                inlined += usize::from(frames.len() > 1);
                checked += 1u64;
            }
        }
        // .text and .exit.text whole, inline chains among them.
        let names: Vec<&str> = drgn.code.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, [".text", ".exit.text"]);
        assert_eq!(
            checked + prefixes,
            drgn.code.iter().map(|s| s.2).sum::<u64>(),
            "{scenario}"
        );
        assert!(inlined > 50, "{scenario}: {inlined}");
        assert_eq!(debug.problem(), None);
        let expected_prefixes = if scenario.ends_with("6.12") { 16 } else { 0 };
        assert_eq!(prefixes, expected_prefixes, "{scenario}");
    }
}

#[test]
fn without_a_ko_module_frames_keep_their_kallsyms_names_and_the_report_says_where_it_looked() {
    let (k, findings) = report("process", only(&[]));
    assert!(findings.iter().all(|f| !f.code.starts_with("CKD-W702")));
    let names: Vec<(Option<&str>, Option<u64>, Option<&str>)> = module_frames(&k)
        .iter()
        .map(|f| {
            assert_eq!(f.symbol_source, Some(KernelSymbolSource::Kallsyms));
            (
                f.function.as_deref(),
                f.function_offset.map(|o| o.0),
                f.file.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (Some("ckdump_process_leaf"), Some(0x20), None),
            (Some("ckdump_process_mid"), Some(0xa), None),
            (Some("ckdump_process_top"), Some(0xa), None),
            (Some("ckdump_trigger"), Some(0x8b), None),
            (Some("ckdump_write"), Some(0xc5), None),
        ]
    );
    assert_eq!(
        k.symbols.modules,
        "0 of 1 named from their .ko (DWARF); no .ko found for ckdump_panic, named from their \
         kallsyms (looked in no place: give one with --symbols)"
    );
    assert_eq!(k.modules[0].debug_file, None);
    assert_eq!(
        k.modules[0].build_id.as_deref(),
        Some("fb27aa87dbed1fe5eb56db6a48794c3567ce0c98")
    );
}

#[test]
fn the_cli_shows_build_ids_the_ko_and_source_lines() {
    let out = common::ckdump(&[
        "inspect",
        "testdata/kernel/dumps/process.kdump",
        "--no-host-symbols",
        "--symbols",
        "testdata/kernel/dumps/ckdump_panic.ko",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("  modules  1 of 1 named from their .ko (DWARF)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "build-id fb27aa87dbed1fe5eb56db6a48794c3567ce0c98, DWARF from testdata/kernel/dumps/ckdump_panic.ko\n"
        ),
        "{text}"
    );
    let frame = text
        .lines()
        .find(|l| l.contains("ckdump_panic!ckdump_trigger+0x8b"))
        .unwrap();
    assert!(frame.contains("ckdump_panic.c:147:17"), "{frame}");
    assert!(
        frame.ends_with("[orc] (named by the module's .ko)"),
        "{frame}"
    );

    // Without it: where ckdump looked, once.
    let out = common::ckdump(&["inspect", "testdata/kernel/dumps/process.kdump"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let looked = "no .ko found for ckdump_panic, named from their kallsyms (looked in \
                  /usr/lib/debug/.build-id, /usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64, \
                  /lib/modules/6.1.0-56-cloud-amd64)";
    assert_eq!(text.matches(looked).count(), 1, "{text}");
    assert!(
        text.contains("build-id fb27aa87dbed1fe5eb56db6a48794c3567ce0c98\n"),
        "{text}"
    );

    // JSON: valid, with the module's build-id and .ko.
    let json = common::inspect_json(
        &dump("hardirq"),
        &[
            "--no-host-symbols",
            "--symbols",
            "testdata/kernel/dumps/ckdump_panic.ko",
        ],
    );
    common::assert_valid(
        &common::schema("inspect.schema.json"),
        &json,
        "inspect hardirq",
    );
    let module = &json["kernel"]["modules"][0];
    assert_eq!(
        module["build_id"],
        "fb27aa87dbed1fe5eb56db6a48794c3567ce0c98"
    );
    assert_eq!(
        module["debug_file"],
        "testdata/kernel/dumps/ckdump_panic.ko"
    );
    let frames = json["kernel"]["cpus"][0]["frames"].as_array().unwrap();
    let leaf = frames
        .iter()
        .find(|f| f["function"] == "ckdump_hardirq_leaf")
        .unwrap();
    assert_eq!(leaf["symbol_source"], "module_ko");
    assert_eq!(leaf["file"], "/tmp/ckdump-kernel/module/ckdump_panic.c");
    assert_eq!(
        (leaf["line"].as_u64(), leaf["column"].as_u64()),
        (Some(105), Some(3))
    );
}

#[test]
fn a_ko_is_found_in_directories_by_name_with_dashes_by_build_id_and_compressed() {
    let modules = modules("softirq");
    let bytes = std::fs::read(ko("ckdump_panic.ko")).unwrap();
    let id = "fb27aa87dbed1fe5eb56db6a48794c3567ce0c98";
    // A tree like /lib/modules/RELEASE, the file named with '-'.
    let tree = tempfile::tempdir().unwrap();
    let nested = tree
        .path()
        .join("lib/modules/6.1.0-56-cloud-amd64/extra/misc");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("ckdump-panic.ko"), &bytes).unwrap();
    let found = ModuleDebugFiles::find(&modules, &only(&[tree.path()]), None);
    assert_eq!(found.get(0).unwrap().path, nested.join("ckdump-panic.ko"));
    // The same tree as a sysroot: found under lib/modules/RELEASE.
    let config = SymbolConfig {
        sysroot: Some(tree.path().to_path_buf()),
        use_host: false,
        ..SymbolConfig::default()
    };
    let found = ModuleDebugFiles::find(&modules, &config, Some("6.1.0-56-cloud-amd64"));
    assert_eq!(found.get(0).unwrap().path, nested.join("ckdump-panic.ko"));
    assert!(found.describe(&modules).starts_with("1 of 1"));
    // Another release's tree is not looked in.
    let found = ModuleDebugFiles::find(&modules, &config, Some("6.12.113+deb12-cloud-amd64"));
    assert!(found.get(0).is_none());
    assert!(found.describe(&modules).ends_with(&format!(
        "(looked in {}, {}, {})",
        tree.path().join("usr/lib/debug/.build-id").display(),
        tree.path().join("usr/lib/debug/lib/modules/6.12.113+deb12-cloud-amd64").display(),
        tree.path().join("lib/modules/6.12.113+deb12-cloud-amd64").display(),
    )));
    // A build-id tree, whatever the file is called.
    let store = tempfile::tempdir().unwrap();
    let dir = store.path().join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{}.debug", &id[2..])), &bytes).unwrap();
    let found = ModuleDebugFiles::find(&modules, &only(&[store.path()]), None);
    assert_eq!(found.get(0).unwrap().matched, KoMatch::BuildId);
    // zstd- and xz-compressed modules (as distributions ship them).
    let packed = tempfile::tempdir().unwrap();
    let zst = packed.path().join("ckdump_panic.ko.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let found = ModuleDebugFiles::find(&modules, &only(&[&zst]), None);
    let debug = found.get(0).unwrap();
    assert_eq!(debug.path, zst);
    let leaf = modules[0]
        .functions
        .iter()
        .find(|f| f.2 == "ckdump_softirq_leaf")
        .unwrap()
        .0;
    let frames = found.frames(0, &modules[0], leaf).unwrap();
    // reference/softirq/drgn-ko.txt: 0xffffffffc0580110 (the leaf's entry) is line 78:1.
    assert_eq!(leaf, 0xffffffffc0580110);
    assert_eq!((frames[0].line, frames[0].column), (Some(78), Some(1)));
    assert_eq!(
        frames[0].file.as_deref(),
        Some("/tmp/ckdump-kernel/module/ckdump_panic.c")
    );
}

/// The .ko with its build-id note's descriptor changed by objcopy: the
/// same code, another build as far as anyone can tell.
fn other_build(dir: &Path) -> Option<PathBuf> {
    let objcopy = common::require_tool("objcopy")?;
    let note = dir.join("note.bin");
    // namesz 4, descsz 20, NT_GNU_BUILD_ID, "GNU\0", a different id.
    let mut bytes = Vec::new();
    for word in [4u32, 20, 3] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(b"GNU\0");
    bytes.extend_from_slice(&[0x11; 20]);
    std::fs::write(&note, bytes).unwrap();
    let out = dir.join("ckdump_panic.ko");
    let status = std::process::Command::new(objcopy)
        .arg(format!(
            "--update-section=.note.gnu.build-id={}",
            note.display()
        ))
        .arg(ko("ckdump_panic.ko"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    Some(out)
}

#[test]
fn a_ko_of_another_build_is_refused_once_and_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let Some(altered) = other_build(dir.path()) else {
        return;
    };
    assert_eq!(
        RelocatableObject::open(&altered)
            .unwrap()
            .build_id
            .as_deref(),
        Some("1111111111111111111111111111111111111111")
    );
    // Given twice (as the file and in its directory): one finding.
    let (k, findings) = report("oops", only(&[&altered, dir.path()]));
    let refused: Vec<_> = findings.iter().filter(|f| f.code == "CKD-W7022").collect();
    assert_eq!(refused.len(), 1, "{findings:?}");
    assert_eq!(
        refused[0].message,
        format!(
            "module ckdump_panic .ko {} refused: build-id 1111111111111111111111111111111111111111 \
             differs from the module's fb27aa87dbed1fe5eb56db6a48794c3567ce0c98 in memory",
            altered.display()
        )
    );
    for f in module_frames(&k) {
        assert_eq!(f.symbol_source, Some(KernelSymbolSource::Kallsyms));
        assert_eq!(f.file, None);
    }
    assert_eq!(k.modules[0].debug_file, None);
    // The 6.12 build of the same module, for the 6.1 dump: refused too.
    let (k, findings) = report("hardirq", only(&[&ko("ckdump_panic-6.12.ko")]));
    assert_eq!(findings.iter().filter(|f| f.code == "CKD-W7022").count(), 1);
    assert!(module_frames(&k).iter().all(|f| f.file.is_none()));
    // ... and the right one beside a wrong one wins.
    let (k, findings) = report(
        "hardirq",
        only(&[&ko("ckdump_panic-6.12.ko"), &ko("ckdump_panic.ko")]),
    );
    assert_eq!(findings.iter().filter(|f| f.code == "CKD-W7022").count(), 1);
    assert!(module_frames(&k).iter().all(|f| f.file.is_some()));
}

#[test]
fn truncated_ko_files_are_refused_without_a_panic() {
    let bytes = std::fs::read(ko("ckdump_panic.ko")).unwrap();
    let modules = modules("process");
    let dir = tempfile::tempdir().unwrap();
    // Every length in 4 KiB steps, and a few around the section headers.
    let mut lengths: Vec<usize> = (0..bytes.len()).step_by(4096).collect();
    lengths.extend([bytes.len() - 1, bytes.len() - 64, 0x40, 17]);
    for len in lengths {
        let path = dir.path().join("ckdump_panic.ko");
        std::fs::write(&path, &bytes[..len]).unwrap();
        let found = ModuleDebugFiles::find(&modules, &only(&[&path]), None);
        assert!(found.get(0).is_none(), "{len}");
        assert_eq!(found.findings.len(), 1, "{len}");
        assert_eq!(found.findings[0].code, "CKD-W7022");
    }
}

#[test]
fn relocations_out_of_range_are_skipped_and_counted() {
    use object::{Object, ObjectSection};
    let mut bytes = std::fs::read(ko("ckdump_panic.ko")).unwrap();
    let (rela_offset, rela_size) = {
        let file = object::File::parse(&bytes[..]).unwrap();
        let rela = file.section_by_name(".rela.debug_info").unwrap();
        rela.file_range().unwrap()
    };
    // Elf64_Rela {r_offset, r_info (symbol << 32 | type), r_addend}: every
    // 7th points past the section, every 11th at a symbol that does not
    // exist, every 13th is of a type DWARF never uses (R_X86_64_PC32).
    let count = rela_size as usize / 24;
    let mut damaged = 0;
    for i in 0..count {
        let at = rela_offset as usize + i * 24;
        let info = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        if i % 7 == 0 {
            bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        } else if i % 11 == 0 {
            let bad = (0xff_ffffu64 << 32) | (info & 0xffff_ffff);
            bytes[at + 8..at + 16].copy_from_slice(&bad.to_le_bytes());
        } else if i % 13 == 0 {
            let pc32 = (info & !0xffff_ffff) | 2;
            bytes[at + 8..at + 16].copy_from_slice(&pc32.to_le_bytes());
        } else {
            continue;
        }
        damaged += 1;
    }
    let object = RelocatableObject::parse(ckdump::memory::Bytes::from_vec(bytes)).unwrap();
    let modules = modules("process");
    let placed = object
        .place(&|name| {
            modules[0]
                .sections
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.address)
        })
        .unwrap();
    // The other sections' relocations all applied.
    let intact = RelocatableObject::open(&ko("ckdump_panic.ko"))
        .unwrap()
        .place(&|_| Some(0))
        .unwrap();
    assert_eq!(intact.skipped, 0);
    assert_eq!(placed.skipped, damaged);
    assert_eq!(placed.applied, intact.applied - damaged);
    // Lookups over the damaged DWARF answer or not, without a panic.
    let text = modules[0].text_base;
    for address in text..text + 0x400 {
        let _ = placed.lookup(address, None);
    }
}

#[test]
fn verify_with_symbols_refuses_a_ko_of_another_build() {
    let out = common::ckdump(&[
        "verify",
        "testdata/kernel/dumps/hardirq-6.12.kdump",
        "--symbols",
        "testdata/kernel/dumps/ckdump_panic.ko",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "CKD-W7022")
        .collect();
    assert_eq!(refused.len(), 1, "{json}");
    assert_eq!(
        refused[0]["message"],
        "module ckdump_panic .ko testdata/kernel/dumps/ckdump_panic.ko refused: build-id \
         fb27aa87dbed1fe5eb56db6a48794c3567ce0c98 differs from the module's \
         385753054bc8142afbdf81ba3a70cd8b18cb3865 in memory"
    );
    // The right one: nothing to say.
    let out = common::ckdump(&[
        "verify",
        "testdata/kernel/dumps/hardirq-6.12.kdump",
        "--symbols",
        "testdata/kernel/dumps/ckdump_panic-6.12.ko",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("CKD-W70"), "{text}");
}

/// With the vmlinux too (when the cache has it: tests/kernel_vmlinux.rs
/// fetches it), the kernel's frames come from its DWARF and the module's
/// from the .ko, as drgn's stack trace with both shows them.
#[test]
fn with_the_vmlinux_and_the_ko_every_frame_has_its_line() {
    let cache = match std::env::var_os("CKDUMP_VMLINUX_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => common::root().join("target/kernel-debug"),
    };
    let Some(vmlinux) =
        common::require_path(&cache.join("usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64"))
    else {
        return;
    };
    let drgn = drgn_ko("process");
    let (k, findings) = report("process", only(&[&vmlinux, &ko("ckdump_panic.ko")]));
    assert!(
        findings.iter().all(|f| !f.code.starts_with("CKD-W702")),
        "{findings:?}"
    );
    assert_eq!(k.symbols.source, Some(KernelSymbolSource::Vmlinux));
    assert_eq!(k.symbols.modules, "1 of 1 named from their .ko (DWARF)");
    let module: Vec<(u64, String)> = module_frames(&k)
        .iter()
        .map(|f| {
            assert_eq!(f.symbol_source, Some(KernelSymbolSource::ModuleKo));
            (
                f.pc.0,
                drgn_words(f.function.as_deref(), f.file.as_deref(), f.line, f.column),
            )
        })
        .collect();
    assert_eq!(module, drgn.frames);
    // reference/process/drgn.txt, drgn's stack trace text with both files:
    // the frames around the module's.
    let cpu = k
        .cpus
        .iter()
        .find(|c| Some(c.index) == k.panic_cpu)
        .unwrap();
    let named: Vec<String> = cpu
        .frames
        .iter()
        .map(|f| drgn_words(f.function.as_deref(), f.file.as_deref(), f.line, f.column))
        .collect();
    let panic = named.iter().position(|n| n.starts_with("panic ")).unwrap();
    assert_eq!(named[panic], "panic kernel/panic.c:358:3");
    assert_eq!(
        named[panic + 6..panic + 8],
        [
            "pde_write fs/proc/inode.c:340:10",
            "proc_reg_write fs/proc/inode.c:352:8"
        ]
    );
}

#[test]
fn without_a_build_id_in_memory_a_ko_is_matched_by_where_its_functions_are() {
    let mut modules = modules("oops");
    modules[0].build_id = None;
    let found = ModuleDebugFiles::find(&modules, &only(&[&ko("ckdump_panic.ko")]), None);
    assert_eq!(found.get(0).unwrap().matched, KoMatch::Symbols);
    assert_eq!(
        found.describe(&modules),
        "1 of 1 named from their .ko (DWARF); no build-id in memory for ckdump_panic: matched \
         by where its functions are"
    );
    let oops = modules[0].text_base + 0xf;
    let frames = found.frames(0, &modules[0], oops).unwrap();
    let names: Vec<String> = frames
        .iter()
        .map(|f| drgn_words(f.function.as_deref(), f.file.as_deref(), f.line, f.column))
        .collect();
    // reference/oops/drgn-ko.txt, frame #0.
    assert_eq!(
        names,
        ["ckdump_oops_leaf /tmp/ckdump-kernel/module/ckdump_panic.c:130:11"]
    );
    // The 6.12 build puts its functions elsewhere (padding before each).
    let found = ModuleDebugFiles::find(&modules, &only(&[&ko("ckdump_panic-6.12.ko")]), None);
    assert!(found.get(0).is_none());
    assert_eq!(found.findings.len(), 1);
    assert!(
        found.findings[0]
            .message
            .ends_with("refused: the module's build-id cannot be read and 13 of its 13 functions named in kallsyms sit elsewhere in memory"),
        "{}",
        found.findings[0].message
    );
}
