//! Errors for images that cannot be read at all (exit code 2).

use std::path::{Path, PathBuf};

/// What went wrong, without the path (the path is added by [`Error`]).
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("no such file; check the path")]
    NotFound,
    #[error("is a directory, not a dump file (a CRIU image directory holds inventory.img)")]
    IsDirectory,
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("empty file (0 bytes); the dump was never written")]
    Empty,
    #[error(
        "not a recognised dump format (first bytes {magic}); ckdump reads ELF core files and minidumps, optionally zstd/xz/bzip2/gzip-compressed, CRIU image directories, and container checkpoint archives (tar, tar.gz, tar.zst)"
    )]
    UnknownFormat { magic: String },
    #[error("{what} at offset {offset:#x}")]
    Malformed { offset: u64, what: String },
    #[error(
        "ELF file of type {found}, not a core dump (ET_CORE); to symbolize a binary, pass it with --symbols"
    )]
    NotACore { found: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("no thread {tid}; the image has threads {}", join_tids(available))]
    NoSuchThread { tid: u64, available: Vec<u64> },
    #[error("no such process; check the pid (`ps -e`)")]
    NoSuchProcess,
    #[error("ptrace is not permitted: {0}")]
    PtraceRefused(String),
    #[error("{compression} stream is corrupt or truncated: {reason}")]
    Decompression {
        compression: &'static str,
        reason: String,
    },
}

fn join_tids(tids: &[u64]) -> String {
    let list: Vec<String> = tids.iter().map(u64::to_string).collect();
    list.join(", ")
}

/// An image that could not be opened, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct Error {
    pub path: PathBuf,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(path: &Path, kind: ErrorKind) -> Self {
        Error {
            path: path.to_path_buf(),
            kind,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
