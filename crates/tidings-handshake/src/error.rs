//! Two error types, split by *whose fault it is*.
//!
//! * [`Error`]: the *peer* misbehaved (or went silent). Carries the wire
//!   answer, [`Error::status`]. No local-misuse variants in it.
//!   - [`Error::Request`]: the client's request broke RFC 6455 §4.2.1. The
//!     server answers with [`Error::status`] (400, 405, 426 or 431) and
//!     closes; [`Rejection::from_error`](crate::Rejection::from_error) writes
//!     that answer.
//!   - [`Error::Response`]: the server's response broke RFC 6455 §4.1. The
//!     client must _Fail the WebSocket Connection_.
//! * [`LocalError`]: the caller asked for something the protocol forbids (a
//!   command in the wrong state, a value that cannot go on the wire: a bad
//!   URI, CR/LF in a header value, a subprotocol the client never offered).
//!   Never something a peer can cause; no wire answer.
//!
//! No function returns a type mixing both: the parsers return [`Error`], the
//! builders that take the caller's values return [`LocalError`] (h11 keeps
//! `LocalProtocolError` and `RemoteProtocolError` apart; rustls keeps
//! `PeerMisbehaved` apart from API misuse).
//!
//! `Display` is written by hand so that the messages are stable and say which
//! rule was broken; no variant wraps an I/O error, because this crate never
//! does I/O.

use core::fmt;

use crate::deflate::DeflateError;

/// The peer broke the opening handshake.
///
/// [`Error::status`] gives the HTTP status code that describes the failure
/// (the wire answer a server sends for [`Error::Request`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The client's request was refused (server side).
    Request(RequestError),
    /// The server's response was refused (client side).
    Response(ResponseError),
}

impl Error {
    /// The HTTP status code describing this error.
    ///
    /// * [`Error::Request`]: the answer a server sends: 400, 405, 426 or 431
    ///   (see [`RequestError::status`]).
    /// * [`Error::Response`]: 502 (Bad Gateway, "received an invalid response
    ///   from an inbound server", RFC 9110 §15.6.3): what a proxy would answer.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::Response(_) => 502,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "invalid WebSocket request: {e}"),
            Self::Response(e) => write!(f, "invalid WebSocket response: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Self::Response(e)
    }
}

/// Why a client's opening handshake was refused (RFC 6455 §4.2.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The head grew past [`Limits::max_head_size`](crate::Limits) bytes. 431.
    HeadTooLarge,
    /// The head has more than [`Limits::max_headers`](crate::Limits) fields. 431.
    TooManyHeaders,
    /// The head is not HTTP/1.x syntax (httparse refused it). 400.
    Malformed,
    /// "The method of the request MUST be GET". 405, with `Allow: GET`.
    MethodNotGet,
    /// An HTTP/2 request with WebSocket fields whose method is not CONNECT.
    /// RFC 8441 §4: "The :method pseudo-header field MUST be CONNECT" (a GET with
    /// `Upgrade`, HTTP/1.1's form, cannot upgrade an HTTP/2 stream). 405, with
    /// `Allow: CONNECT`.
    MethodNotConnect,
    /// No WebSocket signal at all (a plain GET, or a CONNECT without
    /// `:protocol websocket`) at an endpoint that speaks only WebSocket. 426,
    /// with `Upgrade: websocket` on HTTP/1.1 (RFC 9110 §15.5.22).
    NotWebSocket,
    /// "the HTTP version MUST be at least 1.1". 400.
    HttpVersion,
    /// "A |Host| header field": missing, repeated or not text. 400.
    Host,
    /// "An |Upgrade| header field containing the value "websocket"": missing. 400.
    Upgrade,
    /// "A |Connection| header field that includes the token "Upgrade"": missing. 400.
    Connection,
    /// `Sec-WebSocket-Key` missing, or not the base64 form of exactly 16 bytes. 400.
    Key,
    /// `Sec-WebSocket-Key` appears more than once. 400.
    DuplicateKey,
    /// `Sec-WebSocket-Version` missing or not 13. 426, with `Sec-WebSocket-Version: 13`.
    Version,
    /// `Sec-WebSocket-Protocol` is not a comma-separated list of tokens. 400.
    Protocol,
    /// `Sec-WebSocket-Extensions` does not follow RFC 6455 §9.1. 400.
    Extensions,
}

impl RequestError {
    /// The status a server answers with: 400, 405, 426 or 431.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::MethodNotGet | Self::MethodNotConnect => 405,
            Self::Version | Self::NotWebSocket => 426,
            Self::Malformed
            | Self::HttpVersion
            | Self::Host
            | Self::Upgrade
            | Self::Connection
            | Self::Key
            | Self::DuplicateKey
            | Self::Protocol
            | Self::Extensions => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HeadTooLarge => "request head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::Malformed => "malformed HTTP request head",
            Self::MethodNotGet => "method must be GET",
            Self::MethodNotConnect => "method must be CONNECT over HTTP/2 (RFC 8441)",
            Self::NotWebSocket => "not a WebSocket request; this endpoint speaks WebSocket only",
            Self::HttpVersion => "HTTP version must be at least 1.1",
            Self::Host => "exactly one valid Host header field is required",
            Self::Upgrade => "Upgrade header field must contain \"websocket\"",
            Self::Connection => "Connection header field must contain \"Upgrade\"",
            Self::Key => "Sec-WebSocket-Key must be the base64 form of 16 bytes",
            Self::DuplicateKey => "Sec-WebSocket-Key appears more than once",
            Self::Version => "Sec-WebSocket-Version must be 13",
            Self::Protocol => "Sec-WebSocket-Protocol must be a list of tokens",
            Self::Extensions => "malformed Sec-WebSocket-Extensions",
        })
    }
}

/// Why a server's opening handshake response was refused (RFC 6455 §4.1).
///
/// Every one of these means the client "MUST _Fail the WebSocket Connection_".
/// A well-formed response with a status other than 101 is *not* an error: it
/// comes back as [`Response::Rejected`](crate::Response::Rejected).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// The head grew past [`Limits::max_head_size`](crate::Limits) bytes.
    HeadTooLarge,
    /// The head has more than [`Limits::max_headers`](crate::Limits) fields.
    TooManyHeaders,
    /// The head is not HTTP/1.x syntax (httparse refused it).
    Malformed,
    /// A 101 answer that is not HTTP/1.1.
    HttpVersion,
    /// "If the response lacks an |Upgrade| header field or \[it\] contains a
    /// value that is not [...] "websocket"".
    Upgrade,
    /// "If the response lacks a |Connection| header field or \[it\] doesn't
    /// contain a token that is [...] "Upgrade"".
    Connection,
    /// `Sec-WebSocket-Accept` missing, repeated, or not the expected value.
    Accept,
    /// `Sec-WebSocket-Protocol` names a subprotocol the client did not offer,
    /// or more than one.
    ProtocolNotOffered,
    /// `Sec-WebSocket-Extensions` names an extension the client did not offer.
    ExtensionNotOffered,
    /// `Sec-WebSocket-Extensions` does not follow RFC 6455 §9.1.
    Extensions,
    /// The permessage-deflate response does not fit any offer (RFC 7692 §7.1).
    Deflate(DeflateError),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HeadTooLarge => "response head too large",
            Self::TooManyHeaders => "too many header fields",
            Self::Malformed => "malformed HTTP response head",
            Self::HttpVersion => "101 response must be HTTP/1.1",
            Self::Upgrade => "Upgrade header field must be \"websocket\"",
            Self::Connection => "Connection header field must contain \"Upgrade\"",
            Self::Accept => "Sec-WebSocket-Accept missing or wrong",
            Self::ProtocolNotOffered => "server chose a subprotocol that was not offered",
            Self::ExtensionNotOffered => "server chose an extension that was not offered",
            Self::Extensions => "malformed Sec-WebSocket-Extensions",
            Self::Deflate(e) => return write!(f, "{e}"),
        })
    }
}

/// The caller asked for something the protocol forbids; no peer is involved.
///
/// Returned by the functions that take the caller's values and can fail in no
/// other way: [`ClientBuilder`](crate::ClientBuilder)'s options,
/// [`Accept`](crate::Accept)'s choices, [`Rejection`](crate::Rejection)'s
/// parts, [`Extension::new`](crate::Extension::new).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalError {
    /// The URI is not a usable `ws://` or `wss://` URI (RFC 6455 §3).
    Uri(UriError),
    /// A header name is not an RFC 9110 token.
    HeaderName,
    /// A header value contains CR, LF, NUL or another control byte.
    HeaderValue,
    /// A header this crate writes itself (`Upgrade`, `Sec-WebSocket-Key`, ...)
    /// was passed as an extra header.
    ReservedHeader,
    /// A subprotocol name is not a token.
    Protocol,
    /// The server chose a subprotocol the client did not offer.
    ProtocolNotOffered,
    /// An extension name or parameter is not a token.
    Extension,
    /// The server accepted an extension the client did not offer.
    ExtensionNotOffered,
    /// A rejection status outside 300..=599, or a reason with control bytes.
    Status,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri(e) => write!(f, "bad WebSocket URI: {e}"),
            Self::HeaderName => f.write_str("header name is not a token"),
            Self::HeaderValue => f.write_str("header value contains a control character"),
            Self::ReservedHeader => f.write_str("header is written by the handshake itself"),
            Self::Protocol => f.write_str("subprotocol name is not a token"),
            Self::ProtocolNotOffered => f.write_str("subprotocol was not offered by the client"),
            Self::Extension => f.write_str("extension name or parameter is not a token"),
            Self::ExtensionNotOffered => f.write_str("extension was not offered by the client"),
            Self::Status => f.write_str("rejection status must be 300..=599 with a clean reason"),
        }
    }
}

impl core::error::Error for LocalError {}

impl From<UriError> for LocalError {
    fn from(e: UriError) -> Self {
        Self::Uri(e)
    }
}

/// Why a string is not a WebSocket URI (RFC 6455 §3).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// The scheme is not `ws` or `wss`.
    Scheme,
    /// "Fragment identifiers are meaningless in the context of WebSocket URIs
    /// and MUST NOT be used on these URIs."
    Fragment,
    /// A `user:password@` part; browsers refuse these too.
    Userinfo,
    /// The host is empty or has characters a host cannot have.
    Host,
    /// The port is not a number in 0..=65535.
    Port,
    /// The URI contains a space, control or non-ASCII byte.
    Character,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Scheme => "scheme must be ws or wss",
            Self::Fragment => "fragments are not allowed",
            Self::Userinfo => "userinfo is not allowed",
            Self::Host => "invalid host",
            Self::Port => "invalid port",
            Self::Character => "space, control or non-ASCII character",
        })
    }
}

impl core::error::Error for UriError {}
