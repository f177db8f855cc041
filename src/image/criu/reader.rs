//! The directory's files as read, and the findings made while reading
//! them (listed up to a bound per check).

use std::collections::BTreeMap;

use prost::Message;

use crate::byte_reader::hex_spaced;
use crate::error::{Error, ErrorKind, Result};

use crate::finding::{self, CappedFindings, Check, Finding};

use super::image_file::{Header, ImageFile};
use super::*;

/// Collects findings, listing at most [`LISTED_FINDINGS`] per check: the
/// shared capped collector plus the file/offset form the reader reports in.
pub(super) struct Findings(CappedFindings);

impl Default for Findings {
    fn default() -> Self {
        Findings(CappedFindings::new(LISTED_FINDINGS))
    }
}

impl Findings {
    pub(super) fn push(&mut self, check: &'static Check, finding: Finding) {
        self.0.push(check, finding);
    }
    /// Lists `finding` even past the bound: for a finding made at most once
    /// per image that many lesser ones of its check would hide.
    pub(super) fn push_listed(&mut self, check: &'static Check, finding: Finding) {
        self.0.push_always(check, finding);
    }
    pub(super) fn add(
        &mut self,
        check: &'static Check,
        file: &str,
        offset: Option<u64>,
        msg: String,
    ) {
        let mut f = Finding::new(check, msg).about_path(file.to_string());
        if let Some(o) = offset {
            f = f.at_offset(o);
        }
        self.push(check, f);
    }
    /// Takes the findings of a parent snapshot's reader, naming its files
    /// relative to this directory. The parent's own summaries come along
    /// as findings (prefixed like the rest), so its counts stay its own.
    pub(super) fn absorb(&mut self, other: Findings, prefix: &str) {
        for mut f in other.finish() {
            f.location.path = f.location.path.map(|p| format!("{prefix}{p}"));
            f.message = format!("{prefix}: {}", f.message);
            self.0.push_coded(f);
        }
    }

    /// The findings listed so far.
    pub(super) fn listed(&self) -> &[Finding] {
        self.0.listed()
    }

    pub(super) fn finish(self) -> Vec<Finding> {
        self.0.finish()
    }
}

/// The directory's files and what was found wrong with them.
pub(super) struct Reader {
    pub(super) files: BTreeMap<String, ImageFile>,
    pub(super) findings: Findings,
}

impl Reader {
    pub(super) fn load(set: &dyn ImageSet) -> Result<Self> {
        let names = set
            .names(MAX_FILES)
            .map_err(|e| Error::new(set.path(), ErrorKind::Io(e)))?;
        let mut findings = Findings::default();
        let mut files = BTreeMap::new();
        for name in names {
            if !(name.ends_with(".img") || name == "stats-dump" || name == "stats-restore") {
                continue;
            }
            match set.read(&name) {
                Ok(None) => continue,
                Ok(Some(bytes)) => {
                    let file = ImageFile::parse(&name, bytes);
                    if let Some(p) = &file.problem {
                        findings.add(
                            &finding::CRIU_ENTRY_BOUNDS,
                            &name,
                            Some(p.offset),
                            format!("{name}: {}", p.message),
                        );
                    }
                    files.insert(name, file);
                }
                Err(e) => findings.add(
                    &finding::CRIU_IMAGE_MISSING,
                    &name,
                    None,
                    format!("{name} cannot be read: {e}"),
                ),
            }
        }
        Ok(Reader { files, findings })
    }

    /// The file `name` if present with image magic `magic`; a finding
    /// (saying `why` it is needed) otherwise.
    pub(super) fn image(&mut self, name: &str, magic: u32, why: &str) -> Option<&ImageFile> {
        let Some(file) = self.files.get(name) else {
            self.findings.add(
                &finding::CRIU_IMAGE_MISSING,
                name,
                None,
                format!("{name} is missing: {why}"),
            );
            return None;
        };
        if file.header.magic() != Some(magic) {
            let found = match (file.header, file.header.magic().and_then(m_name)) {
                (Header::Raw, _) if file.bytes.is_empty() => "is empty".into(),
                (Header::Raw, _) => format!(
                    "starts with {}",
                    hex_spaced(file.bytes.get(..8).unwrap_or(&file.bytes))
                ),
                (_, Some(other)) => format!("is a {other} image"),
                (_, None) => "has an unknown magic".into(),
            };
            let expected = magic::lookup(magic).map_or("?", |(n, _)| n);
            self.findings.add(
                &finding::CRIU_IMAGE_HEADER,
                name,
                Some(0),
                format!("{name} {found}, not the {expected} image expected; {why} is unknown"),
            );
            return None;
        }
        self.files.get(name)
    }

    /// Every entry of `name` decoded as `M`; entries that do not decode
    /// are reported and skipped.
    pub(super) fn entries<M: Message + Default>(
        &mut self,
        name: &str,
        magic: u32,
        why: &str,
    ) -> Vec<M> {
        let mut out = Vec::new();
        self.each(name, magic, why, |m| out.push(m));
        out
    }

    /// Decodes the entries of `name` one by one into `f`, so that only what
    /// the caller keeps is held (a file of empty entries decodes to many
    /// default messages, each larger than its four bytes).
    pub(super) fn each<M: Message + Default>(
        &mut self,
        name: &str,
        magic: u32,
        why: &str,
        mut f: impl FnMut(M),
    ) {
        if self.image(name, magic, why).is_none() {
            return;
        }
        let Reader { files, findings } = self;
        let Some(file) = files.get(name) else { return };
        for i in 0..file.entries.len() {
            match file.decode::<M>(i) {
                Ok(m) => f(m),
                Err(p) => {
                    findings.add(&finding::CRIU_ENTRY_DECODE, name, Some(p.offset), p.message)
                }
            }
        }
    }

    /// The first entry of a one-entry image.
    pub(super) fn first<M: Message + Default>(
        &mut self,
        name: &str,
        magic: u32,
        why: &str,
    ) -> Option<M> {
        let file = self.image(name, magic, why)?;
        if file.entries.is_empty() {
            if file.problem.is_none() {
                let msg = format!("{name} holds no entry; {why} is unknown");
                let offset = file.bytes.len() as u64;
                self.findings
                    .add(&finding::CRIU_ENTRY_DECODE, name, Some(offset), msg);
            }
            return None;
        }
        match file.decode::<M>(0) {
            Ok(m) => Some(m),
            Err(p) => {
                self.findings
                    .add(&finding::CRIU_ENTRY_DECODE, name, Some(p.offset), p.message);
                None
            }
        }
    }
}

pub(super) fn m_name(magic: u32) -> Option<&'static str> {
    magic::lookup(magic).map(|(n, _)| n)
}
