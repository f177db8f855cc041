//! pagemap-PID.img and its pages file: where each dumped page is, checked
//! against the VMAs, the pages file's size, the parent snapshot and
//! stats-dump.

use crate::finding::{self, Finding};
use crate::memory::Bytes;

use super::pages::{PE_LAZY, PE_PARENT, PE_PRESENT, PageRun, PageSource, PagemapMemory};
use super::proto::*;
use super::*;

/// What a pagemap-PID.img says, with the pages file it names.
pub(super) struct PagemapRead {
    /// Accepted entries in address order.
    pub(super) runs: Vec<PageRun>,
    /// The pages file's bytes (empty when missing).
    pub(super) pages: Bytes,
    /// Pages marked in the parent snapshot.
    pub(super) parent_pages: u64,
    /// Pages left for lazy restore.
    pub(super) lazy_pages: u64,
    /// Pages the pagemap places in this image's pages file.
    pub(super) listed_present: u64,
}

impl PagemapRead {
    fn empty() -> Self {
        PagemapRead {
            runs: Vec::new(),
            pages: Bytes::from_vec(Vec::new()),
            parent_pages: 0,
            lazy_pages: 0,
            listed_present: 0,
        }
    }
}

/// Reads pagemap-PID.img and its pages file into runs; checks both.
pub(super) fn read_pagemap(
    r: &mut Reader,
    pid: u32,
    vmas: &[(u64, u64)],
    page_size: u64,
) -> PagemapRead {
    let name = format!("pagemap-{pid}.img");
    let empty = Bytes::from_vec(Vec::new());
    let Some(file) = r.image(&name, magic::PAGEMAP, "the process's memory") else {
        return PagemapRead::empty();
    };
    let file = file.clone();
    let head = match file.decode::<PagemapHead>(0) {
        Ok(h) => h.pages_id,
        Err(p) => {
            r.findings.add(
                &finding::CRIU_ENTRY_DECODE,
                &name,
                Some(p.offset),
                p.message,
            );
            None
        }
    };
    let pages_name = head.map(|id| format!("pages-{id}.img"));
    let pages = match &pages_name {
        Some(n) => match r.files.get(n) {
            Some(f) => f.bytes.clone(),
            None => {
                r.findings.add(
                    &finding::CRIU_IMAGE_MISSING,
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
    // Counts are sums of file-derived sizes: a hostile pagemap can push
    // them past u64, so they saturate and the overflow is a finding.
    let mut overflow = false;
    for i in 1..file.entries.len() {
        let e = match file.decode::<PagemapEntry>(i) {
            Ok(e) => e,
            Err(p) => {
                // The pages of an undecodable entry cannot be skipped: every
                // later offset in the pages file is unknown from here on.
                r.findings.add(
                    &finding::CRIU_ENTRY_DECODE,
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
                &finding::CRIU_ENTRY_DECODE,
                &name,
                Some(offset),
                format!("{name} entry #{i} has no vaddr or an impossible size ({nr} pages); memory after it is not read"),
            );
            break;
        };
        let in_file = flags & PE_PARENT == 0 && flags & PE_PRESENT != 0;
        let source = if flags & PE_PARENT != 0 {
            count(&mut parent, nr, &mut overflow);
            PageSource::Parent
        } else if in_file {
            PageSource::Image { offset: cursor }
        } else if flags & PE_LAZY != 0 {
            count(&mut lazy, nr, &mut overflow);
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
                &finding::CRIU_PAGE_CLAIMED_TWICE,
                Finding::new(
                    &finding::CRIU_PAGE_CLAIMED_TWICE,
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
                count(&mut cursor, len, &mut overflow);
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
            count(&mut cursor, len, &mut overflow);
        }
        match problem {
            Some(p) => r.findings.push(
                &finding::CRIU_PAGEMAP_LAYOUT,
                Finding::new(
                    &finding::CRIU_PAGEMAP_LAYOUT,
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
    if overflow {
        r.findings.push_listed(
            &finding::CRIU_PAGEMAP_LAYOUT,
            Finding::new(
                &finding::CRIU_PAGEMAP_LAYOUT,
                format!(
                    "{name}: the entries' page counts add up past 2^64; totals are capped and wrong"
                ),
            )
            .about_path(name.clone()),
        );
    }
    let have = pages.len() as u64;
    if cursor > have {
        let lost = cursor - have;
        r.findings.add(
            &finding::CRIU_PAGES_SIZE,
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
            &finding::CRIU_PAGES_SIZE,
            &pages_name,
            Some(cursor),
            format!(
                "{pages_name} holds {have} bytes, {} more than the {} present pages {name} lists: a pagemap entry is missing and pages after it would be read from the wrong offset",
                have - cursor,
                cursor / page_size
            ),
        );
    }
    PagemapRead {
        runs,
        pages,
        parent_pages: parent,
        lazy_pages: lazy,
        listed_present: cursor / page_size,
    }
}

/// Adds `n` to `total`, saturating; sets `overflow` when it would wrap.
fn count(total: &mut u64, n: u64, overflow: &mut bool) {
    match total.checked_add(n) {
        Some(t) => *total = t,
        None => {
            *total = u64::MAX;
            *overflow = true;
        }
    }
}

/// The accepted run that shares a page with `[start, end)`, if any (runs
/// are sorted and disjoint).
pub(super) fn claimed(runs: &[PageRun], start: u64, end: u64) -> Option<&PageRun> {
    let i = runs.partition_point(|r| r.end <= start);
    runs.get(i).filter(|r| r.start < end)
}

pub(super) fn source_name(source: PageSource) -> &'static str {
    match source {
        PageSource::Image { .. } => "in this image",
        PageSource::Parent => "in the parent",
        PageSource::Lazy => "lazy",
        PageSource::Missing => "missing",
    }
}

/// Whether `[start, end)` lies inside the union of the (sorted) VMAs.
pub(super) fn inside_vmas(vmas: &[(u64, u64)], start: u64, end: u64) -> bool {
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
pub(super) fn split_at_file_end(runs: Vec<PageRun>, file_len: u64) -> Vec<PageRun> {
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
pub(super) fn parent_memory(
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
    let read = read_pagemap(&mut pr, pid, &vmas, page_size);
    let mut memory = PagemapMemory::new(read.runs, read.pages, vmas);
    if read.parent_pages > 0 {
        memory.parent =
            parent_memory(pset.as_ref(), pid, page_size, depth + 1, &mut pr.findings).map(Box::new);
    }
    findings.absorb(pr.findings, "parent/");
    Some(memory)
}

/// Pages marked in-parent must be in the parent snapshot: a restore reads
/// them from there and fails when they are not.
pub(super) fn check_parent_pages(
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
                &finding::CRIU_PARENT_PAGES,
                Finding::new(
                    &finding::CRIU_PARENT_PAGES,
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

/// The pagemaps' totals against what CRIU counted while dumping
/// (stats-dump): a lost pagemap entry together with its pages changes
/// the totals though every file is consistent on its own.
pub(super) fn check_page_totals(r: &mut Reader, listed_present: u64, listed_parent: u64) {
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
            .add(&finding::CRIU_PAGE_TOTALS, "stats-dump", None, p);
    }
}
