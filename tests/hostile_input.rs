//! Hostile input that once hung ckdump, exhausted memory or disk, or
//! blamed the wrong thing: each test builds its input in a temporary
//! directory and pins the bounded, one-line outcome.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// diff's files import one way: chunk at the bottom, moves above it, pages
/// on top (the architecture check reads `crate::`/`super::` paths).
#[test]
fn diff_files_have_no_import_cycle() {
    let Some(shared) = common::shared() else {
        return;
    };
    let out = Command::new("python3")
        .arg(shared.join("tools/layers.py"))
        .arg(common::root().join("src"))
        .output()
        .expect("run layers.py");
    let text = String::from_utf8_lossy(&out.stdout);
    let diff_cycles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("file cycle:") && l.contains("diff::"))
        .collect();
    assert!(diff_cycles.is_empty(), "{diff_cycles:?}");
}

/// How a bounded run of ckdump ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The child's own peak resident set (getrusage's ru_maxrss, KiB).
    peak_rss_kib: u64,
    seconds: f64,
}

/// Runs ckdump with `args`, killing it if it takes longer than `limit`
/// (a hang is a failure here, never a stuck test), and measures the
/// child's peak resident set through wait4.
// The child is reaped by wait4 (which also gives its own rusage), not by
// std's wait, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_bounded(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ckdump"));
    cmd.args(args)
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let child = cmd.spawn().expect("run ckdump");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; the pointers are live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > limit {
            // SAFETY: signals our own child, then reaps it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("ckdump {args:?} still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        peak_rss_kib: usage.ru_maxrss as u64,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn make_fifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The one-line error a refused input must give, with exit code 2.
fn assert_refused(run: &Run, expect: &str) {
    assert_eq!(
        run.code,
        Some(2),
        "stdout {} stderr {}",
        run.stdout,
        run.stderr
    );
    let err = run.stderr.trim_end();
    assert!(err.contains(expect), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A FIFO once hung inspect, verify and diff (opened to read its magic,
/// the open blocked for a writer), and a core written into one was
/// misread. It is refused, by stat, before anything opens it.
#[test]
fn fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("core.fifo");
    make_fifo(&fifo);
    let f = fifo.as_os_str();
    let expect = format!("{}: is a FIFO, not a regular file", fifo.display());
    let limit = Duration::from_secs(20);
    for args in [
        vec![os("inspect"), f],
        vec![os("verify"), f],
        vec![os("diff"), f, f],
        vec![os("seal"), f],
    ] {
        let run = run_bounded(&args, &[], limit);
        assert_refused(&run, &expect);
    }
}

/// /dev/zero never ends; as an image or as a seal manifest it is named
/// for what it is (verify --seal said "no such file").
#[test]
fn character_device_is_named_not_missing() {
    let limit = Duration::from_secs(20);
    let run = run_bounded(&[os("inspect"), os("/dev/zero")], &[], limit);
    assert_refused(&run, "/dev/zero: is a character device, not a regular file");
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("x.core");
    std::fs::write(&core, b"\x7fELF").unwrap();
    let run = run_bounded(
        &[
            os("verify"),
            os("--seal"),
            os("/dev/zero"),
            core.as_os_str(),
        ],
        &[],
        limit,
    );
    assert_refused(&run, "/dev/zero: is a character device, not a regular file");
}

/// A zstd frame that decompresses to `prefix` followed by `zeros` zero
/// bytes, built by hand from raw and RLE blocks (RFC 8878): gibibytes of
/// output for a few bytes per 128 KiB, and no compressor to run.
fn zstd_prefix_then_zeros(prefix: &[u8], zeros: u64) -> Vec<u8> {
    const MAX_BLOCK: u64 = 128 << 10;
    // Magic; descriptor 0 (no content size, no checksum, no dictionary,
    // not single-segment); window descriptor 0x38 = 2^17-byte window.
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    let block_header = |out: &mut Vec<u8>, last: bool, kind: u32, size: u64| {
        let v = (size as u32) << 3 | kind << 1 | last as u32;
        out.extend_from_slice(&v.to_le_bytes()[..3]);
    };
    let mut chunks = prefix.chunks(MAX_BLOCK as usize).peekable();
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none() && zeros == 0;
        block_header(&mut out, last, 0, chunk.len() as u64);
        out.extend_from_slice(chunk);
    }
    let mut left = zeros;
    while left > 0 {
        let n = left.min(MAX_BLOCK);
        left -= n;
        block_header(&mut out, left == 0, 1, n);
        out.push(0);
    }
    if prefix.is_empty() && zeros == 0 {
        block_header(&mut out, true, 0, 0);
    }
    out
}

/// A 512-byte ustar header for a regular file `name` of `size` bytes.
fn tar_header(name: &str, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h.as_bytes().to_vec()
}

const GIB: u64 = 1 << 30;
/// What a ckdump run may keep resident while reading an input that
/// inflates to a gibibyte or more: the program and its bookkeeping, not
/// the data (before the fix, a 1 GiB archive peaked at 1.06 GB).
const RSS_BOUND_KIB: u64 = 192 << 10;

/// A 35 KB `.tar.zst` that inflates to 1 GiB (one zero-filled
/// checkpoint/pages-1.img) was decompressed onto the heap: 1.06 GB peak,
/// 3 GiB gave 3.16 GB, 20 GiB was killed. Now it is spilled to a sparse
/// temporary file and mapped.
#[test]
fn archive_inflating_to_gibibytes_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for gib in [1u64, 3] {
        let size = gib * GIB;
        let path = dir.path().join(format!("bomb-{gib}g.tar.zst"));
        // The member's data and the two end-of-archive blocks are zeros.
        let packed =
            zstd_prefix_then_zeros(&tar_header("checkpoint/pages-1.img", size), size + 1024);
        assert!(packed.len() < 128 << 10, "{}", packed.len());
        std::fs::write(&path, &packed).unwrap();
        for cmd in ["inspect", "verify"] {
            let run = run_bounded(&[os(cmd), path.as_os_str()], &[], Duration::from_secs(120));
            eprintln!(
                "{cmd} {gib} GiB archive: exit {:?}, {:.2} s, peak RSS {} KiB",
                run.code, run.seconds, run.peak_rss_kib
            );
            // Read (no pstree.img: a finding) — never an out-of-memory kill.
            assert!(matches!(run.code, Some(0..=2)), "{}", run.stderr);
            assert!(run.stdout.contains("pstree.img"), "{}", run.stdout);
            assert!(
                run.peak_rss_kib < RSS_BOUND_KIB,
                "{cmd}: peak RSS {} KiB for a {gib} GiB archive",
                run.peak_rss_kib
            );
        }
    }
}

/// A compressed file whose first decompressed bytes are no dump's magic is
/// refused there, not after inflating it all (20 GiB of zeros took 37–53 s
/// and 21 GB of temporary disk to be called "not a recognised dump format").
#[test]
fn compressed_non_dump_is_refused_before_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros.zst");
    std::fs::write(&path, zstd_prefix_then_zeros(b"", 20 * GIB)).unwrap();
    let run = run_bounded(
        &[os("inspect"), path.as_os_str()],
        &[],
        Duration::from_secs(30),
    );
    eprintln!(
        "20 GiB of zstd zeros: {:.2} s, peak RSS {} KiB",
        run.seconds, run.peak_rss_kib
    );
    assert_refused(
        &run,
        "not a recognised dump format (first bytes 00 00 00 00 00 00 00 00)",
    );
    assert!(run.seconds < 10.0, "{} s", run.seconds);
}

/// An 8 KiB x86-64 ELF core: one page of memory at 0x10000 (filled with
/// `fill`) in the file, and a PT_LOAD of `size` bytes at `far` whose bytes
/// start at the end of those 8 KiB (past the end of the file, unless the
/// caller extends it sparsely).
fn core_with_a_far_segment(fill: u8, far: u64, size: u64) -> Vec<u8> {
    const PHDRS: u64 = 64;
    let mut f = vec![0u8; 0x2000];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little-endian
    f[6] = 1; // EV_CURRENT
    f[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[32..40].copy_from_slice(&PHDRS.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&3u16.to_le_bytes()); // e_phnum
    // A PT_NOTE holding one note of a type nothing reads ("CORE", 0x999).
    const NOTE: usize = 0x200;
    f[NOTE..NOTE + 4].copy_from_slice(&5u32.to_le_bytes());
    f[NOTE + 8..NOTE + 12].copy_from_slice(&0x999u32.to_le_bytes());
    f[NOTE + 12..NOTE + 17].copy_from_slice(b"CORE\0");
    let segments: [(u32, u64, u64, u64); 3] = [
        (4, NOTE as u64, 0, 20), // PT_NOTE
        (1, 0x1000, 0x10000, 0x1000),
        (1, 0x2000, far, size),
    ];
    for (i, (kind, offset, vaddr, size)) in segments.into_iter().enumerate() {
        let ph = &mut f[PHDRS as usize + i * 56..][..56];
        ph[..4].copy_from_slice(&kind.to_le_bytes());
        ph[4..8].copy_from_slice(&6u32.to_le_bytes()); // PF_R | PF_W
        ph[8..16].copy_from_slice(&offset.to_le_bytes());
        ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
        ph[32..40].copy_from_slice(&size.to_le_bytes()); // p_filesz
        ph[40..48].copy_from_slice(&size.to_le_bytes()); // p_memsz
        ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
    }
    f[0x1000..0x2000].fill(fill);
    f
}

/// diff of a core whose PT_LOAD claims 1 TiB past the end of the file hung
/// and grew past 900 MB (inspect and verify took 0.01 s): bytes the file
/// does not hold are not compared, counted or listed. (The two claims sit at
/// different addresses, so each is held by one side only: that is what
/// grew, one entry per page.)
#[test]
fn diff_of_a_core_claiming_a_tebibyte_past_eof_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.core");
    let b = dir.path().join("b.core");
    std::fs::write(&a, core_with_a_far_segment(0x11, 1 << 40, 1 << 40)).unwrap();
    std::fs::write(&b, core_with_a_far_segment(0x22, 1 << 42, 1 << 40)).unwrap();
    let limit = Duration::from_secs(60);
    for cmd in ["inspect", "verify"] {
        let run = run_bounded(&[os(cmd), a.as_os_str()], &[], limit);
        assert!(matches!(run.code, Some(0 | 1)), "{cmd}: {}", run.stderr);
    }
    let run = run_bounded(
        &[
            os("diff"),
            a.as_os_str(),
            b.as_os_str(),
            os("--format"),
            os("json"),
        ],
        &[],
        limit,
    );
    eprintln!(
        "diff of 1 TiB-past-EOF cores: exit {:?}, {:.2} s, peak RSS {} KiB",
        run.code, run.seconds, run.peak_rss_kib
    );
    assert!(run.peak_rss_kib < RSS_BOUND_KIB, "{} KiB", run.peak_rss_kib);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
    let pages = &report["pages"];
    // The one page each file holds differs; nothing else is counted.
    assert_eq!(pages["compared"], 1, "{pages}");
    assert_eq!(pages["differing"], 1, "{pages}");
    assert_eq!(pages["only_in_a"], 0, "{pages}");
    assert_eq!(pages["only_in_b"], 0, "{pages}");
    assert_eq!(pages["bytes_compared"], 4096, "{pages}");
}

/// A sparse core (8 KiB on disk, gibibytes apparent: the bytes are in the
/// file, as holes) once cost diff one entry per page held by one side
/// only: 4 GiB on each side took 139 MB and 207 s; 1 TiB grew past 900 MB
/// and did not finish. Runs of such pages are one entry now, and zero pages
/// are counted without being hashed.
#[test]
fn diff_of_sparse_cores_keeps_memory_bounded() {
    const SIZE: u64 = 2 * GIB;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.core");
    let b = dir.path().join("b.core");
    for (path, fill, far) in [(&a, 0x11, 1u64 << 40), (&b, 0x22, 1 << 42)] {
        let f = std::fs::File::create(path).unwrap();
        std::io::Write::write_all(&mut &f, &core_with_a_far_segment(fill, far, SIZE)).unwrap();
        f.set_len(0x2000 + SIZE).unwrap();
    }
    let run = run_bounded(
        &[
            os("diff"),
            a.as_os_str(),
            b.as_os_str(),
            os("--format"),
            os("json"),
        ],
        &[],
        Duration::from_secs(90),
    );
    eprintln!(
        "diff of two {} GiB sparse cores: exit {:?}, {:.2} s, peak RSS {} KiB",
        SIZE / GIB,
        run.code,
        run.seconds,
        run.peak_rss_kib
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
    let pages = &report["pages"];
    let far_pages = SIZE / 4096;
    assert_eq!(pages["compared"], 1, "{pages}");
    assert_eq!(pages["differing"], 1, "{pages}");
    assert_eq!(pages["only_in_a"], far_pages, "{pages}");
    assert_eq!(pages["only_in_b"], far_pages, "{pages}");
    assert_eq!(pages["zero_pages"]["a"], far_pages, "{pages}");
    assert_eq!(pages["zero_pages"]["b"], far_pages, "{pages}");
    assert_eq!(
        pages["regions"][1]["first_only_in_a"][7], "0x10000007000",
        "{pages}"
    );
    // Before: 48 bytes per one-sided page (about 70 MB here).
    assert!(run.peak_rss_kib < 48 << 10, "{} KiB", run.peak_rss_kib);
}

/// A real kernel core (testdata) whose stack PT_LOAD is grown `hole`
/// bytes downwards, those bytes a hole in the file: the original file,
/// `skew` bytes more (so the hole's file blocks need not start on a page
/// of memory), then the hole, then the stack's own bytes, so every address
/// the core held reads as before. Each of `pages` writes 4 KiB of 0x5a at
/// that offset into the hole. Returns (captured bytes of the original, the
/// hole's address).
fn core_with_a_hole(path: &Path, hole: u64, skew: u64, pages: &[u64]) -> (u64, u64) {
    const STACK: u64 = 0x7ffe_e1e8_b000;
    let mut core =
        std::fs::read(common::root().join("testdata/cores/core.illegal.kernel")).unwrap();
    let end = core.len() as u64;
    assert_eq!(end % 4096, 0);
    let field = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let phoff = field(&core, 32) as usize;
    let phnum = u16::from_le_bytes([core[56], core[57]]) as usize;
    let (mut captured, mut stack) = (0, None);
    for i in 0..phnum {
        let ph = phoff + i * 56;
        if u32::from_le_bytes(core[ph..ph + 4].try_into().unwrap()) != 1 {
            continue;
        }
        captured += field(&core, ph + 32);
        if field(&core, ph + 16) == STACK {
            stack = Some(ph);
        }
    }
    let ph = stack.expect("the stack's PT_LOAD");
    let (offset, size) = (field(&core, ph + 8), field(&core, ph + 32));
    let stack_bytes = core[offset as usize..(offset + size) as usize].to_vec();
    let hole_address = STACK - hole;
    core[ph + 8..ph + 16].copy_from_slice(&(end + skew).to_le_bytes()); // p_offset
    core[ph + 16..ph + 24].copy_from_slice(&hole_address.to_le_bytes()); // p_vaddr
    core[ph + 32..ph + 40].copy_from_slice(&(hole + size).to_le_bytes()); // p_filesz
    core[ph + 40..ph + 48].copy_from_slice(&(hole + size).to_le_bytes()); // p_memsz
    let f = std::fs::File::create(path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &core, 0).unwrap();
    let base = end + skew;
    std::os::unix::fs::FileExt::write_all_at(&f, &stack_bytes, base + hole).unwrap();
    for at in pages {
        std::os::unix::fs::FileExt::write_all_at(&f, &[0x5a; 4096], base + at).unwrap();
    }
    (captured, hole_address)
}

/// diff read every byte of a sparse core's holes through the map: two
/// 4 GiB ones took 15 s, a tebibyte would take an hour. Holes are known
/// zero pages now: where both cores have one nothing is read, where one
/// has, the other's bytes are compared with zeros. The counts are exactly
/// what reading gave.
#[test]
fn diff_of_64_gib_sparse_real_cores_skips_the_holes() {
    const HOLE: u64 = 64 * GIB;
    const CHANGED: u64 = HOLE / 2;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.core");
    let b = dir.path().join("b.core");
    let (captured, hole_address) = core_with_a_hole(&a, HOLE, 0, &[]);
    core_with_a_hole(&b, HOLE, 0, &[CHANGED]);
    let pages_held = (captured + HOLE) / 4096;
    for (other, differing) in [(&a, 0u64), (&b, 1)] {
        let run = run_bounded(
            &[
                os("diff"),
                a.as_os_str(),
                other.as_os_str(),
                os("--format"),
                os("json"),
            ],
            &[],
            Duration::from_secs(240),
        );
        eprintln!(
            "diff of 64 GiB sparse real cores ({differing} page differing): exit {:?}, {:.2} s, peak RSS {} KiB",
            run.code, run.seconds, run.peak_rss_kib
        );
        assert!(run.peak_rss_kib < RSS_BOUND_KIB, "{} KiB", run.peak_rss_kib);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
        let pages = &report["pages"];
        assert_eq!(pages["method"], "captured-ranges", "{pages}");
        assert_eq!(pages["compared"], pages_held, "{pages}");
        assert_eq!(pages["identical"], pages_held - differing, "{pages}");
        assert_eq!(pages["differing"], differing, "{pages}");
        assert_eq!(pages["bytes_compared"], captured + HOLE, "{pages}");
        for kind in ["only_in_a", "only_in_b", "moved", "rearranged"] {
            assert_eq!(pages[kind], 0, "{kind}: {pages}");
        }
        // A's page there is a hole: a zero page, never a moved candidate.
        assert_eq!(pages["zero_pages"]["a"], differing, "{pages}");
        assert_eq!(pages["zero_pages"]["b"], 0, "{pages}");
        let changes: Vec<&serde_json::Value> = pages["regions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["first_differing"].as_array().unwrap())
            .collect();
        if differing == 0 {
            assert!(changes.is_empty(), "{pages}");
            continue;
        }
        assert_eq!(changes.len(), 1, "{pages}");
        let page = format!("{:#x}", hole_address + CHANGED);
        assert_eq!(changes[0]["page"], page.as_str(), "{pages}");
        assert_eq!(changes[0]["first_difference"], page.as_str(), "{pages}");
        assert_eq!(changes[0]["differing_bytes"], 4096, "{pages}");
        assert_eq!(changes[0]["hash_a"], "93d76fe148c689ba", "{pages}");
    }
}

/// Runs `ckdump diff a b --format json` and returns its page report.
fn diff_pages(a: &Path, b: &Path) -> serde_json::Value {
    let run = run_bounded(
        &[
            os("diff"),
            a.as_os_str(),
            b.as_os_str(),
            os("--format"),
            os("json"),
        ],
        &[],
        Duration::from_secs(120),
    );
    let mut report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
    report["pages"].take()
}

/// A copy of `path` with every byte written, holes included: the same
/// bytes, nothing for the file system to call a hole.
fn dense_copy(path: &Path, to: &Path) {
    let mut from = std::fs::File::open(path).unwrap();
    let mut out = std::fs::File::create(to).unwrap();
    std::io::copy(&mut from, &mut out).unwrap();
    use std::os::unix::fs::MetadataExt;
    let meta = out.metadata().unwrap();
    assert!(meta.blocks() * 512 >= meta.len(), "{to:?} is still sparse");
}

/// Holes are counted as the zeros reading them gave, also where the hole's
/// file blocks start and end inside pages of memory (the segment's file
/// offset is skewed by 0x800 and 0x10) and where the other side has data
/// pages in it at, across and between hole boundaries: the page report of
/// sparse cores is the one of the same bytes written out in full.
#[test]
fn holes_count_as_the_zeros_they_read() {
    const HOLE: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    for skew in [0x800, 0x10] {
        let (_, hole_address) = core_with_a_hole(&path("a"), HOLE, skew, &[0x10_0000, 0x20_0800]);
        core_with_a_hole(
            &path("b"),
            HOLE,
            skew,
            &[0x10_0000, 0x10_1000, 0x30_0000, 0x30_1800, HOLE - 0x1000],
        );
        dense_copy(&path("a"), &path("a.dense"));
        dense_copy(&path("b"), &path("b.dense"));
        for (x, y) in [("a", "b"), ("b", "a"), ("a", "a")] {
            let sparse = diff_pages(&path(x), &path(y));
            let dense = diff_pages(&path(&format!("{x}.dense")), &path(&format!("{y}.dense")));
            assert_eq!(sparse, dense, "skew {skew:#x}, {x} against {y}");
        }
        // And what it is: B's pages the same in A at 0x10_0000 only.
        let pages = diff_pages(&path("a"), &path("b"));
        let first = pages["regions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["first_differing"].as_array().unwrap())
            .map(|c| c["page"].as_str().unwrap().to_string())
            .next();
        let expected = format!("{:#x}", (hole_address + 0x10_1000) & !0xfff);
        assert_eq!(first.as_deref(), Some(expected.as_str()), "{pages}");
        assert!(pages["differing"].as_u64().unwrap() >= 5, "{pages}");
    }
}
