//! A relocatable ELF object — a Linux kernel module's `.ko` — with its
//! DWARF placed where the kernel loaded it.
//!
//! A `.ko` is ET_REL: every section starts at address 0 and its DWARF
//! reaches code, data and the other debug sections through relocations
//! (RELA, mostly against section symbols). Symbolizing a loaded module
//! means applying them with each allocated section at its load address
//! (`.text` at the module's text base, `.init.text`, `.exit.text`,
//! `.text.unlikely`, … wherever the kernel put them) and the debug
//! sections at 0, so that DWARF's addresses are the running kernel's.
//!
//! object parses the file, its sections, symbols and relocations; the
//! relocations are applied here by hand because object's own
//! `RelocationMap` places every section at its link address (0 in a
//! `.ko`) and gimli applies none: neither can put two sections of one
//! file at unrelated addresses.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use object::{
    Object, ObjectSection, ObjectSymbol, RelocationEncoding, RelocationKind, RelocationTarget,
    SectionFlags, SectionIndex, SymbolSection,
};

use super::SymbolFrame;
use super::elf_file::{FunctionSymbol, SectionData};
use super::loaded::DwarfReader;
use super::lookup::{complete_frames, dwarf_frames};
use crate::memory::Bytes;
use crate::unwind::parser_guard::guarded;

/// Largest module file read whole after decompression (`.ko.xz`,
/// `.ko.zst`, `.ko.gz`); the biggest debug modules are a few hundred MB.
const MAX_DECOMPRESSED_FILE: u64 = 1 << 30;
/// Largest inflated debug section accepted (a damaged header could
/// claim more), and the most it may grow over its compressed size.
const MAX_SECTION: u64 = 1 << 30;
const MAX_RATIO: u64 = 64;
/// SHF_ALLOC: the section is in the module's memory.
const SHF_ALLOC: u64 = 0x2;

/// The debug sections a lookup reads; each is relocated once.
const DWARF_SECTIONS: &[&str] = &[
    ".debug_info",
    ".debug_line",
    ".debug_abbrev",
    ".debug_rnglists",
    ".debug_ranges",
    ".debug_str",
    ".debug_aranges",
    ".debug_line_str",
    ".debug_addr",
    ".debug_str_offsets",
];

/// Whether the file at `path` is an ELF relocatable object (e_type
/// ET_REL), by its first 18 bytes: a kernel module, never a vmlinux.
pub fn is_relocatable_elf(path: &Path) -> bool {
    let mut head = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| {
            let e_type = match head[5] {
                2 => u16::from_be_bytes([head[16], head[17]]),
                _ => u16::from_le_bytes([head[16], head[17]]),
            };
            head[..4] == *b"\x7fELF" && e_type == 1
        })
}

/// A parsed relocatable object: its bytes and identity.
pub struct RelocatableObject {
    bytes: Bytes,
    /// Its GNU build-id (lower-case hex), from `.note.gnu.build-id`.
    pub build_id: Option<String>,
    /// The module name its `.modinfo` records (`name=…`), when it has one.
    pub module_name: Option<String>,
    /// Whether it carries DWARF (`.debug_info`).
    pub has_dwarf: bool,
}

impl std::fmt::Debug for RelocatableObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelocatableObject")
            .field("build_id", &self.build_id)
            .field("module_name", &self.module_name)
            .finish()
    }
}

/// A function symbol of a relocatable object: its section and its value
/// in that section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSymbol {
    pub section: String,
    pub name: String,
    pub value: u64,
}

impl RelocatableObject {
    /// Opens `path`: a plain ELF file is mapped, a `.xz`, `.zst` or `.gz`
    /// one is decompressed into memory (bounded). Errors say why it is not
    /// a usable relocatable object.
    pub fn open(path: &Path) -> Result<RelocatableObject, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = if name.ends_with(".xz") {
            decompress(xz2::read::XzDecoder::new(file))?
        } else if name.ends_with(".zst") {
            decompress(zstd::stream::read::Decoder::new(file).map_err(|e| e.to_string())?)?
        } else if name.ends_with(".gz") {
            decompress(flate2::read::GzDecoder::new(file))?
        } else {
            Bytes::map_file(&file).map_err(|e| e.to_string())?
        };
        Self::parse(bytes)
    }

    /// Parses `bytes` as a relocatable ELF object.
    pub fn parse(bytes: Bytes) -> Result<RelocatableObject, String> {
        guarded(|| Self::parse_unguarded(bytes))
            .unwrap_or_else(|| Err("the ELF parser failed on it".to_string()))
    }

    fn parse_unguarded(bytes: Bytes) -> Result<RelocatableObject, String> {
        let file = object::File::parse(&*bytes).map_err(|e| format!("not ELF: {e}"))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err("not ELF".to_string());
        }
        if file.kind() != object::ObjectKind::Relocatable {
            return Err("not a relocatable object (ET_REL), so not a kernel module".to_string());
        }
        let build_id = file.build_id().ok().flatten().map(crate::byte_reader::hex);
        let module_name = file
            .section_by_name(".modinfo")
            .and_then(|s| s.data().ok())
            .and_then(|data| {
                data.split(|&b| b == 0)
                    .find_map(|entry| entry.strip_prefix(b"name="))
                    .map(|n| String::from_utf8_lossy(n).into_owned())
            });
        let has_dwarf = file
            .section_by_name(".debug_info")
            .is_some_and(|s| s.size() > 0);
        drop(file);
        Ok(RelocatableObject {
            bytes,
            build_id,
            module_name,
            has_dwarf,
        })
    }

    /// Its defined function symbols with the section each lies in.
    pub fn functions(&self) -> Vec<SectionSymbol> {
        guarded(|| {
            let Ok(file) = object::File::parse(&*self.bytes) else {
                return Vec::new();
            };
            file.symbols()
                .filter(|s| s.kind() == object::SymbolKind::Text)
                .filter_map(|s| {
                    let SymbolSection::Section(index) = s.section() else {
                        return None;
                    };
                    let section = file.section_by_index(index).ok()?;
                    Some(SectionSymbol {
                        section: section.name().ok()?.to_string(),
                        name: s.name().ok()?.to_string(),
                        value: s.address(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// Its DWARF with relocations applied, every allocated section at the
    /// address `placement` gives for its name (a section it gives none
    /// stays at 0, where no kernel code lies) and the debug sections at 0.
    pub fn place(&self, placement: &dyn Fn(&str) -> Option<u64>) -> Result<PlacedDwarf, String> {
        guarded(|| self.place_unguarded(placement))
            .unwrap_or_else(|| Err("the DWARF reader failed on it".to_string()))
    }

    fn place_unguarded(
        &self,
        placement: &dyn Fn(&str) -> Option<u64>,
    ) -> Result<PlacedDwarf, String> {
        let file = object::File::parse(&*self.bytes).map_err(|e| e.to_string())?;
        let little_endian = file.is_little_endian();
        // Where each section starts at run time.
        let mut bases: HashMap<SectionIndex, Option<u64>> = HashMap::new();
        for section in file.sections() {
            let allocated = match section.flags() {
                SectionFlags::Elf { sh_flags, .. } => sh_flags.0 & SHF_ALLOC != 0,
                _ => false,
            };
            let base = if allocated {
                section.name().ok().and_then(placement)
            } else {
                Some(0)
            };
            bases.insert(section.index(), base);
        }
        let mut stats = RelocationStats::default();
        let mut sections: HashMap<&'static str, SectionData> = HashMap::new();
        for &name in DWARF_SECTIONS {
            let Some(section) = file.section_by_name(name) else {
                continue;
            };
            let mut data = section_bytes(&section, &self.bytes)
                .ok_or_else(|| format!("its {name} lies outside the file or is damaged"))?;
            for (offset, relocation) in section.relocations() {
                stats.count(apply(
                    &file,
                    &bases,
                    &mut data,
                    offset,
                    &relocation,
                    little_endian,
                ));
            }
            sections.insert(name, SectionData::Owned(Arc::new(data)));
        }
        if !sections.contains_key(".debug_info") {
            return Err("it has no DWARF (.debug_info)".to_string());
        }
        let endian = if little_endian {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let dwarf = gimli::Dwarf::load(|id| -> Result<DwarfReader, gimli::Error> {
            let data = sections
                .get(id.name())
                .cloned()
                .unwrap_or_else(SectionData::empty);
            Ok(gimli::EndianReader::new(data, endian))
        })
        .map_err(|e| format!("its DWARF cannot be read: {e}"))?;
        let context = addr2line::Context::from_dwarf(dwarf)
            .map_err(|e| format!("its DWARF cannot be read: {e}"))?;
        Ok(PlacedDwarf {
            context,
            applied: stats.applied,
            skipped: stats.skipped,
        })
    }
}

/// A module's DWARF at its load addresses.
pub struct PlacedDwarf {
    context: addr2line::Context<DwarfReader>,
    /// Relocations applied to its debug sections.
    pub applied: usize,
    /// Relocations left unapplied: of a kind DWARF does not use, against
    /// a symbol that does not exist or is undefined, or reaching past the
    /// end of their section.
    pub skipped: usize,
}

impl PlacedDwarf {
    /// The frames naming run-time `address`, innermost inlined function
    /// first, as the kernel image's are named: `symbol` (start, size,
    /// name: the function holding the address, from the module's own
    /// symbol table) names what DWARF does not, and files are named from
    /// the source tree's root when the build directory is relative.
    pub fn lookup(&self, address: u64, symbol: Option<(u64, u64, &str)>) -> Vec<SymbolFrame> {
        guarded(|| {
            let symbol = symbol.map(|(start, size, name)| FunctionSymbol {
                address: start,
                size,
                name: name.to_string(),
                rank: 0,
            });
            let hit = dwarf_frames(Some(&self.context), address);
            complete_frames(hit, Some(&self.context), address, symbol.as_ref(), true)
        })
        .unwrap_or_default()
    }
}

#[derive(Default)]
struct RelocationStats {
    applied: usize,
    skipped: usize,
}

impl RelocationStats {
    fn count(&mut self, applied: bool) {
        if applied {
            self.applied += 1;
        } else {
            self.skipped += 1;
        }
    }
}

/// Applies one relocation to `data` (a debug section's bytes): S + A,
/// where S is the target symbol's value plus its section's run-time base;
/// false when it is not applied (see [`PlacedDwarf::skipped`]).
fn apply(
    file: &object::File<'_>,
    bases: &HashMap<SectionIndex, Option<u64>>,
    data: &mut [u8],
    offset: u64,
    relocation: &object::Relocation,
    little_endian: bool,
) -> bool {
    // DWARF uses plain absolute addresses and offsets, 4 or 8 bytes.
    if relocation.kind() != RelocationKind::Absolute
        || relocation.encoding() != RelocationEncoding::Generic
    {
        return false;
    }
    let width = match relocation.size() {
        32 => 4usize,
        64 => 8usize,
        _ => return false,
    };
    let Some(place) = usize::try_from(offset)
        .ok()
        .and_then(|start| data.get_mut(start..start.checked_add(width)?))
    else {
        return false;
    };
    let target = match relocation.target() {
        RelocationTarget::Symbol(index) => {
            let Ok(symbol) = file.symbol_by_index(index) else {
                return false;
            };
            match symbol.section() {
                SymbolSection::Section(section) => match bases.get(&section) {
                    Some(Some(base)) => base.wrapping_add(symbol.address()),
                    // An allocated section the kernel did not list: left at
                    // its link address, far from any kernel address.
                    Some(None) => symbol.address(),
                    None => return false,
                },
                SymbolSection::Absolute => symbol.address(),
                _ => return false,
            }
        }
        RelocationTarget::Section(section) => match bases.get(&section) {
            Some(base) => base.unwrap_or(0),
            None => return false,
        },
        _ => return false,
    };
    let implicit = if relocation.has_implicit_addend() {
        read_word(place, little_endian)
    } else {
        0
    };
    let value = target
        .wrapping_add(relocation.addend() as u64)
        .wrapping_add(implicit);
    write_word(place, value, little_endian);
    true
}

fn read_word(place: &[u8], little_endian: bool) -> u64 {
    let mut word = [0u8; 8];
    let n = place.len().min(8);
    if little_endian {
        word[..n].copy_from_slice(&place[..n]);
        u64::from_le_bytes(word)
    } else {
        word[8 - n..].copy_from_slice(&place[..n]);
        u64::from_be_bytes(word)
    }
}

fn write_word(place: &mut [u8], value: u64, little_endian: bool) {
    let n = place.len().min(8);
    if little_endian {
        place[..n].copy_from_slice(&value.to_le_bytes()[..n]);
    } else {
        place[..n].copy_from_slice(&value.to_be_bytes()[8 - n..]);
    }
}

/// A section's bytes as an owned copy to relocate: inflated when
/// compressed (bounded by size and ratio).
fn section_bytes(section: &object::Section<'_, '_>, bytes: &Bytes) -> Option<Vec<u8>> {
    let range = section.compressed_file_range().ok()?;
    if range.format != object::CompressionFormat::None {
        let limit = range
            .compressed_size
            .saturating_mul(MAX_RATIO)
            .min(MAX_SECTION);
        if range.uncompressed_size > limit {
            return None;
        }
    }
    let data = range.data(&**bytes).ok()?.decompress().ok()?;
    Some(data.into_owned())
}

/// Everything `reader` yields, up to [`MAX_DECOMPRESSED_FILE`] bytes.
fn decompress(reader: impl Read) -> Result<Bytes, String> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECOMPRESSED_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot be decompressed: {e}"))?;
    if out.len() as u64 > MAX_DECOMPRESSED_FILE {
        return Err(format!(
            "decompresses to more than {MAX_DECOMPRESSED_FILE} bytes"
        ));
    }
    Ok(Bytes::from_vec(out))
}
