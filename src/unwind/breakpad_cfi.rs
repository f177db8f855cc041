//! Breakpad STACK CFI: postfix rules from a `.sym` file, for modules whose
//! binary (and so whose DWARF CFI) is not at hand.

use std::collections::HashMap;

use super::postfix::evaluate_postfix;
use super::{CodeInfo, FoundBy, Step};
use crate::memory::Memory;
use crate::model::{Arch, RegisterSet, register_names};

/// Breakpad's name for a model register: `$rsp` on x86, `sp` / `x29` on ARM.
fn breakpad_names(arch: Arch, name: &str) -> Vec<String> {
    match arch {
        Arch::X86_64 | Arch::X86 => vec![format!("${name}")],
        Arch::Aarch64 => match name {
            "fp" => vec!["x29".into(), "fp".into()],
            "lr" => vec!["x30".into(), "lr".into()],
            other => vec![other.to_string()],
        },
        Arch::Arm => vec![name.to_string()],
    }
}

pub(super) fn step(
    registers: &RegisterSet,
    pc_is_exact: bool,
    memory: &dyn Memory,
    code: &dyn CodeInfo,
) -> Option<Step> {
    let arch = registers.arch;
    let pc = registers.pc()?;
    let lookup = if pc_is_exact { pc } else { pc.checked_sub(1)? };
    let rules = code.breakpad_cfi(lookup)?;
    let mut values: HashMap<String, u64> = HashMap::new();
    for (name, value) in registers.iter() {
        for n in breakpad_names(arch, name) {
            values.insert(n, value);
        }
    }
    let width = arch.pointer_size();
    let read = |addr: u64| memory.read_pointer(addr, width).ok();
    let rule = |name: &str| {
        rules
            .iter()
            .find(|(r, _)| r == name)
            .map(|(_, e)| e.as_str())
    };
    let cfa = evaluate_postfix(rule(".cfa")?, &values, &read, width)?;
    values.insert(".cfa".into(), cfa);
    let ra = evaluate_postfix(rule(".ra")?, &values, &read, width)?;

    // Registers no rule mentions keep their values (callee-saved ones the
    // function did not touch); the rules override the rest.
    let mut caller = registers.clone();
    for (reg, expr) in &rules {
        if reg == ".cfa" || reg == ".ra" {
            continue;
        }
        let Some(value) = evaluate_postfix(expr, &values, &read, width) else {
            continue;
        };
        let name = reg.trim_start_matches('$');
        let name = match (arch, name) {
            (Arch::Aarch64, "x29") => "fp",
            (Arch::Aarch64, "x30") => "lr",
            (_, n) => n,
        };
        if register_names(arch).iter().any(|(n, _)| *n == name) {
            caller.set_named(name, value);
        }
    }
    caller.set(RegisterSet::sp_number(arch), cfa);
    caller.set(RegisterSet::pc_number(arch), ra);
    Some(Step::returned_to(caller, FoundBy::Cfi))
}
