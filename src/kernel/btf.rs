//! The kernel's own type information (BTF), read from its memory: the
//! `.BTF` section between `__start_BTF` and `__stop_BTF` that every kernel
//! built with CONFIG_DEBUG_INFO_BTF carries, so struct layouts (task_struct,
//! module, …) are known from the dump alone, without a vmlinux.
//!
//! Format (Documentation/bpf/btf.rst): a header (magic 0xeb9f, version 1,
//! header length, then type and string section offsets/lengths relative to
//! the header's end), a string table, and types numbered from 1 in order,
//! each a 12-byte `btf_type` (name offset; info = vlen bits 0–15, kind bits
//! 24–28, kind_flag bit 31; size or type) followed by kind-specific data.
//!
//! Written by hand rather than with a BTF crate: the crates copy every type
//! into maps (130,000 types here, of which a dozen are asked for), and the
//! one that resolves member paths follows typedef chains without a bound, so
//! a looping chain in a corrupt dump's BTF would hang it. Here the type
//! table is indexed once (4 bytes a type), names are compared in place, and
//! every chain and nesting is bounded.

/// The largest BTF accepted: a 6.x vmlinux's is about 5 MiB.
pub const MAX_BTF_SIZE: u64 = 64 << 20;
/// Typedef/const/volatile chains and anonymous-member nesting deeper than
/// this are treated as corrupt (real ones are a few levels deep).
const MAX_CHAIN: usize = 32;

const MAGIC: u16 = 0xeb9f;
const HEADER_MIN: usize = 24;
const TYPE_SIZE: usize = 12;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// A parsed BTF blob: the bytes, and where each type starts.
pub struct Btf {
    bytes: Vec<u8>,
    /// Byte offset of type `id` at index `id - 1`.
    types: Vec<u32>,
    strings: std::ops::Range<usize>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Btf({} types, {} bytes)",
            self.types.len(),
            self.bytes.len()
        )
    }
}

/// One struct/union member, resolved to where it lies in the outermost
/// struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Bytes from the start of the outermost struct (bit offset / 8).
    pub offset: u64,
    /// Bit offset within that byte and bitfield width, for bitfields.
    pub bit_offset: u8,
    pub bitfield_size: Option<u8>,
    /// The member's type id.
    pub type_id: u32,
}

impl Btf {
    /// Indexes a BTF blob; errors say what is wrong with it.
    pub fn parse(bytes: Vec<u8>) -> Result<Btf, String> {
        if bytes.len() < HEADER_MIN {
            return Err(format!(
                "BTF is {} bytes, shorter than its header",
                bytes.len()
            ));
        }
        let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
        if u16_at(0) != MAGIC {
            return Err(format!(
                "BTF magic is {:#06x}, not 0xeb9f (or big-endian BTF)",
                u16_at(0)
            ));
        }
        if bytes[2] != 1 {
            return Err(format!("BTF version {} (only 1 is known)", bytes[2]));
        }
        let header_len = u32_at(4) as usize;
        if header_len < HEADER_MIN || header_len > bytes.len() {
            return Err(format!("BTF header length {header_len} is out of bounds"));
        }
        let section = |off: usize, len: usize| -> Result<std::ops::Range<usize>, String> {
            let start = header_len
                .checked_add(u32_at(off) as usize)
                .ok_or("BTF section offset overflows")?;
            let end = start
                .checked_add(u32_at(len) as usize)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| {
                    format!(
                        "a BTF section ends past the blob's {} bytes (header fields at {off})",
                        bytes.len()
                    )
                })?;
            Ok(start..end)
        };
        let type_range = section(8, 12)?;
        let strings = section(16, 20)?;

        let mut types = Vec::with_capacity(type_range.len() / TYPE_SIZE);
        let mut at = type_range.start;
        while at < type_range.end {
            if at + TYPE_SIZE > type_range.end {
                return Err(format!("BTF type {} is cut short", types.len() + 1));
            }
            let info = u32_at(at + 4);
            let vlen = (info & 0xffff) as usize;
            let extra = match kind_of(info) {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                other => {
                    return Err(format!(
                        "BTF type {} has unknown kind {other}",
                        types.len() + 1
                    ));
                }
            };
            types.push(at as u32);
            at += TYPE_SIZE + extra;
        }
        if at != type_range.end {
            return Err(format!(
                "the last BTF type ({}) runs past its section",
                types.len()
            ));
        }
        Ok(Btf {
            bytes,
            types,
            strings,
        })
    }

    /// How many types the blob holds.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    fn u32_at(&self, at: usize) -> u32 {
        self.bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
            .unwrap_or(0)
    }

    /// `(name offset, info, size_or_type)` and the start of type `id`.
    fn header(&self, id: u32) -> Option<(u32, u32, u32, usize)> {
        let at = *self.types.get((id as usize).checked_sub(1)?)? as usize;
        Some((
            self.u32_at(at),
            self.u32_at(at + 4),
            self.u32_at(at + 8),
            at,
        ))
    }

    /// The string at `offset` in the string table (empty when out of bounds).
    fn string(&self, offset: u32) -> &[u8] {
        let Some(start) = self.strings.start.checked_add(offset as usize) else {
            return b"";
        };
        let Some(tail) = self.bytes.get(start..self.strings.end) else {
            return b"";
        };
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        &tail[..end]
    }

    /// The name of type `id` (empty for anonymous types).
    pub fn name(&self, id: u32) -> &str {
        self.header(id)
            .map(|(name, ..)| std::str::from_utf8(self.string(name)).unwrap_or(""))
            .unwrap_or("")
    }

    /// The struct (or union) called `name`, skipping forward declarations.
    pub fn struct_named(&self, name: &str) -> Option<u32> {
        (1..=self.types.len() as u32).find(|&id| {
            self.header(id).is_some_and(|(n, info, _, _)| {
                matches!(kind_of(info), KIND_STRUCT | KIND_UNION)
                    && self.string(n) == name.as_bytes()
            })
        })
    }

    /// Follows typedef / const / volatile / restrict / type-tag links to
    /// the type they name (bounded).
    pub fn resolve(&self, mut id: u32) -> Option<u32> {
        for _ in 0..MAX_CHAIN {
            let (_, info, target, _) = self.header(id)?;
            match kind_of(info) {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = target
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// The size in bytes of type `id` (pointers are 8; arrays multiply).
    pub fn size_of(&self, id: u32) -> Option<u64> {
        let id = self.resolve(id)?;
        let (_, info, size, at) = self.header(id)?;
        match kind_of(info) {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT
            | KIND_DATASEC => Some(u64::from(size)),
            KIND_PTR => Some(8),
            KIND_ARRAY => {
                let element = self.u32_at(at + TYPE_SIZE);
                let count = self.u32_at(at + TYPE_SIZE + 8);
                // An array of arrays: bounded by resolve's own bound per level
                // and by the element not being the array itself.
                if element == id {
                    return None;
                }
                self.size_of_shallow(element)?.checked_mul(u64::from(count))
            }
            _ => None,
        }
    }

    /// size_of for an array element: one more level, no further arrays
    /// (multi-dimensional arrays do not occur in the layouts read here).
    fn size_of_shallow(&self, id: u32) -> Option<u64> {
        let id = self.resolve(id)?;
        let (_, info, size, _) = self.header(id)?;
        match kind_of(info) {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT => {
                Some(u64::from(size))
            }
            KIND_PTR => Some(8),
            _ => None,
        }
    }

    /// The value of the enumerator called `name` in any enum (ENUM or
    /// ENUM64) of the blob: how kernel constants that are enumerators
    /// (`MOD_INIT_TEXT`, …) are known from the dump alone.
    pub fn enumerator(&self, name: &str) -> Option<i64> {
        (1..=self.types.len() as u32).find_map(|id| {
            let (_, info, _, at) = self.header(id)?;
            let (entry, wide) = match kind_of(info) {
                KIND_ENUM => (8, false),
                KIND_ENUM64 => (12, true),
                _ => return None,
            };
            let signed = info >> 31 == 1;
            (0..(info & 0xffff) as usize).find_map(|i| {
                let e = at + TYPE_SIZE + i * entry;
                if self.string(self.u32_at(e)) != name.as_bytes() {
                    return None;
                }
                let low = self.u32_at(e + 4);
                Some(match (wide, signed) {
                    (false, true) => i64::from(low as i32),
                    (false, false) => i64::from(low),
                    (true, _) => (u64::from(self.u32_at(e + 8)) << 32 | u64::from(low)) as i64,
                })
            })
        })
    }

    /// For an array type: (element type, element count).
    pub fn array(&self, id: u32) -> Option<(u32, u32)> {
        let id = self.resolve(id)?;
        let (_, info, _, at) = self.header(id)?;
        (kind_of(info) == KIND_ARRAY)
            .then(|| (self.u32_at(at + TYPE_SIZE), self.u32_at(at + TYPE_SIZE + 8)))
    }

    /// The member at `path` ("thread.sp", "core_layout.base") of struct
    /// `id`, looking through anonymous structs and unions the way C does.
    pub fn member(&self, id: u32, path: &str) -> Option<Member> {
        let mut current = Member {
            offset: 0,
            bit_offset: 0,
            bitfield_size: None,
            type_id: id,
        };
        for part in path.split('.') {
            let found = self.direct_member(current.type_id, part, 0)?;
            current = Member {
                offset: current.offset + found.offset,
                ..found
            };
        }
        Some(current)
    }

    /// The variable `name` of data section `section` (BTF_KIND_DATASEC;
    /// a kernel's BTF describes its per-CPU variables in `.data..percpu`):
    /// its offset in the section and its type.
    pub fn section_variable(&self, section: &str, name: &str) -> Option<(u64, u32)> {
        let datasec = (1..=self.types.len() as u32).find(|&id| {
            self.header(id).is_some_and(|(n, info, _, _)| {
                kind_of(info) == KIND_DATASEC && self.string(n) == section.as_bytes()
            })
        })?;
        let (_, info, _, at) = self.header(datasec)?;
        (0..(info & 0xffff) as usize).find_map(|i| {
            let entry = at + TYPE_SIZE + i * 12;
            let (var_name, var_info, var_type, _) = self.header(self.u32_at(entry))?;
            (kind_of(var_info) == KIND_VAR && self.string(var_name) == name.as_bytes())
                .then(|| (u64::from(self.u32_at(entry + 4)), var_type))
        })
    }

    /// A member named `name` of struct/union `id` itself or of one of its
    /// anonymous members, nesting at most MAX_CHAIN deep.
    fn direct_member(&self, id: u32, name: &str, depth: usize) -> Option<Member> {
        if depth > MAX_CHAIN {
            return None;
        }
        let id = self.resolve(id)?;
        let (_, info, _, at) = self.header(id)?;
        if !matches!(kind_of(info), KIND_STRUCT | KIND_UNION) {
            return None;
        }
        let bitfields = info >> 31 == 1;
        let count = (info & 0xffff) as usize;
        for i in 0..count {
            let m = at + TYPE_SIZE + i * 12;
            let member_name = self.string(self.u32_at(m));
            let type_id = self.u32_at(m + 4);
            let raw = self.u32_at(m + 8);
            let (bits, size) = if bitfields {
                (raw & 0xff_ffff, (raw >> 24) as u8)
            } else {
                (raw, 0)
            };
            let here = Member {
                offset: u64::from(bits / 8),
                bit_offset: (bits % 8) as u8,
                bitfield_size: (size != 0).then_some(size),
                type_id,
            };
            if member_name == name.as_bytes() {
                return Some(here);
            }
            if member_name.is_empty()
                && let Some(inner) = self.direct_member(type_id, name, depth + 1)
            {
                return Some(Member {
                    offset: here.offset + inner.offset,
                    ..inner
                });
            }
        }
        None
    }
}

/// The kernel's BTF from its memory, located by kallsyms
/// (`__start_BTF`, `__stop_BTF`).
pub fn from_memory(
    memory: &dyn crate::memory::Memory,
    symbols: &super::kallsyms::KernelSymbols,
) -> Result<Btf, String> {
    let start = symbols
        .address_of("__start_BTF")
        .ok_or("kallsyms has no __start_BTF (a kernel built without CONFIG_DEBUG_INFO_BTF)")?;
    let stop = symbols
        .address_of("__stop_BTF")
        .ok_or("kallsyms has no __stop_BTF")?;
    let len = stop
        .checked_sub(start)
        .filter(|&l| l > 0 && l <= MAX_BTF_SIZE)
        .ok_or_else(|| format!("BTF spans {start:#x}..{stop:#x}, not a plausible size"))?;
    let mut bytes = vec![0u8; len as usize];
    // Megabytes of pages that a compressed dump inflates one by one: the
    // two halves are read on two threads.
    let (low, high) = bytes.split_at_mut(len as usize / 2);
    let high_start = start + low.len() as u64;
    let (low_read, high_read) = std::thread::scope(|scope| {
        let high_read = scope.spawn(|| memory.read_exact(high_start, high));
        let low_read = memory.read_exact(start, low);
        (low_read, high_read.join())
    });
    let high_read = high_read.map_err(|_| "reading the kernel's BTF failed".to_string())?;
    low_read
        .and(high_read)
        .map_err(|e| format!("the kernel's BTF at {start:#x} cannot be read: {e}"))?;
    Btf::parse(bytes)
}

fn kind_of(info: u32) -> u32 {
    (info >> 24) & 0x1f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a BTF blob from (name, info, size_or_type, extra words).
    fn blob(strings: &[&str], types: &[(u32, u32, u32, Vec<u32>)]) -> Vec<u8> {
        let mut table = vec![0u8];
        for s in strings {
            table.extend_from_slice(s.as_bytes());
            table.push(0);
        }
        let mut body = Vec::new();
        for (name, info, size, extra) in types {
            for w in [*name, *info, *size].iter().chain(extra) {
                body.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            body.len() as u32,
            body.len() as u32,
            table.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&table);
        out
    }

    // Strings: 1 "long", 6 "inner", 12 "outer", 18 "a", 20 "b", 22 "c".
    fn sample() -> Btf {
        let strings = ["long", "inner", "outer", "a", "b", "c"];
        let types = vec![
            // 1: long (8 bytes)
            (1, KIND_INT << 24, 8, vec![64]),
            // 2: struct inner { long a; long b; }
            (6, KIND_STRUCT << 24 | 2, 16, vec![18, 1, 0, 20, 1, 64]),
            // 3: anonymous union { long c; }
            (0, KIND_UNION << 24 | 1, 8, vec![22, 1, 0]),
            // 4: struct outer { long a; union { long c; }; struct inner b; }
            (
                12,
                KIND_STRUCT << 24 | 3,
                32,
                vec![18, 1, 0, 0, 3, 64, 20, 2, 128],
            ),
            // 5: typedef looping to itself
            (0, KIND_TYPEDEF << 24, 5, vec![]),
        ];
        Btf::parse(blob(&strings, &types)).unwrap()
    }

    #[test]
    fn members_through_paths_and_anonymous_unions() {
        let btf = sample();
        let outer = btf.struct_named("outer").unwrap();
        assert_eq!(outer, 4);
        assert_eq!(btf.member(outer, "a").unwrap().offset, 0);
        assert_eq!(btf.member(outer, "c").unwrap().offset, 8);
        assert_eq!(btf.member(outer, "b.b").unwrap().offset, 24);
        assert!(btf.member(outer, "b.c").is_none());
        assert_eq!(btf.size_of(outer), Some(32));
    }

    #[test]
    fn enumerators_are_found_in_enums_and_enum64s() {
        // "\0mod_mem_type\0MOD_TEXT\0MOD_INIT_TEXT\0BIG\0"
        let strings = ["mod_mem_type", "MOD_TEXT", "MOD_INIT_TEXT", "BIG"];
        let types = vec![
            (1, KIND_ENUM << 24 | 2, 4, vec![14, 0, 23, 4]),
            (0, KIND_ENUM64 << 24 | 1, 8, vec![37, 5, 1]),
            (0, 1 << 31 | KIND_ENUM << 24 | 1, 4, vec![14, u32::MAX]),
        ];
        let btf = Btf::parse(blob(&strings, &types)).unwrap();
        assert_eq!(btf.enumerator("MOD_INIT_TEXT"), Some(4));
        assert_eq!(btf.enumerator("MOD_TEXT"), Some(0));
        assert_eq!(btf.enumerator("BIG"), Some((1 << 32) + 5));
        assert_eq!(btf.enumerator("mod_mem_type"), None);
        assert_eq!(btf.enumerator("NOPE"), None);
    }

    #[test]
    fn a_looping_typedef_is_refused_not_followed_forever() {
        let btf = sample();
        assert_eq!(btf.resolve(5), None);
        assert_eq!(btf.size_of(5), None);
    }

    #[test]
    fn per_cpu_variables_by_their_data_section() {
        // Strings: 1 "long", 6 ".data..percpu", 20 "runqueues", 30 "other".
        let strings = ["long", ".data..percpu", "runqueues", "other"];
        let types = vec![
            (1, KIND_INT << 24, 8, vec![64]),
            // 2, 3: VARs of type long, global linkage.
            (30, KIND_VAR << 24, 1, vec![1]),
            (20, KIND_VAR << 24, 1, vec![1]),
            // 4: the section: "other" at 0x40, "runqueues" at 0x1a40.
            (
                6,
                KIND_DATASEC << 24 | 2,
                0x3000,
                vec![2, 0x40, 8, 3, 0x1a40, 8],
            ),
        ];
        let btf = Btf::parse(blob(&strings, &types)).unwrap();
        assert_eq!(
            btf.section_variable(".data..percpu", "runqueues"),
            Some((0x1a40, 1))
        );
        assert_eq!(btf.section_variable(".data..percpu", "long"), None);
        assert_eq!(btf.section_variable(".data", "runqueues"), None);
    }

    #[test]
    fn damaged_blobs_are_errors() {
        let good = blob(&["x"], &[(1, KIND_INT << 24, 4, vec![32])]);
        assert!(Btf::parse(good.clone()).is_ok());
        for cut in [0, 10, 30, good.len() - 1] {
            assert!(Btf::parse(good[..cut].to_vec()).is_err(), "cut at {cut}");
        }
        let mut bad_kind = good.clone();
        bad_kind[24 + 7] = 30;
        assert!(Btf::parse(bad_kind).unwrap_err().contains("unknown kind"));
    }
}
