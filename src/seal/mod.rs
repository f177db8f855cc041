//! Integrity seals: `ckdump seal` records the SHA-256 of every file of a
//! saved state in a manifest, optionally authenticated with an HMAC, and
//! `ckdump verify` compares the saved state with it.
//!
//! Where the manifest lives: `DIR/ckdump-seal.json` inside a sealed
//! directory (every file in it, recursively; links recorded, not
//! followed), `FILE.ckdump-seal.json` beside a sealed single file (an ELF
//! core, a minidump, a checkpoint archive as a whole), or anywhere with
//! `--output` / `verify --seal`.

mod check;
pub mod hashing;
mod locate;
pub mod manifest;
pub mod members;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};
use crate::memory::Bytes;
use crate::progress::Progress;

pub(crate) use check::size_text;
pub use check::{CheckOptions, check};
pub use manifest::{Entry, Manifest, SealedKind};
pub use members::{DirectorySource, FileSource, Member, MemberKind, SealSource};

/// A secret for the manifest's HMAC.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// The key bytes of a file; one trailing newline (`\n` or `\r\n`, as
    /// `echo secret > key` leaves it) is not part of the key.
    pub fn from_file(path: &Path) -> std::result::Result<Key, String> {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
        if meta.len() > 1 << 20 {
            return Err(format!(
                "key file {} is larger than 1 MiB; is it the right file?",
                path.display()
            ));
        }
        let mut bytes =
            std::fs::read(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(bytes.len() - 2);
        } else if bytes.ends_with(b"\n") {
            bytes.truncate(bytes.len() - 1);
        }
        Key::from_bytes(bytes).map_err(|e| format!("key file {}: {e}", path.display()))
    }

    /// The value of environment variable `var`.
    pub fn from_env(var: &str) -> std::result::Result<Key, String> {
        use std::os::unix::ffi::OsStringExt;
        match std::env::var_os(var) {
            Some(v) => Key::from_bytes(v.into_vec())
                .map_err(|e| format!("environment variable {var}: {e}")),
            None => Err(format!("environment variable {var} is not set")),
        }
    }

    pub fn from_bytes(bytes: Vec<u8>) -> std::result::Result<Key, String> {
        if bytes.is_empty() {
            Err("the key is empty".into())
        } else {
            Ok(Key(bytes))
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Where the manifest of `path` goes by default: inside a directory, or
/// beside a file.
pub fn default_manifest_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(members::MANIFEST_NAME)
    } else {
        let mut name = path.as_os_str().to_os_string();
        name.push(members::SIDECAR_SUFFIX);
        PathBuf::from(name)
    }
}

/// How to seal.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    pub key: Option<Key>,
    /// Write the manifest here instead of the default place.
    pub output: Option<PathBuf>,
    pub progress: Option<Progress>,
    /// Bytes per chunk digest; None: [`manifest::DEFAULT_CHUNK_SIZE`].
    pub chunk_size: Option<u64>,
}

/// What `seal` did.
#[derive(Debug, Clone)]
pub struct SealOutcome {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    /// Bytes hashed.
    pub bytes: u64,
    pub seconds: f64,
    /// Members left out (FIFOs, sockets, devices), with what they are.
    pub skipped: Vec<(String, &'static str)>,
    /// A manifest was already there and was replaced.
    pub replaced: bool,
}

/// Seals the directory or file at `path`.
pub fn seal(path: &Path, options: &SealOptions) -> Result<SealOutcome> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(path, ErrorKind::NotFound)
        } else {
            Error::new(path, ErrorKind::Io(e))
        }
    })?;
    let (source, sealed): (Box<dyn SealSource>, SealedKind) = if meta.is_dir() {
        (Box::new(DirectorySource::new(path)), SealedKind::Directory)
    } else if meta.is_file() {
        (Box::new(FileSource::new(path)), SealedKind::File)
    } else {
        let kind = crate::image::special_kind(&meta.file_type());
        return Err(Error::new(path, ErrorKind::NotRegularFile { kind }));
    };
    let manifest_path = options
        .output
        .clone()
        .unwrap_or_else(|| default_manifest_path(path));
    let progress = options.progress.clone().unwrap_or_default();
    let chunk_size = options.chunk_size.unwrap_or(manifest::DEFAULT_CHUNK_SIZE);
    if !manifest::valid_chunk_size(chunk_size) {
        return Err(Error::new(
            path,
            ErrorKind::Unsupported(format!(
                "chunk size {chunk_size} is not a power of two from {} to {}",
                manifest::MIN_CHUNK_SIZE,
                manifest::MAX_CHUNK_SIZE
            )),
        ));
    }
    let started = Instant::now();
    let (files, bytes, skipped) = hash_members(&*source, chunk_size, &progress)
        .map_err(|(name, e)| Error::new(&path.join(name), ErrorKind::Io(e)))?;
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut manifest = Manifest {
        schema: manifest::SEAL_SCHEMA.into(),
        algorithm: manifest::DIGEST_ALGORITHM.into(),
        chunk_size: Some(chunk_size),
        created: manifest::rfc3339_utc(created),
        tool: format!("ckdump {}", env!("CARGO_PKG_VERSION")),
        sealed,
        files,
        hmac: None,
    };
    if let Some(key) = &options.key {
        manifest.hmac = Some(manifest::HmacValue {
            algorithm: manifest::HMAC_ALGORITHM.into(),
            value: manifest.compute_hmac(key.bytes()),
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let replaced = manifest_path.exists();
    write_atomically(&manifest_path, manifest.to_json().as_bytes())
        .map_err(|e| Error::new(&manifest_path, ErrorKind::Io(e)))?;
    Ok(SealOutcome {
        manifest,
        manifest_path,
        bytes,
        seconds,
        skipped,
        replaced,
    })
}

type Hashed = (Vec<Entry>, u64, Vec<(String, &'static str)>);

/// Hashes every member; the error names the member that failed.
fn hash_members(
    source: &dyn SealSource,
    chunk_size: u64,
    progress: &Progress,
) -> std::result::Result<Hashed, (String, std::io::Error)> {
    let members = source.members().map_err(|e| (String::new(), e))?;
    let total: u64 = members
        .iter()
        .map(|m| match m.kind {
            MemberKind::File { size } => size,
            _ => 0,
        })
        .sum();
    let bar = progress.bytes(
        Some(total),
        &format!("hashing {}", source.location().display()),
    );
    let mut entries = Vec::with_capacity(members.len());
    let mut skipped = Vec::new();
    let mut hashed = 0u64;
    let threads = hashing::threads();
    // Checked against MAX_CHUNK_SIZE by the caller: fits any usize.
    let chunk = usize::try_from(chunk_size).unwrap_or(usize::MAX);
    for m in members {
        match m.kind {
            MemberKind::File { .. } => {
                let bytes = source.bytes(&m.name).map_err(|e| (m.name.clone(), e))?;
                let digests = hashing::seal_digests(&bytes, chunk, threads, &bar);
                hashed += bytes.len() as u64;
                entries.push(Entry::File {
                    name: m.name,
                    // The size of the bytes hashed, not of an earlier stat.
                    size: bytes.len() as u64,
                    sha256: manifest::hex(&digests.sha256),
                    chunks: (!digests.chunks.is_empty())
                        .then(|| digests.chunks.iter().map(|d| manifest::hex(d)).collect()),
                });
            }
            MemberKind::Link { target } => entries.push(Entry::Link {
                name: m.name,
                target,
            }),
            MemberKind::Special { what } => skipped.push((m.name, what)),
        }
    }
    bar.finish_and_clear();
    Ok((entries, hashed, skipped))
}

/// SHA-256 of `bytes` (lower-case hex), fed in pieces so a mapped file is
/// read once, front to back, with progress. Each piece's pages are released
/// once hashed: peak memory stays at a piece, not the file's size.
pub fn sha256_streaming(bytes: &Bytes, bar: &crate::progress::Step) -> String {
    manifest::hex(&hashing::whole_streaming(bytes, bar))
}

/// Writes `data` to a temporary file beside `path`, flushes it to disk and
/// renames it over `path`: a reader sees the old manifest or the new one,
/// never half of one.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(members::TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    // tempfile creates 0600; a manifest is as readable as what it seals.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
