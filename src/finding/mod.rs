//! Findings: the leaf types every layer shares. Readers report structural
//! problems as they parse, checks on the model add theirs, renderers print
//! them; none of them needs anything but this module.
//!
//! Every code a finding can carry is registered in [`registry`] so SARIF
//! rules and JUnit test cases can be emitted for checks that passed too.

mod capped;
pub mod registry;

pub use capped::CappedFindings;

pub use registry::*;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; never fails a gate.
    Note,
    /// Likely to hurt analysis or a restore.
    Warning,
    /// The image is damaged or will not restore.
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// When a check applies, decided from typed facts about a verify run
/// ([`RunFacts`]), never from format names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Any image that opened.
    Any,
    /// Images of user processes (cores, minidumps, checkpoints, live
    /// processes): thread and mapping checks; not kernel dumps.
    Process,
    /// ELF core files (and snapshots, which are ELF cores).
    ElfCore,
    Minidump,
    /// CRIU images: a CRIU directory, or the one inside a container
    /// checkpoint archive.
    CriuImages,
    ContainerCheckpoint,
    /// A checkpoint checked against a restore root (`verify --root`).
    RestoreTarget,
    /// `verify --symbols`.
    WithSymbols,
    /// A seal manifest was checked.
    Sealed,
    /// Linux kernel vmcores (ELF, kdump-compressed, flattened).
    Vmcore,
    /// makedumpfile's own formats: kdump-compressed, and its flattened stream.
    Makedumpfile,
    /// The parts of a makedumpfile `--split` dump (or one part alone).
    KdumpSplit,
    /// A kernel vmcore checked with `verify --symbols`: the kernel's own
    /// symbol files.
    VmcoreSymbols,
}

/// What a verify run had, for deciding which checks applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The image opened (otherwise only the seal could be checked).
    pub opened: bool,
    /// A kernel dump rather than a user process.
    pub kernel: bool,
    pub elf_core: bool,
    pub minidump: bool,
    pub criu_images: bool,
    pub container_checkpoint: bool,
    pub restore_target: bool,
    pub with_symbols: bool,
    pub sealed: bool,
    pub vmcore: bool,
    /// A kdump-compressed file or a flattened stream of one.
    pub makedumpfile: bool,
    /// Read from the parts of a makedumpfile `--split` dump (or one part).
    pub kdump_split: bool,
}

impl Scope {
    /// The name SARIF rules carry in their `formats` property (stable).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Any => "*",
            Scope::Process => "process",
            Scope::ElfCore => "elf-core",
            Scope::Minidump => "minidump",
            Scope::CriuImages => "criu-images",
            Scope::ContainerCheckpoint => "container-checkpoint",
            Scope::RestoreTarget => "criu-restore",
            Scope::WithSymbols => "with-symbols",
            Scope::Sealed => "sealed",
            Scope::Vmcore => "vmcore",
            Scope::Makedumpfile => "kdump-compressed",
            Scope::KdumpSplit => "kdump-split",
            Scope::VmcoreSymbols => "vmcore-with-symbols",
        }
    }

    /// Whether a check of this scope applied to a run with `facts`.
    pub fn applies(self, facts: &RunFacts) -> bool {
        facts.opened
            && match self {
                Scope::Any => true,
                Scope::Process => !facts.kernel,
                Scope::ElfCore => facts.elf_core,
                Scope::Minidump => facts.minidump,
                Scope::CriuImages => facts.criu_images,
                Scope::ContainerCheckpoint => facts.container_checkpoint,
                Scope::RestoreTarget => facts.restore_target,
                Scope::WithSymbols => facts.with_symbols,
                Scope::Sealed => facts.sealed,
                Scope::Vmcore => facts.vmcore,
                Scope::Makedumpfile => facts.makedumpfile,
                Scope::KdumpSplit => facts.kdump_split,
                Scope::VmcoreSymbols => facts.vmcore && facts.with_symbols,
            }
    }
}

/// A registered check: one stable code, one meaning.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Check {
    /// Stable identifier, `CKD-` + severity letter + four digits.
    pub code: &'static str,
    /// Short kebab-case name.
    pub name: &'static str,
    pub severity: Severity,
    /// One sentence saying what the check looks at.
    pub summary: &'static str,
    /// What to do about a finding.
    pub hint: &'static str,
    /// What a run must have for the check to apply (an ELF core, a seal…);
    /// a check that does not apply is reported as not applicable, not as
    /// passed.
    pub scope: Scope,
}

/// Where a finding points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Byte offset in the (decompressed) image file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Virtual address in the saved address space; serialized as a `"0x…"`
    /// string like every address in the reports (kernel addresses do not
    /// fit a JSON number's 53 bits).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_hex_address"
    )]
    pub address: Option<u64>,
    /// A file outside the image the finding is about (a mapped library).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

fn serialize_hex_address<S: serde::Serializer>(
    address: &Option<u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match address {
        Some(a) => serialize_hex_u64(a, s),
        None => s.serialize_none(),
    }
}

/// Serializes a number as a `"0x…"` string, the reports' form for
/// addresses and bit masks (a JSON number loses bits past 2^53). Lives in
/// this leaf so the model, the findings and the report share it.
pub fn serialize_hex_u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// One problem found in an image.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub message: String,
    pub hint: &'static str,
    pub location: Location,
    /// Findings that follow from this one and were counted here instead of
    /// listed (a cut pages file leaves threads' stack pages and regions'
    /// pages missing: one root cause, one finding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<FoldedFindings>,
    /// This finding is about bytes the image lacks, which a finding about
    /// a cut or damaged file explains when there is one.
    #[serde(skip)]
    pub lost_bytes: bool,
}

/// How many findings of one check were folded into their cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoldedFindings {
    pub code: &'static str,
    pub name: &'static str,
    pub count: u32,
}

impl Finding {
    /// A finding for `check` with a message; add a location with the builders.
    pub fn new(check: &Check, message: impl Into<String>) -> Self {
        Finding {
            code: check.code,
            name: check.name,
            severity: check.severity,
            message: message.into(),
            hint: check.hint,
            location: Location::default(),
            folded: Vec::new(),
            lost_bytes: false,
        }
    }
    /// Marks a finding about bytes the image lacks: when a finding about a
    /// cut or damaged file explains them, it is folded into that one.
    pub fn from_lost_bytes(mut self) -> Self {
        self.lost_bytes = true;
        self
    }
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.location.offset = Some(offset);
        self
    }
    pub fn at_address(mut self, address: u64) -> Self {
        self.location.address = Some(address);
        self
    }
    pub fn about_path(mut self, path: impl Into<String>) -> Self {
        self.location.path = Some(path.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            let letter = match c.severity {
                Severity::Error => 'E',
                Severity::Warning => 'W',
                Severity::Note => 'N',
            };
            assert_eq!(c.code.len(), 9, "{}", c.code);
            assert!(c.code.starts_with("CKD-"), "{}", c.code);
            assert_eq!(c.code.chars().nth(4), Some(letter), "{}", c.code);
        }
    }
}
