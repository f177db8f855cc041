//! Removing a compression wrapper into an anonymous temporary file that is
//! then mapped, so even a multi-gigabyte core never sits on the heap.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::memory::Bytes;
use crate::model::Compression;
use crate::verify::{self, Finding};

use super::{ImageBytes, OpenOptions};

/// Default ceiling on decompressed output: far above any real core, far
/// below what a decompression bomb would produce.
const DEFAULT_LIMIT: u64 = 64 << 30;
/// Overrides [`DEFAULT_LIMIT`] (a byte count).
pub const LIMIT_ENV: &str = "CKDUMP_MAX_DECOMPRESSED";

fn output_limit() -> u64 {
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

pub(super) fn decompress(
    path: &Path,
    file: File,
    kind: Compression,
    options: &OpenOptions,
) -> Result<ImageBytes> {
    let io_err = |e: std::io::Error| Error::new(path, ErrorKind::Io(e));
    let compressed_len = file.metadata().map(|m| m.len()).ok();
    let mut reader = decoder(kind, file).map_err(|e| {
        Error::new(
            path,
            ErrorKind::Decompression {
                compression: kind.name(),
                reason: e.to_string(),
            },
        )
    })?;
    let mut out = tempfile::tempfile().map_err(io_err)?;
    let limit = output_limit();
    let bar = options.progress.bytes(
        None,
        &format!("decompressing {} ({})", path.display(), kind.name()),
    );
    let (written, end) =
        pump(&mut reader, limit, &bar, |chunk| out.write_all(chunk)).map_err(io_err)?;
    bar.finish_and_clear();
    let stream_error = match end {
        StreamEnd::Complete => None,
        StreamEnd::Broken(e) => Some(e),
        StreamEnd::OverLimit => {
            return Err(Error::new(
                path,
                ErrorKind::Decompression {
                    compression: kind.name(),
                    reason: format!(
                        "output exceeds {limit} bytes (raise {LIMIT_ENV} if the core really is that large)"
                    ),
                },
            ));
        }
    };
    out.flush().map_err(io_err)?;

    let mut findings = Vec::new();
    if let Some(e) = stream_error {
        if written == 0 {
            return Err(Error::new(
                path,
                ErrorKind::Decompression {
                    compression: kind.name(),
                    reason: e.to_string(),
                },
            ));
        }
        let mut f = Finding::new(
            &verify::COMPRESSED_TRUNCATED,
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
    let bytes = Bytes::map_file(&out).map_err(io_err)?;
    Ok(ImageBytes {
        bytes,
        compression: Some(kind),
        findings,
    })
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
