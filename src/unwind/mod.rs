//! The stack walker shared by every format.
//!
//! It knows registers, memory and code, never file formats: a [`CodeInfo`]
//! answers "which unwind tables cover this pc" and "is this code", and the
//! walker tries, per frame, CFI, then frame pointers, then scanning.

mod breakpad_cfi;
mod cfi;
mod frame_pointer;
pub mod parser_guard;
mod pe_x64;
pub mod pointer_auth;
pub mod postfix;
mod scan;
mod signal;
#[cfg(test)]
mod tests;
mod win_x86;

use serde::Serialize;

use crate::memory::Memory;
use crate::model::{Arch, RegisterSet};

/// How a frame was found, so a reader of the report can judge trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// Saved registers: the thread's (frame 0), or a signal context found on
    /// the stack by recognising the sigreturn trampoline without CFI.
    Context,
    /// Call frame information (.eh_frame / .debug_frame / PE unwind codes).
    Cfi,
    /// Following the saved frame-pointer chain.
    FramePointer,
    /// A return address found by scanning the stack.
    Scan,
    /// The kernel's ORC unwind tables.
    Orc,
}

impl FoundBy {
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::Context => "context",
            FoundBy::Cfi => "cfi",
            FoundBy::FramePointer => "frame-pointer",
            FoundBy::Scan => "scan",
            FoundBy::Orc => "orc",
        }
    }
}

/// A section of a module file at its link-time address.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// sh_addr: the section's address before load bias is applied.
    pub address: u64,
    pub data: &'a [u8],
}

/// The unwind tables of one module.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnwindTables<'a> {
    /// Runtime address minus link-time address.
    pub load_bias: u64,
    pub eh_frame: Option<Section<'a>>,
    pub eh_frame_hdr: Option<Section<'a>>,
    pub debug_frame: Option<Section<'a>>,
    /// .text, for base-relative pointer encodings.
    pub text: Option<Section<'a>>,
    /// .got, for DW_EH_PE_datarel on i386.
    pub got: Option<Section<'a>>,
}

/// A Windows x64 RUNTIME_FUNCTION (.pdata entry): RVAs relative to
/// `image_base`, the module's runtime base address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeFunction {
    pub image_base: u64,
    pub begin: u32,
    pub end: u32,
    pub unwind_info: u32,
}

/// Windows x86 frame data for one code range: a PDB FrameData or FPO
/// record, or the Breakpad STACK WIN record copied from one. Sizes in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinFrameInfo {
    pub parameter_size: u32,
    pub saved_register_size: u32,
    pub local_size: u32,
    /// The postfix program recovering the caller's registers (FrameData).
    pub program: Option<String>,
    /// FPO: the function uses ebp for itself, having saved the caller's.
    pub allocates_base_pointer: bool,
}

/// What a code provider's own unwind rules (a kernel's ORC tables) say
/// about one frame.
#[derive(Debug, Clone)]
pub enum OrcStep {
    /// The caller's registers. `pc_is_exact` when they were restored from
    /// registers saved on the stack (an interrupt or exception frame), which
    /// may lie on another stack, below the callee's sp.
    Caller {
        registers: RegisterSet,
        pc_is_exact: bool,
        /// The caller's sp was loaded from memory (a switch back from an
        /// IRQ stack), so it may lie below the callee's.
        switched_stack: bool,
    },
    /// The tables mark this frame as the outermost one.
    EndOfStack,
    /// The code has ORC tables but no usable rule here (a hole, or a
    /// register the rule needs is unknown): its rbp is no frame pointer and
    /// it has no CFI, so only the validated scan may guess the caller.
    ScanOnly,
    /// No rule covers this frame: let the other strategies try.
    Unknown,
}

/// What the walker needs to know about code, answered by the symbols layer.
pub trait CodeInfo {
    /// Unwind tables of the module whose code contains `pc`.
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>>;
    /// Whether `pc` lies in executable code of a known module.
    fn is_code(&self, pc: u64) -> bool;
    /// Reads code bytes at `address` (from the image, or from the module's
    /// file when the image left them out); returns how many were read.
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize;
    /// Windows x64: the RUNTIME_FUNCTION (.pdata entry) covering `pc`: the image base and the entry's
    /// begin / end / unwind-info RVAs. The unwind info itself is read with `read_code(image_base + rva, …)`.
    fn runtime_function(&self, _pc: u64) -> Option<RuntimeFunction> {
        None
    }
    /// Windows x64: whether `pc` lies in a module whose unwinding .pdata
    /// describes, so that a pc there without a RUNTIME_FUNCTION is in a leaf
    /// function (return address at rsp).
    fn has_runtime_functions(&self, _pc: u64) -> bool {
        false
    }
    /// Breakpad STACK CFI rules in effect at `pc` (from a `.sym` file), as
    /// (register, postfix expression) pairs including `.cfa` and `.ra`.
    fn breakpad_cfi(&self, _pc: u64) -> Option<Vec<(String, String)>> {
        None
    }
    /// Windows x86: the frame data covering `pc` (from the module's PDB, or
    /// STACK WIN records of its `.sym`).
    fn win_frame_info(&self, _pc: u64) -> Option<WinFrameInfo> {
        None
    }
    /// Whether symbols place `pc` inside a function: `None` when the
    /// module has no symbols to say.
    fn in_function(&self, _pc: u64) -> Option<bool> {
        None
    }
    /// Whether `pc` lies in the function holding the program's entry point
    /// (`_start`): nothing called it, so the walk ends there, as gdb's
    /// does with `backtrace past-entry` off.
    fn is_entry_function(&self, _pc: u64) -> bool {
        false
    }
    /// aarch64: the instruction PAC mask of the address space, where the
    /// image records one (Linux cores: NT_ARM_PAC_MASK, read into
    /// `ProcessView::pointer_auth`); `None` assumes 48-bit addresses (see
    /// [`pointer_auth`]).
    fn pointer_auth_mask(&self) -> Option<u64> {
        None
    }
    /// The caller of the frame at `registers` by the code's ORC tables
    /// (kernel text), tried before every other strategy.
    fn orc_step(
        &self,
        _registers: &RegisterSet,
        _pc_is_exact: bool,
        _memory: &dyn Memory,
    ) -> OrcStep {
        OrcStep::Unknown
    }
}

/// A frame as the walker found it, before symbolization.
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// Instruction address: exact for frame 0 and for frames interrupted by a
    /// signal, a return address otherwise.
    pub pc: u64,
    /// True when `pc` is the address of the instruction being executed
    /// (frame 0, or a frame restored from a signal context); false when it
    /// is a return address, so symbol lookup should use `pc - 1`.
    pub pc_is_exact: bool,
    pub sp: Option<u64>,
    pub found_by: FoundBy,
    /// Registers known in this frame (callee-saved ones recovered so far).
    pub registers: RegisterSet,
}

/// Bounds on a walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    pub max_frames: usize,
    /// How many stack words a scan may look at for one frame.
    pub max_scan_words: usize,
}

impl Default for WalkLimits {
    fn default() -> Self {
        WalkLimits {
            max_frames: 256,
            max_scan_words: 1024,
        }
    }
}

/// Walks the stack starting from `registers`. Never fails: returns at least
/// the context frame when there is a pc, and stops at the first frame it
/// cannot trust, at a repeated (pc, sp), or at `limits.max_frames`.
pub fn walk(
    registers: &RegisterSet,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
    limits: &WalkLimits,
) -> Vec<RawFrame> {
    Unwinder::new().walk(registers, memory, code, limits)
}

/// A stack walker that keeps its scratch state (the CFI evaluation context
/// and indexes of `.eh_frame` / `.debug_frame` sections without a search
/// table) between walks, so walking every thread of a process parses each
/// module's tables once. Use one `Unwinder` with one [`CodeInfo`].
#[derive(Default)]
pub struct Unwinder {
    cfi: cfi::CfiState,
}

/// One caller frame proposed by a strategy.
struct Step {
    registers: RegisterSet,
    pc_is_exact: bool,
    found_by: FoundBy,
    /// The caller's sp need not be above the callee's: signal contexts (which
    /// may live on an alternate stack) and the aarch64 leaf step via lr.
    sp_may_not_grow: bool,
}

impl Step {
    /// An ordinary caller: its pc is a return address and its sp lies
    /// above the callee's.
    fn returned_to(registers: RegisterSet, found_by: FoundBy) -> Self {
        Step {
            registers,
            pc_is_exact: false,
            found_by,
            sp_may_not_grow: false,
        }
    }
}

/// What a strategy concluded about the current frame.
enum Outcome {
    Caller(Step),
    /// The tables say this is the outermost frame (undefined return address).
    EndOfStack,
    /// This strategy cannot say; try the next one.
    Unknown,
}

impl Unwinder {
    pub fn new() -> Self {
        Unwinder::default()
    }

    /// Same contract as [`walk`].
    pub fn walk(
        &mut self,
        registers: &RegisterSet,
        memory: &dyn Memory,
        code: &dyn CodeInfo,
        limits: &WalkLimits,
    ) -> Vec<RawFrame> {
        let Some(pc) = registers.pc() else {
            return Vec::new();
        };
        let mut frames = vec![RawFrame {
            pc,
            pc_is_exact: true,
            sp: registers.sp(),
            found_by: FoundBy::Context,
            registers: registers.clone(),
        }];
        // Frame 0 has no sp only in broken contexts; nothing can be walked.
        let Some(sp) = registers.sp() else {
            return frames;
        };
        let mut seen: Vec<(u64, u64)> = vec![(pc, sp)];
        while frames.len() < limits.max_frames {
            let Some(current) = frames.last() else { break };
            let lookup_pc = if current.pc_is_exact {
                current.pc
            } else {
                current.pc.saturating_sub(1)
            };
            if code.is_entry_function(lookup_pc) {
                break;
            }
            let callee = frames.len().checked_sub(2).and_then(|i| frames.get(i));
            let callee = callee.map(|f| &f.registers);
            let Some(step) = self.step(current, callee, memory, code, limits) else {
                break;
            };
            let (Some(next_pc), Some(next_sp)) = (step.registers.pc(), step.registers.sp()) else {
                break;
            };
            if next_pc == 0 || seen.contains(&(next_pc, next_sp)) {
                break;
            }
            seen.push((next_pc, next_sp));
            frames.push(RawFrame {
                pc: next_pc,
                pc_is_exact: step.pc_is_exact,
                sp: Some(next_sp),
                found_by: step.found_by,
                registers: step.registers,
            });
        }
        frames
    }

    /// Finds the caller of `frame`, trying CFI, signal trampolines, frame
    /// pointers and scanning in turn; `None` ends the walk.
    fn step(
        &mut self,
        frame: &RawFrame,
        callee: Option<&RegisterSet>,
        memory: &dyn Memory,
        code: &dyn CodeInfo,
        limits: &WalkLimits,
    ) -> Option<Step> {
        let is_first = callee.is_none();
        let arch = frame.registers.arch;
        let sp = frame.registers.sp()?;
        // A trampoline is entered by the handler's return, so `pc` is its
        // first byte; look at the bytes before trusting a neighbour's FDE.
        let trampoline = signal::trampoline_at(arch, frame.pc, code);
        let accept = |step: &Step| -> bool {
            let Some(pc) = step.registers.pc() else {
                return false;
            };
            let Some(next_sp) = step.registers.sp() else {
                return false;
            };
            let sp_ok = if step.sp_may_not_grow {
                true
            } else {
                next_sp > sp
            };
            // aarch64 instructions are 4-byte aligned.
            let aligned = arch != Arch::Aarch64 || pc.is_multiple_of(4);
            // A return address follows its call, which lies in code too: a
            // module's first byte (a frame program run on a scanned frame's
            // guessed registers) is no caller.
            let call_in_code = step.pc_is_exact || code.is_code(pc.wrapping_sub(1));
            pc != 0 && aligned && sp_ok && code.is_code(pc) && call_in_code
        };
        // Unwind tables and frame data describe the frame exactly: a
        // return address of 0 from them is the outermost frame's mark (as
        // an undefined one is), never a reason to guess on by scanning.
        let ends_stack = |step: &Step| step.registers.pc() == Some(0);

        // Kernel ORC tables describe every function of kernel text exactly.
        match code.orc_step(&frame.registers, frame.pc_is_exact, memory) {
            OrcStep::Caller {
                registers,
                pc_is_exact,
                switched_stack,
            } => {
                let step = Step {
                    registers,
                    pc_is_exact,
                    found_by: FoundBy::Orc,
                    sp_may_not_grow: pc_is_exact || switched_stack,
                };
                if accept(&step) {
                    return Some(step);
                }
            }
            OrcStep::EndOfStack => return None,
            OrcStep::ScanOnly => {
                let step = scan::step(&frame.registers, memory, code, limits)?;
                return accept(&step).then_some(step);
            }
            OrcStep::Unknown => {}
        }
        // PE unwind tables describe Windows x64 code; modules without them
        // fall through to DWARF CFI and the heuristics.
        if let Some(step) =
            pe_x64::step(&frame.registers, frame.pc_is_exact, is_first, memory, code)
        {
            if ends_stack(&step) {
                return None;
            }
            if accept(&step) {
                return Some(step);
            }
        }
        // x86 PE modules have no unwind tables; their PDB (or .sym) frame
        // data describes frames that frame pointers and CFI cannot.
        if let Some(step) = win_x86::step(&frame.registers, frame.pc_is_exact, callee, memory, code)
        {
            if ends_stack(&step) {
                return None;
            }
            if accept(&step) {
                return Some(step);
            }
        }
        // gimli parses the module's .eh_frame / .debug_frame bytes here.
        let cfi = parser_guard::guarded(|| {
            self.cfi
                .step(&frame.registers, frame.pc_is_exact, memory, code)
        })
        .unwrap_or(Outcome::Unknown);
        match cfi {
            Outcome::Caller(step) => {
                // At a trampoline only a signal-frame FDE (which yields an
                // exact pc) describes it, not a neighbour's FDE.
                let describes_frame = trampoline.is_none() || step.pc_is_exact;
                if describes_frame && ends_stack(&step) {
                    return None;
                }
                if describes_frame && accept(&step) {
                    return Some(step);
                }
            }
            Outcome::EndOfStack => {
                trampoline?;
            }
            Outcome::Unknown => {}
        }
        // Without the binary's CFI, a Breakpad .sym may carry STACK CFI.
        if trampoline.is_none()
            && let Some(step) =
                breakpad_cfi::step(&frame.registers, frame.pc_is_exact, memory, code)
        {
            if ends_stack(&step) {
                return None;
            }
            if accept(&step) {
                return Some(step);
            }
        }
        if let Some(kind) = trampoline
            && let Some(step) = signal::restore(kind, &frame.registers, memory)
            && accept(&step)
        {
            return Some(step);
        }
        // A call through a bad pointer leaves frame 0 outside code with the
        // return address at sp: on x86 the word at sp beats the fp chain,
        // which would skip the calling function.
        let jumped_off_code =
            is_first && matches!(arch, Arch::X86_64 | Arch::X86) && !code.is_code(frame.pc);
        let word_at_sp = WalkLimits {
            max_scan_words: 1,
            ..*limits
        };
        if jumped_off_code
            && let Some(step) = scan::step(&frame.registers, memory, code, &word_at_sp)
            && accept(&step)
        {
            return Some(step);
        }
        if let Some(step) = frame_pointer::step(&frame.registers, is_first, memory, code)
            && accept(&step)
        {
            return Some(step);
        }
        let step = scan::step(&frame.registers, memory, code, limits)?;
        accept(&step).then_some(step)
    }
}

/// Pointer width in bytes.
fn word_size(arch: Arch) -> u64 {
    u64::from(arch.pointer_size())
}

/// Truncates `value` to the architecture's address width.
fn mask(arch: Arch, value: u64) -> u64 {
    mask_to_width(value, arch.pointer_size())
}

/// `value` wrapped to a pointer of `pointer_size` bytes (4 or 8).
fn mask_to_width(value: u64, pointer_size: u8) -> u64 {
    if pointer_size == 4 {
        value & 0xffff_ffff
    } else {
        value
    }
}

/// Registers a callee must preserve (so an unwound frame may keep them when
/// no rule says otherwise); includes the stack and frame pointers.
fn callee_saved(arch: Arch) -> &'static [u16] {
    match arch {
        // rbx, rbp, rsp, r12-r15
        Arch::X86_64 => &[3, 6, 7, 12, 13, 14, 15],
        // ebx, esp, ebp, esi, edi
        Arch::X86 => &[3, 4, 5, 6, 7],
        // x19-x29, sp
        Arch::Aarch64 => &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31],
        // r4-r11, sp
        Arch::Arm => &[4, 5, 6, 7, 8, 9, 10, 11, 13],
    }
}

/// The callee-saved registers of `registers`, as the starting point of a
/// caller's register set.
fn preserved_registers(registers: &RegisterSet) -> RegisterSet {
    let mut caller = RegisterSet::new(registers.arch);
    for &n in callee_saved(registers.arch) {
        if let Some(v) = registers.get(n) {
            caller.set(n, v);
        }
    }
    caller
}

/// Reads one pointer-sized little-endian word.
fn read_word(memory: &dyn Memory, arch: Arch, address: u64) -> Option<u64> {
    memory.read_pointer(address, arch.pointer_size()).ok()
}
