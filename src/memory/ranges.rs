//! Which of many possibly overlapping address ranges holds an address.
//!
//! A fixed look-back over the ranges sorted by start misses a covering
//! range once more than that many others start between it and the address
//! (nine PT_LOADs inside one, say). Here a max-of-ends tree over the sorted
//! ranges answers in O(log² n) however they overlap.

/// Ranges `start..end` sorted by start, indexed for containment queries.
#[derive(Debug, Default, Clone)]
pub struct RangeIndex {
    starts: Vec<u64>,
    /// Binary tree in heap layout over `leaves` slots: node 1 is the root,
    /// node k's children are 2k and 2k+1, leaf i is `leaves + i` and holds
    /// range i's end (0 for padding); inner nodes hold their children's
    /// maximum.
    max_end: Vec<u64>,
    leaves: usize,
}

impl RangeIndex {
    /// Indexes `ranges`, which must come sorted by start (positions in that
    /// order are what [`find`](Self::find) returns).
    pub fn new(ranges: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let (starts, ends): (Vec<u64>, Vec<u64>) = ranges.into_iter().unzip();
        debug_assert!(starts.is_sorted());
        let leaves = starts.len().next_power_of_two();
        let mut max_end = vec![0; 2 * leaves];
        max_end[leaves..leaves + ends.len()].copy_from_slice(&ends);
        for node in (1..leaves).rev() {
            max_end[node] = max_end[2 * node].max(max_end[2 * node + 1]);
        }
        RangeIndex {
            starts,
            max_end,
            leaves,
        }
    }

    /// Position of the last range (in start order) that contains `address`.
    pub fn find(&self, address: u64) -> Option<usize> {
        let starting_at_or_before = self.starts.partition_point(|&s| s <= address);
        self.last_ending_after(1, 0, self.leaves, starting_at_or_before, address)
    }

    /// Highest position below `limit` in node `node` (covering positions
    /// `lo..hi`) whose range ends after `address`.
    fn last_ending_after(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        limit: usize,
        address: u64,
    ) -> Option<usize> {
        if lo >= limit || *self.max_end.get(node)? <= address {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = lo + (hi - lo) / 2;
        self.last_ending_after(2 * node + 1, mid, hi, limit, address)
            .or_else(|| self.last_ending_after(2 * node, lo, mid, limit, address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_single_and_nested() {
        assert_eq!(RangeIndex::default().find(5), None);
        assert_eq!(RangeIndex::new([]).find(5), None);
        let one = RangeIndex::new([(10, 20)]);
        assert_eq!(
            (one.find(9), one.find(10), one.find(19), one.find(20)),
            (None, Some(0), Some(0), None)
        );
        // One wide range, then nine inside it; an address past the nine.
        let mut ranges = vec![(0x1000, 0x9000)];
        ranges.extend((0..9).map(|i| (0x2000 + i * 0x100, 0x2010 + i * 0x100)));
        let index = RangeIndex::new(ranges);
        assert_eq!(index.find(0x8000), Some(0));
        assert_eq!(index.find(0x2305), Some(4));
        assert_eq!(index.find(0x2315), Some(0));
        assert_eq!(index.find(0x9000), None);
    }
}
