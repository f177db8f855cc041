//! Verification: checks computed on the common model (they know nothing of
//! formats), beside the structural findings readers report while parsing,
//! and the verify report that says how every registered check came out.

pub mod checks;
mod host_files;
pub mod restore;

// Findings and the check registry are leaf types shared by every layer;
// `verify::` names them too, as the place a reader of the code looks.
pub use crate::finding::*;

use crate::report::{CheckOutcome, FindingCounts, ImageSummary, VERIFY_SCHEMA, VerifyReport};

/// Builds a verify report: every registered check with its outcome.
pub fn report(
    path: &str,
    image: Option<ImageSummary>,
    findings: Vec<Finding>,
    facts: &RunFacts,
) -> VerifyReport {
    let mut counts = FindingCounts::default();
    for f in &findings {
        match f.severity {
            Severity::Error => counts.errors += 1,
            Severity::Warning => counts.warnings += 1,
            Severity::Note => counts.notes += 1,
        }
    }
    let checks = CHECKS
        .iter()
        .map(|c| {
            let n = findings.iter().filter(|f| f.code == c.code).count();
            let applicable = image.is_some() && c.scope.applies(facts);
            let status = if n > 0 {
                "failed"
            } else if applicable {
                "passed"
            } else {
                "not_applicable"
            };
            CheckOutcome {
                code: c.code,
                name: c.name,
                severity: c.severity,
                summary: c.summary,
                status,
                findings: n,
            }
        })
        .collect();
    VerifyReport {
        schema: VERIFY_SCHEMA,
        path: path.to_string(),
        image,
        findings,
        checks,
        counts,
    }
}
