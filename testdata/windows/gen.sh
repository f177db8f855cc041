#!/usr/bin/env bash
# testdata/windows/gen.sh - regenerate the Windows (PE + PDB + minidump) fixtures of ckdump.
#
#   usage (as root, Debian 12, from any directory):   bash testdata/windows/gen.sh
#
#   1. installs clang, lld, llvm, wine, wine64 (apt-get) when missing
#   2. builds src/*.c for x86_64 and i686 with clang (MSVC ABI, CodeView) + lld-link: no CRT, no
#      Windows SDK (w32.h declares the few APIs; import libraries come from the .def files through
#      llvm-dlltool); /pdbaltpath:%_PDB% so the PE records only the PDB file name, /Brepro so the
#      timestamp and PDB GUID are content hashes (the same compiler gives the same files)
#   3. runs the x64 programs under wine (headless, WINEPREFIX in the stage folder):
#        NAME.winedbg.txt        winedbg --auto crash report (AeDebug default)       -> reference/
#        NAME_selfdump.dmp       MiniDumpWriteDump from the program's own exception filter
#        NAME_aedebug.dmp        the crash-time debugger: AeDebug = winedbg --minidump FILE %ld %ld
#        NAME_*.winedbg_load.txt winedbg reading each dump back (backtrace from the dump) -> reference/
#      wine 8.0 here cannot run 32-bit programs, so the x86 builds get no dumps.
#   4. NAME_*_cv.dmp: copies with each module's CodeView (RSDS) record added from the PE on disk
#      (wine's dbghelp leaves MINIDUMP_MODULE.CvRecord empty) - fixtures.py add-cv
#   5. binaries and PDBs into ../../symbols in symbol-store layout:
#        NAME.pdb/<GUID><AGE>/NAME.pdb   NAME.exe/<TIMESTAMP %08X><SizeOfImage %x>/NAME.exe
#      and, when dump_syms is installed, Breakpad symbols NAME.pdb/<GUID><AGE>/NAME.sym
#   6. reference/: minidump-stackwalk (if installed) of each *_cv.dmp with ../../symbols, llvm-pdbutil dump --symbols -l --il (lines, inlinee lines) per PDB, llvm-readobj
#      --coff-debug-directory per PE, and expected.json (fixtures.py expected)
#
# Programs run from the FIXED folder /tmp/ckdump-win/run (Z:\tmp\ckdump-win\run in wine) and are
# compiled in /tmp/ckdump-win/src, so the paths in dumps and PDBs do not depend on the checkout.
# KEEP_STAGE=1 keeps /tmp/ckdump-win afterwards.  Takes about two minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SYMS=$ROOT/symbols
STAGE=/tmp/ckdump-win
PROGS=(wcrash wthreads winline)
CARGO_BIN=${CARGO_HOME:-$HOME/.cargo}/bin
export PATH="$PATH:$CARGO_BIN"
DUMP_SYMS=$(command -v dump_syms || echo "$CARGO_BIN/dump_syms")

# ---- 1. tools ---------------------------------------------------------------------------------
need=()
for pkg in clang lld llvm wine wine64 python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

rm -rf "$STAGE"
mkdir -p "$STAGE"/{src,build64,build32,run,home}
cp "$HERE"/src/* "$STAGE/src/"

# ---- 2. build ---------------------------------------------------------------------------------
CFLAGS=(-O1 -g -gcodeview -fno-stack-protector -fno-builtin -Wall)
LDFLAGS=(/nologo /entry:start /subsystem:console /nodefaultlib /debug:full /Brepro '/pdbaltpath:%_PDB%')
cd "$STAGE/build64"
llvm-dlltool -m i386:x86-64 -d ../src/kernel32.def -l kernel32.lib
llvm-dlltool -m i386:x86-64 -d ../src/dbghelp.def -l dbghelp.lib
for p in "${PROGS[@]}"; do
  # -funwind-tables keeps .pdata/.xdata (x64 unwind info) in a program without a CRT
  clang --target=x86_64-pc-windows-msvc "${CFLAGS[@]}" -funwind-tables -c "$STAGE/src/$p.c" -o "$p.obj"
  lld-link "${LDFLAGS[@]}" /pdb:"$p.pdb" /out:"$p.exe" "$p.obj" kernel32.lib dbghelp.lib
done
cd "$STAGE/build32"
# stdcall-decorated import libraries; -k drops the @N from the DLL's import names
llvm-dlltool -m i386 -k -d ../src/kernel32-x86.def -l kernel32.lib
llvm-dlltool -m i386 -k -d ../src/dbghelp-x86.def -l dbghelp.lib
for p in "${PROGS[@]}"; do
  clang --target=i686-pc-windows-msvc "${CFLAGS[@]}" -c "$STAGE/src/$p.c" -o "$p.obj"
  lld-link "${LDFLAGS[@]}" /machine:x86 /pdb:"${p}32.pdb" /out:"${p}32.exe" "$p.obj" kernel32.lib dbghelp.lib
done

# ---- 3. dumps under wine ----------------------------------------------------------------------
export WINEPREFIX="$STAGE/pfx" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export HOME="$STAGE/home"
unset DISPLAY WAYLAND_DISPLAY
wineboot --init >/dev/null 2>&1 || true
wineserver -w || true
AEKEY='HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug'
aedebug() { wine reg add "$AEKEY" /v Debugger /t REG_SZ /d "$1" /f >/dev/null 2>&1; wineserver -w || true; }

cp "$STAGE"/build64/*.exe "$STAGE"/build64/*.pdb "$STAGE/run/"
cd "$STAGE/run"
for p in "${PROGS[@]}"; do
  aedebug 'winedbg --auto %ld %ld'
  timeout 120 wine "./$p.exe" >"$p.winedbg.txt" 2>&1 || true
  wineserver -w || true
  timeout 120 wine "./$p.exe" selfdump >"$p.selfdump.log" 2>&1 || true
  wineserver -w || true
  # forward slashes: winedbg's command-line parser eats backslash escapes
  aedebug "winedbg --minidump Z:$STAGE/run/${p}_aedebug.dmp %ld %ld"
  timeout 120 wine "./$p.exe" >"$p.aedebug.log" 2>&1 || true
  wineserver -w || true
done
aedebug 'winedbg --auto %ld %ld'
# winedbg reading each dump back (it finds NAME.pdb beside NAME.exe in the run folder)
for d in *_selfdump.dmp *_aedebug.dmp; do
  timeout 60 winedbg "$d" </dev/null >"${d%.dmp}.winedbg_load.txt" 2>&1 || true
  wineserver -w || true
done
wineserver -k || true

# ---- 4. CodeView copies, outputs --------------------------------------------------------------
OUT=$HERE/dumps REF=$HERE/reference
rm -rf "$OUT" "$REF"
mkdir -p "$OUT" "$REF"
for p in "${PROGS[@]}"; do
  for kind in selfdump aedebug; do
    d="${p}_$kind.dmp"
    if [ -s "$d" ]; then
      cp "$d" "$OUT/$d"
      python3 "$HERE/fixtures.py" add-cv "$d" "$OUT/${p}_${kind}_cv.dmp"
    else
      echo "WARNING: $d was not written" >&2
    fi
  done
  # the program's pid/tid line + winedbg's report; wine prints the process's own pids (hex)
  cp "$p.winedbg.txt" "$REF/$p.winedbg.txt"
  for kind in selfdump aedebug; do
    [ -f "${p}_$kind.winedbg_load.txt" ] && cp "${p}_$kind.winedbg_load.txt" "$REF/"
  done
  cat "$p.selfdump.log" "$p.aedebug.log" >"$REF/$p.run.log"
done

# ---- 5. symbol store --------------------------------------------------------------------------
for exe in "$STAGE"/build64/*.exe "$STAGE"/build32/*.exe; do
  read -r name pdbname guidage tssize < <(python3 "$HERE/fixtures.py" pe-ident "$exe")
  pdb="$(dirname "$exe")/$pdbname"
  # the PDB must carry the GUID and age the PE's RSDS record names
  pg=$(llvm-pdbutil dump --summary "$pdb" | sed -n 's/.*GUID: {\(.*\)}/\1/p' | tr -d -)
  pa=$(llvm-pdbutil dump --summary "$pdb" | sed -n 's/.*Age: //p')
  [ "$pg$(printf %X "$pa")" = "$guidage" ] || { echo "GUID/age mismatch: $exe $guidage vs $pdb $pg $pa" >&2; exit 1; }
  for old in "$SYMS/$name" "$SYMS/$pdbname"; do rm -rf "$old"; done
  mkdir -p "$SYMS/$name/$tssize" "$SYMS/$pdbname/$guidage"
  cp "$exe" "$SYMS/$name/$tssize/$name"
  cp "$pdb" "$SYMS/$pdbname/$guidage/$pdbname"
  # Breakpad symbols beside the PDB (NAME.pdb/GUIDAGE/NAME.sym), if dump_syms is installed
  # (cargo install dump_syms): FUNC/line/INLINE from the PDB, STACK CFI (x64 .pdata) from the PE
  if [ -x "$DUMP_SYMS" ]; then
    (cd "$(dirname "$exe")" && "$DUMP_SYMS" --inlines "$name") >"$SYMS/$pdbname/$guidage/${pdbname%.pdb}.sym" \
      || echo "WARNING: dump_syms failed on $exe" >&2
  fi
  # ---- 6. reference outputs of the LLVM tools
  base=${name%.exe}
  llvm-pdbutil dump --symbols -l --il "$pdb" >"$REF/$base.pdbutil.txt"
  llvm-readobj --coff-debug-directory "$exe" >"$REF/$base.readobj.txt"
done
# minidump-stackwalk (cargo install minidump-stackwalk), if installed: the Breakpad-symbol view
MSW=$(command -v minidump-stackwalk || echo "$CARGO_BIN/minidump-stackwalk")
if [ -x "$MSW" ]; then
  for d in "$OUT"/*_cv.dmp; do
    "$MSW" --symbols-path "$SYMS" "$d" >"$REF/$(basename "${d%.dmp}").stackwalk.txt" 2>/dev/null || true
  done
fi
python3 "$HERE/fixtures.py" expected "$HERE" "$SYMS" >"$HERE/expected.json"

[ "${KEEP_STAGE:-0}" = 1 ] || rm -rf "$STAGE"
echo "done: $(ls "$OUT" | wc -l) dumps in $OUT"
