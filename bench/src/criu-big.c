/*
 * criu-big.c - a process with a large, distinct working set for the CRIU benchmark
 * (bench/criu-big.sh checkpoints it in a QEMU guest; bench/criu.sh times readers on the images).
 *
 *   criu-big [MIB]        (default 544 MiB)
 *
 * Maps MIB MiB of anonymous memory and writes every page except each 64th (i % 64 == 63),
 * so CRIU dumps MIB * 63/64 MiB of page data (544 -> 535.5 MiB) in about MIB * 16 pagemap
 * runs, the way a sparse heap looks. Every written page holds its index, a splitmix64 word of
 * that index and the index's complement, repeated over the page: no two pages are equal and none
 * is zero, so neither CRIU (zero pages are not dumped) nor a compressing or deduplicating
 * reader can shrink the image. Three worker threads sleep in a loop. When everything is in
 * place it prints one line and waits in pause():
 *   ready pid=P base=0xADDR bytes=N written_pages=W holes=H tids=T0,T1,T2
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NWORKERS 3
#define PAGE 4096UL
#define HOLE_EVERY 64

static volatile long g_tids[NWORKERS];
static volatile int g_started;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void *worker(void *arg)
{
    long i = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "big-worker-%ld", i);
    pthread_setname_np(pthread_self(), name);
    g_tids[i] = syscall(SYS_gettid);
    __atomic_add_fetch(&g_started, 1, __ATOMIC_SEQ_CST);
    for (;;)
        usleep(100000);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 544;
    if (mib == 0 || mib > 65536) {
        fprintf(stderr, "criu-big: MIB must be 1..65536\n");
        return 64;
    }
    size_t bytes = mib << 20;
    uint64_t *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("criu-big: mmap");
        return 1;
    }
    /* Without this, transparent huge pages fill the holes (zero 4 KiB pages inside a written
     * 2 MiB page are present and CRIU dumps them) and the pagemap is a handful of runs. */
    if (madvise(base, bytes, MADV_NOHUGEPAGE) != 0)
        perror("criu-big: madvise(MADV_NOHUGEPAGE)");
    size_t pages = bytes / PAGE, written = 0, holes = 0;
    for (size_t p = 0; p < pages; p++) {
        if (p % HOLE_EVERY == HOLE_EVERY - 1) {
            holes++;
            continue;
        }
        uint64_t *w = base + p * (PAGE / 8);
        uint64_t r = splitmix64(p);
        for (size_t k = 0; k < PAGE / 8; k += 4) {
            w[k] = p;
            w[k + 1] = r;
            w[k + 2] = ~p;
            w[k + 3] = r ^ k;
        }
        written++;
    }
    pthread_t t[NWORKERS];
    for (long i = 0; i < NWORKERS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
            fprintf(stderr, "criu-big: pthread_create failed\n");
            return 1;
        }
    while (__atomic_load_n(&g_started, __ATOMIC_SEQ_CST) < NWORKERS)
        usleep(1000);
    printf("ready pid=%ld base=%p bytes=%zu written_pages=%zu holes=%zu tids=%ld,%ld,%ld\n",
           (long)getpid(), (void *)base, bytes, written, holes, g_tids[0], g_tids[1], g_tids[2]);
    fflush(stdout);
    for (;;)
        pause();
}
