//! The human report: reads like a crash report, top to bottom.

use std::fmt::Write;

use super::printable;
use crate::report::{FrameReport, Hex, InspectReport, ModuleReport, ThreadReport, VerifyReport};
use crate::verify::Finding;

/// What to include in the text report.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    pub show_regions: bool,
    /// Full module detail: symbol file paths and problems.
    pub show_modules: bool,
    /// Registers of every listed thread, not only the crashing one.
    pub show_registers_all_threads: bool,
    /// ANSI colors for a terminal.
    pub color: bool,
    /// Kernel dumps: how many of the kernel log's last lines to print
    /// (`inspect --log N`); None for the default tail.
    pub log_lines: Option<usize>,
}

/// Kernel log lines shown without `--log`.
const DEFAULT_LOG_TAIL: usize = 10;

/// ANSI styling, or none; only section headings and alarms are styled so
/// the columns stay aligned.
#[derive(Clone, Copy)]
struct Style {
    on: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn heading(self, text: &str) -> String {
        self.paint("1", text)
    }
    fn alarm(self, text: &str) -> String {
        self.paint("1;31", text)
    }
    fn caution(self, text: &str) -> String {
        self.paint("33", text)
    }
}

/// Longest symbol column wider than this overflows instead of pushing every
/// other line to the right (C++ names can be hundreds of characters).
const MAX_SYMBOL_WIDTH: usize = 48;
const MAX_LOCATION_WIDTH: usize = 32;

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
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
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

/// `module!function+offset`; an unknown function is `module+offset` (what
/// Breakpad prints, enough to symbolize later) or `??` outside any module.
fn frame_symbol(f: &FrameReport) -> String {
    let module = f.module.as_deref();
    match (&f.function, f.function_offset, module) {
        (Some(func), Some(off), Some(m)) if !f.inlined => {
            format!("{m}!{func}+{off}")
        }
        (Some(func), _, Some(m)) => format!("{m}!{func}"),
        (Some(func), _, None) => func.clone(),
        (None, _, Some(m)) => match f.module_offset {
            Some(off) => format!("{m}+{off}"),
            None => format!("{m}!??"),
        },
        (None, _, None) => "??".to_string(),
    }
}

/// Column widths shared by every thread so all stacks line up.
struct FrameColumns {
    symbol: usize,
    location: usize,
    /// Width of an address with its `0x`: 10 on a 32-bit machine, 18 on
    /// a 64-bit one, as WinDbg and minidump-stackwalk print them.
    pc: usize,
}

/// The width of an address of `arch` (the report's name for it), `0x`
/// included.
fn address_width(arch: &str) -> usize {
    match arch {
        "i386" | "x86" | "arm" => 10,
        _ => 18,
    }
}

impl FrameColumns {
    fn of(threads: &[ThreadReport], arch: &str) -> Self {
        let frames = threads.iter().flat_map(|t| &t.frames);
        let symbol = frames
            .clone()
            .map(|f| frame_symbol(f).chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_SYMBOL_WIDTH);
        let location = frames
            .map(|f| frame_location(f).chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_LOCATION_WIDTH);
        FrameColumns {
            symbol,
            location,
            pc: address_width(arch),
        }
    }
}

fn write_thread(out: &mut String, t: &ThreadReport, cols: &FrameColumns, style: Style) {
    let name = t
        .name
        .as_deref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    let state = if t.crashed { " (crashed)" } else { "" };
    let heading = format!("Thread {}{name}{state}", t.tid);
    let _ = writeln!(
        out,
        "{}",
        if t.crashed {
            style.alarm(&heading)
        } else {
            style.heading(&heading)
        }
    );
    if t.frames.is_empty() {
        let _ = writeln!(out, "  (no frames: the thread has no program counter)");
    }
    write_frames(out, t, cols, style);
    for note in &t.symbol_notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push('\n');
}

/// The lines of one physical frame (inlined functions first).
fn physical_frames(frames: &[FrameReport]) -> Vec<&[FrameReport]> {
    frames
        .chunk_by(|a, b| a.index == b.index)
        .collect::<Vec<_>>()
}

/// Whether two physical frames print the same (recursion: same pc,
/// function, line and how found).
fn same_frame(a: &[FrameReport], b: &[FrameReport]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.pc.0 == y.pc.0
                && x.found_by == y.found_by
                && frame_symbol(x) == frame_symbol(y)
                && frame_location(x) == frame_location(y)
        })
}

/// A thread's frames, one line per function; a run of identical frames
/// (recursion) is one line `#3–#240 … (repeats 238 times)`; then the count
/// of scanned frames left out below the last trusted one.
fn write_frames(out: &mut String, t: &ThreadReport, cols: &FrameColumns, style: Style) {
    let physical = physical_frames(&t.frames);
    let mut i = 0;
    while i < physical.len() {
        let run = physical[i..]
            .iter()
            .take_while(|p| same_frame(p, physical[i]))
            .count()
            .max(1);
        let group = physical[i];
        let last = physical[i + run - 1];
        for (line_number, f) in group.iter().enumerate() {
            let index = match (line_number, run) {
                (0, 1) => format!("#{}", f.index),
                (0, _) => format!("#{}\u{2013}#{}", f.index, last[0].index),
                _ => String::new(),
            };
            let how = if f.inlined {
                "(inlined)".to_string()
            } else if f.found_by == crate::unwind::FoundBy::Scan {
                // A scanned frame may be a stale return address: make it loud.
                style.caution("[scan]")
            } else {
                format!("[{}]", f.found_by.name())
            };
            let repeats = if run > 1 && !f.inlined {
                format!(" (repeats {run} times)")
            } else {
                String::new()
            };
            // A long index (`#3–#240`) keeps one space before the pc.
            let index_width = (index.chars().count() + 1).max(4);
            let line = format!(
                "  {index:<iw$}{:#0pw$x}  {:<sw$}  {:<lw$}  {how}{repeats}",
                f.pc.0,
                frame_symbol(f),
                frame_location(f),
                iw = index_width,
                pw = cols.pc,
                sw = cols.symbol,
                lw = cols.location,
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        i += run;
    }
    write_dropped(out, t);
}

fn write_dropped(out: &mut String, t: &ThreadReport) {
    match t.dropped_scanned_frames {
        0 => {}
        1 => {
            let _ = writeln!(
                out,
                "  (1 scanned frame below dropped; --scan-all shows it)"
            );
        }
        n => {
            let _ = writeln!(
                out,
                "  ({n} scanned frames below dropped; --scan-all shows them)"
            );
        }
    }
}

/// `inspect --brief`: a one-line summary of the crash, then the crashing
/// thread's frames, one line each (recursion collapsed as in the full
/// report). Without a crash, the first thread listed (the requesting one).
pub fn render_brief(r: &InspectReport) -> String {
    let mut out = String::new();
    let thread = r
        .threads
        .iter()
        .find(|t| t.crashed)
        .or_else(|| r.threads.first());
    let _ = writeln!(out, "{}", brief_summary(r, thread));
    if let Some(t) = thread {
        let threads = std::slice::from_ref(t);
        let cols = FrameColumns::of(threads, &r.image.arch);
        write_frames(&mut out, t, &cols, Style { on: false });
    }
    out
}

/// `SIGSEGV / SEGV_MAPERR at 0x10 (read) in thread 20353 "threads" at
/// threads!crash_here+0x36 (threads.c:80:16)`.
fn brief_summary(r: &InspectReport, thread: Option<&ThreadReport>) -> String {
    let mut line = match &r.crash {
        Some(c) => {
            let mut what = c.name.clone();
            if let Some(sub) = &c.subcode_name {
                what = format!("{what} / {sub}");
            }
            if let Some(a) = c.address {
                what = format!("{what} at {:#x}", a.0);
            }
            if let Some(access) = &c.access {
                what = format!("{what} ({access})");
            }
            what
        }
        None => "no crash recorded".to_string(),
    };
    if let Some(t) = thread {
        line.push_str(&format!(" in thread {}", t.tid));
        if let Some(name) = &t.name {
            line.push_str(&format!(" \"{name}\""));
        }
        // The innermost physical function: where the thread stopped.
        if let Some(top) = physical_frames(&t.frames).first().and_then(|p| p.last()) {
            line.push_str(&format!(" at {}", frame_symbol(top)));
            let location = frame_location(top);
            if !location.is_empty() {
                line.push_str(&format!(" ({location})"));
            }
        }
    }
    line
}

fn write_registers(out: &mut String, t: &ThreadReport, width: usize, style: Style) {
    if t.registers.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Registers of thread {}", t.tid))
    );
    const PER_LINE: usize = 4;
    // Each column as wide as its longest name, so values line up.
    let mut widths = [0usize; PER_LINE];
    for (i, r) in t.registers.iter().enumerate() {
        widths[i % PER_LINE] = widths[i % PER_LINE].max(r.name.chars().count());
    }
    for chunk in t.registers.chunks(PER_LINE) {
        let line: Vec<String> = chunk
            .iter()
            .zip(widths)
            .map(|(r, w)| format!("{:>w$} {:#0width$x}", r.name, r.value.0))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  "));
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
        if let Some(v) = fp.fpsr {
            parts.push(format!("fpsr {v:#010x}"));
        }
        if let Some(v) = fp.fpcr {
            parts.push(format!("fpcr {v:#010x}"));
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

/// `(offset 0x.., address 0x.., /path)`, leaving out a path the message
/// already names.
fn finding_location(f: &Finding) -> String {
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
    if at.is_empty() {
        String::new()
    } else {
        format!(" ({})", at.join(", "))
    }
}

/// `error   CKD-E1005 segment-in-file  message (offset 0x..)`.
fn write_finding(out: &mut String, f: &Finding) {
    write_finding_styled(out, f, Style { on: false });
}

/// One finding's line; with colour the severity word is painted (padded
/// first, so the columns stay aligned).
fn write_finding_styled(out: &mut String, f: &Finding, style: Style) {
    let severity = format!("{:<7}", f.severity.name());
    let severity = match f.severity {
        crate::verify::Severity::Error => style.alarm(&severity),
        crate::verify::Severity::Warning => style.caution(&severity),
        crate::verify::Severity::Note => severity,
    };
    let _ = writeln!(
        out,
        "{} {} {}  {}{}",
        severity,
        f.code,
        f.name,
        f.message,
        finding_location(f)
    );
}

/// The first characters of a build-id: enough to tell files apart.
fn short_build_id(id: &str) -> String {
    const SHOWN: usize = 8;
    if id.chars().count() > SHOWN {
        format!("{}…", id.chars().take(SHOWN).collect::<String>())
    } else {
        id.to_string()
    }
}

/// The identity a person looks a module up by: GNU build-id, else the
/// PDB / Breakpad debug id.
fn module_id(m: &ModuleReport) -> Option<&str> {
    m.build_id
        .as_deref()
        .or_else(|| m.pe.as_ref().and_then(|p| p.debug_id.as_deref()))
}

fn write_modules(out: &mut String, modules: &[ModuleReport], show_all: bool, style: Style) {
    if modules.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", style.heading("Modules"));
    let name_width = modules
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    let id_width = modules
        .iter()
        .map(|m| module_id(m).map_or(1, |b| short_build_id(b).chars().count()))
        .max()
        .unwrap_or(1);
    let range_width = modules
        .iter()
        .map(|m| format!("{}-{}", m.base, m.end).len())
        .max()
        .unwrap_or(0);
    for m in modules {
        let id = module_id(m).map_or("-".into(), short_build_id);
        let main = if m.main { "  main" } else { "" };
        let problem = match (&m.problem, show_all) {
            (Some(_), false) => "  (problem: see --modules)",
            _ => "",
        };
        let range = format!("{}-{}", m.base, m.end);
        let line = format!(
            "  {range:<range_width$}  {:<name_width$}  {id:<id_width$}  {:<6}{main}{problem}",
            m.name,
            m.symbols.name(),
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if show_all {
            let _ = writeln!(out, "      path      {}", m.path);
            if let Some(v) = m.pe.as_ref().and_then(|pe| pe.version.as_deref()) {
                let _ = writeln!(out, "      version   {v}");
            }
            if let Some(b) = &m.build_id {
                let _ = writeln!(out, "      build-id  {b}");
            }
            if let Some(b) = &m.binary {
                let _ = writeln!(out, "      binary    {b}");
            }
            if let Some(d) = &m.debug_file {
                let _ = writeln!(out, "      debug     {d}");
            }
            if let Some(p) = &m.problem {
                let _ = writeln!(out, "      problem   {p}");
            }
        }
    }
    out.push('\n');
}

/// One more process of a saved tree: a heading, its stacks, and its
/// modules where they differ from the first process's (a forked child
/// usually maps the same files at the same addresses).
fn write_other_process(
    out: &mut String,
    p: &crate::report::ProcessReport,
    first_modules: &[ModuleReport],
    arch: &str,
    opts: &TextOptions,
    style: Style,
) {
    if opts.show_registers_all_threads && p.threads.is_empty() {
        // `--thread` names a thread of another process.
        return;
    }
    let pid = p.pid.map_or("?".to_string(), |v| v.to_string());
    let name = p
        .name
        .as_deref()
        .map(|n| format!(" \"{}\"", printable(n)))
        .unwrap_or_default();
    let ppid = p.ppid.map(|v| format!(", ppid {v}")).unwrap_or_default();
    let state = match p.state {
        Some('Z') => ", zombie".to_string(),
        Some('X') => ", dead".to_string(),
        Some('T') => ", stopped".to_string(),
        _ => String::new(),
    };
    let count = match p.thread_count {
        0 => "no threads".to_string(),
        n => format!("{n} {}", plural(n, "thread", "threads")),
    };
    let heading = format!("Process {pid}{name}{ppid}{state}: {count}");
    let _ = writeln!(out, "{}", style.heading(&heading));
    if let Some(exe) = &p.executable {
        let _ = writeln!(out, "  executable {}", printable(exe));
    }
    if let Some(args) = &p.args {
        let _ = writeln!(out, "  command    {}", printable(args));
    }
    write_open_files(out, &p.open_files);
    out.push('\n');
    let cols = FrameColumns::of(&p.threads, arch);
    for t in &p.threads {
        write_thread(out, t, &cols, style);
    }
    if opts.show_registers_all_threads {
        for t in &p.threads {
            write_registers(out, t, cols.pc, style);
        }
    }
    let same = |a: &ModuleReport, b: &ModuleReport| {
        a.path == b.path && a.base == b.base && a.build_id == b.build_id
    };
    let inherited = p.modules.len() == first_modules.len()
        && p.modules.iter().zip(first_modules).all(|(a, b)| same(a, b));
    if !p.modules.is_empty() && (!inherited || opts.show_modules) {
        let _ = write!(out, "{} ", style.heading(&format!("Process {pid}:")));
        write_modules(out, &p.modules, opts.show_modules, style);
    }
    if let (true, Some(regions)) = (opts.show_regions, &p.regions) {
        let _ = write!(out, "{} ", style.heading(&format!("Process {pid}:")));
        write_regions(out, regions, style);
    }
}

/// The saved process tree (CRIU): one line per task, children indented.
fn write_processes(out: &mut String, tasks: &[crate::model::ProcessRecord], style: Style) {
    if tasks.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Process tree ({})", tasks.len()))
    );
    let _ = writeln!(
        out,
        "  {:>7} {:>7} {:>7} {:>7}  {:<8} comm / threads",
        "pid", "ppid", "pgid", "sid", "state"
    );
    // Depth by following ppid up the list, bounded against cycles.
    let depth = |t: &crate::model::ProcessRecord| {
        let mut d = 0;
        let mut ppid = t.ppid;
        while d < 32 {
            match tasks.iter().find(|p| p.pid == ppid && p.pid != t.pid) {
                Some(p) => {
                    d += 1;
                    ppid = p.ppid;
                }
                None => break,
            }
        }
        d
    };
    for t in tasks {
        let threads = t
            .threads
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(
            out,
            "  {:>7} {:>7} {:>7} {:>7}  {:<8} {}{} [{threads}]",
            t.pid,
            t.ppid,
            t.pgid,
            t.sid,
            t.state.as_deref().unwrap_or("?"),
            "  ".repeat(depth(t)),
            printable(t.name.as_deref().unwrap_or("?")),
        );
    }
    out.push('\n');
}

fn write_regions(out: &mut String, regions: &[crate::report::RegionReport], style: Style) {
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Memory regions ({})", regions.len()))
    );
    let rows: Vec<[String; 6]> = regions
        .iter()
        .map(|g| {
            let captured = match (&g.pages, g.capture.as_str()) {
                (Some(p), _) => describe_pages(p),
                (None, "partial") => format!("partial ({} bytes)", g.captured_bytes),
                (None, other) => other.to_string(),
            };
            let file = match (&g.file, g.file_offset) {
                (Some(f), Some(Hex(o))) => format!("{f} +{o:#x}"),
                (Some(f), None) => f.clone(),
                _ => g
                    .linux
                    .as_ref()
                    .and_then(|l| l.label.clone())
                    .unwrap_or_default(),
            };
            [
                format!("{}-{}", g.start, g.end),
                human_size(g.size),
                g.protection.clone(),
                g.sharing.clone(),
                captured,
                file,
            ]
        })
        .collect();
    let header = ["range", "size", "prot", "sharing", "captured", "file"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header.map(String::from)).chain(rows) {
        let line = format!(
            "  {:<w0$}  {:>w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');
}

/// `2/33 pages`, with what is kept elsewhere: `1/4 pages +2 parent`.
fn describe_pages(p: &crate::report::RegionPages) -> String {
    let c = &p.counts;
    let mut s = format!("{}/{} pages", c.in_image, p.total);
    for (n, what) in [
        (c.in_parent, "parent"),
        (c.lazy, "lazy"),
        (c.missing, "missing"),
    ] {
        if n > 0 {
            s.push_str(&format!(" +{n} {what}"));
        }
    }
    s
}

/// What kind of checkpoint, where its pages are, its open files.
fn write_checkpoint(out: &mut String, c: &crate::model::CheckpointInfo, style: Style) {
    let _ = writeln!(out, "{}", style.heading("Checkpoint"));
    let mut kind = c.kind.name().to_string();
    if let Some(p) = &c.parent {
        let there = if c.parent_present {
            ""
        } else {
            ", not present"
        };
        kind.push_str(&format!(" (parent {p}{there})"));
    }
    let _ = writeln!(out, "  kind      {kind}");
    let tool = match (&c.tool_version, c.image_version) {
        (Some(v), Some(i)) => format!("CRIU {v}, image version {i}"),
        (Some(v), None) => format!("CRIU {v}"),
        (None, Some(i)) => format!("CRIU (version not recorded), image version {i}"),
        (None, None) => "CRIU".to_string(),
    };
    let _ = writeln!(out, "  writer    {tool}");
    let p = &c.pages;
    let _ = writeln!(
        out,
        "  pages     {} in the image, {} in the parent, {} lazy, {} missing",
        p.in_image, p.in_parent, p.lazy, p.missing
    );
    write_open_files(out, &c.open_files);
    out.push('\n');
}

fn write_open_files(out: &mut String, files: &[crate::model::OpenFile]) {
    if files.is_empty() {
        return;
    }
    let _ = writeln!(out, "  open files");
    for f in files {
        let mut line = format!("    {:>4}  {:<7} {}", f.fd, f.kind, printable(&f.target));
        if let Some(pos) = f.position {
            line.push_str(&format!("  pos {pos}"));
        }
        let _ = writeln!(out, "{line}");
    }
}

fn write_header(out: &mut String, r: &InspectReport, style: Style) {
    let img = &r.image;
    let compression = img
        .compression
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let title = if img.format == "live-process" {
        format!(
            "{}: {}, {} mapped, stopped with {}",
            img.path,
            img.format_name,
            human_size(img.size),
            img.writer
        )
    } else {
        format!(
            "{}: {}{compression}, {}, written by {}",
            img.path,
            img.format_name,
            human_size(img.size),
            img.writer
        )
    };
    let _ = writeln!(out, "{}", style.heading(&title));
    let mut target = format!("{} {}", img.os, img.arch);
    if let Some(v) = &img.os_version {
        let _ = write!(target, " ({v})");
    }
    if img.kernel {
        target.push_str(", kernel");
    }
    if let Some(n) = img.cpu_count {
        let _ = write!(target, ", {n} CPUs");
    }
    let _ = writeln!(out, "  target   {target}");
    if let Some(cpu) = &img.cpu {
        let _ = writeln!(out, "  cpu      {cpu}");
    }
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
    if let Some(k) = &r.kernel {
        // A kernel dump: when it crashed, in UTC as `crash` shows it, and
        // how long it had been up by its own clock (the log's last record).
        if let Some(t) = img.timestamp {
            let when = if k.format == crate::model::VmcoreFormat::LiveKcore {
                "read at "
            } else {
                "crashed "
            };
            let _ = writeln!(out, "  {when} {} ({t} s since 1970)", utc(t));
        }
        if let Some(last) = k.log.last() {
            let s = last.timestamp_ns / 1_000_000_000;
            let _ = writeln!(
                out,
                "  uptime   {:02}:{:02}:{:02} (the kernel log's last record)",
                s / 3600,
                s / 60 % 60,
                s % 60
            );
        }
        if let Some(a) = &img.archive {
            let _ = writeln!(out, "  archive  {}", describe_archive(a));
        }
        out.push('\n');
        return;
    }
    if let Some(t) = img.timestamp {
        let _ = writeln!(out, "  time     {t} (seconds since 1970)");
    }
    if r.other_processes.is_empty() {
        let _ = writeln!(out, "  threads  {}", img.thread_count);
    } else {
        let processes = r.other_processes.len() + 1;
        let all: usize = img.thread_count
            + r.other_processes
                .iter()
                .map(|p| p.thread_count)
                .sum::<usize>();
        let _ = writeln!(
            out,
            "  threads  {} ({all} in the {processes} processes of the tree)",
            img.thread_count
        );
    }
    if let Some(a) = &img.archive {
        let _ = writeln!(out, "  archive  {}", describe_archive(a));
    }
    out.push('\n');
}

/// `2026-11-23 00:27:44 UTC` for seconds since 1970.
fn utc(seconds: u64) -> String {
    let t = crate::model::UtcTime::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `tar.zst, 20 members, 14.3 KiB (170 KiB of tar)`.
fn describe_archive(a: &crate::model::ArchiveInfo) -> String {
    let tar = if a.compression.is_some() {
        format!(" ({} of tar)", human_size(a.tar_size))
    } else {
        String::new()
    };
    format!(
        "{}, {} {}, {}{tar}",
        a.kind,
        a.members,
        plural(a.members as usize, "member", "members"),
        human_size(a.file_size)
    )
}

/// Sizes as checkpointctl prints them (one decimal, binary units), so the
/// two tools' numbers can be compared at a glance.
fn checkpoint_size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    let mut div = 1024u64;
    while bytes / div >= 1024 && unit < 5 {
        div *= 1024;
        unit += 1;
    }
    format!(
        "{:.1} {}iB",
        bytes as f64 / div as f64,
        ["K", "M", "G", "T", "P", "E"][unit]
    )
}

fn milliseconds(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

/// The container around the checkpointed processes.
/// The kernel's release, the dump's make, each CPU's pc and sp, and the
/// tail of the kernel log as `dmesg` prints it.
/// A CPU's kernel stack under its CPU line, one frame a line as thread
/// stacks are printed, scanned frames flagged.
/// Source lines (a vmlinux's DWARF) and inlined functions as thread stacks
/// show them; a frame named by another source than the kernel's first one
/// says which.
fn write_kernel_frames(
    out: &mut String,
    frames: &[FrameReport],
    main_source: Option<crate::kernel::symbol_source::KernelSymbolSource>,
    style: Style,
) {
    let width = frames
        .iter()
        .map(|f| frame_symbol(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_SYMBOL_WIDTH);
    let location_width = frames
        .iter()
        .map(|f| kernel_frame_location(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_LOCATION_WIDTH);
    let mut previous: Option<&str> = None;
    let mut last_index = None;
    for f in frames {
        // Leaving an interrupt or exception stack: mark the entry crossed,
        // as crash does.
        if let (Some(from), Some(to)) = (previous, f.stack.as_deref())
            && from != to
            && from != "task"
        {
            let _ = writeln!(out, "      --- <{}> ---", stack_title(from));
        }
        previous = f.stack.as_deref().or(previous);
        let index = if last_index != Some(f.index) {
            format!("#{}", f.index)
        } else {
            String::new()
        };
        last_index = Some(f.index);
        let mut how = if f.inlined {
            "(inlined)".to_string()
        } else if f.found_by == crate::unwind::FoundBy::Scan {
            // A scanned frame may be a stale return address: make it loud.
            style.caution("[scan]")
        } else {
            format!("[{}]", f.found_by.name())
        };
        if let Some(source) = f.symbol_source.filter(|s| Some(*s) != main_source) {
            how.push_str(&format!(" (named by {})", source.name()));
        }
        // Without source lines (no vmlinux) there is no location column.
        let location = if location_width > 0 {
            format!("{:<location_width$}  ", kernel_frame_location(f))
        } else {
            String::new()
        };
        let line = format!(
            "      {index:<4}{:#018x}  {:<width$}  {location}{how}",
            f.pc.0,
            frame_symbol(f),
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// crash's name for an interrupt or exception stack.
fn stack_title(stack: &str) -> String {
    match stack {
        "irq" => "IRQ stack".into(),
        "nmi" => "NMI exception stack".into(),
        "double-fault" => "DOUBLEFAULT exception stack".into(),
        "debug" => "DEBUG exception stack".into(),
        "machine-check" => "MCE exception stack".into(),
        "vmm-communication" => "VC exception stack".into(),
        other => format!("{} stack", printable(other)),
    }
}

/// A kernel source file from the tree's root (`kernel/panic.c:358:3`): a
/// base name alone is ambiguous among the kernel's many `inode.c`s. An
/// absolute build path is cut to its base name.
fn kernel_frame_location(f: &FrameReport) -> String {
    let Some(file) = f.file.as_deref() else {
        return String::new();
    };
    let file = if file.starts_with('/') {
        short_file(file)
    } else {
        file
    };
    match (f.line, f.column) {
        (Some(line), Some(c)) => format!("{}:{line}:{c}", printable(file)),
        (Some(line), None) => format!("{}:{line}", printable(file)),
        _ => printable(file).to_string(),
    }
}

fn write_kernel(
    out: &mut String,
    k: &crate::report::KernelReport,
    log_lines: Option<usize>,
    style: Style,
) {
    let _ = writeln!(out, "{}", style.heading("Kernel"));
    if let Some(release) = &k.release {
        let _ = writeln!(out, "  release  {}", printable(release));
    }
    if let Some(id) = &k.build_id {
        let _ = writeln!(out, "  build-id {}", printable(id));
    }
    if let Some(offset) = k.kernel_offset {
        let _ = writeln!(out, "  KASLR    text offset {offset}");
    }
    let format = match k.format {
        crate::model::VmcoreFormat::Elf => "ELF vmcore",
        crate::model::VmcoreFormat::KdumpCompressed => "kdump-compressed",
        crate::model::VmcoreFormat::Flattened => "makedumpfile flattened",
        crate::model::VmcoreFormat::LiveKcore => {
            "none: the running kernel, read through /proc/kcore"
        }
    };
    let level = k
        .dump_level
        .map(|l| format!(", dump level {l} ({})", excluded_pages(l)))
        .unwrap_or_default();
    let incomplete = if k.incomplete {
        style.alarm(", INCOMPLETE (the writer stopped early)")
    } else {
        String::new()
    };
    let _ = writeln!(out, "  dump     {format}{level}{incomplete}");
    let file = k
        .symbols
        .file
        .as_deref()
        .map(|f| format!(" ({})", printable(f)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  symbols  {}{file}",
        printable(&k.symbols.description)
    );
    if !k.modules.is_empty() {
        let _ = writeln!(out, "  modules  {}", printable(&k.symbols.modules));
    }
    for c in &k.cpus {
        let reg = |names: &[&str]| {
            c.registers
                .iter()
                .find(|r| names.contains(&r.name.as_str()))
                .map(|r| r.value.to_string())
                .unwrap_or_else(|| "-".into())
        };
        let symbol = c
            .pc_symbol
            .as_deref()
            .map(|s| format!(" ({})", printable(s)))
            .unwrap_or_default();
        let context = match (&c.context, c.preempt_count) {
            (Some(context), Some(count)) => format!("  {context} (preempt_count {count:#x})"),
            _ => String::new(),
        };
        let context = match c.stack.as_deref() {
            Some(stack) if stack != "task" => format!("{context}, on the {}", stack_title(stack)),
            _ => context,
        };
        // The panicking CPU is named in the crash line above.
        let context = match c.state.as_deref() {
            Some(state) if state != "panicked" => format!("{context}; {state}"),
            _ => context,
        };
        let task = match &c.task {
            Some(t) => format!("pid {:<6} {:<16}", t.pid, printable(&t.comm)),
            None if k.cpu_note_pids == crate::model::CpuNotePids::VcpuIds => {
                format!("pid {:<6}", "?")
            }
            None => format!("pid {:<6}", c.prstatus_pid),
        };
        let _ = writeln!(
            out,
            "  CPU {:<3} {task} pc {}{symbol}  sp {}{context}",
            c.index,
            reg(&["rip", "pc", "eip"]),
            reg(&["rsp", "sp", "esp"])
        );
        write_kernel_frames(out, &c.frames, k.symbols.source, style);
    }
    out.push('\n');
    write_kernel_modules(out, k, style);
    write_tasks(out, k, style);
    if k.log.is_empty() {
        return;
    }
    let shown = log_lines.unwrap_or(DEFAULT_LOG_TAIL).min(k.log.len());
    if shown == 0 {
        return;
    }
    let heading = if shown == k.log.len() {
        format!("Kernel log ({} records)", k.log.len())
    } else {
        format!(
            "Kernel log (last {shown} of {} records; --log N for more)",
            k.log.len()
        )
    };
    let _ = writeln!(out, "{}", style.heading(&heading));
    for record in &k.log[k.log.len() - shown..] {
        out.push_str(&dmesg_line(record));
    }
    out.push('\n');
}

/// Loaded modules as crash's `mod` lists them: struct module, name, code
/// base, size; with how many of their functions their own symbol table
/// named, whether they carry ORC tables, their build-id and the .ko their
/// frames are named from.
fn write_kernel_modules(out: &mut String, k: &crate::report::KernelReport, style: Style) {
    if k.modules.is_empty() && k.modules_problems.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Modules ({})", k.modules.len()))
    );
    if !k.modules.is_empty() {
        let _ = writeln!(
            out,
            "  MODULE              NAME                  BASE                 SIZE  SYMBOLS"
        );
    }
    for m in &k.modules {
        let orc = m
            .orc_entries
            .map(|n| format!(", ORC {n}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:#018x}  {:<20}  {:#018x}  {:>6}  {} functions{orc}",
            m.address.0,
            printable(&m.name),
            m.text_base.0,
            m.size,
            m.symbols
        );
        let id = m
            .build_id
            .as_deref()
            .map(|id| format!("build-id {}", printable(id)))
            .unwrap_or_else(|| "build-id unknown".to_string());
        let debug = m
            .debug_file
            .as_deref()
            .map(|f| format!(", DWARF from {}", printable(f)))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:20}{id}{debug}", "");
    }
    for problem in &k.modules_problems {
        let _ = writeln!(
            out,
            "  {}",
            style.caution(&format!("list incomplete: {}", printable(problem)))
        );
    }
    out.push('\n');
}

/// The task list as `ps` in crash shows it — `>` marks a task running on a
/// CPU, kernel threads are bracketed — with the stacks of unwound tasks
/// that are not already under their CPU.
fn write_tasks(out: &mut String, k: &crate::report::KernelReport, style: Style) {
    if k.tasks.is_empty() {
        for problem in &k.tasks_problems {
            let _ = writeln!(out, "  tasks not listed: {}", printable(problem));
        }
        if !k.tasks_problems.is_empty() {
            out.push('\n');
        }
        return;
    }
    let running = k.tasks.iter().filter(|t| t.running_on.is_some()).count();
    let user = k.tasks.iter().filter(|t| !t.kernel_thread).count();
    let types = match k.types.as_deref() {
        Some("btf") => "; layouts from the kernel's BTF",
        _ => "",
    };
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Tasks ({}: {running} running, {user} user{types})",
            k.tasks.len()
        ))
    );
    let _ = writeln!(out, "       PID   TGID   PPID  CPU  ST  COMM");
    for t in &k.tasks {
        let mark = if t.running_on.is_some() { ">" } else { " " };
        let comm = if t.kernel_thread {
            format!("[{}]", printable(&t.comm))
        } else {
            printable(&t.comm).to_string()
        };
        let cpu = t.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {mark} {:>6} {:>6} {:>6} {cpu:>4}  {}   {comm}",
            t.pid, t.tgid, t.ppid, t.state
        );
        if t.running_on.is_none()
            && let Some(frames) = &t.frames
        {
            write_kernel_frames(out, frames, k.symbols.source, style);
        }
    }
    for problem in &k.tasks_problems {
        let _ = writeln!(
            out,
            "  {}",
            style.caution(&format!("list incomplete: {}", printable(problem)))
        );
    }
    if k.format == crate::model::VmcoreFormat::LiveKcore {
        if k.tasks.iter().any(|t| t.frames.is_none()) {
            let _ = writeln!(
                out,
                "  `--task PID` unwinds a sleeping task's kernel stack, `--all-tasks` every one; a task running on a CPU (>) cannot be unwound live."
            );
        }
    } else if k.tasks.iter().any(|t| t.frames.is_none()) {
        let _ = writeln!(
            out,
            "  Running tasks are unwound under their CPUs; `--task PID` unwinds one more, `--all-tasks` every one."
        );
    }
    if k.tasks.iter().any(|t| !t.kernel_thread) {
        let _ = writeln!(out, "  {}", user_pages_note(k));
    }
    out.push('\n');
}

/// Whether the dump holds user pages, and how to see a user process.
fn user_pages_note(k: &crate::report::KernelReport) -> String {
    let ask = "`--process PID` shows a user process";
    match k.dump_level {
        Some(level) if level & 8 != 0 => format!(
            "User pages: excluded (dump level {level}); {ask}'s user registers, modules and \
             mappings, not its stacks."
        ),
        Some(level) => format!(
            "User pages: in the dump (dump level {level}); {ask} with its threads' user stacks, \
             modules and (with --regions) mappings."
        ),
        None if k.format == crate::model::VmcoreFormat::LiveKcore => format!(
            "User pages: readable (the running kernel); {ask} with its threads' user stacks."
        ),
        None => format!(
            "User pages: the dump does not record its dump level; {ask} with what it holds."
        ),
    }
}

/// One log record as `dmesg` prints it: `[seconds.micros] text`, one line
/// per line of text.
fn dmesg_line(record: &crate::model::LogRecord) -> String {
    let seconds = record.timestamp_ns / 1_000_000_000;
    let micros = (record.timestamp_ns % 1_000_000_000) / 1_000;
    let mut text = String::new();
    for line in record.text.split('\n') {
        let _ = writeln!(text, "[{seconds:>5}.{micros:06}] {}", printable(line));
    }
    text
}

/// The page classes a makedumpfile dump level leaves out, in words.
fn excluded_pages(level: u32) -> String {
    const CLASSES: &[(u32, &str)] = &[
        (1, "zero"),
        (2, "cache"),
        (4, "cache private"),
        (8, "user"),
        (16, "free"),
    ];
    let names: Vec<&str> = CLASSES
        .iter()
        .filter(|(bit, _)| level & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "every page kept".into()
    } else {
        format!("{} pages excluded", names.join(", "))
    }
}

fn write_container(out: &mut String, c: &crate::model::ContainerInfo, style: Style) {
    let name = printable(c.name.as_deref().unwrap_or("(unnamed)"));
    let engine = c
        .engine
        .as_deref()
        .map(|e| format!(" ({})", printable(e)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!("Container {name}{engine}"))
    );
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<13} {}", printable(&value));
    };
    if let Some(id) = &c.id {
        line("id", id.clone());
    }
    if let Some(image) = &c.image {
        line("image", image.clone());
    }
    if let Some(r) = &c.runtime {
        line("runtime", r.clone());
    }
    if let Some(t) = &c.created {
        line("created", crate::model::seconds_precision(t));
    }
    if let Some(t) = &c.checkpointed {
        line("checkpointed", crate::model::seconds_precision(t));
    }
    if let Some(h) = &c.hostname {
        line("hostname", h.clone());
    }
    if let Some(p) = &c.pod {
        let ns = c
            .namespace
            .as_deref()
            .map(|n| format!(" (namespace {n})"))
            .unwrap_or_default();
        line("pod", format!("{p}{ns}"));
    } else if let Some(n) = &c.namespace {
        line("namespace", n.clone());
    }
    if !c.args.is_empty() {
        let cwd = c
            .cwd
            .as_deref()
            .map(|d| format!("  (cwd {d})"))
            .unwrap_or_default();
        line("command", format!("{}{cwd}", c.args.join(" ")));
    }
    for i in &c.interfaces {
        let mut parts = Vec::new();
        if let Some(n) = &i.network {
            parts.push(n.clone());
        }
        if let Some(name) = &i.interface {
            parts.push(name.clone());
        }
        parts.extend(i.addresses.iter().cloned());
        if !i.gateways.is_empty() {
            parts.push(format!("via {}", i.gateways.join(",")));
        }
        if let Some(m) = &i.mac {
            parts.push(format!("mac {m}"));
        }
        line("network", parts.join(" "));
    }
    if !c.mounts.is_empty() {
        let mounts: Vec<String> = c
            .mounts
            .iter()
            .map(|m| match &m.kind {
                Some(k) => format!("{} ({k})", m.destination),
                None => m.destination.clone(),
            })
            .collect();
        line("mounts", mounts.join(", "));
    }
    line(
        "checkpoint",
        format!(
            "{} (memory pages {})",
            checkpoint_size(c.checkpoint_size),
            checkpoint_size(c.pages_size)
        ),
    );
    if let Some(s) = c.rootfs_diff_size {
        line("rootfs diff", checkpoint_size(s));
    }
    if !c.deleted_files.is_empty() {
        line(
            "deleted",
            format!(
                "{} {} from the root file system",
                c.deleted_files.len(),
                plural(c.deleted_files.len(), "file", "files")
            ),
        );
    }
    if let Some(s) = &c.dump_statistics {
        line(
            "CRIU dump",
            format!(
                "freezing {}, frozen {}, memdump {}, memwrite {}; pages scanned {}, written {}, skipped (in parent) {}, lazy {}",
                milliseconds(s.freezing_time_us),
                milliseconds(s.frozen_time_us),
                milliseconds(s.memdump_time_us),
                milliseconds(s.memwrite_time_us),
                s.pages_scanned,
                s.pages_written,
                s.pages_skipped_parent,
                s.pages_lazy
            ),
        );
    }
    if !c.metadata_files.is_empty() {
        line("files", c.metadata_files.join(", "));
    }
    out.push('\n');
}

fn write_crash(out: &mut String, r: &InspectReport, style: Style) {
    let Some(c) = &r.crash else {
        let why = if r
            .kernel
            .as_ref()
            .is_some_and(|k| k.format == crate::model::VmcoreFormat::LiveKcore)
        {
            "No crash: the kernel is running (read live through /proc/kcore), nothing crashed."
        } else if let Some(why) = r.kernel.as_ref().and_then(|k| k.unsupported.as_deref()) {
            &format!("No panic message: {why}.")
        } else if r.kernel.is_some() {
            "No panic message found (the kernel log could not be read)."
        } else {
            "No crash recorded (the process was dumped while running or stopped)."
        };
        let _ = writeln!(out, "{why}\n");
        return;
    };
    if c.kind == "panic" {
        // A kernel panic has no number: its message is the whole story,
        // with the CPU that panicked and the task it was running.
        let cpu = r.kernel.as_ref().and_then(|k| {
            let index = k.panic_cpu?;
            let cpu = k.cpus.iter().find(|c| c.index == index)?;
            Some(match (&cpu.task, k.cpu_note_pids) {
                (Some(t), _) => format!(" on CPU {index} (pid {})", t.pid),
                (None, crate::model::CpuNotePids::Tasks) => {
                    format!(" on CPU {index} (pid {})", cpu.prstatus_pid)
                }
                (None, crate::model::CpuNotePids::VcpuIds) => format!(" on CPU {index}"),
            })
        });
        let context = c
            .interrupt_level
            .as_deref()
            .map(|l| format!(", in {l} context"))
            .unwrap_or_default();
        let cause = r.kernel.as_ref().map_or(&[][..], |k| &k.panic_cause[..]);
        // No panic record: the kernel went down from an oops (a crash
        // kernel takes over from oops_end, before anything calls panic),
        // and the oops report is the whole story.
        let oops_only = cause.contains(&c.description);
        let what = if oops_only { "oops" } else { "panic" };
        let _ = writeln!(
            out,
            "{}",
            style.alarm(&format!(
                "Crash: kernel {what}{}{context}",
                cpu.unwrap_or_default()
            ))
        );
        if oops_only {
            for line in cause {
                let _ = writeln!(out, "  {}", printable(line));
            }
        } else {
            let _ = writeln!(
                out,
                "  Kernel panic - not syncing: {}",
                printable(&c.description)
            );
            // What led to it: the oops or BUG the log reported before.
            if !cause.is_empty() {
                let _ = writeln!(out, "  after:");
                for line in cause {
                    let _ = writeln!(out, "    {}", printable(line));
                }
            }
        }
        out.push('\n');
        return;
    }
    let sub = c
        .subcode_name
        .as_deref()
        .map(|s| format!(" / {s}"))
        .unwrap_or_default();
    let numbers = match c.subcode {
        Some(code) => format!("{} {}, code {code}", c.kind, c.code),
        None if c.kind == "signal" => format!("{} {}", c.kind, c.code),
        None => format!("{} {:#x}", c.kind, c.code),
    };
    let thread = c
        .thread
        .map(|t| format!(" in thread {t}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}",
        style.alarm(&format!("Crash: {}{sub} ({numbers}){thread}", c.name))
    );
    let _ = writeln!(out, "  {}", c.description);
    for r in &c.reasons {
        let _ = writeln!(out, "  {}  {}", r.key, printable(&r.value));
    }
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
    if let Some(level) = &c.interrupt_level {
        let _ = writeln!(out, "  context  {level}");
    }
    if !c.parameters.is_empty() {
        let params: Vec<String> = c.parameters.iter().map(Hex::to_string).collect();
        let _ = writeln!(out, "  parameters  {}", params.join(" "));
    }
    let bytes_width = c
        .instructions
        .iter()
        .map(|i| i.bytes.len())
        .max()
        .unwrap_or(0);
    for i in &c.instructions {
        let mark = if i.current { "=>" } else { "  " };
        let _ = writeln!(
            out,
            "  {mark} {:#x}  {:<bytes_width$}  {}",
            i.address.0, i.bytes, i.text
        );
    }
    out.push('\n');
}

/// The `inspect` report as text.
pub fn render_inspect(r: &InspectReport, opts: &TextOptions) -> String {
    let style = Style { on: opts.color };
    let mut out = String::new();
    write_header(&mut out, r, style);
    if let Some(c) = &r.container {
        write_container(&mut out, c, style);
    }
    write_crash(&mut out, r, style);
    if let Some(k) = &r.kernel {
        write_kernel(&mut out, k, opts.log_lines, style);
    }

    let cols = FrameColumns::of(&r.threads, &r.image.arch);
    for t in &r.threads {
        write_thread(&mut out, t, &cols, style);
    }
    for t in r
        .threads
        .iter()
        .filter(|t| t.crashed || opts.show_registers_all_threads)
    {
        write_registers(&mut out, t, cols.pc, style);
    }

    for p in &r.other_processes {
        write_other_process(&mut out, p, &r.modules, &r.image.arch, opts, style);
    }

    write_processes(&mut out, &r.processes, style);
    if let Some(c) = &r.checkpoint {
        write_checkpoint(&mut out, c, style);
    }
    // A kernel dump's one module is the kernel: its symbol status is the
    // Kernel section's `symbols` line, and its modules are listed there.
    if r.kernel.is_none() {
        write_modules(&mut out, &r.modules, opts.show_modules, style);
    }

    // A kernel dump's own address space has no regions to list.
    if let (true, Some(regions)) = (opts.show_regions, &r.regions)
        && (r.kernel.is_none() || !regions.is_empty())
    {
        write_regions(&mut out, regions, style);
    }

    let annotations = crate::render::checkpoint::annotation_lines(
        r.annotations
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str())),
        r.checkpoint.as_ref(),
    );
    if !annotations.is_empty() {
        let _ = writeln!(out, "{}", style.heading("Annotations"));
        for (key, value) in &annotations {
            let _ = writeln!(out, "  {} = {}", printable(key), printable(value));
        }
        out.push('\n');
    }
    if !r.image_files.is_empty() && opts.show_modules {
        let _ = writeln!(out, "{}", style.heading("Image files"));
        for f in &r.image_files {
            let kind = match (f.kind, f.magic) {
                (Some(k), _) => k.to_string(),
                (None, Some(m)) => format!("unknown {m:#x}"),
                (None, None) => "raw".to_string(),
            };
            let entries = f
                .entries
                .map(|n| format!("{n} {}", plural(n as usize, "entry", "entries")))
                .unwrap_or_default();
            let line = format!(
                "  {:<24} {:<14} {:>10} bytes  {entries}",
                printable(&f.name),
                kind,
                f.size
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }
    if !r.streams.is_empty() && opts.show_modules {
        let _ = writeln!(out, "{}", style.heading("Streams"));
        for st in &r.streams {
            let name = st
                .name
                .map(str::to_string)
                .unwrap_or_else(|| format!("unknown {:#x}", st.kind));
            let _ = writeln!(
                out,
                "  {:<28} {:>10} bytes at {:#x}",
                name, st.size, st.offset
            );
        }
        out.push('\n');
    }

    if !r.findings.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            style.heading(&format!(
                "Findings while reading ({}; run `ckdump verify` for all checks)",
                r.findings.len()
            ))
        );
        for f in &r.findings {
            out.push_str("  ");
            write_finding(&mut out, f);
        }
        out.push('\n');
    }
    // One blank line between sections, none at the end.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The `verify` report as text: one line per finding with its hint, then a
/// tally.
pub fn render_verify(r: &VerifyReport) -> String {
    render_verify_with(r, false)
}

/// The `verify` report as text, the severities coloured when `color` (for
/// a terminal).
pub fn render_verify_with(r: &VerifyReport, color: bool) -> String {
    let style = Style { on: color };
    let mut out = String::new();
    let _ = writeln!(out, "ckdump verify {}", r.path);
    if let Some(a) = r.image.as_ref().and_then(|i| i.archive.as_ref()) {
        let _ = writeln!(out, "container checkpoint archive: {}", describe_archive(a));
    }
    for f in &r.findings {
        write_finding_styled(&mut out, f, style);
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
        "{} {}, {} {}, {} {}; {passed} of {applicable} checks passed",
        r.counts.errors,
        plural(r.counts.errors, "error", "errors"),
        r.counts.warnings,
        plural(r.counts.warnings, "warning", "warnings"),
        r.counts.notes,
        plural(r.counts.notes, "note", "notes"),
    );
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod utc_tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // crash's DATE for the Debian 6.1 kdump: Mon Nov 23 00:27:44 UTC 2026.
        assert_eq!(utc(1_795_393_664), "2026-11-23 00:27:44 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }
}
