//! Server-Sent Events over loopback on tokio: the writer, the client, and both
//! against hand-written HTTP peers. Every test bounds itself with a timeout.
#![cfg(feature = "tokio")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tidings_io::Tokio;
use tidings_io::sse::{ClientConfig, Error, Event, EventSource, ServerConfig, SseWriter};
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
                .map(|n| Event::data(format!("event {n}")).id(n.to_string()));
            let mut writer = SseWriter::start(io, ServerConfig::default()).await.unwrap();
            // The client leaves once it has all ten events, which on the last round can
            // happen before `run` returns; on earlier rounds a departure is a failure.
            match writer.run(events).await {
                Ok(()) => {}
                Err(tidings_io::sse::Error::PeerClosed) if after + 3 >= 10 => {}
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
    let events: Vec<_> = timeout(LIMIT, source.take(10).collect()).await.unwrap();
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
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
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
    assert_eq!(source.reconnection_time(), Duration::from_millis(300));
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

#[tokio::test]
async fn status_204_stops() {
    let (listener, base) = listen().await;
    let answers = vec!["HTTP/1.1 204 No Content\r\n\r\n".to_owned(); 2];
    let heads = spawn_raw_server(listener, answers);
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    assert!(timeout(LIMIT, source.next()).await.unwrap().is_none());
    assert_eq!(source.ready_state(), tidings_io::sse::ReadyState::Closed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(heads.lock().unwrap().len(), 1, "no reconnection after 204");
    assert!(source.next().await.is_none());
}

#[tokio::test]
async fn fatal_status_and_wrong_content_type_fail() {
    let (listener, base) = listen().await;
    spawn_raw_server(
        listener,
        vec!["HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ndata: x\n\n".into()],
    );
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let result = timeout(LIMIT, source.next()).await.unwrap();
    assert!(
        matches!(result, Some(Err(Error::ContentType))),
        "{result:?}"
    );
    assert!(source.next().await.is_none());

    let (listener, base) = listen().await;
    spawn_raw_server(
        listener,
        vec!["HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n".into()],
    );
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let result = timeout(LIMIT, source.next()).await.unwrap();
    assert!(
        matches!(result, Some(Err(Error::Status(503)))),
        "{result:?}"
    );
}

#[tokio::test]
async fn redirects_are_followed_to_another_host() {
    let (events_listener, events_base) = listen().await;
    spawn_raw_server(
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
    let mut source = EventSource::connect_url(&format!("{base}/start"), quick_client()).unwrap();
    let event = timeout(LIMIT, source.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.data(), "moved");
    let heads = heads.lock().unwrap();
    assert!(heads[0].starts_with("GET /start HTTP/1.1\r\n"), "{heads:?}");
    assert!(heads[1].starts_with("GET /next HTTP/1.1\r\n"), "{heads:?}");
    assert!(
        heads[0].contains("\r\nAccept: text/event-stream\r\n"),
        "{heads:?}"
    );
}

#[tokio::test]
async fn redirect_loop_is_limited() {
    let (listener, base) = listen().await;
    let answer = "HTTP/1.1 301 Moved\r\nLocation: /loop\r\n\r\n".to_owned();
    let heads = spawn_raw_server(listener, vec![answer; 20]);
    let mut config = quick_client();
    config.max_redirects = 3;
    let mut source = EventSource::connect_url(&format!("{base}/loop"), config).unwrap();
    let result = timeout(LIMIT, source.next()).await.unwrap();
    assert!(
        matches!(result, Some(Err(Error::TooManyRedirects { limit: 3 }))),
        "{result:?}"
    );
    assert!(source.next().await.is_none());
    assert_eq!(
        heads.lock().unwrap().len(),
        4,
        "the request and three redirects"
    );
}

#[tokio::test]
async fn chunked_and_length_bodies() {
    let (listener, base) = listen().await;
    let chunked = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                   3;ext=1\r\nid:\r\n7\r\n 1\ndata\r\n4\r\n: a\n\r\n1\r\n\n\r\n0\r\nTrailer: x\r\n\r\n";
    let length = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\
                  Content-Length: 15\r\n\r\nid: 2\ndata: b\n\nDROPPED";
    spawn_raw_server(listener, vec![chunked.into(), length.into()]);
    let source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let events: Vec<_> = timeout(LIMIT, source.take(2).collect()).await.unwrap();
    let got: Vec<_> = events
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            (e.last_event_id().to_owned(), e.data().to_owned())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1".to_owned(), "a".to_owned()),
            ("2".to_owned(), "b".to_owned())
        ]
    );
}

#[tokio::test]
async fn request_carries_headers_and_https_is_refused() {
    let (listener, base) = listen().await;
    let heads = spawn_raw_server(listener, vec!["HTTP/1.1 204 No Content\r\n\r\n".into()]);
    let mut config = quick_client();
    config
        .headers
        .push(("Authorization".into(), "Bearer t".into()));
    let mut source = EventSource::connect_url(&format!("{base}/p?q=1"), config).unwrap();
    assert!(timeout(LIMIT, source.next()).await.unwrap().is_none());
    let head = heads.lock().unwrap()[0].clone();
    assert!(
        head.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:"),
        "{head}"
    );
    for line in [
        "Accept: text/event-stream",
        "Cache-Control: no-store",
        "Authorization: Bearer t",
    ] {
        assert!(head.contains(&format!("\r\n{line}\r\n")), "{head}");
    }
    assert!(!head.contains("Last-Event-ID"), "{head}");

    let https = EventSource::connect_url("https://127.0.0.1:1/", ClientConfig::default());
    assert!(matches!(https, Err(Error::TlsUnsupported)));
    let mut config = ClientConfig::default();
    config.headers.push(("Bad\r\nName".into(), "x".into()));
    assert!(matches!(
        EventSource::connect_url(&base, config),
        Err(Error::InvalidHeader)
    ));
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
    assert!(matches!(result, Err(Error::PeerClosed)), "{result:?}");
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
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert_eq!(start.elapsed().as_secs(), 10);
}

#[tokio::test]
async fn malformed_chunk_is_a_network_error_and_reconnects() {
    let (listener, base) = listen().await;
    let broken = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                  10\r\nid: 5\ndata: ok\n\n\r\nZZ\r\nid: 6\ndata: lost\n\n";
    let heads = spawn_raw_server(
        listener,
        vec![broken.into(), "HTTP/1.1 204 No Content\r\n\r\n".into()],
    );
    let mut source = EventSource::connect_url(&format!("{base}/"), quick_client()).unwrap();
    let event = timeout(LIMIT, source.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((event.last_event_id(), event.data()), ("5", "ok"));
    assert!(timeout(LIMIT, source.next()).await.unwrap().is_none());
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2);
    assert!(heads[1].contains("\r\nLast-Event-ID: 5\r\n"), "{heads:?}");
}
