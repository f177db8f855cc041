//! Our own arm64 kernel crash dump (testdata/kernel/dumps/arm64-sysrq.kdump,
//! made by testdata/kernel/gen-arm64.sh: Debian's 6.1.0-56-cloud-arm64 under
//! QEMU TCG with pointer authentication, kdump after sysrq-c) read with
//! nothing but the dump, checked against what drgn printed with the -dbg
//! vmlinux (reference/arm64-sysrq/drgn.txt): the panic, its CPU, task and
//! context, every CPU's stack pc by pc, the task list, the sleeping threads'
//! stacks, the module list, the log's last records, and the data this
//! kernel's kallsyms does not name (no CONFIG_KALLSYMS_ALL) found where the
//! vmlinux says it is. The translation itself is checked on the dump's own
//! tables here and on synthetic tables of every granule in
//! src/memory/page_tables_aarch64.rs.

mod common;

use common::drgn::DrgnReference;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ckdump::analysis::{InspectOptions, inspect};
use ckdump::memory::Memory;
use ckdump::memory::page_tables_aarch64::Aarch64TranslateError;
use ckdump::report::{InspectReport, KernelReport};

fn dump() -> PathBuf {
    common::root().join("testdata/kernel/dumps/arm64-sysrq.kdump")
}

fn report(options: &InspectOptions) -> InspectReport {
    let image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
    inspect(&image, options)
}

fn kernel(r: &InspectReport) -> &KernelReport {
    r.kernel.as_ref().unwrap()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// drgn's reference for the arm64 dump.
struct Drgn(DrgnReference);

fn drgn() -> Drgn {
    Drgn(DrgnReference::read(
        &common::root().join("testdata/kernel/reference/arm64-sysrq/drgn.txt"),
    ))
}

impl std::ops::Deref for Drgn {
    type Target = DrgnReference;
    fn deref(&self) -> &DrgnReference {
        &self.0
    }
}

impl Drgn {
    fn address(&self, key: &str) -> u64 {
        hex(&self.header[key])
    }

    /// `N name: pc pc pc…` lines of a section, by their first word.
    fn pcs(&self, prefix: &str) -> BTreeMap<String, Vec<u64>> {
        self.section(prefix)
            .iter()
            .map(|l| {
                let (who, pcs) = l.split_once(": ").unwrap();
                let key = who.split_whitespace().last().unwrap().to_string();
                (key, pcs.split_whitespace().map(hex).collect())
            })
            .collect()
    }
}

/// A function's name without gcc's clone suffix (`.constprop.0`, `.isra.0`).
fn base_name(name: &str) -> &str {
    name.split('.').next().unwrap()
}

#[test]
fn the_panic_its_cpu_task_and_each_cpus_context_equal_drgns() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let d = drgn();
    assert_eq!(d.header["panic_cpu"], "1");
    assert_eq!(k.panic_cpu, Some(1));
    assert_eq!(
        d.header["panic message"],
        "Kernel panic - not syncing: sysrq triggered crash"
    );
    let crash = r.crash.as_ref().unwrap();
    assert_eq!(crash.description, "sysrq triggered crash");
    assert_eq!(crash.interrupt_level.as_deref(), Some("process"));
    // "panic task: pid 107 comm sh task 0xffff000002392080"
    assert_eq!(
        d.header["panic task"],
        "pid 107 comm sh task 0xffff000002392080"
    );
    let panicked: Vec<_> = k.tasks.iter().filter(|t| t.panicked).collect();
    assert_eq!(panicked.len(), 1);
    assert_eq!(
        (
            panicked[0].pid,
            panicked[0].comm.as_str(),
            panicked[0].address.0
        ),
        (107, "sh", 0xffff_0000_0239_2080)
    );
    // "cpu 0: pid 0 comm swapper/0 task 0x… preempt_count 0x00010000 pc 0x…"
    let expected = d.section("each online CPU: cpu_curr");
    assert_eq!(expected.len(), 2);
    for line in expected {
        let w: Vec<&str> = line.split_whitespace().collect();
        let index: u32 = w[1].trim_end_matches(':').parse().unwrap();
        let c = k.cpus.iter().find(|c| c.index == index).unwrap();
        let task = c.task.as_ref().unwrap();
        assert_eq!(
            (task.pid.to_string().as_str(), task.comm.as_str()),
            (w[3], w[5]),
            "cpu {index}"
        );
        assert_eq!(c.preempt_count, Some(hex(w[9]) as u32), "cpu {index}");
        assert_eq!(
            c.frames.first().map(|f| f.pc.0),
            Some(hex(w[11])),
            "cpu {index}"
        );
    }
    // CPU 0 took the crash-stop IPI (hardirq) while idle; CPU 1 panicked
    // in the write() of `sh`.
    let context = |i: u32| k.cpus[i as usize].context.as_deref();
    assert_eq!((context(0), context(1)), (Some("hardirq"), Some("process")));
    assert_eq!(k.cpus[0].preempt_count, Some(0x10000));
    assert_eq!(k.cpus[1].prstatus_pid, 107);
}

#[test]
fn the_crashed_stack_equals_drgns_physical_frames() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let d = drgn();
    // "#2  panic  pc 0x… sp 0x…", inline frames share their caller's pc.
    let expected: Vec<(String, u64)> = d
        .section("crashed thread: tid 107")
        .iter()
        .filter(|l| !l.contains("(inline)"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[1].to_string(), hex(w[3]))
        })
        .collect();
    assert_eq!(expected.len(), 15);
    let cpu = &k.cpus[1];
    let ours: Vec<(String, u64)> = cpu
        .frames
        .iter()
        .map(|f| (f.function.clone().unwrap(), f.pc.0))
        .collect();
    let pcs = |v: &[(String, u64)]| v.iter().map(|f| f.1).collect::<Vec<_>>();
    assert_eq!(
        pcs(&ours),
        pcs(&expected),
        "ours {ours:#x?}\ndrgn {expected:#x?}"
    );
    for (o, e) in ours.iter().zip(&expected) {
        assert_eq!(base_name(&o.0), e.0);
    }
    // Frame 0 is the saved context; __crash_kexec had set up its frame
    // record, so its stale lr is no caller: every other frame comes from
    // the frame-record chain, and no scan runs past the last record.
    assert_eq!(ours[0].0, "__crash_kexec");
    assert_eq!(ours[1].0, "panic");
    assert_eq!(ours[14].0, "el0t_64_sync");
    assert!(
        cpu.frames[1..]
            .iter()
            .all(|f| f.found_by == ckdump::unwind::FoundBy::FramePointer)
    );
    assert!(
        cpu.frames
            .iter()
            .all(|f| f.stack.as_deref() == Some("task"))
    );
    assert_eq!(cpu.stack.as_deref(), Some("task"));
}

#[test]
fn every_cpus_stack_equals_drgns_pc_by_pc() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let expected = drgn().pcs("each online CPU's stack");
    assert_eq!(expected.len(), 2);
    for c in &k.cpus {
        let ours: Vec<u64> = c.frames.iter().map(|f| f.pc.0).collect();
        assert_eq!(ours, expected[&format!("{}", c.index)], "cpu {}", c.index);
    }
    // CPU 0 was interrupted in arch_cpu_idle after cpu_do_idle returned
    // (lr still pointing there); the idle task's stack ends in
    // __primary_switched, the boot CPU's entry.
    let names: Vec<&str> = k.cpus[0]
        .frames
        .iter()
        .map(|f| f.function.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "arch_cpu_idle",
            "default_idle_call",
            "do_idle",
            "cpu_startup_entry",
            "rest_init",
            "arch_call_rest_init",
            "start_kernel",
            "__primary_switched"
        ]
    );
}

#[test]
fn tasks_equal_drgns_for_each_task_and_running_idle_tasks() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let d = drgn();
    // pid ppid tgid comm state on_cpu cpu task
    let parse = |line: &String| {
        let w: Vec<&str> = line.split_whitespace().collect();
        let n = w.len();
        (
            w[0].parse::<i32>().unwrap(),
            w[1].parse::<i32>().unwrap(),
            w[2].parse::<i32>().unwrap(),
            w[3..n - 4].join(" "),
            w[n - 4].chars().next().unwrap(),
            w[n - 2].parse::<u32>().unwrap(),
            hex(w[n - 1]),
        )
    };
    let mut expected: Vec<_> = d
        .section("tasks (for_each_task)")
        .iter()
        .map(parse)
        .collect();
    assert_eq!(expected.len(), 56);
    // Idle tasks drgn lists apart; ckdump lists those that were running
    // (swapper/0 on CPU 0, init_task itself).
    let idle: Vec<_> = d.section("idle tasks").iter().map(parse).collect();
    expected.extend(
        idle.into_iter()
            .filter(|t| k.tasks.iter().any(|o| o.address.0 == t.6)),
    );
    expected.sort_by_key(|t| (t.0, t.6));
    let mut ours: Vec<_> = k
        .tasks
        .iter()
        .map(|t| {
            (
                t.pid,
                t.ppid,
                t.tgid,
                t.comm.clone(),
                t.state,
                t.cpu.unwrap(),
                t.address.0,
            )
        })
        .collect();
    ours.sort_by_key(|t| (t.0, t.6));
    assert_eq!(ours, expected);
    assert_eq!(ours.len(), 57);
    assert!(k.tasks_problems.is_empty(), "{:?}", k.tasks_problems);
    assert_eq!(k.types.as_deref(), Some("btf"));
    // ckdump-threads (tgid 102) and its three workers.
    let threads: Vec<(i32, &str)> = k
        .tasks
        .iter()
        .filter(|t| t.tgid == 102)
        .map(|t| (t.pid, t.comm.as_str()))
        .collect();
    assert_eq!(
        threads,
        [
            (102, "ckdump-threads"),
            (104, "ckw-worker-0"),
            (105, "ckw-worker-1"),
            (106, "ckw-worker-2")
        ]
    );
    let running: Vec<(i32, Option<u32>)> = k
        .tasks
        .iter()
        .filter(|t| t.running_on.is_some())
        .map(|t| (t.pid, t.running_on))
        .collect();
    assert_eq!(running, [(0, Some(0)), (107, Some(1))]);
}

#[test]
fn sleeping_threads_unwind_from_their_cpu_context_as_drgn_does() {
    let r = report(&InspectOptions {
        all_tasks: true,
        ..Default::default()
    });
    let k = kernel(&r);
    let expected = drgn().pcs("stacks of ckdump-threads' tasks: physical");
    assert_eq!(expected.len(), 4);
    for (comm, pcs) in &expected {
        let task = k.tasks.iter().find(|t| t.comm == *comm).unwrap();
        let frames = task.frames.as_ref().unwrap();
        let ours: Vec<u64> = frames.iter().map(|f| f.pc.0).collect();
        assert_eq!(&ours, pcs, "{comm}");
        // thread.cpu_context's pc is the return into __switch_to.
        assert_eq!(frames[0].function.as_deref(), Some("__switch_to"));
        assert!(frames.iter().all(|f| f.stack.as_deref() == Some("task")));
    }
    let worker = k.tasks.iter().find(|t| t.pid == 104).unwrap();
    let names: Vec<&str> = worker
        .frames
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| base_name(f.function.as_deref().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            "__switch_to",
            "__schedule",
            "schedule",
            "do_nanosleep",
            "hrtimer_nanosleep",
            "common_nsleep",
            "__arm64_sys_clock_nanosleep",
            "invoke_syscall",
            "el0_svc_common",
            "do_el0_svc",
            "el0_svc",
            "el0t_64_sync_handler",
            "el0t_64_sync"
        ]
    );
}

#[test]
fn modules_equal_drgns() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let expected: Vec<(String, u64, u64)> = drgn()
        .section("modules")
        .iter()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), hex(w[1]), w[2].parse().unwrap())
        })
        .collect();
    assert_eq!(
        expected,
        [("qemu_fw_cfg".to_string(), 0xffff_bac3_9f5c_0000, 24576)]
    );
    let ours: Vec<(String, u64, u64)> = k
        .modules
        .iter()
        .map(|m| (m.name.clone(), m.text_base.0, m.size))
        .collect();
    assert_eq!(ours, expected);
    assert!(k.modules_problems.is_empty(), "{:?}", k.modules_problems);
    // Its own symbol table names its functions; no ORC on arm64.
    assert_eq!(k.modules[0].symbols, 14);
    assert_eq!(k.modules[0].orc_entries, None);
}

#[test]
fn the_log_ends_as_drgns_last_twenty_records() {
    let r = report(&InspectOptions::default());
    let k = kernel(&r);
    let expected = drgn().section("last 20 printk records").to_vec();
    assert_eq!(expected.len(), 20);
    let ours: Vec<String> = k.log[k.log.len() - 20..]
        .iter()
        .map(|r| {
            format!(
                "[{:>5}.{:06}] {}",
                r.timestamp_ns / 1_000_000_000,
                r.timestamp_ns % 1_000_000_000 / 1000,
                r.text
            )
        })
        .collect();
    assert_eq!(ours, expected);
    assert_eq!(ours[19], "[   23.733149] Bye!");
}

/// The dump's physical memory, VMCOREINFO and kernel address space.
struct Arm64Dump {
    physical: Arc<dyn Memory>,
    image: ckdump::Image,
}

impl Arm64Dump {
    fn open() -> Arm64Dump {
        let bytes = ckdump::memory::Bytes::map_file(&std::fs::File::open(dump()).unwrap()).unwrap();
        let physical =
            ckdump::image::vmcore::kdump_compressed::KdumpCompressed::parse(Arc::new(bytes))
                .unwrap();
        Arm64Dump {
            physical: Arc::new(physical),
            image: ckdump::open(&dump(), &common::no_host_files()).unwrap(),
        }
    }

    fn info(&self) -> &ckdump::model::Vmcoreinfo {
        self.image
            .details
            .kernel
            .as_ref()
            .unwrap()
            .vmcoreinfo
            .as_ref()
            .unwrap()
    }

    fn memory(&self) -> &dyn Memory {
        &*self.image.process.memory
    }
}

#[test]
fn translation_through_the_dumps_own_tables() {
    let dump = Arm64Dump::open();
    let info = dump.info();
    let d = drgn();
    let voffset = d.address("kimage_voffset");
    assert_eq!(
        info.get("NUMBER(kimage_voffset)"),
        Some("0xffffbac393800000")
    );
    assert_eq!(info.get("NUMBER(PHYS_OFFSET)"), Some("0x40000000"));
    assert_eq!(info.get("NUMBER(VA_BITS)"), Some("48"));
    assert_eq!(info.get("NUMBER(TCR_EL1_T1SZ)"), Some("0x10"));
    assert_eq!(
        info.get("NUMBER(KERNELPACMASK)"),
        Some("0xffff000000000000")
    );
    let kernel = ckdump::kernel::aarch64_memory(Arc::clone(&dump.physical), info).unwrap();
    let swapper = info.symbol("swapper_pg_dir").unwrap();
    assert_eq!(swapper, 0xffff_bac3_d4d8_f000);
    assert_eq!(kernel.root(), swapper - voffset);
    assert_eq!((kernel.levels(), kernel.page_size()), (4, 4096));
    // The kernel image: its tables agree with kimage_voffset.
    for address in [
        d.address("init_task"),
        d.address("modules"),
        d.address("__start_BTF"),
        info.symbol("_stext").unwrap(),
        info.symbol("prb").unwrap(),
    ] {
        assert_eq!(
            kernel.translate(address).unwrap().physical,
            address - voffset,
            "{address:#x}"
        );
    }
    // The linear map: PAGE_OFFSET (-(1 << 48)) maps PHYS_OFFSET.
    let panic_task = 0xffff_0000_0239_2080u64;
    assert_eq!(
        kernel.translate(panic_task).unwrap().physical,
        0x4000_0000 + 0x0239_2080
    );
    // The same bytes through the image mapping and the linear alias.
    let uts = info.symbol("init_uts_ns").unwrap();
    let alias = 0xffff_0000_0000_0000 + (uts - voffset - 0x4000_0000);
    let (mut a, mut b) = ([0u8; 390], [0u8; 390]);
    dump.memory().read_exact(uts, &mut a).unwrap();
    dump.memory().read_exact(alias, &mut b).unwrap();
    assert_eq!(a, b);
    let name = info.offset("uts_namespace.name").unwrap() as usize;
    assert_eq!(&a[name..name + 6], b"Linux\0");
    assert_eq!(&a[name + 130..name + 150], b"6.1.0-56-cloud-arm64");
    // A task's vmalloc'd stack (CPU 1's sp) through 4 KiB pages.
    let sp = 0xffff_8000_0824_3730u64;
    let t = kernel.translate(sp).unwrap();
    assert_eq!(t.remaining_in_page, 0x1000 - 0x730);
    // User (TTBR0) addresses are not the kernel's to translate.
    assert_eq!(
        kernel.translate(0x0000_ffff_8000_0000),
        Err(Aarch64TranslateError::NotKernelAddress {
            address: 0x0000_ffff_8000_0000
        })
    );
    // A VMCOREINFO whose numbers are impossible, or whose root table lies
    // outside the dump, is refused with a reason.
    for (key, value, why) in [
        (
            "NUMBER(kimage_voffset)",
            "0xffffbac300000000",
            "not in the dump",
        ),
        ("NUMBER(kimage_voffset)", "0x", "kimage_voffset"),
        ("PAGESIZE", "8192", "granule"),
        ("NUMBER(VA_BITS)", "64", "VA_BITS=64"),
        ("NUMBER(TCR_EL1_T1SZ)", "0x40", "TCR_EL1_T1SZ)=64"),
        (
            "NUMBER(TCR_EL1_T1SZ)",
            "0x0c",
            "VA size in effect (52 bits)",
        ),
    ] {
        let mut changed = info.clone();
        for (k, v) in &mut changed.entries {
            if k == key {
                *v = value.into();
            }
        }
        let e = ckdump::kernel::aarch64_memory(Arc::clone(&dump.physical), &changed).unwrap_err();
        assert!(e.contains(why), "{key}={value}: {e}");
    }
}

#[test]
fn data_kallsyms_does_not_name_is_found_where_the_vmlinux_says() {
    use ckdump::kernel::data_search;
    let dump = Arm64Dump::open();
    let (memory, info) = (dump.memory(), dump.info());
    let d = drgn();
    let symbols = ckdump::kernel::kallsyms::KernelSymbols::from_memory(memory, info).unwrap();
    // Text only: this kernel has no CONFIG_KALLSYMS_ALL.
    for name in ["init_task", "modules", "__start_BTF", "__per_cpu_offset"] {
        assert_eq!(symbols.address_of(name), None, "{name}");
    }
    assert!(symbols.address_of("panic").is_some());
    let found = data_search::find_btf(memory, info).unwrap();
    assert_eq!(found.address, d.address("__start_BTF"));
    let btf = found.btf;
    let data = data_search::kernel_data(memory, info).unwrap();
    assert_eq!(
        data_search::find_init_task(memory, &btf, data),
        Ok(d.address("init_task"))
    );
    assert_eq!(
        data_search::find_modules_head(memory, &btf, data),
        Ok(Some(d.address("modules")))
    );
    let all = data_search::FoundData::find(memory, &symbols, info, &btf, 2);
    assert_eq!(all.init_task, Some(Ok(d.address("init_task"))));
    // Each CPU's per-CPU area: __per_cpu_start + __per_cpu_offset[cpu].
    let start = d.address("__per_cpu_start");
    let areas: Vec<Option<u64>> = d.header["__per_cpu_offset"]
        .split_whitespace()
        .map(|o| Some(start.wrapping_add(hex(o))))
        .collect();
    assert_eq!(all.per_cpu_areas, Some(Ok(areas.clone())));
    // Their run queues' current tasks are drgn's cpu_curr.
    assert_eq!(
        data_search::current_tasks(memory, &btf, &areas),
        [Some(d.address("init_task")), Some(0xffff_0000_0239_2080)]
    );
    // Each CPU's IRQ stack, from its per-CPU irq_stack_ptr: 16 KiB
    // (IRQ_STACK_SIZE = THREAD_SIZE, the size of BTF's thread_union).
    assert_eq!(ckdump::kernel::arm64::thread_size(&btf), 0x4000);
    let irq: Vec<u64> = d.header["irq_stack_ptr"]
        .split_whitespace()
        .map(hex)
        .collect();
    assert_eq!(irq, [0xffff_8000_0800_0000, 0xffff_8000_0800_8000]);
    for (cpu, base) in irq.iter().enumerate() {
        let stacks = ckdump::kernel::arm64::cpu_stacks(memory, &btf, areas[cpu]);
        assert_eq!(
            stacks.ranges(),
            [(*base, base + 0x4000, ckdump::kernel::stacks::StackKind::Irq)]
        );
    }
}

#[test]
fn return_addresses_in_frame_records_are_signed_and_stripped_from_bit_55() {
    let dump = Arm64Dump::open();
    let cpus = &dump.image.details.kernel.as_ref().unwrap().cpus;
    // CPU 1's x29 is __crash_kexec's frame record: (caller fp, signed lr).
    let fp = cpus[1].registers.get(29).unwrap();
    let signed = dump.memory().read_u64(fp + 8).unwrap();
    let stripped = 0xffff_bac3_d459_d60cu64; // drgn's panic frame
    // The code in the top byte (0x74) and bits 48-54 (0x2d); bit 55 set:
    // a kernel (upper-half) address.
    assert_eq!(signed, 0x74ad_bac3_d459_d60c);
    assert_eq!(
        signed & 0x0000_ffff_ffff_ffff,
        stripped & 0x0000_ffff_ffff_ffff
    );
    assert_eq!(
        ckdump::unwind::pointer_auth::strip_pointer_authentication(
            ckdump::model::Arch::Aarch64,
            signed,
            None
        ),
        stripped
    );
}

/// The dump's kernel memory with one range rewritten on every read.
struct Rewritten {
    inner: Arc<dyn Memory>,
    range: std::ops::Range<u64>,
    /// The new value of the 8-byte word at an address.
    word: fn(u64) -> u64,
}

impl Memory for Rewritten {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, ckdump::memory::MemoryError> {
        let n = self.inner.read(address, buf)?;
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            let at = address.wrapping_add(i as u64);
            if self.range.contains(&at) {
                *byte = (self.word)(at & !7).to_le_bytes()[(at & 7) as usize];
            }
        }
        Ok(n)
    }
}

/// The kernel's data made hostile: every word pointing at itself (every
/// list a one-node loop, every task its own parent), or noise. The report
/// still comes, quickly, saying what it could not read; nothing panics.
#[test]
fn hostile_kernel_data_yields_a_report_not_a_hang() {
    let arm64 = Arm64Dump::open();
    let (start, end) =
        ckdump::kernel::data_search::kernel_data(arm64.memory(), arm64.info()).unwrap();
    let rewrites: [fn(u64) -> u64; 3] = [
        |at| at,
        |at| at.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17),
        |at| 0xffff_0000_0000_0000 | (at & 0xffff_fff8),
    ];
    for (case, word) in rewrites.into_iter().enumerate() {
        let mut image = ckdump::open(&dump(), &common::no_host_files()).unwrap();
        image.process.memory = Arc::new(Rewritten {
            inner: Arc::clone(&image.process.memory),
            range: start..end,
            word,
        });
        let started = std::time::Instant::now();
        let r = inspect(
            &image,
            &InspectOptions {
                all_tasks: true,
                ..Default::default()
            },
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(120));
        let k = kernel(&r);
        // The CPUs' registers and the text still name the crashed stack.
        assert_eq!(
            k.cpus[1].frames[0].function.as_deref(),
            Some("__crash_kexec")
        );
        // No init_task in data that is all noise: no list is made up.
        assert!(k.tasks.is_empty(), "case {case}");
        assert!(
            k.tasks_problems.iter().any(|p| p.contains("init_task")),
            "case {case}: {:?}",
            k.tasks_problems
        );
        assert!(k.modules.is_empty(), "case {case}");
    }
}
