#!/usr/bin/env bash
# Side-by-side: `ckdump inspect` against minidump-stackwalk (0.27) on the
# same minidumps with the same symbols: Breakpad .sym for both, and ckdump
# also straight from the PDBs. Writes bench/results/minidump-*.md.
#   cargo install minidump-stackwalk --version 0.27.0   (once; ~15 min)
#   bash bench/minidump.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results; mkdir -p "$out"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
command -v minidump-stackwalk >/dev/null || { echo "install minidump-stackwalk 0.27 first" >&2; exit 1; }
cargo build --release --quiet
ck=target/release/ckdump
run() { # name dump symbols-for-both
  hyperfine --warmup 2 --runs 15 -N \
    -n "ckdump" "$ck inspect $2 --symbols $3 --quiet" \
    -n "minidump-stackwalk" "minidump-stackwalk $2 $3" \
    --export-markdown "$out/minidump-$1.md" --export-json "$out/minidump-$1.json"
}
# Linux minidump-writer dump, Breakpad .sym files for both tools.
run linux-crash testdata/minidump/crash.dmp symbols
# wine dump: minidump-stackwalk with .sym (made by dump_syms from the PDBs), ckdump from the PDBs.
run wine-pdb testdata/windows/dumps/wcrash_selfdump_cv.dmp symbols
# Corpus Breakpad dump with its .sym store.
if [ -d ../shared/corpus/breakpad ]; then
  run breakpad-minidump2 ../shared/corpus/breakpad/minidump2.dmp ../shared/corpus/breakpad/symbols
fi
for f in "$out"/minidump-*.md; do echo "== $f"; cat "$f"; done
