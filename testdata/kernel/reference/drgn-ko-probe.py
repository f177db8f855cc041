# drgn reference output for the module frames of testdata/kernel/dumps/<scenario>.kdump named from
# the module's .ko debug file (ckdump's oracle in tests/kernel_modules.rs).
# Run from testdata/kernel (VMLINUX = the kernel's -dbg package vmlinux; -6.12 names for 6.12):
#   python3 -m drgn -q -c dumps/S.kdump -s VMLINUX -s dumps/ckdump_panic.ko \
#       reference/drgn-ko-probe.py > reference/S/drgn-ko.txt
# It prints the module as drgn found it (build-id read from the dump, section addresses from
# mod->sect_attrs), the crashed thread's frames in the module, and prog.source_location() of
# every byte of the module's code sections that stay loaded (.text, .exit.text; drgn does not
# look .init.text up, freed after init) in runs of equal answers: function, file:line:column per
# inline level, innermost first ("-" where drgn finds none).
import struct
import sys

import drgn

MODULE = "ckdump_panic"


def sections_of(path):
    """(name, size) of each section of the ELF64 little-endian file at path."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    out = []
    for h in headers:
        end = data.index(b"\0", strtab + h[0])
        out.append((data[strtab + h[0]:end].decode(), h[5]))
    return out


def location(loc):
    return "%s %s:%d:%d" % (loc.name() or "?", loc.filename or "?", loc.line, loc.column)


def lookup(address):
    try:
        return " | ".join(location(loc) for loc in prog.source_location(address))
    except LookupError:
        return "-"


module = next(m for m in prog.modules() if m.name == MODULE)
print("drgn", drgn.__version__)
print("module", module.name)
print("build-id", module.build_id.hex() if module.build_id else None)
print("debug file", module.debug_file_path.rsplit("/", 1)[-1] if module.debug_file_path else None)
ranges = module.address_ranges
for start, end in ranges:
    print("address range %#x-%#x" % (start, end))
addresses = module.section_addresses
for name, address in sorted(addresses.items(), key=lambda kv: (kv[1], kv[0])):
    print("section %-28s %#x" % (name, address))

print("\n--- crashed thread, frames in the module: index pc function file:line:column (inline)")
for i, frame in enumerate(prog.crashed_thread().stack_trace()):
    if not any(start <= frame.pc < end for start, end in ranges):
        continue
    try:
        filename, line, column = frame.source()
        where = "%s:%d:%d" % (filename, line, column)
    except LookupError:
        where = "?"
    print("#%-2d %#x %s %s%s" % (i, frame.pc, frame.name or "?", where,
                                 " (inline)" if frame.is_inline else ""))

print("\n--- source_location of every address of the code sections: start end answer")
sizes = dict(sections_of(module.debug_file_path))
for name in (".text", ".exit.text"):
    if name not in addresses or not sizes.get(name):
        continue
    base, size = addresses[name], sizes[name]
    print("section %s %#x size %#x" % (name, base, size))
    run_start, run_answer = base, lookup(base)
    for address in range(base + 1, base + size + 1):
        answer = lookup(address) if address < base + size else None
        if answer != run_answer:
            print("%#x %#x %s" % (run_start, address, run_answer))
            run_start, run_answer = address, answer
sys.stdout.flush()
