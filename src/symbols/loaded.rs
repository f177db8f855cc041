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

/// A module's located files, parsed.
pub(super) struct LoadedModule {
    pub(super) binary: Option<(PathBuf, ElfFile)>,
    pub(super) debug: Option<(PathBuf, ElfFile)>,
    /// Built on the first lookup in this module.
    pub(super) dwarf: OnceCell<Option<addr2line::Context<DwarfReader>>>,
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

    pub(super) fn dwarf(&self) -> Option<&addr2line::Context<DwarfReader>> {
        self.dwarf
            .get_or_init(|| self.dwarf_file().and_then(load_dwarf))
            .as_ref()
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

pub(super) fn load_dwarf(file: &ElfFile) -> Option<addr2line::Context<DwarfReader>> {
    guarded(|| load_dwarf_unguarded(file)).flatten()
}

fn load_dwarf_unguarded(file: &ElfFile) -> Option<addr2line::Context<DwarfReader>> {
    // Inflating zlib-compressed debug sections dominates a cold lookup;
    // .debug_info on one core while the rest inflate on the other.
    std::thread::scope(|scope| {
        let (first, rest) = DWARF_SECTIONS.split_at(1);
        scope.spawn(move || {
            for name in rest {
                let _ = file.section(name);
            }
        });
        let _ = file.section(first[0]);
    });
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
}
