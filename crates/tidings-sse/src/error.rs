//! The crate's one error type.
//!
//! Most of what a server sends cannot be an error at all: the WHATWG parsing rules
//! give every byte sequence a meaning (unknown fields and bad `retry` values are
//! ignored, invalid UTF-8 becomes U+FFFD). What is left is of two kinds, kept apart
//! as the house style asks (rustls' `PeerMisbehaved` / `ApiMisuse`):
//!
//! * the **peer** sent more than the configured limits allow ([`Error::LineTooLong`],
//!   [`Error::EventTooLarge`]), or a client sent a `Last-Event-ID` we cannot read
//!   ([`Error::InvalidLastEventId`], whose wire answer is `400 Bad Request`);
//! * **local** misuse: the application asked the encoder to write a field that cannot
//!   be represented on the wire ([`Error::InvalidEventType`], [`Error::InvalidId`]).

use core::fmt;

/// Everything that can go wrong in this crate. See [`Error::is_peer`] for who is to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Peer: a line grew past [`parse::Config::max_line_len`](crate::parse::Config::max_line_len)
    /// bytes without a line ending.
    LineTooLong {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// Peer: the data buffer of one event grew past
    /// [`parse::Config::max_event_size`](crate::parse::Config::max_event_size) bytes.
    EventTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// Peer: a request's `Last-Event-ID` header is not UTF-8, contains U+0000 NULL,
    /// CR or LF, or appears more than once. Answer with `400 Bad Request`.
    InvalidLastEventId,
    /// Local: an `event` name contains CR or LF, so it cannot be written as one field.
    InvalidEventType,
    /// Local: an `id` contains CR, LF or U+0000 NULL (a NUL makes every client ignore it).
    InvalidId,
}

impl Error {
    /// `true` when the remote peer is to blame (limits, malformed request headers),
    /// `false` when the application misused the API.
    #[must_use]
    pub fn is_peer(&self) -> bool {
        matches!(
            self,
            Self::LineTooLong { .. } | Self::EventTooLarge { .. } | Self::InvalidLastEventId
        )
    }

    /// The HTTP status a server should answer with, where the error comes from a
    /// request it received: `Some(400)` for [`Error::InvalidLastEventId`], else `None`
    /// (stream errors happen after the response head is sent; the only answer left is
    /// to close the stream).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::InvalidLastEventId => Some(400),
            _ => None,
        }
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
            Self::InvalidEventType => f.write_str("event type contains CR or LF"),
            Self::InvalidId => f.write_str("event id contains CR, LF or NUL"),
        }
    }
}

impl core::error::Error for Error {}
