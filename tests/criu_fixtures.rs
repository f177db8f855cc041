//! The project's own CRIU fixtures (testdata/criu, always present): the
//! process tree, VMAs, registers and page placement against `crit`'s
//! decoding in testdata/criu/reference, stacks against the programs'
//! source, verify on a restore root the test assembles, and one specific
//! finding for each kind of damage.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{
    ckdump, decode_varint, encode_varint, inspect_json, physical_functions, thread, tree_ready,
    tree_ready_address,
};

fn criu() -> PathBuf {
    common::root().join("testdata/criu")
}

fn images(name: &str) -> PathBuf {
    criu().join("images").join(name)
}

fn reference(fixture: &str, file: &str) -> Value {
    let path = criu().join("reference").join(fixture).join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn hex(v: &Value) -> u64 {
    match v {
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
        other => other.as_u64().unwrap(),
    }
}

fn open(dir: &Path) -> ckdump::model::Image {
    common::open_with(dir, &ckdump::OpenOptions::default())
}

/// The guest's /proc/cpuinfo flags (QEMU TCG -cpu max), the CPU the
/// fixtures were dumped on and would be restored on.
fn guest_cpuinfo() -> PathBuf {
    criu().join("reference/guest/system.txt")
}

/// static, unpacked from bin/static.zst into `dir`.
fn unpack_static(dir: &Path) -> PathBuf {
    let path = dir.join("static");
    let input = std::fs::File::open(criu().join("bin/static.zst")).unwrap();
    let mut out = std::fs::File::create(&path).unwrap();
    zstd::stream::copy_decode(input, &mut out).unwrap();
    path
}

/// A restore root for `fixture`, built from crit's decoding of its
/// files.img: the program at its recorded path, the host's libc and
/// ld.so (the guest ran the same Debian bookworm build: same build-ids),
/// the program's output files with their recorded sizes, the cwd and the
/// root with their recorded modes. /dev/null is the runtime's to provide.
fn restore_root(fixture: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let files = reference(fixture, "files.json");
    for e in files["entries"].as_array().unwrap() {
        let reg = &e["reg"];
        let name = reg["name"].as_str().unwrap();
        let mode = reg["mode"].as_u64().unwrap() as u32;
        let at = root.path().join(name.trim_start_matches('/'));
        if name.starts_with("/dev/") {
            continue;
        }
        if mode & 0o170000 == 0o040000 {
            std::fs::create_dir_all(&at).unwrap();
        } else {
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            if name == "/opt/ckdump/mt" {
                std::fs::copy(criu().join("bin/mt"), &at).unwrap();
            } else if name == "/opt/ckdump/tree" {
                std::fs::copy(criu().join("bin/tree"), &at).unwrap();
            } else if name == "/opt/ckdump/static" {
                let tmp = tempfile::tempdir().unwrap();
                std::fs::copy(unpack_static(tmp.path()), &at).unwrap();
            } else if name.starts_with("/usr/lib/") {
                std::fs::copy(name, &at).unwrap();
            } else {
                let size = reg["size"].as_u64().unwrap_or(0);
                std::fs::File::create(&at).unwrap().set_len(size).unwrap();
            }
        }
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode & 0o7777)).unwrap();
    }
    root
}

/// `inspect --format json` of `fixture` with its program's symbols and
/// its restore root as the sysroot.
fn symbolized(fixture: &str) -> Value {
    let root = restore_root(fixture);
    let bin = criu().join("bin");
    inspect_json(
        &images(fixture),
        &[
            "--symbols",
            bin.to_str().unwrap(),
            "--sysroot",
            root.path().to_str().unwrap(),
        ],
    )
}

/// A copy of the image directory `name` (parent/ links kept as links).
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(images(name)).unwrap() {
        let e = e.unwrap();
        let to = dir.path().join(e.file_name());
        if e.file_type().unwrap().is_symlink() {
            continue;
        }
        std::fs::copy(e.path(), to).unwrap();
    }
    dir
}

/// `verify DIR --root ROOT --cpuinfo GUEST --format json`: (exit code,
/// findings as (code, message)).
fn verify(dir: &Path, root: &Path, extra: &[&str]) -> (i32, Vec<(String, String)>) {
    verify_on(dir, root, &guest_cpuinfo(), extra)
}

/// [`verify`] with the guest CPU description `cpuinfo`.
fn verify_on(
    dir: &Path,
    root: &Path,
    cpuinfo: &Path,
    extra: &[&str],
) -> (i32, Vec<(String, String)>) {
    let mut args = vec![
        "verify",
        dir.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ];
    if !extra.contains(&"--no-cpuinfo") {
        args.extend(["--cpuinfo", cpuinfo.to_str().unwrap()]);
    }
    args.extend(extra.iter().filter(|a| **a != "--no-cpuinfo"));
    let out = ckdump(&args);
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

fn codes(findings: &[(String, String)]) -> Vec<&str> {
    let mut c: Vec<&str> = findings.iter().map(|(c, _)| c.as_str()).collect();
    c.dedup();
    c
}

fn message<'a>(findings: &'a [(String, String)], code: &str) -> &'a str {
    findings
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, m)| m.as_str())
        .unwrap_or_else(|| panic!("no {code} in {findings:?}"))
}

/// Entry byte ranges (length prefix included) of a CRIU image file.
fn entries(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut at = 8;
    let mut out = Vec::new();
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(at..at + 4 + len);
        at += 4 + len;
    }
    out
}

/// Replaces the only occurrence of `from` in `path` with `to` (same length).
fn patch_once(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let hits: Vec<usize> = (0..=bytes.len() - from.len())
        .filter(|&i| &bytes[i..i + from.len()] == from)
        .collect();
    assert_eq!(hits.len(), 1, "{from:02x?} in {}", path.display());
    bytes[hits[0]..hits[0] + to.len()].copy_from_slice(to);
    std::fs::write(path, bytes).unwrap();
}

// --- conformance ---

#[test]
fn mt_tree_threads_and_registers_match_crit() {
    let image = open(&images("mt"));
    let p = image.process.facts.as_ref().unwrap();
    assert_eq!(p.pid, Some(134));
    assert_eq!(p.name.as_deref(), Some("mt"));
    assert_eq!(p.executable.as_deref(), Some("/opt/ckdump/mt"));
    let tids: Vec<u64> = image.process.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, [134, 139, 140, 141]);
    let names: Vec<&str> = image
        .process
        .threads
        .iter()
        .map(|t| t.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["mt", "worker-0", "worker-1", "worker-2"]);
    let tree = &image.details.processes;
    assert_eq!(tree.len(), 1);
    assert_eq!(
        (tree[0].pid, tree[0].ppid, tree[0].pgid, tree[0].sid),
        (134, 0, 134, 134)
    );
    assert_eq!(tree[0].threads, [134, 139, 140, 141]);

    for t in &image.process.threads {
        let core = reference("mt", &format!("core-{}.json", t.tid));
        let entry = &core["entries"][0];
        let g = entry["thread_info"]["gpregs"].as_object().unwrap();
        let mut compared = 0;
        for (short, value) in g {
            if short == "mode" {
                continue;
            }
            let name = match short.as_str() {
                "ax" | "bx" | "cx" | "dx" | "si" | "di" | "bp" | "sp" | "ip" | "flags" => {
                    format!("r{short}")
                }
                "orig_ax" => "orig_rax".into(),
                other => other.to_string(),
            };
            assert_eq!(
                t.registers.get_named(&name),
                Some(hex(value)),
                "thread {} {name}",
                t.tid
            );
            compared += 1;
        }
        assert_eq!(compared, 27);
        let xsave = &entry["thread_info"]["fpregs"]["xsave"];
        assert_eq!(
            t.float.as_ref().unwrap().xsave_features,
            Some(hex(&xsave["xstate_bv"]))
        );
    }
    // The main thread's pc is the rewound `syscall` of pause (restart).
    let main = &image.process.threads[0];
    assert_eq!(main.registers.pc(), Some(0x7fec_8788_cdf0));
    assert_eq!(main.registers.get_named("rax"), Some(0x22));
}

#[test]
fn mt_vmas_and_page_counts_match_crit() {
    let doc = inspect_json(&images("mt"), &["--regions"]);
    let mm = reference("mt", "mm-134.json");
    let files = reference("mt", "files.json");
    let path_of = |id: u64| -> String {
        files["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"].as_u64() == Some(id))
            .map(|e| e["reg"]["name"].as_str().unwrap().to_string())
            .unwrap()
    };
    let vmas = mm["entries"][0]["vmas"].as_array().unwrap();
    let regions = doc["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 28);
    assert_eq!(regions.len(), vmas.len());
    // Pages per VMA from crit's pagemap decoding.
    let pagemap = reference("mt", "pagemap-134.json");
    let runs: Vec<(u64, u64)> = pagemap["entries"].as_array().unwrap()[1..]
        .iter()
        .map(|e| {
            let s = hex(&e["vaddr"]);
            (s, s + e["nr_pages"].as_u64().unwrap() * 4096)
        })
        .collect();
    let mut total = 0;
    for (r, v) in regions.iter().zip(vmas) {
        let (start, end) = (hex(&v["start"]), hex(&v["end"]));
        assert_eq!(hex(&r["start"]), start);
        assert_eq!(hex(&r["end"]), end);
        let prot = v["prot"].as_str().unwrap();
        let rwx: String = [("PROT_READ", 'r'), ("PROT_WRITE", 'w'), ("PROT_EXEC", 'x')]
            .iter()
            .map(|(p, c)| if prot.contains(p) { *c } else { '-' })
            .collect();
        assert_eq!(r["protection"], rwx.as_str(), "{start:#x}");
        assert_eq!(r["linux"]["status"], v["status"], "{start:#x}");
        assert_eq!(r["linux"]["flags"], v["flags"], "{start:#x}");
        if v["status"].as_str().unwrap().contains("VMA_FILE_PRIVATE") {
            assert_eq!(
                r["file"].as_str().unwrap(),
                path_of(v["shmid"].as_u64().unwrap())
            );
            assert_eq!(hex(&r["file_offset"]), v["pgoff"].as_u64().unwrap());
        }
        let in_image: u64 = runs
            .iter()
            .map(|&(s, e)| e.min(end).saturating_sub(s.max(start)) / 4096)
            .sum();
        assert_eq!(
            r["pages"]["in_image"].as_u64(),
            Some(in_image),
            "{start:#x}"
        );
        assert_eq!(r["pages"]["total"].as_u64(), Some((end - start) / 4096));
        total += in_image;
    }
    // 36 pages in pages-1.img; stats-dump says the same.
    assert_eq!(total, 36);
    let cp = &doc["checkpoint"];
    assert_eq!(cp["kind"], "full");
    assert_eq!(cp["tool_version"], "3.17.1");
    assert_eq!(cp["image_version"], 2);
    assert_eq!(
        cp["pages"],
        serde_json::json!({"in_image": 36, "in_parent": 0, "lazy": 0, "missing": 0})
    );
    // Open files as crit x fds lists them.
    let fds: Vec<(u64, &str, u64)> = cp["open_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fd"].as_u64().unwrap(),
                f["target"].as_str().unwrap(),
                f["position"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fds,
        [
            (0, "/dev/null", 0),
            (1, "/tmp/mt.out", 76),
            (2, "/tmp/mt.out", 76),
            (3, "/tmp/mt.log", 12)
        ]
    );
    let exe = &cp["files"][0];
    assert_eq!(exe["path"], "/opt/ckdump/mt");
    assert_eq!(exe["size"], 23720);
    assert_eq!(exe["mode"], 0o100755);
    assert_eq!(exe["build_id"], "49bd2c9f48f3e58af351221a5ff6336bd9aa5647");
    assert_eq!(exe["uses"], serde_json::json!(["exe", "mapping"]));
    let xstate: Vec<(u64, String)> = cp["xstate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["tid"].as_u64().unwrap(),
                x["xstate_bv"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = [134, 139, 140, 141]
        .into_iter()
        .map(|t| (t, "0x217".to_string()))
        .collect();
    assert_eq!(xstate, want);
    // The text report says the same.
    let out = ckdump(&["inspect", images("mt").to_str().unwrap(), "--regions"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("  kind      full dump\n"), "{text}");
    assert!(text.contains("  writer    CRIU 3.17.1, image version 2\n"));
    assert!(text.contains("2/33 pages"), "{text}");
    assert!(
        text.contains("       3  REG     /tmp/mt.log  pos 12\n"),
        "{text}"
    );
}

#[test]
fn mt_stacks_name_the_programs_functions() {
    let doc = symbolized("mt");
    let main = thread(&doc, 134);
    let f0 = &main["frames"][0];
    // Frame 0 at the saved ip itself, which points at the syscall.
    assert_eq!(f0["pc"], "0x7fec8788cdf0");
    assert!(f0["function"].as_str().unwrap().contains("pause"), "{f0}");
    let names = physical_functions(main);
    assert_eq!(names[1], "main", "{names:?}");
    for tid in [139, 140, 141] {
        let t = thread(&doc, tid);
        assert_eq!(t["frames"][0]["pc"], "0x7fec87888545");
        let names = physical_functions(t);
        let at = names.iter().position(|n| n == "usleep").unwrap();
        assert_eq!(
            &names[at..at + 4],
            ["usleep", "worker_leaf", "worker_mid", "worker"],
            "{names:?}"
        );
    }
}

#[test]
fn static_stack_with_the_unpacked_binary() {
    let dir = tempfile::tempdir().unwrap();
    unpack_static(dir.path());
    let doc = inspect_json(
        &images("static"),
        &["--symbols", dir.path().to_str().unwrap()],
    );
    assert_eq!(doc["image"]["pid"], 135);
    let t = thread(&doc, 135);
    assert_eq!(t["frames"][0]["pc"], "0x45e273");
    let names = physical_functions(t);
    let at = names.iter().position(|n| n == "tick_loop").unwrap();
    assert_eq!(names[at + 1], "main", "{names:?}");
    assert!(
        names[..at].iter().any(|n| n.contains("nanosleep")),
        "{names:?}"
    );
}

#[test]
fn static_incr_reads_its_parent_pages_from_static() {
    let incr = open(&images("static-incr"));
    let parent = open(&images("static"));
    let pagemap = reference("static-incr", "pagemap-135.json");
    let mut pages = 0;
    for e in &pagemap["entries"].as_array().unwrap()[1..] {
        if e["flags"] != "PE_PARENT" {
            continue;
        }
        let start = hex(&e["vaddr"]);
        let len = e["nr_pages"].as_u64().unwrap() * 4096;
        let mut a = vec![0u8; len as usize];
        let mut b = vec![0u8; len as usize];
        incr.process.memory.read_exact(start, &mut a).unwrap();
        parent.process.memory.read_exact(start, &mut b).unwrap();
        assert!(a == b, "{start:#x}");
        pages += len / 4096;
    }
    assert_eq!(pages, 12);
    let cp = incr.process.checkpoint.as_ref().unwrap();
    assert_eq!(cp.kind, ckdump::model::CheckpointKind::Incremental);
    assert_eq!(cp.parent.as_deref(), Some("../static"));
    assert!(cp.parent_present);
    assert_eq!((cp.pages.in_image, cp.pages.in_parent), (5, 12));
    // g_ticks' page was dumped again: 11 here, 5 in the parent.
    assert_eq!(incr.process.memory.read_u64(0x4a7330).unwrap(), 11);
    assert_eq!(parent.process.memory.read_u64(0x4a7330).unwrap(), 5);
}

// --- verify: clean ---

#[test]
fn clean_fixtures_verify_against_their_restore_root() {
    for fixture in ["mt", "static", "static-incr"] {
        let root = restore_root(fixture);
        let (code, findings) = verify(&images(fixture), root.path(), &[]);
        assert_eq!(findings, [], "{fixture}");
        assert_eq!(code, 0, "{fixture}");
    }
    // The checks that ran, passed.
    let root = restore_root("mt");
    let out = ckdump(&[
        "verify",
        images("mt").to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
        "--cpuinfo",
        guest_cpuinfo().to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("0 errors, 0 warnings, 0 notes; 33 of 33 checks passed"),
        "{text}"
    );
}

#[test]
fn this_hosts_cpu_is_judged_by_its_xcr0() {
    let root = restore_root("mt");
    let (code, findings) = verify(&images("mt"), root.path(), &["--no-cpuinfo"]);
    let host = ckdump::verify::restore::this_host_cpu();
    let lacking = 0x217 & !host.xfeatures;
    if lacking == 0 {
        assert_eq!(findings, []);
        assert_eq!(code, 0);
        return;
    }
    let names = ckdump::verify::restore::xfeature_names(lacking).join(", ");
    assert_eq!(
        findings,
        [(
            "CKD-E6206".to_string(),
            format!(
                "threads 134, 139, 140, 141: the saved FPU state uses {names}, which {} does not enable (XSTATE_BV has {lacking:#x} beyond {:#x})",
                host.source, host.xfeatures
            )
        )]
    );
    assert_eq!(code, 1);
}

// --- verify: damage, each with its own finding ---

#[test]
fn truncated_pages_file() {
    let dir = copy_of("mt");
    let pages = dir.path().join("pages-1.img");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pages)
        .unwrap()
        .set_len(147456 - 3 * 4096)
        .unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    // One root cause, one finding: the regions that lose pages to the cut
    // (one stack page; the last entry, the vdso's 2 pages) are counted in
    // it, not listed on their own.
    assert_eq!(codes(&f), ["CKD-E6005"], "{f:?}");
    assert_eq!(
        message(&f, "CKD-E6005"),
        "pagemap-134.img lists 36 present pages (147456 bytes) but pages-1.img holds 135168 bytes: 3 pages past the cut are missing; 2 findings that follow from it are counted here: 2 restore-pages-available (CKD-E6204)"
    );
    // The JSON names them by check, and the check that found them failed.
    let root = restore_root("mt");
    let out = ckdump(&[
        "verify",
        dir.path().to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
        "--cpuinfo",
        guest_cpuinfo().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&common::schema("verify.schema.json"), &json, "verify json");
    assert_eq!(
        json["findings"][0]["folded"],
        serde_json::json!([{"code": "CKD-E6204", "name": "restore-pages-available", "count": 2}])
    );
    assert_eq!(json["counts"]["errors"], 1);
    let e6204 = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "CKD-E6204")
        .unwrap();
    assert_eq!(
        (&e6204["status"], &e6204["findings"]),
        (&"failed".into(), &2.into())
    );
}

/// The pages file emptied: 21 findings before (the cut, 4 threads' stack
/// pages, 16 regions' pages), one now.
#[test]
fn an_empty_pages_file_is_one_error() {
    let dir = copy_of("mt");
    std::fs::File::create(dir.path().join("pages-1.img")).unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6005"], "{f:?}");
    assert_eq!(
        message(&f, "CKD-E6005"),
        "pagemap-134.img lists 36 present pages (147456 bytes) but pages-1.img holds 0 bytes: 36 pages past the cut are missing; 20 findings that follow from it are counted here: 4 stack-pointer-mapped (CKD-E2001), 16 restore-pages-available (CKD-E6204)"
    );
}

#[test]
fn dropped_heap_pagemap_entry() {
    let dir = copy_of("mt");
    let path = dir.path().join("pagemap-134.img");
    let bytes = std::fs::read(&path).unwrap();
    let spans = entries(&bytes);
    // Entry 3 (after the head): the heap's 2 pages at 0x562b606c8000.
    let mut out = bytes[..8].to_vec();
    for (i, s) in spans.iter().enumerate() {
        if i != 3 {
            out.extend_from_slice(&bytes[s.clone()]);
        }
    }
    std::fs::write(&path, out).unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6005", "CKD-W6014", "CKD-E6205"], "{f:?}");
    assert_eq!(
        message(&f, "CKD-W6014"),
        "the pagemaps list 34 pages in this image, stats-dump says CRIU wrote 36"
    );
    assert_eq!(
        message(&f, "CKD-E6205"),
        "the heap 0x562b606c8000-0x562b606e9000 has grown, but its first page is in no pagemap entry"
    );
}

#[test]
fn duplicated_pagemap_entry_claims_pages_twice() {
    let dir = copy_of("mt");
    let path = dir.path().join("pagemap-134.img");
    let bytes = std::fs::read(&path).unwrap();
    let spans = entries(&bytes);
    let mut out = bytes[..spans[4].end].to_vec();
    out.extend_from_slice(&bytes[spans[4].clone()]);
    out.extend_from_slice(&bytes[spans[4].end..]);
    std::fs::write(&path, out).unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert!(codes(&f).contains(&"CKD-E6012"), "{f:?}");
    assert_eq!(
        message(&f, "CKD-E6012"),
        "pagemap-134.img entry #5: pages 0x7fec87790000-0x7fec87792000 are already claimed by an earlier entry (0x7fec87790000-0x7fec87792000, in this image)"
    );
}

#[test]
fn overlapping_vmas() {
    let dir = copy_of("mt");
    // VMA 0 (mt's first page) made to end one page later, over VMA 1:
    // field 2 (end), same varint length.
    let mut from = vec![0x10];
    from.extend(encode_varint(0x562b_3e19_e000));
    let mut to = vec![0x10];
    to.extend(encode_varint(0x562b_3e19_f000));
    patch_once(&dir.path().join("mm-134.img"), &from, &to);
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6011"], "{f:?}");
    assert_eq!(
        message(&f, "CKD-E6011"),
        "mm-134.img: VMA 0x562b3e19e000-0x562b3e19f000 overlaps 0x562b3e19d000-0x562b3e19f000; it is left out"
    );
}

#[test]
fn flipped_bytes_in_an_entry() {
    let dir = copy_of("mt");
    let path = dir.path().join("core-139.img");
    let mut bytes = std::fs::read(&path).unwrap();
    // The first field key of the entry (mtype, 0x08) becomes wire type 7,
    // which protobuf does not have.
    assert_eq!(bytes[12], 0x08);
    bytes[12] = 0x0f;
    std::fs::write(&path, bytes).unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6003"], "{f:?}");
    assert!(
        message(&f, "CKD-E6003").starts_with("core-139.img"),
        "{f:?}"
    );
}

#[test]
fn missing_thread_core() {
    let dir = copy_of("mt");
    std::fs::remove_file(dir.path().join("core-139.img")).unwrap();
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6004"], "{f:?}");
    assert!(message(&f, "CKD-E6004").starts_with("core-139.img is missing"));
}

#[test]
fn a_different_libc_in_the_root() {
    let root = restore_root("mt");
    let libc = root.path().join("usr/lib/x86_64-linux-gnu/libc.so.6");
    // Another ELF file of another size and build-id: the dynamic linker.
    std::fs::copy("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", &libc).unwrap();
    std::fs::set_permissions(&libc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, f) = verify(&images("mt"), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&f), ["CKD-E6202", "CKD-E3002"], "{f:?}");
    let under = format!("under the root {}", root.path().display());
    assert_eq!(
        message(&f, "CKD-E6202"),
        format!(
            "/usr/lib/x86_64-linux-gnu/libc.so.6 (mapping) has 215000 bytes {under}, the checkpoint recorded 1926232"
        )
    );
    assert_eq!(
        message(&f, "CKD-E3002"),
        format!(
            "/usr/lib/x86_64-linux-gnu/libc.so.6 (mapping) has build-id 7ebc65e52f2bbea498b4040fa92f7238377aaba9 {under}, the checkpoint recorded 93ac61ec5a8eb1396f9fbd350e3169a558528a40"
        )
    );
}

#[test]
fn a_changed_executable() {
    let root = restore_root("mt");
    let exe = root.path().join("opt/ckdump/mt");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, f) = verify(&images("mt"), root.path(), &[]);
    assert_eq!(code, 1);
    let under = format!("under the root {}", root.path().display());
    assert_eq!(
        f,
        [(
            "CKD-E6203".to_string(),
            format!(
                "/opt/ckdump/mt (exe, mapping) has mode 100644 {under}, the checkpoint recorded 100755"
            )
        )]
    );
    // Grown by a byte: the size differs, the build-id does not.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(&exe).unwrap();
    std::io::Write::write_all(&mut file, b"\0").unwrap();
    let (code, f) = verify(&images("mt"), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        f,
        [(
            "CKD-E6202".to_string(),
            format!(
                "/opt/ckdump/mt (exe, mapping) has 23721 bytes {under}, the checkpoint recorded 23720"
            )
        )]
    );
    // Gone.
    std::fs::remove_file(&exe).unwrap();
    let (_, f) = verify(&images("mt"), root.path(), &[]);
    assert_eq!(
        f,
        [(
            "CKD-E6201".to_string(),
            format!("/opt/ckdump/mt (exe, mapping) is not {under}")
        )]
    );
}

#[test]
fn an_xsave_feature_the_restore_host_lacks() {
    let dir = copy_of("mt");
    // XSTATE_BV 0x217 (field 1 of the xsave message) becomes 0x237: AVX-512
    // opmask, which the guest CPU does not have.
    let mut from = vec![0x08];
    from.extend(encode_varint(0x217));
    let mut to = vec![0x08];
    to.extend(encode_varint(0x237));
    patch_once(&dir.path().join("core-140.img"), &from, &to);
    let root = restore_root("mt");
    let (code, f) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        f,
        [(
            "CKD-E6206".to_string(),
            format!(
                "thread 140: the saved FPU state uses AVX-512 opmask (bit 5), which the flags in {} does not enable (XSTATE_BV has 0x20 beyond 0x21f)",
                guest_cpuinfo().display()
            )
        )]
    );
}

#[test]
fn incremental_dump_without_its_parent_pages() {
    // static-incr whose parent is a copy of static with one in-parent page
    // range cut from its pages file.
    let parent = copy_of("static");
    let child = copy_of("static-incr");
    std::os::unix::fs::symlink(parent.path(), child.path().join("parent")).unwrap();
    let pages = parent.path().join("pages-1.img");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pages)
        .unwrap()
        .set_len(69632 - 2 * 4096)
        .unwrap();
    let root = restore_root("static-incr");
    let (code, f) = verify(child.path(), root.path(), &[]);
    assert_eq!(code, 1);
    // The parent's last two pages (the vdso, kept in-parent by the child)
    // are cut off.
    let want = [
        (
            "CKD-E6005",
            "parent/: pagemap-135.img lists 17 present pages (69632 bytes) but pages-1.img holds 61440 bytes: 2 pages past the cut are missing",
        ),
        (
            "CKD-E6013",
            "pagemap-135.img: 0x7ffc935ac000-0x7ffc935ae000 is marked in-parent, but parent/ holds 0 of its 2 pages",
        ),
        (
            "CKD-E6204",
            "r-x region 0x7ffc935ac000-0x7ffc935ae000 [vdso]: 2 of its 2 listed pages are held by no file (past the end of the pages file, or in a parent snapshot that lacks them)",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    assert_eq!(f, want);
}

// --- the process tree (images/tree) ---

/// expected.json's tree section (extract_expected.py, from crit's decoding
/// of images/tree, checked there against the program's ready line and the
/// guest's /proc).
fn tree_expected() -> Value {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(criu().join("expected.json")).unwrap()).unwrap();
    doc["fixtures"]["tree"].clone()
}

fn tree_cpuinfo() -> PathBuf {
    criu().join("reference/tree/guest/system.txt")
}

#[test]
fn tree_processes_match_expected_and_crit() {
    let exp = tree_expected();
    let doc = inspect_json(&images("tree"), &[]);
    let procs = doc["processes"].as_array().unwrap();
    let tasks = exp["tasks"].as_array().unwrap();
    assert_eq!(procs.len(), tasks.len());
    for (p, t) in procs.iter().zip(tasks) {
        for key in ["pid", "ppid", "pgid", "sid", "threads", "exit_code"] {
            assert_eq!(p[key], t[key], "{key} of task {}", t["pid"]);
        }
        assert_eq!(p["name"], t["comm"], "task {}", t["pid"]);
        assert_eq!(p["state"], t["task_state"], "task {}", t["pid"]);
    }
    // crit's own decoding of pstree.img and of each task's core-PID.img.
    let pstree = reference("tree", "pstree.json");
    let entries = pstree["entries"].as_array().unwrap();
    assert_eq!(entries.len(), procs.len());
    for (p, e) in procs.iter().zip(entries) {
        for key in ["pid", "ppid", "pgid", "sid"] {
            assert_eq!(p[key], e[key], "{key} of task {}", e["pid"]);
        }
        let core = reference("tree", &format!("core-{}.json", e["pid"]));
        let tc = &core["entries"][0]["tc"];
        assert_eq!(p["name"], tc["comm"]);
        assert_eq!(p["exit_code"], tc["exit_code"]);
    }
    // The committed run, spelled out: root, zombie, child, grandchild in
    // pstree order, one process group and session (the root's).
    type Task<'a> = (u64, u64, &'a str, &'a str, u64, Vec<u64>);
    let got: Vec<Task> = procs
        .iter()
        .map(|p| {
            assert_eq!(
                (p["pgid"].as_u64(), p["sid"].as_u64()),
                (Some(135), Some(135))
            );
            (
                p["pid"].as_u64().unwrap(),
                p["ppid"].as_u64().unwrap(),
                p["name"].as_str().unwrap(),
                p["state"].as_str().unwrap(),
                p["exit_code"].as_u64().unwrap(),
                p["threads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (135, 0, "tree", "alive", 0, vec![135, 142]),
            (139, 135, "tree-zombie", "dead", 1792, vec![139]),
            (140, 135, "tree-child", "alive", 0, vec![140, 143, 144]),
            (141, 140, "tree-grandchild", "alive", 0, vec![141]),
        ]
    );
    // The zombie exited with status 7 (exit_code is the wait status, as in
    // /proc/PID/stat). CRIU 3.17 leaves its thread id in pstree.img
    // uninitialized; ckdump takes the pid, as the task is its leader alone.
    assert_eq!(tasks[1]["exit_status"], 7);
    assert_eq!(1792 >> 8, 7);
    assert_eq!(entries[1]["threads"], serde_json::json!([1417044112]));
    assert_eq!(tasks[1]["pstree_threads"], entries[1]["threads"]);
    assert_eq!(tasks[1]["images"], serde_json::json!(["core-139.img"]));
}

#[test]
fn tree_root_threads_registers_and_own_memory() {
    let exp = tree_expected();
    let root = &exp["tasks"][0];
    assert_eq!(root["role"], "parent");
    let image = open(&images("tree"));
    let p = image.process.facts.as_ref().unwrap();
    assert_eq!(p.pid, Some(135));
    assert_eq!(p.name.as_deref(), Some("tree"));
    assert_eq!(p.executable.as_deref(), Some("/opt/ckdump/tree"));
    let threads: Vec<(u64, &str)> = image
        .process
        .threads
        .iter()
        .map(|t| (t.tid, t.name.as_deref().unwrap()))
        .collect();
    assert_eq!(threads, [(135, "tree"), (142, "pworker")]);
    for (t, want) in image
        .process
        .threads
        .iter()
        .zip(root["threads_detail"].as_array().unwrap())
    {
        assert_eq!(Some(t.tid), want["tid"].as_u64());
        for (name, key) in [
            ("rip", "ip"),
            ("rsp", "sp"),
            ("rbp", "bp"),
            ("rax", "ax"),
            ("orig_rax", "orig_ax"),
            ("fs_base", "fs_base"),
        ] {
            assert_eq!(
                t.registers.get_named(name),
                Some(hex(&want["regs"][key])),
                "thread {} {name}",
                t.tid
            );
        }
    }
    // The main thread waits in wait4 (0x3d, rewound to its syscall for the
    // restart), the worker sleeps in clock_nanosleep (-EINTR).
    assert_eq!(
        image.process.threads[0].registers.pc(),
        Some(0x7fda_28b8_9c15)
    );
    assert_eq!(
        image.process.threads[0].registers.get_named("orig_rax"),
        Some(0x3d)
    );
    assert_eq!(
        image.process.threads[1].registers.pc(),
        Some(0x7fda_28b8_5545)
    );
    assert_eq!(
        image.process.threads[1].registers.get_named("orig_rax"),
        Some(0xe6)
    );
    assert_eq!(
        image.process.regions.len() as u64,
        root["vmas_count"].as_u64().unwrap()
    );
    assert_eq!(image.process.regions.len(), 22);

    // The root's own pages: g_role and its heap block. The child's block is
    // at the same address with other bytes (expected.json), so reading
    // "parent" here proves the root's pagemap was used.
    let mem = &root["memory"];
    let role_at = hex(&mem["g_role"]["addr"]);
    assert_eq!(role_at, 0x564d_9874_9160);
    let mut role = [0u8; 32];
    image.process.memory.read_exact(role_at, &mut role).unwrap();
    assert!(role.starts_with(b"ckdump-role-parent\0"), "{role:?}");
    let heap = image
        .process
        .memory
        .read_u64(hex(&mem["g_heap"]["addr"]))
        .unwrap();
    assert_eq!(heap, 0x564d_aa4b_32a0);
    assert_eq!(
        exp["tasks"][2]["memory"]["heap_block"]["addr"],
        mem["heap_block"]["addr"]
    );
    assert_eq!(
        exp["tasks"][2]["memory"]["heap_block"]["tag"],
        "ckdump-tree-heap-child"
    );
    let mut block = [0u8; 72];
    image.process.memory.read_exact(heap, &mut block).unwrap();
    assert!(block.starts_with(b"ckdump-tree-heap-parent\0"));
    let word = |i: usize| u64::from_le_bytes(block[32 + 8 * i..40 + 8 * i].try_into().unwrap());
    assert_eq!(
        [word(0), word(1), word(2), word(3), word(4)],
        [0x7472_6565_3132_3334, 135, 135, 142, 0]
    );
}

#[test]
fn tree_root_stacks_name_the_programs_functions() {
    let doc = symbolized("tree");
    let main = thread(&doc, 135);
    assert_eq!(main["frames"][0]["pc"], "0x7fda28b89c15");
    let names = physical_functions(main);
    assert!(names[0].contains("wait4"), "{names:?}");
    assert_eq!(&names[1..3], ["parent_wait", "main"], "{names:?}");
    let worker = thread(&doc, 142);
    let names = physical_functions(worker);
    let at = names.iter().position(|n| n == "usleep").unwrap();
    assert_eq!(
        &names[at..at + 4],
        [
            "usleep",
            "parent_worker_leaf",
            "parent_worker_mid",
            "parent_worker"
        ],
        "{names:?}"
    );
}

#[test]
fn tree_verifies_clean_against_its_restore_root() {
    let root = restore_root("tree");
    let (code, findings) = verify_on(&images("tree"), root.path(), &tree_cpuinfo(), &[]);
    assert_eq!(findings, []);
    assert_eq!(code, 0);
}

#[test]
fn tree_zombie_without_its_core() {
    // The zombie's pid is known to be its thread only from core-139.img;
    // without it, pstree.img's uninitialized thread id is all there is.
    let dir = copy_of("tree");
    std::fs::remove_file(dir.path().join("core-139.img")).unwrap();
    let root = restore_root("tree");
    let (code, f) = verify_on(dir.path(), root.path(), &tree_cpuinfo(), &[]);
    assert_eq!(code, 1);
    // Without its core nothing says the task is a zombie: its missing
    // core, the stray thread id's missing core, the mm and pagemap a live
    // task would have, and no threads in process 139.
    let all: Vec<(&str, &str)> = f.iter().map(|(c, m)| (c.as_str(), m.as_str())).collect();
    assert_eq!(
        all,
        [
            (
                "CKD-E6004",
                "core-139.img is missing: thread 139's registers and state"
            ),
            (
                "CKD-E6004",
                "core-1417044112.img is missing: thread 1417044112's registers and state"
            ),
            (
                "CKD-E6007",
                "task 139 does not list itself among its threads"
            ),
            ("CKD-E6004", "mm-139.img is missing: the memory map"),
            (
                "CKD-E6004",
                "pagemap-139.img is missing: the process's memory"
            ),
            ("CKD-E2003", "process 139: the image holds no threads"),
        ],
    );
}

// --- the tree fixture: four processes, each its own address space ---

fn ready_ids(ready: &std::collections::HashMap<String, String>, key: &str) -> Vec<u64> {
    ready[key].split(',').map(|v| v.parse().unwrap()).collect()
}

/// The `inspect` JSON of a process of the tree: the image's own, or one of
/// `other_processes`.
fn tree_process(doc: &Value, pid: u64) -> Value {
    if doc["image"]["pid"] == pid {
        return doc.clone();
    }
    doc["other_processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("no process {pid}"))
        .clone()
}

#[test]
fn tree_every_process_has_its_own_threads_and_stacks() {
    let ready = tree_ready();
    let doc = symbolized("tree");
    common::assert_valid(
        &common::schema("inspect.schema.json"),
        &doc,
        "inspect of the tree",
    );
    let pid: u64 = ready["pid"].parse().unwrap();
    let child: u64 = ready["child"].parse().unwrap();
    let grandchild: u64 = ready["grandchild"].parse().unwrap();
    let zombie: u64 = ready["zombie"].parse().unwrap();
    assert_eq!(doc["image"]["pid"], pid);
    let others: Vec<(u64, u64, String)> = doc["other_processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pid"].as_u64().unwrap(),
                p["ppid"].as_u64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // pstree order: the zombie was forked before the child.
    assert_eq!(
        others,
        [
            (zombie, pid, "tree-zombie".to_string()),
            (child, pid, "tree-child".to_string()),
            (grandchild, child, "tree-grandchild".to_string()),
        ]
    );

    // Each thread's pc and sp are crit's, and its stack names the
    // functions tree.c has it in.
    // (pid, its thread ids, each thread's innermost functions of tree.c)
    type Chains<'a> = Vec<&'a [&'a str]>;
    let expect: Vec<(u64, Vec<u64>, Chains)> = vec![
        (
            pid,
            ready_ids(&ready, "tids"),
            vec![
                &["parent_wait", "main"],
                &[
                    "usleep",
                    "parent_worker_leaf",
                    "parent_worker_mid",
                    "parent_worker",
                ],
            ],
        ),
        (
            child,
            ready_ids(&ready, "child_tids"),
            vec![
                &["pause", "child_wait", "child_main", "main"],
                &[
                    "usleep",
                    "child_worker_leaf",
                    "child_worker_mid",
                    "child_worker",
                ],
                &[
                    "usleep",
                    "child_worker_leaf",
                    "child_worker_mid",
                    "child_worker",
                ],
            ],
        ),
        (
            grandchild,
            vec![grandchild],
            vec![&[
                "pause",
                "grandchild_wait",
                "grandchild_main",
                "child_main",
                "main",
            ]],
        ),
    ];
    for (pid, tids, chains) in expect {
        let process = tree_process(&doc, pid);
        let got: Vec<u64> = process["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tid"].as_u64().unwrap())
            .collect();
        assert_eq!(got, tids, "process {pid}");
        for (tid, chain) in tids.iter().zip(chains) {
            let t = thread(&process, *tid);
            let core = reference("tree", &format!("core-{tid}.json"));
            let gp = &core["entries"][0]["thread_info"]["gpregs"];
            assert_eq!(hex(&t["frames"][0]["pc"]), hex(&gp["ip"]), "thread {tid}");
            assert_eq!(hex(&t["registers"]["rsp"]), hex(&gp["sp"]), "thread {tid}");
            let names = physical_functions(t);
            let at = names
                .iter()
                .position(|n| n.contains(chain[0]))
                .unwrap_or_else(|| panic!("thread {tid}: {names:?}"));
            assert!(names.len() - at >= chain.len(), "thread {tid}: {names:?}");
            for (n, want) in names[at..].iter().zip(chain) {
                assert!(n.contains(want), "thread {tid}: {names:?} vs {chain:?}");
            }
        }
    }
    let z = tree_process(&doc, zombie);
    assert_eq!(z["state"], "Z");
    assert_eq!(z["threads"].as_array().unwrap().len(), 0);
    assert_eq!(z["modules"].as_array().unwrap().len(), 0);
}

#[test]
fn tree_each_process_reads_its_own_pages() {
    let ready = tree_ready();
    let image = open(&images("tree"));
    let role = tree_ready_address("g_role");
    let read = |p: &ckdump::model::ProcessView, addr: u64, len: usize| {
        let mut buf = vec![0u8; len];
        p.memory.read(addr, &mut buf).unwrap();
        let end = buf.iter().position(|&b| b == 0).unwrap_or(len);
        String::from_utf8_lossy(&buf[..end]).into_owned()
    };
    let by_pid = |pid: &str| {
        let pid: u64 = ready[pid].parse().unwrap();
        image
            .processes()
            .find(|p| p.facts.as_ref().unwrap().pid == Some(pid))
            .unwrap()
    };
    // One address, three contents: g_role in .bss of each process.
    assert_eq!(read(by_pid("pid"), role, 32), "ckdump-role-parent");
    assert_eq!(read(by_pid("child"), role, 32), "ckdump-role-child");
    assert_eq!(
        read(by_pid("grandchild"), role, 32),
        "ckdump-role-grandchild"
    );
    // The parent's and the child's heap blocks sit at one address too.
    let heap = tree_ready_address("heap");
    assert_eq!(ready["heap"], ready["child_heap"]);
    assert_eq!(read(by_pid("pid"), heap, 32), "ckdump-tree-heap-parent");
    assert_eq!(read(by_pid("child"), heap, 32), "ckdump-tree-heap-child");
    let gheap = tree_ready_address("grandchild_heap");
    assert_eq!(
        read(by_pid("grandchild"), gheap, 32),
        "ckdump-tree-heap-grandchild"
    );
    // The zombie has no address space at all.
    let zombie = by_pid("zombie");
    assert!(zombie.regions.is_empty());
    assert!(zombie.memory.read(role, &mut [0u8; 1]).is_err());
    // Each process's VMAs are crit's mm-PID.img, one for one.
    for key in ["pid", "child", "grandchild"] {
        let p = by_pid(key);
        let pid = p.facts.as_ref().unwrap().pid.unwrap();
        let mm = reference("tree", &format!("mm-{pid}.json"));
        let vmas: Vec<(u64, u64)> = mm["entries"][0]["vmas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (hex(&v["start"]), hex(&v["end"])))
            .collect();
        let regions: Vec<(u64, u64)> = p.regions.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(regions, vmas, "process {pid}");
    }
}

#[test]
fn tree_verifies_clean_and_each_processes_damage_names_it() {
    let root = restore_root("tree");
    let (code, findings) = verify(&images("tree"), root.path(), &[]);
    assert_eq!(findings, []);
    assert_eq!(code, 0);

    // The grandchild's stack page dropped from its pagemap: the finding
    // is the grandchild's, and says so.
    let ready = tree_ready();
    let grandchild = &ready["grandchild"];
    let dir = copy_of("tree");
    let image = open(dir.path());
    let g = image
        .processes()
        .find(|p| p.facts.as_ref().unwrap().pid == Some(grandchild.parse().unwrap()))
        .unwrap();
    let sp = g.threads[0].registers.sp().unwrap();
    drop(image);
    let pagemap = dir.path().join(format!("pagemap-{grandchild}.img"));
    let bytes = std::fs::read(&pagemap).unwrap();
    // Entry 0 is the head (pages_id); the others are (vaddr, nr_pages).
    let list = entries(&bytes);
    let held = |r: &std::ops::Range<usize>| {
        let (vaddr, pages) = pagemap_entry(&bytes[r.start + 4..r.end]);
        vaddr <= sp && sp < vaddr + pages * 4096
    };
    assert_eq!(list.iter().skip(1).filter(|r| held(r)).count(), 1);
    // Drop that entry (the pages file is left as it was).
    let mut damaged = bytes[..8].to_vec();
    for (i, r) in list.iter().enumerate() {
        if i == 0 || !held(r) {
            damaged.extend_from_slice(&bytes[r.clone()]);
        }
    }
    std::fs::write(&pagemap, damaged).unwrap();
    let (code, findings) = verify(dir.path(), root.path(), &[]);
    assert_eq!(code, 1);
    let m = message(&findings, "CKD-E6205");
    assert!(
        m.starts_with(&format!(
            "process {grandchild}: thread {grandchild}: the stack page at sp"
        )),
        "{m}"
    );
}

/// vaddr (field 1) and nr_pages (field 2) of a pagemap entry's protobuf.
fn pagemap_entry(e: &[u8]) -> (u64, u64) {
    let (mut vaddr, mut pages, mut at) = (0, 0, 0);
    while at < e.len() {
        let (key, n) = decode_varint(e, at);
        assert_eq!(key & 7, 0, "only varint fields in a pagemap entry");
        let (value, m) = decode_varint(e, at + n);
        at += n + m;
        match key >> 3 {
            1 => vaddr = value,
            2 => pages = value,
            _ => {}
        }
    }
    (vaddr, pages)
}
