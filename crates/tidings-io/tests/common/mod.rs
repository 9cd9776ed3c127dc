//! The suite, written once and run on each runtime (`Rt`): every test is an async
//! function generic over the runtime, under an overall timeout so it stops by itself.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a part of it.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{Either, select};
use tidings_io::{
    CloseCode, Config, Error, Message, PreparedMessage, SplitTransport, Transport, WebSocket,
    WsReader, WsWriter,
};

/// Each test ends within this, pass or fail.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(40);

/// A runtime: how to run, sleep, and get a connected loopback pair.
pub trait Rt: 'static {
    type Io: Transport + Send + 'static;
    fn run<F: Future>(f: F) -> F::Output;
    fn sleep(d: Duration) -> impl Future<Output = ()>;
    /// Runs `f` on its own task (another thread, if the runtime has them).
    fn spawn<F>(f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// A server and a client WebSocket over 127.0.0.1.
    fn pair(
        server: Config,
        client: Config,
    ) -> impl Future<Output = (WebSocket<Self::Io>, WebSocket<Self::Io>)>;
}

#[cfg(feature = "tokio")]
pub struct TokioRt;

#[cfg(feature = "tokio")]
impl Rt for TokioRt {
    type Io = tidings_io::Tokio<tokio::net::TcpStream>;

    fn run<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(TEST_TIMEOUT, f)
                .await
                .expect("test timed out")
        })
    }

    async fn sleep(d: Duration) {
        tokio::time::sleep(d).await;
    }

    fn spawn<F>(f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = tokio::spawn(f);
        async move { task.await.expect("task panicked") }
    }

    async fn pair(server: Config, client: Config) -> (WebSocket<Self::Io>, WebSocket<Self::Io>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/test", listener.local_addr().unwrap());
        let accept = async {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            tidings_io::accept(tidings_io::Tokio::new(tcp), server)
                .await
                .unwrap()
        };
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            tcp.set_nodelay(true).unwrap();
            tidings_io::connect(tidings_io::Tokio::new(tcp), &url, client)
                .await
                .unwrap()
        };
        futures_util::join!(accept, connect)
    }
}

#[cfg(feature = "futures-io")]
pub struct SmolRt;

#[cfg(feature = "futures-io")]
impl Rt for SmolRt {
    type Io = tidings_io::FuturesIo<smol::net::TcpStream>;

    fn run<F: Future>(f: F) -> F::Output {
        smol::block_on(async {
            match select(std::pin::pin!(f), smol::Timer::after(TEST_TIMEOUT)).await {
                Either::Left((out, _)) => out,
                Either::Right(_) => panic!("test timed out"),
            }
        })
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }

    fn spawn<F>(f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol::spawn(f)
    }

    async fn pair(server: Config, client: Config) -> (WebSocket<Self::Io>, WebSocket<Self::Io>) {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("ws://{addr}/test");
        let accept = async {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            tidings_io::accept(tidings_io::FuturesIo::new(tcp), server)
                .await
                .unwrap()
        };
        let connect = async {
            let tcp = smol::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            tidings_io::connect(tidings_io::FuturesIo::new(tcp), &url, client)
                .await
                .unwrap()
        };
        futures_util::join!(accept, connect)
    }
}

/// Echoes data messages until the connection ends; returns how it ended.
pub async fn echo<S: Transport>(mut ws: WebSocket<S>) -> Option<Error> {
    while let Some(message) = ws.recv().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if let Err(e) = ws.send(m).await {
                    return Some(e);
                }
            }
            Ok(_) => {}
            Err(e) => return Some(e),
        }
    }
    None
}

/// A payload of `len` bytes: ASCII for text (valid UTF-8 at every split).
pub fn payload(len: usize, text: bool) -> Message {
    let bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    if text {
        Message::text(String::from_utf8(bytes).unwrap())
    } else {
        Message::binary(bytes)
    }
}

pub const SIZES: &[usize] = &[0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20];

/// Round trips of every size, text and binary; `fragment` makes the client send
/// frames of at most 4 KiB and the server of at most 64 KiB.
pub async fn echo_round_trips<R: Rt>(fragment: bool) {
    let (mut server_cfg, mut client_cfg) = (Config::default(), Config::default());
    // SIZES goes up to 16 MiB, past the core's 1 MiB default limits.
    for cfg in [&mut server_cfg, &mut client_cfg] {
        cfg.ws.max_message_size = 16 << 20;
        cfg.ws.max_frame_size = 16 << 20;
    }
    if fragment {
        client_cfg.ws.max_send_frame_size = 4096;
        server_cfg.ws.max_send_frame_size = 65_536;
    }
    let (server, mut client) = R::pair(server_cfg, client_cfg).await;
    let run = async move {
        for &len in SIZES {
            for text in [false, true] {
                let message = payload(len, text);
                client.send(message.clone()).await.unwrap();
                let got = client.recv().await.unwrap().unwrap();
                assert!(got == message, "echo of {len} bytes (text: {text}) differs");
            }
        }
        client.close(CloseCode::NORMAL, "done").await.unwrap();
    };
    let (ended, ()) = futures_util::join!(echo(server), run);
    assert!(ended.is_none(), "server ended with {ended:?}");
}

/// The client closes: the server sees its code and reason, both streams end.
pub async fn close_from_client<R: Rt>() {
    let (mut server, mut client) = R::pair(Config::default(), Config::default()).await;
    let server_side = async move {
        match server.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode(4001));
                assert_eq!(frame.reason, "bye");
            }
            other => panic!("expected a close, got {other:?}"),
        }
        assert!(server.recv().await.is_none());
    };
    let client_side = async move {
        client.close(CloseCode(4001), "bye").await.unwrap();
        assert!(client.recv().await.is_none());
        assert!(matches!(
            client.send(Message::text("late")).await,
            Err(Error::Closed)
        ));
    };
    futures_util::join!(server_side, client_side);
}

/// The server closes: the client sees its code; the server shuts TCP first.
pub async fn close_from_server<R: Rt>() {
    let (mut server, mut client) = R::pair(Config::default(), Config::default()).await;
    let server_side = async move {
        server
            .close(CloseCode::GOING_AWAY, "restart")
            .await
            .unwrap();
    };
    let client_side = async move {
        match client.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::GOING_AWAY);
                assert_eq!(frame.reason, "restart");
            }
            other => panic!("expected a close, got {other:?}"),
        }
        assert!(client.recv().await.is_none());
    };
    futures_util::join!(server_side, client_side);
}

/// A message over the server's limit, after good ones, closes with 1009.
pub async fn limit_closes_with_1009<R: Rt>() {
    let mut server_cfg = Config::default();
    server_cfg.ws.max_message_size = 64 * 1024;
    let (server, mut client) = R::pair(server_cfg, Config::default()).await;
    let client_side = async move {
        for _ in 0..3 {
            client.send(payload(1000, false)).await.unwrap();
            assert_eq!(client.recv().await.unwrap().unwrap(), payload(1000, false));
        }
        client.send(payload(100_000, false)).await.unwrap();
        match client.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG);
            }
            other => panic!("expected a 1009 close, got {other:?}"),
        }
        assert!(client.recv().await.is_none());
    };
    let (ended, ()) = futures_util::join!(echo(server), client_side);
    match ended {
        Some(e @ Error::Protocol(tidings_ws::Error::MessageTooBig { .. })) => {
            assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        }
        other => panic!("server should fail with MessageTooBig, got {other:?}"),
    }
}

/// A client that never reads never answers keepalive pings: the server gives up
/// after interval + pong timeout. A client that reads keeps the connection alive.
pub async fn keepalive<R: Rt>() {
    let mut server_cfg = Config::default();
    server_cfg.ws.keepalive_interval = Some(Duration::from_millis(50));
    server_cfg.ws.pong_timeout = Duration::from_millis(100);

    // Alive: the client polls, so pongs go out; nothing ends in 500 ms.
    let (mut server, mut client) = R::pair(server_cfg.clone(), Config::default()).await;
    let mut pings = 0;
    let mut pongs = 0;
    let watch = async {
        let mut deadline = std::pin::pin!(R::sleep(Duration::from_millis(500)));
        loop {
            match select(std::pin::pin!(server.recv()), deadline.as_mut()).await {
                Either::Left((Some(Ok(Message::Pong(_))), _)) => pongs += 1,
                Either::Left((m, _)) => panic!("server ended early: {m:?}"),
                Either::Right(_) => break,
            }
        }
    };
    let reader = async {
        loop {
            match client.recv().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    match select(std::pin::pin!(watch), std::pin::pin!(reader)).await {
        Either::Left(((), _)) => {}
        Either::Right(_) => unreachable!(),
    }
    assert!(pings >= 3, "only {pings} keepalive pings in 500 ms");
    assert!(pongs >= 3, "only {pongs} pongs in 500 ms");

    // Dead: the client never polls.
    let (mut server, _client) = R::pair(server_cfg, Config::default()).await;
    match server.recv().await {
        Some(Err(Error::Protocol(tidings_ws::Error::KeepaliveTimeout))) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    assert!(server.recv().await.is_none());
}

/// `recv` cancelled over and over while messages arrive: every message still arrives,
/// in order. Each round first polls `recv` once and drops it if it is pending (often in
/// the middle of a message), then races it against a short timer. The very first poll
/// happens before the peer has sent anything, so at least one cancellation is certain
/// whatever the machine's load.
pub async fn recv_is_cancel_safe<R: Rt>() {
    use futures_util::FutureExt;
    const N: usize = 300;
    let (mut server, mut client) = R::pair(Config::default(), Config::default()).await;
    let mut cancelled = 0;
    if server.recv().now_or_never().is_none() {
        cancelled += 1;
    }
    assert_eq!(
        cancelled, 1,
        "nothing was sent yet: recv must have been pending"
    );
    let sender = async move {
        for i in 0..N {
            // Sizes that straddle reads: most messages arrive in pieces.
            client
                .send(payload(1 + (i * 7919) % 40_000, i % 2 == 0))
                .await
                .unwrap();
            if i % 10 == 0 {
                R::sleep(Duration::from_millis(1)).await;
            }
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
    };
    let receiver = async move {
        let mut got = 0;
        loop {
            let next = match server.recv().now_or_never() {
                Some(next) => next,
                None => {
                    cancelled += 1;
                    let timer = std::pin::pin!(R::sleep(Duration::from_micros(200)));
                    match select(std::pin::pin!(server.recv()), timer).await {
                        Either::Left((next, _)) => next,
                        Either::Right(_) => {
                            cancelled += 1;
                            continue;
                        }
                    }
                }
            };
            match next {
                Some(Ok(Message::Close(_))) => break,
                Some(Ok(m)) => {
                    assert_eq!(
                        m,
                        payload(1 + (got * 7919) % 40_000, got % 2 == 0),
                        "message {got}"
                    );
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(server.recv().await.is_none());
        (got, cancelled)
    };
    let ((), (got, cancelled)) = futures_util::join!(sender, receiver);
    assert_eq!(got, N);
    assert!(cancelled >= 1);
}

/// The core's idle timeout fails a silent connection with 1001 and reports it.
pub async fn idle_timeout<R: Rt>() {
    let mut server_cfg = Config::default();
    server_cfg.ws.idle_timeout = Some(Duration::from_millis(100));
    let (mut server, mut client) = R::pair(server_cfg, Config::default()).await;
    let server_side = async move {
        let mut saw_error = false;
        while let Some(m) = server.recv().await {
            match m {
                Err(Error::Protocol(tidings_ws::Error::IdleTimeout)) => saw_error = true,
                Ok(Message::Close(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(saw_error);
    };
    let client_side = async move {
        match client.recv().await {
            Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::GOING_AWAY),
            other => panic!("expected 1001, got {other:?}"),
        }
        assert!(client.recv().await.is_none());
    };
    futures_util::join!(server_side, client_side);
}

/// The Sink and Stream faces: `send_all` of many messages, echoed back.
pub async fn sink_and_stream<R: Rt>() {
    use futures_util::{SinkExt, StreamExt};
    let (server, mut client) = R::pair(Config::default(), Config::default()).await;
    let client_side = async move {
        let mut out = futures_util::stream::iter((0..100).map(|i| Ok(payload(i * 100, true))));
        client.send_all(&mut out).await.unwrap();
        for i in 0..100 {
            assert_eq!(
                client.next().await.unwrap().unwrap(),
                payload(i * 100, true)
            );
        }
        SinkExt::close(&mut client).await.unwrap();
        assert!(client.next().await.is_none());
    };
    let (ended, ()) = futures_util::join!(echo(server), client_side);
    assert!(ended.is_none());
}

/// Both halves of a split client in two tasks at once, under load: the writer sends
/// `N` messages while the reader checks their echoes, then the writer closes.
pub async fn split_under_load<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    const N: usize = 10_000;
    let size = |i: usize| (i * 7919) % 3000;
    let (server, client) = R::pair(Config::default(), Config::default()).await;
    let server = R::spawn(echo(server));
    let (mut reader, mut writer) = client.split();
    let writer = R::spawn(async move {
        for i in 0..N {
            writer.send(payload(size(i), i % 3 == 0)).await.unwrap();
        }
        writer.close(CloseCode::NORMAL, "done").await.unwrap();
    });
    let reader = R::spawn(async move {
        for i in 0..N {
            let got = reader.recv().await.unwrap().unwrap();
            assert!(got == payload(size(i), i % 3 == 0), "message {i} differs");
        }
        match reader.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::NORMAL),
            other => panic!("expected the close echo, got {other:?}"),
        }
        assert!(reader.recv().await.is_none());
    });
    reader.await;
    writer.await;
    assert!(server.await.is_none());
}

/// Both ends split, each reader feeding its own writer through a channel (the chat
/// shape): messages go both ways at once.
pub async fn split_both_ends<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    const N: usize = 2_000;
    let (server, client) = R::pair(Config::default(), Config::default()).await;
    // Server: reader -> channel -> writer (an echo in two tasks).
    let (mut s_reader, mut s_writer) = server.split();
    let (tx, mut rx) = futures_channel::mpsc::channel::<Message>(16);
    let s_read = R::spawn(async move {
        let mut tx = tx;
        while let Some(m) = s_reader.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = m.unwrap() {
                std::future::poll_fn(|cx| tx.poll_ready(cx)).await.unwrap();
                tx.start_send(m).unwrap();
            }
        }
    });
    let s_write = R::spawn(async move {
        use futures_util::StreamExt;
        loop {
            // The writer keeps answering pings while no message is waiting.
            let next = std::pin::pin!(rx.next());
            let woke = match select(next, std::pin::pin!(s_writer.closed())).await {
                Either::Left((m, _)) => Either::Left(m),
                Either::Right((ended, _)) => Either::Right(ended),
            };
            match woke {
                Either::Left(Some(m)) => s_writer.send(m).await.unwrap(),
                Either::Left(None) => break,
                Either::Right(ended) => return ended,
            }
        }
        s_writer.closed().await
    });
    let (mut c_reader, mut c_writer) = client.split();
    // The server's writer echoes a close as soon as its reader sees it, ahead of
    // echoes still in its channel: the client closes only once it has them all.
    let (all_back, all_back_rx) = futures_channel::oneshot::channel::<()>();
    let c_write = R::spawn(async move {
        for i in 0..N {
            c_writer.send(payload(i % 700, true)).await.unwrap();
        }
        let all_back = std::pin::pin!(all_back_rx);
        match select(all_back, std::pin::pin!(c_writer.closed())).await {
            Either::Left((got, _)) => got.unwrap(),
            Either::Right((ended, _)) => panic!("ended early: {ended:?}"),
        }
        c_writer.close(CloseCode(4000), "bye").await.unwrap();
    });
    for i in 0..N {
        assert_eq!(
            c_reader.recv().await.unwrap().unwrap(),
            payload(i % 700, true)
        );
    }
    all_back.send(()).unwrap();
    match c_reader.recv().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode(4000)),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert!(c_reader.recv().await.is_none());
    c_write.await;
    s_read.await;
    assert!(s_write.await.is_ok());
}

/// A split client whose application only reads: its writer, left to `closed()`,
/// answers the server's keepalive pings, and the peer's close is echoed.
pub async fn split_pongs_while_only_reading<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    let mut server_cfg = Config::default();
    server_cfg.ws.keepalive_interval = Some(Duration::from_millis(30));
    // Generous: a busy 2-core CI machine must not make this fail.
    server_cfg.ws.pong_timeout = Duration::from_secs(5);
    let (mut server, client) = R::pair(server_cfg, Config::default()).await;
    let (mut reader, mut writer) = client.split();
    let writer = R::spawn(async move { writer.closed().await });
    let reader = R::spawn(async move {
        let mut pings = 0;
        loop {
            match reader.recv().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(Message::Close(Some(frame)))) => {
                    assert_eq!(frame.code, CloseCode::GOING_AWAY);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(reader.recv().await.is_none());
        pings
    });
    // Four pings answered, with the peer's application never sending.
    for _ in 0..4 {
        match server.recv().await {
            Some(Ok(Message::Pong(_))) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    server.close(CloseCode::GOING_AWAY, "").await.unwrap();
    let pings = reader.await;
    assert!(pings >= 4, "{pings} pings for 4 pongs");
    assert!(writer.await.is_ok());
}

/// A split server's keepalive against a client that never reads: the writer gives
/// up, and both halves report the timeout.
pub async fn split_keepalive_timeout<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    let mut server_cfg = Config::default();
    server_cfg.ws.keepalive_interval = Some(Duration::from_millis(50));
    server_cfg.ws.pong_timeout = Duration::from_millis(100);
    let (server, _silent) = R::pair(server_cfg, Config::default()).await;
    let (mut reader, mut writer) = server.split();
    let writer = R::spawn(async move { writer.closed().await });
    match reader.recv().await {
        Some(Err(Error::Protocol(tidings_ws::Error::KeepaliveTimeout))) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
    assert!(reader.recv().await.is_none());
    match writer.await {
        Err(Error::Protocol(tidings_ws::Error::KeepaliveTimeout)) => {}
        other => panic!("expected a keepalive timeout, got {other:?}"),
    }
}

/// A split server that fails on a peer's oversized message: the reader reports it,
/// the writer sends the 1009 close and shuts the transport.
pub async fn split_limit_closes_with_1009<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    let mut server_cfg = Config::default();
    server_cfg.ws.max_message_size = 1000;
    let (server, mut client) = R::pair(server_cfg, Config::default()).await;
    let (mut reader, mut writer) = server.split();
    let writer = R::spawn(async move { writer.closed().await });
    client.send(payload(5000, false)).await.unwrap();
    match reader.recv().await {
        Some(Err(e @ Error::Protocol(tidings_ws::Error::MessageTooBig { .. }))) => {
            assert_eq!(e.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        }
        other => panic!("expected MessageTooBig, got {other:?}"),
    }
    assert!(reader.recv().await.is_none());
    match client.recv().await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG)
        }
        other => panic!("expected a 1009 close, got {other:?}"),
    }
    assert!(client.recv().await.is_none());
    assert!(writer.await.is_ok());
}

/// One prepared message sent to many connections, whole and split; each client gets
/// it intact.
pub async fn broadcast_prepared<R: Rt>()
where
    R::Io: SplitTransport,
    WsReader<R::Io>: Send,
    WsWriter<R::Io>: Send,
{
    const CLIENTS: usize = 8;
    let text = "x".repeat(100_000);
    let news = PreparedMessage::text(text.clone());
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (s, c) = R::pair(Config::default(), Config::default()).await;
        servers.push(s);
        clients.push(c);
    }
    let mut writers = Vec::new();
    for (i, mut server) in servers.into_iter().enumerate() {
        if i % 2 == 0 {
            for _ in 0..3 {
                server.send_prepared(&news).await.unwrap();
            }
            server.flush().await.unwrap();
            writers.push(Either::Left(server));
        } else {
            let (reader, mut writer) = server.split();
            for _ in 0..3 {
                writer.send_prepared(&news).await.unwrap();
            }
            writer.flush().await.unwrap();
            writers.push(Either::Right((reader, writer)));
        }
    }
    for client in &mut clients {
        for _ in 0..3 {
            assert!(client.recv().await.unwrap().unwrap() == Message::text(text.clone()));
        }
    }
}

/// Declares one `#[test]` per suite function for a runtime.
#[macro_export]
macro_rules! suite {
    ($rt:ty) => {
        #[test]
        fn echo_round_trips_whole() {
            <$rt>::run(common::echo_round_trips::<$rt>(false));
        }
        #[test]
        fn echo_round_trips_fragmented() {
            <$rt>::run(common::echo_round_trips::<$rt>(true));
        }
        #[test]
        fn close_from_client() {
            <$rt>::run(common::close_from_client::<$rt>());
        }
        #[test]
        fn close_from_server() {
            <$rt>::run(common::close_from_server::<$rt>());
        }
        #[test]
        fn limit_closes_with_1009() {
            <$rt>::run(common::limit_closes_with_1009::<$rt>());
        }
        #[test]
        fn keepalive() {
            <$rt>::run(common::keepalive::<$rt>());
        }
        #[test]
        fn recv_is_cancel_safe() {
            <$rt>::run(common::recv_is_cancel_safe::<$rt>());
        }
        #[test]
        fn idle_timeout() {
            <$rt>::run(common::idle_timeout::<$rt>());
        }
        #[test]
        fn sink_and_stream() {
            <$rt>::run(common::sink_and_stream::<$rt>());
        }
        #[test]
        fn split_under_load() {
            <$rt>::run(common::split_under_load::<$rt>());
        }
        #[test]
        fn split_both_ends() {
            <$rt>::run(common::split_both_ends::<$rt>());
        }
        #[test]
        fn split_pongs_while_only_reading() {
            <$rt>::run(common::split_pongs_while_only_reading::<$rt>());
        }
        #[test]
        fn split_keepalive_timeout() {
            <$rt>::run(common::split_keepalive_timeout::<$rt>());
        }
        #[test]
        fn split_limit_closes_with_1009() {
            <$rt>::run(common::split_limit_closes_with_1009::<$rt>());
        }
        #[test]
        fn broadcast_prepared() {
            <$rt>::run(common::broadcast_prepared::<$rt>());
        }
    };
}
