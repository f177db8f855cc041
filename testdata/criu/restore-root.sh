#!/usr/bin/env bash
# testdata/criu/restore-root.sh FIXTURE DEST - assemble a restore root for a CRIU fixture.
#
# Builds in DEST what `criu restore` of testdata/criu/images/FIXTURE (mt, static, static-incr, tree)
# would open, from the fixture's crit reference (reference/FIXTURE/files.json): the program from
# bin/, the host's libc and ld.so (Debian bookworm's, the same build as the guest's), and every
# other regular file at its recorded size, each with its recorded mode. Then
#   ckdump verify testdata/criu/images/FIXTURE --root DEST --cpuinfo testdata/criu/reference/guest/system.txt
# passes with no findings (for tree: --cpuinfo testdata/criu/reference/tree/guest/system.txt).
# tests/criu_fixtures.rs builds the same root.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 mt|static|static-incr|tree DEST" >&2; exit 2; }
TD=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIXTURE=$1 DEST=$2
FILES=$TD/reference/$FIXTURE/files.json
[ -f "$FILES" ] || { echo "$0: no $FILES (fixtures: mt, static, static-incr, tree)" >&2; exit 2; }
mkdir -p "$DEST"
python3 - "$FILES" "$DEST" "$TD" <<'PY'
import json, os, shutil, subprocess, sys
files, dest, td = sys.argv[1:]
for e in json.load(open(files))["entries"]:
    reg = e.get("reg")
    if not reg or reg["name"].startswith("/dev/"):
        continue
    name, mode = reg["name"], reg["mode"]
    at = os.path.join(dest, name.lstrip("/"))
    if mode & 0o170000 == 0o040000:
        os.makedirs(at, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(at), exist_ok=True)
        prog = os.path.join(td, "bin", os.path.basename(name))
        if name.startswith("/opt/ckdump/") and os.path.exists(prog + ".zst"):
            subprocess.run(["zstd", "-dqf", prog + ".zst", "-o", at], check=True)
        elif name.startswith("/opt/ckdump/"):
            shutil.copyfile(prog, at)
        elif name.startswith("/usr/lib/"):
            shutil.copyfile(name, at)
        else:
            with open(at, "wb") as f:
                f.truncate(reg.get("size", 0))
    os.chmod(at, mode & 0o7777)
PY
