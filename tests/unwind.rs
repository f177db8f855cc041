//! The stack walker against real cores and their real binaries, with eu-stack's
//! output as the oracle.
//!
//! The ELF core reader and the symbols layer are written separately, so this
//! file carries a small core loader (PT_LOADs, NT_PRSTATUS) and a small
//! `CodeInfo` over the module files: test scaffolding only.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ckdump::memory::{Bytes, Memory, Segment, SegmentMemory};
use ckdump::model::{Arch, RegisterSet};
use ckdump::unwind::{
    CodeInfo, FoundBy, RawFrame, Section, UnwindTables, Unwinder, WalkLimits, walk,
};
use goblin::elf::Elf;
use goblin::elf::program_header::{PF_X, PT_LOAD};

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

fn linux_cores() -> Option<PathBuf> {
    shared().map(|s| s.join("generated/linux-cores"))
}

/// Decompresses a .zst or .bz2 fixture into a temporary file and maps it.
fn decompress(path: &Path) -> Bytes {
    let input = std::fs::File::open(path).unwrap();
    let mut out = tempfile::tempfile().unwrap();
    if path.extension().is_some_and(|e| e == "zst") {
        zstd::stream::copy_decode(input, &mut out).unwrap();
    } else {
        let mut reader = bzip2::read::BzDecoder::new(input);
        std::io::copy(&mut reader, &mut out).unwrap();
    }
    out.flush().unwrap();
    Bytes::map_file(&out).unwrap()
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
        let bias = base - (first & !0xfff);
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
            start: bias + first,
            end: bias + last,
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
            eh_frame_hdr: cfi(".eh_frame_hdr"),
            debug_frame: cfi(".debug_frame"),
            text: m.section(".text"),
            got: m.section(".got"),
        })
    }

    fn is_code(&self, pc: u64) -> bool {
        if let Some(m) = self.module(pc) {
            let at = pc - m.bias;
            return m
                .loads
                .iter()
                .any(|l| l.3 && l.0 <= at && at < l.0 + l.4);
        }
        self.core
            .executable
            .iter()
            .any(|&(start, end)| start <= pc && pc < end)
    }

    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        if let Some(m) = self.module(address) {
            let at = address - m.bias;
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
    TestCode {
        modules: vec![
            ModuleFile::open(&dir.join("crashme"), bases.crashme, crashme_cfi),
            ModuleFile::open(&dir.join("libs/libc.so.6"), bases.libc, true),
            ModuleFile::open(&dir.join("libs/ld-linux-x86-64.so.2"), bases.ld, true),
        ],
        core,
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
    let Some(dir) = linux_cores() else { return };
    let bytes = decompress(&dir.join(format!("{core_name}.zst")));
    let core = load_core(&bytes);
    let code = code_for(&core, &dir, bases, true);
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
