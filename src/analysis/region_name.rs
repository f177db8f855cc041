//! What a mapping is, for messages that name it: its file, its special
//! name (`[stack]`, `[vdso]`), the heap, or anonymous memory. One answer,
//! with one precedence, for every caller.

use crate::model::Region;

/// What a region holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionName<'a> {
    /// A file-backed mapping, by path.
    File(&'a str),
    /// A special mapping the image names (`[stack]`, `[vdso]`, `[vvar]`…).
    Special(&'static str),
    /// Anonymous memory holding the program break's start.
    Heap,
    Anonymous,
}

/// Names `region`: a backing file first; then what the image itself says
/// the mapping is; then the heap by the recorded program break
/// (`heap` = start_brk..brk), which only an anonymous mapping can hold.
pub fn name_region(region: &Region, heap: Option<(u64, u64)>) -> RegionName<'_> {
    if let Some(file) = &region.file {
        return RegionName::File(&file.path);
    }
    let special = region.linux.as_ref().and_then(super::mmap::special_mapping);
    match special {
        Some(label) => RegionName::Special(label),
        None if heap.is_some_and(|(start, _)| region.contains(start)) => RegionName::Heap,
        None => RegionName::Anonymous,
    }
}

impl RegionName<'_> {
    /// `[heap]`, `(anonymous)`, or the path or special name itself.
    pub fn text(self) -> String {
        match self {
            RegionName::File(path) => path.to_string(),
            RegionName::Special(label) => label.to_string(),
            RegionName::Heap => "[heap]".to_string(),
            RegionName::Anonymous => "(anonymous)".to_string(),
        }
    }
}
