//! Live processes: `ckdump inspect --pid` and `ckdump snapshot` against a
//! running testdata/bin/threads (main in pause(), workers worker-0..2 in
//! usleep under worker_leaf → worker_mid → worker), checked against
//! /proc, gdb and eu-stack. Tests skip with a notice where ptrace is not
//! permitted (CI runs them as root).

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ckdump, physical_functions, register, root, thread};
use serde_json::Value;

/// x86_64 syscall numbers as /proc/PID/task/TID/syscall prints them.
const SYS_PAUSE: &str = "34";
const SYS_CLOCK_NANOSLEEP: &str = "230";

/// A started test program, killed on drop.
struct Program {
    child: Child,
    pid: u32,
    /// tid → name, as the program printed them.
    names: BTreeMap<u64, String>,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Program {
    /// testdata/bin/threads with its main thread settled in pause(): it
    /// prints "ready" just before, and may still be returning from that
    /// write when the line arrives.
    fn threads() -> Program {
        let p = start(Command::new(root().join("testdata/bin/threads")).arg("wait"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.syscall(u64::from(p.pid)).as_deref() != Some(SYS_PAUSE) {
            assert!(
                Instant::now() < deadline,
                "main thread never reached pause()"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        p
    }

    /// The syscall number a blocked thread is in (/proc/PID/task/TID/syscall).
    fn syscall(&self, tid: u64) -> Option<String> {
        let text =
            std::fs::read_to_string(format!("/proc/{}/task/{tid}/syscall", self.pid)).ok()?;
        text.split_whitespace().next().map(str::to_string)
    }

    /// SIGSTOPs the threads program with every worker inside its
    /// clock_nanosleep (they wake for microseconds every 200 ms).
    fn stop_settled(&self) {
        for _ in 0..50 {
            self.signal(libc::SIGSTOP);
            self.wait_for_state('T');
            // The leader stops first; a worker still on its way into the
            // group stop would show other registers to the live inspect
            // than to the snapshot taken after it.
            self.wait_for_every_thread('T');
            let workers_asleep = self
                .names
                .keys()
                .filter(|&&t| t != u64::from(self.pid))
                .all(|&t| self.syscall(t).as_deref() == Some(SYS_CLOCK_NANOSLEEP));
            if workers_asleep {
                return;
            }
            self.signal(libc::SIGCONT);
            self.wait_for_state('S');
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("never caught every worker asleep");
    }

    /// The scheduler state letter from /proc/PID/stat.
    fn state(&self) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        rest.trim_start().chars().next().unwrap()
    }

    fn tids(&self) -> Vec<u64> {
        let mut t: Vec<u64> = std::fs::read_dir(format!("/proc/{}/task", self.pid))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
            .collect();
        t.sort();
        t
    }

    /// Alive and running (sleeping), not stopped or traced.
    fn assert_running(&self) {
        let state = self.state();
        assert!(
            matches!(state, 'S' | 'R'),
            "process {} is in state {state} after ckdump detached",
            self.pid
        );
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        assert!(status.contains("TracerPid:\t0\n"), "still traced: {status}");
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill with a pid we own and a valid signal number.
        assert_eq!(unsafe { libc::kill(self.pid as i32, sig) }, 0);
    }

    /// Waits until every thread's own state letter is `want`.
    fn wait_for_every_thread(&self, want: char) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let state_of = |tid: u64| {
            std::fs::read_to_string(format!("/proc/{}/task/{tid}/stat", self.pid))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.trim_start().chars().next()
                })
        };
        while !self.tids().iter().all(|&t| state_of(t) == Some(want)) {
            assert!(Instant::now() < deadline, "threads never all became {want}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for_state(&self, want: char) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.state() != want {
            assert!(Instant::now() < deadline, "state never became {want}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Starts `cmd` and waits for its "pid=N ready" line, collecting its
/// "tid=N name=NAME" lines.
fn start(cmd: &mut Command) -> Program {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start test program");
    let pid = child.id();
    let mut names = BTreeMap::new();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("tid=") {
            let (tid, name) = rest.split_once(" name=").unwrap();
            names.insert(tid.parse().unwrap(), name.to_string());
        }
        if line.starts_with(&format!("pid={pid} ready")) {
            break;
        }
    }
    Program { child, pid, names }
}

/// Runs ckdump; None (with a notice) when ptrace is refused here.
fn ckdump_live(args: &[&str]) -> Option<std::process::Output> {
    let out = ckdump(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ptrace is not permitted") {
        common::skip(&format!("ptrace is not permitted here ({})", stderr.trim()));
        return None;
    }
    assert!(out.status.success(), "ckdump {args:?} failed: {stderr}");
    Some(out)
}

fn inspect_pid(pid: u32) -> Option<Value> {
    let pid = pid.to_string();
    let out = ckdump_live(&[
        "inspect",
        "--pid",
        &pid,
        "--format",
        "json",
        "--symbols",
        "symbols",
    ])?;
    Some(serde_json::from_slice(&out.stdout).expect("json"))
}

fn tids_of(report: &Value) -> Vec<u64> {
    report["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tid"].as_u64().unwrap())
        .collect()
}

/// Whether `needle` occurs as a contiguous run in `hay`.
fn contains_run(hay: &[String], needle: &[&str]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.iter().zip(needle).all(|(a, b)| a == b))
}

/// The stacks of testdata/bin/threads: main in pause, workers under
/// worker_leaf → worker_mid → worker.
fn assert_threads_program_stacks(report: &Value, p: &Program) {
    let main = thread(report, u64::from(p.pid));
    assert_eq!(main["name"], "threads");
    let funcs = physical_functions(main);
    assert_eq!(funcs[0], "__libc_pause", "{funcs:?}");
    assert!(contains_run(&funcs, &["__libc_pause", "main"]), "{funcs:?}");
    for (tid, name) in p.names.iter().filter(|(t, _)| **t != u64::from(p.pid)) {
        let t = thread(report, *tid);
        assert_eq!(t["name"].as_str(), Some(name.as_str()));
        let funcs = physical_functions(t);
        assert!(
            contains_run(
                &funcs,
                &[
                    "usleep",
                    "worker_leaf",
                    "worker_mid",
                    "worker",
                    "start_thread"
                ]
            ),
            "thread {tid}: {funcs:?}"
        );
    }
}

/// rip and rsp of every thread as `gdb -p` sees them, by LWP.
fn gdb_registers(pid: u32) -> BTreeMap<u64, (u64, u64)> {
    let out = Command::new("gdb")
        .args(["-nx", "-batch", "-p", &pid.to_string()])
        .args(["-ex", "thread apply all info registers rip rsp"])
        .output()
        .expect("run gdb");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut regs = BTreeMap::new();
    let mut lwp = None;
    let mut rip = None;
    for line in text.lines() {
        if let Some(at) = line.find("(LWP ") {
            let rest = &line[at + 5..];
            lwp = rest[..rest.find(')').unwrap()].parse::<u64>().ok();
            rip = None;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(value) = u64::from_str_radix(value.trim_start_matches("0x"), 16) else {
            continue;
        };
        match name {
            "rip" => rip = Some(value),
            "rsp" => {
                if let (Some(l), Some(r)) = (lwp, rip) {
                    regs.insert(l, (r, value));
                }
            }
            _ => {}
        }
    }
    regs
}

#[test]
fn inspect_pid_lists_every_thread_with_gdb_registers_and_leaves_it_running() {
    let Some(_) = common::require_tool("gdb") else {
        return;
    };
    let p = Program::threads();
    // A worker wakes every 200 ms and sleeps again at the same pc and sp;
    // one retry covers catching it awake in between.
    for attempt in 0..2 {
        let Some(report) = inspect_pid(p.pid) else {
            return;
        };
        p.assert_running();
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("schema/inspect.schema.json")).unwrap(),
        )
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        if let Err(e) = validator.validate(&report) {
            panic!("live inspect JSON does not match its schema: {e}");
        }
        assert_eq!(report["image"]["format"], "live-process");
        assert_eq!(report["image"]["pid"], u64::from(p.pid));
        assert_eq!(report["image"]["process_name"], "threads");
        assert_eq!(report["image"]["thread_count"], 4);
        let mut tids = tids_of(&report);
        // Main thread first, then the workers.
        assert_eq!(tids[0], u64::from(p.pid));
        tids.sort();
        assert_eq!(tids, p.tids());
        assert_eq!(tids, p.names.keys().copied().collect::<Vec<_>>());
        assert_threads_program_stacks(&report, &p);
        let main_module = report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["main"] == true)
            .unwrap();
        // The build-id of testdata/bin/threads (testdata/expected.json).
        assert_eq!(
            main_module["build_id"],
            "ef4ea17280cefee9d9850ed7430c51485a809748"
        );

        let gdb = gdb_registers(p.pid);
        p.assert_running();
        assert_eq!(
            gdb.keys().copied().collect::<Vec<_>>(),
            p.tids(),
            "gdb saw other threads"
        );
        let ours: BTreeMap<u64, (u64, u64)> = report["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["tid"].as_u64().unwrap(),
                    (register(t, "rip"), register(t, "rsp")),
                )
            })
            .collect();
        if ours == gdb {
            return;
        }
        assert_eq!(
            attempt, 0,
            "rip/rsp differ from gdb's: {ours:x?} vs {gdb:x?}"
        );
    }
}

/// `ckdump inspect` of a saved file, as JSON.
fn inspect_file(path: &Path) -> Value {
    common::inspect_json(path, &["--symbols", "symbols"])
}

#[test]
fn snapshot_reads_back_identically_and_in_gdb_and_eu_stack() {
    let (Some(_), Some(_)) = (
        common::require_tool("gdb"),
        common::require_tool("eu-stack"),
    ) else {
        return;
    };
    let p = Program::threads();
    // Stopped with SIGSTOP, the threads cannot move between the live
    // inspect and the snapshot: both must give the very same threads.
    p.stop_settled();
    let Some(live) = inspect_pid(p.pid) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("threads.core");
    let pid = p.pid.to_string();
    let out = ckdump_live(&[
        "snapshot",
        "--pid",
        &pid,
        "-o",
        core.to_str().unwrap(),
        "--format",
        "json",
    ])
    .unwrap();
    // A process that was stopped stays stopped; SIGCONT resumes it. Right
    // after the detach its threads pass through R on their way back into
    // the group stop, which a loaded machine lets /proc show: wait for T
    // (a process left running would sleep in S and never get there).
    p.wait_for_state('T');
    p.signal(libc::SIGCONT);
    p.wait_for_state('S');
    p.assert_running();

    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/snapshot.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&summary), "{summary}");
    assert_eq!(summary["pid"], u64::from(p.pid));
    assert_eq!(summary["unreadable_bytes"], 0);
    let saved: Vec<u64> = summary["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(saved, tids_of(&live));

    // Read back: same threads, names, registers, FP state and frames.
    let back = inspect_file(&core);
    assert_eq!(back["image"]["writer"], "ckdump snapshot");
    assert_eq!(back["image"]["pid"], u64::from(p.pid));
    assert_eq!(back["threads"], live["threads"]);
    assert_threads_program_stacks(&back, &p);
    let identity = |r: &Value| -> Vec<(Value, Value, Value)> {
        r["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["path"].clone(), m["base"].clone(), m["build_id"].clone()))
            .collect()
    };
    assert_eq!(identity(&back), identity(&live));
    assert_eq!(back["findings"].as_array().unwrap().len(), 1);
    assert_eq!(back["findings"][0]["code"], "CKD-N1006");

    let verify = ckdump(&["verify", core.to_str().unwrap()]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("0 errors, 0 warnings"));

    let prog = root().join("testdata/bin/threads");
    let tids = tids_of(&live);
    let eu = Command::new("eu-stack")
        .arg("--core")
        .arg(&core)
        .arg("-e")
        .arg(&prog)
        .output()
        .expect("run eu-stack");
    let eu_err = String::from_utf8_lossy(&eu.stderr);
    assert!(eu_err.trim().is_empty(), "eu-stack complained: {eu_err}");
    let eu_out = String::from_utf8_lossy(&eu.stdout);
    for tid in &tids {
        assert!(eu_out.contains(&format!("TID {tid}:")), "{eu_out}");
    }
    for f in [
        "pause",
        "main",
        "usleep",
        "worker_leaf",
        "worker_mid",
        "worker",
    ] {
        assert!(
            eu_out.contains(&format!(" {f}\n")),
            "eu-stack lacks {f}: {eu_out}"
        );
    }
    assert_eq!(eu_out.matches(" worker_leaf\n").count(), 3);

    let gdb = Command::new("gdb")
        .args([
            "-nx",
            "-batch",
            "-ex",
            "info threads",
            "-ex",
            "thread apply all bt",
        ])
        .arg(&prog)
        .arg(&core)
        .output()
        .expect("run gdb");
    let gdb_out = String::from_utf8_lossy(&gdb.stdout);
    let gdb_err = String::from_utf8_lossy(&gdb.stderr);
    // gdb prints the current source line to stderr when the source file
    // is not installed ("29\t../sysdeps/.../pause.c: No such file or
    // directory."); anything else there is a complaint about the core.
    for line in gdb_err
        .lines()
        .filter(|l| !l.trim().is_empty() && !gdb_host_xstate_quirk(l))
    {
        assert!(
            line.ends_with(": No such file or directory.")
                && line
                    .split('\t')
                    .next()
                    .is_some_and(|n| n.parse::<u32>().is_ok()),
            "gdb stderr: {gdb_err}"
        );
    }
    assert!(!gdb_out.to_lowercase().contains("warning"), "{gdb_out}");
    for tid in &tids {
        assert!(gdb_out.contains(&format!("(LWP {tid})")), "{gdb_out}");
    }
    assert_eq!(
        gdb_out.matches(" in worker_leaf ()").count(),
        3,
        "{gdb_out}"
    );
    assert_eq!(gdb_out.matches(" in worker_mid ()").count(), 3, "{gdb_out}");
    assert!(gdb_out.contains(" in main ()"), "{gdb_out}");
    assert!(gdb_out.contains("in __libc_pause ()"), "{gdb_out}");
}

#[test]
fn a_missing_pid_is_a_one_line_error() {
    // pid_max itself is never handed out (pids are below it).
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let pid = pid_max.trim();
    for args in [
        vec!["snapshot", "--pid", pid, "-o", "/nonexistent-dir/x.core"],
        vec!["inspect", "--pid", pid],
    ] {
        let out = ckdump(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(
            err.trim_end(),
            format!("ckdump: pid {pid}: no such process; check the pid (`ps -e`)")
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_process_that_is_already_traced_is_refused_with_its_tracer() {
    // The child asks to be traced by us (PTRACE_TRACEME) and stops at
    // exec; ckdump cannot be its second tracer.
    let mut cmd = Command::new(root().join("testdata/bin/threads"));
    cmd.arg("wait").stdout(Stdio::null());
    // SAFETY: pre_exec runs in the forked child before exec; ptrace is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn traced child");
    let pid = child.id();
    let mut status = 0;
    // SAFETY: waiting for our own child; status is a valid c_int.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    assert!(libc::WIFSTOPPED(status));
    let out = ckdump(&[
        "snapshot",
        "--pid",
        &pid.to_string(),
        "-o",
        "/tmp/never.core",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "ckdump: pid {pid}: ptrace is not permitted: the process is already traced by pid {} (",
            // The tracer is the thread that forked the child: this test's.
            // SAFETY: gettid has no preconditions.
            unsafe { libc::gettid() }
        )),
        "{err}"
    );
    assert!(!Path::new("/tmp/never.core").exists());
}

#[test]
fn an_unprivileged_user_is_refused_with_what_to_do() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        common::skip("not root, so it cannot switch to another uid to test the refusal");
        return;
    }
    let p = Program::threads();
    // The build directory may sit under a private (0700) directory, as in
    // a `mktemp -d` clone: run a copy the other uid can reach.
    let reachable = tempfile::tempdir().unwrap();
    let bin = reachable.path().join("ckdump");
    std::fs::copy(env!("CARGO_BIN_EXE_ckdump"), &bin).unwrap();
    for path in [reachable.path(), bin.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Command::new(&bin)
        .args(["inspect", "--pid", &p.pid.to_string()])
        .uid(65534)
        .gid(65534)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            common::skip(&format!("cannot run {} as uid 65534 ({e})", bin.display()));
            return;
        }
    };
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "ckdump: pid {}: ptrace is not permitted: the process belongs to uid 0 and ckdump runs as uid 65534",
            p.pid
        )),
        "{err}"
    );
    assert!(err.contains("CAP_SYS_PTRACE"), "{err}");
    p.assert_running();
}

/// A program whose threads come and go all the time.
const CHURN_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *short_lived(void *arg) { (void)arg; usleep(100); return NULL; }
int main(void) {
    printf("pid=%d ready\n", getpid());
    fflush(stdout);
    for (;;) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, short_lived, NULL);
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    }
}
"#;

#[test]
fn threads_that_come_and_go_while_attaching_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("churn.c");
    let bin = dir.path().join("churn");
    std::fs::write(&src, CHURN_C).unwrap();
    let cc = Command::new("cc")
        .args(["-O1", "-g", "-pthread", "-o"])
        .arg(&bin)
        .arg(&src)
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        common::skip("no working cc to build the thread-churn program");
        return;
    }
    let p = start(&mut Command::new(&bin));
    for _ in 0..5 {
        let Some(report) = inspect_pid(p.pid) else {
            return;
        };
        let tids = tids_of(&report);
        assert_eq!(tids[0], u64::from(p.pid));
        assert!((1..=5).contains(&tids.len()), "{tids:?}");
        p.assert_running();
    }
    let core = dir.path().join("churn.core");
    ckdump_live(&[
        "snapshot",
        "--pid",
        &p.pid.to_string(),
        "-o",
        core.to_str().unwrap(),
    ])
    .unwrap();
    p.assert_running();
    let verify = ckdump(&["verify", core.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0));
}

/// A program with 1 MiB of MAP_SHARED|MAP_ANONYMOUS memory filled with 7s.
const SHARED_ANON_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
    char *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(p, 7, 1 << 20);
    printf("pid=%d ready\n", getpid());
    fflush(stdout);
    for (;;) pause();
}
"#;

#[test]
fn anonymous_shared_memory_is_saved_and_gdb_reads_it_quietly() {
    let Some(_) = common::require_tool("gdb") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("shared_anon.c");
    let bin = dir.path().join("shared_anon");
    std::fs::write(&src, SHARED_ANON_C).unwrap();
    let cc = Command::new("cc")
        .args(["-O0", "-g", "-o"])
        .arg(&bin)
        .arg(&src)
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        common::skip("no working cc to build the shared-memory program");
        return;
    }
    let p = start(&mut Command::new(&bin));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.pid)).unwrap();
    let line = maps
        .lines()
        .find(|l| l.ends_with("/dev/zero (deleted)"))
        .expect("shared anonymous mapping");
    let start = u64::from_str_radix(line.split('-').next().unwrap(), 16).unwrap();
    let core = dir.path().join("shared_anon.core");
    let Some(_) = ckdump_live(&[
        "snapshot",
        "--pid",
        &p.pid.to_string(),
        "-o",
        core.to_str().unwrap(),
    ]) else {
        return;
    };
    p.assert_running();
    let gdb = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", &format!("x/4xb {start:#x}")])
        .arg(&bin)
        .arg(&core)
        .output()
        .expect("run gdb");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&gdb.stdout),
        String::from_utf8_lossy(&gdb.stderr)
    );
    let complaints: Vec<&str> = all
        .lines()
        .filter(|l| l.to_lowercase().contains("warning") && !gdb_host_xstate_quirk(l))
        .collect();
    assert!(complaints.is_empty(), "{all}");
    assert!(
        all.contains(&format!("{start:#x}:\t0x07\t0x07\t0x07\t0x07")),
        "{all}"
    );
    let back = inspect_file(&core);
    let region = back["regions"].as_array();
    assert!(region.is_none(), "regions only with --regions");
    let with_regions = common::inspect_json(&core, &["--regions"]);
    let r = with_regions["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["start"] == format!("{start:#x}"))
        .expect("the shared mapping is a region of the core");
    assert_eq!(r["capture"], "full");
    assert_eq!(r["size"], 1 << 20);
}

/// gdb 13 sizes the XSAVE area from this host's CPUID; on CPUs whose
/// CPUID size exceeds what the kernel's ptrace and core dumper write (seen
/// on AMD EPYC with AVX-512) it prints this for every core, the kernel's
/// own included — a gdb/host quirk, not a defect of the file.
fn gdb_host_xstate_quirk(line: &str) -> bool {
    line.starts_with("warning: Section `.reg-xstate/")
        && line.ends_with("' in core file too small.")
}
