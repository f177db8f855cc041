//! Which source names a kernel dump's frames, best first:
//!
//! 1. the dump's vmlinux with DWARF (functions, source lines, inline
//!    frames), found by the symbolizer for the image's `vmlinux` module and
//!    matched by VMCOREINFO's BUILD-ID;
//! 2. a System.map that agrees with the dump (names and offsets);
//! 3. the kallsyms tables in the dump's own memory (names and offsets).
//!
//! The list of symbols the walker and the per-CPU reads need is kallsyms,
//! else the System.map, else the vmlinux's own symbol table; ORC tables
//! the dump's memory lacks come from the vmlinux.
//!
//! A vmlinux or System.map of another build is refused with a finding and
//! never used; naming then falls back to the next source.

use std::path::PathBuf;

use serde::Serialize;

use super::kallsyms::KernelSymbols;
use super::system_map::{self, SystemMap};
use super::vmlinux::{VmlinuxImage, VmlinuxOrc};
use crate::finding::{self, Finding};
use crate::model::{ModuleSource, ProcessView, Vmcoreinfo};
use crate::symbols::{ModuleSymbols, SymbolConfig, SymbolFrame, SymbolKind, Symbolizer};

/// What named a kernel frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelSymbolSource {
    /// The dump's vmlinux (DWARF, or its symbol table when it has none).
    Vmlinux,
    /// A System.map checked against the dump.
    SystemMap,
    /// The kallsyms tables in the dump.
    Kallsyms,
    /// A loaded module's `.ko` (DWARF), matched by its build-id.
    ModuleKo,
}

impl KernelSymbolSource {
    pub fn name(self) -> &'static str {
        match self {
            KernelSymbolSource::Vmlinux => "vmlinux",
            KernelSymbolSource::SystemMap => "System.map",
            KernelSymbolSource::Kallsyms => "kallsyms",
            KernelSymbolSource::ModuleKo => "the module's .ko",
        }
    }
}

/// The vmlinux the symbolizer matched to the dump.
struct Vmlinux<'s> {
    symbolizer: &'s Symbolizer<'s>,
    status: ModuleSymbols,
    build_id: Option<String>,
    /// Its ORC tables and whole symbol table, read from the file.
    image: Option<VmlinuxImage>,
}

/// The kernel's symbol sources for one dump, chosen once.
pub struct KernelSymbolSources<'s> {
    vmlinux: Option<Vmlinux<'s>>,
    system_map: Option<SystemMap>,
    kallsyms: Option<KernelSymbols>,
    /// Symbol files refused for being another build, each once.
    pub findings: Vec<Finding>,
}

impl<'s> KernelSymbolSources<'s> {
    /// Reads kallsyms from the dump, asks `symbolizer` (over `process`, a
    /// kernel dump's view with its `vmlinux` module) for the vmlinux, and
    /// without one looks for a System.map where `config` says.
    pub fn new(
        process: &ProcessView,
        symbolizer: &'s Symbolizer<'s>,
        config: &SymbolConfig,
        info: Option<&Vmcoreinfo>,
    ) -> Self {
        let kallsyms = info.and_then(|v| KernelSymbols::from_memory(&*process.memory, v).ok());
        let mut findings = Vec::new();
        let vmlinux = process
            .modules
            .iter()
            .position(|m| m.sources.contains(&ModuleSource::KernelImage))
            .and_then(|index| {
                let status = symbolizer.module_symbols(index);
                findings.extend(status.refused.iter().map(|r| {
                    Finding::new(
                        &finding::VMLINUX_BUILD_ID,
                        format!("vmlinux {} refused: {}", r.path.display(), r.reason),
                    )
                    .about_path(r.path.display().to_string())
                }));
                (status.kind != SymbolKind::None).then(|| Vmlinux {
                    symbolizer,
                    status,
                    build_id: process.modules[index].build_id.clone(),
                    image: symbolizer
                        .module_binary(index)
                        .map(|(_, bytes, bias)| VmlinuxImage::new(bytes, bias)),
                })
            });
        let system_map = match (&vmlinux, info) {
            (None, Some(info)) => find_system_map(config, info, kallsyms.as_ref(), &mut findings),
            _ => None,
        };
        KernelSymbolSources {
            vmlinux,
            system_map,
            kallsyms,
            findings,
        }
    }

    /// The frames naming `pc` (a return address when not `pc_is_exact`:
    /// the call before it is looked up, the offset is the return
    /// address's), innermost inlined function first, and their source.
    pub fn frames(
        &self,
        pc: u64,
        pc_is_exact: bool,
    ) -> (Vec<SymbolFrame>, Option<KernelSymbolSource>) {
        let adjust = u64::from(!pc_is_exact);
        let at = pc.saturating_sub(adjust);
        if let Some(v) = &self.vmlinux {
            let mut found = v.symbolizer.lookup(at);
            if found.iter().any(|f| f.function.is_some()) {
                for f in &mut found {
                    f.function_offset = f.function_offset.map(|o| o + adjust);
                }
                return (found, Some(KernelSymbolSource::Vmlinux));
            }
        }
        let tables = [
            (
                self.system_map.as_ref().map(|m| &m.symbols),
                KernelSymbolSource::SystemMap,
            ),
            (self.kallsyms.as_ref(), KernelSymbolSource::Kallsyms),
        ];
        for (table, source) in tables {
            if let Some((name, offset)) = table.and_then(|t| t.lookup(at)) {
                let frame = SymbolFrame {
                    function: Some(name.to_string()),
                    function_offset: Some(offset + adjust),
                    ..SymbolFrame::default()
                };
                return (vec![frame], Some(source));
            }
        }
        (Vec::new(), None)
    }

    /// `function+0xoffset` (or the bare function in a split-off part) of
    /// the function holding `pc`.
    pub fn pc_symbol(&self, pc: u64) -> Option<String> {
        let (frames, _) = self.frames(pc, true);
        let outer = frames.last()?;
        let name = outer.function.as_deref()?;
        Some(match outer.function_offset {
            Some(offset) => format!("{name}+{offset:#x}"),
            None => name.to_string(),
        })
    }

    /// The kernel's symbol table as a list (kallsyms, else the checked
    /// System.map): what is code, where per-CPU variables and ORC tables
    /// are.
    pub fn table(&self) -> Option<&KernelSymbols> {
        self.kallsyms
            .as_ref()
            .or(self.system_map.as_ref().map(|m| &m.symbols))
            .or_else(|| self.vmlinux_image()?.symbols())
    }

    /// The matched vmlinux's ORC tables, for what the dump's cannot answer.
    pub fn vmlinux_orc(&self) -> Option<&VmlinuxOrc> {
        self.vmlinux_image()?.orc()
    }

    fn vmlinux_image(&self) -> Option<&VmlinuxImage> {
        self.vmlinux.as_ref()?.image.as_ref()
    }

    /// The source that names frames first, the file it came from, and in
    /// words how it was matched to the dump.
    pub fn describe(&self) -> (Option<KernelSymbolSource>, Option<PathBuf>, String) {
        if let Some(v) = &self.vmlinux {
            let what = match v.status.kind {
                SymbolKind::Dwarf => "DWARF",
                _ => "symbol table only (no DWARF)",
            };
            let matched = match &v.build_id {
                Some(id) => format!("matched build-id {id}"),
                None => "matched by _stext (the dump records no build-id)".to_string(),
            };
            return (
                Some(KernelSymbolSource::Vmlinux),
                v.status.binary.clone(),
                format!("vmlinux: {what}, {matched}"),
            );
        }
        if let Some(m) = &self.system_map {
            return (
                Some(KernelSymbolSource::SystemMap),
                Some(m.path.clone()),
                format!(
                    "System.map: names only, {} symbols agree with the dump",
                    m.agreeing
                ),
            );
        }
        if self.kallsyms.is_some() {
            return (
                Some(KernelSymbolSource::Kallsyms),
                None,
                "kallsyms in the dump: names only (pass the vmlinux for lines and inline frames)"
                    .to_string(),
            );
        }
        (
            None,
            None,
            "none: the dump's kallsyms cannot be read and no vmlinux or System.map was found"
                .to_string(),
        )
    }
}

/// The first System.map among the candidates `config` gives that agrees
/// with the dump; each one that does not is refused with a finding.
pub fn find_system_map(
    config: &SymbolConfig,
    info: &Vmcoreinfo,
    kallsyms: Option<&KernelSymbols>,
    findings: &mut Vec<Finding>,
) -> Option<SystemMap> {
    let offset = info.kernel_offset().unwrap_or(0);
    let mut seen = std::collections::HashSet::new();
    for path in system_map::candidates(config, info.osrelease()) {
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(identity) {
            continue;
        }
        let Some(parsed) = system_map::open(&path, offset) else {
            continue;
        };
        let checked = parsed.and_then(|symbols| {
            let agreeing = system_map::check(&symbols, info, kallsyms)?;
            Ok((symbols, agreeing))
        });
        match checked {
            Ok((symbols, agreeing)) => {
                return Some(SystemMap {
                    path,
                    symbols,
                    agreeing,
                });
            }
            Err(why) => findings.push(
                Finding::new(
                    &finding::SYSTEM_MAP_MATCHES,
                    format!("System.map {} refused: {why}", path.display()),
                )
                .about_path(path.display().to_string()),
            ),
        }
    }
    None
}

/// `verify --symbols` on a kernel dump: the vmlinux, System.map and
/// modules' `.ko` files the symbol search offers, each refused one a
/// finding.
pub fn check_symbol_files(
    process: &ProcessView,
    info: Option<&Vmcoreinfo>,
    config: &SymbolConfig,
) -> Vec<Finding> {
    let symbolizer = Symbolizer::new(process, config);
    let sources = KernelSymbolSources::new(process, &symbolizer, config, info);
    let mut findings = sources.findings.clone();
    // A matched vmlinux stops the search before System.map: check those
    // offered too.
    if sources.vmlinux.is_some()
        && let Some(info) = info
    {
        find_system_map(config, info, sources.kallsyms.as_ref(), &mut findings);
    }
    // And each loaded module's .ko offered.
    if let Some(symbols) = sources.table() {
        let memory = &*process.memory;
        let modules = super::btf::from_memory(memory, symbols)
            .and_then(|btf| super::modules::ModuleLayout::from_btf(&btf))
            .map(|layout| super::modules::read_modules(memory, symbols, &layout).modules)
            .unwrap_or_default();
        let release = info.and_then(|v| v.osrelease());
        findings.extend(
            super::module_debug::ModuleDebugFiles::find(&modules, config, release).findings,
        );
    }
    findings
}
