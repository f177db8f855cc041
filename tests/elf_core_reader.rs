//! The ELF core reader on real cores: the generated crashme cores (values
//! from reference/*.eu-readelf-n.txt) and the corpus cores from elfutils
//! and LLDB (values their projects assert, see corpus/MANIFEST.md).

mod common;

use std::io::Write;
use std::path::Path;

use ckdump::memory::{Memory, MemoryError};
use ckdump::model::{Arch, Capture, FaultCode, Image, Producer};
use ckdump::{ErrorKind, OpenOptions};
use common::{decompressed, no_host_files, open, shared};

fn tids(image: &Image) -> Vec<u64> {
    image.process.threads.iter().map(|t| t.tid).collect()
}

fn pc_sp(image: &Image, tid: u64) -> (u64, u64) {
    let t = image.process.thread(tid).unwrap();
    (t.registers.pc().unwrap(), t.registers.sp().unwrap())
}

fn signal_of(image: &Image) -> (i32, i32, Option<u64>, Option<u64>) {
    let f = image.fault.as_ref().expect("a fault");
    match f.code {
        FaultCode::Signal { signo, code, .. } => (signo, code, f.address, f.thread),
        ref other => panic!("{other:?}"),
    }
}

fn module_summary(image: &Image) -> Vec<(String, Option<String>, bool)> {
    image
        .process
        .modules
        .iter()
        .map(|m| (m.name.clone(), m.build_id.clone(), m.is_main))
        .collect()
}

fn note_description(image: &Image, name: &str) -> Option<String> {
    image
        .details
        .notes
        .iter()
        .find(|n| n.name == Some(name))
        .and_then(|n| n.description.clone())
}

const CRASHME_ID: &str = "c0deeffdeb886f78e4e650db4ec68ffc3366fa6d";
const LIBC_ID: &str = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";
const LD_ID: &str = "7ebc65e52f2bbea498b4040fa92f7238377aaba9";
const VDSO_ID: &str = "e95baaeaec8534edc5df3654182ddf12b19d9b23";

fn expected_modules() -> Vec<(String, Option<String>, bool)> {
    vec![
        ("crashme".into(), Some(CRASHME_ID.into()), true),
        ("libc.so.6".into(), Some(LIBC_ID.into()), false),
        ("[vdso]".into(), Some(VDSO_ID.into()), false),
        ("ld-linux-x86-64.so.2".into(), Some(LD_ID.into()), false),
    ]
}

#[test]
fn kernel_core_threads_fault_modules_and_xstate() {
    let Some(shared) = shared() else { return };
    let core = decompressed(&shared.join("generated/linux-cores/core.kernel-sigsegv.zst"));
    let image = open(core.path());
    assert_eq!(image.target.arch, Arch::X86_64);
    assert_eq!(image.producer, Producer::LinuxKernel);
    assert_eq!(image.compression, None);
    let p = image.process.facts.as_ref().unwrap();
    assert_eq!(
        (p.pid, p.ppid, p.pgid, p.sid),
        (Some(11146), Some(11145), Some(11140), Some(1988))
    );
    assert_eq!((p.uid, p.gid), (Some(0), Some(0)));
    assert_eq!(p.name.as_deref(), Some("crashme"));
    assert_eq!(p.args.as_deref(), Some("./crashme"));
    assert_eq!(p.state, Some('R'));
    assert_eq!(
        p.executable.as_deref(),
        Some("/tmp/research/generated/user-cores/crashme")
    );

    assert_eq!(tids(&image), [11146, 11149, 11148, 11147]);
    assert_eq!(pc_sp(&image, 11146), (0x5574753b72a0, 0x7ffdf6af8330));
    assert_eq!(pc_sp(&image, 11149), (0x7f4483bfd545, 0x7f4482b27de0));
    assert_eq!(pc_sp(&image, 11148), (0x7f4483bfd545, 0x7f4483328de0));
    assert_eq!(pc_sp(&image, 11147), (0x7f4483bfd545, 0x7f4483b29de0));
    let main = image.process.thread(11146).unwrap();
    assert_eq!(main.registers.get_named("rbp"), Some(0x7ffdf6af8350));
    assert_eq!(main.registers.get_named("rax"), Some(16));
    assert_eq!(main.registers.get_named("rflags"), Some(0x10246));
    assert_eq!(main.registers.get_named("fs_base"), Some(0x7f4483b2b740));
    assert_eq!(main.registers.get_named("cs"), Some(0x33));
    assert_eq!(main.registers.get_named("orig_rax"), Some(u64::MAX));
    assert_eq!(main.signal, Some(11));
    // Only the thread-group leader is named: NT_PRPSINFO fname is its comm.
    assert_eq!(main.name.as_deref(), Some("crashme"));
    assert!(image.process.threads[1..].iter().all(|t| t.name.is_none()));

    assert_eq!(signal_of(&image), (11, 1, Some(0x10), Some(11146)));

    // FXSAVE + the kernel's XSAVE with its NT_X86_XSAVE_LAYOUT.
    let fp = main.float.as_ref().unwrap();
    assert_eq!(fp.fcw, Some(0x037f));
    assert_eq!(fp.mxcsr, Some(0x1f80));
    assert_eq!(fp.mxcsr_mask, Some(0x0002ffff));
    assert_eq!(fp.vector[0], "0x00005574a1fbd60000005574a1fbd600");
    assert_eq!(fp.vector[1], "0x676e697274732d747365742d706d7564");
    assert_eq!(fp.xsave_features, Some(0xa2));
    // AVX (bit 2) is in its initial state: upper halves are zero.
    assert_eq!(fp.vector_upper.len(), 16);
    assert!(
        fp.vector_upper
            .iter()
            .all(|v| v == "0x00000000000000000000000000000000")
    );
    assert_eq!(fp.shadow_stack_pointer, None);
    assert_eq!(
        note_description(&image, "NT_X86_XSAVE_LAYOUT").as_deref(),
        Some("2@576+256 5@832+64 6@896+512 7@1408+1024")
    );

    assert_eq!(
        note_description(&image, "NT_FILE").as_deref(),
        Some("15 files, page size 4096")
    );
    assert_eq!(image.details.notes.len(), 17);
    assert_eq!(image.process.auxv.len(), 22);
    assert_eq!(image.process.regions.len(), 30);
    assert_eq!(module_summary(&image), expected_modules());
    let libc = image
        .process
        .modules
        .iter()
        .find(|m| m.name == "libc.so.6")
        .unwrap();
    assert_eq!((libc.base, libc.size), (0x7f4483b2e000, 0x1d5000));
    assert_eq!(libc.load_bias, Some(0x7f4483b2e000));
    assert_eq!(libc.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    let vdso = image
        .process
        .modules
        .iter()
        .find(|m| m.name == "[vdso]")
        .unwrap();
    assert_eq!((vdso.base, vdso.size), (0x7f4483d23000, 0x2000));

    // Regions: libc text was filtered out (p_filesz 0) and is file-backed.
    let text = image.process.region_at(0x7f4483b54000).unwrap();
    assert_eq!(text.capture, Capture::Absent);
    assert!(text.protection.execute && !text.protection.write);
    let file = text.file.as_ref().unwrap();
    assert_eq!(
        (file.path.as_str(), file.offset),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", 0x26000)
    );
    let mem: &dyn Memory = &*image.process.memory;
    assert_eq!(
        mem.read_u32(0x7f4483b54000),
        Err(MemoryError::NotCaptured {
            address: 0x7f4483b54000
        })
    );
    // The ELF header of libc is in the core (first page of the mapping).
    assert_eq!(
        mem.read_u32(0x7f4483b2e000),
        Ok(u32::from_le_bytes(*b"\x7fELF"))
    );

    let codes: Vec<&str> = image.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["CKD-N1006"], "{:#?}", image.findings);
}

#[test]
fn gdb_generate_core_file_and_gcore_are_told_apart() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-cores");

    let gdb = open(&dir.join("core.gdb-generate-core-file.zst"));
    assert_eq!(gdb.compression, Some(ckdump::model::Compression::Zstd));
    assert_eq!(gdb.producer, Producer::GdbGenerateCoreFile);
    assert_eq!(gdb.process.facts.as_ref().unwrap().pid, Some(11194));
    assert_eq!(tids(&gdb), [11194, 11197, 11198, 11199]);
    assert_eq!(pc_sp(&gdb, 11194), (0x5555555552a0, 0x7fffffffeb30));
    assert_eq!(pc_sp(&gdb, 11199), (0x7ffff7ea2545, 0x7ffff6dccde0));
    assert_eq!(signal_of(&gdb), (11, 1, Some(0x10), Some(11194)));
    assert_eq!(module_summary(&gdb), expected_modules());
    assert_eq!(gdb.process.regions.len(), 24);
    assert_eq!(
        gdb.process
            .thread(11194)
            .unwrap()
            .float
            .as_ref()
            .unwrap()
            .xsave_features,
        Some(0xe7)
    );
    // gdb leaves unmodified read-only file mappings out by design: NT_FILE
    // names mappings no PT_LOAD holds, and that is no finding.
    assert!(
        !gdb.findings.iter().any(|f| f.code == "CKD-W1010"),
        "{:?}",
        gdb.findings
    );

    let live = open(&dir.join("core.gcore-live.zst"));
    assert_eq!(live.producer, Producer::Gcore);
    assert_eq!(live.process.facts.as_ref().unwrap().pid, Some(11201));
    assert_eq!(tids(&live), [11201, 11203, 11204, 11205]);
    assert_eq!(pc_sp(&live, 11201), (0x7f2d9ad65df2, 0x7ffc62533860));
    assert!(
        live.fault.is_none(),
        "a live process stopped by gcore has no fault"
    );
    // pr_cursig is 0; gdb's per-thread NT_SIGINFO says each was stopped by SIGSTOP.
    assert!(live.process.threads.iter().all(|t| t.signal == Some(19)));
    assert_eq!(module_summary(&live), expected_modules());

    let filtered = open(&dir.join("core.kernel-sigsegv-filter0x3f.zst"));
    assert_eq!(filtered.producer, Producer::LinuxKernel);
    assert_eq!(filtered.process.facts.as_ref().unwrap().pid, Some(11217));
    assert_eq!(signal_of(&filtered), (11, 1, Some(0x10), Some(11217)));
    assert_eq!(filtered.process.regions.len(), 30);
    assert_eq!(module_summary(&filtered), expected_modules());
}

/// A sysroot with `usr/lib/x86_64-linux-gnu/libc.so.6` pointing at `target`.
fn sysroot_with_libc(target: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("usr/lib/x86_64-linux-gnu");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(target, dir.join("libc.so.6")).unwrap();
    root
}

#[test]
fn absent_libc_text_is_read_from_a_matching_file_only() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("generated/linux-cores");
    let core = decompressed(&dir.join("core.kernel-sigsegv.zst"));
    let libc_bytes = std::fs::read(dir.join("libs/libc.so.6")).unwrap();
    let text = 0x7f4483b54000u64; // NT_FILE: file offset 0x26000

    let good = sysroot_with_libc(&dir.join("libs/libc.so.6"));
    let options = OpenOptions {
        sysroot: Some(good.path().to_path_buf()),
        use_host_files: true,
        ..OpenOptions::default()
    };
    let image = ckdump::open(core.path(), &options).unwrap();
    let mem: &dyn Memory = &*image.process.memory;
    let mut buf = [0u8; 64];
    mem.read_exact(text, &mut buf).unwrap();
    assert_eq!(&buf[..], &libc_bytes[0x26000..0x26000 + 64]);
    // The region still says what the core itself holds.
    assert_eq!(
        image.process.region_at(text).unwrap().capture,
        Capture::Absent
    );

    // A different file at the same path is refused (its build-id differs).
    let wrong = sysroot_with_libc(&dir.join("libs/ld-linux-x86-64.so.2"));
    let options = OpenOptions {
        sysroot: Some(wrong.path().to_path_buf()),
        use_host_files: true,
        ..OpenOptions::default()
    };
    let image = ckdump::open(core.path(), &options).unwrap();
    let mem: &dyn Memory = &*image.process.memory;
    assert_eq!(
        mem.read_u32(text),
        Err(MemoryError::NotCaptured { address: text })
    );

    // And nothing is consulted when host files are off.
    let image = ckdump::open(core.path(), &no_host_files()).unwrap();
    let mem: &dyn Memory = &*image.process.memory;
    assert!(mem.read_u32(text).is_err());
}

#[test]
fn truncated_kernel_core_still_opens_with_findings() {
    let Some(shared) = shared() else { return };
    let core = decompressed(&shared.join("generated/linux-cores/core.kernel-sigsegv.zst"));
    let bytes = std::fs::read(core.path()).unwrap();
    let cut_at = 0x1000000usize;
    let mut cut = tempfile::NamedTempFile::new().unwrap();
    cut.write_all(&bytes[..cut_at]).unwrap();
    let image = open(cut.path());
    assert_eq!(tids(&image), [11146, 11149, 11148, 11147]);
    let truncated: Vec<&str> = image
        .findings
        .iter()
        .filter(|f| f.code == "CKD-E1005")
        .map(|f| f.message.as_str())
        .collect();
    // PT_LOAD #10 (0x7f4482b2a000, file 0x829000 + 0x800000) is the one cut.
    assert_eq!(
        truncated[0],
        "PT_LOAD #10 at 0x7f4482b2a000: 167936 of 8388608 bytes missing, file ends at 0x1000000"
    );
    assert!(truncated.last().unwrap().contains("bytes missing in total"));
    let mem: &dyn Memory = &*image.process.memory;
    assert!(mem.read_u64(0x7f4482b2a000).is_ok());
    assert!(mem.read_u64(0x7ffdf6af8330).is_err());
}

#[test]
fn aarch64_core_from_elfutils() {
    let Some(shared) = shared() else { return };
    // Opened compressed: bzip2 detection by magic.
    let image = open(&shared.join("corpus/elfutils/testfile_aarch64_core.bz2"));
    assert_eq!(image.compression, Some(ckdump::model::Compression::Bzip2));
    assert_eq!(image.target.arch, Arch::Aarch64);
    assert_eq!(image.producer, Producer::LinuxKernel);
    assert_eq!(image.process.facts.as_ref().unwrap().pid, Some(16547));
    assert_eq!(tids(&image), [16547]);
    assert_eq!(pc_sp(&image, 16547), (0x400548, 0x7fc035c6a0));
    assert_eq!(signal_of(&image), (11, 1, Some(0x12345678), Some(16547)));
    assert_eq!(
        note_description(&image, "NT_FILE").as_deref(),
        Some("6 files, page size 65536")
    );
    let pagesz = image
        .process
        .auxv
        .iter()
        .find(|e| e.key == 6)
        .unwrap()
        .value;
    assert_eq!(pagesz, 65536);
    let names: Vec<&str> = image
        .process
        .modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["a.out", "libc-2.17.so", "[vdso]", "ld-2.17.so"]);
    assert!(image.process.modules[0].is_main);
    let fp = image.process.threads[0].float.as_ref().unwrap();
    assert_eq!(fp.vector.len(), 32);
    assert!(
        note_description(&image, "NT_ARM_TLS")
            .unwrap()
            .starts_with("tpidr_el0=0x")
    );
    assert!(
        image
            .details
            .notes
            .iter()
            .any(|n| n.name == Some("NT_ARM_HW_WATCH"))
    );
}

#[test]
fn i686_core_from_elfutils() {
    let Some(shared) = shared() else { return };
    let core = decompressed(&shared.join("corpus/elfutils/testfile_i686_core.bz2"));
    let image = open(core.path());
    assert_eq!(image.target.arch, Arch::X86);
    let p = image.process.facts.as_ref().unwrap();
    assert_eq!((p.pid, p.uid, p.gid), (Some(27395), Some(1000), Some(1000)));
    assert_eq!(signal_of(&image), (11, 1, Some(0x12345678), Some(27395)));
    assert_eq!(pc_sp(&image, 27395), (0x8048408, 0xbfab6f18));
    let vdso = image
        .process
        .modules
        .iter()
        .find(|m| m.name == "[vdso]")
        .unwrap();
    // Linked at 0xffffe000, loaded at 0xb77fc000: the bias wraps at 32 bits.
    assert_eq!(vdso.load_bias, Some(0xb77fe000));
}

#[test]
fn lldb_fpr_sse_cores() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpus/lldb/elf-core");
    for (file, fip) in [
        ("linux-fpr_sse_x86_64.core", 0x0040011e),
        ("linux-fpr_sse_i386.core", 0x080480cc),
    ] {
        let image = open(&dir.join(file));
        let fp = image.process.threads[0].float.as_ref().unwrap();
        assert_eq!(fp.fcw, Some(0x037f), "{file}");
        assert_eq!(fp.ftw, Some(0x00ff), "{file}");
        assert_eq!(fp.mxcsr, Some(0x1f80), "{file}");
        assert_eq!(fp.fip, Some(fip), "{file}");
    }
}

#[test]
fn lldb_thread_crash_and_gcore() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("corpus/lldb/elf-core");
    let image = open(&dir.join("thread_crash/linux-x86_64.core"));
    assert_eq!(image.process.facts.as_ref().unwrap().pid, Some(5222));
    assert_eq!(tids(&image), [5250, 5222, 5249]);
    let (signo, _, _, thread) = signal_of(&image);
    assert_eq!((signo, thread), (4, Some(5250)));
    let mem: &dyn Memory = &*image.process.memory;
    assert_eq!(
        mem.read_u32(0x400000),
        Err(MemoryError::NotCaptured { address: 0x400000 })
    );

    let image = open(&dir.join("thread_crash/linux-i386.core"));
    assert_eq!(image.process.facts.as_ref().unwrap().pid, Some(5193));
    assert_eq!(image.fault.as_ref().unwrap().thread, Some(5195));
    let mem: &dyn Memory = &*image.process.memory;
    assert!(mem.read_u32(0x8048000).is_err());

    for (file, pid, n) in [
        ("gcore/linux-x86_64.core", 5669, 3),
        ("gcore/linux-i386.core", 5586, 3),
    ] {
        let image = open(&dir.join(file));
        assert_eq!(image.producer, Producer::Gcore, "{file}");
        assert_eq!(
            image.process.facts.as_ref().unwrap().pid,
            Some(pid),
            "{file}"
        );
        assert_eq!(image.process.threads.len(), n, "{file}");
        assert!(
            image.fault.is_none(),
            "{file}: every thread only SIGSTOPped"
        );
    }
}

#[test]
fn not_a_core_and_truncated_header_are_errors() {
    let Some(shared) = shared() else { return };
    let e = ckdump::open(
        &shared.join("generated/linux-cores/crashme"),
        &no_host_files(),
    )
    .err()
    .unwrap();
    assert!(matches!(e.kind, ErrorKind::NotACore { .. }), "{e}");
    assert!(e.to_string().contains("ET_DYN"), "{e}");

    let core = std::fs::read(shared.join("corpus/lldb/elf-core/linux-x86_64.core")).unwrap();
    let mut cut = tempfile::NamedTempFile::new().unwrap();
    cut.write_all(&core[..40]).unwrap();
    let e = ckdump::open(cut.path(), &no_host_files()).err().unwrap();
    assert!(
        matches!(e.kind, ErrorKind::Malformed { offset: 0, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("ELF header truncated: 40 of 64 bytes"),
        "{e}"
    );
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Opening must never panic, whatever the bytes: truncations at many
/// offsets and random bit flips concentrated on headers and notes.
#[test]
fn truncation_and_bit_flips_never_panic() {
    let Some(shared) = shared() else { return };
    let mut inputs = vec![
        std::fs::read(shared.join("corpus/lldb/elf-core/thread_crash/linux-x86_64.core")).unwrap(),
        std::fs::read(shared.join("corpus/lldb/elf-core/linux-fpr_sse_i386.core")).unwrap(),
        std::fs::read(shared.join("corpus/lldb/elf-core/gcore/linux-x86_64.core")).unwrap(),
    ];
    // The first 0x30000 bytes of the kernel core: all headers and notes,
    // the crashme pages, a cut through the heap.
    let kernel = decompressed(&shared.join("generated/linux-cores/core.kernel-sigsegv.zst"));
    let kbytes = std::fs::read(kernel.path()).unwrap();
    inputs.push(kbytes[..0x30000].to_vec());

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut try_bytes = |bytes: &[u8]| {
        file.as_file().set_len(0).unwrap();
        std::io::Seek::rewind(file.as_file_mut()).unwrap();
        file.write_all(bytes).unwrap();
        file.flush().unwrap();
        if let Ok(image) = ckdump::open(file.path(), &no_host_files()) {
            // Touch what later stages touch.
            let mem: &dyn Memory = &*image.process.memory;
            for t in &image.process.threads {
                let mut buf = [0u8; 64];
                let _ = mem.read_available(t.registers.sp().unwrap_or(0), &mut buf);
            }
            let _ = image.crashing_thread();
        }
    };
    for input in &inputs {
        let len = input.len();
        // Truncations: every 97th byte through the headers and notes, then coarse.
        let mut cuts: Vec<usize> = (0..len.min(0x5000)).step_by(97).collect();
        cuts.extend((0..16).map(|i| len * i / 16));
        for cut in cuts {
            try_bytes(&input[..cut]);
        }
        // Bit flips.
        for _ in 0..60 {
            let mut copy = input.clone();
            let hot = len.min(0x5000);
            for _ in 0..1 + rng.below(8) {
                let at = if rng.below(4) == 0 {
                    rng.below(len)
                } else {
                    rng.below(hot)
                };
                copy[at] ^= 1 << rng.below(8);
            }
            try_bytes(&copy);
        }
        // Whole words overwritten with extreme values.
        for _ in 0..30 {
            let mut copy = input.clone();
            let at = rng.below(len.min(0x5000).saturating_sub(8));
            let v = [0u64, u64::MAX, 0x8000_0000, 0xffff_ffff][rng.below(4)];
            copy[at..at + 8].copy_from_slice(&v.to_le_bytes());
            try_bytes(&copy);
        }
    }
}

#[test]
fn truncated_zstd_core_opens_with_the_bytes_that_decompressed() {
    let Some(shared) = shared() else { return };
    let zst = std::fs::read(shared.join("generated/linux-cores/core.kernel-sigsegv.zst")).unwrap();
    let mut cut = tempfile::NamedTempFile::new().unwrap();
    cut.write_all(&zst[..zst.len() / 2]).unwrap();
    let image = open(cut.path());
    assert_eq!(image.compression, Some(ckdump::model::Compression::Zstd));
    assert_eq!(tids(&image), [11146, 11149, 11148, 11147]);
    let codes: Vec<&str> = image.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&"CKD-E1012"), "{codes:?}");
    assert!(codes.contains(&"CKD-E1005"), "{codes:?}");
}

/// Kernels before 3.x wrote NT_FPREGSET (and NT_PRXFPREG / NT_X86_XSTATE)
/// only for threads that had used the FPU: a thread without them is a
/// genuine core, not a damaged one. The threads core with the FPU notes of
/// its second thread cut out of the note segment (later notes moved up,
/// p_filesz shortened; the PT_LOAD offsets are absolute and stay valid).
#[test]
fn a_thread_without_fpu_notes_is_no_damage() {
    let original = std::fs::read(
        decompressed(&common::root().join("testdata/cores/core.threads.kernel.zst")).path(),
    )
    .unwrap();
    let elf = goblin::elf::Elf::parse(&original).unwrap();
    let note = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == goblin::elf::program_header::PT_NOTE)
        .unwrap();
    let (start, size) = (note.p_offset as usize, note.p_filesz as usize);
    let segment = &original[start..start + size];
    // (owner, type, byte range) of every note in the segment.
    let mut notes = Vec::new();
    let mut at = 0usize;
    while at + 12 <= segment.len() {
        let word = |o: usize| u32::from_le_bytes(segment[at + o..at + o + 4].try_into().unwrap());
        let (namesz, descsz, kind) = (word(0) as usize, word(4) as usize, word(8));
        let end = at + 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
        let owner = String::from_utf8_lossy(&segment[at + 12..at + 12 + namesz])
            .trim_end_matches('\0')
            .to_string();
        notes.push((owner, kind, at..end));
        at = end;
    }
    // The second NT_PRSTATUS starts the second thread's notes.
    let second = notes
        .iter()
        .enumerate()
        .filter(|(_, (o, k, _))| o == "CORE" && *k == 1)
        .nth(1)
        .unwrap()
        .0;
    let is_fpu = |(o, k): (&str, u32)| (o == "CORE" && k == 2) || (o == "LINUX" && k == 0x202);
    let mut cut = Vec::new();
    let mut kept = Vec::new();
    for (i, (owner, kind, range)) in notes.iter().enumerate() {
        let in_second = i > second
            && !notes[second + 1..=i]
                .iter()
                .any(|(o, k, _)| o == "CORE" && *k == 1);
        if in_second && is_fpu((owner, *kind)) {
            cut.push(*kind);
        } else {
            kept.extend_from_slice(&segment[range.clone()]);
        }
    }
    assert_eq!(
        cut,
        [2, 0x202],
        "the second thread's NT_FPREGSET and NT_X86_XSTATE"
    );
    let mut edited = original.clone();
    edited[start..start + size].fill(0);
    edited[start..start + kept.len()].copy_from_slice(&kept);
    // p_filesz of the PT_NOTE header (ELF64: 32 bytes into the entry).
    let header = elf.header.e_phoff as usize
        + elf
            .program_headers
            .iter()
            .position(|p| p.p_type == goblin::elf::program_header::PT_NOTE)
            .unwrap()
            * 56;
    edited[header + 32..header + 40].copy_from_slice(&(kept.len() as u64).to_le_bytes());
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&edited).unwrap();

    let unpacked = decompressed(&common::root().join("testdata/cores/core.threads.kernel.zst"));
    let before = open(unpacked.path());
    let after = ckdump::open(file.path(), &no_host_files()).unwrap();
    assert!(
        !common::codes(&after).contains(&"CKD-E1009"),
        "{:?}",
        after.findings
    );
    assert_eq!(tids(&after), tids(&before));
    // The second thread keeps its registers and has no FPU state; the
    // others keep theirs.
    let t = &after.process.threads[1];
    assert_eq!(t.registers.pc(), before.process.threads[1].registers.pc());
    assert!(t.float.is_none());
    assert!(after.process.threads[0].float.is_some());
    let out = common::ckdump(&["verify", file.path().to_str().unwrap()]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("CKD-E1009"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
