//! Finding symbol files and turning addresses into names.
//!
//! Works from the common model only (modules, regions, memory): for each
//! module it locates the binary (unwind tables, symbol tables, code bytes
//! the dump left out) and the debug file (DWARF), lazily and once, and
//! answers lookups with the inline chain DWARF describes, falling back to
//! ELF symbol tables.

pub mod breakpad;
mod code_info;
mod config;
pub mod debuginfod;
mod download;
mod elf_file;
mod finder;
mod kernel_image;
mod loaded;
pub mod locate;
mod lookup;
pub mod pdb_symbols;
pub mod pe_file;
pub mod relocatable;
pub mod symbol_path;

use std::cell::OnceCell;
use std::path::PathBuf;

use serde::Serialize;

pub use config::SymbolConfig;
pub use elf_file::hex;
use finder::SymbolFinder;
pub use loaded::SymbolCache;
use loaded::{LoadedModule, LoadedModules};
pub use lookup::demangle;

use crate::model::ProcessView;

/// What kind of symbols a module got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// DWARF debug info: functions, lines, inline frames.
    Dwarf,
    /// Only ELF .symtab / .dynsym: function names.
    SymbolTable,
    /// A Breakpad `.sym` file: functions, lines, inline frames.
    Breakpad,
    /// A PDB: procedures, lines, inline sites.
    Pdb,
    None,
}

impl SymbolKind {
    pub fn name(self) -> &'static str {
        match self {
            SymbolKind::Dwarf => "dwarf",
            SymbolKind::SymbolTable => "symtab",
            SymbolKind::Breakpad => "breakpad",
            SymbolKind::Pdb => "pdb",
            SymbolKind::None => "none",
        }
    }
}

/// Which files were found for a module, and how.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleSymbols {
    pub module: usize,
    pub binary: Option<PathBuf>,
    pub debug_file: Option<PathBuf>,
    pub kind: SymbolKind,
    /// Why a candidate was rejected (e.g. build-id mismatch), if one was.
    pub problem: Option<String>,
    /// The candidates rejected for being another build, each once.
    pub refused: Vec<RefusedFile>,
    /// With no symbols: where they were looked for and what to pass.
    pub hint: Option<String>,
}

/// A file offered for a module and turned down because it is not the
/// build the image ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedFile {
    pub path: PathBuf,
    /// Its GNU build-id, when it has one.
    pub build_id: Option<String>,
    /// The module's, as the image records it.
    pub wanted_build_id: Option<String>,
    /// Why, in words (`build-id … differs from the dump's …`).
    pub reason: String,
}

/// One symbolized frame (one line per inlined function).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SymbolFrame {
    pub function: Option<String>,
    pub function_offset: Option<u64>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// This frame was inlined into the next one.
    pub inlined: bool,
}

/// Symbol lookups for the modules of one image.
///
/// Three parts: [`SymbolFinder`] locates each module's files,
/// [`LoadedModules`] keeps them parsed once, and the lookups (names and
/// lines in `lookup`, unwinding facts in `code_info`) read them.
pub struct Symbolizer<'a> {
    process: &'a ProcessView,
    finder: SymbolFinder<'a>,
    modules: LoadedModules<'a>,
    /// Runtime range of the function holding AT_ENTRY, when known.
    entry_function: OnceCell<Option<(u64, u64)>>,
}

impl<'a> Symbolizer<'a> {
    pub fn new(process: &'a ProcessView, config: &SymbolConfig) -> Self {
        Self::build(process, config, None)
    }

    /// A symbolizer that takes modules `cache` has already located (from
    /// another process of the same tree) and leaves the ones it locates
    /// there.
    pub fn with_cache(
        process: &'a ProcessView,
        config: &SymbolConfig,
        cache: &'a SymbolCache,
    ) -> Self {
        Self::build(process, config, Some(cache))
    }

    fn build(
        process: &'a ProcessView,
        config: &SymbolConfig,
        cache: Option<&'a SymbolCache>,
    ) -> Self {
        let finder = SymbolFinder::new(process, config);
        finder.prefetch(&process.modules);
        Symbolizer {
            process,
            finder,
            modules: LoadedModules::new(process, cache),
            entry_function: OnceCell::new(),
        }
    }

    fn module_index(&self, address: u64) -> Option<usize> {
        self.modules.module_index(address)
    }

    /// Module `index`'s files, located on first use.
    fn load(&self, index: usize) -> Option<&LoadedModule> {
        self.modules
            .get(index, &self.process.modules, |m| self.finder.locate(m))
    }

    /// Per-module symbol status, in module order (locates every module).
    pub fn modules(&self) -> Vec<ModuleSymbols> {
        (0..self.process.modules.len())
            .map(|module| self.module_symbols(module))
            .collect()
    }

    /// The index of the module whose range holds `address`.
    pub fn module_at(&self, address: u64) -> Option<usize> {
        self.module_index(address)
    }

    /// Module `module`'s ELF binary as located: its path, its mapped
    /// bytes and the load bias (runtime minus link-time address), for
    /// readers of sections the symbolizer does not use (a kernel's ORC
    /// tables and full symbol table).
    pub fn module_binary(&self, module: usize) -> Option<(PathBuf, crate::memory::Bytes, u64)> {
        let loaded = self.load(module)?;
        let (path, elf) = loaded.binary.as_ref()?;
        Some((path.clone(), elf.bytes.clone(), loaded.bias))
    }

    /// Module `module`'s symbol status (locating it on first use).
    pub fn module_symbols(&self, module: usize) -> ModuleSymbols {
        let hint = || {
            self.process
                .modules
                .get(module)
                .and_then(|m| self.finder.hint(m))
        };
        match self.load(module) {
            Some(l) => ModuleSymbols {
                module,
                binary: l
                    .binary
                    .as_ref()
                    .map(|(p, _)| p.clone())
                    .or_else(|| l.pe.as_ref().map(|(p, _)| p.clone())),
                debug_file: l
                    .debug
                    .as_ref()
                    .map(|(p, _)| p.clone())
                    .or_else(|| l.pdb.as_ref().map(|(p, _)| p.clone()))
                    .or_else(|| l.breakpad.as_ref().map(|(p, _)| p.clone())),
                kind: l.kind(),
                problem: l.problem.clone(),
                refused: l.refused.clone(),
                hint: (l.kind() == SymbolKind::None).then(hint).flatten(),
            },
            None => ModuleSymbols {
                module,
                binary: None,
                debug_file: None,
                kind: SymbolKind::None,
                problem: None,
                refused: Vec::new(),
                hint: hint(),
            },
        }
    }
}
