//! `ckdump diff` on the real fixtures: the incremental CRIU dump against
//! its parent, a checkpoint against itself and its archive, two cores and
//! two minidumps of one program, and checkpoints patched by hand.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::*;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `ckdump diff A B --format json`: exit code and document (validated
/// against schema/diff.schema.json).
fn diff(a: &Path, b: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["diff", p(a), p(b), "--format", "json"];
    args.extend_from_slice(extra);
    let out = ckdump(&args);
    let code = out.status.code().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON (exit {code}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = std::fs::read_to_string(root().join("schema/diff.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "diff JSON does not match its schema: {errors:?}"
    );
    (code, doc)
}

fn images() -> PathBuf {
    root().join("testdata/criu/images")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// (page, differing bytes, first difference) of every listed differing page.
fn differing_pages(doc: &Value) -> Vec<(String, u64, String)> {
    doc["pages"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["first_differing"].as_array().unwrap().iter())
        .map(|c| {
            (
                c["page"].as_str().unwrap().to_string(),
                c["differing_bytes"].as_u64().unwrap(),
                c["first_difference"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn read_image(path: &Path, address: u64, len: usize) -> Vec<u8> {
    let img = ckdump::open(path, &ckdump::OpenOptions::default()).unwrap();
    let mut buf = vec![0u8; len];
    img.memory.read_exact(address, &mut buf).unwrap();
    buf
}

/// static-incr was dumped about a second after static, from the same
/// process (testdata/criu/src/static.c): tick_loop ran six more times.
#[test]
fn incremental_dump_against_its_parent() {
    let (a, b) = (images().join("static"), images().join("static-incr"));
    let (code, doc) = diff(&a, &b, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["identical"], false);
    assert_eq!(doc["a"]["pid"], 135);
    assert_eq!(doc["b"]["pid"], 135);
    assert_eq!(doc["process"], serde_json::json!([]));
    // One thread, the same tid; both dumps stopped it in the same place
    // (clock_nanosleep, same rip/rsp/rbp). Only r8 and r9 differ: they are
    // left over from snprintf(g_status, …, "tick %lu") — r8 the length of
    // the text (6 for "tick 5", 7 for "tick 11"), r9 where the digits
    // start in vfprintf's conversion buffer on the stack (one byte lower
    // for two digits).
    let t = &doc["threads"];
    assert_eq!(t["paired_by"], "tid");
    assert_eq!(t["unchanged"], 0);
    assert_eq!(
        t["changed"],
        serde_json::json!([{
            "tid_a": 135, "tid_b": 135, "name": "static", "attributes": [],
            "registers": [
                {"name": "r8", "a": "0x6", "b": "0x7"},
                {"name": "r9", "a": "0x7ffc935a0a07", "b": "0x7ffc935a0a06"}
            ],
            "float": []
        }])
    );
    // The same mappings and the same executable.
    assert_eq!(doc["regions"]["added"], serde_json::json!([]));
    assert_eq!(doc["regions"]["removed"], serde_json::json!([]));
    assert_eq!(doc["regions"]["changed"], serde_json::json!([]));
    assert_eq!(doc["modules"]["changed"], serde_json::json!([]));
    // Memory: static-incr holds 5 pages itself and the rest through its
    // parent, so both sides hold the same 17 pages; 4 differ:
    let pages = &doc["pages"];
    assert_eq!(pages["method"], "captured-ranges");
    assert_eq!(
        (
            &pages["compared"],
            &pages["identical"],
            &pages["differing"],
            &pages["only_in_a"],
            &pages["only_in_b"]
        ),
        (&17.into(), &13.into(), &4.into(), &0.into(), &0.into())
    );
    assert_eq!(
        differing_pages(&doc),
        vec![
            // g_status (.data, 0x4a50e0): "tick 5\0c" -> "tick 11\0".
            ("0x4a5000".to_string(), 3, "0x4a50e5".to_string()),
            // g_ticks (.bss, 0x4a7330): 5 -> 11.
            ("0x4a7000".to_string(), 1, "0x4a7330".to_string()),
            // Static glibc's TLS block at the start of the heap (fs_base
            // 0x2e5a5380): fs_base-0x48 went 0 -> 4, EINTR in errno (the
            // first dump interrupted a nanosleep).
            ("0x2e5a5000".to_string(), 1, "0x2e5a5338".to_string()),
            // The stack below tick_loop's frame: snprintf's scratch,
            // including the digits "5" -> "11" at 0x7ffc935a0a06.
            (
                "0x7ffc935a0000".to_string(),
                8,
                "0x7ffc935a0510".to_string()
            ),
        ]
    );
    // The values themselves, as the program's own output recorded them
    // (expected.json: g_ticks 5 and 11, g_status "tick 5" and "tick 11").
    assert_eq!(read_image(&a, 0x4a7330, 8), 5u64.to_le_bytes());
    assert_eq!(read_image(&b, 0x4a7330, 8), 11u64.to_le_bytes());
    assert_eq!(read_image(&a, 0x4a50e0, 8), b"tick 5\0c");
    assert_eq!(read_image(&b, 0x4a50e0, 8), b"tick 11\0");
    assert_eq!(read_image(&a, 0x2e5a5338, 1), [0]);
    assert_eq!(read_image(&b, 0x2e5a5338, 1), [4]);
    assert_eq!(read_image(&a, 0x7ffc935a0a06, 2), b"\x005");
    assert_eq!(read_image(&b, 0x7ffc935a0a06, 2), b"11");

    // The text report, section by section.
    let out = ckdump(&["diff", p(&a), p(&b)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\nthreads (paired by tid; 0 unchanged)\n  thread 135 static\n    r8               0x6 -> 0x7\n    r9               0x7ffc935a0a07 -> 0x7ffc935a0a06\n"), "{text}");
    assert!(text.contains("\npages (4 KiB; 17 held by both: 13 identical, 4 differ; 0 only in A, 0 only in B)\n  0x4a5000-0x4a8000 rw- /opt/ckdump/static\n    2 of 3 differ: 0x4a5000 (3 bytes from 0x4a50e5), 0x4a7000 (1 bytes from 0x4a7330)\n"), "{text}");
    assert!(!text.contains("\nregions"), "{text}");
}

#[test]
fn symbols_name_changed_code_addresses() {
    let (code, doc) = diff(
        &root().join("testdata/cores/core.threads.kernel.zst"),
        &root().join("testdata/cores/core.threads.gcore.zst"),
        &[
            "--symbols",
            "symbols",
            "--sysroot",
            "testdata/sysroot",
            "--no-host-symbols",
        ],
    );
    assert_eq!(code, 1);
    let main = &doc["threads"]["changed"][0];
    let rip = main["registers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rip")
        .unwrap();
    assert_eq!(rip["a"], "0x55c743e5f35e");
    assert_eq!(rip["a_symbol"], "crash_here+0x36");
}

#[test]
fn a_checkpoint_is_identical_to_itself_and_to_its_archive() {
    let mt = images().join("mt");
    let (code, doc) = diff(&mt, &mt, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["identical"], true);
    assert_eq!(doc["threads"]["unchanged"], 4);
    assert_eq!(doc["regions"]["unchanged"], 28);
    assert_eq!(doc["pages"]["compared"], 36);
    assert_eq!(doc["pages"]["identical"], 36);
    let out = ckdump(&["diff", p(&mt), p(&mt)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(
        "identical: same process, threads, registers, regions and modules; 36 pages compared, all equal\n"
    ));

    // The Podman archive holds the same images: the same saved state.
    let archive = root().join("testdata/criu/archive/mt-checkpoint.tar.zst");
    let (code, doc) = diff(&mt, &archive, &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["a"]["format"], "criu-images");
    assert_eq!(doc["b"]["format"], "container-checkpoint");
}

/// The page index in pages-1.img of a virtual address, walking crit's
/// decoding of the pagemap (every entry of mt is PE_PRESENT, none in a
/// parent).
fn page_index(address: u64) -> u64 {
    let text = std::fs::read_to_string(root().join("testdata/criu/reference/mt/pagemap-134.json"))
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut index = 0;
    for e in doc["entries"].as_array().unwrap().iter().skip(1) {
        let vaddr = u64::from_str_radix(&e["vaddr"].as_str().unwrap()[2..], 16).unwrap();
        let n = e["nr_pages"].as_u64().unwrap();
        if address >= vaddr && address < vaddr + n * 4096 {
            return index + (address - vaddr) / 4096;
        }
        index += n;
    }
    panic!("{address:#x} is not in the pagemap");
}

#[test]
fn one_patched_page_is_exactly_what_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("mt");
    copy_dir(&images().join("mt"), &copy);
    // The second page of the heap (0x562b606c8000, two pages dumped).
    let address = 0x562b_606c_9000u64;
    let index = page_index(address);
    assert_eq!(index, 4);
    let path = copy.join("pages-1.img");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = (index * 4096 + 0x123) as usize;
    bytes[at] ^= 0x40;
    bytes[at + 2] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let (code, doc) = diff(&images().join("mt"), &copy, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["pages"]["compared"], 36);
    assert_eq!(doc["pages"]["differing"], 1);
    assert_eq!(
        differing_pages(&doc),
        vec![(
            "0x562b606c9000".to_string(),
            2,
            "0x562b606c9123".to_string()
        )]
    );
    let region = &doc["pages"]["regions"][0];
    assert_eq!(region["start"], "0x562b606c8000");
    assert_eq!(region["end"], "0x562b606e9000");
    assert_eq!(region["compared"], 2);
    // Nothing else differs.
    assert_eq!(doc["process"], serde_json::json!([]));
    assert_eq!(doc["threads"]["changed"], serde_json::json!([]));
    assert_eq!(doc["regions"]["changed"], serde_json::json!([]));
}

/// Reads a protobuf varint at `at`; returns (value, bytes used).
fn varint(bytes: &[u8], at: usize) -> (u64, usize) {
    let mut v = 0u64;
    for i in 0..10 {
        let b = bytes[at + i];
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    panic!("bad varint at {at}");
}

fn encode_varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

#[test]
fn a_protection_patched_in_the_mm_image_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("mt");
    copy_dir(&images().join("mt"), &copy);
    // The heap's vma_entry: field 1 (start) = 0x562b606c8000, then end,
    // pgoff, shmid, and field 5, prot = PROT_READ|PROT_WRITE (3).
    let path = copy.join("mm-134.img");
    let mut bytes = std::fs::read(&path).unwrap();
    let mut needle = vec![0x08];
    needle.extend(encode_varint(0x562b_606c_8000));
    let start = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("heap vma in mm-134.img");
    let mut at = start;
    let prot_at = loop {
        let (tag, n) = varint(&bytes, at);
        at += n;
        if tag == 0x28 {
            break at;
        }
        assert_eq!(tag & 7, 0, "only varint fields before prot");
        let (_, n) = varint(&bytes, at);
        at += n;
    };
    assert_eq!(bytes[prot_at], 3);
    bytes[prot_at] = 1; // PROT_READ
    std::fs::write(&path, &bytes).unwrap();

    let (code, doc) = diff(&images().join("mt"), &copy, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        doc["regions"]["changed"],
        serde_json::json!([{
            "a": {"start": "0x562b606c8000", "end": "0x562b606e9000", "protection": "rw-",
                  "sharing": "private", "file": null, "file_offset": null},
            "b": {"start": "0x562b606c8000", "end": "0x562b606e9000", "protection": "r--",
                  "sharing": "private", "file": null, "file_offset": null},
            "fields": ["protection"]
        }])
    );
    assert_eq!(doc["regions"]["unchanged"], 27);
    assert_eq!(doc["pages"]["differing"], 0);
    let out = ckdump(&["diff", p(&images().join("mt")), p(&copy)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\nregions (27 unchanged)\n  changed  0x562b606c8000-0x562b606e9000 rw- private  [protection]\n       ->  0x562b606c8000-0x562b606e9000 r-- private\n"), "{text}");
}

/// Two runs of testdata/bin/threads: the kernel's core of the crash and
/// gdb's gcore of a live run. No tid in common, so threads pair in tid
/// order; ASLR moved everything.
#[test]
fn two_cores_of_one_program() {
    let (code, doc) = diff(
        &root().join("testdata/cores/core.threads.kernel.zst"),
        &root().join("testdata/cores/core.threads.gcore.zst"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        doc["process"],
        serde_json::json!([{"field": "pid", "a": "20353", "b": "20406"}])
    );
    let t = &doc["threads"];
    assert_eq!(t["paired_by"], "tid-order");
    let pairs: Vec<(u64, u64)> = t["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["tid_a"].as_u64().unwrap(), c["tid_b"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        [
            (20353, 20406),
            (20354, 20409),
            (20355, 20410),
            (20356, 20411)
        ]
    );
    // The crash (SIGSEGV) vs a stopped live process (SIGSTOP from gdb).
    assert_eq!(
        t["changed"][0]["attributes"],
        serde_json::json!([{"field": "signal", "a": "11", "b": "19"}])
    );
    // Same build of the program and libc, loaded elsewhere.
    let changed: Vec<(String, Vec<String>)> = doc["modules"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["field"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert!(
        changed.iter().all(|(_, fields)| fields == &["base"]),
        "{changed:?}"
    );
    assert!(changed.iter().any(|(n, _)| n == "threads"));
    assert!(changed.iter().any(|(n, _)| n == "libc.so.6"));
    // The vsyscall page is at a fixed address in both: the kernel core
    // says --x, gdb says r-x.
    let vsyscall = doc["regions"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["a"]["start"] == "0xffffffffff600000")
        .unwrap();
    assert_eq!(vsyscall["a"]["protection"], "--x");
    assert_eq!(vsyscall["b"]["protection"], "r-x");
}

#[test]
fn two_minidumps_of_one_program() {
    let (code, doc) = diff(
        &root().join("testdata/minidump/crash.dmp"),
        &root().join("testdata/minidump/live.dmp"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(
        doc["process"],
        serde_json::json!([
            {"field": "pid", "a": "32284", "b": "32293"},
            {"field": "ppid", "a": "32283", "b": "32292"}
        ])
    );
    assert_eq!(doc["threads"]["paired_by"], "tid-order");
    let names: Vec<Option<&str>> = doc["threads"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            Some("threads"),
            Some("worker-0"),
            Some("worker-1"),
            Some("worker-2")
        ]
    );
}

#[test]
fn unreadable_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"not a dump").unwrap();
    let out = ckdump(&["diff", p(&images().join("mt")), p(&junk)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "ckdump: {}: not a recognised dump format",
            junk.display()
        )),
        "{err}"
    );
}
