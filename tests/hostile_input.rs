//! Hostile input that once hung ckdump, exhausted memory or disk, or
//! blamed the wrong thing: each test builds its input in a temporary
//! directory and pins the bounded, one-line outcome.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// diff's files import one way: chunk at the bottom, moves above it, pages
/// on top (the architecture check reads `crate::`/`super::` paths).
#[test]
fn diff_files_have_no_import_cycle() {
    let Some(shared) = common::shared() else {
        return;
    };
    let out = Command::new("python3")
        .arg(shared.join("tools/layers.py"))
        .arg(common::root().join("src"))
        .output()
        .expect("run layers.py");
    let text = String::from_utf8_lossy(&out.stdout);
    let diff_cycles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("file cycle:") && l.contains("diff::"))
        .collect();
    assert!(diff_cycles.is_empty(), "{diff_cycles:?}");
}

/// How a bounded run of ckdump ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The child's own peak resident set (getrusage's ru_maxrss, KiB).
    peak_rss_kib: u64,
    seconds: f64,
}

/// Runs ckdump with `args`, killing it if it takes longer than `limit`
/// (a hang is a failure here, never a stuck test), and measures the
/// child's peak resident set through wait4.
fn run_bounded(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ckdump"));
    cmd.args(args)
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let child = cmd.spawn().expect("run ckdump");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; the pointers are live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > limit {
            // SAFETY: signals our own child, then reaps it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("ckdump {args:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        peak_rss_kib: usage.ru_maxrss as u64,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn make_fifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The one-line error a refused input must give, with exit code 2.
fn assert_refused(run: &Run, expect: &str) {
    assert_eq!(
        run.code,
        Some(2),
        "stdout {} stderr {}",
        run.stdout,
        run.stderr
    );
    let err = run.stderr.trim_end();
    assert!(err.contains(expect), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A FIFO once hung inspect, verify and diff (opened to read its magic,
/// the open blocked for a writer), and a core written into one was
/// misread. It is refused, by stat, before anything opens it.
#[test]
fn fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("core.fifo");
    make_fifo(&fifo);
    let f = fifo.as_os_str();
    let expect = format!("{}: is a FIFO, not a regular file", fifo.display());
    let limit = Duration::from_secs(20);
    for args in [
        vec![os("inspect"), f],
        vec![os("verify"), f],
        vec![os("diff"), f, f],
        vec![os("seal"), f],
    ] {
        let run = run_bounded(&args, &[], limit);
        assert_refused(&run, &expect);
    }
}

/// /dev/zero never ends; as an image or as a seal manifest it is named
/// for what it is (verify --seal said "no such file").
#[test]
fn character_device_is_named_not_missing() {
    let limit = Duration::from_secs(20);
    let run = run_bounded(&[os("inspect"), os("/dev/zero")], &[], limit);
    assert_refused(&run, "/dev/zero: is a character device, not a regular file");
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("x.core");
    std::fs::write(&core, b"\x7fELF").unwrap();
    let run = run_bounded(
        &[
            os("verify"),
            os("--seal"),
            os("/dev/zero"),
            core.as_os_str(),
        ],
        &[],
        limit,
    );
    assert_refused(&run, "/dev/zero: is a character device, not a regular file");
}
