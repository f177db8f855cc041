//! What /proc says about a process and its threads: ids, state, command
//! line, credentials, mappings (smaps, for the dump decisions), auxv.
//! Parsing is procfs-core's; this module only picks the fields.

use std::fs::File;
use std::io;

use libc::pid_t;
use procfs_core::FromRead;
use procfs_core::process::{MMPermissions, MMapPath, MemoryMaps, Stat, Status, VmFlags};

/// The process as a whole, read before it was stopped.
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    pub pid: pid_t,
    pub ppid: pid_t,
    pub pgrp: pid_t,
    pub session: pid_t,
    /// Scheduler state letter before we stopped it (R, S, D, T...).
    pub state: char,
    pub nice: i64,
    /// Kernel task flags (PF_*), as NT_PRPSINFO's pr_flag records them.
    pub flags: u64,
    pub comm: String,
    pub uid: u32,
    pub gid: u32,
    /// /proc/PID/cmdline: NUL-separated arguments.
    pub cmdline: Vec<u8>,
    /// /proc/PID/exe, if readable.
    pub exe: Option<String>,
    /// Children's CPU time (ticks), recorded in the leader's NT_PRSTATUS.
    pub cutime_us: u64,
    pub cstime_us: u64,
}

/// One thread as /proc describes it.
#[derive(Debug, Clone, Default)]
pub struct TaskInfo {
    pub comm: Option<String>,
    pub utime_us: u64,
    pub stime_us: u64,
    /// Signals pending for this thread only (SigPnd) and blocked (SigBlk).
    pub sigpend: u64,
    pub sigblk: u64,
}

/// One line of /proc/PID/smaps with the fields the dump needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub execute: bool,
    pub shared: bool,
    pub offset: u64,
    /// The file path (starts with '/'), the pseudo name in brackets
    /// (`[heap]`, `[vdso]`), or empty for anonymous memory.
    pub name: String,
    /// Bytes of anonymous (copy-on-write or never file-backed) pages.
    pub anonymous: u64,
    /// VmFlags: VM_IO, VM_PFNMAP, VM_DONTDUMP, hugetlb, growsdown.
    pub io: bool,
    pub pfnmap: bool,
    pub dontdump: bool,
    pub hugetlb: bool,
    pub growsdown: bool,
}

impl Mapping {
    /// A real file behind the mapping (what NT_FILE lists).
    pub fn is_file(&self) -> bool {
        self.name.starts_with('/')
    }
}

fn ticks_to_us(ticks: u64) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    ticks.saturating_mul(1_000_000) / hz
}

fn proc_error(e: procfs_core::ProcError) -> io::Error {
    match e {
        procfs_core::ProcError::NotFound(_) => io::Error::from(io::ErrorKind::NotFound),
        procfs_core::ProcError::PermissionDenied(_) => {
            io::Error::from(io::ErrorKind::PermissionDenied)
        }
        other => io::Error::other(other.to_string()),
    }
}

fn read_parsed<T: FromRead>(path: &str) -> io::Result<T> {
    T::from_read(File::open(path)?).map_err(proc_error)
}

pub fn status(pid: pid_t) -> io::Result<Status> {
    read_parsed(&format!("/proc/{pid}/status"))
}

/// Who traces `pid` (TracerPid), if anyone.
pub fn tracer_of(pid: pid_t) -> Option<pid_t> {
    status(pid).ok().map(|s| s.tracerpid).filter(|&t| t != 0)
}

/// The short name of a process (for messages).
pub fn comm(pid: pid_t) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

pub fn process_info(pid: pid_t) -> io::Result<ProcessInfo> {
    let stat: Stat = read_parsed(&format!("/proc/{pid}/stat"))?;
    let status = status(pid)?;
    Ok(ProcessInfo {
        pid,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        session: stat.session,
        state: stat.state,
        nice: stat.nice,
        flags: u64::from(stat.flags),
        comm: stat.comm,
        uid: status.ruid,
        gid: status.rgid,
        cmdline: std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
        exe: std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.display().to_string()),
        cutime_us: ticks_to_us(stat.cutime.max(0) as u64),
        cstime_us: ticks_to_us(stat.cstime.max(0) as u64),
    })
}

pub fn task_info(pid: pid_t, tid: pid_t) -> TaskInfo {
    let dir = format!("/proc/{pid}/task/{tid}");
    let mut info = TaskInfo {
        comm: std::fs::read_to_string(format!("{dir}/comm"))
            .ok()
            .map(|s| s.trim_end_matches('\n').to_string()),
        ..TaskInfo::default()
    };
    if let Ok(stat) = read_parsed::<Stat>(&format!("{dir}/stat")) {
        info.utime_us = ticks_to_us(stat.utime);
        info.stime_us = ticks_to_us(stat.stime);
    }
    if let Ok(status) = read_parsed::<Status>(&format!("{dir}/status")) {
        info.sigpend = status.sigpnd;
        info.sigblk = status.sigblk;
    }
    info
}

/// /proc/PID/smaps, in address order.
pub fn mappings(pid: pid_t) -> io::Result<Vec<Mapping>> {
    let maps: MemoryMaps = read_parsed(&format!("/proc/{pid}/smaps"))?;
    let mut out: Vec<Mapping> = maps
        .into_iter()
        .filter(|m| m.address.1 > m.address.0)
        .map(|m| {
            let flags = m.extension.vm_flags;
            let name = match &m.pathname {
                MMapPath::Path(p) => p.display().to_string(),
                MMapPath::Heap => "[heap]".into(),
                MMapPath::Stack => "[stack]".into(),
                MMapPath::TStack(t) => format!("[stack:{t}]"),
                MMapPath::Vdso => "[vdso]".into(),
                MMapPath::Vvar => "[vvar]".into(),
                MMapPath::Vsyscall => "[vsyscall]".into(),
                MMapPath::Rollup => "[rollup]".into(),
                MMapPath::Anonymous => String::new(),
                // procfs-core cuts SysV segments to their key; the kernel
                // name is /SYSV<key, 8 hex digits> (deleted).
                MMapPath::Vsys(key) => format!("/SYSV{:08x} (deleted)", *key as u32),
                MMapPath::Other(o) => format!("[{o}]"),
            };
            Mapping {
                start: m.address.0,
                end: m.address.1,
                read: m.perms.contains(MMPermissions::READ),
                write: m.perms.contains(MMPermissions::WRITE),
                execute: m.perms.contains(MMPermissions::EXECUTE),
                shared: m.perms.contains(MMPermissions::SHARED),
                offset: m.offset,
                name,
                anonymous: m.extension.map.get("Anonymous").copied().unwrap_or(0),
                io: flags.contains(VmFlags::IO),
                pfnmap: flags.contains(VmFlags::PF),
                dontdump: flags.contains(VmFlags::DD),
                hugetlb: flags.contains(VmFlags::HT),
                growsdown: flags.contains(VmFlags::GD),
            }
        })
        .collect();
    out.sort_by_key(|m| m.start);
    Ok(out)
}

/// /proc/PID/auxv, raw (pairs of native words).
pub fn auxv(pid: pid_t) -> io::Result<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/auxv"))
}

/// /proc/sys/kernel/yama/ptrace_scope, if Yama is active.
pub fn ptrace_scope() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The kernel release (`uname -r`).
pub fn os_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process() {
        let pid = std::process::id() as pid_t;
        let info = process_info(pid).unwrap();
        assert_eq!(info.pid, pid);
        assert_eq!(info.ppid as u32, std::os::unix::process::parent_id());
        let maps = mappings(pid).unwrap();
        let here = own_process as *const () as u64;
        let code = maps
            .iter()
            .find(|m| m.start <= here && here < m.end)
            .unwrap();
        assert!(code.execute && code.read && !code.shared && code.is_file());
        assert!(maps.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(maps.iter().any(|m| m.name == "[stack]" && m.anonymous > 0));
        let aux = auxv(pid).unwrap();
        assert_eq!(aux.len() % 16, 0);
    }
}
