//! debuginfod against a real server: Debian's `debuginfod` started on
//! loopback over a folder holding copies of the fixtures' binaries and
//! debug files. `core.threads.kernel` run with no symbols at all gets
//! unnamed frames; with `DEBUGINFOD_URLS` it gets eu-stack's stacks, frame
//! by frame, from files the server sent — and again from the cache once
//! the server is gone. A file with another build-id (served, or left in
//! the cache) is refused; a server that is not there costs at most
//! `DEBUGINFOD_TIMEOUT` and is named once.
//!
//! Every run uses a temporary `DEBUGINFOD_CACHE_PATH`, never the user's.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const CORE: &str = "testdata/cores/core.threads.kernel.zst";
const REFERENCE: &str = "testdata/reference/core.threads.kernel.eu-stack.txt";
/// The build-ids the core's modules carry (eu-readelf -n): the program,
/// libc.so.6 and ld-linux-x86-64.so.2.
const THREADS_ID: &str = "ef4ea17280cefee9d9850ed7430c51485a809748";
const LIBC_ID: &str = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";
const LD_ID: &str = "7ebc65e52f2bbea498b4040fa92f7238377aaba9";
/// Another build of the same program (`threads-dwarf4`).
const OTHER_ID: &str = "1b6f22b1f90e54a4aa320f71ea53253a1c3adfca";

/// The files the server is given: each module's binary and debug file.
fn served_files() -> Vec<(PathBuf, &'static str)> {
    let r = root();
    let lib = r.join("testdata/sysroot/usr/lib/x86_64-linux-gnu");
    vec![
        (r.join("testdata/bin/threads"), "threads"),
        (
            r.join(format!("symbols/.build-id/ef/{}.debug", &THREADS_ID[2..])),
            "threads.debug",
        ),
        (lib.join("libc.so.6"), "libc.so.6"),
        (
            r.join(format!("symbols/.build-id/93/{}.debug", &LIBC_ID[2..])),
            "libc.so.6.debug",
        ),
        (lib.join("ld-linux-x86-64.so.2"), "ld-linux-x86-64.so.2"),
        (
            r.join(format!("symbols/.build-id/7e/{}.debug", &LD_ID[2..])),
            "ld-linux-x86-64.so.2.debug",
        ),
    ]
}

/// A `debuginfod -F` process on 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server over copies of `served_files()` and waits until
    /// its first scan is over (its /metrics say so).
    fn start(debuginfod: &Path) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        for (from, name) in served_files() {
            std::fs::copy(&from, files.join(name))
                .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
        let port = free_port();
        let child = Command::new(debuginfod)
            .arg("-F")
            .arg("-d")
            .arg(dir.path().join("db.sqlite"))
            .args(["-p", &port.to_string()])
            .arg(&files)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("start debuginfod");
        let mut server = Server {
            child,
            port,
            _dir: dir,
        };
        server.wait_for_scan();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls /metrics until the traversal ran and no scan work is left.
    fn wait_for_scan(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default();
                panic!("debuginfod exited ({status}): {log}");
            }
            if let Some(metrics) = http_get(self.port, "/metrics") {
                let value = |key: &str| {
                    metrics
                        .lines()
                        .find_map(|l| l.strip_prefix(key)?.trim().parse::<f64>().ok())
                };
                if value("thread_work_total{role=\"traverse\"}").is_some_and(|v| v >= 1.0)
                    && value("thread_work_pending{role=\"scan\"}") == Some(0.0)
                    && value("thread_busy{role=\"scan\"}") == Some(0.0)
                    && value("scanned_files_total{source=\"file\"}")
                        .is_some_and(|v| v >= served_files().len() as f64)
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "debuginfod never finished its scan"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of a plain GET, when the server answers 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

/// `ckdump inspect CORE --no-host-symbols --format json` with these
/// debuginfod variables; the parsed report, stderr and the time it took.
fn inspect(
    urls: Option<&str>,
    cache: &Path,
    extra_env: &[(&str, &str)],
) -> (serde_json::Value, String, Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ckdump"));
    cmd.args(["inspect", CORE, "--no-host-symbols", "--format", "json"])
        .current_dir(root())
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        .env_remove("DEBUGINFOD_URLS")
        .env_remove("DEBUGINFOD_TIMEOUT")
        .env_remove("DEBUGINFOD_MAXSIZE")
        .env("DEBUGINFOD_CACHE_PATH", cache);
    if let Some(urls) = urls {
        cmd.env("DEBUGINFOD_URLS", urls);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out: Output = cmd.output().expect("run ckdump");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ckdump failed: {stderr}");
    (
        serde_json::from_slice(&out.stdout).expect("JSON"),
        stderr,
        took,
    )
}

fn assert_like_eu_stack(report: &serde_json::Value) {
    let reference = eu_stack_frames(&root().join(REFERENCE));
    assert_eq!(reference.len(), 4);
    for (tid, want) in &reference {
        assert_eq!(&report_frames(report, *tid), want, "thread {tid}");
    }
}

fn setup() -> Option<PathBuf> {
    let debuginfod = require_tool("debuginfod")?;
    require_path(&root().join(CORE))?;
    Some(debuginfod)
}

#[test]
fn frames_come_from_the_server_then_from_the_cache() {
    let Some(debuginfod) = setup() else { return };
    let cache = tempfile::tempdir().unwrap();
    // Nothing to read symbols from: the main thread's frames are unnamed.
    let (bare, _, _) = inspect(None, cache.path(), &[]);
    let crashed = report_frames(&bare, 20353);
    assert!(crashed.iter().all(|f| f.0 == "??"), "{crashed:?}");
    assert!(std::fs::read_dir(cache.path()).unwrap().next().is_none());

    let server = Server::start(&debuginfod);
    let (report, stderr, _) = inspect(Some(&server.url()), cache.path(), &[]);
    assert_like_eu_stack(&report);
    assert_eq!(
        report_frames(&report, 20353)[..3],
        [
            ("read_value".into(), "threads.c".into(), 73, Some(13)),
            ("crash_here".into(), "threads.c".into(), 80, Some(16)),
            ("crash_here".into(), "threads.c".into(), 82, Some(12)),
        ]
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    // elfutils' layout: <cache>/<build-id>/{executable,debuginfo}, each
    // byte for byte the file served.
    for (id, executable, debug) in [
        (
            THREADS_ID,
            "testdata/bin/threads",
            "symbols/.build-id/ef/4ea17280cefee9d9850ed7430c51485a809748.debug",
        ),
        (
            LIBC_ID,
            "testdata/sysroot/usr/lib/x86_64-linux-gnu/libc.so.6",
            "symbols/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug",
        ),
    ] {
        let dir = cache.path().join(id);
        assert_eq!(
            std::fs::read(dir.join("executable")).unwrap(),
            std::fs::read(root().join(executable)).unwrap()
        );
        assert_eq!(
            std::fs::read(dir.join("debuginfo")).unwrap(),
            std::fs::read(root().join(debug)).unwrap()
        );
    }
    let main = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["main"] == true)
        .unwrap();
    assert_eq!(
        main["binary"].as_str().map(PathBuf::from),
        Some(cache.path().join(THREADS_ID).join("executable"))
    );
    assert_eq!(
        main["debug_file"].as_str().map(PathBuf::from),
        Some(cache.path().join(THREADS_ID).join("debuginfo"))
    );

    // The server is gone: the cache alone gives the same stacks, and no
    // server is asked (nothing is said of one).
    let url = server.url();
    server.stop();
    let (again, stderr, _) = inspect(Some(&url), cache.path(), &[]);
    assert_like_eu_stack(&again);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_corrupted_cached_file_is_refused_and_fetched_again() {
    let Some(debuginfod) = setup() else { return };
    let cache = tempfile::tempdir().unwrap();
    // Another build's binary where the program's should be.
    let slot = cache.path().join(THREADS_ID);
    std::fs::create_dir_all(&slot).unwrap();
    std::fs::copy(
        root().join("testdata/bin/threads-dwarf4"),
        slot.join("executable"),
    )
    .unwrap();
    std::fs::copy(
        root().join(format!("symbols/.build-id/1b/{}.debug", &OTHER_ID[2..])),
        slot.join("debuginfo"),
    )
    .unwrap();

    // No server: refused, never used.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (report, stderr, _) = inspect(Some(&dead), cache.path(), &[]);
    assert!(report_frames(&report, 20353).iter().all(|f| f.0 == "??"));
    for artifact in ["executable", "debuginfo"] {
        let line = format!(
            "ckdump: warning: debuginfod cache: {} has build-id {OTHER_ID}, not {THREADS_ID}: refused and removed",
            slot.join(artifact).display()
        );
        assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
        assert!(!slot.join(artifact).exists());
    }

    // Corrupted again, with the server up: refused, fetched, used.
    std::fs::copy(
        root().join("testdata/bin/threads-dwarf4"),
        slot.join("executable"),
    )
    .unwrap();
    let server = Server::start(&debuginfod);
    let (report, stderr, _) = inspect(Some(&server.url()), cache.path(), &[]);
    assert!(
        stderr.contains(&format!(
            "has build-id {OTHER_ID}, not {THREADS_ID}: refused"
        )),
        "{stderr}"
    );
    assert_like_eu_stack(&report);
    assert_eq!(
        std::fs::read(slot.join("executable")).unwrap(),
        std::fs::read(root().join("testdata/bin/threads")).unwrap()
    );
}

/// A server that answers every request with `body` (200), counting them.
fn serve_always(body: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    (url, count)
}

#[test]
fn a_file_served_for_another_build_id_is_refused() {
    if require_path(&root().join(CORE)).is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    // Whatever is asked for, this server sends threads-dwarf4's binary.
    let (url, asked) =
        serve_always(std::fs::read(root().join("testdata/bin/threads-dwarf4")).unwrap());
    let (report, stderr, _) = inspect(Some(&url), cache.path(), &[]);
    assert!(report_frames(&report, 20353).iter().all(|f| f.0 == "??"));
    // Six requests: two files for each of three modules.
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 6);
    for id in [THREADS_ID, LIBC_ID, LD_ID] {
        for artifact in ["executable", "debuginfo"] {
            let line = format!(
                "ckdump: warning: debuginfod: {url}/buildid/{id}/{artifact} served a file with build-id {OTHER_ID}: refused"
            );
            assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
            assert!(!cache.path().join(id).join(artifact).exists());
        }
    }
}

#[test]
fn a_closed_port_is_named_once() {
    if require_path(&root().join(CORE)).is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let (report, stderr, took) = inspect(Some(&url), cache.path(), &[("DEBUGINFOD_TIMEOUT", "5")]);
    assert!(report_frames(&report, 20353).iter().all(|f| f.0 == "??"));
    assert_eq!(stderr.matches("cannot be reached").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ckdump: warning: debuginfod server {url} cannot be reached"
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_server_that_never_answers_costs_the_timeout_once() {
    if require_path(&root().join(CORE)).is_none() {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    // Listening, never accepting: connections complete in the kernel's
    // backlog and no answer ever comes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (report, stderr, took) = inspect(Some(&url), cache.path(), &[("DEBUGINFOD_TIMEOUT", "2")]);
    drop(listener);
    assert!(report_frames(&report, 20353).iter().all(|f| f.0 == "??"));
    assert_eq!(stderr.matches("cannot be reached").count(), 1, "{stderr}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    // The timeout once (the six requests wait together), plus the run.
    assert!(took < Duration::from_secs(2 + 3), "{took:?}");
    assert!(std::fs::read_dir(cache.path()).unwrap().all(|e| {
        let e = e.unwrap();
        std::fs::read_dir(e.path())
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
    }));
}
