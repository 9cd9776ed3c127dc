//! The suite, written once and run on each runtime (`Rt`): every test is an async
//! function generic over the runtime, under an overall timeout so it stops by itself.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a part of it.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{Either, select};
use tidings_io::{CloseCode, Config, Error, Message, Transport, WebSocket};

/// Each test ends within this, pass or fail.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(40);

/// A runtime: how to run, sleep, and get a connected loopback pair.
pub trait Rt: 'static {
    type Io: Transport + 'static;
    fn run<F: Future>(f: F) -> F::Output;
    fn sleep(d: Duration) -> impl Future<Output = ()>;
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

/// `recv` cancelled over and over by a short timer while messages arrive: every
/// message still arrives, in order.
pub async fn recv_is_cancel_safe<R: Rt>() {
    const N: usize = 300;
    let (mut server, mut client) = R::pair(Config::default(), Config::default()).await;
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
        let mut cancelled = 0;
        loop {
            let timer = std::pin::pin!(R::sleep(Duration::from_micros(200)));
            match select(std::pin::pin!(server.recv()), timer).await {
                Either::Left((Some(Ok(Message::Close(_))), _)) => break,
                Either::Left((Some(Ok(m)), _)) => {
                    assert_eq!(
                        m,
                        payload(1 + (got * 7919) % 40_000, got % 2 == 0),
                        "message {got}"
                    );
                    got += 1;
                }
                Either::Left((other, _)) => panic!("unexpected {other:?}"),
                Either::Right(_) => cancelled += 1,
            }
        }
        assert!(server.recv().await.is_none());
        (got, cancelled)
    };
    let ((), (got, cancelled)) = futures_util::join!(sender, receiver);
    assert_eq!(got, N);
    assert!(cancelled > 0, "the timer never cancelled a recv");
}

/// The idle timeout closes a silent connection with 1001 and reports it.
pub async fn idle_timeout<R: Rt>() {
    let mut server_cfg = Config::default();
    server_cfg.idle_timeout = Some(Duration::from_millis(100));
    let (mut server, mut client) = R::pair(server_cfg, Config::default()).await;
    let server_side = async move {
        let mut saw_error = false;
        while let Some(m) = server.recv().await {
            match m {
                Err(Error::IdleTimeout) => saw_error = true,
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
    };
}
