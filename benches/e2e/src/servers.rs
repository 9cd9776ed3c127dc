//! The servers under test, each the plainest echo (or event fan-out) its library
//! documents, on a single-threaded tokio runtime bound to 127.0.0.1.
//!
//! A server prints `PORT <n>` on stdout once it listens, and exits when its stdin
//! reaches end of file: the driver holds the other end, so the server cannot outlive
//! it. Connection errors end that connection quietly (the load client drops its
//! sockets without a closing handshake at the end of a case).

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

type BoxError = Box<dyn std::error::Error>;

/// The WebSocket echo servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WsServer {
    /// `tidings_io::accept` and `recv` / `send`.
    Tidings,
    /// `tokio_tungstenite::accept_async`, as a `Stream` + `Sink`.
    Tungstenite,
    /// `fastwebsockets` with a `FragmentCollector` (whole messages); the 101 is
    /// written with tidings-handshake, since its own server handshake needs hyper.
    FastWebSockets,
    /// `tokio_websockets::ServerBuilder::accept`, as a `Stream` + `Sink`.
    TokioWebSockets,
}

impl WsServer {
    /// Every server, tidings first.
    pub(crate) const ALL: [Self; 4] = [
        Self::Tidings,
        Self::Tungstenite,
        Self::FastWebSockets,
        Self::TokioWebSockets,
    ];

    /// The name on the command line and in the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Tidings => "tidings",
            Self::Tungstenite => "tungstenite",
            Self::FastWebSockets => "fastwebsockets",
            Self::TokioWebSockets => "tokio-websockets",
        }
    }

    /// The server with this name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The Server-Sent Events servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SseServer {
    /// `tidings_io::sse::read_request` + `SseWriter::run` on a raw TCP stream.
    Tidings,
    /// axum's `Sse` response behind `axum::serve` (hyper, HTTP/1.1).
    Axum,
}

impl SseServer {
    /// Every server, tidings first.
    pub(crate) const ALL: [Self; 2] = [Self::Tidings, Self::Axum];

    /// The name on the command line and in the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Tidings => "tidings",
            Self::Axum => "axum",
        }
    }

    /// The server with this name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Runs a WebSocket echo server until stdin closes.
pub(crate) fn serve_ws(server: WsServer) -> Result<(), String> {
    serve(|listener| async move {
        loop {
            let Some(tcp) = accept(&listener).await else {
                continue;
            };
            // One spawn per server, each with its own future type: a task is as
            // large as its future, and a `match` inside one future would size every
            // server's tasks by the largest of them. A dropped connection is the
            // normal end of a case, so errors are ignored.
            match server {
                WsServer::Tidings => tokio::spawn(async { drop(echo_tidings(tcp).await) }),
                WsServer::Tungstenite => tokio::spawn(async { drop(echo_tungstenite(tcp).await) }),
                WsServer::FastWebSockets => {
                    tokio::spawn(async { drop(echo_fastwebsockets(tcp).await) })
                }
                WsServer::TokioWebSockets => {
                    tokio::spawn(async { drop(echo_tokio_websockets(tcp).await) })
                }
            };
        }
    })
}

/// Runs an SSE fan-out server until stdin closes: every subscriber of `/events`
/// gets every event the producer publishes (or skips ahead when it lags).
pub(crate) fn serve_sse(server: SseServer) -> Result<(), String> {
    serve(|listener| async move {
        let (tx, _) = broadcast::channel::<Arc<str>>(SSE_QUEUE);
        tokio::spawn(produce(tx.clone()));
        match server {
            SseServer::Tidings => loop {
                let Some(tcp) = accept(&listener).await else {
                    continue;
                };
                let rx = tx.subscribe();
                tokio::spawn(async move {
                    let _ = sse_tidings(tcp, rx).await;
                });
            },
            SseServer::Axum => {
                use axum::serve::ListenerExt;
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let app = axum::Router::new()
                    .route("/events", axum::routing::get(sse_axum))
                    .with_state(tx);
                let _ = axum::serve(listener, app).await;
            }
        }
    })
}

/// Runs tidings-io's `http::serve` until stdin closes: HTTP/1.1 and h2c (HTTP/2 by
/// prior knowledge) on one listener, extended CONNECT advertised. Routes:
///
/// - `/events`: an event stream (`sse_response(SseBody)`) of every event published
///   from now on, in order; a subscriber that lagged by a whole channel would have
///   its stream ended, never skipped ahead (the client would see the gap);
/// - `/publish?n=N`: publishes events 1..=N, one per scheduler round, and answers at
///   once;
/// - anything else: a WebSocket echo (`WebSocketUpgrade`: the HTTP/1.1 upgrade or
///   RFC 8441's CONNECT), `recv` / `send`.
pub(crate) fn serve_http() -> Result<(), String> {
    use tidings_io::http::ServeConfig;
    serve(|listener| async move {
        let (tx, _) = broadcast::channel::<Arc<str>>(PUBLISH_MAX as usize);
        let service = hyper::service::service_fn(move |request| {
            let response = route(request, &tx);
            async move { Ok::<_, Infallible>(response) }
        });
        let config = ServeConfig::default().websocket(true);
        let _ = tidings_io::http::serve(listener, config, service).await;
    })
}

/// Runs tidings' own HTTP/1.1 event-stream writer until stdin closes: the
/// reference row of the h2 part's SSE table. `/publish?n=N` as in [`serve_http`];
/// any other request gets an event stream written by `SseWriter` on the socket
/// itself (`Connection: close`, no chunking, no hyper). No keep-alive comments,
/// as `SseBody::new` in `serve_http`.
pub(crate) fn serve_sse_writer() -> Result<(), String> {
    serve(|listener| async move {
        let (tx, _) = broadcast::channel::<Arc<str>>(PUBLISH_MAX as usize);
        loop {
            let Some(tcp) = accept(&listener).await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = sse_writer(tcp, tx).await;
            });
        }
    })
}

async fn sse_writer(tcp: TcpStream, tx: broadcast::Sender<Arc<str>>) -> Result<(), BoxError> {
    use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
    let mut io = tidings_io::Tokio::new(tcp);
    let mut config = ServerConfig::default();
    config.keep_alive = None;
    let request = sse::read_request(&mut io, &config).await?;
    if request.path() == "/publish" {
        let n = request
            .query()
            .and_then(|q| q.strip_prefix("n="))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n <= PUBLISH_MAX)
            .ok_or("/publish wants n=N")?;
        tokio::spawn(publish(tx, n));
        let mut tcp = io.into_inner();
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let rx = tx.subscribe();
    drop(tx);
    let mut writer = SseWriter::start(io, config).await?;
    writer
        .run(in_order(rx).map(|data| ServerSentEvent::data(&*data)))
        .await?;
    Ok(())
}

/// The most events one `/publish` may ask for: the depth of the channel, so that
/// no subscriber can lag.
pub(crate) const PUBLISH_MAX: u64 = 1 << 14;

/// A response of [`serve_http`]: an event stream, or a short body.
type HttpBody = http_body_util::Either<
    tidings_io::sse::SseBody<
        std::pin::Pin<Box<dyn Stream<Item = tidings_io::sse::ServerSentEvent> + Send>>,
    >,
    http_body_util::Full<bytes::Bytes>,
>;

fn route(
    mut request: http::Request<hyper::body::Incoming>,
    tx: &broadcast::Sender<Arc<str>>,
) -> http::Response<HttpBody> {
    use http_body_util::{Either, Full};
    use tidings_io::http::{WebSocketUpgrade, sse_response};
    use tidings_io::sse::{ServerSentEvent, SseBody};
    match request.uri().path() {
        "/events" => {
            let events = in_order(tx.subscribe()).map(|data| ServerSentEvent::data(&*data));
            sse_response(Either::Left(SseBody::new(Box::pin(events) as _)))
        }
        "/publish" => {
            let n = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("n="))
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|&n| n <= PUBLISH_MAX);
            let mut response = http::Response::new(Either::Right(Full::default()));
            match n {
                Some(n) => drop(tokio::spawn(publish(tx.clone(), n))),
                None => *response.status_mut() = http::StatusCode::BAD_REQUEST,
            }
            response
        }
        _ => {
            let answer = match WebSocketUpgrade::from_request::<_, Full<bytes::Bytes>>(&mut request)
            {
                Ok(upgrade) => upgrade.on_upgrade(|mut ws| async move {
                    use tidings_io::Message;
                    while let Some(Ok(message)) = ws.recv().await {
                        if matches!(message, Message::Text(_) | Message::Binary(_))
                            && ws.send(message).await.is_err()
                        {
                            break;
                        }
                    }
                }),
                Err(refusal) => refusal,
            };
            answer.map(Either::Right)
        }
    }
}

/// Publishes events 1..=n, yielding after each so that every subscriber it woke
/// runs before the next.
async fn publish(tx: broadcast::Sender<Arc<str>>, n: u64) {
    for seq in 1..=n {
        let _ = tx.send(event_data(seq));
        tokio::task::yield_now().await;
    }
}

/// Every event, in order; the end of the stream if the subscriber lagged (the
/// client then counts the events it missed).
fn in_order(rx: broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Arc<str>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.ok().map(|data| (data, rx))
    })
}

/// Sets the tidings echo server's `Config::read_buffer_size` (bytes) when present.
const READ_BUFFER_VAR: &str = "TIDINGS_E2E_READ_BUFFER";

/// How many events a slow subscriber may fall behind before it skips ahead.
const SSE_QUEUE: usize = 256;

/// The event's `data`: about 100 bytes of JSON, like a typical notification.
pub(crate) fn event_data(seq: u64) -> Arc<str> {
    Arc::from(format!(
        "{{\"seq\":{seq},\"kind\":\"tick\",\"body\":\"the quick brown fox jumps over the lazy dog\"}}"
    ))
}

/// Publishes events while anyone listens, one per scheduler round: after each, it
/// yields, so every subscriber woken by it runs before the next.
async fn produce(tx: broadcast::Sender<Arc<str>>) {
    let mut seq = 0u64;
    loop {
        if tx.receiver_count() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        seq += 1;
        let _ = tx.send(event_data(seq));
        tokio::task::yield_now().await;
    }
}

/// The next event for one subscriber, skipping what it missed when it lagged.
fn events(rx: broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Arc<str>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => return Some((data, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

async fn sse_tidings(tcp: TcpStream, rx: broadcast::Receiver<Arc<str>>) -> Result<(), BoxError> {
    use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
    let mut io = tidings_io::Tokio::new(tcp);
    let config = ServerConfig::default();
    sse::read_request(&mut io, &config).await?;
    let mut writer = SseWriter::start(io, config).await?;
    writer
        .run(events(rx).map(|data| ServerSentEvent::data(&*data)))
        .await?;
    Ok(())
}

async fn sse_axum(
    axum::extract::State(tx): axum::extract::State<broadcast::Sender<Arc<str>>>,
) -> axum::response::sse::Sse<impl Stream<Item = Result<axum::response::sse::Event, Infallible>>> {
    let stream =
        events(tx.subscribe()).map(|data| Ok(axum::response::sse::Event::default().data(&*data)));
    axum::response::sse::Sse::new(stream)
}

async fn echo_tidings(tcp: TcpStream) -> Result<(), BoxError> {
    use tidings_io::{Config, Message, Tokio};
    let mut config = Config::default();
    // For experiments only (docs/performance.md, "End-to-end"): the tables use the default.
    if let Some(size) = std::env::var(READ_BUFFER_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.read_buffer_size = size;
    }
    let mut ws = tidings_io::accept(Tokio::new(tcp), config).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn echo_tungstenite(tcp: TcpStream) -> Result<(), BoxError> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn echo_fastwebsockets(mut tcp: TcpStream) -> Result<(), BoxError> {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Role, WebSocket};
    upgrade_by_hand(&mut tcp).await?;
    let mut ws = WebSocket::after_handshake(tcp, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => {
                ws.write_frame(Frame::new(true, frame.opcode, None, frame.payload))
                    .await?;
            }
            _ => {}
        }
    }
}

async fn echo_tokio_websockets(tcp: TcpStream) -> Result<(), BoxError> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new().accept(tcp).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Reads one upgrade request and writes the 101 (for fastwebsockets, whose own
/// server handshake is a hyper service). The load client sends nothing after its
/// request until it has the answer, so no frame byte is read here.
async fn upgrade_by_hand(tcp: &mut TcpStream) -> Result<(), BoxError> {
    use tidings_handshake::{Request, RequestParser, Status};
    let mut parser = RequestParser::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err("end of stream in the handshake".into());
        }
        if let Status::Complete((head, _)) = parser.parse(&chunk[..n])? {
            let Request::Upgrade(request) = head else {
                return Err("not an upgrade".into());
            };
            let mut out = Vec::new();
            request.accept().encode(&mut out);
            tcp.write_all(&out).await?;
            return Ok(());
        }
    }
}

/// The next connection, with Nagle off; `None` after an accept error (out of file
/// descriptors, say), after a pause so the loop does not spin.
pub(crate) async fn accept(listener: &TcpListener) -> Option<TcpStream> {
    match listener.accept().await {
        Ok((tcp, _)) => {
            let _ = tcp.set_nodelay(true);
            Some(tcp)
        }
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            None
        }
    }
}

/// Builds the single-threaded runtime, listens on 127.0.0.1 (a port the OS picks,
/// a backlog deep enough for thousands of connects), prints the port and runs
/// `server` until stdin closes.
pub(crate) fn serve<F, Fut>(server: F) -> Result<(), String>
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket.set_reuseaddr(true).map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| format!("bind: {e}"))?;
        let listener = socket.listen(8192).map_err(|e| format!("listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "PORT {port}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("stdout: {e}"))?;
        server(listener).await;
        Ok(())
    })
}
