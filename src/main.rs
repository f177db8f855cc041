//! The `ckdump` command line: parse arguments into the library's options,
//! call the library, render its report, and map the outcome to an exit
//! code. Everything else lives in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use ckdump::render;
use ckdump::report::VerifyReport;
use cli::args::{Cli, Command, FailOn, InspectFormat, VerifyFormat};
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
    run(Cli::parse().command).exit_code()
}

fn run(command: Command) -> Outcome {
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
            log,
            quiet,
        } => {
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
                progress: Some(for_terminal(quiet)),
            };
            let report = match ckdump::inspect(&input, &options) {
                Ok(report) => report,
                Err(e) => return Outcome::Unreadable(e.to_string()),
            };
            print_out(&match format {
                InspectFormat::Text => render::text::render_inspect(
                    &report,
                    &render::text::TextOptions {
                        show_regions: regions,
                        show_modules: modules,
                        show_registers_all_threads: thread.is_some(),
                        color: false,
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
            match ckdump::verify_set(&images, &options) {
                Ok(report) => {
                    print_out(&render_verify(&report, format, fail_on));
                    let threshold = fail_on.severity();
                    if report.findings.iter().any(|f| f.severity >= threshold) {
                        Outcome::Findings
                    } else {
                        Outcome::Done
                    }
                }
                Err(failure) => {
                    // What the seal said is shown even though the image
                    // does not open.
                    if let Some(report) = &failure.report {
                        print_out(&render_verify(report, format, fail_on));
                    }
                    Outcome::Unreadable(failure.error.to_string())
                }
            }
        }
        Command::Snapshot {
            pid,
            output,
            format,
            quiet,
        } => snapshot(pid, &output, format, quiet),
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
            let wants_symbols = !symbols.dirs.is_empty() || symbols.sysroot.is_some();
            let options = ckdump::diff::DiffOptions {
                symbols: wants_symbols.then(|| show_debuginfod(symbols.config(), quiet)),
                progress: Some(progress),
            };
            let report = match ckdump::diff(&a, &b, &open_options, &options) {
                Ok(report) => report,
                Err(e) => return Outcome::Unreadable(e.to_string()),
            };
            print_out(&match format {
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
            print_out(&match format {
                InspectFormat::Text => render::seal::render(&outcome),
                InspectFormat::Json => outcome.manifest.to_json(),
            });
            Outcome::Done
        }
    }
}

#[cfg(target_os = "linux")]
fn snapshot(pid: u64, output: &std::path::Path, format: InspectFormat, quiet: bool) -> Outcome {
    match ckdump::snapshot(pid, output, for_terminal(quiet)) {
        Ok(summary) => {
            print_out(&match format {
                InspectFormat::Json => render::json::render(&summary),
                InspectFormat::Text => render::snapshot::render(&summary),
            });
            Outcome::Done
        }
        Err(e) => Outcome::Unreadable(e.to_string()),
    }
}

#[cfg(not(target_os = "linux"))]
fn snapshot(pid: u64, _: &std::path::Path, _: InspectFormat, _: bool) -> Outcome {
    Outcome::Unreadable(format!(
        "pid {pid}: live processes can be read on Linux only"
    ))
}

fn render_verify(report: &VerifyReport, format: VerifyFormat, fail_on: FailOn) -> String {
    match format {
        VerifyFormat::Text => render::text::render_verify(report),
        VerifyFormat::Json => render::json::render(report),
        VerifyFormat::Sarif => render::sarif::render(report),
        VerifyFormat::Junit => render::junit::render(report, fail_on.severity()),
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
