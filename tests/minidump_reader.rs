//! The minidump reader against real dumps: every value below is from the
//! corpus MANIFEST (what the dumps' own projects assert) or from the
//! reference outputs beside the generated dumps (minidump-stackwalk's raw
//! `--dump`, the stream listing of the wine dumps).

mod common;

use std::path::Path;

use ckdump::analysis::{self, InspectOptions};
use ckdump::model::{Arch, FaultCode, Image, ImageFormat, Os, Producer, Sharing};
use ckdump::{OpenOptions, open};
use common::shared;

fn dump(rel: &str) -> Option<Image> {
    let path = shared()?.join(rel);
    Some(open(&path, &OpenOptions::default()).unwrap_or_else(|e| panic!("{e}")))
}

fn reg(image: &Image, tid: u64, name: &str) -> u64 {
    let t = image
        .process
        .thread(tid)
        .unwrap_or_else(|| panic!("thread {tid:#x}"));
    t.registers
        .get_named(name)
        .unwrap_or_else(|| panic!("{name} of {tid:#x}"))
}

fn exception(image: &Image) -> (u32, u32) {
    match image.fault.as_ref().map(|f| &f.code) {
        Some(FaultCode::Exception { code, flags }) => (*code, *flags),
        other => panic!("{other:?}"),
    }
}

fn text<'a>(image: &'a Image, name: &str) -> &'a str {
    image
        .details
        .texts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("no text {name}"))
}

#[test]
fn breakpad_minidump2_every_manifest_value() {
    let Some(img) = dump("corpus/breakpad/minidump2.dmp") else {
        return;
    };
    assert_eq!(img.format, ImageFormat::Minidump);
    assert_eq!(img.target.os, Os::Windows);
    assert_eq!(img.target.arch, Arch::X86);
    assert!(!img.target.kernel);
    assert_eq!(
        img.target.os_version.as_deref(),
        Some("5.1.2600 Service Pack 2")
    );
    assert_eq!(
        img.target.cpu.as_deref(),
        Some("GenuineIntel family 6 model 13 stepping 8")
    );
    assert_eq!(img.target.cpu_count, Some(1));
    assert_eq!(img.producer, Producer::Other("Breakpad".into()));
    assert_eq!(img.timestamp, Some(1171480435));
    assert_eq!(img.process.facts.as_ref().unwrap().pid, Some(3932));

    // EXCEPTION_ACCESS_VIOLATION_WRITE at 0x45 in thread 0xbf4.
    assert_eq!(exception(&img), (0xC000_0005, 0));
    let fault = img.fault.as_ref().unwrap();
    assert_eq!(fault.address, Some(0x45));
    assert_eq!(fault.thread, Some(0xbf4));
    assert_eq!(fault.parameters, vec![1, 0x45]);

    let tids: Vec<u64> = img.process.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, vec![0xbf4, 0x11c0]);
    assert_eq!(reg(&img, 0xbf4, "eip"), 0x40429e);
    assert_eq!(reg(&img, 0xbf4, "esp"), 0x12fe84);
    // Breakpad's own dump thread.
    assert_eq!(reg(&img, 0x11c0, "eip"), 0x7c90eb94);
    assert_eq!(
        text(&img, "Breakpad info"),
        "dump thread 0x11c0, requesting thread 0xbf4"
    );
    let float = img.process.thread(0xbf4).unwrap().float.as_ref().unwrap();
    assert_eq!(float.fcw, Some(0x27f));

    assert_eq!(img.process.modules.len(), 13);
    let main = &img.process.modules[0];
    assert!(main.is_main);
    assert_eq!(main.name, "test_app.exe");
    assert_eq!(main.path, r"c:\test_app.exe");
    assert_eq!(main.base, 0x400000);
    let pe = main.pe.as_ref().unwrap();
    assert_eq!(pe.code_id.as_deref(), Some("45D35F6C2d000"));
    assert_eq!(pe.debug_file.as_deref(), Some("test_app.pdb"));
    assert_eq!(
        pe.debug_id.as_deref(),
        Some("5A9832E5287241C1838ED98914E9B7FF1")
    );
    let kernel32 = img
        .process
        .modules
        .iter()
        .find(|m| m.name == "kernel32.dll")
        .unwrap();
    assert_eq!(kernel32.base, 0x7c800000);
    assert_eq!(
        kernel32.pe.as_ref().unwrap().debug_file.as_deref(),
        Some("kernel32.pdb")
    );
    let m = img.process.module_at(0x77d43210).unwrap();
    assert_eq!(
        m.pe.as_ref().unwrap().version.as_deref(),
        Some("5.1.2600.2622")
    );

    // Streams, in directory order; memory is readable zero-copy.
    let kinds: Vec<(u32, Option<&str>)> = img
        .details
        .streams
        .iter()
        .map(|s| (s.kind, s.name))
        .collect();
    assert!(kinds.contains(&(3, Some("ThreadListStream"))));
    assert!(kinds.contains(&(0x4767_0001, Some("BreakpadInfoStream"))));
    let mut word = [0u8; 4];
    img.process.memory.read_exact(0x12fe84, &mut word).unwrap();
    // No MemoryInfoList: no regions are invented.
    assert!(img.process.regions.is_empty());
    assert!(img.findings.is_empty(), "{:?}", img.findings);
}

#[test]
fn windows_exceptions() {
    let Some(img) = dump("corpus/breakpad/tiny-exe-fastfail.dmp") else {
        return;
    };
    assert_eq!(exception(&img).0, 0xC000_0409);
    // FAST_FAIL_FATAL_APP_EXIT is the first parameter.
    assert_eq!(img.fault.as_ref().unwrap().parameters, vec![7]);
    assert_eq!(img.process.threads.len(), 4);
    assert_eq!(img.target.arch, Arch::X86_64);
    assert_eq!(img.target.os_version.as_deref(), Some("10.0.19042"));
    assert_eq!(
        img.producer,
        Producer::Other("Windows MiniDumpWriteDump".into())
    );

    let img = dump("corpus/breakpad/write_av_non_canonical.dmp").unwrap();
    assert_eq!(exception(&img).0, 0xC000_0005);
    assert_eq!(img.process.threads.len(), 2);
    let fault = img.fault.as_ref().unwrap();
    // Windows records a non-canonical access as all ones; the analysis
    // recovers the real operand address from the faulting instruction.
    assert_eq!(fault.address, Some(u64::MAX));
    let pc = img.crashing_thread().unwrap().registers.pc();
    assert_eq!(pc, Some(0x7ff738721331));
    let report = analysis::inspect(&img, &InspectOptions::default());
    let crash = report.crash.unwrap();
    assert_eq!(crash.address.map(|h| h.0), Some(0xfefefefefefefefe));

    let img = dump("corpus/breakpad/thread_name_list.dmp").unwrap();
    assert_eq!(img.process.threads.len(), 6);
    let names: Vec<Option<&str>> = img
        .process
        .threads
        .iter()
        .map(|t| t.name.as_deref())
        .collect();
    assert_eq!(
        names,
        vec![
            Some("main thread"),
            None,
            None,
            None,
            Some("sleep thread"),
            Some("overflow thread")
        ]
    );
    assert_eq!(img.fault.as_ref().unwrap().address, Some(0xf1004));
    assert_eq!(reg(&img, 0x2ae0, "eip"), 0x4015fd);
}

#[test]
fn cet_shadow_stack_pointer_from_the_xstate_context() {
    let Some(img) = dump("corpus/breakpad/tiny-exe-with-cet-xsave.dmp") else {
        return;
    };
    assert_eq!(img.target.os_version.as_deref(), Some("10.0.22000 282"));
    assert_eq!(
        img.target.cpu.as_deref(),
        Some("family 6 model 140 stepping 1")
    );
    assert_eq!(img.process.threads.len(), 1);
    assert!(img.fault.is_none());
    let float = img.process.threads[0].float.as_ref().unwrap();
    // XSTATE_BV has only CET_U (bit 11); PL3_SSP sits beside U_CET = 1.
    assert_eq!(float.xsave_features, Some(0x800));
    assert_eq!(float.shadow_stack_pointer, Some(0xcbc83fefc8));
    // An ordinary context (no XSTATE) has neither.
    let plain = dump("corpus/breakpad/write_av_non_canonical.dmp").unwrap();
    let float = plain.process.threads[0].float.as_ref().unwrap();
    assert_eq!(float.shadow_stack_pointer, None);
}

#[test]
fn lldb_windows_dumps() {
    let Some(img) = dump("corpus/lldb/windows-sigsegv/sigsegv.dmp") else {
        return;
    };
    assert_eq!(img.process.threads.len(), 1);
    assert_eq!(img.process.threads[0].tid, 10860);
    assert_eq!(exception(&img).0, 0xC000_0005);
    assert_eq!(reg(&img, 10860, "rip"), 0x7ff7a13110d9);
    // mov dword ptr [0], 0: a write to address 0.
    let fault = img.fault.as_ref().unwrap();
    assert_eq!((fault.parameters[0], fault.address), (1, Some(0)));
    assert_eq!(img.process.modules.len(), 4);
    assert_eq!(
        img.process.modules[0]
            .pe
            .as_ref()
            .unwrap()
            .debug_id
            .as_deref(),
        Some("7DD47A9FC2E8499AA78EC14AE2C965A21")
    );
    let float = img.process.threads[0].float.as_ref().unwrap();
    assert_eq!(float.vector.len(), 16);

    let img = dump("corpus/lldb/minidump/fizzbuzz_no_heap.dmp").unwrap();
    assert_eq!(img.process.facts.as_ref().unwrap().pid, Some(4440));
    assert_eq!(img.process.threads.len(), 1);
    assert_eq!(exception(&img).0, 0xC000_0005);
    assert_eq!(img.process.modules.len(), 6);
    assert_eq!(
        img.target.os_version.as_deref(),
        Some("6.1.7601 Service Pack 1")
    );
    let id = |name: &str| {
        img.process
            .modules
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.pe.as_ref()?.debug_id.clone())
    };
    // UUID 0F45B791-9A96-46F9-BF8F-2D6076EA421A age 0x11 (Breakpad form:
    // age in hex, no padding).
    assert_eq!(
        id("fizzbuzz.exe").as_deref(),
        Some("0F45B7919A9646F9BF8F2D6076EA421A11")
    );
    assert_eq!(
        id("ntdll.dll").as_deref(),
        Some("BBB0846A402C4052A16B67650BBFE6B02")
    );
    assert_eq!(reg(&img, img.process.threads[0].tid, "eip"), 0x00164d14);
}

#[test]
fn symbolic_windows_mini() {
    let Some(img) = dump("corpus/symbolic/windows/mini.dmp") else {
        return;
    };
    assert_eq!(img.timestamp, Some(1521713273));
    assert_eq!(img.fault.as_ref().unwrap().address, Some(0x45));
    assert_eq!(
        img.target.cpu.as_deref(),
        Some("GenuineIntel family 6 model 63 stepping 2")
    );
    assert_eq!(img.target.cpu_count, Some(2));
    let tids: Vec<u64> = img.process.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, vec![1636, 3580, 2600, 2920]);
    assert_eq!(reg(&img, 1636, "eip"), 0x2a2a3d);
    assert_eq!(img.process.modules.len(), 17);
    let m = &img.process.modules[0];
    assert_eq!(
        (m.name.as_str(), m.base, m.size),
        ("crash.exe", 0x2a0000, 0x9000)
    );
    let pe = m.pe.as_ref().unwrap();
    assert_eq!(pe.code_id.as_deref(), Some("5AB380779000"));
    assert_eq!(
        pe.debug_id.as_deref(),
        Some("3249D99D0C4049318610F4E4FB0B69361")
    );
}

#[test]
fn linux_breakpad_dumps() {
    let Some(img) = dump("corpus/lldb/unittests-minidump/linux-x86_64.dmp") else {
        return;
    };
    assert_eq!(img.target.os, Os::Linux);
    assert_eq!(img.target.arch, Arch::X86_64);
    assert_eq!(img.process.threads.len(), 1);
    assert_eq!(img.process.threads[0].tid, 16001);
    assert_eq!(img.process.facts.as_ref().unwrap().pid, Some(16001));
    match img.fault.as_ref().unwrap().code {
        FaultCode::Signal { signo, .. } => assert_eq!(signo, 11),
        ref other => panic!("{other:?}"),
    }
    for (name, value) in [
        ("rax", 0),
        ("rbx", 0),
        ("rcx", 0x10),
        ("rdi", 0x7ffceb349cf0),
        ("rbp", 0x7ffceb34a210),
    ] {
        assert_eq!(reg(&img, 16001, name), value, "{name}");
    }
    let mut buf = [0u8; 128];
    img.process.memory.read_exact(0x401d46, &mut buf).unwrap();

    let img = dump("corpus/lldb/unittests-minidump/linux-i386.dmp").unwrap();
    assert_eq!(img.target.arch, Arch::X86);
    let tid = 157700;
    for (name, value) in [
        ("eax", 0),
        ("ebx", 0xf7778000),
        ("ecx", 1),
        ("edx", 0xff9dd4a3),
        ("edi", 0x080482a8),
        ("esi", 0xff9dd55c),
        ("ebp", 0xff9dd53c),
        ("esp", 0xff9dd52c),
        ("eip", 0x080482a0),
        ("eflags", 0x00010282),
        ("cs", 0x23),
        ("gs", 0x63),
        ("ss", 0x2b),
        ("ds", 0x2b),
        ("es", 0x2b),
    ] {
        assert_eq!(reg(&img, tid, name), value, "{name}");
    }
    assert_eq!(img.producer, Producer::Other("Breakpad".into()));
    assert_eq!(
        img.process.facts.as_ref().unwrap().args.as_deref(),
        Some("./linux-i386")
    );
    assert!(!img.process.auxv.is_empty());
}

#[test]
fn linux_mini_sigsegv_at_0x45_and_its_maps() {
    let Some(img) = dump("corpus/symbolic/linux/mini.dmp") else {
        return;
    };
    assert_eq!(img.timestamp, Some(1522061032));
    assert_eq!(img.target.cpu_count, Some(4));
    assert_eq!(
        img.target.cpu.as_deref(),
        Some("family 6 model 70 stepping 1")
    );
    let fault = img.fault.as_ref().unwrap();
    assert!(matches!(fault.code, FaultCode::Signal { signo: 11, .. }));
    assert_eq!(fault.address, Some(0x45));
    assert_eq!(fault.thread, Some(1304));
    assert_eq!(reg(&img, 1304, "rip"), 0x401d72);
    // A 'BpEL' CodeView record: the whole GNU build-id, and the Breakpad
    // debug id symbolic's snapshot expects.
    let crash = &img.process.modules[0];
    assert_eq!(crash.name, "crash");
    assert_eq!(
        crash.build_id.as_deref(),
        Some("f1c3bcc0279865fe3058404b2831d9e64135386c")
    );
    assert_eq!(
        crash.pe.as_ref().unwrap().debug_id.as_deref(),
        Some("C0BCC3F19827FE653058404B2831D9E60")
    );

    let img = dump("corpus/rust-minidump/linux-mini.dmp").unwrap();
    let fault = img.fault.as_ref().unwrap();
    assert!(matches!(fault.code, FaultCode::Signal { signo: 11, .. }));
    assert_eq!(fault.address, Some(0x45));
    assert_eq!(img.process.threads[0].tid, 1304);
    assert_eq!(img.process.regions.len(), 35);
    // The maps name files and offsets; p/s becomes the sharing.
    let exe = img.process.region_at(0x401d72).unwrap();
    assert!(exe.protection.execute && exe.protection.read && !exe.protection.write);
    assert_eq!(exe.sharing, Sharing::Private);
    assert!(exe.file.is_some());
    assert!(img.details.streams.iter().any(|s| s.kind == 0x4d7a_0004));
}

#[test]
fn crashpad_annotations() {
    let Some(img) = dump("corpus/rust-minidump/simple-crashpad.dmp") else {
        return;
    };
    assert_eq!(img.producer, Producer::Other("Crashpad".into()));
    assert_eq!(img.target.os, Os::MacOs);
    let ann = &img.details.annotations;
    assert!(ann.contains(&("hello".into(), "world".into())), "{ann:?}");
    assert!(
        ann.iter()
            .any(|(k, v)| k == "module 16 list" && v == "abort() called"),
        "{ann:?}"
    );

    let img = dump("corpus/breakpad/minidump_crashpad_annotation.dmp").unwrap();
    assert_eq!(img.process.threads.len(), 7);
    assert_eq!(img.process.modules.len(), 354);
    let keys: Vec<&str> = img
        .details
        .annotations
        .iter()
        .map(|(k, _)| k.rsplit(": ").next().unwrap())
        .collect();
    for k in [
        "exceptionReason",
        "exceptionName",
        "firstexception_bt",
        "firstexception",
        "CounterAnnotation",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
}

#[test]
fn minidump_writer_linux_dump_matches_its_raw_dump() {
    let Some(img) = dump("generated/linux-minidumps/crashme-sigsegv.dmp") else {
        return;
    };
    // crashme-sigsegv.raw-dump.txt: 18 streams, time 0x6b038974.
    assert_eq!(img.details.streams.len(), 18);
    // In directory order.
    let kinds: Vec<u32> = img.details.streams.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        vec![
            3,
            4,
            5,
            6,
            7,
            0x10,
            0x4767_0003,
            0x4767_0004,
            0x4767_0005,
            0x4767_0006,
            0x4767_0007,
            0x4767_0008,
            0x4767_0009,
            0x4767_000a,
            0x4d7a_0003,
            0x18,
            0xc,
            0x4d7a_0004
        ]
    );
    let maps = &img.details.streams[12];
    assert_eq!(
        (maps.name, maps.size, maps.offset),
        (Some("LinuxMaps"), 2658, 0xb300)
    );
    assert_eq!(img.timestamp, Some(0x6b038974));
    assert_eq!(img.producer, Producer::Other("minidump-writer".into()));
    assert_eq!(img.target.cpu_count, Some(2));
    assert_eq!(
        img.target.cpu.as_deref(),
        Some("family 25 model 17 stepping 1")
    );
    let process = img.process.facts.as_ref().unwrap();
    assert_eq!(process.pid, Some(11668));
    // From LinuxProcStatus.
    assert_eq!(process.ppid, Some(11667));
    assert_eq!(process.name.as_deref(), Some("crashme"));
    assert_eq!(process.state, Some('t'));
    assert_eq!((process.uid, process.gid), (Some(0), Some(0)));
    assert_eq!(process.args.as_deref(), Some("./crashme"));
    // Exception: code 0xb (SIGSEGV), flags 1 (SEGV_MAPERR), address 0x10.
    let fault = img.fault.as_ref().unwrap();
    assert_eq!(
        fault.code,
        FaultCode::Signal {
            signo: 11,
            code: 1,
            errno: 0,
            sender_pid: None,
            sender_uid: None
        }
    );
    assert_eq!(fault.address, Some(0x10));
    assert_eq!(fault.thread, Some(0x2d94));
    let names: Vec<(u64, &str)> = img
        .process
        .threads
        .iter()
        .map(|t| (t.tid, t.name.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        names,
        vec![
            (0x2d94, "crashme"),
            (0x2d95, "worker-0"),
            (0x2d96, "worker-1"),
            (0x2d97, "worker-2")
        ]
    );
    assert_eq!(img.process.modules.len(), 4);
    assert_eq!(img.process.modules[0].base, 0x562d1e859000);
    assert_eq!(img.process.modules[1].size, 0x1d5000);
    assert_eq!(
        img.process.modules[1].build_id.as_deref(),
        Some("93ac61ec5a8eb1396f9fbd350e3169a558528a40")
    );
    // Regions from /proc/PID/maps (file names), not the MemoryInfoList.
    let first = &img.process.regions[0];
    assert_eq!(first.start, 0x562d1e859000);
    assert_eq!(
        first.file.as_ref().map(|f| f.path.as_str()),
        Some("/tmp/research/generated/user-cores/crashme")
    );
    assert!(text(&img, "/proc/PID/environ").contains("PATH=/usr/bin:/bin"));
    assert_eq!(text(&img, "handles"), "5 open handles recorded");
    assert_eq!(img.process.auxv.len(), 22);
    assert!(img.findings.is_empty(), "{:?}", img.findings);
}

#[test]
fn wine_dumps_match_their_stream_listing() {
    let Some(dir) = shared().map(|s| s.join("generated/windows/dumps")) else {
        return;
    };
    // (file, pid, exception thread, threads, code, parameters) from
    // reference/mdmp_streams.txt.
    type Case = (&'static str, u64, u64, usize, u32, &'static [u64]);
    let cases: [Case; 5] = [
        (
            "crash_aedebug.dmp",
            0x108,
            0x10c,
            2,
            0xc000_0005,
            &[1, 0xdead0006],
        ),
        (
            "crash_selfdump_cv.dmp",
            0x12c,
            0x130,
            1,
            0xc000_0005,
            &[1, 0xdead0006],
        ),
        (
            "mcrash_selfdump.dmp",
            0x20,
            0x24,
            1,
            0xc000_0005,
            &[0, 0x10],
        ),
        (
            "threads_selfdump.dmp",
            0x164,
            0x168,
            5,
            0xe000_1234,
            &[0x1111, 0x2222, 7],
        ),
        (
            "crash_selfdump_full.dmp.xz",
            0x15c,
            0x160,
            1,
            0xc000_0005,
            &[1, 0xdead0006],
        ),
    ];
    for (file, pid, tid, threads, code, params) in cases {
        let img = open(&dir.join(file), &OpenOptions::default()).unwrap();
        assert_eq!(img.process.facts.as_ref().unwrap().pid, Some(pid), "{file}");
        assert_eq!(img.process.threads.len(), threads, "{file}");
        assert_eq!(exception(&img).0, code, "{file}");
        let fault = img.fault.as_ref().unwrap();
        assert_eq!(fault.thread, Some(tid), "{file}");
        assert_eq!(fault.parameters, params, "{file}");
        assert_eq!(
            img.target.os_version.as_deref(),
            Some("6.1.7601 Service Pack 1")
        );
        assert_eq!(img.target.cpu_count, Some(2));
        assert_eq!(img.process.modules.len(), 8, "{file}");
        assert_eq!(img.process.modules[0].base, 0x140000000);
        assert_eq!(
            img.producer,
            Producer::Other("Windows MiniDumpWriteDump".into())
        );
        // 0xFFF0 is wine's private stream: listed, unnamed.
        let unknown = img
            .details
            .streams
            .iter()
            .find(|s| s.kind == 0xfff0)
            .unwrap();
        assert_eq!((unknown.name, unknown.size), (None, 868));
        assert!(img.findings.is_empty(), "{file}: {:?}", img.findings);
    }
    // The write of 0xdead0006: the access-violation address is parameter 1.
    let img = open(&dir.join("crash_selfdump.dmp"), &OpenOptions::default()).unwrap();
    assert_eq!(img.fault.as_ref().unwrap().address, Some(0xdead0006));
    assert_eq!(reg(&img, 0x130, "rip"), 0x140001028);
    assert_eq!(reg(&img, 0x130, "rcx"), 0xdead0006);
    // The full dump's Memory64List: the crashing stack is readable.
    let full = open(
        &dir.join("crash_selfdump_full.dmp.xz"),
        &OpenOptions::default(),
    )
    .unwrap();
    let sp = full.crashing_thread().unwrap().registers.sp().unwrap();
    assert_eq!(full.process.memory.read_u64(sp).unwrap(), 0x140001070);
}

/// Damaged dumps open (with findings) or fail with a one-line error that
/// names the path; they never panic.
#[test]
fn truncation_and_bit_flips_do_not_panic() {
    let Some(root) = shared() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for rel in [
        "corpus/breakpad/minidump2.dmp",
        "corpus/lldb/unittests-minidump/linux-i386.dmp",
        "generated/linux-minidumps/crashme-sigsegv.dmp",
    ] {
        let orig = std::fs::read(root.join(rel)).unwrap();
        let path = tmp.path().join("damaged.dmp");
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for cut in [
            8,
            31,
            32,
            64,
            200,
            orig.len() / 3,
            orig.len() / 2,
            orig.len() - 1,
        ] {
            variants.push(orig[..cut.min(orig.len())].to_vec());
        }
        // Deterministic bit flips spread over the header, the directory
        // and the streams.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..60 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut v = orig.clone();
            let at = if x.is_multiple_of(3) {
                (x as usize >> 8) % 256
            } else {
                (x as usize >> 8) % v.len()
            };
            v[at] ^= 1 << (x % 8);
            variants.push(v);
        }
        for v in variants {
            std::fs::write(&path, &v).unwrap();
            match open(&path, &OpenOptions::default()) {
                Ok(img) => {
                    let _ = analysis::inspect(&img, &InspectOptions::default());
                    let _ = ckdump::verify::checks::run(&img, &Default::default());
                }
                Err(e) => {
                    let s = e.to_string();
                    assert!(
                        s.starts_with(&path.display().to_string()) && !s.contains('\n'),
                        "{s}"
                    );
                }
            }
        }
        // Cut in the middle of the memory: opens, with findings.
        std::fs::write(&path, &orig[..orig.len() * 2 / 3]).unwrap();
        let img = open(&path, &OpenOptions::default()).unwrap();
        assert!(!img.findings.is_empty(), "{rel}");
    }
}

fn codes(image: &Image) -> Vec<&'static str> {
    let mut c: Vec<&str> = image.findings.iter().map(|f| f.code).collect();
    c.dedup();
    c
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Each structural check on a copy of a clean dump damaged in one place.
#[test]
fn structural_findings_on_damaged_copies() {
    let Some(root) = shared() else {
        return;
    };
    let orig = std::fs::read(root.join("generated/linux-minidumps/crashme-sigsegv.dmp")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("damaged.dmp");
    let open_bytes = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        open(&path, &OpenOptions::default()).unwrap()
    };
    // Directory at 0x20, 12-byte entries {type, size, rva}: [0] ThreadList
    // at 0xf8, [1] ModuleList, [2] MemoryList at 0x9934, [17] MozSoftErrors.
    let dir = |i: usize| 0x20 + 12 * i;

    // A thread whose stack descriptor is empty (thread 1: list at 0xf8,
    // 4-byte count, 48-byte MINIDUMP_THREADs, stack size at +32).
    let mut b = orig.clone();
    put_u32(&mut b, 0xf8 + 4 + 48 + 32, 0);
    let img = open_bytes(&b);
    assert_eq!(codes(&img), vec!["CKD-W5011"]);
    assert_eq!(img.findings[0].message, "thread 11669 has no stack memory");

    // A context shorter than CONTEXT_AMD64 (context size at +40).
    let mut b = orig.clone();
    put_u32(&mut b, 0xf8 + 4 + 40, 100);
    let img = open_bytes(&b);
    assert!(codes(&img).contains(&"CKD-E5005"), "{:?}", img.findings);

    // The module list cut to one byte cannot be read.
    let mut b = orig.clone();
    put_u32(&mut b, dir(1) + 4, 1);
    let img = open_bytes(&b);
    assert_eq!(codes(&img), vec!["CKD-E5009"]);
    assert!(img.process.modules.is_empty());
    assert_eq!(img.process.threads.len(), 4);

    // MozSoftErrors retyped as a second exception stream.
    let mut b = orig.clone();
    put_u32(&mut b, dir(17), 6);
    let img = open_bytes(&b);
    assert!(codes(&img).contains(&"CKD-W5003"), "{:?}", img.findings);

    // Two streams sharing bytes: MemoryList pointed at the ThreadList.
    let mut b = orig.clone();
    put_u32(&mut b, dir(2) + 8, 0xf8);
    let img = open_bytes(&b);
    assert!(codes(&img).contains(&"CKD-E5002"), "{:?}", img.findings);

    // The second memory descriptor moved onto the first.
    let mut b = orig.clone();
    let first: [u8; 8] = b[0x9934 + 4..0x9934 + 12].try_into().unwrap();
    b[0x9934 + 20..0x9934 + 28].copy_from_slice(&first);
    let img = open_bytes(&b);
    assert!(codes(&img).contains(&"CKD-E5004"), "{:?}", img.findings);

    // Cut short: streams and memory past the end, what remains still read.
    let img = open_bytes(&orig[..0xa000]);
    let c = codes(&img);
    assert!(c.contains(&"CKD-E5001"), "{c:?}");
    assert_eq!(img.process.threads.len(), 4);
    assert!(img.fault.is_some());

    // Only a header that is not one is an error.
    std::fs::write(&path, b"MDMP\x93\xa7").unwrap();
    let e = open(&path, &OpenOptions::default()).err().unwrap();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()) && !msg.contains('\n'),
        "{msg}"
    );
}

/// A full-memory dump cut after 2 MiB: the Memory64List runs past the end,
/// yet every range still in the file stays readable (the crate alone would
/// drop the whole list).
#[test]
fn truncated_memory64_list_keeps_the_bytes_it_has() {
    use std::io::Read;
    let Some(root) = shared() else {
        return;
    };
    let xz = std::fs::File::open(root.join("generated/windows/dumps/crash_selfdump_full.dmp.xz"))
        .unwrap();
    let mut head = Vec::new();
    xz2::read::XzDecoder::new(xz)
        .take(2 << 20)
        .read_to_end(&mut head)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cut.dmp");
    std::fs::write(&path, &head).unwrap();
    let img = open(&path, &OpenOptions::default()).unwrap();
    let codes: Vec<&str> = img.findings.iter().map(|f| f.code).collect();
    // The streams themselves lie before the cut; only memory is missing.
    assert_eq!(codes, vec!["CKD-E5010"]);
    assert_eq!(img.process.threads.len(), 1);
    // The crashing stack (range 0x22000+0xfe000 at file offset 0x5ebf)
    // is inside the first 2 MiB.
    let sp = img.crashing_thread().unwrap().registers.sp().unwrap();
    assert_eq!(sp, 0x11fd38);
    assert_eq!(img.process.memory.read_u64(sp).unwrap(), 0x140001070);
}

/// Rewrites `bytes`' ThreadList (stream 3) as a ThreadExList (stream 8)
/// appended to the file: each 48-byte MINIDUMP_THREAD gains an empty
/// 16-byte backing-store descriptor.
fn thread_list_as_thread_ex_list(bytes: &mut Vec<u8>) {
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let streams = u32_at(bytes, 8) as usize;
    let dir = u32_at(bytes, 12) as usize;
    let entry = (0..streams)
        .map(|i| dir + 12 * i)
        .find(|&e| u32_at(bytes, e) == 3)
        .expect("a ThreadList");
    let list = u32_at(bytes, entry + 8) as usize;
    let count = u32_at(bytes, list) as usize;
    let mut ex = (count as u32).to_le_bytes().to_vec();
    for i in 0..count {
        let t = list + 4 + 48 * i;
        ex.extend_from_slice(&bytes[t..t + 48]);
        ex.extend_from_slice(&[0u8; 16]);
    }
    let at = bytes.len() as u32;
    let size = ex.len() as u32;
    bytes.extend_from_slice(&ex);
    bytes[entry..entry + 4].copy_from_slice(&8u32.to_le_bytes());
    bytes[entry + 4..entry + 8].copy_from_slice(&size.to_le_bytes());
    bytes[entry + 8..entry + 12].copy_from_slice(&at.to_le_bytes());
}

#[test]
fn thread_ex_list_gives_the_same_threads_and_stacks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/windows/dumps/wthreads_selfdump_cv.dmp");
    let mut bytes = std::fs::read(&path).unwrap();
    thread_list_as_thread_ex_list(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let ex_path = dir.path().join("wthreads_ex.dmp");
    std::fs::write(&ex_path, &bytes).unwrap();

    let original = open(&path, &OpenOptions::default()).unwrap();
    let ex = open(&ex_path, &OpenOptions::default()).unwrap();
    assert!(ex.details.streams.iter().any(|s| s.kind == 8));
    assert!(!ex.details.streams.iter().any(|s| s.kind == 3));
    assert!(original.process.threads.len() > 1);
    let ids = |i: &Image| i.process.threads.iter().map(|t| t.tid).collect::<Vec<_>>();
    assert_eq!(ids(&ex), ids(&original));
    for (a, b) in original.process.threads.iter().zip(&ex.process.threads) {
        assert_eq!(a.registers, b.registers, "thread {}", a.tid);
        assert!(b.registers.pc().is_some(), "thread {}", a.tid);
    }
    // The same walks, frame for frame (scanned ones included: wine's
    // ntdll, where these threads wait, is not at hand).
    let frames = |img: &Image| {
        let options = InspectOptions {
            scan_all: true,
            ..InspectOptions::default()
        };
        let r = analysis::inspect(img, &options);
        r.threads
            .iter()
            .map(|t| t.frames.iter().map(|f| f.pc.0).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let walked = frames(&ex);
    assert_eq!(walked, frames(&original));
    assert!(walked.iter().all(|f| f.len() > 1), "{walked:x?}");
}
