//! A user process inside an arm64 kernel dump (`inspect --process PID`),
//! checked against drgn on the same dump: `testdata/kernel/dumps/
//! arm64-sysrq.kdump` is Debian's 6.1 cloud-arm64 kernel under QEMU, taken
//! at dump level 31 (user pages excluded; page tables, the pt_regs on the
//! kernel stacks and the maple-tree VMA nodes are kernel memory and kept).
//! drgn's `reference/drgn-user-arm64.py`, run with the -dbg package's
//! vmlinux, printed every task with an mm, each ckdump-threads thread's
//! pt_regs (task stack + THREAD_SIZE − sizeof(struct pt_regs)), what
//! reading its user sp through mm->pgd says, every VMA, the special
//! mappings and the vDSO's build-id: `reference/arm64-sysrq/drgn-user.txt`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::kernel::user_process::{KernelProcesses, UserLayout, UserPaging, UserProcess};
use ckdump::memory::{Absence, MemoryError};
use ckdump::report::{InspectReport, ProcessReport, ThreadReport};
use ckdump::symbols::SymbolConfig;

fn kernel_dir() -> PathBuf {
    common::root().join("testdata/kernel")
}

fn dump() -> PathBuf {
    kernel_dir().join("dumps/arm64-sysrq.kdump")
}

fn report(pid: i64) -> InspectReport {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    let options = InspectOptions {
        process: Some(pid),
        regions: true,
        symbols: SymbolConfig {
            use_host: false,
            ..SymbolConfig::from_dirs(Vec::new(), None)
        },
        ..InspectOptions::default()
    };
    inspect(&image, &options)
}

fn the_process(r: &InspectReport) -> &ProcessReport {
    assert_eq!(r.other_processes.len(), 1, "{:?}", r.findings);
    &r.other_processes[0]
}

fn register(t: &ThreadReport, name: &str) -> u64 {
    t.registers
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("thread {} has no {name}", t.tid))
        .value
        .0
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// One thread as drgn-user.txt prints it: its pt_regs by drgn's names
/// (pc sp pstate x0…x30) and what reading at its sp said.
struct DrgnThread {
    comm: String,
    registers: BTreeMap<String, u64>,
    stack: String,
}

/// What drgn-user.txt says.
struct Drgn {
    /// (pid, tgid, comm, mm) of every task with an mm.
    user_tasks: Vec<(i64, i64, String, u64)>,
    tgid: i64,
    mm: u64,
    pgd: u64,
    threads: BTreeMap<u64, DrgnThread>,
    /// (start, end, vm_flags, vm_pgoff, file).
    vmas: Vec<(u64, u64, u64, u64, Option<String>)>,
    /// (start, end, name).
    special: Vec<(u64, u64, String)>,
    vdso_build_id: String,
}

fn drgn() -> Drgn {
    let text =
        std::fs::read_to_string(kernel_dir().join("reference/arm64-sysrq/drgn-user.txt")).unwrap();
    let mut d = Drgn {
        user_tasks: Vec::new(),
        tgid: 0,
        mm: 0,
        pgd: 0,
        threads: BTreeMap::new(),
        vmas: Vec::new(),
        special: Vec::new(),
        vdso_build_id: String::new(),
    };
    let mut section = "";
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(title) = line.strip_prefix("--- ") {
            section = title.split(':').next().unwrap();
        } else if line.is_empty() {
            section = "";
        } else if let Some(id) = line.strip_prefix("vdso build-id: ") {
            d.vdso_build_id = id.to_string();
        } else if line.starts_with("process: ") {
            d.tgid = words[2].parse().unwrap();
            d.mm = hex(words[6]);
            d.pgd = hex(words[8]);
        } else if section == "user tasks" {
            d.user_tasks.push((
                words[0].parse().unwrap(),
                words[1].parse().unwrap(),
                words[2].to_string(),
                hex(words[3]),
            ));
        } else if section == "threads" && line.starts_with("thread ") {
            let mut registers = BTreeMap::new();
            for _ in 0..2 {
                for kv in lines.next().unwrap().split_whitespace() {
                    let (k, v) = kv.split_once('=').unwrap();
                    registers.insert(k.to_string(), hex(v));
                }
            }
            let stack = lines.next().unwrap().trim().to_string();
            d.threads.insert(
                words[1].parse().unwrap(),
                DrgnThread {
                    comm: words[2].to_string(),
                    registers,
                    stack,
                },
            );
        } else if section == "vmas" {
            d.vmas.push((
                hex(words[0]),
                hex(words[1]),
                hex(words[2]),
                hex(words[3]),
                (words[4] != "-").then(|| words[4].to_string()),
            ));
        } else if section == "special mappings" {
            d.special
                .push((hex(words[0]), hex(words[1]), words[2].to_string()));
        }
    }
    d
}

/// drgn's pt_regs names and ckdump's aarch64 register names.
fn register_names() -> Vec<(String, &'static str)> {
    let mut names: Vec<(String, &'static str)> = [
        ("pc", "pc"),
        ("sp", "sp"),
        ("pstate", "pstate"),
        ("x29", "fp"),
        ("x30", "lr"),
    ]
    .iter()
    .map(|&(d, c)| (d.to_string(), c))
    .collect();
    const X: [&str; 29] = [
        "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
        "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",
        "x27", "x28",
    ];
    names.extend(X.iter().map(|&x| (x.to_string(), x)));
    names
}

#[test]
fn every_threads_user_registers_equal_drgns_pt_regs() {
    let r = report(104);
    let p = the_process(&r);
    let d = drgn();
    assert_eq!(d.threads.len(), 4);
    let tids: Vec<u64> = p.threads.iter().map(|t| t.tid).collect();
    assert_eq!(tids, d.threads.keys().copied().collect::<Vec<_>>());
    assert_eq!(tids, [102, 104, 105, 106]);
    for t in &p.threads {
        let expected = &d.threads[&t.tid];
        assert_eq!(t.name.as_deref(), Some(expected.comm.as_str()));
        for (drgn_name, name) in register_names() {
            assert_eq!(
                register(t, name),
                expected.registers[&drgn_name],
                "thread {} {name}",
                t.tid
            );
        }
        // EL0t: the registers were saved from user mode.
        assert_eq!(register(t, "pstate") & 0xf, 0);
        // The saved state is frame 0; the link register, which carries
        // no pointer authentication code here, the caller.
        assert_eq!(t.frames[0].pc.0, expected.registers["pc"]);
        assert_eq!(t.frames[0].sp.map(|s| s.0), Some(expected.registers["sp"]));
        assert_eq!(t.frames[1].pc.0, expected.registers["x30"]);
    }
    assert_eq!(
        (p.pid, p.ppid, p.thread_count),
        (Some(d.tgid as u64), Some(1), 4)
    );
    assert_eq!(p.name.as_deref(), Some("ckdump-threads"));
    assert_eq!(p.executable.as_deref(), Some("/bin/ckdump-threads"));
    let annotation = |key: &str| hex(&p.annotations.iter().find(|a| a.key == key).unwrap().value);
    assert_eq!((annotation("mm"), annotation("pgd")), (d.mm, d.pgd));
    // The linear map: pgd − PAGE_OFFSET (−2^48) + PHYS_OFFSET (0x40000000).
    assert_eq!(annotation("pgd_physical"), 0x48c2_b000);
    assert_eq!(d.pgd - 0xffff_0000_0000_0000 + 0x4000_0000, 0x48c2_b000);
}

#[test]
fn regions_are_the_vmas_drgn_lists_with_the_special_mappings_named() {
    let r = report(102);
    let p = the_process(&r);
    let d = drgn();
    let regions = p.regions.as_ref().unwrap();
    assert_eq!(regions.len(), 14);
    assert_eq!(regions.len(), d.vmas.len());
    for (region, (start, end, flags, pgoff, file)) in regions.iter().zip(&d.vmas) {
        assert_eq!((region.start.0, region.end.0), (*start, *end));
        let rwx = format!(
            "{}{}{}",
            if flags & 1 != 0 { 'r' } else { '-' },
            if flags & 2 != 0 { 'w' } else { '-' },
            if flags & 4 != 0 { 'x' } else { '-' }
        );
        assert_eq!(region.protection, rwx, "{start:#x}");
        assert_eq!(region.sharing, "private", "{start:#x}");
        assert_eq!(&region.file, file, "{start:#x}");
        if file.is_some() {
            assert_eq!(region.file_offset.map(|o| o.0), Some(pgoff * 4096));
        }
    }
    let label = |start: u64| {
        regions
            .iter()
            .find(|r| r.start.0 == start)
            .and_then(|r| r.linux.as_ref()?.label.clone())
    };
    // This kernel's kallsyms has no data symbols: the special mappings are
    // known by their ops' name method, and named as drgn names them.
    assert_eq!(d.special.len(), 2);
    for (start, _, name) in &d.special {
        assert_eq!(label(*start).as_deref(), Some(name.as_str()));
    }
    assert_eq!(label(0x39bc_5000).as_deref(), Some("[heap]"));
    assert_eq!(label(0xffff_e476_0000).as_deref(), Some("[stack]"));
    // Level 31: only the vDSO (kernel memory) is in the dump.
    for region in regions {
        let expected = if region.start.0 == 0xffff_8ab8_2000 {
            ("full", 0x1000)
        } else {
            ("absent", 0)
        };
        assert_eq!(
            (region.capture.as_str(), region.captured_bytes),
            expected,
            "{:#x}",
            region.start.0
        );
    }
    // The program (main, from its mappings) and the vDSO, whose build-id
    // is read from its header in the dump.
    let modules: Vec<(&str, u64, u64, bool)> = p
        .modules
        .iter()
        .map(|m| (m.path.as_str(), m.base.0, m.end.0, m.main))
        .collect();
    assert_eq!(
        modules,
        [
            ("/bin/ckdump-threads", 0x40_0000, 0x4a_3000, true),
            ("[vdso]", 0xffff_8ab8_2000, 0xffff_8ab8_3000, false)
        ]
    );
    assert_eq!(
        p.modules[1].build_id.as_deref(),
        Some(d.vdso_build_id.as_str())
    );
    assert_eq!(d.vdso_build_id.len(), 40);
}

/// The kernel facts a process view is built from, as the analysis finds
/// them in this dump (no data symbols: BTF and init_task are searched for).
struct Kernel {
    image: ckdump::Image,
    symbols: ckdump::kernel::kallsyms::KernelSymbols,
    btf: ckdump::kernel::btf::Btf,
    tasks: Vec<ckdump::model::KernelTask>,
}

impl Kernel {
    fn open() -> Kernel {
        use ckdump::kernel::{data_search, kallsyms, tasks};
        let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
        let memory = &*image.process.memory;
        let info = image
            .details
            .kernel
            .as_ref()
            .unwrap()
            .vmcoreinfo
            .as_ref()
            .unwrap();
        let symbols = kallsyms::KernelSymbols::from_memory(memory, info).unwrap();
        let btf = data_search::find_btf(memory, info).unwrap().btf;
        let found = data_search::FoundData::find(memory, &symbols, info, &btf, 2);
        let init_task = found.init_task.unwrap().unwrap();
        let layout = tasks::TaskLayout::from_btf(&btf).unwrap();
        let tasks = tasks::read_tasks_from(memory, init_task, &layout).tasks;
        Kernel {
            image,
            symbols,
            btf,
            tasks,
        }
    }

    fn process(&self, pid: i64) -> Result<UserProcess, String> {
        let info = self
            .image
            .details
            .kernel
            .as_ref()
            .unwrap()
            .vmcoreinfo
            .as_ref()
            .unwrap();
        let layout = UserLayout::from_btf(&self.btf, ckdump::model::Arch::Aarch64).unwrap();
        KernelProcesses {
            kernel: Arc::clone(&self.image.process.memory),
            symbols: Some(&self.symbols),
            layout: &layout,
            paging: UserPaging::Aarch64 {
                paging: ckdump::kernel::aarch64_paging(info).unwrap(),
                phys_offset: 0x4000_0000,
            },
        }
        .process(&self.tasks, pid)
    }
}

#[test]
fn a_user_stack_read_says_the_dump_level_excluded_its_page() {
    let k = Kernel::open();
    let d = drgn();
    let user = k.process(102).unwrap();
    assert_eq!((user.tgid, user.mm, user.pgd), (102, d.mm, d.pgd));
    assert!(user.problems.is_empty(), "{:?}", user.problems);
    let memory = &*user.view.memory;
    for t in &user.view.threads {
        let expected = &d.threads[&t.tid];
        let sp = expected.registers["sp"];
        // drgn: "could not read memory from kdump: Excluded page: PHYS".
        let physical = hex(expected.stack.rsplit(' ').next().unwrap());
        assert!(
            expected.stack.contains("Excluded page"),
            "{}",
            expected.stack
        );
        assert_eq!(
            memory.read_u64(sp),
            Err(MemoryError::Absent {
                address: sp,
                physical,
                reason: Absence::Excluded {
                    dump_level: Some(31)
                }
            }),
            "thread {}",
            t.tid
        );
    }
    // The vDSO is kernel memory: its ELF header reads through the
    // process's own tables.
    assert_eq!(memory.read_u32(0xffff_8ab8_2000), Ok(0x464c_457f));
    // Outside every VMA, and in the kernel half, nothing is mapped.
    for address in [0x3f_f000, 0xffff_0000_0913_c000] {
        assert_eq!(
            memory.read_u64(address),
            Err(MemoryError::Unmapped { address })
        );
    }
    // The view carries the user PAC mask of a 48-bit address space.
    let pac = user.view.pointer_auth.unwrap();
    assert_eq!(
        (pac.data, pac.insn),
        (0x007f_0000_0000_0000, 0x007f_0000_0000_0000)
    );
}

#[test]
fn every_user_task_drgn_lists_is_a_process_and_kernel_threads_are_not() {
    let k = Kernel::open();
    let d = drgn();
    assert_eq!(d.user_tasks.len(), 6);
    for (pid, tgid, comm, mm) in &d.user_tasks {
        let user = k.process(*pid).unwrap();
        assert_eq!((i64::from(user.tgid), user.mm), (*tgid, *mm), "pid {pid}");
        let thread = user
            .view
            .threads
            .iter()
            .find(|t| t.tid == *pid as u64)
            .unwrap_or_else(|| panic!("pid {pid} {comm}: {:?}", user.problems));
        assert_eq!(thread.name.as_deref(), Some(comm.as_str()));
        assert_eq!(thread.registers.get_named("pstate").unwrap() & 0xf, 0);
        assert!(thread.registers.get_named("pc").unwrap() < 1 << 48);
    }
    let err = k.process(2).err().unwrap();
    assert!(err.contains("is a kernel thread"), "{err}");
}

#[test]
fn the_cli_shows_an_arm64_process() {
    let out = common::ckdump(&[
        "inspect",
        dump().to_str().unwrap(),
        "--process",
        "105",
        "--log",
        "0",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Process 102 \"ckdump-threads\", ppid 1: 4 threads"),
        "{text}"
    );
    assert!(
        text.contains("dump level 31 excluded user pages: process 102's stacks"),
        "{text}"
    );
    assert!(!text.contains("process 105 cannot be shown"), "{text}");
}
