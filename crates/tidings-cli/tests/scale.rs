//! Scale-out, end to end: `redis-server`, demo nodes sharing their topics through
//! it, `haproxy` in front, and clients that resume across nodes. Every server
//! listens on 127.0.0.1 on a port of its own and is killed when the test ends.
//! Without `redis-server` or `haproxy` the tests are skipped loudly (failures
//! under CI): see `common/programs.rs`.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Running, programs, server};

/// A program started by a test, killed when the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1: the OS's pick, released for a program to take, and
/// never handed out twice in this process (the OS may give a released port again
/// to the next test running in parallel before the first program took it).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until something listens on `port`.
fn listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails if `daemon` exited (its port was taken: what listens is not it).
fn alive(daemon: &mut Daemon, what: &str) {
    std::thread::sleep(Duration::from_millis(50));
    let exited = daemon.0.try_wait().expect("try_wait");
    assert!(exited.is_none(), "{what} exited: {exited:?}");
}

/// `redis-server` without persistence, and its URL; `None`: skipped.
fn redis(test: &str) -> Option<(Daemon, String)> {
    let Some((program, _)) = programs::find(["redis-server"]) else {
        programs::skip(test, "redis-server not found");
        return None;
    };
    // `--port 0` means "no TCP" to Redis: take a free port from the OS.
    let port = free_port();
    let child = Command::new(program)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let mut daemon = Daemon(child);
    listening(port, "redis-server");
    alive(&mut daemon, "redis-server");
    Some((daemon, format!("redis://127.0.0.1:{port}/")))
}

/// `haproxy` in front of `backends`, sending every request to the first one up
/// (health-checked every 100 ms), and its address; `None`: skipped.
fn haproxy(test: &str, backends: &[SocketAddr]) -> Option<(Daemon, SocketAddr, tempdir::Dir)> {
    // `haproxy -v`, not `--version`.
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        programs::skip(test, "haproxy not found");
        return None;
    }
    let program = "haproxy";
    let port = free_port();
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, addr)| format!("  server node{i} {addr} check inter 100ms fall 1 rise 2\n"))
        .collect();
    let config = format!(
        "global\n  maxconn 256\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  \
         timeout server 30s\n  timeout tunnel 1h\n  option redispatch\n  retries 3\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
         backend nodes\n  balance first\n{servers}"
    );
    let dir = tempdir::Dir::new("haproxy");
    let path = dir.0.join("haproxy.cfg");
    std::fs::write(&path, config).expect("write haproxy.cfg");
    let child = Command::new(program)
        .arg("-f")
        .arg(&path)
        .arg("-db") // foreground
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    let mut daemon = Daemon(child);
    listening(port, "haproxy");
    alive(&mut daemon, "haproxy");
    Some((daemon, SocketAddr::from(([127, 0, 0, 1], port)), dir))
}

mod tempdir {
    /// A directory of its own, removed on drop.
    pub(crate) struct Dir(pub(crate) std::path::PathBuf);

    impl Dir {
        pub(crate) fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("tidings-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&path).expect("a temporary directory");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One line of `tidings sse --json` or `tidings sub`: its id, its event type and
/// the whole line.
fn parse(line: &str) -> (String, String, serde_json::Value) {
    let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    let id = value["id"].as_str().expect("an id").to_owned();
    let event = value["event"].as_str().unwrap_or("message").to_owned();
    (id, event, value)
}

/// The first `n` events (id, type, data) of `GET /events` with `Last-Event-ID`.
fn sse(addr: SocketAddr, last_event_id: &str, n: usize) -> Vec<(String, String, String)> {
    use std::io::{BufRead, BufReader, Write};
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        tcp,
        "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\
         Last-Event-ID: {last_event_id}\r\n\r\n"
    )
    .expect("request");
    let mut lines = BufReader::new(tcp).lines();
    // The head, then events: `retry` alone, comments, and ones with an id.
    for line in lines.by_ref() {
        if line.expect("a head").is_empty() {
            break;
        }
    }
    let mut events = Vec::new();
    let (mut id, mut event, mut data) = (String::new(), String::from("message"), String::new());
    while events.len() < n {
        let line = lines.next().expect("an event").expect("an event in time");
        if line.is_empty() {
            if !id.is_empty() {
                events.push((
                    std::mem::take(&mut id),
                    event.clone(),
                    std::mem::take(&mut data),
                ));
            }
            event = "message".into();
        } else if let Some((field, value)) = line.split_once(": ") {
            match field {
                "id" => id = value.into(),
                "event" => event = value.into(),
                "data" => data = value.into(),
                _ => {}
            }
        }
    }
    events
}

fn offset(id: &str) -> u64 {
    let (_, offset) = id.split_once(':').expect("EPOCH:OFFSET");
    offset.parse().expect("an offset")
}

#[test]
fn sse_fails_over_to_another_node_through_haproxy_with_no_gap_and_no_duplicate() {
    let test = "sse_fails_over_to_another_node_through_haproxy_with_no_gap_and_no_duplicate";
    let Some((_redis, url)) = redis(test) else {
        return;
    };
    let node = |name: &str| {
        let args = ["--redis", &url, "--node-name", name, "--tick-ms", "50"];
        server("demo", &args)
    };
    let (a, a_addr) = node("A");
    let (_b, b_addr) = node("B");
    let Some((_haproxy, front, _dir)) = haproxy(test, &[a_addr, b_addr]) else {
        return;
    };
    let client = Running::start(&["sse", "--json", &format!("http://{front}/events")]);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (id, event, _) = parse(&client.line());
        assert_eq!(event, "message");
        ids.push(id);
    }
    // Node A serves the stream (haproxy's `balance first`).
    a.log_line("event stream opened");
    // And a chat member, on node A too.
    let chat = Running::start(&["ws", &format!("ws://{front}/ws")]);
    a.log_line("WebSocket connected");
    let say = |text: &str| {
        let mut publisher = Running::start(&["pub", "--redis", &url, "chat", text]);
        let position = publisher.line();
        let _ = publisher.child.wait();
        position
    };
    let first = say(r#"{"from":"script","text":"one"}"#);
    let copy: serde_json::Value = serde_json::from_str(&chat.line()).expect("JSON");
    assert_eq!(
        (&copy["text"], &copy["id"]),
        (&"one".into(), &first.as_str().into())
    );
    // Kill A.
    drop(a);
    let killed_at = offset(ids.last().expect("ids"));
    // The client reconnects after the retry (1 s) through haproxy, to B, with
    // Last-Event-ID; the ticks of both nodes went on meanwhile, in Redis.
    let deadline = Instant::now() + Duration::from_secs(20);
    while offset(ids.last().expect("ids")) < killed_at + 40 {
        assert!(Instant::now() < deadline, "no resumption: {ids:?}");
        let (id, event, line) = parse(&client.line());
        assert_eq!(event, "message", "no discontinuity: {line}");
        ids.push(id);
    }
    // The chat member's connection died with A; what was said meanwhile, it gets
    // when it reconnects through haproxy (to B) with its token.
    let missed = [say("two"), say("three")];
    let token = copy["id"].as_str().expect("an id");
    let chat = Running::start(&["ws", &format!("ws://{front}/ws?since={token}")]);
    for (position, text) in missed.iter().zip(["two", "three"]) {
        let message: serde_json::Value = serde_json::from_str(&chat.line()).expect("JSON");
        assert_eq!(
            (&message["id"], &message["text"]),
            (&position.as_str().into(), &text.into())
        );
    }
    let epoch = ids[0].split_once(':').expect("EPOCH:OFFSET").0;
    for pair in ids.windows(2) {
        assert!(
            pair[1].starts_with(&format!("{epoch}:")),
            "one epoch: {ids:?}"
        );
        assert_eq!(
            offset(&pair[1]),
            offset(&pair[0]) + 1,
            "no gap, no duplicate: {ids:?}"
        );
    }
}

#[test]
fn resumes_from_redis_and_discontinuities_through_the_demo_and_sub() {
    let test = "resumes_from_redis_and_discontinuities_through_the_demo_and_sub";
    let Some((_redis, url)) = redis(test) else {
        return;
    };
    // 300 ticks published by a script; the streams are trimmed to about 10 (whole
    // nodes of 100 entries), so the first ones are gone from Redis.
    let mut publisher = Running::start(&["pub", "--redis", &url, "--max-len", "10", "ticker"]);
    {
        use std::io::Write;
        let mut stdin = publisher.stdin.take().expect("stdin");
        for i in 1..=300 {
            writeln!(stdin, "{{\"tick\":{i}}}").expect("write");
        }
    }
    let positions: Vec<String> = (0..300).map(|_| publisher.line()).collect();
    assert_eq!(offset(&positions[0]), 1);
    assert_eq!(offset(&positions[299]), 300);
    // The node keeps 8 events in memory and reads older ones from Redis.
    let args = [
        "--redis",
        &url,
        "--history",
        "8",
        "--redis-max-len",
        "10",
        "--no-ticker",
    ];
    let (_node, addr) = server("demo", &args);
    // Older than the node's memory, still in Redis: exact.
    let events = sse(addr, &positions[289], 10);
    let ids: Vec<_> = events.iter().map(|event| event.0.clone()).collect();
    assert_eq!(ids, positions[290..]);
    assert!(events.iter().all(|event| event.1 == "message"));
    // Older than what Redis holds: the documented discontinuity first.
    let events = sse(addr, &positions[0], 2);
    let (id, event, data) = &events[0];
    assert_eq!(event, "discontinuity", "{data}");
    let gap: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(gap["reason"], "expired", "{gap}");
    assert_eq!(gap["from"], positions[0].as_str());
    assert_eq!(gap["resume"], id.as_str());
    assert_eq!(offset(&events[1].0), offset(id) + 1);
    // A position of another history (Redis lost its data since): epoch_changed.
    let events = sse(addr, "abc:5", 1);
    assert_eq!(events[0].1, "discontinuity");
    assert!(events[0].2.contains("\"epoch_changed\""), "{events:?}");
    // `tidings sub` resumes the same way.
    let since = positions[294].as_str();
    let sub = Running::start(&[
        "sub", "--redis", &url, "ticker", "--since", since, "--count", "5",
    ]);
    for expected in &positions[295..] {
        let (id, _, line) = parse(&sub.line());
        assert_eq!(&id, expected, "{line}");
    }
}
