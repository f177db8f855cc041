//! Names for MEMORY_BASIC_INFORMATION fields (winnt.h constants).

/// `PAGE_*` protection flags as `PAGE_EXECUTE_READ | PAGE_GUARD`.
pub fn page_protection(p: u32) -> String {
    let base = match p & 0xff {
        0 => "0",
        0x01 => "PAGE_NOACCESS",
        0x02 => "PAGE_READONLY",
        0x04 => "PAGE_READWRITE",
        0x08 => "PAGE_WRITECOPY",
        0x10 => "PAGE_EXECUTE",
        0x20 => "PAGE_EXECUTE_READ",
        0x40 => "PAGE_EXECUTE_READWRITE",
        0x80 => "PAGE_EXECUTE_WRITECOPY",
        _ => return format!("{p:#x}"),
    };
    let mut parts = vec![base.to_string()];
    for (bit, name) in [
        (0x100, "PAGE_GUARD"),
        (0x200, "PAGE_NOCACHE"),
        (0x400, "PAGE_WRITECOMBINE"),
        (0x4000_0000, "PAGE_TARGETS_INVALID"),
    ] {
        if p & bit != 0 {
            parts.push(name.to_string());
        }
    }
    let known = 0xff | 0x100 | 0x200 | 0x400 | 0x4000_0000;
    if p & !known != 0 {
        parts.push(format!("{:#x}", p & !known));
    }
    parts.join(" | ")
}

/// `MEM_COMMIT` / `MEM_RESERVE` / `MEM_FREE`.
pub fn memory_state(s: u32) -> &'static str {
    match s {
        0x1000 => "MEM_COMMIT",
        0x2000 => "MEM_RESERVE",
        0x10000 => "MEM_FREE",
        _ => "unknown",
    }
}

/// `MEM_IMAGE` / `MEM_MAPPED` / `MEM_PRIVATE`.
pub fn memory_kind(t: u32) -> &'static str {
    match t {
        0x20000 => "MEM_PRIVATE",
        0x40000 => "MEM_MAPPED",
        0x100_0000 => "MEM_IMAGE",
        0 => "-",
        _ => "unknown",
    }
}

/// Read / write / execute rights implied by a `PAGE_*` value (guard and
/// no-access pages are not readable).
pub fn rights(p: u32) -> (bool, bool, bool) {
    if p & 0x100 != 0 || p & 0x01 != 0 {
        return (false, false, false);
    }
    match p & 0xff {
        0x02 => (true, false, false),
        0x04 | 0x08 => (true, true, false),
        0x10 => (false, false, true),
        0x20 => (true, false, true),
        0x40 | 0x80 => (true, true, true),
        _ => (false, false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(page_protection(0x104), "PAGE_READWRITE | PAGE_GUARD");
        assert_eq!(page_protection(0x20), "PAGE_EXECUTE_READ");
        assert_eq!(memory_state(0x1000), "MEM_COMMIT");
        assert_eq!(memory_kind(0x100_0000), "MEM_IMAGE");
        assert_eq!(rights(0x40), (true, true, true));
        assert_eq!(rights(0x104), (false, false, false));
    }
}
