//! Page contents, in one pass over the bytes each image holds, then a match
//! of what moved.
//!
//! - A page both images hold at one address is compared byte for byte:
//!   both images are open, so the verdict is exact and costs one `memcmp`.
//!   A page that differs gets each side's content hash (XXH3-64, see
//!   [`super::moves`]), listed in the JSON.
//! - A page one image holds only is read and hashed as well.
//! - Every whole, non-zero page of those two kinds is a candidate. A
//!   candidate of A whose exact bytes are a candidate of B at another
//!   address (hashes equal, then the bytes compared) is reported as moved,
//!   not as changed, removed or added: a restored process at new addresses,
//!   a region that ASLR or mremap placed elsewhere. Zero pages are never
//!   moved: an all-zero page is too common to say where a page went.
//!
//! Identical pages are not hashed: a moved page is only looked for among
//! changed and one-sided pages (a page still at its place in both was not
//! moved), so their hash would never be used. The hash tables hold
//! candidates only: 16 bytes per changed page, nothing per identical page.
//!
//! Holes of a sparse image file ([`crate::memory::Memory::extent`]) are
//! known zero pages and are not read: where both images have a hole the
//! pages are identical, where one has, the other's bytes are compared with
//! zeros. The counts are those reading would give; only the time differs
//! (a core can claim a tebibyte stored in kilobytes).
//!
//! What an image "holds" comes from [`Memory::captured_ranges`]: the bytes
//! of the image itself, never an original file standing in for them. An
//! address space that cannot list its ranges has the pages of its regions
//! probed one by one, up to a budget.

use std::collections::BTreeMap;

use serde::Serialize;

use super::MAX_LISTED;
pub use super::chunk::PAGE_SIZE;
use super::chunk::{ChunkReader, PageReader};
use super::moves::{Candidate, Moves, PageHash, ZeroPage, confirm, pair_moves};
use crate::memory::{Extent, merge_ranges};
use crate::model::{Capture, ProcessView, Region};
use crate::progress::Progress;
use crate::report::Hex;

static ZERO_BYTES: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];
/// Pages listed per region and kind of difference.
const LISTED_PAGES: usize = 8;
/// Bytes read from each image at a time.
const CHUNK: u64 = 1 << 20;
/// Pages probed in an address space that cannot list what it holds.
const PROBE_BUDGET: u64 = 1 << 22;

/// A region of one image, as the page lists name it.
#[derive(Debug, Clone, Serialize)]
pub struct RegionSpan {
    /// Which image's region: "a" or "b"; "none" for captured bytes outside
    /// every region.
    pub region_of: &'static str,
    pub start: Hex,
    pub end: Hex,
    pub protection: Option<String>,
    pub file: Option<String>,
}

impl RegionSpan {
    fn of(region: Option<&Region>, region_of: &'static str) -> Self {
        RegionSpan {
            region_of,
            start: Hex(region.map_or(0, |r| r.start)),
            end: Hex(region.map_or(0, |r| r.end)),
            protection: region.map(|r| r.protection.rwx()),
            file: region.and_then(|r| r.file.as_ref().map(|f| f.path.clone())),
        }
    }
}

/// Page counts of one region (A's region at the page, else B's).
#[derive(Debug, Clone, Serialize)]
pub struct RegionPages {
    #[serde(flatten)]
    pub region: RegionSpan,
    /// Pages both images hold.
    pub compared: u64,
    pub differing: u64,
    /// Pages both hold whose A content moved elsewhere and whose B content
    /// came from elsewhere: nothing there changed but the placement.
    pub rearranged: u64,
    /// Held by one image only (and not moved).
    pub only_in_a: u64,
    pub only_in_b: u64,
    /// A's pages here whose content is in B at another address.
    pub moved_out: u64,
    /// B's pages here whose content was in A at another address.
    pub moved_in: u64,
    /// The first few differing pages, ascending, with what differs.
    pub first_differing: Vec<PageChange>,
    /// The first few page addresses held by one image only, ascending.
    pub first_only_in_a: Vec<Hex>,
    pub first_only_in_b: Vec<Hex>,
}

/// One differing page.
#[derive(Debug, Clone, Serialize)]
pub struct PageChange {
    pub page: Hex,
    /// Bytes of the page that differ (among those both images hold).
    pub differing_bytes: u32,
    /// Address of the first differing byte.
    pub first_difference: Hex,
    /// XXH3-64 of A's and B's page; None for a page an image holds only
    /// part of.
    pub hash_a: Option<PageHash>,
    pub hash_b: Option<PageHash>,
}

/// One moved page.
#[derive(Debug, Clone, Serialize)]
pub struct PageMove {
    pub a: Hex,
    pub b: Hex,
    pub hash: PageHash,
}

/// Pages that moved from one region of A to one region of B.
#[derive(Debug, Clone, Serialize)]
pub struct MovedPages {
    /// A's region at the A addresses (else B's, else none).
    pub from: RegionSpan,
    /// B's region at the B addresses (else A's, else none).
    pub to: RegionSpan,
    pub pages: u64,
    /// The first few, ascending by A address.
    pub first: Vec<PageMove>,
}

/// Whole all-zero pages among each image's changed and one-sided pages:
/// never matched as moved.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ZeroPages {
    pub a: u64,
    pub b: u64,
}

/// The page comparison.
#[derive(Debug, Clone, Serialize)]
pub struct PageDiff {
    pub page_size: u64,
    /// "captured-ranges" when both images listed the bytes they hold,
    /// "probed" when pages of one had to be read to find out.
    pub method: &'static str,
    /// The page content hash: "xxh3-64".
    pub hash: &'static str,
    /// Pages both images hold (a page is counted when any of its bytes is
    /// held by both) = identical + differing + rearranged.
    pub compared: u64,
    pub identical: u64,
    pub differing: u64,
    pub rearranged: u64,
    /// Pages held by one image only, moved pages not counted.
    pub only_in_a: u64,
    pub only_in_b: u64,
    /// Pages of A whose exact content is in B at another address.
    pub moved: u64,
    pub zero_pages: ZeroPages,
    /// Bytes compared at equal addresses.
    pub bytes_compared: u64,
    /// Regions with differing, rearranged, one-sided or moved pages, by
    /// address.
    pub regions: Vec<RegionPages>,
    pub omitted: usize,
    /// Moved pages by (A region, B region), by A region's address.
    pub moves: Vec<MovedPages>,
    pub moves_omitted: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    Both,
    OnlyA,
    OnlyB,
}

/// What one image holds, with how it was found out.
fn held_ranges(image: &ProcessView) -> (Vec<(u64, u64)>, bool) {
    if let Some(r) = image.memory.captured_ranges(0, u64::MAX) {
        return (r, false);
    }
    let mut budget = PROBE_BUDGET;
    let mut out = Vec::new();
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for r in image
        .regions
        .iter()
        .filter(|r| r.capture != Capture::Absent)
    {
        let mut at = r.start;
        while at < r.end && budget > 0 {
            budget -= 1;
            let len = (r.end - at).min(PAGE_SIZE) as usize;
            if image.memory.read_exact(at, &mut page[..len]).is_ok() {
                out.push((at, at + len as u64));
            }
            at = at.saturating_add(len as u64);
        }
    }
    (merge_ranges(out), true)
}

/// Splits the union of two sorted, disjoint range lists into pieces held
/// by both, by A only and by B only, in address order.
fn pieces(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64, Held)> {
    let mut points: Vec<u64> = a.iter().chain(b).flat_map(|r| [r.0, r.1]).collect();
    points.sort_unstable();
    points.dedup();
    let (mut i, mut j) = (0, 0);
    let mut out: Vec<(u64, u64, Held)> = Vec::new();
    for w in points.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        while i < a.len() && a[i].1 <= lo {
            i += 1;
        }
        while j < b.len() && b[j].1 <= lo {
            j += 1;
        }
        let in_a = a.get(i).is_some_and(|r| r.0 <= lo);
        let in_b = b.get(j).is_some_and(|r| r.0 <= lo);
        let held = match (in_a, in_b) {
            (true, true) => Held::Both,
            (true, false) => Held::OnlyA,
            (false, true) => Held::OnlyB,
            (false, false) => continue,
        };
        match out.last_mut() {
            Some(last) if last.1 == lo && last.2 == held => last.1 = hi,
            _ => out.push((lo, hi, held)),
        }
    }
    out
}

fn page_of(address: u64) -> u64 {
    address & !(PAGE_SIZE - 1)
}

/// A page that is not the same in both images, as the pass found it; how
/// it is counted waits for the moves.
struct Event {
    page: u64,
    held: Held,
    differing_bytes: u32,
    first_difference: u64,
    hash_a: Option<PageHash>,
    hash_b: Option<PageHash>,
}

/// Region entries are keyed by (region start, 0 for A's region, 1 for B's,
/// 2 for none).
type Key = (u64, u8);

/// Per-region tallies.
struct Tally<'a> {
    a: &'a ProcessView,
    b: &'a ProcessView,
    regions: BTreeMap<Key, RegionPages>,
    last_compared: Option<u64>,
    compared: u64,
    differing: u64,
    rearranged: u64,
    only_in_a: u64,
    only_in_b: u64,
}

impl<'a> Tally<'a> {
    /// The region a page is counted in: A's region at it, else B's.
    fn key_of(&self, page: u64) -> (Key, Option<&'a Region>, &'static str) {
        let last = page.saturating_add(PAGE_SIZE - 1);
        if let Some(r) = self.a.region_at(page).or_else(|| self.a.region_at(last)) {
            return ((r.start, 0), Some(r), "a");
        }
        if let Some(r) = self.b.region_at(page).or_else(|| self.b.region_at(last)) {
            return ((r.start, 1), Some(r), "b");
        }
        ((0, 2), None, "none")
    }

    /// B's region at a page, else A's: where a moved page went.
    fn b_key_of(&self, page: u64) -> (Key, Option<&'a Region>, &'static str) {
        let last = page.saturating_add(PAGE_SIZE - 1);
        if let Some(r) = self.b.region_at(page).or_else(|| self.b.region_at(last)) {
            return ((r.start, 1), Some(r), "b");
        }
        self.key_of(page)
    }

    fn entry(&mut self, page: u64) -> &mut RegionPages {
        let (key, region, of) = self.key_of(page);
        self.regions.entry(key).or_insert_with(|| RegionPages {
            region: RegionSpan::of(region, of),
            compared: 0,
            differing: 0,
            rearranged: 0,
            only_in_a: 0,
            only_in_b: 0,
            moved_out: 0,
            moved_in: 0,
            first_differing: Vec::new(),
            first_only_in_a: Vec::new(),
            first_only_in_b: Vec::new(),
        })
    }

    /// Counts a page both hold, once however many pieces it is split in.
    fn compared(&mut self, page: u64) {
        if self.last_compared == Some(page) {
            return;
        }
        self.last_compared = Some(page);
        self.compared += 1;
        self.entry(page).compared += 1;
    }

    /// Counts the pages touching `[lo, hi)` (`lo` on a page boundary) as
    /// [`Tally::compared`] would one by one, a region entry at a time.
    fn compared_run(&mut self, lo: u64, hi: u64) {
        let mut p = lo;
        if self.last_compared == Some(lo) {
            p = lo.saturating_add(PAGE_SIZE);
        }
        while p < hi {
            let q = self.key_extent(p).min(hi);
            let n = (q - p).div_ceil(PAGE_SIZE);
            self.compared += n;
            self.entry(p).compared += n;
            p = q;
        }
        if hi > lo {
            self.last_compared = Some(page_of(hi - 1));
        }
    }

    /// Counts an event, now that the moves are known.
    fn event(&mut self, e: &Event, moves: &Moves) {
        match e.held {
            Held::Both => {
                if moves.moved_from(e.page) && moves.moved_to(e.page) {
                    self.rearranged += 1;
                    self.entry(e.page).rearranged += 1;
                    return;
                }
                self.differing += 1;
                let entry = self.entry(e.page);
                entry.differing += 1;
                if entry.first_differing.len() < LISTED_PAGES {
                    entry.first_differing.push(PageChange {
                        page: Hex(e.page),
                        differing_bytes: e.differing_bytes,
                        first_difference: Hex(e.first_difference),
                        hash_a: e.hash_a,
                        hash_b: e.hash_b,
                    });
                }
            }
            // One-sided pages are kept as runs (see `Scan::one_sided`).
            Held::OnlyA | Held::OnlyB => {}
        }
    }

    /// Counts the pages `[lo, hi)` that one image holds, a stretch of one
    /// region at a time: the cost follows regions and moved pages, not the
    /// run's length (a hostile core can claim a tebibyte).
    fn one_sided_run(&mut self, lo: u64, hi: u64, held: Held, moves: &Moves) {
        let mut p = lo;
        while p < hi {
            let q = self.key_extent(p).min(hi);
            let moved = |page: u64| match held {
                Held::OnlyA => moves.moved_from(page),
                _ => moves.moved_to(page),
            };
            let moved_here = match held {
                Held::OnlyA => moves.moved_from_between(p, q),
                _ => moves.moved_to_between(p, q),
            };
            let n = ((q - p) / PAGE_SIZE).saturating_sub(moved_here);
            if n > 0 {
                if held == Held::OnlyA {
                    self.only_in_a += n;
                } else {
                    self.only_in_b += n;
                }
                let entry = self.entry(p);
                let (count, listed) = if held == Held::OnlyA {
                    (&mut entry.only_in_a, &mut entry.first_only_in_a)
                } else {
                    (&mut entry.only_in_b, &mut entry.first_only_in_b)
                };
                *count += n;
                // At most LISTED_PAGES + moved_here pages are looked at.
                let mut page = p;
                while page < q && listed.len() < LISTED_PAGES {
                    if !moved(page) {
                        listed.push(Hex(page));
                    }
                    page += PAGE_SIZE;
                }
            }
            p = q;
        }
    }

    /// The end of the pages from `page` on that [`Tally::key_of`] puts in
    /// the same region entry as `page` (at least the next page).
    fn key_extent(&self, page: u64) -> u64 {
        let next = page.saturating_add(PAGE_SIZE);
        let last = page.saturating_add(PAGE_SIZE - 1);
        let round_up = |x: u64| page_of(x.saturating_add(PAGE_SIZE - 1)).max(next);
        if let Some(r) = self.a.region_at(page) {
            // Every page that starts inside A's region is counted in it.
            return round_up(r.end);
        }
        if self.a.region_at(last).is_some() {
            return next;
        }
        // No A region touches this page: B's (or none) until the page that
        // touches A's next region.
        let a_next = page_of(next_region_start(self.a, page)).max(next);
        if let Some(r) = self.b.region_at(page) {
            return round_up(r.end).min(a_next);
        }
        if self.b.region_at(last).is_some() {
            return next;
        }
        let b_next = page_of(next_region_start(self.b, page)).max(next);
        a_next.min(b_next)
    }
}

/// The start of the first region of `image` that starts after `address`
/// (regions are sorted by start), or u64::MAX.
fn next_region_start(image: &ProcessView, address: u64) -> u64 {
    let i = image.regions.partition_point(|r| r.start <= address);
    image.regions.get(i).map_or(u64::MAX, |r| r.start)
}

/// The pass over both images' bytes.
struct Scan<'a> {
    tally: Tally<'a>,
    events: Vec<Event>,
    /// Pages one image holds, as runs `[first page, end)`: one entry per
    /// stretch, not per page, so memory follows the layout, not the size.
    one_sided: Vec<(u64, u64, Held)>,
    /// Index in `events` of the last event of each kind (Both, OnlyA,
    /// OnlyB): a page split in pieces is one event.
    last: [Option<usize>; 3],
    zero: ZeroPage,
    candidates: [Vec<Candidate>; 2],
    zero_pages: [u64; 2],
    bytes_compared: u64,
}

impl Scan<'_> {
    /// The event of `page` of this kind, made when it is the first.
    fn event(&mut self, page: u64, held: Held) -> &mut Event {
        let kind = held as usize;
        let i = match self.last[kind] {
            Some(i) if self.events[i].page == page => i,
            _ => {
                self.events.push(Event {
                    page,
                    held,
                    differing_bytes: 0,
                    first_difference: page,
                    hash_a: None,
                    hash_b: None,
                });
                self.events.len() - 1
            }
        };
        self.last[kind] = Some(i);
        &mut self.events[i]
    }

    /// Adds `page` to the run of one-sided pages it continues (a page
    /// split in pieces is counted once), or starts a run.
    fn one_sided_page(&mut self, page: u64, held: Held) {
        if let Some(run) = self.one_sided.last_mut()
            && run.2 == held
            && run.0 <= page
            && page <= run.1
        {
            run.1 = run.1.max(page.saturating_add(PAGE_SIZE));
            return;
        }
        self.one_sided
            .push((page, page.saturating_add(PAGE_SIZE), held));
    }

    /// The pages of `[lo, hi)` (`lo` on a page boundary, `hi` too unless it
    /// ends the piece) where every image holding them has a hole: what
    /// [`Scan::both`] or [`Scan::one_side`] would find reading the zeros.
    fn holes(&mut self, held: Held, lo: u64, hi: u64) {
        if hi <= lo {
            return;
        }
        match held {
            Held::Both => {
                self.tally.compared_run(lo, hi);
                self.bytes_compared += hi - lo;
            }
            Held::OnlyA | Held::OnlyB => {
                let side = if held == Held::OnlyA { 0 } else { 1 };
                self.zero_pages[side] += (hi - lo) / PAGE_SIZE;
                let last = page_of(hi - 1);
                self.one_sided_page(lo, held);
                if let Some(run) = self.one_sided.last_mut() {
                    run.1 = run.1.max(last.saturating_add(PAGE_SIZE));
                }
            }
        }
    }

    /// A whole page of one side that may have moved (`side` 0 for A).
    fn candidate(&mut self, side: usize, page: u64, hash: PageHash, bytes: &[u8]) {
        if self.zero.is(hash, bytes) {
            self.zero_pages[side] += 1;
        } else {
            self.candidates[side].push(Candidate { hash, page });
        }
    }

    /// The pages of `[at, at + x.len())`, both images' bytes in `x`, `y`.
    fn both(&mut self, at: u64, x: &[u8], y: &[u8]) {
        let end = at + x.len() as u64;
        let mut p = at;
        while p < end {
            let next = page_of(p).saturating_add(PAGE_SIZE).min(end);
            if next <= p {
                break;
            }
            let (lo, hi) = ((p - at) as usize, (next - at) as usize);
            let page = page_of(p);
            self.tally.compared(page);
            let (u, v) = (&x[lo..hi], &y[lo..hi]);
            if u != v {
                let whole = hi - lo == PAGE_SIZE as usize;
                let hashes = whole.then(|| (PageHash::of(u), PageHash::of(v)));
                if let Some((ha, hb)) = hashes {
                    self.candidate(0, page, ha, u);
                    self.candidate(1, page, hb, v);
                }
                let first = u.iter().zip(v).position(|(s, t)| s != t).unwrap_or(0);
                let n = u.iter().zip(v).filter(|(s, t)| s != t).count() as u32;
                let e = self.event(page, Held::Both);
                if e.differing_bytes == 0 {
                    e.first_difference = p + first as u64;
                }
                e.differing_bytes += n;
                if let Some((ha, hb)) = hashes {
                    e.hash_a = Some(ha);
                    e.hash_b = Some(hb);
                }
            }
            p = next;
        }
    }

    /// The pages of `[at, end)` that one image holds; `bytes` are theirs
    /// when they could be read.
    fn one_side(&mut self, held: Held, at: u64, end: u64, bytes: Option<&[u8]>) {
        let side = if held == Held::OnlyA { 0 } else { 1 };
        let mut p = at;
        while p < end {
            let next = page_of(p).saturating_add(PAGE_SIZE).min(end);
            if next <= p {
                break;
            }
            let page = page_of(p);
            if let Some(b) = bytes
                && next - p == PAGE_SIZE
            {
                let u = &b[(p - at) as usize..(next - at) as usize];
                // Zero pages (most of a sparse core) are counted without
                // being hashed.
                if u == ZERO_BYTES {
                    self.zero_pages[side] += 1;
                } else {
                    self.candidate(side, page, PageHash::of(u), u);
                }
            }
            self.one_sided_page(page, held);
            p = next;
        }
    }
}

/// Compares the memory of `a` and `b`.
pub fn compare(a: &ProcessView, b: &ProcessView, progress: &Progress) -> PageDiff {
    let (ranges_a, probed_a) = held_ranges(a);
    let (ranges_b, probed_b) = held_ranges(b);
    let pieces = pieces(&ranges_a, &ranges_b);
    let total: u64 = pieces.iter().map(|p| p.1 - p.0).sum();
    let bar = progress.bytes(Some(total), "comparing pages");
    let mut scan = Scan {
        tally: Tally {
            a,
            b,
            regions: BTreeMap::new(),
            last_compared: None,
            compared: 0,
            differing: 0,
            rearranged: 0,
            only_in_a: 0,
            only_in_b: 0,
        },
        events: Vec::new(),
        one_sided: Vec::new(),
        last: [None; 3],
        zero: ZeroPage::new(),
        candidates: [Vec::new(), Vec::new()],
        zero_pages: [0; 2],
        bytes_compared: 0,
    };
    let mut reader_a = ChunkReader::new(CHUNK as usize);
    let mut reader_b = ChunkReader::new(CHUNK as usize);
    // Stands in for a hole's bytes when the other image's are compared.
    let zeros = vec![0u8; CHUNK as usize];
    for &(start, end, held) in &pieces {
        let mut at = start;
        while at < end {
            // Chunks end on page boundaries so pages stay whole.
            let mut chunk_end = if end - at <= CHUNK {
                end
            } else {
                page_of(at + CHUNK)
            };
            // What each image holding the piece stores from here on, and
            // how far both answers hold.
            let extent_a = (held != Held::OnlyB).then(|| a.memory.extent(at, end));
            let extent_b = (held != Held::OnlyA).then(|| b.memory.extent(at, end));
            let uniform = [extent_a, extent_b]
                .into_iter()
                .flatten()
                .map(|e| at.saturating_add(e.len().max(1)))
                .min()
                .unwrap_or(end)
                .min(end);
            let is_hole = |e: Option<Extent>| matches!(e, None | Some(Extent::Hole(_)));
            if is_hole(extent_a) && is_hole(extent_b) && at % PAGE_SIZE == 0 {
                let stop = if uniform == end {
                    end
                } else {
                    page_of(uniform)
                };
                if stop > at {
                    scan.holes(held, at, stop);
                    bar.inc(stop - at);
                    at = stop;
                    continue;
                }
            }
            if uniform < chunk_end {
                // Read up to where an answer changes, on a page boundary:
                // a hole that starts there is skipped on the next pass.
                let up = page_of(uniform.saturating_add(PAGE_SIZE - 1));
                chunk_end = up.max(page_of(at).saturating_add(PAGE_SIZE)).min(chunk_end);
            }
            let len = (chunk_end - at) as usize;
            // A side whose hole covers the chunk is zeros, not read.
            let zeros_for = |e: Option<Extent>| match e {
                Some(Extent::Hole(n)) if at.saturating_add(n) >= chunk_end => zeros.get(..len),
                _ => None,
            };
            match held {
                Held::Both => {
                    let x = zeros_for(extent_a).or_else(|| reader_a.load(&*a.memory, at, len));
                    let y = zeros_for(extent_b).or_else(|| reader_b.load(&*b.memory, at, len));
                    if let (Some(x), Some(y)) = (x, y) {
                        scan.both(at, x, y);
                        scan.bytes_compared += len as u64;
                    }
                }
                Held::OnlyA => {
                    let x = reader_a.load(&*a.memory, at, len);
                    scan.one_side(held, at, chunk_end, x);
                }
                Held::OnlyB => {
                    let y = reader_b.load(&*b.memory, at, len);
                    scan.one_side(held, at, chunk_end, y);
                }
            }
            bar.inc(len as u64);
            at = chunk_end;
        }
    }
    reader_a.release();
    reader_b.release();
    bar.finish_and_clear();

    let Scan {
        mut tally,
        events,
        one_sided,
        candidates: [cand_a, cand_b],
        zero_pages,
        bytes_compared,
        ..
    } = scan;
    // The moves the hashes tell, confirmed byte for byte in A's address
    // order (mostly B's too: a region moves as a whole).
    let (mut page_a, mut page_b) = (
        PageReader::new(&*a.memory, &ranges_a, CHUNK),
        PageReader::new(&*b.memory, &ranges_b, CHUNK),
    );
    let tentative = pair_moves(cand_a, cand_b);
    let bar = progress.steps(tentative.len() as u64, "confirming moved pages");
    let moves = Moves::new(confirm(tentative, |x, y| {
        bar.inc(1);
        match (page_a.page(x), page_b.page(y)) {
            (Some(u), Some(v)) => u == v,
            _ => false,
        }
    }));
    bar.finish_and_clear();
    drop((page_a, page_b));
    for e in &events {
        tally.event(e, &moves);
    }
    for &(lo, hi, held) in &one_sided {
        tally.one_sided_run(lo, hi, held, &moves);
    }
    let mut groups: BTreeMap<(Key, Key), MovedPages> = BTreeMap::new();
    for m in &moves.list {
        tally.entry(m.a).moved_out += 1;
        tally.entry(m.b).moved_in += 1;
        let (to_key, to_region, to_of) = tally.b_key_of(m.b);
        let (from_key, from_region, from_of) = tally.key_of(m.a);
        let group = groups
            .entry((from_key, to_key))
            .or_insert_with(|| MovedPages {
                from: RegionSpan::of(from_region, from_of),
                to: RegionSpan::of(to_region, to_of),
                pages: 0,
                first: Vec::new(),
            });
        group.pages += 1;
        if group.first.len() < LISTED_PAGES {
            group.first.push(PageMove {
                a: Hex(m.a),
                b: Hex(m.b),
                hash: m.hash,
            });
        }
    }
    finish(
        tally,
        groups,
        &moves,
        zero_pages,
        bytes_compared,
        probed_a || probed_b,
    )
}

fn finish(
    tally: Tally,
    groups: BTreeMap<(Key, Key), MovedPages>,
    moves: &Moves,
    zero_pages: [u64; 2],
    bytes_compared: u64,
    probed: bool,
) -> PageDiff {
    let mut regions: Vec<RegionPages> = tally
        .regions
        .into_values()
        .filter(|r| {
            r.differing + r.rearranged + r.only_in_a + r.only_in_b + r.moved_out + r.moved_in > 0
        })
        .collect();
    regions.sort_by_key(|r| (r.region.start, r.region.region_of));
    let omitted = regions.len().saturating_sub(MAX_LISTED);
    regions.truncate(MAX_LISTED);
    let mut moves_list: Vec<MovedPages> = groups.into_values().collect();
    let moves_omitted = moves_list.len().saturating_sub(MAX_LISTED);
    moves_list.truncate(MAX_LISTED);
    PageDiff {
        page_size: PAGE_SIZE,
        method: if probed { "probed" } else { "captured-ranges" },
        hash: "xxh3-64",
        compared: tally.compared,
        identical: tally.compared - tally.differing - tally.rearranged,
        differing: tally.differing,
        rearranged: tally.rearranged,
        only_in_a: tally.only_in_a,
        only_in_b: tally.only_in_b,
        moved: moves.list.len() as u64,
        zero_pages: ZeroPages {
            a: zero_pages[0],
            b: zero_pages[1],
        },
        bytes_compared,
        regions,
        omitted,
        moves: moves_list,
        moves_omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_both_and_one_sided() {
        let a = [(0x1000, 0x4000), (0x8000, 0x9000)];
        let b = [(0x2000, 0x5000)];
        let p = pieces(&a, &b);
        let kinds: Vec<(u64, u64, &str)> = p
            .iter()
            .map(|(s, e, h)| {
                (
                    *s,
                    *e,
                    match h {
                        Held::Both => "both",
                        Held::OnlyA => "a",
                        Held::OnlyB => "b",
                    },
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (0x1000, 0x2000, "a"),
                (0x2000, 0x4000, "both"),
                (0x4000, 0x5000, "b"),
                (0x8000, 0x9000, "a"),
            ]
        );
    }
}
