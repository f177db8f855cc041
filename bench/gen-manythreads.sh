#!/usr/bin/env bash
# bench/gen-manythreads.sh - make a many-thread ELF core for ckdump benchmarks.
#
#   usage (as root):  bash bench/gen-manythreads.sh OUTDIR [NWORKERS]   (default 100 workers)
#
# Builds testdata/src/threads.c (-O0 -g, DWARF kept in the binary) as OUTDIR/threads-many and
# lets the kernel dump it while it crashes with NWORKERS worker threads + the main thread:
#   OUTDIR/core.threads-many        the raw core (about NWORKERS x 68 KiB)
#   OUTDIR/core.threads-many.zst    zstd -3 copy
#   OUTDIR/threads-many.stdout.txt  "tid=N name=worker-K" for every thread
# Nothing here is committed; testdata/gen.sh does not call this script.
# /proc/sys/kernel/core_pattern is changed while the program runs and always restored.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [NWORKERS]" >&2; exit 64; }
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (writes core_pattern)" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/testdata/src
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
NWORKERS=${2:-100}
if [ "$NWORKERS" -lt 1 ] || [ "$NWORKERS" -gt 256 ]; then echo "$0: NWORKERS must be 1..256" >&2; exit 64; fi

for tool in gcc zstd; do
    command -v "$tool" >/dev/null || apt-get install -y "$tool"
done

(cd "$SRC" && gcc -Wall -O0 -g -pthread -ffile-prefix-map="$SRC"=/usr/src/ckdump-testdata \
    -o "$OUT/threads-many" threads.c)

KCORES=$(mktemp -d)
OLD_CORE_PATTERN=$(cat /proc/sys/kernel/core_pattern)
restore() { printf '%s\n' "$OLD_CORE_PATTERN" > /proc/sys/kernel/core_pattern; rm -rf "$KCORES"; }
trap restore EXIT
printf '%s\n' "$KCORES/core.%e.%p" > /proc/sys/kernel/core_pattern
ulimit -c unlimited

# crash mode ("crash"), NWORKERS workers; SIGSEGV is expected
(cd "$OUT" && exec env -i PATH=/usr/bin:/bin "$OUT/threads-many" crash "$NWORKERS") \
    > "$OUT/threads-many.stdout.txt" 2>&1 || true

core=$(find "$KCORES" -maxdepth 1 -type f -name 'core.*' -print -quit)
[ -n "$core" ] || { echo "$0: no core was written" >&2; exit 1; }
mv "$core" "$OUT/core.threads-many"
zstd -q -f -3 "$OUT/core.threads-many" -o "$OUT/core.threads-many.zst"
echo "threads: $(grep -c '^tid=' "$OUT/threads-many.stdout.txt")"
ls -la "$OUT"
