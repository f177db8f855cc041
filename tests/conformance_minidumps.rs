//! Conformance over the minidumps in ../shared/corpus (MANIFEST.md values)
//! and ../shared/generated: the reader, exception decoding and regions.

mod common;

use serde_json::Value;

use common::*;

fn dump(rel: &str) -> Option<Value> {
    let path = shared()?.join(rel);
    Some(inspect_json(&path, &["--regions"]))
}

fn tids(r: &Value) -> Vec<u64> {
    let mut t: Vec<u64> = r["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tid"].as_u64().unwrap())
        .collect();
    t.sort();
    t
}

fn module<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no module {name}"))
}

#[test]
fn breakpad_minidump2() {
    let Some(r) = dump("corpus/breakpad/minidump2.dmp") else {
        return;
    };
    let img = &r["image"];
    assert_eq!(img["os"], "Windows");
    assert_eq!(img["arch"], "i386");
    assert_eq!(img["os_version"], "5.1.2600 Service Pack 2");
    assert_eq!(img["cpu"], "GenuineIntel family 6 model 13 stepping 8");
    assert_eq!(img["pid"], 3932);
    assert_eq!(img["timestamp"], 1171480435);
    let c = &r["crash"];
    assert_eq!(c["name"], "EXCEPTION_ACCESS_VIOLATION");
    assert_eq!(c["access"], "write");
    assert_eq!(c["address"], "0x45");
    assert_eq!(c["thread"], 0xbf4);
    assert_eq!(tids(&r), [0xbf4, 0x11c0]);
    let crashed = thread(&r, 0xbf4);
    assert_eq!(register(crashed, "eip"), 0x40429e);
    assert_eq!(register(crashed, "esp"), 0x12fe84);
    // The crashing thread carries the exception's context, not the one the
    // thread list recorded while Breakpad's handler ran (eip 0x7c90eb94).
    assert_ne!(register(crashed, "eip"), 0x7c90eb94);
    let mods = r["modules"].as_array().unwrap();
    assert_eq!(mods.len(), 13);
    let main = &mods[0];
    assert_eq!(main["path"], "c:\\test_app.exe");
    assert_eq!(main["base"], "0x400000");
    assert_eq!(main["main"], true);
    assert_eq!(main["pe"]["code_id"], "45D35F6C2d000");
    assert_eq!(main["pe"]["debug_file"], "test_app.pdb");
    assert_eq!(main["pe"]["debug_id"], "5A9832E5287241C1838ED98914E9B7FF1");
    assert_eq!(module(&r, "kernel32.dll")["base"], "0x7c800000");
    assert_eq!(
        module(&r, "kernel32.dll")["pe"]["debug_file"],
        "kernel32.pdb"
    );
    let user32 = mods.iter().find(|m| m["base"] == "0x77d40000").unwrap();
    assert_eq!(user32["pe"]["version"], "5.1.2600.2622");
}

#[test]
fn windows_exceptions_decode() {
    let Some(r) = dump("corpus/breakpad/tiny-exe-fastfail.dmp") else {
        return;
    };
    assert_eq!(r["crash"]["code"], 0xc0000409u64);
    assert_eq!(r["crash"]["name"], "STATUS_STACK_BUFFER_OVERRUN");
    assert_eq!(r["crash"]["subcode_name"], "FAST_FAIL_FATAL_APP_EXIT");
    assert_eq!(r["threads"].as_array().unwrap().len(), 4);
    assert_eq!(r["image"]["os_version"], "10.0.19042");

    let r = dump("corpus/breakpad/write_av_non_canonical.dmp").unwrap();
    assert_eq!(r["crash"]["name"], "EXCEPTION_ACCESS_VIOLATION");
    assert_eq!(r["threads"].as_array().unwrap().len(), 2);
    let crashed = thread(&r, r["crash"]["thread"].as_u64().unwrap());
    assert_eq!(register(crashed, "rip"), 0x7ff738721331);
    // Windows says 0xffffffffffffffff; the instruction's operand says which.
    assert_eq!(r["crash"]["address"], "0xfefefefefefefefe");
    assert_eq!(r["crash"]["access"], "write");

    let r = dump("corpus/breakpad/minidump_32bit_crash_addr.dmp").unwrap();
    assert_eq!(r["crash"]["address"], "0x45");

    let r = dump("corpus/breakpad/stack_exhaustion.dmp").unwrap();
    assert_eq!(r["crash"]["name"], "EXCEPTION_STACK_OVERFLOW");

    let r = dump("corpus/rust-minidump/invalid-parameter.dmp").unwrap();
    assert_eq!(r["crash"]["code"], 0xc000000du64);
    // The CRT's AssertionInfoStream is the reason (MANIFEST: rust-minidump's
    // own test asserts these four parts).
    assert_eq!(
        r["crash"]["reasons"],
        serde_json::json!([{
            "key": "assertion",
            "value": "format != nullptr in common_vfprintf at minkernel\\crts\\ucrt\\src\\appcrt\\stdio\\output.cpp:32"
        }])
    );
    assert_eq!(r["threads"].as_array().unwrap().len(), 6);
    assert_eq!(r["modules"].as_array().unwrap().len(), 31);

    let r = dump("corpus/kdlibcpp/targetapp_minidump/target_minidump.dmp").unwrap();
    assert_eq!(r["crash"]["name"], "EXCEPTION_BREAKPOINT");
    assert_eq!(r["threads"].as_array().unwrap().len(), 2);

    let r = dump("corpus/breakpad/tiny-exe-with-cet-xsave.dmp").unwrap();
    assert!(r["crash"].is_null());
    assert_eq!(r["image"]["os_version"], "10.0.22000 282");
    assert!(
        r["image"]["cpu"]
            .as_str()
            .unwrap()
            .ends_with("family 6 model 140 stepping 1")
    );
}

#[test]
fn lldb_windows_sigsegv_disassembles_from_captured_memory() {
    let Some(r) = dump("corpus/lldb/windows-sigsegv/sigsegv.dmp") else {
        return;
    };
    assert_eq!(tids(&r), [10860]);
    let c = &r["crash"];
    assert_eq!(c["code"], 0xc0000005u64);
    let crashed = thread(&r, 10860);
    assert_eq!(register(crashed, "rip"), 0x7ff7a13110d9);
    let insn = c["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["current"] == true)
        .unwrap();
    assert_eq!(insn["text"], "mov dword ptr [0], 0");
    assert_eq!(r["modules"].as_array().unwrap().len(), 4);
    assert_eq!(
        common::main_module(&r)["pe"]["debug_id"],
        "7DD47A9FC2E8499AA78EC14AE2C965A21"
    );
}

#[test]
fn lldb_fizzbuzz_and_thread_names() {
    let Some(r) = dump("corpus/lldb/minidump/fizzbuzz_no_heap.dmp") else {
        return;
    };
    assert_eq!(r["image"]["pid"], 4440);
    assert_eq!(r["threads"].as_array().unwrap().len(), 1);
    assert_eq!(r["crash"]["code"], 0xc0000005u64);
    assert_eq!(r["modules"].as_array().unwrap().len(), 6);
    assert_eq!(
        module(&r, "fizzbuzz.exe")["pe"]["debug_id"],
        "0F45B7919A9646F9BF8F2D6076EA421A11"
    );
    assert_eq!(
        module(&r, "ntdll.dll")["pe"]["debug_id"],
        "BBB0846A402C4052A16B67650BBFE6B02"
    );

    let r = dump("corpus/breakpad/thread_name_list.dmp").unwrap();
    assert_eq!(r["threads"].as_array().unwrap().len(), 6);
    assert!(
        r["threads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"].is_string())
    );
    assert!(
        r["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == 0x18)
    );
}

#[test]
fn linux_minidumps() {
    let Some(r) = dump("corpus/lldb/unittests-minidump/linux-x86_64.dmp") else {
        return;
    };
    assert_eq!(tids(&r), [16001]);
    assert_eq!(r["image"]["pid"], 16001);
    assert_eq!(r["crash"]["code"], 11);
    let t = thread(&r, 16001);
    assert_eq!(register(t, "rax"), 0);
    assert_eq!(register(t, "rcx"), 0x10);
    assert_eq!(register(t, "rdi"), 0x7ffceb349cf0);
    assert_eq!(register(t, "rbp"), 0x7ffceb34a210);

    let r = dump("corpus/lldb/unittests-minidump/linux-i386.dmp").unwrap();
    let t = thread(&r, 157700);
    for (name, v) in [
        ("eax", 0u64),
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
        assert_eq!(register(t, name), v, "{name}");
    }

    let r = dump("corpus/rust-minidump/linux-mini.dmp").unwrap();
    assert_eq!(r["crash"]["name"], "SIGSEGV");
    assert_eq!(r["crash"]["address"], "0x45");
    assert_eq!(r["regions"].as_array().unwrap().len(), 35);
    let insn = r["crash"]["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["current"] == true)
        .unwrap();
    assert_eq!(insn["text"], "mov dword ptr [0x45], 5");

    let r = dump("corpus/symbolic/linux/mini.dmp").unwrap();
    assert_eq!(r["image"]["timestamp"], 1522061032);
    assert_eq!(r["image"]["cpu_count"], 4);
    assert_eq!(tids(&r), [1304]);
    assert_eq!(register(thread(&r, 1304), "rip"), 0x401d72);

    let r = dump("corpus/lldb/minidump-new/linux-x86_64_not_crashed.dmp").unwrap();
    assert!(r["crash"].is_null(), "a requested dump is no crash");
    assert_eq!(r["image"]["pid"], 29939);

    let r = dump("generated/linux-minidumps/crashme-sigsegv.dmp").unwrap();
    assert_eq!(r["crash"]["name"], "SIGSEGV");
    assert_eq!(r["crash"]["subcode_name"], "SEGV_MAPERR");
    assert_eq!(r["crash"]["address"], "0x10");
    assert_eq!(r["threads"].as_array().unwrap().len(), 4);
    assert!(
        r["threads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "worker-0")
    );
}

#[test]
fn crashpad_annotations() {
    let Some(r) = dump("corpus/rust-minidump/simple-crashpad.dmp") else {
        return;
    };
    let ann = r["annotations"].as_array().unwrap();
    assert!(
        ann.iter()
            .any(|a| a["key"] == "hello" && a["value"] == "world")
    );
    assert!(ann.iter().any(|a| a["value"] == "abort() called"));
    // libsystem_c's crash message explains the crash: it is a reason.
    assert!(
        r["crash"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"key": "crash info", "value": "abort() called"})),
        "{}",
        r["crash"]["reasons"]
    );

    let r = dump("corpus/breakpad/minidump_crashpad_annotation.dmp").unwrap();
    assert_eq!(r["threads"].as_array().unwrap().len(), 7);
    assert_eq!(r["modules"].as_array().unwrap().len(), 354);
    let keys: Vec<&str> = r["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    for name in [
        "exceptionReason",
        "exceptionName",
        "firstexception_bt",
        "firstexception",
        "CounterAnnotation",
    ] {
        assert!(keys.iter().any(|k| k.ends_with(name)), "{name} in {keys:?}");
    }
    // The NSException's name and reason lead the crash, as text too.
    let reasons = &r["crash"]["reasons"];
    assert_eq!(
        reasons[0],
        serde_json::json!({"key": "exceptionName", "value": "NSRangeException"})
    );
    assert_eq!(
        reasons[1],
        serde_json::json!({
            "key": "exceptionReason",
            "value": "*** -[__NSArray0 objectAtIndex:]: index 42 beyond bounds for empty NSArray"
        })
    );
    let path = common::shared()
        .unwrap()
        .join("corpus/breakpad/minidump_crashpad_annotation.dmp");
    let out = common::ckdump(&["inspect", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let crash = text.lines().position(|l| l.starts_with("Crash:")).unwrap();
    assert_eq!(
        text.lines().nth(crash + 2),
        Some("  exceptionName  NSRangeException")
    );
    // Annotation objects of a writer's own type are described, never
    // printed as Rust debug text.
    assert!(
        !text.contains("UserDefined") && !text.contains("MINIDUMP_ANNOTATION"),
        "{text}"
    );
}

#[test]
fn windows_regions_from_memory_info_list() {
    let Some(r) = dump("corpus/kdlibcpp/targetapp_minidump/target_minidump.dmp") else {
        return;
    };
    let regions = r["regions"].as_array().unwrap();
    assert!(!regions.is_empty());
    let tid = r["crash"]["thread"].as_u64().unwrap();
    let stack = regions
        .iter()
        .find(|g| {
            let rsp = register(thread(&r, tid), "rsp");
            let s = u64::from_str_radix(g["start"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
            let e = u64::from_str_radix(g["end"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
            s <= rsp && rsp < e
        })
        .unwrap();
    assert_eq!(stack["windows"]["state"], "MEM_COMMIT");
    assert_eq!(stack["windows"]["kind"], "MEM_PRIVATE");
    assert_eq!(stack["windows"]["protection"], "PAGE_READWRITE");
    assert_ne!(stack["capture"], "absent");
    let image = regions
        .iter()
        .find(|g| g["windows"]["kind"] == "MEM_IMAGE")
        .unwrap();
    assert!(image["file"].as_str().is_some());
}

fn functions(thread: &Value) -> Vec<String> {
    physical_functions(thread)
}

#[test]
fn breakpad_symbols_give_the_crashing_stack() {
    let Some(shared) = shared() else { return };
    let path = shared.join("corpus/breakpad/minidump2.dmp");
    let syms = shared.join("corpus/breakpad/symbols");
    let r = inspect_json(&path, &["--symbols", syms.to_str().unwrap()]);
    let t = thread(&r, 0xbf4);
    let names = functions(t);
    assert_eq!(
        names[..3],
        [
            "`anonymous namespace'::CrashFunction",
            "main",
            "__tmainCRTStartup"
        ]
    );
    let frames = t["frames"].as_array().unwrap();
    let lines: Vec<u64> = frames
        .iter()
        .take(3)
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [58, 65, 327]);
    assert_eq!(frames[0]["file"], "c:\\test_app.cc");
    assert_eq!(frames[3]["module"], "kernel32.dll");
    assert_eq!(
        common::main_module(&r)["symbols"],
        "breakpad",
        "test_app.exe found by debug file + id in the store"
    );
}

#[test]
fn breakpad_inline_records_both_syntaxes() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpus/breakpad/symbols/linux_inline/BBA6FA10B8AAB33D00000000000000000");
    let mut results = Vec::new();
    for name in ["linux_inline.old.sym", "linux_inline.new.sym"] {
        let file = std::fs::File::open(dir.join(name)).unwrap();
        let bytes = ckdump::memory::Bytes::map_file(&file).unwrap();
        let sym = ckdump::symbols::breakpad::BreakpadSymbols::parse(bytes).unwrap();
        let frames = sym.lookup(0x161b6);
        let got: Vec<(Option<String>, Option<u32>, bool)> = frames
            .iter()
            .map(|f| (f.function.clone(), f.line, f.inlined))
            .collect();
        assert_eq!(
            got,
            [
                (Some("func()".to_string()), Some(27), true),
                (Some("bar()".to_string()), Some(32), true),
                (Some("foo()".to_string()), Some(39), true),
                (Some("main".to_string()), Some(42), false),
            ],
            "{name}"
        );
        assert_eq!(frames[3].function_offset, Some(0x161b6 - 0x15b30));
        results.push(got);
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn linux_minidump_with_breakpad_symbols_matches_minidump_stackwalk() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-minidumps");
    let r = inspect_json(
        &dir.join("crashme-sigsegv.dmp"),
        &["--symbols", dir.join("symbols").to_str().unwrap()],
    );
    let names = functions(thread(&r, 11668));
    // reference/crashme-sigsegv.stackwalk.txt, thread 0.
    assert_eq!(
        names[..6],
        [
            "crash_here",
            "crash_here",
            "crash_here",
            "crash_here",
            "do_work",
            "main"
        ]
    );
    let lines: Vec<u64> = thread(&r, 11668)["frames"].as_array().unwrap()[..6]
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [35, 37, 37, 37, 42, 52]);
    // crashme's binary is not at hand: its callers come from the .sym's
    // STACK CFI records.
    let found: Vec<&str> = thread(&r, 11668)["frames"].as_array().unwrap()[1..6]
        .iter()
        .map(|f| f["found_by"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["cfi"; 5]);
}

#[test]
fn wine_minidumps_with_pdb_symbols() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/windows");
    let bin = dir.join("bin");
    // With the CodeView record (PDB by GUID+age) and without it (wine):
    // then the binary is found by name + timestamp + size and its debug
    // directory names the PDB.
    for dump in ["crash_selfdump_cv.dmp", "crash_selfdump.dmp"] {
        let r = inspect_json(
            &dir.join("dumps").join(dump),
            &["--symbols", bin.to_str().unwrap()],
        );
        let crash = &r["crash"];
        assert_eq!(crash["name"], "EXCEPTION_ACCESS_VIOLATION", "{dump}");
        assert_eq!(crash["address"], "0xdead0006", "{dump}");
        assert_eq!(crash["access"], "write", "{dump}");
        let t = thread(&r, crash["thread"].as_u64().unwrap());
        let names = physical_functions(t);
        // reference/crash_selfdump_cv.stackwalk_syms.txt and winedbg.
        assert_eq!(
            names[..4],
            [
                "walk_list(node*, int)",
                "level2(int)",
                "level1(int)",
                "start()"
            ],
            "{dump}"
        );
        // Callers come from the binary's .pdata/.xdata unwind codes.
        let found: Vec<&str> = t["frames"].as_array().unwrap()[1..4]
            .iter()
            .map(|f| f["found_by"].as_str().unwrap())
            .collect();
        assert_eq!(found, ["cfi", "cfi", "cfi"], "{dump}");
        assert_eq!(t["frames"][4]["module"], "kernel32.dll", "{dump}");
        assert_eq!(t["frames"][4]["pc"], "0x7b627e49", "{dump}");
        let lines: Vec<u64> = t["frames"].as_array().unwrap()[..3]
            .iter()
            .map(|f| f["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, [10, 13, 14], "{dump}");
        let main = &common::main_module(&r);
        assert_eq!(main["symbols"], "pdb", "{dump}");
        assert!(
            main["debug_file"].as_str().unwrap().ends_with("crash.pdb"),
            "{dump}"
        );
    }
}

#[test]
fn verify_reports_a_damaged_codeview_record_and_lists_unloaded_modules() {
    let Some(shared) = shared() else { return };
    let mut bytes = std::fs::read(shared.join("corpus/breakpad/minidump2.dmp")).unwrap();
    let at = bytes.windows(4).position(|w| w == b"RSDS").unwrap();
    bytes[at..at + 4].copy_from_slice(b"XXXX");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-cv.dmp");
    std::fs::write(&path, &bytes).unwrap();
    let out = ckdump(&[
        "verify",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cv: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "CKD-W5008")
        .collect();
    assert_eq!(cv.len(), 1, "{doc}");
    assert!(
        cv[0]["message"]
            .as_str()
            .unwrap()
            .contains("CodeView record")
    );

    let r = dump("corpus/kdlibcpp/targetapp_minidump/target_minidump.dmp").unwrap();
    let texts = r["texts"].as_array().unwrap();
    assert!(texts.iter().any(|t| t["name"] == "handles"), "{texts:?}");
}
