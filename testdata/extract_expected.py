#!/usr/bin/env python3
"""extract_expected.py - build testdata/expected.json from the reference outputs.

Called by testdata/gen.sh:
    python3 testdata/extract_expected.py --testdata testdata --cores cores.tsv \
        --run-dir /tmp/ckdump-testdata/bin --small-core core.illegal.kernel > testdata/expected.json

cores.tsv has one line per core: <core name> TAB <program> TAB <writer: kernel|gdb|gcore>.
For every core it parses testdata/reference/<core>.*:
  eu-readelf-n.txt   pid, per-thread tids/registers, signal, si_code, fault address, NT_FILE
  eu-readelf-l.txt   architecture, PT_LOAD count
  gdb-frames.txt     gdb's frames (JSON printed by testdata/gdb_frames.py): function names as
                     gdb prints them without the argument list, file, line, inline flag
  eu-stack.txt       eu-stack -v frames, compared with gdb's; the differences become "notes"
  stdout.txt         what the program printed: "tid=N name=NAME" per thread
and writes one entry per core FILE (the .zst, and for the small core also the raw file and its
.xz/.bz2/.gz copies).  With --readme it also rewrites the generated section of
testdata/README.md (values per core, every thread's stack).  It exits non-zero when a frame of one of our own programs is not
symbolized (no function name or no file:line), so gen.sh fails instead of committing "??".
"""
import argparse
import json
import os
import re
import subprocess
import sys

SIGTRAMP_PLACEHOLDER = "<signal handler called>"

# Functions defined in testdata/src, and the chains they form (innermost first).
CRASH_CHAINS = {
    "threads": ["read_value", "crash_here", "crash_here", "crash_here", "crash_here", "do_work", "main"],
    "sighandler": ["__GI_abort", "handler_leaf", "handler", "__restore_rt", "fault_here", "main"],
    "illegal": ["illegal_leaf", "illegal_mid", "main"],
    "nofp": ["nofp_leaf", "nofp_mid", "nofp_top", "main"],
    "cxx_throw": ["std::terminate()", "__cxa_throw", "ckdump_test::Widget::explode",
                  "ckdump_test::run_all<ckdump_test::Widget>", "main"],
}
WORKER_CHAIN = ["usleep", "worker_leaf", "worker_mid", "worker"]
OWN_FUNCTIONS = {f for chain in CRASH_CHAINS.values() for f in chain} | set(WORKER_CHAIN)
OWN_FUNCTIONS -= {"__GI_abort", "__restore_rt", "std::terminate()", "__cxa_throw", "usleep"}


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def num(text):
    return int(text, 0)


# ----------------------------------------------------------------------------- eu-readelf -n
NOTE_HEADER = re.compile(r"^  (\S+)\s+(\d+)\s+(.+?)\s*$")


def parse_notes(text):
    """Split `eu-readelf -n` output into [(owner, type, [body lines])]."""
    notes = []
    for line in text.splitlines():
        if line.startswith("  Owner") or line.startswith("Note segment"):
            continue
        m = NOTE_HEADER.match(line)
        if m and not line.startswith("   "):
            notes.append((m.group(1), m.group(3), []))
        elif notes:
            notes[-1][2].append(line)
    return notes


def kv(body, key):
    m = re.search(r"(?:^|[\s,])" + re.escape(key) + r":\s+(-?\w+)", "\n".join(body))
    return m.group(1) if m else None


def parse_readelf_n(text):
    threads, siginfos, files = [], [], []
    psinfo = {}
    for owner, ntype, body in parse_notes(text):
        joined = "\n".join(body)
        if owner == "CORE" and ntype == "PRSTATUS":
            regs = {}
            for name, value in re.findall(r"\b(rip|rsp|rbp|eip|esp|ebp):\s+(\S+)", joined):
                regs[name] = "0x%x" % (num(value) & 0xFFFFFFFFFFFFFFFF)
            threads.append({"tid": int(kv(body, "pid")), "cursig": int(kv(body, "cursig")), "regs": regs})
        elif owner == "CORE" and ntype == "PRPSINFO":
            m = re.search(r"fname: (.*?)(?:, psargs: (.*?))?\s*$", joined, re.M)
            psinfo = {
                "pid": int(kv(body, "pid")),
                "fname": m.group(1) if m else None,
                "psargs": (m.group(2) or "").strip() if m else None,
            }
        elif owner == "CORE" and ntype == "SIGINFO":
            fault = re.search(r"fault address: (0x[0-9a-f]+)", joined)
            siginfos.append(
                {
                    "signo": int(kv(body, "si_signo")),
                    "code": int(kv(body, "si_code")),
                    "fault_address": fault.group(1) if fault else None,
                }
            )
        elif owner == "CORE" and ntype == "FILE":
            for line in body:
                m = re.match(r"^\s+([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) (\d+)\s+(\S.*)$", line)
                if m:
                    files.append(
                        {"start": int(m.group(1), 16), "end": int(m.group(2), 16),
                         "offset": int(m.group(3), 16), "path": m.group(5)}
                    )
            declared = re.search(r"(\d+) files:", joined)
            if declared and int(declared.group(1)) != len(files):
                sys.exit("NT_FILE: declared %s files, parsed %d" % (declared.group(1), len(files)))
    return threads, psinfo, siginfos, files


# ----------------------------------------------------------------------------- eu-readelf -l
def parse_readelf_l(text):
    machine = re.search(r"Machine:\s+(.*)", text).group(1).strip()
    arch = {"AMD x86-64": "x86_64", "Intel 80386": "i386"}.get(machine, machine)
    loads = [l for l in text.splitlines() if l.strip().startswith("LOAD ")]
    return arch, len(loads)


# ----------------------------------------------------------------------------- gdb frames
def parse_gdb_frames(text):
    begin = text.index("GDB-FRAMES-JSON-BEGIN") + len("GDB-FRAMES-JSON-BEGIN")
    end = text.index("GDB-FRAMES-JSON-END")
    return {t["tid"]: t for t in json.loads(text[begin:end])["threads"]}


# ----------------------------------------------------------------------------- eu-stack
def parse_eu_stack(text):
    threads, cur, errors = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^TID (\d+):", line)
        if m:
            cur = threads.setdefault(int(m.group(1)), [])
            continue
        m = re.match(r"^#(\d+)\s+(0x[0-9a-f]+)\s+(.*)$", line)
        if m and cur is not None:
            rest = m.group(3).strip()
            adjusted = rest.startswith("- 1")
            if adjusted:
                rest = rest[3:].strip()
            if rest.startswith("- "):
                name, module = "", rest[2:].strip()
            else:
                name, _, module = rest.rpartition(" - ")
            cur.append({"pc": m.group(2).lower(), "function": name.strip() or None,
                        "module": os.path.basename(module.strip()), "adjusted": adjusted,
                        "file": None, "line": None})
            continue
        m = re.match(r"^\s{4}(\S.*?):(\d+)(?::\d+)?$", line)
        if m and cur:
            cur[-1]["file"], cur[-1]["line"] = m.group(1), int(m.group(2))
            continue
        if line.startswith("eu-stack:"):
            errors.append(line)
    return threads, errors


def norm_pc(pc):
    return "0x%x" % int(pc, 16)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


# ----------------------------------------------------------------------------- per core
def core_entry(td, core, prog, writer, run_dir, problems):
    ref = os.path.join(td, "reference", core)
    threads, psinfo, siginfos, files = parse_readelf_n(read(ref + ".eu-readelf-n.txt"))
    arch, pt_load_count = parse_readelf_l(read(ref + ".eu-readelf-l.txt"))
    gdb_threads = parse_gdb_frames(read(ref + ".gdb-frames.txt"))
    eu_threads, eu_errors = parse_eu_stack(read(ref + ".eu-stack.txt"))
    names = dict(
        (int(t), n) for t, n in re.findall(r"^tid=(\d+) name=(\S+)", read(ref + ".stdout.txt"), re.M)
    )
    notes = set()
    exe_path = os.path.join(run_dir, prog)

    signal = threads[0]["cursig"]
    first_si = siginfos[0] if siginfos else None
    matching_si = first_si if first_si and first_si["signo"] == signal and signal else None

    out_threads = []
    for th in threads:
        tid = th["tid"]
        gdb_th = gdb_threads.get(tid)
        if gdb_th is None:
            problems.append("%s: gdb does not know thread %d" % (core, tid))
            continue
        eu = eu_threads.get(tid, [])
        gdb_frames = []
        for f in gdb_th["frames"]:
            if "error" in f:
                notes.add("gdb stopped unwinding thread %d: %s" % (tid, f["error"]))
                continue
            if f["type"] == "tailcall":
                notes.add(
                    "gdb shows a synthetic tail-call frame %s (from DW_TAG_call_site) that is not "
                    "on the stack; eu-stack does not show it and it is left out here" % f["function"]
                )
                continue
            gdb_frames.append(f)
        frames = []
        for i, f in enumerate(gdb_frames):
            e = eu[i] if i < len(eu) else None
            if e is not None and norm_pc(e["pc"]) != norm_pc(f["pc"]):
                notes.add("thread %d frame %d: gdb pc %s but eu-stack pc %s" % (tid, i, f["pc"], e["pc"]))
                e = None
            func = f["function"]
            if func in (None, SIGTRAMP_PLACEHOLDER) and e is not None and e["function"]:
                if func == SIGTRAMP_PLACEHOLDER:
                    notes.add("gdb prints the signal trampoline as <signal handler called>, "
                              "eu-stack as %s" % e["function"])
                else:
                    notes.add("gdb has no name for %s in %s, eu-stack says %s"
                              % (f["pc"], e["module"], e["function"]))
                func = e["function"]
            elif e is not None and e["function"] and func and e["function"] != func:
                notes.add("names differ: gdb %s, eu-stack %s" % (func, e["function"]))
            if e is not None and e["line"] and f["line"] and e["line"] != f["line"]:
                notes.add("thread %d frame %d (%s): gdb line %s, eu-stack line %s"
                          % (tid, i, func, f["line"], e["line"]))
            if e is not None and f["line"] is None and e["line"] is not None:
                notes.add("eu-stack has a line for %s (%s:%s), gdb does not" % (func, e["file"], e["line"]))
            module = e["module"] if e is not None else f["module"]
            frame = {
                "pc": norm_pc(f["pc"]),
                "function": func,
                "file": f["file"],
                "line": f["line"],
                "inlined": f["inlined"],
                "module": module or f["module"],
            }
            if (f.get("linkage_name") or "").startswith("_Z"):  # C++: the mangled name
                frame["linkage_name"] = f["linkage_name"]
            if e is not None and e["function"] and e["function"] != func:
                frame["eu_stack_function"] = e["function"]
            if f["type"] == "sigtramp":
                frame["signal_frame"] = True
                notes.add("gdb's bt prints the signal trampoline frame (%s) as <signal handler called>"
                          % func)
            frames.append(frame)
            # our own functions must be fully symbolized (name + file:line)
            if frame["module"] == prog and (func is None or func in OWN_FUNCTIONS):
                if not func or not frame["file"] or not frame["line"]:
                    problems.append("%s: thread %d frame %d not symbolized: %r" % (core, tid, i, frame))
        if len(eu) > len(gdb_frames):
            extra = [x["function"] or "??" for x in eu[len(gdb_frames):]]
            notes.add("eu-stack shows %d more frame(s) than gdb at the end of thread %d: %s"
                      % (len(extra), tid, ", ".join(extra)))
        elif len(eu) < len(gdb_frames):
            notes.add("gdb shows %d more frame(s) than eu-stack at the end of thread %d"
                      % (len(gdb_frames) - len(eu), tid))
        name = names.get(tid)
        if name is None and tid == psinfo.get("pid"):
            name = psinfo.get("fname")
        # the call chains the fixture programs are written to produce
        funcs = [f["function"] for f in frames]
        if name and name.startswith("worker-"):
            chain = WORKER_CHAIN
        elif tid == threads[0]["tid"] and writer != "gcore":
            chain = CRASH_CHAINS[prog.split("-")[0]]
        else:
            chain = ["main"]
        if not any(funcs[k:k + len(chain)] == chain for k in range(len(funcs))):
            problems.append("%s: thread %d frames %s lack the chain %s" % (core, tid, funcs, chain))
        out_threads.append({"tid": tid, "name": name, "registers": th["regs"], "frames": frames})
    for err in eu_errors:
        notes.add(re.sub(r"tid \d+ at 0x[0-9a-f]+", "tid N", err))

    # the mapped files (unique paths in NT_FILE order) with their load base
    mapped = []
    for f in files:
        if f["path"] not in [m["path"] for m in mapped]:
            base = min((g["start"] - g["offset"]) for g in files if g["path"] == f["path"])
            mapped.append({"path": f["path"], "base": "0x%x" % base})

    binary = os.path.join(td, "bin", prog)
    bid = build_id(binary)
    if prog == "illegal":
        lookup, debug_file = "embedded", None
    elif prog == "cxx_throw":
        lookup, debug_file = "debuglink", "symbols/debuglink/%s.debug" % prog
    else:
        lookup, debug_file = "build-id", "symbols/.build-id/%s/%s.debug" % (bid[:2], bid[2:])

    entry = {
        "core": core,
        "writer": writer,
        "arch": arch,
        "program": prog,
        "binary": "testdata/bin/%s" % prog,
        "build_id": bid,
        "debug_lookup": lookup,
        "debug_file": debug_file,
        "exe_path": exe_path,
        "process_name": psinfo.get("fname"),
        "pid": psinfo.get("pid") if psinfo else threads[0]["tid"],
        "signal": signal,
        "si_code": matching_si["code"] if matching_si else None,
        "fault_address": matching_si["fault_address"] if matching_si else None,
        "first_siginfo": first_si,
        "crashing_tid": threads[0]["tid"] if signal else None,
        "thread_count": len(threads),
        "threads": out_threads,
        "pt_load_count": pt_load_count,
        "nt_file_count": len(files),
        "mapped_files": mapped,
        "reference_prefix": "testdata/reference/%s" % core,
        "notes": sorted(notes),
    }
    return entry


SIGNAMES = {0: "none", 4: "SIGILL", 6: "SIGABRT", 11: "SIGSEGV", 19: "SIGSTOP"}
SI_CODES = {(11, 1): "SEGV_MAPERR", (4, 2): "ILL_ILLOPN", (6, -6): "SI_TKILL"}
BEGIN_MARK = "<!-- BEGIN GENERATED by extract_expected.py -->"
END_MARK = "<!-- END GENERATED -->"


def markdown(cores):
    """The generated part of testdata/README.md: values per core and every thread's stack."""
    by_core = {}
    for fname, e in cores.items():
        by_core.setdefault(e["core"], (e, []))[1].append(fname)
    out = [BEGIN_MARK, "",
           "| core (files in `cores/`) | writer | arch | program | pid | crashing tid | signal | si_code "
           "| fault address | threads | PT_LOAD | NT_FILE |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for core, (e, files) in by_core.items():
        sig = "%d %s" % (e["signal"], SIGNAMES.get(e["signal"], ""))
        code = "-" if e["si_code"] is None else "%d %s" % (e["si_code"], SI_CODES.get((e["signal"], e["si_code"]), ""))
        out.append("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %d | %d | %d |" % (
            "<br>".join("`%s`" % f for f in files), e["writer"], e["arch"], e["program"], e["pid"],
            e["crashing_tid"] if e["crashing_tid"] is not None else "- (live)", sig.strip(), code.strip(),
            e["fault_address"] or "-", e["thread_count"], e["pt_load_count"], e["nt_file_count"]))
    out.append("")
    for core, (e, files) in by_core.items():
        dbg = {"build-id": "debug info by build-id: `%s`" % e["debug_file"],
               "debuglink": "debug info only through .gnu_debuglink: `%s`" % e["debug_file"],
               "embedded": "DWARF inside the binary"}[e["debug_lookup"]]
        out += ["### %s" % core, "",
                "Binary `%s` (build-id `%s`, %s); ran as `%s`; process name (NT_PRPSINFO) `%s`."
                % (e["binary"], e["build_id"], dbg, e["exe_path"], e["process_name"]), ""]
        if e["first_siginfo"] and e["si_code"] is None:
            out += ["First NT_SIGINFO: si_signo %d, si_code %d." % (e["first_siginfo"]["signo"], e["first_siginfo"]["code"]), ""]
        out.append("```")
        for t in e["threads"]:
            tag = " (crashing)" if t["tid"] == e["crashing_tid"] else ""
            out.append("tid %d  %s%s" % (t["tid"], t["name"], tag))
            for i, f in enumerate(t["frames"]):
                where = "%s:%s" % (f["file"], f["line"]) if f["file"] else ""
                flags = " [inlined]" if f["inlined"] else ""
                flags += " [signal frame]" if f.get("signal_frame") else ""
                out.append("  #%-2d %-18s %-44s %-48s %s" % (
                    i, f["pc"], (f["function"] or "??") + flags, where, f["module"]))
        out += ["```", ""]
        if e["notes"]:
            out += ["Notes (gdb vs eu-stack):", ""] + ["- " + n for n in e["notes"]] + [""]
    out.append(END_MARK)
    return "\n".join(out)


def update_readme(path, cores):
    text = read(path)
    if BEGIN_MARK not in text or END_MARK not in text:
        sys.exit("%s: generated-section markers missing" % path)
    head = text[:text.index(BEGIN_MARK)]
    tail = text[text.index(END_MARK) + len(END_MARK):]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + markdown(cores) + tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", required=True)
    ap.add_argument("--cores", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--small-core", required=True)
    ap.add_argument("--readme", help="rewrite the generated section of this README.md")
    args = ap.parse_args()
    td = os.path.abspath(args.testdata)

    problems = []
    cores = {}
    for line in read(args.cores).splitlines():
        if not line.strip():
            continue
        core, prog, writer = line.split("\t")
        entry = core_entry(td, core, prog, writer, args.run_dir, problems)
        variants = [(core + ".zst", "zstd")]
        if core == args.small_core:
            variants += [(core, "none"), (core + ".xz", "xz"), (core + ".bz2", "bzip2"), (core + ".gz", "gzip")]
        for fname, compression in variants:
            if not os.path.exists(os.path.join(td, "cores", fname)):
                problems.append("missing core file " + fname)
            cores[fname] = dict(entry, file="testdata/cores/" + fname, compression=compression)

    if problems:
        sys.exit("extract_expected.py:\n  " + "\n  ".join(problems))
    doc = {
        "comment": "Generated by testdata/gen.sh (testdata/extract_expected.py); see testdata/README.md. "
                   "Paths are relative to the repository root. Frames: gdb's function names without "
                   "argument lists (eu-stack's where gdb has none), gdb's file names as in the line "
                   "table, pc = the frame's pc as gdb/eu-stack report it (return address for caller frames).",
        "cores": cores,
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")
    if args.readme:
        update_readme(args.readme, cores)


if __name__ == "__main__":
    main()
