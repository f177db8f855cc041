//! Kernel symbols from the kallsyms tables inside a real kdump (Debian
//! 6.1.0-56-cloud-amd64, `makedumpfile -c -d 31`), with nothing but the
//! dump: checked against the kernel's own System.map, shifted by the
//! dump's KASLR offset (VMCOREINFO KERNELOFFSET=0x25800000).

mod common;

use std::collections::{HashMap, HashSet};

use ckdump::kernel::kallsyms::{AddressEncoding, KernelSymbols};
use common::shared_path;

const VMCORE: &str = "generated/vmcores/vmcore-kdump-compressed-zlib-d31";
const SYSTEM_MAP: &str = "generated/vmcores/kernel/System.map-6.1.0-56-cloud-amd64";
const KASLR: u64 = 0x2580_0000;
/// x86_64's kernel text mapping starts here; below are per-CPU offsets.
const KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

fn symbols() -> Option<KernelSymbols> {
    let path = shared_path(VMCORE)?;
    let image = ckdump::open(&path, &ckdump::OpenOptions::default()).unwrap();
    let kernel = image.details.kernel.as_ref().unwrap();
    let info = kernel.vmcoreinfo.as_ref().unwrap();
    assert_eq!(info.kernel_offset(), Some(KASLR));
    Some(KernelSymbols::from_memory(&*image.process.memory, info).unwrap())
}

/// (address, type, name) lines of System.map.
fn system_map() -> Option<Vec<(u64, char, String)>> {
    let text = std::fs::read_to_string(shared_path(SYSTEM_MAP)?).unwrap();
    Some(
        text.lines()
            .map(|l| {
                let mut f = l.split_whitespace();
                let address = u64::from_str_radix(f.next().unwrap(), 16).unwrap();
                let kind = f.next().unwrap().chars().next().unwrap();
                (address, kind, f.next().unwrap().to_string())
            })
            .collect(),
    )
}

#[test]
fn kallsyms_in_the_dump_match_system_map() {
    let (Some(symbols), Some(map)) = (symbols(), system_map()) else {
        return;
    };
    // x86_64 6.1 SMP: CONFIG_KALLSYMS_ABSOLUTE_PERCPU.
    assert_eq!(symbols.encoding(), AddressEncoding::AbsolutePercpu);
    assert_eq!(symbols.len(), 87_347);
    for (name, unrelocated) in [
        ("_stext", 0xffff_ffff_8100_0000u64),
        ("panic", 0xffff_ffff_819c_cf31),
        ("sysrq_handle_crash", 0xffff_ffff_816a_89f0),
        ("native_safe_halt", 0xffff_ffff_81a1_7a00),
        ("__crash_kexec", 0xffff_ffff_8116_4640),
        // Data too (CONFIG_KALLSYMS_ALL).
        ("init_top_pgt", 0xffff_ffff_82a1_0000),
        ("init_task", 0xffff_ffff_82a1_aa40),
        ("page_offset_base", 0xffff_ffff_8239_8480),
        ("prb", 0xffff_ffff_82a6_22c0),
    ] {
        assert_eq!(
            symbols.address_of(name),
            Some(unrelocated + KASLR),
            "{name}"
        );
    }

    // Every text symbol of System.map, by name (local names repeat).
    let mut found: HashMap<&str, HashSet<u64>> = HashMap::new();
    for s in symbols.iter() {
        found.entry(s.name).or_default().insert(s.address);
    }
    let text: Vec<&(u64, char, String)> = map
        .iter()
        .filter(|(_, k, _)| matches!(k, 'T' | 't'))
        .collect();
    let missing: Vec<&&(u64, char, String)> = text
        .iter()
        .filter(|(a, _, n)| {
            !found
                .get(n.as_str())
                .is_some_and(|s| s.contains(&(a + KASLR)))
        })
        .collect();
    assert!(text.len() > 40_000, "{}", text.len());
    // Every one is there at its relocated address.
    assert!(
        missing.is_empty(),
        "{:?}",
        &missing[..missing.len().min(20)]
    );
    // Of all System.map's symbols, only the ones kallsyms leaves out of
    // itself are absent. Per-CPU symbols (offsets near 0) and absolute
    // constants are not relocated by KASLR.
    let relocated = |a: u64| if a >= KERNEL_MAP { a + KASLR } else { a };
    let absent: Vec<&str> = map
        .iter()
        .filter(|(a, _, n)| {
            !found
                .get(n.as_str())
                .is_some_and(|s| s.contains(&relocated(*a)))
        })
        .map(|(_, _, n)| n.as_str())
        .collect();
    // scripts/kallsyms leaves out linker-defined absolute values (`A`), its
    // own tables, and x86_64's init_per_cpu__ aliases.
    assert_eq!(
        absent,
        [
            "kexec_control_code_size",
            "text_size",
            "phys_startup_64",
            "kallsyms_offsets",
            "kallsyms_relative_base",
            "kallsyms_num_syms",
            "kallsyms_names",
            "kallsyms_markers",
            "kallsyms_seqs_of_names",
            "kallsyms_token_table",
            "kallsyms_token_index",
            "init_per_cpu__fixed_percpu_data",
            "init_per_cpu__irq_stack_backing_store",
            "init_per_cpu__gdt_page",
        ]
    );
    assert_eq!(map.len() - absent.len(), symbols.len());
}

#[test]
fn cpu_program_counters_resolve_to_functions() {
    let Some(symbols) = symbols() else {
        return;
    };
    // crash: CPU 0 idle in "native_safe_halt+11".
    assert_eq!(
        symbols.lookup(0xffff_ffff_a721_7a0b),
        Some(("native_safe_halt", 0xb))
    );
    // CPU 1 (the panicking one) saved its registers in __crash_kexec
    // (crash_setup_regs is inlined there): System.map puts __crash_kexec at
    // ffffffff81164640 and the next symbol at ffffffff81164770.
    assert_eq!(
        symbols.lookup(0xffff_ffff_a696_475a),
        Some(("__crash_kexec", 0x11a))
    );
    // Data addresses are not code.
    assert_eq!(symbols.lookup(0xffff_ffff_82a1_0000 + KASLR), None);
}

#[test]
fn inspect_reports_each_cpus_pc_symbol() {
    let Some(path) = shared_path(VMCORE) else {
        return;
    };
    let json = common::inspect_json(&path, &[]);
    let cpus = json["kernel"]["cpus"].as_array().unwrap();
    let symbols: Vec<&str> = cpus
        .iter()
        .map(|c| c["pc_symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["native_safe_halt+0xb", "__crash_kexec+0x11a"]);
}
