//! The two kinds of failure: a position a peer sent that cannot be read
//! ([`PositionError`]), and a command this hub refuses ([`LocalError`]).
//!
//! There is no error for a peer that reads too slowly or resumes from too far back:
//! those are not failures but [`Discontinuity`](crate::Discontinuity) deliveries,
//! which the client is told about in its own protocol.

use core::fmt;

/// A stream position that is not in the `EPOCH:OFFSET` wire form (see
/// [`StreamPosition::parse`](crate::StreamPosition::parse)).
///
/// A peer sends positions (an SSE `Last-Event-ID`, a WebSocket resume token); one that
/// cannot be read is best answered as a position from an unknown history:
/// [`Since::Lost`](crate::Since::Lost), a discontinuity, and everything the history
/// still holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionError;

impl fmt::Display for PositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a stream position (EPOCH:OFFSET, hexadecimal and decimal)")
    }
}

/// A command the hub refuses: a topic name it does not take, or a limit of its
/// [`Config`](crate::Config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// The topic name is empty, longer than [`Config::max_topic_len`](crate::Config::max_topic_len),
    /// or holds a control character.
    InvalidTopic,
    /// A new topic would exceed [`Config::max_topics`](crate::Config::max_topics).
    TooManyTopics,
    /// A new subscription would exceed
    /// [`Config::max_subscriptions`](crate::Config::max_subscriptions).
    TooManySubscriptions,
    /// The subscription was ended (unsubscribed, or dropped for lagging).
    UnknownSubscription,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidTopic => "invalid topic name (empty, too long, or a control character)",
            Self::TooManyTopics => "too many topics",
            Self::TooManySubscriptions => "too many subscriptions",
            Self::UnknownSubscription => "no such subscription",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PositionError {}

#[cfg(feature = "std")]
impl std::error::Error for LocalError {}
