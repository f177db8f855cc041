//! SARIF 2.1.0 for code-scanning dashboards: one rule per registered check,
//! one result per finding.
//!
//! What keeps a dashboard's alerts stable from run to run:
//! - the image's URI is relative to a base directory (`--sarif-base`, the
//!   working directory by default) named `SRCROOT` in `originalUriBaseIds`,
//!   so two checkouts of one repository give the same URI;
//! - every result has a `partialFingerprints` entry made from the finding's
//!   code and what its location names (the image, the file, the address,
//!   the byte offset), never from its message, whose numbers may change.
//!
//! A run that could not read the image is still a SARIF log: its invocation
//! says `executionSuccessful: false` and carries the error as a tool
//! execution notification.

use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::report::VerifyReport;
use crate::verify::{CHECKS, Severity};

/// The `originalUriBaseIds` key artifact URIs are relative to.
pub const BASE_ID: &str = "SRCROOT";

/// The `partialFingerprints` key of ckdump's fingerprint; the version
/// changes if what goes into the fingerprint ever does.
pub const FINGERPRINT_KEY: &str = "ckdumpFinding/v1";

/// Characters escaped in a URI path: controls, space, and what RFC 3986
/// does not allow in a path segment (`:` too, so a relative reference
/// never reads as a scheme).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Where the image is, for its artifact URI: both paths absolute (the CLI
/// makes them so; nothing here touches the file system).
#[derive(Debug, Clone)]
pub struct ArtifactBase {
    /// The directory URIs are relative to (`--sarif-base`, or the working
    /// directory).
    pub dir: PathBuf,
    /// The image, as an absolute path.
    pub image: PathBuf,
}

impl ArtifactBase {
    /// The image's artifact location: relative to the base when it lies
    /// under it, an absolute `file://` URI otherwise.
    fn image_location(&self) -> Value {
        match self.image.strip_prefix(&self.dir) {
            Ok(rel) if !rel.as_os_str().is_empty() => {
                json!({ "uri": encode_path(rel), "uriBaseId": BASE_ID })
            }
            _ => json!({ "uri": file_uri(&self.image, false) }),
        }
    }

    fn base_ids(&self) -> Value {
        json!({ BASE_ID: { "uri": file_uri(&self.dir, true) } })
    }
}

/// A path as a URI path, each segment percent-encoded.
fn encode_path(path: &Path) -> String {
    utf8_percent_encode(&path.to_string_lossy(), PATH_SEGMENT).to_string()
}

/// `file:///abs/path` (with a trailing slash for a directory, as
/// `originalUriBaseIds` requires).
fn file_uri(path: &Path, dir: bool) -> String {
    let mut uri = format!("file://{}", encode_path(path));
    if dir && !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The verify report as a SARIF 2.1.0 log.
pub fn render(report: &VerifyReport, base: &ArtifactBase) -> String {
    log(Some(report), None, base)
}

/// The log of a run that could not read the image (`error`): no results
/// beyond what `report` holds (a seal checked before the image failed to
/// open), and an invocation that did not succeed.
pub fn render_unreadable(
    report: Option<&VerifyReport>,
    error: &str,
    base: &ArtifactBase,
) -> String {
    log(report, Some(error), base)
}

fn rules() -> Vec<Value> {
    CHECKS
        .iter()
        .map(|c| {
            json!({
                "id": c.code,
                "name": c.name,
                "shortDescription": { "text": c.summary },
                "fullDescription": { "text": c.summary },
                "help": { "text": c.hint },
                "defaultConfiguration": { "level": level(c.severity) },
                "properties": { "formats": c.scope.name() },
            })
        })
        .collect()
}

/// Hex SHA-256 (first 128 bits) of the parts, each ended by a NUL.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for p in parts {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn results(report: &VerifyReport, image: &Value) -> Vec<Value> {
    let image_uri = image["uri"].as_str().unwrap_or_default();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    report
        .findings
        .iter()
        .map(|f| {
            let index = CHECKS.iter().position(|c| c.code == f.code);
            let mut physical = json!({ "artifactLocation": image });
            if let Some(offset) = f.location.offset {
                physical["region"] = json!({ "byteOffset": offset });
            }
            let address = f.location.address.map(|a| format!("{a:#x}"));
            let offset = f.location.offset.map(|o| o.to_string());
            // The same finding twice at one location (two threads at one
            // bad pc) is told apart by its occurrence, as GitHub does for
            // its own line hashes.
            let key = fingerprint(&[
                f.code,
                image_uri,
                f.location.path.as_deref().unwrap_or(""),
                address.as_deref().unwrap_or(""),
                offset.as_deref().unwrap_or(""),
            ]);
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            let mut result = json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [ { "physicalLocation": physical } ],
                "partialFingerprints": { FINGERPRINT_KEY: format!("{key}:{n}") },
                "properties": { "hint": f.hint },
            });
            if let Some(i) = index {
                result["ruleIndex"] = json!(i);
            }
            if let Some(addr) = address {
                result["locations"][0]["logicalLocations"] =
                    json!([{ "name": addr, "kind": "address" }]);
                result["properties"]["address"] = json!(addr);
            }
            if let Some(p) = &f.location.path {
                // A file of the dumped machine, not of this one: a path
                // reference, not relative to the base.
                result["relatedLocations"] = json!([{
                    "id": 0,
                    "physicalLocation": { "artifactLocation": { "uri": encode_path(Path::new(p)) } }
                }]);
            }
            result
        })
        .collect()
}

fn log(report: Option<&VerifyReport>, error: Option<&str>, base: &ArtifactBase) -> String {
    let image = base.image_location();
    let mut invocation = json!({ "executionSuccessful": error.is_none() });
    if let Some(error) = error {
        invocation["exitCode"] = json!(2);
        invocation["toolExecutionNotifications"] = json!([{
            "level": "error",
            "message": { "text": error },
            "locations": [ { "physicalLocation": { "artifactLocation": image } } ],
        }]);
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "ckdump",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/ckdump/ckdump",
                "rules": rules(),
            }},
            "invocations": [invocation],
            "originalUriBaseIds": base.base_ids(),
            "artifacts": [ { "location": image } ],
            "results": report.map(|r| results(r, &image)).unwrap_or_default(),
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}
