//! What a checkpoint (a CRIU image set) says beyond threads and regions:
//! what kind of checkpoint it is, where each VMA's pages are, the files a
//! restore must find, the open descriptors, and the per-thread CPU state a
//! restore must load. Restore-readiness checks (`verify::restore`) and the
//! inspect report read it; no other format fills it.
//!
//! Several processes: each process of a tree is an `Image` of its own (the
//! root, and `Image::other_processes`), and each has a `CheckpointInfo`
//! with its own VMAs, descriptors and heap. The root's also holds what a
//! restore needs of the whole tree: page totals over every pagemap, the
//! files any task refers to, and every thread's saved xstate.

use serde::Serialize;

use crate::finding::serialize_hex_u64;

/// How the checkpoint relates to others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    /// Self-contained: every dumped page is in this image set.
    Full,
    /// Pages that did not change are kept in a parent snapshot
    /// (`criu dump --prev-images-dir`, after a pre-dump or a dump).
    Incremental,
    /// Memory only, no task state (`criu pre-dump`): restores nothing alone.
    PreDump,
}

impl CheckpointKind {
    pub fn name(self) -> &'static str {
        match self {
            CheckpointKind::Full => "full dump",
            CheckpointKind::Incremental => "incremental dump",
            CheckpointKind::PreDump => "pre-dump",
        }
    }
}

/// Pages by where their bytes are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PageCounts {
    /// In this image set's pages files.
    pub in_image: u64,
    /// Kept in the parent snapshot (PE_PARENT).
    pub in_parent: u64,
    /// Left for the lazy-pages daemon (PE_LAZY without PE_PRESENT).
    pub lazy: u64,
    /// Listed by the pagemap but held by no file: past the end of a cut
    /// pages file, in-parent without a parent that has them, or flagged as
    /// neither present, in-parent nor lazy.
    pub missing: u64,
}

impl PageCounts {
    pub fn listed(&self) -> u64 {
        // Saturating: counts come from files and may be hostile.
        self.in_image
            .saturating_add(self.in_parent)
            .saturating_add(self.lazy)
            .saturating_add(self.missing)
    }
    pub fn add(&mut self, other: &PageCounts) {
        self.in_image = self.in_image.saturating_add(other.in_image);
        self.in_parent = self.in_parent.saturating_add(other.in_parent);
        self.lazy = self.lazy.saturating_add(other.lazy);
        self.missing = self.missing.saturating_add(other.missing);
    }
}

/// One VMA of a task and where its pages are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmaPages {
    #[serde(serialize_with = "serialize_hex_u64")]
    pub start: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub end: u64,
    /// Pages the VMA spans.
    pub pages: u64,
    #[serde(flatten)]
    pub counts: PageCounts,
}

/// A regular file the checkpoint refers to, as files.img records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferencedFile {
    /// The file id entries use (files.img `id`).
    pub id: u32,
    pub path: String,
    /// Size at dump time; CRIU records it except for files opened
    /// write-only with O_APPEND (logs), and restore refuses another size.
    pub size: Option<u64>,
    /// `st_mode` at dump time (type and permission bits).
    pub mode: Option<u32>,
    /// GNU build-id of an ELF file, as CRIU recorded it.
    pub build_id: Option<String>,
    /// What uses it: `exe`, `mapping`, `fd 3`, `cwd`, `root` (pid-prefixed
    /// for tasks other than the root: `137: fd 4`).
    pub uses: Vec<String>,
}

/// One open descriptor of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenFile {
    pub fd: u32,
    /// `REG`, `PIPE`, `UNIXSK`… as CRIU names descriptor types.
    pub kind: String,
    /// The path for regular files; the type and id otherwise.
    pub target: String,
    /// Open flags (O_WRONLY, O_APPEND…) for regular files.
    pub flags: Option<u32>,
    /// File position for regular files.
    pub position: Option<u64>,
    /// The files.img id the descriptor names.
    pub file_id: u32,
}

/// The saved extended CPU state of one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThreadXstate {
    pub pid: u64,
    pub tid: u64,
    /// XSTATE_BV of the saved XSAVE area: the components in use.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub xstate_bv: u64,
}

/// Facts of a checkpoint (CRIU image set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    pub kind: CheckpointKind,
    /// The CRIU release that wrote it (from dump.log, when kept).
    pub tool_version: Option<String>,
    /// inventory.img's img_version.
    pub image_version: Option<u32>,
    /// Where `parent` points, for incremental dumps.
    pub parent: Option<String>,
    /// Whether that parent snapshot is there to read.
    pub parent_present: bool,
    /// Pages of every task's pagemap (the root's), or of this task's.
    pub pages: PageCounts,
    /// This task's VMAs, in address order.
    pub vmas: Vec<VmaPages>,
    /// Regular files referred to by any task (the root's; empty in the
    /// other processes').
    pub files: Vec<ReferencedFile>,
    /// This task's descriptors, by fd.
    pub open_files: Vec<OpenFile>,
    /// XSAVE state of every thread of every task (x86) in the root's; of
    /// this task's threads in the other processes'.
    pub xstate: Vec<ThreadXstate>,
    /// `[mm_start_brk, mm_brk)` of this task.
    pub heap: Option<(u64, u64)>,
    /// The root task's kernel object and namespace ids as inventory.img
    /// records them (the root's only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_ids: Option<TaskIds>,
    /// What this task's images say about the task itself.
    pub task: TaskFacts,
}

/// What a task's core, mm, ids and fs images say about it, as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskFacts {
    /// Pages the task's pagemap keeps outside this image set, when any.
    pub pages_elsewhere: Option<PagesElsewhere>,
    /// Kernel object and namespace ids (ids-PID.img, or the core's).
    pub ids: Option<TaskIds>,
    /// The leader's task state, exit code, personality, blocked signals.
    pub state: Option<TaskState>,
    /// The leader's credentials.
    pub credentials: Option<TaskCredentials>,
    /// mm-PID.img's fields.
    pub mm: Option<MmFacts>,
    /// Signals with a handler or ignored (disposition other than default),
    /// by signal number.
    pub signal_actions: Vec<SignalAction>,
    /// Working directory and root (fs-PID.img), as paths of files.img.
    pub cwd: Option<String>,
    pub root: Option<String>,
    pub umask: Option<u32>,
    /// Seccomp mode of the leader when not disabled: 1 strict, 2 filter.
    pub seccomp_mode: Option<i32>,
}

/// Pages a task's pagemap marks as held elsewhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PagesElsewhere {
    /// In the parent snapshot (PE_PARENT).
    pub in_parent: u64,
    /// Left for lazy restore (PE_LAZY).
    pub lazy: u64,
}

/// A task's kernel object ids (shared ids mean shared objects) and
/// namespace ids (absent when the image does not record one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskIds {
    pub vm: u32,
    pub files: u32,
    pub fs: u32,
    pub sighand: u32,
    pub pid_ns: Option<u32>,
    pub net_ns: Option<u32>,
    pub ipc_ns: Option<u32>,
    pub uts_ns: Option<u32>,
    pub mnt_ns: Option<u32>,
    pub user_ns: Option<u32>,
    pub cgroup_ns: Option<u32>,
    pub time_ns: Option<u32>,
}

/// The task-wide part of a leader's core image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskState {
    /// CRIU's task state: 1 alive, 2 dead (an unreaped zombie), 3 stopped,
    /// 6 zombie.
    pub task_state: u32,
    pub exit_code: u32,
    /// personality(2) flags.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub personality: u64,
    /// The blocked-signal mask.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub blocked_signals: u64,
}

impl TaskState {
    /// The state's name: `alive`, `dead`, `stopped`, `zombie`.
    pub fn name(&self) -> String {
        task_state_name(self.task_state)
    }
}

/// The name of CRIU's task state `state` (`state 9` for one it does not
/// define).
pub fn task_state_name(state: u32) -> String {
    match state {
        1 => "alive".into(),
        // TASK_DEAD: what CRIU writes for an unreaped child (a zombie).
        2 => "dead".into(),
        3 => "stopped".into(),
        6 => "zombie".into(),
        other => format!("state {other}"),
    }
}

/// A task's credentials; capability sets are 64-bit masks of CAP_* bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskCredentials {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub cap_effective: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub cap_permitted: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub cap_bounding: u64,
    /// SECBIT_* flags.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub secure_bits: u64,
}

/// The layout fields of a task's mm (mm-PID.img).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MmFacts {
    #[serde(serialize_with = "serialize_hex_u64")]
    pub start_code: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub end_code: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub start_data: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub end_data: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub start_stack: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub start_brk: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub brk: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub arg_start: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub arg_end: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub env_start: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub env_end: u64,
    /// files.img id of the executable.
    pub exe_file_id: Option<u32>,
    /// Its path, when files.img lists that id.
    pub exe_path: Option<String>,
}

/// A signal's disposition other than the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SignalAction {
    pub signo: u32,
    /// The handler's address (1 for SIG_IGN).
    #[serde(serialize_with = "serialize_hex_u64")]
    pub handler: u64,
    /// SA_* flags.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub flags: u64,
    #[serde(serialize_with = "serialize_hex_u64")]
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    #[serde(serialize_with = "serialize_hex_u64")]
    pub mask: u64,
}
