//! `ckdump diff A B`: what differs between two saved states, whatever
//! their formats (checkpoint vs checkpoint, the checkpoint a process was
//! restored from vs the core it crashed with, core vs core).
//!
//! Everything is compared on the common model: the process, threads and
//! their registers, memory regions, modules, and the bytes of every page
//! both images hold, with pages whose content moved to another address
//! recognised by their hashes. Lists are capped; pages are streamed.

mod chunk;
mod moves;
mod pages;

use serde::Serialize;

use crate::model::{FloatState, Image, Module, ProcessView, Region, Target, Thread};
use crate::progress::Progress;
use crate::report::{Hex, ImageSummary};
use crate::symbols::{SymbolConfig, Symbolizer};

pub use moves::PageHash;
pub use pages::{MovedPages, PAGE_SIZE, PageChange, PageDiff, PageMove, RegionPages, RegionSpan};

/// Version of the diff JSON (`schema/diff.schema.json`).
pub const DIFF_SCHEMA: &str = "ckdump-diff/2";
/// At most this many items are listed per list; the rest are counted.
pub const MAX_LISTED: usize = 256;

/// How to diff.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Symbolize changed register values that point into code.
    pub symbols: Option<SymbolConfig>,
    pub progress: Option<Progress>,
}

/// One value that differs: `a` in the first image, `b` in the second
/// (None where that image does not have it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

impl Change {
    fn new(field: &str, a: Option<String>, b: Option<String>) -> Self {
        Change {
            field: field.to_string(),
            a,
            b,
        }
    }
}

/// A register whose value differs.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterChange {
    pub name: String,
    pub a: Option<Hex>,
    pub b: Option<Hex>,
    /// `function+0xoff` (or `module+0xoff`) when the value points into code
    /// and symbols were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a_symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_symbol: Option<String>,
}

/// A thread present in only one image.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadRef {
    pub tid: u64,
    pub name: Option<String>,
}

/// A thread in both images that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadChange {
    pub tid_a: u64,
    pub tid_b: u64,
    pub name: Option<String>,
    /// Name, signal, signal masks.
    pub attributes: Vec<Change>,
    pub registers: Vec<RegisterChange>,
    /// FPU / vector state fields (`mxcsr`, `xmm3`, `ymm3_upper`).
    pub float: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadsDiff {
    /// "tid" when threads were matched by thread id, "tid-order" when the
    /// images share no thread id (two runs of one program) and were paired
    /// smallest tid with smallest tid, and so on.
    pub paired_by: &'static str,
    pub only_in_a: Vec<ThreadRef>,
    pub only_in_b: Vec<ThreadRef>,
    pub changed: Vec<ThreadChange>,
    pub unchanged: usize,
    /// Entries left out of the lists above.
    pub omitted: usize,
}

/// A region as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionRef {
    pub start: Hex,
    pub end: Hex,
    pub protection: String,
    pub sharing: String,
    pub file: Option<String>,
    pub file_offset: Option<Hex>,
}

impl RegionRef {
    fn of(r: &Region) -> Self {
        RegionRef {
            start: Hex(r.start),
            end: Hex(r.end),
            protection: r.protection.rwx(),
            sharing: sharing_name(r),
            file: r.file.as_ref().map(|f| f.path.clone()),
            file_offset: r.file.as_ref().map(|f| Hex(f.offset)),
        }
    }
}

fn sharing_name(r: &Region) -> String {
    match r.sharing {
        crate::model::Sharing::Private => "private",
        crate::model::Sharing::Shared => "shared",
        crate::model::Sharing::Unknown => "unknown",
    }
    .to_string()
}

/// A region that starts at the same address in both images but differs.
#[derive(Debug, Clone, Serialize)]
pub struct RegionChange {
    pub a: RegionRef,
    pub b: RegionRef,
    /// Which of end, protection, sharing, file, file_offset, mmap_flags.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionsDiff {
    /// In B only.
    pub added: Vec<RegionRef>,
    /// In A only.
    pub removed: Vec<RegionRef>,
    pub changed: Vec<RegionChange>,
    pub unchanged: usize,
    pub omitted: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleRef {
    pub name: String,
    pub path: String,
    pub base: Hex,
    pub size: u64,
    pub build_id: Option<String>,
}

impl ModuleRef {
    fn of(m: &Module) -> Self {
        ModuleRef {
            name: m.name.clone(),
            path: m.path.clone(),
            base: Hex(m.base),
            size: m.size,
            build_id: m.build_id.clone(),
        }
    }
}

/// A module in both images (same path, or same file name) whose identity
/// or placement differs.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleChange {
    pub name: String,
    /// build_id, size, path, base.
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModulesDiff {
    pub added: Vec<ModuleRef>,
    pub removed: Vec<ModuleRef>,
    pub changed: Vec<ModuleChange>,
    pub unchanged: usize,
    pub omitted: usize,
}

/// One pair of processes compared: their facts, threads, regions,
/// modules and pages.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessDiff {
    /// Architecture and process facts that differ.
    pub process: Vec<Change>,
    pub threads: ThreadsDiff,
    pub regions: RegionsDiff,
    pub modules: ModulesDiff,
    pub pages: PageDiff,
}

impl ProcessDiff {
    /// Nothing differs.
    pub fn identical(&self) -> bool {
        let (t, r, m, p) = (&self.threads, &self.regions, &self.modules, &self.pages);
        self.process.is_empty()
            && t.only_in_a.is_empty()
            && t.only_in_b.is_empty()
            && t.changed.is_empty()
            && t.omitted == 0
            && r.added.is_empty()
            && r.removed.is_empty()
            && r.changed.is_empty()
            && r.omitted == 0
            && m.added.is_empty()
            && m.removed.is_empty()
            && m.changed.is_empty()
            && m.omitted == 0
            && p.differing == 0
            && p.rearranged == 0
            && p.only_in_a == 0
            && p.only_in_b == 0
            && p.moved == 0
    }
}

/// Another process of two saved trees, compared.
#[derive(Debug, Clone, Serialize)]
pub struct OtherProcessDiff {
    pub pid_a: Option<u64>,
    pub pid_b: Option<u64>,
    pub name: Option<String>,
    pub identical: bool,
    #[serde(flatten)]
    pub diff: ProcessDiff,
}

/// A process only one tree has.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessRef {
    pub pid: Option<u64>,
    pub name: Option<String>,
}

/// The whole diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub schema: &'static str,
    pub a: ImageSummary,
    pub b: ImageSummary,
    /// Nothing below differs, in any process.
    pub identical: bool,
    /// The images' own processes (the root tasks of two trees).
    #[serde(flatten)]
    pub root: ProcessDiff,
    /// How the other processes of two trees (CRIU) were paired: `pid`, or
    /// `order` (pstree order) when the trees share no pid — a tree
    /// restored outside its pid namespace has new pids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes_paired_by: Option<&'static str>,
    /// The other processes of two trees, paired, in A's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_processes: Vec<OtherProcessDiff>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes_only_in_a: Vec<ProcessRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes_only_in_b: Vec<ProcessRef>,
}

/// Compares two opened images: their own processes, then the other
/// processes of two saved trees pair by pair.
pub fn diff(a: &Image, b: &Image, options: &DiffOptions) -> DiffReport {
    let root = process_diff((&a.target, &a.process), (&b.target, &b.process), options);
    let (paired_by, pairs, only_a, only_b) = pair_processes(a, b);
    let other_processes: Vec<OtherProcessDiff> = pairs
        .into_iter()
        .map(|(pa, pb)| {
            let diff = process_diff((&a.target, pa), (&b.target, pb), options);
            OtherProcessDiff {
                pid_a: pa.pid(),
                pid_b: pb.pid(),
                name: pa.facts.as_ref().and_then(|p| p.name.clone()),
                identical: diff.identical(),
                diff,
            }
        })
        .collect();
    let identical = root.identical()
        && other_processes.iter().all(|d| d.identical)
        && only_a.is_empty()
        && only_b.is_empty();
    DiffReport {
        schema: DIFF_SCHEMA,
        a: crate::analysis::summarize(a),
        b: crate::analysis::summarize(b),
        identical,
        root,
        processes_paired_by: paired_by,
        other_processes,
        processes_only_in_a: only_a,
        processes_only_in_b: only_b,
    }
}

/// One process of each image, with the machine it ran on.
type Side<'a> = (&'a Target, &'a ProcessView);

fn process_diff(
    (target_a, a): Side<'_>,
    (target_b, b): Side<'_>,
    options: &DiffOptions,
) -> ProcessDiff {
    let progress = options.progress.clone().unwrap_or_default();
    ProcessDiff {
        process: process_changes((target_a, a), (target_b, b)),
        threads: threads_diff(a, b, options),
        regions: regions_diff(a, b),
        modules: modules_diff(a, b),
        pages: pages::compare(a, b, &progress),
    }
}

type ProcessPairs<'a> = (
    Option<&'static str>,
    Vec<(&'a ProcessView, &'a ProcessView)>,
    Vec<ProcessRef>,
    Vec<ProcessRef>,
);

/// The other processes of `a` and `b` paired by pid, or in pstree order
/// when the two trees share no pid.
fn pair_processes<'a>(a: &'a Image, b: &'a Image) -> ProcessPairs<'a> {
    let (xa, xb) = (&a.other_processes, &b.other_processes);
    if xa.is_empty() && xb.is_empty() {
        return (None, Vec::new(), Vec::new(), Vec::new());
    }
    let pid = |p: &ProcessView| p.pid();
    let process_ref = |p: &ProcessView| ProcessRef {
        pid: pid(p),
        name: p.facts.as_ref().and_then(|p| p.name.clone()),
    };
    let by_pid = |list: &'a [ProcessView], want: Option<u64>| {
        list.iter().find(|p| want.is_some() && pid(p) == want)
    };
    let shared = xa.iter().any(|p| by_pid(xb, pid(p)).is_some());
    if shared || xa.is_empty() || xb.is_empty() {
        let mut pairs = Vec::new();
        let mut only_a = Vec::new();
        for p in xa {
            match by_pid(xb, pid(p)) {
                Some(q) => pairs.push((p, q)),
                None => only_a.push(process_ref(p)),
            }
        }
        let only_b = xb
            .iter()
            .filter(|q| by_pid(xa, pid(q)).is_none())
            .map(process_ref)
            .collect();
        return (Some("pid"), pairs, only_a, only_b);
    }
    let pairs = xa.iter().zip(xb).collect();
    let only_a = xa.iter().skip(xb.len()).map(process_ref).collect();
    let only_b = xb.iter().skip(xa.len()).map(process_ref).collect();
    (Some("order"), pairs, only_a, only_b)
}

fn push_if_differs<T: PartialEq + ToString>(
    out: &mut Vec<Change>,
    field: &str,
    a: Option<T>,
    b: Option<T>,
) {
    if a != b {
        out.push(Change::new(
            field,
            a.map(|v| v.to_string()),
            b.map(|v| v.to_string()),
        ));
    }
}

fn process_changes((target_a, a): Side<'_>, (target_b, b): Side<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    // The container (directory, archive, core file) is not compared: the
    // same checkpoint read from its directory and from its archive is the
    // same saved state. Both formats are in the summaries.
    push_if_differs(
        &mut out,
        "os",
        Some(target_a.os.name()),
        Some(target_b.os.name()),
    );
    push_if_differs(
        &mut out,
        "arch",
        Some(target_a.arch.name()),
        Some(target_b.arch.name()),
    );
    let (pa, pb) = (
        a.facts.clone().unwrap_or_default(),
        b.facts.clone().unwrap_or_default(),
    );
    push_if_differs(&mut out, "pid", pa.pid, pb.pid);
    push_if_differs(&mut out, "ppid", pa.ppid, pb.ppid);
    push_if_differs(&mut out, "uid", pa.uid, pb.uid);
    push_if_differs(&mut out, "gid", pa.gid, pb.gid);
    push_if_differs(&mut out, "name", pa.name, pb.name);
    push_if_differs(&mut out, "executable", pa.executable, pb.executable);
    push_if_differs(
        &mut out,
        "thread_count",
        Some(a.threads.len()),
        Some(b.threads.len()),
    );
    out
}

fn threads_diff(a: &ProcessView, b: &ProcessView, options: &DiffOptions) -> ThreadsDiff {
    let common_tid = a.threads.iter().any(|t| b.thread(t.tid).is_some());
    let mut pairs: Vec<(&Thread, &Thread)> = Vec::new();
    let mut only_in_a = Vec::new();
    let mut only_in_b = Vec::new();
    let paired_by = if common_tid || a.threads.is_empty() || b.threads.is_empty() {
        for t in &a.threads {
            match b.thread(t.tid) {
                Some(u) => pairs.push((t, u)),
                None => only_in_a.push(thread_ref(t)),
            }
        }
        for u in &b.threads {
            if a.thread(u.tid).is_none() {
                only_in_b.push(thread_ref(u));
            }
        }
        "tid"
    } else {
        // Threads are created in tid order, so the n-th smallest tid of
        // one run is the n-th thread created by the other.
        let mut ta: Vec<&Thread> = a.threads.iter().collect();
        let mut tb: Vec<&Thread> = b.threads.iter().collect();
        ta.sort_by_key(|t| t.tid);
        tb.sort_by_key(|t| t.tid);
        pairs.extend(ta.iter().copied().zip(tb.iter().copied()));
        only_in_a.extend(ta.iter().skip(tb.len()).map(|t| thread_ref(t)));
        only_in_b.extend(tb.iter().skip(ta.len()).map(|t| thread_ref(t)));
        "tid-order"
    };
    let symbolizers = options
        .symbols
        .as_ref()
        .map(|config| (Symbolizer::new(a, config), Symbolizer::new(b, config)));
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (t, u) in pairs {
        let change = thread_change(t, u, a, b, symbolizers.as_ref());
        if change.attributes.is_empty() && change.registers.is_empty() && change.float.is_empty() {
            unchanged += 1;
        } else {
            changed.push(change);
        }
    }
    let omitted = cap(&mut only_in_a) + cap(&mut only_in_b) + cap(&mut changed);
    ThreadsDiff {
        paired_by,
        only_in_a,
        only_in_b,
        changed,
        unchanged,
        omitted,
    }
}

/// Truncates a list to [`MAX_LISTED`]; returns how many were dropped.
fn cap<T>(list: &mut Vec<T>) -> usize {
    let over = list.len().saturating_sub(MAX_LISTED);
    list.truncate(MAX_LISTED);
    over
}

fn thread_ref(t: &Thread) -> ThreadRef {
    ThreadRef {
        tid: t.tid,
        name: t.name.clone(),
    }
}

fn thread_change(
    t: &Thread,
    u: &Thread,
    a: &ProcessView,
    b: &ProcessView,
    symbolizers: Option<&(Symbolizer, Symbolizer)>,
) -> ThreadChange {
    let mut attributes = Vec::new();
    push_if_differs(&mut attributes, "name", t.name.clone(), u.name.clone());
    push_if_differs(&mut attributes, "signal", t.signal, u.signal);
    push_if_differs(
        &mut attributes,
        "blocked_signals",
        t.blocked_signals.map(|v| format!("{v:#x}")),
        u.blocked_signals.map(|v| format!("{v:#x}")),
    );
    push_if_differs(
        &mut attributes,
        "pending_signals",
        t.pending_signals.map(|v| format!("{v:#x}")),
        u.pending_signals.map(|v| format!("{v:#x}")),
    );
    let mut registers = Vec::new();
    if t.registers.arch != u.registers.arch {
        attributes.push(Change::new(
            "arch",
            Some(t.registers.arch.name().into()),
            Some(u.registers.arch.name().into()),
        ));
    } else {
        for (name, number) in crate::model::register_names(t.registers.arch) {
            let (va, vb) = (t.registers.get(*number), u.registers.get(*number));
            if va == vb {
                continue;
            }
            let symbol = |image: &ProcessView, s: &Symbolizer, v: Option<u64>| {
                // Only values inside a module: data pointers are not code.
                v.filter(|v| image.module_at(*v).is_some())
                    .and_then(|v| describe_code(image, s, v))
            };
            let (a_symbol, b_symbol) = match symbolizers {
                Some((sa, sb)) => (symbol(a, sa, va), symbol(b, sb, vb)),
                None => (None, None),
            };
            registers.push(RegisterChange {
                name: name.to_string(),
                a: va.map(Hex),
                b: vb.map(Hex),
                a_symbol,
                b_symbol,
            });
        }
    }
    ThreadChange {
        tid_a: t.tid,
        tid_b: u.tid,
        name: t.name.clone().or_else(|| u.name.clone()),
        attributes,
        registers,
        float: float_changes(t.float.as_ref(), u.float.as_ref(), t.registers.arch),
    }
}

/// `function+0xoff`, else `module+0xoff`.
fn describe_code(image: &ProcessView, symbolizer: &Symbolizer, address: u64) -> Option<String> {
    let frames = symbolizer.lookup(address);
    if let Some(f) = frames.last()
        && let Some(name) = &f.function
    {
        return Some(match f.function_offset {
            Some(off) => format!("{name}+{off:#x}"),
            None => name.clone(),
        });
    }
    image
        .module_at(address)
        .map(|m| format!("{}+{:#x}", m.name, address - m.base))
}

fn float_changes(
    a: Option<&FloatState>,
    b: Option<&FloatState>,
    arch: crate::model::Arch,
) -> Vec<Change> {
    let mut out = Vec::new();
    let (fa, fb) = match (a, b) {
        (None, None) => return out,
        (Some(x), Some(y)) => (x.clone(), y.clone()),
        (x, y) => {
            out.push(Change::new(
                "float_state",
                x.map(|_| "saved".to_string()),
                y.map(|_| "saved".to_string()),
            ));
            return out;
        }
    };
    let hex = |v: Option<u64>| v.map(|v| format!("{v:#x}"));
    push_if_differs(
        &mut out,
        "fcw",
        hex(fa.fcw.map(u64::from)),
        hex(fb.fcw.map(u64::from)),
    );
    push_if_differs(
        &mut out,
        "fsw",
        hex(fa.fsw.map(u64::from)),
        hex(fb.fsw.map(u64::from)),
    );
    push_if_differs(
        &mut out,
        "ftw",
        hex(fa.ftw.map(u64::from)),
        hex(fb.ftw.map(u64::from)),
    );
    push_if_differs(
        &mut out,
        "fop",
        hex(fa.fop.map(u64::from)),
        hex(fb.fop.map(u64::from)),
    );
    push_if_differs(&mut out, "fip", hex(fa.fip), hex(fb.fip));
    push_if_differs(&mut out, "fdp", hex(fa.fdp), hex(fb.fdp));
    push_if_differs(
        &mut out,
        "mxcsr",
        hex(fa.mxcsr.map(u64::from)),
        hex(fb.mxcsr.map(u64::from)),
    );
    push_if_differs(
        &mut out,
        "xsave_features",
        hex(fa.xsave_features),
        hex(fb.xsave_features),
    );
    push_if_differs(
        &mut out,
        "fpsr",
        hex(fa.fpsr.map(u64::from)),
        hex(fb.fpsr.map(u64::from)),
    );
    push_if_differs(
        &mut out,
        "fpcr",
        hex(fa.fpcr.map(u64::from)),
        hex(fb.fpcr.map(u64::from)),
    );
    let (vector, upper) = match arch {
        crate::model::Arch::Aarch64 | crate::model::Arch::Arm => ("v", "v_upper"),
        _ => ("xmm", "ymm_upper"),
    };
    for (list_a, list_b, prefix) in [
        (&fa.vector, &fb.vector, vector),
        (&fa.vector_upper, &fb.vector_upper, upper),
    ] {
        for i in 0..list_a.len().max(list_b.len()) {
            let (x, y) = (list_a.get(i), list_b.get(i));
            if x != y {
                let field = if prefix.ends_with("_upper") {
                    format!("{}{i}_upper", prefix.trim_end_matches("_upper"))
                } else {
                    format!("{prefix}{i}")
                };
                out.push(Change::new(&field, x.cloned(), y.cloned()));
            }
        }
    }
    out
}

fn regions_diff(a: &ProcessView, b: &ProcessView) -> RegionsDiff {
    let by_start: std::collections::HashMap<u64, &Region> =
        b.regions.iter().map(|r| (r.start, r)).collect();
    let a_starts: std::collections::HashSet<u64> = a.regions.iter().map(|r| r.start).collect();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for r in &a.regions {
        let Some(s) = by_start.get(&r.start) else {
            removed.push(RegionRef::of(r));
            continue;
        };
        let mut fields = Vec::new();
        if r.end != s.end {
            fields.push("end".to_string());
        }
        if r.protection != s.protection {
            fields.push("protection".to_string());
        }
        if r.sharing != s.sharing {
            fields.push("sharing".to_string());
        }
        match (&r.file, &s.file) {
            (Some(f), Some(g)) => {
                if f.path != g.path {
                    fields.push("file".to_string());
                }
                if f.offset != g.offset {
                    fields.push("file_offset".to_string());
                }
            }
            (None, None) => {}
            _ => fields.push("file".to_string()),
        }
        if let (Some(x), Some(y)) = (&r.linux, &s.linux)
            && x.mmap_flags != y.mmap_flags
        {
            fields.push("mmap_flags".to_string());
        }
        if fields.is_empty() {
            unchanged += 1;
        } else {
            changed.push(RegionChange {
                a: RegionRef::of(r),
                b: RegionRef::of(s),
                fields,
            });
        }
    }
    let mut added: Vec<RegionRef> = b
        .regions
        .iter()
        .filter(|r| !a_starts.contains(&r.start))
        .map(RegionRef::of)
        .collect();
    let omitted = cap(&mut added) + cap(&mut removed) + cap(&mut changed);
    RegionsDiff {
        added,
        removed,
        changed,
        unchanged,
        omitted,
    }
}

fn modules_diff(a: &ProcessView, b: &ProcessView) -> ModulesDiff {
    let mut used = vec![false; b.modules.len()];
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for m in &a.modules {
        // Same path first; else the same file name (a library that moved).
        let found = b
            .modules
            .iter()
            .enumerate()
            .find(|(i, n)| !used[*i] && n.path == m.path)
            .or_else(|| {
                b.modules
                    .iter()
                    .enumerate()
                    .find(|(i, n)| !used[*i] && n.name == m.name)
            });
        let Some((i, n)) = found else {
            removed.push(ModuleRef::of(m));
            continue;
        };
        used[i] = true;
        let mut changes = Vec::new();
        push_if_differs(
            &mut changes,
            "build_id",
            m.build_id.clone(),
            n.build_id.clone(),
        );
        push_if_differs(&mut changes, "size", Some(m.size), Some(n.size));
        push_if_differs(&mut changes, "path", Some(&m.path), Some(&n.path));
        push_if_differs(
            &mut changes,
            "base",
            Some(format!("{:#x}", m.base)),
            Some(format!("{:#x}", n.base)),
        );
        if changes.is_empty() {
            unchanged += 1;
        } else {
            changed.push(ModuleChange {
                name: m.name.clone(),
                changes,
            });
        }
    }
    let mut added: Vec<ModuleRef> = b
        .modules
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(m, _)| ModuleRef::of(m))
        .collect();
    let omitted = cap(&mut added) + cap(&mut removed) + cap(&mut changed);
    ModulesDiff {
        added,
        removed,
        changed,
        unchanged,
        omitted,
    }
}
