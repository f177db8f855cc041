//! makedumpfile's `--split` dumps: N kdump-compressed files, each holding
//! the pages of one contiguous PFN range `[start_pfn, end_pfn)` (its
//! sub-header says which), all carrying the header, VMCOREINFO, notes and
//! bitmaps of the whole dump.
//!
//! The set reads as one image: each page is read in place through the
//! descriptors of the part that holds it, nothing is reassembled. Parts
//! are ordered by their PFN ranges, never by name or command-line order.
//! What is wrong with the set — a file of another dump, a range no part
//! holds, parts that overlap or repeat, one part given alone — is a
//! finding that names the file; the pages the given parts hold still read.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self, Finding};
use crate::memory::{Memory, MemoryError};
use crate::model::{Compression, Image, SplitPart, VmcoreFormat};

use super::kdump_compressed::{KdumpCompressed, KdumpHeader};
use super::{MakedumpfileFile, MakedumpfileImage, makedumpfile_image};

/// A part and the PFNs it answers for: its own range, less what a part
/// before it already holds.
struct ServedPart {
    first_pfn: u64,
    end_pfn: u64,
    dump: Arc<KdumpCompressed>,
    /// The part's file, named in the findings of its pages when the set
    /// has several.
    path: Option<String>,
}

/// The physical memory of a split set: each PFN read from the one part
/// that serves it.
pub struct SplitMemory {
    /// Non-empty, disjoint, sorted by `first_pfn`.
    served: Vec<ServedPart>,
    /// Answers for PFNs no part holds: its bitmaps (the whole dump's) tell
    /// RAM left out (not captured) from a hole (unmapped).
    first: Arc<KdumpCompressed>,
    page_size: u64,
}

impl SplitMemory {
    fn part_of(&self, pfn: u64) -> Option<&ServedPart> {
        let after = self.served.partition_point(|p| p.first_pfn <= pfn);
        let part = self.served.get(after.checked_sub(1)?)?;
        (pfn < part.end_pfn).then_some(part)
    }
}

impl Memory for SplitMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> std::result::Result<usize, MemoryError> {
        // A part reads at most to the end of the page, so a read never
        // crosses into another part's range.
        match self.part_of(address / self.page_size) {
            Some(part) => part.dump.read(address, buf),
            None => self.first.read(address, buf),
        }
    }

    fn check_pages(&self, progress: &dyn Fn(u64, u64)) -> Vec<crate::memory::PageCheck> {
        let total: u64 = self.served.iter().map(|p| p.dump.pages_to_check()).sum();
        let mut before = 0u64;
        let mut out = Vec::new();
        for part in &self.served {
            let found = part
                .dump
                .check_all_pages(&|done| progress(before + done, total));
            before += part.dump.pages_to_check();
            out.extend(found.into_iter().map(|c| crate::memory::PageCheck {
                file: part.path.clone(),
                ..c
            }));
        }
        out
    }

    fn captured_ranges(&self, start: u64, end: u64) -> Option<Vec<(u64, u64)>> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for part in &self.served {
            let from = part.first_pfn.saturating_mul(self.page_size).max(start);
            let to = part.end_pfn.saturating_mul(self.page_size).min(end);
            if from >= to {
                continue;
            }
            for (a, b) in part.dump.captured_ranges(from, to)? {
                match out.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => out.push((a, b)),
                }
            }
        }
        Some(out)
    }
}

/// The error for a file given with others that is no split part.
pub(crate) fn not_a_part(path: &Path, what: &str) -> Error {
    Error::new(
        path,
        ErrorKind::Unsupported(format!(
            "{what}, not a part of a makedumpfile --split dump: several paths are read as the parts \
             of one split dump (kdump-compressed files whose sub-header has the split flag); \
             give this file alone"
        )),
    )
}

/// Reads the parts of one split dump (in any order) as one image; a single
/// part reads as a set of one. Errors when a file is not a split part
/// (several files given) or the first part cannot be read as a kernel dump;
/// everything wrong with the set is a finding.
pub(crate) fn read_set(files: Vec<MakedumpfileFile>) -> Result<Image> {
    let given = files.len();
    if given > 1
        && let Some(whole) = files.iter().find(|f| !f.dump.is_split_part())
    {
        return Err(not_a_part(&whole.path, "a whole kdump-compressed dump"));
    }
    let mut files: Vec<(usize, MakedumpfileFile)> = files.into_iter().enumerate().collect();
    // By PFN range; the command line decides only between equal ranges.
    files.sort_by_key(|(i, f)| (f.dump.pfn_range(), *i));
    let candidates: Vec<Candidate> = files
        .into_iter()
        .map(|(_, f)| Candidate {
            path: f.path,
            size: f.size,
            format: f.format,
            compression: f.compression,
            findings: f.findings,
            dump: Arc::new(f.dump),
        })
        .collect();
    let Some(first) = candidates.first() else {
        return Err(Error::new(
            Path::new(""),
            ErrorKind::Unsupported("no file given".into()),
        ));
    };
    let several = given > 1;
    let first_dump = Arc::clone(&first.dump);
    let (first_path, format, compression) = (first.path.clone(), first.format, first.compression);
    let page_size = first_dump.page_size();
    let max_mapnr = first_dump.max_mapnr();
    let mut set_findings = Vec::new();
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut covered_to = 0u64;
    for part in candidates {
        let (start, end) = part.dump.pfn_range();
        let shown = part.path.display().to_string();
        if let Some(prev) = accepted.last() {
            let differences = differences(&first_dump, &part.dump);
            if !differences.is_empty() {
                set_findings.push(
                    Finding::new(
                        &finding::KDUMP_SPLIT_SAME_DUMP,
                        format!(
                            "{shown} is not a part of the dump {} belongs to ({}); its pages, \
                             PFNs [{start:#x}, {end:#x}), are left out",
                            first_path.display(),
                            differences.join("; ")
                        ),
                    )
                    .about_path(shown),
                );
                continue;
            }
            if (prev.start, prev.end) == (start, end) {
                let message = if prev.path == part.path {
                    format!("{shown} is given twice; it is read once")
                } else {
                    format!(
                        "{shown} holds the same PFNs [{start:#x}, {end:#x}) of the same dump as \
                         {} (a copy of that part); it is read once",
                        prev.path.display()
                    )
                };
                set_findings
                    .push(Finding::new(&finding::KDUMP_SPLIT_PART_ONCE, message).about_path(shown));
                continue;
            }
            let overlap_end = end.min(covered_to);
            if start < overlap_end {
                let holder = accepted
                    .iter()
                    .find(|a| a.start <= start && start < a.end)
                    .unwrap_or(prev);
                set_findings.push(
                    Finding::new(
                        &finding::KDUMP_SPLIT_DISJOINT,
                        format!(
                            "{shown} (PFNs [{start:#x}, {end:#x})) overlaps {} (PFNs [{:#x}, \
                             {:#x})) in PFNs [{start:#x}, {overlap_end:#x}): parts of two --split \
                             runs of this dump; those pages are read from {}",
                            holder.path.display(),
                            holder.start,
                            holder.end,
                            holder.path.display()
                        ),
                    )
                    .about_path(shown.clone())
                    .at_address(start.saturating_mul(page_size)),
                );
            }
        }
        if start > covered_to && several {
            set_findings.push(gap_finding(
                covered_to,
                start,
                &first_dump,
                page_size,
                &match accepted.last() {
                    Some(prev) => format!(
                        "between {} (ends at PFN {covered_to:#x}) and {shown}",
                        prev.path.display()
                    ),
                    None => format!("before {shown}, the part that starts lowest"),
                },
                accepted
                    .last()
                    .map_or(shown.clone(), |p| p.path.display().to_string()),
            ));
        }
        let served_from = start.max(covered_to);
        covered_to = covered_to.max(end);
        accepted.push(Accepted {
            start,
            end,
            served_from,
            path: part.path,
            size: part.size,
            findings: part.findings,
            dump: part.dump,
        });
    }
    let last = accepted
        .last()
        .map(|a| a.path.display().to_string())
        .unwrap_or_default();
    if covered_to < max_mapnr && several {
        set_findings.push(gap_finding(
            covered_to,
            max_mapnr,
            &first_dump,
            page_size,
            &format!("after {last}, the part that ends highest (max_mapnr {max_mapnr:#x})"),
            last,
        ));
    }
    if !several {
        set_findings.extend(alone_finding(&accepted[0], &first_dump, page_size));
    }

    let mut findings = Vec::new();
    for part in &mut accepted {
        for f in std::mem::take(&mut part.findings) {
            findings.push(if several && f.location.path.is_none() {
                f.about_path(part.path.display().to_string())
            } else {
                f
            });
        }
    }
    findings.extend(set_findings);
    let served = accepted
        .iter()
        .filter(|a| a.served_from < a.end)
        .map(|a| ServedPart {
            first_pfn: a.served_from,
            end_pfn: a.end,
            dump: Arc::clone(&a.dump),
            path: several.then(|| a.path.display().to_string()),
        })
        .collect();
    let writer_note = if several {
        format!("a --split set of {} files", accepted.len())
    } else {
        let (start, end) = first_dump.pfn_range();
        format!("one part of a --split set (PFNs [{start:#x}, {end:#x}))")
    };
    let split_parts = accepted
        .iter()
        .map(|a| SplitPart {
            path: a.path.clone(),
            start_pfn: a.start,
            end_pfn: a.end,
        })
        .collect();
    makedumpfile_image(MakedumpfileImage {
        path: &first_path,
        first: &first_dump,
        physical: Arc::new(SplitMemory {
            served,
            first: Arc::clone(&first_dump),
            page_size,
        }),
        format,
        compression,
        size: accepted.iter().map(|a| a.size).fold(0, u64::saturating_add),
        findings,
        split_parts,
        writer_note: Some(writer_note),
    })
}

/// A file of the set as it is weighed against the parts before it.
struct Candidate {
    path: std::path::PathBuf,
    size: u64,
    format: VmcoreFormat,
    compression: Option<Compression>,
    findings: Vec<Finding>,
    dump: Arc<KdumpCompressed>,
}

/// A part read into the set: its own range and the PFNs it serves.
struct Accepted {
    start: u64,
    end: u64,
    served_from: u64,
    path: std::path::PathBuf,
    size: u64,
    findings: Vec<Finding>,
    dump: Arc<KdumpCompressed>,
}

/// The PFNs `[from, to)` no given part holds.
fn gap_finding(
    from: u64,
    to: u64,
    first: &KdumpCompressed,
    page_size: u64,
    where_: &str,
    about: String,
) -> Finding {
    Finding::new(
        &finding::KDUMP_SPLIT_COMPLETE,
        format!(
            "no part given holds PFNs [{from:#x}, {to:#x}) ({where_}): a part of the set is \
             missing, and its {} dumped pages read as not captured",
            first.dumped_in(from, to)
        ),
    )
    .about_path(about)
    .at_address(from.saturating_mul(page_size))
}

/// A split part read alone: the ranges the rest of its set holds, when
/// any (a part may hold every dumped page, its siblings none).
fn alone_finding(part: &Accepted, dump: &KdumpCompressed, page_size: u64) -> Option<Finding> {
    let max_mapnr = dump.max_mapnr();
    let missing: Vec<(u64, u64)> = [(0, part.start), (part.end, max_mapnr)]
        .into_iter()
        .filter(|(a, b)| a < b)
        .collect();
    let first_missing = missing.first()?.0;
    let ranges: Vec<String> = missing
        .iter()
        .map(|(a, b)| format!("[{a:#x}, {b:#x})"))
        .collect();
    let lost: u64 = missing.iter().map(|&(a, b)| dump.dumped_in(a, b)).sum();
    Some(
        Finding::new(
            &finding::KDUMP_SPLIT_ALONE,
            format!(
                "{} is one part of a makedumpfile --split set and holds {}; PFNs {} ({lost} \
                 dumped pages) are in the rest of the set, which is needed: give all its files \
                 together",
                part.path.display(),
                if part.start < part.end {
                    format!("PFNs [{:#x}, {:#x}) only", part.start, part.end)
                } else {
                    "no page (its PFN range is empty)".to_string()
                },
                ranges.join(" and ")
            ),
        )
        .about_path(part.path.display().to_string())
        .at_address(first_missing.saturating_mul(page_size)),
    )
}

/// How `other` disagrees with `first` about which dump it belongs to; empty
/// when both are parts of one dump. Compression is not compared: parts of
/// one dump written with -c and -l hold the same pages.
fn differences(first: &KdumpCompressed, other: &KdumpCompressed) -> Vec<String> {
    let (a, b) = (first.header(), other.header());
    let mut out = Vec::new();
    let kernel = |h: &KdumpHeader| {
        [
            h.sysname.clone(),
            h.nodename.clone(),
            h.release.clone(),
            h.version.clone(),
            h.machine.clone(),
            h.domainname.clone(),
        ]
    };
    if kernel(a) != kernel(b) {
        out.push(format!(
            "its kernel is {} {} {}, not {} {} {}",
            b.release, b.version, b.machine, a.release, a.version, a.machine
        ));
    }
    if (a.timestamp_sec, a.timestamp_usec) != (b.timestamp_sec, b.timestamp_usec) {
        out.push(format!(
            "its dump time is {}.{:06}, not {}.{:06}",
            b.timestamp_sec, b.timestamp_usec, a.timestamp_sec, a.timestamp_usec
        ));
    }
    if (a.block_size, first.max_mapnr(), a.nr_cpus) != (b.block_size, other.max_mapnr(), b.nr_cpus)
    {
        out.push(format!(
            "its page size, max_mapnr and CPU count are {}, {:#x}, {}, not {}, {:#x}, {}",
            b.block_size,
            other.max_mapnr(),
            b.nr_cpus,
            a.block_size,
            first.max_mapnr(),
            a.nr_cpus
        ));
    }
    let (sa, sb) = (first.sub_header(), other.sub_header());
    let level = |s: Option<&super::kdump_compressed::KdumpSubHeader>| s.map(|s| s.dump_level);
    if level(sa) != level(sb) {
        let shown = |l: Option<i32>| l.map_or("unknown".to_string(), |l| l.to_string());
        out.push(format!(
            "its dump level is {}, not {}",
            shown(level(sb)),
            shown(level(sa))
        ));
    }
    if sa.map(|s| s.phys_base) != sb.map(|s| s.phys_base) {
        out.push("its phys_base differs".into());
    }
    if first.vmcoreinfo() != other.vmcoreinfo() {
        out.push("its VMCOREINFO differs".into());
    }
    // Unreadable bitmaps are the part's own finding (E7003), not a sign
    // of another dump.
    if first.bitmaps_read() && other.bitmaps_read() && !first.same_bitmaps(other) {
        out.push("its page bitmaps differ".into());
    }
    out
}
