//! A user process inside a kernel dump (`inspect --process PID`), checked
//! against what drgn and crash say of the same dump:
//! `testdata/kernel/dumps/process-user.kdump` is the `process` scenario
//! captured at dump level 23 (user pages kept), `process.kdump` the same at
//! level 31 (user pages excluded). drgn's `reference/drgn-user.py` printed
//! each thread's pt_regs, the first words at its user sp (read through
//! `mm->pgd`) and every VMA; crash's `bt` printed the panicking thread's
//! user registers and `vm` its mm and pgd. The user stacks' functions are
//! the program's own call chains (testdata/kernel/user/ckdump-threads.c),
//! named from the committed binary's DWARF.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::report::{InspectReport, ProcessReport, ThreadReport};
use ckdump::symbols::SymbolConfig;

fn kernel_dir() -> PathBuf {
    common::root().join("testdata/kernel")
}

fn report(dump: &str, pid: i64, symbols: bool) -> InspectReport {
    let path = kernel_dir().join("dumps").join(dump);
    let image = ckdump::open(&path, &common::no_host_files()).unwrap();
    let options = InspectOptions {
        process: Some(pid),
        regions: true,
        symbols: SymbolConfig {
            use_host: false,
            ..SymbolConfig::from_dirs(
                if symbols {
                    vec![kernel_dir().join("dumps")]
                } else {
                    Vec::new()
                },
                None,
            )
        },
        ..InspectOptions::default()
    };
    inspect(&image, &options)
}

fn the_process(r: &InspectReport) -> &ProcessReport {
    assert_eq!(r.other_processes.len(), 1, "{:?}", r.findings);
    &r.other_processes[0]
}

fn register(t: &ThreadReport, name: &str) -> u64 {
    t.registers
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("thread {} has no {name}", t.tid))
        .value
        .0
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// One thread as drgn-user.txt prints it.
struct DrgnThread {
    comm: String,
    registers: BTreeMap<String, u64>,
    stack_words: Vec<u64>,
}

/// drgn's threads by pid, its VMAs (start, end, vm_flags, vm_pgoff,
/// file), and its mm and pgd.
struct Drgn {
    threads: BTreeMap<u64, DrgnThread>,
    vmas: Vec<(u64, u64, u64, u64, Option<String>)>,
    mm: u64,
    pgd: u64,
}

fn drgn(scenario: &str) -> Drgn {
    let text = std::fs::read_to_string(
        kernel_dir()
            .join("reference")
            .join(scenario)
            .join("drgn-user.txt"),
    )
    .unwrap();
    let mut threads = BTreeMap::new();
    let mut lines = text.lines().peekable();
    let (mut mm, mut pgd) = (0, 0);
    let mut vmas = Vec::new();
    let mut in_vmas = false;
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("process: ") {
            mm = hex(words[6]);
            pgd = hex(words[8]);
        } else if line.starts_with("thread ") {
            let regs = lines.next().unwrap();
            let stack = lines.next().unwrap();
            threads.insert(
                words[1].parse().unwrap(),
                DrgnThread {
                    comm: words[2].to_string(),
                    registers: regs
                        .split_whitespace()
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_string(), hex(v))
                        })
                        .collect(),
                    stack_words: stack
                        .trim_start_matches("  stack@sp: ")
                        .split_whitespace()
                        .map(hex)
                        .collect(),
                },
            );
        } else if line.starts_with("--- vmas") {
            in_vmas = true;
        } else if in_vmas && words.len() == 5 {
            vmas.push((
                hex(words[0]),
                hex(words[1]),
                hex(words[2]),
                hex(words[3]),
                (words[4] != "-").then(|| words[4].to_string()),
            ));
        } else if in_vmas && line.is_empty() {
            in_vmas = false;
        }
    }
    Drgn {
        threads,
        vmas,
        mm,
        pgd,
    }
}

/// drgn's pt_regs member names and ckdump's register names.
const REGISTERS: [(&str, &str); 21] = [
    ("ip", "rip"),
    ("sp", "rsp"),
    ("bp", "rbp"),
    ("bx", "rbx"),
    ("ax", "rax"),
    ("cx", "rcx"),
    ("dx", "rdx"),
    ("si", "rsi"),
    ("di", "rdi"),
    ("r8", "r8"),
    ("r9", "r9"),
    ("r10", "r10"),
    ("r11", "r11"),
    ("r12", "r12"),
    ("r13", "r13"),
    ("r14", "r14"),
    ("r15", "r15"),
    ("flags", "rflags"),
    ("cs", "cs"),
    ("ss", "ss"),
    ("orig_ax", "orig_rax"),
];

#[test]
fn every_threads_user_registers_equal_drgns_pt_regs() {
    let r = report("process-user.kdump", 100, false);
    let p = the_process(&r);
    let d = drgn("process-user");
    assert_eq!(d.threads.len(), 4);
    let tids: Vec<u64> = p.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, d.threads.keys().copied().collect::<Vec<_>>());
    assert_eq!(tids, [100, 102, 103, 104]);
    for t in &p.threads {
        let expected = &d.threads[&t.tid];
        assert_eq!(t.name.as_deref(), Some(expected.comm.as_str()));
        for (drgn_name, name) in REGISTERS {
            assert_eq!(
                register(t, name),
                expected.registers[drgn_name],
                "thread {} {name}",
                t.tid
            );
        }
    }
    assert_eq!((p.pid, p.ppid, p.thread_count), (Some(100), Some(1), 4));
    assert_eq!(p.name.as_deref(), Some("ckdump-threads"));
}

#[test]
fn the_panicking_threads_user_registers_equal_crashs_bt() {
    // crash's `bt` ends the panicking task's stack with the registers the
    // syscall entry saved: RIP … ORIG_RAX, CS, SS.
    let crash =
        std::fs::read_to_string(kernel_dir().join("reference/process-user/crash.txt")).unwrap();
    let block = crash
        .split("entry_SYSCALL_64_after_hwframe")
        .nth(1)
        .unwrap();
    let mut expected = BTreeMap::new();
    for line in block.lines().skip(1).take(7) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.chunks(2) {
            let name = pair[0].trim_end_matches(':').to_ascii_lowercase();
            expected.insert(name, hex(pair[1]));
        }
    }
    assert_eq!(expected.len(), 21, "{expected:?}");
    let r = report("process-user.kdump", 100, false);
    let main = &the_process(&r).threads[0];
    for (name, value) in expected {
        assert_eq!(register(main, &name), value, "{name}");
    }
    // And the same mm and pgd as crash's `vm` (which cannot list 6.1's
    // VMAs: it knows no maple tree) and drgn's.
    let d = drgn("process-user");
    let vm = crash.split("       MM               PGD").nth(1).unwrap();
    let words: Vec<&str> = vm.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((hex(words[0]), hex(words[1])), (d.mm, d.pgd));
    let annotation = |key: &str| {
        hex(&the_process(&r)
            .annotations
            .iter()
            .find(|a| a.key == key)
            .unwrap()
            .value)
    };
    assert_eq!((annotation("mm"), annotation("pgd")), (d.mm, d.pgd));
}

#[test]
fn regions_are_the_vmas_drgn_lists() {
    let r = report("process-user.kdump", 102, false);
    let p = the_process(&r);
    let d = drgn("process-user");
    let regions = p.regions.as_ref().unwrap();
    assert_eq!(regions.len(), 16);
    assert_eq!(regions.len(), d.vmas.len());
    for (region, (start, end, flags, pgoff, file)) in regions.iter().zip(&d.vmas) {
        assert_eq!((region.start.0, region.end.0), (*start, *end));
        let rwx = format!(
            "{}{}{}",
            if flags & 1 != 0 { 'r' } else { '-' },
            if flags & 2 != 0 { 'w' } else { '-' },
            if flags & 4 != 0 { 'x' } else { '-' }
        );
        assert_eq!(region.protection, rwx, "{start:#x}");
        assert_eq!(region.sharing, "private", "{start:#x}");
        assert_eq!(&region.file, file, "{start:#x}");
        if file.is_some() {
            assert_eq!(region.file_offset.map(|o| o.0), Some(pgoff * 4096));
        }
    }
    // What each anonymous mapping is, as /proc/PID/maps names them.
    let label = |start: u64| {
        regions
            .iter()
            .find(|r| r.start.0 == start)
            .and_then(|r| r.linux.as_ref()?.label.clone())
    };
    assert_eq!(label(0x6fc1000).as_deref(), Some("[heap]"));
    assert_eq!(label(0x7ffdc2217000).as_deref(), Some("[stack]"));
    assert_eq!(label(0x7ffdc2345000).as_deref(), Some("[vvar]"));
    assert_eq!(label(0x7ffdc2349000).as_deref(), Some("[vdso]"));
    // At dump level 23 the program's file pages (page cache) are gone,
    // its written data and stacks (anonymous) are there.
    let capture = |start: u64| {
        let r = regions.iter().find(|r| r.start.0 == start).unwrap();
        (r.capture.as_str(), r.captured_bytes)
    };
    assert_eq!(capture(0x401000), ("absent", 0));
    assert_eq!(capture(0x4ba000), ("full", 0x3000));
    assert_eq!(capture(0x7ffdc2217000), ("partial", 0x2000));
}

#[test]
fn user_stacks_unwind_through_the_programs_call_chains() {
    let r = report("process-user.kdump", 100, true);
    let p = the_process(&r);
    let d = drgn("process-user");
    let functions = |t: &ThreadReport| -> Vec<String> {
        t.frames
            .iter()
            .map(|f| f.function.clone().unwrap_or_default())
            .collect()
    };
    let lines =
        |t: &ThreadReport| -> Vec<Option<u32>> { t.frames.iter().map(|f| f.line).collect() };
    let main = &p.threads[0];
    assert_eq!(
        functions(main),
        [
            "__libc_write",
            "trigger",
            "main",
            "__libc_start_call_main",
            "__libc_start_main_impl",
            "_start"
        ]
    );
    assert_eq!(lines(main)[1..3], [Some(59), Some(83)]);
    for t in &p.threads[1..] {
        assert_eq!(
            functions(t),
            [
                "__clock_nanosleep",
                "__nanosleep",
                "__sleep",
                "worker_leaf",
                "worker_mid",
                "worker",
                "start_thread",
                "__clone3"
            ],
            "thread {}",
            t.tid
        );
        assert_eq!(lines(t)[3..6], [Some(28), Some(33), Some(47)]);
    }
    for t in &p.threads {
        let expected = &d.threads[&t.tid];
        // Frame 0 is the saved user state; frame 1's return address was
        // read from the user stack through mm->pgd, where drgn read it.
        assert_eq!(t.frames[0].pc.0, expected.registers["ip"]);
        assert_eq!(t.frames[0].sp.map(|s| s.0), Some(expected.registers["sp"]));
        assert!(
            expected.stack_words.contains(&t.frames[1].pc.0),
            "thread {}: {:#x} not in {:x?}",
            t.tid,
            t.frames[1].pc.0,
            expected.stack_words
        );
    }
}

#[test]
fn the_command_line_executable_and_modules() {
    let r = report("process-user.kdump", 103, true);
    let p = the_process(&r);
    assert_eq!(p.executable.as_deref(), Some("/bin/ckdump-threads"));
    assert_eq!(p.args.as_deref(), Some("/bin/ckdump-threads process"));
    let program = &p.modules[0];
    assert_eq!(
        (
            program.name.as_str(),
            program.path.as_str(),
            program.base.0,
            program.end.0
        ),
        ("ckdump-threads", "/bin/ckdump-threads", 0x400000, 0x4bd000)
    );
    assert!(program.main);
    // Its header page was page cache, excluded at level 23: no build-id
    // from the dump, the binary found by name and its DWARF used.
    assert_eq!(program.build_id, None);
    assert_eq!(program.symbols, ckdump::symbols::SymbolKind::Dwarf);
    assert!(
        program
            .binary
            .as_deref()
            .is_some_and(|b| b.ends_with("testdata/kernel/dumps/ckdump-threads")),
        "{:?}",
        program.binary
    );
    let vdso = &p.modules[1];
    assert_eq!(
        (vdso.name.as_str(), vdso.base.0),
        ("[vdso]", 0x7ffdc2349000)
    );
    // The vDSO's header is kernel memory, in the dump: its build-id is read.
    assert!(vdso.build_id.as_deref().is_some_and(|b| b.len() == 40));
    assert!(
        !r.findings.iter().any(|f| f.code == "CKD-W7009"),
        "{:?}",
        r.findings
    );
}

#[test]
fn without_user_pages_the_registers_and_mappings_remain() {
    // process.kdump (level 31): pid 104 is a worker of process 102.
    let r = report("process.kdump", 104, false);
    let p = the_process(&r);
    assert_eq!(p.pid, Some(102));
    let tids: Vec<u64> = p.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, [102, 104, 105, 106]);
    // drgn's kernel stacks of these tasks end in the user pc.
    let drgn = std::fs::read_to_string(kernel_dir().join("reference/process/drgn.txt")).unwrap();
    for t in &p.threads {
        let line = drgn
            .lines()
            .find(|l| l.starts_with(&format!("{} ", t.tid)) && l.contains(" <- "))
            .unwrap();
        let user_pc = hex(line.rsplit(" <- ").next().unwrap());
        assert_eq!(t.frames[0].pc.0, user_pc, "thread {}", t.tid);
        // No stack to walk: the frames stop at the registers.
        assert_eq!(t.frames.len(), 1, "thread {}", t.tid);
    }
    let regions = p.regions.as_ref().unwrap();
    assert_eq!(regions.len(), 16);
    assert!(
        regions
            .iter()
            .filter(|r| r.linux.as_ref().and_then(|l| l.label.as_deref()) != Some("[vdso]"))
            .all(|r| r.capture == "absent")
    );
    assert_eq!(p.args, None);
    assert!(
        r.findings.iter().any(|f| f.code == "CKD-N7011"
            && f.message
                .contains("process 102's stacks, heap and data are not in the dump")),
        "{:?}",
        r.findings
    );
}

#[test]
fn a_kernel_thread_or_an_unknown_pid_is_a_finding_not_a_process() {
    for (pid, why) in [(2, "is a kernel thread"), (99999, "no task has pid 99999")] {
        let r = report("process-user.kdump", pid, false);
        assert!(r.other_processes.is_empty());
        assert!(
            r.findings.iter().any(|f| f
                .message
                .contains(&format!("process {pid} cannot be shown"))
                && f.message.contains(why)),
            "{:?}",
            r.findings
        );
    }
}

#[test]
fn the_cli_shows_the_process_and_says_how_to_ask_for_one() {
    let dump = kernel_dir().join("dumps/process-user.kdump");
    let dump = dump.to_str().unwrap();
    let symbols = kernel_dir().join("dumps");
    let out = common::ckdump(&[
        "inspect",
        dump,
        "--process",
        "100",
        "--symbols",
        symbols.to_str().unwrap(),
        "--log",
        "0",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Process 100 \"ckdump-threads\", ppid 1: 4 threads"),
        "{text}"
    );
    assert!(
        text.contains("  command    /bin/ckdump-threads process"),
        "{text}"
    );
    assert!(text.contains("ckdump-threads!worker_leaf+0xe"), "{text}");
    assert!(
        text.contains(
            "User pages: in the dump (dump level 23); `--process PID` shows a user process"
        ),
        "{text}"
    );
    let json = common::inspect_json(
        std::path::Path::new(dump),
        &["--process", "0x66", "--symbols", symbols.to_str().unwrap()],
    );
    let process = &json["other_processes"][0];
    // 0x66 = 102, a worker: its process is 100.
    assert_eq!(process["pid"], 100);
    let worker = common::thread(process, 102);
    assert_eq!(worker["frames"][4]["function"], "worker_mid");
    let plain = common::ckdump(&[
        "inspect",
        kernel_dir().join("dumps/process.kdump").to_str().unwrap(),
        "--log",
        "0",
    ]);
    let text = String::from_utf8(plain.stdout).unwrap();
    assert!(
        text.contains("User pages: excluded (dump level 31); `--process PID` shows a user process's user registers, modules and mappings, not its stacks."),
        "{text}"
    );
}
