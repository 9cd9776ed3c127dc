//! The `tidings` binary as a person runs it: real processes on loopback, each test
//! bounded by timeouts (a child still running at the end is killed).

mod common;

use common::{BIN, Running, TIMEOUT, server};
use std::ffi::OsStr;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tidings_io::tls::{provider, rustls, tokio_rustls};

/// Runs `tidings args` with `stdin`, waiting at most [`TIMEOUT`].
fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_with(args, stdin, &[])
}

/// [`run`] with these environment variables (and no `SSL_CERT_FILE` of the
/// machine's).
fn run_with(args: &[&str], stdin: &[u8], env: &[(&str, &OsStr)]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SSL_CERT_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidings");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    wait(child, args)
}

/// The output of `child` (`tidings args`) once it exits, within [`TIMEOUT`]. Its
/// stdout and stderr are drained meanwhile, so a large output cannot block it.
fn wait(mut child: Child, args: &[&str]) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tidings {args:?} did not finish in time");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
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

/// Bad usage: status 2, clap's message naming `option`, no panic.
fn assert_usage_error(output: &Output, option: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr:?}");
    assert!(stderr.contains(option), "stderr: {stderr:?}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr:?}");
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
    // Ids are EPOCH:OFFSET; one epoch here (one node, no restart).
    let id = |line: String| -> u64 {
        let start = line.find("\"id\":\"").expect("an id") + 6;
        let end = start + line[start..].find('"').expect("a quote");
        let (_, offset) = line[start..end].split_once(':').expect("EPOCH:OFFSET");
        offset.parse().expect("a numeric offset")
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
    // overtake the broadcast, which the server does not send after a close. The
    // copy carries its position, the resume token, as "id".
    let copy: serde_json::Value = serde_json::from_str(&client.line()).expect("JSON");
    assert_eq!((&copy["from"], &copy["seq"]), (&"test".into(), &1.into()));
    assert_eq!(copy["text"], "hello room");
    let id = copy["id"].as_str().expect("an id");
    assert!(id.parse::<tidings_hub::StreamPosition>().is_ok(), "{id}");
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

/// Issue 14, point 4: a `retry` out of bounds is corrected and said on stderr.
#[test]
fn sse_logs_a_corrected_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let answers: [&[&[u8]]; 2] = [
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 10000000000\ndata: a\n\n",
                b"retry: 0\ndata: b\n\n",
            ],
            &[b"HTTP/1.1 204 No Content\r\n\r\n"],
        ];
        for pieces in answers {
            let Ok((mut tcp, _)) = listener.accept() else {
                return;
            };
            let mut head = [0; 1024];
            let _ = tcp.read(&mut head);
            for piece in pieces {
                let _ = tcp.write_all(piece);
                thread::sleep(Duration::from_millis(200));
            }
        }
    });
    let output = run(&["sse", &format!("http://{addr}/events")], b"");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for warning in [
        "warning: server retry of 10000000000 ms is out of bounds, waiting 600000 ms instead",
        "warning: server retry of 0 ms is out of bounds, waiting 100 ms instead",
    ] {
        assert!(stderr.contains(warning), "{stderr}");
    }
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "event: message\ndata: a\n\nevent: message\ndata: b\n\n"
    );
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

#[test]
fn ws_refuses_a_line_that_is_not_utf8_and_closes_with_1001() {
    let (echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let output = run(&["ws", &url], b"fine\n\xff\xfe\nnever sent\n");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    // The lines before it went out and came back; the bad one and the rest did not.
    assert_eq!(String::from_utf8_lossy(&output.stdout), "fine\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("tidings: stdin line 2 is not UTF-8") && last.contains("--binary"),
        "{stderr}"
    );
    // A proper close, not a dropped connection.
    echo.log_line(r#"closed (code 1001 "stdin is not UTF-8")"#);
}

#[test]
fn ws_binary_mode_sends_any_bytes() {
    let (_echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let output = run(&["ws", "--binary", &url], b"\xff\x00\xfe\r\n\x80");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ff00fe\n80\n");
}

#[test]
fn a_bad_header_value_is_blamed_on_the_header_not_the_url() {
    for command in ["sse", "ws"] {
        let url = if command == "sse" {
            "http://127.0.0.1:9/events"
        } else {
            "ws://127.0.0.1:9/"
        };
        for header in ["X-Name: caf\u{e9}", "X Name: a", "X-Name"] {
            let output = run(&[command, "-H", header, url], b"");
            assert_usage_error(&output, "--header");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!stderr.contains("URL"), "{command} -H {header:?}: {stderr}");
        }
        let output = run(&[command, "-H", "X-Name: caf\u{e9}", url], b"");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("visible ASCII"), "{stderr}");
    }
}

/// Pending the tidings-ws change that makes the close echo carry the peer's reason
/// as well as its code (issue 14 point 8): until it is merged the echo is
/// `code 4000 ""`, and this test fails.
#[test]
fn echo_answers_a_close_with_its_code_and_reason() {
    let (_echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let args = ["ws", "--close-code", "4000", "--close-reason", "bye", &url];
    let output = run(&args, b"hi\n");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#"closed (code 4000 "bye")"#), "{stderr}");
}

#[test]
fn ws_closes_with_the_code_and_reason_asked_for() {
    let (echo, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let args = ["ws", "--close-code", "4000", "--close-reason", "bye", &url];
    // The server echoes 4000: the close the client asked for, so a success.
    let output = run(&args, b"hi\n");
    assert!(output.status.success(), "{output:?}");
    echo.log_line(r#"closed (code 4000 "bye")"#);
    let output = run(&["ws", "--close-reason", "done", &url], b"");
    assert!(output.status.success(), "{output:?}");
    echo.log_line(r#"closed (code 1000 "done")"#);

    for code in ["1005", "1006", "1015", "1004", "999", "2999", "5000", "x"] {
        let output = run(&["ws", "--close-code", code, &url], b"");
        assert_usage_error(&output, "--close-code");
    }
    // 124 bytes of UTF-8 in 62 characters.
    let long = "\u{e9}".repeat(62);
    assert_usage_error(
        &run(&["ws", "--close-reason", &long, &url], b""),
        "--close-reason",
    );
}

#[test]
fn echo_accepts_the_subprotocols_it_is_given() {
    let (echo, addr) = server("echo", &["--protocol", "chat", "--protocol", "superchat"]);
    let url = format!("ws://{addr}/");
    // The client's first offer that the server knows.
    for (offers, chosen) in [
        (&["superchat", "chat"][..], Some("superchat")),
        (&["other", "chat"][..], Some("chat")),
        (&["other"][..], None),
        (&[][..], None),
    ] {
        let mut args = vec!["ws"];
        for offer in offers {
            args.extend(["--protocol", offer]);
        }
        args.push(&url);
        let output = run(&args, b"hello\n");
        assert!(output.status.success(), "{offers:?}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let connected = stderr.lines().next().unwrap_or("");
        match chosen {
            Some(chosen) => {
                assert_eq!(connected, format!("connected (subprotocol {chosen})"));
                echo.log_line(&format!("connected (subprotocol {chosen})"));
            }
            None => assert_eq!(connected, "connected", "{offers:?}"),
        }
    }
    assert_usage_error(&run(&["echo", "--protocol", "a b"], b""), "--protocol");
}

#[test]
fn echo_closes_connections_over_its_cap_and_serves_again_when_one_ends() {
    let (echo, addr) = server("echo", &["--max-connections", "1"]);
    let url = format!("ws://{addr}/");
    // The one slot: an open WebSocket.
    let mut holder = Running::start(&["ws", &url]);
    echo.log_line("connected");
    let mut refused = TcpStream::connect(addr).expect("connect");
    refused.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut byte = [0; 1];
    assert_eq!(refused.read(&mut byte).expect("closed, not reset"), 0);
    echo.log_line("refused, 1 connections are open");
    drop(holder.stdin.take()); // the holder closes
    echo.log_line("closed (code 1000");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let output = run(&["ws", &url], b"again\n");
        if output.status.success() {
            assert_eq!(String::from_utf8_lossy(&output.stdout), "again\n");
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {output:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// `tidings args` with stdin, stdout and stderr piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidings")
}

#[test]
fn a_closed_stdout_ends_sse_quietly_with_success() {
    let (_demo, addr) = server("demo", &["--tick-ms", "20"]);
    let args = ["sse", &format!("http://{addr}/events")];
    let mut child = spawn(&args);
    drop(child.stdout.take()); // as `| head -0` would
    let output = wait(child, &args);
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[test]
fn sse_ends_as_soon_as_its_reader_leaves_even_with_nothing_to_print() {
    // One event, then silence: only watching stdout itself can end the client.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        if let Ok((mut tcp, _)) = listener.accept() {
            let mut head = [0; 1024];
            let _ = tcp.read(&mut head);
            let _ = tcp.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: one\n\n",
            );
            thread::sleep(TIMEOUT * 2);
        }
    });
    let args = ["sse", &format!("http://{addr}/")];
    let mut child = spawn(&args);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert_eq!(line, "event: message\n");
    drop(stdout); // as `| head -1` does once it has its line
    let started = Instant::now();
    let output = wait(child, &args);
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn ws_closes_cleanly_and_quietly_when_its_reader_leaves() {
    let (echo, addr) = server("echo", &[]);
    let args = ["ws", &format!("ws://{addr}/")];
    let mut child = spawn(&args);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "hello").expect("write stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    assert_eq!(line, "hello\n");
    drop(stdout);
    // stdin stays open: the closed stdout alone ends the client, with a close frame.
    let output = wait(child, &args);
    drop(stdin);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("tidings:"), "{stderr}");
    echo.log_line(r#"closed (code 1000 "")"#);
}

/// A self-signed certificate for `127.0.0.1` and `localhost`: its PEM file (named
/// for `name`) and a server config that shows it.
fn self_signed(name: &str) -> (PathBuf, Arc<rustls::ServerConfig>) {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(names).expect("a certificate");
    let pem = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}.pem", std::process::id()));
    std::fs::write(&pem, cert.pem()).expect("write the certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("the certificate");
    (pem, Arc::new(config))
}

type TlsStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// Serves TLS on loopback with `config`, one connection after another (each
/// numbered from 0 once its TLS handshake succeeds), for the rest of the test run.
fn tls_server<F, Fut>(config: Arc<rustls::ServerConfig>, serve: F) -> SocketAddr
where
    F: Fn(TlsStream, usize) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("non-blocking");
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let mut served = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                // A client that does not trust the certificate fails the handshake.
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(tls, served).await;
                    served += 1;
                }
            }
        });
    });
    addr
}

/// A `wss://` echo server with a self-signed certificate: its URL and PEM file.
fn wss_echo(name: &str) -> (String, PathBuf) {
    let (pem, config) = self_signed(name);
    let addr = tls_server(config, |tls, _| async move {
        let config = tidings_io::Config::default();
        let Ok(mut ws) = tidings_io::accept(tidings_io::Tokio::new(tls), config).await else {
            return;
        };
        while let Some(Ok(message)) = ws.recv().await {
            if matches!(message, tidings_io::Message::Text(_)) && ws.send(message).await.is_err() {
                return;
            }
        }
    });
    (format!("wss://{addr}/"), pem)
}

/// An `https://` event stream with a self-signed certificate: one event (retry
/// 10 ms), then `204 No Content` on the reconnection, so that a client ends with
/// success. Its URL and PEM file.
fn https_events(name: &str) -> (String, PathBuf) {
    let (pem, config) = self_signed(name);
    let addr = tls_server(config, |mut tls, n| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let response: &[u8] = if n == 0 {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n\
              retry: 10\nid: 1\ndata: over tls\n\n"
        } else {
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
        };
        let _ = tls.write_all(response).await;
        let _ = tls.shutdown().await;
    });
    (format!("https://{addr}/events"), pem)
}

#[test]
fn ws_trusts_a_self_signed_server_with_cacert_or_ssl_cert_file() {
    let (url, pem) = wss_echo("ws-cacert");
    let pem_arg = pem.to_str().expect("a UTF-8 path");
    let output = run(&["ws", "--cacert", pem_arg, &url], b"over tls\n");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "over tls\n");

    let output = run_with(
        &["ws", &url],
        b"from the environment\n",
        &[("SSL_CERT_FILE", pem.as_os_str())],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "from the environment\n"
    );

    // Not trusted by default, with a hint; --cacert replaces the roots, so
    // another certificate does not help.
    let (_other_url, other_pem) = wss_echo("ws-cacert-other");
    for args in [
        vec!["ws", url.as_str()],
        vec!["ws", "--cacert", other_pem.to_str().expect("UTF-8"), &url],
    ] {
        let output = run(&args, b"");
        assert_one_line_failure(&output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("TLS") && stderr.contains("--cacert"),
            "{stderr}"
        );
    }
}

#[test]
fn ws_insecure_skips_verification_and_says_so() {
    let (url, _pem) = wss_echo("ws-insecure");
    for flag in ["--insecure", "-k"] {
        let output = run(&["ws", flag, &url], b"unverified\n");
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "unverified\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("warning: --insecure"), "{stderr}");
    }
    let output = run(&["ws", "--insecure", "--cacert", "x.pem", &url], b"");
    assert_usage_error(&output, "--cacert");
}

#[test]
fn sse_trusts_a_self_signed_server_with_cacert_or_insecure() {
    let expected = "id: 1\nevent: message\ndata: over tls\n\n";
    let (url, pem) = https_events("sse-cacert");
    let output = run(
        &["sse", "--cacert", pem.to_str().expect("UTF-8"), &url],
        b"",
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);

    let (url, _pem) = https_events("sse-insecure");
    let output = run(&["sse", "--insecure", &url], b"");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    assert!(String::from_utf8_lossy(&output.stderr).contains("warning: --insecure"));

    let (url, pem) = https_events("sse-env");
    let output = run_with(&["sse", &url], b"", &[("SSL_CERT_FILE", pem.as_os_str())]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);

    let (url, _pem) = https_events("sse-untrusted");
    let output = run(&["sse", &url], b"");
    assert_one_line_failure(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TLS") && stderr.contains("--cacert"),
        "{stderr}"
    );
}

#[test]
fn bad_trust_anchors_are_named() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-ca.pem");
    let not_pem = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("not-a-certificate-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "hello\n").expect("write");
    for file in [&missing, &not_pem] {
        let file = file.to_str().expect("UTF-8");
        for url in ["wss://127.0.0.1:9/", "https://127.0.0.1:9/events"] {
            let command = if url.starts_with("wss") { "ws" } else { "sse" };
            let output = run(&[command, "--cacert", file, url], b"");
            assert_one_line_failure(&output);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("--cacert") && stderr.contains(file),
                "{stderr}"
            );

            let env = [("SSL_CERT_FILE", OsStr::new(file))];
            let output = run_with(&[command, url], b"", &env);
            assert_one_line_failure(&output);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("SSL_CERT_FILE") && stderr.contains(file),
                "{stderr}"
            );
        }
    }
    // A stale SSL_CERT_FILE does not break a plain connection.
    let (_echo, addr) = server("echo", &[]);
    let env = [("SSL_CERT_FILE", missing.as_os_str())];
    let output = run_with(&["ws", &format!("ws://{addr}/")], b"plain\n", &env);
    assert!(output.status.success(), "{output:?}");
}

/// Both ends refuse a message over 1 MiB by default (1009), and take it when
/// `--max-message-size` says so.
#[test]
fn max_message_size_raises_the_one_mib_default() {
    let line = format!("{}\n", "x".repeat(1_500_000));
    let (strict, addr) = server("echo", &[]);
    let url = format!("ws://{addr}/");
    let output = run(
        &["ws", "--max-message-size", "2000000", &url],
        line.as_bytes(),
    );
    assert!(!output.status.success(), "{output:?}");
    strict.log_line("exceeds the limit of 1048576");
    let (roomy, addr) = server("echo", &["--max-message-size", "2000000"]);
    let url = format!("ws://{addr}/");
    let output = run(&["ws", &url], line.as_bytes());
    assert!(
        !output.status.success(),
        "the client's own limit: {output:?}"
    );
    let output = run(
        &["ws", "--max-message-size", "2000000", &url],
        line.as_bytes(),
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout.len(), line.len());
    roomy.log_line(r#"closed (code 1000 "")"#);
}

/// An echo server on `tidings_io::http::serve`: HTTP/1.1 and h2c on one port, with
/// extended CONNECT advertised if `websocket`.
fn h2_echo(websocket: bool) -> SocketAddr {
    use http_body_util::Full;
    use tidings_io::http::{ServeConfig, WebSocketUpgrade};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("non-blocking");
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let service = hyper::service::service_fn(|mut request| async move {
                let upgrade = match WebSocketUpgrade::from_request::<_, Full<hyper::body::Bytes>>(
                    &mut request,
                ) {
                    Ok(upgrade) => upgrade,
                    Err(refusal) => return Ok::<_, std::convert::Infallible>(refusal),
                };
                Ok(upgrade.on_upgrade(|mut ws| async move {
                    while let Some(Ok(message)) = ws.recv().await {
                        if matches!(message, tidings_io::Message::Text(_))
                            && ws.send(message).await.is_err()
                        {
                            return;
                        }
                    }
                }))
            });
            let config = ServeConfig::default().websocket(websocket);
            let _: Result<(), _> = tidings_io::http::serve(listener, config, service).await;
        });
    });
    addr
}

#[test]
fn ws_http2_uses_extended_connect_or_falls_back_to_http11() {
    for websocket in [true, false] {
        let addr = h2_echo(websocket);
        let url = format!("ws://{addr}/chat");
        let output = run(&["ws", "--http2", &url], b"over h2\nagain\n");
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "over h2\nagain\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.contains("connected over HTTP/2"),
            websocket,
            "{stderr}"
        );
        assert!(stderr.contains("code 1000"), "{stderr}");
    }
}

/// `demo --tls`: HTTPS with a self-signed certificate whose fingerprint is
/// printed; the chat's WebSocket over HTTP/2 (`ws --http2 -k`), the page and an
/// event stream over HTTP/2 (curl, if the machine has it).
#[test]
fn demo_tls_serves_the_chat_and_events_over_http2() {
    let (demo, addr) = server("demo", &["--tls", "--tick-ms", "20"]);
    let fingerprint = demo.log_line("SHA-256 fingerprint");
    assert_eq!(
        fingerprint.rsplit(' ').next().map(str::len),
        Some(32 * 3 - 1)
    );
    let url = format!("wss://{addr}/ws");
    let line = r#"{"from":"test","seq":1,"text":"over h2"}"#;
    let mut client = Running::start(&["ws", "--http2", "-k", &url]);
    let mut stdin = client.stdin.take().expect("stdin");
    writeln!(stdin, "{line}").expect("write stdin");
    // The chat relays the member's JSON with its position added as "id".
    let mut echoed: serde_json::Value = serde_json::from_str(&client.line()).expect("JSON");
    let id = echoed["id"].take();
    assert!(id.as_str().is_some_and(|id| id.contains(':')), "{id}");
    let sent: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let echoed = echoed.as_object_mut().expect("an object");
    echoed.remove("id");
    assert_eq!(serde_json::Value::Object(echoed.clone()), sent);
    drop(stdin);
    client.log_line("connected over HTTP/2");
    demo.log_line("WebSocket over HTTP/2");

    const TEST: &str = "demo_tls_serves_the_chat_and_events_over_http2";
    let Some((curl, _)) = common::programs::find(["curl"]) else {
        return common::programs::skip(TEST, "`curl` not found on PATH");
    };
    let page = Command::new(&curl)
        .args([
            "-sSk",
            "--http2",
            "--max-time",
            "10",
            "-w",
            "%{http_version}",
        ])
        .arg(format!("https://{addr}/"))
        .output()
        .expect("curl");
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.contains("<html") && page.ends_with("</html>\n2"),
        "{page}"
    );
    // An endless stream: read its first events, then stop.
    let mut events = Command::new(&curl)
        .args(["-sSkN", "--http2", "--max-time", "10"])
        .arg(format!("https://{addr}/events"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut lines = BufReader::new(events.stdout.take().expect("stdout")).lines();
    let first: Vec<String> = lines.by_ref().take(5).map(|l| l.expect("a line")).collect();
    let _ = events.kill();
    let _ = events.wait();
    assert_eq!(first[0], "retry: 1000", "{first:?}");
    assert!(
        first.iter().any(|l| l.starts_with("data: {\"node\":")),
        "{first:?}"
    );
    demo.log_line("event stream over HTTP/2");
}

/// `sse --http2`: the demo's ticker over an h2 stream (`-k` for its self-signed
/// certificate); a refused first connection is one line and a failure.
#[test]
fn sse_http2_reads_the_tls_demo_ticker() {
    let (demo, addr) = server("demo", &["--tls", "--tick-ms", "20"]);
    let url = format!("https://{addr}/events");
    let client = Running::start(&["sse", "--http2", "-k", &url]);
    // Ids are EPOCH:OFFSET positions: one epoch, consecutive offsets.
    let mut ids = Vec::new();
    while ids.len() < 3 {
        if let Some(id) = client.line().strip_prefix("id: ") {
            let (epoch, offset) = id.split_once(':').expect("EPOCH:OFFSET");
            ids.push((epoch.to_owned(), offset.parse::<u64>().expect("an offset")));
        }
    }
    assert!(
        ids.windows(2)
            .all(|w| w[1].0 == w[0].0 && w[1].1 == w[0].1 + 1),
        "{ids:?}"
    );
    demo.log_line("event stream over HTTP/2");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = listener.local_addr().expect("addr");
    drop(listener);
    let output = run(&["sse", "--http2", &format!("http://{closed}/events")], b"");
    assert_one_line_failure(&output);
}
