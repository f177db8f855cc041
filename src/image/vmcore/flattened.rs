//! makedumpfile's flattened format (`makedumpfile -F`, what kdump pipes
//! over ssh and what QEMU's `kdump-*` output is): a 4096-byte header, then
//! records `{BE i64 offset, BE i64 size, size bytes}` that each say where
//! their bytes belong in the dump file they carry, ended by a record whose
//! offset and size are both -1.
//!
//! [`FlattenedFile`] reads the carried file in place through an index of
//! its records; it is never reassembled.
//!
//! Only the record headers say where the next record starts, so knowing
//! every record means reading one header per record: 90,000 of them, one
//! page fault or read each, for a 4 GiB guest's dump. A short stream is
//! indexed whole (exact). A long one is opened by its first
//! [`PREFIX_RECORDS`] records and the records at its end (reached from a
//! header found near the end and followed to the end marker), and every
//! other record is found when a read needs it ("fast" mode): the writers
//! (makedumpfile, QEMU) write a few interleaved sequences — header,
//! bitmaps, descriptor table, page data — each in increasing offset order,
//! so the record holding an offset is searched for among the records of
//! its sequence by stream position (interpolation and bisection), from a
//! header found by scanning from a guessed position and confirmed by the
//! headers that follow it. Anything that does not fit that shape (a record
//! rewriting bytes already indexed, a sequence going backwards, a search
//! that finds nothing, a stream not ending in its end marker) makes the
//! reader index the whole stream exactly, as for a short one. What fast
//! mode cannot see: damage or a rewrite in the middle of the stream that no
//! read comes near.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::finding::{Finding, registry};
use crate::memory::Bytes;

use super::kdump_compressed::DumpFile;

/// The flattened header's size; the first record starts here.
pub const FLAT_HEADER_SIZE: u64 = 4096;
const SIGNATURE: &[u8; 16] = b"makedumpfile\0\0\0\0";
const TYPE_FLAT_HEADER: i64 = 1;
const VERSION_FLAT_HEADER: i64 = 1;
const RECORD_HEADER_SIZE: u64 = 16;
/// Records indexed at open before the rest is left to be found when read:
/// a stream of fewer is indexed whole. QEMU and makedumpfile have begun
/// every sequence (bitmaps, descriptors, page data) within the first ~100.
pub const PREFIX_RECORDS: u64 = 1024;
/// How far before the stream's end the search for its last records starts.
const TAIL_BYTES: u64 = 64 << 10;
/// How far a scan for a record header goes from a guessed position (QEMU
/// writes ~16 KiB records, makedumpfile up to its write cache).
const SCAN_BYTES: u64 = 4 << 20;
/// Headers after a candidate that must also be headers for it to count.
const CONFIRMING_HEADERS: u32 = 3;
/// Records walked from a found header for one of the wanted sequence (QEMU
/// writes a descriptor record every ~80 page-data records).
const PROBE_RECORDS: u32 = 1024;
/// Search steps for one offset before giving up on fast mode.
const SEARCH_STEPS: u32 = 64;
/// Below this many records' worth of stream bytes (by the first records'
/// mean size), a search walks instead of probing.
const WALK_RECORDS: u64 = 4;
/// Fast mode's work (bytes scanned for headers, 4 KiB a record walked) is
/// bounded by this plus an eighth of the stream; past it the stream is
/// walked whole, so a stream built to make every search long costs no
/// more than about two exact walks.
const FAST_BUDGET_BASE: u64 = 64 << 20;
/// The exact walk lets go of the mapping behind it every this many bytes,
/// so a whole-stream walk does not keep the stream resident.
const RELEASE_EVERY: u64 = 64 << 20;

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

/// What the 16 bytes at a stream position are.
enum Header {
    /// A record of `size` bytes for `offset`; its data starts 16 bytes on.
    Record {
        offset: u64,
        size: u64,
    },
    End,
    /// Past the stream's end: fewer than 16 bytes left.
    Eof,
    /// Negative offset or size other than the end marker.
    Bad {
        offset: i64,
        size: i64,
    },
}

fn header_at(stream: &[u8], at: u64) -> Header {
    let Some(h) = usize::try_from(at)
        .ok()
        .and_then(|a| stream.get(a..a.checked_add(RECORD_HEADER_SIZE as usize)?))
    else {
        return Header::Eof;
    };
    let (offset, size) = (be_i64(&h[..8]), be_i64(&h[8..16]));
    match (offset, size) {
        (-1, -1) => Header::End,
        (o, s) if o < 0 || s < 0 => Header::Bad { offset, size },
        (o, s) => Header::Record {
            offset: o as u64,
            size: s as u64,
        },
    }
}

/// What read_at finds at a carried offset.
enum Located {
    /// The piece starting at `start` holds the offset.
    Piece(u64, Piece),
    /// No record wrote the bytes up to `until` (exclusive): zeros.
    Gap(u64),
}

/// The mutable part: indexes grow as reads need records.
struct Index {
    /// Exact mode: disjoint runs keyed by their start in the carried file,
    /// where records overlap the later one wins (it was written later).
    /// Fast mode: the records found so far (disjoint, or fast mode ends).
    pieces: BTreeMap<u64, Piece>,
    /// The carried file's size: the end of its furthest record (fast mode:
    /// of those at the stream's start and end).
    len: u64,
    /// Bytes of record data in the stream (what allocations are bounded
    /// by); fast mode: every byte after the flattened header.
    stored: u64,
    /// Records indexed.
    records: u64,
    /// Damage met by an exact walk that fast mode fell back to after open.
    late_damage: bool,
    /// Why a long stream was walked whole (not in the writers' shape).
    walked_whole_because: Option<&'static str>,
    fast: Option<Fast>,
}

/// What fast mode knows beyond the pieces.
struct Fast {
    /// Carried-file starts of the sequences seen in the first records,
    /// sorted: a record belongs to the last one at or before its offset.
    sequences: Vec<u64>,
    /// Stream intervals `[first header, next header)` whose records were
    /// all walked, and so are all in `pieces`.
    walked: BTreeMap<u64, u64>,
    /// Where the end marker is (the stream's last 16 bytes).
    end_marker: u64,
    /// Stream bytes under which a search walks rather than probes.
    walk_bytes: u64,
    /// Work left before fast mode gives up (see [`FAST_BUDGET_BASE`]).
    budget: u64,
}

/// The file a flattened stream carries, readable at any offset.
pub struct FlattenedFile {
    stream: Bytes,
    index: Mutex<Index>,
    findings: Vec<Finding>,
}

/// An exact walk of every record: the pieces, the carried file's size, the
/// bytes stored, the record count and the damage met.
struct ExactWalk {
    pieces: BTreeMap<u64, Piece>,
    len: u64,
    stored: u64,
    records: u64,
    findings: Vec<Finding>,
}

impl ExactWalk {
    /// Walks from the first record to the end marker, or to the first
    /// damage, or — with `stop_after` — until that many records.
    fn run(stream: &Bytes, stop_after: Option<u64>) -> (ExactWalk, WalkEnd) {
        let mut w = ExactWalk {
            pieces: BTreeMap::new(),
            len: 0,
            stored: 0,
            records: 0,
            findings: Vec::new(),
        };
        let total = stream.len() as u64;
        let mut at = FLAT_HEADER_SIZE;
        let mut released = 0u64;
        // Every record advances `at` by at least its 16-byte header: the
        // loop ends within total / 16 steps.
        loop {
            if stop_after.is_some_and(|n| w.records >= n) {
                return (w, WalkEnd::Stopped(at));
            }
            if at >= released + RELEASE_EVERY && stop_after.is_none() {
                stream.release_resident(released as usize..at as usize);
                released = at;
            }
            let damage = |m: String| Finding::new(&registry::FLATTENED_RECORDS, m).at_offset(at);
            let (offset, size) = match header_at(stream, at) {
                Header::End => return (w, WalkEnd::Ended),
                Header::Eof => {
                    w.findings.push(damage(format!(
                        "the stream ends at {total:#x} without its end marker after {} records: \
                         it was cut short",
                        w.records
                    )));
                    return (w, WalkEnd::Damaged);
                }
                Header::Bad { offset, size } => {
                    w.findings.push(damage(format!(
                        "record at stream offset {at:#x} has offset {offset} and size {size}; \
                         the {} records before it are read, the rest of the stream is not",
                        w.records
                    )));
                    return (w, WalkEnd::Damaged);
                }
                Header::Record { offset, size } => (offset, size),
            };
            let data = at + RECORD_HEADER_SIZE;
            let Some(data_end) = data.checked_add(size).filter(|&e| e <= total) else {
                w.findings.push(damage(format!(
                    "record at stream offset {at:#x} holds {size:#x} bytes for offset \
                     {offset:#x} but the stream ends {:#x} bytes after its header: it was cut short",
                    total - data
                )));
                return (w, WalkEnd::Damaged);
            };
            let Some(end) = offset.checked_add(size) else {
                w.findings.push(damage(format!(
                    "record at stream offset {at:#x}: offset {offset:#x} + size {size:#x} overflows"
                )));
                return (w, WalkEnd::Damaged);
            };
            if size > 0 {
                insert_later_wins(&mut w.pieces, offset, end, data);
                w.stored += size;
                w.len = w.len.max(end);
            }
            w.records += 1;
            at = data_end;
        }
    }
}

/// How an exact walk stopped.
enum WalkEnd {
    Ended,
    Damaged,
    /// After the records asked for; the next header is at this position.
    Stopped(u64),
}

/// Puts `[start, end)` (held at `stream_offset`) over whatever runs it
/// overlaps, cutting them.
fn insert_later_wins(pieces: &mut BTreeMap<u64, Piece>, start: u64, end: u64, stream_offset: u64) {
    // A run starting before `start` may reach into the new one.
    if let Some((&s, &p)) = pieces.range(..start).next_back()
        && p.end > start
    {
        pieces.insert(
            s,
            Piece {
                end: start,
                stream_offset: p.stream_offset,
            },
        );
        if p.end > end {
            pieces.insert(
                end,
                Piece {
                    end: p.end,
                    stream_offset: p.stream_offset + (end - s),
                },
            );
        }
    }
    // Runs starting inside the new one: drop, keeping a tail past `end`.
    let inside: Vec<u64> = pieces.range(start..end).map(|(&s, _)| s).collect();
    for s in inside {
        if let Some(p) = pieces.remove(&s)
            && p.end > end
        {
            pieces.insert(
                end,
                Piece {
                    end: p.end,
                    stream_offset: p.stream_offset + (end - s),
                },
            );
        }
    }
    pieces.insert(start, Piece { end, stream_offset });
}

/// Fast mode cannot go on: the stream is not shaped as the writers write.
#[derive(Debug)]
struct NotInShape(&'static str);

impl FlattenedFile {
    /// Indexes the records of `stream` (a long stream: its first and last
    /// records, the rest as reads need them). Damage (a record cut short, a
    /// negative offset, no end marker) is a finding; the records before it
    /// stay readable. Errors only when the header is not a flattened one.
    pub fn parse(stream: Bytes) -> Result<FlattenedFile, String> {
        Self::parse_with_prefix(stream, PREFIX_RECORDS)
    }

    /// Every record indexed at open, however long the stream: what verify
    /// reads, so that damage or a rewrite anywhere is seen.
    pub fn parse_exact(stream: Bytes) -> Result<FlattenedFile, String> {
        Self::parse_with_prefix(stream, u64::MAX)
    }

    /// [`FlattenedFile::parse`], indexing every record of a stream of at
    /// most `prefix_records` records at open (tests use a small number to
    /// read small streams in fast mode).
    pub fn parse_with_prefix(stream: Bytes, prefix_records: u64) -> Result<FlattenedFile, String> {
        if !is_flattened(&stream) {
            return Err("not a makedumpfile flattened stream (no flattened header)".into());
        }
        let (walk, how) = ExactWalk::run(&stream, Some(prefix_records));
        let mut file = FlattenedFile {
            index: Mutex::new(Index {
                pieces: walk.pieces,
                len: walk.len,
                stored: walk.stored,
                records: walk.records,
                late_damage: false,
                fast: None,
                walked_whole_because: None,
            }),
            findings: walk.findings,
            stream,
        };
        if let WalkEnd::Stopped(next) = how
            && let Err(why) = file.open_fast(next)
        {
            let (walk, _) = ExactWalk::run(&file.stream, None);
            file.findings = walk.findings;
            let ix = file.index.get_mut().unwrap_or_else(|e| e.into_inner());
            *ix = Index {
                pieces: walk.pieces,
                len: walk.len,
                stored: walk.stored,
                records: walk.records,
                late_damage: false,
                fast: None,
                walked_whole_because: Some(why.0),
            };
        }
        Ok(file)
    }

    /// Sets fast mode up after the first records (the next header at
    /// `next`): the sequences they show, and the records from a header
    /// near the stream's end to its end marker.
    fn open_fast(&mut self, next: u64) -> Result<(), NotInShape> {
        let total = self.stream.len() as u64;
        let end_marker = total
            .checked_sub(RECORD_HEADER_SIZE)
            .ok_or(NotInShape("stream shorter than an end marker"))?;
        if !matches!(header_at(&self.stream, end_marker), Header::End) || next >= end_marker {
            return Err(NotInShape("no end marker at the stream's end"));
        }
        let ix = self.index.get_mut().unwrap_or_else(|e| e.into_inner());
        // Sequences: a record that does not continue one (start at its
        // end) starts one. Prefix records are walked in stream order.
        let mut sequences: Vec<(u64, u64)> = Vec::new();
        let mut at = FLAT_HEADER_SIZE;
        while at < next {
            let Header::Record { offset, size } = header_at(&self.stream, at) else {
                return Err(NotInShape("damage among the first records"));
            };
            // Records that rewrite others' bytes: only an exact walk reads
            // them as the writer meant.
            let whole = Piece {
                end: offset + size,
                stream_offset: at + RECORD_HEADER_SIZE,
            };
            if size > 0 && ix.pieces.get(&offset) != Some(&whole) {
                return Err(NotInShape("first records rewrite each other"));
            }
            match sequences.iter_mut().find(|s| s.1 == offset) {
                Some(s) => s.1 = offset + size,
                None => sequences.push((offset, offset + size)),
            }
            at += RECORD_HEADER_SIZE + size;
        }
        let mut starts: Vec<u64> = sequences.iter().map(|s| s.0).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut fast = Fast {
            sequences: starts,
            walked: BTreeMap::from([(FLAT_HEADER_SIZE, next)]),
            end_marker,
            walk_bytes: (next - FLAT_HEADER_SIZE) / ix.records.max(1) * WALK_RECORDS,
            budget: FAST_BUDGET_BASE + total / 8,
        };
        // The last records: from a header found near the end (confirmed by
        // reaching the end marker), walked to it.
        let from = next.max(end_marker.saturating_sub(TAIL_BYTES));
        let tail = find_header(&self.stream, from, end_marker, u64::MAX >> 1, end_marker)
            .ok_or(NotInShape("no record header near the stream's end"))?;
        let mut ctx = FastIndex {
            stream: &self.stream,
            ix,
            fast: &mut fast,
        };
        ctx.walk(tail, end_marker, u32::MAX, |_, _| false)?;
        ix.stored = total - FLAT_HEADER_SIZE;
        ix.fast = Some(fast);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves a usable index: every
        // change to it is a whole insert.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Problems met while indexing the stream at open.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// How many data records are indexed: all the stream holds (up to any
    /// damage) once it was walked whole, else those found so far.
    pub fn records(&self) -> u64 {
        self.lock().records
    }

    /// Whether every record was walked (a short stream, or one that did not
    /// have the writers' shape), rather than found as reads needed them.
    pub fn indexed_whole(&self) -> bool {
        self.lock().fast.is_none()
    }

    /// Why a stream longer than the first records was walked whole: what
    /// in it is not shaped as the writers write.
    pub fn walked_whole_because(&self) -> Option<&'static str> {
        self.lock().walked_whole_because
    }

    /// The disjoint runs of the carried file indexed so far, as `(start,
    /// end)`, sorted. Bytes between them read as zeros.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        self.lock()
            .pieces
            .iter()
            .map(|(&s, p)| (s, p.end))
            .collect()
    }

    /// The piece holding `x`, or how far the gap from `x` goes.
    fn locate(&self, ix: &mut Index, x: u64) -> Located {
        if ix.fast.is_some() {
            match self.locate_fast(ix, x) {
                Ok(l) => return l,
                Err(why) => self.fall_back(ix, why),
            }
        }
        exact_locate(&ix.pieces, x)
    }

    fn locate_fast(&self, ix: &mut Index, x: u64) -> Result<Located, NotInShape> {
        if let Some((&s, &p)) = ix.pieces.range(..=x).next_back()
            && p.end > x
        {
            return Ok(Located::Piece(s, p));
        }
        let mut fast = ix.fast.take().ok_or(NotInShape("fast index missing"))?;
        let mut ctx = FastIndex {
            stream: &self.stream,
            ix,
            fast: &mut fast,
        };
        let found = ctx.search(x);
        ix.fast = Some(fast);
        found
    }

    /// Indexes every record exactly, replacing what fast mode found.
    fn fall_back(&self, ix: &mut Index, why: NotInShape) {
        let (walk, _) = ExactWalk::run(&self.stream, None);
        *ix = Index {
            pieces: walk.pieces,
            len: walk.len,
            stored: walk.stored,
            records: walk.records,
            late_damage: !walk.findings.is_empty(),
            fast: None,
            walked_whole_because: Some(why.0),
        };
    }
}

/// The piece of an exact index holding `x`, or the gap up to the next one.
fn exact_locate(pieces: &BTreeMap<u64, Piece>, x: u64) -> Located {
    if let Some((&s, &p)) = pieces.range(..=x).next_back()
        && p.end > x
    {
        return Located::Piece(s, p);
    }
    let next = pieces
        .range(x.saturating_add(1)..)
        .next()
        .map_or(u64::MAX, |(&s, _)| s);
    Located::Gap(next)
}

/// The first position in `[from, to)` (scanning at most [`SCAN_BYTES`])
/// holding a plausible record header — offset and size within `max_end`,
/// the record inside the stream before `end_marker` — followed by
/// [`CONFIRMING_HEADERS`] more plausible headers or the end marker.
fn find_header(stream: &[u8], from: u64, to: u64, max_end: u64, end_marker: u64) -> Option<u64> {
    let plausible = |at: u64| -> Option<u64> {
        match header_at(stream, at) {
            Header::Record { offset, size }
                if size > 0
                    && offset.checked_add(size).is_some_and(|e| e <= max_end)
                    && at + RECORD_HEADER_SIZE + size <= end_marker =>
            {
                Some(at + RECORD_HEADER_SIZE + size)
            }
            _ => None,
        }
    };
    let last = to.min(from.saturating_add(SCAN_BYTES)).min(end_marker);
    (from..last).find(|&q| {
        let Some(mut next) = plausible(q) else {
            return false;
        };
        for _ in 0..CONFIRMING_HEADERS {
            if next == end_marker {
                return true;
            }
            match plausible(next) {
                Some(n) => next = n,
                None => return false,
            }
        }
        true
    })
}

/// Fast mode's index, borrowed for a search.
struct FastIndex<'a> {
    stream: &'a Bytes,
    ix: &'a mut Index,
    fast: &'a mut Fast,
}

impl FastIndex<'_> {
    /// The start and end (exclusive, or u64::MAX) of the sequence `x` is in.
    fn sequence_of(&self, x: u64) -> (u64, u64) {
        let seq = &self.fast.sequences;
        let i = seq.partition_point(|&s| s <= x);
        let start = if i == 0 { 0 } else { seq[i - 1] };
        (start, seq.get(i).copied().unwrap_or(u64::MAX))
    }

    /// Walks the chain from the header at `from` until the header at or
    /// past `to`, at most `max` records, or until `stop(start, piece)`
    /// says so for a record (then returns its header position). Records
    /// go into the index; a record over one already there, or reaching
    /// past its sequence, is not the writers' shape.
    fn walk(
        &mut self,
        from: u64,
        to: u64,
        max: u32,
        mut stop: impl FnMut(u64, Piece) -> bool,
    ) -> Result<Option<u64>, NotInShape> {
        let mut at = from;
        let mut n = 0u32;
        let mut hit = None;
        while at < to && n < max {
            let Header::Record { offset, size } = header_at(self.stream, at) else {
                // Damage, or the end marker before the stream's end.
                return Err(NotInShape("damage or an early end marker in a walk"));
            };
            let data = at + RECORD_HEADER_SIZE;
            let data_end = data
                .checked_add(size)
                .filter(|&e| e <= self.fast.end_marker)
                .ok_or(NotInShape("record past the end marker"))?;
            let end = offset
                .checked_add(size)
                .ok_or(NotInShape("record offset overflows"))?;
            let piece = Piece {
                end,
                stream_offset: data,
            };
            if size > 0 {
                self.insert(offset, piece)?;
            }
            n += 1;
            at = data_end;
            self.spend(4096)?;
            if size > 0 && stop(offset, piece) {
                hit = Some(data - RECORD_HEADER_SIZE);
                break;
            }
        }
        if at > to && to == self.fast.end_marker {
            return Err(NotInShape("walk went past the end marker"));
        }
        self.mark_walked(from, at);
        if to == self.fast.end_marker && at == to && hit.is_none() {
            // The chain reached the end marker exactly.
            return Ok(None);
        }
        Ok(hit)
    }

    fn spend(&mut self, work: u64) -> Result<(), NotInShape> {
        self.fast.budget = self
            .fast
            .budget
            .checked_sub(work)
            .ok_or(NotInShape("search work past its bound"))?;
        Ok(())
    }

    fn insert(&mut self, start: u64, piece: Piece) -> Result<(), NotInShape> {
        if let Some(p) = self.ix.pieces.get(&start) {
            // The same record met again (two walks over one stretch).
            return if *p == piece {
                Ok(())
            } else {
                Err(NotInShape("a record met twice differs"))
            };
        }
        let overlaps_before = self
            .ix
            .pieces
            .range(..start)
            .next_back()
            .is_some_and(|(_, p)| p.end > start);
        let overlaps_after = self.ix.pieces.range(start..piece.end).next().is_some();
        let (_, seq_end) = self.sequence_of(start);
        if overlaps_before || overlaps_after || piece.end > seq_end {
            return Err(NotInShape("a record over another, or across sequences"));
        }
        self.ix.pieces.insert(start, piece);
        self.ix.records += 1;
        self.ix.len = self.ix.len.max(piece.end);
        Ok(())
    }

    /// Records `[from, to)` of the stream as walked, merging neighbours.
    fn mark_walked(&mut self, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let (mut s, mut e) = (from, to);
        let touching: Vec<(u64, u64)> = self
            .fast
            .walked
            .range(..=to)
            .rev()
            .take_while(|&(_, &we)| we >= from)
            .map(|(&ws, &we)| (ws, we))
            .collect();
        for (ws, we) in touching {
            self.fast.walked.remove(&ws);
            s = s.min(ws);
            e = e.max(we);
        }
        self.fast.walked.insert(s, e);
    }

    /// Past the walked interval holding `at`, if any.
    fn skip_walked(&self, at: u64) -> u64 {
        match self.fast.walked.range(..=at).next_back() {
            Some((_, &e)) if e > at => e,
            _ => at,
        }
    }

    /// Finds the record holding `x` among its sequence's records, which
    /// lie in the stream in increasing offset order.
    fn search(&mut self, x: u64) -> Result<Located, NotInShape> {
        let (seq_start, seq_end) = self.sequence_of(x);
        // Search bounds: after the last known record of the sequence below
        // `x`, before the first above it.
        let below = self
            .ix
            .pieces
            .range(seq_start..=x)
            .next_back()
            .map(|(&s, &p)| (s, p));
        let above = self
            .ix
            .pieces
            .range(x.saturating_add(1)..seq_end)
            .next()
            .map(|(&s, &p)| (s, p));
        let mut a = below.map_or(FLAT_HEADER_SIZE, |(s, p)| p.stream_offset + (p.end - s));
        let mut b = above.map_or(self.fast.end_marker, |(_, p)| {
            p.stream_offset - RECORD_HEADER_SIZE
        });
        let (mut lo_off, mut hi_off) =
            (below.map_or(seq_start, |(_, p)| p.end), above.map(|a| a.0));
        let in_seq = |s: u64| s >= seq_start && s < seq_end;
        for step in 0..SEARCH_STEPS {
            a = self.skip_walked(a);
            if a >= b {
                // Every record between the neighbours was walked: none
                // holds `x`.
                return Ok(Located::Gap(hi_off.unwrap_or(seq_end)));
            }
            let from = if b - a <= self.fast.walk_bytes {
                // Close enough: `a` is a header, walk on from it.
                a
            } else {
                // Interpolate on even steps, halve on odd ones: a few steps
                // when offsets grow evenly through the stream, never more
                // than halving's.
                let guess = match hi_off {
                    Some(h) if step % 2 == 0 && h > lo_off && x >= lo_off => {
                        let f = (x - lo_off) as f64 / (h - lo_off) as f64;
                        a + ((b - a) as f64 * f) as u64
                    }
                    _ => a + (b - a) / 2,
                };
                let guess = guess.clamp(a, b - 1);
                let max_end = self.ix.len;
                let found = find_header(self.stream, guess, b, max_end, self.fast.end_marker);
                let scanned = found.unwrap_or(b.min(guess.saturating_add(SCAN_BYTES))) - guess;
                self.spend(scanned)?;
                let Some(q) = found else {
                    // No header between the guess and `b`: the record is
                    // before the guess. (A scan cut short says nothing.)
                    if guess == a || guess.saturating_add(SCAN_BYTES) < b {
                        return Err(NotInShape("no record header between guess and bound"));
                    }
                    b = guess;
                    continue;
                };
                q
            };
            // The sequence's records the walk meets: the last one ending at
            // or before `x`, and the first ending after it (the walk stops
            // there). A probe stops at the first either way: it only asks
            // which side `x` is on.
            let probe = from != a;
            let mut met: [Option<(u64, Piece)>; 2] = [None, None];
            let limit = if probe { PROBE_RECORDS } else { u32::MAX };
            let hit = self.walk(from, b, limit, |s, p| {
                if !in_seq(s) {
                    false
                } else if p.end > x {
                    met[1] = Some((s, p));
                    true
                } else {
                    met[0] = Some((s, p));
                    probe
                }
            })?;
            let [before, after] = met;
            if let Some((s, p)) = before {
                if p.end < lo_off || hi_off.is_some_and(|hi| s > hi) {
                    return Err(NotInShape("a sequence going backwards"));
                }
                a = p.stream_offset + (p.end - s);
                lo_off = p.end;
            }
            match (after, hit) {
                (Some((s, p)), _) if s <= x => return Ok(Located::Piece(s, p)),
                (Some((s, _)), Some(h)) => {
                    if hi_off.is_some_and(|hi| s > hi) || s < lo_off {
                        return Err(NotInShape("a sequence going backwards"));
                    }
                    b = h;
                    hi_off = Some(s);
                }
                _ if before.is_some() => {}
                _ => {
                    // None of the sequence from `from` on: the record is
                    // before it, if the walk went as far as `b`.
                    if self.skip_walked(from) < b {
                        return Err(NotInShape("no record of the sequence within a probe"));
                    }
                    b = from;
                }
            }
        }
        Err(NotInShape("search did not converge"))
    }
}

impl DumpFile for FlattenedFile {
    fn size(&self) -> u64 {
        self.lock().len
    }

    fn stored_bytes(&self) -> u64 {
        self.lock().stored
    }

    /// A damaged or unended stream lost the records after the damage.
    fn cut_short(&self) -> bool {
        !self.findings.is_empty() || self.lock().late_damage
    }

    /// Whether records cover every byte of the range (a gap reads as
    /// zeros but holds nothing the writer sent).
    fn holds(&self, offset: u64, len: u64) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        let mut ix = self.lock();
        if end > ix.len {
            return false;
        }
        let mut at = offset;
        // From the run holding `at` to the one after it: every step moves
        // `at` past a run, so the loop ends within the number of runs.
        while at < end {
            match self.locate(&mut ix, at) {
                Located::Piece(_, p) => at = p.end,
                Located::Gap(_) => return false,
            }
        }
        true
    }

    /// Bytes no record wrote read as zeros, as they would in the file
    /// `makedumpfile -R` rebuilds (it seeks over them).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut ix = self.lock();
        if offset >= ix.len {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(ix.len - offset) as usize;
        let buf = &mut buf[..want];
        let end = offset + want as u64;
        let mut at = offset;
        // Every step moves `at` past a piece or a gap.
        while at < end {
            let dst = (at - offset) as usize;
            match self.locate(&mut ix, at) {
                Located::Piece(s, p) => {
                    let to = p.end.min(end);
                    let n = (to - at) as usize;
                    // Indexed pieces lie inside the stream (checked when
                    // walked).
                    let src = (p.stream_offset + (at - s)) as usize;
                    buf[dst..dst + n].copy_from_slice(&self.stream[src..src + n]);
                    at = to;
                }
                Located::Gap(until) => {
                    let to = until.clamp(at + 1, end);
                    buf[dst..(to - offset) as usize].fill(0);
                    at = to;
                }
            }
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

    /// A writer's shape: a header record, then two interleaved sequences
    /// (a table at 0x1000 written every 4th record, data at 0x10_0000),
    /// `n` data records of varying sizes. Returns the records and the
    /// carried file they make.
    fn writers_shape(n: u64) -> (Vec<(i64, Vec<u8>)>, Vec<u8>) {
        let mut recs: Vec<(i64, Vec<u8>)> = vec![(0, b"HEAD".to_vec())];
        let (mut table, mut data) = (0x1000u64, 0x10_0000u64);
        for i in 0..n {
            let len = 100 + (i * 37 % 300) as usize;
            let fill = (i % 251) as u8;
            let mut d = vec![fill; len];
            d[0] = 0xd0 ^ fill;
            recs.push((data as i64, d));
            data += len as u64;
            if i % 4 == 3 {
                recs.push((table as i64, vec![(i % 200) as u8 + 1; 24]));
                table += 24;
            }
        }
        let end = recs
            .iter()
            .map(|(o, d)| *o as usize + d.len())
            .max()
            .unwrap();
        let mut file = vec![0u8; end];
        for (o, d) in &recs {
            file[*o as usize..*o as usize + d.len()].copy_from_slice(d);
        }
        (recs, file)
    }

    fn stream_of(recs: &[(i64, Vec<u8>)]) -> Bytes {
        let r: Vec<(i64, &[u8])> = recs.iter().map(|(o, d)| (*o, d.as_slice())).collect();
        stream(&r, true)
    }

    #[test]
    fn a_long_stream_is_read_without_walking_it_all() {
        let (recs, carried) = writers_shape(12_000);
        let f = FlattenedFile::parse_with_prefix(stream_of(&recs), 64).unwrap();
        assert!(!f.indexed_whole());
        assert!(f.findings().is_empty());
        assert_eq!(f.size(), carried.len() as u64);
        let at_open = f.records();
        // The first 64 and those in the last 64 KiB (~260).
        assert!(at_open < 400, "{at_open}");
        // Scattered reads in the page data, each exactly the carried bytes.
        let data = 0x10_0000u64..carried.len() as u64 - 64;
        let mut buf = [0u8; 64];
        for i in 0..300u64 {
            let at = data.start + i * 104_729 % (data.end - data.start);
            assert_eq!(f.read_at(at, &mut buf).unwrap(), 64);
            assert_eq!(
                &buf[..],
                &carried[at as usize..at as usize + 64],
                "at {at:#x}"
            );
        }
        // And in the table, written a record every fifth.
        for i in 0..100u64 {
            let at = 0x1000 + i * 7919 % (3000 * 24 - 64);
            assert_eq!(f.read_at(at, &mut buf).unwrap(), 64);
            assert_eq!(
                &buf[..],
                &carried[at as usize..at as usize + 64],
                "at {at:#x}"
            );
        }
        assert_eq!(f.walked_whole_because(), None);
        let walked = f.records();
        assert!(walked < 5000, "{walked} of 15000 records for 400 reads");
        assert!(f.holds(0x1000, 3000 * 24) && f.holds(0x10_0000, 1 << 20));
        assert!(!f.holds(0, carried.len() as u64 + 1));
        assert!(!f.indexed_whole());
        // Bytes between the header and the table: no record of the
        // header's sequence after the first is found near them, which
        // does not prove none is further on: walked whole, then a gap.
        assert!(!f.holds(2, 10));
        assert_eq!(
            f.walked_whole_because(),
            Some("no record of the sequence within a probe")
        );
        assert_eq!(f.records(), 15_000 + 1);
        assert!(read_all(&f) == carried, "whole file differs");
    }

    #[test]
    fn a_stream_off_the_writers_shape_is_walked_whole() {
        let (recs, carried) = writers_shape(3000);
        // A rewrite of the header at the end (what makedumpfile does when it
        // adds erase information): seen among the last records.
        let mut rewrite = recs.clone();
        rewrite.push((1, b"ZZ".to_vec()));
        let f = FlattenedFile::parse_with_prefix(stream_of(&rewrite), 64).unwrap();
        assert!(f.indexed_whole());
        let mut want = carried.clone();
        want[1..3].copy_from_slice(b"ZZ");
        assert!(read_all(&f) == want, "whole file differs");

        // A rewrite in the middle of the stream, over data already read:
        // the walk that meets it finds the overlap and falls back.
        let mut mid = recs.clone();
        mid.insert(2000, (0x10_0000 + 10, b"YYYY".to_vec()));
        let f = FlattenedFile::parse_with_prefix(stream_of(&mid), 64).unwrap();
        assert!(!f.indexed_whole());
        let mut want = carried.clone();
        want[0x10_0000 + 10..0x10_0000 + 14].copy_from_slice(b"YYYY");
        let all = read_all(&f);
        assert!(f.indexed_whole());
        assert!(all == want, "whole file differs");

        // A sequence going backwards in the middle: found out by a search,
        // then read exactly.
        let mut back = recs.clone();
        let (a, b) = (1500, 2500);
        let (oa, ob) = (back[a].0, back[b].0);
        back[a].0 = ob;
        back[b].0 = oa;
        let (la, lb) = (back[a].1.len(), back[b].1.len());
        if la == lb {
            let f = FlattenedFile::parse_with_prefix(stream_of(&back), 64).unwrap();
            let mut want = carried.clone();
            want[ob as usize..ob as usize + la].copy_from_slice(&back[a].1);
            want[oa as usize..oa as usize + lb].copy_from_slice(&back[b].1);
            assert!(read_all(&f) == want, "whole file differs");
        }

        // Damage in the middle (a negative offset): unseen at open, found
        // by the exact walk a read falls back to; the records before it
        // stay readable and the stream counts as cut short.
        let mut bad = recs.clone();
        bad[1800].0 = -7;
        let f = FlattenedFile::parse_with_prefix(stream_of(&bad), 64).unwrap();
        let mut buf = vec![0u8; carried.len()];
        f.read_at(0, &mut buf).unwrap();
        assert!(f.indexed_whole());
        assert!(f.cut_short());
        assert_eq!(&buf[..4], b"HEAD");
        assert_eq!(
            &buf[0x10_0000..0x10_0000 + 1000],
            &carried[0x10_0000..0x10_0000 + 1000]
        );

        // verify's exact index sees that damage at open, as a finding.
        let f = FlattenedFile::parse_exact(stream_of(&bad)).unwrap();
        assert!(f.indexed_whole());
        assert!(
            f.findings()
                .iter()
                .any(|x| x.code == crate::finding::registry::FLATTENED_RECORDS.code),
            "{:?}",
            f.findings()
        );
        let f = FlattenedFile::parse_exact(stream_of(&recs)).unwrap();
        assert!(f.indexed_whole() && f.findings().is_empty());
        assert!(read_all(&f) == carried, "whole file differs");

        // Data in the records that looks like headers does not mislead a
        // scan: each candidate needs three more headers after it.
        let mut fake = recs.clone();
        for (i, r) in fake.iter_mut().enumerate().skip(100) {
            if r.1.len() >= 48 && i % 3 == 0 {
                let hdr: Vec<u8> = [0x10_0000i64, 16]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect();
                r.1[8..24].copy_from_slice(&hdr);
                r.1[24..40].copy_from_slice(&hdr);
            }
        }
        let mut want = vec![0u8; carried.len()];
        for (o, d) in &fake {
            want[*o as usize..*o as usize + d.len()].copy_from_slice(d);
        }
        let f = FlattenedFile::parse_with_prefix(stream_of(&fake), 64).unwrap();
        assert!(read_all(&f) == want, "whole file differs");
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
