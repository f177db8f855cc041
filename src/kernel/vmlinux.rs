//! The kernel image of a dump as a module: where VMCOREINFO puts it, so
//! that the symbolizer can find its vmlinux (by build-id, release or an
//! explicit path) and name kernel frames from its DWARF; and what the
//! kernel layer reads from that vmlinux itself once it is matched: its ORC
//! tables (for a dump whose memory lacks them) and its full symbol table
//! (for a dump without readable kallsyms), both moved by KERNELOFFSET.

use std::sync::OnceLock;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolSection};

use super::kallsyms::KernelSymbols;
use super::orc::{OrcTables, OrcVersion};
use crate::memory::{Bytes, Memory, MemoryError, Segment, SegmentMemory};
use crate::model::{Module, Vmcoreinfo};
use crate::unwind::parser_guard::guarded;

/// Where the x86_64 kernel image is mapped (`__START_KERNEL_map`); the
/// image area is `KERNEL_IMAGE_SIZE` bytes from there, and modules follow.
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// KERNEL_IMAGE_SIZE of a KASLR kernel, when VMCOREINFO does not say.
const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 1 << 30;

/// The x86_64 kernel image as a module named `vmlinux`: from `SYMBOL(_stext)`
/// to the end of the kernel-image area (text, data and init text all lie
/// there; modules do not), displaced by KERNELOFFSET, identified by
/// BUILD-ID. None without `SYMBOL(_stext)` or with one outside the area.
pub fn kernel_image_module(info: &Vmcoreinfo) -> Option<Module> {
    let base = info.symbol("_stext")?;
    let image_size = info
        .number("KERNEL_IMAGE_SIZE")
        .and_then(|s| u64::try_from(s).ok())
        .filter(|&s| s > 0)
        .unwrap_or(DEFAULT_KERNEL_IMAGE_SIZE);
    let end = START_KERNEL_MAP.checked_add(image_size)?;
    if base < START_KERNEL_MAP || base >= end {
        return None;
    }
    Some(Module::kernel_image(
        info.osrelease(),
        info.build_id()
            .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_hexdigit())),
        base,
        end - base,
        info.kernel_offset(),
    ))
}

/// What is read from the dump's (build-id matched) vmlinux file.
pub struct VmlinuxImage {
    bytes: Bytes,
    /// Runtime minus link-time address (KERNELOFFSET).
    bias: u64,
    orc: Option<VmlinuxOrc>,
    symbols: OnceLock<Option<KernelSymbols>>,
}

/// The vmlinux's `.orc_unwind_ip` and `.orc_unwind`, placed at runtime
/// addresses over the file's bytes.
pub struct VmlinuxOrc {
    ip_start: u64,
    ip_stop: u64,
    orc_start: u64,
    /// Its `.orc_header` (6.4+): the hash naming the entries' layout.
    pub header: Option<[u8; 20]>,
    pub memory: SegmentMemory,
}

impl VmlinuxOrc {
    /// The tables, read as entries of `version`'s layout.
    pub fn tables(&self, version: OrcVersion) -> Option<OrcTables> {
        OrcTables::new(self.ip_start, self.ip_stop, self.orc_start, version)
    }
}

impl VmlinuxImage {
    /// The vmlinux in `bytes`, loaded `bias` above its link addresses.
    pub fn new(bytes: Bytes, bias: u64) -> Self {
        let orc = guarded(|| orc_sections(&bytes, bias)).flatten();
        VmlinuxImage {
            bytes,
            bias,
            orc,
            symbols: OnceLock::new(),
        }
    }

    /// Its ORC tables, when it has them and they are sorted (kernels
    /// before 5.6 sorted them at boot, so the file's order cannot be
    /// searched).
    pub fn orc(&self) -> Option<&VmlinuxOrc> {
        self.orc.as_ref()
    }

    /// Its whole symbol table (functions, data, per-CPU variables) as
    /// kallsyms would list it, relocated; read on first use.
    pub fn symbols(&self) -> Option<&KernelSymbols> {
        self.symbols
            .get_or_init(|| guarded(|| symbol_table(&self.bytes, self.bias)).flatten())
            .as_ref()
    }
}

/// Where the kernel-image symbols end and per-CPU offsets begin.
fn relocated(address: u64, bias: u64) -> u64 {
    if address >= START_KERNEL_MAP {
        address.wrapping_add(bias)
    } else {
        address
    }
}

fn orc_sections(bytes: &Bytes, bias: u64) -> Option<VmlinuxOrc> {
    let file = object::File::parse(&**bytes).ok()?;
    let section = |name: &str| {
        let s = file.section_by_name(name)?;
        let (offset, size) = s.file_range()?;
        Some((s.address(), offset, size))
    };
    let (ip_address, ip_offset, ip_size) = section(".orc_unwind_ip")?;
    let (orc_address, orc_offset, orc_size) = section(".orc_unwind")?;
    // One 4-byte ip per 6-byte entry.
    if ip_size % 4 != 0 || ip_size / 4 != orc_size / 6 || orc_size % 6 != 0 {
        return None;
    }
    let ips = bytes.get(
        usize::try_from(ip_offset).ok()?..usize::try_from(ip_offset.checked_add(ip_size)?).ok()?,
    )?;
    // Entry i covers code from `&ip[i] + ip[i]` on, in ascending order.
    let mut last = i128::MIN;
    for (i, word) in ips.chunks_exact(4).enumerate() {
        let relative = i32::from_le_bytes(word.try_into().ok()?);
        let ip = i128::from(ip_address) + 4 * i as i128 + i128::from(relative);
        if ip < last {
            return None;
        }
        last = ip;
    }
    let (ip_start, orc_start) = (relocated(ip_address, bias), relocated(orc_address, bias));
    let header = file
        .section_by_name(".orc_header")
        .and_then(|s| s.data().ok())
        .and_then(|d| <[u8; 20]>::try_from(d).ok());
    let segment = |address: u64, offset: u64, size: u64| Segment {
        address,
        size,
        captured: size,
        offset,
        bytes: bytes.clone(),
    };
    Some(VmlinuxOrc {
        ip_start,
        ip_stop: ip_start.checked_add(ip_size)?,
        orc_start,
        header,
        memory: SegmentMemory::new(vec![
            segment(ip_start, ip_offset, ip_size),
            segment(orc_start, orc_offset, orc_size),
        ]),
    })
}

/// The ELF symbol table as `nm` types it: text `t`, read-only `r`, data
/// `d`, bss `b`, absolute `a`, weak `W`/`V`; upper case when global.
fn symbol_table(bytes: &Bytes, bias: u64) -> Option<KernelSymbols> {
    let file = object::File::parse(&**bytes).ok()?;
    let mut list: Vec<(u64, u8, String)> = Vec::new();
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else { continue };
        if name.is_empty() || symbol.is_undefined() {
            continue;
        }
        let (kind, address) = match symbol.section() {
            SymbolSection::Absolute => (b'a', symbol.address()),
            SymbolSection::Section(index) => {
                let Ok(section) = file.section_by_index(index) else {
                    continue;
                };
                let kind = match section.kind() {
                    SectionKind::Text => b't',
                    SectionKind::UninitializedData => b'b',
                    SectionKind::ReadOnlyData | SectionKind::ReadOnlyString => b'r',
                    SectionKind::Data => b'd',
                    _ => continue,
                };
                (kind, relocated(symbol.address(), bias))
            }
            _ => continue,
        };
        if matches!(
            symbol.kind(),
            object::SymbolKind::File | object::SymbolKind::Section
        ) {
            continue;
        }
        let kind = match (symbol.is_weak(), kind) {
            (true, b't') => b'W',
            (true, _) => b'V',
            (false, k) if symbol.is_global() => k.to_ascii_uppercase(),
            (false, k) => k,
        };
        list.push((address, kind, name.to_string()));
    }
    if list.is_empty() {
        return None;
    }
    // Aliases in symbol-table order, as kallsyms (built from it) keeps them.
    list.sort_by_key(|&(address, _, _)| address);
    Some(KernelSymbols::from_list(
        list.iter().map(|(a, k, n)| (*a, *k, n.as_str())),
    ))
}

/// The dump's memory with a vmlinux's ORC tables laid over it: reads in
/// the tables come from the file, every other read (the stack) from the
/// dump.
pub struct OrcOverDump<'a> {
    pub tables: &'a SegmentMemory,
    pub dump: &'a dyn Memory,
}

impl Memory for OrcOverDump<'_> {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        match self.tables.read(address, buf) {
            Ok(n) if n > 0 => Ok(n),
            _ => self.dump.read(address, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_runs_from_stext_to_the_end_of_the_image_area() {
        let info = Vmcoreinfo::parse(
            b"OSRELEASE=6.1.0-56-cloud-amd64\nBUILD-ID=3b43fad5034874490492495d552c0af6a5fab235\n\
              SYMBOL(_stext)=ffffffffa6800000\nKERNELOFFSET=25800000\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n",
        );
        let m = kernel_image_module(&info).unwrap();
        assert_eq!(
            (m.name.as_str(), m.path.as_str()),
            ("vmlinux", "vmlinux-6.1.0-56-cloud-amd64")
        );
        assert_eq!(
            (m.base, m.base + m.size),
            (0xffff_ffff_a680_0000, 0xffff_ffff_c000_0000)
        );
        assert_eq!(m.load_bias, Some(0x2580_0000));
        assert_eq!(m.kernel_release(), Some("6.1.0-56-cloud-amd64"));
        assert_eq!(
            m.build_id.as_deref(),
            Some("3b43fad5034874490492495d552c0af6a5fab235")
        );
        // A _stext outside the kernel-image area places nothing.
        let info = Vmcoreinfo::parse(b"SYMBOL(_stext)=ffffffffc0000000\n");
        assert!(kernel_image_module(&info).is_none());
        let info = Vmcoreinfo::parse(b"BUILD-ID=../../x\nSYMBOL(_stext)=ffffffff81000000\n");
        assert_eq!(kernel_image_module(&info).unwrap().build_id, None);
    }
}
