#!/usr/bin/env bash
# Kernel dumps side by side: "panic message + crashed stack + last 20 log lines" from
#   ckdump inspect VMCORE --quiet --log 20             (no vmlinux: kallsyms, ORC, BTF of the dump)
#   ckdump inspect VMCORE --symbols VMLINUX ...        (DWARF names and lines; only when this ckdump
#                                                       prints source lines with it, else skipped)
#   drgn -c VMCORE -s VMLINUX bench/drgn_panic.py      (drgn 0.3.0 from PyPI)
#   drgn -c VMCORE --no-default-symbols bench/drgn_panic.py   (no debug info: kallsyms only)
#   crash -s VMLINUX VMCORE  <<< 'bt; log | tail -20; quit'   (Debian's crash 8.0.2)
# on the real kdumps of ../shared/generated/vmcores (makedumpfile -c -d 31, and -E -d 31
# decompressed to a temp file): the fast tools in one hyperfine run (2 warm-ups, RUNS runs), crash
# (8-10 s an open on a quiet machine, 20-47 s under load: its gdb's symbol tables) right after in
# its own hyperfine run with CRASH_RUNS runs and no warm-up. Peak RSS of one run each by /usr/bin/time -f %M.
#
# Then the scaling check ("opening a dump must not read it whole: a 4 GiB guest's dump at most 1.5x
# a 512 MiB one's time") on the QEMU guests' dumps of bench/gen-vmcores.sh (ELF, flattened
# kdump-zlib as QEMU writes it, and the same reassembled by makedumpfile -R), when they exist.
#
#   bash bench/vmcore.sh                           # as root (apt-get / pip for missing tools)
#   RUNS=10 CRASH_RUNS=3 VMLINUX=/path/vmlinux SCALE_DIR=/work/bench-data/vmcores bash bench/vmcore.sh
#   CKDUMP=/path/to/ckdump RESULTS=bench/results/other bash bench/vmcore.sh   # another build
#   SKIP_CRASH=1 ...                               # leave crash out (it takes minutes)
# Writes bench/results/vmcore-*.{md,json}, the tools' outputs in bench/results/vmcore-out/, and
# bench/results/vmcore-summary.md (means, ratios, RSS, goals). Not a test: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${RESULTS:-$root/bench/results}
mkdir -p "$out/vmcore-out"
RUNS=${RUNS:-10}
CRASH_RUNS=${CRASH_RUNS:-3}
VMLINUX=${VMLINUX:-/work/cache/vmlinux/usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64}
SHARED=${SHARED:-$root/../shared/generated/vmcores}
[ -d "$SHARED" ] || SHARED=/work/shared/generated/vmcores
SCALE_DIR=${SCALE_DIR:-/work/bench-data/vmcores}
work=$(mktemp -d "${TMPDIR:-/tmp}/ckdump-vmcore-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

[ -f "$VMLINUX" ] || { echo "vmcore.sh: no vmlinux at $VMLINUX (set VMLINUX)" >&2; exit 1; }
[ -d "$SHARED" ] || { echo "vmcore.sh: no $SHARED" >&2; exit 1; }
for tool in hyperfine crash zstd; do
  command -v "$tool" >/dev/null || apt-get install -y -qq "$tool" >/dev/null
done
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v drgn >/dev/null || python3 -m pip install -q drgn

if [ -n "${CKDUMP:-}" ]; then
  ck=$CKDUMP
else
  cargo build --release --quiet
  ck=${CARGO_TARGET_DIR:-$root/target}/release/ckdump
fi
drgn_script=$root/bench/drgn_panic.py
printf 'bt\nlog | tail -20\nquit\n' > "$work/crash-cmds"

kdump=$SHARED/vmcore-kdump-compressed-zlib-d31
elf=$work/vmcore-kdump-makedumpfile-E-d31.elf
zstd -qdc "$SHARED/vmcore-kdump-makedumpfile-E-d31.elf.zst" > "$elf"

# ckdump with the vmlinux: only when this build uses it (source lines appear in the stacks).
# `--symbols` takes the file or its directory, depending on the build; try both.
ck_vmlinux_args=
for a in "$VMLINUX" "$(dirname "$VMLINUX")"; do
  if "$ck" inspect "$kdump" --quiet --log 0 --symbols "$a" 2>/dev/null | grep -qE '[a-z_/]+\.[ch]:[0-9]+'; then
    ck_vmlinux_args="--symbols $a"
    break
  fi
done
if [ -z "$ck_vmlinux_args" ]; then
  echo "vmcore.sh: NOTE: this ckdump prints no source lines with --symbols $VMLINUX;" \
       "the 'ckdump with vmlinux' row is skipped (re-run once inspect reads a vmlinux's DWARF)" >&2
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ckdump: $("$ck" --version 2>/dev/null || echo '?'), tree $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+changes')"
  echo "drgn: $(drgn --version 2>&1 | head -1 | cut -d' ' -f1-5)"
  echo "crash: $(crash --version 2>/dev/null | grep -m1 '^crash')"
  echo "hyperfine: $(hyperfine --version)"
  echo "vmlinux: $VMLINUX"
  echo "ckdump with vmlinux: ${ck_vmlinux_args:-skipped (no source lines from this build)}"
} > "$out/vmcore-env.txt"
cat "$out/vmcore-env.txt"

rss() { # name command... : peak RSS of one run (KiB) into vmcore-rss.txt, output kept
  local name=$1; shift
  local rc=0
  /usr/bin/time -f %M -o "$work/rss" "$@" > "$out/vmcore-out/$name.txt" 2> "$out/vmcore-out/$name.err" || rc=$?
  printf '%s\t%s\t%s\n' "$name" "$(tail -n1 "$work/rss")" "$rc" >> "$out/vmcore-rss.txt"
}
: > "$out/vmcore-rss.txt"

for form in kdump elf; do
  if [ $form = kdump ]; then dump=$kdump; else dump=$elf; fi
  cmds=(-n "ckdump" "$ck inspect $dump --quiet --log 20")
  [ -n "$ck_vmlinux_args" ] && cmds+=(-n "ckdump vmlinux" "$ck inspect $dump --quiet --log 20 $ck_vmlinux_args")
  cmds+=(-n "drgn vmlinux" "drgn -c $dump -s $VMLINUX $drgn_script"
         -n "drgn no debug info" "drgn -c $dump --no-default-symbols $drgn_script")
  hyperfine --warmup 2 --runs "$RUNS" -N "${cmds[@]}" \
    --export-markdown "$out/vmcore-$form.md" --export-json "$out/vmcore-$form.json"
  if [ "${SKIP_CRASH:-0}" != 1 ]; then
    # Not -N: the commands come on stdin. One open is 8-47 s: CRASH_RUNS runs, no warm-up
    # (the first is as warm as the others: the vmlinux and dump are in the page cache already).
    hyperfine --warmup 0 --runs "$CRASH_RUNS" \
      -n "crash vmlinux" "crash -s $VMLINUX $dump < $work/crash-cmds" \
      --export-markdown "$out/vmcore-$form-crash.md" --export-json "$out/vmcore-$form-crash.json"
  fi
  rss "$form ckdump" "$ck" inspect "$dump" --quiet --log 20
  # shellcheck disable=SC2086
  [ -n "$ck_vmlinux_args" ] && rss "$form ckdump vmlinux" "$ck" inspect "$dump" --quiet --log 20 $ck_vmlinux_args
  rss "$form drgn vmlinux" drgn -c "$dump" -s "$VMLINUX" "$drgn_script"
  rss "$form drgn no debug info" drgn -c "$dump" --no-default-symbols "$drgn_script"
  if [ "${SKIP_CRASH:-0}" != 1 ]; then
    rss "$form crash vmlinux" bash -c "crash -s $VMLINUX $dump < $work/crash-cmds"
  fi
done

# Scaling: the same ckdump command on a 512 MiB and a 4 GiB guest's dumps, each form.
scale_forms=()
if [ -f "$SCALE_DIR/COMPLETE-512M" ] && [ -f "$SCALE_DIR/COMPLETE-4096M" ]; then
  for f in elf kdump-zlib kdump-zlib.flat; do
    scale_forms+=("$f")
    hyperfine --warmup 2 --runs "$RUNS" -N \
      -n "512M $f" "$ck inspect $SCALE_DIR/vmcore-512M.$f --quiet --log 20" \
      -n "4096M $f" "$ck inspect $SCALE_DIR/vmcore-4096M.$f --quiet --log 20" \
      --export-markdown "$out/vmcore-scale-$f.md" --export-json "$out/vmcore-scale-$f.json"
    rss "512M $f" "$ck" inspect "$SCALE_DIR/vmcore-512M.$f" --quiet --log 20
    rss "4096M $f" "$ck" inspect "$SCALE_DIR/vmcore-4096M.$f" --quiet --log 20
  done
else
  echo "vmcore.sh: NOTE: no 512 MiB / 4 GiB guest dumps in $SCALE_DIR (bash bench/gen-vmcores.sh makes them); scaling skipped" >&2
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/vmcore-env.txt"

python3 - "$out" "${scale_forms[@]}" > "$out/vmcore-summary.md" <<'EOF'
import json, os, sys
out, scale_forms = sys.argv[1], sys.argv[2:]
rss = {}
for line in open(f"{out}/vmcore-rss.txt"):
    name, kib, rc = line.rstrip("\n").split("\t")
    rss[name] = (int(kib) / 1024 if kib.isdigit() else None, rc)
def runs(path):
    if not os.path.exists(path):
        return {}
    return {r["command"]: r for r in json.load(open(path))["results"]}
def cell(r):
    return f"{r['mean'] * 1000:.0f} ± {r['stddev'] * 1000:.0f}" if r else "—"
def mib(key):
    v = rss.get(key)
    if not v or v[0] is None:
        return "—"
    return f"{v[0]:.1f}" + ("" if v[1] == "0" else f" (exit {v[1]})")
print(open(f"{out}/vmcore-env.txt").read())
print("| dump | tool | mean ± σ ms | user+sys ms | vs ckdump (no vmlinux) | peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|")
goals = {}
for form in ("kdump", "elf"):
    r = runs(f"{out}/vmcore-{form}.json") | runs(f"{out}/vmcore-{form}-crash.json")
    base = r.get("ckdump")
    for name in ("ckdump", "ckdump vmlinux", "drgn vmlinux", "drgn no debug info", "crash vmlinux"):
        x = r.get(name)
        if not x:
            continue
        cpu = (x["user"] + x["system"]) * 1000
        ratio = f"{x['mean'] / base['mean']:.1f}×" if base and name != "ckdump" else ""
        print(f"| {form} | {name} | {cell(x)} | {cpu:.0f} | {ratio} | {mib(f'{form} {name}')} |")
    goals[form] = r
print()
for form, r in goals.items():
    ck, ckv, dv = r.get("ckdump"), r.get("ckdump vmlinux"), r.get("drgn vmlinux")
    cpu = lambda x: x["user"] + x["system"]
    if ck and dv:
        print(f"- {form}: ckdump without vmlinux / drgn with vmlinux = {ck['mean'] / dv['mean']:.3f} "
              f"(goal ≤ 0.1: {'met' if ck['mean'] <= 0.1 * dv['mean'] else 'NOT met'}); "
              f"CPU time (user+sys) {cpu(ck) / cpu(dv):.3f}")
    if ckv and dv:
        t = ckv["mean"] / dv["mean"]
        m = (rss.get(f"{form} ckdump vmlinux") or (0,))[0] / (rss.get(f"{form} drgn vmlinux") or (1,))[0]
        print(f"- {form}: ckdump with vmlinux / drgn with vmlinux = {t:.3f} time, {m:.3f} RSS "
              f"(goal ≤ 0.5 both: {'met' if t <= 0.5 and m <= 0.5 else 'NOT met'}); "
              f"CPU time {cpu(ckv) / cpu(dv):.3f}")
    elif dv:
        print(f"- {form}: ckdump with vmlinux not measured (this build reads no vmlinux DWARF)")
    if r.get("crash vmlinux") and ck:
        print(f"- {form}: crash / ckdump = {r['crash vmlinux']['mean'] / ck['mean']:.0f}×, "
              f"drgn with vmlinux / ckdump = {dv['mean'] / ck['mean']:.1f}×")
if scale_forms:
    print("\n| form | 512 MiB guest ms | 4 GiB guest ms | 4 GiB / 512 MiB | user+sys ms 512M / 4G | peak RSS MiB 512M / 4G |")
    print("|---|---:|---:|---:|---:|---:|")
    for f in scale_forms:
        r = runs(f"{out}/vmcore-scale-{f}.json")
        a, b = r[f"512M {f}"], r[f"4096M {f}"]
        q = b["mean"] / a["mean"]
        cpu_ms = lambda x: (x["user"] + x["system"]) * 1000
        print(f"| {f} | {cell(a)} | {cell(b)} | {q:.2f} ({'met' if q <= 1.5 else 'NOT met'}) "
              f"| {cpu_ms(a):.0f} / {cpu_ms(b):.0f} | {mib(f'512M {f}')} / {mib(f'4096M {f}')} |")
EOF
cat "$out/vmcore-summary.md"
