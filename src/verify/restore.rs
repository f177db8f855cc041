//! Restore readiness of a checkpoint: would `criu restore` of this image
//! succeed on this host, or onto a container rootfs (`--root DIR`)?
//!
//! Works on the model and the checkpoint facts a reader filled
//! ([`crate::model::CheckpointInfo`]); formats without them get nothing.
//! Three groups:
//! - the files the checkpoint refers to, as criu restore checks them when
//!   it reopens them: present, same size, same st_mode, same build-id;
//! - the pages: everything the pagemaps list must be held by some file,
//!   and pages the process certainly wrote must be listed at all;
//! - the CPU: the XSAVE components the saved FPU state uses must be
//!   enabled where the restore runs.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::analysis::region_name::{RegionName, name_region};
use crate::memory::MemoryError;
use crate::model::{Arch, CheckpointInfo, Image, ProcessView, ReferencedFile, Region};
use crate::verify::{self, Finding};

/// Where the restore would happen.
#[derive(Debug, Clone, Default)]
pub struct RestoreTarget {
    /// The restore's root filesystem; None: only the image's own pages are
    /// checked (no files, no CPU).
    pub root: Option<PathBuf>,
    /// The CPU's enabled XSAVE components; None: this host's.
    pub cpu: Option<HostCpu>,
}

/// What a restore host's CPU (and kernel) enable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCpu {
    /// Enabled XSAVE components (XCR0, or derived from cpuinfo flags).
    pub xfeatures: u64,
    /// Where the mask comes from, for messages.
    pub source: String,
    /// `x86_64`, `aarch64`… when known.
    pub arch: Option<String>,
}

/// Symlinks followed while resolving one path inside a root.
const MAX_LINKS: usize = 40;
/// Threads named in one CPU finding before "and N more".
const LISTED_THREADS: usize = 8;

/// Runs the restore checks that apply to `image`.
pub fn run(image: &Image, target: &RestoreTarget) -> Vec<Finding> {
    let process = &image.process;
    let Some(cp) = process.checkpoint.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    pages(process, cp, &mut out);
    written_pages(process, cp, &mut out);
    if let Some(root) = &target.root {
        for f in &cp.files {
            file(process, root, f, &mut out);
        }
        let host;
        let cpu = match &target.cpu {
            Some(c) => c,
            None => {
                host = this_host_cpu();
                &host
            }
        };
        cpu_features(image.target.arch, cp, cpu, &mut out);
    }
    out
}

/// The restore checks of one more process of a tree: its pages. Files and
/// CPU state are checked once, for the whole tree, by [`run`] on the root.
pub fn run_process(process: &ProcessView) -> Vec<Finding> {
    let Some(cp) = process.checkpoint.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    pages(process, cp, &mut out);
    written_pages(process, cp, &mut out);
    out
}

// --- files ---

/// Paths a container runtime provides by mounts (devices, procfs, sysfs),
/// not the rootfs: not checked under a `--root` other than `/`.
fn runtime_provided(path: &str) -> bool {
    ["/dev/", "/proc/", "/sys/", "/run/"]
        .iter()
        .any(|p| path.starts_with(p))
        || path == "/dev"
        || path == "/proc"
        || path == "/sys"
}

/// `path` (absolute, as the dumped process saw it) inside `root`, with
/// symlinks resolved inside the root the way a chroot would: an absolute
/// link target starts again at `root`, `..` never leaves it. None when a
/// component is missing or the links loop.
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .rev()
        .collect();
    let mut at = root.to_path_buf();
    let mut depth = 0usize;
    let mut links = 0usize;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                if depth > 0 {
                    at.pop();
                    depth -= 1;
                }
                continue;
            }
            _ => {}
        }
        let next = at.join(&c);
        let meta = std::fs::symlink_metadata(&next).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return None;
            }
            let target = std::fs::read_link(&next).ok()?;
            if target.is_absolute() {
                at = root.to_path_buf();
                depth = 0;
            }
            // The link's components come next, before the rest.
            let parts: Vec<String> = target
                .components()
                .filter_map(|p| match p {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    Component::ParentDir => Some("..".into()),
                    _ => None,
                })
                .collect();
            pending.extend(parts.into_iter().rev());
        } else {
            at = next;
            depth += 1;
        }
    }
    Some(at)
}

fn describe_uses(f: &ReferencedFile) -> String {
    if f.uses.is_empty() {
        return String::new();
    }
    format!(" ({})", f.uses.join(", "))
}

fn file(process: &ProcessView, root: &Path, f: &ReferencedFile, out: &mut Vec<Finding>) {
    let path = f.path.as_str();
    // CRIU keeps deleted files' contents in the images (ghost files) and
    // recreates them itself; memfds and the like are not on any disk.
    if path.ends_with(" (deleted)") || !path.starts_with('/') {
        return;
    }
    let host_root = root == Path::new("/");
    if !host_root && runtime_provided(path) {
        return;
    }
    let where_ = if host_root {
        "on this host".to_string()
    } else {
        format!("under the root {}", root.display())
    };
    let uses = describe_uses(f);
    let Some(resolved) = resolve_in_root(root, path) else {
        out.push(
            Finding::new(
                &verify::RESTORE_FILE_MISSING,
                format!("{path}{uses} is not {where_}"),
            )
            .about_path(path),
        );
        return;
    };
    let Ok(meta) = std::fs::metadata(&resolved) else {
        out.push(
            Finding::new(
                &verify::RESTORE_FILE_MISSING,
                format!("{path}{uses} is not {where_}"),
            )
            .about_path(path),
        );
        return;
    };
    if let Some(mode) = f.mode
        && meta.mode() != mode
    {
        out.push(
            Finding::new(
                &verify::RESTORE_FILE_MODE,
                format!(
                    "{path}{uses} has mode {:o} {where_}, the checkpoint recorded {mode:o}",
                    meta.mode()
                ),
            )
            .about_path(path),
        );
    }
    if let Some(size) = f.size
        && meta.is_file()
        && meta.len() != size
    {
        out.push(
            Finding::new(
                &verify::RESTORE_FILE_SIZE,
                format!(
                    "{path}{uses} has {} bytes {where_}, the checkpoint recorded {size}",
                    meta.len()
                ),
            )
            .about_path(path),
        );
    }
    if !meta.is_file() {
        return;
    }
    // The identity: the build-id CRIU recorded, else the one the model
    // read from the mapped ELF header in memory.
    let want = f.build_id.clone().or_else(|| {
        process
            .modules
            .iter()
            .find(|m| m.path == f.path)
            .and_then(|m| m.build_id.clone())
    });
    if let Some(want) = want
        && let Some(have) = super::host_files::file_build_id(&resolved)
        && !want.eq_ignore_ascii_case(&have)
    {
        out.push(
            Finding::new(
                &verify::MAPPED_FILE_BUILD_ID,
                format!(
                    "{path}{uses} has build-id {have} {where_}, the checkpoint recorded {want}"
                ),
            )
            .about_path(path),
        );
    }
}

// --- pages ---

fn describe_region(r: &Region, heap: Option<(u64, u64)>) -> String {
    let what = match name_region(r, heap) {
        RegionName::File(path) => format!("of {path}"),
        other => other.text(),
    };
    format!(
        "{} region {:#x}-{:#x} {what}",
        r.protection.rwx(),
        r.start,
        r.end
    )
}

/// Listed pages no file holds.
fn pages(process: &ProcessView, cp: &CheckpointInfo, out: &mut Vec<Finding>) {
    for v in cp.vmas.iter().filter(|v| v.counts.missing > 0) {
        let region = process.regions.iter().find(|r| r.start == v.start);
        let what = region.map_or_else(
            || format!("region {:#x}-{:#x}", v.start, v.end),
            |r| describe_region(r, cp.heap),
        );
        let parent_too = cp.pages.in_parent > 0 || !cp.parent_present && cp.parent.is_some();
        let why = if parent_too {
            "past the end of the pages file, or in a parent snapshot that lacks them"
        } else {
            "past the end of the pages file"
        };
        let f = Finding::new(
            &verify::RESTORE_PAGES_UNAVAILABLE,
            format!(
                "{what}: {} of its {} listed pages are held by no file ({why})",
                v.counts.missing,
                v.counts.listed()
            ),
        )
        .at_address(v.start);
        // Pages past the end of a cut pages file: the cut is the finding.
        out.push(if parent_too { f } else { f.from_lost_bytes() });
    }
}

/// Whether `address` is unreadable because no pagemap entry lists its page
/// (as opposed to a listed page that is missing or lazy).
fn unlisted(process: &ProcessView, cp: &CheckpointInfo, address: u64) -> bool {
    let Some(v) = cp
        .vmas
        .iter()
        .find(|v| v.start <= address && address < v.end)
    else {
        return false;
    };
    let mut byte = [0u8; 1];
    matches!(
        process.memory.read(address, &mut byte),
        Err(MemoryError::NotCaptured { .. })
    ) && v.counts.missing == 0
        && v.counts.lazy == 0
}

/// Pages the process certainly wrote must be in the pagemap. CRIU dumps a
/// private page when the kernel's pagemap shows it present or swapped and
/// it is not the shared zero page, or when it is file-backed and was
/// written (copied on write); pages never touched are left out and come
/// back as zero-fill or file contents on restore, which is right for them.
/// So an absent page proves nothing in general — bss and most of a heap
/// may never be touched. Only pages no running process can have left
/// untouched are judged: the one each thread's stack pointer is in (the
/// thread was running on it) and the first page of a grown brk heap
/// (malloc writes its first chunk header there).
fn written_pages(process: &ProcessView, cp: &CheckpointInfo, out: &mut Vec<Finding>) {
    for t in &process.threads {
        let Some(sp) = t.registers.sp() else { continue };
        if unlisted(process, cp, sp) {
            out.push(
                Finding::new(
                    &verify::RESTORE_WRITTEN_PAGES,
                    format!(
                        "thread {}: the stack page at sp {sp:#x} is in no pagemap entry",
                        t.tid
                    ),
                )
                .at_address(sp),
            );
        }
    }
    if let Some((start, brk)) = cp.heap
        && brk > start
        && unlisted(process, cp, start)
    {
        out.push(
            Finding::new(
                &verify::RESTORE_WRITTEN_PAGES,
                format!(
                    "the heap {start:#x}-{brk:#x} has grown, but its first page is in no pagemap entry"
                ),
            )
            .at_address(start),
        );
    }
}

// --- CPU ---

/// Names of the user XSAVE components (Intel SDM vol. 1 ch. 13).
fn xfeature_name(bit: u32) -> String {
    match bit {
        0 => "x87".into(),
        1 => "SSE".into(),
        2 => "AVX".into(),
        3 => "MPX BNDREGS".into(),
        4 => "MPX BNDCSR".into(),
        5 => "AVX-512 opmask".into(),
        6 => "AVX-512 ZMM_Hi256".into(),
        7 => "AVX-512 Hi16_ZMM".into(),
        9 => "PKRU".into(),
        11 => "CET user".into(),
        17 => "AMX TILECFG".into(),
        18 => "AMX TILEDATA".into(),
        19 => "APX".into(),
        n => format!("component {n}"),
    }
}

/// Names of the bits of `mask`, lowest first.
pub fn xfeature_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| format!("{} (bit {b})", xfeature_name(b)))
        .collect()
}

/// The XSAVE components the kernel enables, from `/proc/cpuinfo` flags
/// (the kernel clears a flag when it does not enable the component).
pub fn xfeatures_from_flags(flags: &[&str]) -> u64 {
    let has = |f: &str| flags.contains(&f);
    let mut mask = 0u64;
    for (flag, bits) in [
        ("fpu", 1u64 << 0),
        ("sse", 1 << 1),
        ("avx", 1 << 2),
        ("mpx", (1 << 3) | (1 << 4)),
        ("avx512f", (1 << 5) | (1 << 6) | (1 << 7)),
        ("ospke", 1 << 9),
        ("amx_tile", (1 << 17) | (1 << 18)),
    ] {
        if has(flag) {
            mask |= bits;
        }
    }
    mask
}

/// A restore host's CPU from the text of its `/proc/cpuinfo` (the first
/// `flags` line); `source` names the file in messages.
pub fn cpu_from_cpuinfo(text: &str, source: &str) -> Option<HostCpu> {
    let line = text
        .lines()
        .find(|l| l.starts_with("flags") && l.contains(':'))?;
    let flags: Vec<&str> = line.split(':').nth(1)?.split_whitespace().collect();
    // x86 cpuinfo has `flags`; aarch64 has `Features`.
    let arch = flags.contains(&"lm").then(|| "x86_64".to_string());
    Some(HostCpu {
        xfeatures: xfeatures_from_flags(&flags),
        source: format!("the flags in {source}"),
        arch,
    })
}

/// This host: XCR0 read with XGETBV when the OS enabled XSAVE, else the
/// flags of /proc/cpuinfo.
pub fn this_host_cpu() -> HostCpu {
    if let Some(xcr0) = xcr0() {
        return HostCpu {
            xfeatures: xcr0,
            source: format!("this host (XCR0 {xcr0:#x})"),
            arch: Some(std::env::consts::ARCH.to_string()),
        };
    }
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut cpu = cpu_from_cpuinfo(&text, "/proc/cpuinfo").unwrap_or(HostCpu {
        xfeatures: 0,
        source: "this host (no XSAVE)".into(),
        arch: None,
    });
    cpu.arch = Some(std::env::consts::ARCH.to_string());
    cpu
}

#[cfg(target_arch = "x86_64")]
fn xcr0() -> Option<u64> {
    use std::arch::x86_64::{__cpuid, _xgetbv};
    // CPUID.1:ECX.OSXSAVE[bit 27]: the OS set CR4.OSXSAVE, so XGETBV is
    // allowed and XCR0 says which components it enabled.
    let leaf1 = __cpuid(1);
    if leaf1.ecx & (1 << 27) == 0 {
        return None;
    }
    #[target_feature(enable = "xsave")]
    unsafe fn read_xcr0() -> u64 {
        // SAFETY: OSXSAVE is set (checked by the caller), so XGETBV with
        // ECX=0 does not fault.
        unsafe { _xgetbv(0) }
    }
    // SAFETY: see above; the xsave target feature is implied by OSXSAVE.
    Some(unsafe { read_xcr0() })
}

#[cfg(not(target_arch = "x86_64"))]
fn xcr0() -> Option<u64> {
    None
}

/// The kernel loads each thread's saved FPU state through sigreturn when
/// criu's restorer resumes it; it rejects an XSAVE header whose XSTATE_BV
/// names components it does not enable (older kernels drop them
/// silently, losing that state). Every thread of every task is checked.
fn cpu_features(arch: Arch, cp: &CheckpointInfo, cpu: &HostCpu, out: &mut Vec<Finding>) {
    if let Some(host) = &cpu.arch {
        let same = match arch {
            crate::model::Arch::X86_64 | crate::model::Arch::X86 => host == "x86_64",
            other => host == other.name(),
        };
        if !same {
            out.push(Finding::new(
                &verify::RESTORE_CPU_FEATURES,
                format!(
                    "the checkpoint is of an {} process; {} is {host}",
                    arch.name(),
                    cpu.source
                ),
            ));
            return;
        }
    }
    // Threads grouped by the components the host lacks.
    let mut lacking: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for x in &cp.xstate {
        let missing = x.xstate_bv & !cpu.xfeatures;
        if missing != 0 {
            lacking.entry(missing).or_default().push(x.tid);
        }
    }
    for (missing, tids) in lacking {
        let listed: Vec<String> = tids
            .iter()
            .take(LISTED_THREADS)
            .map(u64::to_string)
            .collect();
        let more = if tids.len() > LISTED_THREADS {
            format!(" and {} more", tids.len() - LISTED_THREADS)
        } else {
            String::new()
        };
        let plural = if tids.len() == 1 { "" } else { "s" };
        out.push(Finding::new(
            &verify::RESTORE_CPU_FEATURES,
            format!(
                "thread{plural} {}{more}: the saved FPU state uses {}, which {} does not enable (XSTATE_BV has {missing:#x} beyond {:#x})",
                listed.join(", "),
                xfeature_names(missing).join(", "),
                cpu.source,
                cpu.xfeatures
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfeature_bits_from_cpuinfo_flags() {
        // The fixture guest's flags (QEMU TCG -cpu max): mpx, pku/ospke,
        // avx, no AVX-512.
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/criu/reference/guest/system.txt"),
        )
        .unwrap();
        let cpu = cpu_from_cpuinfo(&text, "system.txt").unwrap();
        assert_eq!(cpu.xfeatures, 0x21f);
        assert_eq!(cpu.arch.as_deref(), Some("x86_64"));
        assert_eq!(
            xfeature_names(0x230),
            [
                "MPX BNDCSR (bit 4)",
                "AVX-512 opmask (bit 5)",
                "PKRU (bit 9)"
            ]
        );
    }

    #[test]
    fn paths_resolve_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::write(r.join("usr/lib/libc.so.6"), b"x").unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        // An absolute link target starts again at the root, not at the
        // host's /.
        std::os::unix::fs::symlink("/usr/lib/libc.so.6", r.join("usr/lib/libc.so")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", r.join("usr/lib/escape")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert_eq!(
            resolve_in_root(r, "/lib/libc.so.6"),
            Some(r.join("usr/lib/libc.so.6"))
        );
        assert_eq!(
            resolve_in_root(r, "/usr/lib/libc.so"),
            Some(r.join("usr/lib/libc.so.6"))
        );
        assert_eq!(resolve_in_root(r, "/usr/lib/escape"), None);
        assert_eq!(resolve_in_root(r, "/loop"), None);
        assert_eq!(resolve_in_root(r, "/"), Some(r.to_path_buf()));
    }
}
