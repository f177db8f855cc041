#!/usr/bin/env bash
# Side-by-side on a big CRIU checkpoint (bench/criu-big.sh: 544 MiB process, ~536 MiB of pages):
#   ckdump inspect --regions  beside  crit x DIR mems            (the memory map; inspect also
#                                     unwinds and symbolizes every thread: libc's DWARF from
#                                     /usr/lib/debug; --no-host-symbols times the reader alone)
#   ckdump verify             beside  crit show pagemap + mm      (what crit offers to look at an
#                                     image's memory: decode the two images that describe it),
#                                     crit show of every image     (decoding everything is all the
#                                     checking crit can do; pages-N.img is raw, crit refuses it)
#                                     sha256sum of every file      (the streaming baseline: reading
#                                     and hashing all page data once, as a user checking a copy would;
#                                     coreutils has no SHA-NI, `openssl dgst -sha256` does: the
#                                     fastest one-stream SHA-256 on the machine)
#   ckdump seal + verify --seal       when this ckdump has `seal` (SHA-256 of every file and, in
#                                     ckdump-seal/2, of every 4 MiB chunk: verify checks chunks on
#                                     every core)
# all in one hyperfine run (warm page cache: the images are read once before timing), plus
# peak RSS of each command by /usr/bin/time. Writes bench/results/criu-big.{md,json},
# criu-big-rss.md and criu-big-summary.md (ratios, page-data throughput).
#
#   bash bench/criu.sh            # as root; makes bench/data/criu-big first if needed
#   RUNS=5 bash bench/criu.sh     # fewer runs (default 10, 2 warm-ups)
#   CKDUMP=/path/to/ckdump RESULTS=bench/results/other bash bench/criu.sh   # time another build
#
# Not a test: this machine is shared and noisy; read the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${RESULTS:-$root/bench/results}
mkdir -p "$out"
RUNS=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
command -v crit >/dev/null || apt-get install -y -qq criu >/dev/null
command -v openssl >/dev/null || apt-get install -y -qq openssl >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
bash bench/criu-big.sh
data=$root/bench/data/criu-big
dir=$data/images
sysroot=$data/sysroot

if [ -n "${CKDUMP:-}" ]; then
  ck=$CKDUMP    # another build (a branch's binary) instead of this tree's release build
else
  cargo build --release --quiet
  ck=${CARGO_TARGET_DIR:-$root/target}/release/ckdump
fi
[ -x "$ck" ] || { echo "criu.sh: no $ck after cargo build" >&2; exit 1; }

pid=$(sed -n 's/^ready pid=\([0-9]*\).*/\1/p' "$data/guest/ready.txt")
page_bytes=$(cat "$dir"/pages-*.img | wc -c)
image_bytes=$(cat "$dir"/* | wc -c)   # also warms the page cache
echo "criu.sh: $dir: pid $pid, $page_bytes bytes in pages-*.img, $image_bytes bytes in all files" >&2

# crit show of every image but the raw pages files (as testdata/criu/gen.sh does).
cat > "$work/crit-show-all.sh" <<EOF
for f in "$dir"/*.img; do
    case \$f in */pages-*.img) continue ;; esac
    crit show "\$f" > /dev/null || exit 1
done
EOF

# name|command   (verify exits 1 when it finds errors: hyperfine ignores exit codes here)
cases=(
  "ckdump inspect --regions|$ck inspect $dir --regions --sysroot $sysroot --quiet"
  "ckdump inspect --regions --no-host-symbols|$ck inspect $dir --regions --sysroot $sysroot --no-host-symbols --quiet"
  "crit x mems|crit x $dir mems"
  "ckdump verify|$ck verify $dir --sysroot $sysroot --quiet"
  "crit show pagemap+mm|crit show $dir/pagemap-$pid.img > /dev/null && crit show $dir/mm-$pid.img"
  "crit show every image|bash $work/crit-show-all.sh"
  "sha256sum every file|sha256sum $dir/*"
  "openssl sha256 every file|openssl dgst -sha256 $dir/*"
)
# After the seal subcommand lands: hash every file, then verify against that manifest (the
# manifest goes to the scratch directory, never into the cached image directory).
if "$ck" seal --help >/dev/null 2>&1; then
  seal="$work/criu-big.seal.json"
  "$ck" seal "$dir" --output "$seal" >/dev/null
  cases+=(
    "ckdump seal|$ck seal $dir --output $work/timed.seal.json"
    "ckdump verify --seal|$ck verify $dir --sysroot $sysroot --seal $seal --quiet"
  )
fi

args=()
for c in "${cases[@]}"; do args+=(-n "${c%%|*}" "${c#*|}"); done
hyperfine --warmup 2 --runs "$RUNS" --ignore-failure "${args[@]}" \
  --export-markdown "$out/criu-big.md" --export-json "$out/criu-big.json"

printf '| command | peak RSS (KiB) | exit |\n|---|---:|---:|\n' > "$out/criu-big-rss.md"
for c in "${cases[@]}"; do
  rc=0
  /usr/bin/time -f %M -o "$work/rss" bash -c "${c#*|}" >/dev/null 2>"$work/err" || rc=$?
  printf '| %s | %s | %s |\n' "${c%%|*}" "$(tail -n1 "$work/rss")" "$rc" >> "$out/criu-big-rss.md"
done

python3 - "$out/criu-big.json" "$out/criu-big-rss.md" "$page_bytes" "$image_bytes" \
  > "$out/criu-big-summary.md" <<'EOF'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss = {}
for line in open(sys.argv[2]).read().splitlines()[2:]:
    cells = [c.strip() for c in line.strip("|").split("|")]
    rss[cells[0]] = int(cells[1]) / 1024
page, total = int(sys.argv[3]), int(sys.argv[4])
print(f"page data: {page} bytes ({page / 2**20:.1f} MiB) in pages-*.img; {total} bytes in all files\n")
print("| command | mean ms | ± ms | peak RSS MiB | page data / wall time |")
print("|---|---:|---:|---:|---:|")
for name, r in runs.items():
    ms, sd = r["mean"] * 1000, r["stddev"] * 1000
    print(f"| {name} | {ms:.1f} | {sd:.1f} | {rss.get(name, 0):.1f} | {page / r['mean'] / 1e9:.2f} GB/s |")
def ratio(a, b):
    if a in runs and b in runs:
        print(f"- {b} / {a}: {runs[b]['mean'] / runs[a]['mean']:.2f}x (above 1: ckdump faster)")
print()
ratio("ckdump inspect --regions", "crit x mems")
ratio("ckdump inspect --regions --no-host-symbols", "crit x mems")
ratio("ckdump verify", "crit show pagemap+mm")
ratio("ckdump verify", "crit show every image")
ratio("ckdump verify --seal", "sha256sum every file")
ratio("ckdump seal", "sha256sum every file")
ratio("ckdump verify --seal", "openssl sha256 every file")
ratio("ckdump seal", "openssl sha256 every file")
EOF
cat "$out/criu-big.md" "$out/criu-big-rss.md" "$out/criu-big-summary.md"
