//! ckdump's stacks against minidump-stackwalk's reference output for the
//! same dumps: every frame's pc and sp, the registers stackwalk lists for
//! it, and the function names (with symbols). Where ckdump deliberately
//! differs, the stackwalk frame is listed below with the reason, so a new
//! difference fails.

mod common;

use std::path::Path;

use serde_json::Value;

use common::*;

/// One frame of minidump-stackwalk's text output.
#[derive(Debug)]
struct StackwalkFrame {
    /// "crash.exe!level2(int) [crash.c : 13 + 0x3f]" or "ntdll.dll + 0x5dca7".
    text: String,
    registers: Vec<(String, u64)>,
    found_by: String,
}

impl StackwalkFrame {
    fn register(&self, names: &[&str]) -> Option<u64> {
        self.registers
            .iter()
            .find(|(n, _)| names.contains(&n.as_str()))
            .map(|r| r.1)
    }
    fn pc(&self) -> u64 {
        self.register(&["rip", "eip", "pc"]).expect("frame pc")
    }
    fn sp(&self) -> Option<u64> {
        self.register(&["rsp", "esp", "sp"])
    }
    /// The function name between `module!` and ` [file : line]` or, for
    /// a PUBLIC symbol, ` + 0xOFFSET`.
    fn function(&self) -> Option<&str> {
        let (_, rest) = self.text.split_once('!')?;
        let name = rest.split(" [").next().unwrap_or(rest);
        Some(name.split(" + 0x").next().unwrap_or(name).trim())
    }
}

/// Threads of a stackwalk report as (tid, frames); old reports without
/// `- tid:` give the thread's index instead. Inline frames (no registers)
/// are dropped: ckdump's inline frames are compared by name elsewhere.
fn parse_stackwalk(text: &str) -> Vec<(u64, bool, Vec<StackwalkFrame>)> {
    let mut threads: Vec<(u64, bool, Vec<StackwalkFrame>)> = Vec::new();
    let mut in_thread = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            let index: u64 = rest.split_whitespace().next().unwrap().parse().unwrap();
            let tid = rest
                .split_once("tid: ")
                .map_or(index, |(_, t)| t.trim().parse().unwrap());
            threads.push((tid, rest.contains("(crashed)"), Vec::new()));
            in_thread = true;
            continue;
        }
        if line.starts_with("Loaded modules") {
            in_thread = false;
        }
        let Some((_, _, frames)) = threads.last_mut().filter(|_| in_thread) else {
            continue;
        };
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent <= 2
            && let Some((number, text)) = trimmed.split_once("  ")
            && number.parse::<u32>().is_ok()
        {
            frames.push(StackwalkFrame {
                text: text.to_string(),
                registers: Vec::new(),
                found_by: String::new(),
            });
            continue;
        }
        let Some(frame) = frames.last_mut() else {
            continue;
        };
        if let Some(how) = trimmed.strip_prefix("Found by: ") {
            frame.found_by = how.to_string();
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        for pair in words.chunks(3) {
            if let [name, "=", value] = pair
                && let Some(hex) = value.strip_prefix("0x")
            {
                frame
                    .registers
                    .push((name.to_string(), u64::from_str_radix(hex, 16).unwrap()));
            }
        }
    }
    for (_, _, frames) in &mut threads {
        frames.retain(|f| !f.registers.is_empty());
    }
    threads
}

fn hex(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// ckdump's physical frames (the outermost line of each).
fn physical_frames(thread: &Value) -> Vec<&Value> {
    let frames = thread["frames"].as_array().unwrap();
    frames
        .iter()
        .filter(|f| f["inlined"].as_bool() != Some(true))
        .collect()
}

/// A stackwalk frame ckdump does not reproduce, and why.
#[derive(Clone)]
struct Skip {
    tid: u64,
    pc: u64,
    sp: u64,
}

struct Case<'a> {
    reference: &'a Path,
    dump: &'a Path,
    symbols: Option<&'a Path>,
    /// Compare function names too (stackwalk had symbols).
    names: bool,
    skips: &'a [Skip],
    /// Stackwalk frames past the one whose function is this are scanning
    /// past the program's entry point, where ckdump (like gdb) stops.
    entry_function: Option<&'a str>,
}

fn check(case: &Case) {
    let label = case.reference.file_name().unwrap().to_string_lossy();
    let text = std::fs::read_to_string(case.reference).unwrap();
    let reference = parse_stackwalk(&text);
    assert!(!reference.is_empty(), "{label}: no threads parsed");
    let mut extra: Vec<&str> = Vec::new();
    if let Some(s) = case.symbols {
        extra = vec!["--symbols", s.to_str().unwrap()];
    }
    // Stackwalk keeps every scanned frame; so does ckdump with --scan-all.
    let default_report = inspect_json(case.dump, &extra);
    extra.push("--scan-all");
    let report = inspect_json(case.dump, &extra);
    trims_only_trailing_scans(&label, &report, &default_report);
    let threads = report["threads"].as_array().unwrap();
    for (thread_number, (tid, crashed, frames)) in reference.iter().enumerate() {
        let thread = threads
            .iter()
            .find(|t| t["tid"].as_u64() == Some(*tid))
            .or_else(|| {
                threads
                    .get(thread_number)
                    .filter(|_| *tid == thread_number as u64)
            })
            .unwrap_or_else(|| panic!("{label}: no thread {tid}"));
        // A dump taken on request (DUMP_REQUESTED) has no crash for ckdump;
        // stackwalk marks the requesting thread as crashed anyway.
        if !report["crash"].is_null() {
            assert_eq!(thread["crashed"].as_bool(), Some(*crashed), "{label} {tid}");
        }
        let mut expected: Vec<&StackwalkFrame> = frames
            .iter()
            .filter(|f| {
                !case
                    .skips
                    .iter()
                    .any(|s| s.tid == *tid && s.pc == f.pc() && Some(s.sp) == f.sp())
            })
            .collect();
        if let Some(entry) = case.entry_function
            && let Some(end) = expected.iter().position(|f| f.function() == Some(entry))
        {
            expected.truncate(end + 1);
        }
        let got = physical_frames(thread);
        assert!(
            got.len() >= expected.len(),
            "{label} thread {tid}: ckdump found {} frames, stackwalk {}",
            got.len(),
            expected.len()
        );
        if case.entry_function.is_some() && *crashed {
            // The walk ends in the entry function itself.
            assert_eq!(got.len(), expected.len(), "{label} thread {tid}");
        }
        for (i, (want, have)) in expected.iter().zip(&got).enumerate() {
            let at = format!("{label} thread {tid} frame {i} ({})", want.text);
            assert_eq!(hex(&have["pc"]), Some(want.pc()), "{at}: pc");
            assert_eq!(hex(&have["sp"]), want.sp(), "{at}: sp");
            // Registers stackwalk recovered must agree where ckdump knows
            // them too.
            for (name, value) in &want.registers {
                let mine = have["registers"].get(name).and_then(hex);
                if let Some(mine) = mine {
                    assert_eq!(mine, *value, "{at}: {name}");
                }
            }
            // Only FUNC records (with a source line) are compared: a
            // PUBLIC name is the nearest exported symbol below the pc, where
            // ckdump may have found the real function in DWARF.
            if case.names
                && want.text.contains(" [")
                && let Some(function) = want.function()
            {
                assert_eq!(have["function"].as_str(), Some(function), "{at}: function");
            }
            // How the frame was found: stackwalk's label, except where
            // ckdump had unwind information stackwalk scanned past.
            let found = have["found_by"].as_str().unwrap();
            let allowed: &[&str] = match want.found_by.as_str() {
                "given as instruction pointer in context" => &["context"],
                "call frame info" | "call frame info with scanning" => &["cfi"],
                "previous frame's frame pointer" => &["frame_pointer", "cfi"],
                "stack scanning" => &["scan", "cfi", "frame_pointer"],
                other => panic!("{at}: unknown trust {other}"),
            };
            assert!(allowed.contains(&found), "{at}: found by {found}");
        }
    }
}

/// Without --scan-all each stack is the --scan-all stack cut after its last
/// frame not found by scanning, and the count of the frames cut is given.
fn trims_only_trailing_scans(label: &str, all: &Value, default: &Value) {
    let all_threads = all["threads"].as_array().unwrap();
    let default_threads = default["threads"].as_array().unwrap();
    assert_eq!(all_threads.len(), default_threads.len(), "{label}");
    for (full, trimmed) in all_threads.iter().zip(default_threads) {
        let tid = full["tid"].as_u64().unwrap();
        assert_eq!(trimmed["tid"].as_u64(), Some(tid), "{label}");
        assert_eq!(full["dropped_scanned_frames"].as_u64(), Some(0), "{label}");
        let physical = physical_frames(full);
        let keep = physical
            .iter()
            .rposition(|f| f["found_by"] != "scan")
            .map_or(physical.len(), |i| i + 1);
        let kept = physical_frames(trimmed);
        assert_eq!(kept.len(), keep, "{label} thread {tid}: frames kept");
        assert_eq!(
            trimmed["dropped_scanned_frames"].as_u64(),
            Some((physical.len() - keep) as u64),
            "{label} thread {tid}: frames dropped"
        );
        for (a, b) in kept.iter().zip(&physical) {
            assert_eq!((&a["pc"], &a["sp"]), (&b["pc"], &b["sp"]), "{label} {tid}");
        }
    }
}

#[test]
fn wine_minidumps_with_symbols_match_stackwalk() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/windows");
    let bin = dir.join("bin");
    let store = dir.join("reference/breakpad-symstore");
    for name in [
        "crash_selfdump_cv",
        "crash_aedebug_cv",
        "mcrash_selfdump_cv",
        "threads_selfdump_cv",
    ] {
        let reference = dir.join(format!("reference/{name}.stackwalk_syms.txt"));
        let dump = dir.join(format!("dumps/{name}.dmp"));
        // mcrash.exe's entry point lies on its stack as a pointer (the
        // CRT start passes it along); it follows no call instruction, so
        // ckdump, which reads the binary's code, does not take it for a
        // return address. Stackwalk had only the .sym and no code.
        let mcrash_skip = [0x11_fe98, 0x11_ffe8].map(|sp| Skip {
            tid: 36,
            pc: 0x1_4000_14d0,
            sp,
        });
        // ckdump straight from the PDB (and the PE beside it) ...
        check(&Case {
            reference: &reference,
            dump: &dump,
            symbols: Some(&bin),
            names: true,
            skips: if name.starts_with("mcrash") {
                &mcrash_skip
            } else {
                &[]
            },
            entry_function: None,
        });
        // ... and from the same .sym files stackwalk used.
        check(&Case {
            reference: &reference,
            dump: &dump,
            symbols: Some(&store),
            names: true,
            skips: &[],
            entry_function: None,
        });
    }
}

#[test]
fn wine_minidumps_without_symbols_recover_stackwalks_frames() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/windows");
    // crash.exe's level1 entry (0x1400010a0) lies on the stack as a
    // pointer; the dump captured the code around it (near the crashing
    // pc), which shows no call before it, so it is no return address.
    let crash_skip = |tid| {
        [0x11_fe98, 0x11_ffe8].map(|sp| Skip {
            tid,
            pc: 0x1_4000_10a0,
            sp,
        })
    };
    for (name, skips) in [
        ("crash_selfdump", crash_skip(304).to_vec()),
        ("crash_aedebug", crash_skip(268).to_vec()),
        ("mcrash_selfdump", Vec::new()),
        ("threads_selfdump", Vec::new()),
    ] {
        check(&Case {
            reference: &dir.join(format!("reference/{name}.stackwalk_nosyms.txt")),
            dump: &dir.join(format!("dumps/{name}.dmp")),
            symbols: None,
            names: false,
            skips: &skips,
            entry_function: None,
        });
    }
}

#[test]
fn linux_minidumps_match_stackwalk() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-minidumps");
    let symbols = dir.join("symbols");
    for name in ["crashme-sigsegv", "crashme-live"] {
        check(&Case {
            reference: &dir.join(format!("reference/{name}.stackwalk.txt")),
            dump: &dir.join(format!("{name}.dmp")),
            symbols: Some(&symbols),
            names: true,
            skips: &[],
            entry_function: Some("_start"),
        });
    }
    let root = root();
    for name in ["crash", "live"] {
        check(&Case {
            reference: &root.join(format!("testdata/minidump/reference/{name}.stackwalk.txt")),
            dump: &root.join(format!("testdata/minidump/{name}.dmp")),
            symbols: Some(&root.join("symbols")),
            names: true,
            skips: &[],
            entry_function: Some("_start"),
        });
    }
}

#[test]
fn breakpad_x86_stack_win_walk_matches_stackwalk() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpus/breakpad");
    check(&Case {
        reference: &dir.join("minidump2.stackwalk.out"),
        dump: &dir.join("minidump2.dmp"),
        symbols: Some(&dir.join("symbols")),
        // Breakpad's run had kernel32's symbols, the corpus does not.
        names: false,
        skips: &[],
        entry_function: None,
    });
    let report = inspect_json(
        &dir.join("minidump2.dmp"),
        &["--symbols", dir.join("symbols").to_str().unwrap()],
    );
    // By default the crashing stack is exactly stackwalk's: four frames
    // (minidump2.stackwalk.machine_readable.out), the last kernel32's
    // BaseProcessStart (0x7c816fd7, found by test_app's STACK WIN), and
    // the 3 scanned frames below it are dropped and counted.
    let crashed = thread(&report, 0xbf4);
    let frames = physical_frames(crashed);
    let functions: Vec<Option<&str>> = frames.iter().map(|f| f["function"].as_str()).collect();
    assert_eq!(
        functions,
        [
            Some("`anonymous namespace'::CrashFunction"),
            Some("main"),
            Some("__tmainCRTStartup"),
            None
        ]
    );
    // Frame 0's own STACK WIN record (CrashFunction: `$T0 $ebp =`, the
    // return address at $ebp + 4) drives the first step, as in stackwalk:
    // frame 1 at esp 0x12fe90, ebp 0x12ff70, "Found by: call frame info".
    assert_eq!(frames[1]["found_by"], "cfi");
    assert_eq!(frames[1]["sp"], "0x12fe90");
    assert_eq!(register(frames[1], "ebp"), 0x12ff70);
    assert_eq!(frames[3]["module"], "kernel32.dll");
    assert_eq!(frames[3]["pc"], "0x7c816fd7");
    assert_eq!(frames[3]["found_by"], "cfi");
    assert_eq!(crashed["dropped_scanned_frames"], 3);
    let text = ckdump(&[
        "inspect",
        dir.join("minidump2.dmp").to_str().unwrap(),
        "--symbols",
        dir.join("symbols").to_str().unwrap(),
        "--brief",
    ]);
    let text = String::from_utf8(text.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "EXCEPTION_ACCESS_VIOLATION at 0x45 (write) in thread 3060 at \
         test_app.exe!`anonymous namespace'::CrashFunction+0xe (c:\\test_app.cc:58)"
    );
    assert_eq!(lines.len(), 6, "{text}");
    // A 32-bit process: 32-bit addresses, as stackwalk and WinDbg print them.
    assert!(
        lines[4].starts_with("  #3  0x7c816fd7  kernel32.dll+0x16fd7"),
        "{text}"
    );
    assert_eq!(
        lines[5],
        "  (3 scanned frames below dropped; --scan-all shows them)"
    );
}

#[test]
fn parser_reads_both_report_styles() {
    let old = " 1  test_app.exe!main [test_app.cc : 65 + 0x5]\n\
                \x20   eip = 0x00404200   esp = 0x0012fe90   ebp = 0x0012ff70\n\
                \x20   Found by: call frame info\n";
    let t = parse_stackwalk(&format!("Thread 0 (crashed)\n{old}Loaded modules:\n"));
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].0, t[0].1), (0, true));
    let f = &t[0].2[0];
    assert_eq!((f.pc(), f.sp()), (0x404200, Some(0x12fe90)));
    assert_eq!(f.function(), Some("main"));
    assert_eq!(f.found_by, "call frame info");
    let new = "Thread 3  (crashed) - tid: 304\n 0  ntdll.dll + 0x5dca7\n     rsp = 0x0000000000000010    rip = 0x0000000000000020\n    Found by: stack scanning\n";
    let t = parse_stackwalk(new);
    assert_eq!(
        (t[0].0, t[0].2[0].pc(), t[0].2[0].function()),
        (304, 0x20, None)
    );
}
