//! makedumpfile `--split` dumps read as one: split sets derived on the host
//! from the real Debian 6.1 guest dump in ../shared/generated/vmcores (its
//! ELF form, `makedumpfile -E -d 31`), checked against the unsplit
//! kdump-compressed dump of the same crash, and the findings for broken
//! sets (a missing part, parts of two dumps, overlapping and repeated
//! parts, one part alone) on real derived parts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ckdump::image::vmcore::kdump_compressed::KdumpCompressed;
use ckdump::memory::Bytes;
use ckdump::model::SplitPart;
use serde_json::Value;

const KDUMP: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const ELF_ZST: &str = "generated/vmcores/vmcore-kdump-makedumpfile-E-d31.elf.zst";
/// The dump's max_mapnr: every split set covers PFNs [0, this).
const MAX_MAPNR: u64 = 0x17fc9;

/// A file or directory derived once per test run under the target's temp
/// directory: made under a temporary name, then renamed (the first rename
/// wins when tests or test binaries race).
fn derived(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if !path.exists() {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        make(&tmp);
        if std::fs::rename(&tmp, &path).is_err() {
            // Another test made it first.
            let _ = std::fs::remove_dir_all(&tmp);
            let _ = std::fs::remove_file(&tmp);
        }
    }
    path
}

/// The ELF form of the dump, decompressed (the same file tests/vmcore_kdump.rs derives).
fn elf_path() -> Option<PathBuf> {
    let zst = common::shared_path(ELF_ZST)?;
    Some(derived("vmcore-kdump-E-d31.elf", |out| {
        let mut input = std::fs::File::open(&zst).unwrap();
        let mut output = std::fs::File::create(out).unwrap();
        zstd::stream::copy_decode(&mut input, &mut output).unwrap();
    }))
}

/// The files `makedumpfile --split OPTIONS ELF vmcore.1 … vmcore.N` writes
/// (N = `parts`), in a directory of their own, or None after a skip.
///
/// `--splitblock-size 1024` (KiB): with its default block makedumpfile puts
/// every page of this small guest in the first part (tests/vmcore_kdump.rs
/// shows it); 1 MiB blocks spread the pages over the parts.
fn split_set(name: &str, options: &[&str], parts: usize) -> Option<Vec<PathBuf>> {
    let elf = elf_path()?;
    let tool = common::require_tool("makedumpfile")?;
    let names: Vec<String> = (1..=parts).map(|i| format!("vmcore.{i}")).collect();
    let dir = derived(name, |tmp| {
        std::fs::create_dir_all(tmp).unwrap();
        let outputs: Vec<PathBuf> = names.iter().map(|n| tmp.join(n)).collect();
        let mut args: Vec<&str> = vec!["--split", "--splitblock-size", "1024"];
        args.extend_from_slice(options);
        args.push(common::p(&elf));
        args.extend(outputs.iter().map(|o| common::p(o)));
        let out = Command::new(&tool).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "makedumpfile {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    Some(names.iter().map(|n| dir.join(n)).collect())
}

/// `-c -d 31` in two parts: PFNs [0, 0x8c00) and [0x8c00, max_mapnr).
fn zlib_pair() -> Option<Vec<PathBuf>> {
    split_set("split-c-d31-2", &["-c", "-d", "31"], 2)
}

/// `-l -d 31` in three parts: [0, 0x8200), [0x8200, 0x9c00), [0x9c00, max_mapnr).
fn lzo_triple() -> Option<Vec<PathBuf>> {
    split_set("split-l-d31-3", &["-l", "-d", "31"], 3)
}

/// `-c -d 1` in two parts: the same crash at another dump level.
fn level1_pair() -> Option<Vec<PathBuf>> {
    split_set("split-c-d1-2", &["-c", "-d", "1"], 2)
}

fn args_with<'a>(command: &'a str, paths: &'a [&'a Path], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command];
    args.extend(paths.iter().map(|p| common::p(p)));
    args.extend_from_slice(extra);
    args
}

/// `ckdump inspect PATHS… --format json`, which must succeed.
fn inspect(paths: &[&Path]) -> Value {
    let args = args_with("inspect", paths, &["--format", "json"]);
    let out = common::ckdump(&args);
    assert!(
        out.status.success(),
        "ckdump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `ckdump verify PATHS… --format json EXTRA…`: exit code and report.
fn verify(paths: &[&Path], extra: &[&str]) -> (i32, Value) {
    let mut tail = vec!["--format", "json"];
    tail.extend_from_slice(extra);
    let out = common::ckdump(&args_with("verify", paths, &tail));
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), report)
}

fn codes(report: &Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

/// The finding of `code`: (message, the file it names).
fn finding<'a>(report: &'a Value, code: &str) -> (&'a str, &'a str) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report}"));
    (
        f["message"].as_str().unwrap(),
        f["location"]["path"].as_str().unwrap_or(""),
    )
}

fn status<'a>(report: &'a Value, code: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .and_then(|c| c["status"].as_str())
        .unwrap()
}

const SPLIT_CHECKS: [&str; 5] = [
    "CKD-E7101",
    "CKD-E7102",
    "CKD-W7103",
    "CKD-W7104",
    "CKD-E7105",
];

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// What the report of a complete set shares with the unsplit dump's, and
/// the values crash prints for this crash.
fn assert_reads_as_the_unsplit_dump(report: &Value, unsplit: &Value) {
    for key in [
        "format",
        "release",
        "build_id",
        "kernel_offset",
        "crash_time",
        "dump_level",
        "incomplete",
        "panic_cpu",
        "cpus",
        "log",
        "vmcoreinfo",
    ] {
        assert_eq!(report["kernel"][key], unsplit["kernel"][key], "{key}");
    }
    assert_eq!(report["crash"], unsplit["crash"]);
    let k = &report["kernel"];
    assert_eq!(k["release"], "6.1.0-56-cloud-amd64");
    assert_eq!(report["crash"]["kind"], "panic");
    assert_eq!(report["crash"]["description"], "sysrq triggered crash");
    assert_eq!(k["panic_cpu"], 1);
    assert_eq!(k["log"].as_array().unwrap().len(), 421);
    let cpu1 = &k["cpus"][1];
    assert_eq!(cpu1["prstatus_pid"], 1);
    assert_eq!(common::register(cpu1, "rip"), 0xffff_ffff_a696_475a);
    assert_eq!(common::register(cpu1, "rsp"), 0xff73_5d20_0001_39a0);
    assert_eq!(
        common::physical_functions(cpu1),
        [
            "__crash_kexec",
            "panic",
            "sysrq_handle_crash",
            "__handle_sysrq.cold",
            "write_sysrq_trigger",
            "proc_reg_write",
            "vfs_write",
            "ksys_write",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ]
    );
    let cpu0 = &k["cpus"][0];
    assert_eq!(common::register(cpu0, "rip"), 0xffff_ffff_a721_7a0b);
    // The NMI handler's frames on the NMI stack (crash's #0-#3), then the
    // halt the crash NMI interrupted.
    assert_eq!(
        common::physical_functions(cpu0)[..5],
        [
            "crash_nmi_callback",
            "default_do_nmi",
            "exc_nmi",
            "end_repeat_nmi",
            "native_safe_halt"
        ]
    );
    assert_eq!(codes(report), ["CKD-N7011"]);
}

#[test]
fn a_split_set_reads_as_the_unsplit_dump_in_any_order() {
    let Some(kdump) = common::shared_path(KDUMP) else {
        return;
    };
    let (Some(pair), Some(triple)) = (zlib_pair(), lzo_triple()) else {
        return;
    };
    let unsplit = common::inspect_json(&kdump, &[]);
    for (paths, parts) in [
        (vec![&*pair[0], &*pair[1]], 2),
        (vec![&*pair[1], &*pair[0]], 2),
        (vec![&*triple[2], &*triple[0], &*triple[1]], 3),
    ] {
        let report = inspect(&paths);
        assert_reads_as_the_unsplit_dump(&report, &unsplit);
        // Named after the part that starts at PFN 0, whatever the order.
        let first = if parts == 2 { &pair[0] } else { &triple[0] };
        assert_eq!(report["image"]["path"], show(first));
        assert_eq!(
            report["image"]["writer"],
            format!("makedumpfile (KDUMP, header version 6), a --split set of {parts} files")
        );
    }
    // The text report says the same as the unsplit one's.
    let out = common::ckdump(&args_with(
        "inspect",
        &[&pair[1], &pair[0]],
        &["--log", "0"],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\nCrash: kernel panic on CPU 1 (pid 1), in process context\n  Kernel panic - not syncing: sysrq triggered crash\n"),
        "{text}"
    );
}

#[test]
fn each_part_holds_its_own_pfn_range_and_the_whole_bitmaps() {
    let Some(pair) = zlib_pair() else { return };
    let parse = |p: &Path| {
        let bytes = Bytes::map_file(&std::fs::File::open(p).unwrap()).unwrap();
        KdumpCompressed::parse(Arc::new(bytes)).unwrap()
    };
    let (one, two) = (parse(&pair[0]), parse(&pair[1]));
    assert!(one.is_split_part() && two.is_split_part());
    assert_eq!(one.pfn_range(), (0, 0x8c00));
    assert_eq!(two.pfn_range(), (0x8c00, MAX_MAPNR));
    assert_eq!((one.dumped_pages(), two.dumped_pages()), (8367, 8348));
    // Both carry the bitmaps of the whole dump: 16,715 dumped pages, as the
    // unsplit file makedumpfile derives from the ELF form.
    assert!(one.same_bitmaps(&two));
    assert_eq!(one.dumped_in(0, MAX_MAPNR), 16_715);
    assert_eq!(two.dumped_in(0, 0x8c00), 8367);

    // The model lists the parts in PFN order, whatever order they came in.
    let image = ckdump::open_set(
        &[pair[1].clone(), pair[0].clone()],
        &common::no_host_files(),
    )
    .unwrap();
    let kernel = image.details.kernel.as_ref().unwrap();
    assert_eq!(
        kernel.split_parts,
        [
            SplitPart {
                path: pair[0].clone(),
                start_pfn: 0,
                end_pfn: 0x8c00
            },
            SplitPart {
                path: pair[1].clone(),
                start_pfn: 0x8c00,
                end_pfn: MAX_MAPNR
            },
        ]
    );
    let sizes: u64 = pair
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(image.size, sizes);
    // A dump in one file lists no parts.
    if let Some(kdump) = common::shared_path(KDUMP) {
        let whole = common::open(&kdump);
        assert!(whole.details.kernel.unwrap().split_parts.is_empty());
    }
}

#[test]
fn verify_passes_a_whole_set_in_any_order() {
    let Some(kdump) = common::shared_path(KDUMP) else {
        return;
    };
    let Some(pair) = zlib_pair() else { return };
    for paths in [[&*pair[0], &*pair[1]], [&*pair[1], &*pair[0]]] {
        let (code, report) = verify(&paths, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(codes(&report), ["CKD-N7011"]);
        for check in SPLIT_CHECKS {
            assert_eq!(status(&report, check), "passed", "{check}");
        }
        assert_eq!(report["path"], show(paths[0]));
    }
    // A dump in one file: the split checks do not apply.
    let (code, report) = verify(&[&kdump], &[]);
    assert_eq!(code, 0);
    for check in SPLIT_CHECKS {
        assert_eq!(status(&report, check), "not_applicable", "{check}");
    }
}

#[test]
fn one_part_alone_opens_and_says_what_the_rest_of_the_set_holds() {
    let Some(pair) = zlib_pair() else { return };
    // The second part holds the kernel's page tables: its CPUs' stacks read.
    let report = inspect(&[&pair[1]]);
    assert_eq!(report["kernel"]["release"], "6.1.0-56-cloud-amd64");
    assert_eq!(report["kernel"]["cpus"].as_array().unwrap().len(), 2);
    assert_eq!(
        common::physical_functions(&report["kernel"]["cpus"][0])
            .first()
            .map(String::as_str),
        Some("native_safe_halt")
    );
    assert_eq!(
        report["image"]["writer"],
        "makedumpfile (KDUMP, header version 6), one part of a --split set (PFNs [0x8c00, 0x17fc9))"
    );
    // CPU 1's stack is in vmalloc space, mapped by tables in the other part.
    assert_eq!(codes(&report), ["CKD-E7105", "CKD-W7009", "CKD-N7011"]);
    assert_eq!(
        finding(&report, "CKD-W7009").0,
        "CPU 1's stack cannot be read at its saved sp 0xff735d20000139a0, so its backtrace stops \
         at its registers: 0xff735d20000139a0 cannot be translated: the P4D page that maps it \
         (physical 0x1000000) is in a part of the --split dump that was not given"
    );
    let (message, path) = finding(&report, "CKD-E7105");
    assert_eq!(
        message,
        format!(
            "{} is one part of a makedumpfile --split set and holds PFNs [0x8c00, 0x17fc9) only; \
             PFNs [0x0, 0x8c00) (8367 dumped pages) are in the rest of the set, which is needed: \
             give all its files together",
            show(&pair[1])
        )
    );
    assert_eq!(path, show(&pair[1]));

    // The first part alone: the page tables are in the other part.
    let (code, report) = verify(&[&pair[0]], &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["CKD-E7105", "CKD-W7009", "CKD-N7011"]);
    let (message, _) = finding(&report, "CKD-E7105");
    assert!(
        message.contains(
            "holds PFNs [0x0, 0x8c00) only; PFNs [0x8c00, 0x17fc9) (8348 dumped pages) are in the rest of the set"
        ),
        "{message}"
    );
    assert_eq!(status(&report, "CKD-E7102"), "passed");
}

#[test]
fn a_missing_part_is_named_by_its_pfn_range() {
    let Some(triple) = lzo_triple() else { return };
    let (code, report) = verify(&[&triple[2], &triple[0]], &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["CKD-E7102", "CKD-W7009", "CKD-N7011"]);
    let (message, path) = finding(&report, "CKD-E7102");
    assert_eq!(
        message,
        format!(
            "no part given holds PFNs [0x8200, 0x9c00) (between {} (ends at PFN 0x8200) and {}): \
             a part of the set is missing, and its 5788 dumped pages read as not captured",
            show(&triple[0]),
            show(&triple[2])
        )
    );
    assert_eq!(path, show(&triple[0]));
    // Without the first part the gap is at the start.
    let (code, report) = verify(&[&triple[1], &triple[2]], &[]);
    assert_eq!(code, 1);
    let (message, _) = finding(&report, "CKD-E7102");
    assert!(
        message.starts_with("no part given holds PFNs [0x0, 0x8200) (before "),
        "{message}"
    );
    assert!(message.ends_with("its 5807 dumped pages read as not captured"));
}

#[test]
fn a_part_of_another_dump_is_left_out() {
    let (Some(pair), Some(level1)) = (zlib_pair(), level1_pair()) else {
        return;
    };
    // Part 1 of the -d 31 set with part 2 of the -d 1 set, either order.
    for paths in [[&*level1[1], &*pair[0]], [&*pair[0], &*level1[1]]] {
        let (code, report) = verify(&paths, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            codes(&report),
            ["CKD-E7101", "CKD-E7102", "CKD-W7009", "CKD-N7011"]
        );
        let (message, path) = finding(&report, "CKD-E7101");
        assert_eq!(
            message,
            format!(
                "{} is not a part of the dump {} belongs to (its dump level is 1, not 31; its page \
                 bitmaps differ); its pages, PFNs [0x8d00, 0x17fc9), are left out",
                show(&level1[1]),
                show(&pair[0])
            )
        );
        assert_eq!(path, show(&level1[1]));
        let (message, _) = finding(&report, "CKD-E7102");
        assert!(
            message.starts_with("no part given holds PFNs [0x8c00, 0x17fc9) (after "),
            "{message}"
        );
    }
}

#[test]
fn a_repeated_part_is_read_once() {
    let Some(pair) = zlib_pair() else { return };
    let (code, report) = verify(&[&pair[0], &pair[1], &pair[1]], &[]);
    assert_eq!(code, 0, "a warning does not fail the default gate");
    assert_eq!(codes(&report), ["CKD-W7104", "CKD-N7011"]);
    let (message, path) = finding(&report, "CKD-W7104");
    assert_eq!(
        message,
        format!("{} is given twice; it is read once", show(&pair[1]))
    );
    assert_eq!(path, show(&pair[1]));
    let (code, _) = verify(&[&pair[0], &pair[1], &pair[1]], &["--fail-on", "warning"]);
    assert_eq!(code, 1);

    // A copy of a part under another name.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("vmcore.2.copy");
    std::fs::copy(&pair[1], &copy).unwrap();
    let (code, report) = verify(&[&copy, &pair[0], &pair[1]], &[]);
    assert_eq!(code, 0);
    let (message, _) = finding(&report, "CKD-W7104");
    assert!(
        message.ends_with("(a copy of that part); it is read once"),
        "{message}"
    );
}

#[test]
fn overlapping_parts_of_two_runs_still_read_the_whole_dump() {
    let Some(kdump) = common::shared_path(KDUMP) else {
        return;
    };
    let (Some(pair), Some(triple)) = (zlib_pair(), lzo_triple()) else {
        return;
    };
    // [0, 0x8c00) from the zlib pair, [0x8200, 0x9c00) and the rest from
    // the LZO triple: the same dump, compressed otherwise, ranges overlap.
    let paths = [&*triple[1], &*pair[0], &*triple[2]];
    let (code, report) = verify(&paths, &[]);
    assert_eq!(code, 0);
    assert_eq!(codes(&report), ["CKD-W7103", "CKD-N7011"]);
    let (message, path) = finding(&report, "CKD-W7103");
    assert_eq!(
        message,
        format!(
            "{} (PFNs [0x8200, 0x9c00)) overlaps {} (PFNs [0x0, 0x8c00)) in PFNs [0x8200, \
             0x8c00): parts of two --split runs of this dump; those pages are read from {}",
            show(&triple[1]),
            show(&pair[0]),
            show(&pair[0])
        )
    );
    assert_eq!(path, show(&triple[1]));
    let unsplit = common::inspect_json(&kdump, &[]);
    let mut report = inspect(&paths);
    // The overlap finding is the one difference.
    let findings = report["findings"].as_array_mut().unwrap();
    findings.retain(|f| f["code"] != "CKD-W7103");
    assert_reads_as_the_unsplit_dump(&report, &unsplit);
}

#[test]
fn several_paths_that_are_not_split_parts_are_refused() {
    let Some(kdump) = common::shared_path(KDUMP) else {
        return;
    };
    let Some(pair) = zlib_pair() else { return };
    let out = common::ckdump(&args_with("inspect", &[&pair[0], &kdump], &[]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "ckdump: {}: a whole kdump-compressed dump, not a part of a makedumpfile --split dump: \
             several paths are read as the parts of one split dump (kdump-compressed files whose \
             sub-header has the split flag); give this file alone\n",
            show(&kdump)
        )
    );
    let elf = elf_path().unwrap();
    let (code, _) = verify(&[&elf, &pair[0]], &[]);
    assert_eq!(code, 2);
}
