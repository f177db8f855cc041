//! Loaded kernel modules, read from the kernel's `modules` list with
//! struct layouts from its BTF: each module's name, where its code lies,
//! its own symbol table (`mod->kallsyms`: ELF symbols and their string
//! table, kept by the kernel for /proc/kallsyms) and its ORC tables.

use std::collections::HashSet;

use crate::memory::Memory;

use super::btf::Btf;
use super::kallsyms::KernelSymbols;

/// More modules than any kernel loads (a few hundred is a lot).
const MAX_MODULES: usize = 4096;
/// Symbols of one module kept at most (big drivers have ~20,000).
const MAX_MODULE_SYMBOLS: u64 = 1 << 18;
/// A module's string table read at most.
const MAX_STRTAB: u64 = 16 << 20;
/// More kinds of module memory than any kernel has (6.4+ has 7).
const MAX_MODULE_MEMORY_KINDS: u64 = 16;
/// Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16,
/// st_value u64, st_size u64.
const ELF64_SYM_SIZE: u64 = 24;

/// Where struct module keeps what is read here.
#[derive(Debug, Clone)]
pub struct ModuleLayout {
    list: u64,
    name: u64,
    name_len: u64,
    /// `core_layout.base` / `.text_size` (to 6.3) or `mem[MOD_TEXT].base` /
    /// `.size` (6.4+: one struct module_memory per kind, text first).
    text_base: u64,
    text_size: u64,
    /// Whole module as loaded: `core_layout.size` (to 6.3), or the sizes
    /// of the kinds that stay after init (6.4+: `mem[i].size` for every i
    /// below `MOD_INIT_TEXT`, at `(first, stride, count)`).
    core_size: CoreSize,
    kallsyms: Option<u64>,
    kallsyms_symtab: u64,
    kallsyms_num: u64,
    kallsyms_strtab: u64,
    /// `arch.num_orcs`, `arch.orc_unwind_ip`, `arch.orc_unwind` (x86_64
    /// with ORC).
    orc: Option<(u64, u64, u64)>,
}

impl ModuleLayout {
    pub fn from_btf(btf: &Btf) -> Result<ModuleLayout, String> {
        let module = btf
            .struct_named("module")
            .ok_or("BTF has no struct module")?;
        let at = |path: &str| btf.member(module, path).map(|m| m.offset);
        let name = btf
            .member(module, "name")
            .ok_or("BTF struct module has no name")?;
        let (text_base, text_size, core_size) = match (
            at("core_layout.base"),
            at("core_layout.text_size"),
            at("core_layout.size"),
        ) {
            (Some(base), Some(text), size) => {
                (base, text, size.map_or(CoreSize::Unknown, CoreSize::Whole))
            }
            _ => {
                // 6.4+: struct module_memory mem[MOD_MEM_NUM_TYPES], MOD_TEXT = 0,
                // the kinds freed after init from MOD_INIT_TEXT on.
                let mem = btf
                    .member(module, "mem")
                    .ok_or("BTF struct module has neither core_layout nor mem")?;
                let (element, count) =
                    btf.array(mem.type_id).ok_or("module.mem is not an array")?;
                let base = btf
                    .member(element, "base")
                    .ok_or("module_memory has no base")?;
                let size = btf
                    .member(element, "size")
                    .ok_or("module_memory has no size")?;
                let stride = btf
                    .size_of(element)
                    .ok_or("module_memory has no size in BTF")?;
                let core_kinds = btf
                    .enumerator("MOD_INIT_TEXT")
                    .and_then(|k| u64::try_from(k).ok())
                    .unwrap_or(4)
                    .min(u64::from(count))
                    .min(MAX_MODULE_MEMORY_KINDS);
                (
                    mem.offset + base.offset,
                    mem.offset + size.offset,
                    CoreSize::Kinds {
                        first: mem.offset + size.offset,
                        stride,
                        count: core_kinds,
                    },
                )
            }
        };
        let kallsyms_struct = btf.struct_named("mod_kallsyms");
        let ks = |m: &str| {
            kallsyms_struct
                .and_then(|s| btf.member(s, m))
                .map(|m| m.offset)
        };
        Ok(ModuleLayout {
            list: at("list").ok_or("BTF struct module has no list")?,
            name: name.offset,
            name_len: btf
                .array(name.type_id)
                .map_or(56, |(_, n)| u64::from(n))
                .min(256),
            text_base,
            text_size,
            core_size,
            kallsyms: at("kallsyms"),
            kallsyms_symtab: ks("symtab").unwrap_or(0),
            kallsyms_num: ks("num_symtab").unwrap_or(8),
            kallsyms_strtab: ks("strtab").unwrap_or(16),
            orc: at("arch.num_orcs")
                .zip(at("arch.orc_unwind_ip"))
                .zip(at("arch.orc_unwind"))
                .map(|((n, ip), entries)| (n, ip, entries)),
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum CoreSize {
    Whole(u64),
    Kinds { first: u64, stride: u64, count: u64 },
    Unknown,
}

/// One loaded module.
#[derive(Debug, Clone)]
pub struct KernelModule {
    pub address: u64,
    pub name: String,
    pub text_base: u64,
    pub text_size: u64,
    pub size: u64,
    /// Its function symbols, sorted by address: (address, size, name).
    pub functions: Vec<(u64, u64, String)>,
    /// `(count, ip table, entry table)` of its ORC tables, when it has them.
    pub orc: Option<(u64, u64, u64)>,
}

impl KernelModule {
    /// The function holding `address` (by the symbol's size; a size-less
    /// symbol holds up to the next one) and the offset into it.
    pub fn lookup(&self, address: u64) -> Option<(&str, u64)> {
        if !(self.text_base..self.text_base.saturating_add(self.text_size)).contains(&address) {
            return None;
        }
        let upto = self.functions.partition_point(|f| f.0 <= address);
        let (start, size, name) = self.functions[..upto].last()?;
        let offset = address - start;
        let next = self.functions.get(upto).map(|f| f.0);
        let inside = if *size > 0 {
            offset < *size
        } else {
            next.is_none_or(|n| address < n)
        };
        inside.then_some((name.as_str(), offset))
    }

    pub fn contains(&self, address: u64) -> bool {
        (self.text_base..self.text_base.saturating_add(self.text_size)).contains(&address)
    }
}

/// The modules list and why it may be incomplete.
#[derive(Debug, Clone, Default)]
pub struct ModuleList {
    pub modules: Vec<KernelModule>,
    pub problems: Vec<String>,
}

/// Every module on the kernel's `modules` list, in list order (the most
/// recently loaded first, as lsmod shows them).
pub fn read_modules(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    layout: &ModuleLayout,
) -> ModuleList {
    let Some(head) = symbols.address_of("modules") else {
        return ModuleList {
            modules: Vec::new(),
            problems: vec!["kallsyms has no `modules` list head".into()],
        };
    };
    read_modules_from(memory, head, layout)
}

/// Every module on the list headed at `head` (see [`read_modules`]), for
/// a kernel whose kallsyms does not name `modules`.
pub fn read_modules_from(memory: &dyn Memory, head: u64, layout: &ModuleLayout) -> ModuleList {
    let mut list = ModuleList::default();
    let mut seen = HashSet::new();
    let mut node = head;
    loop {
        let next = match memory.read_u64(node) {
            Ok(n) => n,
            Err(e) => {
                list.problems.push(format!(
                    "module list: link at {node:#x} cannot be read ({e})"
                ));
                break;
            }
        };
        if next == head {
            break;
        }
        if next == 0 || !seen.insert(next) || list.modules.len() >= MAX_MODULES {
            list.problems.push(format!(
                "module list: loops, breaks or exceeds {MAX_MODULES} entries at {node:#x}"
            ));
            break;
        }
        let module = next.wrapping_sub(layout.list);
        match read_module(memory, layout, module) {
            Some(m) => list.modules.push(m),
            None => list
                .problems
                .push(format!("module at {module:#x} cannot be read")),
        }
        node = next;
    }
    list
}

fn read_module(memory: &dyn Memory, layout: &ModuleLayout, module: u64) -> Option<KernelModule> {
    let u64_at = |off: u64| memory.read_u64(module.checked_add(off)?).ok();
    let u32_at = |off: u64| memory.read_u32(module.checked_add(off)?).ok();
    let mut name = vec![0u8; layout.name_len as usize];
    memory
        .read_exact(module.checked_add(layout.name)?, &mut name)
        .ok()?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let text_base = u64_at(layout.text_base)?;
    let text_size = u64::from(u32_at(layout.text_size)?);
    let functions = layout
        .kallsyms
        .and_then(u64_at)
        .map(|ks| module_functions(memory, layout, ks, text_base, text_size))
        .unwrap_or_default();
    Some(KernelModule {
        address: module,
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        text_base,
        text_size,
        size: match layout.core_size {
            CoreSize::Whole(at) => u32_at(at).map_or(text_size, u64::from),
            CoreSize::Kinds {
                first,
                stride,
                count,
            } => (0..count)
                .map(|i| u32_at(first + i * stride).map_or(0, u64::from))
                .sum(),
            CoreSize::Unknown => text_size,
        },
        functions,
        orc: layout.orc.and_then(|(n, ip, entries)| {
            Some((u64::from(u32_at(n)?), u64_at(ip)?, u64_at(entries)?))
        }),
    })
}

/// A module's function symbols from its `mod_kallsyms` (the ELF symbols
/// the kernel kept when it loaded the module), those inside its text only.
fn module_functions(
    memory: &dyn Memory,
    layout: &ModuleLayout,
    kallsyms: u64,
    text_base: u64,
    text_size: u64,
) -> Vec<(u64, u64, String)> {
    let read = |off: u64| memory.read_u64(kallsyms.checked_add(off)?).ok();
    let (Some(symtab), Some(count), Some(strtab)) = (
        read(layout.kallsyms_symtab),
        read(layout.kallsyms_num).map(|n| n & 0xffff_ffff),
        read(layout.kallsyms_strtab),
    ) else {
        return Vec::new();
    };
    let count = count.min(MAX_MODULE_SYMBOLS);
    let mut table = vec![0u8; (count * ELF64_SYM_SIZE) as usize];
    if memory.read_exact(symtab, &mut table).is_err() {
        return Vec::new();
    }
    let text = text_base..text_base.saturating_add(text_size);
    let mut functions = Vec::new();
    for sym in table.chunks_exact(ELF64_SYM_SIZE as usize) {
        let name_off = u64::from(u32::from_le_bytes(sym[0..4].try_into().unwrap_or_default()));
        let value = u64::from_le_bytes(sym[8..16].try_into().unwrap_or_default());
        let size = u64::from_le_bytes(sym[16..24].try_into().unwrap_or_default());
        // Whatever st_info says (newer kernels rewrite it to kallsyms'
        // type letter), a symbol inside the module's text names code.
        if !text.contains(&value) || name_off >= MAX_STRTAB {
            continue;
        }
        let mut name = [0u8; 128];
        let n = memory.read_available(strtab.wrapping_add(name_off), &mut name);
        let end = name[..n].iter().position(|&b| b == 0).unwrap_or(n);
        if end == 0 {
            continue;
        }
        functions.push((
            value,
            size,
            String::from_utf8_lossy(&name[..end]).into_owned(),
        ));
    }
    functions.sort();
    functions.dedup_by_key(|f| f.0);
    functions
}
