//! The kernel's tasks, read from its memory: `init_task.tasks` links every
//! thread-group leader, each leader's `signal->thread_head` links its
//! threads (`thread_node`), and struct layouts come from the kernel's BTF.
//! Every list walk is bounded and stops at the first loop or unreadable
//! link, saying so.

use std::collections::HashSet;

use crate::memory::Memory;
use crate::model::{Arch, KernelTask, RegisterSet};

use super::btf::Btf;
use super::kallsyms::KernelSymbols;
use super::percpu;

/// More tasks than a kernel has PIDs for (PID_MAX_LIMIT is 4M; real dumps
/// have thousands): bounds a corrupt list.
const MAX_TASKS: usize = 1 << 22;
/// Threads of one process before the walk is called corrupt.
const MAX_THREADS: usize = 1 << 20;

/// task_struct's `flags` bit for kernel threads.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Where task_struct keeps what is read here (bytes), from BTF.
#[derive(Debug, Clone)]
pub struct TaskLayout {
    tasks: u64,
    pid: u64,
    tgid: u64,
    comm: u64,
    comm_len: u64,
    /// `__state` (5.14+) or `state` (older; a long, low 32 bits read).
    state: u64,
    exit_state: u64,
    real_parent: u64,
    flags: u64,
    mm: u64,
    on_cpu: Option<u64>,
    /// `cpu` (5.16+) or `thread_info.cpu`.
    cpu: Option<u64>,
    stack: u64,
    thread_sp: u64,
    signal: u64,
    thread_node: Option<u64>,
    signal_thread_head: Option<u64>,
    /// `struct inactive_task_frame` (x86_64): where `__switch_to_asm`
    /// saved the callee-saved registers and the return address.
    switch_frame: Option<SwitchFrame>,
    /// `thread.cpu_context` (aarch64): where `cpu_switch_to` saved x19–x28,
    /// fp, sp and the return address (pc).
    cpu_context: Option<u64>,
}

#[derive(Debug, Clone)]
struct SwitchFrame {
    size: u64,
    /// (DWARF register number, offset) of each saved register.
    registers: Vec<(u16, u64)>,
    ret_addr: u64,
}

impl TaskLayout {
    /// The layout from BTF; errors name the first missing member.
    pub fn from_btf(btf: &Btf) -> Result<TaskLayout, String> {
        let task = btf
            .struct_named("task_struct")
            .ok_or("BTF has no struct task_struct")?;
        let at = |path: &str| btf.member(task, path).map(|m| m.offset);
        let need = |path: &str| at(path).ok_or_else(|| format!("BTF task_struct has no {path}"));
        let comm = btf
            .member(task, "comm")
            .ok_or("BTF task_struct has no comm")?;
        let signal_struct = btf.struct_named("signal_struct");
        let switch_frame = btf.struct_named("inactive_task_frame").and_then(|frame| {
            let off = |m: &str| btf.member(frame, m).map(|m| m.offset);
            // DWARF numbers: rbx 3, rbp 6, r12–r15 12–15.
            let registers = [
                ("bx", 3),
                ("bp", 6),
                ("r12", 12),
                ("r13", 13),
                ("r14", 14),
                ("r15", 15),
            ]
            .iter()
            .filter_map(|&(name, number)| Some((number, off(name)?)))
            .collect();
            Some(SwitchFrame {
                size: btf.size_of(frame)?,
                registers,
                ret_addr: off("ret_addr")?,
            })
        });
        Ok(TaskLayout {
            tasks: need("tasks")?,
            pid: need("pid")?,
            tgid: need("tgid")?,
            comm: comm.offset,
            comm_len: btf
                .array(comm.type_id)
                .map_or(16, |(_, n)| u64::from(n))
                .min(64),
            state: at("__state")
                .or_else(|| at("state"))
                .ok_or("BTF task_struct has no __state")?,
            exit_state: need("exit_state")?,
            real_parent: need("real_parent")?,
            flags: need("flags")?,
            mm: need("mm")?,
            on_cpu: at("on_cpu"),
            cpu: at("cpu").or_else(|| at("thread_info.cpu")),
            stack: need("stack")?,
            // aarch64 keeps the switched-out sp in thread.cpu_context.
            thread_sp: at("thread.sp")
                .or_else(|| at("thread.cpu_context.sp"))
                .ok_or("BTF task_struct has no thread.sp")?,
            signal: need("signal")?,
            thread_node: at("thread_node"),
            signal_thread_head: signal_struct
                .and_then(|s| btf.member(s, "thread_head"))
                .map(|m| m.offset),
            switch_frame,
            cpu_context: at("thread.cpu_context"),
        })
    }
}

/// The task list and what stopped its walk early, if anything.
#[derive(Debug, Clone, Default)]
pub struct TaskList {
    pub tasks: Vec<KernelTask>,
    /// Why the list may be incomplete (a loop, an unreadable link).
    pub problems: Vec<String>,
}

/// Every task reachable from `init_task`: leaders in list order, each
/// followed by its other threads. `current` is each CPU's running task
/// (from the per-CPU `current_task`), to mark which task ran where.
pub fn read_tasks(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    layout: &TaskLayout,
) -> Result<TaskList, String> {
    let init_task = symbols
        .address_of("init_task")
        .ok_or("kallsyms has no init_task")?;
    Ok(read_tasks_from(memory, init_task, layout))
}

/// Every task reachable from the task at `init_task` (see [`read_tasks`]),
/// for a kernel whose kallsyms does not name it.
pub fn read_tasks_from(memory: &dyn Memory, init_task: u64, layout: &TaskLayout) -> TaskList {
    let mut list = TaskList::default();
    let mut seen = HashSet::new();
    let leaders = walk_list(
        memory,
        init_task + layout.tasks,
        layout.tasks,
        MAX_TASKS,
        &mut list.problems,
        "task list",
    );
    // init_task itself (the boot CPU's idle task, pid 0) heads the list.
    for leader in std::iter::once(init_task).chain(leaders) {
        if !seen.insert(leader) {
            continue;
        }
        let Some(task) = read_task(memory, layout, leader) else {
            list.problems
                .push(format!("task at {leader:#x} cannot be read"));
            continue;
        };
        list.tasks.push(task);
        for thread in threads_of(memory, layout, leader, &mut list.problems) {
            if seen.insert(thread)
                && let Some(t) = read_task(memory, layout, thread)
            {
                list.tasks.push(t);
            }
            if list.tasks.len() >= MAX_TASKS {
                list.problems.push(format!(
                    "more than {MAX_TASKS} tasks; the rest are not listed"
                ));
                return list;
            }
        }
    }
    list
}

/// The tasks each CPU was running (`current_task` per CPU, x86_64; a
/// member of `pcpu_hot` in 6.2–6.14, found through `btf`), by CPU index;
/// None where it cannot be read.
pub fn current_tasks(
    memory: &dyn Memory,
    symbols: &KernelSymbols,
    btf: Option<&Btf>,
    cpus: u32,
) -> Vec<Option<u64>> {
    let Some(variable) = percpu::hot_offset(symbols, btf, percpu::CURRENT_TASK) else {
        return vec![None; cpus.min(percpu::MAX_CPUS) as usize];
    };
    (0..cpus.min(percpu::MAX_CPUS))
        .map(|cpu| {
            let base = percpu::cpu_base(memory, symbols, cpu)?;
            memory
                .read_u64(base.wrapping_add(variable))
                .ok()
                .filter(|&t| t != 0)
        })
        .collect()
}

/// The registers `__switch_to_asm` saved for a task that is not running:
/// its stack pointer past the inactive_task_frame, the return address into
/// `__schedule` as pc, and the callee-saved registers.
pub fn switch_registers(
    memory: &dyn Memory,
    layout: &TaskLayout,
    task: &KernelTask,
) -> Option<RegisterSet> {
    if let Some(context) = layout.cpu_context {
        return aarch64_switch_registers(memory, task.address.checked_add(context)?);
    }
    let frame = layout.switch_frame.as_ref()?;
    let sp = task.saved_sp;
    let mut registers = RegisterSet::new(Arch::X86_64);
    for &(number, offset) in &frame.registers {
        registers.set(number, memory.read_u64(sp.checked_add(offset)?).ok()?);
    }
    registers.set(16, memory.read_u64(sp.checked_add(frame.ret_addr)?).ok()?);
    registers.set(7, sp.checked_add(frame.size)?);
    Some(registers)
}

/// aarch64: `struct cpu_context` at `context` holds x19–x28, fp, sp and pc
/// (the return address into `__switch_to`), 8 bytes each in that order.
fn aarch64_switch_registers(memory: &dyn Memory, context: u64) -> Option<RegisterSet> {
    let mut words = [0u8; 13 * 8];
    memory.read_exact(context, &mut words).ok()?;
    let word =
        |i: usize| u64::from_le_bytes(words[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let mut registers = RegisterSet::new(Arch::Aarch64);
    // DWARF numbers: x19–x28 are 19–28, fp 29, sp 31, pc 32.
    for (i, number) in (19..=29).enumerate() {
        registers.set(number, word(i));
    }
    registers.set(31, word(11));
    registers.set(32, word(12));
    Some(registers)
}

/// Follows a `list_head` ring from `head` (its `next` at offset 0), giving
/// each entry's container (node − `member`). Stops at the head, a loop, an
/// unreadable or null link, or `max` entries, recording why when early.
fn walk_list(
    memory: &dyn Memory,
    head: u64,
    member: u64,
    max: usize,
    problems: &mut Vec<String>,
    what: &str,
) -> Vec<u64> {
    let mut entries = Vec::new();
    let mut visited = HashSet::new();
    let mut node = head;
    loop {
        let next = match memory.read_u64(node) {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!("{what}: link at {node:#x} cannot be read ({e})"));
                break;
            }
        };
        if next == head {
            break;
        }
        if next == 0 || !visited.insert(next) {
            problems.push(format!(
                "{what}: the list loops or breaks at {node:#x} (next {next:#x})"
            ));
            break;
        }
        if entries.len() >= max {
            problems.push(format!(
                "{what}: more than {max} entries; the rest are not listed"
            ));
            break;
        }
        entries.push(next.wrapping_sub(member));
        node = next;
    }
    entries
}

/// A leader's other threads, from `signal->thread_head`.
fn threads_of(
    memory: &dyn Memory,
    layout: &TaskLayout,
    leader: u64,
    problems: &mut Vec<String>,
) -> Vec<u64> {
    let (Some(node), Some(head_off)) = (layout.thread_node, layout.signal_thread_head) else {
        return Vec::new();
    };
    let Ok(signal) = memory.read_u64(leader + layout.signal) else {
        return Vec::new();
    };
    if signal == 0 {
        return Vec::new();
    }
    walk_list(
        memory,
        signal + head_off,
        node,
        MAX_THREADS,
        problems,
        "thread list",
    )
}

pub fn read_task(memory: &dyn Memory, layout: &TaskLayout, task: u64) -> Option<KernelTask> {
    let u32_at = |off: u64| memory.read_u32(task.checked_add(off)?).ok();
    let u64_at = |off: u64| memory.read_u64(task.checked_add(off)?).ok();
    let mut comm = vec![0u8; layout.comm_len as usize];
    memory
        .read_exact(task.checked_add(layout.comm)?, &mut comm)
        .ok()?;
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    let parent = u64_at(layout.real_parent)?;
    let state = u32_at(layout.state)?;
    let exit_state = u32_at(layout.exit_state).unwrap_or(0);
    let flags = u32_at(layout.flags).unwrap_or(0);
    let mm = u64_at(layout.mm).unwrap_or(0);
    Some(KernelTask {
        address: task,
        pid: u32_at(layout.pid)? as i32,
        tgid: u32_at(layout.tgid)? as i32,
        ppid: if parent == 0 {
            0
        } else {
            memory
                .read_u32(parent.checked_add(layout.pid)?)
                .map_or(-1, |p| p as i32)
        },
        comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        state: state_letter(state, exit_state),
        state_bits: state,
        kernel_thread: flags & PF_KTHREAD != 0 || mm == 0,
        cpu: layout.cpu.and_then(u32_at),
        on_cpu: layout.on_cpu.and_then(u32_at).is_some_and(|v| v != 0),
        stack: u64_at(layout.stack).unwrap_or(0),
        saved_sp: u64_at(layout.thread_sp).unwrap_or(0),
        mm,
    })
}

/// ps's one-letter state, decided as the kernel's task_state_index does:
/// the highest reported bit of `__state | exit_state`, with TASK_IDLE
/// (uninterruptible + noload) shown as I.
pub fn state_letter(state: u32, exit_state: u32) -> char {
    const TASK_REPORT: u32 = 0x7f;
    const TASK_IDLE: u32 = 0x402;
    if state == TASK_IDLE {
        return 'I';
    }
    let bits = (state | exit_state) & TASK_REPORT;
    let index = 32 - bits.leading_zeros();
    ['R', 'S', 'D', 'T', 't', 'X', 'Z', 'P'][index as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryError;
    use std::collections::HashMap;

    /// Words at addresses; everything else unreadable.
    struct Words(HashMap<u64, u64>);

    impl Memory for Words {
        fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
            let word = self
                .0
                .get(&address)
                .ok_or(MemoryError::Unmapped { address })?;
            let n = buf.len().min(8);
            buf[..n].copy_from_slice(&word.to_le_bytes()[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_list_that_loops_back_past_its_head_stops_with_a_problem() {
        // head 0x100 -> 0x200 -> 0x300 -> 0x200 (never back to the head).
        let memory = Words(HashMap::from([
            (0x100, 0x200),
            (0x200, 0x300),
            (0x300, 0x200),
        ]));
        let mut problems = Vec::new();
        let entries = walk_list(&memory, 0x100, 0x10, 100, &mut problems, "task list");
        assert_eq!(entries, [0x1f0, 0x2f0]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("loops or breaks at 0x300"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_broken_or_endless_list_is_cut_and_said() {
        let memory = Words(HashMap::from([(0x100, 0x200)]));
        let mut problems = Vec::new();
        assert_eq!(
            walk_list(&memory, 0x100, 0, 100, &mut problems, "l"),
            [0x200]
        );
        assert!(problems[0].contains("cannot be read"), "{problems:?}");
        // A ring longer than the bound.
        let ring: HashMap<u64, u64> = (0..50u64).map(|i| (i * 16, (i + 1) % 50 * 16)).collect();
        let mut problems = Vec::new();
        assert_eq!(
            walk_list(&Words(ring), 0, 0, 10, &mut problems, "l").len(),
            10
        );
        assert!(problems[0].contains("more than 10"), "{problems:?}");
    }

    #[test]
    fn states_read_as_ps_shows_them() {
        assert_eq!(state_letter(0, 0), 'R');
        assert_eq!(state_letter(1, 0), 'S');
        assert_eq!(state_letter(2, 0), 'D');
        assert_eq!(state_letter(0x402, 0), 'I');
        assert_eq!(state_letter(0, 0x20), 'Z');
        assert_eq!(state_letter(0x8, 0), 't');
    }
}
