#!/usr/bin/env python3
"""Helpers of testdata/windows/gen.sh and testdata/minidump/gen.sh (Python 3 standard library only).

  fixtures.py pe-ident EXE          -> "NAME.exe PDBNAME GUIDAGE TIMESTAMPSIZE" (symbol-store keys)
  fixtures.py add-cv IN.dmp OUT.dmp -> copy of a minidump with each module's CodeView (RSDS) record
                                       filled from the PE on disk (wine leaves CvRecord empty)
  fixtures.py summary DUMP          -> JSON facts of a minidump (exception, threads, modules)
  fixtures.py expected DIR SYMS     -> testdata/windows/expected.json (dumps + winedbg backtraces)

Layouts follow the published minidump (MINIDUMP_HEADER, MINIDUMP_DIRECTORY, MINIDUMP_THREAD,
MINIDUMP_MODULE, MINIDUMP_EXCEPTION_STREAM) and PE/COFF (IMAGE_DEBUG_DIRECTORY, RSDS) formats."""
import json
import os
import re
import struct
import sys
import uuid

# ------------------------------------------------------------------------------------- PE ----
def pe_info(path):
    d = open(path, 'rb').read()
    pe, = struct.unpack_from('<I', d, 0x3c)
    if d[pe:pe + 4] != b'PE\0\0':
        raise SystemExit(f'{path}: not a PE file')
    machine, nsec, timestamp = struct.unpack_from('<HHI', d, pe + 4)
    optsz, = struct.unpack_from('<H', d, pe + 20)
    opt = pe + 24
    magic, = struct.unpack_from('<H', d, opt)
    size_of_image, = struct.unpack_from('<I', d, opt + 56)
    ddir = opt + (112 if magic == 0x20b else 96)
    dbg_rva, dbg_size = struct.unpack_from('<II', d, ddir + 6 * 8)
    secs = opt + optsz

    def rva2off(rva):
        for i in range(nsec):
            vsize, va, rawsz, rawptr = struct.unpack_from('<IIII', d, secs + 40 * i + 8)
            if va <= rva < va + max(vsize, rawsz):
                return rva - va + rawptr
        return None

    cv = None
    off = rva2off(dbg_rva) if dbg_rva else None
    if off is not None:
        for i in range(dbg_size // 28):
            _, _, _, _, typ, size, _, ptr = struct.unpack_from('<IIHHIIII', d, off + 28 * i)
            if typ == 2:  # IMAGE_DEBUG_TYPE_CODEVIEW
                cv = d[ptr:ptr + size]
    return {'machine': machine, 'timestamp': timestamp, 'size_of_image': size_of_image, 'cv': cv}


def rsds(cv):
    """(GUID in symbol-store form, age, pdb file name) of an RSDS record."""
    if not cv or cv[:4] != b'RSDS':
        return None
    g = uuid.UUID(bytes_le=bytes(cv[4:20]))
    age, = struct.unpack_from('<I', cv, 20)
    name = bytes(cv[24:]).split(b'\0')[0].decode('utf-8', 'replace')
    return g.hex.upper(), age, name


def cmd_pe_ident(exe):
    info = pe_info(exe)
    guid, age, pdb = rsds(info['cv'])
    print(os.path.basename(exe), os.path.basename(pdb.replace('\\', '/')), f'{guid}{age:X}',
          f"{info['timestamp']:08X}{info['size_of_image']:x}")

# ------------------------------------------------------------------------------- minidump ----
STREAM_NAMES = {3: 'ThreadList', 4: 'ModuleList', 5: 'MemoryList', 6: 'Exception', 7: 'SystemInfo',
                9: 'Memory64List', 12: 'HandleData', 15: 'MiscInfo', 16: 'MemoryInfoList',
                17: 'ThreadInfoList', 24: 'ThreadNames', 0x47670001: 'LinuxCpuInfo',
                0x47670002: 'LinuxProcStatus', 0x47670003: 'LinuxLsbRelease',
                0x47670004: 'LinuxCmdLine', 0x47670005: 'LinuxEnviron', 0x47670006: 'LinuxAuxv',
                0x47670007: 'LinuxMaps', 0x47670008: 'LinuxDsoDebug', 0x4767000A: 'MozLinuxLimits',
                0x4D7A0001: 'MozMacosCrashInfo', 0x47670009: 'LinuxProcStat'}


def md_string(d, rva):
    n, = struct.unpack_from('<I', d, rva)
    return d[rva + 4:rva + 4 + n].decode('utf-16-le')


def md_summary(path):
    d = open(path, 'rb').read()
    sig, ver, n, dirrva, _, _, flags = struct.unpack_from('<IIIIIIQ', d, 0)
    assert sig == 0x504d444d, 'not a minidump'
    streams = {}
    order = []
    for i in range(n):
        t, sz, rva = struct.unpack_from('<III', d, dirrva + 12 * i)
        streams[t] = (rva, sz)
        order.append(STREAM_NAMES.get(t, f'0x{t:x}'))
    out = {'file': os.path.basename(path), 'size': len(d), 'flags': f'0x{flags:x}', 'streams': order}
    if 7 in streams:
        rva, _ = streams[7]
        arch, = struct.unpack_from('<H', d, rva)
        platform, = struct.unpack_from('<I', d, rva + 20)
        out['cpu_arch'] = arch
        out['platform_id'] = f'0x{platform:x}'
    if 6 in streams:
        rva, _ = streams[6]
        tid, _, code, eflags, rec, addr, nparams, _ = struct.unpack_from('<IIIIQQII', d, rva)
        params = struct.unpack_from(f'<{min(nparams, 15)}Q', d, rva + 8 + 32)
        out['exception'] = {'thread_id': tid, 'code': f'0x{code:08x}', 'flags': f'0x{eflags:x}',
                            'address': f'0x{addr:x}', 'parameters': [f'0x{p:x}' for p in params]}
    if 3 in streams:
        rva, _ = streams[3]
        cnt, = struct.unpack_from('<I', d, rva)
        threads = []
        for j in range(cnt):
            tid, = struct.unpack_from('<I', d, rva + 4 + 48 * j)
            stack_start, stack_size, _ = struct.unpack_from('<QII', d, rva + 4 + 48 * j + 24)
            threads.append({'id': tid, 'stack_start': f'0x{stack_start:x}', 'stack_size': stack_size})
        out['threads'] = threads
    if 24 in streams:
        rva, _ = streams[24]
        cnt, = struct.unpack_from('<I', d, rva)
        names = {}
        for j in range(cnt):
            tid, name_rva = struct.unpack_from('<IQ', d, rva + 4 + 12 * j)
            names[tid] = md_string(d, name_rva)
        for t in out.get('threads', []):
            if t['id'] in names:
                t['name'] = names[t['id']]
    if 4 in streams:
        rva, _ = streams[4]
        cnt, = struct.unpack_from('<I', d, rva)
        mods = []
        for j in range(cnt):
            m = rva + 4 + 108 * j
            base, size, _, ts, name_rva = struct.unpack_from('<QIIII', d, m)
            cvsize, cvrva = struct.unpack_from('<II', d, m + 76)
            mod = {'name': md_string(d, name_rva), 'base': f'0x{base:x}', 'size': f'0x{size:x}',
                   'timestamp': f'0x{ts:08x}', 'code_id': f'{ts:08X}{size:x}'}
            cv = d[cvrva:cvrva + cvsize] if cvsize else b''
            if cv[:4] == b'RSDS':
                guid, age, pdb = rsds(cv)
                mod['debug_id'] = f'{guid}{age:X}'
                mod['pdb'] = pdb
            elif cv[:4] == b'LEpB':  # Breakpad's ELF record (0x4270454c): signature + build id
                build_id = cv[4:]
                g = bytes(build_id[:16]).ljust(16, b'\0')
                mod['code_id'] = build_id.hex()
                mod['debug_id'] = uuid.UUID(bytes_le=g).hex.upper() + '0'
            else:
                mod['cv_record'] = None
            mods.append(mod)
        out['modules'] = mods
    return out


def cmd_add_cv(src, dst):
    d = bytearray(open(src, 'rb').read())
    sig, _, n, dirrva = struct.unpack_from('<IIII', d, 0)
    assert sig == 0x504d444d, 'not a minidump'
    for i in range(n):
        t, _, rva = struct.unpack_from('<III', d, dirrva + 12 * i)
        if t != 4:
            continue
        cnt, = struct.unpack_from('<I', d, rva)
        for j in range(cnt):
            m = rva + 4 + 108 * j
            name_rva, = struct.unpack_from('<I', d, m + 20)
            name = md_string(d, name_rva)
            # wine maps the Unix root to drive Z:
            local = '/' + name[3:].replace('\\', '/') if name.upper().startswith('Z:\\') else None
            cv = pe_info(local)['cv'] if local and os.path.exists(local) else None
            if not cv:
                continue
            while len(d) % 4:
                d.append(0)
            struct.pack_into('<II', d, m + 76, len(cv), len(d))
            d += cv
            print(f'  {os.path.basename(dst)}: {name}: RSDS record added ({len(cv)} bytes)')
    open(dst, 'wb').write(bytes(d))

# --------------------------------------------------------------------- minidump-stackwalk ----
def stackwalk_tool():
    import shutil
    t = shutil.which('minidump-stackwalk')
    home = os.path.join(os.environ.get('CARGO_HOME', os.path.expanduser('~/.cargo')), 'bin', 'minidump-stackwalk')
    return t or (home if os.path.exists(home) else None)


def stackwalk_frames(dump, syms):
    """Crashing-thread frames as minidump-stackwalk (rust-minidump) prints them with the Breakpad
    symbols in SYMS; inline frames come first, innermost first, marked inline=True. None when the
    tool is not installed."""
    import subprocess
    tool = stackwalk_tool()
    if not tool:
        return None
    r = subprocess.run([tool, '--json', '--symbols-path', syms, dump], capture_output=True, check=False)
    if r.returncode != 0:
        return None
    j = json.loads(r.stdout)
    out = []
    for f in (j.get('crashing_thread') or {}).get('frames', []):
        for inl in f.get('inlines') or []:
            out.append({'function': inl.get('function'), 'file': inl.get('file'), 'line': inl.get('line'),
                        'module': f.get('module'), 'inline': True})
        out.append({'function': f.get('function'), 'file': f.get('file'), 'line': f.get('line'),
                    'module': f.get('module'), 'module_offset': f.get('module_offset'),
                    'trust': f.get('trust'), 'inline': False})
    return {'thread_id': (j.get('crashing_thread') or {}).get('thread_id'),
            'crash_reason': (j.get('crash_info') or {}).get('type'),
            'crash_address': (j.get('crash_info') or {}).get('address'), 'frames': out}


# ------------------------------------------------------------------------ winedbg backtrace ----
BT = re.compile(r'^(?:=>| +)(\d+) 0x([0-9a-f]+) (?:(\S+?)(?:\+0x([0-9a-f]+))?(?:\(.*?\))?)?'
                r'(?: \[(.*?):(\d+)\])? in (\S+)')


def winedbg_frames(text):
    """Frames of the first 'Backtrace:' block of a winedbg crash report."""
    frames, on = [], False
    for line in text.splitlines():
        if line.endswith('Backtrace:'):
            on = True
            continue
        if on:
            m = BT.match(line)
            if not m:
                break
            idx, pc, func, off, file, ln, mod = m.groups()
            frames.append({'index': int(idx), 'pc': f'0x{int(pc, 16):x}', 'function': func,
                           'offset': f'0x{int(off, 16):x}' if off else None,
                           'file': file.replace('\\', '/') if file else None,
                           'line': int(ln) if ln else None, 'module': mod})
    return frames


def winedbg_exception(text):
    for line in text.splitlines():
        if line.startswith('Unhandled exception:'):
            return line.strip()
    return None


def cmd_expected(here, syms):
    progs = {}
    dumps = sorted(os.listdir(os.path.join(here, 'dumps')))
    for p in ('wcrash', 'wthreads', 'winline'):
        entry = {'source': f'src/{p}.c', 'dumps': {}}
        for arch, exe in (('x86_64', f'{p}.exe'), ('x86', f'{p}32.exe')):
            sdirs = os.listdir(os.path.join(syms, exe)) if os.path.isdir(os.path.join(syms, exe)) else []
            if len(sdirs) != 1:
                continue
            info = pe_info(os.path.join(syms, exe, sdirs[0], exe))
            guid, age, pdb = rsds(info['cv'])
            entry[arch] = {'exe': f'symbols/{exe}/{sdirs[0]}/{exe}',
                           'pdb': f'symbols/{pdb}/{guid}{age:X}/{pdb}',
                           'code_id': sdirs[0], 'debug_id': f'{guid}{age:X}', 'pdb_name': pdb,
                           'timestamp': f"0x{info['timestamp']:08x}",
                           'size_of_image': f"0x{info['size_of_image']:x}"}
        txt = os.path.join(here, 'reference', f'{p}.winedbg.txt')
        if os.path.exists(txt):
            t = open(txt, encoding='utf-8', errors='replace').read()
            entry['winedbg'] = {'exception': winedbg_exception(t), 'backtrace': winedbg_frames(t)}
        for dmp in dumps:
            if dmp.startswith(p + '_'):
                summ = md_summary(os.path.join(here, 'dumps', dmp))
                # winedbg reading the dump back: the crashing thread's stack as the dump holds it
                load = os.path.join(here, 'reference', dmp.replace('_cv.dmp', '.dmp')[:-4] + '.winedbg_load.txt')
                if os.path.exists(load):
                    t = open(load, encoding='utf-8', errors='replace').read()
                    summ['winedbg_backtrace'] = winedbg_frames(t)
                sw = stackwalk_frames(os.path.join(here, 'dumps', dmp), syms)
                if sw is not None:
                    summ['stackwalk'] = sw
                entry['dumps'][dmp] = summ
        progs[p] = entry
    json.dump({'generator': 'testdata/windows/gen.sh', 'programs': progs}, sys.stdout, indent=1)
    print()


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'pe-ident':
        cmd_pe_ident(args[0])
    elif cmd == 'add-cv':
        cmd_add_cv(args[0], args[1])
    elif cmd == 'summary':
        json.dump(md_summary(args[0]), sys.stdout, indent=1)
        print()
    elif cmd == 'expected':
        cmd_expected(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
