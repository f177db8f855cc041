//! `ckdump snapshot`: a stopped live process saved as an ELF core file.
//!
//! Notes, in the kernel's order (main thread first): NT_PRSTATUS, then
//! once NT_PRPSINFO, NT_AUXV, NT_FILE and ckdump's NT_CKDUMP_INFO (writer,
//! time, every thread's name), then per thread NT_FPREGSET and
//! NT_X86_XSTATE; the other threads follow with NT_PRSTATUS, NT_FPREGSET,
//! NT_X86_XSTATE. No NT_SIGINFO: no signal was delivered, the threads were
//! only stopped (PTRACE_INTERRUPT has no siginfo), and an invented one
//! would read as a crash.
//!
//! Which bytes are saved follows the kernel's default coredump_filter
//! (0x33) so a snapshot holds what a restore needs and no more:
//! - every anonymous mapping, private or shared (heap, stacks, anonymous
//!   mmap, MAP_SHARED|MAP_ANONYMOUS, SysV and deleted memfd segments),
//!   and private hugetlb mappings; the vDSO always;
//! - file mappings that were written to (private pages copied on write:
//!   .data, .bss, RELRO, GOT — smaps "Anonymous" is not zero), whole;
//! - of other file mappings only the first page when it is an ELF header,
//!   so build-ids can be read from the core (bit 4 of coredump_filter);
//!   read-only code comes from the files themselves, named in NT_FILE
//!   (which, unlike the kernel's, leaves out anonymous shared memory such
//!   as `/dev/zero (deleted)`: no one can open those, gdb would warn);
//! - nothing of PROT_NONE guard pages, [vvar], VM_IO / VM_PFNMAP
//!   (device) mappings, MADV_DONTDUMP ranges, device files, or shared
//!   file mappings beyond their ELF header.
//!
//! Every mapping still gets a PT_LOAD (with p_filesz 0 where nothing is
//! saved), as the kernel writes, so the core describes the whole layout.

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::procfs::Mapping;
use super::{LiveProcess, offers_bytes, prstatus_desc};
use crate::error::{Error, ErrorKind, Result};
use crate::image::elf_core::writer::{
    self, CoreNote, CoreSegment, PF_R, PF_W, PF_X, SegmentSource,
};
use crate::image::elf_core::{CKDUMP_OWNER, CkdumpInfo, NT_CKDUMP_INFO, encode_ckdump_info};
use crate::progress::Progress;

const NT_PRSTATUS: u32 = 1;
const NT_FPREGSET: u32 = 2;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;
const NT_X86_XSTATE: u32 = 0x202;
const PAGE_SIZE: u64 = 4096;
/// `ELF_PRARGSZ`: psargs holds this many bytes, NUL included.
const PRARGSZ: usize = 80;

/// What `ckdump snapshot` reports.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub schema: &'static str,
    pub path: String,
    pub pid: u64,
    pub threads: Vec<u64>,
    /// Threads that exited while the process was being stopped.
    pub vanished_threads: Vec<u64>,
    /// PT_LOAD segments (one per mapping).
    pub segments: usize,
    /// Segments whose bytes (all or the first page) were saved.
    pub segments_with_bytes: usize,
    /// Memory bytes saved.
    pub memory_bytes: u64,
    /// Bytes meant to be saved that could not be read (p_filesz ends before them).
    pub unreadable_bytes: u64,
    /// Size of the core file (sparse: all-zero pages are holes).
    pub file_size: u64,
    /// Seconds spent writing the file (the process was stopped meanwhile).
    pub seconds: f64,
}

pub const SNAPSHOT_SCHEMA: &str = "ckdump-snapshot/1";

/// How many bytes of a mapping to save, by the rules in the module docs.
pub fn bytes_to_save(m: &Mapping, memory: &super::memory::LiveMemory) -> u64 {
    let size = m.end - m.start;
    if m.name == "[vdso]" {
        return size;
    }
    if !offers_bytes(m) || m.dontdump {
        return 0;
    }
    let device = m.name.starts_with("/dev/")
        && !m.name.starts_with("/dev/zero")
        && !m.name.starts_with("/dev/shm/");
    if device {
        return 0;
    }
    if m.hugetlb {
        return if m.shared { 0 } else { size };
    }
    if !m.is_file() || (m.shared && is_anonymous_shmem(m)) {
        return size;
    }
    if !m.shared && m.anonymous > 0 {
        return size;
    }
    if m.offset == 0 {
        let mut magic = [0u8; 4];
        if memory.read_prefix(m.start, &mut magic) == 4 && &magic == b"\x7fELF" {
            return PAGE_SIZE.min(size);
        }
    }
    0
}

/// Shared memory with no file behind it that anyone could open: shared
/// anonymous mappings (`/dev/zero (deleted)`), SysV segments and unlinked
/// memfds. The kernel counts them as anonymous shared memory.
fn is_anonymous_shmem(m: &Mapping) -> bool {
    m.name == "/dev/zero (deleted)"
        || m.name.starts_with("/SYSV")
        || (m.name.starts_with("/memfd:") && m.name.ends_with(" (deleted)"))
}

fn prpsinfo_desc(p: &LiveProcess) -> Vec<u8> {
    let info = &p.info;
    let mut d = vec![0u8; 136];
    // pr_state is the index of the state in "RSDTZW" (kernel fill_psinfo).
    let index = "RSDTZW".find(info.state).unwrap_or(6);
    d[0] = index as u8;
    d[1] = if index < 6 { info.state as u8 } else { b'.' };
    d[2] = u8::from(info.state == 'Z');
    d[3] = info.nice.clamp(-128, 127) as i8 as u8;
    d[8..16].copy_from_slice(&info.flags.to_le_bytes());
    d[16..20].copy_from_slice(&info.uid.to_le_bytes());
    d[20..24].copy_from_slice(&info.gid.to_le_bytes());
    for (at, v) in [
        (24, info.pid),
        (28, info.ppid),
        (32, info.pgrp),
        (36, info.session),
    ] {
        d[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
    let fname = info.comm.as_bytes();
    let n = fname.len().min(15);
    d[40..40 + n].copy_from_slice(&fname[..n]);
    // psargs: the command line, NULs as spaces, cut to 79 bytes.
    let args: Vec<u8> = info
        .cmdline
        .iter()
        .take(PRARGSZ - 1)
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    d[56..56 + args.len()].copy_from_slice(&args);
    d
}

/// NT_FILE. Anonymous shared memory is left out (the kernel lists it):
/// its bytes are in the core, and gdb warns about every NT_FILE path it
/// cannot open.
fn file_note_desc(p: &LiveProcess) -> Vec<u8> {
    let shmem: Vec<(u64, u64)> = p
        .mappings
        .iter()
        .filter(|m| m.shared && is_anonymous_shmem(m))
        .map(|m| (m.start, m.end))
        .collect();
    let files: Vec<_> = p
        .file_mappings()
        .into_iter()
        .filter(|f| !shmem.contains(&(f.start, f.end)))
        .collect();
    let mut d = Vec::new();
    d.extend_from_slice(&(files.len() as u64).to_le_bytes());
    d.extend_from_slice(&PAGE_SIZE.to_le_bytes());
    for f in &files {
        d.extend_from_slice(&f.start.to_le_bytes());
        d.extend_from_slice(&f.end.to_le_bytes());
        d.extend_from_slice(&(f.file_offset / PAGE_SIZE).to_le_bytes());
    }
    for f in &files {
        d.extend_from_slice(f.path.as_bytes());
        d.push(0);
    }
    d
}

/// The notes of the snapshot, in the order described in the module docs.
pub fn notes(p: &LiveProcess) -> Vec<CoreNote> {
    let mut out = Vec::new();
    for (i, t) in p.threads.iter().enumerate() {
        out.push(CoreNote {
            owner: "CORE",
            kind: NT_PRSTATUS,
            desc: prstatus_desc(&p.info, t, i == 0),
        });
        if i == 0 {
            out.push(CoreNote {
                owner: "CORE",
                kind: NT_PRPSINFO,
                desc: prpsinfo_desc(p),
            });
            out.push(CoreNote {
                owner: "CORE",
                kind: NT_AUXV,
                desc: p.auxv_raw.clone(),
            });
            out.push(CoreNote {
                owner: "CORE",
                kind: NT_FILE,
                desc: file_note_desc(p),
            });
            let info = CkdumpInfo {
                writer: format!("ckdump {}", env!("CARGO_PKG_VERSION")),
                time: Some(p.stopped_at),
                thread_names: p
                    .threads
                    .iter()
                    .filter_map(|t| Some((t.tid, t.task.comm.clone()?)))
                    .collect(),
            };
            out.push(CoreNote {
                owner: CKDUMP_OWNER,
                kind: NT_CKDUMP_INFO,
                desc: encode_ckdump_info(&info),
            });
        }
        if let Some(fp) = &t.fpregs {
            out.push(CoreNote {
                owner: "CORE",
                kind: NT_FPREGSET,
                desc: fp.clone(),
            });
        }
        if let Some(x) = &t.xstate {
            out.push(CoreNote {
                owner: "LINUX",
                kind: NT_X86_XSTATE,
                desc: x.clone(),
            });
        }
    }
    out
}

impl SegmentSource for super::memory::LiveMemory {
    fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize {
        super::memory::LiveMemory::read_prefix(self, address, buf)
    }
}

/// Writes the snapshot; the output file is removed again if writing fails.
pub(crate) fn write(p: &LiveProcess, path: &Path, progress: Progress) -> Result<SnapshotSummary> {
    let started = Instant::now();
    let segments: Vec<CoreSegment> = p
        .mappings
        .iter()
        .map(|m| CoreSegment {
            start: m.start,
            end: m.end,
            flags: (if m.read { PF_R } else { 0 })
                | (if m.write { PF_W } else { 0 })
                | (if m.execute { PF_X } else { 0 }),
            dump: bytes_to_save(m, &p.memory),
        })
        .collect();
    let notes = notes(p);
    let total: u64 = segments.iter().map(|s| s.dump).sum();
    let io_error = |e: std::io::Error| Error::new(path, ErrorKind::Io(e));
    let file = File::create(path).map_err(io_error)?;
    let bar = progress.bytes(Some(total), "saving memory");
    let result = writer::write_core(
        &file,
        p.machine(),
        PAGE_SIZE,
        &notes,
        &segments,
        &*p.memory,
        &bar,
    );
    bar.finish_and_clear();
    let written = match result {
        Ok(w) => w,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io_error(e));
        }
    };
    Ok(SnapshotSummary {
        schema: SNAPSHOT_SCHEMA,
        path: path.display().to_string(),
        pid: p.pid(),
        threads: p.threads.iter().map(|t| t.tid).collect(),
        vanished_threads: p.vanished_threads().iter().map(|&t| t as u64).collect(),
        segments: segments.len(),
        segments_with_bytes: written.filesz.iter().filter(|&&n| n > 0).count(),
        memory_bytes: written.memory_bytes,
        unreadable_bytes: written.unreadable_bytes,
        file_size: written.file_size,
        seconds: started.elapsed().as_secs_f64(),
    })
}
