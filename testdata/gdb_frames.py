# gdb_frames.py - run inside gdb (`gdb -batch ... -x testdata/gdb_frames.py BIN CORE`).
#
# Prints one JSON document describing every thread of the loaded core and every frame of its
# backtrace exactly as gdb sees it: the function name as `bt` prints it (without the argument
# list), source file and line, whether gdb considers the frame an inlined frame
# (gdb.INLINE_FRAME), the frame type and the module the pc belongs to.  Used by gen.sh to write
# testdata/reference/<core>.gdb-frames.txt, which extract_expected.py turns into expected.json.
import json
import os

import gdb

gdb.execute("set backtrace past-main on", to_string=True)
gdb.execute("set backtrace limit 200", to_string=True)

FRAME_TYPES = {
    gdb.NORMAL_FRAME: "normal",
    gdb.INLINE_FRAME: "inline",
    gdb.SIGTRAMP_FRAME: "sigtramp",
    gdb.DUMMY_FRAME: "dummy",
    gdb.TAILCALL_FRAME: "tailcall",
    gdb.ARCH_FRAME: "arch",
    gdb.SENTINEL_FRAME: "sentinel",
}


def module_of(pc):
    """Base name of the module containing pc: shared library, main executable or [vdso]."""
    progspace = gdb.current_progspace()
    lib = progspace.solib_name(pc)
    if lib:
        return os.path.basename(lib)
    symtab = gdb.find_pc_line(pc).symtab
    if symtab is not None:
        objfile = symtab.objfile.owner or symtab.objfile
        return os.path.basename(objfile.username or objfile.filename)
    info = gdb.execute("info symbol 0x%x" % pc, to_string=True)
    if "system-supplied DSO" in info:
        return "[vdso]"
    if " of " in info:
        return os.path.basename(info.rsplit(" of ", 1)[1].strip())
    if info.startswith("No symbol"):
        return None
    return os.path.basename(progspace.filename)


threads = []
for th in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
    th.switch()
    frames = []
    frame = gdb.newest_frame()
    while frame is not None:
        sal = frame.find_sal()
        ftype = frame.type()
        name = frame.name()
        symbol = frame.function()
        linkage_name = symbol.linkage_name if symbol is not None else None
        if ftype == gdb.SIGTRAMP_FRAME and name is None:
            name = "<signal handler called>"
        frames.append(
            {
                "level": frame.level(),
                "pc": "0x%x" % frame.pc(),
                "function": name,
                "linkage_name": linkage_name,
                "file": sal.symtab.filename if sal.symtab else None,
                "line": sal.line if sal.line else None,
                "inlined": ftype == gdb.INLINE_FRAME,
                "type": FRAME_TYPES.get(ftype, str(ftype)),
                "module": module_of(frame.pc()),
            }
        )
        try:
            frame = frame.older()
        except gdb.error as err:  # unwinder gave up
            frames.append({"error": str(err)})
            break
    threads.append({"num": th.num, "tid": th.ptid[1], "name": th.name, "frames": frames})

print("GDB-FRAMES-JSON-BEGIN")
print(json.dumps({"threads": threads}, indent=1))
print("GDB-FRAMES-JSON-END")
