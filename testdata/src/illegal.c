/*
 * illegal.c - ckdump test fixture (see testdata/README.md).  Single threaded, no stdio
 * (so the process has no heap and its core stays tiny).
 *
 * main -> illegal_mid -> illegal_leaf, which executes ud2 (__builtin_trap)
 * -> SIGILL / ILL_ILLOPN, si_addr = address of the ud2 instruction.
 * This binary is committed with its DWARF inside (not stripped).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int sink;

__attribute__((noinline)) static void illegal_leaf(int x) {
    sink = x;
    if (x >= 0)
        __builtin_trap(); /* ud2 -> SIGILL */
    sink = -x;
}

__attribute__((noinline)) static void illegal_mid(int x) {
    illegal_leaf(x + 1);
    sink += 1;
}

int main(int argc, char **argv) {
    (void)argv;
    char line[64];
    int n = snprintf(line, sizeof line, "tid=%ld name=illegal\npid=%d ready\n",
                     (long)syscall(SYS_gettid), getpid());
    if (write(1, line, (size_t)n) < 0) return 1;
    illegal_mid(argc);
    return 0;
}
