//! Symbol stores as SymStore and real servers lay them out — CAB-compressed
//! files (made by gcab from the real PDB and PE), `file.ptr` redirections,
//! two-tier stores, `SRV*` in `_NT_SYMBOL_PATH` — served over loopback by
//! an HTTP server the test starts, and files named directly (`--symbols
//! FILE`, `-e FILE`) for a Windows minidump and a Linux core. The frames
//! asserted are the ones tests/conformance_minidumps.rs takes from
//! minidump-stackwalk and winedbg for crash_selfdump_cv.dmp, and
//! testdata/expected.json's for core.threads.kernel.zst.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The PDB id and PE code id crash_selfdump_cv.dmp records for crash.exe.
const PDB_ID: &str = "946FFD09270C149F4C4C44205044422E1";
const CODE_ID: &str = "6B03869E6000";

/// A GET-only HTTP/1.1 file server over `root`, recording every request
/// path.
fn serve(root: PathBuf) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            log.lock().unwrap().push(path.clone());
            let file = root.join(path.trim_start_matches('/'));
            match std::fs::read(&file) {
                Ok(body) if file.is_file() => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                }
                _ => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    (format!("http://{addr}"), requests)
}

/// The real crash.exe / crash.pdb and the minidump of their crash.
fn windows() -> Option<(PathBuf, PathBuf)> {
    let dir = common::shared_path("generated/windows")?;
    Some((dir.join("bin"), dir.join("dumps/crash_selfdump_cv.dmp")))
}

/// `file` CAB-compressed by gcab (MSZIP, no path inside) as `dest`.
fn cab(gcab: &Path, file: &Path, dest: &Path) {
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let status = Command::new(gcab)
        .args(["-c", "-n", "-z"])
        .arg(dest)
        .arg(file)
        .status()
        .unwrap();
    assert!(status.success(), "gcab failed on {}", file.display());
}

/// `ckdump inspect DUMP --format json ARGS`, with `env` set, the symbol
/// path variables cleared unless set there, and the default cache under
/// `home`.
fn run(image: &Path, args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ckdump"));
    cmd.arg("inspect")
        .arg(image)
        .args(["--format", "json", "--no-host-symbols"])
        .args(args)
        .current_dir(common::root())
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        .env("XDG_CACHE_HOME", home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The crashing thread's frames as (function, line) pairs, the first five.
fn crash_frames(r: &Value) -> Vec<(String, Option<u64>)> {
    let tid = r["crash"]["thread"].as_u64().unwrap();
    common::thread(r, tid)["frames"].as_array().unwrap()[..5]
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64(),
            )
        })
        .collect()
}

/// What crash_selfdump_cv.dmp's stack is with crash.pdb and crash.exe
/// (minidump-stackwalk with symbols, winedbg): four functions with lines,
/// then kernel32 without symbols.
fn symbolized() -> Vec<(String, Option<u64>)> {
    [
        ("walk_list(node*, int)", Some(10)),
        ("level2(int)", Some(13)),
        ("level1(int)", Some(14)),
        ("start()", Some(20)),
        ("", None),
    ]
    .iter()
    .map(|(f, l)| (f.to_string(), *l))
    .collect()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn cab_compressed_pdb_and_exe_from_a_server_then_from_the_cache() {
    let Some((bin, dump)) = windows() else { return };
    let Some(gcab) = common::require_tool("gcab") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    cab(
        &gcab,
        &bin.join("crash.pdb"),
        &store.path().join(format!("crash.pdb/{PDB_ID}/crash.pd_")),
    );
    cab(
        &gcab,
        &bin.join("crash.exe"),
        &store.path().join(format!("crash.exe/{CODE_ID}/crash.ex_")),
    );
    let (url, requests) = serve(store.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Upper-case SRV*, as Microsoft's documentation writes it.
    let entry = format!("SRV*{}*{url}", cache.path().display());

    // Without symbols: no names, and nothing but scanning below frame 0,
    // whose frames are dropped (the walk has no unwind tables to trust).
    let without = report(&run(&dump, &[], &[], home.path()));
    let tid = without["crash"]["thread"].as_u64().unwrap();
    let t = common::thread(&without, tid);
    assert!(
        t["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["function"].is_null()),
        "{t}"
    );
    assert_eq!(t["frames"].as_array().unwrap().len(), 1, "{t}");
    assert!(t["dropped_scanned_frames"].as_u64().unwrap() > 0, "{t}");

    let out = run(&dump, &["--symbols", &entry], &[], home.path());
    let r = report(&out);
    assert_eq!(crash_frames(&r), symbolized());
    let first: Vec<String> = requests.lock().unwrap().clone();
    for wanted in [
        format!("/crash.pdb/{PDB_ID}/crash.pdb"),
        format!("/crash.pdb/{PDB_ID}/crash.pd_"),
        format!("/crash.exe/{CODE_ID}/crash.exe"),
        format!("/crash.exe/{CODE_ID}/crash.ex_"),
        "/index2.txt".to_string(),
    ] {
        assert!(first.contains(&wanted), "{wanted} not in {first:?}");
    }
    // The index probe once per run, not per file.
    assert_eq!(first.iter().filter(|p| *p == "/index2.txt").count(), 1);
    // Expanded into the cache under the plain names.
    assert_eq!(
        std::fs::read(cache.path().join(format!("crash.pdb/{PDB_ID}/crash.pdb"))).unwrap(),
        std::fs::read(bin.join("crash.pdb")).unwrap()
    );
    let main = &common::main_module(&r);
    assert_eq!(main["symbols"], "pdb");
    assert_eq!(
        main["binary"].as_str().unwrap(),
        cache
            .path()
            .join(format!("crash.exe/{CODE_ID}/crash.exe"))
            .display()
            .to_string()
    );
    // Callers from the fetched binary's .pdata, as with the files beside.
    let tid = r["crash"]["thread"].as_u64().unwrap();
    let found: Vec<&str> = common::thread(&r, tid)["frames"].as_array().unwrap()[1..4]
        .iter()
        .map(|f| f["found_by"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["cfi", "cfi", "cfi"]);

    // Second run: everything (found or not) is known from the cache.
    let again = report(&run(&dump, &["--symbols", &entry], &[], home.path()));
    assert_eq!(crash_frames(&again), symbolized());
    assert_eq!(requests.lock().unwrap().len(), first.len());
}

#[test]
fn file_ptr_redirections_and_messages() {
    let Some((bin, dump)) = windows() else { return };
    let store = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(bin.join("crash.pdb"), elsewhere.path().join("crash.pdb")).unwrap();
    let pointer = store.path().join(format!("crash.pdb/{PDB_ID}/file.ptr"));
    std::fs::create_dir_all(pointer.parent().unwrap()).unwrap();
    std::fs::write(
        &pointer,
        format!("PATH:{}", elsewhere.path().join("crash.pdb").display()),
    )
    .unwrap();
    let exe_pointer = store.path().join(format!("crash.exe/{CODE_ID}/file.ptr"));
    std::fs::create_dir_all(exe_pointer.parent().unwrap()).unwrap();
    std::fs::write(&exe_pointer, "MSG: withheld by the build team").unwrap();
    let (url, requests) = serve(store.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let entry = format!("srv*{}*{url}", cache.path().display());

    let r = report(&run(&dump, &["--symbols", &entry], &[], home.path()));
    // Names and lines from the PDB the pointer names; without the binary
    // the callers are scanned, as minidump-stackwalk's are without it.
    let names: Vec<String> = common::physical_functions(common::thread(&r, 304))[..1].to_vec();
    assert_eq!(names, ["walk_list(node*, int)"]);
    let main = &common::main_module(&r);
    assert_eq!(
        main["debug_file"].as_str().unwrap(),
        elsewhere.path().join("crash.pdb").display().to_string()
    );
    assert!(
        main["problem"].as_str().unwrap().contains(&format!(
            "{url}/crash.exe/{CODE_ID}/file.ptr: the store says: withheld by the build team"
        )),
        "{main}"
    );
    assert!(
        requests
            .lock()
            .unwrap()
            .contains(&format!("/crash.pdb/{PDB_ID}/file.ptr"))
    );

    // The same store read as a local directory.
    let local = report(&run(
        &dump,
        &["--symbols", store.path().to_str().unwrap()],
        &[],
        home.path(),
    ));
    assert_eq!(
        common::main_module(&local)["debug_file"].as_str().unwrap(),
        elsewhere.path().join("crash.pdb").display().to_string()
    );
}

#[test]
fn two_tier_stores_on_a_server_and_on_disk_and_nt_symbol_path() {
    let Some((bin, dump)) = windows() else { return };
    let Some(gcab) = common::require_tool("gcab") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("index2.txt"), "").unwrap();
    let pdb = store
        .path()
        .join(format!("cr/crash.pdb/{PDB_ID}/crash.pdb"));
    std::fs::create_dir_all(pdb.parent().unwrap()).unwrap();
    std::fs::copy(bin.join("crash.pdb"), &pdb).unwrap();
    cab(
        &gcab,
        &bin.join("crash.exe"),
        &store
            .path()
            .join(format!("cr/crash.exe/{CODE_ID}/crash.ex_")),
    );
    let (url, requests) = serve(store.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();

    // From _NT_SYMBOL_PATH, upper-case SRV*.
    let nt = format!("SRV*{}*{url}", cache.path().display());
    let r = report(&run(&dump, &[], &[("_NT_SYMBOL_PATH", &nt)], home.path()));
    assert_eq!(crash_frames(&r), symbolized());
    let seen = requests.lock().unwrap().clone();
    assert!(
        seen.contains(&format!("/cr/crash.pdb/{PDB_ID}/crash.pdb")),
        "{seen:?}"
    );
    assert!(
        !seen.contains(&format!("/crash.pdb/{PDB_ID}/crash.pdb")),
        "{seen:?}"
    );

    // The same store on disk (the compressed binary expands into the
    // default cache, under XDG_CACHE_HOME).
    let r = report(&run(
        &dump,
        &[],
        &[("CKDUMP_SYMBOL_PATH", store.path().to_str().unwrap())],
        home.path(),
    ));
    assert_eq!(crash_frames(&r), symbolized());
    assert_eq!(
        common::main_module(&r)["binary"].as_str().unwrap(),
        home.path()
            .join(format!("ckdump/symbols/crash.exe/{CODE_ID}/crash.exe"))
            .display()
            .to_string()
    );
}

#[test]
fn a_dead_server_and_a_missing_path_are_each_said_once() {
    let Some((_, dump)) = windows() else { return };
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let out = run(
        &dump,
        &[
            "--symbols",
            &format!("srv*{}*{url}", cache.path().display()),
            "--symbols",
            "/nonexistent/symbols",
            "--sysroot",
            "/nonexistent/root",
        ],
        &[],
        home.path(),
    );
    report(&out);
    let lines = stderr_lines(&out);
    assert_eq!(
        lines[..2],
        [
            "ckdump: warning: symbol path entry /nonexistent/symbols: no such file or directory; nothing is read from it",
            "ckdump: warning: --sysroot /nonexistent/root: no such directory; no files are read from it",
        ]
    );
    let dead: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("cannot be reached"))
        .collect();
    assert_eq!(dead.len(), 1, "{lines:?}");
    assert!(
        dead[0].starts_with(&format!(
            "ckdump: warning: symbol server {url} cannot be reached ("
        )),
        "{dead:?}"
    );
    assert!(dead[0].ends_with("); nothing is fetched from it in this run"));
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[test]
fn a_pdb_and_an_exe_named_directly() {
    let Some((bin, dump)) = windows() else { return };
    let home = tempfile::tempdir().unwrap();
    let pdb = bin.join("crash.pdb");
    let exe = bin.join("crash.exe");
    let out = run(
        &dump,
        &[
            "--symbols",
            pdb.to_str().unwrap(),
            "-e",
            exe.to_str().unwrap(),
        ],
        &[],
        home.path(),
    );
    let r = report(&out);
    assert_eq!(crash_frames(&r), symbolized());
    assert_eq!(stderr_lines(&out), Vec::<String>::new());
    // kernel32 and ntdll have none: one note each, under the stack.
    let notes = common::thread(&r, 304)["symbol_notes"].as_array().unwrap();
    assert_eq!(
        notes[0],
        format!(
            "no symbols for kernel32.dll (code id 63F14E2B195000): looked in {}; pass --symbols DIR|FILE|srv*CACHE*URL",
            pdb.display()
        )
    );

    // Another program's PE as -e: refused, said once. threads.exe has
    // crash.exe's timestamp and size (lld-link's reproducible timestamp):
    // its PDB id tells them apart (reference/guid-check.txt).
    for (other, code_id, pdb_id) in [
        ("threads.exe", CODE_ID, "5A1ACC12391FA8E04C4C44205044422E1"),
        (
            "mcrash.exe",
            "6B0384583c000",
            "56E8C2A11D7647EF4C4C44205044422E1",
        ),
    ] {
        let other = bin.join(other);
        let out = run(
            &dump,
            &[
                "--symbols",
                pdb.to_str().unwrap(),
                "-e",
                other.to_str().unwrap(),
            ],
            &[],
            home.path(),
        );
        let r = report(&out);
        assert_eq!(
            stderr_lines(&out),
            [format!(
                "ckdump: warning: -e {}: code id {code_id} and PDB id {pdb_id} are not the image's \
                 crash.exe ({CODE_ID}, {PDB_ID}); the file is not used",
                other.display()
            )]
        );
        assert_eq!(common::main_module(&r)["binary"], Value::Null);
    }
}

/// The Linux core of testdata/bin/threads, its binary named with -e and
/// libc named as a file: the frames gain libc's names and the walk goes
/// on by CFI where it scanned.
#[test]
fn an_elf_executable_and_a_library_named_directly() {
    let root = common::root();
    let core = root.join("testdata/cores/core.threads.kernel.zst");
    let exe = root.join("testdata/bin/threads");
    let libc = root.join("testdata/sysroot/usr/lib/x86_64-linux-gnu/libc.so.6");
    let home = tempfile::tempdir().unwrap();
    let names = |r: &Value| -> Vec<String> {
        common::thread(r, 20353)["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["function"].as_str().unwrap_or("").to_string())
            .collect()
    };

    let bare = run(&core, &[], &[], home.path());
    let r = report(&bare);
    assert_eq!(names(&r)[..2], ["", ""]);
    assert_eq!(
        common::thread(&r, 20353)["symbol_notes"][0],
        "no symbols for threads (build-id ef4ea17280cefee9d9850ed7430c51485a809748): \
         looked nowhere (no --symbols, and --no-host-symbols); pass --symbols DIR or -e FILE"
    );

    let out = run(
        &core,
        &[
            "-e",
            exe.to_str().unwrap(),
            "--symbols",
            libc.to_str().unwrap(),
        ],
        &[],
        home.path(),
    );
    let r = report(&out);
    assert_eq!(stderr_lines(&out), Vec::<String>::new());
    assert_eq!(
        names(&r),
        [
            "crash_here",
            "crash_here",
            "crash_here",
            "crash_here",
            "do_work",
            "main",
            "",
            "__libc_start_main",
            "_start"
        ]
    );
    let found: Vec<&str> = common::thread(&r, 20353)["frames"].as_array().unwrap()[7..]
        .iter()
        .map(|f| f["found_by"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["cfi", "cfi"]);
    assert!(common::thread(&r, 20353).get("symbol_notes").is_none());

    // Another build as -e: refused with one warning, the stack unnamed.
    let other = root.join("testdata/bin/threads-nocfi");
    let out = run(&core, &["-e", other.to_str().unwrap()], &[], home.path());
    let r = report(&out);
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "ckdump: warning: -e {}: build-id fea1d7dbc59695a5d872111668ebf5ed287bd9ab differs \
             from the image's threads (ef4ea17280cefee9d9850ed7430c51485a809748); the file is not used",
            other.display()
        )]
    );
    assert_eq!(names(&r)[0], "");

    // A file that is no module's build: said once.
    let out = run(
        &core,
        &["--symbols", other.to_str().unwrap()],
        &[],
        home.path(),
    );
    report(&out);
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "ckdump: warning: --symbols {}: no module of the image is this file's build \
             (checked by build-id, PDB or .sym id, or PE timestamp and size); it is not used",
            other.display()
        )]
    );
}

/// Breakpad's minidump2.dmp with its test_app.sym named as a file, not
/// laid out in a store: the crashing stack as with the store
/// (tests/conformance_minidumps.rs, minidump-stackwalk's).
#[test]
fn a_breakpad_sym_named_directly() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dump = shared.join("corpus/breakpad/minidump2.dmp");
    let sym = shared.join(
        "corpus/breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
    );
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("renamed.sym");
    std::fs::copy(&sym, &file).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = run(
        &dump,
        &["--symbols", file.to_str().unwrap()],
        &[],
        home.path(),
    );
    let r = report(&out);
    assert_eq!(stderr_lines(&out), Vec::<String>::new());
    let frames = common::thread(&r, 0xbf4)["frames"].as_array().unwrap();
    let got: Vec<(&str, u64)> = frames[..3]
        .iter()
        .map(|f| (f["function"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("`anonymous namespace'::CrashFunction", 58),
            ("main", 65),
            ("__tmainCRTStartup", 327)
        ]
    );
    assert_eq!(
        common::main_module(&r)["debug_file"].as_str().unwrap(),
        file.display().to_string()
    );
}
