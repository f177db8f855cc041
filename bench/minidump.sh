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
# ckdump never looks at this machine's /usr/lib/debug here (--no-host-symbols): both tools
# get exactly the symbols named on the command line.
run() { # name dump symbols-for-both [extra hyperfine args...]
  local name=$1 dump=$2 syms=$3; shift 3
  hyperfine --warmup 3 --runs 30 -N \
    -n "ckdump" "$ck inspect $dump --symbols $syms --no-host-symbols --quiet" \
    -n "minidump-stackwalk" "minidump-stackwalk $dump $syms" "$@" \
    --export-markdown "$out/minidump-$name.md" --export-json "$out/minidump-$name.json"
}
# Linux minidump-writer dump. symbols/ holds libc's DWARF debug file beside the .sym files,
# and ckdump prefers DWARF; the fair run gives both tools a store of the .sym files only.
symstore=$out/symstore-sym; rm -rf "$symstore"
(cd symbols && find . -name '*.sym' -exec cp --parents {} "../$symstore/" \;)
run linux-crash testdata/minidump/crash.dmp "$symstore" \
  -n "ckdump (DWARF from symbols/)" "$ck inspect testdata/minidump/crash.dmp --symbols symbols --no-host-symbols --quiet"
# wine dump with .sym files for both.
run wine-sym testdata/windows/dumps/wcrash_selfdump_cv.dmp "$symstore"
# wine dump: minidump-stackwalk with .sym (made by dump_syms from the PDBs), ckdump from the PDBs.
run wine-pdb testdata/windows/dumps/wcrash_selfdump_cv.dmp symbols
# Corpus Breakpad dump with its .sym store.
if [ -d ../shared/corpus/breakpad ]; then
  run breakpad-minidump2 ../shared/corpus/breakpad/minidump2.dmp ../shared/corpus/breakpad/symbols
fi
for f in "$out"/minidump-*.md; do echo "== $f"; cat "$f"; done
