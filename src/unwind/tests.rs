//! Synthetic stacks with exactly known frames for the paths the real x86_64
//! cores do not reach: aarch64 and i386 frame records, the trampoline
//! byte patterns, call-instruction decoding and termination.

use super::*;
use crate::memory::{Bytes, Segment, SegmentMemory};

/// Code at known ranges with known bytes, and optionally a `.debug_frame`
/// (linked at 0, no load bias).
struct FakeCode {
    ranges: Vec<(u64, u64)>,
    bytes: SegmentMemory,
    debug_frame: Option<Vec<u8>>,
}

impl FakeCode {
    fn new(ranges: &[(u64, u64)], code: &[(u64, &[u8])]) -> Self {
        FakeCode {
            ranges: ranges.to_vec(),
            bytes: memory(code),
            debug_frame: None,
        }
    }
}

impl CodeInfo for FakeCode {
    fn unwind_tables(&self, _pc: u64) -> Option<UnwindTables<'_>> {
        let data = self.debug_frame.as_deref()?;
        Some(UnwindTables {
            debug_frame: Some(Section { address: 0, data }),
            ..UnwindTables::default()
        })
    }
    fn is_code(&self, pc: u64) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= pc && pc < e)
    }
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        let memory: &dyn Memory = &self.bytes;
        memory.read_available(address, buf)
    }
}

fn memory(parts: &[(u64, &[u8])]) -> SegmentMemory {
    SegmentMemory::new(
        parts
            .iter()
            .map(|(address, data)| Segment {
                address: *address,
                size: data.len() as u64,
                captured: data.len() as u64,
                offset: 0,
                bytes: Bytes::from_vec(data.to_vec()),
            })
            .collect(),
    )
}

/// Little-endian words of `size` bytes.
fn words(size: usize, values: &[u64]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| v.to_le_bytes()[..size].to_vec())
        .collect()
}

fn summary(frames: &[RawFrame]) -> Vec<(u64, Option<u64>, FoundBy, bool)> {
    frames
        .iter()
        .map(|f| (f.pc, f.sp, f.found_by, f.pc_is_exact))
        .collect()
}

const BL: [u8; 4] = 0x9400_0010u32.to_le_bytes();

#[test]
fn aarch64_leaf_uses_lr_then_frame_records() {
    // Code 0x400000..0x401000; return addresses follow BL instructions.
    let code_bytes: Vec<u8> = BL.repeat(0x400);
    let code = FakeCode::new(&[(0x40_0000, 0x40_1000)], &[(0x40_0000, &code_bytes)]);
    // Two frame records: at 0x7000 (-> 0x7040, lr 0x400200) and 0x7040
    // (-> 0, lr 0x400300).
    let mut stack = vec![0u8; 0x80];
    stack[0x00..0x10].copy_from_slice(&words(8, &[0x7040, 0x40_0200]));
    stack[0x40..0x50].copy_from_slice(&words(8, &[0, 0x40_0300]));
    let memory = memory(&[(0x7000, &stack)]);
    let mut registers = RegisterSet::new(Arch::Aarch64);
    registers.set(32, 0x40_0104); // pc, in a leaf
    registers.set(31, 0x6ff0); // sp
    registers.set(29, 0x7000); // x29: the caller's frame record
    registers.set(30, 0x40_0108); // lr: the leaf's return address
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        [
            (0x40_0104, Some(0x6ff0), FoundBy::Context, true),
            (0x40_0108, Some(0x6ff0), FoundBy::FramePointer, false),
            (0x40_0200, Some(0x7010), FoundBy::FramePointer, false),
            (0x40_0300, Some(0x7050), FoundBy::FramePointer, false),
        ]
    );
}

#[test]
fn aarch64_lr_already_in_the_frame_record_is_not_repeated() {
    let code_bytes: Vec<u8> = BL.repeat(0x400);
    let code = FakeCode::new(&[(0x40_0000, 0x40_1000)], &[(0x40_0000, &code_bytes)]);
    let stack = words(8, &[0, 0x40_0200]);
    let memory = memory(&[(0x7000, &stack)]);
    let mut registers = RegisterSet::new(Arch::Aarch64);
    registers.set(32, 0x40_0104);
    registers.set(31, 0x6fe0);
    registers.set(29, 0x7000);
    // The function saved lr in its own record: lr == [x29 + 8].
    registers.set(30, 0x40_0200);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        [
            (0x40_0104, Some(0x6fe0), FoundBy::Context, true),
            (0x40_0200, Some(0x7010), FoundBy::FramePointer, false),
        ]
    );
}

#[test]
fn aarch64_signed_kernel_return_addresses_stay_in_the_upper_half() {
    // Kernel text at 0xffff_8000_1000_0000; the frame records hold return
    // addresses signed with PAC bits (bit 55 set, code in bits 48..54 and
    // the top byte), as a kernel built with pointer authentication saves.
    let text = 0xffff_8000_1000_0000u64;
    let code_bytes: Vec<u8> = BL.repeat(0x400);
    let code = FakeCode::new(&[(text, text + 0x1000)], &[(text, &code_bytes)]);
    let stack_base = 0xffff_8000_2000_7000u64;
    let mut stack = vec![0u8; 0x80];
    stack[0x00..0x10].copy_from_slice(&words(8, &[stack_base + 0x40, 0x71bc_8000_1000_0200]));
    stack[0x40..0x50].copy_from_slice(&words(8, &[0, 0x12ff_8000_1000_0300]));
    let memory = memory(&[(stack_base, &stack)]);
    let mut registers = RegisterSet::new(Arch::Aarch64);
    registers.set(32, text + 0x104);
    registers.set(31, stack_base - 0x10);
    registers.set(29, stack_base);
    registers.set(30, 0x4a80_8000_1000_0108);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    let pcs: Vec<u64> = frames.iter().map(|f| f.pc).collect();
    assert_eq!(
        pcs,
        [text + 0x104, text + 0x108, text + 0x200, text + 0x300]
    );
}

#[test]
fn i386_ebp_chain() {
    // `call rel32` before each return address.
    let code_bytes = vec![0xe8u8; 0x1000];
    let code = FakeCode::new(&[(0x0804_8000, 0x0804_9000)], &[(0x0804_8000, &code_bytes)]);
    // ebp 0xffff0010 -> [0xffff0030, ret 0x08048123]; 0xffff0030 -> [0, ret
    // 0x08048456]; then ebp 0 ends the chain.
    let mut stack = vec![0u8; 0x40];
    stack[0x10..0x18].copy_from_slice(&words(4, &[0xffff_0030, 0x0804_8123]));
    stack[0x30..0x38].copy_from_slice(&words(4, &[0, 0x0804_8456]));
    let memory = memory(&[(0xffff_0000, &stack)]);
    let mut registers = RegisterSet::new(Arch::X86);
    registers.set(8, 0x0804_8010);
    registers.set(4, 0xffff_0000);
    registers.set(5, 0xffff_0010);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        [
            (0x0804_8010, Some(0xffff_0000), FoundBy::Context, true),
            (0x0804_8123, Some(0xffff_0018), FoundBy::FramePointer, false),
            (0x0804_8456, Some(0xffff_0038), FoundBy::FramePointer, false),
        ]
    );
    assert_eq!(frames[2].registers.fp(), Some(0));
}

#[test]
fn aarch64_sigreturn_trampoline_restores_the_interrupted_registers() {
    let trampoline: Vec<u8> = [0xd280_1168u32, 0xd400_0001]
        .iter()
        .flat_map(|i| i.to_le_bytes())
        .collect();
    let code = FakeCode::new(
        &[(0x40_0000, 0x40_1000), (0x7f00_0000, 0x7f00_1000)],
        &[(0x7f00_0800, &trampoline)],
    );
    // rt_sigframe at sp: siginfo (128), ucontext with uc_mcontext at 176:
    // fault_address, x0..x30, sp, pc.
    let sp = 0x1_0000u64;
    let mut frame = vec![0u8; 128 + 176 + 8 + 33 * 8 + 16];
    let regs_at = 128 + 176 + 8;
    for n in 0..31u64 {
        let at = regs_at + n as usize * 8;
        frame[at..at + 8].copy_from_slice(&(0x1000 + n).to_le_bytes());
    }
    frame[regs_at + 31 * 8..regs_at + 32 * 8].copy_from_slice(&0x2_0000u64.to_le_bytes());
    frame[regs_at + 32 * 8..regs_at + 33 * 8].copy_from_slice(&0x40_0abcu64.to_le_bytes());
    let memory = memory(&[(sp, &frame)]);
    // Frame 0 is a handler (a leaf) returning through lr into the trampoline.
    let mut registers = RegisterSet::new(Arch::Aarch64);
    registers.set(32, 0x7f00_0100);
    registers.set(31, sp);
    registers.set(30, 0x7f00_0800);
    let limits = WalkLimits {
        max_frames: 3,
        max_scan_words: 0,
    };
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(
        summary(&frames),
        [
            (0x7f00_0100, Some(sp), FoundBy::Context, true),
            (0x7f00_0800, Some(sp), FoundBy::FramePointer, false),
            (0x40_0abc, Some(0x2_0000), FoundBy::Context, true),
        ]
    );
    assert_eq!(frames[2].registers.get(0), Some(0x1000));
    assert_eq!(frames[2].registers.get(29), Some(0x1000 + 29));
    assert_eq!(frames[2].registers.get(30), Some(0x1000 + 30));
}

#[test]
fn i386_sigreturn_trampolines_restore_the_sigcontext() {
    // rt_sigreturn (`mov $173,%eax; int $0x80`) and sigreturn (`pop %eax;
    // mov $119,%eax; int $0x80`).
    let rt: &[u8] = &[0xb8, 0xad, 0x00, 0x00, 0x00, 0xcd, 0x80];
    let plain: &[u8] = &[0x58, 0xb8, 0x77, 0x00, 0x00, 0x00, 0xcd, 0x80];
    for (trampoline, sigcontext_offset) in [(rt, 160usize), (plain, 4usize)] {
        let code = FakeCode::new(&[(0x0804_8000, 0x0804_9000)], &[(0x0804_8800, trampoline)]);
        // gs fs es ds edi esi ebp esp ebx edx ecx eax trapno err eip cs eflags
        let sigcontext = words(
            4,
            &[
                0x63,
                0,
                0x2b,
                0x2b,
                7,
                6,
                0xbeef_0000,
                0xbeef_0100,
                3,
                2,
                1,
                0,
                14,
                0,
                0x0804_8abc,
                0x23,
                0x246,
            ],
        );
        let sp = 0xbeef_0000u64 - 0x400;
        let mut stack = vec![0u8; 0x200];
        stack[sigcontext_offset..sigcontext_offset + sigcontext.len()].copy_from_slice(&sigcontext);
        let memory = memory(&[(sp, &stack)]);
        // Frame 0 stopped at the trampoline's first instruction.
        let mut registers = RegisterSet::new(Arch::X86);
        registers.set(8, 0x0804_8800);
        registers.set(4, sp);
        registers.set(5, 0);
        let limits = WalkLimits {
            max_frames: 2,
            max_scan_words: 0,
        };
        let frames = walk(&registers, &memory, &code, &limits);
        assert_eq!(
            summary(&frames),
            [
                (0x0804_8800, Some(sp), FoundBy::Context, true),
                (0x0804_8abc, Some(0xbeef_0100), FoundBy::Context, true),
            ]
        );
        let r = &frames[1].registers;
        assert_eq!(
            (r.get(5), r.get(3), r.get(0), r.get(9), r.get(45)),
            (Some(0xbeef_0000), Some(3), Some(0), Some(0x246), Some(0x63))
        );
    }
}

#[test]
fn x86_call_forms_before_a_return_address() {
    // Each case: the bytes ending at the return address 0x1100.
    let calls: &[&[u8]] = &[
        &[0xe8, 0x00, 0xff, 0xff, 0xff],             // call rel32 -> 0x1000
        &[0xff, 0xd0],                               // call *%rax
        &[0x41, 0xff, 0xd3],                         // call *%r11
        &[0xff, 0x50, 0x10],                         // call *0x10(%rax)
        &[0xff, 0x54, 0x24, 0x08],                   // call *0x8(%rsp)
        &[0xff, 0x15, 0x10, 0x20, 0x00, 0x00],       // call *0x2010(%rip)
        &[0xff, 0x90, 0x00, 0x01, 0x00, 0x00],       // call *0x100(%rax)
        &[0xff, 0x14, 0x25, 0x00, 0x10, 0x00, 0x00], // call *0x1000 (SIB, no base)
        &[0xff, 0x94, 0xc8, 0x00, 0x01, 0x00, 0x00], // call *0x100(%rax,%rcx,8)
        &[0x0f, 0x05],                               // syscall (wine's dispatcher)
    ];
    let not_calls: &[&[u8]] = &[
        &[0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90], // nops
        &[0xff, 0x30],                                     // push (%rax): ff /6
        &[0xff, 0xe0],                                     // jmp *%rax: ff /4
        &[0xff, 0x50],                                     // truncated ff /2 disp8
        &[0xe8, 0x00, 0x00, 0x00, 0x70],                   // call into non-code
    ];
    let check = |bytes: &[u8]| {
        let mut code_bytes = vec![0x90u8; 0x10];
        code_bytes[0x10 - bytes.len()..].copy_from_slice(bytes);
        let code = FakeCode::new(&[(0x1000, 0x2000)], &[(0x1100 - 0x10, &code_bytes)]);
        scan::follows_call(Arch::X86_64, 0x1100, &code)
    };
    for bytes in calls {
        assert_eq!(check(bytes), Some(true), "{bytes:02x?}");
    }
    for bytes in not_calls {
        assert_eq!(check(bytes), Some(false), "{bytes:02x?}");
    }
    // Code that cannot be read is not judged.
    let code = FakeCode::new(&[(0x1000, 0x2000)], &[]);
    assert_eq!(scan::follows_call(Arch::X86_64, 0x1100, &code), None);
    // sysenter-era i386 code has no syscall instruction.
    let code = FakeCode::new(
        &[(0x1000, 0x2000)],
        &[(0x10f8, &[0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x0f, 0x05])],
    );
    assert_eq!(scan::follows_call(Arch::X86, 0x1100, &code), Some(false));
}

#[test]
fn aarch64_call_forms_before_a_return_address() {
    let check = |instruction: u32| {
        let code = FakeCode::new(&[(0x1000, 0x2000)], &[(0x10fc, &instruction.to_le_bytes())]);
        scan::follows_call(Arch::Aarch64, 0x1100, &code)
    };
    assert_eq!(check(0x97ff_ffc0), Some(true)); // bl -0x100
    assert_eq!(check(0xd63f_0020), Some(true)); // blr x1
    assert_eq!(check(0xd61f_0020), Some(false)); // br x1
    assert_eq!(check(0xd65f_03c0), Some(false)); // ret
    assert_eq!(check(0x1400_0010), Some(false)); // b
}

/// Code at 0x1000..0x2000 where 0x1100 follows `call 0x1100`.
fn code_with_one_call() -> FakeCode {
    let mut code_bytes = vec![0u8; 0x1000];
    code_bytes[0xfb] = 0xe8;
    FakeCode::new(&[(0x1000, 0x2000)], &[(0x1000, &code_bytes)])
}

#[test]
fn a_frame_pointer_loop_ends_the_walk() {
    let code = code_with_one_call();
    // rbp points at itself: the caller would have the same fp but a higher
    // sp; the next step finds fp below sp and the scan finds the same words.
    let stack = words(8, &[0x8000, 0x1100, 0x8000, 0x1100]);
    let memory = memory(&[(0x8000, &stack)]);
    let mut registers = RegisterSet::new(Arch::X86_64);
    registers.set(16, 0x1010);
    registers.set(7, 0x7ff0);
    registers.set(6, 0x8000);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        [
            (0x1010, Some(0x7ff0), FoundBy::Context, true),
            (0x1100, Some(0x8010), FoundBy::FramePointer, false),
            (0x1100, Some(0x8020), FoundBy::Scan, false),
        ]
    );
}

#[test]
fn walks_stop_at_max_frames() {
    let code = code_with_one_call();
    // A long stack of return addresses only: every word scans as a frame.
    let stack = words(8, &[0x1100; 512]);
    let memory = memory(&[(0x8000, &stack)]);
    let mut registers = RegisterSet::new(Arch::X86_64);
    registers.set(16, 0x1010);
    registers.set(7, 0x8000);
    let limits = WalkLimits {
        max_frames: 10,
        max_scan_words: 4,
    };
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(frames.len(), 10);
    assert!(frames[1..].iter().all(|f| f.found_by == FoundBy::Scan));
}

#[test]
fn garbage_stacks_never_panic() {
    // Pseudo-random stack words, some pointing into code, for every arch.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let code_bytes: Vec<u8> = (0..0x1000)
        .map(|i| [0xe8, 0xff, 0x15, 0x94][i % 4])
        .collect();
    let code = FakeCode::new(&[(0x1000, 0x2000)], &[(0x1000, &code_bytes)]);
    for arch in [Arch::X86_64, Arch::X86, Arch::Aarch64, Arch::Arm] {
        for _ in 0..50 {
            let stack: Vec<u64> = (0..256)
                .map(|_| match next() % 4 {
                    0 => 0x1000 + next() % 0x1000,
                    1 => 0x8000 + next() % 0x800,
                    _ => next(),
                })
                .collect();
            let memory = memory(&[(0x8000, &words(8, &stack))]);
            let mut registers = RegisterSet::new(arch);
            registers.set(RegisterSet::pc_number(arch), 0x1000 + next() % 0x1000);
            registers.set(RegisterSet::sp_number(arch), 0x8000 + next() % 0x800);
            registers.set(RegisterSet::fp_number(arch), 0x8000 + next() % 0x800);
            registers.set(30, next());
            let frames = walk(&registers, &memory, &code, &WalkLimits::default());
            assert!(!frames.is_empty() && frames.len() <= 256);
        }
    }
}

/// A `.debug_frame` (DWARF 32-bit, version 1) for x86_64 with one CIE and
/// two FDEs: 0x1000..0x1100 a `push %rbp; mov %rsp,%rbp` prologue, and
/// 0x1100..0x1200 a CFA expression `*(rsp + 16)` with the return address
/// described by the expression `rsp + 8`.
fn debug_frame() -> Vec<u8> {
    let mut cie = vec![0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16];
    // def_cfa rsp+8; offset rip at cfa-8
    cie.extend_from_slice(&[0x0c, 7, 8, 0x90, 1]);
    let mut section = Vec::new();
    let entry = |section: &mut Vec<u8>, mut body: Vec<u8>| {
        while !(body.len() + 4).is_multiple_of(8) {
            body.push(0); // DW_CFA_nop
        }
        section.extend_from_slice(&(body.len() as u32).to_le_bytes());
        section.extend_from_slice(&body);
    };
    entry(&mut section, cie);
    let fde = |start: u64, instructions: &[u8]| {
        let mut body = 0u32.to_le_bytes().to_vec(); // CIE at offset 0
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&0x100u64.to_le_bytes());
        body.extend_from_slice(instructions);
        body
    };
    // advance 1; def_cfa_offset 16; offset rbp at cfa-16; advance 3;
    // def_cfa_register rbp
    entry(
        &mut section,
        fde(0x1000, &[0x41, 0x0e, 0x10, 0x86, 0x02, 0x43, 0x0d, 0x06]),
    );
    // def_cfa_expression { breg7 16; deref }; expression rip { breg7 8 }
    entry(
        &mut section,
        fde(
            0x1100,
            &[0x0f, 3, 0x77, 0x10, 0x06, 0x10, 16, 2, 0x77, 0x08],
        ),
    );
    section
}

#[test]
fn debug_frame_rules_and_expressions() {
    let mut code = code_with_one_call();
    code.debug_frame = Some(debug_frame());
    let memory_at = |words_at: &[u64]| memory(&[(0x8000, &words(8, words_at))]);

    // At entry (pc 0x1000) the return address is at [rsp].
    let memory = memory_at(&[0x1100, 0, 0]);
    let mut registers = RegisterSet::new(Arch::X86_64);
    registers.set(16, 0x1000);
    registers.set(7, 0x8000);
    registers.set(6, 0x7777);
    registers.set(3, 0x3333); // rbx, callee-saved: kept
    registers.set(0, 0xaaaa); // rax, caller-saved: dropped
    let limits = WalkLimits {
        max_frames: 2,
        max_scan_words: 0,
    };
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(
        summary(&frames),
        [
            (0x1000, Some(0x8000), FoundBy::Context, true),
            (0x1100, Some(0x8008), FoundBy::Cfi, false),
        ]
    );
    let caller = &frames[1].registers;
    assert_eq!(
        (caller.fp(), caller.get(3), caller.get(0)),
        (Some(0x7777), Some(0x3333), None)
    );

    // After the prologue (pc 0x1010): CFA = rbp + 16, rbp saved at CFA-16.
    let memory = memory_at(&[0x9000, 0x1100, 0]);
    registers.set(16, 0x1010);
    registers.set(7, 0x7fe0);
    registers.set(6, 0x8000);
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(
        summary(&frames),
        [
            (0x1010, Some(0x7fe0), FoundBy::Context, true),
            (0x1100, Some(0x8010), FoundBy::Cfi, false),
        ]
    );
    assert_eq!(frames[1].registers.fp(), Some(0x9000));

    // Expressions (pc 0x1180): CFA = [rsp + 16], rip = [rsp + 8].
    let memory = memory_at(&[0, 0x10fb + 5, 0x8400]);
    registers.set(16, 0x1180);
    registers.set(7, 0x8000);
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(
        summary(&frames),
        [
            (0x1180, Some(0x8000), FoundBy::Context, true),
            (0x1100, Some(0x8400), FoundBy::Cfi, false),
        ]
    );
}

#[test]
fn corrupted_debug_frame_never_panics() {
    let original = debug_frame();
    let mut registers = RegisterSet::new(Arch::X86_64);
    registers.set(7, 0x8000);
    registers.set(6, 0x8000);
    let memory = memory(&[(0x8000, &words(8, &[0x8000, 0x1100, 0x1180, 0x1100]))]);
    for at in 0..original.len() {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut code = code_with_one_call();
            let mut corrupted = original.clone();
            corrupted[at] = value;
            code.debug_frame = Some(corrupted);
            for pc in [0x1000, 0x1010, 0x1180] {
                registers.set(16, pc);
                let frames = walk(&registers, &memory, &code, &WalkLimits::default());
                assert!(!frames.is_empty() && frames.len() <= 4);
            }
        }
    }
}

#[test]
fn a_call_through_a_null_pointer_keeps_the_calling_function() {
    let code = code_with_one_call();
    // [sp] is the return address into the caller; rbp still points at the
    // caller's own frame record, which returns to 0x1100 at a higher sp.
    let stack = words(8, &[0x1100, 0, 0x9000, 0x1100]);
    let memory = memory(&[(0x8000, &stack)]);
    let mut registers = RegisterSet::new(Arch::X86_64);
    registers.set(16, 0);
    registers.set(7, 0x8000);
    registers.set(6, 0x8010);
    let limits = WalkLimits {
        max_frames: 3,
        max_scan_words: 0,
    };
    let frames = walk(&registers, &memory, &code, &limits);
    assert_eq!(
        summary(&frames),
        [
            (0, Some(0x8000), FoundBy::Context, true),
            (0x1100, Some(0x8008), FoundBy::Scan, false),
            (0x1100, Some(0x8020), FoundBy::FramePointer, false),
        ]
    );
}

/// The `crate::` modules that the source files of `src/<dir>` refer to.
fn crate_modules_used_by(dir: &str) -> std::collections::BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(dir);
    let mut used = std::collections::BTreeSet::new();
    let mut pending = vec![root];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code_lines = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            for line in code_lines {
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    // A group on one line names several modules at once.
                    let names = match rest.strip_prefix('{') {
                        Some(group) => group.split('}').next().unwrap_or(""),
                        None => rest.split(',').next().unwrap_or(""),
                    };
                    for name in names.split(',') {
                        let name: String = name
                            .trim_start()
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        // This file spells the prefix in strings, too.
                        if !name.is_empty() {
                            used.insert(name);
                        }
                    }
                }
            }
        }
    }
    used
}

#[test]
fn unwinding_sits_below_symbols_and_memory_at_the_bottom() {
    // Data flows one way: symbols feeds the unwinder through unwind's
    // traits, so unwind never reaches back up into symbols. byte_reader is
    // a leaf like memory.
    let unwind: Vec<String> = crate_modules_used_by("unwind").into_iter().collect();
    assert_eq!(unwind, ["byte_reader", "memory", "model", "unwind"]);
    // memory names only itself.
    let memory: Vec<String> = crate_modules_used_by("memory")
        .into_iter()
        .filter(|m| m != "memory")
        .collect();
    assert!(memory.is_empty(), "memory imports {memory:?}");
}

/// x86 code whose every function has the same frame data.
struct FrameDataCode {
    code: FakeCode,
    info: WinFrameInfo,
}

impl CodeInfo for FrameDataCode {
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>> {
        self.code.unwind_tables(pc)
    }
    fn is_code(&self, pc: u64) -> bool {
        self.code.is_code(pc)
    }
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        self.code.read_code(address, buf)
    }
    fn win_frame_info(&self, _pc: u64) -> Option<WinFrameInfo> {
        Some(self.info.clone())
    }
}

#[test]
fn a_zero_return_address_from_frame_data_ends_the_walk() {
    // `call 0x08048123` (e8 rel32 0) right before 0x08048123, a return
    // address lying on the stack beyond the frame data's reach.
    let mut code_bytes = vec![0u8; 0x1000];
    code_bytes[0x11e] = 0xe8;
    let code = FrameDataCode {
        code: FakeCode::new(&[(0x0804_8000, 0x0804_9000)], &[(0x0804_8000, &code_bytes)]),
        info: WinFrameInfo {
            parameter_size: 0,
            saved_register_size: 0,
            local_size: 0,
            program: None,
            allocates_base_pointer: false,
        },
    };
    // The return-address slot at esp holds 0 (the thread's first frame);
    // 0x08048123 lies 0x20 bytes up, where only scanning would find it.
    let mut stack = vec![0u8; 0x40];
    stack[0x20..0x24].copy_from_slice(&words(4, &[0x0804_8123]));
    let memory = memory(&[(0xffff_0000, &stack)]);
    let mut registers = RegisterSet::new(Arch::X86);
    registers.set(8, 0x0804_8010);
    registers.set(4, 0xffff_0000);
    registers.set(5, 0);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(
        summary(&frames),
        [(0x0804_8010, Some(0xffff_0000), FoundBy::Context, true)]
    );
    // Without frame data the same stack is scanned.
    let frames = walk(&registers, &memory, &code.code, &WalkLimits::default());
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].pc, 0x0804_8123);
    assert_eq!(frames[1].found_by, FoundBy::Scan);
}
