//! SARIF 2.1.0 for code-scanning dashboards: one rule per registered check,
//! one result per finding.

use serde_json::{Value, json};

use crate::report::VerifyReport;
use crate::verify::{CHECKS, Severity};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The verify report as a SARIF 2.1.0 log.
pub fn render(report: &VerifyReport) -> String {
    let rules: Vec<Value> = CHECKS
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
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = CHECKS.iter().position(|c| c.code == f.code);
            let mut physical = json!({ "artifactLocation": { "uri": report.path } });
            if let Some(offset) = f.location.offset {
                physical["region"] = json!({ "byteOffset": offset });
            }
            let mut result = json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": { "text": f.message },
                "locations": [ { "physicalLocation": physical } ],
                "properties": { "hint": f.hint },
            });
            if let Some(i) = index {
                result["ruleIndex"] = json!(i);
            }
            if let Some(addr) = f.location.address {
                result["locations"][0]["logicalLocations"] =
                    json!([{ "name": format!("{addr:#x}"), "kind": "address" }]);
                result["properties"]["address"] = json!(format!("{addr:#x}"));
            }
            if let Some(p) = &f.location.path {
                result["relatedLocations"] =
                    json!([{ "id": 0, "physicalLocation": { "artifactLocation": { "uri": p } } }]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "ckdump",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/ckdump/ckdump",
                "rules": rules,
            }},
            "artifacts": [ { "location": { "uri": report.path } } ],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}
