# What `ckdump inspect VMCORE --log 20` answers first, asked of drgn: the panic
# message, the crashed thread's stack and the last 20 printk records.
#
#   drgn -c VMCORE -s VMLINUX bench/drgn_panic.py
#   drgn -c VMCORE --no-default-symbols bench/drgn_panic.py   (no debug info)
#
# Without debug info drgn has no types; the closest it gets is kallsyms read
# through VMCOREINFO (drgn.helpers.linux.kallsyms), registered here when the
# vmlinux's DWARF is absent. Each part that fails says why instead of stopping.
import drgn
from drgn.helpers.linux.panic import panic_message
from drgn.helpers.linux.printk import get_printk_records

prog = globals()["prog"]  # drgn runs the script with `prog` bound

try:
    prog.type("struct task_struct")
    debug_info = True
except LookupError:
    debug_info = False
    try:
        from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

        prog.register_symbol_finder("vmlinux_kallsyms", load_vmlinux_kallsyms(prog), enable_index=0)
        print(f"(no debug info: symbols from kallsyms via VMCOREINFO, e.g. {prog.symbol('panic')})")
    except Exception as e:
        print(f"(no debug info; kallsyms not loaded: {e})")


def part(title, f):
    print(f"--- {title}")
    try:
        f()
    except Exception as e:
        print(f"(could not: {type(e).__name__}: {e})")


def message():
    print(panic_message(prog).decode(errors="replace"))


def stack():
    thread = prog.crashed_thread()
    print(f"pid {thread.tid}")
    print(thread.stack_trace())


def log():
    for r in get_printk_records(prog)[-20:]:
        print(f"[{r.timestamp // 1000000000:5d}.{r.timestamp % 1000000000 // 1000:06d}] {r.text.decode(errors='replace')}")


part("panic message", message)
part("crashed thread", stack)
part("last 20 printk records", log)
