//! Finding symbol files and turning addresses into names.
//!
//! Placeholder API; the providers (DWARF, ELF symtab) land behind it.

use std::path::PathBuf;

use serde::Serialize;

use crate::model::Image;
use crate::unwind::{CodeInfo, UnwindTables};

/// Where to look for binaries and debug files.
#[derive(Debug, Clone, Default)]
pub struct SymbolConfig {
    /// `--symbols` dirs and `CKDUMP_SYMBOL_PATH` entries, in order.
    pub dirs: Vec<PathBuf>,
    /// Root of a copy of the crashed machine's files.
    pub sysroot: Option<PathBuf>,
    /// Also search /usr/lib/debug and the host's own files.
    pub use_host: bool,
}

/// What kind of symbols a module got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// DWARF debug info: functions, lines, inline frames.
    Dwarf,
    /// Only ELF .symtab / .dynsym: function names.
    SymbolTable,
    None,
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
pub struct Symbolizer<'a> {
    image: &'a Image,
}

impl<'a> Symbolizer<'a> {
    pub fn new(image: &'a Image, _config: &SymbolConfig) -> Self {
        Symbolizer { image }
    }

    /// Frames for `address` (already `pc - 1` for return addresses),
    /// innermost inlined function first, the containing function last.
    pub fn lookup(&self, _address: u64) -> Vec<SymbolFrame> {
        Vec::new()
    }

    /// Per-module symbol status, in module order.
    pub fn modules(&self) -> Vec<ModuleSymbols> {
        (0..self.image.modules.len())
            .map(|module| ModuleSymbols {
                module,
                binary: None,
                debug_file: None,
                kind: SymbolKind::None,
                problem: None,
            })
            .collect()
    }
}

impl CodeInfo for Symbolizer<'_> {
    fn unwind_tables(&self, _pc: u64) -> Option<UnwindTables<'_>> {
        None
    }
    fn is_code(&self, pc: u64) -> bool {
        self.image
            .region_at(pc)
            .is_some_and(|r| r.protection.execute)
    }
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        self.image.memory.read_available(address, buf)
    }
}
