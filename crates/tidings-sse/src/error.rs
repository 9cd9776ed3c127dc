//! Errors, split by whose fault they are: two types, the same convention in every
//! tidings protocol crate.
//!
//! - [`Error`]: the *peer* misbehaved (or went silent). It carries the wire answer where
//!   there is one, [`Error::status`]. No local-misuse variants are in it.
//! - [`LocalError`]: the caller asked for something the protocol forbids (a command in
//!   the wrong state, a value that cannot go on the wire). Never something a peer can
//!   cause; no wire answer.
//!
//! No function returns a type mixing both. Here, [`Error`] comes out of the parser,
//! out of [`head::last_event_id`](crate::head::last_event_id) on a server, and, inside
//! [`Cause::Error`](crate::Cause::Error), out of the client machines, which treat it
//! as a network error and reconnect (or, for a redirect that cannot be followed, stop).
//! [`LocalError`] comes out of the encoder and out of [`Client::new`](crate::Client::new)
//! (a URL or a header that cannot be sent).
//!
//! Most of what a server sends cannot be an error at all: the WHATWG parsing rules give
//! every byte sequence a meaning (unknown fields and bad `retry` values are ignored,
//! invalid UTF-8 becomes U+FFFD). What is left is limits, HTTP/1.1 framing, timeouts,
//! and redirects.

use core::fmt;

use crate::client::{ChunkedError, UrlError};

/// The peer broke a rule or a limit, or went silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A line grew past [`parse::Config::max_line_len`](crate::parse::Config::max_line_len)
    /// bytes without a line ending.
    LineTooLong {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The data buffer of one event grew past
    /// [`parse::Config::max_event_size`](crate::parse::Config::max_event_size) bytes.
    EventTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// Server side: a request's `Last-Event-ID` header is not UTF-8, contains U+0000
    /// NULL, CR or LF, or appears more than once. Answer with `400 Bad Request`.
    InvalidLastEventId,
    /// No body bytes for [`event_source::Config::read_timeout`](crate::event_source::Config::read_timeout)
    /// while the stream was open.
    ReadTimeout,
    /// Dialling, sending the request and receiving the response head took longer
    /// than [`client::Config::connect_timeout`](crate::client::Config::connect_timeout).
    ConnectTimeout,
    /// The response head is not HTTP/1.x (RFC 9112 §2-§5): a malformed status line
    /// or header field.
    InvalidResponseHead,
    /// The response head is longer than
    /// [`client::Config::max_head_size`](crate::client::Config::max_head_size) bytes
    /// (interim `1xx` heads included).
    HeadTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The response head has more than
    /// [`client::Config::max_headers`](crate::client::Config::max_headers) fields.
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// `Content-Length` is not a number, or two values disagree (RFC 9112 §6.3, rule 5):
    /// the body cannot be delimited.
    InvalidContentLength,
    /// The chunked body is malformed (RFC 9112 §7.1).
    Chunked(ChunkedError),
    /// A redirect without a usable `Location` (missing, malformed, or to a scheme
    /// other than `http` or `https`). The `EventSource` fails: retrying cannot help.
    InvalidRedirect,
    /// A redirect from `https` to `http`, refused so that a secure stream is never
    /// continued in the clear. The `EventSource` fails.
    RedirectDowngrade,
    /// More than [`client::Config::max_redirects`](crate::client::Config::max_redirects)
    /// redirects in one attempt. The `EventSource` fails.
    TooManyRedirects {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl Error {
    /// The HTTP status a server answers with, where the error comes from a request it
    /// received: `Some(400)` for [`Error::InvalidLastEventId`]. `None` for the others:
    /// a client has nobody to answer, and stream errors come after the response head,
    /// when the only answer left is to close the stream.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InvalidLastEventId => Some(400),
            _ => None,
        }
    }

    /// `true` for the errors after which reconnecting is futile, so the `EventSource`
    /// fails instead ("unless the user agent knows that to be futile, in which case
    /// the user agent may fail the connection"): the redirect errors.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidRedirect | Self::RedirectDowngrade | Self::TooManyRedirects { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong { limit } => {
                write!(
                    f,
                    "event stream line longer than the limit of {limit} bytes"
                )
            }
            Self::EventTooLarge { limit } => {
                write!(f, "event data larger than the limit of {limit} bytes")
            }
            Self::InvalidLastEventId => f.write_str("invalid Last-Event-ID request header"),
            Self::ReadTimeout => f.write_str("no data from the server within the read timeout"),
            Self::ConnectTimeout => f.write_str("no response head within the connect timeout"),
            Self::InvalidResponseHead => f.write_str("malformed HTTP response head"),
            Self::HeadTooLarge { limit } => {
                write!(f, "response head larger than the limit of {limit} bytes")
            }
            Self::TooManyHeaders { limit } => {
                write!(f, "response head has more than {limit} header fields")
            }
            Self::InvalidContentLength => f.write_str("invalid Content-Length"),
            Self::Chunked(e) => write!(f, "malformed chunked body: {e}"),
            Self::InvalidRedirect => f.write_str("redirect to a missing or unusable location"),
            Self::RedirectDowngrade => f.write_str("redirect from https to http refused"),
            Self::TooManyRedirects { limit } => {
                write!(f, "redirected more than {limit} times")
            }
        }
    }
}

impl core::error::Error for Error {}

/// The caller asked for something that cannot go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// An `event` name contains CR or LF, so it cannot be written as one field.
    InvalidEventType,
    /// An `id` contains CR, LF or U+0000 NULL (a NUL makes every client ignore it).
    InvalidId,
    /// The client's URL is not an `http://` or `https://` URL it can request.
    InvalidUrl(UrlError),
    /// An extra request header whose name is not a token or whose value has bytes
    /// other than visible ASCII, space and tab (RFC 9110 §5.1, §5.5, without
    /// `obs-text`).
    InvalidHeader,
    /// An extra request header the client writes itself (`Host`, `Last-Event-ID`) or
    /// that would change the request's framing or connection (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, ...).
    ForbiddenHeader,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidEventType => f.write_str("event type contains CR or LF"),
            Self::InvalidId => f.write_str("event id contains CR, LF or NUL"),
            Self::InvalidUrl(e) => write!(f, "invalid event stream URL: {e}"),
            Self::InvalidHeader => f.write_str("invalid request header name or value"),
            Self::ForbiddenHeader => {
                f.write_str("request header the client sets itself or that changes framing")
            }
        }
    }
}

impl core::error::Error for LocalError {}

impl From<UrlError> for LocalError {
    fn from(e: UrlError) -> Self {
        Self::InvalidUrl(e)
    }
}
