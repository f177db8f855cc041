#!/usr/bin/env bash
# bench/criu-big.sh - a CRIU checkpoint of a process with ~535 MiB of page data, for bench/criu.sh.
#
#   usage (as root):  bash bench/criu-big.sh          # reuses bench/data/criu-big when complete
#                     FORCE=1 bash bench/criu-big.sh  # makes it again
#
# CRIU 3.17 cannot dump on the host's kernel, so, as testdata/criu/gen.sh does (whose steps this
# copies, trimmed; gen.sh itself is not used or changed), a throw-away QEMU TCG guest boots Debian's
# cloud kernel with a busybox initramfs holding criu, its libraries and the program:
#   1. builds bench/src/criu-big.c (gcc -O2 -g -pthread, dynamic PIE): 544 MiB anonymous mapping,
#      every page but each 64th written with distinct non-zero words, 3 sleeping worker threads
#   2. initramfs: busybox-static, criu + the libraries ldd names for criu and criu-big, the
#      kernel modules gen.sh loads for CRIU plus virtio_pci + virtio_blk (the transport)
#   3. guest (-m 3072, -smp 2): starts criu-big, records its /proc facts, runs
#        criu dump -t PID -D /img/images -v4 -o dump.log          (the task is killed afterwards)
#      then `sha256sum` of every image file and `tar -cf /dev/vda -C /img .` onto a raw virtio
#      disk (the serial-port base64 gen.sh uses would take hours for 540 MB); powers off
#   4. host: untars the disk, checks the guest's sha256 sums, and leaves in bench/data/criu-big/:
#        images/   the CRIU image directory (pages-1.img ~535 MiB, dump.log)
#        bin/criu-big, guest/ (ready line, /proc/PID/{maps,status}, task list, console, sums)
#        sysroot/  the files the process mapped, at their guest paths (criu-big, libc, ld.so)
#        COMPLETE  written last: its presence means the directory is whole and is reused
# bench/data/ is gitignored. Scratch in $STAGE (default /tmp/ckdump-criu-big; KEEP_STAGE=1 keeps
# it); the kernel .deb is shared with gen.sh in $CACHE (default /tmp/ckdump-criu-cache).
# MIB (default 544) sets the mapping size. QEMU_TIMEOUT (default 1800 s) bounds the guest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench/data/criu-big
STAGE=${STAGE:-/tmp/ckdump-criu-big}
CACHE=${CACHE:-/tmp/ckdump-criu-cache}
KVER=${KVER:-6.1.0-56-cloud-amd64}
KPKG=linux-image-$KVER
MIB=${MIB:-544}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1800}
GUEST_MEM=${GUEST_MEM:-3072}
MODULES=(nf_tables veth tun unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag
         af_packet_diag virtio_pci virtio_blk)

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'criu-big.sh: error: %s\n' "$*" >&2; exit 1; }

if [ -f "$OUT/COMPLETE" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "criu-big.sh: $OUT is complete ($(cat "$OUT/COMPLETE")); FORCE=1 makes it again" >&2
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root (apt-get; criu inside the guest runs as root anyway)"
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host"

# ---------------------------------------------------------------------------------------------
# tools and the guest kernel (as gen.sh)
# ---------------------------------------------------------------------------------------------
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need qemu-system-x86_64 qemu-system-x86
need criu criu
need gcc gcc
need cpio cpio
need zstd zstd
need xz xz-utils
need objcopy binutils
need dpkg-deb dpkg
if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    apt-get update || echo "criu-big.sh: WARNING: apt-get update reported errors" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
mkdir -p "$CACHE"
DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit)
if [ -z "$DEB" ]; then
    log "downloading $KPKG"
    (cd "$CACHE" && apt-get download "$KPKG") || die "cannot download $KPKG (set KVER to a newer ABI)"
    DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit)
fi

# Room: the disk image and the unpacked images are each about MIB MiB.
need_kib=$(( (MIB * 2 + 256) * 1024 ))
for d in "$(dirname "$STAGE")" "$(dirname "$OUT")"; do
    mkdir -p "$d"
    free_kib=$(df -Pk "$d" | awk 'NR==2 {print $4}')
    [ "$free_kib" -ge "$need_kib" ] || die "$d has $((free_kib / 1024)) MiB free, needs $((need_kib / 1024))"
done

QEMU_PID=
cleanup() {
    local rc=$?
    if [ -n "$QEMU_PID" ]; then kill -KILL "$QEMU_PID" 2>/dev/null || true; fi
    if [ "${KEEP_STAGE:-0}" != 1 ]; then rm -rf "$STAGE"; fi
    rm -rf "$OUT.tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$STAGE"
mkdir -p "$STAGE"/{build,kernel,rootfs}
ROOTFS=$STAGE/rootfs
dpkg-deb -x "$DEB" "$STAGE/kernel"
VMLINUZ=$STAGE/kernel/boot/vmlinuz-$KVER
KMODDIR=$STAGE/kernel/lib/modules/$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in $DEB"

# ---------------------------------------------------------------------------------------------
# 1. the program
# ---------------------------------------------------------------------------------------------
log "building criu-big"
gcc -Wall -Wextra -O2 -g -pthread -ffile-prefix-map="$ROOT/bench/src"=/usr/src/ckdump-bench \
    -o "$STAGE/build/criu-big" "$ROOT/bench/src/criu-big.c"

# ---------------------------------------------------------------------------------------------
# 2. initramfs (the layout of gen.sh's: merged /usr, libraries at their host paths)
# ---------------------------------------------------------------------------------------------
log "building the initramfs"
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,img,opt/ckdump}
ln -s usr/lib "$ROOTFS/lib"
ln -s usr/lib64 "$ROOTFS/lib64"
mkdir -p "$ROOTFS/usr/lib/modules.ckdump"
cp /bin/busybox "$ROOTFS/bin/busybox"
cp "$(command -v criu)" "$ROOTFS/usr/sbin/criu"
install -m 0755 "$STAGE/build/criu-big" "$ROOTFS/opt/ckdump/"
copy_file() {
    local p=$1 real dir
    real=$(readlink -f "$p")
    [ -f "$real" ] || die "copy_file: $p does not resolve to a file"
    [ -e "$ROOTFS$real" ] || { mkdir -p "$(dirname "$ROOTFS$real")"; cp "$real" "$ROOTFS$real"; }
    dir=$(readlink -f "$(dirname "$p")")/$(basename "$p")
    if [ "$dir" != "$real" ] && [ ! -e "$ROOTFS$dir" ]; then
        mkdir -p "$(dirname "$ROOTFS$dir")"
        ln -s "$real" "$ROOTFS$dir"
    fi
}
for exe in "$(command -v criu)" "$STAGE/build/criu-big"; do
    ldd "$exe" | grep -o '/[^ ]*' | while read -r lib; do copy_file "$lib"; done
done
# Modules with their dependencies (from each module's .modinfo "depends=", as gen.sh does).
declare -A MOD_FILE MOD_SEEN
while read -r f; do
    b=$(basename "$f"); b=${b%%.ko*}; MOD_FILE[${b//-/_}]=$f
done < <(find "$KMODDIR/kernel" -name '*.ko*')
MOD_ORDER=()
unpacked_module() { # unpacked_module FILE > plain .ko
    case $1 in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *) cat "$1" ;;
    esac
}
add_module() {
    local m=${1//-/_} f d
    [ -n "${MOD_SEEN[$m]:-}" ] && return 0
    MOD_SEEN[$m]=1
    f=${MOD_FILE[$m]:-}
    if [ -z "$f" ]; then
        grep -q "/$m\.ko" "$KMODDIR/modules.builtin" && return 0
        die "kernel module $m not found in $KPKG"
    fi
    unpacked_module "$f" > "$STAGE/mod.ko"
    objcopy -O binary --only-section=.modinfo "$STAGE/mod.ko" "$STAGE/modinfo.bin"
    for d in $(tr '\0' '\n' < "$STAGE/modinfo.bin" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$d"
    done
    unpacked_module "$f" > "$ROOTFS/usr/lib/modules.ckdump/$m.ko"
    MOD_ORDER+=("$m")
}
for m in "${MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${MOD_ORDER[@]}" > "$ROOTFS/usr/lib/modules.ckdump/load-order"

cat > "$ROOTFS/init" <<INIT_EOF
#!/bin/busybox sh
# /init of the ckdump CRIU benchmark guest (written by bench/criu-big.sh).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin:/usr/bin
say() { echo "CKDUMP-BIG: \$*"; }
fail() { say "FAILED: \$*"; sync; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs -o size=90% tmpfs /img
for m in \$(cat /lib/modules.ckdump/load-order); do
    insmod /lib/modules.ckdump/\$m.ko || say "insmod \$m failed"
done
ifconfig lo 127.0.0.1 up
hostname ckdump-guest
G=/img/guest
mkdir -p \$G /img/images
say "kernel \$(uname -r), \$(grep MemTotal /proc/meminfo)"
for i in \$(seq 1 100); do [ -b /dev/vda ] && break; sleep 0.1; done
[ -b /dev/vda ] || fail "no /dev/vda (virtio_blk)"

cd /tmp
setsid env -i PATH=/bin HOME=/root /opt/ckdump/criu-big $MIB > /tmp/big.out 2>&1 < /dev/null &
cd /
T0=\$(date +%s)
for i in \$(seq 1 6000); do grep -q '^ready' /tmp/big.out && break; sleep 0.1; done
grep -q '^ready' /tmp/big.out || fail "criu-big never got ready: \$(cat /tmp/big.out)"
say "\$(cat /tmp/big.out) after \$(( \$(date +%s) - T0 )) s"
P=\$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' /tmp/big.out)
cp /tmp/big.out \$G/ready.txt
cat /proc/\$P/maps > \$G/maps.txt
cat /proc/\$P/status > \$G/status.txt
for t in \$(ls /proc/\$P/task); do
    echo "\$t \$(cat /proc/\$P/task/\$t/comm) \$(cut -d' ' -f3 /proc/\$P/task/\$t/stat)"
done > \$G/tasks.txt
criu --version > \$G/criu-version.txt

T0=\$(date +%s)
criu dump -t \$P -D /img/images -v4 -o dump.log
say "criu dump rc=\$? in \$(( \$(date +%s) - T0 )) s"
tail -n 3 /img/images/dump.log
ls -la /img/images
(cd /img/images && sha256sum *) > \$G/sha256.txt
date -u +%Y-%m-%dT%H:%M:%SZ > \$G/dump-time.txt
T0=\$(date +%s)
tar -C /img -cf /dev/vda . || fail "tar onto /dev/vda"
sync
say "tar onto /dev/vda took \$(( \$(date +%s) - T0 )) s"
say "done"
poweroff -f
INIT_EOF
chmod 0755 "$ROOTFS/init"
(cd "$ROOTFS" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$STAGE/initramfs.cpio.gz"

# ---------------------------------------------------------------------------------------------
# 3. boot
# ---------------------------------------------------------------------------------------------
log "booting the guest (TCG, ${GUEST_MEM} MiB; a few minutes)"
truncate -s $(( (MIB * 2 + 128) * 1024 * 1024 )) "$STAGE/disk.raw"
T0=$(date +%s)
qemu-system-x86_64 -accel tcg -machine pc -cpu max -smp 2 -m "$GUEST_MEM" \
    -kernel "$VMLINUZ" -initrd "$STAGE/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" \
    -drive "file=$STAGE/disk.raw,format=raw,if=virtio" \
    -display none -monitor none -nic none -no-reboot \
    -serial "file:$STAGE/console.log" > "$STAGE/qemu.out" 2>&1 &
QEMU_PID=$!
while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ $(( $(date +%s) - T0 )) -gt "$QEMU_TIMEOUT" ]; then
        kill -KILL "$QEMU_PID" 2>/dev/null || true
        tail -n 40 "$STAGE/console.log" >&2 || true
        die "the guest did not finish within $QEMU_TIMEOUT s"
    fi
    sleep 2
done
wait "$QEMU_PID" || true
QEMU_PID=
echo "guest ran $(( $(date +%s) - T0 )) s" >&2
tr -d '\r' < "$STAGE/console.log" > "$STAGE/console.txt"
grep 'CKDUMP-BIG:' "$STAGE/console.txt" >&2 || true
if grep -q 'CKDUMP-BIG: FAILED' "$STAGE/console.txt" || ! grep -q 'CKDUMP-BIG: done' "$STAGE/console.txt" \
    || ! grep -q 'CKDUMP-BIG: criu dump rc=0 ' "$STAGE/console.txt"; then
    cat "$STAGE/console.txt" "$STAGE/qemu.out" >&2
    die "the guest did not finish its work (console above)"
fi

# ---------------------------------------------------------------------------------------------
# 4. unpack and check
# ---------------------------------------------------------------------------------------------
log "unpacking"
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/bin"
tar -C "$OUT.tmp" -xf "$STAGE/disk.raw"
rm -f "$STAGE/disk.raw"
(cd "$OUT.tmp/images" && sha256sum --quiet -c ../guest/sha256.txt) || die "image files differ from the guest's sha256 sums"
install -m 0755 "$STAGE/build/criu-big" "$OUT.tmp/bin/"
# The files the process mapped, at their guest paths: `--sysroot` for restore-readiness checks
# and symbols (the guest ran the host's libc, copied into the initramfs).
for f in opt/ckdump/criu-big $(cd "$ROOTFS" && find usr/lib -name 'libc.so.6' -o -name 'ld-linux-x86-64.so.2'); do
    mkdir -p "$OUT.tmp/sysroot/$(dirname "$f")"
    cp -L "$ROOTFS/$f" "$OUT.tmp/sysroot/$f"
done
grep -v '^==' "$STAGE/console.txt" > "$OUT.tmp/guest/console.txt" || true
echo "dumped $(cat "$OUT.tmp/guest/dump-time.txt"), MIB=$MIB" > "$OUT.tmp/COMPLETE"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "done"
du -sh --apparent-size "$OUT"/images/* | sort -h | tail -n 5
cat "$OUT/guest/ready.txt"
