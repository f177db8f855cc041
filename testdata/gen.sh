#!/usr/bin/env bash
# testdata/gen.sh - regenerate every ckdump test fixture from testdata/src.
#
#   usage (as root, from any directory):   bash testdata/gen.sh
#
# What it does, in order (details in testdata/README.md):
#   0. installs missing tools with apt-get (gdb, elfutils, zstd, ..., libc6-dbg, multilib)
#   1. builds the fixture programs (-g = DWARF 5; one -gdwarf-4 variant; a no-CFI variant;
#      an -O2 -fomit-frame-pointer program; a C++ program; an -m32 build, static unless
#      M32_STATIC=0)
#   2. splits debug info: testdata/bin/* are stripped of DWARF, their debug files go to
#      symbols/.build-id/xx/rest.debug (build-id lookup) or symbols/debuglink/NAME.debug
#      (.gnu_debuglink lookup only); testdata/bin/illegal keeps its DWARF inside
#   3. makes cores three ways: the kernel (core_pattern), gdb generate-core-file, gcore
#   4. copies the shared libraries the cores map into testdata/sysroot/<same path> and the
#      libc/ld debug files (package libc6-dbg) into symbols/.build-id
#   5. writes reference outputs (eu-stack, gdb bt, eu-readelf -n/-l, gdb frame JSON)
#   6. compresses the cores into testdata/cores (zstd; one core also as xz/bz2/gz/raw)
#   7. writes testdata/expected.json and the generated part of testdata/README.md with
#      testdata/extract_expected.py
#
# It changes /proc/sys/kernel/core_pattern while it runs and always puts the old value back
# (EXIT trap).  Scratch files live in /tmp/ckdump-testdata (a FIXED path on purpose: the
# programs run from /tmp/ckdump-testdata/bin, so that is the path every core records);
# set KEEP_STAGE=1 to keep it afterwards.  Takes about a minute.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TD=$ROOT/testdata
SRC=$TD/src
SYMS=$ROOT/symbols
SYSROOT=$TD/sysroot
STAGE=/tmp/ckdump-testdata
# DW_AT_comp_dir of every fixture (via -ffile-prefix-map), so builds are reproducible and do
# not depend on where the repository is checked out.
SRC_PREFIX=/usr/src/ckdump-testdata
# Programs run with an empty environment so nothing of ours leaks into the dumps.
RUNENV=(env -i PATH=/usr/bin:/bin)
# The reference tools get a clean environment too (HOME only so gdb has a cache directory).
TOOLENV=(env -i PATH=/usr/bin:/bin HOME=/tmp/ckdump-testdata/home)
# The core that is additionally stored uncompressed and as .xz/.bz2/.gz (it is the smallest).
SMALL_CORE=core.illegal.kernel

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (writes /proc/sys/kernel/core_pattern, uses ptrace)"
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host"

# ---------------------------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------------------------
log "checking tools"
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then apt-get update; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need gcc gcc
need g++ g++
need gdb gdb
need gcore gdb
need eu-stack elfutils
need eu-readelf elfutils
need zstd zstd
need xz xz-utils
need bzip2 bzip2
need gzip gzip
need objcopy binutils
need readelf binutils
need addr2line binutils
need llvm-dwarfdump llvm
need python3 python3
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

build_id() { # print the GNU build-id (hex) of an ELF file
    readelf -n "$1" | awk '/Build ID:/ { print $3; exit }'
}

# libc6-dbg must match the installed libc6 exactly (debug files are found by build-id).
LIBC_ID=$(build_id /usr/lib/x86_64-linux-gnu/libc.so.6)
if [ ! -f "/usr/lib/debug/.build-id/${LIBC_ID:0:2}/${LIBC_ID:2}.debug" ]; then
    apt_install "libc6-dbg=$(dpkg-query -W -f='${Version}' libc6:amd64)"
fi

# -m32 needs gcc-multilib; without it the i386 fixture is skipped (with a warning).
have_m32() { echo 'int main(void){return 0;}' | gcc -m32 -static -pthread -x c - -o /dev/null 2>/dev/null; }
HAVE_M32=1
if ! have_m32; then
    apt_install gcc-multilib g++-multilib || true
    have_m32 || { HAVE_M32=0; echo "gen.sh: WARNING: gcc -m32 unusable, skipping threads-m32" >&2; }
fi

# ---------------------------------------------------------------------------------------------
# scratch area and the EXIT trap (restores core_pattern, stops the live process)
# ---------------------------------------------------------------------------------------------
OLD_CORE_PATTERN=$(cat /proc/sys/kernel/core_pattern)
LIVE_PID=
cleanup() {
    local rc=$?
    printf '%s\n' "$OLD_CORE_PATTERN" > /proc/sys/kernel/core_pattern || true
    if [ -n "$LIVE_PID" ]; then kill -KILL "$LIVE_PID" 2>/dev/null || true; fi
    if [ "${KEEP_STAGE:-0}" != 1 ]; then rm -rf "$STAGE"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$STAGE"
mkdir -p "$STAGE"/{build,bin,cores,kcores,ref,home}

# ---------------------------------------------------------------------------------------------
# 1. build
# ---------------------------------------------------------------------------------------------
log "building fixture programs"
PROGS=()
build() { # build NAME COMPILER SOURCE FLAGS... -> $STAGE/build/NAME (with full DWARF)
    local name=$1 cc=$2 src=$3
    shift 3
    (cd "$SRC" && "$cc" -Wall -ffile-prefix-map="$SRC"="$SRC_PREFIX" "$@" -o "$STAGE/build/$name" "$src")
    PROGS+=("$name")
}
build threads        gcc threads.c  -O0 -g -pthread
build threads-dwarf4 gcc threads.c  -O0 -gdwarf-4 -pthread
build threads-nocfi  gcc threads.c  -O0 -g -pthread \
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-omit-frame-pointer
if [ "$HAVE_M32" -eq 1 ]; then
    # Linked statically by default: the 32-bit libc.so.6 + ld-linux.so.2 would add 2.4 MB to
    # testdata/sysroot (and have no debug files here); the static binary is 0.8 MB and also
    # covers a non-PIE ET_EXEC without ld.so.  M32_STATIC=0 builds it dynamically instead
    # (the sysroot step then picks up /usr/lib32/libc.so.6 and ld-linux.so.2 by itself).
    if [ "${M32_STATIC:-1}" = 1 ]; then
        build threads-m32 gcc threads.c -m32 -static -O0 -g -pthread
    else
        build threads-m32 gcc threads.c -m32 -O0 -g -pthread
    fi
fi
build sighandler     gcc sighandler.c -O0 -g
build illegal        gcc illegal.c    -O0 -g
build nofp           gcc nofp.c       -O2 -g -fomit-frame-pointer
build cxx_throw      g++ cxx_throw.cpp -O0 -g

# threads-nocfi: drop every bit of CFI so an unwinder has to follow the rbp chain.  With -g and
# no unwind tables gcc emits .debug_frame instead of .eh_frame, so that goes too; the crt
# objects still bring a little .eh_frame, which is removed with the section.
objcopy --remove-section .eh_frame --remove-section .eh_frame_hdr --remove-section .debug_frame \
    "$STAGE/build/threads-nocfi"
if readelf -SW "$STAGE/build/threads-nocfi" | grep -Eq '\.(eh_frame|eh_frame_hdr|debug_frame)\b'; then
    die "threads-nocfi still has CFI sections"
fi
# (objcopy leaves a PT_GNU_EH_FRAME program header with p_filesz 0 behind.)
readelf -lW "$STAGE/build/threads-nocfi" | awk '$1 == "GNU_EH_FRAME" && $5 != "0x000000" { exit 1 }' \
    || die "threads-nocfi: PT_GNU_EH_FRAME still covers data"

# DWARF versions as intended?  (Compile units of our own source; output goes to a file first
# because `grep -q` in a pipeline would SIGPIPE the producer under pipefail.)
for p in "${PROGS[@]}"; do
    llvm-dwarfdump --debug-info "$STAGE/build/$p" > "$STAGE/build/$p.dwarfdump"
done
grep -q 'version = 0x0005' "$STAGE/build/threads.dwarfdump" || die "threads is not DWARF 5"
grep -q 'version = 0x0004' "$STAGE/build/threads-dwarf4.dwarfdump" || die "threads-dwarf4 is not DWARF 4"
# The crash path of threads.c contains an always_inline function: it must appear as an
# inlined subroutine (checked again at the crash pc with addr2line -i below).
for p in threads threads-dwarf4 threads-nocfi threads-m32; do
    [ -f "$STAGE/build/$p" ] || continue
    grep -A1 'DW_TAG_inlined_subroutine' "$STAGE/build/$p.dwarfdump" | grep -c '"read_value"' >/dev/null \
        || die "$p: read_value is not a DW_TAG_inlined_subroutine"
done

# ---------------------------------------------------------------------------------------------
# 2. split debug info
# ---------------------------------------------------------------------------------------------
log "splitting debug info"
rm -rf "${TD:?}/bin" "${SYMS:?}/.build-id" "${SYMS:?}/debuglink"
mkdir -p "$TD/bin" "$SYMS/.build-id" "$SYMS/debuglink"
for p in "${PROGS[@]}"; do
    b=$STAGE/build/$p
    case $p in
    illegal)
        # keeps its DWARF inside the binary (embedded lookup path)
        cp "$b" "$TD/bin/$p"
        ;;
    cxx_throw)
        # found ONLY through .gnu_debuglink (no copy under .build-id)
        objcopy --only-keep-debug "$b" "$SYMS/debuglink/$p.debug"
        objcopy --strip-debug --add-gnu-debuglink="$SYMS/debuglink/$p.debug" "$b" "$TD/bin/$p"
        ;;
    *)
        # found by build-id: symbols/.build-id/xx/rest.debug
        id=$(build_id "$b")
        [ -n "$id" ] || die "$p has no build-id"
        dbg=$SYMS/.build-id/${id:0:2}/${id:2}.debug
        mkdir -p "$(dirname "$dbg")"
        objcopy --only-keep-debug "$b" "$dbg"
        objcopy --strip-debug --add-gnu-debuglink="$dbg" "$b" "$TD/bin/$p"
        ;;
    esac
    chmod 0755 "$TD/bin/$p"
    cp "$TD/bin/$p" "$STAGE/bin/$p"
done
find "$SYMS" -name '*.debug' -exec chmod 0644 {} +

# ---------------------------------------------------------------------------------------------
# 3. cores
# ---------------------------------------------------------------------------------------------
CORES=()          # names of the cores, in generation order
declare -A CORE_PROG CORE_WRITER
add_core() { CORES+=("$1"); CORE_PROG[$1]=$2; CORE_WRITER[$1]=$3; }

ulimit -c unlimited
printf '%s\n' "$STAGE/kcores/core.%e.%p" > /proc/sys/kernel/core_pattern

kernel_core() { # kernel_core PROG [ARGS...] -> $STAGE/cores/core.PROG.kernel
    local prog=$1 core=core.$1.kernel rc
    shift
    log "kernel core: $core"
    rm -f "$STAGE"/kcores/*
    set +e
    (cd "$STAGE" && exec "${RUNENV[@]}" "$STAGE/bin/$prog" "$@") \
        > "$STAGE/ref/$core.stdout.txt" 2> "$STAGE/ref/$core.stderr.txt"
    rc=$?
    set -e
    local f
    f=$(find "$STAGE/kcores" -maxdepth 1 -type f -name 'core.*' -print -quit)
    [ -n "$f" ] || die "$prog (exit status $rc) left no core in $STAGE/kcores"
    mv "$f" "$STAGE/cores/$core"
    add_core "$core" "$prog" kernel
}

kernel_core threads
kernel_core threads-dwarf4
kernel_core threads-nocfi
if [ "$HAVE_M32" -eq 1 ]; then kernel_core threads-m32; fi
kernel_core sighandler
kernel_core illegal
kernel_core nofp
kernel_core cxx_throw
printf '%s\n' "$OLD_CORE_PATTERN" > /proc/sys/kernel/core_pattern

# (b) gdb generate-core-file at the crash.  gdb runs the program with ASLR disabled; LINES and
# COLUMNS, which gdb would add to the environment, are removed, and the program is started
# without a shell (a shell would add PWD), its output going to a file through `tty`.
log "gdb core: core.threads.gdb"
: > "$STAGE/ref/core.threads.gdb.stdout.txt"
(cd "$STAGE" && "${RUNENV[@]}" gdb -nx -batch \
    -iex 'set debuginfod enabled off' -ex 'set startup-with-shell off' \
    -ex 'unset environment LINES' -ex 'unset environment COLUMNS' \
    -ex "tty $STAGE/ref/core.threads.gdb.stdout.txt" -ex run \
    -ex "generate-core-file $STAGE/cores/core.threads.gdb" \
    "$STAGE/bin/threads") > "$STAGE/ref/core.threads.gdb.session.txt" 2>&1 || true
[ -s "$STAGE/cores/core.threads.gdb" ] || { cat "$STAGE/ref/core.threads.gdb.session.txt" >&2; die "gdb wrote no core"; }
add_core core.threads.gdb threads gdb

# (c) gcore on a live `threads wait` (not crashed; the main thread sits in pause()).
log "gcore core: core.threads.gcore"
(cd "$STAGE" && exec "${RUNENV[@]}" "$STAGE/bin/threads" wait) \
    > "$STAGE/ref/core.threads.gcore.stdout.txt" 2>&1 &
LIVE_PID=$!
for _ in $(seq 100); do
    grep -q ready "$STAGE/ref/core.threads.gcore.stdout.txt" && break
    sleep 0.1
done
grep -q ready "$STAGE/ref/core.threads.gcore.stdout.txt" || die "threads wait never printed ready"
gcore -o "$STAGE/cores/gcore" "$LIVE_PID" > "$STAGE/ref/core.threads.gcore.session.txt" 2>&1
mv "$STAGE/cores/gcore.$LIVE_PID" "$STAGE/cores/core.threads.gcore"
kill -KILL "$LIVE_PID"
wait "$LIVE_PID" 2>/dev/null || true
LIVE_PID=
add_core core.threads.gcore threads gcore

# ---------------------------------------------------------------------------------------------
# 4. sysroot (the shared libraries the cores really map) + libc/ld debug files
# ---------------------------------------------------------------------------------------------
log "sysroot"
rm -rf "$SYSROOT"
mkdir -p "$SYSROOT"
{
    # every file in the NT_FILE notes that is not one of our programs
    for c in "${CORES[@]}"; do
        eu-readelf -n "$STAGE/cores/$c" | awk '$NF ~ /^\// { print $NF }'
    done | grep -v "^$STAGE/" || true
    # the names the dynamic linker used (link_map l_name: PT_INTERP and ld.so.cache paths),
    # which go through symlinks such as /lib -> usr/lib
    for p in "${PROGS[@]}"; do
        ldd "$STAGE/bin/$p" | grep -o '/[^ ]*' || true
    done
} | sort -u > "$STAGE/sysroot-paths.txt"
# Mirror each path: symlinked components become (relative) symlinks inside the sysroot, the
# final file is copied.  So both /lib/x86_64-linux-gnu/libc.so.6 (link_map) and
# /usr/lib/x86_64-linux-gnu/libc.so.6 (NT_FILE) resolve inside testdata/sysroot.
python3 - "$SYSROOT" "$STAGE/sysroot-paths.txt" <<'PYEOF'
import os, shutil, sys
sysroot, listfile = sys.argv[1], sys.argv[2]

def mirror(path):
    parts = [p for p in path.split("/") if p]
    cur = "/"
    for i, part in enumerate(parts):
        nxt = os.path.join(cur, part)
        if os.path.islink(nxt):
            target = os.readlink(nxt)
            if os.path.isabs(target):
                rel = os.path.relpath(target, os.path.dirname(nxt))
            else:
                rel = target
            dst = sysroot + nxt
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if not os.path.islink(dst):
                os.symlink(rel, dst)
            resolved = os.path.normpath(os.path.join(os.path.dirname(nxt), target))
            return mirror(os.path.join(resolved, *parts[i + 1:]))
        cur = nxt
    if not os.path.isfile(cur):
        print("sysroot: skipping missing", cur, file=sys.stderr)
        return
    dst = sysroot + cur
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.exists(dst):
        shutil.copyfile(cur, dst)
        os.chmod(dst, 0o644)
        print("sysroot:", cur)

for line in open(listfile):
    line = line.strip()
    if line:
        mirror(line)
PYEOF

# Our programs ran from $STAGE/bin; inside the sysroot that path points at testdata/bin, so
# `--sysroot testdata/sysroot` finds every mapped file the way a copy of the crashed machine would.
mkdir -p "$SYSROOT$STAGE"
ln -sfn "$(realpath --relative-to="$SYSROOT$STAGE" "$TD/bin")" "$SYSROOT$STAGE/bin"

# Debug files of libc and ld.so (libc6-dbg), found by build-id.  The 32-bit libc has no debug
# package installed here (libc6-dbg:i386 would need dpkg --add-architecture), libstdc++'s debug
# package (libstdc++6-12-dbg) is 64 MB installed: both are left out.
find "$SYSROOT" -type f | sort | while read -r lib; do
    case $(basename "$lib") in libc.so.6 | ld-linux*.so.2) ;; *) continue ;; esac
    id=$(build_id "$lib")
    dbg=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    if [ -f "$dbg" ]; then
        mkdir -p "$SYMS/.build-id/${id:0:2}"
        cp "$dbg" "$SYMS/.build-id/${id:0:2}/${id:2}.debug"
        chmod 0644 "$SYMS/.build-id/${id:0:2}/${id:2}.debug"
        echo "debug file for ${lib#"$SYSROOT"}: symbols/.build-id/${id:0:2}/${id:2}.debug"
    else
        echo "no debug file for ${lib#"$SYSROOT"} (build-id $id)"
    fi
done

# ---------------------------------------------------------------------------------------------
# 5. reference outputs (run from the repository root with repository-relative paths)
# ---------------------------------------------------------------------------------------------
cd "$ROOT"
REF=$TD/reference
rm -rf "$REF"
mkdir -p "$REF"
for c in "${CORES[@]}"; do
    log "reference outputs: $c"
    prog=${CORE_PROG[$c]}
    core=$STAGE/cores/$c
    bin=testdata/bin/$prog
    gdb_bin=$bin
    eu_dbg="$SYMS"
    if [ "$prog" = cxx_throw ]; then
        # gdb looks for a .gnu_debuglink file only next to the binary, in its .debug/ and in
        # DEBUGDIR/<absolute directory of the binary>/, so gdb is pointed at the staged copy
        # with the debug file in .debug/ beside it (still a real, CRC-checked debuglink lookup).
        # elfutils also tries each absolute --debuginfo-path entry + the bare debuglink name.
        mkdir -p "$STAGE/bin/.debug"
        cp "$SYMS/debuglink/cxx_throw.debug" "$STAGE/bin/.debug/cxx_throw.debug"
        gdb_bin=$STAGE/bin/cxx_throw
        eu_dbg="$SYMS:$SYMS/debuglink"
    fi
    gdb_common=(-nx -batch -iex 'set debuginfod enabled off'
        -ex 'set sysroot testdata/sysroot' -ex 'set debug-file-directory symbols'
        -ex "set substitute-path $SRC_PREFIX testdata/src")
    eu-readelf -n "$core" > "$REF/$c.eu-readelf-n.txt"
    eu-readelf -h -l "$core" > "$REF/$c.eu-readelf-l.txt"
    "${TOOLENV[@]}" eu-stack -v --core="$core" -e "$bin" --debuginfo-path="$eu_dbg" \
        > "$REF/$c.eu-stack.txt" 2>&1 || true
    "${TOOLENV[@]}" gdb "${gdb_common[@]}" -ex "file $gdb_bin" -ex "core-file $core" \
        -ex 'info threads' -ex 'thread apply all bt' > "$REF/$c.gdb-bt.txt" 2>&1 || true
    "${TOOLENV[@]}" gdb "${gdb_common[@]}" -ex "file $gdb_bin" -ex "core-file $core" \
        -x testdata/gdb_frames.py > "$REF/$c.gdb-frames.txt" 2>&1 || true
    # what the program printed (tid=... name=..., pid=... ready) and, for gdb, gdb's session
    cp "$STAGE/ref/$c.stdout.txt" "$REF/$c.stdout.txt"
    if [ -s "$STAGE/ref/$c.stderr.txt" ]; then cp "$STAGE/ref/$c.stderr.txt" "$REF/$c.stderr.txt"; fi
done

# addr2line -i at the crash pc of the threads cores: the pc must lie in the inlined read_value
# (first line) called from crash_here (second line).
for c in "${CORES[@]}"; do
    case $c in core.threads*.kernel | core.threads.gdb) ;; *) continue ;; esac
    prog=${CORE_PROG[$c]}
    rip=$(awk '/ (rip|eip): / { for (i = 1; i <= NF; i++) if ($i == "rip:" || $i == "eip:") { print $(i+1); exit } }' "$REF/$c.eu-readelf-n.txt")
    base=$(awk -v f="$STAGE/bin/$prog" '$NF == f && $2 ~ /^0+$/ { split($1, a, "-"); print "0x" a[1]; exit }' "$REF/$c.eu-readelf-n.txt")
    # ET_EXEC (the static i386 build): addresses are absolute, no load bias
    if [ "$(readelf -h "$STAGE/build/$prog" | grep -c 'Type:.*EXEC')" -gt 0 ]; then base=0; fi
    off=$(printf '0x%x' $((rip - base)))
    addr2line -i -f -e "$STAGE/build/$prog" "$off" | sed "s|^$SRC_PREFIX/||" > "$REF/$c.addr2line-i.txt"
    [ "$(sed -n 1p "$REF/$c.addr2line-i.txt")" = read_value ] || die "$c: crash pc $off not in inlined read_value"
    [ "$(sed -n 3p "$REF/$c.addr2line-i.txt")" = crash_here ] || die "$c: read_value not inlined into crash_here"
done

# ---------------------------------------------------------------------------------------------
# 6. compress
# ---------------------------------------------------------------------------------------------
log "compressing cores"
rm -rf "$TD/cores"
mkdir -p "$TD/cores"
for c in "${CORES[@]}"; do
    zstd -q -19 "$STAGE/cores/$c" -o "$TD/cores/$c.zst"
done
cp "$STAGE/cores/$SMALL_CORE" "$TD/cores/$SMALL_CORE"
xz -9 -c "$STAGE/cores/$SMALL_CORE" > "$TD/cores/$SMALL_CORE.xz"
bzip2 -9 -c "$STAGE/cores/$SMALL_CORE" > "$TD/cores/$SMALL_CORE.bz2"
gzip -9 -n -c "$STAGE/cores/$SMALL_CORE" > "$TD/cores/$SMALL_CORE.gz"
chmod 0644 "$TD"/cores/*
for f in "$TD"/cores/*; do
    [ "$(stat -c %s "$f")" -lt 2000000 ] || die "$f is not under 2 MB"
done

# ---------------------------------------------------------------------------------------------
# 7. expected.json
# ---------------------------------------------------------------------------------------------
log "expected.json"
{
    for c in "${CORES[@]}"; do
        printf '%s\t%s\t%s\n' "$c" "${CORE_PROG[$c]}" "${CORE_WRITER[$c]}"
    done
} > "$STAGE/cores.tsv"
python3 "$TD/extract_expected.py" --testdata "$TD" --cores "$STAGE/cores.tsv" \
    --run-dir "$STAGE/bin" --small-core "$SMALL_CORE" --readme "$TD/README.md" > "$TD/expected.json"

log "done"
du -sh "$TD" "$SYMS" >&2
