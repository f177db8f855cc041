//! Linux signal and si_code names and meanings (numbers from
//! <asm-generic/signal.h> and <asm-generic/siginfo.h>; identical on x86,
//! x86_64 and aarch64).

/// `SIGSEGV`-style name of a Linux signal number.
pub fn signal_name(signo: i32) -> String {
    let name = match signo {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
        31 => "SIGSYS",
        32..=64 => return format!("SIGRT{}", signo - 32),
        _ => return format!("signal {signo}"),
    };
    name.to_string()
}

/// A short description of what the signal means.
pub fn signal_description(signo: i32) -> &'static str {
    match signo {
        1 => "hangup",
        2 => "interrupted from the keyboard",
        3 => "quit from the keyboard",
        4 => "illegal instruction",
        5 => "trace or breakpoint trap",
        6 => "aborted (abort(), assertion failure, or a runtime's fatal error)",
        7 => "bus error (bad memory access)",
        8 => "arithmetic exception",
        9 => "killed",
        11 => "invalid memory reference",
        13 => "write to a pipe with no readers",
        14 => "timer expired",
        15 => "terminated",
        19 => "stopped",
        24 => "CPU time limit exceeded",
        25 => "file size limit exceeded",
        31 => "bad system call (seccomp)",
        _ => "signal",
    }
}

/// Name and meaning of an si_code for a given signal.
pub fn code_name(signo: i32, code: i32) -> Option<(&'static str, &'static str)> {
    // Codes <= 0 and SI_KERNEL are the same for every signal.
    let generic = match code {
        0 => Some(("SI_USER", "sent by kill() or raise()")),
        0x80 => Some(("SI_KERNEL", "sent by the kernel")),
        -1 => Some(("SI_QUEUE", "sent by sigqueue()")),
        -2 => Some(("SI_TIMER", "POSIX timer expired")),
        -3 => Some(("SI_MESGQ", "message queue state changed")),
        -4 => Some(("SI_ASYNCIO", "asynchronous I/O completed")),
        -5 => Some(("SI_SIGIO", "queued SIGIO")),
        -6 => Some((
            "SI_TKILL",
            "sent by tkill() or tgkill() (raise, abort, pthread_kill)",
        )),
        -7 => Some(("SI_DETHREAD", "sent by execve() killing subsidiary threads")),
        -60 => Some(("SI_ASYNCNL", "asynchronous name lookup completed")),
        _ => None,
    };
    if generic.is_some() {
        return generic;
    }
    let specific = match (signo, code) {
        (4, 1) => ("ILL_ILLOPC", "illegal opcode"),
        (4, 2) => ("ILL_ILLOPN", "illegal operand"),
        (4, 3) => ("ILL_ILLADR", "illegal addressing mode"),
        (4, 4) => ("ILL_ILLTRP", "illegal trap"),
        (4, 5) => ("ILL_PRVOPC", "privileged opcode"),
        (4, 6) => ("ILL_PRVREG", "privileged register"),
        (4, 7) => ("ILL_COPROC", "coprocessor error"),
        (4, 8) => ("ILL_BADSTK", "internal stack error"),
        (4, 9) => ("ILL_BADIADDR", "unimplemented instruction address"),
        (8, 1) => ("FPE_INTDIV", "integer divide by zero"),
        (8, 2) => ("FPE_INTOVF", "integer overflow"),
        (8, 3) => ("FPE_FLTDIV", "floating-point divide by zero"),
        (8, 4) => ("FPE_FLTOVF", "floating-point overflow"),
        (8, 5) => ("FPE_FLTUND", "floating-point underflow"),
        (8, 6) => ("FPE_FLTRES", "floating-point inexact result"),
        (8, 7) => ("FPE_FLTINV", "floating-point invalid operation"),
        (8, 8) => ("FPE_FLTSUB", "subscript out of range"),
        (8, 14) => ("FPE_FLTUNK", "undiagnosed floating-point exception"),
        (8, 15) => ("FPE_CONDTRAP", "trap on condition"),
        (11, 1) => ("SEGV_MAPERR", "address not mapped to object"),
        (11, 2) => ("SEGV_ACCERR", "invalid permissions for mapped object"),
        (11, 3) => ("SEGV_BNDERR", "failed address bound checks"),
        (11, 4) => ("SEGV_PKUERR", "access denied by memory protection keys"),
        (11, 5) => ("SEGV_ACCADI", "ADI not enabled for mapped object"),
        (11, 6) => ("SEGV_ADIDERR", "disrupting MCD error"),
        (11, 7) => ("SEGV_ADIPERR", "precise MCD exception"),
        (11, 8) => ("SEGV_MTEAERR", "asynchronous MTE tag check fault"),
        (11, 9) => ("SEGV_MTESERR", "synchronous MTE tag check fault"),
        (11, 10) => ("SEGV_CPERR", "control protection fault (shadow stack)"),
        (7, 1) => ("BUS_ADRALN", "invalid address alignment"),
        (7, 2) => (
            "BUS_ADRERR",
            "non-existent physical address (e.g. past the end of a mapped file)",
        ),
        (7, 3) => ("BUS_OBJERR", "object-specific hardware error"),
        (7, 4) => (
            "BUS_MCEERR_AR",
            "hardware memory error consumed on a machine check",
        ),
        (7, 5) => (
            "BUS_MCEERR_AO",
            "hardware memory error detected, action optional",
        ),
        (5, 1) => ("TRAP_BRKPT", "process breakpoint"),
        (5, 2) => ("TRAP_TRACE", "process trace trap"),
        (5, 3) => ("TRAP_BRANCH", "process taken branch trap"),
        (5, 4) => ("TRAP_HWBKPT", "hardware breakpoint or watchpoint"),
        (5, 5) => ("TRAP_UNK", "undiagnosed trap"),
        (5, 6) => ("TRAP_PERF", "perf event with sigtrap=1"),
        (17, 1) => ("CLD_EXITED", "child has exited"),
        (17, 2) => ("CLD_KILLED", "child was killed"),
        (17, 3) => ("CLD_DUMPED", "child terminated abnormally"),
        (17, 4) => ("CLD_TRAPPED", "traced child has trapped"),
        (17, 5) => ("CLD_STOPPED", "child has stopped"),
        (17, 6) => ("CLD_CONTINUED", "stopped child has continued"),
        (29, 1) => ("POLL_IN", "data input available"),
        (29, 2) => ("POLL_OUT", "output buffers available"),
        (29, 3) => ("POLL_MSG", "input message available"),
        (29, 4) => ("POLL_ERR", "I/O error"),
        (29, 5) => ("POLL_PRI", "high priority input available"),
        (29, 6) => ("POLL_HUP", "device disconnected"),
        (31, 1) => ("SYS_SECCOMP", "seccomp filter triggered"),
        (31, 2) => ("SYS_USER_DISPATCH", "syscall user dispatch triggered"),
        _ => return None,
    };
    Some(specific)
}

/// Whether the signal's siginfo carries a fault address (si_addr).
pub fn has_fault_address(signo: i32, code: i32) -> bool {
    matches!(signo, 4 | 5 | 7 | 8 | 11) && code > 0 && code != 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(34), "SIGRT2");
        assert_eq!(code_name(11, 1).unwrap().0, "SEGV_MAPERR");
        assert_eq!(code_name(4, 2).unwrap().0, "ILL_ILLOPN");
        assert_eq!(code_name(6, -6).unwrap().0, "SI_TKILL");
        assert_eq!(code_name(11, 0x80).unwrap().0, "SI_KERNEL");
        assert!(code_name(11, 77).is_none());
        assert!(has_fault_address(11, 1));
        assert!(!has_fault_address(6, -6));
    }
}
