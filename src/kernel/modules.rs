//! Loaded kernel modules, read from the kernel's `modules` list with
//! struct layouts from its BTF: each module's name, where its code lies,
//! its own symbol table (`mod->kallsyms`: ELF symbols and their string
//! table, kept by the kernel for /proc/kallsyms), its ORC tables, and
//! what its sysfs attributes keep: its GNU build-id (`mod->notes_attrs`,
//! the `.note.*` sections as loaded) and where each of its sections was
//! placed (`mod->sect_attrs`, /sys/module/NAME/sections) — what a `.ko`
//! debug file is matched and placed with.

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
/// Note sections of one module read at most (a module has two or three).
const MAX_NOTE_SECTIONS: u64 = 64;
/// One note section read at most (a build-id note is 36 bytes).
const MAX_NOTE_SECTION: u64 = 4096;
/// Sections of one module listed at most (a module has a few dozen
/// allocated, non-empty ones, which are all the kernel lists).
const MAX_SECTIONS: u64 = 1024;
/// A section name read at most.
const MAX_SECTION_NAME: usize = 256;
/// A GNU build-id is 20 bytes (SHA-1) in practice; 64 bounds any other.
const MAX_BUILD_ID: usize = 64;
/// ELF note type of a GNU build-id (NT_GNU_BUILD_ID).
const NT_GNU_BUILD_ID: u32 = 3;

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
    /// `notes_attrs`: the module's note sections as loaded.
    notes: Option<NotesLayout>,
    /// `sect_attrs`: each section's load address.
    sections: Option<SectionsLayout>,
}

/// A `struct bin_attribute`: its name (`attr.name`), `size` and
/// `private` pointer, `stride` bytes apart in an array.
#[derive(Debug, Clone, Copy)]
struct BinAttributeLayout {
    stride: u64,
    name: u64,
    size: u64,
    private: u64,
}

impl BinAttributeLayout {
    fn from_btf(btf: &Btf) -> Option<BinAttributeLayout> {
        let attr = btf.struct_named("bin_attribute")?;
        Some(BinAttributeLayout {
            stride: btf.size_of(attr)?,
            name: btf.member(attr, "attr.name")?.offset,
            size: btf.member(attr, "size")?.offset,
            private: btf.member(attr, "private")?.offset,
        })
    }
}

/// `struct module_notes_attrs { struct kobject *dir; unsigned int notes;
/// struct bin_attribute attrs[]; }` (kernel/module/sysfs.c): one
/// attribute per `.note.*` section, `private` pointing at its bytes in
/// the module's memory.
#[derive(Debug, Clone, Copy)]
struct NotesLayout {
    /// `module.notes_attrs`.
    pointer: u64,
    count: u64,
    array: u64,
    attr: BinAttributeLayout,
}

/// `struct module_sect_attrs { struct attribute_group grp; unsigned int
/// nsections; struct module_sect_attr attrs[]; }` with `struct
/// module_sect_attr { struct bin_attribute battr; unsigned long address;
/// }` (to 6.14); later kernels drop `module_sect_attr` and keep the
/// address in the attribute's `private`.
#[derive(Debug, Clone, Copy)]
struct SectionsLayout {
    /// `module.sect_attrs`.
    pointer: u64,
    count: u64,
    array: u64,
    stride: u64,
    name: u64,
    address: u64,
}

impl NotesLayout {
    fn from_btf(btf: &Btf, module: u32) -> Option<NotesLayout> {
        let notes = btf.struct_named("module_notes_attrs")?;
        Some(NotesLayout {
            pointer: btf.member(module, "notes_attrs")?.offset,
            count: btf.member(notes, "notes")?.offset,
            array: btf.member(notes, "attrs")?.offset,
            attr: BinAttributeLayout::from_btf(btf)?,
        })
    }
}

impl SectionsLayout {
    fn from_btf(btf: &Btf, module: u32) -> Option<SectionsLayout> {
        let sections = btf.struct_named("module_sect_attrs")?;
        let pointer = btf.member(module, "sect_attrs")?.offset;
        let count = btf.member(sections, "nsections")?.offset;
        let array = btf.member(sections, "attrs")?.offset;
        match btf.struct_named("module_sect_attr") {
            Some(element) => Some(SectionsLayout {
                pointer,
                count,
                array,
                stride: btf.size_of(element)?,
                name: btf.member(element, "battr.attr.name")?.offset,
                address: btf.member(element, "address")?.offset,
            }),
            None => {
                let attr = BinAttributeLayout::from_btf(btf)?;
                Some(SectionsLayout {
                    pointer,
                    count,
                    array,
                    stride: attr.stride,
                    name: attr.name,
                    address: attr.private,
                })
            }
        }
    }
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
            notes: NotesLayout::from_btf(btf, module),
            sections: SectionsLayout::from_btf(btf, module),
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
    /// Its GNU build-id (lower-case hex) from its `.note.gnu.build-id` as
    /// loaded, when the kernel keeps its notes (CONFIG_SYSFS) and they can
    /// be read.
    pub build_id: Option<String>,
    /// Where the kernel placed each of its allocated sections (`.text`,
    /// `.text.unlikely`, `.init.text`, `.data`, …), in the kernel's order;
    /// empty when `sect_attrs` cannot be read (CONFIG_KALLSYMS off).
    pub sections: Vec<ModuleSection>,
}

/// One section of a loaded module and its load address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSection {
    pub name: String,
    pub address: u64,
}

impl KernelModule {
    /// The function holding `address` (by the symbol's size; a size-less
    /// symbol holds up to the next one) and the offset into it.
    pub fn lookup(&self, address: u64) -> Option<(&str, u64)> {
        self.function_at(address)
            .map(|(start, _, name)| (name, address - start))
    }

    /// The function holding `address`: its start, size (0 when the symbol
    /// has none) and name.
    pub fn function_at(&self, address: u64) -> Option<(u64, u64, &str)> {
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
        inside.then_some((*start, *size, name.as_str()))
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
        build_id: layout
            .notes
            .and_then(|notes| module_build_id(memory, &notes, u64_at(notes.pointer)?)),
        sections: layout
            .sections
            .and_then(|sections| {
                Some(module_sections(
                    memory,
                    &sections,
                    u64_at(sections.pointer)?,
                ))
            })
            .unwrap_or_default(),
    })
}

/// The GNU build-id among the note sections `notes_attrs` lists: each
/// attribute's `private` points at the section's bytes, `size` is their
/// length; every count and length is bounded.
fn module_build_id(memory: &dyn Memory, layout: &NotesLayout, attrs: u64) -> Option<String> {
    if attrs == 0 {
        return None;
    }
    let count = u64::from(memory.read_u32(attrs.checked_add(layout.count)?).ok()?);
    for i in 0..count.min(MAX_NOTE_SECTIONS) {
        let attr = attrs
            .checked_add(layout.array)?
            .checked_add(i.checked_mul(layout.attr.stride)?)?;
        let (Ok(data), Ok(size)) = (
            memory.read_u64(attr.wrapping_add(layout.attr.private)),
            memory.read_u64(attr.wrapping_add(layout.attr.size)),
        ) else {
            continue;
        };
        if data == 0 || size == 0 || size > MAX_NOTE_SECTION {
            continue;
        }
        let mut bytes = vec![0u8; size as usize];
        if memory.read_exact(data, &mut bytes).is_err() {
            continue;
        }
        if let Some(id) = gnu_build_id(&bytes) {
            return Some(crate::byte_reader::hex(id));
        }
    }
    None
}

/// The descriptor of the first `GNU` NT_GNU_BUILD_ID note among the ELF
/// notes in `bytes` (a note section as the kernel loaded it), read with
/// object's note iterator; a malformed note ends the walk.
fn gnu_build_id(bytes: &[u8]) -> Option<&[u8]> {
    use object::elf::FileHeader64;
    use object::read::elf::NoteIterator;
    let endian = object::LittleEndian;
    let mut notes =
        NoteIterator::<FileHeader64<object::LittleEndian>>::new(endian, 4, bytes).ok()?;
    while let Ok(Some(note)) = notes.next() {
        let desc = note.desc();
        if note.n_type(endian).0 == NT_GNU_BUILD_ID
            && note.name() == b"GNU"
            && (1..=MAX_BUILD_ID).contains(&desc.len())
        {
            return Some(desc);
        }
    }
    None
}

/// Each section `sect_attrs` lists, with the address the kernel loaded it
/// at; names that cannot be read are left out, the count is bounded and
/// the walk stops at the first element that cannot be read.
fn module_sections(memory: &dyn Memory, layout: &SectionsLayout, attrs: u64) -> Vec<ModuleSection> {
    let mut sections = Vec::new();
    if attrs == 0 {
        return sections;
    }
    let Some(count) = attrs
        .checked_add(layout.count)
        .and_then(|at| memory.read_u32(at).ok())
    else {
        return sections;
    };
    for i in 0..u64::from(count).min(MAX_SECTIONS) {
        let Some(element) = i
            .checked_mul(layout.stride)
            .and_then(|off| attrs.checked_add(layout.array)?.checked_add(off))
        else {
            break;
        };
        // The array is one allocation: past an unreadable element the
        // count is not to be believed.
        let (Ok(name), Ok(address)) = (
            memory.read_u64(element.wrapping_add(layout.name)),
            memory.read_u64(element.wrapping_add(layout.address)),
        ) else {
            break;
        };
        let mut buf = [0u8; MAX_SECTION_NAME];
        let n = memory.read_available(name, &mut buf);
        let Some(end) = buf[..n].iter().position(|&b| b == 0) else {
            continue;
        };
        if end == 0 {
            continue;
        }
        sections.push(ModuleSection {
            name: String::from_utf8_lossy(&buf[..end]).into_owned(),
            address,
        });
    }
    sections
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

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [name.len() as u32, desc.len() as u32, kind] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(name);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(desc);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    #[test]
    fn the_gnu_build_id_note_is_found_among_others_and_damage_is_not_trusted() {
        let id = [0xfb, 0x27, 0xaa, 0x87, 0xdb];
        // .note.Linux's notes first, then the build-id.
        let mut notes = note(b"Linux\0", 0x100, &[0; 4]);
        notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &id));
        assert_eq!(gnu_build_id(&notes), Some(&id[..]));
        // Another owner or type is not a build-id.
        assert_eq!(gnu_build_id(&note(b"GNV\0", NT_GNU_BUILD_ID, &id)), None);
        assert_eq!(gnu_build_id(&note(b"GNU\0", 1, &id)), None);
        // An empty or oversized descriptor is none.
        assert_eq!(gnu_build_id(&note(b"GNU\0", NT_GNU_BUILD_ID, &[])), None);
        assert_eq!(
            gnu_build_id(&note(b"GNU\0", NT_GNU_BUILD_ID, &[1; MAX_BUILD_ID + 1])),
            None
        );
        // Sizes that run past the section, or wrap, stop the walk.
        let mut cut = note(b"GNU\0", NT_GNU_BUILD_ID, &id);
        cut.truncate(cut.len() - 4);
        assert_eq!(gnu_build_id(&cut), None);
        let mut huge = notes.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gnu_build_id(&huge), None);
        huge[0..4].copy_from_slice(&6u32.to_le_bytes());
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gnu_build_id(&huge), None);
        assert_eq!(gnu_build_id(&[]), None);
        assert_eq!(gnu_build_id(&[0; 11]), None);
    }
}
