//! Hostile CRIU image directories, each made inside the test from the
//! committed fixtures (testdata/criu/images) in a temporary directory:
//! what the hostile-input sweep of issue 10 found, as findings instead of
//! a panic, a silent pass or gigabytes of memory.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{ckdump, encode_varint, inspect_json};

fn fixture(name: &str) -> PathBuf {
    common::root().join("testdata/criu/images").join(name)
}

/// A writable copy of fixture `name`.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    dir
}

/// One length-prefixed image entry around protobuf `body`.
fn entry(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// A varint protobuf field `tag` = `value`.
fn field(tag: u8, value: u64) -> Vec<u8> {
    let mut out = vec![tag << 3];
    out.extend(encode_varint(value));
    out
}

/// The first entry of image `file` (its 8 header bytes skipped), with its
/// length prefix.
fn first_entry(file: &Path) -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(file).unwrap();
    let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    (bytes[..8].to_vec(), bytes[8..12 + len].to_vec())
}

/// `verify DIR --format json`: exit code and findings as (code, message).
fn verify(dir: &Path) -> (i32, Vec<(String, String)>) {
    let out = ckdump(&["verify", dir.to_str().unwrap(), "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let findings = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out.status.code().unwrap(), findings)
}

/// Verify fails on `dir` with a finding of each (code, text in its message).
fn fails_with(dir: &Path, wanted: &[(&str, &str)]) {
    let (code, findings) = verify(dir);
    assert_eq!(code, 1, "{findings:?}");
    for (want_code, text) in wanted {
        assert!(
            findings
                .iter()
                .any(|(c, m)| c == want_code && m.contains(text)),
            "no {want_code} saying {text:?} in {findings:?}"
        );
    }
}

/// 4100 in-parent entries of 2^52−1 pages each: their page counts add up
/// past u64 (a panic in debug builds, wrapped totals in release ones).
#[test]
fn page_counts_that_overflow_are_a_finding() {
    let dir = copy_of("static");
    let body: Vec<u8> = [
        field(1, 0x40_0000),     // vaddr
        field(2, 0),             // compat_nr_pages
        field(4, 1),             // flags: PE_PARENT
        field(5, (1 << 52) - 1), // nr_pages
    ]
    .concat();
    let mut pagemap = std::fs::read(dir.path().join("pagemap-135.img")).unwrap();
    for _ in 0..4100 {
        pagemap.extend(entry(&body));
    }
    std::fs::write(dir.path().join("pagemap-135.img"), pagemap).unwrap();

    fails_with(
        dir.path(),
        &[(
            "CKD-E6006",
            "pagemap-135.img: the entries' page counts add up past 2^64",
        )],
    );
    // inspect reads it too: the 17 pages stats-dump says CRIU wrote are
    // still read from pages-1.img.
    let doc = inspect_json(dir.path(), &[]);
    assert_eq!(doc["checkpoint"]["pages"]["in_image"], 17);
}

/// Peak resident size of the children this test binary has waited for, in
/// bytes (Linux reports ru_maxrss in KiB).
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: filled by the successful call above.
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_maxrss).unwrap() * 1024
}

/// pstree.img with the root's entry 10,000 times (200 KB): each repeat
/// used to be read as a process of its own (1.2 GB in all). A repeated pid
/// is a finding and read once.
#[test]
fn a_pid_listed_10000_times_is_read_once() {
    let dir = copy_of("tree");
    let (header, root) = first_entry(&dir.path().join("pstree.img"));
    let mut pstree = header;
    for _ in 0..10_000 {
        pstree.extend_from_slice(&root);
    }
    std::fs::write(dir.path().join("pstree.img"), &pstree).unwrap();

    fails_with(
        dir.path(),
        &[(
            "CKD-E6007",
            "pid 135 is listed 10000 times; it is read once",
        )],
    );
    let doc = inspect_json(dir.path(), &[]);
    assert_eq!(doc["processes"].as_array().unwrap().len(), 1);
    assert!(
        doc["other_processes"]
            .as_array()
            .is_none_or(|p| p.is_empty())
    );
    // Every child of this binary so far (small directories besides this
    // one) stayed far below what 10,000 views of the task cost (1.2 GB).
    let peak = children_peak_rss();
    assert!(peak < 300 << 20, "peak RSS of ckdump {} MiB", peak >> 20);
}

/// fs-PID.img missing, and ids-PID.img replaced by another task's, an
/// empty or a garbage file: each is a finding, and verify fails.
#[test]
fn missing_fs_and_replaced_ids_are_findings() {
    let missing_fs = "fs-135.img is missing: the task's cwd and root";
    let shared_vm = "tasks 135 and 140 both have vm id 3: separate processes never share it";

    // fs-135.img gone, nothing else: verify passed silently before.
    let dir = copy_of("tree");
    std::fs::remove_file(dir.path().join("fs-135.img")).unwrap();
    fails_with(dir.path(), &[("CKD-E6004", missing_fs)]);

    // …and ids-135.img replaced by task 140's: the root would read task
    // 140's descriptors (fdinfo-3.img) as its own.
    std::fs::copy(
        dir.path().join("ids-140.img"),
        dir.path().join("ids-135.img"),
    )
    .unwrap();
    fails_with(
        dir.path(),
        &[("CKD-E6004", missing_fs), ("CKD-E6007", shared_vm)],
    );

    // ids-135.img replaced alone.
    let dir = copy_of("tree");
    std::fs::copy(
        dir.path().join("ids-140.img"),
        dir.path().join("ids-135.img"),
    )
    .unwrap();
    fails_with(dir.path(), &[("CKD-E6007", shared_vm)]);

    // Empty, and garbage.
    for (bytes, text) in [
        (&b""[..], "ids-135.img is empty, not the IDS image expected"),
        (
            &b"\x01\x02\x03\x04\x05\x06\x07\x08\x09"[..],
            "ids-135.img starts with 01 02 03 04 05 06 07 08, not the IDS image expected",
        ),
    ] {
        let dir = copy_of("tree");
        std::fs::remove_file(dir.path().join("fs-135.img")).unwrap();
        std::fs::write(dir.path().join("ids-135.img"), bytes).unwrap();
        fails_with(
            dir.path(),
            &[("CKD-E6001", text), ("CKD-E6004", missing_fs)],
        );
    }

    // ids-140.img gone: a live task without ids.
    let dir = copy_of("tree");
    std::fs::remove_file(dir.path().join("ids-140.img")).unwrap();
    fails_with(dir.path(), &[("CKD-E6004", "ids-140.img is missing")]);
}
