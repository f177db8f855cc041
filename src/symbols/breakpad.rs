//! Breakpad text symbol files (`.sym`, as `dump_syms` writes them), so a
//! team that already produces them can switch without regenerating.
//!
//! The file stays mapped; every line is parsed once into sorted vectors of
//! small records whose names are byte ranges into the mapping (no copies of
//! the text). Lookups are binary searches. Both INLINE / INLINE_ORIGIN
//! syntaxes are read: the old one has no call-site file in INLINE and a
//! file id in INLINE_ORIGIN.
//!
//! A damaged file gives what it can: malformed lines are skipped and
//! counted (the first few are kept with their line numbers); only a file
//! without a MODULE line is rejected.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::memory::Bytes;
use crate::symbols::SymbolFrame;
// The evaluator belongs to the unwinder; re-exported for existing users.
pub use crate::unwind::postfix::{evaluate_postfix, evaluate_win_program};

/// The MODULE line: `MODULE os arch debug_id name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleRecord {
    pub os: String,
    pub arch: String,
    pub debug_id: String,
    pub name: String,
}

/// A STACK WIN record: `STACK WIN type rva code_size prologue_size
/// epilogue_size parameter_size saved_register_size local_size
/// max_stack_size has_program_string program_string|allocates_base_pointer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackWinRecord {
    /// 4 = FrameData, 0 = FPO (1..3 are kept but never returned by lookups).
    pub kind: u32,
    pub address: u64,
    pub code_size: u64,
    pub prologue_size: u32,
    pub epilogue_size: u32,
    pub parameter_size: u32,
    pub saved_register_size: u32,
    pub local_size: u32,
    pub max_stack_size: u32,
    /// The postfix program (FrameData records with has_program_string = 1).
    pub program: Option<String>,
    /// The last field when there is no program string.
    pub allocates_base_pointer: bool,
}

/// Why a `.sym` file (or one of its lines) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakpadError {
    #[error("line {line}: not a Breakpad symbol file (no MODULE record)")]
    NoModule { line: usize },
    #[error("line {line}: MODULE record needs os, arch, debug id and name")]
    BadModule { line: usize },
    #[error("line {line}: malformed {record} record")]
    Malformed { line: usize, record: &'static str },
    #[error("line {line}: {record} record outside a {parent}")]
    Orphan {
        line: usize,
        record: &'static str,
        parent: &'static str,
    },
}

/// Byte range of a name inside the mapped file.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy)]
struct LineRecord {
    address: u64,
    size: u64,
    line: u32,
    file: u32,
}

#[derive(Debug, Clone, Copy)]
struct InlineRecord {
    depth: u32,
    call_line: u32,
    call_file: Option<u32>,
    origin: u32,
    /// Index range into `inline_ranges`.
    ranges: (usize, usize),
}

#[derive(Debug, Clone, Copy)]
struct Function {
    address: u64,
    size: u64,
    parameter_size: u32,
    name: Span,
    /// Index ranges into `lines` / `inlines` (records follow their FUNC).
    lines: (usize, usize),
    inlines: (usize, usize),
}

#[derive(Debug, Clone, Copy)]
struct CfiInit {
    address: u64,
    size: u64,
    rules: Span,
    /// Index range into `cfi_deltas` (deltas follow their INIT).
    deltas: (usize, usize),
}

#[derive(Debug, Clone, Copy)]
struct StackWin {
    kind: u32,
    address: u64,
    code_size: u64,
    sizes: [u32; 6],
    program: Option<Span>,
    allocates_base_pointer: bool,
}

/// How many malformed lines are kept with their line numbers.
const MAX_KEPT_PROBLEMS: usize = 32;
/// How far a lookup walks back over earlier (possibly enclosing) ranges.
const MAX_BACK_SCAN: usize = 64;

/// A parsed `.sym` file.
#[derive(Debug)]
pub struct BreakpadSymbols {
    bytes: Bytes,
    module: ModuleRecord,
    code_id: Option<Span>,
    files: Vec<(u32, Span)>,
    /// INLINE_ORIGIN id and the text after the id (old syntax: `file name`).
    origins: Vec<(u32, Span)>,
    old_inline_syntax: bool,
    functions: Vec<Function>,
    lines: Vec<LineRecord>,
    inlines: Vec<InlineRecord>,
    inline_ranges: Vec<(u64, u64)>,
    /// Address, parameter size, name.
    publics: Vec<(u64, u32, Span)>,
    cfi: Vec<CfiInit>,
    cfi_deltas: Vec<(u64, Span)>,
    stack_win: Vec<StackWin>,
    problems: Vec<BreakpadError>,
    malformed: usize,
}

/// A hex field (no `0x`), as Breakpad writes addresses and sizes.
fn hex_number(s: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

fn dec(s: &[u8]) -> Option<u32> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Line numbers: dump_syms has written negative ones for bad debug info;
/// they mean "unknown", like 0.
fn line_number(s: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(s).ok()?;
    match text.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => text.parse::<i64>().ok().map(|_| 0),
    }
}

/// Splits one line into space-separated fields, remembering offsets so the
/// remainder (a name that may contain spaces) becomes a `Span`.
struct Fields<'a> {
    line: &'a [u8],
    /// Offset of `line` in the file.
    base: usize,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn skip_spaces(&mut self) {
        while self
            .line
            .get(self.pos)
            .is_some_and(|c| *c == b' ' || *c == b'\t')
        {
            self.pos += 1;
        }
    }

    fn next_field(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let start = self.pos;
        while self
            .line
            .get(self.pos)
            .is_some_and(|c| *c != b' ' && *c != b'\t')
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.line.get(start..self.pos))?
    }

    /// Everything after the fields read so far (leading spaces skipped).
    fn rest(&mut self) -> Span {
        self.skip_spaces();
        Span {
            start: self.base + self.pos,
            end: self.base + self.line.len(),
        }
    }

    /// The address field of a FUNC or PUBLIC record, past the optional `m`
    /// (the function was merged with others by the linker).
    fn address_after_multiple_flag(&mut self) -> Option<&'a [u8]> {
        match self.next_field()? {
            b"m" => self.next_field(),
            first => Some(first),
        }
    }

    fn is_empty(&mut self) -> bool {
        self.skip_spaces();
        self.pos >= self.line.len()
    }
}

/// Lines of the file with their offsets, `\r\n` tolerated.
fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0usize;
    data.split(|c| *c == b'\n').map(move |line| {
        let start = offset;
        offset += line.len() + 1;
        (start, line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// Sorts the records each owner references by index range, in place.
fn sort_ranges<T>(
    items: &mut [T],
    ranges: impl Iterator<Item = (usize, usize)>,
    key: fn(&T) -> u64,
) {
    for (start, end) in ranges {
        if let Some(slice) = items.get_mut(start..end) {
            slice.sort_by_key(key);
        }
    }
}

impl BreakpadSymbols {
    /// Parses a `.sym` file kept mapped in `bytes`.
    pub fn parse(bytes: Bytes) -> Result<Self, BreakpadError> {
        let mut sym = BreakpadSymbols {
            bytes,
            module: ModuleRecord::default(),
            code_id: None,
            files: Vec::new(),
            origins: Vec::new(),
            old_inline_syntax: false,
            functions: Vec::new(),
            lines: Vec::new(),
            inlines: Vec::new(),
            inline_ranges: Vec::new(),
            publics: Vec::new(),
            cfi: Vec::new(),
            cfi_deltas: Vec::new(),
            stack_win: Vec::new(),
            problems: Vec::new(),
            malformed: 0,
        };
        // Cloning the handle (an Arc) lets the loop borrow the text while
        // filling `sym`.
        let bytes = sym.bytes.clone();
        let data: &[u8] = &bytes;
        let mut inline_parity: Option<bool> = None;
        let mut saw_module = false;
        for (index, (base, line)) in lines(data).enumerate() {
            let number = index + 1;
            // A byte-order mark some editors add.
            let (base, line) = match line.strip_prefix(b"\xef\xbb\xbf") {
                Some(rest) if index == 0 => (base + 3, rest),
                _ => (base, line),
            };
            let mut f = Fields { line, base, pos: 0 };
            let Some(keyword) = f.next_field() else {
                continue;
            };
            if !saw_module {
                if keyword != b"MODULE" {
                    return Err(BreakpadError::NoModule { line: number });
                }
                sym.parse_module(&mut f, number)?;
                saw_module = true;
                continue;
            }
            let result = match keyword {
                b"MODULE" => Err("MODULE"),
                b"INFO" => sym.parse_info(&mut f),
                b"FILE" => sym.parse_named(&mut f, false).ok_or("FILE"),
                b"INLINE_ORIGIN" => sym.parse_named(&mut f, true).ok_or("INLINE_ORIGIN"),
                b"FUNC" => sym.parse_func(&mut f).ok_or("FUNC"),
                b"INLINE" => match sym.parse_inline(&mut f) {
                    Ok(old) => {
                        inline_parity.get_or_insert(old);
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                b"PUBLIC" => sym.parse_public(&mut f).ok_or("PUBLIC"),
                b"STACK" => sym.parse_stack(&mut f),
                _ => {
                    f.pos = 0;
                    sym.parse_line_record(&mut f)
                }
            };
            if let Err(record) = result {
                sym.note_problem(number, record);
            }
        }
        if !saw_module {
            return Err(BreakpadError::NoModule { line: 1 });
        }
        sym.old_inline_syntax = inline_parity.unwrap_or(false);
        sym.finish();
        Ok(sym)
    }

    fn note_problem(&mut self, line: usize, record: &'static str) {
        self.malformed += 1;
        if self.problems.len() < MAX_KEPT_PROBLEMS {
            let error = match record {
                "line" => BreakpadError::Orphan {
                    line,
                    record,
                    parent: "FUNC",
                },
                "orphan INLINE" => BreakpadError::Orphan {
                    line,
                    record: "INLINE",
                    parent: "FUNC",
                },
                "STACK CFI delta" => BreakpadError::Orphan {
                    line,
                    record,
                    parent: "STACK CFI INIT",
                },
                _ => BreakpadError::Malformed { line, record },
            };
            self.problems.push(error);
        }
    }

    fn parse_module(&mut self, f: &mut Fields, line: usize) -> Result<(), BreakpadError> {
        let bad = BreakpadError::BadModule { line };
        let mut field = || {
            f.next_field()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        };
        let (Some(os), Some(arch), Some(debug_id)) = (field(), field(), field()) else {
            return Err(bad);
        };
        let name = f.rest();
        self.module = ModuleRecord {
            os,
            arch,
            debug_id,
            name: self.text(name).into_owned(),
        };
        Ok(())
    }

    fn parse_info(&mut self, f: &mut Fields) -> Result<(), &'static str> {
        // INFO CODE_ID id [file]; other INFO lines (GENERATOR, …) are fine.
        if f.next_field() == Some(b"CODE_ID") {
            let id = f.next_field().ok_or("INFO CODE_ID")?;
            let start = f.base + f.pos - id.len();
            self.code_id = Some(Span {
                start,
                end: f.base + f.pos,
            });
        }
        Ok(())
    }

    /// FILE id name / INLINE_ORIGIN id rest.
    fn parse_named(&mut self, f: &mut Fields, origin: bool) -> Option<()> {
        let id = dec(f.next_field()?)?;
        if f.is_empty() {
            return None;
        }
        let rest = f.rest();
        if origin {
            self.origins.push((id, rest));
        } else {
            self.files.push((id, rest));
        }
        Some(())
    }

    fn parse_func(&mut self, f: &mut Fields) -> Option<()> {
        let address = hex_number(f.address_after_multiple_flag()?)?;
        let size = hex_number(f.next_field()?)?;
        let parameter_size = u32::try_from(hex_number(f.next_field()?)?).ok()?;
        let name = f.rest();
        address.checked_add(size)?;
        let (lines, inlines) = (self.lines.len(), self.inlines.len());
        self.functions.push(Function {
            address,
            size,
            parameter_size,
            name,
            lines: (lines, lines),
            inlines: (inlines, inlines),
        });
        Some(())
    }

    /// Returns whether the record used the old syntax.
    fn parse_inline(&mut self, f: &mut Fields) -> Result<bool, &'static str> {
        let mut nums: Vec<&[u8]> = Vec::new();
        while let Some(field) = f.next_field() {
            nums.push(field);
        }
        // Old: depth line origin (addr size)+ = odd count;
        // new: depth line file origin (addr size)+ = even count.
        let old = nums.len() % 2 == 1;
        let head = if old { 3 } else { 4 };
        if nums.len() < head + 2 {
            return Err("INLINE");
        }
        let num = |i: usize| nums.get(i).and_then(|s| dec(s));
        let (Some(depth), Some(call_line)) = (num(0), nums.get(1).and_then(|s| line_number(s)))
        else {
            return Err("INLINE");
        };
        let (call_file, origin) = if old {
            (None, num(2))
        } else {
            (Some(num(2).ok_or("INLINE")?), num(3))
        };
        let origin = origin.ok_or("INLINE")?;
        let start = self.inline_ranges.len();
        for pair in nums.get(head..).unwrap_or_default().chunks_exact(2) {
            let (Some(a), Some(s)) = (
                pair.first().and_then(|x| hex_number(x)),
                pair.get(1).and_then(|x| hex_number(x)),
            ) else {
                self.inline_ranges.truncate(start);
                return Err("INLINE");
            };
            self.inline_ranges.push((a, s));
        }
        let end = self.inline_ranges.len();
        let Some(func) = self.functions.last_mut() else {
            self.inline_ranges.truncate(start);
            return Err("orphan INLINE");
        };
        self.inlines.push(InlineRecord {
            depth,
            call_line,
            call_file,
            origin,
            ranges: (start, end),
        });
        func.inlines.1 = self.inlines.len();
        Ok(old)
    }

    fn parse_public(&mut self, f: &mut Fields) -> Option<()> {
        let address = hex_number(f.address_after_multiple_flag()?)?;
        let parameter_size = u32::try_from(hex_number(f.next_field()?)?).ok()?;
        let name = f.rest();
        // Breakpad drops PUBLICs at 0 (seen in ntdll.pdb dumps): bogus.
        if address != 0 {
            self.publics.push((address, parameter_size, name));
        }
        Some(())
    }

    fn parse_stack(&mut self, f: &mut Fields) -> Result<(), &'static str> {
        match f.next_field() {
            Some(b"CFI") => {
                let first = f.next_field().ok_or("STACK CFI")?;
                if first == b"INIT" {
                    let address = f
                        .next_field()
                        .and_then(hex_number)
                        .ok_or("STACK CFI INIT")?;
                    let size = f
                        .next_field()
                        .and_then(hex_number)
                        .ok_or("STACK CFI INIT")?;
                    let rules = f.rest();
                    let d = self.cfi_deltas.len();
                    self.cfi.push(CfiInit {
                        address,
                        size,
                        rules,
                        deltas: (d, d),
                    });
                } else {
                    let address = hex_number(first).ok_or("STACK CFI")?;
                    let rules = f.rest();
                    let init = self.cfi.last_mut().ok_or("STACK CFI delta")?;
                    self.cfi_deltas.push((address, rules));
                    init.deltas.1 = self.cfi_deltas.len();
                }
                Ok(())
            }
            Some(b"WIN") => self.parse_stack_win(f).ok_or("STACK WIN"),
            _ => Err("STACK"),
        }
    }

    fn parse_stack_win(&mut self, f: &mut Fields) -> Option<()> {
        let kind = u32::try_from(hex_number(f.next_field()?)?).ok()?;
        let address = hex_number(f.next_field()?)?;
        let code_size = hex_number(f.next_field()?)?;
        let mut sizes = [0u32; 6];
        for s in &mut sizes {
            *s = u32::try_from(hex_number(f.next_field()?)?).ok()?;
        }
        let has_program = hex_number(f.next_field()?)? != 0;
        let (program, allocates_base_pointer) = if has_program {
            (Some(f.rest()), false)
        } else {
            (None, hex_number(f.next_field()?)? != 0)
        };
        self.stack_win.push(StackWin {
            kind,
            address,
            code_size,
            sizes,
            program,
            allocates_base_pointer,
        });
        Some(())
    }

    /// `address size line file`, belonging to the last FUNC.
    fn parse_line_record(&mut self, f: &mut Fields) -> Result<(), &'static str> {
        let rec = (|| {
            Some(LineRecord {
                address: hex_number(f.next_field()?)?,
                size: hex_number(f.next_field()?)?,
                line: line_number(f.next_field()?)?,
                file: dec(f.next_field()?)?,
            })
        })()
        .ok_or("unknown")?;
        let func = self.functions.last_mut().ok_or("line")?;
        self.lines.push(rec);
        func.lines.1 = self.lines.len();
        Ok(())
    }

    /// Sorts everything for binary searches.
    fn finish(&mut self) {
        sort_ranges(
            &mut self.lines,
            self.functions.iter().map(|f| f.lines),
            |l| l.address,
        );
        sort_ranges(
            &mut self.inlines,
            self.functions.iter().map(|f| f.inlines),
            |i| u64::from(i.depth),
        );
        sort_ranges(
            &mut self.cfi_deltas,
            self.cfi.iter().map(|c| c.deltas),
            |d| d.0,
        );
        // Enclosing ranges first, so the innermost is found first walking back.
        self.functions
            .sort_by_key(|f| (f.address, std::cmp::Reverse(f.size)));
        // Of several records at one address (`m`: identical code folded)
        // the first in the file is used, as Breakpad's resolver does.
        self.functions.dedup_by_key(|f| f.address);
        self.publics.sort_by_key(|p| p.0);
        self.publics.dedup_by_key(|p| p.0);
        self.cfi.sort_by_key(|c| c.address);
        self.stack_win
            .sort_by_key(|w| (w.kind, w.address, std::cmp::Reverse(w.code_size)));
        self.files.sort_by_key(|f| f.0);
        self.origins.sort_by_key(|o| o.0);
        if self.old_inline_syntax {
            // Old INLINE_ORIGIN: `id file_id name`; drop the file id.
            let data: &[u8] = &self.bytes;
            for (_, span) in &mut self.origins {
                let line = data.get(span.start..span.end).unwrap_or_default();
                let mut f = Fields {
                    line,
                    base: span.start,
                    pos: 0,
                };
                if f.next_field().and_then(dec).is_some() && !f.is_empty() {
                    *span = f.rest();
                }
            }
        }
    }

    fn text(&self, span: Span) -> Cow<'_, str> {
        String::from_utf8_lossy(self.bytes.get(span.start..span.end).unwrap_or_default())
    }

    fn by_id(&self, table: &[(u32, Span)], id: u32) -> Option<String> {
        let i = table.binary_search_by_key(&id, |e| e.0).ok()?;
        table.get(i).map(|(_, s)| self.text(*s).into_owned())
    }

    pub fn module(&self) -> &ModuleRecord {
        &self.module
    }

    /// The `INFO CODE_ID` value, if the file has one.
    pub fn code_id(&self) -> Option<String> {
        self.code_id.map(|s| self.text(s).into_owned())
    }

    /// How many lines were skipped as malformed.
    pub fn malformed_lines(&self) -> usize {
        self.malformed
    }

    /// The first skipped lines, with their line numbers.
    pub fn problems(&self) -> &[BreakpadError] {
        &self.problems
    }

    /// The innermost FUNC whose range holds `rva`.
    fn function_at(&self, rva: u64) -> Option<&Function> {
        let end = self.functions.partition_point(|f| f.address <= rva);
        let start = end.saturating_sub(MAX_BACK_SCAN);
        self.functions
            .get(start..end)?
            .iter()
            .rev()
            .find(|f| rva - f.address < f.size)
    }

    /// The PUBLIC symbol nearest below `rva`, unless a FUNC starts between
    /// it and `rva` (that FUNC bounds the PUBLIC, as in Breakpad).
    fn public_at(&self, rva: u64) -> Option<&(u64, u32, Span)> {
        let i = self.publics.partition_point(|p| p.0 <= rva);
        let public = self.publics.get(i.checked_sub(1)?)?;
        let f = self.functions.partition_point(|f| f.address <= rva);
        match f.checked_sub(1).and_then(|f| self.functions.get(f)) {
            Some(func) if func.address >= public.0 => None,
            _ => Some(public),
        }
    }

    /// The module-relative range of the FUNC holding `rva`, or of the
    /// PUBLIC symbol holding it up to the next PUBLIC or FUNC.
    pub fn function_range(&self, rva: u64) -> Option<(u64, u64)> {
        if let Some(f) = self.function_at(rva) {
            return Some((f.address, f.address.checked_add(f.size)?));
        }
        let public = self.public_at(rva)?;
        let next_public = self
            .publics
            .get(self.publics.partition_point(|p| p.0 <= rva))
            .map(|p| p.0);
        let next_function = self
            .functions
            .get(self.functions.partition_point(|f| f.address <= rva))
            .map(|f| f.address);
        let end = match (next_public, next_function) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((public.0, end))
    }

    /// The stack parameter size the FUNC (or else PUBLIC) holding `rva`
    /// declares: what Breakpad's x86 walker uses when no STACK WIN record
    /// covers an address.
    pub fn parameter_size(&self, rva: u64) -> Option<u32> {
        match self.function_at(rva) {
            Some(func) => Some(func.parameter_size),
            None => self.public_at(rva).map(|p| p.1),
        }
    }

    /// Frames for a module-relative address, innermost inlined first, the
    /// containing function last; a PUBLIC symbol when no FUNC holds it.
    pub fn lookup(&self, rva: u64) -> Vec<SymbolFrame> {
        let Some(func) = self.function_at(rva) else {
            return self
                .public_at(rva)
                .map_or_else(Vec::new, |(address, _, name)| {
                    vec![SymbolFrame {
                        function: Some(self.text(*name).into_owned()),
                        function_offset: Some(rva - address),
                        ..Default::default()
                    }]
                });
        };
        let lines = self
            .lines
            .get(func.lines.0..func.lines.1)
            .unwrap_or_default();
        let line = {
            let i = lines.partition_point(|l| l.address <= rva);
            i.checked_sub(1)
                .and_then(|i| lines.get(i))
                .filter(|l| rva - l.address < l.size)
        };
        // For each depth, the first INLINE at that depth covering rva;
        // the chain stops at the first depth without one.
        let inlines = self
            .inlines
            .get(func.inlines.0..func.inlines.1)
            .unwrap_or_default();
        let mut chain: Vec<&InlineRecord> = Vec::new();
        for inl in inlines {
            let wanted = chain.len() as u64;
            if u64::from(inl.depth) != wanted {
                if u64::from(inl.depth) > wanted {
                    break;
                }
                continue;
            }
            let ranges = self
                .inline_ranges
                .get(inl.ranges.0..inl.ranges.1)
                .unwrap_or_default();
            if ranges.iter().any(|(a, s)| *a <= rva && rva - a < *s) {
                chain.push(inl);
            }
        }
        let mut frames = Vec::with_capacity(chain.len() + 1);
        // The innermost frame has the line record's location; every outer
        // frame is at the call site the next-deeper INLINE records (the old
        // syntax has no call-site file: the file stays the same).
        let mut file = line.and_then(|l| self.by_id(&self.files, l.file));
        let mut line_no = line.map(|l| l.line).filter(|n| *n != 0);
        for inl in chain.iter().rev() {
            frames.push(SymbolFrame {
                function: self.by_id(&self.origins, inl.origin),
                function_offset: None,
                file: file.clone(),
                line: line_no,
                column: None,
                inlined: true,
            });
            if let Some(id) = inl.call_file {
                file = self.by_id(&self.files, id);
            }
            line_no = Some(inl.call_line).filter(|n| *n != 0);
        }
        let name = self.text(func.name);
        frames.push(SymbolFrame {
            function: (!name.is_empty()).then(|| name.into_owned()),
            function_offset: Some(rva - func.address),
            file,
            line: line_no,
            column: None,
            inlined: false,
        });
        frames
    }

    /// STACK CFI rules in effect at `rva`: the INIT record's rules with
    /// every delta up to `rva` applied, as (register, expression) pairs.
    pub fn cfi_rules(&self, rva: u64) -> Option<Vec<(String, String)>> {
        let i = self.cfi.partition_point(|c| c.address <= rva);
        let init = self.cfi.get(i.checked_sub(1)?)?;
        if rva - init.address >= init.size {
            return None;
        }
        let mut rules: Vec<(String, String)> = Vec::new();
        let mut apply = |text: &str| {
            for (reg, expr) in parse_rules(text) {
                match rules.iter_mut().find(|(r, _)| *r == reg) {
                    Some(slot) => slot.1 = expr,
                    None => rules.push((reg, expr)),
                }
            }
        };
        apply(&self.text(init.rules));
        let deltas = self
            .cfi_deltas
            .get(init.deltas.0..init.deltas.1)
            .unwrap_or_default();
        for (address, text) in deltas {
            if *address > rva {
                break;
            }
            apply(&self.text(*text));
        }
        Some(rules)
    }

    /// The innermost STACK WIN record of one type holding `rva`.
    fn win_of_kind(&self, kind: u32, rva: u64) -> Option<&StackWin> {
        let lo = self.stack_win.partition_point(|w| w.kind < kind);
        let hi = self
            .stack_win
            .partition_point(|w| (w.kind, w.address) <= (kind, rva));
        let records = self
            .stack_win
            .get(lo.max(hi.saturating_sub(MAX_BACK_SCAN))..hi)?;
        records.iter().rev().find(|w| rva - w.address < w.code_size)
    }

    /// The STACK WIN record covering `rva`: FrameData (type 4) first, then
    /// FPO (type 0), as Breakpad's resolver prefers them.
    pub fn win_frame(&self, rva: u64) -> Option<StackWinRecord> {
        let w = self
            .win_of_kind(4, rva)
            .or_else(|| self.win_of_kind(0, rva))?;
        let [
            prologue_size,
            epilogue_size,
            parameter_size,
            saved_register_size,
            local_size,
            max_stack_size,
        ] = w.sizes;
        Some(StackWinRecord {
            kind: w.kind,
            address: w.address,
            code_size: w.code_size,
            prologue_size,
            epilogue_size,
            parameter_size,
            saved_register_size,
            local_size,
            max_stack_size,
            program: w.program.map(|s| self.text(s).into_owned()),
            allocates_base_pointer: w.allocates_base_pointer,
        })
    }
}

/// `.cfa: $rsp 8 + .ra: .cfa -8 + ^` → [(".cfa", "$rsp 8 +"), (".ra", ".cfa -8 + ^")].
fn parse_rules(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for token in text.split_whitespace() {
        if let Some(reg) = token.strip_suffix(':') {
            out.push((reg.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            if !last.1.is_empty() {
                last.1.push(' ');
            }
            last.1.push_str(token);
        }
    }
    out
}

/// `NAME/DEBUGID/NAME.sym`, where NAME is the debug file and the `.sym`
/// replaces a `.pdb` extension (Breakpad's store layout).
pub fn sym_relative_path(debug_file: &str, debug_id: &str) -> String {
    let stem = debug_file
        .strip_suffix(".pdb")
        .or_else(|| debug_file.strip_suffix(".PDB"))
        .unwrap_or(debug_file);
    format!("{debug_file}/{debug_id}/{stem}.sym")
}

/// The `.sym` path under one symbol directory.
pub fn sym_path(dir: &Path, debug_file: &str, debug_id: &str) -> PathBuf {
    dir.join(sym_relative_path(debug_file, debug_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_numbers_and_paths() {
        assert_eq!(
            parse_rules(".cfa: $rsp 8 + .ra: .cfa -8 + ^"),
            [
                (".cfa".to_string(), "$rsp 8 +".to_string()),
                (".ra".to_string(), ".cfa -8 + ^".to_string())
            ]
        );
        assert_eq!(
            parse_rules("junk .cfa: sp"),
            [(".cfa".to_string(), "sp".to_string())]
        );
        assert_eq!(
            sym_relative_path("test_app.pdb", "ABC1"),
            "test_app.pdb/ABC1/test_app.sym"
        );
        assert_eq!(
            sym_relative_path("libc.so.6", "EC61"),
            "libc.so.6/EC61/libc.so.6.sym"
        );
    }

    #[test]
    fn bom_orphans_and_spans() {
        let text =
            b"\xef\xbb\xbfMODULE mac arm64 ID1 a b\nINLINE 0 1 0 10 4\nFUNC 10 4 0 f g\n10 4 3 9\n";
        let sym = BreakpadSymbols::parse(Bytes::from_vec(text.to_vec())).unwrap();
        assert_eq!(sym.module().os, "mac");
        assert_eq!(sym.module().name, "a b");
        assert_eq!(
            sym.problems(),
            [BreakpadError::Orphan {
                line: 2,
                record: "INLINE",
                parent: "FUNC"
            }]
        );
        // An unknown file id leaves the file out, the line stays.
        let f = sym.lookup(0x12);
        assert_eq!(
            (f[0].function.as_deref(), f[0].file.as_deref(), f[0].line),
            (Some("f g"), None, Some(3))
        );
    }
}
