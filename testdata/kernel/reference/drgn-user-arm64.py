# drgn reference output for the user side of the arm64 kdump (testdata/kernel/dumps/arm64-sysrq.kdump,
# `-d 31`: user pages excluded): ckdump's oracle for `inspect --process PID` on aarch64.
# Run:  python3 -m drgn -q -c DUMP -s vmlinux-6.1.0-56-cloud-arm64 reference/drgn-user-arm64.py
# Output committed as reference/arm64-sysrq/drgn-user.txt.
#
# Every task with an mm (pid tgid comm); then for the ckdump-threads thread group: each task's
# user registers (the pt_regs at the top of its kernel stack: stack + THREAD_SIZE -
# sizeof(struct pt_regs), arm64 leaves no padding above them), the first words at its user sp
# read through mm->pgd (access_remote_vm: an excluded page is an error), and for the process
# mm->pgd, each VMA (start end flags pgoff file).
import drgn
from drgn import Object
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import access_remote_vm, for_each_vma
from drgn.helpers.linux.pid import for_each_task


def comm(task):
    return task.comm.string_().decode(errors="replace")


print("drgn", drgn.__version__)
print("UTS_RELEASE:", prog["UTS_RELEASE"].string_().decode())
# THREAD_SIZE (1 << THREAD_SHIFT, 16 KiB on arm64 with 4 KiB pages, no KASAN) is a macro no type
# names; a user task's pstate (mode bits 0 = EL0t) below confirms it.
thread_size = 16384
regs_size = prog.type("struct pt_regs").size
print("THREAD_SIZE: %d" % thread_size)
print("sizeof(struct pt_regs): %d" % regs_size)

print("\n--- user tasks: pid tgid comm mm")
for t in sorted(for_each_task(prog), key=lambda t: int(t.pid)):
    if t.mm:
        print("%d %d %s %#x" % (t.pid, t.tgid, comm(t), t.mm.value_()))

leader = next(t for t in for_each_task(prog)
              if comm(t) == "ckdump-threads" and t.pid == t.tgid)
tgid = int(leader.tgid)
mm = leader.mm
print("\nprocess: tgid %d comm %s mm %#x pgd %#x" % (tgid, comm(leader), mm.value_(),
                                                      mm.pgd.value_()))
print("map_count: %d" % mm.map_count)

print("\n--- threads: pid comm, then the user registers (pt_regs)")
for task in sorted((t for t in for_each_task(prog) if t.tgid == tgid), key=lambda t: int(t.pid)):
    regs = Object(prog, "struct pt_regs",
                  address=task.stack.value_() + thread_size - regs_size)
    print("thread %d %s stack %#x pt_regs %#x" % (task.pid, comm(task), task.stack.value_(),
                                                 regs.address_))
    print("  pc=%#x sp=%#x pstate=%#x x29=%#x x30=%#x" % (
        regs.pc.value_(), regs.sp.value_(), regs.pstate.value_(), regs.regs[29].value_(),
        regs.regs[30].value_()))
    print("  " + " ".join("x%d=%#x" % (i, regs.regs[i].value_()) for i in range(29)))
    sp = regs.sp.value_()
    try:
        words = access_remote_vm(mm, sp, 64)
        print("  stack@sp: " + " ".join(
            "%#x" % int.from_bytes(words[i:i + 8], "little") for i in range(0, 64, 8)))
    except Exception as e:
        print("  stack@sp: error: %s" % e)

print("\n--- vmas: start end flags pgoff file")
for vma in for_each_vma(mm):
    f = vma.vm_file
    path = d_path(f.f_path).decode(errors="replace") if f else "-"
    print("%#x %#x %#x %#x %s" % (vma.vm_start.value_(), vma.vm_end.value_(),
                                  vma.vm_flags.value_(), vma.vm_pgoff.value_(), path))

print("\n--- special mappings: start end name (vm_ops == &special_mapping_vmops)")
special = prog["special_mapping_vmops"].address_of_()
for vma in for_each_vma(mm):
    if vma.vm_ops == special:
        name = drgn.cast("struct vm_special_mapping *", vma.vm_private_data).name
        print("%#x %#x %s" % (vma.vm_start.value_(), vma.vm_end.value_(),
                              name.string_().decode()))

# The vDSO is kernel memory (in the dump at any level): its GNU build-id note.
for vma in for_each_vma(mm):
    if vma.vm_ops == special and drgn.cast(
            "struct vm_special_mapping *", vma.vm_private_data).name.string_() == b"[vdso]":
        image = access_remote_vm(mm, vma.vm_start.value_(),
                                 vma.vm_end.value_() - vma.vm_start.value_())
        at = image.find(b"GNU\0")
        namesz, descsz, kind = (int.from_bytes(image[at - 12 + i:at - 8 + i], "little")
                                for i in (0, 4, 8))
        assert (namesz, kind) == (4, 3), (namesz, kind)
        print("vdso build-id: %s" % image[at + 4:at + 4 + descsz].hex())
