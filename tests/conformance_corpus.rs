//! Conformance over ../shared/corpus: the ELF cores other projects ship,
//! with the values their own tests assert (corpus/MANIFEST.md).

mod common;

use serde_json::Value;

use common::*;

fn corpus(rel: &str) -> Option<Value> {
    let path = shared()?.join("corpus").join(rel);
    // Compressed cores (.bz2) are opened directly: detection is by magic.
    Some(inspect_json(&path, &["--regions"]))
}

fn region_capture(report: &Value, addr: u64) -> String {
    report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| hex_u64(&r["start"]) <= addr && addr < hex_u64(&r["end"]))
        .map(|r| r["capture"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "unmapped".into())
}

#[test]
fn lldb_elf_cores() {
    let Some(r) = corpus("lldb/elf-core/linux-x86_64.core") else {
        return;
    };
    assert_eq!(r["image"]["pid"], 32259);
    assert_eq!(r["threads"].as_array().unwrap().len(), 1);
    assert_eq!(r["threads"][0]["name"], "a.out");
    assert_eq!(r["regions"].as_array().unwrap().len(), 5);

    let r = corpus("lldb/elf-core/linux-i386.core").unwrap();
    assert_eq!(r["image"]["pid"], 32306);
    assert_eq!(r["image"]["arch"], "i386");
    assert_eq!(r["regions"].as_array().unwrap().len(), 4);

    let r = corpus("lldb/elf-core/altmain.core").unwrap();
    assert_eq!(r["image"]["pid"], 32259);
    assert_eq!(r["threads"].as_array().unwrap().len(), 1);
}

#[test]
fn lldb_fpu_state() {
    for (rel, fip) in [
        ("lldb/elf-core/linux-fpr_sse_x86_64.core", 0x0040011e_u64),
        ("lldb/elf-core/linux-fpr_sse_i386.core", 0x080480cc),
    ] {
        let Some(r) = corpus(rel) else { return };
        let fp = &r["threads"][0]["float"];
        assert_eq!(fp["fcw"], 0x037f, "{rel}");
        assert_eq!(fp["ftw"], 0x00ff, "{rel}");
        assert_eq!(fp["mxcsr"], 0x1f80, "{rel}");
        assert_eq!(fp["fip"], fip, "{rel}");
    }
}

#[test]
fn lldb_thread_crash_and_gcore() {
    for (rel, pid, tid, text) in [
        (
            "lldb/elf-core/thread_crash/linux-x86_64.core",
            5222,
            5250,
            0x400000_u64,
        ),
        (
            "lldb/elf-core/thread_crash/linux-i386.core",
            5193,
            5195,
            0x8048000,
        ),
    ] {
        let Some(r) = corpus(rel) else { return };
        assert_eq!(r["image"]["pid"], pid, "{rel}");
        assert_eq!(r["threads"].as_array().unwrap().len(), 3, "{rel}");
        assert_eq!(r["crash"]["thread"], tid, "{rel}");
        assert_eq!(r["crash"]["name"], "SIGILL", "{rel}");
        assert_eq!(r["threads"][0]["tid"], tid, "{rel}: crashing thread first");
        assert_ne!(
            region_capture(&r, text),
            "full",
            "{rel}: {text:#x} must not be readable"
        );
    }
    for (rel, pid) in [
        ("lldb/elf-core/gcore/linux-x86_64.core", 5669),
        ("lldb/elf-core/gcore/linux-i386.core", 5586),
    ] {
        let Some(r) = corpus(rel) else { return };
        assert_eq!(r["image"]["pid"], pid, "{rel}");
        assert_eq!(r["image"]["writer"], "gdb gcore (live process)", "{rel}");
        let threads = r["threads"].as_array().unwrap();
        assert_eq!(threads.len(), 3, "{rel}");
        assert!(
            threads.iter().all(|t| t["signal"] == 19),
            "{rel}: all SIGSTOP"
        );
        assert!(r["crash"].is_null(), "{rel}: a live gcore is no crash");
    }
}

#[test]
fn elfutils_cores() {
    let Some(r) = corpus("elfutils/testfile_aarch64_core.bz2") else {
        return;
    };
    assert_eq!(r["image"]["compression"], "bzip2");
    assert_eq!(r["image"]["arch"], "aarch64");
    assert_eq!(r["image"]["pid"], 16547);
    assert_eq!(r["crash"]["name"], "SIGSEGV");
    assert_eq!(r["crash"]["subcode"], 1);
    assert_eq!(r["crash"]["address"], "0x12345678");
    let t = &r["threads"][0];
    assert_eq!(register(t, "pc"), 0x400548);
    assert_eq!(register(t, "sp"), 0x7fc035c6a0);
    let pagesz = r["auxv"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == 6)
        .unwrap();
    assert_eq!(pagesz["value"], 65536);
    let nt_file = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "NT_FILE")
        .unwrap();
    assert!(
        nt_file["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("6 "),
        "{nt_file}"
    );

    let r = corpus("elfutils/testfile_i686_core.bz2").unwrap();
    assert_eq!(r["image"]["pid"], 27395);
    assert_eq!(r["crash"]["name"], "SIGSEGV");
    assert_eq!(r["crash"]["address"], "0x12345678");

    for rel in [
        "elfutils/backtrace.x86_64.core.bz2",
        "elfutils/backtrace.i386.core.bz2",
    ] {
        let r = corpus(rel).unwrap();
        assert_eq!(r["threads"].as_array().unwrap().len(), 2, "{rel}");
    }
}
