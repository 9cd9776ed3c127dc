//! The binding's error, one for WebSocket and event streams alike: the one place in
//! tidings where an [`io::Error`] is wrapped.
//!
//! The protocol crates never do I/O, so their errors say only what the peer or the
//! caller did wrong, in two types each: `Error` for the peer, `LocalError` for the
//! caller. Here the transport can fail too, and timers run out, so this type puts
//! those next to the protocol errors, without flattening them, and keeps the two
//! sides apart in the variant names: [`Error::Protocol`], [`Error::Handshake`] and
//! [`Error::Sse`] hold what the peer did (each protocol crate's `Error`, with its
//! wire answer), [`Error::LocalProtocol`], [`Error::LocalHandshake`] and
//! [`Error::LocalSse`] what this side asked for that the protocol forbids (each
//! crate's `LocalError`). Each protocol error stays reachable as itself, and through
//! [`std::error::Error::source`]. The transport's errors (a timeout, a closed
//! connection, TLS) are the same whichever protocol runs on it.

use std::fmt;
use std::io;

use tidings_ws::CloseCode;

/// Everything that can end or refuse a WebSocket or an event stream in this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// Peer: it broke RFC 6455 §5-§7, hit a limit, left a message unfinished for
    /// [`message_timeout`](tidings_ws::Config::message_timeout), sent nothing for
    /// [`idle_timeout`](tidings_ws::Config::idle_timeout), or left the keepalive
    /// unanswered. The close frame with [`tidings_ws::Error::close_code`] was sent
    /// (as far as the peer would read it) before this was reported.
    Protocol(tidings_ws::Error),
    /// Peer: the opening handshake failed on a malformed request or response, or an
    /// event stream's request head was malformed or over the limits (answered with
    /// [`tidings_handshake::Error::status`]: 400, 431...).
    Handshake(tidings_handshake::Error),
    /// Peer: an event stream's `Last-Event-ID` header is invalid (answered with 400).
    Sse(tidings_sse::Error),
    /// Local: the core refused a message (e.g. a control payload over 125 bytes, or
    /// a close code that may not be sent).
    LocalProtocol(tidings_ws::LocalError),
    /// Local: the opening handshake was asked for something the protocol forbids: a
    /// malformed URL, or a subprotocol the client did not offer.
    LocalHandshake(tidings_handshake::LocalError),
    /// Local: an event with an `event` or `id` that cannot be written (server), a URL
    /// or a [`ClientConfig::headers`](crate::sse::ClientConfig::headers) entry that
    /// cannot be sent (client).
    LocalSse(tidings_sse::LocalError),
    /// The handshake was well formed but refused: by the server (the status it
    /// answered, as seen by a client), or by this server (the status it sent: the
    /// accept hook's rejection, 426 for a request that was not an upgrade, 400 for a
    /// WebSocket upgrade sent to an event stream).
    Rejected {
        /// The HTTP status, e.g. 403.
        status: u16,
    },
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout), an event
    /// stream's request head within
    /// [`ServerConfig::head_timeout`](crate::sse::ServerConfig::head_timeout), or
    /// (feature `http2`) a client's connection or response head within its timeout.
    HandshakeTimeout,
    /// The peer took no bytes for
    /// [`Config::write_timeout`](crate::Config::write_timeout) while some were queued
    /// for it; the transport was dropped.
    WriteTimeout,
    /// The connection is closing or closed: nothing more can be sent. (An event
    /// stream's server: the client went away.)
    Closed,
    /// Event stream client: the `EventSource` failed for good: a status other than
    /// 200 and 204, a `Content-Type` other than `text/event-stream`, or a redirect
    /// that cannot be followed.
    Failed(tidings_sse::Cause),
    /// A `wss://` or `https://` URL given to a dialer without TLS: a `Dialer`
    /// without the `rustls` feature or made with `Dialer::tcp`, or an
    /// `EventSource`'s [`Dial`](crate::sse::Dial) that says it has none. Enable the
    /// feature, or dial and wrap the TLS stream yourself.
    TlsUnsupported,
    /// The TLS handshake failed (feature `rustls`): an untrusted or expired
    /// certificate, a name mismatch, no common protocol version... The peer was
    /// sent the matching alert.
    #[cfg(feature = "rustls")]
    Tls(rustls::Error),
    /// HTTP/2 client (feature `http2`): TLS' ALPN chose `http/1.1`, so there is no
    /// HTTP/2 connection; fall back to HTTP/1.1.
    #[cfg(feature = "http2")]
    NoHttp2,
    /// HTTP/2 client (feature `http2`): the server's SETTINGS do not enable extended
    /// CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3), so no WebSocket
    /// may open on the connection; fall back to HTTP/1.1.
    #[cfg(feature = "http2")]
    NoExtendedConnect,
}

impl Error {
    /// The close code the peer was sent for this error, if one was sent.
    #[must_use]
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) if e.close_code().is_sendable() => Some(e.close_code()),
            _ => None,
        }
    }

    /// The HTTP status involved: the one a server answered a request with, or the
    /// one that failed a client.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => Some(e.status()),
            Self::Sse(e) => e.status(),
            Self::Rejected { status } | Self::Failed(tidings_sse::Cause::Status(status)) => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// A copy, for a second place to report it (`io::Error` is not `Clone`: the
    /// copy keeps its kind and message).
    pub(crate) fn copy(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(io::Error::new(e.kind(), e.to_string())),
            Self::Protocol(e) => Self::Protocol(*e),
            Self::WriteTimeout => Self::WriteTimeout,
            _ => Self::Closed,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::Protocol(e) => write!(f, "WebSocket protocol error: {e}"),
            Self::Handshake(e) => write!(f, "handshake failed: {e}"),
            Self::Sse(e) => write!(f, "event stream error: {e}"),
            Self::LocalProtocol(e) => write!(f, "WebSocket message refused: {e}"),
            Self::LocalHandshake(e) => write!(f, "handshake refused locally: {e}"),
            Self::LocalSse(e) => fmt::Display::fmt(e, f),
            Self::Rejected { status } => write!(f, "refused with status {status}"),
            Self::HandshakeTimeout => f.write_str("handshake timed out"),
            Self::WriteTimeout => f.write_str("write timeout: the peer does not read"),
            Self::Closed => f.write_str("connection closed"),
            Self::Failed(cause) => write!(f, "event stream failed: {cause}"),
            Self::TlsUnsupported => f.write_str(
                "TLS needed but not available: enable the `rustls` feature of tidings-io",
            ),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            #[cfg(feature = "http2")]
            Self::NoHttp2 => f.write_str("the server chose HTTP/1.1 (ALPN), not HTTP/2"),
            #[cfg(feature = "http2")]
            Self::NoExtendedConnect => f.write_str(
                "the server does not take WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::LocalProtocol(e) => Some(e),
            Self::LocalHandshake(e) => Some(e),
            Self::Sse(e) => Some(e),
            Self::LocalSse(e) => Some(e),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<tidings_ws::Error> for Error {
    fn from(e: tidings_ws::Error) -> Self {
        Self::Protocol(e)
    }
}

impl From<tidings_handshake::Error> for Error {
    fn from(e: tidings_handshake::Error) -> Self {
        Self::Handshake(e)
    }
}

impl From<tidings_handshake::LocalError> for Error {
    fn from(e: tidings_handshake::LocalError) -> Self {
        Self::LocalHandshake(e)
    }
}

impl From<tidings_sse::Error> for Error {
    fn from(e: tidings_sse::Error) -> Self {
        Self::Sse(e)
    }
}

impl From<tidings_sse::LocalError> for Error {
    fn from(e: tidings_sse::LocalError) -> Self {
        Self::LocalSse(e)
    }
}

impl From<tidings_ws::LocalError> for Error {
    fn from(e: tidings_ws::LocalError) -> Self {
        match e {
            tidings_ws::LocalError::Closing => Self::Closed,
            e => Self::LocalProtocol(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn source_and_display() {
        let e = Error::from(io::Error::other("boom"));
        assert!(e.to_string().contains("boom"));
        assert!(e.source().is_some());
        let e = Error::from(tidings_ws::Error::InvalidUtf8);
        assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(e.source().is_some());
        assert!(matches!(
            Error::from(tidings_ws::LocalError::Closing),
            Error::Closed
        ));
        assert_eq!(Error::TlsUnsupported.close_code(), None);
    }

    #[test]
    fn status_of_event_stream_errors() {
        use tidings_sse::Cause;
        let e = Error::from(tidings_sse::Error::InvalidLastEventId);
        assert_eq!(e.status(), Some(400));
        assert!(e.source().is_some());
        assert_eq!(Error::Rejected { status: 503 }.status(), Some(503));
        assert_eq!(Error::Failed(Cause::Status(500)).status(), Some(500));
        assert_eq!(Error::Failed(Cause::ContentType).status(), None);
        assert_eq!(Error::Closed.status(), None);
        let local = Error::from(tidings_sse::LocalError::InvalidId);
        assert!(local.source().is_some());
    }
}
