//! PDB symbols and PE binaries over the real clang + lld-link programs in
//! /work/shared/generated/windows/bin. Oracles: reference/guid-check.txt,
//! reference/llvm-pdbutil-*.txt (modules, publics, inline annotations,
//! llvm-readobj --unwind), reference/pdbtest-*.txt, `llvm-pdbutil dump
//! --fpo`, `llvm-objdump --unwind-info` / `-d` / `-s`, `llvm-readobj
//! --file-headers` on the same files.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ckdump::memory::Bytes;
use ckdump::symbols::SymbolFrame;
use ckdump::symbols::pdb_symbols::{FrameDataRecord, PdbSymbols};
use ckdump::symbols::pe_file::{PdataEntry, PeFile, binary_candidates, pdb_candidates};

fn bin_dir() -> Option<PathBuf> {
    common::shared_path("generated/windows/bin")
}

fn pe(dir: &Path, name: &str) -> PeFile {
    let file = std::fs::File::open(dir.join(format!("{name}.exe"))).unwrap();
    PeFile::parse(Bytes::map_file(&file).unwrap()).unwrap()
}

fn pdb(dir: &Path, name: &str) -> PdbSymbols {
    PdbSymbols::open(&dir.join(format!("{name}.pdb"))).unwrap()
}

/// (function, offset in the containing function, file name part, line, inlined)
type Frame = (String, Option<u64>, String, Option<u32>, bool);

fn frames(p: &PdbSymbols, rva: u32) -> Vec<Frame> {
    p.lookup(rva)
        .into_iter()
        .map(|f: SymbolFrame| {
            let file = f.file.unwrap_or_default();
            let base = file.rsplit('/').next().unwrap_or_default().to_string();
            (
                f.function.unwrap_or_default(),
                f.function_offset,
                base,
                f.line,
                f.inlined,
            )
        })
        .collect()
}

fn fr(function: &str, offset: Option<u64>, file: &str, line: Option<u32>, inlined: bool) -> Frame {
    (
        function.to_string(),
        offset,
        file.to_string(),
        line,
        inlined,
    )
}

#[test]
fn debug_ids_of_pe_and_pdb_match_guid_check() {
    let Some(dir) = bin_dir() else { return };
    // reference/guid-check.txt: `{946FFD09-270C-149F-4C4C-44205044422E} age 1`, ...
    for (name, guid) in [
        ("crash", "946FFD09270C149F4C4C44205044422E"),
        ("crash32", "ECCCE024993016944C4C44205044422E"),
        ("mcrash", "56E8C2A11D7647EF4C4C44205044422E"),
        ("threads", "5A1ACC12391FA8E04C4C44205044422E"),
        ("threads32", "EB03BEC61808D2274C4C44205044422E"),
    ] {
        let id = pe(&dir, name).pdb_identity().unwrap();
        assert_eq!(id.name, format!("{name}.pdb"));
        assert_eq!(id.guid, guid);
        assert_eq!(id.age, 1);
        assert_eq!(id.debug_id, format!("{guid}1"));
        let p = pdb(&dir, name);
        assert_eq!(p.debug_id(), id.debug_id, "{name}");
        assert_eq!(p.guid(), guid);
        assert_eq!(p.age(), 1);
        assert!(p.matches(&id.debug_id));
        assert!(p.matches(&format!("{}2", guid.to_lowercase())));
        assert!(!p.matches(guid));
        assert!(!p.matches("00000000000000000000000000000000"));
        // Ids come from dumps: a multi-byte character across byte 32 is a mismatch.
        assert!(!p.matches(&format!("a{}", "é".repeat(20))));
    }
}

/// crash.exe with its RSDS record (llvm-readobj: PointerToRawData 0xB38,
/// SizeOfData 0x3C) rewritten as a PDB 2.0 `NB10` record: signature
/// 0x3A1B2C3D, age 0x1F, then a name with garbage after its NUL.
#[test]
fn pdb20_codeview_records() {
    let Some(dir) = bin_dir() else { return };
    let mut bytes = std::fs::read(dir.join("crash.exe")).unwrap();
    assert_eq!(&bytes[0xb38..0xb3c], b"RSDS");
    let mut record = Vec::new();
    record.extend_from_slice(b"NB10");
    record.extend_from_slice(&0u32.to_le_bytes());
    record.extend_from_slice(&0x3a1b_2c3du32.to_le_bytes());
    record.extend_from_slice(&0x1fu32.to_le_bytes());
    record.extend_from_slice(b"C:\\vc6\\Legacy.pdb\0junk");
    record.resize(0x3c, 0);
    bytes[0xb38..0xb38 + 0x3c].copy_from_slice(&record);
    let f = PeFile::parse(Bytes::from_vec(bytes)).unwrap();
    let id = f.pdb_identity().unwrap();
    assert_eq!(id.name, "Legacy.pdb");
    assert_eq!(id.guid, "3A1B2C3D");
    assert_eq!(id.age, 0x1f);
    assert_eq!(id.debug_id, "3A1B2C3D1F");
    assert_eq!(
        pdb_candidates(Path::new("/s"), &id.name, &id.debug_id)[0],
        Path::new("/s/Legacy.pdb/3A1B2C3D1F/Legacy.pdb")
    );
}

#[test]
fn pe_headers_and_code_ids() {
    let Some(dir) = bin_dir() else { return };
    // llvm-readobj --file-headers: machine, TimeDateStamp, ImageBase, SizeOfImage.
    for (name, machine, base, size, code_id) in [
        ("crash", 0x8664, 0x1_4000_0000, 24576, "6B03869E6000"),
        ("threads", 0x8664, 0x1_4000_0000, 24576, "6B03869E6000"),
        ("crash32", 0x14c, 0x40_0000, 20480, "6B03869F5000"),
        ("threads32", 0x14c, 0x40_0000, 20480, "6B03869F5000"),
        // SizeOfImage 245760 = 0x3c000: the size part is lower-case hex.
        ("mcrash", 0x8664, 0x1_4000_0000, 245760, "6B0384583c000"),
    ] {
        let f = pe(&dir, name);
        assert_eq!(f.machine(), machine, "{name}");
        assert_eq!(f.image_base(), base, "{name}");
        assert_eq!(f.size_of_image(), size, "{name}");
        assert_eq!(f.code_id(), code_id, "{name}");
    }
}

#[test]
fn procedures_and_lines_crash_x64() {
    let Some(dir) = bin_dir() else { return };
    let p = pdb(&dir, "crash");
    // pdbtest-crash.txt: walk_list rva=0x1000 len=0x2f, lines 0x1022:crash.c:10;
    // level2 0x1030, level1 0x1080, start 0x10a0 (0x12f1:crash.c:20).
    assert_eq!(
        frames(&p, 0x1028),
        [fr(
            "walk_list(node*, int)",
            Some(0x28),
            "crash.c",
            Some(10),
            false
        )]
    );
    assert_eq!(
        frames(&p, 0x1016),
        [fr(
            "walk_list(node*, int)",
            Some(0x16),
            "crash.c",
            Some(9),
            false
        )]
    );
    assert_eq!(
        frames(&p, 0x1070),
        [fr("level2(int)", Some(0x40), "crash.c", Some(13), false)]
    );
    assert_eq!(
        frames(&p, 0x108c),
        [fr("level1(int)", Some(0xc), "crash.c", Some(14), false)]
    );
    assert_eq!(
        frames(&p, 0x12f1),
        [fr("start()", Some(0x251), "crash.c", Some(20), false)]
    );
    // Past the last procedure's end and any public: nothing.
    assert!(p.lookup(0x9_0000).is_empty());
}

#[test]
fn procedures_and_lines_other_binaries() {
    let Some(dir) = bin_dir() else { return };
    // pdbtest-threads.txt: deep rva=0x1000, lines 0x101f:threads.c:8.
    let p = pdb(&dir, "threads");
    assert_eq!(
        frames(&p, 0x1028),
        [fr(
            "deep(int, unsigned long)",
            Some(0x28),
            "threads.c",
            Some(8),
            false
        )]
    );
    assert_eq!(
        frames(&p, 0x1070),
        [fr(
            "raise_it(int)",
            Some(0x10),
            "threads.c",
            Some(12),
            false
        )]
    );
    // pdbtest-crash32.txt: level2 rva=0x1050, start 0x10c0 (0x12ac:crash.c:20).
    let p = pdb(&dir, "crash32");
    assert_eq!(
        frames(&p, 0x1070),
        [fr("level2(int)", Some(0x20), "crash.c", Some(13), false)]
    );
    assert_eq!(
        frames(&p, 0x12b0),
        [fr("start()", Some(0x1f0), "crash.c", Some(20), false)]
    );
    // pdbtest-mcrash.txt (mingw CRT): run 0x1510, main 0x1560 (0x1599:mcrash.c:18).
    let p = pdb(&dir, "mcrash");
    assert_eq!(
        frames(&p, 0x1510),
        [fr("run(int)", Some(0), "mcrash.c", Some(15), false)]
    );
    assert_eq!(
        frames(&p, 0x159a),
        [fr(
            "main(int, char**)",
            Some(0x3a),
            "mcrash.c",
            Some(18),
            false
        )]
    );
}

#[test]
fn inline_sites_become_inlined_frames() {
    let Some(dir) = bin_dir() else { return };
    let p = pdb(&dir, "crash");
    // pdbtest-crash.txt (symbolic): start -> outhex @0x10df -> out @0x1130 ->
    // slen @0x1130; llvm-symbolizer --inlining gives the same chain and lines.
    assert_eq!(
        frames(&p, 0x1130),
        [
            fr("slen(char const*)", None, "win.h", Some(42), true),
            fr("out(char const*)", None, "win.h", Some(43), true),
            fr("outhex(unsigned long long)", None, "win.h", Some(44), true),
            fr("start()", Some(0x90), "crash.c", Some(16), false),
        ]
    );
    // has_arg inlined at start+0xF1 (llvm-pdbutil-crash.txt, inlinee 0x1003,
    // base line 45): `line +1; code 0xF1; code 0xF7 line +1; code end 0x147`,
    // so 0x1191..0x1197 is line 46 and 0x1197..0x11e7 line 47.
    assert_eq!(
        frames(&p, 0x1193),
        [
            fr("has_arg(char const*)", None, "win.h", Some(46), true),
            fr("start()", Some(0xf3), "crash.c", Some(17), false),
        ]
    );
    assert_eq!(
        frames(&p, 0x1198)[0],
        fr("has_arg(char const*)", None, "win.h", Some(47), true)
    );
    // Just past the inline site: only the procedure.
    assert_eq!(
        frames(&p, 0x11e7),
        [fr("start()", Some(0x147), "crash.c", Some(17), false)]
    );
    // x86 build: has_arg inlined at 0x1177 (pdbtest-crash32.txt).
    let p = pdb(&dir, "crash32");
    let f = frames(&p, 0x1180);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].0, "has_arg(char const*)");
    assert!(f[0].4);
    assert_eq!(f[1], fr("start()", Some(0xc0), "crash.c", Some(17), false));
    // mcrash (mingw) has no inline sites: pdbtest-mcrash.txt lists no inline=true.
}

/// The stacks winedbg printed for the same programs under wine (it reads the
/// PDBs itself): reference/{crash,threads,mcrash}_winedbg_auto.txt.
#[test]
fn agrees_with_winedbg_frames() {
    let Some(dir) = bin_dir() else { return };
    let p = pdb(&dir, "crash");
    // walk_list+0x28 crash.c:10, level2+0x40 :13, level1+0xc :14, start+0x25b :20
    for (rva, name, off, line) in [
        (0x1028, "walk_list(node*, int)", 0x28, 10),
        (0x1070, "level2(int)", 0x40, 13),
        (0x108c, "level1(int)", 0xc, 14),
        (0x12fb, "start()", 0x25b, 20),
    ] {
        assert_eq!(
            frames(&p, rva),
            [fr(name, Some(off), "crash.c", Some(line), false)]
        );
    }
    // raise_it+0x36 threads.c:14, do_work+0xe :15, and at 0x1416 `out()`
    // win.h:43 inlined into start+0x356 threads.c:24.
    let p = pdb(&dir, "threads");
    assert_eq!(
        frames(&p, 0x1096),
        [fr(
            "raise_it(int)",
            Some(0x36),
            "threads.c",
            Some(14),
            false
        )]
    );
    assert_eq!(
        frames(&p, 0x10ae),
        [fr("do_work()", Some(0xe), "threads.c", Some(15), false)]
    );
    assert_eq!(
        frames(&p, 0x1416),
        [
            fr("out(char const*)", None, "win.h", Some(43), true),
            fr("start()", Some(0x356), "threads.c", Some(24), false),
        ]
    );
    // parse+0x9 mcrash.c:14, run+0x1e :15, main+0x52 :19; winedbg has no
    // name for +0x13ae (CRT code before any public function) and neither do we.
    let p = pdb(&dir, "mcrash");
    assert_eq!(
        frames(&p, 0x1549),
        [fr(
            "parse(char const*)",
            Some(0x9),
            "mcrash.c",
            Some(14),
            false
        )]
    );
    assert_eq!(
        frames(&p, 0x152e),
        [fr("run(int)", Some(0x1e), "mcrash.c", Some(15), false)]
    );
    assert_eq!(
        frames(&p, 0x15b2),
        [fr(
            "main(int, char**)",
            Some(0x52),
            "mcrash.c",
            Some(19),
            false
        )]
    );
    assert!(p.lookup(0x13ae).is_empty());
}

#[test]
fn public_symbols_when_no_procedure_covers() {
    let Some(dir) = bin_dir() else { return };
    // Import thunks: publics only (llvm-pdbutil-crash.txt: `CloseHandle`
    // function, 0001:1440 = rva 0x15a0).
    let p = pdb(&dir, "crash");
    assert_eq!(
        frames(&p, 0x15a0),
        [fr("CloseHandle", Some(0), "", None, false)]
    );
    assert_eq!(
        frames(&p, 0x15a4),
        [fr("CloseHandle", Some(4), "", None, false)]
    );
    // x86 keeps the stdcall decoration of the public name.
    let p = pdb(&dir, "crash32");
    assert_eq!(
        frames(&p, 0x1463),
        [fr("_CloseHandle@4", Some(0), "", None, false)]
    );
    // mingw CRT code without module info: `mainCRTStartup` 0001:1232 and
    // `_pei386_runtime_relocator` 0001:2944 (.text at rva 0x1000).
    let p = pdb(&dir, "mcrash");
    assert_eq!(
        frames(&p, 0x14d0),
        [fr("mainCRTStartup", Some(0), "", None, false)]
    );
    assert_eq!(
        frames(&p, 0x1b84),
        [fr("_pei386_runtime_relocator", Some(4), "", None, false)]
    );
}

#[test]
fn pdata_entries_match_readobj() {
    let Some(dir) = bin_dir() else { return };
    let e = |begin, end, unwind_info| {
        Some(PdataEntry {
            begin,
            end,
            unwind_info,
        })
    };
    // llvm-pdbutil-crash.txt (llvm-readobj --unwind): four RuntimeFunctions.
    let f = pe(&dir, "crash");
    assert_eq!(f.runtime_function(0x1030), e(0x1030, 0x1078, 0x237c));
    assert_eq!(f.runtime_function(0x1077), e(0x1030, 0x1078, 0x237c));
    assert_eq!(f.runtime_function(0x108c), e(0x1080, 0x1093, 0x2384));
    assert_eq!(f.runtime_function(0x1130), e(0x10a0, 0x133d, 0x238c));
    assert_eq!(f.runtime_function(0x1500), e(0x1340, 0x152f, 0x2398));
    // walk_list is a leaf without an entry; gaps and the end have none.
    assert_eq!(f.runtime_function(0x1010), None);
    assert_eq!(f.runtime_function(0x1078), None);
    assert_eq!(f.runtime_function(0x152f), None);
    assert_eq!(f.pdata.len(), 4);
    // llvm-objdump --unwind-info threads.exe.
    let f = pe(&dir, "threads");
    assert_eq!(f.runtime_function(0x1028), e(0x1000, 0x1037, 0x23ec));
    assert_eq!(f.runtime_function(0x1070), e(0x1060, 0x109c, 0x23fc));
    assert_eq!(f.runtime_function(0x1461), e(0x10c0, 0x1462, 0x240c));
    assert_eq!(f.runtime_function(0x1470), e(0x1470, 0x165f, 0x2424));
    // x86 images have no .pdata.
    let f = pe(&dir, "crash32");
    assert!(f.pdata.is_empty());
    assert_eq!(f.runtime_function(0x1050), None);
}

#[test]
fn image_bytes_by_rva() {
    let Some(dir) = bin_dir() else { return };
    let f = pe(&dir, "crash");
    // llvm-objdump -d: level2 starts `48 83 ec 58  89 ca`.
    let mut code = [0u8; 6];
    assert_eq!(f.read_rva(0x1030, &mut code), 6);
    assert_eq!(code, [0x48, 0x83, 0xec, 0x58, 0x89, 0xca]);
    // llvm-objdump -s .rdata: level2's UNWIND_INFO at 0x237c: version 1,
    // prolog 4, 1 code, then ALLOC_SMALL 88 at offset 4.
    let mut info = [0u8; 6];
    assert_eq!(f.read_rva(0x237c, &mut info), 6);
    assert_eq!(info, [0x01, 0x04, 0x01, 0x00, 0x04, 0xa2]);
    // Reads stop at the section's file data: .text has 0x5e6 bytes of code
    // in a 0x600-byte raw block.
    let mut big = [0u8; 64];
    assert_eq!(f.read_rva(0x1600 - 16, &mut big), 16);
    assert_eq!(f.read_rva(0x9_0000, &mut big), 0);
    // The headers are mapped at RVA 0 (SizeOfHeaders 0x400 for lld-link).
    let mut mz = [0u8; 2];
    assert_eq!(f.read_rva(0, &mut mz), 2);
    assert_eq!(&mz, b"MZ");
    assert_eq!(f.read_rva(0x3f0, &mut big), 16);
    assert_eq!(f.read_rva(0x400, &mut big), 0);
    assert!(f.is_executable_rva(0x1000));
    assert!(f.is_executable_rva(0x15e5));
    assert!(!f.is_executable_rva(0x237c));
    assert!(!f.is_executable_rva(0x4000));
    assert!(!f.is_executable_rva(0x0fff));
}

#[test]
fn x86_frame_data_matches_pdbutil_fpo() {
    let Some(dir) = bin_dir() else { return };
    let p = pdb(&dir, "crash32");
    let regs4 = "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebp $T0 4 - ^ = \
                 $ebx $T0 8 - ^ = $edi $T0 12 - ^ = $esi $T0 16 - ^ = ";
    // llvm-pdbutil dump --fpo crash32.pdb:
    // 00001000 | 69 | 0 | 8 | 0 | 0 | 0 | false | false | true | $T0 .raSearch = ...
    assert_eq!(
        p.frame_data(0x1010),
        Some(FrameDataRecord {
            rva: 0x1000,
            code_size: 69,
            prolog_size: 0,
            locals_size: 0,
            params_size: 8,
            saved_regs_size: 0,
            max_stack_size: Some(0),
            program: Some("$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = ".to_string()),
            has_seh: false,
            uses_base_pointer: false,
            is_function_start: true,
        })
    );
    // start's records nest, one per push; the last one starting at or
    // before the address holds: 000010C3 | 541 | 0 | 0 | 0 | 4 | 12 |.
    let r = p.frame_data(0x10c3).unwrap();
    assert_eq!(
        (r.rva, r.code_size, r.prolog_size, r.saved_regs_size),
        (0x10c3, 541, 4, 12)
    );
    assert!(!r.is_function_start);
    // 000010C7 | 537 | 24 | 0 | 0 | 0 | 16 | ... covers the body.
    let r = p.frame_data(0x12df).unwrap();
    assert_eq!(
        (r.rva, r.code_size, r.locals_size, r.saved_regs_size),
        (0x10c7, 537, 24, 16)
    );
    assert_eq!(r.program.as_deref(), Some(regs4));
    assert_eq!(p.frame_data(0x10c0).unwrap().prolog_size, 7);
    // level2: 00001053 | 74 | 24 | 4 | ...; before its first record, none.
    let r = p.frame_data(0x1060).unwrap();
    assert_eq!(
        (r.rva, r.code_size, r.locals_size, r.params_size),
        (0x1053, 74, 24, 4)
    );
    assert_eq!(p.frame_data(0x0fff), None);
    // Gap between level2's end (0x1050 + 77) and level1 (0x10a0).
    assert_eq!(p.frame_data(0x109f), None);
    // threads32: 00001063 | 45 | 12 | 4 |.
    let r = pdb(&dir, "threads32").frame_data(0x1070).unwrap();
    assert_eq!(
        (r.rva, r.code_size, r.locals_size, r.params_size),
        (0x1063, 45, 12, 4)
    );
    // x64 PDBs carry no frame data.
    assert_eq!(pdb(&dir, "crash").frame_data(0x1030), None);
}

#[test]
fn store_layouts() {
    let d = Path::new("/syms");
    assert_eq!(
        pdb_candidates(d, "crash.pdb", "946FFD09270C149F4C4C44205044422E1"),
        [
            d.join("crash.pdb/946FFD09270C149F4C4C44205044422E1/crash.pdb"),
            d.join("crash.pdb"),
        ]
    );
    // A full Windows path from a CodeView record: its file part; the id
    // is upper-cased; a mixed-case name is also tried lower-cased.
    assert_eq!(
        pdb_candidates(d, "C:\\build\\Kernel32.pdb", "abc1"),
        [
            d.join("Kernel32.pdb/ABC1/Kernel32.pdb"),
            d.join("kernel32.pdb/ABC1/kernel32.pdb"),
            d.join("Kernel32.pdb"),
            d.join("kernel32.pdb"),
        ]
    );
    // Binaries: the code id is kept as is (lower-case size hex).
    assert_eq!(
        binary_candidates(d, "mcrash.exe", "6B0384583c000"),
        [
            d.join("mcrash.exe/6B0384583c000/mcrash.exe"),
            d.join("mcrash.exe")
        ]
    );
    // Hostile names and keys never leave the directory.
    assert!(pdb_candidates(d, "..", "AB1").is_empty());
    assert!(pdb_candidates(d, "x/", "AB1").is_empty());
    assert!(binary_candidates(d, "", "AB").is_empty());
    assert_eq!(
        binary_candidates(d, "../../a.exe", "AB"),
        [d.join("a.exe/AB/a.exe"), d.join("a.exe")]
    );
    assert_eq!(binary_candidates(d, "a.exe", "../x"), [d.join("a.exe")]);
    assert_eq!(binary_candidates(d, "a.exe", ""), [d.join("a.exe")]);
}

/// Deterministic xorshift, so failures reproduce.
fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

fn damaged_versions(bytes: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut next = rng(seed);
    let mut cases: Vec<Vec<u8>> = [0, 1, 31, 32, 4095, 4096, 4097, 8192]
        .into_iter()
        .chain((1..16).map(|i| bytes.len() * i / 16))
        .filter(|&n| n < bytes.len())
        .map(|n| bytes[..n].to_vec())
        .collect();
    for flips in [1, 4, 32] {
        for _ in 0..12 {
            let mut b = bytes.to_vec();
            for _ in 0..flips {
                let at = (next() as usize) % b.len();
                b[at] ^= 1 << (next() % 8);
            }
            cases.push(b);
        }
    }
    cases
}

#[test]
fn damaged_pdbs_are_errors_or_fewer_answers_never_panics() {
    let Some(dir) = bin_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (name, seed) in [
        ("crash32", 0x9e37_79b9_7f4a_7c15u64),
        ("crash", 0x2545_f491_4f6c_dd1d),
    ] {
        let bytes = std::fs::read(dir.join(format!("{name}.pdb"))).unwrap();
        let mut opened = 0;
        for (i, case) in damaged_versions(&bytes, seed).iter().enumerate() {
            let path = tmp.path().join("case.pdb");
            std::fs::write(&path, case).unwrap();
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| {
                let p = PdbSymbols::open(&path)?;
                for rva in [
                    0x1000u32,
                    0x1028,
                    0x1130,
                    0x1193,
                    0x10c8,
                    0x15a0,
                    0xffff_ffff,
                ] {
                    let _ = p.lookup(rva);
                    let _ = p.frame_data(rva);
                }
                Ok::<_, ckdump::symbols::pdb_symbols::PdbSymbolError>(p.debug_id())
            });
            let result = outcome.unwrap_or_else(|_| panic!("{name} case {i} panicked"));
            // Truncated files must not open: the MSF directory or streams are gone.
            if case.len() < bytes.len() {
                assert!(result.is_err(), "{name} truncated to {} opened", case.len());
            }
            opened += usize::from(result.is_ok());
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{name} case {i} too slow"
            );
        }
        // Many bit flips land in data the open does not check, so lookups
        // and frame data really ran over damaged streams.
        assert!(opened >= 10, "{name}: only {opened} damaged cases opened");
    }
}

#[test]
fn damaged_pe_files_never_panic() {
    let Some(dir) = bin_dir() else { return };
    for (name, seed) in [
        ("crash", 0x1234_5678_9abc_def1u64),
        ("crash32", 0x0fed_cba9_8765_4321),
    ] {
        let bytes = std::fs::read(dir.join(format!("{name}.exe"))).unwrap();
        for (i, case) in damaged_versions(&bytes, seed).into_iter().enumerate() {
            let outcome = std::panic::catch_unwind(|| {
                let Some(f) = PeFile::parse(Bytes::from_vec(case)) else {
                    return;
                };
                let mut buf = [0u8; 64];
                for rva in [0u32, 0x1000, 0x1030, 0x237c, 0x4000, 0xffff_fff0, u32::MAX] {
                    let _ = f.runtime_function(rva);
                    let _ = f.read_rva(rva, &mut buf);
                    let _ = f.is_executable_rva(rva);
                }
                let _ = (f.code_id(), f.pdb_identity());
            });
            assert!(outcome.is_ok(), "{name} case {i} panicked");
        }
    }
}
