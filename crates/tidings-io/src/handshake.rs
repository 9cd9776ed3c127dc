//! The opening handshake on a transport: [`accept`] for servers ([`accept_parsed`]
//! when the server read the head itself), [`connect`] for clients, and
//! `connect_url` to dial a `ws://` or `wss://` URL on tokio.
//!
//! All HTTP is `tidings-handshake`'s; this module only moves bytes under a deadline
//! ([`Config::handshake_timeout`], which a slowloris peer sending one byte at a time
//! runs into) and hands the bytes read past the head to the connection, since they
//! may already be frames.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;

use std::time::Duration;

use bytes::BytesMut;
use tidings_handshake::{
    ClientBuilder, Parsed, Rejection, Request, RequestParser, Response, Status, UpgradeRequest,
};
use tidings_ws::Connection;
#[cfg(feature = "deflate")]
use tidings_ws::Role;

use crate::config::Config;
use crate::error::Error;
use crate::transport::{Bounded, Transport, read_before, write_all_before};
use crate::websocket::WebSocket;

/// How much of the head one read asks for. The parser takes the head in pieces of any
/// size, so this only trades syscalls for memory; the limit is
/// [`Config::handshake_limits`].
const HEAD_READ: usize = 4096;

/// Accepts a WebSocket on `io`, taking any subprotocol-less upgrade request.
///
/// A request that is not an upgrade gets `426 Upgrade Required` and
/// [`Error::Rejected`]; a malformed one gets the 4xx that
/// [`tidings_handshake::Error::status`] names and [`Error::Handshake`].
pub fn accept<S: Transport>(io: S, config: Config) -> impl Future<Output = Accepted<S>> {
    accept_with(io, config, |_| Ok(None))
}

/// Accepts a WebSocket on `io` after asking `decide` about the request.
///
/// `decide` sees the validated request (path, query, `Origin`, offered subprotocols,
/// every header) and returns `Ok(None)` to accept, `Ok(Some(protocol))` to accept
/// choosing one of the offered subprotocols, or `Err(rejection)` to refuse (for
/// instance `Rejection::new(403)`), which is sent and returned as
/// [`Error::Rejected`].
///
/// ```no_run
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), tidings_io::Error> {
/// use tidings_handshake::Rejection;
/// use tidings_io::{Config, Tokio, accept_with};
///
/// let ws = accept_with(Tokio::new(tcp), Config::default(), |req| {
///     if req.path() != "/chat" {
///         return Err(Rejection::new(404).expect("a valid status"));
///     }
///     Ok(req.protocols().find(|p| *p == "chat.v1").map(str::to_owned))
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub fn accept_with<S, F>(io: S, config: Config, decide: F) -> impl Future<Output = Accepted<S>>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    on_heap(accept_head(io, config, decide))
}

/// What the handshake functions resolve to.
type Accepted<S> = Result<WebSocket<S>, Error>;

/// A handshake future, on the heap for the handshake only.
///
/// A task's future is as large as the largest state of everything it awaits, and
/// keeps that size for the task's whole life; and in `let ws = accept(..).await?`
/// the handshake future and `ws` are both in that state, side by side. The
/// handshake's state (the parser, the request head, the answer, copies of the
/// transport and the config) is about two and a half times a [`WebSocket`]: held
/// inline, it would stay in every connection's task long after the handshake is
/// done. Boxed, the caller holds a pointer, and the state is one allocation freed
/// when the handshake ends. Measured with `benches/e2e` (10,000 idle connections
/// to an echo server): 4.3 KiB of resident memory per connection before, 2.0 KiB
/// after (with the outbox's release, `Outbox::shrink`).
fn on_heap<F: Future>(handshake: F) -> Pin<Box<F>> {
    Box::pin(handshake)
}

/// [`accept_with`], inline: reads the head and answers it.
async fn accept_head<S, F>(mut io: S, config: Config, decide: F) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    let deadline = io.now() + config.handshake_timeout;
    let mut parser = RequestParser::with_limits(config.handshake_limits);
    let mut buf = BytesMut::new();
    let (request, leftover) = loop {
        let n = read_some(&mut io, &mut buf, deadline).await?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match parser.parse(&buf) {
            Ok(Status::Partial) => buf.clear(),
            Ok(Status::Complete(Parsed { head, consumed })) => {
                break (head, buf.split_off(consumed));
            }
            Err(e) => {
                let mut answer = Vec::new();
                Rejection::from_error(&e).encode(&mut answer);
                // The request is refused whether or not the answer gets through.
                let _ = write_all(&mut io, &answer, deadline).await;
                return Err(Error::Handshake(e));
            }
        }
    };
    let request = match request {
        Request::Upgrade(request) => request,
        Request::Plain(_) => {
            let rejection = Rejection::new(426)
                .and_then(|r| r.header("Upgrade", "websocket"))
                .map(|r| r.body("This endpoint speaks WebSocket only.\n"));
            return reject(io, rejection, deadline).await;
        }
    };
    finish_accept(io, &request, &leftover, config, decide, deadline).await
}

/// Accepts a WebSocket on `io` from a request head you already parsed, for a
/// server that reads the head itself to route it (a page, an event stream and a
/// WebSocket on one port): parse with [`RequestParser`], and give this the
/// [`Request::Upgrade`] and the bytes read past the head (`leftover`: they may
/// already be frames).
///
/// Writes `101 Switching Protocols` within [`Config::handshake_timeout`].
///
/// ```no_run
/// use tidings_handshake::{Parsed, Request, RequestParser, Status};
/// use tidings_io::{Config, Tokio};
/// use tokio::io::AsyncReadExt;
///
/// # async fn run(mut tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let mut parser = RequestParser::new();
/// let mut buf = vec![0; 4096];
/// let n = tcp.read(&mut buf).await?;
/// if let Status::Complete(Parsed { head: Request::Upgrade(request), consumed }) =
///     parser.parse(&buf[..n])?
/// {
///     let leftover = &buf[consumed..n];
///     let ws = tidings_io::accept_parsed(Tokio::new(tcp), &request, leftover, Config::default())
///         .await?;
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Io`], [`Error::HandshakeTimeout`].
pub fn accept_parsed<S: Transport>(
    io: S,
    request: &UpgradeRequest,
    leftover: &[u8],
    config: Config,
) -> impl Future<Output = Accepted<S>> {
    accept_parsed_with(io, request, leftover, config, |_| Ok(None))
}

/// [`accept_parsed`] with a `decide` hook, as in [`accept_with`]: choose a
/// subprotocol, or refuse with a [`Rejection`] (sent, and returned as
/// [`Error::Rejected`]).
///
/// # Errors
///
/// As [`accept_with`], less the errors of reading the head.
pub fn accept_parsed_with<S, F>(
    io: S,
    request: &UpgradeRequest,
    leftover: &[u8],
    config: Config,
    decide: F,
) -> impl Future<Output = Accepted<S>>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    let deadline = io.now() + config.handshake_timeout;
    on_heap(finish_accept(
        io, request, leftover, config, decide, deadline,
    ))
}

/// Asks `decide`, answers the request, and starts the connection.
async fn finish_accept<S, F>(
    mut io: S,
    request: &UpgradeRequest,
    leftover: &[u8],
    config: Config,
    decide: F,
    deadline: Duration,
) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    let protocol = match decide(request) {
        Ok(protocol) => protocol,
        Err(rejection) => return reject(io, Ok(rejection), deadline).await,
    };
    let mut answer = Vec::new();
    let accepted = match &protocol {
        Some(p) => request.accept().protocol(p),
        None => Ok(request.accept()),
    };
    #[cfg(feature = "deflate")]
    let accepted = accepted.map(|accept| match &config.deflate {
        Some(preset) => accept.deflate(&crate::deflate::policy(preset)),
        None => accept,
    });
    #[cfg(feature = "deflate")]
    let mut config = config;
    match accepted {
        Ok(accept) => {
            #[cfg(feature = "deflate")]
            if let (Some(preset), Some(params)) = (config.deflate, accept.chosen_deflate()) {
                config.ws.deflate = Some(crate::deflate::agreed(preset, Role::Server, params));
            }
            accept.encode(&mut answer);
        }
        Err(e) => {
            // A subprotocol the client never offered: a bug on this side (500).
            Rejection::from_error(&e).encode(&mut answer);
            let _ = write_all(&mut io, &answer, deadline).await;
            return Err(Error::Handshake(e));
        }
    }
    write_all(&mut io, &answer, deadline).await?;
    let conn = Connection::server(ws_config(&config));
    Ok(WebSocket::from_parts(io, conn, config, protocol, leftover))
}

/// Opens a WebSocket on `io`, already connected to the host of `url` (`ws://` or,
/// over a TLS stream you made, `wss://`).
pub fn connect<S: Transport>(
    io: S,
    url: &str,
    config: Config,
) -> impl Future<Output = Accepted<S>> {
    let builder = ClientBuilder::new(url);
    on_heap(async move { connect_head(io, builder?, config).await })
}

/// Opens a WebSocket on `io` with a handshake built by `builder` (subprotocols,
/// `Origin`, extra headers). The chosen subprotocol is
/// [`WebSocket::protocol`]; a refusal is [`Error::Rejected`].
pub fn connect_with<S: Transport>(
    io: S,
    builder: ClientBuilder,
    config: Config,
) -> impl Future<Output = Accepted<S>> {
    on_heap(connect_head(io, builder, config))
}

/// [`connect_with`], inline: sends the request and reads the answer.
async fn connect_head<S: Transport>(
    mut io: S,
    builder: ClientBuilder,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    let deadline = io.now() + config.handshake_timeout;
    let builder = builder.limits(config.handshake_limits);
    #[cfg(feature = "deflate")]
    let builder = match &config.deflate {
        Some(preset) => builder.deflate(crate::deflate::offer(preset)),
        None => builder,
    };
    let mut request = Vec::new();
    let mut handshake = builder.send_request(&mut request)?;
    write_all(&mut io, &request, deadline).await?;
    let mut buf = BytesMut::new();
    let (accepted, leftover) = loop {
        let n = read_some(&mut io, &mut buf, deadline).await?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match handshake.parse(&buf)? {
            Status::Partial => buf.clear(),
            Status::Complete(Parsed {
                head: Response::Accepted(accepted),
                consumed,
            }) => break (accepted, buf.split_off(consumed)),
            Status::Complete(Parsed {
                head: Response::Rejected(rejected),
                ..
            }) => {
                return Err(Error::Rejected {
                    status: rejected.status(),
                });
            }
        }
    };
    let protocol = accepted.protocol().map(str::to_owned);
    // A server that accepted an offer made by hand (through the builder) is
    // served with the default preset.
    #[cfg(feature = "deflate")]
    let config = {
        let mut config = config;
        if let Some(params) = accepted.deflate() {
            let preset = config.deflate.unwrap_or_default();
            config.ws.deflate = Some(crate::deflate::agreed(preset, Role::Client, params));
        }
        config
    };
    let conn = Connection::client(ws_config(&config));
    Ok(WebSocket::from_parts(io, conn, config, protocol, &leftover))
}

/// Dials `url` over TCP, with `TCP_NODELAY`, and opens a WebSocket on it.
///
/// A `ws://` URL is plain TCP. A `wss://` URL runs TLS first, with the URL's host as
/// the server name and `tls::client_config` (the
/// `webpki-roots` anchors) when the `rustls` feature is on, and is refused with
/// [`Error::TlsUnsupported`] when it is off. For other trust anchors (a private CA,
/// a test certificate), use `connect_url_with_tls`. The handshake timeout covers
/// the TCP connect and the TLS handshake, then again the WebSocket handshake.
///
/// # Errors
///
/// [`Error::Handshake`] for a malformed URL, [`Error::Io`] when the dial fails,
/// `Error::Tls` when TLS does, [`Error::HandshakeTimeout`], and the errors of
/// [`connect_with`].
#[cfg(feature = "tokio")]
pub async fn connect_url(
    url: &str,
    config: Config,
) -> Result<WebSocket<crate::Tokio<crate::MaybeTlsStream>>, Error> {
    let builder = ClientBuilder::new(url)?;
    #[cfg(feature = "rustls")]
    let tls = builder.uri().is_secure().then(crate::tls::client_config);
    #[cfg(not(feature = "rustls"))]
    if builder.uri().is_secure() {
        return Err(Error::TlsUnsupported);
    }
    dial_and_connect(
        builder,
        config,
        #[cfg(feature = "rustls")]
        tls,
    )
    .await
}

/// [`connect_url`], with `tls` as the TLS client config for a `wss://` URL (it is
/// not used for `ws://`).
///
/// Build `tls` with [`tls::provider`](crate::tls::provider), so the crypto
/// provider is explicit; see [`tls`](crate::tls) for an example with a private CA.
///
/// # Errors
///
/// As [`connect_url`].
#[cfg(feature = "rustls")]
pub async fn connect_url_with_tls(
    url: &str,
    config: Config,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<WebSocket<crate::Tokio<crate::MaybeTlsStream>>, Error> {
    let builder = ClientBuilder::new(url)?;
    let tls = builder.uri().is_secure().then_some(tls);
    dial_and_connect(builder, config, tls).await
}

/// Dials the builder's host, under TLS when `tls` is given, then runs the handshake.
#[cfg(feature = "tokio")]
async fn dial_and_connect(
    builder: ClientBuilder,
    config: Config,
    #[cfg(feature = "rustls")] tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> Result<WebSocket<crate::Tokio<crate::MaybeTlsStream>>, Error> {
    let uri = builder.uri();
    let dial = crate::stream::dial(
        uri.host(),
        uri.port(),
        #[cfg(feature = "rustls")]
        tls,
    );
    let stream = match tokio::time::timeout(config.handshake_timeout, dial).await {
        Err(_) => return Err(Error::HandshakeTimeout),
        Ok(Ok(stream)) => stream,
        #[cfg(feature = "rustls")]
        Ok(Err(e)) => return Err(crate::tls::rustls_error(e).map_or_else(Error::Io, Error::Tls)),
        #[cfg(not(feature = "rustls"))]
        Ok(Err(e)) => return Err(Error::Io(e)),
    };
    connect_with(crate::Tokio::new(stream), builder, config).await
}

/// The core's config as this binding runs it: whole messages only.
pub(crate) fn ws_config(config: &Config) -> tidings_ws::Config {
    let mut ws = config.ws.clone();
    ws.receive_chunks = false;
    ws
}

/// Sends a rejection and reports it.
async fn reject<S: Transport, T>(
    mut io: S,
    rejection: Result<Rejection, tidings_handshake::Error>,
    deadline: Duration,
) -> Result<T, Error> {
    let rejection = rejection?;
    let mut answer = Vec::new();
    rejection.encode(&mut answer);
    write_all(&mut io, &answer, deadline).await?;
    // Best effort: the peer may already be gone.
    let _ = poll_fn(|cx| io.poll_shutdown(cx)).await;
    Err(Error::Rejected {
        status: rejection.status(),
    })
}

/// Reads some bytes (appended to `buf`) before `deadline`.
async fn read_some<S: Transport>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: Duration,
) -> Result<usize, Error> {
    read_before(io, buf, HEAD_READ, deadline)
        .await
        .map_err(handshake_error)
}

/// Writes and flushes `bytes` before `deadline`.
async fn write_all<S: Transport>(
    io: &mut S,
    bytes: &[u8],
    deadline: Duration,
) -> Result<(), Error> {
    write_all_before(io, bytes, deadline)
        .await
        .map_err(handshake_error)
}

fn handshake_error(e: Bounded) -> Error {
    match e {
        Bounded::TimedOut => Error::HandshakeTimeout,
        Bounded::Io(e) => Error::Io(e),
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    /// The handshake futures a connection's task awaits are pointers: their state
    /// is on the heap for the handshake only (see `on_heap`), so an idle
    /// connection's task holds the `WebSocket` and little more.
    #[tokio::test]
    async fn handshake_futures_are_boxed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let io = crate::Tokio::new(tcp);
        let pointer = std::mem::size_of::<usize>();
        let accept = accept(io, Config::default());
        assert_eq!(std::mem::size_of_val(&accept), pointer);
        let io = crate::Tokio::new(listener.accept().await.unwrap().0);
        drop(accept);
        let connect = connect(io, "ws://localhost/", Config::default());
        assert_eq!(std::mem::size_of_val(&connect), pointer);
    }
}
