//! Kernel symbols from the kallsyms tables the kernel keeps in its own
//! memory, for when the user has nothing but the dump. VMCOREINFO names
//! the tables from Linux 6.0 on.
//!
//! Layout (facts of the kernel's `scripts/kallsyms` output, little-endian):
//! - `kallsyms_num_syms`: u32 symbol count;
//! - `kallsyms_names`: per symbol a length (one byte; since 6.1, when bit 7
//!   is set, a second byte supplies bits 7..14) then that many token bytes;
//! - `kallsyms_token_index`: u16[256], offsets into `kallsyms_token_table`,
//!   whose tokens are NUL-terminated strings. A name expands to the
//!   concatenation of its tokens; its first character is the `nm` type;
//! - addresses, in one of four encodings (see [`AddressEncoding`]).

use std::fmt;

use crate::memory::Memory;
use crate::model::Vmcoreinfo;

/// More symbols than this is a garbage count (a distribution kernel has
/// about 10^5; allyesconfig a few times that).
const MAX_SYMBOLS: u32 = 1 << 22;
/// The kernel's KSYM_NAME_LEN (512 since 6.1): no name is longer.
const MAX_NAME_LEN: usize = 512;
/// A compressed name's length fits in 15 bits (two length bytes).
const MAX_COMPRESSED_LEN: usize = 0x7fff;
/// All decoded names together; far above any real kernel's few MiB.
const MAX_NAME_BYTES: usize = 64 << 20;
/// Tables are read through memory in pieces this big.
const CHUNK: usize = 64 << 10;

/// How the kernel stored its symbol addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEncoding {
    /// `kallsyms_addresses[i]`: u64 absolute addresses
    /// (no CONFIG_KALLSYMS_BASE_RELATIVE).
    Absolute,
    /// `kallsyms_relative_base + (u32)kallsyms_offsets[i]`.
    BaseRelative,
    /// CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP through 6.14, so 6.1):
    /// a non-negative offset is the absolute address itself (per-CPU
    /// symbols sit near 0), a negative one is `relative_base - 1 - offset`.
    AbsolutePercpu,
    /// 6.15+ style: `&kallsyms_offsets[i] + (s32)kallsyms_offsets[i]`.
    PlaceRelative,
}

impl fmt::Display for AddressEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressEncoding::Absolute => "absolute addresses",
            AddressEncoding::BaseRelative => "base-relative offsets",
            AddressEncoding::AbsolutePercpu => "base-relative offsets with absolute per-CPU",
            AddressEncoding::PlaceRelative => "place-relative offsets",
        })
    }
}

/// One kernel symbol as kallsyms lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSymbol<'a> {
    pub name: &'a str,
    /// The `nm` type letter: `T`/`t` text, `D`/`d` data, `W`/`w` weak…
    pub kind: char,
    pub address: u64,
}

struct Entry {
    address: u64,
    name_start: u32,
    name_len: u16,
    kind: u8,
}

/// The kernel's symbol table, decoded from the dump; sorted by address
/// (for aliases, the kernel's own order: non-weak first, then fewer
/// leading underscores).
pub struct KernelSymbols {
    entries: Vec<Entry>,
    names: String,
    /// (hash of the name, index into `entries`), sorted by hash, global
    /// symbols before local ones of the same name, then table order.
    by_name: Vec<(u64, u32)>,
    encoding: AddressEncoding,
}

fn read_err(what: &str, address: u64, e: impl fmt::Display) -> String {
    format!("reading {what} at {address:#x}: {e}")
}

/// Reads a table sequentially through memory, a chunk at a time, so a
/// table whose end is unknown costs only what is decoded.
struct TableReader<'a> {
    memory: &'a dyn Memory,
    what: &'static str,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a> TableReader<'a> {
    fn new(memory: &'a dyn Memory, what: &'static str, start: u64) -> Self {
        TableReader {
            memory,
            what,
            next: start,
            buf: Vec::new(),
            pos: 0,
        }
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, String> {
        if self.pos == self.buf.len() {
            self.buf.resize(CHUNK, 0);
            let n = self.memory.read_available(self.next, &mut self.buf);
            if n == 0 {
                return Err(format!(
                    "{} at {:#x} cannot be read (not mapped or not in the dump)",
                    self.what, self.next
                ));
            }
            self.buf.truncate(n);
            self.next = self.next.wrapping_add(n as u64);
            self.pos = 0;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }
}

/// The 256 tokens, each as found (None: unreadable or unterminated).
fn read_tokens(
    memory: &dyn Memory,
    token_table: u64,
    token_index: u64,
) -> Result<Vec<Option<Vec<u8>>>, String> {
    let mut index = [0u8; 512];
    memory
        .read_exact(token_index, &mut index)
        .map_err(|e| read_err("kallsyms_token_index", token_index, e))?;
    let offsets: Vec<u64> = index
        .chunks_exact(2)
        .map(|p| u64::from(u16::from_le_bytes([p[0], p[1]])))
        .collect();
    // u16 offsets bound the table: read it once.
    let span = offsets.iter().max().copied().unwrap_or(0) as usize + MAX_NAME_LEN + 1;
    let mut table = vec![0u8; span];
    let got = memory.read_available(token_table, &mut table);
    if got == 0 {
        return Err(read_err(
            "kallsyms_token_table",
            token_table,
            "not readable",
        ));
    }
    table.truncate(got);
    Ok(offsets
        .iter()
        .map(|&o| {
            let rest = table.get(o as usize..)?;
            let end = rest.iter().take(MAX_NAME_LEN + 1).position(|&b| b == 0)?;
            Some(rest[..end].to_vec())
        })
        .collect())
}

/// Decodes `count` names: (type letter, name) pairs appended to `names`.
fn read_names(
    memory: &dyn Memory,
    names_at: u64,
    count: u32,
    tokens: &[Option<Vec<u8>>],
    names: &mut String,
) -> Result<Vec<(u8, u32, u16)>, String> {
    let mut reader = TableReader::new(memory, "kallsyms_names", names_at);
    let mut out = Vec::new();
    let mut name = Vec::with_capacity(MAX_NAME_LEN + 1);
    for i in 0..count {
        let mut len = usize::from(reader.byte()?);
        if len & 0x80 != 0 {
            len = (len & 0x7f) | (usize::from(reader.byte()?) << 7);
        }
        if len == 0 || len > MAX_COMPRESSED_LEN {
            return Err(format!("kallsyms name {i} has length {len}"));
        }
        name.clear();
        for _ in 0..len {
            let t = reader.byte()?;
            let token = tokens[usize::from(t)]
                .as_deref()
                .ok_or_else(|| format!("kallsyms name {i} uses unreadable token {t}"))?;
            if name.len() + token.len() > MAX_NAME_LEN + 1 {
                return Err(format!(
                    "kallsyms name {i} expands beyond {MAX_NAME_LEN} bytes"
                ));
            }
            name.extend_from_slice(token);
        }
        let (&kind, text) = name
            .split_first()
            .ok_or_else(|| format!("kallsyms name {i} expands to nothing"))?;
        // A type letter (or `?`) then a name of printable characters.
        let kind_ok = kind.is_ascii_alphabetic() || kind == b'?';
        if !kind_ok || text.is_empty() || !text.iter().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "kallsyms name {i} is not a symbol ({:?})",
                String::from_utf8_lossy(&name)
            ));
        }
        if names.len() + text.len() > MAX_NAME_BYTES {
            return Err("kallsyms names exceed 64 MiB".into());
        }
        let start = names.len() as u32;
        // Checked above: graphic ASCII is UTF-8.
        names.push_str(std::str::from_utf8(text).map_err(|e| e.to_string())?);
        out.push((kind, start, text.len() as u16));
    }
    Ok(out)
}

/// `count` little-endian words of `size` bytes from `at`.
fn read_words(
    memory: &dyn Memory,
    what: &'static str,
    at: u64,
    count: u32,
    size: usize,
) -> Result<Vec<u64>, String> {
    let mut reader = TableReader::new(memory, what, at);
    let mut out = Vec::new();
    for _ in 0..count {
        let mut word = [0u8; 8];
        for b in word.iter_mut().take(size) {
            *b = reader.byte()?;
        }
        out.push(u64::from_le_bytes(word));
    }
    Ok(out)
}

fn decode(encoding: AddressEncoding, raw: u64, index: u64, offsets: u64, base: u64) -> u64 {
    let off = raw as u32 as i32;
    match encoding {
        AddressEncoding::Absolute => raw,
        AddressEncoding::BaseRelative => base.wrapping_add(u64::from(raw as u32)),
        AddressEncoding::AbsolutePercpu if off >= 0 => off as u64,
        AddressEncoding::AbsolutePercpu => base.wrapping_sub(1).wrapping_sub(off as i64 as u64),
        AddressEncoding::PlaceRelative => offsets
            .wrapping_add(index * 4)
            .wrapping_add(off as i64 as u64),
    }
}

fn is_text(kind: u8) -> bool {
    matches!(kind, b't' | b'T' | b'w' | b'W')
}

impl KernelSymbols {
    /// Decodes the kallsyms tables VMCOREINFO names, reading `memory` (the
    /// kernel's virtual address space). The address encoding is the one
    /// that puts `_stext` where `SYMBOL(_stext)` says it is.
    pub fn from_memory(memory: &dyn Memory, info: &Vmcoreinfo) -> Result<KernelSymbols, String> {
        let symbol = |name: &str| {
            info.symbol(name).ok_or_else(|| {
                format!(
                    "VMCOREINFO has no SYMBOL({name}) (kernels before 6.0 do not name kallsyms)"
                )
            })
        };
        let names_at = symbol("kallsyms_names")?;
        let num_syms_at = symbol("kallsyms_num_syms")?;
        let token_table = symbol("kallsyms_token_table")?;
        let token_index = symbol("kallsyms_token_index")?;
        let stext = symbol("_stext")?;

        let count = memory
            .read_u32(num_syms_at)
            .map_err(|e| read_err("kallsyms_num_syms", num_syms_at, e))?;
        if count == 0 || count > MAX_SYMBOLS {
            return Err(format!("kallsyms_num_syms is {count}"));
        }
        let tokens = read_tokens(memory, token_table, token_index)?;
        let mut names = String::new();
        let decoded = read_names(memory, names_at, count, &tokens, &mut names)?;
        let name_of = |&(_, start, len): &(u8, u32, u16)| {
            &names[start as usize..start as usize + usize::from(len)]
        };
        let stext_index = decoded
            .iter()
            .position(|d| name_of(d) == "_stext")
            .ok_or("kallsyms lists no _stext")? as u64;

        // Which tables this kernel has decides the candidate encodings.
        let (raw, offsets_at, base, candidates): (Vec<u64>, u64, u64, &[AddressEncoding]) =
            if let Some(addresses) = info.symbol("kallsyms_addresses") {
                let raw = read_words(memory, "kallsyms_addresses", addresses, count, 8)?;
                (raw, 0, 0, &[AddressEncoding::Absolute])
            } else {
                let offsets = symbol("kallsyms_offsets")?;
                let raw = read_words(memory, "kallsyms_offsets", offsets, count, 4)?;
                match info.symbol("kallsyms_relative_base") {
                    Some(at) => {
                        let base = memory
                            .read_u64(at)
                            .map_err(|e| read_err("kallsyms_relative_base", at, e))?;
                        (
                            raw,
                            offsets,
                            base,
                            &[
                                AddressEncoding::AbsolutePercpu,
                                AddressEncoding::BaseRelative,
                                AddressEncoding::PlaceRelative,
                            ],
                        )
                    }
                    None => (raw, offsets, 0, &[AddressEncoding::PlaceRelative]),
                }
            };
        let encoding = candidates
            .iter()
            .copied()
            .find(|&e| decode(e, raw[stext_index as usize], stext_index, offsets_at, base) == stext)
            .ok_or_else(|| {
                format!(
                    "no kallsyms address encoding puts _stext at {stext:#x} (raw value {:#x})",
                    raw[stext_index as usize]
                )
            })?;

        let entries: Vec<Entry> = decoded
            .iter()
            .zip(&raw)
            .enumerate()
            .map(|(i, (&(kind, name_start, name_len), &r))| Entry {
                address: decode(encoding, r, i as u64, offsets_at, base),
                name_start,
                name_len,
                kind,
            })
            .collect();
        Ok(Self::indexed(entries, names, encoding))
    }

    /// A table of `(address, nm type, name)` from elsewhere (a System.map),
    /// looked up exactly as kallsyms is; aliases at one address keep the
    /// order given. Names longer than KSYM_NAME_LEN are cut there, and
    /// at most `MAX_SYMBOLS` symbols are kept.
    pub fn from_list<'n>(list: impl IntoIterator<Item = (u64, u8, &'n str)>) -> KernelSymbols {
        let mut names = String::new();
        let mut entries = Vec::new();
        for (address, kind, name) in list.into_iter().take(MAX_SYMBOLS as usize) {
            let mut end = name.len().min(MAX_NAME_LEN);
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            if names.len() + end > MAX_NAME_BYTES {
                break;
            }
            entries.push(Entry {
                address,
                name_start: names.len() as u32,
                name_len: end as u16,
                kind,
            });
            names.push_str(&name[..end]);
        }
        Self::indexed(entries, names, AddressEncoding::Absolute)
    }

    /// Sorts `entries` by address (stable: aliases keep their order) and
    /// indexes them by name.
    fn indexed(mut entries: Vec<Entry>, names: String, encoding: AddressEncoding) -> KernelSymbols {
        entries.sort_by_key(|e| e.address);
        let mut symbols = KernelSymbols {
            entries,
            names,
            by_name: Vec::new(),
            encoding,
        };
        // By the hash of the name, not the name: sorting 87,000 u64 keys
        // costs a fraction of comparing as many strings. Globals before
        // locals of a name, then table order.
        let mut by_name: Vec<(u64, u32)> = symbols
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (name_hash(symbols.name(e)), i as u32))
            .collect();
        by_name.sort_unstable_by_key(|&(hash, i)| {
            let local = symbols.entries[i as usize].kind.is_ascii_lowercase();
            (hash, local, i)
        });
        symbols.by_name = by_name;
        symbols
    }

    fn name(&self, e: &Entry) -> &str {
        let start = e.name_start as usize;
        &self.names[start..start + usize::from(e.name_len)]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn encoding(&self) -> AddressEncoding {
        self.encoding
    }

    /// Every symbol, by address.
    pub fn iter(&self) -> impl Iterator<Item = KernelSymbol<'_>> {
        self.entries.iter().map(|e| KernelSymbol {
            name: self.name(e),
            kind: char::from(e.kind),
            address: e.address,
        })
    }

    /// The code symbol holding `address` and the offset into it: the
    /// nearest text symbol (`t T w W`) at or below it — the first of its
    /// aliases, as the kernel itself picks — provided no symbol of any
    /// kind starts between them (kallsyms has no sizes; the next symbol
    /// bounds this one). None beyond the last symbol.
    pub fn lookup(&self, address: u64) -> Option<(&str, u64)> {
        // Entries at or below the address.
        let upto = self.entries.partition_point(|e| e.address <= address);
        let below = &self.entries[..upto];
        let last = below.last()?;
        // The first entry of the run at the highest address ≤ address.
        let run_start = below.partition_point(|e| e.address < last.address);
        let symbol = below[run_start..].iter().find(|e| is_text(e.kind))?;
        // Something must follow, or the symbol's end is unknown.
        self.entries.get(upto)?;
        Some((self.name(symbol), address - symbol.address))
    }

    /// The address of the symbol called `name`: a global one if there is
    /// one, else the first local one in address order.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        let hash = name_hash(name);
        let at = self.by_name.partition_point(|&(h, _)| h < hash);
        self.by_name[at..]
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .map(|&(_, i)| &self.entries[i as usize])
            .find(|e| self.name(e) == name)
            .map(|e| e.address)
    }
}

fn name_hash(name: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(name.as_bytes())
}

impl fmt::Debug for KernelSymbols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelSymbols")
            .field("len", &self.entries.len())
            .field("encoding", &self.encoding)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Bytes, Segment, SegmentMemory};

    const BASE: u64 = 0xffff_ffff_8100_0000;
    const NUM_SYMS: u64 = BASE;
    const RELATIVE_BASE: u64 = BASE + 0x10;
    const TOKEN_INDEX: u64 = BASE + 0x100;
    const TOKEN_TABLE: u64 = BASE + 0x400;
    const OFFSETS: u64 = BASE + 0x1000;
    const NAMES: u64 = BASE + 0x2000;
    const SIZE: usize = 0x4000;
    const STEXT: u64 = 0xffff_ffff_a680_0000;

    struct Tables(Vec<u8>);

    impl Tables {
        fn put(&mut self, address: u64, bytes: &[u8]) {
            let at = (address - BASE) as usize;
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }
        fn memory(self) -> SegmentMemory {
            SegmentMemory::new(vec![Segment {
                address: BASE,
                size: SIZE as u64,
                captured: SIZE as u64,
                offset: 0,
                bytes: Bytes::from_vec(self.0),
            }])
        }
    }

    fn info(extra: &str) -> Vmcoreinfo {
        Vmcoreinfo::parse(
            format!(
                "SYMBOL(_stext)={STEXT:x}\nSYMBOL(kallsyms_names)={NAMES:x}\n\
                 SYMBOL(kallsyms_num_syms)={NUM_SYMS:x}\n\
                 SYMBOL(kallsyms_token_table)={TOKEN_TABLE:x}\n\
                 SYMBOL(kallsyms_token_index)={TOKEN_INDEX:x}\n{extra}"
            )
            .as_bytes(),
        )
    }

    fn relative() -> Vmcoreinfo {
        info(&format!(
            "SYMBOL(kallsyms_offsets)={OFFSETS:x}\nSYMBOL(kallsyms_relative_base)={RELATIVE_BASE:x}\n"
        ))
    }

    /// Tokens: byte b < 0x80 is the character b itself; 0x80 is "_s",
    /// 0x81 "text", 0x82 "Tpa" (type letter inside a token, as the kernel
    /// compresses them).
    fn tables(names: &[&[u8]], words: &[u64], word_size: usize, base: u64) -> Tables {
        let mut t = Tables(vec![0; SIZE]);
        t.put(NUM_SYMS, &(names.len() as u32).to_le_bytes());
        t.put(RELATIVE_BASE, &base.to_le_bytes());
        let mut table = Vec::new();
        for b in 0..256u32 {
            t.put(
                TOKEN_INDEX + u64::from(b) * 2,
                &(table.len() as u16).to_le_bytes(),
            );
            match b {
                0x80 => table.extend_from_slice(b"_s"),
                0x81 => table.extend_from_slice(b"text"),
                0x82 => table.extend_from_slice(b"Tpa"),
                _ if b < 0x80 => table.push(b as u8),
                _ => table.push(b'?'),
            }
            table.push(0);
        }
        t.put(TOKEN_TABLE, &table);
        let mut at = NAMES;
        for n in names {
            t.put(at, n);
            at += n.len() as u64;
        }
        for (i, w) in words.iter().enumerate() {
            t.put(
                OFFSETS + (i * word_size) as u64,
                &w.to_le_bytes()[..word_size],
            );
        }
        t
    }

    /// `T_stext`, `Tpanic` (via "Tpa" + "nic"), `Dper_cpu_var`, `tlocal`.
    fn names() -> Vec<Vec<u8>> {
        vec![
            vec![3, b'T', 0x80, 0x81],
            vec![4, 0x82, b'n', b'i', b'c'],
            {
                let mut v = vec![12];
                v.extend_from_slice(b"Dper_cpu_var");
                v
            },
            {
                let mut v = vec![6];
                v.extend_from_slice(b"tlocal");
                v
            },
        ]
    }

    fn slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn absolute_percpu_offsets_decode_and_look_up() {
        let base = STEXT - 0x100;
        // Negative: relative_base - 1 - off; non-negative: absolute.
        let rel = |a: u64| (-((a - base + 1) as i64)) as i32 as u32 as u64;
        let words = [rel(STEXT), rel(STEXT + 0x40), 0x2c000, rel(STEXT + 0x80)];
        let n = names();
        let memory = tables(&slices(&n), &words, 4, base).memory();
        let s = KernelSymbols::from_memory(&memory, &relative()).unwrap();
        assert_eq!(s.encoding(), AddressEncoding::AbsolutePercpu);
        assert_eq!(s.len(), 4);
        assert_eq!(s.address_of("_stext"), Some(STEXT));
        assert_eq!(s.address_of("panic"), Some(STEXT + 0x40));
        assert_eq!(s.address_of("per_cpu_var"), Some(0x2c000));
        assert_eq!(s.address_of("local"), Some(STEXT + 0x80));
        assert_eq!(s.address_of("nothing"), None);
        assert_eq!(s.lookup(STEXT + 0x4b), Some(("panic", 0xb)));
        assert_eq!(s.lookup(STEXT), Some(("_stext", 0)));
        // Data symbols are not code; the last symbol has no known end.
        assert_eq!(s.lookup(0x2c010), None);
        assert_eq!(s.lookup(STEXT + 0x90), None);
        assert_eq!(s.lookup(STEXT - 1), None);
        let first = s.iter().next().unwrap();
        assert_eq!((first.name, first.kind), ("per_cpu_var", 'D'));
    }

    #[test]
    fn base_relative_place_relative_and_absolute_encodings() {
        let n = names();
        let base = STEXT - 0x1000;
        let words = [0x1000, 0x1040, 0x1080, 0x10c0];
        let memory = tables(&slices(&n), &words, 4, base).memory();
        let s = KernelSymbols::from_memory(&memory, &relative()).unwrap();
        assert_eq!(s.encoding(), AddressEncoding::BaseRelative);
        assert_eq!(s.address_of("local"), Some(STEXT + 0xc0));

        let place = |i: u64, a: u64| a.wrapping_sub(OFFSETS + 4 * i) as u32 as u64;
        let words: Vec<u64> = (0..4).map(|i| place(i, STEXT + i * 0x10)).collect();
        let memory = tables(&slices(&n), &words, 4, 0).memory();
        let place_info = info(&format!("SYMBOL(kallsyms_offsets)={OFFSETS:x}\n"));
        let s = KernelSymbols::from_memory(&memory, &place_info).unwrap();
        assert_eq!(s.encoding(), AddressEncoding::PlaceRelative);
        assert_eq!(s.address_of("per_cpu_var"), Some(STEXT + 0x20));

        let words: Vec<u64> = (0..4).map(|i| STEXT + i * 0x10).collect();
        let memory = tables(&slices(&n), &words, 8, 0).memory();
        let absolute = info(&format!("SYMBOL(kallsyms_addresses)={OFFSETS:x}\n"));
        let s = KernelSymbols::from_memory(&memory, &absolute).unwrap();
        assert_eq!(s.encoding(), AddressEncoding::Absolute);
        assert_eq!(s.lookup(STEXT + 0x15), Some(("panic", 5)));
    }

    #[test]
    fn two_byte_lengths_are_read() {
        // A 130-token name: length 0x82 as (0x80 | 2), 1.
        let mut long = vec![0x82, 0x01, b'T'];
        long.extend(std::iter::repeat_n(b'x', 129));
        let mut n = names();
        n[3] = long;
        let words = [0x1000, 0x1040, 0x1080, 0x10c0];
        let memory = tables(&slices(&n), &words, 4, STEXT - 0x1000).memory();
        let s = KernelSymbols::from_memory(&memory, &relative()).unwrap();
        assert_eq!(s.address_of(&"x".repeat(129)), Some(STEXT + 0xc0));
    }

    #[test]
    fn garbage_tables_are_errors() {
        let n = names();
        let words = [0x1000, 0x1040, 0x1080, 0x10c0];
        let base = STEXT - 0x1000;
        let err = |t: Tables, info: &Vmcoreinfo| {
            KernelSymbols::from_memory(&t.memory(), info).unwrap_err()
        };
        // A huge count.
        let mut t = tables(&slices(&n), &words, 4, base);
        t.put(NUM_SYMS, &u32::MAX.to_le_bytes());
        assert!(err(t, &relative()).contains("kallsyms_num_syms"));
        // A count past the tables: names run out of memory.
        let mut t = tables(&slices(&n), &words, 4, base);
        t.put(NUM_SYMS, &100_000u32.to_le_bytes());
        let e = err(t, &relative());
        assert!(
            e.contains("kallsyms name") || e.contains("cannot be read"),
            "{e}"
        );
        // Zero-length and non-text names.
        let mut t = tables(&slices(&n), &words, 4, base);
        t.put(NAMES, &[0]);
        assert!(err(t, &relative()).contains("length 0"));
        let mut t = tables(&slices(&n), &words, 4, base);
        t.put(NAMES + 1, b"\n");
        assert!(err(t, &relative()).contains("not a symbol"));
        // No _stext where VMCOREINFO says.
        let t = tables(&slices(&n), &words, 4, base + 8);
        assert!(err(t, &relative()).contains("no kallsyms address encoding"));
        // Tables outside memory.
        let t = tables(&slices(&n), &words, 4, base);
        let far = info("SYMBOL(kallsyms_offsets)=1000\nSYMBOL(kallsyms_relative_base)=2000\n");
        assert!(err(t, &far).contains("cannot be read"));
        // Missing VMCOREINFO keys.
        let t = tables(&slices(&n), &words, 4, base);
        assert!(err(t, &Vmcoreinfo::default()).contains("SYMBOL("));
    }

    #[test]
    fn random_tables_never_panic() {
        // xorshift: deterministic garbage over the whole table area.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..200 {
            let mut bytes = vec![0u8; SIZE];
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let mut t = Tables(bytes);
            // Half the rounds keep a small plausible count.
            if round % 2 == 0 {
                t.put(NUM_SYMS, &((state % 64) as u32).to_le_bytes());
            }
            let _ = KernelSymbols::from_memory(&t.memory(), &relative());
        }
    }
}
