//! Renderers: reports (plain data) in, text out. Nothing here parses an
//! image or computes a finding; every output format of every command lives
//! here, side by side.

pub mod checkpoint;
pub mod diff;
pub mod json;
pub mod junit;
pub mod sarif;
pub mod seal;
#[cfg(target_os = "linux")]
pub mod snapshot;
pub mod text;

/// Text from an image (names, annotations, file names) with control
/// characters replaced, so a crafted name cannot drive the terminal.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
