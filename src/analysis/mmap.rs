//! Linux mapping attributes: the names of mmap flags (spelled as `crit`
//! prints them so reports can be compared), and the label of a special
//! mapping from what the reader says the mapping is.

use crate::model::{LinuxMappingKind, LinuxRegion};

/// (bit, name) for `mmap` flags as CRIU keeps them in its images.
const MMAP_FLAGS: &[(u32, &str)] = &[
    (0x1, "MAP_SHARED"),
    (0x2, "MAP_PRIVATE"),
    (0x8, "MAP_DROPPABLE"),
    (0x20, "MAP_ANON"),
    (0x100, "MAP_GROWSDOWN"),
];

/// Known bits by name joined with ` | `, any rest as hex; empty for 0.
pub(crate) fn names(value: u32, table: &[(u32, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = value;
    for &(bit, name) in table {
        if value & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join(" | ")
}

/// CRIU's VMA status bits by the names crit prints
/// (`VMA_AREA_REGULAR | VMA_ANON_PRIVATE`); the table is the reader's.
pub fn vma_status(status: u32) -> String {
    names(status, crate::image::criu::VMA_STATUS_NAMES)
}

/// `MAP_PRIVATE | MAP_ANON`.
pub fn mmap_flags(flags: u32) -> String {
    names(flags, MMAP_FLAGS)
}

/// A label for an anonymous mapping the image marks as special: `[heap]`,
/// `[stack]` (or any mapping that grows down), `[vdso]`…; None when the
/// image does not say what its mappings are.
pub fn special_mapping(linux: &LinuxRegion) -> Option<&'static str> {
    const MAP_GROWSDOWN: u32 = 0x100;
    match linux.kind? {
        LinuxMappingKind::Vdso => Some("[vdso]"),
        LinuxMappingKind::Vvar => Some("[vvar]"),
        LinuxMappingKind::Vsyscall => Some("[vsyscall]"),
        LinuxMappingKind::Heap => Some("[heap]"),
        LinuxMappingKind::Stack => Some("[stack]"),
        _ if linux.mmap_flags & MAP_GROWSDOWN != 0 => Some("[stack]"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_like_crit() {
        assert_eq!(mmap_flags(0x122), "MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN");
        assert_eq!(mmap_flags(0), "");
        assert_eq!(mmap_flags(0x4002), "MAP_PRIVATE | 0x4000");
        let region = |kind, mmap_flags| LinuxRegion {
            mmap_flags,
            vma_status: None,
            madvise: None,
            kind,
        };
        let heap = region(Some(LinuxMappingKind::Heap), 0x22);
        assert_eq!(special_mapping(&heap), Some("[heap]"));
        let grows = region(Some(LinuxMappingKind::AnonPrivate), 0x122);
        assert_eq!(special_mapping(&grows), Some("[stack]"));
        // An image that does not say what its mappings are labels none.
        assert_eq!(special_mapping(&region(None, 0x122)), None);
    }
}
