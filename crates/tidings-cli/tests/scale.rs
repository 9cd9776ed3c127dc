//! Scale-out, end to end: `redis-server`, demo nodes sharing their topics through
//! it, `haproxy` in front, and clients that resume across nodes. Every server
//! listens on 127.0.0.1 on a port of its own and is killed when the test ends.
//! Without `redis-server` or `haproxy` the tests are skipped loudly (failures
//! under CI): see `common/programs.rs`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::daemons::{haproxy, nats, redis};
use common::{Running, server};

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
    fails_over(test, "--redis", &url);
}

#[test]
fn the_same_failover_on_nats_jetstream() {
    let test = "the_same_failover_on_nats_jetstream";
    let Some((_nats, url, _store)) = nats(test) else {
        return;
    };
    fails_over(test, "--nats", &url);
}

/// Two demo nodes sharing `broker` (`--redis` or `--nats`) at `url`, haproxy in
/// front: an SSE client and a chat member on node A, A killed; the SSE client
/// resumes on B with no gap and no duplicate, the chat member with its token.
fn fails_over(test: &str, broker: &str, url: &str) {
    let node = |name: &str| {
        let args = [broker, url, "--node-name", name, "--tick-ms", "50"];
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
        let mut publisher = Running::start(&["pub", broker, url, "chat", text]);
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
    // The chat, on WebSocket: a token older than Redis holds gets the documented
    // discontinuity message first, then what Redis still has.
    let mut chat = Running::start(&["pub", "--redis", &url, "--max-len", "10", "chat"]);
    {
        use std::io::Write;
        let mut stdin = chat.stdin.take().expect("stdin");
        for i in 1..=300 {
            writeln!(stdin, "{{\"text\":\"{i}\"}}").expect("write");
        }
    }
    let said: Vec<String> = (0..300).map(|_| chat.line()).collect();
    let member = Running::start(&["ws", &format!("ws://{addr}/ws?since={}", said[0])]);
    let first: serde_json::Value = serde_json::from_str(&member.line()).expect("JSON");
    let gap = &first["discontinuity"];
    assert_eq!(
        (&gap["reason"], &gap["from"]),
        (&"expired".into(), &said[0].as_str().into()),
        "{first}"
    );
    let resume = gap["resume"].as_str().expect("a resume token");
    let next: serde_json::Value = serde_json::from_str(&member.line()).expect("JSON");
    assert_eq!(
        offset(next["id"].as_str().expect("an id")),
        offset(resume) + 1,
        "{next}"
    );
    // From the earliest Redis holds: trimmed, so a discontinuity first.
    let sub = Running::start(&[
        "sub", "--redis", &url, "ticker", "--since", "earliest", "--count", "2",
    ]);
    let (resume, _, line) = parse(&sub.line());
    assert_eq!(line["discontinuity"]["reason"], "expired", "{line}");
    assert_eq!(offset(&parse(&sub.line()).0), offset(&resume) + 1);
}
