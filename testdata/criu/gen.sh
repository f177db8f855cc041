#!/usr/bin/env bash
# testdata/criu/gen.sh - regenerate the CRIU checkpoint fixtures in testdata/criu.
#
#   usage (as root, from any directory):   bash testdata/criu/gen.sh
#                                           FIXTURES=tree bash testdata/criu/gen.sh
#
# FIXTURES (default "mt static static-incr tree") says which fixtures to (re)make; the others
# and everything made from them (bin/, reference/, archive/, their part of expected.json) stay
# byte-for-byte as they are.  mt, static and static-incr are made together or not at all: they
# share reference/guest/ and one dump time, static-incr's parent is static, the archive is mt.
#
# CRIU 3.17 cannot dump on the host's kernel ("Unexpected rt vDSO area bounds" on 6.18), so the
# dumps are made inside a throw-away QEMU guest (TCG, -smp 2, 512 MB) that boots Debian's cloud
# kernel with a busybox initramfs.  In order:
#   0. installs what is missing with apt-get: qemu-system-x86 busybox-static criu python3 gcc
#      cpio zstd binutils; downloads (apt-get download, cached in $CACHE) the guest kernel
#      package $KPKG and unpacks it with dpkg-deb -x
#   1. builds src/mt.c and src/tree.c (gcc -g -O1 -fno-omit-frame-pointer -pthread, dynamic
#      PIE) and src/static.c (the same flags plus -static); sources are recorded as
#      /usr/src/ckdump-testdata/criu/*.c (-ffile-prefix-map)
#   2. builds the initramfs: busybox, criu and every shared library ldd names for criu and the
#      dynamic programs (at their real /usr/lib paths, with /lib and /lib64 -> usr/... as on
#      the host), the programs at /opt/ckdump/{mt,static,tree}, the kernel modules CRIU wants
#      (diag, netfilter, tun/veth; dependencies resolved from each module's .modinfo) plus
#      qemu_fw_cfg, and /init
#   3. boots it.  /init starts the selected programs, records /proc facts about them, and runs
#        criu dump -t MT     -D /img/mt          --leave-running
#        criu dump -t STATIC -D /img/static      --leave-running --track-mem
#        criu dump -t STATIC -D /img/static-incr --prev-images-dir ../static --track-mem
#        criu dump -t TREE   -D /img/tree        --leave-running
#      (static-incr is incremental: unchanged pages stay in the parent, `parent` -> ../static;
#      TREE is the root of a process tree: CRIU dumps it with all its descendants);
#      then it sends /img as base64 of a tar.gz over the second serial port and powers off
#   4. unpacks the images into images/{mt,static,static-incr,tree} (each with CRIU's dump.log),
#      copies the programs to bin/, the guest's notes to reference/guest/ (mt, static) and
#      reference/tree/guest/ (tree)
#   5. reference/: `crit show` of every image, `crit x DIR ps|fds|mems` (the Debian criu
#      package's crit decodes images on any kernel; fds and mems of the tree on a copy without
#      its zombie, see live_tasks.py)
#   6. (with mt) archive/mt-checkpoint.tar.zst and .tar.gz: images/mt as a Podman-style checkpoint
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
ALL_FIXTURES="mt static static-incr tree"
FIXTURES=${FIXTURES:-$ALL_FIXTURES}
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

# want NAME: is fixture NAME selected?
want() { case " $FIXTURES " in *" $1 "*) return 0 ;; esac; return 1; }
for f in $FIXTURES; do
    case " $ALL_FIXTURES " in *" $f "*) ;; *) die "FIXTURES: unknown fixture $f (known: $ALL_FIXTURES)" ;; esac
done
[ -n "${FIXTURES// /}" ] || die "FIXTURES is empty (known: $ALL_FIXTURES)"
SINGLE=0    # mt, static and static-incr: one group (see the head of this file)
n=0; for f in mt static static-incr; do want $f && n=$((n + 1)); done
case $n in
0) ;;
3) SINGLE=1 ;;
*) die "FIXTURES: mt, static and static-incr are made together (they share reference/guest/ and one dump time)" ;;
esac
TREE=0; want tree && TREE=1
# The selection in ALL_FIXTURES' order, without duplicates.
SELECTED=$(for f in $ALL_FIXTURES; do want $f && printf '%s ' $f; done)
SELECTED=${SELECTED% }
echo "gen.sh: fixtures: $SELECTED" >&2

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
log "building the programs"
CFLAGS=(-Wall -Wextra -g -O1 -fno-omit-frame-pointer -ffile-prefix-map="$SRC"="$SRC_PREFIX")
has_symbols() { # has_symbols PROGRAM NAME...: every NAME is a function of PROGRAM
    local prog=$1 f
    shift
    for f in "$@"; do
        nm "$STAGE/build/$prog" | grep -q " t $f\$\| T $f\$" || die "$prog has no symbol $f"
    done
}
PROGRAMS=()      # what goes to /opt/ckdump in the guest
DYNAMIC=()       # whose libraries go into the initramfs
if [ "$SINGLE" = 1 ]; then
    (cd "$SRC" && gcc "${CFLAGS[@]}" -pthread -o "$STAGE/build/mt" mt.c)
    (cd "$SRC" && gcc "${CFLAGS[@]}" -static -o "$STAGE/build/static" static.c)
    readelf -lW "$STAGE/build/mt" | grep -q 'Requesting program interpreter' || die "mt is not dynamic"
    readelf -lW "$STAGE/build/static" | grep -q INTERP && die "static has a PT_INTERP"
    has_symbols mt worker_leaf worker_mid worker main
    PROGRAMS+=("$STAGE/build/mt" "$STAGE/build/static")
    DYNAMIC+=("$STAGE/build/mt")
fi
if [ "$TREE" = 1 ]; then
    (cd "$SRC" && gcc "${CFLAGS[@]}" -pthread -o "$STAGE/build/tree" tree.c)
    readelf -lW "$STAGE/build/tree" | grep -q 'Requesting program interpreter' || die "tree is not dynamic"
    has_symbols tree parent_wait parent_worker_leaf parent_worker_mid parent_worker child_main \
        child_wait child_worker_leaf child_worker_mid child_worker grandchild_main grandchild_wait main
    PROGRAMS+=("$STAGE/build/tree")
    DYNAMIC+=("$STAGE/build/tree")
fi

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
install -m 0755 "${PROGRAMS[@]}" "$ROOTFS$GUEST_BIN/"
echo "$SELECTED" > "$ROOTFS/etc/ckdump-fixtures"

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
for exe in "$(command -v criu)" "${DYNAMIC[@]}"; do
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
# /etc/ckdump-fixtures holds the selection (gen.sh's FIXTURES).
FIXTURES=$(cat /etc/ckdump-fixtures)
want() { case " $FIXTURES " in *" $1 "*) return 0 ;; esac; return 1; }
say "fixtures: $FIXTURES"
PROGS=
want mt && PROGS="mt static"
want tree && PROGS="$PROGS tree"
cd /tmp
for n in $PROGS; do
    setsid env -i PATH=/bin HOME=/root CKDUMP_FIXTURE=$n /opt/ckdump/$n \
        > /tmp/$n.out 2>&1 < /dev/null &
done
cd /
for i in $(seq 1 300); do
    all=1
    for n in $PROGS; do grep -q '^ready' /tmp/$n.out || all=0; done
    [ $all = 1 ] && break
    sleep 0.1
done
for n in $PROGS; do
    grep -q '^ready' /tmp/$n.out || fail "$n never got ready: $(cat /tmp/$n.out)"
done
# ready_field PROGRAM KEY: the value of KEY=... in the program's ready line
ready_field() {
    local kv
    for kv in $(grep -m1 '^ready' /tmp/$1.out); do
        case $kv in "$2"=*) echo "${kv#*=}" ;; esac
    done
}
for n in $PROGS; do say "$n $(cat /tmp/$n.out)"; done

# What the kernel itself says about the processes, just before the dumps.
snapshot() { # snapshot NAME PID [DIR [STDOUT]]
    local n=$1 p=$2 d=${3:-$G} o=${4-/tmp/$1.out} t
    [ -n "$o" ] && cp $o $d/$n.stdout.txt
    cat /proc/$p/maps > $d/$n.maps.txt
    cat /proc/$p/status > $d/$n.status.txt
    cat /proc/$p/stat > $d/$n.stat.txt
    ls -l /proc/$p/fd > $d/$n.fd.txt 2>&1
    for t in $(ls /proc/$p/task); do
        echo "$t $(cat /proc/$p/task/$t/comm) $(cut -d' ' -f3 /proc/$p/task/$t/stat) $(cat /proc/$p/task/$t/wchan)"
    done > $d/$n.tasks.txt
}
if want mt; then
    MP=$(ready_field mt pid)
    SP=$(ready_field static pid)
    snapshot mt $MP
    snapshot static $SP
    cat $G/mt.tasks.txt
fi
if want tree; then
    # The root and its descendants, each under its role (the zombie has no maps, and its fd
    # directory cannot be listed).
    TP=$(ready_field tree pid)
    TREE_PIDS="$TP $(ready_field tree child) $(ready_field tree grandchild) $(ready_field tree zombie)"
    mkdir -p $G/tree
    cp /tmp/tree.out $G/tree/tree.stdout.txt
    set -- $TREE_PIDS
    for role in parent child grandchild zombie; do
        snapshot $role $1 $G/tree ""
        shift
    done
    cat $G/tree/*.tasks.txt
fi

T0=$(date +%s)
if want mt; then
    mkdir -p /img/mt /img/static /img/static-incr
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
fi
if want tree; then
    mkdir -p /img/tree
    criu dump -t $TP -D /img/tree -v4 -o dump.log --leave-running
    say "criu dump tree rc=$?"
    date -u +%Y-%m-%dT%H:%M:%SZ > $G/tree/dump-time.txt
    for p in $TREE_PIDS; do
        echo "after dump: $p $(cut -d' ' -f2,3 /proc/$p/stat 2>&1)"
    done | tee $G/tree/after-dump.txt
fi
ls -laR /img
for d in $FIXTURES; do tail -n 2 /img/$d/dump.log; done

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
for d in $SELECTED; do
    grep -q "CKDUMP-CRIU: criu dump $d rc=0" "$STAGE/console.txt" || {
        cat "$STAGE/console.txt" >&2; die "criu dump $d failed in the guest"; }
done

# ---------------------------------------------------------------------------------------------
# 4. unpack
# ---------------------------------------------------------------------------------------------
log "unpacking the images"
tr -d '\r' < "$STAGE/ttyS1.b64" | sed '/^==END==$/,$d' | base64 -d > "$STAGE/img.tar.gz"
sum_guest=$(sed -n 's/^CKDUMP-CRIU: img.tar.gz sha256 //p' "$STAGE/console.txt")
got=$(sha256sum "$STAGE/img.tar.gz" | cut -d' ' -f1)
[ "$sum_guest" = "$got" ] || die "img.tar.gz damaged on the serial line ($got, guest said $sum_guest)"
tar -C "$STAGE/out" -xzf "$STAGE/img.tar.gz"
if [ "$SINGLE" = 1 ]; then
    [ "$(readlink "$STAGE/out/static-incr/parent")" = ../static ] || die "static-incr/parent is not -> ../static"
fi

# Only what the selected fixtures are made of is replaced.
if [ "$SELECTED" = "$ALL_FIXTURES" ]; then
    rm -rf "${TD:?}/images" "$TD/bin" "$TD/reference" "$TD/archive"
fi
if [ "$SINGLE" = 1 ]; then
    rm -rf "${TD:?}"/images/{mt,static,static-incr} "$TD"/bin/{mt,static.zst} "$TD/archive" \
        "$TD"/reference/{guest,mt,static,static-incr,archive-listing.txt,archive.checkpointctl.txt}
fi
if [ "$TREE" = 1 ]; then
    rm -rf "${TD:?}/images/tree" "$TD/bin/tree" "$TD/reference/tree"
fi
mkdir -p "$TD/images" "$TD/bin" "$TD/reference"
for d in $SELECTED; do cp -a "$STAGE/out/$d" "$TD/images/$d"; done
if [ "$SINGLE" = 1 ]; then
    mkdir -p "$TD/reference/guest" "$TD/archive"
    find "$STAGE/out/guest" -maxdepth 1 -type f -exec cp {} "$TD/reference/guest/" \;
    grep -v '^==' "$STAGE/console.txt" > "$TD/reference/guest/console.txt" || true
    install -m 0755 "$STAGE/build/mt" "$STAGE/build/static" "$TD/bin/"
    # bin/static is mostly static glibc; the tests read it through zstd like the other fixtures.
    zstd -q -19 --rm -f "$TD/bin/static" -o "$TD/bin/static.zst"
fi
if [ "$TREE" = 1 ]; then
    # reference/tree/guest/ has the tree's /proc facts and its own copy of the run's notes, so
    # that the tree can be remade alone.
    mkdir -p "$TD/reference/tree/guest"
    cp "$STAGE/out/guest/tree/"* "$TD/reference/tree/guest/"
    cp "$STAGE/out/guest/system.txt" "$STAGE/out/guest/criu-check.txt" "$TD/reference/tree/guest/"
    grep -v '^==' "$STAGE/console.txt" > "$TD/reference/tree/guest/console.txt" || true
    install -m 0755 "$STAGE/build/tree" "$TD/bin/"
fi
for d in $SELECTED; do
    find "$TD/images/$d" -type f -exec chmod 0644 {} +
    find "$TD/images/$d" -type d -exec chmod 0755 {} +
done
find "$TD/reference" -type f -exec chmod 0644 {} +

# ---------------------------------------------------------------------------------------------
# 5. crit references
# ---------------------------------------------------------------------------------------------
log "crit references"
for d in $SELECTED; do
    mkdir -p "$TD/reference/$d"
    for img in "$TD/images/$d"/*.img "$TD/images/$d/stats-dump"; do
        n=$(basename "$img")
        case $n in pages-*.img) continue ;; esac    # raw page data, crit has nothing to show
        crit show "$img" > "$TD/reference/$d/${n%.img}.json" || die "crit show $d/$n failed"
    done
    # (not `x rss`: crit 3.17 walks off the end of its VMA list there, IndexError, on every
    # image made here)
    crit x "$TD/images/$d" ps > "$TD/reference/$d/crit-x-ps.txt" || die "crit x $d ps failed"
    # crit 3.17's `x fds` and `x mems` open ids-PID.img and mm-PID.img of every task of
    # pstree.img and stop with FileNotFoundError at a zombie, which has neither.  For a
    # directory with dead tasks (the tree) they run on a scratch copy whose pstree.img lists
    # only the live tasks; everything else is crit's own output on the real images.
    xdir=$TD/images/$d
    if [ "$("$PY" "$TD/live_tasks.py" "$xdir" "$STAGE/xdir-$d")" = pruned ]; then
        xdir=$STAGE/xdir-$d
    fi
    for what in fds mems; do
        crit x "$xdir" "$what" > "$TD/reference/$d/crit-x-$what.txt" || die "crit x $d $what failed"
    done
done

# ---------------------------------------------------------------------------------------------
# 6. Podman-style checkpoint archive of images/mt (with mt; the body is not indented because
#    of its here-documents)
# ---------------------------------------------------------------------------------------------
if [ "$SINGLE" = 1 ]; then
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
fi

# ---------------------------------------------------------------------------------------------
# 7. expected values and README
# ---------------------------------------------------------------------------------------------
log "expected.json and README"
"$PY" "$TD/extract_expected.py" --td "$TD" --kernel-package "$KPKG $KDEB_VERSION" \
    --criu-version "$(criu --version | sed -n 's/^Version: //p')" \
    --qemu-version "$(qemu-system-x86_64 --version | head -1)" \
    --gcc-version "$(gcc --version | head -1)" \
    --sysroot "$ROOT/testdata/sysroot" --fixtures "$SELECTED"

log "done"
du -sh --apparent-size "$TD"/images/* "$TD"/bin "$TD"/reference "$TD"/archive
du -sh --apparent-size "$TD"
