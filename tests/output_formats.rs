//! The machine-readable outputs: JSON validated against the committed
//! schemas, SARIF 2.1.0 structure, JUnit XML, and verify's exit codes.

mod common;

use serde_json::Value;

use common::*;

fn fixture(name: &str) -> String {
    root()
        .join("testdata/cores")
        .join(name)
        .display()
        .to_string()
}

fn with_symbols<'a>(args: &mut Vec<&'a str>, owned: &'a [String; 3]) {
    args.extend([
        "--sysroot",
        &owned[0],
        "--symbols",
        &owned[1],
        "--symbols",
        &owned[2],
    ]);
}

fn symbol_args() -> [String; 3] {
    let r = root();
    [
        r.join("testdata/sysroot").display().to_string(),
        r.join("symbols").display().to_string(),
        r.join("testdata/bin").display().to_string(),
    ]
}

#[test]
fn inspect_json_matches_the_schema_for_every_fixture() {
    let validator = schema("inspect.schema.json");
    let owned = symbol_args();
    for entry in std::fs::read_dir(root().join("testdata/cores")).unwrap() {
        let path = entry.unwrap().path().display().to_string();
        let mut args = vec![
            "inspect",
            path.as_str(),
            "--format",
            "json",
            "--regions",
            "--disasm",
            "3",
        ];
        with_symbols(&mut args, &owned);
        let out = ckdump(&args);
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_valid(&validator, &doc, &path);
    }
}

#[test]
fn verify_json_sarif_and_junit() {
    let core = fixture("core.threads.kernel.zst");
    let owned = symbol_args();

    let out = ckdump(&["verify", &core, "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schema("verify.schema.json"), &doc, "verify json");
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), ckdump::verify::CHECKS.len());
    // Without a sysroot the fixture's executable is not on this host.
    let codes: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"CKD-W3001"), "{codes:?}");
    assert!(codes.contains(&"CKD-N1006"), "{codes:?}");

    // SARIF 2.1.0: every check is a rule; results point at rules by index.
    let out = ckdump(&["verify", &core, "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "ckdump");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), ckdump::verify::CHECKS.len());
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), codes.len());
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(matches!(
            r["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        // Relative to the working directory (the repository root here).
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"],
            serde_json::json!({
                "uri": "testdata/cores/core.threads.kernel.zst",
                "uriBaseId": "SRCROOT"
            })
        );
    }

    // JUnit: one test case per check that ran; the missing file fails
    // under --fail-on warning.
    let out = ckdump(&["verify", &core, "--format", "junit", "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut depth) = (0, 0, 0i32);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                match e.name().as_ref() {
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == "testcase" => cases += 1,
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    let ran = checks
        .iter()
        .filter(|c| c["status"] != "not_applicable")
        .count();
    assert!(ran < ckdump::verify::CHECKS.len());
    assert_eq!(cases, ran);
    assert!(!xml.contains("<skipped"), "{xml}");
    assert_eq!(failures, 1, "{xml}");

    // Against a copy of the crashed machine's files every mapped file is
    // present with its recorded build-id: nothing reaches error.
    let out = ckdump(&["verify", &core, "--sysroot", &owned[0]]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn verify_reports_a_truncated_core_and_fails() {
    let tmp = decompressed(&root().join("testdata/cores/core.threads.kernel.zst"));
    let bytes = std::fs::read(tmp.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.core");
    std::fs::write(&cut, &bytes[..bytes.len() - 3 * 4096 - 100]).unwrap();
    let out = ckdump(&["verify", cut.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let truncated: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "CKD-E1005")
        .collect();
    assert!(!truncated.is_empty(), "{doc}");
    assert!(truncated[0]["location"]["offset"].is_u64());
    // inspect still works on what is there.
    let out = ckdump(&["inspect", cut.to_str().unwrap()]);
    assert!(out.status.success());
}

#[test]
fn help_has_examples_and_bad_arguments_exit_2() {
    let out = ckdump(&["inspect", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("--symbols"),
        "{help}"
    );
    let out = ckdump(&["verify", "x", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ckdump(&[
        "inspect",
        &fixture("core.threads.kernel.zst"),
        "--thread",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no thread 1; the image has threads"));
}

#[test]
fn verify_with_symbols_reports_modules_without_symbols() {
    let core = fixture("core.threads.kernel.zst");
    let empty = tempfile::tempdir().unwrap();
    let out = ckdump(&[
        "verify",
        &core,
        "--symbols",
        empty.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "CKD-W4001")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        ["no symbols found for /tmp/ckdump-testdata/bin/threads"]
    );

    let symbols = root().join("symbols").display().to_string();
    let out = ckdump(&["verify", &core, "--symbols", &symbols, "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "CKD-W4001")
        .unwrap();
    assert_eq!(check["status"], "passed");

    // Without --symbols the check did not run.
    let out = ckdump(&["verify", &core, "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "CKD-W4001")
        .unwrap();
    assert_eq!(check["status"], "not_applicable");
}
