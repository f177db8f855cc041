//! Renderers on hand-built reports: the text layout pinned by golden files,
//! JSON checked against the committed schemas, SARIF against a subset of the
//! 2.1.0 schema, JUnit parsed back. No image is opened: renderers take plain
//! data, so these tests need no fixtures.
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test report_render`.

use std::path::PathBuf;

use ckdump::model::{AuxvEntry, FloatState, NoteRecord};
use ckdump::render;
use ckdump::render::text::TextOptions;
use ckdump::report::{
    CrashSummary, FrameReport, Hex, ImageSummary, InspectReport, Instruction, ModuleReport,
    RegionReport, RegisterValue, ThreadReport, VerifyReport,
};
use ckdump::symbols::SymbolKind;
use ckdump::unwind::FoundBy;
use ckdump::verify::{self, CHECKS, Finding, Severity};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Compares with a golden file, or rewrites it under UPDATE_GOLDEN=1.
fn assert_golden(name: &str, actual: &str) {
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from line {}:\n--- expected\n{}\n--- actual\n{}\n(run with UPDATE_GOLDEN=1 to accept)",
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

fn image_summary() -> ImageSummary {
    ImageSummary {
        path: "core.threads.kernel.zst".into(),
        format: "elf-core".into(),
        format_name: "ELF core file".into(),
        compression: Some("zstd".into()),
        size: 659_456,
        writer: "Linux kernel".into(),
        os: "Linux".into(),
        os_version: None,
        arch: "x86_64".into(),
        kernel: false,
        cpu: None,
        cpu_count: None,
        pid: Some(20353),
        ppid: Some(20187),
        uid: Some(0),
        gid: Some(0),
        process_name: Some("threads".into()),
        args: Some("/tmp/ckdump-testdata/bin/threads ".into()),
        executable: Some("/tmp/ckdump-testdata/bin/threads".into()),
        timestamp: None,
        thread_count: 2,
        archive: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn frame(
    index: usize,
    pc: u64,
    module: Option<(&str, u64)>,
    function: Option<(&str, u64)>,
    file: Option<(&str, u32, Option<u32>)>,
    inlined: bool,
    found_by: FoundBy,
) -> FrameReport {
    FrameReport {
        index,
        pc: Hex(pc),
        module: module.map(|m| m.0.to_string()),
        module_offset: module.map(|m| Hex(pc - m.1)),
        function: function.map(|f| f.0.to_string()),
        function_offset: function.map(|f| Hex(f.1)),
        file: file.map(|f| f.0.to_string()),
        line: file.map(|f| f.1),
        column: file.and_then(|f| f.2),
        inlined,
        found_by,
        symbol_source: None,
        sp: None,
        stack: None,
        registers: Vec::new(),
    }
}

const EXE: (&str, u64) = ("threads", 0x55c7_43e5_e000);
const LIBC: (&str, u64) = ("libc.so.6", 0x7fcf_90e4_0000);
const LIBSTDCXX: (&str, u64) = ("libstdc++.so.6", 0x7fcf_9100_0000);

fn registers(values: &[(&str, u64)]) -> Vec<RegisterValue> {
    values
        .iter()
        .map(|&(name, value)| RegisterValue {
            name: name.into(),
            value: Hex(value),
        })
        .collect()
}

/// An inspect report shaped like `core.threads.kernel.zst`'s, with the odd
/// cases added: a scanned frame, an unknown function, a pc outside modules.
fn inspect_report() -> InspectReport {
    let src = "/home/dev/ckdump/testdata/src/threads.c";
    let crashed = ThreadReport {
        tid: 20353,
        name: Some("threads".into()),
        crashed: true,
        signal: Some(11),
        frames: vec![
            frame(
                0,
                0x55c7_43e5_f35e,
                Some(EXE),
                Some(("read_value", 0)),
                Some((src, 73, Some(12))),
                true,
                FoundBy::Context,
            ),
            frame(
                0,
                0x55c7_43e5_f35e,
                Some(EXE),
                Some(("crash_here", 0x1c)),
                Some((src, 80, Some(5))),
                false,
                FoundBy::Context,
            ),
            frame(
                1,
                0x55c7_43e5_f384,
                Some(EXE),
                Some(("crash_here", 0x44)),
                Some((src, 82, Some(12))),
                false,
                FoundBy::Cfi,
            ),
            frame(
                2,
                0x7fcf_9109_d919,
                Some(LIBSTDCXX),
                None,
                None,
                false,
                FoundBy::FramePointer,
            ),
            frame(
                3,
                0x7fcf_90e6_724a,
                Some(LIBC),
                Some(("__libc_start_call_main", 0x7a)),
                Some(("../sysdeps/nptl/libc_start_call_main.h", 58, Some(16))),
                false,
                FoundBy::Scan,
            ),
            frame(
                4,
                0x55c7_43e5_f151,
                Some(EXE),
                Some(("_start", 0x21)),
                None,
                false,
                FoundBy::Cfi,
            ),
        ],
        dropped_scanned_frames: 0,
        symbol_notes: Vec::new(),
        registers: registers(&[
            ("rax", 0x10),
            ("rbx", 0x55c7_43e6_0008),
            ("rcx", 0),
            ("rdx", 0),
            ("rsp", 0x7ffd_d6ec_c010),
            ("rip", 0x55c7_43e5_f35e),
            ("fs_base", 0x7fcf_90e3_d740),
            ("orig_rax", u64::MAX),
        ]),
        float: Some(FloatState {
            fcw: Some(0x37f),
            fsw: Some(0),
            ftw: Some(0),
            mxcsr: Some(0x1f80),
            mxcsr_mask: Some(0xffff),
            vector: vec!["0x00000000000000000000000000000000".into()],
            xsave_features: Some(0xa2),
            ..FloatState::default()
        }),
    };
    let worker = ThreadReport {
        tid: 20354,
        name: Some("worker-0".into()),
        crashed: false,
        signal: Some(11),
        frames: vec![
            frame(
                0,
                0x7fcf_90f0_f545,
                Some(LIBC),
                Some(("__GI___clock_nanosleep", 0x65)),
                Some(("clock_nanosleep.c", 48, Some(7))),
                false,
                FoundBy::Context,
            ),
            frame(1, 0xdead_0000, None, None, None, false, FoundBy::Scan),
        ],
        dropped_scanned_frames: 0,
        symbol_notes: Vec::new(),
        registers: registers(&[("rsp", 0x7fcf_90e3_ce60), ("rip", 0x7fcf_90f0_f545)]),
        float: None,
    };
    InspectReport {
        schema: ckdump::report::INSPECT_SCHEMA,
        image: image_summary(),
        crash: Some(CrashSummary {
            kind: "signal".into(),
            code: 11,
            name: "SIGSEGV".into(),
            subcode: Some(1),
            subcode_name: Some("SEGV_MAPERR".into()),
            description: "invalid memory reference: address not mapped to object".into(),
            address: Some(Hex(0x10)),
            access: Some("read".into()),
            thread: Some(20353),
            parameters: vec![],
            sender_pid: None,
            sender_uid: None,
            interrupt_level: Some("process".into()),
            instructions: vec![
                Instruction {
                    address: Hex(0x55c7_43e5_f35a),
                    bytes: "48 8b 45 e8".into(),
                    text: "mov rax, qword ptr [rbp - 0x18]".into(),
                    current: false,
                },
                Instruction {
                    address: Hex(0x55c7_43e5_f35e),
                    bytes: "8b 00".into(),
                    text: "mov eax, dword ptr [rax]".into(),
                    current: true,
                },
            ],
            reasons: Vec::new(),
        }),
        threads: vec![crashed, worker],
        modules: vec![
            ModuleReport {
                name: "threads".into(),
                path: "/tmp/ckdump-testdata/bin/threads".into(),
                base: Hex(EXE.1),
                end: Hex(0x55c7_43e6_3000),
                size: 0x5000,
                build_id: Some("ef4ea17280cefee9d9850ed7430c51485a809748".into()),
                main: true,
                symbols: SymbolKind::Dwarf,
                binary: Some("testdata/bin/threads".into()),
                debug_file: Some(
                    "symbols/.build-id/ef/4ea17280cefee9d9850ed7430c51485a809748.debug".into(),
                ),
                problem: None,
                hint: None,
                pe: None,
            },
            ModuleReport {
                name: "libc.so.6".into(),
                path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into(),
                base: Hex(LIBC.1),
                end: Hex(0x7fcf_9101_5000),
                size: 0x1d_5000,
                build_id: Some("93ac61ec5a8eb1396f9fbd350e3169a558528a40".into()),
                main: false,
                symbols: SymbolKind::SymbolTable,
                binary: Some("/usr/lib/x86_64-linux-gnu/libc.so.6".into()),
                debug_file: None,
                problem: None,
                hint: None,
                pe: None,
            },
            ModuleReport {
                name: "libstdc++.so.6".into(),
                path: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30".into(),
                base: Hex(LIBSTDCXX.1),
                end: Hex(0x7fcf_9122_0000),
                size: 0x22_0000,
                build_id: None,
                main: false,
                symbols: SymbolKind::None,
                binary: None,
                debug_file: None,
                problem: Some(
                    "no file with this name under --sysroot or --symbols; frames show offsets"
                        .into(),
                ),
                hint: None,
                pe: None,
            },
        ],
        regions: Some(vec![
            RegionReport {
                start: Hex(EXE.1),
                end: Hex(0x55c7_43e5_f000),
                size: 0x1000,
                protection: "r--".into(),
                sharing: "private".into(),
                file: Some("/tmp/ckdump-testdata/bin/threads".into()),
                file_offset: Some(Hex(0)),
                capture: "full".into(),
                captured_bytes: 0x1000,
                windows: None,
                linux: None,
                pages: None,
            },
            RegionReport {
                start: Hex(LIBC.1),
                end: Hex(0x7fcf_90e6_6000),
                size: 0x2_6000,
                protection: "r--".into(),
                sharing: "private".into(),
                file: Some("/usr/lib/x86_64-linux-gnu/libc.so.6".into()),
                file_offset: Some(Hex(0)),
                capture: "partial".into(),
                captured_bytes: 4096,
                windows: None,
                linux: None,
                pages: None,
            },
            RegionReport {
                start: Hex(0x7fcf_90e6_6000),
                end: Hex(0x7fcf_90fb_c000),
                size: 0x15_6000,
                protection: "r-x".into(),
                sharing: "private".into(),
                file: Some("/usr/lib/x86_64-linux-gnu/libc.so.6".into()),
                file_offset: Some(Hex(0x2_6000)),
                capture: "absent".into(),
                captured_bytes: 0,
                windows: None,
                linux: None,
                pages: None,
            },
            RegionReport {
                start: Hex(0x7ffd_d6ea_d000),
                end: Hex(0x7ffd_d6ec_e000),
                size: 0x2_1000,
                protection: "rw-".into(),
                sharing: "unknown".into(),
                file: None,
                file_offset: None,
                capture: "full".into(),
                captured_bytes: 0x2_1000,
                windows: None,
                linux: None,
                pages: None,
            },
        ]),
        notes: vec![
            NoteRecord {
                owner: "CORE".into(),
                kind: 1,
                name: Some("NT_PRSTATUS"),
                size: 336,
                offset: 0x3f8,
                description: None,
            },
            NoteRecord {
                owner: "LINUX".into(),
                kind: 0x4711,
                name: None,
                size: 8,
                offset: 0x1a40,
                description: Some("unknown".into()),
            },
        ],
        auxv: vec![
            AuxvEntry {
                key: 33,
                value: 0x7fcf_9103_4000,
            },
            AuxvEntry {
                key: 6,
                value: 4096,
            },
        ],
        streams: vec![],
        annotations: vec![],
        texts: vec![],
        processes: vec![],
        image_files: vec![],
        container: None,
        checkpoint: None,
        kernel: None,
        findings: vec![
            Finding::new(
                &verify::ELF_SEGMENT_ABSENT,
                "3 PT_LOAD segments hold no bytes (1.5 MiB of file-backed memory left out)",
            )
            .at_offset(0x2000)
            .at_address(0x55c7_43e5_f000),
        ],
        other_processes: Vec::new(),
    }
}

fn verify_findings() -> Vec<Finding> {
    vec![
        Finding::new(
            &verify::ELF_SEGMENT_TRUNCATED,
            "PT_LOAD 12 ends at file offset 0xa2000, past the end of the file (0x9f09c bytes) — <cut>",
        )
        .at_offset(0x9e000)
        .at_address(0x7ffd_d6ea_d000),
        Finding::new(
            &verify::MAPPED_FILE_MISSING,
            "/tmp/ckdump-testdata/bin/threads is not on this host",
        )
        .about_path("/tmp/ckdump-testdata/bin/threads"),
        Finding::new(&verify::FAULT_PC, "thread 20353: pc 0x10 is not in any mapping")
            .at_address(0x10),
        Finding::new(&verify::ELF_SEGMENT_ABSENT, "3 PT_LOAD segments hold no bytes")
            .at_offset(0x2000),
    ]
}

fn verify_report() -> VerifyReport {
    verify::report(
        "core & \"cut\".core",
        Some(image_summary()),
        verify_findings(),
        &facts("elf-core"),
    )
}

#[test]
fn inspect_text_matches_golden() {
    let r = inspect_report();
    assert_golden(
        "inspect.golden.txt",
        &render::text::render_inspect(&r, &TextOptions::default()),
    );
    let all = TextOptions {
        show_regions: true,
        show_modules: true,
        show_registers_all_threads: true,
        color: false,
        log_lines: None,
    };
    assert_golden(
        "inspect-all.golden.txt",
        &render::text::render_inspect(&r, &all),
    );
}

#[test]
fn inspect_text_marks_inline_scan_and_unknown_frames() {
    let text = render::text::render_inspect(&inspect_report(), &TextOptions::default());
    let lines: Vec<&str> = text.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
    };
    // The inlined line carries the index, the physical frame's line does not.
    assert!(find("threads!read_value").starts_with("  #0  0x000055c743e5f35e"));
    assert!(find("threads!read_value").ends_with("(inlined)"));
    assert!(find("threads!crash_here+0x1c").starts_with("      0x000055c743e5f35e"));
    assert!(find("threads!crash_here+0x1c").ends_with("[context]"));
    // Long source paths are cut to the file name in text.
    assert!(find("threads!crash_here+0x1c").contains(" threads.c:80:5 "));
    assert!(find("__libc_start_call_main").ends_with("[scan]"));
    assert!(find("  #2  ").contains("libstdc++.so.6+0x9d919"));
    assert!(find("0x00000000dead0000").contains("??"));
    // Only the crashing thread's registers without --thread.
    assert!(text.contains("Registers of thread 20353"));
    assert!(!text.contains("Registers of thread 20354"));
    assert!(!text.contains("Memory regions"));
    // Threads in the order given.
    let crashed = text.find("Thread 20353 \"threads\" (crashed)").unwrap();
    let worker = text.find("Thread 20354 \"worker-0\"").unwrap();
    assert!(crashed < worker);
    // No trailing spaces anywhere.
    for l in &lines {
        assert_eq!(l.trim_end(), *l, "trailing space in {l:?}");
    }
    // Color only when asked for.
    assert!(!text.contains('\x1b'));
    let colored = render::text::render_inspect(
        &inspect_report(),
        &TextOptions {
            color: true,
            ..TextOptions::default()
        },
    );
    assert!(colored.contains("\x1b[1;31mCrash: SIGSEGV"));
}

fn applies_to_elf(c: &ckdump::verify::Check) -> bool {
    c.scope.applies(&facts("elf-core"))
}

#[test]
fn verify_text_matches_golden() {
    let text = render::text::render_verify(&verify_report());
    assert_golden("verify.golden.txt", &text);
    assert!(text.lines().any(|l| l
        == "error   CKD-E1005 segment-in-file  PT_LOAD 12 ends at file offset 0xa2000, past the end of the file (0x9f09c bytes) — <cut> (offset 0x9e000, address 0x7ffdd6ead000)"));
    // Checks for other formats, and the symbols check (no --symbols), do
    // not apply to this ELF core.
    let applicable = CHECKS.iter().filter(|c| applies_to_elf(c)).count();
    assert!(text.ends_with(&format!(
        "1 error, 2 warnings, 1 note; {} of {} checks passed\n",
        applicable - 4,
        applicable
    )));
}

#[test]
fn verify_report_statuses_and_counts() {
    let r = verify_report();
    assert_eq!(r.checks.len(), CHECKS.len());
    assert_eq!(
        (r.counts.errors, r.counts.warnings, r.counts.notes),
        (1, 2, 1)
    );
    let status = |code: &str| {
        let c = r.checks.iter().find(|c| c.code == code).unwrap();
        (c.status, c.findings)
    };
    assert_eq!(status("CKD-E1005"), ("failed", 1));
    assert_eq!(status("CKD-W2006"), ("failed", 1));
    assert_eq!(status("CKD-E2002"), ("passed", 0));
    assert_eq!(status("CKD-E1001"), ("passed", 0));
    assert_eq!(status("CKD-E2001"), ("passed", 0));

    // A format the ELF checks do not cover.
    let r = verify::report("x.dmp", Some(image_summary()), vec![], &facts("minidump"));
    assert_eq!(
        r.checks
            .iter()
            .filter(|c| c.status == "not_applicable")
            .map(|c| c.code)
            .collect::<Vec<_>>(),
        CHECKS
            .iter()
            .filter(|c| !c.scope.applies(&facts("minidump")))
            .map(|c| c.code)
            .collect::<Vec<_>>()
    );
    assert!(r.checks.iter().all(|c| c.status != "failed"));

    // An image that could not be opened: only checks with findings ran.
    let header = Finding::new(&verify::ELF_HEADER, "not an ELF file").at_offset(0);
    let r = verify::report("junk", None, vec![header], &facts("elf-core"));
    for c in &r.checks {
        let want = if c.code == "CKD-E1001" {
            "failed"
        } else {
            "not_applicable"
        };
        assert_eq!(c.status, want, "{}", c.code);
    }
    assert!(
        render::text::render_verify(&r)
            .ends_with("1 error, 0 warnings, 0 notes; 0 of 1 checks passed\n")
    );
}

fn validator(path: PathBuf) -> jsonschema::Validator {
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: does not compile: {e}", path.display()))
}

fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn repo_schema(name: &str) -> jsonschema::Validator {
    validator(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(name),
    )
}

#[test]
fn inspect_json_matches_its_schema() {
    let v = repo_schema("inspect.schema.json");
    let mut r = inspect_report();
    let doc: Value = serde_json::from_str(&render::json::render(&r)).unwrap();
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());
    // JSON keeps the full source path the text shortens.
    assert_eq!(
        doc["threads"][0]["frames"][0]["file"],
        "/home/dev/ckdump/testdata/src/threads.c"
    );
    assert_eq!(doc["threads"][0]["frames"][0]["pc"], "0x55c743e5f35e");
    assert_eq!(doc["notes"][0].get("description"), None);

    // The nullable shapes: no crash, no regions, nothing optional known.
    r.crash = None;
    r.regions = None;
    r.image.compression = None;
    r.image.pid = None;
    r.threads[0].float = None;
    r.threads[0].name = None;
    r.modules[0].build_id = None;
    let doc: Value = serde_json::from_str(&render::json::render(&r)).unwrap();
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());

    // The schema catches drift: an unknown field, an address as a number,
    // upper-case hex.
    for (pointer, bad) in [
        ("/threads/0/frames/0/extra", Value::Bool(true)),
        ("/modules/0/base", Value::from(4096)),
        ("/threads/0/frames/0/pc", Value::from("0xABC")),
        ("/schema", Value::from("ckdump-inspect/1")),
    ] {
        let mut broken = doc.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        broken.pointer_mut(parent).unwrap()[key] = bad;
        assert!(
            !schema_errors(&v, &broken).is_empty(),
            "{pointer} drift not caught"
        );
    }
}

#[test]
fn verify_json_matches_its_schema() {
    let v = repo_schema("verify.schema.json");
    let doc: Value = serde_json::from_str(&render::json::render(&verify_report())).unwrap();
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());
    assert_eq!(doc["schema"], "ckdump-verify/1");
    assert_eq!(doc["findings"][0]["location"]["offset"], 0x9e000);
    assert_eq!(doc["findings"][0]["location"]["address"], "0x7ffdd6ead000");
    assert_eq!(doc["findings"][2]["severity"], "warning");
    // A location only names what it knows.
    assert_eq!(
        doc["findings"][1]["location"],
        serde_json::json!({ "path": "/tmp/ckdump-testdata/bin/threads" })
    );
    let unopened = verify::report(
        "junk",
        None,
        vec![Finding::new(&verify::ELF_HEADER, "not an ELF file")],
        &facts("elf-core"),
    );
    let doc: Value = serde_json::from_str(&render::json::render(&unopened)).unwrap();
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());
    assert_eq!(doc["image"], Value::Null);
}

/// A base directory and the verify report's image inside it.
fn sarif_base() -> render::sarif::ArtifactBase {
    render::sarif::ArtifactBase {
        dir: "/srv/ci/repo".into(),
        image: "/srv/ci/repo/dumps/core & \"cut\".core".into(),
    }
}

#[test]
fn sarif_is_valid_and_lists_every_check() {
    let r = verify_report();
    let doc: Value = serde_json::from_str(&render::sarif::render(&r, &sarif_base())).unwrap();
    let v = validator(data("sarif-2.1.0-subset.schema.json"));
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());

    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(
        doc["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let driver = &doc["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "ckdump");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), CHECKS.len());
    for (rule, check) in rules.iter().zip(CHECKS) {
        assert_eq!(rule["id"], check.code);
        assert_eq!(rule["name"], check.name);
        assert_eq!(rule["shortDescription"]["text"], check.summary);
        assert_eq!(rule["help"]["text"], check.hint);
        assert_eq!(rule["defaultConfiguration"]["level"], check.severity.name());
    }
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    for (result, finding) in results.iter().zip(&r.findings) {
        let i = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], finding.code);
        assert_eq!(result["ruleId"], finding.code);
        assert_eq!(result["level"], finding.severity.name());
        assert_eq!(result["message"]["text"], finding.message.as_str());
        // Relative to the base, percent-encoded.
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"],
            serde_json::json!({ "uri": "dumps/core%20&%20%22cut%22.core", "uriBaseId": "SRCROOT" })
        );
    }
    let run = &doc["runs"][0];
    assert_eq!(
        run["originalUriBaseIds"],
        serde_json::json!({ "SRCROOT": { "uri": "file:///srv/ci/repo/" } })
    );
    assert_eq!(
        run["invocations"],
        serde_json::json!([{ "executionSuccessful": true }])
    );
    // The truncation finding: byte offset in the region, address as a
    // logical location and a property.
    let truncated = &results[0];
    assert_eq!(
        truncated["locations"][0]["physicalLocation"]["region"]["byteOffset"],
        0x9e000
    );
    assert_eq!(truncated["properties"]["address"], "0x7ffdd6ead000");
    assert_eq!(
        truncated["locations"][0]["logicalLocations"][0]["name"],
        "0x7ffdd6ead000"
    );
    // The missing-file finding has no offset: no region.
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"].get("region"),
        None
    );
    // A lowered severity shows in the result, not the rule.
    assert_eq!(results[2]["level"], "warning");

    // Misspelt properties fail the subset schema.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["ruleID"] = Value::from("x");
    assert!(!schema_errors(&v, &broken).is_empty());
}

/// The fingerprints of a SARIF log's results, in order.
fn fingerprints(doc: &Value) -> Vec<String> {
    doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["partialFingerprints"]["ckdumpFinding/v1"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn sarif_fingerprints_follow_the_code_and_location_not_the_message() {
    let render = |findings: Vec<Finding>, base: &render::sarif::ArtifactBase| -> Value {
        let r = verify::report("core", Some(image_summary()), findings, &facts("elf-core"));
        serde_json::from_str(&render::sarif::render(&r, base)).unwrap()
    };
    let first = fingerprints(&render(verify_findings(), &sarif_base()));
    assert_eq!(first.len(), 4);
    for f in &first {
        let (hash, n) = f.split_once(':').unwrap();
        assert_eq!(hash.len(), 32, "{f}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{f}");
        assert_eq!(n, "1");
    }
    let distinct: std::collections::HashSet<&String> = first.iter().collect();
    assert_eq!(distinct.len(), 4);

    // Another checkout of the same repository, and messages whose numbers
    // changed: the same fingerprints.
    let mut changed = verify_findings();
    changed[0].message =
        "PT_LOAD 12 ends at file offset 0xa3000, past the end of the file (0x9e000 bytes)".into();
    changed[3].message = "4 PT_LOAD segments hold no bytes".into();
    let other_checkout = render::sarif::ArtifactBase {
        dir: "/home/runner/work/repo".into(),
        image: "/home/runner/work/repo/dumps/core & \"cut\".core".into(),
    };
    assert_eq!(fingerprints(&render(changed, &other_checkout)), first);

    // What the location names is part of it: another address, another
    // file, another image.
    let mut moved = verify_findings();
    moved[2] = Finding::new(
        &verify::FAULT_PC,
        "thread 20353: pc 0x20 is not in any mapping",
    )
    .at_address(0x20);
    moved[1] = Finding::new(
        &verify::MAPPED_FILE_MISSING,
        "/usr/lib/libc.so.6 is not on this host",
    )
    .about_path("/usr/lib/libc.so.6");
    let got = fingerprints(&render(moved, &sarif_base()));
    assert_eq!(
        (got[0].as_str(), got[3].as_str()),
        (first[0].as_str(), first[3].as_str())
    );
    assert_ne!(got[1], first[1]);
    assert_ne!(got[2], first[2]);
    let elsewhere = render::sarif::ArtifactBase {
        dir: "/srv/ci/repo".into(),
        image: "/srv/ci/repo/dumps/other.core".into(),
    };
    assert_ne!(
        fingerprints(&render(verify_findings(), &elsewhere))[0],
        first[0]
    );

    // The same finding twice at one place: told apart by occurrence.
    let twice = vec![verify_findings().remove(2), verify_findings().remove(2)];
    let got = fingerprints(&render(twice, &sarif_base()));
    assert_eq!(got[0], first[2]);
    assert_eq!(got[1], first[2].replace(":1", ":2"));
}

#[test]
fn sarif_of_an_unreadable_image_is_a_valid_log_of_a_failed_run() {
    let base = render::sarif::ArtifactBase {
        dir: "/srv/ci/repo".into(),
        image: "/tmp/junk.core".into(),
    };
    let doc: Value = serde_json::from_str(&render::sarif::render_unreadable(
        None,
        "/tmp/junk.core: not a core file",
        &base,
    ))
    .unwrap();
    let v = validator(data("sarif-2.1.0-subset.schema.json"));
    assert_eq!(schema_errors(&v, &doc), Vec::<String>::new());
    let run = &doc["runs"][0];
    assert_eq!(run["results"], serde_json::json!([]));
    // Outside the base: an absolute file URI, no base id.
    assert_eq!(
        run["invocations"],
        serde_json::json!([{
            "executionSuccessful": false,
            "exitCode": 2,
            "toolExecutionNotifications": [{
                "level": "error",
                "message": { "text": "/tmp/junk.core: not a core file" },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": "file:///tmp/junk.core" } } }]
            }]
        }])
    );
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len(),
        CHECKS.len()
    );
}

/// Test cases as (name, failure type, skipped, system-out) plus the
/// `tests`/`failures`/`errors` attributes of the suite.
struct JunitDoc {
    cases: Vec<(String, Option<String>, bool, Option<String>)>,
    suite: (usize, usize, usize),
}

fn parse_junit(xml: &str) -> JunitDoc {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.attributes().flatten().find_map(|a| {
            (a.key.as_ref() == name).then(|| {
                a.normalized_value(quick_xml::XmlVersion::default())
                    .unwrap()
                    .into_owned()
            })
        })
    };
    let mut doc = JunitDoc {
        cases: vec![],
        suite: (0, 0, 0),
    };
    let mut stack: Vec<String> = vec![];
    let mut raw_out = String::new();
    let in_system_out = |stack: &[String]| stack.last().map(String::as_str) == Some("system-out");
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (e, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = e {
            let name = e.name().as_ref().to_string();
            match name.as_str() {
                "testsuite" => {
                    let n = |k| attr(&e, k).unwrap().parse().unwrap();
                    doc.suite = (n("tests"), n("failures"), n("errors"));
                }
                "testcase" => doc
                    .cases
                    .push((attr(&e, "name").unwrap(), None, false, None)),
                "failure" => doc.cases.last_mut().unwrap().1 = attr(&e, "type"),
                "skipped" => doc.cases.last_mut().unwrap().2 = true,
                _ => {}
            }
            if !empty {
                stack.push(name);
            }
        }
        match event {
            // Text arrives in pieces split at entity references; keep it
            // escaped and unescape once at the end tag.
            Event::Text(t) if in_system_out(&stack) => raw_out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_system_out(&stack) => {
                raw_out.push_str(&format!("&{};", &*r));
            }
            Event::End(_) if in_system_out(&stack) => {
                let text = quick_xml::escape::unescape(&raw_out).unwrap().into_owned();
                doc.cases.last_mut().unwrap().3 = Some(text);
                raw_out.clear();
                stack.pop();
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    doc
}

#[test]
fn junit_has_one_case_per_check_that_ran() {
    let r = verify_report();
    let xml = render::junit::render(&r, Severity::Error);
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ckdump verify\""
    ));
    assert!(xml.contains("<testsuite name=\"ckdump verify core &amp; &quot;cut&quot;.core\""));
    let doc = parse_junit(&xml);
    // Checks of other formats and CKD-W4001 (needs --symbols) did not
    // run: they are left out, not skipped.
    let ran: Vec<&ckdump::verify::Check> = CHECKS.iter().filter(|c| applies_to_elf(c)).collect();
    assert_eq!(doc.cases.len(), ran.len());
    for (case, check) in doc.cases.iter().zip(&ran) {
        assert_eq!(case.0, format!("{} {}", check.code, check.name));
    }
    assert!(!doc.cases.iter().any(|c| c.2), "no skipped case");
    assert!(!xml.contains("CKD-W4001"), "{xml}");
    let failed: Vec<&str> = doc.cases.iter().filter_map(|c| c.1.as_deref()).collect();
    // Only the error fails at --fail-on error; the lowered pc finding and
    // the others go to system-out.
    assert_eq!(failed, ["CKD-E1005"]);
    assert_eq!(doc.suite, (ran.len(), 1, 0));
    let out = |code: &str| {
        doc.cases
            .iter()
            .find(|c| c.0.starts_with(code))
            .and_then(|c| c.3.clone())
    };
    assert_eq!(
        out("CKD-W2006").as_deref(),
        Some("warning CKD-W2006: thread 20353: pc 0x10 is not in any mapping")
    );
    assert_eq!(
        out("CKD-N1006").as_deref(),
        Some("note CKD-N1006: 3 PT_LOAD segments hold no bytes")
    );

    let xml = render::junit::render(&r, Severity::Warning);
    let doc = parse_junit(&xml);
    let failed: Vec<&str> = doc.cases.iter().filter_map(|c| c.1.as_deref()).collect();
    assert_eq!(failed, ["CKD-E1005", "CKD-W2006", "CKD-W3001"]);
    assert_eq!(doc.suite, (ran.len(), 3, 0));

    // A minidump runs the minidump checks only.
    let r = verify::report("x.dmp", Some(image_summary()), vec![], &facts("minidump"));
    let doc = parse_junit(&render::junit::render(&r, Severity::Error));
    let ran = CHECKS
        .iter()
        .filter(|c| c.scope.applies(&facts("minidump")))
        .count();
    assert!(ran < CHECKS.len() && ran > 0);
    assert_eq!(doc.suite, (ran, 0, 0));
    assert!(!doc.cases.iter().any(|c| c.2));

    // An image that could not be read: one errored case naming the error.
    let xml = render::junit::render_unreadable(
        "junk & co",
        None,
        "junk & co: not a core file",
        Severity::Error,
    );
    let doc = parse_junit(&xml);
    assert_eq!(doc.suite, (1, 0, 1));
    assert_eq!(doc.cases.len(), 1);
    assert_eq!(doc.cases[0].0, "open junk & co");
    assert!(xml.contains("<error message=\"junk &amp; co: not a core file\" type=\"unreadable\">"));
}

/// What a run on an image of this format had (the formats the old
/// string-based call named).
fn facts(format: &str) -> verify::RunFacts {
    verify::RunFacts {
        opened: true,
        elf_core: format == "elf-core",
        minidump: format == "minidump",
        ..Default::default()
    }
}
