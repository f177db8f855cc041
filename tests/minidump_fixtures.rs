//! The project's own minidumps (testdata/windows: clang + lld-link PE/PDB
//! programs dumped by wine; testdata/minidump: minidump-writer dumps of
//! testdata/src/threads.c), against the values their generators recorded
//! (expected.json) and the PDB / Breakpad symbols under symbols/.

mod common;

use serde_json::Value;

use common::*;

fn expected(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(rel)).unwrap()).unwrap()
}

fn inspect_with_symbols(rel: &str) -> Value {
    let symbols = root().join("symbols");
    inspect_json(&root().join(rel), &["--symbols", symbols.to_str().unwrap()])
}

/// `store_result(batch const*, unsigned long long)` → `store_result`.
fn bare(name: &str) -> &str {
    name.split('(').next().unwrap_or(name)
}

#[test]
fn wine_minidumps_match_winedbg() {
    let exp = expected("testdata/windows/expected.json");
    let programs = exp["programs"].as_object().unwrap();
    assert_eq!(programs.len(), 3);
    for (program, p) in programs {
        for (file, d) in p["dumps"].as_object().unwrap() {
            let r = inspect_with_symbols(&format!("testdata/windows/dumps/{file}"));
            let exc = &d["exception"];
            let code =
                u64::from_str_radix(exc["code"].as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap();
            assert_eq!(r["crash"]["code"], code, "{file}");
            assert_eq!(r["crash"]["thread"], exc["thread_id"], "{file}");
            assert_eq!(
                r["threads"].as_array().unwrap().len(),
                d["threads"].as_array().unwrap().len(),
                "{file}"
            );
            // winedbg's backtrace of the crash: the program's own frames
            // (the first four; after them wine's kernel32/ntdll).
            let want: Vec<&str> = d["winedbg_backtrace"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["function"].as_str().unwrap())
                .take(4)
                .collect();
            let t = thread(&r, exc["thread_id"].as_u64().unwrap());
            let got: Vec<String> = t["frames"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["function"].as_str().map(|n| bare(n).to_string()))
                .collect();
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            // winedbg does not show RaiseException's caller chain inside
            // kernelbase the same way; compare our program's frames.
            let ours: Vec<&str> = want.iter().copied().filter(|w| got.contains(w)).collect();
            assert!(ours.len() >= 3, "{file}: got {got:?}, winedbg {want:?}");
            let start = got.iter().position(|g| *g == ours[0]).unwrap();
            assert_eq!(
                got[start..start + ours.len()],
                ours[..],
                "{file}: {program}"
            );
            assert_eq!(common::main_module(&r)["symbols"], "pdb", "{file}");
        }
    }
}

#[test]
fn pdb_inline_sites_become_inline_frames() {
    let r = inspect_with_symbols("testdata/windows/dumps/winline_selfdump_cv.dmp");
    let t = &r["threads"][0];
    let frames = t["frames"].as_array().unwrap();
    let first: Vec<(&str, u64, bool)> = frames[..3]
        .iter()
        .map(|f| {
            (
                bare(f["function"].as_str().unwrap()),
                f["line"].as_u64().unwrap(),
                f["inlined"].as_bool().unwrap(),
            )
        })
        .collect();
    // winline.c: load_cell (line 17) inlined into checksum_row (23),
    // inlined into scan_table (29); all at the faulting pc.
    assert_eq!(
        first,
        [
            ("load_cell", 17, true),
            ("checksum_row", 23, true),
            ("scan_table", 29, false)
        ]
    );
    assert!(frames[..3].iter().all(|f| f["pc"] == frames[0]["pc"]));
    assert_eq!(bare(frames[3]["function"].as_str().unwrap()), "start");
}

#[test]
fn minidump_writer_dumps_with_breakpad_symbols() {
    let exp = expected("testdata/minidump/expected.json");
    let d = &exp["dumps"]["crash.dmp"];
    let r = inspect_with_symbols("testdata/minidump/crash.dmp");
    assert_eq!(r["crash"]["name"], "SIGSEGV");
    assert_eq!(r["crash"]["subcode_name"], "SEGV_MAPERR");
    assert_eq!(r["crash"]["address"], d["exception"]["address"]);
    assert_eq!(r["crash"]["thread"], d["exception"]["thread_id"]);
    for t in d["threads"].as_array().unwrap() {
        let got = thread(&r, t["id"].as_u64().unwrap());
        assert_eq!(got["name"], t["name"]);
    }
    let crashed = thread(&r, d["exception"]["thread_id"].as_u64().unwrap());
    let names = physical_functions(crashed);
    assert_eq!(
        names[..6],
        [
            "crash_here",
            "crash_here",
            "crash_here",
            "crash_here",
            "do_work",
            "main"
        ]
    );
    // read_value is inlined into crash_here at the crash (dump_syms --inlines).
    assert_eq!(crashed["frames"][0]["function"], "read_value");
    assert_eq!(crashed["frames"][0]["inlined"], true);
    let ptrace = &d["ptrace"];
    assert_eq!(crashed["registers"]["rip"], ptrace["rip"]);

    let live = inspect_with_symbols("testdata/minidump/live.dmp");
    assert!(live["crash"].is_null(), "a live dump is no crash");
}

#[test]
fn no_host_symbols_uses_only_the_given_store() {
    // A store with only the Breakpad files: with --no-host-symbols libc's
    // .sym (PUBLIC records of the stripped library) names its frames,
    // whatever debug files this machine has in /usr/lib/debug.
    let dump = root().join("testdata/minidump/crash.dmp");
    let store = tempfile::tempdir().unwrap();
    for module in ["libc.so.6", "threads"] {
        for id in std::fs::read_dir(root().join("symbols").join(module)).unwrap() {
            let id = id.unwrap().path();
            let leaf = store.path().join(module).join(id.file_name().unwrap());
            std::fs::create_dir_all(&leaf).unwrap();
            let sym = format!("{module}.sym");
            std::fs::copy(id.join(&sym), leaf.join(&sym)).unwrap();
        }
    }
    let r = inspect_json(
        &dump,
        &[
            "--symbols",
            store.path().to_str().unwrap(),
            "--no-host-symbols",
        ],
    );
    let libc = r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "libc.so.6")
        .unwrap();
    assert_eq!(libc["symbols"], "breakpad");
    let crashed = thread(&r, r["crash"]["thread"].as_u64().unwrap());
    let libc_frames: Vec<&str> = crashed["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["module"] == "libc.so.6")
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    // testdata/minidump/reference/crash.stackwalk.txt, frames 7 and 8.
    assert_eq!(libc_frames, ["__libc_init_first", "__libc_start_main"]);
    assert!(
        crashed["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["module"] == "libc.so.6")
            .all(|f| f["line"].is_null())
    );
}
