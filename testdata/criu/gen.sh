#!/usr/bin/env bash
# testdata/criu/gen.sh - regenerate the CRIU checkpoint fixtures in testdata/criu.
#
#   usage (as root, from any directory):   bash testdata/criu/gen.sh
#
# CRIU 3.17 cannot dump on the host's kernel ("Unexpected rt vDSO area bounds" on 6.18), so the
# dumps are made inside a throw-away QEMU guest (TCG, -smp 2, 512 MB) that boots Debian's cloud
# kernel with a busybox initramfs.  In order:
#   0. installs what is missing with apt-get: qemu-system-x86 busybox-static criu python3 gcc
#      cpio zstd binutils; downloads (apt-get download, cached in $CACHE) the guest kernel
#      package $KPKG and unpacks it with dpkg-deb -x
#   1. builds src/mt.c (gcc -g -O1 -fno-omit-frame-pointer -pthread, dynamic PIE) and
#      src/static.c (the same flags plus -static); sources are recorded as
#      /usr/src/ckdump-testdata/criu/*.c (-ffile-prefix-map)
#   2. builds the initramfs: busybox, criu and every shared library ldd names for criu and mt
#      (at their real /usr/lib paths, with /lib and /lib64 -> usr/... as on the host), the
#      programs at /opt/ckdump/{mt,static}, the kernel modules CRIU wants (diag, netfilter,
#      tun/veth; dependencies resolved from each module's .modinfo) plus qemu_fw_cfg, and /init
#   3. boots it.  /init starts mt and static, records /proc facts about them, and runs
#        criu dump -t MT     -D /img/mt          --leave-running
#        criu dump -t STATIC -D /img/static      --leave-running --track-mem
#        criu dump -t STATIC -D /img/static-incr --prev-images-dir ../static --track-mem
#      (the last one is incremental: unchanged pages stay in the parent, `parent` -> ../static);
#      then it sends /img as base64 of a tar.gz over the second serial port and powers off
#   4. unpacks the images into images/{mt,static,static-incr} (each with CRIU's dump.log),
#      copies the programs to bin/, the guest's notes to reference/guest/
#   5. reference/: `crit show` of every image, `crit x DIR ps|fds|mems` (the Debian criu
#      package's crit decodes images on any kernel)
#   6. archive/mt-checkpoint.tar.zst and .tar.gz: images/mt as a Podman-style checkpoint
#      archive (checkpoint/ + config.dump, spec.dump, network.status, stats-dump); if
#      checkpointctl is installed ($CHECKPOINTCTL), its show/inspect/memparse of the archive
#   7. expected.json and the generated part of README.md (extract_expected.py)
#
# Scratch files live in $STAGE (default /tmp/ckdump-criu; KEEP_STAGE=1 keeps it), the kernel
# package in $CACHE (default /tmp/ckdump-criu-cache, kept).  Takes about 25 s on a 2-core
# machine (the TCG guest boots, dumps and powers off in about 10 s); the first run adds apt-get
# (about 1 minute) and a 27 MB kernel download.  QEMU_TIMEOUT (default 900 s) bounds the guest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TD=$ROOT/testdata/criu
SRC=$TD/src
STAGE=${STAGE:-/tmp/ckdump-criu}
CACHE=${CACHE:-/tmp/ckdump-criu-cache}
KVER=${KVER:-6.1.0-56-cloud-amd64}
KPKG=linux-image-$KVER
SRC_PREFIX=/usr/src/ckdump-testdata/criu
GUEST_BIN=/opt/ckdump          # where the programs live inside the guest
QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
# crit and pycriu come from Debian's criu package and need Debian's python3.
PY=/usr/bin/python3
# Kernel modules for CRIU in the guest (dependencies are added automatically).  qemu_fw_cfg
# is not needed by CRIU; it is loaded so the guest looks like the project's other VMs.
MODULES=(nf_tables veth tun unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag
         af_packet_diag qemu_fw_cfg)
# Made-up but consistent container metadata for the Podman-style archive.
CTR_ID=3f6c8e21b0a94d57c2e1f80b6d4a9c3e75b2d018f6a4c9e3b7d5102a8e6f4c91
CTR_NAME=ckdump-mt
CTR_IMAGE_NAME=quay.io/ckdump/mt-fixture:latest
CTR_IMAGE_ID=8d2f1c6b4e9a07532c1f8e6d5b4a3920718f6e5d4c3b2a19f8e7d6c5b4a39281

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, criu inside the guest runs as root anyway)"
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host"

# ---------------------------------------------------------------------------------------------
# 0. tools and the guest kernel
# ---------------------------------------------------------------------------------------------
log "checking tools"
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        # A partly failing update (a mirror in sync) must not stop us: the lists we have may do.
        apt-get update || echo "gen.sh: WARNING: apt-get update reported errors" >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need qemu-system-x86_64 qemu-system-x86
need criu criu
need crit criu
need gcc gcc
need cpio cpio
need zstd zstd
need gzip gzip
need objcopy binutils
need nm binutils
need readelf binutils
need dpkg-deb dpkg
[ -x "$PY" ] || missing+=(python3)
# busybox-static, not the dynamic busybox package: the initramfs has no libc for it.
if ! [ -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    apt_install "${missing[@]}"
fi
"$PY" -c 'import pycriu.images' || die "$PY cannot import pycriu (package criu)"

mkdir -p "$CACHE"
DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit)
if [ -z "$DEB" ]; then
    log "downloading $KPKG"
    # apt-get download writes into the current directory; _apt cannot write to a root-owned
    # folder, which apt reports as a harmless warning (it then downloads as root).
    (cd "$CACHE" && apt-get download "$KPKG") || {
        apt-get update || true
        (cd "$CACHE" && apt-get download "$KPKG")
    } || die "cannot download $KPKG (Debian may have moved on to a newer ABI: set KVER)"
    DEB=$(find "$CACHE" -maxdepth 1 -name "${KPKG}_*_amd64.deb" -print -quit)
fi
KDEB_VERSION=$(dpkg-deb -f "$DEB" Version)

# ---------------------------------------------------------------------------------------------
# scratch area
# ---------------------------------------------------------------------------------------------
QEMU_PID=
cleanup() {
    local rc=$?
    if [ -n "$QEMU_PID" ]; then kill -KILL "$QEMU_PID" 2>/dev/null || true; fi
    if [ "${KEEP_STAGE:-0}" != 1 ]; then rm -rf "$STAGE"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$STAGE"
mkdir -p "$STAGE"/{build,kernel,rootfs,out}
ROOTFS=$STAGE/rootfs

log "unpacking $(basename "$DEB")"
dpkg-deb -x "$DEB" "$STAGE/kernel"
VMLINUZ=$STAGE/kernel/boot/vmlinuz-$KVER
KMODDIR=$STAGE/kernel/lib/modules/$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in $DEB"

# ---------------------------------------------------------------------------------------------
# 1. the fixture programs
# ---------------------------------------------------------------------------------------------
log "building mt and static"
CFLAGS=(-Wall -Wextra -g -O1 -fno-omit-frame-pointer -ffile-prefix-map="$SRC"="$SRC_PREFIX")
(cd "$SRC" && gcc "${CFLAGS[@]}" -pthread -o "$STAGE/build/mt" mt.c)
(cd "$SRC" && gcc "${CFLAGS[@]}" -static -o "$STAGE/build/static" static.c)
readelf -lW "$STAGE/build/mt" | grep -q 'Requesting program interpreter' || die "mt is not dynamic"
readelf -lW "$STAGE/build/static" | grep -q INTERP && die "static has a PT_INTERP"
for f in worker_leaf worker_mid worker main; do
    nm "$STAGE/build/mt" | grep -q " t $f\$\| T $f\$" || die "mt has no symbol $f"
done

# ---------------------------------------------------------------------------------------------
# 2. initramfs
# ---------------------------------------------------------------------------------------------
log "building the initramfs"
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,run,tmp,img}
mkdir -p "$ROOTFS$GUEST_BIN"
# The host's merged-/usr layout, so that the guest maps libraries under the same names as the
# host (/usr/lib/x86_64-linux-gnu/libc.so.6) and testdata/sysroot applies to both.
ln -s usr/lib "$ROOTFS/lib"
ln -s usr/lib64 "$ROOTFS/lib64"
mkdir -p "$ROOTFS/usr/lib/modules.ckdump"

cp /bin/busybox "$ROOTFS/bin/busybox"
cp "$(command -v criu)" "$ROOTFS/usr/sbin/criu"
install -m 0755 "$STAGE/build/mt" "$STAGE/build/static" "$ROOTFS$GUEST_BIN/"

# copy_file PATH: the file PATH resolves to goes to the same real path in the rootfs; if PATH
# itself is a symlink (or goes through one), the link is recreated in the rootfs as well.
copy_file() {
    local p=$1 real
    real=$(readlink -f "$p")
    [ -f "$real" ] || die "copy_file: $p does not resolve to a file"
    if [ ! -e "$ROOTFS$real" ]; then
        mkdir -p "$(dirname "$ROOTFS$real")"
        cp "$real" "$ROOTFS$real"
    fi
    local dir
    dir=$(readlink -f "$(dirname "$p")")/$(basename "$p")
    if [ "$dir" != "$real" ] && [ ! -e "$ROOTFS$dir" ]; then
        mkdir -p "$(dirname "$ROOTFS$dir")"
        ln -s "$real" "$ROOTFS$dir"
    fi
}
for exe in "$(command -v criu)" "$STAGE/build/mt"; do
    ldd "$exe" | grep -o '/[^ ]*' | while read -r lib; do copy_file "$lib"; done
done

# Kernel modules, dependencies first.  modules.dep is not in the package (depmod makes it at
# install time), so the "depends=" field of each module's .modinfo section is read instead.
declare -A MOD_FILE MOD_SEEN
while read -r f; do
    b=$(basename "$f"); b=${b%%.ko*}; MOD_FILE[${b//-/_}]=$f
done < <(find "$KMODDIR/kernel" -name '*.ko*')
MOD_ORDER=()
mod_depends() {
    local f=$1 tmp=$STAGE/modinfo.bin
    case $f in
    *.ko.xz) xz -dc "$f" > "$STAGE/mod.ko"; f=$STAGE/mod.ko ;;
    *.ko.zst) zstd -qdc "$f" > "$STAGE/mod.ko"; f=$STAGE/mod.ko ;;
    esac
    objcopy -O binary --only-section=.modinfo "$f" "$tmp"
    tr '\0' '\n' < "$tmp" | sed -n 's/^depends=//p' | tr ',' ' '
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
    for d in $(mod_depends "$f"); do add_module "$d"; done
    case $f in
    *.ko.xz) xz -dc "$f" > "$ROOTFS/usr/lib/modules.ckdump/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$ROOTFS/usr/lib/modules.ckdump/$m.ko" ;;
    *) cp "$f" "$ROOTFS/usr/lib/modules.ckdump/$m.ko" ;;
    esac
    MOD_ORDER+=("$m")
}
for m in "${MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${MOD_ORDER[@]}" > "$ROOTFS/usr/lib/modules.ckdump/load-order"
echo "modules: ${MOD_ORDER[*]}" >&2

# The guest's /init.  Everything it prints that the generator needs starts with "CKDUMP-CRIU:".
cat > "$ROOTFS/init" <<'INIT_EOF'
#!/bin/busybox sh
# /init of the ckdump CRIU fixture guest (written by testdata/criu/gen.sh).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin:/usr/bin
say() { echo "CKDUMP-CRIU: $*"; }
fail() { say "FAILED: $*"; sync; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
for m in $(cat /lib/modules.ckdump/load-order); do
    insmod /lib/modules.ckdump/$m.ko || say "insmod $m failed"
done
ifconfig lo 127.0.0.1 up
hostname ckdump-guest

G=/img/guest
mkdir -p $G
say "kernel $(uname -r)"
{ uname -a; criu --version; grep -m1 '^flags' /proc/cpuinfo; grep -m1 '^model name' /proc/cpuinfo; } > $G/system.txt
criu check > $G/criu-check.txt 2>&1; echo "criu check rc=$?" >> $G/criu-check.txt
criu check --feature mem_dirty_track >> $G/criu-check.txt 2>&1
echo "mem_dirty_track rc=$?" >> $G/criu-check.txt
cat $G/criu-check.txt

# The programs run with a small fixed environment, stdin from /dev/null, stdout+stderr into a
# file, in their own session (CRIU refuses a task that shares the console's session).
cd /tmp
setsid env -i PATH=/bin HOME=/root CKDUMP_FIXTURE=mt /opt/ckdump/mt \
    > /tmp/mt.out 2>&1 < /dev/null &
setsid env -i PATH=/bin HOME=/root CKDUMP_FIXTURE=static /opt/ckdump/static \
    > /tmp/static.out 2>&1 < /dev/null &
cd /
for i in $(seq 1 300); do
    grep -q '^ready' /tmp/mt.out && grep -q '^ready' /tmp/static.out && break
    sleep 0.1
done
grep -q '^ready' /tmp/mt.out || fail "mt never got ready: $(cat /tmp/mt.out)"
grep -q '^ready' /tmp/static.out || fail "static never got ready: $(cat /tmp/static.out)"
MP=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' /tmp/mt.out)
SP=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' /tmp/static.out)
say "mt $(cat /tmp/mt.out)"
say "static $(cat /tmp/static.out)"

# What the kernel itself says about the two processes, just before the dumps.
snapshot() { # snapshot NAME PID
    local n=$1 p=$2 t
    cp /tmp/$n.out $G/$n.stdout.txt
    cat /proc/$p/maps > $G/$n.maps.txt
    cat /proc/$p/status > $G/$n.status.txt
    cat /proc/$p/stat > $G/$n.stat.txt
    ls -l /proc/$p/fd > $G/$n.fd.txt 2>&1
    for t in $(ls /proc/$p/task); do
        echo "$t $(cat /proc/$p/task/$t/comm) $(cut -d' ' -f3 /proc/$p/task/$t/stat) $(cat /proc/$p/task/$t/wchan)"
    done > $G/$n.tasks.txt
}
snapshot mt $MP
snapshot static $SP
cat $G/mt.tasks.txt

mkdir -p /img/mt /img/static /img/static-incr
T0=$(date +%s)
criu dump -t $MP -D /img/mt -v4 -o dump.log --leave-running
say "criu dump mt rc=$?"
criu dump -t $SP -D /img/static -v4 -o dump.log --leave-running --track-mem
say "criu dump static rc=$?"
sleep 1
criu dump -t $SP -D /img/static-incr -v4 -o dump.log --prev-images-dir ../static --track-mem
say "criu dump static-incr rc=$?"
say "dumps took $(( $(date +%s) - T0 )) s"
date -u +%Y-%m-%dT%H:%M:%SZ > $G/dump-time.txt
# mt was left running: it must still be alive and unchanged.
kill -0 $MP && say "mt still running after dump" || say "mt is gone after dump"
cat /tmp/mt.log > $G/mt.log.txt
ls -laR /img
for d in mt static static-incr; do tail -n 2 /img/$d/dump.log; done

say "sending /img on ttyS1"
stty -F /dev/ttyS1 raw -echo 115200
tar -C /img -cf - . | gzip -9 > /tmp/img.tar.gz
say "img.tar.gz sha256 $(sha256sum /tmp/img.tar.gz | cut -d' ' -f1)"
base64 /tmp/img.tar.gz > /dev/ttyS1
echo "==END==" > /dev/ttyS1
say "done"
sync
poweroff -f
INIT_EOF
chmod 0755 "$ROOTFS/init"

(cd "$ROOTFS" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$STAGE/initramfs.cpio.gz"
echo "initramfs: $(du -h "$STAGE/initramfs.cpio.gz" | cut -f1)" >&2

# ---------------------------------------------------------------------------------------------
# 3. boot the guest
# ---------------------------------------------------------------------------------------------
log "booting the guest (TCG; about 10 s)"
T0=$(date +%s)
qemu-system-x86_64 -accel tcg -machine pc -cpu max -smp 2 -m 512M \
    -kernel "$VMLINUZ" -initrd "$STAGE/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" \
    -display none -monitor none -nic none -no-reboot \
    -serial "file:$STAGE/console.log" -serial "file:$STAGE/ttyS1.b64" \
    > "$STAGE/qemu.out" 2>&1 &
QEMU_PID=$!
while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ $(( $(date +%s) - T0 )) -gt "$QEMU_TIMEOUT" ]; then
        kill -KILL "$QEMU_PID" 2>/dev/null || true
        tail -n 40 "$STAGE/console.log" >&2 || true
        die "the guest did not finish within $QEMU_TIMEOUT s"
    fi
    sleep 1
done
wait "$QEMU_PID" || true
QEMU_PID=
echo "guest ran $(( $(date +%s) - T0 )) s" >&2
tr -d '\r' < "$STAGE/console.log" > "$STAGE/console.txt"
if grep -q 'CKDUMP-CRIU: FAILED' "$STAGE/console.txt" || ! grep -q 'CKDUMP-CRIU: done' "$STAGE/console.txt"; then
    cat "$STAGE/console.txt" "$STAGE/qemu.out" >&2
    die "the guest did not finish its work (console above)"
fi
for d in mt static static-incr; do
    grep -q "CKDUMP-CRIU: criu dump $d rc=0" "$STAGE/console.txt" || {
        cat "$STAGE/console.txt" >&2; die "criu dump $d failed in the guest"; }
done

# ---------------------------------------------------------------------------------------------
# 4. unpack
# ---------------------------------------------------------------------------------------------
log "unpacking the images"
tr -d '\r' < "$STAGE/ttyS1.b64" | sed '/^==END==$/,$d' | base64 -d > "$STAGE/img.tar.gz"
want=$(sed -n 's/^CKDUMP-CRIU: img.tar.gz sha256 //p' "$STAGE/console.txt")
got=$(sha256sum "$STAGE/img.tar.gz" | cut -d' ' -f1)
[ "$want" = "$got" ] || die "img.tar.gz damaged on the serial line ($got, guest said $want)"
tar -C "$STAGE/out" -xzf "$STAGE/img.tar.gz"
[ "$(readlink "$STAGE/out/static-incr/parent")" = ../static ] || die "static-incr/parent is not -> ../static"

rm -rf "${TD:?}/images" "$TD/bin" "$TD/reference" "$TD/archive"
mkdir -p "$TD/images" "$TD/bin" "$TD/reference/guest" "$TD/archive"
for d in mt static static-incr; do cp -a "$STAGE/out/$d" "$TD/images/$d"; done
cp "$STAGE/out/guest/"* "$TD/reference/guest/"
grep -v '^==' "$STAGE/console.txt" > "$TD/reference/guest/console.txt" || true
find "$TD/images" "$TD/reference" -type f -exec chmod 0644 {} +
find "$TD/images" -type d -exec chmod 0755 {} +
install -m 0755 "$STAGE/build/mt" "$STAGE/build/static" "$TD/bin/"
# bin/static is mostly static glibc; the tests read it through zstd like the other fixtures.
zstd -q -19 --rm -f "$TD/bin/static" -o "$TD/bin/static.zst"

# ---------------------------------------------------------------------------------------------
# 5. crit references
# ---------------------------------------------------------------------------------------------
log "crit references"
for d in mt static static-incr; do
    mkdir -p "$TD/reference/$d"
    for img in "$TD/images/$d"/*.img "$TD/images/$d/stats-dump"; do
        n=$(basename "$img")
        case $n in pages-*.img) continue ;; esac    # raw page data, crit has nothing to show
        crit show "$img" > "$TD/reference/$d/${n%.img}.json" || die "crit show $d/$n failed"
    done
    # (not `x rss`: crit 3.17 walks off the end of its VMA list there, IndexError, on every
    # image made here)
    for what in ps fds mems; do
        crit x "$TD/images/$d" "$what" > "$TD/reference/$d/crit-x-$what.txt" || die "crit x $d $what failed"
    done
done
crit show "$TD/images/mt/pstree.img" > /dev/null || die "crit show images/mt/pstree.img failed"

# ---------------------------------------------------------------------------------------------
# 6. Podman-style checkpoint archive of images/mt
# ---------------------------------------------------------------------------------------------
log "checkpoint archive"
A=$STAGE/archive
mkdir -p "$A/checkpoint"
# checkpoint/ holds CRIU's images; stats-dump goes beside it (Podman takes it from runc's work
# directory) and dump.log stays out (Podman keeps it in the container's directory).
for f in "$TD/images/mt"/*; do
    case $(basename "$f") in dump.log|stats-dump) ;; *) cp "$f" "$A/checkpoint/" ;; esac
done
cp "$TD/images/mt/stats-dump" "$A/stats-dump"
DUMP_TIME=$(cat "$TD/reference/guest/dump-time.txt")
DUMP_EPOCH=$(date -u -d "$DUMP_TIME" +%s)
CREATED=$(date -u -d "@$((DUMP_EPOCH - 754))" +%Y-%m-%dT%H:%M:%S.283917402Z)
CHECKPOINTED=$(date -u -d "@$DUMP_EPOCH" +%Y-%m-%dT%H:%M:%S.604183377Z)
MT_PID=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$TD/reference/guest/mt.stdout.txt")
cat > "$A/config.dump" <<EOF
{
  "id": "$CTR_ID",
  "name": "$CTR_NAME",
  "rootfsImage": "$CTR_IMAGE_ID",
  "rootfsImageRef": "$CTR_IMAGE_ID",
  "rootfsImageName": "$CTR_IMAGE_NAME",
  "runtime": "runc",
  "createdTime": "$CREATED",
  "checkpointedTime": "$CHECKPOINTED",
  "restoredTime": "0001-01-01T00:00:00Z",
  "restored": false
}
EOF
cat > "$A/spec.dump" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": { "uid": 0, "gid": 0 },
    "args": [ "$GUEST_BIN/mt" ],
    "env": [ "PATH=/bin", "HOME=/root", "CKDUMP_FIXTURE=mt", "container=podman" ],
    "cwd": "/tmp"
  },
  "root": {
    "path": "/var/lib/containers/storage/overlay/5b0d7c1e9a8f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c/merged"
  },
  "hostname": "$CTR_NAME",
  "mounts": [
    {
      "destination": "/proc",
      "type": "proc",
      "source": "proc",
      "options": [ "nosuid", "noexec", "nodev" ]
    },
    {
      "destination": "/tmp",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [ "rw", "rprivate", "nosuid", "nodev", "tmpcopyup" ]
    },
    {
      "destination": "/etc/hostname",
      "type": "bind",
      "source": "/run/containers/storage/overlay-containers/$CTR_ID/userdata/hostname",
      "options": [ "bind", "rprivate" ]
    }
  ],
  "annotations": {
    "io.container.manager": "libpod",
    "io.podman.annotations.autoremove": "FALSE",
    "io.podman.annotations.init": "FALSE",
    "io.podman.annotations.privileged": "FALSE",
    "io.podman.annotations.publish-all": "FALSE",
    "org.opencontainers.image.stopSignal": "15"
  },
  "linux": {
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
      { "type": "mount" }, { "type": "cgroup" }
    ]
  }
}
EOF
cat > "$A/network.status" <<'EOF'
{
  "podman": {
    "interfaces": {
      "eth0": {
        "subnets": [
          {
            "ipnet": "10.88.0.17/16",
            "gateway": "10.88.0.1"
          }
        ],
        "mac_address": "6e:3a:91:c4:27:b5"
      }
    }
  }
}
EOF
# Reproducible tar: fixed order, owner and time (the dump time); names without "./" as Podman
# writes them.
TAR_OPTS=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$DUMP_EPOCH" --format=gnu)
find "$A" -type f -exec chmod 0644 {} +; chmod 0755 "$A/checkpoint"
tar -C "$A" "${TAR_OPTS[@]}" -cf "$STAGE/mt-checkpoint.tar" checkpoint config.dump spec.dump network.status stats-dump
zstd -q -19 -f "$STAGE/mt-checkpoint.tar" -o "$TD/archive/mt-checkpoint.tar.zst"
gzip -9 -n -c "$STAGE/mt-checkpoint.tar" > "$TD/archive/mt-checkpoint.tar.gz"
tar -tvf "$STAGE/mt-checkpoint.tar" > "$TD/reference/archive-listing.txt"
# checkpointctl's view of the archive, when it is installed (optional; not in Debian 12: build
# v1.1.0, the last release whose go.mod accepts Debian's Go 1.19, from its git tag with the
# vendored modules: `GOFLAGS=-mod=vendor go build`).  Run on relative names so that the output
# does not depend on $STAGE.
CHECKPOINTCTL=${CHECKPOINTCTL:-$(command -v checkpointctl || true)}
if [ -n "$CHECKPOINTCTL" ]; then
    (cd "$STAGE" && {
        "$CHECKPOINTCTL" show mt-checkpoint.tar
        "$CHECKPOINTCTL" inspect mt-checkpoint.tar --all
        "$CHECKPOINTCTL" memparse mt-checkpoint.tar
    }) > "$TD/reference/archive.checkpointctl.txt" 2>&1 || die "checkpointctl failed on the archive"
else
    echo "gen.sh: note: no checkpointctl, reference/archive.checkpointctl.txt not written" >&2
    rm -f "$TD/reference/archive.checkpointctl.txt"
fi
# The metadata files also lie beside the archives, for tests that want them without untarring.
mkdir -p "$TD/archive/metadata"
cp "$A/config.dump" "$A/spec.dump" "$A/network.status" "$TD/archive/metadata/"

# ---------------------------------------------------------------------------------------------
# 7. expected values and README
# ---------------------------------------------------------------------------------------------
log "expected.json and README"
"$PY" "$TD/extract_expected.py" --td "$TD" --kernel-package "$KPKG $KDEB_VERSION" \
    --criu-version "$(criu --version | sed -n 's/^Version: //p')" \
    --qemu-version "$(qemu-system-x86_64 --version | head -1)" \
    --gcc-version "$(gcc --version | head -1)" \
    --sysroot "$ROOT/testdata/sysroot"

log "done"
du -sh --apparent-size "$TD"/images/* "$TD"/bin "$TD"/reference "$TD"/archive
du -sh --apparent-size "$TD"
