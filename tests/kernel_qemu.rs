//! A dump QEMU wrote itself (`dump-guest-memory`, testdata/kernel/gen-qemu.sh):
//! an ELF of the guest's physical memory whose NT_PRSTATUS notes carry each
//! vCPU's id where kdump puts the running task's pid. The guest panicked
//! (sysrq c) from pid 101 on CPU 0, so a reader that trusted those pids would
//! find no CPU for the panic (or, for pid 1, the wrong one). Checked against
//! what drgn and crash printed with the matching vmlinux
//! (reference/qemu-sysrq/).

mod common;

use std::path::PathBuf;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::model::CpuNotePids;
use common::drgn::DrgnReference;

fn dump() -> PathBuf {
    common::root().join("testdata/kernel/dumps/qemu-sysrq.elf.zst")
}

fn reference() -> DrgnReference {
    DrgnReference::read(&common::root().join("testdata/kernel/reference/qemu-sysrq/drgn.txt"))
}

fn report() -> ckdump::report::InspectReport {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    inspect(&image, &InspectOptions::default())
}

#[test]
fn the_reader_takes_the_note_pids_for_vcpu_ids_and_names_no_missing_registers() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let k = image.details.kernel.as_ref().unwrap();
    assert_eq!(k.cpu_note_pids, CpuNotePids::VcpuIds);
    // QEMU writes each vCPU's index + 1 in the pid field: CPU 0's note says
    // "pid 1", which is init, not what ran there.
    let pids: Vec<u64> = k.cpus.iter().map(|c| c.prstatus_pid).collect();
    assert_eq!(pids, [1, 2]);
    // The panic was printed by pid 101, which no note names: that is what
    // QEMU's notes are, not a missing register note.
    assert!(
        !image
            .findings
            .iter()
            .any(|f| f.message.contains("printed the panic")),
        "{:?}",
        image.findings
    );
    assert!(!common::codes(&image).contains(&"CKD-E7010"));
}

#[test]
fn the_panicking_cpu_and_task_equal_drgns() {
    let r = report();
    let k = r.kernel.as_ref().unwrap();
    let d = reference();
    let cpu: u32 = d.header["panic_cpu"].parse().unwrap();
    assert_eq!(k.panic_cpu, Some(cpu));
    // "pid 101 comm sh task 0x…"
    let task: Vec<&str> = d.header["panic task"].split_whitespace().collect();
    let on = k.cpus.iter().find(|c| c.index == cpu).unwrap();
    let running = on.task.as_ref().unwrap();
    assert_eq!(running.pid.to_string(), task[1]);
    assert_eq!(running.comm, task[3]);
    let crash = r.crash.as_ref().unwrap();
    assert_eq!(crash.description, "sysrq triggered crash");
    assert_eq!(crash.interrupt_level.as_deref(), Some("process"));
    // crash agrees: "PID: 101 … CPU: 0 COMMAND: "sh"".
    let crash_txt = std::fs::read_to_string(
        common::root().join("testdata/kernel/reference/qemu-sysrq/crash.txt"),
    )
    .unwrap();
    let bt = crash_txt
        .lines()
        .find(|l| l.starts_with("PID: "))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!((bt[1], bt[5]), (task[1], cpu.to_string().as_str()));
    // The text report says so, with the task's pid, never a vCPU id.
    let text = ckdump::render::text::render_inspect(&r, &Default::default());
    assert!(
        text.contains(&format!(
            "Crash: kernel panic on CPU {cpu} (pid {})",
            task[1]
        )),
        "{text}"
    );
}

#[test]
fn the_crashed_stack_equals_drgns_frame_by_frame() {
    let r = report();
    let k = r.kernel.as_ref().unwrap();
    let cpu = k
        .cpus
        .iter()
        .find(|c| Some(c.index) == k.panic_cpu)
        .unwrap();
    let expected = reference().crashed_frames();
    let ours: Vec<(String, u64, u64)> = cpu
        .frames
        .iter()
        .map(|f| (f.function.clone().unwrap(), f.pc.0, f.sp.unwrap().0))
        .collect();
    let pcs = |v: &[(String, u64, u64)]| v.iter().map(|f| (f.1, f.2)).collect::<Vec<_>>();
    assert_eq!(
        pcs(&ours),
        pcs(&expected),
        "ours {ours:#x?}\ndrgn {expected:#x?}"
    );
    // kallsyms names the cold part of __handle_sysrq apart, and the syscall
    // entry by its label; drgn uses the DWARF names.
    for (o, e) in ours.iter().zip(&expected) {
        assert!(
            o.0 == e.0
                || o.0 == format!("{}.cold", e.0)
                || (e.0 == "entry_SYSCALL_64" && o.0 == "entry_SYSCALL_64_after_hwframe"),
            "{} vs drgn's {}",
            o.0,
            e.0
        );
    }
    assert_eq!(ours[0].0, "delay_tsc");
    assert_eq!(ours[1].0, "panic");
}

#[test]
fn tasks_equal_drgns() {
    let r = report();
    let k = r.kernel.as_ref().unwrap();
    let d = reference();
    let mut expected: Vec<_> = d
        .tasks()
        .into_iter()
        .map(|t| (t.pid, t.ppid, t.tgid, t.comm, t.state, t.cpu, t.task))
        .collect();
    let mut ours: Vec<_> = k
        .tasks
        .iter()
        .filter(|t| t.pid != 0)
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
    expected.sort_by_key(|t| t.0);
    ours.sort_by_key(|t| t.0);
    assert_eq!(ours, expected);
    assert!(expected.iter().any(|t| t.0 == 101 && t.3 == "sh"));
}

#[test]
fn each_cpu_says_what_it_was_doing() {
    let r = report();
    let k = r.kernel.as_ref().unwrap();
    let states: Vec<Option<&str>> = k.cpus.iter().map(|c| c.state.as_deref()).collect();
    // No crash kernel: panic() stopped the other CPU with its stop IPI
    // (REBOOT_VECTOR: sysvec_reboot, stop_this_cpu) while it idled. (crash
    // cannot read that stack: "bt: read of stack at fffffe000004f000
    // failed"; drgn shows only the crashed thread.)
    assert_eq!(
        states,
        [
            Some("panicked"),
            Some("stopped by the panic's stop IPI while idle")
        ]
    );
    let names: Vec<&str> = k.cpus[1]
        .frames
        .iter()
        .map(|f| f.function.as_deref().unwrap())
        .collect();
    assert_eq!(
        names[..4],
        [
            "stop_this_cpu",
            "__sysvec_reboot",
            "sysvec_reboot",
            "asm_sysvec_reboot"
        ]
    );
    assert_eq!(names.last(), Some(&"secondary_startup_64_no_verify"));
    // drgn: CPU 1 ran its idle task, swapper/1.
    assert!(
        reference()
            .section("idle tasks")
            .iter()
            .any(|l| l.contains("swapper/1"))
    );
    assert_eq!(k.cpus[1].task.as_ref().unwrap().comm, "swapper/1");
}

/// QEMU's ELF as it is written for a guest that never handed its
/// VMCOREINFO over (no qemu_fw_cfg, or no `-device vmcoreinfo`): the same
/// file without that note, which QEMU writes last in PT_NOTE.
fn without_vmcoreinfo_note() -> tempfile::NamedTempFile {
    let plain = common::decompressed(&dump());
    let mut bytes = std::fs::read(plain.path()).unwrap();
    let word = |b: &[u8], at: usize, n: usize| {
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&b[at..at + n]);
        u64::from_le_bytes(v) as usize
    };
    let (phoff, phnum) = (word(&bytes, 0x20, 8), word(&bytes, 0x38, 2));
    let mut cut = false;
    for i in 0..phnum {
        let ph = phoff + 56 * i;
        if word(&bytes, ph, 4) != 4 {
            continue;
        }
        let (offset, size) = (word(&bytes, ph + 8, 8), word(&bytes, ph + 32, 8));
        let mut at = offset;
        while at < offset + size {
            let (namesz, descsz) = (word(&bytes, at, 4), word(&bytes, at + 4, 4));
            let next = at + 12 + namesz.div_ceil(4) * 4 + descsz.div_ceil(4) * 4;
            if &bytes[at + 12..at + 12 + namesz] == b"VMCOREINFO\0" {
                assert_eq!(next, offset + size, "VMCOREINFO is QEMU's last note");
                let kept = (at - offset) as u64;
                bytes[ph + 32..ph + 40].copy_from_slice(&kept.to_le_bytes());
                bytes[ph + 40..ph + 48].copy_from_slice(&kept.to_le_bytes());
                cut = true;
            }
            at = next;
        }
    }
    assert!(cut);
    let out = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out.path(), bytes).unwrap();
    out
}

#[test]
fn without_its_vmcoreinfo_note_the_kernels_own_copy_gives_the_same_report() {
    let file = without_vmcoreinfo_note();
    let image = ckdump::open(file.path(), &common::no_host_files()).unwrap();
    let codes = common::codes(&image);
    assert!(codes.contains(&"CKD-N7012"), "{codes:?}");
    assert!(!codes.contains(&"CKD-W7008"), "{codes:?}");
    let k = image.details.kernel.as_ref().unwrap();
    let info = k.vmcoreinfo.as_ref().unwrap();
    assert_eq!(info.osrelease(), Some("6.1.0-56-cloud-amd64"));
    let theirs = inspect(&image, &InspectOptions::default());
    let ours = report();
    let (a, b) = (
        theirs.kernel.as_ref().unwrap(),
        ours.kernel.as_ref().unwrap(),
    );
    assert_eq!(a.panic_cpu, b.panic_cpu);
    assert_eq!(a.build_id, b.build_id);
    assert_eq!(a.kernel_offset.map(|h| h.0), b.kernel_offset.map(|h| h.0));
    let frames = |k: &ckdump::report::KernelReport| {
        k.cpus
            .iter()
            .map(|c| {
                c.frames
                    .iter()
                    .map(|f| (f.pc.0, f.function.clone()))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(frames(a), frames(b));
    assert_eq!(a.tasks.len(), b.tasks.len());
    assert_eq!(a.log, b.log);
    assert_eq!(
        theirs.crash.as_ref().unwrap().description,
        "sysrq triggered crash"
    );
}
