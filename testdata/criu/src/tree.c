/*
 * tree.c - multi-process CRIU fixture program (see testdata/criu/README.md).
 *
 * Built by testdata/criu/gen.sh with  gcc -g -O1 -fno-omit-frame-pointer -pthread  (dynamic,
 * PIE) and checkpointed with `criu dump -t ROOT` (the whole tree) inside a QEMU guest while it
 * waits.  The process tree at the dump:
 *
 *   tree             (root)  main thread "tree":   waitpid() <- parent_wait <- main
 *                            thread "pworker":     usleep() <- parent_worker_leaf
 *                                                   <- parent_worker_mid <- parent_worker
 *   +- tree-child    (fork)  main thread "tree-child": pause() <- child_wait <- child_main <- main
 *   |                        threads "cworker-0", "cworker-1": usleep() <- child_worker_leaf
 *   |                                                   <- child_worker_mid <- child_worker
 *   |  +- tree-grandchild    one thread "tree-grandchild": pause() <- grandchild_wait
 *   |                                                   <- grandchild_main <- child_main <- main
 *   +- tree-zombie   (fork)  exited with status 7 and never reaped: a zombie (no memory)
 *
 * The functions named *_leaf, *_mid and *_wait are noinline and their callers use the result,
 * so each keeps its own frame (no tail calls).  Every process shares one session and process
 * group: the generator starts the root with setsid.
 *
 * State a checkpoint reader can look for (the same virtual addresses hold different bytes in
 * each process, so a reader must read every task's own pages):
 *   - .bss:   char g_role[32], set after fork in each process to "ckdump-role-parent",
 *             "ckdump-role-child" or "ckdump-role-grandchild" (same address in all three)
 *   - heap:   g_heap points to a struct tree_heap malloc'd after fork in each process: tag
 *             "ckdump-tree-heap-parent" / "-child" / "-grandchild", magic 0x7472656531323334,
 *             the process's pid and its thread ids (main thread first, 0 for unused slots)
 *   - fds:    only 0 (/dev/null) and 1, 2 (/tmp/tree.out) in every process; the pipes used to
 *             collect the ids are closed before the ready line
 *
 * Once every process and thread is in place the root prints one line on stdout (the generator
 * records it):
 *   ready pid=P tids=P,PW child=C child_tids=C,C0,C1 grandchild=G zombie=Z g_role=0xADDR
 *         heap=0xADDR child_heap=0xADDR grandchild_heap=0xADDR
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 3
#define WORKER_STACK_SIZE (64 * 1024)
#define HEAP_MAGIC 0x7472656531323334ULL /* "4321eert" little-endian */

struct tree_heap {
    char tag[32];
    uint64_t magic;
    long pid;
    long tids[MAX_THREADS];
};

char g_role[32];
struct tree_heap *g_heap;

/* What a process reports to its parent through a pipe. */
struct report {
    long pid;
    long tids[MAX_THREADS];
    uintptr_t heap;
    long grandchild;           /* child only */
    uintptr_t grandchild_heap; /* child only */
};

static volatile int ready_count;
/* Never set: it only gives the loops a way out, so that gcc neither treats the functions as
 * noreturn nor turns the calls into tail calls. */
static volatile int stop;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static long gettid_(void) { return (long)syscall(SYS_gettid); }

/* Sets g_role and g_heap for the process that calls it (after fork). */
static void become(const char *role, const char *tag) {
    strncpy(g_role, role, sizeof g_role - 1);
    g_heap = malloc(sizeof *g_heap);
    if (!g_heap) die("malloc");
    memset(g_heap, 0, sizeof *g_heap);
    strncpy(g_heap->tag, tag, sizeof g_heap->tag - 1);
    g_heap->magic = HEAP_MAGIC;
    g_heap->pid = getpid();
    g_heap->tids[0] = gettid_();
}

static void read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) die("read pipe");
        p += r;
        n -= (size_t)r;
    }
}

static void write_all(int fd, const void *buf, size_t n) {
    if (write(fd, buf, n) != (ssize_t)n) die("write pipe");
}

static void start_thread_(void *(*fn)(void *), long arg) {
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
    if (pthread_create(&th, &attr, fn, (void *)arg) != 0) die("pthread_create");
    pthread_attr_destroy(&attr);
}

/* ---------------- worker threads ---------------- */

__attribute__((noinline)) static long parent_worker_leaf(void) {
    long ticks = 0;
    g_heap->tids[1] = gettid_();
    __atomic_add_fetch(&ready_count, 1, __ATOMIC_SEQ_CST);
    while (!stop) {
        ticks++;
        usleep(100000);
    }
    return ticks;
}

__attribute__((noinline)) static long parent_worker_mid(void) {
    long r = parent_worker_leaf();
    return r + 1;
}

static void *parent_worker(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "pworker");
    return (void *)parent_worker_mid();
}

__attribute__((noinline)) static long child_worker_leaf(int id) {
    long ticks = 0;
    g_heap->tids[1 + id] = gettid_();
    __atomic_add_fetch(&ready_count, 1, __ATOMIC_SEQ_CST);
    while (!stop) {
        ticks++;
        usleep(100000);
    }
    return ticks;
}

__attribute__((noinline)) static long child_worker_mid(int id) {
    long r = child_worker_leaf(id);
    return r + id;
}

static void *child_worker(void *arg) {
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "cworker-%d", id);
    pthread_setname_np(pthread_self(), name);
    return (void *)child_worker_mid(id);
}

/* ---------------- the processes' main threads ---------------- */

__attribute__((noinline)) static int grandchild_wait(void) {
    int n = 0;
    while (!stop) {
        pause();
        n++;
    }
    return n;
}

__attribute__((noinline)) static int grandchild_main(int report_fd) {
    prctl(PR_SET_NAME, "tree-grandchild");
    become("ckdump-role-grandchild", "ckdump-tree-heap-grandchild");
    struct report rep = {.pid = getpid(), .heap = (uintptr_t)g_heap};
    rep.tids[0] = g_heap->tids[0];
    write_all(report_fd, &rep, sizeof rep);
    close(report_fd);
    return grandchild_wait() + 1;
}

__attribute__((noinline)) static int child_wait(void) {
    int n = 0;
    while (!stop) {
        pause();
        n++;
    }
    return n;
}

__attribute__((noinline)) static int child_main(int report_fd) {
    prctl(PR_SET_NAME, "tree-child");
    become("ckdump-role-child", "ckdump-tree-heap-child");

    int p[2];
    if (pipe(p) != 0) die("pipe");
    pid_t gc = fork();
    if (gc < 0) die("fork grandchild");
    if (gc == 0) {
        close(p[0]);
        close(report_fd);
        exit(grandchild_main(p[1]));
    }
    close(p[1]);
    struct report gcrep;
    read_all(p[0], &gcrep, sizeof gcrep);
    close(p[0]);

    for (long i = 0; i < 2; i++) start_thread_(child_worker, i);
    while (ready_count < 2) usleep(1000);
    usleep(50000); /* let every worker reach its usleep() */

    struct report rep = {.pid = getpid(), .heap = (uintptr_t)g_heap, .grandchild = gcrep.pid,
                         .grandchild_heap = gcrep.heap};
    memcpy(rep.tids, g_heap->tids, sizeof rep.tids);
    write_all(report_fd, &rep, sizeof rep);
    close(report_fd);
    return child_wait() + 1;
}

__attribute__((noinline)) static int parent_wait(pid_t child) {
    int status = 0, n = 0;
    while (!stop) {
        if (waitpid(child, &status, 0) == child) break;
        n++;
    }
    return n + status;
}

int main(void) {
    /* The zombie first: it exits at once and is never reaped. */
    pid_t zombie = fork();
    if (zombie < 0) die("fork zombie");
    if (zombie == 0) {
        prctl(PR_SET_NAME, "tree-zombie");
        _exit(7);
    }

    int p[2];
    if (pipe(p) != 0) die("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) die("fork child");
    if (child == 0) {
        close(p[0]);
        exit(child_main(p[1]));
    }
    close(p[1]);

    become("ckdump-role-parent", "ckdump-tree-heap-parent");
    start_thread_(parent_worker, 0);
    while (ready_count < 1) usleep(1000);

    struct report crep;
    read_all(p[0], &crep, sizeof crep);
    close(p[0]);

    /* Wait until the zombie is one, without reaping it (WNOWAIT). */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT) != 0) die("waitid zombie");
    if (si.si_code != CLD_EXITED || si.si_status != 7) {
        fprintf(stderr, "zombie: code %d status %d\n", si.si_code, si.si_status);
        exit(1);
    }
    usleep(50000); /* let the parent's worker reach its usleep() */

    printf("ready pid=%d tids=%ld,%ld child=%ld child_tids=%ld,%ld,%ld grandchild=%ld zombie=%d "
           "g_role=%p heap=%p child_heap=%p grandchild_heap=%p\n",
           getpid(), g_heap->tids[0], g_heap->tids[1], crep.pid, crep.tids[0], crep.tids[1],
           crep.tids[2], crep.grandchild, (int)zombie, (void *)g_role, (void *)g_heap,
           (void *)crep.heap, (void *)crep.grandchild_heap);
    fflush(stdout);

    return parent_wait(child);
}
