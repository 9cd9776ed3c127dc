//! The WebSocket opening handshake (RFC 6455 §4), client and server, sans-IO.
//!
//! This crate turns bytes into a validated upgrade and back. It parses the
//! HTTP/1.1 request and response heads of the handshake (with httparse),
//! checks every rule of RFC 6455 §4.1 and §4.2.1, computes
//! `Sec-WebSocket-Accept` (SHA-1 + base64), parses the subprotocol and
//! extension negotiation (RFC 6455 §9.1), negotiates permessage-deflate
//! (RFC 7692 §7.1, the [`deflate`] module), and writes requests, `101`
//! answers and rejections into buffers you own.
//!
//! What it refuses to do: it has no sockets, no TLS, no clock, no runtime and
//! no threads. You read and write; it decides. The same code therefore runs
//! under tokio, a blocking `std::net` loop, an embedded stack or a test that
//! connects a client to a server through two `Vec`s.
//!
//! ```text
//!            client                                     server
//!  ClientBuilder::new("ws://h/p")
//!    .send_request(&mut out) ──── request bytes ───▶ RequestParser::parse(chunk)
//!                                                      │ Partial: feed more
//!                                                      ▼ Complete((head, consumed))
//!                                                    Request::Upgrade(req)
//!                                                      │   (Request::Plain: serve HTTP)
//!                                                      ▼
//!                                                    req.accept().protocol(..)?
//!  ClientHandshake::parse(chunk) ◀── 101 bytes ───────  .encode(&mut out)
//!    │ Partial: feed more                              (or Rejection::from_error(&e))
//!    ▼ Complete((head, consumed))
//!  Response::Accepted(a)                             input[consumed..] = frames
//!  input[consumed..] = frames                            ──▶ tidings-ws
//!    ──▶ tidings-ws
//! ```
//!
//! Both parsers are incremental in the httparse style: they return
//! [`Status::Partial`] until the head's blank line has arrived, look at each
//! byte once however the input is split, and report how many bytes of the
//! last input the head used, because the bytes after it may already be
//! WebSocket frames. A peer's fault is an [`Error`], whose
//! [`status`](Error::status) is the HTTP answer (400, 405, 426, 431); the
//! caller's own mistakes (a bad URI, a header value with CR LF, a subprotocol
//! nobody offered) are a [`LocalError`], returned by the builders that take
//! the values, so no function mixes the two.
//!
//! # Example: a client and a server in memory
//!
//! ```
//! use tidings_handshake::{ClientBuilder, Request, RequestParser, Response, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Client: build the request. (`send_request` draws the key from the OS;
//! // any `RandomSource` can be injected instead.)
//! let mut to_server = Vec::new();
//! let mut client = ClientBuilder::new("ws://example.com/chat")?
//!     .protocol("chat")?
//!     .send_request_with(&mut |key: &mut [u8]| key.fill(7), &mut to_server);
//!
//! // Server: parse it, even one byte at a time.
//! let mut parser = RequestParser::new();
//! let mut request = None;
//! for byte in to_server.chunks(1) {
//!     if let Status::Complete((head, consumed)) = parser.parse(byte)? {
//!         assert_eq!(consumed, 1);
//!         request = Some(head);
//!     }
//! }
//! let Some(Request::Upgrade(request)) = request else { panic!("not an upgrade") };
//! assert_eq!(request.path(), "/chat");
//!
//! // Server: answer 101 with the subprotocol it picked; a frame follows.
//! let mut to_client = Vec::new();
//! request.accept().protocol("chat")?.encode(&mut to_client);
//! to_client.extend_from_slice(b"\x81\x02hi");
//!
//! // Client: check the answer; what follows the head is the first frame.
//! let Status::Complete((head, consumed)) = client.parse(&to_client)? else {
//!     panic!("incomplete")
//! };
//! let Response::Accepted(accepted) = head else { panic!("rejected") };
//! assert_eq!(accepted.protocol(), Some("chat"));
//! assert_eq!(&to_client[consumed..], b"\x81\x02hi");
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! * `std` (default): `std::error::Error` comes from `core`, so `std` only
//!   adds OS randomness ([`OsRandom`], used by
//!   [`ClientBuilder::send_request`]) via getrandom.
//! * `http`: conversions to and from `http::Request` / `http::Response`, and
//!   the RFC 8441 extended CONNECT form used over HTTP/2, and
//!   `http::WebSocketRequest`, which takes either form and answers it (`101` or
//!   `200`; refusals valid for HTTP/1.1 or HTTP/2). See the `http` module.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod client;
pub mod deflate;
mod error;
mod extension;
mod head;
mod key;
mod server;
mod uri;

#[cfg(feature = "http")]
pub mod http;

pub use client::{Accepted, ClientBuilder, ClientHandshake, Rejected, Response};
pub use error::{Error, LocalError, RequestError, ResponseError, UriError};
pub use extension::{Extension, ExtensionParam};
pub use head::{Headers, Limits};
#[cfg(feature = "std")]
pub use key::OsRandom;
pub use key::{GUID, RandomSource, SecWebSocketAccept, SecWebSocketKey, VERSION};
pub use server::{Accept, PlainRequest, Rejection, Request, RequestParser, UpgradeRequest};
pub use uri::WsUri;

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
