//! What the whole dump says: full, incremental or pre-dump, the writer's
//! version, the inventory's facts, and each task's checkpoint facts.

use crate::model::{CheckpointInfo, CheckpointKind, PageCounts, ThreadXstate, VmaPages};

use super::proto::*;
use super::*;

/// What only the root's checkpoint facts hold: totals and lists over the
/// whole tree.
pub(super) struct TreeWide {
    pub(super) pages: PageCounts,
    /// (files.img id, what uses it) of every task.
    pub(super) uses: Vec<(u32, String)>,
    pub(super) xstate: Vec<ThreadXstate>,
}

/// What every task's checkpoint facts share, read once per tree (dump.log
/// and the parent directory are not re-read for each task).
pub(super) struct DumpFacts {
    pub(super) kind: CheckpointKind,
    pub(super) tool_version: Option<String>,
    pub(super) image_version: Option<u32>,
    pub(super) parent: Option<String>,
    pub(super) parent_present: bool,
}

/// Full dump, incremental or pre-dump (from the files and page totals),
/// the writer's versions and the parent snapshot.
pub(super) fn dump_facts(tree: &Tree, r: &Reader, pages: &PageCounts) -> DumpFacts {
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
pub(super) fn task_checkpoint(
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
    let root_ids = tree_wide
        .as_ref()
        .and(tree.inventory)
        .and_then(|i| i.root_ids.as_ref())
        .map(task_ids);
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
        root_ids,
        task: view.facts.clone(),
    }
}

/// The CRIU release from the `Version: 3.17.1` line criu's log starts
/// with (`-o dump.log` in the image directory, when it was kept there).
pub(super) fn tool_version(set: &dyn ImageSet) -> Option<String> {
    const HEAD: usize = 4096;
    let bytes = set.read("dump.log").ok()??;
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD)]).into_owned();
    head.lines().take(8).find_map(|l| {
        let v = l.split("Version: ").nth(1)?;
        let v = v.split_whitespace().next()?;
        Some(v.to_string())
    })
}

/// The `criu.*` annotations of the whole dump: inventory, parent, time
/// namespace, seccomp filters and the regular files.
pub(super) fn tree_annotations(r: &mut Reader, tree: &Tree) -> Vec<(String, String)> {
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
