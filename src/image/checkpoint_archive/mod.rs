//! Container checkpoint archives: `podman container checkpoint --export`,
//! CRI-O's and the kubelet's checkpoint tars. A tar (plain, gzip or zstd;
//! xz and bzip2 too) holding `checkpoint/` — CRIU's images — beside the
//! engine's metadata (config.dump, spec.dump, network.status, stats-dump,
//! rootfs-diff.tar, deleted.files).
//!
//! The archive is read in place, never unpacked into files: a plain tar is
//! mapped and every member is a window on the map; a compressed one is
//! decompressed into one sparse temporary file (as compressed cores are)
//! that is mapped the same way, so memory stays bounded whatever the
//! archive inflates to. The CRIU reader then reads `checkpoint/` through
//! [`criu::ImageSet`] exactly as it reads a directory, and the container
//! metadata goes beside the process view in [`ContainerInfo`].

pub mod members;
pub mod metadata;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, Finding};
use crate::image::criu::{self, ImageSet};
use crate::image::{OpenOptions, check_path, compression_by_magic, decompress};
use crate::memory::{Bytes, NoMemory};
use crate::model::{
    Arch, ArchiveInfo, Compression, FormatDetails, Image, ImageFileRecord, ImageFormat,
    ProcessView, Producer, Target,
};

use members::{MemberKind, Members};
use metadata::CHECKPOINT_DIR;

const TAR_MAGIC_OFFSET: usize = 257;
const TAR_HEADER: usize = 512;

/// Whether a 512-byte block is a tar header: ustar (POSIX, "ustar\0") or
/// GNU ("ustar  ") magic at offset 257.
fn is_tar_header(block: &[u8]) -> bool {
    block
        .get(TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + 5)
        .is_some_and(|m| m == b"ustar")
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    done
}

/// The archive's compression when `path` holds a tar stream (plain or
/// compressed), judged by content: the tar magic in the first header,
/// after decompressing that header if the file starts with a compression
/// magic. None for anything else.
pub fn detect(path: &Path) -> Option<Option<Compression>> {
    // stat before open: opening a FIFO blocks until a writer comes.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; TAR_HEADER];
    let n = read_up_to(&mut file, &mut head);
    if is_tar_header(&head[..n]) {
        return Some(None);
    }
    let kind = compression_by_magic(&head[..n])?;
    let file = std::fs::File::open(path).ok()?;
    let mut decoder = decompress::decoder(kind, file).ok()?;
    let n = read_up_to(&mut decoder, &mut head);
    is_tar_header(&head[..n]).then_some(Some(kind))
}

/// Decompresses the whole stream into a sparse temporary file that is then
/// mapped, as compressed cores are: the members are windows on the map, so
/// what the archive inflates to costs disk (none for runs of zeros), never
/// resident memory beyond the pages read. Stops at `limit` bytes and when
/// the temporary directory fills; a stream that breaks off keeps what came
/// before, with a finding.
fn decompress_to_temp(
    path: &Path,
    file: std::fs::File,
    kind: Compression,
    limit: u64,
    options: &OpenOptions,
) -> Result<(Bytes, Option<Finding>)> {
    let decompression_error = |reason: String| {
        Error::new(
            path,
            ErrorKind::Decompression {
                compression: kind.name(),
                reason,
            },
        )
    };
    let compressed_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader =
        decompress::decoder(kind, file).map_err(|e| decompression_error(e.to_string()))?;
    let mut out = decompress::Spill::new().map_err(|e| decompress::Spill::error(path, e))?;
    let bar = options.progress.bytes(
        None,
        &format!("decompressing {} ({})", path.display(), kind.name()),
    );
    let (_, end) = decompress::pump(&mut reader, limit, &bar, |chunk| out.write(chunk))
        .map_err(|e| out.error_for(path, e))?;
    bar.finish_and_clear();
    let broken = match end {
        decompress::StreamEnd::Complete => None,
        decompress::StreamEnd::Broken(e) => Some(e),
        decompress::StreamEnd::OverLimit => {
            return Err(decompression_error(format!(
                "the archive decompresses to more than {limit} bytes, the limit on decompressed size (raise {} if it really is that large)",
                decompress::LIMIT_ENV
            )));
        }
    };
    let tar_len = out.len();
    let finding = match broken {
        None => None,
        Some(e) if tar_len == 0 => return Err(decompression_error(e.to_string())),
        Some(e) => Some(
            Finding::new(
                &finding::COMPRESSED_TRUNCATED,
                format!(
                    "{} stream ends early ({e}); {tar_len} bytes of tar decompressed before the damage from a {compressed_len}-byte file",
                    kind.name(),
                ),
            )
            .at_offset(tar_len)
            .about_path(path.display().to_string()),
        ),
    };
    let io_err = |e: std::io::Error| Error::new(path, ErrorKind::Io(e));
    let file = out.finish().map_err(io_err)?;
    let bytes = Bytes::map_file(&file).map_err(io_err)?;
    Ok((bytes, finding))
}

/// A directory of the archive as a CRIU image set.
struct ArchiveImageSet<'a> {
    archive: &'a Path,
    members: &'a Members,
    /// Member path of the directory (`checkpoint`).
    dir: String,
}

impl ArchiveImageSet<'_> {
    fn member(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
}

impl ImageSet for ArchiveImageSet<'_> {
    fn path(&self) -> &Path {
        self.archive
    }

    fn names(&self, limit: usize) -> std::io::Result<Vec<String>> {
        let mut names = self.members.children(&self.dir);
        names.truncate(limit);
        Ok(names)
    }

    fn read(&self, name: &str) -> std::io::Result<Option<Bytes>> {
        Ok(self.members.file(&self.member(name)).cloned())
    }

    fn has_file(&self, name: &str) -> bool {
        self.members.file(&self.member(name)).is_some()
    }

    fn parent(&self) -> Option<Box<dyn ImageSet + '_>> {
        // `parent` is a directory member or a symlink to another directory
        // of the archive (`../pre-checkpoint`); links out were refused.
        let dir = self.members.directory(&self.member("parent"))?;
        Some(Box::new(ArchiveImageSet {
            archive: self.archive,
            members: self.members,
            dir,
        }))
    }

    fn parent_link(&self) -> Option<String> {
        match &self.members.get(&self.member("parent"))?.kind {
            MemberKind::Symlink(target) => Some(target.clone()),
            MemberKind::Directory => Some(self.member("parent")),
            _ => None,
        }
    }
}

/// What to call the archive: `tar`, `tar.zst`…
fn kind_name(compression: Option<Compression>) -> String {
    match compression {
        None => "tar".into(),
        Some(Compression::Gzip) => "tar.gz".into(),
        Some(Compression::Zstd) => "tar.zst".into(),
        Some(Compression::Xz) => "tar.xz".into(),
        Some(Compression::Bzip2) => "tar.bz2".into(),
    }
}

/// Whether the archive looks like a container checkpoint at all.
fn is_checkpoint(members: &Members) -> bool {
    let prefix = format!("{CHECKPOINT_DIR}/");
    members
        .list
        .iter()
        .any(|m| m.name == CHECKPOINT_DIR || m.name.starts_with(&prefix))
        || metadata::MARKER_FILES
            .iter()
            .any(|n| members.get(n).is_some())
}

/// An image for an archive whose CRIU images cannot be read (cut before
/// pstree.img): the container metadata and the findings, no process.
fn image_without_processes(path: &Path) -> Image {
    Image {
        path: path.to_path_buf(),
        format: ImageFormat::ContainerCheckpoint,
        compression: None,
        size: 0,
        target: Target::linux_process(Arch::X86_64),
        producer: Producer::Other("CRIU".into()),
        fault: None,
        timestamp: None,
        details: FormatDetails::default(),
        findings: Vec::new(),
        process: ProcessView::empty(std::sync::Arc::new(NoMemory)),
        other_processes: Vec::new(),
    }
}

/// Opens the checkpoint archive at `path` (`compression` as [`detect`]
/// found it).
pub fn read(path: &Path, compression: Option<Compression>, options: &OpenOptions) -> Result<Image> {
    read_with_limit(path, compression, decompress::output_limit(), options)
}

/// An archive's tar stream and its members, as read in place.
pub struct LoadedArchive {
    /// The tar stream: the file's map, or the map of the decompressed
    /// temporary file.
    pub bytes: Bytes,
    pub members: Members,
    pub compression: Option<Compression>,
    pub file_size: u64,
    /// A compressed stream that broke off (CKD-E1012).
    pub findings: Vec<Finding>,
}

/// Maps (plain tar) or decompresses (compressed, at most `limit` bytes)
/// the archive and reads its member headers.
pub fn load(
    path: &Path,
    compression: Option<Compression>,
    limit: u64,
    options: &OpenOptions,
) -> Result<LoadedArchive> {
    let file = check_path(path)?;
    let file_size = file
        .metadata()
        .map_err(|e| Error::new(path, ErrorKind::Io(e)))?
        .len();
    let mut findings = Vec::new();
    let bytes = match compression {
        None => Bytes::map_file(&file).map_err(|e| Error::new(path, ErrorKind::Io(e)))?,
        Some(kind) => {
            let (data, broken) = decompress_to_temp(path, file, kind, limit, options)?;
            findings.extend(broken);
            data
        }
    };
    let members = members::walk(&bytes);
    Ok(LoadedArchive {
        bytes,
        members,
        compression,
        file_size,
        findings,
    })
}

/// [`read`] with an explicit ceiling on the decompressed size.
pub fn read_with_limit(
    path: &Path,
    compression: Option<Compression>,
    limit: u64,
    options: &OpenOptions,
) -> Result<Image> {
    let LoadedArchive {
        bytes,
        mut members,
        compression,
        file_size,
        mut findings,
    } = load(path, compression, limit, options)?;
    if members.list.is_empty()
        && let Some(cut) = members
            .findings
            .iter()
            .find(|f| f.code == finding::ARCHIVE_TRUNCATED.code)
    {
        // Shorter than one header block: typed, so a caller can tell a cut
        // file from a damaged one.
        if (bytes.len() as u64) < TAR_HEADER as u64 {
            return Err(Error::new(
                path,
                ErrorKind::Truncated {
                    what: format!(
                        "{} archive that ends inside its first header",
                        kind_name(compression)
                    ),
                    offset: 0,
                    needed: TAR_HEADER as u64,
                    available: bytes.len() as u64,
                },
            ));
        }
        return Err(Error::new(
            path,
            ErrorKind::Malformed {
                offset: cut.location.offset.unwrap_or(0),
                what: format!(
                    "{} archive that ends inside its first header ({}); nothing in it can be read",
                    kind_name(compression),
                    cut.message
                ),
            },
        ));
    }
    if !is_checkpoint(&members) {
        let first = members
            .list
            .first()
            .map(|m| format!(", the first is {}", m.name))
            .unwrap_or_default();
        return Err(Error::new(
            path,
            ErrorKind::Unsupported(format!(
                "a {} archive of {} {}{first}, but not a container checkpoint: expected checkpoint/ (CRIU images) beside config.dump and spec.dump, as `podman container checkpoint --export` and the kubelet write",
                kind_name(compression),
                members.headers,
                if members.headers == 1 {
                    "member"
                } else {
                    "members"
                }
            )),
        ));
    }
    findings.append(&mut members.findings);
    let mut container = metadata::container_info(&members, &mut findings);
    container.archive = Some(ArchiveInfo {
        kind: kind_name(compression),
        compression,
        members: members.headers,
        file_size,
        tar_size: bytes.len() as u64,
    });

    let set = ArchiveImageSet {
        archive: path,
        members: &members,
        // checkpoint/ may itself be a link to another directory inside.
        dir: members
            .directory(CHECKPOINT_DIR)
            .unwrap_or_else(|| CHECKPOINT_DIR.to_string()),
    };
    let mut image = match criu::read_set(&set, options) {
        Ok(image) => image,
        // Not damage: a machine ckdump does not read.
        Err(Error {
            kind: ErrorKind::Unsupported(why),
            ..
        }) => return Err(Error::new(path, ErrorKind::Unsupported(why))),
        Err(e) => {
            let pstree = format!("{CHECKPOINT_DIR}/pstree.img");
            let finding = if members.file(&pstree).is_none() {
                Finding::new(
                    &finding::CRIU_IMAGE_MISSING,
                    format!("{pstree} is missing: the archive holds no process tree, so no process is shown"),
                )
                .about_path(pstree)
            } else {
                Finding::new(&finding::CRIU_PROCESS_TREE, e.kind.to_string()).about_path(pstree)
            };
            findings.push(finding);
            image_without_processes(path)
        }
    };
    // The CRIU reader names files relative to checkpoint/.
    for f in &mut image.findings {
        if let Some(p) = &f.location.path {
            f.location.path = Some(format!("{CHECKPOINT_DIR}/{p}"));
        }
    }
    findings.append(&mut image.findings);
    image.findings = findings;
    for f in &mut image.details.files {
        f.name = format!("{CHECKPOINT_DIR}/{}", f.name);
    }
    image.details.files.extend(metadata_records(&members));
    image.timestamp = container
        .checkpointed
        .as_deref()
        .and_then(metadata::epoch_seconds);
    image.details.container = Some(container);
    image.path = PathBuf::from(path);
    image.format = ImageFormat::ContainerCheckpoint;
    image.compression = compression;
    image.size = bytes.len() as u64;
    Ok(image)
}

/// Listing records for the regular files outside checkpoint/.
fn metadata_records(members: &Members) -> Vec<ImageFileRecord> {
    let prefix = format!("{CHECKPOINT_DIR}/");
    members
        .list
        .iter()
        .filter(|m| m.kind == MemberKind::File && !m.name.starts_with(&prefix))
        .map(|m| {
            let header = criu::image_file::header(&m.data);
            let magic = header.magic();
            let parsed = magic.map(|_| criu::image_file::ImageFile::parse(&m.name, m.data.clone()));
            ImageFileRecord {
                name: m.name.clone(),
                size: m.data.len() as u64,
                magic,
                kind: parsed.as_ref().and_then(|f| f.magic_name()),
                entries: parsed
                    .as_ref()
                    .filter(|f| f.has_entries())
                    .map(|f| f.entries.len() as u64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_magic_is_found_at_257() {
        let mut block = [0u8; 512];
        block[257..263].copy_from_slice(b"ustar\0");
        assert!(is_tar_header(&block));
        block[257..265].copy_from_slice(b"ustar  \0");
        assert!(is_tar_header(&block));
        assert!(!is_tar_header(&block[..260]));
        assert!(!is_tar_header(&[0u8; 512]));
    }

    #[test]
    fn a_tar_cut_inside_its_first_header_is_typed_truncated() {
        let mut header = tar::Header::new_ustar();
        header.set_path("checkpoint/inventory.img").unwrap();
        header.set_size(0);
        header.set_cksum();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &header.as_bytes()[..300]).unwrap();
        let e = read(f.path(), None, &OpenOptions::default()).err().unwrap();
        match &e.kind {
            ErrorKind::Truncated {
                needed, available, ..
            } => assert_eq!((*needed, *available), (512, 300)),
            other => panic!("{other:?}"),
        }
        assert!(e.kind.blames_input());
        assert!(
            e.to_string().ends_with(
                "tar archive that ends inside its first header: needs 512 bytes at offset 0x0, but only 300 are there; the file was cut short"
            ),
            "{e}"
        );
    }

    #[test]
    fn decompression_stops_at_the_limit_without_a_large_allocation() {
        // 64 MiB of zeros compresses to a few KiB of zstd.
        let zeros = vec![0u8; 64 << 20];
        let packed = zstd::encode_all(&zeros[..], 3).unwrap();
        drop(zeros);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &packed).unwrap();
        let file = std::fs::File::open(f.path()).unwrap();
        let e = decompress_to_temp(
            f.path(),
            file,
            Compression::Zstd,
            1 << 20,
            &OpenOptions::default(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("more than 1048576 bytes"), "{e}");
    }
}
