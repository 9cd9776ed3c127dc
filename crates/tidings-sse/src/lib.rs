//! Server-Sent Events without the I/O: a `text/event-stream` parser, an encoder, the
//! `EventSource` processing model, and a byte-level HTTP/1.1 client machine, following
//! the WHATWG HTML Living Standard, §9.2 "Server-sent events", to the letter.
//!
//! # What is here
//!
//! * [`parse`]: an incremental parser. Feed it chunks of any size, down to one byte;
//!   it finds lines with `memchr`, scans every byte once (an 8 MiB line in 1460-byte
//!   pieces costs what it costs in one piece), decodes UTF-8 with replacement as the
//!   spec does, and allocates per event, not per line ([`Parser::parse_ref`]
//!   lends each event out of reused buffers and does not allocate at all).
//! * [`encode`]: writes events ([`EventBuilder`](encode::EventBuilder), or the owned
//!   [`ServerSentEvent`]), comments, keep-alives and `retry` into a caller's
//!   [`bytes::BufMut`], refusing fields that cannot be represented.
//! * [`keep_alive`]: the server's keep-alive rule, a comment when nothing was written
//!   for an interval, as a deadline the caller's timer waits for.
//! * [`head`]: the HTTP headers each side sends, the response head a raw server
//!   writes, the `Content-Type` check, and reading `Last-Event-ID` on a server.
//! * [`event_source`]: the client's state machine, for any HTTP stack:
//!   `CONNECTING`/`OPEN`/`CLOSED`, which responses are accepted, `Last-Event-ID` on
//!   reconnection, the reconnection time and its bounds, backoff with jitter after
//!   failed attempts, the read timeout.
//! * [`client`]: [`Client`], the [`EventSource`] with the HTTP/1.1 an event stream
//!   needs on top: the URL, the request head, a linear response-head parser, interim
//!   responses, body framing (chunked, length, close), redirects, the connect timeout.
//!   A transport dials what it asks, writes what it transmits and reads into it; an
//!   HTTP stack (HTTP/2) sends its request fields and hands it the response head and
//!   body instead.
//!
//! # What is not here
//!
//! No sockets, no clock, no runtime, no threads, no TLS. Time comes in as a
//! [`Duration`](core::time::Duration) since an epoch the caller picks; randomness comes
//! from an injectable [`RandomSource`]. The crate is `no_std` (with `alloc`); the
//! default `std` feature adds OS randomness and runtime CPU feature detection. There is
//! no `unsafe` code.
//!
//! # Data flow
//!
//! ```text
//!   server                                   client (Client, over EventSource)
//!  ┌──────────────────────┐            ┌─────────────────────────────────────────┐
//!  │ head::last_event_id  │  request   │ Event::Connect(url) ─► caller dials      │
//!  │   (headers)          │ ◄───────── │ poll_transmit ─► GET, Last-Event-ID      │
//!  │ head::RESPONSE_HEAD  │  head      │ handle_bytes ─► head parser, redirects   │
//!  │ ServerSentEvent::    │  body      │   └─► framing ─► parse::Parser ─► Item   │
//!  │   encode (BufMut)    │ ─────────► │ poll_event ─► Open / Message / Error /   │
//!  │ keep_alive::         │            │   Warning                               │
//!  │   KeepAlive          │            │ poll_timeout / handle_timeout (connect,  │
//!  └──────────────────────┘            │   read, reconnection)                   │
//!                                      └─────────────────────────────────────────┘
//! ```
//!
//! # Example
//!
//! A server writes two events; a client parses them from one-byte chunks and gets
//! exactly what it would from one chunk.
//!
//! ```
//! use tidings_sse::ServerSentEvent;
//! use tidings_sse::parse::{Item, Parser};
//!
//! let mut wire = Vec::new();
//! ServerSentEvent::data("hello").id("1").encode(&mut wire)?;
//! ServerSentEvent::data("two\nlines").event("note").encode(&mut wire)?;
//!
//! let mut parser = Parser::new();
//! let mut events = Vec::new();
//! for byte in wire.chunks(1) {
//!     for item in parser.feed(byte) {
//!         if let Item::Message(event) = item? {
//!             events.push(event);
//!         }
//!     }
//! }
//! assert_eq!(events[0].data(), "hello");
//! assert_eq!(events[1].event_type(), "note");
//! assert_eq!(events[1].data(), "two\nlines");
//! assert_eq!(events[1].last_event_id(), "1"); // the last event ID persists
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! The lower-level [`Parser::parse`](parse::Parser::parse) returns
//! `Result<Status<(Item, usize)>, Error>` like `httparse`: [`Status::Partial`] means
//! "all consumed, send more". [`Client`]'s docs show the whole client conversation.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod random;

pub mod client;
pub mod encode;
pub mod event_source;
pub mod head;
pub mod keep_alive;
pub mod parse;

pub use client::{Client, Event};
pub use encode::ServerSentEvent;
pub use error::{Error, LocalError};
pub use event_source::{Cause, EventSource, ReadyState, Warning};
pub use keep_alive::KeepAlive;
pub use parse::{Item, ItemRef, MessageEvent, MessageEventRef, Parser};
#[cfg(feature = "std")]
pub use random::OsRandom;
pub use random::RandomSource;

/// The outcome of an incremental parse step (the `httparse` shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status<T> {
    /// A complete value.
    Complete(T),
    /// Every byte given was taken (the parser keeps what it needs); give it the
    /// bytes that follow.
    Partial,
}

impl<T> Status<T> {
    /// `true` for [`Status::Complete`].
    #[must_use]
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// The complete value, if any.
    #[must_use]
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(value) => Some(value),
            Self::Partial => None,
        }
    }
}
