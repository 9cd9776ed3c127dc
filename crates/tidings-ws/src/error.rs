//! Errors, split by whose fault they are.
//!
//! [`Error`] is the peer's misbehaviour (or a dead peer), reported by
//! [`Connection::poll_event`](crate::Connection::poll_event); each one carries the close
//! code the connection already queued for the peer, the way h11 carries an HTTP status
//! and rustls an alert. [`SendError`] is local misuse of a command, which sends nothing
//! and leaves the connection as it was.

use core::fmt;

use crate::close::CloseCode;

/// The peer broke the protocol, exceeded a limit, or went silent.
///
/// When `poll_event` returns one, the connection has already queued a close frame
/// with [`close_code`](Self::close_code) (except for timeouts and a lost transport),
/// stopped reading, and will report
/// [`should_close_transport`](crate::Connection::should_close_transport) once the
/// queued bytes are written.
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
    /// The transport closed before the closing handshake finished.
    UnexpectedEof,
    /// A compressed message that is not a valid deflate stream (RFC 7692 §7.2.2).
    InvalidCompressedData,
}

impl Error {
    /// The close code this error answers with (§7.4.1).
    ///
    /// 1002 for protocol violations, 1007 for invalid UTF-8 (and undecodable
    /// compressed data), 1009 for limits, counted after inflation; 1006
    /// (never sent, reported only) for a silent peer or a transport lost mid-stream.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooBig { .. } | Self::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::KeepaliveTimeout | Self::UnexpectedEof => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
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
            Self::UnexpectedEof => f.write_str("transport closed without a closing handshake"),
            Self::InvalidCompressedData => {
                f.write_str("compressed message is not valid deflate data")
            }
        }
    }
}

impl core::error::Error for Error {}

/// A command could not be carried out; nothing was queued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SendError {
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

impl fmt::Display for SendError {
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

impl core::error::Error for SendError {}
