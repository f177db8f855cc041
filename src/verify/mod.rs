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

/// Findings that say the file itself lost bytes (cut short, a pages file
/// shorter than its pagemap, an unreadable stream): the cause of every
/// finding about pages the image then lacks.
const LOST_BYTES_CAUSES: [&str; 7] = [
    "CKD-E1005", // ELF: a PT_LOAD's bytes past the end of the file
    "CKD-E1012", // a compressed image that does not decompress to its end
    "CKD-E6005", // CRIU: pages-N.img shorter (or longer) than its pagemap
    "CKD-E7004", // kdump: the file ends before the pages it describes
    "CKD-E7005", // kdump: pages that do not decompress
    "CKD-E7006", // kdump: the writer stopped early
    "CKD-E7007", // flattened: the stream was cut short
];

/// One root cause, one finding: the findings about bytes the image lacks
/// are folded into the first finding that says why (the cut file), which
/// counts them by check; with no such cause they stay as they are.
pub fn fold_consequences(findings: Vec<Finding>) -> Vec<Finding> {
    let Some(cause) = findings
        .iter()
        .position(|f| LOST_BYTES_CAUSES.contains(&f.code))
    else {
        return findings;
    };
    let (mut kept, dependents): (Vec<Finding>, Vec<Finding>) =
        findings.into_iter().partition(|f| !f.lost_bytes);
    if dependents.is_empty() {
        return kept;
    }
    // The cause's index among the kept: it is never a dependent itself.
    let cause = kept
        .iter()
        .position(|f| LOST_BYTES_CAUSES.contains(&f.code))
        .unwrap_or(cause.min(kept.len().saturating_sub(1)));
    let mut folded: Vec<FoldedFindings> = Vec::new();
    for d in &dependents {
        match folded.iter_mut().find(|f| f.code == d.code) {
            Some(f) => f.count += 1,
            None => folded.push(FoldedFindings {
                code: d.code,
                name: d.name,
                count: 1,
            }),
        }
    }
    let root = &mut kept[cause];
    let listed: Vec<String> = folded
        .iter()
        .map(|f| format!("{} {} ({})", f.count, f.name, f.code))
        .collect();
    root.message = format!(
        "{}; {} finding{} that follow from it are counted here: {}",
        root.message,
        dependents.len(),
        if dependents.len() == 1 { "" } else { "s" },
        listed.join(", ")
    );
    root.folded = folded;
    kept
}

/// Builds a verify report: every registered check with its outcome.
pub fn report(
    path: &str,
    image: Option<ImageSummary>,
    findings: Vec<Finding>,
    facts: &RunFacts,
) -> VerifyReport {
    let findings = fold_consequences(findings);
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
            // A check whose findings were folded into their cause failed too.
            let n = findings.iter().filter(|f| f.code == c.code).count()
                + findings
                    .iter()
                    .flat_map(|f| &f.folded)
                    .filter(|f| f.code == c.code)
                    .map(|f| f.count as usize)
                    .sum::<usize>();
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
