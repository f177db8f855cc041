#!/usr/bin/env python3
"""Rewrite the generated table in testdata/kernel/README.md from dumps/ and reference/*/drgn.txt.

usage: readme_table.py TESTDATA_KERNEL_DIR   (called by gen.sh)
"""
import os
import re
import sys

KT = sys.argv[1]
BEGIN, END = "<!-- BEGIN GENERATED TABLE -->", "<!-- END GENERATED TABLE -->"
CONTEXT = {
    "process": "process (task context, syscall write)",
    "softirq": "softirq (TIMER_SOFTIRQ on the IRQ stack)",
    "hardirq": "hard irq (hrtimer interrupt, IRQ stack)",
    "oops": "process (page-fault exception in the write; oops -> crash_kexec)",
}


def field(text, name):
    m = re.search(r"^%s: (.*)$" % re.escape(name), text, re.M)
    return m.group(1) if m else "?"


rows = [
    "| scenario | dump | size (bytes) | panic message | panic CPU | panic pid (comm) | "
    "preempt_count of panic CPU | expected context |",
    "|---|---|---|---|---|---|---|---|",
]
# The 6.1 dumps, then the 6.12 ones (gen.sh KERNEL=6.12: names end in -6.12).
for name in [s + k for k in ("", "-6.12")
             for s in ("process", "softirq", "hardirq", "oops", "process-user")]:
    s = name.split("-")[0]
    dump = os.path.join(KT, "dumps", name + ".kdump")
    drgn_txt = os.path.join(KT, "reference", name, "drgn.txt")
    if not (os.path.exists(dump) and os.path.exists(drgn_txt)):
        continue
    text = open(drgn_txt).read()
    msg = field(text, "panic message")
    msg = re.sub(r"^b'(.*)'$", r"\1", msg)
    cpu = field(text, "panic_cpu")
    m = re.search(r"^panic task: pid (\d+) comm (\S+)", text, re.M)
    who = "%s (%s)" % (m.group(1), m.group(2)) if m else "?"
    m = re.search(r"^cpu %s: (0x[0-9a-f]+)" % re.escape(cpu), text, re.M)
    pc = m.group(1) if m else "?"
    rows.append("| %s | `dumps/%s.kdump` | %d | `%s` | %s | %s | %s | %s |" % (
        name, name, os.path.getsize(dump), msg, cpu, who, pc, CONTEXT[s]))

readme = os.path.join(KT, "README.md")
body = open(readme).read()
start, stop = body.index(BEGIN) + len(BEGIN), body.index(END)
open(readme, "w").write(body[:start] + "\n" + "\n".join(rows) + "\n" + body[stop:])
