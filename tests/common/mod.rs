//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod drgn;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environment variable that turns every skip below into a failure.
/// `.ci/run` sets it to 1: in CI a missing fixture or tool is a broken
/// environment, not a reason for a test to pass without checking anything.
pub const REQUIRE_FIXTURES: &str = "CKDUMP_REQUIRE_FIXTURES";

/// Whether `CKDUMP_REQUIRE_FIXTURES=1` is set.
pub fn fixtures_required() -> bool {
    std::env::var_os(REQUIRE_FIXTURES).is_some_and(|v| v == "1")
}

/// The one way a test gives up for want of something outside the
/// repository: prints a notice naming `what` (the caller then returns
/// early), or panics with it when `CKDUMP_REQUIRE_FIXTURES=1`.
#[track_caller]
pub fn skip(what: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if fixtures_required() {
        panic!("{test}: {what}, and {REQUIRE_FIXTURES}=1 forbids skipping");
    }
    // Written to the stderr handle, not with eprintln!, which the test
    // harness captures and hides for a passing test.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "notice: {test} skipped: {what} (set {REQUIRE_FIXTURES}=1 to make this a failure)"
    );
}

/// `path`, or None after `skip` when it does not exist.
#[track_caller]
pub fn require_path(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        Some(path.to_path_buf())
    } else {
        skip(&format!("{} is absent", path.display()));
        None
    }
}

/// `../shared` beside the repository (a user's clone has none; CI always
/// has it), or None after `skip`.
#[track_caller]
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    if p.is_dir() {
        Some(p)
    } else {
        skip(&format!("../shared ({}) is absent", p.display()));
        None
    }
}

/// `../shared/REL` (a file or directory), or None after `skip` when
/// ../shared or REL in it is absent.
#[track_caller]
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    require_path(&shared()?.join(rel))
}

/// The executable `name` on PATH, or None after `skip`.
#[track_caller]
pub fn require_tool(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    if found.is_none() {
        skip(&format!("the tool `{name}` is not installed (not on PATH)"));
    }
    found
}

/// Open options that read nothing from the host (no system libraries for
/// symbols), so what a test sees does not depend on the machine.
pub fn no_host_files() -> ckdump::OpenOptions {
    ckdump::OpenOptions {
        use_host_files: false,
        ..ckdump::OpenOptions::default()
    }
}

/// Opens `path` with `options`, panicking with the error.
pub fn open_with(path: &Path, options: &ckdump::OpenOptions) -> ckdump::Image {
    ckdump::open(path, options).unwrap_or_else(|e| panic!("{e}"))
}

/// Opens `path` without host files, panicking with the error.
pub fn open(path: &Path) -> ckdump::Image {
    open_with(path, &no_host_files())
}

/// The finding codes of an image, in order.
pub fn codes(image: &ckdump::Image) -> Vec<&'static str> {
    image.findings.iter().map(|f| f.code).collect()
}

/// A path as a command-line argument (fixture paths are UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Copies the files of directory `from` into `to` (created), keeping
/// symbolic links as links (a CRIU `parent` link must keep pointing at
/// its sibling).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A `"0x…"` JSON string as a number.
pub fn hex_u64(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The value of register `name` of a thread in a JSON report.
pub fn register(thread: &serde_json::Value, name: &str) -> u64 {
    hex_u64(
        thread["registers"]
            .get(name)
            .unwrap_or_else(|| panic!("no {name}")),
    )
}

/// Runs the built `ckdump` binary from the repository root (so relative
/// fixture paths work, as `cargo test` runs tests there too).
pub fn ckdump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ckdump"))
        .args(args)
        .current_dir(root())
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        // No debuginfod server a user's shell names (tests/debuginfod.rs
        // starts its own).
        .env_remove("DEBUGINFOD_URLS")
        .output()
        .expect("run ckdump")
}

/// Runs `ckdump inspect --format json` and parses the result.
pub fn inspect_json(image: &Path, extra: &[&str]) -> serde_json::Value {
    let image = image.to_str().expect("utf-8 path");
    let mut args = vec!["inspect", image, "--format", "json"];
    args.extend_from_slice(extra);
    let out = ckdump(&args);
    assert!(
        out.status.success(),
        "ckdump {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// The outermost (non-inlined) function name of each physical frame.
pub fn physical_functions(thread: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut last_index = None;
    for f in thread["frames"].as_array().into_iter().flatten() {
        if f["inlined"].as_bool() == Some(true) {
            continue;
        }
        let idx = f["index"].as_u64();
        if idx == last_index {
            continue;
        }
        last_index = idx;
        names.push(f["function"].as_str().unwrap_or("??").to_string());
    }
    names
}

/// Thread in a report by tid.
pub fn thread(report: &serde_json::Value, tid: u64) -> &serde_json::Value {
    report["threads"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["tid"].as_u64() == Some(tid)))
        .unwrap_or_else(|| panic!("no thread {tid} in report"))
}

/// Decompresses a `.zst` / `.bz2` file into a temp file.
pub fn decompressed(path: &Path) -> tempfile::NamedTempFile {
    let mut out = tempfile::NamedTempFile::new().expect("temp file");
    let input = std::fs::File::open(path).expect("open fixture");
    match path.extension().and_then(|e| e.to_str()) {
        Some("zst") => {
            zstd::stream::copy_decode(input, &mut out).expect("zstd");
        }
        Some("bz2") => {
            let mut d = bzip2::read::MultiBzDecoder::new(input);
            std::io::copy(&mut d, &mut out).expect("bzip2");
        }
        _ => {
            let mut i = input;
            std::io::copy(&mut i, &mut out).expect("copy");
        }
    }
    out
}

/// eu-stack -v output: per TID, the function name of each frame.
pub fn parse_eu_stack(text: &str) -> Vec<(u64, Vec<String>)> {
    let mut threads: Vec<(u64, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TID ") {
            let tid = rest.trim_end_matches(':').trim().parse().expect("tid");
            threads.push((tid, Vec::new()));
        } else if line.starts_with('#') {
            // "#3  0x00005574753b72d4 - 1 crash_here - crashme"
            let body = line.split_whitespace().collect::<Vec<_>>();
            let mut i = 2;
            if body.get(i) == Some(&"-") {
                i += 2;
            }
            let name = body.get(i).copied().unwrap_or("??").to_string();
            if let Some(t) = threads.last_mut() {
                t.1.push(name);
            }
        }
    }
    threads
}

/// gdb `thread apply all bt`: per LWP, the function name of each frame.
pub fn parse_gdb_bt(text: &str) -> Vec<(u64, Vec<String>)> {
    let mut threads: Vec<(u64, Vec<String>)> = Vec::new();
    let mut in_bt = false;
    for line in text.lines() {
        if line.starts_with("Thread ") && line.contains("(LWP ") {
            let lwp = line.split("(LWP ").nth(1).and_then(|s| s.split(')').next());
            let tid = lwp.and_then(|s| s.trim().parse().ok()).expect("lwp");
            threads.push((tid, Vec::new()));
            in_bt = true;
        } else if in_bt && line.starts_with('#') {
            let rest = line
                .split_once(char::is_whitespace)
                .map(|x| x.1)
                .unwrap_or("");
            let rest = rest.trim_start();
            let rest = match rest.split_once(" in ") {
                Some((addr, r)) if addr.starts_with("0x") => r,
                _ => rest,
            };
            let name = rest.split(" (").next().unwrap_or("??").to_string();
            if let Some(t) = threads.last_mut() {
                t.1.push(name);
            }
        } else if line.trim().is_empty() {
            continue;
        }
    }
    threads
}

/// An Image built by hand, without any reader: only modules, no threads,
/// regions or memory (for symbolizer tests on real binaries).
pub fn image_with_modules(
    path: &Path,
    format: ckdump::model::ImageFormat,
    os: ckdump::model::Os,
    arch: ckdump::model::Arch,
    modules: Vec<ckdump::model::Module>,
) -> ckdump::Image {
    use ckdump::model::{FormatDetails, ProcessView, Producer, Target};
    ckdump::Image {
        path: path.to_path_buf(),
        format,
        compression: None,
        size: 0,
        target: Target {
            os,
            arch,
            kernel: false,
            page_size: ckdump::model::DEFAULT_PAGE_SIZE,
            cpu_count: None,
            os_version: None,
            cpu: None,
        },
        producer: Producer::Unknown,
        fault: None,
        timestamp: None,
        details: FormatDetails::default(),
        findings: Vec::new(),
        process: ProcessView {
            modules,
            ..ProcessView::empty(std::sync::Arc::new(ckdump::memory::NoMemory))
        },
        other_processes: Vec::new(),
    }
}

/// The JSON schema `schema/NAME`, compiled.
pub fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schema").join(name)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Fails with every schema error of `doc`, each with its JSON path.
pub fn assert_valid(validator: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}",
        errors.join("\n")
    );
}

/// A protobuf varint's bytes (test edits of CRIU image entries).
pub fn encode_varint(mut v: u64) -> Vec<u8> {
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

/// The protobuf varint at `bytes[at..]`: its value and its length.
pub fn decode_varint(bytes: &[u8], at: usize) -> (u64, usize) {
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

/// `key=value` pairs of the ready line the tree fixture's program printed
/// in the guest (testdata/criu/reference/tree/guest/tree.stdout.txt).
pub fn tree_ready() -> std::collections::HashMap<String, String> {
    let path = root().join("testdata/criu/reference/tree/guest/tree.stdout.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().find(|l| l.starts_with("ready ")).unwrap();
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A `0x…` value of the tree fixture's ready line.
pub fn tree_ready_address(key: &str) -> u64 {
    let ready = tree_ready();
    u64::from_str_radix(ready[key].trim_start_matches("0x"), 16).unwrap()
}

/// A frame as eu-stack prints it: function, file name (without its
/// directories), line, column; `??` / empty / 0 where it has none.
pub type Frame = (String, String, u32, Option<u32>);

/// The frames of an `eu-stack -v` reference, per thread id.
pub fn eu_stack_frames(reference: &Path) -> Vec<(u64, Vec<Frame>)> {
    let text = std::fs::read_to_string(reference).unwrap();
    let mut threads: Vec<(u64, Vec<Frame>)> = Vec::new();
    for line in text.lines() {
        if let Some(tid) = line.strip_prefix("TID ") {
            threads.push((tid.trim_end_matches(':').parse().unwrap(), Vec::new()));
        } else if line.starts_with('#') {
            // "#5  0x000055c743e5f3b5 - 1 do_work - threads"
            let name = line
                .rsplit_once(" - ")
                .unwrap()
                .0
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string();
            threads
                .last_mut()
                .unwrap()
                .1
                .push((name, String::new(), 0, None));
        } else if let Some(loc) = line.strip_prefix("    ") {
            let parts: Vec<&str> = loc.split(':').collect();
            let frame = threads.last_mut().unwrap().1.last_mut().unwrap();
            let file = parts[0].rsplit('/').next().unwrap().to_string();
            frame.1 = file;
            frame.2 = parts[1].parse().unwrap();
            frame.3 = parts.get(2).map(|c| c.parse().unwrap());
        }
    }
    threads
}

/// ckdump's frames (inlined ones included) for thread `tid` of a JSON
/// report, in eu-stack's terms.
pub fn report_frames(report: &serde_json::Value, tid: u64) -> Vec<Frame> {
    thread(report, tid)["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("??").to_string(),
                f["file"]
                    .as_str()
                    .map(|p| p.rsplit('/').next().unwrap().to_string())
                    .unwrap_or_default(),
                f["line"].as_u64().unwrap_or(0) as u32,
                f["column"].as_u64().map(|c| c as u32),
            )
        })
        .collect()
}

/// The main executable's entry in an inspect report's modules (listed in
/// address order, so not always first).
pub fn main_module(report: &serde_json::Value) -> &serde_json::Value {
    report["modules"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["main"] == true))
        .unwrap_or_else(|| panic!("no main module in {}", report["modules"]))
}
