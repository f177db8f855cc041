//! The one-line summary `ckdump snapshot` prints.

use crate::live::snapshot::SnapshotSummary;

/// What was saved, how much, how fast, and what could not be.
pub fn render(summary: &SnapshotSummary) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut text = format!(
        "{}: ELF core of pid {}, {} threads, {} mappings ({} with bytes), {:.1} MiB of memory saved in {:.2} s",
        summary.path,
        summary.pid,
        summary.threads.len(),
        summary.segments,
        summary.segments_with_bytes,
        mib(summary.memory_bytes),
        summary.seconds
    );
    if summary.unreadable_bytes > 0 {
        text.push_str(&format!(
            "; {:.1} MiB could not be read and are marked absent",
            mib(summary.unreadable_bytes)
        ));
    }
    if !summary.vanished_threads.is_empty() {
        text.push_str(&format!(
            "; {} thread(s) exited while stopping",
            summary.vanished_threads.len()
        ));
    }
    text
}
