/*
 * threads.c - ckdump test fixture (see testdata/README.md).
 *
 * The main thread starts NWORKERS worker threads (default 3) named "worker-0".."worker-N"
 * with pthread_setname_np.  Every worker parks in usleep() under the noinline call chain
 *     worker -> worker_mid -> worker_leaf -> usleep
 * on a small (64 KiB) stack so that cores stay small.
 *
 * Usage:  threads [crash|wait] [NWORKERS]
 *   crash (default): the main thread crashes in the recursive crash_here() (depth 4)
 *     main -> do_work -> crash_here(3) -> crash_here(2) -> crash_here(1) -> crash_here(0)
 *     -> read_value()  [always_inline, so the faulting pc lies in DW_TAG_inlined_subroutine]
 *     which reads through the bad pointer 0x10 -> SIGSEGV / SEGV_MAPERR, si_addr 0x10.
 *   wait: the main thread loops in pause() instead (used for gcore on a live process).
 *
 * Every thread prints "tid=<tid> name=<name>" and the main thread finally prints
 * "pid=<pid> ready", so the generator knows which tid carried which name (ELF cores only
 * store the name of the main thread, in NT_PRPSINFO).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKER_STACK_SIZE (64 * 1024)
#define MAX_WORKERS 256

struct record {
    int value;
    int weight;
};

static volatile int ready_count;
/* A few globals with known values, for memory-reading tests. */
int global_counter = 42;
const char *global_msg = "ckdump-test-string";

static long current_tid(void) { return (long)syscall(SYS_gettid); }

static void announce(const char *name) {
    printf("tid=%ld name=%s\n", current_tid(), name);
    fflush(stdout);
}

__attribute__((noinline)) static void worker_leaf(int id) {
    volatile long spins = id;
    __atomic_add_fetch(&ready_count, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        spins++;
        usleep(200000);
    }
}

__attribute__((noinline)) static void worker_mid(int id) {
    worker_leaf(id);
}

static void *worker(void *arg) {
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", id);
    pthread_setname_np(pthread_self(), name);
    announce(name);
    worker_mid(id);
    return NULL;
}

/* Always inlined, even at -O0: the faulting load sits in an inlined subroutine. */
static inline __attribute__((always_inline)) int read_value(const struct record *r) {
    return r->value * 3 + 1; /* SIGSEGV when r == 0x10 */
}

__attribute__((noinline)) static int crash_here(const struct record *r, int depth) {
    int local = depth * 7;
    if (depth == 0) {
        const struct record *bad = (const struct record *)0x10;
        return read_value(bad) + local;
    }
    return crash_here(r, depth - 1) + local;
}

__attribute__((noinline)) static int do_work(int depth) {
    struct record rec = {1, 2};
    return crash_here(&rec, depth);
}

int main(int argc, char **argv) {
    int wait_mode = argc > 1 && strcmp(argv[1], "wait") == 0;
    int nworkers = argc > 2 ? atoi(argv[2]) : 3;
    if (nworkers < 0 || nworkers > MAX_WORKERS) nworkers = 3;

    static pthread_t th[MAX_WORKERS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);

    char main_name[16] = {0};
    pthread_getname_np(pthread_self(), main_name, sizeof main_name);
    announce(main_name);

    for (long i = 0; i < nworkers; i++)
        pthread_create(&th[i], &attr, worker, (void *)i);
    while (ready_count < nworkers) usleep(1000);
    usleep(50000); /* let every worker reach its usleep() */

    printf("pid=%d ready msg=%s counter=%d\n", getpid(), global_msg, global_counter);
    fflush(stdout);

    if (wait_mode)
        for (;;) pause();
    return do_work(3);
}
