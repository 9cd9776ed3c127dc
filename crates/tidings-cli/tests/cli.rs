//! The `tidings` binary as a person runs it: real processes on loopback, each test
//! bounded by timeouts (a child still running at the end is killed).

mod common;

use common::{BIN, Running, TIMEOUT, server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `tidings args` with `stdin`, waiting at most [`TIMEOUT`].
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidings");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tidings {args:?} did not finish in time");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// A whole HTTP/1.1 exchange over plain TCP (the server closes after answering).
fn http(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    tcp.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).expect("read");
    response
}

/// A failure is exactly one line on stderr, with a non-zero exit and no panic.
fn assert_one_line_failure(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit code: {:?}", output.status);
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr:?}");
    assert!(stderr.starts_with("tidings: "), "stderr: {stderr:?}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr:?}");
}

#[test]
fn help_works_for_every_command() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["echo", "--help"],
        &["ws", "--help"],
        &["sse", "--help"],
    ] {
        let output = run(args, b"");
        assert!(output.status.success(), "{args:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("Usage: tidings"), "{args:?}: {stdout}");
    }
}

#[test]
fn ws_against_echo_echoes_lines_and_closes_cleanly_on_eof() {
    let (_echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let output = run(&["ws", &url], b"hello\nworld\n");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\nworld\n");
    assert!(String::from_utf8_lossy(&output.stderr).contains("code 1000"));
}

#[test]
fn ws_binary_mode_prints_hex() {
    let (_echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let output = run(&["ws", "--binary", &url], b"AB\n");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "4142\n");
}

#[test]
fn bad_urls_give_one_line_and_a_failure() {
    assert_one_line_failure(&run(&["ws", "not a url"], b""));
    assert_one_line_failure(&run(&["ws", "http://127.0.0.1/"], b""));
    assert_one_line_failure(&run(&["sse", "ftp://127.0.0.1/"], b""));
}

#[test]
fn refused_connections_give_one_line_and_a_failure() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let output = run(&["ws", &format!("ws://127.0.0.1:{port}/")], b"");
    assert_one_line_failure(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
    let output = run(&["sse", &format!("http://127.0.0.1:{port}/events")], b"");
    assert_one_line_failure(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
}

#[test]
fn demo_serves_the_page_as_html() {
    let (_demo, addr) = server("demo", &[]);
    let response = http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
        "{head}"
    );
    let ids = [
        "chat-input",
        "chat-send",
        "chat-log",
        "ticker-list",
        "drop-button",
        "sse-reconnections",
        "sse-integrity",
        "measurements",
    ];
    for id in ids {
        assert!(body.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    let missing = http(addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[test]
fn sse_resumes_across_a_forced_drop_with_no_gap_and_no_duplicate() {
    let (_demo, addr) = server("demo", &["--tick-ms", "50"]);
    let client = Running::start(&["sse", "--json", &format!("http://{addr}/events")]);
    let id = |line: String| -> u64 {
        let start = line.find("\"id\":\"").expect("an id") + 6;
        let end = start + line[start..].find('"').expect("a quote");
        line[start..end].parse().expect("a numeric id")
    };
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(id(client.line()));
    }
    let dropped = http(
        addr,
        "POST /drop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(dropped.contains("dropped 1 event stream"), "{dropped}");
    let at_drop = *ids.last().expect("ids");
    // The retry is 1 s and a tick 50 ms: the ticks missed while away come from the
    // history, so well past the drop proves the resumption.
    while ids.last().is_some_and(|&last| last < at_drop + 40) {
        ids.push(id(client.line()));
    }
    for pair in ids.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "ids: {ids:?}");
    }
}

#[test]
fn ws_against_the_demo_chat_gets_its_message_back_and_closes_cleanly() {
    let (_demo, addr) = server("demo", &[]);
    let url = format!("ws://{addr}/ws");
    let line = r#"{"from":"test","seq":1,"text":"hello room"}"#;
    let mut client = Running::start(&["ws", &url]);
    let mut stdin = client.stdin.take().expect("stdin");
    writeln!(stdin, "{line}").expect("write stdin");
    // The room's copy first, then the end of input: a close sent at once could
    // overtake the broadcast, which the server does not send after a close.
    assert_eq!(client.line(), line);
    drop(stdin);
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = client.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "tidings ws did not exit");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_tls_failure_gives_one_line_and_a_failure() {
    // A server that answers a ClientHello with plain HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        if let Ok((mut tcp, _)) = listener.accept() {
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let output = run(&["ws", &format!("wss://{addr}/")], b"");
    assert_one_line_failure(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("TLS"),
        "{output:?}"
    );
}

#[test]
fn sse_stops_with_success_on_204() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        if let Ok((mut tcp, _)) = listener.accept() {
            let mut head = [0; 1024];
            let _ = tcp.read(&mut head);
            let _ = tcp.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    let output = run(&["sse", &format!("http://{addr}/events")], b"");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn a_closed_stdout_ends_sse_with_one_line_not_a_panic() {
    let (_demo, addr) = server("demo", &["--tick-ms", "20"]);
    let mut child = Command::new(BIN)
        .args(["sse", &format!("http://{addr}/events")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidings");
    drop(child.stdout.take()); // as `| head -0` would
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tidings sse did not notice its closed stdout");
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert_one_line_failure(&child.wait_with_output().expect("output"));
}

#[test]
fn demo_closes_connections_over_its_cap_and_serves_again_when_one_ends() {
    let (_demo, addr) = server("demo", &["--max-connections", "1"]);
    // The one slot: a connection that has not sent its head yet.
    let holder = TcpStream::connect(addr).expect("connect");
    thread::sleep(Duration::from_millis(200));
    let mut refused = TcpStream::connect(addr).expect("connect");
    refused.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut byte = [0; 1];
    assert_eq!(refused.read(&mut byte).expect("closed, not reset"), 0);
    drop(holder);
    // The slot comes back once the server sees the first connection end.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let _ = tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut response = String::new();
        let _ = tcp.read_to_string(&mut response);
        if response.starts_with("HTTP/1.1 200 OK\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "never served again");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ws_and_echo_negotiate_deflate_only_when_both_ask() {
    let line = "compress me, ".repeat(2000);
    let input = format!("{line}\n");
    for (echo_args, ws_deflate, agreed) in [
        (&["--deflate"][..], true, true),
        (&[][..], true, false),
        (&["--deflate"][..], false, false),
    ] {
        let (_echo, addr) = server("echo", echo_args);
        let url = format!("ws://{addr}/");
        let mut args = vec!["ws", url.as_str()];
        if ws_deflate {
            args.insert(1, "--deflate");
        }
        let output = run(&args, input.as_bytes());
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), input);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.contains("permessage-deflate"), agreed, "{stderr}");
    }
}
