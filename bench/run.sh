#!/usr/bin/env bash
# Side-by-side benchmark: `ckdump inspect` (all threads, symbolized) against
# `eu-stack -v` and `gdb -batch -ex 'thread apply all bt'` on the same cores,
# in one run. Writes bench/results/*.md (hyperfine tables) and prints peak RSS.
#
#   bash bench/run.sh            # needs ../shared for the shared cores
#
# Not a test: timings on this machine are noisy; read the ratios, not the
# absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in hyperfine gdb eu-stack zstd; do
  if ! command -v "$tool" >/dev/null; then
    pkg=$tool; [ "$tool" = eu-stack ] && pkg=elfutils
    apt-get install -y -qq "$pkg" >/dev/null
  fi
done
cargo build --release --quiet
ck=$root/target/release/ckdump

# name|core|executable|ckdump args|gdb setup
cases=()
shared=$root/../shared/generated/linux-cores
if [ -d "$shared" ]; then
  for c in core.kernel-sigsegv core.gdb-generate-core-file core.gcore-live; do
    zstd -qdc "$shared/$c.zst" > "$work/$c"
    cases+=("$c|$work/$c|$shared/crashme|--symbols $shared/libs --symbols $shared")
  done
fi
# A 101-thread core (100 workers + main), made fresh on this machine.
bash bench/gen-manythreads.sh "$work/many" 100 >/dev/null
cases+=("101-threads|$work/many/core.threads-many|$work/many/threads-many|--symbols $work/many")

rss() { /usr/bin/time -f %M "$@" >/dev/null 2>"$work/time" || true; tail -n1 "$work/time"; }

printf '| core | ckdump peak RSS (KiB) | eu-stack peak RSS (KiB) | gdb peak RSS (KiB) |\n|---|---|---|---|\n' > "$out/rss.md"
for c in "${cases[@]}"; do
  IFS='|' read -r name core exe ckargs <<<"$c"
  ck_cmd="$ck inspect $core $ckargs --quiet"
  eu_cmd="eu-stack -v --core=$core -e $exe"
  gdb_cmd="gdb -batch -nx -ex 'thread apply all bt' $exe $core"
  hyperfine --warmup 2 --runs 10 -N --ignore-failure \
    -n ckdump "$ck_cmd" -n eu-stack "$eu_cmd" -n gdb "$gdb_cmd" \
    --export-markdown "$out/$name.md" --export-json "$out/$name.json"
  r1=$(rss $ck_cmd); r2=$(rss $eu_cmd); r3=$(rss gdb -batch -nx -ex 'thread apply all bt' "$exe" "$core")
  printf '| %s | %s | %s | %s |\n' "$name" "$r1" "$r2" "$r3" >> "$out/rss.md"
done
cat "$out/rss.md"
