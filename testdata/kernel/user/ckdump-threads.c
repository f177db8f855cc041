/*
 * ckdump-threads: the multi-threaded user program that is running in every kernel-dump
 * scenario.  The main thread starts three workers (comm "ckw-worker-0".."ckw-worker-2") that
 * sleep under worker -> worker_mid -> worker_leaf, waits until all are asleep, prints every
 * tid, then writes its argument (process|softirq|hardirq|oops) to /proc/ckdump_panic and
 * waits in pause().  For "process" and "oops" the main thread itself crashes the kernel inside
 * that write(); for the timer scenarios the kernel panics a few milliseconds later in
 * interrupt context while these threads sleep.
 *
 * Built static (the guest's initramfs has no libc): gcc -static -O1 -g -pthread
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NWORKERS 3

static pthread_barrier_t ready;

static __attribute__((noinline)) void worker_leaf(int id)
{
	for (;;)
		sleep(1000 + id);
}

static __attribute__((noinline)) void worker_mid(int id)
{
	worker_leaf(id);
	__asm__ volatile("" ::: "memory"); /* keeps the call a call, not a jump */
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	char name[16];

	snprintf(name, sizeof(name), "ckw-worker-%d", id);
	prctl(PR_SET_NAME, name);
	printf("ckdump-threads: worker %d tid %d name %s\n", id, gettid(), name);
	fflush(stdout);
	pthread_barrier_wait(&ready);
	worker_mid(id);
	return NULL;
}

static __attribute__((noinline)) int trigger(const char *word)
{
	int fd = open("/proc/ckdump_panic", O_WRONLY);

	if (fd < 0) {
		perror("open /proc/ckdump_panic");
		return -1;
	}
	if (write(fd, word, strlen(word)) < 0)
		perror("write /proc/ckdump_panic");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t t[NWORKERS];

	if (argc != 2) {
		fprintf(stderr, "usage: %s process|softirq|hardirq|oops|none\n", argv[0]);
		return 2;
	}
	pthread_barrier_init(&ready, NULL, NWORKERS + 1);
	printf("ckdump-threads: main pid %d\n", getpid());
	fflush(stdout);
	for (long i = 0; i < NWORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&ready);
	usleep(200 * 1000); /* let the workers reach sleep() */
	printf("ckdump-threads: all %d workers asleep, writing '%s'\n", NWORKERS, argv[1]);
	fflush(stdout);
	if (strcmp(argv[1], "none") != 0)
		trigger(argv[1]);
	for (;;)
		pause();
}
