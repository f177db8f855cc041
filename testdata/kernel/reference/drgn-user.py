# drgn reference output for the user side of ckdump-threads in a dump that keeps user pages
# (testdata/kernel/dumps/process-user.kdump): ckdump's oracle for `inspect --process PID`.
# Run:  drgn -q -c DUMP -s vmlinux-6.1.0-56-cloud-amd64 reference/drgn-user.py
# Written by testdata/kernel/gen.sh into reference/<scenario>/drgn-user.txt.
#
# For each task of the ckdump-threads thread group: its user registers (the pt_regs at the top
# of its kernel stack: stack + THREAD_SIZE - sizeof(struct pt_regs), x86_64 has
# no padding above them), and the first words of its user stack read through mm->pgd
# (access_remote_vm). For the process: mm->pgd, each VMA (start end flags pgoff file), and the
# first bytes of the executable's first mapping.
import drgn
from drgn import Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import access_remote_vm, for_each_vma
from drgn.helpers.linux.pid import for_each_task

REGS = ["ip", "sp", "bp", "bx", "ax", "cx", "dx", "si", "di", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15", "flags", "cs", "ss", "orig_ax"]


def comm(task):
    return task.comm.string_().decode(errors="replace")


print("drgn", drgn.__version__)
print("UTS_RELEASE:", prog["UTS_RELEASE"].string_().decode())
# THREAD_SIZE is a macro (PAGE_SIZE << THREAD_SIZE_ORDER: 16 KiB on x86_64 without KASAN) that no
# type names in this kernel's DWARF; a user task's cs (0x33) and ss (0x2b) below confirm it.
thread_size = prog["PAGE_SIZE"].value_() << 2 if "PAGE_SIZE" in prog else 16384
regs_size = prog.type("struct pt_regs").size
print("THREAD_SIZE: %d" % thread_size)
print("sizeof(struct pt_regs): %d" % regs_size)

leader = next(t for t in for_each_task(prog)
              if comm(t) == "ckdump-threads" and t.pid == t.tgid)
tgid = int(leader.tgid)
mm = leader.mm
print("process: tgid %d comm %s mm %#x pgd %#x" % (tgid, comm(leader), mm.value_(),
                                                    mm.pgd.value_()))
print("map_count: %d" % mm.map_count)

print("\n--- threads: pid comm, then the user registers (pt_regs)")
for task in sorted((t for t in for_each_task(prog) if t.tgid == tgid), key=lambda t: int(t.pid)):
    regs = Object(prog, "struct pt_regs",
                  address=task.stack.value_() + thread_size - regs_size)
    print("thread %d %s stack %#x pt_regs %#x" % (task.pid, comm(task), task.stack.value_(),
                                                 regs.address_))
    print("  " + " ".join("%s=%#x" % (r, getattr(regs, r).value_()) for r in REGS))
    sp = regs.sp.value_()
    try:
        words = access_remote_vm(mm, sp, 64)
        print("  stack@sp: " + " ".join(
            "%#x" % int.from_bytes(words[i:i + 8], "little") for i in range(0, 64, 8)))
    except Exception as e:
        print("  stack@sp: error: %s" % e)

print("\n--- vmas: start end flags pgoff file")
first_file = None
for vma in for_each_vma(mm):
    f = vma.vm_file
    path = d_path(f.f_path).decode(errors="replace") if f else "-"
    if f and first_file is None:
        first_file = vma
    print("%#x %#x %#x %#x %s" % (vma.vm_start.value_(), vma.vm_end.value_(),
                                  vma.vm_flags.value_(), vma.vm_pgoff.value_(), path))

if first_file is not None:
    try:
        head = access_remote_vm(mm, first_file.vm_start.value_(), 16)
        print("\nfirst file mapping %#x starts with: %s" % (first_file.vm_start.value_(),
                                                           head.hex()))
    except Exception as e:
        print("\nfirst file mapping %#x: error: %s" % (first_file.vm_start.value_(), e))
