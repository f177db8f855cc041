//! A file's full path from the kernel's directory-entry cache, as `d_path`
//! builds it: the dentry's name, then its parent's (`d_parent`), up to the
//! root of its file system (a dentry that is its own parent, or the mount's
//! `mnt_root`), then on from the mount point in the parent mount
//! (`struct mount`: `mnt_parent`, `mnt_mountpoint`, the `struct vfsmount`
//! embedded as `mnt`) until the mount that is its own parent. A chroot or
//! mount namespace is not taken into account: paths are from the root of
//! the mount tree the file lies in. Layouts come from BTF; every walk is
//! bounded (components, bytes, dentries seen once).

use std::collections::HashSet;

use crate::memory::Memory;

use super::btf::Btf;

/// Components of one path before it is called a loop (PATH_MAX / 2).
const MAX_COMPONENTS: usize = 2048;
/// The kernel's PATH_MAX.
const MAX_PATH: usize = 4096;
/// The kernel's NAME_MAX.
const MAX_NAME: u32 = 255;
/// Mount points crossed before the walk is called a loop.
const MAX_MOUNTS: usize = 256;

/// Where dentries, mounts and `struct path` keep what the walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DentryLayout {
    /// `dentry.d_parent`.
    pub parent: u64,
    /// `dentry.d_name.len` (u32) and `dentry.d_name.name` (a pointer).
    pub name_len: u64,
    pub name: u64,
    /// `struct path`: `mnt` and `dentry`.
    pub path_mnt: u64,
    pub path_dentry: u64,
    /// `vfsmount.mnt_root`.
    pub mnt_root: u64,
    /// `struct mount`: where its `struct vfsmount` lies, `mnt_parent`,
    /// `mnt_mountpoint`. None when BTF has no `struct mount` (paths then
    /// stop at their file system's root).
    pub mount: Option<MountLayout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountLayout {
    pub vfsmount: u64,
    pub parent: u64,
    pub mountpoint: u64,
}

impl DentryLayout {
    pub fn from_btf(btf: &Btf) -> Result<DentryLayout, String> {
        let find = |s: &str| {
            btf.struct_named(s)
                .ok_or_else(|| format!("BTF has no struct {s}"))
        };
        let at = |s: u32, m: &str, what: &str| {
            btf.member(s, m)
                .map(|m| m.offset)
                .ok_or_else(|| format!("BTF struct {what} has no {m}"))
        };
        let dentry = find("dentry")?;
        let path = find("path")?;
        let vfsmount = find("vfsmount")?;
        let mount = btf.struct_named("mount").and_then(|m| {
            Some(MountLayout {
                vfsmount: btf.member(m, "mnt")?.offset,
                parent: btf.member(m, "mnt_parent")?.offset,
                mountpoint: btf.member(m, "mnt_mountpoint")?.offset,
            })
        });
        Ok(DentryLayout {
            parent: at(dentry, "d_parent", "dentry")?,
            name_len: at(dentry, "d_name.len", "dentry")?,
            name: at(dentry, "d_name.name", "dentry")?,
            path_mnt: at(path, "mnt", "path")?,
            path_dentry: at(path, "dentry", "path")?,
            mnt_root: at(vfsmount, "mnt_root", "vfsmount")?,
            mount,
        })
    }
}

/// The full path of the `struct path` at `path` (`file->f_path`).
pub fn path_of(memory: &dyn Memory, layout: &DentryLayout, path: u64) -> Result<String, String> {
    let word = |at: u64| {
        memory
            .read_u64(at)
            .map_err(|e| format!("struct path at {path:#x} cannot be read: {e}"))
    };
    let mnt = word(path.wrapping_add(layout.path_mnt))?;
    let dentry = word(path.wrapping_add(layout.path_dentry))?;
    dentry_path(memory, layout, mnt, dentry)
}

/// The full path of `dentry` in the mount whose `struct vfsmount` is at
/// `vfsmount` (0: stop at the file system's root).
pub fn dentry_path(
    memory: &dyn Memory,
    layout: &DentryLayout,
    mut vfsmount: u64,
    mut dentry: u64,
) -> Result<String, String> {
    let read = |at: u64, what: &str| {
        memory
            .read_u64(at)
            .map_err(|e| format!("{what} at {at:#x} cannot be read: {e}"))
    };
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    let mut seen = HashSet::new();
    let mut mounts = 0usize;
    loop {
        if dentry == 0 {
            return Err("a null dentry on the way to the root".into());
        }
        let root = match vfsmount {
            0 => 0,
            m => read(m.wrapping_add(layout.mnt_root), "vfsmount")?,
        };
        let parent = read(dentry.wrapping_add(layout.parent), "dentry")?;
        if dentry == root || dentry == parent {
            // The root of this mount: go on from where it is mounted.
            let Some(mount_layout) = layout.mount.filter(|_| vfsmount != 0) else {
                break;
            };
            let mount = vfsmount.wrapping_sub(mount_layout.vfsmount);
            let parent_mount = read(mount.wrapping_add(mount_layout.parent), "mount")?;
            if parent_mount == mount || parent_mount == 0 {
                break;
            }
            mounts += 1;
            if mounts > MAX_MOUNTS {
                return Err(format!("more than {MAX_MOUNTS} mounts on the way: a loop"));
            }
            dentry = read(mount.wrapping_add(mount_layout.mountpoint), "mount")?;
            vfsmount = parent_mount.wrapping_add(mount_layout.vfsmount);
            continue;
        }
        if !seen.insert(dentry) || names.len() >= MAX_COMPONENTS {
            return Err(format!(
                "the dentries loop or run deeper than {MAX_COMPONENTS} at {dentry:#x}"
            ));
        }
        let name = dentry_name(memory, layout, dentry)?;
        bytes += name.len() + 1;
        if bytes > MAX_PATH {
            return Err(format!("the path is longer than {MAX_PATH} bytes"));
        }
        names.push(name);
        dentry = parent;
    }
    if names.is_empty() {
        return Ok("/".into());
    }
    let mut out = Vec::with_capacity(bytes);
    for name in names.iter().rev() {
        out.push(b'/');
        out.extend_from_slice(name);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// One dentry's own name (`d_name`), at most NAME_MAX bytes.
fn dentry_name(memory: &dyn Memory, layout: &DentryLayout, dentry: u64) -> Result<Vec<u8>, String> {
    let len = memory
        .read_u32(dentry.wrapping_add(layout.name_len))
        .map_err(|e| format!("dentry {dentry:#x}'s name cannot be read: {e}"))?;
    if len == 0 || len > MAX_NAME {
        return Err(format!(
            "dentry {dentry:#x}'s name is {len} bytes long, not 1 to {MAX_NAME}"
        ));
    }
    let name = memory
        .read_u64(dentry.wrapping_add(layout.name))
        .map_err(|e| format!("dentry {dentry:#x}'s name cannot be read: {e}"))?;
    let mut buf = vec![0u8; len as usize];
    memory
        .read_exact(name, &mut buf)
        .map_err(|e| format!("dentry {dentry:#x}'s name cannot be read: {e}"))?;
    if buf.contains(&b'/') || buf.contains(&0) {
        return Err(format!(
            "dentry {dentry:#x}'s name holds a '/' or NUL: not a file name"
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::maple_tree::tests::Pages;

    /// 6.1's x86_64 offsets (pahole).
    const LAYOUT: DentryLayout = DentryLayout {
        parent: 24,
        name_len: 36,
        name: 40,
        path_mnt: 0,
        path_dentry: 8,
        mnt_root: 0,
        mount: Some(MountLayout {
            vfsmount: 32,
            parent: 16,
            mountpoint: 24,
        }),
    };

    /// A dentry at `at` named `name` (its text at at + 0x80) under `parent`
    /// (itself for a root).
    fn dentry(p: &mut Pages, at: u64, name: &str, parent: u64) {
        p.put_u64(at + LAYOUT.parent, parent);
        p.put(at + LAYOUT.name_len, &(name.len() as u32).to_le_bytes());
        p.put_u64(at + LAYOUT.name, at + 0x80);
        p.put(at + 0x80, name.as_bytes());
    }

    /// A mount at `at` (its vfsmount at at + 32) of the tree rooted at
    /// `root`, mounted on `mountpoint` in `parent` (itself for the top).
    fn mount(p: &mut Pages, at: u64, root: u64, parent: u64, mountpoint: u64) {
        p.put_u64(at + 32 + LAYOUT.mnt_root, root);
        p.put_u64(at + 16, parent);
        p.put_u64(at + 24, mountpoint);
    }

    /// `/` (rootfs) with /bin/ckdump-threads, and a file system mounted
    /// on /usr holding lib/libc.so.6.
    fn tree() -> Pages {
        let mut p = Pages::default();
        dentry(&mut p, 0x1000, "/", 0x1000);
        dentry(&mut p, 0x2000, "bin", 0x1000);
        dentry(&mut p, 0x3000, "ckdump-threads", 0x2000);
        dentry(&mut p, 0x4000, "usr", 0x1000);
        mount(&mut p, 0x10000, 0x1000, 0x10000, 0x1000);
        dentry(&mut p, 0x5000, "/", 0x5000);
        dentry(&mut p, 0x6000, "lib", 0x5000);
        dentry(&mut p, 0x7000, "libc.so.6", 0x6000);
        mount(&mut p, 0x11000, 0x5000, 0x10000, 0x4000);
        p
    }

    #[test]
    fn paths_cross_mount_points_to_the_root() {
        let p = tree();
        assert_eq!(
            dentry_path(&p, &LAYOUT, 0x10000 + 32, 0x3000).unwrap(),
            "/bin/ckdump-threads"
        );
        assert_eq!(
            dentry_path(&p, &LAYOUT, 0x11000 + 32, 0x7000).unwrap(),
            "/usr/lib/libc.so.6"
        );
        // Without the mount: from its own file system's root.
        assert_eq!(
            dentry_path(&p, &LAYOUT, 0, 0x7000).unwrap(),
            "/lib/libc.so.6"
        );
        assert_eq!(dentry_path(&p, &LAYOUT, 0x10000 + 32, 0x1000).unwrap(), "/");
        // Through a struct path.
        let mut p = p;
        p.put_u64(0x9000, 0x11000 + 32);
        p.put_u64(0x9008, 0x6000);
        assert_eq!(path_of(&p, &LAYOUT, 0x9000).unwrap(), "/usr/lib");
    }

    #[test]
    fn hostile_dentries_end_with_an_error() {
        // Two dentries that are each other's parent.
        let mut p = tree();
        dentry(&mut p, 0x2000, "bin", 0x3000);
        let e = dentry_path(&p, &LAYOUT, 0, 0x3000).unwrap_err();
        assert!(e.contains("loop"), "{e}");
        // A name too long, one with a slash, an unreadable parent.
        let mut p = tree();
        p.put(0x3000 + LAYOUT.name_len, &4000u32.to_le_bytes());
        assert!(
            dentry_path(&p, &LAYOUT, 0, 0x3000)
                .unwrap_err()
                .contains("4000 bytes")
        );
        let mut p = tree();
        dentry(&mut p, 0x3000, "a/b", 0x2000);
        assert!(
            dentry_path(&p, &LAYOUT, 0, 0x3000)
                .unwrap_err()
                .contains("'/'")
        );
        let mut p = tree();
        p.put_u64(0x3000 + LAYOUT.parent, 0xdead_0000);
        assert!(
            dentry_path(&p, &LAYOUT, 0, 0x3000)
                .unwrap_err()
                .contains("cannot be read")
        );
        // Mounts on each other.
        let mut p = tree();
        mount(&mut p, 0x10000, 0x1000, 0x11000, 0x4000);
        let e = dentry_path(&p, &LAYOUT, 0x11000 + 32, 0x7000).unwrap_err();
        assert!(e.contains("loop"), "{e}");
    }

    #[test]
    fn a_chain_longer_than_path_max_is_cut() {
        // 3000 distinct dentries each named "dir", each the parent of the
        // one before: longer than PATH_MAX.
        let mut p = Pages::default();
        let at = |i: u64| 0x100_0000 + i * 0x100;
        for i in 0..3000u64 {
            p.put_u64(at(i) + LAYOUT.parent, at(i + 1));
            p.put(at(i) + LAYOUT.name_len, &3u32.to_le_bytes());
            p.put_u64(at(i) + LAYOUT.name, 0x10);
        }
        p.put(0x10, b"dir");
        let e = dentry_path(&p, &LAYOUT, 0, at(0)).unwrap_err();
        assert!(e.contains("longer than 4096"), "{e}");
    }
}
