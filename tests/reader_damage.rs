//! Damaged minidumps and ELF cores that the readers must report, not pass:
//! each built from a committed fixture copied to a temporary file with a
//! few bytes patched (offsets from the fixtures' own headers, listed
//! beside each patch).

mod common;

use std::path::Path;

use ckdump::model::{Capture, Image};
use ckdump::verify::Severity;
use ckdump::{OpenOptions, open};
use common::*;

/// `fixture` (decompressed) in a temporary file with `patches` applied:
/// (offset, bytes) pairs.
fn patched(fixture: &str, patches: &[(usize, &[u8])]) -> tempfile::NamedTempFile {
    let out = decompressed(&root().join(fixture));
    let mut bytes = std::fs::read(out.path()).expect("read copy");
    for (at, new) in patches {
        bytes[*at..*at + new.len()].copy_from_slice(new);
    }
    std::fs::write(out.path(), &bytes).expect("write copy");
    out
}

fn open_image(path: &Path) -> Image {
    open(path, &OpenOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The messages of the image's findings with `code`.
fn messages(image: &Image, code: &str) -> Vec<String> {
    image
        .findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.message.clone())
        .collect()
}

fn has_error(image: &Image, code: &str) -> bool {
    image
        .findings
        .iter()
        .any(|f| f.code == code && f.severity == Severity::Error)
}

/// `ckdump verify` of the file fails (exit 1).
fn verify_fails(path: &Path) {
    let out = ckdump(&["verify", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// testdata/minidump/crash.dmp (50,915 bytes): the stream directory at 0x20,
// 12-byte entries {type, size, rva}; #1 ModuleListStream at 0x2c, #2
// MemoryListStream at 0x38 (84 bytes at 0x9914: a u32 count of 5, then
// 16-byte descriptors {u64 address, u32 size, u32 rva}).
const CRASH_DMP: &str = "testdata/minidump/crash.dmp";
const MODULE_LIST_ENTRY: usize = 0x2c;
const MEMORY_LIST_ENTRY: usize = 0x38;
const MEMORY_LIST: usize = 0x9914;

#[test]
fn the_undamaged_crash_dump_has_no_structure_findings() {
    let image = open_image(&root().join(CRASH_DMP));
    for code in ["CKD-E5012", "CKD-E5013", "CKD-E5004"] {
        assert_eq!(messages(&image, code), Vec::<String>::new(), "{code}");
    }
}

#[test]
fn a_minidump_without_its_module_list_is_an_error() {
    // The directory entry's type becomes UnusedStream (0).
    let file = patched(CRASH_DMP, &[(MODULE_LIST_ENTRY, &0u32.to_le_bytes())]);
    let image = open_image(file.path());
    assert!(image.process.modules.is_empty());
    assert!(has_error(&image, "CKD-E5012"));
    assert_eq!(
        messages(&image, "CKD-E5012"),
        ["the dump has no ModuleListStream: no module is known, so no frame can be symbolized"]
    );
    verify_fails(file.path());
}

#[test]
fn a_minidump_without_a_memory_list_is_an_error() {
    let file = patched(CRASH_DMP, &[(MEMORY_LIST_ENTRY, &0u32.to_le_bytes())]);
    let image = open_image(file.path());
    assert!(has_error(&image, "CKD-E5012"));
    assert_eq!(
        messages(&image, "CKD-E5012"),
        [
            "the dump has neither a MemoryListStream nor a Memory64ListStream: no stack memory, so no thread unwinds past its registers"
        ]
    );
    verify_fails(file.path());
}

#[test]
fn a_memory_list_claiming_more_ranges_than_fit_is_an_error() {
    let file = patched(CRASH_DMP, &[(MEMORY_LIST, &u32::MAX.to_le_bytes())]);
    let image = open_image(file.path());
    assert!(has_error(&image, "CKD-E5013"));
    assert_eq!(
        messages(&image, "CKD-E5013"),
        [
            "MemoryListStream claims 4294967295 memory ranges but its 84 bytes hold 5; the rest are not read"
        ]
    );
    // The five ranges that are there are still read.
    let stack = image
        .process
        .regions
        .iter()
        .find(|r| r.contains(0x7ffe_ce68_3000))
        .expect("stack region");
    assert_ne!(stack.capture, Capture::Absent);
    verify_fails(file.path());
}

#[test]
fn overlapping_memory_ranges_are_counted_once() {
    // Descriptor #4 (0x7f9b936de000, 0x2000 bytes) is moved onto #3's
    // address 0x7f9b936ef000: that region now has the same 0x2000 bytes
    // described twice, not 0x4000 captured.
    let descriptor4 = MEMORY_LIST + 4 + 4 * 16;
    let file = patched(
        CRASH_DMP,
        &[(descriptor4, &0x7f9b_936e_f000u64.to_le_bytes())],
    );
    let image = open_image(file.path());
    let region = image
        .process
        .regions
        .iter()
        .find(|r| r.contains(0x7f9b_936e_f000))
        .expect("region of the moved range");
    assert!(region.end - region.start > 0x4000, "{region:?}");
    assert_eq!(region.capture, Capture::Partial { bytes: 0x2000 });
    assert!(has_error(&image, "CKD-E5004"));
}

// testdata/cores/core.illegal.kernel: a 64-bit kernel core; e_phoff at 0x20,
// e_phnum at 0x38, program headers of 56 bytes from e_phoff (0x40), p_type
// first.
const ILLEGAL_CORE: &str = "testdata/cores/core.illegal.kernel";

fn phdr_types(core: &[u8]) -> Vec<(usize, u32)> {
    let phoff = u64::from_le_bytes(core[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(core[0x38..0x3a].try_into().unwrap()) as usize;
    (0..phnum)
        .map(|i| {
            let at = phoff + i * 56;
            (at, u32::from_le_bytes(core[at..at + 4].try_into().unwrap()))
        })
        .collect()
}

#[test]
fn an_elf_core_without_memory_segments_is_an_error() {
    const PT_LOAD: u32 = 1;
    const PT_NULL: [u8; 4] = [0; 4];
    let core = std::fs::read(root().join(ILLEGAL_CORE)).unwrap();
    let loads: Vec<usize> = phdr_types(&core)
        .into_iter()
        .filter(|(_, t)| *t == PT_LOAD)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(loads.len(), 23);
    let patches: Vec<(usize, &[u8])> = loads.iter().map(|at| (*at, &PT_NULL[..])).collect();
    let file = patched(ILLEGAL_CORE, &patches);
    let image = open_image(file.path());
    assert!(image.process.regions.is_empty());
    assert!(has_error(&image, "CKD-E1013"));
    assert_eq!(
        messages(&image, "CKD-E1013"),
        [
            "the core has no PT_LOAD segment: no memory at all, so no stack, module or variable can be read; threads show their registers only"
        ]
    );
    verify_fails(file.path());
}

#[test]
fn a_bogus_program_header_offset_is_not_called_a_truncated_core() {
    let file = patched(ILLEGAL_CORE, &[(0x20, &0xdead_0000u64.to_le_bytes())]);
    let len = std::fs::metadata(file.path()).unwrap().len();
    let Err(e) = open(file.path(), &OpenOptions::default()) else {
        panic!("a core without readable program headers opened");
    };
    let text = e.to_string();
    assert!(!text.contains("truncated"), "{text}");
    assert!(
        text.contains(&format!(
            "the program header table (e_phoff 0xdead0000, 24 entries of 56 bytes) lies outside the file ({len} bytes)"
        )),
        "{text}"
    );
}
