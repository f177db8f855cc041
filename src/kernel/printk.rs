//! The kernel log from the lockless printk ring buffer (Linux 5.10+),
//! located and laid out by VMCOREINFO alone.
//!
//! The ring is a descriptor ring (`prb_desc` state + text block position,
//! `printk_info` metadata) and a text data ring of blocks, each an
//! `unsigned long` id followed by the text. Descriptor ids run from
//! `tail_id` to `head_id`; a block position (`lpos`) counts bytes over all
//! laps of the data ring, so its lap is `lpos >> size_bits`.

use crate::memory::Memory;
use crate::model::{LogCaller, LogRecord, Vmcoreinfo};

/// The top two bits of a descriptor's `state_var` hold its state.
const STATE_SHIFT: u32 = 62;
const ID_MASK: u64 = (1 << STATE_SHIFT) - 1;
const STATE_COMMITTED: u64 = 1;
const STATE_FINALIZED: u64 = 2;
/// Bit 31 of `caller_id`: printed in CPU context (the rest is the CPU).
const CALLER_IS_CPU: u32 = 1 << 31;
/// Rings larger than this are garbage (the kernel's maximum log buffer is
/// 2^25 bytes, with one descriptor per 32 bytes).
const MAX_COUNT_BITS: u64 = 24;
const MAX_SIZE_BITS: u64 = 32;
/// Size of the id word at the start of each data block.
const BLOCK_ID_SIZE: u64 = 8;

/// Where the fields the reader needs sit.
struct Layout {
    prb: u64,
    desc_ring: u64,
    text_data_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    desc_size: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    info_size: u64,
    seq: u64,
    ts_nsec: u64,
    text_len: u64,
    facility: u64,
    flags_level: u64,
    caller_id: u64,
    size_bits: u64,
    data: u64,
    counter: u64,
}

fn need(value: Option<u64>, what: &str) -> Result<u64, String> {
    value.ok_or_else(|| format!("VMCOREINFO has no {what}"))
}

impl Layout {
    fn of(info: &Vmcoreinfo) -> Result<Layout, String> {
        let off = |m: &str| need(info.offset(m), &format!("OFFSET({m})"));
        let text_len = off("printk_info.text_len")?;
        let caller_id = off("printk_info.caller_id")?;
        // facility and the flags:5/level:3 byte are not in VMCOREINFO: they
        // follow the u16 text_len, and caller_id follows them.
        if caller_id != text_len + 4 {
            return Err(format!(
                "printk_info layout is not the known one (text_len at {text_len}, caller_id at {caller_id})"
            ));
        }
        Ok(Layout {
            prb: need(info.symbol("prb"), "SYMBOL(prb)")?,
            desc_ring: off("printk_ringbuffer.desc_ring")?,
            text_data_ring: off("printk_ringbuffer.text_data_ring")?,
            count_bits: off("prb_desc_ring.count_bits")?,
            descs: off("prb_desc_ring.descs")?,
            infos: off("prb_desc_ring.infos")?,
            head_id: off("prb_desc_ring.head_id")?,
            tail_id: off("prb_desc_ring.tail_id")?,
            desc_size: need(info.size("prb_desc"), "SIZE(prb_desc)")?,
            state_var: off("prb_desc.state_var")?,
            text_blk_lpos: off("prb_desc.text_blk_lpos")?,
            lpos_begin: off("prb_data_blk_lpos.begin")?,
            lpos_next: off("prb_data_blk_lpos.next")?,
            info_size: need(info.size("printk_info"), "SIZE(printk_info)")?,
            seq: off("printk_info.seq")?,
            ts_nsec: off("printk_info.ts_nsec")?,
            text_len,
            facility: text_len + 2,
            flags_level: text_len + 3,
            caller_id,
            size_bits: off("prb_data_ring.size_bits")?,
            data: off("prb_data_ring.data")?,
            counter: info.offset("atomic_long_t.counter").unwrap_or(0),
        })
    }
}

fn at(base: u64, offset: u64) -> u64 {
    base.wrapping_add(offset)
}

fn read_u64(memory: &dyn Memory, address: u64, what: &str) -> Result<u64, String> {
    memory
        .read_u64(address)
        .map_err(|e| format!("reading {what}: {e}"))
}

fn read_u32(memory: &dyn Memory, address: u64, what: &str) -> Result<u32, String> {
    memory
        .read_u32(address)
        .map_err(|e| format!("reading {what}: {e}"))
}

/// The kernel log, oldest first: every committed or finalized record from
/// `tail_id` to `head_id`. Records whose descriptor or text cannot be read
/// are left out; an error only when the ring itself cannot be found or
/// makes no sense.
pub fn read_log(memory: &dyn Memory, info: &Vmcoreinfo) -> Result<Vec<LogRecord>, String> {
    let l = Layout::of(info)?;
    // SYMBOL(prb) is the pointer variable, not the ring.
    let prb = read_u64(memory, l.prb, "prb")?;
    let desc_ring = at(prb, l.desc_ring);
    let data_ring = at(prb, l.text_data_ring);

    let count_bits = u64::from(read_u32(
        memory,
        at(desc_ring, l.count_bits),
        "desc_ring.count_bits",
    )?);
    if count_bits > MAX_COUNT_BITS {
        return Err(format!(
            "printk descriptor ring claims 2^{count_bits} descriptors"
        ));
    }
    let descs = read_u64(memory, at(desc_ring, l.descs), "desc_ring.descs")?;
    let infos = read_u64(memory, at(desc_ring, l.infos), "desc_ring.infos")?;
    let head_id = read_u64(memory, at(desc_ring, l.head_id + l.counter), "head_id")? & ID_MASK;
    let tail_id = read_u64(memory, at(desc_ring, l.tail_id + l.counter), "tail_id")? & ID_MASK;
    let size_bits = u64::from(read_u32(
        memory,
        at(data_ring, l.size_bits),
        "data_ring.size_bits",
    )?);
    if !(4..=MAX_SIZE_BITS).contains(&size_bits) {
        return Err(format!("printk data ring claims 2^{size_bits} bytes"));
    }
    let data = read_u64(memory, at(data_ring, l.data), "data_ring.data")?;

    let count = 1u64 << count_bits;
    let span = head_id.wrapping_sub(tail_id) & ID_MASK;
    if span >= count {
        return Err(format!(
            "printk ring ids run from {tail_id:#x} to {head_id:#x}, more than its {count} descriptors"
        ));
    }
    let ring = DataRing {
        data,
        size_bits,
        size: 1 << size_bits,
    };
    let mut records = Vec::new();
    for step in 0..=span {
        let id = tail_id.wrapping_add(step) & ID_MASK;
        let slot = id & (count - 1);
        let desc = at(descs, slot * l.desc_size);
        let Ok(state_var) = memory.read_u64(at(desc, l.state_var)) else {
            continue;
        };
        let state = state_var >> STATE_SHIFT;
        if state_var & ID_MASK != id || (state != STATE_COMMITTED && state != STATE_FINALIZED) {
            continue;
        }
        let lpos = at(desc, l.text_blk_lpos);
        let (Ok(begin), Ok(next)) = (
            memory.read_u64(at(lpos, l.lpos_begin)),
            memory.read_u64(at(lpos, l.lpos_next)),
        ) else {
            continue;
        };
        let info_at = at(infos, slot * l.info_size);
        let mut raw = vec![0u8; l.info_size.min(256) as usize];
        if memory.read_exact(info_at, &mut raw).is_err() {
            continue;
        }
        let Some(meta) = Meta::parse(&raw, &l) else {
            continue;
        };
        let Some(text) = ring.text(memory, begin, next, meta.text_len) else {
            continue;
        };
        records.push(LogRecord {
            seq: meta.seq,
            timestamp_ns: meta.ts_nsec,
            level: meta.flags_level >> 5,
            facility: meta.facility,
            caller: Some(if meta.caller_id & CALLER_IS_CPU != 0 {
                LogCaller::Cpu(meta.caller_id & !CALLER_IS_CPU)
            } else {
                LogCaller::Task(meta.caller_id)
            }),
            text,
        });
    }
    Ok(records)
}

/// The fields of one `printk_info`.
struct Meta {
    seq: u64,
    ts_nsec: u64,
    text_len: u16,
    facility: u8,
    flags_level: u8,
    caller_id: u32,
}

impl Meta {
    fn parse(raw: &[u8], l: &Layout) -> Option<Meta> {
        let bytes = |off: u64, n: usize| -> Option<&[u8]> {
            let start = usize::try_from(off).ok()?;
            raw.get(start..start.checked_add(n)?)
        };
        let u64_at = |off| Some(u64::from_le_bytes(bytes(off, 8)?.try_into().ok()?));
        Some(Meta {
            seq: u64_at(l.seq)?,
            ts_nsec: u64_at(l.ts_nsec)?,
            text_len: u16::from_le_bytes(bytes(l.text_len, 2)?.try_into().ok()?),
            facility: bytes(l.facility, 1)?[0],
            flags_level: bytes(l.flags_level, 1)?[0],
            caller_id: u32::from_le_bytes(bytes(l.caller_id, 4)?.try_into().ok()?),
        })
    }
}

struct DataRing {
    data: u64,
    size_bits: u64,
    size: u64,
}

impl DataRing {
    /// The text of the block `[begin, next)`: `text_len` bytes after the
    /// block's id word, at most what the block holds. A block that would
    /// cross the end of the ring is stored whole at its start instead
    /// (then `next` is one lap ahead of `begin`). Data-less blocks (odd
    /// positions) have no text.
    fn text(&self, memory: &dyn Memory, begin: u64, next: u64, text_len: u16) -> Option<String> {
        if begin & 1 != 0 && next & 1 != 0 {
            return Some(String::new());
        }
        let lap = |lpos: u64| lpos >> self.size_bits;
        let index = |lpos: u64| lpos & (self.size - 1);
        let (start, len) = if lap(begin) == lap(next) {
            (index(begin), next.checked_sub(begin)?)
        } else if lap(begin).wrapping_add(1) == lap(next) {
            (0, index(next))
        } else {
            return None;
        };
        if len < BLOCK_ID_SIZE || start + len > self.size {
            return None;
        }
        let len = (len - BLOCK_ID_SIZE).min(u64::from(text_len)) as usize;
        let mut text = vec![0u8; len];
        memory
            .read_exact(at(self.data, start + BLOCK_ID_SIZE), &mut text)
            .ok()?;
        Some(String::from_utf8_lossy(&text).into_owned())
    }
}

/// The log record that holds the panic message (see [`panic_message`]).
pub fn panic_record(log: &[LogRecord]) -> Option<&LogRecord> {
    let message = panic_message(log)?;
    log.iter().rev().find(|r| r.text.contains(message))
}

/// What the kernel said when it went down: the text after "Kernel panic -
/// not syncing: " of the last panic record; without one, the last line
/// reporting a BUG, an Oops or a general protection fault.
pub fn panic_message(log: &[LogRecord]) -> Option<&str> {
    const PANIC: &str = "Kernel panic - not syncing: ";
    if let Some(message) = log.iter().rev().find_map(|r| {
        let at = r.text.find(PANIC)?;
        let line = r.text[at + PANIC.len()..]
            .lines()
            .next()
            .unwrap_or("")
            .trim_end();
        // A panic that ran to its end (no crash kernel: QEMU's own dumps)
        // repeats the message as "---[ end Kernel panic - not syncing: … ]---".
        Some(match r.text.starts_with("---[ end ") {
            true => line.strip_suffix(" ]---").unwrap_or(line),
            false => line,
        })
    }) {
        return Some(message);
    }
    log.iter().rev().find_map(|r| {
        r.text
            .lines()
            .find(|line| {
                line.starts_with("BUG:")
                    || line.starts_with("Oops")
                    || line.starts_with("general protection fault")
            })
            .map(str::trim_end)
    })
}

/// The report that led to the panic, when it was not a panic by itself:
/// the nearest BUG / Oops / general protection fault / WARNING block
/// before the last panic record (or, when nothing called panic, the last
/// such block in the log), as its headline
/// lines, the `Oops:` line and the first `RIP:` line — what `crash`'s
/// `log` shows above the panic. At most a few lines; empty when the panic
/// was called directly.
pub fn panic_cause(log: &[LogRecord]) -> Vec<String> {
    const HEADLINES: [&str; 6] = [
        "BUG:",
        "kernel BUG at ",
        "Oops:",
        "general protection fault",
        "WARNING:",
        "Unable to handle kernel",
    ];
    // Records searched back from the panic: an oops report is a few dozen.
    const WINDOW: usize = 256;
    const MAX_LINES: usize = 6;
    // An oops report ends with its "---[ end trace … ]---" line, printed
    // just before the panic it leads to; an older report, further up,
    // did not lead to this panic.
    const END_TO_PANIC: usize = 8;
    let is_headline = |line: &str| HEADLINES.iter().any(|h| line.starts_with(h));
    let end = match log
        .iter()
        .rposition(|r| r.text.contains("Kernel panic - not syncing: "))
    {
        Some(panic) => {
            let from = panic.saturating_sub(END_TO_PANIC);
            match log[from..panic]
                .iter()
                .rposition(|r| r.text.contains("---[ end trace"))
            {
                Some(i) => from + i,
                None => return Vec::new(),
            }
        }
        // No panic at all: an oops with a crash kernel loaded goes to it
        // straight from oops_end, before its report ends; the last report
        // in the log is what happened.
        None => log.len(),
    };
    let lines: Vec<&str> = log[end.saturating_sub(WINDOW)..end]
        .iter()
        .flat_map(|r| r.text.lines())
        .collect();
    // The block starts at the first headline of the last run of headlines.
    let Some(last) = lines.iter().rposition(|l| is_headline(l)) else {
        return Vec::new();
    };
    let mut start = last;
    // Between "BUG: … NULL pointer dereference" and "Oops:" the page-fault
    // path prints its #PF lines and the page-table walk (PGD … PMD …).
    let in_block =
        |line: &str| is_headline(line) || line.starts_with("#PF:") || line.starts_with("PGD ");
    while start > 0 && in_block(lines[start - 1]) {
        start -= 1;
    }
    let mut cause: Vec<String> = lines[start..=last]
        .iter()
        .filter(|l| is_headline(l))
        .map(|l| l.trim_end().to_string())
        .collect();
    if let Some(rip) = lines[last..].iter().find(|l| l.starts_with("RIP:")) {
        cause.push(rip.trim_end().to_string());
    }
    cause.truncate(MAX_LINES);
    cause
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Bytes, Segment, SegmentMemory};

    const BASE: u64 = 0x1000_0000;
    const RING: u64 = BASE + 0x100;
    const DESCS: u64 = BASE + 0x1000;
    const INFOS: u64 = BASE + 0x2000;
    const DATA: u64 = BASE + 0x3000;

    /// The 6.1 layout (the real dump's VMCOREINFO entries).
    fn info() -> Vmcoreinfo {
        Vmcoreinfo::parse(
            format!(
                "SYMBOL(prb)={BASE:x}\n\
                 OFFSET(printk_ringbuffer.desc_ring)=0\nOFFSET(printk_ringbuffer.text_data_ring)=48\n\
                 OFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\n\
                 OFFSET(prb_desc_ring.infos)=16\nOFFSET(prb_desc_ring.head_id)=24\n\
                 OFFSET(prb_desc_ring.tail_id)=32\nSIZE(prb_desc)=24\n\
                 OFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)=8\n\
                 OFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n\
                 SIZE(printk_info)=88\nOFFSET(printk_info.seq)=0\nOFFSET(printk_info.ts_nsec)=8\n\
                 OFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\n\
                 OFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\n\
                 OFFSET(atomic_long_t.counter)=0\n"
            )
            .as_bytes(),
        )
    }

    struct Ring(Vec<u8>);

    impl Ring {
        fn put(&mut self, address: u64, bytes: &[u8]) {
            let at = (address - BASE) as usize;
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }
        fn u64(&mut self, address: u64, v: u64) {
            self.put(address, &v.to_le_bytes());
        }
        /// Descriptor `id` in `state`, its block `[begin, next)` holding
        /// `text` at `text_at` (data ring index), and its info.
        #[allow(clippy::too_many_arguments)]
        fn record(
            &mut self,
            id: u64,
            state: u64,
            begin: u64,
            next: u64,
            text_at: u64,
            text: &str,
            level: u8,
            caller: u32,
        ) {
            let slot = id & 3;
            self.u64(DESCS + slot * 24, (state << 62) | id);
            self.u64(DESCS + slot * 24 + 8, begin);
            self.u64(DESCS + slot * 24 + 16, next);
            let info = INFOS + slot * 88;
            self.u64(info, id * 10);
            self.u64(info + 8, 1_500_000_000 + id);
            self.put(info + 16, &(text.len() as u16).to_le_bytes());
            self.put(info + 18, &[3, (level << 5) | 0x1f]);
            self.put(info + 20, &caller.to_le_bytes());
            self.u64(DATA + text_at, id);
            self.put(DATA + text_at + 8, text.as_bytes());
        }
        fn memory(self) -> SegmentMemory {
            let size = self.0.len() as u64;
            SegmentMemory::new(vec![Segment {
                address: BASE,
                size,
                captured: size,
                offset: 0,
                bytes: Bytes::from_vec(self.0),
            }])
        }
    }

    /// Four descriptors, a 128-byte data ring; ids 4–7 from tail to head:
    /// finalized, committed, finalized in a block that wraps, reserved.
    fn ring() -> Ring {
        let mut r = Ring(vec![0; 0x4000]);
        r.u64(BASE, RING);
        r.put(RING, &2u32.to_le_bytes());
        r.u64(RING + 8, DESCS);
        r.u64(RING + 16, INFOS);
        r.u64(RING + 24, 7);
        r.u64(RING + 32, 4);
        r.put(RING + 48, &7u32.to_le_bytes());
        r.u64(RING + 56, DATA);
        r.record(4, 2, 128 + 40, 128 + 64, 40, "first line", 6, 1);
        r.record(5, 1, 192, 208, 64, "second", 4, (1 << 31) | 1);
        // Begins at index 120 of lap 1; stored from index 0 of lap 2.
        r.record(6, 2, 248, 256 + 24, 0, "wrapped!", 0, 77);
        r.record(7, 0, 280, 296, 24, "not yet", 0, 0);
        r
    }

    #[test]
    fn reads_committed_and_finalized_records_across_the_wrap() {
        let memory = ring().memory();
        let log = read_log(&memory, &info()).unwrap();
        let texts: Vec<&str> = log.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["first line", "second", "wrapped!"]);
        assert_eq!(
            log[0],
            LogRecord {
                seq: 40,
                timestamp_ns: 1_500_000_004,
                level: 6,
                facility: 3,
                caller: Some(LogCaller::Task(1)),
                text: "first line".into(),
            }
        );
        assert_eq!(log[1].caller, Some(LogCaller::Cpu(1)));
        assert_eq!(log[1].level, 4);
        assert_eq!(log[2].caller, Some(LogCaller::Task(77)));
    }

    #[test]
    fn stale_ids_and_impossible_blocks_are_skipped() {
        let mut r = ring();
        // Slot 1 holds an older id than the walk expects.
        r.u64(DESCS + 24, (2 << 62) | 1);
        // Block positions three laps apart.
        r.u64(DESCS + 2 * 24 + 16, 248 + 3 * 128);
        let log = read_log(&r.memory(), &info()).unwrap();
        let texts: Vec<&str> = log.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["first line"]);
    }

    #[test]
    fn garbage_rings_are_bounded_errors() {
        // Ids further apart than the ring has descriptors.
        let mut r = ring();
        r.u64(RING + 24, u64::MAX);
        let e = read_log(&r.memory(), &info()).unwrap_err();
        assert!(e.contains("more than its 4 descriptors"), "{e}");
        let mut r = ring();
        r.put(RING, &60u32.to_le_bytes());
        assert!(read_log(&r.memory(), &info()).is_err());
        let mut r = ring();
        r.put(RING + 48, &63u32.to_le_bytes());
        assert!(read_log(&r.memory(), &info()).is_err());
        // prb points nowhere.
        let mut r = ring();
        r.u64(BASE, 0xdead_0000);
        assert!(
            read_log(&r.memory(), &info())
                .unwrap_err()
                .contains("count_bits")
        );
        // A text length past its block is cut at the block.
        let mut r = ring();
        r.put(INFOS + 16, &u16::MAX.to_le_bytes());
        let log = read_log(&r.memory(), &info()).unwrap();
        assert_eq!(log[0].text.len(), 16);
        // VMCOREINFO without the ring, or with another printk_info layout.
        assert!(read_log(&ring().memory(), &Vmcoreinfo::default()).is_err());
        let mut odd = info();
        for (k, v) in &mut odd.entries {
            if k == "OFFSET(printk_info.caller_id)" {
                *v = "24".into();
            }
        }
        assert!(
            read_log(&ring().memory(), &odd)
                .unwrap_err()
                .contains("layout")
        );
    }

    fn record(text: &str) -> LogRecord {
        LogRecord {
            seq: 0,
            timestamp_ns: 0,
            level: 0,
            facility: 0,
            caller: None,
            text: text.into(),
        }
    }

    #[test]
    fn the_oops_that_led_to_a_panic_is_its_cause_and_an_old_warning_is_not() {
        let mut log: Vec<LogRecord> = [
            "WARNING: CPU: 0 PID: 1 at lib/old.c:1 old_warning+0x1/0x2",
            "---[ end trace 0000000000000000 ]---",
            "ordinary boot line",
            "BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "#PF: supervisor write access in kernel mode",
            "#PF: error_code(0x0002) - not-present page",
            "PGD 17c4f067 P4D 17c4f067 PUD 17ca0067 PMD 0 ",
            "Oops: 0002 [#1] PREEMPT SMP NOPTI",
            "CPU: 1 PID: 99 Comm: ckdump-threads Not tainted 6.1.0-56-cloud-amd64 #1",
            "RIP: 0010:ckdump_oops_leaf+0x12/0x20 [ckdump_panic]",
            "RSP: 0018:ffffd441c03ffa38 EFLAGS: 00010246",
            "Call Trace:",
            "---[ end trace 0000000000000000 ]---",
            "RIP: 0010:ckdump_oops_leaf+0x12/0x20 [ckdump_panic]",
            "Kernel panic - not syncing: Fatal exception",
        ]
        .iter()
        .map(|t| record(t))
        .collect();
        assert_eq!(
            panic_cause(&log),
            [
                "BUG: kernel NULL pointer dereference, address: 0000000000000000",
                "Oops: 0002 [#1] PREEMPT SMP NOPTI",
                "RIP: 0010:ckdump_oops_leaf+0x12/0x20 [ckdump_panic]",
            ]
        );
        // A direct panic long after an old warning has no cause.
        log.truncate(3);
        log.extend((0..20).map(|_| record("boot")));
        log.push(record("Kernel panic - not syncing: sysrq triggered crash"));
        assert!(panic_cause(&log).is_empty());
    }

    #[test]
    fn a_panic_that_ran_to_its_end_keeps_its_message_without_the_end_marker() {
        let log = vec![
            record("Kernel panic - not syncing: sysrq triggered crash"),
            record("Kernel Offset: 0x25800000 from 0xffffffff81000000"),
            record("---[ end Kernel panic - not syncing: sysrq triggered crash ]---"),
        ];
        assert_eq!(panic_message(&log), Some("sysrq triggered crash"));
    }

    #[test]
    fn panic_message_prefers_the_last_panic_then_an_oops() {
        let log = [
            record("BUG: kernel NULL pointer dereference, address: 0000000000000008"),
            record("Oops: 0002 [#1] PREEMPT SMP NOPTI"),
            record("RIP: 0010:foo+0x1/0x2"),
        ];
        assert_eq!(
            panic_message(&log),
            Some("Oops: 0002 [#1] PREEMPT SMP NOPTI")
        );
        let mut with_panic = log.to_vec();
        with_panic.push(record("Kernel panic - not syncing: Fatal exception"));
        with_panic.push(record("Kernel Offset: 0x25800000"));
        assert_eq!(panic_message(&with_panic), Some("Fatal exception"));
        assert_eq!(panic_message(&[record("all quiet")]), None);
        assert_eq!(panic_message(&[]), None);
    }
}
