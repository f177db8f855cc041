//! Lookups: an address to its function, file and line (with the inline
//! chain), from DWARF, a PDB, a Breakpad `.sym` or the symbol tables.

use super::elf_file::FunctionSymbol;
use super::loaded::DwarfReader;
use super::{SymbolFrame, Symbolizer};
use crate::unwind::parser_guard::guarded;

impl Symbolizer<'_> {
    /// The symbol-table function holding the entry point the auxiliary
    /// vector records (AT_ENTRY), as a runtime address range.
    pub(super) fn entry_function_range(&self) -> Option<(u64, u64)> {
        const AT_ENTRY: u64 = 9;
        let entry = self.process.auxv.iter().find(|a| a.key == AT_ENTRY)?.value;
        let loaded = self.load(self.module_index(entry)?)?;
        if let Some(symbol) = loaded.symbol_for(entry.wrapping_sub(loaded.bias)) {
            let start = symbol.address.wrapping_add(loaded.bias);
            return Some((start, start.checked_add(symbol.size.max(1))?));
        }
        let (_, sym) = loaded.breakpad.as_ref()?;
        let (start, end) = sym.function_range(entry.checked_sub(loaded.base)?)?;
        Some((
            loaded.base.checked_add(start)?,
            loaded.base.checked_add(end)?,
        ))
    }

    /// Frames for `address` (already `pc - 1` for return addresses),
    /// innermost inlined function first, the containing function last.
    pub fn lookup(&self, address: u64) -> Vec<SymbolFrame> {
        // gimli / addr2line read the module's DWARF here.
        guarded(|| self.lookup_unguarded(address)).unwrap_or_default()
    }

    fn lookup_unguarded(&self, address: u64) -> Vec<SymbolFrame> {
        let Some(loaded) = self.module_index(address).and_then(|i| self.load(i)) else {
            return Vec::new();
        };
        let rel = address.wrapping_sub(loaded.bias);
        let dwarf = loaded.dwarf_at(rel);
        let hit = dwarf_frames(dwarf, rel);
        if hit.frames.is_empty()
            && let Some((_, pdb)) = &loaded.pdb
            && let Ok(rva) = u32::try_from(address.wrapping_sub(loaded.base))
        {
            let found = pdb.lookup(rva);
            if !found.is_empty() {
                return found;
            }
        }
        if hit.frames.is_empty()
            && let Some((_, sym)) = &loaded.breakpad
        {
            let found = sym.lookup(address.wrapping_sub(loaded.base));
            if !found.is_empty() {
                return found;
            }
        }
        complete_frames(hit, dwarf, rel, loaded.symbol_for(rel), loaded.kernel)
    }
}

/// What DWARF says about one address: the inline chain, innermost first.
pub(super) struct DwarfHit {
    pub(super) frames: Vec<SymbolFrame>,
    /// The containing function comes from an assembler unit.
    assembler: bool,
    /// The containing function's DIE, for its entry address.
    function_die: Option<gimli::UnitOffset<usize>>,
}

/// The inline chain DWARF (`ctx`) gives for link-time address `rel`.
pub(super) fn dwarf_frames(ctx: Option<&addr2line::Context<DwarfReader>>, rel: u64) -> DwarfHit {
    let mut hit = DwarfHit {
        frames: Vec::new(),
        assembler: false,
        function_die: None,
    };
    if let Some(ctx) = ctx
        && let Ok(mut iter) = ctx.find_frames(rel).skip_all_loads()
    {
        // Inline depth is bounded by the DWARF, but a damaged file
        // could loop; 64 levels is far beyond real code.
        while let Ok(Some(frame)) = iter.next() {
            hit.function_die = frame.dw_die_offset;
            hit.assembler = frame
                .function
                .as_ref()
                .is_some_and(|f| f.language == Some(gimli::DW_LANG_Mips_Assembler));
            let function = frame
                .function
                .as_ref()
                .and_then(|f| f.raw_name().ok())
                .map(|n| demangle(&n));
            let (file, line, column) = match frame.location {
                Some(l) => (l.file.map(str::to_string), l.line, l.column),
                None => (None, None, None),
            };
            hit.frames.push(SymbolFrame {
                function,
                function_offset: None,
                file,
                line,
                column: column.filter(|c| *c > 0),
                inlined: true,
            });
            if hit.frames.len() >= 64 {
                break;
            }
        }
    }
    hit
}

/// The frames for `rel` from DWARF's `hit` and the symbol-table function
/// holding it: the outermost frame named (by the symbol when DWARF has no
/// name, or an assembler one), its offset from the function's entry, a
/// line for assembly, and a kernel's (`kernel`) files named from its
/// source tree's root.
pub(super) fn complete_frames(
    hit: DwarfHit,
    dwarf: Option<&addr2line::Context<DwarfReader>>,
    rel: u64,
    symbol: Option<&FunctionSymbol>,
    kernel: bool,
) -> Vec<SymbolFrame> {
    let DwarfHit {
        mut frames,
        assembler,
        mut function_die,
    } = hit;
    if frames.is_empty() {
        if symbol.is_none() {
            return frames;
        }
        frames.push(SymbolFrame::default());
    }
    if let Some(last) = frames.last_mut() {
        last.inlined = false;
        if let Some(sym) = symbol {
            // gas names an assembly function's DIE after its label
            // (`clone3`); the symbol table's best alias is the name the
            // author exported and eu-stack prints (`__clone3`).
            if last.function.is_none() || assembler {
                last.function = Some(demangle(&sym.name));
                function_die = None;
            }
            last.function_offset = rel.checked_sub(sym.address);
        }
        // A function named by DWARF is measured from its own entry: a
        // symbol there may be another part of it (`foo.cold`). A pc in
        // another part has no offset from the entry worth showing.
        if last.function.is_some()
            && let Some(die) = function_die
            && let Some((entry, same_part)) = dwarf.and_then(|c| function_entry(c, rel, die))
        {
            last.function_offset = rel.checked_sub(entry).filter(|_| same_part);
        }
        if last.file.is_none() {
            // Assembly has line rows but no function DIE.
            if let Some(Ok(Some(loc))) = dwarf.map(|c| c.find_location(rel)) {
                last.file = loc.file.map(str::to_string);
                last.line = loc.line;
                last.column = loc.column.filter(|c| *c > 0);
            }
        }
    }
    if kernel && let Some(dir) = dwarf.and_then(|c| relative_comp_dir(c, rel)) {
        for frame in &mut frames {
            if let Some(file) = &mut frame.file
                && let Some(rest) = file.strip_prefix(&dir).and_then(|r| r.strip_prefix('/'))
            {
                *file = rest.to_string();
            }
        }
    }
    frames
}

/// The compilation directory of the unit covering `rel` when it is
/// relative: a kernel built with its build directory mapped away
/// (`-fdebug-prefix-map`) records `debian/build/build_amd64_…` there, and
/// its sources are better named from the tree's root (`kernel/panic.c`),
/// as elfutils-based tools name them.
fn relative_comp_dir(ctx: &addr2line::Context<DwarfReader>, rel: u64) -> Option<String> {
    let unit = ctx.find_dwarf_and_unit(rel).skip_all_loads()?;
    let dir = gimli::Reader::to_string_lossy(unit.comp_dir.as_ref()?)
        .ok()?
        .into_owned();
    (!dir.is_empty() && !dir.starts_with('/')).then_some(dir)
}

/// Entry address of the function DIE at `die` in the unit covering `rel`
/// (DW_AT_entry_pc, else DW_AT_low_pc, else the first of its DW_AT_ranges:
/// compilers list the entry part first), and whether `rel` lies in the
/// same contiguous part as the entry (not in a split-off `.cold` part).
fn function_entry(
    ctx: &addr2line::Context<DwarfReader>,
    rel: u64,
    die: gimli::UnitOffset<usize>,
) -> Option<(u64, bool)> {
    let unit = ctx.find_dwarf_and_unit(rel).skip_all_loads()?;
    let entry = unit.entry(die).ok()?;
    let mut address = None;
    for attr in [gimli::DW_AT_entry_pc, gimli::DW_AT_low_pc] {
        if let Some(value) = entry.attr_value(attr)
            && let Ok(Some(a)) = unit.attr_address(value)
        {
            address = Some(a);
            break;
        }
    }
    let mut ranges = unit.die_ranges(&entry).ok()?;
    // A function has a handful of parts; the bound guards damaged lists.
    let mut parts = Vec::new();
    while let Ok(Some(r)) = ranges.next() {
        parts.push((r.begin, r.end));
        if parts.len() >= 1024 {
            break;
        }
    }
    let entry = address.or_else(|| parts.first().map(|p| p.0))?;
    let same_part = parts
        .iter()
        .find(|(begin, end)| (*begin..*end).contains(&entry))
        .is_none_or(|(begin, end)| (*begin..*end).contains(&rel));
    Some((entry, same_part))
}

/// Demangles Rust and C++ (Itanium) names; others are returned as they are.
pub fn demangle(name: &str) -> String {
    guarded(|| demangle_unguarded(name)).unwrap_or_else(|| name.to_string())
}

fn demangle_unguarded(name: &str) -> String {
    if (name.starts_with("_R")
        || (name.starts_with("_ZN") && name.ends_with('E') && name.contains("17h")))
        && let Ok(d) = rustc_demangle::try_demangle(name)
    {
        return format!("{d:#}");
    }
    if name.starts_with("_Z")
        && let Ok(sym) = cpp_demangle::Symbol::new(name)
        && let Ok(d) = sym.demangle()
    {
        return d;
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_cpp_and_rust() {
        assert_eq!(
            demangle("_ZN11ckdump_test6Widget7explodeEi"),
            "ckdump_test::Widget::explode(int)"
        );
        assert_eq!(
            demangle("_ZN3std2rt10lang_start17h0123456789abcdefE"),
            "std::rt::lang_start"
        );
        assert_eq!(demangle("__GI___clock_nanosleep"), "__GI___clock_nanosleep");
    }
}
