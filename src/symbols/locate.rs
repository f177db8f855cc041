//! Where binaries and debug files live: sysroots, `.build-id` trees, flat
//! symbol directories, and `.gnu_debuglink` names (with their CRC).

use std::path::{Path, PathBuf};

use crate::memory::Bytes;
use crate::symbols::elf_file::ElfFile;

/// `.build-id/xx/rest` + suffix for a hex build-id, or None if too short.
pub fn build_id_path(build_id: &str, suffix: &str) -> Option<PathBuf> {
    if build_id.len() < 4 || !build_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (head, rest) = build_id.split_at(2);
    Some(
        PathBuf::from(".build-id")
            .join(head)
            .join(format!("{rest}{suffix}")),
    )
}

/// `root` joined with an absolute path from the dump (`/usr/lib/x.so`).
pub fn under_root(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

/// `path` (inside `root`) with its symbolic links followed inside `root`:
/// an absolute link target (`/usr/bin/prog`, as some distributions'
/// `.build-id/xx/rest` links are) names the file under `root`, not this
/// machine's. Relative targets resolve as usual; at most 16 links.
pub fn resolve_under_root(root: &Path, path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..16 {
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        current = if target.is_absolute() {
            under_root(root, &target.to_string_lossy())
        } else {
            match current.parent() {
                Some(parent) => parent.join(target),
                None => break,
            }
        };
    }
    current
}

/// Maps and parses a file; None if missing or not ELF.
pub fn open_elf(path: &Path) -> Option<ElfFile> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    ElfFile::parse(Bytes::map_file(&file).ok()?)
}

/// CRC-32 (IEEE, reflected 0xEDB88320) as `.gnu_debuglink` records it.
/// Written by hand: eight lines, and no crate in the tree exports it.
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_paths() {
        assert_eq!(
            build_id_path("93ac61ec5a8eb1396f9fbd350e3169a558528a40", ".debug").unwrap(),
            PathBuf::from(".build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug")
        );
        assert!(build_id_path("zz", "").is_none());
        assert!(build_id_path("../../etc", "").is_none());
        assert_eq!(
            under_root(Path::new("/srv/root"), "/usr/lib/a.so"),
            PathBuf::from("/srv/root/usr/lib/a.so")
        );
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32/ISO-HDLC check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
