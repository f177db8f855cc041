//! What a seal covers: a list of named members and their bytes.
//!
//! A seal never looks at paths itself; it asks a [`SealSource`] for member
//! names and bytes. A directory (a CRIU image directory, an unpacked
//! checkpoint) and a single file are sources today; the members of a
//! container checkpoint archive can become one without changing the
//! manifest, the hashing or the checks.

use std::path::{Path, PathBuf};

use crate::memory::Bytes;

/// The manifest's own file name inside a sealed directory.
pub const MANIFEST_NAME: &str = "ckdump-seal.json";
/// Suffix of the sidecar manifest beside a sealed single file.
pub const SIDECAR_SUFFIX: &str = ".ckdump-seal.json";
/// Prefix of the temporary file a manifest is written to before the
/// rename; left-overs of an interrupted seal are not members.
pub const TEMP_PREFIX: &str = ".ckdump-seal.";

/// More members than this is not a saved state (a CRIU directory of a
/// 1000-process tree has a few thousand files); stop instead of walking on.
pub const MAX_MEMBERS: usize = 200_000;
/// Directories nested deeper than this are not walked.
pub const MAX_DEPTH: usize = 16;

/// What a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file of `size` bytes.
    File { size: u64 },
    /// A symbolic link, recorded with its target and never followed
    /// (`parent -> ../static` of an incremental dump points at another
    /// snapshot, sealed on its own).
    Link { target: String },
    /// A FIFO, socket or device: not sealed, listed so the user hears of it.
    Special { what: &'static str },
}

/// One member of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `/`-separated name relative to the source.
    pub name: String,
    pub kind: MemberKind,
}

/// Members and their bytes.
pub trait SealSource {
    /// Where the source is, for messages.
    fn location(&self) -> &Path;
    /// Every member, sorted by name.
    fn members(&self) -> std::io::Result<Vec<Member>>;
    /// The bytes of a regular-file member, zero-copy where possible.
    fn bytes(&self, name: &str) -> std::io::Result<Bytes>;
}

/// A directory, walked recursively; symbolic links are recorded, not
/// followed, and the seal's own files are left out.
#[derive(Debug, Clone)]
pub struct DirectorySource {
    dir: PathBuf,
}

impl DirectorySource {
    pub fn new(dir: &Path) -> Self {
        DirectorySource {
            dir: dir.to_path_buf(),
        }
    }

    fn walk(&self, rel: &str, depth: usize, out: &mut Vec<Member>) -> std::io::Result<()> {
        let here = if rel.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(rel)
        };
        for entry in std::fs::read_dir(&here)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: a file name is not UTF-8; ckdump seals UTF-8 names only",
                        here.join(&file_name).display()
                    ),
                ));
            };
            if rel.is_empty() && (file_name == MANIFEST_NAME || file_name.starts_with(TEMP_PREFIX))
            {
                continue;
            }
            let name = if rel.is_empty() {
                file_name.to_string()
            } else {
                format!("{rel}/{file_name}")
            };
            // The entry itself, not what a link points to.
            let meta = std::fs::symlink_metadata(entry.path())?;
            let ft = meta.file_type();
            let kind = if ft.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                MemberKind::Link {
                    target: target.to_string_lossy().into_owned(),
                }
            } else if ft.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    return Err(std::io::Error::other(format!(
                        "{}: directories nested more than {MAX_DEPTH} deep",
                        entry.path().display()
                    )));
                }
                self.walk(&name, depth + 1, out)?;
                continue;
            } else if ft.is_file() {
                MemberKind::File { size: meta.len() }
            } else {
                MemberKind::Special {
                    what: special_kind(&ft),
                }
            };
            out.push(Member { name, kind });
            if out.len() > MAX_MEMBERS {
                return Err(std::io::Error::other(format!(
                    "more than {MAX_MEMBERS} files under {}; that is not one saved state",
                    self.dir.display()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_ft: &std::fs::FileType) -> &'static str {
    "special file"
}

impl SealSource for DirectorySource {
    fn location(&self) -> &Path {
        &self.dir
    }

    fn members(&self) -> std::io::Result<Vec<Member>> {
        let mut out = Vec::new();
        self.walk("", 0, &mut out)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn bytes(&self, name: &str) -> std::io::Result<Bytes> {
        map_sequential(&self.dir.join(name))
    }
}

/// One file sealed on its own (an ELF core, a minidump, a checkpoint
/// archive as a whole); its one member is named by the file name.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    name: String,
}

impl FileSource {
    pub fn new(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        FileSource {
            path: path.to_path_buf(),
            name,
        }
    }
}

impl SealSource for FileSource {
    fn location(&self) -> &Path {
        &self.path
    }

    fn members(&self) -> std::io::Result<Vec<Member>> {
        let meta = std::fs::metadata(&self.path)?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(vec![Member {
            name: self.name.clone(),
            kind: MemberKind::File { size: meta.len() },
        }])
    }

    fn bytes(&self, _name: &str) -> std::io::Result<Bytes> {
        map_sequential(&self.path)
    }
}

/// Maps a file read-only and tells the kernel it is read once, front to
/// back, so read-ahead keeps the hashing fed.
fn map_sequential(path: &Path) -> std::io::Result<Bytes> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Bytes::from_vec(Vec::new()));
    }
    // SAFETY: read-only map; a file truncated while it is hashed can raise
    // SIGBUS, the accepted trade-off of every mmap-based reader here.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Bytes::from_mmap(map))
}
