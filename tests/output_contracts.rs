//! What CI relies on in ckdump's output, run on the real fixtures through
//! the binary: SARIF and JUnit documents even when the image cannot be
//! read, SARIF URIs relative to a base with fingerprints stable across
//! runs, registers keyed by name in JSON, exit status 2 on a failed write
//! and a quiet end on a closed pipe, colour only where asked, and the
//! completion scripts and manual page generated from the CLI.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use common::*;

const CORE: &str = "testdata/cores/core.threads.kernel.zst";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ckdump"));
    c.current_dir(root())
        .env_remove("CKDUMP_SYMBOL_PATH")
        .env_remove("_NT_SYMBOL_PATH")
        .env_remove("NO_COLOR");
    c
}

/// The SARIF subset schema, with `format` checked (URIs must be URI
/// references: a space in a file name is percent-encoded).
fn sarif_validator() -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(root().join("tests/data/sarif-2.1.0-subset.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

/// `file:///…/` of the repository root, as the base URI is written.
fn root_uri() -> String {
    format!(
        "file://{}/",
        std::fs::canonicalize(root()).unwrap().display()
    )
}

/// (testcase count, failures, errors) attributes of the one testsuite and
/// the names of its test cases, with the type of each one's
/// `<error>`/`<failure>` and whether any case is skipped.
struct Junit {
    suite: (usize, usize, usize),
    cases: Vec<(String, Option<String>)>,
    skipped: bool,
}

fn parse_junit(xml: &str) -> Junit {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.attributes().flatten().find_map(|a| {
            (a.key.as_ref() == name).then(|| {
                a.normalized_value(quick_xml::XmlVersion::default())
                    .unwrap()
                    .into_owned()
            })
        })
    };
    let mut doc = Junit {
        suite: (0, 0, 0),
        cases: vec![],
        skipped: false,
    };
    let mut depth = 0i32;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let e = match &event {
            Event::Start(e) => {
                depth += 1;
                e.clone()
            }
            Event::Empty(e) => e.clone(),
            Event::End(_) => {
                depth -= 1;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.name().as_ref() {
            "testsuite" => {
                let n = |k| attr(&e, k).unwrap().parse().unwrap();
                doc.suite = (n("tests"), n("failures"), n("errors"));
            }
            "testcase" => doc.cases.push((attr(&e, "name").unwrap(), None)),
            "failure" | "error" => doc.cases.last_mut().unwrap().1 = attr(&e, "type"),
            "skipped" => doc.skipped = true,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    doc
}

#[test]
fn sarif_and_junit_are_written_when_the_image_cannot_be_read() {
    let v = sarif_validator();
    // A path that does not exist, and a real file that is no image.
    for (image, error) in [
        (
            "testdata/no such.core",
            "testdata/no such.core: no such file; check the path",
        ),
        (
            "testdata/gen.sh",
            "testdata/gen.sh: not a recognised dump format (first bytes 23 21 2f 75 73 72 2f 62); ckdump reads ELF core files and minidumps, optionally zstd/xz/bzip2/gzip-compressed, CRIU image directories, and container checkpoint archives (tar, tar.gz, tar.zst)",
        ),
    ] {
        let out = bin()
            .args(["verify", image, "--format", "sarif"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{image}");
        // Said once on stderr too.
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!("ckdump: {error}\n")
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_valid(&v, &doc, image);
        let run = &doc["runs"][0];
        let uri = image.replace(' ', "%20");
        let location = json!({ "uri": uri, "uriBaseId": "SRCROOT" });
        assert_eq!(
            run["invocations"],
            json!([{
                "executionSuccessful": false,
                "exitCode": 2,
                "toolExecutionNotifications": [{
                    "level": "error",
                    "message": { "text": error },
                    "locations": [{ "physicalLocation": { "artifactLocation": location } }]
                }]
            }]),
            "{image}"
        );
        assert_eq!(run["results"], json!([]));
        assert_eq!(run["artifacts"], json!([{ "location": location }]));
        assert_eq!(
            run["originalUriBaseIds"],
            json!({ "SRCROOT": { "uri": root_uri() } })
        );

        let out = bin()
            .args(["verify", image, "--format", "junit"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{image}");
        let xml = String::from_utf8(out.stdout).unwrap();
        let doc = parse_junit(&xml);
        assert_eq!(doc.suite, (1, 0, 1), "{xml}");
        assert_eq!(
            doc.cases,
            [(format!("open {image}"), Some("unreadable".to_string()))]
        );
        assert!(
            xml.contains(&format!("<error message=\"{error}\" type=\"unreadable\">")),
            "{xml}"
        );
    }
}

/// (ruleId, artifact URI, fingerprint) of every result of a SARIF run of
/// `verify CORE` from `cwd` with `extra` arguments.
fn sarif_results(cwd: &Path, image: &str, extra: &[&str]) -> (Value, Vec<(String, String)>) {
    let out = bin()
        .current_dir(cwd)
        .args(["verify", image, "--format", "sarif"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&sarif_validator(), &doc, "verify sarif");
    let results = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap().to_string(),
                r["partialFingerprints"]["ckdumpFinding/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    (doc, results)
}

#[test]
fn sarif_uris_are_relative_to_the_base_and_fingerprints_stable() {
    // From the repository root: relative to it.
    let (doc, first) = sarif_results(&root(), CORE, &[]);
    let run = &doc["runs"][0];
    assert_eq!(
        run["artifacts"],
        json!([{ "location": { "uri": CORE, "uriBaseId": "SRCROOT" } }])
    );
    assert_eq!(
        run["originalUriBaseIds"],
        json!({ "SRCROOT": { "uri": root_uri() } })
    );
    assert_eq!(run["invocations"], json!([{ "executionSuccessful": true }]));
    // Without --sysroot the executable the core maps is not on this host
    // (W3001, about that file); 10 of the 30 PT_LOADs hold no bytes (N1006).
    let codes: Vec<&str> = first.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["CKD-N1006", "CKD-W3001"]);
    let w3001 = &run["results"][1];
    assert_eq!(
        w3001["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "/tmp/ckdump-testdata/bin/threads"
    );
    // The fingerprint: the code, the image's URI and what the location
    // names, hashed (sha256, first 128 bits) — this value is what
    // dashboards have stored, so it must not change.
    assert_eq!(
        first[1].1, "5b6dbd22620df209f66b97a201d7721b:1",
        "{first:?}"
    );

    // From another directory, the image named by its absolute path and
    // the base given: the same URI, the same fingerprints.
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = root().join(CORE).display().to_string();
    let root_dir = root().display().to_string();
    let (doc, again) = sarif_results(elsewhere.path(), &absolute, &["--sarif-base", &root_dir]);
    assert_eq!(again, first);
    assert_eq!(
        doc["runs"][0]["artifacts"][0]["location"],
        json!({ "uri": CORE, "uriBaseId": "SRCROOT" })
    );

    // A base deeper in: the URI is relative to it.
    let (doc, _) = sarif_results(&root(), CORE, &["--sarif-base", "testdata/cores"]);
    assert_eq!(
        doc["runs"][0]["artifacts"][0]["location"],
        json!({ "uri": "core.threads.kernel.zst", "uriBaseId": "SRCROOT" })
    );
    // An image outside the base: an absolute file URI.
    let (doc, _) = sarif_results(&root(), CORE, &["--sarif-base", "testdata/sysroot"]);
    assert_eq!(
        doc["runs"][0]["artifacts"][0]["location"],
        json!({ "uri": format!("{}{CORE}", root_uri()) })
    );

    // A base that does not exist is an error that says what to pass.
    let out = bin()
        .args([
            "verify",
            CORE,
            "--format",
            "sarif",
            "--sarif-base",
            "no/such/dir",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "ckdump: --sarif-base no/such/dir: No such file or directory (os error 2); name an existing directory (the repository root)\n"
    );
}

#[test]
fn json_registers_are_an_object_keyed_by_name_in_order() {
    let out = bin()
        .args(["inspect", CORE, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "ckdump-inspect/2");
    assert_valid(&schema("inspect.schema.json"), &doc, "inspect json");
    let crashed = thread(&doc, 20353);
    // The values eu-readelf shows for the crashing thread (testdata/expected.json).
    let regs = &crashed["registers"];
    assert_eq!(regs["rip"], "0x55c743e5f35e");
    assert_eq!(regs["rsp"], "0x7ffdd6ecc010");
    assert_eq!(regs["rbp"], "0x7ffdd6ecc040");
    // Frame 0 holds every register too, keyed the same way.
    assert_eq!(crashed["frames"][0]["registers"]["rip"], "0x55c743e5f35e");
    // In the order x86_64's user_regs_struct lists them, as written.
    let start = text.find("\"registers\": {").unwrap();
    let block = &text[start..start + text[start..].find('}').unwrap()];
    let names: Vec<&str> = block
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().split('"').nth(1))
        .collect();
    assert_eq!(&names[..6], ["rax", "rbx", "rcx", "rdx", "rsi", "rdi"]);
}

/// Runs ckdump with stdout sent to `/dev/full`.
#[test]
fn a_failed_write_exits_2_with_one_line() {
    for args in [
        &["inspect", CORE][..],
        &["inspect", CORE, "--format", "json"],
        &["verify", CORE, "--format", "sarif"],
        &["completions", "bash"],
        &["verify", "--help"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = bin().args(args).stdout(full).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "ckdump: cannot write the output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // The reader is gone before ckdump writes a byte.
    for (args, code) in [
        (&["inspect", CORE][..], 0),
        (&["inspect", CORE, "--format", "json", "--regions"], 0),
        (&["verify", CORE, "--fail-on", "warning"], 1),
        (&["--help"], 0),
    ] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }

    // `| head -1`: the reader takes one line of a report larger than the
    // pipe's buffer, then closes.
    let mut child = bin()
        .args([
            "inspect",
            CORE,
            "--format",
            "json",
            "--regions",
            "--disasm",
            "8",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "{\n");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(stderr, "");
}

/// Runs ckdump with stdout on a new pseudo-terminal; returns what it
/// printed there.
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the out-pointers; the
    // name, termios and winsize arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors are open and owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = bin();
    cmd.args(args).env_remove("TERM").stdout(slave);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // The parent's copy of the slave went into the Command, dropped with
    // it: EOF (EIO on Linux) once the child exits.
    drop(cmd);
    let mut out = Vec::new();
    let mut master = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    child.wait().unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn colour_on_a_terminal_only_unless_asked() {
    const WARNING: &str = "\x1b[33mwarning\x1b[0m CKD-W3001 mapped-file-present  /tmp/ckdump-testdata/bin/threads is not on this host";
    const CRASH: &str = "\x1b[1;31mCrash: SIGSEGV";
    let verify = ["verify", CORE];
    let inspect = ["inspect", CORE];

    // auto: a terminal gets colour, unless NO_COLOR is set (and not empty).
    assert!(on_terminal(&verify, &[]).contains(WARNING));
    assert!(on_terminal(&inspect, &[]).contains(CRASH));
    let plain = on_terminal(&verify, &[("NO_COLOR", "1")]);
    assert!(
        !plain.contains('\x1b') && plain.contains("CKD-W3001"),
        "{plain}"
    );
    assert!(on_terminal(&verify, &[("NO_COLOR", "")]).contains(WARNING));
    assert!(!on_terminal(&verify, &[("TERM", "dumb")]).contains('\x1b'));
    // never: not even on a terminal.
    assert!(!on_terminal(&["verify", CORE, "--color", "never"], &[]).contains('\x1b'));

    // A pipe gets none by default; --color always colours it, NO_COLOR or
    // not (the flag is the user's explicit word).
    let piped = bin().args(verify).output().unwrap();
    assert!(!piped.stdout.contains(&0x1b));
    for env in [None, Some("1")] {
        let mut cmd = bin();
        cmd.args(["verify", CORE, "--color", "always"]);
        if let Some(v) = env {
            cmd.env("NO_COLOR", v);
        }
        let text = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        assert!(text.contains(WARNING), "{text}");
    }
    let text = String::from_utf8(
        bin()
            .args(["inspect", CORE, "--color", "always"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains(CRASH));
    // Machine formats never carry colour.
    let json = bin()
        .args(["inspect", CORE, "--color", "always", "--format", "json"])
        .output()
        .unwrap();
    assert!(!json.stdout.contains(&0x1b));
}

#[test]
fn completions_and_manual_page_come_from_the_cli() {
    let run = |args: &[&str]| {
        let out = bin().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("complete -F _ckdump"), "{bash}");
    // Every command and the flags added for CI are offered.
    for word in [
        "inspect",
        "verify",
        "seal",
        "diff",
        "--sarif-base",
        "--color",
        "--fail-on",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    // bash parses it.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ckdump.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourced, it completes `ckdump ver` to `verify`.
    let probe = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(ckdump ver); COMP_CWORD=1; COMP_LINE='ckdump ver'; COMP_POINT=10; _ckdump ckdump ver ckdump; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(probe.stdout).unwrap(), "verify\n");

    assert!(run(&["completions", "zsh"]).starts_with("#compdef ckdump\n"));
    let fish = run(&["completions", "fish"]);
    assert!(fish.contains("complete -c ckdump") && fish.contains("sarif-base"));

    let man = run(&["man"]);
    assert!(man.contains(".TH ckdump 1  \"ckdump 0.1.0\""), "{man}");
    // One page per command, written into a directory for `man` to find.
    let pages = dir.path().join("man1");
    let listed = run(&["man", "--dir", pages.to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ckdump-completions.1",
            "ckdump-diff.1",
            "ckdump-inspect.1",
            "ckdump-man.1",
            "ckdump-seal.1",
            "ckdump-snapshot.1",
            "ckdump-verify.1",
            "ckdump.1"
        ]
    );
    assert_eq!(listed.lines().count(), 8);
    let verify = std::fs::read_to_string(pages.join("ckdump-verify.1")).unwrap();
    assert_eq!(verify, run(&["man", "verify"]));
    assert!(verify.contains(".TH ckdump-verify 1"), "{verify}");
    assert!(verify.contains("\\fB\\-\\-sarif\\-base\\fR"), "{verify}");
    let out = bin().args(["man", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "ckdump: no command `nosuch`; `ckdump man` takes one of: inspect, verify, snapshot, seal, diff, completions, man\n"
    );
    // man renders them.
    if let Some(tool) = require_tool("man") {
        let render = |page: &str| {
            let out = Command::new(&tool)
                .args(["-l", "-P", "cat"])
                .arg(pages.join(page))
                .env("MANWIDTH", "100")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Justified text: words joined by one space.
            String::from_utf8(out.stdout)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let text = render("ckdump.1");
        assert!(
            text.contains("ckdump - Open, inspect and verify saved process state"),
            "{text}"
        );
        assert!(text.contains("ckdump-completions(1)"), "{text}");
        let text = render("ckdump-verify.1");
        assert!(text.contains("--sarif-base <DIR>"), "{text}");
    }
}
