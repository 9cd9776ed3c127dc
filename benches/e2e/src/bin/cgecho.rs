//! Instruction counts of tidings-io's hot paths, for before-and-after comparisons on a
//! machine too noisy for timings (docs/performance.md, "Instruction counts"): a tidings
//! server and a tidings client in one process, on tokio's current-thread runtime, over
//! loopback. Under callgrind the count is deterministic to a few dozen instructions for
//! the WebSocket modes; the SSE mode interleaves many tasks, so run it a few times.
//!
//! ```text
//! CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
//!     cargo build --release -p tidings-e2e --bin cgecho
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/cgecho ws 5000 20
//! ```
//!
//! Modes:
//! - `ws N SIZE`: the client sends N binary messages of SIZE bytes, waiting for each echo;
//!   the server echoes on a whole `WebSocket`.
//! - `split N SIZE`: the same, against a server that splits its connection and echoes
//!   from the reader task through a channel to the writer task.
//! - `sse N SUBS`: SUBS `EventSource`s each read N JSON events from `read_request` +
//!   `SseWriter::run`.

use std::net::SocketAddr;

use futures_util::StreamExt;
use tidings_io::sse::{self, ClientConfig, ServerConfig, ServerSentEvent, SseWriter};
use tidings_io::{Config, Message, Tokio};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let (mode, n, size) = (args.first().map(String::as_str), number(1), number(2));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        match mode {
            Some("ws") => echo(listener, addr, n, size, false).await,
            Some("split") => echo(listener, addr, n, size, true).await,
            Some("sse") => events(listener, addr, n, size).await,
            _ => usage(),
        }
    });
}

fn usage() -> ! {
    eprintln!("usage: cgecho ws|split N SIZE | cgecho sse N SUBSCRIBERS");
    std::process::exit(2)
}

async fn echo(listener: TcpListener, addr: SocketAddr, n: usize, size: usize, split: bool) {
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let mut ws = tidings_io::accept(Tokio::new(tcp), Config::default())
            .await
            .expect("handshake");
        if !split {
            while let Some(Ok(message)) = ws.recv().await {
                if matches!(message, Message::Binary(_)) && ws.send(message).await.is_err() {
                    break;
                }
            }
            return;
        }
        let (mut reader, mut writer) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(16);
        let writing = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(message) = rx.recv() => {
                        if writer.send(message).await.is_err() { break }
                    }
                    _ = writer.closed() => break,
                }
            }
        });
        while let Some(Ok(message)) = reader.recv().await {
            if matches!(message, Message::Binary(_)) && tx.send(message).await.is_err() {
                break;
            }
        }
        drop(tx);
        let _ = writing.await;
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let url = format!("ws://{addr}/");
    let mut ws = tidings_io::connect(Tokio::new(tcp), &url, Config::default())
        .await
        .expect("handshake");
    let payload = bytes::Bytes::from(vec![0x5a; size]);
    for _ in 0..n {
        ws.send(Message::Binary(payload.clone()))
            .await
            .expect("send");
        loop {
            match ws.recv().await {
                Some(Ok(Message::Binary(echo))) => {
                    assert_eq!(echo.len(), size);
                    break;
                }
                Some(Ok(_)) => {}
                other => panic!("the echo ended early: {other:?}"),
            }
        }
    }
    ws.close(tidings_io::CloseCode::NORMAL, "")
        .await
        .expect("close");
    server.await.expect("the server task");
}

async fn events(listener: TcpListener, addr: SocketAddr, n: usize, subscribers: usize) {
    let server = tokio::spawn(async move {
        let mut streams = Vec::new();
        for _ in 0..subscribers {
            let (tcp, _) = listener.accept().await.expect("accept");
            streams.push(tokio::spawn(async move {
                let mut io = Tokio::new(tcp);
                let config = ServerConfig::default();
                sse::read_request(&mut io, &config).await.expect("request");
                let mut writer = SseWriter::start(io, config).await.expect("head");
                let events = futures_util::stream::iter(0..n).map(|i| {
                    ServerSentEvent::data(format!(
                        r#"{{"seq":{i},"kind":"tick","value":"{i:08}"}}"#
                    ))
                    .id(i.to_string())
                });
                // Err(Closed) once the client has read enough and left.
                let _ = writer.run(events).await;
            }));
        }
        for stream in streams {
            let _ = stream.await;
        }
    });
    let url = format!("http://{addr}/events");
    let readers: Vec<_> = (0..subscribers)
        .map(|_| {
            let dial = move |_: &sse::Url| async move {
                let tcp = TcpStream::connect(addr).await?;
                tcp.set_nodelay(true)?;
                Ok(Tokio::new(tcp))
            };
            let source = sse::EventSource::new(&url, dial, ClientConfig::default())
                .expect("an event source");
            tokio::spawn(async move {
                let mut messages = source.messages();
                for _ in 0..n {
                    messages.next().await.expect("an event").expect("no error");
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.expect("a reader");
    }
    server.await.expect("the server task");
}
