//! `ckdump seal` and the seal checks of `ckdump verify`, on copies of the
//! real CRIU fixtures and cores.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use sha2::Digest;

use common::*;

/// The files of testdata/criu/images/mt with their sizes (`ls -l`).
const MT_FILES: &[(&str, u64)] = &[
    ("core-134.img", 1842),
    ("core-139.img", 761),
    ("core-140.img", 761),
    ("core-141.img", 761),
    ("dump.log", 36308),
    ("fdinfo-2.img", 56),
    ("files.img", 574),
    ("fs-134.img", 18),
    ("ids-134.img", 36),
    ("inventory.img", 46),
    ("mm-134.img", 1147),
    ("pagemap-134.img", 254),
    ("pages-1.img", 147456),
    ("pstree.img", 35),
    ("seccomp.img", 12),
    ("stats-dump", 50),
    ("timens-0.img", 30),
];

/// `sha256sum testdata/criu/images/mt/pages-1.img`.
const MT_PAGES_SHA256: &str = "30be38f0c1ff71076a318c7df42807c1087fb94a2360a4381345a6033107d782";

/// Copies a directory (flat, symlinks kept as links) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn mt_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mt");
    copy_dir(&root().join("testdata/criu/images/mt"), &dir);
    (tmp, dir)
}

fn run(args: &[&str]) -> Output {
    ckdump(args)
}

fn run_env(args: &[&str], var: &str, value: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ckdump"))
        .args(args)
        .env(var, value)
        .output()
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn seal_json(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["seal", p(path), "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(
        out.status.success(),
        "seal failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `verify --format json`: (exit code, findings as (code, path, message)).
fn verify(path: &Path, extra: &[&str]) -> (i32, Vec<(String, String, String)>, Value) {
    let mut args = vec!["verify", p(path), "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    verify_output(out)
}

fn verify_output(out: Output) -> (i32, Vec<(String, String, String)>, Value) {
    let code = out.status.code().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON (exit {code}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["code"].as_str().unwrap().starts_with("CKD-E63")
                || f["code"].as_str().unwrap().starts_with("CKD-W63")
                || f["code"].as_str().unwrap().starts_with("CKD-N63")
        })
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, findings, doc)
}

fn codes(findings: &[(String, String, String)]) -> Vec<(&str, &str)> {
    findings
        .iter()
        .map(|(c, p, _)| (c.as_str(), p.as_str()))
        .collect()
}

#[test]
fn seal_lists_every_file_with_real_sizes_and_digests() {
    let (_tmp, dir) = mt_copy();
    let manifest = seal_json(&dir, &[]);
    // stdout is the manifest as written.
    let written: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ckdump-seal.json")).unwrap()).unwrap();
    assert_eq!(manifest, written);
    assert_eq!(manifest["schema"], "ckdump-seal/1");
    assert_eq!(manifest["algorithm"], "sha256");
    assert_eq!(manifest["sealed"], "directory");
    assert!(manifest.get("hmac").is_none());
    let files = manifest["files"].as_array().unwrap();
    let listed: Vec<(&str, u64)> = files
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, MT_FILES);
    // Every digest, computed here independently.
    for f in files {
        assert_eq!(f["type"], "file");
        let bytes = std::fs::read(dir.join(f["name"].as_str().unwrap())).unwrap();
        let digest = hex(&sha2::Sha256::digest(&bytes));
        assert_eq!(f["sha256"].as_str().unwrap(), digest, "{}", f["name"]);
    }
    let pages = files.iter().find(|f| f["name"] == "pages-1.img").unwrap();
    assert_eq!(pages["sha256"], MT_PAGES_SHA256);
    // And by sha256sum when the host has it.
    if let Ok(out) = std::process::Command::new("sha256sum")
        .arg(dir.join("pages-1.img"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(MT_PAGES_SHA256), "{text}");
    }
    assert_valid(&schema("seal.schema.json"), &manifest, "the seal manifest");

    // The untouched copy verifies, and the seal checks ran and passed.
    let (code, findings, doc) = verify(&dir, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(findings.is_empty(), "{findings:?}");
    let status = |c: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] == c)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("CKD-E6301"), "passed");
    assert_eq!(status("CKD-W6304"), "passed");
    // Resealing replaces the manifest and does not list it as a member.
    let again = seal_json(&dir, &[]);
    assert_eq!(again["files"].as_array().unwrap().len(), MT_FILES.len());
}

#[test]
fn an_unsealed_image_has_no_seal_checks() {
    let (_tmp, dir) = mt_copy();
    let (code, findings, doc) = verify(&dir, &[]);
    assert_eq!(code, 0);
    assert!(findings.is_empty());
    let c = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "CKD-E6301")
        .unwrap();
    assert_eq!(c["status"], "not_applicable");
}

#[test]
fn one_modified_byte_is_reported_with_its_file() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &[]);
    let path = dir.join("pages-1.img");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0x5123] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6301", "pages-1.img")]);
    let new_digest = hex(&sha2::Sha256::digest(&bytes));
    assert!(findings[0].2.contains(&new_digest), "{}", findings[0].2);
    assert!(findings[0].2.contains(MT_PAGES_SHA256), "{}", findings[0].2);
}

#[test]
fn a_size_change_is_its_own_finding() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &[]);
    let path = dir.join("dump.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, b"restore attempt\n").unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6302", "dump.log")]);
    assert_eq!(
        findings[0].2,
        "dump.log was 36308 bytes when sealed, now 36324"
    );
}

#[test]
fn deleted_and_added_files() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &[]);
    std::fs::remove_file(dir.join("seccomp.img")).unwrap();
    std::fs::write(dir.join("restore.log"), b"criu restore log\n").unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&findings),
        vec![("CKD-E6303", "seccomp.img"), ("CKD-W6304", "restore.log")]
    );
    assert_eq!(
        findings[1].2,
        "restore.log (17 bytes) was added after sealing"
    );
    // Only the addition: a warning, below the default --fail-on error.
    let (_tmp2, dir2) = mt_copy();
    seal_json(&dir2, &[]);
    std::fs::write(dir2.join("restore.log"), b"x").unwrap();
    let (code, findings, _) = verify(&dir2, &[]);
    assert_eq!(codes(&findings), vec![("CKD-W6304", "restore.log")]);
    assert_eq!(code, 0);
    let (code, _, _) = verify(&dir2, &["--fail-on", "warning"]);
    assert_eq!(code, 1);
}

#[test]
fn a_damaged_manifest_is_reported_not_trusted() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &[]);
    let manifest = dir.join("ckdump-seal.json");
    let text = std::fs::read_to_string(&manifest).unwrap();

    // Cut in half: not JSON.
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "CKD-E6305");
    assert!(findings[0].2.contains("not a seal"), "{}", findings[0].2);

    // A future version.
    std::fs::write(&manifest, text.replace("ckdump-seal/1", "ckdump-seal/9")).unwrap();
    let (_, findings, _) = verify(&dir, &[]);
    assert_eq!(findings[0].0, "CKD-E6305");
    assert!(findings[0].2.contains("ckdump-seal/9"), "{}", findings[0].2);

    // An edited digest (still well-formed): the file no longer matches it.
    let edited = text.replace(MT_PAGES_SHA256, &"0".repeat(64));
    assert_ne!(edited, text);
    std::fs::write(&manifest, &edited).unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6301", "pages-1.img")]);

    // A malformed digest.
    std::fs::write(&manifest, text.replace(MT_PAGES_SHA256, "xyz")).unwrap();
    let (_, findings, _) = verify(&dir, &[]);
    assert_eq!(findings[0].0, "CKD-E6305");
    assert!(findings[0].2.contains("pages-1.img"), "{}", findings[0].2);
}

#[test]
fn hmac_round_trip_with_key_file_and_env() {
    let (tmp, dir) = mt_copy();
    let key = tmp.path().join("seal.key");
    // `echo` leaves a newline; it is not part of the key.
    std::fs::write(&key, b"correct horse battery staple\n").unwrap();
    let manifest = seal_json(&dir, &["--key-file", p(&key)]);
    assert_eq!(manifest["hmac"]["algorithm"], "hmac-sha256");
    let value = manifest["hmac"]["value"].as_str().unwrap().to_string();
    assert_eq!(value.len(), 64);

    // Independently: HMAC-SHA256 over the manifest without `hmac`, compact,
    // members in file order — exactly what jq -cj 'del(.hmac)' prints.
    let text = std::fs::read_to_string(dir.join("ckdump-seal.json")).unwrap();
    let hmac_at = text.find(",\n  \"hmac\"").expect("hmac is the last member");
    let unsigned: Value = serde_json::from_str(&format!("{}\n}}", &text[..hmac_at])).unwrap();
    let files_compact = format!(
        "[{}]",
        unsigned["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!(
                "{{\"type\":{},\"name\":{},\"size\":{},\"sha256\":{}}}",
                f["type"], f["name"], f["size"], f["sha256"]
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let canonical = format!(
        "{{\"schema\":{},\"algorithm\":{},\"created\":{},\"tool\":{},\"sealed\":{},\"files\":{}}}",
        unsigned["schema"],
        unsigned["algorithm"],
        unsigned["created"],
        unsigned["tool"],
        unsigned["sealed"],
        files_compact
    );
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(b"correct horse battery staple").unwrap();
    mac.update(canonical.as_bytes());
    assert_eq!(hex(&mac.finalize().into_bytes()), value);
    // And with jq + openssl, when the host has them.
    let jq = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "jq -cj 'del(.hmac)' '{}' | openssl dgst -sha256 -hmac 'correct horse battery staple' -r",
            dir.join("ckdump-seal.json").display()
        ))
        .output();
    match jq {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            assert!(String::from_utf8_lossy(&out.stdout).starts_with(&value));
        }
        _ => eprintln!("notice: jq or openssl missing; the shell recipe is not checked"),
    }

    // Right key from a file and from the environment: clean.
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    let out = run_env(
        &[
            "verify",
            p(&dir),
            "--format",
            "json",
            "--key-env",
            "CKDUMP_TEST_KEY",
        ],
        "CKDUMP_TEST_KEY",
        "correct horse battery staple",
    );
    let (code, findings, _) = verify_output(out);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");

    // Wrong key.
    let out = run_env(
        &[
            "verify",
            p(&dir),
            "--format",
            "json",
            "--key-env",
            "CKDUMP_TEST_KEY",
        ],
        "CKDUMP_TEST_KEY",
        "battery staple",
    );
    let (code, findings, _) = verify_output(out);
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "CKD-E6306");

    // No key: the digests are checked, the HMAC is noted as unchecked.
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 0);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "CKD-N6308");

    // Someone edits a digest to hide a change and keeps the old HMAC.
    std::fs::write(
        dir.join("ckdump-seal.json"),
        text.replace(MT_PAGES_SHA256, &"1".repeat(64)),
    )
    .unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&findings),
        vec![
            ("CKD-E6306", findings[0].1.as_str()),
            ("CKD-E6301", "pages-1.img")
        ]
    );
    // ... or strips the HMAC: a key was given, so that is an error too.
    let stripped = format!("{}\n}}\n", &text[..hmac_at]);
    std::fs::write(dir.join("ckdump-seal.json"), stripped).unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "CKD-E6307");

    // A key that cannot be read is a usage error.
    let out = run(&["verify", p(&dir), "--key-env", "CKDUMP_TEST_KEY_UNSET_XYZ"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ckdump: environment variable CKDUMP_TEST_KEY_UNSET_XYZ is not set\n"
    );
}

#[test]
fn a_key_for_an_unsealed_image_is_an_error() {
    let (tmp, dir) = mt_copy();
    let key = tmp.path().join("k");
    std::fs::write(&key, b"k").unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "CKD-E6307");
}

#[test]
fn the_parent_link_is_recorded_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let images = root().join("testdata/criu/images");
    copy_dir(&images.join("static"), &tmp.path().join("static"));
    copy_dir(&images.join("static-incr"), &tmp.path().join("static-incr"));
    let incr = tmp.path().join("static-incr");
    let manifest = seal_json(&incr, &[]);
    let files = manifest["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "core-135.img",
            "dump.log",
            "fdinfo-2.img",
            "files.img",
            "fs-135.img",
            "ids-135.img",
            "inventory.img",
            "mm-135.img",
            "pagemap-135.img",
            "pages-1.img",
            "parent",
            "pstree.img",
            "seccomp.img",
            "stats-dump",
            "timens-0.img"
        ]
    );
    let parent = files.iter().find(|f| f["name"] == "parent").unwrap();
    assert_eq!(
        parent,
        &serde_json::json!({"type": "link", "name": "parent", "target": "../static"})
    );
    // The incremental dump's own pages file, not the parent's (69632 bytes).
    let pages = files.iter().find(|f| f["name"] == "pages-1.img").unwrap();
    assert_eq!(pages["size"], 20480);
    let (code, findings, _) = verify(&incr, &[]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    // A change in the parent snapshot is not this seal's business...
    std::fs::write(tmp.path().join("static/extra"), b"x").unwrap();
    let (_, findings, _) = verify(&incr, &[]);
    assert!(findings.is_empty(), "{findings:?}");
    // ... but re-pointing the link is.
    std::fs::remove_file(incr.join("parent")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", incr.join("parent")).unwrap();
    let (code, findings, _) = verify(&incr, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6301", "parent")]);
    assert_eq!(
        findings[0].2,
        "link parent pointed to ../static when sealed, now to ../elsewhere"
    );
}

#[test]
fn a_single_file_gets_a_sidecar_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let core = tmp.path().join("core.illegal.kernel");
    std::fs::copy(root().join("testdata/cores/core.illegal.kernel"), &core).unwrap();
    let size = std::fs::metadata(&core).unwrap().len();
    let manifest = seal_json(&core, &[]);
    assert_eq!(manifest["sealed"], "file");
    let digest = hex(&sha2::Sha256::digest(std::fs::read(&core).unwrap()));
    assert_eq!(
        manifest["files"],
        serde_json::json!([{"type": "file", "name": "core.illegal.kernel", "size": size, "sha256": digest}])
    );
    let sidecar = tmp.path().join("core.illegal.kernel.ckdump-seal.json");
    assert!(sidecar.is_file());
    let (code, findings, _) = verify(&core, &[]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    // One flipped byte deep in a memory segment: the core still opens.
    let mut bytes = std::fs::read(&core).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xff;
    std::fs::write(&core, &bytes).unwrap();
    let (code, findings, _) = verify(&core, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6301", "core.illegal.kernel")]);
}

#[test]
fn an_archive_is_sealed_as_one_file_and_a_broken_one_still_shows_the_seal() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("mt-checkpoint.tar.zst");
    std::fs::copy(
        root().join("testdata/criu/archive/mt-checkpoint.tar.zst"),
        &archive,
    )
    .unwrap();
    let manifest = seal_json(&archive, &[]);
    assert_eq!(manifest["sealed"], "file");
    assert_eq!(manifest["files"][0]["name"], "mt-checkpoint.tar.zst");
    let (code, findings, _) = verify(&archive, &[]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    // Cut to 100 bytes: the archive no longer opens (exit 2), and the seal
    // says why.
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..100]).unwrap();
    let out = run(&["verify", p(&archive), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, findings, doc) = verify_output(out);
    assert_eq!(
        codes(&findings),
        vec![("CKD-E6302", "mt-checkpoint.tar.zst")]
    );
    assert!(doc["image"].is_null());
}

#[test]
fn output_elsewhere_and_verify_with_seal() {
    let (tmp, dir) = mt_copy();
    let elsewhere = tmp.path().join("seals/mt.json");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    seal_json(&dir, &["--output", p(&elsewhere)]);
    assert!(elsewhere.is_file());
    assert!(!dir.join("ckdump-seal.json").exists());
    // Without --seal nothing is found...
    let (_, findings, _) = verify(&dir, &[]);
    assert!(findings.is_empty());
    // ... with it, the change is.
    std::fs::write(dir.join("dump.log"), b"").unwrap();
    let (code, findings, _) = verify(&dir, &["--seal", p(&elsewhere)]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6302", "dump.log")]);
    // A --seal that does not exist is an error naming it.
    let missing = tmp.path().join("nope.json");
    let out = run(&["verify", p(&dir), "--seal", p(&missing)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.json: no such file"));
}

#[test]
fn text_output_of_seal() {
    let (_tmp, dir) = mt_copy();
    let out = run(&["seal", p(&dir)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("sealed directory: 17 files, 190147 bytes hashed (SHA-256) in "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        format!("manifest: {}/ckdump-seal.json", dir.display())
    );
    assert!(text.contains(&format!("  {MT_PAGES_SHA256}        147456  pages-1.img\n")));
}
