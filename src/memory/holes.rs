//! Holes of a sparse image file, found without reading them.
//!
//! A core can claim a tebibyte of memory stored as one hole in a file of a
//! few kilobytes (and a decompressed core is written sparsely): reading
//! those bytes through the map costs time in proportion to the apparent
//! size, though they are all zeros. The file system knows where its holes
//! are (`lseek` with `SEEK_DATA`/`SEEK_HOLE`), so a reader that streams the
//! whole image (`diff`) can count them instead of reading them.

use std::fs::File;

/// What the bytes from some offset on are, as far as the file system tells
/// without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The next `n` bytes are a hole: zeros the file does not store.
    Hole(u64),
    /// The next `n` bytes may hold anything (they are stored, or nothing
    /// could tell): read them to know.
    Data(u64),
}

impl Extent {
    /// How many bytes the extent covers.
    pub fn len(self) -> u64 {
        match self {
            Extent::Hole(n) | Extent::Data(n) => n,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A file that can be asked where its holes are: a second open file
/// description of it (its own offset, so the queries never move the
/// caller's), kept only for files that are sparse.
pub(super) struct HoleMap {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: File,
}

impl HoleMap {
    /// The hole map of `file` (`len` bytes long), when it has fewer bytes
    /// allocated than its length; None for a fully stored file (nothing to
    /// skip, and no file descriptor held per mapped file) and where the
    /// queries are not available.
    #[cfg(target_os = "linux")]
    pub fn of(file: &File, len: u64) -> Option<HoleMap> {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let allocated = file.metadata().ok()?.blocks().saturating_mul(512);
        if allocated >= len {
            return None;
        }
        // Reopened through /proc rather than dup'd: a dup shares the file
        // offset that lseek moves.
        let file = File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
        Some(HoleMap { file })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn of(_file: &File, _len: u64) -> Option<HoleMap> {
        None
    }

    /// The extent at file offset `offset`, at most `max` bytes long. A
    /// file system without `SEEK_DATA` answers `Data` (the generic
    /// implementation calls the whole file data), and so does any error
    /// other than "no data past here".
    #[cfg(target_os = "linux")]
    pub fn extent(&self, offset: u64, max: u64) -> Extent {
        use std::os::unix::io::AsRawFd;
        let Ok(at) = libc::off_t::try_from(offset) else {
            return Extent::Data(max);
        };
        let fd = self.file.as_raw_fd();
        // SAFETY: lseek on a descriptor this struct owns; it only moves
        // that description's offset, which nothing else uses.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            return match std::io::Error::last_os_error().raw_os_error() {
                // No data at or after `offset`: the rest is a hole.
                Some(libc::ENXIO) => Extent::Hole(max),
                _ => Extent::Data(max),
            };
        }
        if data > at {
            return Extent::Hole(((data - at) as u64).min(max));
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, at, libc::SEEK_HOLE) };
        if hole > at {
            Extent::Data(((hole - at) as u64).min(max))
        } else {
            Extent::Data(max)
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn extent(&self, _offset: u64, max: u64) -> Extent {
        Extent::Data(max)
    }
}
