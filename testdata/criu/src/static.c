/*
 * static.c - single-threaded, statically linked CRIU fixture program (see
 * testdata/criu/README.md).  Built by testdata/criu/gen.sh with  gcc -static -g -O1
 * -fno-omit-frame-pointer  (no PT_INTERP, no shared libraries: every mapping is the program
 * itself, heap, stack, vvar/vdso).
 *
 * main -> tick_loop: every 200 ms it increments g_ticks and rewrites g_status ("tick N"),
 * then sleeps in nanosleep().  The generator dumps it twice: a full dump and, a second or
 * so later, an incremental one (--prev-images-dir); the page holding g_ticks changes
 * between the two, most other pages do not.
 *
 * Prints "ready pid=P ticks=&ADDR status=&ADDR" once on stdout.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long g_ticks;
char g_status[64] = "ckdump-criu-static-marker";
const char g_static_tag[] = "ckdump-criu-static-rodata";

__attribute__((noinline)) static void tick_loop(void) {
    const struct timespec ts = {0, 200 * 1000 * 1000};
    for (;;) {
        g_ticks++;
        snprintf(g_status, sizeof g_status, "tick %lu", g_ticks);
        nanosleep(&ts, NULL);
    }
}

int main(void) {
    printf("ready pid=%d ticks=%p status=%p tag=%s\n", getpid(), (void *)&g_ticks,
           (void *)g_status, g_static_tag);
    fflush(stdout);
    tick_loop();
}
