/*
 * sighandler.c - ckdump test fixture (see testdata/README.md).  Single threaded.
 *
 * main installs a SIGSEGV handler with sigaction(SA_SIGINFO) and calls fault_here(), which
 * writes through the bad pointer 0x20.  The kernel delivers SIGSEGV, pushes a signal frame and
 * enters handler() with the return address pointing at glibc's sigreturn trampoline
 * __restore_rt.  handler() calls handler_leaf(), which calls abort(), so the process finally
 * dies of SIGABRT and the dumped stack reads
 *   raise/abort internals <- abort <- handler_leaf <- handler <- __restore_rt (signal frame)
 *   <- fault_here <- main
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t seen_signal;

__attribute__((noinline)) static void handler_leaf(int sig, void *addr) {
    seen_signal = sig;
    (void)addr;
    abort(); /* final signal: SIGABRT */
}

__attribute__((noinline)) static void handler(int sig, siginfo_t *si, void *ucontext) {
    (void)ucontext;
    handler_leaf(sig, si->si_addr);
}

__attribute__((noinline)) static int fault_here(int *p, int v) {
    *p = v; /* SIGSEGV (SEGV_MAPERR, address 0x20) */
    return *p + 1;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);

    printf("tid=%ld name=sighandler\npid=%d ready\n", (long)syscall(SYS_gettid), getpid());
    fflush(stdout);
    return fault_here((int *)0x20, 7);
}
