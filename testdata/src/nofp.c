/*
 * nofp.c - ckdump test fixture (see testdata/README.md).  Built with -O2 -fomit-frame-pointer,
 * so rbp is not a frame pointer and the unwinder needs the CFI (.eh_frame / .debug_frame).
 * Every function keeps a differently sized stack frame, and noipa prevents inlining, cloning
 * and tail calls into/out of the chain:
 *   main -> nofp_top -> nofp_mid -> nofp_leaf, which reads through the bad pointer 0x28
 *   -> SIGSEGV / SEGV_MAPERR, si_addr 0x28.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ctx {
    volatile int *target;
    int scale;
};

__attribute__((noipa)) static int nofp_leaf(struct ctx *c, int n) {
    volatile char buf[40];
    buf[n % 40] = (char)n;
    return *c->target * c->scale + buf[0]; /* SIGSEGV */
}

__attribute__((noipa)) static int nofp_mid(struct ctx *c, int n) {
    volatile long pad[12];
    pad[n % 12] = n;
    int r = nofp_leaf(c, n + 1);
    return r + (int)pad[1];
}

__attribute__((noipa)) static int nofp_top(int n) {
    volatile int pad[20];
    struct ctx c = {(volatile int *)0x28, n};
    pad[n % 20] = n;
    int r = nofp_mid(&c, n * 2);
    return r + pad[3];
}

static volatile int sink;

int main(int argc, char **argv) {
    (void)argv;
    printf("tid=%ld name=nofp\npid=%d ready\n", (long)syscall(SYS_gettid), getpid());
    fflush(stdout);
    int r = nofp_top(argc + 2); /* not a tail call: main stays on the stack */
    sink = r;
    return r == 12345;
}
