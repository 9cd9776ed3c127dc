//! The core SSE scenarios on smol (futures-io streams, async-io timers): resume
//! without gap or duplicate through a dropping server, 204, keep-alives.
#![cfg(feature = "futures-io")]

use std::time::Duration;

use futures_util::StreamExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use tidings_io::FuturesIo;
use tidings_io::sse::{ClientConfig, EventSource, ServerConfig, ServerSentEvent, SseWriter, Url};

const LIMIT: Duration = Duration::from_secs(10);

/// Runs `future` on smol, failing the test after [`LIMIT`].
fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    smol::block_on(async {
        let limit = async {
            smol::Timer::after(LIMIT).await;
            panic!("test timed out");
        };
        smol::future::or(future, limit).await
    })
}

fn dial(
    url: &Url,
) -> impl std::future::Future<Output = std::io::Result<FuturesIo<TcpStream>>> + use<> {
    let addr = (url.host().to_owned(), url.port());
    async move { TcpStream::connect(addr).await.map(FuturesIo::new) }
}

/// A short, exact reconnection time, and no read timeout: the stream must still wait
/// on its connection when the machine has no deadline.
fn quick_client() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.event_source.reconnection_time = Duration::from_millis(20);
    config.event_source.backoff = None;
    config.event_source.read_timeout = None;
    config
}

#[test]
fn reconnects_with_last_event_id_without_gap_or_duplicate() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let server = smol::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < 4 {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut io = FuturesIo::new(tcp);
                let request = tidings_io::sse::read_request(&mut io, &ServerConfig::default())
                    .await
                    .unwrap();
                seen.push(request.last_event_id().map(str::to_owned));
                let after: u64 = request.last_event_id().map_or(0, |id| id.parse().unwrap());
                let events = futures_util::stream::iter(after + 1..=(after + 3).min(10))
                    .map(|n| ServerSentEvent::data(format!("event {n}")).id(n.to_string()));
                let mut writer = SseWriter::start(io, ServerConfig::default()).await.unwrap();
                // The client leaves once it has all ten events, which on the last round can
                // happen before `run` returns; on earlier rounds a departure is a failure.
                match writer.run(events).await {
                    Ok(()) => {}
                    Err(tidings_io::sse::Error::Closed) if after + 3 >= 10 => {}
                    Err(e) => panic!("round after {after}: {e}"),
                }
                let mut tcp = writer.into_inner().into_inner();
                let _ = tcp.write_all(b"id: 999\ndata: never dispatched").await;
            }
            seen
        });
        let source = EventSource::new(&url, dial, quick_client()).unwrap();
        let events: Vec<_> = source.messages().take(10).collect().await;
        let ids: Vec<String> = events
            .into_iter()
            .map(|e| e.unwrap().last_event_id().to_owned())
            .collect();
        assert_eq!(ids, (1..=10).map(|n| n.to_string()).collect::<Vec<_>>());
        let seen = server.await;
        assert_eq!(
            seen,
            [None, Some("3".into()), Some("6".into()), Some("9".into())]
        );
    });
}

#[test]
fn status_204_stops() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let _server = smol::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 512];
            let _ = tcp.read(&mut head).await;
            tcp.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            // A second connection would hang here: the test would time out.
            let _ = listener.accept().await;
            panic!("reconnected after 204");
        });
        let mut source = EventSource::new(&url, dial, quick_client())
            .unwrap()
            .messages();
        assert!(source.next().await.is_none());
        smol::Timer::after(Duration::from_millis(100)).await;
    });
}

#[test]
fn keep_alive_comments_on_a_short_timer() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut io = FuturesIo::new(tcp);
            let mut config = ServerConfig::default();
            config.keep_alive = Some(Duration::from_millis(30));
            tidings_io::sse::read_request(&mut io, &config)
                .await
                .unwrap();
            let mut writer = SseWriter::start(io, config).await.unwrap();
            writer.run(futures_util::stream::pending()).await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 256];
        while received.iter().filter(|&&b| b == b':').count() < 3 + 3 {
            let n = tcp.read(&mut buf).await.unwrap();
            assert_ne!(n, 0);
            received.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(received).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.replace(":\n", ""), "", "{text:?}");
        drop(tcp);
        let result = server.await;
        assert!(
            matches!(result, Err(tidings_io::sse::Error::Closed)),
            "{result:?}"
        );
    });
}
