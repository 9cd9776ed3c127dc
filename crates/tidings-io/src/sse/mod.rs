//! Server-Sent Events over HTTP/1.1: a server writer, a hyper/axum body, and an
//! `EventSource` client that reconnects by itself.
//!
//! # Why it is built this way
//!
//! Everything SSE-specific is [`tidings_sse`]'s: the encoder writes the events, the
//! parser reads them, the [`EventSource`](tidings_sse::EventSource) state machine
//! decides whether a response is acceptable, what `Last-Event-ID` to send and how
//! long to wait before reconnecting. What is left for this module is the part a
//! sans-IO crate cannot do: sockets, timers, and the sliver of HTTP/1.1 an event
//! stream needs (a request head, a response head, a chunked or close-delimited
//! body, redirects). An event stream is one long response, so a whole HTTP client
//! or server would be weight without use; where a real HTTP stack is already there
//! (hyper, axum), `SseBody` (feature `http-body`) plugs into it instead.
//!
//! ```text
//!  server                                            client
//!  read_request ─► Request (path, Last-Event-ID)      EventSource::connect_url / new
//!  SseWriter::start ─► "HTTP/1.1 200 OK ..."  ─────►  httparse: status, Content-Type,
//!  SseWriter::run(events)                             framing (chunked / length / close)
//!    Event ─► EventBuilder::encode ─► flush  ─────►  chunked::Decoder ─► handle_body
//!    timer ─► ":\n" keep-alive               ─────►  poll_next ─► MessageEvent
//!    read 0 bytes ─► Error::PeerClosed                disconnect ─► retry delay ─► redial
//!                                                       with Last-Event-ID
//! ```
//!
//! # A server
//!
//! ```
//! use tidings_io::Tokio;
//! use tidings_io::sse::{self, Event, ServerConfig, SseWriter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let url = format!("http://{}/events", listener.local_addr()?);
//! # let client = tokio::spawn(async move {
//! #     use futures_util::StreamExt;
//! #     let source = sse::EventSource::connect_url(&url, sse::ClientConfig::default()).unwrap();
//! #     source.take(3).map(|e| e.unwrap().data().to_owned()).collect::<Vec<_>>().await
//! # });
//! let (tcp, _) = listener.accept().await?;
//! let mut io = Tokio::new(tcp);
//! let request = sse::read_request(&mut io, &ServerConfig::default()).await?;
//! let first: u64 = request.last_event_id().and_then(|id| id.parse().ok()).unwrap_or(0) + 1;
//! let events = futures_util::stream::iter(first..first + 3)
//!     .map(|n| Event::data(format!("tick {n}")).id(n.to_string()));
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
//!
//! # async fn run() -> Result<(), tidings_io::sse::Error> {
//! let mut events = EventSource::connect_url("http://127.0.0.1:8080/events", ClientConfig::default())?;
//! // Reconnects with Last-Event-ID after the server's `retry` delay; ends on 204.
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{}: {} (id {})", event.event_type(), event.data(), event.last_event_id());
//! }
//! # Ok(()) }
//! ```
//!
//! With hyper or axum, serve `SseBody` (feature `http-body`) with the headers of
//! [`tidings_sse::head::RESPONSE_HEADERS`].

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BufMut;
use tidings_sse::encode::{self, EventBuilder};

#[cfg(feature = "http-body")]
mod body;
mod chunked;
mod client;
mod clock;
mod server;
mod url;

#[cfg(all(feature = "http-body", feature = "tokio"))]
pub use body::Ticks;
#[cfg(feature = "http-body")]
pub use body::{Never, SseBody};
#[cfg(feature = "tokio")]
pub use client::TcpDialer;
#[cfg(feature = "rustls")]
pub use client::TlsDialer;
pub use client::{ClientConfig, Dial, EventSource};
pub use clock::Runtime;
pub use server::{Request, ServerConfig, SseWriter, read_request};
pub use tidings_sse::{MessageEvent, ReadyState};
pub use url::Url;

/// One thing for a server to send: an event, or a comment.
///
/// An owned form of [`tidings_sse::encode::EventBuilder`], so it can travel through
/// channels and streams; encoding is the builder's.
///
/// ```
/// use std::time::Duration;
/// use tidings_io::sse::Event;
///
/// let event = Event::data("hello\nworld").event("greeting").id("7").retry(Duration::from_secs(1));
/// let mut wire = Vec::new();
/// event.encode(&mut wire)?;
/// assert_eq!(wire, b"event: greeting\nid: 7\nretry: 1000\ndata: hello\ndata: world\n\n");
/// # Ok::<(), tidings_sse::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "an Event does nothing until sent"]
pub struct Event {
    comment: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
}

impl Event {
    /// An event carrying `data` (line breaks become several `data:` lines).
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            data: Some(data.into()),
            ..Self::default()
        }
    }

    /// A block with no data: it only sets the `id` and/or `retry` given next, and
    /// dispatches nothing on the client.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A comment (`: text`): clients ignore it. Any event fields set on it are
    /// ignored.
    pub fn comment(text: impl Into<String>) -> Self {
        Self {
            comment: Some(text.into()),
            ..Self::default()
        }
    }

    /// The event type; must not contain CR or LF.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// The event ID, sent back as `Last-Event-ID` on reconnection; must not contain
    /// CR, LF or NUL.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The reconnection time the client should use from now on.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Appends the wire form to `buf`.
    ///
    /// # Errors
    ///
    /// [`tidings_sse::Error::InvalidEventType`] or
    /// [`tidings_sse::Error::InvalidId`]; nothing was written then.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), tidings_sse::Error> {
        if let Some(comment) = &self.comment {
            encode::write_comment(comment, buf);
            return Ok(());
        }
        let mut builder = EventBuilder::new();
        if let Some(event) = &self.event {
            builder = builder.event(event);
        }
        if let Some(id) = &self.id {
            builder = builder.id(id);
        }
        if let Some(retry) = self.retry {
            builder = builder.retry(retry);
        }
        if let Some(data) = &self.data {
            builder = builder.data(data);
        }
        builder.encode(buf)
    }
}

/// Everything that can refuse or end an event stream in this module.
///
/// On a client, network trouble (a refused dial, a reset, a malformed response
/// head, a bad chunk) is *not* an error: the state machine reconnects, as the
/// specification asks. Only what ends the `EventSource` for good is reported.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Server: the transport failed.
    Io(io::Error),
    /// Server, peer: the request head was malformed or over the limits; it was
    /// answered with [`tidings_handshake::Error::status`] (400, 431...).
    Request(tidings_handshake::Error),
    /// Server, peer: the `Last-Event-ID` header is invalid (answered with 400).
    /// Server, local: an [`Event`] with an `event` or `id` that cannot be written.
    Sse(tidings_sse::Error),
    /// Server, peer: the request head did not arrive within
    /// [`ServerConfig::head_timeout`].
    Timeout,
    /// Server: the client closed the connection.
    PeerClosed,
    /// Client: the server answered this status (not 200 and not 204), so the
    /// `EventSource` failed for good. Server: the request was refused with this
    /// status (a WebSocket upgrade sent to an event stream gets 400).
    Status(u16),
    /// Client: a `200` response whose `Content-Type` is not `text/event-stream`.
    ContentType,
    /// Client: more than [`ClientConfig::max_redirects`] redirects in a row.
    TooManyRedirects {
        /// The limit.
        limit: u8,
    },
    /// Client: a redirect with a missing or malformed `Location`, to a scheme other
    /// than `http`/`https`, or from `https` down to `http`.
    Redirect,
    /// Local: the URL is not an `http://` or `https://` URL this client can use.
    Url(tidings_handshake::UriError),
    /// Local: an `https://` URL, and the dialer has no TLS (see [`Dial::tls`]; the
    /// `rustls` feature has `TlsDialer`).
    TlsUnsupported,
    /// Local: a [`ClientConfig::headers`] entry is not a valid header.
    InvalidHeader,
}

impl Error {
    /// The HTTP status involved: the one a server answered the request with, or the
    /// one a client received.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request(e) => Some(e.status()),
            Self::Sse(e) => e.status(),
            Self::Status(status) => Some(*status),
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
            Self::Timeout => f.write_str("event stream request head timed out"),
            Self::PeerClosed => f.write_str("event stream client went away"),
            Self::Status(status) => write!(f, "event stream refused with status {status}"),
            Self::ContentType => f.write_str("response is not text/event-stream"),
            Self::TooManyRedirects { limit } => {
                write!(f, "event stream redirected more than {limit} times")
            }
            Self::Redirect => f.write_str("event stream redirect to an unusable location"),
            Self::Url(e) => write!(f, "invalid event stream URL: {e}"),
            Self::TlsUnsupported => {
                f.write_str("https:// needs TLS, which this dialer does not provide")
            }
            Self::InvalidHeader => f.write_str("invalid extra request header"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Request(e) => Some(e),
            Self::Sse(e) => Some(e),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn event_encoding_is_the_builders() {
        let mut wire = Vec::new();
        Event::comment("hi")
            .id("ignored")
            .encode(&mut wire)
            .unwrap();
        Event::empty()
            .retry(Duration::from_millis(5))
            .encode(&mut wire)
            .unwrap();
        Event::data("x").encode(&mut wire).unwrap();
        assert_eq!(wire, b": hi\nretry: 5\n\ndata: x\n\n");
        let bad = Event::data("x").id("a\nb").encode(&mut wire);
        assert_eq!(bad, Err(tidings_sse::Error::InvalidId));
    }

    #[test]
    fn error_status_and_source() {
        let e = Error::from(tidings_sse::Error::InvalidLastEventId);
        assert_eq!(e.status(), Some(400));
        assert!(e.source().is_some());
        assert_eq!(Error::Status(503).status(), Some(503));
        assert_eq!(Error::PeerClosed.status(), None);
        assert!(
            Error::TooManyRedirects { limit: 5 }
                .to_string()
                .contains('5')
        );
    }
}
