//! The loaded-file cache: each module's located files, parsed once per
//! symbolizer (or once per process tree through [`SymbolCache`]), and the
//! module ranges that say which module an address falls in.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use super::elf_file::{self, ElfFile, SectionData};
use super::{SymbolKind, breakpad, pdb_symbols, pe_file};
use crate::memory::RangeIndex;
use crate::model::{Module, ProcessView};
use crate::unwind::parser_guard::guarded;

pub(super) type DwarfReader = gimli::EndianReader<gimli::RunTimeEndian, SectionData>;
pub(super) type DwarfContext = addr2line::Context<DwarfReader>;

/// A module's located files, parsed.
pub(super) struct LoadedModule {
    pub(super) binary: Option<(PathBuf, ElfFile)>,
    pub(super) debug: Option<(PathBuf, ElfFile)>,
    /// Built on the first lookup in this module.
    pub(super) dwarf: OnceCell<Option<ModuleDwarf>>,
    /// A Breakpad `.sym` file found by debug file + debug id.
    pub(super) breakpad: Option<(PathBuf, breakpad::BreakpadSymbols)>,
    /// Module base: Breakpad and PDB addresses are relative to it.
    pub(super) base: u64,
    /// The PE binary from the symbol path (Windows modules).
    pub(super) pe: Option<(PathBuf, pe_file::PeFile)>,
    /// The PDB matching the module's (or its binary's) CodeView identity.
    pub(super) pdb: Option<(PathBuf, pdb_symbols::PdbSymbols)>,
    /// Runtime address minus link-time address.
    pub(super) bias: u64,
    pub(super) problem: Option<String>,
    /// Files offered for the module and turned down (another build).
    pub(super) refused: Vec<super::RefusedFile>,
    /// A kernel image: its source files are shown relative to the build
    /// directory (see `lookup`).
    pub(super) kernel: bool,
}

impl LoadedModule {
    pub(super) fn symbol_for(&self, rel: u64) -> Option<&elf_file::FunctionSymbol> {
        fn from(f: &Option<(PathBuf, ElfFile)>, rel: u64) -> Option<&elf_file::FunctionSymbol> {
            f.as_ref().and_then(|(_, e)| e.symbol_for(rel))
        }
        from(&self.debug, rel).or_else(|| from(&self.binary, rel))
    }

    /// The file DWARF comes from: the debug file, else the binary.
    pub(super) fn dwarf_file(&self) -> Option<&ElfFile> {
        [&self.debug, &self.binary]
            .into_iter()
            .flatten()
            .map(|(_, e)| e)
            .find(|e| e.has_dwarf)
    }

    /// The DWARF context that answers for link-time address `rel`.
    pub(super) fn dwarf_at(&self, rel: u64) -> Option<&DwarfContext> {
        let dwarf = self.dwarf.get_or_init(|| {
            let file = self.dwarf_file()?;
            if self.kernel
                && let Some(units) = UnitContexts::new(file)
            {
                return Some(ModuleDwarf::ByUnit(units));
            }
            load_dwarf(file).map(ModuleDwarf::Whole)
        });
        match dwarf.as_ref()? {
            ModuleDwarf::Whole(context) => Some(context),
            ModuleDwarf::ByUnit(units) => units.context_for(rel),
        }
    }

    pub(super) fn kind(&self) -> SymbolKind {
        if self.dwarf_file().is_some() {
            SymbolKind::Dwarf
        } else if self.pdb.is_some() {
            SymbolKind::Pdb
        } else if self.breakpad.is_some() {
            SymbolKind::Breakpad
        } else if [&self.debug, &self.binary]
            .iter()
            .any(|f| f.as_ref().is_some_and(|(_, e)| e.has_symbols()))
        {
            SymbolKind::SymbolTable
        } else {
            SymbolKind::None
        }
    }
}

/// Modules already located, shared by the symbolizers of the processes
/// of one tree: a forked child maps the same files at the same addresses,
/// and finding and parsing libc's DWARF and unwind tables once per process
/// would dominate the report.
#[derive(Default)]
pub struct SymbolCache {
    modules: RefCell<HashMap<ModuleKey, Rc<LoadedModule>>>,
}

/// What makes two processes' modules the same loaded module: the file and
/// its identity, and where it sits (biases and bases are per mapping).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ModuleKey {
    path: String,
    build_id: Option<String>,
    base: u64,
    size: u64,
    load_bias: Option<u64>,
}

impl ModuleKey {
    fn of(m: &Module) -> Self {
        ModuleKey {
            path: m.path.clone(),
            build_id: m.build_id.clone(),
            base: m.base,
            size: m.size,
            load_bias: m.load_bias,
        }
    }
}

/// The modules of one image by address, each located on first use.
pub(super) struct LoadedModules<'a> {
    /// (base, end, module index) sorted by base.
    ranges: Vec<(u64, u64, usize)>,
    /// Containment queries over `ranges` (modules may overlap).
    index: RangeIndex,
    loaded: Vec<OnceCell<Rc<LoadedModule>>>,
    cache: Option<&'a SymbolCache>,
}

impl<'a> LoadedModules<'a> {
    pub(super) fn new(process: &ProcessView, cache: Option<&'a SymbolCache>) -> Self {
        Self::with_extents(process.modules.iter().map(|m| (m.base, m.size)), cache)
    }

    /// Modules given as (base, size), in module order.
    fn with_extents(
        extents: impl ExactSizeIterator<Item = (u64, u64)>,
        cache: Option<&'a SymbolCache>,
    ) -> Self {
        let count = extents.len();
        let mut ranges: Vec<(u64, u64, usize)> = extents
            .enumerate()
            .map(|(i, (base, size))| (base, base.saturating_add(size), i))
            .collect();
        ranges.sort();
        let index = RangeIndex::new(ranges.iter().map(|r| (r.0, r.1)));
        LoadedModules {
            ranges,
            index,
            loaded: (0..count).map(|_| OnceCell::new()).collect(),
            cache,
        }
    }

    /// The module whose range holds `address`.
    pub(super) fn module_index(&self, address: u64) -> Option<usize> {
        self.ranges.get(self.index.find(address)?).map(|r| r.2)
    }

    /// Module `index` of `modules`, located by `locate` on first use (or
    /// taken from the shared cache).
    pub(super) fn get(
        &self,
        index: usize,
        modules: &[Module],
        locate: impl FnOnce(&Module) -> LoadedModule,
    ) -> Option<&LoadedModule> {
        let cell = self.loaded.get(index)?;
        let module = modules.get(index)?;
        let loaded = cell.get_or_init(|| {
            let Some(cache) = self.cache else {
                return Rc::new(locate(module));
            };
            let key = ModuleKey::of(module);
            if let Some(found) = cache.modules.borrow().get(&key) {
                return found.clone();
            }
            let located = Rc::new(locate(module));
            cache.modules.borrow_mut().insert(key, located.clone());
            located
        });
        Some(loaded)
    }
}

/// The compressed debug sections a lookup needs, largest first.
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

/// Inflating zlib-compressed debug sections dominates a cold lookup:
/// .debug_info on one core while the rest inflate on the other (mapped
/// sections cost nothing here).
fn inflate_sections(file: &ElfFile) {
    std::thread::scope(|scope| {
        let (first, rest) = DWARF_SECTIONS.split_at(1);
        scope.spawn(move || {
            for name in rest {
                let _ = file.section(name);
            }
        });
        let _ = file.section(first[0]);
    });
}

pub(super) fn load_dwarf(file: &ElfFile) -> Option<DwarfContext> {
    guarded(|| load_dwarf_unguarded(file)).flatten()
}

fn load_dwarf_unguarded(file: &ElfFile) -> Option<DwarfContext> {
    inflate_sections(file);
    let endian = gimli::RunTimeEndian::Little;
    let dwarf = gimli::Dwarf::load(|id| -> Result<DwarfReader, gimli::Error> {
        let data = file
            .section(id.name())
            .map(|s| s.data.clone())
            .unwrap_or_else(SectionData::empty);
        Ok(gimli::EndianReader::new(data, endian))
    })
    .ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

/// A module's DWARF as addr2line reads it.
pub(super) enum ModuleDwarf {
    /// One context over every unit.
    Whole(DwarfContext),
    /// A context per compilation unit, each built when an address in it
    /// is first looked up.
    ByUnit(UnitContexts),
}

/// How many units' ranges in .debug_aranges hold an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Covering {
    Nothing,
    Unit(usize),
    Several,
}

/// A vmlinux's DWARF one compilation unit at a time. addr2line's context
/// over a whole file reads every unit's header, abbreviations and line
/// program header before the first answer: for a vmlinux's ~2,700 units
/// and 160 MB of .debug_info that is most of a kernel report's time, and
/// every page of the mapped file it touches counts in the resident set.
/// .debug_aranges names the unit holding an address; a context over that
/// unit alone (its bytes of .debug_info, every other section whole)
/// answers as the whole one would.
pub(super) struct UnitContexts {
    /// Every DWARF section by id, as the whole file has it.
    sections: Vec<(gimli::SectionId, DwarfReader)>,
    /// Non-empty address ranges from .debug_aranges: (begin, end, index
    /// into `units`).
    ranges: Vec<(u64, u64, usize)>,
    /// Each unit's .debug_info offset and its context, built on first use
    /// (None: the unit cannot be read alone).
    units: Vec<(usize, OnceCell<Option<DwarfContext>>)>,
    /// The whole file's context, for what the units alone cannot answer.
    whole: OnceCell<Option<DwarfContext>>,
    endian: gimli::RunTimeEndian,
}

impl UnitContexts {
    /// None when the file has no usable .debug_aranges.
    fn new(file: &ElfFile) -> Option<Self> {
        guarded(|| Self::new_unguarded(file)).flatten()
    }

    fn new_unguarded(file: &ElfFile) -> Option<Self> {
        inflate_sections(file);
        let endian = gimli::RunTimeEndian::Little;
        let mut sections = Vec::new();
        let dwarf = gimli::Dwarf::load(|id| -> Result<DwarfReader, gimli::Error> {
            let data = file
                .section(id.name())
                .map(|s| s.data.clone())
                .unwrap_or_else(SectionData::empty);
            let reader = gimli::EndianReader::new(data, endian);
            sections.push((id, reader.clone()));
            Ok(reader)
        })
        .ok()?;
        let mut offsets: HashMap<usize, usize> = HashMap::new();
        let mut units = Vec::new();
        let mut ranges = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        // Each set has a header of at least 16 bytes and each range 16
        // bytes: the loops end with the section.
        while let Ok(Some(header)) = headers.next() {
            let offset = header.debug_info_offset().0;
            let index = *offsets.entry(offset).or_insert_with(|| {
                units.push((offset, OnceCell::new()));
                units.len() - 1
            });
            let mut entries = header.entries();
            while let Ok(Some(entry)) = entries.next() {
                let range = entry.range();
                if range.begin < range.end {
                    ranges.push((range.begin, range.end, index));
                }
            }
        }
        if ranges.is_empty() {
            return None;
        }
        Some(UnitContexts {
            sections,
            ranges,
            units,
            whole: OnceCell::new(),
            endian,
        })
    }

    /// The unit whose ranges in .debug_aranges hold `rel`.
    fn unit_of(&self, rel: u64) -> Covering {
        let mut found = Covering::Nothing;
        for &(begin, end, index) in &self.ranges {
            if (begin..end).contains(&rel) {
                match found {
                    Covering::Unit(other) if other != index => return Covering::Several,
                    _ => found = Covering::Unit(index),
                }
            }
        }
        found
    }

    /// The context answering for `rel`: its unit's, when .debug_aranges
    /// names one unit and that unit's own ranges hold `rel`; none when it
    /// names none, or one whose own ranges leave `rel` out (GCC and gas
    /// list every unit's code there; what is not a unit's, such as
    /// static-call trampolines, absolute symbols or the thunks of
    /// top-level asm, no unit describes); the whole file's when it names
    /// several.
    fn context_for(&self, rel: u64) -> Option<&DwarfContext> {
        let index = match self.unit_of(rel) {
            Covering::Nothing => return None,
            Covering::Several => return self.whole(),
            Covering::Unit(index) => index,
        };
        let (offset, cell) = &self.units[index];
        match cell.get_or_init(|| guarded(|| self.unit_context(*offset)).flatten()) {
            Some(context) => context
                .find_dwarf_and_unit(rel)
                .skip_all_loads()
                .is_some()
                .then_some(context),
            // Read with every other unit, then.
            None => self.whole(),
        }
    }

    fn whole(&self) -> Option<&DwarfContext> {
        self.whole
            .get_or_init(|| addr2line::Context::from_dwarf(self.dwarf(None)?).ok())
            .as_ref()
    }

    /// The sections with .debug_info cut to `unit` (None: all of it) and
    /// no .debug_aranges (its sets name units by their offsets in the
    /// whole section).
    fn dwarf(&self, unit: Option<DwarfReader>) -> Option<gimli::Dwarf<DwarfReader>> {
        let empty = gimli::EndianReader::new(SectionData::empty(), self.endian);
        gimli::Dwarf::load(|id| -> Result<DwarfReader, gimli::Error> {
            Ok(match (id, &unit) {
                (gimli::SectionId::DebugInfo, Some(unit)) => unit.clone(),
                (gimli::SectionId::DebugAranges, Some(_)) => empty.clone(),
                _ => self
                    .sections
                    .iter()
                    .find(|(s, _)| *s == id)
                    .map_or_else(|| empty.clone(), |(_, r)| r.clone()),
            })
        })
        .ok()
    }

    /// A context over the unit at .debug_info `offset` alone; None when
    /// the unit refers to entries of other units (DW_FORM_ref_addr),
    /// which the cut section cannot resolve.
    fn unit_context(&self, offset: usize) -> Option<DwarfContext> {
        let whole = self.dwarf(None)?;
        let header = whole
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(offset))
            .ok()?;
        if refers_to_other_units(&whole, header.debug_abbrev_offset())? {
            return None;
        }
        let info = self
            .sections
            .iter()
            .find(|(s, _)| *s == gimli::SectionId::DebugInfo)?
            .1
            .clone();
        let end = offset.checked_add(header.length_including_self())?;
        if end > info.len() {
            return None;
        }
        addr2line::Context::from_dwarf(self.dwarf(Some(info.range(offset..end)))?).ok()
    }
}

/// Whether the abbreviation table at `offset` has an attribute in a form
/// that names an entry by its offset in the whole .debug_info
/// (DW_FORM_ref_addr) or a form chosen entry by entry (DW_FORM_indirect);
/// None when the table cannot be read. Scanned here because gimli's
/// `Abbreviations` answers by code and cannot be iterated.
fn refers_to_other_units(
    dwarf: &gimli::Dwarf<DwarfReader>,
    offset: gimli::DebugAbbrevOffset<usize>,
) -> Option<bool> {
    use gimli::{Reader, Section};
    let mut input = dwarf.debug_abbrev.reader().clone();
    input.skip(offset.0).ok()?;
    // Every abbreviation and attribute takes at least one byte: the loops
    // end with the section.
    loop {
        if input.read_uleb128().ok()? == 0 {
            return Some(false);
        }
        input.read_uleb128().ok()?; // tag
        input.read_u8().ok()?; // has children
        loop {
            let name = input.read_uleb128().ok()?;
            let form = gimli::DwForm(u16::try_from(input.read_uleb128().ok()?).ok()?);
            if name == 0 && form.0 == 0 {
                break;
            }
            match form {
                gimli::DW_FORM_ref_addr | gimli::DW_FORM_indirect => return Some(true),
                gimli::DW_FORM_implicit_const => {
                    input.read_sleb128().ok()?;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_behind_five_overlapping_ones_is_found() {
        // A PE image mapped over its whole size, and five small mappings
        // (say, sections a reader listed as modules of their own) inside it.
        let mut extents = vec![(0x40_0000u64, 0x10_0000u64)];
        extents.extend((0..5).map(|i| (0x40_1000 + i * 0x1000, 0x100)));
        let modules = LoadedModules::with_extents(extents.into_iter(), None);
        // Past all five: the wide module (a 4-entry look-back missed it).
        assert_eq!(modules.module_index(0x48_0000), Some(0));
        assert_eq!(modules.module_index(0x40_3010), Some(3));
        assert_eq!(modules.module_index(0x40_3100), Some(0));
        assert_eq!(modules.module_index(0x50_0000), None);
        assert_eq!(modules.module_index(0x3f_ffff), None);
    }

    /// An attribute specification: name, form and an implicit constant.
    type Spec = (u8, u8, Option<u8>);

    /// An abbreviation table: (code, tag, children, specifications).
    fn abbrev_table(entries: &[(u8, u8, u8, &[Spec])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (code, tag, children, attrs) in entries {
            out.extend([*code, *tag, *children]);
            for (name, form, value) in *attrs {
                out.extend([*name, *form]);
                out.extend(value.iter());
            }
            out.extend([0, 0]);
        }
        out.push(0);
        out
    }

    fn abbrev_dwarf(bytes: Vec<u8>) -> gimli::Dwarf<DwarfReader> {
        gimli::Dwarf::load(|id| -> Result<DwarfReader, gimli::Error> {
            let data = match id {
                gimli::SectionId::DebugAbbrev => {
                    SectionData::Owned(std::sync::Arc::new(bytes.clone()))
                }
                _ => SectionData::empty(),
            };
            Ok(gimli::EndianReader::new(data, gimli::RunTimeEndian::Little))
        })
        .unwrap()
    }

    #[test]
    fn a_unit_naming_entries_of_other_units_is_not_read_alone() {
        // DW_TAG_compile_unit (0x11) with a DW_AT_name string (0x03, 0x08)
        // and DW_AT_language as an implicit constant (0x13, 0x21, 12) whose
        // value must be skipped; then, in a second table, a
        // DW_TAG_subprogram (0x2e) whose DW_AT_abstract_origin (0x31) is a
        // DW_FORM_ref_addr (0x10).
        let local = abbrev_table(&[(1, 0x11, 1, &[(0x03, 0x08, None), (0x13, 0x21, Some(12))])]);
        let mut bytes = local.clone();
        let second = bytes.len();
        bytes.extend(abbrev_table(&[
            (1, 0x11, 1, &[(0x03, 0x08, None)]),
            (2, 0x2e, 0, &[(0x31, 0x10, None)]),
        ]));
        let dwarf = abbrev_dwarf(bytes);
        let at = |offset| refers_to_other_units(&dwarf, gimli::DebugAbbrevOffset(offset));
        assert_eq!(at(0), Some(false));
        assert_eq!(at(second), Some(true));
        // A table cut short, or an offset past the section, is unreadable.
        let cut = abbrev_dwarf(local[..local.len() - 2].to_vec());
        assert_eq!(
            refers_to_other_units(&cut, gimli::DebugAbbrevOffset(0)),
            None
        );
        assert_eq!(at(1 << 20), None);
    }

    #[test]
    fn a_vmlinuxs_units_answer_as_its_whole_dwarf_does() {
        let cache = std::env::var_os("CKDUMP_VMLINUX_CACHE").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kernel-debug"),
            PathBuf::from,
        );
        let Some(path) = crate::test_support::require_path(
            &cache.join("usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64"),
        ) else {
            return;
        };
        let elf = super::super::locate::open_elf(&path).unwrap();
        let units = UnitContexts::new(&elf).unwrap();
        let whole = load_dwarf(&elf).unwrap();
        let text: Vec<_> = elf
            .symbols()
            .iter()
            .filter(|s| s.address >= 0xffff_ffff_8000_0000)
            .collect();
        // Every 4th function in the kernel's text (not the absolute
        // symbols), at its entry and inside it, lies in the same unit as the whole
        // DWARF finds for it, or like it in none (as static-call
        // trampolines).
        let unit_name = |context: Option<&DwarfContext>, rel| {
            let unit = context?.find_dwarf_and_unit(rel).skip_all_loads()?;
            let name = unit.name.as_ref()?;
            Some(gimli::Reader::to_string_lossy(name).ok()?.into_owned())
        };
        let mut none = 0;
        for symbol in text.iter().step_by(4) {
            for rel in [symbol.address, symbol.address + symbol.size / 2] {
                let found = unit_name(units.context_for(rel), rel);
                assert_eq!(found, unit_name(Some(&whole), rel), "at {rel:#x}");
                none += found.is_none() as usize;
            }
        }
        assert!(
            none > 0 && none < text.len() / 10,
            "{none} of {}",
            text.len()
        );
        // Every 400th answered by its unit's context as by the whole one.
        for symbol in text.iter().step_by(400) {
            for rel in [symbol.address, symbol.address + symbol.size / 2] {
                let frames = |context: Option<&DwarfContext>| {
                    let hit = super::super::lookup::dwarf_frames(context, rel);
                    super::super::lookup::complete_frames(hit, context, rel, Some(symbol), true)
                };
                assert_eq!(
                    frames(units.context_for(rel)),
                    frames(Some(&whole)),
                    "at {rel:#x}"
                );
            }
        }
        // Each by its unit's: no unit's own ranges disagreed with
        // .debug_aranges.
        assert!(units.whole.get().is_none());
    }
}
