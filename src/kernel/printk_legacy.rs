//! The kernel log of kernels 3.5–5.9: one byte buffer `log_buf` of
//! `log_buf_len` bytes holding variable-length `struct printk_log` records
//! (a header, then the text, then a dictionary), 8-byte aligned, from
//! `log_first_idx` to `log_next_idx`; a header whose `len` is 0 means the
//! writer wrapped to the start. VMCOREINFO names every piece
//! (`SYMBOL(log_buf)`, `SYMBOL(log_buf_len)`, `SYMBOL(log_first_idx)`,
//! `SYMBOL(log_next_idx)`, `SIZE(printk_log)`, `OFFSET(printk_log.ts_nsec)`,
//! `.len`, `.text_len`, and `.caller_id` on kernels built with
//! CONFIG_PRINTK_CALLER, 5.1+).
//!
//! The header after `dict_len` holds `u8 facility` and a byte of
//! `flags:5, level:3` (the kernel's own layout since 3.5); VMCOREINFO does
//! not name them, so they are read right after `text_len`'s `dict_len`.

use crate::memory::Memory;
use crate::model::{LogCaller, LogRecord, Vmcoreinfo};

/// A buffer larger than the kernel allows (CONFIG_LOG_BUF_SHIFT ≤ 25,
/// log_buf_len= at most 2 GiB in theory; real ones are ≤ 32 MiB).
const MAX_BUFFER: u64 = 256 << 20;

/// Whether VMCOREINFO describes the pre-5.10 buffer.
pub fn present(info: &Vmcoreinfo) -> bool {
    info.symbol("log_buf").is_some() && info.size("printk_log").is_some()
}

/// The log, oldest first.
pub fn read_log(memory: &dyn Memory, info: &Vmcoreinfo) -> Result<Vec<LogRecord>, String> {
    let symbol = |name: &str| {
        info.symbol(name)
            .ok_or_else(|| format!("VMCOREINFO has no SYMBOL({name})"))
    };
    let offset = |name: &str| {
        info.offset(name)
            .ok_or_else(|| format!("VMCOREINFO has no OFFSET({name})"))
    };
    let header_size = info
        .size("printk_log")
        .filter(|&s| (8..=64).contains(&s))
        .ok_or("VMCOREINFO has no plausible SIZE(printk_log)")?;
    let ts = offset("printk_log.ts_nsec")?;
    let len_at = offset("printk_log.len")?;
    let text_len_at = offset("printk_log.text_len")?;
    let caller_at = info.offset("printk_log.caller_id");
    // dict_len follows text_len; then facility, then flags:5 level:3.
    let level_at = text_len_at + 4 + 1;
    let facility_at = text_len_at + 4;
    for field in [ts + 8, len_at + 2, text_len_at + 2, level_at + 1] {
        if field > header_size {
            return Err(format!("printk_log fields lie past its size {header_size}"));
        }
    }

    let read_u32 = |name: &str| -> Result<u32, String> {
        let at = symbol(name)?;
        memory
            .read_u32(at)
            .map_err(|e| format!("reading {name} at {at:#x}: {e}"))
    };
    let buffer_at = symbol("log_buf")?;
    let buffer = memory
        .read_u64(buffer_at)
        .map_err(|e| format!("reading log_buf at {buffer_at:#x}: {e}"))?;
    let size = u64::from(read_u32("log_buf_len")?);
    if size == 0 || size > MAX_BUFFER {
        return Err(format!("log_buf_len is {size}"));
    }
    let first = u64::from(read_u32("log_first_idx")?);
    let next = u64::from(read_u32("log_next_idx")?);
    if first >= size || next >= size {
        return Err(format!(
            "log_first_idx {first} / log_next_idx {next} lie outside the {size}-byte buffer"
        ));
    }
    // One read of the whole buffer: it is at most a few MiB, and records
    // are then parsed from it with every length checked.
    let mut bytes = vec![0u8; size as usize];
    memory
        .read_exact(buffer, &mut bytes)
        .map_err(|e| format!("reading the {size}-byte log buffer at {buffer:#x}: {e}"))?;
    let u16_at = |at: u64| -> u64 {
        bytes
            .get(at as usize..at as usize + 2)
            .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };

    let mut records = Vec::new();
    let mut index = first;
    let mut wrapped = false;
    // Every record is at least a header long: this bounds the walk.
    for seq in 0..=size / header_size {
        if index == next && (seq > 0 || first == next) {
            break;
        }
        if index + header_size > size {
            return Err(format!(
                "a log record header at {index} runs past the buffer"
            ));
        }
        let len = u16_at(index + len_at);
        if len == 0 {
            // The writer wrapped: the next record is at the start.
            if wrapped {
                return Err("the log buffer wraps twice".into());
            }
            wrapped = true;
            index = 0;
            continue;
        }
        let text_len = u16_at(index + text_len_at);
        if len < header_size || index + len > size || header_size + text_len > len {
            return Err(format!(
                "log record at {index} claims {len} bytes ({text_len} of text) in a {size}-byte buffer"
            ));
        }
        let at = |off: u64| (index + off) as usize;
        let timestamp_ns =
            u64::from_le_bytes(bytes[at(ts)..at(ts) + 8].try_into().unwrap_or_default());
        let text_start = at(header_size);
        let text = String::from_utf8_lossy(&bytes[text_start..text_start + text_len as usize])
            .into_owned();
        let caller = caller_at.map(|off| {
            let id = u32::from_le_bytes(bytes[at(off)..at(off) + 4].try_into().unwrap_or_default());
            if id & 0x8000_0000 != 0 {
                LogCaller::Cpu(id & 0x7fff_ffff)
            } else {
                LogCaller::Task(id)
            }
        });
        records.push(LogRecord {
            seq,
            timestamp_ns,
            level: bytes[at(level_at)] >> 5,
            facility: bytes[at(facility_at)],
            caller,
            text,
        });
        index += len;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Bytes, Segment, SegmentMemory};

    const BASE: u64 = 0xffff_8880_0000_0000;
    const BUF: u64 = BASE + 0x1000;
    const SIZE: u64 = 136;

    /// The 64-bit layout of 5.1–5.9 with CONFIG_PRINTK_CALLER: ts_nsec 0,
    /// len 8, text_len 10, dict_len 12, facility 14, flags/level 15,
    /// caller_id 16; SIZE 24 (VMCOREINFO as such a kernel writes it).
    fn info() -> Vmcoreinfo {
        Vmcoreinfo::parse(
            format!(
                "SYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_first_idx)={:x}\n\
                 SYMBOL(log_next_idx)={:x}\nSIZE(printk_log)=24\nOFFSET(printk_log.ts_nsec)=0\n\
                 OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n\
                 OFFSET(printk_log.caller_id)=16\n",
                BASE,
                BASE + 8,
                BASE + 12,
                BASE + 16
            )
            .as_bytes(),
        )
    }

    fn record(buf: &mut [u8], at: usize, ts: u64, text: &str, level: u8, caller: u32) -> usize {
        let len = (24 + text.len()).next_multiple_of(8);
        buf[at..at + 8].copy_from_slice(&ts.to_le_bytes());
        buf[at + 8..at + 10].copy_from_slice(&(len as u16).to_le_bytes());
        buf[at + 10..at + 12].copy_from_slice(&(text.len() as u16).to_le_bytes());
        buf[at + 14] = 0;
        buf[at + 15] = (level << 5) | 0x4;
        buf[at + 16..at + 20].copy_from_slice(&caller.to_le_bytes());
        buf[at + 24..at + 24 + text.len()].copy_from_slice(text.as_bytes());
        at + len
    }

    /// Two records at the end of the buffer, a wrap marker, one at the start.
    fn memory(first: u32, next: u32, wrap_len: u16) -> SegmentMemory {
        let mut mem = vec![0u8; 0x1000 + SIZE as usize];
        mem[0..8].copy_from_slice(&BUF.to_le_bytes());
        mem[8..12].copy_from_slice(&(SIZE as u32).to_le_bytes());
        mem[12..16].copy_from_slice(&first.to_le_bytes());
        mem[16..20].copy_from_slice(&next.to_le_bytes());
        let buf = &mut mem[0x1000..];
        let end = record(buf, 48, 5_000_000_123, "old one", 6, 1);
        assert_eq!(end, 80);
        let end = record(buf, end, 6_000_000_000, "cpu says", 4, 0x8000_0001);
        assert_eq!(end, 112);
        buf[112 + 8..112 + 10].copy_from_slice(&wrap_len.to_le_bytes());
        let end = record(buf, 0, 7_000_000_000, "wrapped", 0, 42);
        assert_eq!(end, 32);
        let size = mem.len() as u64;
        SegmentMemory::new(vec![Segment {
            address: BASE,
            size,
            captured: size,
            offset: 0,
            bytes: Bytes::from_vec(mem),
        }])
    }

    #[test]
    fn records_in_order_across_the_wrap() {
        let log = read_log(&memory(48, 32, 0), &info()).unwrap();
        let texts: Vec<(&str, u64, u8, Option<LogCaller>)> = log
            .iter()
            .map(|r| (r.text.as_str(), r.timestamp_ns, r.level, r.caller))
            .collect();
        assert_eq!(
            texts,
            [
                ("old one", 5_000_000_123, 6, Some(LogCaller::Task(1))),
                ("cpu says", 6_000_000_000, 4, Some(LogCaller::Cpu(1))),
                ("wrapped", 7_000_000_000, 0, Some(LogCaller::Task(42))),
            ]
        );
        assert!(present(&info()));
    }

    #[test]
    fn damaged_buffers_are_errors_not_loops() {
        // The wrap marker claims a length instead of 0: the record runs off.
        assert!(read_log(&memory(48, 32, 200), &info()).is_err());
        // Indexes outside the buffer.
        let err = read_log(&memory(48, 4096, 0), &info()).unwrap_err();
        assert!(err.contains("outside"), "{err}");
        // A next index never reached is bounded by the buffer's size.
        assert!(read_log(&memory(48, 8, 0), &info()).is_err());
    }
}
