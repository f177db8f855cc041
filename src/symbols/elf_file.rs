//! One ELF object (a module binary, a separate debug file, or the vDSO read
//! from memory), parsed once into the few things the symbolizer and the
//! unwinder need. Section bytes stay in the mmap unless they were
//! compressed (SHF_COMPRESSED debug sections are inflated once, bounded).

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind};

use crate::memory::Bytes;
use crate::unwind::parser_guard::guarded;

/// Largest inflated section we accept (a damaged header could claim more).
const MAX_SECTION: u64 = 1 << 30;
/// An inflated section may not exceed this many times its compressed size.
const MAX_RATIO: u64 = 64;

/// Bytes of one section: a window of a mapped file, or inflated bytes.
#[derive(Clone, Debug)]
pub enum SectionData {
    Mapped {
        file: Bytes,
        start: usize,
        len: usize,
    },
    Owned(Arc<Vec<u8>>),
}

impl Deref for SectionData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SectionData::Mapped { file, start, len } => {
                file.get(*start..*start + *len).unwrap_or(&[])
            }
            SectionData::Owned(v) => v,
        }
    }
}

// SAFETY: both variants point into heap or mmap storage owned by an Arc,
// which never moves while any clone is alive.
unsafe impl gimli::StableDeref for SectionData {}
unsafe impl gimli::CloneStableDeref for SectionData {}

impl SectionData {
    pub fn empty() -> Self {
        SectionData::Owned(Arc::new(Vec::new()))
    }
}

/// A section with its link-time address.
#[derive(Clone, Debug)]
pub struct LoadedSection {
    pub address: u64,
    pub data: SectionData,
}

/// A section whose bytes are materialized on first use: compressed debug
/// sections are only inflated when a lookup needs them.
struct LazySection {
    name: String,
    address: u64,
    range: object::CompressedFileRange,
    loaded: OnceLock<Option<LoadedSection>>,
}

/// A PT_LOAD of the object.
#[derive(Clone, Copy, Debug)]
pub struct LoadSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub executable: bool,
}

/// A function symbol from .symtab or .dynsym.
#[derive(Clone, Debug)]
pub struct FunctionSymbol {
    pub address: u64,
    pub size: u64,
    pub name: String,
    /// Lower is preferred among aliases: strong global 0, strong global
    /// of an old symbol version 1, others 2.
    pub rank: u8,
}

/// What we keep of a parsed ELF object.
pub struct ElfFile {
    pub bytes: Bytes,
    pub build_id: Option<String>,
    pub debuglink: Option<(String, u32)>,
    pub segments: Vec<LoadSegment>,
    pub has_dwarf: bool,
    sections: Vec<LazySection>,
    /// Function symbols sorted by address, best alias first; built on first
    /// lookup.
    symbols: OnceLock<Vec<FunctionSymbol>>,
    pub is_64: bool,
}

impl std::fmt::Debug for ElfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfFile")
            .field("build_id", &self.build_id)
            .field("sections", &self.sections.len())
            .finish()
    }
}

/// Sections the symbolizer and unwinder use.
const WANTED: &[&str] = &[
    ".eh_frame",
    ".eh_frame_hdr",
    ".debug_frame",
    ".text",
    ".got",
    ".debug_abbrev",
    ".debug_addr",
    ".debug_aranges",
    ".debug_info",
    ".debug_line",
    ".debug_line_str",
    ".debug_ranges",
    ".debug_rnglists",
    ".debug_str",
    ".debug_str_offsets",
];

/// Lower-case hex of a byte string (build ids); kept under this name for
/// the symbol code's callers.
pub use crate::byte_reader::hex;

impl ElfFile {
    /// Parses `bytes` as ELF; None when it is not a usable ELF object.
    pub fn parse(bytes: Bytes) -> Option<ElfFile> {
        guarded(|| Self::parse_unguarded(bytes)).flatten()
    }

    fn parse_unguarded(bytes: Bytes) -> Option<ElfFile> {
        let file = object::File::parse(&*bytes).ok()?;
        if !matches!(file.format(), object::BinaryFormat::Elf) {
            return None;
        }
        let build_id = file.build_id().ok().flatten().map(hex);
        let debuglink = file
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc));

        let segments = file
            .segments()
            .map(|s| {
                let (offset, filesz) = s.file_range();
                LoadSegment {
                    vaddr: s.address(),
                    memsz: s.size(),
                    offset,
                    filesz,
                    executable: s.permissions().executable(),
                }
            })
            .collect();

        let mut sections = Vec::new();
        let mut has_dwarf = false;
        for section in file.sections() {
            let Ok(name) = section.name() else { continue };
            if !WANTED.contains(&name) || section.kind() == SectionKind::UninitializedData {
                continue;
            }
            let Ok(range) = section.compressed_file_range() else {
                continue;
            };
            if name == ".debug_info" && range.uncompressed_size > 0 {
                has_dwarf = true;
            }
            sections.push(LazySection {
                name: name.to_string(),
                address: section.address(),
                range,
                loaded: OnceLock::new(),
            });
        }
        let is_64 = file.is_64();
        drop(file);
        Some(ElfFile {
            bytes,
            build_id,
            debuglink,
            segments,
            has_dwarf,
            sections,
            symbols: OnceLock::new(),
            is_64,
        })
    }

    pub fn section(&self, name: &str) -> Option<&LoadedSection> {
        let lazy = self.sections.iter().find(|s| s.name == name)?;
        lazy.loaded
            .get_or_init(|| {
                section_data(lazy.range, &self.bytes).map(|data| LoadedSection {
                    address: lazy.address,
                    data,
                })
            })
            .as_ref()
    }

    /// Function symbols (.symtab then .dynsym), parsed on first use.
    pub fn symbols(&self) -> &[FunctionSymbol] {
        self.symbols.get_or_init(|| {
            let mut symbols = guarded(|| {
                let mut symbols = Vec::new();
                if let Ok(file) = object::File::parse(&*self.bytes) {
                    collect_symbols(file.symbols(), &mut symbols);
                    collect_symbols(file.dynamic_symbols(), &mut symbols);
                }
                symbols
            })
            .unwrap_or_default();
            // Stable: equal (address, rank) keep symbol-table order.
            symbols.sort_by(|a, b| a.address.cmp(&b.address).then(a.rank.cmp(&b.rank)));
            symbols.dedup_by(|b, a| a.address == b.address && a.name == b.name);
            symbols
        })
    }

    /// Whether the object has any function symbols.
    pub fn has_symbols(&self) -> bool {
        !self.symbols().is_empty()
    }

    /// Link-time address of the first PT_LOAD, rounded down to the page.
    pub fn first_load_page(&self) -> Option<u64> {
        self.segments
            .iter()
            .filter(|s| s.memsz > 0)
            .map(|s| s.vaddr)
            .min()
            .map(|v| v & !0xfff)
    }

    /// The function symbol covering link-time address `addr`.
    pub fn symbol_for(&self, addr: u64) -> Option<&FunctionSymbol> {
        let symbols = self.symbols();
        let idx = symbols.partition_point(|s| s.address <= addr);
        if idx == 0 {
            return None;
        }
        // All symbols at the greatest address <= addr; the first is the best alias.
        let at = symbols[idx - 1].address;
        let first = symbols[..idx].partition_point(|s| s.address < at);
        let candidates = &symbols[first..idx];
        if let Some(s) = candidates
            .iter()
            // addr >= s.address here; subtracting cannot overflow where a
            // hostile st_size added to st_value could.
            .find(|s| s.size > 0 && addr - s.address < s.size)
        {
            return Some(s);
        }
        // Size-0 symbols (hand-written assembly) cover up to the next symbol,
        // but only inside executable code.
        let zero = candidates.iter().find(|s| s.size == 0)?;
        let next = symbols.get(idx).map(|s| s.address).unwrap_or(u64::MAX);
        (addr < next && self.is_executable_vaddr(addr)).then_some(zero)
    }

    pub fn is_executable_vaddr(&self, addr: u64) -> bool {
        self.segments
            .iter()
            .any(|s| s.executable && addr >= s.vaddr && addr - s.vaddr < s.memsz)
    }

    /// Copies file bytes backing link-time address `addr`; returns the count.
    pub fn read_vaddr(&self, addr: u64, buf: &mut [u8]) -> usize {
        for s in &self.segments {
            if addr >= s.vaddr && addr - s.vaddr < s.filesz.min(s.memsz) {
                let rel = addr - s.vaddr;
                let n = (s.filesz.min(s.memsz) - rel).min(buf.len() as u64) as usize;
                if let Some(src) = file_range(s.offset, rel, n).and_then(|r| self.bytes.get(r)) {
                    buf[..n].copy_from_slice(src);
                    return n;
                }
            }
        }
        0
    }
}

/// File bytes `offset + rel .. + len`, or None when the start does not fit
/// the address space (a 64-bit offset on a 32-bit host must not wrap to
/// some other place in the file) or the end overflows.
fn file_range(offset: u64, rel: u64, len: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(offset.checked_add(rel)?).ok()?;
    Some(start..start.checked_add(len)?)
}

fn section_data(range: object::CompressedFileRange, bytes: &Bytes) -> Option<SectionData> {
    if range.format == object::CompressionFormat::None {
        let start = usize::try_from(range.offset).ok()?;
        let len = usize::try_from(range.uncompressed_size).ok()?;
        bytes.get(start..start.checked_add(len)?)?;
        return Some(SectionData::Mapped {
            file: bytes.clone(),
            start,
            len,
        });
    }
    let limit = range
        .compressed_size
        .saturating_mul(MAX_RATIO)
        .min(MAX_SECTION);
    if range.uncompressed_size > limit {
        return None;
    }
    let data = guarded(|| range.data(&**bytes).ok()?.decompress().ok())??;
    Some(SectionData::Owned(Arc::new(data.into_owned())))
}

fn collect_symbols<'data, 'file, I, S>(iter: I, out: &mut Vec<FunctionSymbol>)
where
    I: Iterator<Item = S>,
    S: ObjectSymbol<'data>,
{
    for sym in iter {
        // STT_NOTYPE counts only when global: local ones are assembler
        // labels (`.L413`) that would shadow the real function.
        let is_code = match sym.kind() {
            SymbolKind::Text => true,
            SymbolKind::Unknown => !sym.is_local(),
            _ => false,
        };
        if !is_code || sym.is_undefined() || sym.address() == 0 {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() || name.starts_with('$') || name.starts_with(".L") {
            continue;
        }
        // .symver names in .symtab carry their version: `x@@V` is the
        // default version, i.e. plain `x` to a caller, as gdb shows it;
        // `x@V` is an old version kept for old binaries, shown as it is.
        let (name, old_version) = match name.split_once("@@") {
            Some((base, _)) if !base.is_empty() => (base, false),
            _ => (name, name.contains('@')),
        };
        // Among aliases a strong global wins (the default version before
        // an old one); otherwise the first in table order (what eu-stack
        // prints: `__clone3`, `__libc_pause`).
        let rank = match (sym.is_global() && !sym.is_weak(), old_version) {
            (true, false) => 0,
            (true, true) => 1,
            (false, _) => 2,
        };
        out.push(FunctionSymbol {
            address: sym.address(),
            size: sym.size(),
            name: name.to_string(),
            rank,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::symbols::locate::open_elf;

    use super::file_range;

    #[test]
    fn file_ranges_never_wrap() {
        assert_eq!(file_range(0x1000, 0x10, 8), Some(0x1010..0x1018));
        assert_eq!(file_range(u64::MAX, 1, 8), None);
        assert_eq!(file_range(u64::MAX - 4, 0, 8), None);
        // On a 32-bit host an offset past 4 GiB has no place in a mapped
        // file; truncating it used to read from offset 0x1000 instead.
        let past_4gib = file_range(0x1_0000_1000, 0, 8);
        if usize::BITS == 32 {
            assert_eq!(past_4gib, None);
        } else {
            assert_eq!(past_4gib, Some(0x1_0000_1000..0x1_0000_1008));
        }
    }

    fn repo_file(rel: &str) -> super::ElfFile {
        open_elf(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
    }

    fn name_at(elf: &super::ElfFile, addr: u64) -> Option<&str> {
        elf.symbol_for(addr).map(|s| s.name.as_str())
    }

    #[test]
    fn symtab_aliases_resolve_like_eu_stack() {
        // glibc 2.36's debug file (build-id 93ac…), addresses from readelf -s.
        let libc = repo_file("symbols/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug");
        // clone3.S: `__clone3` and `clone3` both LOCAL; table order wins.
        assert_eq!(name_at(&libc, 0x1098c0 + 0x2b), Some("__clone3"));
        // A strong GLOBAL beats the LOCAL aliases listed before it, and the
        // default version `clock_nanosleep@@GLIBC_2.17` beats the older
        // `clock_nanosleep@GLIBC_2.2.5` listed before it.
        assert_eq!(name_at(&libc, 0xcf4e0 + 0x65), Some("clock_nanosleep"));
        // LOCAL `__libc_pause` before WEAK `pause`: weak is no stronger.
        assert_eq!(name_at(&libc, 0xd3dc0), Some("__libc_pause"));
        // One past a sized function's end is not inside it.
        assert_ne!(name_at(&libc, 0x1098c0 + 71), Some("__clone3"));

        let threads = repo_file("testdata/bin/threads");
        assert_eq!(name_at(&threads, 0x1130 + 0x21), Some("_start"));
        // `_init` has size 0: it covers up to the next symbol, in code.
        assert_eq!(name_at(&threads, 0x1004), Some("_init"));
        assert_eq!(name_at(&threads, 0x10), None);
    }

    #[test]
    fn hostile_symbol_size_does_not_overflow() {
        // st_value + st_size past u64::MAX: covers everything above it.
        let symbols = vec![super::FunctionSymbol {
            address: 0xffff_ffff_ffff_f000,
            size: u64::MAX,
            name: "huge".into(),
            rank: 0,
        }];
        let elf = super::ElfFile {
            bytes: crate::memory::Bytes::from_vec(Vec::new()),
            build_id: None,
            debuglink: None,
            segments: Vec::new(),
            has_dwarf: false,
            sections: Vec::new(),
            symbols: std::sync::OnceLock::from(symbols),
            is_64: true,
        };
        assert_eq!(name_at(&elf, u64::MAX), Some("huge"));
        assert_eq!(name_at(&elf, 0x1000), None);
    }

    #[test]
    fn compressed_debug_sections_are_inflated() {
        let libc = repo_file("symbols/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug");
        assert!(libc.has_dwarf);
        let info = libc.section(".debug_info").unwrap();
        // DWARF unit header: a 32-bit length then version 5.
        assert_eq!(info.data.get(4..6), Some(&[5u8, 0][..]));
        assert_eq!(
            libc.build_id.as_deref(),
            Some("93ac61ec5a8eb1396f9fbd350e3169a558528a40")
        );
    }
}
