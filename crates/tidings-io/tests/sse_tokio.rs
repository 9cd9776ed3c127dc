//! Server-Sent Events over loopback on tokio: the writer, the client, and both
//! against hand-written HTTP peers. Every test bounds itself with a timeout.
#![cfg(feature = "tokio")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tidings_io::sse::{
    Cause, ClientConfig, Dial, Error, EventSource, ServerConfig, ServerSentEvent, SseWriter,
};
use tidings_io::{Dialer, Tokio};
use tidings_sse::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

/// A client config with a short, exact reconnection time.
fn quick_client() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.event_source.reconnection_time = Duration::from_millis(20);
    config.event_source.backoff = None;
    config
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Reads a request head (up to the blank line) from a raw socket.
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A server built with the writer: events `1..=total`, each with its number as
/// ID, resuming after the request's `Last-Event-ID`; every connection carries
/// `per_connection` events and then half of the next one before it drops.
/// Records the `Last-Event-ID` of every request.
fn spawn_resuming_server(
    listener: TcpListener,
    total: u64,
    per_connection: u64,
) -> Arc<Mutex<Vec<Option<String>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok(Ok((tcp, _))) = timeout(LIMIT, listener.accept()).await {
            let mut io = Tokio::new(tcp);
            let request = tidings_io::sse::read_request(&mut io, &ServerConfig::default())
                .await
                .unwrap();
            log.lock()
                .unwrap()
                .push(request.last_event_id().map(str::to_owned));
            let after: u64 = request.last_event_id().map_or(0, |id| id.parse().unwrap());
            let last = (after + per_connection).min(total);
            let events = futures_util::stream::iter(after + 1..=last)
                .map(|n| ServerSentEvent::data(format!("event {n}")).id(n.to_string()));
            let mut writer = SseWriter::start(io, ServerConfig::default()).await.unwrap();
            // The client leaves once it has all ten events, which on the last round can
            // happen before `run` returns; on earlier rounds a departure is a failure.
            match writer.run(events).await {
                Ok(()) => {}
                Err(tidings_io::sse::Error::Closed) if after + 3 >= 10 => {}
                Err(e) => panic!("round after {after}: {e}"),
            }
            // Mid-event: an id and data, but no blank line to dispatch them.
            let mut tcp = writer.into_inner().into_inner();
            let _ = tcp.write_all(b"id: 999\ndata: never dispatched").await;
        }
    });
    seen
}

#[tokio::test]
async fn reconnects_with_last_event_id_without_gap_or_duplicate() {
    let (listener, base) = listen().await;
    let seen = spawn_resuming_server(listener, 10, 3);
    let source = EventSource::connect_url(&format!("{base}/events"), quick_client()).unwrap();
    let events: Vec<_> = timeout(LIMIT, source.messages().take(10).collect())
        .await
        .unwrap();
    let got: Vec<(String, String)> = events
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            (e.last_event_id().to_owned(), e.data().to_owned())
        })
        .collect();
    let want: Vec<(String, String)> = (1..=10)
        .map(|n| (n.to_string(), format!("event {n}")))
        .collect();
    assert_eq!(got, want);
    let ids = seen.lock().unwrap().clone();
    let want_ids = [None, Some("3"), Some("6"), Some("9")].map(|id| id.map(str::to_owned));
    assert_eq!(ids, want_ids);
}

#[tokio::test]
async fn retry_delay_is_honoured() {
    let (listener, base) = listen().await;
    let times = Arc::new(Mutex::new(Vec::new()));
    let log = times.clone();
    tokio::spawn(async move {
        for n in 0..2u32 {
            let (mut tcp, _) = listener.accept().await.unwrap();
            log.lock().unwrap().push(tokio::time::Instant::now());
            read_head(&mut tcp).await;
            let body = format!("retry: 300\nid: {n}\ndata: {n}\n\n");
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
            tcp.write_all(format!("{head}{body}").as_bytes())
                .await
                .unwrap();
            // Dropping the socket ends the body: the client waits 300 ms.
        }
    });
    let source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let mut source = source.messages();
    let first = timeout(LIMIT, source.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let second = timeout(LIMIT, source.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((first.data(), second.data()), ("0", "1"));
    let times = times.lock().unwrap();
    let waited = times[1] - times[0];
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(3)).contains(&waited),
        "reconnected after {waited:?}"
    );
}

/// Serves `answers` in turn, one per connection, with the raw bytes given.
fn spawn_raw_server(listener: TcpListener, answers: Vec<String>) -> Arc<Mutex<Vec<String>>> {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let log = heads.clone();
    tokio::spawn(async move {
        for answer in answers {
            let Ok(Ok((mut tcp, _))) = timeout(LIMIT, listener.accept()).await else {
                return;
            };
            let head = read_head(&mut tcp).await;
            log.lock().unwrap().push(head);
            let _ = tcp.write_all(answer.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
    });
    heads
}

/// Everything the stream yields until it ends, or `LIMIT`.
async fn all_items<D: Dial>(source: EventSource<D>) -> Vec<Result<Event, Error>> {
    timeout(LIMIT, source.collect()).await.unwrap()
}

#[tokio::test]
async fn status_204_stops() {
    let (listener, base) = listen().await;
    let answers = vec!["HTTP/1.1 204 No Content\r\n\r\n".to_owned(); 2];
    let heads = spawn_raw_server(listener, answers);
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let first = timeout(LIMIT, source.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(Event::Connect(_)))), "{first:?}");
    assert!(timeout(LIMIT, source.next()).await.unwrap().is_none());
    assert_eq!(
        source.client().ready_state(),
        tidings_io::sse::ReadyState::Closed
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(heads.lock().unwrap().len(), 1, "no reconnection after 204");
    assert!(source.next().await.is_none());
}

#[tokio::test]
async fn fatal_status_and_wrong_content_type_fail() {
    for (answer, cause) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ndata: x\n\n",
            Cause::ContentType,
        ),
        (
            "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            Cause::Status(503),
        ),
    ] {
        let (listener, base) = listen().await;
        spawn_raw_server(listener, vec![answer.into()]);
        let source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
        let items = all_items(source).await;
        match &items[..] {
            [Ok(Event::Connect(_)), Err(Error::Failed(got))] => assert_eq!(*got, cause),
            other => panic!("{other:?}"),
        }
    }
}

/// The driver drops the connection and dials the next hop itself; credentials stay
/// with their origin (the HTTP rules are tidings-sse's, tested there).
#[tokio::test]
async fn redirects_are_followed_to_another_host() {
    let (events_listener, events_base) = listen().await;
    let other = spawn_raw_server(
        events_listener,
        vec!["HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: moved\n\n".into()],
    );
    let (listener, base) = listen().await;
    let heads = spawn_raw_server(
        listener,
        vec![
            // A relative Location first, then an absolute one to the other port.
            "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n".into(),
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {events_base}/final\r\n\r\n"),
        ],
    );
    let mut config = quick_client();
    config
        .headers
        .push(("Authorization".into(), "Bearer secret".into()));
    let source = EventSource::connect_url(&format!("{base}/start"), config).unwrap();
    let mut events = source.messages();
    let event = timeout(LIMIT, events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.data(), "moved");
    let heads = heads.lock().unwrap();
    assert!(heads[0].starts_with("GET /start HTTP/1.1\r\n"), "{heads:?}");
    assert!(heads[1].starts_with("GET /next HTTP/1.1\r\n"), "{heads:?}");
    assert!(
        heads
            .iter()
            .all(|h| h.contains("\r\nAuthorization: Bearer secret\r\n"))
    );
    let other = other.lock().unwrap();
    assert!(other[0].starts_with("GET /final HTTP/1.1\r\n"), "{other:?}");
    assert!(!other[0].contains("secret"), "{other:?}");
}

#[tokio::test]
async fn request_carries_headers_and_local_errors_come_first() {
    let (listener, base) = listen().await;
    let heads = spawn_raw_server(listener, vec!["HTTP/1.1 204 No Content\r\n\r\n".into()]);
    let mut config = quick_client();
    config.headers.push(("X-Token".into(), "t".into()));
    let source = EventSource::connect_url(&format!("{base}/p?q=1"), config).unwrap();
    all_items(source).await;
    let head = heads.lock().unwrap()[0].clone();
    assert!(
        head.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:"),
        "{head}"
    );
    for line in [
        "Accept: text/event-stream",
        "Cache-Control: no-store",
        "X-Token: t",
    ] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{head}");
    }
    assert!(!head.contains("Last-Event-ID"), "{head}");

    // A dialer without TLS refuses `https://` up front (`connect_url` has TLS with
    // the `rustls` feature, and refuses it the same way without).
    let https = EventSource::new(
        "https://127.0.0.1:1/",
        Dialer::tcp(),
        ClientConfig::default(),
    );
    assert!(matches!(https, Err(Error::TlsUnsupported)));
    for (name, error) in [
        ("Bad\r\nName", tidings_sse::LocalError::InvalidHeader),
        ("Content-Length", tidings_sse::LocalError::ForbiddenHeader),
    ] {
        let mut config = ClientConfig::default();
        config.headers.push((name.into(), "1".into()));
        let result = EventSource::connect_url(&base, config);
        assert!(
            matches!(result, Err(Error::LocalSse(e)) if e == error),
            "{name}"
        );
    }
}

/// The application sees the reconnection and the warnings, as a browser's `open` and
/// `error` events show them.
#[tokio::test]
async fn reconnections_and_warnings_are_yielded() {
    let (listener, base) = listen().await;
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 0\ndata: x\n\n";
    spawn_raw_server(
        listener,
        vec![answer.into(), "HTTP/1.1 204 No Content\r\n\r\n".into()],
    );
    let source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let items: Vec<Event> = all_items(source)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let kinds: Vec<&str> = items
        .iter()
        .map(|e| match e {
            Event::Connect(_) => "connect",
            Event::Open => "open",
            Event::Message(_) => "message",
            Event::Warning(_) => "warning",
            Event::Error { .. } => "error",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["connect", "open", "warning", "message", "error", "connect"]
    );
    assert!(matches!(
        items[4],
        Event::Error {
            cause: Cause::Disconnected,
            ..
        }
    ));
}

/// Issue 14, point 5: the head, then nothing, held the client forever. The machine's
/// read timeout fires on the runtime's clock (paused here: 45 s pass at once).
#[tokio::test(start_paused = true)]
async fn a_silent_server_is_left_after_the_read_timeout() {
    let (listener, base) = listen().await;
    let heads = Arc::new(Mutex::new(Vec::new()));
    let log = heads.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..2 {
            let (mut tcp, _) = listener.accept().await.unwrap();
            log.lock().unwrap().push(tokio::time::Instant::now());
            read_head(&mut tcp).await;
            tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                .await
                .unwrap();
            held.push(tcp);
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let start = tokio::time::Instant::now();
    loop {
        match timeout(Duration::from_secs(120), source.next())
            .await
            .unwrap()
        {
            Some(Ok(Event::Error { cause, .. })) => {
                assert_eq!(cause, Cause::Error(tidings_sse::Error::ReadTimeout));
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(start.elapsed().as_secs(), 45);
    // And it reconnects.
    while !matches!(source.next().await, Some(Ok(Event::Open))) {}
    assert_eq!(heads.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn keep_alive_comments_on_a_short_timer() {
    let (listener, base) = listen().await;
    let addr = base.trim_start_matches("http://").to_owned();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = Tokio::new(tcp);
        let mut config = ServerConfig::default();
        config.keep_alive = Some(Duration::from_millis(30));
        config.retry = Some(Duration::from_secs(1));
        let request = tidings_io::sse::read_request(&mut io, &config)
            .await
            .unwrap();
        assert_eq!(request.path(), "/ka");
        let mut writer = SseWriter::start(io, config).await.unwrap();
        // No events ever: only keep-alives, until the client leaves.
        writer.run(futures_util::stream::pending()).await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let want_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                     Connection: close\r\n\r\nretry: 1000\n\n";
    let read_all = async {
        let mut buf = [0u8; 256];
        while received.len() < want_head.len() + 6 {
            let n = tcp.read(&mut buf).await.unwrap();
            assert_ne!(n, 0);
            received.extend_from_slice(&buf[..n]);
        }
    };
    timeout(LIMIT, read_all).await.unwrap();
    let text = String::from_utf8(received).unwrap();
    let keep_alives = text
        .strip_prefix(want_head)
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(keep_alives.len() >= 6, "{text:?}");
    assert_eq!(
        keep_alives.replace(":\n", ""),
        "",
        "only keep-alives: {text:?}"
    );
    drop(tcp);
    // The writer notices the closed peer without any event to write.
    let result = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(matches!(result, Err(Error::Closed)), "{result:?}");
}

const TOO_MANY_HEADERS: &str = concat!(
    "GET / HTTP/1.1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "a: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\nh: 1\r\ni: 1\r\nj: 1\r\n",
    "Host: x\r\n\r\n",
);

#[tokio::test]
async fn server_answers_bad_requests() {
    let cases: [(&[u8], u16); 3] = [
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: a\r\nLast-Event-ID: b\r\n\r\n",
            400,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        (TOO_MANY_HEADERS.as_bytes(), 431),
    ];
    for (request, status) in cases {
        let (listener, base) = listen().await;
        let addr = base.trim_start_matches("http://").to_owned();
        let client = tokio::spawn(async move {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(request).await.unwrap();
            let mut answer = Vec::new();
            let _ = tcp.read_to_end(&mut answer).await;
            String::from_utf8_lossy(&answer).into_owned()
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = Tokio::new(tcp);
        let result = tidings_io::sse::read_request(&mut io, &ServerConfig::default()).await;
        assert_eq!(
            result.as_ref().err().and_then(Error::status),
            Some(status),
            "{result:?}"
        );
        drop(io);
        let answer = timeout(LIMIT, client).await.unwrap().unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn request_head_timeout_on_paused_clock() {
    let (listener, base) = listen().await;
    let addr = base.trim_start_matches("http://").to_owned();
    let _silent = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HT").await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let mut io = Tokio::new(tcp);
    let start = tokio::time::Instant::now();
    let result = tidings_io::sse::read_request(&mut io, &ServerConfig::default()).await;
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert_eq!(start.elapsed().as_secs(), 10);
}

/// Issue 14, point 4: a server that sends `retry: 0` and closes after each event got
/// 34,000 requests in 10 s from one client. The floor on the reconnection time (100 ms
/// by default) holds it to about 10 a second, in real time, on a real socket.
#[tokio::test]
async fn retry_zero_does_not_make_the_client_spin() {
    let (listener, base) = listen().await;
    let requests = Arc::new(Mutex::new(0u32));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            read_head(&mut tcp).await;
            let answer =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 0\ndata: x\n\n";
            let _ = tcp.write_all(answer.as_bytes()).await;
        }
    });
    let mut source = EventSource::connect_url(&format!("{base}/"), ClientConfig::default())
        .unwrap()
        .messages();
    let _ = timeout(Duration::from_secs(1), async {
        while source.next().await.is_some() {}
    })
    .await;
    let requests = *requests.lock().unwrap();
    assert!((5..=11).contains(&requests), "{requests} requests in 1 s");
}
