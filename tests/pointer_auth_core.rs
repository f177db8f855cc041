//! aarch64 pointer authentication end to end: NT_ARM_PAC_MASK read by the
//! ELF core reader, handed to the unwinder through the Symbolizer.
//!
//! No aarch64 core in ../shared carries the note (the only one, elfutils'
//! testfile_aarch64_core, predates PAC), so the test adds it to that real
//! core: the note goes into the slack between the PT_NOTE segment and the
//! first PT_LOAD (64 KiB aligned), and the saved lr is signed the way a
//! PAC-enabled kernel would leave it. The masks are GENMASK(54, 42), what
//! Linux reports for the 42-bit address space of a 64 KiB-page kernel like
//! the one that wrote this core.

mod common;

use std::io::{Read, Write};

use ckdump::model::PointerAuthMasks;
use ckdump::symbols::{SymbolConfig, Symbolizer};
use ckdump::unwind::{WalkLimits, walk};

const MASK_42: u64 = 0x007f_fc00_0000_0000;
/// The core's saved lr (frame 1 in eu-stack --core and in tests/unwind.rs).
const LR: u64 = 0x7f_b739_0b38;
/// `LR` signed: a code in bits 42..53 and the top byte, bit 55 clear
/// (a lower-half address).
const SIGNED_LR: u64 = 0x5a2a_bc7f_b739_0b38;
/// The first three frames tests/unwind.rs asserts for this core.
const STACK: [u64; 3] = [0x400548, LR, 0x40040c];

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The decompressed core with its lr signed and, with `masks`, an
/// NT_ARM_PAC_MASK note after its last note.
fn patched_core(masks: Option<PointerAuthMasks>) -> Option<Vec<u8>> {
    let path = common::shared_path("corpus/elfutils/testfile_aarch64_core.bz2")?;
    let mut core = Vec::new();
    bzip2::read::MultiBzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut core)
        .unwrap();
    // The first program header is the PT_NOTE.
    let phdr = u64_at(&core, 0x20) as usize;
    assert_eq!(u32_at(&core, phdr), 4, "PT_NOTE first");
    let (notes_at, notes_len) = (u64_at(&core, phdr + 8) as usize, u64_at(&core, phdr + 32));
    assert_eq!((notes_at, notes_len), (0x270, 0x9d0));
    // The first note is the thread's NT_PRSTATUS ("CORE\0" padded to 8):
    // pr_reg at 112 in its descriptor, x30 the 31st register.
    assert_eq!(u32_at(&core, notes_at + 8), 1, "NT_PRSTATUS first");
    let lr_at = notes_at + 20 + 112 + 30 * 8;
    assert_eq!(u64_at(&core, lr_at), LR);
    core[lr_at..lr_at + 8].copy_from_slice(&SIGNED_LR.to_le_bytes());
    if let Some(m) = masks {
        let mut note = Vec::new();
        note.extend_from_slice(&6u32.to_le_bytes());
        note.extend_from_slice(&16u32.to_le_bytes());
        note.extend_from_slice(&0x406u32.to_le_bytes());
        note.extend_from_slice(b"LINUX\0\0\0");
        note.extend_from_slice(&m.data.to_le_bytes());
        note.extend_from_slice(&m.insn.to_le_bytes());
        let end = notes_at + notes_len as usize;
        assert!(core[end..end + note.len()].iter().all(|&b| b == 0));
        core[end..end + note.len()].copy_from_slice(&note);
        let new_len = notes_len + note.len() as u64;
        core[phdr + 32..phdr + 40].copy_from_slice(&new_len.to_le_bytes());
    }
    Some(core)
}

/// Opens `core` and walks its one thread with the Symbolizer as CodeInfo.
fn open_and_walk(core: &[u8]) -> (ckdump::Image, Vec<u64>) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(core).unwrap();
    let image = common::open(file.path());
    let symbolizer = Symbolizer::new(&image.process, &SymbolConfig::default());
    let limits = WalkLimits {
        max_frames: 64,
        max_scan_words: 256,
    };
    let frames = walk(
        &image.process.threads[0].registers,
        image.process.memory.as_ref(),
        &symbolizer,
        &limits,
    );
    let pcs = frames.iter().map(|f| f.pc).collect();
    (image, pcs)
}

#[test]
fn the_cores_pac_mask_strips_a_signed_return_address() {
    let masks = PointerAuthMasks {
        data: MASK_42,
        insn: MASK_42,
    };
    let Some(core) = patched_core(Some(masks)) else {
        return;
    };
    let (image, pcs) = open_and_walk(&core);
    assert_eq!(image.process.pointer_auth, Some(masks));
    // Only what the unpatched core has (file-backed text left out): the
    // note is neither malformed nor unknown.
    assert_eq!(common::codes(&image), ["CKD-N1006"]);
    let note = image
        .details
        .notes
        .iter()
        .find(|n| n.name == Some("NT_ARM_PAC_MASK"))
        .unwrap();
    assert_eq!(
        note.description.as_deref(),
        Some("data_mask=0x7ffc0000000000 insn_mask=0x7ffc0000000000")
    );
    assert!(pcs.len() >= STACK.len(), "{pcs:x?}");
    assert_eq!(pcs[..STACK.len()], STACK, "{pcs:x?}");
}

#[test]
fn without_the_note_the_48_bit_default_keeps_bits_42_to_47() {
    let Some(core) = patched_core(None) else {
        return;
    };
    let (image, pcs) = open_and_walk(&core);
    assert_eq!(image.process.pointer_auth, None);
    assert_eq!(common::codes(&image), ["CKD-N1006"]);
    // lr stripped to 0xbc7f_b739_0b38 is no code: the walker drops it and
    // finds its way otherwise, never through the real return address.
    assert_eq!(pcs[0], 0x400548);
    assert!(!pcs.contains(&LR), "{pcs:x?}");
}
