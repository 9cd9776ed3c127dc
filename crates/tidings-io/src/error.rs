//! The binding's error: the one place in tidings where an [`io::Error`] is wrapped.
//!
//! The protocol crates never do I/O, so their errors say only what the peer or the
//! caller did wrong. Here the transport can fail too, and timers run out, so this type
//! puts those next to the protocol errors, without flattening them: each protocol
//! error stays reachable as itself (and through [`std::error::Error::source`]).

use std::fmt;
use std::io;

use tidings_ws::CloseCode;

/// Everything that can end or refuse a WebSocket in this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The peer broke RFC 6455 §5-§7, a limit was hit, or the keepalive went
    /// unanswered. The close frame with [`tidings_ws::Error::close_code`] was sent
    /// (as far as the peer would read it) before this was reported.
    Protocol(tidings_ws::Error),
    /// The opening handshake failed: a malformed request or response, or a misuse
    /// such as choosing a subprotocol the client did not offer.
    Handshake(tidings_handshake::Error),
    /// The handshake was well formed but refused: by the server (the status it
    /// answered, as seen by a client), or by this server (the status it sent: the
    /// accept hook's rejection, or 426 for a request that was not an upgrade).
    Rejected {
        /// The HTTP status, e.g. 403.
        status: u16,
    },
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    HandshakeTimeout,
    /// Nothing was received for
    /// [`Config::idle_timeout`](crate::Config::idle_timeout); the connection was
    /// closed with 1001 (going away).
    IdleTimeout,
    /// The peer took no bytes for
    /// [`Config::write_timeout`](crate::Config::write_timeout) while some were queued
    /// for it; the transport was dropped.
    WriteTimeout,
    /// The core refused a message (e.g. a control payload over 125 bytes, or a close
    /// code that may not be sent).
    Send(tidings_ws::SendError),
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// A `wss://` URL given to `connect_url` without the
    /// `rustls` feature. Enable it, or dial and wrap the TLS stream yourself and
    /// call [`connect`](crate::connect) on it.
    TlsUnsupported,
    /// The TLS handshake failed (feature `rustls`): an untrusted or expired
    /// certificate, a name mismatch, no common protocol version... The peer was
    /// sent the matching alert.
    #[cfg(feature = "rustls")]
    Tls(rustls::Error),
}

impl Error {
    /// The close code the peer was sent for this error, if one was sent.
    #[must_use]
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) if e.close_code().is_sendable() => Some(e.close_code()),
            Self::IdleTimeout => Some(CloseCode::GOING_AWAY),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "WebSocket transport error: {e}"),
            Self::Protocol(e) => write!(f, "WebSocket protocol error: {e}"),
            Self::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            Self::Rejected { status } => write!(f, "WebSocket handshake refused with {status}"),
            Self::HandshakeTimeout => f.write_str("WebSocket handshake timed out"),
            Self::IdleTimeout => f.write_str("WebSocket idle timeout: nothing received"),
            Self::WriteTimeout => f.write_str("WebSocket write timeout: the peer does not read"),
            Self::Send(e) => write!(f, "WebSocket message refused: {e}"),
            Self::Closed => f.write_str("WebSocket connection closed"),
            Self::TlsUnsupported => {
                f.write_str("wss:// needs TLS: enable the `rustls` feature of tidings-io")
            }
            #[cfg(feature = "rustls")]
            Self::Tls(e) => write!(f, "WebSocket TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Send(e) => Some(e),
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

impl From<tidings_ws::SendError> for Error {
    fn from(e: tidings_ws::SendError) -> Self {
        match e {
            tidings_ws::SendError::Closing => Self::Closed,
            e => Self::Send(e),
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
            Error::from(tidings_ws::SendError::Closing),
            Error::Closed
        ));
        assert_eq!(Error::TlsUnsupported.close_code(), None);
    }
}
