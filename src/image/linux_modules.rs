//! Finding the loaded modules of a Linux process from what any Linux image
//! holds: its file mappings, its auxiliary vector and its memory. Works for
//! ELF cores, Linux minidumps and CRIU images alike.
//!
//! Sources, in order: mappings of a file whose lowest mapping (file offset
//! 0) starts with an ELF header (build-id read from the in-memory program
//! headers), the vDSO from AT_SYSINFO_EHDR, and the dynamic linker's
//! `r_debug` / `link_map` list found through DT_DEBUG.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use goblin::container::{Ctx, Endian};
use goblin::elf::header::Header;
use goblin::elf::program_header::{PT_DYNAMIC, PT_LOAD, PT_NOTE, ProgramHeader};

use crate::byte_reader::Fields;
use crate::memory::{Bytes, Memory, Segment, SegmentMemory};
use crate::model::{AuxvEntry, Module, ModuleSource};

/// One file-backed mapping: `[start, end)` maps `path` from `file_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    pub start: u64,
    pub end: u64,
    pub file_offset: u64,
    pub path: String,
    /// Whether the mapping is executable, where the image says so.
    pub executable: Option<bool>,
}

pub const AT_PHDR: u64 = 3;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_ENTRY: u64 = 9;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_EXECFN: u64 = 31;

const DT_NULL: u64 = 0;
const DT_DEBUG: u64 = 21;
/// Bounds on what is read from a possibly corrupt address space.
const MAX_PHDRS: usize = 256;
const MAX_DYNAMIC_ENTRIES: usize = 1024;
const MAX_LINK_MAP_ENTRIES: usize = 4096;
const MAX_PATH: usize = 4096;
const MAX_NOTE_BYTES: u64 = 64 * 1024;

pub fn auxv_value(auxv: &[AuxvEntry], key: u64) -> Option<u64> {
    auxv.iter().find(|e| e.key == key).map(|e| e.value)
}

/// An ELF image's identity as read from its headers (in memory or a file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfIdentity {
    pub build_id: Option<String>,
    /// Lowest PT_LOAD p_vaddr rounded down to the page.
    pub min_vaddr: Option<u64>,
    /// Highest PT_LOAD p_vaddr + p_memsz.
    pub max_vaddr: Option<u64>,
    /// PT_DYNAMIC p_vaddr, if any.
    pub dynamic_vaddr: Option<u64>,
}

fn elf_ctx(header: &Header) -> Option<Ctx> {
    let container = header.container().ok()?;
    let endian = header.endianness().ok()?;
    if endian != Endian::Little {
        return None;
    }
    Some(Ctx::new(container, endian))
}

/// Parses an ELF header and its program headers given a way to read bytes
/// at an offset relative to the header (file offset or `base + offset`).
fn headers_via(read: &dyn Fn(u64, &mut [u8]) -> usize) -> Option<(Header, Vec<ProgramHeader>)> {
    let mut ehdr = [0u8; 64];
    let n = read(0, &mut ehdr);
    if n < 52 || &ehdr[..4] != b"\x7fELF" {
        return None;
    }
    let header = goblin::elf::Elf::parse_header(&ehdr[..n]).ok()?;
    let ctx = elf_ctx(&header)?;
    let entsize = ProgramHeader::size(ctx);
    if header.e_phentsize as usize != entsize {
        return None;
    }
    let count = (header.e_phnum as usize).min(MAX_PHDRS);
    let mut table = vec![0u8; count * entsize];
    let got = read(header.e_phoff, &mut table);
    let usable = got / entsize;
    let phdrs = ProgramHeader::parse(&table[..usable * entsize], 0, usable, ctx).ok()?;
    Some((header, phdrs))
}

fn build_id_in_notes(notes: &[u8], align8: bool) -> Option<String> {
    let mask = if align8 { 7 } else { 3 };
    let align = |v: usize| v.checked_add(mask).map(|v| v & !mask);
    let mut at = 0usize;
    while at.checked_add(12)? <= notes.len() {
        let namesz = usize::try_from(notes.u32_at(at)?).ok()?;
        let descsz = usize::try_from(notes.u32_at(at.checked_add(4)?)?).ok()?;
        let kind = notes.u32_at(at.checked_add(8)?)?;
        let name_at = at.checked_add(12)?;
        let desc_at = name_at.checked_add(align(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        let name = notes.bytes_at(name_at, namesz)?;
        if kind == goblin::elf::note::NT_GNU_BUILD_ID
            && name.starts_with(b"GNU")
            && !desc.is_empty()
        {
            return Some(crate::byte_reader::hex(desc));
        }
        at = desc_at.checked_add(align(descsz)?)?;
    }
    None
}

/// Reads the identity of the ELF image whose header sits at `base` in
/// `memory` (the kernel dumps the first page of every ELF mapping).
pub fn identity_in_memory(memory: &dyn Memory, base: u64, page_size: u64) -> Option<ElfIdentity> {
    let read = |off: u64, buf: &mut [u8]| memory.read_available(base.wrapping_add(off), buf);
    let (_, phdrs) = headers_via(&read)?;
    let mut id = identity_from_phdrs(&phdrs, page_size);
    let bias = base.wrapping_sub(id.min_vaddr?);
    for ph in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        let len = ph.p_filesz.min(MAX_NOTE_BYTES) as usize;
        let mut buf = vec![0u8; len];
        let got = memory.read_available(bias.wrapping_add(ph.p_vaddr), &mut buf);
        if let Some(b) = build_id_in_notes(&buf[..got], ph.p_align == 8) {
            id.build_id = Some(b);
            break;
        }
    }
    Some(id)
}

fn identity_from_phdrs(phdrs: &[ProgramHeader], page_size: u64) -> ElfIdentity {
    let page_mask = !(page_size.max(1) - 1);
    let loads = phdrs.iter().filter(|p| p.p_type == PT_LOAD);
    ElfIdentity {
        build_id: None,
        min_vaddr: loads.clone().map(|p| p.p_vaddr & page_mask).min(),
        max_vaddr: loads.map(|p| p.p_vaddr.saturating_add(p.p_memsz)).max(),
        dynamic_vaddr: phdrs
            .iter()
            .find(|p| p.p_type == PT_DYNAMIC)
            .map(|p| p.p_vaddr),
    }
}

/// The GNU build-id of an ELF file's bytes, from its PT_NOTE segments.
pub fn build_id_of_file(bytes: &[u8]) -> Option<String> {
    let read = |off: u64, buf: &mut [u8]| -> usize {
        let Ok(off) = usize::try_from(off) else {
            return 0;
        };
        let Some(src) = bytes.get(off..) else {
            return 0;
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        n
    };
    let (_, phdrs) = headers_via(&read)?;
    phdrs.iter().filter(|p| p.p_type == PT_NOTE).find_map(|ph| {
        let start = usize::try_from(ph.p_offset).ok()?;
        let len = usize::try_from(ph.p_filesz.min(MAX_NOTE_BYTES)).ok()?;
        let notes = bytes.get(start..start.checked_add(len)?)?;
        build_id_in_notes(notes, ph.p_align == 8)
    })
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Builds the module list from file mappings, auxv and memory.
pub fn discover_modules(
    memory: &dyn Memory,
    mappings: &[FileMapping],
    auxv: &[AuxvEntry],
    pointer_size: u8,
    page_size: u64,
) -> Vec<Module> {
    let mask = address_mask(pointer_size);
    // Per path: all its mappings, in first-seen order.
    let mut by_path: BTreeMap<&str, Vec<&FileMapping>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for m in mappings {
        let entry = by_path.entry(m.path.as_str()).or_default();
        if entry.is_empty() {
            order.push(m.path.as_str());
        }
        entry.push(m);
    }
    let mut modules = Vec::new();
    for path in order {
        let Some(maps) = by_path.get(path) else {
            continue;
        };
        let Some(lowest) = maps.iter().min_by_key(|m| m.start) else {
            continue;
        };
        if lowest.file_offset != 0 {
            continue;
        }
        let base = lowest.start;
        let end = maps.iter().map(|m| m.end).max().unwrap_or(base);
        let id = identity_in_memory(memory, base, page_size);
        let sources = if id.is_some() {
            vec![ModuleSource::FileMappings, ModuleSource::MemoryHeader]
        } else {
            // Older kernels (and coredump_filter without bit 4) leave the
            // ELF header out; an executable mapping of the file is then the
            // best sign that it is code, without a build-id.
            let header_missing = matches!(
                memory.read(base, &mut [0u8; 4]),
                Err(crate::memory::MemoryError::NotCaptured { .. })
            );
            if !header_missing || !maps.iter().any(|m| m.executable == Some(true)) {
                continue;
            }
            vec![ModuleSource::FileMappings]
        };
        let id = id.unwrap_or_default();
        modules.push(Module {
            name: file_name(path),
            path: path.to_string(),
            base,
            size: end.saturating_sub(base),
            build_id: id.build_id.clone(),
            load_bias: id.min_vaddr.map(|v| base.wrapping_sub(v) & mask),
            sources,
            is_main: false,
            pe: None,
        });
    }
    if let Some(vdso) = auxv_value(auxv, AT_SYSINFO_EHDR).filter(|&a| a != 0)
        && !modules.iter().any(|m| m.contains(vdso))
        && let Some(id) = identity_in_memory(memory, vdso, page_size)
    {
        let span = match (id.min_vaddr, id.max_vaddr) {
            (Some(lo), Some(hi)) => hi.saturating_sub(lo),
            _ => page_size,
        };
        let size = span
            .div_ceil(page_size)
            .saturating_mul(page_size)
            .max(page_size);
        modules.push(Module {
            name: "[vdso]".into(),
            path: "[vdso]".into(),
            base: vdso,
            size,
            build_id: id.build_id,
            load_bias: id.min_vaddr.map(|v| vdso.wrapping_sub(v) & mask),
            sources: vec![ModuleSource::Vdso],
            is_main: false,
            pe: None,
        });
    }
    mark_main(&mut modules, auxv);
    walk_link_map(memory, &mut modules, pointer_size, page_size);
    modules.sort_by_key(|m| m.base);
    modules
}

/// Addresses wrap at the pointer size (a 32-bit vDSO linked at 0xffffe000).
fn address_mask(pointer_size: u8) -> u64 {
    if pointer_size == 4 {
        u64::from(u32::MAX)
    } else {
        u64::MAX
    }
}

fn mark_main(modules: &mut [Module], auxv: &[AuxvEntry]) {
    let probe = [AT_PHDR, AT_ENTRY]
        .iter()
        .filter_map(|&k| auxv_value(auxv, k))
        .find(|&a| modules.iter().any(|m| m.contains(a)));
    if let Some(addr) = probe
        && let Some(m) = modules.iter_mut().find(|m| m.contains(addr))
    {
        m.is_main = true;
    }
}

fn read_c_string(memory: &dyn Memory, address: u64) -> Option<String> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    while out.len() < MAX_PATH {
        let n = memory.read_available(address.wrapping_add(out.len() as u64), &mut chunk);
        if n == 0 {
            return None;
        }
        if let Some(nul) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..nul]);
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&chunk[..n]);
    }
    None
}

/// Reads a NUL-terminated string from memory (AT_EXECFN and the like).
pub fn string_at(memory: &dyn Memory, address: u64) -> Option<String> {
    read_c_string(memory, address)
}

/// Finds `r_debug` via DT_DEBUG in the main module's dynamic section.
fn r_debug_address(
    memory: &dyn Memory,
    main: &Module,
    pointer_size: u8,
    page_size: u64,
) -> Option<u64> {
    let id = identity_in_memory(memory, main.base, page_size)?;
    let bias = main.load_bias?;
    let mut at = bias.wrapping_add(id.dynamic_vaddr?);
    let ps = u64::from(pointer_size);
    for _ in 0..MAX_DYNAMIC_ENTRIES {
        let tag = memory.read_pointer(at, pointer_size).ok()?;
        let val = memory
            .read_pointer(at.wrapping_add(ps), pointer_size)
            .ok()?;
        match tag {
            DT_NULL => return None,
            DT_DEBUG => return (val != 0).then_some(val),
            _ => {}
        }
        at = at.wrapping_add(2 * ps);
    }
    None
}

/// Walks `r_debug.r_map` and adds modules only the dynamic linker knew
/// of, or [`ModuleSource::LinkMap`] to those already found.
pub fn walk_link_map(
    memory: &dyn Memory,
    modules: &mut Vec<Module>,
    pointer_size: u8,
    page_size: u64,
) {
    let Some(main) = modules.iter().find(|m| m.is_main).cloned() else {
        return;
    };
    let Some(r_debug) = r_debug_address(memory, &main, pointer_size, page_size) else {
        return;
    };
    let ps = u64::from(pointer_size);
    // struct r_debug { int r_version; struct link_map *r_map; ... }
    let Ok(mut entry) = memory.read_pointer(r_debug.wrapping_add(ps), pointer_size) else {
        return;
    };
    let mut seen = HashSet::new();
    for _ in 0..MAX_LINK_MAP_ENTRIES {
        if entry == 0 || !seen.insert(entry) {
            break;
        }
        // struct link_map { l_addr, l_name, l_ld, l_next, l_prev }
        let field = |i: u64| {
            memory
                .read_pointer(entry.wrapping_add(i * ps), pointer_size)
                .ok()
        };
        let (Some(l_addr), Some(l_name), Some(next)) = (field(0), field(1), field(3)) else {
            break;
        };
        let name = if l_name != 0 {
            read_c_string(memory, l_name)
        } else {
            None
        };
        let known = modules.iter_mut().find(|m| {
            name.as_deref()
                .is_some_and(|n| !n.is_empty() && m.path == n)
                || (m.load_bias == Some(l_addr) && (l_addr != 0 || m.is_main))
        });
        match known {
            Some(m) => {
                if !m.sources.contains(&ModuleSource::LinkMap) {
                    m.sources.push(ModuleSource::LinkMap);
                }
            }
            None => {
                if let Some(path) = name.filter(|n| !n.is_empty()) {
                    let id = identity_in_memory(memory, l_addr, page_size);
                    let base = id
                        .as_ref()
                        .and_then(|i| i.min_vaddr)
                        .map_or(l_addr, |v| l_addr.wrapping_add(v));
                    let size = id
                        .as_ref()
                        .and_then(|i| Some(i.max_vaddr?.saturating_sub(i.min_vaddr?)))
                        .unwrap_or(0);
                    modules.push(Module {
                        name: file_name(&path),
                        path,
                        base,
                        size,
                        build_id: id.and_then(|i| i.build_id),
                        load_bias: Some(l_addr),
                        sources: vec![ModuleSource::LinkMap],
                        is_main: false,
                        pe: None,
                    });
                }
            }
        }
        entry = next;
    }
}

/// Where a mapped file is looked for: under the sysroot, then on the host.
pub fn candidate_paths(path: &str, sysroot: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(root) = sysroot {
        out.push(root.join(path.trim_start_matches('/')));
    }
    out.push(PathBuf::from(path));
    out
}

/// An absent range a host file may fill: `[start, end)` maps the file at
/// `file_offset`.
#[derive(Debug, Clone)]
pub struct AbsentRange {
    pub start: u64,
    pub end: u64,
    pub file_offset: u64,
    pub path: String,
}

/// Adds fallback segments from original files for absent bytes, but only
/// from a file whose build-id equals the one the image's memory recorded
/// for its module. Returns how many ranges were filled.
pub fn add_host_file_fallbacks(
    memory: &mut SegmentMemory,
    modules: &[Module],
    absent: &[AbsentRange],
    sysroot: Option<&Path>,
) -> usize {
    let mut opened: BTreeMap<String, Option<Bytes>> = BTreeMap::new();
    let mut filled = 0;
    for range in absent {
        let Some(expected) = modules
            .iter()
            .find(|m| m.path == range.path)
            .and_then(|m| m.build_id.as_deref())
        else {
            continue;
        };
        let bytes = opened
            .entry(range.path.clone())
            .or_insert_with(|| open_matching(&range.path, expected, sysroot));
        let Some(bytes) = bytes else { continue };
        if range.file_offset >= bytes.len() as u64 {
            continue;
        }
        let size = range.end.saturating_sub(range.start);
        memory.add_fallback(Segment {
            address: range.start,
            size,
            captured: size,
            offset: range.file_offset,
            bytes: bytes.clone(),
        });
        filled += 1;
    }
    filled
}

fn open_matching(path: &str, expected: &str, sysroot: Option<&Path>) -> Option<Bytes> {
    for candidate in candidate_paths(path, sysroot) {
        let Ok(file) = std::fs::File::open(&candidate) else {
            continue;
        };
        if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
            continue;
        }
        let Ok(bytes) = Bytes::map_file(&file) else {
            continue;
        };
        // The first candidate that exists decides: a sysroot copy with the
        // wrong build-id must not fall through to a host file by accident.
        return (build_id_of_file(&bytes).as_deref() == Some(expected)).then_some(bytes);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_of_the_shipped_libc() {
        let Some(libc) = crate::test_support::shared_path("generated/linux-cores/libs/libc.so.6")
        else {
            return;
        };
        let data = std::fs::read(&libc).unwrap();
        assert_eq!(
            build_id_of_file(&data).as_deref(),
            Some("93ac61ec5a8eb1396f9fbd350e3169a558528a40")
        );
        assert_eq!(build_id_of_file(&data[..40]), None);
        assert_eq!(build_id_of_file(b"garbage"), None);
    }

    #[test]
    fn candidates_prefer_the_sysroot() {
        let c = candidate_paths("/usr/lib/libc.so.6", Some(Path::new("/sr")));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/sr/usr/lib/libc.so.6"),
                PathBuf::from("/usr/lib/libc.so.6")
            ]
        );
    }
}
