//! Our own kernel crash dumps (testdata/kernel, made by testdata/kernel/gen.sh:
//! Debian 6.1 under QEMU, our module `ckdump_panic` panicking in process
//! context, in a softirq (timer_list), in a hardirq (hrtimer), and an oops)
//! read with nothing but the dump, checked against what drgn printed with
//! the matching vmlinux and the module's debug info (reference/*/drgn.txt):
//! the panic and its CPU, task and context, the crashed stack frame by frame
//! (pc and sp) across the IRQ stack, the task list, the sleeping threads'
//! stacks, the module list and the log's last records.

mod common;

use common::drgn::DrgnReference;

use std::path::PathBuf;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::report::{FrameReport, KernelReport};

const SCENARIOS: [&str; 4] = ["process", "softirq", "hardirq", "oops"];

fn dump(scenario: &str) -> PathBuf {
    common::root().join(format!("testdata/kernel/dumps/{scenario}.kdump"))
}

fn report(scenario: &str, options: &InspectOptions) -> ckdump::report::InspectReport {
    let image = ckdump::open(&dump(scenario), &common::no_host_files()).unwrap();
    inspect(&image, options)
}

fn drgn(scenario: &str) -> DrgnReference {
    DrgnReference::read(
        &common::root().join(format!("testdata/kernel/reference/{scenario}/drgn.txt")),
    )
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn kernel(r: &ckdump::report::InspectReport) -> &KernelReport {
    r.kernel.as_ref().unwrap()
}

#[test]
fn the_panic_its_cpu_task_and_context_equal_drgns() {
    // scenario → the context its panicking CPU was in.
    let contexts = [
        ("process", "process"),
        ("softirq", "softirq"),
        ("hardirq", "hardirq"),
        ("oops", "process"),
    ];
    for (scenario, context) in contexts {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let d = drgn(scenario);
        let cpu: u32 = d.header["panic_cpu"].parse().unwrap();
        assert_eq!(k.panic_cpu, Some(cpu), "{scenario}");
        let message = &d.header["panic message"];
        let crash = r.crash.as_ref().unwrap();
        match message.strip_prefix("Kernel panic - not syncing: ") {
            Some(text) => {
                assert_eq!(&crash.description, text, "{scenario}");
                assert!(k.panic_cause.is_empty(), "{scenario}: {:?}", k.panic_cause);
            }
            // The oops never called panic: its report is the cause.
            None => {
                assert_eq!(k.panic_cause[0], *message, "{scenario}");
                assert_eq!(
                    k.panic_cause,
                    [
                        "BUG: kernel NULL pointer dereference, address: 0000000000000028",
                        "Oops: 0002 [#1] PREEMPT SMP NOPTI",
                        "RIP: 0010:ckdump_oops_leaf+0xf/0x20 [ckdump_panic]"
                    ]
                );
            }
        }
        // "panic task: pid 0 comm swapper/0 task 0x…"
        let task: Vec<&str> = d.header["panic task"].split_whitespace().collect();
        let c = k.cpus.iter().find(|c| c.index == cpu).unwrap();
        let t = c.task.as_ref().unwrap();
        assert_eq!(
            (t.pid.to_string().as_str(), t.comm.as_str()),
            (task[1], task[3]),
            "{scenario}"
        );
        let panicked: Vec<_> = k.tasks.iter().filter(|t| t.panicked).collect();
        assert_eq!(panicked.len(), 1, "{scenario}");
        assert_eq!(panicked[0].address.0, hex(task[5]), "{scenario}");
        assert_eq!(c.context.as_deref(), Some(context), "{scenario}");
        assert_eq!(
            crash.interrupt_level.as_deref(),
            Some(context),
            "{scenario}"
        );
        // drgn's raw per-CPU __preempt_count, need-resched bit (31) cleared.
        for line in d.section("per-CPU __preempt_count") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let index: u32 = words[1].trim_end_matches(':').parse().unwrap();
            let raw = hex(words[2]) as u32 & !(1 << 31);
            let ours = k.cpus.iter().find(|c| c.index == index).unwrap();
            assert_eq!(ours.preempt_count, Some(raw), "{scenario} cpu {index}");
        }
    }
}

#[test]
fn the_crashed_stack_equals_drgns_frame_by_frame_across_the_irq_stack() {
    for scenario in SCENARIOS {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let cpu = k
            .cpus
            .iter()
            .find(|c| Some(c.index) == k.panic_cpu)
            .unwrap();
        let expected = drgn(scenario).crashed_frames();
        // drgn's first physical frame on a panic is __crash_kexec (with
        // crash_setup_regs inlined); the oops stops in the module itself.
        let ours: Vec<(String, u64, u64)> = cpu
            .frames
            .iter()
            .map(|f| (f.function.clone().unwrap(), f.pc.0, f.sp.unwrap().0))
            .collect();
        let pcs = |v: &[(String, u64, u64)]| v.iter().map(|f| (f.1, f.2)).collect::<Vec<_>>();
        assert_eq!(
            pcs(&ours),
            pcs(&expected),
            "{scenario}\nours {ours:#x?}\ndrgn {expected:#x?}"
        );
        // Names agree where kallsyms and DWARF name the same function
        // (drgn calls the syscall entry and startup by their DWARF names).
        for (o, e) in ours.iter().zip(&expected) {
            assert!(
                o.0 == e.0
                    || (e.0 == "entry_SYSCALL_64" && o.0 == "entry_SYSCALL_64_after_hwframe")
                    || (e.0 == "secondary_startup_64" && o.0 == "secondary_startup_64_no_verify"),
                "{scenario}: {} vs drgn's {}",
                o.0,
                e.0
            );
        }
    }
}

fn stacks(frames: &[FrameReport]) -> Vec<&str> {
    frames
        .iter()
        .map(|f| f.stack.as_deref().unwrap_or("?"))
        .collect()
}

#[test]
fn interrupt_panics_run_on_the_irq_stack_and_cross_into_the_idle_task() {
    for (scenario, irq_frames) in [("softirq", 11), ("hardirq", 9)] {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let cpu = k
            .cpus
            .iter()
            .find(|c| Some(c.index) == k.panic_cpu)
            .unwrap();
        assert_eq!(cpu.stack.as_deref(), Some("irq"), "{scenario}");
        let labels = stacks(&cpu.frames);
        assert!(
            labels[..irq_frames].iter().all(|s| *s == "irq"),
            "{scenario} {labels:?}"
        );
        assert!(
            labels[irq_frames..].iter().all(|s| *s == "task"),
            "{scenario} {labels:?}"
        );
        // The last frame on the IRQ stack is the interrupt's C entry, the
        // first on the task stack its assembly entry.
        let name = |i: usize| cpu.frames[i].function.as_deref().unwrap();
        assert_eq!(
            name(irq_frames - 1),
            "sysvec_apic_timer_interrupt",
            "{scenario}"
        );
        assert_eq!(
            name(irq_frames),
            "asm_sysvec_apic_timer_interrupt",
            "{scenario}"
        );
    }
    // The text report marks the crossing as crash does.
    let out = common::ckdump(&["inspect", common::p(&dump("hardirq")), "--log", "0"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("vmlinux!sysvec_apic_timer_interrupt+0x69      [orc]\n      --- <IRQ stack> ---\n      #9  0xffffffffad400ec6  vmlinux!asm_sysvec_apic_timer_interrupt+0x16"),
        "{text}"
    );
    assert!(
        text.contains("hardirq (preempt_count 0x10002), on the IRQ stack"),
        "{text}"
    );
}

#[test]
fn tasks_equal_drgns_for_each_task_and_idle_tasks() {
    for scenario in SCENARIOS {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let d = drgn(scenario);
        // pid ppid tgid comm state on_cpu cpu task
        let parse = |line: &String| {
            let w: Vec<&str> = line.split_whitespace().collect();
            let n = w.len();
            (
                w[0].parse::<i32>().unwrap(),
                w[1].parse::<i32>().unwrap(),
                w[2].parse::<i32>().unwrap(),
                w[3..n - 4].join(" "),
                w[n - 4].chars().next().unwrap(),
                w[n - 2].parse::<u32>().unwrap(),
                hex(w[n - 1]),
            )
        };
        let mut expected: Vec<_> = d
            .section("tasks (for_each_task)")
            .iter()
            .map(parse)
            .collect();
        // Idle tasks drgn lists apart; ckdump lists those that were running.
        let idle: Vec<_> = d.section("idle tasks").iter().map(parse).collect();
        expected.extend(
            idle.into_iter()
                .filter(|t| k.tasks.iter().any(|o| o.address.0 == t.6)),
        );
        expected.sort_by_key(|t| (t.0, t.6));
        let mut ours: Vec<_> = k
            .tasks
            .iter()
            .map(|t| {
                (
                    t.pid,
                    t.ppid,
                    t.tgid,
                    t.comm.clone(),
                    t.state,
                    t.cpu.unwrap(),
                    t.address.0,
                )
            })
            .collect();
        ours.sort_by_key(|t| (t.0, t.6));
        assert_eq!(ours, expected, "{scenario}");
        assert!(
            k.tasks_problems.is_empty(),
            "{scenario} {:?}",
            k.tasks_problems
        );
    }
}

#[test]
fn sleeping_threads_unwind_from_their_switch_frames_as_drgn_does() {
    let options = InspectOptions {
        all_tasks: true,
        ..Default::default()
    };
    let r = report("process", &options);
    let k = kernel(&r);
    let d = drgn("process");
    for line in d.section("stacks of ckdump-threads") {
        let (who, chain) = line.split_once(": ").unwrap();
        let pid: i32 = who.split_whitespace().next().unwrap().parse().unwrap();
        let task = k.tasks.iter().find(|t| t.pid == pid).unwrap();
        if task.running_on.is_some() {
            continue;
        }
        // drgn's chain with its inline frames: ours holds the physical
        // functions in the same order (context_switch is inlined into
        // __schedule; the syscall entry goes by its DWARF name).
        let ours: Vec<String> = task
            .frames
            .as_ref()
            .unwrap()
            .iter()
            .map(|f| f.function.clone().unwrap())
            .collect();
        assert_eq!(
            ours,
            [
                "__schedule",
                "schedule",
                "do_nanosleep",
                "hrtimer_nanosleep",
                "common_nsleep",
                "__x64_sys_clock_nanosleep",
                "do_syscall_64",
                "entry_SYSCALL_64_after_hwframe"
            ],
            "{line}"
        );
        let drgn_chain: Vec<&str> = chain.split(" <- ").collect();
        let mut rest = drgn_chain.iter();
        for f in &ours {
            let name = match f.as_str() {
                "entry_SYSCALL_64_after_hwframe" => "entry_SYSCALL_64",
                other => other,
            };
            assert!(rest.any(|d| *d == name), "{f} out of drgn's order {chain}");
        }
        assert!(
            task.frames
                .as_ref()
                .unwrap()
                .iter()
                .all(|f| f.stack.as_deref() == Some("task"))
        );
    }
}

#[test]
fn modules_and_their_symbols_equal_drgn_and_crash() {
    for scenario in SCENARIOS {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let d = drgn(scenario);
        let expected: Vec<(String, u64, u64)> = d
            .section("modules")
            .iter()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[0].to_string(), hex(w[1]), w[2].parse().unwrap())
            })
            .collect();
        let ours: Vec<(String, u64, u64)> = k
            .modules
            .iter()
            .map(|m| (m.name.clone(), m.text_base.0, m.size))
            .collect();
        assert_eq!(ours, expected, "{scenario}");
        assert!(k.modules_problems.is_empty());
        // The module's own symbol table names its functions; its ORC tables
        // unwind them (every module frame of the crashed stack is [orc] or
        // the saved context).
        assert_eq!(k.modules[0].symbols, 14, "{scenario}");
        assert_eq!(k.modules[0].orc_entries, Some(38), "{scenario}");
    }
    // crash's `mod`: MODULE (struct module) ffffffffc048a040 for the
    // process scenario's own run is not this dump's; check this dump's
    // struct module address against its crash reference instead.
    let crash =
        std::fs::read_to_string(common::root().join("testdata/kernel/reference/process/crash.txt"))
            .unwrap();
    let line = crash
        .lines()
        .find(|l| l.contains(" ckdump_panic ") && l.starts_with("ffff"))
        .unwrap();
    let k = report("process", &InspectOptions::default());
    let m = &kernel(&k).modules[0];
    let w: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (m.address.0, m.text_base.0, m.size),
        (hex(w[0]), hex(w[2]), w[3].parse().unwrap())
    );
}

#[test]
fn the_log_ends_as_drgns_last_twenty_records() {
    for scenario in SCENARIOS {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let expected = drgn(scenario).section("last 20 printk records").to_vec();
        let ours: Vec<String> = k.log[k.log.len() - 20..]
            .iter()
            .map(|r| {
                format!(
                    "[{:>5}.{:06}] {}",
                    r.timestamp_ns / 1_000_000_000,
                    r.timestamp_ns % 1_000_000_000 / 1000,
                    r.text
                )
            })
            .collect();
        assert_eq!(ours, expected, "{scenario}");
    }
}

/// The CPU that panicked says so; the other one was parked by kdump's crash
/// NMI, idle unless drgn lists a task running on it.
#[test]
fn each_cpu_says_what_it_was_doing_when_the_crash_nmi_came() {
    for scenario in SCENARIOS {
        let r = report(scenario, &InspectOptions::default());
        let k = kernel(&r);
        let tasks = drgn(scenario).tasks();
        for cpu in &k.cpus {
            let expected = if Some(cpu.index) == k.panic_cpu {
                "panicked".to_string()
            } else if tasks.iter().any(|t| t.on_cpu && t.cpu == cpu.index) {
                "stopped by the crash NMI".to_string()
            } else {
                "stopped by the crash NMI while idle".to_string()
            };
            assert_eq!(
                cpu.state.as_deref(),
                Some(expected.as_str()),
                "{scenario} CPU {}",
                cpu.index
            );
        }
    }
}
