#!/usr/bin/env bash
# `ckdump diff` on a big CRIU checkpoint (bench/criu-big.sh: 544 MiB process, 137,122 dumped pages,
# pages-1.img 535.6 MiB):
#   criu self       the checkpoint against itself (every page identical: the cost of reading both)
#   criu patched    against a copy with 4 pages changed (one byte flipped in each)
#   criu swapped    against a copy with 2 pairs of pages swapped in pages-1.img (4 pages "moved")
# and on ELF cores of the same program run here (ckdump snapshot; skipped with NO_CORES=1):
#   core self, core 1 s later (a second snapshot of the same process), core other run (a second
#   run of the program: ASLR put its 544 MiB elsewhere, every page of it moved)
# one hyperfine run (warm page cache: the files are read once before timing) plus peak RSS of one
# run each by /usr/bin/time -v. There is no reference tool that diffs two checkpoints' memory: the
# numbers stand alone (bench/criu.sh has the seal hashing of the same file for scale).
# Writes bench/results/diff.{md,json} and diff-rss.md.
#
#   bash bench/diff.sh                 # makes bench/data/criu-big first if needed (as root)
#   RUNS=5 bash bench/diff.sh          # fewer runs (default 10, 2 warm-ups)
#   CKDUMP=/path/to/ckdump RESULTS=bench/results/other bash bench/diff.sh   # time another build
#   BASELINE=/path/to/old/ckdump bash bench/diff.sh   # and an older build beside it, case by case
#
# The copies live in bench/data/criu-big-diff/ (gitignored), made once and reused.
# Not a test: this machine is shared and noisy; read the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${RESULTS:-$root/bench/results}
mkdir -p "$out"
RUNS=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -f bench/data/criu-big/COMPLETE ] || bash bench/criu-big.sh
dir=$root/bench/data/criu-big/images
copies=$root/bench/data/criu-big-diff

if [ -n "${CKDUMP:-}" ]; then
  ck=$CKDUMP
else
  cargo build --release --quiet
  ck=${CARGO_TARGET_DIR:-$root/target}/release/ckdump
fi
[ -x "$ck" ] || { echo "diff.sh: no $ck" >&2; exit 1; }

# A copy of the image directory with pages-1.img edited by the python snippet $2.
make_copy() { # make_copy NAME PYTHON
  local name=$1 edit=$2
  [ -f "$copies/$name/DONE" ] && return 0
  rm -rf "$copies/$name" && mkdir -p "$copies/$name"
  cp "$dir"/* "$copies/$name/"
  python3 - "$copies/$name/pages-1.img" <<EOF
import sys
f = open(sys.argv[1], "r+b")
P = 4096
def page(i):
    f.seek(i * P); return f.read(P)
def put(i, b):
    f.seek(i * P); f.write(b)
$edit
EOF
  touch "$copies/$name/DONE"
}
# One byte flipped at 0x100 in four pages spread over the file.
make_copy patched '
for i in (1000, 40000, 80000, 120000):
    b = bytearray(page(i)); b[0x100] ^= 0xff; put(i, bytes(b))'
# Pages 2000 <-> 2001 and 90000 <-> 100000 swapped: the same contents at other addresses.
make_copy swapped '
for i, j in ((2000, 2001), (90000, 100000)):
    x, y = page(i), page(j); put(i, y); put(j, x)'

# ELF cores of the same program run on this host (needs ptrace: root): two runs (ASLR maps the
# 544 MiB elsewhere each time: every page of it moves) and a second snapshot of the first run a
# moment later, each saved by `ckdump snapshot`. ELF cores are read through Memory::lend
# (zero-copy, released behind the cursor), the CRIU reader through copies.
cores=$root/bench/data/diff-cores
if [ ! -f "$cores/DONE" ] && [ "${NO_CORES:-0}" != 1 ]; then
  rm -rf "$cores" && mkdir -p "$cores"
  gcc -O2 -g -pthread -o "$cores/criu-big" bench/src/criu-big.c
  snap() { # snap OUT...: runs criu-big, snapshots it once per OUT, stops it
    mkfifo "$work/ready"
    "$cores/criu-big" > "$work/ready" &
    local pid=$!
    read -r line < "$work/ready"
    echo "diff.sh: $line" >&2
    for o in "$@"; do "$ck" snapshot --pid "$pid" -o "$cores/$o" --quiet; sleep 1; done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -f "$work/ready"
  }
  snap run1.core run1-again.core
  snap run2.core
  touch "$cores/DONE"
fi
cat "$dir"/* "$copies"/*/* > /dev/null   # warm the page cache

cases=(
  "criu self|$ck diff $dir $dir --quiet"
  "criu patched (4 pages)|$ck diff $dir $copies/patched --quiet"
  "criu swapped (2 pairs)|$ck diff $dir $copies/swapped --quiet"
)
if [ -f "$cores/DONE" ]; then
  cat "$cores"/*.core > /dev/null
  cases+=(
    "core self|$ck diff $cores/run1.core $cores/run1.core --quiet"
    "core 1 s later|$ck diff $cores/run1.core $cores/run1-again.core --quiet"
    "core other run (all moved)|$ck diff $cores/run1.core $cores/run2.core --quiet"
  )
fi
# BASELINE=/path/to/ckdump times another build beside this one, case by case, in the same run.
if [ -n "${BASELINE:-}" ]; then
  both=()
  for c in "${cases[@]}"; do
    both+=("${c%%|*} (baseline)|${c#*|}" "$c")
    both[-2]=${both[-2]/$ck /$BASELINE }
  done
  cases=("${both[@]}")
fi
args=()
for c in "${cases[@]}"; do args+=(-n "${c%%|*}" "${c#*|}"); done
# diff exits 1 when the images differ.
hyperfine --warmup 2 --runs "$RUNS" --ignore-failure "${args[@]}" \
  --export-markdown "$out/diff.md" --export-json "$out/diff.json"

printf '| command | peak RSS (KiB) | exit |\n|---|---:|---:|\n' > "$out/diff-rss.md"
: > "$out/diff-output.md"
for c in "${cases[@]}"; do
  rc=0
  /usr/bin/time -v -o "$work/time" bash -c "${c#*|} > $work/stdout" 2>/dev/null || rc=$?
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
  printf '| %s | %s | %s |\n' "${c%%|*}" "$rss" "$rc" >> "$out/diff-rss.md"
  printf '\n### %s\n\n```\n' "${c%%|*}" >> "$out/diff-output.md"
  tail -n 12 "$work/stdout" >> "$out/diff-output.md"
  printf '```\n' >> "$out/diff-output.md"
done
cat "$out/diff.md" "$out/diff-rss.md"
