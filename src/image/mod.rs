//! Format detection and the readers, one per format family.
//!
//! [`open`] looks at magic bytes (never at file names), removes a
//! compression wrapper if there is one, and hands the bytes to the reader
//! that fills the common [`Image`] model.

pub mod elf_core;

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::model::Image;
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
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            sysroot: None,
            use_host_files: true,
            progress: Progress::hidden(),
        }
    }
}

/// Opens the image at `path`.
pub fn open(path: &Path, options: &OpenOptions) -> Result<Image> {
    elf_core::open_path(path, options)
}

/// Errors for paths that are not readable files at all.
pub(crate) fn check_path(path: &Path) -> Result<std::fs::File> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(path, ErrorKind::NotFound)
        } else {
            Error::new(path, ErrorKind::Io(e))
        }
    })?;
    if meta.is_dir() {
        return Err(Error::new(path, ErrorKind::IsDirectory));
    }
    std::fs::File::open(path).map_err(|e| Error::new(path, ErrorKind::Io(e)))
}
