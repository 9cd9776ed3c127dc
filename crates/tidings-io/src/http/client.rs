//! The client side: a WebSocket on an HTTP/2 stream (RFC 8441), or on HTTP/1.1 when
//! the server does not offer extended CONNECT.
//!
//! A client may send `:protocol` only once the server's SETTINGS enabled it (RFC
//! 8441 §3), so the connection's first exchange is a PING: the server's SETTINGS
//! come before its PONG, and by the PONG the answer is known. Without the setting
//! (or when TLS' ALPN chose `http/1.1`) the WebSocket goes over HTTP/1.1 instead.
//! The stream is the `h2` crate's, under the same [`WebSocket`] as any socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tidings_handshake::{ClientBuilder, Response};
use tidings_ws::Role;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{Config, Error, MaybeTlsStream, Tokio, WebSocket};

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

/// Dials `url` (`ws://` or `wss://`), within [`Config::handshake_timeout`], and
/// opens a WebSocket over HTTP/2 if the server allows it: `wss://` offers `h2` by
/// ALPN, `ws://` speaks HTTP/2 by prior knowledge (h2c). Falls back to HTTP/1.1 when
/// ALPN chose it or the server's SETTINGS lack `ENABLE_CONNECT_PROTOCOL` (for h2c,
/// on a new connection).
///
/// # Errors
///
/// As [`crate::connect_url`]; an HTTP/2 failure is an [`Error::Io`].
pub async fn connect_url(url: &str, config: Config) -> Connected {
    connect_with(ClientBuilder::new(url)?, config).await
}

/// [`connect_url`] with a handshake built by `builder` (subprotocols, `Origin`,
/// extra headers), as [`crate::connect_with`].
///
/// # Errors
///
/// As [`connect_url`].
pub async fn connect_with(builder: ClientBuilder, config: Config) -> Connected {
    #[cfg(feature = "rustls")]
    return connect_with_tls(builder, config, crate::tls::client_config()).await;
    #[cfg(not(feature = "rustls"))]
    connect_inner(builder, config, None).await
}

/// [`connect_with`], with `tls` as the TLS client config for a `wss://` URL (its
/// ALPN list is replaced with `h2` and `http/1.1`, or `http/1.1` alone for the
/// fallback).
///
/// # Errors
///
/// As [`connect_url`].
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    builder: ClientBuilder,
    config: Config,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Connected {
    connect_inner(builder, config, Some(tls)).await
}

/// What the connect functions resolve to.
type Connected = Result<WebSocket<Tokio<ClientStream>>, Error>;

async fn connect_inner(
    builder: ClientBuilder,
    config: Config,
    tls: Option<crate::stream::TlsConfig>,
) -> Connected {
    let timeout = config.handshake_timeout;
    let connect = async {
        let uri = builder.uri();
        let offer = |alpn: &[&str]| with_alpn(uri.is_secure(), &tls, alpn);
        let stream = crate::stream::dial(uri.host(), uri.port(), offer(&["h2", "http/1.1"])?).await;
        let mut stream = stream.map_err(crate::stream::dial_error)?;
        if alpn_h2(&stream) {
            if let Some(ws) = over_h2(stream, builder.clone(), &config).await? {
                return Ok(ws);
            }
            // No extended CONNECT on this server: HTTP/1.1, on a new connection.
            let again = crate::stream::dial(uri.host(), uri.port(), offer(&["http/1.1"])?).await;
            stream = again.map_err(crate::stream::dial_error)?;
        }
        let io = Tokio::new(ClientStream::Http1(stream));
        crate::connect_with(io, builder.clone(), config.clone()).await
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(connected) => connected,
        Err(_) => Err(Error::HandshakeTimeout),
    }
}

/// The TLS config for a `wss://` URL, offering `alpn`.
pub(super) fn with_alpn(
    secure: bool,
    tls: &Option<crate::stream::TlsConfig>,
    alpn: &[&str],
) -> Result<Option<crate::stream::TlsConfig>, Error> {
    let Some(tls) = tls.as_ref().filter(|_| secure) else {
        return if secure {
            Err(Error::TlsUnsupported)
        } else {
            Ok(None)
        };
    };
    #[cfg(feature = "rustls")]
    {
        let mut tls = rustls::ClientConfig::clone(tls);
        tls.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Some(std::sync::Arc::new(tls)))
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = alpn;
        match *tls {}
    }
}

/// HTTP/2 is to be spoken on `stream`: h2c, or TLS whose ALPN chose `h2`.
fn alpn_h2(stream: &MaybeTlsStream) -> bool {
    match stream {
        #[cfg(feature = "rustls")]
        MaybeTlsStream::Rustls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        _ => true,
    }
}

/// RFC 8441 on a new HTTP/2 connection over `io`; `None` if the server's SETTINGS
/// do not enable it.
async fn over_h2(
    io: MaybeTlsStream,
    builder: ClientBuilder,
    config: &Config,
) -> Result<Option<WebSocket<Tokio<ClientStream>>>, Error> {
    let (sender, mut connection) = h2::client::handshake(io).await.map_err(h2_error)?;
    let ping = connection.ping_pong();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // The server's SETTINGS are its first frame: by its PONG they are applied.
    if let Some(mut ping) = ping {
        ping.ping(h2::Ping::opaque()).await.map_err(h2_error)?;
    }
    if !sender.is_extended_connect_protocol_enabled() {
        return Ok(None);
    }
    #[cfg(feature = "deflate")]
    let builder = match &config.deflate {
        Some(preset) => builder.deflate(crate::deflate::offer(preset)),
        None => builder,
    };
    let (mut request, mut handshake) = builder.into_extended_connect()?;
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let mut sender = sender.ready().await.map_err(h2_error)?;
    let (response, send) = sender.send_request(request, false).map_err(h2_error)?;
    let response = response.await.map_err(h2_error)?;
    let accepted = handshake.handle_extended_connect_response(&response);
    let accepted = match accepted.map_err(Error::Handshake)? {
        Response::Accepted(accepted) => accepted,
        Response::Rejected(rejected) => {
            let status = rejected.status();
            return Err(Error::Rejected { status });
        }
    };
    #[cfg(feature = "deflate")]
    let config = crate::deflate::connected(accepted.deflate(), config.clone());
    #[cfg(not(feature = "deflate"))]
    let config = config.clone();
    let protocol = accepted.protocol().map(str::to_owned);
    let stream = H2Stream {
        send,
        recv: response.into_body(),
        pending: Bytes::new(),
    };
    let io = Tokio::new(ClientStream::Http2(stream));
    Ok(Some(WebSocket::from_upgraded(
        io,
        Role::Client,
        config,
        protocol,
    )))
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

/// An h2 error as an I/O error, with "stop sending" (`RST_STREAM(NO_ERROR)`) as
/// `ok`: see [`UpgradedStream`](super::UpgradedStream).
fn h2_io<T>(e: h2::Error, ok: T) -> io::Result<T> {
    match e.reason() {
        Some(h2::Reason::NO_ERROR) => Ok(ok),
        _ => Err(into_io(e)),
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
                Some(Err(e)) => return Poll::Ready(h2_io(e, ())),
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
                Some(Err(e)) => return Poll::Ready(h2_io(e, buf.len())),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        let n = self.send.capacity().min(buf.len());
        let data = Bytes::copy_from_slice(&buf[..n]);
        Poll::Ready(match self.send.send_data(data, false) {
            Ok(()) => Ok(n),
            Err(e) => h2_io(e, n),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // END_STREAM: the h2 form of TCP's FIN (RFC 8441 §5).
        Poll::Ready(match self.send.send_data(Bytes::new(), true) {
            Ok(()) => Ok(()),
            Err(e) => h2_io(e, ()),
        })
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
