//! Format detection and the readers, one per format family.
//!
//! [`open`] looks at magic bytes (never at file names), removes a
//! compression wrapper if there is one, and hands the bytes to the reader
//! that fills the common [`Image`] model.

pub mod checkpoint_archive;
pub mod criu;
mod decompress;
pub mod elf_core;
pub mod linux_modules;
pub mod minidump;
pub mod vmcore;

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::finding::Finding;
use crate::memory::Bytes;
use crate::model::{Compression, Image};
use crate::progress::Progress;

/// How to open an image.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// A copy of the crashed machine's root file system; mapped files are
    /// looked up under it before the host's own paths.
    pub sysroot: Option<PathBuf>,
    /// Whether original files may be consulted at all (for bytes the image
    /// left out); only files whose build-id matches are ever used.
    pub use_host_files: bool,
    pub progress: Progress,
    /// Read every structure of the file exactly, with no shortcut that a
    /// damaged file could hide behind (verify): a long flattened stream is
    /// indexed record by record at open instead of as reads need them.
    pub thorough: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            sysroot: None,
            use_host_files: true,
            progress: Progress::hidden(),
            thorough: false,
        }
    }
}

/// The bytes of an image after any compression wrapper was removed.
pub(crate) struct ImageBytes {
    pub bytes: Bytes,
    pub compression: Option<Compression>,
    /// Findings met while unwrapping (a truncated compressed stream).
    pub findings: Vec<Finding>,
}

const ELF_MAGIC: &[u8] = b"\x7fELF";
const MDMP_MAGIC: &[u8] = b"MDMP";
/// makedumpfile's kdump-compressed and flattened files, and the old
/// diskdump format.
const KDUMP_MAGICS: &[&[u8]] = &[b"KDUMP   ", b"DISKDUMP", b"makedump"];
/// What a single dump file (not a directory or archive) starts with.
const FILE_MAGICS: &[&[u8]] = &[
    MDMP_MAGIC,
    ELF_MAGIC,
    KDUMP_MAGICS[0],
    KDUMP_MAGICS[1],
    KDUMP_MAGICS[2],
];

/// Which compression wrapper, if any, the first bytes announce.
pub(crate) fn compression_by_magic(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
        Some(Compression::Xz)
    } else if head.starts_with(b"BZh") {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else {
        None
    }
}

/// Opens the image at `path`.
pub fn open(path: &Path, options: &OpenOptions) -> Result<Image> {
    // What the path is, from stat alone: opening a FIFO to look at its
    // magic would block until a writer comes, and a device never ends.
    if let InputKind::Directory = input_kind(path)? {
        // A CRIU dump is a directory of images.
        return match criu::image_directory(path) {
            Some(dir) => criu::read(&dir, options),
            None => Err(directory_error(
                path,
                std::fs::symlink_metadata(path.join("inventory.img"))
                    .err()
                    .map(|e| e.kind()),
            )),
        };
    }
    // A file inside a CRIU image directory that starts with a CRIU magic
    // opens the whole directory.
    if let Some(dir) = criu::image_directory(path) {
        return criu::read(&dir, options);
    }
    // A tar stream (plain or compressed) is a container checkpoint archive
    // or nothing ckdump reads; the archive reader says which.
    if let Some(compression) = checkpoint_archive::detect(path) {
        return checkpoint_archive::read(path, compression, options);
    }
    let unwrapped = load_expecting(path, Some(FILE_MAGICS), options)?;
    if vmcore::is_makedumpfile(&unwrapped.bytes) {
        return vmcore::read_makedumpfile(
            path,
            unwrapped.bytes,
            unwrapped.compression,
            unwrapped.findings,
            options.thorough,
        );
    }
    if unwrapped.bytes.starts_with(MDMP_MAGIC) {
        let mut image = minidump::read(path, unwrapped.bytes, unwrapped.compression)?;
        image.findings.splice(0..0, unwrapped.findings);
        return Ok(image);
    }
    if !unwrapped.bytes.starts_with(ELF_MAGIC) {
        return Err(unknown_format(path, &unwrapped.bytes));
    }
    elf_core::parse(path, unwrapped, options)
}

/// Opens several files as one image: the parts of a makedumpfile
/// `--split` dump (each kdump-compressed, plain or wrapped in a
/// compression), told apart by content and read in any order. One path
/// opens as [`open`] does.
pub fn open_set(paths: &[PathBuf], options: &OpenOptions) -> Result<Image> {
    let [first, ..] = paths else {
        return Err(Error::new(
            Path::new(""),
            ErrorKind::Unsupported("no image given".into()),
        ));
    };
    if paths.len() == 1 {
        return open(first, options);
    }
    let mut parts = Vec::with_capacity(paths.len());
    for path in paths {
        let unwrapped = load_expecting(path, Some(FILE_MAGICS), options)?;
        if !vmcore::is_makedumpfile(&unwrapped.bytes) {
            return Err(vmcore::split::not_a_part(
                path,
                "not a kdump-compressed file",
            ));
        }
        parts.push(vmcore::MakedumpfileFile::parse(
            path,
            unwrapped.bytes,
            unwrapped.compression,
            unwrapped.findings,
            options.thorough,
        )?);
    }
    vmcore::split::read_set(parts)
}

/// Reads `path` into memory (mmap, or a decompressed temporary file).
#[cfg(test)]
pub(crate) fn load(path: &Path, options: &OpenOptions) -> Result<ImageBytes> {
    load_expecting(path, None, options)
}

/// [`load`], refusing a compressed file whose first decompressed bytes
/// start with none of `expect` before decompressing the rest.
fn load_expecting(
    path: &Path,
    expect: Option<&[&[u8]]>,
    options: &OpenOptions,
) -> Result<ImageBytes> {
    let mut file = check_path(path)?;
    let mut head = [0u8; 8];
    let head_len =
        read_head(&mut file, &mut head).map_err(|e| Error::new(path, ErrorKind::Io(e)))?;
    if head_len == 0 {
        return Err(Error::new(path, ErrorKind::Empty));
    }
    let head = &head[..head_len];
    if head.starts_with(ELF_MAGIC)
        || head.starts_with(MDMP_MAGIC)
        || KDUMP_MAGICS.iter().any(|m| head.starts_with(m))
    {
        let bytes = Bytes::map_file(&file).map_err(|e| Error::new(path, ErrorKind::Io(e)))?;
        return Ok(ImageBytes {
            bytes,
            compression: None,
            findings: Vec::new(),
        });
    }
    match compression_by_magic(head) {
        Some(kind) => {
            file.rewind()
                .map_err(|e| Error::new(path, ErrorKind::Io(e)))?;
            decompress::decompress(path, file, kind, expect, options)
        }
        None => Err(unknown_format(path, head)),
    }
}

fn read_head(file: &mut std::fs::File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < head.len() {
        match file.read(&mut head[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn unknown_format(path: &Path, bytes: &[u8]) -> Error {
    if bytes.is_empty() {
        return Error::new(path, ErrorKind::Empty);
    }
    let magic = bytes
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    Error::new(path, ErrorKind::UnknownFormat { magic })
}

/// What an input path is, judged without opening it.
pub(crate) enum InputKind {
    File,
    Directory,
}

/// A regular file or a directory; anything else (FIFO, socket, device) is
/// refused here, before anything opens it.
pub(crate) fn input_kind(path: &Path) -> Result<InputKind> {
    let meta = std::fs::metadata(path).map_err(|e| stat_error(path, e))?;
    if meta.is_dir() {
        Ok(InputKind::Directory)
    } else if meta.is_file() {
        Ok(InputKind::File)
    } else {
        Err(Error::new(
            path,
            ErrorKind::NotRegularFile {
                kind: special_kind(&meta.file_type()),
            },
        ))
    }
}

/// The error for a path that stat could not look up.
pub(crate) fn stat_error(path: &Path, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied {
            what: "cannot look it up (a directory on the way lacks search permission)".into(),
        },
        _ => ErrorKind::Io(e),
    };
    Error::new(path, kind)
}

/// The error for a regular file that could not be opened.
pub(crate) fn open_error(path: &Path, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied {
            what: "cannot open it for reading".into(),
        },
        _ => ErrorKind::Io(e),
    };
    Error::new(path, kind)
}

/// The error for a directory that is not a CRIU image directory, given
/// how looking up its inventory.img failed: a directory that cannot be
/// searched may well be one, so it is not called "not a dump".
fn directory_error(path: &Path, inventory_lookup: Option<std::io::ErrorKind>) -> Error {
    match inventory_lookup {
        Some(std::io::ErrorKind::PermissionDenied) => Error::new(
            path,
            ErrorKind::PermissionDenied {
                what: "cannot search the directory for inventory.img (it lacks execute permission)"
                    .into(),
            },
        ),
        _ => Error::new(path, ErrorKind::IsDirectory),
    }
}

/// A name for a file type that is neither a regular file nor a directory.
#[cfg(unix)]
pub(crate) fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
pub(crate) fn special_kind(_ft: &std::fs::FileType) -> &'static str {
    "special file"
}

/// Opens `path` if it is a regular file; every other case is an error that
/// says what the path is instead.
pub(crate) fn check_path(path: &Path) -> Result<std::fs::File> {
    if let InputKind::Directory = input_kind(path)? {
        return Err(Error::new(path, ErrorKind::IsDirectory));
    }
    std::fs::File::open(path).map_err(|e| open_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    #[test]
    fn errors_are_one_line_and_name_the_path() {
        let opts = OpenOptions::default();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.core");
        let e = open(&missing, &opts).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::NotFound));
        assert!(e.to_string().starts_with(&missing.display().to_string()));

        let e = open(dir.path(), &opts).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::IsDirectory));

        let empty = write_temp(b"");
        let e = open(empty.path(), &opts).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::Empty));

        let text = write_temp(b"hello world");
        let e = open(text.path(), &opts).err().unwrap();
        match &e.kind {
            ErrorKind::UnknownFormat { magic } => assert_eq!(magic, "68 65 6c 6c 6f 20 77 6f"),
            other => panic!("{other:?}"),
        }
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn a_directory_that_cannot_be_searched_is_not_called_not_a_dump() {
        // Tests run as root, which bypasses permission bits, so the mapping
        // is checked with the error the lookup would give an ordinary user.
        let dir = Path::new("/srv/criu/dump-1");
        let e = directory_error(dir, Some(std::io::ErrorKind::PermissionDenied));
        assert!(matches!(e.kind, ErrorKind::PermissionDenied { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "/srv/criu/dump-1: permission denied: cannot search the directory for inventory.img (it lacks execute permission); check its permissions (ls -ld) or run as a user who may read it"
        );
        let e = directory_error(dir, Some(std::io::ErrorKind::NotFound));
        assert!(matches!(e.kind, ErrorKind::IsDirectory), "{e}");
        let e = stat_error(
            dir,
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(matches!(e.kind, ErrorKind::PermissionDenied { .. }), "{e}");
        let e = open_error(
            dir,
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(e.to_string().contains("cannot open it for reading"), "{e}");
    }

    #[test]
    fn compression_magics() {
        assert_eq!(
            compression_by_magic(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            compression_by_magic(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
            Some(Compression::Xz)
        );
        assert_eq!(compression_by_magic(b"BZh91AY"), Some(Compression::Bzip2));
        assert_eq!(
            compression_by_magic(&[0x1f, 0x8b, 8]),
            Some(Compression::Gzip)
        );
        assert_eq!(compression_by_magic(b"\x7fELF"), None);
    }

    #[test]
    fn gzip_of_garbage_is_unknown_format_after_unwrapping() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"not an elf file at all").unwrap();
        let gz = write_temp(&enc.finish().unwrap());
        let e = open(gz.path(), &OpenOptions::default()).err().unwrap();
        assert!(matches!(e.kind, ErrorKind::UnknownFormat { .. }), "{e}");
    }

    #[test]
    fn truncated_gzip_keeps_the_bytes_that_decompressed() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        let gz = enc.finish().unwrap();
        let cut = write_temp(&gz[..gz.len() / 2]);
        let out = load(cut.path(), &OpenOptions::default()).unwrap();
        assert_eq!(out.compression, Some(Compression::Gzip));
        assert!(!out.bytes.is_empty());
        assert_eq!(&out.bytes[..], &data[..out.bytes.len()]);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].code, "CKD-E1012");
    }
}
