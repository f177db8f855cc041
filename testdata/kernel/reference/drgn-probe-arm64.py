# drgn reference output for testdata/kernel/dumps/arm64-sysrq.kdump (ckdump's oracle).
# Run:  drgn -q -c dumps/arm64-sysrq.kdump -s vmlinux-6.1.0-56-cloud-arm64 \
#           reference/drgn-probe-arm64.py
# Written by testdata/kernel/gen-arm64.sh into reference/arm64-sysrq/drgn.txt.
import drgn
from drgn.helpers.linux.cpumask import for_each_online_cpu, for_each_possible_cpu
from drgn.helpers.linux.module import for_each_module
from drgn.helpers.linux.panic import panic_message, panic_task
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records
from drgn.helpers.linux.sched import cpu_curr, idle_task, task_cpu, task_state_to_char


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
print("init_task: %#x" % prog["init_task"].address_of_().value_())
print("__per_cpu_offset: %s" % " ".join(
    "%#x" % prog["__per_cpu_offset"][cpu].value_() for cpu in for_each_possible_cpu(prog)))
print("kimage_voffset: %#x" % prog["kimage_voffset"].value_())
# Data kallsyms does not name in this kernel (no CONFIG_KALLSYMS_ALL): ckdump finds them.
print("__per_cpu_start: %#x" % prog.symbol("__per_cpu_start").address)
print("__start_BTF: %#x" % prog.symbol("__start_BTF").address)
print("modules: %#x" % prog["modules"].address_of_().value_())
print("irq_stack_ptr: %s" % " ".join(
    "%#x" % per_cpu(prog["irq_stack_ptr"], cpu).value_() for cpu in for_each_possible_cpu(prog)))

crashed = prog.crashed_thread()
print("\n--- crashed thread: tid %d" % crashed.tid)
for i, frame in enumerate(crashed.stack_trace()):
    print("#%-2d %-32s pc %#x sp %#x%s%s" % (
        i, frame.name or "?", frame.pc, frame.sp, " (inline)" if frame.is_inline else "",
        " [interrupted]" if frame.interrupted else ""))
print("\n--- crashed thread: drgn's own stack_trace() text")
print(crashed.stack_trace())

print("\n--- each online CPU: cpu_curr pid comm, its thread_info.preempt_count, pc")
for cpu in for_each_online_cpu(prog):
    task = cpu_curr(prog, cpu)
    count = task.thread_info.preempt_count.value_() & 0xffffffff
    try:
        pc = "%#x" % prog.stack_trace(task)[0].pc
    except Exception as e:
        pc = "error: %s" % e
    print("cpu %d: pid %d comm %s task %#x preempt_count %#010x pc %s" % (
        cpu, task.pid, comm(task), task.value_(), count, pc))

print("\n--- each online CPU's stack: physical frames' pcs, innermost first")
for cpu in for_each_online_cpu(prog):
    try:
        trace = prog.stack_trace(cpu_curr(prog, cpu))
        pcs = " ".join("%#x" % f.pc for f in trace if not f.is_inline)
    except Exception as e:
        pcs = "error: %s" % e
    print("cpu %d: %s" % (cpu, pcs))

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
    except Exception as e:
        names = ["error: %s" % e]
    print("%d %s: %s" % (task.pid, comm(task), " <- ".join(names)))

print("\n--- stacks of ckdump-threads' tasks: physical frames' pcs, innermost first")
for task in sorted(for_each_task(prog), key=lambda t: int(t.pid)):
    if comm(task) != "ckdump-threads" and not comm(task).startswith("ckw-worker-"):
        continue
    try:
        pcs = " ".join("%#x" % f.pc for f in prog.stack_trace(task) if not f.is_inline)
    except Exception as e:
        pcs = "error: %s" % e
    print("%d %s: %s" % (task.pid, comm(task), pcs))

print("\n--- modules: name core_layout.base core_layout.size")
for mod in for_each_module(prog):
    print("%-20s %#x %d" % (mod.name.string_().decode(), mod.core_layout.base.value_(),
                            mod.core_layout.size.value_()))

print("\n--- last 20 printk records")
for rec in list(get_printk_records(prog))[-20:]:
    print("[%5d.%06d] %s" % (rec.timestamp // 10**9, rec.timestamp % 10**9 // 1000,
                             rec.text.decode(errors="replace")))
