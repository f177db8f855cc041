#!/usr/bin/env bash
# Makes the i386 kdump-compressed fixture: Debian 12's i386 kernel (6.1 686-pae, PAE paging)
# under qemu-system-i386 (TCG, 2 vCPUs, no kdump) panics through sysrq c from a shell pinned to
# CPU 0 (guest/init-qemu.sh, the same /init as gen-qemu.sh, with i386 busybox); QEMU's monitor
# first prints every vCPU's registers (`info registers -a`, the oracle of the CPU notes), then
# writes the guest's memory with `dump-guest-memory -z`: QEMU 7.2's flattened stream of a
# kdump-compressed file with zlib pages and i386 register notes.  Its header has the 64-bit
# layout although utsname says i686: QEMU picks the ELF class by the highest guest-physical
# address it dumps, and the PC BIOS ROM ends at 4 GiB, so a PC guest always gets ELFCLASS64.
# (makedumpfile writes the i386 layout, but neither the host's nor Debian's i386 build of 1.7.2
# reads QEMU's ELF dumps: "Can't get the number of PT_LOAD".)
#
#   usage (as root, Debian 12 x86_64):  bash testdata/kernel/gen-i386.sh
#
# Writes dumps/qemu-i386.kdump (the file as QEMU wrote it, ~12 MB: the kernel's own pages, the
# rest zero) and reference/qemu-i386/{console.log,registers.txt}.  No crash or drgn reference: neither reads an i386 dump
# on an x86_64 host (Debian's crash is built for x86_64 targets; drgn has no i386 support).
# Needs: qemu-system-x86 (installed when missing), the i386 kernel and busybox-static .debs
# (downloaded; `dpkg --add-architecture i386` is run once so apt can fetch them).
# Time: about 30 s of QEMU.
set -euo pipefail

KT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGE=${STAGE:-/tmp/ckdump-i386-gen}
KVER=6.1.0-56-686-pae KDEBVER=6.1.192-2
NAME=qemu-i386
MEM=${MEM:-64M}

log() { printf '\n=== %s\n' "$*" >&2; }
die() { printf 'gen-i386.sh: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, dpkg-deb, QEMU)"

log "checking tools"
if ! command -v qemu-system-i386 >/dev/null 2>&1 || ! command -v cpio >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-system-x86 cpio
fi
if ! dpkg --print-foreign-architectures | grep -qx i386; then
    dpkg --add-architecture i386
    apt-get update
fi

rm -rf "$STAGE"
mkdir -p "$STAGE"/{debs,kernel,busybox,root/bin,root/lib/modules,root/proc,root/sys,root/dev}

log "kernel $KVER, busybox (i386)"
(cd "$STAGE/debs" && apt-get download "linux-image-$KVER:i386=$KDEBVER" busybox-static:i386 >&2)
dpkg-deb -x "$STAGE"/debs/linux-image-"$KVER"_*.deb "$STAGE/kernel"
dpkg-deb -x "$STAGE"/debs/busybox-static_*.deb "$STAGE/busybox"
VMLINUZ=$STAGE/kernel/boot/vmlinuz-$KVER

log "initramfs"
cp "$STAGE/busybox/bin/busybox" "$STAGE/root/bin/busybox"
cp "$KT/guest/init-qemu.sh" "$STAGE/root/init"
chmod 755 "$STAGE/root/init"
cp "$STAGE/kernel/lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko" "$STAGE/root/lib/modules/"
(cd "$STAGE/root" && find . | sort | cpio -o -H newc --quiet) | gzip -9 > "$STAGE/initramfs.cpio.gz"

log "QEMU i386 (TCG, $MEM, 2 vCPUs)"
# QEMU's human monitor on a unix socket: send each command, keep what it printed, wait for the
# next prompt.
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
        out = prompt().decode(errors="replace").replace("\r", "")
        # The monitor echoes the command (with terminal escapes) on the first line.
        body = out.split("\n", 1)[1] if "\n" in out else ""
        sys.stdout.write(body.removesuffix("(qemu) "))
PY
}
rm -f "$STAGE/console.log" "$STAGE/monitor.sock"
# panic=0: the panicked kernel spins, for the dump.  init_on_free=1: freed pages are zeroed, so
# the free memory compresses to QEMU's one shared zero page.
qemu-system-i386 -accel tcg -m "$MEM" -smp 2 -cpu max \
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
# Stop the vCPUs first so that the registers printed are the ones the dump holds.
hmp stop "info registers -a" "dump-guest-memory -z $STAGE/$NAME.kdump" quit > "$STAGE/registers.txt"
wait $qemu || true
ls -la "$STAGE/$NAME.kdump" >&2

mkdir -p "$KT/dumps" "$KT/reference/$NAME"
cp "$STAGE/$NAME.kdump" "$KT/dumps/$NAME.kdump"
chmod 644 "$KT/dumps/$NAME.kdump"
tr -d '\r' < "$STAGE/console.log" > "$KT/reference/$NAME/console.log"
cp "$STAGE/registers.txt" "$KT/reference/$NAME/registers.txt"
log "done: dumps/$NAME.kdump, reference/$NAME/"
