//! PE binaries (EXE/DLL) as symbol stores keep them: their identity, the
//! PDB they were linked with, the x64 `.pdata` function table, and their
//! bytes by RVA (code the minidump did not capture).

use crate::memory::Bytes;

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
    /// GUID + age, upper-case hex (`7DD47A9FC2E8499AA78EC14AE2C965A21`).
    pub debug_id: String,
}

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
    pub timestamp: u32,
    pub size_of_image: u32,
    pub image_base: u64,
    pub machine: u16,
    pub pdb: Option<PdbIdentity>,
    /// x64 RUNTIME_FUNCTION entries sorted by begin RVA.
    pub pdata: Vec<PdataEntry>,
}

/// GUID bytes as stored (little-endian Data1..3) to the usual text form.
fn guid_text(sig: &[u8; 16]) -> String {
    let d1 = u32::from_le_bytes([sig[0], sig[1], sig[2], sig[3]]);
    let d2 = u16::from_le_bytes([sig[4], sig[5]]);
    let d3 = u16::from_le_bytes([sig[6], sig[7]]);
    let rest: String = sig[8..].iter().map(|b| format!("{b:02X}")).collect();
    format!("{d1:08X}{d2:04X}{d3:04X}{rest}")
}

impl PeFile {
    pub fn parse(bytes: Bytes) -> Option<PeFile> {
        let pe = goblin::pe::PE::parse(&bytes).ok()?;
        let optional = pe.header.optional_header?;
        let sections = pe
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
        let pdb = pe
            .debug_data
            .as_ref()
            .and_then(|d| d.codeview_pdb70_debug_info.as_ref())
            .map(|cv| {
                let path = String::from_utf8_lossy(cv.filename)
                    .trim_end_matches('\0')
                    .to_string();
                PdbIdentity {
                    name: path.rsplit(['/', '\\']).next().unwrap_or(&path).to_string(),
                    debug_id: format!("{}{:X}", guid_text(&cv.signature), cv.age),
                }
            });
        let mut pdata: Vec<PdataEntry> = pe
            .exception_data
            .as_ref()
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
            image_base: pe.image_base,
            machine: pe.header.coff_header.machine,
            pdb,
            pdata,
            sections,
            bytes,
        })
    }

    /// `TIMESTAMPSIZE` as symbol stores key binaries.
    pub fn code_id(&self) -> String {
        format!("{:08X}{:x}", self.timestamp, self.size_of_image)
    }

    /// The `.pdata` entry covering `rva`.
    pub fn runtime_function(&self, rva: u32) -> Option<PdataEntry> {
        let i = self.pdata.partition_point(|p| p.begin <= rva);
        let e = self.pdata.get(i.checked_sub(1)?)?;
        (rva < e.end).then_some(*e)
    }

    /// Copies image bytes at `rva` (file-backed part of a section only).
    pub fn read_rva(&self, rva: u32, buf: &mut [u8]) -> usize {
        for s in &self.sections {
            let size = s.virtual_size.max(s.file_size);
            if rva >= s.rva && rva - s.rva < size {
                let rel = rva - s.rva;
                if rel >= s.file_size {
                    return 0;
                }
                let n = ((s.file_size - rel) as usize).min(buf.len());
                let start = s.file_offset as usize + rel as usize;
                return match self.bytes.get(start..start + n) {
                    Some(src) => {
                        buf[..n].copy_from_slice(src);
                        n
                    }
                    None => 0,
                };
            }
        }
        0
    }

    pub fn is_executable_rva(&self, rva: u32) -> bool {
        self.sections
            .iter()
            .any(|s| s.executable && rva >= s.rva && rva - s.rva < s.virtual_size.max(s.file_size))
    }
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
