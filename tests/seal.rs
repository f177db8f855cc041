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
    assert_eq!(manifest["schema"], "ckdump-seal/2");
    assert_eq!(manifest["algorithm"], "sha256");
    // The default chunk (4 MiB) is larger than every fixture file: no
    // chunk lists, whole-file digests only.
    assert_eq!(manifest["chunk_size"], 4 << 20);
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
        assert!(f.get("chunks").is_none(), "{f}");
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
    std::fs::write(&manifest, text.replace("ckdump-seal/2", "ckdump-seal/9")).unwrap();
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
    // 4 KiB chunks: pages-1.img and dump.log get chunk lists, which the
    // HMAC must cover like every other member.
    let manifest = seal_json(&dir, &["--key-file", p(&key), "--chunk-size", "4K"]);
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
                "{{\"type\":{},\"name\":{},\"size\":{},\"sha256\":{}{}}}",
                f["type"],
                f["name"],
                f["size"],
                f["sha256"],
                match f.get("chunks") {
                    Some(c) => format!(",\"chunks\":{c}"),
                    None => String::new(),
                }
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        unsigned["files"][12]["chunks"].as_array().unwrap().len(),
        36
    );
    let canonical = format!(
        "{{\"schema\":{},\"algorithm\":{},\"chunk_size\":{},\"created\":{},\"tool\":{},\"sealed\":{},\"files\":{}}}",
        unsigned["schema"],
        unsigned["algorithm"],
        unsigned["chunk_size"],
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
        _ => skip("jq or openssl is missing, so the shell recipe is not checked"),
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

    // Someone edits a chunk digest of pages-1.img to hide a change there
    // and keeps the old HMAC: the HMAC no longer matches, and the chunk no
    // longer matches its (new) digest either.
    let pages_at = text.find("\"name\": \"pages-1.img\"").unwrap();
    let chunks = unsigned["files"][12]["chunks"].as_array().unwrap();
    // A digest found once in the file (zero pages share theirs).
    let (i, unique) = chunks
        .iter()
        .map(|c| c.as_str().unwrap())
        .enumerate()
        .find(|(_, c)| text.matches(c).count() == 1)
        .unwrap();
    let at = pages_at + text[pages_at..].find(unique).unwrap();
    let edited = format!("{}{}{}", &text[..at], "1".repeat(64), &text[at + 64..]);
    std::fs::write(dir.join("ckdump-seal.json"), &edited).unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&findings),
        vec![
            ("CKD-E6306", findings[0].1.as_str()),
            ("CKD-E6301", "pages-1.img")
        ]
    );
    let range = format!(
        "pages-1.img bytes {:#x}..{:#x} changed since sealing (chunk {i} of 0-35, 4 KiB each): pid 134: 1 page at ",
        i * 4096,
        (i + 1) * 4096
    );
    assert!(findings[1].2.starts_with(&range), "{}", findings[1].2);
    // Without the key the chunk is still caught, and the HMAC noted.
    let (_, findings, _) = verify(&dir, &[]);
    assert_eq!(
        codes(&findings),
        vec![
            ("CKD-N6308", findings[0].1.as_str()),
            ("CKD-E6301", "pages-1.img")
        ]
    );
    // The whole-file digest of a chunked file is not recomputed (the chunks
    // cover every byte): an edit of it alone is the HMAC's to catch.
    std::fs::write(
        dir.join("ckdump-seal.json"),
        text.replace(MT_PAGES_SHA256, &"1".repeat(64)),
    )
    .unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&findings),
        vec![("CKD-E6306", findings[0].1.as_str())]
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

// --- chunk digests (ckdump-seal/2) ---

/// Reads a `crit show` JSON of the mt fixture.
fn crit_json(name: &str) -> Value {
    let path = root().join("testdata/criu/reference/mt").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The address whose byte sits at `offset` of pages-1.img, by crit's
/// decoding of pagemap-134.img: present entries' pages follow one another
/// in the pages file, in pagemap order.
fn address_in_pages_file(offset: u64) -> u64 {
    let pagemap = crit_json("pagemap-134.json");
    let entries = pagemap["entries"].as_array().unwrap();
    assert_eq!(entries[0]["pages_id"], 1);
    let mut at = 0u64;
    for e in &entries[1..] {
        assert!(e["flags"].as_str().unwrap().contains("PE_PRESENT"));
        let len = e["nr_pages"].as_u64().unwrap() * 4096;
        if offset < at + len {
            return hex_u64(&e["vaddr"]) + (offset - at);
        }
        at += len;
    }
    panic!("{offset:#x} is past the pages the pagemap lists ({at:#x})");
}

/// The VMA of mm-134.img (crit) holding `address`: (start, end, status).
fn vma_of(address: u64) -> (u64, u64, String) {
    let mm = crit_json("mm-134.json");
    mm["entries"][0]["vmas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                hex_u64(&v["start"]),
                hex_u64(&v["end"]),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .find(|(s, e, _)| (*s..*e).contains(&address))
        .unwrap()
}

/// (code, path, message, offset, address) of the seal findings.
type Located = (String, String, String, Option<u64>, Option<String>);

fn verify_located(path: &Path) -> (i32, Vec<Located>) {
    let (code, _, doc) = verify(path, &[]);
    let found = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap()[5..].starts_with("63"))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap().to_string(),
                f["location"]["offset"].as_u64(),
                f["location"]["address"].as_str().map(String::from),
            )
        })
        .collect();
    (code, found)
}

fn flip(path: &Path, offsets: &[usize]) {
    let mut bytes = std::fs::read(path).unwrap();
    for &at in offsets {
        bytes[at] ^= 0x01;
    }
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn chunk_digests_are_those_of_each_dd_block() {
    let (_tmp, dir) = mt_copy();
    let manifest = seal_json(&dir, &["--chunk-size", "4K"]);
    assert_eq!(manifest["schema"], "ckdump-seal/2");
    assert_eq!(manifest["chunk_size"], 4096);
    assert_valid(&schema("seal.schema.json"), &manifest, "a chunked manifest");
    let files = manifest["files"].as_array().unwrap();
    // Chunk lists exactly for the files larger than a chunk.
    let chunked: Vec<(&str, usize)> = files
        .iter()
        .filter_map(|f| Some((f["name"].as_str()?, f.get("chunks")?.as_array()?.len())))
        .collect();
    assert_eq!(chunked, [("dump.log", 9), ("pages-1.img", 36)]);
    for (name, count) in chunked {
        let f = files.iter().find(|f| f["name"] == name).unwrap();
        let bytes = std::fs::read(dir.join(name)).unwrap();
        // The whole-file digest is still there, as sha256sum gives it.
        assert_eq!(f["sha256"], hex(&sha2::Sha256::digest(&bytes)));
        let chunks = f["chunks"].as_array().unwrap();
        for (i, block) in bytes.chunks(4096).enumerate() {
            assert_eq!(chunks[i], hex(&sha2::Sha256::digest(block)), "{name} #{i}");
        }
        assert_eq!(bytes.chunks(4096).count(), count);
        // dd | sha256sum of each block (dump.log's last one is 3540 bytes).
        for (i, digest) in chunks.iter().enumerate() {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "dd if='{}' bs=4096 skip={i} count=1 status=none | sha256sum",
                    dir.join(name).display()
                ))
                .output();
            match out {
                Ok(o) if o.status.success() && o.stdout.len() >= 64 => {
                    assert_eq!(
                        digest.as_str().unwrap(),
                        std::str::from_utf8(&o.stdout[..64]).unwrap(),
                        "{name} block {i}"
                    );
                }
                _ => {
                    skip("dd or sha256sum is missing; chunk digests checked in-process only");
                    break;
                }
            }
        }
    }
    let pages = files.iter().find(|f| f["name"] == "pages-1.img").unwrap();
    assert_eq!(pages["sha256"], MT_PAGES_SHA256);
    // `sha256sum` of the first page of pages-1.img (the mt binary's first
    // code page, 0x562b3e19e000).
    assert_eq!(
        pages["chunks"][0],
        hex(&sha2::Sha256::digest(
            &std::fs::read(dir.join("pages-1.img")).unwrap()[..4096]
        ))
    );
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");

    // 64 KiB: 147456 bytes make 3 chunks, the last of 16384; dump.log
    // (36308 bytes) fits one chunk and has none.
    let manifest = seal_json(&dir, &["--chunk-size", "64KiB"]);
    assert_eq!(manifest["chunk_size"], 65536);
    let files = manifest["files"].as_array().unwrap();
    let pages = files.iter().find(|f| f["name"] == "pages-1.img").unwrap();
    let bytes = std::fs::read(dir.join("pages-1.img")).unwrap();
    let want: Vec<Value> = bytes
        .chunks(65536)
        .map(|c| Value::from(hex(&sha2::Sha256::digest(c))))
        .collect();
    assert_eq!(pages["chunks"].as_array().unwrap(), &want);
    assert_eq!(want.len(), 3);
    let log = files.iter().find(|f| f["name"] == "dump.log").unwrap();
    assert!(log.get("chunks").is_none());
    assert_valid(&schema("seal.schema.json"), &manifest, "a 64K manifest");
}

#[test]
fn a_flipped_heap_byte_names_its_chunk_page_and_vma() {
    // The heap marker mt.c allocates: `ckdump-criu-heap-marker` at the
    // address the program printed (expected.json, from its ready line).
    let expected: Value =
        serde_json::from_slice(&std::fs::read(root().join("testdata/criu/expected.json")).unwrap())
            .unwrap();
    let marker = &expected["fixtures"]["mt"]["program"]["heap_marker"];
    let marker_addr = hex_u64(&marker["addr"]);
    assert_eq!(marker_addr, 0x562b_606c_82a0);
    // Its offset in pages-1.img, and the bytes there, prove the mapping
    // the test expects independently of ckdump.
    let offset = 0x32a0u64;
    assert_eq!(address_in_pages_file(offset), marker_addr);
    let (_tmp, dir) = mt_copy();
    let pages = std::fs::read(dir.join("pages-1.img")).unwrap();
    let tag = marker["tag"].as_str().unwrap();
    assert_eq!(&pages[offset as usize..][..tag.len()], tag.as_bytes());
    let page = marker_addr & !0xfff;
    let (vma_start, vma_end, status) = vma_of(page);
    assert_eq!((vma_start, vma_end), (0x562b_606c_8000, 0x562b_606e_9000));
    assert!(status.contains("VMA_AREA_HEAP"), "{status}");

    seal_json(&dir, &["--chunk-size", "4K"]);
    flip(&dir.join("pages-1.img"), &[offset as usize]);
    let (code, found) = verify_located(&dir);
    assert_eq!(code, 1);
    let message = format!(
        "pages-1.img bytes 0x3000..0x4000 changed since sealing (chunk 3 of 0-35, 4 KiB each): \
         pid 134: 1 page at {page:#x}..{:#x} of VMA {vma_start:#x}-{vma_end:#x} rw-p [heap]",
        page + 0x1000
    );
    assert_eq!(
        message,
        "pages-1.img bytes 0x3000..0x4000 changed since sealing (chunk 3 of 0-35, 4 KiB each): \
         pid 134: 1 page at 0x562b606c8000..0x562b606c9000 of VMA 0x562b606c8000-0x562b606e9000 rw-p [heap]"
    );
    assert_eq!(
        found,
        vec![(
            "CKD-E6301".to_string(),
            "pages-1.img".to_string(),
            message.clone(),
            Some(0x3000),
            Some("0x562b606c8000".to_string())
        )]
    );
    // The text report says the same.
    let out = run(&["verify", p(&dir)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "error   CKD-E6301 sealed-file-modified  {message} (offset 0x3000, address 0x562b606c8000)\n"
        )),
        "{text}"
    );

    // 8 KiB chunks: chunk 1 also holds the page before, the program's
    // writable data (the last page of the pagemap's second entry).
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &["--chunk-size", "8K"]);
    flip(&dir.join("pages-1.img"), &[offset as usize]);
    let data = address_in_pages_file(0x2000);
    assert_eq!(data, 0x562b_3e1a_1000);
    assert_eq!(
        vma_of(data).0..vma_of(data).1,
        0x562b_3e1a_1000..0x562b_3e1a_2000
    );
    let (_, found) = verify_located(&dir);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].2,
        "pages-1.img bytes 0x2000..0x4000 changed since sealing (chunk 1 of 0-17, 8 KiB each): \
         pid 134: 1 page at 0x562b3e1a1000..0x562b3e1a2000 of VMA 0x562b3e1a1000-0x562b3e1a2000 rw-p /opt/ckdump/mt, \
         1 page at 0x562b606c8000..0x562b606c9000 of VMA 0x562b606c8000-0x562b606e9000 rw-p [heap]"
    );
    assert_eq!(found[0].4.as_deref(), Some("0x562b3e1a1000"));
}

#[test]
fn neighbouring_changed_chunks_are_one_range_and_others_their_own() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &["--chunk-size", "4K"]);
    // Pages 5 and 6 (a worker's stack: pagemap entry 4, two pages at
    // 0x7fec87790000) and the last page (entry 15, [vdso]'s neighbour).
    flip(&dir.join("pages-1.img"), &[0x5010, 0x6ff0, 0x23008]);
    assert_eq!(address_in_pages_file(0x5000), 0x7fec_8779_0000);
    assert_eq!(vma_of(0x7fec_8779_0000).0, 0x7fec_8778_2000);
    let last = address_in_pages_file(0x23000);
    assert_eq!(last, 0x7ffd_e8de_6000);
    assert_eq!(
        (vma_of(last).0, vma_of(last).1),
        (0x7ffd_e8de_5000, 0x7ffd_e8de_7000)
    );
    let (code, found) = verify_located(&dir);
    assert_eq!(code, 1);
    let messages: Vec<&str> = found.iter().map(|f| f.2.as_str()).collect();
    assert_eq!(
        messages,
        [
            "pages-1.img bytes 0x5000..0x7000 changed since sealing (chunks 5-6 of 0-35, 4 KiB each): \
             pid 134: 2 pages at 0x7fec87790000..0x7fec87792000 of VMA 0x7fec87782000-0x7fec87792000 rw-p (anonymous)",
            "pages-1.img bytes 0x23000..0x24000 changed since sealing (chunk 35 of 0-35, 4 KiB each): \
             pid 134: 1 page at 0x7ffde8de6000..0x7ffde8de7000 of VMA 0x7ffde8de5000-0x7ffde8de7000 r-xp [vdso]",
        ]
    );
    // A changed pagemap makes the addresses questionable: said so.
    flip(&dir.join("pagemap-134.img"), &[200]);
    let (_, found) = verify_located(&dir);
    let codes: Vec<(&str, &str)> = found.iter().map(|f| (f.0.as_str(), f.1.as_str())).collect();
    assert_eq!(
        codes,
        [
            ("CKD-E6301", "pagemap-134.img"),
            ("CKD-E6301", "pages-1.img"),
            ("CKD-E6301", "pages-1.img")
        ]
    );
    assert!(
        found[1]
            .2
            .ends_with(" (addresses read from pagemap-134.img as it is now, which changed too)"),
        "{}",
        found[1].2
    );
}

#[test]
fn pages_of_one_vma_stored_apart_are_one_piece() {
    // Pages 20 and 21 of pages-1.img are pagemap entries 10 (1 page at
    // 0x7fec8798e000) and 11 (from 0x7fec87992000): both in libc's bss
    // mapping 0x7fec8798e000-0x7fec8799d000, three pages apart.
    assert_eq!(address_in_pages_file(0x14000), 0x7fec_8798_e000);
    assert_eq!(address_in_pages_file(0x15000), 0x7fec_8799_2000);
    let vma = vma_of(0x7fec_8798_e000);
    let other = vma_of(0x7fec_8799_2000);
    assert_eq!((vma.0, vma.1), (other.0, other.1));
    assert_eq!((vma.0, vma.1), (0x7fec_8798_e000, 0x7fec_8799_d000));
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &["--chunk-size", "8K"]);
    flip(&dir.join("pages-1.img"), &[0x15ff0]);
    let (_, found) = verify_located(&dir);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].2,
        "pages-1.img bytes 0x14000..0x16000 changed since sealing (chunk 10 of 0-17, 8 KiB each): \
         pid 134: 2 pages in 2 runs within 0x7fec8798e000..0x7fec87993000 of VMA 0x7fec8798e000-0x7fec8799d000 rw-p (anonymous)"
    );
}

#[test]
fn a_size_change_of_a_chunked_file_is_still_e6302() {
    let (_tmp, dir) = mt_copy();
    seal_json(&dir, &["--chunk-size", "4K"]);
    let path = dir.join("pages-1.img");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 4096]).unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6302", "pages-1.img")]);
    assert_eq!(
        findings[0].2,
        "pages-1.img was 147456 bytes when sealed, now 143360"
    );
}

#[test]
fn a_manifest_of_the_previous_version_still_verifies() {
    // tests/data/seal-v1-mt.json: written by ckdump before chunk digests
    // (`ckdump seal` of testdata/criu/images/mt, key "correct horse battery
    // staple"): ckdump-seal/1, whole-file digests only, with an HMAC.
    let (tmp, dir) = mt_copy();
    let old = std::fs::read_to_string(root().join("tests/data/seal-v1-mt.json")).unwrap();
    assert!(old.contains("\"schema\": \"ckdump-seal/1\""));
    assert!(!old.contains("chunk"));
    assert_valid(
        &schema("seal.schema.json"),
        &serde_json::from_str(&old).unwrap(),
        "the /1 manifest",
    );
    std::fs::write(dir.join("ckdump-seal.json"), &old).unwrap();
    let key = tmp.path().join("key");
    std::fs::write(&key, b"correct horse battery staple\n").unwrap();
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!((code, findings.len()), (0, 0), "{findings:?}");
    // A changed byte: found by the whole-file digest, as before.
    flip(&dir.join("pages-1.img"), &[0x5123]);
    let (code, findings, _) = verify(&dir, &["--key-file", p(&key)]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), vec![("CKD-E6301", "pages-1.img")]);
    assert!(
        findings[0]
            .2
            .ends_with(&format!("sealed {MT_PAGES_SHA256}")),
        "{}",
        findings[0].2
    );
    // A /1 manifest cannot carry chunk members.
    let with_size = old.replace(
        "\"algorithm\": \"sha256\",",
        "\"algorithm\": \"sha256\",\n  \"chunk_size\": 4096,",
    );
    std::fs::write(dir.join("ckdump-seal.json"), with_size).unwrap();
    let (_, findings, _) = verify(&dir, &[]);
    assert_eq!(codes(&findings)[0].0, "CKD-E6305");
    assert!(
        findings[0]
            .2
            .ends_with("a ckdump-seal/1 manifest has a chunk_size, which only ckdump-seal/2 has"),
        "{}",
        findings[0].2
    );
}

#[test]
fn malformed_chunk_lists_are_e6305_never_a_panic() {
    let (_tmp, dir) = mt_copy();
    let sealed = seal_json(&dir, &["--chunk-size", "4K"]);
    let pages_index = sealed["files"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f["name"] == "pages-1.img")
        .unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "one digest short",
            Box::new(move |m| {
                m["files"][pages_index]["chunks"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            "\"pages-1.img\" (147456 bytes) lists 35 chunk digests; chunks of 4096 bytes make 36",
        ),
        (
            "one digest too many",
            Box::new(move |m| {
                m["files"][pages_index]["chunks"]
                    .as_array_mut()
                    .unwrap()
                    .push(Value::from("0".repeat(64)));
            }),
            "\"pages-1.img\" (147456 bytes) lists 37 chunk digests; chunks of 4096 bytes make 36",
        ),
        (
            "upper-case hex",
            Box::new(move |m| {
                let d = m["files"][pages_index]["chunks"][4]
                    .as_str()
                    .unwrap()
                    .to_uppercase();
                m["files"][pages_index]["chunks"][4] = Value::from(d);
            }),
            "chunk 4 of \"pages-1.img\" is not 64 lower-case hex digits",
        ),
        (
            "not hex",
            Box::new(move |m| {
                m["files"][pages_index]["chunks"][35] = Value::from("zz".repeat(32));
            }),
            "chunk 35 of \"pages-1.img\" is not 64 lower-case hex digits",
        ),
        (
            "a short digest",
            Box::new(move |m| {
                m["files"][pages_index]["chunks"][0] = Value::from("ab");
            }),
            "chunk 0 of \"pages-1.img\" is not 64 lower-case hex digits",
        ),
        (
            "no chunk list on a file larger than a chunk",
            Box::new(move |m| {
                m["files"][pages_index]
                    .as_object_mut()
                    .unwrap()
                    .remove("chunks");
            }),
            "\"pages-1.img\" (147456 bytes) has no chunk digests; chunks of 4096 bytes make 36",
        ),
        (
            "chunks on a file of one chunk",
            Box::new(|m| {
                m["files"][0]["chunks"] = serde_json::json!(["0".repeat(64), "1".repeat(64)]);
            }),
            "\"core-134.img\" (1842 bytes) lists 2 chunk digests; chunks of 4096 bytes make 0",
        ),
        (
            "no chunk_size",
            Box::new(|m| {
                m.as_object_mut().unwrap().remove("chunk_size");
            }),
            "a ckdump-seal/2 manifest lacks its chunk_size",
        ),
        (
            "a chunk size that is no power of two",
            Box::new(|m| m["chunk_size"] = Value::from(3000)),
            "chunk_size 3000 is not a power of two from 4096 to 67108864",
        ),
        (
            "a zero chunk size",
            Box::new(|m| m["chunk_size"] = Value::from(0)),
            "chunk_size 0 is not a power of two from 4096 to 67108864",
        ),
        (
            "a huge chunk size",
            Box::new(|m| m["chunk_size"] = Value::from(u64::MAX)),
            "chunk_size 18446744073709551615 is not a power of two from 4096 to 67108864",
        ),
        (
            "a negative chunk size",
            Box::new(|m| m["chunk_size"] = Value::from(-4096)),
            "not a seal: invalid value: integer `-4096`, expected u64",
        ),
        (
            "chunks that are not a list",
            Box::new(move |m| m["files"][pages_index]["chunks"] = Value::from("abc")),
            "not a seal: invalid type: string \"abc\", expected a sequence",
        ),
        (
            "chunks that are numbers",
            Box::new(move |m| m["files"][pages_index]["chunks"] = serde_json::json!([1, 2])),
            "not a seal: invalid type: integer `1`, expected a string",
        ),
    ];
    let manifest = dir.join("ckdump-seal.json");
    for (what, edit, why) in cases {
        let mut m = sealed.clone();
        edit(&mut m);
        std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        let (code, findings, _) = verify(&dir, &[]);
        assert_eq!(code, 1, "{what}");
        assert_eq!(findings.len(), 1, "{what}: {findings:?}");
        assert_eq!(findings[0].0, "CKD-E6305", "{what}");
        assert!(
            findings[0].2.contains(why),
            "{what}: {:?} does not say {why:?}",
            findings[0].2
        );
    }
}

#[test]
fn chunk_size_option_is_checked() {
    let (_tmp, dir) = mt_copy();
    for bad in ["3000", "128M", "2K", "4G", "4X", "M", ""] {
        let out = run(&["seal", p(&dir), "--chunk-size", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--chunk-size"), "{bad}: {err}");
        assert!(!dir.join("ckdump-seal.json").exists());
    }
    for (good, bytes) in [
        ("4096", 4096),
        ("8k", 8192),
        ("1M", 1 << 20),
        ("64MiB", 64 << 20),
    ] {
        let m = seal_json(&dir, &["--chunk-size", good]);
        assert_eq!(m["chunk_size"], bytes, "{good}");
    }
}

#[test]
fn a_core_sealed_as_one_file_names_the_segment_hit() {
    // `readelf -lW testdata/cores/core.illegal.kernel`: the PT_LOAD at file
    // offset 0x2b000, 0x21000 bytes, is the stack at 0x7ffee1e8b000 (RW);
    // `eu-readelf -n`: NT_PRSTATUS pid 20385.
    let tmp = tempfile::tempdir().unwrap();
    let core = tmp.path().join("core.illegal.kernel");
    std::fs::copy(root().join("testdata/cores/core.illegal.kernel"), &core).unwrap();
    let manifest = seal_json(&core, &["--chunk-size", "4K"]);
    assert_eq!(
        manifest["files"][0]["chunks"].as_array().unwrap().len(),
        315392 / 4096
    );
    flip(&core, &[0x4b123]);
    let (code, found) = verify_located(&core);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].2,
        "core.illegal.kernel bytes 0x4b000..0x4c000 changed since sealing (chunk 75 of 0-76, 4 KiB each): \
         pid 20385: 1 page at 0x7ffee1eab000..0x7ffee1eac000 of VMA 0x7ffee1e8b000-0x7ffee1eac000 rw-p (anonymous)"
    );
    assert_eq!(found[0].3, Some(0x4b000));
    // Headers and notes hold no memory.
    flip(&core, &[0x4b123, 0x600]);
    let (_, found) = verify_located(&core);
    assert_eq!(
        found[0].2,
        "core.illegal.kernel bytes 0x0..0x1000 changed since sealing (chunk 0 of 0-76, 4 KiB each): \
         no memory of pid 20385 is stored there"
    );
}

#[test]
fn a_changed_chunk_of_an_archive_is_named_by_its_bytes_only() {
    // An archive records no file offsets for memory (its pages are inside
    // a compressed tar member): the range, and nothing made up about it.
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("mt-checkpoint.tar.zst");
    std::fs::copy(
        root().join("testdata/criu/archive/mt-checkpoint.tar.zst"),
        &archive,
    )
    .unwrap();
    let size = std::fs::metadata(&archive).unwrap().len();
    let manifest = seal_json(&archive, &["--chunk-size", "4K"]);
    let chunks = size.div_ceil(4096);
    assert_eq!(
        manifest["files"][0]["chunks"].as_array().unwrap().len() as u64,
        chunks
    );
    flip(&archive, &[0x2345]);
    let out = run(&["verify", p(&archive), "--format", "json"]);
    let (_, findings, _) = verify_output(out);
    assert_eq!(
        findings,
        vec![(
            "CKD-E6301".to_string(),
            "mt-checkpoint.tar.zst".to_string(),
            format!(
                "mt-checkpoint.tar.zst bytes 0x2000..0x3000 changed since sealing (chunk 2 of 0-{}, 4 KiB each)",
                chunks - 1
            )
        )]
    );
}

#[test]
fn damage_in_a_childs_pages_file_names_the_child() {
    // The tree fixture's child (pid 140) keeps its pages in pages-2.img;
    // its g_role ("ckdump-role-child", address from the program's ready
    // line) is the file's page 2 (crit's pagemap-140: runs of 1 and 2
    // pages before it).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tree");
    copy_dir(&root().join("testdata/criu/images/tree"), &dir);
    let role = tree_ready_address("g_role");
    let out = run(&["seal", p(&dir), "--chunk-size", "4K"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages = dir.join("pages-2.img");
    let mut bytes = std::fs::read(&pages).unwrap();
    let at = 2 * 4096 + (role & 0xfff) as usize;
    assert_eq!(&bytes[at..at + 17], b"ckdump-role-child");
    bytes[at + 12] ^= 0x20;
    std::fs::write(&pages, bytes).unwrap();
    let (code, findings, _) = verify(&dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&findings), [("CKD-E6301", "pages-2.img")]);
    let page = role & !0xfff;
    assert_eq!(
        findings[0].2,
        format!(
            "pages-2.img bytes 0x2000..0x3000 changed since sealing (chunk 2 of 0-30, 4 KiB each): \
             pid 140: 1 page at {page:#x}..{:#x} of VMA {page:#x}-{:#x} rw-p /opt/ckdump/tree",
            page + 0x1000,
            page + 0x1000
        )
    );
}
