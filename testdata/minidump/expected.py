#!/usr/bin/env python3
"""Write testdata/minidump/expected.json from crash.dmp / live.dmp and the reference outputs.
   usage: expected.py MINIDUMP_DIR PATH/TO/windows/fixtures.py"""
import importlib.util
import json
import os
import re
import sys

here, fixpath = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('fixtures', fixpath)
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)
ref = os.path.join(here, 'reference')


def read(name):
    p = os.path.join(ref, name)
    return open(p, encoding='utf-8', errors='replace').read() if os.path.exists(p) else ''


def thread_names(writer_txt):
    """tid -> name, from the program's own "tid=N name=X" lines (echoed by the writer)."""
    return {int(t): n for t, n in re.findall(r'child: tid=(\d+) name=(\S+)', writer_txt)}


# gdb: "#0  0x... in read_value (r=0x10) at /usr/src/ckdump-testdata/threads.c:76"
#      "#1  crash_here (r=..., depth=0) at /usr/src/ckdump-testdata/threads.c:83"
GDB = re.compile(r'^#(\d+)\s+(?:0x([0-9a-f]+) in )?(\S+) \(.*?\)(?: at (\S+):(\d+)| from (\S+))?')


def gdb_crash_frames(text):
    frames, on = [], False
    for line in text.splitlines():
        if line.startswith('#0'):
            if on:
                break
            on = True
        if on:
            m = GDB.match(line)
            if not m:
                if line.startswith('#'):
                    continue
                break
            idx, pc, func, file, ln, lib = m.groups()
            frames.append({'index': int(idx), 'function': func, 'file': file,
                           'line': int(ln) if ln else None, 'library': lib})
    return frames


out = {'generator': 'testdata/minidump/gen.sh', 'program': 'testdata/src/threads.c', 'dumps': {}}
for name, writer in (('crash.dmp', 'crash.writer.txt'), ('live.dmp', 'live.writer.txt')):
    path = os.path.join(here, name)
    if not os.path.exists(path):
        continue
    s = fx.md_summary(path)
    w = read(writer)
    names = thread_names(w)
    for t in s.get('threads', []):
        t.setdefault('name', names.get(t['id']))
    m = re.search(r'crash: signo=(\d+) code=(-?\d+) addr=(0x[0-9a-f]+) rip=(0x[0-9a-f]+) rsp=(0x[0-9a-f]+)', w)
    if m:
        s['ptrace'] = {'signo': int(m.group(1)), 'si_code': int(m.group(2)), 'si_addr': m.group(3),
                       'rip': m.group(4), 'rsp': m.group(5)}
    sw = fx.stackwalk_frames(path, os.path.join(here, '..', '..', 'symbols'))
    if sw is not None:
        s['stackwalk'] = sw
    out['dumps'][name] = s
out['gdb_crash_backtrace'] = gdb_crash_frames(read('crash.gdb.txt'))
bp = read('breakpad-modules.txt')
out['breakpad_symbols'] = [
    {'name': n, 'debug_id': i, 'path': f'symbols/{n}/{i}/{n}.sym'} for n, i in
    (l.split() for l in bp.splitlines() if l.strip())]
json.dump(out, sys.stdout, indent=1)
print()
