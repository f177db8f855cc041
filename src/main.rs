//! The `ckdump` command line: argument parsing, choosing a renderer, exit
//! codes. Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use ckdump::analysis::{self, InspectOptions};
use ckdump::progress::Progress;
use ckdump::report::{self, text::TextOptions};
use ckdump::symbols::SymbolConfig;
use ckdump::verify::{self, Severity};

/// Exit code for an image that cannot be read at all, or bad arguments.
const EXIT_UNREADABLE: u8 = 2;
/// Exit code for `verify` when a finding reaches --fail-on.
const EXIT_FINDINGS: u8 = 1;

#[derive(Parser)]
#[command(
    name = "ckdump",
    version,
    about = "Open, inspect and verify saved process state: crash dumps, core files, checkpoints",
    long_about = "ckdump opens a saved state of a process — Linux ELF core files and minidumps, \
                  plain or zstd/xz/bzip2/gzip-compressed, CRIU image directories, and container \
                  checkpoint archives (Podman, CRI-O, kubelet; tar, tar.gz, tar.zst) read in place — and reports the crash, every thread's \
                  symbolized stack, registers, modules and memory map (`inspect`), or checks it \
                  for damage and restore readiness with stable finding codes (`verify`).",
    after_help = "Examples:\n  \
        ckdump inspect core.1234.zst\n  \
        ckdump inspect core --symbols ./symbols --sysroot /srv/crashed-rootfs --regions\n  \
        ckdump inspect core --thread 1235 --disasm 4 --format json\n  \
        ckdump inspect /var/lib/kubelet/checkpoints/checkpoint-web_default-app.tar\n  \
        ckdump verify core --format sarif > core.sarif\n  \
        ckdump verify core --fail-on warning --format junit > verify.xml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Post-mortem report: what the file is, the crash, every thread's stack,
    /// registers, modules and (with --regions) the memory map.
    #[command(after_help = "Examples:\n  \
        ckdump inspect testdata/cores/core.threads.kernel.zst --sysroot testdata/sysroot --symbols symbols\n  \
        ckdump inspect core --thread 4242 --disasm 5\n  \
        ckdump inspect testdata/criu/archive/mt-checkpoint.tar.zst --symbols testdata/criu/bin --sysroot testdata/sysroot\n  \
        CKDUMP_SYMBOL_PATH=/srv/symbols:/opt/debug ckdump inspect core --format json | jq .crash")]
    Inspect {
        /// The image: an ELF core file or minidump (optionally compressed),
        /// a CRIU image directory, or a container checkpoint archive (tar,
        /// tar.gz, tar.zst, as `podman container checkpoint --export` and
        /// the kubelet write).
        image: PathBuf,
        #[command(flatten)]
        symbols: SymbolArgs,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = InspectFormat::Text)]
        format: InspectFormat,
        /// Show only this thread (decimal or 0x-hex thread id), with its registers.
        #[arg(long, short = 't', value_parser = parse_number)]
        thread: Option<u64>,
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
        ckdump verify core --format sarif > ckdump.sarif\n  \
        ckdump verify core --format junit > ckdump-junit.xml")]
    Verify {
        /// The image to check.
        image: PathBuf,
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value_t = VerifyFormat::Text)]
        format: VerifyFormat,
        /// Lowest severity that makes the exit code 1.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
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
        #[arg(long = "symbols", short = 's', value_name = "DIR|srv*CACHE*URL")]
        symbols: Vec<String>,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
}

#[derive(clap::Args)]
struct SymbolArgs {
    /// Where binaries and debug files are: a directory (.build-id tree,
    /// symbol store, or flat), or `srv*CACHE*URL` for a symbol server;
    /// repeatable. CKDUMP_SYMBOL_PATH (colon-separated) and _NT_SYMBOL_PATH
    /// are searched after.
    #[arg(long = "symbols", short = 's', value_name = "DIR|srv*CACHE*URL")]
    dirs: Vec<String>,
    /// Root of a copy of the crashed machine's files; mapped files are
    /// looked up under it first.
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// Use only the symbols given here (and in the environment): do not
    /// look in /usr/lib/debug or at this machine's own files, for a
    /// report that does not depend on the host.
    #[arg(long)]
    no_host_symbols: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum InspectFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum VerifyFormat {
    Text,
    Json,
    Sarif,
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
}

fn parse_number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number (use decimal or 0x-hex)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect {
            image,
            symbols,
            format,
            thread,
            regions,
            modules,
            disasm,
            max_frames,
            quiet,
        } => {
            let progress = Progress::new(quiet);
            let open_options = ckdump::OpenOptions {
                sysroot: symbols.sysroot.clone(),
                progress,
                ..Default::default()
            };
            let img = match ckdump::open(&image, &open_options) {
                Ok(img) => img,
                Err(e) => return unreadable(&e),
            };
            if let Some(tid) = thread
                && img.thread(tid).is_none()
            {
                let tids: Vec<String> = img.threads.iter().map(|t| t.tid.to_string()).collect();
                eprintln!(
                    "ckdump: {}: no thread {tid}; the image has threads {}",
                    image.display(),
                    tids.join(", ")
                );
                return ExitCode::from(EXIT_UNREADABLE);
            }
            let options = InspectOptions {
                symbols: SymbolConfig {
                    use_host: !symbols.no_host_symbols,
                    ..SymbolConfig::from_args(symbols.dirs, symbols.sysroot)
                },
                thread,
                regions,
                disasm_context: disasm,
                limits: Some(ckdump::unwind::WalkLimits {
                    max_frames: max_frames.max(1),
                    ..Default::default()
                }),
                progress: Some(progress),
            };
            let report = analysis::inspect(&img, &options);
            let out = match format {
                InspectFormat::Text => report::text::render_inspect(
                    &report,
                    &TextOptions {
                        show_regions: regions,
                        show_modules: modules,
                        show_registers_all_threads: thread.is_some(),
                        color: false,
                    },
                ),
                InspectFormat::Json => report::json::render(&report),
            };
            print_out(&out);
            ExitCode::SUCCESS
        }
        Command::Verify {
            image,
            format,
            fail_on,
            sysroot,
            root,
            cpuinfo,
            symbols,
            quiet,
        } => {
            let cpu = match cpuinfo.as_deref().map(read_cpuinfo).transpose() {
                Ok(cpu) => cpu,
                Err(message) => {
                    eprintln!("ckdump: {message}");
                    return ExitCode::from(EXIT_UNREADABLE);
                }
            };
            let progress = Progress::new(quiet);
            let open_options = ckdump::OpenOptions {
                sysroot: sysroot.clone(),
                progress,
                ..Default::default()
            };
            let img = match ckdump::open(&image, &open_options) {
                Ok(img) => img,
                Err(e) => return unreadable(&e),
            };
            let mut findings = img.findings.clone();
            let with_symbols = !symbols.is_empty();
            let symbols = with_symbols.then(|| SymbolConfig::from_args(symbols, sysroot.clone()));
            let restoring = root.is_some();
            findings.extend(verify::checks::run(
                &img,
                &verify::checks::CheckOptions {
                    sysroot,
                    symbols,
                    restore: verify::restore::RestoreTarget { root, cpu },
                },
            ));
            let mut format_name = analysis::summarize(&img).format;
            // A checkpoint archive holds CRIU images: their checks apply too.
            if img.format == ckdump::model::ImageFormat::ContainerCheckpoint {
                format_name.push_str(",criu-images");
            }
            if restoring && img.details.checkpoint.is_some() {
                format_name.push_str(",criu-restore");
            }
            if with_symbols {
                format_name.push_str(",with-symbols");
            }
            let report = report::verify_report(
                &image.display().to_string(),
                Some(analysis::summarize(&img)),
                findings,
                &format_name,
            );
            let threshold = match fail_on {
                FailOn::Error => Severity::Error,
                FailOn::Warning => Severity::Warning,
            };
            let out = match format {
                VerifyFormat::Text => report::text::render_verify(&report),
                VerifyFormat::Json => report::json::render(&report),
                VerifyFormat::Sarif => report::sarif::render(&report),
                VerifyFormat::Junit => report::junit::render(&report, threshold),
            };
            print_out(&out);
            if report.findings.iter().any(|f| f.severity >= threshold) {
                ExitCode::from(EXIT_FINDINGS)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// The restore host's CPU from a copy of its /proc/cpuinfo.
fn read_cpuinfo(path: &std::path::Path) -> Result<verify::restore::HostCpu, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: cannot read it ({e}); pass a copy of /proc/cpuinfo",
            path.display()
        )
    })?;
    verify::restore::cpu_from_cpuinfo(&text, &path.display().to_string()).ok_or_else(|| {
        format!(
            "{}: no `flags` line; pass a copy of the restore host's /proc/cpuinfo",
            path.display()
        )
    })
}

fn unreadable(e: &ckdump::Error) -> ExitCode {
    eprintln!("ckdump: {e}");
    ExitCode::from(EXIT_UNREADABLE)
}
