//! The seal manifest: a versioned JSON document (`schema/seal.schema.json`)
//! listing every sealed member with its size and SHA-256, optionally
//! authenticated with an HMAC-SHA256.
//!
//! The HMAC covers the manifest's canonical bytes: the document without
//! its `hmac` member, serialized compactly (no whitespace) with the members
//! in the order they are written — what `jq -cj 'del(.hmac)'` prints. The
//! chunk digests are members like any other, so the HMAC covers them.
//!
//! Versions. `ckdump-seal/1`: size and whole-file SHA-256 per file.
//! `ckdump-seal/2` adds `chunk_size` and, for every file larger than one
//! chunk, `chunks`: the SHA-256 of each `chunk_size` bytes in order (the
//! last one shorter). ckdump writes /2 and reads both.
//!
//! Why a new version rather than an optional field in /1: a /1 reader
//! (ckdump before chunks, and `schema/seal.schema.json` of /1, both closed
//! to unknown members) would reject the new members with a confusing
//! "unknown field"; with a new tag it says "written by another ckdump
//! version". And the meaning changes, not only the content: a /2 verifier
//! accepts a file whose chunks all match without recomputing the whole-file
//! digest (see `check`), which a reader must know it is agreeing to. A /1
//! manifest never carries chunk members (rejected as malformed), so it
//! keeps verifying — and its HMAC keeps matching — exactly as before.

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The version ckdump writes.
pub const SEAL_SCHEMA: &str = "ckdump-seal/2";
/// The version before chunk digests; still read.
pub const SEAL_SCHEMA_V1: &str = "ckdump-seal/1";
/// Bytes per chunk digest unless `--chunk-size` says otherwise: 1024 pages
/// of 4 KiB, fine enough to say which memory a change hit, coarse enough
/// that the digests add ~17 KB of manifest per GiB sealed.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 << 20;
/// Smallest chunk: one 4 KiB page (chunks stay page-aligned in a pages file).
pub const MIN_CHUNK_SIZE: u64 = 4 << 10;
/// Largest chunk: a chunk is hashed in one piece while sealing, so its size
/// bounds the memory `seal` keeps resident.
pub const MAX_CHUNK_SIZE: u64 = 64 << 20;
pub const DIGEST_ALGORITHM: &str = "sha256";
pub const HMAC_ALGORITHM: &str = "hmac-sha256";
/// Manifests larger than this are not read (a 200 000-member manifest is
/// about 30 MB).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// What was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealedKind {
    /// Every file of a directory (DIR/ckdump-seal.json).
    Directory,
    /// One file (FILE.ckdump-seal.json beside it).
    File,
}

/// One sealed member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    File {
        name: String,
        size: u64,
        /// Lower-case hex.
        sha256: String,
        /// SHA-256 of each `chunk_size` bytes, in order, lower-case hex:
        /// present (in /2) for files larger than one chunk.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunks: Option<Vec<String>>,
    },
    Link {
        name: String,
        target: String,
    },
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::File { name, .. } | Entry::Link { name, .. } => name,
        }
    }
}

/// The manifest's authentication code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacValue {
    pub algorithm: String,
    /// Lower-case hex.
    pub value: String,
}

/// A seal manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: String,
    pub algorithm: String,
    /// Bytes per chunk digest (/2; a power of two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    /// When the seal was made, RFC 3339 UTC.
    pub created: String,
    /// The ckdump that wrote it.
    pub tool: String,
    pub sealed: SealedKind,
    /// Sorted by name, names unique.
    pub files: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<HmacValue>,
}

impl Manifest {
    /// The bytes the HMAC is computed over.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let unsigned = Manifest {
            hmac: None,
            ..self.clone()
        };
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_vec(&unsigned).unwrap_or_default()
    }

    /// HMAC-SHA256 of the canonical bytes under `key`, lower-case hex.
    pub fn compute_hmac(&self, key: &[u8]) -> String {
        hex(&hmac_sha256(key, &self.canonical_bytes()))
    }

    /// Whether the recorded HMAC is the one `key` gives (constant-time).
    pub fn hmac_matches(&self, key: &[u8]) -> bool {
        let Some(h) = &self.hmac else {
            return false;
        };
        let Some(expected) = unhex(&h.value) else {
            return false;
        };
        let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
            return false;
        };
        mac.update(&self.canonical_bytes());
        mac.verify_slice(&expected).is_ok()
    }

    /// The document as written: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses and validates a manifest; the error is one sentence.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| format!("not a seal: {e}"))?;
        let v2 = m.schema == SEAL_SCHEMA;
        if !v2 && m.schema != SEAL_SCHEMA_V1 {
            return Err(format!(
                "schema {:?} is neither {SEAL_SCHEMA:?} nor {SEAL_SCHEMA_V1:?} (written by another ckdump version?)",
                m.schema
            ));
        }
        match (v2, m.chunk_size) {
            (false, Some(_)) => {
                return Err(format!(
                    "a {SEAL_SCHEMA_V1} manifest has a chunk_size, which only {SEAL_SCHEMA} has"
                ));
            }
            (true, None) => return Err(format!("a {SEAL_SCHEMA} manifest lacks its chunk_size")),
            (true, Some(c)) if !valid_chunk_size(c) => {
                return Err(format!(
                    "chunk_size {c} is not a power of two from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE}"
                ));
            }
            _ => {}
        }
        if m.algorithm != DIGEST_ALGORITHM {
            return Err(format!("digest algorithm {:?} is not sha256", m.algorithm));
        }
        if let Some(h) = &m.hmac
            && (h.algorithm != HMAC_ALGORITHM || unhex(&h.value).is_none_or(|v| v.len() != 32))
        {
            return Err(format!(
                "the hmac is not {HMAC_ALGORITHM} with a 64-digit hex value"
            ));
        }
        if m.sealed == SealedKind::File && m.files.len() != 1 {
            return Err(format!(
                "a single-file seal lists {} entries, not 1",
                m.files.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for e in &m.files {
            if e.name().is_empty() || !seen.insert(e.name()) {
                return Err(format!("entry name {:?} is empty or repeated", e.name()));
            }
            if let Entry::File {
                name,
                size,
                sha256,
                chunks,
            } = e
            {
                if !is_digest(sha256) {
                    return Err(format!(
                        "the sha256 of {name:?} is not 64 lower-case hex digits"
                    ));
                }
                check_chunks(name, *size, chunks.as_deref(), m.chunk_size)?;
            }
        }
        Ok(m)
    }

    /// How many chunk digests a file of `size` bytes has: none when it fits
    /// one chunk (its whole-file digest is that chunk's), or without chunks.
    pub fn chunk_count(&self, size: u64) -> usize {
        chunk_count(size, self.chunk_size)
    }
}

/// Whether `c` is a chunk size ckdump writes and reads.
pub fn valid_chunk_size(c: u64) -> bool {
    c.is_power_of_two() && (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&c)
}

fn chunk_count(size: u64, chunk_size: Option<u64>) -> usize {
    match chunk_size {
        Some(c) if c > 0 && size > c => usize::try_from(size.div_ceil(c)).unwrap_or(usize::MAX),
        _ => 0,
    }
}

/// A file's chunk list is there exactly when the file is larger than one
/// chunk, has one digest per chunk, and each is well-formed.
fn check_chunks(
    name: &str,
    size: u64,
    chunks: Option<&[String]>,
    chunk_size: Option<u64>,
) -> Result<(), String> {
    let want = chunk_count(size, chunk_size);
    match chunks {
        None if want == 0 => Ok(()),
        None => Err(format!(
            "{name:?} ({size} bytes) has no chunk digests; chunks of {} bytes make {want}",
            chunk_size.unwrap_or_default()
        )),
        Some(_) if chunk_size.is_none() => Err(format!(
            "{name:?} has chunk digests but the manifest has no chunk_size"
        )),
        Some(list) if list.len() != want => Err(format!(
            "{name:?} ({size} bytes) lists {} chunk digests; chunks of {} bytes make {want}",
            list.len(),
            chunk_size.unwrap_or_default()
        )),
        Some(list) => match list.iter().position(|d| !is_digest(d)) {
            Some(i) => Err(format!(
                "chunk {i} of {name:?} is not 64 lower-case hex digits"
            )),
            None => Ok(()),
        },
    }
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of digests, as the manifest stores them.
pub use crate::byte_reader::hex;

/// 64 lower-case hex digits as the 32 bytes of a digest.
pub fn digest_bytes(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// `seconds` since the epoch as RFC 3339 UTC (`2025-11-23T07:54:00Z`).
pub fn rfc3339_utc(seconds: u64) -> String {
    let t = crate::model::UtcTime::from_unix(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // date -u -d @1763884440
        assert_eq!(rfc3339_utc(1_763_884_440), "2025-11-23T07:54:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn hmac_known_answer() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(unhex("00ff10").unwrap(), vec![0, 255, 16]);
        assert!(unhex("0").is_none());
        assert!(unhex("zz").is_none());
        assert!(unhex("AB").is_none());
    }
}
