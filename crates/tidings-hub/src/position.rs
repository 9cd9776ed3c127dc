//! Where an event sits in a topic's history: an [`Epoch`] and an offset.
//!
//! Offsets alone cannot tell a client that it missed events: a node that restarts
//! with an empty history, or a broker that lost its data, starts counting again, and
//! a client that resumes "after 41" would silently skip whatever the new 1..41 were.
//! So every history carries an epoch, a number drawn when the history begins and
//! changed whenever it is lost; a position from another epoch is never resumed
//! from, it is answered with a discontinuity. (Centrifugo's stream positions are
//! built the same way, `offset` plus `epoch`.)
//!
//! On the wire a position is `EPOCH:OFFSET`, the epoch in lowercase hexadecimal and
//! the offset in decimal, both without leading zeros: short enough for an SSE `id`
//! (and so for `Last-Event-ID`) or a WebSocket resume token, and parsed strictly, so
//! that one position has exactly one spelling.

use core::fmt;
use core::str::FromStr;

use crate::error::PositionError;

/// The identity of one unbroken history of a topic. It changes whenever the history
/// is lost (a restart of an in-memory hub, a broker that lost the stream), so that a
/// position from before the loss is recognised as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

/// The position of an event in a topic: its history's [`Epoch`] and its offset,
/// counted from 1 for the first event of that epoch. Offset 0 is the position before
/// the first event.
///
/// ```
/// use tidings_hub::{Epoch, StreamPosition};
///
/// let position = StreamPosition::new(Epoch(0x2a), 7);
/// assert_eq!(position.to_string(), "2a:7");
/// assert_eq!("2a:7".parse::<StreamPosition>()?, position);
/// assert!("2a:07".parse::<StreamPosition>().is_err()); // one spelling per position
/// # Ok::<(), tidings_hub::PositionError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamPosition {
    /// The history this position belongs to.
    pub epoch: Epoch,
    /// The offset of the event within its epoch (1 for the first; 0 before it).
    pub offset: u64,
}

impl StreamPosition {
    /// The longest wire form: 16 hexadecimal digits, a colon, 20 decimal digits.
    pub const MAX_LEN: usize = 16 + 1 + 20;

    /// The position `offset` of `epoch`.
    #[must_use]
    pub const fn new(epoch: Epoch, offset: u64) -> Self {
        Self { epoch, offset }
    }

    /// Parses the wire form `EPOCH:OFFSET` (see the module documentation).
    ///
    /// # Errors
    ///
    /// [`PositionError`] for anything but lowercase hex digits, one colon and decimal
    /// digits, without leading zeros, within `u64`.
    pub fn parse(text: &str) -> Result<Self, PositionError> {
        let (epoch, offset) = text.split_once(':').ok_or(PositionError)?;
        Ok(Self {
            epoch: Epoch(number(epoch, 16)?),
            offset: number(offset, 10)?,
        })
    }
}

/// One canonical number in `radix` (16: lowercase only): digits, no sign, no leading
/// zero except for zero itself.
fn number(digits: &str, radix: u32) -> Result<u64, PositionError> {
    let canonical = !digits.is_empty()
        && (digits == "0" || !digits.starts_with('0'))
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (radix == 16 && matches!(b, b'a'..=b'f')));
    if !canonical {
        return Err(PositionError);
    }
    u64::from_str_radix(digits, radix).map_err(|_| PositionError)
}

impl fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{}", self.epoch.0, self.offset)
    }
}

impl FromStr for StreamPosition {
    type Err = PositionError;

    fn from_str(text: &str) -> Result<Self, PositionError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn wire_form_round_trips_at_the_extremes() {
        for (epoch, offset, text) in [
            (0, 0, "0:0"),
            (0xa, 1, "a:1"),
            (u64::MAX, u64::MAX, "ffffffffffffffff:18446744073709551615"),
        ] {
            let position = StreamPosition::new(Epoch(epoch), offset);
            assert_eq!(position.to_string(), text);
            assert_eq!(StreamPosition::parse(text), Ok(position));
            assert!(text.len() <= StreamPosition::MAX_LEN);
        }
    }

    #[test]
    fn every_other_spelling_is_refused() {
        for text in [
            "",
            ":",
            "1",
            "1:",
            ":1",
            "01:1",
            "1:01",
            "A:1",
            "+1:1",
            "1:+1",
            "1:-1",
            "1:1:1",
            " 1:1",
            "1:1 ",
            "g:1",
            "1:a",
            "10000000000000000:1",
            "1:18446744073709551616",
        ] {
            assert_eq!(StreamPosition::parse(text), Err(PositionError), "{text:?}");
        }
    }
}
