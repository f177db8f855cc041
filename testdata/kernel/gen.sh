#!/usr/bin/env bash
# testdata/kernel/gen.sh - regenerate ckdump's Linux kernel crash-dump fixtures.
#
#   usage (as root, Debian 12 x86_64):  [KERNEL=6.1|6.12] bash testdata/kernel/gen.sh [SCENARIO...]
#                                       (default: KERNEL=6.1, process softirq hardirq oops
#                                       process-user)
#                                       [KERNEL=6.1|6.12] bash testdata/kernel/gen.sh live
#
# For each scenario a QEMU guest (TCG, no KVM) running one of Debian 12's cloud kernels
# (KERNEL=6.1: 6.1.0-56-cloud-amd64, the default; KERNEL=6.12: 6.12.113+deb12-cloud-amd64)
# kexec-loads a capture kernel (kdump), loads our module ckdump_panic.ko, starts our
# multi-threaded ckdump-threads and panics in the chosen context.  The capture kernel writes
# `makedumpfile -F -c -d 31 /proc/vmcore` onto an NVMe disk; `makedumpfile -R` turns that into
# dumps/<scenario>.kdump (the kdump-compressed "KDUMP   " file, zlib).  Then crash and drgn
# write reference/<scenario>/{crash,drgn}.txt, and the guest console is kept as
# reference/<scenario>/console.log.  Finally the generated table in README.md is rewritten.
#
# `process-user` is the `process` scenario captured at a dump level that keeps user pages
# (USER_DUMP_LEVEL, default 23: zero, cache, private cache and free pages excluded, anonymous user
# pages kept), so that ckdump can show the user side of ckdump-threads (`inspect --process PID`):
# its threads' user stacks through mm->pgd.  For it gen.sh also commits the exact guest binary
# (dumps/ckdump-threads: static, with its DWARF; the dump does not hold its file pages) and runs
# reference/drgn-user.py (user registers, VMAs, user stack words) into drgn-user.txt; its
# crash.txt adds `vm` and `bt -f` of the panicking task.
# With KERNEL=6.12 every name carries "-6.12": dumps/<scenario>-6.12.kdump,
# dumps/ckdump_panic-6.12.ko, reference/<scenario>-6.12/.
#
# KERNEL=6.12 needs newer tools than Debian 12 has (see README.md): the capture kernel runs
# makedumpfile 1.7.9 built from its upstream source (MAKEDUMPFILE_SRC=a checkout of its tag
# 1.7.9; Debian 12's 1.7.2 keeps the free pages of a 6.12 kernel and drops its slab pages, so
# gen.sh refuses to run without it unless OLD_MAKEDUMPFILE=1), and the crash reference comes
# from Debian 13's crash 8.0.6, whose .deb and libraries are fetched with apt-get download
# from a private apt configuration (the host's sources are not changed) and extracted into
# $CRASH_ROOT (default /tmp/ckdump-crash-trixie), not installed.
#
# Packages (installed with apt-get/pip when missing): qemu-system-x86 kexec-tools makedumpfile
# busybox-static crash gcc make cpio python3-pip, the kernel's linux-headers-$KVER (+ -common;
# for 6.12 they pull in its linux-image package), drgn (pip); with MAKEDUMPFILE_SRC the -dev
# packages makedumpfile builds with.  Kernel files: the linux-image, linux-headers and -dbg
# .debs of the kernel (6.1.0-56-cloud-amd64 6.1.192-2, or 6.12.113+deb12-cloud-amd64
# 6.12.113-1~deb12u1) are taken from $KERNEL_DEBS if set, else fetched with `apt-get download`
# (the -dbg packages are 283 and 318 MB); $VMLINUX may name an already extracted debug vmlinux.
#
# Time: 20-30 s of QEMU per scenario (TCG) plus a few seconds of crash/drgn each: about
# 3-4 minutes for all four (plus the downloads and the vmlinux extraction the first time).
# Scratch files live in /tmp/ckdump-kernel (a FIXED path: the module's DWARF records it as its
# build directory); KEEP_STAGE=1 keeps it.  Guest memory: MEM (default 384M), CRASHKERNEL
# (default 160M).  WITH_ELF=1 also makes the capture kernel write `makedumpfile -E -d 31`
# (ELF, ~97 MB each, not committed: elf/ is in .gitignore) into elf/<scenario>.elf, since
# makedumpfile refuses -E with a kdump-compressed input.
#
# `live` (not a crash): the same guest boots without a capture kernel, loads the module, starts
# `ckdump-threads none` (nothing panics) and runs ckdump on its own running kernel:
# `ckdump inspect --kernel -f json --all-tasks`, the text report, and
# examples/kernel_symbols.rs, beside /proc/kallsyms, a task list from /proc/*/task/*/stat,
# /proc/modules and dmesg; a tar of these comes out base64-encoded over a second serial port
# into live/ (live-6.12/ with KERNEL=6.12; see live/README.md).  It needs release builds of both programs:
# `cargo build --release --bin ckdump --example kernel_symbols` (CKDUMP_BIN and
# KERNEL_SYMBOLS_BIN name others, e.g. under a CARGO_TARGET_DIR), and zstd.
set -euo pipefail

KT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=/tmp/ckdump-kernel
KERNEL=${KERNEL:-6.1}
case $KERNEL in
    6.1) KVER=6.1.0-56-cloud-amd64 KDEBVER=6.1.192-2 KCOMMON=linux-headers-6.1.0-56-common
         SUFFIX= ;;
    6.12) KVER=6.12.113+deb12-cloud-amd64 KDEBVER=6.12.113-1~deb12u1
          KCOMMON=linux-headers-6.12.113+deb12-common SUFFIX=-6.12 ;;
    *) printf 'gen.sh: error: KERNEL=%s: 6.1 or 6.12\n' "$KERNEL" >&2; exit 1 ;;
esac
MEM=${MEM:-384M}
CRASHKERNEL=${CRASHKERNEL:-160M}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(process softirq hardirq oops process-user)
USER_DUMP_LEVEL=${USER_DUMP_LEVEL:-23}
# The makedumpfile dump level of a scenario's capture.
dump_level() { case $1 in process-user) echo "$USER_DUMP_LEVEL" ;; *) echo 31 ;; esac; }

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, dpkg-deb, QEMU)"
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host"
for s in "${SCENARIOS[@]}"; do
    case $s in process|softirq|hardirq|oops|process-user|live) ;; *) die "unknown scenario $s" ;; esac
done

# ---------------------------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------------------------
log "checking tools"
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need qemu-system-x86_64 qemu-system-x86
need kexec kexec-tools
need makedumpfile makedumpfile
need crash crash
need gcc gcc
need make make
need cpio cpio
need pip3 python3-pip
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx poweroff || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"
python3 -c 'import drgn' 2>/dev/null || pip3 install --break-system-packages drgn 2>/dev/null \
    || pip3 install drgn

rm -rf "$STAGE"
mkdir -p "$STAGE"/{debs,kernel,module,user,capture,first,run}
if [ "${KEEP_STAGE:-0}" != 1 ]; then trap 'rm -rf "$STAGE"' EXIT; fi

# The capture kernel's makedumpfile: Debian 12's, or one built from MAKEDUMPFILE_SRC.
# Debian 12's 1.7.2 does not know 6.12's page flags: at -d 31 it keeps free pages and drops
# slab pages (task_structs among them), so a 6.12 dump made with it has no task list.
MAKEDUMPFILE=$(command -v makedumpfile)
if [ "$KERNEL" = 6.12 ] && [ -z "${MAKEDUMPFILE_SRC:-}" ] && [ "${OLD_MAKEDUMPFILE:-0}" != 1 ]; then
    die "KERNEL=6.12 needs MAKEDUMPFILE_SRC=<makedumpfile 1.7.9 source> (or OLD_MAKEDUMPFILE=1)"
fi
if [ -n "${MAKEDUMPFILE_SRC:-}" ]; then
    log "building makedumpfile from $MAKEDUMPFILE_SRC"
    DEBIAN_FRONTEND=noninteractive apt-get install -y libelf-dev libdw-dev libbz2-dev \
        zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev >&2
    mkdir -p "$STAGE/makedumpfile"
    cp -a "$MAKEDUMPFILE_SRC"/. "$STAGE/makedumpfile/"
    make -C "$STAGE/makedumpfile" LINKTYPE=dynamic USELZO=on USESNAPPY=on USEZSTD=on >&2
    MAKEDUMPFILE=$STAGE/makedumpfile/makedumpfile
    "$MAKEDUMPFILE" -v >&2
fi

# The crash that reads this kernel: Debian 12's crash 8.0.2 for 6.1; for 6.12 Debian 13's
# 8.0.6 (8.0.2 fails on it silently), its .deb and the libraries it needs (glibc 2.38+,
# libstdc++ 14+) downloaded with apt-get from a private configuration and extracted into
# $CRASH_ROOT, run through that glibc's own loader.
run_crash() { env -i PATH=/usr/bin:/bin HOME="$STAGE" crash "$@"; }
if [ "$KERNEL" = 6.12 ]; then
    CRASH_ROOT=${CRASH_ROOT:-/tmp/ckdump-crash-trixie}
    if [ ! -x "$CRASH_ROOT/usr/bin/crash" ]; then
        log "crash 8.0.6 from Debian 13 into $CRASH_ROOT"
        apt_dir=$STAGE/apt-trixie
        mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,debs,prefs.d} "$CRASH_ROOT"
        # The host's own Debian archive (the one its bookworm packages come from), suite trixie.
        archive=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' |
                  awk '$2 == "bookworm" { print $1; exit }')
        [ -n "$archive" ] || die "no Debian bookworm archive in the host's apt sources"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive trixie main" \
            > "$apt_dir/sources.list"
        apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
                  -o Dir::State::lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
                  -o Dir::Etc::preferencesparts="$apt_dir/prefs.d" -o APT::Architecture=amd64)
        apt-get "${apt_opts[@]}" update >&2
        (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download crash=8.0.6-1 libc6 \
            libgcc-s1 libstdc++6 liblzo2-2 libncursesw6 libtinfo6 libsnappy1v5 libzstd1 \
            zlib1g >&2)
        for d in "$apt_dir"/debs/*.deb; do dpkg-deb -x "$d" "$CRASH_ROOT"; done
    fi
    run_crash() {
        env -i PATH=/usr/bin:/bin HOME="$STAGE" \
            "$CRASH_ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path \
            "$CRASH_ROOT/usr/lib/x86_64-linux-gnu:$CRASH_ROOT/lib/x86_64-linux-gnu" \
            "$CRASH_ROOT/usr/bin/crash" "$@"
    }
fi

# ---------------------------------------------------------------------------------------------
# 1. kernel packages: vmlinuz (guest), headers (module build), debug vmlinux (crash, drgn)
# ---------------------------------------------------------------------------------------------
log "kernel $KVER packages"
deb() { # deb PACKAGE -> path of its .deb, downloaded into $STAGE/debs unless in $KERNEL_DEBS
    local f=${KERNEL_DEBS:-/nonexistent}/${1}_${KDEBVER}_$2.deb
    if [ ! -f "$f" ]; then
        f=$STAGE/debs/${1}_${KDEBVER}_$2.deb
        if [ ! -f "$STAGE/debs/.updated" ]; then apt-get update >&2; touch "$STAGE/debs/.updated"; fi
        [ -f "$f" ] || (cd "$STAGE/debs" && apt-get download "$1=$KDEBVER" >&2)
        f=$(ls "$STAGE"/debs/"$1"_*.deb)
    fi
    echo "$f"
}
dpkg-deb -x "$(deb linux-image-$KVER amd64)" "$STAGE/kernel/image"
VMLINUZ=$STAGE/kernel/image/boot/vmlinuz-$KVER
if [ ! -d /usr/src/linux-headers-$KVER ]; then
    dpkg -i "$(deb $KCOMMON all)" "$(deb linux-headers-$KVER amd64)" \
        || DEBIAN_FRONTEND=noninteractive apt-get install -f -y
fi
if [ -z "${VMLINUX:-}" ]; then
    VMLINUX=$STAGE/kernel/dbg/usr/lib/debug/boot/vmlinux-$KVER
    mkdir -p "$STAGE/kernel/dbg"
    dpkg-deb --fsys-tarfile "$(deb linux-image-$KVER-dbg amd64)" |
        tar -x -C "$STAGE/kernel/dbg" "./usr/lib/debug/boot/vmlinux-$KVER"
fi
[ -f "$VMLINUX" ] || die "no debug vmlinux at $VMLINUX"

# ---------------------------------------------------------------------------------------------
# 2. the module and the user program
# ---------------------------------------------------------------------------------------------
log "building ckdump_panic.ko and ckdump-threads"
cp "$KT"/module/ckdump_panic.c "$KT"/module/Makefile "$STAGE/module/"
make -C /usr/src/linux-headers-$KVER M="$STAGE/module" modules
gcc -static -O1 -g -pthread -Wall -ffile-prefix-map="$KT"/user=/usr/src/ckdump-kernel \
    -o "$STAGE/user/ckdump-threads" "$KT"/user/ckdump-threads.c

# ---------------------------------------------------------------------------------------------
# 3. initramfs images: the capture kernel's (busybox + makedumpfile), then the first kernel's
#    (the same plus kexec, the capture kernel and its initramfs, the module and the program)
# ---------------------------------------------------------------------------------------------
log "initramfs"
add_bin() { # add_bin ROOT BINARY [AS]: the binary (at AS) and the shared libraries it needs
    local root=$1 bin=$2 as=${3:-$2} lib
    mkdir -p "$root$(dirname "$as")"
    cp -L "$bin" "$root$as"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}
mk_cpio() { (cd "$1" && find . | sort | cpio -o -H newc --quiet) | gzip -9 > "$2"; }
base_root() {
    mkdir -p "$1"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lib64,boot,lib/modules}
    cp /bin/busybox "$1/bin/busybox"
    cp "$KT/guest/init.sh" "$1/init"
    chmod 755 "$1/init"
    add_bin "$1" "$MAKEDUMPFILE" /usr/sbin/makedumpfile
}
base_root "$STAGE/capture"
mk_cpio "$STAGE/capture" "$STAGE/capture.cpio.gz"
base_root "$STAGE/first"
add_bin "$STAGE/first" "$(command -v kexec)"
cp "$VMLINUZ" "$STAGE/first/boot/vmlinuz"
cp "$STAGE/capture.cpio.gz" "$STAGE/first/boot/capture.cpio.gz"
cp "$STAGE/module/ckdump_panic.ko" "$STAGE/first/lib/modules/"
cp "$STAGE/user/ckdump-threads" "$STAGE/first/bin/"
mk_cpio "$STAGE/first" "$STAGE/first.cpio.gz"
ls -la "$STAGE"/*.cpio.gz >&2

mkdir -p "$KT/dumps" "$KT/reference"
KO=dumps/ckdump_panic$SUFFIX.ko
# (Not for `live` alone: the dumps' module must stay the one loaded when they were made.)
[ "${SCENARIOS[*]}" = live ] || cp "$STAGE/module/ckdump_panic.ko" "$KT/$KO"

# ---------------------------------------------------------------------------------------------
# 4. one QEMU kdump run per scenario, then crash and drgn on the dump
# ---------------------------------------------------------------------------------------------
run_scenario() {
    # $s the scenario, $name what its files are called (the scenario, plus -6.12 for 6.12).
    local s=$1 name=$1$SUFFIX run=$STAGE/run/$1 t0 t1 try level
    level=$(dump_level "$s")
    mkdir -p "$run" "$KT/reference/$name"
    # Physical KASLR sometimes leaves no contiguous room for crashkernel= (the guest then
    # powers off at once): boot again, up to 5 times.
    for try in 1 2 3 4 5; do
        rm -f "$run/disk.raw" "$run/elf.raw" "$run/console.log"
        truncate -s 256M "$run/disk.raw"
        elf_disk=()
        if [ "${WITH_ELF:-0}" = 1 ]; then
            truncate -s 512M "$run/elf.raw"
            elf_disk=(-drive file="$run/elf.raw",if=none,id=dump1,format=raw
                      -device nvme,drive=dump1,serial=ckdump1)
        fi
        log "scenario $s: QEMU (TCG, $MEM, crashkernel=$CRASHKERNEL, dump level $level), try $try"
        t0=$(date +%s)
        # la57=off: 4-level paging, what most x86_64 machines run (TCG's "max" CPU has LA57).
        # panic=1 + -no-reboot: a first-kernel panic that kdump did not take ends QEMU.
        timeout --foreground 600 qemu-system-x86_64 -accel tcg -m "$MEM" -smp 2 \
            -cpu max,la57=off -kernel "$VMLINUZ" -initrd "$STAGE/first.cpio.gz" \
            -append "console=ttyS0 loglevel=7 crashkernel=$CRASHKERNEL panic=1 ckdump_scenario=$s ckdump_dump_level=$level" \
            -drive file="$run/disk.raw",if=none,id=dump0,format=raw \
            -device nvme,drive=dump0,serial=ckdump0 "${elf_disk[@]}" \
            -display none -monitor none -serial file:"$run/console.log" -no-reboot || true
        t1=$(date +%s)
        echo "scenario $s: QEMU ran $((t1 - t0)) s" >&2
        grep -q "CKDUMP-CAPTURE: makedumpfile -F -c -d $level rc=0" "$run/console.log" && break
        grep -E 'crashkernel|CKDUMP' "$run/console.log" >&2 || true
        [ "$try" -lt 5 ] || die "scenario $s: no dump was written"
    done
    rm -f "$KT/dumps/$name.kdump"
    makedumpfile -R "$KT/dumps/$name.kdump" < "$run/disk.raw"
    chmod 644 "$KT/dumps/$name.kdump"
    if [ "${WITH_ELF:-0}" = 1 ]; then
        mkdir -p "$KT/elf"
        rm -f "$KT/elf/$name.elf"
        makedumpfile -R "$KT/elf/$name.elf" < "$run/elf.raw"
    fi
    # The console log, without the carriage returns of the serial line.
    tr -d '\r' < "$run/console.log" > "$KT/reference/$name/console.log"

    log "scenario $s: crash"
    # `mod -s` loads the module's debug info, so the last bt shows source lines in it too.
    local user_cmds=()
    [ "$s" = process-user ] && user_cmds=('vm' 'bt -f')
    printf '%s\n' 'set scroll off' 'sys' 'bt' 'bt -a' 'ps' 'mod' 'log | tail -40' \
        "mod -s ckdump_panic $KT/$KO" 'bt -l' "${user_cmds[@]}" 'quit' |
        run_crash -s "$VMLINUX" "$KT/dumps/$name.kdump" > "$run/crash.txt" 2>&1 || true
    sed -e "s#$VMLINUX#vmlinux-$KVER#g" -e "s#$KT/##g" "$run/crash.txt" \
        > "$KT/reference/$name/crash.txt"

    log "scenario $s: drgn"
    (cd "$KT" && env -i PATH="$PATH" HOME="$STAGE" \
        python3 -m drgn -q -c "dumps/$name.kdump" -s "$VMLINUX" -s "$KO" \
        reference/drgn-probe.py) > "$KT/reference/$name/drgn.txt" 2>&1 ||
        { cat "$KT/reference/$name/drgn.txt" >&2; die "scenario $s: drgn failed"; }
    if [ "$s" = process-user ]; then
        # The program exactly as it ran (built reproducibly above: same source, flags, paths).
        cp "$STAGE/user/ckdump-threads" "$KT/dumps/ckdump-threads"
        (cd "$KT" && env -i PATH="$PATH" HOME="$STAGE" \
            python3 -m drgn -q -c "dumps/$name.kdump" -s "$VMLINUX" reference/drgn-user.py) \
            > "$KT/reference/$name/drgn-user.txt" 2>&1 ||
            { cat "$KT/reference/$name/drgn-user.txt" >&2; die "scenario $s: drgn-user failed"; }
    fi
    echo "$s: $((t1 - t0))" >> "$STAGE/run/times"
}

# ---------------------------------------------------------------------------------------------
# live: ckdump inspect --kernel inside the guest, on its running kernel (no crash)
# ---------------------------------------------------------------------------------------------
REPO=$(cd "$KT/../.." && pwd)
CKDUMP_BIN=${CKDUMP_BIN:-$REPO/target/release/ckdump}
KERNEL_SYMBOLS_BIN=${KERNEL_SYMBOLS_BIN:-$REPO/target/release/examples/kernel_symbols}
run_live() {
    local root=$STAGE/live run=$STAGE/run/live out=$KT/live$SUFFIX bin t0
    for bin in "$CKDUMP_BIN" "$KERNEL_SYMBOLS_BIN"; do
        [ -x "$bin" ] || die "no $bin: cargo build --release --bin ckdump --example kernel_symbols first"
    done
    command -v zstd >/dev/null || die "live: needs zstd (apt-get install zstd)"
    mkdir -p "$run" "$out"
    base_root "$root"
    cp "$STAGE/module/ckdump_panic.ko" "$root/lib/modules/"
    cp "$STAGE/user/ckdump-threads" "$root/bin/"
    add_bin "$root" "$CKDUMP_BIN" /bin/ckdump
    add_bin "$root" "$KERNEL_SYMBOLS_BIN" /bin/kernel_symbols
    mk_cpio "$root" "$STAGE/live.cpio.gz"
    rm -f "$run/console.log" "$run/ttyS1.txt"
    log "live: QEMU (TCG, $MEM), ckdump inspect --kernel in the guest"
    t0=$(date +%s)
    timeout --foreground 900 qemu-system-x86_64 -accel tcg -m "$MEM" -smp 2 \
        -cpu max,la57=off -kernel "$VMLINUZ" -initrd "$STAGE/live.cpio.gz" \
        -append "console=ttyS0 loglevel=7 panic=1 ckdump_scenario=live" \
        -display none -monitor none -serial file:"$run/console.log" \
        -serial file:"$run/ttyS1.txt" -no-reboot || true
    echo "live: QEMU ran $(( $(date +%s) - t0 )) s" >&2
    grep -q '^==END==' <(tr -d '\r' < "$run/ttyS1.txt") || die "live: the guest sent no results (see $run/console.log)"
    rm -rf "$run/out"
    mkdir -p "$run/out"
    tr -d '\r' < "$run/ttyS1.txt" | sed '/^==END==/,$d' | base64 -d | tar -xz -C "$run/out"
    # Large texts compressed; the rest as they came.
    rm -f "$out"/*.txt "$out"/*.zst
    for f in report.json kallsyms.txt ckdump-kallsyms.txt; do
        zstd -q -19 -f "$run/out/live/$f" -o "$out/$f.zst"
    done
    for f in report.txt tasks.txt modules.txt dmesg.txt uname.txt rc.txt; do
        cp "$run/out/live/$f" "$out/$f"
    done
    tr -d '\r' < "$run/console.log" > "$out/console.log"
    ls -la "$out" >&2
}

for s in "${SCENARIOS[@]}"; do
    if [ "$s" = live ]; then run_live; else run_scenario "$s"; fi
done

# ---------------------------------------------------------------------------------------------
# 5. the generated table in README.md
# ---------------------------------------------------------------------------------------------
log "README table"
python3 "$KT/readme_table.py" "$KT"
ls -la "$KT"/dumps >&2
