//! makedumpfile's flattened format (`makedumpfile -F`, what kdump pipes
//! over ssh and what QEMU's `kdump-*` output is): a 4096-byte header, then
//! records `{BE i64 offset, BE i64 size, size bytes}` that each say where
//! their bytes belong in the dump file they carry, ended by a record whose
//! offset and size are both -1.
//!
//! [`FlattenedFile`] reads the carried file in place through an index of
//! its records; it is never reassembled.

use std::collections::BTreeMap;

use crate::finding::{Finding, registry};
use crate::memory::Bytes;

use super::kdump_compressed::DumpFile;

/// The flattened header's size; the first record starts here.
pub const FLAT_HEADER_SIZE: u64 = 4096;
const SIGNATURE: &[u8; 16] = b"makedumpfile\0\0\0\0";
const TYPE_FLAT_HEADER: i64 = 1;
const VERSION_FLAT_HEADER: i64 = 1;
const RECORD_HEADER_SIZE: u64 = 16;

/// Whether `first_bytes` start a flattened stream: the signature, then
/// type 1 and version 1 as big-endian i64.
pub fn is_flattened(first_bytes: &[u8]) -> bool {
    first_bytes.len() >= 32
        && first_bytes[..16] == SIGNATURE[..]
        && be_i64(&first_bytes[16..24]) == TYPE_FLAT_HEADER
        && be_i64(&first_bytes[24..32]) == VERSION_FLAT_HEADER
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

/// A run of the carried file's bytes `[start, end)` held in the stream at
/// `stream_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    end: u64,
    stream_offset: u64,
}

/// The file a flattened stream carries, readable at any offset.
pub struct FlattenedFile {
    stream: Bytes,
    /// Disjoint runs keyed by their start in the carried file; where
    /// records overlap the later one wins (it was written later).
    pieces: BTreeMap<u64, Piece>,
    /// The carried file's size: the end of its furthest record.
    len: u64,
    /// Bytes of record data in the stream (what allocations are bounded by).
    stored: u64,
    records: u64,
    findings: Vec<Finding>,
}

impl FlattenedFile {
    /// Indexes the records of `stream`. Damage (a record cut short, a
    /// negative offset, no end marker) is a finding; the records before
    /// it stay readable. Errors only when the header is not a flattened one.
    pub fn parse(stream: Bytes) -> Result<FlattenedFile, String> {
        if !is_flattened(&stream) {
            return Err("not a makedumpfile flattened stream (no flattened header)".into());
        }
        let mut file = FlattenedFile {
            pieces: BTreeMap::new(),
            len: 0,
            stored: 0,
            records: 0,
            findings: Vec::new(),
            stream,
        };
        let total = file.stream.len() as u64;
        let mut at = FLAT_HEADER_SIZE;
        let mut ended = false;
        // Every record advances `at` by at least its 16-byte header: the
        // loop ends within total / 16 steps.
        while at + RECORD_HEADER_SIZE <= total {
            let h = &file.stream[at as usize..(at + RECORD_HEADER_SIZE) as usize];
            let (offset, size) = (be_i64(&h[..8]), be_i64(&h[8..16]));
            if offset == -1 && size == -1 {
                ended = true;
                break;
            }
            if offset < 0 || size < 0 {
                file.findings.push(
                    Finding::new(
                        &registry::FLATTENED_RECORDS,
                        format!(
                            "record at stream offset {at:#x} has offset {offset} and size {size}; \
                             the {} records before it are read, the rest of the stream is not",
                            file.records
                        ),
                    )
                    .at_offset(at),
                );
                return Ok(file.finish());
            }
            let (offset, size) = (offset as u64, size as u64);
            let data = at + RECORD_HEADER_SIZE;
            let Some(data_end) = data.checked_add(size).filter(|&e| e <= total) else {
                file.findings.push(
                    Finding::new(
                        &registry::FLATTENED_RECORDS,
                        format!(
                            "record at stream offset {at:#x} holds {size:#x} bytes for offset \
                             {offset:#x} but the stream ends {:#x} bytes after its header: it was cut short",
                            total - data
                        ),
                    )
                    .at_offset(at),
                );
                return Ok(file.finish());
            };
            let Some(end) = offset.checked_add(size) else {
                file.findings.push(
                    Finding::new(
                        &registry::FLATTENED_RECORDS,
                        format!("record at stream offset {at:#x}: offset {offset:#x} + size {size:#x} overflows"),
                    )
                    .at_offset(at),
                );
                return Ok(file.finish());
            };
            if size > 0 {
                file.insert(offset, end, data);
                file.stored += size;
                file.len = file.len.max(end);
            }
            file.records += 1;
            at = data_end;
        }
        if !ended {
            file.findings.push(
                Finding::new(
                    &registry::FLATTENED_RECORDS,
                    format!(
                        "the stream ends at {total:#x} without its end marker after {} records: \
                         it was cut short",
                        file.records
                    ),
                )
                .at_offset(at.min(total)),
            );
        }
        Ok(file.finish())
    }

    fn finish(self) -> Self {
        self
    }

    /// Puts `[start, end)` (held at `stream_offset`) over whatever runs it
    /// overlaps, cutting them.
    fn insert(&mut self, start: u64, end: u64, stream_offset: u64) {
        // A run starting before `start` may reach into the new one.
        if let Some((&s, &p)) = self.pieces.range(..start).next_back()
            && p.end > start
        {
            self.pieces.insert(
                s,
                Piece {
                    end: start,
                    stream_offset: p.stream_offset,
                },
            );
            if p.end > end {
                self.pieces.insert(
                    end,
                    Piece {
                        end: p.end,
                        stream_offset: p.stream_offset + (end - s),
                    },
                );
            }
        }
        // Runs starting inside the new one: drop, keeping a tail past `end`.
        let inside: Vec<u64> = self.pieces.range(start..end).map(|(&s, _)| s).collect();
        for s in inside {
            if let Some(p) = self.pieces.remove(&s)
                && p.end > end
            {
                self.pieces.insert(
                    end,
                    Piece {
                        end: p.end,
                        stream_offset: p.stream_offset + (end - s),
                    },
                );
            }
        }
        self.pieces.insert(start, Piece { end, stream_offset });
    }

    /// Problems met while indexing the stream.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// How many data records the stream holds (up to any damage).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The disjoint runs of the carried file that the stream holds, as
    /// `(start, end)`, sorted. Bytes between them read as zeros.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        self.pieces.iter().map(|(&s, p)| (s, p.end)).collect()
    }
}

impl DumpFile for FlattenedFile {
    fn size(&self) -> u64 {
        self.len
    }

    fn stored_bytes(&self) -> u64 {
        self.stored
    }

    /// A damaged or unended stream lost the records after the damage.
    fn cut_short(&self) -> bool {
        !self.findings.is_empty()
    }

    /// Whether records cover every byte of the range (a gap reads as
    /// zeros but holds nothing the writer sent).
    fn holds(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        let mut at = offset;
        // From the run holding `at` to the one after it: every step moves
        // `at` past a run, so the loop ends within the number of runs.
        while at < end {
            let Some((_, piece)) = self
                .pieces
                .range(..=at)
                .next_back()
                .filter(|(_, p)| p.end > at)
            else {
                return false;
            };
            at = piece.end;
        }
        end <= self.len
    }

    /// Bytes no record wrote read as zeros, as they would in the file
    /// `makedumpfile -R` rebuilds (it seeks over them).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - offset) as usize;
        if want == 0 {
            return Ok(0);
        }
        let buf = &mut buf[..want];
        buf.fill(0);
        let end = offset + want as u64;
        // The run that may start before `offset`, then every run starting
        // inside the window.
        let first = self
            .pieces
            .range(..=offset)
            .next_back()
            .map(|(&s, p)| (s, *p));
        let rest = self.pieces.range(offset.saturating_add(1)..end);
        for (s, p) in first.into_iter().chain(rest.map(|(&s, p)| (s, *p))) {
            let from = s.max(offset);
            let to = p.end.min(end);
            if from >= to {
                continue;
            }
            // Indexed runs lie inside the stream (checked in parse).
            let src = (p.stream_offset + (from - s)) as usize;
            let n = (to - from) as usize;
            let dst = (from - offset) as usize;
            buf[dst..dst + n].copy_from_slice(&self.stream[src..src + n]);
        }
        Ok(want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(records: &[(i64, &[u8])], end: bool) -> Bytes {
        let mut v = vec![0u8; FLAT_HEADER_SIZE as usize];
        v[..16].copy_from_slice(SIGNATURE);
        v[16..24].copy_from_slice(&1i64.to_be_bytes());
        v[24..32].copy_from_slice(&1i64.to_be_bytes());
        for (off, data) in records {
            v.extend_from_slice(&off.to_be_bytes());
            v.extend_from_slice(&(data.len() as i64).to_be_bytes());
            v.extend_from_slice(data);
        }
        if end {
            v.extend_from_slice(&(-1i64).to_be_bytes());
            v.extend_from_slice(&(-1i64).to_be_bytes());
        }
        Bytes::from_vec(v)
    }

    fn read_all(f: &FlattenedFile) -> Vec<u8> {
        let mut out = vec![0xee; f.size() as usize];
        assert_eq!(f.read_at(0, &mut out).unwrap(), out.len());
        out
    }

    #[test]
    fn later_records_win_and_gaps_read_as_zero() {
        let s = stream(
            &[
                (0, b"aaaaaaaa"),
                (12, b"bbbb"),
                (2, b"CC"),
                (6, b"DDDDDDDD"),
            ],
            true,
        );
        let f = FlattenedFile::parse(s).unwrap();
        assert!(f.findings().is_empty());
        assert_eq!(f.size(), 16);
        assert_eq!(read_all(&f), b"aaCCaaDDDDDDDDbb");
        assert_eq!(f.runs(), vec![(0, 2), (2, 4), (4, 6), (6, 14), (14, 16)]);
        let mut b = [0u8; 3];
        assert_eq!(f.read_at(13, &mut b).unwrap(), 3);
        assert_eq!(&b, b"Dbb");
        let s = stream(&[(0, b"xx"), (10, b"yy")], true);
        let f = FlattenedFile::parse(s).unwrap();
        assert_eq!(read_all(&f), b"xx\0\0\0\0\0\0\0\0yy");
        // A record covering one from inside.
        let s = stream(&[(2, b"ab"), (0, b"012345")], true);
        assert_eq!(read_all(&FlattenedFile::parse(s).unwrap()), b"012345");
        let s = stream(&[(0, b"012345"), (2, b"ab")], true);
        assert_eq!(read_all(&FlattenedFile::parse(s).unwrap()), b"01ab45");
    }

    #[test]
    fn damage_is_a_finding() {
        let f = FlattenedFile::parse(stream(&[(0, b"abc")], false)).unwrap();
        assert_eq!(f.findings().len(), 1);
        assert_eq!(read_all(&f), b"abc");
        let f = FlattenedFile::parse(stream(&[(0, b"abc"), (-5, b"x")], true)).unwrap();
        assert_eq!(f.findings().len(), 1);
        assert_eq!(f.records(), 1);
        // A record whose size runs past the stream.
        let mut v = stream(&[(0, b"abc")], false).to_vec();
        v.extend_from_slice(&8i64.to_be_bytes());
        v.extend_from_slice(&1000i64.to_be_bytes());
        v.extend_from_slice(b"zz");
        let f = FlattenedFile::parse(Bytes::from_vec(v)).unwrap();
        assert_eq!(f.findings().len(), 1);
        assert_eq!(f.size(), 3);
        assert!(FlattenedFile::parse(Bytes::from_vec(vec![0; 64])).is_err());
        assert!(f.cut_short());
    }

    #[test]
    fn gaps_are_not_held() {
        let s = stream(&[(0, b"xx"), (10, b"yyyy"), (4, b"zzzzzz")], true);
        let f = FlattenedFile::parse(s).unwrap();
        assert!(!f.cut_short());
        // Runs [0, 2), [4, 10), [10, 14): a range across two touching
        // runs is held, one over the gap or past the end is not.
        assert!(f.holds(0, 2) && f.holds(4, 10) && f.holds(12, 2) && f.holds(5, 0));
        assert!(!f.holds(1, 2) && !f.holds(2, 1) && !f.holds(12, 3));
        assert!(!f.holds(u64::MAX, 2));
    }
}
