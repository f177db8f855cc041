//! pstree.img: the tasks of the tree, their threads' core images, the
//! zombies among them, and the tree's architecture.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::finding::{self};
use crate::model::Arch;

use super::proto::*;
use super::*;

/// The tasks of pstree.img, checked.
pub(super) fn process_tree(r: &mut Reader, dir: &Path) -> Result<Vec<PstreeEntry>> {
    let mut tasks: Vec<PstreeEntry> = r.entries("pstree.img", magic::PSTREE, "the process tree");
    let before = tasks.len();
    tasks.retain(|t| t.pid.is_some_and(|p| p != 0));
    if tasks.len() < before {
        r.findings.add(
            &finding::CRIU_PROCESS_TREE,
            "pstree.img",
            None,
            format!("{} pstree entries have no pid", before - tasks.len()),
        );
    }
    if tasks.is_empty() {
        let why = r
            .findings
            .listed()
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
    // A pid listed again is read once: every repeat would otherwise cost a
    // whole process view (its mm, pagemap and modules read again).
    let mut repeats: HashMap<u32, usize> = HashMap::new();
    let mut pids = HashSet::new();
    tasks.retain(|t| {
        let pid = t.pid.unwrap_or_default();
        let first = pids.insert(pid);
        if !first {
            *repeats.entry(pid).or_default() += 1;
        }
        first
    });
    let mut dupes = Vec::new();
    let mut repeated: Vec<(u32, usize)> = repeats.into_iter().collect();
    repeated.sort_unstable();
    for (pid, n) in repeated {
        dupes.push(match n {
            1 => format!("pid {pid} is listed twice; it is read once"),
            n => format!("pid {pid} is listed {} times; it is read once", n + 1),
        });
    }
    for t in &mut tasks {
        let pid = t.pid.unwrap_or_default();
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
            .add(&finding::CRIU_PROCESS_TREE, "pstree.img", None, d);
    }
    Ok(tasks)
}

/// core-TID.img of every thread of every task; a missing or damaged one is
/// a finding (by the reader) and is left out. A zombie's thread list is
/// replaced by its pid: CRIU fills in no thread ids for a task that has
/// exited (the one entry it writes holds whatever was in memory), and a
/// zombie has no threads to restore. Then every live task must list
/// itself among its threads, and no thread id may appear twice.
pub(super) fn task_cores(r: &mut Reader, tasks: &mut [PstreeEntry]) -> HashMap<u32, CoreEntry> {
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
            .add(&finding::CRIU_PROCESS_TREE, "pstree.img", None, p);
    }
    cores
}

/// The tree's architecture, from the root leader's core (or any of the
/// root's threads); x86_64 when no core says.
pub(super) fn tree_arch(
    root: &PstreeEntry,
    cores: &HashMap<u32, CoreEntry>,
    dir: &Path,
) -> Result<Arch> {
    let leader = root.pid.and_then(|p| cores.get(&p));
    let source = leader.or_else(|| root.threads.iter().find_map(|t| cores.get(t)));
    match source.map(threads::arch_of) {
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(Error::new(dir, ErrorKind::Unsupported(e))),
        None => Ok(Arch::X86_64),
    }
}

/// Whether CRIU's task state is one without memory or threads: a zombie,
/// written as TASK_DEAD (2) or TASK_ZOMBIE (6), has a core image but no mm.
pub(super) fn is_exited(core: Option<&CoreEntry>) -> bool {
    matches!(
        core.and_then(|c| c.tc.as_ref()).map(|t| t.task_state),
        Some(2 | 6)
    )
}
