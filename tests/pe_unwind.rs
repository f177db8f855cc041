//! Windows x64 unwinding from .pdata/.xdata: the real PE programs in
//! generated/windows/bin with synthetic stacks that follow each function's
//! real prolog, synthetic unwind records for the codes no fixture uses, and
//! a real wine minidump's crashed thread.
//!
//! The `CodeInfo` here maps a PE's sections at their RVAs and answers
//! `runtime_function` from .pdata by binary search: test scaffolding only.

mod common;

use std::path::{Path, PathBuf};

use ckdump::memory::{Bytes, Segment, SegmentMemory};
use ckdump::model::{Arch, RegisterSet};
use ckdump::unwind::{CodeInfo, FoundBy, RawFrame, RuntimeFunction, WalkLimits, walk};

fn windows_bin(name: &str) -> Option<PathBuf> {
    common::shared_path("generated/windows").map(|dir| dir.join("bin").join(name))
}

/// A module mapped at `base`: its image bytes, its RUNTIME_FUNCTIONs sorted
/// by begin, and its executable range; plus other code ranges without
/// tables (a stand-in for modules the test does not load).
struct PeCode {
    base: u64,
    image: Vec<u8>,
    functions: Vec<[u32; 3]>,
    text: (u64, u64),
    foreign_code: Vec<(u64, u64)>,
}

impl PeCode {
    /// Maps the PE file `path` at its preferred image base.
    fn load(path: &Path) -> PeCode {
        let file = std::fs::read(path).unwrap();
        let pe = goblin::pe::PE::parse(&file).unwrap();
        let size = pe
            .header
            .optional_header
            .unwrap()
            .windows_fields
            .size_of_image as usize;
        let mut image = vec![0u8; size];
        let mut text = (0, 0);
        let mut functions = Vec::new();
        for section in &pe.sections {
            let raw = section.pointer_to_raw_data as usize;
            let length = (section.size_of_raw_data.min(section.virtual_size)) as usize;
            let rva = section.virtual_address as usize;
            image[rva..rva + length].copy_from_slice(&file[raw..raw + length]);
            let name = section.name().unwrap();
            if name == ".text" {
                text = (
                    pe.image_base + u64::from(section.virtual_address),
                    pe.image_base
                        + u64::from(section.virtual_address)
                        + u64::from(section.virtual_size),
                );
            }
            if name == ".pdata" {
                for entry in file[raw..raw + length].chunks_exact(12) {
                    let word = |i: usize| u32::from_le_bytes(entry[i..i + 4].try_into().unwrap());
                    functions.push([word(0), word(4), word(8)]);
                }
            }
        }
        functions.sort();
        PeCode {
            base: pe.image_base,
            image,
            functions,
            text,
            foreign_code: Vec::new(),
        }
    }
}

impl CodeInfo for PeCode {
    fn unwind_tables(&self, _pc: u64) -> Option<ckdump::unwind::UnwindTables<'_>> {
        None
    }
    fn is_code(&self, pc: u64) -> bool {
        (self.text.0..self.text.1).contains(&pc)
            || self.foreign_code.iter().any(|&(s, e)| (s..e).contains(&pc))
    }
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        let Some(offset) = address.checked_sub(self.base) else {
            return 0;
        };
        let Some(rest) = usize::try_from(offset)
            .ok()
            .and_then(|o| self.image.get(o..))
        else {
            return 0;
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    }
    fn runtime_function(&self, pc: u64) -> Option<RuntimeFunction> {
        let rva = u32::try_from(pc.checked_sub(self.base)?).ok()?;
        let index = self.functions.partition_point(|f| f[0] <= rva);
        let [begin, end, unwind_info] = *self.functions.get(index.checked_sub(1)?)?;
        (rva < end).then_some(RuntimeFunction {
            image_base: self.base,
            begin,
            end,
            unwind_info,
        })
    }
    fn has_runtime_functions(&self, pc: u64) -> bool {
        (self.base..self.base + self.image.len() as u64).contains(&pc)
    }
}

/// Stack memory holding `words` from `address` up.
fn stack(address: u64, words: &[u64]) -> SegmentMemory {
    let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    SegmentMemory::new(vec![Segment {
        address,
        size: data.len() as u64,
        captured: data.len() as u64,
        offset: 0,
        bytes: Bytes::from_vec(data),
    }])
}

fn registers(values: &[(&str, u64)]) -> RegisterSet {
    let mut set = RegisterSet::new(Arch::X86_64);
    for &(name, value) in values {
        assert!(set.set_named(name, value), "{name}");
    }
    set
}

fn summary(frames: &[RawFrame]) -> Vec<(u64, Option<u64>, FoundBy, bool)> {
    frames
        .iter()
        .map(|f| (f.pc, f.sp, f.found_by, f.pc_is_exact))
        .collect()
}

/// A stack with `filler` words then the given words.
fn with_gap(filler: usize, words: &[u64]) -> Vec<u64> {
    let mut v = vec![0x1111_2222_3333_4444; filler];
    v.extend_from_slice(words);
    v
}

/// crash.exe's crashing thread, as wine ran it: walk_list (leaf, no
/// .pdata entry) <- level2 (sub rsp,88) <- level1 (sub rsp,40) <- start
/// (push rsi, rdi, rbx; sub rsp,80) <- kernel32.
#[test]
fn crash_exe_walks_leaf_and_prolog_frames() {
    let Some(path) = windows_bin("crash.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    let sp0 = 0x11fd38;
    let mut words = vec![0x1_4000_1070]; // [sp0]: return into level2
    words.extend(with_gap(11, &[0x1_4000_108c])); // level2: 88 bytes, ret
    words.extend(with_gap(5, &[0x1_4000_12fb])); // level1: 40 bytes, ret
    // start: 80 bytes, then saved rbx, rdi, rsi and the return address.
    words.extend(with_gap(10, &[0xb0b0, 0xd0d0, 0x5050, 0x7b62_7e49]));
    words.extend([0u64; 8]);
    let memory = stack(sp0, &words);
    let regs = registers(&[
        ("rip", 0x1_4000_1028),
        ("rsp", sp0),
        ("rbp", 0),
        ("rbx", 0x70),
        ("rsi", 0x12),
        ("rdi", 0x7b60_dbb4),
        ("r12", 0xc12),
    ]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        vec![
            (0x1_4000_1028, Some(0x11fd38), FoundBy::Context, true),
            (0x1_4000_1070, Some(0x11fd40), FoundBy::Cfi, false),
            (0x1_4000_108c, Some(0x11fda0), FoundBy::Cfi, false),
            (0x1_4000_12fb, Some(0x11fdd0), FoundBy::Cfi, false),
            (0x7b62_7e49, Some(0x11fe40), FoundBy::Cfi, false),
        ]
    );
    // Frames 1-3 keep the non-volatiles; start's pushes restore them.
    let reg = |i: usize, name: &str| frames[i].registers.get_named(name);
    assert_eq!(reg(3, "rbx"), Some(0x70));
    assert_eq!(reg(3, "rdi"), Some(0x7b60_dbb4));
    assert_eq!(reg(4, "rbx"), Some(0xb0b0));
    assert_eq!(reg(4, "rdi"), Some(0xd0d0));
    assert_eq!(reg(4, "rsi"), Some(0x5050));
    assert_eq!(reg(4, "rbp"), Some(0));
    assert_eq!(reg(4, "r12"), Some(0xc12));
    // Volatile registers are not carried into callers.
    assert_eq!(reg(1, "rax"), None);
}

/// A pc inside start's prolog applies only the pushes already executed.
#[test]
fn partial_prolog_applies_only_executed_codes() {
    let Some(path) = windows_bin("crash.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    // At 0x1400010a3 (sub rsp,80 not yet run): rbx, rdi, rsi pushed.
    let sp = 0x20_0000;
    let memory = stack(sp, &[0xb0b0, 0xd0d0, 0x5050, 0x7b62_7e49, 0, 0]);
    let regs = registers(&[("rip", 0x1_4000_10a3), ("rsp", sp), ("rbp", 0)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(sp + 32));
    assert_eq!(frames[1].found_by, FoundBy::Cfi);
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
    assert_eq!(frames[1].registers.get_named("rsi"), Some(0x5050));

    // At 0x1400010a1 (only push rsi ran).
    let memory = stack(sp, &[0x5050, 0x7b62_7e49, 0, 0]);
    let regs = registers(&[("rip", 0x1_4000_10a1), ("rsp", sp), ("rbx", 7)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(sp + 16));
    assert_eq!(frames[1].registers.get_named("rsi"), Some(0x5050));
    assert_eq!(frames[1].registers.get_named("rbx"), Some(7));
}

/// A pc in start's epilog: the prolog codes would be wrong once `add rsp`
/// ran, so the epilog is emulated from the instruction stream.
#[test]
fn epilog_is_emulated() {
    let Some(path) = windows_bin("crash.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    let sp = 0x20_0000;
    let tail = [0xb0b0, 0xd0d0, 0x5050, 0x7b62_7e49, 0, 0];
    // At the add rsp,80.
    let memory = stack(sp, &with_gap(10, &tail));
    let regs = registers(&[("rip", 0x1_4000_1335), ("rsp", sp), ("rbp", 0)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(sp + 80 + 32));
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
    // After pop rbx: rdi, rsi and the return address remain.
    let memory = stack(sp, &tail[1..]);
    let regs = registers(&[("rip", 0x1_4000_133a), ("rsp", sp), ("rbx", 0xb0b0)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(sp + 24));
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
    assert_eq!(frames[1].registers.get_named("rdi"), Some(0xd0d0));
    assert_eq!(frames[1].registers.get_named("rsi"), Some(0x5050));
    // At the ret.
    let memory = stack(sp, &tail[3..]);
    let regs = registers(&[("rip", 0x1_4000_133c), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(sp + 8));
}

/// threads.exe's worker pushes eight registers including r12-r15.
#[test]
fn threads_exe_restores_r12_to_r15() {
    let Some(path) = windows_bin("threads.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    // Function 0x10c0..0x1462: push r15, r14, r13, r12, rsi, rdi, rbp, rbx;
    // sub rsp,88. A pc in its body.
    let sp = 0x30_0000;
    let saved = [
        0xb1,
        0xb2,
        0xd1,
        0x51,
        0x12,
        0x13,
        0x14,
        0x15,
        0x7b62_7e49,
        0,
    ];
    let memory = stack(sp, &with_gap(11, &saved));
    let regs = registers(&[("rip", 0x1_4000_1200), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    let caller = &frames[1];
    assert_eq!(caller.pc, 0x7b62_7e49);
    assert_eq!(caller.sp, Some(sp + 88 + 8 * 8 + 8));
    let r = |name: &str| caller.registers.get_named(name);
    assert_eq!(
        [
            r("rbx"),
            r("rbp"),
            r("rdi"),
            r("rsi"),
            r("r12"),
            r("r13"),
            r("r14"),
            r("r15")
        ],
        [0xb1, 0xb2, 0xd1, 0x51, 0x12, 0x13, 0x14, 0x15].map(Some)
    );
}

/// mcrash.exe 0x1560: push rbp; push rsi; sub rsp,40; lea rbp,[rsp+32]
/// (frame register rbp, offset 32). With rsp moved below the fixed frame
/// (as after an alloca) the frame register still finds the frame.
#[test]
fn frame_register_locates_the_frame() {
    let Some(path) = windows_bin("mcrash.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    let frame = 0x40_0000u64; // rsp after sub rsp,40
    let rbp = frame + 32;
    let sp = frame - 0x100;
    let mut words = vec![0u64; 0x100 / 8];
    words.extend(with_gap(5, &[0x5151, 0xbbbb, 0x7b62_7e49, 0]));
    let memory = stack(sp, &words);
    let regs = registers(&[("rip", 0x1_4000_1599), ("rsp", sp), ("rbp", rbp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    let caller = &frames[1];
    assert_eq!(caller.pc, 0x7b62_7e49);
    assert_eq!(caller.found_by, FoundBy::Cfi);
    assert_eq!(caller.sp, Some(frame + 40 + 24));
    assert_eq!(caller.registers.get_named("rsi"), Some(0x5151));
    assert_eq!(caller.registers.get_named("rbp"), Some(0xbbbb));

    // Before lea rbp ran (pc 0x140001566), rbp is still the caller's and
    // SET_FPREG does not apply.
    let memory = stack(frame, &with_gap(5, &[0x5151, 0xbbbb, 0x7b62_7e49, 0]));
    let regs = registers(&[("rip", 0x1_4000_1566), ("rsp", frame), ("rbp", 0x9999)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames[1].pc, 0x7b62_7e49);
    assert_eq!(frames[1].sp, Some(frame + 64));
    assert_eq!(frames[1].registers.get_named("rbp"), Some(0xbbbb));
}

/// mcrash.exe 0x5040: eight pushes then `sub rsp,184` (UWOP_ALLOC_LARGE,
/// 16-bit form); 0x1890: push rsi, rbx; sub rsp,120; movups of xmm6-8
/// (UWOP_SAVE_XMM128, skipped), with the pc between two of the saves.
#[test]
fn mcrash_alloc_large_and_xmm_saves() {
    let Some(path) = windows_bin("mcrash.exe") else {
        return;
    };
    let mut code = PeCode::load(&path);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    let sp = 0x60_0000u64;
    let pushed = [
        0xb1,
        0x51,
        0xd1,
        0xb2,
        0x12,
        0x13,
        0x14,
        0x15,
        0x7b62_7e49,
        0,
    ];
    let memory = stack(sp, &with_gap(23, &pushed));
    let regs = registers(&[("rip", 0x1_4000_5053), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames)[1],
        (0x7b62_7e49, Some(sp + 184 + 72), FoundBy::Cfi, false)
    );
    let r = |name: &str| frames[1].registers.get_named(name);
    assert_eq!(
        [
            r("rbx"),
            r("rsi"),
            r("rdi"),
            r("rbp"),
            r("r12"),
            r("r13"),
            r("r14"),
            r("r15")
        ],
        [0xb1, 0x51, 0xd1, 0xb2, 0x12, 0x13, 0x14, 0x15].map(Some)
    );

    let memory = stack(sp, &with_gap(15, &[0xb0b0, 0x5050, 0x7b62_7e49, 0]));
    let regs = registers(&[("rip", 0x1_4000_189b), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames)[1],
        (0x7b62_7e49, Some(sp + 120 + 24), FoundBy::Cfi, false)
    );
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
    assert_eq!(frames[1].registers.get_named("rsi"), Some(0x5050));
}

/// Version 2 records list UWOP_EPILOG codes (two slots) before the prolog
/// codes; they are skipped.
#[test]
fn version2_epilog_codes_are_skipped() {
    let record: &[u8] = &[
        0x02, 2, 4, 0x00, //
        0x04, 0x16, // epilog: size 4, at the end
        0x00, 0x00, // second slot of the epilog code
        2, 0x30, // push rbx
        1, 0x50, // push rbp
    ];
    let mut code = synthetic(vec![[0x1000, 0x1100, 0x3000]], &[(0x3000, record)]);
    code.foreign_code.push((0x2000_0000, 0x2000_1000));
    let sp = 0x50_0000u64;
    let memory = stack(sp, &[0xb0b0, 0xbbbb, 0x2000_0040, 0]);
    let regs = registers(&[("rip", 0x1000_1010), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames)[1],
        (0x2000_0040, Some(sp + 24), FoundBy::Cfi, false)
    );
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
    assert_eq!(frames[1].registers.get_named("rbp"), Some(0xbbbb));
}

/// A hand-built module for the codes no fixture has: image at 0x10000000,
/// .text 0x1000..0x2000, unwind records from 0x3000.
fn synthetic(functions: Vec<[u32; 3]>, records: &[(u32, &[u8])]) -> PeCode {
    let mut image = vec![0xccu8; 0x4000];
    for &(rva, bytes) in records {
        image[rva as usize..rva as usize + bytes.len()].copy_from_slice(bytes);
    }
    let mut functions = functions;
    functions.sort();
    PeCode {
        base: 0x1000_0000,
        image,
        functions,
        text: (0x1000_1000, 0x1000_2000),
        foreign_code: Vec::new(),
    }
}

/// A cold fragment 0x1800..0x1900 chains to its parent 0x1000..0x1100
/// whose prolog is push rbx; push rbp; sub rsp,0x1000 (alloc large, 16-bit
/// form); mov [rsp+0x1018],rsi (save nonvol, into its home slot); the
/// fragment adds
/// sub rsp,0x20 (alloc large, 32-bit form).
#[test]
fn chained_unwind_info_is_followed() {
    // Parent: version 1, prolog 20, 5 slots, no frame register.
    let parent: &[u8] = &[
        0x01, 20, 6, 0x00, //
        20, 0x64, 0x03, 0x02, // save rsi at [frame + 0x203*8]
        12, 0x01, 0x00, 0x02, // alloc large 0x200*8
        2, 0x50, // push rbp
        1, 0x30, // push rbx
    ];
    // Fragment: version 1, CHAININFO, 3 slots, then the parent's entry.
    let fragment: &[u8] = &[
        0x01 | 4 << 3,
        0,
        3,
        0x00,
        0,
        0x11,
        0x20,
        0x00,
        0x00,
        0x00,
        0,
        0, // padding to an even slot count
        0x00,
        0x10,
        0,
        0,
        0x00,
        0x11,
        0,
        0,
        0x00,
        0x30,
        0,
        0,
    ];
    let mut code = synthetic(
        vec![[0x1000, 0x1100, 0x3000], [0x1800, 0x1900, 0x3100]],
        &[(0x3000, parent), (0x3100, fragment)],
    );
    code.foreign_code.push((0x2000_0000, 0x2000_1000));
    let sp = 0x50_0000u64;
    // 0x20 fragment bytes, 0x1000 parent bytes, rbp, rbx, ret, then the
    // home slot holding rsi: the parent's offsets count from its own fixed
    // allocation, so from rsp after the fragment's codes.
    let mut words = vec![0u64; (0x20 + 0x1000) / 8];
    words.extend([0xbbbb, 0xb0b0, 0x2000_0010, 0x5151, 0]);
    let memory = stack(sp, &words);
    let regs = registers(&[("rip", 0x1000_1810), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(frames.len(), 2, "{frames:?}");
    let caller = &frames[1];
    assert_eq!(caller.pc, 0x2000_0010);
    assert_eq!(caller.sp, Some(sp + 0x20 + 0x1000 + 24));
    assert_eq!(caller.registers.get_named("rbp"), Some(0xbbbb));
    assert_eq!(caller.registers.get_named("rbx"), Some(0xb0b0));
    assert_eq!(caller.registers.get_named("rsi"), Some(0x5151));
}

/// A chain that loops on itself is cut off, never followed forever.
#[test]
fn chain_loop_is_bounded() {
    let looping: &[u8] = &[
        0x01 | 4 << 3,
        0,
        1,
        0,
        0,
        0x12, // alloc small 16
        0,
        0, // padding
        0x00,
        0x10,
        0,
        0,
        0x00,
        0x11,
        0,
        0,
        0x00,
        0x30,
        0,
        0,
    ];
    let code = synthetic(vec![[0x1000, 0x1100, 0x3000]], &[(0x3000, looping)]);
    let sp = 0x50_0000u64;
    let memory = stack(sp, &[0; 64]);
    let regs = registers(&[("rip", 0x1000_1010), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    // No PE step: the walk falls back to heuristics, which find nothing.
    assert_eq!(frames.len(), 1);
}

/// An interrupt handler's record starts with PUSH_MACHFRAME (with error
/// code): the interrupted rip and rsp come from the machine frame and that
/// pc is exact.
#[test]
fn machine_frame_gives_exact_interrupted_pc() {
    let handler: &[u8] = &[
        0x01, 6, 3, 0x00, //
        6, 0x22, // alloc small 24
        2, 0x30, // push rbx
        0, 0x1a, // push machframe, error code
        0, 0,
    ];
    let mut code = synthetic(vec![[0x1000, 0x1100, 0x3000]], &[(0x3000, handler)]);
    code.foreign_code.push((0x2000_0000, 0x2000_1000));
    let sp = 0x50_0000u64;
    // 24 bytes, rbx, error code, rip, cs, rflags, rsp, ss.
    let words = [
        0,
        0,
        0,
        0xb0b0,
        0xe,
        0x2000_0123,
        0x33,
        0x246,
        0x7000_0000,
        0x2b,
    ];
    let memory = stack(sp, &words);
    let regs = registers(&[("rip", 0x1000_1020), ("rsp", sp)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames)[1],
        (0x2000_0123, Some(0x7000_0000), FoundBy::Cfi, true)
    );
    assert_eq!(frames[1].registers.get_named("rbx"), Some(0xb0b0));
}

/// Random unwind records: every walk ends, nothing panics.
#[test]
fn random_xdata_never_panics() {
    // xorshift: deterministic without a dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let sp = 0x50_0000u64;
    let words: Vec<u64> = (0..512)
        .map(|i| 0x1000_1000 + (i * 0x37) % 0x1000)
        .collect();
    let memory = stack(sp, &words);
    for round in 0..2000 {
        let mut record = vec![0u8; 0x200];
        for byte in record.iter_mut() {
            *byte = next() as u8;
        }
        // Mostly valid versions, so the codes get exercised.
        if round % 4 != 0 {
            record[0] = (record[0] & 0xf8) | 1;
        }
        let chained = (next() % 0x3f0) as u32;
        let code = synthetic(
            vec![[0x1000, 0x1800, 0x3000], [0x1800, 0x2000, 0x3000 + chained]],
            &[(0x3000, &record)],
        );
        let pc = 0x1000_1000 + next() % 0x1000;
        let regs = registers(&[
            ("rip", pc),
            ("rsp", sp + (next() % 64) * 8),
            ("rbp", sp + (next() % 512) * 8),
        ]);
        let frames = walk(&regs, &memory, &code, &WalkLimits::default());
        assert!(!frames.is_empty() && frames.len() <= 256);
    }
}

/// Little-endian reads for the minidump test; panics are fine in a test.
fn le32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}
fn le64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

/// The exception context (if any) and memory list of a minidump: just
/// enough parsing for these tests (the real reader lives elsewhere).
fn minidump_crash(path: &Path) -> (Option<RegisterSet>, SegmentMemory) {
    let data = std::fs::read(path).unwrap();
    assert_eq!(&data[..4], b"MDMP");
    let count = le32(&data, 8) as usize;
    let directory = le32(&data, 12) as usize;
    let mut registers = None;
    let mut segments = Vec::new();
    for i in 0..count {
        let entry = directory + 12 * i;
        let (kind, rva) = (le32(&data, entry), le32(&data, entry + 8) as usize);
        match kind {
            // ExceptionStream: thread id, pad, MINIDUMP_EXCEPTION (152 bytes),
            // then the context's location.
            6 => {
                let context = le32(&data, rva + 164) as usize;
                // CONTEXT_AMD64: rax..r15 from 0x78, rip at 0xf8.
                let names = [
                    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10",
                    "r11", "r12", "r13", "r14", "r15", "rip",
                ];
                let values: Vec<(&str, u64)> = names
                    .iter()
                    .enumerate()
                    .map(|(n, &name)| (name, le64(&data, context + 0x78 + 8 * n)))
                    .collect();
                registers = Some(self::registers(&values));
            }
            // MemoryListStream: count, then (start, size, rva) descriptors.
            5 => {
                for j in 0..le32(&data, rva) as usize {
                    let d = rva + 4 + 16 * j;
                    let (start, size, at) = (
                        le64(&data, d),
                        le32(&data, d + 8),
                        le32(&data, d + 12) as usize,
                    );
                    segments.push(Segment {
                        address: start,
                        size: u64::from(size),
                        captured: u64::from(size),
                        offset: 0,
                        bytes: Bytes::from_vec(data[at..at + size as usize].to_vec()),
                    });
                }
            }
            _ => {}
        }
    }
    (registers, SegmentMemory::new(segments))
}

/// wine's self-dump of crash.exe: the crashed thread's real stack walks to
/// the frames minidump-stackwalk printed (reference
/// crash_selfdump_cv.stackwalk_syms.txt, frames 0-4), all from unwind
/// tables here where minidump-stackwalk had to scan for frame 1.
#[test]
fn wine_minidump_crash_thread_matches_reference() {
    let Some(exe) = windows_bin("crash.exe") else {
        return;
    };
    let dump = exe.parent().unwrap().join("../dumps/crash_selfdump_cv.dmp");
    let (regs, memory) = minidump_crash(&dump);
    let regs = regs.unwrap();
    let mut code = PeCode::load(&exe);
    // kernel32.dll's range from the dump's module list.
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    let head: Vec<(u64, Option<u64>)> = frames.iter().take(5).map(|f| (f.pc, f.sp)).collect();
    assert_eq!(
        head,
        vec![
            (0x1_4000_1028, Some(0x11fd38)),
            (0x1_4000_1070, Some(0x11fd40)),
            (0x1_4000_108c, Some(0x11fda0)),
            (0x1_4000_12fb, Some(0x11fdd0)),
            (0x7b62_7e49, Some(0x11fe40)),
        ]
    );
    assert!(frames[1..5].iter().all(|f| f.found_by == FoundBy::Cfi));
    // start's pushes restore the reference's rbx, rsi, rdi in frame 4.
    let r = |name: &str| frames[4].registers.get_named(name);
    assert_eq!([r("rbx"), r("rsi"), r("rdi")], [Some(0), Some(0), Some(0)]);
    // Frames 1-3 carry frame 0's non-volatiles (reference frame 0 values).
    assert_eq!(frames[3].registers.get_named("rdi"), Some(0x7b60_dbb4));
    assert_eq!(frames[3].registers.get_named("rsi"), Some(0x12));
}

/// wine's self-dump of threads.exe. minidump-stackwalk reached the
/// threads.exe frames by scanning through kernelbase/ntdll (whose tables
/// this test does not have); from the first threads.exe frame it found,
/// the walk here must reproduce the rest of the reference
/// (threads_selfdump_cv.stackwalk_syms.txt) from the unwind tables.
#[test]
fn wine_threads_minidump_frames_match_reference() {
    let Some(exe) = windows_bin("threads.exe") else {
        return;
    };
    let dump = exe
        .parent()
        .unwrap()
        .join("../dumps/threads_selfdump_cv.dmp");
    let (_, memory) = minidump_crash(&dump);
    let mut code = PeCode::load(&exe);
    code.foreign_code.push((0x7b60_0000, 0x7b79_5000));
    // (pc, sp) up to kernel32's frame, after checking every frame but the
    // first came from the unwind tables.
    let walk_from = |rip: u64, rsp: u64| -> Vec<(u64, u64)> {
        let frames = walk(
            &registers(&[("rip", rip), ("rsp", rsp)]),
            &memory,
            &code,
            &WalkLimits::default(),
        );
        let end = frames.iter().position(|f| f.pc == 0x7b62_7e49).unwrap();
        assert!(frames[1..=end].iter().all(|f| f.found_by == FoundBy::Cfi));
        frames[..=end]
            .iter()
            .map(|f| (f.pc, f.sp.unwrap()))
            .collect()
    };
    // Thread 0 (crashed), reference frames 4-7: raise_it <- do_work <-
    // start (eight pushes) <- kernel32.
    assert_eq!(
        walk_from(0x1_4000_1096, 0x11fd30),
        vec![
            (0x1_4000_1096, 0x11fd30),
            (0x1_4000_10ae, 0x11fd70),
            (0x1_4000_1416, 0x11fda0),
            (0x7b62_7e49, 0x11fe40),
        ]
    );
    let frames = walk(
        &registers(&[("rip", 0x1_4000_1096), ("rsp", 0x11fd30)]),
        &memory,
        &code,
        &WalkLimits::default(),
    );
    // start's pops give the reference's frame 7 registers, all zero.
    let r = |name: &str| frames[3].registers.get_named(name);
    for name in ["rbx", "rsi", "rdi", "rbp", "r12", "r13", "r14", "r15"] {
        assert_eq!(r(name), Some(0), "{name}");
    }
    // Thread 1, reference frames 5-9: deep <- deep <- deep <- worker <-
    // kernel32.
    assert_eq!(
        walk_from(0x1_4000_1031, 0x149fd80),
        vec![
            (0x1_4000_1031, 0x149fd80),
            (0x1_4000_1014, 0x149fdb0),
            (0x1_4000_1014, 0x149fde0),
            (0x1_4000_104e, 0x149fe10),
            (0x7b62_7e49, 0x149fe40),
        ]
    );
}

/// An unreadable record (version 3) gives no PE step: the walker falls
/// back to the frame-pointer chain.
#[test]
fn bad_record_falls_back_to_frame_pointer() {
    let record: &[u8] = &[0x03, 0, 1, 0, 0, 0x30, 0, 0];
    let mut code = synthetic(vec![[0x1000, 0x1100, 0x3000]], &[(0x3000, record)]);
    code.foreign_code.push((0x2000_0000, 0x2000_1000));
    let sp = 0x50_0000u64;
    // rbp = sp + 16: frame record (caller rbp, return address).
    let memory = stack(sp, &[0, 0, 0x7777, 0x2000_0040, 0]);
    let regs = registers(&[("rip", 0x1000_1010), ("rsp", sp), ("rbp", sp + 16)]);
    let frames = walk(&regs, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames)[1],
        (0x2000_0040, Some(sp + 32), FoundBy::FramePointer, false)
    );
}
