//! The magic numbers of CRIU image files (criu/include/magic.h).
//!
//! Since image format v1.1 every file but inventory.img starts with a
//! "common" (or, for service files such as stats, a "service") magic word
//! followed by the per-image magic; inventory.img starts with its own
//! magic alone; raw images (pages-N.img) have no magic at all.

pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
pub const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;

pub const INVENTORY: u32 = 0x5831_3116;
pub const PSTREE: u32 = 0x5027_3030;
pub const FDINFO: u32 = 0x5621_3732;
pub const PAGEMAP: u32 = 0x5608_4025;
pub const CORE: u32 = 0x5505_3847;
pub const IDS: u32 = 0x5443_2030;
pub const SIGACT: u32 = 0x5534_4201;
pub const REG_FILES: u32 = 0x5036_3636;
pub const FS: u32 = 0x5140_3912;
pub const MM: u32 = 0x5749_2820;
pub const SECCOMP: u32 = 0x6441_3049;
pub const FILES: u32 = 0x5630_3138;
pub const TIMENS: u32 = 0x4311_4433;

/// What follows an image's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Length-prefixed entries and nothing else.
    Entries,
    /// Each entry is followed by a payload whose size only the entry's
    /// message says (pipe data, socket queues, ghost files, IPC): entries
    /// are not counted for these.
    EntriesWithPayload,
}

/// (magic, name as `crit` prints it, layout).
const KNOWN: &[(u32, &str, Layout)] = {
    use Layout::{Entries as E, EntriesWithPayload as P};
    &[
        (INVENTORY, "INVENTORY", E),
        (PSTREE, "PSTREE", E),
        (FDINFO, "FDINFO", E),
        (PAGEMAP, "PAGEMAP", E),
        (CORE, "CORE", E),
        (IDS, "IDS", E),
        (0x5412_3737, "VMAS", E),
        (0x5651_3555, "PIPES", E),
        (0x5645_3709, "PIPES_DATA", P),
        (0x5836_4939, "FIFO", E),
        (0x5933_3054, "FIFO_DATA", P),
        (SIGACT, "SIGACT", E),
        (0x5437_3943, "UNIXSK", E),
        (0x5644_3851, "INETSK", E),
        (0x6045_4618, "PACKETSK", E),
        (0x5746_4056, "ITIMERS", E),
        (0x5260_3957, "POSIX_TIMERS", E),
        (0x5626_4026, "SK_QUEUES", P),
        (0x5447_3203, "UTSNS", E),
        (0x5402_3547, "CREDS", E),
        (0x5311_5007, "IPC_VAR", E),
        (0x4628_3044, "IPCNS_SHM", P),
        (0x5545_3737, "IPCNS_MSG", P),
        (0x5957_3019, "IPCNS_SEM", P),
        (REG_FILES, "REG_FILES", E),
        (0x5925_5641, "EXT_FILES", E),
        (FS, "FS", E),
        (MM, "MM", E),
        (0x5913_3954, "REMAP_FPATH", E),
        (0x5258_3605, "GHOST_FILE", P),
        (0x5146_5506, "TCP_STREAM", P),
        (0x4452_3722, "EVENTFD_FILE", E),
        (0x4502_3858, "EVENTPOLL_FILE", E),
        (0x4443_3746, "EVENTPOLL_TFD", E),
        (0x5732_3820, "SIGNALFD", E),
        (0x4842_4431, "INOTIFY_FILE", E),
        (0x5456_2009, "INOTIFY_WD", E),
        (0x5556_3928, "MNTS", E),
        (0x5737_3951, "NETDEV", E),
        (0x5593_3752, "NETNS", E),
        (0x5943_3025, "TTY_FILES", E),
        (0x5945_3036, "TTY_INFO", E),
        (0x5941_3026, "TTY_DATA", E),
        (0x5432_3616, "FILE_LOCKS", E),
        (0x5711_3925, "RLIMIT", E),
        (0x5509_6122, "FANOTIFY_FILE", E),
        (0x5650_6035, "FANOTIFY_MARK", E),
        (0x5925_5647, "SIGNAL", E),
        (0x5800_5614, "NETLINK_SK", E),
        (0x6139_4011, "NS_FILES", E),
        (0x5714_3751, "TUNFILE", E),
        (0x5938_3330, "CGROUP", E),
        (0x5049_3712, "TIMERFD", E),
        (0x6140_4013, "CPUINFO", E),
        (0x5547_4906, "USERNS", E),
        (SECCOMP, "SECCOMP", E),
        (0x6734_3323, "BINFMT_MISC", E),
        (0x4935_3943, "AUTOFS", E),
        (FILES, "FILES", E),
        (0x4845_3499, "MEMFD_INODE", E),
        (TIMENS, "TIMENS", E),
        (0x6115_7326, "PIDNS", E),
        (0x5750_6142, "BPFMAP_FILE", E),
        (0x6432_4033, "BPFMAP_DATA", P),
        (0x5942_3047, "APPARMOR", E),
        (0x5443_5556, "PIDFD", E),
        (0x5709_3306, "STATS", E),
        (0x5700_4059, "IRMAP_CACHE", E),
    ]
};

/// Name and layout of an image magic, if CRIU defines it.
pub fn lookup(magic: u32) -> Option<(&'static str, Layout)> {
    KNOWN
        .iter()
        .find(|(m, _, _)| *m == magic)
        .map(|&(_, name, layout)| (name, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (m, name, _) in KNOWN {
            assert!(seen.insert(*m), "{name} {m:#x} twice");
        }
        assert_eq!(lookup(CORE), Some(("CORE", Layout::Entries)));
        assert_eq!(lookup(0), None);
    }
}
