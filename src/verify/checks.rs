//! Checks on the common model. They know nothing of file formats: threads,
//! regions, modules and memory are all they look at, so every format gets
//! them for free.

use std::path::{Path, PathBuf};

use crate::memory::Bytes;
use crate::model::{FaultCode, Image};
use crate::verify::{self, Finding, Severity};

/// Options for the model checks.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Where the crashed machine's files are; the host's `/` when None.
    pub sysroot: Option<PathBuf>,
}

/// Runs every model check on `image`.
pub fn run(image: &Image, options: &CheckOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    threads(image, &mut out);
    regions(image, &mut out);
    mapped_files(image, options, &mut out);
    out
}

fn threads(image: &Image, out: &mut Vec<Finding>) {
    if image.threads.is_empty() {
        out.push(Finding::new(
            &verify::NO_THREADS,
            "the image holds no threads",
        ));
    }
    if let Some(tid) = image.fault.as_ref().and_then(|f| f.thread)
        && image.thread(tid).is_none()
    {
        out.push(Finding::new(
            &verify::FAULT_THREAD,
            format!("the fault record names thread {tid}, which is not in the image"),
        ));
    }
    let memory = &*image.memory;
    for t in &image.threads {
        if let Some(sp) = t.registers.sp() {
            let problem = match image.region_at(sp) {
                None => Some("is not in any mapping".to_string()),
                Some(r) if !r.protection.write => Some(format!(
                    "lies in a {} region{}, not a writable stack",
                    r.protection.rwx(),
                    r.file
                        .as_ref()
                        .map(|f| format!(" of {}", f.path))
                        .unwrap_or_default()
                )),
                Some(_) if memory.read_u64(sp).is_err() => {
                    Some("points at stack memory whose bytes are not in the image".to_string())
                }
                Some(_) => None,
            };
            if let Some(p) = problem {
                out.push(
                    Finding::new(
                        &verify::THREAD_SP,
                        format!("thread {}: sp {sp:#x} {p}", t.tid),
                    )
                    .at_address(sp),
                );
            }
        }
        if let Some(pc) = t.registers.pc() {
            let problem = match image.region_at(pc) {
                None => Some("is not in any mapping".to_string()),
                Some(r) if !r.protection.execute => Some(format!(
                    "lies in a {} region, not executable code",
                    r.protection.rwx()
                )),
                Some(_) => None,
            };
            if let Some(p) = problem {
                let fault = image.fault.as_ref();
                // A jump to a bad address is the crash itself, not damage.
                let is_the_crash = fault.is_some_and(|f| {
                    f.thread == Some(t.tid)
                        && (f.address == Some(pc)
                            || matches!(f.code, FaultCode::Signal { signo: 11, .. }))
                });
                let mut f = Finding::new(
                    &verify::THREAD_PC,
                    format!("thread {}: pc {pc:#x} {p}", t.tid),
                )
                .at_address(pc);
                if is_the_crash {
                    f = f.with_severity(Severity::Warning);
                }
                out.push(f);
            }
        }
    }
}

fn regions(image: &Image, out: &mut Vec<Finding>) {
    for pair in image.regions.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.start < a.end {
            out.push(
                Finding::new(
                    &verify::REGIONS_OVERLAP,
                    format!(
                        "region {:#x}-{:#x} overlaps {:#x}-{:#x}",
                        a.start, a.end, b.start, b.end
                    ),
                )
                .at_address(b.start),
            );
        }
    }
}

/// Paths that name no file on disk.
fn is_pseudo(path: &str) -> bool {
    !path.starts_with('/')
        || path.starts_with("/dev/")
        || path.starts_with("/memfd:")
        || path.starts_with("/SYSV")
        || path.starts_with("/[")
}

fn mapped_files(image: &Image, options: &CheckOptions, out: &mut Vec<Finding>) {
    for m in &image.modules {
        if let Some(deleted) = m.path.strip_suffix(" (deleted)") {
            out.push(
                Finding::new(
                    &verify::MAPPED_FILE_MISSING,
                    format!("{deleted} was deleted before the dump was taken"),
                )
                .about_path(deleted),
            );
            continue;
        }
        if is_pseudo(&m.path) {
            continue;
        }
        let host = match &options.sysroot {
            Some(root) => crate::symbols::locate::under_root(root, &m.path),
            None => PathBuf::from(&m.path),
        };
        let Ok(meta) = std::fs::metadata(&host) else {
            out.push(
                Finding::new(
                    &verify::MAPPED_FILE_MISSING,
                    format!(
                        "{} is not on this host ({} is missing)",
                        m.path,
                        host.display()
                    ),
                )
                .about_path(&m.path),
            );
            continue;
        };
        if let (Some(want), Some(have)) = (&m.build_id, file_build_id(&host))
            && *want != have
        {
            out.push(
                Finding::new(
                    &verify::MAPPED_FILE_BUILD_ID,
                    format!(
                        "{} has build-id {have}, the dump recorded {want}",
                        host.display()
                    ),
                )
                .about_path(&m.path),
            );
            continue;
        }
        let page_end = meta.len().div_ceil(4096) * 4096;
        for r in image
            .regions
            .iter()
            .filter(|r| r.file.as_ref().is_some_and(|f| f.path == m.path))
        {
            let offset = r.file.as_ref().map(|f| f.offset).unwrap_or(0);
            // Only the file's own pages must exist; a mapping may run past
            // the end into anonymous zero pages (bss) only within one page.
            if offset >= page_end {
                out.push(
                    Finding::new(
                        &verify::MAPPED_FILE_SIZE,
                        format!(
                            "{} maps offset {offset:#x} at {:#x}, but the file on this host has only {} bytes",
                            m.path,
                            r.start,
                            meta.len()
                        ),
                    )
                    .at_address(r.start)
                    .about_path(&m.path),
                );
            }
        }
    }
}

/// The GNU build-id of an ELF file on disk, if it has one.
fn file_build_id(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let bytes = Bytes::map_file(&file).ok()?;
    let parsed = goblin::elf::Elf::parse(&bytes).ok()?;
    for notes in parsed.iter_note_headers(&bytes).into_iter().flatten() {
        let Ok(note) = notes else { break };
        if note.n_type == goblin::elf::note::NT_GNU_BUILD_ID && note.name == "GNU" {
            return Some(crate::symbols::hex(note.desc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::memory::NoMemory;
    use crate::model::*;

    fn image(modules: Vec<Module>, regions: Vec<Region>, threads: Vec<Thread>) -> Image {
        Image {
            path: "test.core".into(),
            format: ImageFormat::ElfCore,
            compression: None,
            size: 0,
            target: Target {
                os: Os::Linux,
                arch: Arch::X86_64,
                kernel: false,
                cpu_count: None,
                os_version: None,
                cpu: None,
            },
            producer: Producer::LinuxKernel,
            process: None,
            threads,
            modules,
            regions,
            fault: None,
            timestamp: None,
            memory: Arc::new(NoMemory),
            details: FormatDetails::default(),
            findings: Vec::new(),
        }
    }

    fn libc(build_id: &str) -> Module {
        Module {
            name: "libc.so.6".into(),
            path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into(),
            base: 0x7000_0000,
            size: 0x1000,
            build_id: Some(build_id.into()),
            load_bias: None,
            sources: vec![ModuleSource::FileMappings],
            is_main: false,
            pe: None,
        }
    }

    fn region(start: u64, end: u64, rwx: (bool, bool, bool)) -> Region {
        Region {
            start,
            end,
            protection: Protection {
                read: rwx.0,
                write: rwx.1,
                execute: rwx.2,
            },
            sharing: Sharing::Unknown,
            file: None,
            capture: Capture::Full,
            image_offset: None,
            windows: None,
        }
    }

    #[test]
    fn stack_and_pc_checks_name_the_thread() {
        let mut regs = RegisterSet::new(Arch::X86_64);
        regs.set_named("rsp", 0x1000);
        regs.set_named("rip", 0x5000);
        let t = Thread {
            tid: 77,
            name: None,
            registers: regs,
            float: None,
            signal: None,
            pending_signals: None,
            blocked_signals: None,
            user_time_us: None,
            system_time_us: None,
        };
        let img = image(
            vec![],
            vec![
                region(0x0, 0x2000, (true, false, true)),
                region(0x1800, 0x3000, (true, true, false)),
            ],
            vec![t],
        );
        let f = run(&img, &CheckOptions::default());
        let msgs: Vec<(&str, &str)> = f.iter().map(|f| (f.code, f.message.as_str())).collect();
        assert_eq!(
            msgs,
            [
                (
                    "CKD-E2001",
                    "thread 77: sp 0x1000 lies in a r-x region, not a writable stack"
                ),
                ("CKD-E2002", "thread 77: pc 0x5000 is not in any mapping"),
                ("CKD-E2005", "region 0x0-0x2000 overlaps 0x1800-0x3000"),
            ]
        );
    }

    #[test]
    fn mapped_file_identity_against_a_sysroot() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/generated/linux-cores/libs/libc.so.6");
        if !shared.exists() {
            eprintln!("notice: ../shared is absent; skipping");
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&shared, dir.join("libc.so.6")).unwrap();
        let opts = CheckOptions {
            sysroot: Some(root.path().to_path_buf()),
        };
        let good = image(
            vec![libc("93ac61ec5a8eb1396f9fbd350e3169a558528a40")],
            vec![],
            vec![],
        );
        let f = run(&good, &opts);
        assert!(
            f.iter()
                .all(|f| !f.code.starts_with("CKD-E3") && !f.code.starts_with("CKD-W3")),
            "{f:?}"
        );
        let bad = image(
            vec![libc("00112233445566778899aabbccddeeff00112233")],
            vec![],
            vec![],
        );
        let f = run(&bad, &opts);
        let ids: Vec<_> = f.iter().filter(|f| f.code == "CKD-E3002").collect();
        assert_eq!(ids.len(), 1, "{f:?}");
        assert!(ids[0].message.contains(
            "has build-id 93ac61ec5a8eb1396f9fbd350e3169a558528a40, the dump recorded 0011"
        ));
        let empty = tempfile::tempdir().unwrap();
        let f = run(
            &good,
            &CheckOptions {
                sysroot: Some(empty.path().to_path_buf()),
            },
        );
        let files: Vec<_> = f
            .iter()
            .filter(|f| f.code.contains("-W3") || f.code.contains("-E3"))
            .collect();
        assert_eq!(files.len(), 1, "{f:?}");
        assert_eq!(files[0].code, "CKD-W3001");
        assert!(
            files[0]
                .message
                .starts_with("/usr/lib/x86_64-linux-gnu/libc.so.6 is not on this host")
        );
    }
}
