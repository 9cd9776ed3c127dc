//! The demo as a person sees it: Debian's `chromium`, driven by the npm
//! `playwright-core` (pinned by `tests/browser/package-lock.json`) through
//! `tests/browser/demo.mjs`, loads the page that `tidings demo` serves on loopback.
//! Two pages chat and read each other's messages, the ticker runs, the button makes
//! the server drop the event stream, and the browser's own `EventSource` must come
//! back with `Last-Event-ID`: the page counts gaps and duplicates in the ids it sees,
//! and the test asserts both are zero and that the measurement table filled in. The
//! chat must have negotiated permessage-deflate, which Chromium offers.
//!
//! The screenshot is saved as `browser-demo.png` in cargo's temp dir for tests
//! (`target/tmp`), with `browser-demo.json`, what the page measured.
//!
//! Needs `chromium` (or `TIDINGS_CHROMIUM=/path/to/chrome`), `node` >= 20 and `npm`;
//! runs `npm ci` itself when `node_modules` is missing. Without them the test fails,
//! unless `TIDINGS_SKIP_BROWSER=1`.

mod common;

use common::server;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The whole browser session, launch to screenshot, on a loaded machine.
const SESSION_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn the_demo_works_in_chromium() {
    let Some(chromium) = prepare() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let screenshot = out.join("browser-demo.png");
    let _ = std::fs::remove_file(&screenshot);

    // A fast ticker so that a drop and a few resumed events take seconds.
    let (_demo, addr) = server("demo", &["--tick-ms", "200"]);
    let mut node = Command::new("node")
        .arg(dir.join("demo.mjs"))
        .arg(format!("http://{addr}/"))
        .arg(&screenshot)
        .arg(&chromium)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let deadline = Instant::now() + SESSION_TIMEOUT;
    while node.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = node.kill();
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let output = node.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("page measured: {stdout}");
    println!("screenshot: {}", screenshot.display());
    assert!(
        output.status.success(),
        "the browser session failed ({:?}); stdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    std::fs::write(out.join("browser-demo.json"), stdout.as_bytes()).expect("save results");

    // What the script printed is the page's own account: check the key figures here
    // too, so a script that printed nothing cannot pass.
    for expected in [
        "\"gaps\":0",
        "\"duplicates\":0",
        "\"errors\":[]",
        "\"extensions\":\"permessage-deflate",
    ] {
        assert!(stdout.contains(expected), "missing {expected} in {stdout}");
    }
    assert!(
        !stdout.contains("\"reconnections\":0,"),
        "no reconnection: {stdout}"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "not a real screenshot: {} bytes",
        png.len()
    );
}

/// Finds the browser and node, installs the pinned driver if needed. `None` means
/// "skip".
fn prepare() -> Option<PathBuf> {
    let skip = std::env::var_os("TIDINGS_SKIP_BROWSER").is_some_and(|v| v == "1");
    let works = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let chromium = std::env::var_os("TIDINGS_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "chromium", "chromium-browser"].map(PathBuf::from))
        .find(|path| works(path));
    let (Some(chromium), true, true) =
        (chromium, works(Path::new("node")), works(Path::new("npm")))
    else {
        assert!(
            skip,
            "the browser test needs `chromium` (Debian package `chromium`, or \
             TIDINGS_CHROMIUM=/path/to/chrome), `node` >= 20 and `npm`; install them, \
             or set TIDINGS_SKIP_BROWSER=1 to skip this test"
        );
        println!("skipped: chromium/node/npm not found and TIDINGS_SKIP_BROWSER=1");
        return None;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("running npm ci");
        assert!(
            status.success(),
            "`npm ci` in {} failed; is the npm registry reachable?",
            dir.display()
        );
    }
    Some(chromium)
}
