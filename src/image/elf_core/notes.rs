//! The note stream of PT_NOTE segments.
//!
//! Parsed by hand rather than with goblin's `NoteIterator`: that iterator
//! stops at the first malformed note without saying where, and does not give
//! each note's file offset, both of which the findings need.

use crate::byte_reader::Fields;
use crate::image::linux_modules::FileMapping;
use crate::model::PointerAuthMasks;

// Core note types (include/uapi/linux/elf.h, gdb's gdb/elf-bfd.h).
pub const NT_PRSTATUS: u32 = 1;
pub const NT_FPREGSET: u32 = 2;
pub const NT_PRPSINFO: u32 = 3;
pub const NT_TASKSTRUCT: u32 = 4;
pub const NT_AUXV: u32 = 6;
pub const NT_SIGINFO: u32 = 0x5349_4749;
pub const NT_FILE: u32 = 0x4649_4c45;
pub const NT_PRXFPREG: u32 = 0x46e6_2b7f;
pub const NT_386_TLS: u32 = 0x200;
pub const NT_386_IOPERM: u32 = 0x201;
pub const NT_X86_XSTATE: u32 = 0x202;
pub const NT_X86_SHSTK: u32 = 0x204;
pub const NT_X86_XSAVE_LAYOUT: u32 = 0x205;
pub const NT_ARM_VFP: u32 = 0x400;
pub const NT_ARM_TLS: u32 = 0x401;
pub const NT_ARM_HW_BREAK: u32 = 0x402;
pub const NT_ARM_HW_WATCH: u32 = 0x403;
pub const NT_ARM_SYSTEM_CALL: u32 = 0x404;
pub const NT_ARM_SVE: u32 = 0x405;
pub const NT_ARM_PAC_MASK: u32 = 0x406;
pub const NT_ARM_PACA_KEYS: u32 = 0x407;
pub const NT_ARM_PACG_KEYS: u32 = 0x408;
pub const NT_ARM_TAGGED_ADDR_CTRL: u32 = 0x409;
pub const NT_ARM_PAC_ENABLED_KEYS: u32 = 0x40a;
pub const NT_ARM_SSVE: u32 = 0x40b;
pub const NT_ARM_ZA: u32 = 0x40c;
pub const NT_ARM_ZT: u32 = 0x40d;
pub const NT_ARM_FPMR: u32 = 0x40e;
pub const NT_ARM_POE: u32 = 0x40f;
pub const NT_ARM_GCS: u32 = 0x410;
/// gdb's target description XML (owner "GDB").
pub const NT_GDB_TDESC: u32 = 0xff00_0000;
/// Owner of the note `ckdump snapshot` writes about itself.
pub const CKDUMP_OWNER: &str = "CKDUMP";
/// ckdump's note: `key=value` lines (writer, time, thread names). The type
/// is "CKDP" in ASCII, far from every type that binutils and elfutils
/// decode whatever the owner, so they skip it silently.
pub const NT_CKDUMP_INFO: u32 = 0x434b_4450;

/// Symbolic name of a core note type for its owner, None when unknown.
pub fn note_name(owner: &str, kind: u32) -> Option<&'static str> {
    match owner {
        "CORE" => Some(match kind {
            NT_PRSTATUS => "NT_PRSTATUS",
            NT_FPREGSET => "NT_FPREGSET",
            NT_PRPSINFO => "NT_PRPSINFO",
            NT_TASKSTRUCT => "NT_TASKSTRUCT",
            NT_AUXV => "NT_AUXV",
            NT_SIGINFO => "NT_SIGINFO",
            NT_FILE => "NT_FILE",
            _ => return None,
        }),
        "LINUX" => Some(match kind {
            NT_PRXFPREG => "NT_PRXFPREG",
            NT_386_TLS => "NT_386_TLS",
            NT_386_IOPERM => "NT_386_IOPERM",
            NT_X86_XSTATE => "NT_X86_XSTATE",
            NT_X86_SHSTK => "NT_X86_SHSTK",
            NT_X86_XSAVE_LAYOUT => "NT_X86_XSAVE_LAYOUT",
            NT_ARM_VFP => "NT_ARM_VFP",
            NT_ARM_TLS => "NT_ARM_TLS",
            NT_ARM_HW_BREAK => "NT_ARM_HW_BREAK",
            NT_ARM_HW_WATCH => "NT_ARM_HW_WATCH",
            NT_ARM_SYSTEM_CALL => "NT_ARM_SYSTEM_CALL",
            NT_ARM_SVE => "NT_ARM_SVE",
            NT_ARM_PAC_MASK => "NT_ARM_PAC_MASK",
            NT_ARM_PACA_KEYS => "NT_ARM_PACA_KEYS",
            NT_ARM_PACG_KEYS => "NT_ARM_PACG_KEYS",
            NT_ARM_TAGGED_ADDR_CTRL => "NT_ARM_TAGGED_ADDR_CTRL",
            NT_ARM_PAC_ENABLED_KEYS => "NT_ARM_PAC_ENABLED_KEYS",
            NT_ARM_SSVE => "NT_ARM_SSVE",
            NT_ARM_ZA => "NT_ARM_ZA",
            NT_ARM_ZT => "NT_ARM_ZT",
            NT_ARM_FPMR => "NT_ARM_FPMR",
            NT_ARM_POE => "NT_ARM_POE",
            NT_ARM_GCS => "NT_ARM_GCS",
            // Old kernels wrote NT_PRFPREG under "LINUX" for i386 PRXFPREG.
            _ => return None,
        }),
        "GDB" => match kind {
            NT_GDB_TDESC => Some("NT_GDB_TDESC"),
            _ => None,
        },
        CKDUMP_OWNER => match kind {
            NT_CKDUMP_INFO => Some("NT_CKDUMP_INFO"),
            _ => None,
        },
        _ => None,
    }
}

/// One note as found in the file.
#[derive(Debug, Clone)]
pub struct RawNote {
    pub owner: String,
    pub kind: u32,
    /// File offset of the note header.
    pub offset: u64,
    /// File offset and length of the descriptor.
    pub desc_offset: usize,
    pub desc_len: usize,
}

impl RawNote {
    pub fn desc<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        file.get(self.desc_offset..self.desc_offset.saturating_add(self.desc_len))
            .unwrap_or(&[])
    }
}

/// A note-stream problem: what and where.
#[derive(Debug, Clone)]
pub struct NoteProblem {
    pub offset: u64,
    pub message: String,
}

/// Most notes a core can sensibly hold (one per register set per thread);
/// a bound against a PT_NOTE full of zero-length notes.
const MAX_NOTES: usize = 1 << 20;

/// Parses the notes in `file[start..start+len]`; stops at the first note
/// that does not fit and reports it.
pub fn parse_notes(
    file: &[u8],
    start: u64,
    len: u64,
    out: &mut Vec<RawNote>,
) -> Option<NoteProblem> {
    let end = start.saturating_add(len).min(file.len() as u64);
    let mut at = start;
    while at < end {
        if out.len() >= MAX_NOTES {
            return Some(NoteProblem {
                offset: at,
                message: format!("more than {MAX_NOTES} notes; the rest are ignored"),
            });
        }
        if end - at < 12 {
            return Some(NoteProblem {
                offset: at,
                message: format!("{} stray bytes after the last note", end - at),
            });
        }
        // `end - at >= 12` and `end <= file.len()`: the header is in the file.
        let word = |o: u64| file.u32_at_u64(o).unwrap_or(0);
        let namesz = u64::from(word(at));
        let descsz = u64::from(word(at + 4));
        let kind = word(at + 8);
        let name_at = at + 12;
        let desc_at = name_at + align4(namesz);
        let next = desc_at.saturating_add(align4(descsz));
        // The last note's descriptor padding may be missing (gdb pads, the
        // kernel does too, but a cut file may not): only the bytes must fit.
        if desc_at.saturating_add(descsz) > end {
            return Some(NoteProblem {
                offset: at,
                message: format!(
                    "note of type {kind:#x} claims name {namesz} + descriptor {descsz} bytes, past the end of its segment at {end:#x}"
                ),
            });
        }
        // Both ranges end before `end`, inside the file, so they fit usize.
        let (Ok(name_at), Ok(namesz), Ok(desc_offset), Ok(desc_len)) = (
            usize::try_from(name_at),
            usize::try_from(namesz),
            usize::try_from(desc_at),
            usize::try_from(descsz),
        ) else {
            return None;
        };
        let name_bytes = file.bytes_at(name_at, namesz).unwrap_or(&[]);
        let name_bytes = match name_bytes.iter().position(|&b| b == 0) {
            Some(nul) => &name_bytes[..nul],
            None => name_bytes,
        };
        out.push(RawNote {
            owner: String::from_utf8_lossy(name_bytes).into_owned(),
            kind,
            offset: at,
            desc_offset,
            desc_len,
        });
        at = next;
    }
    None
}

fn align4(v: u64) -> u64 {
    v.saturating_add(3) & !3
}

/// Bits below this one are address bits in every address space a kernel
/// sets up (Linux's smallest aarch64 VA is 36 bits): a PAC mask reaching
/// them would strip a real address.
const LOWEST_PAC_BIT: u32 = 32;

/// Decodes NT_ARM_PAC_MASK (`struct user_pac_mask`: data_mask, then
/// insn_mask, two u64), or says why it cannot be used.
pub fn parse_pac_mask(desc: &[u8]) -> Result<PointerAuthMasks, String> {
    let (Some(data), Some(insn)) = (desc.u64_at(0), desc.u64_at(8)) else {
        return Err(format!("{} bytes, 16 needed", desc.len()));
    };
    let low_bits = (1u64 << LOWEST_PAC_BIT) - 1;
    if (data | insn) & low_bits != 0 {
        return Err(format!(
            "data_mask {data:#x} / insn_mask {insn:#x} claim address bits below {LOWEST_PAC_BIT}; ignored"
        ));
    }
    Ok(PointerAuthMasks { data, insn })
}

/// What ckdump's own note records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CkdumpInfo {
    /// `ckdump 0.1.0`.
    pub writer: String,
    /// Seconds since the epoch when the snapshot was taken.
    pub time: Option<u64>,
    /// (tid, name) from /proc/PID/task/TID/comm; ELF cores have no other
    /// place for the names of threads other than the first.
    pub thread_names: Vec<(u64, String)>,
}

/// Most thread names read from one note (a bound against a huge note).
const MAX_NAMED_THREADS: usize = 1 << 16;

/// Parses NT_CKDUMP_INFO; unknown keys are skipped (newer writers).
pub fn parse_ckdump_info(desc: &[u8]) -> CkdumpInfo {
    let text = String::from_utf8_lossy(desc);
    let mut info = CkdumpInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "writer" => info.writer = value.to_string(),
            "time" => info.time = value.parse().ok(),
            "thread" if info.thread_names.len() < MAX_NAMED_THREADS => {
                if let Some((tid, name)) = value.split_once(' ')
                    && let Ok(tid) = tid.parse()
                {
                    info.thread_names.push((tid, name.to_string()));
                }
            }
            _ => {}
        }
    }
    info
}

/// Encodes NT_CKDUMP_INFO. Control characters in names become '?' so every
/// record stays on its line.
pub fn encode_ckdump_info(info: &CkdumpInfo) -> Vec<u8> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let mut out = format!("writer={}\n", clean(&info.writer));
    if let Some(t) = info.time {
        out.push_str(&format!("time={t}\n"));
    }
    for (tid, name) in &info.thread_names {
        out.push_str(&format!("thread={tid} {}\n", clean(name)));
    }
    out.into_bytes()
}

/// Decoded NT_FILE: the page size it counts offsets in, and its entries.
#[derive(Debug, Clone, Default)]
pub struct FileNote {
    pub page_size: u64,
    pub mappings: Vec<FileMapping>,
    /// Entries the note announced but did not hold.
    pub missing: u64,
}

/// Parses NT_FILE: count, page size, count × (start, end, offset in
/// pages), then count NUL-terminated names; words are 4 or 8 bytes.
pub fn parse_file_note(desc: &[u8], word: usize) -> Option<FileNote> {
    let count = desc.word_at(0, word)?;
    let page_size = desc.word_at(word, word)?;
    let table = 2 * word;
    // Each entry takes 3 words plus at least one name byte: bounds the count.
    let fits = (desc.len().saturating_sub(table) / (3 * word + 1)) as u64;
    let usable = count.min(fits);
    let names_at = table + usable as usize * 3 * word;
    let mut names = desc.get(names_at..).unwrap_or(&[]).split(|&b| b == 0);
    let mut mappings = Vec::with_capacity(usable as usize);
    for i in 0..usable as usize {
        let at = table + i * 3 * word;
        let (Some(start), Some(end), Some(pgoff)) = (
            desc.word_at(at, word),
            desc.word_at(at + word, word),
            desc.word_at(at + 2 * word, word),
        ) else {
            break;
        };
        let Some(name) = names.next() else { break };
        mappings.push(FileMapping {
            start,
            end,
            file_offset: pgoff.saturating_mul(page_size),
            path: String::from_utf8_lossy(name).into_owned(),
            executable: None,
        });
    }
    let missing = count.saturating_sub(mappings.len() as u64);
    Some(FileNote {
        page_size,
        mappings,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pac_mask_descriptors() {
        // `struct user_pac_mask` of a task in a 52-bit address space:
        // GENMASK(54, 52) for data and instructions alike.
        let mut desc = 0x0070_0000_0000_0000u64.to_le_bytes().to_vec();
        desc.extend_from_slice(&0x0070_0000_0000_0000u64.to_le_bytes());
        assert_eq!(
            parse_pac_mask(&desc),
            Ok(PointerAuthMasks {
                data: 0x0070_0000_0000_0000,
                insn: 0x0070_0000_0000_0000
            })
        );
        assert_eq!(
            parse_pac_mask(&desc[..15]),
            Err("15 bytes, 16 needed".into())
        );
        // A mask over address bits would strip real addresses.
        let mut low = 0x007f_0000_0000_0000u64.to_le_bytes().to_vec();
        low.extend_from_slice(&0x007f_0000_8000_0000u64.to_le_bytes());
        assert_eq!(
            parse_pac_mask(&low),
            Err(
                "data_mask 0x7f000000000000 / insn_mask 0x7f000080000000 claim address bits below 32; ignored"
                    .into()
            )
        );
    }

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(name);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_notes_and_stops_at_a_bad_one() {
        let mut file = note(b"CORE\0", NT_PRSTATUS, &[1, 2, 3]);
        file.extend(note(b"LINUX\0", NT_X86_XSTATE, &[9; 8]));
        let good_len = file.len() as u64;
        // A header whose descriptor runs past the end.
        file.extend_from_slice(&5u32.to_le_bytes());
        file.extend_from_slice(&1000u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        file.extend_from_slice(b"CORE\0\0\0\0");
        let mut out = Vec::new();
        let problem = parse_notes(&file, 0, file.len() as u64, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].owner, "CORE");
        assert_eq!(out[0].desc(&file), &[1, 2, 3]);
        assert_eq!(out[1].owner, "LINUX");
        assert_eq!(out[1].offset, 24);
        assert_eq!(problem.offset, good_len);
    }

    #[test]
    fn ckdump_info_round_trip() {
        let info = CkdumpInfo {
            writer: "ckdump 0.1.0".into(),
            time: Some(1_700_000_000),
            thread_names: vec![(41, "main".into()), (42, "we\nird name".into())],
        };
        let back = parse_ckdump_info(&encode_ckdump_info(&info));
        assert_eq!(back.writer, "ckdump 0.1.0");
        assert_eq!(back.time, Some(1_700_000_000));
        assert_eq!(
            back.thread_names,
            vec![(41, "main".to_string()), (42, "we?ird name".to_string())]
        );
        assert_eq!(
            parse_ckdump_info(b"\xff=\nthread=x y\n"),
            CkdumpInfo::default()
        );
    }

    #[test]
    fn file_note_64_and_32() {
        let mut d = Vec::new();
        for w in [2u64, 4096, 0x1000, 0x3000, 0, 0x3000, 0x4000, 2] {
            d.extend_from_slice(&w.to_le_bytes());
        }
        d.extend_from_slice(b"/bin/a\0/lib/b\0");
        let f = parse_file_note(&d, 8).unwrap();
        assert_eq!(f.mappings.len(), 2);
        assert_eq!(f.mappings[1].file_offset, 0x2000);
        assert_eq!(f.mappings[1].path, "/lib/b");
        let mut d = Vec::new();
        for w in [1u32, 4096, 0x8048000, 0x8049000, 0] {
            d.extend_from_slice(&w.to_le_bytes());
        }
        d.extend_from_slice(b"/bin/a\0");
        let f = parse_file_note(&d, 4).unwrap();
        assert_eq!(f.mappings[0].start, 0x8048000);
        assert_eq!(f.missing, 0);
        // A count far larger than the descriptor.
        let mut d = Vec::new();
        for w in [u64::MAX, 4096] {
            d.extend_from_slice(&w.to_le_bytes());
        }
        let f = parse_file_note(&d, 8).unwrap();
        assert!(f.mappings.is_empty());
    }
}
