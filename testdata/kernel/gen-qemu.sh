#!/usr/bin/env bash
# Makes the QEMU dump-guest-memory fixture: a Debian 12 6.1 cloud kernel under QEMU (TCG, 2 vCPUs,
# no kdump) panics through sysrq c from a shell pinned to CPU 0 (guest/init-qemu.sh); QEMU's
# monitor then writes the guest's memory with `dump-guest-memory` (an ELF of physical memory, with
# QEMU's per-CPU notes, an NT_PRSTATUS per vCPU whose pid field is the vCPU id, and the VMCOREINFO
# the guest handed over through qemu_fw_cfg + -device vmcoreinfo).
#
#   usage (as root, Debian 12 x86_64):  bash testdata/kernel/gen-qemu.sh
#
# Writes dumps/qemu-sysrq.elf.zst: QEMU's ELF of a 128 MiB guest, zstd-compressed (the smallest
# guest this kernel boots well in, so the smallest file to commit).  crash and drgn write
# reference/qemu-sysrq/{crash,drgn}.txt from it, and the guest console is kept as
# reference/qemu-sysrq/console.log.
# Needs: qemu-system-x86 busybox-static makedumpfile crash zstd (installed when missing), drgn
# (pip), the kernel packages (downloaded), the debug vmlinux (VMLINUX=path, else from the -dbg
# package, 283 MB).  Time: about 30 s of QEMU and a minute of crash and drgn.
set -euo pipefail

KT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=${STAGE:-/tmp/ckdump-qemu-gen}
KVER=6.1.0-56-cloud-amd64 KDEBVER=6.1.192-2
NAME=qemu-sysrq
MEM=${MEM:-128M}

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen-qemu.sh: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, dpkg-deb, QEMU)"

log "checking tools"
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need qemu-system-x86_64 qemu-system-x86
need makedumpfile makedumpfile
need crash crash
need zstd zstd
need cpio cpio
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx taskset || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
python3 -c 'import drgn' 2>/dev/null || pip3 install --break-system-packages drgn 2>/dev/null \
    || pip3 install drgn

rm -rf "$STAGE"
mkdir -p "$STAGE"/{debs,kernel,root/bin,root/lib/modules,root/proc,root/sys,root/dev}

log "kernel $KVER"
(cd "$STAGE/debs" && apt-get download "linux-image-$KVER=$KDEBVER" >&2)
dpkg-deb -x "$STAGE"/debs/linux-image-"$KVER"_*.deb "$STAGE/kernel"
VMLINUZ=$STAGE/kernel/boot/vmlinuz-$KVER
if [ -z "${VMLINUX:-}" ]; then
    VMLINUX=$STAGE/dbg/usr/lib/debug/boot/vmlinux-$KVER
    mkdir -p "$STAGE/dbg"
    (cd "$STAGE/debs" && apt-get download "linux-image-$KVER-dbg=$KDEBVER" >&2)
    dpkg-deb --fsys-tarfile "$STAGE"/debs/linux-image-"$KVER"-dbg_*.deb |
        tar -x --occurrence=1 -C "$STAGE/dbg" "./usr/lib/debug/boot/vmlinux-$KVER" || true
fi
[ -f "$VMLINUX" ] || die "no debug vmlinux at $VMLINUX"

log "initramfs"
cp /bin/busybox "$STAGE/root/bin/busybox"
cp "$KT/guest/init-qemu.sh" "$STAGE/root/init"
chmod 755 "$STAGE/root/init"
cp "$STAGE/kernel/lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko" "$STAGE/root/lib/modules/"
(cd "$STAGE/root" && find . | sort | cpio -o -H newc --quiet) | gzip -9 > "$STAGE/initramfs.cpio.gz"

log "QEMU (TCG, $MEM, 2 vCPUs)"
# QEMU's human monitor on a unix socket: send one command, wait for the next prompt.
hmp() {
    python3 - "$STAGE/monitor.sock" "$@" <<'PY'
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
sock.settimeout(600)
def prompt():
    seen = b""
    while not seen.endswith(b"(qemu) "):
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("the monitor closed")
        seen += chunk
    return seen
prompt()
for command in sys.argv[2:]:
    sock.sendall(command.encode() + b"\n")
    if command == "quit":  # no prompt: the monitor closes when QEMU is gone
        while sock.recv(65536):
            pass
    else:
        prompt()
PY
}
rm -f "$STAGE/console.log" "$STAGE/monitor.sock"
# la57=off: 4-level paging as on most machines.  panic=0: the panicked kernel spins, for the dump.
# init_on_free=1: the kernel zeroes every page it frees, from boot on, so the free memory (which
# still holds the compressed kernel image the loader put there) compresses to nothing.
qemu-system-x86_64 -accel tcg -m "$MEM" -smp 2 -cpu max,la57=off \
    -kernel "$VMLINUZ" -initrd "$STAGE/initramfs.cpio.gz" \
    -append "console=ttyS0 loglevel=7 panic=0 init_on_free=1" -device vmcoreinfo \
    -display none -serial file:"$STAGE/console.log" \
    -monitor unix:"$STAGE/monitor.sock",server,nowait -no-reboot &
qemu=$!
for _ in $(seq 1 600); do
    grep -q 'end Kernel panic' "$STAGE/console.log" 2>/dev/null && break
    kill -0 $qemu 2>/dev/null || die "QEMU ended before the panic (see $STAGE/console.log)"
    sleep 0.5
done
grep -q 'end Kernel panic' "$STAGE/console.log" || { kill $qemu; die "no panic in 300 s"; }
sleep 1
hmp "dump-guest-memory $STAGE/qemu.elf" quit
wait $qemu || true
ls -la "$STAGE/qemu.elf" >&2

log "compressing: zstd -19 --long"
mkdir -p "$KT/dumps" "$KT/reference/$NAME"
# The ELF as QEMU wrote it (Debian 12's makedumpfile cannot cut it down: "Can't get the number of
# PT_LOAD"), compressed; --long finds the repeats a page apart.  ckdump reads it inside zstd.
zstd -19 --long=27 -T0 -q -f "$STAGE/qemu.elf" -o "$KT/dumps/$NAME.elf.zst"
chmod 644 "$KT/dumps/$NAME.elf.zst"
ls -la "$KT/dumps/$NAME.elf.zst" >&2
tr -d '\r' < "$STAGE/console.log" > "$KT/reference/$NAME/console.log"

log "crash"
printf '%s\n' 'set scroll off' 'sys' 'bt' 'bt -a' 'ps' 'log | tail -40' 'quit' |
    env -i PATH=/usr/bin:/bin HOME="$STAGE" crash -s "$VMLINUX" "$STAGE/qemu.elf" \
    > "$STAGE/crash.txt" 2>&1 || true
sed -e "s#$VMLINUX#vmlinux-$KVER#g" -e "s#$STAGE/##g" "$STAGE/crash.txt" \
    > "$KT/reference/$NAME/crash.txt"

log "drgn"
(cd "$STAGE" && env -i PATH="$PATH" HOME="$STAGE" \
    python3 -m drgn -q -c qemu.elf -s "$VMLINUX" "$KT/reference/drgn-probe.py") \
    > "$KT/reference/$NAME/drgn.txt" 2>&1 ||
    { cat "$KT/reference/$NAME/drgn.txt" >&2; die "drgn failed"; }
log "done: dumps/$NAME.elf.zst, reference/$NAME/"
