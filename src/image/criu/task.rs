//! One task as a process view: its mm, threads and registers,
//! credentials, signal dispositions, descriptors, cwd and root.

use std::collections::HashMap;
use std::sync::Arc;

use crate::finding::{self, Finding};
use crate::image::linux_modules::{self};
use crate::memory::Memory;
use crate::model::{
    AuxvEntry, CheckpointInfo, MmFacts, Module, OpenFile, PagesElsewhere, Process, ProcessView,
    SignalAction, TaskCredentials, TaskFacts, TaskIds, TaskState, Thread, ThreadXstate,
};

use super::proto::*;
use super::*;

/// One task of the tree as a process of its own.
pub(super) struct TaskView {
    pub(super) pid: u32,
    pub(super) process: Process,
    pub(super) threads: Vec<Thread>,
    pub(super) modules: Vec<Module>,
    pub(super) space: AddressSpace,
    pub(super) auxv: Vec<AuxvEntry>,
    pub(super) page_size: u64,
    /// `[mm_start_brk, mm_brk)`.
    pub(super) heap: Option<(u64, u64)>,
    pub(super) facts: TaskFacts,
    pub(super) open_files: Vec<OpenFile>,
    /// (files.img id, what uses it), unprefixed: `exe`, `mapping`, `fd 3`.
    pub(super) uses: Vec<(u32, String)>,
    pub(super) xstate: Vec<ThreadXstate>,
}

impl TaskView {
    /// The task as a process view of the image, with its checkpoint facts.
    pub(super) fn into_process(self, checkpoint: CheckpointInfo) -> ProcessView {
        ProcessView {
            facts: Some(self.process),
            threads: self.threads,
            modules: self.modules,
            regions: self.space.regions,
            memory: Arc::new(self.space.memory),
            auxv: self.auxv,
            checkpoint: Some(checkpoint),
            // CRIU images do not record the PAC masks.
            pointer_auth: None,
        }
    }
}

/// The view of `task`: its mm and pagemap as an address space, its
/// modules, its threads' registers, its descriptors and the facts the
/// model has no field for.
pub(super) fn task_view(r: &mut Reader, tree: &Tree, task: &PstreeEntry) -> TaskView {
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
        .and_then(crate::model::plausible_page_size)
        .unwrap_or(crate::model::DEFAULT_PAGE_SIZE);
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
            &finding::CRIU_REFERENCES,
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

    let ids = task_kobj_ids(r, tree, pid, leader, exited);
    let mut task_files = TaskFiles::default();
    let facts = task_facts(
        r,
        &TaskSources {
            tree,
            pid,
            ids: ids.as_ref(),
            leader,
            mm: mm.as_ref(),
            executable: executable.as_deref(),
            exited,
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
        facts,
        open_files: task_files.open_files,
        uses,
        xstate,
    }
}

/// The threads of `task` with their registers, and every thread's saved
/// xstate. An exited task has no user context to show.
pub(super) fn task_threads(
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
        // A core of another machine, or registers that do not decode.
        let registers = match threads::arch_of(core) {
            Ok(a) if a == arch => {
                threads::registers(core, arch).map_err(|e| format!("{name}: {e}"))
            }
            Ok(a) => Err(format!(
                "{name} is for {} but the task is {}",
                a.name(),
                arch.name()
            )),
            Err(e) => Err(format!("{name}: {e}")),
        };
        let registers = match registers {
            Ok(regs) => regs,
            Err(message) => {
                r.findings
                    .add(&finding::CRIU_ENTRY_DECODE, &name, None, message);
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

/// Space-separated command line from `[start, end)` of the process memory.
pub(super) fn read_args(memory: &dyn Memory, start: u64, end: u64) -> Option<String> {
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

/// The images a task's facts are read from.
pub(super) struct TaskSources<'a> {
    pub(super) tree: &'a Tree<'a>,
    pub(super) pid: u32,
    pub(super) ids: Option<&'a TaskKobjIdsEntry>,
    pub(super) leader: Option<&'a CoreEntry>,
    pub(super) mm: Option<&'a MmEntry>,
    pub(super) executable: Option<&'a str>,
    /// A zombie: no fs, mm or ids images are written for it.
    pub(super) exited: bool,
}

/// The facts of one task: pages kept elsewhere, ids, task state,
/// credentials, mm fields, signal dispositions, cwd/root, descriptors and
/// seccomp mode; reads the images they come from.
pub(super) fn task_facts(
    r: &mut Reader,
    sources: &TaskSources,
    space: &AddressSpace,
    found: &mut TaskFiles,
) -> TaskFacts {
    let TaskSources {
        tree,
        pid,
        ids,
        leader,
        mm,
        executable,
        exited,
    } = *sources;
    let tc = leader.and_then(|c| c.tc.as_ref());
    let thread_core = leader.and_then(|c| c.thread_core.as_ref());
    let mut facts = TaskFacts {
        ids: ids.map(task_ids),
        state: tc.map(|t| TaskState {
            task_state: t.task_state,
            exit_code: t.exit_code,
            personality: u64::from(t.personality),
            blocked_signals: t.blk_sigset,
        }),
        credentials: thread_core
            .and_then(|t| t.creds.as_ref())
            .map(|c| TaskCredentials {
                uid: c.uid,
                gid: c.gid,
                euid: c.euid,
                egid: c.egid,
                suid: c.suid,
                sgid: c.sgid,
                fsuid: c.fsuid,
                fsgid: c.fsgid,
                cap_effective: capability_mask(&c.cap_eff),
                cap_permitted: capability_mask(&c.cap_prm),
                cap_bounding: capability_mask(&c.cap_bnd),
                secure_bits: u64::from(c.secbits),
            }),
        mm: mm.map(|m| MmFacts {
            start_code: m.mm_start_code,
            end_code: m.mm_end_code,
            start_data: m.mm_start_data,
            end_data: m.mm_end_data,
            start_stack: m.mm_start_stack,
            start_brk: m.mm_start_brk,
            brk: m.mm_brk,
            arg_start: m.mm_arg_start,
            arg_end: m.mm_arg_end,
            env_start: m.mm_env_start,
            env_end: m.mm_env_end,
            exe_file_id: m.exe_file_id,
            exe_path: executable.map(str::to_string),
        }),
        seccomp_mode: thread_core.and_then(|t| t.seccomp_mode).filter(|m| *m != 0),
        ..TaskFacts::default()
    };
    if space.parent_pages > 0 || space.lazy_pages > 0 {
        facts.pages_elsewhere = Some(PagesElsewhere {
            in_parent: space.parent_pages,
            lazy: space.lazy_pages,
        });
        let parent_read = space.memory.parent.is_some();
        let unreadable =
            space
                .lazy_pages
                .saturating_add(if parent_read { 0 } else { space.parent_pages });
        if unreadable > 0 {
            let parent = if parent_read {
                "(read from parent/)"
            } else {
                "(no parent/ snapshot beside it)"
            };
            let f = Finding::new(
                &finding::CRIU_PAGES_ELSEWHERE,
                format!(
                    "pagemap-{pid}.img keeps {} pages in the parent snapshot {parent} and {} for lazy restore; {unreadable} pages cannot be read",
                    space.parent_pages, space.lazy_pages
                ),
            )
            .about_path(format!("pagemap-{pid}.img"));
            r.findings.push(&finding::CRIU_PAGES_ELSEWHERE, f);
        }
    }
    // Signal dispositions: in the leader's core, or sigacts-PID.img before
    // CRIU moved them there. Only handled or ignored signals are listed.
    let mut sigactions = tc.map(|t| t.sigactions.clone()).unwrap_or_default();
    let sigacts_name = format!("sigacts-{pid}.img");
    if sigactions.is_empty() && r.files.contains_key(&sigacts_name) {
        sigactions = r.entries(&sigacts_name, magic::SIGACT, "signal dispositions");
    }
    facts.signal_actions = (1u32..)
        .zip(&sigactions)
        .filter(|(_, sa)| sa.sigaction != 0)
        .map(|(signo, sa)| SignalAction {
            signo,
            handler: sa.sigaction,
            flags: sa.flags,
            restorer: sa.restorer,
            mask: sa.mask,
        })
        .collect();
    // Without its core the task's state is unknown (already a finding);
    // a zombie has no fs image.
    if leader.is_some() && !exited {
        read_fs(r, tree, pid, &mut facts, found);
    }
    read_descriptors(r, tree, pid, ids, found);
    facts
}

/// cwd, root and umask from fs-PID.img, which CRIU writes for every live
/// task (restore fails without it).
fn read_fs(r: &mut Reader, tree: &Tree, pid: u32, facts: &mut TaskFacts, found: &mut TaskFiles) {
    let fs_name = format!("fs-{pid}.img");
    let Some(fs) = r.first::<FsEntry>(&fs_name, magic::FS, "the task's cwd and root") else {
        return;
    };
    for (key, id) in [("cwd", fs.cwd_id), ("root", fs.root_id)] {
        found.uses.push((id, key.to_string()));
        let path = tree.files.get(&id).map(|f| f.path.clone());
        if path.is_none() {
            r.findings.add(
                &finding::CRIU_REFERENCES,
                &fs_name,
                None,
                format!("the {key} (file id {id}) is not in files.img"),
            );
        }
        match key {
            "cwd" => facts.cwd = path,
            _ => facts.root = path,
        }
    }
    facts.umask = fs.umask;
}

/// The task's descriptors (fdinfo-PID.img, or per files id) into `found`.
fn read_descriptors(
    r: &mut Reader,
    tree: &Tree,
    pid: u32,
    ids: Option<&TaskKobjIdsEntry>,
    found: &mut TaskFiles,
) {
    let files = tree.files;
    let per_id = tree
        .inventory
        .and_then(|i| i.fdinfo_per_id)
        .unwrap_or(false);
    let fdinfo_name = match (ids, per_id) {
        (Some(ids), true) => format!("fdinfo-{}.img", ids.files_id),
        _ => format!("fdinfo-{pid}.img"),
    };
    if !r.files.contains_key(&fdinfo_name) {
        return;
    }
    let fds: Vec<FdinfoEntry> = r.entries(&fdinfo_name, magic::FDINFO, "open descriptors");
    let mut missing = Vec::new();
    for (i, fd) in fds.into_iter().enumerate() {
        let reg = files.get(&fd.id).filter(|_| fd.r#type == FD_TYPE_REG);
        if reg.is_some() {
            found.uses.push((fd.id, format!("fd {}", fd.fd)));
        } else if fd.r#type == FD_TYPE_REG {
            missing.push(fd.fd);
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
                file_id: fd.id,
            });
        }
    }
    if !missing.is_empty() {
        r.findings.add(
            &finding::CRIU_REFERENCES,
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

/// The task's kernel object and namespace ids: ids-PID.img, which CRIU
/// writes for every live task; else the core's copy, else (the root only)
/// inventory.img's. A live task with none, or whose ids-PID.img disagrees
/// with its core's copy, is a finding.
fn task_kobj_ids(
    r: &mut Reader,
    tree: &Tree,
    pid: u32,
    leader: Option<&CoreEntry>,
    exited: bool,
) -> Option<TaskKobjIdsEntry> {
    let name = format!("ids-{pid}.img");
    let in_core = leader.and_then(|c| c.ids.as_ref());
    if !r.files.contains_key(&name) {
        // Required of a task whose core says it is alive and holds no copy.
        if exited || leader.is_none() || in_core.is_some() {
            return in_core.cloned().or_else(|| {
                tree.inventory
                    .filter(|_| pid == tree.root_pid)
                    .and_then(|i| i.root_ids.clone())
            });
        }
        // Reported as missing; the root still has inventory.img's copy.
        r.image(
            &name,
            magic::IDS,
            "the task's ids (namespaces, shared objects)",
        );
        return tree
            .inventory
            .filter(|_| pid == tree.root_pid)
            .and_then(|i| i.root_ids.clone());
    }
    let ids: Option<TaskKobjIdsEntry> = r.first(&name, magic::IDS, "the task's ids");
    if let (Some(file), Some(core)) = (&ids, in_core)
        && file != core
    {
        r.findings.add(
            &finding::CRIU_PROCESS_TREE,
            &name,
            None,
            format!(
                "{name} (vm {} files {}) disagrees with core-{pid}.img's ids (vm {} files {}): it belongs to another task",
                file.vm_id, file.files_id, core.vm_id, core.files_id
            ),
        );
    }
    ids
}

/// Distinct processes never share an mm or signal handlers in a dump
/// (CRIU refuses CLONE_VM without CLONE_THREAD): two tasks with one vm or
/// sighand id mean an ids-PID.img is another task's.
pub(super) fn check_shared_ids(r: &mut Reader, tasks: &[(u32, Option<TaskIds>)]) {
    let mut vm: HashMap<u32, u32> = HashMap::new();
    let mut sighand: HashMap<u32, u32> = HashMap::new();
    for &(pid, ids) in tasks {
        let Some(ids) = ids else { continue };
        for (what, id, seen) in [
            ("vm", ids.vm, &mut vm),
            ("sighand", ids.sighand, &mut sighand),
        ] {
            if let Some(&other) = seen.get(&id) {
                r.findings.add(
                    &finding::CRIU_PROCESS_TREE,
                    &format!("ids-{pid}.img"),
                    None,
                    format!(
                        "tasks {other} and {pid} both have {what} id {id}: separate processes never share it, so ids-{other}.img or ids-{pid}.img is another task's"
                    ),
                );
                break;
            } else {
                seen.insert(id, pid);
            }
        }
    }
}

/// The first two 32-bit words of a capability set as one mask.
fn capability_mask(words: &[u32]) -> u64 {
    words
        .iter()
        .take(2)
        .enumerate()
        .fold(0u64, |acc, (i, w)| acc | u64::from(*w) << (32 * i))
}

pub(super) fn task_ids(ids: &TaskKobjIdsEntry) -> TaskIds {
    TaskIds {
        vm: ids.vm_id,
        files: ids.files_id,
        fs: ids.fs_id,
        sighand: ids.sighand_id,
        pid_ns: ids.pid_ns_id,
        net_ns: ids.net_ns_id,
        ipc_ns: ids.ipc_ns_id,
        uts_ns: ids.uts_ns_id,
        mnt_ns: ids.mnt_ns_id,
        user_ns: ids.user_ns_id,
        cgroup_ns: ids.cgroup_ns_id,
        time_ns: ids.time_ns_id,
    }
}
