//! Stacks a user can trust: recursion collapsed in the text report (JSON
//! keeps every frame), the walk ending at the outermost frame, `--brief`.
//! A deeply recursive C program is built with `cc`, run under gdb until it
//! crashes, and its core written with gdb's `gcore`; gdb's own backtrace
//! and `info symbol` are the reference.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::process::Command;

use common::{ckdump, inspect_json, physical_functions};

/// crash_here recurses DEPTH times, then writes through a bad pointer; the
/// addition after the call keeps each call a real call (no tail call).
const PROGRAM: &str = r#"
#include <stdlib.h>
__attribute__((noinline)) int crash_here(int depth) {
    if (depth == 0) {
        volatile int *bad = (volatile int *)0x10;
        return *bad;
    }
    int r = crash_here(depth - 1);
    return r + depth;
}
int main(int argc, char **argv) {
    return crash_here(argc > 1 ? atoi(argv[1]) : 1);
}
"#;

/// Recursive calls below frame 0: #1..#DEPTH return into crash_here.
const DEPTH: usize = 238;

struct Fixture {
    _dir: tempfile::TempDir,
    core: std::path::PathBuf,
    /// gdb's backtrace, one function name per frame (to main).
    gdb_functions: Vec<String>,
    /// gdb: `info symbol` of frame 1's pc, e.g. "crash_here + 30".
    frame1_symbol: String,
}

fn fixture() -> Option<Fixture> {
    common::require_tool("cc")?;
    common::require_tool("gdb")?;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("recurse.c");
    let binary = dir.path().join("recurse");
    std::fs::write(&source, PROGRAM).unwrap();
    let built = Command::new("cc")
        .args(["-O0", "-g", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap();
    assert!(built.success(), "cc failed");
    let core = dir.path().join("recurse.core");
    let gdb = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "run", "-ex"])
        .arg(format!("gcore {}", core.display()))
        .args(["-ex", "thread apply all bt", "-ex", "frame 1"])
        .args(["-ex", "info symbol $pc", "--args"])
        .arg(&binary)
        .arg(DEPTH.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gdb.stdout).into_owned();
    if !core.exists() {
        // gdb could not run the program (no ptrace here): say so, fail in CI.
        common::skip(&format!(
            "gdb could not run a program to take a core: {}",
            String::from_utf8_lossy(&gdb.stderr)
        ));
        return None;
    }
    let trace = common::parse_gdb_bt(&text);
    let mut gdb_functions = trace.into_iter().next().map(|(_, f)| f).unwrap_or_default();
    // `frame 1` prints that frame again after the backtrace.
    if let Some(main) = gdb_functions.iter().position(|f| f == "main") {
        gdb_functions.truncate(main + 1);
    }
    let frame1_symbol = text
        .lines()
        .find(|l| l.starts_with("crash_here + "))
        .and_then(|l| l.split(" in section").next())
        .expect("gdb's info symbol for frame 1")
        .to_string();
    Some(Fixture {
        _dir: dir,
        core,
        gdb_functions,
        frame1_symbol,
    })
}

#[test]
fn recursion_is_collapsed_in_text_and_kept_in_json() {
    let Some(f) = fixture() else { return };
    // gdb's backtrace: crash_here DEPTH + 1 times, then main.
    assert_eq!(f.gdb_functions.len(), DEPTH + 2, "{:?}", f.gdb_functions);
    assert!(f.gdb_functions[..=DEPTH].iter().all(|n| n == "crash_here"));
    assert_eq!(f.gdb_functions[DEPTH + 1], "main");
    let offset: u64 = f
        .frame1_symbol
        .strip_prefix("crash_here + ")
        .unwrap()
        .parse()
        .unwrap();

    // JSON keeps every frame: gdb's, then libc's start code to _start.
    let report = inspect_json(&f.core, &[]);
    let crashed = report["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["crashed"] == true)
        .unwrap();
    let functions = physical_functions(crashed);
    assert_eq!(functions[..DEPTH + 2], f.gdb_functions[..]);
    assert_eq!(functions.last().map(String::as_str), Some("_start"));
    assert_eq!(crashed["dropped_scanned_frames"], 0);

    // Text: one line for frames #1..#DEPTH.
    let out = ckdump(&["inspect", f.core.to_str().unwrap(), "-q"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let collapsed: Vec<&str> = text.lines().filter(|l| l.contains("repeats")).collect();
    assert_eq!(collapsed.len(), 1, "{text}");
    let line = collapsed[0];
    assert!(
        line.starts_with(&format!("  #1\u{2013}#{DEPTH} 0x")),
        "{line}"
    );
    assert!(
        line.contains(&format!("recurse!crash_here+{offset:#x} ")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("(repeats {DEPTH} times)")),
        "{line}"
    );
    // Frame 0 (the crash site) and main stay lines of their own.
    assert!(text.contains("  #0  0x"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("  #{} 0x", DEPTH + 1)) && l.contains("!main+")),
        "{text}"
    );

    // --brief: the crash in one line, then the crashing thread's frames.
    let out = ckdump(&["inspect", f.core.to_str().unwrap(), "--brief", "-q"]);
    assert!(out.status.success());
    let brief = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = brief.lines().collect();
    assert!(
        lines[0].starts_with("SIGSEGV / SEGV_MAPERR at 0x10 (read) in thread "),
        "{brief}"
    );
    assert!(lines[0].contains(" at recurse!crash_here+"), "{brief}");
    assert!(lines[0].contains("(recurse.c:6"), "{brief}");
    // #0, the collapsed run, main, the libc start frames and _start.
    assert_eq!(lines.len() - 1, functions.len() - DEPTH + 1, "{brief}");
    assert!(lines[2].ends_with(&format!("(repeats {DEPTH} times)")));
    assert!(lines.last().unwrap().contains("!_start+"), "{brief}");
    assert!(!brief.contains("Registers"), "{brief}");

    // --brief is a text layout.
    let out = ckdump(&["inspect", f.core.to_str().unwrap(), "--brief", "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--brief is a text layout"));
}

/// The physical frames' pcs (`0x…` strings) and how each was found.
fn pcs(thread: &serde_json::Value) -> Vec<(String, String)> {
    thread["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["inlined"] != true)
        .map(|f| {
            (
                f["pc"].as_str().unwrap().to_string(),
                f["found_by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An i386 static program without its binary at hand (an empty sysroot):
/// the frame-pointer chain gives eu-stack's first seven frames; what stack
/// scanning finds below them is not eu-stack's next frame, so it is
/// dropped and counted, and `--scan-all` brings it back labelled `scan`.
#[test]
fn scanned_frames_below_the_last_trusted_one_are_dropped() {
    let root = common::root();
    let core = root.join("testdata/cores/core.threads-m32.kernel.zst");
    let empty = tempfile::tempdir().unwrap();
    let sysroot = empty.path().to_str().unwrap();
    let trimmed = inspect_json(&core, &["--sysroot", sysroot]);
    let all = inspect_json(&core, &["--sysroot", sysroot, "--scan-all"]);
    // reference/core.threads-m32.kernel.eu-stack.txt, thread 20374: frames
    // #1 (crash_here, with read_value inlined) to #9 (_start).
    let eu_stack = [
        "0x80498a0",
        "0x80498c4",
        "0x80498c4",
        "0x80498c4",
        "0x80498fb",
        "0x8049aac",
        "0x8049e27",
        "0x804b5c8",
        "0x80495f8",
    ];
    let main = common::thread(&trimmed, 20374);
    let kept = pcs(main);
    assert_eq!(
        kept.iter().map(|(pc, _)| pc.as_str()).collect::<Vec<_>>(),
        eu_stack[..7]
    );
    assert!(kept.iter().all(|(_, how)| how != "scan"), "{kept:?}");
    assert_eq!(main["dropped_scanned_frames"], 8);
    let full = pcs(common::thread(&all, 20374));
    assert_eq!(full.len(), 7 + 8);
    assert_eq!(full[..7], kept[..]);
    assert!(full[7..].iter().all(|(_, how)| how == "scan"));
    assert_ne!(full[7].0, eu_stack[7], "the first scanned frame is junk");
    assert_eq!(common::thread(&all, 20374)["dropped_scanned_frames"], 0);

    let out = ckdump(&[
        "inspect",
        core.to_str().unwrap(),
        "--sysroot",
        sysroot,
        "-q",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("  (8 scanned frames below dropped; --scan-all shows them)\n"),
        "{text}"
    );
    assert!(!text.contains("[scan]"), "{text}");
}

/// With the program's and libc's files, every thread ends exactly where
/// eu-stack's does: `_start` for the main thread, `__clone3` (after
/// `start_thread`) for the workers, with nothing scanned after.
#[test]
fn threads_end_at_start_and_clone3_like_eu_stack() {
    let root = common::root();
    let core = root.join("testdata/cores/core.threads.kernel.zst");
    let report = inspect_json(
        &core,
        &[
            "--sysroot",
            root.join("testdata/sysroot").to_str().unwrap(),
            "--symbols",
            root.join("symbols").to_str().unwrap(),
            "--scan-all",
        ],
    );
    let eu =
        std::fs::read_to_string(root.join("testdata/reference/core.threads.kernel.eu-stack.txt"))
            .unwrap();
    let eu = common::parse_eu_stack(&eu);
    assert_eq!(eu.len(), 4);
    for (tid, want) in &eu {
        let thread = common::thread(&report, *tid);
        let got: Vec<String> = thread["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["function"].as_str().unwrap_or("??").to_string())
            .collect();
        // Even --scan-all finds nothing past the outermost frame.
        assert_eq!(&got, want, "thread {tid}");
        assert_eq!(thread["dropped_scanned_frames"], 0);
        let last = want.last().unwrap().as_str();
        assert!(last == "_start" || last == "__clone3", "{last}");
    }
}
