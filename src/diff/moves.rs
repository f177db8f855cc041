//! Page hashes, and pages whose content moved to another address.
//!
//! The hash is XXH3-64 of a whole 4 KiB page (twox-hash, which picks its
//! AVX2 or SSE2 loop at run time: the hash runs at memory speed). It only ever
//! says "maybe the same": two pages at one address are called identical by
//! comparing their bytes, and two pages are called moved only after their
//! bytes are compared too, so a collision (by chance, about 2^-64 per pair,
//! or crafted: XXH3 is not a cryptographic hash) can cost a missed move but
//! never yields a false "identical" or a false "moved". That is why a fast
//! 64-bit non-cryptographic hash is enough here; a cryptographic one
//! (BLAKE3, SHA-256) would be several times slower per page and buy nothing
//! the byte comparison does not already guarantee. XXH3-64 with seed 0 is
//! also what `xxhsum -H3` prints, so a listed hash can be checked by hand.

use std::collections::HashMap;

use serde::{Serialize, Serializer};

use super::chunk::PAGE_SIZE;

/// A page's XXH3-64, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageHash(pub u64);

impl PageHash {
    pub fn of(page: &[u8]) -> Self {
        PageHash(twox_hash::XxHash3_64::oneshot(page))
    }
}

impl std::fmt::Display for PageHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for PageHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Tells zero pages apart by hash first: only a page whose hash is the zero
/// page's has its bytes looked at.
pub(super) struct ZeroPage(PageHash);

impl ZeroPage {
    pub fn new() -> Self {
        ZeroPage(PageHash::of(&[0u8; PAGE_SIZE as usize]))
    }

    pub fn is(&self, hash: PageHash, page: &[u8]) -> bool {
        hash == self.0 && page.iter().all(|b| *b == 0)
    }
}

/// A whole, non-zero page of one side that is not the same as the other
/// side's page at its address (it differs, or the other side has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Candidate {
    pub hash: PageHash,
    pub page: u64,
}

/// A page of A whose bytes are B's page at another address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Move {
    pub a: u64,
    pub b: u64,
    pub hash: PageHash,
}

/// Displacements tried first for a content found at several addresses.
const MAX_DISPLACEMENTS: usize = 8;
/// Entries looked at past a page's own address.
const MAX_SCAN: usize = 64;

/// Pairs A's candidates with B's of the same hash, ascending by A's page:
/// the moves as the hashes tell them, each page in at most one, never a
/// page with itself. [`confirm`] then keeps those whose bytes are equal.
///
/// A hash at one candidate address on each side pairs those two. A hash at
/// several addresses is decided after them, A's pages in address order:
/// each goes to the B address at a displacement (B − A) that the pages of
/// unique content moved by, the most common of the eight most common
/// first; failing that, to the lowest B address not yet taken. So pages of
/// a region that moved as a whole stay together even when one of them has
/// a twin elsewhere, and the answer never depends on the input's order.
pub(super) fn pair_moves(mut a: Vec<Candidate>, mut b: Vec<Candidate>) -> Vec<Move> {
    a.sort_unstable();
    b.sort_unstable();
    // Ranges of equal hash in `a` and `b`.
    let mut groups = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ha, hb) = (a[i].hash, b[j].hash);
        if ha < hb {
            i += 1;
        } else if hb < ha {
            j += 1;
        } else {
            let i_end = i + a[i..].partition_point(|c| c.hash == ha);
            let j_end = j + b[j..].partition_point(|c| c.hash == ha);
            groups.push((i..i_end, j..j_end));
            i = i_end;
            j = j_end;
        }
    }
    let mut moves = Vec::new();
    let mut displacements: HashMap<u64, u64> = HashMap::new();
    for (ra, rb) in &groups {
        if let ([x], [y]) = (&a[ra.clone()], &b[rb.clone()])
            && x.page != y.page
        {
            moves.push(Move {
                a: x.page,
                b: y.page,
                hash: x.hash,
            });
            *displacements
                .entry(y.page.wrapping_sub(x.page))
                .or_default() += 1;
        }
    }
    let mut common: Vec<(u64, u64)> = displacements.into_iter().map(|(d, n)| (n, d)).collect();
    common.sort_unstable_by(|p, q| q.0.cmp(&p.0).then(p.1.cmp(&q.1)));
    common.truncate(MAX_DISPLACEMENTS);
    for (ra, rb) in groups {
        if ra.len() == 1 && rb.len() == 1 {
            continue;
        }
        // One hash: sorted by page.
        let ys = &b[rb];
        let mut taken = vec![false; ys.len()];
        let mut next = 0;
        for x in &a[ra] {
            let by_displacement = common.iter().find_map(|&(_, d)| {
                let k = ys
                    .binary_search_by_key(&x.page.wrapping_add(d), |c| c.page)
                    .ok()?;
                (!taken[k]).then_some(k)
            });
            let k = by_displacement.or_else(|| {
                while next < ys.len() && taken[next] {
                    next += 1;
                }
                match ys.get(next) {
                    // x's own address (equal hashes, unequal bytes: a
                    // collision) is no move; the next free one may be.
                    Some(y) if y.page == x.page => {
                        (next + 1..ys.len()).take(MAX_SCAN).find(|&k| !taken[k])
                    }
                    Some(_) => Some(next),
                    None => None,
                }
            });
            if let Some(k) = k {
                taken[k] = true;
                moves.push(Move {
                    a: x.page,
                    b: ys[k].page,
                    hash: x.hash,
                });
            }
        }
    }
    moves.sort_unstable();
    moves
}

/// The moves whose pages' bytes `same(a, b)` finds equal: a hash collision
/// (by chance, or crafted) costs a missed move, never a false one.
pub(super) fn confirm(moves: Vec<Move>, mut same: impl FnMut(u64, u64) -> bool) -> Vec<Move> {
    moves.into_iter().filter(|m| same(m.a, m.b)).collect()
}

/// The moves, and their pages to look up.
pub(super) struct Moves {
    pub list: Vec<Move>,
    /// A's pages that moved, and B's pages that were moved to, ascending.
    from: Vec<u64>,
    to: Vec<u64>,
}

impl Moves {
    /// `list` ascending by A's page, as [`pair_moves`] returns it.
    pub fn new(list: Vec<Move>) -> Self {
        let from: Vec<u64> = list.iter().map(|m| m.a).collect();
        let mut to: Vec<u64> = list.iter().map(|m| m.b).collect();
        to.sort_unstable();
        Moves { list, from, to }
    }

    /// Whether A's page `page` moved elsewhere in B.
    pub fn moved_from(&self, page: u64) -> bool {
        self.from.binary_search(&page).is_ok()
    }

    /// Whether B's page `page` came from elsewhere in A.
    pub fn moved_to(&self, page: u64) -> bool {
        self.to.binary_search(&page).is_ok()
    }

    /// A's pages in `[lo, hi)` that moved elsewhere in B.
    pub fn moved_from_between(&self, lo: u64, hi: u64) -> u64 {
        count_between(&self.from, lo, hi)
    }

    /// B's pages in `[lo, hi)` that came from elsewhere in A.
    pub fn moved_to_between(&self, lo: u64, hi: u64) -> u64 {
        count_between(&self.to, lo, hi)
    }
}

fn count_between(sorted: &[u64], lo: u64, hi: u64) -> u64 {
    let from = sorted.partition_point(|&p| p < lo);
    let to = sorted.partition_point(|&p| p < hi);
    to.saturating_sub(from) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(hash: u64, page: u64) -> Candidate {
        Candidate {
            hash: PageHash(hash),
            page,
        }
    }

    fn ends(moves: &[Move]) -> Vec<(u64, u64)> {
        moves.iter().map(|m| (m.a, m.b)).collect()
    }

    #[test]
    fn twins_follow_the_displacement_of_unique_contents() {
        // Contents 1 and 2 moved by +0x10000; content 7 is at 0x1000 in A
        // and at 0x3000 and 0x11000 in B: it follows its neighbours.
        let a = vec![c(1, 0x0000), c(7, 0x1000), c(2, 0x2000)];
        let b = vec![c(7, 0x3000), c(1, 0x10000), c(7, 0x11000), c(2, 0x12000)];
        let pairs = pair_moves(a, b);
        assert_eq!(
            ends(&pairs),
            vec![(0x0000, 0x10000), (0x1000, 0x11000), (0x2000, 0x12000)]
        );
    }

    #[test]
    fn equal_contents_pair_in_address_order() {
        // No unique content moved: content 7 at two A pages and three B
        // pages pairs lowest with lowest; content 9 is in A only.
        let a = vec![c(7, 0x5000), c(9, 0x6000), c(7, 0x1000)];
        let b = vec![c(7, 0x9000), c(7, 0x3000), c(7, 0x8000), c(8, 0x2000)];
        let pairs = pair_moves(a, b);
        assert_eq!(ends(&pairs), vec![(0x1000, 0x3000), (0x5000, 0x8000)]);
        assert_eq!(pairs[0].hash, PageHash(7));
    }

    #[test]
    fn a_page_is_never_moved_to_its_own_address() {
        assert!(pair_moves(vec![c(7, 0x1000)], vec![c(7, 0x1000)]).is_empty());
        let pairs = pair_moves(
            vec![c(7, 0x1000), c(7, 0x2000)],
            vec![c(7, 0x1000), c(7, 0x4000)],
        );
        assert_eq!(ends(&pairs), vec![(0x1000, 0x4000), (0x2000, 0x1000)]);
    }

    #[test]
    fn a_collision_is_never_a_move() {
        // Same hash, different bytes: confirm drops the pair.
        let pairs = pair_moves(vec![c(7, 0x1000)], vec![c(7, 0x3000)]);
        assert_eq!(ends(&pairs), vec![(0x1000, 0x3000)]);
        assert!(confirm(pairs.clone(), |_, _| false).is_empty());
        assert_eq!(
            confirm(pairs.clone(), |a, b| (a, b) == (0x1000, 0x3000)),
            pairs
        );
    }

    #[test]
    fn zero_pages_are_told_by_their_bytes() {
        let zero = ZeroPage::new();
        let page = [0u8; 4096];
        assert!(zero.is(PageHash::of(&page), &page));
        let mut other = page;
        other[4095] = 1;
        assert!(!zero.is(PageHash::of(&other), &other));
        // A hash that claims zero is not believed without the bytes.
        assert!(!zero.is(PageHash::of(&page), &other));
    }

    #[test]
    fn page_hash_is_xxh3_64() {
        // XXH3-64 of the empty input and of a zero page, as xxhsum -H3
        // prints them.
        assert_eq!(PageHash::of(b"").to_string(), "2d06800538d394c2");
        assert_eq!(PageHash::of(&[0u8; 4096]).to_string(), "93d76fe148c689ba");
    }
}
