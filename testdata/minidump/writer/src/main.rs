//! ckdump-mdwriter: write a Breakpad-format minidump of a Linux child process with the
//! `minidump-writer` crate, for ckdump's test fixtures (see testdata/minidump/gen.sh).
//!
//!   ckdump-mdwriter live  OUT.dmp PROG [ARGS..]
//!       spawn PROG, wait until it prints a line containing "ready", dump it while it runs
//!       (no exception stream), then kill it
//!   ckdump-mdwriter crash OUT.dmp PROG [ARGS..]
//!       run PROG under PTRACE_TRACEME, stop at its first fatal signal (SIGSEGV/SIGBUS/SIGFPE/
//!       SIGILL/SIGABRT), build the crash context from PTRACE_GETSIGINFO/GETREGS/GETFPREGS,
//!       detach leaving it stopped, dump it, then kill it
//!
//! The child's stdout lines are echoed to our stderr so the generator can record thread ids.
use minidump_writer::crash_context::CrashContext;
use minidump_writer::minidump_writer::MinidumpWriterConfig;
use minidump_writer::CrashContextExt;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn fail(what: &str) -> ! {
    eprintln!(
        "ckdump-mdwriter: {what}: {}",
        std::io::Error::last_os_error()
    );
    std::process::exit(1);
}

fn ptrace_ok(r: libc::c_long, what: &str) {
    if r < 0 {
        fail(what);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: {} live|crash OUT.dmp PROG [ARGS..]", args[0]);
        std::process::exit(2);
    }
    let (mode, out) = (args[1].as_str(), &args[2]);
    let mut cmd = Command::new(&args[3]);
    cmd.args(&args[4..]).stdout(Stdio::piped());
    match mode {
        "live" => live(cmd, out),
        "crash" => crash(cmd, out),
        _ => {
            eprintln!("unknown mode {mode}");
            std::process::exit(2);
        }
    }
}

fn live(mut cmd: Command, out: &str) {
    let mut child = cmd.spawn().unwrap_or_else(|_| fail("spawn"));
    let pid = child.id() as i32;
    let stdout = child.stdout.take().unwrap_or_else(|| fail("child stdout"));
    let mut lines = BufReader::new(stdout).lines();
    // the fixture program prints one line per thread, then "pid=N ready ..."
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        eprintln!("child: {line}");
        if line.contains("ready") {
            break;
        }
    }
    let mut f = std::fs::File::create(out).unwrap_or_else(|_| fail("create output"));
    let res = MinidumpWriterConfig::new(pid, pid).write(&mut f);
    eprintln!(
        "live dump of pid {pid}: {:?}",
        res.as_ref().map(|b| b.len())
    );
    child.kill().ok();
    child.wait().ok();
    if res.is_err() {
        std::process::exit(1);
    }
}

fn crash(mut cmd: Command, out: &str) {
    // SAFETY: PTRACE_TRACEME is async-signal-safe and touches no parent state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|_| fail("spawn"));
    let pid = child.id() as i32;
    // echo the child's output (thread ids and names) while it runs
    let stdout = child.stdout.take().unwrap_or_else(|| fail("child stdout"));
    let echo = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("child: {line}");
        }
    });
    let mut status = 0;
    // SAFETY: plain syscalls on our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) }; // SIGTRAP after exec
    loop {
        let mut deliver = 0;
        if libc::WIFSTOPPED(status) {
            let sig = libc::WSTOPSIG(status);
            if [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGABRT,
            ]
            .contains(&sig)
            {
                eprintln!("child {pid} stopped by signal {sig}");
                break;
            }
            if sig != libc::SIGTRAP {
                deliver = sig; // pass other signals on
            }
        }
        unsafe {
            ptrace_ok(
                libc::ptrace(libc::PTRACE_CONT, pid, 0, deliver as libc::c_long),
                "PTRACE_CONT",
            )
        };
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            eprintln!("child ended without a fatal signal: status {status:#x}");
            std::process::exit(1);
        }
    }
    // SAFETY: zeroed plain-old-data structs filled by the kernel.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let mut fp: libc::user_fpregs_struct = unsafe { std::mem::zeroed() };
    unsafe {
        ptrace_ok(
            libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, &mut si as *mut _),
            "GETSIGINFO",
        );
        ptrace_ok(
            libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _),
            "GETREGS",
        );
        ptrace_ok(
            libc::ptrace(libc::PTRACE_GETFPREGS, pid, 0, &mut fp as *mut _),
            "GETFPREGS",
        );
    }
    let mut ctx: CrashContext = unsafe { std::mem::zeroed() };
    ctx.pid = pid;
    ctx.tid = pid; // the fixture crashes on its main thread
    ctx.siginfo.ssi_signo = si.si_signo as u32;
    ctx.siginfo.ssi_code = si.si_code;
    ctx.siginfo.ssi_errno = si.si_errno;
    ctx.siginfo.ssi_addr = unsafe { si.si_addr() } as u64;
    {
        use libc::*;
        let g = &mut ctx.context.uc_mcontext.gregs;
        for (reg, val) in [
            (REG_R8, regs.r8),
            (REG_R9, regs.r9),
            (REG_R10, regs.r10),
            (REG_R11, regs.r11),
            (REG_R12, regs.r12),
            (REG_R13, regs.r13),
            (REG_R14, regs.r14),
            (REG_R15, regs.r15),
            (REG_RDI, regs.rdi),
            (REG_RSI, regs.rsi),
            (REG_RBP, regs.rbp),
            (REG_RBX, regs.rbx),
            (REG_RDX, regs.rdx),
            (REG_RAX, regs.rax),
            (REG_RCX, regs.rcx),
            (REG_RSP, regs.rsp),
            (REG_RIP, regs.rip),
            (REG_EFL, regs.eflags),
        ] {
            g[reg as usize] = val as i64;
        }
        g[REG_CSGSFS as usize] =
            (regs.cs as i64) | ((regs.gs as i64) << 16) | ((regs.fs as i64) << 32);
    }
    let f = &mut ctx.float_state;
    f.cwd = fp.cwd;
    f.swd = fp.swd;
    f.ftw = fp.ftw;
    f.fop = fp.fop;
    f.rip = fp.rip;
    f.rdp = fp.rdp;
    f.mxcsr = fp.mxcsr;
    f.mxcr_mask = fp.mxcr_mask;
    f.st_space = fp.st_space;
    f.xmm_space = fp.xmm_space;
    eprintln!(
        "crash: signo={} code={} addr={:#x} rip={:#x} rsp={:#x}",
        si.si_signo, si.si_code, ctx.siginfo.ssi_addr, regs.rip, regs.rsp
    );
    // detach with SIGSTOP: the process stays stopped, and the writer attaches to every thread
    unsafe {
        ptrace_ok(
            libc::ptrace(libc::PTRACE_DETACH, pid, 0, libc::SIGSTOP as libc::c_long),
            "DETACH",
        )
    };
    let mut file = std::fs::File::create(out).unwrap_or_else(|_| fail("create output"));
    let mut cfg = MinidumpWriterConfig::new(pid, pid);
    cfg.set_crash_context(CrashContextExt { inner: ctx });
    let res = cfg.write(&mut file);
    eprintln!(
        "crash dump of pid {pid}: {:?}",
        res.as_ref().map(|b| b.len())
    );
    unsafe { libc::kill(pid, libc::SIGKILL) };
    child.wait().ok();
    echo.join().ok();
    if res.is_err() {
        std::process::exit(1);
    }
}
