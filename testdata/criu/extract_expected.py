#!/usr/bin/python3
"""extract_expected.py - testdata/criu/expected.json and the generated part of README.md.

Run by testdata/criu/gen.sh (Debian's /usr/bin/python3: it needs pycriu from the criu package)
after the images are in place; can be re-run on its own:

    /usr/bin/python3 testdata/criu/extract_expected.py --td testdata/criu

It decodes the images with pycriu (the library behind `crit`), and reads process memory the way
CRIU's own page reader does: the pagemap entries of a task in order; entries without PE_PARENT
take their pages one after another from pages-<pages_id>.img; PE_PARENT entries are looked up
in the `parent` image directory (recursively).  Pages that are in no pagemap were not dumped
(file-backed pages nobody wrote to: they are in the mapped file).

Every value written is checked against what the programs printed in the guest and what the
guest's /proc said before the dump (reference/guest/, reference/tree/guest/), so a run that
produced fixtures with other properties than the README promises fails here.

--fixtures names what gen.sh has just made (its FIXTURES).  The tool versions given on the
command line are recorded for those; the fixtures not made keep the versions expected.json
already has (so do all of them when the script runs on its own, without version options).
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys

import pycriu.images

PAGE = 4096
PE_PARENT = 1 << 0
PE_LAZY = 1 << 1
PE_PRESENT = 1 << 2

# VMA status bits (criu/include/image.h)
VMA_AREA_REGULAR = 1 << 0
VMA_AREA_STACK = 1 << 1
VMA_AREA_VSYSCALL = 1 << 2
VMA_AREA_VDSO = 1 << 3
VMA_AREA_HEAP = 1 << 5
VMA_FILE_PRIVATE = 1 << 6
VMA_FILE_SHARED = 1 << 7
VMA_ANON_SHARED = 1 << 8
VMA_ANON_PRIVATE = 1 << 9
VMA_AREA_VVAR = 1 << 12


def fail(msg):
    print("extract_expected.py: error: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def load(path):
    with open(path, "rb") as f:
        return pycriu.images.load(f)


def load_pretty(path):
    with open(path, "rb") as f:
        return pycriu.images.load(f, pretty=True)


def hexs(v):
    return "0x%x" % v


def build_id_hex(words):
    """CRIU stores the GNU build id as little-endian u32 words."""
    return b"".join(struct.pack("<I", w) for w in words).hex()


def readelf_build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


class Images:
    """One image directory (and, through `parent`, its ancestors)."""

    def __init__(self, d):
        self.dir = d
        self.pstree = load(os.path.join(d, "pstree.img"))["entries"]
        self.files = {e["id"]: e for e in load(os.path.join(d, "files.img"))["entries"]}
        par = os.path.join(d, "parent")
        self.parent = Images(os.path.realpath(par)) if os.path.islink(par) or os.path.isdir(par) else None
        self._pm = {}

    def file_name(self, fid):
        e = self.files.get(fid)
        if e is None:
            return None
        for k in ("reg", "pipe", "unixsk", "tty"):
            if k in e and "name" in e[k]:
                return e[k]["name"]
        return "<%s>" % e["type"]

    def mm(self, pid):
        return load(os.path.join(self.dir, "mm-%d.img" % pid))["entries"][0]

    def pagemap(self, pid):
        """[(vaddr, nr_pages, flags, offset_in_pages_file or None)], pages file path."""
        if pid in self._pm:
            return self._pm[pid]
        ents = load(os.path.join(self.dir, "pagemap-%d.img" % pid))["entries"]
        pages_id = ents[0]["pages_id"]
        out, off = [], 0
        for e in ents[1:]:
            fl = e.get("flags", PE_PRESENT)
            if fl & PE_PARENT:
                out.append((e["vaddr"], e["nr_pages"], fl, None))
            else:
                out.append((e["vaddr"], e["nr_pages"], fl, off))
                off += e["nr_pages"] * PAGE
        pages = os.path.join(self.dir, "pages-%d.img" % pages_id)
        check(os.path.getsize(pages) == off, "%s: pagemap says %d bytes, file has %d"
              % (pages, off, os.path.getsize(pages)))
        self._pm[pid] = (out, pages)
        return self._pm[pid]

    def page_source(self, pid, addr):
        """Where the page holding addr comes from: ("self"|"parent"|..., path, offset) or None."""
        ents, pages = self.pagemap(pid)
        for va, n, fl, off in ents:
            if va <= addr < va + n * PAGE:
                if fl & PE_PARENT:
                    check(self.parent is not None, "PE_PARENT without a parent directory")
                    src = self.parent.page_source(pid, addr)
                    check(src is not None, "PE_PARENT page %x missing in the parent" % addr)
                    return ("parent/" + src[0], src[1], src[2])
                return ("self", pages, off + (addr - va))
        return None

    def read(self, pid, addr, size):
        """Bytes at addr, or None when any page of the range was not dumped."""
        out = b""
        while size > 0:
            src = self.page_source(pid, addr)
            if src is None:
                return None
            n = min(size, PAGE - addr % PAGE)
            with open(src[1], "rb") as f:
                f.seek(src[2])
                out += f.read(n)
            addr += n
            size -= n
        return out

    def u64(self, pid, addr):
        b = self.read(pid, addr, 8)
        return None if b is None else struct.unpack("<Q", b)[0]

    def cstr(self, pid, addr):
        """NUL-terminated string at addr (up to the end of its page)."""
        b = self.read(pid, addr, PAGE - addr % PAGE)
        return None if b is None else b.split(b"\0")[0].decode(errors="replace")


def elf_cstr(path, vaddr):
    """NUL-terminated string at an ELF virtual address, read from the file's PT_LOAD segments."""
    data = open(path, "rb").read()
    check(data[:4] == b"\x7fELF" and data[4] == 2, "%s: not ELF64" % path)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
            off = p_offset + vaddr - p_vaddr
            return data[off:data.index(b"\0", off)].decode()
    return None


def vma_kind(v, imgs):
    st = v["status"]
    if st & (VMA_FILE_PRIVATE | VMA_FILE_SHARED):
        return imgs.file_name(v["shmid"])
    for bit, name in ((VMA_AREA_VDSO, "[vdso]"), (VMA_AREA_VVAR, "[vvar]"), (VMA_AREA_VSYSCALL, "[vsyscall]"),
                      (VMA_AREA_HEAP, "[heap]"), (VMA_AREA_STACK, "[stack]")):
        if st & bit:
            return name
    return ""


def prot_str(p):
    return ("r" if p & 1 else "-") + ("w" if p & 2 else "-") + ("x" if p & 4 else "-")


class Symbols:
    """Function symbols of one ELF file (nm), looked up by ELF virtual address."""

    def __init__(self, path, dynamic=False):
        args = ["nm", "-n", "--defined-only"] + (["-D"] if dynamic else []) + [path]
        out = subprocess.run(args, capture_output=True, text=True).stdout
        best = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTiWw":
                a, n = int(parts[0], 16), parts[2].split("@")[0]
                # of several names for one address keep the plainest: clock_nanosleep rather
                # than __GI___clock_nanosleep or __clock_nanosleep
                rank = (n.startswith("__GI_"), len(n) - len(n.lstrip("_")), len(n), n)
                if a not in best or rank < best[a][0]:
                    best[a] = (rank, n)
        self.syms = sorted((a, v[1]) for a, v in best.items())
        # ELF address of file offset 0 (0 for PIE and shared objects, 0x400000 for a static
        # ET_EXEC): a runtime address is  module base + (ELF address - load_vaddr)
        data = open(path, "rb").read(65536)
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        self.load_vaddr = min(struct.unpack_from("<IIQQ", data, phoff + i * phentsize)[3]
                              for i in range(phnum)
                              if struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 1)

    def lookup(self, vaddr):
        best = None
        for a, n in self.syms:
            if a > vaddr:
                break
            best = (a, n)
        if best is None:
            return None
        return "%s+0x%x" % (best[1], vaddr - best[0])


def all_syms(path):
    """name -> value of every defined symbol (nm)."""
    out = {}
    for line in subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True).stdout.splitlines():
        p = line.split()
        if len(p) == 3:
            out[p[2]] = int(p[0], 16)
    return out


def modules_of(mm, imgs):
    """name -> base (start of the VMA that maps file offset 0)."""
    mods = {}
    for v in mm["vmas"]:
        name = vma_kind(v, imgs)
        if name and name.startswith("/") and v["pgoff"] == 0 and name not in mods:
            mods[name] = v["start"]
    return mods


def symbolize(addr, mm, imgs, symtabs):
    for v in mm["vmas"]:
        if v["start"] <= addr < v["end"]:
            name = vma_kind(v, imgs)
            if not name.startswith("/"):
                return {"addr": hexs(addr), "module": name or "anon"}
            base = modules_of(mm, imgs)[name]
            rel = addr - base
            sym = symtabs[name].lookup(rel + symtabs[name].load_vaddr) if name in symtabs else None
            r = {"addr": hexs(addr), "module": os.path.basename(name), "offset": hexs(rel)}
            if sym:
                r["symbol"] = sym
            return r
    return {"addr": hexs(addr), "module": None}


def in_vma(addr, mm, want_exec=False):
    for v in mm["vmas"]:
        if v["start"] <= addr < v["end"]:
            return not want_exec or bool(v["prot"] & 4)
    return False


def fp_walk(imgs, pid, regs, mm, symtabs, limit=16):
    """Frame-pointer chain from the thread's rbp: [rbp+8] is a return address, [rbp] the next rbp."""
    frames, bp = [], regs["bp"]
    for _ in range(limit):
        if bp == 0 or bp % 8 or not in_vma(bp, mm):
            break
        ret, nxt = imgs.u64(pid, bp + 8), imgs.u64(pid, bp)
        if ret is None or not in_vma(ret, mm, want_exec=True):
            break
        frames.append(symbolize(ret, mm, imgs, symtabs))
        if nxt is None or nxt <= bp:
            break
        bp = nxt
    return frames


def return_address_scan(imgs, pid, regs, mm, symtabs, module, upto):
    """Words on the stack from rsp up to (not including) `upto` that point into `module`'s code."""
    found, sp = [], regs["sp"]
    while sp < upto:
        v = imgs.u64(pid, sp)
        if v is not None and in_vma(v, mm, want_exec=True):
            s = symbolize(v, mm, imgs, symtabs)
            if s.get("module") == module:
                s["stack_slot"] = hexs(sp)
                found.append(s)
        sp += 8
    return found


def parse_ready(path):
    line = open(path).read().strip().splitlines()[0]
    check(line.startswith("ready "), "%s: no ready line" % path)
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def parse_maps(path):
    out = []
    for line in open(path):
        p = line.split()
        a, b = p[0].split("-")
        out.append({"start": int(a, 16), "end": int(b, 16), "perms": p[1], "offset": int(p[2], 16),
                    "name": p[5] if len(p) > 5 else ""})
    return out


def task_summary(td, name, imgs, symtabs):
    """pstree, threads (comm, registers), VMAs, fds of the (single) process in imgs."""
    check(len(imgs.pstree) == 1, "%s: expected one process" % name)
    p = imgs.pstree[0]
    pid = p["pid"]
    mm = imgs.mm(pid)
    threads = []
    for tid in p["threads"]:
        core = load(os.path.join(imgs.dir, "core-%d.img" % tid))["entries"][0]
        g = core["thread_info"]["gpregs"]
        comm = core["tc"]["comm"] if "tc" in core else core["thread_core"]["comm"]
        t = {"tid": tid, "comm": comm,
             "regs": {k: hexs(g[k]) for k in ("ip", "sp", "bp", "ax", "orig_ax", "fs_base")},
             "pc": symbolize(g["ip"], mm, imgs, symtabs),
             "fp_chain": fp_walk(imgs, pid, g, mm, symtabs)}
        if "tc" in core:
            st = core["tc"]["task_state"]
            t["task_state"] = {1: "alive", 2: "dead", 3: "stopped", 6: "zombie"}.get(st, st)
        threads.append((t, g))
    vmas = [{"start": hexs(v["start"]), "end": hexs(v["end"]), "prot": prot_str(v["prot"]),
             "pgoff": hexs(v["pgoff"]), "name": vma_kind(v, imgs)} for v in mm["vmas"]]
    ids = load(os.path.join(imgs.dir, "ids-%d.img" % pid))["entries"][0]
    fds = []
    for e in load(os.path.join(imgs.dir, "fdinfo-%d.img" % ids["files_id"]))["entries"]:
        f = imgs.files[e["id"]]
        d = {"fd": e["fd"], "type": e["type"], "path": imgs.file_name(e["id"])}
        if "reg" in f:
            d["pos"] = f["reg"]["pos"]
            d["flags"] = hexs(f["reg"]["flags"])
        fds.append(d)
    ents, pages = imgs.pagemap(pid)
    pm = {"entries": len(ents),
          "pages_in_this_image": sum(n for _, n, fl, _ in ents if not fl & PE_PARENT),
          "pages_in_parent": sum(n for _, n, fl, _ in ents if fl & PE_PARENT),
          "pages_file": os.path.basename(pages),
          "pages_file_size": os.path.getsize(pages)}
    exe = imgs.file_name(mm["exe_file_id"])
    summary = {
        "pid": pid, "ppid": p["ppid"], "pgid": p["pgid"], "sid": p["sid"], "threads": p["threads"],
        "exe": exe,
        "mm": {k: hexs(mm[k]) for k in ("mm_start_code", "mm_end_code", "mm_start_brk", "mm_brk",
                                         "mm_start_stack", "mm_arg_start", "mm_arg_end",
                                         "mm_env_start", "mm_env_end")},
        "vmas": vmas, "fds": fds, "pagemap": pm,
    }
    # argv and environment from the stack pages
    a = imgs.read(pid, mm["mm_arg_start"], mm["mm_arg_end"] - mm["mm_arg_start"])
    e = imgs.read(pid, mm["mm_env_start"], mm["mm_env_end"] - mm["mm_env_start"])
    summary["argv"] = a.rstrip(b"\0").decode().split("\0") if a else None
    summary["environ"] = e.rstrip(b"\0").decode().split("\0") if e else None
    # build ids CRIU recorded for mapped ELF files
    summary["build_ids"] = {f["reg"]["name"]: build_id_hex(f["reg"]["build_id"])
                            for f in imgs.files.values() if "reg" in f and f["reg"].get("build_id")}
    # cross-check with the guest's /proc/PID/maps taken before the dump
    maps = parse_maps(os.path.join(td, "reference", "guest", "%s.maps.txt" % name.split("-")[0]))
    check([(m["start"], m["end"]) for m in maps] == [(v["start"], v["end"]) for v in mm["vmas"]],
          "%s: VMAs differ from the guest's /proc/PID/maps" % name)
    return summary, mm, pid, threads


# Task states of core-*.img (criu/include/pstree.h); CRIU writes a zombie as TASK_DEAD.
TASK_STATES = {1: "alive", 2: "dead", 3: "stopped", 6: "zombie"}
# What each process of tree.c is, its main thread's name, and the program's functions a reader
# finds on each thread's stack (return addresses between rsp and rbp+16, innermost first).
TREE_ROLES = {
    "parent": {"comm": "tree", "tag": "ckdump-tree-heap-parent", "role": "ckdump-role-parent",
               "main": ["parent_wait", "main"], "workers": ["pworker"],
               "worker": ["parent_worker_leaf", "parent_worker_mid"]},
    "child": {"comm": "tree-child", "tag": "ckdump-tree-heap-child", "role": "ckdump-role-child",
              "main": ["child_wait", "child_main"], "workers": ["cworker-0", "cworker-1"],
              "worker": ["child_worker_leaf", "child_worker_mid"]},
    "grandchild": {"comm": "tree-grandchild", "tag": "ckdump-tree-heap-grandchild",
                   "role": "ckdump-role-grandchild", "main": ["grandchild_wait", "grandchild_main"],
                   "workers": [], "worker": []},
    "zombie": {"comm": "tree-zombie"},
}
TREE_HEAP_MAGIC = 0x7472656531323334


def tree_summary(td, symtabs, libc_path, tools):
    """The tree fixture: every task of pstree.img with its threads, memory and stacks."""
    d = os.path.join(td, "images", "tree")
    guest = os.path.join(td, "reference", "tree", "guest")
    bintree = os.path.join(td, "bin", "tree")
    imgs = Images(d)
    ready = parse_ready(os.path.join(guest, "tree.stdout.txt"))
    root = int(ready["pid"])
    role_of = {root: "parent", int(ready["child"]): "child", int(ready["grandchild"]): "grandchild",
               int(ready["zombie"]): "zombie"}
    want_tids = {root: [int(t) for t in ready["tids"].split(",")],
                 int(ready["child"]): [int(t) for t in ready["child_tids"].split(",")],
                 int(ready["grandchild"]): [int(ready["grandchild"])], int(ready["zombie"]): [int(ready["zombie"])]}
    heaps = {"parent": int(ready["heap"], 16), "child": int(ready["child_heap"], 16),
             "grandchild": int(ready["grandchild_heap"], 16)}
    dsyms = all_syms(bintree)
    fn = lambda frames: [f.get("symbol", "").split("+")[0] for f in frames]
    check([e["pid"] for e in imgs.pstree][0] == root, "tree: the first pstree entry is not the root")
    check(sorted(e["pid"] for e in imgs.pstree) == sorted(role_of), "tree: pstree pids %s, program said %s"
          % ([e["pid"] for e in imgs.pstree], sorted(role_of)))
    per_task_files = sorted(os.listdir(d))
    tasks = []
    for p in imgs.pstree:
        pid = p["pid"]
        role = role_of[pid]
        want = TREE_ROLES[role]
        check(p["pgid"] == root and p["sid"] == root, "tree: %d not in the root's group and session" % pid)
        stat = open(os.path.join(guest, "%s.stat.txt" % role)).read().split()
        check(int(stat[3]) == (p["ppid"] if p["ppid"] else int(stat[3])), "tree: %d ppid differs from /proc" % pid)
        lead = load(os.path.join(d, "core-%d.img" % pid))["entries"][0]
        tc = lead["tc"]
        t = {"pid": pid, "ppid": p["ppid"], "pgid": p["pgid"], "sid": p["sid"], "role": role,
             "comm": tc["comm"], "task_state": TASK_STATES.get(tc["task_state"], tc["task_state"]),
             "exit_code": tc["exit_code"], "pstree_threads": p["threads"],
             # per-task files: every image named after this pid or one of its threads
             "images": [n for n in per_task_files
                        if re.fullmatch(r"[a-z]+-(\d+)\.img", n) and int(re.fullmatch(r"[a-z]+-(\d+)\.img", n).group(1))
                        in set([pid] + p["threads"]) and not n.startswith(("pages-", "fdinfo-"))]}
        check(t["comm"] == want["comm"], "tree: %d comm %r" % (pid, t["comm"]))
        if role == "zombie":
            # CRIU 3.17 never sets a zombie's thread id (the parasite does that, and a zombie gets
            # none): its pstree entry lists one uninitialized value.  The core is core-PID.img.
            check(len(p["threads"]) == 1, "tree: zombie threads %s" % p["threads"])
            t["pstree_threads_note"] = ("uninitialized: CRIU 3.17 writes whatever was in memory for a zombie's "
                                        "thread id; the zombie's one thread is its pid")
            t["threads"] = [pid]
            check(tc["task_state"] == 2, "tree: zombie task_state %s" % tc["task_state"])
            # exit_code is the wait status, as /proc/PID/stat's field 52 shows it
            check(tc["exit_code"] == int(stat[51]), "tree: zombie exit code %s, /proc said %s" % (tc["exit_code"], stat[51]))
            check(tc["exit_code"] >> 8 == 7 and tc["exit_code"] & 0x7f == 0, "tree: zombie exit code %s" % tc["exit_code"])
            t["exit_status"] = tc["exit_code"] >> 8
            check(stat[2] == "Z", "tree: the zombie was %s in /proc" % stat[2])
            check(t["images"] == ["core-%d.img" % pid], "tree: zombie images %s" % t["images"])
            tasks.append(t)
            continue
        check(p["threads"] == want_tids[pid], "tree: %d threads %s, program said %s" % (pid, p["threads"], want_tids[pid]))
        check(tc["task_state"] == 1 and tc["exit_code"] == 0, "tree: %d state %s" % (pid, tc))
        t["threads"] = p["threads"]
        mm = imgs.mm(pid)
        maps = parse_maps(os.path.join(guest, "%s.maps.txt" % role))
        check([(m["start"], m["end"]) for m in maps] == [(v["start"], v["end"]) for v in mm["vmas"]],
              "tree: %d: VMAs differ from the guest's /proc/PID/maps" % pid)
        t["exe"] = imgs.file_name(mm["exe_file_id"])
        t["vmas_count"] = len(mm["vmas"])
        t["vmas"] = [{"start": hexs(v["start"]), "end": hexs(v["end"]), "prot": prot_str(v["prot"]),
                      "pgoff": hexs(v["pgoff"]), "name": vma_kind(v, imgs)} for v in mm["vmas"]]
        ents, pages = imgs.pagemap(pid)
        t["pagemap"] = {"entries": len(ents), "pages": sum(n for _, n, _, _ in ents),
                        "pages_file": os.path.basename(pages), "pages_file_size": os.path.getsize(pages)}
        ids = load(os.path.join(d, "ids-%d.img" % pid))["entries"][0]
        t["fds"] = []
        for e in load(os.path.join(d, "fdinfo-%d.img" % ids["files_id"]))["entries"]:
            t["fds"].append({"fd": e["fd"], "type": e["type"], "path": imgs.file_name(e["id"])})
        check([(f["fd"], f["path"]) for f in t["fds"]] == [(0, "/dev/null"), (1, "/tmp/tree.out"), (2, "/tmp/tree.out")],
              "tree: %d fds %s" % (pid, t["fds"]))
        a = imgs.read(pid, mm["mm_arg_start"], mm["mm_arg_end"] - mm["mm_arg_start"])
        t["argv"] = a.rstrip(b"\0").decode().split("\0") if a else None
        # the process's own memory: g_role, g_heap and the block it points to
        base = modules_of(mm, imgs)["/opt/ckdump/tree"]
        t["load_base"] = hexs(base)
        role_addr = base + dsyms["g_role"]
        check(role_addr == int(ready["g_role"], 16), "tree: g_role at %x, program said %s" % (role_addr, ready["g_role"]))
        role_val = imgs.cstr(pid, role_addr)
        check(role_val == want["role"], "tree: %d g_role %r" % (pid, role_val))
        heap = imgs.u64(pid, base + dsyms["g_heap"])
        check(heap == heaps[role], "tree: %d g_heap %s, program said %x" % (pid, heap, heaps[role]))
        tag = imgs.cstr(pid, heap)
        magic = imgs.u64(pid, heap + 32)
        hpid = imgs.u64(pid, heap + 40)
        htids = [imgs.u64(pid, heap + 48 + 8 * i) for i in range(3)]
        check(tag == want["tag"] and magic == TREE_HEAP_MAGIC and hpid == pid,
              "tree: %d heap block %r %r %r" % (pid, tag, magic, hpid))
        check(htids == (p["threads"] + [0, 0, 0])[:3], "tree: %d heap tids %s" % (pid, htids))
        t["memory"] = {"g_role": {"addr": hexs(role_addr), "value": role_val},
                       "g_heap": {"addr": hexs(base + dsyms["g_heap"]), "value": hexs(heap)},
                       "heap_block": {"addr": hexs(heap), "tag": tag, "magic": hexs(magic), "pid": hpid,
                                      "tids": htids}}
        # threads: names from the guest, registers as CRIU saved them, stacks
        gtasks = {int(l.split()[0]): l.split()[1] for l in open(os.path.join(guest, "%s.tasks.txt" % role))}
        check(sorted(gtasks) == sorted(p["threads"]), "tree: %d /proc tasks %s" % (pid, sorted(gtasks)))
        thr = []
        for tid in p["threads"]:
            core = load(os.path.join(d, "core-%d.img" % tid))["entries"][0]
            g = core["thread_info"]["gpregs"]
            comm = core["thread_core"]["comm"]
            check(comm == gtasks[tid], "tree: thread %d comm %r, /proc said %r" % (tid, comm, gtasks[tid]))
            x = {"tid": tid, "comm": comm,
                 "regs": {k: hexs(g[k]) for k in ("ip", "sp", "bp", "ax", "orig_ax", "fs_base")},
                 "pc": symbolize(g["ip"], mm, imgs, symtabs),
                 "fp_chain": fp_walk(imgs, pid, g, mm, symtabs),
                 "stack_scan_tree": return_address_scan(imgs, pid, g, mm, symtabs, "tree", g["bp"] + 16)}
            scan = fn(x["stack_scan_tree"])
            if tid == pid:
                check(comm == want["comm"], "tree: %d main thread comm %r" % (pid, comm))
                check(scan == want["main"], "tree: %d main thread: %s" % (tid, scan))
                check(libc_path not in symtabs or fn([x["pc"]])[0] in ("pause", "wait4"),
                      "tree: %d pc in %s" % (tid, x["pc"]))
            else:
                check(comm in want["workers"], "tree: thread %d comm %r" % (tid, comm))
                check(scan == want["worker"], "tree: worker %d: %s" % (tid, scan))
                check(libc_path not in symtabs or fn([x["pc"]]) == ["clock_nanosleep"],
                      "tree: worker %d: pc in %s" % (tid, x["pc"]))
            thr.append(x)
        check([x["comm"] for x in thr] == [want["comm"]] + want["workers"], "tree: %d thread names" % pid)
        t["threads_detail"] = thr
        tasks.append(t)
    by_role = {t["role"]: t for t in tasks}
    # fork: the same program at the same addresses in every process, and the first malloc after
    # fork in the parent and in the child at the same address, holding different bytes
    check(len({t["load_base"] for t in tasks if "load_base" in t}) == 1, "tree: load bases differ")
    check(by_role["parent"]["memory"]["g_heap"]["value"] == by_role["child"]["memory"]["g_heap"]["value"],
          "tree: parent and child heap blocks are not at one address")
    check(by_role["child"]["ppid"] == root and by_role["grandchild"]["ppid"] == by_role["child"]["pid"]
          and by_role["zombie"]["ppid"] == root, "tree: ppids")
    return {
        "dump_time": open(os.path.join(guest, "dump-time.txt")).read().strip(),
        "tools": tools,
        "ready_line": open(os.path.join(guest, "tree.stdout.txt")).read().strip(),
        "root": root,
        "exe": by_role["parent"]["exe"],
        "build_id": readelf_build_id(bintree),
        "pstree_order": [p["pid"] for p in imgs.pstree],
        "tasks": tasks,
        "shared_images": [n for n in per_task_files if not re.fullmatch(r"(core|ids|mm|pagemap|fs)-\d+\.img", n)],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--td", required=True)
    ap.add_argument("--kernel-package", default=None)
    ap.add_argument("--criu-version", default=None)
    ap.add_argument("--qemu-version", default=None)
    ap.add_argument("--gcc-version", default=None)
    ap.add_argument("--sysroot", default=None)
    ap.add_argument("--fixtures", default="", help="the fixtures gen.sh has just made")
    o = ap.parse_args()
    td = os.path.abspath(o.td)
    made = set(o.fixtures.split())
    old_path = os.path.join(td, "expected.json")
    old = json.load(open(old_path)) if os.path.exists(old_path) else {}
    given = {"kernel_package": o.kernel_package, "criu": o.criu_version,
             "qemu": o.qemu_version, "gcc": o.gcc_version}

    def tools(was_made, before):
        """The versions to record: the given ones for what was made, else those recorded."""
        before = before or {}
        return {k: (v if was_made and v is not None else before.get(k, v)) for k, v in given.items()}
    guest = os.path.join(td, "reference", "guest")
    binmt = os.path.join(td, "bin", "mt")
    binstatic = os.path.join("/tmp", "ckdump-criu-static.%d" % os.getpid())
    with open(binstatic, "wb") as f:
        subprocess.run(["zstd", "-qdc", os.path.join(td, "bin", "static.zst")], stdout=f, check=True)

    try:
        # libc symbols: the full symtab of libc6-dbg if present next to the project
        # (symbols/.build-id), else the dynamic symbols of the sysroot copy.
        libc_path = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        symtabs = {"/opt/ckdump/mt": Symbols(binmt), "/opt/ckdump/static": Symbols(binstatic)}
        bintree = os.path.join(td, "bin", "tree")
        if os.path.exists(bintree):
            symtabs["/opt/ckdump/tree"] = Symbols(bintree)
        libc_file = None
        if o.sysroot and os.path.exists(o.sysroot + libc_path):
            libc_file = o.sysroot + libc_path
        elif os.path.exists(libc_path):
            libc_file = libc_path
        if libc_file:
            bid = readelf_build_id(libc_file)
            dbg = os.path.join(os.path.dirname(td), "..", "symbols", ".build-id", bid[:2], bid[2:] + ".debug")
            symtabs[libc_path] = Symbols(dbg) if os.path.exists(dbg) else Symbols(libc_file, dynamic=True)

        exp = {"generator": "testdata/criu/gen.sh",
               "tools": tools(bool(made & {"mt", "static", "static-incr"}), old.get("tools")),
               "dump_time": open(os.path.join(guest, "dump-time.txt")).read().strip(),
               "fixtures": {}}

        # ---------------- mt ----------------
        imgs = Images(os.path.join(td, "images", "mt"))
        s, mm, pid, threads = task_summary(td, "mt", imgs, symtabs)
        ready = parse_ready(os.path.join(guest, "mt.stdout.txt"))
        check(int(ready["pid"]) == pid, "mt: pid differs from the ready line")
        tids = [int(t) for t in ready["tids"].split(",")]
        check(s["threads"] == [pid] + tids, "mt: threads %s, program said %s" % (s["threads"], tids))
        heap, mapping = int(ready["heap"], 16), int(ready["mmap"], 16)
        base = modules_of(mm, imgs)["/opt/ckdump/mt"]
        dsyms = all_syms(binmt)
        g_counter = imgs.read(pid, base + dsyms["g_counter"], 4)
        g_heap = imgs.u64(pid, base + dsyms["g_heap"])
        g_map = imgs.u64(pid, base + dsyms["g_map"])
        g_msg = imgs.u64(pid, base + dsyms["g_msg"])
        g_log_fd = imgs.read(pid, base + dsyms["g_log_fd"], 4)
        check(struct.unpack("<i", g_counter)[0] == 42, "mt: g_counter != 42")
        check(g_heap == heap and g_map == mapping, "mt: g_heap/g_map differ from the ready line")
        check(struct.unpack("<i", g_log_fd)[0] == 3, "mt: g_log_fd != 3")
        tag = imgs.cstr(pid, heap)
        counter = imgs.u64(pid, heap + 32)
        wtids = [imgs.u64(pid, heap + 40 + 8 * i) for i in range(3)]
        check(tag == "ckdump-criu-heap-marker", "mt: heap tag %r" % tag)
        check(counter == 0x1122334455667788, "mt: heap counter %r" % counter)
        check(wtids == tids, "mt: heap worker_tids %s" % wtids)
        mtag = imgs.cstr(pid, mapping)
        check(mtag == "ckdump-criu-mmap-marker", "mt: mmap marker %r" % mtag)
        check(imgs.read(pid, mapping + PAGE, 1) is None, "mt: second page of the mapping was dumped")
        check(imgs.read(pid, g_msg, 1) is None, "mt: .rodata of mt was dumped (expected: only in the file)")
        check(elf_cstr(binmt, g_msg - base) == "ckdump-criu-global-string", "mt: *g_msg in bin/mt")
        check(s["build_ids"]["/opt/ckdump/mt"] == readelf_build_id(binmt), "mt: build id in files.img != bin/mt")
        fds = {f["fd"]: f for f in s["fds"]}
        check(fds[3]["path"] == "/tmp/mt.log" and fds[3]["pos"] == 12, "mt: fd 3 %s" % fds.get(3))

        # compel writes a syscall instruction at the start of the first executable VMA to set
        # up the parasite and puts the original bytes back: that page became a private copy and
        # is in the pages, equal to the file.
        xv = [v for v in mm["vmas"] if v["prot"] & 4][0]
        xpage = imgs.read(pid, xv["start"], PAGE)
        check(xpage == open(binmt, "rb").read()[xv["pgoff"]:xv["pgoff"] + PAGE],
              "mt: first executable page not dumped or differs from bin/mt")
        s["first_exec_page"] = {"addr": hexs(xv["start"]), "dumped": True, "equals_file": True}
        thr = []
        fn = lambda frames: [f.get("symbol", "").split("+")[0] for f in frames]
        for t, g in threads:
            # libc's pause/usleep/nanosleep/clock_nanosleep keep no frame pointer, so at the dump
            # rbp still holds the frame of the innermost mt function (main / worker_leaf): the rbp
            # chain starts at its caller, and the innermost mt frame's own return address lies
            # between rsp and rbp (found by scanning).
            t["stack_scan_mt"] = return_address_scan(imgs, pid, g, mm, symtabs, "mt", g["bp"] + 16)
            if t["tid"] != pid:
                check(fn(t["stack_scan_mt"]) == ["worker_leaf", "worker_mid"],
                      "mt: worker %d: mt return addresses up to rbp: %s" % (t["tid"], fn(t["stack_scan_mt"])))
                check(fn(t["fp_chain"])[:2] == ["worker_mid", "worker"],
                      "mt: worker %d: rbp chain %s" % (t["tid"], fn(t["fp_chain"])))
                check(libc_path not in symtabs or fn([t["pc"]]) == ["clock_nanosleep"],
                      "mt: worker %d: pc in %s" % (t["tid"], t["pc"]))
            else:
                check(fn(t["stack_scan_mt"]) == ["main"], "mt: main thread: %s" % fn(t["stack_scan_mt"]))
            thr.append(t)
        s["threads_detail"] = thr
        names = {t["tid"]: t["comm"] for t in thr}
        check(names == dict([(pid, "mt")] + [(tid, "worker-%d" % i) for i, tid in enumerate(tids)]),
              "mt: thread names %s" % names)
        s["program"] = {
            "ready_line": open(os.path.join(guest, "mt.stdout.txt")).read().strip(),
            "heap_marker": {"addr": hexs(heap), "tag": tag, "counter": hexs(counter),
                            "worker_tids": wtids},
            "globals": {"g_counter": {"addr": hexs(base + dsyms["g_counter"]), "value": 42},
                        "g_heap": {"addr": hexs(base + dsyms["g_heap"]), "value": hexs(g_heap)},
                        "g_map": {"addr": hexs(base + dsyms["g_map"]), "value": hexs(g_map)},
                        "g_log_fd": {"addr": hexs(base + dsyms["g_log_fd"]), "value": 3},
                        "g_msg": {"addr": hexs(base + dsyms["g_msg"]), "value": hexs(g_msg),
                                  "points_to": "ckdump-criu-global-string",
                                  "note": "in mt's .rodata: not in the pages, read it from bin/mt"}},
            "mmap": {"addr": hexs(mapping), "file": "/tmp/mt-mapped.bin", "size": 8192,
                     "first_page": "dumped (private copy): starts with ckdump-criu-mmap-marker",
                     "second_page": "not dumped (clean file page, every byte 0x5a in the file)"},
            "load_base": hexs(base),
            "worker_chain": ["clock_nanosleep", "nanosleep", "usleep", "worker_leaf", "worker_mid",
                             "worker", "start_thread", "clone3"],
        }
        exp["fixtures"]["mt"] = s

        # ---------------- static / static-incr ----------------
        ready = parse_ready(os.path.join(guest, "static.stdout.txt"))
        ticks_addr, status_addr = int(ready["ticks"], 16), int(ready["status"], 16)
        ticks = {}
        for name in ("static", "static-incr"):
            imgs = Images(os.path.join(td, "images", name))
            s, mm, pid, threads = task_summary(td, name, imgs, symtabs)
            check(pid == int(ready["pid"]), "%s: pid differs from the ready line" % name)
            check(s["threads"] == [pid], "%s: not single-threaded" % name)
            check(not any(v["name"].endswith(".so.6") or "ld-linux" in v["name"] for v in s["vmas"]),
                  "%s: maps a shared library" % name)
            tag_va = all_syms(binstatic)["g_static_tag"]
            check(elf_cstr(binstatic, tag_va) == "ckdump-criu-static-rodata", "static: g_static_tag in bin/static")
            tag_mem = imgs.cstr(pid, tag_va)
            check(tag_mem in (None, "ckdump-criu-static-rodata"), "%s: g_static_tag in memory %r" % (name, tag_mem))
            t = imgs.u64(pid, ticks_addr)
            st = imgs.cstr(pid, status_addr)
            check(t is not None and t > 0 and st == "tick %d" % t, "%s: g_ticks %r g_status %r" % (name, t, st))
            ticks[name] = t
            for t_, g in threads:
                t_["stack_scan_static"] = return_address_scan(imgs, pid, g, mm, symtabs, "static", g["bp"] + 16)
                chain = [f.get("symbol", "").split("+")[0] for f in t_["stack_scan_static"]]
                check(chain[-2:] == ["tick_loop", "main"], "%s: return addresses up to rbp: %s" % (name, chain))
            s["threads_detail"] = [t_ for t_, _ in threads]
            s["program"] = {"ready_line": open(os.path.join(guest, "static.stdout.txt")).read().strip(),
                            "g_ticks": {"addr": hexs(ticks_addr), "value": t,
                                        "page_from": imgs.page_source(pid, ticks_addr)[0]},
                            "g_status": {"addr": hexs(status_addr), "value": st},
                            "g_static_tag": {"addr": hexs(tag_va), "value": "ckdump-criu-static-rodata",
                                             "in_pages": tag_mem is not None}}
            if name == "static-incr":
                s["parent"] = os.readlink(os.path.join(td, "images", name, "parent"))
                check(s["pagemap"]["pages_in_parent"] > 0, "static-incr: nothing in the parent")
                check(s["program"]["g_ticks"]["page_from"] == "self", "static-incr: g_ticks page not re-dumped")
                inv = load_pretty(os.path.join(td, "images", name, "inventory.img"))["entries"][0]
                s["inventory"] = inv
            exp["fixtures"][name] = s
        check(ticks["static-incr"] > ticks["static"], "static-incr: g_ticks did not advance")

        # ---------------- tree ----------------
        if os.path.isdir(os.path.join(td, "images", "tree")):
            before = old.get("fixtures", {}).get("tree", {}).get("tools")
            exp["fixtures"]["tree"] = tree_summary(td, symtabs, libc_path, tools("tree" in made, before))

        # ---------------- archive ----------------
        arch = os.path.join(td, "archive")
        exp["archive"] = {
            "files": sorted(os.listdir(arch)),
            "listing": open(os.path.join(td, "reference", "archive-listing.txt")).read().splitlines(),
            "config.dump": json.load(open(os.path.join(arch, "metadata", "config.dump"))),
            "spec_annotations": json.load(open(os.path.join(arch, "metadata", "spec.dump")))["annotations"],
            "network.status": json.load(open(os.path.join(arch, "metadata", "network.status"))),
        }
        with open(os.path.join(td, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1)
            f.write("\n")
        write_readme(td, exp)
    finally:
        os.unlink(binstatic)


def write_readme(td, exp):
    mt = exp["fixtures"]["mt"]
    st = exp["fixtures"]["static"]
    si = exp["fixtures"]["static-incr"]
    L = []
    L.append("Values of the committed run (dump time %s; %s; criu %s)."
             % (exp["dump_time"], exp["tools"]["kernel_package"], exp["tools"]["criu"]))
    L.append("")
    L.append("**mt** (`images/mt`, pid %d, exe `%s`, build id `%s`):" % (mt["pid"], mt["exe"], mt["build_ids"]["/opt/ckdump/mt"]))
    L.append("")
    L.append("| tid | comm | ip | pc | frame-pointer chain from rbp | mt return addresses on the stack |")
    L.append("|---|---|---|---|---|---|")
    for t in mt["threads_detail"]:
        fp = " ← ".join(f.get("symbol", f.get("module") or "?") for f in t["fp_chain"])
        scan = " ← ".join(f.get("symbol", "?") for f in t.get("stack_scan_mt", []))
        L.append("| %d | %s | %s | %s | %s | %s |" % (t["tid"], t["comm"], t["regs"]["ip"],
                                                      t["pc"].get("symbol", t["pc"].get("module")), fp or "-", scan or "-"))
    p = mt["program"]
    L.append("")
    L.append("- ready line: `%s`" % p["ready_line"])
    L.append("- load base of mt %s; heap marker at %s: tag `%s`, counter %s, worker_tids %s"
             % (p["load_base"], p["heap_marker"]["addr"], p["heap_marker"]["tag"], p["heap_marker"]["counter"],
                p["heap_marker"]["worker_tids"]))
    g = p["globals"]
    L.append("- globals: g_counter @%s = 42, g_heap @%s = %s, g_map @%s = %s, g_log_fd @%s = 3, g_msg @%s = %s "
             "(→ \"ckdump-criu-global-string\" in .rodata, not in the pages)"
             % (g["g_counter"]["addr"], g["g_heap"]["addr"], g["g_heap"]["value"], g["g_map"]["addr"],
                g["g_map"]["value"], g["g_log_fd"]["addr"], g["g_msg"]["addr"], g["g_msg"]["value"]))
    L.append("- mmap of /tmp/mt-mapped.bin at %s (2 pages): first page dumped, starts with `ckdump-criu-mmap-marker`; "
             "second page not dumped" % p["mmap"]["addr"])
    L.append("- fds: " + ", ".join("%d %s%s" % (f["fd"], f["path"], " pos %d" % f["pos"] if f.get("pos") else "")
                                   for f in mt["fds"]))
    L.append("- pagemap: %d entries, %d pages in %s (%d bytes)" % (mt["pagemap"]["entries"], mt["pagemap"]["pages_in_this_image"],
                                                                    mt["pagemap"]["pages_file"], mt["pagemap"]["pages_file_size"]))
    L.append("- argv %s; environ %s" % (mt["argv"], mt["environ"]))
    L.append("")
    for name, s in (("static", st), ("static-incr", si)):
        t = s["threads_detail"][0]
        fp = " ← ".join(f.get("symbol", f.get("module") or "?") for f in t["fp_chain"])
        scan = " ← ".join(f.get("symbol", "?") for f in t["stack_scan_static"])
        L.append("**%s** (`images/%s`, pid %d, exe `%s`): thread %d `%s`, ip %s = %s; return addresses "
                 "between rsp and rbp+16: %s; fp chain %s; "
                 "g_ticks @%s = %d (page from %s), g_status = `%s`; pagemap %d entries, %d pages here, %d in the parent"
                 % (name, name, s["pid"], s["exe"], t["tid"], t["comm"], t["regs"]["ip"],
                    t["pc"].get("symbol", t["pc"].get("module")), scan, fp or "-", s["program"]["g_ticks"]["addr"],
                    s["program"]["g_ticks"]["value"], s["program"]["g_ticks"]["page_from"],
                    s["program"]["g_status"]["value"], s["pagemap"]["entries"],
                    s["pagemap"]["pages_in_this_image"], s["pagemap"]["pages_in_parent"]))
        L.append("")
    tr = exp["fixtures"].get("tree")
    if tr:
        L.append("**tree** (`images/tree`, dump time %s, root pid %d, exe `%s`, build id `%s`):"
                 % (tr["dump_time"], tr["root"], tr["exe"], tr["build_id"]))
        L.append("")
        L.append("| pid | ppid | role | comm | state | threads | VMAs | pages | g_role | heap block |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for t in tr["tasks"]:
            if t["role"] == "zombie":
                L.append("| %d | %d | zombie | %s | %s, exit_code %d (status %d) | %s (pstree.img lists %s) | - | - | - | - |"
                         % (t["pid"], t["ppid"], t["comm"], t["task_state"], t["exit_code"], t["exit_status"],
                            t["threads"], t["pstree_threads"]))
                continue
            m = t["memory"]
            L.append("| %d | %d | %s | %s | %s | %s | %d | %d in %s | `%s` | %s `%s` |"
                     % (t["pid"], t["ppid"], t["role"], t["comm"], t["task_state"],
                        ", ".join(str(x) for x in t["threads"]), t["vmas_count"], t["pagemap"]["pages"],
                        t["pagemap"]["pages_file"], m["g_role"]["value"], m["heap_block"]["addr"], m["heap_block"]["tag"]))
        L.append("")
        L.append("| tid | comm | ip | pc | frame-pointer chain from rbp | tree return addresses on the stack |")
        L.append("|---|---|---|---|---|---|")
        for t in tr["tasks"]:
            for x in t.get("threads_detail", []):
                fp = " ← ".join(f.get("symbol", f.get("module") or "?") for f in x["fp_chain"])
                scan = " ← ".join(f.get("symbol", "?") for f in x["stack_scan_tree"])
                L.append("| %d | %s | %s | %s | %s | %s |" % (x["tid"], x["comm"], x["regs"]["ip"],
                                                              x["pc"].get("symbol", x["pc"].get("module")), fp or "-", scan or "-"))
        L.append("")
        L.append("- ready line: `%s`" % tr["ready_line"])
        L.append("- g_role @%s and g_heap @%s in every process (load base %s)"
                 % (tr["tasks"][0]["memory"]["g_role"]["addr"], tr["tasks"][0]["memory"]["g_heap"]["addr"],
                    tr["tasks"][0]["load_base"]))
        L.append("")
    block = "\n".join(L).rstrip() + "\n"
    path = os.path.join(td, "README.md")
    text = open(path).read() if os.path.exists(path) else "<!-- BEGIN GENERATED -->\n<!-- END GENERATED -->\n"
    b, e = "<!-- BEGIN GENERATED -->\n", "<!-- END GENERATED -->"
    check(b in text and e in text, "README.md has no generated block markers")
    text = text[:text.index(b) + len(b)] + block + text[text.index(e):]
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
