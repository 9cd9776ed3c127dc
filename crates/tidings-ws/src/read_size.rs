//! Read sizing for bindings: how much of the transport to ask for next.
//!
//! The core takes bytes in pieces of any size, so this is advice, not a rule; it
//! lives here because it follows the frame layout (the longest header, the rest of a
//! frame whose header was parsed), which a binding should not have to know.

/// How many bytes a binding's next read should ask for: from [`ReadSize::MIN`] up
/// to a maximum of the binding's (its read buffer size), following what the reads
/// bring, or up to [`FRAME_READ_MAX`](Self::FRAME_READ_MAX) of a large frame still
/// arriving.
///
/// A connection frees its receive buffer whenever it goes idle, so asking for 16 KiB
/// to receive a 20-byte message would cost a 16 KiB allocation per message (and,
/// where reads zero-fill, a 16 KiB `memset`). The size starts small, doubles after a
/// read that filled it, and halves after two reads in a row that used less than a
/// quarter of it (the adaptive strategy of hyper's read buffer). Each read also has
/// room for a frame header beyond that size ([`HEADER_ROOM`](Self::HEADER_ROOM)), so
/// a message of exactly the read size arrives in one read.
///
/// Once the core has parsed the header of a frame that is still arriving
/// ([`RecvHalf::frame_bytes_wanted`](crate::RecvHalf::frame_bytes_wanted)), the
/// next read asks for the frame's missing bytes, up to
/// [`FRAME_READ_MAX`](Self::FRAME_READ_MAX): small reads of a large frame multiply
/// the system calls, and a read of the whole frame at once costs more than it saves
/// (page faults on a fresh buffer of that size). `docs/performance.md` has the
/// figures.
///
/// ```
/// use tidings_ws::ReadSize;
///
/// let mut size = ReadSize::new(16 * 1024);
/// let n = size.for_frame(0); // no frame under way: the adaptive size
/// size.record(n); // the read came back full: the next one asks for more
/// assert!(size.get() > n);
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct ReadSize {
    next: usize,
    max: usize,
    /// The last read used less than a quarter of its room.
    small: bool,
}

impl ReadSize {
    /// The smallest read: room for most messages of a chat or a feed in one read.
    pub const MIN: usize = 2048;

    /// The most bytes one read asks for to complete a frame (see the type's
    /// documentation).
    pub const FRAME_READ_MAX: usize = 64 * 1024;

    /// Room for the longest frame header on top of the payload a read is sized for.
    pub const HEADER_ROOM: usize = crate::frame::MAX_HEADER_LEN;

    /// Starts at the smallest size; never asks for more than `max` (nor less than 1)
    /// plus [`HEADER_ROOM`](Self::HEADER_ROOM), except for the rest of a frame.
    #[inline]
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            next: Self::MIN.min(max),
            max,
            small: false,
        }
    }

    /// The size of the next read when no frame is being received whole.
    #[inline]
    pub fn get(&self) -> usize {
        self.next + Self::HEADER_ROOM
    }

    /// The size of the next read, given the core's `frame_bytes_wanted()`: the rest
    /// of the frame being received, up to [`FRAME_READ_MAX`](Self::FRAME_READ_MAX),
    /// when it is more than [`get`](Self::get).
    #[inline]
    pub fn for_frame(&self, frame_bytes_wanted: usize) -> usize {
        self.get().max(frame_bytes_wanted.min(Self::FRAME_READ_MAX))
    }

    /// Adapts to a read of `n` bytes.
    #[inline]
    pub fn record(&mut self, n: usize) {
        if n >= self.next {
            self.next = self.next.saturating_mul(2).min(self.max);
            self.small = false;
        } else if n < self.next / 4 {
            if self.small {
                self.next = (self.next / 2).max(Self::MIN.min(self.max));
            }
            self.small = !self.small;
        } else {
            self.small = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReadSize;

    /// The payload size a read is sized for, without the header room.
    fn payload(size: &ReadSize) -> usize {
        size.get() - ReadSize::HEADER_ROOM
    }

    #[test]
    fn grows_on_full_reads_and_shrinks_on_small_ones() {
        let mut size = ReadSize::new(16 * 1024);
        assert_eq!(payload(&size), ReadSize::MIN);
        for expected in [4096, 8192, 16384, 16384] {
            size.record(size.get());
            assert_eq!(payload(&size), expected);
        }
        // One small read is not a trend; two are.
        size.record(20);
        assert_eq!(payload(&size), 16384);
        size.record(20);
        assert_eq!(payload(&size), 8192);
        // A read in between resets the count.
        size.record(20);
        size.record(4000);
        size.record(20);
        assert_eq!(payload(&size), 8192);
        for _ in 0..20 {
            size.record(1);
        }
        assert_eq!(payload(&size), ReadSize::MIN);
    }

    #[test]
    fn stays_within_a_small_maximum() {
        let mut size = ReadSize::new(100);
        assert_eq!(payload(&size), 100);
        size.record(100);
        assert_eq!(payload(&size), 100);
        size.record(1);
        size.record(1);
        assert_eq!(payload(&size), 100);
        assert_eq!(payload(&ReadSize::new(0)), 1);
    }

    #[test]
    fn a_whole_message_of_the_read_size_fits_one_read() {
        // A 16 KiB payload behind a masked client header of 8 bytes.
        let mut size = ReadSize::new(16 * 1024);
        for _ in 0..3 {
            size.record(size.get());
        }
        assert!(size.get() >= 16 * 1024 + 8);
    }

    #[test]
    fn reads_the_rest_of_a_large_frame_at_once() {
        let size = ReadSize::new(16 * 1024);
        assert_eq!(size.for_frame(0), size.get());
        assert_eq!(size.for_frame(10), size.get());
        assert_eq!(size.for_frame(40_000), 40_000);
        assert_eq!(size.for_frame(1 << 20), ReadSize::FRAME_READ_MAX);
    }
}
