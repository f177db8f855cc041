//! Locating a module's symbol files: the binary, its debug file, a PE and
//! its PDB, a Breakpad `.sym`, by build-id, store layout, debuglink or
//! name, each candidate checked against the module's identity.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use super::debuginfod::Artifact;
use super::elf_file::ElfFile;
use super::loaded::LoadedModule;
use super::{
    RefusedFile, SymbolConfig, breakpad, kernel_image, locate, pdb_symbols, pe_file, symbol_path,
};
use crate::memory::Bytes;
use crate::model::{Module, ModuleSource, ProcessView};

/// Largest in-memory ELF image (the vDSO) we read out of a dump.
const MAX_MEMORY_IMAGE: u64 = 1 << 20;

/// Finds the files for the modules of one image.
pub(super) struct SymbolFinder<'a> {
    process: &'a ProcessView,
    config: SymbolConfig,
    /// Where `.gnu_debuglink` names are looked up among the symbols dirs.
    debuglink_dirs: OnceCell<Vec<PathBuf>>,
}

impl<'a> SymbolFinder<'a> {
    pub(super) fn new(process: &'a ProcessView, config: &SymbolConfig) -> Self {
        SymbolFinder {
            process,
            config: config.clone(),
            debuglink_dirs: OnceCell::new(),
        }
    }

    /// Finds and parses a module's binary and debug file.
    pub(super) fn locate(&self, module: &Module) -> LoadedModule {
        let mut problems: Vec<String> = Vec::new();
        let mut refused: Vec<RefusedFile> = Vec::new();
        let kernel = module.sources.contains(&ModuleSource::KernelImage);
        let binary = if module.sources.contains(&ModuleSource::Vdso) {
            self.memory_image(module)
                .map(|e| (PathBuf::from("[vdso in the dump's memory]"), e))
        } else if kernel {
            self.find_kernel_image(module, true, &mut problems, &mut refused)
        } else {
            self.find_binary(module, true, &mut problems, &mut refused)
        };
        // A binary that carries DWARF needs no separate debug file.
        let debug = match &binary {
            Some((_, e)) if e.has_dwarf => None,
            // The kernel's candidates include its debug locations.
            _ if kernel => None,
            _ => self.find_debug_file(module, binary.as_ref(), true, &mut problems, &mut refused),
        };
        // Without the binary, the debug file's program headers (kept by
        // objcopy and eu-strip) place the module.
        let bias = module.load_bias.unwrap_or_else(|| {
            let first = binary
                .as_ref()
                .or(debug.as_ref())
                .and_then(|(_, e)| e.first_load_page())
                .unwrap_or(0);
            module.base.wrapping_sub(first)
        });
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
            refused,
            kernel,
        }
    }

    /// The dump's vmlinux: the first candidate with the dump's build-id
    /// that carries DWARF, else the first with only a symbol table; every
    /// other vmlinux met on the way is refused and recorded.
    fn find_kernel_image(
        &self,
        module: &Module,
        with_debuginfod: bool,
        problems: &mut Vec<String>,
        refused: &mut Vec<RefusedFile>,
    ) -> Option<(PathBuf, ElfFile)> {
        let mut seen = std::collections::HashSet::new();
        let mut without_dwarf = None;
        let mut candidates = kernel_image::candidates(&self.config, module);
        if with_debuginfod {
            candidates.extend(self.debuginfod_file(module, Artifact::Debuginfo));
            candidates.extend(self.debuginfod_file(module, Artifact::Executable));
        }
        for path in candidates {
            if !seen.insert(kernel_image::identity(&path)) {
                continue;
            }
            let Some(elf) = locate::open_elf(&path) else {
                continue;
            };
            match kernel_image::check(module, &elf) {
                Ok(()) if elf.has_dwarf => return Some((path, elf)),
                Ok(()) => {
                    without_dwarf.get_or_insert((path, elf));
                }
                Err(why) => {
                    problems.push(format!("{}: {why}", path.display()));
                    refused.push(RefusedFile {
                        path,
                        build_id: elf.build_id.clone(),
                        wanted_build_id: module.build_id.clone(),
                        reason: why,
                    });
                }
            }
        }
        without_dwarf
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
        // Timestamp and size alone can be shared by two programs (a
        // reproducible linker's fixed timestamp): the PDB id the binary
        // names must be the dump's too, when both are known.
        let want_pdb = module.pe.as_ref().and_then(|p| p.debug_id.clone());
        let same = |pe: &pe_file::PeFile| {
            pe.code_id().eq_ignore_ascii_case(&code_id)
                && match (&want_pdb, &pe.pdb) {
                    (Some(want), Some(have)) => have.debug_id.eq_ignore_ascii_case(want),
                    _ => true,
                }
        };
        let accept = |p: &Path| open_pe(p).is_some_and(|pe| same(&pe));
        if let Some(exe) = self.config.executable.as_ref().filter(|_| module.is_main)
            && let Some(pe) = open_pe(exe)
        {
            if same(&pe) {
                return Some((exe.clone(), pe));
            }
            let theirs = pe
                .pdb
                .as_ref()
                .map(|p| p.debug_id.as_str())
                .unwrap_or("none");
            let ours = want_pdb.as_deref().unwrap_or("none");
            self.config.warn(format!(
                "-e {}: code id {} and PDB id {theirs} are not the image's {} ({code_id}, {ours}); \
                 the file is not used",
                exe.display(),
                pe.code_id(),
                module.name
            ));
        }
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
        let n = self.process.memory.read_available(module.base, &mut buf);
        buf.truncate(n);
        ElfFile::parse(Bytes::from_vec(buf))
    }

    fn find_binary(
        &self,
        module: &Module,
        with_debuginfod: bool,
        problems: &mut Vec<String>,
        refused: &mut Vec<RefusedFile>,
    ) -> Option<(PathBuf, ElfFile)> {
        if let Some(found) = self.named_executable(module, problems, refused) {
            return Some(found);
        }
        if let Some(found) = self.named_file(module, |_| true) {
            return Some(found);
        }
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
        // The distributions' build-id trees: `.build-id/xx/rest` beside
        // the debug files is the binary (mostly a symbolic link to it).
        if let Some(rel) = module
            .build_id
            .as_deref()
            .and_then(|b| locate::build_id_path(b, ""))
        {
            if let Some(root) = &self.config.sysroot {
                candidates.push(locate::resolve_under_root(
                    root,
                    &root.join("usr/lib/debug").join(&rel),
                ));
            }
            if self.config.use_host {
                candidates.push(Path::new("/usr/lib/debug").join(&rel));
            }
        }
        if with_debuginfod {
            candidates.extend(self.debuginfod_file(module, Artifact::Executable));
        }
        self.first_matching(module, candidates, problems, refused)
    }

    /// `-e FILE` for the main module: used when it is ELF and its
    /// build-id is the image's (or either has none); another build is
    /// refused with a warning.
    fn named_executable(
        &self,
        module: &Module,
        problems: &mut Vec<String>,
        refused: &mut Vec<RefusedFile>,
    ) -> Option<(PathBuf, ElfFile)> {
        let exe = self.config.executable.as_ref().filter(|_| module.is_main)?;
        let elf = locate::open_elf(exe)?;
        match (&module.build_id, &elf.build_id) {
            (Some(want), Some(have)) if want != have => {
                let reason = format!("build-id {have} differs from the dump's {want}");
                self.config.warn(format!(
                    "-e {}: build-id {have} differs from the image's {} ({want}); the file is not used",
                    exe.display(),
                    module.name
                ));
                problems.push(format!("{}: {reason}", exe.display()));
                refused.push(RefusedFile {
                    path: exe.clone(),
                    build_id: Some(have.clone()),
                    wanted_build_id: Some(want.clone()),
                    reason,
                });
                None
            }
            _ => Some((exe.clone(), elf)),
        }
    }

    /// A file given as a symbol-path entry (`--symbols FILE`) that is this
    /// module's: an ELF file with its build-id, or — when the image
    /// records none — its name; `usable` picks what kind is wanted.
    fn named_file(
        &self,
        module: &Module,
        usable: impl Fn(&ElfFile) -> bool,
    ) -> Option<(PathBuf, ElfFile)> {
        for file in self.config.dirs.iter().filter(|d| d.is_file()) {
            let ours = match &module.build_id {
                Some(_) => true,
                None => file
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == module.name),
            };
            if !ours {
                continue;
            }
            let Some(elf) = locate::open_elf(file) else {
                continue;
            };
            let same = match (&module.build_id, &elf.build_id) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => false,
                (None, _) => true,
            };
            if same && usable(&elf) {
                return Some((file.clone(), elf));
            }
        }
        None
    }

    /// Where the module's files were looked for, in words, and what to
    /// pass: the line shown under a stack whose module has no symbols.
    pub(super) fn hint(&self, module: &Module) -> Option<String> {
        if module.name.is_empty()
            || module.sources.contains(&ModuleSource::KernelImage)
            || module.sources.contains(&ModuleSource::Vdso)
        {
            return None;
        }
        let mut looked: Vec<String> = Vec::new();
        let pe = module.pe.is_some() && module.build_id.is_none();
        if let Some(exe) = self.config.executable.as_ref().filter(|_| module.is_main) {
            looked.push(format!("-e {}", exe.display()));
        }
        let absolute = module.path.starts_with('/');
        if pe {
            for source in &self.config.path.sources {
                looked.push(match source {
                    symbol_path::SymbolSource::Dir(d) => d.display().to_string(),
                    symbol_path::SymbolSource::Server { url, .. } => url.clone(),
                });
            }
        } else {
            if let (Some(root), true) = (&self.config.sysroot, absolute) {
                looked.push(locate::under_root(root, &module.path).display().to_string());
            }
            looked.extend(self.config.dirs.iter().map(|d| d.display().to_string()));
            if self.config.use_host {
                if absolute {
                    looked.push(format!("{} (this host)", module.path));
                }
                looked.push("/usr/lib/debug".to_string());
            }
        }
        looked.dedup();
        let id = match (&module.build_id, module.pe.as_ref()) {
            (Some(b), _) => format!(" (build-id {b})"),
            (None, Some(p)) => match (&p.debug_file, &p.debug_id) {
                (Some(f), Some(i)) => format!(" ({f} {i})"),
                _ => p
                    .code_id
                    .as_ref()
                    .map(|c| format!(" (code id {c})"))
                    .unwrap_or_default(),
            },
            _ => String::new(),
        };
        let places = if looked.is_empty() && (pe || !self.config.use_host) {
            // Windows modules are looked for only where the user points.
            match pe {
                true => "looked nowhere (no --symbols)".to_string(),
                false => "looked nowhere (no --symbols, and --no-host-symbols)".to_string(),
            }
        } else if looked.is_empty() {
            "looked nowhere".to_string()
        } else {
            format!("looked in {}", looked.join(", "))
        };
        let pass = if pe {
            "pass --symbols DIR|FILE|srv*CACHE*URL"
        } else if module.is_main {
            "pass --symbols DIR or -e FILE"
        } else {
            "pass --symbols DIR|FILE or --sysroot DIR"
        };
        Some(format!(
            "no symbols for {}{id}: {places}; {pass}",
            module.name
        ))
    }

    /// The debuginfod cache's copy of `module`'s `artifact`, when the
    /// cache holds one.
    fn debuginfod_file(&self, module: &Module, artifact: Artifact) -> Option<PathBuf> {
        let client = self.config.debuginfod.as_ref()?;
        client.cached(module.build_id.as_deref()?, artifact)
    }

    /// Asks the debuginfod servers, all at once, for every file of
    /// `modules` found nowhere else: the binary when there is none, the
    /// debug file when nothing found carries DWARF.
    pub(super) fn prefetch(&self, modules: &[Module]) {
        let Some(client) = &self.config.debuginfod else {
            return;
        };
        let mut wanted: Vec<(String, Artifact)> = Vec::new();
        for module in modules {
            let Some(id) = module.build_id.as_deref() else {
                continue;
            };
            if module.sources.contains(&ModuleSource::Vdso)
                || module.pe.is_some()
                || locate::build_id_path(id, "").is_none()
            {
                continue;
            }
            let (mut problems, mut refused) = (Vec::new(), Vec::new());
            if module.sources.contains(&ModuleSource::KernelImage) {
                // A vmlinux with DWARF is the kernel's debuginfo.
                let local = self.find_kernel_image(module, false, &mut problems, &mut refused);
                if !local.is_some_and(|(_, e)| e.has_dwarf) {
                    wanted.push((id.to_string(), Artifact::Debuginfo));
                }
                continue;
            }
            let binary = self.find_binary(module, false, &mut problems, &mut refused);
            if binary.is_none() {
                wanted.push((id.to_string(), Artifact::Executable));
            }
            let dwarf = match &binary {
                Some((_, e)) if e.has_dwarf => true,
                _ => self
                    .find_debug_file(module, binary.as_ref(), false, &mut problems, &mut refused)
                    .is_some(),
            };
            if !dwarf {
                wanted.push((id.to_string(), Artifact::Debuginfo));
            }
        }
        client.fetch_all(&wanted);
    }

    fn find_debug_file(
        &self,
        module: &Module,
        binary: Option<&(PathBuf, ElfFile)>,
        with_debuginfod: bool,
        problems: &mut Vec<String>,
        refused: &mut Vec<RefusedFile>,
    ) -> Option<(PathBuf, ElfFile)> {
        if let Some(found) = self.named_file(module, |e| e.has_dwarf) {
            return Some(found);
        }
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
            if with_debuginfod {
                candidates.extend(self.debuginfod_file(module, Artifact::Debuginfo));
            }
            if let Some(found) = self.first_matching(module, candidates, problems, refused) {
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
        refused: &mut Vec<RefusedFile>,
    ) -> Option<(PathBuf, ElfFile)> {
        for path in candidates {
            let Some(elf) = locate::open_elf(&path) else {
                continue;
            };
            match (&module.build_id, &elf.build_id) {
                (Some(want), Some(have)) if want != have => {
                    let reason = format!("build-id {have} differs from the dump's {want}");
                    problems.push(format!("{}: {reason}", path.display()));
                    refused.push(RefusedFile {
                        path,
                        build_id: Some(have.clone()),
                        wanted_build_id: Some(want.clone()),
                        reason,
                    });
                }
                _ => return Some((path, elf)),
            }
        }
        None
    }
}

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
