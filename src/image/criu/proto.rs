//! CRIU image entries as protobuf messages, written from the field numbers
//! of CRIU's `images/*.proto` (the published format description). Only the
//! messages ckdump reads are declared; unknown fields are skipped by prost.
//!
//! Fields CRIU declares `required` are declared `optional` where ckdump
//! must tell "absent" from "zero" to report a damaged entry (addresses,
//! ids); elsewhere a missing required field decodes as zero, as in CRIU.

use prost::Message;

/// `inventory_entry` (inventory.img).
#[derive(Clone, PartialEq, Message)]
pub struct InventoryEntry {
    #[prost(uint32, optional, tag = "1")]
    pub img_version: Option<u32>,
    #[prost(bool, optional, tag = "2")]
    pub fdinfo_per_id: Option<bool>,
    #[prost(message, optional, tag = "3")]
    pub root_ids: Option<TaskKobjIdsEntry>,
    #[prost(bool, optional, tag = "4")]
    pub ns_per_id: Option<bool>,
    #[prost(uint32, optional, tag = "5")]
    pub root_cg_set: Option<u32>,
    /// `lsmtype`: 0 none, 1 SELinux, 2 AppArmor.
    #[prost(int32, optional, tag = "6")]
    pub lsmtype: Option<i32>,
    #[prost(uint64, optional, tag = "8")]
    pub dump_uptime: Option<u64>,
    #[prost(uint32, optional, tag = "9")]
    pub pre_dump_mode: Option<u32>,
    #[prost(bool, optional, tag = "10")]
    pub tcp_close: Option<bool>,
    #[prost(uint32, optional, tag = "11")]
    pub network_lock_method: Option<u32>,
    #[prost(message, optional, tag = "12")]
    pub plugins_entry: Option<PluginsEntry>,
    #[prost(string, optional, tag = "13")]
    pub dump_criu_run_id: Option<String>,
    #[prost(bool, optional, tag = "14")]
    pub allow_uprobes: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PluginsEntry {
    #[prost(string, repeated, tag = "12")]
    pub plugins: Vec<String>,
}

/// `task_kobj_ids_entry` (ids-PID.img, inventory root_ids, core ids).
#[derive(Clone, PartialEq, Message)]
pub struct TaskKobjIdsEntry {
    #[prost(uint32, required, tag = "1")]
    pub vm_id: u32,
    #[prost(uint32, required, tag = "2")]
    pub files_id: u32,
    #[prost(uint32, required, tag = "3")]
    pub fs_id: u32,
    #[prost(uint32, required, tag = "4")]
    pub sighand_id: u32,
    #[prost(uint32, optional, tag = "5")]
    pub pid_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "6")]
    pub net_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "7")]
    pub ipc_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "8")]
    pub uts_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "9")]
    pub mnt_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "10")]
    pub user_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "11")]
    pub cgroup_ns_id: Option<u32>,
    #[prost(uint32, optional, tag = "12")]
    pub time_ns_id: Option<u32>,
}

/// `pstree_entry` (pstree.img): one task of the dumped tree.
#[derive(Clone, PartialEq, Message)]
pub struct PstreeEntry {
    #[prost(uint32, optional, tag = "1")]
    pub pid: Option<u32>,
    #[prost(uint32, required, tag = "2")]
    pub ppid: u32,
    #[prost(uint32, required, tag = "3")]
    pub pgid: u32,
    #[prost(uint32, required, tag = "4")]
    pub sid: u32,
    #[prost(uint32, repeated, packed = "false", tag = "5")]
    pub threads: Vec<u32>,
}

/// `core_entry` (core-TID.img).
#[derive(Clone, PartialEq, Message)]
pub struct CoreEntry {
    /// `core_entry.march`: 1 x86_64, 2 arm, 3 aarch64, 4 ppc64, 5 s390,
    /// 6 mips, 7 loongarch64, 8 riscv64.
    #[prost(int32, optional, tag = "1")]
    pub mtype: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub thread_info: Option<ThreadInfoX86>,
    #[prost(message, optional, tag = "3")]
    pub tc: Option<TaskCoreEntry>,
    #[prost(message, optional, tag = "4")]
    pub ids: Option<TaskKobjIdsEntry>,
    #[prost(message, optional, tag = "5")]
    pub thread_core: Option<ThreadCoreEntry>,
    #[prost(message, optional, tag = "8")]
    pub ti_aarch64: Option<ThreadInfoAarch64>,
}

pub const MARCH_X86_64: i32 = 1;
pub const MARCH_AARCH64: i32 = 3;

/// `task_core_entry`: per-process state, in the thread-group leader's core.
#[derive(Clone, PartialEq, Message)]
pub struct TaskCoreEntry {
    /// 1 alive, 2 dead, 3 stopped, 6 zombie.
    #[prost(uint32, required, tag = "1")]
    pub task_state: u32,
    #[prost(uint32, required, tag = "2")]
    pub exit_code: u32,
    #[prost(uint32, required, tag = "3")]
    pub personality: u32,
    #[prost(uint32, required, tag = "4")]
    pub flags: u32,
    #[prost(uint64, required, tag = "5")]
    pub blk_sigset: u64,
    #[prost(string, required, tag = "6")]
    pub comm: String,
    #[prost(uint32, optional, tag = "9")]
    pub cg_set: Option<u32>,
    #[prost(int32, optional, tag = "11")]
    pub old_seccomp_mode: Option<i32>,
    #[prost(uint32, optional, tag = "13")]
    pub loginuid: Option<u32>,
    #[prost(int32, optional, tag = "14")]
    pub oom_score_adj: Option<i32>,
    #[prost(message, repeated, tag = "15")]
    pub sigactions: Vec<SaEntry>,
    #[prost(bool, optional, tag = "18")]
    pub child_subreaper: Option<bool>,
    #[prost(uint64, optional, tag = "20")]
    pub blk_sigset_extended: Option<u64>,
    #[prost(uint32, optional, tag = "21")]
    pub stop_signo: Option<u32>,
}

/// `thread_core_entry`: per-thread state.
#[derive(Clone, PartialEq, Message)]
pub struct ThreadCoreEntry {
    #[prost(uint64, required, tag = "1")]
    pub futex_rla: u64,
    #[prost(uint32, required, tag = "2")]
    pub futex_rla_len: u32,
    #[prost(sint32, optional, tag = "3")]
    pub sched_nice: Option<i32>,
    #[prost(uint32, optional, tag = "4")]
    pub sched_policy: Option<u32>,
    #[prost(uint32, optional, tag = "5")]
    pub sched_prio: Option<u32>,
    #[prost(uint64, optional, tag = "6")]
    pub blk_sigset: Option<u64>,
    #[prost(uint32, optional, tag = "8")]
    pub pdeath_sig: Option<u32>,
    #[prost(message, optional, tag = "9")]
    pub signals_p: Option<SignalQueueEntry>,
    #[prost(message, optional, tag = "10")]
    pub creds: Option<CredsEntry>,
    /// `seccomp_mode`: 0 disabled, 1 strict, 2 filter.
    #[prost(int32, optional, tag = "11")]
    pub seccomp_mode: Option<i32>,
    #[prost(uint32, optional, tag = "12")]
    pub seccomp_filter: Option<u32>,
    #[prost(string, optional, tag = "13")]
    pub comm: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SignalQueueEntry {
    #[prost(message, repeated, tag = "1")]
    pub signals: Vec<SiginfoEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SiginfoEntry {
    /// A raw `siginfo_t`.
    #[prost(bytes = "vec", required, tag = "1")]
    pub siginfo: Vec<u8>,
}

/// `creds_entry`.
#[derive(Clone, PartialEq, Message)]
pub struct CredsEntry {
    #[prost(uint32, required, tag = "1")]
    pub uid: u32,
    #[prost(uint32, required, tag = "2")]
    pub gid: u32,
    #[prost(uint32, required, tag = "3")]
    pub euid: u32,
    #[prost(uint32, required, tag = "4")]
    pub egid: u32,
    #[prost(uint32, required, tag = "5")]
    pub suid: u32,
    #[prost(uint32, required, tag = "6")]
    pub sgid: u32,
    #[prost(uint32, required, tag = "7")]
    pub fsuid: u32,
    #[prost(uint32, required, tag = "8")]
    pub fsgid: u32,
    #[prost(uint32, repeated, packed = "false", tag = "9")]
    pub cap_inh: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "10")]
    pub cap_prm: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub cap_eff: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "12")]
    pub cap_bnd: Vec<u32>,
    #[prost(uint32, required, tag = "13")]
    pub secbits: u32,
    #[prost(uint32, repeated, packed = "false", tag = "14")]
    pub groups: Vec<u32>,
    #[prost(string, optional, tag = "15")]
    pub lsm_profile: Option<String>,
    #[prost(uint32, optional, tag = "18")]
    pub no_new_privs: Option<u32>,
}

/// `sa_entry`: one signal's disposition (in `task_core_entry` or the
/// older sigacts-PID.img).
#[derive(Clone, PartialEq, Message)]
pub struct SaEntry {
    #[prost(uint64, required, tag = "1")]
    pub sigaction: u64,
    #[prost(uint64, required, tag = "2")]
    pub flags: u64,
    #[prost(uint64, required, tag = "3")]
    pub restorer: u64,
    #[prost(uint64, required, tag = "4")]
    pub mask: u64,
    #[prost(bool, optional, tag = "5")]
    pub compat_sigaction: Option<bool>,
}

/// `thread_info_x86`.
#[derive(Clone, PartialEq, Message)]
pub struct ThreadInfoX86 {
    #[prost(uint64, required, tag = "1")]
    pub clear_tid_addr: u64,
    #[prost(message, optional, tag = "2")]
    pub gpregs: Option<UserX86RegsEntry>,
    #[prost(message, optional, tag = "3")]
    pub fpregs: Option<UserX86FpregsEntry>,
}

/// `user_x86_regs_entry`: `user_regs_struct` field by field.
#[derive(Clone, PartialEq, Message)]
pub struct UserX86RegsEntry {
    #[prost(uint64, required, tag = "1")]
    pub r15: u64,
    #[prost(uint64, required, tag = "2")]
    pub r14: u64,
    #[prost(uint64, required, tag = "3")]
    pub r13: u64,
    #[prost(uint64, required, tag = "4")]
    pub r12: u64,
    #[prost(uint64, required, tag = "5")]
    pub bp: u64,
    #[prost(uint64, required, tag = "6")]
    pub bx: u64,
    #[prost(uint64, required, tag = "7")]
    pub r11: u64,
    #[prost(uint64, required, tag = "8")]
    pub r10: u64,
    #[prost(uint64, required, tag = "9")]
    pub r9: u64,
    #[prost(uint64, required, tag = "10")]
    pub r8: u64,
    #[prost(uint64, required, tag = "11")]
    pub ax: u64,
    #[prost(uint64, required, tag = "12")]
    pub cx: u64,
    #[prost(uint64, required, tag = "13")]
    pub dx: u64,
    #[prost(uint64, required, tag = "14")]
    pub si: u64,
    #[prost(uint64, required, tag = "15")]
    pub di: u64,
    #[prost(uint64, required, tag = "16")]
    pub orig_ax: u64,
    #[prost(uint64, optional, tag = "17")]
    pub ip: Option<u64>,
    #[prost(uint64, required, tag = "18")]
    pub cs: u64,
    #[prost(uint64, required, tag = "19")]
    pub flags: u64,
    #[prost(uint64, optional, tag = "20")]
    pub sp: Option<u64>,
    #[prost(uint64, required, tag = "21")]
    pub ss: u64,
    #[prost(uint64, required, tag = "22")]
    pub fs_base: u64,
    #[prost(uint64, required, tag = "23")]
    pub gs_base: u64,
    #[prost(uint64, required, tag = "24")]
    pub ds: u64,
    #[prost(uint64, required, tag = "25")]
    pub es: u64,
    #[prost(uint64, required, tag = "26")]
    pub fs: u64,
    #[prost(uint64, required, tag = "27")]
    pub gs: u64,
    /// 1 native (64-bit), 2 compat (a 32-bit task).
    #[prost(int32, optional, tag = "28")]
    pub mode: Option<i32>,
}

pub const X86_MODE_COMPAT: i32 = 2;

/// `user_x86_fpregs_entry`: the FXSAVE area as words, plus XSAVE parts.
#[derive(Clone, PartialEq, Message)]
pub struct UserX86FpregsEntry {
    #[prost(uint32, required, tag = "1")]
    pub cwd: u32,
    #[prost(uint32, required, tag = "2")]
    pub swd: u32,
    #[prost(uint32, required, tag = "3")]
    pub twd: u32,
    #[prost(uint32, required, tag = "4")]
    pub fop: u32,
    #[prost(uint64, required, tag = "5")]
    pub rip: u64,
    #[prost(uint64, required, tag = "6")]
    pub rdp: u64,
    #[prost(uint32, required, tag = "7")]
    pub mxcsr: u32,
    #[prost(uint32, required, tag = "8")]
    pub mxcsr_mask: u32,
    #[prost(uint32, repeated, packed = "false", tag = "9")]
    pub st_space: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "10")]
    pub xmm_space: Vec<u32>,
    #[prost(message, optional, tag = "13")]
    pub xsave: Option<UserX86XsaveEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct UserX86XsaveEntry {
    #[prost(uint64, required, tag = "1")]
    pub xstate_bv: u64,
    /// Upper 128 bits of each YMM register, four words each.
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    pub ymmh_space: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "8")]
    pub pkru: Vec<u32>,
    #[prost(message, optional, tag = "9")]
    pub cet: Option<UserX86CetEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct UserX86CetEntry {
    #[prost(uint64, required, tag = "1")]
    pub cet: u64,
    #[prost(uint64, required, tag = "2")]
    pub ssp: u64,
}

/// `thread_info_aarch64`.
#[derive(Clone, PartialEq, Message)]
pub struct ThreadInfoAarch64 {
    #[prost(uint64, required, tag = "1")]
    pub clear_tid_addr: u64,
    #[prost(uint64, required, tag = "2")]
    pub tls: u64,
    #[prost(message, optional, tag = "3")]
    pub gpregs: Option<UserAarch64RegsEntry>,
    #[prost(message, optional, tag = "4")]
    pub fpsimd: Option<UserAarch64FpsimdContextEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct UserAarch64RegsEntry {
    /// x0..x30.
    #[prost(uint64, repeated, packed = "false", tag = "1")]
    pub regs: Vec<u64>,
    #[prost(uint64, optional, tag = "2")]
    pub sp: Option<u64>,
    #[prost(uint64, optional, tag = "3")]
    pub pc: Option<u64>,
    #[prost(uint64, required, tag = "4")]
    pub pstate: u64,
}

#[derive(Clone, PartialEq, Message)]
pub struct UserAarch64FpsimdContextEntry {
    /// V0..V31 as (low, high) 64-bit halves.
    #[prost(uint64, repeated, packed = "false", tag = "1")]
    pub vregs: Vec<u64>,
    #[prost(uint32, required, tag = "2")]
    pub fpsr: u32,
    #[prost(uint32, required, tag = "3")]
    pub fpcr: u32,
}

/// `mm_entry` (mm-PID.img).
#[derive(Clone, PartialEq, Message)]
pub struct MmEntry {
    #[prost(uint64, required, tag = "1")]
    pub mm_start_code: u64,
    #[prost(uint64, required, tag = "2")]
    pub mm_end_code: u64,
    #[prost(uint64, required, tag = "3")]
    pub mm_start_data: u64,
    #[prost(uint64, required, tag = "4")]
    pub mm_end_data: u64,
    #[prost(uint64, required, tag = "5")]
    pub mm_start_stack: u64,
    #[prost(uint64, required, tag = "6")]
    pub mm_start_brk: u64,
    #[prost(uint64, required, tag = "7")]
    pub mm_brk: u64,
    #[prost(uint64, required, tag = "8")]
    pub mm_arg_start: u64,
    #[prost(uint64, required, tag = "9")]
    pub mm_arg_end: u64,
    #[prost(uint64, required, tag = "10")]
    pub mm_env_start: u64,
    #[prost(uint64, required, tag = "11")]
    pub mm_env_end: u64,
    #[prost(uint32, optional, tag = "12")]
    pub exe_file_id: Option<u32>,
    /// Key/value pairs of the saved auxiliary vector.
    #[prost(uint64, repeated, packed = "false", tag = "13")]
    pub mm_saved_auxv: Vec<u64>,
    #[prost(message, repeated, tag = "14")]
    pub vmas: Vec<VmaEntry>,
    #[prost(int32, optional, tag = "15")]
    pub dumpable: Option<i32>,
    #[prost(bool, optional, tag = "17")]
    pub thp_disabled: Option<bool>,
}

/// `vma_entry`: one mapping.
#[derive(Clone, PartialEq, Message)]
pub struct VmaEntry {
    #[prost(uint64, optional, tag = "1")]
    pub start: Option<u64>,
    #[prost(uint64, optional, tag = "2")]
    pub end: Option<u64>,
    #[prost(uint64, required, tag = "3")]
    pub pgoff: u64,
    /// For file mappings, the id of the file in files.img.
    #[prost(uint64, required, tag = "4")]
    pub shmid: u64,
    #[prost(uint32, required, tag = "5")]
    pub prot: u32,
    #[prost(uint32, required, tag = "6")]
    pub flags: u32,
    #[prost(uint32, required, tag = "7")]
    pub status: u32,
    #[prost(sint64, required, tag = "8")]
    pub fd: i64,
    #[prost(uint64, optional, tag = "9")]
    pub madv: Option<u64>,
    #[prost(uint32, optional, tag = "10")]
    pub fdflags: Option<u32>,
}

/// `pagemap_head`: the first entry of pagemap-PID.img.
#[derive(Clone, PartialEq, Message)]
pub struct PagemapHead {
    #[prost(uint32, optional, tag = "1")]
    pub pages_id: Option<u32>,
}

/// `pagemap_entry`: `nr_pages` pages from `vaddr`.
#[derive(Clone, PartialEq, Message)]
pub struct PagemapEntry {
    #[prost(uint64, optional, tag = "1")]
    pub vaddr: Option<u64>,
    #[prost(uint32, required, tag = "2")]
    pub compat_nr_pages: u32,
    #[prost(bool, optional, tag = "3")]
    pub in_parent: Option<bool>,
    #[prost(uint32, optional, tag = "4")]
    pub flags: Option<u32>,
    #[prost(uint64, optional, tag = "5")]
    pub nr_pages: Option<u64>,
}

/// `file_entry` (files.img): one open file or mapped file of any type.
#[derive(Clone, PartialEq, Message)]
pub struct FileEntry {
    /// `fd_types`: 1 is a regular file.
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, required, tag = "2")]
    pub id: u32,
    #[prost(message, optional, tag = "3")]
    pub reg: Option<RegFileEntry>,
}

pub const FD_TYPE_REG: i32 = 1;

/// `reg_file_entry` (in files.img, or reg-files.img in older dumps).
#[derive(Clone, PartialEq, Message)]
pub struct RegFileEntry {
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    #[prost(uint64, required, tag = "3")]
    pub pos: u64,
    #[prost(string, required, tag = "6")]
    pub name: String,
    #[prost(sint32, optional, tag = "7")]
    pub mnt_id: Option<i32>,
    #[prost(uint64, optional, tag = "8")]
    pub size: Option<u64>,
    #[prost(uint32, optional, tag = "10")]
    pub mode: Option<u32>,
    /// The GNU build-id as 32-bit words, little-endian.
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub build_id: Vec<u32>,
}

/// `fdinfo_entry` (fdinfo-N.img): one descriptor of a process.
#[derive(Clone, PartialEq, Message)]
pub struct FdinfoEntry {
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    #[prost(uint32, required, tag = "2")]
    pub flags: u32,
    #[prost(int32, required, tag = "3")]
    pub r#type: i32,
    #[prost(uint32, required, tag = "4")]
    pub fd: u32,
}

/// `fs_entry` (fs-PID.img).
#[derive(Clone, PartialEq, Message)]
pub struct FsEntry {
    #[prost(uint32, required, tag = "1")]
    pub cwd_id: u32,
    #[prost(uint32, required, tag = "2")]
    pub root_id: u32,
    #[prost(uint32, optional, tag = "3")]
    pub umask: Option<u32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Timespec {
    #[prost(uint64, required, tag = "1")]
    pub tv_sec: u64,
    #[prost(uint64, required, tag = "2")]
    pub tv_nsec: u64,
}

/// `timens_entry` (timens-N.img): the time namespace's clock offsets.
#[derive(Clone, PartialEq, Message)]
pub struct TimensEntry {
    #[prost(message, optional, tag = "1")]
    pub monotonic: Option<Timespec>,
    #[prost(message, optional, tag = "2")]
    pub boottime: Option<Timespec>,
}

/// `seccomp_entry` (seccomp.img): every filter of the tree.
#[derive(Clone, PartialEq, Message)]
pub struct SeccompEntry {
    #[prost(message, repeated, tag = "1")]
    pub seccomp_filters: Vec<SeccompFilter>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SeccompFilter {
    /// The BPF program, `struct sock_filter` × n.
    #[prost(bytes = "vec", required, tag = "1")]
    pub filter: Vec<u8>,
    #[prost(uint32, optional, tag = "2")]
    pub prev: Option<u32>,
    #[prost(uint32, optional, tag = "3")]
    pub flags: Option<u32>,
}
