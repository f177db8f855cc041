//! JUnit XML for CI dashboards: one test case per check that ran, failed
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

/// The verify report as JUnit XML: one test case per check that ran
/// (checks that do not apply to this image or run are left out, not
/// skipped), failed when it has findings at or above `fail_on`.
pub fn render(report: &VerifyReport, fail_on: Severity) -> String {
    let (cases, tests, failures) = cases(report, fail_on);
    document(&report.path, &cases, tests, failures, 0)
}

/// The JUnit XML of a run that could not read the image (`error`): one
/// errored test case naming the error, after the cases of what was
/// checked before (the seal, when `report` holds it).
pub fn render_unreadable(
    path: &str,
    report: Option<&VerifyReport>,
    error: &str,
    fail_on: Severity,
) -> String {
    let (mut cases, tests, failures) =
        report
            .map(|r| cases(r, fail_on))
            .unwrap_or((String::new(), 0, 0));
    let _ = writeln!(
        cases,
        "    <testcase classname=\"ckdump.unreadable\" name=\"open {}\" time=\"0\"><error message=\"{}\" type=\"unreadable\">{}</error></testcase>",
        escape(path),
        escape(error),
        escape(error)
    );
    document(path, &cases, tests + 1, failures, 1)
}

/// The test cases of the checks that ran, with how many and how many failed.
fn cases(report: &VerifyReport, fail_on: Severity) -> (String, usize, usize) {
    let format = report
        .image
        .as_ref()
        .map(|i| i.format.clone())
        .unwrap_or_else(|| "unknown".into());
    let mut cases = String::new();
    let (mut tests, mut failures) = (0, 0);
    for check in report
        .checks
        .iter()
        .filter(|c| c.status != "not_applicable")
    {
        tests += 1;
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
        if !failing.is_empty() {
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
    (cases, tests, failures)
}

fn document(path: &str, cases: &str, tests: usize, failures: usize, errors: usize) -> String {
    let name = format!("ckdump verify {path}");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ckdump verify\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n{cases}  </testsuite>\n</testsuites>\n",
        escape(&name)
    )
}
