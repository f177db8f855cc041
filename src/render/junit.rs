//! JUnit XML for CI dashboards: one test case per registered check, failed
//! when it has findings at or above the `--fail-on` severity.

use std::fmt::Write;

use crate::report::VerifyReport;
use crate::verify::Severity;

/// Escapes text for XML attributes and content. Written by hand: writing
/// five entities needs no XML crate.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The verify report as JUnit XML.
pub fn render(report: &VerifyReport, fail_on: Severity) -> String {
    let format = report
        .image
        .as_ref()
        .map(|i| i.format.clone())
        .unwrap_or_else(|| "unknown".into());
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for check in &report.checks {
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.code == check.code)
            .collect();
        let failing: Vec<_> = findings.iter().filter(|f| f.severity >= fail_on).collect();
        let _ = write!(
            cases,
            "    <testcase classname=\"ckdump.{}\" name=\"{} {}\" time=\"0\">",
            escape(&format),
            check.code,
            escape(check.name)
        );
        if check.status == "not_applicable" {
            skipped += 1;
            cases.push_str("<skipped message=\"not applicable to this format\"/>");
        } else if !failing.is_empty() {
            failures += 1;
            let body: Vec<String> = failing
                .iter()
                .map(|f| format!("{}: {}", f.code, f.message))
                .collect();
            let _ = write!(
                cases,
                "<failure message=\"{}\" type=\"{}\">{}\nhint: {}</failure>",
                escape(&failing[0].message),
                check.code,
                escape(&body.join("\n")),
                escape(failing[0].hint)
            );
        }
        let below: Vec<String> = findings
            .iter()
            .filter(|f| f.severity < fail_on)
            .map(|f| format!("{} {}: {}", f.severity.name(), f.code, f.message))
            .collect();
        if !below.is_empty() {
            let _ = write!(
                cases,
                "<system-out>{}</system-out>",
                escape(&below.join("\n"))
            );
        }
        cases.push_str("</testcase>\n");
    }
    let tests = report.checks.len();
    let name = format!("ckdump verify {}", report.path);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ckdump verify\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{cases}  </testsuite>\n</testsuites>\n",
        escape(&name)
    )
}
