//! The `ckdump` command line: parse arguments into the library's options,
//! call the library, render its report, and map the outcome to an exit
//! code. Everything else lives in the library.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use ckdump::render;
use ckdump::report::VerifyReport;
use cli::args::{Cli, Command, FailOn, InspectFormat, VerifyFormat};
use cli::output::Output;
use cli::progress::{for_terminal, show_debuginfod};

/// Every way a command ends, and the exit code it maps to.
enum Outcome {
    /// Done; nothing to report beyond the output (0).
    Done,
    /// `verify` found something at or above --fail-on; `diff` found the
    /// images differ (1).
    Findings,
    /// An image could not be read at all, or an argument is unusable (2).
    Unreadable(String),
}

impl Outcome {
    fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Unreadable(message) => {
                eprintln!("ckdump: {message}");
                ExitCode::from(2)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version into a pipe or file go through the same
        // writer as every report (clap ignores a failed write); on a
        // terminal clap prints them, coloured.
        Err(e) if !e.use_stderr() && !std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            let mut out = Output::stdout(cli::args::ColorChoice::Never);
            out.print(&e.render().to_string());
            return match out.finish() {
                Err(e) => Outcome::Unreadable(format!("cannot write the output: {e}")).exit_code(),
                Ok(()) => ExitCode::SUCCESS,
            };
        }
        Err(e) => e.exit(),
    };
    let mut out = Output::stdout(cli.color);
    let outcome = run(cli.command, &mut out);
    // A write that failed (a full disk, `> /dev/full`) is said once and
    // exits 2; a reader that went away (`| head`) is no error.
    match out.finish() {
        Err(e) => Outcome::Unreadable(format!("cannot write the output: {e}")).exit_code(),
        Ok(()) => outcome.exit_code(),
    }
}

fn run(command: Command, out: &mut Output) -> Outcome {
    match command {
        Command::Inspect {
            mut images,
            pid,
            kernel,
            symbols,
            format,
            thread,
            task,
            all_tasks,
            process,
            regions,
            modules,
            disasm,
            max_frames,
            scan_all,
            brief,
            log,
            quiet,
        } => {
            if brief && !matches!(format, InspectFormat::Text) {
                return Outcome::Unreadable(
                    "--brief is a text layout: leave it out with --format json (JSON's `threads[].crashed` marks the crashing thread)".into(),
                );
            }
            let input = match (images.len(), pid) {
                _ if kernel => ckdump::Input::Kernel,
                (_, Some(pid)) => ckdump::Input::Pid(pid),
                (0, None) => {
                    return Outcome::Unreadable(
                        "inspect needs an image, --pid PID or --kernel".into(),
                    );
                }
                (1, None) => ckdump::Input::Path(images.swap_remove(0)),
                (_, None) => ckdump::Input::Parts(images),
            };
            let options = ckdump::InspectOptions {
                symbols: show_debuginfod(symbols.config(), quiet),
                thread,
                task: task.and_then(|t| i64::try_from(t).ok()),
                all_tasks,
                process: process.and_then(|p| i64::try_from(p).ok()),
                regions,
                disasm_context: disasm,
                limits: Some(ckdump::unwind::WalkLimits {
                    max_frames: max_frames.max(1),
                    ..Default::default()
                }),
                scan_all,
                progress: Some(for_terminal(quiet)),
            };
            let result = ckdump::inspect(&input, &options);
            print_warnings(&options.symbols);
            let report = match result {
                Ok(report) => report,
                Err(e) => return Outcome::Unreadable(e.to_string()),
            };
            out.print(&match format {
                InspectFormat::Text if brief => render::text::render_brief(&report),
                InspectFormat::Text => render::text::render_inspect(
                    &report,
                    &render::text::TextOptions {
                        show_regions: regions,
                        show_modules: modules,
                        show_registers_all_threads: thread.is_some(),
                        color: out.color(),
                        log_lines: log,
                    },
                ),
                InspectFormat::Json => render::json::render(&report),
            });
            Outcome::Done
        }
        Command::Verify {
            images,
            format,
            fail_on,
            sarif_base,
            sysroot,
            root,
            cpuinfo,
            symbols,
            seal,
            key,
            quiet,
        } => {
            let cpu = match cpuinfo.as_deref().map(read_cpuinfo).transpose() {
                Ok(cpu) => cpu,
                Err(message) => return Outcome::Unreadable(message),
            };
            let seal_key = match key.load() {
                Ok(k) => k,
                Err(message) => return Outcome::Unreadable(message),
            };
            if let Some(root) = sysroot.as_ref().filter(|r| !r.is_dir())
                && symbols.is_empty()
            {
                eprintln!(
                    "ckdump: warning: --sysroot {}: no such directory; no files are read from it",
                    root.display()
                );
            }
            let options = ckdump::VerifyOptions {
                symbols: (!symbols.is_empty()).then(|| {
                    show_debuginfod(
                        ckdump::symbols::SymbolConfig::from_args(symbols, sysroot.clone()),
                        quiet,
                    )
                }),
                sysroot,
                root,
                cpu,
                seal_manifest: seal,
                seal_key,
                progress: Some(for_terminal(quiet)),
            };
            let base = match artifact_base(&images[0], sarif_base.as_deref()) {
                Ok(base) => base,
                Err(message) => return Outcome::Unreadable(message),
            };
            let how = VerifyOutput {
                format,
                fail_on,
                base,
                color: out.color(),
            };
            let result = ckdump::verify_set(&images, &options);
            if let Some(config) = &options.symbols {
                print_warnings(config);
            }
            match result {
                Ok(report) => {
                    out.print(&render_verify(&report, &how));
                    let threshold = fail_on.severity();
                    if report.findings.iter().any(|f| f.severity >= threshold) {
                        Outcome::Findings
                    } else {
                        Outcome::Done
                    }
                }
                Err(failure) => {
                    let error = failure.error.to_string();
                    let report = failure.report.as_deref();
                    // SARIF and JUnit stay documents a CI job can upload:
                    // the error is in them. Text and JSON show what the
                    // seal said, if it was checked, even though the image
                    // does not open.
                    let shown = images[0].display().to_string();
                    match format {
                        VerifyFormat::Sarif => {
                            out.print(&render::sarif::render_unreadable(report, &error, &how.base))
                        }
                        VerifyFormat::Junit => out.print(&render::junit::render_unreadable(
                            &shown,
                            report,
                            &error,
                            fail_on.severity(),
                        )),
                        VerifyFormat::Text | VerifyFormat::Json => {
                            if let Some(report) = report {
                                out.print(&render_verify(report, &how));
                            }
                        }
                    }
                    Outcome::Unreadable(error)
                }
            }
        }
        Command::Snapshot {
            pid,
            output,
            format,
            quiet,
        } => snapshot(pid, &output, format, quiet, out),
        Command::Diff {
            a,
            b,
            format,
            symbols,
            quiet,
        } => {
            let progress = for_terminal(quiet);
            let open_options = ckdump::OpenOptions {
                sysroot: symbols.sysroot.clone(),
                progress: progress.clone(),
                ..Default::default()
            };
            let wants_symbols = !symbols.dirs.is_empty()
                || symbols.sysroot.is_some()
                || symbols.executable.is_some();
            let options = ckdump::diff::DiffOptions {
                symbols: wants_symbols.then(|| show_debuginfod(symbols.config(), quiet)),
                progress: Some(progress),
            };
            let result = ckdump::diff(&a, &b, &open_options, &options);
            if let Some(config) = &options.symbols {
                print_warnings(config);
            }
            let report = match result {
                Ok(report) => report,
                Err(e) => return Outcome::Unreadable(e.to_string()),
            };
            out.print(&match format {
                InspectFormat::Text => render::diff::render(&report),
                InspectFormat::Json => render::json::render(&report),
            });
            if report.identical {
                Outcome::Done
            } else {
                Outcome::Findings
            }
        }
        Command::Seal {
            path,
            key,
            output,
            chunk_size,
            format,
            quiet,
        } => {
            let key = match key.load() {
                Ok(k) => k,
                Err(message) => return Outcome::Unreadable(message),
            };
            let options = ckdump::seal::SealOptions {
                key,
                output,
                progress: Some(for_terminal(quiet)),
                chunk_size: Some(chunk_size),
            };
            let outcome = match ckdump::seal(&path, &options) {
                Ok(o) => o,
                Err(e) => return Outcome::Unreadable(e.to_string()),
            };
            out.print(&match format {
                InspectFormat::Text => render::seal::render(&outcome),
                InspectFormat::Json => outcome.manifest.to_json(),
            });
            Outcome::Done
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ckdump", &mut script);
            out.print(&String::from_utf8_lossy(&script));
            Outcome::Done
        }
        Command::Man { command, dir } => man(command.as_deref(), dir.as_deref(), out),
    }
}

#[cfg(target_os = "linux")]
fn snapshot(
    pid: u64,
    output: &std::path::Path,
    format: InspectFormat,
    quiet: bool,
    out: &mut Output,
) -> Outcome {
    match ckdump::snapshot(pid, output, for_terminal(quiet)) {
        Ok(summary) => {
            out.print(&match format {
                InspectFormat::Json => render::json::render(&summary),
                InspectFormat::Text => render::snapshot::render(&summary),
            });
            Outcome::Done
        }
        Err(e) => Outcome::Unreadable(e.to_string()),
    }
}

#[cfg(not(target_os = "linux"))]
fn snapshot(pid: u64, _: &std::path::Path, _: InspectFormat, _: bool, _: &mut Output) -> Outcome {
    Outcome::Unreadable(format!(
        "pid {pid}: live processes can be read on Linux only"
    ))
}

/// `ckdump man`: ckdump(1), or ckdump-COMMAND(1), printed; with a
/// directory, every page written there.
fn man(command: Option<&str>, dir: Option<&std::path::Path>, out: &mut Output) -> Outcome {
    let mut cli = Cli::command();
    // Global arguments (--color) and bin names ("ckdump verify") reach the
    // subcommands only once built.
    cli.build();
    let page = |cmd: clap::Command, title: &str| -> Result<Vec<u8>, String> {
        let mut roff = Vec::new();
        clap_mangen::Man::new(cmd)
            .title(title)
            .source(concat!("ckdump ", env!("CARGO_PKG_VERSION")))
            .render(&mut roff)
            .map_err(|e| format!("cannot render the manual page {title}: {e}"))?;
        Ok(roff)
    };
    let commands: Vec<clap::Command> = cli
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .cloned()
        .collect();
    let Some(dir) = dir else {
        let rendered = match command {
            None => page(cli, "ckdump"),
            Some(name) => match commands.into_iter().find(|c| c.get_name() == name) {
                Some(c) => page(c, &format!("ckdump-{name}")),
                None => Err(format!(
                    "no command `{name}`; `ckdump man` takes one of: {}",
                    cli.get_subcommands()
                        .map(|c| c.get_name())
                        .filter(|n| *n != "help")
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        };
        return match rendered {
            Ok(roff) => {
                out.print(&String::from_utf8_lossy(&roff));
                Outcome::Done
            }
            Err(message) => Outcome::Unreadable(message),
        };
    };
    let mut pages = vec![("ckdump".to_string(), cli.clone())];
    pages.extend(
        commands
            .into_iter()
            .map(|c| (format!("ckdump-{}", c.get_name()), c)),
    );
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Outcome::Unreadable(format!("{}: cannot create it ({e})", dir.display()));
    }
    let mut written = Vec::new();
    for (title, cmd) in pages {
        let path = dir.join(format!("{title}.1"));
        let result = page(cmd, &title).and_then(|roff| {
            std::fs::write(&path, roff)
                .map_err(|e| format!("{}: cannot write it ({e})", path.display()))
        });
        if let Err(message) = result {
            return Outcome::Unreadable(message);
        }
        written.push(path.display().to_string());
    }
    out.print(&written.join("\n"));
    Outcome::Done
}

/// How `verify` writes its report.
struct VerifyOutput {
    format: VerifyFormat,
    fail_on: FailOn,
    base: render::sarif::ArtifactBase,
    color: bool,
}

fn render_verify(report: &VerifyReport, how: &VerifyOutput) -> String {
    match how.format {
        VerifyFormat::Text => render::text::render_verify_with(report, how.color),
        VerifyFormat::Json => render::json::render(report),
        VerifyFormat::Sarif => render::sarif::render(report, &how.base),
        VerifyFormat::Junit => render::junit::render(report, how.fail_on.severity()),
    }
}

/// SARIF's base directory and the image, both absolute (symbolic links
/// resolved where the path exists, so a base and an image reached through
/// different links still nest).
fn artifact_base(
    image: &std::path::Path,
    base: Option<&std::path::Path>,
) -> Result<render::sarif::ArtifactBase, String> {
    let absolute =
        |p: &std::path::Path| std::fs::canonicalize(p).or_else(|_| std::path::absolute(p));
    let dir = match base {
        Some(dir) => std::fs::canonicalize(dir).map_err(|e| {
            format!(
                "--sarif-base {}: {e}; name an existing directory (the repository root)",
                dir.display()
            )
        })?,
        None => std::env::current_dir()
            .and_then(|d| absolute(&d))
            .map_err(|e| {
                format!("cannot tell the working directory ({e}); pass --sarif-base DIR")
            })?,
    };
    let image = absolute(image).map_err(|e| format!("{}: {e}", image.display()))?;
    Ok(render::sarif::ArtifactBase { dir, image })
}

/// The symbol search's warnings (a missing path, an unreachable server,
/// a named file of another build), each once, on stderr.
fn print_warnings(config: &ckdump::symbols::SymbolConfig) {
    for warning in config.take_warnings() {
        eprintln!("ckdump: warning: {warning}");
    }
}

/// The restore host's CPU from a copy of its /proc/cpuinfo.
fn read_cpuinfo(path: &std::path::Path) -> Result<ckdump::verify::restore::HostCpu, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: cannot read it ({e}); pass a copy of /proc/cpuinfo",
            path.display()
        )
    })?;
    ckdump::verify::restore::cpu_from_cpuinfo(&text, &path.display().to_string()).ok_or_else(|| {
        format!(
            "{}: no `flags` line; pass a copy of the restore host's /proc/cpuinfo",
            path.display()
        )
    })
}
