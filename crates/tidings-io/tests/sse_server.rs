//! The SSE server against clients that do not read: the write timeout cuts them off,
//! and a broadcast to many subscribers never waits on the slowest one.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tidings_io::Tokio;
use tidings_io::sse::{self, Error, ServerConfig, ServerSentEvent, SseWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout};

/// A client that reads nothing: `send` fails at the write timeout (30 s by default,
/// exactly, on tokio's paused clock), and so does `close`.
#[tokio::test(start_paused = true)]
async fn write_timeout_bounds_send_and_close() {
    let (server, _never_reads) = tokio::io::duplex(4096);
    let mut writer = SseWriter::start(Tokio::new(server), ServerConfig::default())
        .await
        .unwrap();
    let start = Instant::now();
    let big = ServerSentEvent::data("x".repeat(64 * 1024));
    let sent = timeout(Duration::from_secs(60), writer.send(&big))
        .await
        .expect("send waits forever");
    assert!(matches!(sent, Err(Error::WriteTimeout)), "{sent:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    let closed = timeout(Duration::from_secs(60), writer.close())
        .await
        .expect("close waits forever");
    assert!(matches!(closed, Err(Error::WriteTimeout)), "{closed:?}");
}

/// One subscriber's stream from a broadcast: it ends when the subscriber falls
/// behind (lagged), so a slow one is dropped instead of slowing the others down.
fn subscribe(rx: broadcast::Receiver<Arc<str>>) -> impl Stream<Item = ServerSentEvent> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await.ok()?;
        Some((ServerSentEvent::data(&*data), rx))
    })
}

/// Three subscribers of one broadcast over loopback, one of which never reads:
/// that one is cut off at the write timeout while the publisher keeps publishing
/// (it never waits), and the two others receive every event, before and after.
#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped_and_the_others_keep_receiving() {
    const EVENTS: usize = 400;
    const SIZE: usize = 16 * 1024;
    const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, _) = broadcast::channel::<Arc<str>>(256);
    let start = Instant::now();

    // The server: every subscriber's writer runs on its own task, fed by its own
    // receiver; each reports how and when its stream ended.
    let subscribers = tx.clone();
    let server = tokio::spawn(async move {
        let mut writers = Vec::new();
        for _ in 0..3 {
            let (tcp, _) = listener.accept().await.unwrap();
            let rx = subscribers.subscribe();
            writers.push(tokio::spawn(async move {
                let mut io = Tokio::new(tcp);
                let request = sse::read_request(&mut io, &ServerConfig::default())
                    .await
                    .unwrap();
                let mut config = ServerConfig::default();
                config.write_timeout = Some(WRITE_TIMEOUT);
                let mut writer = SseWriter::start(io, config).await.unwrap();
                let ended = writer.run(subscribe(rx)).await;
                (request.query().map(str::to_owned), ended, Instant::now())
            }));
        }
        drop(subscribers);
        writers
    });

    // Two readers, and one client that sends its request and reads nothing, with a
    // small receive buffer so the server's writes stall soon.
    let request = |who: &str| format!("GET /events?{who} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut readers = Vec::new();
    for who in ["a", "b"] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request(who).as_bytes()).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut received = Vec::new();
            tcp.read_to_end(&mut received).await.unwrap();
            received
        }));
    }
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(addr).await.unwrap();
    stuck.write_all(request("stuck").as_bytes()).await.unwrap();
    let writers = server.await.unwrap();

    // The publisher: one event every 2 ms, never waiting for anyone.
    let payload = "x".repeat(SIZE);
    for n in 0..EVENTS {
        tx.send(Arc::from(format!("{n} {payload}"))).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let published = Instant::now();
    drop(tx);

    for writer in writers {
        let (who, ended, at) = timeout(Duration::from_secs(10), writer)
            .await
            .expect("a writer waits forever")
            .unwrap();
        match who.as_deref() {
            Some("stuck") => {
                assert!(matches!(ended, Err(Error::WriteTimeout)), "{ended:?}");
                // Cut off while the others were still being served, within the time
                // to fill the kernel's buffers plus the write timeout.
                assert!(at < published, "dropped only after the last event");
                let after = at - start;
                assert!(after < Duration::from_secs(3), "dropped after {after:?}");
            }
            _ => assert!(ended.is_ok(), "{ended:?}"),
        }
    }
    for reader in readers {
        let received = timeout(Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8(received).unwrap();
        let (_head, body) = text.split_once("\r\n\r\n").unwrap();
        let events: Vec<&str> = body
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .collect();
        // Every event, in order: the stuck subscriber held nobody up.
        assert_eq!(events.len(), EVENTS);
        for (n, event) in events.iter().enumerate() {
            assert!(event.starts_with(&format!("{n} ")), "event {n}");
        }
    }
    drop(stuck);
}
