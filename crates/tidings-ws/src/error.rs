//! Errors, split by whose fault they are: two types, the same convention in every
//! tidings protocol crate.
//!
//! - [`Error`]: the *peer* misbehaved (or went silent). It carries the wire answer,
//!   [`Error::close_code`], the way h11 carries an HTTP status and rustls an alert. No
//!   local-misuse variants are in it.
//! - [`LocalError`]: the caller asked for something the protocol forbids (a command in
//!   the wrong state, a value that cannot go on the wire). Never something a peer can
//!   cause; no wire answer.
//!
//! No function returns a type mixing both. Here, [`Error`] comes out of
//! [`Connection::poll_event`](crate::Connection::poll_event) (and the halves'
//! `poll_event` / `poll_error`), with the close frame already queued; [`LocalError`]
//! comes out of the commands (`send_*`, `close`), which then queued nothing and left
//! the connection as it was.

use core::fmt;

use crate::close::CloseCode;
use crate::frame::HeaderError;

/// The peer broke the protocol, exceeded a limit, was too slow, or went silent.
///
/// When `poll_event` returns one, the connection has already queued a close frame
/// with [`close_code`](Self::close_code) (except where that code is 1006, which is
/// never sent: a keepalive ping unanswered, a lost transport), stopped reading, and
/// will report [`should_close_transport`](crate::Connection::should_close_transport)
/// once the queued bytes are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Error {
    /// RSV1-3 set without a negotiated extension (§5.2), or RSV1 on a control frame
    /// or a continuation frame with permessage-deflate (RFC 7692 §6.1).
    ReservedBits,
    /// An opcode from the reserved ranges `%x3-7` / `%xB-F` (§5.2).
    ReservedOpCode(u8),
    /// A control frame with FIN clear: "control frames MUST NOT be fragmented" (§5.5).
    FragmentedControl,
    /// A control frame payload over 125 bytes (§5.5).
    ControlTooLong,
    /// A continuation frame with no message to continue (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame inside a fragmented message (§5.4).
    ExpectedContinuation,
    /// A client frame without a mask: "a server MUST close the connection upon
    /// receiving a frame that is not masked" (§5.1).
    UnmaskedFrame,
    /// A server frame with a mask: "a client MUST close a connection if it detects a
    /// masked frame" (§5.1).
    MaskedFrame,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    LengthHighBitSet,
    /// A payload length in a longer form than it needs: "the minimal number of bytes
    /// MUST be used to encode the length" (§5.2).
    NonMinimalLength,
    /// A close frame with a one-byte payload (§5.5.1).
    InvalidClosePayload,
    /// A close frame whose code may not be sent (§7.4).
    InvalidCloseCode(u16),
    /// A text message or close reason that is not UTF-8 (§8.1).
    InvalidUtf8,
    /// A frame longer than [`Config::max_frame_size`](crate::Config::max_frame_size).
    FrameTooBig {
        /// The length the frame header announced.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message longer than
    /// [`Config::max_message_size`](crate::Config::max_message_size).
    MessageTooBig {
        /// The message length at the frame that went over.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// No frame arrived within
    /// [`Config::pong_timeout`](crate::Config::pong_timeout) of a keepalive ping.
    KeepaliveTimeout,
    /// A data message was not complete within
    /// [`Config::message_timeout`](crate::Config::message_timeout) of its first
    /// frame.
    MessageTimeout,
    /// No frame arrived for [`Config::idle_timeout`](crate::Config::idle_timeout).
    IdleTimeout,
    /// The transport closed before the closing handshake finished.
    UnexpectedEof,
    /// A compressed message that is not a valid deflate stream (RFC 7692 §7.2.2).
    InvalidCompressedData,
}

impl Error {
    /// The close code this error answers with (§7.4.1).
    ///
    /// 1002 for protocol violations, 1007 for invalid UTF-8 (and undecodable
    /// compressed data), 1009 for limits, counted after inflation; 1008 (policy
    /// violation) for a message that took too long; 1001 (going away) for an idle
    /// connection; 1006 (never sent, reported only) for a peer that did not answer a
    /// keepalive ping or a transport lost mid-stream.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooBig { .. } | Self::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::MessageTimeout => CloseCode::POLICY_VIOLATION,
            Self::IdleTimeout => CloseCode::GOING_AWAY,
            Self::KeepaliveTimeout | Self::UnexpectedEof => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// The reason sent with [`close_code`](Self::close_code): empty, except for an
    /// idle timeout, where 1001 alone would not say why a server went away.
    pub(crate) const fn close_reason(&self) -> &'static str {
        match self {
            Self::IdleTimeout => "idle timeout",
            _ => "",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("reserved bits set without an extension"),
            Self::ReservedOpCode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::FragmentedControl => f.write_str("fragmented control frame"),
            Self::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            Self::UnexpectedContinuation => f.write_str("continuation frame outside a message"),
            Self::ExpectedContinuation => f.write_str("new data frame inside a fragmented message"),
            Self::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            Self::MaskedFrame => f.write_str("masked frame from a server"),
            Self::LengthHighBitSet => f.write_str("64-bit payload length has its high bit set"),
            Self::NonMinimalLength => {
                f.write_str("payload length not encoded in the minimal number of bytes")
            }
            Self::InvalidClosePayload => f.write_str("close frame with a one-byte payload"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            Self::FrameTooBig { len, limit } => {
                write!(f, "frame of {len} bytes exceeds the limit of {limit}")
            }
            Self::MessageTooBig { len, limit } => {
                write!(f, "message of {len} bytes exceeds the limit of {limit}")
            }
            Self::KeepaliveTimeout => f.write_str("no answer to a keepalive ping"),
            Self::MessageTimeout => f.write_str("message not complete within the time allowed"),
            Self::IdleTimeout => f.write_str("nothing received within the idle timeout"),
            Self::UnexpectedEof => f.write_str("transport closed without a closing handshake"),
            Self::InvalidCompressedData => {
                f.write_str("compressed message is not valid deflate data")
            }
        }
    }
}

impl core::error::Error for Error {}

impl From<HeaderError> for Error {
    fn from(e: HeaderError) -> Self {
        match e {
            HeaderError::LengthHighBitSet => Self::LengthHighBitSet,
            HeaderError::NonMinimalLength => Self::NonMinimalLength,
        }
    }
}

/// The caller asked for something the protocol forbids; nothing was queued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum LocalError {
    /// A close frame was already queued or received: "the endpoint MUST NOT send any
    /// more data frames" (§5.5.1).
    Closing,
    /// A ping or pong payload over 125 bytes (§5.5).
    ControlTooLong,
    /// A close reason over 123 bytes (§5.5.1).
    ReasonTooLong,
    /// A close code that may not be sent (§7.4).
    InvalidCloseCode(u16),
    /// A whole message was sent while a fragmented one is still open (§5.4: the
    /// fragments of one message must not be interleaved with another's).
    MessageInProgress,
    /// A fragment of a different kind than the message it continues.
    KindMismatch,
    /// A text fragment that is not UTF-8 (or ends a message inside a code point).
    InvalidUtf8,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closing => f.write_str("the connection is closing"),
            Self::ControlTooLong => f.write_str("control payload over 125 bytes"),
            Self::ReasonTooLong => f.write_str("close reason over 123 bytes"),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Self::MessageInProgress => f.write_str("a fragmented message is still being sent"),
            Self::KindMismatch => f.write_str("fragment kind differs from its message"),
            Self::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
        }
    }
}

impl core::error::Error for LocalError {}
