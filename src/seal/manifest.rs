//! The seal manifest: a versioned JSON document (`schema/seal.schema.json`)
//! listing every sealed member with its size and SHA-256, optionally
//! authenticated with an HMAC-SHA256.
//!
//! The HMAC covers the manifest's canonical bytes: the document without
//! its `hmac` member, serialized compactly (no whitespace) with the members
//! in the order they are written — what `jq -cj 'del(.hmac)'` prints.

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The manifest's version tag.
pub const SEAL_SCHEMA: &str = "ckdump-seal/1";
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
        if m.schema != SEAL_SCHEMA {
            return Err(format!(
                "schema {:?} is not {SEAL_SCHEMA:?} (written by another ckdump version?)",
                m.schema
            ));
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
            if let Entry::File { name, sha256, .. } = e
                && !is_digest(sha256)
            {
                return Err(format!(
                    "the sha256 of {name:?} is not 64 lower-case hex digits"
                ));
            }
        }
        Ok(m)
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

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
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
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian; the
    // era arithmetic is the standard days-to-civil conversion).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
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
