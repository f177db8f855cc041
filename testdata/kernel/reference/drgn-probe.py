# drgn reference output for testdata/kernel/dumps/<scenario>.kdump (ckdump's oracle).
# Run:  drgn -q -c DUMP -s vmlinux-6.1.0-56-cloud-amd64 -s ckdump_panic.ko reference/drgn-probe.py
# Written by testdata/kernel/gen.sh into reference/<scenario>/drgn.txt (6.12: <scenario>-6.12/).
import drgn
from drgn.helpers.linux.cpumask import for_each_possible_cpu
from drgn.helpers.linux.module import for_each_module
from drgn.helpers.linux.panic import panic_message, panic_task
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records
from drgn.helpers.linux.sched import idle_task, task_cpu, task_state_to_char


def comm(task):
    return task.comm.string_().decode(errors="replace")


def task_line(task):
    return "%6d %6d %6d %-16s %s %6d %3d %#x" % (
        task.pid, task.real_parent.pid, task.tgid, comm(task), task_state_to_char(task),
        task.on_cpu, task_cpu(task), task.value_())


print("drgn", drgn.__version__)
print("UTS_RELEASE:", prog["UTS_RELEASE"].string_().decode())
print("panic_cpu:", prog["panic_cpu"].counter.value_())
print("panic message:", panic_message(prog).decode(errors="replace"))
pt = panic_task(prog)
print("panic task: pid %d comm %s task %#x" % (pt.pid, comm(pt), pt.value_()))

crashed = prog.crashed_thread()
print("\n--- crashed thread: tid %d" % crashed.tid)
for i, frame in enumerate(crashed.stack_trace()):
    print("#%-2d %-32s pc %#x sp %#x%s%s" % (
        i, frame.name or "?", frame.pc, frame.sp, " (inline)" if frame.is_inline else "",
        " [interrupted]" if frame.interrupted else ""))
print("\n--- crashed thread: drgn's own stack_trace() text")
print(crashed.stack_trace())

print("\n--- tasks (for_each_task): pid ppid tgid comm state on_cpu cpu task")
for task in sorted(for_each_task(prog), key=lambda t: int(t.pid)):
    print(task_line(task))
print("--- idle tasks (one per possible CPU)")
for cpu in for_each_possible_cpu(prog):
    print(task_line(idle_task(prog, cpu)))

print("\n--- stacks of ckdump-threads' tasks (function names, innermost first)")
for task in sorted(for_each_task(prog), key=lambda t: int(t.pid)):
    if comm(task) != "ckdump-threads" and not comm(task).startswith("ckw-worker-"):
        continue
    try:
        names = [f.name or hex(f.pc) for f in prog.stack_trace(task)]
    except Exception as e:  # e.g. a running task without saved registers
        names = ["error: %s" % e]
    print("%d %s: %s" % (task.pid, comm(task), " <- ".join(names)))

# 6.2-6.14 keep preempt_count (and current_task, hardirq_stack_ptr) in struct pcpu_hot.
try:
    preempt_count, preempt_name = prog["__preempt_count"], "__preempt_count"
except KeyError:
    preempt_count, preempt_name = None, "pcpu_hot.preempt_count"
print("\n--- per-CPU %s: raw, then preempt/softirq/hardirq/nmi fields" % preempt_name)
for cpu in for_each_possible_cpu(prog):
    if preempt_count is not None:
        raw = per_cpu(preempt_count, cpu).value_() & 0xffffffff
    else:
        raw = per_cpu(prog["pcpu_hot"], cpu).preempt_count.value_() & 0xffffffff
    # bit 31 is x86's inverted PREEMPT_NEED_RESCHED, not a count
    print("cpu %d: %#010x preempt=%d softirq=%#x hardirq=%d nmi=%d" % (
        cpu, raw, raw & 0xff, (raw >> 8) & 0xff, (raw >> 16) & 0xf, (raw >> 20) & 0xf))

if prog.type("struct module").has_member("core_layout"):
    print("\n--- modules: name core_layout.base core_layout.size")
    for mod in for_each_module(prog):
        print("%-20s %#x %d" % (mod.name.string_().decode(), mod.core_layout.base.value_(),
                                mod.core_layout.size.value_()))
else:
    # 6.4+: one struct module_memory per kind (mem[MOD_TEXT] first).
    print("\n--- modules: name mem[MOD_TEXT].base sum(mem[].size), then each mem[i]: base size")
    for mod in for_each_module(prog):
        mems = [(m.base.value_(), m.size.value_()) for m in mod.mem]
        print("%-20s %#x %d  %s" % (mod.name.string_().decode(), mems[0][0],
                                    sum(size for _, size in mems),
                                    " ".join("%#x/%d" % m for m in mems)))

print("\n--- last 20 printk records")
for rec in list(get_printk_records(prog))[-20:]:
    print("[%5d.%06d] %s" % (rec.timestamp // 10**9, rec.timestamp % 10**9 // 1000,
                             rec.text.decode(errors="replace")))

print("\n--- kallsyms: symbol count, then some addresses (per-CPU ones are offsets)")
# The kallsyms tables have no DWARF: read the u32 at the symbol.
print("kallsyms_num_syms:", prog.read_u32(prog.symbol("kallsyms_num_syms").address))
for name in ("_stext", "_etext", "init_task", "panic", "__per_cpu_offset", "pcpu_hot",
             "current_task", "__preempt_count", "hardirq_stack_ptr", "__start_orc_unwind_ip",
             "__start_BTF"):
    try:
        print("%-24s %#x" % (name, prog.symbol(name).address))
    except LookupError:
        print("%-24s (none)" % name)
