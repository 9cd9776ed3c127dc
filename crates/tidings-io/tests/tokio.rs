//! The shared suite on tokio, and what only tokio can show: paused time, raw sockets
//! for hostile peers, `connect_url`.
#![cfg(feature = "tokio")]

mod common;
use common::{Rt, TokioRt, payload};

use std::time::Duration;

use tidings_io::{CloseCode, Config, Error, Message, Rejection, Tokio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

suite!(TokioRt);

/// Keepalive on tokio's paused clock: 30 s interval + 10 s pong timeout, in no time.
#[tokio::test(start_paused = true)]
async fn keepalive_timeout_paused_time() {
    let mut server_cfg = Config::default();
    server_cfg.ws.keepalive_interval = Some(Duration::from_secs(30));
    server_cfg.ws.pong_timeout = Duration::from_secs(10);
    let (mut server, _silent_client) = TokioRt::pair(server_cfg, Config::default()).await;
    let start = tokio::time::Instant::now();
    match server.recv().await {
        Some(Err(Error::Protocol(tidings_ws::Error::KeepaliveTimeout))) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    let waited = start.elapsed();
    assert!(
        (Duration::from_secs(40)..Duration::from_secs(41)).contains(&waited),
        "gave up after {waited:?}"
    );
}

/// A client sending its head one byte every 50 ms is cut off at the handshake timeout.
#[tokio::test]
async fn slowloris_cut_off_at_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let slow = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            .iter()
            .cycle()
        {
            if tcp.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut config = Config::default();
    config.handshake_timeout = Duration::from_millis(300);
    let (tcp, _) = listener.accept().await.unwrap();
    let start = tokio::time::Instant::now();
    let result = tidings_io::accept(Tokio::new(tcp), config).await;
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_millis(600),
        "cut off after {waited:?}"
    );
    slow.abort();
}

/// A head over the size limit is answered 431.
#[tokio::test]
async fn oversized_head_gets_431() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        head.extend(std::iter::repeat_n(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 1000).flatten());
        let _ = tcp.write_all(&head).await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        answer
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let result = tidings_io::accept(Tokio::new(tcp), Config::default()).await;
    match result {
        Err(Error::Handshake(e)) => assert_eq!(e.status(), 431),
        other => panic!("expected a 431, got {other:?}"),
    }
    let answer = client.await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// A plain GET on a WebSocket endpoint is answered 426.
#[tokio::test]
async fn plain_request_gets_426() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        answer
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let result = tidings_io::accept(Tokio::new(tcp), Config::default()).await;
    assert!(
        matches!(result, Err(Error::Rejected { status: 426 })),
        "{result:?}"
    );
    let answer = client.await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 426"));
}

/// The accept hook sees the request, picks a subprotocol, or rejects.
#[tokio::test]
async fn accept_hook_chooses_and_rejects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for path in ["/chat", "/private"] {
        let url = format!("ws://{addr}{path}");
        let client = tokio::spawn(async move {
            let builder = tidings_io::ClientBuilder::new(&url)
                .unwrap()
                .protocol("v2.chat")
                .unwrap()
                .protocol("v1.chat")
                .unwrap();
            let tcp = TcpStream::connect(addr).await.unwrap();
            tidings_io::connect_with(Tokio::new(tcp), builder, Config::default()).await
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let server = tidings_io::accept_with(Tokio::new(tcp), Config::default(), |req| {
            if req.path() == "/private" {
                return Err(Rejection::new(403).unwrap());
            }
            assert_eq!(req.protocols().collect::<Vec<_>>(), ["v2.chat", "v1.chat"]);
            Ok(req.protocols().find(|p| *p == "v1.chat").map(str::to_owned))
        })
        .await;
        let client = client.await.unwrap();
        if path == "/chat" {
            assert_eq!(server.unwrap().protocol(), Some("v1.chat"));
            assert_eq!(client.unwrap().protocol(), Some("v1.chat"));
        } else {
            assert!(matches!(server, Err(Error::Rejected { status: 403 })));
            assert!(matches!(client, Err(Error::Rejected { status: 403 })));
        }
    }
}

/// A hook that picks a subprotocol the client did not offer is this server's bug:
/// the client gets 500, the server the local error.
#[tokio::test]
async fn accept_hook_choosing_what_was_not_offered_answers_500() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}/");
        tidings_io::connect(Tokio::new(tcp), &url, Config::default()).await
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let server = tidings_io::accept_with(Tokio::new(tcp), Config::default(), |_| {
        Ok(Some("v3.chat".to_owned()))
    })
    .await;
    assert!(matches!(
        server,
        Err(Error::LocalHandshake(
            tidings_handshake::LocalError::ProtocolNotOffered
        ))
    ));
    let client = client.await.unwrap();
    assert!(matches!(client, Err(Error::Rejected { status: 500 })));
}

/// A peer that never reads: `send` blocks at the watermark, memory stays bounded.
#[tokio::test]
async fn send_blocks_at_watermark_when_peer_never_reads() {
    const MESSAGE: usize = 256 * 1024;
    let (mut server, _never_reads) = TokioRt::pair(Config::default(), Config::default()).await;
    let high = Config::default().write_high_watermark;
    let mut sent = 0usize;
    loop {
        let send = server.send(payload(MESSAGE, false));
        match tokio::time::timeout(Duration::from_millis(300), send).await {
            Ok(result) => result.unwrap(),
            Err(_) => break, // blocked: the kernel buffers are full too
        }
        sent += MESSAGE;
        assert!(sent < 256 << 20, "sent {sent} bytes without ever blocking");
        assert!(server.buffered_amount() <= high + MESSAGE);
    }
    // Blocked with at most one message over the watermark in our hands.
    assert!(
        server.buffered_amount() <= high + MESSAGE,
        "{}",
        server.buffered_amount()
    );
    assert!(server.buffered_amount() > 0);
}

/// A peer that never reads is cut off: once the transport has taken nothing for
/// `write_timeout`, `send` fails with `WriteTimeout`, and so does the stream.
#[tokio::test]
async fn never_reading_peer_is_cut_off_at_the_write_timeout() {
    let mut config = Config::default();
    config.write_timeout = Some(Duration::from_millis(300));
    let (mut server, _never_reads) = TokioRt::pair(config, Config::default()).await;
    let error = loop {
        let send = server.send(payload(256 * 1024, false));
        match tokio::time::timeout(Duration::from_secs(20), send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => break e,
            Err(_) => panic!("send waited far past the write timeout"),
        }
    };
    assert!(matches!(error, Error::WriteTimeout), "{error:?}");
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::WriteTimeout))
    ));
    assert!(server.recv().await.is_none());
}

/// The same through the split writer.
#[tokio::test]
async fn never_reading_peer_is_cut_off_by_the_split_writer() {
    let mut config = Config::default();
    config.write_timeout = Some(Duration::from_millis(300));
    let (server, _never_reads) = TokioRt::pair(config, Config::default()).await;
    let (_reader, mut writer) = server.split();
    let error = loop {
        let send = writer.send(payload(256 * 1024, false));
        match tokio::time::timeout(Duration::from_secs(20), send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => break e,
            Err(_) => panic!("send waited far past the write timeout"),
        }
    };
    assert!(matches!(error, Error::WriteTimeout), "{error:?}");
}

/// `connect_url` dials TCP; without the `rustls` feature, `wss://` is refused
/// clearly (with it, see `tests/tls.rs`).
#[tokio::test]
async fn connect_url_dials_and_refuses_wss() {
    #[cfg(not(feature = "rustls"))]
    assert!(matches!(
        tidings_io::connect_url("wss://127.0.0.1:1/", Config::default()).await,
        Err(Error::TlsUnsupported)
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        common::echo(
            tidings_io::accept(Tokio::new(tcp), Config::default())
                .await
                .unwrap(),
        )
        .await
    });
    let mut ws = tidings_io::connect_url(&url, Config::default())
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(server.await.unwrap().is_none());
}

/// Pings sent by the application come back as pongs; oversized ones are refused.
#[tokio::test]
async fn ping_pong_and_send_errors() {
    let (server, mut client) = TokioRt::pair(Config::default(), Config::default()).await;
    let server = tokio::spawn(common::echo(server));
    client.send(Message::Ping("abc".into())).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Pong("abc".into())
    );
    let too_long = client.send(Message::Ping(vec![0; 126].into())).await;
    assert!(matches!(
        too_long,
        Err(Error::LocalProtocol(tidings_ws::LocalError::ControlTooLong))
    ));
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(server.await.unwrap().is_none());
}

/// Split over a stream without owned halves (an in-memory duplex: the halves share
/// it behind the per-call mutex), on a multi-threaded runtime so the reader and the
/// writer really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_generic_stream_in_parallel() {
    const N: usize = 3_000;
    let (a, b) = tokio::io::duplex(16 * 1024);
    let (server, client) = tokio::join!(
        tidings_io::accept(Tokio::new(a), Config::default()),
        tidings_io::connect(Tokio::new(b), "ws://example/", Config::default()),
    );
    let server = tokio::spawn(common::echo(server.unwrap()));
    let (mut reader, mut writer) = client.unwrap().split();
    let writer = tokio::spawn(async move {
        for i in 0..N {
            writer.send(payload(i % 5000, false)).await.unwrap();
        }
        writer.flush().await.unwrap();
        // The reader confirms every echo before the close; meanwhile keep polling.
        writer
    });
    let reader = tokio::spawn(async move {
        for i in 0..N {
            assert_eq!(
                reader.recv().await.unwrap().unwrap(),
                payload(i % 5000, false)
            );
        }
        reader
    });
    let (mut reader, mut writer) = (reader.await.unwrap(), writer.await.unwrap());
    let (closed, end) = tokio::join!(writer.close(CloseCode::NORMAL, ""), async {
        let close = reader.recv().await;
        (close, reader.recv().await)
    });
    closed.unwrap();
    assert!(matches!(end.0, Some(Ok(Message::Close(_)))), "{:?}", end.0);
    assert!(end.1.is_none());
    assert!(server.await.unwrap().is_none());
}

/// The split halves can move to other threads.
#[test]
fn split_halves_are_send() {
    fn send<T: Send>() {}
    send::<tidings_io::WsReader<Tokio<TcpStream>>>();
    send::<tidings_io::WsWriter<Tokio<TcpStream>>>();
    send::<tidings_io::WsReader<Tokio<tokio::io::DuplexStream>>>();
    send::<tidings_io::WsWriter<Tokio<tokio::io::DuplexStream>>>();
}

/// `from_upgraded` skips the handshake: both roles on an in-memory pipe, the
/// client masking and the server not, with the agreed subprotocol kept.
#[tokio::test]
async fn from_upgraded_runs_both_roles_without_a_handshake() {
    use tidings_io::{Role, WebSocket};
    let (a, b) = tokio::io::duplex(64 * 1024);
    let mut server = WebSocket::from_upgraded(Tokio::new(a), Role::Server, Config::default(), None);
    let proto = Some("chat.v1".to_owned());
    let mut client =
        WebSocket::from_upgraded(Tokio::new(b), Role::Client, Config::default(), proto);
    assert_eq!(client.protocol(), Some("chat.v1"));
    client.send(Message::text("up")).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("up"));
    server.send(Message::binary(vec![1, 2])).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::binary(vec![1, 2])
    );
    let echo = tokio::spawn(common::echo(server));
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(echo.await.unwrap().is_none());
}

/// A client whose close the server never answers (its writer is not polled) gives
/// up at the close timeout, and shuts its side of TCP down: the server's reader
/// sees the close, then the end of the stream.
#[tokio::test]
async fn unanswered_close_ends_at_the_close_timeout_with_a_shutdown() {
    let mut client_cfg = Config::default();
    client_cfg.ws.close_timeout = Duration::from_millis(200);
    let (server, mut client) = TokioRt::pair(Config::default(), client_cfg).await;
    let (mut reader, _writer_never_polled) = server.split();
    let start = tokio::time::Instant::now();
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        assert!(matches!(reader.recv().await, Some(Ok(Message::Close(_)))));
        reader.recv().await
    });
    assert!(ended.await.expect("no end of stream").is_none());
}
