//! Writing an ELF core file (ET_CORE), as `ckdump snapshot` does.
//!
//! Layout (the same shape the kernel's core dumper produces, see `man 5
//! core`): ELF header, program headers (one PT_NOTE, then one PT_LOAD per
//! mapping in address order), the notes, then each PT_LOAD's bytes at a
//! page-aligned offset. Segment bytes are streamed in bounded chunks;
//! all-zero pages are left as holes in a sparse file (they read back as
//! zeros, as the kernel's dumper leaves never-touched pages). The program
//! headers are written last, because a segment's p_filesz is only known
//! once its memory has been read: an unreadable page ends the segment's
//! bytes there (p_filesz < p_memsz), so nothing invented is ever written.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use crate::progress::Step;

// ELF constants from goblin (include/uapi/linux/elf.h's values).
use goblin::elf::header::{ELFCLASS64, ELFDATA2LSB, ET_CORE, EV_CURRENT};
pub use goblin::elf::header::{EM_AARCH64, EM_X86_64};
pub use goblin::elf::program_header::{PF_R, PF_W, PF_X};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};
/// e_phnum value meaning "the count is in section header 0's sh_info".
const PN_XNUM: usize = 0xffff;

const EHDR_SIZE: u64 = 64;
const PHDR_SIZE: u64 = 56;
const SHDR_SIZE: u64 = 64;
/// Bytes read from the process per call (bounds the memory used).
const CHUNK: usize = 1 << 20;

/// One note: owner ("CORE", "LINUX"), type and descriptor.
#[derive(Debug, Clone)]
pub struct CoreNote {
    pub owner: &'static str,
    pub kind: u32,
    pub desc: Vec<u8>,
}

/// One mapping to become a PT_LOAD.
#[derive(Debug, Clone)]
pub struct CoreSegment {
    pub start: u64,
    pub end: u64,
    /// PF_R | PF_W | PF_X.
    pub flags: u32,
    /// How many bytes from `start` to try to save (0 = none, the mapping
    /// is only described).
    pub dump: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct WrittenCore {
    /// Final file size (holes included).
    pub file_size: u64,
    /// Bytes of memory saved (p_filesz summed, holes included).
    pub memory_bytes: u64,
    /// Bytes that were meant to be saved but could not be read.
    pub unreadable_bytes: u64,
    /// Per segment: p_filesz as written.
    pub filesz: Vec<u64>,
}

/// Where segment bytes come from: reads as much of `buf` as it can from
/// `address` and returns that prefix length.
pub trait SegmentSource {
    fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize;
}

fn align_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to).saturating_mul(to)
}

fn note_bytes(notes: &[CoreNote]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in notes {
        let name_len = n.owner.len() + 1;
        out.extend_from_slice(&(name_len as u32).to_le_bytes());
        out.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&n.kind.to_le_bytes());
        out.extend_from_slice(n.owner.as_bytes());
        out.push(0);
        out.resize(align_up(out.len() as u64, 4) as usize, 0);
        out.extend_from_slice(&n.desc);
        out.resize(align_up(out.len() as u64, 4) as usize, 0);
    }
    out
}

/// Writes the core to `file` (created empty by the caller).
pub fn write_core(
    file: &File,
    machine: u16,
    page_size: u64,
    notes: &[CoreNote],
    segments: &[CoreSegment],
    source: &dyn SegmentSource,
    bar: &Step,
) -> io::Result<WrittenCore> {
    let page_size = if page_size.is_power_of_two() {
        page_size
    } else {
        4096
    };
    let phnum = segments.len() + 1;
    let extended = phnum >= PN_XNUM;
    let notes_blob = note_bytes(notes);
    let phdrs_end = EHDR_SIZE + phnum as u64 * PHDR_SIZE;
    let shdr_at = phdrs_end;
    let notes_at = if extended {
        shdr_at + SHDR_SIZE
    } else {
        phdrs_end
    };
    let data_start = align_up(notes_at + notes_blob.len() as u64, page_size);

    // Segment bytes first: their sizes decide the program headers.
    let mut written = WrittenCore::default();
    let mut offsets = Vec::with_capacity(segments.len());
    let mut at = data_start;
    let mut buf = vec![0u8; CHUNK];
    for seg in segments {
        let want = seg.dump.min(seg.end.saturating_sub(seg.start));
        let mut done = 0u64;
        while done < want {
            let len = (want - done).min(CHUNK as u64) as usize;
            let got = source.read_prefix(seg.start + done, &mut buf[..len]);
            // Only whole pages: a short read ends at a page boundary.
            let got = (got as u64 / page_size * page_size).min(len as u64) as usize;
            write_nonzero_pages(file, &buf[..got], at + done, page_size as usize)?;
            done += got as u64;
            bar.inc(got as u64);
            if got < len {
                break;
            }
        }
        written.unreadable_bytes += want - done;
        bar.inc(want - done);
        offsets.push(at);
        written.filesz.push(done);
        written.memory_bytes += done;
        at = align_up(at + done, page_size);
    }
    let file_end = at.max(data_start);
    file.set_len(file_end)?;

    // Then the headers and notes, from the start of the file.
    let mut out = BufWriter::new(file);
    out.seek(SeekFrom::Start(0))?;
    let mut ehdr = Vec::with_capacity(EHDR_SIZE as usize);
    ehdr.extend_from_slice(b"\x7fELF");
    ehdr.extend_from_slice(&[ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0]);
    ehdr.extend_from_slice(&[0; 8]);
    ehdr.extend_from_slice(&ET_CORE.to_le_bytes());
    ehdr.extend_from_slice(&machine.to_le_bytes());
    ehdr.extend_from_slice(&1u32.to_le_bytes()); // e_version
    ehdr.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    ehdr.extend_from_slice(&EHDR_SIZE.to_le_bytes()); // e_phoff
    ehdr.extend_from_slice(&(if extended { shdr_at } else { 0 }).to_le_bytes()); // e_shoff
    ehdr.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    ehdr.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    ehdr.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    ehdr.extend_from_slice(&(phnum.min(PN_XNUM) as u16).to_le_bytes());
    ehdr.extend_from_slice(&(if extended { SHDR_SIZE as u16 } else { 0 }).to_le_bytes());
    ehdr.extend_from_slice(&(u16::from(extended)).to_le_bytes()); // e_shnum
    ehdr.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx = SHN_UNDEF
    out.write_all(&ehdr)?;

    let phdr = |out: &mut BufWriter<&File>,
                p_type: u32,
                flags: u32,
                offset: u64,
                vaddr: u64,
                filesz: u64,
                memsz: u64,
                align: u64|
     -> io::Result<()> {
        out.write_all(&p_type.to_le_bytes())?;
        out.write_all(&flags.to_le_bytes())?;
        out.write_all(&offset.to_le_bytes())?;
        out.write_all(&vaddr.to_le_bytes())?;
        out.write_all(&0u64.to_le_bytes())?; // p_paddr
        out.write_all(&filesz.to_le_bytes())?;
        out.write_all(&memsz.to_le_bytes())?;
        out.write_all(&align.to_le_bytes())
    };
    // Notes are 4-byte aligned: p_align 4 (8 would tell readers to expect
    // 8-byte note padding).
    let notes_len = notes_blob.len() as u64;
    phdr(&mut out, PT_NOTE, 0, notes_at, 0, notes_len, 0, 4)?;
    for ((seg, &offset), &filesz) in segments.iter().zip(&offsets).zip(&written.filesz) {
        let memsz = seg.end.saturating_sub(seg.start);
        phdr(
            &mut out, PT_LOAD, seg.flags, offset, seg.start, filesz, memsz, page_size,
        )?;
    }
    if extended {
        // Section header 0 carries the real program header count.
        let mut shdr = vec![0u8; SHDR_SIZE as usize];
        shdr[44..48].copy_from_slice(&(phnum as u32).to_le_bytes()); // sh_info
        out.write_all(&shdr)?;
    }
    out.write_all(&notes_blob)?;
    out.flush()?;
    written.file_size = file_end;
    Ok(written)
}

/// Writes the pages of `data` that are not all zero at `offset`, coalescing
/// runs; zero pages stay holes.
fn write_nonzero_pages(file: &File, data: &[u8], offset: u64, page: usize) -> io::Result<()> {
    let mut run_start: Option<usize> = None;
    let mut i = 0;
    while i < data.len() {
        let end = (i + page).min(data.len());
        let zero = data[i..end].iter().all(|&b| b == 0);
        match (zero, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(s)) => {
                file.write_all_at(&data[s..i], offset + s as u64)?;
                run_start = None;
            }
            _ => {}
        }
        i = end;
    }
    if let Some(s) = run_start {
        file.write_all_at(&data[s..], offset + s as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory with a readable prefix of `readable` bytes from `base`.
    struct Fake {
        base: u64,
        readable: u64,
    }

    impl SegmentSource for Fake {
        fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize {
            let avail = (self.base + self.readable).saturating_sub(address);
            let n = (buf.len() as u64).min(avail) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let a = address + i as u64;
                // Page 1 is all zeros, the rest hold their address's low byte.
                *b = if (a - self.base) / 4096 == 1 {
                    0
                } else {
                    a as u8 | 1
                };
            }
            n
        }
    }

    #[test]
    fn writes_a_core_the_reader_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core");
        let file = File::create(&path).unwrap();
        let base = 0x7000_0000;
        let segments = vec![
            CoreSegment {
                start: base,
                end: base + 0x4000,
                flags: PF_R | PF_W,
                dump: 0x4000,
            },
            CoreSegment {
                start: base + 0x4000,
                end: base + 0x5000,
                flags: 0,
                dump: 0,
            },
        ];
        // Only 3 of the 4 pages are readable.
        let src = Fake {
            base,
            readable: 0x3000,
        };
        let mut prstatus = vec![0u8; 336];
        prstatus[32..36].copy_from_slice(&77u32.to_le_bytes());
        let notes = vec![CoreNote {
            owner: "CORE",
            kind: 1,
            desc: prstatus,
        }];
        let w = write_core(
            &file,
            EM_X86_64,
            4096,
            &notes,
            &segments,
            &src,
            &Step::hidden(),
        )
        .unwrap();
        assert_eq!(w.filesz, vec![0x3000, 0]);
        assert_eq!(w.unreadable_bytes, 0x1000);
        drop(file);
        let img = crate::open(&path, &crate::OpenOptions::default()).unwrap();
        assert_eq!(img.process.threads.len(), 1);
        assert_eq!(img.process.threads[0].tid, 77);
        assert_eq!(img.process.regions.len(), 2);
        assert_eq!(
            img.process.regions[0].capture,
            crate::model::Capture::Partial { bytes: 0x3000 }
        );
        let mem = &*img.process.memory;
        assert_eq!(mem.read_u32(base + 8).unwrap(), 0x0b0b_0909);
        assert_eq!(mem.read_u32(base + 0x1000).unwrap(), 0);
        assert_eq!(mem.read_u32(base + 0x2004).unwrap(), 0x0707_0505);
        assert!(mem.read_u32(base + 0x3000).is_err());
    }
}
