//! What the unwinder asks of the symbols layer ([`CodeInfo`]), answered
//! from the located files: unwind tables, code ranges and bytes, PE
//! `.pdata`, Breakpad STACK records and PDB frame data.

use std::path::PathBuf;

use super::elf_file::{ElfFile, LoadedSection};
use super::{SymbolKind, Symbolizer};
use crate::unwind::{CodeInfo, Section, UnwindTables};

impl CodeInfo for Symbolizer<'_> {
    fn unwind_tables(&self, pc: u64) -> Option<UnwindTables<'_>> {
        let loaded = self.load(self.module_index(pc)?)?;
        let binary = loaded.binary.as_ref();
        let debug = loaded.debug.as_ref();
        let debug_frame =
            section(debug, ".debug_frame").or_else(|| section(binary, ".debug_frame"));
        // Without the binary, a debug file that kept `.eh_frame` with its
        // bytes (an unstripped copy filed as `rest.debug`; `objcopy
        // --only-keep-debug` leaves it empty) serves instead.
        let (eh_frame, eh_frame_hdr) = match section(binary, ".eh_frame") {
            Some(eh) => (Some(eh), section(binary, ".eh_frame_hdr")),
            None if binary.is_none() => {
                (section(debug, ".eh_frame"), section(debug, ".eh_frame_hdr"))
            }
            None => (None, None),
        };
        let tables = UnwindTables {
            load_bias: loaded.bias,
            eh_frame,
            eh_frame_hdr,
            debug_frame,
            text: section(binary, ".text"),
            got: section(binary, ".got"),
        };
        (tables.eh_frame.is_some() || tables.debug_frame.is_some()).then_some(tables)
    }

    fn is_code(&self, pc: u64) -> bool {
        if let Some(loaded) = self.module_index(pc).and_then(|i| self.load(i)) {
            // A debug file keeps the binary's program headers.
            if let Some((_, elf)) = loaded.binary.as_ref().or(loaded.debug.as_ref())
                && !elf.segments.is_empty()
            {
                return elf.is_executable_vaddr(pc.wrapping_sub(loaded.bias));
            }
            // No binary to ask: inside a module counts as code unless the
            // image records the region's real permissions (a MemoryInfoList
            // or a mapping table), which then decide.
            return match self.process.region_at(pc) {
                Some(r) if r.windows.is_some() || r.file.is_some() => r.protection.execute,
                _ => true,
            };
        }
        self.process
            .region_at(pc)
            .is_some_and(|r| r.protection.execute)
    }

    fn runtime_function(&self, pc: u64) -> Option<crate::unwind::RuntimeFunction> {
        let loaded = self.load(self.module_index(pc)?)?;
        let (_, pe) = loaded.pe.as_ref()?;
        let rva = u32::try_from(pc.checked_sub(loaded.base)?).ok()?;
        let f = pe.runtime_function(rva)?;
        Some(crate::unwind::RuntimeFunction {
            image_base: loaded.base,
            begin: f.begin,
            end: f.end,
            unwind_info: f.unwind_info,
        })
    }

    fn breakpad_cfi(&self, pc: u64) -> Option<Vec<(String, String)>> {
        let loaded = self.load(self.module_index(pc)?)?;
        let (_, sym) = loaded.breakpad.as_ref()?;
        sym.cfi_rules(pc.checked_sub(loaded.base)?)
    }

    fn win_frame_info(&self, pc: u64) -> Option<crate::unwind::WinFrameInfo> {
        let loaded = self.load(self.module_index(pc)?)?;
        let rva = pc.checked_sub(loaded.base)?;
        if let Some((_, pdb)) = &loaded.pdb
            && let Some(r) = pdb.frame_data(u32::try_from(rva).ok()?)
        {
            return Some(crate::unwind::WinFrameInfo {
                parameter_size: r.params_size,
                saved_register_size: u32::from(r.saved_regs_size),
                local_size: r.locals_size,
                // The PDB's strings end in a space; .sym lines do not.
                program: r.program.map(|p| p.trim_end().to_string()),
                allocates_base_pointer: r.uses_base_pointer,
            });
        }
        let (_, sym) = loaded.breakpad.as_ref()?;
        let w = sym.win_frame(rva)?;
        Some(crate::unwind::WinFrameInfo {
            parameter_size: w.parameter_size,
            saved_register_size: w.saved_register_size,
            local_size: w.local_size,
            program: w.program,
            allocates_base_pointer: w.allocates_base_pointer,
        })
    }

    fn in_function(&self, pc: u64) -> Option<bool> {
        let loaded = self.load(self.module_index(pc)?)?;
        if loaded.kind() == SymbolKind::None {
            return None;
        }
        Some(self.lookup(pc).iter().any(|f| f.function.is_some()))
    }

    fn is_entry_function(&self, pc: u64) -> bool {
        self.entry_function
            .get_or_init(|| self.entry_function_range())
            .is_some_and(|(start, end)| (start..end).contains(&pc))
    }

    /// Return addresses are instruction pointers: the insn mask.
    fn pointer_auth_mask(&self) -> Option<u64> {
        self.process.pointer_auth.map(|m| m.insn)
    }

    fn has_runtime_functions(&self, pc: u64) -> bool {
        self.module_index(pc)
            .and_then(|i| self.load(i))
            .and_then(|l| l.pe.as_ref())
            .is_some_and(|(_, pe)| !pe.pdata.is_empty())
    }

    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        let n = self.process.memory.read_available(address, buf);
        if n == buf.len() {
            return n;
        }
        let from_file = self
            .module_index(address)
            .and_then(|i| self.load(i))
            .and_then(|l| {
                let elf = l
                    .binary
                    .as_ref()
                    .map(|(_, b)| b.read_vaddr(address.wrapping_sub(l.bias), buf));
                let pe = || {
                    let (_, pe) = l.pe.as_ref()?;
                    let rva = u32::try_from(address.checked_sub(l.base)?).ok()?;
                    Some(pe.read_rva(rva, buf))
                };
                elf.or_else(pe)
            })
            .unwrap_or(0);
        n.max(from_file)
    }
}

fn section<'s>(file: Option<&'s (PathBuf, ElfFile)>, name: &str) -> Option<Section<'s>> {
    let s: &LoadedSection = file?.1.section(name)?;
    Some(Section {
        address: s.address,
        data: &s.data,
    })
}
