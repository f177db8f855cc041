//! Facts about files on the host (or under a sysroot or restore root) that
//! both the mapped-file checks and the restore checks compare with an image.

use std::path::Path;

use crate::memory::Bytes;

/// The GNU build-id of an ELF file on disk, if it has one. `object` parses
/// lazily: only the header and the note sections/segments are read, however
/// large the file.
pub(crate) fn file_build_id(path: &Path) -> Option<String> {
    use object::Object;
    let file = std::fs::File::open(path).ok()?;
    let bytes = Bytes::map_file(&file).ok()?;
    let elf = object::File::parse(&*bytes).ok()?;
    let id = elf.build_id().ok()??;
    Some(crate::symbols::hex(id))
}
