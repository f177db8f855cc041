//! `ckdump inspect --kernel`: the running kernel through /proc/kcore.
//!
//! testdata/kernel/live/ holds what `gen.sh live` brought out of its QEMU
//! guest (Debian's 6.1.0-56-cloud-amd64, our module loaded, ckdump-threads
//! asleep, nothing crashed): ckdump's JSON report of the running kernel
//! (`--all-tasks`), its text report, examples/kernel_symbols.rs's symbol
//! table read from kernel memory — and what the guest's own /proc said
//! around them: every thread's stat line, /proc/modules, /proc/kallsyms,
//! dmesg. Each test holds ckdump's view against the kernel's own.
//! The last test runs `ckdump inspect --kernel` on this host.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

fn live(name: &str) -> PathBuf {
    common::root().join("testdata/kernel/live").join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(live(name)).unwrap()
}

fn zstd_text(name: &str) -> String {
    let bytes = zstd::decode_all(std::fs::File::open(live(name)).unwrap()).unwrap();
    String::from_utf8(bytes).unwrap()
}

fn report() -> Value {
    serde_json::from_str(&zstd_text("report.json.zst")).unwrap()
}

fn hex(v: &Value) -> u64 {
    common::hex_u64(v)
}

/// A /proc/kallsyms-format file (stored as NAME.zst): (address, type,
/// name, module).
fn kallsyms(name: &str) -> Vec<(u64, char, String, Option<String>)> {
    zstd_text(&format!("{name}.zst"))
        .lines()
        .map(|line| {
            let (symbol, module) = match line.split_once('\t') {
                Some((s, m)) => (
                    s,
                    Some(m.trim_start_matches('[').trim_end_matches(']').to_string()),
                ),
                None => (line, None),
            };
            let mut words = symbol.split(' ');
            let address = u64::from_str_radix(words.next().unwrap(), 16).unwrap();
            let kind = words.next().unwrap().chars().next().unwrap();
            (address, kind, words.next().unwrap().to_string(), module)
        })
        .collect()
}

/// Every thread /proc listed: tid → (comm, ppid), from `pid (comm) S ppid …`.
fn proc_tasks() -> BTreeMap<i64, (String, i64)> {
    text("tasks.txt")
        .lines()
        .map(|line| {
            let open = line.find(" (").unwrap();
            let close = line.rfind(") ").unwrap();
            let pid = line[..open].parse().unwrap();
            let comm = line[open + 2..close].to_string();
            let ppid = line[close + 2..]
                .split(' ')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            (pid, (comm, ppid))
        })
        .collect()
}

fn functions(task: &Value) -> Vec<&str> {
    task["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("??"))
        .collect()
}

#[test]
fn the_running_kernel_is_reported_without_a_crash() {
    let r = report();
    let k = &r["kernel"];
    assert_eq!(k["format"], "live-kcore");
    assert_eq!(r["image"]["path"], "/proc/kcore");
    assert_eq!(r["image"]["writer"], "the running kernel (/proc/kcore)");
    // The guest: -smp 2; uname -r.
    assert_eq!(r["image"]["cpu_count"], 2);
    assert_eq!(k["release"], text("uname.txt").trim());
    assert_eq!(k["release"], "6.1.0-56-cloud-amd64");
    assert_eq!(k["build_id"], "3b43fad5034874490492495d552c0af6a5fab235");
    // KASLR: where /proc/kallsyms puts _text, less its link address.
    let symbols = kallsyms("kallsyms.txt");
    let text_at = symbols.iter().find(|s| s.2 == "_text").unwrap().0;
    assert_eq!(hex(&k["kernel_offset"]), text_at - 0xffff_ffff_8100_0000);
    assert_eq!(k["kernel_offset"], "0x30c00000");
    // The schema knows the format.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schema/inspect.schema.json")).unwrap(),
    )
    .unwrap();
    let formats = &schema["properties"]["kernel"]["properties"]["format"]["enum"];
    assert!(formats.as_array().unwrap().contains(&k["format"]));
    // Nothing crashed: no crash, no CPU registers, no panic.
    assert!(r["crash"].is_null());
    assert_eq!(k["cpus"], serde_json::json!([]));
    assert!(k["panic_cpu"].is_null() && k["crash_time"].is_null());
    assert_eq!(k["panic_cause"], serde_json::json!([]));
    assert!(
        text("rc.txt").starts_with("json rc=0 "),
        "{}",
        text("rc.txt")
    );
}

#[test]
fn the_task_list_is_the_one_proc_showed() {
    let r = report();
    let tasks = r["kernel"]["tasks"].as_array().unwrap();
    let proc = proc_tasks();
    let mut unmatched = Vec::new();
    for t in tasks {
        let pid = t["pid"].as_i64().unwrap();
        let comm = t["comm"].as_str().unwrap();
        match proc.get(&pid) {
            Some((c, ppid)) => {
                assert_eq!(t["ppid"].as_i64(), Some(*ppid), "pid {pid}");
                // /proc adds a kworker's workqueue to its name
                // (`kworker/0:0-events`, `+` while it runs a work item),
                // and shows a kernel thread's full name where `comm` holds
                // its first 15 bytes (`rcu_tasks_kthread`).
                let same_name = match c.strip_prefix(comm) {
                    Some("") => true,
                    Some(rest) if comm.starts_with("kworker/") => rest.starts_with(['-', '+']),
                    Some(_) => t["kernel_thread"] == true && comm.len() == 15,
                    None => false,
                };
                assert!(same_name, "pid {pid}: {comm} here, {c} in /proc");
            }
            None => unmatched.push((pid, comm)),
        }
    }
    // Only what /proc cannot show: the idle tasks (pid 0: swapper/0, and
    // another CPU's when it was idle, here CPU 1's), and what started after
    // the list was taken (pids above every pid /proc listed): ckdump itself
    // and, in this run, a kworker born in between.
    let newest = *proc.keys().max().unwrap();
    for &(pid, comm) in &unmatched {
        assert!(
            (pid == 0 && comm.starts_with("swapper/")) || pid > newest,
            "{pid} {comm}"
        );
    }
    assert_eq!(
        unmatched,
        [
            (0, "swapper/0"),
            (103, "ckdump"),
            (104, "kworker/0:1H"),
            (0, "swapper/1")
        ]
    );
    // Every thread /proc listed is in ckdump's list.
    let listed: BTreeSet<i64> = tasks.iter().map(|t| t["pid"].as_i64().unwrap()).collect();
    assert!(proc.keys().all(|pid| listed.contains(pid)));
    assert_eq!((tasks.len(), proc.len()), (60, 56));
    // ckdump-threads and its three workers: one thread group.
    let main = tasks
        .iter()
        .find(|t| t["comm"] == "ckdump-threads")
        .unwrap();
    let group: Vec<&str> = tasks
        .iter()
        .filter(|t| t["tgid"] == main["pid"])
        .map(|t| t["comm"].as_str().unwrap())
        .collect();
    assert_eq!(
        group,
        [
            "ckdump-threads",
            "ckw-worker-0",
            "ckw-worker-1",
            "ckw-worker-2"
        ]
    );
    assert_eq!(main["pid"], 93);
    // ckdump ran on a CPU while it read: marked running, not unwound.
    let me = tasks.iter().find(|t| t["comm"] == "ckdump").unwrap();
    assert!(me["running_on"].is_u64());
    assert_eq!(me["frames"], serde_json::json!([]));
}

#[test]
fn the_modules_are_the_ones_proc_modules_lists() {
    let r = report();
    let modules: Vec<(String, u64, u64)> = r["kernel"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["size"].as_u64().unwrap(),
                hex(&m["text_base"]),
            )
        })
        .collect();
    // name size refcount users state address, most recent first as ckdump.
    let proc: Vec<(String, u64, u64)> = text("modules.txt")
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            (
                words[0].to_string(),
                words[1].parse().unwrap(),
                u64::from_str_radix(words[5].trim_start_matches("0x"), 16).unwrap(),
            )
        })
        .collect();
    assert_eq!(modules, proc);
    assert_eq!(modules[0].0, "ckdump_panic");
}

#[test]
fn kallsyms_read_from_kernel_memory_equal_proc_kallsyms() {
    let ours = kallsyms("ckdump-kallsyms.txt");
    let kernel = kallsyms("kallsyms.txt");
    // The core kernel: every symbol, exact address, type and name.
    // (As a sorted list, not a set: some local symbols repeat exactly.)
    let core = |list: &[(u64, char, String, Option<String>)]| -> Vec<(u64, char, String)> {
        let mut core: Vec<_> = list
            .iter()
            .filter(|s| s.3.is_none())
            .map(|s| (s.0, s.1, s.2.clone()))
            .collect();
        core.sort();
        core
    };
    let (ours_core, kernel_core) = (core(&ours), core(&kernel));
    assert_eq!(ours_core.len(), kernel_core.len());
    if let Some((a, b)) = ours_core.iter().zip(&kernel_core).find(|(a, b)| a != b) {
        panic!("ckdump has {a:?} where /proc/kallsyms has {b:?}");
    }
    let text_symbols = kernel_core
        .iter()
        .filter(|s| matches!(s.1, 't' | 'T'))
        .count();
    assert_eq!((kernel_core.len(), text_symbols), (87347, 46471));
    // Our module's functions, from its own symbol table in memory: the
    // same addresses, each named by one of the kernel's names for it (an
    // alias — cleanup_module for ckdump_exit — is listed once).
    let module_text = |list: &[(u64, char, String, Option<String>)]| -> BTreeSet<(u64, String)> {
        list.iter()
            .filter(|s| s.3.as_deref() == Some("ckdump_panic") && matches!(s.1, 't' | 'T'))
            .map(|s| (s.0, s.2.clone()))
            .collect()
    };
    let (ours_module, kernel_module) = (module_text(&ours), module_text(&kernel));
    let addresses =
        |set: &BTreeSet<(u64, String)>| set.iter().map(|s| s.0).collect::<BTreeSet<_>>();
    assert_eq!(addresses(&ours_module), addresses(&kernel_module));
    assert!(ours_module.is_subset(&kernel_module));
    assert_eq!((ours_module.len(), kernel_module.len()), (14, 15));
    assert!(ours_module.iter().any(|s| s.1 == "ckdump_process_leaf"));
}

#[test]
fn the_log_ends_as_dmesg_printed_it() {
    let r = report();
    let log = r["kernel"]["log"].as_array().unwrap();
    // The records as dmesg prints them, one line per line of text.
    let ours: Vec<String> = log
        .iter()
        .flat_map(|record| {
            let ns = record["timestamp_ns"].as_u64().unwrap();
            let stamp = format!(
                "[{:>5}.{:06}]",
                ns / 1_000_000_000,
                ns % 1_000_000_000 / 1000
            );
            record["text"]
                .as_str()
                .unwrap()
                .split('\n')
                .map(move |line| format!("{stamp} {line}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(log.len(), 370);
    let dmesg = text("dmesg.txt");
    let dmesg: Vec<&str> = dmesg.lines().collect();
    // dmesg ran right after ckdump: ckdump's last 40 lines are a run of
    // dmesg's, the marker written just before ckdump among them.
    let tail = &ours[ours.len() - 40..];
    let last = dmesg.iter().rposition(|l| *l == tail[39]).unwrap();
    assert_eq!(&dmesg[last - 39..=last], tail);
    assert!(
        tail.iter()
            .any(|l| l.ends_with("] ckdump live: reading the running kernel"))
    );
}

#[test]
fn every_sleeping_task_is_unwound_to_its_entry() {
    let r = report();
    let tasks = r["kernel"]["tasks"].as_array().unwrap();
    let sleeping = || {
        tasks
            .iter()
            .filter(|t| t["running_on"].is_null() && t["pid"].as_i64() != Some(0))
    };
    // User threads: down to the syscall entry.
    let mut users = 0;
    for t in sleeping().filter(|t| t["kernel_thread"] == false) {
        let f = functions(t);
        assert_eq!(f.first(), Some(&"__schedule"), "{} {f:?}", t["pid"]);
        assert_eq!(
            f.last(),
            Some(&"entry_SYSCALL_64_after_hwframe"),
            "{} {f:?}",
            t["pid"]
        );
        users += 1;
    }
    // init (in wait4) and ckdump-threads with its three workers.
    assert_eq!(users, 5);
    for worker in tasks.iter().filter(|t| {
        t["comm"]
            .as_str()
            .is_some_and(|c| c.starts_with("ckw-worker-"))
    }) {
        assert_eq!(
            functions(worker),
            [
                "__schedule",
                "schedule",
                "do_nanosleep",
                "hrtimer_nanosleep",
                "common_nsleep",
                "__x64_sys_clock_nanosleep",
                "do_syscall_64",
                "entry_SYSCALL_64_after_hwframe"
            ]
        );
    }
    // Kernel threads: down to where kernel threads start.
    for t in sleeping().filter(|t| t["kernel_thread"] == true) {
        let f = functions(t);
        assert_eq!(f.last(), Some(&"ret_from_fork"), "{} {f:?}", t["pid"]);
    }
}

#[test]
fn the_text_report_says_the_kernel_is_running() {
    let report = text("report.txt");
    assert!(
        report.starts_with("/proc/kcore: Linux kernel vmcore, "),
        "{report}"
    );
    assert!(report.contains(
        "\nNo crash: the kernel is running (read live through /proc/kcore), nothing crashed.\n"
    ));
    assert!(report.contains("\n  dump     none: the running kernel, read through /proc/kcore\n"));
    assert!(report.contains("\n  target   Linux x86_64 (6.1.0-56-cloud-amd64), kernel, 2 CPUs\n"));
    // --task names a worker: its stack, and only its.
    assert_eq!(report.matches("vmlinux!__schedule+").count(), 1, "{report}");
    assert!(report.contains("vmlinux!entry_SYSCALL_64_after_hwframe+"));
}

#[test]
fn without_kcore_the_command_says_what_is_missing() {
    let kcore = std::path::Path::new("/proc/kcore");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let (out, expected) = match std::fs::metadata(kcore) {
        Err(_) => (
            common::ckdump(&["inspect", "--kernel"]),
            "ckdump: /proc/kcore: not present: this kernel was built without CONFIG_PROC_KCORE (or /proc is not mounted), so the running kernel cannot be read; inspect a dump of it instead (`ckdump inspect VMCORE`)",
        ),
        // A container runtime's mask: /dev/null mounted over it.
        Ok(m) if !m.is_file() => (
            common::ckdump(&["inspect", "--kernel"]),
            "ckdump: /proc/kcore: masked: a character device is mounted over it (container runtimes hide the kernel's memory so); run ckdump on the host, or in a privileged container",
        ),
        // Readable here as root: ask as nobody.
        Ok(_) if root => (
            match as_nobody(&["inspect", "--kernel"]) {
                Some(out) => out,
                None => return,
            },
            "ckdump: /proc/kcore: permission denied: reading the running kernel needs root; run `sudo ckdump inspect --kernel`",
        ),
        Ok(_) => (
            common::ckdump(&["inspect", "--kernel"]),
            "ckdump: /proc/kcore: permission denied: reading the running kernel needs root; run `sudo ckdump inspect --kernel`",
        ),
    };
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{expected}\n")
    );
    assert!(out.stdout.is_empty());
}

/// Runs a copy of ckdump as uid 65534 (a copy: the build directory may
/// be private to root).
#[track_caller]
fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("ckdump");
    std::fs::copy(env!("CARGO_BIN_EXE_ckdump"), &bin).unwrap();
    for path in [dir.path(), bin.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = std::process::Command::new(&bin)
        .args(args)
        .uid(65534)
        .gid(65534)
        .output();
    match out {
        Ok(out) => Some(out),
        Err(e) => {
            common::skip(&format!("cannot run {} as uid 65534 ({e})", bin.display()));
            None
        }
    }
}
