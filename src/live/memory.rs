//! A stopped process's memory, read on demand: process_vm_readv, and
//! /proc/PID/mem where that fails (no process_vm_readv, or a special
//! mapping it refuses). Nothing is copied up front.

use std::fs::File;
use std::os::unix::fs::FileExt;

use libc::pid_t;

use crate::memory::{Memory, MemoryError};

/// One mapping as far as reading is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadableRange {
    pub start: u64,
    pub end: u64,
    /// False for PROT_NONE and device / VM_IO mappings: mapped, but their
    /// bytes are not offered.
    pub readable: bool,
}

/// The address space of a live (stopped) process.
pub struct LiveMemory {
    pid: pid_t,
    /// /proc/PID/mem, opened while attached; None if it could not be.
    mem: Option<File>,
    /// Sorted by start, non-overlapping (from /proc/PID/maps).
    ranges: Vec<ReadableRange>,
}

impl LiveMemory {
    pub fn new(pid: pid_t, mut ranges: Vec<ReadableRange>) -> Self {
        ranges.sort_by_key(|r| r.start);
        LiveMemory {
            pid,
            mem: File::open(format!("/proc/{pid}/mem")).ok(),
            ranges,
        }
    }

    fn range_at(&self, address: u64) -> Option<&ReadableRange> {
        let i = self.ranges.partition_point(|r| r.end <= address);
        self.ranges
            .get(i)
            .filter(|r| r.start <= address && address < r.end)
    }

    /// Reads as much of `buf` as is readable from `address` onwards, in
    /// one or more calls; the count of bytes read is a prefix of `buf`.
    pub fn read_prefix(&self, address: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let at = address.wrapping_add(done as u64);
            let n = match vm_read(self.pid, at, &mut buf[done..]) {
                Ok(n) if n > 0 => n,
                _ => match self.mem.as_ref().map(|f| f.read_at(&mut buf[done..], at)) {
                    Some(Ok(n)) if n > 0 => n,
                    _ => break,
                },
            };
            done += n;
        }
        done
    }
}

impl Memory for LiveMemory {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some(range) = self.range_at(address) else {
            return Err(MemoryError::Unmapped { address });
        };
        if !range.readable {
            return Err(MemoryError::NotCaptured { address });
        }
        // Stay inside the mapping: the next one may not be readable.
        let len = ((range.end - address).min(buf.len() as u64)) as usize;
        match self.read_prefix(address, &mut buf[..len]) {
            0 => Err(MemoryError::NotCaptured { address }),
            n => Ok(n),
        }
    }
}

/// One process_vm_readv call; the kernel copies up to the first page it
/// cannot read and returns how much it copied.
fn vm_read(pid: pid_t, address: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: address as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is writable for its whole
    // length and outlives the call; `remote` is only interpreted in the
    // other process's address space. One iovec each.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_reports_holes() {
        // Our own process: process_vm_readv on ourselves needs no ptrace.
        let data: Vec<u8> = (0..=255u8).cycle().take(8192).collect();
        let at = data.as_ptr() as u64;
        let mem = LiveMemory::new(
            std::process::id() as pid_t,
            vec![
                ReadableRange {
                    start: at,
                    end: at + 8192,
                    readable: true,
                },
                ReadableRange {
                    start: at + 8192,
                    end: at + 16384,
                    readable: false,
                },
            ],
        );
        let mem: &dyn Memory = &mem;
        let mut buf = [0u8; 300];
        mem.read_exact(at + 10, &mut buf).unwrap();
        assert_eq!(buf[0], 10);
        assert_eq!(buf[299], (309 % 256) as u8);
        assert_eq!(
            mem.read_u32(at + 8192),
            Err(MemoryError::NotCaptured { address: at + 8192 })
        );
        assert_eq!(
            mem.read_u32(at + 16384),
            Err(MemoryError::Unmapped {
                address: at + 16384
            })
        );
        // A read that runs into the unreadable range stops at its start.
        let mut big = vec![0u8; 100];
        assert_eq!(mem.read(at + 8192 - 40, &mut big), Ok(40));
    }
}
