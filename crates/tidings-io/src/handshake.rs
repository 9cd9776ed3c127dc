//! The opening handshake on a transport: [`accept`] for servers ([`accept_parsed`]
//! when the server read the head itself), [`connect`] for clients, and
//! `connect_url` / `connect_url_with` to dial a `ws://` or `wss://` URL on tokio
//! with a [`Dialer`](crate::Dialer).
//!
//! All HTTP is `tidings-handshake`'s, the answers included (a malformed request gets
//! [`Rejection::from_error`], a plain one [`Rejection::upgrade_required`]); this
//! module only moves bytes under a deadline ([`Config::handshake_timeout`], which a
//! slowloris peer sending one byte at a time runs into) and hands the bytes read
//! past the head to the connection, since they may already be frames. Each public
//! function is a thin wrapper of the one that takes the most arguments.

use std::future::Future;
use std::pin::Pin;

use tidings_handshake::{
    ClientBuilder, Rejection, Request, RequestParser, Response, UpgradeRequest,
};
use tidings_ws::Connection;

use crate::config::Config;
use crate::error::Error;
use crate::transport::{Deadline, Transport};
use crate::websocket::WebSocket;

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
pub fn accept_with<S, F>(mut io: S, config: Config, decide: F) -> impl Future<Output = Accepted<S>>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    on_heap(async move {
        let mut deadline = Deadline::after::<S>(config.handshake_timeout);
        let mut parser = RequestParser::with_limits(config.handshake_limits);
        let (request, leftover) = match deadline.read_head(&mut io, |b| parser.parse(b)).await? {
            Ok((Request::Upgrade(request), leftover)) => (request, leftover),
            Ok((Request::Plain(_), _)) => {
                return reject(io, deadline, &Rejection::upgrade_required()).await;
            }
            Err(e) => {
                // The request is refused whether or not the answer gets through.
                let _ = deadline.refuse(&mut io, &Rejection::from_error(&e)).await;
                return Err(Error::Handshake(e));
            }
        };
        answer(io, &request, &leftover, config, decide, deadline).await
    })
}

/// What the handshake functions resolve to.
type Accepted<S> = Result<WebSocket<S>, Error>;

/// A handshake future, on the heap for the handshake only.
///
/// A task's future is as large as the largest state of everything it awaits, and
/// keeps that size for the task's whole life; and in `let ws = accept(..).await?`
/// the handshake future and `ws` are both in that state, side by side. The
/// handshake's state (the parser, the request head, the answer, copies of the
/// transport and the config) is several times a [`WebSocket`]: held inline, it would
/// stay in every connection's task long after the handshake is done. Boxed, the
/// caller holds a pointer, and the state is one allocation freed when the handshake
/// ends (`docs/performance.md`, idle connections).
fn on_heap<F: Future>(handshake: F) -> Pin<Box<F>> {
    Box::pin(handshake)
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
/// use tidings_handshake::{Request, RequestParser, Status};
/// use tidings_io::{Config, Tokio};
/// use tokio::io::AsyncReadExt;
///
/// # async fn run(mut tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let mut parser = RequestParser::new();
/// let mut buf = vec![0; 4096];
/// let n = tcp.read(&mut buf).await?;
/// if let Status::Complete((Request::Upgrade(request), consumed)) = parser.parse(&buf[..n])? {
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
    let deadline = Deadline::after::<S>(config.handshake_timeout);
    on_heap(answer(io, request, leftover, config, decide, deadline))
}

/// Asks `decide`, answers the request, and starts the connection.
async fn answer<S, F>(
    mut io: S,
    request: &UpgradeRequest,
    leftover: &[u8],
    config: Config,
    decide: F,
    mut deadline: Deadline,
) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&UpgradeRequest) -> Result<Option<String>, Rejection>,
{
    let protocol = match decide(request) {
        Ok(protocol) => protocol,
        Err(rejection) => return reject(io, deadline, &rejection).await,
    };
    let accept = match &protocol {
        Some(p) => request.accept().protocol(p),
        None => Ok(request.accept()),
    };
    let accept = match accept {
        Ok(accept) => accept,
        Err(e) => {
            // A subprotocol the client never offered: a bug on this side.
            let _ = deadline
                .refuse(&mut io, &Rejection::from_local_error(&e))
                .await;
            return Err(Error::LocalHandshake(e));
        }
    };
    #[cfg(feature = "deflate")]
    let (accept, config) = crate::deflate::accept(accept, config);
    let mut head = Vec::new();
    accept.encode(&mut head);
    deadline.write_all(&mut io, head.into()).await?;
    let conn = Connection::server(ws_config(&config));
    Ok(WebSocket::from_parts(io, conn, &config, protocol, leftover))
}

/// Opens a WebSocket on `io`, already connected to the host of `url` (`ws://` or,
/// over a TLS stream you made, `wss://`).
pub fn connect<S: Transport>(
    io: S,
    url: &str,
    config: Config,
) -> impl Future<Output = Accepted<S>> {
    let builder = ClientBuilder::new(url);
    on_heap(async move { connect_with(io, builder?, config).await })
}

/// Opens a WebSocket on `io` with a handshake built by `builder` (subprotocols,
/// `Origin`, extra headers). The chosen subprotocol is
/// [`WebSocket::protocol`]; a refusal is [`Error::Rejected`].
pub fn connect_with<S: Transport>(
    mut io: S,
    builder: ClientBuilder,
    config: Config,
) -> impl Future<Output = Accepted<S>> {
    on_heap(async move {
        let mut deadline = Deadline::after::<S>(config.handshake_timeout);
        let builder = builder.limits(config.handshake_limits);
        #[cfg(feature = "deflate")]
        let builder = crate::deflate::offer_in(builder, &config);
        let mut request = Vec::new();
        let mut handshake = builder.send_request(&mut request);
        deadline.write_all(&mut io, request.into()).await?;
        let (accepted, leftover) = match deadline.read_head(&mut io, |b| handshake.parse(b)).await?
        {
            Ok((Response::Accepted(accepted), leftover)) => (accepted, leftover),
            Ok((Response::Rejected(rejected), _)) => {
                let status = rejected.status();
                return Err(Error::Rejected { status });
            }
            Err(e) => return Err(Error::Handshake(e)),
        };
        #[cfg(feature = "deflate")]
        let config = crate::deflate::connected(accepted.deflate(), config);
        let protocol = accepted.protocol().map(str::to_owned);
        let conn = Connection::client(ws_config(&config));
        Ok(WebSocket::from_parts(
            io, conn, &config, protocol, &leftover,
        ))
    })
}

/// Dials `url` with [`Dialer::default`](crate::Dialer::default) and opens a
/// WebSocket on it: [`connect_url_with`] with the default dialer.
///
/// A `ws://` URL is plain TCP. A `wss://` URL runs TLS first, with the
/// `webpki-roots` anchors when the `rustls` feature is on, and is refused with
/// [`Error::TlsUnsupported`] when it is off. For other trust anchors (a private CA,
/// a test certificate), give `connect_url_with` a `Dialer::tls`.
///
/// # Errors
///
/// As [`connect_url_with`].
#[cfg(feature = "tokio")]
pub async fn connect_url(url: &str, config: Config) -> Result<WebSocket<TlsTokio>, Error> {
    connect_url_with(url, config, &crate::Dialer::default()).await
}

/// Dials `url` with `dialer` (TCP with `TCP_NODELAY`, and for `wss://` TLS with
/// the URL's host as the server name), and opens a WebSocket on it. The handshake
/// timeout covers the TCP connect and the TLS handshake, then again the WebSocket
/// handshake.
///
/// With the `rustls` feature, `Dialer::tls` with a config of yours trusts a private
/// CA or a test certificate: the `tls` module docs show one.
///
/// # Errors
///
/// [`Error::LocalHandshake`] for a malformed URL, [`Error::TlsUnsupported`] for
/// `wss://` with a dialer without TLS, [`Error::Io`] when the dial fails,
/// `Error::Tls` when TLS does, [`Error::HandshakeTimeout`], and the errors of
/// [`connect_with`].
#[cfg(feature = "tokio")]
pub async fn connect_url_with(
    url: &str,
    config: Config,
    dialer: &crate::Dialer,
) -> Result<WebSocket<TlsTokio>, Error> {
    let builder = ClientBuilder::new(url)?;
    let uri = builder.uri();
    let dial = dialer.connect(uri.host(), uri.port(), uri.is_secure());
    let stream = match tokio::time::timeout(config.handshake_timeout, dial).await {
        Err(_) => return Err(Error::HandshakeTimeout),
        Ok(stream) => stream?,
    };
    connect_with(crate::Tokio::new(stream), builder, config).await
}

/// The transport `connect_url` dials.
#[cfg(feature = "tokio")]
type TlsTokio = crate::Tokio<crate::MaybeTlsStream>;

/// The core's config as this binding runs it: whole messages only.
pub(crate) fn ws_config(config: &Config) -> tidings_ws::Config {
    let mut ws = config.ws.clone();
    ws.receive_chunks = false;
    ws
}

/// Sends `rejection` and reports it.
async fn reject<S: Transport, T>(
    mut io: S,
    mut deadline: Deadline,
    rejection: &Rejection,
) -> Result<T, Error> {
    deadline.refuse(&mut io, rejection).await?;
    Err(Error::Rejected {
        status: rejection.status(),
    })
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
