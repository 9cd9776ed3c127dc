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
//!    read 0 bytes ─► Error::Closed                    poll_timeout ─► sleep ─► handle_timeout
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
//! writer.run(events).await?; // keep-alives while idle; Err(Closed) if the client leaves
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
//! `EventSource::connect_url` dials with the default [`Dialer`](crate::Dialer)
//! (`https://` with the `rustls` feature); [`EventSource::new`] takes any [`Dial`]:
//! a `Dialer` with TLS settings of yours, or a closure.
//!
//! With hyper or axum, serve `SseBody` (feature `http-body`) with the headers of
//! [`tidings_sse::head::RESPONSE_HEADERS`].

#[cfg(feature = "http-body")]
mod body;
mod client;
mod server;

#[cfg(all(feature = "http-body", feature = "tokio"))]
pub use body::Ticks;
#[cfg(feature = "http-body")]
pub use body::{Never, SseBody};
#[cfg(feature = "http2")]
pub(crate) use client::Link;
pub use client::{Dial, EventSource, Messages};
// The client's timer is the crate's one clock.
/// The crate's one error type: on a client, network trouble (a refused dial, a
/// timeout, a malformed response, a reset) is *not* an error: the `EventSource`
/// reconnects, as the specification asks, and says so with an
/// [`Event::Error`](tidings_sse::Event::Error) item. Only what ends it for good is.
pub use crate::Error;
use crate::clock;
pub use clock::Runtime;
pub use server::{Request, ServerConfig, SseWriter, read_request};
pub use tidings_sse::client::{Config as ClientConfig, Url};
pub use tidings_sse::{Cause, MessageEvent, ReadyState, ServerSentEvent, Warning};
