//! Tests that need a program from outside Rust (chromium, node, npm): find it, or
//! skip the test loudly, or, under CI, fail.
//!
//! The README promises that `cargo test --workspace --all-features` passes on a
//! fresh machine with Rust only. A test whose program is missing there passes
//! after printing `SKIPPED: <test>: <why>` on stderr, written past the test
//! harness's capture (which keeps `eprintln!` of a passing test) so that
//! `cargo test` shows it. With the `CI` variable set (to anything but empty, `0` or
//! `false`; `.ci/run` sets it and installs the programs), a missing program fails
//! the test instead: there a skip would hide a test that never ran.
//!
//! This file is the same in every crate's `tests/common/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a missing program fails the test: `CI` is set.
pub(crate) fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Gives up on `test` for `why`: under CI a failure; otherwise a `SKIPPED` line on
/// stderr, after which the caller returns and the test passes.
#[track_caller]
pub(crate) fn skip(test: &str, why: &str) {
    assert!(
        !required(),
        "{test}: {why}; CI is set, so this test must run: install what it needs"
    );
    say(&format!(
        "SKIPPED: {test}: {why} (set CI=1 to make this a failure)"
    ));
}

/// Whether the user asked to skip `test` with `variable=1` (as
/// `TIDINGS_SKIP_BROWSER=1`): honoured even under CI, and said on stderr.
pub(crate) fn opted_out(test: &str, variable: &str) -> bool {
    let set = std::env::var_os(variable).is_some_and(|v| v == "1");
    if set {
        say(&format!("SKIPPED: {test}: {variable}=1"));
    }
    set
}

/// The first of `candidates` (paths, or names looked up on `PATH`) that runs with
/// `--version`, and the first line it printed.
pub(crate) fn find<P: AsRef<Path>>(
    candidates: impl IntoIterator<Item = P>,
) -> Option<(PathBuf, String)> {
    candidates.into_iter().find_map(|program| {
        let program = program.as_ref();
        let output = Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        let version = String::from_utf8_lossy(&output.stdout);
        let version = version.lines().next().unwrap_or("").trim().to_owned();
        Some((program.to_path_buf(), version))
    })
}

/// `node` at least `min_major` (its version is `v20.11.1`) and `npm`, with the
/// packages of `dir`'s `package-lock.json` installed (`npm ci`, when
/// `node_modules/<package>` is missing). `None`: the test was skipped, see
/// [`skip`].
#[track_caller]
pub(crate) fn node(test: &str, dir: &Path, package: &str, min_major: u32) -> Option<PathBuf> {
    let Some((node, version)) = find(["node"]) else {
        skip(test, "`node` not found on PATH");
        return None;
    };
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    if major.is_none_or(|major| major < min_major) {
        skip(
            test,
            &format!("`node` {version:?} found, this test needs node >= {min_major}"),
        );
        return None;
    }
    let Some((npm, _)) = find(["npm"]) else {
        skip(test, "`npm` not found on PATH");
        return None;
    };
    let installed = dir.join("node_modules").join(package).join("package.json");
    if !installed.exists() {
        let failed = match Command::new(&npm)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => None,
            Ok(status) => Some(status.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(failed) = failed {
            let dir = dir.display();
            skip(
                test,
                &format!("`npm ci` in {dir} failed ({failed}); is the npm registry reachable?"),
            );
            return None;
        }
    }
    Some(node)
}

/// Writes one line straight to the process's stderr, which the test harness does
/// not capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
