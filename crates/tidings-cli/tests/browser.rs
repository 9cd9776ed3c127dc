//! The demo as a person sees it: Debian's `chromium`, driven by the npm
//! `playwright-core` (pinned by `tests/browser/package-lock.json`) through
//! `tests/browser/demo.mjs`, loads the page that `tidings demo` serves on loopback.
//! Two pages chat and read each other's messages, the ticker runs, the button makes
//! the server drop the event stream, and the browser's own `EventSource` must come
//! back with `Last-Event-ID`: the page counts gaps and duplicates in the ids it sees,
//! and the test asserts both are zero and that the measurement table filled in. The
//! chat must have negotiated permessage-deflate, which Chromium offers.
//!
//! `tests/browser/h2.mjs` opens 20 EventSources and a WebSocket from one page:
//! against `tidings demo --tls` all of them share the page's HTTP/2 connection;
//! against the plain demo (HTTP/1.1) at most six connections open.
//!
//! The failover tests run two demo nodes sharing Redis (or NATS JetStream) behind
//! haproxy, and kill the one the page is on (`tests/browser/failover.mjs`).
//!
//! The screenshot is saved as `browser-demo.png` in cargo's temp dir for tests
//! (`target/tmp`), with `browser-demo.json`, what the page measured.
//!
//! Needs `chromium` (or `TIDINGS_CHROMIUM=/path/to/chrome`), `node` >= 20 and `npm`;
//! runs `npm ci` itself when `node_modules` is missing. Without them the test says
//! `SKIPPED` on stderr and passes, unless `CI` is set, where it fails (see
//! `common/programs.rs`). `TIDINGS_SKIP_BROWSER=1` skips it in any case.

mod common;

use common::daemons::{haproxy, nats, redis};
use common::{Running, programs, server};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
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

/// Two demo nodes sharing Redis behind haproxy; the page is open on node A, A is
/// killed, and the page's EventSource and chat come back through haproxy on node B:
/// the ticker with no gap and no duplicate (Last-Event-ID), the chat with its token,
/// showing what was said while away (`tests/browser/failover.mjs`).
#[test]
fn the_demo_fails_over_to_another_node_in_chromium() {
    const TEST: &str = "the_demo_fails_over_to_another_node_in_chromium";
    let Some((chromium, node)) = prepare_for(TEST) else {
        return;
    };
    let Some((_redis, url)) = redis(TEST) else {
        return;
    };
    fails_over(
        TEST,
        &chromium,
        &node,
        "--redis",
        &url,
        "browser-failover.png",
    );
}

/// The same, the nodes sharing NATS JetStream.
#[test]
fn the_demo_fails_over_on_nats_in_chromium() {
    const TEST: &str = "the_demo_fails_over_on_nats_in_chromium";
    let Some((chromium, node)) = prepare_for(TEST) else {
        return;
    };
    let Some((_nats, url, _store)) = nats(TEST) else {
        return;
    };
    fails_over(
        TEST,
        &chromium,
        &node,
        "--nats",
        &url,
        "browser-failover-nats.png",
    );
}

fn fails_over(test: &str, chromium: &Path, node: &Path, broker: &str, url: &str, png: &str) {
    let args = |name| [broker, url, "--node-name", name, "--tick-ms", "200"].map(String::from);
    let (a, a_addr) = server("demo", &args("A").each_ref().map(String::as_str));
    let (_b, b_addr) = server("demo", &args("B").each_ref().map(String::as_str));
    let Some((_haproxy, front, _dir)) = haproxy(test, &[a_addr, b_addr]) else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let screenshot = out.join(png);
    let mut session = Command::new(node)
        .arg(dir.join("failover.mjs"))
        .arg(format!("http://{front}/"))
        .arg(&screenshot)
        .arg(chromium)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let (tx, lines) = mpsc::channel();
    let stdout = session.stdout.take().expect("stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = lines.recv_timeout(SESSION_TIMEOUT);
    if ready.as_deref() == Ok("ready") {
        // The page is on A (haproxy's `balance first`): kill A, say something
        // while the page is away, and let the page go on.
        drop(a);
        let mut publisher = Running::start(&["pub", broker, url, "chat", "said while away"]);
        publisher.line();
        let _ = publisher.child.wait();
        let mut stdin = session.stdin.take().expect("stdin");
        let _ = writeln!(stdin, "go");
    }
    let deadline = Instant::now() + SESSION_TIMEOUT;
    while session.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = session.kill();
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let output = session.wait_with_output().expect("node output");
    let result: Vec<String> = lines.try_iter().collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "page measured: {result:?}\nscreenshot: {}",
        screenshot.display()
    );
    assert_eq!(ready.as_deref(), Ok("ready"), "stderr: {stderr}");
    assert!(
        output.status.success(),
        "the browser session failed ({:?}); stdout: {result:?}\nstderr: {stderr}",
        output.status
    );
    let result = result.join("\n");
    for expected in [
        "\"gaps\":0",
        "\"duplicates\":0",
        "\"discontinuities\":0",
        "\"errors\":[]",
    ] {
        assert!(result.contains(expected), "missing {expected} in {result}");
    }
}

/// `tidings demo --tls` in Chromium (`tests/browser/h2.mjs`): one page, 20
/// EventSources and a WebSocket (plus the page's own), all on the page's one
/// HTTP/2 connection (the server logs every stream with its peer: one address),
/// every stream receiving, the chat message coming back, and the page showing
/// `h2` as its protocol.
#[test]
fn the_tls_demo_multiplexes_everything_on_one_h2_connection_in_chromium() {
    const TEST: &str = "the_tls_demo_multiplexes_everything_on_one_h2_connection_in_chromium";
    let Some((demo, addr, seen)) = run_h2_page(TEST, &["--tls"], "https") else {
        return;
    };
    assert_eq!(seen["shown"], "h2", "{seen}");
    assert_eq!(seen["echoed"], true, "{seen}");
    let navigation = &seen["protocols"][0];
    assert_eq!(navigation[0], format!("https://{addr}/"), "{seen}");
    assert_eq!(navigation[1], "h2", "{seen}");
    // The server's account: the WebSockets and event streams over HTTP/2, all from
    // one peer address (one TCP connection). The page opens its own chat WebSocket
    // and event stream too: 2 + 21.
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

/// The same page over HTTP/1.1 (`tidings demo` without `--tls`): Chromium keeps
/// six connections per origin, so of the page's 21 event streams at most six open
/// and the rest wait; the limit that HTTP/2 lifts.
#[test]
fn the_http11_demo_is_held_to_six_event_streams_in_chromium() {
    const TEST: &str = "the_http11_demo_is_held_to_six_event_streams_in_chromium";
    let Some((_demo, _, seen)) = run_h2_page(TEST, &[], "http") else {
        return;
    };
    assert_eq!(seen["shown"], "http/1.1", "{seen}");
    let counts = seen["counts"].as_array().expect("counts");
    let open = counts.iter().filter(|c| c.as_u64() > Some(0)).count();
    assert!(
        open > 0 && open <= 6,
        "{open} of 20 streams got events: {seen}"
    );
}

/// Runs `tests/browser/h2.mjs` against `tidings demo extra...` at `scheme://`; the
/// demo, its address, and what the page saw. `None`: skipped.
fn run_h2_page(
    test: &str,
    extra: &[&str],
    scheme: &str,
) -> Option<(common::Running, std::net::SocketAddr, serde_json::Value)> {
    let (chromium, node) = prepare_for(test)?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let mut args = vec!["--tick-ms", "100"];
    args.extend_from_slice(extra);
    let (demo, addr) = server("demo", &args);
    let mut node = Command::new(node)
        .arg(dir.join("h2.mjs"))
        .arg(format!("{scheme}://{addr}/"))
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
    let seen = serde_json::from_str(stdout.trim()).expect("one JSON object");
    Some((demo, addr, seen))
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
