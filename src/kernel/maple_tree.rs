//! The kernel's maple tree (lib/maple_tree.c, Linux 6.1+), read from a
//! dump: how `mm->mm_mt` keeps a process's VMAs by address range.
//!
//! Facts (include/linux/maple_tree.h, lib/maple_tree.c): a tree's
//! `ma_root` is either one entry (the range [0, 0]) or an encoded node
//! pointer, told apart as the xarray does: bits 0–1 equal to 2 and a value
//! above 4096. An encoded node (`maple_enode`) is the 256-byte-aligned node
//! address with the node's type in bits 3–6 (`maple_dense` 0, `maple_leaf_64`
//! 1, `maple_range_64` 2, `maple_arange_64` 3). A range node holds pivots
//! (the last index of each slot but the last) and slots; slot `i` covers
//! `[pivot[i-1] + 1, pivot[i]]`, the first starting at the node's minimum,
//! a slot past the pivots (or whose pivot is 0, but the first) ending at the
//! node's maximum. How many slots hold
//! data: an arange node's metadata `end`; a range or leaf node's is the
//! metadata `end` when its last pivot is 0, the last pivot's slot when that
//! pivot is the node's maximum, else every slot. Leaves hold the entries
//! (for `mm_mt`, `struct vm_area_struct` pointers), internal nodes the
//! encoded children. Struct layouts (pivot and slot arrays, the metadata)
//! come from BTF.
//!
//! Every walk is bounded: tree height (`MAPLE_HEIGHT_MAX` is 31), nodes
//! visited once, ranges that must nest inside their parent's, and a cap
//! on entries; what stops a walk early is said.

use std::collections::HashSet;

use crate::memory::Memory;

use super::btf::Btf;

/// The kernel's MAPLE_HEIGHT_MAX.
const MAX_HEIGHT: usize = 31;
/// Bits of an encoded node pointer that are not the address.
const NODE_MASK: u64 = 0xff;
const TYPE_SHIFT: u64 = 3;
const TYPE_MASK: u64 = 0xf;
/// The largest node read (real ones are 256 bytes).
const MAX_NODE_SIZE: u64 = 4096;

const MAPLE_DENSE: u64 = 0;
const MAPLE_LEAF_64: u64 = 1;
const MAPLE_RANGE_64: u64 = 2;
const MAPLE_ARANGE_64: u64 = 3;

/// Where one kind of range node keeps its pivots, slots and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLayout {
    pub pivots: u64,
    pub pivot_count: u64,
    pub slots: u64,
    pub slot_count: u64,
    /// `struct maple_metadata` (its `end` is the first byte).
    pub meta: u64,
}

/// The maple tree's layouts, from BTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapleLayout {
    /// `ma_root` in `struct maple_tree`.
    pub root: u64,
    /// `sizeof(struct maple_node)`.
    pub node_size: u64,
    /// `struct maple_range_64` (also the leaves).
    pub range64: NodeLayout,
    /// `struct maple_arange_64` (internal nodes of allocation trees).
    pub arange64: NodeLayout,
}

impl MapleLayout {
    /// The layouts of this kernel; errors name what BTF lacks (a kernel
    /// before 6.1 has no maple tree).
    pub fn from_btf(btf: &Btf) -> Result<MapleLayout, String> {
        let tree = btf
            .struct_named("maple_tree")
            .ok_or("BTF has no struct maple_tree")?;
        let node = btf
            .struct_named("maple_node")
            .ok_or("BTF has no struct maple_node")?;
        let node_layout = |name: &str| -> Result<NodeLayout, String> {
            let id = btf
                .struct_named(name)
                .ok_or_else(|| format!("BTF has no struct {name}"))?;
            let member = |m: &str| {
                btf.member(id, m)
                    .ok_or_else(|| format!("BTF struct {name} has no {m}"))
            };
            let (pivots, slots, meta) = (member("pivot")?, member("slot")?, member("meta")?);
            let count = |type_id| {
                btf.array(type_id)
                    .map(|(_, n)| u64::from(n))
                    .ok_or_else(|| format!("BTF struct {name}: not an array"))
            };
            Ok(NodeLayout {
                pivots: pivots.offset,
                pivot_count: count(pivots.type_id)?,
                slots: slots.offset,
                slot_count: count(slots.type_id)?,
                meta: meta.offset,
            })
        };
        Ok(MapleLayout {
            root: btf
                .member(tree, "ma_root")
                .ok_or("BTF struct maple_tree has no ma_root")?
                .offset,
            node_size: btf.size_of(node).ok_or("BTF: no size of maple_node")?,
            range64: node_layout("maple_range_64")?,
            arange64: node_layout("maple_arange_64")?,
        })
    }
}

/// One entry of a tree: the index range it covers and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapleEntry {
    pub first: u64,
    pub last: u64,
    pub value: u64,
}

/// A tree's entries in index order, and what cut the walk short.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapleEntries {
    pub entries: Vec<MapleEntry>,
    pub problems: Vec<String>,
}

/// xarray's internal entries (bits 0–1 = 2): nodes above 4096, reserved
/// values (XA_ZERO_ENTRY, retry) below.
fn is_internal(entry: u64) -> bool {
    entry & 3 == 2
}

/// The entries of the maple tree at `tree` (a `struct maple_tree`), at
/// most `max_entries` of them.
pub fn walk(
    memory: &dyn Memory,
    layout: &MapleLayout,
    tree: u64,
    max_entries: usize,
) -> MapleEntries {
    let mut out = MapleEntries::default();
    let root = match tree.checked_add(layout.root).map(|at| memory.read_u64(at)) {
        Some(Ok(root)) => root,
        Some(Err(e)) => {
            out.problems
                .push(format!("the maple tree's root cannot be read: {e}"));
            return out;
        }
        None => {
            out.problems
                .push(format!("maple tree at {tree:#x}: bad address"));
            return out;
        }
    };
    if root == 0 {
        return out;
    }
    if !(is_internal(root) && root > 4096) {
        // A tree of one entry keeps it in the root, for index 0.
        out.entries.push(MapleEntry {
            first: 0,
            last: 0,
            value: root,
        });
        return out;
    }
    walk_nodes(memory, layout, root, max_entries, &mut out);
    out
}

/// Depth-first, left to right: entries come out in index order.
fn walk_nodes(
    memory: &dyn Memory,
    layout: &MapleLayout,
    root: u64,
    max_entries: usize,
    out: &mut MapleEntries,
) {
    let node_size = layout.node_size.clamp(8, MAX_NODE_SIZE) as usize;
    let mut visited = HashSet::new();
    // (encoded node, its minimum, its maximum, depth)
    let mut stack = vec![(root, 0u64, u64::MAX, 1usize)];
    let mut bytes = vec![0u8; node_size];
    while let Some((encoded, min, max, depth)) = stack.pop() {
        let node = encoded & !NODE_MASK;
        let kind = (encoded >> TYPE_SHIFT) & TYPE_MASK;
        if depth > MAX_HEIGHT {
            out.problems.push(format!(
                "maple tree deeper than {MAX_HEIGHT} levels at node {node:#x}: not walked further"
            ));
            continue;
        }
        if node == 0 || !visited.insert(node) {
            out.problems.push(format!(
                "maple tree node {node:#x} is null or reached twice (a loop): skipped"
            ));
            continue;
        }
        let node_layout = match kind {
            MAPLE_LEAF_64 | MAPLE_RANGE_64 => &layout.range64,
            MAPLE_ARANGE_64 => &layout.arange64,
            MAPLE_DENSE => {
                out.problems.push(format!(
                    "maple tree node {node:#x} is a dense node, which mm trees do not use: skipped"
                ));
                continue;
            }
            other => {
                out.problems.push(format!(
                    "maple tree node {node:#x} has type {other}, no maple node type: skipped"
                ));
                continue;
            }
        };
        if let Err(e) = memory.read_exact(node, &mut bytes) {
            out.problems
                .push(format!("maple tree node {node:#x} cannot be read: {e}"));
            continue;
        }
        let Some(slots) = node_slots(&bytes, node_layout, kind, min, max) else {
            out.problems.push(format!(
                "maple tree node {node:#x}: its pivots do not fit its range \
                 [{min:#x}, {max:#x}] or its layout: skipped"
            ));
            continue;
        };
        if kind == MAPLE_LEAF_64 {
            for (first, last, value) in slots {
                // Empty slots, and reserved xarray values, hold no entry.
                if value == 0 || (is_internal(value) && value < 4096) {
                    continue;
                }
                if out.entries.len() >= max_entries {
                    out.problems.push(format!(
                        "more than {max_entries} maple tree entries: the rest are not listed"
                    ));
                    return;
                }
                out.entries.push(MapleEntry { first, last, value });
            }
        } else {
            // Children pushed last-first so the leftmost is walked first.
            for &(first, last, child) in slots.iter().rev() {
                if child != 0 {
                    stack.push((child, first, last, depth + 1));
                }
            }
        }
    }
}

/// The used slots of one node as (first index, last index, slot value);
/// None when the node's pivots contradict its range or its layout.
fn node_slots(
    bytes: &[u8],
    layout: &NodeLayout,
    kind: u64,
    min: u64,
    max: u64,
) -> Option<Vec<(u64, u64, u64)>> {
    let word = |at: u64| -> Option<u64> {
        let at = usize::try_from(at).ok()?;
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let pivot = |i: u64| word(layout.pivots.checked_add(i.checked_mul(8)?)?);
    let slot = |i: u64| word(layout.slots.checked_add(i.checked_mul(8)?)?);
    let meta_end = u64::from(*bytes.get(usize::try_from(layout.meta).ok()?)?);
    let pivots = layout.pivot_count;
    if pivots == 0 || layout.slot_count != pivots + 1 {
        return None;
    }
    let end = if kind == MAPLE_ARANGE_64 {
        meta_end
    } else {
        match pivot(pivots - 1)? {
            0 => meta_end,
            last if last == max => pivots - 1,
            _ => pivots,
        }
    };
    if end > pivots {
        return None;
    }
    let mut slots = Vec::with_capacity(end as usize + 1);
    let mut first = min;
    for i in 0..=end {
        // A slot's logical pivot: past the pivots, or a 0 pivot after the
        // first slot, it ends at the node's maximum.
        let last = match (i < pivots).then(|| pivot(i)) {
            Some(Some(0)) if i > 0 => max,
            Some(Some(p)) => p,
            Some(None) => return None,
            None => max,
        };
        // Pivots rise inside the node's range; the last used slot may end
        // at its pivot below the node's maximum.
        if last < first || last > max {
            return None;
        }
        slots.push((first, last, slot(i)?));
        if last == max {
            break;
        }
        first = last + 1;
    }
    Some(slots)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::memory::MemoryError;
    use std::collections::HashMap;

    /// 6.1's x86_64 layouts (pahole): maple_range_64 pivot[15] at 8,
    /// slot[16] at 128, meta at 248; maple_arange_64 pivot[9] at 8,
    /// slot[10] at 80, gap[10] at 160, meta at 240.
    pub(crate) const LAYOUT: MapleLayout = MapleLayout {
        root: 8,
        node_size: 256,
        range64: NodeLayout {
            pivots: 8,
            pivot_count: 15,
            slots: 128,
            slot_count: 16,
            meta: 248,
        },
        arange64: NodeLayout {
            pivots: 8,
            pivot_count: 9,
            slots: 80,
            slot_count: 10,
            meta: 240,
        },
    };

    /// Pages of bytes at addresses; everything else unreadable.
    #[derive(Default)]
    pub(crate) struct Pages(pub HashMap<u64, Vec<u8>>);

    impl Pages {
        pub(crate) fn put(&mut self, address: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                let at = address + i as u64;
                self.0.entry(at & !0xfff).or_insert_with(|| vec![0; 4096])[(at & 0xfff) as usize] =
                    *b;
            }
        }
        pub(crate) fn put_u64(&mut self, address: u64, value: u64) {
            self.put(address, &value.to_le_bytes());
        }
    }

    impl Memory for Pages {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            let page = self
                .0
                .get(&(address & !0xfff))
                .ok_or(MemoryError::Unmapped { address })?;
            let off = (address & 0xfff) as usize;
            let n = buf.len().min(4096 - off);
            buf[..n].copy_from_slice(&page[off..off + n]);
            Ok(n)
        }
    }

    /// A node at `node` of `kind` with these pivots and slots.
    fn node(pages: &mut Pages, node: u64, kind: u64, pivots: &[u64], slots: &[u64], end: u8) {
        let l = if kind == MAPLE_ARANGE_64 {
            LAYOUT.arange64
        } else {
            LAYOUT.range64
        };
        for (i, p) in pivots.iter().enumerate() {
            pages.put_u64(node + l.pivots + 8 * i as u64, *p);
        }
        for (i, s) in slots.iter().enumerate() {
            pages.put_u64(node + l.slots + 8 * i as u64, *s);
        }
        pages.put(node + l.meta, &[end]);
    }

    fn enode(node: u64, kind: u64) -> u64 {
        node | (kind << 3) | 4
    }

    const TREE: u64 = 0x1000;

    /// An mm-like tree: an arange root over two leaves.
    fn two_level() -> Pages {
        let mut p = Pages::default();
        let (root, left, right) = (0x10_0000, 0x10_0100, 0x10_0200);
        p.put_u64(TREE + 8, enode(root, MAPLE_ARANGE_64) | 2);
        node(
            &mut p,
            root,
            MAPLE_ARANGE_64,
            &[0x7fff_ffff],
            &[enode(left, MAPLE_LEAF_64), enode(right, MAPLE_LEAF_64)],
            1,
        );
        // Left leaf: a gap, a VMA, a gap, a VMA; ends below its max (meta).
        node(
            &mut p,
            left,
            MAPLE_LEAF_64,
            &[0x3f_ffff, 0x40_0fff, 0x40_ffff, 0x48_bfff],
            &[0, 0xaaa0, 0, 0xbbb0],
            4,
        );
        // Right leaf: full up to the node's max (no pivot at the end).
        node(
            &mut p,
            right,
            MAPLE_LEAF_64,
            &[0x7fff_f000_0fff, 0x7fff_f000_1fff],
            &[0, 0xccc0, 0],
            2,
        );
        p
    }

    #[test]
    fn a_two_level_tree_gives_its_entries_in_order() {
        let got = walk(&two_level(), &LAYOUT, TREE, 100);
        assert_eq!(got.problems, Vec::<String>::new());
        assert_eq!(
            got.entries,
            [
                MapleEntry {
                    first: 0x40_0000,
                    last: 0x40_0fff,
                    value: 0xaaa0
                },
                MapleEntry {
                    first: 0x41_0000,
                    last: 0x48_bfff,
                    value: 0xbbb0
                },
                MapleEntry {
                    first: 0x7fff_f000_1000,
                    last: 0x7fff_f000_1fff,
                    value: 0xccc0
                },
            ]
        );
    }

    #[test]
    fn empty_and_single_entry_trees() {
        let mut p = Pages::default();
        p.put_u64(TREE + 8, 0);
        assert_eq!(walk(&p, &LAYOUT, TREE, 10), MapleEntries::default());
        p.put_u64(TREE + 8, 0xffff_8880_0000_1000);
        assert_eq!(
            walk(&p, &LAYOUT, TREE, 10).entries[0].value,
            0xffff_8880_0000_1000
        );
        let e = walk(&Pages::default(), &LAYOUT, TREE, 10);
        assert!(e.problems[0].contains("root cannot be read"), "{e:?}");
    }

    #[test]
    fn a_node_that_points_back_to_the_root_is_walked_once() {
        let mut p = two_level();
        // The right leaf becomes an internal node whose child is the root.
        let (root, right) = (0x10_0000, 0x10_0200);
        p.put_u64(
            root + LAYOUT.arange64.slots + 8,
            enode(right, MAPLE_RANGE_64),
        );
        node(
            &mut p,
            right,
            MAPLE_RANGE_64,
            &[0xffff_ffff_ffff, 0],
            &[enode(root, MAPLE_ARANGE_64)],
            0,
        );
        let got = walk(&p, &LAYOUT, TREE, 100);
        assert_eq!(got.entries.len(), 2);
        assert!(
            got.problems.iter().any(|p| p.contains("reached twice")),
            "{got:?}"
        );
    }

    #[test]
    fn hostile_nodes_are_skipped_with_a_reason() {
        // Pivots that fall back, a type that is no maple type, an unreadable
        // child, a dense node.
        let mut p = two_level();
        let (root, left, right) = (0x10_0000, 0x10_0100, 0x10_0200);
        node(
            &mut p,
            left,
            MAPLE_LEAF_64,
            &[0x50_0000, 0x40_0000],
            &[1, 0xaaa0, 0xbbb0],
            2,
        );
        p.put_u64(root + LAYOUT.arange64.slots + 8, right | (9 << 3));
        let got = walk(&p, &LAYOUT, TREE, 100);
        assert_eq!(got.entries, []);
        assert_eq!(got.problems.len(), 2, "{got:?}");
        assert!(got.problems[0].contains("do not fit"), "{got:?}");
        assert!(got.problems[1].contains("type 9"), "{got:?}");
        for (child, why) in [
            (enode(0x90_0000, MAPLE_LEAF_64), "cannot be read"),
            (enode(right, MAPLE_DENSE), "dense"),
        ] {
            p.put_u64(root + LAYOUT.arange64.slots + 8, child);
            let got = walk(&p, &LAYOUT, TREE, 100);
            assert!(got.problems.iter().any(|p| p.contains(why)), "{got:?}");
        }
        // A metadata end past the last slot.
        node(
            &mut p,
            root,
            MAPLE_ARANGE_64,
            &[5],
            &[enode(left, MAPLE_LEAF_64)],
            200,
        );
        let got = walk(&p, &LAYOUT, TREE, 100);
        assert!(got.problems[0].contains("do not fit"), "{got:?}");
    }

    #[test]
    fn a_tree_deeper_than_the_kernel_allows_stops() {
        // A chain of 40 range nodes, each with one child.
        let mut p = Pages::default();
        let at = |i: u64| 0x20_0000 + i * 0x100;
        p.put_u64(TREE + 8, enode(at(0), MAPLE_RANGE_64) | 2);
        for i in 0..40 {
            node(
                &mut p,
                at(i),
                MAPLE_RANGE_64,
                &[0; 15],
                &[enode(at(i + 1), MAPLE_RANGE_64)],
                0,
            );
        }
        let got = walk(&p, &LAYOUT, TREE, 100);
        assert!(got.problems[0].contains("deeper than 31"), "{got:?}");
    }

    #[test]
    fn entries_past_the_cap_are_not_listed() {
        let got = walk(&two_level(), &LAYOUT, TREE, 2);
        assert_eq!(got.entries.len(), 2);
        assert!(got.problems[0].contains("more than 2"), "{got:?}");
    }
}
