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
    /// A FIFO, socket or device: ckdump maps its input and reads parts of
    /// it more than once, which a stream cannot give; reading one would
    /// block (a FIFO without a writer) or never end (/dev/zero).
    #[error(
        "is a {kind}, not a regular file; ckdump reads dumps it can map, so copy the stream to a regular file first (cat FILE > dump.core)"
    )]
    NotRegularFile { kind: &'static str },
    /// The input exists but may not be read or searched.
    #[error(
        "permission denied: {what}; check its permissions (ls -ld) or run as a user who may read it"
    )]
    PermissionDenied { what: String },
    /// The input ends before a structure it announces.
    #[error(
        "{what}: needs {needed} bytes at offset {offset:#x}, but only {available} are there; the file was cut short"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        available: u64,
    },
    /// A structure points outside the input.
    #[error("{what}: {len} bytes at offset {offset:#x} lie outside the {size}-byte input")]
    OutOfBounds {
        what: String,
        offset: u64,
        len: u64,
        size: u64,
    },
    /// A configured ceiling stopped the work: the input may be fine.
    #[error("{what} is more than {limit} bytes, the limit; {remedy}")]
    TooLarge {
        what: String,
        limit: u64,
        remedy: String,
    },
    /// The temporary directory filled up: the input is fine.
    #[error(
        "the temporary directory {} has no room left ({}); the input is fine: point TMPDIR at a directory with more free space",
        dir.display(),
        match needed {
            Some(n) => format!("{available} bytes free, {n} more needed"),
            None => format!("{available} bytes free"),
        }
    )]
    TempSpace {
        dir: PathBuf,
        available: u64,
        needed: Option<u64>,
    },
}

impl ErrorKind {
    /// Whether the input itself is at fault (damaged or not a dump), as
    /// opposed to the machine (permissions, temporary space, a limit).
    pub fn blames_input(&self) -> bool {
        matches!(
            self,
            ErrorKind::Empty
                | ErrorKind::UnknownFormat { .. }
                | ErrorKind::Malformed { .. }
                | ErrorKind::NotACore { .. }
                | ErrorKind::Decompression { .. }
                | ErrorKind::Truncated { .. }
                | ErrorKind::OutOfBounds { .. }
        )
    }
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
