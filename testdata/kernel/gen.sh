#!/usr/bin/env bash
# testdata/kernel/gen.sh - regenerate ckdump's Linux kernel crash-dump fixtures.
#
#   usage (as root, Debian 12 x86_64):  bash testdata/kernel/gen.sh [SCENARIO...]
#                                       (default: process softirq hardirq oops)
#
# For each scenario a QEMU guest (TCG, no KVM) running Debian's 6.1.0-56-cloud-amd64 kernel
# kexec-loads a capture kernel (kdump), loads our module ckdump_panic.ko, starts our
# multi-threaded ckdump-threads and panics in the chosen context.  The capture kernel writes
# `makedumpfile -F -c -d 31 /proc/vmcore` onto an NVMe disk; `makedumpfile -R` turns that into
# dumps/<scenario>.kdump (the kdump-compressed "KDUMP   " file, zlib).  Then crash and drgn
# write reference/<scenario>/{crash,drgn}.txt, and the guest console is kept as
# reference/<scenario>/console.log.  Finally the generated table in README.md is rewritten.
#
# Packages (installed with apt-get/pip when missing): qemu-system-x86 kexec-tools makedumpfile
# busybox-static crash gcc make cpio python3-pip, the kernel's linux-headers-6.1.0-56-cloud-amd64
# (+ -common), drgn (pip).  Kernel files: the linux-image, linux-headers and -dbg .debs of
# 6.1.0-56-cloud-amd64 (6.1.192-2) are taken from $KERNEL_DEBS if set, else fetched with
# `apt-get download` (the -dbg package is 283 MB); $VMLINUX may name an already extracted
# debug vmlinux.
#
# Time: 20-30 s of QEMU per scenario (TCG) plus a few seconds of crash/drgn each: about
# 3-4 minutes for all four (plus the downloads and the vmlinux extraction the first time).
# Scratch files live in /tmp/ckdump-kernel (a FIXED path: the module's DWARF records it as its
# build directory); KEEP_STAGE=1 keeps it.  Guest memory: MEM (default 384M), CRASHKERNEL
# (default 160M).  WITH_ELF=1 also makes the capture kernel write `makedumpfile -E -d 31`
# (ELF, ~97 MB each, not committed: elf/ is in .gitignore) into elf/<scenario>.elf, since
# makedumpfile refuses -E with a kdump-compressed input.
set -euo pipefail

KT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=/tmp/ckdump-kernel
KVER=6.1.0-56-cloud-amd64
KDEBVER=6.1.192-2
MEM=${MEM:-384M}
CRASHKERNEL=${CRASHKERNEL:-160M}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(process softirq hardirq oops)

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, dpkg-deb, QEMU)"
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host"
for s in "${SCENARIOS[@]}"; do
    case $s in process|softirq|hardirq|oops) ;; *) die "unknown scenario $s" ;; esac
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
    dpkg -i "$(deb linux-headers-6.1.0-56-common all)" "$(deb linux-headers-$KVER amd64)" \
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
add_bin() { # add_bin ROOT BINARY: the binary and the shared libraries it needs, same paths
    local root=$1 bin=$2 lib
    mkdir -p "$root$(dirname "$bin")"
    cp -L "$bin" "$root$bin"
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
    add_bin "$1" "$(command -v makedumpfile)"
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
cp "$STAGE/module/ckdump_panic.ko" "$KT/dumps/ckdump_panic.ko"

# ---------------------------------------------------------------------------------------------
# 4. one QEMU kdump run per scenario, then crash and drgn on the dump
# ---------------------------------------------------------------------------------------------
run_scenario() {
    local s=$1 run=$STAGE/run/$1 t0 t1 try
    mkdir -p "$run" "$KT/reference/$s"
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
        log "scenario $s: QEMU (TCG, $MEM, crashkernel=$CRASHKERNEL), try $try"
        t0=$(date +%s)
        # la57=off: 4-level paging, what most x86_64 machines run (TCG's "max" CPU has LA57).
        # panic=1 + -no-reboot: a first-kernel panic that kdump did not take ends QEMU.
        timeout --foreground 600 qemu-system-x86_64 -accel tcg -m "$MEM" -smp 2 \
            -cpu max,la57=off -kernel "$VMLINUZ" -initrd "$STAGE/first.cpio.gz" \
            -append "console=ttyS0 loglevel=7 crashkernel=$CRASHKERNEL panic=1 ckdump_scenario=$s" \
            -drive file="$run/disk.raw",if=none,id=dump0,format=raw \
            -device nvme,drive=dump0,serial=ckdump0 "${elf_disk[@]}" \
            -display none -monitor none -serial file:"$run/console.log" -no-reboot || true
        t1=$(date +%s)
        echo "scenario $s: QEMU ran $((t1 - t0)) s" >&2
        grep -q 'CKDUMP-CAPTURE: makedumpfile -F -c -d 31 rc=0' "$run/console.log" && break
        grep -E 'crashkernel|CKDUMP' "$run/console.log" >&2 || true
        [ "$try" -lt 5 ] || die "scenario $s: no dump was written"
    done
    rm -f "$KT/dumps/$s.kdump"
    makedumpfile -R "$KT/dumps/$s.kdump" < "$run/disk.raw"
    if [ "${WITH_ELF:-0}" = 1 ]; then
        mkdir -p "$KT/elf"
        rm -f "$KT/elf/$s.elf"
        makedumpfile -R "$KT/elf/$s.elf" < "$run/elf.raw"
    fi
    # The console log, without the carriage returns of the serial line.
    tr -d '\r' < "$run/console.log" > "$KT/reference/$s/console.log"

    log "scenario $s: crash"
    # `mod -s` loads the module's debug info, so the last bt shows source lines in it too.
    printf '%s\n' 'set scroll off' 'sys' 'bt' 'bt -a' 'ps' 'mod' 'log | tail -40' \
        "mod -s ckdump_panic $KT/dumps/ckdump_panic.ko" 'bt -l' 'quit' |
        env -i PATH=/usr/bin:/bin HOME="$STAGE" crash -s "$VMLINUX" "$KT/dumps/$s.kdump" \
            > "$run/crash.txt" 2>&1 || true
    sed -e "s#$VMLINUX#vmlinux-$KVER#g" -e "s#$KT/##g" "$run/crash.txt" \
        > "$KT/reference/$s/crash.txt"

    log "scenario $s: drgn"
    (cd "$KT" && env -i PATH="$PATH" HOME="$STAGE" \
        python3 -m drgn -q -c "dumps/$s.kdump" -s "$VMLINUX" -s dumps/ckdump_panic.ko \
        reference/drgn-probe.py) > "$KT/reference/$s/drgn.txt" 2>&1 ||
        { cat "$KT/reference/$s/drgn.txt" >&2; die "scenario $s: drgn failed"; }
    echo "$s: $((t1 - t0))" >> "$STAGE/run/times"
}

for s in "${SCENARIOS[@]}"; do run_scenario "$s"; done

# ---------------------------------------------------------------------------------------------
# 5. the generated table in README.md
# ---------------------------------------------------------------------------------------------
log "README table"
python3 "$KT/readme_table.py" "$KT"
ls -la "$KT"/dumps >&2
