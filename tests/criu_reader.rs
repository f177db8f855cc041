//! The CRIU reader on the image directories in ../shared/generated/criu,
//! asserted against `crit show` of every image (reference/*.json) and
//! `crit x` (reference/*.crit-x.txt): the process tree, every VMA, every
//! register of every thread, the pagemap, and the stacks. Then damaged
//! copies: each kind of damage gives its own finding, never a panic.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ckdump::memory::{Memory, MemoryError};
use ckdump::model::{Arch, Capture, Image, ImageFormat, ModuleSource, Sharing};
use ckdump::{ErrorKind, OpenOptions};
use common::*;
use serde_json::Value;

const DUMPS: &[(&str, u64)] = &[("crashme", 119), ("loop", 120)];

fn criu_dir(shared: &Path) -> PathBuf {
    shared.join("generated/criu")
}

/// `crit show` output for one image of one dump.
fn crit(shared: &Path, dump: &str, image: &str) -> Value {
    let path = criu_dir(shared).join(format!("reference/{dump}.{image}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn entries(v: &Value) -> &Vec<Value> {
    v["entries"].as_array().expect("entries")
}

/// A crit number: JSON integer or "0x…" string.
fn num(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().expect("unsigned"),
        Value::String(s) => {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{s}"))
        }
        other => panic!("not a number: {other}"),
    }
}

/// A crit flag string (`PROT_READ | PROT_EXEC`) back to bits.
fn flag_bits(text: &str, table: &[(&str, u32)]) -> u32 {
    text.split(" | ")
        .filter(|s| !s.is_empty())
        .map(|name| {
            table
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .unwrap_or_else(|| panic!("unknown flag {name}"))
        })
        .fold(0, |a, b| a | b)
}

const PROT: &[(&str, u32)] = &[("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4)];
const MAP: &[(&str, u32)] = &[
    ("MAP_SHARED", 0x1),
    ("MAP_PRIVATE", 0x2),
    ("MAP_ANON", 0x20),
    ("MAP_GROWSDOWN", 0x100),
];
const STATUS: &[(&str, u32)] = &[
    ("VMA_AREA_REGULAR", 1 << 0),
    ("VMA_AREA_STACK", 1 << 1),
    ("VMA_AREA_VSYSCALL", 1 << 2),
    ("VMA_AREA_VDSO", 1 << 3),
    ("VMA_AREA_HEAP", 1 << 5),
    ("VMA_FILE_PRIVATE", 1 << 6),
    ("VMA_FILE_SHARED", 1 << 7),
    ("VMA_ANON_SHARED", 1 << 8),
    ("VMA_ANON_PRIVATE", 1 << 9),
    ("VMA_AREA_VVAR", 1 << 12),
];

#[test]
fn process_tree_matches_crit() {
    let Some(shared) = shared() else { return };
    for &(dump, pid) in DUMPS {
        let image = open(&criu_dir(&shared).join("images").join(dump));
        assert_eq!(image.format, ImageFormat::CriuImages);
        assert_eq!(image.target.arch, Arch::X86_64);
        let tree = crit(&shared, dump, "pstree");
        let want = entries(&tree);
        assert_eq!(image.details.processes.len(), want.len(), "{dump}");
        for (got, want) in image.details.processes.iter().zip(want) {
            assert_eq!(got.pid, num(&want["pid"]));
            assert_eq!(got.ppid, num(&want["ppid"]));
            assert_eq!(got.pgid, num(&want["pgid"]));
            assert_eq!(got.sid, num(&want["sid"]));
            let threads: Vec<u64> = want["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(num)
                .collect();
            assert_eq!(got.threads, threads, "{dump}");
            assert_eq!(got.state.as_deref(), Some("alive"));
            assert_eq!(got.exit_code, Some(0));
        }
        // The root task is the image's process, its threads the threads.
        let p = image.process.facts.as_ref().unwrap();
        assert_eq!(p.pid, Some(pid));
        assert_eq!((p.ppid, p.pgid, p.sid), (Some(0), Some(pid), Some(pid)));
        assert_eq!((p.uid, p.gid), (Some(0), Some(0)));
        assert_eq!(p.name.as_deref(), Some(dump));
        assert_eq!(p.executable.as_deref(), Some(&*format!("/bin/{dump}")));
        // The command line is read from the dumped stack page.
        let args = if dump == "crashme" {
            "/bin/crashme wait"
        } else {
            "/bin/loop"
        };
        assert_eq!(p.args.as_deref(), Some(args));
        let tids: Vec<u64> = image.process.threads.iter().map(|t| t.tid).collect();
        assert_eq!(tids, image.details.processes[0].threads);
        assert!(image.findings.is_empty(), "{dump}: {:?}", image.findings);
    }
}

#[test]
fn every_vma_matches_crit() {
    let Some(shared) = shared() else { return };
    for &(dump, pid) in DUMPS {
        let image = open(&criu_dir(&shared).join("images").join(dump));
        let mm = crit(&shared, dump, &format!("mm-{pid}"));
        let mm = &entries(&mm)[0];
        let files = crit(&shared, dump, "files");
        let paths: HashMap<u64, String> = entries(&files)
            .iter()
            .filter(|f| f["type"] == "REG")
            .map(|f| {
                (
                    num(&f["id"]),
                    f["reg"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let vmas = mm["vmas"].as_array().unwrap();
        assert_eq!(image.process.regions.len(), vmas.len(), "{dump}");
        for (r, v) in image.process.regions.iter().zip(vmas) {
            let at = format!("{dump} {:#x}", r.start);
            assert_eq!(r.start, num(&v["start"]), "{at}");
            assert_eq!(r.end, num(&v["end"]), "{at}");
            let prot = flag_bits(v["prot"].as_str().unwrap(), PROT);
            assert_eq!(
                (r.protection.read, r.protection.write, r.protection.execute),
                (prot & 1 != 0, prot & 2 != 0, prot & 4 != 0),
                "{at}"
            );
            let linux = r.linux.unwrap();
            let flags = flag_bits(v["flags"].as_str().unwrap(), MAP);
            assert_eq!(linux.mmap_flags, flags, "{at}");
            assert_eq!(r.sharing, Sharing::Private, "{at}");
            let status = flag_bits(v["status"].as_str().unwrap(), STATUS);
            assert_eq!(linux.vma_status, Some(status), "{at}");
            assert_eq!(linux.madvise, v.get("madv").map(num), "{at}");
            // File-backed VMAs name their file through shmid → files.img.
            if status & (1 << 6) != 0 {
                let f = r.file.as_ref().unwrap();
                assert_eq!(f.path, paths[&num(&v["shmid"])], "{at}");
                assert_eq!(f.offset, num(&v["pgoff"]), "{at}");
            } else {
                assert!(r.file.is_none(), "{at}");
            }
        }
        // mm_saved_auxv pairs, up to AT_NULL.
        let auxv: Vec<u64> = mm["mm_saved_auxv"]
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        let got: Vec<u64> = image
            .process
            .auxv
            .iter()
            .flat_map(|e| [e.key, e.value])
            .collect();
        assert_eq!(got[..], auxv[..got.len()], "{dump}");
        assert_eq!(&auxv[got.len()..], &[0, 0], "{dump}");
        for key in [
            "mm_start_code",
            "mm_end_code",
            "mm_start_brk",
            "mm_brk",
            "mm_arg_start",
        ] {
            assert_eq!(
                annotation(&image, &format!("criu.{key}")).map(|s| u64::from_str_radix(
                    &s[2..],
                    16
                )
                .unwrap()),
                Some(num(&mm[key])),
                "{dump} {key}"
            );
        }
    }
}

/// The `key` line as the text report prints it: the reader's annotations
/// and its typed checkpoint facts, formatted.
fn annotation(image: &Image, key: &str) -> Option<String> {
    ckdump::render::checkpoint::annotations(image)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// crit gpregs name → ckdump register name.
fn register_name(crit: &str) -> String {
    match crit {
        "ax" | "bx" | "cx" | "dx" | "si" | "di" | "bp" | "sp" | "ip" | "flags" => {
            format!("r{crit}")
        }
        "orig_ax" => "orig_rax".into(),
        other => other.to_string(),
    }
}

fn hex128(words: &[Value]) -> String {
    let mut s = String::from("0x");
    for w in words.iter().rev() {
        s.push_str(&format!("{:08x}", num(w)));
    }
    s
}

#[test]
fn every_register_of_every_thread_matches_crit() {
    let Some(shared) = shared() else { return };
    for &(dump, _) in DUMPS {
        let image = open(&criu_dir(&shared).join("images").join(dump));
        for t in &image.process.threads {
            let core = crit(&shared, dump, &format!("core-{}", t.tid));
            let core = &entries(&core)[0];
            assert_eq!(core["mtype"], "X86_64");
            let gp = core["thread_info"]["gpregs"].as_object().unwrap();
            let mut checked = 0;
            for (name, value) in gp {
                if name == "mode" {
                    assert_eq!(value, "NATIVE");
                    continue;
                }
                let ours = register_name(name);
                assert_eq!(
                    t.registers.get_named(&ours),
                    Some(num(value)),
                    "{dump} thread {} {ours}",
                    t.tid
                );
                checked += 1;
            }
            assert_eq!(checked, 27);
            assert_eq!(t.registers.len(), 27, "no register beyond crit's");

            let fp = &core["thread_info"]["fpregs"];
            let f = t.float.as_ref().unwrap();
            assert_eq!(f.fcw.map(u64::from), Some(num(&fp["cwd"])));
            assert_eq!(f.fsw.map(u64::from), Some(num(&fp["swd"])));
            assert_eq!(f.ftw.map(u64::from), Some(num(&fp["twd"])));
            assert_eq!(f.fop.map(u64::from), Some(num(&fp["fop"])));
            assert_eq!(f.fip, Some(num(&fp["rip"])));
            assert_eq!(f.fdp, Some(num(&fp["rdp"])));
            assert_eq!(f.mxcsr.map(u64::from), Some(num(&fp["mxcsr"])));
            assert_eq!(f.mxcsr_mask.map(u64::from), Some(num(&fp["mxcsr_mask"])));
            let xmm: Vec<String> = fp["xmm_space"]
                .as_array()
                .unwrap()
                .chunks(4)
                .map(hex128)
                .collect();
            assert_eq!(f.vector, xmm, "{dump} thread {} xmm", t.tid);
            let xsave = &fp["xsave"];
            assert_eq!(f.xsave_features, Some(num(&xsave["xstate_bv"])));
            let ymmh: Vec<String> = xsave["ymmh_space"]
                .as_array()
                .unwrap()
                .chunks(4)
                .map(hex128)
                .collect();
            assert_eq!(f.vector_upper, ymmh);

            let tc = &core["thread_core"];
            assert_eq!(t.name.as_deref(), tc["comm"].as_str(), "{dump} {}", t.tid);
            assert_eq!(t.blocked_signals, Some(tc.get("blk_sigset").map_or(0, num)));
            assert_eq!(t.pending_signals, Some(0));
        }
    }
}

#[test]
fn pagemap_entries_map_to_consecutive_pages() {
    let Some(shared) = shared() else { return };
    for &(dump, pid) in DUMPS {
        let dir = criu_dir(&shared).join("images").join(dump);
        let image = open(&dir);
        let pagemap = crit(&shared, dump, &format!("pagemap-{pid}"));
        let list = entries(&pagemap);
        assert_eq!(num(&list[0]["pages_id"]), 1);
        let pages = std::fs::read(dir.join("pages-1.img")).unwrap();
        let mut offset = 0usize;
        let memory: &dyn Memory = &*image.process.memory;
        for e in &list[1..] {
            let vaddr = num(&e["vaddr"]);
            let len = num(&e["nr_pages"]) as usize * 4096;
            assert!(e["flags"].as_str().unwrap().contains("PE_PRESENT"));
            let mut buf = vec![0u8; len];
            memory.read_exact(vaddr, &mut buf).unwrap();
            assert!(buf == pages[offset..offset + len], "{dump} {vaddr:#x}");
            offset += len;
        }
        assert_eq!(offset, pages.len(), "{dump}: every page accounted for");
        // Captured bytes per region add up to the pages file.
        let captured: u64 = image
            .process
            .regions
            .iter()
            .map(|r| match r.capture {
                Capture::Full => r.size(),
                Capture::Partial { bytes } => bytes,
                Capture::Absent => 0,
            })
            .sum();
        assert_eq!(captured, pages.len() as u64);
    }
    // Mapped but not dumped, and not mapped at all, are different answers.
    let image = open(&criu_dir(&shared).join("images/crashme"));
    let memory: &dyn Memory = &*image.process.memory;
    assert_eq!(
        memory.read_u64(0x7fc1f922c000),
        Err(MemoryError::NotCaptured {
            address: 0x7fc1f922c000
        })
    );
    assert_eq!(
        memory.read_u64(0x1000),
        Err(MemoryError::Unmapped { address: 0x1000 })
    );
}

#[test]
fn files_descriptors_and_namespaces_match_crit() {
    let Some(shared) = shared() else { return };
    for &(dump, _) in DUMPS {
        let image = open(&criu_dir(&shared).join("images").join(dump));
        let files = crit(&shared, dump, "files");
        for f in entries(&files) {
            let reg = &f["reg"];
            let text = annotation(&image, &format!("criu.file.{}", num(&f["id"]))).unwrap();
            assert!(text.starts_with(reg["name"].as_str().unwrap()), "{text}");
            if let Some(size) = reg.get("size") {
                assert!(text.contains(&format!(" size {} ", num(size))), "{text}");
            }
            assert!(
                text.contains(&format!(" mode {:o}", num(&reg["mode"]))),
                "{text}"
            );
            if let Some(words) = reg.get("build_id") {
                let hex: String = words
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|w| (num(w) as u32).to_le_bytes())
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert!(text.ends_with(&format!("build-id {hex}")), "{text}");
                // …and the module of that file carries the same build-id.
                let m = image
                    .process
                    .modules
                    .iter()
                    .find(|m| m.path == reg["name"].as_str().unwrap())
                    .unwrap();
                assert_eq!(m.build_id.as_deref(), Some(&*hex));
            }
        }
        let fds = crit(&shared, dump, "fdinfo-2");
        for fd in entries(&fds) {
            let path = entries(&files)
                .iter()
                .find(|f| f["id"] == fd["id"])
                .map(|f| f["reg"]["name"].as_str().unwrap().to_string());
            assert_eq!(
                annotation(&image, &format!("criu.fd.{}", num(&fd["fd"]))),
                path
            );
        }
        assert_eq!(annotation(&image, "criu.cwd").as_deref(), Some("/"));
        assert_eq!(annotation(&image, "criu.umask").as_deref(), Some("0022"));
        let timens = crit(&shared, dump, "timens-0");
        let mono = &entries(&timens)[0]["monotonic"];
        assert_eq!(
            annotation(&image, "criu.timens.monotonic"),
            Some(format!(
                "{}.{:09} s",
                num(&mono["tv_sec"]),
                num(&mono["tv_nsec"])
            ))
        );
        assert_eq!(
            annotation(&image, "criu.seccomp").as_deref(),
            Some("0 filters, 0 BPF instructions")
        );
        assert_eq!(annotation(&image, "criu.img_version").as_deref(), Some("2"));
        assert_eq!(annotation(&image, "criu.lsm").as_deref(), Some("none"));
        // Every file of the directory is listed with its magic and entries.
        let listed: HashMap<&str, (Option<&str>, Option<u64>)> = image
            .details
            .files
            .iter()
            .map(|f| (f.name.as_str(), (f.kind, f.entries)))
            .collect();
        assert_eq!(listed["pstree.img"], (Some("PSTREE"), Some(1)));
        assert_eq!(
            listed["files.img"],
            (Some("FILES"), Some(entries(&files).len() as u64))
        );
        assert_eq!(listed["pages-1.img"], (None, None));
        assert_eq!(listed["stats-dump"].0, Some("STATS"));
    }
}

fn stack_args(shared: &Path) -> Vec<String> {
    let criu = criu_dir(shared);
    let libs = shared.join("generated/linux-cores/libs");
    vec![
        "--symbols".into(),
        criu.display().to_string(),
        "--symbols".into(),
        libs.display().to_string(),
        "--no-host-symbols".into(),
    ]
}

#[test]
fn stacks_through_the_common_walker() {
    let Some(shared) = shared() else { return };
    let args = stack_args(&shared);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = inspect_json(&criu_dir(&shared).join("images/crashme"), &args);
    assert_eq!(report["image"]["format"], "criu-images");
    assert_eq!(report["image"]["pid"], 119);
    assert_eq!(report["crash"], Value::Null);
    let main = physical_functions(thread(&report, 119));
    assert_eq!(
        main,
        [
            "__libc_pause",
            "main",
            "__libc_start_call_main",
            "__libc_start_main_impl",
            "_start"
        ]
    );
    for tid in [122, 123, 124] {
        let t = thread(&report, tid);
        assert_eq!(t["name"], format!("worker-{}", tid - 122));
        let names = physical_functions(t);
        let at = names.iter().position(|n| n == "usleep").unwrap();
        assert_eq!(
            names[at..at + 4],
            ["usleep", "worker_leaf", "worker_mid", "worker"],
            "{tid}: {names:?}"
        );
        assert!(
            names[..at].iter().any(|n| n.contains("nanosleep")),
            "{names:?}"
        );
    }
    let processes = report["processes"].as_array().unwrap();
    assert_eq!(
        processes[0]["threads"],
        serde_json::json!([119, 122, 123, 124])
    );

    let report = inspect_json(&criu_dir(&shared).join("images/loop"), &args);
    let names = physical_functions(thread(&report, 120));
    let at = names.iter().position(|n| n == "main").unwrap();
    assert!(names[..at].iter().any(|n| n.contains("sleep")), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("_start"));
}

#[test]
fn json_regions_are_spelled_like_crit() {
    let Some(shared) = shared() else { return };
    let report = inspect_json(&criu_dir(&shared).join("images/crashme"), &["--regions"]);
    let mm = crit(&shared, "crashme", "mm-119");
    let vmas = entries(&mm)[0]["vmas"].as_array().unwrap().clone();
    let regions = report["regions"].as_array().unwrap();
    assert_eq!(regions.len(), vmas.len());
    for (r, v) in regions.iter().zip(&vmas) {
        assert_eq!(r["start"], v["start"]);
        assert_eq!(r["linux"]["flags"], v["flags"]);
        assert_eq!(r["linux"]["status"], v["status"]);
    }
    let heap = regions
        .iter()
        .find(|r| r["start"] == "0x55821e615000")
        .unwrap();
    assert_eq!(heap["linux"]["label"], "[heap]");
}

/// A sysroot laid out as the dumped machine had it, from the shipped files.
fn sysroot(shared: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let libs = shared.join("generated/linux-cores/libs");
    for (rel, src) in [
        ("bin/crashme", criu_dir(shared).join("crashme")),
        ("lib/x86_64-linux-gnu/libc.so.6", libs.join("libc.so.6")),
        (
            "lib64/ld-linux-x86-64.so.2",
            libs.join("ld-linux-x86-64.so.2"),
        ),
    ] {
        let dst = root.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(src, dst).unwrap();
    }
    root
}

#[test]
fn a_sysroot_supplies_the_pages_criu_does_not_dump() {
    let Some(shared) = shared() else { return };
    let root = sysroot(&shared);
    let options = OpenOptions {
        sysroot: Some(root.path().to_path_buf()),
        ..OpenOptions::default()
    };
    let dir = criu_dir(&shared).join("images/crashme");
    let image = ckdump::open(&dir, &options).unwrap();
    // Unmodified file pages come from the build-id-checked original: the
    // ELF headers are readable, and with them the dynamic linker's list.
    let mut magic = [0u8; 4];
    image
        .process
        .memory
        .read_exact(0x5581df80d000, &mut magic)
        .unwrap();
    assert_eq!(&magic, b"\x7fELF");
    let exe = image.process.modules.iter().find(|m| m.is_main).unwrap();
    assert_eq!(exe.path, "/bin/crashme");
    assert_eq!(exe.load_bias, Some(0x5581df80d000));
    assert!(exe.sources.contains(&ModuleSource::MemoryHeader));
    assert!(exe.sources.contains(&ModuleSource::LinkMap));
    // Dumped pages still win over the file.
    let pages = std::fs::read(dir.join("pages-1.img")).unwrap();
    let mut first = [0u8; 16];
    image
        .process
        .memory
        .read_exact(0x5581df80e000, &mut first)
        .unwrap();
    assert_eq!(first, pages[..16]);

    // The same through the CLI: binaries found under --sysroot alone.
    let report = inspect_json(
        &dir,
        &[
            "--sysroot",
            root.path().to_str().unwrap(),
            "--no-host-symbols",
        ],
    );
    let names = physical_functions(thread(&report, 122));
    assert!(
        names.windows(2).any(|w| w == ["worker_leaf", "worker_mid"]),
        "{names:?}"
    );
}

#[test]
fn a_file_inside_the_directory_opens_the_directory() {
    let Some(shared) = shared() else { return };
    let dir = criu_dir(&shared).join("images/crashme");
    let image = open(&dir.join("core-122.img"));
    assert_eq!(image.path, dir);
    assert_eq!(image.process.threads.len(), 4);
    // A directory without inventory.img is not a dump.
    let empty = tempfile::tempdir().unwrap();
    let e = ckdump::open(empty.path(), &no_host_files()).err().unwrap();
    assert!(matches!(e.kind, ErrorKind::IsDirectory));
}

// --- damage ---

/// A writable copy of a dump directory.
fn copy_of(shared: &Path, dump: &str) -> tempfile::TempDir {
    let src = criu_dir(shared).join("images").join(dump);
    let dst = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        std::fs::copy(e.path(), dst.path().join(e.file_name())).unwrap();
    }
    dst
}

#[test]
fn a_cut_pages_file_is_a_finding_and_its_pages_are_not_captured() {
    let Some(shared) = shared() else { return };
    let dir = copy_of(&shared, "crashme");
    let pages = dir.path().join("pages-1.img");
    // Keep 30 of 33 pages: the last entry (vdso, 2 pages) and the upper
    // page of the stack entry before it are gone.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&pages)
        .unwrap();
    f.set_len(30 * 4096).unwrap();
    let image = open(dir.path());
    assert_eq!(codes(&image), ["CKD-E6005"], "{:?}", image.findings);
    let f = &image.findings[0];
    assert!(
        f.message.contains("3 pages past the cut are missing"),
        "{}",
        f.message
    );
    assert_eq!(f.location.offset, Some(30 * 4096));
    for gone in [0x7ffcf2104000, 0x7ffcf2068670] {
        assert_eq!(
            image.process.memory.read_u64(gone),
            Err(MemoryError::NotCaptured { address: gone })
        );
    }
    // Pages before the cut are still read, from where they always were.
    let pages = std::fs::read(&pages).unwrap();
    let mut low = [0u8; 8];
    image
        .process
        .memory
        .read_exact(0x7ffcf2067ff8, &mut low)
        .unwrap();
    assert_eq!(low, pages[30 * 4096 - 8..]);
}

#[test]
fn a_dropped_pagemap_entry_is_a_finding() {
    let Some(shared) = shared() else { return };
    let dir = copy_of(&shared, "crashme");
    let path = dir.path().join("pagemap-119.img");
    let bytes = std::fs::read(&path).unwrap();
    // Header (8 bytes), then length-prefixed entries; drop entry 3 (the
    // third pagemap_entry after the head).
    let mut at = 8;
    let mut spans = Vec::new();
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        spans.push(at..at + 4 + len);
        at += 4 + len;
    }
    let mut out = bytes[..8].to_vec();
    for (i, s) in spans.iter().enumerate() {
        if i != 3 {
            out.extend_from_slice(&bytes[s.clone()]);
        }
    }
    std::fs::write(&path, out).unwrap();
    let image = open(dir.path());
    // The pages file has two pages too many, and the pagemap two fewer
    // than CRIU counted in stats-dump.
    assert_eq!(
        codes(&image),
        ["CKD-E6005", "CKD-W6014"],
        "{:?}",
        image.findings
    );
    assert_eq!(
        image.findings[1].message,
        "the pagemaps list 31 pages in this image, stats-dump says CRIU wrote 33"
    );
    assert!(
        image.findings[0]
            .message
            .contains("8192 more than the 31 present pages"),
        "{}",
        image.findings[0].message
    );
}

#[test]
fn damaged_cores_give_specific_findings() {
    let Some(shared) = shared() else { return };
    // A flipped byte where the message starts: an invalid wire type.
    let dir = copy_of(&shared, "crashme");
    let core = dir.path().join("core-122.img");
    let mut bytes = std::fs::read(&core).unwrap();
    bytes[12] = 0x0f;
    std::fs::write(&core, &bytes).unwrap();
    let image = open(dir.path());
    assert_eq!(codes(&image), ["CKD-E6003"], "{:?}", image.findings);
    assert_eq!(
        image.findings[0].location.path.as_deref(),
        Some("core-122.img")
    );
    assert_eq!(image.findings[0].location.offset, Some(12));
    let tids: Vec<u64> = image.process.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, [119, 123, 124]);

    // A flipped magic: the file is not a core image any more.
    let dir = copy_of(&shared, "crashme");
    let core = dir.path().join("core-123.img");
    let mut bytes = std::fs::read(&core).unwrap();
    bytes[5] ^= 0xff;
    std::fs::write(&core, &bytes).unwrap();
    let image = open(dir.path());
    assert!(codes(&image).contains(&"CKD-E6001"), "{:?}", image.findings);
    assert!(codes(&image).contains(&"CKD-N6010"), "{:?}", image.findings);
    assert_eq!(image.process.threads.len(), 3);

    // A damaged length prefix: the entry runs past the end of the file.
    let dir = copy_of(&shared, "crashme");
    let core = dir.path().join("core-119.img");
    let mut bytes = std::fs::read(&core).unwrap();
    bytes[9] = 0x40;
    std::fs::write(&core, &bytes).unwrap();
    let image = open(dir.path());
    assert!(codes(&image).contains(&"CKD-E6002"), "{:?}", image.findings);
    // The leader's core is gone; the other threads still give the arch.
    assert_eq!(image.target.arch, Arch::X86_64);
    assert_eq!(image.process.threads.len(), 3);

    // A missing core.
    let dir = copy_of(&shared, "crashme");
    std::fs::remove_file(dir.path().join("core-124.img")).unwrap();
    let image = open(dir.path());
    assert_eq!(codes(&image), ["CKD-E6004"], "{:?}", image.findings);
}

#[test]
fn an_unusable_pstree_is_a_one_line_error() {
    let Some(shared) = shared() else { return };
    let dir = copy_of(&shared, "crashme");
    let pstree = dir.path().join("pstree.img");
    let mut bytes = std::fs::read(&pstree).unwrap();
    bytes.truncate(10);
    std::fs::write(&pstree, &bytes).unwrap();
    let e = ckdump::open(dir.path(), &no_host_files()).err().unwrap();
    let text = e.to_string();
    assert!(matches!(e.kind, ErrorKind::Malformed { .. }), "{text}");
    assert!(text.contains("pstree.img"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

/// Every small image truncated at every length, and with every byte
/// flipped, opens to an image or a one-line error, and inspects.
#[test]
fn damage_sweep_never_panics() {
    let Some(shared) = shared() else { return };
    let dir = copy_of(&shared, "crashme");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".img") && n != "pages-1.img")
        .collect();
    let mut cases = 0;
    for name in names {
        let path = dir.path().join(&name);
        let original = std::fs::read(&path).unwrap();
        let step = (original.len() / 64).max(1);
        let mut variants: Vec<Vec<u8>> = (0..original.len())
            .step_by(step)
            .map(|n| original[..n].to_vec())
            .collect();
        for i in 0..original.len() {
            let mut v = original.clone();
            v[i] ^= 0xa5;
            variants.push(v);
        }
        for v in variants {
            std::fs::write(&path, &v).unwrap();
            match ckdump::open(dir.path(), &no_host_files()) {
                Ok(image) => {
                    let report = ckdump::analysis::inspect(&image, &Default::default());
                    assert!(report.threads.len() <= 4);
                }
                Err(e) => assert!(!e.to_string().contains('\n'), "{name}: {e}"),
            }
            cases += 1;
        }
        std::fs::write(&path, &original).unwrap();
    }
    assert!(cases > 1000, "{cases}");
}

#[test]
fn json_matches_the_schemas_and_verify_gates_on_damage() {
    let Some(shared) = shared() else { return };
    let inspect = schema("inspect.schema.json");
    for &(dump, _) in DUMPS {
        let dir = criu_dir(&shared).join("images").join(dump);
        let doc = inspect_json(&dir, &["--regions", "--disasm", "2"]);
        assert_valid(&inspect, &doc, dump);
        assert!(!doc["image_files"].as_array().unwrap().is_empty());
    }
    // A clean dump checked against its own files passes every check.
    let root = sysroot(&shared);
    let dir = criu_dir(&shared).join("images/crashme");
    let out = ckdump(&[
        "verify",
        dir.to_str().unwrap(),
        "--sysroot",
        root.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("verify.schema.json"), &doc, "verify");
    assert_eq!(doc["findings"], serde_json::json!([]), "{doc}");
    assert_eq!(out.status.code(), Some(0));
    let criu_checks = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"].as_str().unwrap().starts_with("CKD-E6"))
        .filter(|c| c["status"] == "passed")
        .count();
    // E6001-E6008, E6011-E6013, and the restore page checks E6204/E6205
    // (without --root the file and CPU checks of 62xx do not apply).
    assert_eq!(criu_checks, 13);

    // A cut pages file fails verify with its code.
    let damaged = copy_of(&shared, "crashme");
    let pages = damaged.path().join("pages-1.img");
    let len = std::fs::metadata(&pages).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pages)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let out = ckdump(&[
        "verify",
        damaged.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CKD-E6005"), "{codes:?}");
}

/// A pre-dump chain: the child marks one entry's pages as in-parent and
/// leaves them out of its pages file; reads find them in `parent/`.
#[test]
fn in_parent_pages_are_read_from_the_parent_snapshot() {
    let Some(shared) = shared() else { return };
    let parent = copy_of(&shared, "crashme");
    let child = copy_of(&shared, "crashme");
    std::os::unix::fs::symlink(parent.path(), child.path().join("parent")).unwrap();
    // Entry #1 (after the head) is 0x5581df80e000, 1 page, at offset 0 of
    // pages-1.img; its flags field (tag 4) ends the entry: PE_PRESENT (4)
    // becomes PE_PARENT (1).
    let path = child.path().join("pagemap-119.img");
    let mut bytes = std::fs::read(&path).unwrap();
    let head_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let at = 12 + head_len;
    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let end = at + 4 + len;
    assert_eq!(&bytes[end - 2..end], &[0x20, 0x04]);
    bytes[end - 1] = 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let pages_path = child.path().join("pages-1.img");
    let pages = std::fs::read(&pages_path).unwrap();
    std::fs::write(&pages_path, &pages[4096..]).unwrap();
    // CRIU's counts in stats-dump describe the unedited dump.
    std::fs::remove_file(child.path().join("stats-dump")).unwrap();

    let image = open(child.path());
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    let mut buf = vec![0u8; 4096];
    image
        .process
        .memory
        .read_exact(0x5581df80e000, &mut buf)
        .unwrap();
    assert!(buf == pages[..4096]);
    // Pages after it moved up by one page in the child's file.
    image
        .process
        .memory
        .read_exact(0x5581df810000, &mut buf)
        .unwrap();
    assert!(buf == pages[4096..8192]);
    let text = image
        .process
        .regions
        .iter()
        .find(|r| r.start == 0x5581df80e000)
        .unwrap();
    assert_eq!(text.capture, Capture::Full);
    assert_eq!(
        annotation(&image, "criu.pages_elsewhere").as_deref(),
        Some("1 in the parent snapshot, 0 lazy")
    );

    // Without the parent the page is not captured, and a note says why.
    std::fs::remove_file(child.path().join("parent")).unwrap();
    let image = open(child.path());
    assert_eq!(codes(&image), ["CKD-N6009"], "{:?}", image.findings);
    assert_eq!(
        image.process.memory.read_u64(0x5581df80e000),
        Err(MemoryError::NotCaptured {
            address: 0x5581df80e000
        })
    );
}
