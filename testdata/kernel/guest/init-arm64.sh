#!/bin/busybox sh
# /init of both arm64 guest kernels (testdata/kernel/gen-arm64.sh builds the initramfs images).
#
# First kernel (no /proc/vmcore): kexec-load the capture kernel into the crashkernel= region,
# load qemu_fw_cfg.ko, start ckdump-threads (main thread in pause(), three workers asleep), then crash the kernel
# with sysrq-c from a separate shell (so the panicking task is that `sh`, not init).
# Capture kernel (/proc/vmcore exists): save the dump with makedumpfile -c -d 31 in the
# flattened format (-F, it can stream onto a raw disk) onto the NVMe disk, then power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# The arm64 binaries' shared libraries (kexec, makedumpfile) live in the multiarch dirs.
export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

if [ -e /proc/vmcore ]; then
  echo "CKDUMP-CAPTURE: capture kernel $(uname -r) up, /proc/vmcore is $(stat -c %s /proc/vmcore) bytes"
  KDUMP_DISK=$(ls /dev/nvme*n1 | head -1)
  T0=$(date +%s)
  makedumpfile -F -c -d 31 /proc/vmcore > "$KDUMP_DISK"
  echo "CKDUMP-CAPTURE: makedumpfile -F -c -d 31 rc=$? ($(( $(date +%s) - T0 )) s)"
  sync
  echo "CKDUMP-CAPTURE: done"
  poweroff -f
fi

echo "CKDUMP-GUEST: first kernel $(uname -r) $(uname -m), cmdline: $(cat /proc/cmdline)"
grep -i 'crash kernel' /proc/iomem
# kexec-tools 2.0.25 takes the kernel's address-space layout from `_text` in /proc/kallsyms,
# which a kernel without CONFIG_KALLSYMS_ALL (Debian's arm64 ones) does not list (it lies
# below _stext): show it _stext under that name; only its half of the address space matters.
if ! grep -q ' _text$' /proc/kallsyms; then
  { cat /proc/kallsyms; sed -n 's/ _stext$/ _text/p' /proc/kallsyms; } > /tmp/kallsyms
  mount --bind /tmp/kallsyms /proc/kallsyms
fi
kexec -p /boot/vmlinuz --initrd=/boot/capture.cpio.gz \
  --append="console=ttyAMA0 nr_cpus=1 reset_devices panic=-1 loglevel=4"
echo "CKDUMP-GUEST: kexec -p rc=$? kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded)"
if [ "$(cat /sys/kernel/kexec_crash_loaded)" != 1 ]; then
  echo "CKDUMP-GUEST: no capture kernel loaded, powering off"
  poweroff -f
fi
# The capture kernel is now in the reserved region: free the tmpfs copies (smaller dump).
rm -f /boot/vmlinuz /boot/capture.cpio.gz

# One loaded module for the dump's module list (Debian's own, signed; no dependencies).
insmod /lib/modules/qemu_fw_cfg.ko && echo "CKDUMP-GUEST: qemu_fw_cfg loaded"
echo "ckdump marker: scenario sysrq, crash follows" > /dev/kmsg
setsid /bin/ckdump-threads none < /dev/null > /dev/console 2>&1 &
# ckdump-threads prints "all 3 workers asleep" once its workers reached sleep().
sleep 2
echo 1 > /proc/sys/kernel/sysrq
setsid sh -c 'echo c > /proc/sysrq-trigger'
echo "CKDUMP-GUEST: still alive?!"
sleep 100000
