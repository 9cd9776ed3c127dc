//! HTTP/1.1 and HTTP/2 on one listener (feature `http2`): hyper's HTTP, tidings'
//! WebSocket and event streams.
//!
//! # Why it is built this way
//!
//! HTTP/2 is a whole protocol (HPACK, streams, flow control), and hyper's `h2` is a
//! well-kept one, so this module writes none of it: it is plumbing between hyper and
//! the tidings cores. Every WebSocket rule is a sans-IO crate's:
//! [`WebSocketRequest`] checks the
//! HTTP/1.1 upgrade or the RFC 8441 extended CONNECT and writes the answer (`101` or
//! `200`, refusals valid for either version), and the frames on the upgraded stream
//! are run by the same [`WebSocket`] as on a socket. An event stream is an
//! [`SseBody`](crate::sse::SseBody): hyper polls a body only when the stream's send
//! window has room (one chunk waits at most), so HTTP/2 flow control is the
//! backpressure and a reader that stops reading holds a bounded amount of memory.
//!
//! ```text
//!  TcpListener ─► [TLS: ALPN h2 | http/1.1] ─► hyper (h1, or h2 by ALPN / preface)
//!      request ─► your service ─► WebSocketUpgrade::from_request ─► 101 | 200 | 4xx
//!                                   on_upgrade(|ws| ..) ─► WebSocket<upgraded stream>
//!                               ─► sse_response(SseBody) ─► DATA frames (flow control)
//! ```
//!
//! The client side is [`H2Connection`], one HTTP/2 connection to an origin (ALPN
//! `h2` over TLS, h2c over cleartext) shared by its clones: each
//! [`websocket`](H2Connection::websocket) is a stream opened by extended CONNECT
//! when the server's SETTINGS allow it ([`Error::NoExtendedConnect`] otherwise), and
//! each [`event_source`](H2Connection::event_source) is the
//! [`EventSource`](crate::sse::EventSource) of HTTP/1.1, the same loop over the same
//! sans-IO [`tidings_sse::Client`] at its response level, with every reconnection a
//! new stream.
//! [`connect_url`] (one WebSocket, falling back to HTTP/1.1) and [`event_source()`]
//! are that handle for one.
//!
//! [`ServeConfig::websocket`] says whether the server advertises
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3): browsers take it as a promise
//! that WebSockets may use the connection, so it is off unless a route takes them.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ::http::request::Parts;
use ::http::{Request, Response, Version};
use hyper::body::{Body, Incoming};
use hyper::service::{Service, service_fn};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tidings_handshake::http::WebSocketRequest;
use tidings_handshake::{Error as HeadError, Rejection};
use tidings_ws::Role;
use tokio::net::{TcpListener, TcpStream};

#[cfg(doc)]
use crate::Error;
use crate::{Config, Tokio, WebSocket};

mod client;
mod events;
pub use client::{ClientStream, H2Connection, H2Stream, OpenConfig, connect_url, connect_with};
pub use events::{H2EventSource, event_source};

/// The errors a service may fail with.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A hyper service that [`serve`] can run: `service_fn(handler)`, or an axum
/// `Router` in `TowerToHyperService`.
pub trait HttpService<B>:
    Service<Request<Incoming>, Response = Response<B>, Future: Send, Error: Into<BoxError>>
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S where
    S: Service<Request<Incoming>, Response = Response<B>, Future: Send, Error: Into<BoxError>>
        + Send
        + 'static
{
}

/// A response body that [`serve`] can send.
pub trait ResponseBody: Body<Data: Send, Error: Into<BoxError>> + Send + 'static {}

impl<B> ResponseBody for B where B: Body<Data: Send, Error: Into<BoxError>> + Send + 'static {}

/// A WebSocket on an upgraded HTTP/1.1 connection or HTTP/2 stream.
pub type UpgradedWebSocket = WebSocket<Tokio<UpgradedStream>>;

/// An upgraded HTTP/1.1 connection or HTTP/2 stream, as a tokio stream.
///
/// On HTTP/2 a peer that has sent all it will send may end the stream with
/// `RST_STREAM(NO_ERROR)`: "stop sending", not a failure (RFC 9113 §8.1: clients
/// "MUST NOT discard responses as a result"). A server does so whenever it drops a
/// stream it finished first, as after a WebSocket close. Here that reset reads as
/// the end of the stream and writes as taken, so the closing handshake ends
/// cleanly; every other error is passed on.
#[derive(Debug)]
pub struct UpgradedStream(TokioIo<Upgraded>);

impl UpgradedStream {
    /// Wraps an upgrade from hyper (`hyper::upgrade::on`).
    pub fn new(upgraded: Upgraded) -> Self {
        Self(TokioIo::new(upgraded))
    }
}

/// `result`, with an HTTP/2 `RST_STREAM(NO_ERROR)` ("stop sending", RFC 9113 §8.1)
/// as `ok`: the rule of [`UpgradedStream`] and of the client's
/// [`H2Stream`](client::H2Stream).
fn unless_stopped<T>(result: Poll<io::Result<T>>, ok: T) -> Poll<io::Result<T>> {
    let Poll::Ready(Err(e)) = &result else {
        return result;
    };
    let mut cause = e.get_ref().map(|e| e as &(dyn std::error::Error + 'static));
    while let Some(e) = cause {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            if h2.reason() == Some(h2::Reason::NO_ERROR) {
                return Poll::Ready(Ok(ok));
            }
            break;
        }
        cause = e.source();
    }
    result
}

impl tokio::io::AsyncRead for UpgradedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        unless_stopped(Pin::new(&mut self.0).poll_read(cx, buf), ())
    }
}

impl tokio::io::AsyncWrite for UpgradedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        unless_stopped(Pin::new(&mut self.0).poll_write(cx, buf), buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        unless_stopped(Pin::new(&mut self.0).poll_flush(cx), ())
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        unless_stopped(Pin::new(&mut self.0).poll_shutdown(cx), ())
    }
}

/// What [`serve`] allows. Every limit has a default that is safe in front of
/// hostile peers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441), so HTTP/2 clients
    /// may open WebSockets with extended CONNECT. Default `false`: turn it on only
    /// when a route accepts them.
    pub websocket: bool,
    /// The most streams a client may have open at once on an HTTP/2 connection
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`). Default 256.
    pub max_concurrent_streams: u32,
    /// The largest request head: HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`, and the
    /// HTTP/1.1 read buffer (at least 8 KiB, hyper's floor). Default 16 KiB.
    pub max_header_list_size: u32,
    /// A connection whose first request (after TLS) has not arrived by then is
    /// dropped. Default 10 s.
    pub first_request_timeout: Duration,
    /// TLS: with a config, connections are TLS and ALPN chooses `h2` or
    /// `http/1.1` (its `alpn_protocols` are set to those two). Default `None`:
    /// cleartext, HTTP/2 by prior knowledge (h2c).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            websocket: false,
            max_concurrent_streams: 256,
            max_header_list_size: 16 * 1024,
            first_request_timeout: Duration::from_secs(10),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl ServeConfig {
    /// This config with [`websocket`](Self::websocket) set.
    #[must_use]
    pub fn websocket(mut self, on: bool) -> Self {
        self.websocket = on;
        self
    }

    /// hyper's builder with these settings.
    fn builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        let head = self.max_header_list_size;
        builder
            .http1()
            .timer(TokioTimer::new())
            .max_buf_size((head as usize).max(8 * 1024));
        let mut h2 = builder.http2();
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(head);
        if self.websocket {
            h2.enable_connect_protocol();
        }
        builder
    }
}

/// Serves `service` on every connection `listener` accepts, HTTP/1.1 and HTTP/2
/// (see [`serve_connection`]), each on its own task. Runs until the task is
/// dropped; a failed `accept` (out of file descriptors...) is retried after a
/// pause.
///
/// ```no_run
/// use http_body_util::Full;
/// use tidings_io::http::{ServeConfig, WebSocketUpgrade, serve};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let service = hyper::service::service_fn(|mut request| async move {
///     // Any body type made from a `Vec<u8>` will do.
///     let upgrade = match WebSocketUpgrade::from_request::<_, Full<bytes::Bytes>>(&mut request) {
///         Ok(upgrade) => upgrade,
///         Err(refusal) => return Ok::<_, std::convert::Infallible>(refusal),
///     };
///     Ok(upgrade.on_upgrade(|mut ws| async move {
///         while let Some(Ok(message)) = ws.recv().await {
///             if ws.send(message).await.is_err() {
///                 break;
///             }
///         }
///     }))
/// });
/// serve(listener, ServeConfig::default().websocket(true), service).await
/// # }
/// ```
pub async fn serve<S, B>(listener: TcpListener, config: ServeConfig, service: S) -> io::Result<()>
where
    S: HttpService<B> + Clone,
    B: ResponseBody,
{
    let config = Arc::new(config);
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (config, service) = (config.clone(), service.clone());
        tokio::spawn(async move { serve_connection(tcp, &config, service).await });
    }
}

/// Serves one connection: TLS first if configured, then HTTP/2 if ALPN chose
/// `h2` or the client opened with the HTTP/2 preface, HTTP/1.1 (with upgrades)
/// otherwise. Ends when the connection does, or at
/// [`first_request_timeout`](ServeConfig::first_request_timeout) if no request
/// came by then.
pub async fn serve_connection<S, B>(tcp: TcpStream, config: &ServeConfig, service: S)
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let _ = tcp.set_nodelay(true);
    let first = Arc::new(tokio::sync::Notify::new());
    let seen = first.clone();
    let service = service_fn(move |request| {
        seen.notify_one();
        service.call(request)
    });
    // One deadline for the TLS handshake and the first request.
    let deadline = tokio::time::Instant::now() + config.first_request_timeout;
    let served = async {
        #[cfg(feature = "rustls")]
        if let Some(tls) = &config.tls {
            let alpn = [b"h2".to_vec(), b"http/1.1".to_vec()];
            let tls = match tls.alpn_protocols == alpn {
                true => Arc::clone(tls),
                false => {
                    let mut tls = rustls::ServerConfig::clone(tls);
                    tls.alpn_protocols = alpn.to_vec();
                    Arc::new(tls)
                }
            };
            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(tcp);
            let Ok(Ok(stream)) = tokio::time::timeout_at(deadline, accept).await else {
                return;
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let builder = config.builder();
            let builder = if h2 { builder.http2_only() } else { builder };
            let _ = drive(&builder, TokioIo::new(stream), service, &first, deadline).await;
            return;
        }
        let io = TokioIo::new(tcp);
        let _ = drive(&config.builder(), io, service, &first, deadline).await;
    };
    served.await;
}

/// Runs hyper on `io`, dropping the connection if no request arrives in time.
async fn drive<I, S, B>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    first: &tokio::sync::Notify,
    deadline: tokio::time::Instant,
) -> Result<(), BoxError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let connection = builder.serve_connection_with_upgrades(io, service);
    let mut connection = pin!(connection);
    let mut request = pin!(first.notified());
    let mut deadline = pin!(tokio::time::sleep_until(deadline));
    let early = poll_fn(|cx| match connection.as_mut().poll(cx) {
        Poll::Ready(ended) => Poll::Ready(Some(ended)),
        _ if request.as_mut().poll(cx).is_ready() => Poll::Ready(None),
        // No request in time: dropping the connection closes it.
        _ if deadline.as_mut().poll(cx).is_ready() => Poll::Ready(Some(Ok(()))),
        _ => Poll::Pending,
    });
    match early.await {
        Some(ended) => ended,
        None => connection.await,
    }
}

/// A WebSocket request on its way to an answer: the HTTP/1.1 upgrade or the HTTP/2
/// extended CONNECT, checked by [`WebSocketRequest`], with the connection hyper
/// hands over once the answer is sent.
#[derive(Debug)]
pub struct WebSocketUpgrade {
    request: WebSocketRequest,
    on_upgrade: Option<OnUpgrade>,
    config: Config,
    protocols: Vec<String>,
}

impl WebSocketUpgrade {
    /// Checks `request` as a WebSocket request in either form. The error is the
    /// answer to send instead (405, 426, 400...: the status the broken rule names,
    /// with the fields right for the request's version).
    pub fn from_request<B, R: From<Vec<u8>>>(
        request: &mut Request<B>,
    ) -> Result<Self, Response<R>> {
        let protocol = request.extensions().get::<hyper::ext::Protocol>();
        let checked = WebSocketRequest::from_http(request, protocol.map(|p| p.as_str()));
        Self::new(checked, request.version(), request.extensions_mut())
    }

    /// [`from_request`](Self::from_request) on a request's parts (what an
    /// extractor sees).
    pub fn from_parts<R: From<Vec<u8>>>(parts: &mut Parts) -> Result<Self, Response<R>> {
        let protocol = parts.extensions.get::<hyper::ext::Protocol>();
        let checked = WebSocketRequest::from_parts(parts, protocol.map(|p| p.as_str()));
        Self::new(checked, parts.version, &mut parts.extensions)
    }

    fn new<R: From<Vec<u8>>>(
        checked: Result<WebSocketRequest, HeadError>,
        version: Version,
        extensions: &mut ::http::Extensions,
    ) -> Result<Self, Response<R>> {
        let request = checked.map_err(|e| refuse(&Rejection::from_error(&e), version))?;
        Ok(Self {
            request,
            on_upgrade: extensions.remove::<OnUpgrade>(),
            config: Config::default(),
            protocols: Vec::new(),
        })
    }

    /// The request, checked.
    pub fn request(&self) -> &WebSocketRequest {
        &self.request
    }

    /// The subprotocols this server speaks: the first one the client offers
    /// (in the client's order of preference) is chosen.
    #[must_use]
    pub fn protocols<I: IntoIterator<Item = T>, T: Into<String>>(mut self, protocols: I) -> Self {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The connection's settings (default [`Config::default`]); with the
    /// `deflate` feature, [`Config::deflate`] accepts permessage-deflate.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The subprotocol that will be chosen, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.request.select_protocol(&self.protocols)
    }

    /// The answer (`101` on HTTP/1.1, `200` on HTTP/2); once hyper has sent it,
    /// `callback` runs on its own task with the [`WebSocket`].
    pub fn on_upgrade<F, Fut, R>(self, callback: F) -> Response<R>
    where
        F: FnOnce(UpgradedWebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        R: From<Vec<u8>>,
    {
        let version = self.request.version();
        let protocol = self.selected_protocol().map(str::to_owned);
        let config = self.config;
        #[cfg(feature = "deflate")]
        let policy = config.deflate.as_ref().map(crate::deflate::policy);
        #[cfg(not(feature = "deflate"))]
        let policy = None;
        let (answer, _agreed) = match self.request.accept(protocol.as_deref(), policy.as_ref()) {
            Ok(accepted) => accepted,
            Err(e) => return refuse(&Rejection::from_local_error(&e), version),
        };
        #[cfg(feature = "deflate")]
        let config = crate::deflate::accepted(_agreed, config);
        // Not served by hyper (or without upgrades): nothing to hand over.
        let Some(on_upgrade) = self.on_upgrade else {
            let no_upgrade = Rejection::new(500).map(|r| r.body("no connection to upgrade\n"));
            return no_upgrade.map_or_else(
                |_| Response::new(R::from(Vec::new())),
                |r| refuse(&r, version),
            );
        };
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let io = Tokio::new(UpgradedStream::new(upgraded));
                callback(WebSocket::from_upgraded(io, Role::Server, config, protocol)).await;
            }
        });
        answer.map(|()| R::from(Vec::new()))
    }
}

/// A refusal as a response for a request of `version`.
fn refuse<R: From<Vec<u8>>>(rejection: &Rejection, version: Version) -> Response<R> {
    match rejection.to_http_for(version) {
        Ok(response) => response.map(R::from),
        // Every status and field here was written by tidings_handshake: valid.
        Err(_) => Response::new(R::from(Vec::new())),
    }
}

/// An event stream response: `200` with the headers of
/// [`RESPONSE_HEADERS`](tidings_sse::head::RESPONSE_HEADERS) and `body`, usually
/// an [`SseBody`](crate::sse::SseBody). On HTTP/2 it is one stream among many.
pub fn sse_response<B>(body: B) -> Response<B> {
    let mut response = Response::new(body);
    for (name, value) in tidings_sse::head::RESPONSE_HEADERS {
        if let Ok(name) = ::http::HeaderName::from_bytes(name.as_bytes()) {
            let value = ::http::HeaderValue::from_static(value);
            response.headers_mut().insert(name, value);
        }
    }
    response
}
