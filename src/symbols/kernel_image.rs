//! Where a kernel dump's vmlinux may be, and whether a candidate is the
//! one the dump ran: its GNU build-id must be VMCOREINFO's BUILD-ID (a
//! vmlinux of another build names the wrong functions at every address).

use std::path::{Path, PathBuf};

use super::SymbolConfig;
use super::elf_file::ElfFile;
use super::locate;
use crate::model::Module;

/// Candidate vmlinux paths for the kernel-image `module`, in order:
/// files given as symbol-path entries (`--symbols /path/vmlinux`); in each
/// symbols directory the build-id tree, `vmlinux-RELEASE` and `vmlinux`;
/// then the distributions' debug locations (`/usr/lib/debug/.build-id/…`,
/// `/usr/lib/debug/boot/vmlinux-RELEASE`,
/// `/usr/lib/debug/lib/modules/RELEASE/vmlinux`, `/boot/vmlinux-RELEASE`,
/// `/lib/modules/RELEASE/build/vmlinux`) under the sysroot and, when
/// allowed, on this host.
pub(super) fn candidates(config: &SymbolConfig, module: &Module) -> Vec<PathBuf> {
    let release = module.kernel_release().filter(|r| is_plain_name(r));
    let by_build_id: Vec<PathBuf> = module
        .build_id
        .as_deref()
        .into_iter()
        .flat_map(|b| {
            [
                locate::build_id_path(b, ".debug"),
                locate::build_id_path(b, ""),
            ]
        })
        .flatten()
        .collect();
    // A module's .ko given beside the vmlinux is no vmlinux candidate
    // (it would be refused as another build).
    let mut out: Vec<PathBuf> = config
        .dirs
        .iter()
        .filter(|d| d.is_file() && !super::relocatable::is_relocatable_elf(d))
        .cloned()
        .collect();
    for dir in config.dirs.iter().filter(|d| d.is_dir()) {
        out.extend(by_build_id.iter().map(|rel| dir.join(rel)));
        if let Some(r) = release {
            out.push(dir.join(format!("vmlinux-{r}")));
        }
        out.push(dir.join("vmlinux"));
    }
    let mut roots: Vec<PathBuf> = config.sysroot.iter().cloned().collect();
    if config.use_host {
        roots.push(PathBuf::from("/"));
    }
    for root in roots {
        let debug = root.join("usr/lib/debug");
        out.extend(by_build_id.iter().map(|rel| debug.join(rel)));
        if let Some(r) = release {
            out.push(debug.join(format!("boot/vmlinux-{r}")));
            out.push(debug.join(format!("lib/modules/{r}/vmlinux")));
            out.push(root.join(format!("boot/vmlinux-{r}")));
            out.push(root.join(format!("lib/modules/{r}/build/vmlinux")));
        }
    }
    out
}

/// A release as VMCOREINFO writes it is one path component.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0'])
}

/// Why `elf` at `path` is not the dump's kernel, or Ok when it is: the
/// build-ids must agree; a dump without one (kernels before 5.9) accepts a
/// vmlinux whose `_stext`, displaced by KERNELOFFSET, is the dump's.
pub(super) fn check(module: &Module, elf: &ElfFile) -> Result<(), String> {
    match (&module.build_id, &elf.build_id) {
        (Some(want), Some(have)) if want == have => Ok(()),
        (Some(want), Some(have)) => Err(format!("build-id {have} differs from the dump's {want}")),
        (Some(want), None) => Err(format!(
            "has no build-id, so it cannot be matched to the dump's {want}"
        )),
        (None, _) => {
            let Some(bias) = module.load_bias else {
                return Ok(());
            };
            let stext = elf
                .symbols()
                .iter()
                .find(|s| s.name == "_stext")
                .map(|s| s.address)
                .ok_or("has no _stext symbol: not a vmlinux")?;
            let placed = stext.wrapping_add(bias);
            if placed == module.base {
                Ok(())
            } else {
                Err(format!(
                    "its _stext displaced by KERNELOFFSET is {placed:#x}, the dump's is {:#x}",
                    module.base
                ))
            }
        }
    }
}

/// The same file reached by two candidate paths (a build-id link and its
/// target) is considered once.
pub(super) fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(build_id: Option<&str>) -> Module {
        Module::kernel_image(
            Some("6.1.0-56-cloud-amd64"),
            build_id,
            0xffff_ffff_a680_0000,
            0x1000,
            Some(0x2580_0000),
        )
    }

    #[test]
    fn candidates_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my-vmlinux");
        std::fs::write(&file, b"x").unwrap();
        let config = SymbolConfig {
            dirs: vec![file.clone(), dir.path().to_path_buf()],
            sysroot: Some(PathBuf::from("/srv/root")),
            use_host: true,
            ..SymbolConfig::default()
        };
        let c = candidates(
            &config,
            &kernel(Some("3b43fad5034874490492495d552c0af6a5fab235")),
        );
        let d = dir.path();
        let id = ".build-id/3b/43fad5034874490492495d552c0af6a5fab235";
        let r = "6.1.0-56-cloud-amd64";
        let want: Vec<PathBuf> = vec![
            file,
            d.join(format!("{id}.debug")),
            d.join(id),
            d.join(format!("vmlinux-{r}")),
            d.join("vmlinux"),
            PathBuf::from(format!("/srv/root/usr/lib/debug/{id}.debug")),
            PathBuf::from(format!("/srv/root/usr/lib/debug/{id}")),
            PathBuf::from(format!("/srv/root/usr/lib/debug/boot/vmlinux-{r}")),
            PathBuf::from(format!("/srv/root/usr/lib/debug/lib/modules/{r}/vmlinux")),
            PathBuf::from(format!("/srv/root/boot/vmlinux-{r}")),
            PathBuf::from(format!("/srv/root/lib/modules/{r}/build/vmlinux")),
            PathBuf::from(format!("/usr/lib/debug/{id}.debug")),
            PathBuf::from(format!("/usr/lib/debug/{id}")),
            PathBuf::from(format!("/usr/lib/debug/boot/vmlinux-{r}")),
            PathBuf::from(format!("/usr/lib/debug/lib/modules/{r}/vmlinux")),
            PathBuf::from(format!("/boot/vmlinux-{r}")),
            PathBuf::from(format!("/lib/modules/{r}/build/vmlinux")),
        ];
        assert_eq!(c, want);
    }

    #[test]
    fn a_release_that_is_not_a_file_name_is_not_used() {
        let mut m = kernel(None);
        m.path = "vmlinux-../../etc".into();
        let config = SymbolConfig {
            use_host: true,
            ..SymbolConfig::default()
        };
        assert!(candidates(&config, &m).is_empty());
    }
}
