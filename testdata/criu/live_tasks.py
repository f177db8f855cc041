#!/usr/bin/python3
"""live_tasks.py SRC DST - a copy of the CRIU image directory SRC without its dead tasks.

Used by testdata/criu/gen.sh for `crit x DIR fds|mems`: crit 3.17 opens ids-PID.img and
mm-PID.img of every task that pstree.img lists, and a zombie (core-PID.img with task_state
TASK_DEAD) has neither.  When SRC has dead tasks, DST becomes a copy of SRC whose pstree.img
lists only the others, and "pruned" is printed; otherwise nothing is written or printed.
"""
import os
import shutil
import sys

import pycriu.images

TASK_DEAD = 2


def load(path):
    with open(path, "rb") as f:
        return pycriu.images.load(f)


def main():
    src, dst = sys.argv[1:]
    pstree = load(os.path.join(src, "pstree.img"))
    live = []
    for e in pstree["entries"]:
        core = load(os.path.join(src, "core-%d.img" % e["pid"]))["entries"][0]
        if core.get("tc", {}).get("task_state") != TASK_DEAD:
            live.append(e)
    if len(live) == len(pstree["entries"]):
        return
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)
    pstree["entries"] = live
    with open(os.path.join(dst, "pstree.img"), "wb") as f:
        pycriu.images.dump(pstree, f)
    print("pruned")


if __name__ == "__main__":
    main()
