//! PDB symbols: procedures, line numbers and inline sites, through the
//! `pdb` crate and `pdb-addr2line` (which turns S_INLINESITE binary
//! annotations into inline frames — no need to write that by hand).

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use crate::memory::Bytes;
use crate::symbols::SymbolFrame;
use crate::unwind::parser_guard::guarded;

type PdbData = pdb_addr2line::ContextPdbData<'static, 'static, Cursor<Bytes>>;
type PdbContext<'a> = pdb_addr2line::Context<'a, 'static>;

self_cell::self_cell!(
    /// The parsed PDB streams and the lookup context that borrows them.
    struct PdbCell {
        owner: PdbData,
        #[not_covariant]
        dependent: PdbContext,
    }
);

/// One x86 frame data record (the "New FPO" FrameData stream, or an old
/// FPO record), with its start as an image RVA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameDataRecord {
    pub rva: u32,
    pub code_size: u32,
    pub prolog_size: u16,
    pub locals_size: u32,
    pub params_size: u32,
    pub saved_regs_size: u16,
    /// Absent in old FPO records.
    pub max_stack_size: Option<u32>,
    /// The postfix program (`$T0 .raSearch = $eip $T0 ^ = ...`), if any.
    pub program: Option<String>,
    pub has_seh: bool,
    pub uses_base_pointer: bool,
    pub is_function_start: bool,
}

/// Upper bound on frame data records kept (each is 32 bytes on disk, so a
/// real stream never comes near; a forged count cannot exhaust memory).
const MAX_FRAME_RECORDS: usize = 1 << 20;

/// Upper bound on the bytes of distinct frame programs kept: records share
/// a handful of programs, but forged string offsets could each name a long
/// overlapping tail of the string table.
const MAX_PROGRAM_BYTES: usize = 16 << 20;

/// The frame data records, sorted by RVA, with their programs shared.
#[derive(Default)]
struct FrameTable {
    /// Sorted by `rva` (stable: records at one RVA keep stream order);
    /// `program` is left `None` here and filled from `programs` on lookup.
    records: Vec<(FrameDataRecord, Option<usize>)>,
    programs: Vec<String>,
}

/// A PDB opened for lookups.
pub struct PdbSymbols {
    cell: PdbCell,
    guid: String,
    age: u32,
    /// x86 frame data; nested records (one per prolog step) share ranges.
    frame_data: FrameTable,
}

/// Reads the frame data stream through the PDB's address map; an absent or
/// damaged stream gives no records (x64 PDBs have none).
fn read_frame_data<S: for<'s> pdb::Source<'s> + 'static>(
    pdb: &mut pdb::PDB<'static, S>,
) -> FrameTable {
    let (Ok(map), Ok(table)) = (pdb.address_map(), pdb.frame_table()) else {
        return FrameTable::default();
    };
    let strings = pdb.string_table().ok();
    let mut out = FrameTable::default();
    let mut by_offset: HashMap<u32, usize> = HashMap::new();
    let mut program_bytes = 0usize;
    let mut iter = table.iter();
    while out.records.len() < MAX_FRAME_RECORDS {
        let Ok(Some(f)) = pdb::FallibleIterator::next(&mut iter) else {
            break;
        };
        let Some(rva) = f.code_start.to_rva(&map) else {
            continue;
        };
        let program = match (f.program, &strings) {
            (Some(r), Some(t)) => match by_offset.get(&r.0) {
                Some(&i) => Some(i),
                None if program_bytes < MAX_PROGRAM_BYTES => {
                    r.to_string_lossy(t).ok().map(|text| {
                        program_bytes += text.len();
                        out.programs.push(text.into_owned());
                        by_offset.insert(r.0, out.programs.len() - 1);
                        out.programs.len() - 1
                    })
                }
                None => None,
            },
            _ => None,
        };
        let record = FrameDataRecord {
            rva: rva.0,
            code_size: f.code_size,
            prolog_size: f.prolog_size,
            locals_size: f.locals_size,
            params_size: f.params_size,
            saved_regs_size: f.saved_regs_size,
            max_stack_size: f.max_stack_size,
            program: None,
            has_seh: f.has_structured_eh,
            uses_base_pointer: f.uses_base_pointer,
            is_function_start: f.is_function_start,
        };
        out.records.push((record, program));
    }
    out.records.sort_by_key(|(r, _)| r.rva);
    out
}

/// CodeView ends a variadic argument list with a no-type entry, which the
/// type formatter prints as `<NoType>`; C spells it `...`.
fn varargs(name: String) -> String {
    match name.strip_suffix("<NoType>)") {
        Some(head) if head.ends_with(", ") || head.ends_with('(') => format!("{head}...)"),
        _ => name,
    }
}

/// Longest decorated name handed to the demangler: it recurses on nesting,
/// and real decorated names are far shorter.
const MAX_DECORATED_LEN: usize = 1024;

/// Undecorates MSVC C++ names (`?name@@...`) with `msvc-demangler`;
/// anything else, or a decoration it cannot read, is kept as is. Runs
/// inside `guarded` (from `lookup`), so a demangler panic costs one name.
fn undecorate(name: String) -> String {
    if !name.starts_with('?') || name.len() > MAX_DECORATED_LEN {
        return name;
    }
    match msvc_demangler::demangle(&name, msvc_demangler::DemangleFlags::llvm()) {
        Ok(plain) if !plain.trim().is_empty() => plain,
        _ => name,
    }
}

/// Why a PDB could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PdbSymbolError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a usable PDB: {0}")]
    Pdb(#[from] pdb::Error),
    #[error("not a usable PDB: {0}")]
    Context(#[from] pdb_addr2line::Error),
    #[error("not a usable PDB: the parser failed on damaged data")]
    Damaged,
}

impl PdbSymbols {
    pub fn open(path: &Path) -> Result<PdbSymbols, PdbSymbolError> {
        guarded(|| Self::open_unguarded(path)).unwrap_or(Err(PdbSymbolError::Damaged))
    }

    fn open_unguarded(path: &Path) -> Result<PdbSymbols, PdbSymbolError> {
        let file = std::fs::File::open(path)?;
        let bytes = Bytes::map_file(&file)?;
        let mut pdb = pdb::PDB::open(Cursor::new(bytes))?;
        let info = pdb.pdb_information()?;
        let guid = info.guid.simple().to_string().to_uppercase();
        let age = pdb
            .debug_information()
            .map(|d| d.age().unwrap_or(info.age))
            .unwrap_or(info.age);
        let frame_data = read_frame_data(&mut pdb);
        let data = pdb_addr2line::ContextPdbData::try_from_pdb(pdb)?;
        let cell = PdbCell::try_new(data, |data| data.make_context())?;
        Ok(PdbSymbols {
            cell,
            guid,
            age,
            frame_data,
        })
    }

    /// GUID + age as symbol stores and Breakpad spell it
    /// (`5A9832E5287241C1838ED98914E9B7FF1`).
    pub fn debug_id(&self) -> String {
        format!("{}{:X}", self.guid, self.age)
    }

    /// The GUID as 32 upper-case hex digits.
    pub fn guid(&self) -> &str {
        &self.guid
    }

    pub fn age(&self) -> u32 {
        self.age
    }

    /// The x86 frame data record describing `rva`: of the records covering
    /// it, the one starting last (records nest, one per prolog step, and
    /// the innermost holds the state at `rva`).
    pub fn frame_data(&self, rva: u32) -> Option<FrameDataRecord> {
        let table = &self.frame_data;
        let end = table.records.partition_point(|(r, _)| r.rva <= rva);
        let (record, program) = table.records[..end]
            .iter()
            .rev()
            // Nesting is a few levels deep; bound the backward scan anyway.
            .take(256)
            .find(|(r, _)| rva - r.rva < r.code_size)?;
        let mut record = record.clone();
        record.program = program.and_then(|i| table.programs.get(i)).cloned();
        Some(record)
    }

    /// Whether this PDB belongs to a module with `debug_id` (GUID must
    /// match; the age may be bumped by incremental links).
    pub fn matches(&self, debug_id: &str) -> bool {
        // `get`: the id comes from a dump and may not be ASCII.
        debug_id.len() > 32
            && debug_id
                .get(..32)
                .is_some_and(|g| g.eq_ignore_ascii_case(&self.guid))
    }

    /// Frames for an RVA, innermost inlined first, the procedure last.
    pub fn lookup(&self, rva: u32) -> Vec<SymbolFrame> {
        guarded(|| self.lookup_unguarded(rva)).unwrap_or_default()
    }

    fn lookup_unguarded(&self, rva: u32) -> Vec<SymbolFrame> {
        self.cell.with_dependent(|_, ctx| {
            let Ok(Some(found)) = ctx.find_frames(rva) else {
                return Vec::new();
            };
            let n = found.frames.len();
            found
                .frames
                .into_iter()
                .enumerate()
                .map(|(i, f)| SymbolFrame {
                    function: f.function.map(undecorate).map(varargs),
                    // Checked: a damaged address map could put the start after `rva`.
                    function_offset: (i + 1 == n)
                        .then(|| rva.checked_sub(found.start_rva).map(u64::from))
                        .flatten(),
                    file: f.file.map(|c| c.into_owned()),
                    line: f.line,
                    column: None,
                    inlined: i + 1 < n,
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decorated_names_are_undecorated() {
        assert_eq!(
            undecorate("?foo@@YAXH@Z".to_string()),
            "void __cdecl foo(int)"
        );
        // C and stdcall publics and already readable names stay as they are.
        assert_eq!(undecorate("_CloseHandle@4".to_string()), "_CloseHandle@4");
        assert_eq!(
            undecorate("walk_list(node*, int)".to_string()),
            "walk_list(node*, int)"
        );
        // A damaged decoration keeps the raw name.
        assert_eq!(
            varargs("printf(char const*, <NoType>)".into()),
            "printf(char const*, ...)"
        );
        assert_eq!(varargs("f(<NoType>)".into()), "f(...)");
        assert_eq!(varargs("g(int)".into()), "g(int)");
        assert_eq!(undecorate("?@@".to_string()), "?@@");
    }
}
