//! The command line's arguments (clap), with the help text and examples
//! each command shows.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ckdump",
    version,
    about = "Open, inspect and verify saved process state: crash dumps, core files, checkpoints",
    long_about = "ckdump opens a saved state of a process — Linux ELF core files and minidumps, \
                  plain or zstd/xz/bzip2/gzip-compressed, CRIU image directories, and container \
                  checkpoint archives (Podman, CRI-O, kubelet; tar, tar.gz, tar.zst) read in place — and reports the crash, every thread's \
                  symbolized stack, registers, modules and memory map (`inspect`), or checks it \
                  for damage and restore readiness with stable finding codes (`verify`), \
                  seals saved states with SHA-256 manifests (`seal`), and compares two of them \
                  (`diff`). It also reads live Linux processes (`inspect --pid`) and saves them \
                  as ELF core files (`snapshot`), and the running kernel (`inspect --kernel`).",
    after_help = "Examples:\n  \
        ckdump inspect core.1234.zst\n  \
        ckdump inspect core --symbols ./symbols --sysroot /srv/crashed-rootfs --regions\n  \
        ckdump inspect core --thread 1235 --disasm 4 --format json\n  \
        ckdump inspect /var/lib/kubelet/checkpoints/checkpoint-web_default-app.tar\n  \
        ckdump verify core --format sarif > core.sarif\n  \
        ckdump verify core --fail-on warning --format junit > verify.xml\n  \
        ckdump verify core --format sarif --sarif-base . > ckdump.sarif\n  \
        ckdump inspect --pid 1234\n  \
        sudo ckdump inspect --kernel --all-tasks\n  \
        ckdump snapshot --pid 1234 -o app.core\n  \
        ckdump seal /var/lib/criu/dump-1 --key-file seal.key\n  \
        ckdump diff checkpoint-before/ checkpoint-after/\n  \
        ckdump completions bash > ~/.local/share/bash-completion/completions/ckdump\n  \
        ckdump man --dir ~/.cargo/share/man/man1"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in text output: `auto` only when stdout is a terminal and
    /// NO_COLOR is unset or empty; `always` even into a pipe (`| less -R`).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether text output is coloured, given the environment's NO_COLOR
    /// and TERM and whether stdout is a terminal.
    pub fn enabled(
        self,
        no_color: Option<&std::ffi::OsStr>,
        term: Option<&std::ffi::OsStr>,
        tty: bool,
    ) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: set and not empty disables colour.
            ColorChoice::Auto => {
                tty && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
            }
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Post-mortem report: what the file is, the crash, every thread's stack,
    /// registers, modules and (with --regions) the memory map.
    #[command(after_help = "Examples:\n  \
        ckdump inspect testdata/cores/core.threads.kernel.zst --sysroot testdata/sysroot --symbols symbols\n  \
        ckdump inspect core --thread 4242 --disasm 5\n  \
        ckdump inspect testdata/cores/core.threads.kernel.zst --sysroot testdata/sysroot --brief\n  \
        ckdump inspect minidump.dmp --scan-all   (keep scanned frames below the last trusted one)\n  \
        ckdump inspect testdata/cores/core.threads.kernel.zst -e testdata/bin/threads   (name the executable, as eu-stack -e)\n  \
        ckdump inspect crash.dmp --symbols crash.pdb --symbols 'SRV*/tmp/symcache*https://msdl.microsoft.com/download/symbols'\n  \
        ckdump inspect vmcore.1 vmcore.2 vmcore.3   (a makedumpfile --split dump)\n  \
        ckdump inspect testdata/criu/archive/mt-checkpoint.tar.zst --symbols testdata/criu/bin --sysroot testdata/sysroot\n  \
        CKDUMP_SYMBOL_PATH=/srv/symbols:/opt/debug ckdump inspect core --format json | jq .crash\n  \
        DEBUGINFOD_URLS=https://debuginfod.debian.net ckdump inspect core   (missing binaries and debug files fetched by build-id)\n  \
        sudo ckdump inspect --pid $(pidof myserver) --regions\n  \
        sudo ckdump inspect --kernel --task $(pidof myserver)   (the running kernel, through /proc/kcore)\n  \
        ckdump inspect testdata/kernel/dumps/process-user.kdump --process 100 --symbols testdata/kernel/dumps   (a user process inside a kernel dump)")]
    Inspect {
        /// The image: an ELF core file or minidump (optionally compressed),
        /// a Linux kernel dump, a CRIU image directory, or a container
        /// checkpoint archive (tar, tar.gz, tar.zst, as `podman container
        /// checkpoint --export` and the kubelet write). Several paths: the
        /// files of one `makedumpfile --split` dump, in any order, read as
        /// one.
        #[arg(
            value_name = "IMAGE",
            required_unless_present_any = ["pid", "kernel"],
            conflicts_with_all = ["pid", "kernel"]
        )]
        images: Vec<PathBuf>,
        /// Inspect a running process instead: every thread is stopped with
        /// ptrace for the time of the report, then resumes (Linux; needs
        /// permission to ptrace it).
        #[arg(long, value_name = "PID")]
        pid: Option<u64>,
        /// Inspect the running kernel instead, through /proc/kcore (root):
        /// the kernel dump report without a crash — release, KASLR offset,
        /// tasks, modules, the log; `--task PID` or `--all-tasks` unwind
        /// sleeping tasks' kernel stacks.
        #[arg(long, conflicts_with = "pid")]
        kernel: bool,
        #[command(flatten)]
        symbols: SymbolArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// Show only this thread (decimal or 0x-hex thread id), with its registers.
        #[arg(long, short = 't', value_parser = parse_number)]
        thread: Option<u64>,
        /// Kernel dumps: unwind this task too (by pid), running or asleep
        /// (a sleeping task from the frame its last context switch saved).
        #[arg(long, value_name = "PID", value_parser = parse_number)]
        task: Option<u64>,
        /// Kernel dumps: unwind every task, not only the running ones.
        #[arg(long)]
        all_tasks: bool,
        /// Kernel dumps: show the user process this pid (or any of its
        /// threads) belongs to as a process of its own — each thread's user
        /// registers and stack, its modules and (with --regions) its VMAs,
        /// read through its page tables. Its stacks need a dump that kept
        /// user pages (makedumpfile -d 23 or lower, not 31).
        #[arg(long, value_name = "PID", value_parser = parse_number)]
        process: Option<u64>,
        /// Show the memory map: protection, backing file, and whether each
        /// region's bytes are in the dump.
        #[arg(long)]
        regions: bool,
        /// Show every module in detail (symbol files used, problems).
        #[arg(long)]
        modules: bool,
        /// Disassemble N instructions before and after the faulting one.
        #[arg(long, value_name = "N", default_value_t = 0)]
        disasm: usize,
        /// Stop each stack after this many frames.
        #[arg(long, value_name = "N", default_value_t = 256)]
        max_frames: usize,
        /// Keep the frames stack scanning found below a stack's last
        /// trusted frame (CFI, frame data, frame pointers); by default they
        /// are dropped and counted, as they are mostly stale return
        /// addresses.
        #[arg(long)]
        scan_all: bool,
        /// Text only: a one-line summary of the crash, then the crashing
        /// thread's stack, one line per frame.
        #[arg(long, conflicts_with_all = ["regions", "modules"])]
        brief: bool,
        /// Kernel dumps: print the last N lines of the kernel log as dmesg
        /// would (default 10; `--log 0` hides it, a large N prints it all).
        #[arg(long, value_name = "N")]
        log: Option<usize>,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Check an image before anyone trusts or restores it. Exits 0 when no
    /// finding reaches --fail-on, 1 when one does, 2 when the file cannot be
    /// read at all.
    #[command(after_help = "Examples:\n  \
        ckdump verify core.zst\n  \
        ckdump verify /var/lib/criu/dump --root /\n  \
        ckdump verify checkpoint.tar.zst --root /srv/container-rootfs --cpuinfo target-cpuinfo.txt\n  \
        ckdump verify core --sysroot /srv/rootfs --fail-on warning\n  \
        ckdump verify core --format sarif --sarif-base /src/repo > ckdump.sarif\n  \
        ckdump verify core --format junit > ckdump-junit.xml")]
    Verify {
        /// The image to check; several paths: the files of one
        /// `makedumpfile --split` dump, in any order, checked as one.
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<PathBuf>,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = VerifyFormat::Text)]
        format: VerifyFormat,
        /// Lowest severity that makes the exit code 1.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
        /// SARIF: the directory artifact URIs are relative to (named
        /// SRCROOT in originalUriBaseIds); an image outside it gets an
        /// absolute file:// URI. Default: the working directory.
        #[arg(long, value_name = "DIR")]
        sarif_base: Option<PathBuf>,
        /// A copy of the dumping machine's files (analysis side): mapped
        /// files are compared with the dump here instead of the host's `/`,
        /// and symbols are read from it.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Check that a checkpoint would restore onto this root filesystem
        /// (restore side: `/` for this host, or a container's rootfs): every
        /// file it refers to present with the recorded size, mode and
        /// build-id, and the saved CPU state supported by this host's CPU.
        /// Without --root only the image itself is checked. --sysroot still
        /// serves symbols.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// With --root: judge the CPU features against this copy of the
        /// restore host's /proc/cpuinfo instead of this host's CPU.
        #[arg(long, value_name = "FILE", requires = "root")]
        cpuinfo: Option<PathBuf>,
        /// Also check that every module on a stack has symbols in these
        /// places (dirs or srv*CACHE*URL; repeatable).
        #[arg(long = "symbols", short = 's', value_name = "DIR|FILE|srv*CACHE*URL")]
        symbols: Vec<String>,
        /// The seal manifest to check against, instead of DIR/ckdump-seal.json
        /// or FILE.ckdump-seal.json (which are checked whenever present).
        #[arg(long, value_name = "MANIFEST")]
        seal: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Save a running process as an ELF core file: stop every thread,
    /// capture registers and the memory a restore needs, resume. gdb,
    /// eu-stack and `ckdump inspect` read the file.
    #[command(
        after_help = "What is saved follows the kernel's default coredump_filter: \
        anonymous and written-to private memory, the vDSO, and the first page of ELF \
        mappings (for build-ids); read-only code stays in the files named in NT_FILE; \
        guard pages, [vvar] and device mappings are described but not read.\n\n\
        Examples:\n  \
        sudo ckdump snapshot --pid 1234 -o app.core\n  \
        ckdump snapshot --pid $(pidof myserver) -o srv.core --format json | jq .memory_bytes\n  \
        ckdump inspect app.core && ckdump verify app.core"
    )]
    Snapshot {
        /// The process to save.
        #[arg(long, value_name = "PID")]
        pid: u64,
        /// The core file to write (replaced if it exists).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// Output format of the summary.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// No progress bar.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Record the SHA-256 of every file of a saved state in a manifest
    /// (optionally with an HMAC), for `verify` to check later.
    #[command(
        long_about = "Record the SHA-256 of every file of a saved state in a manifest, \
                      optionally authenticated with HMAC-SHA256, so that `ckdump verify` can \
                      tell later whether any file was added, removed or changed. Files larger \
                      than --chunk-size also get the SHA-256 of each chunk (hashed in the same \
                      read): verify then checks the chunks on every core and names the byte \
                      ranges that changed and, in a CRIU pages file or an ELF core, the pages, \
                      addresses and VMAs they hold.\n\n\
                      A directory (a CRIU image directory) is sealed file by file, recursively, \
                      into DIR/ckdump-seal.json; symbolic links are recorded with their target \
                      and not followed (an incremental dump's `parent` link names another \
                      snapshot: seal that one too). A single file (ELF core, minidump, \
                      checkpoint archive) is sealed into FILE.ckdump-seal.json beside it. \
                      The manifest is written to a temporary file and renamed into place.",
        after_help = "Examples:\n  \
        ckdump seal /var/lib/criu/dump-1\n  \
        ckdump seal core.1234.zst --key-file /etc/ckdump/seal.key\n  \
        CKDUMP_SEAL_KEY=$(cat key) ckdump seal checkpoint.tar.zst --key-env CKDUMP_SEAL_KEY\n  \
        ckdump seal /mnt/readonly/dump --output /srv/seals/dump.json\n  \
        ckdump seal /var/lib/criu/dump-1 --chunk-size 1M\n  \
        ckdump verify /var/lib/criu/dump-1 --key-file /etc/ckdump/seal.key"
    )]
    Seal {
        /// The saved state: a directory (CRIU images) or one file.
        path: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// Write the manifest here instead of DIR/ckdump-seal.json or
        /// FILE.ckdump-seal.json (verify then needs --seal).
        #[arg(long, short = 'o', value_name = "MANIFEST")]
        output: Option<PathBuf>,
        /// Also record the SHA-256 of every SIZE bytes of each file larger
        /// than that, so verify checks them on every core and names the
        /// byte ranges (and, in a CRIU pages file, the memory) that
        /// changed. A power of two from 4K to 64M (suffixes K, M, KiB, MiB).
        #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_chunk_size)]
        chunk_size: u64,
        /// Output format: a summary, or the manifest as written.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Compare two saved states: threads, registers, regions, modules and
    /// page contents. Exits 0 when they are identical, 1 when they differ,
    /// 2 when one cannot be read.
    #[command(
        long_about = "Compare two saved states that ckdump opens — CRIU image directories, \
                      checkpoint archives, ELF cores, minidumps, in any pairing (the checkpoint \
                      a process was restored from against the core it crashed with). Reports \
                      threads present in one only, register differences by name, regions \
                      added, removed or changed (end, protection, sharing, backing file and \
                      offset), modules whose build-id, size, path or base changed, and which \
                      4 KiB pages differ in content among the pages both images hold, with \
                      pages held by one image only counted apart. A changed or one-sided \
                      page whose exact content the other image holds at another address \
                      (found by page hash, confirmed byte for byte; never for all-zero \
                      pages) is reported as moved, from A's address to B's: a mapping that \
                      ASLR, mremap or a restore placed elsewhere. Threads are matched by \
                      thread id, or in order when the images share none (two runs of one \
                      program).\n\n\
                      Exit status: 0 identical, 1 different, 2 an image cannot be read.",
        after_help = "Examples:\n  \
        ckdump diff testdata/criu/images/static testdata/criu/images/static-incr\n  \
        ckdump diff checkpoint/ core.1234 --symbols ./symbols --sysroot /srv/rootfs\n  \
        ckdump diff before.dmp after.dmp --format json | jq .pages"
    )]
    Diff {
        /// The first saved state (A).
        a: PathBuf,
        /// The second saved state (B).
        b: PathBuf,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// Symbolize changed register values that point into code.
        #[command(flatten)]
        symbols: SymbolArgs,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Print a shell completion script for bash, zsh, fish, elvish or
    /// PowerShell.
    #[command(after_help = "Examples:\n  \
        mkdir -p ~/.local/share/bash-completion/completions && ckdump completions bash > ~/.local/share/bash-completion/completions/ckdump\n  \
        mkdir -p ~/.zfunc && ckdump completions zsh > ~/.zfunc/_ckdump   (with fpath+=~/.zfunc before compinit in ~/.zshrc)\n  \
        mkdir -p ~/.config/fish/completions && ckdump completions fish > ~/.config/fish/completions/ckdump.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of ckdump or of one command, generated
    /// from this help; or write every page into a directory.
    #[command(after_help = "Examples:\n  \
        ckdump man | man -l -\n  \
        ckdump man verify | man -l -\n  \
        ckdump man --dir ~/.cargo/share/man/man1   (beside ~/.cargo/bin, where man looks; then `man ckdump-verify`)")]
    Man {
        /// The command whose page to print (ckdump-COMMAND(1)); ckdump(1)
        /// when absent.
        #[arg(value_name = "COMMAND", conflicts_with = "dir")]
        command: Option<String>,
        /// Write ckdump.1 and ckdump-COMMAND.1 for every command into DIR
        /// (created if missing) instead of printing one page.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct KeyArgs {
    /// HMAC key: the bytes of this file (one trailing newline is ignored).
    #[arg(long, value_name = "FILE", group = "hmac_key")]
    pub key_file: Option<PathBuf>,
    /// HMAC key: the value of this environment variable.
    #[arg(long, value_name = "VAR", group = "hmac_key")]
    pub key_env: Option<String>,
}

/// `--chunk-size`: bytes, or with a K/M (KiB/MiB) suffix.
pub fn parse_chunk_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        _ => return Err(format!("{text:?}: use bytes or a K or M suffix, e.g. 4M")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size, e.g. 4M"))?;
    let size = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if ckdump::seal::manifest::valid_chunk_size(size) {
        Ok(size)
    } else {
        Err(format!(
            "{text:?} is not a power of two from 4K to 64M (e.g. 64K, 1M, 4M)"
        ))
    }
}

impl KeyArgs {
    pub fn load(&self) -> Result<Option<ckdump::seal::Key>, String> {
        match (&self.key_file, &self.key_env) {
            (Some(f), _) => ckdump::seal::Key::from_file(f).map(Some),
            (None, Some(v)) => ckdump::seal::Key::from_env(v).map(Some),
            (None, None) => Ok(None),
        }
    }
}

#[derive(clap::Args)]
pub struct SymbolArgs {
    /// Where binaries and debug files are: a directory (.build-id tree,
    /// symbol store — plain, CAB-compressed, file.ptr, two-tier — or
    /// flat), a file (a binary, a separate debug file, a PDB, a Breakpad
    /// .sym, a kernel dump's vmlinux, System.map or a module's .ko, used
    /// for the module whose build-id or debug id it carries), or a symbol
    /// server (`srv*CACHE*URL`, `SRV*URL`, or a bare http(s) URL);
    /// repeatable. CKDUMP_SYMBOL_PATH (colon-separated) and _NT_SYMBOL_PATH
    /// are searched after. A path that does not exist or a server that
    /// cannot be reached is said once on stderr.
    #[arg(long = "symbols", short = 's', value_name = "DIR|FILE|srv*CACHE*URL")]
    pub dirs: Vec<String>,
    /// The image's main executable (as `eu-stack -e`, `gdb PROG CORE`):
    /// its symbols and unwind tables serve the main module when its
    /// build-id (or, for a minidump, PE timestamp and size) is the
    /// image's; another build is refused with a warning.
    #[arg(long, short = 'e', value_name = "FILE")]
    pub executable: Option<PathBuf>,
    /// Root of a copy of the crashed machine's files; mapped files are
    /// looked up under it first.
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// Use only the symbols given here (and in the environment): do not
    /// look in /usr/lib/debug or at this machine's own files, for a
    /// report that does not depend on the host.
    #[arg(long)]
    pub no_host_symbols: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InspectFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum VerifyFormat {
    Text,
    Json,
    Sarif,
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

pub fn parse_number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number (use decimal or 0x-hex)"))
}

impl FailOn {
    /// The lowest severity that fails the run.
    pub fn severity(self) -> ckdump::verify::Severity {
        match self {
            FailOn::Error => ckdump::verify::Severity::Error,
            FailOn::Warning => ckdump::verify::Severity::Warning,
        }
    }
}

impl SymbolArgs {
    /// The symbol search these arguments describe.
    pub fn config(&self) -> ckdump::symbols::SymbolConfig {
        ckdump::symbols::SymbolConfig {
            use_host: !self.no_host_symbols,
            ..ckdump::symbols::SymbolConfig::from_args(self.dirs.clone(), self.sysroot.clone())
        }
        .with_executable(self.executable.clone())
    }
}
