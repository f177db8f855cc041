//! Conformance over ../shared/generated/linux-cores: for every core, each
//! thread's function names must equal eu-stack's and gdb's, frame for frame.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::*;

const CORES: &[&str] = &[
    "core.kernel-sigsegv",
    "core.kernel-sigsegv-filter0x3f",
    "core.gdb-generate-core-file",
    "core.gcore-live",
];

/// Names that mean the same address (aliases such as `clone3` / `__clone3`)
/// according to the symbol tables of the files shipped with the cores.
fn aliases(dir: &Path) -> HashMap<String, HashSet<u64>> {
    let mut files = vec![dir.join("crashme"), dir.join("libs/libc.so.6")];
    for sub in std::fs::read_dir(dir.join("libs/.build-id"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            files.push(f.path());
        }
    }
    let mut map: HashMap<String, HashSet<u64>> = HashMap::new();
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let elf = goblin::elf::Elf::parse(&data).unwrap();
        let tag = f.display().to_string();
        for (syms, strs) in [(&elf.syms, &elf.strtab), (&elf.dynsyms, &elf.dynstrtab)] {
            for s in syms.iter() {
                if let Some(name) = strs.get_at(s.st_name)
                    && s.st_value != 0
                {
                    // Key addresses by file so libc and crashme do not mix.
                    let key = (tag.contains("crashme") as u64) << 63 | s.st_value;
                    map.entry(name.to_string()).or_default().insert(key);
                }
            }
        }
    }
    map
}

fn same_function(a: &str, b: &str, aliases: &HashMap<String, HashSet<u64>>) -> bool {
    a == b || matches!((aliases.get(a), aliases.get(b)), (Some(x), Some(y)) if !x.is_disjoint(y))
}

#[test]
fn stacks_match_eu_stack_and_gdb() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-cores");
    let alias = aliases(&dir);
    let libs = dir.join("libs");
    for core in CORES {
        let path = dir.join(format!("{core}.zst"));
        let report = inspect_json(
            &path,
            &[
                "--symbols",
                libs.to_str().unwrap(),
                "--symbols",
                dir.to_str().unwrap(),
            ],
        );

        let eu =
            std::fs::read_to_string(dir.join(format!("reference/{core}.eu-stack.txt"))).unwrap();
        let eu = parse_eu_stack(&eu);
        assert_eq!(eu.len(), 4, "{core}: eu-stack threads");
        assert_eq!(
            report["threads"].as_array().unwrap().len(),
            eu.len(),
            "{core}"
        );
        // eu-stack and gdb disagree on aliases (`__clone3` vs `clone3`), so
        // "equal" means the same name or a symbol-table alias of it.
        for (tid, want) in &eu {
            let got = physical_functions(thread(&report, *tid));
            assert_eq!(
                got.len(),
                want.len(),
                "{core} thread {tid}: {got:?} vs eu-stack {want:?}"
            );
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    same_function(g, w, &alias),
                    "{core} thread {tid} frame {i}: ckdump {g} vs eu-stack {w}"
                );
            }
        }

        let gdb =
            std::fs::read_to_string(dir.join(format!("reference/{core}.gdb-bt.txt"))).unwrap();
        let gdb = parse_gdb_bt(&gdb);
        assert_eq!(gdb.len(), 4, "{core}: gdb threads");
        for (tid, want) in &gdb {
            let got = physical_functions(thread(&report, *tid));
            // gdb stops at main (backtrace past-main off); compare what it shows.
            assert!(
                got.len() >= want.len(),
                "{core} thread {tid}: {got:?} vs gdb {want:?}"
            );
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    same_function(g, w, &alias),
                    "{core} thread {tid} frame {i}: ckdump {g} vs gdb {w}"
                );
            }
        }
    }
}

#[test]
fn source_lines_match_eu_stack() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-cores");
    let libs = dir.join("libs");
    let path = dir.join("core.kernel-sigsegv.zst");
    let report = inspect_json(
        &path,
        &[
            "--symbols",
            libs.to_str().unwrap(),
            "--symbols",
            dir.to_str().unwrap(),
        ],
    );
    let main = thread(&report, 11146);
    let lines: Vec<(String, u64, u64)> = main["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["line"].is_u64())
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // From reference/core.kernel-sigsegv.eu-stack.txt.
    let want = [
        ("/tmp/probe-linux/crashme.c", 35, 19),
        ("/tmp/probe-linux/crashme.c", 37, 12),
        ("/tmp/probe-linux/crashme.c", 37, 12),
        ("/tmp/probe-linux/crashme.c", 37, 12),
        ("/tmp/probe-linux/crashme.c", 42, 12),
        ("/tmp/probe-linux/crashme.c", 52, 12),
        ("../sysdeps/nptl/libc_start_call_main.h", 58, 16),
        ("../csu/libc-start.c", 360, 3),
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|(f, l, c)| (f.to_string(), *l, *c))
        .collect();
    // addr2line joins the unit's directory (`./csu/../sysdeps/…`); eu-stack
    // prints the line table's own name; the path ends the same.
    assert_eq!(lines.len(), want.len(), "{lines:?}");
    for ((gf, gl, gc), (wf, wl, wc)) in lines.iter().zip(&want) {
        assert!(gf.ends_with(wf.as_str()), "{gf} vs {wf}");
        assert_eq!((gl, gc), (wl, wc), "{gf}");
    }
    assert_eq!(main["crashed"], true);
    assert_eq!(report["crash"]["name"], "SIGSEGV");
    assert_eq!(report["crash"]["subcode_name"], "SEGV_MAPERR");
    assert_eq!(report["crash"]["address"], "0x10");
    assert_eq!(report["crash"]["access"], "read");
}
