//! A Linux 6.12 kernel dump read with nothing but the dump: our own
//! testdata/kernel/dumps/hardirq-6.12.kdump (Debian 6.12.113+deb12-cloud-amd64,
//! panic() from an hrtimer callback of ckdump_panic.ko in hard-irq context,
//! `makedumpfile -c -d 31`, makedumpfile 1.7.9), checked against what drgn
//! 0.3.0 and crash 8.0.6 printed for it with the debug vmlinux
//! (testdata/kernel/reference/hardirq-6.12/). What changed after 6.1 is all
//! here: ORC entries of layout 3 (6.4+), preempt_count, current_task and
//! hardirq_stack_ptr inside `pcpu_hot` (6.2–6.14), struct module's `mem[]`
//! (6.4+).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::kernel::kallsyms::{AddressEncoding, KernelSymbols};
use ckdump::kernel::orc::{OrcVersion, kernel_orc_version};
use ckdump::report::{InspectReport, KernelReport};
use ckdump::unwind::FoundBy;

const DUMP: &str = "testdata/kernel/dumps/hardirq-6.12.kdump";
const MODULE: &str = "testdata/kernel/dumps/ckdump_panic-6.12.ko";
const REFERENCE: &str = "testdata/kernel/reference/hardirq-6.12";

fn dump() -> PathBuf {
    common::root().join(DUMP)
}

fn reference(name: &str) -> String {
    std::fs::read_to_string(common::root().join(REFERENCE).join(name)).unwrap()
}

/// The inspect report, made once for all tests.
fn report() -> &'static InspectReport {
    static REPORT: OnceLock<InspectReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
        inspect(&image, &InspectOptions::default())
    })
}

fn kernel() -> &'static KernelReport {
    report().kernel.as_ref().unwrap()
}

/// drgn.txt's section that starts with the line `--- {title}`.
fn drgn_section(title: &str) -> Vec<String> {
    let text = reference("drgn.txt");
    let start = text
        .find(&format!("--- {title}"))
        .unwrap_or_else(|| panic!("drgn.txt has no `--- {title}`"));
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("---"))
        .map(str::to_string)
        .collect()
}

fn hex(word: &str) -> u64 {
    u64::from_str_radix(word.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn the_panic_its_cpu_and_its_hardirq_context() {
    let text = reference("drgn.txt");
    assert!(text.contains("\nUTS_RELEASE: 6.12.113+deb12-cloud-amd64\n"));
    assert!(text.contains("\npanic_cpu: 0\n"));
    assert!(text.contains(
        "\npanic message: Kernel panic - not syncing: ckdump_panic: hardirq panic from \
         hrtimer callback, magic 0xc0de0003\n"
    ));
    assert!(text.contains("\npanic task: pid 159 comm ckdump-threads task 0xffff8c0b17820000\n"));

    let crash = report().crash.as_ref().unwrap();
    assert_eq!(crash.kind, "panic");
    assert_eq!(
        crash.description,
        "ckdump_panic: hardirq panic from hrtimer callback, magic 0xc0de0003"
    );
    assert_eq!(crash.interrupt_level.as_deref(), Some("hardirq"));
    let k = kernel();
    assert_eq!(k.release.as_deref(), Some("6.12.113+deb12-cloud-amd64"));
    assert_eq!(k.panic_cpu, Some(0));
    // drgn's per-CPU pcpu_hot.preempt_count, less x86's inverted
    // need-resched bit 31: CPU 0 in its hrtimer interrupt (hardirq 1,
    // preempt 1), CPU 1 stopped by the crash NMI (NMI 1, hardirq 1).
    let counts = drgn_section("per-CPU pcpu_hot.preempt_count");
    assert_eq!(
        counts[..],
        [
            "cpu 0: 0x80010001 preempt=1 softirq=0x0 hardirq=1 nmi=0",
            "cpu 1: 0x80110001 preempt=1 softirq=0x0 hardirq=1 nmi=1",
        ]
    );
    let cpus: Vec<_> = k
        .cpus
        .iter()
        .map(|c| {
            let task = c.task.as_ref().unwrap();
            (
                c.index,
                c.context.as_deref().unwrap(),
                c.preempt_count.unwrap(),
                task.pid,
                task.comm.as_str(),
                c.stack.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cpus,
        [
            (0, "hardirq", 0x1_0001, 159, "ckdump-threads", "irq"),
            (1, "nmi", 0x11_0001, 0, "swapper/1", "task"),
        ]
    );
}

#[test]
fn the_crashed_stack_crosses_from_the_irq_stack_into_the_interrupted_syscall() {
    let frames: Vec<_> = kernel().cpus[0]
        .frames
        .iter()
        .map(|f| {
            (
                f.function.clone().unwrap(),
                f.pc.0,
                f.sp.unwrap().0,
                f.stack.clone().unwrap(),
                f.found_by,
            )
        })
        .collect();
    let expected: Vec<(String, u64, u64, String, FoundBy)> = [
        // crash_setup_regs' snapshot inside __crash_kexec; panic by scan
        // (ORC has no rule at that pc); then ORC, through the module's own
        // tables, up the IRQ stack and across to the task's stack.
        (
            "__crash_kexec",
            0xffffffffab1d230c,
            0xffffd253c0003dd8,
            "irq",
            FoundBy::Context,
        ),
        (
            "panic",
            0xffffffffab0c3ed6,
            0xffffd253c0003e98,
            "irq",
            FoundBy::Scan,
        ),
        (
            "ckdump_hardirq_leaf",
            0xffffffffc040e120,
            0xffffd253c0003f18,
            "irq",
            FoundBy::Orc,
        ),
        (
            "ckdump_hardirq_mid",
            0xffffffffc040e13a,
            0xffffd253c0003f20,
            "irq",
            FoundBy::Orc,
        ),
        (
            "ckdump_hrtimer_fn",
            0xffffffffc040e173,
            0xffffd253c0003f28,
            "irq",
            FoundBy::Orc,
        ),
        (
            "__hrtimer_run_queues",
            0xffffffffab1aa47d,
            0xffffd253c0003f30,
            "irq",
            FoundBy::Orc,
        ),
        (
            "hrtimer_interrupt",
            0xffffffffab1ab58a,
            0xffffd253c0003f88,
            "irq",
            FoundBy::Orc,
        ),
        (
            "__sysvec_apic_timer_interrupt",
            0xffffffffab088548,
            0xffffd253c0003fe0,
            "irq",
            FoundBy::Orc,
        ),
        (
            "sysvec_apic_timer_interrupt",
            0xffffffffabc8d9dc,
            0xffffd253c0003ff8,
            "irq",
            FoundBy::Orc,
        ),
        (
            "asm_sysvec_apic_timer_interrupt",
            0xffffffffabe0160a,
            0xffffd253c01b7d88,
            "task",
            FoundBy::Orc,
        ),
        // The interrupted pc (pt_regs), then the syscall entry whose
        // pt_regs hold user mode: the end of the kernel stack.
        (
            "x64_sys_call",
            0xffffffffab0099f0,
            0xffffd253c01b7e38,
            "task",
            FoundBy::Orc,
        ),
        (
            "do_syscall_64",
            0xffffffffabc88f57,
            0xffffd253c01b7e40,
            "task",
            FoundBy::Orc,
        ),
        (
            "entry_SYSCALL_64_after_hwframe",
            0xffffffffabe0012f,
            0xffffd253c01b7f58,
            "task",
            FoundBy::Orc,
        ),
    ]
    .iter()
    .map(|&(f, pc, sp, stack, by)| (f.to_string(), pc, sp, stack.to_string(), by))
    .collect();
    assert_eq!(frames, expected, "{frames:#x?}");

    // drgn's physical frames (inline ones share their caller's pc) have
    // the same pcs and stack pointers; drgn names the last one by its ELF
    // symbol entry_SYSCALL_64, kallsyms (and the kernel's own trace) by the
    // label inside it.
    let drgn: Vec<(String, u64, u64)> = drgn_section("crashed thread: tid 159")
        .iter()
        .filter(|l| !l.contains("(inline)"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1].to_string(), hex(w[3]), hex(w[5]))
        })
        .filter(|(_, pc, _)| *pc >= 0xffff_8000_0000_0000)
        .collect();
    let ours: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|(f, pc, sp, ..)| {
            let name = if f == "entry_SYSCALL_64_after_hwframe" {
                "entry_SYSCALL_64"
            } else {
                f
            };
            (name.to_string(), *pc, *sp)
        })
        .collect();
    assert_eq!(ours, drgn);

    // crash 8.0.6's bt: the same frames from panic on (it names no
    // ckdump_hardirq_leaf: it looks up the return address itself, the
    // first byte of ckdump_hardirq_mid), and the same IRQ-stack crossing.
    let crash = reference("crash.txt");
    let bt: Vec<(String, u64)> = crash
        .lines()
        .skip_while(|l| !l.starts_with("PID: 159"))
        .skip(1)
        .take_while(|l| !l.starts_with("PID:"))
        .filter_map(|l| {
            let (_, rest) = l.split_once("] ")?;
            let (name, at) = rest.split_once(" at ")?;
            Some((name.to_string(), hex(at.split_whitespace().next()?)))
        })
        .collect();
    let from_panic: Vec<(String, u64)> = expected
        .iter()
        .skip(1)
        .filter(|(f, ..)| f != "ckdump_hardirq_leaf" && f != "x64_sys_call")
        .map(|(f, pc, ..)| (f.clone(), *pc))
        .collect();
    assert_eq!(bt[2..], from_panic[..], "{bt:#x?}");
    assert!(crash.contains(
        " #8 [ffffd253c0003ff0] sysvec_apic_timer_interrupt at ffffffffabc8d9dc\n\
         --- <IRQ stack> ---\n\
         \x20#9 [ffffd253c01b7d88] asm_sysvec_apic_timer_interrupt at ffffffffabe0160a\n\
         \x20   [exception RIP: x64_sys_call+4000]\n"
    ));
}

#[test]
fn the_text_report_marks_the_irq_stack_crossing() {
    let out = common::ckdump(&["inspect", common::p(&dump())]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let lines: Vec<&str> = text.lines().collect();
    let cpu0 = lines
        .iter()
        .position(|l| l.starts_with("  CPU 0   pid 159 "))
        .unwrap();
    assert!(
        lines[cpu0].ends_with("hardirq (preempt_count 0x10001), on the IRQ stack"),
        "{}",
        lines[cpu0]
    );
    let crossing = cpu0 + 10;
    assert_eq!(
        words(lines[crossing - 1]),
        [
            "#8",
            "0xffffffffabc8d9dc",
            "vmlinux!sysvec_apic_timer_interrupt+0x6c",
            "[orc]"
        ]
    );
    assert_eq!(lines[crossing].trim(), "--- <IRQ stack> ---");
    assert_eq!(
        words(lines[crossing + 1]),
        [
            "#9",
            "0xffffffffabe0160a",
            "vmlinux!asm_sysvec_apic_timer_interrupt+0x1a",
            "[orc]"
        ]
    );
    assert_eq!(
        words(lines[cpu0 + 3]),
        [
            "#2",
            "0xffffffffc040e120",
            "ckdump_panic!ckdump_hardirq_leaf+0x20",
            "[orc]"
        ]
    );
}

#[test]
fn the_idle_cpu_unwinds_from_the_halt_the_nmi_interrupted() {
    let frames: Vec<_> = kernel().cpus[1]
        .frames
        .iter()
        .map(|f| (f.function.clone().unwrap(), f.pc.0, f.found_by))
        .collect();
    // crash 8.0.6's #0..#3 (the NMI handler, on the NMI stack) and #4..#10
    // under its `--- <NMI exception stack> ---`.
    let expected: Vec<(String, u64, FoundBy)> = [
        ("crash_nmi_callback", 0xffffffffab0845e2, FoundBy::Scan),
        ("default_do_nmi", 0xffffffffabc8b330, FoundBy::Orc),
        ("exc_nmi", 0xffffffffabc8b535, FoundBy::Orc),
        ("end_repeat_nmi", 0xffffffffabe01e9d, FoundBy::Orc),
        ("pv_native_safe_halt", 0xffffffffabc8de9f, FoundBy::Context),
        ("default_idle", 0xffffffffabc8fb69, FoundBy::Orc),
        ("default_idle_call", 0xffffffffabc8fe20, FoundBy::Orc),
        ("do_idle", 0xffffffffab12e65b, FoundBy::Orc),
        ("cpu_startup_entry", 0xffffffffab12e899, FoundBy::Orc),
        ("start_secondary", 0xffffffffab0867fe, FoundBy::Orc),
        ("common_startup_64", 0xffffffffab03d39d, FoundBy::Orc),
    ]
    .iter()
    .map(|&(f, pc, by)| (f.to_string(), pc, by))
    .collect();
    assert_eq!(frames, expected, "{frames:#x?}");
    let crash = reference("crash.txt");
    for (f, pc, _) in &expected {
        assert!(crash.contains(&format!("] {f} at {pc:x}\n")), "{f}");
    }
}

#[test]
fn the_module_list_is_crashs() {
    // crash's `mod`: MODULE, NAME, TEXT_BASE, SIZE (the kinds kept after
    // init: text, data, rodata, each a page here).
    let crash = reference("crash.txt");
    let line = crash
        .lines()
        .find(|l| l.contains("  ckdump_panic  "))
        .unwrap();
    let w: Vec<&str> = line.split_whitespace().collect();
    let (address, name, base, size) = (hex(w[0]), w[1], hex(w[2]), w[3].parse::<u64>().unwrap());
    assert_eq!(
        (address, name, base, size),
        (
            0xffffffffc0410080,
            "ckdump_panic",
            0xffffffffc040e000,
            12288
        )
    );
    let modules: Vec<_> = kernel()
        .modules
        .iter()
        .map(|m| (m.address.0, m.name.as_str(), m.text_base.0, m.size))
        .collect();
    assert_eq!(modules, [(address, name, base, size)]);
    let m = &kernel().modules[0];
    assert_eq!(m.text_size, 4096);
    // Its ORC table is the .ko's: .orc_unwind_ip holds 37 entries.
    let ko = std::fs::read(common::root().join(MODULE)).unwrap();
    let elf = goblin::elf::Elf::parse(&ko).unwrap();
    let section = |name: &str| {
        elf.section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
            .unwrap()
    };
    assert_eq!(section(".orc_unwind_ip").sh_size / 4, 37);
    assert_eq!(m.orc_entries, Some(37));
    // The module's .orc_header names layout 3, as the kernel's does.
    let header = section(".orc_header");
    let at = header.sh_offset as usize;
    let hash: [u8; 20] = ko[at..at + 20].try_into().unwrap();
    assert_eq!(OrcVersion::from_header(&hash), Some(OrcVersion::V3));
    // drgn's mem[] of the module: text, data, rodata a page each.
    assert_eq!(
        drgn_section("modules")[0],
        "ckdump_panic         0xffffffffc040e000 12288  0xffffffffc040e000/4096 \
         0xffffffffc0410000/4096 0xffffffffc0412000/4096 0x0/0 0x0/0 0x0/0 0x0/0"
    );
}

/// drgn's task lines: pid → (ppid, tgid, comm, state, cpu, address).
type TaskRow = (i32, i32, String, char, u32, u64);

fn drgn_tasks(title: &str) -> Vec<(i32, TaskRow)> {
    drgn_section(title)
        .iter()
        .map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            let n = w.len();
            let comm = w[3..n - 4].join(" ");
            (
                w[0].parse().unwrap(),
                (
                    w[1].parse().unwrap(),
                    w[2].parse().unwrap(),
                    comm,
                    w[n - 4].chars().next().unwrap(),
                    w[n - 2].parse().unwrap(),
                    hex(w[n - 1]),
                ),
            )
        })
        .collect()
}

#[test]
fn the_task_list_equals_drgns() {
    let k = kernel();
    assert_eq!(k.types.as_deref(), Some("btf"));
    assert!(k.tasks_problems.is_empty(), "{:?}", k.tasks_problems);
    assert!(k.modules_problems.is_empty(), "{:?}", k.modules_problems);
    let expected: BTreeMap<i32, TaskRow> =
        drgn_tasks("tasks (for_each_task)").into_iter().collect();
    let row = |t: &ckdump::report::TaskReport| {
        (
            t.ppid,
            t.tgid,
            t.comm.clone(),
            t.state,
            t.cpu.unwrap(),
            t.address.0,
        )
    };
    let ours: BTreeMap<i32, TaskRow> = k
        .tasks
        .iter()
        .filter(|t| t.pid != 0)
        .map(|t| (t.pid, row(t)))
        .collect();
    assert_eq!(ours, expected);
    assert_eq!(ours.len(), 69);
    // ckdump-threads and its three workers share its tgid.
    for pid in 159..=163 {
        let (_, tgid, comm, ..) = &ours[&pid];
        let expected = match pid {
            159 => (159, "ckdump-threads"),
            160 => (160, "sleep"),
            n => (
                159,
                ["ckw-worker-0", "ckw-worker-1", "ckw-worker-2"][n as usize - 161],
            ),
        };
        assert_eq!((*tgid, comm.as_str()), expected);
    }
    // The idle tasks (pid 0): swapper/0 is init_task, swapper/1 only a
    // CPU's current task.
    let idle = drgn_tasks("idle tasks");
    let swappers: Vec<TaskRow> = k.tasks.iter().filter(|t| t.pid == 0).map(row).collect();
    assert_eq!(
        swappers,
        idle.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    );
    assert_eq!(swappers[0].5, 0xffffffffacc10940);
    // Who ran where: the panicking task on CPU 0, swapper/1 on CPU 1.
    let running: Vec<(i32, u32, bool)> = k
        .tasks
        .iter()
        .filter_map(|t| Some((t.pid, t.running_on?, t.panicked)))
        .collect();
    assert_eq!(running, [(159, 0, true), (0, 1, false)]);
}

#[test]
fn a_sleeping_worker_unwinds_from_its_switch_frame() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let options = InspectOptions {
        task: Some(162),
        ..InspectOptions::default()
    };
    let report = inspect(&image, &options);
    let task = report
        .kernel
        .unwrap()
        .tasks
        .into_iter()
        .find(|t| t.pid == 162)
        .unwrap();
    let names: Vec<String> = task
        .frames
        .unwrap()
        .iter()
        .map(|f| f.function.clone().unwrap())
        .collect();
    // drgn's physical frames (context_switch, __schedule_loop and the
    // syscall wrappers are inlined), with kallsyms' name for the entry.
    assert_eq!(
        names,
        [
            "__schedule",
            "schedule",
            "do_nanosleep",
            "hrtimer_nanosleep",
            "common_nsleep",
            "__x64_sys_clock_nanosleep",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ]
    );
    assert!(reference("drgn.txt").contains(
        "\n162 ckw-worker-1: context_switch <- __schedule <- __schedule_loop <- schedule <- \
         do_nanosleep <- hrtimer_nanosleep <- common_nsleep <- __do_sys_clock_nanosleep <- \
         __se_sys_clock_nanosleep <- __x64_sys_clock_nanosleep <- do_syscall_x64 <- \
         do_syscall_64 <- entry_SYSCALL_64 <- 0x4673b5\n"
    ));
}

#[test]
fn the_last_log_records_equal_drgns() {
    let log = &kernel().log;
    assert_eq!(log.len(), 438);
    let ours: Vec<String> = log[log.len() - 20..]
        .iter()
        .map(|r| {
            format!(
                "[{:5}.{:06}] {}",
                r.timestamp_ns / 1_000_000_000,
                r.timestamp_ns % 1_000_000_000 / 1000,
                r.text
            )
        })
        .collect();
    assert_eq!(ours, drgn_section("last 20 printk records"));
    assert_eq!(ours[19], "[    8.781842]  </TASK>");
}

#[test]
fn kallsyms_and_orc_of_a_6_12_kernel() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let memory = &*image.process.memory;
    let info = image
        .details
        .kernel
        .as_ref()
        .unwrap()
        .vmcoreinfo
        .as_ref()
        .unwrap();
    let symbols = KernelSymbols::from_memory(memory, info).unwrap();
    // x86_64 6.12 still has CONFIG_KALLSYMS_ABSOLUTE_PERCPU (Debian's
    // config-6.12.113+deb12-cloud-amd64).
    assert_eq!(symbols.encoding(), AddressEncoding::AbsolutePercpu);
    let section = drgn_section("kallsyms");
    assert_eq!(section[0], "kallsyms_num_syms: 154521");
    assert_eq!(symbols.len(), 154_521);
    // Every address drgn lists (per-CPU ones are offsets: pcpu_hot 0x35000),
    // and no current_task / __preempt_count / hardirq_stack_ptr of their own.
    for line in &section[1..] {
        let w: Vec<&str> = line.split_whitespace().collect();
        let expected = (w[1] != "(none)").then(|| hex(w[1]));
        assert_eq!(symbols.address_of(w[0]), expected, "{}", w[0]);
    }
    assert_eq!(symbols.address_of("pcpu_hot"), Some(0x35000));
    // The kernel's orc_header names layout 3 (6.4+).
    let at = symbols.address_of("orc_header").unwrap();
    let mut hash = [0u8; 20];
    memory.read_exact(at, &mut hash).unwrap();
    assert_eq!(OrcVersion::from_header(&hash), Some(OrcVersion::V3));
    assert_eq!(
        kernel_orc_version(&symbols, memory, info.osrelease()),
        Some(OrcVersion::V3)
    );
}

/// CPU 1's NMI stack (cea_exception_stacks, a per-CPU variable of its own
/// in 6.12 too) holds the NMI-handler frames crash 8.0.6 shows for it; the
/// IRQ stacks come from pcpu_hot.hardirq_stack_ptr.
#[test]
fn interrupt_and_exception_stacks_of_both_cpus() {
    use ckdump::kernel::stacks::{CpuStacks, StackKind};
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let memory = &*image.process.memory;
    let info = image
        .details
        .kernel
        .as_ref()
        .unwrap()
        .vmcoreinfo
        .as_ref()
        .unwrap();
    let symbols = KernelSymbols::from_memory(memory, info).unwrap();
    let btf = ckdump::kernel::btf::from_memory(memory, &symbols).unwrap();
    let cpu0 = CpuStacks::read(memory, &symbols, Some(&btf), 0);
    let cpu1 = CpuStacks::read(memory, &symbols, Some(&btf), 1);
    let crash = reference("crash.txt");
    for sp in [
        0xfffffe1fb9b17ea8u64,
        0xfffffe1fb9b17eb0,
        0xfffffe1fb9b17ed0,
        0xfffffe1fb9b17ef0,
    ] {
        assert!(crash.contains(&format!("[{sp:x}] ")), "{sp:#x}");
        assert_eq!(cpu1.kind_of(sp, None), Some(StackKind::Nmi), "{sp:#x}");
        assert_eq!(cpu0.kind_of(sp, None), None, "{sp:#x}");
    }
    // CPU 0's IRQ stack holds every frame drgn found between panic and
    // sysvec_apic_timer_interrupt (sp 0xffffd253c0003dd8..0xffffd253c0003ff8).
    let irq = |stacks: &CpuStacks| {
        let r = stacks
            .ranges()
            .iter()
            .find(|r| r.2 == StackKind::Irq)
            .unwrap();
        (r.0, r.1)
    };
    assert_eq!(irq(&cpu0), (0xffffd253c0000000, 0xffffd253c0004000));
    assert_ne!(irq(&cpu1).0, irq(&cpu0).0);
    assert_eq!(irq(&cpu1).1 - irq(&cpu1).0, 16384);
}
