//! Finding symbol files and turning addresses into names.
//!
//! Works from the common model only (modules, regions, memory): for each
//! module it locates the binary (unwind tables, symbol tables, code bytes
//! the dump left out) and the debug file (DWARF), lazily and once, and
//! answers lookups with the inline chain DWARF describes, falling back to
//! ELF symbol tables.

pub mod breakpad;
mod elf_file;
pub mod locate;
pub mod pdb_symbols;
pub mod pe_file;
pub mod symbol_path;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::memory::Bytes;
use crate::model::{Image, Module, ModuleSource};
use crate::unwind::parser_guard::guarded;
use crate::unwind::{CodeInfo, Section, UnwindTables};
pub use elf_file::hex;
use elf_file::{ElfFile, LoadedSection, SectionData};

/// Where to look for binaries and debug files.
#[derive(Debug, Clone, Default)]
pub struct SymbolConfig {
    /// Local directories to search, in order: `--symbols` dirs, then
    /// `CKDUMP_SYMBOL_PATH` / `_NT_SYMBOL_PATH` entries, and the caches of
    /// any symbol servers among them.
    pub dirs: Vec<PathBuf>,
    /// The full symbol path, servers included (for PDB, binary and .sym
    /// lookups by store layout).
    pub path: symbol_path::SymbolPath,
    /// Root of a copy of the crashed machine's files.
    pub sysroot: Option<PathBuf>,
    /// Also search /usr/lib/debug and the host's own files.
    pub use_host: bool,
}

/// Splits `CKDUMP_SYMBOL_PATH` on `:`, keeping `http://` / `https://` whole.
fn split_colon_path(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in value.split(':') {
        match out.last_mut() {
            // A piece starting with `//` continues a URL scheme (`http:` + `//host`),
            // and a port (`host:8000/x`) continues the URL too.
            Some(last)
                if piece.starts_with("//")
                    || (last.contains("://")
                        && piece.chars().next().is_some_and(|c| c.is_ascii_digit())) =>
            {
                last.push(':');
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

impl SymbolConfig {
    /// Explicit entries first, then `CKDUMP_SYMBOL_PATH` (colon-separated)
    /// and `_NT_SYMBOL_PATH` (semicolon-separated). Entries are directories
    /// or `srv*CACHE*URL` / `cache*DIR` forms.
    pub fn from_args(mut entries: Vec<String>, sysroot: Option<PathBuf>) -> Self {
        if let Ok(value) = std::env::var("CKDUMP_SYMBOL_PATH") {
            entries.extend(split_colon_path(&value));
        }
        if let Ok(value) = std::env::var("_NT_SYMBOL_PATH") {
            entries.push(value);
        }
        let path = symbol_path::SymbolPath::parse(&entries);
        SymbolConfig {
            dirs: path.dirs(),
            path,
            sysroot,
            use_host: true,
        }
    }

    /// A configuration searching only these local directories.
    pub fn from_dirs(dirs: Vec<PathBuf>, sysroot: Option<PathBuf>) -> Self {
        let entries: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        SymbolConfig {
            path: symbol_path::SymbolPath::parse(&entries),
            dirs,
            sysroot,
            use_host: true,
        }
    }
}

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

type DwarfReader = gimli::EndianReader<gimli::RunTimeEndian, SectionData>;

/// A module's located files, parsed.
struct LoadedModule {
    binary: Option<(PathBuf, ElfFile)>,
    debug: Option<(PathBuf, ElfFile)>,
    /// Built on the first lookup in this module.
    dwarf: OnceCell<Option<addr2line::Context<DwarfReader>>>,
    /// A Breakpad `.sym` file found by debug file + debug id.
    breakpad: Option<(PathBuf, breakpad::BreakpadSymbols)>,
    /// Module base: Breakpad and PDB addresses are relative to it.
    base: u64,
    /// The PE binary from the symbol path (Windows modules).
    pe: Option<(PathBuf, pe_file::PeFile)>,
    /// The PDB matching the module's (or its binary's) CodeView identity.
    pdb: Option<(PathBuf, pdb_symbols::PdbSymbols)>,
    /// Runtime address minus link-time address.
    bias: u64,
    problem: Option<String>,
}

impl LoadedModule {
    fn symbol_for(&self, rel: u64) -> Option<&elf_file::FunctionSymbol> {
        fn from(f: &Option<(PathBuf, ElfFile)>, rel: u64) -> Option<&elf_file::FunctionSymbol> {
            f.as_ref().and_then(|(_, e)| e.symbol_for(rel))
        }
        from(&self.debug, rel).or_else(|| from(&self.binary, rel))
    }

    /// The file DWARF comes from: the debug file, else the binary.
    fn dwarf_file(&self) -> Option<&ElfFile> {
        [&self.debug, &self.binary]
            .into_iter()
            .flatten()
            .map(|(_, e)| e)
            .find(|e| e.has_dwarf)
    }

    fn dwarf(&self) -> Option<&addr2line::Context<DwarfReader>> {
        self.dwarf
            .get_or_init(|| self.dwarf_file().and_then(load_dwarf))
            .as_ref()
    }

    fn kind(&self) -> SymbolKind {
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

/// Symbol lookups for the modules of one image.
pub struct Symbolizer<'a> {
    image: &'a Image,
    config: SymbolConfig,
    /// (base, end, module index) sorted by base.
    ranges: Vec<(u64, u64, usize)>,
    loaded: Vec<OnceCell<Rc<LoadedModule>>>,
    cache: Option<&'a SymbolCache>,
    /// Where `.gnu_debuglink` names are looked up among the symbols dirs.
    debuglink_dirs: OnceCell<Vec<PathBuf>>,
    /// Runtime range of the function holding AT_ENTRY, when known.
    entry_function: OnceCell<Option<(u64, u64)>>,
}

/// Largest in-memory ELF image (the vDSO) we read out of a dump.
const MAX_MEMORY_IMAGE: u64 = 1 << 20;

impl<'a> Symbolizer<'a> {
    pub fn new(image: &'a Image, config: &SymbolConfig) -> Self {
        Self::build(image, config, None)
    }

    /// A symbolizer that takes modules `cache` has already located (from
    /// another process of the same tree) and leaves the ones it locates
    /// there.
    pub fn with_cache(image: &'a Image, config: &SymbolConfig, cache: &'a SymbolCache) -> Self {
        Self::build(image, config, Some(cache))
    }

    fn build(image: &'a Image, config: &SymbolConfig, cache: Option<&'a SymbolCache>) -> Self {
        let mut ranges: Vec<(u64, u64, usize)> = image
            .modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.base, m.base.saturating_add(m.size), i))
            .collect();
        ranges.sort();
        Symbolizer {
            image,
            config: config.clone(),
            ranges,
            loaded: (0..image.modules.len()).map(|_| OnceCell::new()).collect(),
            debuglink_dirs: OnceCell::new(),
            entry_function: OnceCell::new(),
            cache,
        }
    }

    fn module_index(&self, address: u64) -> Option<usize> {
        let i = self.ranges.partition_point(|r| r.0 <= address);
        self.ranges[..i]
            .iter()
            .rev()
            .take(4)
            .find(|r| address < r.1)
            .map(|r| r.2)
    }

    fn load(&self, index: usize) -> Option<&LoadedModule> {
        let cell = self.loaded.get(index)?;
        let module = self.image.modules.get(index)?;
        let loaded = cell.get_or_init(|| {
            let Some(cache) = self.cache else {
                return Rc::new(self.locate(module));
            };
            let key = ModuleKey::of(module);
            if let Some(found) = cache.modules.borrow().get(&key) {
                return found.clone();
            }
            let located = Rc::new(self.locate(module));
            cache.modules.borrow_mut().insert(key, located.clone());
            located
        });
        Some(loaded)
    }

    /// The symbol-table function holding the entry point the auxiliary
    /// vector records (AT_ENTRY), as a runtime address range.
    fn entry_function_range(&self) -> Option<(u64, u64)> {
        const AT_ENTRY: u64 = 9;
        let entry = self
            .image
            .details
            .auxv
            .iter()
            .find(|a| a.key == AT_ENTRY)?
            .value;
        let loaded = self.load(self.module_index(entry)?)?;
        if let Some(symbol) = loaded.symbol_for(entry.wrapping_sub(loaded.bias)) {
            let start = symbol.address.wrapping_add(loaded.bias);
            return Some((start, start.checked_add(symbol.size.max(1))?));
        }
        let (_, sym) = loaded.breakpad.as_ref()?;
        let (start, end) = sym.function_range(entry.checked_sub(loaded.base)?)?;
        Some((
            loaded.base.checked_add(start)?,
            loaded.base.checked_add(end)?,
        ))
    }

    /// Frames for `address` (already `pc - 1` for return addresses),
    /// innermost inlined function first, the containing function last.
    pub fn lookup(&self, address: u64) -> Vec<SymbolFrame> {
        // gimli / addr2line read the module's DWARF here.
        guarded(|| self.lookup_unguarded(address)).unwrap_or_default()
    }

    fn lookup_unguarded(&self, address: u64) -> Vec<SymbolFrame> {
        let Some(loaded) = self.module_index(address).and_then(|i| self.load(i)) else {
            return Vec::new();
        };
        let rel = address.wrapping_sub(loaded.bias);
        let mut frames: Vec<SymbolFrame> = Vec::new();
        // The containing function comes from an assembler unit.
        let mut assembler = false;
        // The containing function's DIE, for its entry address.
        let mut function_die = None;
        if let Some(ctx) = loaded.dwarf()
            && let Ok(mut iter) = ctx.find_frames(rel).skip_all_loads()
        {
            // Inline depth is bounded by the DWARF, but a damaged file
            // could loop; 64 levels is far beyond real code.
            while let Ok(Some(frame)) = iter.next() {
                function_die = frame.dw_die_offset;
                assembler = frame
                    .function
                    .as_ref()
                    .is_some_and(|f| f.language == Some(gimli::DW_LANG_Mips_Assembler));
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.raw_name().ok())
                    .map(|n| demangle(&n));
                let (file, line, column) = match frame.location {
                    Some(l) => (l.file.map(str::to_string), l.line, l.column),
                    None => (None, None, None),
                };
                frames.push(SymbolFrame {
                    function,
                    function_offset: None,
                    file,
                    line,
                    column: column.filter(|c| *c > 0),
                    inlined: true,
                });
                if frames.len() >= 64 {
                    break;
                }
            }
        }
        if frames.is_empty()
            && let Some((_, pdb)) = &loaded.pdb
            && let Ok(rva) = u32::try_from(address.wrapping_sub(loaded.base))
        {
            let found = pdb.lookup(rva);
            if !found.is_empty() {
                return found;
            }
        }
        if frames.is_empty()
            && let Some((_, sym)) = &loaded.breakpad
        {
            let found = sym.lookup(address.wrapping_sub(loaded.base));
            if !found.is_empty() {
                return found;
            }
        }
        let symbol = loaded.symbol_for(rel);
        if frames.is_empty() {
            if symbol.is_none() {
                return frames;
            }
            frames.push(SymbolFrame::default());
        }
        if let Some(last) = frames.last_mut() {
            last.inlined = false;
            if let Some(sym) = symbol {
                // gas names an assembly function's DIE after its label
                // (`clone3`); the symbol table's best alias is the name the
                // author exported and eu-stack prints (`__clone3`).
                if last.function.is_none() || assembler {
                    last.function = Some(demangle(&sym.name));
                    function_die = None;
                }
                last.function_offset = rel.checked_sub(sym.address);
            }
            // A function named by DWARF is measured from its own entry: a
            // symbol there may be another part of it (`foo.cold`).
            if last.function.is_some()
                && let Some(die) = function_die
                && let Some(entry) = loaded.dwarf().and_then(|c| function_entry(c, rel, die))
                && let Some(offset) = rel.checked_sub(entry)
            {
                last.function_offset = Some(offset);
            }
            if last.file.is_none() {
                // Assembly has line rows but no function DIE.
                if let Some(Ok(Some(loc))) = loaded.dwarf().map(|c| c.find_location(rel)) {
                    last.file = loc.file.map(str::to_string);
                    last.line = loc.line;
                    last.column = loc.column.filter(|c| *c > 0);
                }
            }
        }
        frames
    }

    /// Per-module symbol status, in module order (locates every module).
    pub fn modules(&self) -> Vec<ModuleSymbols> {
        (0..self.image.modules.len())
            .map(|module| match self.load(module) {
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
                },
                None => ModuleSymbols {
                    module,
                    binary: None,
                    debug_file: None,
                    kind: SymbolKind::None,
                    problem: None,
                },
            })
            .collect()
    }

    /// Finds and parses a module's binary and debug file.
    fn locate(&self, module: &Module) -> LoadedModule {
        let mut problems: Vec<String> = Vec::new();
        let binary = if module.sources.contains(&ModuleSource::Vdso) {
            self.memory_image(module)
                .map(|e| (PathBuf::from("[vdso in the dump's memory]"), e))
        } else {
            self.find_binary(module, &mut problems)
        };
        let bias = module.load_bias.unwrap_or_else(|| {
            let first = binary
                .as_ref()
                .and_then(|(_, e)| e.first_load_page())
                .unwrap_or(0);
            module.base.wrapping_sub(first)
        });
        // A binary that carries DWARF needs no separate debug file.
        let debug = match &binary {
            Some((_, e)) if e.has_dwarf => None,
            _ => self.find_debug_file(module, binary.as_ref(), &mut problems),
        };
        let breakpad = self.find_breakpad(module, &mut problems);
        let pe = self.find_pe(module, &mut problems);
        let pdb = self.find_pdb(module, pe.as_ref().map(|(_, p)| p), &mut problems);
        LoadedModule {
            pe,
            pdb,
            binary,
            debug,
            dwarf: OnceCell::new(),
            breakpad,
            base: module.base,
            bias,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }

    /// `NAME/TIMESTAMPSIZE/NAME` or flat `NAME` in the symbol path, accepted
    /// when its timestamp and size are the module's.
    fn find_pe(
        &self,
        module: &Module,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, pe_file::PeFile)> {
        let code_id = module.pe.as_ref()?.code_id.clone()?;
        let name = module.name.as_str();
        if module.build_id.is_some() || name.is_empty() || name.contains(['/', '\\']) {
            return None;
        }
        let accept =
            |p: &Path| open_pe(p).is_some_and(|pe| pe.code_id().eq_ignore_ascii_case(&code_id));
        for rel in [format!("{name}/{code_id}/{name}"), name.to_string()] {
            if let Some(path) = self.config.path.find(&rel, &accept, problems) {
                let pe = open_pe(&path)?;
                if let Some(problem) = &pe.problem {
                    problems.push(format!("{}: {problem}", path.display()));
                }
                return Some((path, pe));
            }
        }
        None
    }

    /// `NAME.pdb/DEBUGID/NAME.pdb` or flat, by the module's CodeView record,
    /// or — when the dump has none (wine) — by the binary's.
    fn find_pdb(
        &self,
        module: &Module,
        binary: Option<&pe_file::PeFile>,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, pdb_symbols::PdbSymbols)> {
        let from_dump = module
            .pe
            .as_ref()
            .and_then(|p| Some((p.debug_file.clone()?, p.debug_id.clone()?)))
            .filter(|(f, _)| f.to_ascii_lowercase().ends_with(".pdb"));
        let from_binary = binary
            .and_then(|b| b.pdb.as_ref())
            .map(|p| (p.name.clone(), p.debug_id.clone()));
        let (name, id) = from_dump.or(from_binary)?;
        if name.contains(['/', '\\']) {
            return None;
        }
        let accept = |p: &Path| pdb_symbols::PdbSymbols::open(p).is_ok_and(|pdb| pdb.matches(&id));
        for rel in [format!("{name}/{id}/{name}"), name.clone()] {
            if let Some(path) = self.config.path.find(&rel, &accept, problems) {
                match pdb_symbols::PdbSymbols::open(&path) {
                    Ok(pdb) => return Some((path, pdb)),
                    Err(e) => problems.push(format!("{}: {e}", path.display())),
                }
            }
        }
        None
    }

    /// `NAME/DEBUGID/NAME.sym` in the symbol path (servers included),
    /// accepted only when its MODULE line carries the module's debug id.
    fn find_breakpad(
        &self,
        module: &Module,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, breakpad::BreakpadSymbols)> {
        let pe = module.pe.as_ref()?;
        let (file, id) = (pe.debug_file.as_deref()?, pe.debug_id.as_deref()?);
        if file.contains(['/', '\\']) || id.is_empty() {
            return None;
        }
        let rel = breakpad::sym_relative_path(file, id);
        let accept = |p: &Path| {
            first_line(p).is_some_and(|l| {
                l.split_whitespace()
                    .nth(3)
                    .is_some_and(|x| x.eq_ignore_ascii_case(id))
            })
        };
        let path = self.config.path.find(&rel, &accept, problems)?;
        let file = std::fs::File::open(&path).ok()?;
        let bytes = Bytes::map_file(&file).ok()?;
        match breakpad::BreakpadSymbols::parse(bytes) {
            Ok(sym) => Some((path, sym)),
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                None
            }
        }
    }

    fn memory_image(&self, module: &Module) -> Option<ElfFile> {
        let len = module.size.min(MAX_MEMORY_IMAGE) as usize;
        let mut buf = vec![0u8; len];
        let n = self.image.memory.read_available(module.base, &mut buf);
        buf.truncate(n);
        ElfFile::parse(Bytes::from_vec(buf))
    }

    fn find_binary(
        &self,
        module: &Module,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, ElfFile)> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        let absolute = module.path.starts_with('/');
        if let (Some(root), true) = (&self.config.sysroot, absolute) {
            candidates.push(locate::under_root(root, &module.path));
        }
        for dir in &self.config.dirs {
            if let Some(rel) = module
                .build_id
                .as_deref()
                .and_then(|b| locate::build_id_path(b, ""))
            {
                candidates.push(dir.join(rel));
            }
            if !module.name.is_empty() && !module.name.contains('/') {
                candidates.push(dir.join(&module.name));
            }
        }
        if self.config.use_host && absolute {
            candidates.push(PathBuf::from(&module.path));
        }
        self.first_matching(module, candidates, problems)
    }

    fn find_debug_file(
        &self,
        module: &Module,
        binary: Option<&(PathBuf, ElfFile)>,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, ElfFile)> {
        let build_id = module
            .build_id
            .clone()
            .or_else(|| binary.and_then(|(_, e)| e.build_id.clone()));
        if let Some(rel) = build_id
            .as_deref()
            .and_then(|b| locate::build_id_path(b, ".debug"))
        {
            let mut candidates: Vec<PathBuf> =
                self.config.dirs.iter().map(|d| d.join(&rel)).collect();
            if let Some(root) = &self.config.sysroot {
                candidates.push(root.join("usr/lib/debug").join(&rel));
            }
            if self.config.use_host {
                candidates.push(Path::new("/usr/lib/debug").join(&rel));
            }
            if let Some(found) = self.first_matching(module, candidates, problems) {
                return Some(found);
            }
        }
        // .gnu_debuglink: a file name and the CRC-32 of the debug file.
        let (bin_path, bin) = binary?;
        let (name, crc) = bin.debuglink.as_ref()?;
        if name.contains('/') || name.is_empty() {
            return None;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(parent) = bin_path.parent() {
            dirs.push(parent.to_path_buf());
            dirs.push(parent.join(".debug"));
        }
        // gdb's debug-file-directory: /usr/lib/debug/<the module's dir>,
        // on the sysroot (the crashed machine's copy) and on this host.
        if let Some(parent) = Path::new(&module.path)
            .parent()
            .filter(|_| module.path.starts_with('/'))
        {
            let parent = parent.to_string_lossy();
            if let Some(root) = &self.config.sysroot {
                dirs.push(locate::under_root(&root.join("usr/lib/debug"), &parent));
            }
            if self.config.use_host {
                dirs.push(locate::under_root(Path::new("/usr/lib/debug"), &parent));
            }
        }
        dirs.extend(self.debuglink_dirs().iter().cloned());
        for dir in dirs {
            let path = dir.join(name);
            if path == *bin_path {
                continue;
            }
            let Some(elf) = locate::open_elf(&path) else {
                continue;
            };
            if let (Some(want), Some(have)) = (&bin.build_id, &elf.build_id)
                && want != have
            {
                problems.push(format!(
                    "{}: build-id {have} differs from the binary's {want}",
                    path.display()
                ));
                continue;
            }
            if locate::crc32(&elf.bytes) == *crc {
                return Some((path, elf));
            }
            problems.push(format!(
                "{}: CRC differs from the binary's .gnu_debuglink",
                path.display()
            ));
        }
        None
    }

    /// Each symbols dir and its subdirectories (`symbols/debuglink/`),
    /// listed once per symbolizer rather than once per module.
    fn debuglink_dirs(&self) -> &[PathBuf] {
        self.debuglink_dirs.get_or_init(|| {
            let mut dirs = Vec::new();
            for dir in &self.config.dirs {
                dirs.push(dir.clone());
                if let Ok(entries) = std::fs::read_dir(dir) {
                    let mut subs: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_dir() && !p.ends_with(".build-id"))
                        .take(256)
                        .collect();
                    subs.sort();
                    dirs.extend(subs);
                }
            }
            dirs
        })
    }

    /// The first candidate that is ELF and carries the module's build-id.
    fn first_matching(
        &self,
        module: &Module,
        candidates: Vec<PathBuf>,
        problems: &mut Vec<String>,
    ) -> Option<(PathBuf, ElfFile)> {
        for path in candidates {
            let Some(elf) = locate::open_elf(&path) else {
                continue;
            };
            match (&module.build_id, &elf.build_id) {
                (Some(want), Some(have)) if want != have => {
                    problems.push(format!(
                        "{}: build-id {} differs from the dump's {}",
                        path.display(),
                        have,
                        want
                    ));
                }
                _ => return Some((path, elf)),
            }
        }
        None
    }

    fn section<'s>(file: Option<&'s (PathBuf, ElfFile)>, name: &str) -> Option<Section<'s>> {
        let s: &LoadedSection = file?.1.section(name)?;
        Some(Section {
            address: s.address,
            data: &s.data,
        })
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

/// The first line of a text file, read through a bounded window: a `.sym`
/// file runs to hundreds of megabytes and only its MODULE line is needed.
fn first_line(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.split(|c| *c == b'\n').next()?;
    String::from_utf8(line.to_vec()).ok()
}

fn open_pe(path: &Path) -> Option<pe_file::PeFile> {
    let file = std::fs::File::open(path).ok()?;
    pe_file::PeFile::parse(Bytes::map_file(&file).ok()?)
}

fn load_dwarf(file: &ElfFile) -> Option<addr2line::Context<DwarfReader>> {
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

/// Entry address of the function DIE at `die` in the unit covering `rel`:
/// DW_AT_entry_pc, else DW_AT_low_pc, else the first of its DW_AT_ranges
/// (compilers list the entry part first).
fn function_entry(
    ctx: &addr2line::Context<DwarfReader>,
    rel: u64,
    die: gimli::UnitOffset<usize>,
) -> Option<u64> {
    let unit = ctx.find_dwarf_and_unit(rel).skip_all_loads()?;
    let entry = unit.entry(die).ok()?;
    for attr in [gimli::DW_AT_entry_pc, gimli::DW_AT_low_pc] {
        if let Some(value) = entry.attr_value(attr)
            && let Ok(Some(address)) = unit.attr_address(value)
        {
            return Some(address);
        }
    }
    let mut ranges = unit.die_ranges(&entry).ok()?;
    ranges.next().ok().flatten().map(|r| r.begin)
}

/// Demangles Rust and C++ (Itanium) names; others are returned as they are.
pub fn demangle(name: &str) -> String {
    guarded(|| demangle_unguarded(name)).unwrap_or_else(|| name.to_string())
}

fn demangle_unguarded(name: &str) -> String {
    if (name.starts_with("_R")
        || (name.starts_with("_ZN") && name.ends_with('E') && name.contains("17h")))
        && let Ok(d) = rustc_demangle::try_demangle(name)
    {
        return format!("{d:#}");
    }
    if name.starts_with("_Z")
        && let Ok(sym) = cpp_demangle::Symbol::new(name)
        && let Ok(d) = sym.demangle()
    {
        return d;
    }
    name.to_string()
}

impl CodeInfo for Symbolizer<'_> {
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>> {
        let loaded = self.load(self.module_index(pc)?)?;
        let binary = loaded.binary.as_ref();
        let debug_frame = Self::section(loaded.debug.as_ref(), ".debug_frame")
            .or_else(|| Self::section(binary, ".debug_frame"));
        let tables = UnwindTables {
            load_bias: loaded.bias,
            eh_frame: Self::section(binary, ".eh_frame"),
            eh_frame_hdr: Self::section(binary, ".eh_frame_hdr"),
            debug_frame,
            text: Self::section(binary, ".text"),
            got: Self::section(binary, ".got"),
        };
        (tables.eh_frame.is_some() || tables.debug_frame.is_some()).then_some(tables)
    }

    fn is_code(&self, pc: u64) -> bool {
        if let Some(loaded) = self.module_index(pc).and_then(|i| self.load(i)) {
            if let Some((_, bin)) = &loaded.binary {
                return bin.is_executable_vaddr(pc.wrapping_sub(loaded.bias));
            }
            // No binary to ask: inside a module counts as code unless the
            // image records the region's real permissions (a MemoryInfoList
            // or a mapping table), which then decide.
            return match self.image.region_at(pc) {
                Some(r) if r.windows.is_some() || r.file.is_some() => r.protection.execute,
                _ => true,
            };
        }
        self.image
            .region_at(pc)
            .is_some_and(|r| r.protection.execute)
    }

    fn runtime_function(&self, pc: u64) -> Option<crate::unwind::RuntimeFunction> {
        let loaded = self.load(self.module_index(pc)?)?;
        let (_, pe) = loaded.pe.as_ref()?;
        let rva = u32::try_from(pc.checked_sub(loaded.base)?).ok()?;
        let f = pe.runtime_function(rva)?;
        Some(crate::unwind::RuntimeFunction {
            image_base: loaded.base,
            begin: f.begin,
            end: f.end,
            unwind_info: f.unwind_info,
        })
    }

    fn breakpad_cfi(&self, pc: u64) -> Option<Vec<(String, String)>> {
        let loaded = self.load(self.module_index(pc)?)?;
        let (_, sym) = loaded.breakpad.as_ref()?;
        sym.cfi_rules(pc.checked_sub(loaded.base)?)
    }

    fn win_frame_info(&self, pc: u64) -> Option<crate::unwind::WinFrameInfo> {
        let loaded = self.load(self.module_index(pc)?)?;
        let rva = pc.checked_sub(loaded.base)?;
        if let Some((_, pdb)) = &loaded.pdb
            && let Some(r) = pdb.frame_data(u32::try_from(rva).ok()?)
        {
            return Some(crate::unwind::WinFrameInfo {
                parameter_size: r.params_size,
                saved_register_size: u32::from(r.saved_regs_size),
                local_size: r.locals_size,
                // The PDB's strings end in a space; .sym lines do not.
                program: r.program.map(|p| p.trim_end().to_string()),
                allocates_base_pointer: r.uses_base_pointer,
            });
        }
        let (_, sym) = loaded.breakpad.as_ref()?;
        let w = sym.win_frame(rva)?;
        Some(crate::unwind::WinFrameInfo {
            parameter_size: w.parameter_size,
            saved_register_size: w.saved_register_size,
            local_size: w.local_size,
            program: w.program,
            allocates_base_pointer: w.allocates_base_pointer,
        })
    }

    fn in_function(&self, pc: u64) -> Option<bool> {
        let loaded = self.load(self.module_index(pc)?)?;
        if loaded.kind() == SymbolKind::None {
            return None;
        }
        Some(self.lookup(pc).iter().any(|f| f.function.is_some()))
    }

    fn is_entry_function(&self, pc: u64) -> bool {
        self.entry_function
            .get_or_init(|| self.entry_function_range())
            .is_some_and(|(start, end)| (start..end).contains(&pc))
    }

    fn has_runtime_functions(&self, pc: u64) -> bool {
        self.module_index(pc)
            .and_then(|i| self.load(i))
            .and_then(|l| l.pe.as_ref())
            .is_some_and(|(_, pe)| !pe.pdata.is_empty())
    }

    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        let n = self.image.memory.read_available(address, buf);
        if n == buf.len() {
            return n;
        }
        let from_file = self
            .module_index(address)
            .and_then(|i| self.load(i))
            .and_then(|l| {
                let elf = l
                    .binary
                    .as_ref()
                    .map(|(_, b)| b.read_vaddr(address.wrapping_sub(l.bias), buf));
                let pe = || {
                    let (_, pe) = l.pe.as_ref()?;
                    let rva = u32::try_from(address.checked_sub(l.base)?).ok()?;
                    Some(pe.read_rva(rva, buf))
                };
                elf.or_else(pe)
            })
            .unwrap_or(0);
        n.max(from_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_paths_keep_urls_whole() {
        assert_eq!(
            split_colon_path("/a:srv*/c*https://h.example:8443/s:/b"),
            ["/a", "srv*/c*https://h.example:8443/s", "/b"]
        );
    }

    #[test]
    fn demangles_cpp_and_rust() {
        assert_eq!(
            demangle("_ZN11ckdump_test6Widget7explodeEi"),
            "ckdump_test::Widget::explode(int)"
        );
        assert_eq!(
            demangle("_ZN3std2rt10lang_start17h0123456789abcdefE"),
            "std::rt::lang_start"
        );
        assert_eq!(demangle("__GI___clock_nanosleep"), "__GI___clock_nanosleep");
    }
}
