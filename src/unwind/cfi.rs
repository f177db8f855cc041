//! Unwinding one frame with DWARF call frame information (.eh_frame,
//! .eh_frame_hdr, .debug_frame), parsed and evaluated by gimli.

use gimli::{
    BaseAddresses, CfaRule, CieOrFde, DebugFrame, EhFrame, EhFrameHdr, EhFrameOffset, Encoding,
    EndianSlice, EvaluationResult, Expression, FrameDescriptionEntry, LittleEndian, Location,
    RegisterRule, UnwindContext, UnwindSection, UnwindTableRow, Value, Vendor,
};

use super::pointer_auth::strip_pointer_authentication;
use super::{
    CodeInfo, FoundBy, Outcome, Section, Step, UnwindTables, mask, preserved_registers, read_word,
};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

type Slice<'a> = EndianSlice<'a, LittleEndian>;
type Fde<'a> = FrameDescriptionEntry<Slice<'a>>;

/// Most section indexes kept at once (one per module and section kind).
const MAX_INDEXES: usize = 64;
/// Bound on DWARF expression steps: CFI expressions are a handful of ops.
const MAX_EXPRESSION_STEPS: u32 = 256;
/// Bound on how often one expression may ask for a register or memory.
const MAX_EXPRESSION_REQUESTS: usize = 64;

/// Scratch state reused across frames and walks.
#[derive(Default)]
pub(super) struct CfiState {
    /// gimli's row-evaluation state; boxed because it is large.
    context: Option<Box<UnwindContext<usize>>>,
    /// Sorted FDE address ranges of sections that have no `.eh_frame_hdr`
    /// search table, so lookups are binary searches instead of scans.
    indexes: Vec<SectionIndex>,
}

/// Which section an index describes, by identity of its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct SectionKey {
    data: usize,
    len: usize,
    address: u64,
    debug_frame: bool,
}

struct SectionIndex {
    key: SectionKey,
    /// (start, end, offset of the FDE in the section), sorted by start.
    ranges: Vec<(u64, u64, usize)>,
}

impl CfiState {
    /// Unwinds one frame with the CFI covering its pc, if any.
    pub(super) fn step(
        &mut self,
        registers: &RegisterSet,
        pc_is_exact: bool,
        memory: &dyn Memory,
        code: &dyn CodeInfo,
    ) -> Outcome {
        let arch = registers.arch;
        let Some(pc) = registers.pc() else {
            return Outcome::Unknown;
        };
        let Some(tables) = code.unwind_tables(pc) else {
            return Outcome::Unknown;
        };
        let frame = Frame {
            registers,
            memory,
            code,
        };
        // A return address points after the call, possibly past the end of
        // the caller's FDE when the call was its last instruction.
        let lookup = if pc_is_exact { pc } else { pc.wrapping_sub(1) };
        let address = mask(arch, lookup.wrapping_sub(tables.load_bias));
        let bases = base_addresses(&tables);
        let address_size = arch.pointer_size();
        let vendor = if arch == Arch::Aarch64 {
            Vendor::AArch64
        } else {
            Vendor::Default
        };

        if let Some(eh) = tables.eh_frame {
            let mut section = EhFrame::new(eh.data, LittleEndian);
            section.set_address_size(address_size);
            section.set_vendor(vendor);
            let fde = match tables
                .eh_frame_hdr
                .and_then(|h| search_table(h, &bases, arch))
            {
                Some(hdr) => hdr_fde(&hdr, &section, &bases, address),
                None => self.indexed_fde(&section, &bases, eh, false, address),
            };
            if let Some(fde) = fde {
                return self.unwind_with(&section, &bases, &fde, address, &frame);
            }
        }
        if let Some(debug) = tables.debug_frame {
            let mut section = DebugFrame::new(debug.data, LittleEndian);
            section.set_address_size(address_size);
            section.set_vendor(vendor);
            if let Some(fde) = self.indexed_fde(&section, &bases, debug, true, address) {
                return self.unwind_with(&section, &bases, &fde, address, &frame);
            }
        }
        Outcome::Unknown
    }

    /// Finds the FDE covering `address` through a cached sorted index of
    /// `section`, building the index on first use.
    fn indexed_fde<'a, S>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        raw: Section<'a>,
        debug_frame: bool,
        address: u64,
    ) -> Option<Fde<'a>>
    where
        S: UnwindSection<Slice<'a>>,
    {
        let key = SectionKey {
            data: raw.data.as_ptr() as usize,
            len: raw.data.len(),
            address: raw.address,
            debug_frame,
        };
        let position = match self.indexes.iter().position(|i| i.key == key) {
            Some(p) => p,
            None => {
                if self.indexes.len() >= MAX_INDEXES {
                    self.indexes.remove(0);
                }
                self.indexes.push(SectionIndex {
                    key,
                    ranges: index_section(section, bases, raw.data.len()),
                });
                self.indexes.len() - 1
            }
        };
        let ranges = &self.indexes.get(position)?.ranges;
        let after = ranges.partition_point(|r| r.0 <= address);
        // Ranges may overlap in odd files; look back a few entries.
        let (_, _, offset) = ranges[..after]
            .iter()
            .rev()
            .take(4)
            .find(|r| address < r.1)?;
        section
            .fde_from_offset(bases, S::Offset::from(*offset), S::cie_from_offset)
            .ok()
            .filter(|fde| fde.contains(address))
    }

    fn unwind_with<'a, S>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        fde: &Fde<'a>,
        address: u64,
        frame: &Frame<'_>,
    ) -> Outcome
    where
        S: UnwindSection<Slice<'a>>,
    {
        let context = self
            .context
            .get_or_insert_with(|| Box::new(UnwindContext::new()));
        match fde.unwind_info_for_address(section, bases, context, address) {
            Ok(row) => caller_from_row(section, fde, row, frame),
            Err(_) => Outcome::Unknown,
        }
    }
}

/// Link-time section addresses, for pc-relative, text-relative and
/// data-relative pointer encodings.
fn base_addresses(tables: &UnwindTables<'_>) -> BaseAddresses {
    let mut bases = BaseAddresses::default();
    if let Some(s) = tables.eh_frame_hdr {
        bases = bases.set_eh_frame_hdr(s.address);
    }
    if let Some(s) = tables.eh_frame {
        bases = bases.set_eh_frame(s.address);
    }
    if let Some(s) = tables.text {
        bases = bases.set_text(s.address);
    }
    if let Some(s) = tables.got {
        bases = bases.set_got(s.address);
    }
    bases
}

fn search_table<'a>(
    hdr: Section<'a>,
    bases: &BaseAddresses,
    arch: Arch,
) -> Option<gimli::ParsedEhFrameHdr<Slice<'a>>> {
    EhFrameHdr::new(hdr.data, LittleEndian)
        .parse(bases, arch.pointer_size())
        .ok()
}

/// The FDE for `address` through the `.eh_frame_hdr` binary search table.
/// gimli's `EhHdrTable::fde_for_address` subtracts the table's pointer from
/// the section's unchecked (an overflow panic on corrupt tables in debug
/// builds), so the offset is computed here with a checked subtraction.
fn hdr_fde<'a>(
    hdr: &gimli::ParsedEhFrameHdr<Slice<'a>>,
    section: &EhFrame<Slice<'a>>,
    bases: &BaseAddresses,
    address: u64,
) -> Option<Fde<'a>> {
    let table = hdr.table()?;
    let entry = table.lookup(address, bases).ok()?.direct().ok()?;
    let start = hdr.eh_frame_ptr().direct().ok()?;
    let offset = usize::try_from(entry.checked_sub(start)?).ok()?;
    section
        .fde_from_offset(bases, EhFrameOffset(offset), EhFrame::cie_from_offset)
        .ok()
        .filter(|fde| fde.contains(address))
}

/// Every FDE's address range in `section`, sorted; stops at the first
/// malformed entry.
fn index_section<'a, S>(section: &S, bases: &BaseAddresses, size: usize) -> Vec<(u64, u64, usize)>
where
    S: UnwindSection<Slice<'a>>,
{
    let mut ranges = Vec::new();
    let mut entries = section.entries(bases);
    // Each entry takes at least 8 bytes, which bounds the loop.
    for _ in 0..=size / 8 {
        match entries.next() {
            Ok(Some(CieOrFde::Fde(partial))) => {
                if let Ok(fde) = partial.parse(S::cie_from_offset)
                    && fde.len() > 0
                {
                    ranges.push((fde.initial_address(), fde.end_address(), fde.offset()));
                }
            }
            Ok(Some(CieOrFde::Cie(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    ranges.sort_unstable_by_key(|r| r.0);
    ranges
}

/// The frame being unwound and what it is read through.
struct Frame<'r> {
    registers: &'r RegisterSet,
    memory: &'r dyn Memory,
    code: &'r dyn CodeInfo,
}

/// The caller's registers according to one row of the CFI table.
fn caller_from_row<'a, S>(
    section: &S,
    fde: &Fde<'a>,
    row: &UnwindTableRow<usize>,
    frame: &Frame<'_>,
) -> Outcome
where
    S: UnwindSection<Slice<'a>>,
{
    let Frame {
        registers,
        memory,
        code,
    } = *frame;
    let arch = registers.arch;
    let encoding = fde.cie().encoding();
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => registers
            .get(register.0)
            .map(|base| base.wrapping_add(*offset as u64)),
        CfaRule::Expression(expression) => expression
            .get(section)
            .ok()
            .and_then(|e| evaluate(e, encoding, registers, memory, None)),
    };
    let Some(cfa) = cfa.map(|c| mask(arch, c)) else {
        return Outcome::Unknown;
    };
    let rules = RuleContext {
        section,
        encoding,
        cfa,
        registers,
        memory,
    };

    let pc_number = RegisterSet::pc_number(arch);
    let ra_column = fde.cie().return_address_register();
    let return_address = match row.register(ra_column) {
        Some(RegisterRule::Undefined) => return Outcome::EndOfStack,
        Some(rule) => rules.value(ra_column.0, &rule),
        // No rule: the return address is still in its register (aarch64 lr
        // in a leaf); the pc column itself never holds one.
        None if ra_column.0 != pc_number => registers.get(ra_column.0),
        None => None,
    };
    let Some(return_address) = return_address else {
        return Outcome::Unknown;
    };
    let return_address =
        strip_pointer_authentication(arch, mask(arch, return_address), code.pointer_auth_mask());
    if return_address == 0 {
        // Some outermost frames store a zero return address instead.
        return Outcome::EndOfStack;
    }

    let mut caller = preserved_registers(registers);
    caller.set(RegisterSet::sp_number(arch), cfa);
    for (register, rule) in row.registers() {
        match rules.value(register.0, rule) {
            Some(v) => caller.set(register.0, mask(arch, v)),
            None => caller.clear(register.0),
        }
    }
    caller.set(pc_number, return_address);
    let signal = fde.is_signal_trampoline();
    Outcome::Caller(Step {
        registers: caller,
        // The registers of a signal frame's caller are the interrupted
        // context: its pc is the faulting instruction, not a return address.
        pc_is_exact: signal,
        found_by: FoundBy::Cfi,
        sp_may_not_grow: signal,
    })
}

/// What evaluating a register rule needs.
struct RuleContext<'r, S> {
    section: &'r S,
    encoding: Encoding,
    cfa: u64,
    registers: &'r RegisterSet,
    memory: &'r dyn Memory,
}

impl<S> RuleContext<'_, S> {
    /// The caller's value of `register` under `rule`; `None` when unknown.
    fn value<'a>(&self, register: u16, rule: &RegisterRule<usize>) -> Option<u64>
    where
        S: UnwindSection<Slice<'a>>,
    {
        let arch = self.registers.arch;
        let at = |offset: i64| mask(arch, self.cfa.wrapping_add(offset as u64));
        match rule {
            RegisterRule::Undefined | RegisterRule::Architectural => None,
            RegisterRule::SameValue => self.registers.get(register),
            RegisterRule::Offset(offset) => read_word(self.memory, arch, at(*offset)),
            RegisterRule::ValOffset(offset) => Some(at(*offset)),
            RegisterRule::Register(other) => self.registers.get(other.0),
            RegisterRule::Expression(expression) => {
                let expression = expression.get(self.section).ok()?;
                let address = evaluate(
                    expression,
                    self.encoding,
                    self.registers,
                    self.memory,
                    Some(self.cfa),
                )?;
                read_word(self.memory, arch, mask(arch, address))
            }
            RegisterRule::ValExpression(expression) => {
                let expression = expression.get(self.section).ok()?;
                evaluate(
                    expression,
                    self.encoding,
                    self.registers,
                    self.memory,
                    Some(self.cfa),
                )
            }
            RegisterRule::Constant(value) => Some(*value),
        }
    }
}

/// Runs a CFI expression with registers and memory from the frame; `initial`
/// is pushed first (the CFA, for register rules). Bounded in steps.
fn evaluate(
    expression: Expression<Slice<'_>>,
    encoding: Encoding,
    registers: &RegisterSet,
    memory: &dyn Memory,
    initial: Option<u64>,
) -> Option<u64> {
    let mut evaluation = expression.evaluation(encoding);
    evaluation.set_max_iterations(MAX_EXPRESSION_STEPS);
    if let Some(value) = initial {
        evaluation.set_initial_value(value);
    }
    let mut state = evaluation.evaluate().ok()?;
    for _ in 0..MAX_EXPRESSION_REQUESTS {
        state = match state {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut bytes = [0u8; 8];
                let wanted = bytes.get_mut(..usize::from(size))?;
                memory.read_exact(address, wanted).ok()?;
                let value = u64::from_le_bytes(bytes);
                evaluation.resume_with_memory(Value::Generic(value)).ok()?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let value = registers.get(register.0)?;
                evaluation
                    .resume_with_register(Value::Generic(value))
                    .ok()?
            }
            _ => return None,
        };
    }
    if state != EvaluationResult::Complete {
        return None;
    }
    match evaluation.as_result() {
        [piece] => match piece.location {
            Location::Address { address } => Some(address),
            Location::Value { value } => value.to_u64(u64::MAX).ok(),
            _ => None,
        },
        _ => None,
    }
}
