//! The opening handshake on a transport: [`accept`] for servers, [`connect`] for
//! clients, and [`connect_url`] to dial a `ws://` URL on tokio.
//!
//! All HTTP is `tidings-handshake`'s; this module only moves bytes under a deadline
//! ([`Config::handshake_timeout`], which a slowloris peer sending one byte at a time
//! runs into) and hands the bytes read past the head to the connection, since they
//! may already be frames.

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use tidings_handshake::{
    ClientBuilder, Parsed, Rejection, Request, RequestParser, Response, Status, UpgradeRequest,
};
use tidings_ws::Connection;

use crate::config::Config;
use crate::error::Error;
use crate::transport::Transport;
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
pub async fn accept<S: Transport>(io: S, config: Config) -> Result<WebSocket<S>, Error> {
    accept_with(io, config, |_| Ok(None)).await
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
pub async fn accept_with<S, F>(mut io: S, config: Config, decide: F) -> Result<WebSocket<S>, Error>
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
    let protocol = match decide(&request) {
        Ok(protocol) => protocol,
        Err(rejection) => return reject(io, Ok(rejection), deadline).await,
    };
    let mut answer = Vec::new();
    let accepted = match &protocol {
        Some(p) => request.accept().protocol(p),
        None => Ok(request.accept()),
    };
    match accepted {
        Ok(accept) => accept.encode(&mut answer),
        Err(e) => {
            // A subprotocol the client never offered: a bug on this side (500).
            Rejection::from_error(&e).encode(&mut answer);
            let _ = write_all(&mut io, &answer, deadline).await;
            return Err(Error::Handshake(e));
        }
    }
    write_all(&mut io, &answer, deadline).await?;
    let conn = Connection::server(ws_config(&config));
    Ok(WebSocket::from_parts(io, conn, config, protocol, &leftover))
}

/// Opens a WebSocket on `io`, already connected to the host of `url` (`ws://` or,
/// over a TLS stream you made, `wss://`).
pub async fn connect<S: Transport>(
    io: S,
    url: &str,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    connect_with(io, ClientBuilder::new(url)?, config).await
}

/// Opens a WebSocket on `io` with a handshake built by `builder` (subprotocols,
/// `Origin`, extra headers). The chosen subprotocol is
/// [`WebSocket::protocol`]; a refusal is [`Error::Rejected`].
pub async fn connect_with<S: Transport>(
    mut io: S,
    builder: ClientBuilder,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    let deadline = io.now() + config.handshake_timeout;
    let builder = builder.limits(config.handshake_limits);
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
    let conn = Connection::client(ws_config(&config));
    Ok(WebSocket::from_parts(io, conn, config, protocol, &leftover))
}

/// Dials `url` (`ws://host:port/path`) over TCP, with `TCP_NODELAY`, and opens a
/// WebSocket on it. A `wss://` URL is refused with [`Error::TlsUnsupported`].
///
/// The handshake timeout covers the TCP connect too.
#[cfg(feature = "tokio")]
pub async fn connect_url(
    url: &str,
    config: Config,
) -> Result<WebSocket<crate::Tokio<tokio::net::TcpStream>>, Error> {
    let builder = ClientBuilder::new(url)?;
    if builder.uri().is_secure() {
        return Err(Error::TlsUnsupported);
    }
    let uri = builder.uri();
    let dial = tokio::net::TcpStream::connect((uri.host(), uri.port()));
    let tcp = tokio::time::timeout(config.handshake_timeout, dial)
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
    tcp.set_nodelay(true)?;
    connect_with(crate::Tokio::new(tcp), builder, config).await
}

/// The core's config as this binding runs it: whole messages only.
fn ws_config(config: &Config) -> tidings_ws::Config {
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

/// Ready when the deadline has passed.
fn poll_deadline<S: Transport>(
    io: &mut S,
    cx: &mut Context<'_>,
    deadline: Duration,
) -> Poll<Error> {
    if io.now() >= deadline {
        return Poll::Ready(Error::HandshakeTimeout);
    }
    io.poll_sleep_until(cx, deadline)
        .map(|()| Error::HandshakeTimeout)
}

/// Reads some bytes (appended to `buf`) before `deadline`.
async fn read_some<S: Transport>(
    io: &mut S,
    buf: &mut BytesMut,
    deadline: Duration,
) -> Result<usize, Error> {
    poll_fn(|cx| {
        if let Poll::Ready(e) = poll_deadline(io, cx, deadline) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(ready!(io.poll_read_into(cx, buf, HEAD_READ))?))
    })
    .await
}

/// Writes and flushes `bytes` before `deadline`.
async fn write_all<S: Transport>(
    io: &mut S,
    mut bytes: &[u8],
    deadline: Duration,
) -> Result<(), Error> {
    poll_fn(|cx| {
        if let Poll::Ready(e) = poll_deadline(io, cx, deadline) {
            return Poll::Ready(Err(e));
        }
        while !bytes.is_empty() {
            let n = ready!(io.poll_write_vectored(cx, &[io::IoSlice::new(bytes)]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            bytes = &bytes[n..];
        }
        ready!(io.poll_flush(cx))?;
        Poll::Ready(Ok(()))
    })
    .await
}
