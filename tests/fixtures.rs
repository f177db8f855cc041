//! Integration tests over the project's own fixtures (testdata/cores):
//! the built binary must report exactly the values gdb and eu-stack show
//! for the same cores (testdata/expected.json, written by testdata/gen.sh).

mod common;

use serde_json::Value;

use common::*;

fn expected() -> Value {
    let text = std::fs::read_to_string(root().join("testdata/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn inspect_fixture(file: &str) -> Value {
    let r = root();
    let sysroot = r.join("testdata/sysroot");
    let symbols = r.join("symbols");
    let bins = r.join("testdata/bin");
    inspect_json(
        &r.join("testdata/cores").join(file),
        &[
            "--sysroot",
            sysroot.to_str().unwrap(),
            "--symbols",
            symbols.to_str().unwrap(),
            "--symbols",
            bins.to_str().unwrap(),
        ],
    )
}

fn hex(v: &Value) -> Option<u64> {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
}

/// A frame line matches when function, file name and line agree; a null
/// expected function (gdb and eu-stack both print `??`) matches anything.
fn frame_matches(got: &Value, want: &Value) -> bool {
    let function_ok = match want["function"].as_str() {
        None => true,
        Some(f) => {
            let g = got["function"].as_str().unwrap_or("??");
            g == f || Some(g) == want["eu_stack_function"].as_str()
        }
    };
    let file_ok = match want["file"].as_str() {
        None => true,
        Some(f) => got["file"].as_str().is_some_and(|g| g.ends_with(f)),
    };
    let line_ok = want["line"].is_null() || got["line"] == want["line"];
    function_ok
        && file_ok
        && line_ok
        && got["inlined"] == want["inlined"]
        && got["pc"] == want["pc"]
}

#[test]
fn every_fixture_matches_the_reference_tools() {
    let expected = expected();
    let cores = expected["cores"].as_object().unwrap();
    assert!(
        cores.len() >= 10,
        "expected.json lists {} cores",
        cores.len()
    );
    for (file, want) in cores {
        let report = inspect_fixture(file);
        let image = &report["image"];
        assert_eq!(image["pid"], want["pid"], "{file}: pid");
        assert_eq!(image["arch"], want["arch"], "{file}: arch");
        assert_eq!(image["process_name"], want["process_name"], "{file}: name");
        let writer = match want["writer"].as_str().unwrap() {
            "kernel" => "Linux kernel",
            "gdb" => "gdb generate-core-file",
            "gcore" => "gdb gcore (live process)",
            other => panic!("unknown writer {other}"),
        };
        assert_eq!(image["writer"], writer, "{file}: writer");
        assert_eq!(
            image["thread_count"], want["thread_count"],
            "{file}: threads"
        );

        // The crash.
        let crash = &report["crash"];
        if want["crashing_tid"].is_null() {
            assert!(crash.is_null(), "{file}: no crash expected, got {crash}");
        } else {
            assert_eq!(crash["code"], want["signal"], "{file}: signal");
            assert_eq!(crash["subcode"], want["si_code"], "{file}: si_code");
            assert_eq!(
                crash["thread"], want["crashing_tid"],
                "{file}: crashing tid"
            );
            assert_eq!(
                hex(&crash["address"]),
                hex(&want["fault_address"]),
                "{file}: fault address"
            );
            // The crashing thread comes first.
            assert_eq!(report["threads"][0]["tid"], want["crashing_tid"], "{file}");
            assert_eq!(report["threads"][0]["crashed"], true, "{file}");
        }

        // Every thread, every frame line.
        for wt in want["threads"].as_array().unwrap() {
            let tid = wt["tid"].as_u64().unwrap();
            let got = thread(&report, tid);
            let got_frames = got["frames"].as_array().unwrap();
            let want_frames = wt["frames"].as_array().unwrap();
            assert!(
                got_frames.len() >= want_frames.len(),
                "{file} thread {tid}: {} frames, want {}:\n{}",
                got_frames.len(),
                want_frames.len(),
                serde_json::to_string_pretty(got_frames).unwrap()
            );
            for (i, (g, w)) in got_frames.iter().zip(want_frames).enumerate() {
                assert!(
                    frame_matches(g, w),
                    "{file} thread {tid} line {i}:\n got  {g}\n want {w}"
                );
            }
            // The registers gen.sh recorded from eu-readelf.
            for (name, value) in wt["registers"].as_object().into_iter().flatten() {
                let reg = got["registers"]
                    .get(name)
                    .unwrap_or_else(|| panic!("{file} thread {tid}: no register {name}"));
                assert_eq!(hex(reg), hex(value), "{file} thread {tid} {name}");
            }
        }
        // The main thread is named after the process (the kernel takes
        // NT_PRPSINFO's fname from the thread-group leader).
        let main = thread(&report, want["pid"].as_u64().unwrap());
        assert_eq!(
            main["name"], want["process_name"],
            "{file}: main thread name"
        );
    }
}

#[test]
fn compressed_copies_read_the_same() {
    let plain = inspect_fixture("core.illegal.kernel");
    for f in [
        "core.illegal.kernel.zst",
        "core.illegal.kernel.xz",
        "core.illegal.kernel.bz2",
        "core.illegal.kernel.gz",
    ] {
        let other = inspect_fixture(f);
        assert_eq!(other["threads"], plain["threads"], "{f}");
        assert_eq!(other["crash"], plain["crash"], "{f}");
    }
    let names: Vec<_> = ["zst", "xz", "bz2", "gz"]
        .iter()
        .map(|e| {
            inspect_fixture(&format!("core.illegal.kernel.{e}"))["image"]["compression"].clone()
        })
        .collect();
    assert_eq!(names, ["zstd", "xz", "bzip2", "gzip"]);
}

#[test]
fn illegal_instruction_is_decoded_and_disassembled() {
    let r = root();
    let out = ckdump(&[
        "inspect",
        r.join("testdata/cores/core.illegal.kernel.zst")
            .to_str()
            .unwrap(),
        "--sysroot",
        r.join("testdata/sysroot").to_str().unwrap(),
        "--symbols",
        r.join("symbols").to_str().unwrap(),
        "--symbols",
        r.join("testdata/bin").to_str().unwrap(),
        "--disasm",
        "2",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let crash = &report["crash"];
    assert_eq!(crash["name"], "SIGILL");
    assert_eq!(crash["subcode_name"], "ILL_ILLOPN");
    let insns = crash["instructions"].as_array().unwrap();
    let current = insns.iter().find(|i| i["current"] == true).unwrap();
    assert_eq!(current["text"], "ud2");
    assert_eq!(current["bytes"], "0f 0b");
    assert_eq!(current["address"], crash["address"]);
    assert!(insns.len() >= 3, "context around ud2: {insns:?}");
}

#[test]
fn frame_pointer_fixture_unwinds_without_cfi() {
    let report = inspect_fixture("core.threads-nocfi.kernel.zst");
    let main = &report["threads"][0];
    let found: Vec<&str> = main["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["module"] == "threads-nocfi")
        .map(|f| f["found_by"].as_str().unwrap())
        .collect();
    assert!(found.contains(&"frame_pointer"), "{found:?}");
}

#[test]
fn regions_report_capture_state() {
    let expected = expected();
    let want = &expected["cores"]["core.threads.kernel.zst"];
    let r = root();
    let report = inspect_json(
        &r.join("testdata/cores/core.threads.kernel.zst"),
        &["--regions"],
    );
    let regions = report["regions"].as_array().unwrap();
    assert_eq!(
        regions.len() as u64,
        want["pt_load_count"].as_u64().unwrap()
    );
    // The kernel's default coredump_filter leaves libc's text out.
    let libc_text = regions
        .iter()
        .find(|r| {
            r["protection"] == "r-x" && r["file"].as_str().is_some_and(|f| f.ends_with("libc.so.6"))
        })
        .unwrap();
    assert_eq!(libc_text["capture"], "absent");
    assert_eq!(libc_text["captured_bytes"], 0);
}
