#!/usr/bin/env bash
# `ckdump snapshot --pid PID -o FILE` beside `gcore -o PREFIX PID` (gdb) on the
# same live process: 4 threads and MIB (default 640) MiB of heap filled with
# non-zero bytes (so neither tool can skip it as holes). Timed together by
# hyperfine; peak RSS of one run each by /usr/bin/time. Needs root (ptrace)
# or a ptrace-permitting kernel. Release build.
#
#   sudo bash bench/snapshot.sh          # MIB=1024 bash bench/snapshot.sh for more
#
# Not a test: timings on this machine are noisy; read the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/results
mkdir -p "$out"
work=$(mktemp -d)
mib=${MIB:-640}
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in hyperfine gdb cc; do
  if ! command -v "$tool" >/dev/null; then
    pkg=$tool; [ "$tool" = cc ] && pkg=gcc
    apt-get install -y -qq "$pkg" >/dev/null
  fi
done
cargo build --release --quiet
ck=${CARGO_TARGET_DIR:-$root/target}/release/ckdump

cat > "$work/bigmem.c" <<'EOF'
/* MIB MiB of touched, non-zero heap and three idle worker threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void *idle(void *arg) { (void)arg; for (;;) pause(); }
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 640;
    size_t size = mib << 20;
    unsigned char *p = malloc(size);
    if (!p) return 1;
    for (size_t i = 0; i < size; i++) p[i] = (unsigned char)(i * 2654435761u >> 24) | 1;
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, idle, NULL);
    printf("pid=%d ready\n", getpid());
    fflush(stdout);
    for (;;) pause();
}
EOF
cc -O2 -g -pthread -o "$work/bigmem" "$work/bigmem.c"
mkfifo "$work/ready"
"$work/bigmem" "$mib" > "$work/ready" &
pid=$!
read -r line < "$work/ready"
echo "bench process: $line, $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status) resident"

ck_cmd="$ck snapshot --pid $pid -o $work/ck.core --quiet"
gcore_cmd="gcore -o $work/gcore $pid"
hyperfine --warmup 1 --runs 5 \
  --prepare "rm -f $work/ck.core $work/gcore.$pid; sync" \
  -n "ckdump snapshot" "$ck_cmd" -n gcore "$gcore_cmd" \
  --export-markdown "$out/snapshot.md" --export-json "$out/snapshot.json"

rss() { /usr/bin/time -f %M "$@" >/dev/null 2>"$work/time" || true; tail -n1 "$work/time"; }
rm -f "$work/ck.core" "$work/gcore.$pid"
r_ck=$(rss $ck snapshot --pid "$pid" -o "$work/ck.core" --quiet)
r_gc=$(rss gcore -o "$work/gcore" "$pid")
size_ck=$(du -k --apparent-size "$work/ck.core" | cut -f1)
size_gc=$(du -k --apparent-size "$work/gcore.$pid" | cut -f1)
{
  printf '| tool | peak RSS (KiB) | core size (KiB) |\n|---|---:|---:|\n'
  printf '| ckdump snapshot | %s | %s |\n' "$r_ck" "$size_ck"
  printf '| gcore | %s | %s |\n' "$r_gc" "$size_gc"
} > "$out/snapshot-rss.md"
cat "$out/snapshot-rss.md"
# The snapshot is a good core: verify and the process still running.
"$ck" verify "$work/ck.core" --quiet | tail -n1
grep State /proc/$pid/status
