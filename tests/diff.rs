//! `ckdump diff` on the real fixtures: the incremental CRIU dump against
//! its parent, a checkpoint against itself and its archive, two cores and
//! two minidumps of one program, and checkpoints patched by hand.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::*;

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

/// (A's hash, B's hash) of every listed differing page.
fn page_hashes(doc: &Value) -> Vec<(String, String)> {
    doc["pages"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["first_differing"].as_array().unwrap().iter())
        .map(|c| {
            (
                c["hash_a"].as_str().unwrap().to_string(),
                c["hash_b"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (A address, B address, hash) of every listed moved page.
fn moved_pages(doc: &Value) -> Vec<(String, String, String)> {
    doc["pages"]["moves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["first"].as_array().unwrap().iter())
        .map(|c| {
            (
                c["a"].as_str().unwrap().to_string(),
                c["b"].as_str().unwrap().to_string(),
                c["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (compared, identical, differing, rearranged, only_in_a, only_in_b,
/// moved) of a diff.
fn page_counts(doc: &Value) -> [u64; 7] {
    let p = &doc["pages"];
    [
        "compared",
        "identical",
        "differing",
        "rearranged",
        "only_in_a",
        "only_in_b",
        "moved",
    ]
    .map(|k| p[k].as_u64().unwrap())
}

fn read_image(path: &Path, address: u64, len: usize) -> Vec<u8> {
    let img = ckdump::open(path, &ckdump::OpenOptions::default()).unwrap();
    let mut buf = vec![0u8; len];
    img.process.memory.read_exact(address, &mut buf).unwrap();
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
    // Each side's page hash (XXH3-64 of the page's 4096 bytes; the same
    // values `dd if=pages-1.img bs=4096 skip=N count=1 | xxhsum -H3` prints
    // for the pages in static/ and static-incr/), and nothing moved.
    assert_eq!(
        page_hashes(&doc),
        vec![
            (
                "a49f008a546c141d".to_string(),
                "95db86cee122c00f".to_string()
            ),
            (
                "25d2b2aefaf25d76".to_string(),
                "5caac4ed00f9874c".to_string()
            ),
            (
                "6326d00a0c4518ae".to_string(),
                "be2d24cb20877f89".to_string()
            ),
            (
                "e7d2c6c4cd510ddc".to_string(),
                "8b5d03db5a5dd124".to_string()
            ),
        ]
    );
    assert_eq!(pages["hash"], "xxh3-64");
    assert_eq!(
        (&pages["moved"], &pages["rearranged"]),
        (&0.into(), &0.into())
    );
    assert_eq!(pages["moves"], serde_json::json!([]));
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
        let (tag, n) = decode_varint(&bytes, at);
        at += n;
        if tag == 0x28 {
            break at;
        }
        assert_eq!(tag & 7, 0, "only varint fields before prot");
        let (_, n) = decode_varint(&bytes, at);
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

/// Points the pagemap entry of mt that starts at `from` at `to` instead:
/// its pages (still the same bytes of pages-1.img) now sit at `to`, as in
/// a process whose mapping moved. Both addresses encode to varints of one
/// length, so the entry's framing is unchanged.
fn relocate_pagemap_entry(dir: &Path, from: u64, to: u64) {
    let path = dir.join("pagemap-134.img");
    let bytes = std::fs::read(&path).unwrap();
    let (mut old, mut new) = (vec![0x08], vec![0x08]);
    old.extend(encode_varint(from));
    new.extend(encode_varint(to));
    assert_eq!(old.len(), new.len());
    let at: Vec<usize> = bytes
        .windows(old.len())
        .enumerate()
        .filter(|(_, w)| *w == old)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "one pagemap entry at {from:#x}");
    let mut out = bytes;
    out[at[0]..at[0] + new.len()].copy_from_slice(&new);
    std::fs::write(&path, out).unwrap();
}

/// Page `index` of mt's pages-1.img.
fn pages_file_page(dir: &Path, index: usize) -> Vec<u8> {
    std::fs::read(dir.join("pages-1.img")).unwrap()[index * 4096..(index + 1) * 4096].to_vec()
}

fn put_pages_file_page(dir: &Path, index: usize, page: &[u8]) {
    let path = dir.join("pages-1.img");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[index * 4096..(index + 1) * 4096].copy_from_slice(page);
    std::fs::write(&path, bytes).unwrap();
}

fn mt_copy(tmp: &Path, name: &str) -> PathBuf {
    let copy = tmp.join(name);
    copy_dir(&images().join("mt"), &copy);
    copy
}

const HEAP: u64 = 0x562b_606c_8000;
/// Inside the heap VMA (0x562b606c8000-0x562b606e9000), where mt has no
/// page dumped.
const HEAP_ELSEWHERE: u64 = 0x562b_606d_0000;

/// The heap's two dumped pages (pages-1.img pages 3 and 4) placed 32 KiB
/// higher in B: two pages moved, nothing removed or added.
#[test]
fn a_relocated_page_run_is_moved_not_removed_and_added() {
    let tmp = tempfile::tempdir().unwrap();
    let b = mt_copy(tmp.path(), "moved");
    relocate_pagemap_entry(&b, HEAP, HEAP_ELSEWHERE);
    let a = images().join("mt");
    // The moved bytes really are B's at the new address.
    assert_eq!(
        read_image(&a, HEAP, 4096),
        read_image(&b, HEAP_ELSEWHERE, 4096)
    );

    let (code, doc) = diff(&a, &b, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["identical"], false);
    // 34 pages in place, the heap's 2 moved.
    assert_eq!(page_counts(&doc), [34, 34, 0, 0, 0, 0, 2]);
    // XXH3-64 of pages-1.img pages 3 and 4 (xxhsum -H3 prints the same).
    assert_eq!(
        moved_pages(&doc),
        vec![
            (
                "0x562b606c8000".into(),
                "0x562b606d0000".into(),
                "871f14a475c22b73".into()
            ),
            (
                "0x562b606c9000".into(),
                "0x562b606d1000".into(),
                "324c332f45923059".into()
            ),
        ]
    );
    let heap = serde_json::json!({"region_of": "a", "start": "0x562b606c8000",
        "end": "0x562b606e9000", "protection": "rw-", "file": null});
    let m = &doc["pages"]["moves"][0];
    assert_eq!(m["from"], heap);
    assert_eq!(m["to"]["region_of"], "b");
    assert_eq!(m["to"]["start"], "0x562b606c8000");
    assert_eq!(m["pages"], 2);
    let r = &doc["pages"]["regions"][0];
    assert_eq!((&r["moved_out"], &r["moved_in"]), (&2.into(), &2.into()));
    assert_eq!((&r["only_in_a"], &r["only_in_b"]), (&0.into(), &0.into()));

    let out = ckdump(&["diff", p(&a), p(&b)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with("\npages (4 KiB; 34 held by both: 34 identical, 0 differ; 0 only in A, 0 only in B; 2 moved)\n  0x562b606c8000-0x562b606e9000 rw-\n    2 moved to 0x562b606c8000-0x562b606e9000 rw- (region of B): 0x562b606c8000 -> 0x562b606d0000, 0x562b606c9000 -> 0x562b606d1000\n"), "{text}");
}

/// The stack's four dumped pages (0x7ffde8dd4000..) placed one page lower
/// in B, as an overlapping mremap would: the three addresses both hold now
/// hold each other's pages. They are "rearranged", not "differing".
#[test]
fn a_run_shifted_by_one_page_is_rearranged_not_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let b = mt_copy(tmp.path(), "shifted");
    relocate_pagemap_entry(&b, 0x7ffd_e8dd_4000, 0x7ffd_e8dd_3000);
    let (code, doc) = diff(&images().join("mt"), &b, &[]);
    assert_eq!(code, 1);
    assert_eq!(page_counts(&doc), [35, 32, 0, 3, 0, 0, 4]);
    let pairs: Vec<(String, String)> = moved_pages(&doc)
        .into_iter()
        .map(|(a, b, _)| (a, b))
        .collect();
    assert_eq!(
        pairs,
        [
            ("0x7ffde8dd4000", "0x7ffde8dd3000"),
            ("0x7ffde8dd5000", "0x7ffde8dd4000"),
            ("0x7ffde8dd6000", "0x7ffde8dd5000"),
            ("0x7ffde8dd7000", "0x7ffde8dd6000"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let r = &doc["pages"]["regions"][0];
    assert_eq!(r["start"], "0x7ffde8db7000");
    assert_eq!(
        (&r["compared"], &r["rearranged"], &r["differing"]),
        (&3.into(), &3.into(), &0.into())
    );
    let out = ckdump(&["diff", p(&images().join("mt")), p(&b)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\npages (4 KiB; 35 held by both: 32 identical, 0 differ, 3 rearranged; 0 only in A, 0 only in B; 4 moved)\n  0x7ffde8db7000-0x7ffde8dd8000 rw-\n    3 of 3 rearranged: A's content moved away, B's moved in\n    4 moved to "), "{text}");
}

/// The heap's second page zeroed in both copies, and the heap relocated in
/// B: the zero page is never matched, it stays removed at its A address
/// and added at its B address; the first page still moves.
#[test]
fn zero_pages_are_never_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let a = mt_copy(tmp.path(), "a");
    let b = mt_copy(tmp.path(), "b");
    for dir in [&a, &b] {
        put_pages_file_page(dir, 4, &[0u8; 4096]);
    }
    relocate_pagemap_entry(&b, HEAP, HEAP_ELSEWHERE);
    assert_eq!(read_image(&b, HEAP_ELSEWHERE + 0x1000, 4096), [0u8; 4096]);
    let (code, doc) = diff(&a, &b, &[]);
    assert_eq!(code, 1);
    assert_eq!(page_counts(&doc), [34, 34, 0, 0, 1, 1, 1]);
    assert_eq!(
        doc["pages"]["zero_pages"],
        serde_json::json!({"a": 1, "b": 1})
    );
    assert_eq!(
        moved_pages(&doc),
        vec![(
            "0x562b606c8000".into(),
            "0x562b606d0000".into(),
            "871f14a475c22b73".into()
        )]
    );
    let r = &doc["pages"]["regions"][0];
    assert_eq!(r["first_only_in_a"], serde_json::json!(["0x562b606c9000"]));
    assert_eq!(r["first_only_in_b"], serde_json::json!(["0x562b606d1000"]));
}

/// B's copy of the heap's first page at a second, lower address (over the
/// executable's code page 0x562b3e19e000, pages-1.img page 0) as well as
/// where the relocated heap put it. The heap's second page has one copy
/// in B and moved by +0x8000, so its twin follows it to 0x562b606d0000
/// instead of going to the lowest address; the code page is then a
/// differing page whose B hash is the heap page's.
#[test]
fn a_content_twice_on_the_other_side_follows_its_neighbours() {
    let tmp = tempfile::tempdir().unwrap();
    let b = mt_copy(tmp.path(), "twice");
    relocate_pagemap_entry(&b, HEAP, HEAP_ELSEWHERE);
    let heap_page = pages_file_page(&images().join("mt"), 3);
    put_pages_file_page(&b, 0, &heap_page);
    assert_eq!(read_image(&b, 0x562b_3e19_e000, 4096), heap_page);
    assert_eq!(read_image(&b, HEAP_ELSEWHERE, 4096), heap_page);

    let (code, doc) = diff(&images().join("mt"), &b, &[]);
    assert_eq!(code, 1);
    assert_eq!(page_counts(&doc), [34, 33, 1, 0, 0, 0, 2]);
    assert_eq!(
        moved_pages(&doc)
            .into_iter()
            .map(|(a, b, _)| (a, b))
            .collect::<Vec<_>>(),
        [
            ("0x562b606c8000", "0x562b606d0000"),
            ("0x562b606c9000", "0x562b606d1000")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        differing_pages(&doc),
        vec![(
            "0x562b3e19e000".to_string(),
            1277,
            "0x562b3e19e000".to_string()
        )]
    );
    // A's code page (xxhsum -H3 of page 0) -> the heap page's hash.
    assert_eq!(
        page_hashes(&doc),
        vec![(
            "b85462209537bcf8".to_string(),
            "871f14a475c22b73".to_string()
        )]
    );
}

/// Two runs of testdata/bin/threads, ASLR apart: the pages whose bytes do
/// not depend on where things were loaded are found at their new
/// addresses — the ELF header pages of the program and of libc (moved by
/// exactly the module base changes two_cores_of_one_program sees), the
/// vDSO, ld.so's first page, and two pages of the anonymous mapping after
/// libc's data segment. The 118 and 116 zero pages (stacks, thread stacks,
/// bss) are not matched.
#[test]
fn pages_that_aslr_moved_between_two_cores() {
    let a = root().join("testdata/cores/core.threads.kernel.zst");
    let (code, doc) = diff(
        &a,
        &root().join("testdata/cores/core.threads.gcore.zst"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(page_counts(&doc), [1, 1, 0, 0, 148, 220, 7]);
    assert_eq!(
        doc["pages"]["zero_pages"],
        serde_json::json!({"a": 118, "b": 116})
    );
    let pairs: Vec<(String, String)> = moved_pages(&doc)
        .into_iter()
        .map(|(a, b, _)| (a, b))
        .collect();
    assert_eq!(
        pairs,
        [
            ("0x55c743e5e000", "0x555e2521c000"),
            ("0x7fcf90e40000", "0x7fcb7d225000"),
            ("0x7fcf91019000", "0x7fcb7d3fe000"),
            ("0x7fcf91021000", "0x7fcb7d406000"),
            ("0x7fcf91034000", "0x7fcb7d419000"),
            ("0x7fcf91035000", "0x7fcb7d41a000"),
            ("0x7fcf91036000", "0x7fcb7d41b000"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // libc's header page is the first page of the very libc.so.6 in
    // testdata/sysroot: its hash is `head -c 4096 libc.so.6 | xxhsum -H3`.
    let libc =
        std::fs::read(root().join("testdata/sysroot/usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    assert_eq!(read_image(&a, 0x7fcf_90e4_0000, 4096), libc[..4096]);
    let libc_move = &doc["pages"]["moves"][1];
    assert_eq!(
        libc_move["from"]["file"],
        "/usr/lib/x86_64-linux-gnu/libc.so.6"
    );
    assert_eq!(libc_move["to"]["start"], "0x7fcb7d225000");
    assert_eq!(libc_move["first"][0]["hash"], "4524c54eeecfecca");
}

#[test]
fn a_change_in_one_process_of_a_tree_is_found_in_that_process() {
    let tree = images().join("tree");
    let (code, doc) = diff(&tree, &tree, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["identical"], true);
    assert_eq!(doc["processes_paired_by"], "pid");
    let pids: Vec<u64> = doc["other_processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid_a"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, [139, 140, 141]);

    // The child's g_role, "ckdump-role-child", becomes "ckdump-role-CHILD":
    // its page's place in the child's pages file comes from crit's
    // decoding of pagemap-140.img (runs are stored one after another).
    let role = tree_ready_address("g_role");
    let pagemap: Value = serde_json::from_slice(
        &std::fs::read(root().join("testdata/criu/reference/tree/pagemap-140.json")).unwrap(),
    )
    .unwrap();
    let entries = pagemap["entries"].as_array().unwrap();
    let pages_id = entries[0]["pages_id"].as_u64().unwrap();
    let mut index = 0;
    let mut offset = None;
    for e in &entries[1..] {
        let vaddr =
            u64::from_str_radix(e["vaddr"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let n = e["nr_pages"].as_u64().unwrap();
        if (vaddr..vaddr + n * 4096).contains(&role) {
            offset = Some((index * 4096 + (role - vaddr)) as usize);
            break;
        }
        index += n;
    }
    let offset = offset.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("tree");
    copy_dir(&tree, &copy);
    let pages = copy.join(format!("pages-{pages_id}.img"));
    let mut bytes = std::fs::read(&pages).unwrap();
    assert_eq!(&bytes[offset..offset + 18], b"ckdump-role-child\0");
    bytes[offset + 12..offset + 17].copy_from_slice(b"CHILD");
    std::fs::write(&pages, bytes).unwrap();

    let (code, doc) = diff(&tree, &copy, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["identical"], false);
    // The root (and so the top-level lists) is untouched…
    assert_eq!(page_counts(&doc)[2], 0, "root pages differing");
    assert_eq!(doc["threads"]["changed"].as_array().unwrap().len(), 0);
    // …the child alone differs, in exactly g_role's page.
    for p in doc["other_processes"].as_array().unwrap() {
        let pid = p["pid_a"].as_u64().unwrap();
        assert_eq!(p["pid_b"], pid);
        if pid != 140 {
            assert_eq!(p["identical"], true, "process {pid}");
            continue;
        }
        assert_eq!(p["identical"], false);
        assert_eq!(p["name"], "tree-child");
        assert_eq!(page_counts(p)[2], 1, "{}", p["pages"]);
        assert_eq!(
            differing_pages(p),
            [(
                format!("{:#x}", role & !0xfff),
                5,
                format!("{:#x}", role + 12)
            )]
        );
    }
    let text = String::from_utf8(ckdump(&["diff", p(&tree), p(&copy)]).stdout).unwrap();
    assert!(text.contains("\nprocess 135 tree: identical\n"), "{text}");
    assert!(
        text.contains(
            "\nprocess 140 tree-child: pages (4 KiB; 31 held by both: 30 identical, 1 differ; 0 only in A, 0 only in B)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n2 other processes identical (paired by pid)"),
        "{text}"
    );
}
