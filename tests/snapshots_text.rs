//! The human reports, pinned: `inspect` and `verify` text of one committed
//! fixture of every format family (ELF core, minidump, CRIU image
//! directory, container checkpoint archive) and `diff` text of two
//! committed CRIU directories, compared with tests/snapshots/*.snap.
//!
//! Only committed files are read (testdata/, symbols/), never ../shared,
//! and every argument keeps the host out of the report: `--sysroot
//! testdata/sysroot` for the mapped files, `--symbols` directories of the
//! repository, `--no-host-symbols` where the command has it; paths are
//! relative to the repository root, the binary's working directory. So no
//! snapshot needs a redaction.
//!
//! A change of the text fails here; review it with `cargo insta review`
//! (or `INSTA_UPDATE=always cargo test --test snapshots_text` and read the
//! diff of tests/snapshots/) and commit the new snapshots with the change.

mod common;

/// Runs `ckdump ARGS` from the repository root, checks its exit code and
/// that it printed nothing on stderr, and pins its stdout as `name`.
fn pin(name: &str, args: &[&str], exit_code: i32) {
    let out = common::ckdump(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit_code),
        "ckdump {args:?}: {stderr}"
    );
    assert!(
        stderr.is_empty(),
        "ckdump {args:?} wrote to stderr: {stderr}"
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 report");
    insta::with_settings!({
        description => format!("ckdump {}", args.join(" ")),
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

const CORE: &str = "testdata/cores/core.threads.kernel.zst";

#[test]
fn elf_core_inspect() {
    pin(
        "elf_core_inspect",
        &[
            "inspect",
            CORE,
            "--sysroot",
            "testdata/sysroot",
            "--symbols",
            "symbols",
            "--no-host-symbols",
        ],
        0,
    );
}

#[test]
fn elf_core_verify() {
    pin(
        "elf_core_verify",
        &[
            "verify",
            CORE,
            "--sysroot",
            "testdata/sysroot",
            "--symbols",
            "symbols",
        ],
        0,
    );
}

/// A wine minidump with a PDB (inline frames) and modules without symbols.
const WINDOWS_MINIDUMP: &str = "testdata/windows/dumps/winline_selfdump_cv.dmp";

#[test]
fn windows_minidump_inspect() {
    pin(
        "windows_minidump_inspect",
        &[
            "inspect",
            WINDOWS_MINIDUMP,
            "--symbols",
            "symbols",
            "--no-host-symbols",
        ],
        0,
    );
}

#[test]
fn windows_minidump_verify() {
    pin(
        "windows_minidump_verify",
        &["verify", WINDOWS_MINIDUMP, "--symbols", "symbols"],
        0,
    );
}

/// minidump-writer's dump of testdata/bin/threads.
const LINUX_MINIDUMP: &str = "testdata/minidump/crash.dmp";

#[test]
fn linux_minidump_inspect() {
    pin(
        "linux_minidump_inspect",
        &[
            "inspect",
            LINUX_MINIDUMP,
            "--sysroot",
            "testdata/sysroot",
            "--symbols",
            "symbols",
            "--no-host-symbols",
        ],
        0,
    );
}

#[test]
fn linux_minidump_verify() {
    pin(
        "linux_minidump_verify",
        &[
            "verify",
            LINUX_MINIDUMP,
            "--sysroot",
            "testdata/sysroot",
            "--symbols",
            "symbols",
        ],
        0,
    );
}

/// `inspect` and `verify` of a CRIU image directory or archive, with the
/// fixtures' own binaries and the committed sysroot (without --sysroot,
/// verify would compare the mapped files with this host's).
fn checkpoint_args<'a>(command: &'a str, image: &'a str) -> Vec<&'a str> {
    let mut args = vec![
        command,
        image,
        "--symbols",
        "testdata/criu/bin",
        "--sysroot",
        "testdata/sysroot",
    ];
    if command == "inspect" {
        args.push("--no-host-symbols");
    }
    args
}

#[test]
fn criu_directory_inspect() {
    let args = checkpoint_args("inspect", "testdata/criu/images/mt");
    pin("criu_directory_inspect", &args, 0);
}

#[test]
fn criu_directory_verify() {
    let args = checkpoint_args("verify", "testdata/criu/images/mt");
    pin("criu_directory_verify", &args, 0);
}

/// The process tree fixture: five processes, one a zombie.
#[test]
fn criu_tree_inspect() {
    let args = checkpoint_args("inspect", "testdata/criu/images/tree");
    pin("criu_tree_inspect", &args, 0);
}

#[test]
fn criu_tree_verify() {
    let args = checkpoint_args("verify", "testdata/criu/images/tree");
    pin("criu_tree_verify", &args, 0);
}

const ARCHIVE: &str = "testdata/criu/archive/mt-checkpoint.tar.zst";

#[test]
fn checkpoint_archive_inspect() {
    let args = checkpoint_args("inspect", ARCHIVE);
    pin("checkpoint_archive_inspect", &args, 0);
}

#[test]
fn checkpoint_archive_verify() {
    let args = checkpoint_args("verify", ARCHIVE);
    pin("checkpoint_archive_verify", &args, 0);
}

/// A full dump and the incremental one taken after it; differences exit 1.
#[test]
fn criu_diff() {
    pin(
        "criu_diff",
        &[
            "diff",
            "testdata/criu/images/static",
            "testdata/criu/images/static-incr",
        ],
        1,
    );
}
