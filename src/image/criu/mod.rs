//! CRIU image directories (`criu dump -D DIR`): the process tree, every
//! thread's registers, the memory map and the dumped pages, read into the
//! common model so the walker, symbolizer and renderers work unchanged.
//!
//! A directory is many small protobuf images plus raw page files. Every
//! task of pstree.img becomes a process view of its own — its threads'
//! registers, its pagemap as the address space, its modules — read by one
//! function (`task_view`); the root task is the image's process, the
//! others are [`Image::other_processes`], and the whole tree is listed in
//! [`FormatDetails::processes`]. Damage anywhere past a readable
//! pstree.img is reported as findings, never as an error.

pub mod image_file;
mod magic;
pub mod pages;
mod proto;
mod source;
pub mod stats;
mod threads;

pub use source::{ImageDirectory, ImageSet};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;

use crate::error::{Error, ErrorKind, Result};
use crate::image::OpenOptions;
use crate::image::linux_modules::{self, AbsentRange, FileMapping};
use crate::memory::{Bytes, Memory};
use crate::model::{
    Arch, AuxvEntry, Capture, CheckpointInfo, CheckpointKind, DEFAULT_PAGE_SIZE, FormatDetails,
    Image, ImageFileRecord, ImageFormat, LinuxRegion, Module, OpenFile, PageCounts, Process,
    ProcessRecord, ProcessView, Producer, Protection, ReferencedFile, Region, RegionFile, Sharing,
    Target, Thread, ThreadXstate, VmaPages, plausible_page_size,
};
use crate::verify::{self, Check, Finding};

use image_file::{Header, ImageFile};
use pages::{PE_LAZY, PE_PARENT, PE_PRESENT, PageRun, PageSource, PagemapMemory};
use proto::*;

/// Bounds on what a hostile directory can make ckdump do.
const MAX_FILES: usize = 100_000;
/// Findings of one kind listed before the rest are summarized.
const LISTED_FINDINGS: usize = 8;
const MAX_ARGS: usize = 4096;
/// files.img entries listed as annotations.
const MAX_LISTED_FILES: usize = 1024;
/// Parent snapshots followed for in-parent pages (pre-dump chains).
const MAX_PARENT_DEPTH: usize = 8;
/// Tasks read as processes of their own (threads, memory, modules); the
/// rest of a larger tree is listed only. Far above real container trees,
/// far below what a hostile pstree.img could claim.
const MAX_TASK_VIEWS: usize = 8192;

// mmap prot and flags bits, and the VMA status bits CRIU records.
const PROT_READ: u32 = 0x1;
const PROT_WRITE: u32 = 0x2;
const PROT_EXEC: u32 = 0x4;
const MAP_SHARED: u32 = 0x1;
const MAP_PRIVATE: u32 = 0x2;
const VMA_FILE_PRIVATE: u32 = 1 << 6;
const VMA_FILE_SHARED: u32 = 1 << 7;

/// The image directory `path` names, if it is one: a directory holding
/// inventory.img, or a file inside one that starts with a CRIU magic.
pub fn image_directory(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_dir() {
        return path
            .join("inventory.img")
            .is_file()
            .then(|| path.to_path_buf());
    }
    let mut head = [0u8; 8];
    let n = std::io::Read::read(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    if image_file::header(&head[..n]) == Header::Raw {
        return None;
    }
    let dir = path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.join("inventory.img")
        .is_file()
        .then(|| dir.to_path_buf())
}

/// Collects findings, listing at most [`LISTED_FINDINGS`] per check.
#[derive(Default)]
struct Findings {
    list: Vec<Finding>,
    counts: HashMap<&'static str, (&'static Check, usize)>,
}

impl Findings {
    fn push(&mut self, check: &'static Check, finding: Finding) {
        let e = self.counts.entry(check.code).or_insert((check, 0));
        e.1 += 1;
        if e.1 <= LISTED_FINDINGS {
            self.list.push(finding);
        }
    }
    fn add(&mut self, check: &'static Check, file: &str, offset: Option<u64>, msg: String) {
        let mut f = Finding::new(check, msg).about_path(file.to_string());
        if let Some(o) = offset {
            f = f.at_offset(o);
        }
        self.push(check, f);
    }
    /// Takes the findings of a parent snapshot's reader, naming its files
    /// relative to this directory.
    fn absorb(&mut self, other: Findings, prefix: &str) {
        for mut f in other.finish() {
            let check = verify::CHECKS.iter().find(|c| c.code == f.code);
            f.location.path = f.location.path.map(|p| format!("{prefix}{p}"));
            f.message = format!("{prefix}: {}", f.message);
            match check {
                Some(c) => self.push(c, f),
                None => self.list.push(f),
            }
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        let mut extra: Vec<_> = self
            .counts
            .into_values()
            .filter(|(_, n)| *n > LISTED_FINDINGS)
            .collect();
        extra.sort_by_key(|(c, _)| c.code);
        for (check, n) in extra {
            self.list.push(Finding::new(
                check,
                format!(
                    "{} more findings of this check not listed",
                    n - LISTED_FINDINGS
                ),
            ));
        }
        self.list
    }
}

/// The directory's files and what was found wrong with them.
struct Reader {
    files: BTreeMap<String, ImageFile>,
    findings: Findings,
}

impl Reader {
    fn load(set: &dyn ImageSet) -> Result<Self> {
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
                            &verify::CRIU_ENTRY_BOUNDS,
                            &name,
                            Some(p.offset),
                            format!("{name}: {}", p.message),
                        );
                    }
                    files.insert(name, file);
                }
                Err(e) => findings.add(
                    &verify::CRIU_IMAGE_MISSING,
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
    fn image(&mut self, name: &str, magic: u32, why: &str) -> Option<&ImageFile> {
        let Some(file) = self.files.get(name) else {
            self.findings.add(
                &verify::CRIU_IMAGE_MISSING,
                name,
                None,
                format!("{name} is missing: {why}"),
            );
            return None;
        };
        if file.header.magic() != Some(magic) {
            let found = match (file.header, file.header.magic().and_then(m_name)) {
                (Header::Raw, _) => format!(
                    "starts with {}",
                    hex_bytes(file.bytes.get(..8).unwrap_or(&file.bytes))
                ),
                (_, Some(other)) => format!("is a {other} image"),
                (_, None) => "has an unknown magic".into(),
            };
            let expected = magic::lookup(magic).map_or("?", |(n, _)| n);
            self.findings.add(
                &verify::CRIU_IMAGE_HEADER,
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
    fn entries<M: Message + Default>(&mut self, name: &str, magic: u32, why: &str) -> Vec<M> {
        let mut out = Vec::new();
        self.each(name, magic, why, |m| out.push(m));
        out
    }

    /// Decodes the entries of `name` one by one into `f`, so that only what
    /// the caller keeps is held (a file of empty entries decodes to many
    /// default messages, each larger than its four bytes).
    fn each<M: Message + Default>(
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
                Err(p) => findings.add(&verify::CRIU_ENTRY_DECODE, name, Some(p.offset), p.message),
            }
        }
    }

    /// The first entry of a one-entry image.
    fn first<M: Message + Default>(&mut self, name: &str, magic: u32, why: &str) -> Option<M> {
        let file = self.image(name, magic, why)?;
        if file.entries.is_empty() {
            if file.problem.is_none() {
                let msg = format!("{name} holds no entry; {why} is unknown");
                let offset = file.bytes.len() as u64;
                self.findings
                    .add(&verify::CRIU_ENTRY_DECODE, name, Some(offset), msg);
            }
            return None;
        }
        match file.decode::<M>(0) {
            Ok(m) => Some(m),
            Err(p) => {
                self.findings
                    .add(&verify::CRIU_ENTRY_DECODE, name, Some(p.offset), p.message);
                None
            }
        }
    }
}

fn m_name(magic: u32) -> Option<&'static str> {
    magic::lookup(magic).map(|(n, _)| n)
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file of files.img as ckdump uses it.
#[derive(Debug, Clone)]
struct RegFile {
    path: String,
    size: Option<u64>,
    mode: Option<u32>,
    flags: u32,
    pos: u64,
    build_id: Option<String>,
}

fn build_id_hex(words: &[u32]) -> Option<String> {
    (!words.is_empty()).then(|| {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

fn reg_file(r: RegFileEntry) -> RegFile {
    RegFile {
        build_id: build_id_hex(&r.build_id),
        path: r.name,
        size: r.size,
        mode: r.mode,
        flags: r.flags,
        pos: r.pos,
    }
}

fn task_state_name(state: u32) -> String {
    match state {
        1 => "alive".into(),
        // TASK_DEAD: what CRIU writes for an unreaped child (a zombie).
        2 => "dead".into(),
        3 => "stopped".into(),
        6 => "zombie".into(),
        other => format!("state {other}"),
    }
}

/// The tasks of pstree.img, checked.
fn process_tree(r: &mut Reader, dir: &Path) -> Result<Vec<PstreeEntry>> {
    let mut tasks: Vec<PstreeEntry> = r.entries("pstree.img", magic::PSTREE, "the process tree");
    let before = tasks.len();
    tasks.retain(|t| t.pid.is_some_and(|p| p != 0));
    if tasks.len() < before {
        r.findings.add(
            &verify::CRIU_PROCESS_TREE,
            "pstree.img",
            None,
            format!("{} pstree entries have no pid", before - tasks.len()),
        );
    }
    if tasks.is_empty() {
        let why = r
            .findings
            .list
            .iter()
            .rev()
            .find(|f| f.location.path.as_deref() == Some("pstree.img"))
            .map_or_else(|| "it lists no tasks".to_string(), |f| f.message.clone());
        return Err(Error::new(
            dir,
            ErrorKind::Malformed {
                offset: 0,
                what: format!("CRIU image directory without a usable pstree.img ({why})"),
            },
        ));
    }
    let mut pids = HashSet::new();
    let mut dupes = Vec::new();
    for t in &mut tasks {
        let pid = t.pid.unwrap_or_default();
        if !pids.insert(pid) {
            dupes.push(format!("pid {pid} is listed twice"));
        }
        if t.threads.is_empty() {
            // Images from before threads were recorded: the leader alone.
            t.threads.push(pid);
        }
    }
    let root = tasks[0].pid.unwrap_or_default();
    for t in tasks.iter().skip(1) {
        if !pids.contains(&t.ppid) {
            dupes.push(format!(
                "task {} names parent {}, which is not in the tree (root {root})",
                t.pid.unwrap_or_default(),
                t.ppid
            ));
        }
    }
    for d in dupes {
        r.findings
            .add(&verify::CRIU_PROCESS_TREE, "pstree.img", None, d);
    }
    Ok(tasks)
}

/// A task's memory: VMAs as regions, its pages, its auxv.
struct AddressSpace {
    regions: Vec<Region>,
    memory: PagemapMemory,
    mappings: Vec<FileMapping>,
    parent_pages: u64,
    lazy_pages: u64,
    /// Pages the pagemap places in this image's pages file.
    listed_present: u64,
    /// files.img ids the file-backed VMAs name.
    file_ids: Vec<u32>,
}

impl AddressSpace {
    /// The address space of a task without memory (a zombie).
    fn empty() -> Self {
        AddressSpace {
            regions: Vec::new(),
            memory: PagemapMemory::new(Vec::new(), Bytes::from_vec(Vec::new()), Vec::new()),
            mappings: Vec::new(),
            parent_pages: 0,
            lazy_pages: 0,
            listed_present: 0,
            file_ids: Vec::new(),
        }
    }
}

/// Reads pagemap-PID.img and its pages file into runs; checks both.
fn read_pagemap(
    r: &mut Reader,
    pid: u32,
    vmas: &[(u64, u64)],
    page_size: u64,
) -> (Vec<PageRun>, Bytes, u64, u64, u64) {
    let name = format!("pagemap-{pid}.img");
    let empty = Bytes::from_vec(Vec::new());
    let Some(file) = r.image(&name, magic::PAGEMAP, "the process's memory") else {
        return (Vec::new(), empty, 0, 0, 0);
    };
    let file = file.clone();
    let head = match file.decode::<PagemapHead>(0) {
        Ok(h) => h.pages_id,
        Err(p) => {
            r.findings
                .add(&verify::CRIU_ENTRY_DECODE, &name, Some(p.offset), p.message);
            None
        }
    };
    let pages_name = head.map(|id| format!("pages-{id}.img"));
    let pages = match &pages_name {
        Some(n) => match r.files.get(n) {
            Some(f) => f.bytes.clone(),
            None => {
                r.findings.add(
                    &verify::CRIU_IMAGE_MISSING,
                    n,
                    None,
                    format!("{n} is missing: {name} stores the process's pages in it"),
                );
                empty.clone()
            }
        },
        None => empty.clone(),
    };
    let pages_name = pages_name.unwrap_or_else(|| "pages-?.img".into());
    let mut runs = Vec::new();
    let mut cursor: u64 = 0;
    let (mut parent, mut lazy) = (0u64, 0u64);
    let mut last_end = 0u64;
    for i in 1..file.entries.len() {
        let e = match file.decode::<PagemapEntry>(i) {
            Ok(e) => e,
            Err(p) => {
                // The pages of an undecodable entry cannot be skipped: every
                // later offset in the pages file is unknown from here on.
                r.findings.add(
                    &verify::CRIU_ENTRY_DECODE,
                    &name,
                    Some(p.offset),
                    format!("{}; memory after it is not read", p.message),
                );
                break;
            }
        };
        let offset = file.entries[i].start as u64;
        let nr = e.nr_pages.unwrap_or(u64::from(e.compat_nr_pages));
        let flags = e.flags.unwrap_or(if e.in_parent == Some(true) {
            PE_PARENT
        } else {
            PE_PRESENT
        });
        let len = nr.checked_mul(page_size);
        let (Some(vaddr), Some(len)) = (e.vaddr, len) else {
            r.findings.add(
                &verify::CRIU_ENTRY_DECODE,
                &name,
                Some(offset),
                format!("{name} entry #{i} has no vaddr or an impossible size ({nr} pages); memory after it is not read"),
            );
            break;
        };
        let in_file = flags & PE_PARENT == 0 && flags & PE_PRESENT != 0;
        let source = if flags & PE_PARENT != 0 {
            parent += nr;
            PageSource::Parent
        } else if in_file {
            PageSource::Image { offset: cursor }
        } else if flags & PE_LAZY != 0 {
            lazy += nr;
            PageSource::Lazy
        } else {
            // Neither here, in the parent, nor lazy: nothing holds them.
            PageSource::Missing
        };
        let end = vaddr.checked_add(len);
        let mut problem = None;
        if nr == 0 {
            problem = Some("lists 0 pages".to_string());
        } else if vaddr % page_size != 0 {
            problem = Some(format!("vaddr {vaddr:#x} is not page-aligned"));
        } else if end.is_none() {
            problem = Some(format!("{nr} pages from {vaddr:#x} wrap the address space"));
        } else if let Some(end) = end
            && let Some(other) = claimed(&runs, vaddr, end)
        {
            // Two entries for one page: restore would fill it twice, and
            // which bytes the process saw is unknowable.
            r.findings.push(
                &verify::CRIU_PAGE_CLAIMED_TWICE,
                Finding::new(
                    &verify::CRIU_PAGE_CLAIMED_TWICE,
                    format!(
                        "{name} entry #{i}: pages {:#x}-{:#x} are already claimed by an earlier entry ({:#x}-{:#x}, {})",
                        vaddr.max(other.start),
                        end.min(other.end),
                        other.start,
                        other.end,
                        source_name(other.source)
                    ),
                )
                .at_offset(offset)
                .at_address(vaddr.max(other.start))
                .about_path(name.clone()),
            );
            if in_file {
                cursor = cursor.saturating_add(len);
            }
            continue;
        } else if vaddr < last_end {
            problem = Some(format!(
                "{vaddr:#x} lies before the end of the previous entry ({last_end:#x}): entries are out of order"
            ));
        }
        let end = end.unwrap_or(u64::MAX);
        // Without an mm image there are no VMAs to hold the entries to.
        if problem.is_none() && !vmas.is_empty() && !inside_vmas(vmas, vaddr, end) {
            problem = Some(format!(
                "{vaddr:#x}-{end:#x} is not inside the process's VMAs"
            ));
        }
        if in_file {
            cursor = cursor.saturating_add(len);
        }
        match problem {
            Some(p) => r.findings.push(
                &verify::CRIU_PAGEMAP_LAYOUT,
                Finding::new(
                    &verify::CRIU_PAGEMAP_LAYOUT,
                    format!("{name} entry #{i}: {p}"),
                )
                .at_offset(offset)
                .at_address(vaddr)
                .about_path(name.clone()),
            ),
            None => {
                last_end = end;
                runs.push(PageRun {
                    start: vaddr,
                    end,
                    source,
                });
            }
        }
    }
    let have = pages.len() as u64;
    if cursor > have {
        let lost = cursor - have;
        r.findings.add(
            &verify::CRIU_PAGES_SIZE,
            &pages_name,
            Some(have),
            format!(
                "{name} lists {} present pages ({cursor} bytes) but {pages_name} holds {have} bytes: {} pages past the cut are missing",
                cursor / page_size,
                lost.div_ceil(page_size)
            ),
        );
        runs = split_at_file_end(runs, have);
    } else if cursor < have && head.is_some() {
        r.findings.add(
            &verify::CRIU_PAGES_SIZE,
            &pages_name,
            Some(cursor),
            format!(
                "{pages_name} holds {have} bytes, {} more than the {} present pages {name} lists: a pagemap entry is missing and pages after it would be read from the wrong offset",
                have - cursor,
                cursor / page_size
            ),
        );
    }
    (runs, pages, parent, lazy, cursor / page_size)
}

/// The accepted run that shares a page with `[start, end)`, if any (runs
/// are sorted and disjoint).
fn claimed(runs: &[PageRun], start: u64, end: u64) -> Option<&PageRun> {
    let i = runs.partition_point(|r| r.end <= start);
    runs.get(i).filter(|r| r.start < end)
}

fn source_name(source: PageSource) -> &'static str {
    match source {
        PageSource::Image { .. } => "in this image",
        PageSource::Parent => "in the parent",
        PageSource::Lazy => "lazy",
        PageSource::Missing => "missing",
    }
}

/// Whether `[start, end)` lies inside the union of the (sorted) VMAs.
fn inside_vmas(vmas: &[(u64, u64)], start: u64, end: u64) -> bool {
    let mut at = start;
    let first = vmas.partition_point(|v| v.1 <= start);
    for &(s, e) in &vmas[first..] {
        if s > at {
            return false;
        }
        at = at.max(e);
        if at >= end {
            return true;
        }
    }
    at >= end
}

/// Runs whose bytes lie past the end of a cut pages file become Missing.
fn split_at_file_end(runs: Vec<PageRun>, file_len: u64) -> Vec<PageRun> {
    let mut out = Vec::with_capacity(runs.len() + 1);
    for run in runs {
        let PageSource::Image { offset } = run.source else {
            out.push(run);
            continue;
        };
        let len = run.end - run.start;
        if offset.saturating_add(len) <= file_len {
            out.push(run);
        } else if offset >= file_len {
            out.push(PageRun {
                source: PageSource::Missing,
                ..run
            });
        } else {
            let split = run.start + (file_len - offset);
            out.push(PageRun { end: split, ..run });
            out.push(PageRun {
                start: split,
                end: run.end,
                source: PageSource::Missing,
            });
        }
    }
    out
}

/// The address space of the parent snapshot (`DIR/parent`, as criu
/// pre-dump and incremental dumps leave it) for pages marked in-parent;
/// its own in-parent pages come from its parent in turn.
fn parent_memory(
    set: &dyn ImageSet,
    pid: u32,
    page_size: u64,
    depth: usize,
    findings: &mut Findings,
) -> Option<PagemapMemory> {
    let pset = set.parent()?;
    if depth >= MAX_PARENT_DEPTH || !pset.has_file(&format!("pagemap-{pid}.img")) {
        return None;
    }
    let mut pr = Reader::load(pset.as_ref()).ok()?;
    let mm_name = format!("mm-{pid}.img");
    let mm: Option<MmEntry> = if pr.files.contains_key(&mm_name) {
        pr.first(&mm_name, magic::MM, "the parent's memory map")
    } else {
        None
    };
    let mut vmas: Vec<(u64, u64)> = mm
        .iter()
        .flat_map(|m| &m.vmas)
        .filter_map(|v| Some((v.start?, v.end?)))
        .filter(|(s, e)| s < e)
        .collect();
    vmas.sort_unstable();
    let (runs, pages, in_parent, _, _) = read_pagemap(&mut pr, pid, &vmas, page_size);
    let mut memory = PagemapMemory::new(runs, pages, vmas);
    if in_parent > 0 {
        memory.parent =
            parent_memory(pset.as_ref(), pid, page_size, depth + 1, &mut pr.findings).map(Box::new);
    }
    findings.absorb(pr.findings, "parent/");
    Some(memory)
}

fn address_space(
    r: &mut Reader,
    set: &dyn ImageSet,
    pid: u32,
    mm: Option<&MmEntry>,
    files: &HashMap<u32, RegFile>,
    page_size: u64,
) -> AddressSpace {
    let mm_name = format!("mm-{pid}.img");
    let mut vmas: Vec<&VmaEntry> = Vec::new();
    let mut bad = 0usize;
    for v in mm.map(|m| m.vmas.as_slice()).unwrap_or_default() {
        match (v.start, v.end) {
            (Some(s), Some(e)) if s < e => vmas.push(v),
            _ => bad += 1,
        }
    }
    if bad > 0 {
        r.findings.add(
            &verify::CRIU_ENTRY_DECODE,
            &mm_name,
            None,
            format!("{bad} VMAs in {mm_name} lack a start or end, or end before they start; they are left out"),
        );
    }
    let vmas = checked_vmas(r, &mm_name, vmas, page_size);
    let ranges: Vec<(u64, u64)> = vmas
        .iter()
        .map(|v| (v.start.unwrap_or_default(), v.end.unwrap_or_default()))
        .collect();
    let (runs, pages, parent_pages, lazy_pages, listed_present) =
        read_pagemap(r, pid, &ranges, page_size);
    let mut memory = PagemapMemory::new(runs, pages, ranges.clone());
    let pagemap = r.files.get(&format!("pagemap-{pid}.img"));
    memory.pages_file = pagemap.and_then(pages::pages_file_of);
    if parent_pages > 0 {
        memory.parent = parent_memory(set, pid, page_size, 0, &mut r.findings).map(Box::new);
        if let Some(parent) = &memory.parent {
            check_parent_pages(r, pid, memory.runs(), parent, page_size);
        }
    }

    let mut regions = Vec::with_capacity(vmas.len());
    let mut mappings = Vec::new();
    let mut unresolved = Vec::new();
    for v in &vmas {
        let (start, end) = (v.start.unwrap_or_default(), v.end.unwrap_or_default());
        let file_backed = v.status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED) != 0;
        let file = if file_backed {
            let found = u32::try_from(v.shmid).ok().and_then(|id| files.get(&id));
            if found.is_none() {
                unresolved.push(format!("{start:#x}-{end:#x} (file id {})", v.shmid));
            }
            found.map(|f| RegionFile {
                path: f.path.clone(),
                offset: v.pgoff,
            })
        } else {
            None
        };
        if let Some(f) = &file {
            mappings.push(FileMapping {
                start,
                end,
                file_offset: f.offset,
                path: f.path.clone(),
                executable: Some(v.prot & PROT_EXEC != 0),
            });
        }
        let captured = memory.captured_bytes(start, end);
        let capture = if captured == 0 {
            Capture::Absent
        } else if captured >= end - start {
            Capture::Full
        } else {
            Capture::Partial { bytes: captured }
        };
        regions.push(Region {
            start,
            end,
            protection: Protection {
                read: v.prot & PROT_READ != 0,
                write: v.prot & PROT_WRITE != 0,
                execute: v.prot & PROT_EXEC != 0,
            },
            sharing: if v.flags & MAP_SHARED != 0 {
                Sharing::Shared
            } else if v.flags & MAP_PRIVATE != 0 {
                Sharing::Private
            } else {
                Sharing::Unknown
            },
            file,
            capture,
            // The bytes live in pages-N.img, not in one image file.
            image_offset: None,
            windows: None,
            linux: Some(LinuxRegion {
                mmap_flags: v.flags,
                vma_status: Some(v.status),
                madvise: v.madv,
            }),
        });
    }
    if !unresolved.is_empty() {
        r.findings.add(
            &verify::CRIU_REFERENCES,
            &mm_name,
            None,
            format!(
                "{} file-backed VMAs name files that files.img does not list: {}",
                unresolved.len(),
                unresolved
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    AddressSpace {
        regions,
        memory,
        mappings,
        parent_pages,
        lazy_pages,
        listed_present,
        file_ids: vmas
            .iter()
            .filter(|v| v.status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED) != 0)
            .filter_map(|v| u32::try_from(v.shmid).ok())
            .collect(),
    }
}

/// VMAs of `mm_name` in address order, each checked: page-aligned, in
/// ascending order in the image (CRIU writes them as the kernel lists
/// them), and disjoint. Of two overlapping VMAs the later is left out, so
/// the address space stays unambiguous.
fn checked_vmas<'a>(
    r: &mut Reader,
    mm_name: &str,
    mut vmas: Vec<&'a VmaEntry>,
    page_size: u64,
) -> Vec<&'a VmaEntry> {
    let mut problems = Vec::new();
    let mut prev: Option<(u64, u64)> = None;
    for (i, v) in vmas.iter().enumerate() {
        let (s, e) = (v.start.unwrap_or_default(), v.end.unwrap_or_default());
        if s % page_size != 0 || e % page_size != 0 {
            problems.push((s, format!("VMA #{i} {s:#x}-{e:#x} is not page-aligned")));
        }
        // Overlaps are reported after sorting; here only the order.
        if let Some((ps, pe)) = prev
            && s < ps
        {
            problems.push((
                s,
                format!("VMA #{i} {s:#x}-{e:#x} follows {ps:#x}-{pe:#x}: the VMAs are not in address order"),
            ));
        }
        prev = Some((s, e));
    }
    vmas.sort_by_key(|v| v.start);
    let mut kept: Vec<&VmaEntry> = Vec::with_capacity(vmas.len());
    for v in vmas {
        let (s, e) = (v.start.unwrap_or_default(), v.end.unwrap_or_default());
        if let Some(last) = kept.last() {
            let (ls, le) = (last.start.unwrap_or_default(), last.end.unwrap_or_default());
            if s < le {
                problems.push((
                    s,
                    format!("VMA {s:#x}-{e:#x} overlaps {ls:#x}-{le:#x}; it is left out"),
                ));
                continue;
            }
        }
        kept.push(v);
    }
    for (address, message) in problems {
        r.findings.push(
            &verify::CRIU_VMAS,
            Finding::new(&verify::CRIU_VMAS, format!("{mm_name}: {message}"))
                .at_address(address)
                .about_path(mm_name.to_string()),
        );
    }
    kept
}

/// Pages marked in-parent must be in the parent snapshot: a restore reads
/// them from there and fails when they are not.
fn check_parent_pages(
    r: &mut Reader,
    pid: u32,
    runs: &[PageRun],
    parent: &PagemapMemory,
    page_size: u64,
) {
    let name = format!("pagemap-{pid}.img");
    for run in runs.iter().filter(|r| r.source == PageSource::Parent) {
        let held = parent.captured_bytes(run.start, run.end);
        let len = run.end - run.start;
        if held < len {
            r.findings.push(
                &verify::CRIU_PARENT_PAGES,
                Finding::new(
                    &verify::CRIU_PARENT_PAGES,
                    format!(
                        "{name}: {:#x}-{:#x} is marked in-parent, but parent/ holds {} of its {} pages",
                        run.start,
                        run.end,
                        held / page_size,
                        len / page_size
                    ),
                )
                .at_address(run.start)
                .about_path(name.clone()),
            );
        }
    }
}

/// File-backed parts of the address space that the dump does not hold
/// (CRIU never dumps unmodified file pages).
fn absent_file_ranges(space: &AddressSpace) -> Vec<AbsentRange> {
    let mut out = Vec::new();
    for m in &space.mappings {
        let mut at = m.start;
        let runs = space.memory.runs();
        let first = runs.partition_point(|r| r.end <= m.start);
        for run in runs[first..].iter().take_while(|r| r.start < m.end) {
            if run.start > at {
                out.push(absent(m, at, run.start));
            }
            at = at.max(run.end);
        }
        if at < m.end {
            out.push(absent(m, at, m.end));
        }
    }
    out
}

fn absent(m: &FileMapping, start: u64, end: u64) -> AbsentRange {
    AbsentRange {
        start,
        end,
        file_offset: m.file_offset.saturating_add(start - m.start),
        path: m.path.clone(),
    }
}

/// Modules from the file-backed VMAs, with the build-ids CRIU recorded.
fn find_modules(
    space: &mut AddressSpace,
    auxv: &[AuxvEntry],
    files: &HashMap<u32, RegFile>,
    arch: Arch,
    page_size: u64,
    options: &OpenOptions,
) -> Vec<Module> {
    let recorded: HashMap<&str, &str> = files
        .values()
        .filter_map(|f| Some((f.path.as_str(), f.build_id.as_deref()?)))
        .collect();
    let with_ids = |mut modules: Vec<Module>| {
        for m in &mut modules {
            if m.build_id.is_none() {
                m.build_id = recorded.get(m.path.as_str()).map(|s| s.to_string());
            }
        }
        modules
    };
    let discover = |memory: &PagemapMemory| {
        linux_modules::discover_modules(
            memory,
            &space.mappings,
            auxv,
            arch.pointer_size(),
            page_size,
        )
    };
    let modules = with_ids(discover(&space.memory));
    if !options.use_host_files {
        return modules;
    }
    // With the original files (build-id checked) behind the undumped
    // pages, the ELF headers become readable: load biases, the in-memory
    // build-ids and the dynamic linker's list follow.
    let absent = absent_file_ranges(space);
    let filled = linux_modules::add_host_file_fallbacks(
        &mut space.memory.files,
        &modules,
        &absent,
        options.sysroot.as_deref(),
    );
    if filled == 0 {
        return modules;
    }
    with_ids(discover(&space.memory))
}

/// Space-separated command line from `[start, end)` of the process memory.
fn read_args(memory: &dyn Memory, start: u64, end: u64) -> Option<String> {
    let len = usize::try_from(end.checked_sub(start)?).ok()?.min(MAX_ARGS);
    if len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    let n = memory.read_available(start, &mut buf);
    if n == 0 {
        return None;
    }
    let text: Vec<String> = buf[..n]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some(text.join(" "))
}

fn fd_type_name(t: i32) -> String {
    const NAMES: [&str; 21] = [
        "UND",
        "REG",
        "PIPE",
        "FIFO",
        "INETSK",
        "UNIXSK",
        "EVENTFD",
        "EVENTPOLL",
        "INOTIFY",
        "SIGNALFD",
        "PACKETSK",
        "TTY",
        "FANOTIFY",
        "NETLINKSK",
        "NS",
        "TUNF",
        "EXT",
        "TIMERFD",
        "MEMFD",
        "BPFMAP",
        "PIDFD",
    ];
    usize::try_from(t)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("type {t}"), |s| s.to_string())
}

/// Reads the CRIU image directory `dir` into the common model.
pub fn read(dir: &Path, options: &OpenOptions) -> Result<Image> {
    read_set(&ImageDirectory::new(dir), options)
}

/// Reads the CRIU image set `set` (a directory, or an archive's
/// `checkpoint/`) into the common model.
pub fn read_set(set: &dyn ImageSet, options: &OpenOptions) -> Result<Image> {
    let dir = set.path();
    let mut r = Reader::load(set)?;
    let inventory: Option<InventoryEntry> =
        r.first("inventory.img", magic::INVENTORY, "the dump's version");
    let mut tasks = process_tree(&mut r, dir)?;
    let files = referenced_files(&mut r);
    let cores = task_cores(&mut r, &mut tasks);
    let arch = tree_arch(&tasks[0], &cores, dir)?;
    let tree = Tree {
        set,
        root_pid: tasks[0].pid.unwrap_or_default(),
        inventory: inventory.as_ref(),
        files: &files,
        cores: &cores,
        arch,
        options,
    };

    // Every task gets its own view: address space, modules, threads (up
    // to a bound a hostile pstree.img cannot push memory past).
    if tasks.len() > MAX_TASK_VIEWS {
        let f = Finding::new(
            &verify::CRIU_PROCESS_TREE,
            format!(
                "pstree.img lists {} tasks; the first {MAX_TASK_VIEWS} are read as processes, the others only listed",
                tasks.len()
            ),
        )
        .with_severity(verify::Severity::Warning)
        .about_path("pstree.img");
        r.findings.push(&verify::CRIU_PROCESS_TREE, f);
    }
    let mut views: Vec<TaskView> = Vec::with_capacity(tasks.len().min(MAX_TASK_VIEWS));
    for task in tasks.iter().take(MAX_TASK_VIEWS) {
        views.push(task_view(&mut r, &tree, task));
    }
    let mut pages = PageCounts::default();
    let (mut listed_present, mut listed_parent) = (0, 0);
    let mut uses: Vec<(u32, String)> = Vec::new();
    let mut xstate = Vec::new();
    for (i, v) in views.iter().enumerate() {
        pages.add(&v.space.memory.page_counts(0, u64::MAX, v.page_size));
        listed_present += v.space.listed_present;
        listed_parent += v.space.parent_pages;
        // The root's uses read `exe`, `fd 3`; other tasks' carry their pid.
        let prefix = if i == 0 {
            String::new()
        } else {
            format!("{}: ", v.pid)
        };
        uses.extend(
            v.uses
                .iter()
                .map(|(id, what)| (*id, format!("{prefix}{what}"))),
        );
        xstate.extend(v.xstate.iter().copied());
    }
    check_page_totals(&mut r, listed_present, listed_parent);

    let processes: Vec<ProcessRecord> = tasks
        .iter()
        .map(|t| {
            let tp = t.pid.unwrap_or_default();
            let tc = cores.get(&tp).and_then(|c| c.tc.as_ref());
            ProcessRecord {
                pid: u64::from(tp),
                ppid: u64::from(t.ppid),
                pgid: u64::from(t.pgid),
                sid: u64::from(t.sid),
                name: tc.map(|c| c.comm.clone()),
                state: tc.map(|c| task_state_name(c.task_state)),
                exit_code: tc.map(|c| c.exit_code),
                threads: t.threads.iter().map(|&x| u64::from(x)).collect(),
            }
        })
        .collect();

    let mut annotations = tree_annotations(&mut r, &tree);
    let mut views = views.into_iter();
    let Some(root) = views.next() else {
        // process_tree returns at least one task.
        return Err(Error::new(
            dir,
            ErrorKind::Malformed {
                offset: 0,
                what: "CRIU image directory without tasks".into(),
            },
        ));
    };
    let producer = Producer::Other(match inventory.as_ref().and_then(|i| i.img_version) {
        Some(2) => "CRIU (images v1.1)".to_string(),
        Some(v) => format!("CRIU (image version {v})"),
        None => "CRIU".to_string(),
    });
    let dump = dump_facts(&tree, &r, &pages);
    let other_processes: Vec<ProcessView> = views
        .map(|v| {
            let checkpoint = task_checkpoint(&tree, &v, &dump, None);
            v.into_process(checkpoint)
        })
        .collect();
    let checkpoint = task_checkpoint(
        &tree,
        &root,
        &dump,
        Some(TreeWide {
            pages,
            uses,
            xstate,
        }),
    );

    // --- the listing of every file ---
    let mut listing = Vec::with_capacity(r.files.len());
    let mut unknown = Vec::new();
    let mut size: u64 = 0;
    for (name, f) in &r.files {
        size = size.saturating_add(f.bytes.len() as u64);
        let magic = f.header.magic();
        let kind = f.magic_name();
        if magic.is_some() && kind.is_none() {
            unknown.push(name.clone());
        }
        listing.push(ImageFileRecord {
            name: name.clone(),
            size: f.bytes.len() as u64,
            magic,
            kind,
            entries: f.has_entries().then_some(f.entries.len() as u64),
        });
    }
    if !unknown.is_empty() {
        r.findings.push(
            &verify::CRIU_UNKNOWN_IMAGE,
            Finding::new(
                &verify::CRIU_UNKNOWN_IMAGE,
                format!(
                    "{} image files have a magic ckdump does not know: {}",
                    unknown.len(),
                    unknown.join(", ")
                ),
            ),
        );
    }
    annotations.extend(root.annotations.iter().cloned());
    let root_page_size = root.page_size;
    let mut process = root.into_process(checkpoint);
    // The root's own facts are the image's: listed with the dump's.
    process.annotations.clear();
    Ok(Image {
        path: dir.to_path_buf(),
        format: ImageFormat::CriuImages,
        compression: None,
        size,
        target: Target {
            page_size: root_page_size,
            ..Target::linux_process(arch)
        },
        producer,
        fault: None,
        timestamp: None,
        details: FormatDetails {
            annotations,
            processes,
            files: listing,
            ..FormatDetails::default()
        },
        findings: r.findings.finish(),
        process,
        other_processes,
    })
}

/// What every task's view is read against.
struct Tree<'a> {
    set: &'a dyn ImageSet,
    root_pid: u32,
    inventory: Option<&'a InventoryEntry>,
    files: &'a HashMap<u32, RegFile>,
    /// The core image of every thread that has a readable one.
    cores: &'a HashMap<u32, CoreEntry>,
    arch: Arch,
    options: &'a OpenOptions,
}

/// files.img (and reg-files.img of older dumps): the regular files by id.
fn referenced_files(r: &mut Reader) -> HashMap<u32, RegFile> {
    let mut files: HashMap<u32, RegFile> = HashMap::new();
    if r.files.contains_key("files.img") {
        r.each(
            "files.img",
            magic::FILES,
            "open and mapped files",
            |f: FileEntry| {
                if let Some(reg) = f.reg.filter(|_| f.r#type == FD_TYPE_REG) {
                    files.insert(f.id, reg_file(reg));
                }
            },
        );
    }
    if r.files.contains_key("reg-files.img") {
        r.each(
            "reg-files.img",
            magic::REG_FILES,
            "regular files",
            |reg: RegFileEntry| {
                files.entry(reg.id).or_insert_with(|| reg_file(reg));
            },
        );
    }
    if !r.files.contains_key("files.img") && !r.files.contains_key("reg-files.img") {
        r.findings.add(
            &verify::CRIU_IMAGE_MISSING,
            "files.img",
            None,
            "files.img is missing: mapped and open files have no paths".into(),
        );
    }
    files
}

/// core-TID.img of every thread of every task; a missing or damaged one is
/// a finding (by the reader) and is left out. A zombie's thread list is
/// replaced by its pid: CRIU fills in no thread ids for a task that has
/// exited (the one entry it writes holds whatever was in memory), and a
/// zombie has no threads to restore. Then every live task must list
/// itself among its threads, and no thread id may appear twice.
fn task_cores(r: &mut Reader, tasks: &mut [PstreeEntry]) -> HashMap<u32, CoreEntry> {
    let mut cores = HashMap::new();
    let core = |r: &mut Reader, tid: u32| {
        let name = format!("core-{tid}.img");
        let why = format!("thread {tid}'s registers and state");
        r.first::<CoreEntry>(&name, magic::CORE, &why)
    };
    let mut problems = Vec::new();
    let mut tids = HashSet::new();
    for t in tasks.iter_mut() {
        let pid = t.pid.unwrap_or_default();
        if let Some(c) = core(r, pid) {
            cores.insert(pid, c);
        }
        if is_exited(cores.get(&pid)) {
            t.threads = vec![pid];
        } else if !t.threads.contains(&pid) {
            problems.push(format!("task {pid} does not list itself among its threads"));
        }
        // A thread listed twice stays with the first task that lists it.
        let mut own = Vec::with_capacity(t.threads.len());
        for &tid in &t.threads {
            if !tids.insert(tid) {
                problems.push(format!("thread {tid} is listed twice"));
                continue;
            }
            own.push(tid);
            if tid != pid
                && let Some(c) = core(r, tid)
            {
                cores.insert(tid, c);
            }
        }
        t.threads = own;
    }
    for p in problems {
        r.findings
            .add(&verify::CRIU_PROCESS_TREE, "pstree.img", None, p);
    }
    cores
}

/// The tree's architecture, from the root leader's core (or any of the
/// root's threads); x86_64 when no core says.
fn tree_arch(root: &PstreeEntry, cores: &HashMap<u32, CoreEntry>, dir: &Path) -> Result<Arch> {
    let leader = root.pid.and_then(|p| cores.get(&p));
    let source = leader.or_else(|| root.threads.iter().find_map(|t| cores.get(t)));
    match source.map(threads::arch_of) {
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(Error::new(dir, ErrorKind::Unsupported(e))),
        None => Ok(Arch::X86_64),
    }
}

/// One task of the tree as a process of its own.
struct TaskView {
    pid: u32,
    process: Process,
    threads: Vec<Thread>,
    modules: Vec<Module>,
    space: AddressSpace,
    auxv: Vec<AuxvEntry>,
    page_size: u64,
    /// `[mm_start_brk, mm_brk)`.
    heap: Option<(u64, u64)>,
    annotations: Vec<(String, String)>,
    open_files: Vec<OpenFile>,
    /// (files.img id, what uses it), unprefixed: `exe`, `mapping`, `fd 3`.
    uses: Vec<(u32, String)>,
    xstate: Vec<ThreadXstate>,
}

impl TaskView {
    /// The task as a process view of the image, with its checkpoint facts.
    fn into_process(self, checkpoint: CheckpointInfo) -> ProcessView {
        ProcessView {
            facts: Some(self.process),
            threads: self.threads,
            modules: self.modules,
            regions: self.space.regions,
            memory: Arc::new(self.space.memory),
            auxv: self.auxv,
            checkpoint: Some(checkpoint),
            annotations: self.annotations,
        }
    }
}

/// Whether CRIU's task state is one without memory or threads: a zombie,
/// written as TASK_DEAD (2) or TASK_ZOMBIE (6), has a core image but no mm.
fn is_exited(core: Option<&CoreEntry>) -> bool {
    matches!(
        core.and_then(|c| c.tc.as_ref()).map(|t| t.task_state),
        Some(2 | 6)
    )
}

/// The view of `task`: its mm and pagemap as an address space, its
/// modules, its threads' registers, its descriptors and the facts the
/// model has no field for.
fn task_view(r: &mut Reader, tree: &Tree, task: &PstreeEntry) -> TaskView {
    let pid = task.pid.unwrap_or_default();
    let leader = tree.cores.get(&pid);
    let exited = is_exited(leader);
    let tc = leader.and_then(|c| c.tc.as_ref());

    let mm: Option<MmEntry> = if exited {
        None
    } else {
        r.first(&format!("mm-{pid}.img"), magic::MM, "the memory map")
    };
    let auxv: Vec<AuxvEntry> = mm
        .as_ref()
        .map(|m| {
            m.mm_saved_auxv
                .chunks_exact(2)
                .map(|p| AuxvEntry {
                    key: p[0],
                    value: p[1],
                })
                .take_while(|e| e.key != 0)
                .collect()
        })
        .unwrap_or_default();
    let page_size = linux_modules::auxv_value(&auxv, linux_modules::AT_PAGESZ)
        .and_then(plausible_page_size)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let mut space = if exited {
        AddressSpace::empty()
    } else {
        address_space(r, tree.set, pid, mm.as_ref(), tree.files, page_size)
    };
    let mut uses: Vec<(u32, String)> = space
        .file_ids
        .iter()
        .map(|&id| (id, "mapping".to_string()))
        .collect();
    if let Some(id) = mm.as_ref().and_then(|m| m.exe_file_id) {
        uses.insert(0, (id, "exe".into()));
    }
    let modules = if exited {
        Vec::new()
    } else {
        find_modules(
            &mut space,
            &auxv,
            tree.files,
            tree.arch,
            page_size,
            tree.options,
        )
    };
    let (threads, xstate) = task_threads(r, tree, task, exited);

    let creds = leader
        .and_then(|c| c.thread_core.as_ref())
        .and_then(|t| t.creds.as_ref());
    let exe = mm.as_ref().and_then(|m| m.exe_file_id);
    let executable = exe.and_then(|id| tree.files.get(&id).map(|f| f.path.clone()));
    if let Some(id) = exe
        && executable.is_none()
    {
        r.findings.add(
            &verify::CRIU_REFERENCES,
            &format!("mm-{pid}.img"),
            None,
            format!("exe_file_id {id} is not in files.img: the executable's path is unknown"),
        );
    }
    let process = Process {
        pid: Some(u64::from(pid)),
        ppid: Some(u64::from(task.ppid)),
        pgid: Some(u64::from(task.pgid)),
        sid: Some(u64::from(task.sid)),
        uid: creds.map(|c| u64::from(c.uid)),
        gid: creds.map(|c| u64::from(c.gid)),
        name: tc.map(|t| t.comm.clone()),
        args: mm
            .as_ref()
            .and_then(|m| read_args(&space.memory, m.mm_arg_start, m.mm_arg_end)),
        state: tc.and_then(|t| match t.task_state {
            3 => Some('T'),
            2 | 6 => Some('Z'),
            _ => None,
        }),
        nice: leader
            .and_then(|c| c.thread_core.as_ref())
            .and_then(|t| t.sched_nice)
            .map(i64::from),
        executable: executable
            .clone()
            .or_else(|| modules.iter().find(|m| m.is_main).map(|m| m.path.clone())),
    };

    let ids: Option<TaskKobjIdsEntry> = if r.files.contains_key(&format!("ids-{pid}.img")) {
        r.first(&format!("ids-{pid}.img"), magic::IDS, "the task's ids")
    } else {
        leader.and_then(|c| c.ids.clone()).or_else(|| {
            // inventory.img records the root task's ids only.
            tree.inventory
                .filter(|_| pid == tree.root_pid)
                .and_then(|i| i.root_ids.clone())
        })
    };
    let mut task_files = TaskFiles::default();
    let annotations = task_annotations(
        r,
        &TaskFacts {
            tree,
            pid,
            ids: ids.as_ref(),
            leader,
            mm: mm.as_ref(),
            executable: executable.as_deref(),
        },
        &space,
        &mut task_files,
    );
    uses.extend(task_files.uses);
    TaskView {
        pid,
        process,
        threads,
        modules,
        auxv,
        page_size,
        heap: mm.as_ref().map(|m| (m.mm_start_brk, m.mm_brk)),
        space,
        annotations,
        open_files: task_files.open_files,
        uses,
        xstate,
    }
}

/// The threads of `task` with their registers, and every thread's saved
/// xstate. An exited task has no user context to show.
fn task_threads(
    r: &mut Reader,
    tree: &Tree,
    task: &PstreeEntry,
    exited: bool,
) -> (Vec<Thread>, Vec<ThreadXstate>) {
    let pid = task.pid.unwrap_or_default();
    let arch = tree.arch;
    let mut out = Vec::new();
    let mut xstate = Vec::new();
    for &tid in &task.threads {
        let Some(core) = tree.cores.get(&tid) else {
            continue;
        };
        if let Some(x) = core
            .thread_info
            .as_ref()
            .and_then(|ti| ti.fpregs.as_ref())
            .and_then(|f| f.xsave.as_ref())
        {
            xstate.push(ThreadXstate {
                pid: u64::from(pid),
                tid: u64::from(tid),
                xstate_bv: x.xstate_bv,
            });
        }
        if exited {
            continue;
        }
        let name = format!("core-{tid}.img");
        match threads::arch_of(core) {
            Ok(a) if a == arch => {}
            Ok(a) => {
                r.findings.add(
                    &verify::CRIU_ENTRY_DECODE,
                    &name,
                    None,
                    format!("{name} is for {} but the task is {}", a.name(), arch.name()),
                );
                continue;
            }
            Err(e) => {
                r.findings.add(
                    &verify::CRIU_ENTRY_DECODE,
                    &name,
                    None,
                    format!("{name}: {e}"),
                );
                continue;
            }
        }
        let registers = match threads::registers(core, arch) {
            Ok(regs) => regs,
            Err(e) => {
                r.findings.add(
                    &verify::CRIU_ENTRY_DECODE,
                    &name,
                    None,
                    format!("{name}: {e}"),
                );
                continue;
            }
        };
        let thread_core = core.thread_core.as_ref();
        let is_leader = tid == pid;
        let leader_tc = core.tc.as_ref().filter(|_| is_leader);
        let comm = thread_core
            .and_then(|t| t.comm.clone())
            .or_else(|| leader_tc.map(|t| t.comm.clone()));
        let pending: Vec<Vec<u8>> = thread_core
            .and_then(|t| t.signals_p.as_ref())
            .map(|q| q.signals.iter().map(|s| s.siginfo.clone()).collect())
            .unwrap_or_default();
        out.push(Thread {
            tid: u64::from(tid),
            name: comm,
            registers,
            float: threads::float_state(core, arch),
            signal: leader_tc
                .filter(|t| t.task_state == 3)
                .and_then(|t| t.stop_signo)
                .and_then(|s| i32::try_from(s).ok()),
            pending_signals: Some(threads::signal_mask(&pending)),
            blocked_signals: thread_core
                .and_then(|t| t.blk_sigset)
                .or_else(|| leader_tc.map(|t| t.blk_sigset)),
            user_time_us: None,
            system_time_us: None,
        });
    }
    (out, xstate)
}

/// What only the root's checkpoint facts hold: totals and lists over the
/// whole tree.
struct TreeWide {
    pages: PageCounts,
    /// (files.img id, what uses it) of every task.
    uses: Vec<(u32, String)>,
    xstate: Vec<ThreadXstate>,
}

/// What every task's checkpoint facts share, read once per tree (dump.log
/// and the parent directory are not re-read for each task).
struct DumpFacts {
    kind: CheckpointKind,
    tool_version: Option<String>,
    image_version: Option<u32>,
    parent: Option<String>,
    parent_present: bool,
}

/// Full dump, incremental or pre-dump (from the files and page totals),
/// the writer's versions and the parent snapshot.
fn dump_facts(tree: &Tree, r: &Reader, pages: &PageCounts) -> DumpFacts {
    let set = tree.set;
    let parent = set.parent_link();
    let parent_present = set.parent().is_some_and(|p| p.has_file("inventory.img"));
    let kind = if !r.files.keys().any(|k| k.starts_with("core-")) {
        CheckpointKind::PreDump
    } else if parent.is_some() || parent_present || pages.in_parent > 0 {
        CheckpointKind::Incremental
    } else {
        CheckpointKind::Full
    };
    DumpFacts {
        kind,
        tool_version: tool_version(set),
        image_version: tree.inventory.and_then(|i| i.img_version),
        parent,
        parent_present,
    }
}

/// The checkpoint facts of one task: kind, version, page placement per
/// VMA, its descriptors and heap; with `tree_wide` (the root), the page
/// totals, files and saved CPU state of every task.
fn task_checkpoint(
    tree: &Tree,
    view: &TaskView,
    dump: &DumpFacts,
    tree_wide: Option<TreeWide>,
) -> CheckpointInfo {
    let space = &view.space;
    let vmas = space
        .regions
        .iter()
        .map(|reg| VmaPages {
            start: reg.start,
            end: reg.end,
            pages: reg.size() / view.page_size,
            counts: space.memory.page_counts(reg.start, reg.end, view.page_size),
        })
        .collect();
    let (pages, files, xstate) = match tree_wide {
        Some(w) => (w.pages, referenced(tree.files, &w.uses), w.xstate),
        None => (
            space.memory.page_counts(0, u64::MAX, view.page_size),
            Vec::new(),
            view.xstate.clone(),
        ),
    };
    CheckpointInfo {
        kind: dump.kind,
        tool_version: dump.tool_version.clone(),
        image_version: dump.image_version,
        parent: dump.parent.clone(),
        parent_present: dump.parent_present,
        pages,
        vmas,
        files,
        open_files: view.open_files.clone(),
        xstate,
        heap: view.heap,
    }
}

/// Every regular file of files.img, by id, with what uses it.
fn referenced(files: &HashMap<u32, RegFile>, uses: &[(u32, String)]) -> Vec<ReferencedFile> {
    let mut by_id: HashMap<u32, Vec<String>> = HashMap::new();
    let mut seen: HashSet<(u32, &str)> = HashSet::new();
    for (id, what) in uses {
        if seen.insert((*id, what.as_str())) {
            by_id.entry(*id).or_default().push(what.clone());
        }
    }
    let mut ids: Vec<&u32> = files.keys().collect();
    ids.sort();
    ids.into_iter()
        .map(|&id| {
            let f = &files[&id];
            let used = by_id.remove(&id).unwrap_or_default();
            ReferencedFile {
                id,
                path: f.path.clone(),
                size: f.size,
                mode: f.mode,
                build_id: f.build_id.clone(),
                uses: used,
            }
        })
        .collect()
}

/// The CRIU release from the `Version: 3.17.1` line criu's log starts
/// with (`-o dump.log` in the image directory, when it was kept there).
fn tool_version(set: &dyn ImageSet) -> Option<String> {
    const HEAD: usize = 4096;
    let bytes = set.read("dump.log").ok()??;
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD)]).into_owned();
    head.lines().take(8).find_map(|l| {
        let v = l.split("Version: ").nth(1)?;
        let v = v.split_whitespace().next()?;
        Some(v.to_string())
    })
}

/// The pagemaps' totals against what CRIU counted while dumping
/// (stats-dump): a lost pagemap entry together with its pages changes
/// the totals though every file is consistent on its own.
fn check_page_totals(r: &mut Reader, listed_present: u64, listed_parent: u64) {
    let Some(stats) = r.files.get("stats-dump") else {
        return;
    };
    let Ok(stats) = stats::dump_statistics(stats.bytes.clone()) else {
        return;
    };
    let mut problems = Vec::new();
    if stats.pages_written != listed_present {
        problems.push(format!(
            "the pagemaps list {listed_present} pages in this image, stats-dump says CRIU wrote {}",
            stats.pages_written
        ));
    }
    if stats.pages_skipped_parent != listed_parent {
        problems.push(format!(
            "the pagemaps list {listed_parent} pages in the parent, stats-dump says CRIU left {} there",
            stats.pages_skipped_parent
        ));
    }
    for p in problems {
        r.findings
            .add(&verify::CRIU_PAGE_TOTALS, "stats-dump", None, p);
    }
}

/// What a task's descriptors and fs image name.
#[derive(Default)]
struct TaskFiles {
    open_files: Vec<OpenFile>,
    /// (files.img id, what uses it).
    uses: Vec<(u32, String)>,
}

/// What a task's images say that the model has no field for.
struct TaskFacts<'a> {
    tree: &'a Tree<'a>,
    pid: u32,
    ids: Option<&'a TaskKobjIdsEntry>,
    leader: Option<&'a CoreEntry>,
    mm: Option<&'a MmEntry>,
    executable: Option<&'a str>,
}

/// The `criu.*` annotations of the whole dump: inventory, parent, time
/// namespace, seccomp filters and the regular files.
fn tree_annotations(r: &mut Reader, tree: &Tree) -> Vec<(String, String)> {
    let mut annotations: Vec<(String, String)> = Vec::new();
    if let Some(inv) = tree.inventory {
        if let Some(v) = inv.img_version {
            annotations.push(("criu.img_version".into(), v.to_string()));
        }
        let lsm = match inv.lsmtype {
            Some(0) | None => "none".to_string(),
            Some(1) => "SELinux".to_string(),
            Some(2) => "AppArmor".to_string(),
            Some(o) => format!("type {o}"),
        };
        annotations.push(("criu.lsm".into(), lsm));
        if let Some(ids) = &inv.root_ids {
            annotations.push(("criu.root_ids".into(), describe_ids(ids)));
        }
        if let Some(m) = inv.pre_dump_mode {
            annotations.push(("criu.pre_dump_mode".into(), m.to_string()));
        }
        if let Some(u) = inv.dump_uptime {
            annotations.push(("criu.dump_uptime_us".into(), u.to_string()));
        }
        if let Some(id) = &inv.dump_criu_run_id {
            annotations.push(("criu.run_id".into(), id.clone()));
        }
        if let Some(p) = inv.plugins_entry.as_ref().filter(|p| !p.plugins.is_empty()) {
            annotations.push(("criu.plugins".into(), p.plugins.join(", ")));
        }
    }
    if let Some(target) = tree.set.parent_link() {
        annotations.push(("criu.parent".into(), target));
    }
    let time_ns = tree
        .inventory
        .and_then(|i| i.root_ids.as_ref())
        .and_then(|i| i.time_ns_id);
    let timens_name = time_ns
        .map(|id| format!("timens-{id}.img"))
        .filter(|n| r.files.contains_key(n))
        .or_else(|| r.files.keys().find(|k| k.starts_with("timens-")).cloned());
    if let Some(name) = timens_name
        && let Some(t) = r.first::<TimensEntry>(&name, magic::TIMENS, "time namespace offsets")
    {
        for (key, ts) in [("monotonic", t.monotonic), ("boottime", t.boottime)] {
            if let Some(ts) = ts {
                annotations.push((
                    format!("criu.timens.{key}"),
                    format!("{}.{:09} s", ts.tv_sec, ts.tv_nsec),
                ));
            }
        }
    }
    if r.files.contains_key("seccomp.img") {
        let entries: Vec<SeccompEntry> =
            r.entries("seccomp.img", magic::SECCOMP, "seccomp filters");
        let filters: usize = entries.iter().map(|e| e.seccomp_filters.len()).sum();
        let instructions: usize = entries
            .iter()
            .flat_map(|e| &e.seccomp_filters)
            .map(|f| f.filter.len() / 8)
            .sum();
        annotations.push((
            "criu.seccomp".into(),
            format!("{filters} filters, {instructions} BPF instructions"),
        ));
    }
    let mut ids_sorted: Vec<&u32> = tree.files.keys().collect();
    ids_sorted.sort();
    for id in ids_sorted.into_iter().take(MAX_LISTED_FILES) {
        let f = &tree.files[id];
        let mut text = f.path.clone();
        if let Some(size) = f.size {
            text.push_str(&format!(" size {size}"));
        }
        if let Some(mode) = f.mode {
            text.push_str(&format!(" mode {mode:o}"));
        }
        if f.flags != 0 {
            text.push_str(&format!(" flags {:#o}", f.flags));
        }
        if let Some(b) = &f.build_id {
            text.push_str(&format!(" build-id {b}"));
        }
        annotations.push((format!("criu.file.{id}"), text));
    }

    annotations
}

/// The `criu.*` annotations of one task: pages kept elsewhere, ids, task
/// state, credentials, mm fields, signal dispositions, cwd/root,
/// descriptors and seccomp mode; reads the images they come from.
fn task_annotations(
    r: &mut Reader,
    facts: &TaskFacts,
    space: &AddressSpace,
    found: &mut TaskFiles,
) -> Vec<(String, String)> {
    let TaskFacts {
        tree,
        pid,
        ids,
        leader,
        mm,
        executable,
    } = *facts;
    let files = tree.files;
    let tc = leader.and_then(|c| c.tc.as_ref());
    let creds = leader
        .and_then(|c| c.thread_core.as_ref())
        .and_then(|t| t.creds.as_ref());
    let file_path = |id: u32| files.get(&id).map(|f| f.path.clone());
    let mut annotations: Vec<(String, String)> = Vec::new();
    if space.parent_pages > 0 || space.lazy_pages > 0 {
        annotations.push((
            "criu.pages_elsewhere".into(),
            format!(
                "{} in the parent snapshot, {} lazy",
                space.parent_pages, space.lazy_pages
            ),
        ));
        let parent_read = space.memory.parent.is_some();
        let unreadable = space.lazy_pages + if parent_read { 0 } else { space.parent_pages };
        if unreadable > 0 {
            let parent = if parent_read {
                "(read from parent/)"
            } else {
                "(no parent/ snapshot beside it)"
            };
            let f = Finding::new(
                &verify::CRIU_PAGES_ELSEWHERE,
                format!(
                    "pagemap-{pid}.img keeps {} pages in the parent snapshot {parent} and {} for lazy restore; {unreadable} pages cannot be read",
                    space.parent_pages, space.lazy_pages
                ),
            )
            .about_path(format!("pagemap-{pid}.img"));
            r.findings.push(&verify::CRIU_PAGES_ELSEWHERE, f);
        }
    }
    if let Some(ids) = &ids {
        annotations.push(("criu.ids".into(), describe_ids(ids)));
    }
    if let Some(t) = tc {
        annotations.push(("criu.task_state".into(), task_state_name(t.task_state)));
        annotations.push(("criu.exit_code".into(), t.exit_code.to_string()));
        annotations.push(("criu.personality".into(), format!("{:#x}", t.personality)));
        annotations.push(("criu.blk_sigset".into(), format!("{:#x}", t.blk_sigset)));
    }
    if let Some(c) = creds {
        annotations.push((
            "criu.creds".into(),
            format!(
                "uid {} gid {} euid {} egid {} suid {} sgid {} fsuid {} fsgid {} cap_eff {} cap_prm {} cap_bnd {} secbits {:#x}",
                c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid,
                caps(&c.cap_eff), caps(&c.cap_prm), caps(&c.cap_bnd), c.secbits
            ),
        ));
    }
    if let Some(m) = &mm {
        for (k, v) in [
            ("mm_start_code", m.mm_start_code),
            ("mm_end_code", m.mm_end_code),
            ("mm_start_data", m.mm_start_data),
            ("mm_end_data", m.mm_end_data),
            ("mm_start_stack", m.mm_start_stack),
            ("mm_start_brk", m.mm_start_brk),
            ("mm_brk", m.mm_brk),
            ("mm_arg_start", m.mm_arg_start),
            ("mm_arg_end", m.mm_arg_end),
            ("mm_env_start", m.mm_env_start),
            ("mm_env_end", m.mm_env_end),
        ] {
            annotations.push((format!("criu.{k}"), format!("{v:#x}")));
        }
        if let Some(id) = m.exe_file_id {
            let path = executable.unwrap_or("?");
            annotations.push(("criu.exe_file".into(), format!("{path} (file id {id})")));
        }
    }
    // Signal dispositions: in the leader's core, or sigacts-PID.img before
    // CRIU moved them there. Only handled or ignored signals are listed.
    let mut sigactions = tc.map(|t| t.sigactions.clone()).unwrap_or_default();
    let sigacts_name = format!("sigacts-{pid}.img");
    if sigactions.is_empty() && r.files.contains_key(&sigacts_name) {
        sigactions = r.entries(&sigacts_name, magic::SIGACT, "signal dispositions");
    }
    for (i, sa) in sigactions.iter().enumerate() {
        if sa.sigaction != 0 {
            annotations.push((
                format!("criu.sigaction.{}", i + 1),
                format!(
                    "handler {:#x} flags {:#x} restorer {:#x} mask {:#x}",
                    sa.sigaction, sa.flags, sa.restorer, sa.mask
                ),
            ));
        }
    }
    let fs_name = format!("fs-{pid}.img");
    if r.files.contains_key(&fs_name)
        && let Some(fs) = r.first::<FsEntry>(&fs_name, magic::FS, "cwd and root")
    {
        for (key, id) in [("cwd", fs.cwd_id), ("root", fs.root_id)] {
            found.uses.push((id, key.to_string()));
            match file_path(id) {
                Some(p) => annotations.push((format!("criu.{key}"), p)),
                None => r.findings.add(
                    &verify::CRIU_REFERENCES,
                    &fs_name,
                    None,
                    format!("the {key} (file id {id}) is not in files.img"),
                ),
            }
        }
        if let Some(u) = fs.umask {
            annotations.push(("criu.umask".into(), format!("{u:04o}")));
        }
    }
    let per_id = tree
        .inventory
        .and_then(|i| i.fdinfo_per_id)
        .unwrap_or(false);
    let fdinfo_name = match (&ids, per_id) {
        (Some(ids), true) => format!("fdinfo-{}.img", ids.files_id),
        _ => format!("fdinfo-{pid}.img"),
    };
    if r.files.contains_key(&fdinfo_name) {
        let fds: Vec<FdinfoEntry> = r.entries(&fdinfo_name, magic::FDINFO, "open descriptors");
        let mut missing = Vec::new();
        for (i, fd) in fds.into_iter().enumerate() {
            let reg = files.get(&fd.id).filter(|_| fd.r#type == FD_TYPE_REG);
            if reg.is_some() {
                found.uses.push((fd.id, format!("fd {}", fd.fd)));
            }
            if i < MAX_LISTED_FILES {
                found.open_files.push(OpenFile {
                    fd: fd.fd,
                    kind: fd_type_name(fd.r#type),
                    target: reg.map_or_else(
                        || format!("{} id {}", fd_type_name(fd.r#type), fd.id),
                        |f| f.path.clone(),
                    ),
                    flags: reg.map(|f| f.flags),
                    position: reg.map(|f| f.pos),
                });
            }
            let what = match files.get(&fd.id) {
                Some(f) => f.path.clone(),
                None if fd.r#type == FD_TYPE_REG => {
                    missing.push(fd.fd);
                    format!("file id {} (not in files.img)", fd.id)
                }
                None => format!("{} id {}", fd_type_name(fd.r#type), fd.id),
            };
            if i < MAX_LISTED_FILES {
                annotations.push((format!("criu.fd.{}", fd.fd), what));
            }
        }
        if !missing.is_empty() {
            r.findings.add(
                &verify::CRIU_REFERENCES,
                &fdinfo_name,
                None,
                format!(
                    "{} descriptors name regular files that files.img does not list, first {:?}",
                    missing.len(),
                    &missing[..missing.len().min(8)]
                ),
            );
        }
    }
    if let Some(mode) = leader
        .and_then(|c| c.thread_core.as_ref())
        .and_then(|t| t.seccomp_mode)
        .filter(|m| *m != 0)
    {
        let name = match mode {
            1 => "strict",
            2 => "filter",
            _ => "unknown",
        };
        annotations.push(("criu.seccomp_mode".into(), name.into()));
    }
    annotations
}

fn caps(words: &[u32]) -> String {
    let v = words
        .iter()
        .take(2)
        .enumerate()
        .fold(0u64, |acc, (i, w)| acc | u64::from(*w) << (32 * i));
    format!("{v:#x}")
}

fn describe_ids(ids: &TaskKobjIdsEntry) -> String {
    let mut parts = vec![
        format!("vm {}", ids.vm_id),
        format!("files {}", ids.files_id),
        format!("fs {}", ids.fs_id),
        format!("sighand {}", ids.sighand_id),
    ];
    for (name, v) in [
        ("pid_ns", ids.pid_ns_id),
        ("net_ns", ids.net_ns_id),
        ("ipc_ns", ids.ipc_ns_id),
        ("uts_ns", ids.uts_ns_id),
        ("mnt_ns", ids.mnt_ns_id),
        ("user_ns", ids.user_ns_id),
        ("cgroup_ns", ids.cgroup_ns_id),
        ("time_ns", ids.time_ns_id),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name} {v}"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests;
