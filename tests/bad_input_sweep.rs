//! Hostile input: every fixture truncated at many offsets and with random
//! bit flips must open to an Image or a one-line error — never a panic, a
//! hang, or memory beyond a small multiple of the input.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ckdump::analysis::{self, InspectOptions};
use common::*;

/// Counts live and peak heap bytes so the sweep can bound memory use.
struct PeakAlloc;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Wall-clock bound for one case (debug build, noisy 2-core machine).
const CASE_LIMIT: Duration = Duration::from_secs(20);
/// Heap allowed beyond the input's own size (symbol files are mmapped, not
/// counted; the report itself is small).
const HEAP_SLACK: usize = 64 << 20;

/// Deterministic xorshift so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Opens, analyses and verifies `path` on a worker thread; fails the test
/// on a panic, a time-out or excess heap.
fn exercise(path: &Path, label: &str) {
    let input_len = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let handle = std::thread::spawn(move || {
        let result = std::panic::catch_unwind(|| match ckdump::open(&p, &Default::default()) {
            Ok(image) => {
                let report = analysis::inspect(
                    &image,
                    &InspectOptions {
                        regions: true,
                        disasm_context: 2,
                        ..Default::default()
                    },
                );
                let _ = ckdump::render::json::render(&report);
                let _ = ckdump::verify::checks::run(&image, &Default::default());
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "multi-line error: {msg}");
                assert!(
                    msg.contains(&p.display().to_string()),
                    "error without path: {msg}"
                );
                Err(msg)
            }
        });
        let _ = tx.send(result.is_ok());
    });
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(true) => {}
        Ok(false) => panic!("{label}: panicked"),
        Err(_) => panic!("{label}: took longer than {CASE_LIMIT:?}"),
    }
    let _ = handle.join();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(
        peak <= 4 * input_len + HEAP_SLACK,
        "{label}: heap peak {peak} bytes for a {input_len}-byte input"
    );
}

/// Small fixtures to sweep: the project's own cores and the shared ones
/// that are small enough to copy many times.
fn fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let dir = root().join("testdata/cores");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let tmp = decompressed(&p);
            let bytes = std::fs::read(tmp.path()).unwrap();
            // Sweeping each compression copy again adds nothing.
            if bytes.len() <= 16 << 20 && !out.iter().any(|(_, b): &(PathBuf, Vec<u8>)| *b == bytes)
            {
                out.push((p, bytes));
            }
        }
    }
    if let Some(shared) = shared() {
        for rel in [
            "corpus/lldb/elf-core/linux-x86_64.core",
            "corpus/lldb/elf-core/linux-i386.core",
            "corpus/lldb/elf-core/thread_crash/linux-x86_64.core",
            "corpus/elfutils/testfile_aarch64_core.bz2",
            "corpus/breakpad/minidump2.dmp",
            "corpus/rust-minidump/linux-mini.dmp",
            "corpus/lldb/windows-sigsegv/sigsegv.dmp",
        ] {
            if let Some(p) = require_path(&shared.join(rel)) {
                let tmp = decompressed(&p);
                out.push((p, std::fs::read(tmp.path()).unwrap()));
            }
        }
    }
    out
}

#[test]
fn truncated_and_bit_flipped_images_never_panic() {
    let files = fixtures();
    assert!(!files.is_empty(), "no fixtures found under testdata/cores");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (path, bytes) in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let case = dir.path().join(&name);
        // Truncations: every header-sized step near the start, then spread.
        let mut cuts: Vec<usize> = (0..64).map(|i| i * 7).collect();
        cuts.extend((0..24).map(|i| 0x40 + i * 0x38));
        cuts.extend((1..32).map(|i| bytes.len() * i / 32));
        for cut in cuts.into_iter().filter(|c| *c < bytes.len()) {
            std::fs::write(&case, &bytes[..cut]).unwrap();
            exercise(&case, &format!("{name} truncated at {cut}"));
        }
        // Bit flips, concentrated in the headers and notes where they hurt.
        for round in 0..24 {
            let mut copy = bytes.clone();
            let span = copy.len().min(0x8000);
            for _ in 0..(1 + round % 4) {
                let at = (rng.next() as usize) % span;
                copy[at] ^= 1 << (rng.next() % 8);
            }
            std::fs::write(&case, &copy).unwrap();
            exercise(&case, &format!("{name} bit-flip round {round}"));
        }
    }
}

#[test]
fn random_bytes_and_non_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let random: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.path().join("empty.core"), "empty file"),
        (
            dir.path().join("random.bin"),
            "not a recognised dump format",
        ),
        (dir.path().join("missing.core"), "no such file"),
        (dir.path().to_path_buf(), "is a directory"),
        (
            PathBuf::from(env!("CARGO_BIN_EXE_ckdump")),
            "not a core dump",
        ),
        (dir.path().join("zstd-garbage.zst"), "zstd"),
    ];
    std::fs::write(&cases[0].0, b"").unwrap();
    std::fs::write(&cases[1].0, &random).unwrap();
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd];
    z.extend_from_slice(&random[..64]);
    std::fs::write(&cases[5].0, &z).unwrap();
    for (path, want) in &cases {
        let out = ckdump(&["inspect", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(
            stderr.contains(want),
            "{}: want {want:?} in {stderr}",
            path.display()
        );
        // verify agrees: unreadable input is exit 2, never findings.
        let out = ckdump(&["verify", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "verify {}", path.display());
    }
}
