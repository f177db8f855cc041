/*
 * mt.c - multi-threaded CRIU fixture program (see testdata/criu/README.md).
 *
 * Built by testdata/criu/gen.sh with  gcc -g -O1 -fno-omit-frame-pointer -pthread  (dynamic,
 * PIE) and checkpointed with `criu dump` inside a QEMU guest while it waits:
 *
 *   main thread   "mt"         pause() in main()
 *   worker-0..2   "worker-N"   usleep() <- worker_leaf <- worker_mid <- worker <- start_thread
 *
 * State a checkpoint reader can look for:
 *   - heap:    one malloc'd struct heap_marker: tag "ckdump-criu-heap-marker", counter
 *              0x1122334455667788, the tids of the workers; the global g_heap points to it
 *   - .data:   g_counter = 42, g_msg -> "ckdump-criu-global-string" (.rodata)
 *   - mmap:    the file /tmp/mt-mapped.bin (8 KiB, every byte 0x5a), mapped MAP_PRIVATE
 *              read/write; the program writes "ckdump-criu-mmap-marker" at offset 0, so that
 *              page is dirty (private copy, dumped by CRIU) and the second page is not
 *   - fd 3:    /tmp/mt.log, O_WRONLY|O_APPEND, holding one line "mt log line\n" (file
 *              position 12), kept open
 *
 * Once everything is in place it prints one line on stdout (the generator records it):
 *   ready pid=P heap=0xADDR mmap=0xADDR fd=3 tids=T0,T1,T2
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NWORKERS 3
#define WORKER_STACK_SIZE (64 * 1024)
#define MAP_SIZE 8192

struct heap_marker {
    char tag[32];
    uint64_t counter;
    long worker_tids[NWORKERS];
};

int g_counter = 42;
const char *g_msg = "ckdump-criu-global-string";
struct heap_marker *g_heap;
char *g_map;
int g_log_fd = -1;

static volatile int ready_count;
/* Never set: it only gives worker_leaf a way out, so that gcc neither treats it as noreturn
 * nor turns the call in worker_mid into a tail call (each function keeps its own frame). */
static volatile int stop_workers;

__attribute__((noinline)) static long worker_leaf(int id) {
    long ticks = 0;
    g_heap->worker_tids[id] = (long)syscall(SYS_gettid);
    __atomic_add_fetch(&ready_count, 1, __ATOMIC_SEQ_CST);
    while (!stop_workers) {
        ticks++;
        usleep(100000);
    }
    return ticks;
}

__attribute__((noinline)) static long worker_mid(int id) {
    long r = worker_leaf(id);
    return r + id;
}

static void *worker(void *arg) {
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", id);
    pthread_setname_np(pthread_self(), name);
    return (void *)worker_mid(id);
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(void) {
    g_heap = malloc(sizeof *g_heap);
    if (!g_heap) die("malloc");
    memset(g_heap, 0, sizeof *g_heap);
    strcpy(g_heap->tag, "ckdump-criu-heap-marker");
    g_heap->counter = 0x1122334455667788ULL;

    /* The file to map: 8 KiB of 0x5a. */
    int mfd = open("/tmp/mt-mapped.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (mfd < 0) die("open mt-mapped.bin");
    char buf[MAP_SIZE];
    memset(buf, 0x5a, sizeof buf);
    if (write(mfd, buf, sizeof buf) != (ssize_t)sizeof buf) die("write mt-mapped.bin");
    g_map = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
    if (g_map == MAP_FAILED) die("mmap");
    close(mfd);
    strcpy(g_map, "ckdump-criu-mmap-marker");

    /* A write-only file descriptor that stays open (fd 3: 0-2 are taken, mfd was closed). */
    g_log_fd = open("/tmp/mt.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (g_log_fd < 0) die("open mt.log");
    if (write(g_log_fd, "mt log line\n", 12) != 12) die("write mt.log");

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
    pthread_t th[NWORKERS];
    for (long i = 0; i < NWORKERS; i++)
        if (pthread_create(&th[i], &attr, worker, (void *)i) != 0) die("pthread_create");
    while (ready_count < NWORKERS) usleep(1000);
    usleep(50000); /* let every worker reach its usleep() */

    printf("ready pid=%d heap=%p mmap=%p fd=%d tids=%ld,%ld,%ld\n", getpid(), (void *)g_heap,
           (void *)g_map, g_log_fd, g_heap->worker_tids[0], g_heap->worker_tids[1],
           g_heap->worker_tids[2]);
    fflush(stdout);

    for (;;) pause();
}
