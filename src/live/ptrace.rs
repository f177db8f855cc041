//! Stopping every thread of a process with ptrace and letting it go again.
//!
//! PTRACE_SEIZE + PTRACE_INTERRUPT (not PTRACE_ATTACH) so that no SIGSTOP
//! is sent: the process cannot tell it was looked at, and a process that
//! was already stopped stays stopped after PTRACE_DETACH. The [`Session`]
//! detaches in `Drop`, so every error path (and a panic) resumes it.

use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, Instant};

use libc::{c_int, c_void, pid_t};

/// How many times /proc/PID/task is re-read while threads keep appearing.
const MAX_SCAN_ROUNDS: usize = 64;
/// How long one thread may take to reach its ptrace-stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// `status >> 16` of a waitpid status for a PTRACE_INTERRUPT / group stop.
const PTRACE_EVENT_STOP: c_int = 128;

/// One stopped thread.
#[derive(Debug, Clone)]
pub struct Tracee {
    pub tid: pid_t,
    /// A signal the thread was about to receive when it stopped
    /// (signal-delivery-stop); handed back at detach so it is not lost.
    pub pending_signal: c_int,
}

/// Why stopping the process failed.
#[derive(Debug)]
pub enum AttachError {
    /// PTRACE_SEIZE said EPERM.
    NotPermitted {
        tid: pid_t,
    },
    /// The process (or every thread) is gone.
    NoSuchProcess,
    /// A thread did not stop in time.
    DidNotStop {
        tid: pid_t,
    },
    /// Threads kept appearing.
    Unstable {
        rounds: usize,
    },
    Io(io::Error),
}

/// Every thread of one process, stopped; detached on drop.
#[derive(Debug)]
pub struct Session {
    pub pid: pid_t,
    /// Thread-group leader first (when it is alive), then /proc order.
    pub tracees: Vec<Tracee>,
    /// Threads that exited (or were zombies) while attaching.
    pub vanished: Vec<pid_t>,
}

impl Session {
    /// Seizes and stops every thread of `pid`, re-reading /proc/PID/task
    /// until a round finds no new thread (a stopped thread cannot create
    /// one, so this ends once every thread is stopped).
    pub fn stop_all(pid: pid_t) -> Result<Session, AttachError> {
        let mut session = Session {
            pid,
            tracees: Vec::new(),
            vanished: Vec::new(),
        };
        let mut known: BTreeSet<pid_t> = BTreeSet::new();
        for _ in 0..MAX_SCAN_ROUNDS {
            let tids = match list_tasks(pid) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(AttachError::NoSuchProcess);
                }
                Err(e) => return Err(AttachError::Io(e)),
            };
            let fresh: Vec<pid_t> = tids.into_iter().filter(|t| known.insert(*t)).collect();
            if fresh.is_empty() {
                if session.tracees.is_empty() {
                    return Err(AttachError::NoSuchProcess);
                }
                session.put_leader_first();
                return Ok(session);
            }
            // One thread at a time, so that on any error every thread
            // seized so far is stopped and in `tracees`, which Drop detaches.
            for tid in fresh {
                if is_zombie(pid, tid) {
                    session.vanished.push(tid);
                    continue;
                }
                match seize(tid) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                        session.vanished.push(tid);
                        continue;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        return Err(AttachError::NotPermitted { tid });
                    }
                    Err(e) => return Err(AttachError::Io(e)),
                }
                match interrupt(tid).and_then(|()| wait_for_stop(tid)) {
                    Ok(Some(pending_signal)) => session.tracees.push(Tracee {
                        tid,
                        pending_signal,
                    }),
                    Ok(None) => session.vanished.push(tid),
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => session.vanished.push(tid),
                    Err(e) => {
                        // Still traced: detached with the others if it stops
                        // meanwhile, else by the kernel when ckdump exits.
                        session.tracees.push(Tracee {
                            tid,
                            pending_signal: 0,
                        });
                        return Err(if e.kind() == io::ErrorKind::TimedOut {
                            AttachError::DidNotStop { tid }
                        } else {
                            AttachError::Io(e)
                        });
                    }
                }
            }
        }
        Err(AttachError::Unstable {
            rounds: MAX_SCAN_ROUNDS,
        })
    }

    fn put_leader_first(&mut self) {
        if let Some(i) = self.tracees.iter().position(|t| t.tid == self.pid) {
            let leader = self.tracees.remove(i);
            self.tracees.insert(0, leader);
        }
    }

    /// Detaches every thread now (also done by drop).
    pub fn detach(mut self) {
        self.detach_all();
    }

    fn detach_all(&mut self) {
        for t in self.tracees.drain(..) {
            // A thread that died meanwhile answers ESRCH: nothing to undo.
            // SAFETY: PTRACE_DETACH takes no pointer; data is a signal number.
            let _ = unsafe {
                ptrace(
                    libc::PTRACE_DETACH,
                    t.tid,
                    std::ptr::null_mut(),
                    t.pending_signal as usize as *mut c_void,
                )
            };
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.detach_all();
    }
}

/// The thread ids in /proc/PID/task, in the kernel's thread-list order.
pub fn list_tasks(pid: pid_t) -> io::Result<Vec<pid_t>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        if let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push(tid);
        }
    }
    Ok(out)
}

fn is_zombie(pid: pid_t, tid: pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
        .ok()
        .and_then(|s| {
            // The state follows the last ')' (comm may contain parentheses).
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|st| st == "Z")
        })
        .unwrap_or(false)
}

/// # Safety
/// `addr` and `data` must be what `request` expects: integers cast to
/// pointers, or pointers to memory valid for the kernel to read or write as
/// that request defines.
unsafe fn ptrace(
    request: libc::c_uint,
    tid: pid_t,
    addr: *mut c_void,
    data: *mut c_void,
) -> io::Result<()> {
    // SAFETY: upheld by the caller (see above); ptrace keeps no pointer.
    let r = unsafe { libc::ptrace(request, tid, addr, data) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn seize(tid: pid_t) -> io::Result<()> {
    // SAFETY: PTRACE_SEIZE with no options takes no pointer.
    unsafe {
        ptrace(
            libc::PTRACE_SEIZE,
            tid,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

fn interrupt(tid: pid_t) -> io::Result<()> {
    // SAFETY: PTRACE_INTERRUPT takes no pointer.
    unsafe {
        ptrace(
            libc::PTRACE_INTERRUPT,
            tid,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// Waits until `tid` reports a ptrace-stop. Some(signal to re-deliver,
/// 0 for none) when stopped, None when the thread exited instead.
fn wait_for_stop(tid: pid_t) -> io::Result<Option<c_int>> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut pause = Duration::from_micros(50);
    loop {
        let mut status: c_int = 0;
        // SAFETY: `status` is a valid, writable c_int for the call.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if e.raw_os_error() == Some(libc::ECHILD) {
                // Not (or no longer) our tracee: it exited and was reaped.
                return Ok(None);
            }
            return Err(e);
        }
        if r == tid {
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                return Ok(None);
            }
            if libc::WIFSTOPPED(status) {
                let sig = libc::WSTOPSIG(status);
                let event = (status >> 16) & 0xff;
                // PTRACE_EVENT_STOP: our interrupt, or a group stop that was
                // already in effect; nothing to hand back. Otherwise the
                // thread stopped delivering `sig`, which must not be lost.
                return Ok(Some(if event == PTRACE_EVENT_STOP { 0 } else { sig }));
            }
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("thread {tid} did not stop"),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Reads register set `kind` (NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE...)
/// of a stopped tracee into `buf`; returns the bytes the kernel filled.
pub fn get_regset(tid: pid_t, kind: u32, buf: &mut [u8]) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: PTRACE_GETREGSET takes the note type as an integer and an
    // iovec; it writes at most iov_len bytes to iov_base (inside `buf`) and
    // updates iov_len. `iov` and `buf` outlive the call.
    unsafe {
        ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            kind as usize as *mut c_void,
            (&mut iov as *mut libc::iovec).cast(),
        )?;
    }
    Ok(iov.iov_len.min(buf.len()))
}
