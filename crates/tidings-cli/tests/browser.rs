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
//! runs `npm ci` itself when `node_modules` is missing. Without them the test says
//! `SKIPPED` on stderr and passes, unless `CI` is set, where it fails (see
//! `common/programs.rs`). `TIDINGS_SKIP_BROWSER=1` skips it in any case.

mod common;

use common::{programs, server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The whole browser session, launch to screenshot, on a loaded machine.
const SESSION_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn the_demo_works_in_chromium() {
    let Some((chromium, node)) = prepare() else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let screenshot = out.join("browser-demo.png");
    let _ = std::fs::remove_file(&screenshot);

    // A fast ticker so that a drop and a few resumed events take seconds.
    let (_demo, addr) = server("demo", &["--tick-ms", "200"]);
    let mut node = Command::new(node)
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

/// `tidings demo --tls` in Chromium (`tests/browser/h2.mjs`): one page, 20
/// EventSources and a WebSocket (plus the page's own), all on the page's one
/// HTTP/2 connection
/// (the server logs every stream with its peer: one address), every stream
/// receiving and the chat message coming back.
#[test]
fn the_tls_demo_multiplexes_everything_on_one_h2_connection_in_chromium() {
    let Some((chromium, node)) =
        prepare_for("the_tls_demo_multiplexes_everything_on_one_h2_connection_in_chromium")
    else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let (demo, addr) = server("demo", &["--tls", "--tick-ms", "100"]);
    let mut node = Command::new(node)
        .arg(dir.join("h2.mjs"))
        .arg(format!("https://{addr}/"))
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
    println!("page saw: {stdout}");
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("\"echoed\":true"), "{stdout}");
    assert!(
        stdout.contains(&format!("[\"https://{addr}/\",\"h2\"]")),
        "{stdout}"
    );
    // The server's account: the WebSocket and 20 event streams over HTTP/2, all
    // from the one peer address (one TCP connection).
    // The page opens its own chat WebSocket and event stream too: 2 + 21.
    let lines: Vec<String> = (0..23).map(|_| demo.log_line(" over HTTP/")).collect();
    let peers: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|l| l.split(": ").next()).collect();
    assert_eq!(peers.len(), 1, "more than one connection: {lines:#?}");
    assert!(
        lines.iter().all(|l| l.ends_with("over HTTP/2.0")),
        "{lines:#?}"
    );
    let ws = lines.iter().filter(|l| l.contains("WebSocket")).count();
    assert_eq!(ws, 2, "{lines:#?}");
}

/// Finds the browser and node, installs the pinned driver if needed. `None` means
/// "skipped" (said on stderr).
fn prepare() -> Option<(PathBuf, PathBuf)> {
    prepare_for("the_demo_works_in_chromium")
}

/// [`prepare`], for the test named `test`.
fn prepare_for(test: &str) -> Option<(PathBuf, PathBuf)> {
    if programs::opted_out(test, "TIDINGS_SKIP_BROWSER") {
        return None;
    }
    let candidates = std::env::var_os("TIDINGS_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "chromium", "chromium-browser"].map(PathBuf::from));
    let Some((chromium, _)) = programs::find(candidates) else {
        programs::skip(
            test,
            "`chromium` not found (Debian package `chromium`, or \
             TIDINGS_CHROMIUM=/path/to/chrome)",
        );
        return None;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let node = programs::node(test, &dir, "playwright-core", 20)?;
    Some((chromium, node))
}
