//! The members of a tar stream that is mapped (a plain tar, or the
//! decompressed temporary file of a compressed one), each a zero-copy
//! window on it.
//!
//! Headers are parsed by the `tar` crate (ustar, GNU long names, pax
//! records, checksums); its `raw_file_position` gives where each member's
//! data starts, so the data itself is never copied: the iterator seeks over
//! it and a member is `Bytes::slice` of the whole.
//!
//! Nothing here touches the file system. Names are normalized and checked:
//! an absolute name, a `..` component, or a link whose target leaves the
//! archive is a finding and the member is dropped, never followed.

use std::collections::HashMap;
use std::io::Cursor;

use crate::finding::{self, CappedFindings, Check, Finding};
use crate::memory::Bytes;

/// Members read before the rest is ignored (real checkpoints hold a few
/// dozen; a hostile archive of empty headers could hold millions).
const MAX_MEMBERS: usize = 200_000;
/// Findings listed per check before the rest is counted.
const LISTED_FINDINGS: usize = 8;
/// Links followed in a row before giving up (cycles).
const MAX_LINK_HOPS: usize = 16;
const BLOCK: u64 = 512;

/// What a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Directory,
    /// Target resolved to a member name (inside the archive).
    Symlink(String),
    /// Target member name.
    Hardlink(String),
    /// Devices, FIFOs, sparse files: listed, not read.
    Unsupported(u8),
}

/// One member of the archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// Normalized: no leading `./` or `/`, no trailing `/`, no `.` parts.
    pub name: String,
    pub kind: MemberKind,
    /// The member's bytes as far as the archive holds them.
    pub data: Bytes,
    /// Size the header claims (larger than `data` when cut short).
    pub size: u64,
    pub header_offset: u64,
}

/// Every member, in archive order, and what was wrong.
pub struct Members {
    pub list: Vec<Member>,
    /// Name -> index of the last member of that name (extraction order).
    index: HashMap<String, usize>,
    /// Headers seen, including rejected members.
    pub headers: u64,
    pub findings: Vec<Finding>,
    /// Findings while walking, moved to `findings` when the walk ends.
    capped: CappedFindings,
}

impl Members {
    fn add_finding(&mut self, check: &'static Check, finding: Finding) {
        self.capped.push(check, finding);
    }

    /// Moves the capped findings, with their summaries, into `findings`.
    fn finish_findings(&mut self) {
        let capped = std::mem::replace(&mut self.capped, CappedFindings::new(LISTED_FINDINGS));
        self.findings.extend(capped.finish());
    }

    /// The member named `name` (the last one, if duplicated).
    pub fn get(&self, name: &str) -> Option<&Member> {
        self.index.get(name).and_then(|&i| self.list.get(i))
    }

    /// Follows links from `name` to the member they end at.
    pub fn resolve(&self, name: &str) -> Option<&Member> {
        let mut at = self.get(name)?;
        for _ in 0..MAX_LINK_HOPS {
            match &at.kind {
                MemberKind::Symlink(t) | MemberKind::Hardlink(t) => at = self.get(t)?,
                _ => return Some(at),
            }
        }
        None
    }

    /// The bytes of the regular file `name`, following links.
    pub fn file(&self, name: &str) -> Option<&Bytes> {
        self.resolve(name)
            .filter(|m| m.kind == MemberKind::File)
            .map(|m| &m.data)
    }

    /// `name` as a directory: itself, or where a symlink to a directory
    /// leads; None if nothing in the archive lives under it.
    pub fn directory(&self, name: &str) -> Option<String> {
        let mut dir = name.to_string();
        for _ in 0..MAX_LINK_HOPS {
            match self.get(&dir).map(|m| &m.kind) {
                Some(MemberKind::Symlink(target)) => dir = target.clone(),
                // A directory member, or one implied by members below it.
                Some(MemberKind::Directory) | None => break,
                Some(_) => return None,
            }
        }
        let prefix = format!("{dir}/");
        self.list
            .iter()
            .any(|m| m.name.starts_with(&prefix))
            .then_some(dir)
    }

    /// Names of the members directly inside directory `dir`.
    pub fn children(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        let mut out: Vec<String> = self
            .list
            .iter()
            .filter_map(|m| m.name.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Why a member name is refused.
fn normalize(raw: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "its name is not UTF-8".to_string())?;
    if text.starts_with('/') {
        return Err("its name is an absolute path".into());
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("its name has a `..` component".into()),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves `target` against directory `base` (both inside the archive);
/// Err when it leaves the archive.
fn resolve_link(base: &str, target: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(target).map_err(|_| "its target is not UTF-8".to_string())?;
    if text.starts_with('/') {
        return Err(format!("points at the absolute path {text}"));
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("points at {text}, outside the archive"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

fn parent_of(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Reads every member header of the tar stream `bytes`.
pub fn walk(bytes: &Bytes) -> Members {
    let mut out = Members {
        list: Vec::new(),
        index: HashMap::new(),
        headers: 0,
        findings: Vec::new(),
        capped: CappedFindings::new(LISTED_FINDINGS),
    };
    let len = bytes.len() as u64;
    let mut archive = tar::Archive::new(Cursor::new(&bytes[..]));
    // Where the next header should start: after the last member's data.
    let mut next_header: u64 = 0;
    let mut last_name = String::from("(none)");
    let mut cut = false;
    let entries = match archive.entries_with_seek() {
        Ok(e) => e,
        Err(e) => {
            let f = Finding::new(
                &finding::ARCHIVE_TRUNCATED,
                format!("the tar stream cannot be read: {e}"),
            )
            .at_offset(0);
            out.add_finding(&finding::ARCHIVE_TRUNCATED, f);
            out.finish_findings();
            return out;
        }
    };
    for entry in entries {
        if out.headers as usize >= MAX_MEMBERS {
            let f = Finding::new(
                &finding::ARCHIVE_MEMBER_TYPE,
                format!("the archive lists more than {MAX_MEMBERS} members; the rest are not read"),
            );
            out.add_finding(&finding::ARCHIVE_MEMBER_TYPE, f);
            break;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let f = Finding::new(
                    &finding::ARCHIVE_TRUNCATED,
                    format!(
                        "the tar header after member {last_name} (offset {next_header}) is cut short or damaged ({e}); members after it are missing"
                    ),
                )
                .at_offset(next_header);
                out.add_finding(&finding::ARCHIVE_TRUNCATED, f);
                cut = true;
                break;
            }
        };
        let kind_byte = entry.header().entry_type().as_byte();
        // A pax global header describes the archive, not a member.
        if kind_byte == b'g' {
            continue;
        }
        out.headers += 1;
        let header_offset = entry.raw_header_position();
        let data_offset = entry.raw_file_position();
        let size = entry.size();
        let raw_name = entry.path_bytes().into_owned();
        let raw_link = entry.link_name_bytes().map(|l| l.into_owned());
        // Where the member's data ends, as far as the archive holds it.
        let claimed_end = data_offset.checked_add(size);
        let have_end = claimed_end
            .unwrap_or(u64::MAX)
            .min(len)
            .max(data_offset.min(len));
        next_header = have_end.div_ceil(BLOCK).saturating_mul(BLOCK);
        let shown = printable(&raw_name);
        if claimed_end.is_none_or(|e| e > len) {
            let held = have_end.saturating_sub(data_offset);
            let f = Finding::new(
                &finding::ARCHIVE_TRUNCATED,
                format!(
                    "member {shown} claims {size} bytes at offset {data_offset} but the archive ends after {held} of them"
                ),
            )
            .at_offset(len)
            .about_path(shown.clone());
            out.add_finding(&finding::ARCHIVE_TRUNCATED, f);
            cut = true;
        }
        last_name = shown.clone();

        let name = match normalize(&raw_name) {
            Ok(n) => n,
            Err(why) => {
                let f = Finding::new(
                    &finding::ARCHIVE_MEMBER_PATH,
                    format!("member {shown} is not read: {why}"),
                )
                .at_offset(header_offset)
                .about_path(shown);
                out.add_finding(&finding::ARCHIVE_MEMBER_PATH, f);
                continue;
            }
        };
        if name.is_empty() {
            // `./` itself: the archive's root.
            continue;
        }
        let kind = match kind_byte {
            b'0' | b'\0' | b'7' => MemberKind::File,
            b'5' => MemberKind::Directory,
            b'1' | b'2' => {
                let raw_link = raw_link.unwrap_or_default();
                // A symlink is relative to its own directory; a hard link
                // names another member from the archive's root.
                let base = if kind_byte == b'2' {
                    parent_of(&name)
                } else {
                    ""
                };
                match resolve_link(base, &raw_link) {
                    Ok(t) if kind_byte == b'2' => MemberKind::Symlink(t),
                    Ok(t) => MemberKind::Hardlink(t),
                    Err(why) => {
                        let what = if kind_byte == b'2' {
                            "symbolic link"
                        } else {
                            "hard link"
                        };
                        let f = Finding::new(
                            &finding::ARCHIVE_LINK_ESCAPE,
                            format!("{what} {name} is not followed: it {why}"),
                        )
                        .at_offset(header_offset)
                        .about_path(name);
                        out.add_finding(&finding::ARCHIVE_LINK_ESCAPE, f);
                        continue;
                    }
                }
            }
            other => {
                let f = Finding::new(
                    &finding::ARCHIVE_MEMBER_TYPE,
                    format!(
                        "member {name} is of tar type '{}', which is not read",
                        printable(&[other])
                    ),
                )
                .at_offset(header_offset)
                .about_path(name.clone());
                out.add_finding(&finding::ARCHIVE_MEMBER_TYPE, f);
                MemberKind::Unsupported(other)
            }
        };
        let data = if kind == MemberKind::File {
            let start = usize::try_from(data_offset.min(len)).unwrap_or(usize::MAX);
            let end = usize::try_from(have_end).unwrap_or(usize::MAX);
            bytes.slice(start..end.max(start))
        } else {
            None
        }
        .unwrap_or_else(|| Bytes::from_vec(Vec::new()));
        let member = Member {
            name: name.clone(),
            kind,
            data,
            size,
            header_offset,
        };
        if let Some(&earlier) = out.index.get(&name) {
            let both_dirs = out.list[earlier].kind == MemberKind::Directory
                && member.kind == MemberKind::Directory;
            if !both_dirs {
                let f = Finding::new(
                    &finding::ARCHIVE_DUPLICATE_MEMBER,
                    format!(
                        "member {name} appears more than once (headers at offsets {} and {header_offset}); the last one is read, as extraction would keep it",
                        out.list[earlier].header_offset
                    ),
                )
                .at_offset(header_offset)
                .about_path(name.clone());
                out.add_finding(&finding::ARCHIVE_DUPLICATE_MEMBER, f);
            }
        }
        out.index.insert(name, out.list.len());
        out.list.push(member);
    }
    // Writers end a tar with zero blocks; without one the stream may have
    // been cut exactly between two members.
    if !cut {
        let at = usize::try_from(next_header).unwrap_or(usize::MAX);
        let marker = at
            .checked_add(BLOCK as usize)
            .and_then(|end| bytes.get(at..end));
        if !marker.is_some_and(|b| b.iter().all(|&x| x == 0)) {
            let f = Finding::new(
                &finding::ARCHIVE_TRUNCATED,
                format!(
                    "no end-of-archive marker after member {last_name} (offset {next_header}): the archive may be cut short after it"
                ),
            )
            .at_offset(next_header);
            out.add_finding(&finding::ARCHIVE_TRUNCATED, f);
        }
    }
    out.finish_findings();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused() {
        assert_eq!(normalize(b"./checkpoint/").unwrap(), "checkpoint");
        assert_eq!(normalize(b"checkpoint//a.img").unwrap(), "checkpoint/a.img");
        assert_eq!(normalize(b"./").unwrap(), "");
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"a/../../x").is_err());
        assert!(normalize(b"../x").is_err());
        assert!(normalize(&[0xff, b'a']).is_err());
    }

    fn member(name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn links_to_directories_and_files_are_followed_inside() {
        use tar::EntryType::{Regular, Symlink};
        let mut tar = Vec::new();
        // pre/ exists only through the file below it.
        tar.extend(member("pre/pagemap-1.img", Regular, "", b"abc"));
        tar.extend(member("checkpoint/parent", Symlink, "../pre", b""));
        tar.extend(member("checkpoint/a", Symlink, "b", b""));
        tar.extend(member("checkpoint/b", Symlink, "a", b""));
        tar.extend(member("checkpoint/c", Symlink, "../pre/pagemap-1.img", b""));
        tar.extend([0u8; 1024]);
        let m = walk(&Bytes::from_vec(tar));
        assert!(m.findings.is_empty(), "{:?}", m.findings);
        assert_eq!(m.directory("checkpoint/parent").as_deref(), Some("pre"));
        assert_eq!(m.directory("checkpoint").as_deref(), Some("checkpoint"));
        assert_eq!(m.directory("checkpoint/c"), None);
        assert_eq!(m.directory("nowhere"), None);
        assert_eq!(m.children("pre"), ["pagemap-1.img"]);
        assert_eq!(m.file("checkpoint/c").map(|b| &b[..]), Some(&b"abc"[..]));
        // A cycle ends, with nothing.
        assert!(m.file("checkpoint/a").is_none());
        assert_eq!(m.headers, 5);
    }

    #[test]
    fn links_resolve_inside_or_are_refused() {
        assert_eq!(
            resolve_link("checkpoint", b"../pre-checkpoint").unwrap(),
            "pre-checkpoint"
        );
        assert_eq!(resolve_link("a/b", b"./c/../d").unwrap(), "a/b/d");
        assert!(resolve_link("checkpoint", b"../../x").is_err());
        assert!(resolve_link("", b"/etc/passwd").is_err());
        assert!(resolve_link("", b"..").is_err());
    }
}
