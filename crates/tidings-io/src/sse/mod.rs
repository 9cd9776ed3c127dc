//! Server-Sent Events over HTTP/1.1: a server writer, a hyper/axum body, and an
//! `EventSource` client that reconnects by itself.
//!
//! # Why it is built this way
//!
//! Everything SSE-specific is [`tidings_sse`]'s: the encoder writes the events
//! ([`ServerSentEvent`]), the response head a server writes is
//! [`tidings_sse::head::RESPONSE_HEAD`], and the client is the sans-IO
//! [`tidings_sse::Client`]: the `EventSource` processing model with the sliver of
//! HTTP/1.1 an event stream needs (request head, response head, chunked, length or
//! close-delimited body, redirects, timeouts). What is left for this module is the
//! part a sans-IO crate cannot do: sockets, timers and waiting. Where a real HTTP
//! stack is already there (hyper, axum), `SseBody` (feature `http-body`) plugs into it
//! instead.
//!
//! ```text
//!  server                                            client (EventSource)
//!  read_request ─► Request (path, Last-Event-ID)      Client::poll_event ─► Connect ─► dial
//!  SseWriter::start ─► RESPONSE_HEAD          ─────►  poll_transmit ─► write the request
//!  SseWriter::run(events)                             read ─► Client::handle_bytes
//!    ServerSentEvent::encode ─► flush         ─────►  poll_next ─► Event::Message / Open /
//!    timer ─► ":\n" keep-alive                ─────►    Error / Warning
//!    read 0 bytes ─► Error::PeerClosed                poll_timeout ─► sleep ─► handle_timeout
//! ```
//!
//! # A server
//!
//! ```
//! use tidings_io::Tokio;
//! use tidings_io::sse::{self, ServerConfig, ServerSentEvent, SseWriter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let url = format!("http://{}/events", listener.local_addr()?);
//! # let client = tokio::spawn(async move {
//! #     use futures_util::StreamExt;
//! #     let source = sse::EventSource::connect_url(&url, sse::ClientConfig::default()).unwrap();
//! #     source.messages().take(3).map(|e| e.unwrap().data().to_owned()).collect::<Vec<_>>().await
//! # });
//! let (tcp, _) = listener.accept().await?;
//! let mut io = Tokio::new(tcp);
//! let request = sse::read_request(&mut io, &ServerConfig::default()).await?;
//! let first: u64 = request.last_event_id().and_then(|id| id.parse().ok()).unwrap_or(0) + 1;
//! let events = futures_util::stream::iter(first..first + 3)
//!     .map(|n| ServerSentEvent::data(format!("tick {n}")).id(n.to_string()));
//! let mut writer = SseWriter::start(io, ServerConfig::default()).await?;
//! writer.run(events).await?; // keep-alives while idle; Err(PeerClosed) if the client leaves
//! # use futures_util::StreamExt;
//! # assert_eq!(client.await?, ["tick 1", "tick 2", "tick 3"]);
//! # Ok(()) }
//! ```
//!
//! # A client
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use tidings_io::sse::{ClientConfig, EventSource};
//! use tidings_sse::Event;
//!
//! # async fn run() -> Result<(), tidings_io::sse::Error> {
//! let mut events = EventSource::connect_url("http://127.0.0.1:8080/events", ClientConfig::default())?;
//! // Reconnects with Last-Event-ID after the server's `retry` delay; ends on 204.
//! // (`events.messages()` is the messages alone.)
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::Message(m) => println!("{}: {} (id {})", m.event_type(), m.data(), m.last_event_id()),
//!         Event::Warning(warning) => eprintln!("warning: {warning}"),
//!         Event::Error { cause, .. } => eprintln!("{cause}; reconnecting"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! With hyper or axum, serve `SseBody` (feature `http-body`) with the headers of
//! [`tidings_sse::head::RESPONSE_HEADERS`].

use std::fmt;
use std::io;

#[cfg(feature = "http-body")]
mod body;
mod client;
mod server;

#[cfg(all(feature = "http-body", feature = "tokio"))]
pub use body::Ticks;
#[cfg(feature = "http-body")]
pub use body::{Never, SseBody};
#[cfg(feature = "tokio")]
pub use client::Dialer;
pub use client::{Dial, EventSource, Messages};
// The client's timer is the crate's one clock.
use crate::clock;
pub use clock::Runtime;
pub use server::{Request, ServerConfig, SseWriter, read_request};
pub use tidings_sse::client::{Config as ClientConfig, Url};
pub use tidings_sse::{Cause, MessageEvent, ReadyState, ServerSentEvent, Warning};

/// Everything that can refuse or end an event stream in this module.
///
/// On a client, network trouble (a refused dial, a timeout, a malformed response, a
/// reset) is *not* an error: the client reconnects, as the specification asks, and
/// says so with an [`Event::Error`](tidings_sse::Event::Error) item. Only what ends
/// the `EventSource` for good is an error.
///
/// The variants follow the crate's convention ([`crate::Error`]): the peer's
/// errors hold each protocol crate's `Error` ([`Error::Request`],
/// [`Error::Sse`]), this side's misuse its `LocalError` ([`Error::Local`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Server: the transport failed.
    Io(io::Error),
    /// Server, peer: the request head was malformed or over the limits; it was
    /// answered with [`tidings_handshake::Error::status`] (400, 431...).
    Request(tidings_handshake::Error),
    /// Server, peer: the `Last-Event-ID` header is invalid (answered with 400).
    Sse(tidings_sse::Error),
    /// Local: an event with an `event` or `id` that cannot be written (server), a URL
    /// or a [`ClientConfig::headers`] entry that cannot be sent (client).
    Local(tidings_sse::LocalError),
    /// Server, peer: the request head did not arrive within
    /// [`ServerConfig::head_timeout`].
    Timeout,
    /// Server: the client closed the connection.
    PeerClosed,
    /// Server: the client took no bytes for [`ServerConfig::write_timeout`] while
    /// some were waiting for it; drop the connection.
    WriteTimeout,
    /// Server: the request was refused with this status (a WebSocket upgrade sent to
    /// an event stream gets 400).
    Status(u16),
    /// Client: the `EventSource` failed for good: a status other than 200 and 204, a
    /// `Content-Type` other than `text/event-stream`, or a redirect that cannot be
    /// followed.
    Failed(Cause),
    /// Local: an `https://` URL, and the dialer has no TLS (see [`Dial::tls`]; the
    /// `rustls` feature makes [`Dialer`] speak TLS).
    TlsUnsupported,
}

impl Error {
    /// The HTTP status involved: the one a server answered the request with, or the
    /// one that failed a client.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request(e) => Some(e.status()),
            Self::Sse(e) => e.status(),
            Self::Status(status) | Self::Failed(Cause::Status(status)) => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "event stream transport error: {e}"),
            Self::Request(e) => write!(f, "invalid event stream request: {e}"),
            Self::Sse(e) => write!(f, "event stream error: {e}"),
            Self::Local(e) => fmt::Display::fmt(e, f),
            Self::Timeout => f.write_str("event stream request head timed out"),
            Self::PeerClosed => f.write_str("event stream client went away"),
            Self::WriteTimeout => {
                f.write_str("event stream write timeout: the client does not read")
            }
            Self::Status(status) => write!(f, "event stream refused with status {status}"),
            Self::Failed(cause) => write!(f, "event stream failed: {cause}"),
            Self::TlsUnsupported => {
                f.write_str("https:// needs TLS, which this dialer does not provide")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Request(e) => Some(e),
            Self::Sse(e) => Some(e),
            Self::Local(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<tidings_sse::Error> for Error {
    fn from(e: tidings_sse::Error) -> Self {
        Self::Sse(e)
    }
}

impl From<tidings_sse::LocalError> for Error {
    fn from(e: tidings_sse::LocalError) -> Self {
        Self::Local(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn error_status_and_source() {
        let e = Error::from(tidings_sse::Error::InvalidLastEventId);
        assert_eq!(e.status(), Some(400));
        assert!(e.source().is_some());
        assert_eq!(Error::Status(503).status(), Some(503));
        assert_eq!(Error::Failed(Cause::Status(500)).status(), Some(500));
        assert_eq!(Error::Failed(Cause::ContentType).status(), None);
        assert_eq!(Error::PeerClosed.status(), None);
        assert!(
            Error::from(tidings_sse::LocalError::InvalidId)
                .source()
                .is_some()
        );
    }
}
