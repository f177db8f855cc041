//! Where a walked stack ends: at the thread's entry function, and (unless
//! the user asks for everything) at the last frame that unwind information
//! or the frame-pointer chain vouched for.
//!
//! The walker itself stops where CFI or frame data marks the outermost
//! frame (an undefined or zero return address) and at the program's entry
//! point; this module adds what only symbol names tell: thread start
//! routines, which glibc's and Windows' unwind tables do not always mark.

use crate::unwind::{FoundBy, RawFrame};

/// Functions nothing returns to: a thread's or the program's first frame.
/// glibc's `_start`, `clone` and `clone3` (also as their internal `__GI_`
/// aliases), musl's `__clone`, and Windows' `RtlUserThreadStart`.
const ENTRY_FUNCTIONS: &[&str] = &[
    "_start",
    "__start",
    "clone",
    "__clone",
    "__GI___clone",
    "clone3",
    "__clone3",
    "__GI___clone3",
    "RtlUserThreadStart",
    "_RtlUserThreadStart",
];

/// Functions whose only legitimate caller is one of [`ENTRY_FUNCTIONS`]:
/// glibc's `start_thread` (called by `clone`/`clone3`) and Windows'
/// `BaseThreadInitThunk` (called by `RtlUserThreadStart`). Past them, a
/// caller that is not an entry function is a stale return address.
const STARTED_BY_ENTRY: &[&str] = &[
    "start_thread",
    "BaseThreadInitThunk",
    "_BaseThreadInitThunk",
];

/// A function name without the decorations 32-bit Windows symbols carry
/// (`_RtlUserThreadStart@8`, `@BaseThreadInitThunk@12`).
fn undecorated(name: &str) -> &str {
    let name = name.strip_prefix('@').unwrap_or(name);
    match name.rsplit_once('@') {
        Some((base, size)) if !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

fn is_entry(name: &str) -> bool {
    ENTRY_FUNCTIONS.contains(&undecorated(name))
}

/// The index of the thread's outermost frame, when symbols name it: the
/// first frame in an entry function, or a thread start routine whose
/// caller is not one. `function(i)` is frame `i`'s function name.
pub fn outermost_frame<'a>(
    frames: &[RawFrame],
    function: impl Fn(usize) -> Option<&'a str>,
) -> Option<usize> {
    for i in 0..frames.len() {
        let Some(name) = function(i) else { continue };
        if is_entry(name) {
            return Some(i);
        }
        if STARTED_BY_ENTRY.contains(&undecorated(name)) {
            let caller_is_entry = function(i + 1).is_some_and(is_entry);
            return Some(if caller_is_entry && i + 1 < frames.len() {
                i + 1
            } else {
                i
            });
        }
    }
    None
}

/// How many frames to keep: up to and including the last one not found by
/// scanning (the context frame, CFI, frame data, frame pointers, ORC).
/// Scanned frames between trusted ones stay: a trusted frame below them
/// confirms the scan.
pub fn trusted_len(frames: &[RawFrame]) -> usize {
    frames
        .iter()
        .rposition(|f| f.found_by != FoundBy::Scan)
        .map_or(frames.len(), |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, RegisterSet};

    fn frames(found_by: &[FoundBy]) -> Vec<RawFrame> {
        found_by
            .iter()
            .enumerate()
            .map(|(i, &found_by)| RawFrame {
                pc: 0x1000 + i as u64,
                pc_is_exact: i == 0,
                sp: Some(0x8000 + 8 * i as u64),
                found_by,
                registers: RegisterSet::new(Arch::X86_64),
            })
            .collect()
    }

    #[test]
    fn trailing_scans_go_interleaved_ones_stay() {
        use FoundBy::*;
        assert_eq!(trusted_len(&frames(&[Context, Scan, Cfi, Scan, Scan])), 3);
        assert_eq!(trusted_len(&frames(&[Context, Scan, Scan])), 1);
        assert_eq!(trusted_len(&frames(&[Context, FramePointer, Cfi])), 3);
        assert_eq!(trusted_len(&[]), 0);
    }

    #[test]
    fn thread_entries_end_the_stack() {
        let f = frames(&[FoundBy::Cfi; 6]);
        fn names<'a>(list: &'a [&'a str]) -> impl Fn(usize) -> Option<&'a str> + 'a {
            move |i: usize| list.get(i).copied().filter(|n| !n.is_empty())
        }
        // glibc: start_thread's caller clone3 is the outermost frame.
        let glibc = ["worker", "start_thread", "__clone3", "junk", "", ""];
        assert_eq!(outermost_frame(&f, names(&glibc)), Some(2));
        // start_thread with a stale caller: the stack ends at it.
        let stale = ["worker", "start_thread", "main", "junk", "", ""];
        assert_eq!(outermost_frame(&f, names(&stale)), Some(1));
        // 32-bit Windows names carry decorations.
        let win = [
            "f",
            "@BaseThreadInitThunk@12",
            "_RtlUserThreadStart@8",
            "x",
            "",
            "",
        ];
        assert_eq!(outermost_frame(&f, names(&win)), Some(2));
        let main = ["crash", "main", "__libc_start_main", "_start", "junk", ""];
        assert_eq!(outermost_frame(&f, names(&main)), Some(3));
        // No symbols: nothing to say.
        assert_eq!(outermost_frame(&f, |_| None), None);
        // A function merely named like one is not cut.
        let other = ["start", "clone_tree", "", "", "", ""];
        assert_eq!(outermost_frame(&f, names(&other)), None);
    }
}
