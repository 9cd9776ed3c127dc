//! The client side: [`H2Connection`], one HTTP/2 connection to an origin whose
//! streams carry WebSockets (RFC 8441) and event streams, and [`connect_url`], a
//! WebSocket on a connection of its own, over HTTP/1.1 when the server does not offer
//! extended CONNECT.
//!
//! A client may send `:protocol` only once the server's SETTINGS enabled it (RFC
//! 8441 §3), so each connection's first exchange is a PING: the server's SETTINGS
//! come before its PONG, and by the PONG the answer is known. A stream over the
//! server's `SETTINGS_MAX_CONCURRENT_STREAMS` waits in `h2`'s queue until one
//! closes, within the caller's timeout. The stream is the `h2` crate's, under the
//! same [`WebSocket`] as any socket.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h2::client::SendRequest;
use h2::ext::Protocol;
use tidings_handshake::{ClientBuilder, Response, UriError};
use tidings_sse::client::{Config as ClientConfig, Url, UrlError};
use tidings_ws::Role;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::{self, JoinHandle};
use tokio::time::{Instant, timeout_at};

use super::events::H2EventSource;
use crate::sse::EventSource;
use crate::{Config, Dialer, Error, MaybeTlsStream, Tokio, WebSocket};

/// One HTTP/2 connection to an origin (`https://` by TLS with ALPN `h2`, `http://`
/// by prior knowledge, h2c), shared by every clone of this handle: each
/// [`websocket`](Self::websocket) and each request of an
/// [`event_source`](Self::event_source) is a new stream of it. A connection found
/// gone (closed by the server, or not answering a request in time) is dialled again
/// for the next stream, so an event stream's reconnections outlive it.
///
/// Streams over the server's `SETTINGS_MAX_CONCURRENT_STREAMS` wait for one to close,
/// within their timeout ([`Config::handshake_timeout`],
/// [`ClientConfig::connect_timeout`]), and fail with an [`Error::Io`] of kind
/// `TimedOut` that names the setting.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use tidings_io::http::{H2Connection, OpenConfig};
/// use tidings_io::{Config, Error, Message, sse::ClientConfig};
///
/// # async fn run() -> Result<(), Error> {
/// let h2 = H2Connection::open("https://example.com", OpenConfig::default()).await?;
/// let mut news = h2.event_source("/news", ClientConfig::default())?;
/// match h2.websocket("/chat", Config::default()).await {
///     Ok(mut chat) => chat.send(Message::text("hello")).await?, // same connection
///     // The server's SETTINGS do not offer WebSockets over HTTP/2: HTTP/1.1 for this.
///     Err(Error::NoExtendedConnect) => {
///         let url = "wss://example.com/chat";
///         let mut chat = tidings_io::connect_url(url, Config::default()).await?;
///         chat.send(Message::text("hello")).await?;
///     }
///     Err(e) => return Err(e),
/// }
/// while let Some(event) = news.next().await {
///     println!("{:?}", event?);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct H2Connection(Arc<Shared>);

/// How [`H2Connection::open`] dials.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OpenConfig {
    /// The dial, TLS, the HTTP/2 preface and the server's SETTINGS must be done
    /// within this. Default 10 s. (A connection dialled again for a stream is within
    /// that stream's timeout.)
    pub timeout: Duration,
    /// How to dial, and TLS for `https://` and `wss://` (offering `h2` and
    /// `http/1.1` by ALPN, whatever its config's list). Default
    /// [`Dialer::default`].
    pub dialer: Dialer,
}

impl Default for OpenConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            dialer: Dialer::default(),
        }
    }
}

#[derive(Debug)]
struct Shared {
    /// Scheme, host and port: `http` for h2c, `https` for TLS.
    origin: Url,
    /// Offers `h2` by ALPN.
    dialer: Dialer,
    /// The connection new streams go on; `None` until it is dialled, and again
    /// once it failed a stream.
    current: tokio::sync::Mutex<Option<Current>>,
}

#[derive(Debug)]
struct Current {
    sender: SendRequest<Bytes>,
    /// The task running the connection (its id is the connection's): finished
    /// once the connection is gone.
    driver: JoinHandle<()>,
}

impl Current {
    /// The connection may take new streams: its task runs, and `h2` has seen no
    /// connection error (it knows of one before the task ends) nor run out of
    /// stream ids.
    fn is_alive(&self) -> bool {
        let mut probe = self.sender.clone();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        !self.driver.is_finished() && !matches!(probe.poll_ready(&mut cx), Poll::Ready(Err(_)))
    }
}

/// What dialling an origin gave: HTTP/2, or TLS whose ALPN chose HTTP/1.1.
enum Dialled {
    H2(Current),
    Http1(MaybeTlsStream),
}

/// The connection window: 128 streams' default windows (64 KiB), so that up to 128
/// streams left unread stall only themselves. It bounds what the server can make
/// the client buffer, too.
const CONNECTION_WINDOW: u32 = 8 << 20;

/// How long a stream the server refused (`REFUSED_STREAM`) waits before it is sent
/// again.
const REFUSED_RETRY: Duration = Duration::from_millis(20);

impl H2Connection {
    /// Dials the origin of `url` (`http://`, `https://`, `ws://` or `wss://`; the
    /// path is not used) within [`OpenConfig::timeout`], and reads the server's
    /// SETTINGS.
    ///
    /// # Errors
    ///
    /// [`Error::NoHttp2`] when TLS' ALPN chose `http/1.1`; a bad URL
    /// ([`Error::LocalSse`], [`Error::LocalHandshake`] for `ws://`),
    /// [`Error::TlsUnsupported`], [`Error::Io`], [`Error::Tls`](crate::Error) and
    /// [`Error::HandshakeTimeout`] as [`connect_url`].
    pub async fn open(url: &str, config: OpenConfig) -> Result<Self, Error> {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        let origin = match ["ws", "wss"]
            .iter()
            .any(|ws| scheme.eq_ignore_ascii_case(ws))
        {
            true => ws_origin(ClientBuilder::new(url)?.uri())?,
            false => Url::parse(url).map_err(|e| Error::LocalSse(e.into()))?,
        };
        let connection = Self::new(origin, &config.dialer)?;
        let deadline = Instant::now() + config.timeout;
        connection.sender(deadline).await?;
        Ok(connection)
    }

    /// A handle on `origin` that dials with `dialer` on first use.
    pub(super) fn new(origin: Url, dialer: &Dialer) -> Result<Self, Error> {
        if origin.is_https() && !dialer.speaks_tls() {
            return Err(Error::TlsUnsupported);
        }
        let dialer = dialer.offering(&["h2", "http/1.1"]);
        let current = tokio::sync::Mutex::new(None);
        Ok(Self(Arc::new(Shared {
            origin,
            dialer,
            current,
        })))
    }

    /// The URL the connection was opened with: its scheme, host and port are the
    /// origin.
    pub fn origin(&self) -> &Url {
        &self.0.origin
    }

    /// A WebSocket at `target`, a path (`/chat?room=1`) or a `ws://` / `wss://` URL
    /// of this origin, on a new stream; see [`websocket_with`](Self::websocket_with).
    ///
    /// # Errors
    ///
    /// As [`websocket_with`](Self::websocket_with).
    pub async fn websocket(&self, target: &str, config: Config) -> Connected {
        let scheme = if self.0.origin.is_https() {
            "wss"
        } else {
            "ws"
        };
        let url = match target.starts_with('/') {
            true => format!("{scheme}://{}{target}", self.0.origin.host_header()),
            false => target.to_owned(),
        };
        self.websocket_with(ClientBuilder::new(&url)?, config).await
    }

    /// A WebSocket by extended CONNECT (RFC 8441) on a new stream, with the
    /// handshake `builder` makes (subprotocols, `Origin`, extra headers), all
    /// within [`Config::handshake_timeout`]. The stream is always
    /// [`ClientStream::Http2`].
    ///
    /// # Errors
    ///
    /// [`Error::NoExtendedConnect`] when the server's SETTINGS lack
    /// `ENABLE_CONNECT_PROTOCOL` (fall back to HTTP/1.1: [`connect_url`] does);
    /// [`Error::NoHttp2`] when a connection dialled again chose HTTP/1.1;
    /// [`Error::LocalHandshake`] with [`UriError::Host`] for a URL of another
    /// origin; [`Error::Rejected`] with the server's status; [`Error::Io`] for a
    /// stream or connection error, or a stream that had to wait for
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` longer than the handshake timeout;
    /// [`Error::HandshakeTimeout`].
    pub async fn websocket_with(&self, builder: ClientBuilder, config: Config) -> Connected {
        if !ws_origin(builder.uri())?.same_origin(&self.0.origin) {
            return Err(Error::LocalHandshake(UriError::Host.into()));
        }
        let deadline = Instant::now() + config.handshake_timeout;
        #[cfg(feature = "deflate")]
        let builder = crate::deflate::offer_in(builder, &config);
        let (mut request, mut handshake) = builder.into_extended_connect()?;
        request
            .extensions_mut()
            .insert(Protocol::from_static(tidings_handshake::http::PROTOCOL));
        let (response, send) = self.request(request, false, deadline).await?;
        let accepted = handshake.handle_extended_connect_response(&response);
        let accepted = match accepted.map_err(Error::Handshake)? {
            Response::Accepted(accepted) => accepted,
            Response::Rejected(rejected) => {
                let status = rejected.status();
                return Err(Error::Rejected { status });
            }
        };
        #[cfg(feature = "deflate")]
        let config = crate::deflate::connected(accepted.deflate(), config);
        let protocol = accepted.protocol().map(str::to_owned);
        let stream = H2Stream {
            send,
            recv: response.into_body(),
            pending: Bytes::new(),
        };
        let io = Tokio::new(ClientStream::Http2(stream));
        Ok(WebSocket::from_upgraded(io, Role::Client, config, protocol))
    }

    /// The event stream at `target`, a path or an `http://` / `https://` URL of this
    /// origin, read as [`event_source()`](super::event_source()) does: each
    /// (re)connection is a new stream of this connection.
    ///
    /// # Errors
    ///
    /// [`Error::LocalSse`] for a `target` that is not a URL of this origin, or a
    /// [`ClientConfig::headers`] entry that cannot be sent.
    pub fn event_source(&self, target: &str, config: ClientConfig) -> Result<H2EventSource, Error> {
        let url = self.0.origin.join(target);
        let url = url.and_then(|url| match url.same_origin(&self.0.origin) {
            true => Ok(url),
            false => Err(UrlError::Host),
        });
        let url = url.map_err(|e| Error::LocalSse(e.into()))?;
        EventSource::with_link(&url.to_string(), self.clone(), config)
    }

    /// Sends `head` on a new stream (dialling the connection if it is gone) and
    /// waits for the response head, all by `deadline`.
    pub(super) async fn request(
        &self,
        head: http::Request<()>,
        end_of_stream: bool,
        deadline: Instant,
    ) -> Result<(http::Response<h2::RecvStream>, h2::SendStream<Bytes>), Error> {
        let (head, ()) = head.into_parts();
        loop {
            let (mut sender, id) = self.sender(deadline).await?;
            let extended = head.extensions.get::<Protocol>().is_some();
            if extended && !sender.is_extended_connect_protocol_enabled() {
                return Err(Error::NoExtendedConnect);
            }
            // A new clone has no stream waiting: ready unless the connection failed.
            poll_fn(|cx| sender.poll_ready(cx))
                .await
                .map_err(h2_error)?;
            let request = http::Request::from_parts(head.clone(), ());
            let (response, send) = sender
                .send_request(request, end_of_stream)
                .map_err(h2_error)?;
            // Over SETTINGS_MAX_CONCURRENT_STREAMS, h2 queues the stream, and the
            // handle is ready again once it is open.
            match timeout_at(deadline, poll_fn(|cx| sender.poll_ready(cx))).await {
                Ok(opened) => opened.map_err(h2_error)?,
                Err(_) => {
                    let most = sender.current_max_send_streams();
                    let e = format!(
                        "no free stream: the server's SETTINGS_MAX_CONCURRENT_STREAMS ({most}) stayed in use"
                    );
                    return Err(Error::Io(io::Error::new(io::ErrorKind::TimedOut, e)));
                }
            }
            match timeout_at(deadline, response).await {
                Ok(Ok(response)) => return Ok((response, send)),
                // The server did not process the stream (RFC 9113 §8.7): it may still
                // count one that closed on this side as open. Sent again shortly.
                Ok(Err(e))
                    if e.reason() == Some(h2::Reason::REFUSED_STREAM)
                        && Instant::now() + REFUSED_RETRY < deadline =>
                {
                    tokio::time::sleep(REFUSED_RETRY).await;
                }
                Ok(Err(e)) => return Err(h2_error(e)),
                Err(_) => {
                    // Not answering: new streams go on a new connection. (Locked: it
                    // is being dialled again already, or will be checked.)
                    if let Ok(mut current) = self.0.current.try_lock() {
                        if current.as_ref().is_some_and(|c| c.driver.id() == id) {
                            *current = None;
                        }
                    }
                    return Err(Error::HandshakeTimeout);
                }
            }
        }
    }

    /// The connection's handle and id, dialled by `deadline` if there is none.
    async fn sender(&self, deadline: Instant) -> Result<(SendRequest<Bytes>, task::Id), Error> {
        let dial = async {
            let mut current = self.0.current.lock().await;
            if let Some(alive) = current.as_ref().filter(|c| c.is_alive()) {
                return Ok((alive.sender.clone(), alive.driver.id()));
            }
            let Dialled::H2(dialled) = dial(&self.0.origin, &self.0.dialer).await? else {
                return Err(Error::NoHttp2);
            };
            let sender = (dialled.sender.clone(), dialled.driver.id());
            *current = Some(dialled);
            Ok(sender)
        };
        timeout_at(deadline, dial)
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }
}

/// The HTTP origin of a WebSocket URI ([`WsUri::http_origin`]), as a [`Url`].
///
/// [`WsUri::http_origin`]: tidings_handshake::WsUri::http_origin
fn ws_origin(uri: &tidings_handshake::WsUri) -> Result<Url, Error> {
    let url = Url::parse(&uri.http_origin());
    url.map_err(|_| Error::LocalHandshake(UriError::Host.into()))
}

/// Dials `origin` with `dialer`, and runs HTTP/2 on it unless ALPN chose HTTP/1.1.
async fn dial(origin: &Url, dialer: &Dialer) -> Result<Dialled, Error> {
    let stream = dialer.connect(origin.host(), origin.port(), origin.is_https());
    let stream = stream.await?;
    if !alpn_h2(&stream) {
        return Ok(Dialled::Http1(stream));
    }
    let mut builder = h2::client::Builder::new();
    builder.initial_connection_window_size(CONNECTION_WINDOW);
    let (sender, mut connection) = builder.handshake(stream).await.map_err(h2_error)?;
    let ping = connection.ping_pong();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    // The server's SETTINGS are its first frame: by its PONG they are applied.
    if let Some(mut ping) = ping {
        ping.ping(h2::Ping::opaque()).await.map_err(h2_error)?;
    }
    Ok(Dialled::H2(Current { sender, driver }))
}

/// Dials `url` (`ws://` or `wss://`) with [`Dialer::default`], within
/// [`Config::handshake_timeout`], and opens a WebSocket over HTTP/2 if the server
/// allows it: [`connect_with`] with the default dialer.
///
/// # Errors
///
/// As [`connect_with`].
pub async fn connect_url(url: &str, config: Config) -> Connected {
    connect_with(ClientBuilder::new(url)?, config, &Dialer::default()).await
}

/// Dials the URL of `builder` with `dialer`, within [`Config::handshake_timeout`],
/// and opens a WebSocket with the handshake `builder` makes (subprotocols, `Origin`,
/// extra headers, as [`crate::connect_with`]), over HTTP/2 if the server allows it:
/// `wss://` offers `h2` by ALPN, `ws://` speaks HTTP/2 by prior knowledge (h2c).
/// Falls back to HTTP/1.1 when ALPN chose it or the server's SETTINGS lack
/// `ENABLE_CONNECT_PROTOCOL` (on a new connection, offering `http/1.1` alone). The
/// connection is the WebSocket's own: for several on one connection, see
/// [`H2Connection`].
///
/// # Errors
///
/// As [`crate::connect_url_with`]; an HTTP/2 failure is an [`Error::Io`].
pub async fn connect_with(builder: ClientBuilder, config: Config, dialer: &Dialer) -> Connected {
    let timeout = config.handshake_timeout;
    let connect = async {
        let uri = builder.uri();
        let origin = ws_origin(uri)?;
        let h2 = H2Connection::new(origin, dialer)?;
        let stream = match dial(&h2.0.origin, &h2.0.dialer).await? {
            Dialled::Http1(stream) => stream,
            Dialled::H2(current) => {
                *h2.0.current.lock().await = Some(current);
                match h2.websocket_with(builder.clone(), config.clone()).await {
                    Err(Error::NoExtendedConnect) => {}
                    connected => return connected,
                }
                // No extended CONNECT on this server: HTTP/1.1, on a new connection.
                let http1 = dialer.offering(&["http/1.1"]);
                http1
                    .connect(uri.host(), uri.port(), uri.is_secure())
                    .await?
            }
        };
        let io = Tokio::new(ClientStream::Http1(stream));
        crate::connect_with(io, builder.clone(), config.clone()).await
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(connected) => connected,
        Err(_) => Err(Error::HandshakeTimeout),
    }
}

/// What the connect functions resolve to.
type Connected = Result<WebSocket<Tokio<ClientStream>>, Error>;

/// What [`connect_url`] runs a WebSocket on.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// HTTP/1.1 after the upgrade: the connection itself.
    Http1(MaybeTlsStream),
    /// One stream of an HTTP/2 connection.
    Http2(H2Stream),
}

/// An HTTP/2 stream as a byte stream: DATA frames in, DATA frames out within the
/// peer's flow-control window, `END_STREAM` on shutdown.
#[derive(Debug)]
pub struct H2Stream {
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    /// What is left of the last DATA frame read.
    pending: Bytes,
}

/// HTTP/2 is to be spoken on `stream`: h2c, or TLS whose ALPN chose `h2`.
fn alpn_h2(stream: &MaybeTlsStream) -> bool {
    match stream {
        #[cfg(feature = "rustls")]
        MaybeTlsStream::Rustls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        _ => true,
    }
}

fn h2_error(e: h2::Error) -> Error {
    Error::Io(into_io(e))
}

pub(super) fn into_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io().unwrap_or_else(|| io::ErrorKind::Other.into())
    } else {
        io::Error::other(e)
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => {
                    // Taken: the window opens again by as much.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(e)) => return super::unless_stopped(Poll::Ready(Err(into_io(e))), ()),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.send.reserve_capacity(buf.len());
        // Wait for window: what may be sent now is what the peer will take.
        while self.send.capacity() == 0 {
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return super::unless_stopped(Poll::Ready(Err(into_io(e))), buf.len());
                }
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        let n = self.send.capacity().min(buf.len());
        let data = Bytes::copy_from_slice(&buf[..n]);
        let sent = self.send.send_data(data, false).map(|()| n);
        super::unless_stopped(Poll::Ready(sent.map_err(into_io)), n)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // END_STREAM: the h2 form of TCP's FIN (RFC 8441 §5).
        let sent = self.send.send_data(Bytes::new(), true);
        super::unless_stopped(Poll::Ready(sent.map_err(into_io)), ())
    }
}

/// Runs `$body` with `$io` bound to the inner stream, pinned.
macro_rules! each {
    ($self:expr, $io:ident => $body:expr) => {
        match $self.get_mut() {
            ClientStream::Http1(io) => {
                let $io = Pin::new(io);
                $body
            }
            ClientStream::Http2(io) => {
                let $io = Pin::new(io);
                $body
            }
        }
    };
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, io => io.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_shutdown(cx))
    }
}
