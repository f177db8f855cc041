#!/usr/bin/env bash
# bench/gen-vmcores.sh - kernel dumps of QEMU guests with 512 MiB and 4 GiB of RAM, for the scaling
# half of bench/vmcore.sh ("opening a dump must not read it whole").
#
#   bash bench/gen-vmcores.sh [OUT]          # as root; OUT defaults to /work/bench-data/vmcores
#   SIZES="512 4096" FILL_PERCENT=50 ACCEL=tcg FORCE=1 bash bench/gen-vmcores.sh
#
# For each size a throw-away guest (QEMU TCG, -smp 2, `-device vmcoreinfo`) boots Debian's
# 6.1.0-56-cloud-amd64 kernel (the one of ../shared/generated/vmcores) with a busybox initramfs whose
# /init loads qemu_fw_cfg (so the kernel exports VMCOREINFO to QEMU), fills FILL_PERCENT of the RAM
# with non-zero data in a tmpfs (copies of the busybox binary: a used machine's memory, not an
# idle guest's zeros; about 1.5:1 with zlib per page), starts a few tasks, and panics with sysrq-c. The host
# then saves the panicked guest through QMP, as an operator would:
#   vmcore-<MIB>M.elf               dump-guest-memory, ELF (every page, physical addresses)
#   vmcore-<MIB>M.kdump-zlib.flat   dump-guest-memory -z: flattened kdump, zlib per page
#   vmcore-<MIB>M.kdump-zlib        the same made a normal "KDUMP   " file by `makedumpfile -R`
#   console-<MIB>M.log              the guest's serial console (meminfo after the fill, the panic)
#   COMPLETE-<MIB>M                 written last; present = reused unless FORCE=1
# Disk: the ELF holds every page, each kdump form the non-zero pages compressed (and a descriptor
# per page): 0.5 + 0.2 + 0.2 GiB for 512 MiB, 4.0 + 1.3 + 1.3 GiB for 4 GiB (FILL_PERCENT=50).
# Time (TCG, 2 shared cores): about 1 min for 512 MiB, 4 min for 4 GiB (2.5 min of it QEMU's zlib).
# The kernel .deb is taken from /work/cache/vmlinux if it is there, else `apt-get download`ed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-/work/bench-data/vmcores}
SIZES=${SIZES:-512 4096}
FILL_PERCENT=${FILL_PERCENT:-50}
ACCEL=${ACCEL:-tcg}
KVER=${KVER:-6.1.0-56-cloud-amd64}
KPKG=linux-image-$KVER
DEB_DIR=${DEB_DIR:-/work/cache/vmlinux}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}

die() { printf 'gen-vmcores.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '=== %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get for missing tools)"
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v makedumpfile >/dev/null || missing+=(makedumpfile)
command -v cpio >/dev/null || missing+=(cpio)
command -v python3 >/dev/null || missing+=(python3)
# busybox-static: the initramfs has no libc for a dynamic busybox.
if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
if [ "${#missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$OUT"
stage=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

DEB=$(find "$DEB_DIR" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit 2>/dev/null || true)
if [ -z "$DEB" ]; then
    (cd "$stage" && apt-get download "$KPKG" >/dev/null) || die "cannot download $KPKG"
    DEB=$(find "$stage" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit)
fi
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$stage" \
    "./boot/vmlinuz-$KVER" "./lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko"

# initramfs: busybox and qemu_fw_cfg.ko, and an /init that fills memory and panics.
rootfs=$stage/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,fill,lib/modules}
cp /bin/busybox "$rootfs/bin/busybox"
cp "$stage/lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko" "$rootfs/lib/modules/"
cat > "$rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
insmod /lib/modules/qemu_fw_cfg.ko || echo "GEN-VMCORES: qemu_fw_cfg not loaded (no VMCOREINFO)"
fill=$(sed -n 's/.*fill_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "GEN-VMCORES: filling ${fill} MiB of tmpfs with copies of /bin/busybox"
mount -t tmpfs -o size=$((fill + 16))m tmpfs /fill
# One 64 MiB file of busybox copies, then copies of that file: non-zero, 2:1 compressible pages.
while [ "$(stat -c %s /fill/block 2>/dev/null || echo 0)" -lt 67108864 ]; do cat /bin/busybox >> /fill/block; done
head -c 67108864 /fill/block > /fill/b0 && rm /fill/block
i=1
while [ $((i * 64)) -lt "$fill" ]; do cp /fill/b0 /fill/b$i; i=$((i + 1)); done
head -n 4 /proc/meminfo
echo "GEN-VMCORES: marker before the crash" > /dev/kmsg
sleep 100000 &
(while true; do sleep 1; done) &
echo 1 > /proc/sys/kernel/sysrq
echo "GEN-VMCORES: triggering sysrq crash"
echo c > /proc/sysrq-trigger
sleep 100000
EOF
chmod +x "$rootfs/init"
(cd "$rootfs" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$stage/initramfs.cpio.gz"

# QMP client: the commands one at a time, each waited for (dump-guest-memory is synchronous).
cat > "$stage/qmp.py" <<'EOF'
import json, socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
stream = sock.makefile("rwb")
def reply():
    while True:
        msg = json.loads(stream.readline())
        if "return" in msg or "error" in msg:
            return msg
json.loads(stream.readline())  # greeting
for cmd in sys.argv[2:]:
    t0 = time.time()
    stream.write(cmd.encode() + b"\n"); stream.flush()
    msg = reply()
    print(f"qmp {cmd[:90]} -> {msg} ({time.time() - t0:.1f} s)", file=sys.stderr)
    if "error" in msg:
        sys.exit(1)
EOF

for mib in $SIZES; do
    if [ -f "$OUT/COMPLETE-${mib}M" ] && [ "${FORCE:-0}" != 1 ]; then
        log "${mib} MiB guest: $OUT/COMPLETE-${mib}M exists (FORCE=1 makes it again)"
        continue
    fi
    rm -f "$OUT"/vmcore-"${mib}"M.* "$OUT/COMPLETE-${mib}M"
    fill=$((mib * FILL_PERCENT / 100))
    console=$OUT/console-${mib}M.log
    qmp=$stage/qmp-$mib.sock
    log "${mib} MiB guest (${ACCEL}), ${fill} MiB filled"
    t0=$(date +%s)
    qemu-system-x86_64 -accel "$ACCEL" -machine pc -cpu max -smp 2 -m "${mib}M" \
        -kernel "$stage/boot/vmlinuz-$KVER" -initrd "$stage/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=0 loglevel=7 fill_mib=$fill" \
        -display none -serial "file:$console" -qmp "unix:$qmp,server=on,wait=off" \
        -device vmcoreinfo -no-reboot &
    qpid=$!
    for _ in $(seq 1 "$BOOT_TIMEOUT"); do
        grep -q 'end Kernel panic' "$console" 2>/dev/null && break
        kill -0 "$qpid" 2>/dev/null || die "qemu exited before the panic (see $console)"
        sleep 1
    done
    grep -q 'end Kernel panic' "$console" || { kill "$qpid"; die "no panic within ${BOOT_TIMEOUT} s"; }
    log "panicked after $(($(date +%s) - t0)) s; saving"
    python3 "$stage/qmp.py" "$qmp" '{"execute":"qmp_capabilities"}' \
        "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":\"file:$OUT/vmcore-${mib}M.elf\"}}" \
        "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"format\":\"kdump-zlib\",\"protocol\":\"file:$OUT/vmcore-${mib}M.kdump-zlib.flat\"}}" \
        '{"execute":"quit"}' || { kill "$qpid"; die "dump-guest-memory failed"; }
    wait "$qpid" || true
    makedumpfile -R "$OUT/vmcore-${mib}M.kdump-zlib" < "$OUT/vmcore-${mib}M.kdump-zlib.flat" >/dev/null
    grep -E 'MemTotal|MemFree|GEN-VMCORES|Kernel panic - not syncing' "$console" >&2 || true
    ls -l "$OUT"/vmcore-"${mib}"M.* >&2
    date -u +%FT%TZ > "$OUT/COMPLETE-${mib}M"
done
