//! The stack walker against real cores and their real binaries, with eu-stack's
//! output as the oracle.
//!
//! The ELF core reader and the symbols layer are written separately, so this
//! file carries a small core loader (PT_LOADs, NT_PRSTATUS) and a small
//! `CodeInfo` over the module files: test scaffolding only.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ckdump::memory::{Bytes, Memory, Segment, SegmentMemory};
use ckdump::model::{Arch, RegisterSet};
use ckdump::unwind::{
    CodeInfo, FoundBy, RawFrame, Section, UnwindTables, Unwinder, WalkLimits, walk,
};
use common::shared;
use goblin::elf::Elf;
use goblin::elf::program_header::{PF_X, PT_LOAD};

fn linux_cores() -> Option<PathBuf> {
    common::shared_path("generated/linux-cores")
}

/// Decompresses a .zst or .bz2 fixture into a temporary file and maps it.
fn decompress(path: &Path) -> Bytes {
    Bytes::map_file(common::decompressed(path).as_file()).unwrap()
}

/// What the test needs of a core: memory, executable ranges and threads.
struct Core {
    memory: SegmentMemory,
    executable: Vec<(u64, u64)>,
    /// (tid, registers) in note order.
    threads: Vec<(u64, RegisterSet)>,
}

/// user_regs_struct (x86_64) in order, as DWARF numbers; 200 = orig_rax.
const X86_64_PRSTATUS: [u16; 27] = [
    15, 14, 13, 12, 6, 3, 11, 10, 9, 8, 0, 2, 1, 4, 5, 200, 16, 51, 49, 7, 52, 58, 59, 53, 50, 54,
    55,
];
/// user_regs_struct (i386): ebx ecx edx esi edi ebp eax ds es fs gs
/// orig_eax eip cs eflags esp ss.
const X86_PRSTATUS: [u16; 17] = [3, 1, 2, 6, 7, 5, 0, 43, 40, 44, 45, 200, 8, 41, 9, 4, 42];

fn load_core(bytes: &Bytes) -> Core {
    let elf = Elf::parse(bytes).unwrap();
    let arch = match elf.header.e_machine {
        goblin::elf::header::EM_X86_64 => Arch::X86_64,
        goblin::elf::header::EM_386 => Arch::X86,
        goblin::elf::header::EM_AARCH64 => Arch::Aarch64,
        other => panic!("machine {other}"),
    };
    let mut segments = Vec::new();
    let mut executable = Vec::new();
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD) {
        segments.push(Segment {
            address: ph.p_vaddr,
            size: ph.p_memsz,
            captured: ph.p_filesz,
            offset: ph.p_offset,
            bytes: bytes.clone(),
        });
        if ph.p_flags & PF_X != 0 {
            executable.push((ph.p_vaddr, ph.p_vaddr + ph.p_memsz));
        }
    }
    let mut threads = Vec::new();
    for note in elf.iter_note_headers(bytes).into_iter().flatten().flatten() {
        if note.n_type != goblin::elf::note::NT_PRSTATUS {
            continue;
        }
        let desc = note.desc;
        let word = |at: usize, size: usize| -> u64 {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(&desc[at..at + size]);
            u64::from_le_bytes(b)
        };
        let mut registers = RegisterSet::new(arch);
        let tid = match arch {
            Arch::X86_64 => {
                for (i, &n) in X86_64_PRSTATUS.iter().enumerate() {
                    registers.set(n, word(112 + i * 8, 8));
                }
                word(32, 4)
            }
            Arch::X86 => {
                for (i, &n) in X86_PRSTATUS.iter().enumerate() {
                    registers.set(n, word(72 + i * 4, 4));
                }
                word(24, 4)
            }
            Arch::Aarch64 => {
                // x0..x30, sp, pc, pstate
                for n in 0..=32u16 {
                    registers.set(n, word(112 + usize::from(n) * 8, 8));
                }
                word(32, 4)
            }
            Arch::Arm => unreachable!(),
        };
        threads.push((tid, registers));
    }
    Core {
        memory: SegmentMemory::new(segments),
        executable,
        threads,
    }
}

/// A module file mapped at a base, with the sections the walker needs.
struct ModuleFile {
    bias: u64,
    start: u64,
    end: u64,
    data: Bytes,
    /// name -> (sh_addr, file offset, size)
    sections: HashMap<String, (u64, usize, usize)>,
    /// (p_vaddr, p_filesz, p_offset, executable)
    loads: Vec<(u64, u64, u64, bool, u64)>,
    with_cfi: bool,
}

impl ModuleFile {
    fn open(path: &Path, base: u64, with_cfi: bool) -> Self {
        let data = Bytes::map_file(&std::fs::File::open(path).unwrap()).unwrap();
        Self::from_bytes(data, base, with_cfi)
    }

    fn from_bytes(data: Bytes, base: u64, with_cfi: bool) -> Self {
        let elf = Elf::parse(&data).unwrap();
        let loads: Vec<_> = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| {
                (
                    p.p_vaddr,
                    p.p_filesz,
                    p.p_offset,
                    p.p_flags & PF_X != 0,
                    p.p_memsz,
                )
            })
            .collect();
        let first = loads.iter().map(|l| l.0).min().unwrap();
        let last = loads.iter().map(|l| l.0 + l.4).max().unwrap();
        // PIE and shared objects link at 0: the bias is the base.
        let bias = base.wrapping_sub(first & !0xfff);
        let mut sections = HashMap::new();
        for sh in &elf.section_headers {
            if let Some(name) = elf.shdr_strtab.get_at(sh.sh_name) {
                sections.insert(
                    name.to_string(),
                    (sh.sh_addr, sh.sh_offset as usize, sh.sh_size as usize),
                );
            }
        }
        ModuleFile {
            bias,
            start: bias.wrapping_add(first),
            end: bias.wrapping_add(last),
            data: data.clone(),
            sections,
            loads,
            with_cfi,
        }
    }

    fn section(&self, name: &str) -> Option<Section<'_>> {
        let &(address, offset, size) = self.sections.get(name)?;
        Some(Section {
            address,
            data: self.data.get(offset..offset + size)?,
        })
    }
}

struct TestCode<'a> {
    modules: Vec<ModuleFile>,
    core: &'a Core,
    /// Withhold .eh_frame_hdr so lookups go through the walker's own index.
    without_hdr: bool,
}

impl TestCode<'_> {
    fn module(&self, pc: u64) -> Option<&ModuleFile> {
        self.modules.iter().find(|m| m.start <= pc && pc < m.end)
    }
}

impl CodeInfo for TestCode<'_> {
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>> {
        let m = self.module(pc)?;
        let cfi = |name| m.section(name).filter(|_| m.with_cfi);
        Some(UnwindTables {
            load_bias: m.bias,
            eh_frame: cfi(".eh_frame"),
            eh_frame_hdr: cfi(".eh_frame_hdr").filter(|_| !self.without_hdr),
            debug_frame: cfi(".debug_frame"),
            text: m.section(".text"),
            got: m.section(".got"),
        })
    }

    fn is_code(&self, pc: u64) -> bool {
        if let Some(m) = self.module(pc) {
            let at = pc.wrapping_sub(m.bias);
            return m.loads.iter().any(|l| l.3 && l.0 <= at && at < l.0 + l.4);
        }
        self.core
            .executable
            .iter()
            .any(|&(start, end)| start <= pc && pc < end)
    }

    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        if let Some(m) = self.module(address) {
            let at = address.wrapping_sub(m.bias);
            if let Some(l) = m.loads.iter().find(|l| l.0 <= at && at < l.0 + l.1) {
                let offset = (l.2 + (at - l.0)) as usize;
                let n = buf.len().min((l.0 + l.1 - at) as usize);
                if let Some(src) = m.data.get(offset..offset + n) {
                    buf[..n].copy_from_slice(src);
                    return n;
                }
            }
        }
        let memory: &dyn Memory = &self.core.memory;
        memory.read_available(address, buf)
    }
}

/// Module bases from each core's NT_FILE note (reference/*.eu-readelf-n.txt).
struct Bases {
    crashme: u64,
    libc: u64,
    ld: u64,
}

fn code_for<'a>(core: &'a Core, dir: &Path, bases: &Bases, crashme_cfi: bool) -> TestCode<'a> {
    code_with(core, dir, bases, crashme_cfi, true)
}

fn code_with<'a>(
    core: &'a Core,
    dir: &Path,
    bases: &Bases,
    crashme_cfi: bool,
    libc_cfi: bool,
) -> TestCode<'a> {
    TestCode {
        modules: vec![
            ModuleFile::open(&dir.join("crashme"), bases.crashme, crashme_cfi),
            ModuleFile::open(&dir.join("libs/libc.so.6"), bases.libc, libc_cfi),
            ModuleFile::open(&dir.join("libs/ld-linux-x86-64.so.2"), bases.ld, true),
        ],
        core,
        without_hdr: false,
    }
}

/// Per-thread frame pcs from an eu-stack listing.
fn eu_stack_pcs(path: &Path) -> Vec<(u64, Vec<u64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut threads: Vec<(u64, Vec<u64>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("TID ") {
            threads.push((rest.trim_end_matches(':').parse().unwrap(), Vec::new()));
        } else if line.starts_with('#') {
            let hex = line.split_whitespace().nth(1).unwrap();
            let pc = u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
            threads.last_mut().unwrap().1.push(pc);
        }
    }
    threads
}

fn pcs(frames: &[RawFrame]) -> Vec<u64> {
    frames.iter().map(|f| f.pc).collect()
}

/// Walks every thread of `core_name` and compares with eu-stack exactly.
fn check_against_eu_stack(core_name: &str, bases: &Bases) {
    check_against_eu_stack_with(core_name, bases, false);
}

fn check_against_eu_stack_with(core_name: &str, bases: &Bases, without_hdr: bool) {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join(format!("{core_name}.zst")));
    let core = load_core(&bytes);
    let mut code = code_for(&core, &dir, bases, true);
    code.without_hdr = without_hdr;
    let expected = eu_stack_pcs(&dir.join(format!("reference/{core_name}.eu-stack.txt")));
    assert_eq!(core.threads.len(), expected.len());
    let mut unwinder = Unwinder::new();
    for (tid, registers) in &core.threads {
        let frames = unwinder.walk(registers, &core.memory, &code, &WalkLimits::default());
        let want = &expected.iter().find(|(t, _)| t == tid).unwrap().1;
        assert_eq!(&pcs(&frames), want, "thread {tid} of {core_name}");
        assert_eq!(frames[0].found_by, FoundBy::Context);
        assert!(frames[0].pc_is_exact);
        for f in &frames[1..] {
            assert_eq!(f.found_by, FoundBy::Cfi, "thread {tid} frame {:#x}", f.pc);
            assert!(!f.pc_is_exact);
        }
    }
}

const KERNEL_BASES: Bases = Bases {
    crashme: 0x5574_753b_6000,
    libc: 0x7f44_83b2_e000,
    ld: 0x7f44_83d2_5000,
};

#[test]
fn kernel_core_every_thread_matches_eu_stack_with_cfi() {
    check_against_eu_stack("core.kernel-sigsegv", &KERNEL_BASES);
}

#[test]
fn kernel_core_matches_eu_stack_without_eh_frame_hdr() {
    check_against_eu_stack_with("core.kernel-sigsegv", &KERNEL_BASES, true);
}

#[test]
fn kernel_core_main_thread_frames_exactly() {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    let code = code_for(&core, &dir, &KERNEL_BASES, true);
    let (tid, registers) = &core.threads[0];
    assert_eq!(*tid, 11146);
    let frames = walk(registers, &core.memory, &code, &WalkLimits::default());
    assert_eq!(
        pcs(&frames),
        [
            0x5574753b72a0,
            0x5574753b72d4,
            0x5574753b72d4,
            0x5574753b72d4,
            0x5574753b7318,
            0x5574753b73fa,
            0x7f4483b5524a,
            0x7f4483b55305,
            0x5574753b7101,
        ]
    );
    // Each caller's sp is above its callee's.
    assert!(frames.windows(2).all(|w| w[1].sp > w[0].sp));
}

#[test]
fn gcore_live_matches_eu_stack() {
    check_against_eu_stack(
        "core.gcore-live",
        &Bases {
            crashme: 0x559b_3dd5_8000,
            libc: 0x7f2d_9ac9_2000,
            ld: 0x7f2d_9ae8_9000,
        },
    );
}

#[test]
fn gdb_generate_core_file_matches_eu_stack() {
    check_against_eu_stack(
        "core.gdb-generate-core-file",
        &Bases {
            crashme: 0x5555_5555_4000,
            libc: 0x7fff_f7dd_3000,
            ld: 0x7fff_f7fc_a000,
        },
    );
}

/// Walks every thread of the kernel core with crashme's CFI withheld, after
/// `prepare` has had a chance to damage the registers; checks pcs against
/// eu-stack and `found_by` against `methods(tid)`.
fn check_kernel_core_without_crashme_cfi(
    prepare: impl Fn(&mut RegisterSet),
    methods: impl Fn(bool) -> Vec<FoundBy>,
) {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    let code = code_for(&core, &dir, &KERNEL_BASES, false);
    let expected = eu_stack_pcs(&dir.join("reference/core.kernel-sigsegv.eu-stack.txt"));
    for (tid, registers) in &core.threads {
        let mut registers = registers.clone();
        prepare(&mut registers);
        let frames = walk(&registers, &core.memory, &code, &WalkLimits::default());
        let want = &expected.iter().find(|(t, _)| t == tid).unwrap().1;
        assert_eq!(&pcs(&frames), want, "thread {tid}");
        let found_by: Vec<FoundBy> = frames.iter().map(|f| f.found_by).collect();
        assert_eq!(found_by, methods(*tid == 11146), "thread {tid}");
    }
}

#[test]
fn without_cfi_crashme_frames_come_from_the_rbp_chain() {
    use FoundBy::*;
    // crashme is built -O0, so its functions keep rbp frames; libc keeps
    // its CFI and takes over again at __libc_start_main / __clone3.
    check_kernel_core_without_crashme_cfi(
        |_| {},
        |main| {
            if main {
                vec![
                    Context,
                    FramePointer,
                    FramePointer,
                    FramePointer,
                    FramePointer,
                    FramePointer,
                    FramePointer,
                    Cfi,
                    Cfi,
                ]
            } else {
                vec![
                    Context,
                    Cfi,
                    Cfi,
                    Cfi,
                    FramePointer,
                    FramePointer,
                    FramePointer,
                    Cfi,
                ]
            }
        },
    );
}

#[test]
fn without_cfi_or_frame_pointer_scanning_finds_the_return_addresses() {
    use FoundBy::*;
    // rbp = 0 breaks the chain; every crashme frame must come from a stack
    // word that follows a call instruction.
    check_kernel_core_without_crashme_cfi(
        |registers| registers.set(6, 0),
        |main| {
            if main {
                vec![Context, Scan, Scan, Scan, Scan, Scan, Scan, Cfi, Cfi]
            } else {
                vec![Context, Cfi, Cfi, Cfi, Scan, Scan, Scan, Cfi]
            }
        },
    );
}

#[test]
fn scanning_skips_code_addresses_that_do_not_follow_a_call() {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    let code = code_for(&core, &dir, &KERNEL_BASES, false);
    let (_, registers) = &core.threads[0];
    let sp = registers.sp().unwrap();
    // A stack whose first words are code addresses that are not return
    // addresses (do_work and main entries follow a `ret`, 0x12a2 follows a
    // `mov`), then a real one: 0x12d4 follows `call crash_here`.
    let do_work = KERNEL_BASES.crashme + 0x12db;
    let main = KERNEL_BASES.crashme + 0x131a;
    let after_mov = KERNEL_BASES.crashme + 0x12a2;
    let mut stack = Vec::new();
    for word in [
        do_work,
        main,
        after_mov,
        0x10,
        KERNEL_BASES.crashme + 0x12d4,
    ] {
        stack.extend_from_slice(&u64::to_le_bytes(word));
    }
    let memory = SegmentMemory::new(vec![Segment {
        address: sp,
        size: stack.len() as u64,
        captured: stack.len() as u64,
        offset: 0,
        bytes: Bytes::from_vec(stack),
    }]);
    assert!(code.is_code(do_work) && code.is_code(main) && code.is_code(after_mov));
    let mut registers = registers.clone();
    registers.set(6, 0);
    let frames = walk(&registers, &memory, &code, &WalkLimits::default());
    assert_eq!(pcs(&frames), [0x5574753b72a0, 0x5574753b72d4]);
    assert_eq!(frames[1].found_by, FoundBy::Scan);
    assert_eq!(frames[1].sp, Some(sp + 40));
}

#[test]
fn kernel_core_with_all_mappings_matches_eu_stack() {
    check_against_eu_stack(
        "core.kernel-sigsegv-filter0x3f",
        &Bases {
            crashme: 0x5629_625d_7000,
            libc: 0x7f63_6ee9_0000,
            ld: 0x7f63_6f08_7000,
        },
    );
}

/// A `CodeInfo` knowing only the core: executable PT_LOADs are code, and
/// the only unwind tables are the vDSO's, read from its image in the core
/// (the programs of the corpus cores are absent).
struct CoreOnlyCode<'a> {
    core: &'a Core,
    vdso: Option<ModuleFile>,
}

impl<'a> CoreOnlyCode<'a> {
    fn new(core: &'a Core) -> Self {
        let memory: &dyn Memory = &core.memory;
        let vdso = core.executable.iter().find_map(|&(start, end)| {
            let mut image = vec![0u8; (end - start) as usize];
            memory.read_exact(start, &mut image).ok()?;
            if !image.starts_with(b"\x7fELF") {
                return None;
            }
            Some(ModuleFile::from_bytes(Bytes::from_vec(image), start, true))
        });
        CoreOnlyCode { core, vdso }
    }
}

impl CodeInfo for CoreOnlyCode<'_> {
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>> {
        let m = self.vdso.as_ref().filter(|m| m.start <= pc && pc < m.end)?;
        Some(UnwindTables {
            load_bias: m.bias,
            eh_frame: m.section(".eh_frame"),
            eh_frame_hdr: m.section(".eh_frame_hdr"),
            debug_frame: None,
            text: m.section(".text"),
            got: m.section(".got"),
        })
    }
    fn is_code(&self, pc: u64) -> bool {
        self.core.executable.iter().any(|&(s, e)| s <= pc && pc < e)
    }
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        let memory: &dyn Memory = &self.core.memory;
        memory.read_available(address, buf)
    }
}

/// Walks every thread of a corpus core without its binaries: frame 0 is the
/// context, every later frame is above the previous one, the walk ends.
/// `eu_stack` holds eu-stack's frames for each thread (it stops early for
/// lack of the binaries; the walk must agree on those and may go further).
fn check_bounded_walk(relative: &str, arch: Arch, eu_stack: &[&[u64]]) {
    let Some(shared) = shared() else { return };
    let bytes = decompress(&shared.join(relative));
    let core = load_core(&bytes);
    assert_eq!(core.threads.len(), eu_stack.len());
    let code = CoreOnlyCode::new(&core);
    let limits = WalkLimits {
        max_frames: 64,
        max_scan_words: 256,
    };
    for ((_, registers), &expected) in core.threads.iter().zip(eu_stack) {
        assert_eq!(registers.arch, arch);
        let frames = walk(registers, &core.memory, &code, &limits);
        assert!(!frames.is_empty() && frames.len() <= 64);
        assert!(frames.len() >= expected.len());
        assert_eq!(pcs(&frames[..expected.len()]), expected);
        assert_eq!(frames[0].found_by, FoundBy::Context);
        for pair in frames.windows(2) {
            assert!(pair[1].sp > pair[0].sp || pair[1].found_by == FoundBy::FramePointer);
            assert!(code.is_code(pair[1].pc));
        }
    }
}

#[test]
fn i386_corpus_core_walks_are_bounded() {
    check_bounded_walk(
        "corpus/elfutils/backtrace.i386.core.bz2",
        Arch::X86,
        // eu-stack --core: frame 1 needs the vDSO's CFI.
        &[
            &[
                0xf77f7430, 0x08052207, 0x08049b84, 0x08049ba0, 0x08049bb0, 0x0804b1c0,
            ],
            &[0xf77f7430, 0x0804c25d],
        ],
    );
}

#[test]
fn aarch64_corpus_core_walk_is_bounded() {
    // MANIFEST: pc 0x400548; eu-stack --core: frame 1 is lr.
    check_bounded_walk(
        "corpus/elfutils/testfile_aarch64_core.bz2",
        Arch::Aarch64,
        &[&[0x400548, 0x7fb7390b38, 0x40040c]],
    );
}

/// glibc's x86_64 sigreturn trampoline `__restore_rt` (libc+0x3c050, its FDE
/// starts one byte earlier and carries the "S" augmentation).
const RESTORE_RT: u64 = 0x3c050;

/// Builds a signal frame on a fake stack: a handler frame in crash_here
/// (crashme+0x12a2, CFA = rbp+16) returning into `__restore_rt`, above it the
/// ucontext holding the main thread's real crash registers. Returns the
/// handler's registers and memory = core + fake stack.
fn signal_frame_on_stack(core: &Core) -> (RegisterSet, SegmentMemory) {
    let (_, interrupted) = &core.threads[0];
    let ucontext: u64 = 0x7ffe_0000_1000;
    let handler_fp = ucontext - 16;
    let mut stack = Vec::new();
    // Handler frame record: saved rbp, return address.
    stack.extend_from_slice(&0u64.to_le_bytes());
    stack.extend_from_slice(&(KERNEL_BASES.libc + RESTORE_RT).to_le_bytes());
    // ucontext: uc_flags, uc_link, uc_stack (24), then the gregs in
    // struct sigcontext_64 order.
    stack.extend_from_slice(&[0u8; 40]);
    let gregs = [
        8u16, 9, 10, 11, 12, 13, 14, 15, 5, 4, 6, 3, 1, 0, 2, 7, 16, 49,
    ];
    for n in gregs {
        stack.extend_from_slice(&interrupted.get(n).unwrap().to_le_bytes());
    }
    stack.extend_from_slice(&[0u8; 256]);
    let mut segments = core.memory.segments().to_vec();
    segments.push(Segment {
        address: handler_fp,
        size: stack.len() as u64,
        captured: stack.len() as u64,
        offset: 0,
        bytes: Bytes::from_vec(stack),
    });
    let mut handler = RegisterSet::new(Arch::X86_64);
    handler.set(16, KERNEL_BASES.crashme + 0x12a2);
    handler.set(7, handler_fp - 32);
    handler.set(6, handler_fp);
    (handler, SegmentMemory::new(segments))
}

/// The main thread's frames as eu-stack shows them (after the signal frame).
const MAIN_THREAD: [u64; 9] = [
    0x5574753b72a0,
    0x5574753b72d4,
    0x5574753b72d4,
    0x5574753b72d4,
    0x5574753b7318,
    0x5574753b73fa,
    0x7f4483b5524a,
    0x7f4483b55305,
    0x5574753b7101,
];

#[test]
fn signal_frame_described_by_glibc_cfi() {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    let code = code_for(&core, &dir, &KERNEL_BASES, true);
    let (handler, memory) = signal_frame_on_stack(&core);
    let frames = walk(&handler, &memory, &code, &WalkLimits::default());
    let mut want = vec![
        KERNEL_BASES.crashme + 0x12a2,
        KERNEL_BASES.libc + RESTORE_RT,
    ];
    want.extend(MAIN_THREAD);
    assert_eq!(pcs(&frames), want);
    assert_eq!(frames[1].found_by, FoundBy::Cfi);
    assert!(!frames[1].pc_is_exact);
    // The interrupted frame: restored by __restore_rt's CFI, exact pc.
    assert_eq!(frames[2].found_by, FoundBy::Cfi);
    assert!(frames[2].pc_is_exact);
    assert_eq!(frames[2].registers, {
        let mut r = core.threads[0].1.clone();
        // glibc's CFI restores the general registers and rip, not
        // eflags or the segment registers.
        for n in [49, 51, 52, 53, 50, 54, 55, 58, 59, 200] {
            r.clear(n);
        }
        r
    });
    assert!(
        frames[3..]
            .iter()
            .all(|f| !f.pc_is_exact && f.found_by == FoundBy::Cfi)
    );
}

#[test]
fn signal_frame_without_cfi_is_recognised_by_its_code() {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    // libc without CFI: __restore_rt is found by `mov $15,%rax; syscall`.
    let code = code_with(&core, &dir, &KERNEL_BASES, true, false);
    let (handler, memory) = signal_frame_on_stack(&core);
    let frames = walk(&handler, &memory, &code, &WalkLimits::default());
    let mut want = vec![
        KERNEL_BASES.crashme + 0x12a2,
        KERNEL_BASES.libc + RESTORE_RT,
    ];
    want.extend(&MAIN_THREAD[..6]);
    assert_eq!(pcs(&frames[..8]), want);
    assert_eq!(frames[2].found_by, FoundBy::Context);
    assert!(frames[2].pc_is_exact);
    assert_eq!(frames[2].sp, core.threads[0].1.sp());
    assert_eq!(frames[2].registers.fp(), core.threads[0].1.fp());
}

#[test]
fn corrupted_eh_frame_never_panics() {
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join("core.kernel-sigsegv.zst"));
    let core = load_core(&bytes);
    let clean = std::fs::read(dir.join("crashme")).unwrap();
    let code = code_for(&core, &dir, &KERNEL_BASES, true);
    let (_, hdr_offset, hdr_size) = code.modules[0].sections[".eh_frame_hdr"];
    let (_, eh_offset, eh_size) = code.modules[0].sections[".eh_frame"];
    let targets = (hdr_offset..hdr_offset + hdr_size).chain(eh_offset..eh_offset + eh_size);
    for (at, flip) in targets.flat_map(|at| [0xffu8, 0x80, 0x01, 0x7f].map(|f| (at, f))) {
        let mut corrupted = clean.clone();
        corrupted[at] ^= flip;
        let mut code = code_for(&core, &dir, &KERNEL_BASES, true);
        code.modules[0] =
            ModuleFile::from_bytes(Bytes::from_vec(corrupted), KERNEL_BASES.crashme, true);
        for (_, registers) in &core.threads {
            let frames = walk(registers, &core.memory, &code, &WalkLimits::default());
            assert!(!frames.is_empty() && frames.len() <= 256);
        }
    }
}

/// The project's own generated fixtures (testdata/, with a sigaction
/// handler core): skipped where the checkout does not have them yet.
#[test]
fn sighandler_core_unwinds_through_restore_rt_like_eu_stack() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let Some(core_path) = common::require_path(&testdata.join("cores/core.sighandler.kernel.zst"))
    else {
        return;
    };
    let bytes = decompress(&core_path);
    let core = load_core(&bytes);
    let libs = testdata.join("sysroot/usr/lib/x86_64-linux-gnu");
    let code = TestCode {
        modules: vec![
            ModuleFile::open(&testdata.join("bin/sighandler"), 0x5606_431b_7000, true),
            ModuleFile::open(&libs.join("libc.so.6"), 0x7fdb_831e_9000, true),
            ModuleFile::open(&libs.join("ld-linux-x86-64.so.2"), 0x7fdb_833d_f000, true),
        ],
        core: &core,
        without_hdr: false,
    };
    let frames = walk(
        &core.threads[0].1,
        &core.memory,
        &code,
        &WalkLimits::default(),
    );
    let expected = eu_stack_pcs(&testdata.join("reference/core.sighandler.kernel.eu-stack.txt"));
    assert_eq!(pcs(&frames), expected[0].1);
    // #5 is __restore_rt (a return address); #6 fault_here was interrupted.
    assert_eq!(frames[5].found_by, FoundBy::Cfi);
    assert!(frames[6].pc_is_exact);
    assert!(
        frames
            .iter()
            .enumerate()
            .all(|(i, f)| f.pc_is_exact == (i == 0 || i == 6))
    );
}
