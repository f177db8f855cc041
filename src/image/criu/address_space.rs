//! A task's address space: mm-PID.img's VMAs as regions, its pages as
//! memory, the file mappings and the modules found in them.

use std::collections::HashMap;

use crate::finding::{self, Finding};
use crate::image::OpenOptions;
use crate::image::linux_modules::{self, AbsentRange, FileMapping};
use crate::memory::Bytes;
use crate::model::{
    Arch, AuxvEntry, Capture, LinuxMappingKind, LinuxRegion, Module, Protection, Region,
    RegionFile, Sharing,
};

use super::pages::{self, PagemapMemory};
use super::proto::*;
use super::*;

/// A task's memory: VMAs as regions, its pages, its auxv.
pub(super) struct AddressSpace {
    pub(super) regions: Vec<Region>,
    pub(super) memory: PagemapMemory,
    pub(super) mappings: Vec<FileMapping>,
    pub(super) parent_pages: u64,
    pub(super) lazy_pages: u64,
    /// Pages the pagemap places in this image's pages file.
    pub(super) listed_present: u64,
    /// files.img ids the file-backed VMAs name.
    pub(super) file_ids: Vec<u32>,
}

impl AddressSpace {
    /// The address space of a task without memory (a zombie).
    pub(super) fn empty() -> Self {
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

pub(super) fn address_space(
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
            &finding::CRIU_ENTRY_DECODE,
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
    let PagemapRead {
        runs,
        pages,
        parent_pages,
        lazy_pages,
        listed_present,
    } = read_pagemap(r, pid, &ranges, page_size);
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
                kind: Some(mapping_kind(v.status)),
            }),
        });
    }
    if !unresolved.is_empty() {
        r.findings.add(
            &finding::CRIU_REFERENCES,
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
pub(super) fn checked_vmas<'a>(
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
            &finding::CRIU_VMAS,
            Finding::new(&finding::CRIU_VMAS, format!("{mm_name}: {message}"))
                .at_address(address)
                .about_path(mm_name.to_string()),
        );
    }
    kept
}

/// File-backed parts of the address space that the dump does not hold
/// (CRIU never dumps unmodified file pages).
pub(super) fn absent_file_ranges(space: &AddressSpace) -> Vec<AbsentRange> {
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

pub(super) fn absent(m: &FileMapping, start: u64, end: u64) -> AbsentRange {
    AbsentRange {
        start,
        end,
        file_offset: m.file_offset.saturating_add(start - m.start),
        path: m.path.clone(),
    }
}

/// Modules from the file-backed VMAs, with the build-ids CRIU recorded.
pub(super) fn find_modules(
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

/// What CRIU's VMA status bits (criu/include/image.h) say the mapping is;
/// the special areas first, as a heap is also anonymous private memory.
pub(super) fn mapping_kind(status: u32) -> LinuxMappingKind {
    use LinuxMappingKind as K;
    const KINDS: [(u32, LinuxMappingKind); 16] = [
        (1 << 3, K::Vdso),
        (1 << 12, K::Vvar),
        (1 << 2, K::Vsyscall),
        (1 << 5, K::Heap),
        (1 << 1, K::Stack),
        (1 << 15, K::ShadowStack),
        (1 << 16, K::Guard),
        (1 << 13, K::AioRing),
        (1 << 10, K::SysvIpc),
        (1 << 11, K::Socket),
        (1 << 14, K::Memfd),
        (1 << 17, K::Uprobes),
        (VMA_FILE_SHARED, K::FileShared),
        (VMA_FILE_PRIVATE, K::FilePrivate),
        (1 << 8, K::AnonShared),
        (1 << 9, K::AnonPrivate),
    ];
    KINDS
        .iter()
        .find(|(bit, _)| status & bit != 0)
        .map_or(K::Other, |&(_, kind)| kind)
}
