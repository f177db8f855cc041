//! Hostile input that once hung ckdump, exhausted memory or disk, or
//! blamed the wrong thing: each test builds its input in a temporary
//! directory and pins the bounded, one-line outcome.

mod common;

use std::process::Command;

/// diff's files import one way: chunk at the bottom, moves above it, pages
/// on top (the architecture check reads `crate::`/`super::` paths).
#[test]
fn diff_files_have_no_import_cycle() {
    let Some(shared) = common::shared() else {
        return;
    };
    let out = Command::new("python3")
        .arg(shared.join("tools/layers.py"))
        .arg(common::root().join("src"))
        .output()
        .expect("run layers.py");
    let text = String::from_utf8_lossy(&out.stdout);
    let diff_cycles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("file cycle:") && l.contains("diff::"))
        .collect();
    assert!(diff_cycles.is_empty(), "{diff_cycles:?}");
}
