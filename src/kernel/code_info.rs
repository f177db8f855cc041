//! What the stack walker needs to know about kernel code, answered from the
//! dump alone: kallsyms says where functions are, the kernel's own memory
//! holds their bytes, and its ORC tables (when built with them) say how
//! each function's frame is laid out; without them the walker falls back
//! to its validated stack scan.

use crate::kernel::kallsyms::KernelSymbols;
use crate::kernel::modules::KernelModule;
use crate::kernel::orc::{OrcTables, OrcVersion, kernel_orc_version};
use crate::kernel::vmlinux::{OrcOverDump, VmlinuxOrc};
use crate::memory::Memory;
use crate::model::{RegisterSet, Vmcoreinfo};
use crate::unwind::{CodeInfo, OrcStep, UnwindTables};

/// Kernel text as kallsyms and VMCOREINFO describe it.
pub struct KernelCodeInfo<'a> {
    symbols: &'a KernelSymbols,
    memory: &'a dyn Memory,
    /// `[_stext, _etext)`: the core kernel's text.
    text_start: u64,
    text_end: u64,
    /// `[_sinittext, _einittext)`, when kallsyms has both: freed after
    /// boot, but the boot CPU's idle task was called from it (start_kernel)
    /// and its return addresses stay on that stack.
    init_text: Option<(u64, u64)>,
    /// The kernel carries ORC tables, so it was built without frame
    /// pointers (x86 selects FRAME_POINTER only for the frame-pointer
    /// unwinder) and rbp is an ordinary register.
    has_orc: bool,
    /// The ORC tables in the dump's memory, when kallsyms locates them
    /// and their layout is known.
    orc: Option<OrcTables>,
    /// The layout of this kernel's (and its modules') ORC entries.
    orc_version: Option<OrcVersion>,
    /// Loaded modules: their text is code too, named by their own symbols
    /// and unwound by their own ORC tables.
    modules: Vec<(&'a KernelModule, Option<OrcTables>)>,
    /// The matched vmlinux's own ORC tables, for pcs the dump's cannot
    /// answer (their pages not in the dump, or no kallsyms to find them).
    vmlinux_orc: Option<(OrcTables, &'a VmlinuxOrc)>,
    /// aarch64: the kernel's PAC mask (`NUMBER(KERNELPACMASK)`), for
    /// stripping signed return addresses.
    pac_mask: Option<u64>,
}

impl<'a> KernelCodeInfo<'a> {
    /// `SYMBOL(_stext)` from VMCOREINFO (kallsyms' own as a fallback) and
    /// `_etext` from kallsyms bound the text; None when either is missing
    /// or they are out of order.
    pub fn new(
        symbols: &'a KernelSymbols,
        memory: &'a dyn Memory,
        info: &Vmcoreinfo,
    ) -> Option<Self> {
        let text_start = info
            .symbol("_stext")
            .or_else(|| symbols.address_of("_stext"))?;
        let text_end = symbols.address_of("_etext")?;
        let init_text = symbols
            .address_of("_sinittext")
            .zip(symbols.address_of("_einittext"))
            .filter(|(start, end)| start < end);
        let orc_ip = symbols.address_of("__start_orc_unwind_ip");
        let orc_version = kernel_orc_version(symbols, memory, info.osrelease());
        (text_start < text_end).then_some(KernelCodeInfo {
            symbols,
            memory,
            text_start,
            text_end,
            init_text,
            has_orc: orc_ip.is_some(),
            orc: orc_ip
                .zip(symbols.address_of("__stop_orc_unwind_ip"))
                .zip(symbols.address_of("__start_orc_unwind"))
                .zip(orc_version)
                .and_then(|(((start, stop), entries), version)| {
                    OrcTables::new(start, stop, entries, version)
                }),
            orc_version,
            modules: Vec::new(),
            vmlinux_orc: None,
            pac_mask: super::number_u64(info, "KERNELPACMASK"),
        })
    }

    /// Also unwinds with the dump's vmlinux's ORC tables where the dump's
    /// own cannot be read.
    /// Their layout is the kernel's, else the one the vmlinux's own
    /// `.orc_header` names.
    pub fn with_vmlinux_orc(mut self, orc: Option<&'a VmlinuxOrc>) -> Self {
        self.has_orc |= orc.is_some();
        self.vmlinux_orc = orc.and_then(|orc| {
            let version = self
                .orc_version
                .or_else(|| orc.header.as_ref().and_then(OrcVersion::from_header))?;
            Some((orc.tables(version)?, orc))
        });
        self
    }

    /// Adds loaded modules' text (and their ORC tables) to what is code.
    pub fn with_modules(mut self, modules: &'a [KernelModule]) -> Self {
        self.modules = modules
            .iter()
            .map(|m| {
                let orc = m
                    .orc
                    .zip(self.orc_version)
                    .and_then(|((count, ip, entries), v)| {
                        OrcTables::new(ip, ip.checked_add(count.checked_mul(4)?)?, entries, v)
                    });
                (m, orc)
            })
            .collect();
        self
    }

    /// The module whose text holds `pc`.
    fn module_at(&self, pc: u64) -> Option<&(&'a KernelModule, Option<OrcTables>)> {
        self.modules.iter().find(|(m, _)| m.contains(pc))
    }

    /// Whether the walker may be given rbp: yes when the kernel keeps frame
    /// pointers, and when its ORC tables are readable (ORC then says where
    /// rbp is a frame pointer, and the walker scans where ORC has no rule);
    /// no in a kernel built for ORC whose tables cannot be read, where
    /// following rbp would invent callers.
    pub fn keeps_frame_pointers(&self) -> bool {
        !self.has_orc || self.orc.is_some() || self.vmlinux_orc.is_some()
    }
}

impl CodeInfo for KernelCodeInfo<'_> {
    fn unwind_tables(&self, _pc: u64) -> Option<UnwindTables<'_>> {
        None
    }

    /// In the core kernel's text (or init text) and inside a text symbol
    /// (`t T w W`).
    fn is_code(&self, pc: u64) -> bool {
        if let Some((module, _)) = self.module_at(pc) {
            return module.lookup(pc).is_some();
        }
        let in_init = self
            .init_text
            .is_some_and(|(start, end)| (start..end).contains(&pc));
        ((self.text_start..self.text_end).contains(&pc) || in_init)
            && self.symbols.lookup(pc).is_some()
    }

    fn read_code(&self, address: u64, buf: &mut [u8]) -> usize {
        // Code may straddle pages; keep reading until the buffer is full
        // or memory ends.
        let mut done = 0;
        while done < buf.len() {
            let Some(at) = address.checked_add(done as u64) else {
                break;
            };
            match self.memory.read(at, &mut buf[done..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n.min(buf.len() - done),
            }
        }
        done
    }

    fn in_function(&self, pc: u64) -> Option<bool> {
        Some(self.is_code(pc))
    }

    fn pointer_auth_mask(&self) -> Option<u64> {
        self.pac_mask
    }

    /// Only for kernel text: ORC covers nothing else.
    fn orc_step(&self, registers: &RegisterSet, pc_is_exact: bool, memory: &dyn Memory) -> OrcStep {
        let Some(pc) = registers.pc() else {
            return OrcStep::Unknown;
        };
        let site = if pc_is_exact { pc } else { pc.wrapping_sub(1) };
        if !self.is_code(site) {
            return OrcStep::Unknown;
        }
        let from_vmlinux = |(tables, vmlinux): &(OrcTables, &VmlinuxOrc)| {
            let overlay = OrcOverDump {
                tables: &vmlinux.memory,
                dump: memory,
            };
            tables.step(registers, pc_is_exact, &overlay)
        };
        let step = match (self.module_at(site), &self.orc, &self.vmlinux_orc) {
            (Some((_, Some(orc))), ..) => orc.step(registers, pc_is_exact, memory),
            (Some((_, None)), ..) => return OrcStep::Unknown,
            // The core kernel: the dump's tables where they can be read,
            // else the vmlinux's.
            (None, Some(orc), Some(vmlinux)) if orc.lookup(memory, site).is_none() => {
                from_vmlinux(vmlinux)
            }
            (None, Some(orc), _) => orc.step(registers, pc_is_exact, memory),
            (None, None, Some(vmlinux)) => from_vmlinux(vmlinux),
            (None, None, None) => return OrcStep::Unknown,
        };
        match step {
            // Kernel text has no CFI and no frame-pointer chain to fall back on.
            OrcStep::Unknown => OrcStep::ScanOnly,
            step => step,
        }
    }
}
