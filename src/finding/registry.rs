//! The check registry: every stable code ckdump can report, its severity,
//! what it looks at, what to do about it and when it applies.

use super::{Check, Scope, Severity};

macro_rules! checks {
    ($( $ident:ident = $code:literal, $name:literal, $sev:ident, $scope:ident, $summary:literal, $hint:literal; )*) => {
        $( pub const $ident: Check = Check {
            code: $code, name: $name, severity: Severity::$sev,
            summary: $summary, hint: $hint, scope: Scope::$scope,
        }; )*
        /// Every check ckdump can report, in code order.
        pub const CHECKS: &[Check] = &[ $( $ident ),* ];
    };
}

checks! {
    // --- 1xxx: ELF container structure (cores, vmcores, snapshots) ---
    ELF_HEADER = "CKD-E1001", "elf-header", Error, ElfCore,
        "The ELF header is complete, of class 32/64, little-endian, of type ET_CORE, for a known machine.",
        "The file is not an ELF core or its first bytes are damaged; check that the dump was copied completely.";
    ELF_PHDR_BOUNDS = "CKD-E1002", "program-headers-in-file", Error, ElfCore,
        "The program header table lies inside the file and has entries of the expected size.",
        "The dump is truncated or its header is corrupt; re-copy it from the crashed machine.";
    ELF_NOTE_BOUNDS = "CKD-E1003", "notes-in-file", Error, ElfCore,
        "Every PT_NOTE segment lies inside the file.",
        "The dump was cut short before its notes; threads and registers cannot be trusted.";
    ELF_NOTE_MALFORMED = "CKD-E1004", "note-well-formed", Error, ElfCore,
        "Every note has a name and descriptor that fit its segment and a descriptor of the size its type requires.",
        "A note is damaged; the threads or mappings it describes are missing from the report.";
    ELF_SEGMENT_TRUNCATED = "CKD-E1005", "segment-in-file", Error, ElfCore,
        "Every PT_LOAD's file bytes (p_offset + p_filesz) lie inside the file.",
        "The dump is truncated (disk full, crash during write, partial copy); memory past the cut is missing.";
    ELF_SEGMENT_ABSENT = "CKD-N1006", "segment-not-captured", Note, ElfCore,
        "PT_LOAD segments with p_filesz < p_memsz: mapped memory whose bytes the writer left out.",
        "Usually coredump_filter at work; set /proc/PID/coredump_filter (e.g. 0x3f) to capture file-backed pages too.";
    ELF_SEGMENT_OVERLAP = "CKD-E1007", "segments-disjoint", Error, ElfCore,
        "PT_LOAD segments do not overlap in virtual memory or in the file.",
        "Overlapping segments mean a corrupt program header table; reads in the overlap are ambiguous.";
    ELF_SEGMENT_UNALIGNED = "CKD-W1008", "segment-aligned", Warning, ElfCore,
        "PT_LOAD virtual addresses and sizes are page-aligned, and file offsets agree with vaddr modulo the alignment.",
        "Kernel and gdb cores are always page-aligned; this file was edited or written by an unusual tool.";
    THREAD_COUNT = "CKD-E1009", "thread-notes-consistent", Error, ElfCore,
        "There is at least one NT_PRSTATUS, thread ids are unique, and every thread has the same set of per-thread notes.",
        "A thread's notes are missing or duplicated; its registers may belong to another thread.";
    NT_FILE_CONSISTENT = "CKD-W1010", "file-mappings-match-segments", Warning, ElfCore,
        "Every NT_FILE mapping lies inside a PT_LOAD segment.",
        "NT_FILE and the program headers disagree; module addresses may be wrong.";
    NOTE_UNKNOWN = "CKD-N1011", "unknown-note", Note, ElfCore,
        "Notes of types ckdump does not decode are listed.",
        "Nothing to do; the note is kept and shown by --format json.";
    COMPRESSED_TRUNCATED = "CKD-E1012", "compressed-stream-complete", Error, Any,
        "A compressed image decompresses to its end without error.",
        "The compressed file is truncated or corrupt; only the bytes before the damage were read.";

    // --- 2xxx: the saved state, whatever the format ---
    THREAD_SP = "CKD-E2001", "stack-pointer-mapped", Error, Process,
        "Every thread's stack pointer lies in a present, writable mapping.",
        "The thread's stack is missing from the image or its registers are corrupt; its backtrace cannot be trusted.";
    THREAD_PC = "CKD-E2002", "program-counter-executable", Error, Process,
        "Every thread's program counter lies in an executable mapping.",
        "A pc outside executable memory means a jump to a bad address (the crash itself) or corrupt registers.";
    NO_THREADS = "CKD-E2003", "has-threads", Error, Process,
        "The image holds at least one thread with registers.",
        "Without threads there is nothing to unwind; the dump is damaged or was written without thread state.";
    FAULT_THREAD = "CKD-E2004", "fault-thread-present", Error, Process,
        "The thread named by the fault record is among the image's threads.",
        "The crash record points at a thread the image does not hold; the crashing stack is unknown.";
    REGIONS_OVERLAP = "CKD-E2005", "regions-disjoint", Error, Process,
        "Memory regions are sorted and do not overlap.",
        "Overlapping regions mean corrupt mapping tables; reads in the overlap are ambiguous.";
    FAULT_PC = "CKD-W2006", "fault-pc-executable", Warning, Process,
        "The crashing thread's pc, when it is the address the fault names, lies in executable memory.",
        "The thread jumped to this address and faulted fetching from it: that is the crash itself (a bad function pointer, a smashed return address), not damage to the dump. Its caller is found from the stack.";

    // --- 3xxx: restore readiness against a host or sysroot ---
    MAPPED_FILE_MISSING = "CKD-W3001", "mapped-file-present", Warning, Process,
        "Every file the process mapped exists on this host (or under --sysroot).",
        "Install the same package versions, or pass --sysroot pointing at a copy of the crashed machine's files.";
    MAPPED_FILE_BUILD_ID = "CKD-E3002", "mapped-file-identity", Error, Process,
        "Every mapped file on the host has the build-id the image recorded.",
        "The file changed since the dump (an upgrade); symbols and restores need the original: use --sysroot.";
    MAPPED_FILE_SIZE = "CKD-E3003", "mapped-file-size", Error, Process,
        "Every file-backed mapping lies inside the host file's size.",
        "The host file is shorter than the mapping recorded in the image; it is not the file the process used.";
    // Without --sysroot the comparison is with the analysing machine, which
    // is rarely the crashed one: a difference there says the symbols may be
    // wrong, not that the dump is bad, so it is a warning. Named with
    // --sysroot, the crashed machine's files must match: E3002 / E3003.
    HOST_FILE_BUILD_ID = "CKD-W3004", "host-file-identity", Warning, Process,
        "Without --sysroot: every mapped file on this host has the build-id the image recorded.",
        "This host's file is not the one the process mapped (another package version): symbols and unwind tables read from it may be wrong. Pass --sysroot (or --symbols) with the crashed machine's files; verify then checks them as errors.";
    HOST_FILE_SIZE = "CKD-W3005", "host-file-size", Warning, Process,
        "Without --sysroot: every file-backed mapping lies inside this host's copy of the file.",
        "This host's file is shorter than the process's mapping of it: it is another version. Pass --sysroot with the crashed machine's files; verify then checks them as errors.";

    // --- 5xxx: minidump structure ---
    MDMP_STREAM_BOUNDS = "CKD-E5001", "streams-in-file", Error, Minidump,
        "Every stream's RVA and size lie inside the file.",
        "The minidump is truncated; streams past the cut are missing from the report.";
    MDMP_STREAM_OVERLAP = "CKD-E5002", "streams-disjoint", Error, Minidump,
        "No two streams share bytes.",
        "Overlapping streams mean a corrupt directory; their contents cannot both be right.";
    MDMP_STREAM_DUPLICATE = "CKD-W5003", "single-streams-once", Warning, Minidump,
        "Single-instance streams (thread list, module list, exception, system info…) appear once.",
        "Only the first copy is read; the writer is buggy or the file was edited.";
    MDMP_MEMORY_OVERLAP = "CKD-E5004", "memory-ranges-disjoint", Error, Minidump,
        "Captured memory ranges do not overlap.",
        "Overlapping memory descriptors make reads in the overlap ambiguous.";
    MDMP_THREAD_CONTEXT = "CKD-E5005", "thread-contexts-present", Error, Minidump,
        "Every thread has a CPU context of the size its CPU needs.",
        "A thread without a context cannot be unwound; the dump is damaged.";
    MDMP_MODULE_OVERLAP = "CKD-E5006", "modules-disjoint", Error, Minidump,
        "Module address ranges do not overlap.",
        "Overlapping modules make every address in the overlap ambiguous; the module list is corrupt.";
    MDMP_MEMORY_UNCOMMITTED = "CKD-W5007", "memory-in-committed-regions", Warning, Minidump,
        "Captured memory lies in committed regions of the MemoryInfoList.",
        "The memory list and the memory info list disagree; one of them is stale or corrupt.";
    MDMP_CODEVIEW = "CKD-W5008", "codeview-records-valid", Warning, Minidump,
        "Every module's CodeView record is a readable RSDS, NB10 or ELF build-id record.",
        "A damaged CodeView record hides the module's PDB identity; symbols are found only through the binary.";
    MDMP_STREAM_UNREADABLE = "CKD-E5009", "streams-readable", Error, Minidump,
        "Every stream of a known type that the directory lists can be parsed.",
        "What the stream holds (threads, modules, memory, the exception) is missing from the report; the stream is damaged or cut.";
    MDMP_MEMORY_BOUNDS = "CKD-E5010", "memory-in-file", Error, Minidump,
        "Every memory descriptor's bytes lie inside the file.",
        "The dump is truncated or its memory list is corrupt; reads past the cut fail.";
    MDMP_THREAD_STACK = "CKD-W5011", "thread-stacks-present", Warning, Minidump,
        "Every thread's stack descriptor is non-empty and lies inside the file.",
        "Without its stack a thread unwinds no further than its registers.";

    // --- reader findings for damaged input that verify used to pass ---
    MDMP_STREAM_MISSING = "CKD-E5012", "required-streams-present", Error, Minidump,
        "The streams a process dump needs are in the directory: ThreadListStream (or ThreadExListStream), ModuleListStream, SystemInfoStream, and MemoryListStream or Memory64ListStream.",
        "Without them there are no threads, no modules or no stack memory to unwind; the directory entry was damaged or the writer failed. Take the dump again.";
    MDMP_MEMORY_LIST_COUNT = "CKD-E5013", "memory-list-count-fits", Error, Minidump,
        "The range count in the memory list header matches the descriptors its stream holds.",
        "The count is damaged or the stream is cut short; only the ranges that fit are read, memory described after them is missing.";
    ELF_NO_MEMORY = "CKD-E1013", "has-memory-segments", Error, ElfCore,
        "The core has at least one PT_LOAD segment.",
        "With no memory no stack, module or variable can be read and threads show their registers only. The kernel writes a PT_LOAD for every mapping even when coredump_filter leaves its bytes out, and gdb one for every mapping it saves (all but unmodified read-only file mappings, which always include the stack), so the program header table is damaged.";

    // --- 6xxx: CRIU image directories ---
    CRIU_IMAGE_HEADER = "CKD-E6001", "criu-image-magic", Error, CriuImages,
        "Every image file starts with the magic its name calls for (common magic, then the image's own).",
        "The file is damaged or is not the image its name says; what it holds is missing from the report.";
    CRIU_ENTRY_BOUNDS = "CKD-E6002", "criu-entries-in-file", Error, CriuImages,
        "Every entry's length prefix fits inside its image file.",
        "The image file is cut short or a length is damaged; entries past that point are missing. Re-copy the directory.";
    CRIU_ENTRY_DECODE = "CKD-E6003", "criu-entries-decode", Error, CriuImages,
        "Every entry decodes as its image's protobuf message and has the fields ckdump needs (addresses, ids).",
        "The entry is damaged; the thread, mapping or task it describes is missing or incomplete in the report.";
    CRIU_IMAGE_MISSING = "CKD-E6004", "criu-images-present", Error, CriuImages,
        "Every image the process tree calls for (core-TID, ids, mm, pagemap, pages, files) is in the directory.",
        "The directory is incomplete (a partial copy, or the dump failed); criu restore will fail too.";
    CRIU_PAGES_SIZE = "CKD-E6005", "criu-pages-match-pagemap", Error, CriuImages,
        "pages-N.img holds exactly the pages its pagemap lists as present, no fewer and no more.",
        "Fewer: the pages file is cut short and memory past the cut is missing. More: a pagemap entry is lost, so every page after it would be read from the wrong offset.";
    CRIU_PAGEMAP_LAYOUT = "CKD-E6006", "criu-pagemap-consistent", Error, CriuImages,
        "Pagemap entries are page-aligned, non-empty, sorted, disjoint and inside the process's VMAs.",
        "The pagemap is damaged; memory in the listed ranges cannot be trusted.";
    CRIU_PROCESS_TREE = "CKD-E6007", "criu-process-tree", Error, CriuImages,
        "pstree.img lists tasks with unique pids and thread ids, and every parent it names is in the tree.",
        "The process tree is damaged; tasks or threads may be missing from the report and from a restore.";
    CRIU_TASKS_CAPPED = "CKD-W6015", "criu-task-views", Warning, CriuImages,
        "Every task pstree.img lists is read as a process of its own.",
        "A tree this large is read in part, so that a damaged pstree.img cannot push memory without bound: the first tasks are read as processes, the rest only listed.";
    CRIU_REFERENCES = "CKD-E6008", "criu-references-resolve", Error, CriuImages,
        "Every file id an entry names (exe_file_id, file-backed VMAs, descriptors, cwd and root) is in files.img.",
        "files.img is incomplete or damaged; mappings and descriptors that name the missing ids have no path.";
    CRIU_PAGES_ELSEWHERE = "CKD-N6009", "criu-pages-elsewhere", Note, CriuImages,
        "Pages kept in a parent snapshot (pre-dump) or left for lazy restore are not in this directory.",
        "Reads of those pages fail; inspect the parent directory, or dump without --lazy-pages for a self-contained image.";
    CRIU_UNKNOWN_IMAGE = "CKD-N6010", "criu-unknown-image", Note, CriuImages,
        "Image files whose magic ckdump does not know are listed.",
        "Nothing to do; the file is kept and listed by --format json.";
    CRIU_VMAS = "CKD-E6011", "criu-vmas-consistent", Error, CriuImages,
        "Every task's VMAs in mm-PID.img are page-aligned, in ascending address order and disjoint.",
        "The memory map is damaged; of two overlapping VMAs the later is left out of the report, and criu restore would fail to map them.";
    CRIU_PAGE_CLAIMED_TWICE = "CKD-E6012", "criu-pages-claimed-once", Error, CriuImages,
        "No page is listed by two pagemap entries (in this image, in the parent, or lazy).",
        "A duplicated or damaged pagemap entry: restore would fill the page twice and which bytes the process saw is unknown. Take a new dump.";
    CRIU_PARENT_PAGES = "CKD-E6013", "criu-parent-holds-pages", Error, CriuImages,
        "Every page an incremental dump marks in-parent is in the parent snapshot it points to.",
        "parent/ is not the snapshot this dump was taken against (replaced, pruned or damaged); restore cannot fill those pages. Restore from a full dump or bring back the right parent.";
    CRIU_PAGE_TOTALS = "CKD-W6014", "criu-page-totals", Warning, CriuImages,
        "The pages the pagemaps list (in this image, in the parent) add up to what CRIU counted while dumping (stats-dump).",
        "A pagemap entry and its pages were lost together, or stats-dump belongs to another dump; compare the directory with its original.";

    // --- 61xx: container checkpoint archives (Podman, CRI-O, kubelet) ---
    ARCHIVE_MEMBER_PATH = "CKD-E6101", "archive-member-paths", Error, ContainerCheckpoint,
        "Every archive member's name is relative and stays inside the archive: no absolute path, no `..` component.",
        "The archive was crafted or damaged; such members are never read. Do not extract it with a tool that honours those paths, and take a new checkpoint.";
    ARCHIVE_LINK_ESCAPE = "CKD-E6102", "archive-links-contained", Error, ContainerCheckpoint,
        "Every symbolic or hard link member points at a path inside the archive.",
        "A link leading out of the archive (to /etc/passwd, ../..) is never followed by ckdump; extracting or restoring this archive is unsafe.";
    ARCHIVE_TRUNCATED = "CKD-E6103", "archive-complete", Error, ContainerCheckpoint,
        "The tar stream is whole: every header is intact, every member's data is present, and the end-of-archive marker follows the last member.",
        "The archive was cut short (an interrupted export or copy, a full disk); members past the cut are missing. Copy or export it again.";
    ARCHIVE_DUPLICATE_MEMBER = "CKD-E6104", "archive-members-unique", Error, ContainerCheckpoint,
        "Each member name appears once in the archive.",
        "Extraction keeps the last copy, which is the one ckdump reads; a tool that reads the first sees other data. Re-export the checkpoint.";
    ARCHIVE_MEMBER_TYPE = "CKD-W6105", "archive-member-types", Warning, ContainerCheckpoint,
        "Members are regular files, directories or links; devices, FIFOs and sparse files are listed and not read.",
        "Container engines write none of these; the archive was made or edited by another tool, and those members are ignored.";
    CONTAINER_METADATA = "CKD-W6106", "container-metadata", Warning, ContainerCheckpoint,
        "config.dump and spec.dump are present and are JSON objects; network.status, stats-dump and deleted.files decode when present.",
        "The container's name, image, runtime or times are missing from the report, and `podman container restore --import` will likely refuse the archive.";

    // --- 62xx: restore readiness of a checkpoint (against this host or --root) ---
    RESTORE_FILE_MISSING = "CKD-E6201", "restore-file-present", Error, RestoreTarget,
        "Every regular file the checkpoint refers to (executable, mapped files, open descriptors, cwd, root) exists under the restore root.",
        "criu restore opens these by path and fails without them: restore onto the rootfs the dump was taken from (--root DIR to check another one), or recreate the file.";
    RESTORE_FILE_SIZE = "CKD-E6202", "restore-file-size", Error, RestoreTarget,
        "Every referenced file has the size CRIU recorded at dump time (files opened write-only with O_APPEND are not recorded).",
        "criu restore refuses a file of another size (\"File ... has bad size\"): the file changed since the dump (an upgrade, a rewrite); put the original back.";
    RESTORE_FILE_MODE = "CKD-E6203", "restore-file-mode", Error, RestoreTarget,
        "Every referenced file has the type and permission bits CRIU recorded.",
        "criu restore refuses a file whose st_mode differs (\"File ... has bad mode\"): chmod it back, or it is not the same file.";
    RESTORE_PAGES_UNAVAILABLE = "CKD-E6204", "restore-pages-available", Error, CriuImages,
        "Every page the pagemaps list for a private writable region is held by a file: this image, a parent that has it, or (noted) a lazy-pages server.",
        "Those pages of the process (its data, heap or stack) would be lost on restore: the pages file is cut, or the parent snapshot is missing. Re-copy the directory with its parent chain.";
    RESTORE_WRITTEN_PAGES = "CKD-E6205", "restore-written-pages", Error, CriuImages,
        "Pages the process certainly wrote are in the pagemap: the page at each thread's stack pointer, the first page of the brk heap, and the page holding argv.",
        "A pagemap entry for the process's own data is lost; restore would map zeros there and the process would crash. Take a new dump.";
    RESTORE_CPU_FEATURES = "CKD-E6206", "restore-cpu-features", Error, RestoreTarget,
        "Every XSAVE component the saved FPU state uses (XSTATE_BV: x87, SSE, AVX, MPX, AVX-512, PKRU, AMX…) is enabled on the restore host, which has the dump's architecture.",
        "The kernel refuses (or silently drops) state the CPU or kernel does not enable: restore on a host with these features (compare /proc/cpuinfo flags; check another host with --cpuinfo FILE).";

    // --- 63xx: integrity seals (`ckdump seal`, checked by verify when a seal is present) ---
    SEAL_FILE_MODIFIED = "CKD-E6301", "sealed-file-modified", Error, Sealed,
        "Every sealed file still has the SHA-256 digest the seal recorded — per chunk where the seal has chunk digests, which name the changed byte ranges and the memory they hold — and every sealed link its target.",
        "The file changed after it was sealed (tampering, a bad copy, disk damage); do not restore from it. Compare with the original, or take a new checkpoint and seal it.";
    SEAL_FILE_SIZE = "CKD-E6302", "sealed-file-size", Error, Sealed,
        "Every sealed file still has the size the seal recorded.",
        "The file grew or shrank after it was sealed (a truncated copy, an interrupted transfer, an edit); copy it again from where it was sealed.";
    SEAL_FILE_MISSING = "CKD-E6303", "sealed-file-present", Error, Sealed,
        "Every file the seal lists is still there and readable.",
        "A sealed file was deleted, renamed or made unreadable; the saved state is incomplete. Copy the whole directory again.";
    SEAL_FILE_ADDED = "CKD-W6304", "no-unsealed-files", Warning, Sealed,
        "No file was added beside the sealed ones.",
        "A file appeared after sealing. A restore log (`criu restore -o restore.log` writes into the image directory) is harmless; an added image file changes what a restore does: remove it or re-seal once you trust it.";
    SEAL_MANIFEST_UNREADABLE = "CKD-E6305", "seal-manifest-valid", Error, Sealed,
        "The seal manifest is readable JSON of a known version (ckdump-seal/1 or /2, sha256) with well-formed entries (in /2 a chunk size and one well-formed chunk digest per chunk of every file larger than a chunk), and matches the kind of path it is checked against.",
        "The manifest is damaged or was written by a newer ckdump; nothing it says can be trusted. Re-seal from a trusted copy of the saved state.";
    SEAL_HMAC_MISMATCH = "CKD-E6306", "seal-hmac-valid", Error, Sealed,
        "The manifest's HMAC-SHA256 matches the key given with --key-file or --key-env.",
        "Either the key is not the one the seal was made with, or the manifest was edited after sealing (for instance to hide a changed file): treat the saved state as untrusted.";
    SEAL_HMAC_MISSING = "CKD-E6307", "seal-hmac-present", Error, Sealed,
        "When a key is given, a seal exists and carries an HMAC.",
        "Without an HMAC anyone who can write the directory can rewrite the digests too. Seal again with --key-file or --key-env, or check without a key to compare digests only.";
    SEAL_HMAC_UNCHECKED = "CKD-N6308", "seal-hmac-unchecked", Note, Sealed,
        "The manifest carries an HMAC but no key was given, so only the digests were compared.",
        "Pass the sealing key with --key-file or --key-env to check that the manifest itself is authentic.";

    // --- 70xx: Linux vmcore structure (kdump-compressed, flattened) ---
    KDUMP_HEADER = "CKD-E7001", "kdump-header", Error, Makedumpfile,
        "The kdump-compressed header is complete: signature KDUMP or DISKDUMP, header version 1-6, a power-of-two block size, and sub-header, bitmap and page counts that fit the file.",
        "The header is damaged or the file is not a whole kdump-compressed dump; nothing past it can be located. Copy the dump again from the machine that captured it.";
    KDUMP_SUBHEADER_REGIONS = "CKD-E7002", "kdump-subheader-regions", Error, Makedumpfile,
        "The regions the sub-header names (VMCOREINFO, ELF notes, eraseinfo) and the split PFN range lie inside the file and are of sane sizes.",
        "VMCOREINFO or the CPU register notes cannot be read: symbols, page tables and the crashing CPU's registers are unknown.";
    KDUMP_BITMAPS = "CKD-E7003", "kdump-bitmaps-in-file", Error, Makedumpfile,
        "Both page bitmaps lie inside the file and cover max_mapnr pages, and every page dumped (2nd bitmap) is RAM (1st bitmap).",
        "The file is cut inside its bitmaps or they are damaged; which pages were dumped is unknown and no page can be read.";
    KDUMP_DESCRIPTORS = "CKD-E7004", "kdump-page-descriptors", Error, Makedumpfile,
        "The page descriptor table lies inside the file and every descriptor names a page of valid size and compression that lies inside the file.",
        "The dump was cut short (disk full, interrupted copy) or descriptors are damaged; the pages they describe are missing.";
    KDUMP_PAGE_DECOMPRESS = "CKD-E7005", "kdump-pages-decompress", Error, Makedumpfile,
        "Every page read decompresses to exactly one page.",
        "Those pages are corrupt in the file and are reported as not captured; copy the dump again, or re-run makedumpfile from the original.";
    KDUMP_INCOMPLETE = "CKD-E7006", "kdump-complete", Error, Makedumpfile,
        "The dump's status does not carry makedumpfile's incomplete flag (the writer stopped before all pages, usually for want of disk space).",
        "Pages whose descriptors were never written are lost; dump again to a target with room for the whole dump.";
    FLATTENED_RECORDS = "CKD-E7007", "flattened-records", Error, Makedumpfile,
        "The flattened stream's records lie inside the file, have non-negative offsets and sizes, and the stream ends with its end marker.",
        "The stream was cut short (an interrupted ssh pipe, a full disk); bytes past the damage are missing from the dump it carries.";
    VMCOREINFO_PRESENT = "CKD-W7008", "vmcoreinfo-present", Warning, Vmcore,
        "The dump carries the kernel's VMCOREINFO with the entries ckdump needs: OSRELEASE, PAGESIZE and the page-table root (SYMBOL(init_top_pgt) or swapper_pg_dir).",
        "Without them the kernel's virtual memory, its log and the panic message cannot be read from the dump alone (QEMU dumps of a guest without kdump configured have none); take the dump with kdump, or pass the matching vmlinux.";
    KERNEL_MEMORY_READABLE = "CKD-W7009", "kernel-memory-readable", Warning, Vmcore,
        "The kernel's page tables, its printk ring buffer and each CPU's stack at its saved stack pointer can be read from the dump.",
        "The page-table root, the log or a stack lies in pages the dump does not hold, or they are damaged (the finding says which and why); the panic message, the log or that CPU's backtrace are missing from the report.";
    CPU_REGISTERS_PRESENT = "CKD-E7010", "cpu-registers-present", Error, Vmcore,
        "There is a register note (NT_PRSTATUS) for every CPU the dump says was online, and for the CPU that panicked.",
        "A CPU's saved registers are missing (a crash on a CPU that did not answer the crash NMI, or a damaged note section); its stack cannot be shown.";
    DUMP_LEVEL_EXCLUDED = "CKD-N7011", "dump-level-excluded", Note, Vmcore,
        "What the dump level left out, in words: zero, cache, private cache, user and free pages.",
        "Pages of the classes the finding names read as absent, never as zeros: without user pages no user-space stack can be shown, without free pages no use-after-free evidence, without cache pages no file contents. Dump with a lower makedumpfile -d level to keep what you need.";
    VMCOREINFO_NOTE = "CKD-N7012", "vmcoreinfo-note", Note, Vmcore,
        "The dump carries VMCOREINFO as a note of its own, where dump tools look for it.",
        "It did not (QEMU's dump-guest-memory of a guest that never loaded qemu_fw_cfg, or run without -device vmcoreinfo); ckdump found the copy the kernel keeps in its own memory and read the dump with it. Other tools (drgn, makedumpfile) will refuse this dump: for them, start QEMU with -device vmcoreinfo and load qemu_fw_cfg in the guest.";

    // --- 702x: the kernel's symbol files (vmlinux, System.map, modules' .ko) ---
    VMLINUX_BUILD_ID = "CKD-W7020", "vmlinux-build-id", Warning, VmcoreSymbols,
        "Every vmlinux offered for the dump (--symbols FILE or DIR, build-id trees, /usr/lib/debug/boot/vmlinux-RELEASE…) carries the dump's GNU build-id (VMCOREINFO BUILD-ID); one of another build is refused, never used.",
        "That vmlinux is another build of the kernel: its functions, lines and ORC tables would be wrong at every address. Install the debug package of exactly this kernel (Debian linux-image-RELEASE-dbg, Fedora kernel-debuginfo) or pass its vmlinux with --symbols.";
    SYSTEM_MAP_MATCHES = "CKD-W7021", "system-map-matches", Warning, VmcoreSymbols,
        "Every System.map offered for the dump agrees with it: relocated by KERNELOFFSET, its symbols sit where VMCOREINFO's SYMBOL() entries and the dump's kallsyms put them; one that does not is refused, never used.",
        "That System.map is from another build of the kernel; pass the crashed machine's /boot/System.map-RELEASE, or better its vmlinux with DWARF.";
    MODULE_KO_BUILD_ID = "CKD-W7022", "module-ko-build-id", Warning, VmcoreSymbols,
        "Every .ko offered for a loaded module (--symbols FILE or DIR, build-id trees, /usr/lib/debug/lib/modules/RELEASE, /lib/modules/RELEASE) is a readable relocatable ELF object carrying the build-id the module has in the dump's memory; one of another build, or one that cannot be read, is refused, never used.",
        "That .ko is another build of the module (or damaged): its functions and lines would be wrong. The module's frames stay named from its own symbols in the dump; pass the .ko it was loaded from (the -dbg package of the kernel, or the module's build tree) with --symbols.";

    // --- 71xx: makedumpfile --split sets (several files read as one kernel dump) ---
    KDUMP_SPLIT_SAME_DUMP = "CKD-E7101", "kdump-split-same-dump", Error, KdumpSplit,
        "Every part of a --split set belongs to the same dump as the part that starts lowest: the same kernel, dump time, page size, max_mapnr, CPU count, dump level, phys_base, VMCOREINFO and page bitmaps.",
        "A file of another dump (another crash, or the same one dumped again at another -d level) was given with the set; its pages are left out. Give the files one makedumpfile --split run wrote.";
    KDUMP_SPLIT_COMPLETE = "CKD-E7102", "kdump-split-complete", Error, KdumpSplit,
        "The parts' PFN ranges together cover every page frame from 0 to max_mapnr.",
        "A part of the set is missing: the pages it holds read as not captured, so page tables, the log or stacks there may be lost. Give every file makedumpfile --split wrote.";
    KDUMP_SPLIT_DISJOINT = "CKD-W7103", "kdump-split-disjoint", Warning, KdumpSplit,
        "No two parts of a --split set hold the same page frames.",
        "Parts of two --split runs of the same dump were mixed (their PFN ranges differ); where they overlap the pages are read from the part that starts first. Give the files of one run.";
    KDUMP_SPLIT_PART_ONCE = "CKD-W7104", "kdump-split-parts-unique", Warning, KdumpSplit,
        "Each part of a --split set is given once.",
        "The same part was given twice (the same path, or a copy); it is read once. Nothing is lost, but check that no other part was meant in its place.";
    KDUMP_SPLIT_ALONE = "CKD-E7105", "kdump-split-set-given", Error, KdumpSplit,
        "A part of a --split set is read together with the rest of its set.",
        "This file holds the pages of its own PFN range only; the others are in the files makedumpfile wrote with it. Pass them all, in any order: ckdump inspect vmcore.1 vmcore.2 ...";

    // --- 4xxx: symbols (checked when verify is given --symbols) ---
    SYMBOLS_MISSING = "CKD-W4001", "module-symbols-found", Warning, WithSymbols,
        "Every module that has code on a thread's stack has symbols (DWARF, PDB, Breakpad or a symbol table).",
        "Add the directory or symbol server that holds them with --symbols, or install the -dbg / -dbgsym package.";
}

/// Looks a check up by code.
pub fn check_by_code(code: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.code == code)
}
