//! The server's keep-alive rule: a comment (`:\n`) when nothing was written for the
//! interval.
//!
//! # Why it is built this way
//!
//! An idle event stream is cut by proxies and load balancers that time out silent
//! connections, and a client with a read timeout gives up on it too. A comment keeps
//! both away without reaching the application. Sending one on a fixed period would put
//! comments into a busy stream for nothing, so the rule counts from the last write:
//! the next comment is due one interval after the last bytes went out, whether they
//! were an event or a comment. A stream that writes at least once per interval
//! carries no keep-alives at all.
//!
//! [`KeepAlive`] only keeps that deadline. It reads no clock: the caller says when
//! bytes were written ([`KeepAlive::handle_write`]), asks when the next comment is due
//! ([`KeepAlive::poll_timeout`]), and, once that time has come, has the comment
//! written into its buffer ([`KeepAlive::poll_transmit`]). Without an interval it
//! has no deadline and writes nothing, so a server keeps one whether or not its
//! keep-alive is on. Time is a
//! [`Duration`] since an epoch the caller picks (a runtime timer's, for instance).

use core::time::Duration;

use bytes::BufMut;

use crate::encode;

/// When the next keep-alive comment is due.
///
/// ```text
/// new(interval, now) ─► handle_write(now)       after each write (events, anything)
///                       poll_timeout()          when the next comment is due, if any
///                       poll_transmit(now, buf) at or after it: writes `:\n`
/// ```
///
/// ```
/// use core::time::Duration;
/// use tidings_sse::keep_alive::KeepAlive;
///
/// let second = Duration::from_secs(1);
/// let mut keep_alive = KeepAlive::new(Some(15 * second), Duration::ZERO);
/// keep_alive.handle_write(10 * second); // an event went out
/// assert_eq!(keep_alive.poll_timeout(), Some(25 * second));
///
/// let mut buf = Vec::new();
/// assert!(!keep_alive.poll_transmit(24 * second, &mut buf)); // not yet
/// assert!(keep_alive.poll_transmit(25 * second, &mut buf));
/// assert_eq!(buf, b":\n");
/// assert_eq!(keep_alive.poll_timeout(), Some(40 * second));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    interval: Option<Duration>,
    /// When bytes last went out (or the stream started).
    last_write: Duration,
}

impl KeepAlive {
    /// A comment after each `interval` without a write (`None`: never), on a stream
    /// that starts (its response head written) at `now`.
    #[must_use]
    pub fn new(interval: Option<Duration>, now: Duration) -> Self {
        Self {
            interval,
            last_write: now,
        }
    }

    /// The interval of silence after which a comment is due, if any.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Bytes were written at `now`: the next comment is due an interval later.
    #[inline]
    pub fn handle_write(&mut self, now: Duration) {
        self.last_write = now;
    }

    /// When the next comment is due: one interval after the last write (`None`
    /// without an interval). Wake up then and call
    /// [`poll_transmit`](Self::poll_transmit).
    #[inline]
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let interval = self.interval?;
        Some(self.last_write.saturating_add(interval))
    }

    /// Appends a keep-alive comment ([`encode::KEEP_ALIVE`]) to `buf` if one is due
    /// at `now`, and counts it as a write at `now`. Returns whether it did: before
    /// [`poll_timeout`](Self::poll_timeout), or without an interval, it writes
    /// nothing.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut impl BufMut) -> bool {
        match self.poll_timeout() {
            Some(due) if now >= due => {}
            _ => return false,
        }
        encode::write_keep_alive(buf);
        self.handle_write(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// Runs `keep_alive` at each of `times`, returning the times it wrote a comment.
    fn comments_at(keep_alive: &mut KeepAlive, times: &[Duration]) -> Vec<Duration> {
        let mut buf = Vec::new();
        let mut at = Vec::new();
        for &now in times {
            if keep_alive.poll_transmit(now, &mut buf) {
                at.push(now);
            }
        }
        assert_eq!(buf, encode::KEEP_ALIVE.repeat(at.len()));
        at
    }

    #[test]
    fn an_idle_stream_gets_a_comment_each_interval_from_its_start() {
        let mut keep_alive = KeepAlive::new(Some(15 * S), 5 * S);
        assert_eq!(keep_alive.poll_timeout(), Some(20 * S));
        let times: Vec<_> = (0..60).map(|s| s * S).collect();
        assert_eq!(
            comments_at(&mut keep_alive, &times),
            [20 * S, 35 * S, 50 * S]
        );
    }

    #[test]
    fn a_write_pushes_the_next_comment_back_by_an_interval() {
        let mut keep_alive = KeepAlive::new(Some(15 * S), Duration::ZERO);
        keep_alive.handle_write(14 * S);
        assert_eq!(keep_alive.poll_timeout(), Some(29 * S));
        assert!(comments_at(&mut keep_alive, &[15 * S, 28 * S]).is_empty());
        assert_eq!(comments_at(&mut keep_alive, &[29 * S]), [29 * S]);
    }

    #[test]
    fn a_stream_written_to_within_each_interval_carries_no_comments() {
        let mut keep_alive = KeepAlive::new(Some(15 * S), Duration::ZERO);
        let mut buf = Vec::new();
        for second in 1..100 {
            let now = second * S;
            if second % 10 == 0 {
                keep_alive.handle_write(now);
            }
            assert!(!keep_alive.poll_transmit(now, &mut buf), "at {now:?}");
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn a_late_wake_up_writes_one_comment_and_counts_from_then() {
        let mut keep_alive = KeepAlive::new(Some(15 * S), Duration::ZERO);
        // Woken three intervals late: one comment, not three.
        assert_eq!(comments_at(&mut keep_alive, &[47 * S, 47 * S]), [47 * S]);
        assert_eq!(keep_alive.poll_timeout(), Some(62 * S));
    }

    #[test]
    fn without_an_interval_there_is_no_deadline_and_no_comment() {
        let mut keep_alive = KeepAlive::new(None, Duration::ZERO);
        keep_alive.handle_write(S);
        assert_eq!(keep_alive.poll_timeout(), None);
        assert_eq!(keep_alive.interval(), None);
        assert!(comments_at(&mut keep_alive, &[S, 1000 * S, Duration::MAX]).is_empty());
    }

    #[test]
    fn the_deadline_saturates_instead_of_overflowing() {
        let keep_alive = KeepAlive::new(Some(Duration::MAX), 5 * S);
        assert_eq!(keep_alive.poll_timeout(), Some(Duration::MAX));
    }
}
