//! PDB symbols: procedures, line numbers and inline sites, through the
//! `pdb` crate and `pdb-addr2line` (which turns S_INLINESITE binary
//! annotations into inline frames — no need to write that by hand).

use std::cell::Cell;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Once;

use crate::memory::Bytes;
use crate::symbols::SymbolFrame;

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

thread_local! {
    static IN_PDB_PARSER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` so that a panic inside the `pdb` crate (it has index
/// arithmetic that a damaged file can trip, e.g. in C13 line subsections)
/// becomes `None` instead of taking ckdump down, without printing the
/// panic message.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_PDB_PARSER.with(Cell::get) {
                previous(info);
            }
        }));
    });
    IN_PDB_PARSER.with(|g| g.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_PDB_PARSER.with(|g| g.set(false));
    result.ok()
}

/// A PDB opened for lookups.
pub struct PdbSymbols {
    cell: PdbCell,
    guid: String,
    age: u32,
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
        let data = pdb_addr2line::ContextPdbData::try_from_pdb(pdb)?;
        let cell = PdbCell::try_new(data, |data| data.make_context())?;
        Ok(PdbSymbols { cell, guid, age })
    }

    /// GUID + age as symbol stores and Breakpad spell it
    /// (`5A9832E5287241C1838ED98914E9B7FF1`).
    pub fn debug_id(&self) -> String {
        format!("{}{:X}", self.guid, self.age)
    }

    /// Whether this PDB belongs to a module with `debug_id` (GUID must
    /// match; the age may be bumped by incremental links).
    pub fn matches(&self, debug_id: &str) -> bool {
        debug_id.len() > 32 && debug_id[..32].eq_ignore_ascii_case(&self.guid)
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
                    function: f.function,
                    function_offset: (i + 1 == n).then(|| u64::from(rva - found.start_rva)),
                    file: f.file.map(|c| c.into_owned()),
                    line: f.line,
                    column: None,
                    inlined: i + 1 < n,
                })
                .collect()
        })
    }
}
