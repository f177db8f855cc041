//! Page contents: every 4 KiB page both images hold is compared byte for
//! byte (both images are open at once, so comparing the bytes is exact
//! where a hash could only be probably right, and costs the same read);
//! pages only one image holds are counted apart.
//!
//! What an image "holds" comes from [`Memory::captured_ranges`]: the bytes
//! of the image itself, never an original file standing in for them. An
//! address space that cannot list its ranges has the pages of its regions
//! probed one by one, up to a budget.

use std::collections::BTreeMap;

use serde::Serialize;

use super::MAX_LISTED;
use crate::memory::{Memory, merge_ranges};
use crate::model::{Capture, Image, Region};
use crate::progress::Progress;
use crate::report::Hex;

pub const PAGE_SIZE: u64 = 4096;
/// Page addresses listed per region and kind of difference.
const LISTED_PAGES: usize = 8;
/// Bytes read from each image at a time.
const CHUNK: u64 = 1 << 20;
/// Pages probed in an address space that cannot list what it holds.
const PROBE_BUDGET: u64 = 1 << 22;

/// Page counts of one region (A's region at the page, else B's).
#[derive(Debug, Clone, Serialize)]
pub struct RegionPages {
    /// Which image's region: "a" or "b"; "none" for captured bytes outside
    /// every region.
    pub region_of: &'static str,
    pub start: Hex,
    pub end: Hex,
    pub protection: Option<String>,
    pub file: Option<String>,
    /// Pages both images hold.
    pub compared: u64,
    pub differing: u64,
    pub only_in_a: u64,
    pub only_in_b: u64,
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
}

/// The page comparison.
#[derive(Debug, Clone, Serialize)]
pub struct PageDiff {
    pub page_size: u64,
    /// "captured-ranges" when both images listed the bytes they hold,
    /// "probed" when pages of one had to be read to find out.
    pub method: &'static str,
    /// Pages both images hold (a page is counted when any of its bytes is
    /// held by both).
    pub compared: u64,
    pub identical: u64,
    pub differing: u64,
    /// Pages held by one image only.
    pub only_in_a: u64,
    pub only_in_b: u64,
    /// Bytes compared.
    pub bytes_compared: u64,
    /// Regions with differing or one-sided pages, by address.
    pub regions: Vec<RegionPages>,
    pub omitted: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    Both,
    OnlyA,
    OnlyB,
}

/// What one image holds, with how it was found out.
fn held_ranges(image: &Image) -> (Vec<(u64, u64)>, bool) {
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

/// Per-region tallies, counting each page once per kind.
struct Tally<'a> {
    a: &'a Image,
    b: &'a Image,
    regions: BTreeMap<(u64, u8), RegionPages>,
    last: [Option<u64>; 4],
    totals: [u64; 4],
}

const COMPARED: usize = 0;
const DIFFERING: usize = 1;
const ONLY_A: usize = 2;
const ONLY_B: usize = 3;

impl<'a> Tally<'a> {
    fn count(&mut self, kind: usize, page: u64) {
        self.count_with(kind, page, None);
    }

    /// Counts a page once per kind; a differing page's detail is added to
    /// its listed entry when it is listed.
    fn count_with(&mut self, kind: usize, page: u64, detail: Option<(u32, u64)>) {
        if self.last[kind] == Some(page) {
            if let Some((n, _)) = detail
                && let Some(entry) = self.region_for(page)
                && let Some(last) = entry.first_differing.last_mut()
                && last.page.0 == page
            {
                last.differing_bytes += n;
            }
            return;
        }
        self.last[kind] = Some(page);
        self.totals[kind] += 1;
        let (key, region, of) = self.key_of(page);
        let entry = self.regions.entry(key).or_insert_with(|| RegionPages {
            region_of: of,
            start: Hex(region.map_or(0, |r| r.start)),
            end: Hex(region.map_or(0, |r| r.end)),
            protection: region.map(|r| r.protection.rwx()),
            file: region.and_then(|r| r.file.as_ref().map(|f| f.path.clone())),
            compared: 0,
            differing: 0,
            only_in_a: 0,
            only_in_b: 0,
            first_differing: Vec::new(),
            first_only_in_a: Vec::new(),
            first_only_in_b: Vec::new(),
        });
        match kind {
            COMPARED => entry.compared += 1,
            DIFFERING => {
                entry.differing += 1;
                if entry.first_differing.len() < LISTED_PAGES {
                    let (n, first) = detail.unwrap_or((0, page));
                    entry.first_differing.push(PageChange {
                        page: Hex(page),
                        differing_bytes: n,
                        first_difference: Hex(first),
                    });
                }
            }
            _ => {
                let (n, list) = if kind == ONLY_A {
                    (&mut entry.only_in_a, &mut entry.first_only_in_a)
                } else {
                    (&mut entry.only_in_b, &mut entry.first_only_in_b)
                };
                *n += 1;
                if list.len() < LISTED_PAGES {
                    list.push(Hex(page));
                }
            }
        }
    }

    /// The tally entry a page was last counted in (A's region, else B's).
    fn region_for(&mut self, page: u64) -> Option<&mut RegionPages> {
        let key = self.key_of(page).0;
        self.regions.get_mut(&key)
    }

    fn key_of(&self, page: u64) -> ((u64, u8), Option<&'a Region>, &'static str) {
        let last = page.saturating_add(PAGE_SIZE - 1);
        if let Some(r) = self.a.region_at(page).or_else(|| self.a.region_at(last)) {
            return ((r.start, 0), Some(r), "a");
        }
        if let Some(r) = self.b.region_at(page).or_else(|| self.b.region_at(last)) {
            return ((r.start, 1), Some(r), "b");
        }
        ((0, 2), None, "none")
    }
}

fn page_of(address: u64) -> u64 {
    address & !(PAGE_SIZE - 1)
}

/// Compares the memory of `a` and `b`.
pub fn compare(a: &Image, b: &Image, progress: &Progress) -> PageDiff {
    let (ranges_a, probed_a) = held_ranges(a);
    let (ranges_b, probed_b) = held_ranges(b);
    let pieces = pieces(&ranges_a, &ranges_b);
    let both_bytes: u64 = pieces
        .iter()
        .filter(|p| p.2 == Held::Both)
        .map(|p| p.1 - p.0)
        .sum();
    let bar = progress.bytes(Some(both_bytes), "comparing pages");
    let mut tally = Tally {
        a,
        b,
        regions: BTreeMap::new(),
        last: [None; 4],
        totals: [0; 4],
    };
    let mut buf_a = vec![0u8; CHUNK as usize];
    let mut buf_b = vec![0u8; CHUNK as usize];
    let mut bytes_compared = 0u64;
    for &(start, end, held) in &pieces {
        match held {
            Held::OnlyA | Held::OnlyB => {
                let kind = if held == Held::OnlyA { ONLY_A } else { ONLY_B };
                let mut page = page_of(start);
                while page < end {
                    tally.count(kind, page);
                    page = match page.checked_add(PAGE_SIZE) {
                        Some(p) => p,
                        None => break,
                    };
                }
            }
            Held::Both => {
                let mut at = start;
                while at < end {
                    // Chunks end on page boundaries so pages stay whole.
                    let chunk_end = if end - at <= CHUNK {
                        end
                    } else {
                        page_of(at + CHUNK)
                    };
                    let len = (chunk_end - at) as usize;
                    let (ba, bb) = (&mut buf_a[..len], &mut buf_b[..len]);
                    let ok = read_all(&*a.memory, at, ba) && read_all(&*b.memory, at, bb);
                    if ok {
                        let mut p = at;
                        while p < chunk_end {
                            let next = page_of(p).saturating_add(PAGE_SIZE).min(chunk_end);
                            let (lo, hi) = ((p - at) as usize, (next - at) as usize);
                            tally.count(COMPARED, page_of(p));
                            let (x, y) = (&ba[lo..hi], &bb[lo..hi]);
                            if x != y {
                                let first = x.iter().zip(y).position(|(u, v)| u != v).unwrap_or(0);
                                let n = x.iter().zip(y).filter(|(u, v)| u != v).count();
                                tally.count_with(
                                    DIFFERING,
                                    page_of(p),
                                    Some((n as u32, p + first as u64)),
                                );
                            }
                            if next <= p {
                                break;
                            }
                            p = next;
                        }
                        bytes_compared += len as u64;
                    }
                    bar.inc(len as u64);
                    at = chunk_end;
                }
            }
        }
    }
    bar.finish_and_clear();
    let mut regions: Vec<RegionPages> = tally
        .regions
        .into_values()
        .filter(|r| r.differing + r.only_in_a + r.only_in_b > 0)
        .collect();
    regions.sort_by_key(|r| (r.start, r.region_of));
    let omitted = regions.len().saturating_sub(MAX_LISTED);
    regions.truncate(MAX_LISTED);
    let [compared, differing, only_in_a, only_in_b] = tally.totals;
    PageDiff {
        page_size: PAGE_SIZE,
        method: if probed_a || probed_b {
            "probed"
        } else {
            "captured-ranges"
        },
        compared,
        identical: compared - differing,
        differing,
        only_in_a,
        only_in_b,
        bytes_compared,
        regions,
        omitted,
    }
}

fn read_all(memory: &dyn Memory, address: u64, buf: &mut [u8]) -> bool {
    memory.read_exact(address, buf).is_ok()
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
