//! The running kernel (`ckdump inspect --kernel`): /proc/kcore read as a
//! kernel image (see [`crate::image::vmcore::kcore`]), with the CPUs online
//! from sysfs. Only root may read kcore; when it cannot be opened, one line
//! says what is missing and what to do instead.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::image::vmcore::kcore::{self, LiveFacts};
use crate::model::Image;

/// The running kernel's memory as an ELF core.
pub const KCORE: &str = "/proc/kcore";
/// The CPUs online, as a list of ranges (`0-3,6`).
const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
/// The lockdown LSM's mode, the active one in brackets.
const LOCKDOWN: &str = "/sys/kernel/security/lockdown";

/// Opens the running kernel through /proc/kcore.
pub fn open() -> Result<Image> {
    open_at(Path::new(KCORE))
}

/// Opens a kcore at `path` (the running kernel's when it is /proc/kcore).
pub fn open_at(path: &Path) -> Result<Image> {
    let file = open_kcore(path)?;
    let facts = LiveFacts {
        online_cpus: std::fs::read_to_string(CPU_ONLINE)
            .ok()
            .and_then(|list| cpu_list_count(&list)),
        read_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
    };
    kcore::read(path, file, facts)
}

fn open_kcore(path: &Path) -> Result<File> {
    let refused = |why: String| Error::new(path, ErrorKind::Unsupported(why));
    let file = File::open(path).map_err(|e| {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let lockdown = std::fs::read_to_string(LOCKDOWN).ok();
        refused(refusal(&e, euid, lockdown.as_deref()))
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::new(path, ErrorKind::Io(e)))?;
    // Container runtimes hide kcore by mounting /dev/null over it.
    if !meta.file_type().is_file() || meta.len() == 0 {
        let kind = if meta.file_type().is_file() {
            "an empty file".to_string()
        } else {
            format!("a {}", crate::image::special_kind(&meta.file_type()))
        };
        return Err(refused(format!(
            "masked: {kind} is mounted over it (container runtimes hide the kernel's memory so); run ckdump on the host, or in a privileged container"
        )));
    }
    Ok(file)
}

/// Why kcore could not be opened and what to do, as one line.
fn refusal(error: &std::io::Error, euid: u32, lockdown: Option<&str>) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "not present: this kernel was built without CONFIG_PROC_KCORE (or /proc is not mounted), so the running kernel cannot be read; inspect a dump of it instead (`ckdump inspect VMCORE`)".into(),
        std::io::ErrorKind::PermissionDenied if euid != 0 => "permission denied: reading the running kernel needs root; run `sudo ckdump inspect --kernel`".into(),
        std::io::ErrorKind::PermissionDenied => match lockdown.and_then(active_lockdown) {
            Some(mode) => format!(
                "refused: the kernel is locked down ({mode} mode, {LOCKDOWN}), which forbids reading its memory; inspect a dump of it instead (`ckdump inspect VMCORE`)"
            ),
            None => "permission denied although ckdump runs as root: reading kcore needs CAP_SYS_RAWIO, which this process lacks (containers drop it); run ckdump on the host".into(),
        },
        _ => format!("cannot be read: {error}"),
    }
}

/// The active lockdown mode (`none [integrity] confidentiality` →
/// integrity), None when it is none.
fn active_lockdown(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let len = text[start..].find(']')?;
    Some(&text[start..start + len]).filter(|&m| m != "none")
}

/// How many CPUs a sysfs CPU list (`0-3,6,8-9`) names.
fn cpu_list_count(list: &str) -> Option<u32> {
    /// No machine has more; a larger number is a garbled list.
    const MAX_CPU: u32 = 1 << 20;
    let mut count = 0u32;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if first > last || last >= MAX_CPU {
            return None;
        }
        count = count.checked_add(last - first + 1)?;
    }
    (count > 0).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_their_cpus() {
        assert_eq!(cpu_list_count("0-1\n"), Some(2));
        assert_eq!(cpu_list_count("0\n"), Some(1));
        assert_eq!(cpu_list_count("0-3,6,8-9\n"), Some(7));
        assert_eq!(cpu_list_count(""), None);
        assert_eq!(cpu_list_count("3-1"), None);
        assert_eq!(cpu_list_count("0-99999999"), None);
        assert_eq!(cpu_list_count("zero"), None);
    }

    #[test]
    fn each_refusal_says_what_to_do() {
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        let not_permitted = std::io::Error::from_raw_os_error(libc::EPERM);
        let absent = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert!(refusal(&absent, 0, None).starts_with("not present: "));
        assert_eq!(
            refusal(&denied, 1000, None),
            "permission denied: reading the running kernel needs root; run `sudo ckdump inspect --kernel`"
        );
        assert_eq!(
            refusal(
                &not_permitted,
                0,
                Some("none [integrity] confidentiality\n")
            ),
            "refused: the kernel is locked down (integrity mode, /sys/kernel/security/lockdown), which forbids reading its memory; inspect a dump of it instead (`ckdump inspect VMCORE`)"
        );
        assert!(
            refusal(
                &not_permitted,
                0,
                Some("[none] integrity confidentiality\n")
            )
            .contains("CAP_SYS_RAWIO")
        );
        assert!(refusal(&not_permitted, 0, None).contains("CAP_SYS_RAWIO"));
    }

    #[test]
    fn a_path_that_is_not_there_is_refused_in_one_line() {
        let e = open_at(Path::new("/nonexistent/kcore"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("/nonexistent/kcore: not present: "), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_masked_kcore_is_named() {
        let e = open_at(Path::new("/dev/null")).err().unwrap().to_string();
        assert!(
            e.starts_with("/dev/null: masked: a character device is mounted over it"),
            "{e}"
        );
    }
}
