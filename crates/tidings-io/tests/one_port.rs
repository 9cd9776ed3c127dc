//! The `one_port` example, run on 127.0.0.1:0: the page, the event stream (two
//! ticks, then a resumption with `Last-Event-ID`) and the WebSocket echo, all on
//! one listener; other paths get 404.
#![cfg(feature = "tokio")]

#[path = "../examples/one_port.rs"]
#[allow(dead_code)] // The example's `main`.
mod one_port;

use std::time::Duration;

use futures_util::StreamExt;
use tidings_io::sse::{ClientConfig, EventSource};
use tidings_io::{CloseCode, Config, Error, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends `request` and reads until `done` says the response so far is enough.
async fn exchange(addr: &str, request: &str, done: impl Fn(&str) -> bool) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !done(&String::from_utf8_lossy(&response)) {
        let n = tcp.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn page_events_and_websocket_on_one_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(one_port::serve(listener, Duration::from_millis(10)));

    // The page: read to the end (Connection: close).
    let page = exchange(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", |_| false).await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.ends_with("</script>\n"), "{page}");

    // Two ticks through the EventSource client.
    let mut config = ClientConfig::default();
    config.event_source.reconnection_time = Duration::from_millis(20);
    let source = EventSource::connect_url(&format!("http://{addr}/events"), config).unwrap();
    let ticks: Vec<(String, String)> = source
        .messages()
        .take(2)
        .map(|e| {
            let e = e.unwrap();
            (e.data().to_owned(), e.last_event_id().to_owned())
        })
        .collect()
        .await;
    assert_eq!(
        ticks,
        [("tick 1".into(), "1".into()), ("tick 2".into(), "2".into())]
    );

    // Resuming after tick 2: the stream starts at tick 3.
    let resumed = exchange(
        &addr,
        "GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 2\r\n\r\n",
        |r| {
            r.contains("\r\n\r\n")
                && r.split("\r\n\r\n")
                    .nth(1)
                    .is_some_and(|b| b.contains("\n\n"))
        },
    )
    .await;
    let (head, body) = resumed.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    assert!(body.starts_with("id: 3\ndata: tick 3\n\n"), "{body}");

    // The WebSocket echo.
    let mut ws = tidings_io::connect_url(&format!("ws://{addr}/ws"), Config::default())
        .await
        .unwrap();
    ws.send(Message::text("one port")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("one port"));
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // Elsewhere: 404, for an upgrade and for a plain request; other methods: 405.
    match tidings_io::connect_url(&format!("ws://{addr}/nope"), Config::default()).await {
        Err(Error::Rejected { status: 404 }) => {}
        other => panic!("expected 404, got {other:?}"),
    }
    let missing = exchange(&addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", |_| false).await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let post = exchange(
        &addr,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        |_| false,
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    server.abort();
}
