#!/bin/busybox sh
# /init of the guest testdata/kernel/gen-qemu.sh boots: no kdump.  The kernel panics (sysrq c)
# from a shell pinned to CPU 0 whose pid is neither 0 nor 1, then spins with panic=0 while the
# host takes the dump with QEMU's own `dump-guest-memory`.  In that dump each CPU's NT_PRSTATUS
# "pid" is QEMU's vCPU id, not a task: the pid here must differ from every vCPU id so that a
# reader which trusts the note's pid names the wrong CPU.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# qemu_fw_cfg hands the kernel's VMCOREINFO to QEMU (-device vmcoreinfo), which writes it as a note.
insmod /lib/modules/qemu_fw_cfg.ko && echo "CKDUMP-GUEST: qemu_fw_cfg loaded"
echo "CKDUMP-GUEST: kernel $(uname -r), cmdline: $(cat /proc/cmdline)"
echo "ckdump marker: QEMU dump-guest-memory scenario, sysrq crash follows" > /dev/kmsg
sleep 1000 &
echo 1 > /proc/sys/kernel/sysrq
# A few short-lived processes first, so that the crashing shell's pid is well above the vCPU ids.
for i in 1 2 3 4 5 6 7 8; do /bin/true; done
taskset 1 sh -c 'echo "CKDUMP-GUEST: pid $$ on CPU 0 triggers the crash"; echo c > /proc/sysrq-trigger'
echo "CKDUMP-GUEST: still alive?!"
sleep 100000
