//! The kernel image of a dump as a module: where VMCOREINFO puts it, so
//! that the symbolizer can find its vmlinux (by build-id, release or an
//! explicit path) and name kernel frames from its DWARF.

use crate::model::{Module, Vmcoreinfo};

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
