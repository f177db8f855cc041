//! System.map: the kernel's symbol list as its build wrote it (`nm -n`
//! lines `ADDRESS TYPE NAME`), for naming kernel frames when no vmlinux is
//! at hand. Its addresses are link-time ones: those in the kernel-image
//! area move by KERNELOFFSET (KASLR), per-CPU offsets and absolute (`A`)
//! symbols do not — as kallsyms lists them. A map is used only when it
//! agrees with the dump (VMCOREINFO's SYMBOL() entries and kallsyms).

use std::path::{Path, PathBuf};

use super::kallsyms::KernelSymbols;
use crate::model::Vmcoreinfo;
use crate::symbols::SymbolConfig;

/// Larger than any real System.map (a distribution kernel's is ~4 MiB).
const MAX_FILE: u64 = 256 << 20;
/// Where the x86_64 kernel image is linked; below it, per-CPU offsets.
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// kallsyms symbols compared with the map besides VMCOREINFO's: enough to
/// tell another build (every function moves when any code changes size)
/// at a cost of a few hundred lookups.
const KALLSYMS_SAMPLES: usize = 512;

/// A System.map that agrees with the dump, relocated.
pub struct SystemMap {
    pub path: PathBuf,
    pub symbols: KernelSymbols,
    /// How many of its symbols were checked against the dump.
    pub agreeing: usize,
}

/// Parses System.map text, moving kernel-image symbols by `kernel_offset`.
/// Every non-empty line must be `HEX TYPE NAME`, or the file is not one.
pub fn parse(text: &[u8], kernel_offset: u64) -> Result<KernelSymbols, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not text".to_string())?;
    let mut list: Vec<(u64, u8, &str)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let parsed = (|| {
            let address = fields.next().filter(|a| a.len() <= 16)?;
            let address = u64::from_str_radix(address, 16).ok()?;
            let kind = fields.next().filter(|k| k.len() == 1)?.as_bytes()[0];
            let name = fields.next()?;
            (kind.is_ascii_alphabetic() && fields.next().is_none()).then_some((address, kind, name))
        })();
        let Some((address, kind, name)) = parsed else {
            return Err(format!("line {} is not `ADDRESS TYPE NAME`", number + 1));
        };
        let address = if address >= START_KERNEL_MAP && !matches!(kind, b'A' | b'a') {
            address
                .checked_add(kernel_offset)
                .ok_or_else(|| format!("{name} at {address:#x} moved past the address space"))?
        } else {
            address
        };
        list.push((address, kind, name));
    }
    if list.is_empty() {
        return Err("lists no symbols".into());
    }
    // Aliases in the order kallsyms keeps them, so that both name an
    // address alike: non-weak first, then symbols a linker script does
    // not provide, then fewer leading underscores, then file order.
    list.sort_by_key(|&(address, kind, name)| {
        (
            address,
            matches!(kind, b'w' | b'W'),
            linker_script_provided(name),
            name.bytes().take_while(|&b| b == b'_').count(),
        )
    });
    Ok(KernelSymbols::from_list(list))
}

/// `__start_X`, `__stop_X`, `__end_X`, `__X_start`, `__X_end`: names a
/// linker script defines, which kallsyms sorts after the real symbol at
/// the same address.
fn linker_script_provided(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("__").filter(|_| name.len() >= 8) else {
        return false;
    };
    ["start_", "stop_", "end_"]
        .iter()
        .any(|p| rest.starts_with(p))
        || name.ends_with("_start")
        || name.ends_with("_end")
}

/// Whether `map` belongs to the dump: every VMCOREINFO `SYMBOL()` in the
/// kernel image and a sample of kallsyms' symbols (when the dump's tables
/// could be read) must sit where the map, relocated, puts them. Returns
/// how many agreed, or the first disagreement.
pub fn check(
    map: &KernelSymbols,
    info: &Vmcoreinfo,
    kallsyms: Option<&KernelSymbols>,
) -> Result<usize, String> {
    let mut agreeing = 0;
    let mut compare = |name: &str, dump: u64, source: &str| -> Result<(), String> {
        match map.address_of(name) {
            Some(at) if at == dump => {
                agreeing += 1;
                Ok(())
            }
            Some(at) => Err(format!(
                "{name} is at {at:#x} by the map (relocated by KERNELOFFSET) but at {dump:#x} by {source}"
            )),
            None => Ok(()),
        }
    };
    for (key, _) in &info.entries {
        let Some(name) = key
            .strip_prefix("SYMBOL(")
            .and_then(|k| k.strip_suffix(')'))
        else {
            continue;
        };
        // Some SYMBOL() values are pointers to the heap (mem_section).
        if let Some(dump) = info.symbol(name).filter(|&a| a >= START_KERNEL_MAP) {
            compare(name, dump, "the dump's VMCOREINFO")?;
        }
    }
    if let Some(kallsyms) = kallsyms {
        let step = (kallsyms.len() / KALLSYMS_SAMPLES).max(1);
        for symbol in kallsyms.iter().step_by(step) {
            if symbol.address < START_KERNEL_MAP {
                continue;
            }
            if let Some(dump) = kallsyms.address_of(symbol.name) {
                compare(symbol.name, dump, "the dump's kallsyms")?;
            }
        }
    }
    if agreeing == 0 {
        return Err("no symbol of the map can be checked against the dump".into());
    }
    Ok(agreeing)
}

/// Reads and parses the System.map at `path`; None when it is not one
/// (a directory, another kind of file, too large).
pub fn open(path: &Path, kernel_offset: u64) -> Option<Result<KernelSymbols, String>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    // An ELF file given with --symbols is a vmlinux, not a map.
    if bytes.starts_with(b"\x7fELF") {
        return None;
    }
    Some(parse(&bytes, kernel_offset))
}

/// Candidate System.map paths, in order: files given as symbol-path
/// entries; in each symbols directory `System.map-RELEASE` and
/// `System.map`; `/boot/System.map-RELEASE` and
/// `/lib/modules/RELEASE/build/System.map` under the sysroot and, when
/// allowed, on this host.
pub fn candidates(config: &SymbolConfig, release: Option<&str>) -> Vec<PathBuf> {
    let release = release.filter(|r| !r.is_empty() && *r != ".." && !r.contains(['/', '\0']));
    let mut out: Vec<PathBuf> = config
        .dirs
        .iter()
        .filter(|d| d.is_file())
        .cloned()
        .collect();
    for dir in config.dirs.iter().filter(|d| d.is_dir()) {
        if let Some(r) = release {
            out.push(dir.join(format!("System.map-{r}")));
        }
        out.push(dir.join("System.map"));
    }
    let mut roots: Vec<PathBuf> = config.sysroot.iter().cloned().collect();
    if config.use_host {
        roots.push(PathBuf::from("/"));
    }
    for root in roots {
        if let Some(r) = release {
            out.push(root.join(format!("boot/System.map-{r}")));
            out.push(root.join(format!("lib/modules/{r}/build/System.map")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &[u8] = b"0000000000000000 D __per_cpu_start\n\
        00000000000001ea A kexec_control_code_size\n\
        0000000000001000 D cpu_debug_store\n\
        ffffffff81000000 T _stext\n\
        ffffffff81000000 T __start_text\n\
        ffffffff81000000 T _text\n\
        ffffffff81164640 T __crash_kexec\n\
        ffffffff81164770 T crash_kexec\n\
        ffffffff81e01ef2 T _etext\n\
        ffffffff82bf9b60 D init_uts_ns\n";

    #[test]
    fn kernel_image_symbols_move_by_the_offset_and_per_cpu_ones_do_not() {
        let map = parse(MAP, 0x2580_0000).unwrap();
        assert_eq!(map.address_of("_stext"), Some(0xffff_ffff_a680_0000));
        assert_eq!(map.address_of("cpu_debug_store"), Some(0x1000));
        assert_eq!(map.address_of("kexec_control_code_size"), Some(0x1ea));
        assert_eq!(
            map.lookup(0xffff_ffff_a696_475a),
            Some(("__crash_kexec", 0x11a))
        );
        // Aliases as kallsyms orders them: fewer underscores first, and a
        // linker-script name after the real symbols.
        assert_eq!(map.lookup(0xffff_ffff_a680_0010), Some(("_stext", 0x10)));
        let order: Vec<&str> = map
            .iter()
            .filter(|s| s.address == 0xffff_ffff_a680_0000)
            .map(|s| s.name)
            .collect();
        assert_eq!(order, ["_stext", "_text", "__start_text"]);
    }

    #[test]
    fn malformed_maps_are_refused() {
        assert!(parse(b"", 0).is_err());
        assert!(parse(b"\xff\xfe", 0).is_err());
        assert_eq!(
            parse(b"ffffffff81000000 T _stext\nhello world\n", 0)
                .err()
                .unwrap(),
            "line 2 is not `ADDRESS TYPE NAME`"
        );
        assert!(parse(b"ffffffff81000000 T _stext extra\n", 0).is_err());
        assert!(parse(b"1ffffffff81000000 T _stext\n", 0).is_err());
        assert!(parse(b"ffffffffffffffff T top\n", 1).is_err());
    }

    #[test]
    fn a_map_must_agree_with_vmcoreinfo() {
        let info = Vmcoreinfo::parse(
            b"SYMBOL(_stext)=ffffffffa6800000\nSYMBOL(init_uts_ns)=ffffffffa83f9b60\n\
              SYMBOL(mem_section)=ff16802356e00000\n",
        );
        let map = parse(MAP, 0x2580_0000).unwrap();
        assert_eq!(check(&map, &info, None), Ok(2));
        // The same map without the offset: another kernel, as far as the
        // dump can tell.
        let unmoved = parse(MAP, 0).unwrap();
        assert_eq!(
            check(&unmoved, &info, None).unwrap_err(),
            "_stext is at 0xffffffff81000000 by the map (relocated by KERNELOFFSET) but at \
             0xffffffffa6800000 by the dump's VMCOREINFO"
        );
        let nothing_in_common = Vmcoreinfo::parse(b"SYMBOL(prb)=ffffffffa82622c0\n");
        assert!(check(&map, &nothing_in_common, None).is_err());
    }
}
