//! Damaged files in a symbol folder: third-party parsers must not take the
//! run down. Found by the hostile-input sweep of issue 10.

mod common;

use std::path::Path;

use ckdump::memory::Bytes;
use ckdump::symbols::pe_file::PeFile;
use common::*;

/// Offset of the exception (.pdata) directory's size field in a PE32+.
fn exception_directory_size_offset(pe: &[u8]) -> usize {
    let at = |o: usize, n: usize| {
        let mut v = [0u8; 4];
        v[..n].copy_from_slice(&pe[o..o + n]);
        u32::from_le_bytes(v) as usize
    };
    let nt = at(0x3c, 4);
    assert_eq!(&pe[nt..nt + 4], b"PE\0\0");
    let optional = nt + 4 + 20;
    assert_eq!(at(optional, 2), 0x20b, "PE32+");
    // Data directories follow 112 bytes of PE32+ optional header; the
    // exception table is entry 3 (RVA, then size).
    optional + 112 + 3 * 8 + 4
}

/// crash.exe and its PDB copied into a temporary folder, the binary's
/// exception directory claiming 0xfffffff0 bytes.
fn damaged_symbol_folder(bin: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut exe = std::fs::read(bin.join("crash.exe")).unwrap();
    let at = exception_directory_size_offset(&exe);
    assert_eq!(exe[at..at + 4], 0x30u32.to_le_bytes(), "crash.exe as built");
    exe[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    std::fs::write(dir.path().join("crash.exe"), &exe).unwrap();
    std::fs::copy(bin.join("crash.pdb"), dir.path().join("crash.pdb")).unwrap();
    dir
}

#[test]
fn pe_with_an_oversized_exception_directory_loses_only_its_unwind_tables() {
    let Some(shared) = shared() else { return };
    let bin = shared.join("generated/windows/bin");
    let folder = damaged_symbol_folder(&bin);
    let damaged = std::fs::read(folder.path().join("crash.exe")).unwrap();
    // goblin 0.10.7 panicked slicing the directory (exception.rs:909).
    let pe = PeFile::parse(Bytes::from_vec(damaged)).unwrap();
    assert!(pe.pdata.is_empty());
    assert_eq!(
        pe.problem.as_deref(),
        Some(
            "exception directory (0xfffffff0 bytes at RVA 0x4000) lies outside the file; \
             its unwind tables are ignored"
        )
    );
    assert_eq!(pe.code_id(), "6B03869E6000");
    // The intact binary's table, for contrast: 0x30 bytes, 4 entries.
    let intact = PeFile::parse(Bytes::from_vec(
        std::fs::read(bin.join("crash.exe")).unwrap(),
    ));
    assert_eq!(intact.unwrap().pdata.len(), 4);

    // ckdump inspect on the wine minidump with that folder: a stack, not
    // exit 101; the frames past walk_list are found by scanning now (kept
    // with --scan-all: nothing trusted lies below them).
    let dump = shared.join("generated/windows/dumps/crash_selfdump_cv.dmp");
    let r = inspect_json(
        &dump,
        &["--symbols", folder.path().to_str().unwrap(), "--scan-all"],
    );
    let crash = &r["crash"];
    assert_eq!(crash["name"], "EXCEPTION_ACCESS_VIOLATION");
    let t = thread(&r, crash["thread"].as_u64().unwrap());
    assert_eq!(
        physical_functions(t)[..3],
        ["walk_list(node*, int)", "level2(int)", "level1(int)"]
    );
    let frames = t["frames"].as_array().unwrap();
    let pcs: Vec<&str> = frames[..3]
        .iter()
        .map(|f| f["pc"].as_str().unwrap())
        .collect();
    assert_eq!(pcs, ["0x140001028", "0x140001070", "0x14000108c"]);
    assert_eq!(frames[1]["found_by"], "scan");
    let main = &common::main_module(&r);
    assert_eq!(main["symbols"], "pdb");
    let problem = main["problem"].as_str().unwrap();
    assert!(
        problem.ends_with(
            "crash.exe: exception directory (0xfffffff0 bytes at RVA 0x4000) lies outside \
             the file; its unwind tables are ignored"
        ),
        "{problem}"
    );
}
