//! HTTP/2 end to end (feature `http2`): `http::serve` speaking HTTP/1.1 and HTTP/2 on
//! one listener, WebSockets by RFC 8441 extended CONNECT and event streams as h2
//! streams, multiplexed on one connection; the Autobahn-style cases of the core over
//! an h2 stream; flow control as the backpressure of an event stream; and peers
//! nobody here wrote: Node's `http2` module and curl.
#![cfg(feature = "http2")]

#[path = "common/programs.rs"]
#[allow(dead_code)]
mod programs;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tidings_handshake::ClientBuilder;
use tidings_io::http::{
    ServeConfig, UpgradedStream, WebSocketUpgrade, serve_connection, sse_response,
};
use tidings_io::sse::{ServerSentEvent, SseBody};
use tidings_io::{CloseCode, Config, Message, Role, Tokio, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;
type Upgraded = UpgradedStream;

/// Every test ends within this, pass or fail.
const LIMIT: Duration = Duration::from_secs(20);

/// The server's largest message: a larger one is closed with 1009.
const MAX_MESSAGE: usize = 64 * 1024;

/// A running server, and what it counted.
struct Server {
    addr: SocketAddr,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
    /// Bytes of event taken from the endless `/flood` stream.
    pulled: Arc<AtomicUsize>,
    /// The tasks serving the connections: aborting one drops its connection.
    serving: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Server {
    /// Drops every connection open now, as a crashed server would.
    fn drop_connections(&self) {
        for task in self.serving.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Serves the routes of [`route`] on 127.0.0.1 with `config`.
async fn start(config: ServeConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let pulled = Arc::new(AtomicUsize::new(0));
    let serving = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (count, taken, tasks) = (connections.clone(), pulled.clone(), serving.clone());
    let config = Arc::new(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (config, taken) = (config.clone(), taken.clone());
            let service = hyper::service::service_fn(move |request| route(request, taken.clone()));
            let task = tokio::spawn(async move { serve_connection(tcp, &config, service).await });
            tasks.lock().unwrap().push(task.abort_handle());
        }
    });
    Server {
        addr,
        connections,
        pulled,
        serving,
    }
}

/// `/ws`: a WebSocket echo (subprotocol `chat` if offered; `/ws-deflate` accepts
/// permessage-deflate); `/events?n`: n events; `/resume` and `/hold`: see below;
/// `/flood`: events forever, counted as they are taken; anything else 404.
async fn route(
    mut request: Request<Incoming>,
    pulled: Arc<AtomicUsize>,
) -> Result<Response<Body>, Infallible> {
    let full = |r: Response<Full<Bytes>>| r.map(|b| b.map_err(|e| match e {}).boxed_unsync());
    let sse = |events: futures_util::stream::BoxStream<'static, ServerSentEvent>| {
        sse_response(SseBody::new(events).map_err(BoxError::from).boxed_unsync())
    };
    Ok(match request.uri().path() {
        "/ws" | "/ws-deflate" => full(match WebSocketUpgrade::from_request(&mut request) {
            Ok(upgrade) => {
                let mut config = Config::default();
                config.ws.max_message_size = MAX_MESSAGE;
                #[cfg(feature = "deflate")]
                if upgrade.request().path() == "/ws-deflate" {
                    config.deflate = Some(tidings_io::DeflateConfig::default());
                }
                upgrade.protocols(["chat"]).config(config).on_upgrade(echo)
            }
            Err(refusal) => refusal,
        }),
        "/events" => {
            let n: usize = request
                .uri()
                .query()
                .and_then(|q| q.parse().ok())
                .unwrap_or(3);
            let events = futures_util::stream::iter(1..=n)
                .map(|i| ServerSentEvent::data(format!("event {i}")).id(i.to_string()));
            sse(events.boxed())
        }
        // Three events (retry 10 ms), then, for the reconnection with
        // Last-Event-ID 3, 204: the end.
        "/resume" => {
            if request
                .headers()
                .get("last-event-id")
                .is_some_and(|id| id == "3")
            {
                let mut done = Response::new(Full::new(Bytes::new()));
                *done.status_mut() = StatusCode::NO_CONTENT;
                return Ok(full(done));
            }
            let retry = ServerSentEvent::empty().retry(Duration::from_millis(10));
            let events =
                (1..=3).map(|i| ServerSentEvent::data(format!("event {i}")).id(i.to_string()));
            sse(futures_util::stream::iter(std::iter::once(retry).chain(events)).boxed())
        }
        // One event (retry 10 ms, id 1), then nothing, the stream left open; for the
        // reconnection with Last-Event-ID 1, 204.
        "/hold" => {
            if request
                .headers()
                .get("last-event-id")
                .is_some_and(|id| id == "1")
            {
                let mut done = Response::new(Full::new(Bytes::new()));
                *done.status_mut() = StatusCode::NO_CONTENT;
                return Ok(full(done));
            }
            let first = ServerSentEvent::data("event 1")
                .id("1")
                .retry(Duration::from_millis(10));
            let events = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
            sse(events.boxed())
        }
        "/flood" => {
            let events = futures_util::stream::repeat_with(move || {
                let event = ServerSentEvent::data("x".repeat(1000));
                pulled.fetch_add(1008, Ordering::SeqCst); // "data: " + 1000 + "\n\n"
                event
            });
            sse(events.boxed())
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            full(response)
        }
    })
}

/// Echoes text and binary messages; the core answers pings and the close.
async fn echo(mut ws: tidings_io::http::UpgradedWebSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && ws.send(message).await.is_err()
        {
            return;
        }
    }
}

/// An HTTP/2 connection by prior knowledge (h2c) to `addr`, with a small stream
/// window (16 KiB) and a large connection window, so that one stream left unread
/// does not stop the others.
async fn h2c(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    h2_over(TokioIo::new(tcp)).await
}

async fn h2_over<I>(io: I) -> SendRequest<Empty<Bytes>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(16 * 1024)
        .initial_connection_window_size(8 << 20)
        .handshake(io)
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// Opens an event stream and gives back its response.
async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> Response<Incoming> {
    let request = Request::get(format!("http://{addr}{path}"))
        .version(Version::HTTP_2)
        .body(Empty::new())
        .unwrap();
    sender.ready().await.unwrap();
    sender.send_request(request).await.unwrap()
}

/// The data of each event of a body, read to its end.
async fn event_data(response: Response<Incoming>) -> Vec<String> {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(str::to_owned)
        .collect()
}

/// An RFC 8441 extended CONNECT to `/ws` made with tidings-handshake's client side;
/// the response, and the stream once it is a 2xx.
async fn connect(
    sender: &mut SendRequest<Empty<Bytes>>,
    builder: ClientBuilder,
) -> (Response<()>, Option<String>, Option<Upgraded>) {
    let (request, mut handshake) = builder.into_extended_connect().unwrap();
    let mut request = request.map(|()| Empty::new());
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    sender.ready().await.unwrap();
    let mut response = sender.send_request(request).await.unwrap();
    let mut head = Response::builder()
        .status(response.status())
        .body(())
        .unwrap();
    *head.headers_mut() = response.headers().clone();
    match handshake
        .handle_extended_connect_response(&response)
        .unwrap()
    {
        tidings_handshake::Response::Accepted(accepted) => {
            let protocol = accepted.protocol().map(str::to_owned);
            let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
            (head, protocol, Some(UpgradedStream::new(upgraded)))
        }
        tidings_handshake::Response::Rejected(_) => (head, None, None),
    }
}

/// A tidings WebSocket client on one h2 stream of `sender`'s connection.
async fn websocket(
    sender: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
) -> WebSocket<Tokio<Upgraded>> {
    let builder = ClientBuilder::new(&format!("ws://{addr}/ws")).unwrap();
    let (head, _, io) = connect(sender, builder).await;
    assert_eq!(head.status(), 200);
    WebSocket::from_upgraded(
        Tokio::new(io.unwrap()),
        Role::Client,
        Config::default(),
        None,
    )
}

fn run(test: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(LIMIT, test)
            .await
            .expect("test timed out")
    });
}

/// Several WebSockets and event streams at once on ONE h2 connection, every
/// message intact; an HTTP/1.1 upgrade and event stream on the same listener.
#[test]
fn websockets_and_event_streams_multiplexed_on_one_connection() {
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let addr = server.addr;
        let sender = h2c(addr).await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let mut ws_sender = sender.clone();
            tasks.push(tokio::spawn(async move {
                let mut ws = websocket(&mut ws_sender, addr).await;
                for j in 0..20 {
                    let text = Message::text(format!("ws {i} message {j}"));
                    let binary = Message::binary(vec![i as u8; 1000 * j]);
                    for message in [text, binary] {
                        ws.send(message.clone()).await.unwrap();
                        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
                    }
                }
                ws.close(CloseCode::NORMAL, "done").await.unwrap();
            }));
            let mut sender = sender.clone();
            tasks.push(tokio::spawn(async move {
                let response = get(&mut sender, addr, "/events?50").await;
                assert_eq!(response.version(), Version::HTTP_2);
                assert_eq!(response.headers()["content-type"], "text/event-stream");
                let expected: Vec<String> = (1..=50).map(|n| format!("event {n}")).collect();
                assert_eq!(event_data(response).await, expected);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "one TCP connection"
        );

        // HTTP/1.1 on the same listener: the upgrade, and an event stream.
        let mut ws = tidings_io::connect_url(&format!("ws://{addr}/ws"), Config::default())
            .await
            .unwrap();
        ws.send(Message::text("over h1")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over h1"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /events?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("data: event 2"), "{answer}");
    });
}

/// The subprotocol is chosen over h2 as over h1, and the refusals are HTTP/2's:
/// 426 without `Upgrade`, 405 with `Allow: CONNECT` for HTTP/1.1's form.
#[test]
fn h2_subprotocol_and_refusals() {
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let addr = server.addr;
        let mut sender = h2c(addr).await;
        let builder = ClientBuilder::new(&format!("ws://{addr}/ws"))
            .and_then(|b| b.protocol("other"))
            .and_then(|b| b.protocol("chat"))
            .unwrap();
        let (head, protocol, io) = connect(&mut sender, builder).await;
        assert_eq!(
            (head.status(), protocol.as_deref()),
            (StatusCode::OK, Some("chat"))
        );
        assert!(head.headers().get("sec-websocket-accept").is_none());
        drop(io);

        let plain = get(&mut sender, addr, "/ws").await;
        assert_eq!(plain.status(), 426);
        assert!(plain.headers().get("upgrade").is_none());
        assert!(plain.headers().get("connection").is_none());

        let h1_form = Request::get(format!("http://{addr}/ws"))
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Empty::new())
            .unwrap();
        sender.ready().await.unwrap();
        let refused = sender.send_request(h1_form).await.unwrap();
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()["allow"], "CONNECT");
    });
}

/// `SETTINGS_ENABLE_CONNECT_PROTOCOL` is sent only when asked for: browsers take it
/// as a promise that WebSockets work on the connection.
#[test]
fn connect_protocol_advertised_only_when_enabled() {
    run(async {
        for websocket in [false, true] {
            let server = start(ServeConfig::default().websocket(websocket)).await;
            let tcp = TcpStream::connect(server.addr).await.unwrap();
            let (mut sender, connection) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(connection);
            // A response proves the server's SETTINGS arrived (they come first).
            let request = Request::get(format!("http://{}/events?1", server.addr))
                .body(())
                .unwrap();
            let (response, _) = sender.send_request(request, true).unwrap();
            assert_eq!(response.await.unwrap().status(), 200);
            assert_eq!(sender.is_extended_connect_protocol_enabled(), websocket);
        }
    });
}

/// The limits of `ServeConfig` are the server's SETTINGS: the most concurrent
/// streams, and a request head over the header list size is refused (431).
#[test]
fn limits_are_the_servers_settings() {
    run(async {
        let mut config = ServeConfig::default();
        config.max_concurrent_streams = 7;
        config.max_header_list_size = 4096;
        let server = start(config).await;
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let (mut sender, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(connection);
        let get = |big: usize| {
            Request::get(format!("http://{}/events?1", server.addr))
                .header("x-big", "a".repeat(big))
                .body(())
                .unwrap()
        };
        let (response, _) = sender.send_request(get(10), true).unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
        assert_eq!(sender.current_max_send_streams(), 7);
        let (response, _) = sender.send_request(get(8000), true).unwrap();
        assert_eq!(response.await.unwrap().status(), 431);
        // The connection goes on.
        let (response, _) = sender.send_request(get(10), true).unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
    });
}

/// A frame as a client sends it: FIN and opcode in `first`, masked with the zero key.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    out.extend([0; 4]);
    out.extend(payload);
    out
}

/// The next frame from the server (unmasked): its first byte and payload; `None`
/// at the end of the stream.
async fn read_frame(io: &mut Upgraded) -> Option<(u8, Vec<u8>)> {
    let mut head = [0; 2];
    io.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(io.read_u16().await.ok()?),
        127 => io.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut payload = vec![0; usize::try_from(len).unwrap()];
    io.read_exact(&mut payload).await.ok()?;
    Some((head[0], payload))
}

/// The close code the server answers `frames` with, after the frames it sent
/// before (returned too).
async fn close_code_for(
    sender: &mut SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
    frames: &[Vec<u8>],
) -> (Vec<(u8, Vec<u8>)>, u16) {
    let builder = ClientBuilder::new(&format!("ws://{addr}/ws")).unwrap();
    let (_, _, io) = connect(sender, builder).await;
    let mut io = io.unwrap();
    // The server may answer the first bad frame and end the stream (RST_STREAM
    // NO_ERROR: "stop sending") before the rest is written; its close frame is
    // read all the same.
    for f in frames {
        if io.write_all(f).await.is_err() {
            break;
        }
    }
    let _ = io.flush().await;
    let mut before = Vec::new();
    while let Some((first, payload)) = read_frame(&mut io).await {
        if first == 0x88 {
            return (before, u16::from_be_bytes([payload[0], payload[1]]));
        }
        before.push((first, payload));
    }
    panic!("the stream ended without a close frame; got {before:?}");
}

/// The core's Autobahn-style cases, over h2 streams of one connection: echo of
/// text and binary (sizes across the length encodings), fragmentation with a ping
/// in between, ping/pong, close codes, invalid UTF-8 (1007), a message over the
/// limit (1009), protocol errors (1002).
#[test]
fn autobahn_style_cases_over_h2() {
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let addr = server.addr;
        let mut sender = h2c(addr).await;

        // 1.1 / 1.2: text and binary at each length encoding, our own client.
        let mut ws = websocket(&mut sender, addr).await;
        for len in [0, 125, 126, 65535, 65536 - 1000] {
            let text = Message::text("a".repeat(len));
            let binary = Message::binary(vec![0xfe; len]);
            for message in [text, binary] {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            }
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // 2.x: a ping is answered with its payload; 5.x: fragments with a ping
        // between them make one message.
        let ping = frame(0x89, b"hello?");
        let fragments = [
            frame(0x01, "héllo, ".as_bytes()),
            frame(0x89, b"p"),
            frame(0x00, b"h2 "),
            frame(0x80, b"world"),
        ];
        let mut frames = vec![ping];
        frames.extend(fragments);
        frames.push(frame(0x88, &[0x03, 0xe8]));
        let (before, code) = close_code_for(&mut sender, addr, &frames).await;
        assert_eq!(
            before,
            [
                (0x8a, b"hello?".to_vec()),
                (0x8a, b"p".to_vec()),
                (0x81, "héllo, h2 world".as_bytes().to_vec())
            ]
        );
        assert_eq!(code, 1000);

        // 7.x: close codes: a valid one is echoed, one that must not be sent is 1002.
        for (sent, answered) in [
            (1000, 1000),
            (1001, 1001),
            (3000, 3000),
            (4999, 4999),
            (999, 1002),
            (1005, 1002),
            (1006, 1002),
            (5000, 1002),
        ] {
            let close = frame(0x88, &u16::to_be_bytes(sent));
            let (_, code) = close_code_for(&mut sender, addr, &[close]).await;
            assert_eq!(code, answered, "close code {sent}");
        }

        // 6.x: invalid UTF-8, whole or across fragments: 1007.
        for frames in [
            vec![frame(0x81, &[0xce, 0xba, 0xff])],
            vec![frame(0x01, &[0xce]), frame(0x80, &[0x41])],
        ] {
            assert_eq!(close_code_for(&mut sender, addr, &frames).await.1, 1007);
        }
        // 9.x: over the server's limit: 1009.
        let big = frame(0x82, &vec![0; MAX_MESSAGE + 1]);
        assert_eq!(close_code_for(&mut sender, addr, &[big]).await.1, 1009);
        // 3.x / 4.x / 5.x: reserved bits, reserved opcodes, a continuation with
        // nothing to continue, a fragmented ping, an oversized ping: 1002.
        for bad in [
            vec![frame(0xc1, b"rsv1")],
            vec![frame(0x83, b"")],
            vec![frame(0x8b, b"")],
            vec![frame(0x80, b"orphan")],
            vec![frame(0x09, b"")],
            vec![frame(0x89, &[0; 126])],
            vec![frame(0x01, b"a"), frame(0x81, b"b")],
        ] {
            assert_eq!(
                close_code_for(&mut sender, addr, &bad).await.1,
                1002,
                "{:x}",
                bad[0][0]
            );
        }
        // An unmasked frame from a client: 1002 too (RFC 6455 §5.1).
        let mut unmasked = frame(0x81, b"hi");
        unmasked[1] &= 0x7f;
        unmasked.drain(2..6);
        assert_eq!(close_code_for(&mut sender, addr, &[unmasked]).await.1, 1002);
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    });
}

/// Flow control is the backpressure: an event stream whose client never reads
/// (its window stays closed) while the server has endless events to send holds a
/// bounded amount of the server's memory, and other streams on the same connection
/// go on meanwhile.
#[test]
fn closed_window_bounds_what_the_server_buffers() {
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let addr = server.addr;
        let mut sender = h2c(addr).await;
        let stalled = get(&mut sender, addr, "/flood").await;
        assert_eq!(stalled.status(), 200);
        // The window's worth goes out (the client reads none of it)...
        while server.pulled.load(Ordering::SeqCst) < 16 * 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // ...and then nothing more is taken from the events.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let first = server.pulled.load(Ordering::SeqCst);
        // Another stream on the connection works while the window stays closed.
        let mut ws = websocket(&mut sender, addr).await;
        ws.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("still here")
        );
        let events = get(&mut sender, addr, "/events?5").await;
        assert_eq!(event_data(events).await.len(), 5);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = server.pulled.load(Ordering::SeqCst);
        // The 16 KiB window, plus the event hyper holds while it waits for room.
        eprintln!("the stalled stream took {first} bytes, then {second}");
        assert!(first <= 16 * 1024 + 2 * 1008, "took {first} bytes");
        assert_eq!(first, second, "the server kept taking events");
        drop(stalled);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

/// A connection that sends no request (or, under TLS, no ClientHello) is dropped at
/// the first-request deadline.
#[test]
fn silent_connection_dropped_at_deadline() {
    run(async {
        let mut config = ServeConfig::default();
        config.first_request_timeout = Duration::from_millis(200);
        let server = start(config.clone()).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let mut buf = [0; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        // Under TLS, the handshake is inside the deadline too.
        #[cfg(feature = "rustls")]
        {
            use tidings_io::tls::{provider, rustls};
            let rcgen::CertifiedKey { cert, key_pair } =
                rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
            let tls = rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], key)
                .unwrap();
            let mut config = config;
            config.tls = Some(Arc::new(tls));
            let server = start(config).await;
            let mut tcp = TcpStream::connect(server.addr).await.unwrap();
            let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
            assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        }
    });
}

/// TLS: ALPN chooses `h2` (and `http/1.1` for a client that offers only that), on
/// one listener.
#[cfg(feature = "rustls")]
#[test]
fn tls_alpn_chooses_h2_or_http11() {
    use tidings_io::tls::{provider, rustls, tokio_rustls};
    run(async {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
        let tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        let mut config = ServeConfig::default().websocket(true);
        config.tls = Some(Arc::new(tls));
        let server = start(config).await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        for (alpn, h2) in [
            (vec![b"h2".to_vec(), b"http/1.1".to_vec()], true),
            (vec![b"http/1.1".to_vec()], false),
        ] {
            let mut client = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            client.alpn_protocols = alpn;
            let client = Arc::new(client);
            let connector = tokio_rustls::TlsConnector::from(client.clone());
            let tcp = TcpStream::connect(server.addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let stream = connector.connect(name, tcp).await.unwrap();
            assert_eq!(stream.get_ref().1.alpn_protocol() == Some(b"h2"), h2);
            if h2 {
                let mut sender = h2_over(TokioIo::new(stream)).await;
                let mut ws = websocket(&mut sender, server.addr).await;
                ws.send(Message::text("over TLS and h2")).await.unwrap();
                assert_eq!(
                    ws.recv().await.unwrap().unwrap(),
                    Message::text("over TLS and h2")
                );
                let events = get(&mut sender, server.addr, "/events?3").await;
                assert_eq!(event_data(events).await, ["event 1", "event 2", "event 3"]);
            } else {
                let url = format!("wss://localhost:{}/ws", server.addr.port());
                let dialer = tidings_io::Dialer::tls(client);
                let mut ws = tidings_io::connect_url_with(&url, Config::default(), &dialer)
                    .await
                    .unwrap();
                ws.send(Message::text("over TLS and h1")).await.unwrap();
                assert_eq!(
                    ws.recv().await.unwrap().unwrap(),
                    Message::text("over TLS and h1")
                );
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
        }
    });
}

/// The `tests/http2_peer.mjs` script next to this file: Node's own `http2` client
/// opens WebSockets by extended CONNECT and drives frames through our server.
#[test]
fn node_http2_client_drives_websocket_frames() {
    const TEST: &str = "node_http2_client_drives_websocket_frames";
    let Some((node, _)) = programs::find(["node"]) else {
        return programs::skip(TEST, "`node` not found on PATH");
    };
    run(async move {
        let server = start(ServeConfig::default().websocket(true)).await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http2_peer.mjs");
        let output = tokio::process::Command::new(node)
            .arg(script)
            .arg(format!("http://{}", server.addr))
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "node failed:\n{stdout}\n{stderr}");
        for case in [
            "text",
            "binary",
            "fragmented",
            "ping",
            "close 1000",
            "utf-8 1007",
            "oversize 1009",
            "rsv 1002",
            "events",
        ] {
            assert!(
                stdout.contains(&format!("ok {case}\n")),
                "case {case}:\n{stdout}\n{stderr}"
            );
        }
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "node used one connection"
        );
    });
}

/// curl reads an event stream over h2c (`--http2-prior-knowledge`) and over
/// HTTP/1.1 with an upgrade offer (`--http2`), from the same listener.
#[test]
fn curl_reads_event_streams_over_h2() {
    const TEST: &str = "curl_reads_event_streams_over_h2";
    let Some((curl, _)) = programs::find(["curl"]) else {
        return programs::skip(TEST, "`curl` not found on PATH");
    };
    run(async move {
        let server = start(ServeConfig::default()).await;
        for (flag, version) in [
            ("--http2-prior-knowledge", "2"),
            ("--http2", "1.1"),
            ("--http1.1", "1.1"),
        ] {
            let output = tokio::process::Command::new(&curl)
                .args([
                    "-sS",
                    "--max-time",
                    "10",
                    flag,
                    "-w",
                    "\nversion %{http_version}\n",
                ])
                .arg(format!("http://{}/events?4", server.addr))
                .kill_on_drop(true)
                .output()
                .await
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{flag}: {stdout} {}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(
                stdout.contains("id: 4\ndata: event 4\n\n"),
                "{flag}: {stdout}"
            );
            assert!(
                stdout.ends_with(&format!("version {version}\n")),
                "{flag}: {stdout}"
            );
        }
    });
}

#[cfg(feature = "axum")]
#[path = "../examples/axum.rs"]
#[allow(dead_code)] // The example's `main`.
mod axum_app;

/// The axum drop-in over h2: the example's handler (axum's own, one import
/// changed) takes extended CONNECT, under axum's `serve` and under
/// `http::serve`, and `tidings_io::axum::Sse` is an h2 event stream.
#[cfg(feature = "axum")]
#[test]
fn axum_drop_in_over_h2() {
    use tidings_io::axum::{Sse, TowerToHyperService};
    run(async {
        let app = || {
            axum_app::app().route(
                "/events",
                axum::routing::get(|| async {
                    let events = futures_util::stream::iter(1..=3)
                        .map(|n| ServerSentEvent::data(format!("event {n}")).id(n.to_string()));
                    Sse::new(events).keep_alive(Duration::from_secs(15))
                }),
            )
        };
        let (axum_listener, ours) = (
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
        );
        let addrs = [
            axum_listener.local_addr().unwrap(),
            ours.local_addr().unwrap(),
        ];
        let router = app();
        tokio::spawn(async move { axum::serve(axum_listener, router).await });
        let service = TowerToHyperService::new(app());
        let config = ServeConfig::default().websocket(true);
        tokio::spawn(tidings_io::http::serve(ours, config, service));
        for addr in addrs {
            let mut sender = h2c(addr).await;
            let mut ws = websocket(&mut sender, addr).await;
            for message in [
                Message::text("axum over h2"),
                Message::binary(vec![5; 50_000]),
            ] {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            let events = get(&mut sender, addr, "/events").await;
            assert_eq!(events.version(), Version::HTTP_2);
            assert_eq!(events.headers()["content-type"], "text/event-stream");
            assert_eq!(event_data(events).await, ["event 1", "event 2", "event 3"]);
            let plain = get(&mut sender, addr, "/ws").await;
            assert_eq!(plain.status(), 426);
        }
    });
}

/// `http::connect_url`: over h2c when the server offers extended CONNECT, over
/// HTTP/1.1 (a second connection) when its SETTINGS do not; the same messages
/// either way, and the closing handshake clean over h2.
#[test]
fn client_uses_h2_and_falls_back_to_http11() {
    use tidings_io::http::ClientStream;
    run(async {
        for websocket in [true, false] {
            let server = start(ServeConfig::default().websocket(websocket)).await;
            let url = format!("ws://{}/ws", server.addr);
            let mut ws = tidings_io::http::connect_url(&url, Config::default())
                .await
                .unwrap();
            let h2 = matches!(ws.get_ref().get_ref(), ClientStream::Http2(_));
            assert_eq!(h2, websocket);
            for message in [Message::text("client"), Message::binary(vec![1; 60_000])] {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            let connections = if websocket { 1 } else { 2 };
            assert_eq!(server.connections.load(Ordering::SeqCst), connections);
        }
    });
}

/// `http::connect_with` with `Dialer::tls`: ALPN `h2` on a TLS server that offers it.
#[cfg(feature = "rustls")]
#[test]
fn client_over_tls_alpn_h2() {
    use tidings_io::http::ClientStream;
    use tidings_io::tls::{provider, rustls};
    run(async {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
        let tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        let mut config = ServeConfig::default().websocket(true);
        config.tls = Some(Arc::new(tls));
        let server = start(config).await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let url = format!("wss://localhost:{}/ws", server.addr.port());
        let builder = ClientBuilder::new(&url).unwrap();
        let dialer = tidings_io::Dialer::tls(Arc::new(client));
        let mut ws = tidings_io::http::connect_with(builder, Config::default(), &dialer)
            .await
            .unwrap();
        assert!(matches!(ws.get_ref().get_ref(), ClientStream::Http2(_)));
        ws.send(Message::text("wss over h2")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("wss over h2")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

/// permessage-deflate (RFC 7692) negotiated in the extended CONNECT and run by the
/// same core over the h2 stream.
#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_over_h2() {
    use tidings_io::http::ClientStream;
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let mut config = Config::default();
        config.deflate = Some(tidings_io::DeflateConfig::default());
        let url = format!("ws://{}/ws-deflate", server.addr);
        let mut ws = tidings_io::http::connect_url(&url, config).await.unwrap();
        assert!(matches!(ws.get_ref().get_ref(), ClientStream::Http2(_)));
        assert!(ws.connection().config().deflate.is_some(), "deflate agreed");
        for message in [
            Message::text("squeeze ".repeat(5000)),
            Message::binary(vec![3; 50_000]),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert!(ws.recv().await.unwrap().unwrap() == message);
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

/// `http::event_source`: the sans-IO EventSource machine over h2 streams, reading
/// events, reconnecting on the same connection with `Last-Event-ID` after the
/// server's `retry`, and ending on 204.
#[test]
fn event_source_over_h2_resumes_and_ends_on_204() {
    use tidings_sse::Event;
    run(async {
        let server = start(ServeConfig::default()).await;
        let url = format!("http://{}/resume", server.addr);
        let config = tidings_io::sse::ClientConfig::default();
        let mut source =
            tidings_io::http::event_source(&url, config, &tidings_io::Dialer::default()).unwrap();
        let mut seen = Vec::new();
        while let Some(event) = source.next().await {
            match event.unwrap() {
                Event::Message(m) => seen.push(format!("{} {}", m.last_event_id(), m.data())),
                Event::Open => seen.push("open".to_owned()),
                Event::Error { cause, .. } => seen.push(format!("error: {cause}")),
                _ => {}
            }
        }
        assert_eq!(
            seen[..4],
            ["open", "1 event 1", "2 event 2", "3 event 3"],
            "{seen:?}"
        );
        assert!(seen[4].starts_with("error: "), "{seen:?}");
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "one h2 connection"
        );
    });
}

/// `http::H2Connection`: 3 WebSockets and 5 event streams open at once on one client
/// connection, every message intact both ways, and the server accepted one TCP
/// connection.
#[test]
fn one_h2_connection_carries_three_websockets_and_five_event_streams() {
    use tidings_io::http::{ClientStream, H2Connection, OpenConfig};
    use tidings_sse::Event;
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let url = format!("http://{}", server.addr);
        let h2 = H2Connection::open(&url, OpenConfig::default())
            .await
            .unwrap();
        // Every stream is open before any of them goes on.
        let all_open = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..3u8 {
            let (h2, all_open) = (h2.clone(), all_open.clone());
            tasks.push(tokio::spawn(async move {
                let mut ws = h2.websocket("/ws", Config::default()).await.unwrap();
                assert!(matches!(ws.get_ref().get_ref(), ClientStream::Http2(_)));
                all_open.wait().await;
                for j in 0..20 {
                    let text = Message::text(format!("ws {i} message {j}"));
                    let binary = Message::binary(vec![i; 1000 * j]);
                    for message in [text, binary] {
                        ws.send(message.clone()).await.unwrap();
                        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
                    }
                }
                ws.close(CloseCode::NORMAL, "done").await.unwrap();
            }));
        }
        for _ in 0..5 {
            let (h2, all_open) = (h2.clone(), all_open.clone());
            tasks.push(tokio::spawn(async move {
                let config = tidings_io::sse::ClientConfig::default();
                let mut source = h2.event_source("/events?50", config).unwrap();
                let mut data = Vec::new();
                while data.len() < 50 {
                    match source.next().await.unwrap().unwrap() {
                        Event::Open => {
                            all_open.wait().await;
                        }
                        Event::Message(m) => data.push(m.data().to_owned()),
                        other => panic!("{other:?}"),
                    }
                }
                let expected: Vec<String> = (1..=50).map(|n| format!("event {n}")).collect();
                assert_eq!(data, expected);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "one TCP connection"
        );
    });
}

/// An event source of an `H2Connection` reconnects, when the server ended its
/// stream, with `Last-Event-ID` on a new stream of the same connection (the server
/// answers that request with 204: the end), while a WebSocket goes on beside it.
#[test]
fn h2_connection_event_source_resumes_on_a_new_stream() {
    use tidings_io::http::{H2Connection, OpenConfig};
    use tidings_sse::Event;
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let url = format!("http://{}/anything", server.addr);
        let h2 = H2Connection::open(&url, OpenConfig::default())
            .await
            .unwrap();
        let mut ws = h2.websocket("/ws", Config::default()).await.unwrap();
        let config = tidings_io::sse::ClientConfig::default();
        let mut source = h2.event_source("/resume", config).unwrap();
        let mut seen = Vec::new();
        while let Some(event) = source.next().await {
            match event.unwrap() {
                Event::Message(m) => seen.push(format!("{} {}", m.last_event_id(), m.data())),
                Event::Open => seen.push("open".to_owned()),
                Event::Error { .. } => seen.push("reconnecting".to_owned()),
                _ => {}
            }
        }
        // No second "open": the reconnection was answered 204.
        assert_eq!(
            seen,
            [
                "open",
                "1 event 1",
                "2 event 2",
                "3 event 3",
                "reconnecting"
            ]
        );
        ws.send(Message::text("still here")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("still here")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    });
}

/// Without `SETTINGS_ENABLE_CONNECT_PROTOCOL` from the server, a WebSocket on an
/// `H2Connection` is `Error::NoExtendedConnect` (the caller falls back to HTTP/1.1),
/// and the connection still carries event streams.
#[test]
fn h2_connection_without_extended_connect_says_so() {
    use tidings_io::Error;
    use tidings_io::http::{H2Connection, OpenConfig};
    run(async {
        let server = start(ServeConfig::default()).await;
        let url = format!("http://{}", server.addr);
        let h2 = H2Connection::open(&url, OpenConfig::default())
            .await
            .unwrap();
        let refused = h2.websocket("/ws", Config::default()).await;
        assert!(
            matches!(refused, Err(Error::NoExtendedConnect)),
            "{refused:?}"
        );
        let config = tidings_io::sse::ClientConfig::default();
        let source = h2.event_source("/events?3", config).unwrap();
        let data: Vec<String> = source
            .filter_map(|e| async move {
                match e.unwrap() {
                    tidings_sse::Event::Message(m) => Some(m.data().to_owned()),
                    _ => None,
                }
            })
            .take(3)
            .collect()
            .await;
        assert_eq!(data, ["event 1", "event 2", "event 3"]);
        // Another origin is not this connection's.
        let other = h2.websocket("ws://example.com/ws", Config::default()).await;
        assert!(matches!(other, Err(Error::LocalHandshake(_))), "{other:?}");
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    });
}

/// The server's `SETTINGS_MAX_CONCURRENT_STREAMS` holds: on a full connection a new
/// stream waits until one closes, and fails after its timeout with an error that
/// names the setting.
#[test]
fn h2_connection_waits_for_a_free_stream_within_the_timeout() {
    use tidings_io::Error;
    use tidings_io::http::{H2Connection, OpenConfig};
    run(async {
        let mut config = ServeConfig::default().websocket(true);
        config.max_concurrent_streams = 2;
        let server = start(config).await;
        let url = format!("ws://{}/ws", server.addr);
        let h2 = H2Connection::open(&url, OpenConfig::default())
            .await
            .unwrap();
        let mut first = h2.websocket("/ws", Config::default()).await.unwrap();
        let _second = h2.websocket("/ws", Config::default()).await.unwrap();

        let mut short = Config::default();
        short.handshake_timeout = Duration::from_millis(300);
        match h2.websocket("/ws", short).await {
            Err(Error::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
                assert!(
                    e.to_string()
                        .contains("SETTINGS_MAX_CONCURRENT_STREAMS (2)"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }

        let waiting = tokio::spawn({
            let h2 = h2.clone();
            async move { h2.websocket("/ws", Config::default()).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "no stream is free yet");
        first.close(CloseCode::NORMAL, "").await.unwrap();
        drop(first);
        let mut third = waiting.await.unwrap().unwrap();
        third.send(Message::text("third")).await.unwrap();
        assert_eq!(third.recv().await.unwrap().unwrap(), Message::text("third"));
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    });
}

/// A stream the server refuses with `REFUSED_STREAM` was not processed (RFC 9113
/// §8.7): it is sent again, and the caller sees only the stream that opened. (A
/// server may still count a stream the client saw close as open, and refuse the
/// next one.)
#[test]
fn a_refused_stream_is_sent_again() {
    use tidings_io::http::{H2Connection, OpenConfig};
    use tidings_sse::Event;
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            while let Some(request) = connection.accept().await {
                let (_, mut respond) = request.unwrap();
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                    continue;
                }
                let head = Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(())
                    .unwrap();
                let mut body = respond.send_response(head, false).unwrap();
                body.send_data(Bytes::from_static(b"data: hello\n\n"), false)
                    .unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(LIMIT).await;
                    drop(body);
                });
            }
        });
        let h2 = H2Connection::open(&format!("http://{addr}"), OpenConfig::default())
            .await
            .unwrap();
        let config = tidings_io::sse::ClientConfig::default();
        let mut source = h2.event_source("/events", config).unwrap();
        assert!(matches!(source.next().await, Some(Ok(Event::Open))));
        match source.next().await {
            Some(Ok(Event::Message(message))) => assert_eq!(message.data(), "hello"),
            other => panic!("{other:?}"),
        }
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    });
}

/// A connection that is gone is dialled again for the next stream: the server drops
/// its connections, the event source reconnects (with `Last-Event-ID`, answered
/// 204) on a new one, and a new WebSocket goes there too.
#[test]
fn h2_connection_is_dialled_again_when_gone() {
    use tidings_io::http::{H2Connection, OpenConfig};
    use tidings_sse::Event;
    run(async {
        let server = start(ServeConfig::default().websocket(true)).await;
        let url = format!("http://{}", server.addr);
        let h2 = H2Connection::open(&url, OpenConfig::default())
            .await
            .unwrap();
        let mut ws = h2.websocket("/ws", Config::default()).await.unwrap();
        let config = tidings_io::sse::ClientConfig::default();
        let mut source = h2.event_source("/hold", config).unwrap();
        let mut seen = Vec::new();
        while let Some(event) = source.next().await {
            match event.unwrap() {
                Event::Message(m) => {
                    seen.push(format!("{} {}", m.last_event_id(), m.data()));
                    server.drop_connections();
                }
                Event::Open => seen.push("open".to_owned()),
                Event::Error { .. } => seen.push("reconnecting".to_owned()),
                _ => {}
            }
        }
        assert_eq!(seen, ["open", "1 event 1", "reconnecting"]);
        assert!(
            !matches!(ws.recv().await, Some(Ok(_))),
            "its connection is gone"
        );
        let mut ws = h2.websocket("/ws", Config::default()).await.unwrap();
        ws.send(Message::text("again")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("again"));
        assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    });
}

/// A TLS server whose ALPN offers only `http/1.1`: `H2Connection::open` says
/// `Error::NoHttp2`, and `http::connect_with` runs the WebSocket over HTTP/1.1
/// on the very TLS stream it dialled (one connection).
#[cfg(feature = "rustls")]
#[test]
fn http11_only_tls_server_says_no_http2() {
    use tidings_io::Error;
    use tidings_io::http::{ClientStream, H2Connection, OpenConfig};
    use tidings_io::tls::{provider, rustls, tokio_rustls};
    run(async {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let io = Tokio::new(tls);
                    if let Ok(mut ws) = tidings_io::accept(io, Config::default()).await {
                        while let Some(Ok(message)) = ws.recv().await {
                            if ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let dialer = tidings_io::Dialer::tls(Arc::new(client));

        let mut open = OpenConfig::default();
        open.dialer = dialer.clone();
        let url = format!("https://localhost:{port}");
        let refused = H2Connection::open(&url, open).await;
        assert!(matches!(refused, Err(Error::NoHttp2)), "{refused:?}");

        let builder = ClientBuilder::new(&format!("wss://localhost:{port}/ws")).unwrap();
        let mut ws = tidings_io::http::connect_with(builder, Config::default(), &dialer)
            .await
            .unwrap();
        assert!(matches!(ws.get_ref().get_ref(), ClientStream::Http1(_)));
        ws.send(Message::text("h1 after ALPN")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("h1 after ALPN")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(
            connections.load(Ordering::SeqCst),
            2,
            "open's, and the WebSocket's"
        );
    });
}
