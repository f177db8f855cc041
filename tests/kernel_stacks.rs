//! Kernel stacks of each CPU from nothing but a real kdump (Debian
//! 6.1.0-56-cloud-amd64, `makedumpfile -c -d 31`, a sysrq crash by `init`):
//! the one stack walker over kernel text as the dump's own kallsyms
//! describes it, checked against what `crash` printed for the same dump
//! (reference/crash-kdump-c-d31.txt). The kernel is built for ORC: its
//! tables, read from the dump's memory, give every caller but one.

mod common;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::report::CpuReport;
use ckdump::unwind::FoundBy;
use common::shared_path;

const VMCORE: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";

fn cpus() -> Option<Vec<CpuReport>> {
    let path = shared_path(VMCORE)?;
    let image = ckdump::open(&path, &common::no_host_files()).unwrap();
    let report = inspect(&image, &InspectOptions::default());
    Some(report.kernel.unwrap().cpus)
}

/// (function, offset, pc, found_by) of each frame.
fn frames(cpu: &CpuReport) -> Vec<(String, u64, u64, FoundBy)> {
    cpu.frames
        .iter()
        .map(|f| {
            assert_eq!(f.module.as_deref(), Some("vmlinux"));
            (
                f.function.clone().unwrap(),
                f.function_offset.unwrap().0,
                f.pc.0,
                f.found_by,
            )
        })
        .collect()
}

/// Whether `needle` occurs in `haystack` in order, gaps allowed.
fn is_subsequence<T: PartialEq>(needle: &[T], haystack: &[T]) -> bool {
    let mut rest = haystack.iter();
    needle.iter().all(|n| rest.any(|h| h == n))
}

#[test]
fn the_panicking_cpu_unwinds_through_crashs_backtrace() {
    let Some(cpus) = cpus() else {
        return;
    };
    let cpu = &cpus[1];
    assert_eq!((cpu.index, cpu.prstatus_pid), (1, 1));
    let frames = frames(cpu);
    // Frame 0 is the pc the panic path saved (crash_setup_regs, inlined
    // into __crash_kexec); crash's #0 machine_kexec and #1 (a later return
    // address in __crash_kexec) come after that save, so they are not on
    // this stack. Its caller is panic at the return address crash shows.
    assert_eq!(
        frames[..2],
        [
            (
                "__crash_kexec".to_string(),
                0x11a,
                0xffff_ffff_a696_475a,
                FoundBy::Context
            ),
            (
                "panic".to_string(),
                0x13d,
                0xffff_ffff_a71c_d06e,
                FoundBy::Scan
            ),
        ]
    );
    // Then ORC from panic's frame on: crash's #3..#9 exactly, and the
    // syscall entry (#19), whose pt_regs end the stack at its top
    // (0xff735d2000013f58 + 168 = 0xff735d2000014000) and hold user mode.
    // crash's #10..#18 are stale return addresses its scanning backtrace
    // meets between do_syscall_64's frame and that pt_regs; the walk
    // previously found them the same way (and `_printk+0x68`, left by an
    // earlier call from panic). panic itself is found by scan: ORC has no
    // rule at frame 0's pc, the address crash_setup_regs takes inside
    // __crash_kexec.
    let orc_bt: &[(&str, u64, u64)] = &[
        ("sysrq_handle_crash", 0x16, 0xffff_ffff_a6ea_8a06),
        ("__handle_sysrq.cold", 0x44, 0xffff_ffff_a71f_4ac9),
        ("write_sysrq_trigger", 0x24, 0xffff_ffff_a6ea_9354),
        ("proc_reg_write", 0x56, 0xffff_ffff_a6be_acb6),
        ("vfs_write", 0xc7, 0xffff_ffff_a6b4_d497),
        ("ksys_write", 0x6b, 0xffff_ffff_a6b4_d95b),
        ("do_syscall_64", 0x5d, 0xffff_ffff_a720_3f4d),
        (
            "entry_SYSCALL_64_after_hwframe",
            0x6e,
            0xffff_ffff_a740_0126,
        ),
    ];
    let expected: Vec<(String, u64, u64, FoundBy)> = orc_bt
        .iter()
        .map(|&(name, offset, pc)| (name.to_string(), offset, pc, FoundBy::Orc))
        .collect();
    assert_eq!(frames[2..], expected[..], "{frames:#x?}");
    // Every ORC frame is one of crash's, in crash's order.
    let crash_bt: &[(&str, u64)] = &[
        ("panic", 0xffff_ffff_a71c_d06e),
        ("sysrq_handle_crash", 0xffff_ffff_a6ea_8a06),
        ("__handle_sysrq.cold", 0xffff_ffff_a71f_4ac9),
        ("write_sysrq_trigger", 0xffff_ffff_a6ea_9354),
        ("proc_reg_write", 0xffff_ffff_a6be_acb6),
        ("vfs_write", 0xffff_ffff_a6b4_d497),
        ("ksys_write", 0xffff_ffff_a6b4_d95b),
        ("do_syscall_64", 0xffff_ffff_a720_3f4d),
        ("exit_to_user_mode_prepare", 0xffff_ffff_a693_7614),
        ("syscall_exit_to_user_mode", 0xffff_ffff_a720_719e),
        ("do_syscall_64", 0xffff_ffff_a720_3f59),
        ("exit_to_user_mode_prepare", 0xffff_ffff_a693_7614),
        ("syscall_exit_to_user_mode", 0xffff_ffff_a720_719e),
        ("do_syscall_64", 0xffff_ffff_a720_3f59),
        ("handle_mm_fault", 0xffff_ffff_a6ac_280b),
        ("do_user_addr_fault", 0xffff_ffff_a687_bbf0),
        ("exit_to_user_mode_prepare", 0xffff_ffff_a693_7614),
        ("entry_SYSCALL_64_after_hwframe", 0xffff_ffff_a740_0126),
    ];
    let found: Vec<(&str, u64)> = frames[1..]
        .iter()
        .map(|(name, _, pc, _)| (name.as_str(), *pc))
        .collect();
    assert!(is_subsequence(&found, crash_bt), "{found:#x?}");
}

#[test]
fn the_idle_cpu_unwinds_from_native_safe_halt_to_start_kernel() {
    let Some(cpus) = cpus() else {
        return;
    };
    let cpu = &cpus[0];
    assert_eq!((cpu.index, cpu.prstatus_pid), (0, 0));
    let frames = frames(cpu);
    // Its note holds the context the crash NMI interrupted (crash's
    // "exception RIP: native_safe_halt+11"). Above it, crash's #0-#3: the
    // NMI handler on the NMI stack, found by the return address into
    // crash_nmi_callback whose ORC walk arrives at those saved registers.
    // Then crash's #4-#12 exactly, by ORC (init text's entries included:
    // start_kernel's caller arch_call_rest_init is there), up to the head
    // code ORC marks as the end of the stack.
    let expected: Vec<(String, u64, u64, FoundBy)> = [
        (
            "crash_nmi_callback",
            0x3c,
            0xffff_ffff_a686_058c,
            FoundBy::Scan,
        ),
        ("default_do_nmi", 0x50, 0xffff_ffff_a720_5b20, FoundBy::Orc),
        ("exc_nmi", 0x11e, 0xffff_ffff_a720_5d6e, FoundBy::Orc),
        ("end_repeat_nmi", 0x16, 0xffff_ffff_a740_1680, FoundBy::Orc),
        (
            "native_safe_halt",
            0xb,
            0xffff_ffff_a721_7a0b,
            FoundBy::Context,
        ),
        ("amd_e400_idle", 0x3d, 0xffff_ffff_a683_c09d, FoundBy::Orc),
        (
            "default_idle_call",
            0x38,
            0xffff_ffff_a721_7b58,
            FoundBy::Orc,
        ),
        ("do_idle", 0x206, 0xffff_ffff_a68e_ddc6, FoundBy::Orc),
        (
            "cpu_startup_entry",
            0x26,
            0xffff_ffff_a68e_e046,
            FoundBy::Orc,
        ),
        ("rest_init", 0xca, 0xffff_ffff_a720_7a2a, FoundBy::Orc),
        (
            "arch_call_rest_init",
            0xa,
            0xffff_ffff_a884_ee19,
            FoundBy::Orc,
        ),
        ("start_kernel", 0x6e8, 0xffff_ffff_a884_f529, FoundBy::Orc),
        (
            "secondary_startup_64_no_verify",
            0xe4,
            0xffff_ffff_a680_0159,
            FoundBy::Orc,
        ),
    ]
    .iter()
    .map(|&(name, offset, pc, by)| (name.to_string(), offset, pc, by))
    .collect();
    assert_eq!(frames, expected, "{frames:#x?}");
}

#[test]
fn inspect_prints_each_cpus_stack_under_its_cpu_line() {
    let Some(path) = shared_path(VMCORE) else {
        return;
    };
    let out = common::ckdump(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cpu1 = lines
        .iter()
        .position(|l| l.starts_with("  CPU 1   pid 1 "))
        .unwrap();
    // Frame 0 from the saved registers, panic flagged as scanned, the
    // rest labelled orc;
    // columns are padded, so compare the words.
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        words(lines[cpu1 + 1]),
        [
            "#0",
            "0xffffffffa696475a",
            "vmlinux!__crash_kexec+0x11a",
            "[context]"
        ]
    );
    assert_eq!(
        words(lines[cpu1 + 2]),
        ["#1", "0xffffffffa71cd06e", "vmlinux!panic+0x13d", "[scan]"]
    );
    assert_eq!(
        words(lines[cpu1 + 3]),
        [
            "#2",
            "0xffffffffa6ea8a06",
            "vmlinux!sysrq_handle_crash+0x16",
            "[orc]"
        ]
    );
    let cpu0 = lines
        .iter()
        .position(|l| l.starts_with("  CPU 0   pid 0 "))
        .unwrap();
    assert_eq!(
        words(lines[cpu0 + 1]),
        [
            "#0",
            "0xffffffffa686058c",
            "vmlinux!crash_nmi_callback+0x3c",
            "[scan]"
        ]
    );
    // crash's marker below the frames on the NMI stack.
    assert_eq!(lines[cpu0 + 5].trim(), "--- <NMI exception stack> ---");
    assert_eq!(
        words(lines[cpu0 + 6]),
        [
            "#4",
            "0xffffffffa7217a0b",
            "vmlinux!native_safe_halt+0xb",
            "[context]"
        ]
    );
}

/// Each CPU's interrupt and exception stacks, from the per-CPU pointers
/// kallsyms names and the struct layouts of the dump's own BTF: crash
/// shows CPU 0's NMI-handler frames at 0xfffffe000000dea8–def0, on the
/// NMI stack that ckdump finds for CPU 0 (and not for CPU 1).
#[test]
fn interrupt_and_exception_stacks_are_where_crash_found_the_nmi_frames() {
    use ckdump::kernel::stacks::{CpuStacks, StackKind};
    let Some(path) = shared_path(VMCORE) else {
        return;
    };
    let image = ckdump::open(&path, &common::no_host_files()).unwrap();
    let memory = &*image.process.memory;
    let info = image
        .details
        .kernel
        .as_ref()
        .unwrap()
        .vmcoreinfo
        .as_ref()
        .unwrap();
    let symbols = ckdump::kernel::kallsyms::KernelSymbols::from_memory(memory, info).unwrap();
    let btf = ckdump::kernel::btf::from_memory(memory, &symbols).unwrap();
    let cpu0 = CpuStacks::read(memory, &symbols, Some(&btf), 0);
    let cpu1 = CpuStacks::read(memory, &symbols, Some(&btf), 1);
    for sp in [
        0xfffffe000000dea8,
        0xfffffe000000deb0,
        0xfffffe000000ded0,
        0xfffffe000000def0,
    ] {
        assert_eq!(cpu0.kind_of(sp, None), Some(StackKind::Nmi), "{sp:#x}");
        assert_eq!(cpu1.kind_of(sp, None), None, "{sp:#x}");
    }
    // 8 KiB exception stacks, 16 KiB IRQ stacks (this kernel's sizes).
    let size = |stacks: &CpuStacks, kind| {
        stacks
            .ranges()
            .iter()
            .find(|r| r.2 == kind)
            .map(|r| r.1 - r.0)
    };
    assert_eq!(size(&cpu0, StackKind::Nmi), Some(8192));
    assert_eq!(size(&cpu0, StackKind::MachineCheck), Some(8192));
    assert_eq!(size(&cpu1, StackKind::Irq), Some(16384));
    // The IRQ stacks of the two CPUs are distinct.
    let irq = |stacks: &CpuStacks| {
        stacks
            .ranges()
            .iter()
            .find(|r| r.2 == StackKind::Irq)
            .unwrap()
            .0
    };
    assert_ne!(irq(&cpu0), irq(&cpu1));
}

/// Both CPUs' saved registers are on task stacks — CPU 0's are the idle
/// task's (crash_save_cpu keeps the context the crash NMI interrupted),
/// CPU 1's init's — and every frame of their walks stays there, but for
/// CPU 0's NMI handler above them, on its NMI stack.
#[test]
fn each_frame_says_which_stack_it_is_on() {
    let Some(cpus) = cpus() else {
        return;
    };
    for cpu in &cpus {
        assert_eq!(cpu.stack.as_deref(), Some("task"), "CPU {}", cpu.index);
        let handler = if cpu.index == 0 { 4 } else { 0 };
        let stacks: Vec<_> = cpu.frames.iter().map(|f| f.stack.as_deref()).collect();
        assert!(
            stacks[..handler].iter().all(|s| *s == Some("nmi"))
                && stacks[handler..].iter().all(|s| *s == Some("task")),
            "CPU {}: {stacks:?}",
            cpu.index,
        );
    }
}
