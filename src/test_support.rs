//! Helpers for unit tests that need something outside the repository
//! (the generated cores in `../shared`). Like `tests/common` does for the
//! integration tests: a missing fixture prints a notice and the test
//! returns early in a user's clone, but fails when
//! `CKDUMP_REQUIRE_FIXTURES=1` is set (CI sets it), so CI cannot pass by
//! skipping.

use std::path::{Path, PathBuf};

/// The variable that turns every skip into a failure.
pub const REQUIRE_FIXTURES: &str = "CKDUMP_REQUIRE_FIXTURES";

/// Whether `CKDUMP_REQUIRE_FIXTURES=1` is set.
pub fn fixtures_required() -> bool {
    std::env::var_os(REQUIRE_FIXTURES).is_some_and(|v| v == "1")
}

/// The one way a unit test gives up for want of a fixture: prints a
/// notice naming `what` (the caller then returns early), or panics with it
/// when `CKDUMP_REQUIRE_FIXTURES=1`.
#[track_caller]
pub fn skip(what: &str) {
    skip_or_fail(what, fixtures_required());
}

#[track_caller]
fn skip_or_fail(what: &str, required: bool) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if required {
        panic!("{test}: {what}, and {REQUIRE_FIXTURES}=1 forbids skipping");
    }
    // Written to the stderr handle, not with eprintln!, which the test
    // harness captures and hides for a passing test.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "notice: {test} skipped: {what} (set {REQUIRE_FIXTURES}=1 to make this a failure)"
    );
}

/// `path`, or None after [`skip`] when it does not exist.
#[track_caller]
pub fn require_path(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        Some(path.to_path_buf())
    } else {
        skip(&format!("{} is absent", path.display()));
        None
    }
}

/// `../shared/REL` beside the repository, or None after [`skip`] when it
/// is absent.
#[track_caller]
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    require_path(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared")
            .join(rel),
    )
}

mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "forbids skipping")]
    fn a_required_fixture_that_is_missing_fails_the_test() {
        skip_or_fail("../shared/nothing is absent", true);
    }

    #[test]
    fn a_missing_fixture_only_prints_a_notice_when_not_required() {
        skip_or_fail("../shared/nothing is absent", false);
    }
}
