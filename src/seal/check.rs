//! `verify`'s side of a seal: the saved state compared with its manifest,
//! every difference a finding with a 63xx code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{self, Entry, Manifest, SealedKind};
use super::members::{DirectorySource, FileSource, MemberKind, SealSource};
use super::{Key, default_manifest_path, members};
use crate::error::{Error, ErrorKind, Result};
use crate::finding::CappedFindings;
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
            // Said as it is: /dev/zero exists, it is just not a manifest.
            let meta = std::fs::metadata(p).map_err(|e| crate::image::stat_error(p, e))?;
            if meta.is_dir() {
                return Err(Error::new(
                    p,
                    ErrorKind::Unsupported(
                        "is a directory; --seal takes the manifest file (ckdump-seal.json)".into(),
                    ),
                ));
            }
            if !meta.is_file() {
                let kind = crate::image::special_kind(&meta.file_type());
                return Err(Error::new(p, ErrorKind::NotRegularFile { kind }));
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

/// Chunks of one file that no longer match, as byte ranges.
struct ChunkDamage {
    name: String,
    /// Merged runs of changed chunks: `(first chunk, end chunk)`.
    runs: Vec<(usize, usize)>,
    chunks: usize,
    chunk_size: u64,
    size: u64,
}

/// A finding in manifest order, or changed chunks waiting for the image to
/// be opened so they can be named in memory.
enum Pending {
    Ready(&'static Check, String, String),
    Chunks(ChunkDamage),
}

impl Pending {
    fn ready(check: &'static Check, message: String, name: &str) -> Pending {
        Pending::Ready(check, message, name.to_string())
    }
}

/// Members now vs entries then.
fn compare(
    source: &dyn SealSource,
    manifest: &Manifest,
    options: &CheckOptions,
    out: &mut Findings,
) -> Result<()> {
    let mut pending = Vec::new();
    compare_members(source, manifest, options, &mut pending)?;
    let damaged = pending.iter().any(|p| matches!(p, Pending::Chunks(_)));
    let single = manifest.sealed == SealedKind::File;
    let image = if damaged {
        open_for_locating(source.location(), single)
    } else {
        None
    };
    // The addresses come from the image as it is now: say so when the files
    // that place pages (pagemap, mm) changed too.
    let placing_changed: Vec<&str> = pending
        .iter()
        .filter_map(|p| match p {
            Pending::Ready(check, _, name)
                if check.code == verify::SEAL_FILE_MODIFIED.code
                    && (name.starts_with("pagemap-") || name.starts_with("mm-")) =>
            {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    let caution = (!placing_changed.is_empty()).then(|| {
        format!(
            " (addresses read from {} as it is now, which changed too)",
            placing_changed.join(" and ")
        )
    });
    for p in pending {
        match p {
            Pending::Ready(check, message, name) => out.push(check, message, &name),
            Pending::Chunks(d) => {
                for (message, offset, address) in
                    damage_findings(&d, image.as_ref(), single, caution.as_deref())
                {
                    out.push_at(
                        &verify::SEAL_FILE_MODIFIED,
                        message,
                        &d.name,
                        offset,
                        address,
                    );
                }
            }
        }
    }
    Ok(())
}

/// The saved state opened to map changed bytes to memory; None when it
/// does not open or its offsets are not the sealed file's. A single file is
/// opened only when it is an uncompressed ELF core: a compressed core's
/// segments sit in the decompressed bytes, and an archive (or a minidump)
/// records no file offsets for memory, so decompressing it would be for
/// nothing.
fn open_for_locating(location: &Path, single: bool) -> Option<crate::model::Image> {
    if single {
        let mut magic = [0u8; 4];
        let mut file = std::fs::File::open(location).ok()?;
        std::io::Read::read_exact(&mut file, &mut magic).ok()?;
        if &magic != b"\x7fELF" {
            return None;
        }
    }
    let options = crate::OpenOptions {
        use_host_files: false,
        ..Default::default()
    };
    let image = crate::open(location, &options).ok()?;
    (!single || image.compression.is_none()).then_some(image)
}

/// One E6301 per run of changed chunks: the byte range, the chunks, and
/// what memory those bytes hold.
fn damage_findings(
    d: &ChunkDamage,
    image: Option<&crate::model::Image>,
    single: bool,
    caution: Option<&str>,
) -> Vec<(String, Option<u64>, Option<u64>)> {
    let name = d.name.as_str();
    d.runs
        .iter()
        .map(|&(first, end)| {
            let start = first as u64 * d.chunk_size;
            let stop = (end as u64 * d.chunk_size).min(d.size);
            let last = d.chunks.saturating_sub(1);
            let which = if end - first == 1 {
                format!("chunk {first} of 0-{last}")
            } else {
                format!("chunks {first}-{} of 0-{last}", end - 1)
            };
            let placed =
                image.and_then(|img| super::locate::describe(img, name, single, start, stop));
            let mut message = format!(
                "{name} bytes {start:#x}..{stop:#x} changed since sealing ({which}, {} each)",
                size_text(d.chunk_size)
            );
            let mut address = None;
            if let Some(p) = placed {
                message.push_str(": ");
                message.push_str(&p.text);
                if let Some(c) = caution {
                    message.push_str(c);
                }
                address = p.first_address;
            }
            (message, Some(start), address)
        })
        .collect()
}

/// `4 MiB`, `8 KiB`, `4097 bytes`.
pub(crate) fn size_text(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Runs of consecutive indices as `(first, end)`.
fn index_runs(sorted: &[usize]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in sorted {
        match runs.last_mut() {
            Some(last) if last.1 == i => last.1 = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs
}

fn compare_members(
    source: &dyn SealSource,
    manifest: &Manifest,
    options: &CheckOptions,
    pending: &mut Vec<Pending>,
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
    let progress = options.progress.clone().unwrap_or_default();
    let threads = super::hashing::threads();
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
            pending.push(Pending::ready(
                &verify::SEAL_FILE_MISSING,
                format!("{name} is sealed but no longer there"),
                name,
            ));
            continue;
        };
        match (entry, kind) {
            (Entry::Link { target, .. }, MemberKind::Link { target: now }) => {
                if target != now {
                    pending.push(Pending::ready(
                        &verify::SEAL_FILE_MODIFIED,
                        format!("link {name} pointed to {target} when sealed, now to {now}"),
                        name,
                    ));
                }
            }
            (Entry::Link { target, .. }, MemberKind::File { .. }) => pending.push(Pending::ready(
                &verify::SEAL_FILE_MODIFIED,
                format!("{name} was a link to {target} when sealed, now it is a regular file"),
                name,
            )),
            (Entry::File { .. }, MemberKind::Link { target }) => pending.push(Pending::ready(
                &verify::SEAL_FILE_MODIFIED,
                format!("{name} was a regular file when sealed, now it is a link to {target}"),
                name,
            )),
            (
                Entry::File {
                    size,
                    sha256,
                    chunks,
                    ..
                },
                MemberKind::File { .. },
            ) => {
                let member_name = if single {
                    String::new()
                } else {
                    name.to_string()
                };
                let bytes = match source.bytes(&member_name) {
                    Ok(b) => b,
                    Err(e) => {
                        pending.push(Pending::ready(
                            &verify::SEAL_FILE_MISSING,
                            format!("{name} is sealed but cannot be read: {e}"),
                            name,
                        ));
                        continue;
                    }
                };
                let len = bytes.len() as u64;
                if len != *size {
                    bar.inc(*size);
                    pending.push(Pending::ready(
                        &verify::SEAL_FILE_SIZE,
                        format!("{name} was {size} bytes when sealed, now {len}"),
                        name,
                    ));
                    continue;
                }
                // With chunk digests (the manifest parsed: one per chunk,
                // the file exactly `size` bytes), the chunks are checked on
                // every core and the whole-file digest is not recomputed.
                // It need not be: the file is the concatenation of its
                // chunks, and seal computed both kinds of digest from the
                // same bytes in one pass, so all chunks matching means
                // (SHA-256 being collision-resistant) the bytes are the
                // sealed ones and so is their whole-file digest. A manifest
                // edited to disagree with itself is caught by its HMAC like
                // any other edit; without a key, whoever can edit it could
                // as well rewrite both digests.
                if let (Some(chunks), Some(chunk_size)) = (chunks, manifest.chunk_size) {
                    let expected: Vec<[u8; 32]> = chunks
                        .iter()
                        .map(|c| manifest::digest_bytes(c).unwrap_or_default())
                        .collect();
                    let chunk = usize::try_from(chunk_size).unwrap_or(usize::MAX);
                    let changed =
                        super::hashing::changed_chunks(&bytes, chunk, &expected, threads, &bar);
                    if !changed.is_empty() {
                        pending.push(Pending::Chunks(ChunkDamage {
                            name: name.to_string(),
                            runs: index_runs(&changed),
                            chunks: expected.len(),
                            chunk_size,
                            size: *size,
                        }));
                    }
                    continue;
                }
                let digest = super::sha256_streaming(&bytes, &bar);
                if &digest != sha256 {
                    pending.push(Pending::ready(
                        &verify::SEAL_FILE_MODIFIED,
                        format!(
                            "{name} changed since it was sealed: sha256 {digest}, sealed {sha256}"
                        ),
                        name,
                    ));
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
        pending.push(Pending::ready(
            &verify::SEAL_FILE_ADDED,
            format!("{name} ({what}) was added after sealing"),
            name,
        ));
    }
    Ok(())
}

/// The seal check's findings, capped per code, each about a sealed path.
struct Findings(CappedFindings);

impl Default for Findings {
    fn default() -> Self {
        Findings(CappedFindings::new(LISTED_PER_CODE))
    }
}

impl Findings {
    fn push(&mut self, check: &'static Check, message: String, path: &str) {
        self.push_at(check, message, path, None, None);
    }

    fn push_at(
        &mut self,
        check: &'static Check,
        message: String,
        path: &str,
        offset: Option<u64>,
        address: Option<u64>,
    ) {
        let mut f = Finding::new(check, message).about_path(path.to_string());
        f.location.offset = offset;
        f.location.address = address;
        self.0.push(check, f);
    }

    fn finish(self) -> Vec<Finding> {
        self.0.finish()
    }
}
