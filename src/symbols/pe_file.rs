//! PE binaries (EXE/DLL) as symbol stores keep them: their identity, the
//! PDB they were linked with, the x64 `.pdata` function table, and their
//! bytes by RVA (code the minidump did not capture).

use std::path::{Path, PathBuf};

use crate::memory::Bytes;
use crate::unwind::parser_guard::guarded;

/// A section: RVA range and where its bytes are in the file.
#[derive(Debug, Clone, Copy)]
struct PeSection {
    rva: u32,
    virtual_size: u32,
    file_offset: u32,
    file_size: u32,
    executable: bool,
}

/// The PDB a PE was linked with (its CodeView RSDS record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbIdentity {
    /// File name part of the recorded PDB path.
    pub name: String,
    /// The GUID as 32 upper-case hex digits (Data1..3 as numbers, then bytes).
    pub guid: String,
    pub age: u32,
    /// GUID + age, upper-case hex, age unpadded (`7DD47A9FC2E8499AA78EC14AE2C965A21`).
    pub debug_id: String,
}

/// An x64 RUNTIME_FUNCTION; the name the unwinder's API uses.
pub type RuntimeFunction = PdataEntry;

/// One `.pdata` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdataEntry {
    pub begin: u32,
    pub end: u32,
    pub unwind_info: u32,
}

/// A parsed PE file.
pub struct PeFile {
    bytes: Bytes,
    sections: Vec<PeSection>,
    size_of_headers: u32,
    pub timestamp: u32,
    pub size_of_image: u32,
    pub image_base: u64,
    pub machine: u16,
    pub pdb: Option<PdbIdentity>,
    /// x64 RUNTIME_FUNCTION entries sorted by begin RVA.
    pub pdata: Vec<PdataEntry>,
    /// What was wrong with the file but did not stop its use.
    pub problem: Option<String>,
}

/// The file range holding `size` bytes at `rva`, when one section's
/// file-backed bytes hold all of them and the file is long enough.
fn rva_range_in_file(
    sections: &[PeSection],
    rva: u32,
    size: u32,
    file_len: usize,
) -> Option<std::ops::Range<usize>> {
    let section = sections.iter().find(|s| {
        rva.checked_sub(s.rva)
            .is_some_and(|rel| rel < s.virtual_size.max(s.file_size))
    })?;
    let rel = rva - section.rva;
    if u64::from(rel) + u64::from(size) > u64::from(section.file_size) {
        return None;
    }
    let start = usize::try_from(u64::from(section.file_offset) + u64::from(rel)).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    (end <= file_len).then_some(start..end)
}

/// GUID bytes as stored (little-endian Data1..3) to the usual text form.
fn guid_text(sig: &[u8; 16]) -> String {
    let d1 = u32::from_le_bytes([sig[0], sig[1], sig[2], sig[3]]);
    let d2 = u16::from_le_bytes([sig[4], sig[5]]);
    let d3 = u16::from_le_bytes([sig[6], sig[7]]);
    let rest = super::hex(&sig[8..]).to_uppercase();
    format!("{d1:08X}{d2:04X}{d3:04X}{rest}")
}

/// The identity from a CodeView record's fields; the file name ends at the
/// first NUL (the record's tail may hold padding or garbage).
fn pdb_identity(filename: &[u8], guid: String, age: u32) -> PdbIdentity {
    let path = filename.split(|&b| b == 0).next().unwrap_or_default();
    let path = String::from_utf8_lossy(path);
    PdbIdentity {
        name: path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_string(),
        debug_id: format!("{guid}{age:X}"),
        guid,
        age,
    }
}

impl PeFile {
    /// Parses a PE; None when it is not one or is too damaged to use. A
    /// damaged exception directory costs the `.pdata` table only.
    pub fn parse(bytes: Bytes) -> Option<PeFile> {
        guarded(|| Self::parse_unguarded(bytes)).flatten()
    }

    fn parse_unguarded(bytes: Bytes) -> Option<PeFile> {
        let pe = goblin::pe::PE::parse(&bytes).ok()?;
        let optional = pe.header.optional_header?;
        let sections: Vec<PeSection> = pe
            .sections
            .iter()
            .map(|s| PeSection {
                rva: s.virtual_address,
                virtual_size: s.virtual_size,
                file_offset: s.pointer_to_raw_data,
                file_size: s.size_of_raw_data,
                executable: s.characteristics & goblin::pe::section_table::IMAGE_SCN_MEM_EXECUTE
                    != 0,
            })
            .collect();
        let debug = pe.debug_data.as_ref();
        let pdb = debug
            .and_then(|d| d.codeview_pdb70_debug_info.as_ref())
            .map(|cv| pdb_identity(cv.filename, guid_text(&cv.signature), cv.age))
            .or_else(|| {
                // PDB 2.0 (`NB10`, VC6-era binaries): stores key these by the
                // 32-bit signature (a timestamp) in place of the GUID.
                debug
                    .and_then(|d| d.codeview_pdb20_debug_info.as_ref())
                    .map(|cv| pdb_identity(cv.filename, format!("{:08X}", cv.signature), cv.age))
            });
        // goblin slices the whole directory when iterating (and panics when
        // it runs past the file), so the directory is checked first.
        let exception_table = optional.data_directories.get_exception_table();
        let pdata_fits = exception_table.is_some_and(|d| {
            rva_range_in_file(&sections, d.virtual_address, d.size, bytes.len()).is_some()
        });
        let problem = exception_table
            .filter(|_| pe.exception_data.is_some() && !pdata_fits)
            .map(|d| {
                format!(
                    "exception directory ({:#x} bytes at RVA {:#x}) lies outside the file; \
                     its unwind tables are ignored",
                    d.size, d.virtual_address
                )
            });
        let mut pdata: Vec<PdataEntry> = pe
            .exception_data
            .as_ref()
            .filter(|_| pdata_fits)
            .map(|e| {
                e.functions()
                    .filter_map(|f| f.ok())
                    .take(1 << 20)
                    .map(|f| PdataEntry {
                        begin: f.begin_address,
                        end: f.end_address,
                        unwind_info: f.unwind_info_address,
                    })
                    .collect()
            })
            .unwrap_or_default();
        pdata.sort_by_key(|p| p.begin);
        Some(PeFile {
            timestamp: pe.header.coff_header.time_date_stamp,
            size_of_image: optional.windows_fields.size_of_image,
            size_of_headers: optional.windows_fields.size_of_headers,
            image_base: pe.image_base,
            machine: pe.header.coff_header.machine,
            pdb,
            pdata,
            problem,
            sections,
            bytes,
        })
    }

    /// `TIMESTAMPSIZE` as symbol stores key binaries.
    pub fn code_id(&self) -> String {
        format!("{:08X}{:x}", self.timestamp, self.size_of_image)
    }

    /// The PDB this image was linked with, from its CodeView RSDS record.
    pub fn pdb_identity(&self) -> Option<PdbIdentity> {
        self.pdb.clone()
    }

    /// IMAGE_FILE_MACHINE_* (0x8664 x64, 0x14c x86, 0xaa64 arm64).
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// The preferred load address from the optional header.
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// The `.pdata` entry covering `rva`.
    pub fn runtime_function(&self, rva: u32) -> Option<PdataEntry> {
        let i = self.pdata.partition_point(|p| p.begin <= rva);
        let e = self.pdata.get(i.checked_sub(1)?)?;
        (rva < e.end).then_some(*e)
    }

    /// Copies image bytes at `rva`: the headers (mapped at RVA 0) and the
    /// file-backed part of each section; a truncated file gives what it
    /// has. Returns how many bytes were copied.
    pub fn read_rva(&self, rva: u32, buf: &mut [u8]) -> usize {
        let section = self
            .sections
            .iter()
            .find(|s| rva >= s.rva && rva - s.rva < s.virtual_size.max(s.file_size));
        let (file_offset, available) = match section {
            Some(s) => {
                let rel = rva - s.rva;
                (
                    u64::from(s.file_offset) + u64::from(rel),
                    s.file_size.saturating_sub(rel),
                )
            }
            None if rva < self.size_of_headers => (u64::from(rva), self.size_of_headers - rva),
            None => return 0,
        };
        let Ok(start) = usize::try_from(file_offset) else {
            return 0;
        };
        let src = self.bytes.get(start..).unwrap_or_default();
        let n = src.len().min(available as usize).min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        n
    }

    pub fn is_executable_rva(&self, rva: u32) -> bool {
        self.sections
            .iter()
            .any(|s| s.executable && rva >= s.rva && rva - s.rva < s.virtual_size.max(s.file_size))
    }
}

/// The file-name part of a name taken from a dump or a CodeView record,
/// or `None` when it is empty or a directory reference: these names come
/// from crashed machines and must not walk out of a symbol directory.
fn safe_file_name(name: &str) -> Option<&str> {
    let file = name.rsplit(['/', '\\']).next()?;
    (!file.is_empty() && file != "." && file != "..").then_some(file)
}

/// Store layout `NAME/KEY/NAME`, then flat `NAME`, each also with the name
/// lower-cased when that differs (Windows names are case-insensitive, while
/// stores on Linux are not, and `KERNEL32.dll` is usually kept as
/// `kernel32.dll`).
fn store_candidates(dir: &Path, name: &str, key: &str) -> Vec<PathBuf> {
    let Some(name) = safe_file_name(name) else {
        return Vec::new();
    };
    let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
    let lower = name.to_ascii_lowercase();
    let names: Vec<&str> = if lower == name {
        vec![name]
    } else {
        vec![name, &lower]
    };
    let mut out = Vec::new();
    if key_ok {
        out.extend(names.iter().map(|n| dir.join(n).join(key).join(n)));
    }
    out.extend(names.iter().map(|n| dir.join(n)));
    out
}

/// Where a symbol directory may hold a PDB: `NAME.pdb/GUIDAGE/NAME.pdb`,
/// then flat `NAME.pdb`. `pdb_name` may be a full path (only its file part
/// is used); `debug_id` is GUID + age as [`PdbIdentity::debug_id`].
pub fn pdb_candidates(dir: &Path, pdb_name: &str, debug_id: &str) -> Vec<PathBuf> {
    // Stores spell GUID and age in upper-case hex.
    store_candidates(dir, pdb_name, &debug_id.to_ascii_uppercase())
}

/// Where a symbol directory may hold a binary: `NAME.exe/TIMESTAMPSIZE/NAME.exe`
/// (the key is [`PeFile::code_id`], kept as given: its size part is
/// lower-case hex), then flat `NAME.exe`.
pub fn binary_candidates(dir: &Path, name: &str, code_id: &str) -> Vec<PathBuf> {
    store_candidates(dir, name, code_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_form() {
        let sig = [
            0x9f, 0x7a, 0xd4, 0x7d, 0xe8, 0xc2, 0x9a, 0x49, 0xa7, 0x8e, 0xc1, 0x4a, 0xe2, 0xc9,
            0x65, 0xa2,
        ];
        assert_eq!(guid_text(&sig), "7DD47A9FC2E8499AA78EC14AE2C965A2");
    }
}
