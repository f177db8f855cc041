//! The diff as text, one section per kind of difference.

use std::fmt::Write;

use super::printable;
use crate::diff::{Change, DiffReport, ProcessDiff, RegionRef, RegionSpan};
use crate::report::ImageSummary;

fn or_dash(v: &Option<String>) -> String {
    v.as_deref().map(printable).unwrap_or_else(|| "-".into())
}

fn describe_image(i: &ImageSummary) -> String {
    let mut s = format!("{} ({}", printable(&i.path), i.format_name);
    if let Some(pid) = i.pid {
        let _ = write!(s, ", pid {pid}");
    }
    if let Some(name) = &i.process_name {
        let _ = write!(s, " {}", printable(name));
    }
    let _ = write!(
        s,
        ", {} thread{})",
        i.thread_count,
        if i.thread_count == 1 { "" } else { "s" }
    );
    s
}

fn region(r: &RegionRef) -> String {
    let mut s = format!("{}-{} {} {}", r.start, r.end, r.protection, r.sharing);
    if let Some(f) = &r.file {
        let _ = write!(s, " {}", printable(f));
        if let Some(off) = r.file_offset {
            let _ = write!(s, " @{off}");
        }
    }
    s
}

fn write_changes(out: &mut String, indent: &str, changes: &[Change]) {
    for c in changes {
        let _ = writeln!(
            out,
            "{indent}{:<16} {} -> {}",
            c.field,
            or_dash(&c.a),
            or_dash(&c.b)
        );
    }
}

fn omitted(out: &mut String, n: usize) {
    if n > 0 {
        let _ = writeln!(
            out,
            "  … {n} more not listed (see --format json for the first {})",
            crate::diff::MAX_LISTED
        );
    }
}

/// A region of the page lists: `start-end prot file`, and whose it is
/// when it is B's.
fn span(x: &RegionSpan) -> String {
    if x.region_of == "none" {
        return "outside every region".into();
    }
    let mut label = format!("{}-{}", x.start, x.end);
    if let Some(prot) = &x.protection {
        let _ = write!(label, " {prot}");
    }
    if let Some(f) = &x.file {
        let _ = write!(label, " {}", printable(f));
    }
    if x.region_of == "b" {
        label.push_str(" (region of B)");
    }
    label
}

/// The human diff.
pub fn render(r: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ckdump diff");
    let _ = writeln!(out, "  A: {}", describe_image(&r.a));
    let _ = writeln!(out, "  B: {}", describe_image(&r.b));
    if r.identical {
        let p = &r.root.pages;
        let others = r.other_processes.len();
        let compared: u64 = p.compared
            + r.other_processes
                .iter()
                .map(|x| x.diff.pages.compared)
                .sum::<u64>();
        let scope = if others > 0 {
            format!(" in all {} processes", others + 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "identical: same process, threads, registers, regions and modules{scope}; {compared} pages compared, all equal"
        );
        return out;
    }

    if r.root.identical() && !r.other_processes.is_empty() {
        let _ = writeln!(
            out,
            "\nprocess {} {}: identical",
            pid(r.a.pid),
            or_dash(&r.a.process_name)
        );
    } else {
        write_process_diff(&mut out, &r.root, "");
    }
    for (side, list) in [("A", &r.processes_only_in_a), ("B", &r.processes_only_in_b)] {
        for x in list {
            let name = or_dash(&x.name);
            let _ = writeln!(out, "\nprocess only in {side}: {} {name}", pid(x.pid));
        }
    }
    for x in r.other_processes.iter().filter(|x| !x.identical) {
        let name = or_dash(&x.name);
        let prefix = if x.pid_a == x.pid_b {
            format!("process {} {name}: ", pid(x.pid_a))
        } else {
            format!("process {} / {} {name}: ", pid(x.pid_a), pid(x.pid_b))
        };
        write_process_diff(&mut out, &x.diff, &prefix);
    }
    let same = r.other_processes.iter().filter(|x| x.identical).count();
    if same > 0 {
        let by = r.processes_paired_by.unwrap_or("pid");
        let _ = writeln!(
            out,
            "\n{same} other {} identical (paired by {by})",
            plural_processes(same)
        );
    }
    out
}

fn pid(p: Option<u64>) -> String {
    p.map_or("?".to_string(), |v| v.to_string())
}

fn plural_processes(n: usize) -> &'static str {
    if n == 1 { "process" } else { "processes" }
}

/// One pair of processes' differences; `prefix` names the process in
/// every heading (empty for the images' own processes).
fn write_process_diff(out: &mut String, d: &ProcessDiff, prefix: &str) {
    if !d.process.is_empty() {
        let _ = writeln!(out, "\n{prefix}process");
        write_changes(out, "  ", &d.process);
    }

    let t = &d.threads;
    if !(t.only_in_a.is_empty() && t.only_in_b.is_empty() && t.changed.is_empty()) {
        let _ = writeln!(
            out,
            "\n{prefix}threads (paired by {}; {} unchanged)",
            t.paired_by, t.unchanged
        );
        for th in &t.only_in_a {
            let _ = writeln!(out, "  only in A: {} {}", th.tid, or_dash(&th.name));
        }
        for th in &t.only_in_b {
            let _ = writeln!(out, "  only in B: {} {}", th.tid, or_dash(&th.name));
        }
        for c in &t.changed {
            let tid = if c.tid_a == c.tid_b {
                c.tid_a.to_string()
            } else {
                format!("{} / {}", c.tid_a, c.tid_b)
            };
            let _ = writeln!(out, "  thread {tid} {}", or_dash(&c.name));
            write_changes(out, "    ", &c.attributes);
            for reg in &c.registers {
                let side = |v: Option<crate::report::Hex>, sym: &Option<String>| {
                    let mut s = v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                    if let Some(sym) = sym {
                        let _ = write!(s, " ({})", printable(sym));
                    }
                    s
                };
                let _ = writeln!(
                    out,
                    "    {:<16} {} -> {}",
                    reg.name,
                    side(reg.a, &reg.a_symbol),
                    side(reg.b, &reg.b_symbol)
                );
            }
            if !c.float.is_empty() {
                let names: Vec<&str> = c.float.iter().map(|f| f.field.as_str()).collect();
                let _ = writeln!(out, "    {:<16} {}", "float state", names.join(", "));
            }
        }
        omitted(out, t.omitted);
    }

    let g = &d.regions;
    if !(g.added.is_empty() && g.removed.is_empty() && g.changed.is_empty()) {
        let _ = writeln!(out, "\n{prefix}regions ({} unchanged)", g.unchanged);
        for x in &g.removed {
            let _ = writeln!(out, "  removed  {}", region(x));
        }
        for x in &g.added {
            let _ = writeln!(out, "  added    {}", region(x));
        }
        for c in &g.changed {
            let _ = writeln!(
                out,
                "  changed  {}  [{}]",
                region(&c.a),
                c.fields.join(", ")
            );
            let _ = writeln!(out, "       ->  {}", region(&c.b));
        }
        omitted(out, g.omitted);
    }

    let m = &d.modules;
    if !(m.added.is_empty() && m.removed.is_empty() && m.changed.is_empty()) {
        let _ = writeln!(out, "\n{prefix}modules ({} unchanged)", m.unchanged);
        for (what, list) in [("removed", &m.removed), ("added  ", &m.added)] {
            for x in list {
                let (name, id) = (printable(&x.name), or_dash(&x.build_id));
                let _ = writeln!(out, "  {what}  {name} {id} at {}", x.base);
            }
        }
        for c in &m.changed {
            let _ = writeln!(out, "  changed  {}", printable(&c.name));
            write_changes(out, "    ", &c.changes);
        }
        omitted(out, m.omitted);
    }

    let p = &d.pages;
    let mut both = format!("{} identical, {} differ", p.identical, p.differing);
    if p.rearranged > 0 {
        let _ = write!(both, ", {} rearranged", p.rearranged);
    }
    let mut moved = String::new();
    if p.moved > 0 {
        moved = format!("; {} moved", p.moved);
    }
    let _ = writeln!(
        out,
        "\n{prefix}pages ({} KiB; {} held by both: {both}; {} only in A, {} only in B{moved})",
        p.page_size / 1024,
        p.compared,
        p.only_in_a,
        p.only_in_b
    );
    for x in &p.regions {
        let mut lines = Vec::new();
        let list = |v: &[crate::report::Hex], total: u64| {
            let mut s: Vec<String> = v.iter().map(|h| h.to_string()).collect();
            if total as usize > v.len() {
                s.push("…".into());
            }
            s.join(" ")
        };
        if x.differing > 0 {
            lines.push(format!(
                "    {} of {} differ: {}",
                x.differing,
                x.compared,
                x.first_differing
                    .iter()
                    .map(|c| format!(
                        "{} ({} bytes from {})",
                        c.page, c.differing_bytes, c.first_difference
                    ))
                    .chain(
                        (x.differing as usize > x.first_differing.len()).then(|| "…".to_string())
                    )
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if x.rearranged > 0 {
            lines.push(format!(
                "    {} of {} rearranged: A's content moved away, B's moved in",
                x.rearranged, x.compared
            ));
        }
        if x.only_in_a > 0 {
            lines.push(format!(
                "    {} only in A: {}",
                x.only_in_a,
                list(&x.first_only_in_a, x.only_in_a)
            ));
        }
        if x.only_in_b > 0 {
            lines.push(format!(
                "    {} only in B: {}",
                x.only_in_b,
                list(&x.first_only_in_b, x.only_in_b)
            ));
        }
        let here = |s: &RegionSpan| s.region_of == x.region.region_of && s.start == x.region.start;
        for m in p.moves.iter().filter(|m| here(&m.from)) {
            let pairs: Vec<String> = m
                .first
                .iter()
                .map(|c| format!("{} -> {}", c.a, c.b))
                .chain((m.pages as usize > m.first.len()).then(|| "…".to_string()))
                .collect();
            lines.push(format!(
                "    {} moved to {}: {}",
                m.pages,
                span(&m.to),
                pairs.join(", ")
            ));
        }
        if lines.is_empty() {
            // Only pages moved in from elsewhere: their line is under the
            // region they came from.
            continue;
        }
        let _ = writeln!(out, "  {}", span(&x.region));
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    omitted(out, p.omitted);
}
