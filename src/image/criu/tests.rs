//! A CRIU directory written here from the message definitions: an aarch64
//! task with one thread, one VMA and two pages. It runs without ../shared
//! and covers what the shared dumps (x86_64) do not.

use std::path::Path;

use prost::Message;

use super::pages::{PE_LAZY, PE_PRESENT};
use super::proto::*;
use super::*;
use crate::model::{Capture, Sharing};

fn write_image(dir: &Path, name: &str, magic: u32, entries: &[Vec<u8>]) {
    let mut out = Vec::new();
    if magic != magic::INVENTORY {
        out.extend_from_slice(&magic::IMG_COMMON_MAGIC.to_le_bytes());
    }
    out.extend_from_slice(&magic.to_le_bytes());
    for e in entries {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    std::fs::write(dir.join(name), out).unwrap();
}

const STACK: u64 = 0x7fff_0000_0000;

fn aarch64_dump(dir: &Path) {
    write_image(
        dir,
        "inventory.img",
        magic::INVENTORY,
        &[InventoryEntry {
            img_version: Some(2),
            lsmtype: Some(2),
            ..Default::default()
        }
        .encode_to_vec()],
    );
    write_image(
        dir,
        "pstree.img",
        magic::PSTREE,
        &[PstreeEntry {
            pid: Some(7),
            ppid: 1,
            pgid: 7,
            sid: 1,
            threads: vec![7],
        }
        .encode_to_vec()],
    );
    let core = CoreEntry {
        mtype: Some(MARCH_AARCH64),
        ti_aarch64: Some(ThreadInfoAarch64 {
            gpregs: Some(UserAarch64RegsEntry {
                regs: (0..31).map(|i| 0x1000 + i).collect(),
                sp: Some(STACK + 0x1f00),
                pc: Some(0x40_0000),
                pstate: 0x6000_0000,
            }),
            fpsimd: Some(UserAarch64FpsimdContextEntry {
                vregs: (0..64).collect(),
                fpsr: 0x10,
                fpcr: 0x20,
            }),
            ..Default::default()
        }),
        tc: Some(TaskCoreEntry {
            task_state: 3,
            comm: "armtask".into(),
            stop_signo: Some(19),
            ..Default::default()
        }),
        ..Default::default()
    };
    write_image(dir, "core-7.img", magic::CORE, &[core.encode_to_vec()]);
    let mm = MmEntry {
        mm_saved_auxv: vec![6, 4096, 0, 0],
        vmas: vec![VmaEntry {
            start: Some(STACK),
            end: Some(STACK + 0x4000),
            prot: 3,
            flags: 0x122,
            status: 0x201,
            fd: -1,
            ..Default::default()
        }],
        ..Default::default()
    };
    write_image(dir, "mm-7.img", magic::MM, &[mm.encode_to_vec()]);
    write_image(
        dir,
        "pagemap-7.img",
        magic::PAGEMAP,
        &[
            PagemapHead { pages_id: Some(3) }.encode_to_vec(),
            PagemapEntry {
                vaddr: Some(STACK + 0x1000),
                compat_nr_pages: 2,
                flags: Some(PE_PRESENT),
                ..Default::default()
            }
            .encode_to_vec(),
        ],
    );
    let pages: Vec<u8> = (0..0x2000u32).map(|i| (i >> 8) as u8).collect();
    std::fs::write(dir.join("pages-3.img"), pages).unwrap();
    // What CRIU writes for every live task: its ids, and its cwd and root
    // (here both "/", the one file of files.img).
    let ids = TaskKobjIdsEntry {
        vm_id: 1,
        files_id: 1,
        fs_id: 1,
        sighand_id: 1,
        ..Default::default()
    };
    write_image(dir, "ids-7.img", magic::IDS, &[ids.encode_to_vec()]);
    let fs = FsEntry {
        cwd_id: 1,
        root_id: 1,
        umask: Some(0o22),
    };
    write_image(dir, "fs-7.img", magic::FS, &[fs.encode_to_vec()]);
    let root = FileEntry {
        r#type: FD_TYPE_REG,
        id: 1,
        reg: Some(RegFileEntry {
            id: 1,
            name: "/".into(),
            ..Default::default()
        }),
    };
    write_image(dir, "files.img", magic::FILES, &[root.encode_to_vec()]);
}

#[test]
fn aarch64_task_fills_the_model() {
    let dir = tempfile::tempdir().unwrap();
    aarch64_dump(dir.path());
    let image = read(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(image.target.arch, Arch::Aarch64);
    assert!(image.findings.is_empty(), "{:?}", image.findings);
    let t = &image.process.threads[0];
    assert_eq!(t.tid, 7);
    assert_eq!(t.name.as_deref(), Some("armtask"));
    assert_eq!(t.signal, Some(19));
    for i in 0..31u16 {
        assert_eq!(t.registers.get(i), Some(0x1000 + u64::from(i)));
    }
    assert_eq!(t.registers.get_named("fp"), Some(0x1000 + 29));
    assert_eq!(t.registers.sp(), Some(STACK + 0x1f00));
    assert_eq!(t.registers.pc(), Some(0x40_0000));
    assert_eq!(t.registers.get_named("pstate"), Some(0x6000_0000));
    let f = t.float.as_ref().unwrap();
    assert_eq!(f.vector.len(), 32);
    assert_eq!(f.vector[1], "0x00000000000000030000000000000002");
    assert_eq!((f.fpsr, f.fpcr), (Some(0x10), Some(0x20)));
    let p = image.process.facts.as_ref().unwrap();
    assert_eq!((p.pid, p.ppid, p.state), (Some(7), Some(1), Some('T')));
    // The stack VMA: two of its four pages dumped.
    let r = &image.process.regions[0];
    assert_eq!(r.capture, Capture::Partial { bytes: 0x2000 });
    assert_eq!(r.sharing, Sharing::Private);
    assert_eq!(
        image.process.memory.read_u32(STACK + 0x1100).unwrap(),
        0x0101_0101
    );
    assert_eq!(
        image.process.memory.read_u32(STACK + 0x2f00).unwrap(),
        0x1f1f_1f1f
    );
    assert!(matches!(
        image.process.memory.read_u32(STACK),
        Err(crate::memory::MemoryError::NotCaptured { .. })
    ));
    let lsm = image
        .details
        .annotations
        .iter()
        .find(|(k, _)| k == "criu.lsm")
        .map(|(_, v)| v.as_str());
    assert_eq!(lsm, Some("AppArmor"));
}

#[test]
fn other_machines_are_unsupported_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    aarch64_dump(dir.path());
    let core = CoreEntry {
        mtype: Some(8),
        ..Default::default()
    };
    write_image(
        dir.path(),
        "core-7.img",
        magic::CORE,
        &[core.encode_to_vec()],
    );
    let e = read(dir.path(), &OpenOptions::default()).err().unwrap();
    assert!(e.to_string().contains("RISCV64"), "{e}");
}

#[test]
fn pagemap_problems_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    aarch64_dump(dir.path());
    // Lazy pages, an unaligned entry and one outside the VMA; the pages of
    // the bad entries still take their place in pages-3.img, which is now
    // a page short.
    let entry = |vaddr: u64, nr: u32, flags: u32| {
        PagemapEntry {
            vaddr: Some(vaddr),
            compat_nr_pages: nr,
            flags: Some(flags),
            ..Default::default()
        }
        .encode_to_vec()
    };
    write_image(
        dir.path(),
        "pagemap-7.img",
        magic::PAGEMAP,
        &[
            PagemapHead { pages_id: Some(3) }.encode_to_vec(),
            entry(STACK, 1, PE_LAZY),
            entry(STACK + 0x1001, 1, PE_PRESENT),
            entry(STACK + 0x3000, 2, PE_PRESENT),
        ],
    );
    let image = read(dir.path(), &OpenOptions::default()).unwrap();
    let codes: Vec<&str> = image.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        ["CKD-E6006", "CKD-E6006", "CKD-E6005", "CKD-N6009"],
        "{:?}",
        image.findings
    );
    assert!(image.findings[0].message.contains("not page-aligned"));
    assert!(
        image.findings[1]
            .message
            .contains("not inside the process's VMAs")
    );
    assert!(image.findings[2].message.contains("1 pages past the cut"));
    assert!(image.findings[3].message.contains("1 for lazy restore"));
}

#[test]
fn a_tree_of_tasks_is_listed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    aarch64_dump(dir.path());
    let task = |pid: u32, ppid: u32, threads: Vec<u32>| {
        PstreeEntry {
            pid: Some(pid),
            ppid,
            pgid: 7,
            sid: 1,
            threads,
        }
        .encode_to_vec()
    };
    // A zombie child of the root whose thread list holds a stray id (as
    // CRIU writes zombies), a task whose parent is not in the tree and
    // that lists the root's thread id again.
    write_image(
        dir.path(),
        "pstree.img",
        magic::PSTREE,
        &[
            task(7, 1, vec![7]),
            task(8, 7, vec![3210551440]),
            task(10, 99, vec![10, 7]),
        ],
    );
    let child = CoreEntry {
        mtype: Some(MARCH_AARCH64),
        tc: Some(TaskCoreEntry {
            task_state: 6,
            exit_code: 3,
            comm: "child".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut alive = child.clone();
    if let Some(tc) = alive.tc.as_mut() {
        tc.task_state = 1;
        tc.exit_code = 0;
    }
    for (tid, core) in [(8, &child), (10, &alive)] {
        write_image(
            dir.path(),
            &format!("core-{tid}.img"),
            magic::CORE,
            &[core.encode_to_vec()],
        );
    }
    let image = read(dir.path(), &OpenOptions::default()).unwrap();
    let tree: Vec<String> = image
        .details
        .processes
        .iter()
        .map(|p| {
            format!(
                "{} {} {:?} {:?} {:?}",
                p.pid, p.ppid, p.name, p.state, p.exit_code
            )
        })
        .collect();
    assert_eq!(
        tree,
        [
            r#"7 1 Some("armtask") Some("stopped") Some(0)"#,
            r#"8 7 Some("child") Some("zombie") Some(3)"#,
            r#"10 99 Some("child") Some("alive") Some(0)"#,
        ]
    );
    // The zombie's stray thread id is replaced by its pid.
    assert_eq!(image.details.processes[1].threads, [8]);
    // Each task is a process of its own: the root's thread is the image's,
    // the zombie has none, task 10's core has no registers.
    assert_eq!(image.process.threads.len(), 1);
    let others: Vec<(Option<u64>, Option<char>, usize)> = image
        .other_processes
        .iter()
        .map(|p| {
            let process = p.facts.as_ref().unwrap();
            (process.pid, process.state, p.threads.len())
        })
        .collect();
    assert_eq!(others, [(Some(8), Some('Z'), 0), (Some(10), None, 0)]);
    let messages: Vec<&str> = image.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        messages.contains(&"thread 7 is listed twice"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"core-10.img: no ti_aarch64.gpregs"),
        "{messages:?}"
    );
    assert!(!messages.iter().any(|m| m.contains("3210551440")));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("task 10 names parent 99")),
        "{messages:?}"
    );
    // A zombie has no memory to miss; a live task without its mm image
    // is reported, not fatal.
    assert!(!messages.iter().any(|m| m.starts_with("mm-8.img")));
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("mm-10.img is missing")),
        "{messages:?}"
    );
}

#[test]
fn a_huge_tree_is_read_up_to_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    aarch64_dump(dir.path());
    // The root of aarch64_dump (pid 7) and 9 000 children with no images
    // at all: a claim a few hundred KiB of pstree.img can make.
    let mut entries = vec![
        PstreeEntry {
            pid: Some(7),
            ppid: 1,
            pgid: 7,
            sid: 1,
            threads: vec![7],
        }
        .encode_to_vec(),
    ];
    for pid in 100..9100u32 {
        entries.push(
            PstreeEntry {
                pid: Some(pid),
                ppid: 7,
                pgid: 7,
                sid: 1,
                threads: vec![pid],
            }
            .encode_to_vec(),
        );
    }
    write_image(dir.path(), "pstree.img", magic::PSTREE, &entries);
    let image = read(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(image.details.processes.len(), 9001);
    assert_eq!(image.other_processes.len(), 8191);
    let bound = image
        .findings
        .iter()
        .find(|f| f.message.starts_with("pstree.img lists 9001 tasks"))
        .unwrap();
    assert_eq!(
        bound.message,
        "pstree.img lists 9001 tasks; the first 8192 are read as processes, the others only listed"
    );
    // Missing images are findings, capped per check.
    assert!(image.findings.len() < 64, "{}", image.findings.len());
}

/// The committed tree fixture's task facts arrive as numbers, and the
/// renderer spells them as the report always has.
#[test]
fn task_facts_are_typed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/criu/images/tree");
    let image = read(&dir, &OpenOptions::default()).unwrap();
    let c = image.process.checkpoint.as_ref().unwrap();
    let t = &c.task;
    let state = t.state.unwrap();
    assert_eq!((state.task_state, state.exit_code), (1, 0));
    let creds = t.credentials.unwrap();
    assert_eq!((creds.uid, creds.euid, creds.fsgid), (0, 0, 0));
    assert_eq!(creds.cap_effective, 0x1ff_ffff_ffff);
    let mm = t.mm.as_ref().unwrap();
    assert_eq!(
        (mm.start_code, mm.end_code),
        (0x564d98746000, 0x564d98746b19)
    );
    assert_eq!((mm.start_brk, mm.brk), (0x564daa4b3000, 0x564daa4d4000));
    assert_eq!(mm.exe_file_id, Some(1));
    assert_eq!(mm.exe_path.as_deref(), Some("/opt/ckdump/tree"));
    let signos: Vec<u32> = t.signal_actions.iter().map(|s| s.signo).collect();
    assert_eq!(signos, [2, 3, 31]);
    let usr2 = t.signal_actions[2];
    assert_eq!(
        (usr2.handler, usr2.flags, usr2.restorer),
        (0x7fda28b3c720, 0x1c000004, 0x7fda28af2050)
    );
    assert_eq!(t.cwd.as_deref(), Some("/tmp"));
    assert_eq!(t.umask, Some(0o022));
    assert_eq!(t.ids.map(|i| (i.vm, i.time_ns)), Some((2, Some(5))));
    assert_eq!(c.root_ids.map(|i| i.vm), Some(1));
    // The readers' annotations hold none of these: the renderer formats them.
    assert!(
        !image
            .details
            .annotations
            .iter()
            .any(|(k, _)| k == "criu.creds" || k.starts_with("criu.mm_"))
    );
}

/// The reader says what each VMA is; analysis labels from that alone.
#[test]
fn vma_kinds_come_from_the_status() {
    use crate::model::LinuxMappingKind as K;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/criu/images/tree");
    let image = read(&dir, &OpenOptions::default()).unwrap();
    let kind = |start: u64| {
        let r = image
            .process
            .regions
            .iter()
            .find(|r| r.start == start)
            .unwrap();
        r.linux.and_then(|l| l.kind)
    };
    assert_eq!(kind(0x564daa4b3000), Some(K::Heap));
    // CRIU marks the main stack by MAP_GROWSDOWN, not a status bit.
    assert_eq!(kind(0x7ffd558b3000), Some(K::AnonPrivate));
    // analysis labels it `[stack]` from MAP_GROWSDOWN (analysis::mmap
    // tests); the reader keeps the flag.
    let stack = image
        .process
        .regions
        .iter()
        .find(|r| r.start == 0x7ffd558b3000);
    assert!(stack.is_some_and(|r| r.linux.is_some_and(|l| l.mmap_flags & 0x100 != 0)));
    assert_eq!(kind(0x7ffd55936000), Some(K::Vvar));
    assert_eq!(kind(0x7ffd5593a000), Some(K::Vdso));
    let exe = image
        .process
        .regions
        .iter()
        .find(|r| {
            r.file
                .as_ref()
                .is_some_and(|f| f.path == "/opt/ckdump/tree")
        })
        .unwrap();
    assert_eq!(exe.linux.and_then(|l| l.kind), Some(K::FilePrivate));
    // Specials first: a heap is also anonymous private memory.
    assert_eq!(address_space::mapping_kind(0x221), K::Heap);
    assert_eq!(address_space::mapping_kind(0x201), K::AnonPrivate);
    assert_eq!(address_space::mapping_kind(0x1), K::Other);
}
