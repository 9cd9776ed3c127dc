//! The stream a [`Dialer`](crate::Dialer) dials on tokio: plain TCP, or (feature
//! `rustls`) TCP under TLS.
//!
//! One type for both schemes, so [`connect_url`](crate::connect_url) has one return
//! type whatever the URL and whatever the features: enabling `rustls` adds a variant
//! (the enum is `#[non_exhaustive]`) and changes no signature. Splitting a
//! [`WebSocket`](crate::WebSocket) over the plain variant still gives tokio's owned,
//! lock-free TCP halves (see [`SplitTransport`](crate::SplitTransport)).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream, or (feature `rustls`) a TLS client stream over TCP.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`, `http://`.
    Plain(TcpStream),
    /// `wss://`, `https://`: rustls over TCP (boxed: a TLS session is large, a plain
    /// stream should not pay for it).
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            Self::Rustls(tls) => tls.get_ref().0,
        }
    }
}

/// Runs `$body` with `$io` bound to the inner stream, pinned.
macro_rules! each {
    ($self:expr, $io:ident => $body:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain(io) => {
                let $io = Pin::new(io);
                $body
            }
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(io) => {
                let $io = Pin::new(&mut **io);
                $body
            }
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, io => io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, io => io.poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, io => io.poll_shutdown(cx))
    }
}
