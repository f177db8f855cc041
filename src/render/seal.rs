//! The summary `ckdump seal` prints.

use crate::seal::manifest::{Entry, SealedKind};
use std::fmt::Write;

use super::printable;
use crate::seal::SealOutcome;

/// One paragraph: what was sealed, where the manifest is, whether it is
/// authenticated, and which files have chunk digests.
pub fn render(outcome: &SealOutcome) -> String {
    let m = &outcome.manifest;
    let (mut files, mut links) = (0usize, 0usize);
    for e in &m.files {
        match e {
            Entry::File { .. } => files += 1,
            Entry::Link { .. } => links += 1,
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {files} {}{}, {} bytes hashed (SHA-256) in {:.2} s{}",
        if outcome.replaced {
            "resealed"
        } else {
            "sealed"
        },
        match m.sealed {
            SealedKind::Directory => "directory",
            SealedKind::File => "file",
        },
        if files == 1 { "file" } else { "files" },
        if links > 0 {
            format!(", {links} {}", if links == 1 { "link" } else { "links" })
        } else {
            String::new()
        },
        outcome.bytes,
        outcome.seconds,
        if outcome.seconds > 0.0 && outcome.bytes >= 1 << 20 {
            format!(
                " ({:.0} MB/s)",
                outcome.bytes as f64 / outcome.seconds / 1e6
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "manifest: {}", outcome.manifest_path.display());
    let _ = writeln!(
        out,
        "hmac: {}",
        if m.hmac.is_some() {
            "HMAC-SHA256 over the manifest"
        } else {
            "none (digests only; seal with --key-file or --key-env to authenticate)"
        }
    );
    let chunked: Vec<usize> = m
        .files
        .iter()
        .filter_map(|e| match e {
            Entry::File {
                chunks: Some(c), ..
            } => Some(c.len()),
            _ => None,
        })
        .collect();
    match m.chunk_size {
        Some(size) if chunked.is_empty() => {
            let _ = writeln!(
                out,
                "chunks: none (no file is larger than {})",
                crate::seal::size_text(size)
            );
        }
        Some(size) => {
            let _ = writeln!(
                out,
                "chunks: SHA-256 of every {} of the {} {} larger than that ({} digests)",
                crate::seal::size_text(size),
                chunked.len(),
                if chunked.len() == 1 { "file" } else { "files" },
                chunked.iter().sum::<usize>()
            );
        }
        None => {}
    }
    for e in &m.files {
        match e {
            Entry::File {
                name, size, sha256, ..
            } => {
                let _ = writeln!(out, "  {sha256}  {size:>12}  {}", printable(name));
            }
            Entry::Link { name, target } => {
                let _ = writeln!(
                    out,
                    "  {:64}  {:>12}  {} -> {} (link, not followed)",
                    "",
                    "",
                    printable(name),
                    printable(target)
                );
            }
        }
    }
    for (name, what) in &outcome.skipped {
        let _ = writeln!(out, "not sealed: {} ({what})", printable(name));
    }
    out
}
