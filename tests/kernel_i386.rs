//! A 32-bit kernel dump: QEMU's `dump-guest-memory -z` of Debian 12's i386
//! kernel (6.1 686-pae) after a sysrq crash (testdata/kernel/gen-i386.sh).
//! It is a makedumpfile flattened stream carrying a kdump-compressed file
//! whose utsname says i686 but whose header has the 64-bit layout (QEMU
//! picks the layout by the highest physical address dumped, and the PC
//! BIOS ends at 4 GiB), with i386 register notes. No crash or drgn here
//! reads i386 dumps: the oracles are QEMU's own `info registers -a`, taken
//! with the vCPUs stopped just before the dump (reference/qemu-i386/
//! registers.txt), and the kernel's `init_uts_ns` read back from the pages.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use ckdump::model::{Arch, CpuNotePids, VmcoreFormat};

fn dump() -> PathBuf {
    common::root().join("testdata/kernel/dumps/qemu-i386.kdump")
}

/// QEMU's `info registers -a`: each vCPU's general registers, EIP, EFL and
/// segment selectors, by QEMU's names.
fn qemu_registers() -> Vec<HashMap<String, u64>> {
    let text = std::fs::read_to_string(
        common::root().join("testdata/kernel/reference/qemu-i386/registers.txt"),
    )
    .unwrap();
    let mut cpus: Vec<HashMap<String, u64>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("CPU#") {
            cpus.push(HashMap::new());
            continue;
        }
        let Some(cpu) = cpus.last_mut() else { continue };
        // "ES =007b 00000000 ffffffff 00cff300 DPL=3 DS   [-WA]"
        if let Some((name, rest)) = line.split_once(" =")
            && ["ES", "CS", "SS", "DS", "FS", "GS"].contains(&name)
        {
            let selector = rest.split_whitespace().next().unwrap();
            cpu.insert(name.to_string(), u64::from_str_radix(selector, 16).unwrap());
            continue;
        }
        // "EAX=ffffffff EBX=00000000 ..." / "EIP=c18eb7a3 EFL=00000283 [...] CPL=0 ..."
        for word in line.split_whitespace() {
            if let Some((name, value)) = word.split_once('=')
                && [
                    "EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP", "EIP", "EFL",
                ]
                .contains(&name)
            {
                cpu.insert(name.to_string(), u64::from_str_radix(value, 16).unwrap());
            }
        }
    }
    cpus
}

#[test]
fn the_notes_and_vmcoreinfo_of_an_i386_kernel_are_read() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    assert_eq!(image.target.arch, Arch::X86);
    assert_eq!(image.target.os_version.as_deref(), Some("6.1.0-56-686-pae"));
    assert_eq!(
        image.producer,
        ckdump::model::Producer::Other("QEMU dump-guest-memory (KDUMP, header version 6)".into())
    );
    let k = image.details.kernel.as_ref().unwrap();
    assert_eq!(k.format, VmcoreFormat::Flattened);
    let info = k.vmcoreinfo.as_ref().unwrap();
    assert_eq!(info.osrelease(), Some("6.1.0-56-686-pae"));
    assert_eq!(
        info.get("BUILD-ID"),
        Some("f0cd443d5a2d01d551d8a5bff555ff59b841ad41")
    );
    assert_eq!(info.get("CONFIG_X86_PAE"), Some("y"));
    // QEMU's notes: one NT_PRSTATUS per vCPU, pid = vCPU index + 1.
    assert_eq!(k.cpu_note_pids, CpuNotePids::VcpuIds);
    let pids: Vec<u64> = k.cpus.iter().map(|c| c.prstatus_pid).collect();
    assert_eq!(pids, [1, 2]);
    // QEMU writes dump level 1 but keeps every zero page: nothing excluded.
    assert_eq!(k.dump_level, None);
    assert!(k.unsupported.as_deref().unwrap().contains("i386"));
    assert!(image.findings.is_empty(), "{:?}", image.findings);
}

#[test]
fn each_cpus_registers_equal_qemus() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let k = image.details.kernel.as_ref().unwrap();
    let qemu = qemu_registers();
    assert_eq!(qemu.len(), 2);
    assert_eq!(k.cpus.len(), 2);
    let names = [
        ("eax", "EAX"),
        ("ebx", "EBX"),
        ("ecx", "ECX"),
        ("edx", "EDX"),
        ("esi", "ESI"),
        ("edi", "EDI"),
        ("ebp", "EBP"),
        ("esp", "ESP"),
        ("eip", "EIP"),
        ("eflags", "EFL"),
        ("cs", "CS"),
        ("ss", "SS"),
        ("ds", "DS"),
        ("es", "ES"),
        ("fs", "FS"),
        ("gs", "GS"),
    ];
    for (cpu, expected) in k.cpus.iter().zip(&qemu) {
        assert_eq!(cpu.registers.arch, Arch::X86);
        for (ours, theirs) in names {
            assert_eq!(
                cpu.registers.get_named(ours),
                Some(expected[theirs]),
                "CPU {} {ours}",
                cpu.index
            );
        }
    }
    // CPU 0 panicked in process context (kernel code segment, the spin in
    // panic()); CPU 1 was halted by the stop IPI.
    assert_eq!(qemu[0]["EIP"], 0xc18e_b7a3);
    assert_eq!(qemu[1]["EIP"], 0xc103_1eb2);
}

#[test]
fn pages_decompress_to_the_kernels_own_data() {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let k = image.details.kernel.as_ref().unwrap();
    let info = k.vmcoreinfo.as_ref().unwrap();
    // The i386 kernel's image lies in its direct map: physical = virtual -
    // PAGE_OFFSET (0xc0000000, Debian's 3G/1G split).
    let uts = info.symbol("init_uts_ns").unwrap() + info.offset("uts_namespace.name").unwrap();
    let physical = uts - 0xc000_0000;
    let mut name = [0u8; 6 * 65];
    let n = image.process.memory.read(physical, &mut name).unwrap();
    assert_eq!(n, name.len());
    let field = |i: usize| {
        let f = &name[i * 65..(i + 1) * 65];
        String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap()]).into_owned()
    };
    assert_eq!(field(0), "Linux");
    assert_eq!(field(2), "6.1.0-56-686-pae");
    assert_eq!(
        field(3),
        "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    );
    assert_eq!(field(4), "i686");
    // The console printed the same version string.
    let console = std::fs::read_to_string(
        common::root().join("testdata/kernel/reference/qemu-i386/console.log"),
    )
    .unwrap();
    let banner = console
        .lines()
        .find(|l| l.contains("Linux version "))
        .unwrap();
    assert!(
        banner.contains(&format!("Linux version {} ", field(2))),
        "{banner}"
    );
    assert!(banner.ends_with(&field(3)), "{banner}");
}

#[test]
fn verify_passes_the_dump_and_finds_what_a_cut_copy_lost() {
    let out = common::ckdump(&["verify", dump().to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 0, "{json}");
    let passed: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "passed")
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    for code in [
        "CKD-E7001",
        "CKD-E7003",
        "CKD-E7004",
        "CKD-E7005",
        "CKD-E7007",
        "CKD-E7010",
    ] {
        assert!(passed.contains(&code), "{code} not passed: {passed:?}");
    }

    // The same stream cut after 6,000,000 bytes, as an interrupted copy
    // leaves it: the flattened record that was cut, and the pages lost.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.kdump");
    let bytes = std::fs::read(dump()).unwrap();
    std::fs::write(&cut, &bytes[..6_000_000]).unwrap();
    let out = common::ckdump(&["verify", cut.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<(String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|(code, m)| code == "CKD-E7007" && m.contains("cut short")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|(code, m)| code == "CKD-E7004" && m.contains("of its 20512 dumped pages")),
        "{messages:?}"
    );
    // inspect still reports what survived.
    let out = common::ckdump(&["inspect", cut.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CPU 0   pid ?      pc 0xc18eb7a3  sp 0xc2db1e30"),
        "{text}"
    );
}

#[test]
fn the_report_says_what_is_not_read_for_an_i386_kernel() {
    let out = common::ckdump(&["inspect", dump().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("written by QEMU dump-guest-memory (KDUMP, header version 6)"),
        "{text}"
    );
    assert!(text.contains("target   Linux i386 (6.1.0-56-686-pae), kernel, 2 CPUs"));
    assert!(text.contains(
        "No panic message: ckdump reads the virtual memory of x86_64 and aarch64 kernels only"
    ));
    assert!(text.contains("  symbols  none: not read for i386 kernels"));
    assert!(text.contains("  CPU 1   pid ?      pc 0xc1031eb2  sp 0xc2189ee4"));
    assert!(text.contains("  tasks not listed: not read for i386 kernels"));
}

#[test]
fn an_i686_header_in_the_64_bit_layout_is_read_by_its_block_size() {
    use ckdump::image::vmcore::flattened::FlattenedFile;
    use ckdump::image::vmcore::kdump_compressed::{KdumpCompressed, Layout};
    let file = std::fs::File::open(dump()).unwrap();
    let stream = ckdump::memory::Bytes::map_file(&file).unwrap();
    let flattened = FlattenedFile::parse_exact(stream).unwrap();
    let dump = KdumpCompressed::parse(std::sync::Arc::new(flattened)).unwrap();
    let h = dump.header();
    // The machine name says i386 layout (status at 412, block size at 416),
    // where QEMU wrote zeros; the block size only makes sense in the 64-bit
    // layout (status at 424, block size at 428), so that is read.
    assert_eq!(h.machine, "i686");
    assert_eq!(h.layout, Layout::Bits64);
    assert_eq!(h.signature, "KDUMP");
    assert_eq!(h.header_version, 6);
    // QEMU fills in only the machine; the release is VMCOREINFO's.
    assert_eq!(
        (h.sysname.as_str(), h.release.as_str(), h.machine.as_str()),
        ("", "", "i686")
    );
    assert_eq!(h.block_size, 4096);
    assert_eq!(h.nr_cpus, 2);
    assert_eq!(h.compression(), Some("zlib"));
    assert!(!h.is_incomplete());
    // QEMU leaves the time unset.
    assert_eq!((h.timestamp_sec, h.timestamp_usec), (0, 0));
    let sub = dump.sub_header().unwrap();
    assert_eq!(sub.dump_level, 1);
    assert_eq!(sub.split, Some(false));
    // A 64 MiB guest: 0x5020 page frames, the top of RAM plus the PCI
    // hole's ROM and VGA pages QEMU dumps with it.
    assert_eq!(sub.max_mapnr_64, Some(dump.max_mapnr()));
    assert_eq!(dump.ram_pages(), 20512);
    assert!(sub.vmcoreinfo.is_some() && sub.notes.is_some());
}
