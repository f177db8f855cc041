//! Each loaded module's `.ko` debug file: found where distributions and
//! users keep them, matched to the module by the build-id the kernel
//! keeps in memory, and placed where the kernel loaded each section, so
//! that module frames get function names, source lines and inline frames
//! as the kernel image's do. A `.ko` of another build is refused with a
//! finding and never used; a module without one stays named from its own
//! kallsyms.
//!
//! Where a module's `.ko` is looked for, in order:
//! 1. files given with `--symbols FILE` whose `.modinfo` name (else file
//!    name) is the module's, or whose build-id is;
//! 2. in each `--symbols DIR`: its build-id tree (`.build-id/xx/rest.debug`)
//!    then any `NAME.ko` below it;
//! 3. under the sysroot and, when allowed, this host: `/usr/lib/debug`'s
//!    build-id tree, `/usr/lib/debug/lib/modules/RELEASE/**/NAME.ko`, then
//!    `/lib/modules/RELEASE/**/NAME.ko`.
//!
//! File names match with `-` and `_` alike (the kernel turns `-` into `_`
//! in module names), as `NAME.ko`, `NAME.ko.debug`, `NAME.ko.xz`,
//! `NAME.ko.zst` or `NAME.ko.gz`.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::modules::KernelModule;
use crate::finding::{self, Finding};
use crate::symbols::relocatable::{PlacedDwarf, RelocatableObject};
use crate::symbols::{SymbolConfig, SymbolFrame, locate};

/// Directory entries looked at at most in one tree walk (a distribution's
/// /lib/modules/RELEASE has ~6,000 files; its debug tree about as many).
const MAX_WALK_ENTRIES: usize = 200_000;
/// Directory depth walked at most.
const MAX_WALK_DEPTH: usize = 16;
/// Suffixes of module files, longest first.
const MODULE_SUFFIXES: &[&str] = &[".ko.debug", ".ko.xz", ".ko.zst", ".ko.gz", ".ko"];

/// How a `.ko` was matched to its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KoMatch {
    /// Its build-id is the one the module has in memory.
    BuildId,
    /// The module's build-id cannot be read: its functions sit where the
    /// module's own kallsyms put them.
    Symbols,
}

/// A module's matched `.ko`.
pub struct ModuleDebug {
    pub path: PathBuf,
    pub matched: KoMatch,
    object: RelocatableObject,
    /// Load address of each section, by name.
    placement: HashMap<String, u64>,
    /// Its DWARF placed at those addresses, on the first lookup.
    placed: OnceCell<Result<PlacedDwarf, String>>,
}

impl ModuleDebug {
    fn placed(&self) -> Result<&PlacedDwarf, &str> {
        self.placed
            .get_or_init(|| self.object.place(&|name| self.placement.get(name).copied()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Why its DWARF could not be used, once a lookup tried (a `.ko` is
    /// only relocated when a frame lies in its module).
    pub fn problem(&self) -> Option<&str> {
        self.placed.get()?.as_ref().err().map(String::as_str)
    }
}

/// The `.ko` of each loaded module, where one was found.
pub struct ModuleDebugFiles {
    /// In module-list order.
    found: Vec<Option<ModuleDebug>>,
    /// Where files were looked for, in words.
    searched: Vec<String>,
    /// Files refused for a module (another build, unreadable), each once.
    pub findings: Vec<Finding>,
}

impl ModuleDebugFiles {
    /// Looks for every module's `.ko` where `config` says (see the module
    /// documentation); `release` is the kernel's (VMCOREINFO OSRELEASE).
    pub fn find(modules: &[KernelModule], config: &SymbolConfig, release: Option<&str>) -> Self {
        let mut search = Search::new(config, release);
        let mut findings = Vec::new();
        let found = modules
            .iter()
            .map(|m| search.module(m, &mut findings))
            .collect();
        ModuleDebugFiles {
            found,
            searched: search.described(),
            findings,
        }
    }

    /// Module `index`'s matched `.ko`.
    pub fn get(&self, index: usize) -> Option<&ModuleDebug> {
        self.found.get(index)?.as_ref()
    }

    /// The frames naming `address` in module `index` (`module`) from its
    /// `.ko`'s DWARF, innermost inlined function first (padding between
    /// functions has a line but no function); None when it has no usable
    /// `.ko` or DWARF knows nothing there.
    pub fn frames(
        &self,
        index: usize,
        module: &KernelModule,
        address: u64,
    ) -> Option<Vec<SymbolFrame>> {
        let placed = self.get(index)?.placed().ok()?;
        let frames = placed.lookup(address, module.function_at(address));
        frames
            .iter()
            .any(|f| f.function.is_some() || f.file.is_some())
            .then_some(frames)
    }

    /// In words: how many modules are named from a `.ko`, and for the
    /// others where ckdump looked.
    pub fn describe(&self, modules: &[KernelModule]) -> String {
        if modules.is_empty() {
            return "no modules loaded".to_string();
        }
        let mut named = Vec::new();
        let mut by_symbols = Vec::new();
        let mut unusable = Vec::new();
        let mut missing = Vec::new();
        for (module, debug) in modules.iter().zip(&self.found) {
            match debug {
                Some(d) => match d.problem() {
                    None => {
                        named.push(module.name.as_str());
                        if d.matched == KoMatch::Symbols {
                            by_symbols.push(module.name.as_str());
                        }
                    }
                    Some(why) => unusable.push(format!("{} ({why})", module.name)),
                },
                None => missing.push(module.name.as_str()),
            }
        }
        let mut words = format!(
            "{} of {} named from their .ko (DWARF)",
            named.len(),
            modules.len()
        );
        if !by_symbols.is_empty() {
            words.push_str(&format!(
                "; no build-id in memory for {}: matched by where its functions are",
                shortened(&by_symbols)
            ));
        }
        if !unusable.is_empty() {
            words.push_str(&format!("; .ko unusable for {}", unusable.join(", ")));
        }
        if !missing.is_empty() {
            words.push_str(&format!(
                "; no .ko found for {}, named from their kallsyms (looked in {})",
                shortened(&missing),
                if self.searched.is_empty() {
                    "no place: give one with --symbols".to_string()
                } else {
                    self.searched.join(", ")
                }
            ));
        }
        words
    }
}

/// The first names of a long list, and how many more.
fn shortened(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

/// A module name as the kernel keeps it: `-` becomes `_`.
fn normalized(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name a file name stands for (`snd-hda-intel.ko.xz` →
/// `snd_hda_intel`), or None when it is no module file.
fn module_file_name(file_name: &str) -> Option<String> {
    MODULE_SUFFIXES
        .iter()
        .find_map(|suffix| file_name.strip_suffix(suffix))
        .filter(|stem| !stem.is_empty())
        .map(normalized)
}

/// One search over the places `config` names, shared by every module:
/// each tree is walked once, each explicit file parsed once.
struct Search {
    /// `--symbols FILE` entries that are (or are named like) modules.
    files: Vec<ExplicitFile>,
    /// `--symbols DIR` entries.
    dirs: Vec<PathBuf>,
    /// Roots (sysroot, host) with their debug and module trees.
    roots: Vec<PathBuf>,
    release: Option<String>,
    /// Module-file index of each walked tree: module name → paths.
    walked: HashMap<PathBuf, HashMap<String, Vec<PathBuf>>>,
    /// Files already refused (reported once).
    refused: HashSet<PathBuf>,
}

impl Search {
    fn new(config: &SymbolConfig, release: Option<&str>) -> Self {
        let files = config
            .dirs
            .iter()
            .filter(|d| d.is_file())
            .filter(|d| looks_relocatable(d))
            .map(|d| ExplicitFile::new(d))
            .collect();
        let mut roots: Vec<PathBuf> = config.sysroot.iter().cloned().collect();
        if config.use_host {
            roots.push(PathBuf::from("/"));
        }
        Search {
            files,
            dirs: config.dirs.iter().filter(|d| d.is_dir()).cloned().collect(),
            roots,
            // A release is one path component.
            release: release
                .filter(|r| !r.is_empty() && *r != "." && *r != ".." && !r.contains(['/', '\0']))
                .map(str::to_string),
            walked: HashMap::new(),
            refused: HashSet::new(),
        }
    }

    /// Where this search looks, in words.
    fn described(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .map(|f| format!("--symbols {}", f.path.display()))
            .collect();
        out.extend(
            self.dirs
                .iter()
                .map(|d| format!("--symbols {}", d.display())),
        );
        for root in &self.roots {
            out.push(root.join("usr/lib/debug/.build-id").display().to_string());
            if let Some(r) = &self.release {
                out.push(
                    root.join(format!("usr/lib/debug/lib/modules/{r}"))
                        .display()
                        .to_string(),
                );
                out.push(root.join(format!("lib/modules/{r}")).display().to_string());
            }
        }
        out
    }

    /// The first candidate that matches `module` and carries DWARF; each
    /// candidate of another build (or unreadable) is refused once.
    fn module(
        &mut self,
        module: &KernelModule,
        findings: &mut Vec<Finding>,
    ) -> Option<ModuleDebug> {
        let name = normalized(&module.name);
        let mut candidates: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| {
                f.module_name.as_deref() == Some(name.as_str())
                    || (f.build_id.is_some() && f.build_id == module.build_id)
            })
            .map(|f| f.path.clone())
            .collect();
        let by_build_id: Vec<PathBuf> = module
            .build_id
            .as_deref()
            .into_iter()
            .flat_map(|b| {
                [
                    locate::build_id_path(b, ".debug"),
                    locate::build_id_path(b, ""),
                ]
            })
            .flatten()
            .collect();
        for dir in self.dirs.clone() {
            candidates.extend(by_build_id.iter().map(|rel| dir.join(rel)));
            candidates.extend(self.walk(&dir, &name));
        }
        for root in self.roots.clone() {
            let debug = root.join("usr/lib/debug");
            candidates.extend(by_build_id.iter().map(|rel| debug.join(rel)));
            if let Some(r) = self.release.clone() {
                candidates.extend(self.walk(&debug.join(format!("lib/modules/{r}")), &name));
                candidates.extend(self.walk(&root.join(format!("lib/modules/{r}")), &name));
            }
        }
        let mut seen = HashSet::new();
        for path in candidates {
            let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(identity) || !path.is_file() {
                continue;
            }
            let object = RelocatableObject::open(&path);
            if let Some(found) = self.consider(module, path, object, findings) {
                return Some(found);
            }
        }
        None
    }

    /// `object` (from `path`) for `module`: the match when it is the
    /// module's build with DWARF; refused with a finding when it is
    /// another build or unreadable; passed over when it only lacks DWARF.
    fn consider(
        &mut self,
        module: &KernelModule,
        path: PathBuf,
        object: Result<RelocatableObject, String>,
        findings: &mut Vec<Finding>,
    ) -> Option<ModuleDebug> {
        let checked = object.and_then(|o| {
            let matched = check(module, &o)?;
            Ok((o, matched))
        });
        match checked {
            Ok((object, _)) if !object.has_dwarf => None,
            Ok((object, matched)) => Some(ModuleDebug {
                path,
                matched,
                placement: placement(module),
                object,
                placed: OnceCell::new(),
            }),
            Err(why) => {
                if self.refused.insert(path.clone()) {
                    findings.push(
                        Finding::new(
                            &finding::MODULE_KO_BUILD_ID,
                            format!(
                                "module {} .ko {} refused: {why}",
                                module.name,
                                path.display()
                            ),
                        )
                        .about_path(path.display().to_string()),
                    );
                }
                None
            }
        }
    }

    /// Module files named `name` below `dir`: the tree is walked once
    /// (bounded in entries and depth, symlinked directories not followed).
    fn walk(&mut self, dir: &Path, name: &str) -> Vec<PathBuf> {
        if !self.walked.contains_key(dir) {
            let index = index_tree(dir);
            self.walked.insert(dir.to_path_buf(), index);
        }
        self.walked
            .get(dir)
            .and_then(|index| index.get(name))
            .cloned()
            .unwrap_or_default()
    }
}

/// A file given with `--symbols` and which module it is for.
struct ExplicitFile {
    path: PathBuf,
    /// Its `.modinfo` name, else the one its file name stands for.
    module_name: Option<String>,
    build_id: Option<String>,
}

impl ExplicitFile {
    fn new(path: &Path) -> Self {
        let object = RelocatableObject::open(path).ok();
        let object = object.as_ref();
        ExplicitFile {
            path: path.to_path_buf(),
            module_name: object
                .and_then(|o| o.module_name.as_deref())
                .map(normalized)
                .or_else(|| path_module_name(path)),
            build_id: object.and_then(|o| o.build_id.clone()),
        }
    }
}

/// The module name a path's file name stands for.
fn path_module_name(path: &Path) -> Option<String> {
    module_file_name(&path.file_name()?.to_string_lossy())
}

/// A `--symbols FILE` worth opening as a module: named like one, or an
/// ELF relocatable object whatever its name.
fn looks_relocatable(path: &Path) -> bool {
    path_module_name(path).is_some() || crate::symbols::relocatable::is_relocatable_elf(path)
}

/// Module files below `dir` by module name, in a stable (sorted) order.
fn index_tree(dir: &Path) -> HashMap<String, Vec<PathBuf>> {
    let mut index: HashMap<String, Vec<PathBuf>> = HashMap::new();
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    let mut entries = 0usize;
    while let Some((here, depth)) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&here) else {
            continue;
        };
        let mut children: Vec<_> = read.flatten().collect();
        children.sort_by_key(|e| e.file_name());
        for entry in children {
            entries += 1;
            if entries > MAX_WALK_ENTRIES {
                return index;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if depth < MAX_WALK_DEPTH {
                    pending.push((path, depth + 1));
                }
            } else if let Some(name) = module_file_name(&entry.file_name().to_string_lossy()) {
                index.entry(name).or_default().push(path);
            }
        }
    }
    for paths in index.values_mut() {
        paths.sort();
    }
    index
}

/// Whether `object` is `module`'s build: the build-ids agree; a module
/// whose build-id cannot be read accepts a `.ko` whose functions in
/// `.text` sit where the module's kallsyms put them.
fn check(module: &KernelModule, object: &RelocatableObject) -> Result<KoMatch, String> {
    match (&module.build_id, &object.build_id) {
        (Some(want), Some(have)) if want == have => Ok(KoMatch::BuildId),
        (Some(want), Some(have)) => Err(format!(
            "build-id {have} differs from the module's {want} in memory"
        )),
        (Some(want), None) => Err(format!(
            "has no build-id, so it cannot be matched to the module's {want}"
        )),
        (None, _) => {
            let in_memory: HashMap<&str, u64> = module
                .functions
                .iter()
                .map(|(address, _, name)| (name.as_str(), *address))
                .collect();
            let (mut agree, mut disagree) = (0usize, 0usize);
            for f in object.functions().iter().filter(|f| f.section == ".text") {
                let placed = module.text_base.wrapping_add(f.value);
                match in_memory.get(f.name.as_str()) {
                    Some(&address) if address == placed => agree += 1,
                    Some(_) => disagree += 1,
                    None => {}
                }
            }
            if agree > 0 && disagree == 0 {
                Ok(KoMatch::Symbols)
            } else {
                Err(format!(
                    "the module's build-id cannot be read and {disagree} of its {} functions \
                     named in kallsyms sit elsewhere in memory",
                    agree + disagree
                ))
            }
        }
    }
}

/// Each section's load address as `sect_attrs` lists it; `.text` at the
/// module's text base when the list is missing.
fn placement(module: &KernelModule) -> HashMap<String, u64> {
    let mut placement: HashMap<String, u64> = module
        .sections
        .iter()
        .map(|s| (s.name.clone(), s.address))
        .collect();
    placement
        .entry(".text".to_string())
        .or_insert(module.text_base);
    placement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_file_names_match_as_the_kernel_names_modules() {
        assert_eq!(
            module_file_name("snd-hda-intel.ko.xz").as_deref(),
            Some("snd_hda_intel")
        );
        assert_eq!(
            module_file_name("ckdump_panic.ko").as_deref(),
            Some("ckdump_panic")
        );
        assert_eq!(module_file_name("ext4.ko.debug").as_deref(), Some("ext4"));
        assert_eq!(module_file_name("vmlinux"), None);
        assert_eq!(module_file_name(".ko"), None);
        assert_eq!(module_file_name("a.ko.bak"), None);
    }
}
