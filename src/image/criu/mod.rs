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

mod address_space;
mod checkpoint;
mod files;
pub mod image_file;
mod magic;
mod pagemap;
pub mod pages;
mod process_tree;
mod proto;
mod reader;
mod source;
pub mod stats;
mod task;
mod threads;

pub use source::{ImageDirectory, ImageSet};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::image::OpenOptions;

use crate::finding::{self, Finding};
use crate::model::{
    Arch, FormatDetails, Image, ImageFileRecord, ImageFormat, PageCounts, ProcessRecord,
    ProcessView, Producer, Target, task_state_name,
};

use address_space::*;
use checkpoint::*;
use files::*;
use image_file::Header;
use pagemap::*;
use process_tree::*;
use proto::*;
use reader::*;
use task::*;

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
            &finding::CRIU_TASKS_CAPPED,
            format!(
                "pstree.img lists {} tasks; the first {MAX_TASK_VIEWS} are read as processes, the others only listed",
                tasks.len()
            ),
        )
        .about_path("pstree.img");
        r.findings.push(&finding::CRIU_TASKS_CAPPED, f);
    }
    let mut views: Vec<TaskView> = Vec::with_capacity(tasks.len().min(MAX_TASK_VIEWS));
    for task in tasks.iter().take(MAX_TASK_VIEWS) {
        views.push(task_view(&mut r, &tree, task));
    }
    let mut pages = PageCounts::default();
    let (mut listed_present, mut listed_parent) = (0u64, 0u64);
    let mut uses: Vec<(u32, String)> = Vec::new();
    let mut xstate = Vec::new();
    for (i, v) in views.iter().enumerate() {
        pages.add(&v.space.memory.page_counts(0, u64::MAX, v.page_size));
        // Saturating: each task's counts are file-derived (its pagemap
        // already reported an overflow of its own).
        listed_present = listed_present.saturating_add(v.space.listed_present);
        listed_parent = listed_parent.saturating_add(v.space.parent_pages);
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
    let task_ids: Vec<(u32, Option<crate::model::TaskIds>)> =
        views.iter().map(|v| (v.pid, v.facts.ids)).collect();
    check_shared_ids(&mut r, &task_ids);

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

    let annotations = tree_annotations(&mut r, &tree);
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
            &finding::CRIU_UNKNOWN_IMAGE,
            Finding::new(
                &finding::CRIU_UNKNOWN_IMAGE,
                format!(
                    "{} image files have a magic ckdump does not know: {}",
                    unknown.len(),
                    unknown.join(", ")
                ),
            ),
        );
    }
    let root_page_size = root.page_size;
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
        process: root.into_process(checkpoint),
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

#[cfg(test)]
mod tests;

/// (bit, name) for CRIU's VMA status (criu/include/image.h).
pub const VMA_STATUS_NAMES: &[(u32, &str)] = &[
    (1 << 0, "VMA_AREA_REGULAR"),
    (1 << 1, "VMA_AREA_STACK"),
    (1 << 2, "VMA_AREA_VSYSCALL"),
    (1 << 3, "VMA_AREA_VDSO"),
    (1 << 5, "VMA_AREA_HEAP"),
    (1 << 6, "VMA_FILE_PRIVATE"),
    (1 << 7, "VMA_FILE_SHARED"),
    (1 << 8, "VMA_ANON_SHARED"),
    (1 << 9, "VMA_ANON_PRIVATE"),
    (1 << 10, "VMA_AREA_SYSVIPC"),
    (1 << 11, "VMA_AREA_SOCKET"),
    (1 << 12, "VMA_AREA_VVAR"),
    (1 << 13, "VMA_AREA_AIORING"),
    (1 << 14, "VMA_AREA_MEMFD"),
    (1 << 15, "VMA_AREA_SHSTK"),
    (1 << 16, "VMA_AREA_GUARD"),
    (1 << 17, "VMA_AREA_UPROBES"),
    (1 << 27, "VMA_EXT_PLUGIN"),
    (1 << 28, "VMA_CLOSE"),
    (1 << 29, "VMA_NO_PROT_WRITE"),
    (1 << 30, "VMA_PREMMAPED"),
    (1 << 31, "VMA_UNSUPP"),
];
