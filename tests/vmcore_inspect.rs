//! ELF vmcores: a real kdump of a Debian 6.1 guest (`makedumpfile -E -d 31`,
//! stored zstd-compressed in ../shared/generated/vmcores) read by content as
//! a kernel dump, its VMCOREINFO and every CPU's registers equal to what
//! `crash` printed for the same dump (reference/crash-kdump-c-d31.txt).

mod common;

use common::{ckdump, schema, shared_path};

const ELF_VMCORE: &str = "generated/vmcores/vmcore-kdump-makedumpfile-E-d31.elf.zst";

#[test]
fn an_elf_vmcore_is_a_kernel_dump_with_its_vmcoreinfo_and_cpus() {
    let Some(path) = shared_path(ELF_VMCORE) else {
        return;
    };
    // Opened in place, decompressed by ckdump itself: detection is by
    // content (the VMCOREINFO note), never by name.
    let image = ckdump::open(&path, &ckdump::OpenOptions::default()).unwrap();
    assert_eq!(image.format, ckdump::model::ImageFormat::Vmcore);
    assert!(image.target.kernel);
    assert_eq!(image.target.page_size, 4096);
    assert_eq!(image.target.cpu_count, Some(2));
    assert_eq!(
        image.target.os_version.as_deref(),
        Some("6.1.0-56-cloud-amd64")
    );
    // CRASHTIME: Mon Nov 23 00:27:44 UTC 2026, as crash's DATE line says.
    assert_eq!(image.timestamp, Some(1_795_393_664));
    let kernel = image.details.kernel.as_ref().unwrap();
    let info = kernel.vmcoreinfo.as_ref().unwrap();
    assert_eq!(
        info.build_id(),
        Some("3b43fad5034874490492495d552c0af6a5fab235")
    );
    assert_eq!(info.kernel_offset(), Some(0x2580_0000));
    assert_eq!(info.number("pgtable_l5_enabled"), Some(1));
    assert_eq!(info.number("phys_base"), Some(-511_705_088));
    assert_eq!(info.symbol("init_top_pgt"), Some(0xffff_ffff_a821_0000));
    assert_eq!(info.offset("printk_info.caller_id"), Some(20));
    // Each CPU's saved registers; crash: CPU 0 idle in native_safe_halt
    // (RIP ffffffffa7217a0b RSP ffffffffa8203e98), CPU 1 the panicking
    // `init` (pid 1).
    let cpus: Vec<(u32, u64, Option<u64>, Option<u64>)> = kernel
        .cpus
        .iter()
        .map(|c| (c.index, c.prstatus_pid, c.registers.pc(), c.registers.sp()))
        .collect();
    assert_eq!(
        cpus,
        [
            (
                0,
                0,
                Some(0xffff_ffff_a721_7a0b),
                Some(0xffff_ffff_a820_3e98)
            ),
            (
                1,
                1,
                Some(0xffff_ffff_a696_475a),
                Some(0xff73_5d20_0001_39a0)
            ),
        ]
    );
    // The kernel's own virtual address space, through its 5-level page
    // tables: the uts name the kernel exported.
    let uts = info.symbol("init_uts_ns").unwrap() + info.offset("uts_namespace.name").unwrap();
    let mut name = [0u8; 65 * 3];
    image.process.memory.read_exact(uts, &mut name).unwrap();
    let field = |i: usize| {
        let f = &name[i * 65..(i + 1) * 65];
        String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap()]).into_owned()
    };
    assert_eq!(
        (field(0), field(2)),
        ("Linux".to_string(), "6.1.0-56-cloud-amd64".to_string())
    );
}

#[test]
fn inspect_and_verify_an_elf_vmcore() {
    let Some(path) = shared_path(ELF_VMCORE) else {
        return;
    };
    let path = path.to_str().unwrap();
    let out = ckdump(&["inspect", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        // crash: DATE Mon Nov 23 00:27:44 UTC 2026, UPTIME 00:00:11.
        "  crashed  2026-11-23 00:27:44 UTC (1795393664 s since 1970)",
        "  uptime   00:00:11 (the kernel log's last record)",
        "  release  6.1.0-56-cloud-amd64",
        "  build-id 3b43fad5034874490492495d552c0af6a5fab235",
        "  KASLR    text offset 0x25800000",
        // Each CPU's context by its preempt_count: CPU 0 was stopped by the
        // crash NMI (crash shows it on the NMI exception stack: NMI and
        // hardirq nesting set), CPU 1 panicked in process context (a write
        // to /proc/sysrq-trigger), with preemption disabled once.
        "  CPU 0   pid 0      swapper/0        pc 0xffffffffa7217a0b (native_safe_halt+0xb)  sp 0xffffffffa8203e98  nmi (preempt_count 0x110001); stopped by the crash NMI while idle",
        "  CPU 1   pid 1      init             pc 0xffffffffa696475a (__crash_kexec+0x11a)  sp 0xff735d20000139a0  process (preempt_count 0x1)",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }
    // A kernel dump is not a process: no claim that a process was dumped
    // while running. The panic, its CPU and task, and the log's last lines
    // are crash's ("PANIC: Kernel panic - not syncing: sysrq triggered
    // crash", PID 1 on CPU 1, `log` ending in the register dump), read with
    // nothing but the dump: VMCOREINFO, the page tables, the printk ring.
    assert!(!text.contains("dumped while running"), "{text}");
    let tail: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Kernel log (last 10 of 421 records"))
        .take(11)
        .collect();
    assert_eq!(
        tail[8..],
        [
            "[   11.134715] R10: 00000000000001b6 R11: 0000000000000202 R12: 0000000000000002",
            "[   11.134715] R13: 00000000205ce3a0 R14: 0000000000000001 R15: 00007fff7f603bc0",
            "[   11.134715]  </TASK>",
        ],
        "{text}"
    );
    let crash: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Crash:"))
        .take(2)
        .collect();
    assert_eq!(
        crash,
        [
            "Crash: kernel panic on CPU 1 (pid 1), in process context",
            "  Kernel panic - not syncing: sysrq triggered crash",
        ]
    );

    let json = common::inspect_json(std::path::Path::new(path), &[]);
    assert_eq!(json["kernel"]["format"], "elf");
    assert_eq!(json["kernel"]["panic_cpu"], 1);
    assert_eq!(json["kernel"]["cpus"][0]["context"], "nmi");
    assert_eq!(json["kernel"]["cpus"][1]["context"], "process");
    assert_eq!(json["crash"]["interrupt_level"], "process");
    assert_eq!(json["crash"]["description"], "sysrq triggered crash");
    let log = json["kernel"]["log"].as_array().unwrap();
    assert_eq!(log.len(), 421);
    assert!(
        log[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Linux version 6.1.0-56-cloud-amd64"),
        "{}",
        log[0]
    );
    assert_eq!(json["kernel"]["cpus"].as_array().unwrap().len(), 2);
    let v = schema("inspect.schema.json");
    let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
    assert_eq!(errors, Vec::<String>::new());

    // No false findings about thread notes or an unusual writer: the
    // process checks do not apply to a kernel dump.
    let out = ckdump(&["verify", path, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"], serde_json::json!([]));
    let statuses: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "not_applicable")
        .map(|c| (c["code"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert!(
        statuses.iter().all(|(code, _)| !code.starts_with("CKD-E2")),
        "{statuses:?}"
    );
}

const KDUMP_VMCORE: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";

/// The same crash written by makedumpfile as kdump-compressed (zlib,
/// dump level 31): the report says the same as the ELF form's — panic,
/// CPUs, VMCOREINFO, every log record — and what makedumpfile left out.
#[test]
fn a_kdump_compressed_vmcore_reports_what_its_elf_form_does() {
    let (Some(elf), Some(kdump)) = (shared_path(ELF_VMCORE), shared_path(KDUMP_VMCORE)) else {
        return;
    };
    let a = common::inspect_json(&elf, &[]);
    let b = common::inspect_json(&kdump, &[]);
    assert_eq!(a["kernel"]["format"], "elf");
    assert_eq!(b["kernel"]["format"], "kdump-compressed");
    assert_eq!(b["kernel"]["dump_level"], 31);
    assert_eq!(b["kernel"]["incomplete"], false);
    for key in [
        "release",
        "build_id",
        "kernel_offset",
        "crash_time",
        "panic_cpu",
        "cpus",
        "log",
        "vmcoreinfo",
    ] {
        assert_eq!(a["kernel"][key], b["kernel"][key], "{key}");
    }
    assert_eq!(a["crash"], b["crash"]);
    assert_eq!(
        b["image"]["writer"],
        "makedumpfile (KDUMP, header version 6)"
    );
    let v = schema("inspect.schema.json");
    let errors: Vec<String> = v.iter_errors(&b).map(|e| e.to_string()).collect();
    assert_eq!(errors, Vec::<String>::new());

    let out = ckdump(&["inspect", kdump.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l
            == "  dump     kdump-compressed, dump level 31 (zero, cache, cache private, user, free pages excluded)"),
        "{text}"
    );
    // verify: sound, and says in words what dump level 31 left out.
    let out = ckdump(&["verify", kdump.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CKD-N7011"]);
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("user pages (user-space stacks and memory of tasks cannot be shown)")
    );
}

/// A QEMU-style ELF dump without a VMCOREINFO note (made from the real one
/// by renaming its VMCOREINFO note's owner to QEMU): still a kernel dump
/// with its CPUs, read with the copy of VMCOREINFO the kernel keeps in its
/// own memory, and verify notes that the note was missing.
#[test]
fn a_dump_without_vmcoreinfo_keeps_its_cpus_and_says_what_is_lost() {
    let Some(path) = shared_path(ELF_VMCORE) else {
        return;
    };
    let elf = common::decompressed(&path);
    let mut bytes = std::fs::read(elf.path()).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"VMCOREINFO\0")
        .expect("the VMCOREINFO note's owner");
    bytes[at..at + 11].copy_from_slice(b"QEMU\0\0\0\0\0\0\0");
    let dir = tempfile::tempdir().unwrap();
    let qemu = dir.path().join("guest.elf");
    std::fs::write(&qemu, &bytes).unwrap();

    let json = common::inspect_json(&qemu, &[]);
    assert_eq!(json["image"]["kernel"], true);
    assert_eq!(json["image"]["writer"], "QEMU dump-guest-memory");
    assert_eq!(json["kernel"]["cpus"].as_array().unwrap().len(), 2);
    assert_eq!(json["kernel"]["release"], "6.1.0-56-cloud-amd64");
    assert_eq!(json["crash"]["description"], "sysrq triggered crash");
    assert_eq!(json["kernel"]["panic_cpu"], 1);
    let out = ckdump(&["verify", qemu.to_str().unwrap(), "--format", "json"]);
    // A note: exit 0, also under --fail-on warning.
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["code"], "CKD-N7012");
    assert_eq!(report["findings"].as_array().unwrap().len(), 1);
    let out = ckdump(&["verify", qemu.to_str().unwrap(), "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(0));
}

/// A vmcore cut short (an interrupted copy, a full disk): still read as a
/// kernel dump — by its kernel-half PT_LOADs when the cut took the
/// VMCOREINFO note too — and verify names the memory lost.
#[test]
fn a_cut_vmcore_is_still_a_kernel_dump_and_verify_names_what_is_lost() {
    let Some(path) = shared_path(ELF_VMCORE) else {
        return;
    };
    let elf = common::decompressed(&path);
    let bytes = std::fs::read(elf.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (len, codes) in [
        (60_000_000usize, vec!["CKD-E1005", "CKD-W7009"]),
        (4096, vec!["CKD-E1003", "CKD-E1005", "CKD-W7008"]),
    ] {
        let cut = dir.path().join(format!("cut-{len}.elf"));
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let json = common::inspect_json(&cut, &[]);
        assert_eq!(json["image"]["format"], "vmcore", "{len}");
        assert_eq!(json["kernel"]["cpus"].as_array().unwrap().len(), 2, "{len}");
        let out = ckdump(&["verify", cut.to_str().unwrap(), "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{len}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut got: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, codes, "{len}");
    }
}
