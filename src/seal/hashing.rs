//! The hashing behind seals: a file's whole-file SHA-256 and its chunk
//! digests in one read (seal), and chunk digests checked on every core
//! (verify).
//!
//! Threads: `std::thread::scope`, not a pool crate (rayon). The work is
//! flat — equal-sized chunks of one mapped file, handed out by an atomic
//! counter (verify), or one helper fed windows through a queue of one
//! (seal) — so work stealing has nothing to add; scoped threads borrow the
//! map without reference counting, exist only while a file is hashed, and
//! need no new dependency.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::progress::Step;
use sha2::{Digest, Sha256};

use crate::memory::Bytes;

/// Bytes hashed between progress updates and releases of mapped pages: a
/// hashing thread keeps at most this much of a file resident.
pub const PIECE: usize = 8 << 20;

/// Bytes of small chunks a verify thread takes at once (and so keeps
/// resident): large enough that a 4 KiB chunk size does not mean a system
/// call per chunk, small enough that a 4 MiB chunk is taken alone.
const TAKE: usize = 1 << 20;

/// Most threads a check uses, however many cores there are.
const MAX_THREADS: usize = 64;

/// Threads to hash with: one per core the process may run on.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_THREADS)
}

pub type Digest32 = [u8; 32];

/// What `seal` records of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigests {
    pub sha256: Digest32,
    /// One per `chunk_size` bytes; empty when the file fits one chunk.
    pub chunks: Vec<Digest32>,
}

fn sha256(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

/// Bytes of a file `seal` hands to the chunk-hashing thread at a time.
const SEAL_WINDOW: usize = 4 << 20;

/// The whole-file digest and, for a file larger than `chunk_size`, every
/// chunk's, reading each byte of the file once: this thread feeds the
/// sequential whole-file hash window by window while a second thread hashes
/// the same windows' chunks, and a window's pages are released once both
/// have passed it. Either thread may run one window ahead of the other (a
/// queue of one), so neither waits for the other at every window, and at
/// most three windows (`max(chunk_size, 4 MiB)` each) are resident whatever
/// the file size. The whole-file hash cannot be split, so more than two
/// threads would not make sealing faster; verify is where the other cores
/// pay off.
pub fn seal_digests(bytes: &Bytes, chunk_size: usize, threads: usize, bar: &Step) -> FileDigests {
    let len = bytes.len();
    let chunk_size = chunk_size.max(1);
    if len <= chunk_size {
        return FileDigests {
            sha256: whole_streaming(bytes, bar),
            chunks: Vec::new(),
        };
    }
    let count = len.div_ceil(chunk_size);
    // A power-of-two chunk size divides a power-of-two window.
    let window = chunk_size.max(SEAL_WINDOW);
    let windows = (0..len)
        .step_by(window)
        .map(|at| at..at.saturating_add(window).min(len));
    let hash_chunks =
        |r: Range<usize>| -> Vec<Digest32> { bytes[r].chunks(chunk_size).map(sha256).collect() };
    let mut whole = Sha256::new();
    let mut chunks = Vec::with_capacity(count);
    let mut finished = |(r, digests): (Range<usize>, Vec<Digest32>)| {
        chunks.extend(digests);
        bytes.release_resident(r.clone());
        bar.inc(r.len() as u64);
    };
    if threads < 2 {
        for r in windows {
            whole.update(&bytes[r.clone()]);
            finished((r.clone(), hash_chunks(r)));
        }
    } else {
        std::thread::scope(|s| {
            let (to_helper, work) = mpsc::sync_channel::<Range<usize>>(1);
            let (to_main, done) = mpsc::channel();
            let helper = s.spawn(move || {
                for r in work {
                    let digests = hash_chunks(r.clone());
                    if to_main.send((r, digests)).is_err() {
                        break;
                    }
                }
            });
            for r in windows {
                // A helper that is gone leaves chunks missing: see below.
                let _ = to_helper.send(r.clone());
                whole.update(&bytes[r]);
                // Only windows this thread has passed are released.
                while let Ok(m) = done.try_recv() {
                    finished(m);
                }
            }
            drop(to_helper);
            for m in done {
                finished(m);
            }
            let _ = helper.join();
        });
    }
    // SHA-256 does not panic; should the helper fail anyway, the chunks
    // are hashed again here rather than recorded incomplete.
    if chunks.len() != count {
        chunks = bytes.chunks(chunk_size).map(sha256).collect();
    }
    FileDigests {
        sha256: whole.finalize().into(),
        chunks,
    }
}

/// SHA-256 of `bytes`, fed in pieces so a mapped file is read once, front
/// to back, with progress; each piece's pages are released once hashed.
pub fn whole_streaming(bytes: &Bytes, bar: &Step) -> Digest32 {
    let mut hasher = Sha256::new();
    let mut at = 0;
    for piece in bytes.chunks(PIECE) {
        hasher.update(piece);
        bytes.release_resident(at..at + piece.len());
        at += piece.len();
        bar.inc(piece.len() as u64);
    }
    hasher.finalize().into()
}

/// The indices, ascending, of the chunks of `bytes` whose SHA-256 is not
/// `expected`'s (a chunk `expected` has no digest for counts as changed).
/// `threads` threads take chunks from a shared counter (1 MiB's worth of
/// small chunks at a time); each releases the pages it hashed behind it,
/// so at most `threads` times max(chunk, 1 MiB), at most a piece, are
/// resident at once.
pub fn changed_chunks(
    bytes: &Bytes,
    chunk_size: usize,
    expected: &[Digest32],
    threads: usize,
    bar: &Step,
) -> Vec<usize> {
    let chunk_size = chunk_size.max(1);
    let count = bytes.len().div_ceil(chunk_size);
    let next = AtomicUsize::new(0);
    // Small chunks are taken TAKE bytes' worth at a time, so releasing
    // pages and counting progress stay one call per MiB, not per chunk.
    let per_take = (TAKE / chunk_size).max(1);
    let work = || {
        let mut changed = Vec::new();
        loop {
            let first = next.fetch_add(per_take, Ordering::Relaxed);
            if first >= count {
                break;
            }
            let last = first.saturating_add(per_take).min(count);
            for i in first..last {
                let start = i * chunk_size;
                let end = start.saturating_add(chunk_size).min(bytes.len());
                let mut hasher = Sha256::new();
                let mut at = start;
                while at < end {
                    let piece_end = at.saturating_add(PIECE).min(end);
                    hasher.update(&bytes[at..piece_end]);
                    if chunk_size > PIECE {
                        bytes.release_resident(at..piece_end);
                        bar.inc((piece_end - at) as u64);
                    }
                    at = piece_end;
                }
                let digest: Digest32 = hasher.finalize().into();
                if expected.get(i) != Some(&digest) {
                    changed.push(i);
                }
            }
            if chunk_size <= PIECE {
                // The take is at most max(TAKE, chunk_size) <= PIECE bytes.
                let start = first * chunk_size;
                let end = (last * chunk_size).min(bytes.len());
                bytes.release_resident(start..end);
                bar.inc((end - start) as u64);
            }
        }
        changed
    };
    let helpers = threads.clamp(1, count.max(1)) - 1;
    let mut changed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..helpers).map(|_| s.spawn(work)).collect();
        // This thread works too; it drains whatever a failed helper left.
        let mut all = work();
        for h in handles {
            match h.join() {
                Ok(found) => all.extend(found),
                // A chunk a helper took but did not finish is unaccounted
                // for: report nothing as unchanged that was not checked.
                Err(_) => return None,
            }
        }
        Some(all)
    })
    .unwrap_or_else(|| {
        next.store(0, Ordering::Relaxed);
        work()
    });
    changed.sort_unstable();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Bytes {
        Bytes::from_vec(
            (0..len as u64)
                .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
                .collect(),
        )
    }

    #[test]
    fn one_pass_matches_separate_hashes() {
        // Three windows, the last short, its last chunk short.
        let bytes = sample(PIECE + (1 << 20) + 12_345);
        let want: Vec<_> = bytes.chunks(1 << 20).map(sha256).collect();
        assert_eq!(want.len(), 10);
        for threads in [1, 2, 5] {
            let got = seal_digests(&bytes, 1 << 20, threads, &Step::hidden());
            assert_eq!(got.sha256, sha256(&bytes));
            assert_eq!(got.chunks, want);
        }
        // A chunk larger than the window: the window is a chunk.
        let got = seal_digests(&bytes, PIECE, 2, &Step::hidden());
        assert_eq!(got.sha256, sha256(&bytes));
        assert_eq!(
            got.chunks,
            bytes.chunks(PIECE).map(sha256).collect::<Vec<_>>()
        );
        // One chunk or less: no chunk list.
        let small = sample(4096);
        let got = seal_digests(&small, 4096, 2, &Step::hidden());
        assert_eq!((got.sha256, got.chunks.len()), (sha256(&small), 0));
    }

    #[test]
    fn changed_chunks_finds_every_flip() {
        let bytes = sample(1 << 20);
        let digests = seal_digests(&bytes, 4096, 2, &Step::hidden()).chunks;
        assert_eq!(digests.len(), 256);
        let mut flipped = bytes.to_vec();
        for at in [0usize, 4095, 4096 * 17 + 3, (1 << 20) - 1] {
            flipped[at] ^= 0x20;
        }
        let flipped = Bytes::from_vec(flipped);
        for threads in [1, 2, 7, 300] {
            let bar = Step::hidden();
            assert_eq!(
                changed_chunks(&flipped, 4096, &digests, threads, &bar),
                vec![0, 17, 255]
            );
            assert_eq!(bar.position(), 1 << 20);
            assert!(changed_chunks(&bytes, 4096, &digests, threads, &bar).is_empty());
        }
        // 17 takes of one 1 MiB chunk, shared between threads.
        let big = sample(2 * PIECE + 5000);
        let big_digests = seal_digests(&big, 1 << 20, 2, &Step::hidden()).chunks;
        assert_eq!(big_digests.len(), 17);
        let mut flipped = big.to_vec();
        flipped[(3 << 20) + 1] ^= 1;
        flipped[(16 << 20) + 4999] ^= 1;
        let flipped = Bytes::from_vec(flipped);
        for threads in [1, 3] {
            let bar = Step::hidden();
            assert_eq!(
                changed_chunks(&flipped, 1 << 20, &big_digests, threads, &bar),
                vec![3, 16]
            );
            assert_eq!(bar.position(), big.len() as u64);
        }
        // 64 KiB chunks, taken 16 at a time.
        let small_digests = seal_digests(&big, 64 << 10, 2, &Step::hidden()).chunks;
        assert_eq!(small_digests.len(), 257);
        let bar = Step::hidden();
        assert_eq!(
            changed_chunks(&flipped, 64 << 10, &small_digests, 3, &bar),
            vec![48, 256]
        );
        assert_eq!(bar.position(), big.len() as u64);
        // Fewer digests than chunks: the rest count as changed.
        assert_eq!(
            changed_chunks(&bytes, 4096, &digests[..254], 2, &Step::hidden()),
            vec![254, 255]
        );
    }
}
