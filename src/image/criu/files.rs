//! The files a dump refers to: files.img (and older reg-files.img) by
//! id, the descriptors a task holds, and what uses each file.

use std::collections::{HashMap, HashSet};

use crate::finding::{self};
use crate::model::{OpenFile, ReferencedFile};

use super::proto::*;
use super::*;

/// A file of files.img as ckdump uses it.
#[derive(Debug, Clone)]
pub(super) struct RegFile {
    pub(super) path: String,
    pub(super) size: Option<u64>,
    pub(super) mode: Option<u32>,
    pub(super) flags: u32,
    pub(super) pos: u64,
    pub(super) build_id: Option<String>,
}

pub(super) fn build_id_hex(words: &[u32]) -> Option<String> {
    (!words.is_empty()).then(|| {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        crate::byte_reader::hex(&bytes)
    })
}

pub(super) fn reg_file(r: RegFileEntry) -> RegFile {
    RegFile {
        build_id: build_id_hex(&r.build_id),
        path: r.name,
        size: r.size,
        mode: r.mode,
        flags: r.flags,
        pos: r.pos,
    }
}

pub(super) fn fd_type_name(t: i32) -> String {
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

/// files.img (and reg-files.img of older dumps): the regular files by id.
pub(super) fn referenced_files(r: &mut Reader) -> HashMap<u32, RegFile> {
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
            &finding::CRIU_IMAGE_MISSING,
            "files.img",
            None,
            "files.img is missing: mapped and open files have no paths".into(),
        );
    }
    files
}

/// Every regular file of files.img, by id, with what uses it.
pub(super) fn referenced(
    files: &HashMap<u32, RegFile>,
    uses: &[(u32, String)],
) -> Vec<ReferencedFile> {
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

/// What a task's descriptors and fs image name.
#[derive(Default)]
pub(super) struct TaskFiles {
    pub(super) open_files: Vec<OpenFile>,
    /// (files.img id, what uses it).
    pub(super) uses: Vec<(u32, String)>,
}
