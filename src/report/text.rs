//! The human report: reads like a crash report, top to bottom.

use std::fmt::Write;

use super::{FrameReport, Hex, InspectReport, ThreadReport, VerifyReport};
use crate::verify::Finding;

/// What to include in the text report.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    pub show_regions: bool,
    /// Full module detail: symbol file paths and problems.
    pub show_modules: bool,
    /// Registers of every listed thread, not only the crashing one.
    pub show_registers_all_threads: bool,
    pub color: bool,
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Last path component (json keeps the full path).
fn short_file(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn frame_location(f: &FrameReport) -> String {
    match (&f.file, f.line) {
        (Some(file), Some(line)) => match f.column {
            Some(c) => format!("{}:{line}:{c}", short_file(file)),
            None => format!("{}:{line}", short_file(file)),
        },
        (Some(file), None) => short_file(file).to_string(),
        _ => String::new(),
    }
}

fn frame_symbol(f: &FrameReport) -> String {
    let module = f.module.as_deref().unwrap_or("?");
    match (&f.function, f.function_offset) {
        (Some(func), Some(off)) if !f.inlined => format!("{module}!{func}+{off}"),
        (Some(func), _) => format!("{module}!{func}"),
        (None, _) => match f.module_offset {
            Some(off) => format!("{module}+{off}  ??"),
            None => "??".to_string(),
        },
    }
}

fn write_thread(out: &mut String, t: &ThreadReport) {
    let name = t
        .name
        .as_deref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    let state = if t.crashed { " (crashed)" } else { "" };
    let _ = writeln!(out, "Thread {}{name}{state}", t.tid);
    if t.frames.is_empty() {
        let _ = writeln!(out, "  (no frames: the thread has no program counter)");
    }
    let mut last_index = None;
    for f in &t.frames {
        let first_line = last_index != Some(f.index);
        last_index = Some(f.index);
        let index = if first_line {
            format!("#{}", f.index)
        } else {
            String::new()
        };
        let how = if f.inlined {
            "(inlined)".to_string()
        } else {
            format!("[{}]", f.found_by.name())
        };
        let _ = writeln!(
            out,
            "  {index:<4} {:#018x}  {:<48} {:<28} {how}",
            f.pc.0,
            frame_symbol(f),
            frame_location(f)
        );
    }
    out.push('\n');
}

fn write_registers(out: &mut String, t: &ThreadReport) {
    if t.registers.is_empty() {
        return;
    }
    let _ = writeln!(out, "Registers of thread {}", t.tid);
    for chunk in t.registers.chunks(4) {
        let line: Vec<String> = chunk
            .iter()
            .map(|r| format!("{:>8} {:#018x}", r.name, r.value.0))
            .collect();
        let _ = writeln!(out, " {}", line.join(" "));
    }
    if let Some(fp) = &t.float {
        let mut parts = Vec::new();
        if let Some(v) = fp.fcw {
            parts.push(format!("fcw {v:#06x}"));
        }
        if let Some(v) = fp.fsw {
            parts.push(format!("fsw {v:#06x}"));
        }
        if let Some(v) = fp.ftw {
            parts.push(format!("ftw {v:#06x}"));
        }
        if let Some(v) = fp.mxcsr {
            parts.push(format!("mxcsr {v:#010x}"));
        }
        if let Some(v) = fp.xsave_features {
            parts.push(format!("xstate_bv {v:#x}"));
        }
        if let Some(v) = fp.shadow_stack_pointer {
            parts.push(format!("ssp {v:#x}"));
        }
        if !parts.is_empty() {
            let _ = writeln!(out, "  {}", parts.join("  "));
        }
    }
    out.push('\n');
}

fn write_finding(out: &mut String, f: &Finding) {
    let mut at = Vec::new();
    if let Some(o) = f.location.offset {
        at.push(format!("offset {o:#x}"));
    }
    if let Some(a) = f.location.address {
        at.push(format!("address {a:#x}"));
    }
    if let Some(p) = f
        .location
        .path
        .as_ref()
        .filter(|p| !f.message.contains(p.as_str()))
    {
        at.push(p.clone());
    }
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" ({})", at.join(", "))
    };
    let _ = writeln!(
        out,
        "{:<7} {} {}: {}{at}",
        f.severity.name(),
        f.code,
        f.name,
        f.message
    );
}

/// The `inspect` report as text.
pub fn render_inspect(r: &InspectReport, opts: &TextOptions) -> String {
    let mut out = String::new();
    let img = &r.image;
    let compression = img
        .compression
        .as_deref()
        .map(|c| format!(", {c}-compressed"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}: {}{compression}, {}, written by {}",
        img.path,
        img.format_name,
        human_size(img.size),
        img.writer
    );
    let _ = writeln!(out, "  target   {} {}", img.os, img.arch);
    let mut process = Vec::new();
    if let Some(n) = &img.process_name {
        process.push(n.clone());
    }
    for (label, v) in [
        ("pid", img.pid),
        ("ppid", img.ppid),
        ("uid", img.uid),
        ("gid", img.gid),
    ] {
        if let Some(v) = v {
            process.push(format!("{label} {v}"));
        }
    }
    if !process.is_empty() {
        let _ = writeln!(out, "  process  {}", process.join("  "));
    }
    if let Some(a) = img.args.as_deref().filter(|a| !a.trim().is_empty()) {
        let _ = writeln!(out, "  command  {}", a.trim_end());
    }
    if let Some(e) = &img.executable {
        let _ = writeln!(out, "  exe      {e}");
    }
    let _ = writeln!(out, "  threads  {}", img.thread_count);
    out.push('\n');

    match &r.crash {
        Some(c) => {
            let sub = c
                .subcode_name
                .as_deref()
                .map(|s| format!(" / {s}"))
                .unwrap_or_default();
            let numbers = match c.subcode {
                Some(code) => format!("{} {}, code {code}", c.kind, c.code),
                None => format!("{} {:#x}", c.kind, c.code),
            };
            let thread = c
                .thread
                .map(|t| format!(" in thread {t}"))
                .unwrap_or_default();
            let _ = writeln!(out, "Crash: {}{sub} ({numbers}){thread}", c.name);
            let _ = writeln!(out, "  {}", c.description);
            if let Some(a) = c.address {
                let access = c
                    .access
                    .as_deref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "  fault address {a}{access}");
            }
            if let Some(pid) = c.sender_pid {
                let uid = c
                    .sender_uid
                    .map(|u| format!(" uid {u}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "  sent by pid {pid}{uid}");
            }
            for i in &c.instructions {
                let mark = if i.current { "=>" } else { "  " };
                let _ = writeln!(
                    out,
                    "  {mark} {:#x}  {:<24} {}",
                    i.address.0, i.bytes, i.text
                );
            }
            out.push('\n');
        }
        None => {
            let _ = writeln!(
                out,
                "No crash recorded (the process was dumped while running or stopped).\n"
            );
        }
    }

    for t in &r.threads {
        write_thread(&mut out, t);
    }
    for t in r
        .threads
        .iter()
        .filter(|t| t.crashed || opts.show_registers_all_threads)
    {
        write_registers(&mut out, t);
    }

    let _ = writeln!(out, "Modules");
    for m in &r.modules {
        let id = m
            .build_id
            .as_deref()
            .map(|b| b.chars().take(16).collect::<String>())
            .unwrap_or_else(|| "-".into());
        let symbols = match (&m.debug_file, &m.binary) {
            (Some(d), _) => format!("{} ({})", m.symbols.name(), d),
            (None, Some(b)) => format!("{} ({})", m.symbols.name(), b),
            _ => m.symbols.name().to_string(),
        };
        let _ = writeln!(
            out,
            "  {:#014x}-{:#014x}  {:<24} {:<16}  {symbols}",
            m.base.0, m.end.0, m.name, id
        );
        if opts.show_modules {
            let _ = writeln!(out, "      path   {}", m.path);
            if let Some(b) = &m.build_id {
                let _ = writeln!(out, "      build-id {b}");
            }
            if let Some(b) = &m.binary {
                let _ = writeln!(out, "      binary {b}");
            }
            if let Some(p) = &m.problem {
                let _ = writeln!(out, "      problem {p}");
            }
        }
    }
    out.push('\n');

    if let (true, Some(regions)) = (opts.show_regions, &r.regions) {
        let _ = writeln!(out, "Memory regions ({})", regions.len());
        let _ = writeln!(
            out,
            "  {:<18} {:<18} {:>10} prot sharing  captured            file",
            "start", "end", "size"
        );
        for g in regions {
            let captured = match g.capture.as_str() {
                "partial" => format!("partial ({} B)", g.captured_bytes),
                other => other.to_string(),
            };
            let file = match (&g.file, g.file_offset) {
                (Some(f), Some(Hex(o))) => format!("{f} @ {o:#x}"),
                (Some(f), None) => f.clone(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:#018x} {:#018x} {:>10} {:<4} {:<8}  {:<18}  {file}",
                g.start.0,
                g.end.0,
                human_size(g.size),
                g.protection,
                g.sharing,
                captured
            );
        }
        out.push('\n');
    }

    if !r.findings.is_empty() {
        let _ = writeln!(
            out,
            "Findings while reading ({}; run `ckdump verify` for all checks)",
            r.findings.len()
        );
        for f in &r.findings {
            out.push_str("  ");
            write_finding(&mut out, f);
        }
    }
    out
}

/// The `verify` report as text.
pub fn render_verify(r: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ckdump verify {}", r.path);
    for f in &r.findings {
        write_finding(&mut out, f);
        let _ = writeln!(out, "        hint: {}", f.hint);
    }
    let passed = r.checks.iter().filter(|c| c.status == "passed").count();
    let applicable = r
        .checks
        .iter()
        .filter(|c| c.status != "not_applicable")
        .count();
    let _ = writeln!(
        out,
        "{} errors, {} warnings, {} notes; {passed} of {applicable} checks passed",
        r.counts.errors, r.counts.warnings, r.counts.notes
    );
    out
}
