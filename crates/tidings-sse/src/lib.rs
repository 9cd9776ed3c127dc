//! Server-Sent Events without the I/O: a `text/event-stream` parser, an encoder, and
//! the `EventSource` reconnection logic, following the WHATWG HTML Living Standard,
//! §9.2 "Server-sent events", to the letter.
//!
//! # What is here
//!
//! * [`parse`]: an incremental parser. Feed it chunks of any size, down to one byte;
//!   it finds lines with `memchr`, scans every byte once (an 8 MiB line in 1460-byte
//!   pieces costs what it costs in one piece), decodes UTF-8 with replacement as the
//!   spec does, and allocates per event, not per line ([`Parser::parse_ref`]
//!   lends each event out of reused buffers and does not allocate at all).
//! * [`encode`]: writes events, comments, keep-alives and `retry` into a caller's
//!   [`bytes::BufMut`], refusing fields that cannot be represented.
//! * [`head`]: the HTTP headers each side sends, the `Content-Type` check, and
//!   reading `Last-Event-ID` on a server.
//! * [`event_source`]: the client's state machine: `CONNECTING`/`OPEN`/`CLOSED`, which
//!   responses are accepted, `Last-Event-ID` on reconnection, the reconnection time,
//!   exponential backoff with jitter.
//!
//! # What is not here
//!
//! No sockets, no HTTP client, no clock, no runtime, no threads. Time comes in as a
//! [`Duration`](core::time::Duration) since an epoch the caller picks; randomness comes
//! from an injectable [`RandomSource`](event_source::RandomSource). The crate is
//! `no_std` (with `alloc`); the default `std` feature adds OS randomness and runtime
//! CPU feature detection. There is no `unsafe` code.
//!
//! # Data flow
//!
//! ```text
//!   server                                         client
//!  ┌───────────────────┐                     ┌──────────────────────────────────┐
//!  │ head::RESPONSE_   │  HTTP response head │ EventSource::handle_response     │
//!  │   HEADERS         │ ──────────────────► │                                  │
//!  │ encode::Event-    │  body chunks        │ EventSource::handle_body         │
//!  │   Builder::encode │ ──────────────────► │   └─► parse::Parser ─► Item      │
//!  │   (into BufMut)   │                     │ poll_event() ─► Open / Message / │
//!  │                   │  Last-Event-ID      │   Error / Connect(Request)       │
//!  │ head::last_event_ │ ◄────────────────── │ poll_timeout / handle_timeout    │
//!  │   id(headers)     │  (on reconnection)  │   (reconnection delay)           │
//!  └───────────────────┘                     └──────────────────────────────────┘
//! ```
//!
//! # Example
//!
//! A server writes two events; a client parses them from one-byte chunks and gets
//! exactly what it would from one chunk.
//!
//! ```
//! use tidings_sse::encode::EventBuilder;
//! use tidings_sse::parse::{Item, Parser};
//!
//! let mut wire = Vec::new();
//! EventBuilder::new().id("1").data("hello").encode(&mut wire)?;
//! EventBuilder::new().event("note").data("two\nlines").encode(&mut wire)?;
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
//! # Ok::<(), tidings_sse::Error>(())
//! ```
//!
//! The lower-level [`Parser::parse`](parse::Parser::parse) returns
//! `Result<Status<(usize, Item)>, Error>` like `httparse`: [`Status::Partial`] means
//! "all consumed, send more".

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;

pub mod encode;
pub mod event_source;
pub mod head;
pub mod parse;

pub use error::Error;
pub use event_source::{Event, EventSource, ReadyState};
pub use parse::{Item, ItemRef, MessageEvent, MessageEventRef, Parser};

/// The outcome of a parse step that may need more input (the `httparse` shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status<T> {
    /// A complete value.
    Complete(T),
    /// Everything given was consumed; more input is needed to complete a value.
    Partial,
}

impl<T> Status<T> {
    /// `true` for [`Status::Complete`].
    #[must_use]
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }
}
