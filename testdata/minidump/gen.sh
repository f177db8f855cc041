#!/usr/bin/env bash
# testdata/minidump/gen.sh - regenerate the Breakpad-format Linux minidump fixtures of ckdump.
#
#   usage (as root, Debian 12 x86_64, from any directory):   bash testdata/minidump/gen.sh
#
#   1. builds writer/ (ckdump-mdwriter, on the minidump-writer crate; its own Cargo project and
#      Cargo.lock, outside the ckdump package) and ../src/threads.c with the same flags as
#      testdata/gen.sh (gcc -O0 -g -pthread, sources mapped to /usr/src/ckdump-testdata), so the
#      program is byte-identical to testdata/bin/threads when the compiler is the same
#   2. crash.dmp: `threads crash 3` run under ptrace; at its SIGSEGV (read of 0x10 in the inlined
#      read_value under crash_here x4) the writer builds the crash context from the ptrace'd
#      registers and siginfo, detaches (SIGSTOP) and dumps every thread
#      live.dmp: a running `threads wait 3` (no exception stream)
#   3. Breakpad .sym files with dump_syms --inlines (if installed: `cargo install dump_syms`, about
#      15 minutes) for the program and for libc into ../../symbols/NAME/DEBUGID/NAME.sym
#   4. reference/: the writer's and the program's output, gdb's backtrace of the same crash,
#      minidump-stackwalk with the .sym files (if installed: cargo install minidump-stackwalk), the
#      eu-readelf build ids, and expected.json (../windows/fixtures.py summary of each dump)
#
# The program runs from the FIXED path /tmp/ckdump-md/bin/threads with an empty environment.
# KEEP_STAGE=1 keeps /tmp/ckdump-md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC=$ROOT/testdata/src
SRC_PREFIX=/usr/src/ckdump-testdata
SYMS=$ROOT/symbols
STAGE=/tmp/ckdump-md
RUNENV=(env -i PATH=/usr/bin:/bin)
FIX=$HERE/../windows/fixtures.py

need=()
for pkg in gcc gdb elfutils libc6-dbg python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,home}

# ---- 1. build ---------------------------------------------------------------------------------
(cd "$HERE/writer" && CARGO_TARGET_DIR="$HERE/writer/target" cargo build --locked -q)
WRITER=$HERE/writer/target/debug/ckdump-mdwriter
(cd "$SRC" && gcc -Wall -ffile-prefix-map="$SRC"="$SRC_PREFIX" -O0 -g -pthread -o "$STAGE/bin/threads" threads.c)
PROG=$STAGE/bin/threads

# ---- 2. dumps ---------------------------------------------------------------------------------
REF=$HERE/reference
rm -rf "$REF"
mkdir -p "$REF"
"${RUNENV[@]}" "$WRITER" crash "$HERE/crash.dmp" "$PROG" crash 3 2>"$REF/crash.writer.txt"
"${RUNENV[@]}" "$WRITER" live "$HERE/live.dmp" "$PROG" wait 3 2>"$REF/live.writer.txt"

# ---- 3. Breakpad symbols ----------------------------------------------------------------------
DUMP_SYMS=$(command -v dump_syms || echo "$HOME/.cargo/bin/dump_syms")
LIBC=$(ldd "$PROG" | awk '$1 == "libc.so.6" { print $3 }')
if [ -x "$DUMP_SYMS" ]; then
  symstore() { # symstore FILE: put dump_syms' output at NAME/DEBUGID/NAME.sym
    local sym=$STAGE/$(basename "$1").sym
    "$DUMP_SYMS" --inlines "$1" >"$sym"
    # first line: MODULE Linux x86_64 DEBUGID NAME
    read -r _ _ _ id name <"$sym"
    rm -rf "${SYMS:?}/$name"
    mkdir -p "$SYMS/$name/$id"
    cp "$sym" "$SYMS/$name/$id/$name.sym"
    echo "$name $id" >>"$REF/breakpad-modules.txt"
  }
  : >"$REF/breakpad-modules.txt"
  symstore "$PROG"
  # libc from the ELF itself: PUBLIC symbols and STACK CFI (1.1 MB). Its DWARF (libc6-dbg) is
  # already in symbols/.build-id for the DWARF route; a .sym from the debug file would add 2.7 MB
  # and no CFI (the debug file's .eh_frame is NOBITS).
  symstore "$LIBC"
else
  echo "gen.sh: dump_syms not installed (cargo install dump_syms): no .sym files written" >&2
fi

# ---- 4. references -----------------------------------------------------------------------------
# gdb runs the same program to the same SIGSEGV: function names and file:line of every frame
(cd "$STAGE" && "${RUNENV[@]}" HOME="$STAGE/home" gdb -nx -batch -ex run -ex bt -ex 'info threads' \
  -ex 'thread apply all bt' --args "$PROG" crash 3 >"$REF/crash.gdb.txt" 2>&1) || true
for f in "$PROG" "$LIBC"; do
  echo "== $f"
  eu-readelf -n "$f" | grep 'Build ID'
done >"$REF/build-ids.txt"
[ "$(eu-readelf -n "$PROG" | grep 'Build ID')" = "$(eu-readelf -n "$ROOT/testdata/bin/threads" | grep 'Build ID')" ] \
  && echo "same build id as testdata/bin/threads (debug file in symbols/.build-id)" >>"$REF/build-ids.txt" \
  || echo "build id differs from testdata/bin/threads" >>"$REF/build-ids.txt"
MSW=$(command -v minidump-stackwalk || echo "$HOME/.cargo/bin/minidump-stackwalk")
if [ -x "$MSW" ]; then # cargo install minidump-stackwalk
  for d in crash live; do
    "$MSW" --symbols-path "$SYMS" "$HERE/$d.dmp" >"$REF/$d.stackwalk.txt" 2>/dev/null || true
  done
fi
python3 "$HERE/expected.py" "$HERE" "$FIX" >"$HERE/expected.json"

[ "${KEEP_STAGE:-0}" = 1 ] || rm -rf "$STAGE"
ls -la "$HERE"/*.dmp
