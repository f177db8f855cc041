//! Removing a compression wrapper into an anonymous temporary file that is
//! then mapped, so even a multi-gigabyte core never sits on the heap.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, Finding};
use crate::memory::Bytes;
use crate::model::Compression;

use super::{ImageBytes, OpenOptions};

/// Default ceiling on decompressed output: far above any real core, far
/// below what a decompression bomb would produce.
const DEFAULT_LIMIT: u64 = 64 << 30;
/// Overrides [`DEFAULT_LIMIT`] (a byte count).
pub const LIMIT_ENV: &str = "CKDUMP_MAX_DECOMPRESSED";

pub(crate) fn output_limit() -> u64 {
    std::env::var(LIMIT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_LIMIT)
}

pub(super) fn decoder(kind: Compression, file: File) -> std::io::Result<Box<dyn Read>> {
    let input = BufReader::new(file);
    Ok(match kind {
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
            // Cores are written with long windows by systemd-coredump.
            d.window_log_max(31)?;
            Box::new(d)
        }
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(input)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
    })
}

/// Removes the compression wrapper of `file` into a sparse temporary file.
/// When `expect` is given, the first decompressed bytes must start with one
/// of those magics: anything else is refused before the rest is inflated
/// (a 20 GiB stream of zeros used to fill the disk first).
pub(super) fn decompress(
    path: &Path,
    file: File,
    kind: Compression,
    expect: Option<&[&[u8]]>,
    options: &OpenOptions,
) -> Result<ImageBytes> {
    let io_err = |e: std::io::Error| Error::new(path, ErrorKind::Io(e));
    let corrupt = |reason: String| {
        Error::new(
            path,
            ErrorKind::Decompression {
                compression: kind.name(),
                reason,
            },
        )
    };
    let compressed_len = file.metadata().map(|m| m.len()).ok();
    let mut reader = decoder(kind, file).map_err(|e| corrupt(e.to_string()))?;

    let mut head = [0u8; 8];
    let (head_len, head_error) = read_head(&mut *reader, &mut head);
    let head = &head[..head_len];
    if let Some(magics) = expect
        && head_error.is_none()
        && !magics.iter().any(|m| head.starts_with(m))
    {
        return Err(super::unknown_format(path, head));
    }
    if head_len == 0
        && let Some(e) = head_error
    {
        return Err(corrupt(e.to_string()));
    }

    let mut out = Spill::new().map_err(|e| Spill::error(path, e))?;
    let limit = output_limit();
    let bar = options.progress.bytes(
        None,
        &format!("decompressing {} ({})", path.display(), kind.name()),
    );
    out.write(head).map_err(|e| out.error_for(path, e))?;
    let (pumped, end) = match head_error {
        Some(e) => (0, StreamEnd::Broken(e)),
        None => pump(
            &mut reader,
            limit.saturating_sub(head_len as u64),
            &bar,
            |chunk| out.write(chunk),
        )
        .map_err(|e| out.error_for(path, e))?,
    };
    let written = head_len as u64 + pumped;
    bar.finish_and_clear();
    let stream_error = match end {
        StreamEnd::Complete => None,
        StreamEnd::Broken(e) => Some(e),
        StreamEnd::OverLimit => {
            return Err(corrupt(format!(
                "output exceeds {limit} bytes, the limit on decompressed size (raise {LIMIT_ENV} if the core really is that large)"
            )));
        }
    };

    let mut findings = Vec::new();
    if let Some(e) = stream_error {
        let mut f = Finding::new(
            &finding::COMPRESSED_TRUNCATED,
            format!(
                "{} stream ends early ({e}); {written} bytes decompressed before the damage{}",
                kind.name(),
                compressed_len
                    .map(|l| format!(" from a {l}-byte file"))
                    .unwrap_or_default()
            ),
        );
        f = f.at_offset(written).about_path(path.display().to_string());
        findings.push(f);
    }
    let out = out.finish().map_err(io_err)?;
    let bytes = Bytes::map_file(&out).map_err(io_err)?;
    Ok(ImageBytes {
        bytes,
        compression: Some(kind),
        findings,
    })
}

/// Reads up to `head.len()` bytes; a decoder error ends the read and is
/// returned beside what came before it.
fn read_head(reader: &mut dyn Read, head: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut done = 0;
    while done < head.len() {
        match reader.read(&mut head[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// Blocks of this size that are all zero are not written: the temporary
/// file keeps a hole there (a core of mostly-zero memory, or a zero bomb,
/// costs no disk for them).
const HOLE_BLOCK: u64 = 4096;
static ZERO_BLOCK: [u8; HOLE_BLOCK as usize] = [0; HOLE_BLOCK as usize];
/// Free space in the temporary directory is looked at after every this
/// many bytes written.
const SPACE_CHECK_EVERY: u64 = 16 << 20;
/// Decompression stops when the temporary directory would be left with
/// less than this: a full /tmp breaks more than ckdump.
pub(crate) const SPACE_RESERVE: u64 = 64 << 20;

/// Decompressed bytes on their way to being mapped: an anonymous temporary
/// file in the temporary directory (TMPDIR), written sparsely, its free
/// space watched so that a full disk stops the work with a clear message
/// before something else on the machine fails.
pub(crate) struct Spill {
    file: File,
    dir: PathBuf,
    len: u64,
    written_since_check: u64,
    /// Set when the free-space check stopped the writing.
    out_of_space: Option<u64>,
}

impl Spill {
    pub fn new() -> std::io::Result<Spill> {
        let dir = std::env::temp_dir();
        let file = tempfile::tempfile_in(&dir)?;
        Ok(Spill {
            file,
            dir,
            len: 0,
            written_since_check: 0,
            out_of_space: None,
        })
    }

    /// Bytes appended so far (holes included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends `chunk`, leaving its all-zero aligned blocks as holes.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut at = 0usize;
        while at < chunk.len() {
            // Runs of non-zero blocks, block edges at multiples of
            // HOLE_BLOCK in the file, are written with one call each.
            let start = at;
            while at < chunk.len() {
                let end = self.block_end(at, chunk.len());
                if chunk[at..end] == ZERO_BLOCK[..end - at] {
                    break;
                }
                at = end;
            }
            if at > start {
                self.reserve(at - start)?;
                self.file
                    .write_all_at(&chunk[start..at], self.len + start as u64)?;
            }
            while at < chunk.len() {
                let end = self.block_end(at, chunk.len());
                if chunk[at..end] != ZERO_BLOCK[..end - at] {
                    break;
                }
                at = end;
            }
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Where the block holding chunk offset `at` ends, within the chunk.
    fn block_end(&self, at: usize, chunk_len: usize) -> usize {
        let file_at = self.len + at as u64;
        let to_edge = HOLE_BLOCK - file_at % HOLE_BLOCK;
        at + (to_edge as usize).min(chunk_len - at)
    }

    /// Checks, every [`SPACE_CHECK_EVERY`] bytes, that writing `more`
    /// leaves the temporary directory at least [`SPACE_RESERVE`].
    fn reserve(&mut self, more: usize) -> std::io::Result<()> {
        self.written_since_check += more as u64;
        if self.written_since_check < SPACE_CHECK_EVERY {
            return Ok(());
        }
        self.written_since_check = 0;
        if let Some(free) = free_space(&self.file)
            && free < SPACE_RESERVE.saturating_add(SPACE_CHECK_EVERY)
        {
            self.out_of_space = Some(free);
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        Ok(())
    }

    /// The file, its length set to every byte appended (a trailing hole
    /// included), ready to be mapped.
    pub fn finish(self) -> std::io::Result<File> {
        self.file.set_len(self.len)?;
        Ok(self.file)
    }

    /// The error for a failed write: a full temporary directory is named as
    /// such (the input is fine), anything else is an I/O error.
    pub fn error_for(&self, path: &Path, e: std::io::Error) -> Error {
        if self.out_of_space.is_some() || is_out_of_space(&e) {
            let available = self
                .out_of_space
                .or_else(|| free_space(&self.file))
                .unwrap_or(0);
            return Error::new(
                path,
                ErrorKind::TempSpace {
                    dir: self.dir.clone(),
                    available,
                    needed: None,
                },
            );
        }
        Error::new(path, ErrorKind::Io(e))
    }

    /// The error for a temporary file that could not even be created.
    pub fn error(path: &Path, e: std::io::Error) -> Error {
        if is_out_of_space(&e) {
            return Error::new(
                path,
                ErrorKind::TempSpace {
                    dir: std::env::temp_dir(),
                    available: 0,
                    needed: None,
                },
            );
        }
        Error::new(
            path,
            ErrorKind::Unsupported(format!(
                "cannot create a temporary file in {} to decompress into ({e}); point TMPDIR at a writable directory",
                std::env::temp_dir().display()
            )),
        )
    }
}

fn is_out_of_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Bytes an unprivileged writer may still use on `file`'s file system.
fn free_space(file: &File) -> Option<u64> {
    use std::os::fd::AsRawFd;
    // SAFETY: statvfs is plain data that fstatvfs fills; the fd is live.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// How a decompression stream ended.
pub(crate) enum StreamEnd {
    /// The decoder reached the end of its input.
    Complete,
    /// The decoder failed (a cut or corrupt stream); what came before is kept.
    Broken(std::io::Error),
    /// The next chunk would have passed the limit; nothing of it was kept.
    OverLimit,
}

/// Copies `reader`'s output to `sink` in 1 MiB chunks, never more than
/// `limit` bytes in all, advancing `bar`. Returns the bytes handed to the
/// sink and how the stream ended; the sink's own errors are returned as is.
/// Shared by the core-file path (a temp file) and the archive path (memory)
/// so both apply the same limit and the same treatment of damage.
pub(crate) fn pump(
    reader: &mut dyn Read,
    limit: u64,
    bar: &crate::progress::Step,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<(u64, StreamEnd)> {
    let mut buf = vec![0u8; 1 << 20];
    let mut written: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok((written, StreamEnd::Complete)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Ok((written, StreamEnd::Broken(e))),
        };
        if written.saturating_add(n as u64) > limit {
            return Ok((written, StreamEnd::OverLimit));
        }
        sink(&buf[..n])?;
        written += n as u64;
        bar.inc(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn zero_blocks_become_holes_and_the_bytes_read_back_exactly() {
        let mut spill = Spill::new().unwrap();
        let mut expected = Vec::new();
        // Odd chunk sizes so block edges fall inside chunks.
        let mut pieces: Vec<Vec<u8>> = vec![b"\x7fELF head".to_vec()];
        for i in 0..64u32 {
            pieces.push(vec![0u8; (1 << 20) + 7]);
            let mut data = vec![0u8; 4099];
            data[i as usize * 13] = 0xa5;
            data[4098] = i as u8 | 1;
            pieces.push(data);
        }
        pieces.push(vec![0u8; 3 << 20]);
        for p in &pieces {
            spill.write(p).unwrap();
            expected.extend_from_slice(p);
        }
        assert_eq!(spill.len(), expected.len() as u64);
        let file = spill.finish().unwrap();
        let meta = file.metadata().unwrap();
        assert_eq!(meta.len(), expected.len() as u64);
        // 67 MiB apparent; the data blocks (at most 3 per data piece plus
        // the head) are all that is allocated.
        assert!(
            meta.blocks() * 512 <= 65 * 3 * 4096 + 4096,
            "{}",
            meta.blocks()
        );
        let bytes = Bytes::map_file(&file).unwrap();
        assert!(bytes[..] == expected[..]);
    }

    #[test]
    fn a_full_temporary_directory_is_named_and_the_input_is_not_blamed() {
        let spill = Spill::new().unwrap();
        let e = spill.error_for(
            Path::new("core.zst"),
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert!(matches!(e.kind, ErrorKind::TempSpace { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "core.zst: the temporary directory {} has no room left (",
                std::env::temp_dir().display()
            )),
            "{text}"
        );
        assert!(
            text.ends_with("the input is fine: point TMPDIR at a directory with more free space"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let e = spill.error_for(
            Path::new("core.zst"),
            std::io::Error::from_raw_os_error(libc::EIO),
        );
        assert!(matches!(e.kind, ErrorKind::Io(_)), "{e}");
    }
}
