//! Kernel data that kallsyms does not name, found in the dump's memory.
//!
//! A kernel built without CONFIG_KALLSYMS_ALL (Debian's arm64 kernels) lists
//! only text symbols: no `__start_BTF`, `init_task`, `modules`,
//! `__per_cpu_offset` or per-CPU variables. VMCOREINFO still names a few
//! data objects, and the kernel's own BTF describes the structures, which
//! is enough to find the rest by what they are, each candidate checked
//! against facts only the real object satisfies:
//!
//! - BTF: its header (magic 0xeb9f, version 1, 24-byte header, types then
//!   strings) in the read-only data after the kallsyms tables (which
//!   VMCOREINFO names; `.BTF` follows them in the linker script's RO_DATA);
//! - `init_task`: in the kernel's data (the mapped run of pages around
//!   VMCOREINFO's `SYMBOL(init_uts_ns)`), the task whose `real_parent`,
//!   `parent` and `group_leader` are itself, pid 0, named `swapper…`, on a
//!   consistent `tasks` list;
//! - `modules`: in the same data, the list head whose ring holds only
//!   `struct module`s that lie inside their own memory, with plausible
//!   names and states;
//! - each CPU's per-CPU area: a task's `se.cfs_rq->rq` is the run queue of
//!   the CPU it last ran on (`rq.cpu`), and that run queue is the per-CPU
//!   variable `runqueues`, whose offset in `.data..percpu` BTF gives.
//!
//! Every scan is bounded (a few tens of MiB at most) and stops at the end
//! of readable memory.

use crate::memory::Memory;
use crate::model::{KernelTask, Vmcoreinfo};

use super::btf::{Btf, MAX_BTF_SIZE};
use super::kallsyms::KernelSymbols;
use super::tasks::{TaskLayout, read_tasks_from};

/// Bytes searched for BTF after the kallsyms tables (a 6.1 kernel has
/// 1.5 MiB of read-only data between them and `.BTF`).
const MAX_BTF_SEARCH: u64 = 64 << 20;
/// Bytes of kernel data searched on either side of the anchor.
const MAX_DATA_RUN: u64 = 64 << 20;
/// Pages are probed in 4 KiB steps (the smallest granule).
const PROBE: u64 = 4096;
/// The size of one read while scanning.
const CHUNK: usize = 64 << 10;
/// More modules than any kernel loads.
const MAX_MODULES: usize = 4096;
/// Tasks tried per CPU when looking for its run queue.
const MAX_TASKS_PER_CPU: usize = 64;
/// Most CPUs a per-CPU area is looked for.
const MAX_CPUS: u32 = 1 << 13;

/// The VMCOREINFO kallsyms tables, all in read-only data before `.BTF`.
const KALLSYMS_TABLES: [&str; 6] = [
    "kallsyms_names",
    "kallsyms_num_syms",
    "kallsyms_token_table",
    "kallsyms_token_index",
    "kallsyms_offsets",
    "kallsyms_relative_base",
];

/// BTF found in memory, and where.
#[derive(Debug)]
pub struct FoundBtf {
    pub address: u64,
    pub btf: Btf,
}

/// The total length of a BTF blob whose header starts `bytes`, when the
/// header is one the kernel writes: magic, version 1, no flags, a 24-byte
/// header, types at offset 0 directly followed by the strings.
fn btf_header(bytes: &[u8]) -> Option<u64> {
    let word = |at: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            bytes.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    if bytes.get(..4)? != [0x9f, 0xeb, 1, 0] || word(4)? != 24 || word(8)? != 0 {
        return None;
    }
    let (type_len, string_off, string_len) = (word(12)?, word(16)?, word(20)?);
    let total = 24 + type_len + string_len;
    (type_len > 0 && string_off == type_len && string_len > 0 && total <= MAX_BTF_SIZE)
        .then_some(total)
}

/// Calls `visit(address, chunk)` for readable chunks of `[start, end)`,
/// each overlapping the next by `overlap` bytes; an unreadable page is
/// skipped. Stops when `visit` returns a value.
fn scan<T>(
    memory: &dyn Memory,
    start: u64,
    end: u64,
    overlap: usize,
    mut visit: impl FnMut(u64, &[u8]) -> Option<T>,
) -> Option<T> {
    let mut buf = vec![0u8; CHUNK + overlap];
    let mut at = start;
    while at < end {
        let want = (end - at).min(buf.len() as u64) as usize;
        let n = memory.read_available(at, &mut buf[..want]);
        if n == 0 {
            at = (at | (PROBE - 1)).saturating_add(1);
            continue;
        }
        if let Some(found) = visit(at, &buf[..n]) {
            return Some(found);
        }
        // Past what was read, less the overlap (a full read), or to the
        // next page (a read that stopped early).
        let advance = if n == want && n > overlap {
            (n - overlap) as u64
        } else {
            n as u64
        };
        at = at.saturating_add(advance.max(1));
    }
    None
}

/// The kernel's BTF, found by its header after the kallsyms tables that
/// VMCOREINFO names; it must hold `struct task_struct`.
pub fn find_btf(memory: &dyn Memory, info: &Vmcoreinfo) -> Result<FoundBtf, String> {
    let start = KALLSYMS_TABLES
        .iter()
        .filter_map(|name| info.symbol(name))
        .max()
        .ok_or("VMCOREINFO names no kallsyms table to look for BTF after")?;
    let end = start.saturating_add(MAX_BTF_SEARCH);
    let mut rejected = None;
    let found = scan(memory, start & !3, end, 24, |base, chunk| {
        (0..chunk.len().saturating_sub(23))
            .step_by(4)
            .find_map(|i| {
                let total = btf_header(&chunk[i..])?;
                let address = base.wrapping_add(i as u64);
                let mut bytes = vec![0u8; total as usize];
                memory.read_exact(address, &mut bytes).ok()?;
                match Btf::parse(bytes) {
                    Ok(btf) if btf.struct_named("task_struct").is_some() => {
                        Some(FoundBtf { address, btf })
                    }
                    Ok(_) => None,
                    Err(e) => {
                        rejected = Some(format!("{address:#x}: {e}"));
                        None
                    }
                }
            })
    });
    found.ok_or_else(|| match rejected {
        Some(why) => format!("no usable BTF after the kallsyms tables (one candidate at {why})"),
        None => format!("no BTF header in the {MAX_BTF_SEARCH} bytes after the kallsyms tables"),
    })
}

/// The readable run of memory around `anchor`: page by page down and up
/// from it until a page cannot be read, at most [`MAX_DATA_RUN`] each way.
pub fn readable_run(memory: &dyn Memory, anchor: u64) -> (u64, u64) {
    let readable = |page: u64| memory.read_available(page, &mut [0u8; 1]) == 1;
    let page = anchor & !(PROBE - 1);
    let mut start = page;
    while page - start < MAX_DATA_RUN
        && let Some(below) = start.checked_sub(PROBE)
        && readable(below)
    {
        start = below;
    }
    let mut end = page;
    while end - page < MAX_DATA_RUN && readable(end) {
        end = match end.checked_add(PROBE) {
            Some(next) => next,
            None => break,
        };
    }
    (start, end)
}

/// The kernel's data: the readable run around VMCOREINFO's
/// `SYMBOL(init_uts_ns)`, a variable in `.data`.
pub fn kernel_data(memory: &dyn Memory, info: &Vmcoreinfo) -> Result<(u64, u64), String> {
    let anchor = info
        .symbol("init_uts_ns")
        .ok_or("VMCOREINFO has no SYMBOL(init_uts_ns) to find the kernel's data by")?;
    match readable_run(memory, anchor) {
        (start, end) if start < end => Ok((start, end)),
        _ => Err(format!(
            "the kernel's data at init_uts_ns ({anchor:#x}) cannot be read"
        )),
    }
}

/// Where task_struct keeps what the init_task search checks.
struct TaskOffsets {
    real_parent: u64,
    parent: u64,
    group_leader: u64,
    pid: u64,
    tgid: u64,
    comm: u64,
    tasks: u64,
}

impl TaskOffsets {
    fn from_btf(btf: &Btf) -> Result<TaskOffsets, String> {
        let task = btf
            .struct_named("task_struct")
            .ok_or("BTF has no struct task_struct")?;
        let at = |m: &str| {
            btf.member(task, m)
                .map(|m| m.offset)
                .ok_or_else(|| format!("BTF task_struct has no {m}"))
        };
        Ok(TaskOffsets {
            real_parent: at("real_parent")?,
            parent: at("parent")?,
            group_leader: at("group_leader")?,
            pid: at("pid")?,
            tgid: at("tgid")?,
            comm: at("comm")?,
            tasks: at("tasks")?,
        })
    }
}

/// Whether `task` is the boot CPU's idle task: its own parent and group
/// leader, pid and tgid 0, named `swapper…`, and its `tasks` node's
/// successor points back at it.
fn is_init_task(memory: &dyn Memory, o: &TaskOffsets, task: u64) -> bool {
    let word = |off: u64| memory.read_u64(task.checked_add(off)?).ok();
    let half = |off: u64| memory.read_u32(task.checked_add(off)?).ok();
    let mut comm = [0u8; 7];
    let named = task
        .checked_add(o.comm)
        .is_some_and(|at| memory.read_exact(at, &mut comm).is_ok() && &comm == b"swapper");
    let Some(node) = task.checked_add(o.tasks) else {
        return false;
    };
    named
        && word(o.real_parent) == Some(task)
        && word(o.parent) == Some(task)
        && word(o.group_leader) == Some(task)
        && half(o.pid) == Some(0)
        && half(o.tgid) == Some(0)
        && word(o.tasks)
            .filter(|&next| next != 0)
            .and_then(|next| memory.read_u64(next.checked_add(8)?).ok())
            == Some(node)
}

/// `init_task`, found in the kernel's data `[start, end)` by its
/// references to itself.
pub fn find_init_task(
    memory: &dyn Memory,
    btf: &Btf,
    (start, end): (u64, u64),
) -> Result<u64, String> {
    let o = TaskOffsets::from_btf(btf)?;
    scan(memory, start & !7, end, 0, |base, chunk| {
        chunk.chunks_exact(8).enumerate().find_map(|(i, w)| {
            let value = u64::from_le_bytes(w.try_into().ok()?);
            let here = base.wrapping_add(8 * i as u64);
            // A word holding its own task's address, real_parent's offset in.
            let task = here.checked_sub(o.real_parent)?;
            (value == task && is_init_task(memory, &o, task)).then_some(task)
        })
    })
    .ok_or_else(|| {
        format!("no task in the kernel's data ({start:#x}..{end:#x}) is init_task (its own parent, pid 0, swapper)")
    })
}

/// Where struct module keeps what the modules search checks.
struct ModuleOffsets {
    list: u64,
    name: u64,
    name_len: usize,
    state: u64,
    /// (base, size) member offsets of each of the module's memory areas:
    /// `core_layout` (to 6.3) or every `mem[i]` (6.4+).
    areas: Vec<(u64, u64)>,
}

impl ModuleOffsets {
    fn from_btf(btf: &Btf) -> Result<ModuleOffsets, String> {
        let module = btf
            .struct_named("module")
            .ok_or("BTF has no struct module")?;
        let at = |m: &str| btf.member(module, m);
        let need = |m: &str| {
            at(m)
                .map(|m| m.offset)
                .ok_or_else(|| format!("BTF struct module has no {m}"))
        };
        let name = at("name").ok_or("BTF struct module has no name")?;
        let areas = match (at("core_layout.base"), at("core_layout.size")) {
            (Some(base), Some(size)) => vec![(base.offset, size.offset)],
            _ => {
                let mem = at("mem").ok_or("BTF struct module has neither core_layout nor mem")?;
                let (element, count) = btf.array(mem.type_id).ok_or("module.mem is no array")?;
                let stride = btf.size_of(element).ok_or("module_memory has no size")?;
                let base = btf.member(element, "base").ok_or("module_memory.base")?;
                let size = btf.member(element, "size").ok_or("module_memory.size")?;
                (0..u64::from(count.min(16)))
                    .map(|i| {
                        let at = mem.offset.saturating_add(i.saturating_mul(stride));
                        (
                            at.saturating_add(base.offset),
                            at.saturating_add(size.offset),
                        )
                    })
                    .collect()
            }
        };
        Ok(ModuleOffsets {
            list: need("list")?,
            name: name.offset,
            name_len: btf
                .array(name.type_id)
                .map_or(56, |(_, n)| n as usize)
                .min(256),
            state: need("state")?,
            areas,
        })
    }
}

/// Whether `module` looks like a loaded struct module: inside one of its
/// own memory areas, in a known state, with a printable name.
fn is_module(memory: &dyn Memory, o: &ModuleOffsets, module: u64) -> bool {
    let word = |off: u64| memory.read_u64(module.checked_add(off)?).ok();
    let half = |off: u64| memory.read_u32(module.checked_add(off)?).ok();
    let inside = o.areas.iter().any(|&(base, size)| {
        let (Some(base), Some(size)) = (word(base), half(size)) else {
            return false;
        };
        size < (1 << 30) && (base..base.saturating_add(u64::from(size))).contains(&module)
    });
    if !inside || half(o.state).is_none_or(|s| s > 3) {
        return false;
    }
    let mut name = vec![0u8; o.name_len];
    let Some(at) = module.checked_add(o.name) else {
        return false;
    };
    if memory.read_exact(at, &mut name).is_err() {
        return false;
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(0);
    len > 0
        && name[..len]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether the list at `head` is a ring of modules that comes back to it.
fn is_module_ring(memory: &dyn Memory, o: &ModuleOffsets, head: u64) -> bool {
    let mut node = head;
    for _ in 0..=MAX_MODULES {
        let Ok(next) = memory.read_u64(node) else {
            return false;
        };
        if next == head {
            return node != head;
        }
        let Some(module) = next.checked_sub(o.list) else {
            return false;
        };
        if memory.read_u64(next.wrapping_add(8)) != Ok(node) || !is_module(memory, o, module) {
            return false;
        }
        node = next;
    }
    false
}

/// The `modules` list head, found in the kernel's data `[start, end)` as
/// the one list whose entries are all loaded modules. None when the
/// kernel's data holds none: no module was loaded (or the list is
/// damaged), which this search cannot tell apart.
pub fn find_modules_head(
    memory: &dyn Memory,
    btf: &Btf,
    (start, end): (u64, u64),
) -> Result<Option<u64>, String> {
    let o = ModuleOffsets::from_btf(btf)?;
    Ok(scan(memory, start & !7, end, 8, |base, chunk| {
        (0..chunk.len().saturating_sub(15))
            .step_by(8)
            .find_map(|i| {
                let head = base.wrapping_add(i as u64);
                let next = u64::from_le_bytes(chunk[i..i + 8].try_into().ok()?);
                // Modules live outside the kernel's data, in kernel space.
                if next == head || next >> 63 == 0 || (start..end).contains(&next) {
                    return None;
                }
                let module = next.checked_sub(o.list)?;
                (is_module(memory, &o, module) && is_module_ring(memory, &o, head)).then_some(head)
            })
    }))
}

/// Where the run-queue search reads.
struct RunQueueOffsets {
    /// `runqueues` in `.data..percpu`.
    runqueues: u64,
    task_cfs_rq: u64,
    cfs_rq_rq: u64,
    rq_cpu: u64,
}

impl RunQueueOffsets {
    fn from_btf(btf: &Btf) -> Result<RunQueueOffsets, String> {
        let (runqueues, _) = btf
            .section_variable(".data..percpu", "runqueues")
            .ok_or("BTF has no per-CPU variable runqueues")?;
        let member = |s: &str, m: &str| {
            btf.struct_named(s)
                .and_then(|id| btf.member(id, m))
                .map(|m| m.offset)
                .ok_or_else(|| format!("BTF {s} has no {m} (a kernel without FAIR_GROUP_SCHED?)"))
        };
        Ok(RunQueueOffsets {
            runqueues,
            task_cfs_rq: member("task_struct", "se.cfs_rq")?,
            cfs_rq_rq: member("cfs_rq", "rq")?,
            rq_cpu: member("rq", "cpu")?,
        })
    }
}

/// Each CPU's per-CPU area (the address its per-CPU variables are offsets
/// from: `__per_cpu_start + __per_cpu_offset[cpu]`), by CPU index; None
/// where no task of that CPU leads to its run queue.
pub fn per_cpu_areas(
    memory: &dyn Memory,
    btf: &Btf,
    tasks: &[KernelTask],
    cpus: u32,
) -> Result<Vec<Option<u64>>, String> {
    let o = RunQueueOffsets::from_btf(btf)?;
    Ok((0..cpus.min(MAX_CPUS))
        .map(|cpu| {
            tasks
                .iter()
                .filter(|t| t.cpu == Some(cpu))
                .take(MAX_TASKS_PER_CPU)
                .find_map(|t| {
                    let cfs_rq = memory
                        .read_u64(t.address.checked_add(o.task_cfs_rq)?)
                        .ok()?;
                    let rq = memory.read_u64(cfs_rq.checked_add(o.cfs_rq_rq)?).ok()?;
                    (memory.read_u32(rq.checked_add(o.rq_cpu)?).ok()? == cpu)
                        .then(|| rq.wrapping_sub(o.runqueues))
                })
        })
        .collect())
}

/// Each CPU's running task (`runqueues.curr`), by CPU index, from its
/// per-CPU area.
pub fn current_tasks(memory: &dyn Memory, btf: &Btf, areas: &[Option<u64>]) -> Vec<Option<u64>> {
    let curr = btf
        .section_variable(".data..percpu", "runqueues")
        .zip(btf.struct_named("rq").and_then(|rq| btf.member(rq, "curr")));
    areas
        .iter()
        .map(|area| {
            let ((runqueues, _), curr) = curr?;
            let at = area
                .as_ref()?
                .checked_add(runqueues)?
                .checked_add(curr.offset)?;
            memory.read_u64(at).ok().filter(|&t| t != 0)
        })
        .collect()
}

/// The kernel data an analysis needs that kallsyms does not name, found
/// in memory. Each field is None where kallsyms names the object (read it
/// the usual way), else the address found or why it was not.
#[derive(Debug, Default)]
pub struct FoundData {
    pub init_task: Option<Result<u64, String>>,
    /// The `modules` list head; `Ok(None)`: no module list in the data.
    pub modules: Option<Result<Option<u64>, String>>,
    /// Each CPU's per-CPU area, by CPU index (no `__per_cpu_offset`).
    pub per_cpu_areas: Option<Result<Vec<Option<u64>>, String>>,
}

impl FoundData {
    /// Searches for what `symbols` lacks of `init_task`, `modules` and
    /// `__per_cpu_offset` (the per-CPU areas of `cpus` CPUs, found through
    /// the task list).
    pub fn find(
        memory: &dyn Memory,
        symbols: &KernelSymbols,
        info: &Vmcoreinfo,
        btf: &Btf,
        cpus: u32,
    ) -> FoundData {
        let named = |name: &str| symbols.address_of(name).is_some();
        if named("init_task") && named("modules") && named("__per_cpu_offset") {
            return FoundData::default();
        }
        let data = kernel_data(memory, info);
        let init_task = (!named("init_task")).then(|| {
            data.clone()
                .and_then(|run| find_init_task(memory, btf, run))
        });
        let modules = (!named("modules")).then(|| {
            data.clone()
                .and_then(|run| find_modules_head(memory, btf, run))
        });
        let per_cpu_areas = (!named("__per_cpu_offset")).then(|| {
            let init_task = match &init_task {
                Some(found) => found.clone()?,
                None => symbols.address_of("init_task").ok_or("no init_task")?,
            };
            let layout = TaskLayout::from_btf(btf)?;
            let list = read_tasks_from(memory, init_task, &layout);
            per_cpu_areas(memory, btf, &list.tasks, cpus)
        });
        FoundData {
            init_task,
            modules,
            per_cpu_areas,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryError;

    /// Bytes at an address; everything else unreadable.
    struct Blob(u64, Vec<u8>);

    impl Memory for Blob {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            let off = address
                .checked_sub(self.0)
                .filter(|&o| o < self.1.len() as u64)
                .ok_or(MemoryError::Unmapped { address })? as usize;
            let n = buf.len().min(self.1.len() - off);
            buf[..n].copy_from_slice(&self.1[off..off + n]);
            Ok(n)
        }
    }

    fn header(type_len: u32, string_off: u32, string_len: u32) -> Vec<u8> {
        let mut h = vec![0x9f, 0xeb, 1, 0];
        for w in [24u32, 0, type_len, string_off, string_len] {
            h.extend_from_slice(&w.to_le_bytes());
        }
        h
    }

    #[test]
    fn btf_headers_the_kernel_writes_and_others() {
        assert_eq!(btf_header(&header(100, 100, 20)), Some(144));
        assert_eq!(btf_header(&header(100, 96, 20)), None);
        assert_eq!(btf_header(&header(0, 0, 20)), None);
        assert_eq!(btf_header(&header(u32::MAX, u32::MAX, 20)), None);
        assert_eq!(btf_header(&header(100, 100, 20)[..20]), None);
        let mut big_endian = header(100, 100, 20);
        big_endian[..2].copy_from_slice(&[0xeb, 0x9f]);
        assert_eq!(btf_header(&big_endian), None);
    }

    #[test]
    fn scans_skip_unreadable_pages_and_see_across_chunk_edges() {
        // Two readable runs with a hole between them; a marker straddling
        // the first chunk's end.
        let mut bytes = vec![0u8; CHUNK + 16];
        bytes[CHUNK - 3..CHUNK + 1].copy_from_slice(b"MARK");
        let memory = Blob(0x10_0000, bytes);
        let found = scan(&memory, 0x10_0000, 0x20_0000, 8, |base, chunk| {
            chunk
                .windows(4)
                .position(|w| w == b"MARK")
                .map(|i| base + i as u64)
        });
        assert_eq!(found, Some(0x10_0000 + CHUNK as u64 - 3));
        // Nothing readable: the scan ends after stepping over every page.
        assert_eq!(scan(&memory, 0, 0x8_0000, 0, |_, _| Some(())), None);
    }

    #[test]
    fn the_readable_run_stops_at_unreadable_pages() {
        let memory = Blob(0x4000, vec![1u8; 0x3000]);
        assert_eq!(readable_run(&memory, 0x5123), (0x4000, 0x7000));
        assert_eq!(readable_run(&memory, 0x9000), (0x9000, 0x9000));
    }
}
