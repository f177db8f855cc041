//! One CRIU image file: its magic header and its length-prefixed entries.
//!
//! Entries are `u32` little-endian lengths each followed by that many bytes
//! of one protobuf message. Nothing here trusts a length: every entry is
//! checked against the bytes that remain, so a cut file yields the entries
//! before the cut and a description of where it broke.

use std::ops::Range;

use prost::Message;

use super::magic;
use crate::byte_reader::Fields;
use crate::memory::Bytes;

/// How an image file starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Common (or service) magic, then the image's magic.
    Tagged { first: u32, magic: u32 },
    /// inventory.img: its magic alone.
    Inventory,
    /// No known magic word (raw data such as pages-N.img, or garbage).
    Raw,
}

impl Header {
    /// The per-image magic.
    pub fn magic(self) -> Option<u32> {
        match self {
            Header::Tagged { magic, .. } => Some(magic),
            Header::Inventory => Some(magic::INVENTORY),
            Header::Raw => None,
        }
    }
    fn len(self) -> usize {
        match self {
            Header::Tagged { .. } => 8,
            Header::Inventory => 4,
            Header::Raw => 0,
        }
    }
}

/// Reads the magic words at the start of `bytes`.
pub fn header(bytes: &[u8]) -> Header {
    match bytes.u32_at(0) {
        Some(magic::IMG_COMMON_MAGIC | magic::IMG_SERVICE_MAGIC) => match bytes.u32_at(4) {
            Some(magic) => Header::Tagged {
                first: bytes.u32_at(0).unwrap_or_default(),
                magic,
            },
            None => Header::Raw,
        },
        Some(magic::INVENTORY) => Header::Inventory,
        _ => Header::Raw,
    }
}

/// Where the entry list stopped making sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProblem {
    pub offset: u64,
    pub message: String,
}

/// An image file read into memory (mapped), with its entries located.
#[derive(Debug, Clone)]
pub struct ImageFile {
    pub name: String,
    pub bytes: Bytes,
    pub header: Header,
    /// Byte ranges of each entry's message (without its length prefix).
    pub entries: Vec<Range<usize>>,
    /// Set when the entry list runs past the end of the file.
    pub problem: Option<EntryProblem>,
}

impl ImageFile {
    /// Locates the entries of `bytes`; raw images and images whose
    /// entries carry payloads get none.
    pub fn parse(name: &str, bytes: Bytes) -> Self {
        let header = header(&bytes);
        let layout = header
            .magic()
            .and_then(magic::lookup)
            .map(|(_, layout)| layout);
        let (entries, problem) = match (header, layout) {
            (Header::Raw, _) | (_, Some(magic::Layout::EntriesWithPayload)) => (Vec::new(), None),
            _ => split_entries(&bytes, header.len()),
        };
        ImageFile {
            name: name.to_string(),
            bytes,
            header,
            entries,
            problem,
        }
    }

    /// Whether the entries were counted (not raw, no payloads).
    pub fn has_entries(&self) -> bool {
        self.header != Header::Raw
            && !matches!(
                self.header.magic().and_then(magic::lookup),
                Some((_, magic::Layout::EntriesWithPayload))
            )
    }

    pub fn magic_name(&self) -> Option<&'static str> {
        self.header
            .magic()
            .and_then(magic::lookup)
            .map(|(name, _)| name)
    }

    /// Decodes entry `index` as `M`, or says why it cannot be.
    pub fn decode<M: Message + Default>(&self, index: usize) -> Result<M, EntryProblem> {
        let range = self
            .entries
            .get(index)
            .cloned()
            .ok_or_else(|| EntryProblem {
                offset: self.bytes.len() as u64,
                message: format!("{} has no entry #{index}", self.name),
            })?;
        let offset = range.start as u64;
        let body = self.bytes.get(range).unwrap_or_default();
        M::decode(body).map_err(|e| EntryProblem {
            offset,
            message: format!(
                "{} entry #{index} at {offset:#x} ({} bytes) does not decode: {e}",
                self.name,
                body.len()
            ),
        })
    }
}

/// Splits `bytes[from..]` into length-prefixed entries.
fn split_entries(bytes: &[u8], from: usize) -> (Vec<Range<usize>>, Option<EntryProblem>) {
    let mut out = Vec::new();
    let mut at = from;
    while at < bytes.len() {
        let Some(len) = bytes.u32_at(at) else {
            let problem = EntryProblem {
                offset: at as u64,
                message: format!(
                    "entry #{} at {at:#x}: {} bytes left, too few for a length prefix (the file is cut short)",
                    out.len(),
                    bytes.len() - at
                ),
            };
            return (out, Some(problem));
        };
        let body = at + 4;
        let left = bytes.len() - body;
        if len as usize > left {
            let problem = EntryProblem {
                offset: at as u64,
                message: format!(
                    "entry #{} at {at:#x} claims {len} bytes but only {left} remain (the file is cut short or the length is damaged)",
                    out.len()
                ),
            };
            return (out, Some(problem));
        }
        out.push(body..body + len as usize);
        at = body + len as usize;
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(words: &[u32], entries: &[&[u8]]) -> Vec<u8> {
        let mut v: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        for e in entries {
            v.extend_from_slice(&(e.len() as u32).to_le_bytes());
            v.extend_from_slice(e);
        }
        v
    }

    #[test]
    fn entries_of_a_tagged_image() {
        let bytes = image(
            &[magic::IMG_COMMON_MAGIC, magic::PSTREE],
            &[b"\x08\x01", b""],
        );
        let f = ImageFile::parse("pstree.img", Bytes::from_vec(bytes));
        assert_eq!(f.magic_name(), Some("PSTREE"));
        assert_eq!(f.entries, vec![12..14, 18..18]);
        assert!(f.problem.is_none());
    }

    #[test]
    fn inventory_has_no_common_magic() {
        let bytes = image(&[magic::INVENTORY], &[b"\x08\x02"]);
        let f = ImageFile::parse("inventory.img", Bytes::from_vec(bytes));
        assert_eq!(f.header, Header::Inventory);
        assert_eq!(f.entries.len(), 1);
    }

    #[test]
    fn cut_entries_are_reported_not_trusted() {
        let mut bytes = image(&[magic::IMG_COMMON_MAGIC, magic::CORE], &[b"abcdef"]);
        bytes.truncate(bytes.len() - 2);
        let f = ImageFile::parse("core-1.img", Bytes::from_vec(bytes.clone()));
        assert!(f.entries.is_empty());
        let p = f.problem.unwrap();
        assert_eq!(p.offset, 8);
        assert!(
            p.message.contains("claims 6 bytes but only 4 remain"),
            "{}",
            p.message
        );

        bytes.truncate(10);
        let f = ImageFile::parse("core-1.img", Bytes::from_vec(bytes));
        assert!(
            f.problem
                .unwrap()
                .message
                .contains("too few for a length prefix")
        );
    }

    #[test]
    fn raw_images_have_no_entries() {
        let f = ImageFile::parse("pages-1.img", Bytes::from_vec(vec![0x48, 0x83, 0xec, 8, 9]));
        assert_eq!(f.header, Header::Raw);
        assert!(f.entries.is_empty() && f.problem.is_none() && !f.has_entries());
    }
}
