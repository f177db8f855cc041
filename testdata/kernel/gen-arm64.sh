#!/usr/bin/env bash
# testdata/kernel/gen-arm64.sh - regenerate ckdump's arm64 Linux kernel crash dump.
#
#   usage (as root, Debian 12 x86_64 host):  bash testdata/kernel/gen-arm64.sh
#
# A QEMU aarch64 guest (`-M virt -cpu max`, TCG) runs Debian's 6.1.0-56-cloud-arm64 kernel with
# a busybox initramfs; it kexec-loads a capture kernel (kdump), loads Debian's qemu_fw_cfg.ko, starts
# our multi-threaded ckdump-threads (built for arm64) and panics by sysrq-c.  The capture kernel writes
# `makedumpfile -F -c -d 31 /proc/vmcore` onto an NVMe disk; `makedumpfile -R` (arch-neutral)
# turns that into dumps/arm64-sysrq.kdump (kdump-compressed, zlib).  Then drgn writes
# reference/arm64-sysrq/drgn.txt (and drgn-user.txt: user tasks' pt_regs and VMAs) with the -dbg
# package's vmlinux, and the guest console is
# kept as reference/arm64-sysrq/console.log.
#
# Packages: host qemu-system-arm gcc-aarch64-linux-gnu makedumpfile cpio python3-pip, drgn
# (pip); arm64 packages fetched with `apt-get download` (needs `dpkg --add-architecture arm64`
# and an apt-get update): linux-image-6.1.0-56-cloud-arm64 (+ -dbg, 262 MB), busybox-static,
# kexec-tools, makedumpfile and the shared libraries they need.  $KERNEL_DEBS may hold the
# kernel .debs, $VMLINUX name an already extracted arm64 debug vmlinux.
#
# Time: about 1-2 minutes of QEMU (TCG emulating aarch64 is slower than x86) plus drgn.
# Scratch files live in /tmp/ckdump-kernel-arm64; KEEP_STAGE=1 keeps them.  Guest memory:
# MEM (default 512M), CRASHKERNEL (default 192M).
set -euo pipefail

KT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=/tmp/ckdump-kernel-arm64
KVER=6.1.0-56-cloud-arm64
KDEBVER=6.1.192-2
MEM=${MEM:-512M}
CRASHKERNEL=${CRASHKERNEL:-192M}
NAME=arm64-sysrq
# arm64 packages whose binaries and libraries go into the initramfs images.
ARM64_PKGS=(busybox-static kexec-tools makedumpfile libc6 zlib1g liblzma5 libbz2-1.0 libdw1
    libelf1 liblzo2-2 libzstd1 libxenmisc4.17 libxentoollog1 libxencall1 libxenevtchn1
    libxengnttab1 libxenforeignmemory1 libxendevicemodel1 libxentoolcore1)

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen-arm64.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, dpkg-deb, QEMU)"
dpkg --print-foreign-architectures | grep -qx arm64 ||
    die "add the arm64 architecture first: dpkg --add-architecture arm64 && apt-get update"

# ---------------------------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------------------------
log "checking tools"
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need qemu-system-aarch64 qemu-system-arm
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need makedumpfile makedumpfile
need cpio cpio
need readelf binutils
need pip3 python3-pip
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
python3 -c 'import drgn' 2>/dev/null || pip3 install --break-system-packages drgn==0.3.0 \
    2>/dev/null || pip3 install drgn==0.3.0

rm -rf "$STAGE"
mkdir -p "$STAGE"/{debs,kernel,sysroot,user,capture,first,run}
if [ "${KEEP_STAGE:-0}" != 1 ]; then trap 'rm -rf "$STAGE"' EXIT; fi

# ---------------------------------------------------------------------------------------------
# 1. arm64 packages: the kernel (vmlinuz for the guest, debug vmlinux for drgn), busybox,
#    kexec-tools, makedumpfile and their libraries, unpacked into a sysroot
# ---------------------------------------------------------------------------------------------
log "arm64 packages"
apt-get update >&2
(cd "$STAGE/debs" && apt-get download "${ARM64_PKGS[@]/%/:arm64}" >&2)
for f in "$STAGE"/debs/*.deb; do dpkg-deb -x "$f" "$STAGE/sysroot"; done
kdeb() { # kdeb PACKAGE -> path of its arm64 .deb
    local f=${KERNEL_DEBS:-/nonexistent}/${1}_${KDEBVER}_arm64.deb
    if [ ! -f "$f" ]; then
        f=$STAGE/debs/${1}_${KDEBVER}_arm64.deb
        [ -f "$f" ] || (cd "$STAGE/debs" && apt-get download "$1:arm64=$KDEBVER" >&2)
    fi
    echo "$f"
}
dpkg-deb -x "$(kdeb linux-image-$KVER)" "$STAGE/kernel/image"
VMLINUZ=$STAGE/kernel/image/boot/vmlinuz-$KVER
if [ -z "${VMLINUX:-}" ]; then
    VMLINUX=$STAGE/kernel/dbg/usr/lib/debug/boot/vmlinux-$KVER
    mkdir -p "$STAGE/kernel/dbg"
    dpkg-deb --fsys-tarfile "$(kdeb linux-image-$KVER-dbg)" |
        tar -x -C "$STAGE/kernel/dbg" "./usr/lib/debug/boot/vmlinux-$KVER"
fi
[ -f "$VMLINUX" ] || die "no debug vmlinux at $VMLINUX"

# ---------------------------------------------------------------------------------------------
# 2. the user program, static for arm64
# ---------------------------------------------------------------------------------------------
log "building ckdump-threads (aarch64)"
aarch64-linux-gnu-gcc -static -O1 -g -pthread -Wall \
    -ffile-prefix-map="$KT"/user=/usr/src/ckdump-kernel \
    -o "$STAGE/user/ckdump-threads" "$KT"/user/ckdump-threads.c

# ---------------------------------------------------------------------------------------------
# 3. initramfs images: the capture kernel's (busybox + makedumpfile), then the first kernel's
#    (the same plus kexec, the capture kernel and its initramfs, and the program)
# ---------------------------------------------------------------------------------------------
log "initramfs"
SYSROOT=$STAGE/sysroot
libs_of() { # libs_of BINARY...: sysroot paths of their shared libraries, recursively
    local -A seen=()
    local todo=("$@") f n p
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -n "${seen[$n]:-}" ] && continue
            seen[$n]=1
            p=$(find "$SYSROOT" -name "$n" \( -type f -o -type l \) | head -1)
            [ -n "$p" ] || die "no $n for $f in the arm64 sysroot"
            echo "$p"
            todo+=("$(readlink -f "$p")")
        done
    done
}
add_bin() { # add_bin ROOT SYSROOT_PATH: the binary and its libraries at their Debian paths
    local root=$1 bin=$2 lib rel
    for lib in "$bin" $(libs_of "$bin"); do
        rel=${lib#"$SYSROOT"}
        mkdir -p "$root$(dirname "$rel")"
        cp -L "$lib" "$root$rel"
    done
    # PT_INTERP of Debian's arm64 binaries
    cp -L "$SYSROOT/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$root/lib/ld-linux-aarch64.so.1"
}
mk_cpio() { (cd "$1" && find . | sort | cpio -o -H newc --quiet) | gzip -9 > "$2"; }
base_root() {
    mkdir -p "$1"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lib,boot}
    cp "$SYSROOT/bin/busybox" "$1/bin/busybox"
    cp "$KT/guest/init-arm64.sh" "$1/init"
    chmod 755 "$1/init"
    add_bin "$1" "$SYSROOT/usr/bin/makedumpfile"
}
base_root "$STAGE/capture"
mk_cpio "$STAGE/capture" "$STAGE/capture.cpio.gz"
base_root "$STAGE/first"
add_bin "$STAGE/first" "$SYSROOT/sbin/kexec"
cp "$VMLINUZ" "$STAGE/first/boot/vmlinuz"
cp "$STAGE/capture.cpio.gz" "$STAGE/first/boot/capture.cpio.gz"
cp "$STAGE/user/ckdump-threads" "$STAGE/first/bin/"
mkdir -p "$STAGE/first/lib/modules"
cp "$STAGE/kernel/image/lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko" \
    "$STAGE/first/lib/modules/"
mk_cpio "$STAGE/first" "$STAGE/first.cpio.gz"
ls -la "$STAGE"/*.cpio.gz >&2

# ---------------------------------------------------------------------------------------------
# 4. the QEMU kdump run, then drgn on the dump
# ---------------------------------------------------------------------------------------------
run=$STAGE/run
mkdir -p "$KT/dumps" "$KT/reference/$NAME"
for try in 1 2 3; do
    rm -f "$run/disk.raw" "$run/console.log"
    truncate -s 256M "$run/disk.raw"
    log "QEMU aarch64 (TCG, $MEM, crashkernel=$CRASHKERNEL), try $try"
    t0=$(date +%s)
    # pauth-impdef: TCG's cheap PAC algorithm (the architected one is slow to emulate); the
    # kernel signs its return addresses either way (CONFIG_ARM64_PTR_AUTH_KERNEL).
    # panic=1 + -no-reboot: a first-kernel panic that kdump did not take ends QEMU.
    timeout --foreground 900 qemu-system-aarch64 -M virt -accel tcg -cpu max,pauth-impdef=on \
        -m "$MEM" -smp 2 -kernel "$VMLINUZ" -initrd "$STAGE/first.cpio.gz" \
        -append "console=ttyAMA0 loglevel=7 crashkernel=$CRASHKERNEL panic=1" \
        -drive file="$run/disk.raw",if=none,id=dump0,format=raw \
        -device nvme,drive=dump0,serial=ckdump0 \
        -display none -monitor none -serial file:"$run/console.log" -no-reboot || true
    t1=$(date +%s)
    echo "QEMU ran $((t1 - t0)) s" >&2
    grep -q 'CKDUMP-CAPTURE: makedumpfile -F -c -d 31 rc=0' "$run/console.log" && break
    grep -E 'crashkernel|CKDUMP' "$run/console.log" >&2 || true
    [ "$try" -lt 3 ] || die "no dump was written"
done
rm -f "$KT/dumps/$NAME.kdump"
makedumpfile -R "$KT/dumps/$NAME.kdump" < "$run/disk.raw"
tr -d '\r' < "$run/console.log" > "$KT/reference/$NAME/console.log"

log "drgn"
(cd "$KT" && env -i PATH="$PATH" HOME="$STAGE" \
    python3 -m drgn -q -c "dumps/$NAME.kdump" -s "$VMLINUX" reference/drgn-probe-arm64.py) \
    > "$KT/reference/$NAME/drgn.txt" 2>&1 ||
    { cat "$KT/reference/$NAME/drgn.txt" >&2; die "drgn failed"; }
# User processes: each thread's pt_regs, its VMAs and what its user stack reads as.
(cd "$KT" && env -i PATH="$PATH" HOME="$STAGE" \
    python3 -m drgn -q -c "dumps/$NAME.kdump" -s "$VMLINUX" reference/drgn-user-arm64.py) \
    > "$KT/reference/$NAME/drgn-user.txt" 2>&1 ||
    { cat "$KT/reference/$NAME/drgn-user.txt" >&2; die "drgn (user processes) failed"; }
ls -la "$KT/dumps/$NAME.kdump" >&2
