//! Breakpad `.sym` parsing and lookups against real symbol files, with
//! expected values from minidump-stackwalk output for the same dumps.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ckdump::memory::Bytes;
use ckdump::symbols::SymbolFrame;
use ckdump::symbols::breakpad::{
    BreakpadError, BreakpadSymbols, ModuleRecord, StackWinRecord, evaluate_postfix,
    evaluate_win_program, sym_path,
};
use common::shared;

fn load(path: &Path) -> BreakpadSymbols {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BreakpadSymbols::parse(Bytes::map_file(&file).unwrap()).unwrap()
}

fn parse_text(text: &[u8]) -> Result<BreakpadSymbols, BreakpadError> {
    BreakpadSymbols::parse(Bytes::from_vec(text.to_vec()))
}

/// (function, file, line, inlined) of each frame.
fn brief(frames: &[SymbolFrame]) -> Vec<(String, Option<String>, Option<u32>, bool)> {
    frames
        .iter()
        .map(|f| {
            (
                f.function.clone().unwrap_or_default(),
                f.file.clone(),
                f.line,
                f.inlined,
            )
        })
        .collect()
}

/// (function, line, inlined, function offset).
type Summary = (Option<String>, Option<u32>, bool, Option<u64>);

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn regs(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn linux_inline_old_and_new_syntax() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpus/breakpad/symbols/linux_inline/BBA6FA10B8AAB33D00000000000000000");
    let old = load(&dir.join("linux_inline.old.sym"));
    let new = load(&dir.join("linux_inline.new.sym"));
    for sym in [&old, &new] {
        assert_eq!(
            sym.module(),
            &ModuleRecord {
                os: "Linux".into(),
                arch: "x86_64".into(),
                debug_id: "BBA6FA10B8AAB33D00000000000000000".into(),
                name: "linux_inline".into(),
            }
        );
        assert_eq!(sym.code_id().as_deref(), Some("10FAA6BBAAB83DB3"));
        assert_eq!(sym.malformed_lines(), 0);
    }
    let (a, b) = (old.lookup(0x161b6), new.lookup(0x161b6));
    let names_lines = |frames: &[SymbolFrame]| -> Vec<Summary> {
        frames
            .iter()
            .map(|f| (f.function.clone(), f.line, f.inlined, f.function_offset))
            .collect()
    };
    let expected = vec![
        (s("func()"), Some(27), true, None),
        (s("bar()"), Some(32), true, None),
        (s("foo()"), Some(39), true, None),
        (s("main"), Some(42), false, Some(0x161b6 - 0x15b30)),
    ];
    assert_eq!(names_lines(&a), expected);
    assert_eq!(names_lines(&b), expected);
    // The innermost frame is at the line record's file in both syntaxes.
    assert_eq!(a[0].file.as_deref(), Some("linux_inline.cpp"));
    assert_eq!(b[0].file.as_deref(), Some("linux_inline.cpp"));
    // The old syntax has no call-site files: every frame keeps the line's.
    assert!(
        a.iter()
            .all(|f| f.file.as_deref() == Some("linux_inline.cpp"))
    );
    // The new one names each call site's file (FILE 3/2/1 in this file).
    let files: Vec<Option<&str>> = b.iter().map(|f| f.file.as_deref()).collect();
    assert_eq!(
        files,
        [
            Some("linux_inline.cpp"),
            Some("c.cpp"),
            Some("b.cpp"),
            Some("a.cpp")
        ]
    );

    // Outside the inline ranges, main alone at its own line: 15b30 15 41 0.
    assert_eq!(
        brief(&new.lookup(0x15b35)),
        [("main".to_string(), s("linux_inline.cpp"), Some(41), false)]
    );
    // Only the depth-0 INLINE covers 0x15b45 (foo inlined into main at 42).
    let f = new.lookup(0x15b45);
    assert_eq!(
        brief(&f),
        [
            ("foo()".to_string(), s("linux_inline.cpp"), Some(36), true),
            ("main".to_string(), s("a.cpp"), Some(42), false),
        ]
    );
    // These files carry no STACK records.
    assert!(new.cfi_rules(0x161b6).is_none());
    assert!(old.win_frame(0x161b6).is_none());
}

#[test]
fn test_app_functions_lines_and_stack_win() {
    let Some(shared) = shared() else { return };
    let path = sym_path(
        &shared.join("corpus/breakpad/symbols"),
        "test_app.pdb",
        "5A9832E5287241C1838ED98914E9B7FF1",
    );
    assert!(path.ends_with("test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"));
    let sym = load(&path);
    assert_eq!(sym.module().os, "windows");
    assert_eq!(sym.module().arch, "x86");
    assert_eq!(sym.module().name, "test_app.pdb");
    assert_eq!(sym.malformed_lines(), 0);

    // minidump2.stackwalk.machine_readable.out: frame 0 at eip 0x40429e
    // (module base 0x400000); callers at return address - 1.
    let f0 = sym.lookup(0x429e);
    assert_eq!(
        brief(&f0),
        [(
            "`anonymous namespace'::CrashFunction".to_string(),
            s("c:\\test_app.cc"),
            Some(58),
            false
        )]
    );
    assert_eq!(f0[0].function_offset, Some(0x429e - 0x4290));
    let f1 = sym.lookup(0x4200 - 1);
    assert_eq!(
        brief(&f1),
        [("main".to_string(), s("c:\\test_app.cc"), Some(65), false)]
    );
    assert_eq!(f1[0].function_offset, Some(0x41ff - 0x41b0));
    let f2 = sym.lookup(0x53ec - 1);
    assert_eq!(
        brief(&f2),
        [(
            "__tmainCRTStartup".to_string(),
            s("f:\\sp\\vctools\\crt_bld\\self_x86\\crt\\src\\crt0.c"),
            Some(327),
            false
        )]
    );

    let win = sym.win_frame(0x429e).unwrap();
    assert_eq!(
        win,
        StackWinRecord {
            kind: 4,
            address: 0x4290,
            code_size: 0x18,
            prologue_size: 4,
            epilogue_size: 0,
            parameter_size: 0,
            saved_register_size: 0,
            local_size: 4,
            max_stack_size: 0,
            program: s(
                "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + = $L $T0 .cbSavedRegs - = $P $T0 8 + .cbParams + ="
            ),
            allocates_base_pointer: false,
        }
    );
    // Nested records: 42ae+18 holds 42af+14; the inner one wins.
    assert_eq!(sym.win_frame(0x42b0).unwrap().address, 0x42af);
    assert_eq!(sym.win_frame(0x42ae).unwrap().address, 0x42ae);
    assert_eq!(sym.win_frame(0x41b0 + 0x86 - 1).unwrap().address, 0x41b0);
    assert!(sym.win_frame(0).is_none());
    // FUNC 41b0 86 8 main: 8 bytes of parameters.
    assert_eq!(sym.parameter_size(0x41ff), Some(8));
    assert_eq!(sym.parameter_size(0x429e), Some(0));
}

/// Reads a 32-bit value from a minidump's memory list.
fn dump_reader(path: &Path) -> impl Fn(u64) -> Option<u64> + use<> {
    let dump = minidump::Minidump::read_path(path).unwrap();
    let list: minidump::MinidumpMemoryList = dump.get_stream().unwrap();
    let regions: Vec<(u64, Vec<u8>)> = list
        .iter()
        .map(|m| (m.base_address, m.bytes.to_vec()))
        .collect();
    move |addr: u64| {
        regions.iter().find_map(|(base, bytes)| {
            let off = usize::try_from(addr.checked_sub(*base)?).ok()?;
            let b = bytes.get(off..off.checked_add(4)?)?;
            Some(u64::from(u32::from_le_bytes(b.try_into().ok()?)))
        })
    }
}

#[test]
fn test_app_stack_win_programs_walk_minidump2() {
    let Some(shared) = shared() else { return };
    let sym = load(&shared.join(
        "corpus/breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
    ));
    let read = dump_reader(&shared.join("corpus/breakpad/minidump2.dmp"));
    // Frame 0 registers from minidump2.stackwalk.out.
    let mut r = regs(&[("$eip", 0x40429e), ("$esp", 0x12fe84), ("$ebp", 0x12fe88)]);
    let mut expected_callers = vec![
        (0x404200u64, 0x12fe90u64, 0x12ff70u64), // main
        (0x4053ec, 0x12ff78, 0x12ffc0),          // __tmainCRTStartup
    ];
    expected_callers.reverse();
    let mut rva = 0x429e;
    while let Some((eip, esp, ebp)) = expected_callers.pop() {
        let win = sym.win_frame(rva).unwrap();
        r.insert(".cbSavedRegs".into(), u64::from(win.saved_register_size));
        r.insert(".cbParams".into(), u64::from(win.parameter_size));
        r.insert(".cbLocals".into(), u64::from(win.local_size));
        evaluate_win_program(win.program.as_deref().unwrap(), &mut r, &read).unwrap();
        assert_eq!((r["$eip"], r["$esp"], r["$ebp"]), (eip, esp, ebp));
        rva = eip - 0x400000 - 1;
    }
}

#[test]
fn symbolic_windows_and_linux_crash_sym() {
    let Some(shared) = shared() else { return };
    let win = load(&shared.join("corpus/symbolic/windows/crash.sym"));
    assert_eq!(win.module().debug_id, "3249D99D0C4049318610F4E4FB0B69361");
    assert_eq!(win.code_id().as_deref(), Some("5AB380779000"));
    // Frame 0 of test_processor__process_state_windows.snap: instruction
    // 2763325, crash.exe base 2752512 → rva 0x2a3d.
    let f = win.lookup(2763325 - 2752512);
    assert_eq!(
        brief(&f),
        [(
            "main".to_string(),
            s("c:\\projects\\breakpad-tools\\windows\\crash\\main.cpp"),
            Some(35),
            false
        )]
    );
    assert_eq!(f[0].function_offset, Some(0x2a3d - 0x2910));
    let w = win.win_frame(0x2a3d).unwrap();
    assert_eq!((w.kind, w.address), (4, 0x2910));

    let linux = load(&shared.join("corpus/symbolic/linux/crash.sym"));
    assert_eq!(linux.module().name, "crash");
    // Frame 0 of the linux snapshot: pc 0x401d72, base 0x400000. The file
    // has only PUBLIC records: main at 0x1c70.
    let f = linux.lookup(0x1d72);
    assert_eq!(
        f,
        [SymbolFrame {
            function: s("main"),
            function_offset: Some(0x102),
            ..Default::default()
        }]
    );
    let rules = linux.cfi_rules(0x1d72).unwrap();
    let get = |k: &str| rules.iter().find(|r| r.0 == k).map(|r| r.1.as_str());
    assert_eq!(get(".cfa"), Some("$rbp 16 +"));
    assert_eq!(get(".ra"), Some(".cfa -8 + ^"));
    assert_eq!(get("$rbp"), Some(".cfa -16 + ^"));
    // Before the first delta only the INIT rules hold.
    assert_eq!(
        linux.cfi_rules(0x1c70).unwrap(),
        [
            (".cfa".to_string(), "$rsp 8 +".to_string()),
            (".ra".to_string(), ".cfa -8 + ^".to_string())
        ]
    );
}

#[test]
fn lldb_fizzbuzz_public_main() {
    let Some(shared) = shared() else { return };
    let sym = load(&shared.join("corpus/lldb/minidump/fizzbuzz.syms"));
    assert_eq!(sym.module().debug_id, "0F45B7919A9646F9BF8F2D6076EA421A11");
    assert_eq!(sym.module().name, "fizzbuzz.pdb");
    assert_eq!(
        sym.lookup(0x1000),
        [SymbolFrame {
            function: s("main"),
            function_offset: Some(0),
            ..Default::default()
        }]
    );
    assert_eq!(sym.lookup(0x1234)[0].function_offset, Some(0x234));
    assert!(sym.lookup(0xfff).is_empty());
    assert!(sym.cfi_rules(0x1000).is_none());
    assert!(sym.win_frame(0x1000).is_none());
}

fn generated_syms(shared: &Path) -> (BreakpadSymbols, BreakpadSymbols) {
    let dir = shared.join("generated/linux-minidumps/symbols");
    let crashme = sym_path(&dir, "crashme", "FDEFDEC088EB786FE4E650DB4EC68FFC0");
    let libc = sym_path(&dir, "libc.so.6", "EC61AC938E5A39B16F9FBD350E3169A50");
    assert_eq!(
        libc,
        dir.join("libc.so.6/EC61AC938E5A39B16F9FBD350E3169A50/libc.so.6.sym")
    );
    (load(&crashme), load(&libc))
}

#[test]
fn dump_syms_crashme_and_libc_frames() {
    let Some(shared) = shared() else { return };
    let (crashme, libc) = generated_syms(&shared);
    assert_eq!(crashme.malformed_lines(), 0);
    assert_eq!(libc.malformed_lines(), 0);
    // reference/crashme-sigsegv.stackwalk.json: module_offset, function,
    // function_offset, line.
    let file = s("/tmp/probe-linux/crashme.c");
    for (rva, function, offset, line) in [
        (0x12a0u64, "crash_here", 0x2eu64, 35u32),
        (0x12d3, "crash_here", 0x61, 37),
        (0x1317, "do_work", 0x3c, 42),
        (0x13f9, "main", 0xdf, 52),
        (0x11fa, "worker_leaf", 0x31, 18),
        (0x1211, "worker_mid", 0x14, 20),
        (0x126a, "worker", 0x55, 27),
    ] {
        let f = crashme.lookup(rva);
        assert_eq!(
            f,
            [SymbolFrame {
                function: s(function),
                function_offset: Some(offset),
                file: file.clone(),
                line: Some(line),
                column: None,
                inlined: false,
            }],
            "{rva:#x}"
        );
    }
    for (rva, function, offset) in [
        (0x1100u64, "_start", 0x20u64),
        (0x10df, "<.plt.got ELF section in crashme>", 0xf),
    ] {
        let f = crashme.lookup(rva);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].function.as_deref(), f[0].function_offset),
            (Some(function), Some(offset))
        );
    }
    for (rva, function, offset) in [
        (0x27249u64, "__libc_init_first", 0x89u64),
        (0x27304, "__libc_start_main", 0x84),
        (0xcf545, "clock_nanosleep", 0x65),
        (0xd3e52, "nanosleep", 0x12),
        (0xff294, "usleep", 0x44),
        (0x891f4, "pthread_condattr_setpshared", 0x514),
        (0x1098eb, "__xmknodat", 0x23b),
    ] {
        let f = libc.lookup(rva);
        assert_eq!(f.len(), 1, "{rva:#x}");
        assert_eq!(
            (f[0].function.as_deref(), f[0].function_offset, f[0].line),
            (Some(function), Some(offset), None),
            "{rva:#x}"
        );
    }
}

#[test]
fn dump_syms_cfi_rules_give_the_callers_cfa() {
    let Some(shared) = shared() else { return };
    let (crashme, libc) = generated_syms(&shared);
    let base = 0x562d1e859000u64;
    // Frame 0 (crash_here, rip 0x…a2a0): rbp 0x7fffe3a0f450; frame 1 has
    // rsp 0x7fffe3a0f460 = CFA, rip 0x…a2d4, rbp 0x7fffe3a0f480.
    let rules = crashme.cfi_rules(0x12a0).unwrap();
    assert_eq!(
        rules,
        [
            (".cfa".to_string(), "$rbp 16 +".to_string()),
            (".ra".to_string(), ".cfa -8 + ^".to_string()),
            ("$rbp".to_string(), ".cfa -16 + ^".to_string()),
        ]
    );
    let memory: HashMap<u64, u64> = [
        (0x7fffe3a0f458, base + 0x12d4),
        (0x7fffe3a0f450, 0x7fffe3a0f480),
    ]
    .into_iter()
    .collect();
    let read = |a: u64| memory.get(&a).copied();
    let mut r = regs(&[("$rsp", 0x7fffe3a0f430), ("$rbp", 0x7fffe3a0f450)]);
    let rule = |name: &str| rules.iter().find(|x| x.0 == name).unwrap().1.clone();
    let cfa = evaluate_postfix(&rule(".cfa"), &r, &read, 8).unwrap();
    assert_eq!(cfa, 0x7fffe3a0f460);
    r.insert(".cfa".into(), cfa);
    assert_eq!(
        evaluate_postfix(&rule(".ra"), &r, &read, 8),
        Some(base + 0x12d4)
    );
    assert_eq!(
        evaluate_postfix(&rule("$rbp"), &r, &read, 8),
        Some(0x7fffe3a0f480)
    );

    // main at 0x13f9: every delta of INIT 131a up to 0x1325 applied.
    let main_rules = crashme.cfi_rules(0x13f9).unwrap();
    assert_eq!(
        main_rules,
        [
            (".cfa".to_string(), "$rbp 16 +".to_string()),
            (".ra".to_string(), ".cfa -8 + ^".to_string()),
            ("$rbp".to_string(), ".cfa -16 + ^".to_string()),
            ("$r12".to_string(), ".cfa -24 + ^".to_string()),
            ("$rbx".to_string(), ".cfa -32 + ^".to_string()),
        ]
    );
    // At 0x1402 the epilogue delta restores `.cfa: $rsp 8 +`.
    assert_eq!(crashme.cfi_rules(0x1402).unwrap()[0].1, "$rsp 8 +");
    assert_eq!(
        crashme.cfi_rules(0x131a + 0xe9 - 1).unwrap()[0].1,
        "$rsp 8 +"
    );
    assert!(crashme.cfi_rules(0x131a + 0xe9).is_none());

    // Thread 1 frame 0: libc clock_nanosleep at 0xcf545, rsp 0x7fa15f49dde0;
    // frame 1's rsp is 0x7fa15f49de10.
    let rules = libc.cfi_rules(0xcf545).unwrap();
    assert_eq!(rules[0], (".cfa".to_string(), "$rsp 48 +".to_string()));
    let r = regs(&[("$rsp", 0x7fa15f49dde0)]);
    let cfa = evaluate_postfix(&rules[0].1, &r, &|_| None, 8).unwrap();
    assert_eq!(cfa, 0x7fa15f49de10);
}

#[test]
fn postfix_evaluation() {
    let r = regs(&[("$rsp", 0x1000), ("$esp", 0xfffffff0), (".cfa", 0x2000)]);
    let mem = |a: u64| (a == 0x1008).then_some(0xdead);
    assert_eq!(evaluate_postfix("$rsp 16 +", &r, &mem, 8), Some(0x1010));
    assert_eq!(evaluate_postfix("$rsp 8 + ^", &r, &mem, 8), Some(0xdead));
    assert_eq!(evaluate_postfix("$rsp 0x10 -", &r, &mem, 8), Some(0xff0));
    assert_eq!(evaluate_postfix(".cfa -8 +", &r, &mem, 8), Some(0x1ff8));
    assert_eq!(
        evaluate_postfix("$rsp 7 * 3 /", &r, &mem, 8),
        Some(0x1000 * 7 / 3)
    );
    assert_eq!(evaluate_postfix("$rsp 7 %", &r, &mem, 8), Some(0x1000 % 7));
    assert_eq!(
        evaluate_postfix("$rsp 0xff + 16 @", &r, &mem, 8),
        Some(0x10f0)
    );
    // 32-bit wraps at 32 bits.
    assert_eq!(evaluate_postfix("$esp 32 +", &r, &mem, 4), Some(0x10));
    assert_eq!(evaluate_postfix("$rsp", &r, &mem, 8), Some(0x1000));
    for bad in [
        "$rsp 0 /",
        "$rsp 0 %",
        "$rsp 3 @",
        "+",
        "$rsp 8",
        "",
        "$nope 8 +",
        "$rsp ^",
        "$rsp 8 + =",
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65",
    ] {
        assert_eq!(evaluate_postfix(bad, &r, &mem, 8), None, "{bad}");
    }
    let long = "1 ".repeat(2000) + &"+ ".repeat(1999);
    assert_eq!(evaluate_postfix(&long, &r, &mem, 8), None);

    // STACK WIN: assignments, later statements see earlier results.
    let mut w = regs(&[("$esp", 0x100), (".raSearch", 0x120)]);
    let mem32 = |a: u64| (a == 0x120).then_some(0x1_0040_1000);
    evaluate_win_program(
        "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =",
        &mut w,
        &mem32,
    )
    .unwrap();
    assert_eq!((w["$T0"], w["$eip"], w["$esp"]), (0x120, 0x401000, 0x124));
    let mut w = regs(&[("$esp", 0x100)]);
    assert_eq!(
        evaluate_win_program("$T0 .raSearch =", &mut w, &mem32),
        None
    );
    assert_eq!(evaluate_win_program("5 $esp =", &mut w, &mem32), None);
    assert_eq!(evaluate_win_program(".x 5 =", &mut w, &mem32), None);
    assert_eq!(evaluate_win_program("$esp 4 +", &mut w, &mem32), None);
}

#[test]
fn parse_errors_carry_line_numbers() {
    assert_eq!(
        parse_text(b"").unwrap_err(),
        BreakpadError::NoModule { line: 1 }
    );
    assert_eq!(
        parse_text(b"\n\nFILE 0 a.c\n").unwrap_err(),
        BreakpadError::NoModule { line: 3 }
    );
    assert_eq!(
        parse_text(b"MODULE Linux x86_64\n").unwrap_err(),
        BreakpadError::BadModule { line: 1 }
    );
    let sym = parse_text(
        b"MODULE Linux x86_64 ABC name with spaces\r\n\
          1000 10 5 0\n\
          FUNC zz 10 0 f\n\
          FUNC 1000 10 0 f\n\
          1000 10 5 0\n\
          STACK CFI 1000 .cfa: $rsp 8 +\n\
          garbage here\n",
    )
    .unwrap();
    assert_eq!(sym.module().name, "name with spaces");
    assert_eq!(sym.malformed_lines(), 4);
    assert_eq!(
        sym.problems(),
        [
            BreakpadError::Orphan {
                line: 2,
                record: "line",
                parent: "FUNC"
            },
            BreakpadError::Malformed {
                line: 3,
                record: "FUNC"
            },
            BreakpadError::Orphan {
                line: 6,
                record: "STACK CFI delta",
                parent: "STACK CFI INIT"
            },
            BreakpadError::Malformed {
                line: 7,
                record: "unknown"
            },
        ]
    );
    assert_eq!(sym.lookup(0x1004)[0].line, Some(5));
    assert_eq!(
        BreakpadError::Malformed {
            line: 3,
            record: "FUNC"
        }
        .to_string(),
        "line 3: malformed FUNC record"
    );
}

/// A tiny deterministic generator (no extra dev-dependency for one test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn exercise(sym: &BreakpadSymbols) {
    let r = regs(&[
        ("$rsp", 0x7fff0000),
        ("$rbp", 0x7fff0100),
        ("$esp", 0x1000),
        ("$ebp", 0x1010),
    ]);
    for rva in (0..0x20000u64)
        .step_by(0x31)
        .chain([u64::MAX, u64::MAX - 1])
    {
        let _ = sym.lookup(rva);
        if let Some(rules) = sym.cfi_rules(rva) {
            for (_, e) in rules {
                let _ = evaluate_postfix(&e, &r, &|a| Some(a ^ 0x55), 8);
            }
        }
        if let Some(w) = sym.win_frame(rva)
            && let Some(p) = w.program
        {
            let mut m = r.clone();
            let _ = evaluate_win_program(&p, &mut m, &|a| Some(a.wrapping_add(4)));
        }
    }
}

fn small_sym() -> Vec<u8> {
    // Every record kind, both INLINE syntaxes, STACK WIN with and without
    // a program string.
    b"MODULE windows x86 0123456789ABCDEF0 small.pdb\n\
INFO CODE_ID 5AB380779000 small.exe\n\
FILE 0 a.c\n\
FILE 1 b.h\n\
INLINE_ORIGIN 0 inl()\n\
INLINE_ORIGIN 1 0 old()\n\
FUNC m 1000 40 4 outer(int)\n\
INLINE 0 10 1 0 1008 8\n\
INLINE 0 11 1 1010 8 1020 4\n\
1000 8 5 0\n\
1008 8 6 1\n\
1010 30 7 0\n\
PUBLIC m 2000 0 pub\n\
STACK CFI INIT 1000 40 .cfa: $esp 4 + .ra: .cfa 4 - ^\n\
STACK CFI 1001 .cfa: $esp 8 + $ebp: .cfa 8 - ^\n\
STACK WIN 4 1000 40 3 0 8 4 10 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =\n\
STACK WIN 0 1000 40 3 0 8 4 10 0 0 1\n"
        .to_vec()
}

#[test]
fn truncated_and_garbled_sym_text_never_panics() {
    let base = small_sym();
    let full = parse_text(&base).unwrap();
    assert_eq!(full.malformed_lines(), 0);
    assert_eq!(full.lookup(0x1009)[0].function.as_deref(), Some("inl()"));
    assert_eq!(full.lookup(0x1009)[1].line, Some(10));
    assert_eq!(full.win_frame(0x1010).unwrap().kind, 4);
    assert_eq!(full.lookup(0x2001)[0].function.as_deref(), Some("pub"));
    for n in 0..=base.len() {
        if let Ok(sym) = parse_text(&base[..n]) {
            exercise(&sym);
        }
    }
    let mut texts: Vec<Vec<u8>> = vec![base];
    if let Some(shared) = shared() {
        let dir =
            shared.join("corpus/breakpad/symbols/linux_inline/BBA6FA10B8AAB33D00000000000000000");
        for name in ["linux_inline.old.sym", "linux_inline.new.sym"] {
            let text = std::fs::read(dir.join(name)).unwrap();
            for n in (0..=text.len()).step_by(7) {
                if let Ok(sym) = parse_text(&text[..n]) {
                    exercise(&sym);
                }
            }
            texts.push(text);
        }
    }
    let mut rng = Lcg(0x5eed);
    let junk: [&[u8]; 10] = [
        b"ffffffffffffffff",
        b"-1",
        b"99999999999999999999",
        b"",
        b" ",
        b"m",
        b"\xff\xfe",
        b"INLINE",
        b"STACK WIN 4",
        b"0",
    ];
    for round in 0..600 {
        let text = &texts[round % texts.len()];
        let mut lines: Vec<Vec<u8>> = text.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(lines.len());
            match rng.below(6) {
                0 => {
                    // Replace one field with junk.
                    let mut fields: Vec<Vec<u8>> =
                        lines[i].split(|c| *c == b' ').map(<[u8]>::to_vec).collect();
                    let j = rng.below(fields.len());
                    fields[j] = junk[rng.below(junk.len())].to_vec();
                    lines[i] = fields.join(&b' ');
                }
                1 => {
                    // Drop a field.
                    let mut fields: Vec<Vec<u8>> =
                        lines[i].split(|c| *c == b' ').map(<[u8]>::to_vec).collect();
                    fields.remove(rng.below(fields.len()));
                    lines[i] = fields.join(&b' ');
                }
                2 => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                }
                3 => {
                    let copy = lines[i].clone();
                    lines.insert(rng.below(lines.len()), copy);
                }
                4 => {
                    let len = lines[i].len();
                    lines[i].truncate(rng.below(len + 1));
                }
                _ => {
                    if let Some(b) = lines[i].get_mut(rng.below(1 + text.len() % 7)) {
                        *b = rng.next() as u8;
                    }
                }
            }
        }
        if let Ok(sym) = parse_text(&lines.join(&b'\n')) {
            exercise(&sym);
        }
    }
}

#[test]
fn public_symbols_as_breakpad_bounds_them() {
    let sym = parse_text(
        b"MODULE Linux x86_64 ID m\n\
          PUBLIC 0 0 at_zero\n\
          PUBLIC m 100 4 first\n\
          PUBLIC m 100 0 alias\n\
          FUNC m 200 10 0 f\n\
          FUNC 200 10 0 folded_twin\n\
          PUBLIC 300 c later\n",
    )
    .unwrap();
    let name = |rva: u64| sym.lookup(rva).first().and_then(|f| f.function.clone());
    assert_eq!(name(0x50), None, "PUBLIC 0 is dropped");
    assert_eq!(name(0x150), s("first"), "first of one address wins");
    assert_eq!(sym.lookup(0x150)[0].function_offset, Some(0x50));
    assert_eq!(name(0x205), s("f"));
    // Past f's end: the FUNC at 0x200 bounds PUBLIC 0x100.
    assert_eq!(name(0x250), None);
    assert_eq!(name(0x310), s("later"));
    assert_eq!(sym.parameter_size(0x310), Some(0xc));
    assert_eq!(sym.parameter_size(0x150), Some(4));
    assert_eq!(sym.parameter_size(0x250), None);
}

#[test]
fn sym_store_paths() {
    let d = PathBuf::from("/syms");
    assert_eq!(
        sym_path(&d, "test_app.pdb", "ABC1"),
        PathBuf::from("/syms/test_app.pdb/ABC1/test_app.sym")
    );
    assert_eq!(
        sym_path(&d, "libc.so.6", "EC61"),
        PathBuf::from("/syms/libc.so.6/EC61/libc.so.6.sym")
    );
}
