//! The `criu.*` lines of the text report, formatted from the typed facts
//! the CRIU reader fills (`CheckpointInfo::task`, `root_ids`), spelled as
//! the reader's annotations were: `criu.creds = uid 0 gid 0 …`,
//! `criu.mm_brk = 0x…`, `criu.sigaction.15 = handler 0x… flags 0x…`.
//! Pure functions: no I/O, no reading of images.

use crate::model::{CheckpointInfo, Image, OpenFile, TaskFacts, TaskIds};

/// Every annotation of an image as the text report prints it: the
/// reader's key/value annotations with the checkpoint's typed facts
/// formatted in their places (the root's ids after `criu.lsm`, the task's
/// facts after the dump's).
pub fn annotation_lines<'a>(
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    checkpoint: Option<&CheckpointInfo>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut root_ids = checkpoint.and_then(|c| c.root_ids.as_ref());
    for (key, value) in annotations {
        out.push((key.to_string(), value.to_string()));
        if key == "criu.lsm"
            && let Some(ids) = root_ids.take()
        {
            out.push(("criu.root_ids".into(), ids_text(ids)));
        }
    }
    if let Some(ids) = root_ids {
        out.push(("criu.root_ids".into(), ids_text(ids)));
    }
    if let Some(c) = checkpoint {
        out.extend(task_lines(&c.task, &c.open_files));
    }
    out
}

/// [`annotation_lines`] of an image's own annotations and checkpoint.
pub fn annotations(image: &Image) -> Vec<(String, String)> {
    annotation_lines(
        image
            .details
            .annotations
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        image.process.checkpoint.as_ref(),
    )
}

/// The `criu.*` lines of one task: pages kept elsewhere, ids, task state,
/// credentials, mm fields, signal dispositions, cwd/root, umask,
/// descriptors and seccomp mode.
pub fn task_lines(facts: &TaskFacts, open_files: &[OpenFile]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut line = |key: &str, value: String| out.push((format!("criu.{key}"), value));
    if let Some(p) = &facts.pages_elsewhere {
        line(
            "pages_elsewhere",
            format!("{} in the parent snapshot, {} lazy", p.in_parent, p.lazy),
        );
    }
    if let Some(ids) = &facts.ids {
        line("ids", ids_text(ids));
    }
    if let Some(s) = &facts.state {
        line("task_state", s.name());
        line("exit_code", s.exit_code.to_string());
        line("personality", format!("{:#x}", s.personality));
        line("blk_sigset", format!("{:#x}", s.blocked_signals));
    }
    if let Some(c) = &facts.credentials {
        line(
            "creds",
            format!(
                "uid {} gid {} euid {} egid {} suid {} sgid {} fsuid {} fsgid {} cap_eff {:#x} cap_prm {:#x} cap_bnd {:#x} secbits {:#x}",
                c.uid,
                c.gid,
                c.euid,
                c.egid,
                c.suid,
                c.sgid,
                c.fsuid,
                c.fsgid,
                c.cap_effective,
                c.cap_permitted,
                c.cap_bounding,
                c.secure_bits
            ),
        );
    }
    if let Some(m) = &facts.mm {
        for (k, v) in [
            ("mm_start_code", m.start_code),
            ("mm_end_code", m.end_code),
            ("mm_start_data", m.start_data),
            ("mm_end_data", m.end_data),
            ("mm_start_stack", m.start_stack),
            ("mm_start_brk", m.start_brk),
            ("mm_brk", m.brk),
            ("mm_arg_start", m.arg_start),
            ("mm_arg_end", m.arg_end),
            ("mm_env_start", m.env_start),
            ("mm_env_end", m.env_end),
        ] {
            line(k, format!("{v:#x}"));
        }
        if let Some(id) = m.exe_file_id {
            let path = m.exe_path.as_deref().unwrap_or("?");
            line("exe_file", format!("{path} (file id {id})"));
        }
    }
    for sa in &facts.signal_actions {
        line(
            &format!("sigaction.{}", sa.signo),
            format!(
                "handler {:#x} flags {:#x} restorer {:#x} mask {:#x}",
                sa.handler, sa.flags, sa.restorer, sa.mask
            ),
        );
    }
    if let Some(p) = &facts.cwd {
        line("cwd", p.clone());
    }
    if let Some(p) = &facts.root {
        line("root", p.clone());
    }
    if let Some(u) = facts.umask {
        line("umask", format!("{u:04o}"));
    }
    for f in open_files {
        line(&format!("fd.{}", f.fd), descriptor_text(f));
    }
    if let Some(mode) = facts.seccomp_mode {
        let name = match mode {
            1 => "strict",
            2 => "filter",
            _ => "unknown",
        };
        line("seccomp_mode", name.into());
    }
    out
}

/// What a descriptor names: the path of a regular file files.img lists,
/// else its type and id.
fn descriptor_text(f: &OpenFile) -> String {
    // The reader records flags exactly for the regular files it found.
    if f.kind == "REG" && f.flags.is_none() {
        format!("file id {} (not in files.img)", f.file_id)
    } else {
        f.target.clone()
    }
}

/// `vm 1 files 2 fs 3 sighand 4 pid_ns 5 …`, namespaces only when known.
pub fn ids_text(ids: &TaskIds) -> String {
    let mut parts = vec![
        format!("vm {}", ids.vm),
        format!("files {}", ids.files),
        format!("fs {}", ids.fs),
        format!("sighand {}", ids.sighand),
    ];
    for (name, v) in [
        ("pid_ns", ids.pid_ns),
        ("net_ns", ids.net_ns),
        ("ipc_ns", ids.ipc_ns),
        ("uts_ns", ids.uts_ns),
        ("mnt_ns", ids.mnt_ns),
        ("user_ns", ids.user_ns),
        ("cgroup_ns", ids.cgroup_ns),
        ("time_ns", ids.time_ns),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name} {v}"));
        }
    }
    parts.join(" ")
}

/// CRIU's VMA status bits by name, as `crit` spells them:
/// `VMA_AREA_REGULAR | VMA_FILE_PRIVATE`.
pub fn vma_status(status: u32) -> String {
    crate::analysis::mmap::vma_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed facts of the tree fixture's root, as the text report
    /// prints them.
    #[test]
    fn task_facts_render_as_the_criu_lines() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/criu/images/tree");
        let image = crate::image::open(&dir, &crate::image::OpenOptions::default()).unwrap();
        let lines = crate::render::checkpoint::annotations(&image);
        let line = |key: &str| {
            lines
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            line("criu.sigaction.31"),
            Some("handler 0x7fda28b3c720 flags 0x1c000004 restorer 0x7fda28af2050 mask 0x0")
        );
        assert_eq!(line("criu.exe_file"), Some("/opt/ckdump/tree (file id 1)"));
        assert_eq!(line("criu.umask"), Some("0022"));
        assert_eq!(line("criu.fd.1"), Some("/tmp/tree.out"));
        assert_eq!(
            line("criu.root_ids"),
            Some(
                "vm 1 files 1 fs 1 sighand 1 pid_ns 1 net_ns 2 ipc_ns 3 uts_ns 4 mnt_ns 6 user_ns 7 cgroup_ns 8 time_ns 5"
            )
        );
        // root_ids follows criu.lsm, as it did when the reader wrote it.
        let at = |key: &str| lines.iter().position(|(k, _)| k == key);
        assert_eq!(at("criu.root_ids"), at("criu.lsm").map(|i| i + 1));
    }

    #[test]
    fn vma_status_spelled_like_crit() {
        assert_eq!(
            vma_status(0x1 | 0x200 | 0x1000),
            "VMA_AREA_REGULAR | VMA_ANON_PRIVATE | VMA_AREA_VVAR"
        );
        assert_eq!(
            vma_status(0x40 | 0x4),
            "VMA_AREA_VSYSCALL | VMA_FILE_PRIVATE"
        );
        assert_eq!(vma_status(1 << 26), "0x4000000");
    }
}
