#!/bin/busybox sh
# /init of both guest kernels (testdata/kernel/gen.sh builds the initramfs images).
#
# ckdump_scenario=live (gen.sh live): no crash; run ckdump on this running kernel through
# /proc/kcore and send its reports, with what /proc says, over the second serial port.
# First kernel (no /proc/vmcore): kexec-load the capture kernel into the crashkernel= region,
# load ckdump_panic.ko, start ckdump-threads with the scenario named on the kernel command line
# (ckdump_scenario=process|softirq|hardirq|oops); that program makes the kernel panic.
# (ckdump_scenario=process-user: the process scenario, with ckdump_dump_level=N passed on to the
# capture kernel.)
# Capture kernel (/proc/vmcore exists): save the dump with makedumpfile -c -d 31 (or the
# ckdump_dump_level=N of its command line) in the flattened format (-F, it can stream onto a raw disk) onto the NVMe disk with serial ckdump0,
# then power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

if [ -e /proc/vmcore ]; then
  echo "CKDUMP-CAPTURE: capture kernel $(uname -r) up, /proc/vmcore is $(stat -c %s /proc/vmcore) bytes"
  # Disks by their serial: ckdump0 gets the committed -c -d 31 dump, the optional ckdump1
  # (gen.sh WITH_ELF=1) an ELF one (-E), which makedumpfile cannot make from a KDUMP file later.
  for d in /sys/block/nvme*; do
    case "$(cat $d/device/serial)" in
      ckdump0*) KDUMP_DISK=/dev/${d##*/} ;;
      ckdump1*) ELF_DISK=/dev/${d##*/} ;;
    esac
  done
  # The dump level: 31 (zero, cache, private cache, user and free pages excluded) unless the
  # first kernel passed another (ckdump_dump_level=N: scenarios that keep user pages).
  LEVEL=31
  for arg in $(cat /proc/cmdline); do
    case "$arg" in ckdump_dump_level=*) LEVEL=${arg#ckdump_dump_level=} ;; esac
  done
  T0=$(date +%s)
  makedumpfile -F -c -d $LEVEL /proc/vmcore > "$KDUMP_DISK"
  echo "CKDUMP-CAPTURE: makedumpfile -F -c -d $LEVEL rc=$? ($(( $(date +%s) - T0 )) s)"
  if [ -n "$ELF_DISK" ]; then
    T0=$(date +%s)
    makedumpfile -F -E -d 31 /proc/vmcore > "$ELF_DISK"
    echo "CKDUMP-CAPTURE: makedumpfile -F -E -d 31 rc=$? ($(( $(date +%s) - T0 )) s)"
  fi
  sync
  echo "CKDUMP-CAPTURE: done"
  poweroff -f
fi

SCENARIO=none
LEVEL=31
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    ckdump_scenario=*) SCENARIO=${arg#ckdump_scenario=} ;;
    ckdump_dump_level=*) LEVEL=${arg#ckdump_dump_level=} ;;
  esac
done
echo "CKDUMP-GUEST: first kernel $(uname -r), scenario $SCENARIO, cmdline: $(cat /proc/cmdline)"
if [ "$SCENARIO" = live ]; then
  insmod /lib/modules/ckdump_panic.ko
  setsid /bin/ckdump-threads none < /dev/null > /tmp/threads.out 2>&1 &
  sleep 2
  cat /tmp/threads.out
  O=/tmp/live
  mkdir -p $O
  uname -r > $O/uname.txt
  # What /proc says, just before ckdump reads the kernel: every thread's stat line (read by
  # the shell itself: a cat or a subshell would be a task of its own), the modules.
  for t in /proc/[0-9]*/task/[0-9]*; do read -r line < $t/stat && echo "$line"; done > $O/tasks.txt
  cat /proc/modules > $O/modules.txt
  echo "ckdump live: reading the running kernel" > /dev/kmsg
  T0=$(date +%s)
  ckdump inspect --kernel -f json --all-tasks -q > $O/report.json 2> $O/report.err
  echo "json rc=$? ($(( $(date +%s) - T0 )) s)" > $O/rc.txt
  dmesg -s 4194304 > $O/dmesg.txt
  W=$(sed -n 's/.*worker 0 tid \([0-9]*\).*/\1/p' /tmp/threads.out)
  ckdump inspect --kernel --task "$W" --log 8 -q > $O/report.txt 2>&1
  echo "text rc=$?" >> $O/rc.txt
  kernel_symbols --kernel > $O/ckdump-kallsyms.txt 2>> $O/report.err
  echo "kernel_symbols rc=$?" >> $O/rc.txt
  cat /proc/kallsyms > $O/kallsyms.txt
  cat $O/rc.txt $O/report.err
  echo "CKDUMP-LIVE: begin base64 tar on ttyS1"
  tar -C /tmp -cf - live | gzip -9 | base64 > /dev/ttyS1
  echo "==END==" > /dev/ttyS1
  echo "CKDUMP-LIVE: done"
  sync
  poweroff -f
fi
grep -i 'crash kernel' /proc/iomem
kexec -p /boot/vmlinuz --initrd=/boot/capture.cpio.gz \
  --append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 loglevel=4 ckdump_dump_level=$LEVEL"
echo "CKDUMP-GUEST: kexec -p rc=$? kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded)"
if [ "$(cat /sys/kernel/kexec_crash_loaded)" != 1 ]; then
  # e.g. physical KASLR left no room for crashkernel=: gen.sh sees no dump and boots again
  echo "CKDUMP-GUEST: no capture kernel loaded, powering off"
  poweroff -f
fi
# The capture kernel is now in the reserved region: free the tmpfs copies (smaller dump).
rm -f /boot/vmlinuz /boot/capture.cpio.gz

insmod /lib/modules/ckdump_panic.ko
[ "$SCENARIO" = oops ] && echo 1 > /proc/sys/kernel/panic_on_oops
echo "CKDUMP-GUEST: panic_on_oops=$(cat /proc/sys/kernel/panic_on_oops)"
echo "ckdump marker: scenario $SCENARIO, crash follows" > /dev/kmsg
# process-user is the process scenario captured at another dump level.
setsid /bin/ckdump-threads "${SCENARIO%-user}" < /dev/null &
sleep 100000
