//! `verify`'s side of a seal: the saved state compared with its manifest,
//! every difference a finding with a 63xx code.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::manifest::{self, Entry, Manifest, SealedKind};
use super::members::{DirectorySource, FileSource, MemberKind, SealSource};
use super::{Key, default_manifest_path, members};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::Progress;
use crate::verify::{self, Check, Finding};

/// At most this many findings per code are listed; the rest are counted.
const LISTED_PER_CODE: usize = 32;

/// How to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The manifest to use instead of looking in the default places.
    pub manifest: Option<PathBuf>,
    pub key: Option<Key>,
    pub progress: Option<Progress>,
}

/// The manifest that belongs to `image`: `DIR/ckdump-seal.json`,
/// `FILE.ckdump-seal.json`, or for a file inside a CRIU image directory
/// (`core-1.img`) the directory's.
pub fn find_manifest(image: &Path) -> Option<PathBuf> {
    let own = default_manifest_path(image);
    if own.is_file() {
        return Some(own);
    }
    if image.is_file()
        && let Some(dir) = crate::image::criu::image_directory(image)
    {
        let in_dir = dir.join(members::MANIFEST_NAME);
        return in_dir.is_file().then_some(in_dir);
    }
    None
}

/// Compares `image` with its seal. `Ok(None)`: there is no seal and none
/// was asked for (no --seal, no key). An explicit manifest that cannot be
/// opened is an error (exit 2); everything else is findings.
pub fn check(image: &Path, options: &CheckOptions) -> Result<Option<Vec<Finding>>> {
    let manifest_path = match &options.manifest {
        Some(p) => {
            if !p.is_file() {
                return Err(Error::new(p, ErrorKind::NotFound));
            }
            p.clone()
        }
        None => match find_manifest(image) {
            Some(p) => p,
            None if options.key.is_some() => {
                let f = Finding::new(
                    &verify::SEAL_HMAC_MISSING,
                    format!(
                        "a key was given but {} is not sealed (no {})",
                        image.display(),
                        default_manifest_path(image).display()
                    ),
                );
                return Ok(Some(vec![f]));
            }
            None => return Ok(None),
        },
    };
    let mut out = Findings::default();
    let manifest_name = manifest_path.display().to_string();
    let manifest = match read_manifest(&manifest_path) {
        Ok(m) => m,
        Err(why) => {
            out.push(
                &verify::SEAL_MANIFEST_UNREADABLE,
                format!("{manifest_name}: {why}"),
                &manifest_name,
            );
            return Ok(Some(out.finish()));
        }
    };
    match (&options.key, &manifest.hmac) {
        (Some(_), None) => out.push(
            &verify::SEAL_HMAC_MISSING,
            format!("{manifest_name} has no HMAC, so the key cannot authenticate it"),
            &manifest_name,
        ),
        (Some(key), Some(_)) if !manifest.hmac_matches(key.bytes()) => out.push(
            &verify::SEAL_HMAC_MISMATCH,
            format!(
                "the HMAC of {manifest_name} does not match the key: wrong key, or the manifest was edited"
            ),
            &manifest_name,
        ),
        (None, Some(_)) => out.push(
            &verify::SEAL_HMAC_UNCHECKED,
            format!("{manifest_name} carries an HMAC; no key was given to check it"),
            &manifest_name,
        ),
        _ => {}
    }
    // What the manifest sealed decides how `image` is read.
    let source: Box<dyn SealSource> = match manifest.sealed {
        SealedKind::Directory => {
            let dir = if image.is_dir() {
                Some(image.to_path_buf())
            } else {
                crate::image::criu::image_directory(image)
            };
            match dir {
                Some(d) => Box::new(DirectorySource::new(&d)),
                None => {
                    out.push(
                        &verify::SEAL_MANIFEST_UNREADABLE,
                        format!(
                            "{manifest_name} seals a directory, but {} is a single file",
                            image.display()
                        ),
                        &manifest_name,
                    );
                    return Ok(Some(out.finish()));
                }
            }
        }
        SealedKind::File => {
            if !image.is_file() {
                out.push(
                    &verify::SEAL_MANIFEST_UNREADABLE,
                    format!(
                        "{manifest_name} seals a single file, but {} is not one",
                        image.display()
                    ),
                    &manifest_name,
                );
                return Ok(Some(out.finish()));
            }
            Box::new(FileSource::new(image))
        }
    };
    compare(&*source, &manifest, options, &mut out)?;
    Ok(Some(out.finish()))
}

fn read_manifest(path: &Path) -> std::result::Result<Manifest, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > manifest::MAX_MANIFEST_BYTES {
        return Err(format!(
            "{len} bytes, more than any seal ckdump writes ({} MiB)",
            manifest::MAX_MANIFEST_BYTES >> 20
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Manifest::parse(&bytes)
}

/// Members now vs entries then.
fn compare(
    source: &dyn SealSource,
    manifest: &Manifest,
    options: &CheckOptions,
    out: &mut Findings,
) -> Result<()> {
    let location = source.location().to_path_buf();
    let members = source
        .members()
        .map_err(|e| Error::new(&location, ErrorKind::Io(e)))?;
    let mut now: BTreeMap<&str, &MemberKind> = members
        .iter()
        .filter(|m| !matches!(m.kind, MemberKind::Special { .. }))
        .map(|m| (m.name.as_str(), &m.kind))
        .collect();
    let single = manifest.sealed == SealedKind::File;
    let to_hash: u64 = manifest
        .files
        .iter()
        .filter_map(|e| match e {
            Entry::File { size, .. } => Some(*size),
            Entry::Link { .. } => None,
        })
        .sum();
    let progress = options.progress.unwrap_or_else(Progress::hidden);
    let bar = progress.bytes(
        Some(to_hash),
        &format!("checking seal of {}", location.display()),
    );
    for entry in &manifest.files {
        // A single file is compared whatever it is called now.
        let current = if single {
            now.pop_first().map(|(_, k)| k)
        } else {
            now.remove(entry.name())
        };
        let name = entry.name();
        let Some(kind) = current else {
            out.push(
                &verify::SEAL_FILE_MISSING,
                format!("{name} is sealed but no longer there"),
                name,
            );
            continue;
        };
        match (entry, kind) {
            (Entry::Link { target, .. }, MemberKind::Link { target: now }) => {
                if target != now {
                    out.push(
                        &verify::SEAL_FILE_MODIFIED,
                        format!("link {name} pointed to {target} when sealed, now to {now}"),
                        name,
                    );
                }
            }
            (Entry::Link { target, .. }, MemberKind::File { .. }) => out.push(
                &verify::SEAL_FILE_MODIFIED,
                format!("{name} was a link to {target} when sealed, now it is a regular file"),
                name,
            ),
            (Entry::File { .. }, MemberKind::Link { target }) => out.push(
                &verify::SEAL_FILE_MODIFIED,
                format!("{name} was a regular file when sealed, now it is a link to {target}"),
                name,
            ),
            (Entry::File { size, sha256, .. }, MemberKind::File { .. }) => {
                let member_name = if single {
                    String::new()
                } else {
                    name.to_string()
                };
                let bytes = match source.bytes(&member_name) {
                    Ok(b) => b,
                    Err(e) => {
                        out.push(
                            &verify::SEAL_FILE_MISSING,
                            format!("{name} is sealed but cannot be read: {e}"),
                            name,
                        );
                        continue;
                    }
                };
                let len = bytes.len() as u64;
                if len != *size {
                    bar.inc(*size);
                    out.push(
                        &verify::SEAL_FILE_SIZE,
                        format!("{name} was {size} bytes when sealed, now {len}"),
                        name,
                    );
                    continue;
                }
                let digest = super::sha256_streaming(&bytes, &bar);
                if &digest != sha256 {
                    out.push(
                        &verify::SEAL_FILE_MODIFIED,
                        format!(
                            "{name} changed since it was sealed: sha256 {digest}, sealed {sha256}"
                        ),
                        name,
                    );
                }
            }
            (_, MemberKind::Special { .. }) => {}
        }
    }
    bar.finish_and_clear();
    for (name, kind) in now {
        let what = match kind {
            MemberKind::File { size } => format!("{size} bytes"),
            MemberKind::Link { target } => format!("a link to {target}"),
            MemberKind::Special { what } => what.to_string(),
        };
        out.push(
            &verify::SEAL_FILE_ADDED,
            format!("{name} ({what}) was added after sealing"),
            name,
        );
    }
    Ok(())
}

/// Findings with a per-code cap.
#[derive(Default)]
struct Findings {
    list: Vec<Finding>,
    counts: HashMap<&'static str, (&'static Check, usize)>,
}

impl Findings {
    fn push(&mut self, check: &'static Check, message: String, path: &str) {
        let e = self.counts.entry(check.code).or_insert((check, 0));
        e.1 += 1;
        if e.1 <= LISTED_PER_CODE {
            self.list
                .push(Finding::new(check, message).about_path(path.to_string()));
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        let mut over: Vec<_> = self
            .counts
            .into_values()
            .filter(|(_, n)| *n > LISTED_PER_CODE)
            .collect();
        over.sort_by_key(|(c, _)| c.code);
        for (check, n) in over {
            self.list.push(Finding::new(
                check,
                format!(
                    "{} more findings of this check not listed",
                    n - LISTED_PER_CODE
                ),
            ));
        }
        self.list
    }
}
