//! The kernel's tasks from nothing but a real kdump (Debian
//! 6.1.0-56-cloud-amd64, sysrq crash by `init` with a 4-thread `crashme`
//! asleep): the task list walked from `init_task` with struct layouts from
//! the BTF the kernel keeps in its own memory, checked against the list
//! drgn printed with the matching vmlinux (reference/drgn-*.txt), and a
//! sleeping task unwound from the frame its last context switch saved.

mod common;

use std::collections::BTreeMap;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::report::{KernelReport, TaskReport};
use common::shared_path;

const KDUMP: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const ELF: &str = "generated/vmcores/vmcore-kdump-makedumpfile-E-d31.elf.zst";
const DRGN_KDUMP: &str = "generated/vmcores/reference/drgn-vmcore-kdump.c-d31.txt";
const DRGN_ELF: &str = "generated/vmcores/reference/drgn-vmcore-kdump.E-d31.elf.txt";

fn kernel(rel: &str, options: &InspectOptions) -> Option<KernelReport> {
    let path = shared_path(rel)?;
    let image = ckdump::open(&path, &common::no_host_files()).unwrap();
    Some(inspect(&image, options).kernel.unwrap())
}

/// drgn's "--- tasks" section: pid → (comm, task_struct address).
fn drgn_tasks(rel: &str) -> Option<BTreeMap<i32, (String, u64)>> {
    let text = std::fs::read_to_string(shared_path(rel)?).unwrap();
    let section = text.split("--- tasks\n").nth(1).unwrap();
    let section = section.split("\n---").next().unwrap();
    Some(
        section
            .lines()
            .map(|line| {
                let mut words = line.split_whitespace();
                let pid = words.next().unwrap().parse().unwrap();
                let address = words.next_back().unwrap();
                let comm = words.collect::<Vec<_>>().join(" ");
                let address = u64::from_str_radix(address.trim_start_matches("0x"), 16).unwrap();
                (pid, (comm, address))
            })
            .collect(),
    )
}

fn by_pid(tasks: &[TaskReport], pid: i32) -> &TaskReport {
    tasks.iter().find(|t| t.pid == pid).unwrap()
}

#[test]
fn the_task_list_equals_drgns_in_every_format() {
    for (dump, reference) in [(KDUMP, DRGN_KDUMP), (ELF, DRGN_ELF)] {
        let Some(k) = kernel(dump, &InspectOptions::default()) else {
            return;
        };
        let Some(expected) = drgn_tasks(reference) else {
            return;
        };
        assert_eq!(k.types.as_deref(), Some("btf"));
        assert!(k.tasks_problems.is_empty(), "{:?}", k.tasks_problems);
        // drgn lists every task but the boot CPU's idle task (pid 0).
        let ours: BTreeMap<i32, (String, u64)> = k
            .tasks
            .iter()
            .filter(|t| t.pid != 0)
            .map(|t| (t.pid, (t.comm.clone(), t.address.0)))
            .collect();
        assert_eq!(ours, expected, "{dump}");
        assert_eq!(ours.len(), 64);
        let idle = by_pid(&k.tasks, 0);
        assert_eq!(
            (idle.comm.as_str(), idle.address.0),
            ("swapper/0", 0xffffffffa821aa40)
        );
    }
}

#[test]
fn threads_parents_states_and_who_ran_where() {
    let Some(k) = kernel(KDUMP, &InspectOptions::default()) else {
        return;
    };
    // crashme's three workers are threads of its group, children of init.
    for (pid, comm) in [(104, "worker-0"), (105, "worker-1"), (106, "worker-2")] {
        let t = by_pid(&k.tasks, pid);
        assert_eq!(
            (t.comm.as_str(), t.tgid, t.ppid, t.state, t.kernel_thread),
            (comm, 101, 1, 'S', false)
        );
    }
    let kthreadd = by_pid(&k.tasks, 2);
    assert_eq!(
        (kthreadd.ppid, kthreadd.state, kthreadd.kernel_thread),
        (0, 'S', true)
    );
    // An idle workqueue worker sleeps as TASK_IDLE: ps's I.
    assert_eq!(by_pid(&k.tasks, 3).state, 'I');
    // crash's ps: `>` swapper/0 on CPU 0 and init (pid 1) on CPU 1, the panicking task.
    let running: Vec<(i32, Option<u32>, bool)> = k
        .tasks
        .iter()
        .filter(|t| t.running_on.is_some())
        .map(|t| (t.pid, t.running_on, t.panicked))
        .collect();
    assert_eq!(running, [(0, Some(0), false), (1, Some(1), true)]);
    let task = |cpu: usize| k.cpus[cpu].task.as_ref().map(|t| (t.pid, t.comm.as_str()));
    assert_eq!(task(1), Some((1, "init")));
    assert_eq!(task(0), Some((0, "swapper/0")));
    assert_eq!(by_pid(&k.tasks, 1).address.0, 0xff168023411ec180);
    // By default only running tasks are unwound, each with its CPU's stack.
    let unwound: Vec<i32> = k
        .tasks
        .iter()
        .filter(|t| t.frames.is_some())
        .map(|t| t.pid)
        .collect();
    assert_eq!(unwound, [0, 1]);
    assert_eq!(
        by_pid(&k.tasks, 1).frames.as_ref().unwrap().len(),
        k.cpus[1].frames.len()
    );
}

fn functions(task: &TaskReport) -> Vec<String> {
    task.frames
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| f.function.clone().unwrap())
        .collect()
}

#[test]
fn a_sleeping_task_unwinds_from_its_switch_frame_as_drgn_does() {
    let options = InspectOptions {
        task: Some(2),
        ..Default::default()
    };
    let Some(k) = kernel(KDUMP, &options) else {
        return;
    };
    let kthreadd = by_pid(&k.tasks, 2);
    // drgn: #0 context_switch (inlined in __schedule) #1 __schedule
    // #2 schedule #3 kthreadd #4 ret_from_fork.
    assert_eq!(
        functions(kthreadd),
        ["__schedule", "schedule", "kthreadd", "ret_from_fork"]
    );
    let frames = kthreadd.frames.as_ref().unwrap();
    assert_eq!(frames[0].pc.0, 0xffffffffa7210e3d);
    assert_eq!(frames[3].pc.0, 0xffffffffa68032f2);
    // Only the asked-for task is unwound.
    assert_eq!(k.tasks.iter().filter(|t| t.frames.is_some()).count(), 1);
}

#[test]
fn all_tasks_unwinds_every_sleeper_down_to_its_entry() {
    let options = InspectOptions {
        all_tasks: true,
        ..Default::default()
    };
    let Some(k) = kernel(KDUMP, &options) else {
        return;
    };
    assert!(k.tasks.iter().all(|t| t.frames.is_some()));
    // A user thread asleep in nanosleep reaches the syscall entry.
    assert_eq!(
        functions(by_pid(&k.tasks, 104)),
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
    // Every kernel thread's stack ends where kernel threads start.
    for t in k
        .tasks
        .iter()
        .filter(|t| t.kernel_thread && t.pid > 1 && t.running_on.is_none())
    {
        let f = functions(t);
        assert_eq!(
            f.last().map(String::as_str),
            Some("ret_from_fork"),
            "{} {:?}",
            t.pid,
            f
        );
        assert_eq!(f[0], "__schedule", "{}", t.pid);
    }
}

#[test]
fn the_text_report_lists_tasks_like_crash_ps() {
    let Some(path) = shared_path(KDUMP) else {
        return;
    };
    let out = common::ckdump(&["inspect", common::p(&path), "--task", "104"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Tasks (65: 2 running, 6 user; layouts from the kernel's BTF)"),
        "{text}"
    );
    assert!(
        text.contains("  >      1      1      0    1  R   init\n"),
        "{text}"
    );
    assert!(
        text.contains("         2      2      0    1  S   [kthreadd]\n"),
        "{text}"
    );
    assert!(text.contains("       104    101      1    0  S   worker-0\n      #0  0xffffffffa7210e3d  vmlinux!__schedule+0x34d"), "{text}");
    assert!(
        text.contains("  CPU 1   pid 1      init             pc 0xffffffffa696475a"),
        "{text}"
    );
}
