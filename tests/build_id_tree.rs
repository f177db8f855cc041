//! Build-id trees as distributions lay them out, made in a temporary
//! directory from the fixtures: `/usr/lib/debug/.build-id/xx/rest` (the
//! binary, here an absolute symbolic link that only makes sense inside the
//! sysroot) beside `rest.debug`, and a debug file that kept the unwind
//! tables standing in for a binary that is nowhere. Each core's stacks are
//! checked frame by frame against eu-stack's reference output.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const THREADS_ID: &str = "ef4ea17280cefee9d9850ed7430c51485a809748";
const NOFP_ID: &str = "53858ff2483ae43631e3fb3acc7d501108f5c25e";
/// libc.so.6 and ld-linux-x86-64.so.2 of the cores.
const LIBC_ID: &str = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";
const LD_ID: &str = "7ebc65e52f2bbea498b4040fa92f7238377aaba9";

fn id_path(dir: &Path, id: &str, suffix: &str) -> PathBuf {
    dir.join(".build-id")
        .join(&id[..2])
        .join(format!("{}{suffix}", &id[2..]))
}

/// The fixtures' debug file for `id` (symbols/.build-id/…).
fn debug_file(id: &str) -> PathBuf {
    id_path(&root().join("symbols"), id, ".debug")
}

fn place(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// A sysroot holding only the shared libraries the cores map (at their
/// NT_FILE and link_map paths), not the programs.
fn library_sysroot(root_dir: &Path) {
    let lib = root_dir.join("usr/lib/x86_64-linux-gnu");
    let fixture = root().join("testdata/sysroot/usr/lib/x86_64-linux-gnu");
    for name in ["libc.so.6", "ld-linux-x86-64.so.2"] {
        place(&fixture.join(name), &lib.join(name));
    }
    symlink("usr/lib", root_dir.join("lib")).unwrap();
    std::fs::create_dir_all(root_dir.join("usr/lib64")).unwrap();
    symlink(
        "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        root_dir.join("usr/lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    symlink("usr/lib64", root_dir.join("lib64")).unwrap();
}

fn inspect(core: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--no-host-symbols"];
    all.extend_from_slice(args);
    inspect_json(&root().join(format!("testdata/cores/{core}.zst")), &all)
}

/// Every thread of `report` against `core`'s eu-stack reference.
fn same_as_eu_stack(report: &serde_json::Value, core: &str) -> bool {
    let reference = root().join(format!("testdata/reference/{core}.eu-stack.txt"));
    eu_stack_frames(&reference)
        .iter()
        .all(|(tid, want)| report_frames(report, *tid) == *want)
}

use common::main_module;

#[test]
fn binary_and_debug_file_from_the_sysroots_build_id_tree() {
    let tree = tempfile::tempdir().unwrap();
    let sysroot = tree.path();
    library_sysroot(sysroot);
    // The program is installed elsewhere than the path it ran from; the
    // build-id link names it as the machine saw it (absolute).
    place(
        &root().join("testdata/bin/threads"),
        &sysroot.join("opt/threads/bin/threads"),
    );
    let debug = sysroot.join("usr/lib/debug");
    let link = id_path(&debug, THREADS_ID, "");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    symlink("/opt/threads/bin/threads", &link).unwrap();
    for id in [THREADS_ID, LIBC_ID, LD_ID] {
        place(&debug_file(id), &id_path(&debug, id, ".debug"));
    }
    let report = inspect("core.threads.kernel", &["--sysroot", p(sysroot)]);
    assert_eq!(
        main_module(&report)["binary"].as_str().map(PathBuf::from),
        Some(sysroot.join("opt/threads/bin/threads"))
    );
    assert_eq!(
        main_module(&report)["debug_file"]
            .as_str()
            .map(PathBuf::from),
        Some(id_path(&debug, THREADS_ID, ".debug"))
    );
    assert!(same_as_eu_stack(&report, "core.threads.kernel"));
    // The crashing thread, as eu-stack and gdb print it.
    let crashed: Vec<String> = report_frames(&report, 20353)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        crashed,
        [
            "read_value",
            "crash_here",
            "crash_here",
            "crash_here",
            "crash_here",
            "do_work",
            "main",
            "__libc_start_call_main",
            "__libc_start_main_impl",
            "_start"
        ]
    );
}

/// `eu-unstrip`: the binary and its debug file joined back into one file,
/// the unstripped build some build systems file as `rest.debug`.
fn unstrip(binary: &Path, debug: &Path, out: &Path) -> bool {
    let status = Command::new("eu-unstrip")
        .arg("-o")
        .arg(out)
        .arg(binary)
        .arg(debug)
        .status()
        .expect("run eu-unstrip");
    status.success()
}

#[test]
fn a_debug_file_with_unwind_tables_serves_when_the_binary_is_absent() {
    if require_tool("eu-unstrip").is_none() {
        return;
    }
    let tree = tempfile::tempdir().unwrap();
    let sysroot = tree.path().join("root");
    library_sysroot(&sysroot);
    let symbols = tree.path().join("symbols");
    for id in [LIBC_ID, LD_ID] {
        place(&debug_file(id), &id_path(&symbols, id, ".debug"));
    }
    // nofp is built -fomit-frame-pointer: without its CFI the walk loses
    // frames. The usual debug file (objcopy --only-keep-debug) has an
    // empty .eh_frame (NOBITS), so that is what happens with it alone.
    let nofp_debug = id_path(&symbols, NOFP_ID, ".debug");
    place(&debug_file(NOFP_ID), &nofp_debug);
    let args = ["--sysroot", p(&sysroot), "--symbols", p(&symbols)];
    let report = inspect("core.nofp.kernel", &args);
    assert_eq!(main_module(&report)["binary"], serde_json::Value::Null);
    let names: Vec<String> = report_frames(&report, 20389)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_ne!(names[..3], ["nofp_leaf", "nofp_mid", "nofp_top"]);
    assert!(!same_as_eu_stack(&report, "core.nofp.kernel"));

    // The unstripped build as the debug file: its .eh_frame has bytes and
    // the stack is eu-stack's (which read the binary itself).
    std::fs::remove_file(&nofp_debug).unwrap();
    assert!(unstrip(
        &root().join("testdata/bin/nofp"),
        &debug_file(NOFP_ID),
        &nofp_debug
    ));
    let report = inspect("core.nofp.kernel", &args);
    assert_eq!(main_module(&report)["binary"], serde_json::Value::Null);
    assert_eq!(
        main_module(&report)["debug_file"]
            .as_str()
            .map(PathBuf::from),
        Some(nofp_debug.clone())
    );
    assert!(same_as_eu_stack(&report, "core.nofp.kernel"));
    assert_eq!(
        report_frames(&report, 20389)[..4],
        [
            ("nofp_leaf".into(), "nofp.c".into(), 22, Some(12)),
            ("nofp_mid".into(), "nofp.c".into(), 28, Some(13)),
            ("nofp_top".into(), "nofp.c".into(), 36, Some(13)),
            ("main".into(), "nofp.c".into(), 46, Some(13)),
        ]
    );
}
