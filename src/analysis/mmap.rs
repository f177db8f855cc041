//! Names of Linux mapping attributes: mmap flags, and the VMA status bits
//! CRIU records, spelled as `crit` prints them so reports can be compared.

/// (bit, name) for `mmap` flags as CRIU keeps them in its images.
const MMAP_FLAGS: &[(u32, &str)] = &[
    (0x1, "MAP_SHARED"),
    (0x2, "MAP_PRIVATE"),
    (0x8, "MAP_DROPPABLE"),
    (0x20, "MAP_ANON"),
    (0x100, "MAP_GROWSDOWN"),
];

/// (bit, name) for CRIU's VMA status (criu/include/image.h).
const VMA_STATUS: &[(u32, &str)] = &[
    (1 << 0, "VMA_AREA_REGULAR"),
    (1 << 1, "VMA_AREA_STACK"),
    (1 << 2, "VMA_AREA_VSYSCALL"),
    (1 << 3, "VMA_AREA_VDSO"),
    (1 << 5, "VMA_AREA_HEAP"),
    (1 << 6, "VMA_FILE_PRIVATE"),
    (1 << 7, "VMA_FILE_SHARED"),
    (1 << 8, "VMA_ANON_SHARED"),
    (1 << 9, "VMA_ANON_PRIVATE"),
    (1 << 10, "VMA_AREA_SYSVIPC"),
    (1 << 11, "VMA_AREA_SOCKET"),
    (1 << 12, "VMA_AREA_VVAR"),
    (1 << 13, "VMA_AREA_AIORING"),
    (1 << 14, "VMA_AREA_MEMFD"),
    (1 << 15, "VMA_AREA_SHSTK"),
    (1 << 16, "VMA_AREA_GUARD"),
    (1 << 17, "VMA_AREA_UPROBES"),
    (1 << 27, "VMA_EXT_PLUGIN"),
    (1 << 28, "VMA_CLOSE"),
    (1 << 29, "VMA_NO_PROT_WRITE"),
    (1 << 30, "VMA_PREMMAPED"),
    (1 << 31, "VMA_UNSUPP"),
];

/// Known bits by name joined with ` | `, any rest as hex; empty for 0.
fn names(value: u32, table: &[(u32, &str)]) -> String {
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

/// `MAP_PRIVATE | MAP_ANON`.
pub fn mmap_flags(flags: u32) -> String {
    names(flags, MMAP_FLAGS)
}

/// `VMA_AREA_REGULAR | VMA_FILE_PRIVATE`.
pub fn vma_status(status: u32) -> String {
    names(status, VMA_STATUS)
}

/// A label for an anonymous mapping the status marks as special.
pub fn special_mapping(status: u32, mmap_flags: u32) -> Option<&'static str> {
    if status & (1 << 3) != 0 {
        Some("[vdso]")
    } else if status & (1 << 12) != 0 {
        Some("[vvar]")
    } else if status & (1 << 2) != 0 {
        Some("[vsyscall]")
    } else if status & (1 << 5) != 0 {
        Some("[heap]")
    } else if status & (1 << 1) != 0 || mmap_flags & 0x100 != 0 {
        Some("[stack]")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_like_crit() {
        assert_eq!(mmap_flags(0x122), "MAP_PRIVATE | MAP_ANON | MAP_GROWSDOWN");
        assert_eq!(
            vma_status(0x1 | 0x200 | 0x1000),
            "VMA_AREA_REGULAR | VMA_ANON_PRIVATE | VMA_AREA_VVAR"
        );
        assert_eq!(mmap_flags(0), "");
        assert_eq!(mmap_flags(0x4002), "MAP_PRIVATE | 0x4000");
        assert_eq!(special_mapping(0x221, 0x22), Some("[heap]"));
    }
}
