//! Which memory a changed byte range of a sealed file holds: for a CRIU
//! `pages-N.img`, the pages, addresses and VMAs of the task whose pagemap
//! stores them there; for an ELF core sealed as one file, the segments'
//! addresses. Read from the opened [`Image`], never from the manifest.

use std::fmt::Write as _;

use crate::image::linux_modules::{AT_PAGESZ, auxv_value};
use crate::memory::StoredRun;
use crate::model::{Capture, Image, Region, Sharing};

/// VMA pieces named per changed range before the rest are counted.
const LISTED_PIECES: usize = 8;

/// What a changed byte range holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `pid 134: 1 page at 0x… of VMA 0x…-0x… rw-p [heap]`.
    pub text: String,
    /// The first address the range holds, for the finding's location.
    pub first_address: Option<u64>,
}

/// The processes whose address spaces `image` holds: the image's own and
/// every other process of a CRIU tree (each task has its pages files).
fn processes(image: &Image) -> Vec<&Image> {
    image.all_processes().collect()
}

/// Where `file` holds bytes of `image`'s address space, by file offset. A
/// single sealed file is the image itself: its regions say where their
/// bytes start (ELF cores); a directory's members are named by the
/// address space (CRIU pages files).
fn stored_runs(image: &Image, file: &str, single_file: bool) -> Vec<StoredRun> {
    let mut runs: Vec<StoredRun> = if single_file {
        image
            .regions
            .iter()
            .filter_map(|r| {
                let len = match r.capture {
                    Capture::Full => r.size(),
                    Capture::Partial { bytes } => bytes.min(r.size()),
                    Capture::Absent => 0,
                };
                (len > 0).then_some(StoredRun {
                    file: file.to_string(),
                    offset: r.image_offset?,
                    address: r.start,
                    len,
                })
            })
            .collect()
    } else {
        image
            .memory
            .stored_runs()
            .into_iter()
            .filter(|r| r.file == file)
            .collect()
    };
    runs.sort_by_key(|r| r.offset);
    runs
}

/// The memory bytes `[start, end)` of `file` hold, or None when `image`
/// keeps no memory in `file` (a file that is not a memory image).
pub fn describe(
    image: &Image,
    file: &str,
    single_file: bool,
    start: u64,
    end: u64,
) -> Option<Placement> {
    let mut text = String::new();
    let mut first_address = None;
    let mut any_runs = false;
    for process in processes(image) {
        let runs = stored_runs(process, file, single_file);
        if runs.is_empty() {
            continue;
        }
        any_runs = true;
        let page_size = auxv_value(&process.details.auxv, AT_PAGESZ)
            .filter(|p| p.is_power_of_two() && *p >= 1024)
            .unwrap_or(4096);
        let heap = process
            .details
            .checkpoint
            .as_ref()
            .and_then(|c| c.heap)
            .filter(|(s, e)| s < e);
        // Address intervals the range holds, in file order.
        let mut spans: Vec<(u64, u64)> = Vec::new();
        let mut placed = 0u64;
        let first = runs.partition_point(|r| r.offset.saturating_add(r.len) <= start);
        for run in runs[first..].iter().take_while(|r| r.offset < end) {
            let lo = run.offset.max(start);
            let hi = run.offset.saturating_add(run.len).min(end);
            if lo >= hi {
                continue;
            }
            placed += hi - lo;
            let a = run.address.saturating_add(lo - run.offset);
            spans.push((a, a.saturating_add(hi - lo)));
        }
        let who = match process.process.as_ref().and_then(|p| p.pid) {
            Some(pid) => format!("pid {pid}"),
            None => "the process".to_string(),
        };
        if !text.is_empty() {
            text.push_str("; ");
        }
        if spans.is_empty() {
            let _ = write!(text, "no memory of {who} is stored there");
            continue;
        }
        first_address = first_address.or(spans.first().map(|s| s.0));
        let pieces = split_by_region(&process.regions, &spans);
        let _ = write!(text, "{who}: ");
        for (i, p) in pieces.iter().take(LISTED_PIECES).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let pages = p.bytes.div_ceil(page_size);
            let noun = if pages == 1 { "page" } else { "pages" };
            if p.runs == 1 {
                let _ = write!(text, "{pages} {noun} at {:#x}..{:#x} ", p.start, p.end);
            } else {
                // Pages of one VMA the file holds apart (pages between them
                // were not dumped): one entry, not one per run.
                let _ = write!(
                    text,
                    "{pages} {noun} in {} runs within {:#x}..{:#x} ",
                    p.runs, p.start, p.end
                );
            }
            match p.region {
                Some(r) => {
                    let _ = write!(
                        text,
                        "of VMA {:#x}-{:#x} {}",
                        r.start,
                        r.end,
                        vma_label(r, heap)
                    );
                }
                None => text.push_str("outside every VMA"),
            }
        }
        if pieces.len() > LISTED_PIECES {
            let rest = &pieces[LISTED_PIECES..];
            let bytes: u64 = rest.iter().map(|p| p.bytes).sum();
            let _ = write!(
                text,
                " and {} more in {} other VMAs",
                bytes.div_ceil(page_size),
                rest.len()
            );
        }
        let unplaced = (end - start).saturating_sub(placed);
        if unplaced > 0 {
            let _ = write!(text, "; {unplaced} of the bytes hold no memory of {who}");
        }
    }
    any_runs.then_some(Placement {
        text,
        first_address,
    })
}

/// The parts of the spans inside one region (or outside all), in order.
struct Piece<'a> {
    /// From the first part's start to the last part's end.
    start: u64,
    end: u64,
    /// Bytes the parts cover.
    bytes: u64,
    /// Parts that do not touch each other.
    runs: usize,
    region: Option<&'a Region>,
}

/// Cuts address spans at region boundaries and gathers neighbouring parts
/// that fall in one region (a sparse VMA dumped in many pagemap runs) into
/// one piece.
fn split_by_region<'a>(regions: &'a [Region], spans: &[(u64, u64)]) -> Vec<Piece<'a>> {
    let mut out: Vec<Piece<'a>> = Vec::new();
    let mut push = |start: u64, end: u64, region: Option<&'a Region>| {
        if let Some(last) = out.last_mut()
            && start >= last.end
            && match (last.region, region) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            }
        {
            if start > last.end {
                last.runs += 1;
            }
            last.end = end;
            last.bytes += end - start;
        } else {
            out.push(Piece {
                start,
                end,
                bytes: end - start,
                runs: 1,
                region,
            });
        }
    };
    for &(s, e) in spans {
        let mut at = s;
        // Regions are sorted by start and disjoint (every reader keeps them so).
        let mut i = regions.partition_point(|r| r.end <= at);
        while at < e {
            match regions.get(i) {
                Some(r) if r.start <= at => {
                    // max(at): never backwards, even over overlapping regions.
                    let hi = r.end.min(e).max(at);
                    push(at, hi, Some(r));
                    at = hi;
                    i += 1;
                }
                next => {
                    let hi = next.map_or(e, |r| r.start.min(e));
                    push(at, hi, None);
                    at = hi;
                }
            }
        }
    }
    out
}

/// `rw-p [heap]`, `r--p /usr/lib/…/libc.so.6`, `rw-p (anonymous)`.
fn vma_label(r: &Region, heap: Option<(u64, u64)>) -> String {
    let special = r
        .linux
        .as_ref()
        .and_then(crate::analysis::mmap::special_mapping);
    let what = match (&r.file, special) {
        (Some(f), _) => f.path.clone(),
        (None, Some(label)) => label.to_string(),
        (None, None) if heap.is_some_and(|(s, _)| r.contains(s)) => "[heap]".to_string(),
        (None, None) => "(anonymous)".to_string(),
    };
    let share = match r.sharing {
        Sharing::Shared => 's',
        Sharing::Private | Sharing::Unknown => 'p',
    };
    // Control characters in a recorded path must not drive the terminal.
    let what: String = what
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    format!("{}{share} {what}", r.protection.rwx())
}
