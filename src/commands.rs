//! The five commands as library calls: options in, a report out. The CLI
//! only parses arguments into these options, picks a renderer and maps the
//! outcome to an exit code; a program embedding ckdump calls the same
//! functions and gets the same reports.

use std::path::{Path, PathBuf};

use crate::analysis;
use crate::error::{Error, ErrorKind};
use crate::finding::{Finding, RunFacts};
use crate::image::{self, OpenOptions};
use crate::model::{Image, ImageFormat};
use crate::progress::Progress;
use crate::report::{InspectReport, VerifyReport};
use crate::symbols::SymbolConfig;
use crate::verify::{self, restore};

/// What to open: a saved state on disk, or a running process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An ELF core, minidump, kernel dump, CRIU directory or checkpoint
    /// archive.
    Path(PathBuf),
    /// Several files that together hold one image: the parts of a
    /// makedumpfile `--split` kernel dump, in any order (told by content).
    Parts(Vec<PathBuf>),
    /// A live process, stopped with ptrace for the time of the report.
    Pid(u64),
    /// The running kernel, read through /proc/kcore (root).
    Kernel,
}

/// `inspect`'s options: what the report holds and where symbols are.
pub type InspectOptions = analysis::InspectOptions;

/// The post-mortem report of one saved state or live process.
///
/// Fails when the input cannot be read, or when `options.thread` names a
/// thread the image does not hold ([`ErrorKind::NoSuchThread`]).
pub fn inspect(input: &Input, options: &InspectOptions) -> Result<InspectReport, Error> {
    let open_options = || OpenOptions {
        sysroot: options.symbols.sysroot.clone(),
        progress: options.progress.clone().unwrap_or_default(),
        ..Default::default()
    };
    match input {
        Input::Path(path) => inspect_image(&image::open(path, &open_options())?, options),
        Input::Parts(paths) => inspect_image(&image::open_set(paths, &open_options())?, options),
        Input::Pid(pid) => inspect_pid(*pid, options),
        Input::Kernel => inspect_kernel(options),
    }
}

#[cfg(target_os = "linux")]
fn inspect_kernel(options: &InspectOptions) -> Result<InspectReport, Error> {
    inspect_image(&crate::live::kernel::open()?, options)
}

#[cfg(not(target_os = "linux"))]
fn inspect_kernel(_: &InspectOptions) -> Result<InspectReport, Error> {
    Err(Error::new(
        Path::new("/proc/kcore"),
        ErrorKind::Unsupported("the running kernel can be read on Linux only".into()),
    ))
}

#[cfg(target_os = "linux")]
fn inspect_pid(pid: u64, options: &InspectOptions) -> Result<InspectReport, Error> {
    // The process stays stopped until the report is built, then resumes
    // when `live` is dropped.
    let live = crate::live::attach(pid)?;
    let image = live.image();
    let report = inspect_image(&image, options);
    drop(image);
    drop(live);
    report
}

#[cfg(not(target_os = "linux"))]
fn inspect_pid(pid: u64, _: &InspectOptions) -> Result<InspectReport, Error> {
    Err(live_unsupported(pid))
}

fn inspect_image(image: &Image, options: &InspectOptions) -> Result<InspectReport, Error> {
    // A kernel dump's `--process` view is built later: its threads are
    // checked there.
    if let Some(tid) = options.thread
        && options.process.is_none()
        && image.processes().all(|p| p.thread(tid).is_none())
    {
        let available = image
            .processes()
            .flat_map(|p| &p.threads)
            .map(|t| t.tid)
            .collect();
        return Err(Error::new(
            &image.path,
            ErrorKind::NoSuchThread { tid, available },
        ));
    }
    Ok(analysis::inspect(image, options))
}

/// `verify`'s options.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A copy of the dumping machine's files: mapped files are compared
    /// with the image there instead of under `/`, and symbols read from it.
    pub sysroot: Option<PathBuf>,
    /// Check restore readiness onto this root filesystem (`--root`).
    pub root: Option<PathBuf>,
    /// The restore host's CPU (from a copy of its /proc/cpuinfo); this
    /// host's when None.
    pub cpu: Option<restore::HostCpu>,
    /// Require symbols for every module on a stack, looked up here.
    pub symbols: Option<SymbolConfig>,
    /// The seal manifest to check instead of the default places.
    pub seal_manifest: Option<PathBuf>,
    /// The HMAC key the seal was made with.
    pub seal_key: Option<crate::seal::Key>,
    pub progress: Option<Progress>,
}

/// A verify run that could not open the image. The seal may still have
/// been checked (it says whether the files are the ones sealed even when
/// they no longer open): then `report` holds its findings.
#[derive(Debug)]
pub struct VerifyFailure {
    pub error: Error,
    pub report: Option<Box<VerifyReport>>,
}

impl From<Error> for VerifyFailure {
    fn from(error: Error) -> Self {
        VerifyFailure {
            error,
            report: None,
        }
    }
}

/// Checks a saved state before anyone trusts or restores it: the seal
/// (when one is present or given), the reader's structural findings, and
/// the checks on the model. Every registered check is in the report with
/// its outcome: failed, passed, or not applicable to what this run had.
pub fn verify(path: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyFailure> {
    verify_set(&[path.to_path_buf()], options)
}

/// [`verify`] of an image held in several files: the parts of a
/// makedumpfile `--split` dump, in any order. Each part's own seal is
/// checked where it has one; the report is named after the first path.
pub fn verify_set(
    paths: &[PathBuf],
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyFailure> {
    let Some(first) = paths.first() else {
        return Err(Error::new(
            Path::new(""),
            ErrorKind::Unsupported("no image given".into()),
        )
        .into());
    };
    let progress = options.progress.clone().unwrap_or_default();
    if paths.len() > 1 && options.seal_manifest.is_some() {
        return Err(Error::new(
            first,
            ErrorKind::Unsupported(
                "--seal names the manifest of one file; the parts of a split dump are each checked \
                 against their own FILE.ckdump-seal.json"
                    .into(),
            ),
        )
        .into());
    }
    let seal_options = crate::seal::CheckOptions {
        manifest: options.seal_manifest.clone(),
        key: options.seal_key.clone(),
        progress: Some(progress.clone()),
    };
    let mut seal_findings: Option<Vec<Finding>> = None;
    for path in paths {
        if let Some(found) = crate::seal::check(path, &seal_options)? {
            seal_findings.get_or_insert_with(Vec::new).extend(found);
        }
    }
    let shown_path = first.display().to_string();
    let open_options = OpenOptions {
        sysroot: options.sysroot.clone(),
        progress: progress.clone(),
        thorough: true,
        ..Default::default()
    };
    let image = match image::open_set(paths, &open_options) {
        Ok(image) => image,
        Err(error) => {
            let report = seal_findings.map(|found| {
                let facts = RunFacts {
                    sealed: true,
                    ..RunFacts::default()
                };
                Box::new(verify::report(&shown_path, None, found, &facts))
            });
            return Err(VerifyFailure { error, report });
        }
    };
    let facts = RunFacts {
        opened: true,
        kernel: image.target.kernel,
        elf_core: image.format == ImageFormat::ElfCore,
        minidump: image.format == ImageFormat::Minidump,
        // A checkpoint archive holds CRIU images: their checks apply too.
        criu_images: matches!(
            image.format,
            ImageFormat::CriuImages | ImageFormat::ContainerCheckpoint
        ),
        container_checkpoint: image.format == ImageFormat::ContainerCheckpoint,
        restore_target: options.root.is_some() && image.process.checkpoint.is_some(),
        with_symbols: options.symbols.is_some(),
        sealed: seal_findings.is_some(),
        vmcore: image.format == ImageFormat::Vmcore,
        makedumpfile: image.details.kernel.as_ref().is_some_and(|k| {
            matches!(
                k.format,
                crate::model::VmcoreFormat::KdumpCompressed | crate::model::VmcoreFormat::Flattened
            )
        }),
        kdump_split: image
            .details
            .kernel
            .as_ref()
            .is_some_and(|k| !k.split_parts.is_empty()),
    };
    let mut findings: Vec<Finding> = image.findings.clone();
    findings.extend(seal_findings.into_iter().flatten());
    findings.extend(verify::checks::run(
        &image,
        &verify::checks::CheckOptions {
            sysroot: options.sysroot.clone(),
            symbols: options.symbols.clone(),
            restore: restore::RestoreTarget {
                root: options.root.clone(),
                cpu: options.cpu.clone(),
            },
            progress: progress.clone(),
        },
    ));
    Ok(verify::report(
        &shown_path,
        Some(analysis::summarize(&image)),
        findings,
        &facts,
    ))
}

/// Compares two saved states (any pairing of formats ckdump opens).
pub fn diff(
    a: &Path,
    b: &Path,
    open_options: &OpenOptions,
    options: &crate::diff::DiffOptions,
) -> Result<crate::diff::DiffReport, Error> {
    let image_a = image::open(a, open_options)?;
    let image_b = image::open(b, open_options)?;
    Ok(crate::diff::diff(&image_a, &image_b, options))
}

/// Seals a saved state: a manifest of SHA-256 digests (and chunk digests),
/// optionally authenticated.
pub fn seal(
    path: &Path,
    options: &crate::seal::SealOptions,
) -> Result<crate::seal::SealOutcome, Error> {
    crate::seal::seal(path, options)
}

/// Saves a running process as an ELF core file at `output`; the process
/// resumes afterwards, whether saving succeeded or not.
#[cfg(target_os = "linux")]
pub fn snapshot(
    pid: u64,
    output: &Path,
    progress: Progress,
) -> Result<crate::live::snapshot::SnapshotSummary, Error> {
    let live = crate::live::attach(pid)?;
    let result = live.snapshot(output, progress);
    // Resume the process before anything else, error or not.
    live.detach();
    result
}

#[cfg(not(target_os = "linux"))]
fn live_unsupported(pid: u64) -> Error {
    Error::new(
        &PathBuf::from(format!("pid {pid}")),
        ErrorKind::Unsupported("live processes can be read on Linux only".into()),
    )
}
